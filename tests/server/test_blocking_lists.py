"""Blocking list (and sorted set) commands with several raw clients: FIFO service, timeouts, disconnects,
CLIENT UNBLOCK, BLMOVE, wake-ups after EXEC. Every wait is bounded by the socket timeout."""
import time

import pytest

from tests.support.servers import RawConnection, encode, wait_for


@pytest.fixture
def server(fresh_cachemere):
    return fresh_cachemere()


def send(conn, *args):
    conn.send(encode(*args))


def read(conn):
    return conn.read_reply()


def client_id(conn):
    return int(conn.command("CLIENT", "ID")[1:-2])


def blocked_count(port):
    info = RawConnection(port).command("INFO", "clients").decode()
    return int(info.split("blocked_clients:")[1].split("\r\n")[0])


def test_fifo_order_and_propagation_shape(server):
    first, second, pusher = RawConnection(server.port), RawConnection(server.port), RawConnection(server.port)
    send(first, "BLPOP", "q", "0")
    assert wait_for(lambda: blocked_count(server.port) == 1)
    send(second, "BRPOP", "q", "0")
    assert wait_for(lambda: blocked_count(server.port) == 2)
    assert pusher.command("RPUSH", "q", "a", "b", "c") == b":3\r\n"
    assert read(first) == b"*2\r\n$1\r\nq\r\n$1\r\na\r\n"
    assert read(second) == b"*2\r\n$1\r\nq\r\n$1\r\nc\r\n"
    assert pusher.command("LRANGE", "q", "0", "-1") == b"*1\r\n$1\r\nb\r\n"
    # a served client continues its pipeline
    send(first, "BLPOP", "q2", "0")
    first.send(encode("PING"))
    assert wait_for(lambda: blocked_count(server.port) == 1)
    pusher.command("LPUSH", "q2", "x")
    assert read(first) == b"*2\r\n$2\r\nq2\r\n$1\r\nx\r\n"
    assert read(first) == b"+PONG\r\n"


def test_timeouts_fractional_and_resp3(server):
    conn = RawConnection(server.port)
    start = time.monotonic()
    assert conn.command("BLPOP", "none", "0.2") == b"*-1\r\n"
    elapsed = time.monotonic() - start
    assert 0.15 <= elapsed < 2.0
    assert conn.command("BLMOVE", "none", "d", "LEFT", "LEFT", "0.1") == b"*-1\r\n"   # redis 7.0 quirk
    assert conn.command("BLMPOP", "0.1", "1", "none", "LEFT") == b"*-1\r\n"
    conn.command("HELLO", "3")
    assert conn.command("BRPOP", "none", "0.1") == b"_\r\n"


def test_disconnect_while_blocked_releases_the_client(server):
    gone, waiting, pusher = RawConnection(server.port), RawConnection(server.port), RawConnection(server.port)
    send(gone, "BLPOP", "k", "0")
    assert wait_for(lambda: blocked_count(server.port) == 1)
    send(waiting, "BLPOP", "k", "0")
    assert wait_for(lambda: blocked_count(server.port) == 2)
    gone.close()
    assert wait_for(lambda: blocked_count(server.port) == 1)
    pusher.command("RPUSH", "k", "v")
    assert read(waiting) == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    assert pusher.command("EXISTS", "k") == b":0\r\n"


def test_client_unblock_timeout_and_error(server):
    blocked, admin = RawConnection(server.port), RawConnection(server.port)
    target = client_id(blocked)
    assert admin.command("CLIENT", "UNBLOCK", str(target)) == b":0\r\n"
    send(blocked, "BLPOP", "k", "0")
    assert wait_for(lambda: blocked_count(server.port) == 1)
    assert admin.command("CLIENT", "UNBLOCK", str(target), "TIMEOUT") == b":1\r\n"
    assert read(blocked) == b"*-1\r\n"
    send(blocked, "BRPOPLPUSH", "k", "d", "0")
    assert wait_for(lambda: blocked_count(server.port) == 1)
    assert admin.command("CLIENT", "UNBLOCK", str(target), "ERROR") == b":1\r\n"
    assert read(blocked) == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    assert blocked_count(server.port) == 0
    assert blocked.command("PING") == b"+PONG\r\n"


def test_blmove_serves_and_chains(server):
    mover, popper, pusher = RawConnection(server.port), RawConnection(server.port), RawConnection(server.port)
    send(mover, "BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
    assert wait_for(lambda: blocked_count(server.port) == 1)
    send(popper, "BLPOP", "dst", "0")
    assert wait_for(lambda: blocked_count(server.port) == 2)
    pusher.command("RPUSH", "src", "a", "b")
    assert read(mover) == b"$1\r\nb\r\n"
    assert read(popper) == b"*2\r\n$3\r\ndst\r\n$1\r\nb\r\n"
    assert pusher.command("LRANGE", "src", "0", "-1") == b"*1\r\n$1\r\na\r\n"
    assert pusher.command("EXISTS", "dst") == b":0\r\n"


def test_push_inside_multi_wakes_after_exec(server):
    waiter, tx = RawConnection(server.port), RawConnection(server.port)
    send(waiter, "BLPOP", "k", "0")
    assert wait_for(lambda: blocked_count(server.port) == 1)
    tx.command("MULTI")
    tx.command("RPUSH", "k", "a")
    tx.command("LPOP", "k")
    tx.command("RPUSH", "k", "b")
    assert tx.command("EXEC") == b"*3\r\n:1\r\n$1\r\na\r\n:1\r\n"
    assert read(waiter) == b"*2\r\n$1\r\nk\r\n$1\r\nb\r\n"


def test_wrong_type_keeps_the_client_blocked(server):
    waiter, other = RawConnection(server.port), RawConnection(server.port)
    send(waiter, "BLPOP", "k", "0.5")
    assert wait_for(lambda: blocked_count(server.port) == 1)
    other.command("SET", "k", "string")
    assert read(waiter) == b"*-1\r\n"


def test_bzpopmin_now_blocks(server):
    waiter, other = RawConnection(server.port), RawConnection(server.port)
    send(waiter, "BZPOPMIN", "z", "0")
    assert wait_for(lambda: blocked_count(server.port) == 1)
    other.command("ZADD", "z", "2", "b", "1", "a")
    assert read(waiter) == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"
