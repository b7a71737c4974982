"""Every directive the config accepts, in exactly one of three lists (tests/security/test_directive_audit.py
loops over server/config.py's table and fails on a directive in none of them):

* ``IMPLEMENTED``: the server does what the directive says (the value names the module that honours it).
* ``REFUSED``: the server cannot honour some values; with such a value it refuses to start with an error
  naming the directive (as redis-server built without TLS refuses tls-port).  Each entry is
  ``(accepted(value, cfg) -> bool, reason)``: the default and any value the server does honour are accepted.
* ``NOOP``: accepted and without effect here, and that is harmless: a no-op in redis too in the situation
  this server is always in (no replicas, no cluster, no jemalloc, no io threads...), or a pure performance
  or cosmetic knob whose every value gives the same observable behaviour.  The value says why.

Lines the directive table does not own (``ExtraDirective``: rename-command, user, loadmodule, module
configs) are refused unless a subsystem registers itself for them in ``HANDLED_EXTRA``.
"""
from __future__ import annotations

import ipaddress

_LOOPBACK_NAMES = {"localhost"}


def _is_loopback(addr: str) -> bool:
    addr = addr.lstrip("-")
    if addr in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


IMPLEMENTED = {
    # listeners and clients
    "port": "server/server.py", "bind": "server/server.py", "tcp-backlog": "server/server.py",
    "maxclients": "server/server.py", "timeout": "server/server.py", "tcp-keepalive": "server/server.py",
    "memcached-port": "server/server.py", "memcached-bind": "server/server.py",
    "memcached-max-item-size": "server/mc_connection.pyx", "memcached-memory": "server/config.py",
    "client-query-buffer-limit": "protocol/resp.pyx", "proto-max-bulk-len": "protocol/resp.pyx",
    "client-output-buffer-limit": "server/pubsub.py (pubsub), replication/manager.py (replica), "
                                  "server/connection.pyx (normal)",
    # TLS (server/tls.py)
    **{f"tls-{n}": "server/tls.py" for n in (
        "port", "cert-file", "key-file", "key-file-pass", "client-cert-file", "client-key-file",
        "client-key-file-pass", "dh-params-file", "ca-cert-file", "ca-cert-dir", "protocols", "ciphers",
        "ciphersuites", "auth-clients", "prefer-server-ciphers", "session-caching", "session-cache-size",
        "session-cache-timeout", "replication")},
    **{f"memcached-{n}": "server/tls.py" for n in (
        "tls", "ssl-chain-cert", "ssl-key", "ssl-ca-cert", "ssl-ciphers", "ssl-verify-mode", "ssl-session-cache")},
    "memcached-authfile": "server/mc_auth.py",
    "memcached-sasl": "server/mc_sasl.py", "memcached-sasl-pwdb": "server/mc_sasl.py",
    "memcached-protocol": "server/mc_connection.pyx",
    "memcached-cluster-nodes": "server/mc_discovery.py",
    # process
    "daemonize": "server/main.py", "pidfile": "server/main.py", "dir": "server/main.py",
    "logfile": "server/log.py", "loglevel": "server/log.py", "databases": "engine/core.pyx",
    "hz": "server/server.py", "activerehashing": "server/server.py", "active-expire-effort": "engine/expire.py",
    "shutdown-on-sigint": "server/server.py", "shutdown-on-sigterm": "server/server.py",
    "oom-score-adj": "server/startup_checks.py", "oom-score-adj-values": "server/startup_checks.py",
    "enable-protected-configs": "server/config.py", "enable-debug-command": "engine/commands/server.py",
    "requirepass": "engine/core.pyx",
    # memory
    "maxmemory": "engine/evict.pxi", "maxmemory-policy": "engine/evict.pxi", "maxmemory-samples": "engine/evict.pxi",
    "maxmemory-eviction-tenacity": "engine/evict.pxi", "lfu-log-factor": "engine/evict.pxi",
    "lfu-decay-time": "engine/evict.pxi",
    # persistence
    "save": "server/persistence.py", "dbfilename": "server/persistence.py", "rdbcompression": "server/persistence.py",
    "rdbchecksum": "server/persistence.py", "stop-writes-on-bgsave-error": "server/persistence.py",
    "appendonly": "server/persistence.py", "appendfilename": "server/persistence.py",
    "appenddirname": "server/persistence.py", "appendfsync": "server/persistence.py",
    "auto-aof-rewrite-percentage": "server/persistence.py", "auto-aof-rewrite-min-size": "server/persistence.py",
    "aof-load-truncated": "server/persistence.py", "aof-use-rdb-preamble": "server/persistence.py",
    "aof-disable-auto-gc": "server/persistence.py", "rdb-key-save-delay": "server/persistence.py",
    # commands and encodings
    "slowlog-log-slower-than": "server/server.py", "slowlog-max-len": "server/server.py",
    "busy-reply-threshold": "engine/scripting/runner.pyx", "notify-keyspace-events": "engine/notify.py",
    "hash-max-listpack-entries": "engine/types/hash.py", "hash-max-listpack-value": "engine/types/hash.py",
    "zset-max-listpack-entries": "engine/types/zset.py", "zset-max-listpack-value": "engine/types/zset.py",
    "set-max-intset-entries": "engine/types/set.py", "list-max-listpack-size": "engine/types/listvalue.py",
    "stream-node-max-entries": "engine/types/stream.pyx", "stream-node-max-bytes": "engine/types/stream.pyx",
    "hll-sparse-max-bytes": "engine/types/hll.pyx", "proc-title-template": "server/config.py (validated)",
    # replication (replication/)
    **{n: "replication/" for n in (
        "replicaof", "min-replicas-to-write", "min-replicas-max-lag", "masterauth", "masteruser", "max-replicas",
        "repl-backlog-size", "repl-backlog-ttl", "repl-ping-replica-period", "repl-timeout", "repl-diskless-sync",
        "replica-announce-ip", "replica-announce-port", "replica-announced", "replica-priority",
        "replica-read-only", "replica-serve-stale-data", "replica-ignore-maxmemory", "shutdown-timeout",
        "repl-diskless-sync-delay", "repl-diskless-sync-max-replicas")},
    # access control (engine/acl.py, server/security.py)
    "aclfile": "server/security.py", "protected-mode": "server/security.py", "acllog-max-len": "engine/acl.py",
    "acl-pubsub-default": "engine/acl.py", "enable-module-command": "engine/commands/acl.py",
    # introspection (server/latency.py, server/tracking.py)
    "latency-monitor-threshold": "server/latency.py", "tracking-table-max-keys": "server/tracking.py",
    # services' HTTP facades
    "stepfunctions-port": "services/workflow/http.py",
    # operations
    "metrics-port": "server/dashboard.py", "metrics-bind": "server/dashboard.py",
    "metrics-auth": "server/dashboard.py",
    "sqs-port": "services/queue/sqs_http.py",
    "kinesis-port": "services/kstream/http.py",
    # cluster mode (cluster/)
    "cluster-enabled": "cluster/__init__.py", "cluster-config-file": "cluster/state.py",
    "cluster-port": "cluster/state.py", "cluster-node-timeout": "cluster/state.py",
    "cluster-require-full-coverage": "cluster/state.py", "cluster-replica-no-failover": "cluster/state.py",
    "cluster-allow-reads-when-down": "cluster/routing.py", "cluster-allow-pubsubshard-when-down": "cluster/routing.py",
    "cluster-allow-replica-migration": "cluster/state.py", "cluster-announce-ip": "cluster/state.py",
    "cluster-announce-hostname": "cluster/state.py", "cluster-preferred-endpoint-type": "cluster/routing.py",
    "cluster-replica-validity-factor": "cluster/state.py", "cluster-announce-bus-port": "cluster/state.py",
    "cluster-announce-port": "cluster/state.py", "cluster-announce-tls-port": "cluster/state.py",
    "cluster-migration-barrier": "cluster/state.py",
}

REFUSED = {
    "tls-cluster": (lambda v, c: not v, "the cluster bus speaks plain TCP only (cluster/bus.py)"),
    "unixsocket": (lambda v, c: not v, "this server listens on TCP only; nothing would listen on the socket"),
    "socket-mark-id": (lambda v, c: v == 0, "SO_MARK on the listening sockets is not supported"),
    "syslog-enabled": (lambda v, c: not v, "logging to syslog is not supported; use logfile"),
    "bind-source-addr": (lambda v, c: not v, "replication links connect from the default source address"),
    "supervised": (lambda v, c: v != "upstart", "upstart's readiness handshake (raise SIGSTOP) is not sent; "
                   "systemd and auto are (server/supervise.py)"),
    "aof-timestamp-enabled": (lambda v, c: not v, "the AOF writer does not write timestamp annotations"),
    "maxmemory-clients": (lambda v, c: v == 0, "client eviction is not built in this server"),
    "activedefrag": (lambda v, c: not v, "no active defragmentation without redis's jemalloc (the config "
                     "validator refuses it as a Debian redis-server does)"),
}

NOOP = {
    # performance / internal-thread knobs: same observable behaviour for every value
    "io-threads": "one event loop serves every client; io threads only spread socket I/O in redis",
    "io-threads-do-reads": "see io-threads", "dynamic-hz": "redis raises hz with many clients; behaviour is the same",
    "lazyfree-lazy-eviction": "redis frees in a background thread; the key is gone either way",
    "lazyfree-lazy-expire": "see lazyfree-lazy-eviction", "lazyfree-lazy-server-del": "see lazyfree-lazy-eviction",
    "lazyfree-lazy-user-del": "see lazyfree-lazy-eviction", "lazyfree-lazy-user-flush": "see lazyfree-lazy-eviction",
    "aof-rewrite-incremental-fsync": "fsync granularity while rewriting; the result is fsynced before use",
    "rdb-save-incremental-fsync": "fsync granularity while saving; the file is fsynced before the rename",
    "no-appendfsync-on-rewrite": "yes lets redis skip fsyncs during a rewrite; fsyncing anyway is never less safe",
    "jemalloc-bg-thread": "no jemalloc (Debian's redis-server accepts it without jemalloc too)",
    "active-defrag-cycle-min": "tunes activedefrag, which is refused", "active-defrag-cycle-max": "see above",
    "active-defrag-threshold-lower": "see above", "active-defrag-threshold-upper": "see above",
    "active-defrag-ignore-bytes": "see above", "active-defrag-max-scan-fields": "see above",
    "list-compress-depth": "quicklist node compression: memory only, same replies",
    "server_cpulist": "CPU affinity of redis threads: placement only", "bio_cpulist": "see server_cpulist",
    "aof_rewrite_cpulist": "see server_cpulist", "bgsave_cpulist": "see server_cpulist",
    "disable-thp": "transparent huge pages: a latency knob", "loading-process-events-interval-bytes": "load pacing",
    "key-load-delay": "a redis test hook (hidden)", "watchdog-period": "a redis debugging aid (hidden)",
    # cosmetic
    "always-show-logo": "the ASCII logo", "set-proc-title": "the process title",
    "crash-log-enabled": "redis's crash report; Python prints a traceback", "crash-memcheck-enabled": "see above",
    "use-exit-on-panic": "see crash-log-enabled", "ignore-warnings": "redis uses it only for ARM64-COW-BUG",
    "syslog-ident": "used only with syslog-enabled, which is refused", "syslog-facility": "see syslog-ident",
    "unixsocketperm": "used only with unixsocket, which is refused",
    "latency-tracking": "per-command latency histograms feed INFO latencystats only",
    "latency-tracking-info-percentiles": "see latency-tracking",
    "sanitize-dump-payload": "RESTORE payloads are always fully decoded and checked (the deepest level)",
    # replication timing and memory knobs: every value gives the same data on every replica
    "rdb-del-sync-files": "deletes RDB files made only for replication; full syncs go through a pipe, none are made",
    "repl-disable-tcp-nodelay": "Nagle on replication links: latency only",
    "repl-diskless-load": "a replica always loads the transfer aside and swaps it in only once whole (the "
                          "guarantee of swapdb, with disabled's safety)",
    "replica-lazy-flush": "frees the replaced dataset in a thread in redis; it is gone either way",
    "replica-ignore-disk-write-errors": "a replica here writes no files while it replicates",
    "propagation-error-behavior": "replica/AOF-load errors; 'ignore' is what happens",
    "cluster-link-sendbuf-limit": "links are never freed for their send buffer; total_cluster_links_buffer_"
                                  "limit_exceeded stays 0",
}

# ExtraDirective names a subsystem handles; others are refused at start.  The ACL part of issue 16 adds
# "user" and "rename-command" here when it reads them.
HANDLED_EXTRA: set[str] = {"user", "rename-command"}      # server/security.py reads both


def refused_settings(cfg) -> list[str]:
    """Fatal error lines for every directive value the server cannot honour (empty: fine to start)."""
    out = []
    for name, (accepted, reason) in REFUSED.items():
        value = cfg[name]
        if not accepted(value, cfg):
            shown = cfg.render(name)
            out.append(f"Directive '{name} {shown}' can't be honoured by Cachemere: {reason}. "
                       f"Refusing to start.")
    for extra in cfg.extra:
        if extra.name not in HANDLED_EXTRA:
            out.append(f"Directive '{extra.line}' (line {extra.line_number}) can't be honoured by Cachemere: "
                       f"'{extra.name}' is not supported. Refusing to start.")
    return out
