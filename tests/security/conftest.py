"""Fixtures for the security tests: a Cachemere and a redis-server 7.0.15 of the module's own (ACL state is
per server), and raw connections that compare replies byte for byte."""
import subprocess

import pytest

from tests.support.servers import RawConnection, start_cachemere, start_redis

# commands redis 7.0.15 has and Cachemere does not (cluster, replication internals...): they can appear
# in redis's "-cmd" rule lists only
MISSING = None


@pytest.fixture(scope="module")
def pair():
    ours = start_cachemere()
    try:
        theirs = start_redis()
    except Exception:
        ours.stop()
        raise
    yield ours, theirs
    theirs.stop()
    ours.stop()


class Both:
    """Send the same command to both servers on raw connections; `same()` asserts identical bytes."""

    def __init__(self, ours, theirs):
        self.ports = (ours.port, theirs.port)
        self.a = RawConnection(ours.port)
        self.b = RawConnection(theirs.port)

    def cmd(self, *args):
        return self.a.command(*args), self.b.command(*args)

    def same(self, *args):
        a, b = self.cmd(*args)
        assert a == b, (args, a, b)
        return a

    def close(self):
        self.a.close()
        self.b.close()


@pytest.fixture
def both(pair):
    b = Both(*pair)
    yield b
    b.close()


def cli(port, *args, user=None, password=None):
    argv = ["redis-cli", "-p", str(port)]
    if user:
        argv += ["--user", user]
    if password:
        argv += ["--pass", password, "--no-auth-warning"]
    out = subprocess.run(argv + list(args), capture_output=True, timeout=10)
    return out.stdout.decode()


def parse_resp(data: bytes):
    """A RESP2/RESP3 reply as Python values (bulk/simple -> str, errors -> Exception instance)."""
    def parse(pos):
        kind = data[pos:pos + 1]
        nl = data.index(b"\r\n", pos)
        head = data[pos + 1:nl]
        pos = nl + 2
        if kind in (b"+", b"("):
            return head.decode(), pos
        if kind == b"-":
            return Exception(head.decode()), pos
        if kind == b":":
            return int(head), pos
        if kind == b",":
            return float(head), pos
        if kind == b"_":
            return None, pos
        if kind == b"#":
            return head == b"t", pos
        if kind in (b"$", b"=", b"!"):
            n = int(head)
            if n < 0:
                return None, pos
            return data[pos:pos + n].decode("latin-1"), pos + n + 2
        if kind in (b"*", b"~", b">", b"%"):
            n = int(head)
            if n < 0:
                return None, pos
            if kind == b"%":
                n *= 2
            out = []
            for _ in range(n):
                v, pos = parse(pos)
                out.append(v)
            return out, pos
        raise ValueError(data[pos - 10:pos + 10])
    return parse(0)[0]


def raw(port, *args):
    c = RawConnection(port)
    try:
        return parse_resp(c.command(*args))
    finally:
        c.close()
