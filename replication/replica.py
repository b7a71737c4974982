"""The replica side: ``MasterLink`` connects to the primary, runs the handshake (PING, AUTH with
masterauth/masteruser, REPLCONF listening-port / ip-address / capa eof psync2, PSYNC replid offset), receives
the RDB of a full sync (``$<len>`` or ``$EOF:<mark>``) into a side keyspace that replaces the dataset only
once it loaded completely, then applies the stream through the normal Dispatcher as the master client
(no replies, no refusals) and hands the applied bytes on to the manager, which keeps its backlog and forwards
them verbatim to chained replicas.
"""
import asyncio
import time

from engine.core import Keyspace
from engine.persistence.rdb import RdbError
from engine.persistence.snapshot import load_keyspace
from protocol.resp import RespParser

ST_CONNECTING = "connecting"
ST_HANDSHAKE = "handshake"
ST_TRANSFER = "sync"
ST_CONNECTED = "connected"

MAX_LINE = 64 * 1024


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class LinkError(Exception):
    pass


class MasterLink(asyncio.Protocol):
    def __init__(self, repl, host, port):
        self.repl = repl
        self.server = repl.server
        self.log = repl.server.log
        self.host = host
        self.port = port
        self.transport = None
        self.state = ST_CONNECTING
        self.buf = bytearray()
        self.steps = []
        self.closed = False
        self.last_io = time.time()
        self.payload = None           # bytearray of the RDB being received
        self.payload_len = -1         # -1: EOF form
        self.eof_mark = None
        self.transfer_size = -1
        self.parser = None
        self.fed = 0                  # stream bytes fed to the parser
        self.base_offset = 0          # replication offset before the first byte fed
        self.raw = bytearray()        # stream bytes fed but not applied yet
        self.read_offset = 0

    # ------------------------------------------------------------------ asyncio callbacks
    def connection_made(self, transport):
        self.transport = transport
        self.last_io = time.time()
        self.log.notice("Non blocking connect for SYNC fired the event.")
        self.state = ST_HANDSHAKE
        cfg = self.server.config
        steps = [(encode("PING"), self._on_ping)]
        if cfg["masterauth"]:
            if cfg["masteruser"]:
                steps.append((encode("AUTH", cfg["masteruser"], cfg["masterauth"]), self._on_auth))
            else:
                steps.append((encode("AUTH", cfg["masterauth"]), self._on_auth))
        port = cfg["replica-announce-port"] or cfg["port"]
        steps.append((encode("REPLCONF", "listening-port", port), self._on_replconf("listening-port")))
        if cfg["replica-announce-ip"]:
            steps.append((encode("REPLCONF", "ip-address", cfg["replica-announce-ip"]), self._on_replconf("ip-address")))
        steps.append((encode("REPLCONF", "capa", "eof", "capa", "psync2"), self._on_replconf("capa")))
        steps.append((None, self._on_psync))
        self.steps = steps
        self._next_step()

    def connection_lost(self, exc):
        if not self.closed:
            self.closed = True
            self.repl.link_lost(self, "Connection with master lost.")

    def data_received(self, data):
        if self.closed:
            return
        self.last_io = time.time()
        try:
            if self.state == ST_CONNECTED:
                self._stream(data)
                return
            self.buf += data
            while not self.closed and self.buf:
                if self.state == ST_HANDSHAKE:
                    line = self._line()
                    if line is None:
                        return
                    if not line and self.steps[0][1] == self._on_psync:
                        continue        # newlines keep the link alive while the primary delays the fork
                    self.steps.pop(0)[1](line)
                elif self.state == ST_TRANSFER:
                    if not self._transfer():
                        return
                elif self.state == ST_CONNECTED:
                    rest, self.buf = bytes(self.buf), bytearray()
                    self._stream(rest)
                    return
                else:
                    return
        except LinkError as exc:
            self.abort(str(exc))

    # ------------------------------------------------------------------ handshake
    def _line(self):
        nl = self.buf.find(b"\n")
        if nl < 0:
            if len(self.buf) > MAX_LINE:
                raise LinkError("Protocol error: too long reply line from master")
            return None
        line = bytes(self.buf[:nl]).rstrip(b"\r")
        del self.buf[:nl + 1]
        return line

    def _next_step(self):
        data = self.steps[0][0]
        if data is None:
            self._send_psync()
        else:
            self.transport.write(data)

    def _on_ping(self, line):
        if line.startswith(b"-") and not (line.startswith(b"-NOAUTH") or line.startswith(b"-NOPERM")
                                          or line.startswith(b"-ERR operation not permitted")):
            raise LinkError("Error reply to PING from master: '%s'" % line.decode("latin-1"))
        self.log.notice("Master replied to PING, replication can continue...")
        self._next_step()

    def _on_auth(self, line):
        if line.startswith(b"-"):
            self.repl.auth_failures += 1
            raise LinkError("Unable to AUTH to MASTER: %s" % line.decode("latin-1"))
        self._next_step()

    def _on_replconf(self, what):
        def handle(line):
            if line.startswith(b"-"):
                self.log.notice("(Non critical) Master does not understand REPLCONF %s: %s"
                                % (what, line.decode("latin-1")))
            self._next_step()
        return handle

    def _send_psync(self):
        repl = self.repl
        if repl.cached_replid is not None:
            replid, offset = repl.cached_replid, repl.cached_offset + 1
            self.log.notice("Trying a partial resynchronization (request %s:%d)." % (replid, offset))
        else:
            replid, offset = "?", -1
            self.log.notice("Partial resynchronization not possible (no cached master)")
        if repl.psync_failover:
            self.transport.write(encode("PSYNC", replid, offset, "FAILOVER"))
        else:
            self.transport.write(encode("PSYNC", replid, offset))

    def _on_psync(self, line):
        repl = self.repl
        if line.startswith(b"+FULLRESYNC"):
            parts = line.split()
            if len(parts) < 3:
                raise LinkError("Master replied with wrong +FULLRESYNC syntax.")
            self.new_replid = parts[1].decode()
            self.new_offset = int(parts[2])
            self.log.notice("Full resync from master: %s:%d" % (self.new_replid, self.new_offset))
            self.state = ST_TRANSFER
            self.transfer_started = time.time()
            return
        if line.startswith(b"+CONTINUE"):
            parts = line.split()
            newid = parts[1].decode() if len(parts) > 1 else None
            self.log.notice("Successful partial resynchronization with master.")
            repl.partial_resync_accepted(self, newid)
            self.log.notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
            self._start_stream(repl.offset)
            return
        if line.startswith(b"-NOMASTERLINK") or line.startswith(b"-LOADING"):
            raise LinkError("Master is currently unable to PSYNC but should be in the future: %s"
                            % line.decode("latin-1"))
        raise LinkError("Unexpected reply to PSYNC from master: %s" % line.decode("latin-1"))

    # ------------------------------------------------------------------ full sync transfer
    def _transfer(self):
        """Consume RDB bytes from self.buf; True when the payload is complete (the rest is the stream)."""
        if self.payload is None:
            while self.buf[:1] == b"\n":          # keepalive newlines while the primary prepares the RDB
                del self.buf[:1]
            line = self._line()
            if line is None:
                return False
            if line.startswith(b"-"):
                raise LinkError("MASTER aborted replication with an error: %s" % line.decode("latin-1"))
            if not line.startswith(b"$"):
                raise LinkError("Bad protocol from MASTER, the first byte is not '$' (we received '%s'), are you "
                                "sure the host and port are right?" % line[:64].decode("latin-1"))
            self.payload = bytearray()
            if line.startswith(b"$EOF:") and len(line) >= 45:
                self.eof_mark = bytes(line[5:45])
                self.payload_len = -1
                self.log.notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk")
            else:
                try:
                    self.payload_len = int(line[1:])
                except ValueError:
                    raise LinkError("Bad protocol from MASTER: invalid bulk length %r" % line[:64]) from None
                self.transfer_size = self.payload_len
                self.log.notice("MASTER <-> REPLICA sync: receiving %d bytes from master to disk" % self.payload_len)
        if self.payload_len >= 0:
            need = self.payload_len - len(self.payload)
            self.payload += self.buf[:need]
            del self.buf[:need]
            if len(self.payload) < self.payload_len:
                return False
            payload = bytes(self.payload)
        else:
            start = max(0, len(self.payload) - 40)
            self.payload += self.buf
            self.buf = bytearray()
            idx = self.payload.find(self.eof_mark, start)
            if idx < 0:
                return False
            self.buf = self.payload[idx + 40:]
            payload = bytes(self.payload[:idx])
        self.payload = None
        self.repl.full_sync_received(self, payload, self.new_replid, self.new_offset)
        return True

    # ------------------------------------------------------------------ the stream
    def _start_stream(self, offset):
        self.state = ST_CONNECTED
        self.parser = RespParser(1 << 30, 1 << 62)
        self.base_offset = offset
        self.raw = bytearray()
        self.read_offset = offset
        self.send_ack()

    def _stream(self, data):
        """Apply every complete command; the offset only moves past commands outside MULTI (as redis
        commandProcessed), so a link cut inside a transaction resends it whole."""
        parser = self.parser
        parser.feed(data)
        self.read_offset += len(data)
        raw = self.raw
        raw += data
        server = self.server
        ks = server.ks
        ks.update_clock()
        saved_now = ks.now_ms
        # commands from the primary never see a key as expired (redis expireIfNeeded for the master client):
        # its own DEL decides; every time in the stream is absolute (PXAT, PEXPIREAT), so no command reads the clock
        ks.now_ms = 0
        repl = self.repl
        c = repl.master_client
        dispatcher = server.dispatcher
        safe = 0
        bad = None
        try:
            while not self.closed:
                argv = parser.next_argv()
                if argv is None:
                    break
                if argv is False:
                    bad = parser.error.message.decode("latin-1")
                    break
                if argv:
                    repl.applying_offset = self.base_offset + safe
                    dispatcher.execute(c, argv)
                    if c.reply.size():
                        c.reply.truncate(0)
                if c.multi_queue is None:
                    safe = len(raw) - parser.buffered()
        finally:
            repl.applying_offset = None
            ks.now_ms = saved_now
        if safe > 0:
            chunk = bytes(raw[:safe])
            del raw[:safe]
            self.base_offset += safe
            repl.feed_stream(chunk)
        if bad is not None:
            self.abort("Protocol error in the replication stream from master: %s" % bad)

    def processed_offset(self):
        return self.repl.offset

    def send_ack(self):
        if self.transport is not None and not self.closed and self.state == ST_CONNECTED:
            self.transport.write(encode("REPLCONF", "ACK", self.repl.applying_offset_or_offset()))

    # ------------------------------------------------------------------ teardown
    def abort(self, message):
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self.repl.link_lost(self, message)
