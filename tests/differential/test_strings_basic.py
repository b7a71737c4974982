"""String commands: Cachemere's replies equal redis-server 7.0.15's byte for byte."""
import pytest

from tests.support.servers import RawConnection

SCRIPT = [
    ("SET", "d:a", "1"), ("GET", "d:a"), ("INCR", "d:a"), ("INCRBY", "d:a", "10"), ("DECR", "d:a"),
    ("DECRBY", "d:a", "-5"), ("INCRBY", "d:a", "x"), ("SET", "d:a", "9223372036854775807"), ("INCR", "d:a"),
    ("SET", "d:s", "abc"), ("INCR", "d:s"), ("SET", "d:s", "x", "NX"), ("SET", "d:s", "y", "XX", "GET"),
    ("SET", "d:n", "y", "XX"), ("SET", "d:s", "z", "EX", "0"), ("SET", "d:s", "z", "EX", "abc"),
    ("SET", "d:s", "z", "NX", "XX"), ("SET", "d:s", "z", "KEEPTTL", "EX", "10"), ("SET", "d:s", "z", "BOGUS"),
    ("MSET", "d:m1", "1", "d:m2", "2"), ("MSET", "d:m1"), ("MSET", "d:m1", "1", "d:m2"),
    ("MGET", "d:m1", "d:m2", "d:none"), ("GET",), ("SET", "d:x"), ("NOSUCHCMD", "a", "b"),
    ("DECRBY", "d:m1", "-9223372036854775808"), ("GET", "d:m1", "extra"),
]


@pytest.mark.parametrize("cmd", SCRIPT, ids=lambda c: " ".join(c))
def test_same_reply(cachemere, redis_ref, cmd):
    ours = RawConnection(cachemere.port).command(*cmd)
    theirs = RawConnection(redis_ref.port).command(*cmd)
    assert ours == theirs
