# cython: language_level=3, boundscheck=False, wraparound=False
"""The memcached side of the server: McConnection (uvloop callbacks around protocol/memcache.pyx) and the
execution of every memcached verb against database 0 of the shared keyspace.

A memcached item is a Redis string: its flags and CAS id live in the key's Entry (mc_flags, cas; cas 0 means
"not assigned yet" and is assigned from Keyspace.next_cas when a client asks for it, and every memcached
store assigns a fresh one, so a Redis write in between makes a later `cas` fail as it must). TTLs are the
key's expire_at, so Redis TTL shows them. Every write emits deterministic effects (SET ... PXAT / DEL, then
`_MCMETA key flags cas` when flags or CAS must be carried) for AOF and replicas.
"""
import asyncio
import os
import resource
import time

from engine.core cimport Client, Keyspace, Db, Entry
from engine.core import type_name
from protocol.resp import parse_ll
from protocol import memcache as mc

cdef bytes END = b"END\r\n"
cdef long long RELATIVE_MAX = 60 * 60 * 24 * 30      # memcached REALTIME_MAXDELTA
cdef unsigned long long U64_MASK = 0xFFFFFFFFFFFFFFFF

MC_VERSION = b"1.6.18"


cdef class McStats:
    """memcached's own counters (stats)."""
    cdef public long long cmd_get, get_hits, get_misses, get_expired, cmd_set, cmd_touch, cmd_flush
    cdef public long long delete_hits, delete_misses, incr_hits, incr_misses, decr_hits, decr_misses
    cdef public long long cas_hits, cas_misses, cas_badval, touch_hits, touch_misses, total_items
    cdef public long long curr_connections, total_connections, bytes_read, bytes_written, rejected


cdef inline long long exptime_to_ms(long long exptime, long long now_ms):
    """memcached TTL rules -> absolute ms; 0 = no expiry, -1 = already expired."""
    if exptime == 0:
        return 0
    if exptime < 0:
        return -1
    if exptime > RELATIVE_MAX:
        if exptime * 1000 <= now_ms:
            return -1
        return exptime * 1000
    return now_ms + exptime * 1000


cdef class McEngine:
    """Executes parsed memcached requests against db 0; shared by all memcached connections."""
    cdef public object server
    cdef public Keyspace ks
    cdef public Db db
    cdef public McStats stats
    cdef public long long flush_at_ms

    def __init__(self, server):
        self.server = server
        self.ks = server.ks
        self.db = server.ks.dbs[0]
        self.stats = McStats()
        self.flush_at_ms = 0

    cdef Entry live(self, bytes key):
        cdef Entry e = self.db.lookup_read(key)
        if e is None or type(e.value) is not bytes:
            return None
        return e

    cdef unsigned long long cas_of(self, Entry e):
        if e.cas == 0:
            e.cas = self.ks.next_cas
            self.ks.next_cas += 1
        return e.cas

    cdef emit_store(self, bytes key, Entry e):
        """Effects of a memcached store: the value (with its absolute expiry) and its metadata."""
        cdef list argv = [b"SET", key, <bytes>e.value]
        if e.expire_at >= 0:
            argv += [b"PXAT", b"%d" % e.expire_at]
        self.ks.effects.emit(0, argv)
        self.ks.effects.emit(0, [b"_MCMETA", key, b"%d" % e.mc_flags, b"%d" % e.cas])
        self.ks.dirty += 1
        self.db.account(key, e)
        self.ks.stat_commands += 1

    cdef store(self, bytes key, bytes value, unsigned int flags, long long exptime):
        """Write an item (set semantics) and return its Entry, or None when the TTL was already past."""
        cdef long long at = exptime_to_ms(exptime, self.ks.now_ms)
        cdef Entry e
        if at == -1:
            if self.db.delete(key):
                self.ks.effects.emit(0, [b"DEL", key])
                self.ks.dirty += 1
            return None
        e = self.db.set_value(key, value, at if at > 0 else -1, False)
        e.mc_flags = flags
        e.cas = self.ks.next_cas
        self.ks.next_cas += 1
        self.stats.total_items += 1
        self.emit_store(key, e)
        return e

    cdef bint over_memory(self):
        cdef Keyspace ks = self.ks
        if ks.maxmemory > 0 and ks.used_memory > ks.maxmemory:
            return ks.perform_evictions() == 2
        return False

    cpdef execute(self, req, list out):
        cdef int cmd = req.command
        cdef Entry e
        cdef bytes key
        if cmd == mc.MC_GET or cmd == mc.MC_GETS:
            self.get_many(req.keys, cmd == mc.MC_GETS, out, None)
        elif cmd == mc.MC_SET or cmd == mc.MC_ADD or cmd == mc.MC_REPLACE or cmd == mc.MC_CAS:
            self.stats.cmd_set += 1
            reply = self.storage(req, cmd)
            if not req.noreply:
                out.append(reply)
        elif cmd == mc.MC_APPEND or cmd == mc.MC_PREPEND:
            self.stats.cmd_set += 1
            reply = self.concat(req, cmd == mc.MC_APPEND)
            if not req.noreply:
                out.append(reply)
        elif cmd == mc.MC_DELETE:
            key = req.keys[0]
            if self.live(key) is not None:
                self.db.delete(key)
                self.ks.effects.emit(0, [b"DEL", key])
                self.ks.dirty += 1
                self.stats.delete_hits += 1
                reply = mc.DELETED
            else:
                self.stats.delete_misses += 1
                reply = mc.NOT_FOUND
            if not req.noreply:
                out.append(reply)
        elif cmd == mc.MC_INCR or cmd == mc.MC_DECR:
            reply = self.arith(req.keys[0], req.delta, cmd == mc.MC_INCR)
            if not req.noreply:
                out.append(reply)
        elif cmd == mc.MC_TOUCH:
            self.stats.cmd_touch += 1
            reply = mc.TOUCHED if self.touch(req.keys[0], req.exptime) else mc.NOT_FOUND
            if not req.noreply:
                out.append(reply)
        elif cmd == mc.MC_GAT or cmd == mc.MC_GATS:
            self.stats.cmd_touch += 1
            self.get_many(req.keys, cmd == mc.MC_GATS, out, req.exptime)
        elif cmd == mc.MC_FLUSH_ALL:
            self.flush(req.delay)
            if not req.noreply:
                out.append(mc.OK)
        elif cmd == mc.MC_VERSION:
            out.append(mc.write_version(MC_VERSION))
        elif cmd == mc.MC_VERBOSITY:
            if not req.noreply:
                out.append(mc.OK)
        elif cmd == mc.MC_STATS:
            out.append(self.stats_reply(req.args))
        elif cmd == mc.MC_SHUTDOWN:
            out.append(mc.ERR_SHUTDOWN_DISABLED)
        elif cmd == mc.MC_MN:
            out.append(mc.MN)
        elif cmd == mc.MC_MG:
            self.meta_get(req, out)
        elif cmd == mc.MC_MS:
            self.meta_set(req, out)
        elif cmd == mc.MC_MD:
            self.meta_delete(req, out)
        elif cmd == mc.MC_MA:
            self.meta_arith(req, out)
        elif cmd == mc.MC_ME:
            self.meta_debug(req, out)
        elif cmd == mc.MC_ADMIN:
            name = req.name
            if name in (b"cache_memlimit", b"watch"):
                out.append(mc.OK)
            elif name == b"refresh_certs":
                out.append(b"Error TLS not enabled\r\n")
            else:
                out.append(mc.ERR_ERROR)
        else:
            out.append(mc.ERR_ERROR)

    cdef get_many(self, list keys, bint with_cas, list out, object touch_exptime):
        cdef Entry e
        cdef bytes key
        for key in keys:
            self.stats.cmd_get += 1
            if touch_exptime is not None:
                self.touch(key, touch_exptime)
            e = self.live(key)
            if e is None:
                self.stats.get_misses += 1
                continue
            self.stats.get_hits += 1
            value = <bytes>e.value
            out.append(b"VALUE ")
            out.append(key)
            if with_cas:
                out.append(b" %d %d %d\r\n" % (e.mc_flags, len(value), self.cas_of(e)))
            elif e.mc_flags == 0:
                out.append(b" 0 %d\r\n" % len(value))
            else:
                out.append(b" %d %d\r\n" % (e.mc_flags, len(value)))
            out.append(value)
            out.append(b"\r\n")
        out.append(END)

    cdef bytes storage(self, req, int cmd):
        cdef bytes key = req.keys[0]
        cdef Entry e = self.live(key)
        if cmd == mc.MC_ADD and e is not None:
            return mc.NOT_STORED
        if cmd == mc.MC_REPLACE and e is None:
            return mc.NOT_STORED
        if cmd == mc.MC_CAS:
            if e is None:
                self.stats.cas_misses += 1
                return mc.NOT_FOUND
            if e.cas == 0 or e.cas != <unsigned long long>req.cas_unique:
                self.stats.cas_badval += 1
                return mc.EXISTS
            self.stats.cas_hits += 1
        if self.over_memory():
            return b"SERVER_ERROR out of memory storing object\r\n"
        self.store(key, req.value, req.flags, req.exptime)
        return mc.STORED

    cdef bytes concat(self, req, bint append):
        cdef bytes key = req.keys[0]
        cdef Entry e = self.live(key)
        if e is None:
            return mc.NOT_STORED
        e.value = (<bytes>e.value + req.value) if append else (req.value + <bytes>e.value)
        e.cas = self.ks.next_cas
        self.ks.next_cas += 1
        e.raw = 1
        self.emit_store(key, e)
        return mc.STORED

    cdef bytes arith(self, bytes key, delta, bint incr):
        cdef Entry e = self.live(key)
        cdef bytes old, new
        if e is None:
            if incr:
                self.stats.incr_misses += 1
            else:
                self.stats.decr_misses += 1
            return mc.NOT_FOUND
        old = <bytes>e.value
        stripped = old.rstrip(b" ")
        if not stripped.isdigit() or len(stripped) > 20 or int(stripped) > U64_MASK:
            return mc.ERR_NON_NUMERIC
        value = int(stripped)
        if incr:
            value = (value + delta) & U64_MASK
            self.stats.incr_hits += 1
        else:
            value = value - delta if value > delta else 0
            self.stats.decr_hits += 1
        new = b"%d" % value
        if len(new) < len(old) and not incr:
            new = new + b" " * (len(old) - len(new))     # memcached rewrites in place, padding with spaces
        e.value = new
        e.cas = self.ks.next_cas
        self.ks.next_cas += 1
        self.emit_store(key, e)
        return b"%d\r\n" % value

    cdef bint touch(self, bytes key, long long exptime):
        cdef Entry e = self.live(key)
        cdef long long at
        if e is None:
            self.stats.touch_misses += 1
            return False
        self.stats.touch_hits += 1
        at = exptime_to_ms(exptime, self.ks.now_ms)
        if at == -1:
            self.db.delete(key)
            self.ks.effects.emit(0, [b"DEL", key])
        elif at == 0:
            self.db.remove_expire(key, e)
            self.ks.effects.emit(0, [b"PERSIST", key])
        else:
            self.db.set_expire(key, e, at)
            self.ks.effects.emit(0, [b"PEXPIREAT", key, b"%d" % at])
        self.ks.dirty += 1
        return True

    cdef flush(self, delay):
        self.stats.cmd_flush += 1
        if delay and delay > 0:
            loop = asyncio.get_event_loop()
            loop.call_later(delay, self.flush, 0)
            return
        self.db.clear()
        self.ks.effects.emit(0, [b"FLUSHDB"])
        self.ks.dirty += 1

    # ----------------------------------------------------------------------------------------- meta
    cdef long long ttl_left(self, Entry e):
        if e.expire_at < 0:
            return -1
        return max(0, (e.expire_at - self.ks.now_ms + 999) // 1000)

    cdef meta_get(self, req, list out):
        cdef bytes key = req.keys[0]
        cdef Entry e
        flags = req.meta_flags
        self.stats.cmd_get += 1
        e = self.live(key)
        if e is None:
            self.stats.get_misses += 1
            if req.vivify:
                # N: create an empty placeholder the caller wins the right to fill
                e = self.store(key, b"", 0, req.autoviv_exptime)
                if e is not None:
                    out.append(mc.write_mg_hit(req, b"", 0, self.cas_of(e), self.ttl_left(e), 0, False, True))
                    return
            out.append(mc.write_mg_miss(req))
            return
        self.stats.get_hits += 1
        if req.has_ttl:
            self.touch(key, req.exptime)
        out.append(mc.write_mg_hit(req, <bytes>e.value, e.mc_flags, self.cas_of(e), self.ttl_left(e)))

    cdef meta_set(self, req, list out):
        cdef bytes key = req.keys[0]
        cdef Entry e = self.live(key)
        mode = req.mode or "S"
        self.stats.cmd_set += 1
        if req.has_cas:
            if e is None:
                out.append(mc.write_ms_result(req, b"NF"))
                return
            if e.cas != <unsigned long long>req.cas_unique:
                out.append(mc.write_ms_result(req, b"EX"))
                return
        if mode == "E" and e is not None:
            out.append(mc.write_ms_result(req, b"NS"))
            return
        if mode == "R" and e is None:
            out.append(mc.write_ms_result(req, b"NS"))
            return
        if mode in ("A", "P"):
            if e is None:
                out.append(mc.write_ms_result(req, b"NS"))
                return
            e.value = (<bytes>e.value + req.value) if mode == "A" else (req.value + <bytes>e.value)
            e.cas = self.ks.next_cas
            self.ks.next_cas += 1
            self.emit_store(key, e)
            out.append(mc.write_ms_result(req, b"HD", e.cas))
            return
        e = self.store(key, req.value, req.flags, req.exptime if req.has_ttl else 0)
        out.append(mc.write_ms_result(req, b"HD", e.cas if e is not None else 0))

    cdef meta_delete(self, req, list out):
        cdef bytes key = req.keys[0]
        cdef Entry e = self.live(key)
        if e is None:
            self.stats.delete_misses += 1
            out.append(mc.write_md_result(req, b"NF"))
            return
        if req.has_cas and e.cas != <unsigned long long>req.cas_unique:
            out.append(mc.write_md_result(req, b"EX"))
            return
        self.db.delete(key)
        self.ks.effects.emit(0, [b"DEL", key])
        self.ks.dirty += 1
        self.stats.delete_hits += 1
        out.append(mc.write_md_result(req, b"HD"))

    cdef meta_arith(self, req, list out):
        cdef bytes key = req.keys[0]
        cdef Entry e = self.live(key)
        incr = (req.mode or "I") in ("I", "+")
        if e is None:
            if req.vivify:
                e = self.store(key, b"%d" % req.initial, 0, req.autoviv_exptime)
                out.append(mc.write_ma_result(req, b"HD", req.initial, self.cas_of(e), self.ttl_left(e)))
                return
            out.append(mc.write_ma_result(req, b"NF"))
            return
        reply = self.arith(key, req.delta, incr)
        if reply == mc.ERR_NON_NUMERIC:
            out.append(reply)
            return
        e = self.live(key)
        out.append(mc.write_ma_result(req, b"HD", int(reply[:-2]), self.cas_of(e), self.ttl_left(e)))

    cdef meta_debug(self, req, list out):
        cdef bytes key = req.keys[0]
        cdef Entry e = self.live(key)
        if e is None:
            out.append(mc.EN)
            return
        exp = -1 if e.expire_at < 0 else max(0, (e.expire_at - self.ks.now_ms) // 1000)
        out.append(mc.write_me(key, req.key_binary, exp, 0, self.cas_of(e), True, 1, len(<bytes>e.value)))

    # ----------------------------------------------------------------------------------------- stats
    def general_stats(self):
        s = self.stats
        ru = resource.getrusage(resource.RUSAGE_SELF)
        server = self.server
        ks = self.ks
        limit = ks.maxmemory or 64 * 1024 * 1024
        return [
            ("pid", os.getpid()), ("uptime", server.uptime()), ("time", int(time.time())),
            ("version", MC_VERSION.decode()), ("libevent", "uvloop"), ("pointer_size", 64),
            ("rusage_user", "%.6f" % ru.ru_utime), ("rusage_system", "%.6f" % ru.ru_stime),
            ("max_connections", server.config["maxclients"]), ("curr_connections", s.curr_connections),
            ("total_connections", s.total_connections), ("rejected_connections", s.rejected),
            ("connection_structures", s.curr_connections), ("cmd_get", s.cmd_get), ("cmd_set", s.cmd_set),
            ("cmd_flush", s.cmd_flush), ("cmd_touch", s.cmd_touch), ("get_hits", s.get_hits),
            ("get_misses", s.get_misses), ("get_expired", s.get_expired), ("get_flushed", 0),
            ("delete_misses", s.delete_misses), ("delete_hits", s.delete_hits), ("incr_misses", s.incr_misses),
            ("incr_hits", s.incr_hits), ("decr_misses", s.decr_misses), ("decr_hits", s.decr_hits),
            ("cas_misses", s.cas_misses), ("cas_hits", s.cas_hits), ("cas_badval", s.cas_badval),
            ("touch_hits", s.touch_hits), ("touch_misses", s.touch_misses), ("store_too_large", 0),
            ("store_no_memory", 0), ("auth_cmds", 0), ("auth_errors", 0), ("bytes_read", s.bytes_read),
            ("bytes_written", s.bytes_written), ("limit_maxbytes", limit), ("accepting_conns", 1),
            ("listen_disabled_num", 0), ("threads", 1), ("conn_yields", 0), ("hash_power_level", 16),
            ("hash_bytes", 524288), ("hash_is_expanding", 0), ("expired_unfetched", 0), ("evicted_unfetched", 0),
            ("evicted_active", 0), ("evictions", ks.stat_evicted), ("reclaimed", ks.stat_expired),
            ("bytes", self.db.used_memory), ("curr_items", self.db.size()), ("total_items", s.total_items),
            ("total_malloced", self.db.used_memory),
        ]

    def settings_stats(self):
        cfg = self.server.config
        return [
            ("maxbytes", self.ks.maxmemory or 64 * 1024 * 1024), ("maxconns", cfg["maxclients"]),
            ("tcpport", cfg["memcached-port"]), ("udpport", 0), ("verbosity", 0), ("oldest", 0),
            ("evictions", "off" if self.ks.policy == 0 and self.ks.maxmemory else "on"),
            ("domain_socket", "NULL"), ("umask", 700), ("growth_factor", "1.25"), ("chunk_size", 48),
            ("num_threads", 1), ("num_threads_per_udp", 1), ("stat_key_prefix", ":"), ("detail_enabled", "no"),
            ("reqs_per_event", 20), ("cas_enabled", "yes"), ("tcp_backlog", cfg["tcp-backlog"]),
            ("binding_protocol", "ascii"), ("auth_enabled_sasl", "no"), ("auth_enabled_ascii", "no"),
            ("item_size_max", cfg["memcached-max-item-size"]), ("maxconns_fast", "yes"),
            ("hashpower_init", 0), ("slab_reassign", "yes"), ("slab_automove", 1), ("lru_crawler", "yes"),
            ("lru_maintainer_thread", "yes"), ("hot_lru_pct", 20), ("warm_lru_pct", 40), ("idle_timeout", 0),
            ("flush_enabled", "yes"), ("ssl_enabled", "no"),
        ]

    def stats_reply(self, list args):
        if not args:
            return mc.write_stats(self.general_stats())
        sub = args[0]
        if sub == b"settings":
            return mc.write_stats(self.settings_stats())
        if sub == b"items":
            n = self.db.size()
            return mc.write_stats([] if not n else [
                ("items:1:number", n), ("items:1:age", 0), ("items:1:evicted", self.ks.stat_evicted),
                ("items:1:evicted_time", 0), ("items:1:outofmemory", 0), ("items:1:reclaimed", self.ks.stat_expired),
                ("items:1:expired_unfetched", 0), ("items:1:evicted_unfetched", 0)])
        if sub == b"slabs":
            n = self.db.size()
            rows = [] if not n else [("1:chunk_size", 96), ("1:chunks_per_page", 10922), ("1:total_pages", 1),
                                     ("1:total_chunks", n), ("1:used_chunks", n), ("1:free_chunks", 0),
                                     ("1:get_hits", self.stats.get_hits), ("1:cmd_set", self.stats.cmd_set)]
            return mc.write_stats(rows + [("active_slabs", 1 if n else 0), ("total_malloced", self.db.used_memory)])
        if sub == b"reset":
            self.stats = McStats()
            return mc.RESET
        if sub == b"detail":
            if len(args) > 1 and args[1] in (b"on", b"off"):
                return mc.OK
            if len(args) > 1 and args[1] == b"dump":
                return END
            return b"CLIENT_ERROR usage: stats detail on|off|dump\r\n"
        if sub == b"conns":
            return END
        return mc.ERR_ERROR


def engine_for(server):
    eng = server.extensions.get("memcached")
    if eng is None:
        eng = server.extensions["memcached"] = McEngine(server)
    return eng


cdef class McConnection:
    cdef public object transport
    cdef public object parser
    cdef public McEngine engine
    cdef public object server
    cdef public bint closing

    def __init__(self, server):
        self.server = server
        self.engine = engine_for(server)
        self.parser = mc.McParser(server.config["memcached-max-item-size"])
        self.closing = False

    def connection_made(self, transport):
        self.transport = transport
        stats = self.engine.stats
        if stats.curr_connections >= self.server.config["maxclients"]:
            stats.rejected += 1
            transport.write(b"SERVER_ERROR Too many open connections\r\n")
            transport.close()
            self.closing = True
            return
        stats.curr_connections += 1
        stats.total_connections += 1

    def connection_lost(self, exc):
        if not self.closing or self.transport is not None:
            self.engine.stats.curr_connections -= 1
        self.closing = True

    def data_received(self, data):
        cdef list out = []
        cdef McEngine engine = self.engine
        if self.closing:
            return
        engine.stats.bytes_read += len(data)
        engine.ks.update_clock()
        self.parser.feed(data)
        while True:
            req = self.parser.next_request()
            if req is None:
                break
            if req.error is not None or req.close:
                if req.error is not None and not req.noreply:
                    out.append(req.error)
                if req.close:
                    self._write(out)
                    self._close()
                    return
                continue
            if req.command == mc.MC_QUIT:
                self._write(out)
                self._close()
                return
            engine.execute(req, out)
        if self.parser.closed:
            self._write(out)
            self._close()
            return
        self._write(out)

    cdef _write(self, list out):
        cdef bytes data
        if out:
            data = b"".join(out)
            self.engine.stats.bytes_written += len(data)
            self.transport.write(data)

    cdef _close(self):
        if not self.closing:
            self.closing = True
            self.engine.stats.curr_connections -= 1
            self.transport.close()

    def eof_received(self):
        return False


class McProtocol(McConnection, asyncio.Protocol):
    pass
