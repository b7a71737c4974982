cdef unsigned short crc16(const char* buf, Py_ssize_t n) noexcept nogil
cdef int hash_slot(const char* key, Py_ssize_t keylen) noexcept nogil
cpdef int key_hash_slot(bytes key)
