"""The append-only file, in Redis 7.0's multi-part layout.

    <dir>/<appenddirname>/<appendfilename>.<seq>.base.rdb|aof   the last rewrite (RDB preamble or commands)
    <dir>/<appenddirname>/<appendfilename>.<seq>.incr.aof       commands since then, as RESP multibulk
    <dir>/<appenddirname>/<appendfilename>.manifest             "file <name> seq <n> type b|h|i" lines

This module is the file layer only (names, manifest, parsing, replay, writing commands); the
server-side controller (server/persistence.py) decides when to write, fsync and rewrite.
"""
import math
import os

from engine.core import encode_command
from engine.persistence.snapshot import value_to_rdb
from engine.persistence.rdb import dump_value

BASE_SUFFIX = ".base"
INCR_SUFFIX = ".incr"
RDB_FORMAT_SUFFIX = ".rdb"
AOF_FORMAT_SUFFIX = ".aof"
MANIFEST_SUFFIX = ".manifest"
TEMP_PREFIX = "temp-"

TYPE_BASE = "b"
TYPE_HIST = "h"
TYPE_INCR = "i"

ITEMS_PER_COMMAND = 64          # redis AOF_REWRITE_ITEMS_PER_CMD


class AofError(Exception):
    """An AOF or manifest that cannot be loaded; str() is the log line redis would print."""


class AofTruncated(AofError):
    """A file ends in the middle of a command (or of a MULTI block)."""

    def __init__(self, message, valid_up_to):
        super().__init__(message)
        self.valid_up_to = valid_up_to


class AofFormatError(AofError):
    """Bytes that are not RESP multibulk commands: never loadable."""


# ---------------------------------------------------------------------------------------------- names
def base_file_name(prefix, seq, rdb_preamble):
    return "%s.%d%s%s" % (prefix, seq, BASE_SUFFIX, RDB_FORMAT_SUFFIX if rdb_preamble else AOF_FORMAT_SUFFIX)


def incr_file_name(prefix, seq):
    return "%s.%d%s%s" % (prefix, seq, INCR_SUFFIX, AOF_FORMAT_SUFFIX)


def manifest_file_name(prefix):
    return prefix + MANIFEST_SUFFIX


def _needs_repr(name):
    return any(ch in name for ch in ' \t\r\n"\'\\') or any(ord(ch) < 32 or ord(ch) > 126 for ch in name)


def _repr_name(name):
    out = ['"']
    for ch in name:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.append("\\x%02x" % ord(ch))
    out.append('"')
    return "".join(out)


def _split_manifest_line(line):
    """sdssplitargs: whitespace separated, double/single quotes with C escapes."""
    args, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in " \t\r\n":
            i += 1
        if i >= n:
            return args
        cur = []
        if line[i] == '"':
            i += 1
            while True:
                if i >= n:
                    raise AofError("Invalid AOF manifest file format")
                ch = line[i]
                if ch == "\\" and i + 1 < n:
                    nxt = line[i + 1]
                    if nxt == "x" and i + 3 < n:
                        cur.append(chr(int(line[i + 2:i + 4], 16)))
                        i += 4
                        continue
                    cur.append({"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}.get(nxt, nxt))
                    i += 2
                    continue
                if ch == '"':
                    i += 1
                    break
                cur.append(ch)
                i += 1
        elif line[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise AofError("Invalid AOF manifest file format")
                if line[i] == "'":
                    i += 1
                    break
                cur.append(line[i])
                i += 1
        else:
            while i < n and line[i] not in " \t\r\n":
                cur.append(line[i])
                i += 1
        args.append("".join(cur))


# ---------------------------------------------------------------------------------------------- manifest
class AofInfo:
    __slots__ = ("name", "seq", "type")

    def __init__(self, name, seq, type_):
        self.name = name
        self.seq = seq
        self.type = type_

    def line(self):
        name = _repr_name(self.name) if _needs_repr(self.name) else self.name
        return "file %s seq %d type %s\n" % (name, self.seq, self.type)


class AofManifest:
    """redis aofManifest: one base, history files awaiting deletion, incr files in order."""

    def __init__(self):
        self.base = None
        self.history = []
        self.incr = []
        self.curr_base_seq = 0
        self.curr_incr_seq = 0

    @classmethod
    def parse(cls, text):
        am = cls()
        for raw in text.splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            args = _split_manifest_line(raw)
            if len(args) < 6 or len(args) % 2:
                raise AofError("Invalid AOF manifest file format")
            fields = dict(zip(args[0::2], args[1::2]))
            name, seq, type_ = fields.get("file"), fields.get("seq"), fields.get("type")
            if not name or seq is None or type_ not in (TYPE_BASE, TYPE_HIST, TYPE_INCR):
                raise AofError("Invalid AOF manifest file format")
            try:
                seq = int(seq)
            except ValueError:
                raise AofError("Invalid AOF manifest file format") from None
            info = AofInfo(name, seq, type_)
            if type_ == TYPE_BASE:
                if am.base is not None:
                    raise AofError("Found duplicate base file information")
                am.base = info
                am.curr_base_seq = seq
            elif type_ == TYPE_HIST:
                am.history.append(info)
            else:
                if seq <= am.curr_incr_seq:
                    raise AofError("Found a non-monotonic sequence number")
                am.incr.append(info)
                am.curr_incr_seq = seq
        if am.base is None and not am.incr:
            raise AofError("Found an empty AOF manifest")
        return am

    @classmethod
    def load(cls, path):
        with open(path, "r", encoding="latin-1") as f:
            return cls.parse(f.read())

    def text(self):
        lines = []
        if self.base is not None:
            lines.append(self.base.line())
        lines += [info.line() for info in self.history]
        lines += [info.line() for info in self.incr]
        return "".join(lines)

    def copy(self):
        other = AofManifest()
        other.base = self.base
        other.history = list(self.history)
        other.incr = list(self.incr)
        other.curr_base_seq = self.curr_base_seq
        other.curr_incr_seq = self.curr_incr_seq
        return other

    def new_base(self, prefix, rdb_preamble):
        """getNewBaseFileNameAndMarkPreAsHistory: the next base name; the old base becomes history."""
        if self.base is not None:
            self.history.append(AofInfo(self.base.name, self.base.seq, TYPE_HIST))
        self.curr_base_seq += 1
        self.base = AofInfo(base_file_name(prefix, self.curr_base_seq, rdb_preamble), self.curr_base_seq, TYPE_BASE)
        return self.base.name

    def new_incr(self, prefix):
        self.curr_incr_seq += 1
        info = AofInfo(incr_file_name(prefix, self.curr_incr_seq), self.curr_incr_seq, TYPE_INCR)
        self.incr.append(info)
        return info.name

    def last_incr(self, prefix):
        """getLastIncrAofName: the file to append to (created when there is none)."""
        if not self.incr:
            return self.new_incr(prefix)
        return self.incr[-1].name

    def mark_rewritten_incr_as_history(self):
        """Every incr file but the last (opened when the rewrite started) is covered by the new base."""
        for info in self.incr[:-1]:
            self.history.append(AofInfo(info.name, info.seq, TYPE_HIST))
        del self.incr[:-1]

    def persist(self, dirpath, prefix):
        """Write the manifest atomically: temp file, fsync, rename, fsync the directory."""
        name = manifest_file_name(prefix)
        temp = os.path.join(dirpath, TEMP_PREFIX + name)
        data = self.text().encode("latin-1")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, os.path.join(dirpath, name))
        fsync_dir(dirpath)


def fsync_dir(dirpath):
    try:
        fd = os.open(dirpath, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- parsing
def iter_commands(buf, pos=0, end=None):
    """Parse RESP multibulk commands from ``buf[pos:end]``; yields (argv, offset after the command).

    Raises AofTruncated (with the offset after the last complete command) on a short read and
    AofFormatError on anything else malformed.  Lines starting with '#' are annotations (skipped).
    """
    if end is None:
        end = len(buf)
    find = buf.find
    while pos < end:
        start = pos
        if buf[pos:pos + 1] == b"#":
            nl = find(b"\n", pos, end)
            if nl < 0:
                raise AofTruncated("short read", start)
            pos = nl + 1
            continue
        if buf[pos:pos + 1] != b"*":
            raise AofFormatError("Bad file format")
        nl = find(b"\r\n", pos, end)
        if nl < 0:
            raise AofTruncated("short read", start)
        try:
            argc = int(buf[pos + 1:nl])
        except ValueError:
            raise AofFormatError("Bad file format") from None
        if argc < 1:
            raise AofFormatError("Bad file format")
        pos = nl + 2
        argv = []
        for _ in range(argc):
            if pos >= end:
                raise AofTruncated("short read", start)
            if buf[pos:pos + 1] != b"$":
                raise AofFormatError("Bad file format")
            nl = find(b"\r\n", pos, end)
            if nl < 0:
                raise AofTruncated("short read", start)
            try:
                length = int(buf[pos + 1:nl])
            except ValueError:
                raise AofFormatError("Bad file format") from None
            if length < 0:
                raise AofFormatError("Bad file format")
            pos = nl + 2
            if pos + length + 2 > end:
                raise AofTruncated("short read", start)
            argv.append(bytes(buf[pos:pos + length]))
            pos += length + 2
        yield argv, pos


def replay_commands(buf, execute, pos=0, end=None, on_progress=None, progress=None):
    """Feed every command of ``buf`` to ``execute(argv)``, tracking MULTI blocks as redis does.

    Returns the offset where parsing ended.  An unterminated MULTI at the end is treated as a
    truncation at the MULTI (redis: "Revert incomplete MULTI/EXEC transaction").  ``progress``: a bar
    (server/progress.py) told the bytes replayed every 4096 commands.
    """
    in_multi = False
    valid_before_multi = pos
    last_end = pos
    n = 0
    reported = pos
    count = 0
    try:
        for argv, after in iter_commands(buf, pos, end):
            name = argv[0].lower()
            if name == b"multi":
                in_multi = True
                valid_before_multi = last_end
            elif name == b"exec":
                in_multi = False
            execute(argv)
            last_end = after
            if on_progress is not None:
                n += 1
                if not n & 1023:
                    on_progress(after)      # bytes of this file replayed (INFO loading_loaded_bytes)
            if progress is not None:
                count += 1
                if not count & 4095:
                    progress.update(after - reported)
                    reported = after
    except AofTruncated as exc:
        raise AofTruncated("short read", valid_before_multi if in_multi else exc.valid_up_to) from None
    if in_multi:
        raise AofTruncated("incomplete MULTI", valid_before_multi)
    return last_end


# ---------------------------------------------------------------------------------------------- rewrite
def _num(n):
    return str(n).encode()


def _score(score):
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    return ("%.17g" % score).encode()


def _stream_id(pair):
    return b"%d-%d" % (pair[0], pair[1])


def commands_for_value(key, kind, value):
    """The commands that rebuild one value (redis rewriteAppendOnlyFileRio), as argv lists."""
    if kind == "string":
        return [[b"SET", key, value]]
    if kind == "module":      # a service value: its DUMP payload (redis leaves this to the module's aof_rewrite)
        return [[b"RESTORE", key, b"0", dump_value(kind, value)]]
    out = []
    if kind in ("list", "set", "hash", "zset"):
        if kind == "hash":
            items = [x for pair in value for x in pair]
            per = ITEMS_PER_COMMAND * 2
            verb = b"HMSET"
        elif kind == "zset":
            items = [x for member, score in value for x in (_score(score), member)]
            per = ITEMS_PER_COMMAND * 2
            verb = b"ZADD"
        else:
            items = list(value)
            per = ITEMS_PER_COMMAND
            verb = b"RPUSH" if kind == "list" else b"SADD"
        for i in range(0, len(items), per):
            out.append([verb, key] + items[i:i + per])
        return out
    if kind == "stream":
        entries = value.get("entries", [])
        last_id = value.get("last_id") or (0, 0)
        if entries:
            for ms, seq, pairs in entries:
                out.append([b"XADD", key, b"%d-%d" % (ms, seq)] + [x for pair in pairs for x in pair])
        else:
            # an empty stream still exists: add and trim one entry (redis does the same)
            out.append([b"XADD", key, b"MAXLEN", b"0", _stream_id(last_id), b"x", b"y"])
        out.append([b"XSETID", key, _stream_id(last_id), b"ENTRIESADDED", _num(value.get("entries_added", 0)),
                    b"MAXDELETEDID", _stream_id(value.get("max_deleted_id") or (0, 0))])
        for group in value.get("groups", []):
            entries_read = group.get("entries_read")
            cmd = [b"XGROUP", b"CREATE", key, group["name"], _stream_id(group["last_id"])]
            if entries_read is not None and entries_read >= 0:
                cmd += [b"ENTRIESREAD", _num(entries_read)]
            out.append(cmd)
            pel = {(ms, seq): (dt, dc) for ms, seq, dt, dc in group.get("pel", [])}
            for consumer in group.get("consumers", []):
                out.append([b"XGROUP", b"CREATECONSUMER", key, group["name"], consumer["name"]])
                for entry_id in consumer.get("pel", []):
                    dt, dc = pel.get(tuple(entry_id[:2]), (0, 0))
                    out.append([b"XCLAIM", key, group["name"], consumer["name"], b"0", _stream_id(entry_id),
                                b"TIME", _num(dt), b"RETRYCOUNT", _num(dc), b"JUSTID", b"FORCE"])
        return out
    raise ValueError("cannot rewrite values of kind %r" % kind)


def write_keyspace_as_commands(ks, fileobj, per_key_delay_us=0, functions=()):
    """An AOF base without RDB preamble: FUNCTION LOAD per function library (redis rewriteFunctions), then
    per database SELECT and the commands rebuilding each key, plus PEXPIREAT."""
    import time
    delay = per_key_delay_us / 1e6 if per_key_delay_us and per_key_delay_us > 0 else 0
    write = fileobj.write
    for code in functions:
        write(encode_command([b"FUNCTION", b"LOAD", code]))
    keys = 0
    for db in ks.dbs:
        if not db.size():
            continue
        write(encode_command([b"SELECT", _num(db.id)]))
        chunk = []
        for key, e in db.items():
            kind, neutral = value_to_rdb(e.value)
            if kind != "string" and kind != "stream" and not neutral:
                continue
            for argv in commands_for_value(key, kind, neutral):
                chunk.append(encode_command(argv))
            if e.expire_at >= 0:
                chunk.append(encode_command([b"PEXPIREAT", key, _num(e.expire_at)]))
            keys += 1
            if len(chunk) >= 256:
                write(b"".join(chunk))
                chunk.clear()
            if delay:
                time.sleep(delay)
        if chunk:
            write(b"".join(chunk))
    return keys
