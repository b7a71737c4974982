# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""memcached binary protocol codec (pure: no I/O), modelled on memcached 1.6.18's proto_bin.c.

``McBinParser.feed(data)`` then ``next_request()`` until None.  Each ``BinRequest`` is either a valid request
(``error`` None: execute it) or carries the exact response bytes memcached sends (``error``), after which the
connection must be closed when ``close`` is set.  The parser reproduces which bytes memcached consumes:

* it waits for the 24-byte header, then for ``extlen + keylen`` bytes (memcached reads those before it looks
  at the request); a request magic other than 0x80 closes the connection without a reply;
* ``keylen > bodylen`` or ``keylen + extlen > bodylen``: "Unknown command" (0x81), then close;
* with SASL on (``sasl_required``) and the connection not authenticated, every opcode except
  SASL_LIST_MECHS / SASL_AUTH / SASL_STEP / VERSION gets "Auth failure." (0x20), then close;
* a key over 250 bytes or a length combination the opcode does not allow: "Invalid arguments" (0x04),
  then close;
* an unknown opcode gets "Unknown command" and then ``bodylen`` more bytes are swallowed *after* the
  extras and key (memcached's own off-by-(extlen+keylen), kept because the next request's framing
  depends on it);
* a store whose item would exceed ``max_item_size`` (56 + key + 1 + (4 if flags) + value + 2 bytes, as
  memcached's item_size_ok) gets "Too large." (0x03) and its value is swallowed (``drop_key``: a SET
  first unlinks the old item, as memcached does);
* only the opcodes that read a value (SET/ADD/REPLACE, APPEND/PREPEND, SASL_AUTH/STEP) consume the bytes
  after the key; the others leave extra body bytes in the stream, where they are read as the next header.

Quiet opcodes are mapped to their loud twin (``cmd``) with ``quiet`` set: the executor then suppresses
success replies except for GET/GETK hits (memcached's write_bin_response); errors are always sent.
"""
from libc.string cimport memcpy, memmove
from libc.stdlib cimport malloc, realloc, free
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from cpython.bytes cimport PyBytes_FromStringAndSize

REQ_MAGIC = 0x80
RES_MAGIC = 0x81

# opcodes
OP_GET = 0x00
OP_SET = 0x01
OP_ADD = 0x02
OP_REPLACE = 0x03
OP_DELETE = 0x04
OP_INCREMENT = 0x05
OP_DECREMENT = 0x06
OP_QUIT = 0x07
OP_FLUSH = 0x08
OP_GETQ = 0x09
OP_NOOP = 0x0a
OP_VERSION = 0x0b
OP_GETK = 0x0c
OP_GETKQ = 0x0d
OP_APPEND = 0x0e
OP_PREPEND = 0x0f
OP_STAT = 0x10
OP_SETQ = 0x11
OP_ADDQ = 0x12
OP_REPLACEQ = 0x13
OP_DELETEQ = 0x14
OP_INCREMENTQ = 0x15
OP_DECREMENTQ = 0x16
OP_QUITQ = 0x17
OP_FLUSHQ = 0x18
OP_APPENDQ = 0x19
OP_PREPENDQ = 0x1a
OP_TOUCH = 0x1c
OP_GAT = 0x1d
OP_GATQ = 0x1e
OP_SASL_LIST_MECHS = 0x20
OP_SASL_AUTH = 0x21
OP_SASL_STEP = 0x22
OP_GATK = 0x23
OP_GATKQ = 0x24

# status codes
ST_SUCCESS = 0x00
ST_KEY_ENOENT = 0x01
ST_KEY_EEXISTS = 0x02
ST_E2BIG = 0x03
ST_EINVAL = 0x04
ST_NOT_STORED = 0x05
ST_DELTA_BADVAL = 0x06
ST_AUTH_ERROR = 0x20
ST_AUTH_CONTINUE = 0x21
ST_UNKNOWN_COMMAND = 0x81
ST_ENOMEM = 0x82

ERROR_TEXT = {
    ST_ENOMEM: b"Out of memory",
    ST_UNKNOWN_COMMAND: b"Unknown command",
    ST_KEY_ENOENT: b"Not found",
    ST_EINVAL: b"Invalid arguments",
    ST_KEY_EEXISTS: b"Data exists for key.",
    ST_E2BIG: b"Too large.",
    ST_DELTA_BADVAL: b"Non-numeric server-side value for incr or decr",
    ST_NOT_STORED: b"Not stored.",
    ST_AUTH_ERROR: b"Auth failure.",
}

cdef dict QUIET_OF = {
    OP_SETQ: OP_SET, OP_ADDQ: OP_ADD, OP_REPLACEQ: OP_REPLACE, OP_DELETEQ: OP_DELETE,
    OP_INCREMENTQ: OP_INCREMENT, OP_DECREMENTQ: OP_DECREMENT, OP_QUITQ: OP_QUIT, OP_FLUSHQ: OP_FLUSH,
    OP_APPENDQ: OP_APPEND, OP_PREPENDQ: OP_PREPEND, OP_GETQ: OP_GET, OP_GETKQ: OP_GETK,
    OP_GATQ: OP_GAT, OP_GATKQ: OP_GATK,
}

DEF HEADER = 24
DEF KEY_MAX = 250
DEF MAX_SASL_MECH_LEN = 32

cdef enum:
    S_HEADER = 0      # waiting for a header (+ extras + key)
    S_VALUE = 1       # waiting for the value of ``pending``
    S_SWALLOW = 2     # discarding ``need`` bytes
    S_CLOSED = 3


cdef inline uint32_t _be32(const unsigned char *p):
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]


cdef inline uint64_t _be64(const unsigned char *p):
    return (<uint64_t>_be32(p) << 32) | <uint64_t>_be32(p + 4)


cpdef bytes header(int opcode, int status, uint32_t opaque, uint64_t cas, int extlen, int keylen, uint32_t bodylen):
    """A 24-byte response header (opaque is echoed in the byte order it arrived in)."""
    cdef unsigned char h[24]
    cdef int i
    h[0] = 0x81
    h[1] = <unsigned char>opcode
    h[2] = <unsigned char>(keylen >> 8)
    h[3] = <unsigned char>keylen
    h[4] = <unsigned char>extlen
    h[5] = 0
    h[6] = <unsigned char>(status >> 8)
    h[7] = <unsigned char>status
    h[8] = <unsigned char>(bodylen >> 24)
    h[9] = <unsigned char>(bodylen >> 16)
    h[10] = <unsigned char>(bodylen >> 8)
    h[11] = <unsigned char>bodylen
    h[12] = <unsigned char>(opaque >> 24)
    h[13] = <unsigned char>(opaque >> 16)
    h[14] = <unsigned char>(opaque >> 8)
    h[15] = <unsigned char>opaque
    for i in range(8):
        h[16 + i] = <unsigned char>(cas >> (56 - 8 * i))
    return PyBytes_FromStringAndSize(<char *>h, 24)


cpdef bytes flags_header(int opcode, uint32_t opaque, uint64_t cas, uint32_t flags, int keylen, uint32_t vlen):
    """A success header with 4 bytes of flags as its extras (GET/GAT hits): 28 bytes, the key and value follow."""
    cdef unsigned char h[28]
    cdef int i
    cdef uint32_t bodylen = 4 + keylen + vlen
    h[0] = 0x81
    h[1] = <unsigned char>opcode
    h[2] = <unsigned char>(keylen >> 8)
    h[3] = <unsigned char>keylen
    h[4] = 4
    h[5] = 0
    h[6] = 0
    h[7] = 0
    h[8] = <unsigned char>(bodylen >> 24)
    h[9] = <unsigned char>(bodylen >> 16)
    h[10] = <unsigned char>(bodylen >> 8)
    h[11] = <unsigned char>bodylen
    h[12] = <unsigned char>(opaque >> 24)
    h[13] = <unsigned char>(opaque >> 16)
    h[14] = <unsigned char>(opaque >> 8)
    h[15] = <unsigned char>opaque
    for i in range(8):
        h[16 + i] = <unsigned char>(cas >> (56 - 8 * i))
    h[24] = <unsigned char>(flags >> 24)
    h[25] = <unsigned char>(flags >> 16)
    h[26] = <unsigned char>(flags >> 8)
    h[27] = <unsigned char>flags
    return PyBytes_FromStringAndSize(<char *>h, 28)


cpdef bytes response(int opcode, uint32_t opaque, uint64_t cas=0, bytes extras=b"", bytes key=b"",
                     bytes value=b"", int status=0):
    return header(opcode, status, opaque, cas, len(extras), len(key),
                  len(extras) + len(key) + len(value)) + extras + key + value


cpdef bytes error(int opcode, uint32_t opaque, int status):
    """memcached write_bin_error: the status with its text as the body."""
    cdef bytes text = ERROR_TEXT[status]
    return header(opcode, status, opaque, 0, 0, 0, len(text)) + text


cpdef bytes be32(uint32_t v):
    return bytes(((v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255))


cpdef bytes be64(uint64_t v):
    return be32(<uint32_t>(v >> 32)) + be32(<uint32_t>(v & 0xffffffff))


def stats_packets(int opcode, uint32_t opaque, items, bint terminate=True):
    """STAT replies: one packet per (name, value) and an empty one at the end (memcached append_stats)."""
    cdef list out = []
    cdef bytes k, v
    for name, value in items:
        k = name if isinstance(name, bytes) else str(name).encode()
        v = value if isinstance(value, bytes) else str(value).encode()
        out.append(header(opcode, 0, opaque, 0, 0, len(k), len(k) + len(v)))
        out.append(k)
        out.append(v)
    if terminate:
        out.append(header(opcode, 0, opaque, 0, 0, 0, 0))
    return b"".join(out)


cdef class BinRequest:
    """One request: ``opcode`` as sent, ``cmd`` with quiet opcodes mapped to their loud twin (fields in
    memcache_bin.pxd)."""

    def __repr__(self):
        return "BinRequest(op=0x%02x key=%r cas=%d err=%r close=%r)" % (
            self.opcode, self.key, self.cas, self.error, self.close)


cdef class McBinParser:
    """Streaming parser of binary requests.  ``sasl_required`` / ``authenticated`` drive the auth gate
    (the executor sets ``authenticated`` after a successful SASL_AUTH/STEP, before asking for the next)."""

    def __cinit__(self, Py_ssize_t max_item_size=1048576, bint sasl_required=False):
        self.cap = 16384
        self.buf = <char *>malloc(self.cap)
        if self.buf == NULL:
            raise MemoryError()
        self.start = 0
        self.end = 0
        self.state = S_HEADER
        self.max_item_size = max_item_size
        self.sasl_required = sasl_required
        self.authenticated = False

    def __dealloc__(self):
        free(self.buf)

    @property
    def buffered(self):
        return self.end - self.start

    @property
    def closed(self):
        return self.state == S_CLOSED

    @property
    def mid_request(self):
        """True while a value is awaited or bytes are swallowed (memcached does not flush its queued
        responses then: it only does when it waits for a header)."""
        return self.state == S_VALUE or self.state == S_SWALLOW

    def feed(self, const unsigned char[::1] data not None):
        cdef Py_ssize_t n = data.shape[0]
        cdef Py_ssize_t skip
        if n == 0 or self.state == S_CLOSED:
            return
        cdef const unsigned char *src = &data[0]
        if self.state == S_SWALLOW and self.start == self.end:
            skip = n if n < self.need else self.need
            self.need -= skip
            src += skip
            n -= skip
            if self.need == 0:
                self.state = S_HEADER
            if n == 0:
                return
        self._reserve(n)
        memcpy(self.buf + self.end, src, n)
        self.end += n

    cdef int _reserve(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t used = self.end - self.start
        cdef Py_ssize_t newcap
        cdef char *nb
        if self.end + n <= self.cap:
            return 0
        if self.start > 0:
            memmove(self.buf, self.buf + self.start, used)
            self.start = 0
            self.end = used
            if used + n <= self.cap:
                return 0
        newcap = self.cap * 2
        while newcap < used + n:
            newcap *= 2
        nb = <char *>realloc(self.buf, newcap)
        if nb == NULL:
            raise MemoryError()
        self.buf = nb
        self.cap = newcap
        return 0

    cdef void _consume(self, Py_ssize_t n):
        self.start += n
        if self.start == self.end:
            self.start = 0
            self.end = 0

    cdef BinRequest _fail(self, BinRequest r, int status, bint close, Py_ssize_t swallow):
        r.error = error(r.opcode, r.opaque, status)
        r.close = close
        r.swallow = swallow
        if close:
            self.state = S_CLOSED
        elif swallow > 0:
            self.need = swallow
            self.state = S_SWALLOW
        return r

    cpdef object next_request(self):
        """The next complete ``BinRequest``, or None if more bytes are needed (or the parser closed)."""
        cdef Py_ssize_t avail, skip
        cdef BinRequest r
        while True:
            avail = self.end - self.start
            if self.state == S_CLOSED:
                return None
            if self.state == S_SWALLOW:
                skip = avail if avail < self.need else self.need
                self._consume(skip)
                self.need -= skip
                if self.need:
                    return None
                self.state = S_HEADER
                continue
            if self.state == S_VALUE:
                if avail < self.need:
                    return None
                r = self.pending
                self.pending = None
                r.value = PyBytes_FromStringAndSize(self.buf + self.start, self.need)
                self._consume(self.need)
                self.state = S_HEADER
                return r
            if avail < HEADER:
                return None
            return self._parse_header(avail)

    cdef object _parse_header(self, Py_ssize_t avail):
        cdef const unsigned char *p = <const unsigned char *>(self.buf + self.start)
        cdef BinRequest r
        cdef int extlen, keylen, op
        cdef uint32_t bodylen
        cdef Py_ssize_t vlen
        if p[0] != 0x80:
            r = BinRequest()
            r.opcode = p[1]
            r.close = True
            self.state = S_CLOSED
            return r
        extlen = p[4]
        keylen = (p[2] << 8) | p[3]
        if avail < HEADER + extlen + keylen:
            return None
        bodylen = _be32(p + 8)
        r = BinRequest()
        op = r.opcode = p[1]
        r.datatype = p[5]
        r.vbucket = (p[6] << 8) | p[7]
        r.opaque = _be32(p + 12)
        r.cas = _be64(p + 16)
        r.extras = PyBytes_FromStringAndSize(<char *>p + HEADER, extlen)
        r.key = PyBytes_FromStringAndSize(<char *>p + HEADER + extlen, keylen)
        self._consume(HEADER + extlen + keylen)
        if <uint32_t>keylen > bodylen or <uint32_t>(keylen + extlen) > bodylen:
            return self._fail(r, ST_UNKNOWN_COMMAND, True, 0)
        if self.sasl_required and not self.authenticated and op not in (
                OP_SASL_LIST_MECHS, OP_SASL_AUTH, OP_SASL_STEP, OP_VERSION):
            return self._fail(r, ST_AUTH_ERROR, True, 0)
        if keylen > KEY_MAX:
            return self._fail(r, ST_EINVAL, True, 0)
        r.cmd = QUIET_OF.get(op, op)
        r.quiet = r.cmd != op
        op = r.cmd
        if op == OP_VERSION or op == OP_NOOP or op == OP_QUIT or op == OP_SASL_LIST_MECHS:
            if extlen or keylen or bodylen:
                return self._fail(r, ST_EINVAL, True, 0)
            if op == OP_SASL_LIST_MECHS and not self.sasl_required:
                return self._fail(r, ST_UNKNOWN_COMMAND, False, 0)
            return r
        if op == OP_FLUSH:
            if keylen or bodylen != <uint32_t>extlen or (extlen != 0 and extlen != 4):
                return self._fail(r, ST_EINVAL, True, 0)
            if extlen == 4:
                r.has_exptime = True
                r.exptime = _be32(p + HEADER)
            return r
        if op == OP_SET or op == OP_ADD or op == OP_REPLACE:
            if extlen != 8 or keylen == 0 or bodylen < <uint32_t>(keylen + 8):
                return self._fail(r, ST_EINVAL, True, 0)
            r.flags = _be32(p + HEADER)
            r.exptime = _be32(p + HEADER + 4)
            vlen = bodylen - keylen - extlen
            if 56 + keylen + 1 + (4 if r.flags else 0) + vlen + 2 > self.max_item_size:
                if op == OP_SET:
                    r.drop_key = r.key
                return self._fail(r, ST_E2BIG, False, vlen)
            return self._want_value(r, vlen)
        if op == OP_GET or op == OP_GETK:
            if extlen or bodylen != <uint32_t>keylen or keylen == 0:
                return self._fail(r, ST_EINVAL, True, 0)
            return r
        if op == OP_DELETE:
            if keylen == 0 or extlen or bodylen != <uint32_t>keylen:
                return self._fail(r, ST_EINVAL, True, 0)
            return r
        if op == OP_INCREMENT or op == OP_DECREMENT:
            if keylen == 0 or extlen != 20 or bodylen != <uint32_t>(keylen + extlen):
                return self._fail(r, ST_EINVAL, True, 0)
            r.delta = _be64(p + HEADER)
            r.initial = _be64(p + HEADER + 8)
            r.exptime = _be32(p + HEADER + 16)
            return r
        if op == OP_APPEND or op == OP_PREPEND:
            if keylen == 0 or extlen:
                return self._fail(r, ST_EINVAL, True, 0)
            vlen = bodylen - keylen
            if 56 + keylen + 1 + vlen + 2 > self.max_item_size:
                return self._fail(r, ST_E2BIG, False, vlen)
            return self._want_value(r, vlen)
        if op == OP_STAT:
            if extlen:
                return self._fail(r, ST_EINVAL, True, 0)
            return r
        if op == OP_SASL_AUTH or op == OP_SASL_STEP:
            if extlen or keylen == 0:
                return self._fail(r, ST_EINVAL, True, 0)
            vlen = bodylen - keylen
            if not self.sasl_required:
                return self._fail(r, ST_UNKNOWN_COMMAND, False, vlen)
            if keylen > MAX_SASL_MECH_LEN:
                return self._fail(r, ST_EINVAL, False, vlen)
            if vlen > self.max_item_size:
                return self._fail(r, ST_ENOMEM, False, vlen)
            return self._want_value(r, vlen)
        if op == OP_TOUCH or op == OP_GAT or op == OP_GATK:
            if extlen != 4 or keylen == 0:
                return self._fail(r, ST_EINVAL, True, 0)
            r.exptime = _be32(p + HEADER)
            return r
        # unknown opcode: memcached swallows bodylen bytes after the extras and key it already read
        return self._fail(r, ST_UNKNOWN_COMMAND, False, bodylen)

    cdef object _want_value(self, BinRequest r, Py_ssize_t vlen):
        if self.end - self.start >= vlen:
            r.value = PyBytes_FromStringAndSize(self.buf + self.start, vlen)
            self._consume(vlen)
            return r
        self.pending = r
        self.need = vlen
        self.state = S_VALUE
        return None
