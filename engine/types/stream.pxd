# C-level entry points of the stream value type, cimported by the stream command family.

cpdef bytes format_id(tuple stream_id)


cdef class Node:
    cdef public tuple master
    cdef public tuple last
    cdef public long long slots      # live + deleted entries (the master entry's count + deleted)
    cdef public long long live
    cdef public long long nbytes
    cdef public list master_fields


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


cdef class StreamValue:
    cdef public list ids             # sorted live entry ids
    cdef public list vals            # (field, value, ...) per live entry, aligned with ids
    cdef public list nodes           # Node list in id order
    cdef public object last_id
    cdef public object first_id
    cdef public object max_deleted_id
    cdef public long long entries_added
    cdef public dict groups          # name -> ConsumerGroup
    cdef public long long nodes_mem  # sum of node_mem(node) over nodes, kept as nodes change

    cpdef append(self, tuple entry_id, list fields_values, long long node_max_bytes=*,
                 long long node_max_entries=*)
    cpdef get_entry(self, entry_id)
    cpdef list range(self, start, end, long long count=*, bint rev=*)
    cpdef bint range_has_tombstones(self, start=*, end=*) except -1
    cpdef long long estimate_distance_from_first_ever_entry(self, entry_id) except? -2
