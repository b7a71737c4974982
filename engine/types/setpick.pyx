# cython: language_level=3
"""O(1) random member of a Python set (SRANDMEMBER / SPOP without count on a large set): a random slot of the
set's own hash table, retried until it holds a live member, as redis dictGetFairRandomKey samples buckets.
Each live member owns one slot, so the pick is uniform; a table left sparse by deletions falls back to a
random position of one pass after a bounded number of tries."""
from cpython.object cimport PyObject
import random as _random
import sys as _sys

cdef extern from "Python.h":
    ctypedef struct setentry:
        PyObject *key
    ctypedef struct PySetObject:
        Py_ssize_t used
        Py_ssize_t mask
        setentry *table

cdef object _rng = _random.Random()
cdef object sys_getsizeof = _sys.getsizeof


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


cdef inline long long _member_cost(object m):
    """engine/evict.pxi element_cost of a bytes member (what a member adds to the estimate)."""
    cdef long long size = 33 + len(<bytes>m)
    if size <= 512:
        return (size + 15) & ~15
    return (size + 16 + 15) & ~15


def sampled_cost(object s):
    """The set's estimated bytes (engine/evict.pxi value_cost through SetValue.mem_estimate): sys.getsizeof
    plus the cardinality times the average cost of a few members, O(1) whatever the table's state. A small
    set is summed exactly; a big one samples random slots of its table (a bounded number of probes), so a set
    drained from the front (SPOP) is not walked from its first slot as iterating it would."""
    cdef PySetObject* so = <PySetObject*>s
    cdef Py_ssize_t mask = so.mask
    cdef Py_ssize_t n = so.used
    cdef long long total = 0, taken = 0
    cdef int tries
    cdef PyObject* key
    cdef long long base = sys_getsizeof(s)
    if n == 0:
        return base
    if n <= 16 or mask < 64:
        for m in s:
            total += _member_cost(m) if type(m) is bytes else 32
        return base + total
    for tries in range(128):
        key = so.table[<Py_ssize_t>(_rng.getrandbits(62) & mask)].key
        if key != NULL and type(<object>key) is bytes:
            total += _member_cost(<object>key)
            taken += 1
            if taken == 8:
                break
    if taken == 0:
        return base + n * 48            # a sparse table: a typical short member
    return base + total * n // taken
