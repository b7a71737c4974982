"""The compiled list commands (engine/commands/t_list_fast.pyx), in-process: effects, memory accounting kept
incrementally (bind_cost) close to a full re-estimate, and a released key returning used_memory to its start."""
from engine.core import memory_usage
import engine.commands  # noqa: F401  (registers every family)
from engine.commands import t_list_fast

from tests.support.inproc import Harness, cmd


def test_pushes_and_pops_call_the_deque_directly():
    assert t_list_fast.deque_calls_direct()


def test_replies_and_effects():
    h = Harness()
    assert h.run("LPUSH", "l", "a", "b") == b":2\r\n"
    assert h.run("RPUSH", "l", "c") == b":3\r\n"
    assert h.stream() == cmd("LPUSH", "l", "a", "b") + cmd("RPUSH", "l", "c")
    assert h.run("LINDEX", "l", "0") == b"$1\r\nb\r\n"
    assert h.run("LINDEX", "l", "-1") == b"$1\r\nc\r\n"
    assert h.run("LINDEX", "l", "3") == b"$-1\r\n"
    assert h.run("LINDEX", "l", "01") == b"-ERR value is not an integer or out of range\r\n"
    assert h.run("LLEN", "l") == b":3\r\n"
    assert h.run("LMOVE", "l", "m", "LEFT", "RIGHT") == b"$1\r\nb\r\n"
    assert h.run("LMOVE", "l", "l", "RIGHT", "LEFT") == b"$1\r\nc\r\n"
    assert h.run("LMOVE", "l", "m", "UP", "LEFT") == b"-ERR syntax error\r\n"
    assert h.stream() == cmd("LMOVE", "l", "m", "LEFT", "RIGHT") + cmd("LMOVE", "l", "l", "RIGHT", "LEFT")
    assert h.run("RPOPLPUSH", "l", "l") == b"$1\r\na\r\n"
    assert h.run("RPOPLPUSH", "l", "l") == b"$1\r\nc\r\n"
    assert h.stream() == cmd("RPOPLPUSH", "l", "l") * 2
    assert h.run("LPOP", "l") == b"$1\r\nc\r\n"
    assert h.run("RPOP", "l") == b"$1\r\na\r\n"
    assert h.run("LPOP", "l") == b"$-1\r\n"
    assert h.run("EXISTS", "l") == b":0\r\n"
    assert h.run("RPOP", "m", "5") == b"*1\r\n$1\r\nb\r\n"       # the count form (Python handler)
    assert h.stream() == cmd("LPOP", "l") + cmd("RPOP", "l") + cmd("RPOP", "m", "5")
    h.run("SET", "s", "x")
    h.stream()
    for argv in (("LPUSH", "s", "a"), ("RPOP", "s"), ("LINDEX", "s", "0"), ("LLEN", "s"), ("LMOVE", "s", "l", "LEFT", "LEFT")):
        assert h.run(*argv).startswith(b"-WRONGTYPE"), argv
    h.run("RPUSH", "l", "a")
    assert h.run("LMOVE", "l", "s", "LEFT", "LEFT").startswith(b"-WRONGTYPE")
    assert h.run("LLEN", "l") == b":1\r\n"                       # nothing popped before the refusal
    assert h.stream() == cmd("RPUSH", "l", "a")


def test_memory_is_accounted_per_element_and_released_with_the_key():
    h = Harness()
    start = h.ks.used_memory
    for i in range(2000):
        h.run("RPUSH" if i % 2 else "LPUSH", "l", "element-%d" % i)
    grown = h.ks.used_memory - start
    key_cost = memory_usage(b"l", h.ks.db(0).find(b"l"))          # a full re-estimate of the key
    assert abs(grown - key_cost) < 0.1 * key_cost, (grown, key_cost)
    h.run("LMOVE", "l", "m", "LEFT", "LEFT")
    for i in range(1999):
        h.run("RPOP" if i % 2 else "LPOP", "l")
    h.run("LPOP", "m")
    assert h.run("EXISTS", "l", "m") == b":0\r\n"
    assert h.ks.used_memory == start
