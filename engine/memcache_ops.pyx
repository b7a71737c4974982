# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""memcached verbs executed against database 0 of the shared keyspace (memcached 1.6.18 semantics).

A memcached item is a Redis string.  Its client flags live in ``Entry.mc_flags`` and its CAS id in
``Entry.cas``: the low 60 bits are the id (0 = "not assigned yet", assigned from ``Keyspace.next_cas``
when a client asks for it; every memcached store assigns a fresh one), the top bits carry memcached's
per-item state (fetched, win token sent, stale).  Redis writes reset ``cas`` to 0, which drops that
state as well, so a later ``cas`` fails as it must and the item counts as a new one.

TTLs are the key's ``expire_at`` (absolute ms), so Redis TTL shows them.  Every write emits
deterministic Redis-style effects for the AOF and replicas: ``SET key value [PXAT ms]`` followed by
``_MCMETA key flags cas`` (an internal command, engine/commands/memcache_meta.py), ``DEL key``,
``PEXPIREAT``/``PERSIST`` for touches and ``FLUSHDB`` for flush_all.  The effect argvs are only built when
somebody consumes the effect stream.
"""
import asyncio

from libc.stdlib cimport strtoull
from libc cimport errno as c_errno
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize

from engine.core cimport (Keyspace, Db, Entry, cm_rec, CM_RAW, CM_BOXED, rec_value, rec_is_string, entry_expire_at,
                         key_hooks_idle, rec_val, rec_obj)
from protocol.memcache cimport McFast, McOut, mcout_reserve, mcout_put, mcout_udec
from libc.string cimport memcpy
from protocol import memcache as mc
from protocol import memcache_bin as mb
from protocol.memcache_bin cimport BinRequest, header as mb_header, flags_header as mb_flags_header

cdef long long RELATIVE_MAX = 60 * 60 * 24 * 30          # memcached REALTIME_MAXDELTA: above it, absolute time
cdef long long EXPIRED = -2                               # exptime_to_ms: the item is dead on arrival
cdef unsigned long long CAS_MASK = (1ULL << 60) - 1       # the CAS id bits of Entry.cas
cdef unsigned long long BIT_FETCHED = 1ULL << 63          # ITEM_FETCHED
cdef unsigned long long BIT_TOKEN = 1ULL << 62            # ITEM_TOKEN_SENT (a client won the recache race)
cdef unsigned long long BIT_STALE = 1ULL << 61            # ITEM_STALE (md I / ms I)
cdef int EVICT_FAIL = 2                                   # engine/evict.pxi's perform_evictions result

# command codes (protocol/memcache.pyx has no .pxd: mirror its values as C constants)
cdef enum:
    C_GET = 1
    C_GETS = 2
    C_GAT = 3
    C_GATS = 4
    C_SET = 5
    C_ADD = 6
    C_REPLACE = 7
    C_APPEND = 8
    C_PREPEND = 9
    C_CAS = 10
    C_DELETE = 11
    C_INCR = 12
    C_DECR = 13
    C_TOUCH = 14
    C_FLUSH_ALL = 15
    C_VERSION = 16
    C_VERBOSITY = 17
    C_STATS = 18
    C_QUIT = 19
    C_SHUTDOWN = 20
    C_MG = 21
    C_MS = 22
    C_MD = 23
    C_MA = 24
    C_MN = 25
    C_ME = 26
    C_ADMIN = 27
    C_CONFIG = 28

assert (mc.MC_GET, mc.MC_SET, mc.MC_CAS, mc.MC_MG, mc.MC_ADMIN) == (C_GET, C_SET, C_CAS, C_MG, C_ADMIN)

MC_VERSION = b"1.6.18"
cdef bytes DISCOVERY_KEY = b"AmazonElastiCache:cluster"   # server/mc_discovery.py serves it while configured
cdef Py_ssize_t DISCOVERY_KEY_LEN = 25
cdef bytes END = b"END\r\n"
cdef bytes CRLF = b"\r\n"
cdef bytes VALUE_ = b"VALUE "
cdef bytes STORED = b"STORED\r\n"
cdef bytes NOT_STORED = b"NOT_STORED\r\n"
cdef bytes EXISTS = b"EXISTS\r\n"
cdef bytes NOT_FOUND = b"NOT_FOUND\r\n"
cdef bytes DELETED = b"DELETED\r\n"
cdef bytes TOUCHED = b"TOUCHED\r\n"
cdef bytes OK = b"OK\r\n"
cdef bytes ERR_NON_NUMERIC = b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
cdef bytes ERR_NO_MEMORY = b"SERVER_ERROR out of memory storing object\r\n"
cdef bytes HD = b"HD"
cdef bytes NS = b"NS"
cdef bytes EX = b"EX"
cdef bytes NF = b"NF"
# "VALUE key 0 <n>\r\n" headers for small values are the hot path: keep them preformatted
cdef list FLAGS0_HEADERS = [b" 0 %d\r\n" % n for n in range(1024)]


cdef inline long long exptime_to_ms(long long exptime, long long now_ms):
    """memcached TTL rules -> absolute ms: 0 = no expiry (returns -1), negative or past = EXPIRED."""
    if exptime == 0:
        return -1
    if exptime < 0:
        return EXPIRED
    if exptime > RELATIVE_MAX:
        if exptime * 1000 <= now_ms:
            return EXPIRED
        return exptime * 1000
    return now_ms + exptime * 1000


cdef inline long long ttl_seconds(Entry e, long long now_ms):
    """memcached's remaining TTL in whole seconds, -1 for none."""
    if entry_expire_at(e) < 0:
        return -1
    if entry_expire_at(e) <= now_ms:
        return 0
    return (entry_expire_at(e) - now_ms + 999) // 1000


cdef bint parse_counter(bytes value, unsigned long long *out):
    """memcached do_add_delta: safe_strtoull over the item data (followed by its \\r\\n)."""
    cdef bytes buf
    cdef const char *s
    cdef char *end
    cdef const char *p
    cdef unsigned long long v
    if PyBytes_GET_SIZE(value) == 0:
        return False
    buf = value + CRLF
    s = PyBytes_AS_STRING(buf)
    c_errno.errno = 0
    v = strtoull(s, &end, 10)
    if c_errno.errno == c_errno.ERANGE or end == s:
        return False
    if not (end[0] == 0 or end[0] == 32 or (end[0] >= 9 and end[0] <= 13)):
        return False
    if <long long>v < 0:
        p = s
        while p < end:
            if p[0] == 45:          # a '-' that wrapped: rejected like memcached
                return False
            p += 1
    out[0] = v
    return True


cdef class McStats:
    """memcached's own counters (the `stats` command)."""


cdef class McEngine:
    """Executes parsed memcached requests (protocol.memcache.McRequest) against db 0; one per server."""

    def __init__(self, server):
        self.server = server
        self.ks = <Keyspace>server.ks
        self.db = <Db>self.ks.dbs[0]
        self.stats = McStats()
        self.flush_timer = None

    # ------------------------------------------------------------------------------------ item access
    cdef Entry read_item(self, bytes key):
        """A read lookup: lazy expiry, keyspace hits/misses, LRU touch; non-strings are misses."""
        cdef cm_rec* r = self.db.rec_find(key)
        if r == NULL:
            self.ks.stat_misses += 1
            if self.ks.notify_flags:
                self.key_event("m", b"keymiss", key)    # as rec_lookup does for RESP reads
            return None
        if r.vslot >= 0 and self.db.vol[r.vslot].expire_at <= self.ks.now_ms:
            self.stats.get_expired += 1
        r = self.db.rec_lookup(key, True)
        if r == NULL:
            return None
        if not rec_is_string(r):
            self.ks.stat_hits -= 1       # counted as a hit by the lookup; for memcached it is a miss
            self.ks.stat_misses += 1
            return None
        return self.db.handle(r)

    cdef Entry write_item(self, bytes key):
        """A write lookup: lazy expiry, no hit/miss accounting; non-strings are absent."""
        cdef cm_rec* r = self.db.rec_lookup(key, False)
        if r == NULL or not rec_is_string(r):
            return None
        return self.db.handle(r)

    cdef unsigned long long cas_of(self, Entry e):
        if e.r.cas & CAS_MASK == 0:
            e.r.cas = (e.r.cas & ~CAS_MASK) | self.ks.next_cas
            self.ks.next_cas += 1
        return e.r.cas & CAS_MASK

    cdef void new_cas(self, Entry e):
        e.r.cas = self.ks.next_cas
        self.ks.next_cas += 1

    # ------------------------------------------------------------------------------------ effects
    cdef emit_store(self, bytes key, Entry e):
        """A memcached store happened: account memory and emit SET [PXAT] + _MCMETA."""
        cdef Keyspace ks = self.ks
        cdef list argv
        ks.dirty += 1
        ks.stat_commands += 1
        self.db.account(key, e)
        if ks.on_key_modified is not None and not key_hooks_idle(self.ks):
            self.touch_watched(key)
        if ks.notify_flags:
            self.key_event("$", b"set", key)
        if not ks.effects.subscribers:
            ks.effects.count += 2
            return
        argv = [b"SET", key, rec_value(e.r)]
        if entry_expire_at(e) >= 0:
            argv.append(b"PXAT")
            argv.append(b"%d" % entry_expire_at(e))
        ks.effects.emit(0, argv)
        ks.effects.emit(0, [b"_MCMETA", key, b"%d" % e.r.mc_flags, b"%d" % (e.r.cas & CAS_MASK)])

    cdef emit_delete(self, bytes key):
        cdef Keyspace ks = self.ks
        ks.dirty += 1
        ks.stat_commands += 1
        if ks.on_key_modified is not None and not key_hooks_idle(self.ks):
            self.touch_watched(key)
        if ks.notify_flags:
            self.key_event("g", b"del", key)
        ks.effects.emit(0, [b"DEL", key])

    cdef touch_watched(self, bytes key):
        """WATCH: a memcached write to a watched key aborts the watcher's EXEC."""
        if self.server is None:
            return
        watch = self.server.extensions.get("watch")
        if watch is not None and watch.watchers:
            watch.touch(0, key)
        tracking = self.server.extensions.get("tracking")
        if tracking is not None:
            tracking.invalidate(None, key)      # client-side caching readers of the key (server/tracking.py)

    cdef key_event(self, str cls, bytes event, bytes key):
        from engine.notify import notify
        notify(self.server, cls, event, key, 0)

    cdef emit_meta_only(self, bytes key, Entry e):
        """Flags/CAS/state changed without a new value (md I)."""
        self.ks.dirty += 1
        if self.ks.effects.subscribers:
            self.ks.effects.emit(0, [b"_MCMETA", key, b"%d" % e.r.mc_flags, b"%d" % (e.r.cas & CAS_MASK)])

    cdef set_ttl(self, bytes key, Entry e, long long at):
        """Apply a touch (at from exptime_to_ms; the caller handled EXPIRED) and emit its effect."""
        if at < 0:
            if entry_expire_at(e) < 0:
                return
            self.db.remove_expire(key, e)
            self.ks.effects.emit(0, [b"PERSIST", key])
        else:
            self.db.set_expire(key, e, at)
            self.ks.effects.emit(0, [b"PEXPIREAT", key, b"%d" % at])
        self.ks.dirty += 1
        if self.ks.on_key_modified is not None and not key_hooks_idle(self.ks):
            self.touch_watched(key)
        if self.ks.notify_flags:
            self.key_event("g", b"expire" if at >= 0 else b"persist", key)

    cdef bint out_of_memory(self):
        cdef Keyspace ks = self.ks
        if ks.maxmemory > 0 and ks.used_memory > ks.maxmemory:
            if ks.perform_evictions() == EVICT_FAIL:
                self.stats.store_no_memory += 1
                return True
        return False

    cdef Entry store(self, bytes key, bytes value, unsigned int flags, long long exptime):
        """Write an item with set semantics; None when its TTL is already past (the old item is gone)."""
        cdef long long at = exptime_to_ms(exptime, self.ks.now_ms)
        cdef Entry e
        if at == EXPIRED:
            if self.db.delete(key):
                self.emit_delete(key)
            return None
        e = self.db.set_value(key, value, at, False)
        e.r.mc_flags = flags
        e.r.cas = self.ks.next_cas
        self.ks.next_cas += 1
        self.stats.total_items += 1
        self.emit_store(key, e)
        return e

    cdef store_set(self, bytes key, bytes value, unsigned int flags, long long exptime):
        """store() for text `set` without the Entry view while nothing observes the write beyond the counters
        (no replica/AOF subscriber, no notifications, no WATCH or tracking): the same record, CAS, counters
        and memory accounting; anything else takes store()."""
        cdef Keyspace ks = self.ks
        cdef long long at
        cdef cm_rec* r
        if ks.effects.subscribers or ks.notify_flags or (ks.on_key_modified is not None and not key_hooks_idle(ks)):
            self.store(key, value, flags, exptime)
            return
        at = exptime_to_ms(exptime, ks.now_ms)
        if at == EXPIRED:
            self.store(key, value, flags, exptime)
            return
        r = self.db.rec_set(key, value, at, False)
        r.mc_flags = flags
        r.cas = ks.next_cas
        ks.next_cas += 1
        self.stats.total_items += 1
        ks.dirty += 1                       # emit_store's effects with nobody subscribed
        ks.stat_commands += 1
        self.db.rec_account(r)
        ks.effects.count += 2

    # ------------------------------------------------------------------------------------ dispatch
    cdef int execute(self, object req, list out) except -1:
        """Run one valid request; its reply bytes are appended to out (nothing for noreply)."""
        cdef int cmd = req.command
        cdef bytes reply
        if cmd == C_GET or cmd == C_GETS:
            self.get_many(req.keys, cmd == C_GETS, out)
        elif cmd == C_SET:
            self.stats.cmd_set += 1
            if self.out_of_memory():
                reply = ERR_NO_MEMORY
            else:
                self.store_set(<bytes>req.keys[0], <bytes>req.value, req.flags, req.exptime)
                reply = STORED
            if not req.noreply:
                out.append(reply)
        elif cmd == C_ADD or cmd == C_REPLACE or cmd == C_CAS:
            self.stats.cmd_set += 1
            reply = self.conditional_store(req, cmd)
            if not req.noreply:
                out.append(reply)
        elif cmd == C_APPEND or cmd == C_PREPEND:
            self.stats.cmd_set += 1
            reply = self.concat(<bytes>req.keys[0], <bytes>req.value, cmd == C_APPEND)
            if not req.noreply:
                out.append(reply)
        elif cmd == C_DELETE:
            reply = self.delete(<bytes>req.keys[0])
            if not req.noreply:
                out.append(reply)
        elif cmd == C_INCR or cmd == C_DECR:
            reply = self.text_arith(<bytes>req.keys[0], req.delta, cmd == C_INCR)
            if not req.noreply:
                out.append(reply)
        elif cmd == C_TOUCH:
            reply = TOUCHED if self.touch(<bytes>req.keys[0], req.exptime) is not None else NOT_FOUND
            if not req.noreply:
                out.append(reply)
        elif cmd == C_GAT or cmd == C_GATS:
            self.get_and_touch(req.keys, cmd == C_GATS, req.exptime, out)
        elif cmd == C_MG:
            self.meta_get(req, out)
        elif cmd == C_MS:
            self.meta_set(req, out)
        elif cmd == C_MD:
            self.meta_delete(req, out)
        elif cmd == C_MA:
            self.meta_arith(req, out)
        elif cmd == C_MN:
            out.append(mc.MN)
        elif cmd == C_ME:
            self.meta_debug(req, out)
        elif cmd == C_FLUSH_ALL:
            self.flush_all(req.delay)
            if not req.noreply:
                out.append(OK)
        elif cmd == C_VERSION:
            out.append(b"VERSION " + MC_VERSION + CRLF)
        elif cmd == C_VERBOSITY:
            if not req.noreply:
                out.append(OK)
        elif cmd == C_STATS:
            out.append(self.server.memcached_stats(self, req.args))
        elif cmd == C_SHUTDOWN:
            out.append(mc.ERR_SHUTDOWN_DISABLED)
        elif cmd == C_ADMIN:
            reply = admin_reply(self, req)
            if not req.noreply:
                out.append(reply)
        elif cmd == C_CONFIG:
            # ElastiCache auto discovery (server/mc_discovery.py); plain memcached has no such verb
            reply = self.server.memcached_config(req)
            if not req.noreply:
                out.append(reply)
        else:
            out.append(mc.ERR_ERROR)
        return 0

    # ------------------------------------------------------------------------------------ text verbs
    cdef get_many(self, list keys, bint with_cas, list out):
        cdef bytes key
        for key in keys:
            self.get_one(key, with_cas, out)
        out.append(END)

    cdef get_one(self, bytes key, bint with_cas, list out):
        """One key of get/gets: its VALUE block (nothing on a miss) and its counters."""
        cdef Entry e
        cdef bytes value
        cdef Py_ssize_t n
        cdef McStats st = self.stats
        st.cmd_get += 1
        if PyBytes_GET_SIZE(key) == DISCOVERY_KEY_LEN and key == DISCOVERY_KEY:
            # "get AmazonElastiCache:cluster", the pre-1.4.14 auto-discovery form (None when not configured)
            value = self.server.memcached_discovery_item(with_cas)
            if value is not None:
                st.get_hits += 1
                out.append(value)
                return
        e = self.read_item(key)
        if e is None:
            st.get_misses += 1
            return
        st.get_hits += 1
        e.r.cas |= BIT_FETCHED
        value = <bytes>rec_value(e.r)
        n = PyBytes_GET_SIZE(value)
        out.append(VALUE_)
        out.append(key)
        if with_cas:
            out.append(b" %d %d %d\r\n" % (e.r.mc_flags, n, self.cas_of(e)))
        elif e.r.mc_flags == 0 and n < 1024:
            out.append(<bytes>FLAGS0_HEADERS[n])
        else:
            out.append(b" %d %d\r\n" % (e.r.mc_flags, n))
        out.append(value)
        out.append(CRLF)

    # ------------------------------------------------------------------------------------ fast text requests
    # server/mc_connection.pyx runs the requests protocol/memcache.pxd's mc_scan_fast recognises through these,
    # straight from the read buffer: no McRequest, replies written into the connection's McOut. Each has the
    # effects of its execute() path (counters, keyspace hits/misses, keymiss notification, LRU touch, fetched
    # bit, store_set's checks); a key in any state these do not handle takes the general per-key code.

    cdef int get_fast(self, const char* base, McFast* f, McOut* o) except -1:
        """A text `get` of f.nkeys keys (get_many without the list of keys and the Entry views)."""
        cdef McStats st = self.stats
        cdef Keyspace ks = self.ks
        cdef Db db = self.db
        cdef cm_rec* r
        cdef bytes key, piece
        cdef list tmp
        cdef int i
        cdef Py_ssize_t klen, n
        cdef const char* v
        cdef char* w
        for i in range(f.nkeys):
            klen = f.klen[i]
            key = PyBytes_FromStringAndSize(base + f.koff[i], klen)
            if klen != DISCOVERY_KEY_LEN:
                r = db.rec_find(key)
                if r == NULL:                       # read_item's miss
                    st.cmd_get += 1
                    ks.stat_misses += 1
                    if ks.notify_flags:
                        self.key_event("m", b"keymiss", key)
                    st.get_misses += 1
                    continue
                if (r.vslot < 0 or db.vol[r.vslot].expire_at > ks.now_ms) and rec_is_string(r):
                    st.cmd_get += 1                 # read_item's live hit (rec_lookup's hit and touch)
                    ks.stat_hits += 1
                    db.touch(r)
                    st.get_hits += 1
                    r.cas |= BIT_FETCHED
                    if r.flags & CM_BOXED:
                        v = PyBytes_AS_STRING(<object>rec_obj(r))
                        n = PyBytes_GET_SIZE(<object>rec_obj(r))
                    else:
                        v = rec_val(r)
                        n = r.vlen
                    mcout_reserve(o, 6 + klen + 1 + 10 + 1 + 20 + 2 + n + 2)
                    w = o.p + o.n
                    memcpy(w, b"VALUE ", 6)
                    w += 6
                    memcpy(w, base + f.koff[i], klen)
                    w += klen
                    w[0] = 32
                    w += 1
                    w += mcout_udec(w, r.mc_flags)
                    w[0] = 32
                    w += 1
                    w += mcout_udec(w, <unsigned long long>n)
                    w[0] = 13
                    w[1] = 10
                    w += 2
                    memcpy(w, v, n)
                    w += n
                    w[0] = 13
                    w[1] = 10
                    w += 2
                    o.n = w - o.p
                    continue
            tmp = []
            self.get_one(key, False, tmp)
            for piece in tmp:
                mcout_put(o, PyBytes_AS_STRING(piece), PyBytes_GET_SIZE(piece))
        mcout_put(o, b"END\r\n", 5)
        return 0

    cdef int mg_v_fast(self, const char* base, McFast* f, McOut* o) except -1:
        """`mg <key> v` on a missing key or a live string with no token/stale state (meta_get's answer for
        those: EN, or VA <n> + data). 0 when the key is in another state: nothing was done, the caller hands
        the request to the general parser."""
        cdef McStats st = self.stats
        cdef Keyspace ks = self.ks
        cdef Db db = self.db
        cdef bytes key = PyBytes_FromStringAndSize(base + f.koff[0], f.klen[0])
        cdef cm_rec* r = db.rec_find(key)
        cdef const char* v
        cdef Py_ssize_t n
        cdef char* w
        if r == NULL:
            st.cmd_get += 1
            st.meta_cmds += 1
            ks.stat_misses += 1
            if ks.notify_flags:
                self.key_event("m", b"keymiss", key)
            st.get_misses += 1
            mcout_put(o, b"EN\r\n", 4)
            return 1
        if not ((r.vslot < 0 or db.vol[r.vslot].expire_at > ks.now_ms) and rec_is_string(r)
                and not (r.cas & (BIT_TOKEN | BIT_STALE))):
            return 0
        st.cmd_get += 1
        st.meta_cmds += 1
        st.get_hits += 1
        ks.stat_hits += 1
        db.touch(r)
        r.cas |= BIT_FETCHED
        if r.flags & CM_BOXED:
            v = PyBytes_AS_STRING(<object>rec_obj(r))
            n = PyBytes_GET_SIZE(<object>rec_obj(r))
        else:
            v = rec_val(r)
            n = r.vlen
        mcout_reserve(o, 3 + 20 + 2 + n + 2)
        w = o.p + o.n
        memcpy(w, b"VA ", 3)
        w += 3
        w += mcout_udec(w, <unsigned long long>n)
        w[0] = 13
        w[1] = 10
        w += 2
        memcpy(w, v, n)
        w += n
        w[0] = 13
        w[1] = 10
        w += 2
        o.n = w - o.p
        return 1

    cdef int set_fast(self, const char* base, McFast* f, McOut* o) except -1:
        """A text `set` (execute's C_SET branch)."""
        cdef bytes key = PyBytes_FromStringAndSize(base + f.koff[0], f.klen[0])
        cdef bytes value = PyBytes_FromStringAndSize(base + f.voff, f.vlen)
        self.stats.cmd_set += 1
        if self.out_of_memory():
            if not f.noreply:
                mcout_put(o, PyBytes_AS_STRING(ERR_NO_MEMORY), PyBytes_GET_SIZE(ERR_NO_MEMORY))
            return 0
        self.store_set(key, value, f.flags, f.exptime)
        if not f.noreply:
            mcout_put(o, b"STORED\r\n", 8)
        return 0

    cdef get_and_touch(self, list keys, bint with_cas, long long exptime, list out):
        cdef Entry e
        cdef bytes key, value
        cdef McStats st = self.stats
        for key in keys:
            st.cmd_touch += 1
            st.cmd_get += 1
            e = self.touch(key, exptime)
            if e is None:
                st.get_misses += 1
                continue
            st.get_hits += 1
            e.r.cas |= BIT_FETCHED
            value = <bytes>rec_value(e.r)
            out.append(VALUE_)
            out.append(key)
            if with_cas:
                out.append(b" %d %d %d\r\n" % (e.r.mc_flags, len(value), self.cas_of(e)))
            else:
                out.append(b" %d %d\r\n" % (e.r.mc_flags, len(value)))
            out.append(value)
            out.append(CRLF)
        out.append(END)

    cdef Entry touch(self, bytes key, long long exptime):
        """touch/gat: the item with its new TTL, or None on a miss.  A past TTL returns the item once
        (memcached answers the gat, then the item is gone)."""
        cdef Entry e = self.read_item(key)
        cdef long long at
        if e is None:
            self.stats.touch_misses += 1
            return None
        self.stats.touch_hits += 1
        at = exptime_to_ms(exptime, self.ks.now_ms)
        if at == EXPIRED:
            self.db.delete(key)
            self.emit_delete(key)
        else:
            self.set_ttl(key, e, at)
        return e

    cdef bytes conditional_store(self, object req, int cmd):
        cdef bytes key = <bytes>req.keys[0]
        cdef Entry e = self.write_item(key)
        cdef unsigned long long cas
        if cmd == C_ADD:
            if e is not None:
                e.r.lru = self.ks.lru_clock    # memcached bumps the existing item on a failed add
                return NOT_STORED
        elif cmd == C_REPLACE:
            if e is None:
                return NOT_STORED
        else:
            if e is None:
                self.stats.cas_misses += 1
                return NOT_FOUND
            cas = req.cas_unique
            if e.r.cas & CAS_MASK == 0 or e.r.cas & CAS_MASK != cas:
                self.stats.cas_badval += 1
                return EXISTS
            self.stats.cas_hits += 1
        if self.out_of_memory():
            return ERR_NO_MEMORY
        self.store(key, <bytes>req.value, req.flags, req.exptime)
        return STORED

    cdef bytes concat(self, bytes key, bytes data, bint append):
        cdef Entry e = self.write_item(key)
        if e is None:
            return NOT_STORED
        if self.out_of_memory():
            return ERR_NO_MEMORY
        self.db.rec_assign(e.r, (<bytes>rec_value(e.r) + data) if append else (data + <bytes>rec_value(e.r)))
        e.r.flags |= CM_RAW
        self.new_cas(e)
        self.stats.total_items += 1
        self.emit_store(key, e)
        return STORED

    cpdef drop_item(self, bytes key):
        """Unlink key without a reply (a SET refused as too large, as memcached does)."""
        if self.write_item(key) is not None:
            self.db.delete(key)
            self.emit_delete(key)

    cdef bytes delete(self, bytes key):
        if self.write_item(key) is None:
            self.stats.delete_misses += 1
            return NOT_FOUND
        self.db.delete(key)
        self.emit_delete(key)
        self.stats.delete_hits += 1
        return DELETED

    cdef int arith(self, bytes key, Entry e, unsigned long long delta, bint incr,
                   unsigned long long *result) except -1:
        """memcached do_add_delta on a live item: 0 ok, 1 non-numeric."""
        cdef unsigned long long value = 0
        cdef bytes old = <bytes>rec_value(e.r)
        cdef bytes digits
        cdef Py_ssize_t pad
        if not parse_counter(old, &value):
            return 1
        if incr:
            value += delta                    # 64-bit unsigned wrap, as memcached
            self.stats.incr_hits += 1
        else:
            value = 0 if delta > value else value - delta
            self.stats.decr_hits += 1
        digits = b"%d" % value
        pad = PyBytes_GET_SIZE(old) - PyBytes_GET_SIZE(digits)
        # memcached rewrites the number in place when it fits, padding with spaces
        self.db.rec_assign(e.r, digits + b" " * pad if pad > 0 else digits)
        self.new_cas(e)
        self.emit_store(key, e)
        result[0] = value
        return 0

    cdef bytes text_arith(self, bytes key, unsigned long long delta, bint incr):
        cdef Entry e = self.write_item(key)
        cdef unsigned long long result = 0
        if e is None:
            if incr:
                self.stats.incr_misses += 1
            else:
                self.stats.decr_misses += 1
            return NOT_FOUND
        if self.arith(key, e, delta, incr, &result):
            return ERR_NON_NUMERIC
        return b"%d\r\n" % result

    cdef flush_all(self, long long delay):
        self.stats.cmd_flush += 1
        if self.flush_timer is not None:
            self.flush_timer.cancel()
            self.flush_timer = None
        if delay > 0:
            # memcached invalidates everything stored up to that moment: a timer does the same
            self.flush_timer = asyncio.get_event_loop().call_later(delay, self.flush_now)
            return
        self.flush_now()

    def flush_now(self):
        """flush_all: database 0 is emptied (FLUSHDB), since memcached items live there."""
        self.flush_timer = None
        self.ks.update_clock()
        self.db.clear()
        self.ks.dirty += 1
        watch = self.server.extensions.get("watch") if self.server is not None else None
        if watch is not None and watch.watchers:
            watch.touch_db(0)
        tracking = self.server.extensions.get("tracking") if self.server is not None else None
        if tracking is not None:
            tracking.flushed(None)
        self.ks.effects.emit(0, [b"FLUSHDB"])

    # ------------------------------------------------------------------------------------ meta verbs
    cdef meta_get(self, object req, list out):
        cdef bytes key = <bytes>req.keys[0]
        cdef dict mfast = req.meta_flags
        cdef cm_rec* rf
        cdef bytes vf
        if len(mfast) == 1 and "v" in mfast:
            # `mg <key> v` on a live persistent string that holds no token and is not stale: the reply is
            # `VA <n>\r\n<data>\r\n` whatever the item's flags, CAS and TTL, so none of them is computed.
            # The same effects as below: cmd_get/meta_cmds/get_hits, keyspace hit, LRU touch, fetched bit.
            rf = self.db.rec_find(key)
            if rf != NULL and rf.vslot < 0 and rec_is_string(rf) and not (rf.cas & (BIT_TOKEN | BIT_STALE)):
                self.stats.cmd_get += 1
                self.stats.meta_cmds += 1
                self.stats.get_hits += 1
                self.ks.stat_hits += 1
                self.db.touch(rf)
                rf.cas |= BIT_FETCHED
                vf = <bytes>rec_value(rf)
                out.append(b"VA %d\r\n" % PyBytes_GET_SIZE(vf))
                out.append(vf)
                out.append(CRLF)
                return
        cdef Entry pre = self.db.find(key)
        cdef Entry e
        cdef dict mf = req.meta_flags
        cdef bint won = False, token_sent, stale, fetched
        cdef unsigned int la = 0
        cdef long long recache
        cdef McStats st = self.stats
        st.cmd_get += 1
        st.meta_cmds += 1
        if pre is not None and pre.r.lru <= self.ks.lru_clock:
            la = self.ks.lru_clock - pre.r.lru
        e = self.read_item(key)
        if e is None:
            st.get_misses += 1
            if req.vivify:
                # N: a miss creates an empty item and this client wins the right to fill it
                e = self.store(key, b"", 0, req.autoviv_exptime)
                if e is not None:
                    e.r.cas |= BIT_TOKEN
                    out.append(mc.write_mg_hit(req, b"", 0, self.cas_of(e), ttl_seconds(e, self.ks.now_ms),
                                               0, False, True, False, False))
                    return
            if not req.noreply:
                out.append(mc.write_mg_miss(req))
            return
        st.get_hits += 1
        if req.has_ttl:
            st.cmd_touch += 1
            st.touch_hits += 1
            self.set_ttl(key, e, exptime_to_ms(req.exptime, self.ks.now_ms))
        token_sent = (e.r.cas & BIT_TOKEN) != 0
        stale = (e.r.cas & BIT_STALE) != 0
        fetched = (e.r.cas & BIT_FETCHED) != 0
        if not token_sent:
            recache = req.recache_time
            if stale:
                won = True
            elif "R" in mf and entry_expire_at(e) >= 0 and ttl_seconds(e, self.ks.now_ms) < recache:
                won = True
            if won:
                e.r.cas |= BIT_TOKEN
        if "u" not in mf:
            e.r.cas |= BIT_FETCHED
        out.append(mc.write_mg_hit(req, <bytes>rec_value(e.r), e.r.mc_flags, self.cas_of(e),
                                   ttl_seconds(e, self.ks.now_ms), la, fetched, won, stale, token_sent))

    cdef meta_set(self, object req, list out):
        cdef bytes key = <bytes>req.keys[0]
        cdef Entry e = self.write_item(key)
        cdef str mode = req.mode or "S"
        cdef bytes value = <bytes>req.value
        cdef bint mark_stale = False
        cdef unsigned long long cas
        self.stats.cmd_set += 1
        self.stats.meta_cmds += 1
        if req.has_cas:
            cas = req.cas_unique
            if e is None:
                self.stats.cas_misses += 1
                out.append(mc.write_ms_result(req, NF))
                return
            if e.r.cas & CAS_MASK != cas:
                if "I" in req.meta_flags and cas < (e.r.cas & CAS_MASK):
                    mark_stale = True      # I: an older CAS may still store, as a stale item
                else:
                    self.stats.cas_badval += 1
                    out.append(mc.write_ms_result(req, EX))
                    return
            self.stats.cas_hits += 1
        if (mode == "E" and e is not None) or (mode == "R" and e is None):
            out.append(mc.write_ms_result(req, NS))
            return
        if self.out_of_memory():
            out.append(ERR_NO_MEMORY)
            return
        if mode == "A" or mode == "P":
            if e is None:
                out.append(mc.write_ms_result(req, NS))     # 1.6.18 does not autovivify here (N is ignored)
                return
            else:
                self.db.rec_assign(e.r, (<bytes>rec_value(e.r) + value) if mode == "A" else (value + <bytes>rec_value(e.r)))
                e.r.flags |= CM_RAW
                self.new_cas(e)
                self.stats.total_items += 1
                self.emit_store(key, e)
        else:
            e = self.store(key, value, req.flags, req.exptime if req.has_ttl else 0)
        if e is not None and mark_stale:
            e.r.cas |= BIT_STALE
        out.append(mc.write_ms_result(req, HD, (e.r.cas & CAS_MASK) if e is not None else 0))

    cdef meta_delete(self, object req, list out):
        cdef bytes key = <bytes>req.keys[0]
        cdef Entry e = self.write_item(key)
        cdef unsigned long long cas
        cdef long long at
        self.stats.meta_cmds += 1
        if e is None:
            self.stats.delete_misses += 1
            out.append(mc.write_md_result(req, NF))
            return
        if req.has_cas:
            cas = req.cas_unique
            if e.r.cas & CAS_MASK != cas:
                out.append(mc.write_md_result(req, EX))
                return
        self.stats.delete_hits += 1
        if "I" in req.meta_flags:
            # I: invalidate instead of deleting: the item turns stale and the next mg wins a recache
            e.r.cas = BIT_STALE | (e.r.cas & BIT_FETCHED)
            self.new_cas_keep_bits(e)
            if req.has_ttl:
                at = exptime_to_ms(req.exptime, self.ks.now_ms)
                if at == EXPIRED:
                    self.db.delete(key)
                    self.emit_delete(key)
                    out.append(mc.write_md_result(req, HD))
                    return
                self.set_ttl(key, e, at)
            self.emit_meta_only(key, e)
        else:
            self.db.delete(key)
            self.emit_delete(key)
        out.append(mc.write_md_result(req, HD))

    cdef void new_cas_keep_bits(self, Entry e):
        e.r.cas = (e.r.cas & ~CAS_MASK) | self.ks.next_cas
        self.ks.next_cas += 1

    cdef meta_arith(self, object req, list out):
        cdef bytes key = <bytes>req.keys[0]
        cdef Entry e = self.write_item(key)
        cdef str mode = req.mode or "I"
        cdef bint incr = mode == "I" or mode == "+"
        cdef unsigned long long result = 0, cas
        cdef long long at
        self.stats.meta_cmds += 1
        if e is None:
            if incr:
                self.stats.incr_misses += 1
            else:
                self.stats.decr_misses += 1
            if req.vivify:
                result = req.initial
                e = self.store(key, b"%d" % result, 0, req.autoviv_exptime)
                if e is not None:
                    out.append(mc.write_ma_result(req, HD, result, self.cas_of(e), ttl_seconds(e, self.ks.now_ms)))
                    return
            out.append(mc.write_ma_result(req, NF))
            return
        if req.has_cas:
            cas = req.cas_unique
            if e.r.cas & CAS_MASK != cas:
                out.append(mc.write_ma_result(req, EX))
                return
        if self.arith(key, e, req.delta, incr, &result):
            out.append(ERR_NON_NUMERIC)
            return
        if req.has_ttl:
            at = exptime_to_ms(req.exptime, self.ks.now_ms)
            if at != EXPIRED:
                self.set_ttl(key, e, at)
        out.append(mc.write_ma_result(req, HD, result, self.cas_of(e), ttl_seconds(e, self.ks.now_ms)))

    cdef meta_debug(self, object req, list out):
        cdef bytes key = <bytes>req.keys[0]
        cdef Entry e = self.db.find(key)
        cdef unsigned int la = 0
        cdef long long exp
        cdef bytes value
        if e is not None and e.r.lru <= self.ks.lru_clock:
            la = self.ks.lru_clock - e.r.lru
        e = self.write_item(key)      # me does not count as a fetch or bump the item
        if e is None:
            out.append(mc.EN)
            return
        value = <bytes>rec_value(e.r)
        # memcached 1.6.18 prints current_time - exptime: the remaining TTL negated
        exp = -1 if entry_expire_at(e) < 0 else -ttl_seconds(e, self.ks.now_ms)
        size = item_size(len(key), e.r.mc_flags, len(value))
        out.append(mc.write_me(key, req.key_binary, exp, la, self.cas_of(e), (e.r.cas & BIT_FETCHED) != 0,
                               slab_class(size), size))


    # ------------------------------------------------------------------------------------ binary protocol
    cdef int execute_binary(self, object req, list out) except -1:
        """Run one valid binary request (protocol/memcache_bin.pyx BinRequest) with memcached 1.6.18's
        proto_bin.c semantics; the glue handles QUIT, STAT and SASL.  Quiet requests append nothing on
        success, except GET/GETK hits (memcached's write_bin_response)."""
        cdef BinRequest breq = <BinRequest>req
        cdef int op = breq.cmd
        cdef int opcode = breq.opcode
        cdef unsigned int opaque = breq.opaque
        cdef bint quiet = breq.quiet
        cdef bytes key = breq.key
        cdef unsigned long long cas = breq.cas
        cdef unsigned long long result = 0
        cdef Entry e
        cdef bytes value, reply
        cdef McStats st = self.stats
        cdef long long delay
        if op == 0x00 or op == 0x0c:                   # GET, GETK (+Q)
            st.cmd_get += 1
            e = self.read_item(key)
            if e is None:
                st.get_misses += 1
                if not quiet:
                    if op == 0x0c:
                        out.append(mb.header(opcode, mb.ST_KEY_ENOENT, opaque, 0, 0, len(key), len(key)) + key)
                    else:
                        out.append(mb.error(opcode, opaque, mb.ST_KEY_ENOENT))
                return 0
            st.get_hits += 1
            e.r.cas |= BIT_FETCHED
            value = <bytes>rec_value(e.r)
            if op == 0x0c:
                out.append(mb_flags_header(opcode, opaque, self.cas_of(e), e.r.mc_flags, len(key), len(value)))
                out.append(key)
            else:
                out.append(mb_flags_header(opcode, opaque, self.cas_of(e), e.r.mc_flags, 0, len(value)))
            out.append(value)
        elif op == 0x1c or op == 0x1d or op == 0x23:   # TOUCH, GAT, GATK (+Q)
            st.cmd_touch += 1
            e = self.touch(key, <long long>breq.exptime)
            if e is None:
                if not quiet:
                    if op == 0x23:
                        out.append(mb.header(opcode, mb.ST_KEY_ENOENT, opaque, 0, 0, len(key), len(key)) + key)
                    else:
                        out.append(mb.error(opcode, opaque, mb.ST_KEY_ENOENT))
                return 0
            e.r.cas |= BIT_FETCHED
            if op == 0x1c:
                if not quiet:
                    out.append(mb.response(opcode, opaque, self.cas_of(e), mb.be32(e.r.mc_flags)))
            else:
                out.append(mb.response(opcode, opaque, self.cas_of(e), mb.be32(e.r.mc_flags),
                                       key if op == 0x23 else b"", <bytes>rec_value(e.r)))
        elif op == 0x01 or op == 0x02 or op == 0x03:   # SET, ADD, REPLACE (+Q); a CAS id makes any of them a cas
            st.cmd_set += 1
            e = self.write_item(key)
            if cas != 0:
                if e is None:
                    st.cas_misses += 1
                    out.append(mb.error(opcode, opaque, mb.ST_KEY_ENOENT))
                    return 0
                if e.r.cas & CAS_MASK == 0 or e.r.cas & CAS_MASK != cas:
                    st.cas_badval += 1
                    out.append(mb.error(opcode, opaque, mb.ST_KEY_EEXISTS))
                    return 0
                st.cas_hits += 1
            elif op == 0x02 and e is not None:
                e.r.lru = self.ks.lru_clock
                out.append(mb.error(opcode, opaque, mb.ST_KEY_EEXISTS))
                return 0
            elif op == 0x03 and e is None:
                out.append(mb.error(opcode, opaque, mb.ST_KEY_ENOENT))
                return 0
            if self.out_of_memory():
                out.append(mb.error(opcode, opaque, mb.ST_ENOMEM))
                return 0
            e = self.store(key, <bytes>breq.value, breq.flags, <long long>breq.exptime)
            if e is None:
                result = self.ks.next_cas        # stored already expired: memcached still gives it an id
                self.ks.next_cas += 1
            else:
                result = e.r.cas & CAS_MASK
            if not quiet:
                out.append(mb_header(opcode, 0, opaque, result, 0, 0, 0))
        elif op == 0x0e or op == 0x0f:                 # APPEND, PREPEND (+Q)
            st.cmd_set += 1
            e = self.write_item(key)
            if e is None:
                out.append(mb.error(opcode, opaque, mb.ST_NOT_STORED))
                return 0
            if cas != 0 and e.r.cas & CAS_MASK != cas:
                out.append(mb.error(opcode, opaque, mb.ST_KEY_EEXISTS))
                return 0
            reply = self.concat(key, <bytes>breq.value, op == 0x0e)
            if reply != STORED:
                out.append(mb.error(opcode, opaque, mb.ST_ENOMEM))
                return 0
            if not quiet:
                out.append(mb.header(opcode, 0, opaque, self.ks.next_cas - 1, 0, 0, 0))
        elif op == 0x04:                               # DELETE (+Q)
            e = self.write_item(key)
            if e is None:
                st.delete_misses += 1
                out.append(mb.error(opcode, opaque, mb.ST_KEY_ENOENT))
                return 0
            if cas != 0 and cas != e.r.cas & CAS_MASK:
                out.append(mb.error(opcode, opaque, mb.ST_KEY_EEXISTS))
                return 0
            st.delete_hits += 1
            self.db.delete(key)
            self.emit_delete(key)
            if not quiet:
                out.append(mb.header(opcode, 0, opaque, 0, 0, 0, 0))
        elif op == 0x05 or op == 0x06:                 # INCREMENT, DECREMENT (+Q)
            e = self.write_item(key)
            if e is None:
                if breq.exptime == 0xffffffff:
                    if op == 0x05:
                        st.incr_misses += 1
                    else:
                        st.decr_misses += 1
                    out.append(mb.error(opcode, opaque, mb.ST_KEY_ENOENT))
                    return 0
                # a miss creates the item with the initial value (memcached stores it as an add)
                result = breq.initial
                e = self.store(key, b"%d" % result, 0, <long long>breq.exptime)
                if e is None:
                    cas = self.ks.next_cas       # stored already expired: memcached still gives it an id
                    self.ks.next_cas += 1
                else:
                    cas = e.r.cas & CAS_MASK
                if not quiet:
                    out.append(mb.response(opcode, opaque, cas, b"", b"", mb.be64(result)))
                return 0
            # memcached do_add_delta: an empty value is non-numeric before the CAS is compared
            if cas != 0 and cas != e.r.cas & CAS_MASK and PyBytes_GET_SIZE(<bytes>rec_value(e.r)) > 0:
                out.append(mb.error(opcode, opaque, mb.ST_KEY_EEXISTS))
                return 0
            if self.arith(key, e, breq.delta, op == 0x05, &result):
                out.append(mb.error(opcode, opaque, mb.ST_DELTA_BADVAL))
                return 0
            if not quiet:
                out.append(mb.response(opcode, opaque, e.r.cas & CAS_MASK, b"", b"", mb.be64(result)))
        elif op == 0x08:                               # FLUSH (+Q)
            delay = 0
            if breq.has_exptime and breq.exptime > 0:
                delay = <long long>breq.exptime
                if delay > RELATIVE_MAX:
                    delay = delay - self.ks.now_ms // 1000
                    if delay < 0:
                        delay = 0
            self.flush_all(delay)
            if not quiet:
                out.append(mb.header(opcode, 0, opaque, 0, 0, 0, 0))
        elif op == 0x0a:                               # NOOP
            out.append(mb.header(opcode, 0, opaque, 0, 0, 0, 0))
        elif op == 0x0b:                               # VERSION
            out.append(mb.response(opcode, opaque, 0, b"", b"", MC_VERSION))
        elif op == 0x10:                               # STAT
            out.append(self.server.memcached_binary_stats(self, key, opcode, opaque))
        else:
            out.append(mb.error(opcode, opaque, mb.ST_UNKNOWN_COMMAND))
        return 0


def item_size(Py_ssize_t nkey, unsigned int flags, Py_ssize_t nbytes):
    """memcached's item_make_header + header: 48-byte item, 8-byte CAS, key + NUL, flags, data + CRLF."""
    return 48 + 8 + nkey + 1 + (4 if flags else 0) + nbytes + 2


def slab_class(Py_ssize_t size):
    """The slab class memcached -f 1.25 -n 48 would store an item of this total size in."""
    cdef double chunk = 96
    cdef int cls = 1
    cdef long long c = 96
    while c < size and cls < 63:
        chunk = chunk * 1.25
        c = <long long>chunk
        if c % 8:
            c += 8 - c % 8
        chunk = c
        cls += 1
    return cls


cdef bytes admin_reply(McEngine engine, object req):
    # slabs/lru/lru_crawler/extstore need memcached's allocator; the harmless ones acknowledge
    cdef bytes name = req.name
    if name == b"cache_memlimit":
        return engine.server.memcached_cache_memlimit(engine, req.args[0] if req.args else b"")
    if name == b"watch":
        return OK
    if name == b"refresh_certs":
        return b"Error TLS not enabled\r\n"
    return mc.ERR_ERROR


def engine_for(server):
    """The server's McEngine (created on first use, kept in server.extensions["memcached"])."""
    eng = server.extensions.get("memcached")
    if eng is None:
        eng = server.extensions["memcached"] = McEngine(server)
    return eng


def run_requests(McEngine engine, list requests):
    """Execute already parsed valid requests and return the joined replies (tests, tools)."""
    cdef list out = []
    for req in requests:
        engine.execute(req, out)
    return b"".join(out)
