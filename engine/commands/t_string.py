"""The rest of the string family (redis 7.0 t_string.c): SETNX SETEX PSETEX GETSET GETDEL GETEX APPEND STRLEN
GETRANGE SUBSTR SETRANGE INCRBYFLOAT MSETNX LCS.

GET/SET/INCR*/DECR*/MGET/MSET are compiled into engine.core (t_string.pxi). Values are immutable bytes, so
APPEND and SETRANGE build the new value and mark it raw-encoded, as Redis's in-place sds edits leave it.
Every handler follows the order of checks of its Redis counterpart, because that order decides which error
a bad command gets.
"""

from engine.core import WRONGTYPE, SYNTAX_ERR, NOT_INTEGER, NOT_FLOAT
from engine.registry import command
from engine.notify import notify
from engine.ldouble import incr_by_float, OK as LD_OK, NOT_FINITE
from protocol.resp import parse_ll

LLONG_MAX = (1 << 63) - 1
DEFAULT_PROTO_MAX_BULK_LEN = 512 * 1024 * 1024
STRING_TOO_LONG = b"ERR string exceeds maximum allowed size (proto-max-bulk-len)"
NAN_OR_INF = b"ERR increment would produce NaN or Infinity"

# GETEX expiration options (redis OBJ_EX ... OBJ_PERSIST)
EX, PX, EXAT, PXAT, PERSIST = 1, 2, 4, 8, 16
TTL_OPTIONS = {b"ex": EX, b"px": PX, b"exat": EXAT, b"pxat": PXAT}


# -- shared helpers ---------------------------------------------------------------------------------------------
def proto_max_bulk_len(c):
    return c.server.config["proto-max-bulk-len"] if c.server is not None else DEFAULT_PROTO_MAX_BULK_LEN


def config_flag(c, name):
    return c.server is not None and bool(c.server.config[name])


def check_string_length(c, size, append):
    """redis checkStringLength: False after replying when size+append exceeds proto-max-bulk-len.
    Our primary's stream is obeyed whatever our own limit."""
    if c.is_master:
        return True
    if size + append > proto_max_bulk_len(c):
        c.error(STRING_TOO_LONG)
        return False
    return True


def expire_ms_or_reply(c, arg, in_seconds, relative, cmdname):
    """redis getExpireMillisecondsOrReply: absolute unix ms, or None after replying the error."""
    value = parse_ll(arg)
    if value is None:
        c.error(NOT_INTEGER)
        return None
    invalid = b"ERR invalid expire time in '" + cmdname + b"' command"
    if value <= 0 or (in_seconds and value > LLONG_MAX // 1000):
        c.error(invalid)
        return None
    if in_seconds:
        value *= 1000
    if relative:
        value += c.ks.now_ms
        if value > LLONG_MAX:       # the C addition overflows to a negative time
            c.error(invalid)
            return None
    return value


def string_entry_for_read(c, key):
    """(ok, entry or None): ok is False after a WRONGTYPE reply."""
    e = c.db.lookup_read(key)
    if e is not None and type(e.value) is not bytes:
        c.error(WRONGTYPE)
        return False, None
    return True, e


def reply_get(c, key):
    """redis getGenericCommand: reply the value (nil when missing); returns the entry, or False after WRONGTYPE."""
    ok, e = string_entry_for_read(c, key)
    if not ok:
        return False
    if e is None:
        c.reply.add_null()
    else:
        c.reply.add_bulk(e.value)
    return e


def replace_string(e, value, raw):
    """Overwrite a string in place, keeping its TTL (dbReplaceValue); any write forgets the memcached CAS."""
    e.value = value
    e.cas = 0
    e.raw = raw


def signal(c, event, key, cls="$"):
    """Keyspace notification (class "$" string by default); one integer test when notifications are off."""
    if c.ks.notify_flags:
        notify(c, cls, event, key)


@command(
    "setnx", 3, "write denyoom fast", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["OW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set the value of a key, only if the key does not exist",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "value", "type": "string"},
        ],
    },
)
def setnx_command(c, argv):
    key = argv[1]
    if c.db.lookup_write(key) is not None:
        c.reply.add_int(0)
        return
    c.db.add(key, argv[2])
    c.dirty += 1
    signal(c, b"set", key)
    c.reply.add_int(1)


@command(
    "setex", 4, "write denyoom", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set the value and expiration of a key",
        "since": "2.0.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "seconds", "type": "integer"},
            {"name": "value", "type": "string"},
        ],
    },
)
def setex_command(c, argv):
    set_with_expire(c, argv, True, b"setex")


@command(
    "psetex", 4, "write denyoom", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set the value and expiration in milliseconds of a key",
        "since": "2.6.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "milliseconds", "type": "integer"},
            {"name": "value", "type": "string"},
        ],
    },
)
def psetex_command(c, argv):
    set_with_expire(c, argv, False, b"psetex")


def set_with_expire(c, argv, in_seconds, cmdname):
    """SETEX/PSETEX (setGenericCommand with EX/PX): propagated as SET key value PXAT <absolute ms>."""
    key, value = argv[1], argv[3]
    at_ms = expire_ms_or_reply(c, argv[2], in_seconds, True, cmdname)
    if at_ms is None:
        return
    c.db.set_value(key, value, at_ms)
    c.dirty += 1
    signal(c, b"set", key)
    signal(c, b"expire", key, "g")
    c.propagate_as([b"SET", key, value, b"PXAT", str(at_ms).encode()])
    c.reply.add_ok()


@command(
    "getset", 3, "write denyoom fast", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set the string value of a key and return its old value",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(1)",
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`SET` with the `!GET` argument",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "value", "type": "string"},
        ],
    },
)
def getset_command(c, argv):
    key, value = argv[1], argv[2]
    if reply_get(c, key) is False:
        return
    c.db.set_value(key, value)          # a plain SET: the old TTL goes
    c.dirty += 1
    signal(c, b"set", key)
    c.propagate_as([b"SET", key, value])


@command(
    "getdel", 2, "write fast", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the value of a key and delete the key",
        "since": "6.2.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def getdel_command(c, argv):
    key = argv[1]
    if not reply_get(c, key):
        return
    c.db.delete(key)
    c.dirty += 1
    signal(c, b"del", key, "g")
    c.propagate_as([b"UNLINK" if config_flag(c, "lazyfree-lazy-user-del") else b"DEL", key])


@command(
    "getex", -2, "write fast", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "notes": "RW and UPDATE because it changes the TTL",
            "flags": ["RW", "access", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the value of a key and optionally set its expiration",
        "since": "6.2.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "expiration",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "seconds", "type": "integer", "token": "EX"},
                    {"name": "milliseconds", "type": "integer", "token": "PX"},
                    {"name": "unix-time-seconds", "type": "unix-time", "token": "EXAT"},
                    {"name": "unix-time-milliseconds", "type": "unix-time", "token": "PXAT"},
                    {"name": "persist", "type": "pure-token", "token": "PERSIST"},
                ],
            },
        ],
    },
)
def getex_command(c, argv):
    key = argv[1]
    flags = 0
    expire_arg = None
    # redis parseExtendedStringArgumentsOrReply(COMMAND_GET): an option may repeat, never mix with another
    j, argc = 2, len(argv)
    while j < argc:
        opt = argv[j].lower()
        ttl_flag = TTL_OPTIONS.get(opt, 0)
        if opt == b"persist" and not flags & (EX | PX | EXAT | PXAT):
            flags |= PERSIST
        elif ttl_flag and not flags & (PERSIST | ((EX | PX | EXAT | PXAT) & ~ttl_flag)) and j + 1 < argc:
            flags |= ttl_flag
            j += 1
            expire_arg = argv[j]
        else:
            c.error(SYNTAX_ERR)
            return
        j += 1
    ok, e = string_entry_for_read(c, key)
    if not ok:
        return
    if e is None:
        c.reply.add_null()
        return
    at_ms = -1
    if expire_arg is not None:
        at_ms = expire_ms_or_reply(c, expire_arg, bool(flags & (EX | EXAT)), bool(flags & (EX | PX)), b"getex")
        if at_ms is None:
            return
    c.reply.add_bulk(e.value)
    # never propagated as GETEX: as DEL/UNLINK, PEXPIREAT or PERSIST, or not at all
    if flags & (EXAT | PXAT) and at_ms <= c.ks.now_ms and not c.ks.is_replica:
        c.db.delete(key)
        c.dirty += 1
        signal(c, b"del", key, "g")
        c.propagate_as([b"UNLINK" if config_flag(c, "lazyfree-lazy-expire") else b"DEL", key])
    elif expire_arg is not None:
        c.db.set_expire(key, e, at_ms)
        c.dirty += 1
        signal(c, b"expire", key, "g")
        c.propagate_as([b"PEXPIREAT", key, str(at_ms).encode()])
    elif flags & PERSIST and e.expire_at >= 0:
        c.db.remove_expire(key, e)
        c.dirty += 1
        signal(c, b"persist", key, "g")
        c.propagate_as([b"PERSIST", key])


@command(
    "append", 3, "write denyoom fast", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Append a value to a key",
        "since": "2.0.0",
        "group": "string",
        "complexity": (
            "O(1). The amortized time complexity is O(1) assuming the appended value is small and the "
            "already present value is of any size, since the dynamic string library used by Redis will "
            "double the free space available on every reallocation."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "value", "type": "string"},
        ],
    },
)
def append_command(c, argv):
    key, tail = argv[1], argv[2]
    e = c.db.lookup_write(key)
    if e is None:
        c.db.add(key, tail)             # a new key keeps the argument's own encoding (int/embstr)
        total = len(tail)
    else:
        if type(e.value) is not bytes:
            c.error(WRONGTYPE)
            return
        if not check_string_length(c, len(e.value), len(tail)):
            return
        replace_string(e, e.value + tail, 1)
        total = len(e.value)
    c.dirty += 1
    signal(c, b"append", key)
    c.reply.add_int(total)


@command(
    "strlen", 2, "readonly fast", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the length of the value stored in a key",
        "since": "2.2.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def strlen_command(c, argv):
    ok, e = string_entry_for_read(c, argv[1])
    if ok:
        c.reply.add_int(0 if e is None else len(e.value))


@command(
    "getrange", 4, "readonly", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get a substring of the string stored at a key",
        "since": "2.4.0",
        "group": "string",
        "complexity": (
            "O(N) where N is the length of the returned string. The complexity is ultimately determined by "
            "the returned length, but because creating a substring from an existing string is very cheap, it "
            "can be considered O(1) for small strings."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "start", "type": "integer"},
            {"name": "end", "type": "integer"},
        ],
    },
)
def getrange_command(c, argv):
    start = parse_ll(argv[2])
    if start is None:
        c.error(NOT_INTEGER)
        return
    end = parse_ll(argv[3])
    if end is None:
        c.error(NOT_INTEGER)
        return
    ok, e = string_entry_for_read(c, argv[1])
    if not ok:
        return
    if e is None:
        c.reply.add_bulk(b"")
        return
    c.reply.add_bulk(byte_range(e.value, start, end))


def byte_range(value, start, end):
    """redis getrangeCommand's index arithmetic (inclusive end, negatives count from the end)."""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start += n
    if end < 0:
        end += n
    start = max(start, 0)
    end = min(max(end, 0), n - 1)
    if start > end or n == 0:
        return b""
    return value[start:end + 1]


@command(
    "substr", 4, "readonly", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get a substring of the string stored at a key",
        "since": "1.0.0",
        "group": "string",
        "complexity": (
            "O(N) where N is the length of the returned string. The complexity is ultimately determined by "
            "the returned length, but because creating a substring from an existing string is very cheap, it "
            "can be considered O(1) for small strings."
        ),
        "doc_flags": ["deprecated"],
        "deprecated_since": "2.0.0",
        "replaced_by": "`GETRANGE`",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "start", "type": "integer"},
            {"name": "end", "type": "integer"},
        ],
    },
)
def substr_command(c, argv):
    getrange_command(c, argv)


@command(
    "setrange", 4, "write denyoom", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Overwrite part of a string at key starting at the specified offset",
        "since": "2.2.0",
        "group": "string",
        "complexity": (
            "O(1), not counting the time taken to copy the new string in place. Usually, this string is very "
            "small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the "
            "length of the value argument."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "offset", "type": "integer"},
            {"name": "value", "type": "string"},
        ],
    },
)
def setrange_command(c, argv):
    key, patch = argv[1], argv[3]
    offset = parse_ll(argv[2])
    if offset is None:
        c.error(NOT_INTEGER)
        return
    if offset < 0:
        c.error(b"ERR offset is out of range")
        return
    e = c.db.lookup_write(key)
    if e is None:
        if not patch:                   # setting nothing on a missing key creates nothing
            c.reply.add_int(0)
            return
        if not check_string_length(c, offset, len(patch)):
            return
        e = c.db.add(key, bytes(offset) + patch)
        e.raw = 1
    else:
        if type(e.value) is not bytes:
            c.error(WRONGTYPE)
            return
        if not patch:
            c.reply.add_int(len(e.value))
            return
        if not check_string_length(c, offset, len(patch)):
            return
        old = e.value
        if offset > len(old):
            new = old + bytes(offset - len(old)) + patch
        else:
            new = old[:offset] + patch + old[offset + len(patch):]
        replace_string(e, new, 1)
    c.dirty += 1
    signal(c, b"setrange", key)
    c.reply.add_int(len(e.value))


@command(
    "incrbyfloat", 3, "write denyoom fast", acl="string", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Increment the float value of a key by the given amount",
        "since": "2.6.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "increment", "type": "double"},
        ],
    },
)
def incrbyfloat_command(c, argv):
    key = argv[1]
    e = c.db.lookup_write(key)
    if e is not None and type(e.value) is not bytes:
        c.error(WRONGTYPE)
        return
    # long double arithmetic and %.17Lf formatting with trailing zeros removed (redis LD_STR_HUMAN)
    current = None if e is None else e.value
    status, result = incr_by_float(current, argv[2])
    if status != LD_OK:
        c.error(NAN_OR_INF if status == NOT_FINITE else NOT_FLOAT)
        return
    if e is None:
        c.db.add(key, result)
    else:
        replace_string(e, result, 0)    # the TTL stays
    c.dirty += 1
    signal(c, b"incrbyfloat", key)
    c.reply.add_bulk(result)
    # replicas and the AOF get the exact result, never a float computation of their own
    c.propagate_as([b"SET", key, result, b"KEEPTTL"])


@command(
    "msetnx", -3, "write denyoom", acl="string", keys=(1, -1, 2),
    key_specs=[
        {
            "flags": ["OW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 2, "limit": 0}},
        },
    ],
    tips=("request_policy:multi_shard", "response_policy:agg_min"),
    docs={
        "summary": "Set multiple keys to multiple values, only if none of the keys exist",
        "since": "1.0.1",
        "group": "string",
        "complexity": "O(N) where N is the number of keys to set.",
        "arguments": [
            {
                "name": "key_value",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [
                    {"name": "key", "type": "key", "key_spec_index": 0},
                    {"name": "value", "type": "string"},
                ],
            },
        ],
    },
)
def msetnx_command(c, argv):
    n = len(argv)
    if n % 2 == 0:
        c.error(b"ERR wrong number of arguments for 'msetnx' command")
        return
    for i in range(1, n, 2):
        if c.db.lookup_write(argv[i]) is not None:
            c.reply.add_int(0)
            return
    for i in range(1, n, 2):
        c.db.set_value(argv[i], argv[i + 1])     # a key given twice takes its last value, as in Redis
        signal(c, b"set", argv[i])
    c.dirty += (n - 1) // 2
    c.reply.add_int(1)


@command(
    "lcs", -3, "readonly", acl="string", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 1, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Find longest common substring",
        "since": "7.0.0",
        "group": "string",
        "complexity": "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        "arguments": [
            {"name": "key1", "type": "key", "key_spec_index": 0},
            {"name": "key2", "type": "key", "key_spec_index": 0},
            {"name": "len", "type": "pure-token", "token": "LEN", "flags": ["optional"]},
            {"name": "idx", "type": "pure-token", "token": "IDX", "flags": ["optional"]},
            {"name": "len", "type": "integer", "token": "MINMATCHLEN", "flags": ["optional"]},
            {"name": "withmatchlen", "type": "pure-token", "token": "WITHMATCHLEN", "flags": ["optional"]},
        ],
    },
)
def lcs_command(c, argv):
    ea = c.db.lookup_read(argv[1])
    eb = c.db.lookup_read(argv[2])
    if (ea is not None and type(ea.value) is not bytes) or (eb is not None and type(eb.value) is not bytes):
        c.error(b"ERR The specified keys must contain string values")
        return
    a = b"" if ea is None else ea.value
    b = b"" if eb is None else eb.value
    get_len = get_idx = with_match_len = False
    min_match_len = 0
    j, argc = 3, len(argv)
    while j < argc:
        opt = argv[j].lower()
        if opt == b"idx":
            get_idx = True
        elif opt == b"len":
            get_len = True
        elif opt == b"withmatchlen":
            with_match_len = True
        elif opt == b"minmatchlen" and j + 1 < argc:
            min_match_len = parse_ll(argv[j + 1])
            if min_match_len is None:
                c.error(NOT_INTEGER)
                return
            min_match_len = max(min_match_len, 0)
            j += 1
        else:
            c.error(SYNTAX_ERR)
            return
        j += 1
    if get_idx and get_len:
        c.error(b"ERR If you want both the length and indexes, please just use IDX.")
        return
    # Redis allocates a uint32 table of (len(a)+1)*(len(b)+1) cells and refuses beyond proto-max-bulk-len
    if (len(a) + 1) * (len(b) + 1) * 4 > proto_max_bulk_len(c):
        c.error(b"ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        return
    table = LcsTable(a, b)
    if get_len:
        c.reply.add_int(table.length())
        return
    common, matches = table.walk(min_match_len)
    if not get_idx:
        c.reply.add_bulk(common)
        return
    c.reply.add_map_len(2)
    c.reply.add_bulk(b"matches")
    c.reply.add_array_len(len(matches))
    for a_start, a_end, b_start, b_end in matches:
        c.reply.add_array_len(3 if with_match_len else 2)
        c.reply.add_array_len(2)
        c.reply.add_int(a_start)
        c.reply.add_int(a_end)
        c.reply.add_array_len(2)
        c.reply.add_int(b_start)
        c.reply.add_int(b_end)
        if with_match_len:
            c.reply.add_int(a_end - a_start + 1)
    c.reply.add_bulk(b"len")
    c.reply.add_int(table.length())


class LcsTable:
    """The LCS dynamic-programming table of Redis's lcsCommand, stored one bit per cell.

    Row i (the prefix a[:i]) is a big integer V_i in the bit-parallel form of Allison-Dix/Hyyro: bit j-1 of
    V_i is 0 exactly when LCS(a[:i], b[:j]) = LCS(a[:i], b[:j-1]) + 1, so LCS(i, j) = j - popcount(V_i's low j
    bits). Each row costs a few big-integer operations (C loops over machine words), not a Python loop over b.
    """

    def __init__(self, a, b):
        self.a, self.b = a, b
        width = len(b)
        full = (1 << width) - 1
        masks = {}
        for ch in set(a):
            # bit j set where b[j] == ch, built through base-2 parsing of a translated copy of b
            bits = b.translate(MATCH_TABLES[ch])[::-1]
            masks[ch] = int(bits, 2) if bits else 0
        v = full
        rows = [v]
        for ch in a:
            u = v & masks[ch]
            v = ((v + u) | (v - u)) & full
            rows.append(v)
        self.rows = rows

    def cell(self, i, j):
        return j - (self.rows[i] & ((1 << j) - 1)).bit_count()

    def length(self):
        return self.cell(len(self.a), len(self.b))

    def walk(self, min_match_len):
        """Redis's backtrack from the bottom-right corner: (common subsequence, match ranges) where a range is
        (a_start, a_end, b_start, b_end), emitted from the end of the strings towards the start."""
        a, b = self.a, self.b
        alen = len(a)
        i, j = alen, len(b)
        idx = self.cell(i, j)
        common = bytearray(idx)
        matches = []
        a_start = alen                  # alen: no range in progress
        a_end = b_start = b_end = 0
        while i > 0 and j > 0:
            emit = False
            if a[i - 1] == b[j - 1]:
                common[idx - 1] = a[i - 1]
                if a_start == alen:
                    a_start = a_end = i - 1
                    b_start = b_end = j - 1
                elif a_start == i and b_start == j:
                    a_start -= 1        # the range extends backwards
                    b_start -= 1
                else:
                    emit = True
                if a_start == 0 or b_start == 0:
                    emit = True
                idx -= 1
                i -= 1
                j -= 1
            else:
                if self.cell(i - 1, j) > self.cell(i, j - 1):
                    i -= 1
                else:
                    j -= 1
                if a_start != alen:
                    emit = True
            if emit:
                if min_match_len == 0 or a_end - a_start + 1 >= min_match_len:
                    matches.append((a_start, a_end, b_start, b_end))
                a_start = alen
        return bytes(common), matches


# per byte value: a translate table mapping that byte to b"1" and every other byte to b"0"
MATCH_TABLES = [bytes(0x31 if x == ch else 0x30 for x in range(256)) for ch in range(256)]
