# cython: language_level=3
"""Sorted-set value core, a port of Redis 7.0's zskiplist (t_zset.c).

``ZSet`` keeps a skiplist ordered by (score, member bytes compared with memcmp) for ranks and
ranges, plus a dict member -> score for O(1) lookups, exactly like Redis's skiplist encoding.
Scores are C doubles and NaN is never stored.  Ranks given to and returned by this module are
0-based; range arguments are already-normalised inclusive indices.

Module helpers reproduce how Redis parses and prints scores:
``parse_score`` (ZADD/ZINCRBY argument), ``parse_score_bound`` (ZRANGEBYSCORE min/max),
``parse_lex_bound`` (ZRANGEBYLEX min/max) and ``format_score`` (RESP2 reply of a double).
"""
from cpython.object cimport PyObject, PyObject_Hash
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport uint64_t
from libc.stdlib cimport malloc, calloc, realloc, free, strtod
from libc.string cimport memcmp, memcpy, memmove
from libc.stdio cimport snprintf
from libc.math cimport isnan, isinf, fabs, signbit, HUGE_VAL, fpclassify, FP_ZERO
from libc.float cimport FLT_MAX

import random as _random

cdef extern from "Python.h":
    char *bytes_data "PyBytes_AS_STRING" (PyObject *o)
    Py_ssize_t bytes_size "PyBytes_GET_SIZE" (PyObject *o)

cdef extern from "ctype.h":
    int isspace(int c)

cdef extern from *:
    """
    #include <errno.h>
    static inline void cm_clear_errno(void) { errno = 0; }
    static inline int cm_errno_is_erange(void) { return errno == ERANGE; }
    """
    void cm_clear_errno()
    int cm_errno_is_erange()

cdef enum:
    MAX_LEVEL = 32        # ZSKIPLIST_MAXLEVEL
    HEADER_LEVELS = 4     # levels of a new zset's header (grown to MAX_LEVEL by the first taller node)

cdef double LEVEL_P = 0.25   # ZSKIPLIST_P
# memory accounting: the object, its dict and header node; per member the bytes object header (33, rounded),
# a node of ~1.33 levels (48), a dict slot and a float (64)
cdef Py_ssize_t ZSET_BASE_COST = 300
cdef Py_ssize_t ZSET_MEMBER_COST = 48 + 48 + 64
# a packed set: the object alone, then its buffer
cdef Py_ssize_t ZSET_PACKED_BASE = 160
cdef size_t ZTAB_MIN = 8                # first capacity of the member -> node table
cdef size_t ZTAB_STEP = 16              # old slots moved per write while the table grows
cdef size_t ZTAB_AT_ONCE = 4096         # a table up to this capacity grows in one pass
cdef SkipNode *ZTOMB = <SkipNode*>1     # a slot of the draining table whose member was removed
DEF PACK_MAX_ENTRIES = 128   # beyond these (redis's listpack defaults) a set becomes a skiplist for good
DEF PACK_MAX_VALUE = 64
# A packed entry is [header byte][score][member]. The header byte gives the score's width and the member's
# length (redis's listpack stores small integer scores in a byte too):
#   0x00-0x7f  an 8-byte double, member length = the byte (0..64)
#   0x80-0xbf  a 4-byte float that is exactly the score, member length = byte & 0x3f (0..63)
#   0xc0-0xff  a signed byte that is exactly the score (an integer in -128..127, not -0), length = byte & 0x3f
DEF PK_DOUBLE = 0x00
DEF PK_FLOAT = 0x80
DEF PK_INT8 = 0xc0


cdef inline Py_ssize_t pk_capacity(Py_ssize_t used):
    """The packed buffer's size for used bytes: always exact to 16, so no capacity field is kept (the
    zset object is 16 B smaller: one pymalloc class)."""
    return (used + 15) & ~15


cdef inline Py_ssize_t pk_mlen(const char *p):
    cdef unsigned char b = <unsigned char>p[0]
    return b if b < 0x80 else (b & 0x3f)


cdef inline Py_ssize_t pk_hdr(const char *p):
    """Bytes before the member: the header byte and the score."""
    cdef unsigned char b = <unsigned char>p[0]
    return 9 if b < 0x80 else (5 if b < 0xc0 else 2)


cdef inline Py_ssize_t pk_size(const char *p):
    return pk_hdr(p) + pk_mlen(p)


cdef inline double pk_score_at(const char *p):
    cdef unsigned char b = <unsigned char>p[0]
    cdef double d
    cdef float f
    if b < 0x80:
        memcpy(&d, p + 1, 8)
        return d
    if b < 0xc0:
        memcpy(&f, p + 1, 4)
        return <double>f
    return <double>(<signed char>p[1])


cdef inline Py_ssize_t pk_hdr_for(double score, Py_ssize_t n, unsigned char *kind):
    """The narrowest exact encoding of score for a member of n bytes; its header size."""
    if n < 64:
        if -128.0 <= score <= 127.0 and score == <double>(<signed char>score) and not (score == 0.0 and signbit(score)):
            kind[0] = PK_INT8
            return 2
        if (isinf(score) or fabs(score) <= FLT_MAX) and <double>(<float>score) == score:
            kind[0] = PK_FLOAT
            return 5
    kind[0] = PK_DOUBLE
    return 9


cdef inline void pk_write(char *e, double score, unsigned char kind, const char *m, Py_ssize_t n):
    cdef float f
    cdef Py_ssize_t h
    e[0] = <char>(kind | <unsigned char>n)
    if kind == PK_DOUBLE:
        memcpy(e + 1, &score, 8)
        h = 9
    elif kind == PK_FLOAT:
        f = <float>score
        memcpy(e + 1, &f, 4)
        h = 5
    else:
        e[1] = <char>(<signed char>score)
        h = 2
    memcpy(e + h, m, n)


cdef inline int raw_cmp(const char *a, Py_ssize_t la, const char *b, Py_ssize_t lb):
    cdef int c = memcmp(a, b, la if la < lb else lb)
    if c != 0:
        return c
    return -1 if la < lb else (1 if la > lb else 0)


cdef inline bint pk_before(const char *e, double score, const char *m, Py_ssize_t n):
    """Whether the packed entry at e sorts before (score, m): node_before for packed entries."""
    cdef double es = pk_score_at(e)
    return es < score or (es == score and raw_cmp(e + pk_hdr(e), pk_mlen(e), m, n) < 0)

ERR_NOT_FLOAT = "ERR value is not a valid float"
ERR_RANGE_NOT_FLOAT = "ERR min or max is not a float"
ERR_LEX_RANGE = "ERR min or max not valid string range item"

cdef uint64_t _level_rng = 0x9E3779B97F4A7C15


# ---------------------------------------------------------------- score text

def format_score(double value):
    """Bytes Redis 7.0 replies for a score in RESP2 (addReplyDouble): %.17g, inf, -inf."""
    cdef char buf[64]
    cdef int n
    if isinf(value):
        return b"inf" if value > 0 else b"-inf"
    n = snprintf(buf, sizeof(buf), "%.17g", value)
    return buf[:n]


def parse_score(bytes text):
    """Parse a score argument like getDoubleFromObject(): strtod over the whole string,
    no leading space, no overflow/underflow to zero, no NaN.  Raises ValueError."""
    cdef const char *start = text
    cdef char *end
    cdef double value
    cdef Py_ssize_t n = len(text)
    if n == 0 or isspace(<unsigned char>start[0]):
        raise ValueError(ERR_NOT_FLOAT)
    cm_clear_errno()
    value = strtod(start, &end)
    if (end - start) != n or isnan(value) or (
            cm_errno_is_erange() and (value == HUGE_VAL or value == -HUGE_VAL
                                 or fpclassify(value) == FP_ZERO)):
        raise ValueError(ERR_NOT_FLOAT)
    return value


def parse_score_bound(bytes text):
    """Parse a ZRANGEBYSCORE-style bound like zslParseRange(): optional '(' for exclusive.
    Returns (value, exclusive).  Raises ValueError('ERR min or max is not a float')."""
    cdef const char *start = text
    cdef char *end
    cdef double value
    cdef bint exclusive = start[0] == b'('
    if exclusive:
        start += 1
    value = strtod(start, &end)
    # Redis checks only that strtod stopped on the terminating NUL (leading spaces pass).
    if end[0] != 0 or isnan(value):
        raise ValueError(ERR_RANGE_NOT_FLOAT)
    return value, exclusive


cdef class LexBound:
    """One end of a lex range: '-' (kind -1), '+' (kind 1) or '[value' / '(value' (kind 0)."""

    def __init__(self, int kind, bytes value=b"", bint exclusive=False):
        self.kind = kind
        self.value = value
        self.exclusive = exclusive

    def __repr__(self):
        if self.kind:
            return "LexBound(%s)" % ("+" if self.kind > 0 else "-")
        return "LexBound(%s%r)" % ("(" if self.exclusive else "[", self.value)


def parse_lex_bound(bytes text):
    """Parse a ZRANGEBYLEX bound like zslParseLexRangeItem().  Raises ValueError."""
    cdef const char *c = text
    if len(text) == 0:
        raise ValueError(ERR_LEX_RANGE)
    if c[0] == b'+' or c[0] == b'-':
        if c[1] != 0:
            raise ValueError(ERR_LEX_RANGE)
        # Redis marks both infinities as exclusive; it matters for the empty-range check.
        return LexBound(1 if c[0] == b'+' else -1, b"", True)
    if c[0] == b'(':
        return LexBound(0, text[1:], True)
    if c[0] == b'[':
        return LexBound(0, text[1:], False)
    raise ValueError(ERR_LEX_RANGE)


# ---------------------------------------------------------------- comparisons

cdef inline int member_cmp(PyObject *a, PyObject *b) noexcept:
    """sdscmp(): memcmp over the common prefix, then the shorter string sorts first."""
    cdef Py_ssize_t la = bytes_size(a), lb = bytes_size(b)
    cdef int c = memcmp(bytes_data(a), bytes_data(b), la if la < lb else lb)
    if c != 0:
        return c
    return (la > lb) - (la < lb)


cdef inline bint node_before(SkipNode *node, double score, PyObject *member) noexcept:
    return node.score < score or (node.score == score and member_cmp(node.member, member) < 0)


cdef inline SkipLevel* LV(SkipNode *x) noexcept:
    """x.level without loading the pointer: the levels always follow the node in its allocation (one cache
    miss less per node a search enters)."""
    return <SkipLevel*>((<char*>x) + sizeof(SkipNode))


cdef inline bint level_before(SkipLevel *l, double score, PyObject *member) noexcept:
    """node_before(l.forward, ...) from the score cached in the level (l.forward is not NULL)."""
    return l.fscore < score or (l.fscore == score and member_cmp(l.forward.member, member) < 0)


cdef inline int lex_cmp_value(PyObject *value, LexBound bound):
    """sdscmplex(value, bound) for a real member value."""
    if bound.kind < 0:
        return 1
    if bound.kind > 0:
        return -1
    return member_cmp(value, <PyObject*>bound.value)


cdef inline int lex_cmp_bounds(LexBound a, LexBound b):
    """sdscmplex(a, b) between two bounds (identical infinities compare equal)."""
    if a.kind == b.kind and a.kind != 0:
        return 0
    if a.kind < 0 or b.kind > 0:
        return -1
    if a.kind > 0 or b.kind < 0:
        return 1
    return member_cmp(<PyObject*>a.value, <PyObject*>b.value)


cdef inline bint lex_gte_min(PyObject *value, LexBound lo):
    cdef int c = lex_cmp_value(value, lo)
    return c > 0 if lo.exclusive else c >= 0


cdef inline bint lex_lte_max(PyObject *value, LexBound hi):
    cdef int c = lex_cmp_value(value, hi)
    return c < 0 if hi.exclusive else c <= 0


cdef inline bint score_gte_min(double v, double lo, bint lo_ex):
    return v > lo if lo_ex else v >= lo


cdef inline bint score_lte_max(double v, double hi, bint hi_ex):
    return v < hi if hi_ex else v <= hi


cdef inline bint score_range_empty(double lo, double hi, bint lo_ex, bint hi_ex):
    return lo > hi or (lo == hi and (lo_ex or hi_ex))


cdef inline bint lex_range_empty(LexBound lo, LexBound hi):
    cdef int c = lex_cmp_bounds(lo, hi)
    return c > 0 or (c == 0 and (lo.exclusive or hi.exclusive))


cdef SkipNode* new_node(int nlevels, double score, PyObject *member) except NULL:
    cdef SkipNode *node = <SkipNode*>malloc(sizeof(SkipNode) + nlevels * sizeof(SkipLevel))
    cdef int i
    if node == NULL:
        raise MemoryError()
    node.level = <SkipLevel*>(<char*>node + sizeof(SkipNode))
    node.nlevels = nlevels
    node.score = score
    node.member = member
    if member != NULL:
        Py_INCREF(<object>member)
    node.backward = NULL
    for i in range(nlevels):
        node.level[i].forward = NULL
        node.level[i].fscore = 0.0
        node.level[i].span = 0
    return node


cdef void free_node(SkipNode *node):
    if node.member != NULL:
        Py_DECREF(<object>node.member)
    free(node)


cdef inline tuple node_item(SkipNode *node):
    return (<object>node.member, node.score)


# ---------------------------------------------------------------- the sorted set

cdef inline Py_ssize_t _probe(ZSlot *t, size_t mask, size_t live_from, PyObject *m, Py_hash_t h) noexcept:
    """Linear probe of table t for member m (hash h): its slot index, or -1 - (the empty slot that ends the run).
    Slots below live_from and tombstones are passed over (a draining table: see ZSet's member table)."""
    cdef size_t i = <size_t>h & mask
    cdef PyObject *o
    cdef Py_ssize_t n = bytes_size(m)
    while t[i].node != NULL:
        if t[i].hash == h and i >= live_from and t[i].node != ZTOMB:
            o = t[i].node.member
            if o == m or (bytes_size(o) == n and memcmp(bytes_data(o), bytes_data(m), n) == 0):
                return <Py_ssize_t>i
        i = (i + 1) & mask
    return -1 - <Py_ssize_t>i


cdef class ZSet:
    """Redis sorted set: skiplist ordered by (score, member) + dict member -> score."""

    def __cinit__(self):
        self.header = NULL            # packed until _unpack
        self.tail = NULL
        self.length = 0
        self.level = 1
        self.tab = NULL
        self.tmask = 0
        self.otab = NULL
        self.omask = 0
        self.opos = 0
        self.packed = True
        self.pk = NULL
        self.pk_len = 0

    def __dealloc__(self):
        cdef SkipNode *node
        cdef SkipNode *nxt
        if self.pk != NULL:
            free(self.pk)
            self.pk = NULL
        if self.tab != NULL:
            free(self.tab)
            self.tab = NULL
        if self.otab != NULL:
            free(self.otab)
            self.otab = NULL
        if self.header == NULL:
            return
        node = self.header.level[0].forward
        while node != NULL:
            nxt = node.level[0].forward
            free_node(node)
            node = nxt
        free(self.header)
        self.header = NULL

    # ------------------------------------------------------------ the packed form

    cdef int _unpack(self) except -1:
        """Build the skiplist and the dict from the packed entries (for good: a set only grows out of it)."""
        cdef Py_ssize_t off = 0, n
        cdef char *buf = self.pk
        cdef Py_ssize_t used = self.pk_len
        cdef bytes member
        cdef double score
        if not self.packed:
            return 0
        self.header = new_node(HEADER_LEVELS, 0.0, NULL)
        self.tail = NULL
        self.level = 1
        self.length = 0
        self.member_bytes = 0
        self._t_init(ZTAB_MIN)
        self.packed = False
        self.pk = NULL
        self.pk_len = 0
        try:
            while off < used:
                n = pk_mlen(buf + off)
                score = pk_score_at(buf + off)
                member = PyBytes_FromStringAndSize(buf + off + pk_hdr(buf + off), n)
                self._t_add(self._insert(score, member))
                off += pk_size(buf + off)
        finally:
            free(buf)
        return 0

    # ------------------------------------------------------------ the member -> node table
    # Open addressing with linear probing over (hash, node) slots, load <= 3/4, deletion by backward shift
    # (no tombstones). A lookup is one slot miss + the node (score beside the member pointer) + the member's
    # bytes; the dict it replaces took indices + entry + key + a float object per member.
    # Growing is incremental, as redis rehashes its dicts: a table over 4096 slots that fills up becomes
    # `otab` beside a new table twice its size, and every later add or remove moves the entries of the next
    # 16 old slots (opos onwards) into the new one, so no single command pays for a million entries (a
    # one-pass doubling at 1M members held one ZADD for ~30 ms). A member is in exactly one of the two: new
    # members go to `tab`; a lookup tries `tab`, then `otab` where only slots from opos on count (those below
    # were copied and keep their stale entries so probe runs stay unbroken); a member removed from `otab`
    # leaves a tombstone there (the draining table takes no inserts, so they never pile up).

    cdef Py_ssize_t _t_find(self, PyObject *m, Py_hash_t h) noexcept:
        """Slot index of member m (hash h) in tab, or -1 - (the empty slot where it would go)."""
        return _probe(self.tab, self.tmask, 0, m, h)

    cdef Py_ssize_t _o_find(self, PyObject *m, Py_hash_t h) noexcept:
        """Slot index of member m in the draining otab (a live slot from opos on), or -1."""
        cdef Py_ssize_t i = _probe(self.otab, self.omask, self.opos, m, h)
        return i if i >= 0 else -1

    cdef SkipNode* _t_get(self, bytes member) except? NULL:
        cdef Py_hash_t h = PyObject_Hash(member)
        cdef Py_ssize_t i = self._t_find(<PyObject*>member, h)
        if i >= 0:
            return self.tab[i].node
        if self.otab != NULL:
            i = self._o_find(<PyObject*>member, h)
            if i >= 0:
                return self.otab[i].node
        return NULL

    cdef int _t_add(self, SkipNode *node) except -1:
        """Index a node just linked (its member is in neither table; self.length already counts it)."""
        cdef Py_hash_t h = PyObject_Hash(<object>node.member)
        cdef Py_ssize_t i
        if self.otab != NULL:
            self._t_step(ZTAB_STEP)
        if self.length * 4 > (self.tmask + 1) * 3:
            self._t_grow()
        i = -1 - self._t_find(node.member, h)
        self.tab[i].hash = h
        self.tab[i].node = node
        return 0

    cdef SkipNode* _t_remove(self, bytes member) except? NULL:
        """Unindex member; its node (still linked), or NULL when absent."""
        cdef Py_hash_t h = PyObject_Hash(member)
        cdef Py_ssize_t i = self._t_find(<PyObject*>member, h)
        cdef SkipNode *node = NULL
        if i >= 0:
            node = self.tab[i].node
            self._t_del_at(i)
        elif self.otab != NULL:
            i = self._o_find(<PyObject*>member, h)
            if i >= 0:
                node = self.otab[i].node
                self.otab[i].node = ZTOMB
        if self.otab != NULL:
            self._t_step(ZTAB_STEP)
        return node

    cdef void _t_del_at(self, size_t i) noexcept:
        """Empty slot i of tab, shifting back the entries of its probe run that may not stay past a hole."""
        cdef ZSlot *t = self.tab
        cdef size_t mask = self.tmask, j = i, k
        while True:
            j = (j + 1) & mask
            if t[j].node == NULL:
                break
            k = <size_t>t[j].hash & mask        # the entry's home slot
            # it may move to i when i lies cyclically in [k, j)
            if (j > i and (k <= i or k > j)) or (j < i and k <= i and k > j):
                t[i] = t[j]
                i = j
        t[i].node = NULL
        t[i].hash = 0

    cdef int _t_init(self, size_t cap) except -1:
        cdef ZSlot *t = <ZSlot*>calloc(cap, sizeof(ZSlot))
        if t == NULL:
            raise MemoryError()
        if self.tab != NULL:
            free(self.tab)
        self.tab = t
        self.tmask = cap - 1
        return 0

    cdef int _t_grow(self) except -1:
        """tab is full: a table twice its size takes the new members; the old one drains into it."""
        cdef size_t cap = (self.tmask + 1) * 2
        cdef ZSlot *t
        if self.otab != NULL:
            self._t_step(self.omask + 1)      # (cannot happen at 16 slots per write; kept exact anyway)
        t = <ZSlot*>calloc(cap, sizeof(ZSlot))
        if t == NULL:
            raise MemoryError()
        self.otab = self.tab
        self.omask = self.tmask
        self.opos = 0
        self.tab = t
        self.tmask = cap - 1
        if cap <= ZTAB_AT_ONCE:
            self._t_step(self.omask + 1)
        return 0

    cdef void _t_step(self, size_t slots) noexcept:
        """Move the live entries of the next `slots` old slots into tab; free otab once it is drained."""
        cdef size_t end = self.opos + slots, ocap = self.omask + 1, j, k
        cdef ZSlot *o = self.otab
        cdef ZSlot *t = self.tab
        if end > ocap:
            end = ocap
        for j in range(self.opos, end):
            if o[j].node != NULL and o[j].node != ZTOMB:
                k = <size_t>o[j].hash & self.tmask
                while t[k].node != NULL:
                    k = (k + 1) & self.tmask
                t[k] = o[j]
        self.opos = end
        if end == ocap:
            free(o)
            self.otab = NULL
            self.omask = 0
            self.opos = 0

    cdef Py_ssize_t _pk_find(self, const char *m, Py_ssize_t n):
        """Offset of the member's entry, -1 when absent."""
        cdef Py_ssize_t off = 0
        cdef const char *e
        while off < self.pk_len:
            e = self.pk + off
            if pk_mlen(e) == n and memcmp(e + pk_hdr(e), m, n) == 0:
                return off
            off += pk_size(e)
        return -1

    cdef Py_ssize_t _pk_offset_at(self, Py_ssize_t index):
        cdef Py_ssize_t off = 0
        while index > 0:
            off += pk_size(self.pk + off)
            index -= 1
        return off

    cdef int _pk_insert(self, double score, const char *m, Py_ssize_t n) except -1:
        """Insert an absent member at its sorted place. The buffer grows to fit (rounded to pymalloc's 16-byte
        classes), as a listpack is reallocated per insert (libc realloc: pymalloc's per-size pools cost
        more RSS for buffers that step through every 16-byte class): no slack is kept for the next member."""
        cdef unsigned char kind
        cdef Py_ssize_t size = pk_hdr_for(score, n, &kind) + n
        cdef Py_ssize_t off = 0, need = self.pk_len + size
        cdef char *grown
        cdef char *e
        if self.pk == NULL or pk_capacity(need) != pk_capacity(self.pk_len):
            grown = <char*>realloc(self.pk, pk_capacity(need))
            if grown == NULL:
                raise MemoryError()
            self.pk = grown
        while off < self.pk_len and pk_before(self.pk + off, score, m, n):
            off += pk_size(self.pk + off)
        e = self.pk + off
        memmove(e + size, e, self.pk_len - off)
        pk_write(e, score, kind, m, n)
        self.pk_len = need
        self.length += 1
        self.member_bytes += n
        return 0

    cdef void _pk_remove_at(self, Py_ssize_t off):
        cdef Py_ssize_t n = pk_mlen(self.pk + off)
        cdef Py_ssize_t size = pk_size(self.pk + off)
        cdef char *smaller
        memmove(self.pk + off, self.pk + off + size, self.pk_len - off - size)
        self.length -= 1
        self.member_bytes -= n
        if self.pk_len == size:                  # the last entry (realloc to 0 bytes would free it)
            free(self.pk)
            self.pk = NULL
        elif pk_capacity(self.pk_len - size) != pk_capacity(self.pk_len):     # shrinks in place
            smaller = <char*>realloc(self.pk, pk_capacity(self.pk_len - size))
            if smaller != NULL:
                self.pk = smaller
        self.pk_len -= size

    cdef list _pk_items(self):
        cdef list out = []
        cdef Py_ssize_t off = 0, n
        while off < self.pk_len:
            n = pk_mlen(self.pk + off)
            out.append((PyBytes_FromStringAndSize(self.pk + off + pk_hdr(self.pk + off), n),
                        pk_score_at(self.pk + off)))
            off += pk_size(self.pk + off)
        return out

    # ------------------------------------------------------------ point operations for compiled callers

    cdef int z_find(self, bytes member, double *out) except -1:
        cdef SkipNode *node
        cdef Py_ssize_t off
        if self.packed:
            off = self._pk_find(PyBytes_AS_STRING(member), PyBytes_GET_SIZE(member))
            if off < 0:
                return 0
            out[0] = pk_score_at(self.pk + off)
            return 1
        node = self._t_get(member)
        if node == NULL:
            return 0
        out[0] = node.score
        return 1

    cdef int z_put(self, bytes member, double score, bint found, double old) except -1:
        """Insert (found False) or move to score a member whose current score is old."""
        cdef Py_ssize_t off, n = PyBytes_GET_SIZE(member)
        if self.packed:
            if not found:
                if n <= PACK_MAX_VALUE and self.length < PACK_MAX_ENTRIES:
                    return self._pk_insert(score, PyBytes_AS_STRING(member), n)
                self._unpack()
            else:
                if old == score:
                    return 0
                off = self._pk_find(PyBytes_AS_STRING(member), n)
                self._pk_remove_at(off)
                return self._pk_insert(score, PyBytes_AS_STRING(member), n)
        if not found:
            self._t_add(self._insert(score, member))
        elif old != score:
            self._update_score(old, member, score)
        return 0

    cdef int z_del(self, bytes member) except -1:
        cdef Py_ssize_t off
        cdef object cur
        if self.packed:
            off = self._pk_find(PyBytes_AS_STRING(member), PyBytes_GET_SIZE(member))
            if off < 0:
                return 0
            self._pk_remove_at(off)
            return 1
        cdef SkipNode *node = self._t_remove(member)
        if node == NULL:
            return 0
        self._delete_node(node.score, member)
        return 1

    cdef long long z_rank(self, bytes member) except -2:
        """0-based rank, -1 when absent."""
        cdef Py_ssize_t off = 0, n = PyBytes_GET_SIZE(member)
        cdef const char *m = PyBytes_AS_STRING(member)
        cdef long long i = 0
        cdef SkipNode *node
        if self.packed:
            while off < self.pk_len:
                if pk_mlen(self.pk + off) == n and memcmp(self.pk + off + pk_hdr(self.pk + off), m, n) == 0:
                    return i
                off += pk_size(self.pk + off)
                i += 1
            return -1
        node = self._t_get(member)
        if node == NULL:
            return -1
        return <long long>self._rank_of(node.score, member) - 1

    cdef bytes z_pop(self, bint use_max, double *score):
        """Remove and return the lowest (highest) member; the caller knows the set is not empty."""
        cdef Py_ssize_t off
        cdef SkipNode *node
        cdef bytes member
        if self.packed:
            off = self._pk_offset_at(self.length - 1) if use_max else 0
            score[0] = pk_score_at(self.pk + off)
            member = PyBytes_FromStringAndSize(self.pk + off + pk_hdr(self.pk + off), pk_mlen(self.pk + off))
            self._pk_remove_at(off)
            return member
        cdef SkipNode *update[MAX_LEVEL]
        cdef int i
        self._t_remove(<bytes>(self.tail.member if use_max else self.header.level[0].forward.member))
        if use_max:
            node = self.tail
            member = <bytes>node.member
            score[0] = node.score
            self._delete_node(node.score, member)
        else:
            # the first node's predecessor is the header at every level: no search
            node = self.header.level[0].forward
            member = <bytes>node.member
            score[0] = node.score
            for i in range(self.level):
                update[i] = self.header
            self._unlink(node, update)
            free_node(node)
        return member

    # ------------------------------------------------------------ internals

    cdef int _random_level(self):
        """zslRandomLevel(): each extra level with probability 1/4 (16-bit draws as Redis)."""
        global _level_rng
        cdef int lvl = 1
        cdef uint64_t x
        while True:
            x = _level_rng            # xorshift64, one state for every zset (redis: one random())
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            _level_rng = x
            if <double>(x & 0xFFFF) < LEVEL_P * 0xFFFF:
                lvl += 1
            else:
                break
        return lvl if lvl < MAX_LEVEL else MAX_LEVEL

    cdef SkipNode* _insert(self, double score, bytes member) except NULL:
        """zslInsert(): the caller guarantees the member is not present."""
        cdef SkipNode *x = new_node(self._random_level(), score, <PyObject*>member)
        if self._link(x) < 0:
            free_node(x)
            raise MemoryError()
        return x

    cdef int _grow_header(self) except -1:
        """The header starts with HEADER_LEVELS levels (small zsets never need more): a node taller than
        that grows it to MAX_LEVEL. Nothing points at the header but self.header and search-local arrays."""
        cdef SkipNode *h = <SkipNode*>realloc(self.header, sizeof(SkipNode) + MAX_LEVEL * sizeof(SkipLevel))
        cdef int i
        if h == NULL:
            raise MemoryError()
        h.level = <SkipLevel*>(<char*>h + sizeof(SkipNode))
        for i in range(h.nlevels, MAX_LEVEL):
            h.level[i].forward = NULL
            h.level[i].fscore = 0.0
            h.level[i].span = 0
        h.nlevels = MAX_LEVEL
        self.header = h
        return 0

    cdef int _link(self, SkipNode *x) except -1:
        """zslInsert's search and linking for a node made (or unlinked) by the caller, at its own height."""
        cdef SkipNode *update[MAX_LEVEL]
        cdef unsigned long rank[MAX_LEVEL]
        cdef SkipNode *p
        cdef PyObject *m = x.member
        cdef double score = x.score
        cdef int i, lvl = x.nlevels
        if lvl > self.header.nlevels:
            self._grow_header()
        p = self.header
        for i in range(self.level - 1, -1, -1):
            rank[i] = 0 if i == self.level - 1 else rank[i + 1]
            while LV(p)[i].forward != NULL and level_before(&LV(p)[i], score, m):
                rank[i] += LV(p)[i].span
                p = LV(p)[i].forward
            update[i] = p
        if lvl > self.level:
            for i in range(self.level, lvl):
                rank[i] = 0
                update[i] = self.header
                update[i].level[i].span = self.length
            self.level = lvl
        for i in range(lvl):
            x.level[i].forward = update[i].level[i].forward
            LV(x)[i].fscore = update[i].level[i].fscore
            update[i].level[i].forward = x
            update[i].level[i].fscore = score
            x.level[i].span = update[i].level[i].span - (rank[0] - rank[i])
            update[i].level[i].span = (rank[0] - rank[i]) + 1
        for i in range(lvl, self.level):
            update[i].level[i].span += 1
        x.backward = NULL if update[0] == self.header else update[0]
        if x.level[0].forward != NULL:
            x.level[0].forward.backward = x
        else:
            self.tail = x
        self.length += 1
        self.member_bytes += bytes_size(m)
        return 0

    cdef int _update_score(self, double curscore, bytes member, double newscore) except -1:
        """zslUpdateScore(): the node (curscore, member) gets newscore, in place when its neighbours keep it
        in order, else unlinked and linked again (the same node: no free, no allocation)."""
        cdef SkipNode *update[MAX_LEVEL]
        cdef SkipNode *x = self.header
        cdef PyObject *m = <PyObject*>member
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while LV(x)[i].forward != NULL and level_before(&LV(x)[i], curscore, m):
                x = LV(x)[i].forward
            update[i] = x
        x = x.level[0].forward
        if x == NULL or x.score != curscore or member_cmp(x.member, m) != 0:
            raise KeyError(member)
        if (x.backward == NULL or x.backward.score < newscore) and \
                (x.level[0].forward == NULL or x.level[0].forward.score > newscore):
            x.score = newscore
            for i in range(x.nlevels):              # the predecessors' cached score of x
                update[i].level[i].fscore = newscore
            return 0
        self._unlink(x, update)
        x.score = newscore
        self._link(x)
        return 0

    cdef void _unlink(self, SkipNode *x, SkipNode **update):
        """zslDeleteNode(): unlink x given its predecessors; does not free it."""
        cdef int i
        for i in range(self.level):
            if update[i].level[i].forward == x:
                update[i].level[i].span += x.level[i].span - 1
                update[i].level[i].forward = x.level[i].forward
                update[i].level[i].fscore = x.level[i].fscore
            else:
                update[i].level[i].span -= 1
        if x.level[0].forward != NULL:
            x.level[0].forward.backward = x.backward
        else:
            self.tail = x.backward
        self.member_bytes -= bytes_size(x.member)
        while self.level > 1 and self.header.level[self.level - 1].forward == NULL:
            self.level -= 1
        self.length -= 1

    cdef int _delete_node(self, double score, bytes member) except -1:
        """zslDelete(): remove the node (score, member) from the skiplist only."""
        cdef SkipNode *update[MAX_LEVEL]
        cdef SkipNode *x = self.header
        cdef PyObject *m = <PyObject*>member
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while LV(x)[i].forward != NULL and level_before(&LV(x)[i], score, m):
                x = LV(x)[i].forward
            update[i] = x
        x = x.level[0].forward
        if x != NULL and x.score == score and member_cmp(x.member, m) == 0:
            self._unlink(x, update)
            free_node(x)
            return 1
        return 0

    cdef SkipNode* _node_at_rank(self, unsigned long rank):
        """zslGetElementByRank(): rank is 1-based."""
        cdef SkipNode *x = self.header
        cdef unsigned long traversed = 0
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while LV(x)[i].forward != NULL and traversed + LV(x)[i].span <= rank:
                traversed += LV(x)[i].span
                x = LV(x)[i].forward
            if traversed == rank:
                return x
        return NULL

    cdef unsigned long _rank_of(self, double score, bytes member):
        """zslGetRank(): 1-based rank, 0 when absent."""
        cdef SkipNode *x = self.header
        cdef PyObject *m = <PyObject*>member
        cdef unsigned long rank = 0
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while LV(x)[i].forward != NULL and (
                    LV(x)[i].fscore < score or
                    (LV(x)[i].fscore == score and
                     member_cmp(LV(x)[i].forward.member, m) <= 0)):
                rank += LV(x)[i].span
                x = LV(x)[i].forward
            if x.member != NULL and member_cmp(x.member, m) == 0:
                return rank
        return 0

    cdef SkipNode* _first_in_score_range(self, double lo, double hi, bint lo_ex, bint hi_ex):
        cdef SkipNode *x = self.header
        cdef int i
        if score_range_empty(lo, hi, lo_ex, hi_ex) or self.length == 0:
            return NULL
        if not score_gte_min(self.tail.score, lo, lo_ex):
            return NULL
        if not score_lte_max(self.header.level[0].forward.score, hi, hi_ex):
            return NULL
        for i in range(self.level - 1, -1, -1):
            while x.level[i].forward != NULL and not score_gte_min(x.level[i].forward.score, lo, lo_ex):
                x = x.level[i].forward
        x = x.level[0].forward
        if x == NULL or not score_lte_max(x.score, hi, hi_ex):
            return NULL
        return x

    cdef SkipNode* _last_in_score_range(self, double lo, double hi, bint lo_ex, bint hi_ex):
        cdef SkipNode *x = self.header
        cdef int i
        if score_range_empty(lo, hi, lo_ex, hi_ex) or self.length == 0:
            return NULL
        if not score_gte_min(self.tail.score, lo, lo_ex):
            return NULL
        if not score_lte_max(self.header.level[0].forward.score, hi, hi_ex):
            return NULL
        for i in range(self.level - 1, -1, -1):
            while x.level[i].forward != NULL and score_lte_max(x.level[i].forward.score, hi, hi_ex):
                x = x.level[i].forward
        if x == self.header or not score_gte_min(x.score, lo, lo_ex):
            return NULL
        return x

    cdef SkipNode* _first_in_lex_range(self, LexBound lo, LexBound hi):
        cdef SkipNode *x = self.header
        cdef int i
        if lex_range_empty(lo, hi) or self.length == 0:
            return NULL
        if not lex_gte_min(self.tail.member, lo):
            return NULL
        if not lex_lte_max(self.header.level[0].forward.member, hi):
            return NULL
        for i in range(self.level - 1, -1, -1):
            while x.level[i].forward != NULL and not lex_gte_min(x.level[i].forward.member, lo):
                x = x.level[i].forward
        x = x.level[0].forward
        if x == NULL or not lex_lte_max(x.member, hi):
            return NULL
        return x

    cdef SkipNode* _last_in_lex_range(self, LexBound lo, LexBound hi):
        cdef SkipNode *x = self.header
        cdef int i
        if lex_range_empty(lo, hi) or self.length == 0:
            return NULL
        if not lex_gte_min(self.tail.member, lo):
            return NULL
        if not lex_lte_max(self.header.level[0].forward.member, hi):
            return NULL
        for i in range(self.level - 1, -1, -1):
            while x.level[i].forward != NULL and lex_lte_max(x.level[i].forward.member, hi):
                x = x.level[i].forward
        if x == self.header or not lex_gte_min(x.member, lo):
            return NULL
        return x

    cdef list _delete_nodes(self, list items):
        """Remove the given (member, score) pairs from both structures; returns members."""
        cdef list removed = []
        for member, score in items:
            self._t_remove(member)
            self._delete_node(score, member)
            removed.append(member)
        return removed

    # ------------------------------------------------------------ point operations

    def __len__(self):
        return self.length

    def mem_estimate(self):
        return self.z_cost()

    cdef Py_ssize_t z_cost(self):
        """O(1) estimate for memory accounting (after every write; the compiled handlers call it directly):
        packed, the object and its buffer; else per member its bytes object, its skiplist node (~1.33
        levels) and its dict slot with the score's float."""
        if self.packed:
            return ZSET_PACKED_BASE + pk_capacity(self.pk_len)
        return ZSET_BASE_COST + <Py_ssize_t>self.length * ZSET_MEMBER_COST + self.member_bytes

    def __contains__(self, member):
        if self.packed:
            return type(member) is bytes and self._pk_find(PyBytes_AS_STRING(member), PyBytes_GET_SIZE(member)) >= 0
        return type(member) is bytes and self._t_get(member) != NULL

    def __iter__(self):
        return iter(self.items())

    def add(self, bytes member, double score):
        """Insert or update.  Returns (added, old_score); old_score is None when added."""
        cdef double cur
        if isnan(score):
            raise ValueError("resulting score is not a number (NaN)")
        if self.packed:
            if self.z_find(member, &cur):
                self.z_put(member, score, True, cur)
                return False, cur
            self.z_put(member, score, False, 0.0)
            return True, None
        cdef SkipNode *node = self._t_get(member)
        if node == NULL:
            self._t_add(self._insert(score, member))
            return True, None
        cur = node.score
        if cur != score:
            self._update_score(cur, member, score)
        return False, cur

    def remove(self, bytes member):
        if self.packed:
            return self.z_del(member) == 1
        return self.z_del(member) == 1

    def scan_dict(self):
        """The member -> score dict (ZSCAN's cursor walks it, as redis's zscan walks the zset's dict)."""
        self._unpack()
        return ZSetScanView(self)

    def score(self, bytes member):
        cdef double cur
        if self.packed:
            return cur if self.z_find(member, &cur) else None
        cdef SkipNode *node = self._t_get(member)
        return None if node == NULL else node.score

    def rank(self, bytes member, bint reverse=False):
        """0-based rank (ZRANK / ZREVRANK), None when absent."""
        cdef long long i
        if self.packed:
            i = self.z_rank(member)
            if i < 0:
                return None
            return <long long>self.length - 1 - i if reverse else i
        cdef SkipNode *node = self._t_get(member)
        if node == NULL:
            return None
        cdef unsigned long r = self._rank_of(node.score, member)
        return self.length - r if reverse else r - 1

    def member_at(self, long rank, bint reverse=False):
        """(member, score) at a 0-based rank, None when out of range."""
        if rank < 0 or <unsigned long>rank >= self.length:
            return None
        if reverse:
            rank = self.length - 1 - rank
        if self.packed:
            return self._pk_items()[rank]
        return node_item(self._node_at_rank(rank + 1))

    def first(self):
        if self.packed:
            return None if self.length == 0 else self._pk_items()[0]
        return None if self.length == 0 else node_item(self.header.level[0].forward)

    def last(self):
        if self.packed:
            return None if self.length == 0 else self._pk_items()[self.length - 1]
        return None if self.length == 0 else node_item(self.tail)

    def items(self, bint reverse=False):
        cdef list out = []
        cdef SkipNode *x
        if self.packed:
            out = self._pk_items()
            if reverse:
                out.reverse()
            return out
        x = self.tail if reverse else self.header.level[0].forward
        while x != NULL:
            out.append(node_item(x))
            x = x.backward if reverse else x.level[0].forward
        return out

    # ------------------------------------------------------------ ranges

    def range_by_rank(self, long start, long stop, bint reverse=False):
        """Inclusive, already-normalised 0-based ranks; reverse counts from the highest."""
        cdef list out = []
        cdef SkipNode *x
        cdef long n
        if start < 0:
            start = 0
        if stop >= <long>self.length:
            stop = self.length - 1
        if start > stop or self.length == 0:
            return out
        if self.packed:
            out = self._pk_items()
            if reverse:
                out.reverse()
            return out[start:stop + 1]
        n = stop - start + 1
        if reverse:
            x = self._node_at_rank(self.length - start)
        else:
            x = self._node_at_rank(start + 1)
        while n > 0 and x != NULL:
            out.append(node_item(x))
            x = x.backward if reverse else x.level[0].forward
            n -= 1
        return out

    def range_by_score(self, double min, double max, bint min_excl=False, bint max_excl=False,
                       bint reverse=False, long offset=0, long count=-1):
        """ZRANGEBYSCORE semantics; min/max keep their meaning when reverse.  count<0 = all."""
        cdef list out = []
        cdef SkipNode *x
        if offset < 0 or count == 0:
            return out
        if self.packed:
            if score_range_empty(min, max, min_excl, max_excl):
                return out
            out = [it for it in self._pk_items()
                   if score_gte_min(<double>it[1], min, min_excl) and score_lte_max(<double>it[1], max, max_excl)]
            if reverse:
                out.reverse()
            return out[offset:] if count < 0 else out[offset:offset + count]
        if reverse:
            x = self._last_in_score_range(min, max, min_excl, max_excl)
        else:
            x = self._first_in_score_range(min, max, min_excl, max_excl)
        while x != NULL and offset > 0:
            x = x.backward if reverse else x.level[0].forward
            offset -= 1
        while x != NULL and count != 0:
            if reverse:
                if not score_gte_min(x.score, min, min_excl):
                    break
            elif not score_lte_max(x.score, max, max_excl):
                break
            out.append(node_item(x))
            x = x.backward if reverse else x.level[0].forward
            count -= 1
        return out

    def range_by_lex(self, LexBound min, LexBound max, bint reverse=False,
                     long offset=0, long count=-1):
        """ZRANGEBYLEX semantics (meaningful when all scores are equal).  count<0 = all."""
        cdef list out = []
        cdef SkipNode *x
        if offset < 0 or count == 0:
            return out
        self._unpack()
        if reverse:
            x = self._last_in_lex_range(min, max)
        else:
            x = self._first_in_lex_range(min, max)
        while x != NULL and offset > 0:
            x = x.backward if reverse else x.level[0].forward
            offset -= 1
        while x != NULL and count != 0:
            if reverse:
                if not lex_gte_min(x.member, min):
                    break
            elif not lex_lte_max(x.member, max):
                break
            out.append(node_item(x))
            x = x.backward if reverse else x.level[0].forward
            count -= 1
        return out

    def count_in_score_range(self, double min, double max, bint min_excl=False,
                             bint max_excl=False):
        """ZCOUNT, computed from the ranks of the first and last nodes in range."""
        cdef SkipNode *first
        cdef SkipNode *last
        if self.packed:
            return len(self.range_by_score(min, max, min_excl, max_excl))
        first = self._first_in_score_range(min, max, min_excl, max_excl)
        if first == NULL:
            return 0
        last = self._last_in_score_range(min, max, min_excl, max_excl)
        return (self._rank_of(last.score, <bytes>last.member)
                - self._rank_of(first.score, <bytes>first.member) + 1)

    def count_in_lex_range(self, LexBound min, LexBound max):
        cdef SkipNode *first
        cdef SkipNode *last
        self._unpack()
        first = self._first_in_lex_range(min, max)
        if first == NULL:
            return 0
        last = self._last_in_lex_range(min, max)
        return (self._rank_of(last.score, <bytes>last.member)
                - self._rank_of(first.score, <bytes>first.member) + 1)

    # ------------------------------------------------------------ removals

    def delete_range_by_rank(self, long start, long stop):
        """ZREMRANGEBYRANK with normalised inclusive 0-based ranks; returns removed members."""
        self._unpack()
        return self._delete_nodes(self.range_by_rank(start, stop))

    def delete_range_by_score(self, double min, double max, bint min_excl=False,
                              bint max_excl=False):
        self._unpack()
        return self._delete_nodes(self.range_by_score(min, max, min_excl, max_excl))

    def delete_range_by_lex(self, LexBound min, LexBound max):
        self._unpack()
        return self._delete_nodes(self.range_by_lex(min, max))

    def pop_min(self, long count=1):
        """ZPOPMIN: up to count (member, score) pairs, lowest first."""
        cdef list items = self.range_by_rank(0, count - 1)
        if self.packed:
            for member, _ in items:
                self.z_del(member)
            return items
        self._delete_nodes(items)
        return items

    def pop_max(self, long count=1):
        """ZPOPMAX: up to count (member, score) pairs, highest first."""
        cdef list items = self.range_by_rank(0, count - 1, True)
        if self.packed:
            for member, _ in items:
                self.z_del(member)
            return items
        self._delete_nodes(items)
        return items

    def random_members(self, long count=1, bint allow_duplicates=False):
        """Random (member, score) pairs.  Without duplicates at most len(self) are returned
        (the whole set in order when count covers it, as ZRANDMEMBER does)."""
        cdef list out = []
        cdef unsigned long n = self.length
        if n == 0 or count <= 0:
            return out
        self._unpack()
        if allow_duplicates:
            for _ in range(count):
                out.append(node_item(self._node_at_rank(_random.randrange(n) + 1)))
            return out
        if <unsigned long>count >= n:
            return self.items()
        for r in _random.sample(range(n), count):
            out.append(node_item(self._node_at_rank(r + 1)))
        return out

    def check_invariants(self):
        """Debug aid for tests: verify order, spans, backward links and the dict."""
        cdef SkipNode *x
        cdef SkipNode *prev = NULL
        cdef unsigned long n = 0, pos
        cdef int i
        if self.packed:
            items = self._pk_items()
            for i in range(1, len(items)):
                assert items[i - 1][1] < items[i][1] or (items[i - 1][1] == items[i][1] and items[i - 1][0] < items[i][0])
            assert len(items) == self.length <= PACK_MAX_ENTRIES
            assert len(set(m for m, _ in items)) == len(items)
            assert sum(len(m) for m, _ in items) == self.member_bytes
            return True
        x = self.header.level[0].forward
        while x != NULL:
            n += 1
            if prev != NULL:
                assert prev.score < x.score or (prev.score == x.score and
                                                member_cmp(prev.member, x.member) < 0)
            assert x.backward == prev
            assert self._t_get(<bytes>x.member) == x
            prev = x
            x = x.level[0].forward
        assert n == self.length
        filled = 0
        for pos in range(self.tmask + 1):
            if self.tab[pos].node != NULL:
                filled += 1
                assert self.tab[pos].hash == hash(<bytes>self.tab[pos].node.member)
        if self.otab != NULL:               # the live part of a draining table
            assert 0 < self.opos <= self.omask or self.opos == 0
            for pos in range(self.opos, self.omask + 1):
                if self.otab[pos].node != NULL and self.otab[pos].node != ZTOMB:
                    filled += 1
                    assert self.otab[pos].hash == hash(<bytes>self.otab[pos].node.member)
        assert filled == n and n * 4 <= (self.tmask + 1) * 3 + 4
        assert self.tail == prev
        for i in range(self.level):
            x = self.header
            pos = 0
            while x.level[i].forward != NULL:
                pos += x.level[i].span
                assert self._node_at_rank(pos) == x.level[i].forward
                assert x.level[i].fscore == x.level[i].forward.score
                x = x.level[i].forward
        return True


cdef class ZSetScanView:
    """ZSCAN's container over a skiplist-encoded ZSet (engine/commands/_scan.py reply_cursor_batch): len,
    iteration over the members, membership and get(member) -> score through the member -> node table."""
    cdef ZSet zs

    def __cinit__(self, ZSet zs):
        self.zs = zs

    def __len__(self):
        return self.zs.length

    def __iter__(self):
        cdef list out = []
        cdef SkipNode *x
        if self.zs.packed:
            return iter([m for m, _ in self.zs._pk_items()])
        x = self.zs.header.level[0].forward
        while x != NULL:
            out.append(<bytes>x.member)
            x = x.level[0].forward
        return iter(out)

    def __contains__(self, member):
        return member in self.zs

    def get(self, member, default=None):
        if type(member) is not bytes:
            return default
        r = self.zs.score(member)
        return default if r is None else r
