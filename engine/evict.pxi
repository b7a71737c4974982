# maxmemory: memory accounting estimates, LRU/LFU clocks and the eviction pool (redis evict.c).
# Included into engine.core so the per-command checks stay C calls.
import sys as _sys

from libc.stdlib cimport rand, RAND_MAX

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


cdef pool_populate(Keyspace ks, Db db, bint volatile_only, list pool):
    """Sample maxmemory-samples keys of db (all keys, or those with an expiry) into the 16-entry pool
    kept sorted by score (ascending)."""
    cdef Py_ssize_t n = db.vol_len if volatile_only else db.count, j, k
    cdef int samples = ks.samples if ks.samples < n else <int>n
    cdef cm_rec* r
    cdef unsigned long long score
    cdef bytes key
    for j in range(samples):
        r = db.vol[rand64() % db.vol_len].rec if volatile_only else db.rec_random()
        score = eviction_score(ks, db, r)
        k = 0
        while k < len(pool) and (<tuple>pool[k])[0] < score:
            k += 1
        if k == 0 and len(pool) >= EVPOOL_SIZE:
            continue          # worse than everything in a full pool
        key = rec_key_bytes(r)
        if any((<tuple>p)[2] == key and (<tuple>p)[1] == db.id for p in pool):
            continue
        pool.insert(k, (score, db.id, key))
        if len(pool) > EVPOOL_SIZE:
            del pool[0]       # drop the worst candidate


cdef bint evict_key(Keyspace ks, Db db, bytes key):
    if not db.delete(key):
        return False
    ks.stat_evicted += 1
    ks.effects.emit(db.id, [b"DEL", key])
    if ks.on_key_deleted is not None:
        ks.on_key_deleted(db, key, b"evicted")
    return True
