"""ZSet's member -> node table (open addressing, linear probing, backward-shift deletion, doubling growth)
against a dict model: random adds, updates, removals, pops and ZSCAN views, through growth and shrink."""
import random

from engine.types.zskiplist import ZSet


def _check(z, ref):
    z.check_invariants()                      # every node is found through the table, no stray slot
    assert len(z) == len(ref)
    for m, s in ref.items():
        assert z.score(m) == s and m in z
    view = z.scan_dict()
    assert len(view) == len(ref) and sorted(view) == sorted(ref)


def test_table_against_a_dict_model():
    rnd = random.Random(20)
    z, ref = ZSet(), {}
    z.scan_dict()                             # unpacked for good: the table starts at its smallest size
    for step in range(12000):
        phase_grow = step < 7000
        m = b"k%d" % rnd.randrange(4000) if rnd.random() < 0.9 else bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 6)))
        op = rnd.random()
        if op < (0.65 if phase_grow else 0.25):
            s = float(rnd.randrange(50)) if rnd.random() < 0.5 else rnd.random()
            added, old = z.add(m, s)
            assert added == (m not in ref) and (old is None or old == ref[m])
            ref[m] = s
        elif op < 0.9:
            assert z.remove(m) == (m in ref)
            ref.pop(m, None)
        elif op < 0.95:
            for mm, ss in z.pop_min(3):
                assert ref.pop(mm) == ss
        else:
            for mm, ss in z.pop_max(2):
                assert ref.pop(mm) == ss
        if step % 1500 == 0:
            _check(z, ref)
        assert z.score(m) == ref.get(m)
    _check(z, ref)
    absent = [b"absent%d" % i for i in range(100)]
    assert all(z.score(m) is None and m not in z for m in absent)
    while len(z):
        for mm, ss in z.pop_min(50):
            assert ref.pop(mm) == ss
    assert not ref
    _check(z, ref)


def test_same_hash_low_bits_and_equal_objects():
    # many members with equal scores, looked up through fresh (not identical) bytes objects
    z = ZSet()
    z.scan_dict()
    members = [b"m%d" % i for i in range(3000)]
    for m in members:
        z.add(m, 1.0)
    for m in members[::3]:
        assert z.remove(bytes(bytearray(m)))
    for i, m in enumerate(members):
        assert (z.score(bytes(bytearray(m))) == 1.0) == (i % 3 != 0)
    z.check_invariants()
