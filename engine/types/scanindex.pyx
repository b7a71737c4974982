# cython: language_level=3
"""Cursors for HSCAN/SSCAN/ZSCAN over a large (hashtable/skiplist-encoded) collection.

Redis's dictScan walks its chained buckets in reverse-binary order; a Python dict or set is open addressing
(an element's slot is not a function of its hash, and a resize moves everything), so the cursor here is a
position in *hash order* instead: cursor c means "the elements whose 64-bit hash is >= c". Each call answers
the next COUNT elements of a `ScanIndex` (the collection's elements sorted by hash, built in O(n) by a
counting sort on the top bits) and returns the hash of the first element not answered as the next cursor,
0 at the end.

Guarantee (the one redis gives, stronger in one way): the cursor is a bound in hash space, independent of any
index, and an index built at any moment holds every element present at that moment. The index is rebuilt
whenever a scan starts (cursor 0) and the collection may have changed, and whenever it is missing, so an
element present for the whole scan is in the index used by every call of that scan and is answered exactly
once (redis may answer it twice after a shrink). Elements added during the scan may or may not be answered;
deleted elements are skipped at answer time (the caller checks membership)."""
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF
from libc.stdlib cimport malloc, calloc, free
from libc.stdint cimport uint64_t

cdef extern from "Python.h":
    ctypedef struct PyDictObject:
        Py_ssize_t ma_used
        uint64_t ma_version_tag
        void *ma_keys


cdef struct Slot:
    uint64_t h
    PyObject *key


cdef class ScanIndex:
    cdef Slot *slots
    cdef Py_ssize_t n
    cdef readonly object tag

    def __cinit__(self):
        self.slots = NULL
        self.n = 0
        self.tag = None

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.slots != NULL:
            for i in range(self.n):
                Py_DECREF(<object>self.slots[i].key)
            free(self.slots)
            self.slots = NULL

    def __len__(self):
        return self.n

    def batch(self, uint64_t cursor, Py_ssize_t count):
        """(keys, next_cursor): the `count` elements from hash `cursor` on (all of a hash's ties together)."""
        cdef Py_ssize_t lo = 0, hi = self.n, mid, j
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.slots[mid].h < cursor:
                lo = mid + 1
            else:
                hi = mid
        if count < 1:
            count = 1
        j = lo + count
        if j > self.n:
            j = self.n
        while j < self.n and j > lo and self.slots[j].h == self.slots[j - 1].h:
            j += 1
        cdef list keys = [<object>self.slots[mid].key for mid in range(lo, j)]
        return keys, (self.slots[j].h if j < self.n else 0)


def fingerprint(container):
    """A value that changes whenever a dict gains a key (None for other containers: always rebuild)."""
    cdef PyDictObject *d
    if type(container) is dict or isinstance(container, dict):
        d = <PyDictObject*>container
        return (<size_t>d.ma_keys, d.ma_version_tag)
    return None


def build(container):
    """A ScanIndex of the elements (keys) of a dict or set, sorted by hash."""
    cdef ScanIndex idx = ScanIndex()
    cdef Py_ssize_t n = len(container), i = 0, b, nb, k
    cdef int bits = 1
    cdef Slot *tmp
    cdef Slot *out
    cdef Slot s
    cdef Py_ssize_t *starts
    idx.tag = fingerprint(container)
    if n == 0:
        return idx
    tmp = <Slot*>malloc(n * sizeof(Slot))
    out = <Slot*>malloc(n * sizeof(Slot))
    if tmp == NULL or out == NULL:
        free(tmp)
        free(out)
        raise MemoryError()
    for key in container:
        if i >= n:
            break
        tmp[i].h = <uint64_t>hash(key)
        tmp[i].key = <PyObject*>key
        i += 1
    n = i
    while (1 << bits) < n and bits < 24:
        bits += 1
    nb = 1 << bits
    starts = <Py_ssize_t*>calloc(nb + 1, sizeof(Py_ssize_t))
    if starts == NULL:
        free(tmp)
        free(out)
        raise MemoryError()
    for i in range(n):
        starts[(tmp[i].h >> (64 - bits)) + 1] += 1
    for b in range(nb):
        starts[b + 1] += starts[b]
    for i in range(n):
        b = <Py_ssize_t>(tmp[i].h >> (64 - bits))
        out[starts[b]] = tmp[i]
        starts[b] += 1
    free(tmp)
    free(starts)
    # each bucket holds ~1 element: one insertion-sort pass over the whole array is linear in practice
    for i in range(1, n):
        s = out[i]
        k = i - 1
        while k >= 0 and out[k].h > s.h:
            out[k + 1] = out[k]
            k -= 1
        out[k + 1] = s
    for i in range(n):
        Py_INCREF(<object>out[i].key)
    idx.slots = out
    idx.n = n
    return idx
