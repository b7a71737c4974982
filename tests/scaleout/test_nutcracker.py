"""nutcracker (twemproxy, the Debian package) in front of three Cachemere nodes, both protocols, with
conf/nutcracker.yml; the same proxy in front of three real redis-server + memcached pairs gives the
same replies byte for byte (differential), and a node killed with kill -9 is ejected the same way.
"""
import os
import socket
import subprocess
import time

import pytest
import redis
from pymemcache.client.base import Client as McClient

from tests.scaleout.support import (NUTCRACKER, Nutcracker, start_cachemere_nodes, start_reference_nodes,
                                    stop_all)
from tests.support.servers import RawConnection

pytestmark = pytest.mark.skipif(not os.path.exists(NUTCRACKER), reason="nutcracker not installed (make deps-apt)")


def proxy_client(port):
    # nutcracker speaks RESP2 only and closes the connection on commands it does not know (HELLO,
    # CLIENT SETINFO): a client in front of it uses protocol 2 and no handshake extras
    try:
        from redis.driver_info import DriverInfo
    except ImportError:                                     # redis-py before 7
        extras = {"lib_name": None, "lib_version": None}
    else:
        extras = {"driver_info": DriverInfo(name=None, lib_version=None)}
    return redis.Redis(port=port, socket_timeout=5, protocol=2, **extras)


def proxied(start_nodes):
    """Three nodes and nutcracker in front of them, stopped afterwards."""
    nodes = start_nodes(3)
    try:
        nc = Nutcracker(nodes)
    except Exception:
        stop_all(nodes)
        raise
    yield nodes, nc
    nc.stop()
    stop_all(nodes)


@pytest.fixture(scope="module")
def ours():
    yield from proxied(start_cachemere_nodes)


@pytest.fixture(scope="module")
def theirs():
    yield from proxied(start_reference_nodes)


def flush(nodes):
    for n in nodes:
        redis.Redis(port=n.port).flushall()
        with socket.create_connection(("127.0.0.1", n.mc_port), timeout=5) as s:
            s.sendall(b"flush_all\r\n")
            assert s.recv(100) == b"OK\r\n"


# ------------------------------------------------------------------------------------------ RESP pool
def test_redis_py_through_proxy_spreads_keys_over_all_nodes(ours):
    nodes, nc = ours
    flush(nodes)
    r = proxy_client(nc.port)
    keys = [f"user:{i}" for i in range(300)]
    for k in keys:
        assert r.set(k, k.upper())
    assert r.mget(keys[:50]) == [k.upper().encode() for k in keys[:50]]
    # every key is on exactly one node, and every node holds a fair share
    counts = [redis.Redis(port=n.port).dbsize() for n in nodes]
    assert sum(counts) == 300
    assert min(counts) >= 30, counts
    for k in keys[:30]:
        holders = [n for n in nodes if redis.Redis(port=n.port).get(k) == k.upper().encode()]
        assert len(holders) == 1
    assert r.delete(*keys[:100]) == 100
    assert sum(redis.Redis(port=n.port).dbsize() for n in nodes) == 200
    # hashes, lists, sets, sorted sets, counters, TTLs: single-key commands nutcracker forwards
    assert r.hset("h", mapping={"a": 1, "b": 2}) == 2
    assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert r.hincrby("h", "a", 5) == 6
    assert r.rpush("l", 1, 2, 3) == 3 and r.lrange("l", 0, -1) == [b"1", b"2", b"3"]
    assert r.sadd("s", "x", "y") == 2 and r.smembers("s") == {b"x", b"y"}
    assert r.zadd("z", {"m": 1.5}) == 1 and r.zscore("z", "m") == 1.5
    assert r.incr("ctr") == 1 and r.expire("ctr", 100) and 0 < r.ttl("ctr") <= 100
    assert r.eval("return redis.call('get', KEYS[1])", 1, keys[200]) == keys[200].upper().encode()


def test_redis_cli_through_proxy(ours):
    nodes, nc = ours
    def run(*args):
        return subprocess.run(["redis-cli", "-p", str(nc.port), *args], capture_output=True, text=True,
                              timeout=10).stdout
    assert run("set", "cli:k", "hello").strip() == "OK"
    assert run("get", "cli:k").strip() == "hello"
    assert run("hset", "cli:h", "f", "v").strip() == "1"
    assert run("hget", "cli:h", "f").strip() == "v"
    assert run("del", "cli:k", "cli:h").strip() == "2"
    assert run("get", "cli:k").strip() == ""


# The differential script: every command through the proxy, raw reply bytes compared with the reference.
RESP_SCRIPT = [
    ("SET", "a", "1"), ("SET", "b", "2"), ("SET", "c", "x"), ("GET", "a"), ("GET", "missing"),
    ("MGET", "a", "b", "c", "missing"), ("MSET", "d", "4", "e", "5", "f", "6"), ("MGET", "d", "e", "f"),
    ("EXISTS", "a", "b", "missing"), ("INCR", "a"), ("INCRBY", "b", "10"), ("INCRBYFLOAT", "a", "0.5"),
    ("INCR", "c"), ("APPEND", "c", "yz"), ("STRLEN", "c"), ("GETSET", "c", "new"), ("SETNX", "c", "no"),
    ("SETEX", "t", "100", "v"), ("TTL", "t"), ("PERSIST", "t"), ("TTL", "t"), ("TYPE", "t"),
    ("SETRANGE", "c", "1", "EE"), ("GETRANGE", "c", "0", "-1"),
    ("HSET", "h", "f1", "v1", "f2", "v2"), ("HGET", "h", "f1"), ("HMGET", "h", "f1", "nope", "f2"),
    ("HINCRBY", "h", "n", "3"), ("HLEN", "h"), ("HEXISTS", "h", "f2"), ("HDEL", "h", "f2"), ("HGETALL", "h"),
    ("HKEYS", "h"), ("HVALS", "h"), ("HGET", "a", "x"),
    ("RPUSH", "l", "1", "2", "3"), ("LPUSH", "l", "0"), ("LRANGE", "l", "0", "-1"), ("LLEN", "l"),
    ("LINDEX", "l", "2"), ("LPOP", "l"), ("RPOP", "l"), ("LSET", "l", "0", "z"), ("LREM", "l", "0", "z"),
    ("LRANGE", "l", "0", "-1"),
    ("SADD", "s", "a", "b", "c"), ("SISMEMBER", "s", "b"), ("SCARD", "s"), ("SREM", "s", "a"),
    ("ZADD", "z", "1", "one", "2", "two", "3.5", "three"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
    ("ZSCORE", "z", "three"), ("ZINCRBY", "z", "1.25", "one"), ("ZRANK", "z", "one"), ("ZCARD", "z"),
    ("ZRANGEBYSCORE", "z", "2", "+inf"), ("ZREM", "z", "two"), ("ZCOUNT", "z", "-inf", "+inf"),
    ("PFADD", "hll", "a", "b", "c"), ("PFCOUNT", "hll"),
    ("EXPIRE", "a", "1000"), ("TTL", "a"), ("PEXPIRE", "b", "100000"), ("EXPIREAT", "d", "4102444800"),
    ("TTL", "d"), ("DUMP", "missing"),
    ("EVAL", "return {KEYS[1], ARGV[1], redis.call('get', KEYS[1])}", "1", "e", "arg"),
    ("EVAL", "return redis.call('incr', KEYS[1])", "1", "c"),
    ("DEL", "a", "b", "c", "d", "e", "f", "t", "h", "l", "s", "z", "hll"), ("MGET", "a", "b", "missing"),
]


def run_resp_script(port):
    conn = RawConnection(port)
    try:
        return [conn.command(*cmd) for cmd in RESP_SCRIPT]
    finally:
        conn.close()


def test_resp_replies_through_proxy_match_redis(ours, theirs):
    flush(ours[0])
    flush(theirs[0])
    mine, ref = run_resp_script(ours[1].port), run_resp_script(theirs[1].port)
    diffs = [(cmd, a, b) for cmd, a, b in zip(RESP_SCRIPT, mine, ref) if a != b]
    assert not diffs
    # and the keys sit on the same node positions in both setups (same ring, same names)
    flush(ours[0])
    flush(theirs[0])
    for nodes, nc in (ours, theirs):
        r = proxy_client(nc.port)
        for i in range(60):
            r.set(f"spread:{i}", i)
    assert [redis.Redis(port=n.port).dbsize() for n in ours[0]] == \
        [redis.Redis(port=n.port).dbsize() for n in theirs[0]]


# ------------------------------------------------------------------------------------- memcache pool
def test_pymemcache_through_proxy(ours):
    nodes, nc = ours
    flush(nodes)
    m = McClient(("127.0.0.1", nc.mc_port), timeout=5)
    keys = [f"mc:{i}" for i in range(300)]
    for k in keys:
        assert m.set(k, k.encode(), noreply=False)
    got = m.get_many(keys[:100])
    assert got == {k: k.encode() for k in keys[:100]}
    counts = [redis.Redis(port=n.port).dbsize() for n in nodes]
    assert sum(counts) == 300 and min(counts) >= 30, counts
    assert m.add("mc:0", b"x", noreply=False) is False
    assert m.incr("n", 1) is None
    m.set("n", b"41")
    assert m.incr("n", 1) == 42
    value, cas = m.gets("n")
    assert m.cas("n", b"50", cas, noreply=False) is True
    assert m.delete("n", noreply=False) is True
    assert m.get("n") is None


def test_libmemcached_tools_through_proxy(ours, tmp_path):
    nodes, nc = ours
    servers = f"--servers=127.0.0.1:{nc.mc_port}"
    f = tmp_path / "tool-key"
    f.write_bytes(b"from memccp")
    subprocess.run(["memccp", servers, str(f)], check=True, timeout=10, capture_output=True)
    out = subprocess.run(["memccat", servers, "tool-key"], capture_output=True, timeout=10)
    assert out.stdout == b"from memccp\n"      # memccat ends the value with a newline
    # the value is on one node, through either protocol
    assert sum(redis.Redis(port=n.port).get("tool-key") == b"from memccp" for n in nodes) == 1
    subprocess.run(["memcrm", servers, "tool-key"], check=True, timeout=10, capture_output=True)
    assert subprocess.run(["memccat", servers, "tool-key"], capture_output=True, timeout=10).stdout == b""


MC_SCRIPT = [
    b"set a 5 0 3\r\nabc\r\n", b"get a\r\n", b"get missing\r\n", b"add a 0 0 1\r\nx\r\n", b"add b 0 0 1\r\ny\r\n",
    b"replace nope 0 0 1\r\nz\r\n", b"append a 0 0 2\r\nde\r\n", b"prepend a 0 0 2\r\nxy\r\n", b"get a b\r\n",
    b"set n 0 0 2\r\n10\r\n", b"incr n 5\r\n", b"decr n 100\r\n", b"incr a 1\r\n", b"incr missing 1\r\n",
    b"touch a 100\r\n", b"touch missing 100\r\n", b"delete b\r\n", b"delete b\r\n", b"get a b n\r\n",
    b"set big 0 0 5\r\n12345\r\n", b"set k1 0 0 1\r\n1\r\nset k2 0 0 1\r\n2\r\n", b"get k1 k2 k3 big\r\n",
    b"delete a noreply\r\nget a\r\n",
]


SENTINEL = b"VALUE __sentinel__ 0 8\r\nSENTINEL\r\nEND\r\n"


def run_mc_script(port):
    """Each request's reply bytes; a get of a known sentinel item after each request marks where it ends."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"set __sentinel__ 0 0 8\r\nSENTINEL\r\n")
        assert s.recv(100) == b"STORED\r\n"
        for req in MC_SCRIPT:
            s.sendall(req + b"get __sentinel__\r\n")
            buf = b""
            while not buf.endswith(SENTINEL):
                data = s.recv(65536)
                assert data, (req, buf)
                buf += data
            out.append(buf[:-len(SENTINEL)])
    return out


def test_memcache_replies_through_proxy_match_memcached(ours, theirs):
    flush(ours[0])
    flush(theirs[0])
    mine, ref = run_mc_script(ours[1].mc_port), run_mc_script(theirs[1].mc_port)
    diffs = [(req, a, b) for req, a, b in zip(MC_SCRIPT, mine, ref) if a != b]
    assert not diffs


# ------------------------------------------------------------------------------------- a node is lost
def key_on(nodes, index, r, prefix):
    """A key the proxy puts on nodes[index] (found by writing through the proxy and looking)."""
    for i in range(500):
        k = f"{prefix}{i}"
        r.set(k, "probe")
        if redis.Redis(port=nodes[index].port).get(k) == b"probe":
            return k
    raise AssertionError("no key maps to that node")


def eject_scenario(nodes, nc):
    """kill -9 one node; record what clients of the proxy see: its keys miss (an error, or a miss once the
    node is ejected by auto_eject_hosts), then are written to and served by a survivor; the other nodes'
    keys are untouched throughout."""
    r = proxy_client(nc.port)
    lost = key_on(nodes, 1, r, "lost:")
    kept = key_on(nodes, 0, r, "kept:")
    m = McClient(("127.0.0.1", nc.mc_port), timeout=5)
    direct = McClient(("127.0.0.1", nodes[1].mc_port), timeout=5)
    for i in range(500):                                  # a key the memcache pool puts on the same node
        mc_lost = f"mclost:{i}"
        m.set(mc_lost, b"probe", noreply=False)
        if direct.get(mc_lost) == b"probe":
            break
    else:
        raise AssertionError("no memcache key maps to that node")
    nodes[1].kill9()
    outcome = []
    try:
        # an error while the proxy still counts the node, or a miss once it is ejected (the EOF of the
        # killed node's connection may already count as its failure): never the dead node's value
        outcome.append("miss" if r.get(lost) is None else "stale")
    except (redis.ConnectionError, redis.ResponseError, redis.TimeoutError):
        outcome.append("miss")
    assert r.get(kept) == b"probe"
    # after server_failure_limit failures the node is out of the ring: its keys now live elsewhere
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            r = proxy_client(nc.port)
            if r.set(lost, "moved"):
                break
        except (redis.ConnectionError, redis.ResponseError, redis.TimeoutError):
            time.sleep(0.1)
    else:
        raise AssertionError("the dead node was never ejected")
    outcome.append(r.get(lost))
    holders = [i for i, n in enumerate(nodes) if i != 1 and redis.Redis(port=n.port).get(lost) == b"moved"]
    outcome.append(len(holders))
    outcome.append(r.get(kept))
    # the memcache pool ejects the node on its own failures, the same way
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            m = McClient(("127.0.0.1", nc.mc_port), timeout=5)
            if m.set(mc_lost, b"moved", noreply=False):
                break
        except Exception:                                   # SERVER_ERROR from the proxy, or a closed socket
            time.sleep(0.1)
    else:
        raise AssertionError("the memcache pool never ejected the dead node")
    outcome.append(m.get(mc_lost))
    outcome.append(sum(McClient(("127.0.0.1", n.mc_port), timeout=5).get(mc_lost) == b"moved"
                       for i, n in enumerate(nodes) if i != 1))
    return outcome


@pytest.mark.parametrize("kind", ["cachemere", "reference"])
def test_killed_node_is_ejected(kind):
    nodes = start_cachemere_nodes(3) if kind == "cachemere" else start_reference_nodes(3)
    nc = None
    try:
        nc = Nutcracker(nodes)
        outcome = eject_scenario(nodes, nc)
        assert outcome == ["miss", b"moved", 1, b"probe", b"moved", 1], outcome
    finally:
        if nc is not None:
            nc.stop()
        stop_all(nodes)


def test_redis_auth_sent_by_the_proxy():
    """With redis_auth nutcracker sends AUTH on every server connection and checks the client's own AUTH."""
    nodes = start_cachemere_nodes(3, "--requirepass", "s3cret")
    nc = None
    try:
        nc = Nutcracker(nodes, redis_extra=["redis_auth: s3cret"])
        anonymous = proxy_client(nc.port)
        with pytest.raises(redis.AuthenticationError):
            anonymous.get("k")
        r = proxy_client(nc.port)
        assert r.execute_command("AUTH", "s3cret") in (b"OK", True)
        for i in range(30):
            assert r.set(f"auth:{i}", i)
        assert r.mget([f"auth:{i}" for i in range(30)]) == [str(i).encode() for i in range(30)]
        assert sum(redis.Redis(port=n.port, password="s3cret").dbsize() for n in nodes) == 30
    finally:
        if nc is not None:
            nc.stop()
        stop_all(nodes)
