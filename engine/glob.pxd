cpdef bint glob_match(bytes pattern, bytes subject, bint nocase=*)
cpdef bint is_match_all(bytes pattern)
cdef int _match(const unsigned char* p, Py_ssize_t plen, const unsigned char* s, Py_ssize_t slen,
                bint nocase, int* skip_longer, int nesting)
