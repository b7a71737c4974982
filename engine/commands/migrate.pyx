# cython: language_level=3, binding=True, wraparound=True, boundscheck=True
"""MIGRATE and RESTORE-ASKING (redis 7.0 cluster.c), plus the DEBUG SLOT-INDEX test hooks.

MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password | AUTH2 username password]
[KEYS key ...] serializes each key in the DUMP format (engine/persistence, as DUMP does), sends one
AUTH/SELECT/RESTORE pipeline (RESTORE-ASKING when cluster-enabled is yes) to the target and reads one
reply per command.

The I/O is synchronous, as in redis (connSyncWrite/connSyncReadLine with the command's timeout on each
operation): the server does nothing else while a MIGRATE runs, so no other client can see a key that is
both here and there, or write to a key between its DUMP and its DEL, and the reply texts are redis's.
MIGRATE's own timeout (default 1000 ms when <= 0) bounds every connect, write and read.

Connections are cached per "host:port" as redis migrateGetSocket does (at most 64, a random one dropped
past that, each closed after 10 s unused), with the last selected db so SELECT is sent only when it changes.
A socket error on the first reply of a cached connection (it was closed by the target meanwhile) retries
once on a new connection, unless it was a timeout. A key acknowledged by the target is deleted here unless
COPY and the command propagates as DEL of exactly those keys.
"""
import errno as _errno
import random
import re
import select
import socket
import time

from engine.registry import command
from engine.notify import notify
from engine.persistence.rdb import dump_value
from engine.persistence.snapshot import value_to_rdb, encoding_limits
from engine.commands.persistence import _parse_int, restore_command, RESTORE_DOCS, RESTORE_KEY_SPECS

SYNTAX_ERR = b"ERR syntax error"
MIGRATE_SOCKET_CACHE_ITEMS = 64
MIGRATE_SOCKET_CACHE_TTL = 10.0     # seconds unused before a cached connection is closed
CHUNK = 64 * 1024
_ATOI = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]*)")


class _CachedSocket:
    __slots__ = ("sock", "last_dbid", "last_use", "buf")

    def __init__(self, sock):
        self.sock = sock
        self.last_dbid = -1
        self.last_use = time.monotonic()
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def read_line(self, timeout):
        """redis syncReadLine: one line without its CRLF, at most 1023 bytes; raises on error or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0 or len(self.buf) >= 1023:
                if nl < 0 or nl > 1023:
                    line, self.buf = self.buf[:1023], self.buf[1023:]
                    return line
                line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                return line[:-1] if line.endswith(b"\r") else line
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data


    def read_lines(self, n, timeout):
        """Up to n lines (read_line each, batched): (lines, None) or (the lines read, the socket error)."""
        out = []
        buf = self.buf
        try:
            while len(out) < n:
                start = 0
                while len(out) < n:
                    nl = buf.find(b"\n", start)
                    if nl < 0 or nl - start > 1023:
                        break
                    out.append(buf[start:nl - 1] if nl > start and buf[nl - 1] == 13 else buf[start:nl])
                    start = nl + 1
                buf = buf[start:]
                if len(out) < n:
                    self.buf = buf
                    if len(buf) >= 1023:
                        out.append(self.read_line(timeout))   # an over-long line, as syncReadLine cuts it
                        buf = self.buf
                        continue
                    self.sock.settimeout(timeout)
                    data = self.sock.recv(65536)
                    if not data:
                        raise ConnectionError("closed")
                    buf += data
            self.buf = buf
            return out, None
        except (OSError, ConnectionError) as exc:
            self.buf = b""
            return out, exc


class _SocketCache:
    """server.migrate_cached_sockets: one per process, found through c.server.extensions."""

    def __init__(self):
        self.sockets = {}
        self.timer = None

    def get(self, c, host, port, timeout):
        name = host + b":" + port
        cs = self.sockets.get(name)
        if cs is not None:
            cs.last_use = time.monotonic()
            return cs
        if len(self.sockets) >= MIGRATE_SOCKET_CACHE_ITEMS:
            victim = random.choice(list(self.sockets))
            self.sockets.pop(victim).close()
        try:
            sock = _connect(host, port, timeout)
        except (OSError, ValueError, UnicodeError):
            c.error(b"IOERR error or timeout connecting to the client")
            return None
        cs = _CachedSocket(sock)
        self.sockets[name] = cs
        self._arm()
        return cs

    def close(self, host, port):
        cs = self.sockets.pop(host + b":" + port, None)
        if cs is not None:
            cs.close()

    def close_idle(self):
        """redis migrateCloseTimedoutSockets (serverCron, once a second)."""
        self.timer = None
        now = time.monotonic()
        for name, cs in list(self.sockets.items()):
            if now - cs.last_use > MIGRATE_SOCKET_CACHE_TTL:
                del self.sockets[name]
                cs.close()
        self._arm()

    def _arm(self):
        if self.timer is not None or not self.sockets:
            return
        try:
            import asyncio
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return                              # no loop (bare engine use): idle sockets are closed lazily
        self.timer = loop.call_later(1.0, self.close_idle)


def _atoi(b):
    """C atoi: optional blanks and sign, then the leading digits (0 when there are none)."""
    m = _ATOI.match(b)
    return int(m.group(1)) if m and m.group(1) not in (b"", b"-", b"+") else 0


def _connect(host, port, timeout):
    """redis connSocketBlockingConnect: a non-blocking connect, then a wait of up to `timeout` for the
    socket to become writable. Only a connect that fails at once is an error: a refused or timed-out
    connection is found by the first write, as in redis (so that is the error the client gets)."""
    p = _atoi(port) & 0xFFFF
    infos = socket.getaddrinfo(host.decode("latin-1"), p, 0, socket.SOCK_STREAM)
    last = None
    for family, kind, proto, _, addr in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        err = sock.connect_ex(addr)
        if err in (0, _errno.EINPROGRESS):
            select.select([], [sock], [], timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(True)
            return sock
        sock.close()
        last = OSError(err, "connect")
    raise last or OSError("no address")


def _cache(c):
    server = c.server
    if server is None:
        global _LOCAL_CACHE
        if _LOCAL_CACHE is None:
            _LOCAL_CACHE = _SocketCache()
        return _LOCAL_CACHE
    cache = server.extensions.get("migrate")
    if cache is None:
        cache = server.extensions["migrate"] = _SocketCache()
    return cache


_LOCAL_CACHE = None


def _bulk(parts, arg):
    parts.append(b"$%d\r\n" % len(arg))
    parts.append(arg)
    parts.append(b"\r\n")


def migrate_getkeys(argv):
    """redis migrateGetKeys: argv[3], or every argument after KEYS (AUTH/AUTH2 arguments skipped)."""
    first, num = 3, 1
    if len(argv) > 6:
        skip = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
        i = 6
        while i < len(argv):
            opt = argv[i].lower()
            if opt == b"keys":
                if len(argv[3]) > 0:
                    break
                first = i + 1
                num = len(argv) - first
                break
            i += skip.get(opt, 0) + 1
    return [(first + i, ["RW", "access", "delete"]) for i in range(num)]


@command(
    "migrate", -6, "write movablekeys", acl="keyspace dangerous", keys=(3, 3, 1), getkeys=migrate_getkeys,
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 3}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RW", "access", "delete", "incomplete"],
            "begin_search": {"type": "keyword", "spec": {"keyword": "KEYS", "startfrom": -2}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Atomically transfer a key from a Redis instance to another one.",
        "since": "2.6.0",
        "group": "generic",
        "complexity": (
            "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target "
            "instance. See the pages of these commands for time complexity. Also an O(N) data transfer "
            "between the two instances is performed."
        ),
        "history": [
            ["3.0.0", "Added the `COPY` and `REPLACE` options."],
            ["3.0.6", "Added the `KEYS` option."],
            ["4.0.7", "Added the `AUTH` option."],
            ["6.0.0", "Added the `AUTH2` option."],
        ],
        "arguments": [
            {"name": "host", "type": "string"},
            {"name": "port", "type": "integer"},
            {
                "name": "key_or_empty_string",
                "type": "oneof",
                "arguments": [
                    {"name": "key", "type": "key", "key_spec_index": 0},
                    {"name": "empty_string", "type": "pure-token", "token": ""},
                ],
            },
            {"name": "destination-db", "type": "integer"},
            {"name": "timeout", "type": "integer"},
            {"name": "copy", "type": "pure-token", "token": "COPY", "since": "3.0.0", "flags": ["optional"]},
            {
                "name": "replace",
                "type": "pure-token",
                "token": "REPLACE",
                "since": "3.0.0",
                "flags": ["optional"],
            },
            {
                "name": "authentication",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {
                        "name": "password",
                        "type": "string",
                        "token": "AUTH",
                        "since": "4.0.7",
                        "flags": ["optional"],
                    },
                    {
                        "name": "username_password",
                        "type": "block",
                        "token": "AUTH2",
                        "since": "6.0.0",
                        "flags": ["optional"],
                        "arguments": [
                            {"name": "username", "type": "string"},
                            {"name": "password", "type": "string"},
                        ],
                    },
                ],
            },
            {
                "name": "key",
                "type": "key",
                "key_spec_index": 1,
                "token": "KEYS",
                "since": "3.0.6",
                "flags": ["optional", "multiple"],
            },
        ],
    },
)
def migrate_command(c, argv):
    """redis migrateCommand, in its order of checks and with its replies."""
    copy = replace = False
    username = password = None
    first_key, num_keys = 3, 1
    argc = len(argv)
    j = 6
    while j < argc:
        opt = argv[j].lower()
        moreargs = argc - 1 - j
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not moreargs:
                c.error(SYNTAX_ERR)
                return
            j += 1
            password = argv[j]
        elif opt == b"auth2":
            if moreargs < 2:
                c.error(SYNTAX_ERR)
                return
            username = argv[j + 1]
            password = argv[j + 2]
            j += 2
        elif opt == b"keys":
            if len(argv[3]) != 0:
                c.error(b"ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
                return
            first_key = j + 1
            num_keys = argc - j - 1
            break
        else:
            c.error(SYNTAX_ERR)
            return
        j += 1
    timeout = _parse_int(c, argv[5])
    if timeout is None:
        return
    dbid = _parse_int(c, argv[4])
    if dbid is None:
        return
    if timeout <= 0:
        timeout = 1000
    db = c.db
    found = []                                  # (key, Entry) present now
    for j in range(first_key, first_key + num_keys):
        e = db.lookup_read(argv[j])
        if e is not None:
            found.append((argv[j], e))
    if not found:
        c.reply.add_simple(b"NOKEY")
        return
    config = c.server.config if c.server is not None else None
    compress = bool(config["rdbcompression"]) if config is not None else True
    limits = None                               # encoding_limits costs ~20 us: only for non-string values
    restore_name = b"RESTORE-ASKING" if config is not None and config["cluster-enabled"] else b"RESTORE"
    cache = _cache(c)
    host, port = argv[1], argv[2]
    secs = timeout / 1000.0
    may_retry = True
    now = c.ks.now_ms
    # the payloads do not depend on the connection: build them once (redis rebuilds them on a retry)
    body = []
    keys = []
    rname = b"$%d\r\n%s\r\n" % (len(restore_name), restore_name)
    tail = b"$7\r\nREPLACE\r\n" if replace else b""
    head_n = b"*5\r\n" if replace else b"*4\r\n"
    for key, e in found:
        ttl = 0
        at = e.expire_at
        if at != -1:
            ttl = at - now
            if ttl < 0:
                continue                        # expired since the lookup
            if ttl < 1:
                ttl = 1
        value = e.value
        if type(value) is bytes:
            payload = dump_value("string", value, compress=compress)
        else:
            if limits is None:
                limits = encoding_limits(config)
            kind, neutral = value_to_rdb(value)
            payload = dump_value(kind, neutral, compress=compress, limits=limits)
        sttl = b"%d" % ttl
        body.append(b"%s%s$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n%s" % (
            head_n, rname, len(key), key, len(sttl), sttl, len(payload), payload, tail))
        keys.append(key)
    found = None
    body = b"".join(body)
    notify_on = c.ks.notify_flags
    while True:
        write_error = False
        cs = cache.get(c, host, port, secs)
        if cs is None:
            return
        head = []
        if password is not None:
            head.append(b"*3\r\n" if username is not None else b"*2\r\n")
            _bulk(head, b"AUTH")
            if username is not None:
                _bulk(head, username)
            _bulk(head, password)
        select = cs.last_dbid != dbid
        if select:
            head.append(b"*2\r\n")
            _bulk(head, b"SELECT")
            _bulk(head, b"%d" % dbid)
        data = b"".join(head) + body if head else body
        timed_out = False
        try:
            try:
                view = memoryview(data)
                pos = 0
                cs.sock.settimeout(secs)
                while pos < len(data):
                    n = cs.sock.send(view[pos:pos + CHUNK])
                    if n <= 0:
                        raise ConnectionError("short write")
                    pos += n
            except (OSError, ConnectionError):
                write_error = True
                raise
            auth_reply = cs.read_line(secs) if password is not None else None
            select_reply = cs.read_line(secs) if select else None
        except (OSError, ConnectionError) as exc:
            timed_out = isinstance(exc, socket.timeout) or getattr(exc, "errno", None) == _errno.ETIMEDOUT
            cache.close(host, port)
            if may_retry and not timed_out:
                may_retry = False
                continue
            _ioerr(c, write_error)
            return
        lines, exc = cs.read_lines(len(keys), secs)
        socket_error = exc is not None
        if socket_error:
            timed_out = isinstance(exc, socket.timeout) or getattr(exc, "errno", None) == _errno.ETIMEDOUT
        error_from_target = False
        deleted = []
        setup_error = ((auth_reply is not None and auth_reply[:1] == b"-")
                       or (select_reply is not None and select_reply[:1] == b"-"))
        for key, line in zip(keys, lines):
            if setup_error or line[:1] == b"-":
                if not error_from_target:
                    cs.last_dbid = -1
                    if auth_reply is not None and auth_reply[:1] == b"-":
                        err = auth_reply
                    elif select_reply is not None and select_reply[:1] == b"-":
                        err = select_reply
                    else:
                        err = line
                    error_from_target = True
                    c.error(b"ERR Target instance replied with error: " + err[1:])
            elif not copy:
                if db.delete(key):
                    if notify_on:
                        notify(c, "g", b"del", key)
                    deleted.append(key)
        c.dirty += len(deleted)
        if not error_from_target and socket_error and not lines and may_retry and not timed_out:
            cache.close(host, port)
            may_retry = False
            continue
        if socket_error:
            cache.close(host, port)
        if deleted:
            c.propagate_as([b"DEL"] + deleted)
        if not error_from_target and socket_error:
            _ioerr(c, False)
            return
        if not error_from_target:
            cs.last_dbid = dbid
            c.reply.add_ok()
        return


def _ioerr(c, write_error):
    c.error(b"IOERR error or timeout %s to target instance" % (b"writing" if write_error else b"reading"))


@command(
    "restore-asking", -4, "write denyoom asking", acl="keyspace dangerous", keys=(1, 1, 1),
    key_specs=RESTORE_KEY_SPECS,
    docs={
        "summary": "An internal command for migrating keys in a cluster",
        "since": "3.0.0",
        "group": "server",
        "complexity": RESTORE_DOCS["complexity"],
        "doc_flags": ["syscmd"],
        "history": RESTORE_DOCS["history"],
        "arguments": RESTORE_DOCS["arguments"],
    },
)
def restore_asking_command(c, argv):
    """RESTORE with the asking flag: the cluster layer accepts it for a slot being imported (redis
    restoreCommand serves both)."""
    restore_command(c, argv)


# ------------------------------------------------------------------ DEBUG SLOT-INDEX (Cachemere only)

def debug_slot_index(c, argv):
    """DEBUG SLOT-INDEX ENABLE | STATUS | CHECK | COUNT slot | KEYS slot count | DELETE slot

    ENABLE turns the keyspace's per-slot index on (cluster mode does it at startup); CHECK walks the
    current db's slot lists against the table and against a brute-force recount of every key's slot and
    answers the problems found (an empty array when the index is right)."""
    from engine.slots import key_hash_slot
    sub = argv[2].lower()
    ks = c.ks
    db = c.db
    try:
        if sub == b"enable" and len(argv) == 3:
            ks.enable_slot_index()
            c.reply.add_ok()
        elif sub == b"status" and len(argv) == 3:
            c.reply.add_int(1 if ks.slot_index_enabled else 0)
        elif sub == b"check" and len(argv) == 3:
            problems = []
            for d in ks.dbs:
                problems += ["db%d: %s" % (d.id, p) for p in d.verify_slot_index()]
                counts = d.slot_counts()
                if counts is not None:
                    brute = {}
                    for key in d.key_list():
                        s = key_hash_slot(key)
                        brute[s] = brute.get(s, 0) + 1
                    if brute != counts:
                        problems.append("db%d: counts differ from a recount" % d.id)
            c.reply.add_array_len(len(problems))
            for p in problems:
                c.reply.add_bulk(p.encode())
        elif sub == b"delete" and len(argv) == 4:
            c.reply.add_int(db.delete_keys_in_slot(int(argv[3])))
        elif sub == b"count" and len(argv) == 4:
            c.reply.add_int(db.count_keys_in_slot(int(argv[3])))
        elif sub == b"keys" and len(argv) == 5:
            keys = db.keys_in_slot(int(argv[3]), int(argv[4]))
            c.reply.add_array_len(len(keys))
            for k in keys:
                c.reply.add_bulk(k)
        else:
            c.error(SYNTAX_ERR)
    except ValueError:
        c.error(b"ERR Invalid slot")
