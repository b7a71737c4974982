"""The real server process answers stock clients: redis-cli, redis-py (RESP2 and RESP3), raw sockets."""
import subprocess

import redis

from tests.support.servers import RawConnection


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, timeout=10)
    return out.stdout.decode()


def test_redis_cli_roundtrip(cachemere):
    assert cli(cachemere.port, "ping") == "PONG\n"
    assert cli(cachemere.port, "set", "cli:k", "hello world") == "OK\n"
    assert cli(cachemere.port, "get", "cli:k") == "hello world\n"


def test_redis_py_resp2_and_resp3(cachemere):
    for proto in (2, 3):
        r = redis.Redis(port=cachemere.port, protocol=proto)
        assert r.set(f"py{proto}", "v") is True
        assert r.get(f"py{proto}") == b"v"
        assert r.incr(f"py{proto}:n") == 1
        assert r.mget([f"py{proto}", "missing"]) == [b"v", None]
        r.close()


def test_pipelined_replies_in_one_write(cachemere):
    conn = RawConnection(cachemere.port)
    conn.send(b"*3\r\n$3\r\nSET\r\n$2\r\npk\r\n$1\r\n1\r\n" + b"*2\r\n$4\r\nINCR\r\n$2\r\npk\r\n" * 100)
    replies = [conn.read_reply() for _ in range(101)]
    assert replies[0] == b"+OK\r\n"
    assert replies[-1] == b":101\r\n"
    conn.close()


def test_split_command_across_reads(cachemere):
    conn = RawConnection(cachemere.port)
    payload = b"*3\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$3\r\nabc\r\n*2\r\n$3\r\nGET\r\n$5\r\nsplit\r\n"
    for i in range(len(payload)):
        conn.send(payload[i:i + 1])
    assert conn.read_reply() == b"+OK\r\n"
    assert conn.read_reply() == b"$3\r\nabc\r\n"
    conn.close()
