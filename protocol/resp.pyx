# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""RESP2/RESP3 request parser and reply encoder: pure codecs, no I/O.

The parser follows redis 7.0.15 networking.c (processInlineBuffer / processMultibulkBuffer) to the
byte, including its limits and error texts, because clients and Redis's own tests read them.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memchr
from libc.stdio cimport snprintf
from libc.math cimport isinf, isnan, signbit
from protocol.cutil cimport string2ll, ll_digits
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from cpython.list cimport PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF, Py_REFCNT

cdef extern from *:
    """
    #include <string.h>
    /* A bytes object's cached hash, set from a hash computed over the same bytes (issue 20: the
       connection's prefetch hashes each key once; without this the lookup hashes it again). */
    #if PY_VERSION_HEX < 0x030D0000
    #pragma GCC diagnostic push
    #pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    static inline void CM_BYTES_SET_HASH(PyObject *o, Py_ssize_t h) { ((PyBytesObject *)o)->ob_shash = (Py_hash_t)h; }
    #pragma GCC diagnostic pop
    #else
    static inline void CM_BYTES_SET_HASH(PyObject *o, Py_ssize_t h) { (void)o; (void)h; }
    #endif
    /* A list whose only reference is the caller's, emptied in place and kept for the next request's argv:
       no list object or item array is allocated per request (issue 20). */
    static inline Py_ssize_t cm_list_allocated(PyObject *l) { return ((PyListObject *)l)->allocated; }
    /* n empty slots: the slots past the old size hold whatever the item array had (list growth does not clear
       them), so they are cleared before the list is seen with that size */
    static inline void cm_list_set_size(PyObject *l, Py_ssize_t n) {
        PyListObject *o = (PyListObject *)l;
        Py_ssize_t i;
        for (i = 0; i < n; i++) o->ob_item[i] = NULL;
        Py_SET_SIZE(o, n);
    }
    static inline void cm_list_empty(PyObject *l) {
        PyListObject *o = (PyListObject *)l;
        Py_ssize_t i, n = Py_SIZE(o);
        Py_SET_SIZE(o, 0);
        for (i = 0; i < n; i++) Py_CLEAR(o->ob_item[i]);
    }
    """
    void CM_BYTES_SET_HASH(object o, Py_ssize_t h)
    Py_ssize_t cm_list_allocated(object l)
    void cm_list_set_size(object l, Py_ssize_t n)
    void cm_list_empty(object l)
    int memcmp(const void* a, const void* b, size_t n)


cdef long long INLINE_MAX = 64 * 1024
cdef long long INT_MAX_LL = 2147483647
cdef long long UNAUTH_MULTIBULK_MAX = 10
cdef long long UNAUTH_BULK_MAX = 16384


cdef class ProtocolErrorInfo:
    def __init__(self, message, reply):
        self.message = message
        self.reply = reply

    def __repr__(self):
        return f"ProtocolErrorInfo({self.message!r}, reply={self.reply})"


cdef inline Py_ssize_t find_strchr(const char* p, Py_ssize_t n, char c):
    """Index of c in p[0:n] with strchr semantics: a NUL byte ends the search (Redis uses strchr)."""
    cdef Py_ssize_t i
    for i in range(n):
        if p[i] == c:
            return i
        if p[i] == 0:
            return -1
    return -1


def parse_ll(bytes s):
    """Python access to string2ll for tests and cold code: returns int or None."""
    cdef long long v
    if string2ll(PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s), &v):
        return v
    return None


cdef inline bint is_space(char c):
    return c == b' ' or c == b'\n' or c == b'\r' or c == b'\t' or c == b'\v' or c == b'\f'


cdef inline int hex_digit(char c):
    if b'0' <= c <= b'9':
        return c - 48
    if b'a' <= c <= b'f':
        return c - 97 + 10
    if b'A' <= c <= b'F':
        return c - 65 + 10
    return -1


def split_args(bytes line):
    """sdssplitargs: split an inline command line; None on unbalanced quotes."""
    return _split_args(PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line))


cdef object _split_args(const char* p, Py_ssize_t n):
    cdef list out = []
    cdef Py_ssize_t i = 0
    cdef bytearray cur
    cdef bint inq, insq, done
    cdef char c
    while True:
        while i < n and is_space(p[i]):
            i += 1
        if i >= n or p[i] == 0:
            return out
        inq = 0
        insq = 0
        done = 0
        cur = bytearray()
        while not done:
            c = p[i] if i < n else 0
            if inq:
                if c == 0:
                    return None
                if c == b'\\' and i + 3 < n and p[i + 1] == b'x' and hex_digit(p[i + 2]) >= 0 and hex_digit(p[i + 3]) >= 0:
                    cur.append(hex_digit(p[i + 2]) * 16 + hex_digit(p[i + 3]))
                    i += 3
                elif c == b'\\' and i + 1 < n and p[i + 1] != 0:
                    i += 1
                    c = p[i]
                    if c == b'n':
                        cur.append(10)
                    elif c == b'r':
                        cur.append(13)
                    elif c == b't':
                        cur.append(9)
                    elif c == b'b':
                        cur.append(8)
                    elif c == b'a':
                        cur.append(7)
                    else:
                        cur.append(<unsigned char>c)
                elif c == b'"':
                    # closing quote must be followed by a space or nothing at all
                    if i + 1 < n and p[i + 1] != 0 and not is_space(p[i + 1]):
                        return None
                    done = 1
                else:
                    cur.append(<unsigned char>c)
            elif insq:
                if c == 0:
                    return None
                if c == b'\\' and i + 1 < n and p[i + 1] == b"'":
                    i += 1
                    cur.append(39)
                elif c == b"'":
                    if i + 1 < n and p[i + 1] != 0 and not is_space(p[i + 1]):
                        return None
                    done = 1
                else:
                    cur.append(<unsigned char>c)
            else:
                if c == 0 or c == b' ' or c == b'\n' or c == b'\r' or c == b'\t':
                    done = 1        # sdssplitargs: \v and \f end no token (only leading blanks skip them)
                elif c == b'"':
                    inq = 1
                elif c == b"'":
                    insq = 1
                else:
                    cur.append(<unsigned char>c)
            if i < n:
                i += 1
        out.append(bytes(cur))


cdef class RespParser:
    """Incremental request parser.

    feed() appends bytes; next_argv() returns the next complete argv (list of bytes), or None when more
    bytes are needed.  On a protocol error it returns False and sets ``error`` (a ProtocolErrorInfo);
    the connection then replies (if ``error.reply``) and closes, as redis does.
    """

    def __init__(self, long long max_bulk_len=512 * 1024 * 1024, long long query_buffer_limit=1024 * 1024 * 1024):
        self.cur = b""
        self.tail = bytearray()
        self.pos = 0
        self.argv = None
        self.multibulk_left = 0
        self.bulk_len = -1
        self.max_bulk_len = max_bulk_len
        self.query_buffer_limit = query_buffer_limit
        self.auth_required = 0
        self.error = None

    def __dealloc__(self):
        if self.hints != NULL:
            PyMem_Free(self.hints)

    cdef void add_hint(self, Py_ssize_t off, Py_ssize_t n, Py_ssize_t h):
        """The hash of the bulk at `off` (length n) in the current buffer, computed by the caller over exactly
        those bytes; next_argv gives it to the argument's bytes object. Offsets must come in increasing order;
        feed() and a compaction drop the hints (the offsets would no longer point at the same bytes)."""
        if self.hint_n >= RESP_HINTS_MAX:
            return
        if self.hints == NULL:
            self.hints = <resp_hash_hint*>PyMem_Malloc(RESP_HINTS_MAX * sizeof(resp_hash_hint))
            if self.hints == NULL:
                return
        self.hints[self.hint_n].off = off
        self.hints[self.hint_n].n = n
        self.hints[self.hint_n].h = h
        self.hint_n += 1

    cpdef feed(self, data):
        self.hint_n = 0
        self.hint_i = 0
        if self.pos >= len(self.cur):
            # fast path: nothing pending, parse straight from the received object
            self.cur = data
            self.pos = 0
        else:
            if self.cur is not self.tail:
                self.tail = bytearray(self.cur[self.pos:])
                self.cur = self.tail
                self.pos = 0
            self.tail.extend(data)

    cpdef Py_ssize_t buffered(self):
        return len(self.cur) - self.pos

    cpdef Py_ssize_t partial_argv_mem(self):
        """Bytes of the arguments already parsed of an incomplete command (CLIENT LIST argv-mem)."""
        cdef Py_ssize_t n = 0
        if self.argv is not None:
            for a in self.argv:
                n += len(a)
        return n

    cdef object _fail(self, bytes message):
        self.error = ProtocolErrorInfo(message, message is not None)
        return False

    cpdef object next_argv(self):
        cdef const char* base
        cdef Py_ssize_t total
        cdef object result
        cdef long long limit
        if self.error is not None:
            return False
        while True:
            if type(self.cur) is bytes:
                base = PyBytes_AS_STRING(self.cur)
                total = PyBytes_GET_SIZE(self.cur)
            else:
                base = PyByteArray_AS_STRING(self.cur)
                total = PyByteArray_GET_SIZE(self.cur)
            if self.pos >= total:
                self._compact()
                return None
            limit = self.query_buffer_limit
            if self.auth_required and limit > 1024 * 1024:
                limit = 1024 * 1024    # unauthenticated clients get 1 MB (CVE-2021-32675)
            if total - self.pos > limit:
                # redis closes the client without a reply ("Closing client that reached max query buffer length")
                self.error = ProtocolErrorInfo(b"query buffer limit", False)
                return False
            if self.multibulk_left > 0:
                result = self._parse_multibulk(base + self.pos, total - self.pos)
            elif base[self.pos] == b'*':
                result = self._parse_whole(base + self.pos, total - self.pos)
                if result is None:
                    result = self._parse_multibulk(base + self.pos, total - self.pos)
            else:
                result = self._parse_inline(base + self.pos, total - self.pos)
            if result is None:
                self._compact()
                return None
            if result is False:
                return False
            if result is True:   # an ignored request (empty line, *0, *-1): keep going
                continue
            return result

    cdef _compact(self):
        """Keep only the unconsumed tail between reads."""
        self.hint_n = 0
        self.hint_i = 0
        if self.pos >= len(self.cur):
            # everything consumed (the common case): drop the buffer without copying
            self.cur = b""
            self.pos = 0
            return
        if self.pos == 0:
            if self.cur is not self.tail:
                if len(self.cur) == 0:
                    return
                self.tail = bytearray(self.cur)
                self.cur = self.tail
            return
        if self.cur is self.tail:
            del self.tail[:self.pos]
        else:
            self.tail = bytearray(self.cur[self.pos:])
            self.cur = self.tail
        self.pos = 0

    cdef object _parse_inline(self, const char* p, Py_ssize_t n):
        cdef Py_ssize_t nl = find_strchr(p, n, b'\n')
        cdef Py_ssize_t linelen
        if nl < 0:
            if n > INLINE_MAX:
                return self._fail(b"too big inline request")
            return None
        linelen = nl
        if linelen > 0 and p[linelen - 1] == b'\r':
            linelen -= 1
        args = _split_args(p, linelen)
        if args is None:
            return self._fail(b"unbalanced quotes in request")
        self.pos += nl + 1
        if len(args) == 0:
            return True
        return args

    cdef object _arg(self, const char* q, Py_ssize_t blen, Py_ssize_t at, bint first):
        """The bytes object of a bulk argument at offset `at` of the buffer: argv[0] reuses the last command
        name's object when it is the same; another argument takes the hash the prefetch computed for it."""
        cdef bytes name = self.last_name
        cdef object item
        if first:
            if name is not None and PyBytes_GET_SIZE(name) == blen and memcmp(PyBytes_AS_STRING(name), q, blen) == 0:
                return name
            item = PyBytes_FromStringAndSize(q, blen)
            if blen <= 32:
                self.last_name = <bytes>item
            return item
        item = PyBytes_FromStringAndSize(q, blen)
        if self.hint_i < self.hint_n:
            while self.hint_i < self.hint_n and self.hints[self.hint_i].off < at:
                self.hint_i += 1
            if self.hint_i < self.hint_n and self.hints[self.hint_i].off == at and self.hints[self.hint_i].n == blen:
                CM_BYTES_SET_HASH(item, self.hints[self.hint_i].h)
                self.hint_i += 1
        return item

    cdef void recycle(self, object argv):
        """An executed argv nothing else holds (the caller's reference is the only one: no MULTI queue,
        effect unit, slowlog entry or pause kept it) is emptied and kept for the next request."""
        if type(argv) is list and Py_REFCNT(argv) == 1 and self.spare is None:
            cm_list_empty(argv)
            self.spare = <list>argv

    cdef object _unused(self, list argv):
        """_parse_whole gave up on this request: the argv list it started (items set so far, NULL after them) is
        emptied and kept as the spare; None."""
        cm_list_empty(argv)
        if self.spare is None:
            self.spare = argv
        return None

    cdef object _parse_whole(self, const char* p, Py_ssize_t n):
        """A multibulk request wholly in p[0:n] in its plain form (counts of plain digits, up to 64 arguments, an
        authenticated client), parsed in one pass with local state; None leaves the request to _parse_multibulk
        (incomplete, unusual or malformed: that parser reaches the same argv or the same error)."""
        cdef Py_ssize_t off = 1, argc = 0, blen, i, digits
        cdef list argv
        cdef object item
        cdef char ch
        if self.auth_required:
            return None
        # *<argc>\r\n
        digits = 0
        while off < n and 48 <= p[off] <= 57 and digits < 3:
            argc = argc * 10 + (p[off] - 48)
            off += 1
            digits += 1
        if argc <= 0 or argc > 64 or p[1] == 48 or off + 1 >= n or p[off] != 13 or p[off + 1] != 10:
            return None
        off += 2
        argv = self.spare
        if argv is not None and cm_list_allocated(argv) >= argc:
            self.spare = None
            cm_list_set_size(argv, argc)          # argc NULL slots
        else:
            argv = PyList_New(argc)
        for i in range(argc):
            # $<len>\r\n<bytes>\r\n
            if off >= n or p[off] != 36:
                return self._unused(argv)
            off += 1
            blen = 0
            digits = 0
            while off < n and 48 <= p[off] <= 57 and digits < 10:
                blen = blen * 10 + (p[off] - 48)
                off += 1
                digits += 1
            if digits == 0 or (digits > 1 and p[off - digits] == 48) or blen > self.max_bulk_len \
                    or off + 1 >= n or p[off] != 13 or p[off + 1] != 10:
                return self._unused(argv)
            off += 2
            if n - off < blen + 2:
                return self._unused(argv)
            item = self._arg(p + off, blen, self.pos + off, i == 0)
            Py_INCREF(item)
            PyList_SET_ITEM(argv, i, item)
            off += blen + 2
        self.pos += off
        return argv

    cdef object _parse_multibulk(self, const char* p, Py_ssize_t n):
        cdef Py_ssize_t off = 0, nl, blen
        cdef list argv
        cdef bytes name
        cdef object item
        cdef long long ll
        cdef const char* q
        if self.multibulk_left == 0:
            nl = find_strchr(p, n, b'\r')
            if nl < 0:
                if n > INLINE_MAX:
                    return self._fail(b"too big mbulk count string")
                return None
            if nl > n - 2:   # need the \n too
                return None
            if not string2ll(p + 1, nl - 1, &ll) or ll > INT_MAX_LL:
                return self._fail(b"invalid multibulk length")
            if ll > UNAUTH_MULTIBULK_MAX and self.auth_required:
                return self._fail(b"unauthenticated multibulk length")
            off = nl + 2
            self.pos += off
            if ll <= 0:
                return True
            self.multibulk_left = ll
            # never preallocate from the declared count (CVE-2021-32675)
            self.argv = []
            self.bulk_len = -1
        while self.multibulk_left > 0:
            q = p + off
            if self.bulk_len == -1:
                nl = find_strchr(q, n - off, b'\r')
                if nl < 0:
                    if n - off > INLINE_MAX:
                        return self._fail(b"too big bulk count string")
                    return None
                if nl > n - off - 2:
                    return None
                if q[0] != b'$':
                    return self._fail(b"expected '$', got '" + PyBytes_FromStringAndSize(q, 1) + b"'")
                if not string2ll(q + 1, nl - 1, &ll) or ll < 0 or ll > self.max_bulk_len:
                    return self._fail(b"invalid bulk length")
                if ll > UNAUTH_BULK_MAX and self.auth_required:
                    return self._fail(b"unauthenticated bulk length")
                off += nl + 2
                self.pos += nl + 2
                self.bulk_len = ll
                q = p + off
            blen = self.bulk_len
            if n - off < blen + 2:
                return None
            argv = self.argv
            argv.append(self._arg(q, blen, self.pos, PyList_GET_SIZE(argv) == 0))
            off += blen + 2
            self.pos += blen + 2
            self.bulk_len = -1
            self.multibulk_left -= 1
        result = self.argv
        self.argv = None
        return result


cdef class ReplyBuffer:
    """Accumulates encoded replies for one connection; RESP2 or RESP3 by ``resp``."""

    def __cinit__(self):
        self.capacity = 16384
        self.buf = <char*>malloc(self.capacity)
        if self.buf == NULL:
            raise MemoryError()
        self.length = 0
        self.resp = 2

    def __dealloc__(self):
        if self.buf != NULL:
            free(self.buf)

    cdef int _reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t need = self.length + extra
        cdef Py_ssize_t cap
        cdef char* nb
        if need <= self.capacity:
            return 0
        cap = self.capacity * 2
        while cap < need:
            cap *= 2
        nb = <char*>realloc(self.buf, cap)
        if nb == NULL:
            raise MemoryError()
        self.buf = nb
        self.capacity = cap
        return 0

    cdef int _append(self, const char* data, Py_ssize_t n) except -1:
        self._reserve(n)
        memcpy(self.buf + self.length, data, n)
        self.length += n
        return 0

    cdef int _header(self, char kind, long long n) except -1:
        # digits by hand (cutil.ll_digits): this runs for every reply element, snprintf costs more than the rest
        cdef Py_ssize_t i
        cdef char* out
        self._reserve(32)
        out = self.buf + self.length
        out[0] = kind
        i = 1 + ll_digits(out + 1, n)
        out[i] = 13
        out[i + 1] = 10
        self.length += i + 2
        return 0

    cpdef add_raw(self, bytes data):
        self._append(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))

    cpdef add_ok(self):
        self._append(b"+OK\r\n", 5)

    cpdef add_simple(self, bytes s):
        self._reserve(PyBytes_GET_SIZE(s) + 3)
        self.buf[self.length] = b'+'
        self.length += 1
        self._append(PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s))
        self._append(b"\r\n", 2)

    cpdef add_error(self, bytes message):
        """message is the text after '-', e.g. b"ERR syntax error"; newlines are replaced as redis does."""
        if b"\r" in message or b"\n" in message:
            message = message.replace(b"\r", b" ").replace(b"\n", b" ")
        self._reserve(PyBytes_GET_SIZE(message) + 3)
        self.buf[self.length] = b'-'
        self.length += 1
        self._append(PyBytes_AS_STRING(message), PyBytes_GET_SIZE(message))
        self._append(b"\r\n", 2)

    cpdef add_int(self, long long v):
        self._header(b':', v)

    cpdef add_bulk(self, bytes v):
        cdef Py_ssize_t n = PyBytes_GET_SIZE(v)
        self._header(b'$', n)
        self._reserve(n + 2)
        memcpy(self.buf + self.length, PyBytes_AS_STRING(v), n)
        self.length += n
        self.buf[self.length] = b'\r'
        self.buf[self.length + 1] = b'\n'
        self.length += 2

    cpdef add_bulk_str(self, str v):
        self.add_bulk(v.encode())

    cpdef add_null(self):
        if self.resp >= 3:
            self._append(b"_\r\n", 3)
        else:
            self._append(b"$-1\r\n", 5)

    cpdef add_null_array(self):
        if self.resp >= 3:
            self._append(b"_\r\n", 3)
        else:
            self._append(b"*-1\r\n", 5)

    cpdef add_array_len(self, long long n):
        self._header(b'*', n)

    cpdef add_map_len(self, long long n):
        if self.resp >= 3:
            self._header(b'%', n)
        else:
            self._header(b'*', n * 2)

    cpdef add_set_len(self, long long n):
        self._header(b'~' if self.resp >= 3 else b'*', n)

    cpdef add_push_len(self, long long n):
        self._header(b'>' if self.resp >= 3 else b'*', n)

    cpdef add_double(self, double d):
        cdef char tmp[64]
        cdef int k
        if -1e15 < d < 1e15 and d == <double><long long>d and not (d == 0 and signbit(d)):
            # an integral score (ZINCRBY by 1, ZSCORE of counters): the digits %.17g would print, without
            # snprintf's float formatting (about a fifth of a ZINCRBY's instructions)
            k = ll_digits(tmp, <long long>d)
            if self.resp >= 3:
                self._append(b",", 1)
            else:
                self._header(b'$', k)
            self._append(tmp, k)
            self._append(b"\r\n", 2)
            return
        if isinf(d):
            if self.resp >= 3:
                self.add_raw(b",inf\r\n" if d > 0 else b",-inf\r\n")
            else:
                self.add_bulk(b"inf" if d > 0 else b"-inf")
            return
        if self.resp >= 3:
            k = snprintf(tmp, 64, ",%.17g\r\n", d)
            self._append(tmp, k)
        else:
            k = snprintf(tmp, 64, "%.17g", d)
            self._header(b'$', k)
            self._append(tmp, k)
            self._append(b"\r\n", 2)

    cpdef add_bool(self, bint b):
        if self.resp >= 3:
            self._append(b"#t\r\n" if b else b"#f\r\n", 4)
        else:
            self._append(b":1\r\n" if b else b":0\r\n", 4)

    cpdef add_verbatim(self, bytes s, bytes fmt=b"txt"):
        cdef Py_ssize_t n = PyBytes_GET_SIZE(s)
        if self.resp >= 3:
            self._header(b'=', n + 4)
            self._append(PyBytes_AS_STRING(fmt), 3)
            self._append(b":", 1)
            self._append(PyBytes_AS_STRING(s), n)
            self._append(b"\r\n", 2)
        else:
            self.add_bulk(s)

    cpdef add_bulk_list(self, list items):
        self._header(b'*', len(items))
        for item in items:
            if item is None:
                self.add_null()
            else:
                self.add_bulk(<bytes>item)

    cpdef bytes take(self):
        cdef bytes out = PyBytes_FromStringAndSize(self.buf, self.length)
        self.length = 0
        if self.capacity > 1024 * 1024:
            # give back memory after a large reply
            free(self.buf)
            self.capacity = 16384
            self.buf = <char*>malloc(self.capacity)
        return out

    cpdef Py_ssize_t size(self):
        return self.length

    cpdef truncate(self, Py_ssize_t length):
        if length < self.length:
            self.length = length
