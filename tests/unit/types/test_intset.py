"""IntSetValue (engine/types/intset.pyx): redis 7.0 intset semantics — sorted packed integers, width upgrades
(never downgrades), strict integer members, uniform random picks, the RDB form — and engine/types/set.py's
encoding rules (new_set, add_members: one-way conversion to a SetValue hashtable)."""
import random

from engine.core import type_name
from engine.persistence.rdb import encode_value, read_object, TYPE_SET_INTSET, TYPE_SET
from engine.types.intset import IntSetValue, intset_of
from engine.types.set import SetValue, SmallSetValue, new_set, add_members


def test_sorted_unique_and_widths():
    s = intset_of()
    assert len(s) == 0 and s.width == 2 and s.ordered() == []
    ref = set()
    rng = random.Random(7)
    for _ in range(300):
        v = rng.choice([rng.randint(-40, 40), rng.randint(-70000, 70000), rng.randint(-2**63, 2**63 - 1)])
        s, added = s.with_member(b"%d" % v)
        assert added == (0 if v in ref else 1)
        ref.add(v)
    assert s.ints() == sorted(ref)
    assert s.ordered() == [b"%d" % v for v in sorted(ref)]
    assert s.width == 8
    for v in list(ref)[::2]:
        assert s.discard(b"%d" % v)
        ref.discard(v)
    assert s.ints() == sorted(ref) and len(s) == len(ref)
    assert s.width == 8                     # no downgrade, as redis


def test_upgrade_prepends_negative_and_appends_positive():
    s = intset_of([b"1", b"2"])
    s, _ = s.with_member(b"-40000")
    assert s.width == 4 and s.ints() == [-40000, 1, 2]
    s, _ = s.with_member(b"5000000000")
    assert s.width == 8 and s.ints() == [-40000, 1, 2, 5000000000]
    s, _ = s.with_member(b"-9223372036854775808")
    assert s.ordered()[0] == b"-9223372036854775808"


def test_strict_members():
    s = intset_of([b"7"])
    for bad in (b"007", b"+7", b" 7", b"-0", b"7.0", b"", b"9223372036854775808", b"x"):
        assert s.with_member(bad) == (s, -1)
        assert bad not in s
        assert not s.discard(bad)
    assert b"7" in s and "7" not in s and 7 not in s


def test_random_picks_uniform_and_pop():
    members = [b"%d" % i for i in range(10)]
    s = intset_of(members)
    counts = {}
    for _ in range(5000):
        m = s.random_member()
        counts[m] = counts.get(m, 0) + 1
    assert set(counts) == set(members) and min(counts.values()) > 350
    popped = [s.pop_random() for _ in range(10)]
    assert sorted(popped, key=int) == members and len(s) == 0


def test_value_type_api():
    s = intset_of([b"3", b"1"])
    assert type_name(s) == b"set" and s.encoding() == b"intset" and not s.hashtable
    c, _ = s.copy().with_member(b"9")
    assert s.ordered() == [b"1", b"3"] and c.ordered() == [b"1", b"3", b"9"]
    assert s.mem_estimate() == 32              # one block: 24 B of header and two int16
    try:
        IntSetValue()
    except TypeError:
        pass
    else:
        raise AssertionError("IntSetValue() must refuse")
    assert list(s) == [b"1", b"3"]


def test_growth_in_place_and_by_copy():
    s = intset_of()
    seen = set()
    for i in range(600):
        v = (i * 7919) % 1000 - 500
        s2, added = s.with_member(b"%d" % v)
        assert added == (v not in seen)
        seen.add(v)
        s = s2
        assert s.ints() == sorted(seen)
    assert len(s) == len(seen) and s.width == 2
    while len(s):
        s.pop_random()
    assert s.ordered() == []


def test_rdb_form_keeps_width():
    s = intset_of([b"1", b"70000"])
    s.discard(b"70000")
    kind, members = s.to_rdb()
    rdbtype, payload = encode_value(kind, members)
    assert rdbtype == TYPE_SET_INTSET
    loaded = new_set(None, read_object_from(rdbtype, payload)[1])
    assert type(loaded) is IntSetValue and loaded.width == 4 and loaded.ordered() == [b"1"]
    h = SetValue([b"1", b"2"])
    assert encode_value(*h.to_rdb())[0] == TYPE_SET     # a hashtable stays RDB_TYPE_SET, as redis


def read_object_from(rdbtype, payload):
    from engine.persistence.rdb import Cursor
    return read_object(Cursor(payload), rdbtype)


def test_new_set_and_add_members_conversions():
    class Config(dict):
        pass
    cfg = Config({"set-max-intset-entries": 4})
    assert type(new_set(cfg, [b"1", b"2", b"3", b"4", b"4", b"1"])) is IntSetValue
    # past the intset rules: "hashtable", held as a small set while it fits (engine/types/smallset.pyx)
    assert type(new_set(cfg, [b"1", b"2", b"3", b"4", b"5"])) is SmallSetValue
    assert type(new_set(cfg, [b"1", b"a"])) is SmallSetValue
    assert new_set(cfg, [b"1", b"a"]).encoding() == b"hashtable"
    s = new_set(cfg, [b"1"])
    s2, added = add_members(s, cfg, [b"1", b"2", b"3", b"4"])
    assert s2 is s and added == 3
    s3, added = add_members(s2, cfg, [b"4", b"5", b"6"])
    assert type(s3) is SmallSetValue and added == 2 and set(s3) == {b"1", b"2", b"3", b"4", b"5", b"6"}
    s4, added = add_members(intset_of([b"1"]), cfg, [b"2", b"x", b"2", b"y"])
    assert type(s4) is SmallSetValue and added == 3 and set(s4) == {b"1", b"2", b"x", b"y"}
