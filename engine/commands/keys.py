"""Generic keyspace commands (redis 7.0 db.c): DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, RENAME,
RENAMENX, COPY, MOVE, SWAPDB, DBSIZE, FLUSHDB, FLUSHALL and TOUCH.

The TTL family lives in expire.py and OBJECT in object.py; both use the lookup helpers here.
Each command reads the keyspace the way redis does (lookupKeyRead / LOOKUP_NOTOUCH / lookupKeyWrite),
because that decides INFO keyspace_hits/misses and what OBJECT IDLETIME reports afterwards.
"""
import copy as _copy

from engine.core import type_name, SYNTAX_ERR, NOT_INTEGER
from engine.commands._lazyfree import delete_maybe_lazy, flush_is_async, lazyfree
from engine.registry import command
from engine.notify import notify, notify_db, NOTIFY_KEY_MISS
from engine.glob import glob_match
from engine.commands._scan import ScanArgs, parse_cursor, parse_options
from protocol.resp import parse_ll

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
INT_RANGE_ERR = b"ERR value is out of range, value must between -2147483648 and 2147483647"
DB_RANGE_ERR = b"ERR DB index is out of range"
SAME_OBJECT_ERR = b"ERR source and destination objects are the same"
SCAN_CURSOR_LIMIT = 1 << 62      # Db.scan cursors are dense-index positions; larger ones were never issued

# value type -> function(value) returning an independent copy, for types whose copy() is not enough
COPIERS = {}


def register_copier(pytype, copier):
    """Let a value type define how COPY duplicates it (default: its copy() method)."""
    COPIERS[pytype] = copier


def copy_value(value):
    """A copy of a stored value that shares nothing mutable with it (redis COPY dups the object)."""
    if type(value) is bytes:
        return value
    copier = COPIERS.get(type(value))
    if copier is not None:
        return copier(value)
    method = getattr(value, "copy", None)
    if method is not None:
        return method()
    return _copy.deepcopy(value)


def lookup_notouch(db, key, notify_miss=True):
    """redis lookupKeyReadWithFlags(LOOKUP_NOTOUCH): lazy expiry and hit/miss stats, but the key's
    LRU/LFU data is left alone (EXISTS, TYPE, the TTL family and OBJECT must not change OBJECT IDLETIME).
    A miss raises "keymiss" unless notify_miss is False (OBJECT: redis adds LOOKUP_NONOTIFY)."""
    e = db.find(key)
    if e is not None and e.expire_at >= 0 and db.expire_if_needed(key, e):
        e = None
    if e is None:
        db.ks.stat_misses += 1
        if notify_miss and db.ks.notify_flags & NOTIFY_KEY_MISS:
            notify_db(db.ks, "m", b"keymiss", key, db.id)
    else:
        db.ks.stat_hits += 1
    return e


def int_arg(c, arg):
    """redis getIntFromObjectOrReply: the value, or None after replying its error."""
    value = parse_ll(arg)
    if value is None:
        c.error(NOT_INTEGER)
        return None
    if not INT_MIN <= value <= INT_MAX:
        c.error(INT_RANGE_ERR)
        return None
    return value


def db_index(c, arg):
    """A database number for COPY DB / MOVE, or None after replying."""
    index = int_arg(c, arg)
    if index is None:
        return None
    if not 0 <= index < len(c.ks.dbs):
        c.error(DB_RANGE_ERR)
        return None
    return index


def del_generic(c, argv, lazy):
    deleted = 0
    if not lazy and c.server is not None and c.server.config["lazyfree-lazy-user-del"]:
        lazy = True         # DEL behaves as UNLINK (redis delCommand with lazyfree_lazy_user_del)
    for key in argv[1:]:
        if c.db.lookup_write(key) is not None and delete_maybe_lazy(c, key, lazy):
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
    c.reply.add_int(sum(1 for key in argv[1:] if lookup_notouch(c.db, key) is not None))


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
    e = lookup_notouch(c.db, argv[1])
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
    for key in db.key_list():
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
    if cursor >= SCAN_CURSOR_LIMIT:
        # never issued by us (e.g. "-1" read as 2**64-1): the scan is over, as redis answers for it
        next_cursor, keys = 0, []
    else:
        next_cursor, keys = db.scan(cursor, args.count)
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
    key = random_live_key(c.db)
    if key is None:
        c.reply.add_null()
    else:
        c.reply.add_bulk(key)


def random_live_key(db):
    """redis dbRandomKey: expired keys met on the way are deleted (and propagate DEL). A replica cannot
    delete them: when every key is volatile it gives up after 100 tries and answers a stale key."""
    ks = db.ks
    tries = 100
    while db.size():
        key = db.random_any_key()
        e = db.find(key)
        if 0 <= e.expire_at <= ks.now_ms:
            if ks.is_replica:
                if db.expires_count() == db.size():
                    tries -= 1
                    if tries == 0:
                        return key
                continue
            db.expire_if_needed(key, e)
            continue
        return key
    return None


def _key_ready(c, dbid, key):
    """redis dbAdd -> signalKeyAsReady: clients blocked on the key (BLPOP, BZPOPMIN, XREAD...) may be served."""
    ext = c.server.extensions.get("blocking") if c.server is not None else None
    if ext is not None and ext.waiting:
        ext.signal_slot(dbid, key)


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
    _key_ready(c, db.id, dst)
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
        c.error(SAME_OBJECT_ERR)
        return
    e = c.db.lookup_read(src)
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
    _key_ready(c, target.id, dst)
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
        c.error(SAME_OBJECT_ERR)
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
    _key_ready(c, target.id, key)
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
    # getIntFromObjectOrReply with a custom message: not an integer and out of int range read the same
    a = parse_ll(argv[1])
    if a is None or not INT_MIN <= a <= INT_MAX:
        c.error(b"ERR invalid first DB index")
        return
    b = parse_ll(argv[2])
    if b is None or not INT_MIN <= b <= INT_MAX:
        c.error(b"ERR invalid second DB index")
        return
    n = len(c.ks.dbs)
    if not (0 <= a < n and 0 <= b < n):
        c.error(DB_RANGE_ERR)
        return
    if a != b:
        watch = _watch_registry(c)
        if watch is not None:
            db_a, db_b = c.ks.dbs[a], c.ks.dbs[b]
            watch.db_emptied(db_a, db_b)
            watch.db_emptied(db_b, db_a)
        c.ks.swap(a, b)
        ext = c.server.extensions.get("blocking") if c.server is not None else None
        if ext is not None and ext.waiting:
            ext.signal_db_ready(c.ks.dbs[a])
            ext.signal_db_ready(c.ks.dbs[b])
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


def _watch_registry(c):
    """The WATCH registry when some client has watched keys (it exists only after a first WATCH)."""
    return c.server.extensions.get("watch") if c.server is not None else None


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
    watch = _watch_registry(c)
    if watch is not None:
        watch.db_emptied(c.db)
    c.db.clear()
    if flush_is_async(c, argv) and c.server is not None:
        lazyfree(c.server).flushed(removed)
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
    watch = _watch_registry(c)
    for db in c.ks.dbs:
        removed += db.size()
        if watch is not None:
            watch.db_emptied(db)
        db.clear()
    if flush_is_async(c, argv) and c.server is not None:
        lazyfree(c.server).flushed(removed)
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


