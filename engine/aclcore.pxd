cimport cython
from engine.spec cimport CommandSpec

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
