# Inline C helpers shared by the codecs and the engine.
from cpython.bytes cimport PyBytes_FromStringAndSize

cdef inline bint string2ll(const char* s, Py_ssize_t slen, long long* value):
    """redis util.c string2ll: strict base 10, no spaces, no leading zeros or '+', must fit int64."""
    cdef Py_ssize_t plen = 0
    cdef bint negative = 0
    cdef unsigned long long v
    cdef unsigned long long limit
    if slen == 0 or slen > 20:
        return 0
    if slen == 1 and s[0] == 48:
        value[0] = 0
        return 1
    if s[0] == 45:   # '-'
        negative = 1
        plen += 1
        if plen == slen:
            return 0
    if 49 <= s[plen] <= 57:
        v = s[plen] - 48
        plen += 1
    else:
        return 0
    while plen < slen and 48 <= s[plen] <= 57:
        if v > 1844674407370955161ULL:      # ULLONG_MAX / 10
            return 0
        v *= 10
        if v > 18446744073709551615ULL - <unsigned long long>(s[plen] - 48):
            return 0
        v += s[plen] - 48
        plen += 1
    if plen < slen:
        return 0
    if negative:
        if v > 9223372036854775808ULL:
            return 0
        value[0] = -(<long long>(v - 1)) - 1
    else:
        if v > 9223372036854775807ULL:
            return 0
        value[0] = <long long>v
    return 1


cdef inline bint bytes_to_ll(bytes b, long long* value):
    return string2ll(<const char*>b, len(b), value)


cdef inline int ull_digits(char* out, unsigned long long v) noexcept:
    """v in base 10 at out (>= 20 bytes, no terminator); the count. snprintf costs more than most of the
    callers' own work (reply headers, stream ids, INCR)."""
    cdef char tmp[24]
    cdef int k = 0, i = 0
    while True:
        tmp[k] = <char>(48 + v % 10)
        k += 1
        v //= 10
        if v == 0:
            break
    while k > 0:
        k -= 1
        out[i] = tmp[k]
        i += 1
    return i


cdef inline Py_ssize_t ll_digits(char* out, long long v) noexcept:
    """v in base 10 into out (>= 21 bytes); the length (the same text as b"%d" % v)."""
    if v < 0:
        out[0] = 45
        return 1 + ull_digits(out + 1, <unsigned long long>(-(v + 1)) + 1)
    return ull_digits(out, <unsigned long long>v)


cdef inline bytes ll_bytes(long long v):
    """b"%d" % v without the format machinery (~700 instructions less per call, callgrind)."""
    cdef char out[24]
    return PyBytes_FromStringAndSize(out, ll_digits(out, v))
