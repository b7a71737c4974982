# Sorted-set core: Redis's skiplist (t_zset.c) plus a member -> score dict.
from cpython.object cimport PyObject
from libc.stdint cimport uint64_t

cdef struct SkipNode

cdef struct SkipLevel:
    SkipNode *forward
    unsigned long span
    double fscore             # forward's score (searches compare it without touching the next node)

cdef struct SkipNode:
    PyObject *member          # strong reference to a bytes object
    double score
    SkipNode *backward
    int nlevels
    SkipLevel *level          # points just past the node inside the same allocation


cdef struct ZSlot:            # one slot of the member -> node table (open addressing, linear probing)
    Py_hash_t hash
    SkipNode *node            # NULL = empty


cdef class LexBound:
    cdef readonly int kind            # -1 = "-", 0 = a value, 1 = "+"
    cdef readonly bytes value
    cdef readonly bint exclusive


cdef class ZSet:
    cdef SkipNode *header
    cdef SkipNode *tail
    cdef unsigned long length
    cdef int level
    cdef ZSlot *tab                   # member -> node (the node holds the score): no float per member
    cdef size_t tmask                 # capacity - 1 (a power of two)
    cdef ZSlot *otab                  # while growing: the smaller table being drained into tab (else NULL)
    cdef size_t omask
    cdef size_t opos                  # otab slots below opos are already copied (what they hold there is stale)
    cdef public bint skiplist         # encoding shown to clients: False = listpack (engine/types/zset.py)
    cdef public Py_ssize_t member_bytes   # sum of the members' lengths (O(1) memory accounting)
    # small sets (<= PACK_MAX_ENTRIES members of <= PACK_MAX_VALUE bytes) are one packed buffer of entries
    # [double score][uint8 length][member], sorted like the skiplist, with no node, dict or member object
    # (redis's listpack); header/tail/scores are NULL/None until _unpack builds the skiplist for good
    cdef char *pk
    cdef Py_ssize_t pk_len
    cdef public bint packed

    # the point operations of the compiled command handlers, for both representations
    cdef int z_find(self, bytes member, double *out) except -1
    cdef int z_put(self, bytes member, double score, bint found, double old) except -1
    cdef Py_ssize_t z_cost(self)
    cdef int z_del(self, bytes member) except -1
    cdef long long z_rank(self, bytes member) except -2
    cdef bytes z_pop(self, bint use_max, double *score)

    cdef int _unpack(self) except -1
    cdef Py_ssize_t _t_find(self, PyObject *m, Py_hash_t h) noexcept
    cdef Py_ssize_t _o_find(self, PyObject *m, Py_hash_t h) noexcept
    cdef SkipNode* _t_get(self, bytes member) except? NULL
    cdef int _t_add(self, SkipNode *node) except -1
    cdef SkipNode* _t_remove(self, bytes member) except? NULL
    cdef void _t_del_at(self, size_t i) noexcept
    cdef int _t_init(self, size_t cap) except -1
    cdef int _t_grow(self) except -1
    cdef void _t_step(self, size_t slots) noexcept
    cdef Py_ssize_t _pk_find(self, const char *m, Py_ssize_t n)
    cdef Py_ssize_t _pk_offset_at(self, Py_ssize_t index)
    cdef int _pk_insert(self, double score, const char *m, Py_ssize_t n) except -1
    cdef void _pk_remove_at(self, Py_ssize_t off)
    cdef list _pk_items(self)

    cdef int _random_level(self)
    cdef SkipNode* _insert(self, double score, bytes member) except NULL
    cdef int _grow_header(self) except -1
    cdef int _link(self, SkipNode *x) except -1
    cdef int _update_score(self, double curscore, bytes member, double newscore) except -1
    cdef void _unlink(self, SkipNode *node, SkipNode **update)
    cdef int _delete_node(self, double score, bytes member) except -1
    cdef SkipNode* _node_at_rank(self, unsigned long rank)
    cdef unsigned long _rank_of(self, double score, bytes member)
    cdef SkipNode* _first_in_score_range(self, double lo, double hi, bint lo_ex, bint hi_ex)
    cdef SkipNode* _last_in_score_range(self, double lo, double hi, bint lo_ex, bint hi_ex)
    cdef SkipNode* _first_in_lex_range(self, LexBound lo, LexBound hi)
    cdef SkipNode* _last_in_lex_range(self, LexBound lo, LexBound hi)
    cdef list _delete_nodes(self, list nodes_members)
