"""Sorted-set core (engine/types/zskiplist.pyx): vectors, model-based property test,
timing sanity, and a byte-for-byte comparison of score formatting/ranges with redis-server."""
import bisect
import math
import random
import time

import pytest
from hypothesis import given, settings, strategies as st

from engine.types.zskiplist import (
    ZSet, LexBound, format_score, parse_score, parse_score_bound, parse_lex_bound,
)

NEG_INF = float("-inf")
POS_INF = float("inf")


def lex(text):
    return parse_lex_bound(text)


def make(pairs):
    z = ZSet()
    for member, score in pairs:
        z.add(member, score)
    return z


# ------------------------------------------------------------------ known vectors

def test_order_is_score_then_member_bytes():
    z = make([(b"b", 1), (b"a", 1), (b"c", 0.5), (b"aa", 1), (b"\xff", 1), (b"", 1)])
    assert [m for m, _ in z] == [b"c", b"", b"a", b"aa", b"b", b"\xff"]
    assert z.check_invariants()


def test_add_update_remove_and_scores():
    z = ZSet()
    assert z.add(b"x", 1.5) == (True, None)
    assert z.add(b"x", 1.5) == (False, 1.5)
    assert z.add(b"x", -2.0) == (False, 1.5)
    assert z.score(b"x") == -2.0 and z.score(b"nope") is None
    assert len(z) == 1 and b"x" in z
    assert z.remove(b"x") is True and z.remove(b"x") is False
    assert len(z) == 0 and z.first() is None and z.last() is None
    with pytest.raises(ValueError):
        z.add(b"n", float("nan"))
    with pytest.raises(TypeError):
        z.add("str", 1.0)


def test_packed_scores_keep_every_bit_in_each_width():
    """Packed entries store a score in a byte, a float or a double, whichever is exact: each score and its
    sign come back bit for bit, the order is the same as in the skiplist, and members of 63/64 bytes (the
    narrow headers' limit) work in every width."""
    scores = [0.0, -0.0, 1.0, -1.0, 127.0, -128.0, 128.0, -129.0, 0.5, -2.25, 0.1, 1e-40, 1e-300,
              3.4028234663852886e38, 3.5e38, 1e308, POS_INF, NEG_INF, 16777216.0, 16777217.0, 2.0 ** -149]
    for size in (1, 63, 64):
        z = ZSet()
        for k, score in enumerate(scores):
            z.add(b"%d" % k + b"m" * (size - len(b"%d" % k)), score)
        assert z.packed and z.check_invariants()
        for k, score in enumerate(scores):
            got = z.score(b"%d" % k + b"m" * (size - len(b"%d" % k)))
            assert got == score and math.copysign(1.0, got) == math.copysign(1.0, score), (size, score, got)
        model = sorted(((score, b"%d" % k + b"m" * (size - len(b"%d" % k))) for k, score in enumerate(scores)))
        assert [(m, sc) for sc, m in model] == list(z)
        z.add(b"x" * 65, 2.0)                      # a long member: the skiplist, every score as it was
        assert not z.packed and z.check_invariants()
        assert all(z.score(b"%d" % k + b"m" * (size - len(b"%d" % k))) == score for k, score in enumerate(scores))


def test_rank_and_member_at():
    z = make([(b"a", 1), (b"b", 2), (b"c", 3), (b"d", 3)])
    assert [z.rank(m) for m in (b"a", b"b", b"c", b"d")] == [0, 1, 2, 3]
    assert [z.rank(m, True) for m in (b"a", b"b", b"c", b"d")] == [3, 2, 1, 0]
    assert z.rank(b"zz") is None
    assert z.member_at(0) == (b"a", 1.0) and z.member_at(0, True) == (b"d", 3.0)
    assert z.member_at(4) is None and z.member_at(-1) is None


def test_range_by_rank():
    z = make([(b"m%d" % i, i) for i in range(10)])
    assert z.range_by_rank(2, 4) == [(b"m2", 2.0), (b"m3", 3.0), (b"m4", 4.0)]
    assert z.range_by_rank(0, 1, True) == [(b"m9", 9.0), (b"m8", 8.0)]
    assert z.range_by_rank(8, 100) == [(b"m8", 8.0), (b"m9", 9.0)]
    assert z.range_by_rank(5, 4) == []
    assert ZSet().range_by_rank(0, -1) == []


def test_range_by_score_bounds_offset_count_reverse():
    z = make([(b"a", 1), (b"b", 2), (b"c", 2), (b"d", 3), (b"e", POS_INF), (b"f", NEG_INF)])
    assert [m for m, _ in z.range_by_score(2, 3)] == [b"b", b"c", b"d"]
    assert [m for m, _ in z.range_by_score(2, 3, True, False)] == [b"d"]
    assert [m for m, _ in z.range_by_score(2, 3, False, True)] == [b"b", b"c"]
    assert [m for m, _ in z.range_by_score(NEG_INF, POS_INF)] == [b"f", b"a", b"b", b"c", b"d", b"e"]
    assert [m for m, _ in z.range_by_score(1, 3, reverse=True)] == [b"d", b"c", b"b", b"a"]
    assert [m for m, _ in z.range_by_score(1, 3, offset=1, count=2)] == [b"b", b"c"]
    assert [m for m, _ in z.range_by_score(1, 3, reverse=True, offset=1, count=2)] == [b"c", b"b"]
    assert z.range_by_score(3, 1) == [] and z.range_by_score(2, 2, True, False) == []
    assert z.range_by_score(1, 3, count=0) == [] and z.range_by_score(1, 3, offset=-1) == []
    assert z.count_in_score_range(2, 3) == 3 and z.count_in_score_range(5, 6) == 0
    assert z.count_in_score_range(NEG_INF, POS_INF) == 6


def test_lex_ranges():
    z = make([(m, 0) for m in (b"a", b"b", b"c", b"d", b"e", b"f", b"g")])
    assert [m for m, _ in z.range_by_lex(lex(b"-"), lex(b"[c"))] == [b"a", b"b", b"c"]
    assert [m for m, _ in z.range_by_lex(lex(b"-"), lex(b"(c"))] == [b"a", b"b"]
    assert [m for m, _ in z.range_by_lex(lex(b"[aaa"), lex(b"(g"))] == [b"b", b"c", b"d", b"e", b"f"]
    assert [m for m, _ in z.range_by_lex(lex(b"-"), lex(b"+"), reverse=True, offset=1, count=2)] == [b"f", b"e"]
    assert z.range_by_lex(lex(b"+"), lex(b"-")) == []
    assert z.range_by_lex(lex(b"-"), lex(b"-")) == []
    assert z.range_by_lex(lex(b"[c"), lex(b"(c")) == []
    assert z.count_in_lex_range(lex(b"[b"), lex(b"[f")) == 5
    assert z.count_in_lex_range(lex(b"(z"), lex(b"+")) == 0
    assert z.delete_range_by_lex(lex(b"[b"), lex(b"(d")) == [b"b", b"c"]
    assert [m for m, _ in z] == [b"a", b"d", b"e", b"f", b"g"]
    assert z.check_invariants()


def test_deletes_and_pops():
    z = make([(b"m%02d" % i, i) for i in range(20)])
    assert z.delete_range_by_rank(0, 2) == [b"m00", b"m01", b"m02"]
    assert z.delete_range_by_score(10, 12, False, True) == [b"m10", b"m11"]
    assert z.pop_min(2) == [(b"m03", 3.0), (b"m04", 4.0)]
    assert z.pop_max(2) == [(b"m19", 19.0), (b"m18", 18.0)]
    assert z.pop_min(0) == []
    assert len(z) == 11 and z.score(b"m10") is None and z.check_invariants()
    assert len(z.pop_max(100)) == 11 and len(z) == 0 and z.check_invariants()


def test_random_members():
    z = make([(b"m%d" % i, i) for i in range(50)])
    sample = z.random_members(10)
    assert len(sample) == 10 and len({m for m, _ in sample}) == 10
    assert all(z.score(m) == s for m, s in sample)
    assert z.random_members(100) == z.items()
    dups = z.random_members(200, allow_duplicates=True)
    assert len(dups) == 200 and all(z.score(m) == s for m, s in dups)
    assert ZSet().random_members(3) == []


def test_format_score_vectors():
    # Replies observed from redis-server 7.0.15 ZSCORE (RESP2, skiplist encoding).
    vectors = {
        1.1: b"1.1000000000000001", 0.1 + 0.2: b"0.30000000000000004",
        1e300: b"1.0000000000000001e+300", 3.0: b"3", -0.0: b"-0", 0.1: b"0.10000000000000001",
        1e-320: b"9.9998886718268301e-321", 123456789012345678.0: b"1.2345678901234568e+17",
        1.5e-7: b"1.4999999999999999e-07", 100.0: b"100", 2.5e15: b"2500000000000000",
        1e17: b"1e+17", POS_INF: b"inf", NEG_INF: b"-inf",
    }
    for value, text in vectors.items():
        assert format_score(value) == text, value


@pytest.mark.parametrize("text,value", [
    (b"1", 1.0), (b"-1.5", -1.5), (b"+inf", POS_INF), (b"-inf", NEG_INF), (b"inf", POS_INF),
    (b"inFinity", POS_INF), (b"1e5", 1e5), (b"0x10", 16.0), (b"1e-320", 1e-320), (b".5", 0.5),
])
def test_parse_score_accepts(text, value):
    assert parse_score(text) == value


@pytest.mark.parametrize("text", [b"", b" 1", b"1 ", b"abc", b"nan", b"1e400", b"-1e400",
                                  b"1e-400", b"1\x002", b"\t1"])
def test_parse_score_rejects(text):
    with pytest.raises(ValueError, match="^ERR value is not a valid float$"):
        parse_score(text)


def test_parse_bounds():
    assert parse_score_bound(b"(5") == (5.0, True)
    assert parse_score_bound(b"5") == (5.0, False)
    assert parse_score_bound(b"-inf") == (NEG_INF, False)
    assert parse_score_bound(b" 5") == (5.0, False)   # zslParseRange does not reject spaces
    for bad in (b"(", b"x", b"5 ", b"nan", b"(nan"):
        if bad == b"(":
            assert parse_score_bound(bad) == (0.0, True)  # strtod("") stops at NUL, as Redis
            continue
        with pytest.raises(ValueError, match="^ERR min or max is not a float$"):
            parse_score_bound(bad)
    assert parse_lex_bound(b"-").kind == -1 and parse_lex_bound(b"+").kind == 1
    b = parse_lex_bound(b"(abc")
    assert (b.kind, b.value, b.exclusive) == (0, b"abc", True)
    assert parse_lex_bound(b"[").value == b""
    for bad in (b"", b"abc", b"+x", b"--"):
        with pytest.raises(ValueError, match="^ERR min or max not valid string range item$"):
            parse_lex_bound(bad)
    assert isinstance(b, LexBound)


# ------------------------------------------------------------------ model-based property test

members = st.binary(min_size=0, max_size=3)
scores = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 2.5, POS_INF, NEG_INF]),
                   st.floats(allow_nan=False, width=32))
ops = st.lists(st.tuples(st.sampled_from(["add", "add", "add", "remove"]), members, scores),
               max_size=120)


@settings(max_examples=150, deadline=None)
@given(ops, scores, scores, st.booleans(), st.booleans(), st.integers(0, 40), st.integers(0, 40))
def test_matches_sorted_list_model(operations, lo, hi, lo_ex, hi_ex, start, stop):
    z = ZSet()
    model = {}
    for op, member, score in operations:
        if op == "add":
            added, old = z.add(member, score)
            assert added == (member not in model)
            assert old == model.get(member)
            model[member] = score
        else:
            assert z.remove(member) == (member in model)
            model.pop(member, None)
    ordered = sorted(((s, m) for m, s in model.items()))
    items = [(m, s) for s, m in ordered]
    assert z.items() == items and z.items(True) == items[::-1]
    assert z.check_invariants()
    for rank, (m, _) in enumerate(items):
        assert z.rank(m) == rank and z.rank(m, True) == len(items) - 1 - rank
    assert z.range_by_rank(start, stop) == items[start:stop + 1]
    assert z.range_by_rank(start, stop, True) == items[::-1][start:stop + 1]

    def inside(s):
        return (s > lo if lo_ex else s >= lo) and (s < hi if hi_ex else s <= hi)
    expected = [it for it in items if inside(it[1])]
    assert z.range_by_score(lo, hi, lo_ex, hi_ex) == expected
    assert z.range_by_score(lo, hi, lo_ex, hi_ex, True) == expected[::-1]
    assert z.range_by_score(lo, hi, lo_ex, hi_ex, False, 1, 2) == expected[1:3]
    assert z.count_in_score_range(lo, hi, lo_ex, hi_ex) == len(expected)
    removed = z.delete_range_by_score(lo, hi, lo_ex, hi_ex)
    assert removed == [m for m, _ in expected]
    assert z.items() == [it for it in items if not inside(it[1])]
    assert z.check_invariants()


@settings(max_examples=100, deadline=None)
@given(st.lists(members, max_size=60, unique=True), members, members, st.booleans(), st.booleans())
def test_lex_matches_model(names, lo, hi, lo_ex, hi_ex):
    z = make([(m, 0.0) for m in names])
    ordered = sorted(names)

    def inside(m):
        return (m > lo if lo_ex else m >= lo) and (m < hi if hi_ex else m <= hi)
    lo_b = LexBound(0, lo, lo_ex)
    hi_b = LexBound(0, hi, hi_ex)
    expected = [m for m in ordered if inside(m)]
    assert [m for m, _ in z.range_by_lex(lo_b, hi_b)] == expected
    assert [m for m, _ in z.range_by_lex(lo_b, hi_b, True)] == expected[::-1]
    assert z.count_in_lex_range(lo_b, hi_b) == len(expected)


def test_hundred_thousand_adds_are_fast():
    rnd = random.Random(1)
    z = ZSet()
    names = [b"member:%d" % i for i in range(100_000)]
    values = [rnd.random() * 1000 for _ in names]
    started = time.perf_counter()
    for name, value in zip(names, values):
        z.add(name, value)
    elapsed = time.perf_counter() - started
    assert len(z) == 100_000
    assert elapsed < 2.0, elapsed
    assert z.rank(names[0]) == sorted(values).index(values[0])


# ------------------------------------------------------------------ against redis-server

def test_replies_match_redis(redis_raw):
    rnd = random.Random(5)
    z = ZSet()
    pairs = []
    for i in range(300):
        score = rnd.choice([rnd.uniform(-1e6, 1e6), rnd.randint(-50, 50), rnd.random(),
                            1.1, 0.1 + 0.2, 1e300, -0.0, 5e-324, POS_INF, NEG_INF, 1e17])
        member = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 4)))
        pairs += [repr(score), member]
        z.add(member, parse_score(repr(score).encode()))
    redis_raw("CONFIG", "SET", "zset-max-listpack-entries", "0")   # skiplist keeps -0
    try:
        redis_raw("ZADD", "z", *pairs)
        flat = redis_raw("ZRANGE", "z", "0", "-1", "WITHSCORES")
        mine = [x for m, s in z for x in (m, format_score(s))]
        assert flat == mine
        for lo, hi in [(b"-inf", b"+inf"), (b"(0", b"1e5"), (b"-50", b"(50"), (b"(1.1", b"inf")]:
            got = redis_raw("ZRANGEBYSCORE", "z", lo, hi)
            (lv, lx), (hv, hx) = parse_score_bound(lo), parse_score_bound(hi)
            assert got == [m for m, _ in z.range_by_score(lv, hv, lx, hx)]
            assert redis_raw("ZCOUNT", "z", lo, hi) == z.count_in_score_range(lv, hv, lx, hx)
        for m in rnd.sample([m for m, _ in z], 20):
            assert redis_raw("ZRANK", "z", m) == z.rank(m)
            assert redis_raw("ZREVRANK", "z", m) == z.rank(m, True)
    finally:
        redis_raw("CONFIG", "SET", "zset-max-listpack-entries", "128")
    lexset = sorted({bytes(rnd.randrange(97, 100) for _ in range(rnd.randint(0, 3))) for _ in range(40)})
    zl = make([(m, 0.0) for m in lexset])
    redis_raw("ZADD", "lex", *[x for m in lexset for x in (b"0", m)])
    for lo, hi in [(b"-", b"+"), (b"[a", b"(b"), (b"(a", b"[cc"), (b"[b", b"-"), (b"+", b"+")]:
        got = redis_raw("ZRANGEBYLEX", "lex", lo, hi)
        assert got == [m for m, _ in zl.range_by_lex(lex(lo), lex(hi))], (lo, hi)
        assert redis_raw("ZLEXCOUNT", "lex", lo, hi) == zl.count_in_lex_range(lex(lo), lex(hi))
