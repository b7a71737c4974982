# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Redis 7.0's intset (intset.c) as a set value: the members of an all-integer set of at most
set-max-intset-entries members, as sorted packed integers of one width (int16, int32 or int64, upgraded
when a wider value arrives, never downgraded) in one buffer. OBJECT ENCODING answers "intset"; the set
commands (engine/commands/t_set.py, t_set_fast.pyx) turn it into a SetValue (hashtable) for good when a
non-integer member arrives or the count passes the limit, as redis's setTypeConvert does.

The object has no Python references (no GC header): 32 bytes plus its buffer, against redis's 16 B robj
plus an 8 B intset header and the same packed buffer. Members are bytes in redis's canonical decimal form
(string2ll accepts exactly what ll2string writes), so a member's bytes are recomputed from its integer."""
from libc.stdint cimport int16_t, int32_t, int64_t
from libc.string cimport memmove
from cpython.mem cimport PyMem_Realloc, PyMem_Free
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from protocol.cutil cimport string2ll
import random as _random
from engine.persistence.rdb import SetMembers

cdef object _rng = _random.Random()


cdef inline unsigned char value_enc(long long v):
    if v < -2147483648LL or v > 2147483647LL:
        return 8
    if v < -32768 or v > 32767:
        return 4
    return 2


cdef inline long long get_enc(void* buf, Py_ssize_t i, unsigned char enc):
    if enc == 2:
        return (<int16_t*>buf)[i]
    if enc == 4:
        return (<int32_t*>buf)[i]
    return (<int64_t*>buf)[i]


cdef inline void set_enc(void* buf, Py_ssize_t i, unsigned char enc, long long v):
    if enc == 2:
        (<int16_t*>buf)[i] = <int16_t>v
    elif enc == 4:
        (<int32_t*>buf)[i] = <int32_t>v
    else:
        (<int64_t*>buf)[i] = <int64_t>v


cdef bint is_intset(object o):
    return type(o) is IntSetValue


cdef long long intset_get(IntSetValue s, Py_ssize_t i):
    return get_enc(s.buf, i, s.enc)


cdef inline Py_ssize_t search(IntSetValue s, long long v, bint* found):
    """intsetSearch: the position of v, or where it would be inserted."""
    cdef Py_ssize_t lo = 0, hi = <Py_ssize_t>s.n - 1, mid
    cdef long long cur
    found[0] = 0
    if s.n == 0:
        return 0
    if v > get_enc(s.buf, hi, s.enc):
        return s.n
    if v < get_enc(s.buf, 0, s.enc):
        return 0
    while hi >= lo:
        mid = (lo + hi) >> 1
        cur = get_enc(s.buf, mid, s.enc)
        if v > cur:
            lo = mid + 1
        elif v < cur:
            hi = mid - 1
        else:
            found[0] = 1
            return mid
    return lo


cdef int resize(IntSetValue s, Py_ssize_t n, unsigned char enc) except -1:
    cdef void* p
    if n == 0:
        PyMem_Free(s.buf)
        s.buf = NULL
        return 0
    p = PyMem_Realloc(s.buf, <size_t>n * enc)
    if p == NULL:
        raise MemoryError()
    s.buf = p
    return 0


cdef int upgrade_and_add(IntSetValue s, long long v) except -1:
    """intsetUpgradeAndAdd: v does not fit the current width, so it is the new minimum or maximum."""
    cdef unsigned char old = s.enc, new = value_enc(v)
    cdef Py_ssize_t length = s.n, i
    cdef bint prepend = v < 0
    s.enc = new
    resize(s, length + 1, new)
    i = length
    while i > 0:                       # back to front: the wider slots overlap the narrower ones
        i -= 1
        set_enc(s.buf, i + prepend, new, get_enc(s.buf, i, old))
    if prepend:
        set_enc(s.buf, 0, new, v)
    else:
        set_enc(s.buf, length, new, v)
    s.n = <unsigned int>(length + 1)
    return 1


cdef int intset_add(IntSetValue s, long long v) except -1:
    """intsetAdd: 1 when v was added, 0 when already present."""
    cdef bint found
    cdef Py_ssize_t pos
    if value_enc(v) > s.enc:
        return upgrade_and_add(s, v)
    pos = search(s, v, &found)
    if found:
        return 0
    resize(s, s.n + 1, s.enc)
    if pos < s.n:
        memmove(<char*>s.buf + (pos + 1) * s.enc, <char*>s.buf + pos * s.enc, (s.n - pos) * s.enc)
    set_enc(s.buf, pos, s.enc, v)
    s.n += 1
    return 1


cdef void intset_remove_at(IntSetValue s, Py_ssize_t pos):
    if pos < <Py_ssize_t>s.n - 1:
        memmove(<char*>s.buf + pos * s.enc, <char*>s.buf + (pos + 1) * s.enc, (s.n - pos - 1) * s.enc)
    s.n -= 1
    try:
        resize(s, s.n, s.enc)          # shrinking never fails in practice; the buffer stays valid if it does
    except MemoryError:
        pass


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
    cdef long long v = get_enc(s.buf, i, s.enc)
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


cdef inline long long alloc_size(long long size):
    """engine/evict.pxi alloc_size."""
    if size <= 512:
        return (size + 15) & ~15
    return (size + 16 + 15) & ~15


cdef long long intset_cost(IntSetValue s):
    """Estimated bytes: the object (32) and its buffer."""
    return 32 + (alloc_size(<long long>s.n * s.enc) if s.n else 0)


cdef Py_ssize_t intset_random_index(IntSetValue s) except -1:
    """A uniformly random position (intsetRandom)."""
    return <Py_ssize_t>_rng.randrange(s.n)


cdef inline bint member_ll(object m, long long* v):
    if type(m) is not bytes:
        return 0
    return string2ll(PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m), v)


cdef class IntSetValue:
    """An intset-encoded set: the Python face the generic code uses (len, in, iteration in ascending order,
    ordered(), encoding(), to_rdb(), copy(), mem_estimate())."""
    type_name = b"set"

    def __cinit__(self):
        self.buf = NULL
        self.n = 0
        self.enc = 2

    def __dealloc__(self):
        PyMem_Free(self.buf)

    def __init__(self, members=(), int width=2):
        cdef long long v
        if width == 4 or width == 8:
            self.enc = width               # an intset loaded from RDB keeps the width it was saved with
        for m in members:
            if not member_ll(m, &v):
                raise ValueError("not an integer member: %r" % (m,))
            intset_add(self, v)

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

    def add(self, m):
        """1 when the integer member m was added, 0 when present, -1 when m is not an integer."""
        cdef long long v
        if not member_ll(m, &v):
            return -1
        return intset_add(self, v)

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
        cdef IntSetValue other = IntSetValue.__new__(IntSetValue)
        cdef Py_ssize_t i
        other.enc = self.enc
        if self.n:
            resize(other, self.n, self.enc)
            for i in range(self.n):
                set_enc(other.buf, i, self.enc, get_enc(self.buf, i, self.enc))
            other.n = self.n
        return other

    def to_rdb(self):
        members = SetMembers(self.ordered())
        members.intset_width = self.enc    # saved as an intset at its width, as redis rdbSaveObject
        return "set", members

    def blob(self):
        """The redis intset blob (RDB_TYPE_SET_INTSET's string): encoding, length, little-endian ints."""
        cdef bytes head = (<unsigned int>self.enc).to_bytes(4, "little") + (<unsigned int>self.n).to_bytes(4, "little")
        return head + (PyBytes_FromStringAndSize(<char*>self.buf, <Py_ssize_t>self.n * self.enc) if self.n else b"")

    def mem_estimate(self):
        return intset_cost(self)

    def mem_usage(self):
        return intset_cost(self)

    def __reduce__(self):
        return (IntSetValue, (self.ordered(),))

    def __repr__(self):
        return "IntSetValue(%r)" % (self.ints(),)
