"""memcached `stats` replies (general, settings, items, slabs, reset, detail, conns) built from McEngine's
counters and the keyspace, with the fields memcached_exporter reads (compat-facts A7): every value numeric
except the ones memcached itself prints as words, rusage as sec.usec, lru_crawler yes/no."""
import os
import resource
import time

from protocol import memcache as mc

DEFAULT_LIMIT = 64 * 1024 * 1024     # memcached -m 64


def _limit(engine):
    cfg = engine.server.config
    try:
        return cfg.effective_maxmemory() or DEFAULT_LIMIT
    except AttributeError:
        return engine.ks.maxmemory or DEFAULT_LIMIT


def _rusage(seconds):
    return "%d.%06d" % (int(seconds), int(round((seconds - int(seconds)) * 1e6)) % 1000000)


def general_stats(engine):
    s = engine.stats
    ks = engine.ks
    db = engine.db
    server = engine.server
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return [
        ("pid", os.getpid()), ("uptime", server.uptime()), ("time", int(time.time())),
        ("version", mc_version()), ("libevent", "uvloop"), ("pointer_size", 64),
        ("rusage_user", _rusage(ru.ru_utime)), ("rusage_system", _rusage(ru.ru_stime)),
        ("max_connections", server.config["maxclients"]), ("curr_connections", s.curr_connections),
        ("total_connections", s.total_connections), ("rejected_connections", s.rejected_connections),
        ("connection_structures", s.curr_connections), ("response_obj_oom", 0), ("response_obj_count", 1),
        ("response_obj_bytes", 65536), ("read_buf_oom", 0), ("reserved_fds", 20),
        ("cmd_get", s.cmd_get), ("cmd_set", s.cmd_set), ("cmd_flush", s.cmd_flush), ("cmd_touch", s.cmd_touch),
        ("cmd_meta", s.meta_cmds), ("get_hits", s.get_hits), ("get_misses", s.get_misses),
        ("get_expired", s.get_expired), ("get_flushed", s.get_flushed),
        ("delete_misses", s.delete_misses), ("delete_hits", s.delete_hits),
        ("incr_misses", s.incr_misses), ("incr_hits", s.incr_hits),
        ("decr_misses", s.decr_misses), ("decr_hits", s.decr_hits),
        ("cas_misses", s.cas_misses), ("cas_hits", s.cas_hits), ("cas_badval", s.cas_badval),
        ("touch_hits", s.touch_hits), ("touch_misses", s.touch_misses),
        ("store_too_large", s.store_too_large), ("store_no_memory", s.store_no_memory),
        ("auth_cmds", _auth_stat("auth_cmds")), ("auth_errors", _auth_stat("auth_errors")),
        ("bytes_read", s.bytes_read), ("bytes_written", s.bytes_written), ("limit_maxbytes", _limit(engine)),
        ("accepting_conns", 1), ("listen_disabled_num", 0), ("time_in_listen_disabled_us", 0),
        ("threads", 1), ("conn_yields", 0), ("hash_power_level", 16), ("hash_bytes", 524288),
        ("hash_is_expanding", 0), ("slab_reassign_rescues", 0), ("slab_reassign_chunk_rescues", 0),
        ("slab_reassign_evictions_nomem", 0), ("slab_reassign_inline_reclaim", 0),
        ("slab_reassign_busy_items", 0), ("slab_reassign_busy_deletes", 0), ("slab_reassign_running", 0),
        ("slabs_moved", 0), ("lru_crawler_running", 0), ("lru_crawler_starts", 0),
        ("lru_maintainer_juggles", 0), ("malloc_fails", 0), ("log_worker_dropped", 0),
        ("log_worker_written", 0), ("log_watcher_skipped", 0), ("log_watcher_sent", 0),
        ("log_watchers", 0), ("unexpected_napi_ids", 0), ("round_robin_fallback", 0),
        ("bytes", db.used_memory), ("curr_items", db.size()), ("total_items", s.total_items),
        ("slab_global_page_pool", 0), ("expired_unfetched", 0), ("evicted_unfetched", 0),
        ("evicted_active", 0), ("evictions", ks.stat_evicted), ("reclaimed", ks.stat_expired),
        ("crawler_reclaimed", 0), ("crawler_items_checked", 0), ("lrutail_reflocked", 0),
        ("moves_to_cold", 0), ("moves_to_warm", 0), ("moves_within_lru", 0), ("direct_reclaims", 0),
        ("lru_bumps_dropped", 0),
    ]


def _interface(cfg):
    """memcached's `inter`: the -l address list as given (NULL when listening everywhere)."""
    try:
        addrs = cfg.memcached_bind() if hasattr(cfg, "memcached_bind") else None
    except Exception:
        addrs = None
    if addrs is None:
        addrs = cfg["memcached-bind"] or cfg["bind"]
    addrs = [a.lstrip("-") for a in (addrs or []) if a]
    return ",".join(addrs) if addrs else "NULL"


def settings_stats(engine):
    cfg = engine.server.config
    ks = engine.ks
    return [
        ("maxbytes", _limit(engine)), ("maxconns", cfg["maxclients"]), ("tcpport", cfg["memcached-port"]),
        ("udpport", 0), ("inter", _interface(cfg)), ("verbosity", 0), ("oldest", 0),
        ("evictions", "off" if ks.policy == 0 and ks.maxmemory else "on"),
        ("domain_socket", "NULL"), ("umask", 700), ("shutdown_command", "no"), ("growth_factor", "1.25"),
        ("chunk_size", 48), ("num_threads", 1), ("num_threads_per_udp", 1), ("stat_key_prefix", ":"),
        ("detail_enabled", "no"), ("reqs_per_event", 20), ("cas_enabled", "yes"),
        ("tcp_backlog", cfg["tcp-backlog"]), ("binding_protocol", binding_protocol(cfg)),
        ("auth_enabled_sasl", "yes" if cfg["memcached-sasl"] else "no"),
        ("auth_enabled_ascii", "yes" if cfg["memcached-authfile"] else "no"), ("item_size_max", cfg["memcached-max-item-size"]),
        ("maxconns_fast", "yes"), ("hashpower_init", 0), ("slab_reassign", "yes"), ("slab_automove", 1),
        ("slab_automove_ratio", "0.80"), ("slab_automove_window", 30), ("slab_chunk_max", 524288),
        ("lru_crawler", "yes"), ("lru_crawler_sleep", 100), ("lru_crawler_tocrawl", 0),
        ("tail_repair_time", 0), ("flush_enabled", "yes"), ("dump_enabled", "yes"), ("hash_algorithm", "murmur3"),
        ("lru_maintainer_thread", "yes"), ("lru_segmented", "yes"), ("hot_lru_pct", 20), ("warm_lru_pct", 40),
        ("hot_max_factor", "0.20"), ("warm_max_factor", "2.00"), ("temp_lru", "no"), ("temporary_ttl", 61),
        ("idle_timeout", 0), ("watcher_logbuf_size", 262144), ("worker_logbuf_size", 65536),
        ("read_buf_mem_limit", 0), ("track_sizes", "no"), ("inline_ascii_response", "no"),
        ("ext_item_size", 512), ("ext_item_age", 4294967295), ("ext_low_ttl", 0), ("ext_recache_rate", 2000),
        ("ext_wbuf_size", 4194304), ("ext_compact_under", 0), ("ext_drop_under", 0), ("ext_max_sleep", 1000000),
        ("ext_max_frag", "0.80"), ("slab_automove_freeratio", "0.010"), ("ext_drop_unread", "no"),
        ("ssl_enabled", "no"), ("ssl_chain_cert", "(null)"), ("ssl_key", "(null)"), ("ssl_verify_mode", 0),
        ("ssl_keyformat", 1), ("ssl_ciphers", "NULL"), ("ssl_ca_cert", "NULL"), ("ssl_wbuf_size", 16384),
        ("ssl_session_cache", "no"), ("ssl_kernel_tls", "no"), ("ssl_min_version", "tlsv1.2"),
        ("num_napi_ids", "(null)"), ("memory_file", "(null)"),
    ]


SLAB_PAGE = 1024 * 1024
SLAB_CHUNK_MAX = 524288
MAX_SLAB_CLASSES = 64                # memcached MAX_NUMBER_OF_SLAB_CLASSES


def _class_sizes():
    """memcached slabs_init with -n 48 -f 1.25 and slab_chunk_max 512 KiB: {class id: chunk size}."""
    sizes = {}
    size, i = 96, 0
    while i < MAX_SLAB_CLASSES - 2:
        i += 1
        if size >= SLAB_CHUNK_MAX / 1.25:
            break
        if size % 8:
            size += 8 - size % 8
        sizes[i] = size
        size = int(size * 1.25)
    sizes[i] = SLAB_CHUNK_MAX
    return sizes


CLASS_SIZES = _class_sizes()
LARGEST_CLASS = max(CLASS_SIZES)


def slab_of(total):
    """memcached slabs_clsid: the first class whose chunks hold `total` bytes (chunked items: the largest)."""
    for cls in sorted(CLASS_SIZES):
        if total <= CLASS_SIZES[cls]:
            return cls
    return LARGEST_CLASS


def _items_by_class(engine):
    """{class: [(key, entry, total size)]} for the string items of db 0 (what memcached can serve)."""
    from engine.memcache_ops import item_size
    out = {}
    for key, e in engine.db.items():
        v = e.value
        if not isinstance(v, bytes):
            continue
        total = item_size(len(key), e.mc_flags, len(v))
        out.setdefault(slab_of(total), []).append((key, e, total))
    return out


def _counters_class(by_class):
    """Per-class hit counters are not kept: they are reported on the class holding the most items."""
    return max(by_class, key=lambda cls: (len(by_class[cls]), -cls)) if by_class else None


def items_stats(engine):
    by_class = _items_by_class(engine)
    ks = engine.ks
    counters = _counters_class(by_class)
    rows = []
    for cls in sorted(by_class):
        items = by_class[cls]
        n = len(items)
        oldest = min(e.lru for _, e, _ in items)
        lfu = "lfu" in str(engine.server.config["maxmemory-policy"])
        age = (ks.lru_clock - oldest) & 0xFFFFFF if not lfu else 0
        mine = cls == counters
        rows += [("items:%d:%s" % (cls, name), value) for name, value in (
            ("number", n), ("number_hot", 0), ("number_warm", 0), ("number_cold", n), ("age_hot", 0),
            ("age_warm", 0), ("age", age), ("mem_requested", sum(t for _, _, t in items)),
            ("evicted", ks.stat_evicted if mine else 0), ("evicted_nonzero", 0), ("evicted_time", 0),
            ("outofmemory", engine.stats.store_no_memory if mine else 0), ("tailrepairs", 0),
            ("reclaimed", ks.stat_expired if mine else 0), ("expired_unfetched", 0), ("evicted_unfetched", 0),
            ("evicted_active", 0), ("crawler_reclaimed", 0), ("crawler_items_checked", 0),
            ("lrutail_reflocked", 0), ("moves_to_cold", n), ("moves_to_warm", 0), ("moves_within_lru", 0),
            ("direct_reclaims", 0), ("hits_to_hot", 0), ("hits_to_warm", 0),
            ("hits_to_cold", engine.stats.get_hits if mine else 0), ("hits_to_temp", 0))]
    return rows


def slabs_stats(engine):
    """memcached's per-class rows, from each item's total size (the keyspace has no slab allocator: pages
    are the fewest that hold the class's chunks)."""
    by_class = _items_by_class(engine)
    s = engine.stats
    counters = _counters_class(by_class)
    rows = []
    malloced = 0
    for cls in sorted(by_class):
        size = CLASS_SIZES[cls]
        per_page = SLAB_PAGE // size
        used = sum(-(-t // size) if t > size else 1 for _, _, t in by_class[cls])
        pages = -(-used // per_page)
        malloced += pages * SLAB_PAGE
        mine = cls == counters
        rows += [("%d:%s" % (cls, name), value) for name, value in (
            ("chunk_size", size), ("chunks_per_page", per_page), ("total_pages", pages),
            ("total_chunks", pages * per_page), ("used_chunks", used), ("free_chunks", pages * per_page - used),
            ("free_chunks_end", 0), ("get_hits", s.get_hits if mine else 0), ("cmd_set", s.cmd_set if mine else 0),
            ("delete_hits", s.delete_hits if mine else 0), ("incr_hits", s.incr_hits if mine else 0),
            ("decr_hits", s.decr_hits if mine else 0), ("cas_hits", s.cas_hits if mine else 0),
            ("cas_badval", s.cas_badval if mine else 0), ("touch_hits", s.touch_hits if mine else 0))]
    return rows + [("active_slabs", len(by_class)), ("total_malloced", malloced)]


def _strtoul(raw):
    """memcached safe_strtoul: decimal digits (a leading '-' only for 0), within uint32."""
    text = raw.decode("latin-1")
    if not text or not text.strip().lstrip("+").isdigit():
        return None
    value = int(text)
    return value if value < 1 << 32 else None


def cachedump(engine, args):
    """stats cachedump <class> <limit> (memcached item_cachedump): most recently used first, limit 0 = all,
    at most 2 MB of lines."""
    if len(args) < 3:
        return b"CLIENT_ERROR bad command line\r\n"
    cls, limit = _strtoul(args[1]), _strtoul(args[2])
    if cls is None or limit is None:
        return b"CLIENT_ERROR bad command line format\r\n"
    if cls >= MAX_SLAB_CLASSES:
        return b"CLIENT_ERROR Illegal slab id\r\n"
    items = _items_by_class(engine).get(cls, [])
    items.sort(key=lambda item: -item[1].lru)
    out = []
    size = 0
    for key, e, _ in items:
        if limit and len(out) >= limit:
            break
        exp = e.expire_at
        line = b"ITEM %s [%d b; %d s]\r\n" % (key, len(e.value), exp // 1000 if exp >= 0 else 0)
        if size + len(line) + 6 > 2 * 1024 * 1024:
            break
        out.append(line)
        size += len(line)
    return b"".join(out) + b"END\r\n"


def cache_memlimit(engine, raw):
    """cache_memlimit <MB> (memcached process_memlimit_command): the memory limit, as memcached -m."""
    mb = _strtoul(raw)
    if mb is None:
        return b"ERROR\r\n"
    if mb < 8:
        return b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"
    if mb > 1000000000:
        return b"MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n"
    engine.server.config.set_many([(b"memcached-memory", b"%d" % mb)])
    return b"OK\r\n"


def mc_version():
    from engine.memcache_ops import MC_VERSION
    return MC_VERSION.decode()


def reset(engine):
    """stats reset: zero the counters that memcached resets (connections and totals stay)."""
    from engine.memcache_ops import McStats
    old = engine.stats
    fresh = McStats()
    fresh.curr_connections = old.curr_connections
    fresh.total_connections = old.total_connections
    engine.stats = fresh


def stats_reply(engine, args):
    """The full reply bytes for `stats [args]`."""
    if not args:
        return mc.write_stats(general_stats(engine))
    sub = args[0]
    if sub == b"settings":
        return mc.write_stats(settings_stats(engine))
    if sub == b"items":
        return mc.write_stats(items_stats(engine))
    if sub == b"slabs":
        return mc.write_stats(slabs_stats(engine))
    if sub == b"sizes":
        return b"STAT sizes_status disabled\r\nEND\r\n"
    if sub == b"cachedump":
        return cachedump(engine, args)
    if sub in (b"conns", b"extstore"):
        return mc.END
    if sub == b"reset":
        reset(engine)
        return mc.RESET
    if sub == b"detail":
        if len(args) > 1 and args[1] in (b"on", b"off"):
            return mc.OK
        if len(args) > 1 and args[1] == b"dump":
            return mc.END
        return b"CLIENT_ERROR usage: stats detail on|off|dump\r\n"
    return mc.ERR_ERROR


def _auth_stat(name):
    from server.mc_auth import STATS
    return STATS[name]


def binary_stats(engine, group, opcode, opaque):
    """The binary protocol's STAT (memcached process_bin_stat): the same groups as the text `stats`, one
    packet per value and an empty packet at the end; group names are matched as memcached does (prefix
    strncmp for reset/settings/detail, exact for items/slabs/sizes); any other group is "Not found"."""
    from protocol import memcache_bin as mb
    if not group:
        return mb.stats_packets(opcode, opaque, general_stats(engine))
    if group.startswith(b"reset"):
        reset(engine)
        return mb.stats_packets(opcode, opaque, ())
    if group.startswith(b"settings"):
        return mb.stats_packets(opcode, opaque, settings_stats(engine))
    if group.startswith(b"detail"):
        sub = group[6:]
        if sub.startswith(b" dump"):
            return mb.stats_packets(opcode, opaque, [("detailed", b"END\r\n")])
        if sub.startswith(b" on") or sub.startswith(b" off"):
            return mb.stats_packets(opcode, opaque, ())
        return mb.error(opcode, opaque, mb.ST_KEY_ENOENT)
    if group == b"items":
        return mb.stats_packets(opcode, opaque, items_stats(engine))
    if group == b"slabs":
        return mb.stats_packets(opcode, opaque, slabs_stats(engine))
    if group == b"sizes":
        return mb.stats_packets(opcode, opaque, [("sizes_status", "disabled")])
    return mb.error(opcode, opaque, mb.ST_KEY_ENOENT)


def binding_protocol(cfg):
    """memcached -B as `stats settings` prints it (SASL implies binary)."""
    if cfg["memcached-sasl"]:
        return "binary"
    return {"auto": "auto-negotiate"}.get(cfg["memcached-protocol"], cfg["memcached-protocol"])
