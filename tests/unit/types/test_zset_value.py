"""ZSetValue: Redis 7.0's listpack -> skiplist conversion rules and the -0.0 quirk of listpack storage."""
from engine.core import type_name
from engine.types.zset import ZSetValue, new_zset, build_zset


class Config(dict):
    pass


def test_registered_as_zset():
    assert type_name(ZSetValue()) == b"zset"


def test_listpack_until_limits_then_skiplist_for_good():
    config = Config({"zset-max-listpack-entries": 3, "zset-max-listpack-value": 5})
    z = new_zset(config, 1)
    for i in range(3):
        z.insert(b"m%d" % i, i, config)
    assert z.encoding() == b"listpack"
    z.insert(b"m1", 10.0, config)           # an update does not grow the set
    assert z.encoding() == b"listpack"
    z.insert(b"m3", 3.0, config)
    assert z.encoding() == b"skiplist"
    for m in (b"m0", b"m1", b"m2"):
        z.remove(m)
    assert z.encoding() == b"skiplist"
    assert new_zset(config, 6).encoding() == b"skiplist"
    long_member = new_zset(config, 1)
    long_member.insert(b"toolong", 1.0, config)
    assert long_member.encoding() == b"skiplist"


def test_negative_zero_depends_on_encoding():
    z = new_zset(None, 1)
    z.insert(b"a", -0.0, None)
    assert str(z.score(b"a")) == "0.0"
    s = ZSetValue.encoded(True)
    s.insert(b"a", -0.0, None)
    assert str(s.score(b"a")) == "-0.0"
    stored = build_zset(None, [(b"a", -0.0)])   # small store results become listpacks again
    assert stored.encoding() == b"listpack" and str(stored.score(b"a")) == "0.0"


def test_copy_and_rdb_round_trip():
    config = Config({"zset-max-listpack-entries": 2, "zset-max-listpack-value": 64})
    z = ZSetValue.encoded(True)
    z.add(b"a", 1.5)
    z.add(b"b", -2.0)
    other = z.copy()
    other.add(b"c", 3.0)
    assert z.items() == [(b"b", -2.0), (b"a", 1.5)] and other.encoding() == b"skiplist"
    kind, pairs = z.to_rdb()
    loaded = ZSetValue.from_rdb(kind, pairs, config)
    assert loaded.items() == z.items() and loaded.encoding() == b"listpack"
    assert ZSetValue.from_rdb(kind, pairs + [(b"x", 0.0)], config).encoding() == b"skiplist"
    assert z.mem_usage() > 0
