"""The compiled set writers account their key themselves (bind_cost): after each write used_memory has moved
by exactly the key's re-estimate (MEMORY USAGE's figure) for the small forms (intset, small set: their cost
is their block) and through the conversions, and SREM gives back the table it shrinks (t_set_fast
shrink_if_sparse, redis's dictResize below 10% fill)."""
from engine.core import memory_usage
import engine.commands  # noqa: F401  (registers every family)
from engine.types.set import SetValue
from engine.types.smallset import SmallSetValue

from tests.support.inproc import Harness


def test_small_forms_and_shrink_are_exactly_accounted():
    h = Harness()
    start = h.ks.used_memory
    db = h.ks.db(0)
    base = None
    writes = [("SADD", "s", "1", "2"), ("SADD", "s", "3"), ("SADD", "s", "a"), ("SADD", "s", "b", "c", "d"),
              ("SREM", "s", "a", "x"), ("SPOP", "s"), ("SADD", "s", *["m%d" % i for i in range(120)])]
    writes += [("SADD", "s", "n%d" % i) for i in range(12)]                  # past 128: a SetValue
    writes += [("SREM", "s", *["m%d" % i for i in range(120)]), ("SREM", "s", *["n%d" % i for i in range(8)])]
    kinds = set()
    for argv in writes:
        assert not h.run(*argv).startswith(b"-"), argv
        entry = db.find(b"s")
        kinds.add(type(entry.value))
        if len(entry.value) > 16:
            continue                      # a big SetValue's estimate samples: compared once small again
        key_cost = memory_usage(b"s", entry)
        if base is None:
            base = h.ks.used_memory - start - key_cost
        assert h.ks.used_memory - start - key_cost == base, argv
    assert SmallSetValue in kinds and SetValue in kinds
    value = db.find(b"s").value
    assert type(value) is SetValue and len(value) < 16 and value.__sizeof__() < 1000     # the table shrank
    h.run("SREM", "s", *[m.decode() for m in list(value)])
    assert h.run("EXISTS", "s") == b":0\r\n"
    assert h.ks.used_memory == start
