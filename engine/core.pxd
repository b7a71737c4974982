# The keyspace, the per-client command context, the effect log and the dispatcher.
from protocol.resp cimport ReplyBuffer
from cpython.object cimport PyObject
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.string cimport memcpy
from engine.spec cimport CommandSpec


# One key's record: a single allocation owned by its Db's hash table, with the key and (for strings of up
# to INLINE_MAX bytes) the value inline; other values are a boxed PyObject* stored in the value area.
# Per-key cost is the record plus one bucket pointer, with no Python object per key (see ARCHITECTURE.md).
cdef extern from *:
    """
    #include <stddef.h>
    typedef struct cm_rec {
        struct cm_rec *next;      /* bucket chain */
        unsigned long long cas;   /* memcached CAS id (engine/memcache_ops.pyx) */
        unsigned int lru;         /* LRU clock (seconds, 24 bits) or LFU counter + decay time */
        unsigned int mc_flags;    /* memcached client flags */
        int vslot;                /* index in Db.vol (the expiry index), -1 when persistent */
        unsigned int klen;
        unsigned int vlen;        /* inline: the value's length; boxed: the bytes accounted for the value */
        unsigned int vcap;        /* bytes after the key for the value, always >= sizeof(PyObject*) */
        unsigned char flags;      /* CM_BOXED | CM_RAW | CM_DETACHED | CM_PINNED | CM_SLOTTED */
        unsigned char spare;
        unsigned short handles;   /* live Entry views; a deleted record is freed by its last view */
        char data[];              /* key bytes, then the value area */
    } cm_rec;
    typedef struct cm_vol { cm_rec *rec; long long expire_at; } cm_vol;
    #define CM_BOXED 1
    #define CM_RAW 2
    #define CM_DETACHED 4
    #define CM_PINNED 8
    #define CM_SLOTTED 16         /* has the slot-list trailer (cluster mode): see engine/core.pyx "slots" */
    #define CM_REC_HEADER (offsetof(cm_rec, data))
    """
    ctypedef struct cm_rec:
        cm_rec* next
        unsigned long long cas
        unsigned int lru
        unsigned int mc_flags
        int vslot
        unsigned int klen
        unsigned int vlen
        unsigned int vcap
        unsigned char flags
        unsigned short handles
        char* data
    ctypedef struct cm_vol:
        cm_rec* rec
        long long expire_at
    int CM_BOXED
    int CM_RAW
    int CM_DETACHED
    int CM_PINNED
    int CM_SLOTTED
    size_t CM_REC_HEADER


cdef class Db


cdef class Entry:
    # A view of one record, made per lookup for code that works on keys through Python attributes
    # (value, expire_at, lru, mc_flags, cas, raw). It keeps a deleted record readable until it goes.
    cdef cm_rec* r
    cdef Db db


cdef class Db:
    cdef public int id
    cdef public Keyspace ks
    cdef public long long used_memory # this db's share of Keyspace.used_memory
    cdef cm_rec** buckets             # chained hash table, size mask + 1 (a power of two), or NULL
    cdef size_t mask
    cdef size_t count                 # records in both tables
    # incremental rehash (redis dict.c): while buckets1 is not NULL, records move bucket by bucket from
    # `buckets` (below rehash_idx: already empty) to `buckets1`, a step per table operation and 1 ms per cron
    cdef cm_rec** buckets1
    cdef size_t mask1
    cdef size_t rehash_idx
    cdef int rehash_paused            # live items() iterations: no step may move records under them
    cdef cm_vol* vol                  # dense index of keys with an expiry: TTLs and active expiry sampling
    cdef size_t vol_len
    cdef size_t vol_cap
    cdef void _shrink_vol(self)
    # cluster mode (Keyspace.enable_slot_index): per-slot doubly linked lists through a 16-byte trailer after
    # each record's value area (redis 7.0 slots_to_keys through dictEntry metadata) and per-slot counts.
    # Invariant: slot_head != NULL <=> every record of this db carries CM_SLOTTED and is on its slot's list.
    cdef cm_rec** slot_head
    cdef unsigned int* slot_count
    cdef int _slot_tables(self) except -1
    cdef void _slot_link(self, cm_rec* r)
    cdef void _slot_unlink(self, cm_rec* r)
    cdef int _slot_index_all(self) except -1

    # record-level API for the compiled hot paths
    cdef cm_rec* rec_find(self, bytes key)
    cdef cm_rec* rec_lookup(self, bytes key, bint read) except? NULL
    cdef cm_rec* rec_add(self, bytes key, object value) except NULL
    cdef cm_rec* rec_insert(self, bytes key, object value) except NULL
    cdef cm_rec* rec_set(self, bytes key, object value, long long expire_at, bint keep_ttl) except NULL
    cdef int rec_assign(self, cm_rec* r, object value) except -1
    cdef bint rec_expire_if_needed(self, bytes key, cm_rec* r) except -1
    cdef int rec_set_expire(self, cm_rec* r, long long at) except -1
    cdef void rec_remove_expire(self, cm_rec* r)
    cdef void rec_account(self, cm_rec* r)
    cdef bint rec_delete(self, bytes key) except -1
    cdef Entry handle(self, cm_rec* r)
    cdef int resize(self, size_t size) except -1
    cdef void _rehash_step(self, size_t n)
    cdef void _rehash_all(self)
    cdef cm_rec** _bucket_of(self, bytes key)
    cdef void _free_all(self)
    cdef cm_rec* rec_random(self)
    cdef inline void touch(self, cm_rec* r)

    cpdef Entry find(self, bytes key)
    cpdef Entry lookup_read(self, bytes key)
    cpdef Entry lookup_write(self, bytes key)
    cpdef bint expire_if_needed(self, bytes key, Entry e)
    cpdef Entry set_value(self, bytes key, object value, long long expire_at=*, bint keep_ttl=*)
    cpdef Entry load_value(self, bytes key, object value, long long expire_at=*)
    cpdef Entry add(self, bytes key, object value)
    cpdef bint delete(self, bytes key)
    cpdef set_expire(self, bytes key, Entry e, long long at)
    cpdef remove_expire(self, bytes key, Entry e)
    cpdef clear(self)
    cpdef long long size(self)
    cpdef account(self, bytes key, Entry e)


# record access shared by the compiled modules (C calls, no Python attribute lookups)
cdef inline const char* rec_key(cm_rec* r):
    return r.data


cdef inline char* rec_val(cm_rec* r):
    return r.data + r.klen


cdef inline PyObject* rec_obj(cm_rec* r):
    cdef PyObject* o
    memcpy(&o, rec_val(r), sizeof(PyObject*))
    return o


cdef inline void rec_put_obj(cm_rec* r, PyObject* o):
    memcpy(rec_val(r), &o, sizeof(PyObject*))


cdef inline bytes rec_key_bytes(cm_rec* r):
    return PyBytes_FromStringAndSize(r.data, r.klen)


cdef inline object rec_value(cm_rec* r):
    """The value as an object: the boxed one itself, or a new bytes object of the inline string."""
    if r.flags & CM_BOXED:
        return <object>rec_obj(r)
    return PyBytes_FromStringAndSize(rec_val(r), r.vlen)


cdef inline bint rec_is_string(cm_rec* r):
    return not (r.flags & CM_BOXED) or type(<object>rec_obj(r)) is bytes


cdef inline long long entry_expire_at(Entry e):
    return -1 if e.r.vslot < 0 else e.db.vol[e.r.vslot].expire_at


cdef class EffectLog:
    cdef public list subscribers      # callables(bytes) receiving the encoded effect stream
    cdef list sub_dbids               # per subscriber: the db its stream last SELECTed
    cdef list sub_repl                # per subscriber: True for the replication stream (gets emit_repl effects)
    cdef public int n_repl            # how many subscribers are replication streams
    cdef public int unit_depth
    cdef public list unit             # effects buffered inside MULTI/EXEC or a script: (dbid, argv, repl_only)
    cdef public long long count

    cpdef emit(self, int dbid, list argv)
    cpdef emit_repl(self, int dbid, list argv)
    cpdef begin_unit(self)
    cpdef end_unit(self)
    cpdef subscribe(self, object callback, bint repl=*)
    cpdef unsubscribe(self, object callback)
    cdef _send(self, int dbid, list argv, bint repl_only)
    cdef _deliver(self, Py_ssize_t i, int dbid, bytes body)


cdef class Keyspace:
    cdef public list dbs
    cdef public long long now_ms      # command time snapshot: one per batch, like redis commandTimeSnapshot
    cdef public EffectLog effects
    cdef public bint is_replica       # replicas never expire keys themselves
    cdef public bint paused           # CLIENT PAUSE in force: no expiry deletions, no eviction (redis 7.0)
    cdef public long long dirty       # changes since last save
    cdef public long long stat_hits
    cdef public long long stat_misses
    cdef public long long stat_expired
    cdef public long long stat_evicted
    cdef public long long stat_commands
    cdef public unsigned long long next_cas
    cdef public object on_key_modified  # callable(db, key) or None (WATCH, client tracking)
    cdef public list key_hook_guards    # containers (WATCH's, tracking's) that are all empty when
                                        # on_key_modified would do nothing; None: always call it
    cdef public object on_key_deleted   # callable(db, key, reason) or None (notifications)
    cdef public list deleted_hook_guards  # containers that are all empty (with notify_flags 0) when every
                                          # on_key_deleted listener is a no-op; None: always call (engine/evict.pxi)
    cdef public int notify_flags        # notify-keyspace-events bits (engine/notify.py); 0 = off
    cdef public object server           # the owning Server, for notifications (None in bare engine tests)
    cdef bint slot_index_on             # cluster mode: per-slot key lists and counts (enable_slot_index)

    # memory accounting and maxmemory (engine/evict.pxi)
    cdef public long long used_memory  # incremental estimate of what the keyspace costs
    cdef public long long maxmemory
    cdef public int policy            # EVICT_* below
    cdef public int samples
    cdef public int lfu_log_factor
    cdef public int lfu_decay_time
    cdef public int tenacity
    cdef public unsigned int lru_clock  # seconds, 24 bits (redis LRU_CLOCK)
    cdef public object eviction_pool     # EvictionPool (engine/evict.pxi)
    cdef public long long stat_evict_fail
    cdef public object latency_hook     # callable(event, ms) while latency-monitor-threshold > 0, else None
    cdef public bint loading            # the startup load runs (server/loading.py): no eviction, no expiry

    cpdef long long update_clock(self)
    cpdef Db db(self, int index)
    cpdef int perform_evictions(self) except -1
    cdef int _perform_evictions_loop(self, long long budget_us, long long start, bint timed) except -1


cdef class Client:
    cdef public long long id
    cdef public Keyspace ks
    cdef public object server         # the Python Server (config, clients, pubsub...)
    cdef public Db db
    cdef public ReplyBuffer reply
    cdef public bint authenticated
    cdef public object user
    cdef public object acl_user       # engine.aclcore.User the client runs as (None: internal, unrestricted)
    cdef public object name
    cdef public object conn           # the connection owning this client, or None for internal clients
    cdef public bint close_after_reply
    cdef public bint is_master        # the replication link from our primary: no replies, no refusals
    cdef public bint blocked          # waiting on a blocking command: the connection stops parsing
    cdef public bint deny_blocking    # inside EXEC or a script: blocking commands answer as if timed out
    cdef public object blocked_state  # what a blocked client waits for (owned by server/blocking.py)
    cdef public CommandSpec cmd       # command being executed
    cdef public CommandSpec last_cmd
    cdef public long long dirty       # changes made by the current command
    cdef public list effect_override  # argvs to propagate instead of argv, when the command rewrites itself
    cdef public long long errors      # error replies sent by this client (failed_calls accounting)
    cdef public list multi_queue      # queued (spec, argv) while in MULTI, else None
    cdef public bint multi_dirty_cas  # a WATCHed key was touched
    cdef public bint multi_error      # a command failed to queue: EXEC aborts
    cdef public object watched        # set of (dbid, key) or None
    cdef public object pubsub         # pub/sub state or None
    cdef public int reply_mode        # 0 on, 1 off, 2 skip next
    cdef public long long created_ms
    cdef public long long last_ms
    cdef public dict info             # lib-name, lib-ver and other CLIENT SETINFO fields
    cdef public unsigned int flags    # CLIENT LIST letters source (no-evict, monitor...)

    cpdef error(self, bytes message)
    cpdef propagate_as(self, list argv)
    cpdef also_propagate(self, list argv)
    cpdef prevent_propagation(self)
    cpdef select(self, int index)


cdef class Dispatcher:
    cdef public dict table
    cdef public Keyspace ks
    cdef public object requirepass_check  # callable(Client) -> bool: whether auth is required
    cdef public bint auth_required
    cdef public object acl_denied         # callable(c, spec, argv, (reason, pos)) -> bytes -NOPERM text (engine/acl.py)
    cdef public object before_call        # hooks (MULTI queueing, ACL, OOM) set by the server: callable(c, spec, argv) -> bool(proceed)
    cdef public object monitor_hook       # callable(c, argv) when MONITOR clients exist
    cdef public object slowlog_hook       # callable(c, argv, usec)
    cdef public object tracking_hook      # callable(c, spec, argv) after every call while a client tracks keys
    cdef public object latency_hook       # callable(spec, usec) for a call >= latency_threshold_us (LATENCY)
    cdef public long long latency_threshold_us   # latency-monitor-threshold in us, 0 = off
    cdef public long long slowlog_threshold_us
    cdef bytes last_name
    cdef CommandSpec last_spec

    cpdef CommandSpec resolve(self, Client c, list argv)
    cpdef execute(self, Client c, list argv)
    cpdef call(self, Client c, CommandSpec spec, list argv)
    cdef reject(self, Client c, CommandSpec spec, bytes message)
    cdef account_keys(self, Client c, CommandSpec spec, list argv)


# A compiled family's handler as a C function. A family in its own .pyx module binds its handlers with
# `from engine.core cimport bind_fast, HandlerFunc` after its @command declarations ran, so the dispatcher
# calls them without a Python call (engine/commands/t_string.pxi does the same inside this module).
ctypedef object (*HandlerFunc)(Client, list)
cdef bind_fast(bytes name, HandlerFunc fn)


# A compiled family whose handler changes a boxed value in place can keep the key's memory cost itself, O(1)
# per element, instead of the dispatcher re-estimating every key the command names after it (bind_cost:
# after bind_fast; the handler then calls rec_cost_add for each change, or db.rec_account for a new value).
cdef bind_cost(bytes name)


cdef inline void rec_cost_add(Db db, cm_rec* r, long long delta):
    """Adjust a boxed value's accounted bytes (r.vlen) and used_memory by delta (engine/evict.pxi)."""
    cdef long long cost
    if not (r.flags & CM_BOXED) or r.flags & CM_DETACHED:
        return
    cost = <long long>r.vlen + delta
    if cost < 0:
        cost = 0
    elif cost > 0xFFFFFFFF:
        cost = 0xFFFFFFFF
    delta = cost - <long long>r.vlen
    r.vlen = <unsigned int>cost
    db.used_memory += delta
    db.ks.used_memory += delta
cdef inline bint deleted_hooks_idle(Keyspace ks):
    """True when ks.on_key_deleted has nothing to do for an eviction or expiry: no keyspace notifications and
    every container its listeners registered (Server.add_key_deleted_listener guards) is empty."""
    cdef object g
    if ks.deleted_hook_guards is None or ks.notify_flags:
        return False
    for g in ks.deleted_hook_guards:
        if g:
            return False
    return True


cdef inline bint key_hooks_idle(Keyspace ks):
    """True when ks.on_key_modified has nothing to do (no WATCHed key, nobody tracking): every container the
    hook's owners registered in key_hook_guards is empty, so the Python call can be skipped (issue 20)."""
    cdef object g
    if ks.key_hook_guards is None:
        return False
    for g in ks.key_hook_guards:
        if g:
            return False
    return True
