# cython: language_level=3
"""O(1) random member of a Python set (SRANDMEMBER / SPOP without count on a large set): a random slot of the
set's own hash table, retried until it holds a live member, as redis dictGetFairRandomKey samples buckets.
Each live member owns one slot, so the pick is uniform; a table left sparse by deletions falls back to a
random position of one pass after a bounded number of tries."""
from cpython.object cimport PyObject
import random as _random

cdef extern from "Python.h":
    ctypedef struct setentry:
        PyObject *key
    ctypedef struct PySetObject:
        Py_ssize_t used
        Py_ssize_t mask
        setentry *table

cdef object _rng = _random.Random()


def random_member(object s):
    """A uniformly random member of the non-empty set s (a set or a subclass of it)."""
    if not isinstance(s, set):
        raise TypeError("a set is required")
    cdef PySetObject* so = <PySetObject*>s
    cdef Py_ssize_t mask = so.mask
    cdef Py_ssize_t i
    cdef int tries
    cdef PyObject* key
    if so.used == 0:
        raise KeyError("empty set")
    for tries in range(256):
        i = <Py_ssize_t>(_rng.getrandbits(62) & mask)
        key = so.table[i].key
        if key != NULL and type(<object>key) is bytes:     # neither empty nor the deleted-entry dummy
            return <object>key
    n = _rng.randrange(len(s))
    for member in s:
        if n == 0:
            return member
        n -= 1
