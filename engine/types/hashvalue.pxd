cdef class HashValue:
    # listpack form (d is None): `count` field/value pairs packed in buf[0:used], each entry a varint length
    # and its bytes, field then value, in insertion order. hashtable form: d, a dict (one-way conversion, as
    # redis's OBJ_ENCODING_HT); buf is NULL then.
    cdef unsigned char* buf
    cdef unsigned int used
    cdef unsigned int count
    cdef readonly dict d
    cdef public object _scan        # HSCAN's cursor index over a large hash (engine/commands/_scan.py)

    cdef Py_ssize_t pfind(self, const char* f, Py_ssize_t flen)
    cdef const unsigned char* pvalue(self, Py_ssize_t off, Py_ssize_t* vlen)
    cdef int pset(self, const char* f, Py_ssize_t flen, const char* v, Py_ssize_t vlen) except -1
    cdef int pdel(self, const char* f, Py_ssize_t flen) except -1
    cdef int _resize(self, Py_ssize_t new_used) except -1
    cdef int convert(self) except -1
    cdef list _pairs(self)
    cdef Py_ssize_t length(self)
    cdef long long estimate(self)
