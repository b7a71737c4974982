"""Persistence commands (redis rdb.c / aof.c / cluster.c): SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, DUMP, RESTORE.

The server-side work (files, children, fsync) lives in server/persistence.py, reached through
``c.server.extensions["persistence"]``; DUMP/RESTORE only need the codec.
"""
import re

from engine.registry import command
from engine.notify import notify
from engine.persistence.errors import DumpPayloadError
from engine import blocking
from engine.persistence.rdb import dump_value, restore_value, RdbError
from engine.persistence.snapshot import value_to_rdb, value_from_rdb, encoding_limits
try:
    from engine.commands._restore_fast import restore_fast as _restore_fast
except ImportError:                 # not built (a source checkout before `make build`)
    _restore_fast = None

SYNTAX_ERR = b"ERR syntax error"
NOT_INTEGER = b"ERR value is not an integer or out of range"
BUSYKEY = b"BUSYKEY Target key name already exists."
LRU_CLOCK_MAX = (1 << 24) - 1


def _persistence(c):
    server = c.server
    p = server.extensions.get("persistence") if server is not None else None
    if p is None:
        c.error(b"ERR persistence is not enabled in this process")
    return p


@command(
    "save", 1, "admin noscript no_async_loading no_multi",
    docs={
        "summary": "Synchronously save the dataset to disk",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(N) where N is the total number of keys in all databases",
    },
)
def save_command(c, argv):
    p = _persistence(c)
    if p is None:
        return
    if p.child_type == "rdb":
        c.error(b"ERR Background save already in progress")
        return
    if p.rdb_save():
        c.reply.add_ok()
    else:
        c.error(b"ERR")


@command(
    "bgsave", -1, "admin noscript no_async_loading",
    docs={
        "summary": "Asynchronously save the dataset to disk",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(1)",
        "history": [["3.2.2", "Added the `SCHEDULE` option."]],
        "arguments": [
            {
                "name": "schedule",
                "type": "pure-token",
                "token": "SCHEDULE",
                "since": "3.2.2",
                "flags": ["optional"],
            },
        ],
    },
)
def bgsave_command(c, argv):
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            c.error(SYNTAX_ERR)
            return
    p = _persistence(c)
    if p is None:
        return
    in_exec = c.multi_queue is not None
    if p.child_type == "rdb":
        c.error(b"ERR Background save already in progress")
    elif p.has_child() or in_exec:
        if schedule or in_exec:
            p.bgsave_scheduled = True
            c.reply.add_simple(b"Background saving scheduled")
        else:
            c.error(b"ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in "
                    b"order to schedule a BGSAVE whenever possible.")
    elif p.bgsave():
        c.reply.add_simple(b"Background saving started")
    else:
        c.error(b"ERR")


@command(
    "bgrewriteaof", 1, "admin noscript no_async_loading",
    docs={
        "summary": "Asynchronously rewrite the append-only file",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def bgrewriteaof_command(c, argv):
    p = _persistence(c)
    if p is None:
        return
    if p.child_type == "aof":
        c.error(b"ERR Background append only file rewriting already in progress")
    elif p.has_child() or c.multi_queue is not None:
        p.aof_rewrite_scheduled = True
        c.reply.add_simple(b"Background append only file rewriting scheduled")
    elif p.rewrite_background():
        c.reply.add_simple(b"Background append only file rewriting started")
    else:
        c.error(b"ERR Can't execute an AOF background rewriting. Please check the server logs for more "
                b"information.")


@command(
    "lastsave", 1, "loading stale fast", acl="admin dangerous",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get the UNIX time stamp of the last successful save to disk",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def lastsave_command(c, argv):
    c.reply.add_int(int(c.server.last_save_time))


@command(
    "dump", 2, "readonly", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Return a serialized version of the value stored at the specified key.",
        "since": "2.6.0",
        "group": "generic",
        "complexity": (
            "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis "
            "objects composing the value and M their average size. For small string values the time "
            "complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."
        ),
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def dump_command(c, argv):
    e = c.db.lookup_read(argv[1])
    if e is None:
        c.reply.add_null()
        return
    config = c.server.config if c.server is not None else None
    kind, neutral = value_to_rdb(e.value)
    compress = bool(config["rdbcompression"]) if config is not None else True
    c.reply.add_bulk(dump_value(kind, neutral, compress=compress, limits=encoding_limits(config)))


_STRICT_INT = re.compile(rb"-?[1-9][0-9]*|0")


def _parse_int(c, arg):
    """redis getLongLongFromObjectOrReply (string2ll: no sign but '-', no spaces, no leading zeros)."""
    if _STRICT_INT.fullmatch(arg) is None:
        c.error(NOT_INTEGER)
        return None
    value = int(arg)
    if not -(1 << 63) <= value < (1 << 63):
        c.error(NOT_INTEGER)
        return None
    return value


# RESTORE's key spec and docs, shared with RESTORE-ASKING (engine/commands/migrate.pyx), which redis
# declares with the same arguments
RESTORE_KEY_SPECS = [
    {
        "flags": ["OW", "update"],
        "begin_search": {"type": "index", "spec": {"index": 1}},
        "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
    },
]

RESTORE_DOCS = {
    "summary": "Create a key using the provided serialized value, previously obtained using DUMP.",
    "since": "2.6.0",
    "group": "generic",
    "complexity": (
        "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N "
        "is the number of Redis objects composing the value and M their average size. For small string "
        "values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for "
        "sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is "
        "O(log(N))."
    ),
    "history": [
        ["3.0.0", "Added the `REPLACE` modifier."],
        ["5.0.0", "Added the `ABSTTL` modifier."],
        ["5.0.0", "Added the `IDLETIME` and `FREQ` options."],
    ],
    "arguments": [
        {"name": "key", "type": "key", "key_spec_index": 0},
        {"name": "ttl", "type": "integer"},
        {"name": "serialized-value", "type": "string"},
        {
            "name": "replace",
            "type": "pure-token",
            "token": "REPLACE",
            "since": "3.0.0",
            "flags": ["optional"],
        },
        {
            "name": "absttl",
            "type": "pure-token",
            "token": "ABSTTL",
            "since": "5.0.0",
            "flags": ["optional"],
        },
        {
            "name": "seconds",
            "type": "integer",
            "token": "IDLETIME",
            "since": "5.0.0",
            "flags": ["optional"],
        },
        {
            "name": "frequency",
            "type": "integer",
            "token": "FREQ",
            "since": "5.0.0",
            "flags": ["optional"],
        },
    ],
}


@command(
    "restore", -4, "write denyoom", acl="keyspace dangerous", keys=(1, 1, 1),
    key_specs=RESTORE_KEY_SPECS, docs=RESTORE_DOCS,
)
def restore_command(c, argv):
    """redis restoreCommand, in its order of checks."""
    if _restore_fast is not None and _restore_fast(c, argv):
        return                      # a string payload that succeeds (MIGRATE's usual case), compiled
    replace = absttl = False
    lru_idle = lfu_freq = -1
    j = 4
    argc = len(argv)
    while j < argc:
        opt = argv[j].lower()
        additional = argc - j - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and additional >= 1 and lfu_freq == -1:
            lru_idle = _parse_int(c, argv[j + 1])
            if lru_idle is None:
                return
            if lru_idle < 0:
                c.error(b"ERR Invalid IDLETIME value, must be >= 0")
                return
            j += 1
        elif opt == b"freq" and additional >= 1 and lru_idle == -1:
            lfu_freq = _parse_int(c, argv[j + 1])
            if lfu_freq is None:
                return
            if lfu_freq < 0 or lfu_freq > 255:
                c.error(b"ERR Invalid FREQ value, must be >= 0 and <= 255")
                return
            j += 1
        else:
            c.error(SYNTAX_ERR)
            return
        j += 1
    key = argv[1]
    db = c.db
    if not replace and db.lookup_write(key) is not None:
        c.error(BUSYKEY)
        return
    ttl = _parse_int(c, argv[2])
    if ttl is None:
        return
    if ttl < 0:
        c.error(b"ERR Invalid TTL value, must be >= 0")
        return
    try:
        kind, neutral = restore_value(argv[3])
    except DumpPayloadError as exc:
        c.error(str(exc).encode())
        return
    config = c.server.config if c.server is not None else None
    try:
        value = value_from_rdb(kind, neutral, config)
    except (RdbError, ValueError, TypeError):
        c.error(b"ERR Bad data format")
        return
    deleted = db.delete(key) if replace else False
    if ttl and not absttl:
        ttl += c.ks.now_ms
    if ttl and ttl <= c.ks.now_ms and not c.is_master:
        # already expired: the key is not created (an overwritten one is deleted and propagated as DEL)
        if deleted:
            c.propagate_as([b"DEL", key])
            notify(c, "g", b"del", key)
            c.dirty += 1
        c.reply.add_ok()
        return
    e = db.add(key, value)
    if ttl:
        db.set_expire(key, e, ttl)
        if not absttl:
            # propagate the TTL as an absolute time, so replicas and the AOF agree
            c.propagate_as([argv[0], key, str(ttl).encode(), *argv[3:], b"ABSTTL"])
    # the policy is read only when IDLETIME/FREQ was given (a config lookup per RESTORE showed in MIGRATE runs)
    lfu_policy = (lru_idle >= 0 or lfu_freq >= 0) and config is not None and "lfu" in config["maxmemory-policy"]
    if lfu_policy and lfu_freq >= 0:
        e.lru = (((c.ks.now_ms // 60000) & 65535) << 8) | lfu_freq
    elif not lfu_policy and lru_idle >= 0:
        c.ks.update_clock()
        e.lru = (c.ks.lru_clock - min(lru_idle, LRU_CLOCK_MAX)) & LRU_CLOCK_MAX
    db.account(key, e)
    notify(c, "g", b"restore", key)
    _signal_ready(c, key, value)
    c.dirty += 1
    c.reply.add_ok()


def _signal_ready(c, key, value):
    """Wake clients blocked on the key when it is a list, sorted set or stream (redis dbAdd)."""
    if isinstance(value, bytes) or getattr(value, "type_name", None) not in (b"list", b"zset", b"stream"):
        return
    blocking.signal_key_ready(c, key)
