"""What the sorted-set, geo, HyperLogLog and SORT commands propagate (the AOF/replica stream), in-process."""
import engine.commands  # noqa: F401  (registers every family)
from engine.commands.sort import sort_getkeys

from tests.support.inproc import Harness, cmd


def test_zmpop_and_served_bzpop_propagate_as_zpop():
    h = Harness()
    h.run("ZADD", "z", "1", "a", "2", "b", "3", "c")
    h.stream()
    assert h.run("ZMPOP", "2", "none", "z", "MAX", "COUNT", "2") == \
        b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    assert h.stream() == cmd("ZPOPMAX", "z", "2")
    assert h.run("BZPOPMIN", "none", "z", "0") == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert h.stream() == cmd("ZPOPMIN", "z")
    assert h.run("ZCARD", "z") == b":0\r\n"


def test_geoadd_propagates_the_zadd_it_ran_and_nothing_when_unchanged():
    h = Harness()
    assert h.run("GEOADD", "g", "CH", "13.361389", "38.115556", "Palermo") == b":1\r\n"
    assert h.stream() == cmd("zadd", "g", "CH", "3479099956230698", "Palermo")
    assert h.run("GEOADD", "g", "13.361389", "38.115556", "Palermo") == b":0\r\n"
    assert h.stream() == b""


def test_pfcount_refreshing_the_cache_is_a_write():
    h = Harness()
    h.run("PFADD", "h", "a", "b")
    h.stream()
    assert h.run("PFCOUNT", "h") == b":2\r\n"
    assert h.stream() == cmd("PFCOUNT", "h")
    assert h.run("PFCOUNT", "h") == b":2\r\n"       # cache now valid: nothing to propagate
    assert h.stream() == b""


def test_zadd_without_change_propagates_nothing():
    h = Harness()
    h.run("ZADD", "z", "1", "a")
    h.stream()
    h.run("ZADD", "z", "NX", "5", "a")
    h.run("ZREM", "z", "nope")
    assert h.stream() == b""


def test_sort_getkeys_finds_the_last_store():
    argv = [b"SORT", b"k", b"LIMIT", b"0", b"1", b"STORE", b"a", b"GET", b"store", b"STORE", b"b"]
    assert sort_getkeys(argv) == [(1, ["RO", "access"]), (10, ["OW", "update"])]
    assert sort_getkeys([b"SORT", b"k", b"BY", b"store"]) == [(1, ["RO", "access"])]
