"""Keyspace notifications (redis notify.c): Cachemere's change feed.

With `notify-keyspace-events` set (config file or CONFIG SET), every write publishes
`__keyspace@<db>__:<key>` -> <event> (class K) and `__keyevent@<db>__:<event>` -> <key> (class E).
Commands call ``notify(c, cls, event, key)`` where Redis calls notifyKeyspaceEvent; the cost when
notifications are off is one integer test (``Keyspace.notify_flags``).

Two classes are raised by the keyspace itself rather than by commands (engine/core.pyx), as redis db.c
does: ``n`` ("new") when a key is created (Db.rec_add, redis dbAdd: before the creating command's own
event; loading a snapshot is silent, as redis's dbAddRDBLoad), and ``m`` ("keymiss") when a read lookup
misses (Db.rec_lookup for a read and keys.lookup_notouch, wherever keyspace_misses is counted; redis
lookupKey without LOOKUP_WRITE / LOOKUP_NONOTIFY, so OBJECT and write lookups stay silent).
Neither is part of 'A'.
"""
K_KEYSPACE = 1 << 0
K_KEYEVENT = 1 << 1
CLASSES = {
    "g": 1 << 2, "$": 1 << 3, "l": 1 << 4, "s": 1 << 5, "h": 1 << 6, "z": 1 << 7, "x": 1 << 8, "e": 1 << 9,
    "t": 1 << 10, "m": 1 << 11, "d": 1 << 12, "n": 1 << 13,
}
ALL = sum(CLASSES[ch] for ch in "g$lshzxetd")   # 'A': every class but key-miss and new-key


def parse_flags(text: str) -> int:
    """redis keyspaceEventsStringToFlags; -1 on an invalid character."""
    flags = 0
    for ch in text:
        if ch == "A":
            flags |= ALL
        elif ch == "K":
            flags |= K_KEYSPACE
        elif ch == "E":
            flags |= K_KEYEVENT
        elif ch in CLASSES:
            flags |= CLASSES[ch]
        else:
            return -1
    return flags


NOTIFY_NEW = CLASSES["n"]          # engine/core.pyx tests these bits itself
NOTIFY_KEY_MISS = CLASSES["m"]


def notify(c, cls: str, event: bytes, key: bytes, dbid=None):
    """Publish a keyspace event for `key` if its class is enabled (c: a Client, or the Server)."""
    ks = c.ks
    flags = ks.notify_flags
    if not flags or not flags & CLASSES[cls] or not flags & (K_KEYSPACE | K_KEYEVENT):
        return
    server = c if ks.server is None else ks.server
    if dbid is None:
        dbid = c.db.id
    _publish(server, flags, event, key, dbid)


def notify_db(ks, cls: str, event: bytes, key: bytes, dbid: int):
    """The same for code that has no client (the keyspace itself: new keys, key misses)."""
    flags = ks.notify_flags
    if not flags & CLASSES[cls] or not flags & (K_KEYSPACE | K_KEYEVENT) or ks.server is None:
        return
    _publish(ks.server, flags, event, key, dbid)


def _publish(server, flags, event, key, dbid):
    ps = server.pubsub
    db = str(dbid).encode()
    if flags & K_KEYSPACE:
        ps.publish(b"__keyspace@" + db + b"__:" + key, event)
    if flags & K_KEYEVENT:
        ps.publish(b"__keyevent@" + db + b"__:" + event, key)


class _Deleted:
    """Adapter so expiry/eviction deletions (which have no client) can notify."""

    def __init__(self, server):
        self.server = server
        self.ks = server.ks

    def __call__(self, db, key, reason):
        # b"slot": a key dropped by Db.delete_keys_in_slot, which redis tells modules only, not clients
        if self.ks.notify_flags and reason != b"slot":
            notify(self, "x" if reason == b"expired" else "e", reason, key, db.id)


def install(server):
    """Wire notifications to a Server: config hook, expiry/eviction events."""
    server.ks.server = server

    def apply(value):
        flags = max(0, parse_flags(value if isinstance(value, str) else value.decode()))
        # classes without K or E publish nothing: keep the hot paths' test at zero then
        server.ks.notify_flags = flags if flags & (K_KEYSPACE | K_KEYEVENT) else 0
    apply(server.config["notify-keyspace-events"])
    server.config.on_change("notify-keyspace-events", apply)
    server.add_key_deleted_listener(_Deleted(server), guards=[])     # a no-op while ks.notify_flags is 0
