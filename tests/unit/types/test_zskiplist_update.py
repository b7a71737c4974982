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


def _pair(rnd, n):
    """The same members in a packed ZSet and in one unpacked for good (scan_dict builds the skiplist)."""
    packed, full = ZSet(), ZSet()
    full.scan_dict()
    for _ in range(n):
        m = b"%c%d" % (rnd.choice(b"abc"), rnd.randrange(3 * n + 1))
        s = rnd.choice([0.0, -0.0, 1.0, 2.5, -3.0, float("inf"), float("-inf"), float(rnd.randrange(5))])
        packed.add(m, s)
        full.add(m, s)
    return packed, full


def test_packed_and_skiplist_forms_answer_alike():
    from engine.types.zskiplist import parse_lex_bound
    rnd = random.Random(7)
    for trial in range(200):
        n = rnd.choice([0, 1, 2, 5, 20, 100])
        packed, full = _pair(rnd, n)
        assert packed.packed and not full.packed
        packed.check_invariants()
        full.check_invariants()
        assert packed.items() == full.items() and packed.items(True) == full.items(True)
        assert len(packed) == len(full) and packed.member_bytes == full.member_bytes
        assert packed.first() == full.first() and packed.last() == full.last()
        for m in [m for m, _ in full.items()][:10] + [b"nosuch"]:
            assert packed.score(m) == full.score(m)
            assert packed.rank(m) == full.rank(m) and packed.rank(m, True) == full.rank(m, True)
            assert (m in packed) == (m in full)
        for _ in range(10):
            a, b = rnd.randrange(-2, n + 2), rnd.randrange(-2, n + 2)
            rev = rnd.random() < 0.5
            assert packed.range_by_rank(a, b, rev) == full.range_by_rank(a, b, rev)
            assert packed.member_at(a, rev) == full.member_at(a, rev)
            lo, hi = sorted([rnd.choice([-5.0, -3.0, 0.0, 1.0, 2.5, 4.0, float("inf"), float("-inf")]) for _ in "ab"])
            lx, hx = rnd.random() < 0.3, rnd.random() < 0.3
            off, cnt = rnd.choice([0, 0, 1, 3, -1]), rnd.choice([-1, -1, 0, 1, 2, 10])
            assert packed.range_by_score(lo, hi, lx, hx, rev, off, cnt) == full.range_by_score(lo, hi, lx, hx, rev, off, cnt)
            assert packed.count_in_score_range(lo, hi, lx, hx) == full.count_in_score_range(lo, hi, lx, hx)
        assert packed.packed            # reads above stay packed
        # lex ranges unpack (for good) and then answer as the skiplist does
        lo, hi = parse_lex_bound(b"[a"), parse_lex_bound(b"(c")
        assert packed.range_by_lex(lo, hi) == full.range_by_lex(lo, hi)
        assert not packed.packed
        packed.check_invariants()


def test_packed_pops_removals_and_growth():
    rnd = random.Random(9)
    for trial in range(100):
        packed, full = _pair(rnd, rnd.choice([1, 5, 50, 120]))
        k = rnd.randrange(1, 4)
        assert packed.pop_min(k) == full.pop_min(k)
        assert packed.pop_max(k) == full.pop_max(k)
        for m, _ in full.items()[::3]:
            assert packed.remove(m) == full.remove(m) is True
        assert packed.remove(b"nosuch") is False
        assert packed.items() == full.items()
        packed.check_invariants()
    z = ZSet()
    for i in range(128):
        z.add(b"m%03d" % i, float(i % 7))
    assert z.packed
    z.add(b"m128", 1.0)                 # the 129th member: a skiplist from now on
    assert not z.packed and len(z) == 129
    z.check_invariants()
    z = ZSet()
    z.add(b"a", 1.0)
    z.add(b"x" * 65, 2.0)               # a member longer than 64 bytes
    assert not z.packed and z.items() == [(b"a", 1.0), (b"x" * 65, 2.0)]
    z.check_invariants()
