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
    cdef public list keys
    cdef public dict map
    cpdef insert(self, k, v)
    cpdef bint remove(self, k) except -1


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
    cpdef first_entry(self)
    cpdef last_entry(self)
    cpdef first_live_id(self)
    cpdef last_valid_id(self)
    cpdef list range(self, start, end, long long count=*, bint rev=*)
    cpdef bint range_has_tombstones(self, start=*, end=*) except -1
    cpdef long long estimate_distance_from_first_ever_entry(self, entry_id) except? -2
