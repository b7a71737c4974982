"""OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ | HELP (redis 7.0 object.c objectCommand).

Every subcommand looks the key up like redis objectCommandLookup (LOOKUP_NOTOUCH|LOOKUP_NONOTIFY): it
counts as a keyspace hit or miss but leaves the LRU/LFU data alone, so IDLETIME reports the idle time as
it was before the call. The LRU clock is Keyspace.lru_clock (seconds, 24 bits), stored into Entry.lru by
every touching lookup (Db.lookup_read / lookup_write) and when a key is created.
"""
from engine.core import object_idle_ms, object_freq, policy_uses_lfu, POLICIES
from engine.registry import command, container
from engine.commands.connection import reply_help, help_lines
from engine.commands.keys import lookup_notouch
from protocol.resp import parse_ll

OBJ_SHARED_INTEGERS = 10000          # redis shares the integer objects 0..9999 ...
SHARED_REFCOUNT = 2147483647         # ... with refcount OBJ_SHARED_REFCOUNT (INT_MAX)
# ... unless maxmemory is set with an LRU/LFU policy (MAXMEMORY_FLAG_NO_SHARED_INTEGERS): those need a
# per-key access time
NO_SHARED_INTEGER_POLICIES = frozenset(POLICIES[name] for name in POLICIES if name.endswith(("-lru", "-lfu")))

# value type -> function(value, config) -> encoding name, for value types without an encoding() method
ENCODINGS = {}


def register_encoding(pytype, encoding_of_value):
    ENCODINGS[pytype] = encoding_of_value


def string_encoding(e):
    """int / embstr (<= 44 bytes, OBJ_ENCODING_EMBSTR_SIZE_LIMIT) / raw (APPEND and SETRANGE make raw)."""
    value = e.value
    if not e.raw and len(value) <= 20 and parse_ll(value) is not None:
        return b"int"
    if not e.raw and len(value) <= 44:
        return b"embstr"
    return b"raw"


def encoding_of(c, e):
    value = e.value
    if type(value) is bytes:
        return string_encoding(e)
    config = c.server.config if c.server is not None else None
    describe = ENCODINGS.get(type(value))
    if describe is not None:
        return describe(value, config)
    return value.encoding(config)


def shares_integers(ks):
    return ks.maxmemory == 0 or ks.policy not in NO_SHARED_INTEGER_POLICIES


def refcount_of(c, e):
    value = e.value
    if type(value) is bytes and not e.raw and len(value) <= 4 and shares_integers(c.ks):
        n = parse_ll(value)
        if n is not None and 0 <= n < OBJ_SHARED_INTEGERS:
            return SHARED_REFCOUNT
    return 1


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
    e = lookup_notouch(c.db, argv[2], notify_miss=False)
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
    e = lookup_notouch(c.db, argv[2], notify_miss=False)
    if e is None:
        c.reply.add_null()
        return
    c.reply.add_int(refcount_of(c, e))


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
    e = lookup_notouch(c.db, argv[2], notify_miss=False)
    if e is None:
        c.reply.add_null()
        return
    if policy_uses_lfu(c.ks):
        c.error(b"ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
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
    e = lookup_notouch(c.db, argv[2], notify_miss=False)
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
