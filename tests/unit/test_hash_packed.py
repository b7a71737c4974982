"""The packed (listpack) form of HashValue (engine/types/hashvalue.pyx) against a dict model: random sets,
replacements (shorter, longer, across the 1-byte length boundary), deletes, conversion, copy/pickle, and the
in-process commands' memory accounting staying at the full estimate."""
import pickle
import random

import engine.commands  # noqa: F401  (registers every family)
from engine.core import memory_usage
from engine.types.hash import HashValue

from tests.support.inproc import Harness


def test_packed_form_matches_a_dict_model():
    rnd = random.Random(7)
    for _ in range(30):
        h, model = HashValue(), {}
        for _ in range(300):
            k = b"k%d" % rnd.randrange(40)
            op = rnd.random()
            if op < 0.6:
                v = bytes(rnd.randrange(256) for _ in range(rnd.choice((0, 1, 5, 127, 128, 129, 300, 20000))))
                h[k] = v
                model[k] = v
            elif op < 0.9:
                assert h.pop(k, None) == model.pop(k, None)
            else:
                assert (k in h) == (k in model)
            assert len(h) == len(model)
        assert h.encoding() == b"listpack"
        assert dict(h.items()) == model and list(h.keys()) == list(model) and h == model
        assert h.get(b"nosuch") is None and h.get(b"nosuch", 5) == 5
        for k in model:
            assert h[k] == model[k]
        w = h.copy()
        assert w == h and w.encoding() == b"listpack"
        u = pickle.loads(pickle.dumps(h))
        assert u == h
        h.hashtable = True
        assert h.encoding() == b"hashtable" and h == model and list(h.keys()) == list(model)
        assert pickle.loads(pickle.dumps(h)).encoding() == b"hashtable"


def test_note_write_converts_one_way():
    h = HashValue([(b"a", b"1")])
    assert h.encoding() == b"listpack" and h.mem_estimate() == 48 + 16
    h.note_write(None, b"a", b"1")
    assert h.encoding() == b"listpack"
    h[b"b"] = b"x" * 65
    h.note_write(None, b"b", b"x" * 65)
    assert h.encoding() == b"hashtable"
    del h[b"b"]
    h.note_write(None, b"a")
    assert h.encoding() == b"hashtable" and h == {b"a": b"1"}
    empty = HashValue()
    assert len(empty) == 0 and not empty and empty.items() == [] and empty.mem_estimate() == 48


def test_incremental_accounting_of_small_hashes():
    h = Harness()
    start = h.ks.used_memory
    for i in range(300):
        h.run("HSET", "k%d" % (i % 30), "f%d" % i, "v" * (i % 70))
        h.run("HINCRBY", "k%d" % (i % 7), "n%d" % (i % 3), "3")
        if i % 5 == 0:
            h.run("HDEL", "k%d" % (i % 30), "f%d" % (i - 30))
    total = sum(memory_usage(b"k%d" % i, h.ks.db(0).find(b"k%d" % i)) for i in range(30))
    grown = h.ks.used_memory - start
    assert abs(grown - total) < 0.15 * total, (grown, total)
    for i in range(30):
        h.run("DEL", "k%d" % i)
    assert h.ks.used_memory == start
