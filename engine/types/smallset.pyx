# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A compact set of short strings: the members of a set of at most SS_MAX_MEMBERS (128) members of at most
SS_MAX_LEN (64) bytes that is not an intset. It stands in for redis 7.0's hashtable encoding of a small set
(OBJECT ENCODING answers "hashtable", the RDB type is RDB_TYPE_SET, as redis 7.0 writes a hashtable set:
7.0 has no listpack sets), and holds a set of ten 8-byte members in one 160 B block where a Python set of
bytes objects takes ~1.2 KB. Past either limit the set commands (engine/types/set.py, t_set_fast.pyx)
turn it into a SetValue (a Python set) for good.

Layout, in the object's own allocation after its fields (no separate buffer, no GC header: the object
holds no Python references):
    index: `cap` uint16 slots (a power of two, load <= 4/5): 0 = empty, else the member's offset + 1
    packed members: [1-byte length][bytes] ... in insertion order (removal closes the gap)
Lookups hash the member (FNV-1a + fmix32) and probe linearly; a removal shifts the following cluster back
(no tombstones) and lowers the offsets above the removed member. Every operation is bounded by the limits
(at most 256 slots and 128 * 65 packed bytes), so adversarial members cannot make it worse than that.
A block grows by becoming a new object (ss_add / ss_reserve return it: the caller stores it in the record,
as IntSetValue does); a removal stays in place."""
from libc.stdint cimport uint16_t, uint32_t
from libc.string cimport memmove, memcpy, memcmp, memset
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
import random as _random
from engine.persistence.rdb import SetMembers

cdef extern from "Python.h":
    void* PyObject_Malloc(size_t size)
    PyObject* PyObject_Init(PyObject* op, PyTypeObject* tp)

MAX_MEMBERS = SS_MAX_MEMBERS
MAX_LEN = SS_MAX_LEN

cdef object _rng = _random.Random()
cdef unsigned long long _state = <unsigned long long>_rng.getrandbits(63) | 1


cdef inline unsigned long long next_random():
    """xorshift64*: the slot picks of SPOP / SRANDMEMBER (seeded from a random.Random at import)."""
    global _state
    _state ^= _state >> 12
    _state ^= _state << 25
    _state ^= _state >> 27
    return (_state * 2685821657736338717ULL) >> 32
cdef Py_ssize_t HDR                    # the fields' size: the index starts here (set at import)


cdef inline Py_ssize_t block_size(Py_ssize_t size):
    """pymalloc's 16 B classes up to 512 B; 64 B steps above (malloc)."""
    if size <= 512:
        return (size + 15) & ~15
    return (size + 63) & ~63


cdef inline Py_ssize_t cap_for(Py_ssize_t n):
    cdef Py_ssize_t cap = 4
    while n * 5 > cap * 4:
        cap <<= 1
    return cap


cdef inline uint16_t* index_of(SmallSetValue s):
    return <uint16_t*>((<char*><void*>s) + HDR)


cdef inline unsigned char* packed(SmallSetValue s):
    return <unsigned char*>((<char*><void*>s) + HDR + 2 * <Py_ssize_t>s.cap)


cdef inline uint32_t hash_of(const char* p, Py_ssize_t ln):
    cdef uint32_t h = 2166136261U
    cdef Py_ssize_t i
    for i in range(ln):
        h = (h ^ <unsigned char>p[i]) * 16777619U
    h ^= h >> 16
    h *= 0x85ebca6bU
    h ^= h >> 13
    h *= 0xc2b2ae35U
    h ^= h >> 16
    return h


cdef SmallSetValue ss_new(Py_ssize_t n, Py_ssize_t nbytes):
    """An empty set whose block holds n members of nbytes packed bytes in all (lengths included)."""
    cdef Py_ssize_t cap = cap_for(n)
    cdef Py_ssize_t size = block_size(HDR + 2 * cap + nbytes)
    cdef PyObject* p = <PyObject*>PyObject_Malloc(size)
    if p == NULL:
        raise MemoryError()
    PyObject_Init(p, <PyTypeObject*>SmallSetValue)
    cdef object o = <object>p          # a second reference: the one PyObject_Init made is dropped
    Py_DECREF(o)
    cdef SmallSetValue s = <SmallSetValue>o
    s.n = 0
    s.cap = <unsigned short>cap
    s.dlen = 0
    s.dcap = <unsigned int>(size - HDR - 2 * cap)
    memset(index_of(s), 0, 2 * cap)
    return s


cdef inline Py_ssize_t probe(SmallSetValue s, const char* p, Py_ssize_t ln, bint* found):
    """The slot holding the member, or the empty slot where it would go."""
    cdef uint16_t* idx = index_of(s)
    cdef unsigned char* d = packed(s)
    cdef Py_ssize_t mask = s.cap - 1
    cdef Py_ssize_t i = hash_of(p, ln) & mask
    cdef uint16_t o
    while True:
        o = idx[i]
        if o == 0:
            found[0] = 0
            return i
        o -= 1
        if d[o] == ln and memcmp(d + o + 1, p, ln) == 0:
            found[0] = 1
            return i
        i = (i + 1) & mask


cdef inline void index_insert(SmallSetValue s, Py_ssize_t off):
    cdef uint16_t* idx = index_of(s)
    cdef unsigned char* d = packed(s)
    cdef Py_ssize_t mask = s.cap - 1
    cdef Py_ssize_t i = hash_of(<char*>d + off + 1, d[off]) & mask
    while idx[i] != 0:
        i = (i + 1) & mask
    idx[i] = <uint16_t>(off + 1)


cdef void reindex(SmallSetValue t):
    """Index every packed member of t (its index is empty)."""
    cdef unsigned char* d = packed(t)
    cdef Py_ssize_t off = 0
    while off < <Py_ssize_t>t.dlen:
        index_insert(t, off)
        off += 1 + d[off]


cdef SmallSetValue ss_reserve(SmallSetValue s, Py_ssize_t more, Py_ssize_t more_bytes):
    """s, or a copy of it in a bigger block, with room for `more` members of `more_bytes` packed bytes."""
    cdef Py_ssize_t n = s.n + more
    if n * 5 <= <Py_ssize_t>s.cap * 4 and s.dlen + more_bytes <= s.dcap:
        return s
    cdef SmallSetValue t = ss_new(n, s.dlen + more_bytes)
    memcpy(packed(t), packed(s), s.dlen)
    t.dlen = s.dlen
    t.n = s.n
    reindex(t)
    return t


cdef SmallSetValue ss_add(SmallSetValue s, const char* p, Py_ssize_t ln, int* added):
    """Add the member (ln <= SS_MAX_LEN: the caller checks): the set holding it (s, or a bigger copy the
    caller stores in s's place); added is 1 when it was not there."""
    cdef bint found
    cdef Py_ssize_t slot = probe(s, p, ln, &found)
    cdef unsigned char* d
    added[0] = 0
    if found:
        return s
    added[0] = 1
    if (s.n + 1) * 5 > <Py_ssize_t>s.cap * 4 or s.dlen + 1 + ln > s.dcap:
        # grow by a quarter (at least one member), so a set built member by member is not copied each time
        s = ss_reserve(s, 1 + (s.n >> 2), (1 + ln) * (1 + (s.n >> 2)))
        slot = probe(s, p, ln, &found)
    d = packed(s)
    d[s.dlen] = <unsigned char>ln
    memcpy(d + s.dlen + 1, p, ln)
    index_of(s)[slot] = <uint16_t>(s.dlen + 1)
    s.dlen += 1 + ln
    s.n += 1
    return s


cdef void remove_slot(SmallSetValue s, Py_ssize_t slot):
    cdef uint16_t* idx = index_of(s)
    cdef unsigned char* d = packed(s)
    cdef Py_ssize_t mask = s.cap - 1
    cdef Py_ssize_t off = idx[slot] - 1
    cdef Py_ssize_t width = 1 + d[off]
    cdef Py_ssize_t i, j, home
    cdef uint16_t o
    # backward-shift deletion (linear probing without tombstones)
    i = slot
    j = slot
    while True:
        j = (j + 1) & mask
        o = idx[j]
        if o == 0:
            break
        home = hash_of(<char*>d + o, d[o - 1]) & mask
        # move idx[j] into the hole at i unless its home lies cyclically in (i, j]
        if (i <= j and (home <= i or home > j)) or (i > j and home <= i and home > j):
            idx[i] = o
            i = j
    idx[i] = 0
    # close the gap in the packed members and lower the offsets above it
    memmove(d + off, d + off + width, s.dlen - off - width)
    s.dlen -= <unsigned int>width
    s.n -= 1
    for i in range(s.cap):
        if idx[i] > off + 1:
            idx[i] -= <uint16_t>width


cdef bint ss_remove(SmallSetValue s, const char* p, Py_ssize_t ln):
    cdef bint found
    cdef Py_ssize_t slot
    if ln > SS_MAX_LEN or s.n == 0:
        return 0
    slot = probe(s, p, ln, &found)
    if not found:
        return 0
    remove_slot(s, slot)
    return 1


cdef bint ss_contains(SmallSetValue s, const char* p, Py_ssize_t ln):
    cdef bint found
    if ln > SS_MAX_LEN or s.n == 0:
        return 0
    probe(s, p, ln, &found)
    return found


cdef bytes ss_random_pop(SmallSetValue s, bint remove):
    """A uniformly random member (a random live slot: each member owns one), removed when `remove`."""
    cdef uint16_t* idx = index_of(s)
    cdef unsigned char* d = packed(s)
    cdef Py_ssize_t i
    cdef uint16_t o
    if s.n == 0:
        raise KeyError("empty set")
    while True:                       # load >= 1/5 unless removals thinned it: bounded by the index size
        i = <Py_ssize_t>(next_random() & (s.cap - 1))
        o = idx[i]
        if o != 0:
            break
    m = PyBytes_FromStringAndSize(<char*>d + o, d[o - 1])
    if remove:
        remove_slot(s, i)
    return m


cdef long long ss_cost(SmallSetValue s):
    """Estimated bytes: the object's block (engine/evict.pxi value_cost through mem_estimate)."""
    return block_size(HDR + 2 * <Py_ssize_t>s.cap + s.dcap)


def fits(members):
    """Whether these members (bytes) fit a SmallSetValue: at most the count limit once deduplicated, none
    longer than the length limit."""
    cdef Py_ssize_t n = 0
    for m in members:
        if type(m) is not bytes or PyBytes_GET_SIZE(m) > SS_MAX_LEN:
            return False
        n += 1
    return n <= SS_MAX_MEMBERS or len(set(members)) <= SS_MAX_MEMBERS


def smallset_of(members=()):
    """A SmallSetValue of the members (bytes; ValueError past the limits)."""
    cdef Py_ssize_t total = 0, n = 0
    cdef int added
    if not isinstance(members, (list, tuple)):
        members = list(members)
    for m in members:
        if type(m) is not bytes or PyBytes_GET_SIZE(m) > SS_MAX_LEN:
            raise ValueError("not a small-set member: %r" % (m,))
        total += 1 + PyBytes_GET_SIZE(m)
        n += 1
    if n > SS_MAX_MEMBERS:
        members = list(dict.fromkeys(members))
        if len(members) > SS_MAX_MEMBERS:
            raise ValueError("too many members for a small set")
        n = len(members)
        total = sum(1 + len(m) for m in members)
    cdef SmallSetValue s = ss_new(n, total)
    for m in members:
        s = ss_add(s, PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m), &added)
    return s


cdef class SmallSetValue:
    """A compact small set of strings: the Python face the generic code uses (len, in, iteration in the
    packed order, ordered(), encoding(), to_rdb(), copy(), mem_estimate()). Additions go through
    with_member (or the C ss_add), which may answer a new object."""
    type_name = b"set"

    def __cinit__(self):
        raise TypeError("SmallSetValue objects are made by engine.types.smallset.smallset_of")

    @property
    def hashtable(self):
        return True                   # what redis 7.0 encodes it as (RDB_TYPE_SET, OBJECT ENCODING)

    def __len__(self):
        return self.n

    def __bool__(self):
        return self.n != 0

    def __contains__(self, m):
        if type(m) is not bytes:
            return False
        return ss_contains(self, PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m))

    def __iter__(self):
        return iter(self.ordered())

    def ordered(self):
        cdef unsigned char* d = packed(self)
        cdef Py_ssize_t off = 0
        cdef list out = []
        while off < <Py_ssize_t>self.dlen:
            out.append(PyBytes_FromStringAndSize(<char*>d + off + 1, d[off]))
            off += 1 + d[off]
        return out

    def encoding(self, config=None):
        return b"hashtable"

    def with_member(self, m):
        """(the set holding m, 1 if m was added else 0), or (self, -1) when m would take it past a limit
        (the caller converts). The set answered may be a new object: the caller keeps that one."""
        cdef int added
        if type(m) is not bytes:
            return self, -1
        if ss_contains(self, PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m)):
            return self, 0
        if PyBytes_GET_SIZE(m) > SS_MAX_LEN or self.n >= SS_MAX_MEMBERS:
            return self, -1
        t = ss_add(self, PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m), &added)
        return t, added

    def discard(self, m):
        if type(m) is not bytes:
            return False
        return ss_remove(self, PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m))

    def random_member(self):
        return ss_random_pop(self, False)

    def pop_random(self):
        return ss_random_pop(self, True)

    def pop(self):
        return ss_random_pop(self, True)

    def copy(self):
        cdef SmallSetValue t = ss_new(self.n, self.dlen)
        memcpy(packed(t), packed(self), self.dlen)
        t.n = self.n
        t.dlen = self.dlen
        reindex(t)
        return t

    def to_rdb(self):
        members = SetMembers(self.ordered())
        members.hashtable = True           # RDB_TYPE_SET, as redis 7.0 saves a hashtable set
        return "set", members

    def mem_estimate(self):
        return ss_cost(self)

    def mem_usage(self):
        return ss_cost(self)

    def __reduce__(self):
        return (smallset_of, (self.ordered(),))

    def __repr__(self):
        return "SmallSetValue(%r)" % (self.ordered(),)


HDR = (<PyTypeObject*>SmallSetValue).tp_basicsize
