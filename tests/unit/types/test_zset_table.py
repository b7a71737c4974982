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


def test_incremental_growth_with_writes_while_the_old_table_drains():
    # past 4096 slots a full table drains 16 slots per write into one twice its size: members are looked up,
    # updated, removed and re-added while they sit in either table, and nothing is lost or found twice
    rnd = random.Random(31)
    z, ref = ZSet(), {}
    z.scan_dict()
    checks = 0
    for i in range(60000):
        m = b"g%d" % i
        s = float(rnd.randrange(1000))
        z.add(m, s)
        ref[m] = s
        if i % 3 == 0:                          # a member added earlier (old or new table)
            old = b"g%d" % rnd.randrange(i + 1)
            if rnd.random() < 0.5:
                assert z.remove(old) == (old in ref)
                ref.pop(old, None)
            else:
                ns = float(rnd.randrange(1000))
                added, prev = z.add(old, ns)
                assert added == (old not in ref) and (prev is None or prev == ref[old])
                ref[old] = ns
        if i in (3100, 3200, 6200, 6300, 12400, 12500, 24700, 24900, 49300, 49600):
            z.check_invariants()                # in the middle of a drain
            checks += 1
            assert all(z.score(k) == v for k, v in ref.items())
    assert checks == 10
    _check(z, ref)
    for k in list(ref)[::2]:
        assert z.remove(k)
        del ref[k]
    _check(z, ref)
