"""ZSet's in-place score update (zslUpdateScore), its lazily grown header and the O(1) member-bytes count,
against a dict model under random adds, updates, removals and pops."""
import random

from engine.types.zskiplist import ZSet


def test_random_operations_keep_the_invariants():
    rnd = random.Random(5)
    for n in (5, 50, 2000):
        z, ref = ZSet(), {}
        for _ in range(n * 4):
            m = b"m%d" % rnd.randrange(n)
            op = rnd.random()
            if op < 0.6:
                s = float(rnd.randrange(n // 2 + 1)) if rnd.random() < 0.5 else rnd.random()
                z.add(m, s)
                ref[m] = s
            elif op < 0.8:
                assert z.remove(m) == (m in ref)
                ref.pop(m, None)
            else:
                for mm, ss in z.pop_min(2):
                    assert ref.pop(mm) == ss
        z.check_invariants()
        order = sorted(ref, key=lambda k: (ref[k], k))
        assert z.items() == [(m, ref[m]) for m in order]
        for m in order[:50]:
            assert z.rank(m) == order.index(m)
        assert z.member_bytes == sum(len(m) for m in ref)
        assert z.mem_estimate() > z.member_bytes
