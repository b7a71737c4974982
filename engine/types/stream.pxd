# C-level entry points of the stream value type, cimported by the stream command family.

from protocol.resp cimport ReplyBuffer

cpdef bytes format_id(tuple stream_id)

cdef enum:
    ENTRY_DELETED = 1
    ENTRY_SAMEFIELDS = 2

cdef struct EntryView:
    Py_ssize_t off                   # the slot's offset in the node buffer
    Py_ssize_t items                 # offset of its first length-prefixed item
    Py_ssize_t end                   # offset of the next slot
    Py_ssize_t nitems                # items stored (values only with SAMEFIELDS)
    unsigned long long ms
    unsigned long long seq
    unsigned char flags

cdef class Node:
    cdef public tuple master
    cdef public tuple last
    cdef public long long slots      # live + deleted entries (the master entry's count + deleted)
    cdef public long long live
    cdef public long long nbytes
    cdef public list master_fields
    cdef Py_ssize_t nfields
    cdef unsigned long long mms, mseq, lms, lseq
    cdef unsigned char* buf          # packed entries (see stream.pyx)
    cdef Py_ssize_t used, cap
    cdef int reserve(self, Py_ssize_t extra) except -1
    cdef void shrink(self) noexcept
    cdef Py_ssize_t head(self, Py_ssize_t off, EntryView* ev) noexcept
    cdef tuple values(self, EntryView* ev)
    cdef int write_entry(self, ReplyBuffer reply, EntryView* ev) except -1
    cdef Py_ssize_t find(self, unsigned long long ms, unsigned long long seq, EntryView* ev) noexcept


cdef class NACK:
    cdef public long long delivery_time
    cdef public long long delivery_count
    cdef public object consumer


cdef class SortedIds:
    # A rax-like map keyed by stream id: the ids as C (ms, seq) pairs in one sorted malloc'd array, the values
    # (NACKs) in a Python list at the same positions (so the GC still sees them); no tuple or dict per entry.
    cdef unsigned long long* ids     # 2 * n: ms, seq of entry i at ids[2i], ids[2i + 1]
    cdef Py_ssize_t n, cap
    cdef public list vals
    cdef int reserve(self, Py_ssize_t extra) except -1
    cdef Py_ssize_t lower_bound(self, unsigned long long ms, unsigned long long seq) noexcept
    cdef Py_ssize_t c_find(self, unsigned long long ms, unsigned long long seq) noexcept
    cdef int c_append(self, unsigned long long ms, unsigned long long seq, object v) except -1
    cdef int c_insert(self, unsigned long long ms, unsigned long long seq, object v) except -1
    cdef bint c_remove(self, unsigned long long ms, unsigned long long seq) except -1
    cpdef insert(self, k, v)
    cpdef bint remove(self, k) except -1
    cpdef key_at(self, Py_ssize_t i)
    cpdef value_at(self, Py_ssize_t i)
    cpdef Py_ssize_t index_ge(self, k) except -1


cdef class Consumer:
    cdef public object name
    cdef public long long seen_time
    cdef public SortedIds pel


cdef class ConsumerGroup:
    cdef public object last_id
    cdef public long long entries_read
    cdef public SortedIds pel
    cdef public dict consumers
    cdef public long long mem_cached # its share of StreamValue.groups_mem at the last recount


cdef class StreamValue:
    cdef public list nodes           # Node list in id order (each holds its packed entries)
    cdef public Py_ssize_t length    # live entries
    cdef public object last_live     # the last live entry's id (streamLastValidID), MIN_ID when empty
    cdef public object last_id
    cdef public object first_id
    cdef public object max_deleted_id
    cdef public long long entries_added
    cdef public dict groups          # name -> ConsumerGroup
    cdef public long long nodes_mem  # sum of node_mem(node) over nodes, kept as nodes change
    cdef public bint groups_dirty    # set by every command that may touch the groups (see mem_estimate)
    cdef public long long groups_mem # the groups' share of mem_estimate, recounted when groups_dirty
    cdef public object dirty_group   # the one group an XREADGROUP touched since the last recount, or None

    cpdef append(self, tuple entry_id, list fields_values, long long node_max_bytes=*,
                 long long node_max_entries=*)
    cdef int append_at(self, tuple entry_id, list fields_values, Py_ssize_t first, long long node_max_bytes,
                       long long node_max_entries) except -1
    cpdef get_entry(self, entry_id)
    cdef Py_ssize_t node_index(self, unsigned long long ms, unsigned long long seq)
    cdef int scan(self, start, end, long long count, bint rev, int mode, ReplyBuffer reply, list out) except -1
    cpdef reply_range(self, ReplyBuffer reply, start, end, long long count=*, bint rev=*)
    cdef long long read_group_new(self, ConsumerGroup g, Consumer cons, long long count, long long now,
                                  ReplyBuffer reply, list served) except -1
    cpdef first_entry(self)
    cpdef last_entry(self)
    cpdef first_live_id(self)
    cpdef last_valid_id(self)
    cpdef list range(self, start, end, long long count=*, bint rev=*)
    cpdef bint range_has_tombstones(self, start=*, end=*) except -1
    cpdef long long estimate_distance_from_first_ever_entry(self, entry_id) except? -2
