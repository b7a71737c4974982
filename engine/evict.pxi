# maxmemory: memory accounting estimates, LRU/LFU clocks and the eviction pool (redis evict.c).
# Included into engine.core so the per-command checks stay C calls.
import sys as _sys

from libc.stdlib cimport rand, RAND_MAX
from libc.string cimport memmove

cdef object _getsizeof = _sys.getsizeof

# policies (config names -> ints)
cdef enum:
    EVICT_NOEVICTION = 0
    EVICT_ALLKEYS_LRU = 1
    EVICT_VOLATILE_LRU = 2
    EVICT_ALLKEYS_LFU = 3
    EVICT_VOLATILE_LFU = 4
    EVICT_ALLKEYS_RANDOM = 5
    EVICT_VOLATILE_RANDOM = 6
    EVICT_VOLATILE_TTL = 7

POLICIES = {
    "noeviction": EVICT_NOEVICTION, "allkeys-lru": EVICT_ALLKEYS_LRU, "volatile-lru": EVICT_VOLATILE_LRU,
    "allkeys-lfu": EVICT_ALLKEYS_LFU, "volatile-lfu": EVICT_VOLATILE_LFU, "allkeys-random": EVICT_ALLKEYS_RANDOM,
    "volatile-random": EVICT_VOLATILE_RANDOM, "volatile-ttl": EVICT_VOLATILE_TTL,
}

cdef enum:
    EVICT_OK = 0
    EVICT_RUNNING = 1
    EVICT_FAIL = 2

EVICT_RESULT_OK = EVICT_OK
EVICT_RESULT_RUNNING = EVICT_RUNNING
EVICT_RESULT_FAIL = EVICT_FAIL

cdef int EVPOOL_SIZE = 16
cdef unsigned int LRU_CLOCK_MAX = (1 << 24) - 1
cdef unsigned int LFU_INIT_VAL = 5

# What one key costs beyond its record (core.pyx: key and small strings inline): its bucket pointer at the
# table's average load (grown at load 1, so between 1/2 and 1: ~8/0.75 B).  A key with an expiry also has a
# 16 B slot in the expiry index (grown by doubling: ~20 B).
cdef long long BUCKET_OVERHEAD = 11
cdef long long VOLATILE_OVERHEAD = 20


cdef inline long long alloc_size(long long size):
    """What CPython's allocator really takes for an object of `size` bytes (pymalloc rounds to 16 up
    to 512 B; larger objects come from malloc with a 16 B header)."""
    if size <= 512:
        return (size + 15) & ~15
    return (size + 16 + 15) & ~15


cdef inline long long bytes_cost(object b):
    return alloc_size(33 + len(<bytes>b))


cdef long long value_cost(object v):
    """Estimated bytes of a value: exact arithmetic for strings, container size plus a sampled average
    element size for aggregates (O(1), like MEMORY USAGE's SAMPLES)."""
    cdef long long n, total, sampled
    if type(v) is bytes:
        return bytes_cost(v)
    estimate = getattr(v, "mem_estimate", None)
    if estimate is not None:
        return estimate()
    try:
        n = len(v)
    except TypeError:
        return 64
    total = _getsizeof(v)
    if n == 0:
        return total
    sampled = 0
    cdef long long taken = 0
    if isinstance(v, dict):
        for k in v:
            sampled += element_cost(k) + element_cost((<dict>v)[k])
            taken += 1
            if taken == 5:
                break
    else:
        for k in v:
            sampled += element_cost(k)
            taken += 1
            if taken == 5:
                break
    return total + sampled * n // taken


cdef inline long long element_cost(object x):
    if type(x) is bytes:
        return bytes_cost(x)
    if isinstance(x, tuple):
        return 64 + sum(element_cost(y) for y in x)
    return 32


def memory_usage(bytes key, Entry e):
    """MEMORY USAGE: the cost of one key (its record, a boxed value, its expiry slot)."""
    cdef cm_rec* r = e.r
    cdef long long cost = rec_base_cost(r)
    if r.flags & CM_BOXED:
        cost += value_cost(<object>rec_obj(r)) + 8
    if r.vslot >= 0:
        cost += VOLATILE_OVERHEAD
    return cost


cdef inline unsigned int lfu_minutes(long long now_ms):
    return <unsigned int>((now_ms // 60000) & 65535)


cdef inline unsigned int lfu_decr_and_return(Keyspace ks, unsigned int lru):
    """redis LFUDecrAndReturn: the counter after decay for the minutes elapsed since the last access."""
    cdef unsigned int ldt = lru >> 8
    cdef unsigned int counter = lru & 255
    cdef unsigned int now = lfu_minutes(ks.now_ms)
    cdef unsigned int elapsed = now - ldt if now >= ldt else 65535 - ldt + now
    cdef unsigned int periods = elapsed // ks.lfu_decay_time if ks.lfu_decay_time else 0
    if periods:
        counter = 0 if periods > counter else counter - periods
    return counter


cdef inline unsigned int lfu_log_incr(Keyspace ks, unsigned int counter):
    cdef double r, baseval, p
    if counter == 255:
        return 255
    r = <double>rand() / RAND_MAX
    baseval = <double>counter - LFU_INIT_VAL
    if baseval < 0:
        baseval = 0
    p = 1.0 / (baseval * ks.lfu_log_factor + 1)
    if r < p:
        counter += 1
    return counter


cdef inline bint policy_is_lfu(int policy):
    return policy == EVICT_ALLKEYS_LFU or policy == EVICT_VOLATILE_LFU


def object_idle_ms(Keyspace ks, Entry e):
    """OBJECT IDLETIME (redis estimateObjectIdleTime), in milliseconds."""
    cdef unsigned int clock = ks.lru_clock
    cdef unsigned int lru = e.r.lru
    if clock >= lru:
        return (clock - lru) * 1000
    return (clock + (LRU_CLOCK_MAX - lru)) * 1000


def object_freq(Keyspace ks, Entry e):
    """OBJECT FREQ: the LFU counter after decay."""
    return lfu_decr_and_return(ks, e.r.lru)


def policy_uses_lfu(Keyspace ks):
    return policy_is_lfu(ks.policy)


cdef unsigned long long eviction_score(Keyspace ks, Db db, cm_rec* r):
    """Higher = better candidate (redis evictionPoolPopulate's `idle`)."""
    cdef unsigned int clock
    if ks.policy == EVICT_ALLKEYS_LRU or ks.policy == EVICT_VOLATILE_LRU:
        clock = ks.lru_clock
        if clock >= r.lru:
            return (clock - r.lru) * 1000
        return (clock + (LRU_CLOCK_MAX - r.lru)) * 1000
    if policy_is_lfu(ks.policy):
        return 255 - lfu_decr_and_return(ks, r.lru)
    # volatile-ttl: the sooner it expires, the better
    if r.vslot < 0:
        return 0
    return 0xFFFFFFFFFFFFFFFF - <unsigned long long>db.vol[r.vslot].expire_at


cdef extern from "Python.h":
    Py_ssize_t _Py_HashBytes(const void* src, Py_ssize_t len)

# The eviction pool (redis evictionPoolEntry[EVPOOL_SIZE]): C entries sorted by score (ascending, the best
# candidate last), each holding a copy of its key (inline up to EVPOOL_CACHED bytes, malloc'd beyond, as redis
# caches the sds), so sampling makes no Python object; a candidate is hashed and looked up again only when it
# is popped (the key may have been deleted or replaced since it was sampled).
cdef enum:
    EVPOOL_CAP = 16
    EVPOOL_CACHED = 48

ctypedef struct evpool_entry:
    unsigned long long score
    unsigned long long tag       # key_tag(): compared before the key bytes
    int dbid
    unsigned int klen
    char* big                    # the key when longer than EVPOOL_CACHED, else NULL
    char cached[EVPOOL_CACHED]


@cython.no_gc
cdef class EvictionPool:
    cdef int n
    cdef evpool_entry e[EVPOOL_CAP]

    def __dealloc__(self):
        self.clear()

    cdef void clear(self):
        cdef int i
        for i in range(self.n):
            if self.e[i].big != NULL:
                PyMem_Free(self.e[i].big)
                self.e[i].big = NULL
        self.n = 0

    def __len__(self):
        return self.n

    def entries(self):
        """(score, db id, key) per entry, worst first (for tests)."""
        return [(self.e[i].score, self.e[i].dbid, ent_key_bytes(&self.e[i])) for i in range(self.n)]


cdef inline unsigned long long key_tag(const char* p, unsigned int n):
    """The key's first and last 8 bytes xored (zero-padded below 8): a cheap filter for the duplicate test."""
    cdef unsigned long long a = 0, b = 0
    if n >= 8:
        memcpy(&a, p, 8)
        memcpy(&b, p + n - 8, 8)
        return a ^ (b * 31)
    memcpy(&a, p, n)
    return a


cdef inline const char* ent_key(evpool_entry* ent):
    return ent.big if ent.big != NULL else ent.cached


cdef inline bytes ent_key_bytes(evpool_entry* ent):
    return PyBytes_FromStringAndSize(ent_key(ent), ent.klen)


cdef inline cm_rec* rec_find_hashed(Db db, const char* p, Py_ssize_t n, size_t h):
    """Db.rec_find for a key given as bytes and its hash (no object, no rehash step)."""
    cdef cm_rec* r
    if db.count == 0 or db.buckets == NULL:
        return NULL
    if db.buckets1 != NULL and (h & db.mask) < db.rehash_idx:
        r = db.buckets1[h & db.mask1]
    else:
        r = db.buckets[h & db.mask]
    while r != NULL:
        if r.klen == n and memcmp(r.data, p, n) == 0:
            return r
        r = r.next
    return NULL


cdef extern from *:
    """
    #define EV_PREFETCH(p) __builtin_prefetch((const void*)(p), 0, 3)
    """
    void EV_PREFETCH(const void* p) nogil

cdef enum:
    EV_SAMPLE_MAX = 64        # draws per batch (maxmemory-samples above it: several batches)
    EV_SLOTS_AHEAD = 3        # bucket slots drawn in advance per sample (at load 0.5-1, 37-60% of buckets are empty)


cdef int pool_populate(Keyspace ks, Db db, bint volatile_only, EvictionPool pool) except -1:
    """Sample maxmemory-samples keys of db (all keys, or those with an expiry) into the 16-entry pool
    kept sorted by score (ascending)."""
    cdef Py_ssize_t n = db.vol_len if volatile_only else db.count
    cdef int samples = ks.samples if ks.samples < n else <int>n
    cdef int j, k, i
    cdef cm_rec* r
    cdef unsigned long long score, tag
    cdef evpool_entry* ent
    cdef char* big
    cdef cm_rec* drawn[EV_SAMPLE_MAX]
    cdef int m = 0, jj = 0
    for j in range(samples):
        if jj == m:           # the draws come EV_SAMPLE_MAX at a time, their loads overlapped
            m = sample_records(db, volatile_only, drawn, samples - j if samples - j < EV_SAMPLE_MAX else EV_SAMPLE_MAX)
            jj = 0
        r = drawn[jj]
        jj += 1
        if r == NULL:
            continue
        score = eviction_score(ks, db, r)
        k = 0
        while k < pool.n and pool.e[k].score < score:
            k += 1
        if k == 0 and pool.n >= EVPOOL_CAP:
            continue          # worse than everything in a full pool
        tag = key_tag(r.data, r.klen)
        i = 0
        while i < pool.n:
            ent = &pool.e[i]
            if ent.tag == tag and ent.klen == r.klen and ent.dbid == db.id and memcmp(ent_key(ent), r.data, r.klen) == 0:
                break
            i += 1
        if i < pool.n:
            continue          # already a candidate
        big = NULL
        if r.klen > EVPOOL_CACHED:
            big = <char*>PyMem_Malloc(r.klen)
            if big == NULL:
                raise MemoryError()
            memcpy(big, r.data, r.klen)
        if pool.n < EVPOOL_CAP:
            memmove(&pool.e[k + 1], &pool.e[k], (pool.n - k) * sizeof(evpool_entry))
            pool.n += 1
        else:                 # full: the worst candidate (first) goes, the ones below k move down
            if pool.e[0].big != NULL:
                PyMem_Free(pool.e[0].big)
            k -= 1
            memmove(&pool.e[0], &pool.e[1], k * sizeof(evpool_entry))
        ent = &pool.e[k]
        ent.score = score
        ent.tag = tag
        ent.dbid = db.id
        ent.klen = r.klen
        ent.big = big
        if big == NULL:
            memcpy(ent.cached, r.data, r.klen)
    return 0


cdef bytes pool_pop_best(Keyspace ks, EvictionPool pool, bint volatile_only, int* dbid):
    """Pop candidates, best first, until one still exists (with an expiry for volatile-*): its key, or None
    when the pool ran empty."""
    cdef evpool_entry* ent
    cdef cm_rec* r
    cdef bytes key = None
    while pool.n and key is None:
        pool.n -= 1
        ent = &pool.e[pool.n]
        r = rec_find_hashed(<Db>ks.dbs[ent.dbid], ent_key(ent), ent.klen,
                            <size_t>_Py_HashBytes(ent_key(ent), ent.klen))
        if r != NULL and (not volatile_only or r.vslot >= 0):
            if r.flags & CM_BOXED:
                EV_PREFETCH(rec_obj(r))     # its free is next (evict_key): start the load now
            key = ent_key_bytes(ent)
            dbid[0] = ent.dbid
        if ent.big != NULL:
            PyMem_Free(ent.big)
            ent.big = NULL
    return key


cdef bint evict_key(Keyspace ks, Db db, bytes key):
    if not db.delete(key):
        return False
    ks.stat_evicted += 1
    ks.effects.emit(db.id, [b"DEL", key])
    if ks.on_key_deleted is not None and not deleted_hooks_idle(ks):
        ks.on_key_deleted(db, key, b"evicted")
    return True


# Sampling with the cache misses overlapped (issue 20, latency row). Each random draw is two or three dependent
# loads (the bucket slot, the record, the next records of its chain; for volatile-* the expiry index slot, then
# the record), all cold at maxmemory: drawn one after another they queued (Db.rec_random was a fifth of the
# server's time while every write evicted). Here all draws of one pool_populate are made first and their loads
# issued at once, stage by stage. Same distribution as rec_random (a uniform non-empty bucket, then a uniform
# record of its chain) and as vol[rand % vol_len]; only the order of the loads changes.
cdef inline cm_rec** _random_slot(Db db, size_t s0, size_t slots):
    """A uniformly chosen bucket slot of the live part of the table(s) (rec_random's draw)."""
    cdef size_t h
    if db.buckets1 != NULL:
        h = db.rehash_idx + rand64() % slots
        return &db.buckets1[h - s0] if h >= s0 else &db.buckets[h]
    return &db.buckets[rand64() & db.mask]


cdef int sample_records(Db db, bint volatile_only, cm_rec** out, int n):
    """n random records of db into out (NULL where none), as n calls of rec_random (or n uniform picks from
    the expiry index) would give, with each stage's loads issued together. Returns n."""
    cdef cm_rec** slot[EV_SAMPLE_MAX * EV_SLOTS_AHEAD]
    cdef int nslots, used, j
    cdef size_t s0 = 0, slots = 0, cnt, k
    cdef cm_rec* head
    cdef cm_rec* r
    if n > EV_SAMPLE_MAX:
        n = EV_SAMPLE_MAX
    if volatile_only:
        if db.vol_len == 0:
            for j in range(n):
                out[j] = NULL
            return n
        for j in range(n):
            slot[j] = &db.vol[rand64() % db.vol_len].rec
            EV_PREFETCH(slot[j])
        for j in range(n):
            out[j] = slot[j][0]
            EV_PREFETCH(out[j])
        return n
    if db.count == 0:
        for j in range(n):
            out[j] = NULL
        return n
    if db.buckets1 != NULL:
        s0 = db.mask + 1
        slots = s0 + db.mask1 + 1 - db.rehash_idx
    # stage 1: bucket slots, drawn ahead (an empty one is skipped, as rec_random draws again)
    nslots = n * EV_SLOTS_AHEAD
    for j in range(nslots):
        slot[j] = _random_slot(db, s0, slots)
        EV_PREFETCH(slot[j])
    # stage 2: the first non-empty slot per sample (drawing more only when the advance ran out); heads requested
    used = 0
    for j in range(n):
        head = NULL
        while head == NULL:
            if used < nslots:
                head = slot[used][0]
                used += 1
            else:
                head = _random_slot(db, s0, slots)[0]
        out[j] = head
        EV_PREFETCH(head)
    # stage 3: a uniform record of each chain (most chains are one record long: nothing more to load)
    for j in range(n):
        head = out[j]
        if head.next == NULL:
            continue
        cnt = 0
        r = head
        while r != NULL:
            cnt += 1
            r = r.next
        k = rand64() % cnt
        r = head
        while k:
            r = r.next
            k -= 1
        out[j] = r
    return n


def sample_keys(Db db, int n, bint volatile_only=False):
    """The keys of n draws of sample_records (for tests)."""
    cdef cm_rec* drawn[EV_SAMPLE_MAX]
    cdef int j, m
    out = []
    while n > 0:
        m = sample_records(db, volatile_only, drawn, n if n < EV_SAMPLE_MAX else EV_SAMPLE_MAX)
        for j in range(m):
            out.append(None if drawn[j] == NULL else rec_key_bytes(drawn[j]))
        n -= m
    return out
