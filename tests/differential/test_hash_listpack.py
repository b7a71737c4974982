"""The packed (listpack) small-hash form (engine/types/hashvalue.pyx) against redis-server 7.0.15: OBJECT
ENCODING through every transition (HSET/HSETNX/HINCRBY/HINCRBYFLOAT, CONFIG SET hash-max-listpack-*),
every hash command on both forms, a whole small hash in one HSCAN reply, HRANDFIELD's forms, SORT BY/GET
hash fields, DUMP/RESTORE both ways and DEBUG RELOAD."""
import pytest
import redis

from tests.differential.script_compare import ServerPair, assert_same

TRANSITIONS = """
config set hash-max-listpack-value 5
hset a f 1
hincrbyfloat a f 0.123456789
object encoding a
hset b f 1
hincrby b f 1234567890
object encoding b
hset c f 1
hincrby c ffffffffff 1
object encoding c
hset d f 1
hsetnx d f 1234567
object encoding d
hset e f 1
hsetnx e gggggggggg 1
object encoding e
hset g f 1
hincrbyfloat g hhhhhhhhhh 1
object encoding g
hset g2 f 1
hset g2 f 123456
object encoding g2
hset g3 f 12345
object encoding g3
hmset g4 f 1 gggggg 2
object encoding g4
config set hash-max-listpack-value 64
config set hash-max-listpack-entries 2
hset i a 1 b 2
object encoding i
hset i c 3
object encoding i
hset j a 1
hincrby j b 1
hincrby j c 1
object encoding j
hset k a 1 b 2
hincrbyfloat k c 1
object encoding k
hset l a 1 b 2
hsetnx l c 1
object encoding l
hdel l c
object encoding l
hset m a 1 b 2 c 3
hdel m c
object encoding m
hgetall m !unordered
config set hash-max-listpack-entries 128
"""

COMMANDS = """
hset s f1 v1 f2 v2 f3 v3
hsetnx s f1 x
hsetnx s f4 v4
hmset s f5 v5 f2 w2
hget s f2
hget s nosuch
hmget s f1 nosuch f5
hlen s
hstrlen s f1
hstrlen s nosuch
hexists s f4
hexists s nosuch
hincrby s n 5
hincrby s n -7
hincrby s f1 1
hincrbyfloat s fl 1.5
hincrbyfloat s fl 1e3
hincrbyfloat s f1 1
hkeys s
hvals s
hgetall s
hscan s 0
hscan s 0 match f*
hscan s 0 count 1
hscan s 0 match n* count 100
hrandfield s 100
hrandfield s 100 withvalues
hrandfield s 0
hrandfield s -3 !skip
hrandfield s !skip
hdel s f1 nosuch f2
hgetall s
hset s f1 vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv
object encoding s
hget s f1
hmget s f1 f3
hstrlen s f1
hkeys s !unordered
hgetall s !unordered
hdel s f1 f3 f4 f5 n fl
exists s
hset e1 a ""
hget e1 a
hstrlen e1 a
hset e1 "" b
hget e1 ""
hgetall e1
object encoding e1
hdel e1 a ""
exists e1
hgetall nokey
hkeys nokey
hvals nokey
set str x
hgetall str
hkeys str
hvals str
hset many %s
object encoding many
hlen many
hset many2 %s
object encoding many2
hincrby many2 f0 1
hget many2 f0
""" % (" ".join("f%d v%d" % (i, i) for i in range(300)), " ".join("f%d %d" % (i, i) for i in range(128)))

SORT = """
rpush ids 3 1 2
hset w_1 weight 30 name one
hset w_2 weight 10 name two
hset w_3 weight 20 name three
sort ids by w_*->weight
sort ids by w_*->weight get w_*->name get #
sort ids by w_*->nosuch get w_*->name
"""


@pytest.fixture(scope="module")
def pair():
    servers = ServerPair("--enable-debug-command", "yes")
    yield servers
    servers.stop()


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("script", ["COMMANDS", "SORT"])
def test_script(pair, script, resp):
    assert_same(pair, globals()[script], resp)


def test_transitions(pair):
    assert_same(pair, TRANSITIONS)


def test_hrandfield_properties(pair):
    r = redis.Redis(port=pair.ours.port)
    r.select(15)
    fields = {b"f%d" % i: b"v%d" % i for i in range(10)}
    r.hset("rf", mapping=fields)
    assert r.object("encoding", "rf") == b"listpack"
    assert r.hrandfield("rf") in fields
    some = r.hrandfield("rf", 4)
    assert len(some) == 4 == len(set(some)) and set(some) <= set(fields)
    many = r.hrandfield("rf", -25)
    assert len(many) == 25 and set(many) <= set(fields)
    flat = r.hrandfield("rf", -6, withvalues=True)
    assert len(flat) == 12 and all(fields[flat[i]] == flat[i + 1] for i in range(0, 12, 2))
    flat = r.hrandfield("rf", 3, withvalues=True)
    assert len(flat) == 6 and all(fields[flat[i]] == flat[i + 1] for i in range(0, 6, 2))
    r.flushdb()


def test_dump_restore_both_ways(pair):
    ours, ref = redis.Redis(port=pair.ours.port), redis.Redis(port=pair.ref.port)
    for c in (ours, ref):
        c.select(14)
        c.flushdb()
        c.hset("small", mapping={"a": "1", "b": "x" * 20, "n": "12345"})
        c.hset("big", mapping={"f%d" % i: "v%d" % i for i in range(200)})
    for src, dst in ((ours, ref), (ref, ours)):
        for key in ("small", "big"):
            blob = src.dump(key)
            dst.restore(key + "-copy", 0, blob)
            assert dst.hgetall(key + "-copy") == src.hgetall(key)
            assert dst.object("encoding", key + "-copy") == src.object("encoding", key)
    assert ours.dump("small") == ref.dump("small")      # the same listpack, byte for byte
    ours.execute_command("DEBUG", "RELOAD")
    assert ours.object("encoding", "small") == b"listpack" and ours.object("encoding", "big") == b"hashtable"
    assert ours.hgetall("small") == ref.hgetall("small")
    for c in (ours, ref):
        c.flushdb()
