"""The compact small string set (engine/types/smallset.pyx) against a Python set model, and the set type's
conversions around it (engine/types/set.py): intset -> small set -> SetValue, one way."""
import pickle
import random

import pytest

from engine.types.smallset import SmallSetValue, smallset_of, MAX_MEMBERS, MAX_LEN
from engine.types.set import SetValue, new_set, add_members, general_set
from engine.types.intset import IntSetValue
from engine.persistence.rdb import encode_value, TYPE_SET


def check(s, model):
    assert len(s) == len(model)
    assert bool(s) == bool(model)
    got = s.ordered()
    assert len(got) == len(set(got)) and set(got) == model


def test_random_ops_against_a_model():
    rng = random.Random(20)
    for _ in range(25):
        pool = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, MAX_LEN + 1))) for _ in range(180)]
        pool += [b"", b"a", b"a" * MAX_LEN]
        s, model = smallset_of([]), set()
        for _ in range(300):
            m = rng.choice(pool)
            op = rng.random()
            if op < 0.5:
                t, r = s.with_member(m)
                if m in model:
                    assert r == 0 and t is s
                elif len(model) >= MAX_MEMBERS:
                    assert r == -1 and t is s
                else:
                    assert r == 1
                    model.add(m)
                s = t
            elif op < 0.75:
                assert bool(s.discard(m)) == (m in model)
                model.discard(m)
            elif op < 0.85 and model:
                x = s.pop_random()
                assert x in model
                model.remove(x)
            elif op < 0.9 and model:
                assert s.random_member() in model
            else:
                assert (m in s) == (m in model)
            check(s, model)
        for m in pool:
            assert (m in s) == (m in model)
        check(s.copy(), model)
        check(pickle.loads(pickle.dumps(s)), model)


def test_limits_and_refusals():
    with pytest.raises(TypeError):
        SmallSetValue()
    with pytest.raises(ValueError):
        smallset_of([b"x" * (MAX_LEN + 1)])
    with pytest.raises(ValueError):
        smallset_of([b"%d" % i for i in range(MAX_MEMBERS + 1)])
    s = smallset_of([b"m%d" % i for i in range(MAX_MEMBERS)] * 2)      # duplicates count once
    assert len(s) == MAX_MEMBERS
    assert s.with_member(b"new") == (s, -1)
    assert s.with_member(b"m1") == (s, 0)
    assert s.with_member(b"x" * (MAX_LEN + 1)) == (s, -1)
    assert b"x" * 100 not in s and 12 not in s


def test_uniform_pick():
    s = smallset_of([b"a", b"b", b"c", b"d"])
    seen = {}
    for _ in range(4000):
        m = s.random_member()
        seen[m] = seen.get(m, 0) + 1
    assert set(seen) == {b"a", b"b", b"c", b"d"} and min(seen.values()) > 800


def test_face_as_redis_hashtable():
    s = smallset_of([b"a", b"1"])
    assert s.encoding() == b"hashtable" and s.hashtable
    kind, members = s.to_rdb()
    assert kind == "set" and members.hashtable
    assert encode_value(kind, members)[0] == TYPE_SET
    assert s.mem_estimate() == s.mem_usage() and s.mem_estimate() <= 96


def test_conversions():
    assert type(new_set(None, [b"a", b"b"])) is SmallSetValue
    assert type(new_set(None, [b"1", b"2"])) is IntSetValue
    assert type(new_set(None, [b"x" * (MAX_LEN + 1)])) is SetValue
    assert type(general_set([b"m%d" % i for i in range(MAX_MEMBERS + 1)])) is SetValue
    v, added = add_members(new_set(None, [b"1", b"2"]), None, [b"a", b"2"])
    assert type(v) is SmallSetValue and added == 1 and set(v) == {b"1", b"2", b"a"}
    v2, added = add_members(v, None, [b"m%d" % i for i in range(MAX_MEMBERS)])
    assert type(v2) is SetValue and added == MAX_MEMBERS and len(v2) == MAX_MEMBERS + 3
    v3, added = add_members(smallset_of([b"a"]), None, [b"b", b"y" * (MAX_LEN + 1)])
    assert type(v3) is SetValue and added == 2 and v3 == {b"a", b"b", b"y" * (MAX_LEN + 1)}
    # an intset past set-max-intset-entries: a small set while it fits
    v4, added = add_members(new_set(None, [b"%d" % i for i in range(512)]), None, [b"512"])
    assert type(v4) is SetValue and added == 1
    cfg = {"set-max-intset-entries": 2}
    v5, added = add_members(new_set(cfg, [b"1", b"2"]), cfg, [b"3"])
    assert type(v5) is SmallSetValue and added == 1
