# cython: language_level=3, wraparound=True, boundscheck=True, binding=True
"""The stream value type (redis t_stream.c data model).

Entries live packed in nodes as redis's listpack nodes of a rax: a sorted list of `Node`s (binary search on
the master ids), each with a master entry (id, field names) and one malloc'd buffer of entries stored as
deltas of the id and length-prefixed values (the field names only when they differ from the master's).
Deleted entries are flagged in place and counted, emptied nodes are dropped (XDEL), ``~`` trimming drops
whole nodes, and the node boundaries follow stream-node-max-bytes (estimated listpack bytes) and
stream-node-max-entries as redis's, so XINFO's node counts agree.  Entries are decoded only when a reply
needs them (XRANGE writes them straight from the node buffers into the reply).
"""
from libc.stdio cimport snprintf
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memmove
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.object cimport PyObject
from bisect import bisect_left, bisect_right, insort

from protocol.resp cimport ReplyBuffer
from protocol.cutil cimport ull_digits

from engine.core import register_value_type

U64_MAX = (1 << 64) - 1
MIN_ID = (0, 0)
MAX_ID = (U64_MAX, U64_MAX)
SCG_INVALID_ENTRIES_READ = -1
cdef extern from "limits.h":
    const unsigned long long U64_MAX_C "ULLONG_MAX"
cdef enum:
    SCG_INVALID_ENTRIES_READ_C = -1


cdef inline int put_id(char* out, unsigned long long ms, unsigned long long seq) noexcept:
    cdef int n = ull_digits(out, ms)
    out[n] = 45
    return n + 1 + ull_digits(out + n + 1, seq)


cpdef bytes format_id(tuple stream_id):
    """'<ms>-<seq>' (both unsigned 64-bit)."""
    cdef char buf[48]
    cdef unsigned long long ms = stream_id[0]
    cdef unsigned long long seq = stream_id[1]
    cdef int n = put_id(buf, ms, seq)
    return buf[:n]


def incr_id(stream_id):
    """streamIncrID: the next id, or None on overflow."""
    ms, seq = stream_id
    if seq == U64_MAX:
        if ms == U64_MAX:
            return None
        return (ms + 1, 0)
    return (ms, seq + 1)


def decr_id(stream_id):
    ms, seq = stream_id
    if seq == 0:
        if ms == 0:
            return None
        return (ms - 1, U64_MAX)
    return (ms, seq - 1)


# --------------------------------------------------------------------------------------------------
# listpack size estimate (streamAppendItem opens a new node when the tail node's bytes would pass
# stream-node-max-bytes)
# --------------------------------------------------------------------------------------------------
cdef inline int lp_int_size(long long v):
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -(1 << 23) <= v < (1 << 23):
        return 5
    if -(1 << 31) <= v < (1 << 31):
        return 6
    return 10


def _lp_int_size(v):
    if -(1 << 63) <= v < (1 << 63):
        return lp_int_size(v)
    return 10


cdef inline long long lp_str_size(bytes s):
    """listpack bytes of one string element (integers as lpEncodeIntegerGetType would store them)."""
    cdef Py_ssize_t n = len(s)
    cdef const unsigned char* p = s
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef unsigned long long v = 0
    cdef long long header, body
    if 0 < n <= 20:
        if p[0] == 45:
            neg = True
            i = 1
        if i < n and not (p[i] == 48 and (n - i > 1 or neg)):
            while i < n and 48 <= p[i] <= 57:
                i += 1
            if i == n:
                # digits only, canonical (no leading zero, no "-0"): an integer if it fits in int64
                i = 1 if neg else 0
                while i < n:
                    if v > 922337203685477580ULL or (v == 922337203685477580ULL and p[i] - 48 > (8 if neg else 7)):
                        break
                    v = v * 10 + (p[i] - 48)
                    i += 1
                else:
                    if neg:
                        if v == 9223372036854775808ULL:
                            return 10
                        return lp_int_size(-<long long>v)
                    return lp_int_size(<long long>v)
    header = 1 if n < 64 else (2 if n < 4096 else 5)
    body = header + n
    return body + (1 if body < 128 else (2 if body < 16384 else 3))


def _lp_str_size(s):
    return lp_str_size(s)


# --------------------------------------------------------------------------------------------------
# packed entries.  A node holds its entries in one malloc'd buffer, in id order, each entry as
#   flags (1 byte: ENTRY_DELETED, ENTRY_SAMEFIELDS), varint(ms - master ms), varint(seq),
#   [varint(pairs) if not SAMEFIELDS], then each item as varint(len) + bytes: the values alone when
#   the entry has the master entry's field names (SAMEFIELDS), else field, value, field, value...
# Deleted entries keep their slot with the flag set (redis marks them in the listpack the same way).
# --------------------------------------------------------------------------------------------------
cdef inline Py_ssize_t put_varint(unsigned char* p, unsigned long long v) noexcept:
    cdef Py_ssize_t n = 0
    while v >= 0x80:
        p[n] = <unsigned char>((v & 0x7f) | 0x80)
        v >>= 7
        n += 1
    p[n] = <unsigned char>v
    return n + 1


cdef inline unsigned long long get_varint(const unsigned char* p, Py_ssize_t* off) noexcept:
    cdef unsigned long long v = 0
    cdef int shift = 0
    cdef unsigned char b
    while True:
        b = p[off[0]]
        off[0] += 1
        v |= (<unsigned long long>(b & 0x7f)) << shift
        if b < 0x80:
            return v
        shift += 7


cdef inline int cmp_id(unsigned long long ams, unsigned long long aseq,
                       unsigned long long bms, unsigned long long bseq) noexcept:
    if ams < bms:
        return -1
    if ams > bms:
        return 1
    if aseq < bseq:
        return -1
    if aseq > bseq:
        return 1
    return 0


cdef class Node:
    """One listpack-like node of the stream: a master entry (id, field names) and packed entries."""

    def __cinit__(self):
        self.buf = NULL
        self.used = 0
        self.cap = 0

    def __dealloc__(self):
        if self.buf != NULL:
            free(self.buf)

    def __init__(self, tuple master, list fields):
        cdef long long nb = 7 + 2 + 2 + 2 + 2
        self.master = master
        self.last = master
        self.mms = master[0]
        self.mseq = master[1]
        self.lms = self.mms
        self.lseq = self.mseq
        self.slots = 0
        self.live = 0
        self.master_fields = fields
        self.nfields = len(fields)
        for f in fields:
            nb += lp_str_size(f)
        self.nbytes = nb

    cdef int reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t need = self.used + extra
        cdef Py_ssize_t cap
        cdef unsigned char* p
        if need <= self.cap:
            return 0
        cap = self.cap * 2 if self.cap else 256
        while cap < need:
            cap *= 2
        p = <unsigned char*>realloc(self.buf, cap)
        if p == NULL:
            raise MemoryError()
        self.buf = p
        self.cap = cap
        return 0

    cdef void shrink(self) noexcept:
        """Give back the growth slack once the node is closed (a newer node took the tail)."""
        cdef unsigned char* p
        if self.buf != NULL and self.cap > self.used:
            p = <unsigned char*>realloc(self.buf, self.used if self.used else 1)
            if p != NULL:
                self.buf = p
                self.cap = self.used if self.used else 1

    cdef Py_ssize_t head(self, Py_ssize_t off, EntryView* ev) noexcept:
        """Decode the entry at off into ev; returns the offset of the next entry."""
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i, n, ln
        ev.off = off
        ev.flags = p[off]
        off += 1
        ev.ms = self.mms + get_varint(p, &off)
        ev.seq = get_varint(p, &off)
        if ev.flags & ENTRY_SAMEFIELDS:
            n = self.nfields
        else:
            n = <Py_ssize_t>get_varint(p, &off) * 2
        ev.nitems = n
        ev.items = off
        for i in range(n):
            ln = <Py_ssize_t>get_varint(p, &off)
            off += ln
        ev.end = off
        return off

    cdef tuple values(self, EntryView* ev):
        """The entry's (field, value, ...) tuple."""
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t off = ev.items, i, ln, n
        cdef tuple t
        cdef object item
        cdef list fields = self.master_fields
        if ev.flags & ENTRY_SAMEFIELDS:
            n = ev.nitems
            t = PyTuple_New(2 * n)
            for i in range(n):
                item = fields[i]
                Py_INCREF(item)
                PyTuple_SET_ITEM(t, 2 * i, item)
                ln = <Py_ssize_t>get_varint(p, &off)
                item = PyBytes_FromStringAndSize(<const char*>p + off, ln)
                off += ln
                Py_INCREF(item)
                PyTuple_SET_ITEM(t, 2 * i + 1, item)
        else:
            n = ev.nitems
            t = PyTuple_New(n)
            for i in range(n):
                ln = <Py_ssize_t>get_varint(p, &off)
                item = PyBytes_FromStringAndSize(<const char*>p + off, ln)
                off += ln
                Py_INCREF(item)
                PyTuple_SET_ITEM(t, i, item)
        return t

    cdef int write_entry(self, ReplyBuffer reply, EntryView* ev) except -1:
        """[id, [field, value, ...]] straight from the packed bytes into the reply."""
        cdef const unsigned char* p
        cdef Py_ssize_t off = ev.items, i, ln, n = ev.nitems
        cdef char idbuf[48]
        cdef int k
        reply._header(b'*', 2)
        k = put_id(idbuf, ev.ms, ev.seq)
        reply._header(b'$', k)
        reply._append(idbuf, k)
        reply._append(b"\r\n", 2)
        if ev.flags & ENTRY_SAMEFIELDS:
            reply._header(b'*', 2 * n)
            for i in range(n):
                reply.add_bulk(<bytes>self.master_fields[i])
                p = self.buf
                ln = <Py_ssize_t>get_varint(p, &off)
                reply._header(b'$', ln)
                reply._append(<const char*>p + off, ln)
                reply._append(b"\r\n", 2)
                off += ln
        else:
            reply._header(b'*', n)
            for i in range(n):
                p = self.buf
                ln = <Py_ssize_t>get_varint(p, &off)
                reply._header(b'$', ln)
                reply._append(<const char*>p + off, ln)
                reply._append(b"\r\n", 2)
                off += ln
        return 0

    cdef Py_ssize_t find(self, unsigned long long ms, unsigned long long seq, EntryView* ev) noexcept:
        """Offset of the slot holding exactly (ms, seq) (live or deleted) with ev filled, or -1."""
        cdef Py_ssize_t off = 0
        cdef int c
        if cmp_id(ms, seq, self.lms, self.lseq) > 0 or cmp_id(ms, seq, self.mms, self.mseq) < 0:
            return -1
        while off < self.used:
            self.head(off, ev)
            c = cmp_id(ev.ms, ev.seq, ms, seq)
            if c == 0:
                return off
            if c > 0:
                return -1
            off = ev.end
        return -1

    def entries(self):
        """[(id, fields, deleted)] of every slot (debugging and tests)."""
        cdef EntryView ev
        cdef Py_ssize_t off = 0
        out = []
        while off < self.used:
            off = self.head(off, &ev)
            out.append(((ev.ms, ev.seq), self.values(&ev), bool(ev.flags & ENTRY_DELETED)))
        return out

    @property
    def packed_bytes(self):
        return self.used


cdef inline long long c_node_mem(Node node):
    return node.nbytes if node.nbytes > 4096 else 4096


def node_mem(Node node):
    """A listpack node is preallocated to stream-node-max-bytes (4096) in redis."""
    return c_node_mem(node)


cdef class NACK:
    """A pending entry: delivery time, delivery count, owning consumer."""

    def __init__(self, delivery_time, delivery_count, consumer):
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count
        self.consumer = consumer


cdef class SortedIds:
    """A rax-like map keyed by stream id: C (ms, seq) pairs kept sorted in one array, the values in a list
    at the same positions.  The Python interface takes and gives (ms, seq) tuples."""

    def __cinit__(self):
        self.ids = NULL
        self.n = 0
        self.cap = 0
        self.vals = []

    def __dealloc__(self):
        if self.ids != NULL:
            free(self.ids)

    cdef int reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t cap
        cdef unsigned long long* p
        if self.n + extra <= self.cap:
            return 0
        cap = self.cap * 2 if self.cap else 8
        while cap < self.n + extra:
            cap *= 2
        p = <unsigned long long*>realloc(self.ids, cap * 2 * sizeof(unsigned long long))
        if p == NULL:
            raise MemoryError()
        self.ids = p
        self.cap = cap
        return 0

    cdef Py_ssize_t lower_bound(self, unsigned long long ms, unsigned long long seq) noexcept:
        """The first position whose id is >= (ms, seq) (n when none)."""
        cdef Py_ssize_t lo = 0, hi = self.n, mid
        cdef unsigned long long* ids = self.ids
        if hi == 0 or cmp_id(ids[2 * hi - 2], ids[2 * hi - 1], ms, seq) < 0:
            return hi
        while lo < hi:
            mid = (lo + hi) >> 1
            if cmp_id(ids[2 * mid], ids[2 * mid + 1], ms, seq) < 0:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef Py_ssize_t c_find(self, unsigned long long ms, unsigned long long seq) noexcept:
        cdef Py_ssize_t i = self.lower_bound(ms, seq)
        if i < self.n and self.ids[2 * i] == ms and self.ids[2 * i + 1] == seq:
            return i
        return -1

    cdef int c_append(self, unsigned long long ms, unsigned long long seq, object v) except -1:
        """Add an id known to be greater than every id held."""
        self.reserve(1)
        self.ids[2 * self.n] = ms
        self.ids[2 * self.n + 1] = seq
        self.vals.append(v)
        self.n += 1
        return 0

    cdef int c_insert(self, unsigned long long ms, unsigned long long seq, object v) except -1:
        cdef Py_ssize_t i = self.lower_bound(ms, seq)
        if i < self.n and self.ids[2 * i] == ms and self.ids[2 * i + 1] == seq:
            self.vals[i] = v
            return 0
        if i == self.n:
            return self.c_append(ms, seq, v)
        self.reserve(1)
        memmove(self.ids + 2 * i + 2, self.ids + 2 * i, (self.n - i) * 2 * sizeof(unsigned long long))
        self.ids[2 * i] = ms
        self.ids[2 * i + 1] = seq
        self.vals.insert(i, v)
        self.n += 1
        return 0

    cdef bint c_remove(self, unsigned long long ms, unsigned long long seq) except -1:
        cdef Py_ssize_t i = self.c_find(ms, seq)
        if i < 0:
            return False
        memmove(self.ids + 2 * i, self.ids + 2 * i + 2, (self.n - i - 1) * 2 * sizeof(unsigned long long))
        del self.vals[i]
        self.n -= 1
        return True

    def __len__(self):
        return self.n

    def __contains__(self, k):
        return self.c_find(k[0], k[1]) >= 0

    def get(self, k, default=None):
        cdef Py_ssize_t i = self.c_find(k[0], k[1])
        return self.vals[i] if i >= 0 else default

    cpdef insert(self, k, v):
        self.c_insert(k[0], k[1], v)

    cpdef bint remove(self, k) except -1:
        return self.c_remove(k[0], k[1])

    cpdef key_at(self, Py_ssize_t i):
        """The id at position i as a tuple (negative i counts from the end)."""
        if i < 0:
            i += self.n
        if i < 0 or i >= self.n:
            raise IndexError(i)
        return (self.ids[2 * i], self.ids[2 * i + 1])

    cpdef value_at(self, Py_ssize_t i):
        if i < 0:
            i += self.n
        return self.vals[i]

    cpdef Py_ssize_t index_ge(self, k) except -1:
        return self.lower_bound(k[0], k[1])

    @property
    def keys(self):
        """Every id in order, as a new list of tuples (O(n): not for hot paths)."""
        return [(self.ids[2 * i], self.ids[2 * i + 1]) for i in range(self.n)]

    @property
    def map(self):
        """id -> value as a new dict (O(n): tests and debugging)."""
        return {(self.ids[2 * i], self.ids[2 * i + 1]): self.vals[i] for i in range(self.n)}


cdef class Consumer:
    def __init__(self, name, seen_time):
        self.name = name
        self.seen_time = seen_time
        self.pel = SortedIds()       # id -> NACK (shared with the group PEL)


cdef class ConsumerGroup:
    def __init__(self, last_id, entries_read):
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel = SortedIds()       # id -> NACK
        self.consumers = {}          # name -> Consumer (replies sort by name, like the rax)
        self.mem_cached = 0

    def sorted_consumers(self):
        return [self.consumers[n] for n in sorted(self.consumers)]

    def create_consumer(self, name, now):
        consumer = Consumer(name, now)
        self.consumers[name] = consumer
        return consumer

    def delete_consumer(self, Consumer consumer):
        cdef SortedIds own = consumer.pel
        cdef Py_ssize_t i
        for i in range(own.n):
            self.pel.c_remove(own.ids[2 * i], own.ids[2 * i + 1])
        del self.consumers[consumer.name]

    def ack(self, entry_id):
        nack = self.pel.get(entry_id)
        if nack is None:
            return False
        self.pel.remove(entry_id)
        nack.consumer.pel.remove(entry_id)
        return True


cdef class StreamValue:
    type_name = b"stream"

    def __init__(self):
        self.nodes = []              # Node list in id order, each with its packed entries
        self.length = 0
        self.last_live = MIN_ID
        self.last_id = MIN_ID
        self.first_id = MIN_ID
        self.max_deleted_id = MIN_ID
        self.entries_added = 0
        self.groups = {}             # name -> ConsumerGroup
        self.nodes_mem = 0           # sum of node_mem(node) over nodes, kept as nodes change
        self.groups_dirty = True
        self.groups_mem = 0
        self.dirty_group = None

    def __len__(self):
        return self.length

    @property
    def ids(self):
        """Every live entry id in order (a walk of the nodes: tests and debugging, not a hot path)."""
        return [entry_id for entry_id, _ in self.range(MIN_ID, MAX_ID)]

    @property
    def vals(self):
        return [fv for _, fv in self.range(MIN_ID, MAX_ID)]

    # ---- entries ---------------------------------------------------------------------------------
    cpdef append(self, tuple entry_id, list fields_values, long long node_max_bytes=4096,
                 long long node_max_entries=100):
        """streamAppendItem's storage step (the id is already validated)."""
        self.append_at(entry_id, fields_values, 0, node_max_bytes, node_max_entries)

    cdef int append_at(self, tuple entry_id, list fields_values, Py_ssize_t first, long long node_max_bytes,
                       long long node_max_entries) except -1:
        """append() of fields_values[first:] (XADD's argv without a slice)."""
        cdef Py_ssize_t i, n = len(fields_values) - first, ln
        cdef long long cost = 0, entry_bytes, max_bytes
        cdef Node node = None
        cdef Node tail = None
        cdef list fields
        cdef bint same
        cdef unsigned long long ms = entry_id[0]
        cdef unsigned long long seq = entry_id[1]
        cdef unsigned char* p
        cdef bytes item
        for i in range(n):
            cost += len(<bytes>fields_values[first + i])
        if self.nodes:
            tail = <Node>self.nodes[len(self.nodes) - 1]
            node = tail
            max_bytes = node_max_bytes if 0 < node_max_bytes <= (1 << 30) else (1 << 30)
            if node.nbytes + cost >= max_bytes:
                node = None
            elif node_max_entries and node.slots >= node_max_entries:
                node = None
        if node is None:
            if tail is not None:
                tail.shrink()
            node = Node(entry_id, fields_values[first::2])
            self.nodes.append(node)
        else:
            self.nodes_mem -= c_node_mem(node)
        entry_bytes = 2 + lp_int_size(<long long>(ms - node.mms)) + lp_int_size(<long long>(seq - node.mseq))
        fields = node.master_fields
        same = node.nfields * 2 == n
        if same:
            for i in range(0, n, 2):
                if <bytes>fields[i >> 1] != <bytes>fields_values[first + i]:
                    same = False
                    break
        if same:
            for i in range(1, n, 2):
                entry_bytes += lp_str_size(<bytes>fields_values[first + i])
        else:
            entry_bytes += 2
            for i in range(n):
                entry_bytes += lp_str_size(<bytes>fields_values[first + i])
        node.nbytes += entry_bytes + 2
        self.nodes_mem += c_node_mem(node)
        # the packed slot
        node.reserve(cost + 10 * n + 31)
        p = node.buf + node.used
        p[0] = ENTRY_SAMEFIELDS if same else 0
        ln = 1
        ln += put_varint(p + ln, ms - node.mms)
        ln += put_varint(p + ln, seq)
        if same:
            for i in range(1, n, 2):
                item = <bytes>fields_values[first + i]
                ln += put_varint(p + ln, <unsigned long long>PyBytes_GET_SIZE(item))
                memcpy(p + ln, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item))
                ln += PyBytes_GET_SIZE(item)
        else:
            ln += put_varint(p + ln, <unsigned long long>(n >> 1))
            for i in range(n):
                item = <bytes>fields_values[first + i]
                ln += put_varint(p + ln, <unsigned long long>PyBytes_GET_SIZE(item))
                memcpy(p + ln, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item))
                ln += PyBytes_GET_SIZE(item)
        node.used += ln
        node.slots += 1
        node.live += 1
        node.last = entry_id
        node.lms = ms
        node.lseq = seq
        self.length += 1
        self.last_live = entry_id
        self.last_id = entry_id
        self.entries_added += 1
        if self.length == 1:
            self.first_id = entry_id
        return 0

    cdef Py_ssize_t node_index(self, unsigned long long ms, unsigned long long seq):
        """The last node whose master id is <= (ms, seq), or -1."""
        cdef list nodes = self.nodes
        cdef Py_ssize_t lo = 0, hi = len(nodes), mid
        cdef Node node
        if hi:
            node = <Node>nodes[hi - 1]
            if cmp_id(node.mms, node.mseq, ms, seq) <= 0:
                return hi - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            node = <Node>nodes[mid]
            if cmp_id(node.mms, node.mseq, ms, seq) <= 0:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    cpdef get_entry(self, entry_id):
        """The entry's (field, value, ...) tuple, or None when there is no such live entry."""
        cdef unsigned long long ms = entry_id[0]
        cdef unsigned long long seq = entry_id[1]
        cdef Py_ssize_t ni = self.node_index(ms, seq)
        cdef Node node
        cdef EntryView ev
        if ni < 0:
            return None
        node = <Node>self.nodes[ni]
        if node.find(ms, seq, &ev) < 0 or ev.flags & ENTRY_DELETED:
            return None
        return node.values(&ev)

    def delete(self, entry_id):
        """streamDeleteItem: True when the entry existed (its slot is flagged; an emptied node goes)."""
        cdef unsigned long long ms = entry_id[0]
        cdef unsigned long long seq = entry_id[1]
        cdef Py_ssize_t ni = self.node_index(ms, seq)
        cdef Node node
        cdef EntryView ev
        cdef Py_ssize_t off
        if ni < 0:
            return False
        node = <Node>self.nodes[ni]
        off = node.find(ms, seq, &ev)
        if off < 0 or ev.flags & ENTRY_DELETED:
            return False
        node.buf[off] |= ENTRY_DELETED
        node.live -= 1
        self.length -= 1
        if node.live == 0:
            self.nodes_mem -= c_node_mem(node)
            del self.nodes[ni]
        if self.length == 0:
            self.last_live = MIN_ID
        elif ms == self.last_live[0] and seq == self.last_live[1]:
            self.last_live = self.last_entry()[0]
        return True

    cpdef last_valid_id(self):
        """streamLastValidID: the last live entry's id, else 0-0."""
        return self.last_live if self.length else MIN_ID

    cdef int scan(self, start, end, long long count, bint rev, int mode, ReplyBuffer reply, list out) except -1:
        """Live entries with start <= id <= end (count 0 = all), forward or reverse; mode 0 counts them,
        1 writes each to reply, 2 appends (id, fields) to out.  Returns the number seen."""
        cdef unsigned long long sms = start[0], sseq = start[1], ems = end[0], eseq = end[1]
        cdef list nodes = self.nodes
        cdef Py_ssize_t ni, nn = len(nodes), off, k, j
        cdef long long seen = 0
        cdef Node node
        cdef EntryView ev
        cdef Py_ssize_t small[128]
        cdef Py_ssize_t* offs
        if cmp_id(sms, sseq, ems, eseq) > 0 or not self.length:
            return 0
        if not rev:
            ni = self.node_index(sms, sseq)
            if ni < 0:
                ni = 0
            while ni < nn:
                node = <Node>nodes[ni]
                ni += 1
                if cmp_id(node.mms, node.mseq, ems, eseq) > 0:
                    break
                if cmp_id(node.lms, node.lseq, sms, sseq) < 0 or node.live == 0:
                    continue
                off = 0
                while off < node.used:
                    off = node.head(off, &ev)
                    if ev.flags & ENTRY_DELETED:
                        continue
                    if cmp_id(ev.ms, ev.seq, sms, sseq) < 0:
                        continue
                    if cmp_id(ev.ms, ev.seq, ems, eseq) > 0:
                        return seen
                    if mode == 1:
                        node.write_entry(reply, &ev)
                    elif mode == 2:
                        out.append(((ev.ms, ev.seq), node.values(&ev)))
                    seen += 1
                    if count and seen >= count:
                        return seen
            return seen
        ni = self.node_index(ems, eseq)
        while ni >= 0:
            node = <Node>nodes[ni]
            ni -= 1
            if cmp_id(node.lms, node.lseq, sms, sseq) < 0:
                break
            if node.live == 0:
                continue
            if node.slots <= 128:
                offs = &small[0]
            else:
                offs = <Py_ssize_t*>malloc(node.slots * sizeof(Py_ssize_t))
            if offs == NULL:
                raise MemoryError()
            try:
                k = 0
                off = 0
                while off < node.used:
                    offs[k] = off
                    k += 1
                    off = node.head(off, &ev)
                for j in range(k - 1, -1, -1):
                    node.head(offs[j], &ev)
                    if ev.flags & ENTRY_DELETED:
                        continue
                    if cmp_id(ev.ms, ev.seq, ems, eseq) > 0:
                        continue
                    if cmp_id(ev.ms, ev.seq, sms, sseq) < 0:
                        return seen
                    if mode == 1:
                        node.write_entry(reply, &ev)
                    elif mode == 2:
                        out.append(((ev.ms, ev.seq), node.values(&ev)))
                    seen += 1
                    if count and seen >= count:
                        return seen
            finally:
                if offs != &small[0]:
                    free(offs)
        return seen

    cpdef list range(self, start, end, long long count=0, bint rev=False):
        """Entries (id, fields) with start <= id <= end, count 0 = all."""
        cdef list out = []
        self.scan(start, end, count, rev, 2, None, out)
        return out

    cpdef reply_range(self, ReplyBuffer reply, start, end, long long count=0, bint rev=False):
        """The array of entries XRANGE replies, written from the packed nodes (one counting pass first)."""
        cdef long long n = self.scan(start, end, count, rev, 0, None, None)
        reply._header(b'*', n)
        if n:
            self.scan(start, end, n, rev, 1, reply, None)
        return n

    cdef long long read_group_new(self, ConsumerGroup g, Consumer cons, long long count, long long now,
                                  ReplyBuffer reply, list served) except -1:
        """XREADGROUP's `>` read for one group (streamReplyWithRange with a group, no NOACK), in C: the live
        entries after g.last_id (count 0 = all) written to reply as an array, each added to the group's and the
        consumer's PEL as a new NACK (delivery count 1, time now), entries_read and last_id advanced as
        read_new_for_group does.  The caller has checked that every id in the group's PEL is <= g.last_id, so
        the new ids are appended at the end of both PELs.  served, when not None, gets (id, nack) per entry
        (the XCLAIM effects).  Returns the number of entries written."""
        cdef unsigned long long lms = g.last_id[0], lseq = g.last_id[1], sms, sseq
        cdef unsigned long long dms = 0, dseq = 0
        cdef bint tombs
        cdef list nodes = self.nodes
        cdef Py_ssize_t ni, nn = len(nodes), off, k, n = 0, cap = 64
        cdef Node node
        cdef EntryView ev
        cdef SortedIds gpel = g.pel, cpel = cons.pel
        cdef NACK nack
        cdef PyObject* small_nodes[64]
        cdef Py_ssize_t small_offs[64]
        cdef PyObject** pnodes = small_nodes
        cdef Py_ssize_t* poffs = small_offs
        cdef void* grown
        cdef tuple entry_id
        if lseq == U64_MAX_C:
            if lms == U64_MAX_C:
                reply._header(b'*', 0)
                return 0
            sms = lms + 1
            sseq = 0
        else:
            sms = lms
            sseq = lseq + 1
        try:
            # the entries to serve: (node, slot offset) pairs
            if self.length:
                ni = self.node_index(sms, sseq)
                if ni < 0:
                    ni = 0
                while ni < nn and not (count and n >= count):
                    node = <Node>nodes[ni]
                    ni += 1
                    if node.live == 0 or cmp_id(node.lms, node.lseq, sms, sseq) < 0:
                        continue
                    off = 0
                    while off < node.used:
                        off = node.head(off, &ev)
                        if ev.flags & ENTRY_DELETED or cmp_id(ev.ms, ev.seq, sms, sseq) < 0:
                            continue
                        if n == cap:
                            if pnodes == small_nodes:
                                pnodes = <PyObject**>malloc(cap * 2 * sizeof(PyObject*))
                                poffs = <Py_ssize_t*>malloc(cap * 2 * sizeof(Py_ssize_t))
                                if pnodes == NULL or poffs == NULL:
                                    free(pnodes)
                                    free(poffs)
                                    pnodes = small_nodes
                                    poffs = small_offs
                                    raise MemoryError()
                                memcpy(pnodes, small_nodes, cap * sizeof(PyObject*))
                                memcpy(poffs, small_offs, cap * sizeof(Py_ssize_t))
                            else:
                                grown = realloc(pnodes, cap * 2 * sizeof(PyObject*))
                                if grown == NULL:
                                    raise MemoryError()
                                pnodes = <PyObject**>grown
                                grown = realloc(poffs, cap * 2 * sizeof(Py_ssize_t))
                                if grown == NULL:
                                    raise MemoryError()
                                poffs = <Py_ssize_t*>grown
                            cap *= 2
                        pnodes[n] = <PyObject*>node
                        poffs[n] = ev.off
                        n += 1
                        if count and n >= count:
                            break
            reply._header(b'*', n)
            if n == 0:
                return 0
            # streamRangeHasTombstones(id, +inf) is "max_deleted_id >= id" once these hold
            tombs = self.length > 0 and self.max_deleted_id != MIN_ID and not self.first_id > self.max_deleted_id
            if tombs:
                dms = self.max_deleted_id[0]
                dseq = self.max_deleted_id[1]
            gpel.reserve(n)
            cpel.reserve(n)
            for k in range(n):
                node = <Node>pnodes[k]
                node.head(poffs[k], &ev)
                node.write_entry(reply, &ev)
                if g.entries_read != SCG_INVALID_ENTRIES_READ_C and not (tombs and cmp_id(dms, dseq, ev.ms, ev.seq) >= 0):
                    g.entries_read += 1
                elif self.entries_added:
                    g.entries_read = self.estimate_distance_from_first_ever_entry((ev.ms, ev.seq))
                nack = NACK.__new__(NACK)
                nack.delivery_time = now
                nack.delivery_count = 1
                nack.consumer = cons
                gpel.c_append(ev.ms, ev.seq, nack)
                cpel.c_append(ev.ms, ev.seq, nack)
                if served is not None:
                    served.append(((ev.ms, ev.seq), nack))
            g.last_id = (ev.ms, ev.seq)
            return n
        finally:
            if pnodes != small_nodes:
                free(pnodes)
                free(poffs)

    cpdef first_entry(self):
        """(id, fields) of the first live entry, or None."""
        cdef list out = []
        self.scan(MIN_ID, MAX_ID, 1, False, 2, None, out)
        return out[0] if out else None

    cpdef last_entry(self):
        cdef list out = []
        self.scan(MIN_ID, MAX_ID, 1, True, 2, None, out)
        return out[0] if out else None

    cpdef first_live_id(self):
        cdef Node node
        cdef EntryView ev
        cdef Py_ssize_t off
        for x in self.nodes:
            node = <Node>x
            off = 0
            while off < node.used:
                off = node.head(off, &ev)
                if not ev.flags & ENTRY_DELETED:
                    return (ev.ms, ev.seq)
        return MIN_ID

    def trim(self, strategy, maxlen, minid, approx, limit):
        """streamTrim: whole nodes first, then (exact trimming) entries flagged within the first node.
        Returns the number of entries removed."""
        cdef long long deleted = 0, entries
        cdef bint by_len = strategy == "maxlen"
        cdef long long c_maxlen = maxlen if by_len else 0
        cdef long long c_limit = limit or 0
        cdef unsigned long long mms = 0, mseq = 0
        cdef Node node
        cdef EntryView ev
        cdef Py_ssize_t off
        cdef bint remove_node
        if not by_len:
            mms = minid[0]
            mseq = minid[1]
        while self.nodes:
            if by_len and self.length <= c_maxlen:
                break
            node = <Node>self.nodes[0]
            entries = node.live
            if c_limit and deleted + entries > c_limit:
                break
            if by_len:
                remove_node = self.length - entries >= c_maxlen
            else:
                remove_node = cmp_id(node.lms, node.lseq, mms, mseq) < 0
            if remove_node:
                self.nodes_mem -= c_node_mem(node)
                del self.nodes[0]
                self.length -= entries
                deleted += entries
                continue
            if approx:
                break
            # trim entries from within the node (flagged, as redis does; the node stays)
            off = 0
            while off < node.used:
                off = node.head(off, &ev)
                if ev.flags & ENTRY_DELETED:
                    continue
                if by_len:
                    if self.length <= c_maxlen:
                        break
                elif cmp_id(ev.ms, ev.seq, mms, mseq) >= 0:
                    break
                node.buf[ev.off] |= ENTRY_DELETED
                node.live -= 1
                self.length -= 1
                deleted += 1
            break
        if self.length:
            self.first_id = self.first_live_id()
        else:
            self.last_live = MIN_ID
        return deleted

    # ---- consumer groups -------------------------------------------------------------------------
    cpdef bint range_has_tombstones(self, start=None, end=None) except -1:
        if not self.length or self.max_deleted_id == MIN_ID:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        start = start or MIN_ID
        end = end or MAX_ID
        return start <= self.max_deleted_id <= end

    cpdef long long estimate_distance_from_first_ever_entry(self, entry_id) except? -2:
        if not self.entries_added:
            return 0
        if not self.length and entry_id <= self.last_id:
            return self.entries_added
        if entry_id == self.last_id:
            return self.entries_added
        if entry_id > self.last_id:
            return SCG_INVALID_ENTRIES_READ
        if self.max_deleted_id == MIN_ID or self.max_deleted_id < self.first_id:
            if entry_id < self.first_id:
                return self.entries_added - self.length
            if entry_id == self.first_id:
                return self.entries_added - self.length + 1
        return SCG_INVALID_ENTRIES_READ

    def group_lag(self, group):
        """streamReplyWithCGLag: the lag, or None when it cannot be known."""
        if not self.entries_added:
            return 0
        if group.entries_read != SCG_INVALID_ENTRIES_READ and not self.range_has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        entries_read = self.estimate_distance_from_first_ever_entry(group.last_id)
        if entries_read != SCG_INVALID_ENTRIES_READ:
            return self.entries_added - entries_read
        return None

    def sorted_groups(self):
        return [(n, self.groups[n]) for n in sorted(self.groups)]

    # ---- introspection ---------------------------------------------------------------------------
    def rax_node_count(self):
        """Nodes of a compressed radix tree holding the 16-byte node keys (XINFO radix-tree-nodes)."""
        keys = [node.master[0].to_bytes(8, "big") + node.master[1].to_bytes(8, "big") for node in self.nodes]

        def count(group, depth):
            if depth == 16:
                return 1
            first, last = group[0], group[-1]
            common = depth
            while common < 16 and first[common] == last[common]:
                common += 1
            if common > depth:
                return 1 + count(group, common)
            total = 1
            i = 0
            while i < len(group):
                j = i
                ch = group[i][depth]
                while j < len(group) and group[j][depth] == ch:
                    j += 1
                total += count(group[i:j], depth + 1)
                i = j
            return total

        return count(keys, 0) if keys else 1

    # ---- value-type protocol ---------------------------------------------------------------------
    def encoding(self, config=None):
        return b"stream"

    def copy(self):
        return StreamValue.from_rdb("stream", self.to_rdb()[1])

    def to_rdb(self):
        groups = []
        for name, group in self.sorted_groups():
            pel = [(k[0], k[1], n.delivery_time, n.delivery_count) for k, n in
                   zip(group.pel.keys, group.pel.vals)]
            consumers = [{"name": cons.name, "seen_time": cons.seen_time, "active_time": None,
                          "pel": list(cons.pel.keys)} for cons in group.sorted_consumers()]
            groups.append({"name": name, "last_id": group.last_id, "entries_read": group.entries_read,
                           "pel": pel, "consumers": consumers})
        entries = [(i[0], i[1], [(fv[j], fv[j + 1]) for j in range(0, len(fv), 2)])
                   for i, fv in self.range(MIN_ID, MAX_ID)]
        return "stream", {"entries": entries, "length": self.length, "last_id": self.last_id,
                          "first_id": self.first_id, "max_deleted_id": self.max_deleted_id,
                          "entries_added": self.entries_added, "groups": groups}

    @classmethod
    def from_rdb(cls, kind, data, config=None):
        value = cls()
        max_bytes, max_entries = 4096, 100
        if config is not None:
            try:
                max_bytes, max_entries = config["stream-node-max-bytes"], config["stream-node-max-entries"]
            except KeyError:
                pass
        for ms, seq, pairs in data.get("entries", []):
            value.append((ms, seq), [x for pair in pairs for x in pair], max_bytes, max_entries)
        value.last_id = tuple(data.get("last_id") or value.last_id)
        value.entries_added = data.get("entries_added", value.length)
        value.max_deleted_id = tuple(data.get("max_deleted_id") or MIN_ID)
        first = data.get("first_id")
        value.first_id = tuple(first) if first and value.length else value.first_live_id()
        for group_data in data.get("groups", []):
            entries_read = group_data.get("entries_read")
            group = ConsumerGroup(tuple(group_data["last_id"]),
                                  SCG_INVALID_ENTRIES_READ if entries_read is None else entries_read)
            nacks = {}
            for ms, seq, delivery_time, delivery_count in group_data.get("pel", []):
                nacks[(ms, seq)] = NACK(delivery_time, delivery_count, None)
                group.pel.insert((ms, seq), nacks[(ms, seq)])
            for cons_data in group_data.get("consumers", []):
                consumer = group.create_consumer(cons_data["name"], cons_data.get("seen_time", 0))
                for entry_id in cons_data.get("pel", []):
                    nack = nacks[tuple(entry_id[:2])]
                    nack.consumer = consumer
                    consumer.pel.insert(tuple(entry_id[:2]), nack)
            value.groups[group_data["name"]] = group
        return value

    def mem_estimate(self):
        """What Redis would use: each listpack node is preallocated to stream-node-max-bytes (4096), plus
        the rax and the consumer groups' PEL entries (O(nodes + groups), no entry walk)."""
        cdef long long pel = 0
        cdef ConsumerGroup g
        cdef long long one
        if self.groups_dirty or not self.groups:
            # the stream commands set groups_dirty on every lookup (engine/commands/t_stream.pyx
            # stream_for_read/_write): XADD's fast path, which touches no group, keeps the count
            for v in self.groups.values():
                g = <ConsumerGroup>v
                one = g.pel.n * 130 + len(g.consumers) * 100
                g.mem_cached = one
                pel += one
            self.groups_mem = pel
            self.groups_dirty = False
            self.dirty_group = None
        elif self.dirty_group is not None:
            # XREADGROUP changed one group only (t_stream.pyx xread_generic): recount that one
            g = <ConsumerGroup>self.dirty_group
            one = g.pel.n * 130 + len(g.consumers) * 100
            self.groups_mem += one - g.mem_cached
            g.mem_cached = one
            self.dirty_group = None
        return 600 + self.nodes_mem + len(self.nodes) * 40 + self.groups_mem

    mem_usage = mem_estimate


register_value_type(StreamValue, b"stream")
