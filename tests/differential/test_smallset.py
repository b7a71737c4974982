"""Small string sets (engine/types/smallset.pyx, held compactly but answering as redis 7.0's hashtable
encoding) against redis-server 7.0.15: the intset -> small set -> SetValue transitions at both limits
(128 members, 64-byte members) with OBJECT ENCODING "hashtable" throughout, the replies of every set
command on a small set (order-free ones compared as sorted lists), DUMP/RESTORE both ways, and DEBUG
RELOAD keeping the members."""
import pytest

from tests.support.diff import assert_same, parse, run_sequence

M64 = "y" * 64
M65 = "z" * 65
MANY = ["m%d" % i for i in range(127)]

TRANSITIONS = [
    ("FLUSHALL",),
    ("SADD", "a", "1", "2"), ("OBJECT", "ENCODING", "a"), ("SADD", "a", "x"), ("OBJECT", "ENCODING", "a"),
    ("SADD", "a", M64), ("OBJECT", "ENCODING", "a"), ("SCARD", "a"), ("SISMEMBER", "a", M64),
    ("SADD", "a", M65), ("OBJECT", "ENCODING", "a"), ("SCARD", "a"), ("SISMEMBER", "a", M65),
    ("SREM", "a", M65, M64, "nope"), ("OBJECT", "ENCODING", "a"), ("SMEMBERS", "a"),
    ("SADD", "b", *MANY), ("OBJECT", "ENCODING", "b"), ("SCARD", "b"), ("SADD", "b", "m0", "last"),
    ("OBJECT", "ENCODING", "b"), ("SCARD", "b"), ("SADD", "b", "more"), ("OBJECT", "ENCODING", "b"),
    ("SCARD", "b"), ("SMISMEMBER", "b", "m0", "last", "more", "m200"),
    ("SADD", "c", *MANY, "x1", "x2"), ("SCARD", "c"), ("OBJECT", "ENCODING", "c"),
    ("SADD", "d", "x"), ("SADD", "d", *MANY), ("SADD", "d", "a", "b"), ("SCARD", "d"),
    ("SREM", "d", *MANY[:100]), ("SCARD", "d"), ("OBJECT", "ENCODING", "d"), ("SMEMBERS", "d"),
    ("SADD", "e", "1", "2", "3"), ("SADD", "e", "", "x"), ("OBJECT", "ENCODING", "e"), ("SMEMBERS", "e"),
    ("SISMEMBER", "e", ""), ("SREM", "e", "", "1"), ("SMEMBERS", "e"),
    ("SADD", "f", "a", "b", "c", "d"), ("SADD", "g", "c", "d", "e"),
    ("SINTER", "f", "g"), ("SUNION", "f", "g"), ("SDIFF", "f", "g"), ("SINTERCARD", "2", "f", "g"),
    ("SINTERSTORE", "o1", "f", "g"), ("OBJECT", "ENCODING", "o1"), ("SMEMBERS", "o1"),
    ("SUNIONSTORE", "o2", "f", "g", "a"), ("OBJECT", "ENCODING", "o2"), ("SMEMBERS", "o2"),
    ("SDIFFSTORE", "o3", "f", "g"), ("SMEMBERS", "o3"), ("SUNIONSTORE", "o4", "b", "f"), ("SCARD", "o4"),
    ("SMOVE", "f", "g", "a"), ("SMEMBERS", "f"), ("SMEMBERS", "g"), ("SMOVE", "f", "g", "c"),
    ("SMOVE", "f", "h", "b"), ("OBJECT", "ENCODING", "h"), ("SMOVE", "f", "h", "d"), ("EXISTS", "f"),
    ("SMOVE", "g", "b", "e"), ("SCARD", "b"),
    ("SADD", "s", "c", "a", "b"), ("SORT", "s", "ALPHA"), ("SORT", "s", "ALPHA", "DESC", "LIMIT", "0", "2"),
    ("SSCAN", "s", "0", "MATCH", "a*"),
    ("SADD", "p", "a", "b", "c", "d", "e"), ("SPOP", "p", "0"), ("SPOP", "p", "5"), ("EXISTS", "p"),
    ("SADD", "p", "a", "b"), ("SRANDMEMBER", "p", "5"), ("SRANDMEMBER", "p", "2"), ("SPOP", "p", "9"),
    ("SADD", "one", "x"), ("SPOP", "one"), ("EXISTS", "one"), ("SADD", "one", "y"), ("SRANDMEMBER", "one"),
    ("SRANDMEMBER", "one", "-3"), ("DUMP", "one"), ("SREM", "one", "y"), ("EXISTS", "one"),
    ("SET", "str", "v"), ("SADD", "str", "x"), ("SMOVE", "s", "str", "a"), ("SISMEMBER", "str", "a"),
    ("SADD", "cp", "a", "b"), ("COPY", "cp", "cp2"), ("SADD", "cp2", "c"), ("SMEMBERS", "cp"),
    ("SMEMBERS", "cp2"), ("OBJECT", "ENCODING", "cp2"), ("TYPE", "cp2"),
    ("SADD", "ix", "1", "2"), ("SADD", "ix", "a"), ("SREM", "ix", "a"), ("OBJECT", "ENCODING", "ix"),
    ("SADD", "ix", "3"), ("OBJECT", "ENCODING", "ix"), ("SMEMBERS", "ix"),
]
UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "SPOP", "SRANDMEMBER"}


@pytest.mark.parametrize("resp", [2, 3])
def test_small_set_transitions(cachemere, redis_ref, resp):
    assert_same(cachemere.port, redis_ref.port, TRANSITIONS, unordered=UNORDERED, resp=resp)


def test_dump_restore_both_ways_and_reload(debug_pair):
    cachemere, redis_ref = debug_pair
    members = ["a", "bb", "1", M64, ""]
    for port in (cachemere.port, redis_ref.port):
        run_sequence(port, [("FLUSHALL",), ("SADD", "k", *members)])
    for src, dst in ((cachemere.port, redis_ref.port), (redis_ref.port, cachemere.port)):
        payload = parse(run_sequence(src, [("DUMP", "k")])[0])
        run_sequence(dst, [("DEL", "k2")])
        assert parse(run_sequence(dst, [("RESTORE", "k2", "0", payload)])[0]) == b"OK"
        got = parse(run_sequence(dst, [("SMEMBERS", "k2")])[0])
        assert sorted(got) == sorted(m.encode() for m in members)
        assert parse(run_sequence(dst, [("OBJECT", "ENCODING", "k2")])[0]) == b"hashtable"
    run_sequence(cachemere.port, [("SADD", "k", "extra")])
    assert parse(run_sequence(cachemere.port, [("DEBUG", "RELOAD")])[0]) == b"OK"
    got = parse(run_sequence(cachemere.port, [("SMEMBERS", "k")])[0])
    assert sorted(got) == sorted(m.encode() for m in members + ["extra"])
    assert parse(run_sequence(cachemere.port, [("SCARD", "k2")])[0]) == len(members)


def test_sscan_returns_every_member_once(cachemere):
    members = ["s%d" % i for i in range(100)]
    run_sequence(cachemere.port, [("DEL", "sc"), ("SADD", "sc", *members)])
    seen, cursor = [], b"0"
    for _ in range(200):
        cursor, batch = parse(run_sequence(cachemere.port, [("SSCAN", "sc", cursor, "COUNT", "7")])[0])
        seen += batch
        if cursor == b"0":
            break
    assert sorted(seen) == sorted(m.encode() for m in members)
    seen = set()
    for _ in range(600):
        seen.add(parse(run_sequence(cachemere.port, [("SRANDMEMBER", "sc")])[0]))
    assert len(seen) > 90
    popped = [parse(x) for x in run_sequence(cachemere.port, [("SPOP", "sc")] * 100)]
    assert sorted(popped) == sorted(m.encode() for m in members)
    assert parse(run_sequence(cachemere.port, [("EXISTS", "sc")])[0]) == 0
