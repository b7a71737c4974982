# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled fast path of RESTORE / RESTORE-ASKING for the common case MIGRATE sends: a string payload,
`key ttl payload [REPLACE]`, that succeeds. Anything else (options, errors, other types) returns False
having done at most the BUSYKEY lookup restore_command starts with anyway (which may reclaim an expired
key), and restore_command answers it with redis's checks and texts. What a success does is
restore_command's, step for step."""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcpy
from libc.stdint cimport uint64_t

from engine.core cimport Client, Db, Keyspace, cm_rec
from engine.persistence._rdbfast import crc64, Cursor, lzf_decompress
from engine.notify import notify

DEF RDB_VERSION = 10            # engine/persistence/rdb.py RDB_VERSION (restore_value's max_version)
DEF TYPE_STRING = 0


cdef inline long long parse_ttl(bytes s):
    """A plain non-negative decimal of at most 18 digits (no sign, no leading zero), else -1."""
    cdef Py_ssize_t n = PyBytes_GET_SIZE(s), i
    cdef const char* p = PyBytes_AS_STRING(s)
    cdef long long v = 0
    if n == 0 or n > 18 or (p[0] == 48 and n > 1):
        return -1
    for i in range(n):
        if p[i] < 48 or p[i] > 57:             # '0'..'9'
            return -1
        v = v * 10 + (p[i] - 48)
    return v


cdef object read_string(bytes payload, Py_ssize_t end):
    """The RDB string at offset 1 (before the 10-byte trailer): plain and LZF encodings here, integer
    encodings through the general Cursor; None when it does not fit exactly as the Cursor would read it."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
    cdef unsigned int b = p[1]
    cdef Py_ssize_t off, ln, clen
    cdef int kind = b >> 6
    if kind == 0:
        off, ln = 2, b & 0x3F
    elif kind == 1:
        if end < 3:
            return None
        off, ln = 3, ((b & 0x3F) << 8) | p[2]
    elif b == 0x80:
        if end < 6:
            return None
        off = 6
        ln = (<Py_ssize_t>p[2] << 24) | (p[3] << 16) | (p[4] << 8) | p[5]
    elif b == 0xC3:                           # LZF: compressed length, then the original length
        return None if end < 3 else Cursor(payload, 1, end).read_string()
    else:
        return Cursor(payload, 1, end).read_string()
    if off + ln > end:
        return None
    return payload[off:off + ln]


def restore_fast(Client c, list argv):
    """True when the RESTORE was served here; False to let restore_command serve it."""
    cdef Py_ssize_t argc = len(argv), n
    cdef bint replace
    cdef bytes key, payload
    cdef object value
    cdef long long ttl
    cdef const unsigned char* p
    cdef uint64_t want
    cdef Db db
    cdef Keyspace ks
    cdef cm_rec* r
    if argc == 4:
        replace = False
    elif argc == 5 and (<bytes>argv[4]).lower() == b"replace":
        replace = True
    else:
        return False
    key = argv[1]
    payload = argv[3]
    ttl = parse_ttl(argv[2])
    n = PyBytes_GET_SIZE(payload)
    if ttl < 0 or n < 10:
        return False
    p = <const unsigned char*>PyBytes_AS_STRING(payload)
    if p[0] != TYPE_STRING or (p[n - 10] | (p[n - 9] << 8)) > RDB_VERSION:
        return False
    memcpy(&want, p + n - 8, 8)             # little-endian, as the payload stores it (x86-64, aarch64)
    if crc64(payload[:n - 8]) != want:
        return False
    try:
        value = read_string(payload, n - 10)
    except Exception:
        return False
    if value is None:
        return False
    db = c.db
    ks = c.ks
    if not replace and db.lookup_write(key) is not None:
        return False                        # BUSYKEY: restore_command replies
    if replace:
        db.delete(key)
    r = db.rec_add(key, value)
    if ttl:
        ttl += ks.now_ms
        db.rec_set_expire(r, ttl)
        c.propagate_as([argv[0], key, b"%d" % ttl] + argv[3:] + [b"ABSTTL"])
    db.rec_account(r)
    if ks.notify_flags:
        notify(c, "g", b"restore", key)
    c.dirty += 1
    c.reply.add_ok()
    return True
