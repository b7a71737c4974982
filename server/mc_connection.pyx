# cython: language_level=3, boundscheck=False, wraparound=False
"""The memcached connection: asyncio callbacks around protocol/memcache.pyx's McParser and
engine/memcache_ops.pyx's McEngine, shaped like the RESP connection.

No coroutine per request: every complete request in a read is executed and all replies leave in a single
transport.write (pipelining).  Parse errors are answered with the codec's exact line (unless noreply) and
a request asking to close (HTTP probes, binary protocol, an over-long line, quit) closes after the write.
"""
import asyncio

from server.connection import commit_before_write

from engine.core cimport Keyspace, Db, cm_rec
from engine.prefetch cimport PF_MAX, pf_add, pf_records
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from libc.string cimport memchr
from server.direct_send cimport send_now, plain_socket_fd, transport_drained
from server.socket_reader cimport SocketReading
from libc.stdlib cimport free, realloc
from protocol.memcache cimport (McFast, McOut, mc_scan_fast, mcout_put, MCF_NONE, MCF_GET, MCF_SET,
                                MCF_MG_V)
from engine.memcache_ops cimport McEngine, McStats
from engine.memcache_ops import engine_for
from protocol.memcache import McParser, MC_SET
from protocol.memcache_bin import McBinParser
from protocol.memcache_bin cimport BinRequest, McBinParser as CMcBinParser
from protocol import memcache_bin as mb

cdef int C_QUIT = 19     # protocol.memcache.MC_QUIT
cdef enum:
    FQ_MAX = 64          # fast requests scanned (and their keys prefetched) before they are executed
cdef McFast _FQ[64]      # the scanned requests of the read being executed (one event loop: never reentered)
cdef bytes TOO_MANY_CONNECTIONS = b"SERVER_ERROR Too many open connections\r\n"


cdef class McConnection(SocketReading):
    cdef public object parser
    cdef public McEngine engine
    cdef public object server
    cdef public object peer          # "ip:port"
    cdef public bint counted         # included in curr_connections
    cdef public object auth_gate     # server/mc_auth.py McAuthGate until the connection authenticates (-Y)
    cdef public bint negotiated      # the protocol of the connection is decided (memcached -B)
    cdef public bint binary          # parser is a protocol/memcache_bin.pyx McBinParser
    cdef public object sasl          # server/mc_sasl.py SaslSession with memcached-sasl yes
    cdef public list held            # binary replies memcached would not have flushed yet (see process_binary)
    cdef McOut obuf                  # this read's replies (text protocol), written once at the end of the read
    cdef bint parser_idle            # the text parser holds nothing: a read can be scanned for fast requests
    cdef Py_ssize_t item_limit       # the text parser's max_item_size (memcached -I), fixed when it is made
    cdef object tw_for               # the transport tw_write was bound from
    cdef object tw_write             # its bound write (no method lookup per reply)
    cdef int fd                      # server/direct_send.pxd: the socket replies are sent on while tw_for holds
    cdef bint tw_dirty               # nothing (tw_dirty: something went through tw_write and may wait there)

    def __dealloc__(self):
        free(self.obuf.p)

    def __init__(self, server):
        self.server = server
        self.engine = engine_for(server)
        self.parser = None
        self.closing = False
        self.fd = -1
        self.counted = False
        self.negotiated = False
        self.binary = False
        self.parser_idle = True

    def connection_made(self, transport):
        cdef McStats stats = self.engine.stats
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if stats.curr_connections >= self.server.config["maxclients"]:
            # memcached -c: refuse with its error line
            stats.rejected_connections += 1
            transport.write(TOO_MANY_CONNECTIONS)
            transport.close()
            self.closing = True
            return
        users = getattr(self.server, "mc_sasl_users", None)
        if users is not None:
            from server.mc_sasl import SaslSession
            self.sasl = SaslSession(users)
        entries = getattr(self.server, "mc_authfile", None)
        if entries is not None and users is None:
            from server.mc_auth import McAuthGate
            self.auth_gate = McAuthGate(entries)
        self.counted = True
        stats.curr_connections += 1
        stats.total_connections += 1
        if self.server.loop is not None:
            self.server.loop.call_soon(self._take_over_reads)   # after uvloop starts the transport's reads

    def _take_over_reads(self):
        self.take_over_reads()

    def connection_lost(self, exc):
        self.closing = True
        self.release_reader()
        if self.counted:
            self.counted = False
            self.engine.stats.curr_connections -= 1


    cdef int _received(self, data) except -1:
        cdef Py_ssize_t done
        if self.closing:
            return 0
        self.engine.stats.bytes_read += len(data)
        if self.auth_gate is not None:
            out, data, close = self.auth_gate.feed(data)
            if out:
                self.write(out)
            if close:
                self.close()
                return 0
            if not self.auth_gate.authenticated:
                return 0
            self.auth_gate = None
            self.negotiate(False)    # memcached: after -Y auth the connection speaks ascii
            if not data:
                return 0
        if not self.negotiated:
            self.negotiate(data[0] == 0x80)
        if self.binary:
            self.parser.feed(data)
            self.process_binary()
        elif type(data) is bytes:
            if self.parser_idle:
                # the common shapes straight from the read; McParser takes the rest from the first other one
                done = self.process_fast(<bytes>data)
                if done == PyBytes_GET_SIZE(<bytes>data):
                    self.flush_out()
                    return 0
                if done:
                    self.parser.feed(data[done:])
                else:
                    _prefetch_text(<bytes>data, self.engine.db)
                    self.parser.feed(data)
            else:
                _prefetch_text(<bytes>data, self.engine.db)
                self.parser.feed(data)
            self.process_input()
        else:
            self.parser.feed(data)
            self.process_input()
        return 0

    cdef Py_ssize_t process_fast(self, bytes data) except -1:
        """Execute the leading requests of a read that mc_scan_fast recognises (get, set, mg <key> v), their
        replies written into obuf; returns the bytes consumed (the rest goes through McParser).

        Up to FQ_MAX requests are scanned first and their keys' table lines prefetched (as _prefetch_text does
        for the general path: the misses overlap), then executed in order."""
        cdef const char* base = PyBytes_AS_STRING(data)
        cdef Py_ssize_t total = PyBytes_GET_SIZE(data), pos = 0, scan
        cdef Py_ssize_t limit = self.item_limit
        cdef McEngine engine = self.engine
        cdef Db db = engine.db
        cdef McFast* f
        cdef McOut* o = &self.obuf
        cdef int kind, nq, j, i, k, seen
        cdef bint more
        cdef cm_rec** slots[64]
        cdef const char* first = NULL
        cdef Py_ssize_t first_n = 0
        engine.ks.update_clock()
        while pos < total:
            nq = 0
            k = 0
            seen = 0
            scan = pos
            more = True
            while scan < total and nq < FQ_MAX:
                f = &_FQ[nq]
                if mc_scan_fast(base + scan, total - scan, limit, f) == MCF_NONE:
                    more = False
                    break
                for i in range(f.nkeys):
                    # a batch of one key is not worth hashing twice: the first key waits for a second one
                    seen += 1
                    if seen == 1:
                        first = base + scan + f.koff[i]
                        first_n = f.klen[i]
                    else:
                        if seen == 2:
                            k = pf_add(db, slots, k, first, first_n)
                        k = pf_add(db, slots, k, base + scan + f.koff[i], f.klen[i])
                scan += f.size
                nq += 1
            if k:
                pf_records(slots, k)
            for j in range(nq):
                f = &_FQ[j]
                kind = f.kind
                try:
                    if kind == MCF_GET:
                        engine.get_fast(base + pos, f, o)
                    elif kind == MCF_SET:
                        engine.set_fast(base + pos, f, o)
                    elif engine.mg_v_fast(base + pos, f, o) == 0:
                        return pos                  # the key's state needs meta_get: parse it the general way
                except Exception as exc:
                    mcout_put(o, b"SERVER_ERROR internal error\r\n", 29)
                    self.server.log.warning("memcached request %r raised %r" % (data[pos:pos + f.size], exc))
                pos += f.size
            if not more or nq == 0:
                break
        return pos

    cdef flush_out(self):
        cdef McOut* o = &self.obuf
        cdef bytes data
        cdef Py_ssize_t sent
        if o.n:
            if o.cap <= 1048576 and not self.closing and self._may_send_directly():
                self.engine.stats.bytes_written += o.n
                commit_before_write()
                sent = send_now(self.fd, o.p, o.n)
                if sent < o.n:
                    data = PyBytes_FromStringAndSize(o.p + sent, o.n - sent)
                    self.tw_dirty = True
                    self.tw_write(data)
                o.n = 0
                return
            data = PyBytes_FromStringAndSize(o.p, o.n)
            o.n = 0
            if o.cap > 1048576:                 # a large reply: do not keep its buffer
                free(o.p)
                o.p = NULL
                o.cap = 0
            self.write(data)

    cdef negotiate(self, bint first_is_binary_magic):
        """memcached -B: auto takes binary when the first byte is 0x80; SASL forces binary."""
        mode = self.server.config["memcached-protocol"]
        limit = self.server.config["memcached-max-item-size"]
        self.negotiated = True
        if self.sasl is not None or mode == "binary" or (mode == "auto" and first_is_binary_magic):
            self.binary = True
            self.parser = McBinParser(limit, self.sasl is not None)
        else:
            # the connection speaks text from here on: a 0x80 byte is just text (memcached -B ascii answers
            # it ERROR like any unknown command)
            self.parser = McParser(limit)
            self.item_limit = self.parser.max_item_size
            self.parser.binary_magic_closes = False

    cpdef process_binary(self):
        """Execute every complete binary request buffered, then write all replies at once (quiet requests
        answer nothing on success, so a batch of them ends up in the same write as the NOOP after them).

        memcached sends its queued responses at flush points (NOOP, QUIT, STAT, an error answered without a
        swallow, after the 21st, 41st, 61st... request of a read (reqs_per_event 20), the end of the buffered
        input) and drops the ones queued since the last flush point when a request with a wrong magic closes
        the connection: ``keep`` tracks that.
        While a value or a swallow is still incomplete it does not flush either: those replies are held."""
        cdef list out = self.held if self.held is not None else []
        cdef McEngine engine = self.engine
        cdef CMcBinParser parser = <CMcBinParser>self.parser
        cdef BinRequest req
        cdef object r
        cdef bint close = False
        cdef int op, n = 0
        cdef Py_ssize_t keep = 0, before
        cdef bytes last
        engine.ks.update_clock()
        while True:
            r = parser.next_request()
            if r is None:
                break
            req = <BinRequest>r
            n += 1
            if req.error is not None or req.close:
                if req.drop_key is not None:      # a SET refused as too large: the old item goes
                    engine.drop_item(req.drop_key)
                if req.error is None:             # wrong magic: closed at once, unflushed replies lost
                    del out[keep:]
                    close = True
                    break
                out.append(req.error)
                if req.close:
                    close = True
                    break
                if req.swallow == 0 or (n > 1 and (n - 1) % 20 == 0):
                    keep = len(out)
                continue
            op = req.cmd
            if op == 0x07:                         # QUIT (QUITQ answers nothing)
                if not req.quiet:
                    out.append(mb.header(req.opcode, 0, req.opaque, 0, 0, 0, 0))
                close = True
                break
            before = len(out)
            if op == 0x20 or op == 0x21 or op == 0x22:
                self.sasl.handle(req, parser, out)
            else:
                try:
                    engine.execute_binary(req, out)
                except Exception as exc:
                    out.append(mb.error(req.opcode, req.opaque, mb.ST_ENOMEM))
                    self.server.log.warning("memcached binary request %r raised %r" % (req, exc))
            if op == 0x0a or op == 0x10 or (n > 1 and (n - 1) % 20 == 0):
                keep = len(out)
            elif len(out) > before:
                # the request's reply starts with its 24-byte header (a GET hit adds key and value after it)
                last = <bytes>out[before]
                if len(last) >= 24 and last[7] != 0 and not ((op == 0x0c or op == 0x23) and last[7] == 1):
                    keep = len(out)               # write_bin_error flushes (a GETK miss does not)
        self.held = None
        if not close and parser.mid_request and keep < len(out):
            self.held = out[keep:]
            del out[keep:]
        if out:
            self.write(b"".join(out))
        if close or parser.closed:
            self.close()

    cpdef process_input(self):
        """Execute every complete request buffered, then write all replies at once."""
        cdef list out = []
        cdef McEngine engine = self.engine
        cdef object parser = self.parser
        cdef object next_request = parser.next_request
        cdef bint close = False
        engine.ks.update_clock()
        while True:
            req = next_request()
            if req is None:
                break
            if req.error is not None or req.close:
                if req.keys and req.command == MC_SET:  # a SET refused as too large: the old item goes
                    engine.drop_item(req.keys[0])
                if req.error is not None and not req.noreply:
                    out.append(req.error)
                if req.close:
                    close = True
                    break
                continue
            if req.command == C_QUIT:
                close = True
                break
            try:
                engine.execute(req, out)
            except Exception as exc:
                # a bug must cost one error line, never the connection or the server
                out.append(b"SERVER_ERROR internal error\r\n")
                self.server.log.warning("memcached request %r raised %r" % (req, exc))
        self.parser_idle = parser.idle
        if self.obuf.n:
            # the replies of the fast requests that led this read come first
            for piece in out:
                mcout_put(&self.obuf, PyBytes_AS_STRING(<bytes>piece), PyBytes_GET_SIZE(<bytes>piece))
            self.flush_out()
        elif out:
            self.write(b"".join(out))
        if close or parser.closed:
            self.close()

    cdef bint _may_send_directly(self) except -1:
        """The transport replies would go through is a plain socket's and holds nothing unsent."""
        if self.tw_for is not self.transport:
            self.tw_for = self.transport
            self.tw_write = self.transport.write
            self.fd = plain_socket_fd(self.transport)
            self.tw_dirty = False
        if self.fd < 0:
            return False
        return transport_drained(self.transport, &self.tw_dirty)

    cpdef write(self, bytes data):
        cdef Py_ssize_t sent = 0, n = len(data)
        if not self.closing:
            self.engine.stats.bytes_written += n
            commit_before_write()       # appendfsync always: the AOF is written and fsynced before replies
            if self._may_send_directly():
                sent = send_now(self.fd, PyBytes_AS_STRING(data), n)
                if sent == n:
                    return
                data = data[sent:]
            self.tw_dirty = True
            self.tw_write(data)

    cpdef close(self):
        if not self.closing:
            self.closing = True
            self.transport.close()


cdef void _prefetch_text(bytes data, Db db):
    """Prefetch the table lines of the keys of the text requests in one read (engine/prefetch.pxd): every
    key of get/gets/mg/ms lines and of set/add/replace (whose data block is skipped). Read-only: a line it
    does not understand ends the scan."""
    cdef const char* base = PyBytes_AS_STRING(data)
    cdef Py_ssize_t total = PyBytes_GET_SIZE(data), pos = 0, eol, i, j, tok, nbytes
    cdef const char* nl
    cdef cm_rec** slots[64]
    cdef int k = 0, kind, ntok, seen = 0
    cdef const char* p
    cdef const char* first = NULL        # the first key waits: a read of one key is not worth hashing twice
    cdef Py_ssize_t first_n = 0
    while pos < total and k < PF_MAX:
        nl = <const char*>memchr(base + pos, 10, total - pos)
        if nl == NULL:
            break
        eol = nl - base
        p = base + pos
        kind = 0
        if eol - pos > 4 and p[0] == 103 and p[1] == 101 and p[2] == 116 and p[3] == 32:        # "get "
            kind = 1
            i = pos + 4
        elif eol - pos > 5 and p[0] == 103 and p[1] == 101 and p[2] == 116 and p[3] == 115 and p[4] == 32:   # "gets "
            kind = 1
            i = pos + 5
        elif eol - pos > 3 and p[0] == 109 and (p[1] == 103 or p[1] == 115) and p[2] == 32:   # "mg " / "ms "
            kind = 2
            i = pos + 3
        elif eol - pos > 4 and p[0] == 115 and p[1] == 101 and p[2] == 116 and p[3] == 32:    # "set "
            kind = 3
            i = pos + 4
        else:
            break
        if eol > pos and base[eol - 1] == 13:
            eol -= 1
        ntok = 0
        nbytes = -1
        while i < eol and k < PF_MAX:
            while i < eol and base[i] == 32:
                i += 1
            j = i
            while j < eol and base[j] != 32:
                j += 1
            if j == i:
                break
            if kind == 1 or ntok == 0:
                seen += 1
                if seen == 1:
                    first = base + i
                    first_n = j - i
                else:
                    if seen == 2:
                        k = pf_add(db, slots, k, first, first_n)
                    k = pf_add(db, slots, k, base + i, j - i)
            elif kind == 3 and ntok == 3:
                nbytes = 0
                for tok in range(i, j):
                    if not (48 <= base[tok] <= 57) or nbytes > 100000000:
                        nbytes = -1
                        break
                    nbytes = nbytes * 10 + (base[tok] - 48)
            elif kind == 2 and ntok == 1 and p[1] == 115:
                nbytes = 0
                for tok in range(i, j):
                    if not (48 <= base[tok] <= 57) or nbytes > 100000000:
                        nbytes = -1
                        break
                    nbytes = nbytes * 10 + (base[tok] - 48)
            ntok += 1
            i = j
            if kind != 1 and ntok >= 4:
                break
        pos = (nl - base) + 1
        if kind == 3 or (kind == 2 and p[1] == 115):
            if nbytes < 0:
                break
            pos += nbytes + 2          # the data block
    if k:
        pf_records(slots, k)


class McProtocol(McConnection, asyncio.Protocol):
    pass
