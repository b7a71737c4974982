"""Sets in redis 7.0's intset encoding (engine/types/intset.pyx) against redis-server 7.0.15: OBJECT ENCODING
through every conversion (one way only, CONFIG SET of set-max-intset-entries applying on the next
addition), the ascending replies of an intset byte for byte, DUMP payloads equal to redis's, and intsets
carried both ways through RESTORE and an RDB file."""
import os
import shutil
import tempfile

import pytest

from tests.support.diff import assert_same, parse, run_sequence
from tests.support.servers import RawConnection, start_cachemere, start_redis

TRANSITIONS = [
    ("FLUSHALL",),
    ("SADD", "a", "1", "2", "3"), ("OBJECT", "ENCODING", "a"), ("SADD", "a", "x"), ("OBJECT", "ENCODING", "a"),
    ("SREM", "a", "x"), ("OBJECT", "ENCODING", "a"),
    ("CONFIG", "SET", "set-max-intset-entries", "4"),
    ("SADD", "b", "1", "2", "3", "4"), ("OBJECT", "ENCODING", "b"), ("SADD", "b", "4"), ("OBJECT", "ENCODING", "b"),
    ("SADD", "b", "5"), ("OBJECT", "ENCODING", "b"),
    ("CONFIG", "SET", "set-max-intset-entries", "2"),
    ("SADD", "c", "1", "2", "3"), ("OBJECT", "ENCODING", "c"), ("SADD", "d", "1", "2"), ("OBJECT", "ENCODING", "d"),
    ("CONFIG", "SET", "set-max-intset-entries", "0"), ("SADD", "z", "1"), ("OBJECT", "ENCODING", "z"),
    ("SADD", "d", "2"), ("OBJECT", "ENCODING", "d"), ("SREM", "d", "2"), ("OBJECT", "ENCODING", "d"),
    ("SADD", "d", "7"), ("OBJECT", "ENCODING", "d"),
    ("CONFIG", "SET", "set-max-intset-entries", "512"),
    ("SADD", "w", "70000", "-5", "5", "-4000000000", "32767", "-32768"), ("SMEMBERS", "w"), ("OBJECT", "ENCODING", "w"),
    ("SADD", "w", "9223372036854775807", "-9223372036854775808"), ("SMEMBERS", "w"), ("SSCAN", "w", "0"),
    ("SSCAN", "w", "0", "MATCH", "-*"), ("SORT", "w"), ("SORT", "w", "DESC", "LIMIT", "1", "2"),
    ("SISMEMBER", "w", "70000"), ("SISMEMBER", "w", "070000"), ("SMISMEMBER", "w", "5", "6", "-5", "x"),
    ("SREM", "w", "70000", "70000", "-4000000000"), ("SMEMBERS", "w"), ("SCARD", "w"),
    ("SADD", "n1", "007"), ("OBJECT", "ENCODING", "n1"), ("SADD", "n2", "-0"), ("OBJECT", "ENCODING", "n2"),
    ("SADD", "n3", "+1"), ("OBJECT", "ENCODING", "n3"), ("SADD", "n4", "9223372036854775808"),
    ("OBJECT", "ENCODING", "n4"), ("SADD", "n5", "1", "2", "x", "3"), ("OBJECT", "ENCODING", "n5"), ("SCARD", "n5"),
    ("SADD", "i1", "5", "1", "3"), ("SADD", "i2", "3", "4", "5"),
    ("SINTER", "i1", "i2"), ("SUNION", "i1", "i2"), ("SDIFF", "i1", "i2"),
    ("SINTERSTORE", "o1", "i1", "i2"), ("OBJECT", "ENCODING", "o1"), ("SMEMBERS", "o1"),
    ("SUNIONSTORE", "o2", "i1", "i2"), ("OBJECT", "ENCODING", "o2"), ("SMEMBERS", "o2"),
    ("SDIFFSTORE", "o3", "i1", "i2"), ("OBJECT", "ENCODING", "o3"), ("SMEMBERS", "o3"),
    ("SUNIONSTORE", "o4", "i1", "n5"), ("OBJECT", "ENCODING", "o4"), ("SINTERCARD", "2", "i1", "i2"),
    ("SMOVE", "i1", "i2", "1"), ("OBJECT", "ENCODING", "i2"), ("SMEMBERS", "i2"),
    ("SMOVE", "n5", "i2", "x"), ("OBJECT", "ENCODING", "i2"), ("SMOVE", "i1", "new", "5"),
    ("OBJECT", "ENCODING", "new"), ("SMEMBERS", "new"), ("SMEMBERS", "i1"),
    ("SADD", "p", "1", "2", "3"), ("SPOP", "p", "3"), ("EXISTS", "p"),
    ("SADD", "p", "1", "2"), ("SRANDMEMBER", "p", "5"), ("SREM", "p", "1", "2"), ("EXISTS", "p"),
    ("SADD", "g", "-70000", "1", "9223372036854775807"), ("DUMP", "g"), ("SADD", "h", "1", "2", "300"), ("DUMP", "h"),
    ("SADD", "up", "1", "2"), ("SADD", "up", "70000"), ("SREM", "up", "70000"), ("DUMP", "up"), ("SMEMBERS", "up"),
    ("SADD", "ht", "1", "x"), ("SREM", "ht", "x"), ("DUMP", "ht"),
    ("SET", "str", "v"), ("SMOVE", "g", "str", "1"), ("SADD", "str", "1"),
    ("SADD", "cp", "1", "2"), ("COPY", "cp", "cp2"), ("SADD", "cp2", "3"), ("SMEMBERS", "cp"), ("SMEMBERS", "cp2"),
    ("OBJECT", "ENCODING", "cp2"),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_intset_transitions(cachemere, redis_ref, resp):
    try:
        assert_same(cachemere.port, redis_ref.port, TRANSITIONS, resp=resp)
    finally:
        for port in (cachemere.port, redis_ref.port):
            run_sequence(port, [("CONFIG", "SET", "set-max-intset-entries", "512"), ("FLUSHALL",)])


def test_hashtable_members_unordered(cachemere, redis_ref):
    seq = [("FLUSHALL",), ("SADD", "s", "1", "2", "x"), ("SMEMBERS", "s"), ("SPOP", "s", "0")]
    assert_same(cachemere.port, redis_ref.port, seq, unordered={"SMEMBERS"})


def test_spop_srandmember_cover_every_member(cachemere):
    members = [str(i) for i in range(-20, 20)]
    run_sequence(cachemere.port, [("DEL", "r"), ("SADD", "r", *members)])
    seen = set()
    for _ in range(400):
        seen.add(parse(run_sequence(cachemere.port, [("SRANDMEMBER", "r")])[0]))
    assert seen == {m.encode() for m in members}
    popped = [parse(x) for x in run_sequence(cachemere.port, [("SPOP", "r")] * len(members))]
    assert sorted(popped, key=int) == [m.encode() for m in members]
    assert parse(run_sequence(cachemere.port, [("EXISTS", "r")])[0]) == 0


def _restore_across(src_port, dst_port, key, members):
    run_sequence(src_port, [("DEL", key), ("SADD", key, *members)])
    payload = parse(run_sequence(src_port, [("DUMP", key)])[0])
    conn = RawConnection(dst_port)
    try:
        conn.command("DEL", key)
        assert conn.command("RESTORE", key, "0", payload) == b"+OK\r\n"
        assert conn.command("OBJECT", "ENCODING", key) == b"$6\r\nintset\r\n"
        assert parse(conn.command("SMEMBERS", key)) == sorted((m.encode() for m in members), key=int)
        assert parse(conn.command("DUMP", key)) == payload
    finally:
        conn.close()


def test_dump_restore_both_ways(cachemere, redis_ref):
    members = ["-70000", "3", "1", "2147483648"]
    _restore_across(redis_ref.port, cachemere.port, "dr1", members)
    _restore_across(cachemere.port, redis_ref.port, "dr2", members)


SAVED = [("FLUSHALL",), ("SADD", "s16", "1", "-2", "3"), ("SADD", "s64", "1", "-9223372036854775808"),
         ("SADD", "sht", "1", "x"), ("SAVE",)]
CHECKS = [("OBJECT", "ENCODING", "s16"), ("SMEMBERS", "s16"), ("OBJECT", "ENCODING", "s64"), ("SMEMBERS", "s64"),
          ("OBJECT", "ENCODING", "sht"), ("SCARD", "sht")]
EXPECTED = [b"intset", [b"-2", b"1", b"3"], b"intset", [b"-9223372036854775808", b"1"], b"hashtable", 2]


def test_rdb_file_redis_to_cachemere_and_back():
    """redis SAVEs intsets, Cachemere loads them as intsets, re-adds one and SAVEs, redis loads that."""
    dirs = [tempfile.mkdtemp(prefix="cachemere-intset-rdb-") for _ in range(3)]
    started = []
    try:
        theirs = start_redis(workdir=dirs[0])
        started.append(theirs)
        run_sequence(theirs.port, SAVED)
        theirs.stop()
        shutil.copy(os.path.join(dirs[0], "dump.rdb"), os.path.join(dirs[1], "dump.rdb"))
        ours = start_cachemere(workdir=dirs[1])
        started.append(ours)
        assert [parse(x) for x in run_sequence(ours.port, CHECKS)] == EXPECTED
        run_sequence(ours.port, [("SADD", "s16", "40000"), ("SREM", "s16", "40000"), ("SAVE",)])
        ours.stop()
        shutil.copy(os.path.join(dirs[1], "dump.rdb"), os.path.join(dirs[2], "dump.rdb"))
        back = start_redis(workdir=dirs[2])
        started.append(back)
        assert [parse(x) for x in run_sequence(back.port, CHECKS)] == EXPECTED
    finally:
        for srv in started:
            srv.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def test_spop_count_rebuilds_the_rest_as_redis(cachemere, redis_ref):
    """SPOP with a count taking most of a set (redis CASE 3) moves the rest to a new set: an intset when the
    remaining members are integers, even out of a hashtable; fewer popped (CASE 2) keeps the set as it is."""
    seq = [("DEL", "h", "k"), ("SADD", "h", *[str(i) for i in range(1, 11)], "x"), ("SREM", "h", "x"),
           ("SPOP", "h", "9"), ("SCARD", "h"), ("OBJECT", "ENCODING", "h"),
           ("SADD", "k", *[str(i) for i in range(1, 21)], "x"), ("SREM", "k", "x"), ("SPOP", "k", "2"),
           ("SCARD", "k"), ("OBJECT", "ENCODING", "k")]
    ours = [parse(x) for x in run_sequence(cachemere.port, seq)]
    theirs = [parse(x) for x in run_sequence(redis_ref.port, seq)]
    for i in (3, 8):
        ours[i] = theirs[i] = None
    assert ours == theirs
    assert ours[5] == b"intset" and ours[10] == b"hashtable"
