"""Hashes and sets: replies equal redis-server 7.0.15's (sorted only where Redis gives no order)."""
import pytest

from tests.support.diff import assert_same, run_sequence

HASH = [
    ("DEL", "h"), ("HSET", "h", "a", "1", "b", "2"), ("HSET", "h", "a", "3"), ("HGET", "h", "a"), ("HGET", "h", "z"),
    ("HMGET", "h", "a", "z", "b"), ("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h"), ("HLEN", "h"),
    ("HEXISTS", "h", "a"), ("HSTRLEN", "h", "a"), ("HSETNX", "h", "a", "x"), ("HSETNX", "h", "c", "x"),
    ("HINCRBY", "h", "a", "10"), ("HINCRBY", "h", "c", "1"), ("HINCRBY", "h", "a", "x"),
    ("HINCRBY", "h", "a", "9223372036854775807"), ("HINCRBYFLOAT", "h", "f", "10.5"), ("HINCRBYFLOAT", "h", "f", "0.1"),
    ("HINCRBYFLOAT", "h", "c", "1"), ("HINCRBYFLOAT", "h", "f", "abc"), ("HINCRBYFLOAT", "h", "f", "5e3"),
    ("HDEL", "h", "a", "zz"), ("HMSET", "h", "x", "1"), ("HSET", "h", "odd"), ("HMSET", "h", "odd"),
    ("OBJECT", "ENCODING", "h"), ("HDEL", "h", "b", "c", "f", "x"), ("EXISTS", "h"), ("HGETALL", "h"),
    ("SET", "str", "v"), ("HGET", "str", "a"), ("HSET", "str", "a", "b"), ("HLEN", "str"), ("HRANDFIELD", "str"),
    ("HRANDFIELD", "nokey"), ("HRANDFIELD", "nokey", "3"), ("HRANDFIELD", "h", "x"), ("HRANDFIELD", "h", "1", "bad"),
    ("HSCAN", "nokey", "0"), ("HSCAN", "h", "abc"), ("HSET", "hs", "f1", "v1", "f2", "v2", "g", "v3"),
    ("HSCAN", "hs", "0"), ("HSCAN", "hs", "0", "MATCH", "f*"), ("HSCAN", "hs", "0", "COUNT", "0"),
    ("HSCAN", "hs", "0", "BOGUS"), ("HSET", "big", "f", "x" * 100), ("OBJECT", "ENCODING", "big"),
]

SETS = [
    ("DEL", "s", "t", "u", "d"), ("SADD", "s", "3", "1", "2"), ("SADD", "s", "2", "4"), ("SMEMBERS", "s"),
    ("OBJECT", "ENCODING", "s"), ("SCARD", "s"), ("SISMEMBER", "s", "1"), ("SISMEMBER", "s", "9"),
    ("SMISMEMBER", "s", "1", "9"), ("SADD", "t", "3", "4", "5"), ("SINTER", "s", "t"), ("SUNION", "s", "t"),
    ("SDIFF", "s", "t"), ("SINTER", "s", "nokey"), ("SDIFF", "nokey", "s"), ("SINTERSTORE", "d", "s", "t"),
    ("SMEMBERS", "d"), ("SUNIONSTORE", "d", "s", "t"), ("SDIFFSTORE", "d", "s", "t"), ("SMEMBERS", "d"),
    ("SINTERSTORE", "d", "s", "nokey"), ("EXISTS", "d"), ("SINTERCARD", "2", "s", "t"),
    ("SINTERCARD", "2", "s", "t", "LIMIT", "1"), ("SINTERCARD", "0", "s"), ("SINTERCARD", "3", "s", "t"),
    ("SINTERCARD", "2", "s", "t", "LIMIT", "-1"), ("SINTERCARD", "1", "s", "BOGUS"), ("SREM", "s", "1", "99"),
    ("SMOVE", "s", "t", "2"), ("SMOVE", "s", "t", "99"), ("SMOVE", "nokey", "t", "1"), ("SMEMBERS", "t"),
    ("SADD", "u", "a", "b", "c"), ("OBJECT", "ENCODING", "u"), ("SMEMBERS", "u"), ("SRANDMEMBER", "nokey"),
    ("SRANDMEMBER", "nokey", "3"), ("SRANDMEMBER", "s", "x"), ("SRANDMEMBER", "u", "0"), ("SRANDMEMBER", "s", "10"),
    ("SPOP", "nokey"), ("SPOP", "nokey", "2"), ("SPOP", "s", "-1"), ("SPOP", "s", "0"), ("SPOP", "s", "1", "2"),
    ("SET", "str", "v"), ("SADD", "str", "a"), ("SINTER", "s", "str"), ("SUNION", "nokey", "str"),
    ("SMOVE", "s", "str", "3"), ("SSCAN", "s", "0"), ("SSCAN", "nokey", "0"), ("SSCAN", "s", "x"),
    ("SSCAN", "u", "0", "MATCH", "a*"), ("SREM", "u", "a", "b", "c"), ("EXISTS", "u"),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_hash_commands(cachemere, redis_ref, resp):
    assert_same(cachemere.port, redis_ref.port, HASH, unordered={"HGETALL", "HKEYS", "HVALS"}, resp=resp)


@pytest.mark.parametrize("resp", [2, 3])
def test_set_commands(cachemere, redis_ref, resp):
    assert_same(cachemere.port, redis_ref.port, SETS,
                unordered={"SMEMBERS", "SINTER", "SUNION", "SDIFF", "SSCAN"}, resp=resp)


def test_random_picks_by_properties(cachemere):
    seq = [("DEL", "r"), ("SADD", "r", "a", "b", "c", "d"), ("SRANDMEMBER", "r", "2"), ("SRANDMEMBER", "r", "-6"),
           ("SPOP", "r", "3"), ("SCARD", "r"), ("HSET", "rh", "a", "1", "b", "2"), ("HRANDFIELD", "rh", "-5", "WITHVALUES")]
    out = run_sequence(cachemere.port, seq)
    from tests.support.diff import parse
    two = parse(out[2])
    assert len(two) == 2 and len(set(two)) == 2 and set(two) <= {b"a", b"b", b"c", b"d"}
    six = parse(out[3])
    assert len(six) == 6 and set(six) <= {b"a", b"b", b"c", b"d"}
    assert len(set(parse(out[4]))) == 3
    assert out[5] == b":1\r\n"
    pairs = parse(out[7])
    assert len(pairs) == 10 and all(pairs[i + 1] == {b"a": b"1", b"b": b"2"}[pairs[i]] for i in range(0, 10, 2))


def test_spop_effects_are_deterministic():
    from engine.core import Keyspace, Dispatcher, Client
    import engine.commands  # noqa: F401
    ks = Keyspace(16)
    effects = []
    ks.effects.subscribe(effects.append)
    d = Dispatcher(ks)
    c = Client(ks)
    d.execute(c, [b"SADD", b"k", b"a", b"b", b"c"])
    d.execute(c, [b"SPOP", b"k"])
    d.execute(c, [b"SPOP", b"k", b"5"])
    d.execute(c, [b"HSET", b"h", b"f", b"1.5"])
    d.execute(c, [b"HINCRBYFLOAT", b"h", b"f", b"0.1"])
    joined = b"".join(effects)
    assert b"SPOP" not in joined
    assert b"*3\r\n$4\r\nSREM\r\n$1\r\nk\r\n" in joined
    assert joined.endswith(b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$3\r\n1.5\r\n"
                           b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$3\r\n1.6\r\n")
