# The compact string set (engine/types/smallset.pyx): packed members plus an open-addressing index of their
# offsets, in the object's own allocation right after these fields (one block per set).
cdef class SmallSetValue:
    cdef unsigned short n             # members
    cdef unsigned short cap           # index slots (a power of two; 0 = empty, else offset + 1)
    cdef unsigned int dlen            # packed bytes used
    cdef unsigned int dcap            # packed bytes the block holds

cdef enum:
    SS_MAX_MEMBERS = 128
    SS_MAX_LEN = 64

cdef SmallSetValue ss_new(Py_ssize_t n, Py_ssize_t nbytes)
cdef SmallSetValue ss_reserve(SmallSetValue s, Py_ssize_t more, Py_ssize_t more_bytes)
cdef SmallSetValue ss_add(SmallSetValue s, const char* p, Py_ssize_t ln, int* added)
cdef bint ss_remove(SmallSetValue s, const char* p, Py_ssize_t ln)
cdef bint ss_contains(SmallSetValue s, const char* p, Py_ssize_t ln)
cdef bytes ss_random_pop(SmallSetValue s, bint remove)
cdef long long ss_cost(SmallSetValue s)
