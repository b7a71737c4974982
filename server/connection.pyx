# cython: language_level=3, boundscheck=False, wraparound=False
"""The RESP connection: asyncio callbacks around parser -> dispatcher -> reply buffer -> one write.

No coroutine per command: every complete command in a read is executed and all replies leave in a
single transport.write (pipelining).  A blocked client stops parsing until it is woken.
"""
import asyncio
import time

from protocol.resp cimport RespParser, ReplyBuffer, ProtocolErrorInfo
from engine.core cimport Client, Dispatcher, Keyspace, Db, cm_rec
from engine.prefetch cimport PF_MAX, pf_records, pf_slot_of_hash, CM_PREFETCH, _Py_HashBytes
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_FromStringAndSize
from server.direct_send cimport send_now, plain_socket_fd, transport_drained
from server.socket_reader cimport SocketReading

# Called as hook(conn) before replies are written (the AOF write/fsync of the batch's effects, redis
# beforeSleep order); None when nothing needs it.  A true result from flush() means the hook holds this
# connection's replies for a group commit and will call flush() again; write_raw passes None (no holding).
# Set by server/persistence.py through set_before_reply().
cdef object _before_reply = None
cdef GroupCommit _group = None        # _before_reply when it is the AOF's GroupCommit: held without a Python call


def set_before_reply(hook):
    global _before_reply, _group
    _before_reply = hook
    _group = hook if isinstance(hook, GroupCommit) else None


cdef class GroupCommit:
    """The AOF's hold of replies (server/persistence.py): a connection with replies to write while effects are
    pending (or other replies are already held) is held, and one `write_pending()` (write, +fsync under
    appendfsync always) runs before every held connection writes (redis beforeSleep: flushAppendOnlyFile, then
    the replies). Compiled so the hold costs no Python call per connection; called as hook(conn) it is the
    before_reply protocol (None: commit now, nothing held)."""
    cdef public bytearray pending       # the AOF's pending effects (the EffectLog buffer subscriber)
    cdef public object write_pending    # the persistence's write (errors, fsync policy, stats)
    cdef public object server           # .loop: call_soon for the commit
    cdef public list held
    cdef public bint in_commit

    def __init__(self, bytearray pending, write_pending, server):
        self.pending = pending
        self.write_pending = write_pending
        self.server = server
        self.held = []
        self.in_commit = False

    cdef inline bint idle(self):
        return self.in_commit or (PyByteArray_GET_SIZE(self.pending) == 0 and not self.held)

    cdef bint hold(self, RespConnection conn) except -1:
        if self.idle():
            return False
        loop = self.server.loop
        if conn is None or conn.client.close_after_reply or loop is None:
            self.write_pending()          # this output cannot wait: commit now
            return False
        if not self.held:
            loop.call_soon(self.commit)
        self.held.append(conn)
        return True

    def __call__(self, conn):
        if conn is None:
            if not self.idle():
                self.write_pending()
            return False
        return self.hold(<RespConnection>conn)

    def commit(self):
        """Write the pending effects, then the replies of every held connection."""
        cdef list held = self.held
        cdef RespConnection conn
        self.held = []
        self.write_pending()
        self.in_commit = True
        try:
            for conn in held:
                conn.flush()
        finally:
            self.in_commit = False

# Called after each command a connection executes while some blocked client may be served (redis runs
# handleClientsBlockedOnKeys right after call()); None otherwise, so it costs nothing when nobody waits.
# Set by server/blocked.py through set_after_command().
cdef object _after_command = None


def set_after_command(hook):
    global _after_command
    _after_command = hook


# Called before a subscriber's commands run, so messages published earlier in this event-loop pass reach it
# before its own replies (redis appends both to one output buffer).  Set by server/pubsub.py.
cdef object _pubsub_flush = None


def set_pubsub_flush(hook):
    global _pubsub_flush
    _pubsub_flush = hook


# client-output-buffer-limit normal <hard> <soft> <seconds> (redis checkClientOutputBufferLimits for normal
# clients; replicas and subscribers have their own classes, in replication/ and server/pubsub.py).  Set by
# server/pubsub.py through set_normal_output_limit(); all zero (redis's default) costs nothing.
cdef long long _obuf_hard = 0
cdef long long _obuf_soft = 0
cdef long long _obuf_seconds = 0


def set_normal_output_limit(hard, soft, seconds):
    global _obuf_hard, _obuf_soft, _obuf_seconds
    _obuf_hard, _obuf_soft, _obuf_seconds = hard, soft, seconds


# Replies written at the end of the event-loop pass instead of after each connection's read (redis writes every
# client's replies in beforeSleep, handleClientsWithPendingWrites): the clients then get their replies in one
# burst per pass, not spread over it, so a load generator sharing a core with others wakes once per pass (issue
# 20, latency row). A connection's replies are deferred only when nothing else writes to its socket behind the
# reply buffer's back: no AOF hold (_before_reply), no pub/sub subscriber, no replica or master link.
# write_raw and the next process_input of the connection write the deferred replies first, so order is kept.
# A process_input nested in another (other clients served while a script is busy) writes at once.
#
# A pass that serves one connection gains nothing from waiting and pays a call_soon and a loop callback per
# request (a lone redis-cli or sequential app: ~3,300 instructions on a 5,900-instruction SET), so the deferral
# adapts: after LONE_PASSES passes in a row that flushed a single connection, replies go out at once; a second
# connection read within the same millisecond turns the deferral back on.
cdef list _deferred = []
cdef bint _defer_writes = True
cdef int _depth = 0
cdef enum:
    LONE_PASSES = 8
cdef bint _lone_mode = False          # replies are written at once: recent passes served one connection each
cdef int _lone_passes = 0             # deferred passes in a row that flushed a single connection
cdef void* _last_conn = NULL          # the connection written last in lone mode (identity only, never dereferenced)
cdef long long _last_conn_ms = 0      # and the millisecond it was read in


def set_deferred_writes(bint on):
    """Turn the end-of-pass reply writing on or off (for A/B measurements); returns the previous setting."""
    global _defer_writes
    prev = _defer_writes
    _defer_writes = on
    return prev


def _flush_deferred():
    global _deferred, _lone_passes, _lone_mode
    cdef list batch = _deferred
    cdef RespConnection conn
    _deferred = []
    if len(batch) == 1:
        _lone_passes += 1
        if _lone_passes >= LONE_PASSES:
            _lone_mode = True
            _lone_passes = 0
    else:
        _lone_passes = 0
    for conn in batch:
        if conn.deferred:
            conn.flush()


def commit_before_write():
    """For writers outside RespConnection (memcached): make the batch's effects durable before replying."""
    if _before_reply is not None:
        _before_reply(None)


cdef class RespConnection(SocketReading):
    cdef public RespParser parser
    cdef public Client client
    cdef public Dispatcher dispatcher
    cdef public Keyspace ks
    cdef public object server
    cdef public object peer          # "ip:port"
    cdef public object local         # "ip:port"
    cdef public long long net_in
    cdef public long long net_out
    cdef public long long reads       # read events and socket writes (INFO total_reads/writes_processed)
    cdef public long long writes
    # CLIENT LIST memory model (server/client_mem.py): query buffer allocation / peak, reply buffer size / peak
    cdef public long long qb_alloc
    cdef public long long qb_peak
    cdef public long long rb_size
    cdef public long long rb_peak
    cdef public long long rb_peak_reset
    cdef public object pending_argv   # a command held back by CLIENT PAUSE
    cdef public long long obuf_soft_since   # unix second the normal soft output limit was first exceeded
    cdef public bint deferred          # replies waiting for the end of the event-loop pass (_flush_deferred)
    # server/direct_send.pxd: replies are sent on fd while transport is still fd_for and holds nothing;
    # tw_dirty means something went through transport.write and may still be buffered there
    cdef int fd
    cdef object fd_for
    cdef public bint tw_dirty
    cdef object call_soon              # the server loop's call_soon, bound once (the end-of-pass flush)

    def __init__(self, server):
        self.server = server
        self.dispatcher = server.dispatcher
        self.ks = server.ks
        self.parser = RespParser(server.config["proto-max-bulk-len"], server.config["client-query-buffer-limit"])
        self.closing = False
        self.rb_size = 16384
        self.fd = -1

    def connection_made(self, transport):
        self.transport = transport
        self.fd = plain_socket_fd(transport)
        self.fd_for = transport
        loop = self.server.loop
        self.call_soon = loop.call_soon if loop is not None else None
        self.peer = _format_addr(transport.get_extra_info("peername"))
        self.local = _format_addr(transport.get_extra_info("sockname"))
        self.client = self.server.client_connected(self)
        if self.client is None:      # refused (maxclients): the server already replied and closed
            self.closing = True
            return
        self.parser.auth_required = not self.client.authenticated
        if self.call_soon is not None:
            self.call_soon(self._take_over_reads)     # uvloop starts the transport's reads after this returns

    def _take_over_reads(self):
        self.take_over_reads()

    cdef bint _may_read_directly(self):
        return self.transport is self.fd_for       # not a busy script's guest on a stand-in transport

    def connection_lost(self, exc):
        self.closing = True
        self.release_reader()
        if self.client is not None:
            self.server.client_disconnected(self)

    cdef int _received(self, data) except -1:
        if self.closing:
            return 0
        self.net_in += len(data)
        self.reads += 1
        self.parser.feed(data)
        cdef Py_ssize_t n = self.parser.buffered()
        if n > self.qb_peak:
            self.qb_peak = n
        if n + 16384 > self.qb_alloc:      # redis readQueryFromClient: room for a 16k read (or the big bulk)
            self.qb_alloc = _qb_usable(n + 16384)
        self.process_input()
        return 0

    cpdef process_input(self):
        """Execute every complete command buffered (redis processInputBuffer), then write once."""
        global _depth
        cdef Client c = self.client
        if self.deferred:
            self.flush()                  # the previous batch's replies go first
        self.ks.update_clock()
        c.last_ms = self.ks.now_ms
        if c.pubsub is not None and _pubsub_flush is not None:
            _pubsub_flush()
        if self.pending_argv is None and not c.blocked:
            _prefetch_resp(self.parser, c.db)
        _depth += 1
        try:
            if self._run_batch(c):
                return
        finally:
            _depth -= 1
        self._end_batch()

    cdef bint _run_batch(self, Client c) except -1:
        """The command loop of process_input; True when the connection was closed (nothing more to write)."""
        cdef object argv
        cdef Py_ssize_t mark
        while not c.blocked and not self.closing:
            if self.pending_argv is not None:
                argv = self.pending_argv
                self.pending_argv = None
            else:
                argv = self.parser.next_argv()
            if argv is None:
                break
            if argv is False:
                self._protocol_error()
                return True
            # ks.paused is set with server.pause_until_ms (Server.pause_clients/unpause_clients): a C read
            # per command instead of a Python attribute lookup while no pause is in force
            if self.ks.paused and self.server.pause_until_ms and self.server.hold_for_pause(self, <list>argv):
                self.pending_argv = argv
                break
            if c.reply_mode != 0:
                mark = c.reply.size()
                self.dispatcher.execute(c, <list>argv)
                if c.reply_mode == 1:
                    _drop_replies(c, mark)
                elif c.reply_mode == 2 and (c.last_cmd is None or c.last_cmd.name != "client|reply"):
                    _drop_replies(c, mark)      # CLIENT REPLY SKIP: drop the next command's reply only
                    c.reply_mode = 0
            else:
                self.dispatcher.execute(c, <list>argv)
            if _after_command is not None:
                _after_command()
            self.parser.auth_required = not c.authenticated and self.dispatcher.auth_required
            if c.close_after_reply:
                self.flush()
                self.close()
                return True
            self.parser.recycle(argv)       # kept for the next request when nothing else holds it
        return False

    cdef int _end_batch(self) except -1:
        """Write the batch's replies now, or at the end of the event-loop pass (see _deferred)."""
        global _lone_mode, _last_conn, _last_conn_ms
        cdef Client c = self.client
        if self.deferred:
            return 0
        if _lone_mode:
            if _last_conn == <void*>self or _last_conn_ms != self.ks.now_ms:
                _last_conn = <void*>self
                _last_conn_ms = self.ks.now_ms
                self.flush()
                return 0
            _lone_mode = False            # two connections in one millisecond: several per pass again
        if (_defer_writes and _depth == 0 and _before_reply is None and c.pubsub is None and not c.is_master
                and not (c.flags & 1) and not self.closing and c.reply.length > 0 and self.call_soon is not None):
            self.deferred = True
            if not _deferred:
                self.call_soon(_flush_deferred)
            _deferred.append(self)
            return 0
        self.flush()
        return 0

    cpdef flush(self):
        cdef Client c = self.client
        cdef Py_ssize_t n, sent
        self.deferred = False
        if c.reply.size() > 0 and not self.closing:
            if _group is not None:
                if _group.hold(self):
                    return
            elif _before_reply is not None and _before_reply(self):
                return
            n = c.reply.length
            if (_obuf_hard or _obuf_soft) and self._over_output_limit(n):
                c.reply.length = 0
                return
            self.net_out += n
            self.writes += 1
            if n > self.rb_peak:
                self.rb_peak = n if n < self.rb_size else self.rb_size
            if self.fd >= 0 and c.reply.capacity <= 1048576 and self._may_send_directly(c):
                sent = send_now(self.fd, c.reply.buf, n)
                if sent == n:
                    c.reply.length = 0
                    return
                # the rest goes through the transport (it queues, pauses reading at the high-water mark, and
                # reports a failed socket)
                data = PyBytes_FromStringAndSize(c.reply.buf + sent, n - sent)
                c.reply.length = 0
                self.tw_dirty = True
                self.transport.write(data)
                return
            self.tw_dirty = True
            self.transport.write(c.reply.take())

    cdef inline bint _may_send_directly(self, Client c):
        """Nothing else writes this socket behind the reply buffer (replica stream, master link, a busy script's
        stand-in transport) and the transport holds nothing still unsent."""
        if self.transport is not self.fd_for or c.is_master or c.flags & 1:
            return False
        return transport_drained(self.transport, &self.tw_dirty)

    def _over_output_limit(self, Py_ssize_t adding):
        """The normal class's limit, counted as redis does before its writes: the replies not yet taken by the
        socket plus these. Over it, the client is closed and gets none of them (redis CLIENT_CLOSE_ASAP)."""
        cdef Client c = self.client
        if c.is_master or c.flags & 1 or (c.pubsub is not None and sum(c.pubsub.counts())):
            return False            # the master link, replicas and subscribers are other classes
        used = self.transport.get_write_buffer_size() + adding
        over = _obuf_hard and used >= _obuf_hard
        if _obuf_soft and used >= _obuf_soft:
            now = int(time.time())
            if not self.obuf_soft_since:
                self.obuf_soft_since = now
            elif now - self.obuf_soft_since > _obuf_seconds:
                over = True
        else:
            self.obuf_soft_since = 0
        if not over:
            return False
        from engine.commands.connection import client_info_line
        self.server.log_warning("Client %s scheduled to be closed ASAP for overcoming of output buffer limits."
                                % client_info_line(c, self.ks.now_ms))
        self.server.stat_obuf_limit_disconnections = getattr(self.server, "stat_obuf_limit_disconnections", 0) + 1
        self.closing = True
        self.transport.abort()
        return True

    cpdef write_raw(self, bytes data):
        """Out-of-band output (pub/sub messages, MONITOR lines, unblocked replies)."""
        if self.deferred:
            self.flush()                  # replies deferred to the end of the pass go first
        if not self.closing:
            if _before_reply is not None:
                _before_reply(None)
            self.net_out += len(data)
            self.writes += 1
            self.tw_dirty = True
            self.transport.write(data)

    cpdef close(self):
        if not self.closing:
            self.closing = True
            self.transport.close()

    def _protocol_error(self):
        cdef ProtocolErrorInfo err = self.parser.error
        if err.reply:
            self.client.reply.add_error(b"ERR Protocol error: " + err.message)
            self.server.count_error(b"ERR")
            self.server.log_verbose("Protocol error (%s) from client: %s" % (err.message.decode("latin-1"), self.peer))
        else:
            self.server.log_warning("Closing client that reached max query buffer length: %s" % self.peer)
            self.server.stat_qbuf_limit_disconnections += 1
        self.flush()
        self.close()

    def output_buffer_size(self):
        return self.transport.get_write_buffer_size() if self.transport is not None else 0


cdef inline Py_ssize_t _scan_len(const char* base, Py_ssize_t pos, Py_ssize_t total, long long* out):
    """Digits from base[pos] up to "\\r\\n": the index after the "\\n", or -1 (incomplete or not a plain count)."""
    cdef long long v = 0
    cdef int digits = 0
    while pos < total and 48 <= base[pos] <= 57:
        v = v * 10 + (base[pos] - 48)
        pos += 1
        digits += 1
        if digits > 9:
            return -1
    if digits == 0 or pos + 1 >= total or base[pos] != 13 or base[pos + 1] != 10:
        return -1
    out[0] = v
    return pos + 2


cdef inline bint _ieq(const char* p, const char* lit, Py_ssize_t n):
    """p[0:n] equals the lower-case literal lit, ignoring the case of letters."""
    cdef Py_ssize_t i
    cdef char c
    for i in range(n):
        c = p[i]
        if 65 <= c <= 90:
            c = c | 32
        if c != lit[i]:
            return False
    return True


cdef inline bint _script_verb(const char* name, Py_ssize_t n):
    """EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO: a command whose keys follow its numkeys (argv[2])."""
    if n == 4:
        return _ieq(name, b"eval", 4)
    if n == 7:
        return _ieq(name, b"evalsha", 7) or _ieq(name, b"eval_ro", 7)
    if n == 10:
        return _ieq(name, b"evalsha_ro", 10)
    if n == 5:
        return _ieq(name, b"fcall", 5)
    if n == 8:
        return _ieq(name, b"fcall_ro", 8)
    return False


cdef inline int _pf_hinted(RespParser parser, Db db, cm_rec*** slots, int k, const char* base, Py_ssize_t pos,
                           Py_ssize_t alen):
    """Hash a key argument once: the parser gives this hash to the argument's bytes object
    (RespParser.add_hint), so the command's own lookup does not hash the key again; prefetch its bucket."""
    cdef size_t h
    cdef cm_rec** s
    if k >= PF_MAX:
        return k
    h = <size_t>_Py_HashBytes(base + pos, alen)
    parser.add_hint(pos, alen, <Py_ssize_t>h)
    if db.buckets != NULL and db.count != 0:
        s = pf_slot_of_hash(db, h)
        CM_PREFETCH(s)
        slots[k] = s
        k += 1
    return k


cdef void _prefetch_resp(RespParser parser, Db db):
    """Scan the buffered requests (without consuming them) and prefetch the table lines of their keys:
    argv[1] of each, every key of MSET/MSETNX/MGET. Stops at the first request that is not complete."""
    cdef const char* base
    cdef Py_ssize_t total, pos, argc, i, alen
    cdef long long v
    cdef cm_rec** slots[64]
    cdef int k = 0, multi
    cdef long long nkeys = 0
    cdef const char* name
    cdef object cur
    cdef cm_rec* r
    if db is None or parser.multibulk_left != 0 or parser.error is not None:
        return
    parser.hint_n = 0
    parser.hint_i = 0
    cur = parser.cur
    if type(cur) is bytes:
        base = PyBytes_AS_STRING(cur)
        total = PyBytes_GET_SIZE(cur)
    else:
        base = PyByteArray_AS_STRING(cur)
        total = PyByteArray_GET_SIZE(cur)
    pos = parser.pos
    while k < PF_MAX and pos < total and base[pos] == 42:       # '*'
        pos = _scan_len(base, pos + 1, total, &v)
        if pos < 0 or v > 4096:
            break
        argc = v
        multi = 0
        for i in range(argc):
            if pos >= total or base[pos] != 36:                  # '$'
                return
            pos = _scan_len(base, pos + 1, total, &v)
            if pos < 0 or pos + v + 2 > total:
                return
            alen = v
            if i == 0:
                name = base + pos
                if alen == 4 and (name[0] | 32) == 109 and (name[1] | 32) == 115 and (name[2] | 32) == 101 and (name[3] | 32) == 116:
                    multi = 2                                    # MSET: keys at odd positions
                elif alen == 6 and (name[0] | 32) == 109 and (name[1] | 32) == 115 and (name[2] | 32) == 101 and (name[3] | 32) == 116:
                    multi = 2                                    # MSETNX
                elif alen == 4 and (name[0] | 32) == 109 and (name[1] | 32) == 103 and (name[2] | 32) == 101 and (name[3] | 32) == 116:
                    multi = 1                                    # MGET: every argument
                elif _script_verb(name, alen):
                    multi = 3                                    # EVAL/EVALSHA/FCALL[_RO]: numkeys keys from argv[3]
                    nkeys = 0
            elif multi == 3:
                if i == 2:
                    if _scan_len(base, pos, total, &nkeys) < 0 or nkeys < 0:
                        nkeys = 0
                elif i < 3 + nkeys:
                    k = _pf_hinted(parser, db, slots, k, base, pos, alen)
            elif i == 1 or (multi == 1) or (multi == 2 and i & 1):
                k = _pf_hinted(parser, db, slots, k, base, pos, alen)
            pos += alen + 2
    if k:
        pf_records(slots, k)
        # third wave: the second record of each chain (a table at its usual load holds a third of the keys
        # behind another one; the head's line was requested just above, so these loads overlap too)
        for i in range(k):
            r = slots[i][0]
            if r != NULL and r.next != NULL:
                CM_PREFETCH(r.next)


cdef long long _qb_usable(long long n):
    """What a jemalloc allocation of n bytes holds as an sds (size classes: 4 per doubling above 16 KiB)."""
    cdef long long k = 16384, step
    if n <= 16384:
        return 20480 - 6 if n > 16384 - 6 else 16384
    while k * 2 < n:
        k *= 2
    step = k // 4
    return ((n + step - 1) // step) * step - (6 if n < 65536 else 10)


cdef _drop_replies(Client c, Py_ssize_t mark):
    """CLIENT REPLY OFF/SKIP: drop what the command answered since mark, except RESP3 push frames (pub/sub
    messages and confirmations, tracking invalidations), which redis 7.0 sends regardless (CLIENT_PUSHING)."""
    if c.reply.resp < 3 or c.reply.size() <= mark:
        c.reply.truncate(mark)
        return
    data = c.reply.take()
    tail = data[mark:]
    kept = [data[:mark]]
    pos = 0
    while pos < len(tail):
        end = _frame_end(tail, pos)
        if end < 0:
            break
        if tail[pos] == 62:     # '>'
            kept.append(tail[pos:end])
        pos = end
    c.reply.add_raw(b"".join(kept))


cdef Py_ssize_t _frame_end(bytes buf, Py_ssize_t pos):
    """Index just past the complete RESP2/RESP3 frame at pos (the buffer holds whole frames only), or -1."""
    cdef Py_ssize_t nl = buf.find(b"\r\n", pos)
    cdef Py_ssize_t n, i
    if nl < 0:
        return -1
    kind = buf[pos]
    if kind in (43, 45, 58, 44, 35, 95, 40):        # + - : , # _ (
        return nl + 2
    n = int(buf[pos + 1:nl])
    if kind in (36, 61, 33):                        # $ = !
        return nl + 2 if n < 0 else nl + 2 + n + 2
    if n < 0:
        return nl + 2
    if kind in (37, 124):                           # % |
        n *= 2
    pos = nl + 2
    for i in range(n):
        pos = _frame_end(buf, pos)
        if pos < 0:
            return -1
    if kind == 124:                                 # an attribute precedes the value it describes
        return _frame_end(buf, pos)
    return pos


class RespProtocol(RespConnection, asyncio.Protocol):
    pass


def _format_addr(addr):
    if addr is None:
        return "?:0"
    if isinstance(addr, tuple):
        host = addr[0]
        return f"{host}:{addr[1]}"
    return str(addr)
