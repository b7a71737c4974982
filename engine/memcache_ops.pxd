# The execution of memcached verbs against database 0 (see memcache_ops.pyx).
from engine.core cimport Keyspace, Db, Entry
from protocol.memcache cimport McFast, McOut


cdef class McStats:
    cdef public long long cmd_get, get_hits, get_misses, get_expired, get_flushed, cmd_set, cmd_touch, cmd_flush
    cdef public long long delete_hits, delete_misses, incr_hits, incr_misses, decr_hits, decr_misses
    cdef public long long cas_hits, cas_misses, cas_badval, touch_hits, touch_misses, total_items
    cdef public long long store_too_large, store_no_memory, meta_cmds
    cdef public long long curr_connections, total_connections, rejected_connections
    cdef public long long bytes_read, bytes_written


cdef class McEngine:
    cdef public object server
    cdef public Keyspace ks
    cdef public Db db
    cdef public McStats stats
    cdef public object flush_timer

    cdef int execute(self, object req, list out) except -1
    cdef int execute_binary(self, object req, list out) except -1
    cdef Entry read_item(self, bytes key)
    cdef Entry write_item(self, bytes key)
    cdef unsigned long long cas_of(self, Entry e)
    cdef emit_store(self, bytes key, Entry e)
    cdef emit_delete(self, bytes key)
    cpdef drop_item(self, bytes key)
    cdef Entry store(self, bytes key, bytes value, unsigned int flags, long long exptime)
    cdef store_set(self, bytes key, bytes value, unsigned int flags, long long exptime)
    cdef bint out_of_memory(self)
    cdef void new_cas(self, Entry e)
    cdef void new_cas_keep_bits(self, Entry e)
    cdef touch_watched(self, bytes key)
    cdef key_event(self, str cls, bytes event, bytes key)
    cdef emit_meta_only(self, bytes key, Entry e)
    cdef set_ttl(self, bytes key, Entry e, long long at)
    cdef get_many(self, list keys, bint with_cas, list out)
    cdef get_one(self, bytes key, bint with_cas, list out)
    # the fast text requests (protocol/memcache.pxd mc_scan_fast), replies written into a McOut
    cdef int get_fast(self, const char* base, McFast* f, McOut* o) except -1
    cdef int mg_v_fast(self, const char* base, McFast* f, McOut* o) except -1
    cdef int set_fast(self, const char* base, McFast* f, McOut* o) except -1
    cdef get_and_touch(self, list keys, bint with_cas, long long exptime, list out)
    cdef Entry touch(self, bytes key, long long exptime)
    cdef bytes conditional_store(self, object req, int cmd)
    cdef bytes concat(self, bytes key, bytes data, bint append)
    cdef bytes delete(self, bytes key)
    cdef int arith(self, bytes key, Entry e, unsigned long long delta, bint incr,
                   unsigned long long *result) except -1
    cdef bytes text_arith(self, bytes key, unsigned long long delta, bint incr)
    cdef flush_all(self, long long delay)
    cdef meta_get(self, object req, list out)
    cdef meta_set(self, object req, list out)
    cdef meta_delete(self, object req, list out)
    cdef meta_arith(self, object req, list out)
    cdef meta_debug(self, object req, list out)
