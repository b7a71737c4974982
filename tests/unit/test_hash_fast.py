"""The compiled hash commands (engine/commands/t_hash_fast.pyx), in-process: effects, memory accounting kept
incrementally (bind_cost) close to a full re-estimate, and a released key returning used_memory to its start."""
from engine.core import memory_usage
import engine.commands  # noqa: F401  (registers every family)
from engine.types.hash import HashValue

from tests.support.inproc import Harness, cmd


def test_replies_and_effects():
    h = Harness()
    assert h.run("HSET", "h", "a", "1", "b", "2") == b":2\r\n"
    assert h.run("HMSET", "h", "a", "3") == b"+OK\r\n"
    assert h.run("HINCRBY", "h", "a", "4") == b":7\r\n"
    assert h.run("HINCRBY", "h", "a", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert h.stream() == cmd("HSET", "h", "a", "1", "b", "2") + cmd("HMSET", "h", "a", "3") + cmd("HINCRBY", "h", "a", "4")
    assert h.run("HGET", "h", "a") == b"$1\r\n7\r\n"
    assert h.run("HMGET", "h", "a", "z") == b"*2\r\n$1\r\n7\r\n$-1\r\n"
    assert h.run("HLEN", "h") == b":2\r\n"
    assert h.run("HEXISTS", "h", "b") == b":1\r\n"
    assert h.run("HDEL", "h", "a", "b", "c") == b":2\r\n"
    assert h.run("EXISTS", "h") == b":0\r\n"
    assert h.stream() == cmd("HDEL", "h", "a", "b", "c")
    h.run("SET", "s", "x")
    h.stream()
    for argv in (("HSET", "s", "a", "b"), ("HGET", "s", "a"), ("HMGET", "s", "a"), ("HINCRBY", "s", "a", "1"),
                 ("HDEL", "s", "a"), ("HLEN", "s"), ("HEXISTS", "s", "a")):
        assert h.run(*argv).startswith(b"-WRONGTYPE"), argv
    assert h.stream() == b""


def test_value_type_keeps_its_encoding_flag_and_copies():
    v = HashValue([(b"a", b"1")])
    assert v.encoding() == b"listpack"
    v.note_write(None, b"x" * 65)
    assert v.encoding() == b"hashtable"
    w = v.copy()
    assert type(w) is HashValue and w == v and w.hashtable
    import pickle
    u = pickle.loads(pickle.dumps(v))
    assert type(u) is HashValue and u == v and u.hashtable


def test_memory_is_accounted_per_field_and_released_with_the_key():
    h = Harness()
    start = h.ks.used_memory
    for i in range(2000):
        h.run("HSET", "h", "field-%d" % i, "value-%d" % i)
    for i in range(0, 2000, 3):
        h.run("HINCRBY", "h", "field-%d" % i, "1" if i % 2 else "1000000")
    grown = h.ks.used_memory - start
    key_cost = memory_usage(b"h", h.ks.db(0).find(b"h"))          # a full re-estimate of the key
    assert abs(grown - key_cost) < 0.15 * key_cost, (grown, key_cost)
    for i in range(1999):
        h.run("HDEL", "h", "field-%d" % i)
    assert h.run("HDEL", "h", "field-1999", "nosuch") == b":1\r\n"
    assert h.run("EXISTS", "h") == b":0\r\n"
    assert h.ks.used_memory == start
