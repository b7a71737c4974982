from protocol.resp cimport ReplyBuffer


cdef class HashValue:
    # listpack form (d is None): `count` field/value pairs packed in buf[0:used], each entry a varint length
    # and its bytes, field then value, in insertion order. hashtable form: d, a dict (one-way conversion, as
    # redis's OBJ_ENCODING_HT); buf is NULL then.
    cdef unsigned char* buf
    cdef unsigned int used
    cdef unsigned int count
    cdef readonly dict d
    cdef public object _scan        # HSCAN's cursor index over a large hash (engine/commands/_scan.py)


# the packed form's operations (engine/types/hashvalue.pyx); functions, not methods, so the object has no
# vtable pointer (48 bytes)
cdef Py_ssize_t hv_find(HashValue self, const char* f, Py_ssize_t flen)
cdef const unsigned char* hv_value(HashValue self, Py_ssize_t off, Py_ssize_t* vlen)
cdef int hv_set(HashValue self, const char* f, Py_ssize_t flen, const char* v, Py_ssize_t vlen) except -1
cdef int hv_del(HashValue self, const char* f, Py_ssize_t flen) except -1
cdef int hv_resize(HashValue self, Py_ssize_t new_used) except -1
cdef int hv_convert(HashValue self) except -1
cdef list hv_pairs(HashValue self)
cdef Py_ssize_t hv_len(HashValue self)
cdef long long hv_estimate(HashValue self)

cdef int hv_reply_all(HashValue self, ReplyBuffer out, bint keys, bint values) except -1
