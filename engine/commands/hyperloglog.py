"""HyperLogLog commands (redis 7.0 hyperloglog.c) on plain string values; the register work is in the
Cython core engine/types/hll.pyx, this layer does lookups, type checks, replies and effects."""
from engine.core import WRONGTYPE
from engine.registry import command
from engine.notify import notify
from engine.types import hll
from engine.types.hll import HLLWrongType, HLLCorrupted

HLL_HDR_SIZE = 16
HLL_REGISTERS = 16384


def sparse_max_bytes(c):
    return c.server.config["hll-sparse-max-bytes"] if c.server is not None else hll.DEFAULT_SPARSE_MAX_BYTES


def store_string(c, key, e, value):
    """Write an HLL back into its key (keeping the TTL); HLL strings are raw-encoded in Redis."""
    if e is None:
        e = c.db.add(key, value)
    else:
        e.value = value
        e.cas = 0
    e.raw = 1


def hll_error(c, exc):
    c.error(str(exc).encode())


@command(
    "pfadd", -2, "write denyoom fast", acl="hyperloglog", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Adds the specified elements to the specified HyperLogLog.",
        "since": "2.8.9",
        "group": "hyperloglog",
        "complexity": "O(1) to add every element.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "element", "type": "string", "flags": ["optional", "multiple"]},
        ],
    },
)
def pfadd_command(c, argv):
    key = argv[1]
    e = c.db.lookup_write(key)
    if e is not None and type(e.value) is not bytes:
        c.error(WRONGTYPE)
        return
    try:
        value, changed = hll.pfadd(None if e is None else e.value, argv[2:], sparse_max_bytes(c))
    except (HLLWrongType, HLLCorrupted) as exc:
        hll_error(c, exc)
        return
    if changed:
        store_string(c, key, e, value)
        notify(c, "$", b"pfadd", key)
        c.dirty += 1
    c.reply.add_int(1 if changed else 0)


def values_for_count(c, keys, write):
    """The values of keys for PFCOUNT/PFMERGE in order; None after replying an error. A key of another type
    answers WRONGTYPE once every key before it validated, as Redis checks them one by one."""
    values = []
    for key in keys:
        e = c.db.lookup_write(key) if write else c.db.lookup_read(key)
        if e is not None and type(e.value) is not bytes:
            try:
                hll.pfcount(values + [None, None])      # report an earlier invalid value first
            except (HLLWrongType, HLLCorrupted) as exc:
                hll_error(c, exc)
                return None
            c.error(WRONGTYPE)
            return None
        values.append(None if e is None else e.value)
    return values


@command(
    "pfcount", -2, "readonly may_replicate", acl="hyperloglog", keys=(1, -1, 1),
    key_specs=[
        {
            "notes": (
                "RW because it may change the internal representation of the key, and propagate to replicas"
            ),
            "flags": ["RW", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
        "since": "2.8.9",
        "group": "hyperloglog",
        "complexity": (
            "O(1) with a very small average constant time when called with a single key. O(N) with N being "
            "the number of keys, and much bigger constant times, when called with multiple keys."
        ),
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]}],
    },
)
def pfcount_command(c, argv):
    if len(argv) > 2:
        values = values_for_count(c, argv[1:], False)
        if values is None:
            return
        try:
            card, _ = hll.pfcount(values)
        except (HLLWrongType, HLLCorrupted) as exc:
            hll_error(c, exc)
            return
        c.reply.add_int(card)
        return
    key = argv[1]
    e = c.db.lookup_read(key)        # redis 7.0: a read lookup (hits/misses, keymiss) even though it may rewrite the cache
    if e is None:
        c.reply.add_int(0)
        return
    if type(e.value) is not bytes:
        c.error(WRONGTYPE)
        return
    try:
        card, updated = hll.pfcount([e.value])
    except (HLLWrongType, HLLCorrupted) as exc:
        hll_error(c, exc)
        return
    if updated is not None:
        # the refreshed cardinality cache is a write: Redis propagates this PFCOUNT
        store_string(c, key, e, updated)
        c.dirty += 1
    c.reply.add_int(card)


@command(
    "pfmerge", -2, "write denyoom", acl="hyperloglog", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "insert"],
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
        "summary": "Merge N different HyperLogLogs into a single one.",
        "since": "2.8.9",
        "group": "hyperloglog",
        "complexity": "O(N) to merge N HyperLogLogs, but with high constant times.",
        "arguments": [
            {"name": "destkey", "type": "key", "key_spec_index": 0},
            {"name": "sourcekey", "type": "key", "key_spec_index": 1, "flags": ["multiple"]},
        ],
    },
)
def pfmerge_command(c, argv):
    values = values_for_count(c, argv[1:], False)
    if values is None:
        return
    try:
        merged = hll.pfmerge(values, sparse_max_bytes(c))
    except (HLLWrongType, HLLCorrupted) as exc:
        hll_error(c, exc)
        return
    key = argv[1]
    store_string(c, key, c.db.lookup_write(key), merged)
    notify(c, "$", b"pfadd", key)
    c.dirty += 1
    c.reply.add_ok()


# ---------------------------------------------------------------------------------------------------------------
# PFDEBUG / PFSELFTEST
# ---------------------------------------------------------------------------------------------------------------
def to_dense(value):
    """hllSparseToDense: same header (cached cardinality included), dense encoding, packed 6-bit registers."""
    regs = hll.registers(value)
    out = bytearray(value[:HLL_HDR_SIZE])
    out[4] = 0
    packed = bytearray(HLL_REGISTERS * 6 // 8)
    for i in range(0, HLL_REGISTERS, 4):
        word = regs[i] | regs[i + 1] << 6 | regs[i + 2] << 12 | regs[i + 3] << 18
        o = i * 6 // 8
        packed[o] = word & 0xff
        packed[o + 1] = (word >> 8) & 0xff
        packed[o + 2] = word >> 16
    return bytes(out + packed)


def decode_sparse(value):
    """PFDEBUG DECODE: the sparse opcodes as Redis prints them."""
    parts = []
    data = value[HLL_HDR_SIZE:]
    i = 0
    while i < len(data):
        op = data[i]
        if op & 0xc0 == 0:
            parts.append(b"z:%d" % ((op & 0x3f) + 1))
            i += 1
        elif op & 0xc0 == 0x40:
            parts.append(b"Z:%d" % ((((op & 0x3f) << 8) | data[i + 1]) + 1))
            i += 2
        else:
            parts.append(b"v:%d,%d" % (((op >> 2) & 0x1f) + 1, (op & 0x3) + 1))
            i += 1
    return b" ".join(parts)


@command(
    "pfdebug", 3, "write denyoom admin", acl="hyperloglog", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Internal commands for debugging HyperLogLog values",
        "since": "2.8.9",
        "group": "hyperloglog",
        "complexity": "N/A",
        "doc_flags": ["syscmd"],
        "arguments": [
            {"name": "subcommand", "type": "string"},
            {"name": "key", "type": "key", "key_spec_index": 0},
        ],
    },
)
def pfdebug_command(c, argv):
    sub = argv[1].lower()
    key = argv[2]
    e = c.db.lookup_write(key)
    if e is None:
        c.error(b"ERR The specified key does not exist")
        return
    if type(e.value) is not bytes:
        c.error(WRONGTYPE)
        return
    if not hll.is_valid_hll(e.value):
        hll_error(c, HLLWrongType())
        return
    value = e.value
    sparse = value[4] == 1
    if sub in (b"getreg", b"decode", b"encoding", b"todense") and len(argv) != 3:
        c.error(b"ERR Wrong number of arguments for the '" + argv[1] + b"' subcommand")
        return
    try:
        if sub == b"getreg":
            if sparse:
                store_string(c, key, e, to_dense(value))
                c.dirty += 1
            regs = hll.registers(e.value)
            c.reply.add_array_len(HLL_REGISTERS)
            for r in regs:
                c.reply.add_int(r)
        elif sub == b"decode":
            if not sparse:
                c.error(b"ERR HLL encoding is not sparse")
                return
            c.reply.add_bulk(decode_sparse(value))
        elif sub == b"encoding":
            c.reply.add_simple(b"sparse" if sparse else b"dense")
        elif sub == b"todense":
            if sparse:
                store_string(c, key, e, to_dense(value))
                c.dirty += 1
            c.reply.add_int(1 if sparse else 0)
        else:
            c.error(b"ERR Unknown PFDEBUG subcommand '" + argv[1] + b"'")
    except (HLLWrongType, HLLCorrupted) as exc:
        hll_error(c, exc)


@command(
    "pfselftest", 1, "admin", acl="hyperloglog",
    docs={
        "summary": "An internal command for testing HyperLogLog values",
        "since": "2.8.9",
        "group": "hyperloglog",
        "complexity": "N/A",
        "doc_flags": ["syscmd"],
    },
)
def pfselftest_command(c, argv):
    # A cheap consistency check of the core: sparse and dense forms of the same HLL agree.
    value, _ = hll.pfadd(None, [b"%d" % i for i in range(1000)])
    dense = to_dense(value)
    if hll.registers(value) != hll.registers(dense) or hll.pfcount([value])[0] != hll.pfcount([dense])[0]:
        c.error(b"ERR TESTFAILED sparse and dense representations disagree")
        return
    c.reply.add_ok()
