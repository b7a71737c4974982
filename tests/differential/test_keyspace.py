"""Generic key commands and the TTL family: replies equal redis-server 7.0.15's byte for byte."""
import time

import pytest
from hypothesis import given, settings, strategies as st

from tests.support.diff import assert_same, parse, run_sequence
from tests.support.servers import RawConnection

SEQ = [
    ("FLUSHALL",), ("SET", "a", "1"), ("SET", "b", "2"), ("HSET", "h", "f", "v"), ("SADD", "s", "x"),
    ("DEL", "a", "nokey", "a"), ("EXISTS", "b", "b", "nokey"), ("TYPE", "b"), ("TYPE", "h"), ("TYPE", "s"),
    ("TYPE", "nokey"), ("KEYS", "*"), ("KEYS", "[bh]"), ("KEYS", "h?"), ("DBSIZE",),
    ("RENAME", "nokey", "x"), ("RENAME", "b", "b"), ("RENAMENX", "b", "b"), ("RENAME", "b", "c"), ("GET", "c"),
    ("RENAMENX", "c", "h"), ("COPY", "c", "d"), ("COPY", "c", "d"), ("COPY", "c", "d", "REPLACE"),
    ("COPY", "c", "c"), ("COPY", "c", "e", "DB", "1"), ("COPY", "c", "e", "DB", "99"), ("COPY", "c", "e", "DB", "x"),
    ("COPY", "c", "e", "BOGUS"), ("MOVE", "c", "1"), ("MOVE", "c", "1"), ("MOVE", "d", "0"), ("MOVE", "d", "x"),
    ("MOVE", "d", "16"), ("SWAPDB", "0", "1"), ("KEYS", "*"), ("SWAPDB", "0", "1"), ("SWAPDB", "x", "1"),
    ("SWAPDB", "0", "y"), ("SWAPDB", "0", "16"), ("EXPIRE", "d", "100"), ("TTL", "d"), ("PTTL", "nokey"),
    ("TTL", "h"), ("EXPIRE", "d", "100", "NX"), ("EXPIRE", "d", "200", "XX"), ("EXPIRE", "d", "50", "GT"),
    ("EXPIRE", "d", "50", "LT"), ("EXPIRE", "d", "10", "NX", "XX"), ("EXPIRE", "d", "10", "GT", "LT"),
    ("EXPIRE", "d", "10", "FOO"), ("EXPIRE", "d", "abc"), ("EXPIRE", "d", "99999999999999999"),
    ("PEXPIRE", "d", "9223372036854775807"), ("EXPIRE", "nokey", "10"), ("PERSIST", "d"), ("PERSIST", "d"),
    ("TTL", "d"), ("EXPIREAT", "d", "4000000000"), ("EXPIRETIME", "d"), ("PEXPIRETIME", "d"),
    ("PEXPIREAT", "d", "4000000000123"), ("PEXPIRETIME", "d"), ("EXPIRETIME", "h"), ("EXPIRETIME", "nokey"),
    ("EXPIRE", "d", "-1"), ("EXISTS", "d"), ("TOUCH", "h", "s", "nokey"), ("OBJECT", "ENCODING", "h"),
    ("SET", "i", "123"), ("SET", "e", "hello"), ("SET", "r", "x" * 50), ("OBJECT", "ENCODING", "i"),
    ("OBJECT", "ENCODING", "e"), ("OBJECT", "ENCODING", "r"), ("OBJECT", "ENCODING", "nokey"),
    ("OBJECT", "REFCOUNT", "e"), ("OBJECT", "FREQ", "e"), ("OBJECT", "BOGUS", "e"), ("OBJECT", "HELP"),
    ("APPEND", "e", "x"), ("OBJECT", "ENCODING", "e"), ("SCAN", "x"), ("SCAN", "0", "COUNT", "0"),
    ("SCAN", "0", "BOGUS"), ("SCAN", "0", "COUNT", "x"), ("FLUSHDB", "BOGUS"), ("FLUSHDB", "ASYNC"), ("DBSIZE",),
    ("DEL",), ("RANDOMKEY",), ("FLUSHALL", "SYNC"),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_keyspace_sequence(cachemere, redis_ref, resp):
    assert_same(cachemere.port, redis_ref.port, SEQ, unordered={"KEYS"}, resp=resp)


def test_scan_collects_everything(cachemere, redis_ref):
    setup = [("FLUSHALL",)] + [("SET", f"sk:{i}", "v") for i in range(300)] + [("HSET", "sh", "f", "v")]
    for port in (cachemere.port, redis_ref.port):
        run_sequence(port, setup)

    def scan_all(port, *opts):
        conn = RawConnection(port)
        cursor, seen = b"0", []
        for _ in range(1000):
            cursor, keys = parse(conn.command("SCAN", cursor, *opts))
            seen += keys
            if cursor == b"0":
                break
        return sorted(set(seen))
    for opts in ((), ("MATCH", "sk:1*"), ("TYPE", "hash"), ("COUNT", "7", "TYPE", "string")):
        assert scan_all(cachemere.port, *opts) == scan_all(redis_ref.port, *opts)
    run_sequence(cachemere.port, [("FLUSHALL",)])
    run_sequence(redis_ref.port, [("FLUSHALL",)])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "del"]), st.integers(0, 400)), max_size=60),
       st.integers(1, 25))
def test_scan_guarantee_under_churn(cachemere, ops, count):
    """Every key present for the whole scan is returned, while others are added and deleted between calls."""
    conn = RawConnection(cachemere.port)
    conn.command("FLUSHALL")
    stable = [f"stable:{i}" for i in range(120)]
    for k in stable:
        conn.command("SET", k, "1")
    seen, cursor, i = set(), b"0", 0
    while True:
        cursor, keys = parse(conn.command("SCAN", cursor, "COUNT", str(count)))
        seen.update(keys)
        if i < len(ops):
            kind, n = ops[i]
            conn.command("SET" if kind == "add" else "DEL", f"churn:{n}", *(["x"] if kind == "add" else []))
            i += 1
        if cursor == b"0":
            break
    assert {k.encode() for k in stable} <= seen
    conn.command("FLUSHALL")


def test_active_expiry_reclaims_unread_keys(fresh_cachemere):
    srv = fresh_cachemere("--hz", "10")
    conn = RawConnection(srv.port)
    conn.send(b"".join(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n$2\r\nPX\r\n$3\r\n100\r\n" % (len(k), k)
                       for k in (b"exp:%d" % i for i in range(10000))))
    for _ in range(10000):
        conn.read_reply()
    assert conn.command("DBSIZE") == b":10000\r\n"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and conn.command("DBSIZE") != b":0\r\n":
        time.sleep(0.1)
    assert conn.command("DBSIZE") == b":0\r\n"
    assert b"expired_keys:10000" in conn.command("INFO", "stats")


def test_expire_effects():
    from engine.core import Keyspace, Dispatcher, Client
    import engine.commands  # noqa: F401
    ks = Keyspace(16)
    effects = []
    ks.effects.subscribe(effects.append)
    d = Dispatcher(ks)
    c = Client(ks)
    d.execute(c, [b"SET", b"k", b"v", b"EX", b"100"])
    d.execute(c, [b"EXPIRE", b"k", b"50"])
    d.execute(c, [b"EXPIRE", b"k", b"-1"])
    d.execute(c, [b"SET", b"k2", b"v"])
    ks.dbs[0].find(b"k2").expire_at = ks.now_ms - 1      # an already stale key...
    d.execute(c, [b"GET", b"k2"])                          # ...is deleted on access and propagates DEL
    stream = b"".join(effects)
    when = ks.now_ms + 100_000
    assert (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$13\r\n%d\r\n" % when) in stream
    assert (b"*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$13\r\n%d\r\n" % (ks.now_ms + 50_000)) in stream
    assert stream.endswith(b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$1\r\nv\r\n"
                           b"*2\r\n$3\r\nDEL\r\n$2\r\nk2\r\n")
