# cython: language_level=3
"""Redis's long double helpers (util.c string2ld / ld2string LD_STR_HUMAN) for INCRBYFLOAT and
HINCRBYFLOAT: the arithmetic is done in C long double (80-bit on x86) so results print exactly as
redis prints them (e.g. 10.5 + 0.1 -> "10.6")."""
from libc.stdlib cimport strtold
from libc.stdio cimport snprintf
from libc.string cimport memcpy
from libc cimport errno as c_errno
from libc.math cimport HUGE_VAL

cdef extern from "math.h":
    bint isnan(long double x)
    bint isinf(long double x)

cdef extern from "ctype.h":
    int isspace(int c)

DEF MAX_LD_CHARS = 5 * 1024

OK = 0
BAD_CURRENT = 1     # the stored value is not a float
BAD_INCREMENT = 2   # the increment is not a float
NOT_FINITE = 3      # the result would be NaN or Infinity


cdef bint string2ld(bytes s, long double* out):
    cdef char buf[MAX_LD_CHARS]
    cdef char* eptr
    cdef long double value
    cdef Py_ssize_t n = len(s)
    if n == 0 or n >= MAX_LD_CHARS:
        return 0
    memcpy(buf, <const char*>s, n)
    buf[n] = 0
    c_errno.errno = 0
    value = strtold(buf, &eptr)
    # the whole text must be the number (a NUL inside it makes strtold stop early)
    if isspace(<unsigned char>buf[0]) or eptr != buf + n or c_errno.errno == c_errno.EINVAL or isnan(value):
        return 0
    if c_errno.errno == c_errno.ERANGE and (value == HUGE_VAL or value == -HUGE_VAL or value == 0):
        return 0
    out[0] = value
    return 1


cdef bytes ld2string_human(long double value):
    cdef char buf[MAX_LD_CHARS]
    cdef int n = snprintf(buf, MAX_LD_CHARS, "%.17Lf", value)
    cdef int i
    cdef bint has_dot = 0
    for i in range(n):
        if buf[i] == b'.':
            has_dot = 1
            break
    if has_dot:
        while n > 0 and buf[n - 1] == b'0':
            n -= 1
        if n > 0 and buf[n - 1] == b'.':
            n -= 1
    if n == 2 and buf[0] == b'-' and buf[1] == b'0':
        buf[0] = b'0'
        n = 1
    return buf[:n]


def is_valid_float(bytes s):
    cdef long double v
    return bool(string2ld(s, &v))


def incr_by_float(current, bytes increment):
    """(status, new value bytes or None): current is the stored bytes or None for a missing value."""
    cdef long double value = 0, incr
    if current is not None and not string2ld(<bytes>current, &value):
        return BAD_CURRENT, None
    if not string2ld(increment, &incr):
        return BAD_INCREMENT, None
    value += incr
    if isnan(value) or isinf(value):
        return NOT_FINITE, None
    return OK, ld2string_human(value)
