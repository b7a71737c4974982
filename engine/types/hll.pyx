# cython: language_level=3
"""HyperLogLog on raw string values, byte-exact with Redis 7.0 (hyperloglog.c).

Values are the bytes Redis stores in the string key: a 16-byte header
("HYLL", encoding, 3 unused bytes, 8-byte little-endian cached cardinality whose top bit means
"stale") followed by either the sparse run-length opcodes or 16384 packed 6-bit registers.

Public functions mirror the commands and return new bytes instead of mutating:
``pfadd``, ``pfcount``, ``pfmerge``, ``is_valid_hll``.  Errors are raised as ``HLLWrongType`` /
``HLLCorrupted`` whose ``str()`` is the exact Redis error line (without the leading '-').
"""
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memmove, memset
from libc.math cimport sqrt, pow, INFINITY

cdef extern from "math.h":
    long long llroundl(long double x)

cdef enum:
    HLL_P = 14
    HLL_Q = 64 - HLL_P
    HLL_REGISTERS = 1 << HLL_P
    HLL_P_MASK = HLL_REGISTERS - 1
    HLL_BITS = 6
    HLL_REGISTER_MAX = (1 << HLL_BITS) - 1
    HLL_HDR_SIZE = 16
    HLL_DENSE_SIZE = 12304        # HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) / 8
    HLL_DENSE = 0
    HLL_SPARSE = 1
    HLL_MAX_ENCODING = 1
    SPARSE_VAL_MAX_VALUE = 32
    SPARSE_VAL_MAX_LEN = 4
    SPARSE_ZERO_MAX_LEN = 64
    SPARSE_XZERO_MAX_LEN = 16384
    CARD_OFFSET = 8               # offset of the cached cardinality inside the header

cdef double HLL_ALPHA_INF = 0.721347520444481703680    # 0.5/ln(2)
cdef uint64_t HASH_SEED = 0xadc83b19ULL

DEFAULT_SPARSE_MAX_BYTES = 3000                         # hll-sparse-max-bytes


class HLLWrongType(ValueError):
    def __init__(self):
        super().__init__("WRONGTYPE Key is not a valid HyperLogLog string value.")


class HLLCorrupted(ValueError):
    def __init__(self):
        super().__init__("INVALIDOBJ Corrupted HLL object detected")


# A growable working copy of one value; one spare zero byte past 'length' stands for the sds
# terminator that the dense register macros read past the last register.
cdef struct Buf:
    uint8_t *data
    size_t length
    size_t capacity


cdef int buf_from_bytes(Buf *b, bytes value, size_t min_capacity) except -1:
    cdef size_t n = len(value)
    b.capacity = (n if n > min_capacity else min_capacity) + 8
    b.data = <uint8_t*>malloc(b.capacity)
    if b.data == NULL:
        raise MemoryError()
    memset(b.data, 0, b.capacity)
    memcpy(b.data, <const char*>value, n)
    b.length = n
    return 0


cdef inline bytes buf_to_bytes(Buf *b):
    return (<char*>b.data)[:b.length]


# ---------------------------------------------------------------- hashing

cdef uint64_t murmurhash64a(const uint8_t *data, int length, uint64_t seed):
    """MurmurHash64A as modified for Redis (little-endian reads)."""
    cdef uint64_t m = 0xc6a4a7935bd1e995ULL
    cdef int r = 47
    cdef uint64_t h = seed ^ (<uint64_t>length * m)
    cdef const uint8_t *end = data + (length - (length & 7))
    cdef uint64_t k
    cdef int i
    while data != end:
        k = 0
        for i in range(8):
            k |= (<uint64_t>data[i]) << (8 * i)
        k *= m
        k ^= k >> r
        k *= m
        h ^= k
        h *= m
        data += 8
    i = length & 7
    if i:
        while i > 0:
            i -= 1
            h ^= (<uint64_t>data[i]) << (8 * i)
        h *= m
    h ^= h >> r
    h *= m
    h ^= h >> r
    return h


cdef int pattern_length(const uint8_t *ele, size_t size, long *regp):
    """hllPatLen(): register index from the low 14 bits, run length of the rest."""
    cdef uint64_t hash = murmurhash64a(ele, <int>size, HASH_SEED)
    cdef uint64_t bit = 1
    cdef int count = 1
    regp[0] = <long>(hash & HLL_P_MASK)
    hash >>= HLL_P
    hash |= (<uint64_t>1) << HLL_Q
    while (hash & bit) == 0:
        count += 1
        bit <<= 1
    return count


def hash_element(bytes element):
    """(register index, run length) for an element; exposed for tests."""
    cdef long index
    cdef int count = pattern_length(<const uint8_t*><const char*>element, len(element), &index)
    return index, count


# ---------------------------------------------------------------- dense registers

cdef inline uint8_t dense_get(const uint8_t *regs, long regnum):
    cdef unsigned long byte = regnum * HLL_BITS // 8
    cdef unsigned long fb = regnum * HLL_BITS & 7
    cdef unsigned long fb8 = 8 - fb
    cdef unsigned long b0 = regs[byte]
    cdef unsigned long b1 = regs[byte + 1]
    return ((b0 >> fb) | (b1 << fb8)) & HLL_REGISTER_MAX


cdef inline void dense_set(uint8_t *regs, long regnum, uint8_t val):
    cdef unsigned long byte = regnum * HLL_BITS // 8
    cdef unsigned long fb = regnum * HLL_BITS & 7
    cdef unsigned long fb8 = 8 - fb
    cdef unsigned long v = val
    regs[byte] &= ~(HLL_REGISTER_MAX << fb)
    regs[byte] |= v << fb
    regs[byte + 1] &= ~(HLL_REGISTER_MAX >> fb8)
    regs[byte + 1] |= v >> fb8


cdef inline int dense_set_if_greater(uint8_t *regs, long index, uint8_t count):
    if count > dense_get(regs, index):
        dense_set(regs, index, count)
        return 1
    return 0


# ---------------------------------------------------------------- sparse opcodes

cdef inline bint sp_is_zero(const uint8_t *p):
    return (p[0] & 0xc0) == 0

cdef inline bint sp_is_xzero(const uint8_t *p):
    return (p[0] & 0xc0) == 0x40

cdef inline bint sp_is_val(const uint8_t *p):
    return (p[0] & 0x80) != 0

cdef inline long sp_zero_len(const uint8_t *p):
    return (p[0] & 0x3f) + 1

cdef inline long sp_xzero_len(const uint8_t *p):
    return (((p[0] & 0x3f) << 8) | p[1]) + 1

cdef inline int sp_val_value(const uint8_t *p):
    return ((p[0] >> 2) & 0x1f) + 1

cdef inline long sp_val_len(const uint8_t *p):
    return (p[0] & 0x3) + 1

cdef inline void sp_val_set(uint8_t *p, int val, long length):
    p[0] = <uint8_t>((((val - 1) << 2) | (length - 1)) | 0x80)

cdef inline void sp_zero_set(uint8_t *p, long length):
    p[0] = <uint8_t>(length - 1)

cdef inline void sp_xzero_set(uint8_t *p, long length):
    cdef long l = length - 1
    p[0] = <uint8_t>((l >> 8) | 0x40)
    p[1] = <uint8_t>(l & 0xff)


cdef int sparse_to_dense(Buf *b) except -1:
    """hllSparseToDense(): returns 0, or -1 when the sparse data is corrupted.
    The header (including the cached cardinality bytes) is kept."""
    cdef uint8_t *dense
    cdef uint8_t *p
    cdef uint8_t *end
    cdef long idx = 0, runlen
    cdef int regval
    if b.data[4] == HLL_DENSE:
        return 0
    dense = <uint8_t*>malloc(HLL_DENSE_SIZE + 8)
    if dense == NULL:
        raise MemoryError()
    memset(dense, 0, HLL_DENSE_SIZE + 8)
    memcpy(dense, b.data, HLL_HDR_SIZE)
    dense[4] = HLL_DENSE
    p = b.data + HLL_HDR_SIZE
    end = b.data + b.length
    while p < end:
        if sp_is_zero(p):
            idx += sp_zero_len(p)
            p += 1
        elif sp_is_xzero(p):
            idx += sp_xzero_len(p)
            p += 2
        else:
            runlen = sp_val_len(p)
            regval = sp_val_value(p)
            if runlen + idx > HLL_REGISTERS:
                break
            while runlen > 0:
                dense_set(dense + HLL_HDR_SIZE, idx, regval)
                idx += 1
                runlen -= 1
            p += 1
    if idx != HLL_REGISTERS:
        free(dense)
        return -1
    free(b.data)
    b.data = dense
    b.length = HLL_DENSE_SIZE
    b.capacity = HLL_DENSE_SIZE + 8
    return 0


cdef int sparse_set(Buf *b, long index, uint8_t count, size_t sparse_max) except -2:
    """hllSparseSet(): 1 if a register changed, 0 if not, -1 if corrupted.
    May promote the buffer to dense (too big a value, or would exceed sparse_max bytes)."""
    cdef uint8_t *sparse
    cdef uint8_t *p
    cdef uint8_t *end
    cdef uint8_t *prev
    cdef uint8_t *nxt
    cdef uint8_t seq[5]
    cdef uint8_t *n
    cdef long first, span, oplen, runlen = 0, last, length
    cdef bint is_zero = False, is_xzero = False, is_val = False
    cdef int oldcount, curval, seqlen, oldlen, deltalen, scanlen, v1, v2
    cdef uint8_t *grown

    if count > SPARSE_VAL_MAX_VALUE:
        return promote_and_set(b, index, count)

    # Keep room for the worst case (XZERO split into XZERO-VAL-XZERO grows by 3 bytes).
    if b.length + 3 + 1 > b.capacity:
        grown = <uint8_t*>malloc(b.length + 3 + 1 + 300)
        if grown == NULL:
            raise MemoryError()
        memset(grown, 0, b.length + 3 + 1 + 300)
        memcpy(grown, b.data, b.length)
        free(b.data)
        b.data = grown
        b.capacity = b.length + 3 + 1 + 300

    # Step 1: find the opcode covering 'index'.
    sparse = p = b.data + HLL_HDR_SIZE
    end = b.data + b.length
    first = 0
    prev = NULL
    span = 0
    while p < end:
        oplen = 1
        if sp_is_zero(p):
            span = sp_zero_len(p)
        elif sp_is_val(p):
            span = sp_val_len(p)
        else:
            span = sp_xzero_len(p)
            oplen = 2
        if index <= first + span - 1:
            break
        prev = p
        p += oplen
        first += span
    if span == 0 or p >= end:
        return -1

    nxt = p + 2 if sp_is_xzero(p) else p + 1
    if nxt >= end:
        nxt = NULL

    if sp_is_zero(p):
        is_zero = True
        runlen = sp_zero_len(p)
    elif sp_is_xzero(p):
        is_xzero = True
        runlen = sp_xzero_len(p)
    else:
        is_val = True
        runlen = sp_val_len(p)

    # Step 2: trivial in-place updates (cases A, B, C of hyperloglog.c).
    if is_val:
        oldcount = sp_val_value(p)
        if oldcount >= count:
            return 0
        if runlen == 1:
            sp_val_set(p, count, 1)
            return merge_adjacent_and_invalidate(b, prev, sparse)
    if is_zero and runlen == 1:
        sp_val_set(p, count, 1)
        return merge_adjacent_and_invalidate(b, prev, sparse)

    # Case D: split the opcode into up to three.
    n = seq
    last = first + span - 1
    if is_zero or is_xzero:
        if index != first:
            length = index - first
            if length > SPARSE_ZERO_MAX_LEN:
                sp_xzero_set(n, length)
                n += 2
            else:
                sp_zero_set(n, length)
                n += 1
        sp_val_set(n, count, 1)
        n += 1
        if index != last:
            length = last - index
            if length > SPARSE_ZERO_MAX_LEN:
                sp_xzero_set(n, length)
                n += 2
            else:
                sp_zero_set(n, length)
                n += 1
    else:
        curval = sp_val_value(p)
        if index != first:
            sp_val_set(n, curval, index - first)
            n += 1
        sp_val_set(n, count, 1)
        n += 1
        if index != last:
            sp_val_set(n, curval, last - index)
            n += 1

    # Step 3: substitute the new sequence, promoting if the result would be too big.
    seqlen = n - seq
    oldlen = 2 if is_xzero else 1
    deltalen = seqlen - oldlen
    if deltalen > 0 and b.length + deltalen > sparse_max:
        return promote_and_set(b, index, count)
    if deltalen != 0 and nxt != NULL:
        memmove(nxt + deltalen, nxt, end - nxt)
    b.length += deltalen
    memcpy(p, seq, seqlen)
    b.data[b.length] = 0
    return merge_adjacent_and_invalidate(b, prev, sparse)


cdef int merge_adjacent_and_invalidate(Buf *b, uint8_t *prev, uint8_t *sparse):
    """Step 4 of hllSparseSet(): merge adjacent VAL opcodes with equal values, scanning up to
    5 opcodes from the previous one; then mark the cached cardinality stale."""
    cdef uint8_t *p = prev if prev != NULL else sparse
    cdef uint8_t *end = b.data + b.length
    cdef int scanlen = 5, v1, v2
    cdef long length
    while p < end:
        if scanlen == 0:
            break
        scanlen -= 1
        if sp_is_xzero(p):
            p += 2
            continue
        elif sp_is_zero(p):
            p += 1
            continue
        if p + 1 < end and sp_is_val(p + 1):
            v1 = sp_val_value(p)
            v2 = sp_val_value(p + 1)
            if v1 == v2:
                length = sp_val_len(p) + sp_val_len(p + 1)
                if length <= SPARSE_VAL_MAX_LEN:
                    sp_val_set(p + 1, v1, length)
                    memmove(p, p + 1, end - p)
                    b.length -= 1
                    end -= 1
                    b.data[b.length] = 0
                    continue
        p += 1
    b.data[HLL_HDR_SIZE - 1] |= 0x80
    return 1


cdef int promote_and_set(Buf *b, long index, uint8_t count) except -2:
    if sparse_to_dense(b) != 0:
        return -1
    dense_set_if_greater(b.data + HLL_HDR_SIZE, index, count)
    return 1


cdef int hll_add(Buf *b, const uint8_t *ele, size_t size, size_t sparse_max) except -2:
    """hllAdd(): 1 if the HLL changed, 0 if not, -1 if corrupted."""
    cdef long index
    cdef uint8_t count = pattern_length(ele, size, &index)
    if b.data[4] == HLL_DENSE:
        return dense_set_if_greater(b.data + HLL_HDR_SIZE, index, count)
    if b.data[4] == HLL_SPARSE:
        return sparse_set(b, index, count, sparse_max)
    return -1


# ---------------------------------------------------------------- counting

cdef double hll_sigma(double x):
    cdef double z_prime, y = 1, z = x
    if x == 1.:
        return INFINITY
    while True:
        x *= x
        z_prime = z
        z += x * y
        y += y
        if z_prime == z:
            break
    return z


cdef double hll_tau(double x):
    cdef double z_prime, y = 1.0, z = 1 - x
    if x == 0. or x == 1.:
        return 0.
    while True:
        x = sqrt(x)
        z_prime = z
        y *= 0.5
        z -= pow(1 - x, 2) * y
        if z_prime == z:
            break
    return z / 3


cdef uint64_t count_from_histogram(int *reghisto):
    """The estimator of hllCount() (Ertl, arXiv:1702.01284) as in Redis 7.0."""
    cdef double m = HLL_REGISTERS
    cdef double z = m * hll_tau((m - reghisto[HLL_Q + 1]) / m)
    cdef int j
    for j in range(HLL_Q, 0, -1):
        z += reghisto[j]
        z *= 0.5
    z += m * hll_sigma(reghisto[0] / m)
    return <uint64_t>llroundl(HLL_ALPHA_INF * m * m / z)


cdef int histogram_of(const uint8_t *data, size_t length, int *reghisto):
    """Register histogram of a validated value; returns -1 when sparse data is corrupted."""
    cdef const uint8_t *p = data + HLL_HDR_SIZE
    cdef const uint8_t *end = data + length
    cdef long idx = 0, runlen
    cdef int j
    if data[4] == HLL_DENSE:
        for j in range(HLL_REGISTERS):
            reghisto[dense_get(p, j)] += 1
        return 0
    while p < end:
        if sp_is_zero(p):
            runlen = sp_zero_len(p)
            idx += runlen
            reghisto[0] += runlen
            p += 1
        elif sp_is_xzero(p):
            runlen = sp_xzero_len(p)
            idx += runlen
            reghisto[0] += runlen
            p += 2
        else:
            runlen = sp_val_len(p)
            idx += runlen
            reghisto[sp_val_value(p)] += runlen
            p += 1
    return 0 if idx == HLL_REGISTERS else -1


cdef int merge_into(uint8_t *maxregs, const uint8_t *data, size_t length):
    """hllMerge(): fold one validated value into a raw register array; -1 if corrupted."""
    cdef const uint8_t *p = data + HLL_HDR_SIZE
    cdef const uint8_t *end = data + length
    cdef long i = 0, runlen
    cdef int regval
    cdef uint8_t val
    if data[4] == HLL_DENSE:
        for i in range(HLL_REGISTERS):
            val = dense_get(p, i)
            if val > maxregs[i]:
                maxregs[i] = val
        return 0
    while p < end:
        if sp_is_zero(p):
            i += sp_zero_len(p)
            p += 1
        elif sp_is_xzero(p):
            i += sp_xzero_len(p)
            p += 2
        else:
            runlen = sp_val_len(p)
            regval = sp_val_value(p)
            if runlen + i > HLL_REGISTERS:
                break
            while runlen > 0:
                if regval > maxregs[i]:
                    maxregs[i] = regval
                i += 1
                runlen -= 1
            p += 1
    return 0 if i == HLL_REGISTERS else -1


# ---------------------------------------------------------------- public API

def is_valid_hll(value):
    """isHLLObjectOrReply(): header magic, known encoding, exact dense size."""
    if not isinstance(value, bytes):
        return False
    cdef bytes v = value
    cdef size_t n = len(v)
    cdef const uint8_t *d = <const uint8_t*><const char*>v
    if n < HLL_HDR_SIZE:
        return False
    if d[0] != b'H' or d[1] != b'Y' or d[2] != b'L' or d[3] != b'L':
        return False
    if d[4] > HLL_MAX_ENCODING:
        return False
    if d[4] == HLL_DENSE and n != HLL_DENSE_SIZE:
        return False
    return True


def new_sparse():
    """createHLLObject(): an empty sparse HLL (XZERO:16384), cached cardinality 0."""
    cdef uint8_t raw[HLL_HDR_SIZE + 2]
    memset(raw, 0, sizeof(raw))
    memcpy(raw, b"HYLL", 4)
    raw[4] = HLL_SPARSE
    sp_xzero_set(raw + HLL_HDR_SIZE, HLL_REGISTERS)
    return (<char*>raw)[:HLL_HDR_SIZE + 2]


def pfadd(value, elements, size_t sparse_max_bytes=DEFAULT_SPARSE_MAX_BYTES):
    """PFADD on the current value (None when the key is missing).
    Returns (new_value, changed).  A missing key always counts as changed, as in Redis."""
    cdef Buf b
    cdef int updated = 0, r
    cdef bytes ele
    if value is None:
        value = new_sparse()
        updated = 1
    elif not is_valid_hll(value):
        raise HLLWrongType()
    buf_from_bytes(&b, value, HLL_DENSE_SIZE)
    try:
        for ele in elements:
            r = hll_add(&b, <const uint8_t*><const char*>ele, len(ele), sparse_max_bytes)
            if r == -1:
                raise HLLCorrupted()
            updated += r
        if not updated:
            return value, False
        b.data[HLL_HDR_SIZE - 1] |= 0x80          # invalidate the cached cardinality
        return buf_to_bytes(&b), True
    finally:
        free(b.data)


cdef uint64_t read_cached(const uint8_t *d):
    cdef uint64_t card = 0
    cdef int i
    for i in range(8):
        card |= (<uint64_t>d[CARD_OFFSET + i]) << (8 * i)
    return card


def pfcount(values):
    """PFCOUNT over the values of its keys (None for a missing key).
    Returns (cardinality, updated_value): with a single key whose cached cardinality is stale,
    updated_value is the value with the fresh cache written back (Redis writes it in place);
    otherwise None."""
    cdef int reghisto[64]
    cdef uint8_t maxregs[HLL_REGISTERS]
    cdef bytes v
    cdef bytearray updated
    cdef uint64_t card
    cdef const uint8_t *d
    cdef int i
    memset(reghisto, 0, sizeof(reghisto))
    if len(values) == 1:
        if values[0] is None:
            return 0, None
        if not is_valid_hll(values[0]):
            raise HLLWrongType()
        v = values[0]
        d = <const uint8_t*><const char*>v
        if (d[HLL_HDR_SIZE - 1] & 0x80) == 0:
            return read_cached(d), None
        if histogram_of(d, len(v), reghisto) != 0:
            raise HLLCorrupted()
        card = count_from_histogram(reghisto)
        updated = bytearray(v)
        for i in range(8):
            updated[CARD_OFFSET + i] = (card >> (8 * i)) & 0xff
        return card, bytes(updated)
    memset(maxregs, 0, sizeof(maxregs))
    for value in values:
        if value is None:
            continue
        if not is_valid_hll(value):
            raise HLLWrongType()
        v = value
        if merge_into(maxregs, <const uint8_t*><const char*>v, len(v)) != 0:
            raise HLLCorrupted()
    for i in range(HLL_REGISTERS):
        reghisto[maxregs[i]] += 1
    return count_from_histogram(reghisto), None


def pfmerge(values, size_t sparse_max_bytes=DEFAULT_SPARSE_MAX_BYTES):
    """PFMERGE destkey sourcekey...: 'values' are the values of [destkey, *sourcekeys] in
    argument order (None for missing keys).  Returns the new destination value.  As in Redis
    7.0 the result is dense when any input is dense, otherwise it stays sparse."""
    cdef uint8_t maxregs[HLL_REGISTERS]
    cdef bint use_dense = False
    cdef bytes v
    cdef Buf b
    cdef long j
    memset(maxregs, 0, sizeof(maxregs))
    for value in values:
        if value is None:
            continue
        if not is_valid_hll(value):
            raise HLLWrongType()
        v = value
        if (<const uint8_t*><const char*>v)[4] == HLL_DENSE:
            use_dense = True
        if merge_into(maxregs, <const uint8_t*><const char*>v, len(v)) != 0:
            raise HLLCorrupted()
    dest = values[0] if len(values) and values[0] is not None else new_sparse()
    buf_from_bytes(&b, dest, HLL_DENSE_SIZE)
    try:
        if use_dense and sparse_to_dense(&b) != 0:
            raise HLLCorrupted()
        for j in range(HLL_REGISTERS):
            if maxregs[j] == 0:
                continue
            if b.data[4] == HLL_DENSE:
                dense_set_if_greater(b.data + HLL_HDR_SIZE, j, maxregs[j])
            else:
                sparse_set(&b, j, maxregs[j], sparse_max_bytes)
        b.data[HLL_HDR_SIZE - 1] |= 0x80
        return buf_to_bytes(&b)
    finally:
        free(b.data)


def registers(bytes value):
    """The 16384 register values of a valid HLL as a bytes object (debug / tests)."""
    cdef uint8_t maxregs[HLL_REGISTERS]
    if not is_valid_hll(value):
        raise HLLWrongType()
    memset(maxregs, 0, sizeof(maxregs))
    if merge_into(maxregs, <const uint8_t*><const char*>value, len(value)) != 0:
        raise HLLCorrupted()
    return (<char*>maxregs)[:HLL_REGISTERS]
