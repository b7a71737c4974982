"""The server process: listeners, the client registry, cron, signals and the shutdown sequence."""
import asyncio
import os
import resource
import signal
import socket
import sys
import time
from collections import Counter

from engine.core import Keyspace, Dispatcher, Client
from engine.expire import ActiveExpire
from engine import notify
from engine import registry
from engine.context import ServerContext
import engine.commands  # noqa: F401  (registers every command family)
import services  # noqa: F401  (registers the services' command families the same way)
from server.connection import RespProtocol
from server.log import Log
from server import blocked, client_mem, info, mc_discovery, mc_stats, security, supervise
from server.pubsub import pubsub as pubsub_of
from engine.scripting.runner import script_runner as script_runner_of
from server.tracking import tracking as tracking_of

CACHEMERE_VERSION = "0.1.0"
REDIS_VERSION = "7.0.15"


class Server(ServerContext):
    """The process: listeners, clients, timers; to command families it is their ServerContext."""

    def __init__(self, config):
        self.config = config
        self.log = Log(config["loglevel"], config["logfile"])
        self.ks = Keyspace(config["databases"])
        self.dispatcher = Dispatcher(self.ks)
        self.dispatcher.auth_required = bool(config["requirepass"])
        self.expire = ActiveExpire(self.ks)
        self._apply_config_hooks()
        self.key_deleted_listeners = []        # callables(db, key, reason) for expiry/eviction deletions
        notify.install(self)
        self.loop = None
        self.listeners = []
        self._client_mem_cron = 0.0
        self.load_incomplete = False           # a SHUTDOWN/signal stopped the startup load
        self._bannered = False
        self.pending_load = None               # persistence deferred to start() (server/loading.py)
        self.after_load = []                   # callables run once that load is done
        self.loading = None                    # LoadingState while that load runs
        self.mc_listeners = []
        self.http_listeners = []               # metrics-port (server/dashboard.py)
        self.tls_listeners = []                # RESP over TLS (server/tls.py); kept apart from the plaintext
        self.tls_contexts = (None, None)       # (RESP, memcached) SSLContexts, built and checked at startup
        self.clients = {}                      # client id -> connection
        self.next_client_id = 1
        self.start_time = time.time()
        self.run_id = os.urandom(20).hex()
        self.error_stats = Counter()
        self.total_error_replies = 0
        self.stat_connections = 0
        self.stat_rejected = 0
        self.stat_qbuf_limit_disconnections = 0
        self.stat_net_in = 0
        self.stat_reads = 0                    # of connections already gone (live ones count their own)
        self.stat_writes = 0
        self.stat_expire_cycle_ms = 0.0
        self.stat_net_out = 0
        self.shutdown_requested = None         # None, or (save: bool|None, reason)
        self.stopped = None
        self.cron_handle = None
        self.hooks_on_shutdown = []            # callables run before exit (persistence, replication)
        self.extensions = {}                   # per-family server state (pubsub, blocking, ...) by name
        mc_discovery.discovery_of(self)        # memcached-cluster-nodes -> config get cluster
        self.pause_until_ms = 0                # CLIENT PAUSE deadline (0 = not paused)
        self.pause_mode = "all"
        self.paused_conns = set()
        self.info_sections = {}                # extra/replaced INFO sections: name -> callable(server)
        self.slowlog = []                      # newest first: (id, unix_ts, usec, argv, peer, name)
        self.slowlog_next_id = 0
        self.monitors = []                     # connections in MONITOR mode
        self.last_save_time = time.time()
        self._ops_samples = []
        self.startup_rss = 0
        from server import latency
        latency.install(self)                  # LATENCY: self.latency, self.latency_events
        self.active_expire_enabled = True
        self.executable = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
        security.install(self)                 # ACL users, requirepass, protected mode (server/security.py)

    # ------------------------------------------------------------------ logging shortcuts
    def log_verbose(self, msg):
        self.log.verbose(msg)

    def log_warning(self, msg):
        self.log.warning(msg)

    # ------------------------------------------------------------------ the ServerContext (engine/context.py)
    def block(self, c, keys, timeout_ms, argv, value_type=None, ready_check=None, timeout_reply=None):
        blocked.blocking_of(self).block(c, keys, timeout_ms, argv, value_type, ready_check, timeout_reply)

    @property
    def pubsub(self):
        return pubsub_of(self)

    def info_text(self, sections):
        return info.render(self, sections)

    def info_section_provider(self, name):
        return self.info_sections.get(name) or info.SECTIONS[name]

    def used_memory(self):
        return info.used_memory(self)

    def client_memory(self):
        return info.client_memory(self)

    def memcached_stats(self, engine, args):
        return mc_stats.stats_reply(engine, args)

    def memcached_binary_stats(self, engine, key, opcode, opaque):
        return mc_stats.binary_stats(engine, key, opcode, opaque)

    def memcached_cache_memlimit(self, engine, arg):
        return mc_stats.cache_memlimit(engine, arg)

    def memcached_config(self, req):
        return mc_discovery.discovery_of(self).config_reply(req)

    def memcached_discovery_item(self, with_cas):
        return mc_discovery.discovery_of(self).item(with_cas)

    def script_runner(self):
        return script_runner_of(self)

    def is_local_client(self, c):
        return c.conn is None or security.is_local_peer(getattr(c.conn, "peer", ""))

    def client_tracking(self, create=True):
        return tracking_of(self, create)

    def outgoing_tls_context(self):
        """The client-side SSLContext of links this server opens (tls-replication)."""
        from server.tls import client_context
        return client_context(self.config)

    # ------------------------------------------------------------------ clients
    def new_client(self, conn=None):
        client = Client(self.ks, self, conn, self.next_client_id)
        self.next_client_id += 1
        client.authenticated = not self.dispatcher.auth_required
        client.acl_user = self.acl.default
        return client

    def client_connected(self, conn):
        if len(self.clients) >= self.config["maxclients"]:
            self.stat_rejected += 1
            conn.transport.write(b"-ERR max number of clients reached\r\n")
            conn.transport.close()
            self.count_error(b"ERR")
            return None
        if security.protected_mode_denies(self, getattr(conn, "peer", "")):
            self.stat_rejected += 1
            conn.transport.write(security.DENIED)
            conn.transport.close()
            return None
        client = self.new_client(conn)
        self.clients[client.id] = conn
        self.stat_connections += 1
        keepalive = self.config.scalar("tcp-keepalive")
        if keepalive:
            _set_keepalive(conn.transport, keepalive)
        return client

    def client_disconnected(self, conn):
        client = conn.client
        self.clients.pop(client.id, None)
        self.stat_net_in += conn.net_in
        self.stat_reads += getattr(conn, "reads", 0)
        self.stat_writes += getattr(conn, "writes", 0)
        self.stat_net_out += conn.net_out
        for ext in self.extensions.values():
            hook = getattr(ext, "client_disconnected", None)
            if hook is not None:
                hook(client)

    # ------------------------------------------------------------------ runtime config
    def _apply_config_hooks(self):
        cfg = self.config
        self.dispatcher.slowlog_threshold_us = cfg["slowlog-log-slower-than"]
        self.dispatcher.slowlog_hook = self._slowlog_add

        def set_requirepass(value):
            self.dispatcher.auth_required = bool(value)
        cfg.on_change("requirepass", set_requirepass)
        cfg.on_change("slowlog-log-slower-than", lambda v: setattr(self.dispatcher, "slowlog_threshold_us", v))
        cfg.on_change("loglevel", lambda v: self.log.set_level(v))
        self._apply_memory_config()
        for name in ("maxmemory", "memcached-memory", "maxmemory-policy", "maxmemory-samples", "lfu-log-factor",
                     "lfu-decay-time", "maxmemory-eviction-tenacity"):
            cfg.on_change(name, lambda v: self.loop.call_soon(self._apply_memory_config) if self.loop else None)

    def _apply_memory_config(self):
        """Copy the maxmemory settings into the keyspace; a lower limit evicts right away (CONFIG SET)."""
        cfg = self.config
        ks = self.ks
        ks.maxmemory = cfg.effective_maxmemory()
        ks.set_policy(cfg["maxmemory-policy"])
        ks.samples = cfg["maxmemory-samples"]
        ks.lfu_log_factor = cfg["lfu-log-factor"]
        ks.lfu_decay_time = cfg["lfu-decay-time"]
        ks.tenacity = cfg["maxmemory-eviction-tenacity"]
        if ks.maxmemory and ks.used_memory > ks.maxmemory:
            deadline = time.monotonic() + 5
            while ks.perform_evictions() == 1 and time.monotonic() < deadline:
                pass

    def _slowlog_add(self, c, argv, usec):
        max_len = self.config["slowlog-max-len"]
        argv = security.redact(c.cmd, argv)
        # redis keeps at most 32 arguments and 128 bytes per argument
        args = list(argv[:32])
        if len(argv) > 32:
            args[-1] = b"... (%d more arguments)" % (len(argv) - 31)
        args = [a if len(a) <= 128 else a[:128] + b"... (%d more bytes)" % (len(a) - 128) for a in args]
        peer = c.conn.peer if c.conn is not None else ""
        self.slowlog.insert(0, (self.slowlog_next_id, int(time.time()), usec, args, peer, c.name))
        self.slowlog_next_id += 1
        del self.slowlog[max_len:]

    def reset_stats(self):
        """CONFIG RESETSTAT."""
        ks = self.ks
        ks.stat_hits = ks.stat_misses = ks.stat_expired = ks.stat_evicted = ks.stat_commands = 0
        self.error_stats.clear()
        self.total_error_replies = 0
        self.stat_connections = self.stat_rejected = self.stat_qbuf_limit_disconnections = 0
        self.stat_net_in = self.stat_net_out = 0
        self.stat_reads = self.stat_writes = 0
        self.stat_expire_cycle_ms = 0.0
        for conn in self.clients.values():
            conn.net_in = conn.net_out = 0
            if hasattr(conn, "reads"):
                conn.reads = conn.writes = 0
        for spec in registry.all_specs(include_internal=True):
            spec.calls = spec.usec = spec.rejected_calls = spec.failed_calls = 0
            spec.reset_latency()
        self.slowlog.clear()

    # ------------------------------------------------------------------ MONITOR
    def add_monitor(self, conn):
        if conn not in self.monitors:
            self.monitors.append(conn)
        self.dispatcher.monitor_hook = self._feed_monitors

    def _feed_monitors(self, c, argv):
        spec = c.cmd
        if spec is not None and spec.flags & registry.FLAGS["admin"]:
            return
        live = [m for m in self.monitors if not m.closing]
        self.monitors = live
        if not live:
            self.dispatcher.monitor_hook = None
            return
        peer = c.conn.peer if c.conn is not None else ("master" if c.is_master else "lua")
        argv = security.redact(spec, argv)
        line = b"+%.6f [%d %s]" % (time.time(), c.db.id, peer.encode()) + b"".join(b" " + quote_arg(a) for a in argv) + b"\r\n"
        for m in live:
            if m is not c.conn:
                m.write_raw(line)

    # ------------------------------------------------------------------ CLIENT PAUSE
    def pause_clients(self, until_ms, mode):
        # redis keeps the later deadline and the stricter mode when pauses overlap
        if not self.pause_until_ms or self.ks.update_clock() >= self.pause_until_ms:
            self.pause_mode = mode                 # no pause in force: take the new one as it is
        elif mode == "all":
            self.pause_mode = "all"                # overlapping pauses keep the stricter mode
        if until_ms > self.pause_until_ms:
            self.pause_until_ms = until_ms
        self.ks.paused = True                      # redis 7.0: no expiry or eviction while paused
        delay = max(0.0, (self.pause_until_ms - self.ks.update_clock()) / 1000.0)
        self.loop.call_later(delay + 0.001, self._pause_expired)

    def unpause_clients(self):
        self.pause_until_ms = 0
        self.ks.paused = False
        self.loop.call_soon(self._resume_paused)

    def _pause_expired(self):
        if self.pause_until_ms and self.ks.update_clock() >= self.pause_until_ms:
            self.unpause_clients()

    def _resume_paused(self):
        conns, self.paused_conns = self.paused_conns, set()
        for conn in conns:
            if not conn.closing:
                conn.process_input()

    def hold_for_pause(self, conn, argv):
        """Whether a command must wait for CLIENT UNPAUSE (all commands, or writes only in WRITE mode)."""
        if self.ks.now_ms >= self.pause_until_ms or conn.client.is_master:
            return False
        if self.pause_mode == "write":
            spec = registry.lookup(argv[0])
            if spec is None or not spec.flags & (registry.FLAGS["write"] | registry.FLAGS["may_replicate"]):
                return False
        elif argv and argv[0].lower() == b"client" and len(argv) > 1 and argv[1].lower() == b"unpause":
            return False
        self.paused_conns.add(conn)
        return True

    def security_warning(self):
        now = time.time()
        if now - getattr(self, "_last_security_warning", 0) > 60:   # redis logs it at most once a minute
            self._last_security_warning = now
            self.log.warning("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: "
                             "commands to Redis. This is likely due to an attacker attempting to use Cross Protocol "
                             "Scripting to compromise your Redis instance. Connection aborted.")

    def add_key_deleted_listener(self, listener, guards=None):
        """Be told of keys deleted by expiry or eviction (WATCH, keyspace notifications). guards: containers
        that are all empty when the listener has nothing to do (keyspace notifications off aside), so an
        eviction can skip the Python call (engine/core.pxd deleted_hooks_idle); None: it always runs."""
        self.key_deleted_listeners.append(listener)
        if guards is None:
            self._deleted_unguarded = True
        else:
            self._deleted_guards = getattr(self, "_deleted_guards", []) + list(guards)
        self.ks.deleted_hook_guards = None if getattr(self, "_deleted_unguarded", False) \
            else list(self._deleted_guards)
        self.ks.on_key_deleted = self._key_deleted

    def _key_deleted(self, db, key, reason):
        for listener in self.key_deleted_listeners:
            listener(db, key, reason)

    def count_error(self, message: bytes):
        """INFO errorstats: errors are counted by their first word (redis afterErrorReply)."""
        self.total_error_replies += 1
        code = message.split(b" ", 1)[0]
        self.error_stats[code.decode("latin-1")] += 1

    # ------------------------------------------------------------------ lifecycle
    async def start(self):
        self.loop = asyncio.get_running_loop()
        self.startup_rss = self.rss_bytes()
        self.stopped = self.loop.create_future()
        port = self.config["port"]
        binds = self.config["bind"] or ["127.0.0.1"]
        if port:
            for addr in binds:
                addr = addr.lstrip("-")   # redis: "-addr" means optional
                try:
                    srv = await self.loop.create_server(lambda: RespProtocol(self), addr, port,
                                                        backlog=self.config["tcp-backlog"], reuse_address=True)
                except OSError as exc:
                    if addr.startswith("::") or ":" in addr:
                        self.log.warning(f"Could not create server TCP listening socket {addr}:{port}: {exc}")
                        continue
                    raise
                self.listeners.append(srv)
        from server import tls, listeners
        listeners.install(self)      # CONFIG SET port / bind
        await tls.start_resp_listeners(self)
        if self.pending_load is not None:      # the data on disk loads with the RESP listeners open (-LOADING)
            from server import loading
            for sig in (signal.SIGTERM, signal.SIGINT):      # a signal while loading stops the load, no save
                self.loop.add_signal_handler(sig, self._on_signal, sig)
            p, self.pending_load = self.pending_load, None
            self.banner(ready=False)              # redis logs its banner before loading, "Ready" after
            loaded = await loading.run(self, p)
            if loaded is None:                    # SHUTDOWN while loading: the shutdown sequence finishes it
                self.load_incomplete = True
                return
            if not loaded:
                raise SystemExit(1)
            for fn in self.after_load:            # what must wait for the data (replication.install)
                fn()
            import gc
            gc.freeze()                           # as main.py does for a load before the loop
            self.log.notice("Ready to accept connections tcp")
        mc_port = self.config["memcached-port"]
        if mc_port:
            from server.mc_connection import McProtocol
            mc_ssl = self.tls_contexts[1]       # memcached-tls yes: the port speaks TLS only (memcached -Z)
            for addr in self.config["memcached-bind"] or ["127.0.0.1"]:     # follows bind when unset
                addr = addr.lstrip("-")
                try:
                    srv = await self.loop.create_server(lambda: McProtocol(self), addr, mc_port, ssl=mc_ssl,
                                                        backlog=self.config["tcp-backlog"], reuse_address=True)
                except OSError as exc:
                    if ":" in addr:
                        self.log.warning(f"Could not create memcached listening socket {addr}:{mc_port}: {exc}")
                        continue
                    raise
                self.mc_listeners.append(srv)
        from server import dashboard
        self.http_listeners = await dashboard.start(self)
        import services
        for start_facade in services.HTTP_FACADES:        # sqs-port, kinesis-port (services/*/http)
            self.http_listeners += await start_facade(self)
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # redis ignores SIGHUP
        except (ValueError, OSError):
            pass
        self._schedule_cron()
        services.started(self)                 # the services rebuild their timers from the loaded keys

    def _schedule_cron(self):
        hz = max(1, min(500, self.config["hz"]))
        self.cron_handle = self.loop.call_later(1.0 / hz, self._cron)

    def _cron(self):
        try:
            hz = max(1, min(500, self.config["hz"]))
            if self.active_expire_enabled:
                started = time.monotonic()
                self.expire.cycle(hz)
                elapsed_ms = (time.monotonic() - started) * 1000.0
                self.stat_expire_cycle_ms += elapsed_ms
                self.latency.add_if_needed("expire-cycle", int(elapsed_ms))
            now = time.monotonic()
            if len(self.clients) <= 64 or now - self._client_mem_cron >= 1.0:   # CLIENT LIST buffers (clientsCron)
                self._client_mem_cron = now
                client_mem.cron(self)
            if self.config["activerehashing"]:
                # redis databasesCron: 1 ms of incremental rehash per tick, on the first db that needs it
                for db in self.ks.dbs:
                    if db.rehash_for(1.0):
                        break
            self._ops_samples.append((time.monotonic(), self.ks.stat_commands))
            if len(self._ops_samples) > 16:
                del self._ops_samples[0]
            for ext in list(self.extensions.values()):
                tick = getattr(ext, "cron", None)
                if tick is not None:
                    tick()
            timeout = self.config["timeout"]
            if timeout:
                now = self.ks.update_clock()
                for conn in list(self.clients.values()):
                    c = conn.client
                    if not c.blocked and (c.pubsub is None or not c.pubsub.active()) and now - c.last_ms > timeout * 1000:
                        self.log.verbose("Closing idle client")
                        conn.close()
        finally:
            if self.shutdown_requested is None:
                self._schedule_cron()

    def _on_signal(self, sig):
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        self.log.raw(f"{os.getpid()}:signal-handler ({int(time.time())}) Received {name} scheduling shutdown...")
        flags = self.config["shutdown-on-sigterm" if sig == signal.SIGTERM else "shutdown-on-sigint"]
        words = (flags if isinstance(flags, str) else " ".join(map(str, flags or ()))).split()
        save = False if "nosave" in words else (True if "save" in words else None)
        self.request_shutdown(save=save, reason=name, force="force" in words)

    def shutdown_waits_for_replicas(self):
        replication = self.extensions.get("replication")
        return replication is not None and replication.shutdown_would_wait()

    def request_shutdown(self, save=None, reason="SHUTDOWN", now=False, prepared=False, force=False):
        """Stop accepting, flush replies, run shutdown hooks (final save), then exit 0.  `prepared`: the
        SHUTDOWN command already ran the hooks (prepare_shutdown); `force`: exit even if the save fails."""
        if self.shutdown_requested is not None:
            return
        self.shutdown_requested = (save, reason)
        self._shutdown_prepared = prepared
        self._shutdown_force = force
        # replication: lagging replicas get up to shutdown-timeout to catch up first (unless SHUTDOWN NOW)
        waiter = self.extensions.get("replication")
        if waiter is not None and not now and waiter.delay_shutdown(self._finish_shutdown):
            return
        self.loop.call_soon(self._finish_shutdown)

    def prepare_shutdown(self, save, force=False):
        """redis prepareForShutdown: the hooks (children, AOF fsync, final save); False when one failed and
        the shutdown must not go ahead (a failed final save without FORCE)."""
        self.log.warning("User requested shutdown...")
        if self.loading is not None or self.load_incomplete:
            save = False                          # redis prepareForShutdown: never save a half-loaded dataset
        ok = True
        for hook in self.hooks_on_shutdown:
            try:
                if hook(save) is False:
                    ok = False
            except Exception as exc:
                self.log.warning(f"Error during shutdown: {exc}")
                ok = False
        if not ok and not force:
            self.log.warning("Errors trying to shut down the server. Check the logs for more information.")
            return False
        return True

    def _finish_shutdown(self):
        save, _ = self.shutdown_requested
        if not getattr(self, "_shutdown_prepared", False):
            if not self.prepare_shutdown(save, getattr(self, "_shutdown_force", False)):
                self.shutdown_requested = None      # redis keeps running after a failed final save
                if self.cron_handle is not None:
                    self.cron_handle.cancel()
                self._schedule_cron()
                return
        supervise.notify_stopping(self)
        for srv in self.listeners + self.mc_listeners + self.tls_listeners + self.http_listeners:
            srv.close()
        pidfile = self.config["pidfile"]
        if pidfile:
            try:
                os.unlink(pidfile)
            except OSError:
                pass
        for conn in list(self.clients.values()):
            conn.flush()
            conn.close()
        self.log.warning("Cachemere is now ready to exit, bye bye...")
        if not self.stopped.done():
            self.stopped.set_result(0)

    async def serve(self):
        await self.start()
        if not self._bannered:
            self.banner()
        supervise.notify_ready(self)
        return await self.stopped

    def banner(self, ready=True):
        self._bannered = True
        log = self.log
        cfg = self.config
        log.notice("oO0OoO0OoO0Oo Cachemere is starting oO0OoO0OoO0Oo")
        log.notice(f"Cachemere version={CACHEMERE_VERSION}, redis_version={REDIS_VERSION}, bits=64, "
                   f"pid={os.getpid()}, just started")
        if cfg.config_file:
            log.notice(f"Configuration loaded from {cfg.config_file}")
        else:
            log.warning("Warning: no config file specified, using the default config. In order to specify a "
                        "config file use cachemere-server /path/to/cachemere.conf")
        log.notice(f"Running mode=standalone, port={cfg['port']}, memcached-port={cfg['memcached-port']}"
                   + (f", tls-port={cfg['tls-port']}" if cfg['tls-port'] else "") + ".")
        log.notice("Server initialized")
        if ready:
            log.notice("Ready to accept connections tcp")

    # ------------------------------------------------------------------ info helpers
    def uptime(self):
        return int(time.time() - self.start_time)

    def ops_per_sec(self):
        """instantaneous_ops_per_sec over the cron's recent samples (redis trackInstantaneousMetric)."""
        samples = self._ops_samples
        if len(samples) < 2:
            return 0
        (t0, n0), (t1, n1) = samples[0], samples[-1]
        return int((n1 - n0) / (t1 - t0)) if t1 > t0 else 0

    def rss_bytes(self):
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * resource.getpagesize()
        except OSError:
            return 0


def _set_keepalive(transport, interval):
    """redis anetKeepAlive: SO_KEEPALIVE, first probe after `interval` s, then every interval/3 s, 3 probes."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, interval)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, interval // 3))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    except (OSError, AttributeError):
        pass


def quote_arg(arg: bytes) -> bytes:
    """redis sdscatrepr: a double-quoted argument with C-style escapes, as MONITOR shows it."""
    out = bytearray(b'"')
    for ch in arg:
        if ch in (0x5c, 0x22):
            out += b"\\" + bytes([ch])
        elif ch == 0x0a:
            out += b"\\n"
        elif ch == 0x0d:
            out += b"\\r"
        elif ch == 0x09:
            out += b"\\t"
        elif ch == 0x07:
            out += b"\\a"
        elif ch == 0x08:
            out += b"\\b"
        elif 32 <= ch < 127:
            out.append(ch)
        else:
            out += b"\\x%02x" % ch
    out += b'"'
    return bytes(out)
