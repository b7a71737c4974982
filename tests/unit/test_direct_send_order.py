"""RespConnection's direct sends (server/direct_send.pxd) against a transport that holds bytes on demand: a reply
is sent on the socket only while the transport holds nothing, so it can never overtake bytes written earlier
through transport.write; what the kernel does not take goes to the transport. A real socketpair carries the
bytes; the transport is a stand-in whose buffer the test fills and drains (uvloop's cannot be held on purpose)."""
import socket
import threading

import pytest

from engine.core import Client, Dispatcher, Keyspace
import engine.commands  # noqa: F401  (registers every family)
from server.connection import RespConnection

PING = b"*1\r\n$4\r\nPING\r\n"


class HoldingTransport:
    """Writes are kept (as uvloop keeps what the socket did not take) until drain() puts them on the socket."""

    def __init__(self, sock):
        self.sock = sock
        self.held = []

    def get_extra_info(self, name, default=None):
        return {"socket": self.sock, "peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def write(self, data):
        self.held.append(bytes(data))

    def get_write_buffer_size(self):
        return sum(map(len, self.held))

    def drain(self):
        """Put the held bytes on the socket (in a thread: the peer may have to read for them to fit)."""
        data, self.held = b"".join(self.held), []
        self.sock.setblocking(True)          # direct sends pass MSG_DONTWAIT and are unaffected
        t = threading.Thread(target=self.sock.sendall, args=(data,))
        t.start()
        return t

    def close(self):
        pass


class StubServer:
    def __init__(self):
        self.ks = Keyspace()
        self.dispatcher = Dispatcher(self.ks)
        self.config = {"proto-max-bulk-len": 512 * 1024 * 1024, "client-query-buffer-limit": 1024 * 1024 * 1024}
        self.loop = None              # no event loop: replies are written at the end of each read
        self.pause_until_ms = 0

    def client_connected(self, conn):
        return Client(self.ks)

    def client_disconnected(self, conn):
        pass


@pytest.fixture
def pair():
    ours, peer = socket.socketpair()
    peer.settimeout(5)
    ours.setblocking(False)
    yield ours, peer
    ours.close()
    peer.close()


def recv_available(sock):
    sock.setblocking(False)
    out = b""
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            out += chunk
    except BlockingIOError:
        pass
    sock.setblocking(True)
    return out


def test_a_reply_waits_behind_bytes_the_transport_holds(pair):
    ours, peer = pair
    transport = HoldingTransport(ours)
    conn = RespConnection(StubServer())
    conn.connection_made(transport)
    conn.data_received(PING)
    assert recv_available(peer) == b"+PONG\r\n"          # nothing held: sent directly
    assert transport.held == []
    conn.write_raw(b"+first\r\n")                        # out-of-band output goes through the transport
    conn.data_received(PING)
    assert recv_available(peer) == b""                   # must not pass "+first"
    assert transport.held == [b"+first\r\n", b"+PONG\r\n"]
    transport.drain().join(5)
    conn.data_received(PING)                             # drained: direct again
    assert recv_available(peer) == b"+first\r\n+PONG\r\n+PONG\r\n"
    assert transport.held == []


def test_what_the_kernel_does_not_take_goes_to_the_transport(pair):
    ours, peer = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    transport = HoldingTransport(ours)
    server = StubServer()
    conn = RespConnection(server)
    conn.connection_made(transport)
    value = bytes(range(256)) * 2048                    # 512 KB: far more than the socket takes
    conn.data_received(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n" % (len(value), value))
    first = recv_available(peer)
    assert first == b"+OK\r\n"
    conn.data_received(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" + PING)
    expected = b"$%d\r\n%s\r\n+PONG\r\n" % (len(value), value)
    sent_directly = recv_available(peer)
    assert 0 < len(sent_directly) < len(expected)        # a short send: the rest is the transport's
    assert b"".join(transport.held) == expected[len(sent_directly):]
    conn.data_received(PING)                             # still held: goes behind it
    assert recv_available(peer) == b""
    drainer = transport.drain()
    rest = b""
    while len(sent_directly) + len(rest) < len(expected) + 7:    # and the held +PONG
        rest += peer.recv(1 << 20)
    drainer.join(5)
    conn.data_received(PING)                             # drained: direct again
    rest += recv_available(peer)
    assert sent_directly + rest == expected + b"+PONG\r\n" * 2


def test_tls_transports_never_send_directly(pair):
    ours, peer = pair

    class TlsLike(HoldingTransport):
        def get_extra_info(self, name, default=None):
            if name == "sslcontext":
                return object()
            return super().get_extra_info(name, default)

    transport = TlsLike(ours)
    conn = RespConnection(StubServer())
    conn.connection_made(transport)
    conn.data_received(PING)
    assert recv_available(peer) == b""                   # plaintext must never reach a TLS socket
    assert transport.held == [b"+PONG\r\n"]
