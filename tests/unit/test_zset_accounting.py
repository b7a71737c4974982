"""The compiled sorted-set writers account their key themselves (bind_cost, t_zset_fast.account_zset): after
every write, fast or handed to the Python handler, used_memory has grown by exactly a full re-estimate of
the key (MEMORY USAGE's figure), packed and skiplist alike, and a removed key gives it all back."""
from engine.core import memory_usage
import engine.commands  # noqa: F401  (registers every family)

from tests.support.inproc import Harness


def test_each_write_leaves_the_key_exactly_accounted():
    h = Harness()
    start = h.ks.used_memory
    db = h.ks.db(0)
    base = None
    writes = [("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), ("ZINCRBY", "z", "1", "a"), ("ZADD", "z", "XX", "CH", "5", "a"),
              ("ZINCRBY", "z", "3", "new"), ("ZREM", "z", "b"), ("ZPOPMIN", "z"), ("ZPOPMAX", "z", "1")]
    writes += [("ZADD", "z", str(i), "member-%d" % i) for i in range(300)]       # past the packed limit
    writes += [("ZINCRBY", "z", "1", "member-7"), ("ZREM", "z", "member-1", "member-2"), ("ZPOPMIN", "z", "3"),
               ("ZPOPMAX", "z"), ("ZADD", "z", "GT", "1000", "member-9")]
    for argv in writes:
        assert not h.run(*argv).startswith(b"-"), argv
        entry = db.find(b"z")
        key_cost = memory_usage(b"z", entry)
        if base is None:
            base = h.ks.used_memory - start - key_cost    # the record's own share, the same for every write
        assert h.ks.used_memory - start - key_cost == base, argv
    while h.run("ZPOPMIN", "z", "100") != b"*0\r\n":
        pass
    assert h.run("EXISTS", "z") == b":0\r\n"
    assert h.ks.used_memory == start
