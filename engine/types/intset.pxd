# The intset value type (engine/types/intset.pyx): sorted packed integers, redis 7.0 intset.c, stored in the
# object's own allocation right after these fields (one block per set: no separate buffer).
cdef class IntSetValue:
    cdef unsigned int n
    cdef unsigned char enc            # 2, 4 or 8 (INTSET_ENC_INT16/32/64)

cdef IntSetValue intset_new(Py_ssize_t n, unsigned char enc)
cdef IntSetValue intset_add(IntSetValue s, long long v, int* added)
cdef bint intset_remove(IntSetValue s, long long v)
cdef bint intset_find(IntSetValue s, long long v)
cdef long long intset_get(IntSetValue s, Py_ssize_t i)
cdef bytes intset_member(IntSetValue s, Py_ssize_t i)
cdef void intset_remove_at(IntSetValue s, Py_ssize_t i)
cdef long long intset_cost(IntSetValue s)
cdef Py_ssize_t intset_random_index(IntSetValue s) except -1
