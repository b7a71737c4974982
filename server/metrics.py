"""Prometheus text exposition (format 0.0.4) of the server's state, for /metrics on metrics-port.

Names follow redis_exporter (redis_*) and memcached_exporter (memcached_*) where those exist, so existing
dashboards and alerts work unchanged, and prometheus-client's conventions (``_total`` counters, base units:
seconds and bytes) for Cachemere's own. The redis side reads the same INFO fields a scrape of INFO would,
through info.render, so /metrics and INFO never disagree (a section another part replaces through
``Server.info_sections``, replication for one, is what both show). Other parts add families with
``add_collector(server, fn)``: ``fn(server)`` returns ``[(name, type, help, [(labels, value)...])...]``
(the services' queue/stream/workflow gauges plug in that way).
"""
import math

from server import info

# INFO field -> (metric, type, help), as redis_exporter names them
REDIS_FIELDS = {
    "uptime_in_seconds": ("redis_uptime_in_seconds", "gauge", "Seconds since the server started"),
    "connected_clients": ("redis_connected_clients", "gauge", "Client connections"),
    "blocked_clients": ("redis_blocked_clients", "gauge", "Clients blocked on a blocking command"),
    "maxclients": ("redis_config_maxclients", "gauge", "maxclients setting"),
    "used_memory": ("redis_memory_used_bytes", "gauge", "Bytes used by data and overhead"),
    "used_memory_rss": ("redis_memory_used_rss_bytes", "gauge", "Resident set size"),
    "used_memory_peak": ("redis_memory_used_peak_bytes", "gauge", "Peak used_memory"),
    "used_memory_lua": ("redis_memory_used_lua_bytes", "gauge", "Lua VM memory"),
    "maxmemory": ("redis_memory_max_bytes", "gauge", "maxmemory setting"),
    "mem_fragmentation_ratio": ("redis_mem_fragmentation_ratio", "gauge", "RSS / used memory"),
    "rdb_changes_since_last_save": ("redis_rdb_changes_since_last_save", "gauge", "Writes since the last save"),
    "rdb_last_save_time": ("redis_rdb_last_save_timestamp_seconds", "gauge", "Unix time of the last save"),
    "aof_enabled": ("redis_aof_enabled", "gauge", "appendonly"),
    "total_connections_received": ("redis_connections_received_total", "counter", "Accepted connections"),
    "total_commands_processed": ("redis_commands_processed_total", "counter", "Commands processed"),
    "instantaneous_ops_per_sec": ("redis_instantaneous_ops_per_sec", "gauge", "Commands per second"),
    "total_net_input_bytes": ("redis_net_input_bytes_total", "counter", "Bytes read from clients"),
    "total_net_output_bytes": ("redis_net_output_bytes_total", "counter", "Bytes written to clients"),
    "rejected_connections": ("redis_rejected_connections_total", "counter", "Connections refused (maxclients)"),
    "expired_keys": ("redis_expired_keys_total", "counter", "Keys expired"),
    "evicted_keys": ("redis_evicted_keys_total", "counter", "Keys evicted by maxmemory"),
    "keyspace_hits": ("redis_keyspace_hits_total", "counter", "Successful key lookups"),
    "keyspace_misses": ("redis_keyspace_misses_total", "counter", "Failed key lookups"),
    "pubsub_channels": ("redis_pubsub_channels", "gauge", "Channels with subscribers"),
    "pubsub_patterns": ("redis_pubsub_patterns", "gauge", "Pattern subscriptions"),
    "total_error_replies": ("redis_total_error_replies", "counter", "Error replies sent"),
    "sync_full": ("redis_replica_resyncs_full", "counter", "Full resyncs served"),
    "sync_partial_ok": ("redis_replica_partial_resync_accepted", "counter", "Partial resyncs accepted"),
    "sync_partial_err": ("redis_replica_partial_resync_denied", "counter", "Partial resyncs denied"),
    "connected_slaves": ("redis_connected_slaves", "gauge", "Connected replicas"),
    "master_repl_offset": ("redis_master_repl_offset", "gauge", "Replication offset"),
    "repl_backlog_size": ("redis_repl_backlog_size_bytes", "gauge", "Replication backlog size"),
    "master_last_io_seconds_ago": ("redis_master_last_io_seconds_ago", "gauge", "Seconds since the primary spoke"),
    "slave_repl_offset": ("redis_slave_repl_offset", "gauge", "Offset processed by this replica"),
    "used_cpu_sys": ("redis_cpu_sys_seconds_total", "counter", "System CPU"),
    "used_cpu_user": ("redis_cpu_user_seconds_total", "counter", "User CPU"),
    "used_cpu_sys_children": ("redis_cpu_sys_children_seconds_total", "counter", "System CPU of children"),
    "used_cpu_user_children": ("redis_cpu_user_children_seconds_total", "counter", "User CPU of children"),
}

# memcached stats field -> (metric, type, help), as memcached_exporter names them
MEMCACHED_FIELDS = {
    "uptime": ("memcached_uptime_seconds", "counter", "Seconds since the server started"),
    "curr_connections": ("memcached_current_connections", "gauge", "memcached client connections"),
    "total_connections": ("memcached_connections_total", "counter", "Accepted memcached connections"),
    "curr_items": ("memcached_current_items", "gauge", "Items stored (db 0)"),
    "total_items": ("memcached_items_total", "counter", "Items ever stored"),
    "bytes": ("memcached_current_bytes", "gauge", "Bytes stored (db 0)"),
    "limit_maxbytes": ("memcached_limit_bytes", "gauge", "Storage limit"),
    "bytes_read": ("memcached_read_bytes_total", "counter", "Bytes read from memcached clients"),
    "bytes_written": ("memcached_written_bytes_total", "counter", "Bytes written to memcached clients"),
    "evictions": ("memcached_items_evicted_total", "counter", "Items evicted"),
    "reclaimed": ("memcached_items_reclaimed_total", "counter", "Expired items reused"),
}
MEMCACHED_COMMANDS = [("get", "get_hits", "get_misses"), ("delete", "delete_hits", "delete_misses"),
                      ("incr", "incr_hits", "incr_misses"), ("decr", "decr_hits", "decr_misses"),
                      ("cas", "cas_hits", "cas_misses"), ("touch", "touch_hits", "touch_misses")]

_COLLECTORS = "metrics_collectors"


def add_collector(server, collector):
    server.extensions.setdefault(_COLLECTORS, []).append(collector)


def info_fields(server):
    """Every INFO field of every section, parsed back from the text INFO EVERYTHING sends."""
    fields = {}
    section = None
    for line in info.render(server, ["everything"]).split("\r\n"):
        if line.startswith("# "):
            section = line[2:].lower()
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value
            fields.setdefault("__section__" + section, []).append(key)
    return fields


def _number(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        pass
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _labels(labels):
    if not labels:
        return ""
    escaped = ('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"'))
               for k, v in labels.items())
    return "{" + ",".join(escaped) + "}"


def _format(value):
    if isinstance(value, float):
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if math.isnan(value):
            return "NaN"
        return repr(value)
    return str(value)


def _family(out, name, kind, help_text, samples):
    out.append("# HELP %s %s" % (name, help_text))
    out.append("# TYPE %s %s" % (name, kind))
    for labels, value in samples:
        out.append(name + _labels(labels) + " " + _format(value))


def redis_families(server, fields):
    families = [("redis_up", "gauge", "Whether the server answers", [({}, 1)])]
    families.append(("redis_instance_info", "gauge", "Server identity", [({
        "redis_version": fields.get("redis_version", ""), "redis_mode": fields.get("redis_mode", "standalone"),
        "os": fields.get("os", ""), "role": fields.get("role", "master"), "run_id": fields.get("run_id", ""),
        "tcp_port": fields.get("tcp_port", ""), "process_id": fields.get("process_id", ""),
    }, 1)]))
    for field, (name, kind, help_text) in REDIS_FIELDS.items():
        value = _number(fields.get(field))
        if value is not None:
            families.append((name, kind, help_text, [({}, value)]))
    keys, expiring = [], []
    for key in fields.get("__section__keyspace", []):
        parts = dict(p.split("=", 1) for p in fields[key].split(","))
        keys.append(({"db": key}, int(parts["keys"])))
        expiring.append(({"db": key}, int(parts["expires"])))
    families.append(("redis_db_keys", "gauge", "Keys per database", keys))
    families.append(("redis_db_keys_expiring", "gauge", "Keys with a TTL per database", expiring))
    calls, usec, failed, rejected = [], [], [], []
    for key in fields.get("__section__commandstats", []):
        cmd = key[len("cmdstat_"):]
        parts = dict(p.split("=", 1) for p in fields[key].split(","))
        calls.append(({"cmd": cmd}, int(parts["calls"])))
        usec.append(({"cmd": cmd}, int(parts["usec"]) / 1e6))
        failed.append(({"cmd": cmd}, int(parts.get("failed_calls", 0))))
        rejected.append(({"cmd": cmd}, int(parts.get("rejected_calls", 0))))
    families.append(("redis_commands_total", "counter", "Calls per command", calls))
    families.append(("redis_commands_duration_seconds_total", "counter", "Time spent per command", usec))
    families.append(("redis_commands_failed_calls_total", "counter", "Failed calls per command", failed))
    families.append(("redis_commands_rejected_calls_total", "counter", "Rejected calls per command", rejected))
    errors = [({"err": key[len("errorstat_"):]}, int(fields[key].split("=", 1)[1]))
              for key in fields.get("__section__errorstats", [])]
    families.append(("redis_errors_total", "counter", "Error replies by code", errors))
    return families


def latency_percentile_lines(server, fields):
    """redis_latency_percentiles_usec{cmd,quantile} as redis_exporter builds it from INFO latencystats (a
    summary: quantiles in percent as redis names them, _sum in usec and _count from commandstats)."""
    name = "redis_latency_percentiles_usec"
    out = ["# HELP %s A summary of latency percentile distribution per command" % name,
           "# TYPE %s summary" % name]
    for key in fields.get("__section__latencystats", []):
        cmd = key[len("latency_percentiles_usec_"):]
        for part in fields[key].split(","):
            label, _, value = part.partition("=")
            out.append(name + _labels({"cmd": cmd, "quantile": label[1:]}) + " " + _format(float(value)))
        stats = fields.get("cmdstat_" + cmd)
        if stats:
            parts = dict(p.split("=", 1) for p in stats.split(","))
            out.append(name + "_sum" + _labels({"cmd": cmd}) + " " + _format(float(parts["usec"])))
            out.append(name + "_count" + _labels({"cmd": cmd}) + " " + parts["calls"])
    return out


def latency_families(server):
    """A histogram per command family (COMMAND DOCS group) from the dispatcher's per-command buckets."""
    from engine import registry
    by_group = {}
    for spec in registry.all_specs():
        if not spec.calls:
            continue
        docs = spec.docs or (spec.parent.docs if spec.parent is not None else None) or {}
        group = docs.get("group", "other")
        buckets, total = by_group.setdefault(group, [[0] * len(registry.LATENCY_BUCKETS_US), [0, 0]])
        for i, count in enumerate(spec.latency_histogram()):
            buckets[i] += count
        total[0] += spec.calls
        total[1] += spec.usec
    samples = []
    for group in sorted(by_group):
        buckets, (calls, usec) = by_group[group]
        running = 0
        for bound, count in zip(registry.LATENCY_BUCKETS_US, buckets):
            running += count
            le = "+Inf" if bound is None else _format(bound / 1e6)
            samples.append(("_bucket", {"family": group, "le": le}, running))
        samples.append(("_sum", {"family": group}, usec / 1e6))
        samples.append(("_count", {"family": group}, calls))
    return samples


def memcached_families(server):
    engine = server.extensions.get("memcached")
    if engine is None:
        return []
    from server import mc_stats
    stats = dict(mc_stats.general_stats(engine))
    families = [("memcached_up", "gauge", "Whether the memcached side answers", [({}, 1)]),
                ("memcached_version", "gauge", "memcached version emulated", [({"version": stats["version"]}, 1)])]
    for field, (name, kind, help_text) in MEMCACHED_FIELDS.items():
        value = _number(stats.get(field))
        if value is not None:
            families.append((name, kind, help_text, [({}, value)]))
    commands = []
    for command, hits, misses in MEMCACHED_COMMANDS:
        commands.append(({"command": command, "status": "hit"}, int(stats.get(hits, 0))))
        commands.append(({"command": command, "status": "miss"}, int(stats.get(misses, 0))))
    commands.append(({"command": "set", "status": "hit"}, int(stats.get("cmd_set", 0))))
    commands.append(({"command": "flush", "status": "hit"}, int(stats.get("cmd_flush", 0))))
    families.append(("memcached_commands_total", "counter", "memcached commands by outcome", commands))
    return families


def service_families(server):
    """The services' own families (queue_messages, stream_records_total, workflow_executions...), from
    each service key's metric_samples."""
    from server.dashboard import service_values
    declared = {}
    samples = {}
    for _dbid, key, value in service_values(server):
        declared.update(value.metric_families)
        for name, labels, number in value.metric_samples(key.decode("utf-8", "replace")):
            samples.setdefault(name, []).append((labels, number))
    return [(name, kind, help_text, samples.get(name, [])) for name, (kind, help_text) in sorted(declared.items())]


def render(server):
    """The whole /metrics page."""
    out = []
    fields = info_fields(server)
    for family in redis_families(server, fields):
        _family(out, *family)
    out += latency_percentile_lines(server, fields)
    name = "cachemere_command_duration_seconds"
    out.append("# HELP %s Command latency by command family (COMMAND DOCS group)" % name)
    out.append("# TYPE %s histogram" % name)
    for suffix, labels, value in latency_families(server):
        out.append(name + suffix + _labels(labels) + " " + _format(value))
    for family in memcached_families(server):
        _family(out, *family)
    for family in service_families(server):
        _family(out, *family)
    for collector in server.extensions.get(_COLLECTORS, []):
        for family in collector(server):
            _family(out, *family)
    return "\n".join(out) + "\n"
