"""lazyfree (redis lazyfree.c), shared by DEL/UNLINK and FLUSHDB/FLUSHALL: a value whose free effort is over
LAZYFREE_THRESHOLD is released after the reply (the event loop's next pass, since this is one thread) instead
of inside the command, and counted in INFO memory lazyfree_pending_objects / lazyfreed_objects; an
asynchronous flush counts every key it removed, as redis emptyDbAsync does."""
from engine.types.listvalue import ListValue

LAZYFREE_THRESHOLD = 64
LIST_NODE_BYTES = 8192          # list-max-listpack-size -2: one quicklist node per 8 KB of entries


def free_effort(c, e):
    """redis lazyfreeGetFreeEffort: allocations a free has to walk: 1 for a string or a compact encoding
    (listpack, intset), the element count for a hashtable or skiplist, quicklist nodes for a list."""
    value = e.value
    if isinstance(value, bytes):
        return 1
    from engine.commands.object import encoding_of
    try:
        encoding = encoding_of(c, e)
    except Exception:
        encoding = b""
    if encoding in (b"hashtable", b"skiplist"):
        return len(value)
    if isinstance(value, ListValue) and len(value):
        n = len(value)
        sample = [len(value[i]) for i in range(0, n, max(1, n // 16))][:16]
        return max(1, (n * (sum(sample) // len(sample) + 2)) // LIST_NODE_BYTES + 1)
    return 1


class LazyFree:
    def __init__(self, server):
        self.server = server
        self.pending = []
        self.freed = 0

    def defer(self, value):
        if not self.pending and self.server.loop is not None:
            self.server.loop.call_soon(self._free)
        self.pending.append(value)

    def _free(self):
        values, self.pending = self.pending, []
        self.freed += len(values)
        del values

    def flushed(self, keys):
        self.freed += keys

    def info_fields(self):
        return [("lazyfree_pending_objects", len(self.pending)), ("lazyfreed_objects", self.freed)]


def lazyfree(server):
    ext = server.extensions.get("lazyfree")
    if ext is None:
        ext = server.extensions["lazyfree"] = LazyFree(server)
    return ext


def delete_maybe_lazy(c, key, lazy):
    """Delete a key found by lookup_write; a large value goes to the lazyfree queue when `lazy`."""
    if lazy and c.server is not None:
        e = c.db.find(key)
        value = e.value if e is not None and not isinstance(e.value, bytes) else None
        if value is not None and free_effort(c, e) > LAZYFREE_THRESHOLD:
            deleted = c.db.delete(key)
            if deleted:
                lazyfree(c.server).defer(value)
            return deleted
    return c.db.delete(key)


def flush_is_async(c, argv):
    """FLUSHDB/FLUSHALL [ASYNC|SYNC]: ASYNC, or neither with lazyfree-lazy-user-flush yes."""
    if len(argv) == 2:
        return argv[1].lower() == b"async"
    return bool(c.server is not None and c.server.config["lazyfree-lazy-user-flush"])
