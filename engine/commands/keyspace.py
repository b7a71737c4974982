"""Generic keyspace commands (redis db.c / expire.c / object.c): DEL, EXISTS, TYPE, KEYS, SCAN, RENAME,
COPY, MOVE, SWAPDB, FLUSHDB/FLUSHALL, the EXPIRE family, TTL family, PERSIST, TOUCH and OBJECT."""
from engine.core import (type_name, object_idle_ms, object_freq, policy_uses_lfu, SYNTAX_ERR, NOT_INTEGER)
from engine.registry import command, container
from engine.notify import notify
from engine.glob import glob_match
from engine.commands.connection import reply_help, help_lines
from engine.commands.scan_util import ScanArgs, parse_cursor, parse_options
from protocol.resp import parse_ll

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)


def copy_value(value):
    """A copy deep enough for COPY (value classes implement copy())."""
    if type(value) is bytes:
        return value
    return value.copy()


def live_entry(db, key):
    """The entry if present and not logically expired, without touching it (LOOKUP_NOTOUCH)."""
    e = db.find(key)
    if e is None or (0 <= e.expire_at <= db.ks.now_ms):
        if e is not None:
            db.expire_if_needed(key, e)
        return None
    return e


def db_index(c, arg):
    index = parse_ll(arg)
    if index is None or not -(1 << 31) <= index < (1 << 31):
        c.error(NOT_INTEGER)
        return None
    if not 0 <= index < len(c.ks.dbs):
        c.error(b"ERR DB index is out of range")
        return None
    return index


def del_generic(c, argv, lazy):
    deleted = 0
    for key in argv[1:]:
        if c.db.lookup_write(key) is not None and c.db.delete(key):
            deleted += 1
            notify(c, "g", b"del", key)
    c.dirty += deleted
    c.reply.add_int(deleted)


@command(
    "del", -2, "write", acl="keyspace", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["RM", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("request_policy:multi_shard", "response_policy:agg_sum"),
    docs={
        "summary": "Delete a key",
        "since": "1.0.0",
        "group": "generic",
        "complexity": (
            "O(N) where N is the number of keys that will be removed. When a key to remove holds a value "
            "other than a string, the individual complexity for this key is O(M) where M is the number of "
            "elements in the list, set, sorted set or hash. Removing a single key that holds a string value "
            "is O(1)."
        ),
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]}],
    },
)
def del_command(c, argv):
    del_generic(c, argv, False)


@command(
    "unlink", -2, "write fast", acl="keyspace", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["RM", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("request_policy:multi_shard", "response_policy:agg_sum"),
    docs={
        "summary": (
            "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking."
        ),
        "since": "4.0.0",
        "group": "generic",
        "complexity": (
            "O(1) for each key removed regardless of its size. Then the command does O(N) work in a "
            "different thread in order to reclaim memory, where N is the number of allocations the deleted "
            "objects where composed of."
        ),
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]}],
    },
)
def unlink_command(c, argv):
    del_generic(c, argv, True)


@command(
    "exists", -2, "readonly fast", acl="keyspace", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("request_policy:multi_shard", "response_policy:agg_sum"),
    docs={
        "summary": "Determine if a key exists",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(N) where N is the number of keys to check.",
        "history": [["3.0.3", "Accepts multiple `key` arguments."]],
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]}],
    },
)
def exists_command(c, argv):
    c.reply.add_int(sum(1 for key in argv[1:] if c.db.lookup_read(key) is not None))


@command(
    "type", 2, "readonly fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Determine the type stored at key",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def type_command(c, argv):
    e = live_entry(c.db, argv[1])
    c.reply.add_simple(b"none" if e is None else type_name(e.value))


@command(
    "keys", 2, "readonly", acl="keyspace dangerous",
    tips=("request_policy:all_shards", "nondeterministic_output_order"),
    docs={
        "summary": "Find all keys matching the given pattern",
        "since": "1.0.0",
        "group": "generic",
        "complexity": (
            "O(N) with N being the number of keys in the database, under the assumption that the key names "
            "in the database and the given pattern have limited length."
        ),
        "arguments": [{"name": "pattern", "type": "pattern"}],
    },
)
def keys_command(c, argv):
    pattern = argv[1]
    db = c.db
    now = c.ks.now_ms
    match_all = pattern == b"*"
    out = []
    for key in list(db.keys):
        e = db.find(key)
        if e is None or 0 <= e.expire_at <= now:
            continue
        if match_all or glob_match(pattern, key):
            out.append(key)
    c.reply.add_array_len(len(out))
    for key in out:
        c.reply.add_bulk(key)


@command(
    "scan", -2, "readonly", acl="keyspace",
    tips=("nondeterministic_output", "request_policy:special"),
    docs={
        "summary": "Incrementally iterate the keys space",
        "since": "2.8.0",
        "group": "generic",
        "complexity": (
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the "
            "cursor to return back to 0. N is the number of elements inside the collection."
        ),
        "history": [["6.0.0", "Added the `TYPE` subcommand."]],
        "arguments": [
            {"name": "cursor", "type": "integer"},
            {"name": "pattern", "type": "pattern", "token": "MATCH", "flags": ["optional"]},
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
            {"name": "type", "type": "string", "token": "TYPE", "since": "6.0.0", "flags": ["optional"]},
        ],
    },
)
def scan_command(c, argv):
    cursor = parse_cursor(c, argv[1])
    if cursor is None:
        return
    args = ScanArgs(cursor)
    if not parse_options(c, argv, 2, args, allow_type=True):
        return
    db = c.db
    next_cursor, keys = db.scan(cursor if cursor < (1 << 62) else 0, args.count)
    now = c.ks.now_ms
    out = []
    wanted_type = args.type_name.lower() if args.type_name is not None else None
    for key in keys:
        e = db.find(key)
        if e is None:
            continue
        if 0 <= e.expire_at <= now:
            db.expire_if_needed(key, e)
            continue
        if args.pattern is not None and not glob_match(args.pattern, key):
            continue
        if wanted_type is not None and type_name(e.value) != wanted_type:
            continue
        out.append(key)
    c.reply.add_array_len(2)
    c.reply.add_bulk(b"%d" % next_cursor)
    c.reply.add_array_len(len(out))
    for key in out:
        c.reply.add_bulk(key)


@command(
    "randomkey", 1, "readonly", acl="keyspace",
    tips=("request_policy:all_shards", "nondeterministic_output"),
    docs={
        "summary": "Return a random key from the keyspace",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
    },
)
def randomkey_command(c, argv):
    key = c.db.random_key()
    if key is None:
        c.reply.add_null()
    else:
        c.reply.add_bulk(key)


def rename_generic(c, argv, nx):
    src, dst = argv[1], argv[2]
    db = c.db
    e = db.lookup_write(src)
    if e is None:
        c.error(b"ERR no such key")
        return
    if src == dst:
        c.reply.add_int(0) if nx else c.reply.add_ok()
        return
    if db.lookup_write(dst) is not None:
        if nx:
            c.reply.add_int(0)
            return
        db.delete(dst)
    value, expire_at, flags = e.value, e.expire_at, e.mc_flags
    db.delete(src)
    moved = db.add(dst, value)
    moved.mc_flags = flags
    moved.raw = e.raw
    if expire_at >= 0:
        db.set_expire(dst, moved, expire_at)
    notify(c, "g", b"rename_from", src)
    notify(c, "g", b"rename_to", dst)
    c.dirty += 1
    c.reply.add_int(1) if nx else c.reply.add_ok()


@command(
    "rename", 3, "write", acl="keyspace", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Rename a key",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "newkey", "type": "key", "key_spec_index": 1},
        ],
    },
)
def rename_command(c, argv):
    rename_generic(c, argv, False)


@command(
    "renamenx", 3, "write fast", acl="keyspace", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["OW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Rename a key, only if the new key does not exist",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": [
            [
                "3.2.0",
                "The command no longer returns an error when source and destination names are the same.",
            ],
        ],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "newkey", "type": "key", "key_spec_index": 1},
        ],
    },
)
def renamenx_command(c, argv):
    rename_generic(c, argv, True)


@command(
    "copy", -3, "write denyoom", acl="keyspace", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Copy a key",
        "since": "6.2.0",
        "group": "generic",
        "complexity": (
            "O(N) worst case for collections, where N is the number of nested items. O(1) for string values."
        ),
        "arguments": [
            {"name": "source", "type": "key", "key_spec_index": 0},
            {"name": "destination", "type": "key", "key_spec_index": 1},
            {"name": "destination-db", "type": "integer", "token": "DB", "flags": ["optional"]},
            {"name": "replace", "type": "pure-token", "token": "REPLACE", "flags": ["optional"]},
        ],
    },
)
def copy_command(c, argv):
    src, dst = argv[1], argv[2]
    target = c.db
    replace = False
    i = 3
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"replace":
            replace = True
            i += 1
        elif opt == b"db" and i + 1 < len(argv):
            index = db_index(c, argv[i + 1])
            if index is None:
                return
            target = c.ks.dbs[index]
            i += 2
        else:
            c.error(SYNTAX_ERR)
            return
    if src == dst and target is c.db:
        c.error(b"ERR source and destination objects are the same")
        return
    e = c.db.lookup_write(src)
    if e is None:
        c.reply.add_int(0)
        return
    if target.lookup_write(dst) is not None:
        if not replace:
            c.reply.add_int(0)
            return
        target.delete(dst)
    new = target.add(dst, copy_value(e.value))
    new.mc_flags = e.mc_flags
    new.raw = e.raw
    if e.expire_at >= 0:
        target.set_expire(dst, new, e.expire_at)
    target.account(dst, new)
    notify(c, "g", b"copy_to", dst, target.id)
    c.dirty += 1
    c.reply.add_int(1)


@command(
    "move", 3, "write fast", acl="keyspace", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Move a key to another database",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}, {"name": "db", "type": "integer"}],
    },
)
def move_command(c, argv):
    key = argv[1]
    index = db_index(c, argv[2])
    if index is None:
        return
    target = c.ks.dbs[index]
    if target is c.db:
        c.error(b"ERR source and destination objects are the same")
        return
    e = c.db.lookup_write(key)
    if e is None or target.lookup_write(key) is not None:
        c.reply.add_int(0)
        return
    value, expire_at = e.value, e.expire_at
    flags, raw = e.mc_flags, e.raw
    c.db.delete(key)
    new = target.add(key, value)
    new.mc_flags = flags
    new.raw = raw
    if expire_at >= 0:
        target.set_expire(key, new, expire_at)
    target.account(key, new)
    notify(c, "g", b"move_from", key)
    notify(c, "g", b"move_to", key, target.id)
    c.dirty += 1
    c.reply.add_int(1)


@command(
    "swapdb", 3, "write fast", acl="keyspace dangerous",
    docs={
        "summary": "Swaps two Redis databases",
        "since": "4.0.0",
        "group": "server",
        "complexity": (
            "O(N) where N is the count of clients watching or blocking on keys from both databases."
        ),
        "arguments": [{"name": "index1", "type": "integer"}, {"name": "index2", "type": "integer"}],
    },
)
def swapdb_command(c, argv):
    a = parse_ll(argv[1])
    if a is None:
        c.error(b"ERR invalid first DB index")
        return
    b = parse_ll(argv[2])
    if b is None:
        c.error(b"ERR invalid second DB index")
        return
    n = len(c.ks.dbs)
    if not (0 <= a < n and 0 <= b < n):
        c.error(b"ERR DB index is out of range")
        return
    if a != b:
        c.ks.swap(a, b)
    c.dirty += 1
    c.reply.add_ok()


@command(
    "dbsize", 1, "readonly fast", acl="keyspace",
    tips=("request_policy:all_shards", "response_policy:agg_sum"),
    docs={
        "summary": "Return the number of keys in the selected database",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def dbsize_command(c, argv):
    c.reply.add_int(c.db.size())


def flush_mode_ok(c, argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() not in (b"async", b"sync")):
        c.error(SYNTAX_ERR)
        return False
    return True


@command(
    "flushdb", -1, "write", acl="keyspace dangerous",
    tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    docs={
        "summary": "Remove all keys from the current database",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(N) where N is the number of keys in the selected database",
        "history": [
            ["4.0.0", "Added the `ASYNC` flushing mode modifier."],
            ["6.2.0", "Added the `SYNC` flushing mode modifier."],
        ],
        "arguments": [
            {
                "name": "async",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "async", "type": "pure-token", "token": "ASYNC", "since": "4.0.0"},
                    {"name": "sync", "type": "pure-token", "token": "SYNC", "since": "6.2.0"},
                ],
            },
        ],
    },
)
def flushdb_command(c, argv):
    if not flush_mode_ok(c, argv):
        return
    removed = c.db.size()
    c.db.clear()
    c.dirty += max(1, removed)     # redis propagates FLUSHDB even when the db was empty
    c.reply.add_ok()


@command(
    "flushall", -1, "write", acl="keyspace dangerous",
    tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    docs={
        "summary": "Remove all keys from all databases",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(N) where N is the total number of keys in all databases",
        "history": [
            ["4.0.0", "Added the `ASYNC` flushing mode modifier."],
            ["6.2.0", "Added the `SYNC` flushing mode modifier."],
        ],
        "arguments": [
            {
                "name": "async",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "async", "type": "pure-token", "token": "ASYNC", "since": "4.0.0"},
                    {"name": "sync", "type": "pure-token", "token": "SYNC", "since": "6.2.0"},
                ],
            },
        ],
    },
)
def flushall_command(c, argv):
    if not flush_mode_ok(c, argv):
        return
    removed = 0
    for db in c.ks.dbs:
        removed += db.size()
        db.clear()
    c.dirty += max(1, removed)
    hook = c.server.extensions.get("persistence") if c.server is not None else None
    if hook is not None and hasattr(hook, "after_flushall"):
        hook.after_flushall(c)
    c.reply.add_ok()


@command(
    "touch", -2, "readonly fast", acl="keyspace", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("request_policy:multi_shard", "response_policy:agg_sum"),
    docs={
        "summary": "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        "since": "3.2.1",
        "group": "generic",
        "complexity": "O(N) where N is the number of keys that will be touched.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]}],
    },
)
def touch_command(c, argv):
    c.reply.add_int(sum(1 for key in argv[1:] if c.db.lookup_read(key) is not None))


# ---------------------------------------------------------------------------------------------- expiry
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
        if when > LLONG_MAX // 1000 or when < -(LLONG_MAX // 1000):
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
        c.propagate_as([b"DEL", key])
        notify(c, "g", b"del", key)
        c.reply.add_int(1)
        return
    c.db.set_expire(key, e, when)
    c.dirty += 1
    c.propagate_as([b"PEXPIREAT", key, b"%d" % when] + list(argv[3:]))
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
    e = c.db.lookup_read(argv[1])
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


# ---------------------------------------------------------------------------------------------- OBJECT
def string_encoding(e):
    value = e.value
    if not e.raw and len(value) <= 20 and parse_ll(value) is not None:
        return b"int"
    if not e.raw and len(value) <= 44:
        return b"embstr"
    return b"raw"


def encoding_of(c, e):
    if type(e.value) is bytes:
        return string_encoding(e)
    config = c.server.config if c.server is not None else None
    return e.value.encoding(config)


container(
    "object",
    docs={
        "summary": "A container for object introspection commands",
        "since": "2.2.3",
        "group": "generic",
        "complexity": "Depends on subcommand.",
    },
)
@command(
    "object|encoding", 3, "readonly", acl="keyspace", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Inspect the internal encoding of a Redis object",
        "since": "2.2.3",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def object_encoding_command(c, argv):
    e = live_entry(c.db, argv[2])
    if e is None:
        c.reply.add_null()
    else:
        c.reply.add_bulk(encoding_of(c, e))


@command(
    "object|refcount", 3, "readonly", acl="keyspace", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get the number of references to the value of the key",
        "since": "2.2.3",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def object_refcount_command(c, argv):
    e = live_entry(c.db, argv[2])
    if e is None:
        c.reply.add_null()
        return
    value = e.value
    # redis shares the integers 0..9999 (OBJ_SHARED_REFCOUNT)
    if type(value) is bytes and not e.raw and len(value) <= 4 and parse_ll(value) is not None \
            and 0 <= parse_ll(value) < 10000 and c.ks.maxmemory == 0:
        c.reply.add_int(2147483647)
    else:
        c.reply.add_int(1)


@command(
    "object|idletime", 3, "readonly", acl="keyspace", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get the time since a Redis object was last accessed",
        "since": "2.2.3",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def object_idletime_command(c, argv):
    e = live_entry(c.db, argv[2])
    if e is None:
        c.reply.add_null()
        return
    if policy_uses_lfu(c.ks):
        c.error(b"ERR An LRU maxmemory policy is not selected, access time not tracked. Please note that when "
                b"switching between policies at runtime LRU and LFU data will take some time to adjust.")
        return
    c.reply.add_int(object_idle_ms(c.ks, e) // 1000)


@command(
    "object|freq", 3, "readonly", acl="keyspace", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get the logarithmic access frequency counter of a Redis object",
        "since": "4.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def object_freq_command(c, argv):
    e = live_entry(c.db, argv[2])
    if e is None:
        c.reply.add_null()
        return
    if not policy_uses_lfu(c.ks):
        c.error(b"ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that "
                b"when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        return
    c.reply.add_int(object_freq(c.ks, e))


@command(
    "object|help", 2, "loading stale", acl="keyspace",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "6.2.0",
        "group": "generic",
        "complexity": "O(1)",
    },
)
def object_help_command(c, argv):
    reply_help(c, help_lines("OBJECT", [
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
    ]))
