"""Bitmap commands (redis 7.0 bitops.c) on plain string values: SETBIT GETBIT BITCOUNT BITPOS BITOP
BITFIELD BITFIELD_RO.

Strings are immutable bytes, so a write builds the new value; the bulk work (popcount, bit search,
AND/OR/XOR/NOT) runs in CPython's C big-integer and bytes routines, not in Python loops.
"""
from engine.core import WRONGTYPE, SYNTAX_ERR, NOT_INTEGER
from engine.registry import command
from engine.notify import notify
from protocol.resp import parse_ll

BIT_OFFSET_ERR = b"ERR bit offset is not an integer or out of range"
BIT_VALUE_ERR = b"ERR bit is not an integer or out of range"
BITFIELD_TYPE_ERR = (b"ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported "
                     b"but i64 is.")
U64 = (1 << 64) - 1


def proto_max_bulk_len(c):
    return c.server.config["proto-max-bulk-len"] if c.server is not None else 512 * 1024 * 1024


def parse_bit_offset(c, arg, hash_ok=False, bits=0):
    """getBitOffsetFromArgument: the offset in bits, or None after replying."""
    usehash = hash_ok and bits > 0 and arg[:1] == b"#"
    value = parse_ll(arg[1:] if usehash else arg)
    if value is None:
        c.error(BIT_OFFSET_ERR)
        return None
    if usehash:
        value *= bits
    if value < 0 or (not c.is_master and (value >> 3) >= proto_max_bulk_len(c)):
        c.error(BIT_OFFSET_ERR)
        return None
    return value


def string_for_read(c, key):
    """(ok, bytes or None)."""
    e = c.db.lookup_read(key)
    if e is None:
        return True, None
    if type(e.value) is not bytes:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def store_bits(c, key, e, value):
    """Write a modified string back (keeping its TTL); bit writes leave a raw-encoded string."""
    if e is None:
        e = c.db.add(key, value)
    else:
        e.value = value
        e.cas = 0
    e.raw = 1


def popcount(data):
    return int.from_bytes(data, "big").bit_count() if data else 0


def first_bit(data, bit):
    """redisBitpos: index of the first bit equal to `bit`; for 0 past a run of 0xff bytes, the bit after the
    end; for 1 when none is set, -1."""
    skip = b"\x00" if bit else b"\xff"
    rest = data.lstrip(skip)
    if not rest:
        return -1 if bit else len(data) * 8
    index = len(data) - len(rest)
    byte = rest[0] if bit else rest[0] ^ 0xff
    return index * 8 + 8 - byte.bit_length()


# ---------------------------------------------------------------------------------------------------------------
# SETBIT / GETBIT
# ---------------------------------------------------------------------------------------------------------------
@command(
    "setbit", 4, "write denyoom", acl="bitmap", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Sets or clears the bit at offset in the string value stored at key",
        "since": "2.2.0",
        "group": "bitmap",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "offset", "type": "integer"},
            {"name": "value", "type": "integer"},
        ],
    },
)
def setbit_command(c, argv):
    offset = parse_bit_offset(c, argv[2])
    if offset is None:
        return
    on = parse_ll(argv[3])
    if on is None or on & ~1:
        c.error(BIT_VALUE_ERR)
        return
    key = argv[1]
    e = c.db.lookup_write(key)
    if e is not None and type(e.value) is not bytes:
        c.error(WRONGTYPE)
        return
    byte = offset >> 3
    old = b"" if e is None else e.value
    grown = e is None or len(old) < byte + 1
    buf = bytearray(old)
    if len(buf) < byte + 1:
        buf.extend(bytes(byte + 1 - len(buf)))
    mask = 1 << (7 - (offset & 7))
    bitval = 1 if buf[byte] & mask else 0
    if grown or bitval != on:
        if on:
            buf[byte] |= mask
        else:
            buf[byte] &= ~mask & 0xff
        store_bits(c, key, e, bytes(buf))
        notify(c, "$", b"setbit", key)
        c.dirty += 1
    c.reply.add_int(bitval)


@command(
    "getbit", 3, "readonly fast", acl="bitmap", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Returns the bit value at offset in the string value stored at key",
        "since": "2.2.0",
        "group": "bitmap",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "offset", "type": "integer"},
        ],
    },
)
def getbit_command(c, argv):
    offset = parse_bit_offset(c, argv[2])
    if offset is None:
        return
    ok, value = string_for_read(c, argv[1])
    if not ok:
        return
    byte = offset >> 3
    if value is None or byte >= len(value):
        c.reply.add_int(0)
        return
    c.reply.add_int(1 if value[byte] & (1 << (7 - (offset & 7))) else 0)


# ---------------------------------------------------------------------------------------------------------------
# BITCOUNT / BITPOS
# ---------------------------------------------------------------------------------------------------------------
def parse_unit(c, arg):
    """BYTE / BIT: True for BIT, None after a syntax error."""
    unit = arg.lower()
    if unit == b"bit":
        return True
    if unit == b"byte":
        return False
    c.error(SYNTAX_ERR)
    return None


def clamp_range(start, end, totlen):
    if start < 0:
        start += totlen
    if end < 0:
        end += totlen
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= totlen:
        end = totlen - 1
    return start, end


@command(
    "bitcount", -2, "readonly", acl="bitmap", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Count set bits in a string",
        "since": "2.6.0",
        "group": "bitmap",
        "complexity": "O(N)",
        "history": [["7.0.0", "Added the `BYTE|BIT` option."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "index",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "start", "type": "integer"},
                    {"name": "end", "type": "integer"},
                    {
                        "name": "index_unit",
                        "type": "oneof",
                        "since": "7.0.0",
                        "flags": ["optional"],
                        "arguments": [
                            {"name": "byte", "type": "pure-token", "token": "BYTE"},
                            {"name": "bit", "type": "pure-token", "token": "BIT"},
                        ],
                    },
                ],
            },
        ],
    },
)
def bitcount_command(c, argv):
    ok, value = string_for_read(c, argv[1])
    if not ok:
        return
    if value is None:
        c.reply.add_int(0)
        return
    argc = len(argv)
    isbit = False
    if argc in (4, 5):
        start = parse_ll(argv[2])
        if start is None:
            c.error(NOT_INTEGER)
            return
        end = parse_ll(argv[3])
        if end is None:
            c.error(NOT_INTEGER)
            return
        if start < 0 and end < 0 and start > end:
            c.reply.add_int(0)
            return
        if argc == 5:
            isbit = parse_unit(c, argv[4])
            if isbit is None:
                return
        start, end = clamp_range(start, end, len(value) * 8 if isbit else len(value))
    elif argc == 2:
        start, end = 0, len(value) - 1
    else:
        c.error(SYNTAX_ERR)
        return
    if start > end:
        c.reply.add_int(0)
        return
    if isbit:
        # count whole bytes, then drop the bits of the edge bytes outside the range
        first_mask = ~((1 << (8 - (start & 7))) - 1) & 0xff
        last_mask = (1 << (7 - (end & 7))) - 1
        start >>= 3
        end >>= 3
        count = popcount(value[start:end + 1])
        count -= bin(value[start] & first_mask).count("1") + bin(value[end] & last_mask).count("1")
    else:
        count = popcount(value[start:end + 1])
    c.reply.add_int(count)


@command(
    "bitpos", -3, "readonly", acl="bitmap", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Find first bit set or clear in a string",
        "since": "2.8.7",
        "group": "bitmap",
        "complexity": "O(N)",
        "history": [["7.0.0", "Added the `BYTE|BIT` option."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "bit", "type": "integer"},
            {
                "name": "index",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "start", "type": "integer"},
                    {
                        "name": "end_index",
                        "type": "block",
                        "flags": ["optional"],
                        "arguments": [
                            {"name": "end", "type": "integer"},
                            {
                                "name": "index_unit",
                                "type": "oneof",
                                "since": "7.0.0",
                                "flags": ["optional"],
                                "arguments": [
                                    {"name": "byte", "type": "pure-token", "token": "BYTE"},
                                    {"name": "bit", "type": "pure-token", "token": "BIT"},
                                ],
                            },
                        ],
                    },
                ],
            },
        ],
    },
)
def bitpos_command(c, argv):
    bit = parse_ll(argv[2])
    if bit is None:
        c.error(NOT_INTEGER)
        return
    if bit not in (0, 1):
        c.error(b"ERR The bit argument must be 1 or 0.")
        return
    ok, value = string_for_read(c, argv[1])
    if not ok:
        return
    if value is None:
        c.reply.add_int(-1 if bit else 0)
        return
    argc = len(argv)
    isbit = end_given = False
    first_mask = last_mask = 0
    if argc in (4, 5, 6):
        totlen = len(value)
        start = parse_ll(argv[3])
        if start is None:
            c.error(NOT_INTEGER)
            return
        if argc == 6:
            isbit = parse_unit(c, argv[5])
            if isbit is None:
                return
        if argc >= 5:
            end = parse_ll(argv[4])
            if end is None:
                c.error(NOT_INTEGER)
                return
            end_given = True
        else:
            end = (totlen << 3) + 7 if isbit else totlen - 1
        start, end = clamp_range(start, end, totlen << 3 if isbit else totlen)
        if isbit and start <= end:
            first_mask = ~((1 << (8 - (start & 7))) - 1) & 0xff
            last_mask = (1 << (7 - (end & 7))) - 1
            start >>= 3
            end >>= 3
    elif argc == 3:
        start, end = 0, len(value) - 1
    else:
        c.error(SYNTAX_ERR)
        return
    if start > end:
        c.reply.add_int(-1)
        return
    nbytes = end - start + 1
    pos = bitpos_in_range(value, bit, start, nbytes, end, first_mask, last_mask)
    start, nbytes, pos = pos
    if end_given and bit == 0 and pos == nbytes << 3:
        c.reply.add_int(-1)
        return
    if pos != -1:
        pos += start << 3
    c.reply.add_int(pos)


def bitpos_in_range(p, bit, start, nbytes, end, first_mask, last_mask):
    """The search of bitposCommand over bytes [start, end] with the BIT-unit edge masks; returns the final
    (start, bytes, pos) triple the reply is computed from."""
    if first_mask:
        tmp = p[start] & ~first_mask & 0xff if bit else p[start] | first_mask
        if last_mask and nbytes == 1:
            tmp = tmp & ~last_mask & 0xff if bit else tmp | last_mask
        pos = first_bit(bytes([tmp]), bit)
        if nbytes == 1 or (pos != -1 and pos != 8):
            return start, nbytes, pos
        start += 1
        nbytes -= 1
    curbytes = nbytes - (1 if last_mask else 0)
    if curbytes > 0:
        pos = first_bit(p[start:start + curbytes], bit)
        if nbytes == curbytes or (pos != -1 and pos != curbytes << 3):
            return start, nbytes, pos
        start += curbytes
        nbytes -= curbytes
    tmp = p[end] & ~last_mask & 0xff if bit else p[end] | last_mask
    return start, nbytes, first_bit(bytes([tmp]), bit)


# ---------------------------------------------------------------------------------------------------------------
# BITOP
# ---------------------------------------------------------------------------------------------------------------
@command(
    "bitop", -4, "write denyoom", acl="bitmap", keys=(2, -1, 1),
    key_specs=[
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 3}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Perform bitwise operations between strings",
        "since": "2.6.0",
        "group": "bitmap",
        "complexity": "O(N)",
        "arguments": [
            {"name": "operation", "type": "string"},
            {"name": "destkey", "type": "key", "key_spec_index": 0},
            {"name": "key", "type": "key", "key_spec_index": 1, "flags": ["multiple"]},
        ],
    },
)
def bitop_command(c, argv):
    op = argv[1].lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        c.error(SYNTAX_ERR)
        return
    if op == b"not" and len(argv) != 4:
        c.error(b"ERR BITOP NOT must be called with a single source key.")
        return
    sources = []
    for key in argv[3:]:
        e = c.db.lookup_read(key)
        if e is None:
            sources.append(b"")
            continue
        if type(e.value) is not bytes:
            c.error(WRONGTYPE)
            return
        sources.append(e.value)
    maxlen = max(len(s) for s in sources)
    target = argv[2]
    if maxlen:
        # big-endian integers padded on the right to maxlen bytes: shorter strings count as zero bytes
        ints = [int.from_bytes(s, "big") << (8 * (maxlen - len(s))) for s in sources]
        if op == b"not":
            result = ints[0] ^ ((1 << (8 * maxlen)) - 1)
        else:
            result = ints[0]
            for n in ints[1:]:
                if op == b"and":
                    result &= n
                elif op == b"or":
                    result |= n
                else:
                    result ^= n
        c.db.set_value(target, result.to_bytes(maxlen, "big"))
        c.db.find(target).raw = 1
        notify(c, "$", b"set", target)
        c.dirty += 1
    elif c.db.lookup_write(target) is not None:
        c.db.delete(target)
        notify(c, "g", b"del", target)
        c.dirty += 1
    c.reply.add_int(maxlen)


# ---------------------------------------------------------------------------------------------------------------
# BITFIELD
# ---------------------------------------------------------------------------------------------------------------
WRAP, SAT, FAIL = 0, 1, 2


def parse_bitfield_type(c, arg):
    """(signed, bits) or None after replying."""
    sign = arg[:1]
    bits = parse_ll(arg[1:])
    if sign not in (b"i", b"u") or bits is None or bits < 1 or (sign == b"i" and bits > 64) or \
            (sign == b"u" and bits > 63):
        c.error(BITFIELD_TYPE_ERR)
        return None
    return sign == b"i", bits


def get_field(data, offset, bits, signed):
    """The field at a bit offset (bits numbered from the most significant bit of byte 0)."""
    first = offset >> 3
    shift_in = offset & 7
    nbytes = (shift_in + bits + 7) >> 3
    chunk = data[first:first + nbytes]
    n = int.from_bytes(chunk + bytes(nbytes - len(chunk)), "big")
    value = (n >> (nbytes * 8 - shift_in - bits)) & ((1 << bits) - 1)
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def set_field(buf, offset, bits, value):
    first = offset >> 3
    shift_in = offset & 7
    nbytes = (shift_in + bits + 7) >> 3
    n = int.from_bytes(buf[first:first + nbytes], "big")
    shift = nbytes * 8 - shift_in - bits
    mask = ((1 << bits) - 1) << shift
    n = (n & ~mask) | ((value & ((1 << bits) - 1)) << shift)
    buf[first:first + nbytes] = n.to_bytes(nbytes, "big")


def to_int64(v):
    v &= U64
    return v - (1 << 64) if v >> 63 else v


def unsigned_overflow(value, incr, bits, owtype):
    """checkUnsignedBitfieldOverflow: (overflow, limit) with value a uint64 and incr an int64."""
    maxv = (1 << bits) - 1
    if value > maxv or (incr > 0 and incr > maxv - value):
        if owtype == WRAP:
            return 1, (value + incr) & maxv
        return 1, maxv
    if incr < 0 and incr < -value:
        if owtype == WRAP:
            return 1, (value + incr) & maxv
        return -1, 0
    return 0, None


def signed_overflow(value, incr, bits, owtype):
    """checkSignedBitfieldOverflow (exact arithmetic gives the results of Redis's guarded C)."""
    maxv = (1 << (bits - 1)) - 1
    minv = -maxv - 1
    over = under = False
    if value > maxv or (bits != 64 and incr > maxv - value) or (value >= 0 and incr > 0 and incr > maxv - value):
        over = True
    elif value < minv or (bits != 64 and incr < minv - value) or (value < 0 and incr < 0 and incr < minv - value):
        under = True
    else:
        return 0, None
    if owtype == WRAP:
        res = (value + incr) & U64
        if bits < 64:
            mask = (U64 << bits) & U64
            res = res | mask if res & (1 << (bits - 1)) else res & ~mask & U64
        return 1, to_int64(res)
    if over:
        return 1, maxv
    return -1, minv


def bitfield_generic(c, argv, readonly_cmd):
    ops = []
    owtype = WRAP
    readonly = True
    highest = 0
    j = 2
    argc = len(argv)
    while j < argc:
        remargs = argc - j - 1
        sub = argv[j].lower()
        if sub == b"get" and remargs >= 2:
            opcode = b"get"
        elif sub == b"set" and remargs >= 3:
            opcode = b"set"
        elif sub == b"incrby" and remargs >= 3:
            opcode = b"incrby"
        elif sub == b"overflow" and remargs >= 1:
            name = argv[j + 1].lower()
            if name == b"wrap":
                owtype = WRAP
            elif name == b"sat":
                owtype = SAT
            elif name == b"fail":
                owtype = FAIL
            else:
                c.error(b"ERR Invalid OVERFLOW type specified")
                return
            j += 2
            continue
        else:
            c.error(SYNTAX_ERR)
            return
        ftype = parse_bitfield_type(c, argv[j + 1])
        if ftype is None:
            return
        signed, bits = ftype
        offset = parse_bit_offset(c, argv[j + 2], True, bits)
        if offset is None:
            return
        arg = 0
        if opcode != b"get":
            readonly = False
            highest = max(highest, offset + bits - 1)
            arg = parse_ll(argv[j + 3])
            if arg is None:
                c.error(NOT_INTEGER)
                return
        ops.append((opcode, offset, bits, signed, arg, owtype))
        j += 3 if opcode == b"get" else 4
    key = argv[1]
    if readonly:
        ok, value = string_for_read(c, key)
        if not ok:
            return
        buf = value or b""
        e = None
    else:
        if readonly_cmd:
            c.error(b"ERR BITFIELD_RO only supports the GET subcommand")
            return
        e = c.db.lookup_write(key)
        if e is not None and type(e.value) is not bytes:
            c.error(WRONGTYPE)
            return
        buf = bytearray(b"" if e is None else e.value)
        need = (highest >> 3) + 1
        grown = e is None or len(buf) < need     # redis lookupStringForBitCommand's "dirty"
        if len(buf) < need:
            buf.extend(bytes(need - len(buf)))
    r = c.reply
    r.add_array_len(len(ops))
    changes = 0
    for opcode, offset, bits, signed, arg, ow in ops:
        if opcode == b"get":
            r.add_int(get_field(buf, offset, bits, signed))
            continue
        old = get_field(buf, offset, bits, signed)
        if signed:
            if opcode == b"incrby":
                overflow, wrapped = signed_overflow(old, arg, bits, ow)
                newval = wrapped if overflow else old + arg
                retval = newval
            else:
                overflow, wrapped = signed_overflow(arg, 0, bits, ow)
                newval = wrapped if overflow else arg
                retval = old
        else:
            if opcode == b"incrby":
                overflow, wrapped = unsigned_overflow(old, arg, bits, ow)
                newval = wrapped if overflow else old + arg
                retval = newval
            else:
                overflow, wrapped = unsigned_overflow(arg & U64, 0, bits, ow)
                newval = wrapped if overflow else arg
                retval = old
        if overflow and ow == FAIL:
            r.add_null()
        else:
            r.add_int(to_int64(retval))
            set_field(buf, offset, bits, newval)
            if grown or old != newval:
                changes += 1        # redis 7.0: a write that changes nothing is no change (no event, no effect)
    if not readonly:
        # Redis has already grown the string before running the operations
        store_bits(c, key, e, bytes(buf))
        if changes:
            notify(c, "$", b"setbit", key)
            c.dirty += changes


def bitfield_getkeys(argv):
    """redis bitfieldGetKeys: read-only access when every operation is a GET."""
    readonly = True
    i, argc = 2, len(argv)
    while i < argc:
        rem = argc - i - 1
        arg = argv[i].lower()
        if arg == b"get" and rem >= 2:
            i += 2
        elif arg in (b"set", b"incrby") and rem >= 3:
            readonly = False
            break
        elif arg == b"overflow" and rem >= 1:
            i += 1
        else:
            readonly = False
            break
        i += 1
    return [(1, ("RO", "access") if readonly else ("RW", "access", "update"))]


@command(
    "bitfield", -2, "write denyoom", acl="bitmap", keys=(1, 1, 1), getkeys=bitfield_getkeys,
    key_specs=[
        {
            "notes": "This command allows both access and modification of the key",
            "flags": ["RW", "access", "update", "variable_flags"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Perform arbitrary bitfield integer operations on strings",
        "since": "3.2.0",
        "group": "bitmap",
        "complexity": "O(1) for each subcommand specified",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "operation",
                "type": "oneof",
                "flags": ["optional", "multiple"],
                "arguments": [
                    {
                        "name": "encoding_offset",
                        "type": "block",
                        "token": "GET",
                        "arguments": [
                            {"name": "encoding", "type": "string"},
                            {"name": "offset", "type": "integer"},
                        ],
                    },
                    {
                        "name": "write",
                        "type": "block",
                        "arguments": [
                            {
                                "name": "wrap_sat_fail",
                                "type": "oneof",
                                "token": "OVERFLOW",
                                "flags": ["optional"],
                                "arguments": [
                                    {"name": "wrap", "type": "pure-token", "token": "WRAP"},
                                    {"name": "sat", "type": "pure-token", "token": "SAT"},
                                    {"name": "fail", "type": "pure-token", "token": "FAIL"},
                                ],
                            },
                            {
                                "name": "write_operation",
                                "type": "oneof",
                                "arguments": [
                                    {
                                        "name": "encoding_offset_value",
                                        "type": "block",
                                        "token": "SET",
                                        "arguments": [
                                            {"name": "encoding", "type": "string"},
                                            {"name": "offset", "type": "integer"},
                                            {"name": "value", "type": "integer"},
                                        ],
                                    },
                                    {
                                        "name": "encoding_offset_increment",
                                        "type": "block",
                                        "token": "INCRBY",
                                        "arguments": [
                                            {"name": "encoding", "type": "string"},
                                            {"name": "offset", "type": "integer"},
                                            {"name": "increment", "type": "integer"},
                                        ],
                                    },
                                ],
                            },
                        ],
                    },
                ],
            },
        ],
    },
)
def bitfield_command(c, argv):
    bitfield_generic(c, argv, False)


@command(
    "bitfield_ro", -2, "readonly fast", acl="bitmap", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        "since": "6.0.0",
        "group": "bitmap",
        "complexity": "O(1) for each subcommand specified",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "encoding_offset",
                "type": "block",
                "token": "GET",
                "flags": ["optional", "multiple", "multiple_token"],
                "arguments": [{"name": "encoding", "type": "string"}, {"name": "offset", "type": "integer"}],
            },
        ],
    },
)
def bitfield_ro_command(c, argv):
    bitfield_generic(c, argv, True)
