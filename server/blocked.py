"""Blocking commands (redis blocked.c): clients waiting for data on keys, woken by writes.

Contract, shared by every blocking family (lists, sorted sets, streams):

* A blocking handler that finds no data (and ``c.deny_blocking`` is false) calls
  ``block(c, keys, timeout_ms, argv, value_type=None, ready_check=None, timeout_reply=None)`` and
  writes no reply.  ``timeout_ms`` is relative, 0 = forever.  The client stops parsing its input
  (``c.blocked``) and is queued, FIFO, on every (db id, key) it names.
* A write that may give a waiting client data calls ``signal_key_ready(c, key)`` (cheap when nobody
  waits on the key).  After the current command (a whole MULTI/EXEC or script included, since the
  serving runs from the event loop with ``loop.call_soon``) each client waiting on a ready key is
  served in FIFO order while the key is ready: its original argv is re-run through
  ``server.dispatcher.call(client, spec, argv)``, so the handler itself pops, replies and rewrites its
  effect (``c.propagate_as``: BLPOP -> LPOP ...).  A key is ready when it exists, holds a
  non-empty value of ``value_type`` (b"list", b"zset"...; by default the command's COMMAND DOCS group), and
  ``ready_check(db, key)`` (if given) agrees.
* If the re-run handler calls ``block`` again (the data was not for it after all), the client stays
  blocked with its original deadline and nothing is replied.
* On timeout, or ``CLIENT UNBLOCK id TIMEOUT``, the client gets ``timeout_reply(reply_buffer)``
  (default: a null array, Redis's answer for lists, sorted sets and streams); ``CLIENT UNBLOCK id
  ERROR`` answers ``-UNBLOCKED client unblocked via CLIENT UNBLOCK``.  A disconnect drops it.
* An unblocked client's reply is flushed and its pipelined input processing resumes.

The per-server state is the ``Blocking`` object registered as ``server.extensions["blocking"]``.
"""
import importlib.util
import sys
from collections import OrderedDict

from engine.core import type_name

UNBLOCKED_ERROR = b"UNBLOCKED client unblocked via CLIENT UNBLOCK"
# the value type a blocking command waits for, by its COMMAND DOCS group, when block() is not told
GROUP_TYPES = {"list": b"list", "sorted-set": b"zset", "stream": b"stream"}


class BlockedState:
    """What one blocked client waits for (kept in ``Client.blocked_state``)."""
    __slots__ = ("dbid", "keys", "argv", "spec", "timer", "value_type", "ready_check", "timeout_reply",
                 "serving", "reblocked")

    def __init__(self, dbid, keys, argv, spec, value_type, ready_check, timeout_reply):
        self.dbid = dbid
        self.keys = keys
        self.argv = argv
        self.spec = spec
        self.timer = None
        self.value_type = value_type
        self.ready_check = ready_check
        self.timeout_reply = timeout_reply
        self.serving = False
        self.reblocked = False


def null_array_reply(reply):
    reply.add_null_array()


class Blocking:
    def __init__(self, server):
        self.server = server
        self.waiting = {}            # (dbid, key) -> OrderedDict{client id: Client}, FIFO
        self.ready = OrderedDict()   # (dbid, key) -> None, in the order the keys became ready
        self.scheduled = False
        self.serving = False

    # ------------------------------------------------------------------ blocking
    def block(self, c, keys, timeout_ms, argv, value_type=None, ready_check=None, timeout_reply=None):
        state = c.blocked_state
        if isinstance(state, BlockedState) and state.serving:
            state.reblocked = True        # re-run found nothing for it: keep waiting as before
            return
        if value_type is None:
            value_type = GROUP_TYPES.get(((c.cmd.docs or {}) if c.cmd is not None else {}).get("group"))
        state = BlockedState(c.db.id, list(dict.fromkeys(keys)), list(argv), c.cmd, value_type, ready_check,
                             timeout_reply or null_array_reply)
        c.blocked_state = state
        c.blocked = True
        for key in state.keys:
            self.waiting.setdefault((state.dbid, key), OrderedDict())[c.id] = c
        if timeout_ms > 0 and self.server.loop is not None:
            state.timer = self.server.loop.call_later(timeout_ms / 1000.0, self._timed_out, c, state)

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

    def _resume(self, c):
        conn = c.conn
        if conn is None or conn.closing:
            return
        conn.flush()
        conn.process_input()

    def _timed_out(self, c, state):
        if c.blocked_state is not state:
            return
        self._forget(c)
        state.timeout_reply(c.reply)
        self._resume(c)

    # ------------------------------------------------------------------ waking
    def signal_key_ready(self, c, key):
        slot = (c.db.id, key)
        if slot not in self.waiting or slot in self.ready:
            return
        self.ready[slot] = None
        if not self.scheduled and not self.serving and self.server.loop is not None:
            self.scheduled = True
            self.server.loop.call_soon(self.serve_ready)

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
        self.scheduled = False
        if self.serving:
            return
        self.serving = True
        try:
            self.server.ks.update_clock()
            while self.ready:
                (dbid, key), _ = self.ready.popitem(last=False)
                queue = self.waiting.get((dbid, key))
                if not queue:
                    continue
                for c in list(queue.values()):
                    state = c.blocked_state
                    if not isinstance(state, BlockedState) or c.id not in queue:
                        continue
                    if not self.key_is_ready(dbid, key, state):
                        break
                    self._serve(c, state)
        finally:
            self.serving = False

    def _serve(self, c, state):
        state.serving = True
        state.reblocked = False
        dispatcher = self.server.dispatcher
        try:
            dispatcher.call(c, state.spec, state.argv)
            state.spec.calls -= 1         # redis counts a blocked command once, when it completes
        finally:
            state.serving = False
        if state.reblocked:
            return
        self._forget(c)
        self._resume(c)

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
        self._resume(c)
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


def block(c, keys, timeout_ms, argv, value_type=None, ready_check=None, timeout_reply=None):
    """Block c until a key in keys is ready (see the module contract). Without a server (bare engine),
    answer at once as a timeout."""
    if c.server is None:
        (timeout_reply or null_array_reply)(c.reply)
        return
    blocking_of(c.server).block(c, keys, timeout_ms, argv, value_type, ready_check, timeout_reply)


def signal_key_ready(c, key):
    server = c.server if c.server is not None else c.ks.server
    if server is None:
        return
    ext = server.extensions.get("blocking")
    if ext is not None:
        ext.signal_key_ready(c, key)


# engine/commands/t_zset.py and persistence_cmds.py look for `server.blocking`: answer for it unless such a
# module really exists.
if "server.blocking" not in sys.modules and importlib.util.find_spec("server.blocking") is None:
    sys.modules["server.blocking"] = sys.modules[__name__]
    setattr(sys.modules["server"], "blocking", sys.modules[__name__])
