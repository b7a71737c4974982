# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Keyspace, command context, effect log and dispatcher: the engine's hot core.

Data flows one way: the connection hands each parsed argv to Dispatcher.execute, the handler works on
the Db type API and writes its reply into Client.reply, and a write that changed something yields one
deterministic effect (EffectLog.emit) that persistence and replication both consume.

The hot command families are compiled into this module through ``include`` so that calls between the
dispatcher, the keyspace and the handlers stay C calls; colder families are Python modules in
engine/commands/ that register through the same ``@command`` declaration.
"""
cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from libc.stdio cimport snprintf
from libc.string cimport memcpy, memcmp, memset
from cpython.object cimport PyObject, PyObject_Hash
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.mem cimport PyMem_Malloc, PyMem_Calloc, PyMem_Realloc, PyMem_Free

cdef extern from "Python.h":
    ctypedef Py_ssize_t Py_hash_t
    Py_hash_t _Py_HashBytes(const void* src, Py_ssize_t len)
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME, CLOCK_MONOTONIC

from protocol.resp cimport ReplyBuffer
from engine.aclcore cimport User, acl_check
from engine.spec cimport (CommandSpec, CMD_WRITE, CMD_NO_AUTH, CMD_INTERNAL, CMD_MAY_REPLICATE, CMD_NO_MULTI,
                          CMD_SKIP_MONITOR, CMD_SKIP_SLOWLOG, CMD_READONLY, CMD_DENYOOM, CMD_MOVABLE_KEYS)
from engine.slots cimport hash_slot
from engine import registry
from engine.registry import command, container


cdef inline long long wall_ms():
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return <long long>ts.tv_sec * 1000 + ts.tv_nsec // 1000000


cdef inline int latency_bucket(long long us):
    """The histogram bucket of a duration: the smallest i with us <= 2**i, the last bucket past 2**20 us."""
    cdef int i = 0
    while i < 21 and (1LL << i) < us:
        i += 1
    return i


cdef inline long long mono_us():
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <long long>ts.tv_sec * 1000000 + ts.tv_nsec // 1000


def now_ms():
    return wall_ms()


# ---------------------------------------------------------------------------------------------------
# Shared reply texts (redis server.c createSharedObjects)
# ---------------------------------------------------------------------------------------------------
WRONGTYPE = b"WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX_ERR = b"ERR syntax error"
NOT_INTEGER = b"ERR value is not an integer or out of range"
NOT_FLOAT = b"ERR value is not a valid float"
NO_SUCH_KEY = b"ERR no such key"
OUT_OF_RANGE = b"ERR index out of range"
DB_INDEX_ERR = b"ERR DB index is out of range"

# Python type -> TYPE name; value types defined outside the core register themselves here
TYPE_NAMES = {bytes: b"string", dict: b"hash", set: b"set"}


def register_value_type(pytype, bytes name):
    TYPE_NAMES[pytype] = name


cpdef bytes type_name(object value):
    cdef object t = type(value)
    if t is bytes:
        return b"string"
    name = TYPE_NAMES.get(t)
    if name is None:
        name = getattr(value, "type_name", b"none")
    return name


include "evict.pxi"

# keyspace notification classes the keyspace raises itself (engine/notify.py); the hot paths test these
# bits of Keyspace.notify_flags and call into Python only when one is on
from engine import notify as _notify
cdef int NOTIFY_KEY_MISS = _notify.NOTIFY_KEY_MISS
cdef int NOTIFY_NEW = _notify.NOTIFY_NEW
_notify_db = _notify.notify_db


# ---------------------------------------------------------------------------------------------------
# Keyspace
# ---------------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------------
# Records: one allocation per key (key and small string value inline), chained in Db's bucket array
# ---------------------------------------------------------------------------------------------------
cdef unsigned int INLINE_MAX = 256        # longer strings are boxed bytes objects (GET sends them as they are)
cdef size_t MIN_BUCKETS = 16


# cluster mode: a record on a slot list has a trailer after its value area with its list neighbours
cdef struct cm_slotlink:
    cm_rec* prev
    cm_rec* next

DEF SLOT_TRAILER = 16       # sizeof(cm_slotlink)
DEF NSLOTS = 16384


cdef inline size_t rec_alloc_len(cm_rec* r):
    return CM_REC_HEADER + r.klen + r.vcap + (SLOT_TRAILER if r.flags & CM_SLOTTED else 0)


cdef inline cm_slotlink slot_link_get(cm_rec* r):
    cdef cm_slotlink l
    memcpy(&l, r.data + r.klen + r.vcap, sizeof(cm_slotlink))
    return l


cdef inline void slot_link_put(cm_rec* r, cm_rec* prev, cm_rec* nxt):
    cdef cm_slotlink l
    l.prev = prev
    l.next = nxt
    memcpy(r.data + r.klen + r.vcap, &l, sizeof(cm_slotlink))


cdef inline void slot_link_set_prev(cm_rec* r, cm_rec* prev):
    memcpy(r.data + r.klen + r.vcap, &prev, sizeof(cm_rec*))


cdef inline void slot_link_set_next(cm_rec* r, cm_rec* nxt):
    memcpy(r.data + r.klen + r.vcap + sizeof(cm_rec*), &nxt, sizeof(cm_rec*))


cdef inline long long rec_base_cost(cm_rec* r):
    """What the record itself costs (allocator rounding included) plus its bucket slot share."""
    return alloc_size(<long long>rec_alloc_len(r)) + BUCKET_OVERHEAD


cdef void rec_free(cm_rec* r):
    if r.flags & CM_BOXED:
        Py_XDECREF(rec_obj(r))
    PyMem_Free(r)


cdef cm_rec* rec_new(bytes key, object value, bint slotted) except NULL:
    cdef Py_ssize_t klen = PyBytes_GET_SIZE(key)
    cdef Py_ssize_t vlen = 0, need, cap
    cdef Py_ssize_t extra = SLOT_TRAILER if slotted else 0
    cdef bint inline_string = type(value) is bytes and PyBytes_GET_SIZE(value) <= INLINE_MAX
    if inline_string:
        vlen = PyBytes_GET_SIZE(value)
    need = vlen if vlen > <Py_ssize_t>sizeof(PyObject*) else <Py_ssize_t>sizeof(PyObject*)
    # take the allocator's rounding as spare value room: a same-size-class overwrite stays inline
    cap = alloc_size(<long long>(CM_REC_HEADER + klen + need + extra)) - <Py_ssize_t>CM_REC_HEADER - klen - extra
    if cap > INLINE_MAX + 8:
        cap = need
    cdef cm_rec* r = <cm_rec*>PyMem_Malloc(CM_REC_HEADER + klen + cap + extra)
    if r == NULL:
        raise MemoryError()
    memset(r, 0, CM_REC_HEADER)
    if slotted:
        r.flags = CM_SLOTTED
    r.vslot = -1
    r.klen = <unsigned int>klen
    r.vcap = <unsigned int>cap
    memcpy(r.data, PyBytes_AS_STRING(key), klen)
    if inline_string:
        memcpy(rec_val(r), PyBytes_AS_STRING(value), vlen)
        r.vlen = <unsigned int>vlen
    else:
        Py_INCREF(value)
        rec_put_obj(r, <PyObject*>value)
        r.flags |= CM_BOXED
    return r


@cython.no_gc
@cython.freelist(32)
cdef class Entry:
    # no_gc: a view holds only its Db, never part of a cycle.
    def __dealloc__(self):
        cdef cm_rec* r = self.r
        if r == NULL or r.flags & CM_PINNED:
            return
        r.handles -= 1
        if r.handles == 0 and r.flags & CM_DETACHED:
            rec_free(r)

    @property
    def value(self):
        return rec_value(self.r)

    @value.setter
    def value(self, object v):
        self.db.rec_assign(self.r, v)

    @property
    def expire_at(self):
        """Absolute unix ms, -1 when persistent."""
        if self.r.vslot < 0:
            return -1
        return self.db.vol[self.r.vslot].expire_at

    @expire_at.setter
    def expire_at(self, long long at):
        if at < 0:
            self.db.rec_remove_expire(self.r)
        elif not (self.r.flags & CM_DETACHED):
            self.db.rec_set_expire(self.r, at)

    @property
    def lru(self):
        return self.r.lru

    @lru.setter
    def lru(self, unsigned int v):
        self.r.lru = v

    @property
    def mc_flags(self):
        return self.r.mc_flags

    @mc_flags.setter
    def mc_flags(self, unsigned int v):
        self.r.mc_flags = v

    @property
    def cas(self):
        return self.r.cas

    @cas.setter
    def cas(self, unsigned long long v):
        self.r.cas = v

    @property
    def raw(self):
        """A string made by APPEND/SETRANGE: OBJECT ENCODING says raw."""
        return 1 if self.r.flags & CM_RAW else 0

    @raw.setter
    def raw(self, v):
        if v:
            self.r.flags |= CM_RAW
        else:
            self.r.flags &= ~CM_RAW

    @property
    def key(self):
        return rec_key_bytes(self.r)

    def __repr__(self):
        return f"<Entry {type(self.value).__name__} expire_at={self.expire_at}>"


cdef unsigned long long _rng_state = 0x9E3779B97F4A7C15ULL


cdef inline unsigned long long rand64():
    """xorshift64* (one multiply; libc rand() three times was a tenth of a SET at maxmemory: eviction
    sampling draws buckets with it)."""
    global _rng_state
    cdef unsigned long long x = _rng_state
    x ^= x >> 12
    x ^= x << 25
    x ^= x >> 27
    _rng_state = x
    return x * 0x2545F4914F6CDD1DULL


cdef inline size_t rev_bits(size_t v):
    """Bit reversal (redis dict.c rev) for the SCAN cursor."""
    cdef size_t s = sizeof(v) * 8
    cdef size_t mask = ~(<size_t>0)
    while True:
        s >>= 1
        if s == 0:
            break
        mask ^= (mask << s)
        v = ((v >> s) & mask) | ((v << s) & ~mask)
    return v


cdef void _free_table(cm_rec** table, size_t mask):
    cdef size_t i
    cdef cm_rec* r
    cdef cm_rec* nxt
    if table == NULL:
        return
    for i in range(mask + 1):
        r = table[i]
        while r != NULL:
            nxt = r.next
            r.next = NULL
            r.vslot = -1
            if r.handles:
                r.flags |= CM_DETACHED      # a live view frees it
            else:
                rec_free(r)
            r = nxt
    PyMem_Free(table)


cdef int _collect_keys_chain(cm_rec* r, list out) except -1:
    while r != NULL:
        out.append(rec_key_bytes(r))
        r = r.next
    return 0


cdef int _collect_keys(cm_rec** table, size_t mask, list out) except -1:
    cdef size_t i
    if table != NULL:
        for i in range(mask + 1):
            _collect_keys_chain(table[i], out)
    return 0


cdef inline size_t _shrunk_size(size_t count):
    """The table size after a shrink: a power of two with room to double before the next grow."""
    cdef size_t size = MIN_BUCKETS
    while size < count * 2:
        size *= 2
    return size


cdef class Db:
    def __init__(self, int id, Keyspace ks):
        self.id = id
        self.ks = ks

    def __dealloc__(self):
        self._free_all()

    cdef void _free_all(self):
        _free_table(self.buckets, self.mask)
        _free_table(self.buckets1, self.mask1)
        self.buckets = NULL
        self.buckets1 = NULL
        self.mask = 0
        self.mask1 = 0
        self.rehash_idx = 0
        self.count = 0
        if self.vol != NULL:
            PyMem_Free(self.vol)
            self.vol = NULL
        self.vol_len = 0
        self.vol_cap = 0
        if self.slot_head != NULL:
            PyMem_Free(self.slot_head)
            PyMem_Free(self.slot_count)
            self.slot_head = NULL
            self.slot_count = NULL

    def __len__(self):
        return self.count

    cpdef long long size(self):
        return self.count

    # -- the table --------------------------------------------------------------------------------

    cdef int resize(self, size_t size) except -1:
        """Move to `size` buckets (a power of two): at once while the table is empty, else by starting an
        incremental rehash (a whole rehash of 2M keys stalled the server for half a second)."""
        cdef cm_rec** nb
        if self.buckets1 != NULL:
            return 0                    # one rehash at a time; the next table operation re-checks the load
        if size == self.mask + 1 and self.buckets != NULL:
            return 0
        nb = <cm_rec**>PyMem_Calloc(size, sizeof(cm_rec*))
        if nb == NULL:
            raise MemoryError()
        if self.buckets == NULL or self.count == 0:
            if self.buckets != NULL:
                PyMem_Free(self.buckets)
            self.buckets = nb
            self.mask = size - 1
            return 0
        self.buckets1 = nb
        self.mask1 = size - 1
        self.rehash_idx = 0
        self._rehash_step(1)
        return 0

    cdef void _rehash_step(self, size_t n):
        """redis dictRehash: move up to n buckets of the old table, visiting at most 10*n empty ones."""
        cdef size_t empty_visits = n * 10
        cdef size_t idx
        cdef cm_rec* r
        cdef cm_rec* nxt
        if self.buckets1 == NULL or self.rehash_paused:
            return
        while n and self.rehash_idx <= self.mask:
            r = self.buckets[self.rehash_idx]
            if r == NULL:
                self.rehash_idx += 1
                empty_visits -= 1
                if empty_visits == 0:
                    break
                continue
            while r != NULL:
                nxt = r.next
                idx = <size_t>_Py_HashBytes(r.data, r.klen) & self.mask1
                r.next = self.buckets1[idx]
                self.buckets1[idx] = r
                r = nxt
            self.buckets[self.rehash_idx] = NULL
            self.rehash_idx += 1
            n -= 1
        if self.rehash_idx > self.mask:
            PyMem_Free(self.buckets)
            self.buckets = self.buckets1
            self.mask = self.mask1
            self.buckets1 = NULL
            self.mask1 = 0
            self.rehash_idx = 0

    cdef void _rehash_all(self):
        while self.buckets1 != NULL and not self.rehash_paused:
            self._rehash_step(1000)

    def rehash_for(self, double ms):
        """redis incrementallyRehash (the cron, activerehashing): rehash for about `ms`; True if it did work."""
        cdef double deadline
        if self.buckets1 == NULL or self.rehash_paused:
            return False
        deadline = mono_us() + ms * 1000.0
        while self.buckets1 != NULL and mono_us() < deadline:
            self._rehash_step(100)
        return True

    def is_rehashing(self):
        return self.buckets1 != NULL

    def bucket_counts(self):
        """(main table size, rehash target size or 0): for tests and DEBUG-style introspection."""
        return (self.mask + 1 if self.buckets != NULL else 0, self.mask1 + 1 if self.buckets1 != NULL else 0)

    cdef cm_rec** _bucket_of(self, bytes key):
        """The chain a key lives in or goes to. While rehashing, a key whose old bucket is below rehash_idx
        is in the new table and any other in the old one (inserts follow the same rule, unlike redis, which
        puts them in the new table): one chain to search, never two."""
        cdef size_t h = <size_t>PyObject_Hash(key)
        if self.buckets1 != NULL and (h & self.mask) < self.rehash_idx:
            return &self.buckets1[h & self.mask1]
        return &self.buckets[h & self.mask]

    cdef cm_rec* rec_find(self, bytes key):
        """The record as stored, expired or not; NULL when absent."""
        cdef cm_rec* r
        cdef Py_ssize_t klen
        cdef const char* p
        if self.count == 0:
            return NULL
        if self.buckets1 != NULL:
            self._rehash_step(1)
        r = self._bucket_of(key)[0]
        klen = PyBytes_GET_SIZE(key)
        p = PyBytes_AS_STRING(key)
        while r != NULL:
            if r.klen == klen and memcmp(r.data, p, klen) == 0:
                return r
            r = r.next
        return NULL

    cdef Entry handle(self, cm_rec* r):
        cdef Entry e
        if r == NULL:
            return None
        e = Entry.__new__(Entry)
        e.r = r
        e.db = self
        if r.handles == 0xFFFF:
            r.flags |= CM_PINNED            # too many views to count: never freed (practically unreachable)
        if not (r.flags & CM_PINNED):
            r.handles += 1
        return e

    cdef cm_rec* rec_random(self):
        """A uniformly chosen bucket's random record (redis dictGetRandomKey); NULL when empty."""
        cdef cm_rec* r
        cdef cm_rec* head
        cdef size_t n, k
        cdef size_t h, s0, slots
        if self.count == 0:
            return NULL
        if self.buckets1 != NULL:
            # buckets below rehash_idx are empty: draw among the rest of the old table and the new one
            s0 = self.mask + 1
            slots = s0 + self.mask1 + 1 - self.rehash_idx
            while True:
                h = self.rehash_idx + rand64() % slots
                head = self.buckets1[h - s0] if h >= s0 else self.buckets[h]
                if head != NULL:
                    break
        else:
            while True:
                head = self.buckets[rand64() & self.mask]
                if head != NULL:
                    break
        n = 0
        r = head
        while r != NULL:
            n += 1
            r = r.next
        k = rand64() % n
        r = head
        while k:
            r = r.next
            k -= 1
        return r

    # -- expiry index ------------------------------------------------------------------------------

    cdef int rec_set_expire(self, cm_rec* r, long long at) except -1:
        cdef cm_vol* nv
        cdef size_t ncap
        if r.vslot >= 0:
            self.vol[r.vslot].expire_at = at
            return 0
        if self.vol_len == self.vol_cap:
            ncap = self.vol_cap * 2 if self.vol_cap else 16
            nv = <cm_vol*>PyMem_Realloc(self.vol, ncap * sizeof(cm_vol))
            if nv == NULL:
                raise MemoryError()
            self.vol = nv
            self.vol_cap = ncap
        r.vslot = <int>self.vol_len
        self.vol[self.vol_len].rec = r
        self.vol[self.vol_len].expire_at = at
        self.vol_len += 1
        self.used_memory += VOLATILE_OVERHEAD
        self.ks.used_memory += VOLATILE_OVERHEAD
        return 0

    cdef void rec_remove_expire(self, cm_rec* r):
        cdef int slot = r.vslot
        if slot < 0:
            return
        self.vol_len -= 1
        if <size_t>slot < self.vol_len:
            self.vol[slot] = self.vol[self.vol_len]
            self.vol[slot].rec.vslot = slot
        r.vslot = -1
        self.used_memory -= VOLATILE_OVERHEAD
        self.ks.used_memory -= VOLATILE_OVERHEAD
        if self.vol_cap > 64 and self.vol_len < self.vol_cap // 4:
            self._shrink_vol()

    cdef void _shrink_vol(self):
        """Halve the expiry index once it is a quarter full (it grew for a burst of TTL keys that are gone)."""
        cdef size_t ncap = self.vol_cap // 2
        cdef cm_vol* nv = <cm_vol*>PyMem_Realloc(self.vol, ncap * sizeof(cm_vol))
        if nv != NULL:                  # a failed shrink keeps the larger array, still valid
            self.vol = nv
            self.vol_cap = ncap

    def expires_count(self):
        return self.vol_len

    def expiry_index_capacity(self):
        """Slots allocated for the expiry index (it grows by doubling, shrinks by halving at a quarter)."""
        return self.vol_cap

    def random_volatile_key(self):
        """A uniformly random key with an expiry (active expiry sampling), or None."""
        if self.vol_len == 0:
            return None
        return rec_key_bytes(self.vol[rand64() % self.vol_len].rec)

    def volatile_keys(self):
        """The keys with an expiry, in expiry-index order."""
        cdef size_t i
        return [rec_key_bytes(self.vol[i].rec) for i in range(self.vol_len)]

    def volatile_expiries(self, Py_ssize_t limit):
        """The expire_at of up to `limit` volatile keys (INFO keyspace avg_ttl sample)."""
        cdef Py_ssize_t i, n = self.vol_len if <Py_ssize_t>self.vol_len < limit else limit
        return [self.vol[i].expire_at for i in range(n)]

    # -- lookups ------------------------------------------------------------------------------------

    cdef bint rec_expire_if_needed(self, bytes key, cm_rec* r) except -1:
        """Lazy expiry (redis db.c expireIfNeeded): True when the key is logically gone.

        A replica reports the key as missing but leaves deletion to its primary's DEL.
        """
        if r.vslot < 0 or self.vol[r.vslot].expire_at > self.ks.now_ms or self.ks.loading:
            return False                # redis keyIsExpired: nothing expires while loading
        if self.ks.is_replica or self.ks.paused:
            return True
        self.ks.stat_expired += 1
        cdef long long t0
        if self.ks.latency_hook is None:
            self.rec_delete(key)
        else:                   # redis deleteExpiredKeyAndPropagate's "expire-del" (lazy and active expiry)
            t0 = mono_us()
            self.rec_delete(key)
            self.ks.latency_hook("expire-del", (mono_us() - t0) // 1000)
        self.ks.effects.emit(self.id, [b"DEL", key])
        if self.ks.on_key_deleted is not None:
            self.ks.on_key_deleted(self, key, b"expired")
        return True

    cpdef bint expire_if_needed(self, bytes key, Entry e):
        if e.r.flags & CM_DETACHED:
            return True
        return self.rec_expire_if_needed(key, e.r)

    cdef inline void touch(self, cm_rec* r):
        """Record an access for LRU/LFU eviction (redis lookupKey's updateLFU / LRU_CLOCK)."""
        cdef Keyspace ks = self.ks
        if policy_is_lfu(ks.policy):
            r.lru = (lfu_minutes(ks.now_ms) << 8) | lfu_log_incr(ks, lfu_decr_and_return(ks, r.lru))
        else:
            r.lru = ks.lru_clock

    cdef cm_rec* rec_lookup(self, bytes key, bint read) except? NULL:
        """Lookup with lazy expiry and the LRU/LFU touch; a read also counts keyspace_hits/misses and a read
        miss raises the "keymiss" notification (redis lookupKey)."""
        cdef cm_rec* r = self.rec_find(key)
        if r == NULL or (r.vslot >= 0 and self.rec_expire_if_needed(key, r)):
            if read:
                self.ks.stat_misses += 1
                if self.ks.notify_flags & NOTIFY_KEY_MISS:
                    _notify_db(self.ks, "m", b"keymiss", key, self.id)
            return NULL
        if read:
            self.ks.stat_hits += 1
        self.touch(r)
        return r

    cpdef Entry find(self, bytes key):
        """The entry as stored, expired or not; None when absent."""
        return self.handle(self.rec_find(key))

    cpdef Entry lookup_read(self, bytes key):
        """Lookup for a read: lazy expiry plus keyspace_hits/misses and the LRU/LFU touch."""
        return self.handle(self.rec_lookup(key, True))

    cpdef Entry lookup_write(self, bytes key):
        """Lookup for a write: lazy expiry, no hit/miss accounting."""
        return self.handle(self.rec_lookup(key, False))

    # -- writes -------------------------------------------------------------------------------------

    cdef cm_rec* rec_add(self, bytes key, object value) except NULL:
        """Insert a key known to be absent (redis dbAdd, "new" notification included); the record is
        accounted at once, a boxed value's own cost by the dispatcher after the command (or by `account` for
        writers outside it)."""
        cdef cm_rec* r = self.rec_insert(key, value)
        if self.ks.notify_flags & NOTIFY_NEW:
            _notify_db(self.ks, "n", b"new", key, self.id)
        return r

    cdef cm_rec* rec_insert(self, bytes key, object value) except NULL:
        """rec_add without the notification (loading a snapshot: redis dbAddRDBLoad)."""
        cdef bint slotted = self.slot_head != NULL or self.ks.slot_index_on
        if slotted and self.slot_head == NULL:
            self._slot_tables()
        cdef cm_rec* r = rec_new(key, value, slotted)
        cdef size_t idx
        cdef long long cost
        if policy_is_lfu(self.ks.policy):
            r.lru = (lfu_minutes(self.ks.now_ms) << 8) | LFU_INIT_VAL
        else:
            r.lru = self.ks.lru_clock
        cdef cm_rec** head
        if self.buckets == NULL:
            self.resize(MIN_BUCKETS)
        elif self.buckets1 != NULL:
            self._rehash_step(1)
        elif self.count >= self.mask + 1:
            self.resize((self.mask + 1) * 2)
        head = self._bucket_of(key)
        r.next = head[0]
        head[0] = r
        self.count += 1
        if slotted:
            self._slot_link(r)
        cost = rec_base_cost(r)
        self.used_memory += cost
        self.ks.used_memory += cost
        return r

    cpdef Entry add(self, bytes key, object value):
        return self.handle(self.rec_add(key, value))

    cdef int rec_assign(self, cm_rec* r, object value) except -1:
        """Replace a record's value in place (the record never moves: views stay valid)."""
        cdef PyObject* old
        cdef Py_ssize_t n
        if type(value) is bytes and PyBytes_GET_SIZE(value) <= r.vcap and PyBytes_GET_SIZE(value) <= INLINE_MAX:
            n = PyBytes_GET_SIZE(value)
            if r.flags & CM_BOXED:
                old = rec_obj(r)
                if not (r.flags & CM_DETACHED):
                    self.used_memory -= r.vlen
                    self.ks.used_memory -= r.vlen
                r.flags &= ~CM_BOXED
                memcpy(rec_val(r), PyBytes_AS_STRING(value), n)
                r.vlen = <unsigned int>n
                Py_XDECREF(old)
            else:
                memcpy(rec_val(r), PyBytes_AS_STRING(value), n)
                r.vlen = <unsigned int>n
            return 0
        Py_INCREF(value)
        if r.flags & CM_BOXED:
            old = rec_obj(r)
            rec_put_obj(r, <PyObject*>value)
            Py_XDECREF(old)                 # the accounted size stays until the next account()
        else:
            rec_put_obj(r, <PyObject*>value)
            r.flags |= CM_BOXED
            r.vlen = 0                      # nothing accounted for the boxed value yet
        return 0

    cdef void rec_account(self, cm_rec* r):
        """Re-estimate a boxed value's cost and update used_memory by the difference (inline strings are
        exact from the moment they are stored)."""
        cdef long long cost, delta
        if not (r.flags & CM_BOXED) or r.flags & CM_DETACHED:
            return
        cost = value_cost(<object>rec_obj(r)) + 8
        if cost > 0xFFFFFFFF:
            cost = 0xFFFFFFFF
        delta = cost - r.vlen
        r.vlen = <unsigned int>cost
        self.used_memory += delta
        self.ks.used_memory += delta

    cpdef account(self, bytes key, Entry e):
        self.rec_account(e.r)

    cdef cm_rec* rec_set(self, bytes key, object value, long long expire_at, bint keep_ttl) except NULL:
        """SET semantics: create or overwrite the value; the TTL is replaced unless keep_ttl. An expired key is
        reclaimed first (redis setKey's lookupKeyWrite: DEL effect, "expired", then "new" for the key)."""
        cdef cm_rec* r = self.rec_find(key)
        if r != NULL and r.vslot >= 0 and not self.ks.is_replica and self.vol[r.vslot].expire_at <= self.ks.now_ms:
            self.rec_expire_if_needed(key, r)
            r = NULL
        if r == NULL:
            r = self.rec_add(key, value)
        else:
            self.rec_assign(r, value)
            r.cas = 0
            r.mc_flags = 0
            r.flags &= ~CM_RAW
            if keep_ttl:
                return r
        if expire_at >= 0:
            self.rec_set_expire(r, expire_at)
        elif r.vslot >= 0:
            self.rec_remove_expire(r)
        return r

    cpdef Entry set_value(self, bytes key, object value, long long expire_at=-1, bint keep_ttl=False):
        return self.handle(self.rec_set(key, value, expire_at, keep_ttl))

    cpdef Entry load_value(self, bytes key, object value, long long expire_at=-1):
        """set_value for loaders (RDB, replica sync): a created key raises no "new" notification."""
        cdef cm_rec* r = self.rec_find(key)
        if r != NULL:
            return self.handle(self.rec_set(key, value, expire_at, False))
        r = self.rec_insert(key, value)
        if expire_at >= 0:
            self.rec_set_expire(r, expire_at)
        return self.handle(r)

    cdef bint rec_delete(self, bytes key) except -1:
        cdef cm_rec* r
        cdef cm_rec** link
        cdef Py_ssize_t klen
        cdef const char* p
        cdef long long cost
        if self.count == 0:
            return False
        if self.buckets1 != NULL:
            self._rehash_step(1)
        link = self._bucket_of(key)
        klen = PyBytes_GET_SIZE(key)
        p = PyBytes_AS_STRING(key)
        r = link[0]
        while r != NULL:
            if r.klen == klen and memcmp(r.data, p, klen) == 0:
                break
            link = &r.next
            r = r.next
        if r == NULL:
            return False
        link[0] = r.next
        r.next = NULL
        self.count -= 1
        if r.flags & CM_SLOTTED:
            self._slot_unlink(r)
        self.rec_remove_expire(r)
        cost = rec_base_cost(r) + (r.vlen if r.flags & CM_BOXED else 0)
        self.used_memory -= cost
        self.ks.used_memory -= cost
        if r.handles:
            r.flags |= CM_DETACHED          # the last view frees it
        else:
            rec_free(r)
        if self.buckets1 == NULL and self.mask + 1 > MIN_BUCKETS and self.count * 8 < self.mask + 1:
            self.resize(_shrunk_size(self.count))
        return True

    cpdef bint delete(self, bytes key):
        return self.rec_delete(key)

    cpdef set_expire(self, bytes key, Entry e, long long at):
        self.rec_set_expire(e.r, at)

    cpdef remove_expire(self, bytes key, Entry e):
        self.rec_remove_expire(e.r)

    cpdef clear(self):
        self._free_all()
        self.ks.used_memory -= self.used_memory
        self.used_memory = 0

    def _swap_contents(self, Db other):
        """SWAPDB: exchange tables with another db (records keep their vslot: it indexes the moved vol)."""
        self.buckets, other.buckets = other.buckets, self.buckets
        self.mask, other.mask = other.mask, self.mask
        self.buckets1, other.buckets1 = other.buckets1, self.buckets1
        self.mask1, other.mask1 = other.mask1, self.mask1
        self.rehash_idx, other.rehash_idx = other.rehash_idx, self.rehash_idx
        self.count, other.count = other.count, self.count
        self.vol, other.vol = other.vol, self.vol
        self.vol_len, other.vol_len = other.vol_len, self.vol_len
        self.vol_cap, other.vol_cap = other.vol_cap, self.vol_cap
        self.used_memory, other.used_memory = other.used_memory, self.used_memory
        self.slot_head, other.slot_head = other.slot_head, self.slot_head
        self.slot_count, other.slot_count = other.slot_count, self.slot_count
        # a replica's full sync swaps in a db loaded by a side keyspace: index it if this one is indexed
        if self.ks.slot_index_on and self.slot_head == NULL and self.count:
            self._slot_index_all()
        if other.ks.slot_index_on and other.slot_head == NULL and other.count:
            other._slot_index_all()

    # -- cluster hash slots (engine/slots.pyx) ------------------------------------------------------

    cdef int _slot_tables(self) except -1:
        self.slot_head = <cm_rec**>PyMem_Calloc(NSLOTS, sizeof(cm_rec*))
        self.slot_count = <unsigned int*>PyMem_Calloc(NSLOTS, sizeof(unsigned int))
        if self.slot_head == NULL or self.slot_count == NULL:
            PyMem_Free(self.slot_head)
            PyMem_Free(self.slot_count)
            self.slot_head = NULL
            self.slot_count = NULL
            raise MemoryError()
        return 0

    cdef void _slot_link(self, cm_rec* r):
        """Put a record at the head of its slot's list (redis 7.0 slotToKeyAdd)."""
        cdef int slot = hash_slot(r.data, r.klen)
        cdef cm_rec* head = self.slot_head[slot]
        slot_link_put(r, NULL, head)
        if head != NULL:
            slot_link_set_prev(head, r)
        self.slot_head[slot] = r
        self.slot_count[slot] += 1

    cdef void _slot_unlink(self, cm_rec* r):
        cdef int slot = hash_slot(r.data, r.klen)
        cdef cm_slotlink l = slot_link_get(r)
        if l.prev != NULL:
            slot_link_set_next(l.prev, l.next)
        else:
            self.slot_head[slot] = l.next
        if l.next != NULL:
            slot_link_set_prev(l.next, l.prev)
        slot_link_put(r, NULL, NULL)
        self.slot_count[slot] -= 1

    cdef int _slot_index_all(self) except -1:
        """Index the records present: each is copied into an allocation with the slot trailer (a record
        otherwise never moves; one with live views is left to them, detached, and its copy takes its place)."""
        cdef int t
        cdef size_t i, mask, oldlen
        cdef cm_rec** table
        cdef cm_rec** link
        cdef cm_rec* r
        cdef cm_rec* n
        cdef long long delta
        if self.rehash_paused:
            raise RuntimeError("cannot index the slots of a db while an items() iteration holds its records")
        if self.slot_head == NULL:
            self._slot_tables()
        for t in range(2):
            table = self.buckets if t == 0 else self.buckets1
            mask = self.mask if t == 0 else self.mask1
            if table == NULL:
                continue
            for i in range(mask + 1):
                link = &table[i]
                r = link[0]
                while r != NULL:
                    if not (r.flags & CM_SLOTTED):
                        oldlen = rec_alloc_len(r)
                        n = <cm_rec*>PyMem_Malloc(oldlen + SLOT_TRAILER)
                        if n == NULL:
                            raise MemoryError()
                        memcpy(n, r, oldlen)
                        n.flags = (n.flags | CM_SLOTTED) & ~CM_PINNED
                        n.handles = 0
                        delta = alloc_size(<long long>(oldlen + SLOT_TRAILER)) - alloc_size(<long long>oldlen)
                        self.used_memory += delta
                        self.ks.used_memory += delta
                        if n.vslot >= 0:
                            self.vol[n.vslot].rec = n
                        link[0] = n
                        if r.handles or r.flags & CM_PINNED:
                            if r.flags & CM_BOXED:
                                Py_INCREF(<object>rec_obj(r))
                            r.next = NULL
                            r.vslot = -1
                            r.flags |= CM_DETACHED
                        else:
                            PyMem_Free(r)
                        r = n
                    self._slot_link(r)
                    link = &r.next
                    r = r.next
        return 0

    def count_keys_in_slot(self, int slot):
        """Keys hashing to `slot` (expired ones not yet reclaimed included, as redis counts them)."""
        cdef long long n = 0
        if slot < 0 or slot >= NSLOTS:
            raise ValueError("slot out of range")
        if self.slot_head != NULL:
            return self.slot_count[slot]
        if self.ks.slot_index_on or self.count == 0:
            return 0
        for key in self.key_list():                 # no index: a scan (only outside cluster mode)
            if hash_slot(PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)) == slot:
                n += 1
        return n

    def keys_in_slot(self, int slot, long long count):
        """Up to `count` keys of `slot`, newest first (CLUSTER GETKEYSINSLOT walks redis's slot list)."""
        cdef list out = []
        cdef cm_rec* r
        if slot < 0 or slot >= NSLOTS:
            raise ValueError("slot out of range")
        if count <= 0:
            return out
        if self.slot_head != NULL:
            r = self.slot_head[slot]
            while r != NULL and count > 0:
                out.append(rec_key_bytes(r))
                count -= 1
                r = slot_link_get(r).next
            return out
        if self.ks.slot_index_on:
            return out
        for key in self.key_list():
            if hash_slot(PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)) == slot:
                out.append(key)
                if len(out) >= count:
                    break
        return out

    def delete_keys_in_slot(self, int slot):
        """redis delKeysInSlot: delete every key of `slot`, each with a DEL effect, the WATCH/tracking
        touch and a dirty count (no keyspace notification to clients); returns how many were deleted."""
        cdef long long n = 0
        cdef bytes key
        if slot < 0 or slot >= NSLOTS:
            raise ValueError("slot out of range")
        if self.slot_head == NULL:
            for key in self.keys_in_slot(slot, 1LL << 62):
                if self.rec_delete(key):
                    _slot_key_deleted(self, key)
                    n += 1
            return n
        while self.slot_head != NULL and self.slot_head[slot] != NULL:
            key = rec_key_bytes(self.slot_head[slot])
            if not self.rec_delete(key):
                break                               # cannot happen: the list holds only linked records
            _slot_key_deleted(self, key)
            n += 1
        return n

    def verify_slot_index(self):
        """Problems found walking the slot lists against the table (an empty list when the index is right):
        every record is on the list of its own slot exactly once, links agree both ways, counts match."""
        cdef list problems = []
        cdef int slot
        cdef unsigned int n
        cdef size_t total = 0, i, mask
        cdef int t
        cdef cm_rec* r
        cdef cm_rec* prev
        cdef cm_rec** table
        cdef cm_slotlink l
        if self.slot_head == NULL:
            if self.ks.slot_index_on and self.count:
                problems.append("index on but no slot tables")
            return problems
        for slot in range(NSLOTS):
            n = 0
            prev = NULL
            r = self.slot_head[slot]
            while r != NULL and n <= self.count:
                l = slot_link_get(r)
                if l.prev != prev:
                    problems.append("slot %d: bad prev link" % slot)
                if not (r.flags & CM_SLOTTED) or r.flags & CM_DETACHED:
                    problems.append("slot %d: record not slotted or detached" % slot)
                if hash_slot(r.data, r.klen) != slot:
                    problems.append("slot %d: key of slot %d" % (slot, hash_slot(r.data, r.klen)))
                n += 1
                prev = r
                r = l.next
            if n != self.slot_count[slot]:
                problems.append("slot %d: count %d, list %d" % (slot, self.slot_count[slot], n))
            total += n
        if total != self.count:
            problems.append("lists hold %d records, table %d" % (total, self.count))
        for t in range(2):
            table = self.buckets if t == 0 else self.buckets1
            mask = self.mask if t == 0 else self.mask1
            if table == NULL:
                continue
            for i in range(mask + 1):
                r = table[i]
                while r != NULL:
                    if not (r.flags & CM_SLOTTED):
                        problems.append("record without slot trailer")
                    r = r.next
        return problems[:20]

    def slot_counts(self):
        """{slot: count} of the non-empty slots (tests, introspection)."""
        cdef int i
        if self.slot_head == NULL:
            return None
        return {i: self.slot_count[i] for i in range(NSLOTS) if self.slot_count[i]}

    # -- iteration ----------------------------------------------------------------------------------

    def key_list(self):
        """Every key (expired ones included), as a list."""
        cdef list out = []
        _collect_keys(self.buckets, self.mask, out)
        _collect_keys(self.buckets1, self.mask1, out)
        return out

    def items(self):
        """(key, Entry) for every key; the table must not change during the iteration (the persistence
        writers run it in a forked child or in one synchronous pass)."""
        cdef size_t i
        cdef cm_rec* r
        cdef cm_rec** table
        cdef size_t mask
        cdef int t
        if self.buckets == NULL:
            return
        self.rehash_paused += 1         # lookups made while this generator is suspended must not move records
        try:
            for t in range(2):
                table = self.buckets if t == 0 else self.buckets1
                mask = self.mask if t == 0 else self.mask1
                if table == NULL:
                    continue
                for i in range(mask + 1):
                    r = table[i]
                    while r != NULL:
                        yield rec_key_bytes(r), self.handle(r)
                        r = r.next
        finally:
            self.rehash_paused -= 1

    def values_of_type(self, pytype):
        """[(key, value)] of every boxed value that is a pytype, found by a C walk over the table without an
        Entry per key: a service finding its own values among 1M strings after a load (the workflow timer
        rebuild walked db.items(), most of a 1M-key load's CPU after the load itself)."""
        cdef list out = []
        cdef size_t i
        cdef cm_rec* r
        cdef cm_rec** table
        cdef size_t mask
        cdef int t
        cdef object v
        for t in range(2):
            table = self.buckets if t == 0 else self.buckets1
            mask = self.mask if t == 0 else self.mask1
            if table == NULL:
                continue
            for i in range(mask + 1):
                r = table[i]
                while r != NULL:
                    if r.flags & CM_BOXED:
                        v = <object>rec_obj(r)
                        if isinstance(v, pytype):
                            out.append((rec_key_bytes(r), v))
                    r = r.next
        return out

    def random_any_key(self):
        """A uniformly random key, expired or not, or None."""
        return rec_key_bytes(self.rec_random()) if self.count else None

    def random_key(self):
        """A uniformly random live key, or None (expired keys are skipped and reclaimed as redis does)."""
        cdef int tries = 0
        cdef cm_rec* r
        while self.count:
            r = self.rec_random()
            key = rec_key_bytes(r)
            if r.vslot >= 0 and self.vol[r.vslot].expire_at <= self.ks.now_ms:
                if self.vol_len == self.count and tries > 100:
                    return key    # every key is volatile: answer one rather than loop (redis does the same)
                tries += 1
                self.rec_expire_if_needed(key, r)
                continue
            return key
        return None

    def scan(self, unsigned long long cursor, long long count, match=None, type_filter=None):
        """SCAN with redis's reverse-binary cursor over the buckets (dict.c dictScan): every key present
        for the whole scan is returned even when the table grows or shrinks in between."""
        cdef list out = []
        cdef size_t v = <size_t>cursor
        cdef size_t m
        cdef cm_rec* r
        cdef long long maxiter = count * 10
        cdef cm_rec** small
        cdef cm_rec** large
        cdef size_t m1
        if self.count == 0:
            return 0, out
        if self.buckets1 == NULL:
            m = self.mask
            while True:
                _collect_keys_chain(self.buckets[v & m], out)
                v |= ~m
                v = rev_bits(v)
                v += 1
                v = rev_bits(v)
                maxiter -= 1
                if v == 0 or len(out) >= count or maxiter <= 0:
                    break
            return v, out
        # rehashing: the smaller table's bucket, then every bucket of the larger table it expands to
        if self.mask <= self.mask1:
            small, m, large, m1 = self.buckets, self.mask, self.buckets1, self.mask1
        else:
            small, m, large, m1 = self.buckets1, self.mask1, self.buckets, self.mask
        while True:
            _collect_keys_chain(small[v & m], out)
            while True:
                _collect_keys_chain(large[v & m1], out)
                v |= ~m1
                v = rev_bits(v)
                v += 1
                v = rev_bits(v)
                if not (v & (m ^ m1)):
                    break
            maxiter -= 1
            if v == 0 or len(out) >= count or maxiter <= 0:
                break
        return v, out


cdef _slot_key_deleted(Db db, bytes key):
    """The effects of one key deleted by delete_keys_in_slot (redis delKeysInSlot: propagateDeletion,
    signalModifiedKey, server.dirty++; no keyspace notification to clients)."""
    cdef Keyspace ks = db.ks
    ks.dirty += 1
    ks.effects.emit(db.id, [b"DEL", key])
    if ks.on_key_deleted is not None:
        ks.on_key_deleted(db, key, b"slot")


cdef class EffectLog:
    """The one stream of deterministic write effects, encoded once as RESP with SELECT insertion.

    Every subscriber (the AOF, the replication stream) gets every effect; `emit_repl` effects (PUBLISH, which
    redis propagates with PROPAGATE_REPL only) go to the replication subscribers alone. Each subscriber keeps
    its own selected db, and a unit (MULTI/EXEC, script) is wrapped in MULTI/EXEC when it holds
    more than one effect (redis 7.0 propagatePendingCommands: MULTI SET PUBLISH EXEC is MULTI SET EXEC in the
    AOF, the whole transaction for a replica; without a replication stream PUBLISH is not an effect at all)."""

    def __init__(self):
        self.subscribers = []
        self.sub_dbids = []
        self.sub_repl = []
        self.n_repl = 0
        self.unit_depth = 0
        self.unit = None
        self.count = 0

    property last_dbid:
        """The db the streams last selected; setting it (-1) makes every stream start with a SELECT."""
        def __get__(self):
            return self.sub_dbids[0] if self.sub_dbids else -1

        def __set__(self, int value):
            self.sub_dbids = [value] * len(self.subscribers)

    cpdef subscribe(self, object callback, bint repl=False):
        self.subscribers.append(callback)
        self.sub_dbids.append(-1)     # a new consumer needs an explicit SELECT first
        self.sub_repl.append(repl)
        if repl:
            self.n_repl += 1

    cpdef unsubscribe(self, object callback):
        cdef Py_ssize_t i
        for i in range(len(self.subscribers)):
            if _same_subscriber(self.subscribers[i], callback):
                del self.subscribers[i]
                del self.sub_dbids[i]
                if self.sub_repl.pop(i):
                    self.n_repl -= 1
                return

    def selected_db(self, callback):
        """The db `callback`'s stream last SELECTed (-1: none yet; redis server.slaveseldb for replication)."""
        for i in range(len(self.subscribers)):
            if _same_subscriber(self.subscribers[i], callback):
                return self.sub_dbids[i]
        return -1

    cpdef emit(self, int dbid, list argv):
        self.count += 1
        if not self.subscribers:
            return
        if self.unit_depth > 0:
            self.unit.append((dbid, argv, False))
            return
        self._send(dbid, argv, False)

    cpdef emit_repl(self, int dbid, list argv):
        """An effect for the replication stream only (redis PROPAGATE_REPL: PUBLISH), in its place in the unit."""
        if self.n_repl == 0:
            return
        if self.unit_depth > 0:
            self.unit.append((dbid, argv, True))
            return
        self._send(dbid, argv, True)

    cpdef begin_unit(self):
        if self.unit_depth == 0:
            self.unit = []
        self.unit_depth += 1

    cpdef end_unit(self):
        """Close a MULTI/EXEC or script unit: wrap it in MULTI/EXEC when it holds several effects."""
        cdef Py_ssize_t i, j, n_all
        cdef int first_db, last_db
        cdef bint repl
        self.unit_depth -= 1
        if self.unit_depth > 0:
            return
        unit, self.unit = self.unit, None
        if not unit or not self.subscribers:
            return
        n_all = len(unit)
        if n_all == 1:
            self._send(unit[0][0], unit[0][1], unit[0][2])
            return
        bodies = [encode_command(op[1]) for op in unit]
        first_db = unit[0][0]
        last_db = unit[n_all - 1][0]
        for i in range(len(self.subscribers)):
            repl = self.sub_repl[i]
            # MULTI in the db of the unit's first effect, EXEC in its last one's, for every stream (as redis
            # propagateNow(dbid, MULTI/EXEC, PROPAGATE_AOF|PROPAGATE_REPL)), the effects each stream takes between
            self._deliver(i, first_db, MULTI_BODY)
            for j in range(n_all):
                if repl or not unit[j][2]:
                    self._deliver(i, unit[j][0], bodies[j])
            self._deliver(i, last_db, EXEC_BODY)

    cdef _send(self, int dbid, list argv, bint repl_only):
        cdef Py_ssize_t i, n = len(self.subscribers)
        cdef object sub
        if n == 1 and type(self.subscribers[0]) is bytearray:
            # the AOF alone (no replica): the effect is encoded straight into its buffer, no bytes object
            if repl_only and not self.sub_repl[0]:
                return
            sub = self.subscribers[0]
            if dbid >= 0 and <int>self.sub_dbids[0] != dbid:
                self.sub_dbids[0] = dbid
                (<bytearray>sub).extend(_select_body(dbid))
            _append_command(<bytearray>sub, argv)
            return
        body = encode_command(argv)       # built once, shared by every stream (AOF buffer, replication)
        for i in range(n):
            if repl_only and not self.sub_repl[i]:
                continue
            self._deliver(i, dbid, body)

    cdef _deliver(self, Py_ssize_t i, int dbid, bytes body):
        cdef object sub = self.subscribers[i]
        if type(sub) is bytearray:        # a buffer subscriber (the AOF's pending bytes): appended in place
            if dbid >= 0 and <int>self.sub_dbids[i] != dbid:
                self.sub_dbids[i] = dbid
                (<bytearray>sub).extend(_select_body(dbid))
            (<bytearray>sub).extend(body)
        elif dbid >= 0 and <int>self.sub_dbids[i] != dbid:
            self.sub_dbids[i] = dbid
            sub(_select_body(dbid) + body)
        else:
            sub(body)


MULTI_BODY = b"*1\r\n$5\r\nMULTI\r\n"
EXEC_BODY = b"*1\r\n$4\r\nEXEC\r\n"


cdef inline bint _same_subscriber(object a, object b):
    """Subscriber identity: a buffer subscriber by identity (bytearray == compares contents), a callable by ==
    (a bound method such as list.append is a new object at every attribute access)."""
    if a is b:
        return True
    if type(a) is bytearray or type(b) is bytearray:
        return False
    return a == b


cdef bytes _select_body(int dbid):
    sel = str(dbid).encode()
    return b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(sel), sel)


cdef inline Py_ssize_t _dec_digits(Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t d = 1
    while n >= 10:
        n //= 10
        d += 1
    return d


cdef inline char* _put_header(char* p, char lead, Py_ssize_t n) noexcept nogil:
    """`<lead><n>\\r\\n` at p; returns the end."""
    cdef Py_ssize_t d = _dec_digits(n), k
    p[0] = lead
    k = d
    while k > 0:
        p[k] = <char>(48 + n % 10)
        n //= 10
        k -= 1
    p[d + 1] = 13
    p[d + 2] = 10
    return p + d + 3


cdef list _bytes_argv(list argv):
    """argv with every item bytes (effects are bytes but for the odd int or str an internal command builds)."""
    cdef bint ok = True
    for a in argv:
        if type(a) is not bytes:
            ok = False
            break
    if ok:
        return argv
    return [a if isinstance(a, bytes) else str(a).encode() for a in argv]


cdef Py_ssize_t _encoded_size(list argv):
    cdef Py_ssize_t total, n, i, argc = len(argv)
    total = 3 + _dec_digits(argc)
    for i in range(argc):
        n = PyBytes_GET_SIZE(<bytes>argv[i])
        total += 5 + _dec_digits(n) + n
    return total


cdef char* _encode_into(list argv, char* p):
    cdef Py_ssize_t n, i, argc = len(argv)
    cdef bytes a
    p = _put_header(p, 42, argc)
    for i in range(argc):
        a = <bytes>argv[i]
        n = PyBytes_GET_SIZE(a)
        p = _put_header(p, 36, n)
        memcpy(p, PyBytes_AS_STRING(a), n)
        p[n] = 13
        p[n + 1] = 10
        p += n + 2
    return p


cdef int _append_command(bytearray buf, list argv) except -1:
    """Append argv's RESP multibulk encoding to buf in place (one resize, one pass)."""
    cdef Py_ssize_t old = PyByteArray_GET_SIZE(buf), size
    argv = _bytes_argv(argv)
    size = _encoded_size(argv)
    PyByteArray_Resize(buf, old + size)
    _encode_into(argv, PyByteArray_AS_STRING(buf) + old)
    return 0


cpdef bytes encode_command(list argv):
    """RESP multibulk encoding of one command (the form AOF and replicas consume): sized first, then filled."""
    cdef Py_ssize_t size
    argv = _bytes_argv(argv)
    size = _encoded_size(argv)
    out = PyBytes_FromStringAndSize(NULL, size)
    _encode_into(argv, PyBytes_AS_STRING(out))
    return out


cdef class Keyspace:
    def __init__(self, int databases=16):
        self.dbs = [Db(i, self) for i in range(databases)]
        self.effects = EffectLog()
        self.now_ms = wall_ms()
        self.next_cas = 1
        self.samples = 5
        self.lfu_log_factor = 10
        self.lfu_decay_time = 1
        self.tenacity = 10
        self.eviction_pool = EvictionPool()
        self.lru_clock = <unsigned int>((self.now_ms // 1000) & LRU_CLOCK_MAX)

    def enable_slot_index(self):
        """Cluster mode: keep per-slot key counts and lists from now on (the keys present are indexed).
        Off by default: outside cluster mode a key pays nothing for it."""
        cdef Db db
        self.slot_index_on = True
        for db in self.dbs:
            if db.slot_head == NULL and db.count:
                db._slot_index_all()

    @property
    def slot_index_enabled(self):
        return self.slot_index_on

    cpdef long long update_clock(self):
        self.now_ms = wall_ms()
        self.lru_clock = <unsigned int>((self.now_ms // 1000) & LRU_CLOCK_MAX)
        return self.now_ms

    def set_policy(self, str name):
        self.policy = POLICIES[name]
        (<EvictionPool>self.eviction_pool).clear()

    cpdef int perform_evictions(self) except -1:
        """Evict keys until used_memory <= maxmemory (redis performEvictions): EVICT_OK, EVICT_RUNNING when
        the tenacity time budget ran out with work left, EVICT_FAIL when nothing more can be evicted."""
        cdef long long start
        cdef long long budget_us
        cdef int result
        if self.maxmemory <= 0 or self.used_memory <= self.maxmemory or self.paused or self.loading:
            return EVICT_OK             # redis isSafeToPerformEvictions: never while loading
        if self.policy == EVICT_NOEVICTION:
            self.stat_evict_fail += 1
            return EVICT_FAIL
        budget_us = 50 * self.tenacity if self.tenacity <= 10 else (500 * (1 << (self.tenacity - 10)) if self.tenacity < 100 else -1)
        start = mono_us()
        if self.latency_hook is not None:     # redis performEvictions' "eviction-cycle" / "eviction-del"
            result = self._perform_evictions_loop(budget_us, start, True)
            self.latency_hook("eviction-cycle", (mono_us() - start) // 1000)
            return result
        return self._perform_evictions_loop(budget_us, start, False)

    cdef int _perform_evictions_loop(self, long long budget_us, long long start, bint timed) except -1:
        cdef int keys_freed = 0
        cdef Db db
        cdef bint volatile_only
        cdef EvictionPool pool
        cdef bytes best
        cdef int best_db = 0
        cdef Py_ssize_t total, n
        cdef long long t0
        volatile_only = self.policy in (EVICT_VOLATILE_LRU, EVICT_VOLATILE_LFU, EVICT_VOLATILE_RANDOM, EVICT_VOLATILE_TTL)
        pool = <EvictionPool>self.eviction_pool
        while self.used_memory > self.maxmemory:
            best = None
            if self.policy == EVICT_ALLKEYS_RANDOM or self.policy == EVICT_VOLATILE_RANDOM:
                for db in self.dbs:
                    if volatile_only and db.vol_len:
                        best = rec_key_bytes(db.vol[rand64() % db.vol_len].rec)
                        best_db = db.id
                        break
                    if not volatile_only and db.count:
                        best = rec_key_bytes(db.rec_random())
                        best_db = db.id
                        break
            else:
                while best is None:
                    total = 0
                    for db in self.dbs:
                        n = db.vol_len if volatile_only else db.count
                        if n:
                            pool_populate(self, db, volatile_only, pool)
                            total += n
                    if total == 0:
                        break
                    best = pool_pop_best(self, pool, volatile_only, &best_db)
            if best is None:
                self.stat_evict_fail += 1
                return EVICT_FAIL
            if timed:
                t0 = mono_us()
                evict_key(self, <Db>self.dbs[best_db], best)
                self.latency_hook("eviction-del", (mono_us() - t0) // 1000)
            else:
                evict_key(self, <Db>self.dbs[best_db], best)
            keys_freed += 1
            if keys_freed % 16 == 0 and budget_us >= 0 and mono_us() - start > budget_us:
                return EVICT_RUNNING
        return EVICT_OK

    cpdef Db db(self, int index):
        return <Db>self.dbs[index]

    def swap(self, int a, int b):
        """SWAPDB: exchange the contents of two databases (clients keep their db index)."""
        cdef Db da = self.dbs[a], dbb = self.dbs[b]
        da._swap_contents(dbb)

    def key_count(self):
        return sum((<Db>d).count for d in self.dbs)


# ---------------------------------------------------------------------------------------------------
# Client: the per-connection command context
# ---------------------------------------------------------------------------------------------------
cdef class Client:
    def __init__(self, Keyspace ks, server=None, conn=None, long long id=0):
        self.ks = ks
        self.server = server
        self.conn = conn
        self.id = id
        self.db = ks.dbs[0]
        self.reply = ReplyBuffer()
        self.authenticated = True
        self.user = "default"
        self.name = None
        self.created_ms = ks.now_ms
        self.last_ms = ks.now_ms
        self.info = {}

    cpdef error(self, bytes message):
        """Reply with an error: counted for INFO errorstats and the command's failed_calls."""
        self.errors += 1
        self.reply.add_error(message)
        if self.server is not None:
            self.server.count_error(message)

    cpdef propagate_as(self, list argv):
        """Replace the effect of the current command (e.g. SET EX -> SET PXAT)."""
        self.effect_override = [argv]

    cpdef also_propagate(self, list argv):
        """Add an effect (several effects of one command are applied as one unit)."""
        if self.effect_override is None:
            self.effect_override = []
        self.effect_override.append(argv)

    cpdef prevent_propagation(self):
        self.effect_override = []

    cpdef select(self, int index):
        self.db = <Db>self.ks.dbs[index]

    @property
    def resp(self):
        return self.reply.resp


# ---------------------------------------------------------------------------------------------------
# Dispatcher
# ---------------------------------------------------------------------------------------------------
cdef inline bytes _cstr(bytes arg):
    """An argument as redis's printf("%s") sees it: up to its first NUL byte (found by the live fuzzer)."""
    cdef Py_ssize_t nul = arg.find(b"\0")
    return arg if nul < 0 else arg[:nul]


cdef bytes quote_args_for_unknown(list argv):
    """redis: "'%.*s' " per argument until 128 characters are used."""
    cdef bytes out = b""
    cdef int i
    for i in range(1, len(argv)):
        if len(out) >= 128:
            break
        room = 128 - len(out)
        out += b"'" + _cstr(<bytes>argv[i])[:room] + b"' "
    return out


def exec_abort(Client c, bytes message):
    """redis execCommandAbort: an EXEC refused before it runs (arity, NOAUTH, BUSY...) discards the transaction,
    if any, and answers EXECABORT with the refusal's text."""
    from engine.commands.transactions import discard_transaction
    discard_transaction(c)
    c.error(b"EXECABORT Transaction discarded because of: " + message)


cdef bind_fast(bytes name, HandlerFunc fn):
    """Let the dispatcher call a compiled family's handler as a C function (no Python call)."""
    cdef CommandSpec spec = registry.COMMANDS[name]
    spec.cfunc = <void*>fn


cdef bind_cost(bytes name):
    """The bound C handler of `name` accounts its keys' memory itself (core.pxd rec_cost_add)."""
    cdef CommandSpec spec = registry.COMMANDS[name]
    spec.self_accounted = spec.cfunc != NULL


# commands that run at once inside MULTI instead of being queued (redis processCommand)
MULTI_IMMEDIATE = frozenset(["exec", "discard", "multi", "watch", "quit", "reset"])
MULTI_OOM_ALLOWED = frozenset(["exec", "discard", "quit", "reset"])


cdef bint queue_denyoom(list queue):
    for q in queue:
        if (<CommandSpec>q[0]).flags & CMD_DENYOOM:
            return True
    return False
# what a RESP2 client in subscriber mode may still send
PUBSUB_CONTEXT_ALLOWED = frozenset(["ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
                                    "punsubscribe", "quit", "reset"])


cdef class Dispatcher:
    def __init__(self, Keyspace ks, dict table=None):
        self.ks = ks
        self.table = table if table is not None else registry.COMMANDS
        self.last_name = None
        self.last_spec = None
        self.slowlog_threshold_us = -1

    cpdef CommandSpec resolve(self, Client c, list argv):
        """The spec for argv (a subcommand when argv[0] is a container), or None after replying the error."""
        cdef bytes name = <bytes>argv[0]
        cdef CommandSpec spec
        cdef CommandSpec sub
        if name is self.last_name or name == self.last_name:
            spec = self.last_spec
        else:
            spec = <CommandSpec>self.table.get(name)
            if spec is None:
                spec = <CommandSpec>self.table.get(name.lower())
            if spec is not None:
                self.last_name = name
                self.last_spec = spec
        if spec is None or (spec.flags & CMD_INTERNAL and not c.is_master):
            lname = name.lower()
            if lname == b"post" or lname == b"host:":
                # cross-protocol scripting defence (redis securityWarningCommand): close without a reply
                if c.server is not None:
                    c.server.security_warning()
                c.reply.truncate(0)         # redis frees the client: replies still buffered are never sent
                c.close_after_reply = True
                return None
            c.error(b"ERR unknown command '" + _cstr(name)[:128] + b"', with args beginning with: " + quote_args_for_unknown(argv))
            return None
        if spec.subcommands is not None and len(argv) >= 2:
            sub = <CommandSpec>spec.subcommands.get((<bytes>argv[1]).lower())
            if sub is None:
                c.error(b"ERR unknown subcommand '" + _cstr(<bytes>argv[1])[:128] + b"'. Try " + spec.name_bytes.upper() + b" HELP.")
                return None
            spec = sub
        if (spec.arity > 0 and spec.arity != len(argv)) or len(argv) < -spec.arity:
            spec.rejected_calls += 1
            if spec.name == "exec":
                exec_abort(c, b"wrong number of arguments for 'exec' command")
                return None
            c.error(b"ERR wrong number of arguments for '" + spec.name_bytes + b"' command")
            return None
        return spec

    cpdef execute(self, Client c, list argv):
        """Run one command from a client: lookup, checks in redis processCommand order, call."""
        cdef CommandSpec spec = self.resolve(c, argv)
        if spec is None:
            if c.multi_queue is not None:
                c.multi_error = True      # redis flagTransaction: EXEC will answer EXECABORT
            return
        if self.auth_required and not c.authenticated and not (spec.flags & CMD_NO_AUTH):
            self.reject(c, spec, b"NOAUTH Authentication required.")
            return
        if c.multi_queue is not None and spec.flags & CMD_NO_MULTI and spec.name not in MULTI_IMMEDIATE:
            # redis 7.0 processCommand: checked after auth and before the ACL (no ACL LOG entry, no NOPERM)
            self.reject(c, spec, b"ERR Command not allowed inside a transaction")
            return
        cdef int acl_pos = 0, acl_result
        if c.acl_user is not None and not (<User>c.acl_user).unrestricted and not c.is_master:
            acl_result = acl_check(<User>c.acl_user, spec, argv, &acl_pos)
            if acl_result != 0:
                self.reject(c, spec, self.acl_denied(c, spec, argv, (acl_result, acl_pos)))
                return
        if c.pubsub is not None and c.reply.resp == 2 and c.pubsub.active() and spec.name not in PUBSUB_CONTEXT_ALLOWED:
            self.reject(c, spec, b"ERR Can't execute '" + spec.name_bytes + b"': only (P|S)SUBSCRIBE / "
                        b"(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
            return
        if self.before_call is not None and not self.before_call(c, spec, argv):
            return
        if self.ks.maxmemory > 0 and self.ks.used_memory > self.ks.maxmemory and not c.is_master:
            # redis processCommand: denyoom commands, EXEC of a queue holding one, and anything queued inside
            # MULTI (queueing consumes memory) but EXEC/DISCARD/QUIT/RESET
            if self.ks.perform_evictions() == EVICT_FAIL and (
                    spec.flags & CMD_DENYOOM
                    or (c.multi_queue is not None and spec.name not in MULTI_OOM_ALLOWED)
                    or (spec.name == "exec" and c.multi_queue is not None and queue_denyoom(c.multi_queue))):
                self.reject(c, spec, b"OOM command not allowed when used memory > 'maxmemory'.")
                return
        if c.multi_queue is not None and spec.name not in MULTI_IMMEDIATE:
            c.multi_queue.append((spec, argv))
            c.last_cmd = spec                   # redis processCommand sets lastcmd before queueing (CLIENT LIST cmd=)
            c.reply.add_simple(b"QUEUED")
            return
        self.call(c, spec, argv)

    cdef account_keys(self, Client c, CommandSpec spec, list argv):
        """Re-estimate the memory of the keys a write command names (its key positions)."""
        cdef Py_ssize_t i, last, argc = len(argv)
        cdef int step
        cdef Db db = c.db
        cdef cm_rec* r
        if spec.getkeys is not None and spec.flags & CMD_MOVABLE_KEYS:   # SET/BITFIELD: only their flags vary
            positions = [p[0] if isinstance(p, tuple) else p for p in spec.getkeys(argv)]
            for i in positions:
                r = db.rec_find(<bytes>argv[i])
                if r != NULL:
                    db.rec_account(r)
            return
        if spec.first_key <= 0:
            return
        last = spec.last_key if spec.last_key >= 0 else argc + spec.last_key
        if last >= argc:
            last = argc - 1
        step = spec.key_step if spec.key_step > 0 else 1
        i = spec.first_key
        while i <= last:
            r = db.rec_find(<bytes>argv[i])
            if r != NULL:
                db.rec_account(r)
            i += step

    cdef reject(self, Client c, CommandSpec spec, bytes message):
        spec.rejected_calls += 1
        if spec.name == "exec":
            exec_abort(c, message)
            return
        if c.multi_queue is not None:
            c.multi_error = True
        c.error(message)

    cpdef call(self, Client c, CommandSpec spec, list argv):
        """Invoke the handler, account stats, and emit the command's effect (redis call())."""
        cdef long long start, elapsed
        cdef long long errors_before = c.errors
        c.cmd = spec
        c.dirty = 0
        c.effect_override = None
        start = mono_us()
        try:
            if spec.cfunc != NULL:
                (<HandlerFunc>spec.cfunc)(c, argv)
            else:
                spec.handler(c, argv)
        except Exception as exc:
            # a handler bug must cost one error reply, never the connection or the server
            c.error(("ERR internal error in '%s': %s" % (spec.name, exc)).encode())
            if c.server is not None:
                c.server.log.warning("Command %s raised %r" % (spec.name, exc))
        elapsed = mono_us() - start
        if self.monitor_hook is not None and not (spec.flags & CMD_SKIP_MONITOR):
            c.cmd = spec                    # EXEC ran its queue through call(): the line is EXEC's own
            self.monitor_hook(c, argv)      # redis 7.0 call(): after the command ran, with the db it left selected
        spec.calls += 1
        spec.usec += elapsed
        spec.latency_buckets[latency_bucket(elapsed)] += 1
        self.ks.stat_commands += 1
        if c.errors != errors_before:
            spec.failed_calls += 1
        if c.effect_override is not None:
            for eff in c.effect_override:
                self.ks.effects.emit(c.db.id, eff)
            self.ks.dirty += c.dirty
        elif c.dirty > 0:
            self.ks.dirty += c.dirty
            if spec.flags & (CMD_WRITE | CMD_MAY_REPLICATE):
                self.ks.effects.emit(c.db.id, argv)
        if c.dirty > 0:
            if not spec.self_accounted:
                self.account_keys(c, spec, argv)
            if self.ks.on_key_modified is not None and not key_hooks_idle(self.ks):
                self.ks.on_key_modified(c, spec, argv)
        if self.slowlog_threshold_us >= 0 and elapsed >= self.slowlog_threshold_us and self.slowlog_hook is not None \
                and not (spec.flags & CMD_SKIP_SLOWLOG):
            self.slowlog_hook(c, argv, elapsed)
        if self.latency_threshold_us > 0 and elapsed >= self.latency_threshold_us and self.latency_hook is not None:
            self.latency_hook(spec, elapsed)     # LATENCY "command" / "fast-command" (server/latency.py)
        c.last_cmd = spec
        if self.tracking_hook is not None:
            self.tracking_hook(c, spec, argv)     # client tracking (server/tracking.py): keys read, CACHING


# The hot command families, compiled into this module.
include "commands/t_string.pxi"


# ---------------------------------------------------------------------------------------------------------
# RDB load: runs of string keys straight into the record table (issue 20; snapshot.load_keyspace's hot loop)
def load_string_run(Db db, list flat, long long now_ms, bint drop_expired):
    """Insert a run of string keys read by Cursor.read_string_run_ex ([key, value, expire_ms, ...], -1: no
    expiry) as Db.load_value + Db.account would, one key at a time without a Python call or an Entry per key.
    Keys already present are replaced; with ``drop_expired`` a key whose expiry has passed is skipped.
    Returns the skipped keys (None when there were none) for the caller's stats and DEL effects."""
    cdef Py_ssize_t i, n = len(flat)
    cdef list expired = None
    cdef long long at
    cdef bytes key
    cdef object value
    cdef cm_rec* r
    for i in range(0, n - 2, 3):
        key = <bytes>flat[i]
        at = flat[i + 2]
        if at != -1 and drop_expired and at < now_ms:
            if expired is None:
                expired = []
            expired.append(key)
            continue
        value = flat[i + 1]
        r = db.rec_find(key)
        if r != NULL:
            r = db.rec_set(key, value, at if at >= 0 else -1, False)
        else:
            r = db.rec_insert(key, value)
            if at >= 0:
                db.rec_set_expire(r, at)
        db.rec_account(r)
    return expired


def presize_for_load(Db db, size_t n):
    """RDB RESIZEDB hint (redis dictExpand in rdbLoad): an empty table takes its final size at once, so the
    load neither rehashes nor walks two tables. A table holding keys is left to grow as usual."""
    cdef size_t size = 4
    if db.count != 0 or n == 0 or n > (<size_t>1 << 40):
        return
    while size < n:
        size <<= 1
    if db.buckets == NULL or db.mask + 1 < size:
        db.resize(size)
