# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Redis 7.0's intset (intset.c) as a set value: the members of an all-integer set of at most
set-max-intset-entries members, as sorted packed integers of one width (int16, int32 or int64, upgraded
when a wider value arrives, never downgraded). OBJECT ENCODING answers "intset"; the set commands
(engine/commands/t_set.py, t_set_fast.pyx) turn it into a SetValue (hashtable) for good when a non-integer
member arrives or the count passes the limit, as redis's setTypeConvert does.

Layout: the integers live in the object's own allocation, after its 24 B of header (refcount, type, count,
width), so a set of n integers of width w is one block of 24 + n*w bytes rounded to the allocator's class:
redis spends a 16 B robj plus the intset's 8 B header and the same packed integers. The object has no
Python references (no GC header). A block grows by becoming a new object (intset_add returns it: the
caller stores it in the record, as redis stores intsetAdd's realloc'd pointer); a removal stays in place.
Objects are made by intset_new / intset_of only (IntSetValue() itself refuses: its block would be too
small for any member).

Members are bytes in redis's canonical decimal form (string2ll accepts exactly what ll2string writes), so
a member's bytes are recomputed from its integer."""
from libc.stdint cimport int16_t, int32_t, int64_t
from libc.string cimport memmove, memcpy
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from protocol.cutil cimport string2ll
import random as _random
from engine.persistence.rdb import SetMembers

cdef extern from "Python.h":
    void* PyObject_Malloc(size_t size)
    PyObject* PyObject_Init(PyObject* op, PyTypeObject* tp)

cdef object _rng = _random.Random()
cdef Py_ssize_t HDR                    # the fields' size: the integers start here (set at import)


cdef inline Py_ssize_t block_size(Py_ssize_t size):
    """What an object of `size` bytes is allocated with (pymalloc's 16 B classes up to 512 B; 64 B steps
    above, so a large intset is not copied on every addition). Monotonic and idempotent: an object holds
    n integers in place while HDR + n*enc stays within block_size(HDR + n*enc) of its allocation."""
    if size <= 512:
        return (size + 15) & ~15
    return (size + 63) & ~63


cdef inline char* data(IntSetValue s):
    return (<char*><void*>s) + HDR


cdef inline unsigned char value_enc(long long v):
    if v < -2147483648LL or v > 2147483647LL:
        return 8
    if v < -32768 or v > 32767:
        return 4
    return 2


cdef inline long long get_enc(char* buf, Py_ssize_t i, unsigned char enc):
    if enc == 2:
        return (<int16_t*>buf)[i]
    if enc == 4:
        return (<int32_t*>buf)[i]
    return (<int64_t*>buf)[i]


cdef inline void set_enc(char* buf, Py_ssize_t i, unsigned char enc, long long v):
    if enc == 2:
        (<int16_t*>buf)[i] = <int16_t>v
    elif enc == 4:
        (<int32_t*>buf)[i] = <int32_t>v
    else:
        (<int64_t*>buf)[i] = <int64_t>v


cdef IntSetValue intset_new(Py_ssize_t n, unsigned char enc):
    """An empty intset of width enc whose block holds n integers."""
    cdef PyObject* p = <PyObject*>PyObject_Malloc(block_size(HDR + n * enc))
    if p == NULL:
        raise MemoryError()
    PyObject_Init(p, <PyTypeObject*>IntSetValue)
    cdef object o = <object>p          # a second reference: the one PyObject_Init made is dropped
    Py_DECREF(o)
    cdef IntSetValue s = <IntSetValue>o
    s.n = 0
    s.enc = enc
    return s


cdef inline bint fits(IntSetValue s, Py_ssize_t n, unsigned char enc):
    return HDR + n * enc <= block_size(HDR + <Py_ssize_t>s.n * s.enc) and enc == s.enc


cdef long long intset_get(IntSetValue s, Py_ssize_t i):
    return get_enc(data(s), i, s.enc)


cdef inline Py_ssize_t search(IntSetValue s, long long v, bint* found):
    """intsetSearch: the position of v, or where it would be inserted."""
    cdef Py_ssize_t lo = 0, hi = <Py_ssize_t>s.n - 1, mid
    cdef long long cur
    cdef char* buf = data(s)
    found[0] = 0
    if s.n == 0:
        return 0
    if v > get_enc(buf, hi, s.enc):
        return s.n
    if v < get_enc(buf, 0, s.enc):
        return 0
    while hi >= lo:
        mid = (lo + hi) >> 1
        cur = get_enc(buf, mid, s.enc)
        if v > cur:
            lo = mid + 1
        elif v < cur:
            hi = mid - 1
        else:
            found[0] = 1
            return mid
    return lo


cdef IntSetValue intset_add(IntSetValue s, long long v, int* added):
    """intsetAdd: the set holding v (s itself, or a new object when s's block is full or v needs a wider
    encoding: the caller stores that one in s's place); added is 1 when v was not there, else 0."""
    cdef bint found
    cdef Py_ssize_t pos, i, length = s.n
    cdef unsigned char enc = value_enc(v)
    cdef IntSetValue t
    cdef char* src
    cdef char* dst
    added[0] = 0
    if enc > s.enc:                   # intsetUpgradeAndAdd: v is the new minimum or maximum
        t = intset_new(length + 1, enc)
        src = data(s)
        dst = data(t)
        if v < 0:
            set_enc(dst, 0, enc, v)
            for i in range(length):
                set_enc(dst, i + 1, enc, get_enc(src, i, s.enc))
        else:
            for i in range(length):
                set_enc(dst, i, enc, get_enc(src, i, s.enc))
            set_enc(dst, length, enc, v)
        t.n = <unsigned int>(length + 1)
        added[0] = 1
        return t
    pos = search(s, v, &found)
    if found:
        return s
    added[0] = 1
    if fits(s, length + 1, s.enc):
        dst = data(s)
        if pos < length:
            memmove(dst + (pos + 1) * s.enc, dst + pos * s.enc, (length - pos) * s.enc)
        set_enc(dst, pos, s.enc, v)
        s.n += 1
        return s
    t = intset_new(length + 1, s.enc)
    src = data(s)
    dst = data(t)
    memcpy(dst, src, pos * s.enc)
    set_enc(dst, pos, s.enc, v)
    memcpy(dst + (pos + 1) * s.enc, src + pos * s.enc, (length - pos) * s.enc)
    t.n = <unsigned int>(length + 1)
    return t


cdef void intset_remove_at(IntSetValue s, Py_ssize_t pos):
    """Remove the integer at pos, in place (the block keeps its size)."""
    cdef char* buf = data(s)
    if pos < <Py_ssize_t>s.n - 1:
        memmove(buf + pos * s.enc, buf + (pos + 1) * s.enc, (s.n - pos - 1) * s.enc)
    s.n -= 1


cdef bint intset_remove(IntSetValue s, long long v):
    cdef bint found
    cdef Py_ssize_t pos
    if value_enc(v) > s.enc:
        return 0
    pos = search(s, v, &found)
    if not found:
        return 0
    intset_remove_at(s, pos)
    return 1


cdef bint intset_find(IntSetValue s, long long v):
    cdef bint found
    if value_enc(v) > s.enc:
        return 0
    search(s, v, &found)
    return found


cdef bytes intset_member(IntSetValue s, Py_ssize_t i):
    """The i-th member as redis's ll2string writes it."""
    cdef char tmp[24]
    cdef long long v = get_enc(data(s), i, s.enc)
    cdef unsigned long long u
    cdef int p = 24
    cdef bint neg = v < 0
    u = <unsigned long long>(-(v + 1)) + 1 if neg else <unsigned long long>v
    while True:
        p -= 1
        tmp[p] = <char>(48 + u % 10)
        u //= 10
        if u == 0:
            break
    if neg:
        p -= 1
        tmp[p] = 45
    return PyBytes_FromStringAndSize(tmp + p, 24 - p)


cdef long long intset_cost(IntSetValue s):
    """Estimated bytes: the object's block (engine/evict.pxi value_cost through mem_estimate)."""
    return block_size(HDR + <Py_ssize_t>s.n * s.enc)


cdef Py_ssize_t intset_random_index(IntSetValue s) except -1:
    """A uniformly random position (intsetRandom)."""
    return <Py_ssize_t>_rng.randrange(s.n)


cdef inline bint member_ll(object m, long long* v):
    if type(m) is not bytes:
        return 0
    return string2ll(PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m), v)


def intset_of(members=(), int width=2):
    """An intset of the integer members (bytes in canonical form; ValueError on any other), at least
    width bytes wide (an RDB intset keeps the width it was saved with)."""
    cdef long long v
    cdef list ints = []
    for m in members:
        if not member_ll(m, &v):
            raise ValueError("not an integer member: %r" % (m,))
        ints.append(v)
    ints = sorted(set(ints))
    cdef unsigned char enc = 2
    if width == 4 or width == 8:
        enc = width
    if ints:
        enc = max(enc, value_enc(ints[0]), value_enc(ints[len(ints) - 1]))
    cdef IntSetValue s = intset_new(len(ints), enc)
    cdef Py_ssize_t i
    cdef char* buf = data(s)
    for i in range(len(ints)):
        set_enc(buf, i, enc, ints[i])
    s.n = <unsigned int>len(ints)
    return s


cdef class IntSetValue:
    """An intset-encoded set: the Python face the generic code uses (len, in, iteration in ascending order,
    ordered(), encoding(), to_rdb(), copy(), mem_estimate()). Additions go through with_member (or the
    C intset_add), which may answer a new object."""
    type_name = b"set"

    def __cinit__(self):
        raise TypeError("IntSetValue objects are made by engine.types.intset.intset_of")

    @property
    def hashtable(self):
        return False

    @property
    def width(self):
        """The encoding's width in bytes (2, 4 or 8)."""
        return self.enc

    def __len__(self):
        return self.n

    def __contains__(self, m):
        cdef long long v
        return member_ll(m, &v) and intset_find(self, v)

    def __iter__(self):
        return iter(self.ordered())

    def ordered(self):
        cdef Py_ssize_t i
        return [intset_member(self, i) for i in range(self.n)]

    def ints(self):
        cdef Py_ssize_t i
        return [intset_get(self, i) for i in range(self.n)]

    def encoding(self, config=None):
        return b"intset"

    def with_member(self, m):
        """(the set holding m, 1 if m was added else 0), or (self, -1) when m is not an integer. The set
        answered may be a new object: the caller keeps that one instead of self."""
        cdef long long v
        cdef int added
        if not member_ll(m, &v):
            return self, -1
        t = intset_add(self, v, &added)
        return t, added

    def discard(self, m):
        cdef long long v
        return member_ll(m, &v) and intset_remove(self, v)

    def random_member(self):
        if self.n == 0:
            raise KeyError("empty set")
        return intset_member(self, intset_random_index(self))

    def pop_random(self):
        cdef Py_ssize_t i
        if self.n == 0:
            raise KeyError("empty set")
        i = intset_random_index(self)
        m = intset_member(self, i)
        intset_remove_at(self, i)
        return m

    def copy(self):
        cdef IntSetValue other = intset_new(self.n, self.enc)
        memcpy(data(other), data(self), <Py_ssize_t>self.n * self.enc)
        other.n = self.n
        return other

    def to_rdb(self):
        members = SetMembers(self.ordered())
        members.intset_width = self.enc    # saved as an intset at its width, as redis rdbSaveObject
        return "set", members

    def mem_estimate(self):
        return intset_cost(self)

    def mem_usage(self):
        return intset_cost(self)

    def __reduce__(self):
        return (intset_of, (self.ordered(), self.enc))

    def __repr__(self):
        return "IntSetValue(%r)" % (self.ints(),)


HDR = (<PyTypeObject*>IntSetValue).tp_basicsize
