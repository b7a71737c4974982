# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The hash value type (engine/types/hash.py re-exports it), in redis's two encodings:

- listpack (a small hash): the field/value pairs packed in one PyMem buffer, in insertion order, each entry
  a varint length (1 byte below 128) then its bytes; lookups scan it linearly, as redis's listpack does up
  to hash-max-listpack-entries (128) pairs of at most hash-max-listpack-value (64) bytes;
- hashtable: a dict in `d`, after either limit was exceeded (one way, as redis hashTypeConvert).

The object takes no GC header (values are bytes; the scan index holds keys only), so a small hash costs the
object (48 bytes) plus its buffer rounded to 16. The Python mapping methods (get, items, pop, [] ...) serve
t_hash.py and the generic code (RDB, AOF, SORT, DEBUG); the compiled fast paths
(engine/commands/t_hash_fast.pyx) use the C methods declared in hashvalue.pxd. OBJECT ENCODING, RDB/DUMP,
HSCAN's cursor index (`_scan`) and MEMORY USAGE behave as the dict form did."""
cimport cython
from cpython.mem cimport PyMem_Realloc, PyMem_Free
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcmp, memcpy, memmove
from protocol.resp cimport ReplyBuffer
import sys

cdef object _MISSING = object()


def limits(config):
    if config is None:
        return 128, 64
    return config["hash-max-listpack-entries"], config["hash-max-listpack-value"]


cdef inline Py_ssize_t len_size(Py_ssize_t n):
    if n < 128:
        return 1
    if n < 16384:
        return 2
    if n < 2097152:
        return 3
    if n < 268435456:
        return 4
    return 5


cdef inline Py_ssize_t rd_len(const unsigned char* p, Py_ssize_t* n):
    """Decode a varint length at p into n; the header's size."""
    cdef Py_ssize_t v, i = 0, shift = 0
    if p[0] < 128:
        n[0] = p[0]
        return 1
    v = 0
    while True:
        v |= <Py_ssize_t>(p[i] & 127) << shift
        if p[i] < 128:
            break
        shift += 7
        i += 1
    n[0] = v
    return i + 1


cdef inline unsigned char* wr_len(unsigned char* p, Py_ssize_t n):
    while n >= 128:
        p[0] = <unsigned char>((n & 127) | 128)
        n >>= 7
        p += 1
    p[0] = <unsigned char>n
    return p + 1


cdef inline Py_ssize_t round16(Py_ssize_t n):
    return (n + 15) & ~15


cdef inline long long bytes_cost(Py_ssize_t n):
    """engine/evict.pxi bytes_cost: what pymalloc takes for a bytes object of n bytes."""
    cdef long long size = 33 + n
    if size <= 512:
        return (size + 15) & ~15
    return (size + 16 + 15) & ~15


@cython.no_gc
@cython.final
cdef class HashValue:
    type_name = b"hash"

    def __cinit__(self):
        self.buf = NULL
        self.used = 0
        self.count = 0
        self.d = None
        self._scan = None

    def __dealloc__(self):
        if self.buf != NULL:
            PyMem_Free(self.buf)
            self.buf = NULL

    def __init__(self, *args):
        """HashValue(), HashValue(pairs or mapping); more than 128 pairs start in the dict form (filling the
        packed one is quadratic)."""
        cdef object src
        if args:
            src = args[0]
            if isinstance(src, dict) or isinstance(src, HashValue):
                src = src.items()
            if not isinstance(src, (list, tuple)):
                src = list(src)
            if len(src) > 128:
                self.d = dict(src)
                return
            for k, v in src:
                self[k] = v

    # ---- the mapping API ----

    @property
    def hashtable(self):
        return self.d is not None

    @hashtable.setter
    def hashtable(self, value):
        if value:
            hv_convert(self)
        elif self.d is not None:
            raise ValueError("a hashtable hash does not go back to listpack")

    def __len__(self):
        return hv_len(self)

    def __contains__(self, bytes k):
        if self.d is not None:
            return k in self.d
        return hv_find(self, PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k)) >= 0

    def get(self, bytes k, default=None):
        cdef Py_ssize_t off, vlen
        cdef const unsigned char* p
        if self.d is not None:
            return self.d.get(k, default)
        off = hv_find(self, PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k))
        if off < 0:
            return default
        p = hv_value(self, off, &vlen)
        return PyBytes_FromStringAndSize(<const char*>p, vlen)

    def __getitem__(self, bytes k):
        v = self.get(k, _MISSING)
        if v is _MISSING:
            raise KeyError(k)
        return v

    def __setitem__(self, bytes k, bytes v):
        if self.d is not None:
            self.d[k] = v
        else:
            hv_set(self, PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k), PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v))

    def __delitem__(self, bytes k):
        if self.d is not None:
            del self.d[k]
        elif not hv_del(self, PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k)):
            raise KeyError(k)

    def pop(self, bytes k, default=_MISSING):
        v = self.get(k, _MISSING)
        if v is _MISSING:
            if default is _MISSING:
                raise KeyError(k)
            return default
        del self[k]
        return v

    def items(self):
        if self.d is not None:
            return self.d.items()
        return hv_pairs(self)

    def keys(self):
        if self.d is not None:
            return self.d.keys()
        return [k for k, _ in hv_pairs(self)]

    def values(self):
        if self.d is not None:
            return self.d.values()
        return [v for _, v in hv_pairs(self)]

    def __iter__(self):
        return iter(self.keys())

    def __eq__(self, other):
        if isinstance(other, HashValue):
            return dict(self.items()) == dict(other.items())
        if isinstance(other, dict):
            return dict(self.items()) == other
        return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    __hash__ = None

    def __repr__(self):
        return "HashValue(%r, %s)" % (dict(self.items()), "hashtable" if self.d is not None else "listpack")

    def note_write(self, config, *items):
        """Apply Redis's conversion rules after fields/values in `items` were written."""
        if self.d is not None:
            return
        max_entries, max_value = limits(config)
        if self.count > max_entries or any(len(x) > max_value for x in items):
            hv_convert(self)

    def encoding(self, config=None):
        return b"hashtable" if self.d is not None else b"listpack"

    def copy(self):
        cdef HashValue other = HashValue.__new__(HashValue)
        if self.d is not None:
            other.d = dict(self.d)
        else:
            for k, v in hv_pairs(self):
                other[k] = v
        return other

    def to_rdb(self):
        return "hash", list(self.items())

    @classmethod
    def from_rdb(cls, kind, pairs, config=None):
        """A loaded hash in the form redis's rdbLoadObject gives it under the current limits."""
        cdef HashValue value = HashValue.__new__(HashValue)
        max_entries, max_value = limits(config)
        if len(pairs) > max_entries or any(len(f) > max_value or len(v) > max_value for f, v in pairs):
            value.d = dict(pairs)
        else:
            for k, v in pairs:
                value[k] = v
        return value

    def mem_usage(self):
        return hv_estimate(self)

    def mem_estimate(self):
        return hv_estimate(self)

    def __sizeof__(self):
        return 48

    def __reduce__(self):
        return (_rebuild, (dict(self.items()), self.d is not None))


# ---- the packed (listpack) form, for the C fast paths (declared in hashvalue.pxd) ----

cdef Py_ssize_t hv_len(HashValue self):
    if self.d is not None:
        return len(self.d)
    return self.count

cdef Py_ssize_t hv_find(HashValue self, const char* f, Py_ssize_t flen):
    """Offset of the field entry equal to f in the packed buffer, -1 when absent."""
    cdef Py_ssize_t pos = 0, n, hdr, end = self.used
    cdef const unsigned char* b = self.buf
    while pos < end:
        hdr = rd_len(b + pos, &n)
        if n == flen and memcmp(b + pos + hdr, f, flen) == 0:
            return pos
        pos += hdr + n
        hdr = rd_len(b + pos, &n)
        pos += hdr + n
    return -1

cdef const unsigned char* hv_value(HashValue self, Py_ssize_t off, Py_ssize_t* vlen):
    """The value bytes of the field entry at off (its length in vlen)."""
    cdef Py_ssize_t n, hdr
    cdef const unsigned char* b = self.buf
    hdr = rd_len(b + off, &n)
    off += hdr + n
    hdr = rd_len(b + off, vlen)
    return b + off + hdr

cdef int hv_resize(HashValue self, Py_ssize_t new_used) except -1:
    cdef Py_ssize_t old_cap = round16(self.used), new_cap = round16(new_used)
    cdef unsigned char* nb
    if new_cap != old_cap or self.buf == NULL:
        if new_cap == 0:
            new_cap = 16
        nb = <unsigned char*>PyMem_Realloc(self.buf, new_cap)
        if nb == NULL:
            raise MemoryError()
        self.buf = nb
    return 0

cdef int hv_set(HashValue self, const char* f, Py_ssize_t flen, const char* v, Py_ssize_t vlen) except -1:
    """Set field f to v in the packed form: 1 when the field was added, 0 when its value was replaced."""
    cdef Py_ssize_t off = hv_find(self, f, flen), n, hdr, voff, old_span, new_span, tail, total
    cdef unsigned char* p
    new_span = len_size(vlen) + vlen
    if off >= 0:
        hdr = rd_len(self.buf + off, &n)
        voff = off + hdr + n
        hdr = rd_len(self.buf + voff, &n)
        old_span = hdr + n
        tail = self.used - (voff + old_span)
        total = self.used - old_span + new_span
        if new_span < old_span:
            memmove(self.buf + voff + new_span, self.buf + voff + old_span, tail)
            hv_resize(self, total)
        elif new_span > old_span:
            hv_resize(self, total)
            memmove(self.buf + voff + new_span, self.buf + voff + old_span, tail)
        p = wr_len(self.buf + voff, vlen)
        memcpy(p, v, vlen)
        self.used = <unsigned int>total
        return 0
    total = self.used + len_size(flen) + flen + new_span
    hv_resize(self, total)
    p = wr_len(self.buf + self.used, flen)
    memcpy(p, f, flen)
    p = wr_len(p + flen, vlen)
    memcpy(p, v, vlen)
    self.used = <unsigned int>total
    self.count += 1
    return 1

cdef int hv_del(HashValue self, const char* f, Py_ssize_t flen) except -1:
    """Delete field f from the packed form: 1 when it was there."""
    cdef Py_ssize_t off = hv_find(self, f, flen), n, hdr, end
    if off < 0:
        return 0
    hdr = rd_len(self.buf + off, &n)
    end = off + hdr + n
    hdr = rd_len(self.buf + end, &n)
    end += hdr + n
    memmove(self.buf + off, self.buf + end, self.used - end)
    self.count -= 1
    if self.count == 0:
        PyMem_Free(self.buf)
        self.buf = NULL
        self.used = 0
        return 1
    hv_resize(self, self.used - (end - off))
    self.used -= <unsigned int>(end - off)
    return 1

cdef int hv_convert(HashValue self) except -1:
    """listpack -> hashtable (one way)."""
    cdef dict d
    if self.d is not None:
        return 0
    d = {}
    for k, v in hv_pairs(self):
        d[k] = v
    self.d = d
    if self.buf != NULL:
        PyMem_Free(self.buf)
    self.buf = NULL
    self.used = 0
    self.count = 0
    return 0

cdef list hv_pairs(HashValue self):
    cdef list out = []
    cdef Py_ssize_t pos = 0, n, hdr
    cdef const unsigned char* b = self.buf
    cdef bytes k
    while pos < self.used:
        hdr = rd_len(b + pos, &n)
        k = PyBytes_FromStringAndSize(<const char*>b + pos + hdr, n)
        pos += hdr + n
        hdr = rd_len(b + pos, &n)
        out.append((k, PyBytes_FromStringAndSize(<const char*>b + pos + hdr, n)))
        pos += hdr + n
    return out

cdef long long hv_estimate(HashValue self):
    """The memory this value holds (engine/evict.pxi's figure for the dict form: its size plus five sampled
    entries scaled to the count; for the packed form the object and its buffer as the allocator rounds it)."""
    cdef long long total, sampled = 0, taken = 0, n
    cdef Py_ssize_t cap
    if self.d is None:
        if self.buf == NULL:
            return 48
        cap = round16(self.used)
        return 48 + (cap if cap <= 512 else cap + 16)
    n = len(self.d)
    total = 48 + sys.getsizeof(self.d)
    if n == 0:
        return total
    for k, v in self.d.items():
        sampled += bytes_cost(PyBytes_GET_SIZE(k)) + bytes_cost(PyBytes_GET_SIZE(v))
        taken += 1
        if taken == 5:
            break
    return total + sampled * n // taken


cdef int hv_reply_all(HashValue self, ReplyBuffer out, bint keys, bint values) except -1:
    """HGETALL (keys and values, a map), HKEYS or HVALS (an array) of the packed form, straight from the buffer."""
    cdef Py_ssize_t pos = 0, n, hdr
    cdef const unsigned char* b = self.buf
    if keys and values:
        out.add_map_len(self.count)
    else:
        out.add_array_len(self.count)
    while pos < self.used:
        hdr = rd_len(b + pos, &n)
        if keys:
            out._header(b'$', n)
            out._append(<const char*>b + pos + hdr, n)
            out._append(b"\r\n", 2)
        pos += hdr + n
        hdr = rd_len(b + pos, &n)
        if values:
            out._header(b'$', n)
            out._append(<const char*>b + pos + hdr, n)
            out._append(b"\r\n", 2)
        pos += hdr + n
    return 0


def _rebuild(pairs, hashtable):
    value = HashValue(pairs)
    if hashtable:
        value.hashtable = True
    return value
