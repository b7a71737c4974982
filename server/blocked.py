"""The server side of blocking commands (redis 7.0 blocked.c): the queues of clients waiting on keys, their
timeouts, and serving them after each command. The contract families use is engine/blocking.py; the
server reaches this through ``Server.block`` / ``Server.signal_key_ready`` (engine/context.py).
"""
from collections import OrderedDict

from engine.blocking import GROUP_TYPES, LLONG_MAX, UNBLOCKED_ERROR, BlockedState, null_array_reply  # noqa: F401
from engine.core import type_name


def _set_after_command(hook):
    try:
        from server.connection import set_after_command
    except ImportError:               # an older build of the connection module: serve from the loop only
        return False
    set_after_command(hook)
    return True


class Blocking:
    def __init__(self, server):
        self.server = server
        self.waiting = {}            # (dbid, key) -> OrderedDict{client id: Client}, FIFO
        self.ready = OrderedDict()   # (dbid, key) -> None, in the order the keys became ready
        self.scheduled = False       # a loop callback will serve the ready keys
        self.hooked = False          # the connections call after_command after each command (while keys are ready)
        self.serving = False

    # ------------------------------------------------------------------ blocking
    def block(self, c, keys, timeout_ms, argv, value_type=None, ready_check=None, timeout_reply=None):
        state = c.blocked_state
        if isinstance(state, BlockedState) and state.serving:
            state.reblocked = True        # the re-run found nothing for it: keep waiting as before
            return
        if value_type is None:
            value_type = GROUP_TYPES.get(((c.cmd.docs or {}) if c.cmd is not None else {}).get("group"))
        state = BlockedState(c.db.id, list(dict.fromkeys(keys)), list(argv), c.cmd, value_type, ready_check,
                             timeout_reply or null_array_reply)
        state.reply_muted = c.reply_mode != 0
        c.blocked_state = state
        c.blocked = True
        for key in state.keys:
            self.waiting.setdefault((state.dbid, key), OrderedDict())[c.id] = c
        loop = self.server.loop
        # a deadline past LLONG_MAX wraps around in redis and never fires: wait forever then
        if 0 < timeout_ms <= LLONG_MAX - c.ks.now_ms and loop is not None:
            state.timer = loop.call_later(timeout_ms / 1000.0, self._timed_out, c, state)

    def _forget(self, c):
        """Take c out of every wait queue and cancel its timer."""
        state = c.blocked_state
        if not isinstance(state, BlockedState):
            return None
        for key in state.keys:
            queue = self.waiting.get((state.dbid, key))
            if queue is not None:
                queue.pop(c.id, None)
                if not queue:
                    del self.waiting[(state.dbid, key)]
        if state.timer is not None:
            state.timer.cancel()
        c.blocked_state = None
        c.blocked = False
        return state

    def _resume(self, c, state):
        """Write the unblocked client's reply now; run its pipelined commands from the loop."""
        conn = c.conn
        if conn is None or conn.closing:
            return
        if state.reply_muted:
            c.reply.truncate(0)           # CLIENT REPLY OFF/SKIP was in force for the blocked command
        conn.flush()
        if self.server.loop is not None:
            self.server.loop.call_soon(self._continue_input, conn)
        else:
            conn.process_input()

    @staticmethod
    def _continue_input(conn):
        if not conn.closing and not conn.client.blocked:
            conn.process_input()

    def _timed_out(self, c, state):
        if c.blocked_state is not state:
            return
        self._forget(c)
        state.timeout_reply(c.reply)
        self._resume(c, state)

    # ------------------------------------------------------------------ waking
    def signal_key_ready(self, c, key):
        slot = (c.db.id, key)
        if slot not in self.waiting or slot in self.ready:
            return
        self.ready[slot] = None
        if not self.hooked:
            self.hooked = _set_after_command(self.after_command)
        loop = self.server.loop
        if not self.scheduled and loop is not None:
            # for writes made outside a client connection's command (or an old connection module)
            self.scheduled = True
            loop.call_soon(self._serve_from_loop)

    def after_command(self):
        """Called by every connection after each command while some key is ready."""
        if self.ready:
            self.serve_ready()
        if not self.ready and self.hooked:
            _set_after_command(None)      # installed again by the next signal_key_ready
            self.hooked = False

    def _serve_from_loop(self):
        self.scheduled = False
        self.serve_ready()

    def key_is_ready(self, dbid, key, state):
        db = self.server.ks.dbs[dbid]
        e = db.find(key)
        if e is None or (0 <= e.expire_at <= self.server.ks.now_ms):
            return state.ready_check is not None and state.ready_check(db, key)
        value = e.value
        if state.value_type is not None and type_name(value) != state.value_type:
            return False
        if state.ready_check is not None:
            return state.ready_check(db, key)
        try:
            return len(value) > 0
        except TypeError:
            return True

    def serve_ready(self):
        """Serve the clients waiting on ready keys, FIFO per key (redis handleClientsBlockedOnKeys)."""
        # never in the middle of EXEC or a script (their writes are served once they complete)
        if self.serving or self.server.ks.effects.unit_depth > 0:
            return
        self.serving = True
        try:
            self.server.ks.update_clock()
            while self.ready:
                # keys made ready while serving (BLMOVE pushing into a watched key) go to the next round
                batch, self.ready = self.ready, OrderedDict()
                for dbid, key in batch:
                    queue = self.waiting.get((dbid, key))
                    if not queue:
                        continue
                    for c in list(queue.values()):
                        state = c.blocked_state
                        if not isinstance(state, BlockedState) or c.id not in queue:
                            continue
                        if c.conn is not None and c.conn.closing:
                            self._forget(c)       # going away: the data is for the next waiter
                            continue
                        if self.key_is_ready(dbid, key, state):
                            self._serve(c, state, key)
        finally:
            self.serving = False

    def _serve(self, c, state, key):
        state.serving = True
        state.ready_key = key
        state.reblocked = False
        dispatcher = self.server.dispatcher
        monitor_hook = dispatcher.monitor_hook
        dispatcher.monitor_hook = None    # MONITOR showed the command when it was sent
        try:
            dispatcher.call(c, state.spec, state.argv)
            state.spec.calls -= 1         # redis counts a blocked command once, when it completes
        finally:
            dispatcher.monitor_hook = monitor_hook
            state.serving = False
            state.ready_key = None
        if state.reblocked:
            return
        self._forget(c)
        self._resume(c, state)

    # ------------------------------------------------------------------ releasing
    def unblock(self, client_id, with_error):
        """CLIENT UNBLOCK: True when the client was blocked here and is now released."""
        conn = self.server.clients.get(client_id)
        c = getattr(conn, "client", None)
        if c is None or not isinstance(c.blocked_state, BlockedState):
            return False
        state = self._forget(c)
        if with_error:
            c.error(UNBLOCKED_ERROR)
        else:
            state.timeout_reply(c.reply)
        self._resume(c, state)
        return True

    def client_disconnected(self, c):
        self._forget(c)

    def blocked_count(self):
        return len({cid for queue in self.waiting.values() for cid in queue})


def blocking_of(server):
    ext = server.extensions.get("blocking")
    if ext is None:
        ext = server.extensions["blocking"] = Blocking(server)
    return ext


