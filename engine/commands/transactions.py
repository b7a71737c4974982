"""Transactions (redis multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH.

Queueing happens in the dispatcher (engine/core.pyx): inside MULTI every command but EXEC, DISCARD,
MULTI, WATCH, QUIT and RESET is checked, queued and answered +QUEUED; a command rejected while queueing
flags the transaction so EXEC answers EXECABORT. EXEC runs the queue as one effect unit (wrapped in
MULTI/EXEC for AOF and replicas when it holds several writes) with blocking commands answering at once.

WATCH: a watched key is touched by any write to it (the dispatcher's on_key_modified hook, by the key
positions the command's key specs do not mark read-only; MOVE and COPY ... DB also touch the other db), by
FLUSHDB/FLUSHALL/SWAPDB when the key is present in the emptied or the incoming db (db_emptied, called by
those commands before the change, as redis touchAllWatchedKeysInDb), and by expiry or eviction (the
keyspace's deletion listeners).
"""
from engine.registry import command


# what a watched key was when WATCH ran (the value of c.watched[(db, key)])
WATCHED_ABSENT, WATCHED_LIVE, WATCHED_EXPIRED = 0, 1, 2


def _target_db(name, argv):
    """The other db a MOVE (argv[2]) or COPY ... DB n writes to, as an int, else None."""
    raw = None
    if name == "move" and len(argv) > 2:
        raw = argv[2]
    elif name == "copy":
        for i in range(3, len(argv) - 1):
            if argv[i].lower() == b"db":
                raw = argv[i + 1]
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


class WatchRegistry:
    """(db id, key) -> clients watching it; lives in server.extensions["watch"]."""

    def __init__(self, server):
        self.server = server
        self.watchers = {}
        server.ks.on_key_modified = self.on_key_modified
        server.ks.key_hook_guards = [self.watchers]     # the hook is a no-op while nobody watches
        server.add_key_deleted_listener(self.on_key_deleted, guards=[self.watchers])

    def watch(self, c, key):
        slot = (c.db.id, key)
        if c.watched is None:
            c.watched = {}
        if slot in c.watched:
            return
        e = c.db.find(key)
        if e is None:
            state = WATCHED_ABSENT
        elif 0 <= e.expire_at <= c.ks.now_ms:
            state = WATCHED_EXPIRED         # redis watchedKey.expired: logically gone already
        else:
            state = WATCHED_LIVE
        c.watched[slot] = state
        self.watchers.setdefault(slot, set()).add(c)

    def unwatch_all(self, c):
        if c.watched:
            for slot in c.watched:
                clients = self.watchers.get(slot)
                if clients is not None:
                    clients.discard(c)
                    if not clients:
                        del self.watchers[slot]
        c.watched = None
        c.multi_dirty_cas = False

    def touch(self, dbid, key):
        clients = self.watchers.get((dbid, key))
        if clients:
            for cl in clients:
                cl.multi_dirty_cas = True

    def touch_db(self, dbid):
        """Flag every watcher of db `dbid` (None: all dbs); memcached's flush_all."""
        for (wdb, _), clients in self.watchers.items():
            if dbid is None or wdb == dbid:
                for cl in clients:
                    cl.multi_dirty_cas = True

    def db_emptied(self, emptied, replaced_with=None):
        """redis touchAllWatchedKeysInDb, called before `emptied` loses its keys (FLUSHDB, FLUSHALL) or
        trades them for `replaced_with`'s (SWAPDB): only watchers of a key present in either are flagged."""
        if not self.watchers:
            return
        now = emptied.ks.now_ms
        for (wdb, key), clients in list(self.watchers.items()):
            if wdb != emptied.id:
                continue
            in_emptied = emptied.find(key) is not None
            incoming = replaced_with.find(key) if replaced_with is not None else None
            if not in_emptied and incoming is None:
                continue
            incoming_expired = incoming is not None and 0 <= incoming.expire_at <= now
            for cl in clients:
                slot = (wdb, key)
                if cl.watched.get(slot) == WATCHED_EXPIRED:
                    if incoming is None:
                        cl.watched[slot] = WATCHED_ABSENT   # an expired key deleted: no logical change
                        continue
                    if incoming_expired:
                        continue                            # still expired
                elif not in_emptied and incoming_expired:
                    cl.watched[slot] = WATCHED_EXPIRED      # absent, replaced by an expired key
                    continue
                cl.multi_dirty_cas = True

    def on_key_modified(self, c, spec, argv):
        """After a write: flag watchers of the keys it wrote (not those it only read, key-spec RO)."""
        if not self.watchers:
            return
        name = spec.name
        if name in ("flushall", "flushdb", "swapdb"):
            return                      # flagged before the change, by db_emptied
        from engine.commands.introspection import get_keys
        dbid = c.db.id
        other_db = _target_db(name, argv)
        for pos, flags in get_keys(spec, argv):
            if "RO" in flags:
                continue
            if name == "copy" and pos == 2 and other_db is not None:
                self.touch(other_db, argv[pos])     # COPY src dst DB n writes dst in db n
                continue
            self.touch(dbid, argv[pos])
            if name == "move" and other_db is not None:
                self.touch(other_db, argv[pos])     # MOVE key db: gone here, created there

    def on_key_deleted(self, db, key, reason):
        if self.watchers:
            self.touch(db.id, key)

    def expired_since_watch(self, c):
        """redis 7.0 isWatchedKeyExpired: a key that existed when watched has expired since."""
        now = c.ks.now_ms
        for (dbid, key), state in c.watched.items():
            if state != WATCHED_LIVE:
                continue
            e = c.ks.dbs[dbid].find(key)
            if e is None or 0 <= e.expire_at <= now:
                return True
        return False

    def client_disconnected(self, c):
        self.unwatch_all(c)

    def reset_client(self, c):
        self.unwatch_all(c)


def key_positions(spec, argv):
    if spec.getkeys is not None and spec.has_flag("movablekeys"):
        out = []
        for item in spec.getkeys(argv):
            out.append(item[0] if isinstance(item, tuple) else item)
        return out
    first = spec.first_key
    if first <= 0:
        return []
    last = spec.last_key
    if last < 0:
        last = len(argv) + last
    step = spec.key_step or 1
    return [i for i in range(first, min(last, len(argv) - 1) + 1, step)]


def watch_registry(server):
    reg = server.extensions.get("watch")
    if reg is None:
        reg = server.extensions["watch"] = WatchRegistry(server)
    return reg


def discard_transaction(c):
    c.multi_queue = None
    c.multi_error = False
    if c.server is not None:
        watch_registry(c.server).unwatch_all(c)


@command(
    "multi", 1, "noscript loading stale fast allow_busy", acl="transaction",
    docs={
        "summary": "Mark the start of a transaction block",
        "since": "1.2.0",
        "group": "transactions",
        "complexity": "O(1)",
    },
)
def multi_command(c, argv):
    if c.multi_queue is not None:
        c.error(b"ERR MULTI calls can not be nested")
        return
    c.multi_queue = []
    c.multi_error = False
    c.reply.add_ok()


@command(
    "exec", 1, "noscript loading stale skip_slowlog", acl="transaction",
    docs={
        "summary": "Execute all commands issued after MULTI",
        "since": "1.2.0",
        "group": "transactions",
        "complexity": "Depends on commands in the transaction",
    },
)
def exec_command(c, argv):
    if c.multi_queue is None:
        c.error(b"ERR EXEC without MULTI")
        return
    queue = c.multi_queue
    if c.multi_error:
        discard_transaction(c)
        c.error(b"EXECABORT Transaction discarded because of previous errors.")
        return
    registry = watch_registry(c.server)
    if c.multi_dirty_cas or (c.watched and registry.expired_since_watch(c)):
        discard_transaction(c)
        c.reply.add_null_array()
        return
    registry.unwatch_all(c)
    c.multi_queue = None
    dispatcher = c.server.dispatcher
    effects = c.ks.effects
    exec_spec = c.cmd
    c.reply.add_array_len(len(queue))
    effects.begin_unit()
    c.deny_blocking = True
    try:
        acl = c.server.extensions.get("acl")
        for spec, args in queue:
            if acl is not None and c.acl_user is not None and not c.acl_user.unrestricted:
                # redis execCommand: ACL rules may have changed since the command was queued
                denied = acl.check_exec(c, spec, args)
                if denied is not None:
                    c.error(denied)
                    continue
            dispatcher.call(c, spec, args)
    finally:
        c.deny_blocking = False
        effects.end_unit()
    # the queued commands already propagated themselves; EXEC itself has no effect of its own
    c.cmd = exec_spec
    c.dirty = 0
    c.effect_override = None


@command(
    "discard", 1, "noscript loading stale fast allow_busy", acl="transaction",
    docs={
        "summary": "Discard all commands issued after MULTI",
        "since": "2.0.0",
        "group": "transactions",
        "complexity": "O(N), when N is the number of queued commands",
    },
)
def discard_command(c, argv):
    if c.multi_queue is None:
        c.error(b"ERR DISCARD without MULTI")
        return
    discard_transaction(c)
    c.reply.add_ok()


@command(
    "watch", -2, "noscript loading stale fast allow_busy", acl="transaction", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Watch the given keys to determine execution of the MULTI/EXEC block",
        "since": "2.2.0",
        "group": "transactions",
        "complexity": "O(1) for every key.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]}],
    },
)
def watch_command(c, argv):
    if c.multi_queue is not None:
        c.error(b"ERR WATCH inside MULTI is not allowed")
        return
    registry = watch_registry(c.server)
    for key in argv[1:]:
        registry.watch(c, key)
    c.reply.add_ok()


@command(
    "unwatch", 1, "noscript loading stale fast allow_busy", acl="transaction",
    docs={
        "summary": "Forget about all watched keys",
        "since": "2.2.0",
        "group": "transactions",
        "complexity": "O(1)",
    },
)
def unwatch_command(c, argv):
    watch_registry(c.server).unwatch_all(c)
    c.reply.add_ok()
