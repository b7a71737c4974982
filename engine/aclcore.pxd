cimport cython
from cpython.object cimport PyObject
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from engine.spec cimport CommandSpec

cdef extern from "Python.h":
    PyObject* list_item "PyList_GET_ITEM" (object lst, Py_ssize_t i)
    Py_ssize_t list_len "PyList_GET_SIZE" (object lst)
    const char* bytes_str "PyBytes_AS_STRING" (PyObject* b)
    Py_ssize_t bytes_len "PyBytes_GET_SIZE" (PyObject* b)

cdef extern from *:
    """
    /* A literal prefix compare for the short prefixes of key patterns: memcmp's call and size dispatch
       cost more than the compare itself (callgrind: ~60 instructions per key for a 4-byte prefix). */
    static inline int cm_prefix_eq(const char* a, const char* b, Py_ssize_t n) {
        uint64_t x, y;
        while (n >= 8) {
            memcpy(&x, a, 8); memcpy(&y, b, 8);
            if (x != y) return 0;
            a += 8; b += 8; n -= 8;
        }
        if (n >= 4) {
            uint32_t x4, y4;
            memcpy(&x4, a, 4); memcpy(&y4, b, 4);
            if (x4 != y4) return 0;
            a += 4; b += 4; n -= 4;
        }
        while (n-- > 0) if (*a++ != *b++) return 0;
        return 1;
    }
    """
    bint cm_prefix_eq(const char* a, const char* b, Py_ssize_t n) nogil


cdef struct pat_t:
    const char* p
    Py_ssize_t n
    int flags
    Py_ssize_t plen          # length of the literal prefix (before the first * ? [ or backslash)
    int kind                 # 0 any glob, 1 a literal, 2 a literal prefix then one final '*'


cdef struct KeyPlan:
    bint ready               # computed (the table is filled on first use per command)
    int n               # number of index/range key specs, -1: use the generic (Python) key extraction
    int first[8]
    int lastkey[8]
    int step[8]
    int limit[8]
    int rw[8]           # -1: the flags vary with the arguments (variable_flags): asked only when needed
    int single          # the argv position of the only key (one index spec, lastkey 0), else 0
    int ch_first        # channel arguments (0: none)
    bint ch_every
    bint ch_pattern


@cython.final
cdef class Selector:
    cdef public bint root
    cdef public bint allkeys
    cdef public bint allchannels
    cdef public bint allcommands
    cdef public bint future
    cdef public bytearray bits
    cdef public dict firstargs
    cdef public list patterns
    cdef public list channels
    cdef pat_t* cpats        # patterns without a literal prefix first, then grouped by first byte
    cdef int ncpats
    cdef int nwild           # cpats[0:nwild] start with a glob character
    cdef int bstart[256]     # cpats[bstart[b]:bend[b]] have a literal prefix starting with byte b
    cdef int bend[256]
    cdef tuple refs
    cdef compile(self)
    cdef int check_channel(self, bytes channel, bint is_pattern) except -1
    cdef int check_cmd(self, CommandSpec spec, list argv, int* errpos) except -1


@cython.final
cdef class User:
    cdef public bytes name
    cdef public bint enabled
    cdef public bint nopass
    cdef public int sanitize
    cdef public list passwords
    cdef public list selectors
    cdef public bint unrestricted
    cdef int check_c(self, CommandSpec spec, list argv, int* pos) except -1
    cpdef tuple check(self, CommandSpec spec, list argv)
    cpdef bint check_channel(self, bytes channel, bint is_pattern)


cdef inline bint fast_key_ok(Selector s, PyObject* key) noexcept:
    """True when a literal or `prefix*` pattern admits the key; False: the full check decides (no such
    pattern, a read/write-only one or a real glob on the way, a leading-glob pattern, the empty key)."""
    cdef Py_ssize_t kn = bytes_len(key)
    cdef const char* k
    cdef pat_t* pt
    cdef pat_t* end
    if s.nwild or kn == 0:
        return False
    k = bytes_str(key)
    pt = s.cpats + s.bstart[<unsigned char>k[0]]
    end = s.cpats + s.bend[<unsigned char>k[0]]
    while pt < end:
        if pt.flags != 3 or pt.kind == 0:
            return False
        if pt.plen <= kn and (pt.plen <= 1 or cm_prefix_eq(pt.p, k, pt.plen)) and (pt.kind == 2 or pt.n == kn):
            return True
        pt += 1
    return False


cdef inline int acl_check(User u, CommandSpec spec, list argv, int* pos) except -1:
    """User.check_c for a restricted user, with its common case inlined into the caller (the dispatcher):
    one selector, a command its bitmap allows, and either one key at a fixed position (spec.acl_single) or
    one plain key range (spec.acl_first/acl_lastkey/acl_step: MSET, DEL, MGET), set once the command's key
    plan exists, with keys that literal / `prefix*` patterns admit. Anything else, and every refusal, takes
    the full check, which also gives the refusal's reason and position. Two function calls and the plan
    lookup were half of a restricted GET's ACL cost (callgrind)."""
    cdef Py_ssize_t p = spec.acl_single, argc, last
    cdef Selector s
    if (p > 0 or spec.acl_step > 0) and list_len(u.selectors) == 1:
        s = <Selector>list_item(u.selectors, 0)
        if s.allcommands or (spec.id < PyByteArray_GET_SIZE(s.bits) and PyByteArray_AS_STRING(s.bits)[spec.id]):
            if s.allkeys:
                return 0
            argc = list_len(argv)
            if p > 0:
                if p < argc and fast_key_ok(s, list_item(argv, p)):
                    return 0
            else:
                # the range as Selector.check_cmd computes it (limit 0); an argv it cannot place goes the full way
                p = spec.acl_first
                last = p + spec.acl_lastkey if spec.acl_lastkey >= 0 else argc + spec.acl_lastkey
                if p < argc and p <= last < argc:
                    while p <= last and fast_key_ok(s, list_item(argv, p)):
                        p += spec.acl_step
                    if p > last:
                        return 0
    return u.check_c(spec, argv, pos)
