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
from engine import registry
import engine.commands  # noqa: F401  (registers every command family)
from server.connection import RespProtocol
from server.log import Log

CACHEMERE_VERSION = "0.1.0"
REDIS_VERSION = "7.0.15"


class Server:
    def __init__(self, config):
        self.config = config
        self.log = Log(config["loglevel"], config["logfile"])
        self.ks = Keyspace(config["databases"])
        self.dispatcher = Dispatcher(self.ks)
        self.dispatcher.auth_required = bool(config["requirepass"])
        self.expire = ActiveExpire(self.ks)
        self.loop = None
        self.listeners = []
        self.mc_listeners = []
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
        self.stat_net_out = 0
        self.shutdown_requested = None         # None, or (save: bool|None, reason)
        self.stopped = None
        self.cron_handle = None
        self.hooks_on_shutdown = []            # callables run before exit (persistence, replication)
        self.extensions = {}                   # per-family server state (pubsub, blocking, ...) by name
        self.executable = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""

    # ------------------------------------------------------------------ logging shortcuts
    def log_verbose(self, msg):
        self.log.verbose(msg)

    def log_warning(self, msg):
        self.log.warning(msg)

    # ------------------------------------------------------------------ clients
    def new_client(self, conn=None):
        client = Client(self.ks, self, conn, self.next_client_id)
        self.next_client_id += 1
        client.authenticated = not self.dispatcher.auth_required
        return client

    def client_connected(self, conn):
        if len(self.clients) >= self.config["maxclients"]:
            self.stat_rejected += 1
            conn.transport.write(b"-ERR max number of clients reached\r\n")
            conn.transport.close()
            self.count_error(b"ERR")
            return None
        client = self.new_client(conn)
        self.clients[client.id] = conn
        self.stat_connections += 1
        return client

    def client_disconnected(self, conn):
        client = conn.client
        self.clients.pop(client.id, None)
        self.stat_net_in += conn.net_in
        self.stat_net_out += conn.net_out
        for ext in self.extensions.values():
            hook = getattr(ext, "client_disconnected", None)
            if hook is not None:
                hook(client)

    def count_error(self, message: bytes):
        """INFO errorstats: errors are counted by their first word (redis afterErrorReply)."""
        self.total_error_replies += 1
        code = message.split(b" ", 1)[0]
        self.error_stats[code.decode("latin-1")] += 1

    # ------------------------------------------------------------------ lifecycle
    async def start(self):
        self.loop = asyncio.get_running_loop()
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
        mc_port = self.config["memcached-port"]
        if mc_port:
            try:
                from server.mc_connection import McProtocol
            except ImportError:
                McProtocol = None
            if McProtocol is not None:
                for addr in binds:
                    addr = addr.lstrip("-")
                    try:
                        srv = await self.loop.create_server(lambda: McProtocol(self), addr, mc_port,
                                                            backlog=self.config["tcp-backlog"], reuse_address=True)
                    except OSError as exc:
                        if ":" in addr:
                            self.log.warning(f"Could not create memcached listening socket {addr}:{mc_port}: {exc}")
                            continue
                        raise
                    self.mc_listeners.append(srv)
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # redis ignores SIGHUP
        except (ValueError, OSError):
            pass
        self._schedule_cron()

    def _schedule_cron(self):
        hz = max(1, min(500, self.config["hz"]))
        self.cron_handle = self.loop.call_later(1.0 / hz, self._cron)

    def _cron(self):
        try:
            hz = max(1, min(500, self.config["hz"]))
            self.expire.cycle(hz)
            for ext in list(self.extensions.values()):
                tick = getattr(ext, "cron", None)
                if tick is not None:
                    tick()
            timeout = self.config["timeout"]
            if timeout:
                now = self.ks.update_clock()
                for conn in list(self.clients.values()):
                    c = conn.client
                    if not c.blocked and c.pubsub is None and now - c.last_ms > timeout * 1000:
                        self.log.verbose("Closing idle client")
                        conn.close()
        finally:
            if self.shutdown_requested is None:
                self._schedule_cron()

    def _on_signal(self, sig):
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        self.log.raw(f"{os.getpid()}:signal-handler ({int(time.time())}) Received {name} scheduling shutdown...")
        self.request_shutdown(save=None, reason=name)

    def request_shutdown(self, save=None, reason="SHUTDOWN"):
        """Stop accepting, flush replies, run shutdown hooks (final save), then exit 0."""
        if self.shutdown_requested is not None:
            return
        self.shutdown_requested = (save, reason)
        self.loop.call_soon(self._finish_shutdown)

    def _finish_shutdown(self):
        save, _ = self.shutdown_requested
        self.log.warning("User requested shutdown...")
        for srv in self.listeners + self.mc_listeners:
            srv.close()
        for hook in self.hooks_on_shutdown:
            try:
                hook(save)
            except Exception as exc:  # a failing save must still let the process stop
                self.log.warning(f"Error during shutdown: {exc}")
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
        self.banner()
        return await self.stopped

    def banner(self):
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
        log.notice(f"Running mode=standalone, port={cfg['port']}, memcached-port={cfg['memcached-port']}.")
        log.notice("Server initialized")
        log.notice("Ready to accept connections tcp")

    # ------------------------------------------------------------------ info helpers
    def uptime(self):
        return int(time.time() - self.start_time)

    def rss_bytes(self):
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * resource.getpagesize()
        except OSError:
            return 0
