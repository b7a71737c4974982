"""The TTL family (redis 7.0 expire.c): EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX/XX/GT/LT, TTL, PTTL,
EXPIRETIME, PEXPIRETIME and PERSIST.

What replicas and the AOF see: every successful EXPIRE-family call propagates as PEXPIREAT with the absolute
millisecond time (options kept), so replaying it later sets the same deadline; a deadline already in the
past deletes the key at once and propagates DEL (UNLINK with lazyfree-lazy-expire), as redis does.
"""
from engine.core import NOT_INTEGER
from engine.registry import command
from engine.notify import notify
from engine.commands.keys import lookup_notouch
from protocol.resp import parse_ll

LLONG_MAX = (1 << 63) - 1
SECONDS_LIMIT = LLONG_MAX // 1000        # C's LLONG_MAX / 1000 and LLONG_MIN / 1000 (truncating division)


def lazy_expire_enabled(c):
    return c.server is not None and bool(c.server.config["lazyfree-lazy-expire"])

EXPIRE_NX, EXPIRE_XX, EXPIRE_GT, EXPIRE_LT = 1, 2, 4, 8


def expire_generic(c, argv, basetime, seconds):
    key = argv[1]
    flags = 0
    for opt in argv[3:]:
        o = opt.lower()
        if o == b"nx":
            flags |= EXPIRE_NX
        elif o == b"xx":
            flags |= EXPIRE_XX
        elif o == b"gt":
            flags |= EXPIRE_GT
        elif o == b"lt":
            flags |= EXPIRE_LT
        else:
            c.error(b"ERR Unsupported option " + opt)
            return
    if flags & EXPIRE_NX and flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT):
        c.error(b"ERR NX and XX, GT or LT options at the same time are not compatible")
        return
    if flags & EXPIRE_GT and flags & EXPIRE_LT:
        c.error(b"ERR GT and LT options at the same time are not compatible")
        return
    when = parse_ll(argv[2])
    if when is None:
        c.error(NOT_INTEGER)
        return
    bad_time = b"ERR invalid expire time in '" + c.cmd.name_bytes + b"' command"
    if seconds:
        if when > SECONDS_LIMIT or when < -SECONDS_LIMIT:
            c.error(bad_time)
            return
        when *= 1000
    if when > LLONG_MAX - basetime:
        c.error(bad_time)
        return
    when += basetime
    e = c.db.lookup_write(key)
    if e is None:
        c.reply.add_int(0)
        return
    current = e.expire_at
    if flags:
        if flags & EXPIRE_NX and current != -1:
            c.reply.add_int(0)
            return
        if flags & EXPIRE_XX and current == -1:
            c.reply.add_int(0)
            return
        if flags & EXPIRE_GT and (when <= current or current == -1):
            c.reply.add_int(0)
            return
        if flags & EXPIRE_LT and current != -1 and when >= current:
            c.reply.add_int(0)
            return
    if when <= c.ks.now_ms and not c.is_master and not c.ks.is_replica:
        # already in the past: delete now and propagate the deletion, not the expire
        c.db.delete(key)
        c.dirty += 1
        c.propagate_as([b"UNLINK" if lazy_expire_enabled(c) else b"DEL", key])
        notify(c, "g", b"del", key)
        c.reply.add_int(1)
        return
    c.db.set_expire(key, e, when)
    c.dirty += 1
    # redis rewrites argv[0] only when it is not PEXPIREAT already (so its spelling survives), and argv[2]
    # only when it was relative or in seconds
    name = argv[0] if c.cmd.name_bytes == b"pexpireat" else b"PEXPIREAT"
    c.propagate_as([name, key, b"%d" % when] + list(argv[3:]))
    notify(c, "g", b"expire", key)
    c.reply.add_int(1)


@command(
    "expire", -3, "write fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set a key's time to live in seconds",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": [["7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "seconds", "type": "integer"},
            {
                "name": "condition",
                "type": "oneof",
                "since": "7.0.0",
                "flags": ["optional"],
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                    {"name": "gt", "type": "pure-token", "token": "GT"},
                    {"name": "lt", "type": "pure-token", "token": "LT"},
                ],
            },
        ],
    },
)
def expire_command(c, argv):
    expire_generic(c, argv, c.ks.now_ms, True)


@command(
    "pexpire", -3, "write fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set a key's time to live in milliseconds",
        "since": "2.6.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": [["7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "milliseconds", "type": "integer"},
            {
                "name": "condition",
                "type": "oneof",
                "since": "7.0.0",
                "flags": ["optional"],
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                    {"name": "gt", "type": "pure-token", "token": "GT"},
                    {"name": "lt", "type": "pure-token", "token": "LT"},
                ],
            },
        ],
    },
)
def pexpire_command(c, argv):
    expire_generic(c, argv, c.ks.now_ms, False)


@command(
    "expireat", -3, "write fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set the expiration for a key as a UNIX timestamp",
        "since": "1.2.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": [["7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "unix-time-seconds", "type": "unix-time"},
            {
                "name": "condition",
                "type": "oneof",
                "since": "7.0.0",
                "flags": ["optional"],
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                    {"name": "gt", "type": "pure-token", "token": "GT"},
                    {"name": "lt", "type": "pure-token", "token": "LT"},
                ],
            },
        ],
    },
)
def expireat_command(c, argv):
    expire_generic(c, argv, 0, True)


@command(
    "pexpireat", -3, "write fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        "since": "2.6.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": [["7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "unix-time-milliseconds", "type": "unix-time"},
            {
                "name": "condition",
                "type": "oneof",
                "since": "7.0.0",
                "flags": ["optional"],
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                    {"name": "gt", "type": "pure-token", "token": "GT"},
                    {"name": "lt", "type": "pure-token", "token": "LT"},
                ],
            },
        ],
    },
)
def pexpireat_command(c, argv):
    expire_generic(c, argv, 0, False)


def ttl_generic(c, argv, in_ms, absolute):
    e = lookup_notouch(c.db, argv[1])
    if e is None:
        c.reply.add_int(-2)
        return
    if e.expire_at < 0:
        c.reply.add_int(-1)
        return
    ttl = e.expire_at if absolute else e.expire_at - c.ks.now_ms
    if ttl < 0:
        ttl = 0
    c.reply.add_int(ttl if in_ms else (ttl + 500) // 1000)


@command(
    "ttl", 2, "readonly fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get the time to live for a key in seconds",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": [["2.8.0", "Added the -2 reply."]],
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def ttl_command(c, argv):
    ttl_generic(c, argv, False, False)


@command(
    "pttl", 2, "readonly fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get the time to live for a key in milliseconds",
        "since": "2.6.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": [["2.8.0", "Added the -2 reply."]],
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def pttl_command(c, argv):
    ttl_generic(c, argv, True, False)


@command(
    "expiretime", 2, "readonly fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the expiration Unix timestamp for a key",
        "since": "7.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def expiretime_command(c, argv):
    ttl_generic(c, argv, False, True)


@command(
    "pexpiretime", 2, "readonly fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the expiration Unix timestamp for a key in milliseconds",
        "since": "7.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def pexpiretime_command(c, argv):
    ttl_generic(c, argv, True, True)


@command(
    "persist", 2, "write fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove the expiration from a key",
        "since": "2.2.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def persist_command(c, argv):
    e = c.db.lookup_write(argv[1])
    if e is None or e.expire_at < 0:
        c.reply.add_int(0)
        return
    c.db.remove_expire(argv[1], e)
    c.dirty += 1
    notify(c, "g", b"persist", argv[1])
    c.reply.add_int(1)


