# Prefetching the hash-table lines a batch of pipelined requests will touch (issue 20).
#
# A key lookup is two dependent cache misses (the bucket slot, then the record: rec_find was a third of the
# server's CPU at -P 16 on 100k random keys, nearly all of it stalled on those two loads). The connections
# scan the read buffer before executing it, without creating objects or consuming anything, and issue the
# loads for every request's key at once, so the misses of the whole batch overlap instead of queueing one
# after another. Wrong guesses (a SELECT in the batch, a command without a key at argv[1]) cost one wasted
# prefetch; nothing here changes state.
from engine.core cimport Db, cm_rec

cdef extern from "Python.h":
    Py_ssize_t _Py_HashBytes(const void* src, Py_ssize_t len)

cdef extern from *:
    """
    #define CM_PREFETCH(p) __builtin_prefetch((const void*)(p), 0, 3)
    """
    void CM_PREFETCH(const void* p) nogil


cdef enum:
    PF_MAX = 64          # keys prefetched per batch


cdef inline cm_rec** pf_slot(Db db, const char* p, Py_ssize_t n):
    """The bucket slot the key p[0:n] lives in (Db._bucket_of without a bytes object), NULL if no table."""
    if db.buckets == NULL or db.count == 0:
        return NULL
    return pf_slot_of_hash(db, <size_t>_Py_HashBytes(p, n))


cdef inline cm_rec** pf_slot_of_hash(Db db, size_t h):
    """The bucket slot of a key whose hash is h (the table must exist)."""
    if db.buckets1 != NULL and (h & db.mask) < db.rehash_idx:
        return &db.buckets1[h & db.mask1]
    return &db.buckets[h & db.mask]


cdef inline int pf_add(Db db, cm_rec*** slots, int k, const char* p, Py_ssize_t n):
    cdef cm_rec** s
    if k >= PF_MAX:
        return k
    s = pf_slot(db, p, n)
    if s != NULL:
        CM_PREFETCH(s)
        slots[k] = s
        k += 1
    return k


cdef inline void pf_records(cm_rec*** slots, int k):
    """Second wave: the first record of each prefetched chain (its header and the next line: key + value)."""
    cdef int i
    cdef cm_rec* r
    for i in range(k):
        r = slots[i][0]
        if r != NULL:
            CM_PREFETCH(r)
            CM_PREFETCH((<char*>r) + 64)
