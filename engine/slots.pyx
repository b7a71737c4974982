# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Redis Cluster hash slots: CRC16-XMODEM of the key (or of its hash tag) modulo 16384.

Byte-identical to redis cluster.c keyHashSlot: when the key holds a '{' followed later by a '}' with at
least one byte between them, only the bytes between the first '{' and the first '}' after it are hashed
("{}" and "{" alone hash the whole key; "a{b}c{d}" hashes "b"; "{{a}}" hashes "{a").
The C function is shared with engine/core.pyx through engine/slots.pxd.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

CLUSTER_SLOTS = 16384


cdef unsigned short CRC16_TAB[256]


cdef void _init_table():
    cdef unsigned int i, j, crc
    for i in range(256):
        crc = i << 8
        for j in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
        CRC16_TAB[i] = <unsigned short>crc


_init_table()


cdef unsigned short crc16(const char* buf, Py_ssize_t n) noexcept nogil:
    cdef unsigned short crc = 0
    cdef Py_ssize_t i
    for i in range(n):
        crc = <unsigned short>((crc << 8) ^ CRC16_TAB[((crc >> 8) ^ <unsigned char>buf[i]) & 0xFF])
    return crc


cdef int hash_slot(const char* key, Py_ssize_t keylen) noexcept nogil:
    """redis keyHashSlot."""
    cdef Py_ssize_t s, e
    s = 0
    while s < keylen:
        if key[s] == b'{':
            break
        s += 1
    if s == keylen:
        return crc16(key, keylen) & 16383
    e = s + 1
    while e < keylen:
        if key[e] == b'}':
            break
        e += 1
    if e == keylen or e == s + 1:
        return crc16(key, keylen) & 16383
    return crc16(key + s + 1, e - s - 1) & 16383


cpdef int key_hash_slot(bytes key):
    """The cluster hash slot (0..16383) of a key, as CLUSTER KEYSLOT answers it."""
    return hash_slot(PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key))


def crc16_of(bytes data):
    """CRC16-XMODEM of some bytes (for tests: crc16_of(b"123456789") == 0x31C3)."""
    return crc16(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
