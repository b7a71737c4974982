# The C-level side of protocol/memcache.pyx (issue 20): a scanner that recognises the hot text requests
# (get, set, mg <key> v) straight in a read buffer, and the reply buffer the memcached connection writes
# them into, so those requests cost no McRequest, no flags dict and no bytes object per reply piece.
# Anything the scanner does not accept is left to McParser, which stays the reference for every other shape.
from libc.stdint cimport int32_t, uint32_t
from libc.string cimport memcpy
from libc.stdlib cimport realloc

cdef enum:
    MCF_NONE = 0        # not a fast request: hand the bytes from here on to McParser
    MCF_GET = 1         # get <key> [<key> ...]
    MCF_SET = 2         # set <key> <flags> <exptime> <bytes> [noreply] + data block
    MCF_MG_V = 3        # mg <key> v
    MCF_MAX_KEYS = 32   # keys of one fast get

ctypedef struct McFast:
    int kind
    Py_ssize_t size                 # bytes of the whole request (line, and data block for set)
    int nkeys
    Py_ssize_t koff[32]             # key i is base[koff[i] : koff[i] + klen[i]] (offsets from the request)
    Py_ssize_t klen[32]
    uint32_t flags
    int32_t exptime
    Py_ssize_t voff                 # set: the value is base[voff : voff + vlen]
    Py_ssize_t vlen
    bint noreply

cdef int mc_scan_fast(const char* p, Py_ssize_t avail, Py_ssize_t max_item_size, McFast* f) noexcept nogil


# A growable reply buffer (one per connection, reused across reads).
ctypedef struct McOut:
    char* p
    Py_ssize_t n
    Py_ssize_t cap

cdef inline int mcout_reserve(McOut* o, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap
    cdef char* np
    if o.n + extra <= o.cap:
        return 0
    cap = o.cap * 2 if o.cap else 4096
    while cap < o.n + extra:
        cap *= 2
    np = <char*>realloc(o.p, cap)
    if np == NULL:
        raise MemoryError()
    o.p = np
    o.cap = cap
    return 0

cdef inline int mcout_put(McOut* o, const char* s, Py_ssize_t n) except -1:
    if o.n + n > o.cap:
        mcout_reserve(o, n)
    memcpy(o.p + o.n, s, n)
    o.n += n
    return 0

cdef inline Py_ssize_t mcout_udec(char* dst, unsigned long long v) noexcept nogil:
    """Write v in decimal at dst; returns the digits written."""
    cdef char tmp[24]
    cdef int i = 0, j
    if v == 0:
        dst[0] = 48
        return 1
    while v:
        tmp[i] = <char>(48 + v % 10)
        v //= 10
        i += 1
    for j in range(i):
        dst[j] = tmp[i - 1 - j]
    return i
