"""Hash commands (redis t_hash.c)."""
import random

from engine.core import WRONGTYPE, SYNTAX_ERR, NOT_INTEGER
from engine.registry import command
from engine.notify import notify
from engine.ldouble import incr_by_float, OK as LD_OK, BAD_CURRENT, BAD_INCREMENT
from engine.types.hash import HashValue, limits
from protocol.resp import parse_ll
from engine.commands._scan import scan_collection, reply_cursor_batch

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)


def config_of(c):
    return c.server.config if c.server is not None else None


def hash_for_read(c, key):
    """(ok, value): value None when the key is missing; ok False after WRONGTYPE."""
    e = c.db.lookup_read(key)
    if e is None:
        return True, None
    if type(e.value) is not HashValue:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def hash_for_write(c, key, create):
    e = c.db.lookup_write(key)
    if e is None:
        if not create:
            return True, None
        value = HashValue()
        c.db.add(key, value)
        return True, value
    if type(e.value) is not HashValue:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def hset_generic(c, argv):
    if len(argv) % 2 != 0:
        c.error(b"ERR wrong number of arguments for '" + c.cmd.name_bytes + b"' command")
        return None
    ok, h = hash_for_write(c, argv[1], True)
    if not ok:
        return None
    created = 0
    config = config_of(c)
    h.note_write(config, *argv[2:])           # redis hashTypeTryConversion: the lengths first
    max_entries = limits(config)[0]
    for i in range(2, len(argv), 2):
        if argv[i] not in h:
            created += 1
        h[argv[i]] = argv[i + 1]
        if not h.hashtable and len(h) > max_entries:
            h.hashtable = True
    c.dirty += (len(argv) - 2) // 2
    notify(c, "h", b"hset", argv[1])
    return created


@command(
    "hset", -4, "write denyoom fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set the string value of a hash field",
        "since": "2.0.0",
        "group": "hash",
        "complexity": (
            "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is "
            "called with multiple field/value pairs."
        ),
        "history": [["4.0.0", "Accepts multiple `field` and `value` arguments."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "field_value",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [{"name": "field", "type": "string"}, {"name": "value", "type": "string"}],
            },
        ],
    },
)
def hset_command(c, argv):
    created = hset_generic(c, argv)
    if created is not None:
        c.reply.add_int(created)


@command(
    "hmset", -4, "write denyoom fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set multiple hash fields to multiple values",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(N) where N is the number of fields being set.",
        "doc_flags": ["deprecated"],
        "deprecated_since": "4.0.0",
        "replaced_by": "`HSET` with multiple field-value pairs",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "field_value",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [{"name": "field", "type": "string"}, {"name": "value", "type": "string"}],
            },
        ],
    },
)
def hmset_command(c, argv):
    if hset_generic(c, argv) is not None:
        c.reply.add_ok()


@command(
    "hsetnx", 4, "write denyoom fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set the value of a hash field, only if the field does not exist",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "field", "type": "string"},
            {"name": "value", "type": "string"},
        ],
    },
)
def hsetnx_command(c, argv):
    ok, h = hash_for_write(c, argv[1], True)
    if not ok:
        return
    if argv[2] in h:
        c.reply.add_int(0)
        return
    h[argv[2]] = argv[3]
    h.note_write(config_of(c), argv[2], argv[3])
    c.dirty += 1
    notify(c, "h", b"hset", argv[1])
    c.reply.add_int(1)


@command(
    "hget", 3, "readonly fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the value of a hash field",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "field", "type": "string"},
        ],
    },
)
def hget_command(c, argv):
    ok, h = hash_for_read(c, argv[1])
    if not ok:
        return
    v = h.get(argv[2]) if h is not None else None
    if v is None:
        c.reply.add_null()
    else:
        c.reply.add_bulk(v)


@command(
    "hmget", -3, "readonly fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the values of all the given hash fields",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(N) where N is the number of fields being requested.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "field", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def hmget_command(c, argv):
    ok, h = hash_for_read(c, argv[1])
    if not ok:
        return
    c.reply.add_array_len(len(argv) - 2)
    for f in argv[2:]:
        v = h.get(f) if h is not None else None
        if v is None:
            c.reply.add_null()
        else:
            c.reply.add_bulk(v)


def reply_all(c, argv, keys, values):
    ok, h = hash_for_read(c, argv[1])
    if not ok:
        return
    if h is None:
        h = {}
    if keys and values:
        c.reply.add_map_len(len(h))
        for k, v in h.items():
            c.reply.add_bulk(k)
            c.reply.add_bulk(v)
    else:
        c.reply.add_array_len(len(h))
        for k, v in h.items():
            c.reply.add_bulk(k if keys else v)


@command(
    "hgetall", 2, "readonly", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Get all the fields and values in a hash",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(N) where N is the size of the hash.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def hgetall_command(c, argv):
    reply_all(c, argv, True, True)


@command(
    "hkeys", 2, "readonly", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Get all the fields in a hash",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(N) where N is the size of the hash.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def hkeys_command(c, argv):
    reply_all(c, argv, True, False)


@command(
    "hvals", 2, "readonly", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Get all the values in a hash",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(N) where N is the size of the hash.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def hvals_command(c, argv):
    reply_all(c, argv, False, True)


@command(
    "hdel", -3, "write fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Delete one or more hash fields",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(N) where N is the number of fields to be removed.",
        "history": [["2.4.0", "Accepts multiple `field` arguments."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "field", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def hdel_command(c, argv):
    ok, h = hash_for_write(c, argv[1], False)
    if not ok:
        return
    deleted = 0
    if h is not None:
        for f in argv[2:]:
            if h.pop(f, None) is not None:
                deleted += 1
                if not h:
                    break
        if deleted:
            c.dirty += deleted
            notify(c, "h", b"hdel", argv[1])
            if not h:
                c.db.delete(argv[1])
                notify(c, "g", b"del", argv[1])
    c.reply.add_int(deleted)


@command(
    "hlen", 2, "readonly fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the number of fields in a hash",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def hlen_command(c, argv):
    ok, h = hash_for_read(c, argv[1])
    if ok:
        c.reply.add_int(len(h) if h is not None else 0)


@command(
    "hstrlen", 3, "readonly fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the length of the value of a hash field",
        "since": "3.2.0",
        "group": "hash",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "field", "type": "string"},
        ],
    },
)
def hstrlen_command(c, argv):
    ok, h = hash_for_read(c, argv[1])
    if ok:
        v = h.get(argv[2]) if h is not None else None
        c.reply.add_int(len(v) if v is not None else 0)


@command(
    "hexists", 3, "readonly fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Determine if a hash field exists",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "field", "type": "string"},
        ],
    },
)
def hexists_command(c, argv):
    ok, h = hash_for_read(c, argv[1])
    if ok:
        c.reply.add_int(1 if h is not None and argv[2] in h else 0)


@command(
    "hincrby", 4, "write denyoom fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Increment the integer value of a hash field by the given number",
        "since": "2.0.0",
        "group": "hash",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "field", "type": "string"},
            {"name": "increment", "type": "integer"},
        ],
    },
)
def hincrby_command(c, argv):
    incr = parse_ll(argv[3])
    if incr is None:
        c.error(NOT_INTEGER)
        return
    ok, h = hash_for_write(c, argv[1], True)
    if not ok:
        return
    current = h.get(argv[2])
    value = 0
    if current is not None:
        value = parse_ll(current)
        if value is None:
            c.error(b"ERR hash value is not an integer")
            return
    if (incr < 0 and value < 0 and incr < LLONG_MIN - value) or (incr > 0 and value > 0 and incr > LLONG_MAX - value):
        c.error(b"ERR increment or decrement would overflow")
        return
    value += incr
    h[argv[2]] = b"%d" % value
    h.note_write(config_of(c), argv[2], h[argv[2]])
    c.dirty += 1
    notify(c, "h", b"hincrby", argv[1])
    c.reply.add_int(value)


@command(
    "hincrbyfloat", 4, "write denyoom fast", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Increment the float value of a hash field by the given amount",
        "since": "2.6.0",
        "group": "hash",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "field", "type": "string"},
            {"name": "increment", "type": "double"},
        ],
    },
)
def hincrbyfloat_command(c, argv):
    from engine.ldouble import is_valid_float
    if not is_valid_float(argv[3]):
        c.error(b"ERR value is not a valid float")
        return
    if argv[3].lower().lstrip(b"+-") in (b"inf", b"infinity"):
        c.error(b"ERR value is NaN or Infinity")     # redis checks the increment itself first
        return
    ok, h = hash_for_write(c, argv[1], True)
    if not ok:
        return
    status, result = incr_by_float(h.get(argv[2]), argv[3])
    if status == BAD_CURRENT:
        c.error(b"ERR hash value is not a float")
        return
    if status != LD_OK:
        c.error(b"ERR increment would produce NaN or Infinity")
        return
    h[argv[2]] = result
    h.note_write(config_of(c), argv[2], result)
    c.dirty += 1
    notify(c, "h", b"hincrbyfloat", argv[1])
    # propagate the result, not the float arithmetic (redis: HSET key field value)
    c.propagate_as([b"HSET", argv[1], argv[2], result])
    c.reply.add_bulk(result)


@command(
    "hrandfield", -2, "readonly", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get one or multiple random fields from a hash",
        "since": "6.2.0",
        "group": "hash",
        "complexity": "O(N) where N is the number of fields returned",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "options",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "count", "type": "integer"},
                    {
                        "name": "withvalues",
                        "type": "pure-token",
                        "token": "WITHVALUES",
                        "flags": ["optional"],
                    },
                ],
            },
        ],
    },
)
def hrandfield_command(c, argv):
    if len(argv) >= 3:
        count = parse_ll(argv[2])
        withvalues = False
        if count is None:
            c.error(NOT_INTEGER)
            return
        if len(argv) == 4:
            if argv[3].lower() != b"withvalues":
                c.error(SYNTAX_ERR)
                return
            withvalues = True
        elif len(argv) > 4:
            c.error(SYNTAX_ERR)
            return
        if count < -LLONG_MAX or (withvalues and count < -(LLONG_MAX // 2)):
            c.error(b"ERR value is out of range")
            return
        ok, h = hash_for_read(c, argv[1])
        if not ok:
            return
        if h is None or count == 0:
            c.reply.add_array_len(0)
            return
        items = list(h.items())
        if count < 0:
            picks = [random.choice(items) for _ in range(-count)]
        elif count >= len(items):
            picks = items
        else:
            picks = random.sample(items, count)
        r = c.reply
        if withvalues and r.resp >= 3:
            r.add_array_len(len(picks))
            for k, v in picks:
                r.add_array_len(2)
                r.add_bulk(k)
                r.add_bulk(v)
        else:
            r.add_array_len(len(picks) * (2 if withvalues else 1))
            for k, v in picks:
                r.add_bulk(k)
                if withvalues:
                    r.add_bulk(v)
        return
    ok, h = hash_for_read(c, argv[1])
    if not ok:
        return
    if h is None:
        c.reply.add_null()
    else:
        c.reply.add_bulk(random.choice(list(h)))


@command(
    "hscan", -3, "readonly", acl="hash", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Incrementally iterate hash fields and associated values",
        "since": "2.8.0",
        "group": "hash",
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
def hscan_command(c, argv):
    scan_collection(c, argv, hash_for_read, lambda h: [x for kv in h.items() for x in kv], pairs=True,
                    large=_hscan_large)


def _hscan_large(c, args, h):
    if not h.hashtable:
        return False
    reply_cursor_batch(c, args, h, h.d, h.d.get)
    return True


# the compiled hot path (HSET/HMSET/HGET/HMGET/HINCRBY/HDEL/HLEN/HEXISTS as C handlers): engine/commands/t_hash_fast.pyx
from engine.commands import t_hash_fast  # noqa: E402,F401
