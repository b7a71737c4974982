# memcached binary protocol codec declarations, cimported by the engine and the memcached connection.
from libc.stdint cimport uint32_t, uint64_t


cdef class BinRequest:
    cdef public int opcode
    cdef public int cmd
    cdef public bint quiet
    cdef public int datatype
    cdef public int vbucket
    cdef public uint32_t opaque
    cdef public uint64_t cas
    cdef public bytes key
    cdef public bytes extras
    cdef public bytes value
    cdef public uint32_t flags
    cdef public uint32_t exptime
    cdef public uint64_t delta
    cdef public uint64_t initial
    cdef public bint has_exptime       # FLUSH with its 4-byte extras
    cdef public object error           # response bytes to send instead of executing
    cdef public bint close
    cdef public object drop_key        # a too-large SET: unlink this key first
    cdef public Py_ssize_t swallow     # bytes discarded after the error (memcached then does not flush)


cdef class McBinParser:
    cdef char *buf
    cdef Py_ssize_t start, end, cap
    cdef int state
    cdef Py_ssize_t need
    cdef BinRequest pending
    cdef public Py_ssize_t max_item_size
    cdef public bint sasl_required
    cdef public bint authenticated

    cdef int _reserve(self, Py_ssize_t n) except -1
    cdef void _consume(self, Py_ssize_t n)
    cdef BinRequest _fail(self, BinRequest r, int status, bint close, Py_ssize_t swallow)
    cpdef object next_request(self)
    cdef object _parse_header(self, Py_ssize_t avail)
    cdef object _want_value(self, BinRequest r, Py_ssize_t vlen)


cpdef bytes header(int opcode, int status, uint32_t opaque, uint64_t cas, int extlen, int keylen, uint32_t bodylen)
cpdef bytes flags_header(int opcode, uint32_t opaque, uint64_t cas, uint32_t flags, int keylen, uint32_t vlen)
