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


def settings_stats(engine):
    cfg = engine.server.config
    ks = engine.ks
    return [
        ("maxbytes", _limit(engine)), ("maxconns", cfg["maxclients"]), ("tcpport", cfg["memcached-port"]),
        ("udpport", 0), ("inter", "NULL"), ("verbosity", 0), ("oldest", 0),
        ("evictions", "off" if ks.policy == 0 and ks.maxmemory else "on"),
        ("domain_socket", "NULL"), ("umask", 700), ("shutdown_command", "no"), ("growth_factor", "1.25"),
        ("chunk_size", 48), ("num_threads", 1), ("num_threads_per_udp", 1), ("stat_key_prefix", ":"),
        ("detail_enabled", "no"), ("reqs_per_event", 20), ("cas_enabled", "yes"),
        ("tcp_backlog", cfg["tcp-backlog"]), ("binding_protocol", "ascii"), ("auth_enabled_sasl", "no"),
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
        ("ssl_enabled", "no"), ("ssl_session_cache", "no"), ("ssl_kernel_tls", "no"),
        ("num_napi_ids", "(null)"), ("memory_file", "(null)"),
    ]


def items_stats(engine):
    n = engine.db.size()
    if not n:
        return []
    ks = engine.ks
    return [("items:1:%s" % name, value) for name, value in (
        ("number", n), ("number_hot", 0), ("number_warm", 0), ("number_cold", n), ("age_hot", 0),
        ("age_warm", 0), ("age", 0), ("mem_requested", engine.db.used_memory), ("evicted", ks.stat_evicted),
        ("evicted_nonzero", 0), ("evicted_time", 0), ("outofmemory", engine.stats.store_no_memory),
        ("tailrepairs", 0), ("reclaimed", ks.stat_expired), ("expired_unfetched", 0), ("evicted_unfetched", 0),
        ("evicted_active", 0), ("crawler_reclaimed", 0), ("crawler_items_checked", 0), ("lrutail_reflocked", 0),
        ("moves_to_cold", 0), ("moves_to_warm", 0), ("moves_within_lru", 0), ("direct_reclaims", 0),
        ("hits_to_hot", 0), ("hits_to_warm", 0), ("hits_to_cold", engine.stats.get_hits), ("hits_to_temp", 0))]


def slabs_stats(engine):
    """One synthetic slab class holding every item (the keyspace has no slab allocator)."""
    n = engine.db.size()
    s = engine.stats
    rows = []
    if n:
        rows = [("1:%s" % name, value) for name, value in (
            ("chunk_size", 96), ("chunks_per_page", 10922), ("total_pages", n // 10922 + 1),
            ("total_chunks", (n // 10922 + 1) * 10922), ("used_chunks", n),
            ("free_chunks", (n // 10922 + 1) * 10922 - n), ("free_chunks_end", 0), ("get_hits", s.get_hits),
            ("cmd_set", s.cmd_set), ("delete_hits", s.delete_hits), ("incr_hits", s.incr_hits),
            ("decr_hits", s.decr_hits), ("cas_hits", s.cas_hits), ("cas_badval", s.cas_badval),
            ("touch_hits", s.touch_hits))]
    return rows + [("active_slabs", 1 if n else 0), ("total_malloced", engine.db.used_memory)]


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
