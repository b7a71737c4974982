"""memcached clients on the shared keyspace: pymemcache, memccapable, cross-protocol reads and writes, and
replies compared byte for byte with a real memcached 1.6.18."""
import re
import subprocess
import time

import pytest
import redis
from pymemcache.client.base import Client as Memcache

from tests.support.servers import RawConnection


@pytest.fixture
def mc(cachemere):
    client = Memcache(("127.0.0.1", cachemere.mc_port), default_noreply=False)
    yield client
    client.close()


def test_memccapable_ascii_all_pass(cachemere):
    out = subprocess.run(["memccapable", "-a", "-h", "127.0.0.1", "-p", str(cachemere.mc_port)],
                         capture_output=True, timeout=60, text=True).stdout
    assert len(re.findall(r"\[pass\]", out)) == 27, out
    assert "All tests passed" in out


def test_pymemcache_roundtrips(mc):
    assert mc.set("pm:a", b"hello", expire=100) is True
    assert mc.get("pm:a") == b"hello"
    value, cas = mc.gets("pm:a")
    assert mc.cas("pm:a", b"new", cas) is True
    assert mc.cas("pm:a", b"again", cas) is False
    assert mc.add("pm:a", b"x") is False and mc.add("pm:b", b"x") is True
    assert mc.replace("pm:none", b"x") is False and mc.replace("pm:b", b"y") is True
    assert mc.append("pm:b", b"++") and mc.prepend("pm:b", b"--")
    assert mc.get("pm:b") == b"--y++"
    mc.set("pm:n", b"10")
    assert mc.incr("pm:n", 5) == 15
    assert mc.decr("pm:n", 100) == 0
    assert mc.incr("pm:none", 1) is None
    assert mc.touch("pm:n", 100) is True and mc.touch("pm:none", 1) is False
    assert mc.delete("pm:n") is True and mc.delete("pm:n") is False
    assert mc.get_many(["pm:a", "pm:b", "pm:zz"]) == {"pm:a": b"new", "pm:b": b"--y++"}
    mc.set("pm:flags", b"v", flags=42)
    raw = RawConnection(mc.server[1])
    raw.send(b"get pm:flags\r\n")
    assert raw.read_until_quiet() == b"VALUE pm:flags 42 1\r\nv\r\nEND\r\n"


def test_ttl_rules(mc, cachemere):
    r = redis.Redis(port=cachemere.port)
    mc.set("ttl:rel", b"v", expire=100)
    assert 98 <= r.ttl("ttl:rel") <= 100
    mc.set("ttl:abs", b"v", expire=int(time.time()) + 3600)
    assert 3590 <= r.ttl("ttl:abs") <= 3600
    mc.set("ttl:neg", b"v", expire=-1)
    assert mc.get("ttl:neg") is None
    mc.set("ttl:short", b"v", expire=1)
    time.sleep(1.2)
    assert mc.get("ttl:short") is None


def test_cross_protocol(mc, cachemere):
    r = redis.Redis(port=cachemere.port)
    mc.set("x:from-mc", b"mc-value")
    assert r.get("x:from-mc") == b"mc-value"
    r.set("x:from-redis", "redis-value")
    assert mc.get("x:from-redis") == b"redis-value"
    value, cas = mc.gets("x:from-redis")
    r.set("x:from-redis", "changed by redis")
    assert mc.cas("x:from-redis", b"stale", cas) is False      # a Redis write invalidates the CAS
    r.hset("x:hash", "f", "v")
    assert mc.get("x:hash") is None                              # non-strings are misses
    r.expire("x:from-mc", 50)
    raw = RawConnection(cachemere.mc_port)
    raw.send(b"mg x:from-mc t v\r\n")
    reply = raw.read_until_quiet()
    assert reply.startswith(b"VA 8 t") and reply.endswith(b"\r\nmc-value\r\n")


SEQUENCES = [
    b"set k1 0 0 5\r\nhello\r\nget k1\r\n",
    b"set k2 5 0 3\r\nabc\r\nget k2 nokey\r\n",       # (CAS ids are per-server counters: not compared)
    b"add k1 0 0 1\r\nx\r\nreplace nokey 0 0 1\r\nx\r\n",
    b"append nokey 0 0 1\r\nx\r\nprepend nokey 0 0 1\r\nx\r\n",
    b"set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nget n\r\nincr k1 1\r\nincr nokey 1\r\n",
    b"delete k1\r\ndelete k1\r\ndelete k1 0\r\ndelete k1 noreply\r\n",
    b"touch nokey 10\r\nset t 0 0 1\r\nx\r\ntouch t 100\r\n",
    b"set bad 0 0 2\r\nabc\r\n",
    b"get " + b"k" * 251 + b"\r\n",
    b"bogus command\r\n",
    b"set k 0 0 1 noreply\r\nx\r\nget k\r\n",
    b"incr k abc\r\n",
    b"version\r\nverbosity 1\r\nverbosity\r\n",
    b"flush_all\r\nget k\r\n",
    b"mn\r\n",
    b"set m 7 0 2\r\nhi\r\nmg m v f s k\r\nmg nokey v\r\nmg nokey v q\r\nmn\r\n",
    b"ms ms1 2 F3\r\nhi\r\nmg ms1 v f\r\nms ms1 2 ME\r\nzz\r\nmd ms1\r\nmd ms1\r\n",
    b"ma nokey\r\nma nokey N0 J5 v\r\nma nokey\r\nma nokey MD D3 v\r\n",
    b"get a b c d\r\ngets\r\n",
]


@pytest.mark.parametrize("payload", SEQUENCES, ids=lambda p: p[:30].decode("latin-1"))
def test_same_bytes_as_memcached(cachemere, memcached_ref, payload):
    def run(port):
        conn = RawConnection(port)
        conn.send(b"flush_all\r\n")
        conn.read_until_quiet(settle=0.1)
        conn.send(payload)
        out = conn.read_until_quiet(settle=0.2)
        conn.close()
        return out
    assert run(cachemere.mc_port) == run(memcached_ref.port)


def test_http_line_closes(cachemere):
    conn = RawConnection(cachemere.mc_port)
    conn.send(b"GET / HTTP/1.0\r\n")
    assert conn.read_until_quiet() == b""
    assert conn.is_closed()


def test_stats_fields_for_exporters(mc):
    stats = mc.stats()
    for field in (b"pid", b"uptime", b"curr_connections", b"total_connections", b"cmd_get", b"cmd_set", b"get_hits",
                  b"get_misses", b"cas_misses", b"cas_hits", b"cas_badval", b"bytes", b"curr_items", b"evictions",
                  b"limit_maxbytes", b"bytes_read", b"bytes_written", b"threads"):
        assert field in stats, field
    assert re.fullmatch(rb"\d+\.\d+", str(stats[b"rusage_user"]).encode()) or isinstance(stats[b"rusage_user"], float)
    settings = mc.stats("settings")
    assert settings[b"lru_crawler"] in (True, False, b"yes", b"no")
    for section in ("items", "slabs"):
        mc.stats(section)


def test_memcached_writes_emit_effects():
    from engine.core import Keyspace
    import engine.commands  # noqa: F401

    class FakeConfig(dict):
        pass
    # in-process: a McEngine over a bare keyspace records the deterministic effects
    from server.mc_server import McEngine
    from protocol.memcache import McParser

    class Srv:
        pass
    srv = Srv()
    srv.ks = Keyspace(16)
    srv.extensions = {}
    effects = []
    srv.ks.effects.subscribe(effects.append)
    eng = McEngine(srv)
    parser = McParser()
    parser.feed(b"set k 5 100 3\r\nabc\r\ndelete k\r\n")
    out = []
    while (req := parser.next_request()) is not None:
        eng.execute(req, out)
    stream = b"".join(effects)
    assert b"$3\r\nSET\r\n$1\r\nk\r\n$3\r\nabc\r\n$4\r\nPXAT\r\n" in stream
    assert b"$7\r\n_MCMETA\r\n$1\r\nk\r\n$1\r\n5\r\n" in stream
    assert stream.endswith(b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n")
