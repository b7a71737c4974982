"""Malformed RESP: the same error text as redis-server 7.0.15, the same close behaviour, others unaffected
(ports redis tests/unit/protocol.tcl)."""
import socket
import time

import pytest

from tests.support.servers import RawConnection

CASES = [
    pytest.param(b"*1\r\n$2147483648\r\n", id="bulk-over-limit"),
    pytest.param(b"*1\r\n$536870913\r\n", id="bulk-over-proto-max"),
    pytest.param(b"*1\r\n$-5\r\n", id="negative-bulk"),
    pytest.param(b"*1\r\n$abc\r\n", id="non-number-bulk"),
    pytest.param(b"*2147483648\r\n", id="mbulk-over-int-max"),
    pytest.param(b"*3000000000\r\n", id="mbulk-out-of-range"),
    pytest.param(b"*abc\r\n", id="mbulk-garbage"),
    pytest.param(b"*1\r\n:5\r\n", id="expected-dollar-colon"),
    pytest.param(b"*1\r\n*1\r\n$1\r\na\r\n", id="nested-array"),
    pytest.param(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfoo\r\n", id="bulk-not-following"),
    pytest.param(b'SET "a b\r\n', id="unbalanced-quotes"),
    pytest.param(b"SET 'a\r\n", id="unbalanced-single-quotes"),
    pytest.param(b'SET "a"b c\r\n', id="quote-followed-by-char"),
    pytest.param(b"*-10\r\nPING\r\n", id="negative-multibulk-ignored"),
    pytest.param(b"\r\n\r\nPING\r\n", id="empty-query"),
    pytest.param(b"*0\r\nPING\r\n", id="zero-multibulk"),
    pytest.param(b"PING\r\nECHO \"a\\x41\\n\"\r\nSET k 'it''s'\r\n", id="inline-quoting"),
    pytest.param(b"\x00\r\n", id="nul-inline"),
    # inline requests leave a grown argv list to reuse; a multibulk that stops short after it must not see the
    # stale slots past the list's old size (found by tests/fuzz/test_live.py: the server crashed)
    pytest.param(b"a\r\nb c d e f\r\nPING\r\nECHO x\r\n*2\r\n", id="reused-argv-then-short-multibulk"),
    pytest.param(b"$1000000000000000000000000000000\r\n\xb4s*2\r\n$4\r\nECHO\r\n$01\r\n\xeb\rfy\xd9\r\n*2\r\n",
                 id="fuzz-crash-inline-then-short-multibulk"),
    pytest.param(b"a b c d e f g h i j\r\n*12\r\n$1\r\nx\r\n$1\r\n", id="grown-argv-then-partial-arguments"),
]


def exchange(port, payload):
    conn = RawConnection(port, timeout=3)
    conn.send(payload)
    data = conn.read_until_quiet(settle=0.3)
    closed = conn.is_closed(timeout=0.3)
    conn.close()
    return data, closed


@pytest.mark.parametrize("payload", CASES)
def test_same_error_and_close(cachemere, redis_ref, payload):
    ours = exchange(cachemere.port, payload)
    theirs = exchange(redis_ref.port, payload)
    assert ours == theirs


def test_big_inline_request(cachemere, redis_ref):
    payload = b"a" * (70 * 1024)
    assert exchange(cachemere.port, payload) == exchange(redis_ref.port, payload)


@pytest.mark.parametrize("prefix", [b"\x00", b"*\x00", b"$\x00"])
def test_protocol_desync_closes(cachemere, prefix):
    """redis 'Protocol desync regression': garbage then 1 KB chunks gets an error and a close, never an endless buffer."""
    sock = socket.create_connection(("127.0.0.1", cachemere.port), timeout=5)
    sock.sendall(prefix)
    deadline = time.monotonic() + 30
    got = b""
    try:
        while time.monotonic() < deadline:
            try:
                sock.sendall(b"A" * 1024)
            except OSError:
                break
            sock.settimeout(0.001)
            try:
                chunk = sock.recv(1024)
                if chunk:
                    got += chunk
                    if b"Protocol error" in got:
                        break
                else:
                    break
            except socket.timeout:
                pass
    finally:
        sock.close()
    assert b"Protocol error" in got


def test_other_clients_unaffected(cachemere):
    good = RawConnection(cachemere.port)
    assert good.command("SET", "survivor", "1") == b"+OK\r\n"
    bad = RawConnection(cachemere.port)
    bad.send(b"*1\r\n$-5\r\n")
    assert bad.read_until_quiet() == b"-ERR Protocol error: invalid bulk length\r\n"
    assert good.command("GET", "survivor") == b"$1\r\n1\r\n"


def test_unauthenticated_limits(fresh_cachemere, redis_ref):
    from tests.support.servers import start_redis
    ours = fresh_cachemere("--requirepass", "secret")
    theirs = start_redis("--requirepass", "secret")
    try:
        for payload in (b"*11\r\n", b"*1\r\n$20000\r\n", b"PING\r\n", b"*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n"):
            assert exchange(ours.port, payload) == exchange(theirs.port, payload), payload
        conn = RawConnection(ours.port)
        assert conn.command("AUTH", "secret") == b"+OK\r\n"
        assert conn.command("PING") == b"+PONG\r\n"
    finally:
        theirs.stop()


def test_http_post_is_closed_silently(cachemere):
    data, closed = exchange(cachemere.port, b"POST / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert closed
    assert b"Protocol error" not in data
