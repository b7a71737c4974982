"""memcached clients on the shared keyspace: pymemcache, memccapable, cross-protocol reads and writes, and
replies compared byte for byte with a real memcached 1.6.18."""
import re
import subprocess
import time

import pytest
import redis
from pymemcache.client.base import Client as Memcache

from tests.support.servers import RawConnection, wait_for


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
    assert settings[b"item_size_max"] == 1048576
    assert settings[b"lru_crawler"] in (True, False, b"yes", b"no")
    for section in ("items", "slabs"):
        mc.stats(section)


def test_memcached_writes_emit_effects():
    """In-process: a McEngine over a bare keyspace records deterministic Redis-style effects."""
    import engine.commands  # noqa: F401
    from engine.core import Keyspace
    from engine.memcache_ops import McEngine, run_requests
    from protocol.memcache import McParser

    class Srv:
        extensions = {}
    srv = Srv()
    srv.ks = Keyspace(16)
    effects = []
    srv.ks.effects.subscribe(effects.append)
    eng = McEngine(srv)
    parser = McParser()
    parser.feed(b"set k 5 100 3\r\nabc\r\nincr k 1\r\nset n 0 0 1\r\n9\r\nincr n 1\r\ntouch n 0\r\ndelete k\r\n")
    reqs = []
    while (req := parser.next_request()) is not None:
        reqs.append(req)
    out = run_requests(eng, reqs)
    assert out == (b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nSTORED\r\n10\r\n"
                   b"TOUCHED\r\nDELETED\r\n")
    stream = b"".join(effects)
    assert b"$3\r\nSET\r\n$1\r\nk\r\n$3\r\nabc\r\n$4\r\nPXAT\r\n" in stream
    assert b"$7\r\n_MCMETA\r\n$1\r\nk\r\n$1\r\n5\r\n" in stream
    assert b"$3\r\nSET\r\n$1\r\nn\r\n$2\r\n10\r\n" in stream        # incr: the resulting value
    assert stream.endswith(b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n")


def test_effects_replay_on_a_replica_like_keyspace():
    """The effect stream, replayed through the dispatcher (as AOF/replicas do), rebuilds flags and CAS."""
    import engine.commands  # noqa: F401
    from engine.core import Keyspace, Dispatcher, Client
    from engine.memcache_ops import McEngine, run_requests
    from protocol.memcache import McParser
    from protocol.resp import RespParser

    class Srv:
        extensions = {}
    primary = Srv()
    primary.ks = Keyspace(16)
    effects = []
    primary.ks.effects.subscribe(effects.append)
    eng = McEngine(primary)
    parser = McParser()
    parser.feed(b"set a 7 0 2\r\nhi\r\nappend a 0 0 1\r\n!\r\ngets a\r\n")
    reqs = []
    while (req := parser.next_request()) is not None:
        reqs.append(req)
    reply = run_requests(eng, reqs)
    cas = int(reply.split(b"\r\n")[-4].split()[-1])
    replica = Keyspace(16)
    disp = Dispatcher(replica)
    c = Client(replica)
    c.is_master = True
    rp = RespParser(1 << 20, 1 << 30)
    rp.feed(b"".join(effects))
    while (argv := rp.next_argv()) is not None:
        disp.execute(c, argv)
    e = replica.dbs[0].find(b"a")
    assert (e.value, e.mc_flags, e.cas) == (b"hi!", 7, cas)


def test_noreply_and_pipelining(cachemere):
    conn = RawConnection(cachemere.mc_port)
    batch = b"".join(b"set pipe:%d 0 0 3 noreply\r\nv%02d\r\n" % (i, i % 100) for i in range(500))
    batch += b"".join(b"get pipe:%d\r\n" % i for i in range(500))
    conn.send(batch)
    expected = b"".join(b"VALUE pipe:%d 0 3\r\nv%02d\r\nEND\r\n" % (i, i % 100) for i in range(500))
    got = b""
    deadline = time.monotonic() + 5
    while len(got) < len(expected) and time.monotonic() < deadline:
        got += conn.read_until_quiet(settle=0.2)
    assert got == expected


def test_redis_expire_and_persist_visible(mc, cachemere):
    r = redis.Redis(port=cachemere.port)
    mc.set("exp:k", b"v")
    r.pexpire("exp:k", 150)
    raw = RawConnection(cachemere.mc_port)
    raw.send(b"mg exp:k t\r\n")
    assert raw.read_until_quiet() == b"HD t1\r\n"
    time.sleep(0.3)
    assert mc.get("exp:k") is None
    mc.set("exp:p", b"v", expire=100)
    r.persist("exp:p")
    raw.send(b"mg exp:p t\r\n")
    assert raw.read_until_quiet() == b"HD t-1\r\n"
    mc.touch("exp:p", 60)
    assert 58 <= r.ttl("exp:p") <= 60
    mc.set("exp:neg", b"v")
    mc.touch("exp:neg", -1)
    assert r.exists("exp:neg") == 0


def test_memcached_write_aborts_watch(mc, cachemere):
    r = redis.Redis(port=cachemere.port)
    r.set("w:k", "1")
    pipe = r.pipeline()
    pipe.watch("w:k")
    mc.set("w:k", b"2")
    pipe.multi()
    pipe.set("w:k", "3")
    with pytest.raises(redis.WatchError):
        pipe.execute()
    assert r.get("w:k") == b"2"


def test_flush_all_with_delay(mc):
    mc.set("fl:a", b"1")
    raw = RawConnection(mc.server[1])
    raw.send(b"flush_all 1\r\n")
    assert raw.read_until_quiet() == b"OK\r\n"
    assert mc.get("fl:a") == b"1"
    wait_for(lambda: mc.get("fl:a") is None, timeout=3)


def test_stats_counters_move(mc):
    before = mc.stats()
    mc.set("st:a", b"1")
    mc.get("st:a")
    mc.get("st:none")
    after = mc.stats()
    assert after[b"cmd_set"] == before[b"cmd_set"] + 1
    assert after[b"get_hits"] == before[b"get_hits"] + 1
    assert after[b"get_misses"] == before[b"get_misses"] + 1
    assert after[b"bytes_read"] > before[b"bytes_read"]
    assert after[b"curr_items"] >= 1
    for key, value in after.items():
        if key not in (b"version", b"libevent"):
            assert isinstance(value, (int, float)), (key, value)


def test_item_size_limit(fresh_cachemere):
    srv = fresh_cachemere("--memcached-max-item-size", "2048", memcached=True)
    conn = RawConnection(srv.mc_port)
    conn.send(b"set big 0 0 3000\r\n" + b"x" * 3000 + b"\r\nset ok 0 0 100\r\n" + b"y" * 100 + b"\r\n")
    assert conn.read_until_quiet() == b"SERVER_ERROR object too large for cache\r\nSTORED\r\n"
