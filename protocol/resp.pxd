# RESP codec declarations, cimported by the engine and the connection classes.

cdef class ProtocolErrorInfo:
    cdef public bytes message      # text after "-ERR Protocol error: ", or None to close silently
    cdef public bint reply         # whether to send the error line before closing


cdef struct resp_hash_hint:
    Py_ssize_t off                 # offset in `cur` of a bulk argument's first byte
    Py_ssize_t n                   # its length
    Py_ssize_t h                   # _Py_HashBytes of it (what hash(bytes) computes)

cdef enum:
    RESP_HINTS_MAX = 64


cdef class RespParser:
    cdef object cur                # bytes or bytearray being parsed
    cdef bytearray tail            # unconsumed bytes kept between feeds
    cdef Py_ssize_t pos
    cdef list argv                 # partially read multibulk
    cdef long long multibulk_left
    cdef long long bulk_len
    cdef public long long max_bulk_len
    cdef public long long query_buffer_limit
    cdef public bint auth_required
    cdef public object error       # ProtocolErrorInfo once the stream is broken
    # issue 20: the last command name (argv[0] repeats in a pipeline: one bytes object, and the dispatcher's
    # last-verb cache matches it by identity) and the key hashes the connection's prefetch already computed
    cdef bytes last_name
    cdef resp_hash_hint* hints     # PyMem, RESP_HINTS_MAX entries, allocated on the first add_hint
    cdef int hint_n
    cdef int hint_i
    cdef void add_hint(self, Py_ssize_t off, Py_ssize_t n, Py_ssize_t h)
    cdef list spare                # an executed argv list kept for the next request (recycle)
    cdef void recycle(self, object argv)

    cpdef feed(self, data)
    cpdef object next_argv(self)
    cpdef Py_ssize_t buffered(self)
    cpdef Py_ssize_t partial_argv_mem(self)
    cdef object _parse_inline(self, const char* p, Py_ssize_t n)
    cdef object _parse_multibulk(self, const char* p, Py_ssize_t n)
    cdef object _parse_whole(self, const char* p, Py_ssize_t n)
    cdef object _unused(self, list argv)
    cdef object _arg(self, const char* q, Py_ssize_t blen, Py_ssize_t at, bint first)
    cdef object _fail(self, bytes message)
    cdef _compact(self)


cdef class ReplyBuffer:
    cdef char* buf
    cdef Py_ssize_t length
    cdef Py_ssize_t capacity
    cdef public int resp

    cdef int _reserve(self, Py_ssize_t extra) except -1
    cdef int _append(self, const char* data, Py_ssize_t n) except -1
    cdef int _header(self, char kind, long long n) except -1
    cpdef add_raw(self, bytes data)
    cpdef add_simple(self, bytes s)
    cpdef add_error(self, bytes message)
    cpdef add_int(self, long long v)
    cpdef add_bulk(self, bytes v)
    cpdef add_bulk_str(self, str v)
    cpdef add_null(self)
    cpdef add_null_array(self)
    cpdef add_array_len(self, long long n)
    cpdef add_map_len(self, long long n)
    cpdef add_set_len(self, long long n)
    cpdef add_push_len(self, long long n)
    cpdef add_double(self, double d)
    cpdef add_bool(self, bint b)
    cpdef add_verbatim(self, bytes s, bytes fmt=*)
    cpdef add_bulk_list(self, list items)
    cpdef add_ok(self)
    cpdef bytes take(self)
    cpdef Py_ssize_t size(self)
    cpdef truncate(self, Py_ssize_t length)
