# cython: language_level=3, boundscheck=False, wraparound=False
"""Redis glob matching (util.c stringmatchlen), shared by KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET and
PUBSUB CHANNELS: `*`, `?`, `[abc]`, `[^a-z]` (ranges either way round), and backslash escapes."""


cdef inline unsigned char lower(unsigned char ch, bint nocase):
    if nocase and 65 <= ch <= 90:
        return ch + 32
    return ch


cdef inline int slower(int ch):
    return ch + 32 if 65 <= ch <= 90 else ch


cdef int _match(const unsigned char* p, Py_ssize_t plen, const unsigned char* s, Py_ssize_t slen,
                bint nocase, int* skip_longer, int nesting):
    cdef bint negate, found
    cdef unsigned char c
    cdef int rstart, rend, rtmp, rc
    # redis caps recursion depth to stay safe on hostile patterns
    if nesting > 1000:
        return 0
    while plen > 0 and slen > 0:
        c = p[0]
        if c == b'*':
            while plen > 1 and p[1] == b'*':
                p += 1
                plen -= 1
            if plen == 1:
                return 1
            while slen > 0:
                if _match(p + 1, plen - 1, s, slen, nocase, skip_longer, nesting + 1):
                    return 1
                if skip_longer[0]:
                    return 0
                s += 1
                slen -= 1
            skip_longer[0] = 1
            return 0
        elif c == b'?':
            s += 1
            slen -= 1
        elif c == b'[':
            p += 1
            plen -= 1
            negate = plen > 0 and p[0] == b'^'
            if negate:
                p += 1
                plen -= 1
            found = 0
            while True:
                if plen == 0:
                    p -= 1
                    plen += 1
                    break
                if p[0] == b'\\' and plen >= 2:
                    p += 1
                    plen -= 1
                    if p[0] == s[0]:
                        found = 1
                elif p[0] == b']':
                    break
                elif plen >= 3 and p[1] == b'-':
                    # redis compares plain (signed) chars here: bytes >= 0x80 sort below 'A'; it swaps the
                    # bounds first and lower-cases them after
                    rstart = <signed char>p[0]
                    rend = <signed char>p[2]
                    rc = <signed char>s[0]
                    if rstart > rend:
                        rtmp = rstart
                        rstart = rend
                        rend = rtmp
                    if nocase:
                        rstart = slower(rstart)
                        rend = slower(rend)
                        rc = slower(rc)
                    p += 2
                    plen -= 2
                    if rstart <= rc <= rend:
                        found = 1
                else:
                    if lower(p[0], nocase) == lower(s[0], nocase):
                        found = 1
                p += 1
                plen -= 1
            if negate:
                found = not found
            if not found:
                return 0
            s += 1
            slen -= 1
        else:
            if c == b'\\' and plen >= 2:
                p += 1
                plen -= 1
            if lower(p[0], nocase) != lower(s[0], nocase):
                return 0
            s += 1
            slen -= 1
        p += 1
        plen -= 1
        if slen == 0:
            while plen > 0 and p[0] == b'*':
                p += 1
                plen -= 1
            break
    return plen == 0 and slen == 0


cpdef bint glob_match(bytes pattern, bytes subject, bint nocase=False):
    cdef int skip_longer = 0
    return _match(<const unsigned char*><const char*>pattern, len(pattern),
                  <const unsigned char*><const char*>subject, len(subject), nocase, &skip_longer, 0)


cpdef bint is_match_all(bytes pattern):
    return pattern == b"*"
