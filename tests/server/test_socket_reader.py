"""Connections read by the server itself (server/socket_reader.pxd: recv on a duplicate of the socket's
descriptor instead of uvloop's transport reads), RESP and memcached: the duplicate exists while the client is
connected and is gone after every way a connection ends (client close, QUIT, CLIENT KILL, a reset, a
memcached `quit`); requests cut into single bytes, values larger than one read, and a client that stops reading
its replies (reads are paused, then resumed) all keep every byte. CACHEMERE_OWN_READS=0 leaves the reads to the
transport (one descriptor per connection), which is how the count is shown to mean what it says."""
import os
import socket
import struct
import time

import pytest
import redis

from engine.core import encode_command
from tests.support.servers import start_cachemere


def resp(*args):
    return encode_command([a if isinstance(a, bytes) else str(a).encode() for a in args])


def socket_fds(pid):
    """The server's open socket descriptors."""
    n = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def settled_fds(pid, timeout=5.0):
    """The count once it has stayed the same for 0.3 s (the start-up probe's connection is gone)."""
    deadline = time.monotonic() + timeout
    last, since = socket_fds(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = socket_fds(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 0.3:
            break
    return last


def wait_for_fds(pid, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = socket_fds(pid)
        if got == want:
            return got
        time.sleep(0.02)
    return socket_fds(pid)


def recv_until(sock, end, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(end) and time.monotonic() < deadline:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return data


def closed_by_server(sock, timeout=5.0):
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture(scope="module")
def server():
    srv = start_cachemere(memcached=True)
    yield srv
    srv.stop()


def test_a_connection_is_read_through_its_own_descriptor_and_every_ending_releases_it(server):
    pid = server.proc.pid
    base = settled_fds(pid)

    def connected():
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(resp("PING"))
        assert recv_until(s, b"\r\n") == b"+PONG\r\n"
        return s

    s = connected()
    assert wait_for_fds(pid, base + 2) == base + 2      # the transport's socket and the reader's duplicate
    s.close()                                           # the client closes
    assert wait_for_fds(pid, base) == base

    s = connected()
    s.sendall(resp("QUIT"))
    assert recv_until(s, b"\r\n") == b"+OK\r\n"
    assert closed_by_server(s)                          # the peer sees the close: no descriptor left open
    s.close()
    assert wait_for_fds(pid, base) == base

    s = connected()
    s.sendall(resp("CLIENT", "ID"))
    cid = int(recv_until(s, b"\r\n")[1:-2])
    assert redis.Redis(port=server.port).client_kill_filter(_id=cid) == 1
    assert closed_by_server(s)
    s.close()
    assert wait_for_fds(pid, base) == base

    s = connected()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()                                           # a reset instead of a close
    assert wait_for_fds(pid, base) == base
    assert redis.Redis(port=server.port).ping()


def test_memcached_connections_too(server):
    pid = server.proc.pid
    base = settled_fds(pid)
    s = socket.create_connection(("127.0.0.1", server.mc_port))
    s.sendall(b"set sr:k 0 0 2\r\nhi\r\nget sr:k\r\n")
    assert recv_until(s, b"END\r\n") == b"STORED\r\nVALUE sr:k 0 2\r\nhi\r\nEND\r\n"
    assert wait_for_fds(pid, base + 2) == base + 2
    s.sendall(b"quit\r\n")
    assert closed_by_server(s)
    s.close()
    assert wait_for_fds(pid, base) == base


def test_requests_in_single_bytes_and_values_larger_than_a_read(server):
    value = os.urandom(3 * 262144 + 17)                 # more than three of the reader's 256 KiB reads
    s = socket.create_connection(("127.0.0.1", server.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for byte in resp("SET", "sr:one", "abc"):
            s.send(bytes([byte]))
            time.sleep(0.0005)
        assert recv_until(s, b"\r\n") == b"+OK\r\n"
        s.sendall(resp("SET", "sr:big", value) + resp("STRLEN", "sr:big") + resp("GET", "sr:big"))
        expected = b"+OK\r\n:%d\r\n$%d\r\n%s\r\n" % (len(value), len(value), value)
        assert recv_until(s, expected[-20:]) == expected
    finally:
        s.close()
    m = socket.create_connection(("127.0.0.1", server.mc_port))
    try:
        m.sendall(b"set sr:mbig 0 0 %d\r\n%s\r\nget sr:mbig\r\n" % (len(value), value))
        want = b"STORED\r\nVALUE sr:mbig 0 %d\r\n%s\r\nEND\r\n" % (len(value), value)
        assert recv_until(m, b"END\r\n", timeout=20) == want
    finally:
        m.close()


def test_a_client_that_stops_reading_is_paused_then_served_in_full(server):
    redis.Redis(port=server.port).set("sr:v", b"x" * 100000)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    n = 400                                              # 40 MB of replies: the server stops reading this client
    try:
        s.sendall(resp("GET", "sr:v") * n)
        time.sleep(0.5)
        s.sendall(resp("PING"))                          # sent while the server is not reading: answered after
        time.sleep(0.2)
        other = redis.Redis(port=server.port)
        assert other.get("sr:v") == b"x" * 100000          # others are served while this one waits
        reply = b"$100000\r\n" + b"x" * 100000 + b"\r\n"
        got = recv_until(s, b"+PONG\r\n", timeout=60)
        assert len(got) == n * len(reply) + 7 and got == reply * n + b"+PONG\r\n"
    finally:
        s.close()


def test_without_own_reads_the_transport_reads(monkeypatch):
    monkeypatch.setenv("CACHEMERE_OWN_READS", "0")
    srv = start_cachemere()
    try:
        base = settled_fds(srv.proc.pid)
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(resp("PING"))
        assert recv_until(s, b"\r\n") == b"+PONG\r\n"
        time.sleep(0.2)
        assert socket_fds(srv.proc.pid) == base + 1
        s.close()
    finally:
        srv.stop()
