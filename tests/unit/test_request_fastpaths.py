"""The request-path fast paths of issue 20, in-process: INCR's in-place digits and SET/INCR accounting their own
boxed values (Dispatcher.account_keys skips them), against what a fresh SET of the same value costs."""
from engine.core import Keyspace, Dispatcher, Client
import engine.commands  # noqa: F401  (registers every family)


def run(d, c, *args):
    d.execute(c, [a if isinstance(a, bytes) else str(a).encode() for a in args])
    return c.reply.take()


def fresh_cost(value):
    ks = Keyspace()
    d, c = Dispatcher(ks), None
    c = Client(ks)
    run(d, c, "SET", "k", value)
    return ks.used_memory


def test_incr_in_place_and_across_widths():
    ks = Keyspace()
    d, c = Dispatcher(ks), Client(ks)
    assert run(d, c, "INCR", "n") == b":1\r\n"
    assert run(d, c, "INCRBY", "n", "-12") == b":-11\r\n"
    assert run(d, c, "DECRBY", "n", str(2 ** 62)) == b":%d\r\n" % (-11 - 2 ** 62)
    assert run(d, c, "GET", "n") == b"$%d\r\n%d\r\n" % (len(str(-11 - 2 ** 62)), -11 - 2 ** 62)
    assert run(d, c, "SET", "m", "-9223372036854775807") == b"+OK\r\n"
    assert run(d, c, "DECR", "m") == b":-9223372036854775808\r\n"
    assert run(d, c, "GET", "m") == b"$20\r\n-9223372036854775808\r\n"


def test_incr_memory_matches_a_fresh_set():
    for start, by in (("1", "5"), ("7", str(10 ** 15)), ("x" * 300, None)):
        ks = Keyspace()
        d, c = Dispatcher(ks), Client(ks)
        run(d, c, "SET", "k", start)
        if by is None:
            assert run(d, c, "INCR", "k").startswith(b"-ERR")
            continue
        run(d, c, "INCRBY", "k", by)
        value = str(int(start) + int(by))
        assert run(d, c, "GET", "k") == b"$%d\r\n%s\r\n" % (len(value), value.encode())
        assert ks.used_memory >= fresh_cost(value) - 64


def test_set_boxed_value_is_accounted():
    ks = Keyspace()
    d, c = Dispatcher(ks), Client(ks)
    run(d, c, "SET", "k", "v")
    small = ks.used_memory
    run(d, c, "SET", "k", "x" * 5000)
    assert ks.used_memory >= small + 5000
    run(d, c, "SET", "k", "v")
    assert ks.used_memory <= small + 64
