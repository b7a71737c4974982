# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Byte-level loops of the RDB codec.

CRC64 (Jones, bit-identical to redis crc64.c), LZF (liblzf as vendored by Redis), a bounds-checked
cursor over RDB bytes, and the compact blobs Redis embeds in RDB strings: listpack, ziplist, intset
and zipmap.  Every parser treats its input as untrusted: lengths are checked against the bytes
actually present before anything is allocated or copied.
"""
from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t, uint16_t, int16_t, uint8_t, int8_t
from libc.string cimport memcpy, memset
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

from engine.persistence.errors import RdbError

# ---------------------------------------------------------------------------------------------
# CRC64, slice-by-8 over the reflected Jones polynomial (Redis: crc64(0, buf, len)).
# ---------------------------------------------------------------------------------------------
cdef uint64_t _crc_table[8][256]


cdef void _init_crc_tables():
    cdef uint64_t poly = 0xad93d23594c935a9ULL
    cdef uint64_t reflected = 0, crc
    cdef int i, k, bit
    for bit in range(64):
        if poly & (1ULL << bit):
            reflected |= 1ULL << (63 - bit)
    for i in range(256):
        crc = i
        for k in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ reflected
            else:
                crc >>= 1
        _crc_table[0][i] = crc
    for i in range(256):
        crc = _crc_table[0][i]
        for k in range(1, 8):
            crc = (crc >> 8) ^ _crc_table[0][crc & 0xff]
            _crc_table[k][i] = crc


_init_crc_tables()


cdef uint64_t _crc64(uint64_t crc, const unsigned char *p, Py_ssize_t n) noexcept nogil:
    cdef uint64_t word
    while n >= 8:
        word = (<uint64_t>p[0] | (<uint64_t>p[1] << 8) | (<uint64_t>p[2] << 16) | (<uint64_t>p[3] << 24)
                | (<uint64_t>p[4] << 32) | (<uint64_t>p[5] << 40) | (<uint64_t>p[6] << 48)
                | (<uint64_t>p[7] << 56))
        crc ^= word
        crc = (_crc_table[7][crc & 0xff] ^ _crc_table[6][(crc >> 8) & 0xff]
               ^ _crc_table[5][(crc >> 16) & 0xff] ^ _crc_table[4][(crc >> 24) & 0xff]
               ^ _crc_table[3][(crc >> 32) & 0xff] ^ _crc_table[2][(crc >> 40) & 0xff]
               ^ _crc_table[1][(crc >> 48) & 0xff] ^ _crc_table[0][crc >> 56])
        p += 8
        n -= 8
    while n > 0:
        crc = _crc_table[0][(crc ^ p[0]) & 0xff] ^ (crc >> 8)
        p += 1
        n -= 1
    return crc


def crc64(data, uint64_t value=0):
    """CRC64-Jones of ``data`` continuing from ``value`` (like ``binascii.crc32``)."""
    cdef const unsigned char[:] view = data
    cdef uint64_t crc = value
    if view.shape[0]:
        with nogil:
            crc = _crc64(crc, &view[0], view.shape[0])
    return crc


# ---------------------------------------------------------------------------------------------
# LZF (liblzf 3.6 as configured by Redis: HLOG 16, VERY_FAST).  Redis leaves its hash table
# uninitialised, so its output is not strictly deterministic; ours starts from a zeroed table,
# which is one of the outputs Redis can produce and always decodes the same.  The table is shared
# and used under the GIL; instead of clearing 256 KB per call we zero just the slots the input
# hashed to.
# ---------------------------------------------------------------------------------------------
cdef enum:
    HLOG = 16
    HSIZE = 1 << 16
    MAX_LIT = 1 << 5
    MAX_OFF = 1 << 13
    MAX_REF = (1 << 8) + (1 << 3)

cdef uint32_t _lzf_htab[HSIZE]   # static storage: starts zeroed


cdef inline uint32_t _lzf_idx(uint32_t h) noexcept nogil:
    return ((h >> (3 * 8 - HLOG)) - h * 5) & (HSIZE - 1)


cdef void _lzf_reset_table(const unsigned char *inp, Py_ssize_t in_len) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint32_t hval
    if in_len < 3:
        return
    hval = (inp[0] << 8) | inp[1]
    for i in range(in_len - 2):
        hval = (hval << 8) | inp[i + 2]
        _lzf_htab[_lzf_idx(hval)] = 0


cdef Py_ssize_t _lzf_compress(const unsigned char *inp, Py_ssize_t in_len,
                              unsigned char *out, Py_ssize_t out_len) noexcept nogil:
    """Return the compressed size, or 0 if it does not fit in ``out_len`` bytes."""
    cdef Py_ssize_t size = _lzf_compress_into(inp, in_len, out, out_len)
    _lzf_reset_table(inp, in_len)
    return size


cdef Py_ssize_t _lzf_compress_into(const unsigned char *inp, Py_ssize_t in_len,
                                   unsigned char *out, Py_ssize_t out_len) noexcept nogil:
    cdef Py_ssize_t ip = 0, op = 0, ref, off, length, maxlen
    cdef uint32_t hval
    cdef int lit = 0
    cdef int k
    if in_len == 0 or out_len == 0:
        return 0
    op += 1  # start a literal run
    hval = (inp[0] << 8) | inp[1] if in_len >= 2 else 0
    while ip < in_len - 2:
        hval = (hval << 8) | inp[ip + 2]
        k = _lzf_idx(hval)
        ref = _lzf_htab[k]
        _lzf_htab[k] = <uint32_t>ip
        off = ip - ref - 1
        if (ref < ip and off < MAX_OFF and ref > 0 and inp[ref + 2] == inp[ip + 2]
                and inp[ref] == inp[ip] and inp[ref + 1] == inp[ip + 1]):
            length = 2
            maxlen = in_len - ip - length
            if maxlen > MAX_REF:
                maxlen = MAX_REF
            if op + 3 + 1 >= out_len:
                if op - (1 if lit == 0 else 0) + 3 + 1 >= out_len:
                    return 0
            out[op - lit - 1] = lit - 1  # stop the literal run
            if lit == 0:
                op -= 1  # undo an empty run
            # liblzf unrolls 16 comparisons without the maxlen test when maxlen > 16
            if maxlen > 16:
                for k in range(16):
                    length += 1
                    if inp[ref + length] != inp[ip + length]:
                        break
                else:
                    length += 1
                    while length < maxlen and inp[ref + length] == inp[ip + length]:
                        length += 1
            else:
                length += 1
                while length < maxlen and inp[ref + length] == inp[ip + length]:
                    length += 1
            length -= 2
            ip += 1
            if length < 7:
                out[op] = <unsigned char>((off >> 8) + (length << 5))
                op += 1
            else:
                out[op] = <unsigned char>((off >> 8) + (7 << 5))
                out[op + 1] = <unsigned char>(length - 7)
                op += 2
            out[op] = <unsigned char>(off & 0xff)
            op += 1
            lit = 0
            op += 1  # start a new run
            ip += length + 1
            if ip >= in_len - 2:
                break
            ip -= 2
            hval = (inp[ip] << 8) | inp[ip + 1]
            hval = (hval << 8) | inp[ip + 2]
            _lzf_htab[_lzf_idx(hval)] = <uint32_t>ip
            ip += 1
            hval = (hval << 8) | inp[ip + 2]
            _lzf_htab[_lzf_idx(hval)] = <uint32_t>ip
            ip += 1
        else:
            if op >= out_len:
                return 0
            lit += 1
            out[op] = inp[ip]
            op += 1
            ip += 1
            if lit == MAX_LIT:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > out_len:
        return 0
    while ip < in_len:
        lit += 1
        out[op] = inp[ip]
        op += 1
        ip += 1
        if lit == MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = lit - 1
    if lit == 0:
        op -= 1
    return op


def lzf_compress(data, Py_ssize_t max_out=-1):
    """LZF-compress ``data``; None if the result would exceed ``max_out`` bytes (default: never)."""
    cdef const unsigned char[:] view = data
    cdef Py_ssize_t n = view.shape[0], size
    if max_out < 0:
        max_out = n + n // 16 + 64
    if n == 0 or max_out == 0:
        return None
    out = PyBytes_FromStringAndSize(NULL, max_out + 1)
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    size = _lzf_compress(&view[0], n, dst, max_out)  # keeps the GIL: the hash table is shared
    if size == 0:
        return None
    return out[:size]


cdef Py_ssize_t _lzf_decompress(const unsigned char *inp, Py_ssize_t in_len,
                                unsigned char *out, Py_ssize_t out_len) noexcept nogil:
    """Return the decompressed size, -1 if the output would overflow, -2 if the input is bad."""
    cdef Py_ssize_t ip = 0, op = 0, ref, length
    cdef unsigned int ctrl
    while ip < in_len:
        ctrl = inp[ip]
        ip += 1
        if ctrl < (1 << 5):
            ctrl += 1
            if op + ctrl > out_len:
                return -1
            if ip + ctrl > in_len:
                return -2
            memcpy(out + op, inp + ip, ctrl)
            op += ctrl
            ip += ctrl
        else:
            length = ctrl >> 5
            ref = op - ((ctrl & 0x1f) << 8) - 1
            if ip >= in_len:
                return -2
            if length == 7:
                length += inp[ip]
                ip += 1
                if ip >= in_len:
                    return -2
            ref -= inp[ip]
            ip += 1
            if op + length + 2 > out_len:
                return -1
            if ref < 0:
                return -2
            length += 2
            while length > 0:  # byte by byte: source and destination may overlap
                out[op] = out[ref]
                op += 1
                ref += 1
                length -= 1
    return op


def lzf_decompress(data, Py_ssize_t expected_len):
    """Decompress LZF ``data`` that must expand to exactly ``expected_len`` bytes."""
    cdef const unsigned char[:] view = data
    cdef Py_ssize_t n = view.shape[0], size
    if n == 0 or expected_len <= 0:
        raise RdbError("Invalid LZF compressed string")
    # A back reference of at most 3 bytes expands to at most 264: bound what we allocate.
    if expected_len > n * 89 + 64:
        raise RdbError("Invalid LZF compressed string (length %d cannot come from %d bytes)"
                       % (expected_len, n))
    out = PyBytes_FromStringAndSize(NULL, expected_len)
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    with nogil:
        size = _lzf_decompress(&view[0], n, dst, expected_len)
    if size != expected_len:
        raise RdbError("Invalid LZF compressed string")
    return out


# ---------------------------------------------------------------------------------------------
# Integers as Redis parses them (string2ll): canonical decimal only, no sign '+', no leading 0.
# ---------------------------------------------------------------------------------------------
cdef bint _string2ll(const unsigned char *s, Py_ssize_t n, int64_t *value) noexcept nogil:
    cdef Py_ssize_t i = 0
    cdef bint negative = False
    cdef uint64_t v = 0
    cdef uint64_t limit
    if n == 0 or n > 20:
        return False
    if n == 1 and s[0] == 48:
        value[0] = 0
        return True
    if s[0] == 45:
        negative = True
        i = 1
        if n == 1:
            return False
    if s[i] < 49 or s[i] > 57:
        return False
    while i < n:
        if s[i] < 48 or s[i] > 57:
            return False
        if v > (0xFFFFFFFFFFFFFFFFULL - 9) // 10:
            return False
        v = v * 10 + (s[i] - 48)
        i += 1
    if negative:
        if v > (1ULL << 63):
            return False
        value[0] = -<int64_t>(v - 1) - 1
    else:
        if v > 0x7FFFFFFFFFFFFFFFULL:
            return False
        value[0] = <int64_t>v
    return True


def string_to_int64(data):
    """The int64 value if Redis would treat ``data`` as an integer (string2ll), else None."""
    cdef const unsigned char[:] view = data
    cdef int64_t value
    if view.shape[0] == 0:
        return None
    if _string2ll(&view[0], view.shape[0], &value):
        return value
    return None


cdef bytes _int_bytes(int64_t v):
    return str(v).encode()


# ---------------------------------------------------------------------------------------------
# RDB length / string primitives
# ---------------------------------------------------------------------------------------------
cdef enum:
    RDB_ENC_INT8 = 0
    RDB_ENC_INT16 = 1
    RDB_ENC_INT32 = 2
    RDB_ENC_LZF = 3


cdef class Cursor:
    """A bounds-checked reader over RDB bytes (bytes, bytearray, memoryview or mmap)."""
    cdef const unsigned char[:] buf
    cdef public Py_ssize_t pos
    cdef readonly Py_ssize_t end

    def __init__(self, data, Py_ssize_t pos=0, Py_ssize_t end=-1):
        self.buf = data
        self.pos = pos
        self.end = self.buf.shape[0] if end < 0 else end

    def release(self):
        """Drop the buffer so an mmap underneath can be closed."""
        self.buf = None

    cdef inline int _need(self, Py_ssize_t n) except -1:
        if n < 0 or n > self.end - self.pos:
            raise RdbError("Unexpected EOF reading RDB file (need %d bytes at offset %d, %d left)"
                           % (n, self.pos, self.end - self.pos))
        return 0

    def remaining(self):
        return self.end - self.pos

    cpdef list read_string_run(self, Py_ssize_t limit):
        """After a TYPE_STRING opcode: the key and value of that record and of the plain TYPE_STRING records
        right after it (no expire/idle/freq prefix), up to ``limit`` pairs, as a flat [key, value, ...] list;
        stops before any other opcode (the RDB load hot loop: one call per run instead of events per key)."""
        cdef list out = []
        cdef Py_ssize_t n = 0
        while True:
            out.append(self.read_string())
            out.append(self.read_string())
            n += 1
            if n >= limit or self.pos >= self.end or self.buf[self.pos] != 0:
                return out
            self.pos += 1

    cpdef list read_string_run_ex(self, Py_ssize_t limit, int64_t expire_ms):
        """After a TYPE_STRING opcode whose record had ``expire_ms`` (-1: none): that record and the string
        records right after it, plain or with an EXPIRETIME_MS prefix (redis writes mixed expiries that way),
        up to ``limit`` of them, as a flat [key, value, expire_ms, ...] list (-1 for no expiry); stops before
        any other opcode, IDLE/FREQ prefixes included (the RDB load hot loop)."""
        cdef list out = []
        cdef Py_ssize_t n = 0, p
        cdef uint64_t v
        cdef int i
        while True:
            out.append(self.read_string())
            out.append(self.read_string())
            out.append(expire_ms)
            n += 1
            if n >= limit or self.pos >= self.end:
                return out
            p = self.pos
            if self.buf[p] == 0:
                self.pos = p + 1
                expire_ms = -1
            elif self.buf[p] == 252 and self.end - p > 9 and self.buf[p + 9] == 0:    # EXPIRETIME_MS, STRING
                v = 0
                for i in range(8):
                    v |= (<uint64_t>self.buf[p + 1 + i]) << (8 * i)
                expire_ms = <int64_t>v
                self.pos = p + 10
            else:
                return out

    cpdef int read_byte(self) except -1:
        self._need(1)
        self.pos += 1
        return self.buf[self.pos - 1]

    cpdef bytes read_bytes(self, Py_ssize_t n):
        self._need(n)
        cdef bytes out = PyBytes_FromStringAndSize(<const char *>&self.buf[self.pos] if n else NULL, n)
        self.pos += n
        return out

    cpdef uint64_t read_u64le(self) except? 0xFFFFFFFFFFFFFFFF:
        cdef uint64_t v = 0
        cdef int i
        self._need(8)
        for i in range(8):
            v |= (<uint64_t>self.buf[self.pos + i]) << (8 * i)
        self.pos += 8
        return v

    cpdef int64_t read_i64le(self) except? -1:
        return <int64_t>self.read_u64le()

    cpdef uint32_t read_u32le(self) except? 0xFFFFFFFF:
        cdef uint32_t v
        self._need(4)
        v = (self.buf[self.pos] | (self.buf[self.pos + 1] << 8) | (self.buf[self.pos + 2] << 16)
             | (<uint32_t>self.buf[self.pos + 3] << 24))
        self.pos += 4
        return v

    cpdef double read_binary_double(self) except? -1:
        cdef uint64_t bits = self.read_u64le()
        cdef double d
        memcpy(&d, &bits, 8)
        return d

    cpdef tuple read_length_with_encoding(self):
        """(value, is_encoded): the RDB length prefix; for is_encoded the value is the RDB_ENC_* kind."""
        cdef int first = self.read_byte()
        cdef int kind = (first & 0xC0) >> 6
        cdef uint64_t v
        cdef int i
        if kind == 3:
            return first & 0x3F, True
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.read_byte(), False
        if first == 0x80:
            self._need(4)
            v = 0
            for i in range(4):
                v = (v << 8) | self.buf[self.pos + i]
            self.pos += 4
            return v, False
        if first == 0x81:
            self._need(8)
            v = 0
            for i in range(8):
                v = (v << 8) | self.buf[self.pos + i]
            self.pos += 8
            return v, False
        raise RdbError("Unknown length encoding %d in rdbLoadLen()" % first)

    cpdef uint64_t read_length(self) except? 0xFFFFFFFFFFFFFFFF:
        value, encoded = self.read_length_with_encoding()
        if encoded:
            raise RdbError("Unexpected encoded length where a plain length was expected")
        return value

    cpdef Py_ssize_t read_count(self, Py_ssize_t min_bytes_each=1) except -1:
        """A collection size, rejected if the remaining bytes cannot possibly hold that many items."""
        cdef uint64_t n = self.read_length()
        if n > <uint64_t>(self.end - self.pos) // <uint64_t>min_bytes_each:
            raise RdbError("Collection length %d exceeds the %d bytes left" % (n, self.end - self.pos))
        return <Py_ssize_t>n

    cpdef bytes read_string(self):
        """An RDB string: raw, integer-encoded (returned as its decimal text) or LZF."""
        value, encoded = self.read_length_with_encoding()
        cdef uint64_t n
        cdef Py_ssize_t clen
        cdef int64_t iv
        if not encoded:
            n = value
            if n > <uint64_t>(self.end - self.pos):
                self._need(self.end - self.pos + 1)
            return self.read_bytes(<Py_ssize_t>n)
        if value == RDB_ENC_INT8:
            iv = <int8_t>self.read_byte()
            return _int_bytes(iv)
        if value == RDB_ENC_INT16:
            self._need(2)
            iv = <int16_t>(self.buf[self.pos] | (self.buf[self.pos + 1] << 8))
            self.pos += 2
            return _int_bytes(iv)
        if value == RDB_ENC_INT32:
            iv = <int32_t>self.read_u32le()
            return _int_bytes(iv)
        if value == RDB_ENC_LZF:
            clen_u = self.read_length()
            ulen_u = self.read_length()
            if clen_u > <uint64_t>(self.end - self.pos):
                self._need(self.end - self.pos + 1)
            clen = <Py_ssize_t>clen_u
            self._need(clen)
            out = lzf_decompress(self.buf[self.pos:self.pos + clen], ulen_u)
            self.pos += clen
            return out
        raise RdbError("Unknown RDB string encoding type %d" % value)


def encode_length(uint64_t n):
    """The RDB length prefix for ``n`` (6-bit, 14-bit, 32-bit or 64-bit big endian)."""
    if n < (1 << 6):
        return bytes((n,))
    if n < (1 << 14):
        return bytes(((n >> 8) | 0x40, n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + (<object>n).to_bytes(4, "big")
    return b"\x81" + (<object>n).to_bytes(8, "big")


def encode_string(data, bint compress=True):
    """An RDB string exactly as rdbSaveRawString writes it."""
    return _encode_string(data, compress)


cdef inline Py_ssize_t _put_len(unsigned char *d, uint64_t n) noexcept nogil:
    """encode_length into d (1, 2, 5 or 9 bytes)."""
    cdef int i
    if n < (1 << 6):
        d[0] = <unsigned char>n
        return 1
    if n < (1 << 14):
        d[0] = <unsigned char>((n >> 8) | 0x40)
        d[1] = <unsigned char>(n & 0xFF)
        return 2
    if n <= 4294967295ULL:
        d[0] = 0x80
        for i in range(4):
            d[1 + i] = <unsigned char>((n >> (8 * (3 - i))) & 0xFF)
        return 5
    d[0] = 0x81
    for i in range(8):
        d[1 + i] = <unsigned char>((n >> (8 * (7 - i))) & 0xFF)
    return 9


cdef Py_ssize_t _put_string(unsigned char *d, const unsigned char *s, Py_ssize_t n, bint compress,
                            unsigned char *scratch) noexcept nogil:
    """_encode_string into d (at most n + 10 bytes); scratch holds at least n bytes."""
    cdef int64_t v
    cdef Py_ssize_t size, p
    if 0 < n <= 11 and _string2ll(s, n, &v):
        if -(1 << 7) <= v <= (1 << 7) - 1:
            d[0] = 0xC0
            d[1] = <unsigned char>(v & 0xFF)
            return 2
        if -(1 << 15) <= v <= (1 << 15) - 1:
            d[0] = 0xC1
            d[1] = <unsigned char>(v & 0xFF)
            d[2] = <unsigned char>((v >> 8) & 0xFF)
            return 3
        if -(1LL << 31) <= v <= (1LL << 31) - 1:
            d[0] = 0xC2
            d[1] = <unsigned char>(v & 0xFF)
            d[2] = <unsigned char>((v >> 8) & 0xFF)
            d[3] = <unsigned char>((v >> 16) & 0xFF)
            d[4] = <unsigned char>((v >> 24) & 0xFF)
            return 5
    if compress and n > 20:
        size = _lzf_compress(s, n, scratch, n - 4)
        if size > 0:
            d[0] = 0xC3
            p = 1 + _put_len(d + 1, size)
            p += _put_len(d + p, n)
            memcpy(d + p, scratch, size)
            return p + size
    p = _put_len(d, n)
    memcpy(d + p, s, n)
    return p + n


def string_records(list items, bint compress=True):
    """The RDB records of plain string keys, [(key, value, expire_ms or -1)], exactly as RdbWriter.write_entry
    writes each (the SAVE / full-sync hot loop: one call per batch, encoded straight into one buffer)."""
    cdef Py_ssize_t cap = 0, biggest = 0, pos = 0, nk, nv, i
    cdef long long expire
    cdef bytes key, value
    cdef unsigned char *d
    for item in items:
        nk = len(<bytes>(<tuple>item)[0])
        nv = len(<bytes>(<tuple>item)[1])
        cap += nk + nv + 40
        if nv > biggest:
            biggest = nv
        if nk > biggest:
            biggest = nk
    out = PyBytes_FromStringAndSize(NULL, cap)
    scratch = PyBytes_FromStringAndSize(NULL, biggest + 16)
    d = <unsigned char *>PyBytes_AS_STRING(out)
    cdef unsigned char *sc = <unsigned char *>PyBytes_AS_STRING(scratch)
    for item in items:
        key = <bytes>(<tuple>item)[0]
        value = <bytes>(<tuple>item)[1]
        expire = (<tuple>item)[2]
        if expire >= 0:
            d[pos] = 0xFC
            for i in range(8):
                d[pos + 1 + i] = <unsigned char>((<uint64_t>expire >> (8 * i)) & 0xFF)
            pos += 9
        d[pos] = 0
        pos += 1
        pos += _put_string(d + pos, <const unsigned char *>PyBytes_AS_STRING(key), len(key), compress, sc)
        pos += _put_string(d + pos, <const unsigned char *>PyBytes_AS_STRING(value), len(value), compress, sc)
    return out[:pos]


cdef bytes _encode_string(data, bint compress):
    cdef const unsigned char[:] view = data
    cdef Py_ssize_t n = view.shape[0]
    cdef int64_t v
    if 0 < n <= 11 and _string2ll(&view[0], n, &v):
        # string2ll accepts only the canonical form, so the ll2string round trip always holds.
        if -(1 << 7) <= v <= (1 << 7) - 1:
            return bytes((0xC0, v & 0xFF))
        if -(1 << 15) <= v <= (1 << 15) - 1:
            return bytes((0xC1, v & 0xFF, (v >> 8) & 0xFF))
        if -(1LL << 31) <= v <= (1LL << 31) - 1:
            return bytes((0xC2, v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, (v >> 24) & 0xFF))
    if compress and n > 20:
        packed = lzf_compress(data, n - 4)
        if packed is not None:
            return b"\xC3" + encode_length(len(packed)) + encode_length(n) + packed
    return encode_length(n) + bytes(data)


# ---------------------------------------------------------------------------------------------
# listpack
# ---------------------------------------------------------------------------------------------
cdef inline int _backlen_size(Py_ssize_t l) noexcept nogil:
    if l <= 127:
        return 1
    if l < 16383:
        return 2
    if l < 2097151:
        return 3
    if l < 268435455:
        return 4
    return 5


cdef inline int64_t _read_le_signed(const unsigned char *p, int nbytes) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(nbytes):
        v |= (<uint64_t>p[i]) << (8 * i)
    if nbytes < 8 and (v >> (8 * nbytes - 1)) & 1:
        v |= ~((1ULL << (8 * nbytes)) - 1)
    return <int64_t>v


def parse_listpack(data, bint ints_as_int=False):
    """Validate a listpack and return its elements (bytes; integers as decimal bytes or as int)."""
    cdef const unsigned char[:] view = data
    cdef Py_ssize_t size = view.shape[0], pos = 6, entry_len, header_len, str_len, b
    cdef const unsigned char *p
    cdef uint32_t total
    cdef unsigned int declared
    cdef int64_t iv
    cdef uint64_t backlen
    cdef int enc, i, blen
    cdef bint is_int
    cdef list out = []
    if size < 7:
        raise RdbError("listpack too small (%d bytes)" % size)
    p = &view[0]
    total = p[0] | (p[1] << 8) | (p[2] << 16) | (<uint32_t>p[3] << 24)
    declared = p[4] | (p[5] << 8)
    if total != size:
        raise RdbError("listpack header says %d bytes, blob has %d" % (total, size))
    if p[size - 1] != 0xFF:
        raise RdbError("listpack is not terminated")
    while True:
        if pos >= size:
            raise RdbError("listpack entry runs past the end")
        enc = p[pos]
        if enc == 0xFF:
            if pos != size - 1:
                raise RdbError("listpack terminator before its end")
            break
        is_int = True
        str_len = 0
        if enc & 0x80 == 0:
            header_len = 1
            iv = enc & 0x7F
        elif enc & 0xC0 == 0x80:
            header_len = 1
            str_len = enc & 0x3F
            is_int = False
        elif enc & 0xE0 == 0xC0:
            header_len = 2
            if pos + 2 > size:
                raise RdbError("listpack entry runs past the end")
            iv = ((enc & 0x1F) << 8) | p[pos + 1]
            if iv >= (1 << 12):
                iv -= 1 << 13
        elif enc & 0xF0 == 0xE0:
            header_len = 2
            if pos + 2 > size:
                raise RdbError("listpack entry runs past the end")
            str_len = ((enc & 0x0F) << 8) | p[pos + 1]
            is_int = False
        elif enc == 0xF0:
            header_len = 5
            if pos + 5 > size:
                raise RdbError("listpack entry runs past the end")
            str_len = (p[pos + 1] | (p[pos + 2] << 8) | (p[pos + 3] << 16)
                       | (<Py_ssize_t>p[pos + 4] << 24))
            is_int = False
        elif 0xF1 <= enc <= 0xF4:
            blen = (2, 3, 4, 8)[enc - 0xF1]
            header_len = 1 + blen
            if pos + header_len > size:
                raise RdbError("listpack entry runs past the end")
            iv = _read_le_signed(p + pos + 1, blen)
        else:
            raise RdbError("listpack has invalid entry encoding 0x%02x" % enc)
        if str_len > size - pos - header_len:
            raise RdbError("listpack entry runs past the end")
        entry_len = header_len + str_len
        blen = _backlen_size(entry_len)
        if pos + entry_len + blen > size - 1:
            raise RdbError("listpack entry runs past the end")
        # The back length is stored most significant group first, read from the right.
        backlen = 0
        for i in range(blen):
            b = p[pos + entry_len + blen - 1 - i]
            backlen |= (<uint64_t>(b & 0x7F)) << (7 * i)
            if (i < blen - 1) != ((b & 0x80) != 0):
                raise RdbError("listpack entry has a corrupt back length")
        if backlen != <uint64_t>entry_len:
            raise RdbError("listpack entry back length mismatch")
        if is_int:
            out.append(iv if ints_as_int else _int_bytes(iv))
        else:
            out.append(PyBytes_FromStringAndSize(<const char *>p + pos + header_len, str_len))
        pos += entry_len + blen
    if declared != 0xFFFF and declared != len(out):
        raise RdbError("listpack header count %d differs from its %d entries" % (declared, len(out)))
    return out


cdef Py_ssize_t _lp_entry_encode(object item, unsigned char *dst) except -1:
    """Write one listpack entry (encoding, data, back length) to ``dst`` (may be NULL); return its size."""
    cdef int64_t v
    cdef const unsigned char[:] view
    cdef Py_ssize_t n, hdr, i
    cdef unsigned char head[9]
    cdef bint as_int = False
    cdef uint64_t u
    if isinstance(item, int):
        v = item
        as_int = True
    else:
        view = item
        n = view.shape[0]
        if n and _string2ll(&view[0], n, &v):
            as_int = True
    if as_int:
        if 0 <= v <= 127:
            head[0] = <unsigned char>v
            hdr = 1
        elif -4096 <= v <= 4095:
            u = <uint64_t>(v if v >= 0 else (1 << 13) + v)
            head[0] = <unsigned char>((u >> 8) | 0xC0)
            head[1] = <unsigned char>(u & 0xFF)
            hdr = 2
        else:
            if -32768 <= v <= 32767:
                head[0] = 0xF1
                hdr = 3
            elif -8388608 <= v <= 8388607:
                head[0] = 0xF2
                hdr = 4
            elif -2147483648 <= v <= 2147483647:
                head[0] = 0xF3
                hdr = 5
            else:
                head[0] = 0xF4
                hdr = 9
            u = <uint64_t>v
            for i in range(1, hdr):
                head[i] = <unsigned char>(u & 0xFF)
                u >>= 8
        n = 0
    else:
        if n < 64:
            head[0] = <unsigned char>(0x80 | n)
            hdr = 1
        elif n < 4096:
            head[0] = <unsigned char>(0xE0 | (n >> 8))
            head[1] = <unsigned char>(n & 0xFF)
            hdr = 2
        else:
            if n > 0xFFFFFFFF:
                raise RdbError("listpack element too large")
            head[0] = 0xF0
            head[1] = n & 0xFF
            head[2] = (n >> 8) & 0xFF
            head[3] = (n >> 16) & 0xFF
            head[4] = (n >> 24) & 0xFF
            hdr = 5
    cdef Py_ssize_t entry_len = hdr + n
    cdef int blen = _backlen_size(entry_len)
    if dst != NULL:
        memcpy(dst, head, hdr)
        if n:
            memcpy(dst + hdr, &view[0], n)
        u = entry_len
        # most significant 7-bit group first; every byte but the first carries the 0x80 flag
        for i in range(blen):
            dst[entry_len + blen - 1 - i] = <unsigned char>((u & 0x7F) | (0x80 if i < blen - 1 else 0))
            u >>= 7
    return entry_len + blen


def listpack_entry_size(item):
    """Bytes one element takes inside a listpack (what Redis adds to lpBytes on append)."""
    return _lp_entry_encode(item, NULL)


def build_listpack(items):
    """A listpack holding ``items`` (bytes are integer-encoded when Redis would; ints as ints)."""
    cdef Py_ssize_t total = 7, pos = 6, count = len(items)
    for item in items:
        total += _lp_entry_encode(item, NULL)
    if total > 0xFFFFFFFF:
        raise RdbError("listpack too large")
    out = PyBytes_FromStringAndSize(NULL, total)
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    for item in items:
        pos += _lp_entry_encode(item, dst + pos)
    dst[pos] = 0xFF
    dst[0] = total & 0xFF
    dst[1] = (total >> 8) & 0xFF
    dst[2] = (total >> 16) & 0xFF
    dst[3] = (total >> 24) & 0xFF
    if count > 0xFFFF:
        count = 0xFFFF
    dst[4] = count & 0xFF
    dst[5] = (count >> 8) & 0xFF
    return out


def split_quicklist(items, int fill=-2, Py_ssize_t packed_threshold=1 << 30):
    """Group list elements into quicklist nodes the way Redis 7.0 pushes them one by one at the tail.

    Returns a list of (container, elements) with container 1 = PLAIN (one huge element) or 2 = PACKED.
    """
    cdef list nodes = []
    cdef list current = None
    cdef Py_ssize_t node_bytes = 0, sz, new_sz
    cdef Py_ssize_t limits[5]
    limits[:] = [4096, 8192, 16384, 32768, 65536]
    cdef bint allow
    for item in items:
        sz = len(item)
        if sz >= packed_threshold:
            nodes.append((1, [item]))
            current = None
            continue
        allow = False
        if current is not None:
            # quicklistNodeExceedsLimit with Redis's deliberate 8-byte per-entry overestimate
            new_sz = node_bytes + sz + 8
            if fill < 0:
                allow = new_sz <= limits[min(-fill - 1, 4)]
            else:
                allow = new_sz <= 8192 and len(current) + 1 <= (fill if fill > 0 else 1)
        if not allow:
            current = []
            nodes.append((2, current))
            node_bytes = 7
        current.append(item)
        node_bytes += _lp_entry_encode(item, NULL)
    return nodes


# ---------------------------------------------------------------------------------------------
# ziplist (RDB 9 and older)
# ---------------------------------------------------------------------------------------------
def parse_ziplist(data):
    """Validate a ziplist and return its elements as bytes (integers as decimal text)."""
    cdef const unsigned char[:] view = data
    cdef Py_ssize_t size = view.shape[0], pos = 10, prev_len = 0, prevlen, str_len, hdr, entry_start
    cdef Py_ssize_t last_entry = 10
    cdef const unsigned char *p
    cdef uint32_t total, tail
    cdef unsigned int declared
    cdef int enc, nbytes
    cdef int64_t iv
    cdef bint is_int
    cdef list out = []
    if size < 11:
        raise RdbError("ziplist too small (%d bytes)" % size)
    p = &view[0]
    total = p[0] | (p[1] << 8) | (p[2] << 16) | (<uint32_t>p[3] << 24)
    tail = p[4] | (p[5] << 8) | (p[6] << 16) | (<uint32_t>p[7] << 24)
    declared = p[8] | (p[9] << 8)
    if total != size:
        raise RdbError("ziplist header says %d bytes, blob has %d" % (total, size))
    if p[size - 1] != 0xFF:
        raise RdbError("ziplist is not terminated")
    while True:
        if pos >= size:
            raise RdbError("ziplist entry runs past the end")
        if p[pos] == 0xFF:
            if pos != size - 1:
                raise RdbError("ziplist terminator before its end")
            break
        entry_start = pos
        if p[pos] < 254:
            prevlen = p[pos]
            pos += 1
        elif p[pos] == 254:
            if pos + 5 > size:
                raise RdbError("ziplist entry runs past the end")
            prevlen = p[pos + 1] | (p[pos + 2] << 8) | (p[pos + 3] << 16) | (<Py_ssize_t>p[pos + 4] << 24)
            pos += 5
        else:
            raise RdbError("ziplist entry has an invalid prevlen")
        if prevlen != prev_len:
            raise RdbError("ziplist entry prevlen mismatch")
        if pos >= size:
            raise RdbError("ziplist entry runs past the end")
        enc = p[pos]
        is_int = False
        str_len = 0
        if enc >> 6 == 0:
            hdr = 1
            str_len = enc & 0x3F
        elif enc >> 6 == 1:
            hdr = 2
            if pos + 2 > size:
                raise RdbError("ziplist entry runs past the end")
            str_len = ((enc & 0x3F) << 8) | p[pos + 1]
        elif enc == 0x80:
            hdr = 5
            if pos + 5 > size:
                raise RdbError("ziplist entry runs past the end")
            str_len = ((<Py_ssize_t>p[pos + 1] << 24) | (p[pos + 2] << 16) | (p[pos + 3] << 8)
                       | p[pos + 4])
        else:
            is_int = True
            if enc == 0xC0:
                nbytes = 2
            elif enc == 0xD0:
                nbytes = 4
            elif enc == 0xE0:
                nbytes = 8
            elif enc == 0xF0:
                nbytes = 3
            elif enc == 0xFE:
                nbytes = 1
            elif 0xF1 <= enc <= 0xFD:
                nbytes = 0
            else:
                raise RdbError("ziplist has invalid entry encoding 0x%02x" % enc)
            hdr = 1 + nbytes
            if pos + hdr > size - 1:
                raise RdbError("ziplist entry runs past the end")
            if nbytes == 0:
                iv = (enc & 0x0F) - 1
            else:
                iv = _read_le_signed(p + pos + 1, nbytes)
        if str_len > size - 1 - pos - hdr:
            raise RdbError("ziplist entry runs past the end")
        if is_int:
            out.append(_int_bytes(iv))
        else:
            out.append(PyBytes_FromStringAndSize(<const char *>p + pos + hdr, str_len))
        pos += hdr + str_len
        prev_len = pos - entry_start
        last_entry = entry_start
    if tail != last_entry:
        raise RdbError("ziplist tail offset is wrong")
    if declared != 0xFFFF and declared != len(out):
        raise RdbError("ziplist header count %d differs from its %d entries" % (declared, len(out)))
    return out


def build_ziplist(items):
    """A ziplist holding ``items`` encoded as Redis ziplistPush does."""
    cdef bytearray body = bytearray()
    cdef Py_ssize_t prev_len = 0, tail = 10, n, start
    cdef int64_t v
    cdef bytes item
    cdef const unsigned char[:] view
    for item in items:
        start = len(body)
        tail = 10 + start
        if prev_len < 254:
            body.append(prev_len)
        else:
            body.append(254)
            body += (<object>prev_len).to_bytes(4, "little")
        n = len(item)
        view = item
        if 0 < n < 32 and _string2ll(&view[0], n, &v):
            if 0 <= v <= 12:
                body.append(0xF1 + v)
            elif -128 <= v <= 127:
                body.append(0xFE)
                body += (<object>v).to_bytes(1, "little", signed=True)
            elif -32768 <= v <= 32767:
                body.append(0xC0)
                body += (<object>v).to_bytes(2, "little", signed=True)
            elif -8388608 <= v <= 8388607:
                body.append(0xF0)
                body += (<object>v).to_bytes(3, "little", signed=True)
            elif -2147483648 <= v <= 2147483647:
                body.append(0xD0)
                body += (<object>v).to_bytes(4, "little", signed=True)
            else:
                body.append(0xE0)
                body += (<object>v).to_bytes(8, "little", signed=True)
        else:
            if n <= 0x3F:
                body.append(n)
            elif n <= 0x3FFF:
                body.append(0x40 | (n >> 8))
                body.append(n & 0xFF)
            else:
                body.append(0x80)
                body += (<object>n).to_bytes(4, "big")
            body += item
        prev_len = len(body) - start
    total = 10 + len(body) + 1
    count = min(len(items), 0xFFFF)
    return (total.to_bytes(4, "little") + (<object>tail).to_bytes(4, "little")
            + count.to_bytes(2, "little") + bytes(body) + b"\xFF")


# ---------------------------------------------------------------------------------------------
# intset and zipmap
# ---------------------------------------------------------------------------------------------
def parse_intset(data):
    """Validate an intset (sorted, unique) and return its members as decimal bytes."""
    cdef const unsigned char[:] view = data
    cdef Py_ssize_t size = view.shape[0], i
    cdef uint32_t enc, length
    cdef int64_t v, prev = 0
    cdef list out = []
    if size < 8:
        raise RdbError("intset too small")
    enc = view[0] | (view[1] << 8) | (view[2] << 16) | (<uint32_t>view[3] << 24)
    length = view[4] | (view[5] << 8) | (view[6] << 16) | (<uint32_t>view[7] << 24)
    if enc != 2 and enc != 4 and enc != 8:
        raise RdbError("intset has invalid encoding %d" % enc)
    if <uint64_t>length * enc + 8 != <uint64_t>size:
        raise RdbError("intset size does not match its length")
    for i in range(length):
        v = _read_le_signed(&view[8 + i * enc], enc)
        if i and v <= prev:
            raise RdbError("intset is not sorted or has duplicates")
        prev = v
        out.append(_int_bytes(v))
    return out


def build_intset(values, int min_enc=2):
    """An intset holding the int64 ``values`` (sorted and deduplicated here), at least min_enc bytes wide
    (an in-memory intset keeps the width it was upgraded to: redis saves it as is)."""
    ordered = sorted(set(values))
    enc = min_enc
    for v in ((ordered[0], ordered[len(ordered) - 1]) if ordered else ()):
        if not -32768 <= v <= 32767:
            enc = max(enc, 4)
        if not -2147483648 <= v <= 2147483647:
            enc = 8
    body = b"".join(v.to_bytes(enc, "little", signed=True) for v in ordered)
    return enc.to_bytes(4, "little") + len(ordered).to_bytes(4, "little") + body


def parse_zipmap(data):
    """Validate a zipmap (Redis < 2.6 small hashes) and return its flat field/value list."""
    cdef const unsigned char[:] view = data
    cdef Py_ssize_t size = view.shape[0], pos = 1, n, free
    cdef list out = []
    cdef int i
    if size < 2 or view[size - 1] != 0xFF:
        raise RdbError("zipmap is not terminated")
    while True:
        if pos >= size:
            raise RdbError("zipmap entry runs past the end")
        if view[pos] == 0xFF:
            if pos != size - 1:
                raise RdbError("zipmap terminator before its end")
            break
        for i in range(2):  # field, then value
            if pos >= size:
                raise RdbError("zipmap entry runs past the end")
            n = view[pos]
            if n == 254:
                if pos + 5 > size:
                    raise RdbError("zipmap entry runs past the end")
                n = view[pos + 1] | (view[pos + 2] << 8) | (view[pos + 3] << 16) | (<Py_ssize_t>view[pos + 4] << 24)
                pos += 5
            elif n == 255:
                raise RdbError("zipmap entry has an invalid length")
            else:
                pos += 1
            free = 0
            if i == 1:
                if pos >= size:
                    raise RdbError("zipmap entry runs past the end")
                free = view[pos]
                pos += 1
            if n + free > size - 1 - pos:
                raise RdbError("zipmap entry runs past the end")
            out.append(PyBytes_FromStringAndSize(<const char *>&view[pos] if n else NULL, n))
            pos += n + free
    return out
