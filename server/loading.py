"""Loading the dataset at startup while the RESP listeners already serve (redis loadDataFromDisk with
processEventsWhileBlocked): the RDB / AOF loader runs in a greenlet that hands control back to the event loop
every `loading-process-events-interval-bytes` (or 10 ms), so clients connect and get
`-LOADING Redis is loading the dataset in memory` for every command without the `loading` flag (INFO, PING...
see COMMAND INFO), and INFO persistence shows `loading:1` with redis's progress fields. The loader never
switches inside a command or a record, so the keyspace the loop sees is consistent; the cron (expiry,
eviction), memcached and HTTP listeners start once the data is in.

``Server.loading`` is the LoadingState while a load runs (None otherwise); the persistence loaders call
``progress(bytes)`` through ``Persistence.load_progress``."""
import os
import time

from engine.registry import FLAGS

CMD_LOADING = FLAGS["loading"]

LOADING_ERR = b"LOADING Redis is loading the dataset in memory"


class LoadAborted(Exception):
    """SHUTDOWN (or a signal) while loading: the load stops where it is (redis exits without saving)."""


class LoadingState:
    def __init__(self, server, total_bytes):
        self.server = server
        self.start_time = int(time.time())
        self.total_bytes = total_bytes
        self.rdb_used_mem = 0
        self.loaded_bytes = 0
        self.base = 0                   # bytes of the files already loaded (AOF: base + incr files)
        self.greenlet = None
        self.interval = server.config["loading-process-events-interval-bytes"]
        self._next_bytes = self.interval
        self._next_time = time.monotonic() + 0.01
        self.active = True

    def progress(self, pos):
        """Called by the loaders every 1024 records with the offset in the current file."""
        self.loaded_bytes = self.base + pos
        if self.greenlet is None:
            return
        now = time.monotonic()
        if self.loaded_bytes >= self._next_bytes or now >= self._next_time:
            self._next_bytes = self.loaded_bytes + self.interval
            self._next_time = now + 0.01
            self.greenlet.parent.switch()          # let the event loop serve clients
            if self.server.shutdown_requested is not None:
                raise LoadAborted()

    def file_done(self, size):
        self.base += size
        self.loaded_bytes = self.base

    def info_fields(self):
        """redis genRedisInfoString's loading_* block."""
        perc, remaining = 0.0, 1
        if self.total_bytes:
            perc = self.loaded_bytes / self.total_bytes * 100
            remaining = self.total_bytes - self.loaded_bytes
        elapsed = int(time.time()) - self.start_time
        eta = 1 if elapsed == 0 else (elapsed * remaining) // (self.loaded_bytes + 1)
        return [("loading_start_time", self.start_time), ("loading_total_bytes", self.total_bytes),
                ("loading_rdb_used_mem", self.rdb_used_mem), ("loading_loaded_bytes", self.loaded_bytes),
                ("loading_loaded_perc", "%.2f" % perc), ("loading_eta_seconds", eta)]

    # the dispatcher gate (processCommand: "Loading DB? Return an error if the command has not the CMD_LOADING
    # flag"), chained in front of any other before_call
    def install_gate(self):
        d = self.server.dispatcher
        self._prev = d.before_call
        d.before_call = self._gate

    def remove_gate(self):
        self.active = False
        d = self.server.dispatcher
        if d.before_call == self._gate:
            d.before_call = self._prev

    def _gate(self, c, spec, argv):
        if self.active and c.conn is not None and not c.is_master and (
                not spec.flags & CMD_LOADING
                or (spec.name == "exec" and c.multi_queue
                    and any(not s.flags & CMD_LOADING for s, _ in c.multi_queue))):
            spec.rejected_calls += 1
            if spec.name == "exec":
                from engine.core import exec_abort
                exec_abort(c, LOADING_ERR)
                return False
            if c.multi_queue is not None:
                c.multi_error = True
            c.error(LOADING_ERR)
            return False
        prev = self._prev
        return prev is None or prev(c, spec, argv)


def total_bytes(paths):
    total = 0
    for p in paths:
        try:
            total += os.path.getsize(p)
        except OSError:
            pass
    return total


async def run(server, persistence):
    """Load the data on disk while serving -LOADING; True when loaded, False when the server must exit (a
    fatal load error), None when a SHUTDOWN during the load stopped it."""
    import asyncio
    state = LoadingState(server, total_bytes(persistence.startup_load_paths()))
    server.loading = state
    server.ks.loading = True
    state.install_gate()
    outcome = []

    def body():
        outcome.append(persistence.load_at_startup_reporting())

    try:
        from greenlet import greenlet
    except ImportError:           # no greenlet: load in one go (clients wait instead of getting -LOADING)
        try:
            body()
        finally:
            state.remove_gate()
            server.loading = None
            server.ks.loading = False
        return bool(outcome[0])
    g = state.greenlet = greenlet(body)
    try:
        while not g.dead:
            try:
                g.switch()
            except LoadAborted:
                return None
            if not g.dead:
                await asyncio.sleep(0)
    finally:
        state.greenlet = None
        state.remove_gate()
        server.loading = None
        server.ks.loading = False
    return bool(outcome and outcome[0])
