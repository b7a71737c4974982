"""The Redis RDB format: file reader and writer, DUMP/RESTORE payloads.

The codec does not know the engine's value types; it speaks a neutral form (``kind``, ``value``):

    ("string", bytes)
    ("list",   [bytes, ...])
    ("set",    [bytes, ...])
    ("hash",   [(field, value), ...])
    ("zset",   [(member, score), ...])
    ("stream", {"entries": [(ms, seq, [(field, value), ...]), ...], "length": int,
                "last_id": (ms, seq), "first_id": (ms, seq), "max_deleted_id": (ms, seq),
                "entries_added": int,
                "groups": [{"name": bytes, "last_id": (ms, seq), "entries_read": int,
                            "pel": [(ms, seq, delivery_time_ms, delivery_count), ...],
                            "consumers": [{"name": bytes, "seen_time": ms,
                                           "active_time": ms or None,
                                           "pel": [(ms, seq), ...]}, ...]}, ...]})

Reading accepts RDB versions 1..11 and every encoding Redis writes or wrote.  Writing picks the
encodings Redis 7.0 would (version 10), or 7.2 (version 11: set listpacks, stream type 3), or 6.x
(version 9: ziplists).  Input is untrusted: every length is checked against the bytes present.
"""
from __future__ import annotations

import io
import math
import mmap
import os
import stat
import struct
import time
from dataclasses import dataclass

from engine.persistence._rdbfast import (
    Cursor,
    build_intset,
    build_listpack,
    build_ziplist,
    crc64,
    encode_length,
    encode_string,
    lzf_compress,
    listpack_entry_size,
    lzf_decompress,
    parse_intset,
    parse_listpack,
    parse_ziplist,
    parse_zipmap,
    split_quicklist,
    string_to_int64,
)
from engine.persistence.errors import (
    BAD_DATA_FORMAT,
    DUMP_VERSION_OR_CHECKSUM_WRONG,
    DumpPayloadError,
    RdbError,
)

__all__ = [
    "RdbError", "DumpPayloadError", "RdbReader", "RdbWriter", "EncodingLimits", "load_rdb",
    "dump_value", "restore_value", "encode_value", "default_aux", "lzf_compress", "lzf_decompress",
    "crc64", "RDB_VERSION", "MAX_READ_VERSION",
]

RDB_VERSION = 10          # what Redis 7.0 writes
MAX_READ_VERSION = 11     # newest layout the reader understands (Redis 7.2)

# Object types (rdb.h)
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_MODULE_PRE_GA = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19
TYPE_SET_LISTPACK = 20
TYPE_STREAM_LISTPACKS_3 = 21

# Opcodes
OPCODE_FUNCTION2 = 245
OPCODE_FUNCTION_PRE_GA = 246
OPCODE_MODULE_AUX = 247
OPCODE_IDLE = 248
OPCODE_FREQ = 249
OPCODE_AUX = 250
OPCODE_RESIZEDB = 251
OPCODE_EXPIRETIME_MS = 252
OPCODE_EXPIRETIME = 253
OPCODE_SELECTDB = 254
OPCODE_EOF = 255

QUICKLIST_NODE_PLAIN = 1
QUICKLIST_NODE_PACKED = 2

STREAM_ITEM_FLAG_DELETED = 1
STREAM_ITEM_FLAG_SAMEFIELDS = 2

_U64_MASK = (1 << 64) - 1

# Module values (redis module.c): the 64-bit id packs a 9-character type name (6 bits per character from
# this charset) and a 10-bit encoding version; the payload is opcode-framed fields ending with EOF.
MODULE_NAME_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
MODULE_OPCODE_EOF = 0
MODULE_OPCODE_STRING = 5
_STREAM_ID = struct.Struct(">QQ")

_OBJECT_TYPES = frozenset(range(0, 8)) | frozenset(range(9, 22))


@dataclass(frozen=True)
class EncodingLimits:
    """The redis.conf thresholds that decide compact encodings when writing (7.0 defaults)."""
    hash_max_listpack_entries: int = 128
    hash_max_listpack_value: int = 64
    zset_max_listpack_entries: int = 128
    zset_max_listpack_value: int = 64
    set_max_intset_entries: int = 512
    set_max_listpack_entries: int = 128
    set_max_listpack_value: int = 64
    list_max_listpack_size: int = -2
    stream_node_max_bytes: int = 4096
    stream_node_max_entries: int = 100


DEFAULT_LIMITS = EncodingLimits()


# =============================================================================================
# Reading
# =============================================================================================

class _Source:
    """The bytes to parse plus how to release them and where the caller's file should end up."""

    def __init__(self, buffer, start=0, close=None, fileobj=None, file_base=0):
        self.buffer = buffer
        self.start = start          # offset of "REDIS" inside buffer
        self.close = close
        self.fileobj = fileobj      # repositioned after the RDB when possible
        self.file_base = file_base  # file offset of buffer[0]


def _open_source(source) -> _Source:
    """Map a path or a regular file; read other file objects; use bytes-like objects as they are."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _Source(source)
    owned = None
    if isinstance(source, (str, os.PathLike)):
        owned = source = open(source, "rb")
    start = source.tell() if hasattr(source, "tell") else 0
    try:
        fd = source.fileno()
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_size > start:
            mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)

            def close():
                try:
                    mapped.close()
                except BufferError:  # a caller still holds a view; the GC will unmap it
                    pass
                if owned is not None:
                    owned.close()
            return _Source(mapped, start, close, None if owned else source, 0)
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        pass
    data = source.read()
    if owned is not None:
        owned.close()
        return _Source(data)
    return _Source(data, 0, None, source, start)


def _score_from_text(text: bytes) -> float:
    try:
        score = float(text)
    except ValueError:
        raise RdbError("Invalid zset score %r" % text[:40]) from None
    if math.isnan(score):
        raise RdbError("Zset with NAN score detected")
    return score


def _read_text_double(cur: Cursor) -> float:
    """rdbLoadDoubleValue: a length byte (253 nan, 254 +inf, 255 -inf) then ASCII digits."""
    n = cur.read_byte()
    if n == 253:
        return math.nan
    if n == 254:
        return math.inf
    if n == 255:
        return -math.inf
    return _score_from_text(cur.read_bytes(n))


def _pairs(flat: list, what: str) -> list:
    if len(flat) % 2:
        raise RdbError("%s has an odd number of elements" % what)
    return list(zip(flat[0::2], flat[1::2]))


def _check_unique(items, what: str) -> None:
    if len(set(items)) != len(items):
        raise RdbError("Duplicate %s detected" % what)


def _zset_from_flat(flat: list, what: str) -> list:
    pairs = [(member, _score_from_text(score)) for member, score in _pairs(flat, what)]
    _check_unique([m for m, _ in pairs], "zset members")
    return pairs


def _hash_from_flat(flat: list, what: str) -> list:
    pairs = _pairs(flat, what)
    _check_unique([f for f, _ in pairs], "hash fields")
    return pairs


def _as_int(item) -> int:
    if isinstance(item, int):
        return item
    value = string_to_int64(item)
    if value is None:
        raise RdbError("Stream listpack has a non integer where an integer was expected")
    return value


def _as_bytes(item) -> bytes:
    return str(item).encode() if isinstance(item, int) else item


def _stream_node_entries(items: list, master_ms: int, master_seq: int, out: list) -> None:
    """Decode one stream listpack (master entry + delta-encoded entries), appending live entries."""
    if len(items) < 4:
        raise RdbError("Stream listpack master entry is truncated")
    live_count = _as_int(items[0])
    deleted_count = _as_int(items[1])
    num_fields = _as_int(items[2])
    if num_fields < 0 or 3 + num_fields >= len(items):
        raise RdbError("Stream listpack master entry is truncated")
    master_fields = [_as_bytes(f) for f in items[3:3 + num_fields]]
    if _as_int(items[3 + num_fields]) != 0:
        raise RdbError("Stream listpack master entry terminator missing")
    pos = 4 + num_fields
    seen_live = seen_deleted = 0
    total = len(items)
    while pos < total:
        if pos + 3 > total:
            raise RdbError("Stream listpack entry is truncated")
        flags = _as_int(items[pos])
        ms = (master_ms + _as_int(items[pos + 1])) & _U64_MASK
        seq = (master_seq + _as_int(items[pos + 2])) & _U64_MASK
        pos += 3
        if flags & STREAM_ITEM_FLAG_SAMEFIELDS:
            values = items[pos:pos + num_fields]
            if len(values) != num_fields:
                raise RdbError("Stream listpack entry is truncated")
            pos += num_fields
            fields = master_fields
            expected_lp_count = num_fields + 3
        else:
            if pos >= total:
                raise RdbError("Stream listpack entry is truncated")
            entry_fields = _as_int(items[pos])
            pos += 1
            if entry_fields < 0 or pos + 2 * entry_fields > total:
                raise RdbError("Stream listpack entry is truncated")
            flat = items[pos:pos + 2 * entry_fields]
            pos += 2 * entry_fields
            fields = [_as_bytes(f) for f in flat[0::2]]
            values = flat[1::2]
            expected_lp_count = 2 * entry_fields + 4
        if pos >= total or _as_int(items[pos]) != expected_lp_count:
            raise RdbError("Stream listpack entry has a wrong lp-count")
        pos += 1
        if flags & STREAM_ITEM_FLAG_DELETED:
            seen_deleted += 1
        else:
            seen_live += 1
            out.append((ms, seq, [(f, _as_bytes(v)) for f, v in zip(fields, values)]))
    if seen_live != live_count or seen_deleted != deleted_count:
        raise RdbError("Stream listpack master entry counts are wrong")


def _read_stream_id(cur: Cursor) -> tuple:
    return _STREAM_ID.unpack(cur.read_bytes(16))


def _read_stream(cur: Cursor, rdbtype: int) -> dict:
    node_count = cur.read_count(2)
    entries: list = []
    previous_key = None
    for _ in range(node_count):
        node_key = cur.read_string()
        if len(node_key) != 16:
            raise RdbError("Stream node key entry is not the size of a stream ID")
        if previous_key is not None and node_key <= previous_key:
            raise RdbError("Listpack re-added with existing key")
        previous_key = node_key
        items = parse_listpack(cur.read_string(), True)
        if not items:
            raise RdbError("Empty listpack inside stream")
        master_ms, master_seq = _STREAM_ID.unpack(node_key)
        _stream_node_entries(items, master_ms, master_seq, entries)
    length = cur.read_length()
    last_id = (cur.read_length(), cur.read_length())
    if rdbtype >= TYPE_STREAM_LISTPACKS_2:
        first_id = (cur.read_length(), cur.read_length())
        max_deleted_id = (cur.read_length(), cur.read_length())
        entries_added = cur.read_length()
    else:
        # What Redis derives for v1 streams; an empty one gets the maximal ID.
        first_id = entries[0][:2] if entries else (_U64_MASK, _U64_MASK)
        max_deleted_id = (0, 0)
        entries_added = length
    if length and not node_count:
        raise RdbError("Stream length inconsistent with rax entries")
    groups = []
    group_names = set()
    for _ in range(cur.read_count(3)):
        name = cur.read_string()
        if name in group_names:
            raise RdbError("Duplicated consumer group name %r" % name)
        group_names.add(name)
        group_last_id = (cur.read_length(), cur.read_length())
        entries_read = None
        if rdbtype >= TYPE_STREAM_LISTPACKS_2:
            entries_read = cur.read_length()
            if entries_read == _U64_MASK:   # SCN_INVALID (-1) saved as an unsigned length
                entries_read = -1
        pel = []
        pel_ids = set()
        for _ in range(cur.read_count(25)):
            ms, seq = _read_stream_id(cur)
            delivery_time = cur.read_i64le()
            delivery_count = cur.read_length()
            if (ms, seq) in pel_ids:
                raise RdbError("Duplicated global PEL entry loading stream consumer group")
            pel_ids.add((ms, seq))
            pel.append((ms, seq, delivery_time, delivery_count))
        consumers = []
        consumer_names = set()
        owned = set()
        for _ in range(cur.read_count(10)):
            consumer_name = cur.read_string()
            if consumer_name in consumer_names:
                raise RdbError("Duplicate stream consumer detected.")
            consumer_names.add(consumer_name)
            seen_time = cur.read_i64le()
            active_time = cur.read_i64le() if rdbtype >= TYPE_STREAM_LISTPACKS_3 else None
            consumer_pel = []
            for _ in range(cur.read_count(16)):
                entry_id = _read_stream_id(cur)
                if entry_id not in pel_ids:
                    raise RdbError("Consumer PEL entry not found in group global PEL")
                if entry_id in owned:
                    raise RdbError("Duplicated consumer PEL entry loading a stream consumer group")
                owned.add(entry_id)
                consumer_pel.append(entry_id)
            consumers.append({"name": consumer_name, "seen_time": seen_time,
                              "active_time": active_time, "pel": consumer_pel})
        if len(owned) != len(pel_ids):
            raise RdbError("Stream PEL entry without a consumer")
        groups.append({"name": name, "last_id": group_last_id, "entries_read": entries_read,
                       "pel": pel, "consumers": consumers})
    return {"entries": entries, "length": length, "last_id": last_id, "first_id": first_id,
            "max_deleted_id": max_deleted_id, "entries_added": entries_added, "groups": groups}


def module_type_id(name: str, encoding_version: int) -> int:
    """redis moduleTypeEncodeId: 9 name characters of 6 bits each, then the 10-bit encoding version."""
    if len(name) != 9 or not 0 <= encoding_version < 1024:
        raise ValueError("module type names are 9 characters, encoding versions 0..1023")
    module_id = 0
    for char in name:
        position = MODULE_NAME_CHARSET.find(char)
        if position < 0:
            raise ValueError("module type name %r has a character outside [A-Za-z0-9-_]" % name)
        module_id = (module_id << 6) | position
    return (module_id << 10) | encoding_version


def module_type_name(module_id: int) -> tuple:
    """(name, encoding version) from a module type id (redis moduleTypeNameByID)."""
    name = "".join(MODULE_NAME_CHARSET[(module_id >> (10 + 6 * (8 - j))) & 63] for j in range(9))
    return name, module_id & 1023


def _read_module_value(cur: Cursor) -> tuple:
    """A MODULE_2 value as (type name, encoding version, state bytes).  Cachemere's own module types
    save their whole state as one STRING field; anything else is a module we do not have."""
    name, encoding_version = module_type_name(cur.read_length())
    if cur.read_length() != MODULE_OPCODE_STRING:
        raise RdbError("The RDB file contains module data I can't load: no matching module type '%s'" % name)
    state = cur.read_string()
    if cur.read_length() != MODULE_OPCODE_EOF:
        raise RdbError("The RDB file contains module data for the module type '%s', that the responsible "
                       "module is not able to load. Check for modules log above for additional clues." % name)
    return name, encoding_version, state


class SetMembers(list):
    """A set's members with what its encoding adds (engine/types/set.py): intset_width, an intset's integer
    width in bytes (RDB_TYPE_SET_INTSET at that width, as redis saves the intset it holds), or hashtable
    (a hashtable-encoded set: RDB_TYPE_SET even when every member is an integer, as redis)."""
    intset_width = 0
    hashtable = False


def read_object(cur: Cursor, rdbtype: int):
    """Decode one serialized value of ``rdbtype``; returns (kind, value), or None for an empty one."""
    if rdbtype == TYPE_STRING:
        return "string", cur.read_string()
    if rdbtype == TYPE_LIST:
        items = [cur.read_string() for _ in range(cur.read_count())]
        return ("list", items) if items else None
    if rdbtype == TYPE_SET:
        items = [cur.read_string() for _ in range(cur.read_count())]
        _check_unique(items, "set members")
        return ("set", items) if items else None
    if rdbtype in (TYPE_ZSET, TYPE_ZSET_2):
        pairs = []
        for _ in range(cur.read_count(2)):
            member = cur.read_string()
            score = cur.read_binary_double() if rdbtype == TYPE_ZSET_2 else _read_text_double(cur)
            if math.isnan(score):
                raise RdbError("Zset with NAN score detected")
            pairs.append((member, score))
        _check_unique([m for m, _ in pairs], "zset members")
        return ("zset", pairs) if pairs else None
    if rdbtype == TYPE_HASH:
        flat = [cur.read_string() for _ in range(cur.read_count(2) * 2)]
        pairs = _hash_from_flat(flat, "hash")
        return ("hash", pairs) if pairs else None
    if rdbtype in (TYPE_LIST_QUICKLIST, TYPE_LIST_QUICKLIST_2):
        items = []
        for _ in range(cur.read_count(2)):
            container = QUICKLIST_NODE_PACKED
            if rdbtype == TYPE_LIST_QUICKLIST_2:
                container = cur.read_length()
                if container not in (QUICKLIST_NODE_PLAIN, QUICKLIST_NODE_PACKED):
                    raise RdbError("Quicklist integrity check failed.")
            blob = cur.read_string()
            if container == QUICKLIST_NODE_PLAIN:
                items.append(blob)
            elif rdbtype == TYPE_LIST_QUICKLIST_2:
                items.extend(parse_listpack(blob))   # empty nodes are skipped, as Redis does
            else:
                items.extend(parse_ziplist(blob))
        return ("list", items) if items else None
    if rdbtype == TYPE_STREAM_LISTPACKS or rdbtype == TYPE_STREAM_LISTPACKS_2 \
            or rdbtype == TYPE_STREAM_LISTPACKS_3:
        return "stream", _read_stream(cur, rdbtype)
    if rdbtype == TYPE_MODULE_2:
        return "module", _read_module_value(cur)
    if rdbtype == TYPE_MODULE_PRE_GA:
        raise RdbError("Module value (type %d) cannot be loaded: pre-GA module values are not supported"
                       % rdbtype)
    if rdbtype in (TYPE_HASH_ZIPMAP, TYPE_LIST_ZIPLIST, TYPE_SET_INTSET, TYPE_ZSET_ZIPLIST,
                   TYPE_HASH_ZIPLIST, TYPE_HASH_LISTPACK, TYPE_ZSET_LISTPACK, TYPE_SET_LISTPACK):
        blob = cur.read_string()
        if rdbtype == TYPE_HASH_ZIPMAP:
            kind, value = "hash", _hash_from_flat(parse_zipmap(blob), "zipmap")
        elif rdbtype == TYPE_LIST_ZIPLIST:
            kind, value = "list", parse_ziplist(blob)
        elif rdbtype == TYPE_SET_INTSET:
            kind, value = "set", SetMembers(parse_intset(blob))
            value.intset_width = blob[0] if blob else 0       # the width redis keeps in memory
        elif rdbtype == TYPE_ZSET_ZIPLIST:
            kind, value = "zset", _zset_from_flat(parse_ziplist(blob), "zset ziplist")
        elif rdbtype == TYPE_HASH_ZIPLIST:
            kind, value = "hash", _hash_from_flat(parse_ziplist(blob), "hash ziplist")
        elif rdbtype == TYPE_HASH_LISTPACK:
            kind, value = "hash", _hash_from_flat(parse_listpack(blob), "hash listpack")
        elif rdbtype == TYPE_ZSET_LISTPACK:
            kind, value = "zset", _zset_from_flat(parse_listpack(blob), "zset listpack")
        else:
            kind, value = "set", parse_listpack(blob)
            _check_unique(value, "set members")
        return (kind, value) if value else None
    raise RdbError("Unknown RDB encoding type %d" % rdbtype)


class RdbReader:
    """Streaming RDB reader.

    ``RdbReader(source).entries()`` yields ``(dbid, key, kind, value, expire_ms, lru_idle, lfu_freq)``
    for each key (expire_ms/lru_idle/lfu_freq are None when absent).  ``source`` is a path, bytes,
    or a binary file object (read from its current position; left just after the RDB when seekable).
    While or after iterating, ``version``, ``aux`` (bytes -> bytes), ``functions`` (raw library code),
    ``resize_hints`` (dbid -> (size, expires)) and ``checksum`` are available.
    """

    def __init__(self, source, *, max_version: int = MAX_READ_VERSION, verify_checksum: bool = True):
        self._source = source
        self._max_version = max_version
        self._verify_checksum = verify_checksum
        self.version: int | None = None
        self.aux: dict = {}
        self.functions: list = []
        self.resize_hints: dict = {}
        self.checksum: int | None = None
        self.end_offset: int | None = None

    def entries(self):
        for event in self.events():
            if event[0] == "key":
                yield event[1:]
            elif event[0] == "strings":
                dbid, flat = event[1], event[2]
                for i in range(0, len(flat), 3):
                    yield dbid, flat[i], "string", flat[i + 1], None if flat[i + 2] == -1 else flat[i + 2], None, None

    def events(self):
        """Every record in file order: ("aux", k, v), ("select_db", dbid), ("resize_db", dbid,
        size, expires), ("function", code), ("key", dbid, key, kind, value, expire, idle, freq), and
        ("strings", dbid, [key, value, expire_ms, ...]) for a run of string keys without idle or freq
        (expire_ms -1: none)."""
        source = _open_source(self._source)
        cur = Cursor(source.buffer, source.start)
        self.cursor = cur           # load progress (INFO loading_loaded_bytes) reads cursor.pos
        try:
            yield from self._walk(cur, source.buffer, source.start)
            if source.fileobj is not None and self.end_offset is not None:
                try:
                    source.fileobj.seek(source.file_base + self.end_offset)
                except (OSError, io.UnsupportedOperation, ValueError):
                    pass
        finally:
            cur.release()
            if source.close is not None:
                source.close()

    def _walk(self, cur: Cursor, buffer, start: int):
        signature = cur.read_bytes(9) if cur.remaining() >= 9 else b""
        if signature[:5] != b"REDIS":
            raise RdbError("Wrong signature trying to load DB from file")
        try:
            version = int(signature[5:9])
        except ValueError:
            raise RdbError("Wrong signature trying to load DB from file") from None
        if version < 1 or version > self._max_version:
            raise RdbError("Can't handle RDB format version %d" % version)
        self.version = version
        dbid = 0
        expire = idle = freq = None
        while True:
            opcode = cur.read_byte()
            if opcode == OPCODE_EXPIRETIME:
                expire = struct.unpack("<i", cur.read_bytes(4))[0] * 1000
            elif opcode == OPCODE_EXPIRETIME_MS:
                expire = cur.read_i64le()
            elif opcode == OPCODE_FREQ:
                freq = cur.read_byte()
            elif opcode == OPCODE_IDLE:
                idle = cur.read_length()
            elif opcode == OPCODE_EOF:
                break
            elif opcode == OPCODE_SELECTDB:
                dbid = cur.read_length()
                yield ("select_db", dbid)
            elif opcode == OPCODE_RESIZEDB:
                size, expires = cur.read_length(), cur.read_length()
                self.resize_hints[dbid] = (size, expires)
                yield ("resize_db", dbid, size, expires)
            elif opcode == OPCODE_AUX:
                key, value = cur.read_string(), cur.read_string()
                self.aux[key] = value
                yield ("aux", key, value)
            elif opcode == OPCODE_FUNCTION2:
                code = cur.read_string()
                self.functions.append(code)
                yield ("function", code)
            elif opcode == OPCODE_FUNCTION_PRE_GA:
                raise RdbError("Pre-release function format not supported.")
            elif opcode == OPCODE_MODULE_AUX:
                raise RdbError("The RDB file contains AUX module data I can't load: "
                               "modules are not supported")
            elif opcode == TYPE_STRING:          # the common case first, without read_object's dispatch
                if idle is None and freq is None:
                    yield ("strings", dbid, cur.read_string_run_ex(4096, -1 if expire is None else expire))
                    expire = None
                    continue
                key = cur.read_string()
                yield ("key", dbid, key, "string", cur.read_string(), expire, idle, freq)
                expire = idle = freq = None
            elif opcode in _OBJECT_TYPES:
                key = cur.read_string()
                decoded = read_object(cur, opcode)
                if decoded is not None:  # Redis skips empty collections
                    yield ("key", dbid, key, decoded[0], decoded[1], expire, idle, freq)
                expire = idle = freq = None
            else:
                raise RdbError("Unknown RDB encoding type %d" % opcode)
        eof_pos = cur.pos
        if version >= 5:
            stored = cur.read_u64le()
            self.checksum = stored
            if stored and self._verify_checksum:
                computed = crc64(memoryview(buffer)[start:eof_pos])
                if computed != stored:
                    raise RdbError("Wrong RDB checksum expected: (%x) got (%x)." % (stored, computed))
        self.end_offset = cur.pos


def load_rdb(source, on_aux=None, on_select_db=None, on_key=None, *, on_resize_db=None,
             on_function=None, on_strings=None, max_version: int = MAX_READ_VERSION,
             on_progress=None) -> RdbReader:
    """Stream an RDB through callbacks; returns the finished reader (version, aux, functions...).

    on_aux(key, value); on_select_db(dbid); on_key(dbid, key, kind, value, expire_ms, lru_idle,
    lfu_freq); on_resize_db(dbid, size, expires); on_function(code); on_strings(dbid, [key, value, expire_ms, ...]; -1: none)
    for runs of plain string keys (without it, on_key gets each of them); on_progress(bytes read so far)
    after each run of strings and every 1024 other records.
    """
    reader = RdbReader(source, max_version=max_version)
    if on_strings is None and on_key is not None:
        def on_strings(dbid, flat):
            for i in range(0, len(flat), 3):
                on_key(dbid, flat[i], "string", flat[i + 1], None if flat[i + 2] == -1 else flat[i + 2], None, None)
    handlers = {"aux": on_aux, "select_db": on_select_db, "key": on_key,
                "resize_db": on_resize_db, "function": on_function, "strings": on_strings}
    n = 0
    for event in reader.events():
        handler = handlers[event[0]]
        if handler is not None:
            handler(*event[1:])
        if on_progress is not None:
            n += 1
            if not n & 1023 or event[0] == "strings":
                on_progress(reader.cursor.pos)
    return reader


# =============================================================================================
# Writing
# =============================================================================================

def _d2string(score: float) -> bytes:
    """Redis d2string: how zset scores are stored inside listpacks/ziplists."""
    if math.isnan(score):
        return b"nan"
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score == 0:
        return b"-0" if math.copysign(1.0, score) < 0 else b"0"
    if -4503599627370495 < score < 4503599627370496 and score == int(score):
        return str(int(score)).encode()
    return ("%.17g" % score).encode()


def _zset_order(pairs) -> list:
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))


def _stream_entry_items(entry, master) -> list:
    """The listpack items of one entry, delta-encoded against the node's master entry."""
    ms, seq, pairs = entry
    master_ms, master_seq, master_pairs = master
    fields = [f for f, _ in pairs]
    if fields == [f for f, _ in master_pairs]:
        return [STREAM_ITEM_FLAG_SAMEFIELDS, ms - master_ms, seq - master_seq,
                *(v for _, v in pairs), len(pairs) + 3]
    items = [0, ms - master_ms, seq - master_seq, len(pairs)]
    for field, value in pairs:
        items += [field, value]
    items.append(2 * len(pairs) + 4)
    return items


def _stream_nodes(entries: list, limits: EncodingLimits) -> list:
    """Encode entries into rax nodes [(master id, listpack)], splitting like streamAppendItem.

    A node is closed when its listpack bytes plus the new entry's field/value bytes reach
    stream-node-max-bytes, or when it holds stream-node-max-entries entries.
    """
    max_bytes = limits.stream_node_max_bytes
    if max_bytes <= 0 or max_bytes > (1 << 30):
        max_bytes = 1 << 30
    nodes: list = []
    items: list = []
    count = 0
    bytes_without_count = 0   # listpack size minus the master "count" item, which keeps changing
    master = None
    for entry in entries:
        if master is not None:
            node_bytes = bytes_without_count + listpack_entry_size(count)
            payload = sum(len(f) + len(v) for f, v in entry[2])
            if node_bytes + payload >= max_bytes or \
                    (limits.stream_node_max_entries and count >= limits.stream_node_max_entries):
                nodes.append((master[:2], build_listpack([count] + items)))
                master = None
        if master is None:
            master = entry
            fields = [f for f, _ in entry[2]]
            items = [0, len(fields), *fields, 0]      # deleted count, fields, terminator
            count = 0
            bytes_without_count = 7 + sum(listpack_entry_size(i) for i in items)
        entry_items = _stream_entry_items(entry, master)
        items += entry_items
        bytes_without_count += sum(listpack_entry_size(i) for i in entry_items)
        count += 1
    if master is not None:
        nodes.append((master[:2], build_listpack([count] + items)))
    return nodes


def _encode_stream(stream: dict, rdbtype: int, compress: bool, limits: EncodingLimits) -> bytes:
    entries = [(ms, seq, [(bytes(f), bytes(v)) for f, v in pairs])
               for ms, seq, pairs in stream.get("entries", [])]
    parts = []
    nodes = _stream_nodes(entries, limits)
    parts.append(encode_length(len(nodes)))
    for (master_ms, master_seq), listpack in nodes:
        parts.append(encode_string(_STREAM_ID.pack(master_ms, master_seq), compress))
        parts.append(encode_string(listpack, compress))
    length = stream.get("length", len(entries))
    last_id = stream.get("last_id") or (entries[-1][:2] if entries else (0, 0))
    parts += [encode_length(length), encode_length(last_id[0]), encode_length(last_id[1])]
    if rdbtype >= TYPE_STREAM_LISTPACKS_2:
        first_id = stream.get("first_id") or (entries[0][:2] if entries else (0, 0))
        max_deleted = stream.get("max_deleted_id") or (0, 0)
        entries_added = stream.get("entries_added", length)
        parts += [encode_length(first_id[0]), encode_length(first_id[1]),
                  encode_length(max_deleted[0]), encode_length(max_deleted[1]),
                  encode_length(entries_added)]
    groups = sorted(stream.get("groups", []), key=lambda g: g["name"])
    parts.append(encode_length(len(groups)))
    for group in groups:
        parts.append(encode_string(group["name"], compress))
        parts += [encode_length(group["last_id"][0]), encode_length(group["last_id"][1])]
        if rdbtype >= TYPE_STREAM_LISTPACKS_2:
            entries_read = group.get("entries_read")
            if entries_read is None or entries_read < 0:
                entries_read = _U64_MASK
            parts.append(encode_length(entries_read))
        pel = sorted(group.get("pel", []))
        parts.append(encode_length(len(pel)))
        for ms, seq, delivery_time, delivery_count in pel:
            parts.append(_STREAM_ID.pack(ms, seq))
            parts.append(struct.pack("<q", delivery_time))
            parts.append(encode_length(delivery_count))
        consumers = sorted(group.get("consumers", []), key=lambda c: c["name"])
        parts.append(encode_length(len(consumers)))
        for consumer in consumers:
            parts.append(encode_string(consumer["name"], compress))
            parts.append(struct.pack("<q", consumer.get("seen_time", 0)))
            if rdbtype >= TYPE_STREAM_LISTPACKS_3:
                active = consumer.get("active_time")
                parts.append(struct.pack("<q", consumer.get("seen_time", 0) if active is None else active))
            consumer_pel = sorted(tuple(i[:2]) for i in consumer.get("pel", []))
            parts.append(encode_length(len(consumer_pel)))
            parts += [_STREAM_ID.pack(ms, seq) for ms, seq in consumer_pel]
    return b"".join(parts)


def encode_value(kind: str, value, *, version: int = RDB_VERSION, compress: bool = True,
                 limits: EncodingLimits = DEFAULT_LIMITS):
    """Serialize one value as ``rdbSaveObject`` would; returns (rdb type byte, bytes)."""
    if kind == "string":
        return TYPE_STRING, encode_string(value, compress)
    if kind == "stream":
        if version >= 11:
            rdbtype = TYPE_STREAM_LISTPACKS_3
        elif version >= 10:
            rdbtype = TYPE_STREAM_LISTPACKS_2
        else:
            rdbtype = TYPE_STREAM_LISTPACKS
        return rdbtype, _encode_stream(value, rdbtype, compress, limits)
    if kind == "module":
        name, encoding_version, state = value
        return TYPE_MODULE_2, b"".join((encode_length(module_type_id(name, encoding_version)),
                                        encode_length(MODULE_OPCODE_STRING), encode_string(state, compress),
                                        encode_length(MODULE_OPCODE_EOF)))
    if not value:
        raise ValueError("Redis never stores an empty %s" % kind)
    if kind == "list":
        if version >= 10:
            nodes = split_quicklist(value, max(limits.list_max_listpack_size, -5))
            parts = [encode_length(len(nodes))]
            for container, elements in nodes:
                parts.append(encode_length(container))
                blob = elements[0] if container == QUICKLIST_NODE_PLAIN else build_listpack(elements)
                parts.append(encode_string(blob, compress))
            return TYPE_LIST_QUICKLIST_2, b"".join(parts)
        nodes = split_quicklist(value, max(limits.list_max_listpack_size, -5), 1 << 62)
        parts = [encode_length(len(nodes))]
        parts += [encode_string(build_ziplist(elements), compress) for _, elements in nodes]
        return TYPE_LIST_QUICKLIST, b"".join(parts)
    if kind == "set":
        ints = [string_to_int64(m) for m in value]
        width = getattr(value, "intset_width", 0)      # SetMembers of an intset: saved as one, at its width
        if width and None not in ints:
            return TYPE_SET_INTSET, encode_string(build_intset(ints, width), compress)
        if not width and not getattr(value, "hashtable", False) and \
                len(value) <= limits.set_max_intset_entries and None not in ints:
            return TYPE_SET_INTSET, encode_string(build_intset(ints), compress)
        if version >= 11 and len(value) <= limits.set_max_listpack_entries and \
                max(map(len, value)) <= limits.set_max_listpack_value:
            return TYPE_SET_LISTPACK, encode_string(build_listpack(list(value)), compress)
        return TYPE_SET, encode_length(len(value)) + b"".join(encode_string(m, compress) for m in value)
    if kind == "hash":
        if len(value) <= limits.hash_max_listpack_entries and \
                all(len(f) <= limits.hash_max_listpack_value and len(v) <= limits.hash_max_listpack_value
                    for f, v in value):
            flat = [x for pair in value for x in pair]
            if version >= 10:
                return TYPE_HASH_LISTPACK, encode_string(build_listpack(flat), compress)
            return TYPE_HASH_ZIPLIST, encode_string(build_ziplist(flat), compress)
        parts = [encode_length(len(value))]
        for field, field_value in value:
            parts += [encode_string(field, compress), encode_string(field_value, compress)]
        return TYPE_HASH, b"".join(parts)
    if kind == "zset":
        ordered = _zset_order(value)
        if len(ordered) <= limits.zset_max_listpack_entries and \
                all(len(m) <= limits.zset_max_listpack_value for m, _ in ordered):
            flat = [x for m, s in ordered for x in (m, _d2string(s))]
            if version >= 10:
                return TYPE_ZSET_LISTPACK, encode_string(build_listpack(flat), compress)
            return TYPE_ZSET_ZIPLIST, encode_string(build_ziplist(flat), compress)
        parts = [encode_length(len(ordered))]
        for member, score in reversed(ordered):   # Redis walks the skiplist from the tail
            parts += [encode_string(member, compress), struct.pack("<d", score)]
        return TYPE_ZSET_2, b"".join(parts)
    raise ValueError("Unknown value kind %r" % (kind,))


def _aux_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return str(value).encode()


def default_aux(redis_ver: str = "7.0.15", used_mem: int = 0, ctime: int | None = None) -> dict:
    """The auxiliary fields Redis 7.0 writes at the top of every RDB (without replication info)."""
    return {"redis-ver": redis_ver, "redis-bits": 64,
            "ctime": int(time.time()) if ctime is None else ctime,
            "used-mem": used_mem, "aof-base": 0}


class RdbWriter:
    """Write an RDB file: write_header(), then per database select_db() + write_entry(), finish()."""

    _FLUSH_AT = 1 << 16

    def __init__(self, fileobj, version: int = RDB_VERSION, *, compress: bool = True,
                 checksum: bool = True, limits: EncodingLimits = DEFAULT_LIMITS):
        if not 9 <= version <= MAX_READ_VERSION:
            raise ValueError("RDB version %d is not writable (9..%d)" % (version, MAX_READ_VERSION))
        self._file = fileobj
        self.version = version
        self._compress = compress
        self._checksum = checksum
        self._limits = limits
        self._buffer = bytearray()
        self._crc = 0
        self._finished = False

    def write_raw(self, data) -> None:
        """Records already encoded (string_records: the fast path for plain strings)."""
        self._emit(data)

    def _emit(self, data) -> None:
        self._buffer += data
        if len(self._buffer) >= self._FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            if self._checksum:
                self._crc = crc64(self._buffer, self._crc)
            self._file.write(bytes(self._buffer))
            self._buffer.clear()

    def write_header(self, aux: dict | None = None) -> None:
        self._emit(b"REDIS%04d" % self.version)
        for key, value in (default_aux() if aux is None else aux).items():
            self.write_aux(key, value)

    def write_aux(self, key, value) -> None:
        self._emit(bytes((OPCODE_AUX,)) + encode_string(_aux_bytes(key), self._compress)
                   + encode_string(_aux_bytes(value), self._compress))

    def write_function(self, code: bytes) -> None:
        """A function library (FUNCTION2 opcode), written before the databases like Redis does."""
        self._emit(bytes((OPCODE_FUNCTION2,)) + encode_string(code, self._compress))

    def select_db(self, dbid: int, size: int | None = None, expires: int | None = None) -> None:
        self._emit(bytes((OPCODE_SELECTDB,)) + encode_length(dbid))
        if size is not None:
            self._emit(bytes((OPCODE_RESIZEDB,)) + encode_length(size) + encode_length(expires or 0))

    def write_entry(self, key: bytes, kind: str, value, expire_ms: int | None = None,
                    lru_idle: int | None = None, lfu_freq: int | None = None) -> None:
        rdbtype, payload = encode_value(kind, value, version=self.version, compress=self._compress,
                                        limits=self._limits)
        head = bytearray()
        if expire_ms is not None:
            head.append(OPCODE_EXPIRETIME_MS)
            head += struct.pack("<q", expire_ms)
        if lru_idle is not None:
            head.append(OPCODE_IDLE)
            head += encode_length(lru_idle)
        if lfu_freq is not None:
            head.append(OPCODE_FREQ)
            head.append(lfu_freq & 0xFF)
        head.append(rdbtype)
        head += encode_string(key, self._compress)
        self._emit(head)
        self._emit(payload)

    def finish(self) -> None:
        """Write EOF and the CRC64 trailer (zero when checksums are disabled) and flush."""
        if self._finished:
            return
        self._emit(bytes((OPCODE_EOF,)))
        self._flush()
        self._file.write(struct.pack("<Q", self._crc if self._checksum else 0))
        self._finished = True
        flush = getattr(self._file, "flush", None)
        if flush is not None:
            flush()


# =============================================================================================
# DUMP / RESTORE
# =============================================================================================

def dump_value(kind: str, value, *, version: int = RDB_VERSION, compress: bool = True,
               limits: EncodingLimits = DEFAULT_LIMITS) -> bytes:
    """createDumpPayload: type byte + value + 2-byte RDB version (LE) + CRC64 (LE) of all that."""
    rdbtype, payload = encode_value(kind, value, version=version, compress=compress, limits=limits)
    body = bytes((rdbtype,)) + payload + struct.pack("<H", version)
    return body + struct.pack("<Q", crc64(body))


def restore_value(payload, *, max_version: int = RDB_VERSION, verify_checksum: bool = True):
    """Decode a DUMP payload into (kind, value); raises DumpPayloadError with Redis's reply text."""
    payload = bytes(payload)
    if len(payload) < 10:
        raise DumpPayloadError(DUMP_VERSION_OR_CHECKSUM_WRONG)
    version = payload[-10] | (payload[-9] << 8)
    if version > max_version:
        raise DumpPayloadError(DUMP_VERSION_OR_CHECKSUM_WRONG)
    if verify_checksum and crc64(payload[:-8]) != struct.unpack("<Q", payload[-8:])[0]:
        raise DumpPayloadError(DUMP_VERSION_OR_CHECKSUM_WRONG)
    cur = Cursor(payload, 0, len(payload) - 10)
    try:
        rdbtype = cur.read_byte()
        if rdbtype not in _OBJECT_TYPES:
            raise RdbError("Unknown RDB type %d" % rdbtype)
        decoded = read_object(cur, rdbtype)
    except (RdbError, OverflowError, MemoryError) as exc:
        raise DumpPayloadError(BAD_DATA_FORMAT) from exc
    if decoded is None:
        raise DumpPayloadError(BAD_DATA_FORMAT)
    return decoded
