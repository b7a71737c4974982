"""Set commands (redis t_set.c)."""
import random

from engine.core import WRONGTYPE, SYNTAX_ERR, NOT_INTEGER
from engine.registry import command
from engine.notify import notify
from engine.types.set import SetValue, IntSetValue, SmallSetValue, new_set, add_members
from engine.types.setpick import random_member
from engine.commands._scan import scan_collection, reply_cursor_batch
from protocol.resp import parse_ll

LONG_MAX = (1 << 63) - 1
SREM_BATCH = 1024       # redis propagates SPOP-with-count as SREMs of at most this many members


def is_set(value):
    t = type(value)
    return t is SetValue or t is IntSetValue or t is SmallSetValue


def config_of(c):
    return c.server.config if c.server is not None else None


def set_for_read(c, key):
    e = c.db.lookup_read(key)
    if e is None:
        return True, None
    t = type(e.value)
    if t is not SetValue and t is not IntSetValue and t is not SmallSetValue:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def set_for_write(c, key):
    e = c.db.lookup_write(key)
    if e is None:
        return True, None
    t = type(e.value)
    if t is not SetValue and t is not IntSetValue and t is not SmallSetValue:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def reply_members(c, members, as_set=True):
    if as_set:
        c.reply.add_set_len(len(members))
    else:
        c.reply.add_array_len(len(members))
    for m in members:
        c.reply.add_bulk(m)


def remove_if_empty(c, key, s):
    if not s:
        c.db.delete(key)
        notify(c, "g", b"del", key)


@command(
    "sadd", -3, "write denyoom fast", acl="set", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Add one or more members to a set",
        "since": "1.0.0",
        "group": "set",
        "complexity": (
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple "
            "arguments."
        ),
        "history": [["2.4.0", "Accepts multiple `member` arguments."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def sadd_command(c, argv):
    e = c.db.lookup_write(argv[1])
    if e is None:
        s = new_set(config_of(c), argv[2:])
        c.db.add(argv[1], s)
        added = len(s)
    else:
        t = type(e.value)
        if t is not SetValue and t is not IntSetValue and t is not SmallSetValue:
            c.error(WRONGTYPE)
            return
        s, added = add_members(e.value, config_of(c), argv[2:])
        if s is not e.value:
            e.value = s                         # a grown or converted value (setTypeConvert)
    if added:
        c.dirty += added
        notify(c, "s", b"sadd", argv[1])
    c.reply.add_int(added)


@command(
    "srem", -3, "write fast", acl="set", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove one or more members from a set",
        "since": "1.0.0",
        "group": "set",
        "complexity": "O(N) where N is the number of members to be removed.",
        "history": [["2.4.0", "Accepts multiple `member` arguments."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def srem_command(c, argv):
    ok, s = set_for_write(c, argv[1])
    if not ok:
        return
    removed = 0
    if s is not None:
        for m in argv[2:]:
            if m in s:
                s.discard(m)
                removed += 1
                if not s:
                    break
        if removed:
            c.dirty += removed
            notify(c, "s", b"srem", argv[1])
            remove_if_empty(c, argv[1], s)
    c.reply.add_int(removed)


@command(
    "smove", 4, "write fast", acl="set", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Move a member from one set to another",
        "since": "1.0.0",
        "group": "set",
        "complexity": "O(1)",
        "arguments": [
            {"name": "source", "type": "key", "key_spec_index": 0},
            {"name": "destination", "type": "key", "key_spec_index": 1},
            {"name": "member", "type": "string"},
        ],
    },
)
def smove_command(c, argv):
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    src_e = c.db.lookup_write(src_key)
    dst_e = c.db.lookup_write(dst_key)
    if src_e is None:
        c.reply.add_int(0)
        return
    if not is_set(src_e.value) or (dst_e is not None and not is_set(dst_e.value)):
        c.error(WRONGTYPE)
        return
    src = src_e.value
    if src_key == dst_key:
        c.reply.add_int(1 if member in src else 0)
        return
    if member not in src:
        c.reply.add_int(0)
        return
    src.discard(member)
    notify(c, "s", b"srem", src_key)
    remove_if_empty(c, src_key, src)
    c.dirty += 1
    if dst_e is None:
        dst = new_set(config_of(c), [member])
        c.db.add(dst_key, dst)
    else:
        dst = dst_e.value
        if member in dst:
            c.reply.add_int(1)      # redis: "sadd" (and the extra dirty) only on a real addition
            return
        converted, _ = add_members(dst, config_of(c), [member])
        if converted is not dst:
            dst_e.value = converted             # intset -> hashtable (setTypeConvert)
    c.dirty += 1
    notify(c, "s", b"sadd", dst_key)
    c.reply.add_int(1)


@command(
    "sismember", 3, "readonly fast", acl="set", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Determine if a given value is a member of a set",
        "since": "1.0.0",
        "group": "set",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string"},
        ],
    },
)
def sismember_command(c, argv):
    ok, s = set_for_read(c, argv[1])
    if ok:
        c.reply.add_int(1 if s is not None and argv[2] in s else 0)


@command(
    "smismember", -3, "readonly fast", acl="set", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Returns the membership associated with the given elements for a set",
        "since": "6.2.0",
        "group": "set",
        "complexity": "O(N) where N is the number of elements being checked for membership",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def smismember_command(c, argv):
    ok, s = set_for_read(c, argv[1])
    if not ok:
        return
    c.reply.add_array_len(len(argv) - 2)
    for m in argv[2:]:
        c.reply.add_int(1 if s is not None and m in s else 0)


@command(
    "scard", 2, "readonly fast", acl="set", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the number of members in a set",
        "since": "1.0.0",
        "group": "set",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def scard_command(c, argv):
    ok, s = set_for_read(c, argv[1])
    if ok:
        c.reply.add_int(len(s) if s is not None else 0)


@command(
    "smembers", 2, "readonly", acl="set", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Get all the members in a set",
        "since": "1.0.0",
        "group": "set",
        "complexity": "O(N) where N is the set cardinality.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def smembers_command(c, argv):
    ok, s = set_for_read(c, argv[1])
    if ok:
        reply_members(c, s.ordered() if s is not None else [])


@command(
    "spop", -2, "write fast", acl="set", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Remove and return one or multiple random members from a set",
        "since": "1.0.0",
        "group": "set",
        "complexity": (
            "Without the count argument O(1), otherwise O(N) where N is the value of the passed count."
        ),
        "history": [["3.2.0", "Added the `count` argument."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "count", "type": "integer", "since": "3.2.0", "flags": ["optional"]},
        ],
    },
)
def spop_command(c, argv):
    key = argv[1]
    if len(argv) == 3:
        spop_with_count(c, argv)
        return
    if len(argv) > 3:
        c.error(SYNTAX_ERR)
        return
    ok, s = set_for_write(c, key)
    if not ok:
        return
    if s is None:
        c.reply.add_null()
        return
    if s.hashtable:
        # O(1): set.pop() takes the element at CPython's moving pop finger; with per-process randomized
        # string hashing that is an unpredictable member, as redis's dictGetFairRandomKey is approximately
        member = s.pop()
    else:
        member = spop_small_pick(s)             # intset: at most set-max-intset-entries members
    c.dirty += 1
    notify(c, "s", b"spop", key)
    # the random pick is resolved here: replicas and the AOF remove that member
    c.propagate_as([b"SREM", key, member])
    remove_if_empty(c, key, s)
    c.reply.add_bulk(member)


def spop_small_pick(s):
    """SPOP's pick on an intset-encoded set: a uniformly random member, removed."""
    return s.pop_random()


def spop_with_count(c, argv):
    key = argv[1]
    count = parse_ll(argv[2])
    if count is None or count < 0:
        c.error(b"ERR value is out of range, must be positive")
        return
    ok, s = set_for_write(c, key)
    if not ok:
        return
    if s is None or count == 0:
        c.reply.add_set_len(0)
        return
    if count >= len(s):
        c.ks.stat_hits += 1         # redis answers this case through sunionDiffGenericCommand's read lookup
        members = s.ordered()
        c.db.delete(key)
        c.dirty += len(members)
        notify(c, "s", b"spop", key)
        notify(c, "g", b"del", key)
        c.propagate_as([b"DEL", key])
        reply_members(c, members)
        return
    members = random.sample(s.ordered(), count)
    if (len(s) - count) * 5 > count:
        for m in members:                   # redis CASE 2: the members popped one by one
            s.discard(m)
    else:
        # redis CASE 3: the remaining members move to a new set (setTypeCreate + setTypeAdd), which is an
        # intset when they all are integers, whatever the old encoding
        popped = set(members)
        e = c.db.lookup_write(key)
        e.value = new_set(config_of(c), [m for m in s.ordered() if m not in popped])
    c.dirty += count
    notify(c, "s", b"spop", key)
    c.prevent_propagation()
    for i in range(0, len(members), SREM_BATCH):
        c.also_propagate([b"SREM", key] + members[i:i + SREM_BATCH])
    reply_members(c, members)


@command(
    "srandmember", -2, "readonly", acl="set", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get one or multiple random members from a set",
        "since": "1.0.0",
        "group": "set",
        "complexity": (
            "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed "
            "count."
        ),
        "history": [["2.6.0", "Added the optional `count` argument."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "count", "type": "integer", "since": "2.6.0", "flags": ["optional"]},
        ],
    },
)
def srandmember_command(c, argv):
    if len(argv) == 2:
        ok, s = set_for_read(c, argv[1])
        if not ok:
            return
        if s is None:
            c.reply.add_null()
        elif type(s) is not SetValue:
            c.reply.add_bulk(s.random_member())     # O(1): a random position of the intset / small set
        elif len(s) > 64:
            c.reply.add_bulk(random_member(s))     # O(1): a random slot of the set's table
        else:
            c.reply.add_bulk(random.choice(s.ordered()))
        return
    if len(argv) > 3:
        c.error(SYNTAX_ERR)
        return
    count = parse_ll(argv[2])
    if count is None:
        c.error(NOT_INTEGER)
        return
    if count < -LONG_MAX:
        c.error(b"ERR value is out of range")
        return
    ok, s = set_for_read(c, argv[1])
    if not ok:
        return
    if s is None or count == 0:
        c.reply.add_array_len(0)
        return
    members = s.ordered()
    if count < 0:
        picks = [random.choice(members) for _ in range(-count)]
    elif count >= len(members):
        picks = members
    else:
        picks = random.sample(members, count)
    reply_members(c, picks, as_set=False)


def gather_sets(c, keys):
    """The set values of keys in order (None for missing ones); None after a WRONGTYPE. Read lookups, the
    *STORE variants included (redis 7.0 sinterGenericCommand / sunionDiffGenericCommand: keyspace_misses and
    "keymiss" count their sources)."""
    out = []
    for key in keys:
        e = c.db.lookup_read(key)
        if e is None:
            out.append(None)
        elif not is_set(e.value):
            c.error(WRONGTYPE)
            return None
        else:
            out.append(e.value)
    return out


def compute(op, sets):
    if op == "inter":
        if any(s is None for s in sets):
            return []
        ordered = sorted(sets, key=len)
        first = ordered[0]
        return [m for m in first.ordered() if all(m in other for other in ordered[1:])]
    if op == "union":
        result = set()
        for s in sets:
            if s is not None:
                result.update(s)
        return list(result)
    first = sets[0]
    if first is None:
        return []
    result = set(first)
    for s in sets[1:]:
        if s is not None:
            result.difference_update(s)
    return list(result)


def set_op(c, keys, op, dstkey=None):
    sets = gather_sets(c, keys)
    if sets is None:
        return
    members = compute(op, sets)
    # the result is built as a new set in redis, so an all-integer result replies in intset order
    result = new_set(config_of(c), members)
    if dstkey is None:
        reply_members(c, result.ordered())
        return
    existed = c.db.lookup_write(dstkey) is not None
    if result:
        c.db.set_value(dstkey, result)
        notify(c, "s", (b"s" + op.encode() + b"store"), dstkey)
    elif existed:
        c.db.delete(dstkey)
        notify(c, "g", b"del", dstkey)
    c.dirty += 1
    c.reply.add_int(len(result))


@command(
    "sinter", -2, "readonly", acl="set", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Intersect multiple sets",
        "since": "1.0.0",
        "group": "set",
        "complexity": (
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."
        ),
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]}],
    },
)
def sinter_command(c, argv):
    set_op(c, argv[1:], "inter")


@command(
    "sunion", -2, "readonly", acl="set", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Add multiple sets",
        "since": "1.0.0",
        "group": "set",
        "complexity": "O(N) where N is the total number of elements in all given sets.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]}],
    },
)
def sunion_command(c, argv):
    set_op(c, argv[1:], "union")


@command(
    "sdiff", -2, "readonly", acl="set", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Subtract multiple sets",
        "since": "1.0.0",
        "group": "set",
        "complexity": "O(N) where N is the total number of elements in all given sets.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]}],
    },
)
def sdiff_command(c, argv):
    set_op(c, argv[1:], "diff")


@command(
    "sinterstore", -3, "write denyoom", acl="set", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Intersect multiple sets and store the resulting set in a key",
        "since": "1.0.0",
        "group": "set",
        "complexity": (
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."
        ),
        "arguments": [
            {"name": "destination", "type": "key", "key_spec_index": 0},
            {"name": "key", "type": "key", "key_spec_index": 1, "flags": ["multiple"]},
        ],
    },
)
def sinterstore_command(c, argv):
    set_op(c, argv[2:], "inter", argv[1])


@command(
    "sunionstore", -3, "write denyoom", acl="set", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Add multiple sets and store the resulting set in a key",
        "since": "1.0.0",
        "group": "set",
        "complexity": "O(N) where N is the total number of elements in all given sets.",
        "arguments": [
            {"name": "destination", "type": "key", "key_spec_index": 0},
            {"name": "key", "type": "key", "key_spec_index": 1, "flags": ["multiple"]},
        ],
    },
)
def sunionstore_command(c, argv):
    set_op(c, argv[2:], "union", argv[1])


@command(
    "sdiffstore", -3, "write denyoom", acl="set", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Subtract multiple sets and store the resulting set in a key",
        "since": "1.0.0",
        "group": "set",
        "complexity": "O(N) where N is the total number of elements in all given sets.",
        "arguments": [
            {"name": "destination", "type": "key", "key_spec_index": 0},
            {"name": "key", "type": "key", "key_spec_index": 1, "flags": ["multiple"]},
        ],
    },
)
def sdiffstore_command(c, argv):
    set_op(c, argv[2:], "diff", argv[1])


@command(
    "sintercard", -3, "readonly movablekeys", acl="set",
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Intersect multiple sets and return the cardinality of the result",
        "since": "7.0.0",
        "group": "set",
        "complexity": (
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."
        ),
        "arguments": [
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {"name": "limit", "type": "integer", "token": "LIMIT", "flags": ["optional"]},
        ],
    },
)
def sintercard_command(c, argv):
    numkeys = parse_ll(argv[1])
    if numkeys is None or numkeys <= 0:     # redis getRangeLongFromObjectOrReply with its own message
        c.error(b"ERR numkeys should be greater than 0")
        return
    if numkeys > len(argv) - 2:
        c.error(b"ERR Number of keys can't be greater than number of args")
        return
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if argv[i].lower() == b"limit" and i + 1 < len(argv):
            limit = parse_ll(argv[i + 1])
            if limit is None or limit < 0:     # redis getPositiveLongFromObjectOrReply with its own message
                c.error(b"ERR LIMIT can't be negative")
                return
            i += 2
        else:
            c.error(SYNTAX_ERR)
            return
    sets = gather_sets(c, argv[2:2 + numkeys])
    if sets is None:
        return
    n = len(compute("inter", sets))
    c.reply.add_int(min(n, limit) if limit else n)


@command(
    "sscan", -3, "readonly", acl="set", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Incrementally iterate Set elements",
        "since": "2.8.0",
        "group": "set",
        "complexity": (
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the "
            "cursor to return back to 0. N is the number of elements inside the collection.."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "cursor", "type": "integer"},
            {"name": "pattern", "type": "pattern", "token": "MATCH", "flags": ["optional"]},
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
        ],
    },
)
def sscan_command(c, argv):
    scan_collection(c, argv, set_for_read, lambda s: s.ordered(), large=_sscan_large)


def _sscan_large(c, args, s):
    if type(s) is not SetValue:             # intset, small set: the whole set in one step (cursor 0)
        return False
    reply_cursor_batch(c, args, s, s)
    return True


# the compiled hot path (SADD/SREM/SISMEMBER/SMISMEMBER/SCARD/SPOP as C handlers): engine/commands/t_set_fast.pyx
from engine.commands import t_set_fast  # noqa: E402,F401
