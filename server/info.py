"""INFO: sections and fields with redis 7.0's names (compat-facts A4), produced from live server state.

Other parts of the server add or replace sections through ``Server.info_sections`` (name -> callable
returning a list of (field, value) pairs), e.g. persistence and replication.
"""
import os
import platform
import resource
import sys
import time

from server import supervise

DEFAULT_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
                    "errorstats", "cluster", "keyspace"]
ALL_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
                "commandstats", "errorstats", "latencystats", "cluster", "keyspace"]


def human_bytes(n):
    """redis bytesToHuman."""
    n = float(n)
    for unit, size in (("B", 1), ("K", 1024), ("M", 1024 ** 2), ("G", 1024 ** 3), ("T", 1024 ** 4),
                       ("P", 1024 ** 5)):
        if n < size * 1024 or unit == "P":
            return f"{int(n)}B" if unit == "B" else f"{n / size:.2f}{unit}"


def section_server(server):
    cfg = server.config
    from server.server import CACHEMERE_VERSION, REDIS_VERSION
    uptime = server.uptime()
    return [
        ("redis_version", REDIS_VERSION), ("cachemere_version", CACHEMERE_VERSION),
        ("redis_git_sha1", "00000000"), ("redis_git_dirty", "0"), ("redis_build_id", "0"),
        ("redis_mode", "standalone"), ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("arch_bits", "64"), ("monotonic_clock", "POSIX clock_gettime"), ("multiplexing_api", "epoll"),
        ("atomicvar_api", "c11-builtin"), ("gcc_version", "0.0.0"),
        ("python_version", platform.python_version()), ("process_id", os.getpid()),
        ("process_supervised", supervise.supervised_label(cfg)), ("run_id", server.run_id),
        ("tcp_port", cfg["port"] or cfg["tls-port"]),
        ("memcached_port", cfg["memcached-port"]),
        ("server_time_usec", int(time.time() * 1e6)), ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400), ("hz", cfg["hz"]), ("configured_hz", cfg["hz"]),
        ("lru_clock", int(time.time()) & ((1 << 24) - 1)), ("executable", server.executable),
        ("config_file", cfg.config_file or ""), ("io_threads_active", "0"),
    ]


def section_clients(server):
    clients = [conn.client for conn in server.clients.values()]
    blocked = sum(1 for c in clients if c.blocked)
    tr = server.extensions.get("tracking")
    max_in = max((conn.parser.buffered() for conn in server.clients.values()), default=0)
    max_out = max((conn.output_buffer_size() for conn in server.clients.values()), default=0)
    # redis counts listLength(server.clients) - listLength(server.slaves): replicas attached to us are not
    # clients, the link to our primary is one (redis_exporter's redis_connected_clients agrees then)
    repl = server.extensions.get("replication")
    connected = len(clients)
    if repl is not None:
        conns = set(map(id, server.clients.values()))
        connected -= sum(1 for r in repl.replicas if id(getattr(r, "conn", None)) in conns)
        connected += 1 if repl.link_connected() else 0
    return [
        ("connected_clients", connected), ("cluster_connections", 0), ("maxclients", server.config["maxclients"]),
        ("client_recent_max_input_buffer", max_in), ("client_recent_max_output_buffer", max_out),
        ("blocked_clients", blocked),
        ("tracking_clients", len(tr.states) if tr is not None else 0), ("clients_in_timeout_table", blocked),
    ]


def client_memory(server):
    return sum(conn.parser.buffered() + conn.output_buffer_size() for conn in server.clients.values())


def used_memory(server):
    """The keyspace's accounted memory plus client buffers: what maxmemory limits (the interpreter's own
    baseline is reported as used_memory_startup and not counted, as redis does not count its binary)."""
    return server.ks.used_memory + client_memory(server)


def _scripting_memory(server):
    """(Lua VM bytes, cached scripts, their bytes, functions, libraries, library code bytes); before the
    first script the VM does not exist yet and redis's figure for an empty VM stands in (31744)."""
    runner = server.extensions.get("scripting")
    if runner is None:
        return 31744, 0, 0, 0, 0, 0
    scripts, script_bytes = runner.runtime.cache_stats()
    functions = runner.functions
    code_bytes = sum(len(code) for code in functions.codes())
    return (runner.runtime.vm_memory(), scripts, script_bytes, functions.function_count(),
            functions.library_count(), code_bytes)


def section_memory(server):
    used = used_memory(server)
    rss = server.rss_bytes()
    server.peak_memory = max(getattr(server, "peak_memory", 0), used)
    peak = server.peak_memory
    maxmemory = server.config["maxmemory"]
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 0
    startup = getattr(server, "startup_rss", 0)
    clients = client_memory(server)
    dataset = server.ks.used_memory
    vm_eval, scripts, script_bytes, functions, libraries, code_bytes = _scripting_memory(server)
    # one Lua VM serves EVAL and functions here (redis has two): its memory is reported under eval
    vm_functions = 0
    # pymalloc has no jemalloc-style allocated/active/resident split: allocated = active = the accounted
    # memory, resident = RSS, so the allocator ratios carry what mem_fragmentation_* says
    return [
        ("used_memory", used), ("used_memory_human", human_bytes(used)), ("used_memory_rss", rss),
        ("used_memory_rss_human", human_bytes(rss)), ("used_memory_peak", peak),
        ("used_memory_peak_human", human_bytes(peak)),
        ("used_memory_peak_perc", f"{(used * 100.0 / peak) if peak else 100:.2f}%"),
        ("used_memory_overhead", clients), ("used_memory_startup", startup), ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", f"{(dataset * 100.0 / used) if used else 0:.2f}%"),
        ("allocator_allocated", used), ("allocator_active", used), ("allocator_resident", rss),
        ("total_system_memory", total), ("total_system_memory_human", human_bytes(total)),
        ("used_memory_lua", vm_eval), ("used_memory_vm_eval", vm_eval), ("used_memory_lua_human", human_bytes(vm_eval)),
        ("used_memory_scripts_eval", script_bytes), ("number_of_cached_scripts", scripts),
        ("number_of_functions", functions), ("number_of_libraries", libraries),
        ("used_memory_vm_functions", vm_functions), ("used_memory_vm_total", vm_eval + vm_functions),
        ("used_memory_vm_total_human", human_bytes(vm_eval + vm_functions)),
        ("used_memory_functions", code_bytes), ("used_memory_scripts", script_bytes + code_bytes),
        ("used_memory_scripts_human", human_bytes(script_bytes + code_bytes)),
        ("maxmemory", maxmemory), ("maxmemory_human", human_bytes(maxmemory)),
        ("maxmemory_policy", server.config["maxmemory-policy"]),
        ("allocator_frag_ratio", "1.00"), ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", f"{(rss / used) if used else 1:.2f}"), ("allocator_rss_bytes", rss - used),
        ("rss_overhead_ratio", "1.00"), ("rss_overhead_bytes", 0),
        ("mem_fragmentation_ratio", f"{((rss - startup) / used) if used else 1:.2f}"),
        ("mem_fragmentation_bytes", rss - startup - used), ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0), ("mem_total_replication_buffers", 0), ("mem_clients_slaves", 0),
        ("mem_clients_normal", clients), ("mem_cluster_links", 0), ("mem_aof_buffer", 0),
        ("mem_allocator", "pymalloc"), ("active_defrag_running", 0),
    ] + (server.extensions["lazyfree"].info_fields() if "lazyfree" in server.extensions else
         [("lazyfree_pending_objects", 0), ("lazyfreed_objects", 0)])


def section_persistence(server):
    return [
        ("loading", 0), ("async_loading", 0), ("rdb_changes_since_last_save", server.ks.dirty),
        ("rdb_bgsave_in_progress", 0), ("rdb_last_save_time", int(getattr(server, "last_save_time", server.start_time))),
        ("rdb_last_bgsave_status", "ok"), ("rdb_last_bgsave_time_sec", -1), ("rdb_current_bgsave_time_sec", -1),
        ("rdb_saves", 0), ("aof_enabled", 0), ("aof_rewrite_in_progress", 0), ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1), ("aof_current_rewrite_time_sec", -1), ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", 0), ("aof_last_write_status", "ok"),
    ]


def section_stats(server):
    ks = server.ks
    conns = list(server.clients.values())
    net_in = server.stat_net_in + sum(conn.net_in for conn in conns)
    net_out = server.stat_net_out + sum(conn.net_out for conn in conns)
    reads = server.stat_reads + sum(getattr(conn, "reads", 0) for conn in conns)
    writes = server.stat_writes + sum(getattr(conn, "writes", 0) for conn in conns)
    pubsub = server.extensions.get("pubsub")
    tr = server.extensions.get("tracking")
    # redis 7.0.15's fields in its order; what Cachemere has no machinery for (replication links, active
    # defrag, client tracking, io threads, MIGRATE) reads 0, as on a redis where that is unused
    return [
        ("total_connections_received", server.stat_connections), ("total_commands_processed", ks.stat_commands),
        ("instantaneous_ops_per_sec", server.ops_per_sec()), ("total_net_input_bytes", net_in),
        ("total_net_output_bytes", net_out), ("total_net_repl_input_bytes", 0), ("total_net_repl_output_bytes", 0),
        ("instantaneous_input_kbps", "0.00"), ("instantaneous_output_kbps", "0.00"),
        ("instantaneous_input_repl_kbps", "0.00"), ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", server.stat_rejected), ("sync_full", 0), ("sync_partial_ok", 0),
        ("sync_partial_err", 0), ("expired_keys", ks.stat_expired),
        ("expired_stale_perc", f"{server.expire.stale_perc * 100:.2f}"), ("expired_time_cap_reached_count", 0),
        ("expire_cycle_cpu_milliseconds", int(server.stat_expire_cycle_ms)),
        ("evicted_keys", ks.stat_evicted), ("evicted_clients", 0), ("total_eviction_exceeded_time", 0),
        ("current_eviction_exceeded_time", 0), ("keyspace_hits", ks.stat_hits),
        ("keyspace_misses", ks.stat_misses),
        ("pubsub_channels", pubsub.channel_count() if pubsub is not None else 0),
        ("pubsub_patterns", pubsub.pattern_count() if pubsub is not None else 0),
        ("pubsubshard_channels", pubsub.shard_channel_count() if pubsub is not None else 0),
        ("latest_fork_usec", 0), ("total_forks", 0),
        ("migrate_cached_sockets", len(server.extensions["migrate"].sockets) if "migrate" in server.extensions else 0),
        ("slave_expires_tracked_keys", 0), ("active_defrag_hits", 0), ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0), ("active_defrag_key_misses", 0), ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0), ("tracking_total_keys", len(tr.table) if tr is not None else 0),
        ("tracking_total_items", tr.items if tr is not None else 0),
        ("tracking_total_prefixes", tr.prefix_count() if tr is not None else 0), ("unexpected_error_replies", 0),
        ("total_error_replies", server.total_error_replies), ("dump_payload_sanitizations", 0),
        ("total_reads_processed", reads), ("total_writes_processed", writes),
        ("io_threaded_reads_processed", 0), ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0), ("reply_buffer_expands", 0),
        # not in redis 7.0 (they arrived in 7.2): Cachemere's limit disconnections, kept for operators
        ("client_query_buffer_limit_disconnections", server.stat_qbuf_limit_disconnections),
        ("client_output_buffer_limit_disconnections", getattr(server, "stat_obuf_limit_disconnections", 0)),
    ]


def section_replication(server):
    return [
        ("role", "slave" if server.ks.is_replica else "master"), ("connected_slaves", 0),
        ("master_failover_state", "no-failover"), ("master_replid", server.run_id),
        ("master_replid2", "0" * 40), ("master_repl_offset", 0), ("second_repl_offset", -1),
        ("repl_backlog_active", 0), ("repl_backlog_size", server.config["repl-backlog-size"]),
        ("repl_backlog_first_byte_offset", 0), ("repl_backlog_histlen", 0),
    ]


def section_cpu(server):
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        ("used_cpu_sys", f"{me.ru_stime:.6f}"), ("used_cpu_user", f"{me.ru_utime:.6f}"),
        ("used_cpu_sys_children", f"{kids.ru_stime:.6f}"), ("used_cpu_user_children", f"{kids.ru_utime:.6f}"),
        ("used_cpu_sys_main_thread", f"{me.ru_stime:.6f}"), ("used_cpu_user_main_thread", f"{me.ru_utime:.6f}"),
    ]


def section_modules(server):
    return []


def section_commandstats(server):
    from engine import registry
    out = []
    for spec in registry.all_specs():
        if spec.calls or spec.rejected_calls or spec.failed_calls:
            name = spec.name.replace("|", "|")
            per = spec.usec / spec.calls if spec.calls else 0
            out.append((f"cmdstat_{name}", f"calls={spec.calls},usec={spec.usec},usec_per_call={per:.2f},"
                                         f"rejected_calls={spec.rejected_calls},failed_calls={spec.failed_calls}"))
    return out


def section_errorstats(server):
    return [(f"errorstat_{code}", f"count={n}") for code, n in sorted(server.error_stats.items())]


def _percentile_usec(buckets, pct):
    """The value at ``pct`` percent of a power-of-two histogram (bucket i holds calls of at most 2**i usec),
    interpolated linearly inside the bucket that holds the rank (redis reads its HDR histogram the same way,
    with finer buckets)."""
    from engine import registry
    total = sum(buckets)
    rank = max(1.0, pct / 100.0 * total)
    running = 0
    lower = 0
    for bound, count in zip(registry.LATENCY_BUCKETS_US, buckets):
        upper = bound if bound is not None else lower * 2 or 1
        if count and running + count >= rank:
            return lower + (upper - lower) * (rank - running) / count
        running += count
        lower = upper
    return float(lower)


def _trim_double(value):
    text = "%f" % value
    return text.rstrip("0").rstrip(".") if "." in text else text


def section_latencystats(server):
    """latency_percentiles_usec_<cmd>:p50=...,p99=...,p99.9=... per called command (redis 7.0), from the
    per-command duration buckets the dispatcher fills; empty when latency-tracking is off."""
    from engine import registry
    config = server.config
    if not config["latency-tracking"]:
        return []
    percentiles = config["latency-tracking-info-percentiles"]
    out = []
    for spec in registry.all_specs():
        if not spec.calls:
            continue
        buckets = spec.latency_histogram()
        if not sum(buckets):
            continue
        parts = ["p%s=%.3f" % (_trim_double(p), _percentile_usec(buckets, p)) for p in percentiles]
        out.append((f"latency_percentiles_usec_{spec.name}", ",".join(parts)))
    return out


def section_cluster(server):
    return [("cluster_enabled", 0)]


def section_keyspace(server):
    out = []
    now = server.ks.update_clock()
    for db in server.ks.dbs:
        n = db.size()
        if n:
            ttls = [at - now for at in db.volatile_expiries(64)]
            avg = int(sum(t for t in ttls if t > 0) / len(ttls)) if ttls else 0
            out.append((f"db{db.id}", f"keys={n},expires={db.expires_count()},avg_ttl={max(avg, 0)}"))
    return out


SECTIONS = {name: globals()[f"section_{name}"] for name in ALL_SECTIONS}


def render(server, args):
    """The INFO text for the requested section names (lower-case str)."""
    if not args:
        names = list(DEFAULT_SECTIONS)
    else:
        names = []
        for a in args:
            if a in ("all", "everything"):
                names.extend(ALL_SECTIONS)
            elif a == "default":
                names.extend(DEFAULT_SECTIONS)
            else:
                names.append(a)
    seen = set()
    parts = []
    providers = dict(SECTIONS)
    providers.update(server.info_sections)
    for name in names:
        if name in seen or name not in providers:
            continue
        seen.add(name)
        fields = providers[name](server)
        title = "CPU" if name == "cpu" else name.capitalize()
        lines = [f"# {title}"] + [f"{k}:{v}" for k, v in fields]
        parts.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(parts)
