"""Client-side caching support (redis tracking.c): CLIENT TRACKING state, the table of keys clients read,
BCAST prefixes, and the invalidation messages sent when those keys change.

State lives in ``server.extensions["tracking"]`` (created by the first CLIENT TRACKING ON).  Hooks:
- the dispatcher's ``tracking_hook`` (engine/core.pyx Dispatcher.call) runs after every call while some
  client tracks: a read-only command remembers its keys for the tracking client (the script caller for a
  command a script runs; EVAL_RO / EVALSHA_RO / FCALL_RO themselves are skipped, as redis does), the
  OPTIN/OPTOUT CACHING flag is cleared after the next command or transaction, and invalidations meant for
  the client that caused them are appended after that command's reply (redis tracking_pending_keys);
- ``Keyspace.on_key_modified`` (chained after WATCH's): every write command's written keys, FLUSHDB and
  FLUSHALL (a null invalidation to every tracking client, the table emptied);
- the keyspace's deletion listeners: expiry (lazy and active) and eviction;
- engine/memcache_ops.pyx: memcached writes and flush_all.
The tracking table keys are key names only (no db), as in redis.  BCAST keys are collected per prefix and
sent once per event-loop pass, sorted and deduplicated as redis's radix tree gives them.
"""
from engine.commands.introspection import get_keys

NULL_BY_RESP = {2: b"$-1\r\n", 3: b"_\r\n"}
NOT_TRACKED = frozenset(["eval_ro", "evalsha_ro", "fcall_ro"])


class TrackingState:
    """One tracking client's options (redis CLIENT_TRACKING_* flags and client_tracking_redirection)."""
    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "caching", "broken", "prefixes")

    def __init__(self):
        self.redirect = 0
        self.bcast = self.optin = self.optout = self.noloop = self.caching = self.broken = False
        self.prefixes = []


class BcastPrefix:
    __slots__ = ("keys", "clients")

    def __init__(self):
        self.keys = {}          # key -> client that changed it last (NOLOOP), None for expiry/eviction/memcached
        self.clients = {}       # client -> None


def key_frame(key):
    return b"*1\r\n$%d\r\n%s\r\n" % (len(key), key)


class Tracking:
    def __init__(self, server):
        self.server = server
        self.states = {}        # client -> TrackingState (tracking on)
        self.by_id = {}         # client id -> client, for the tracking clients
        self.table = {}         # key -> {client id: None} that read it (ids, as redis: no client kept alive)
        self.items = 0          # redis TrackingTableTotalItems
        self.prefix_table = {}  # prefix -> BcastPrefix
        self.pending = []       # (target client, frame) waiting for the end of the current command
        self.scheduled = False
        self.bcast_scheduled = False
        ks = server.ks
        from engine.commands.transactions import watch_registry
        watch_registry(server)              # WATCH installs its hook first; ours is chained after it
        previous = ks.on_key_modified

        def on_key_modified(c, spec, argv):
            if previous is not None:
                previous(c, spec, argv)
            self.key_modified(c, spec, argv)
        ks.on_key_modified = on_key_modified
        if previous is None or ks.key_hook_guards is not None:
            # both hooks return at once while these are all empty: the dispatcher skips the call then
            ks.key_hook_guards = (ks.key_hook_guards or []) + [self.table, self.prefix_table, self.states]
        server.add_key_deleted_listener(self.key_deleted, guards=[self.table, self.prefix_table])

    # ------------------------------------------------------------------ enable / disable
    def enable(self, c, redirect, bcast, optin, optout, noloop, prefixes):
        st = self.states.get(c)
        if st is None:
            st = self.states[c] = TrackingState()
            self.by_id[c.id] = c
        st.broken = st.bcast = st.optin = st.optout = st.noloop = False
        st.redirect = redirect
        if bcast:
            st.bcast = True
            for prefix in (prefixes or [b""]):
                if prefix in st.prefixes:
                    continue
                st.prefixes.append(prefix)
                self.prefix_table.setdefault(prefix, BcastPrefix()).clients[c] = None
        st.optin, st.optout, st.noloop = optin, optout, noloop
        self.server.dispatcher.tracking_hook = self.after_call

    def disable(self, c):
        st = self.states.pop(c, None)
        if st is None:
            return
        self.by_id.pop(c.id, None)
        for prefix in st.prefixes:
            bs = self.prefix_table.get(prefix)
            if bs is not None:
                bs.clients.pop(c, None)
                if not bs.clients:
                    del self.prefix_table[prefix]
        if not self.states and not self.pending:
            self.server.dispatcher.tracking_hook = None

    def client_disconnected(self, c):
        self.disable(c)

    def reset_client(self, c):
        self.disable(c)

    def tracking_client(self, c):
        """The client whose tracking a command of c counts for: c, or the caller of the running script."""
        if c.conn is None:
            runner = self.server.extensions.get("scripting")
            if runner is not None and runner.caller is not None:
                return runner.caller
        return c

    # ------------------------------------------------------------------ reads
    def after_call(self, c, spec, argv):
        top = c.conn is not None and not c.deny_blocking
        owner = self.tracking_client(c)
        st = self.states.get(owner)
        if st is not None:
            if spec.flags & 2 and not st.bcast and spec.name not in NOT_TRACKED:   # CMD_READONLY
                if not ((st.optin and not st.caching) or (st.optout and st.caching)):
                    self.remember(owner, spec, argv)
            if top and st.caching and c.multi_queue is None and not spec.name.startswith("client|"):
                st.caching = False
        if top and self.pending:
            self.flush_pending(c)

    def remember(self, owner, spec, argv):
        keys = get_keys(spec, argv)
        if not keys or spec.name in ("ssubscribe", "sunsubscribe", "spublish"):
            return
        table = self.table
        for pos, _ in keys:
            key = argv[pos]
            ids = table.get(key)
            if ids is None:
                ids = table[key] = {}
            if owner.id not in ids:
                ids[owner.id] = None
                self.items += 1
        limit = self.server.config["tracking-table-max-keys"]
        if limit and len(table) > limit:
            self.limit_used_slots(limit)

    def limit_used_slots(self, limit):
        """redis trackingLimitUsedSlots: over tracking-table-max-keys, keys leave the table with an
        invalidation to their readers (here the longest-tracked first; redis picks them at random)."""
        while len(self.table) > limit:
            key = next(iter(self.table))
            self.invalidate(None, key, bcast=False)

    # ------------------------------------------------------------------ invalidation
    def key_modified(self, c, spec, argv):
        if not self.table and not self.prefix_table and not self.states:
            return
        name = spec.name
        writer = self.tracking_client(c)
        if name in ("flushall", "flushdb"):
            self.flushed(writer)
            return
        if name == "swapdb":
            return                          # redis 7.0 sends nothing for SWAPDB
        if not self.prefix_table:
            table = self.table
            for a in argv[1:]:
                if a in table:
                    break
            else:
                return                      # no argument names a tracked key: nothing to find out
        for pos, flags in get_keys(spec, argv):
            if "RO" in flags:
                continue
            self.invalidate(writer, argv[pos])

    def key_deleted(self, db, key, reason):
        if self.table or self.prefix_table:
            self.invalidate(None, key)

    def invalidate(self, writer, key, bcast=True):
        """redis trackingInvalidateKey: tell the readers of key (and queue it for BCAST prefixes)."""
        if bcast and self.prefix_table:
            self.remember_for_broadcast(writer, key)
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.items -= len(ids)
        frame = None
        for cid in ids:
            target = self.by_id.get(cid)
            st = self.states.get(target) if target is not None else None
            if st is None or st.bcast:
                continue
            if st.noloop and target is writer:
                continue
            if frame is None:
                frame = key_frame(key)
            self.send(target, st, frame)

    def flushed(self, writer=None):
        """FLUSHDB / FLUSHALL (and memcached flush_all): a null invalidation to every tracking client."""
        for target, st in list(self.states.items()):
            self.send(target, st, NULL_BY_RESP[3 if target.reply.resp >= 3 else 2])
        self.table.clear()          # the same dict: Keyspace.key_hook_guards holds it
        self.items = 0

    def send(self, target, st, value):
        """redis sendTrackingMessage: a push in RESP3, a __redis__:invalidate message to a RESP2 redirect
        target in subscriber mode, nothing to a RESP2 client without redirection."""
        redirected = False
        if st.redirect:
            conn = self.server.clients.get(st.redirect)
            if conn is None or conn.client is None:
                st.broken = True
                if target.reply.resp > 2:
                    self.deliver(target, b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % st.redirect)
                return
            target = conn.client
            redirected = True
        if target.reply.resp > 2:
            self.deliver(target, b">2\r\n$10\r\ninvalidate\r\n" + value)
        elif redirected and target.pubsub is not None and target.pubsub.active():
            self.deliver(target, b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n" + value)

    def deliver(self, target, frame):
        self.pending.append((target, frame))
        if not self.scheduled:
            self.scheduled = True
            self.server.loop.call_soon(self.flush_pending)
        if self.server.dispatcher.tracking_hook is None:
            self.server.dispatcher.tracking_hook = self.after_call

    def flush_pending(self, current=None):
        """Write the queued messages: after the reply of the command that caused them for its own client,
        at once for everybody else."""
        if current is None:
            self.scheduled = False
        pending, self.pending = self.pending, []
        for target, frame in pending:
            if target is current:
                target.reply.add_raw(frame)
                continue
            conn = target.conn
            if conn is not None and not conn.closing:
                conn.write_raw(frame)
        if not self.states and not self.pending:
            self.server.dispatcher.tracking_hook = None

    # ------------------------------------------------------------------ BCAST
    def remember_for_broadcast(self, writer, key):
        for prefix, bs in self.prefix_table.items():
            if key.startswith(prefix):
                bs.keys[key] = writer
                if not self.bcast_scheduled:
                    self.bcast_scheduled = True
                    self.server.loop.call_soon(self.broadcast)

    def broadcast(self):
        """redis trackingBroadcastInvalidationMessages, once per event-loop pass."""
        self.bcast_scheduled = False
        for prefix in sorted(self.prefix_table):
            bs = self.prefix_table[prefix]
            if not bs.keys:
                continue
            keys = sorted(bs.keys)
            full = None
            for target in list(bs.clients):
                st = self.states.get(target)
                if st is None:
                    continue
                if st.noloop:
                    mine = [k for k in keys if bs.keys[k] is not target]
                    if not mine:
                        continue
                    frame = _keys_frame(mine)
                else:
                    if full is None:
                        full = _keys_frame(keys)
                    frame = full
                self.send(target, st, frame)
            bs.keys = {}
        self.flush_pending()

    # ------------------------------------------------------------------ INFO
    def prefix_count(self):
        return len(self.prefix_table)


def _keys_frame(keys):
    return b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)


def tracking(server, create=True):
    ext = server.extensions.get("tracking")
    if ext is None and create:
        ext = server.extensions["tracking"] = Tracking(server)
    return ext
