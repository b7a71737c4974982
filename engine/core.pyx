# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Keyspace, command context, effect log and dispatcher: the engine's hot core.

Data flows one way: the connection hands each parsed argv to Dispatcher.execute, the handler works on
the Db type API and writes its reply into Client.reply, and a write that changed something yields one
deterministic effect (EffectLog.emit) that persistence and replication both consume.

The hot command families are compiled into this module through ``include`` so that calls between the
dispatcher, the keyspace and the handlers stay C calls; colder families are Python modules in
engine/commands/ that register through the same ``@command`` declaration.
"""
cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdio cimport snprintf
from libc.string cimport memcpy
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME, CLOCK_MONOTONIC

from protocol.resp cimport ReplyBuffer
from engine.spec cimport (CommandSpec, CMD_WRITE, CMD_NO_AUTH, CMD_INTERNAL, CMD_MAY_REPLICATE, CMD_NO_MULTI,
                          CMD_SKIP_MONITOR, CMD_SKIP_SLOWLOG, CMD_READONLY, CMD_DENYOOM)
from engine import registry
from engine.registry import command, container

import random as _random


cdef inline long long wall_ms():
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return <long long>ts.tv_sec * 1000 + ts.tv_nsec // 1000000


cdef inline long long mono_us():
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <long long>ts.tv_sec * 1000000 + ts.tv_nsec // 1000


def now_ms():
    return wall_ms()


# ---------------------------------------------------------------------------------------------------
# Shared reply texts (redis server.c createSharedObjects)
# ---------------------------------------------------------------------------------------------------
WRONGTYPE = b"WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX_ERR = b"ERR syntax error"
NOT_INTEGER = b"ERR value is not an integer or out of range"
NOT_FLOAT = b"ERR value is not a valid float"
NO_SUCH_KEY = b"ERR no such key"
OUT_OF_RANGE = b"ERR index out of range"
DB_INDEX_ERR = b"ERR DB index is out of range"

# Python type -> TYPE name; value types defined outside the core register themselves here
TYPE_NAMES = {bytes: b"string", dict: b"hash", set: b"set"}


def register_value_type(pytype, bytes name):
    TYPE_NAMES[pytype] = name


cpdef bytes type_name(object value):
    cdef object t = type(value)
    if t is bytes:
        return b"string"
    name = TYPE_NAMES.get(t)
    if name is None:
        name = getattr(value, "type_name", b"none")
    return name


include "evict.pxi"


# ---------------------------------------------------------------------------------------------------
# Keyspace
# ---------------------------------------------------------------------------------------------------
@cython.no_gc
cdef class Entry:
    # no_gc: an Entry holds a value (bytes or a container of bytes) and can never be part of a reference
    # cycle, so the cyclic GC need not track millions of them (saves 16 B per key and GC scan time).
    def __cinit__(self):
        self.expire_at = -1
        self.vslot = -1

    def __repr__(self):
        return f"<Entry {type(self.value).__name__} expire_at={self.expire_at}>"


cdef class Db:
    def __init__(self, int id, Keyspace ks):
        self.id = id
        self.ks = ks
        self.table = {}
        self.keys = []
        self.volatile = []

    cpdef long long size(self):
        return len(self.table)

    cpdef Entry find(self, bytes key):
        """The entry as stored, expired or not; None when absent."""
        return <Entry>self.table.get(key)

    cpdef bint expire_if_needed(self, bytes key, Entry e):
        """Lazy expiry (redis db.c expireIfNeeded): True when the key is logically gone.

        A replica reports the key as missing but leaves deletion to its primary's DEL.
        """
        if e.expire_at < 0 or e.expire_at > self.ks.now_ms:
            return False
        if self.ks.is_replica:
            return True
        self.ks.stat_expired += 1
        self.delete(key)
        self.ks.effects.emit(self.id, [b"DEL", key])
        if self.ks.on_key_deleted is not None:
            self.ks.on_key_deleted(self, key, b"expired")
        return True

    cdef inline void touch(self, Entry e):
        """Record an access for LRU/LFU eviction (redis lookupKey's updateLFU / LRU_CLOCK)."""
        cdef Keyspace ks = self.ks
        if policy_is_lfu(ks.policy):
            e.lru = (lfu_minutes(ks.now_ms) << 8) | lfu_log_incr(ks, lfu_decr_and_return(ks, e))
        else:
            e.lru = ks.lru_clock

    cpdef Entry lookup_read(self, bytes key):
        """Lookup for a read: lazy expiry plus keyspace_hits/misses and the LRU/LFU touch."""
        cdef Entry e = <Entry>self.table.get(key)
        if e is None:
            self.ks.stat_misses += 1
            return None
        if e.expire_at >= 0 and self.expire_if_needed(key, e):
            self.ks.stat_misses += 1
            return None
        self.ks.stat_hits += 1
        self.touch(e)
        return e

    cpdef Entry lookup_write(self, bytes key):
        """Lookup for a write: lazy expiry, no hit/miss accounting."""
        cdef Entry e = <Entry>self.table.get(key)
        if e is None:
            return None
        if e.expire_at >= 0 and self.expire_if_needed(key, e):
            return None
        self.touch(e)
        return e

    cpdef Entry add(self, bytes key, object value):
        """Insert a key known to be absent (memory is accounted by the dispatcher after the command,
        or by `account` for writers outside it)."""
        cdef Entry e = Entry()
        e.value = value
        e.slot = len(self.keys)
        if policy_is_lfu(self.ks.policy):
            e.lru = (lfu_minutes(self.ks.now_ms) << 8) | LFU_INIT_VAL
        else:
            e.lru = self.ks.lru_clock
        self.keys.append(key)
        self.table[key] = e
        return e

    cpdef account(self, bytes key, Entry e):
        """Re-estimate what key costs and update used_memory by the difference."""
        cdef long long cost = PER_KEY_OVERHEAD + bytes_cost(key) + value_cost(e.value)
        cdef long long delta = cost - e.mem
        e.mem = <unsigned int>cost if cost < 0xFFFFFFFF else 0xFFFFFFFF
        self.used_memory += delta
        self.ks.used_memory += delta

    cpdef Entry set_value(self, bytes key, object value, long long expire_at=-1, bint keep_ttl=False):
        """SET semantics: create or overwrite the value; the TTL is replaced unless keep_ttl."""
        cdef Entry e = <Entry>self.table.get(key)
        if e is None:
            e = self.add(key, value)
        else:
            e.value = value
            e.cas = 0
            e.mc_flags = 0
            e.raw = 0
            if keep_ttl:
                return e
        if expire_at >= 0:
            self.set_expire(key, e, expire_at)
        elif e.vslot >= 0:
            self.remove_expire(key, e)
        return e

    cpdef bint delete(self, bytes key):
        cdef Entry e = <Entry>self.table.pop(key, None)
        cdef Entry moved
        cdef object last
        cdef int slot
        if e is None:
            return False
        if e.mem:
            self.used_memory -= e.mem
            self.ks.used_memory -= e.mem
        if e.vslot >= 0:
            self._volatile_remove(e)
        slot = e.slot
        last = self.keys.pop()
        if slot < len(self.keys):
            self.keys[slot] = last
            moved = <Entry>self.table[last]
            moved.slot = slot
        return True

    cdef _volatile_remove(self, Entry e):
        cdef int slot = e.vslot
        cdef object last = self.volatile.pop()
        cdef Entry moved
        if slot < len(self.volatile):
            self.volatile[slot] = last
            moved = <Entry>self.table[last]
            moved.vslot = slot
        e.vslot = -1

    cpdef set_expire(self, bytes key, Entry e, long long at):
        e.expire_at = at
        if e.vslot < 0:
            e.vslot = len(self.volatile)
            self.volatile.append(key)

    cpdef remove_expire(self, bytes key, Entry e):
        e.expire_at = -1
        if e.vslot >= 0:
            self._volatile_remove(e)

    cpdef clear(self):
        self.table = {}
        self.keys = []
        self.volatile = []
        self.ks.used_memory -= self.used_memory
        self.used_memory = 0

    def random_key(self):
        """A uniformly random key, or None (expired keys are skipped and reclaimed as redis does)."""
        cdef int tries = 0
        while self.keys:
            key = self.keys[_random.randrange(len(self.keys))]
            e = <Entry>self.table[key]
            if e.expire_at >= 0 and e.expire_at <= self.ks.now_ms:
                if len(self.volatile) == len(self.keys) and tries > 100:
                    return key    # every key is volatile: answer one rather than loop (redis does the same)
                tries += 1
                self.expire_if_needed(key, e)
                continue
            return key
        return None

    def scan(self, long long cursor, long long count, match=None, type_filter=None):
        """SCAN over the dense key index from the top down (see ARCHITECTURE.md: every key present for the
        whole scan is returned; swap-remove only moves an already visited key lower)."""
        cdef long long n = len(self.keys)
        cdef long long i
        cdef list out = []
        cdef long long visited = 0
        i = n if cursor == 0 or cursor > n else cursor
        while i > 0 and visited < count:
            i -= 1
            visited += 1
            out.append(self.keys[i])
        return (i if i > 0 else 0), out

    def expires_count(self):
        return len(self.volatile)


cdef class EffectLog:
    """The one stream of deterministic write effects, encoded once as RESP with SELECT insertion."""

    def __init__(self):
        self.subscribers = []
        self.last_dbid = -1
        self.unit_depth = 0
        self.unit = None
        self.count = 0

    cpdef subscribe(self, object callback):
        self.subscribers.append(callback)
        self.last_dbid = -1       # a new consumer needs an explicit SELECT first

    cpdef unsubscribe(self, object callback):
        if callback in self.subscribers:
            self.subscribers.remove(callback)

    cpdef emit(self, int dbid, list argv):
        self.count += 1
        if not self.subscribers:
            return
        if self.unit_depth > 0:
            self.unit.append((dbid, argv))
            return
        self._send(dbid, argv)

    cpdef begin_unit(self):
        if self.unit_depth == 0:
            self.unit = []
        self.unit_depth += 1

    cpdef end_unit(self):
        """Close a MULTI/EXEC or script unit: wrap it in MULTI/EXEC when it holds several effects."""
        self.unit_depth -= 1
        if self.unit_depth > 0:
            return
        unit, self.unit = self.unit, None
        if not unit or not self.subscribers:
            return
        if len(unit) == 1:
            self._send(unit[0][0], unit[0][1])
            return
        self._send(unit[0][0], [b"MULTI"])
        for dbid, argv in unit:
            self._send(dbid, argv)
        self._send(self.last_dbid, [b"EXEC"])

    cdef _send(self, int dbid, list argv):
        cdef list parts = []
        if dbid != self.last_dbid:
            sel = str(dbid).encode()
            parts.append(b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(sel), sel))
            self.last_dbid = dbid
        parts.append(encode_command(argv))
        data = b"".join(parts)
        for cb in self.subscribers:
            cb(data)


cpdef bytes encode_command(list argv):
    """RESP multibulk encoding of one command (the form AOF and replicas consume)."""
    cdef list parts = [b"*%d\r\n" % len(argv)]
    for a in argv:
        if not isinstance(a, bytes):
            a = str(a).encode()
        parts.append(b"$%d\r\n" % len(<bytes>a))
        parts.append(a)
        parts.append(b"\r\n")
    return b"".join(parts)


cdef class Keyspace:
    def __init__(self, int databases=16):
        self.dbs = [Db(i, self) for i in range(databases)]
        self.effects = EffectLog()
        self.now_ms = wall_ms()
        self.next_cas = 1
        self.samples = 5
        self.lfu_log_factor = 10
        self.lfu_decay_time = 1
        self.tenacity = 10
        self.eviction_pool = []
        self.lru_clock = <unsigned int>((self.now_ms // 1000) & LRU_CLOCK_MAX)

    cpdef long long update_clock(self):
        self.now_ms = wall_ms()
        self.lru_clock = <unsigned int>((self.now_ms // 1000) & LRU_CLOCK_MAX)
        return self.now_ms

    def set_policy(self, str name):
        self.policy = POLICIES[name]
        self.eviction_pool = []

    cpdef int perform_evictions(self) except -1:
        """Evict keys until used_memory <= maxmemory (redis performEvictions): EVICT_OK, EVICT_RUNNING when
        the tenacity time budget ran out with work left, EVICT_FAIL when nothing more can be evicted."""
        cdef long long start
        cdef long long budget_us
        cdef int keys_freed = 0
        cdef Db db
        cdef bint volatile_only
        cdef list pool
        cdef tuple best
        cdef Py_ssize_t total
        cdef bytes key
        if self.maxmemory <= 0 or self.used_memory <= self.maxmemory:
            return EVICT_OK
        if self.policy == EVICT_NOEVICTION:
            self.stat_evict_fail += 1
            return EVICT_FAIL
        budget_us = 50 * self.tenacity if self.tenacity <= 10 else (500 * (1 << (self.tenacity - 10)) if self.tenacity < 100 else -1)
        start = mono_us()
        volatile_only = self.policy in (EVICT_VOLATILE_LRU, EVICT_VOLATILE_LFU, EVICT_VOLATILE_RANDOM, EVICT_VOLATILE_TTL)
        pool = self.eviction_pool
        while self.used_memory > self.maxmemory:
            best = None
            if self.policy == EVICT_ALLKEYS_RANDOM or self.policy == EVICT_VOLATILE_RANDOM:
                for db in self.dbs:
                    candidates = db.volatile if volatile_only else db.keys
                    if candidates:
                        best = (0, db.id, candidates[rand() % len(candidates)])
                        break
            else:
                while best is None:
                    total = 0
                    for db in self.dbs:
                        candidates = db.volatile if volatile_only else db.keys
                        if candidates:
                            pool_populate(self, db, candidates, pool)
                            total += len(candidates)
                    if total == 0:
                        break
                    while pool:
                        item = pool.pop()          # best candidate last
                        db = self.dbs[(<tuple>item)[1]]
                        key = (<tuple>item)[2]
                        e = db.table.get(key)
                        if e is not None and (not volatile_only or (<Entry>e).expire_at >= 0):
                            best = item
                            break
            if best is None:
                self.stat_evict_fail += 1
                return EVICT_FAIL
            evict_key(self, <Db>self.dbs[best[1]], <bytes>best[2])
            keys_freed += 1
            if keys_freed % 16 == 0 and budget_us >= 0 and mono_us() - start > budget_us:
                return EVICT_RUNNING
        return EVICT_OK

    cpdef Db db(self, int index):
        return <Db>self.dbs[index]

    def swap(self, int a, int b):
        """SWAPDB: exchange the contents of two databases (clients keep their db index)."""
        cdef Db da = self.dbs[a], dbb = self.dbs[b]
        da.table, dbb.table = dbb.table, da.table
        da.keys, dbb.keys = dbb.keys, da.keys
        da.volatile, dbb.volatile = dbb.volatile, da.volatile
        da.used_memory, dbb.used_memory = dbb.used_memory, da.used_memory

    def key_count(self):
        return sum(len((<Db>d).table) for d in self.dbs)


# ---------------------------------------------------------------------------------------------------
# Client: the per-connection command context
# ---------------------------------------------------------------------------------------------------
cdef class Client:
    def __init__(self, Keyspace ks, server=None, conn=None, long long id=0):
        self.ks = ks
        self.server = server
        self.conn = conn
        self.id = id
        self.db = ks.dbs[0]
        self.reply = ReplyBuffer()
        self.authenticated = True
        self.user = "default"
        self.name = None
        self.created_ms = ks.now_ms
        self.last_ms = ks.now_ms
        self.info = {}

    cpdef error(self, bytes message):
        """Reply with an error: counted for INFO errorstats and the command's failed_calls."""
        self.errors += 1
        self.reply.add_error(message)
        if self.server is not None:
            self.server.count_error(message)

    cpdef propagate_as(self, list argv):
        """Replace the effect of the current command (e.g. SET EX -> SET PXAT)."""
        self.effect_override = [argv]

    cpdef also_propagate(self, list argv):
        """Add an effect (several effects of one command are applied as one unit)."""
        if self.effect_override is None:
            self.effect_override = []
        self.effect_override.append(argv)

    cpdef prevent_propagation(self):
        self.effect_override = []

    cpdef select(self, int index):
        self.db = <Db>self.ks.dbs[index]

    @property
    def resp(self):
        return self.reply.resp


# ---------------------------------------------------------------------------------------------------
# Dispatcher
# ---------------------------------------------------------------------------------------------------
cdef bytes quote_args_for_unknown(list argv):
    """redis: "'%.*s' " per argument until 128 characters are used."""
    cdef bytes out = b""
    cdef int i
    for i in range(1, len(argv)):
        if len(out) >= 128:
            break
        room = 128 - len(out)
        out += b"'" + (<bytes>argv[i])[:room] + b"' "
    return out


ctypedef object (*HandlerFunc)(Client, list)


cdef bind_fast(bytes name, HandlerFunc fn):
    """Let the dispatcher call a compiled family's handler as a C function (no Python call)."""
    cdef CommandSpec spec = registry.COMMANDS[name]
    spec.cfunc = <void*>fn


# commands that run at once inside MULTI instead of being queued (redis processCommand)
MULTI_IMMEDIATE = frozenset(["exec", "discard", "multi", "watch", "quit", "reset"])
# what a RESP2 client in subscriber mode may still send
PUBSUB_CONTEXT_ALLOWED = frozenset(["ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
                                    "punsubscribe", "quit", "reset"])


cdef class Dispatcher:
    def __init__(self, Keyspace ks, dict table=None):
        self.ks = ks
        self.table = table if table is not None else registry.COMMANDS
        self.last_name = None
        self.last_spec = None
        self.slowlog_threshold_us = -1

    cpdef CommandSpec resolve(self, Client c, list argv):
        """The spec for argv (a subcommand when argv[0] is a container), or None after replying the error."""
        cdef bytes name = <bytes>argv[0]
        cdef CommandSpec spec
        cdef CommandSpec sub
        if name is self.last_name or name == self.last_name:
            spec = self.last_spec
        else:
            spec = <CommandSpec>self.table.get(name)
            if spec is None:
                spec = <CommandSpec>self.table.get(name.lower())
            if spec is not None:
                self.last_name = name
                self.last_spec = spec
        if spec is None or (spec.flags & CMD_INTERNAL and not c.is_master):
            lname = name.lower()
            if lname == b"post" or lname == b"host:":
                # cross-protocol scripting defence (redis securityWarningCommand): close without a reply
                if c.server is not None:
                    c.server.security_warning()
                c.close_after_reply = True
                return None
            c.error(b"ERR unknown command '" + name[:128] + b"', with args beginning with: " + quote_args_for_unknown(argv))
            return None
        if spec.subcommands is not None and len(argv) >= 2:
            sub = <CommandSpec>spec.subcommands.get((<bytes>argv[1]).lower())
            if sub is None:
                c.error(b"ERR unknown subcommand '" + (<bytes>argv[1])[:128] + b"'. Try " + spec.name_bytes.upper() + b" HELP.")
                return None
            spec = sub
        if (spec.arity > 0 and spec.arity != len(argv)) or len(argv) < -spec.arity:
            spec.rejected_calls += 1
            c.error(b"ERR wrong number of arguments for '" + spec.name_bytes + b"' command")
            return None
        return spec

    cpdef execute(self, Client c, list argv):
        """Run one command from a client: lookup, checks in redis processCommand order, call."""
        cdef CommandSpec spec = self.resolve(c, argv)
        if spec is None:
            if c.multi_queue is not None:
                c.multi_error = True      # redis flagTransaction: EXEC will answer EXECABORT
            return
        if self.auth_required and not c.authenticated and not (spec.flags & CMD_NO_AUTH):
            self.reject(c, spec, b"NOAUTH Authentication required.")
            return
        if c.pubsub is not None and c.reply.resp == 2 and c.pubsub.count() and spec.name not in PUBSUB_CONTEXT_ALLOWED:
            self.reject(c, spec, b"ERR Can't execute '" + spec.name_bytes + b"': only (P|S)SUBSCRIBE / "
                        b"(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
            return
        if self.before_call is not None and not self.before_call(c, spec, argv):
            return
        if self.ks.maxmemory > 0 and self.ks.used_memory > self.ks.maxmemory and not c.is_master:
            if self.ks.perform_evictions() == EVICT_FAIL and spec.flags & CMD_DENYOOM:
                self.reject(c, spec, b"OOM command not allowed when used memory > 'maxmemory'.")
                return
        if c.multi_queue is not None and spec.name not in MULTI_IMMEDIATE:
            if spec.flags & CMD_NO_MULTI:
                self.reject(c, spec, b"ERR Command not allowed inside a transaction")
                return
            c.multi_queue.append((spec, argv))
            c.reply.add_simple(b"QUEUED")
            return
        self.call(c, spec, argv)

    cdef account_keys(self, Client c, CommandSpec spec, list argv):
        """Re-estimate the memory of the keys a write command names (its key positions)."""
        cdef Py_ssize_t i, last, argc = len(argv)
        cdef int step
        cdef Db db = c.db
        cdef Entry e
        if spec.getkeys is not None:
            positions = [p[0] if isinstance(p, tuple) else p for p in spec.getkeys(argv)]
            for i in positions:
                e = <Entry>db.table.get(argv[i])
                if e is not None:
                    db.account(<bytes>argv[i], e)
            return
        if spec.first_key <= 0:
            return
        last = spec.last_key if spec.last_key >= 0 else argc + spec.last_key
        if last >= argc:
            last = argc - 1
        step = spec.key_step if spec.key_step > 0 else 1
        i = spec.first_key
        while i <= last:
            e = <Entry>db.table.get(argv[i])
            if e is not None:
                db.account(<bytes>argv[i], e)
            i += step

    cdef reject(self, Client c, CommandSpec spec, bytes message):
        spec.rejected_calls += 1
        if c.multi_queue is not None:
            c.multi_error = True
        c.error(message)

    cpdef call(self, Client c, CommandSpec spec, list argv):
        """Invoke the handler, account stats, and emit the command's effect (redis call())."""
        cdef long long start, elapsed
        cdef long long errors_before = c.errors
        c.cmd = spec
        c.dirty = 0
        c.effect_override = None
        if self.monitor_hook is not None and not (spec.flags & CMD_SKIP_MONITOR):
            self.monitor_hook(c, argv)
        start = mono_us()
        try:
            if spec.cfunc != NULL:
                (<HandlerFunc>spec.cfunc)(c, argv)
            else:
                spec.handler(c, argv)
        except Exception as exc:
            # a handler bug must cost one error reply, never the connection or the server
            c.error(("ERR internal error in '%s': %s" % (spec.name, exc)).encode())
            if c.server is not None:
                c.server.log.warning("Command %s raised %r" % (spec.name, exc))
        elapsed = mono_us() - start
        spec.calls += 1
        spec.usec += elapsed
        self.ks.stat_commands += 1
        if c.errors != errors_before:
            spec.failed_calls += 1
        if c.effect_override is not None:
            for eff in c.effect_override:
                self.ks.effects.emit(c.db.id, eff)
            self.ks.dirty += c.dirty
        elif c.dirty > 0:
            self.ks.dirty += c.dirty
            if spec.flags & (CMD_WRITE | CMD_MAY_REPLICATE):
                self.ks.effects.emit(c.db.id, argv)
        if c.dirty > 0:
            self.account_keys(c, spec, argv)
            if self.ks.on_key_modified is not None:
                self.ks.on_key_modified(c, spec, argv)
        if self.slowlog_threshold_us >= 0 and elapsed >= self.slowlog_threshold_us and self.slowlog_hook is not None \
                and not (spec.flags & CMD_SKIP_SLOWLOG):
            self.slowlog_hook(c, argv, elapsed)
        c.last_cmd = spec


# The hot command families, compiled into this module.
include "commands/t_string.pxi"
