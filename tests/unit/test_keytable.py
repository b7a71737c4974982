"""The keyspace's record table (engine/core.pyx Db): a random workload checked against a dict model.

Covers inline and boxed values and the moves between them, expiries, deletes while an Entry view is
alive, growth and shrinking of the bucket array, SCAN coverage across resizes, and memory accounting
returning to zero when every key is gone.
"""
import random

from engine.core import Keyspace


def _value(rnd):
    kind = rnd.random()
    if kind < 0.6:
        return b"v" * rnd.randint(0, 40)
    if kind < 0.8:
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randint(200, 600)))   # past INLINE_MAX: boxed
    return {b"f%d" % rnd.randint(0, 9): b"x"}


def test_random_operations_match_a_dict_model():
    rnd = random.Random(11)
    ks = Keyspace(1)
    db = ks.db(0)
    model, ttl = {}, {}
    for step in range(30000):
        key = b"k%d" % rnd.randint(0, 3000)
        op = rnd.random()
        if op < 0.45:
            value = _value(rnd)
            at = rnd.choice([-1, -1, 10 ** 13 + step])
            db.set_value(key, value, at)
            model[key] = value
            ttl.pop(key, None)
            if at >= 0:
                ttl[key] = at
        elif op < 0.6:
            e = db.find(key)
            if e is not None:
                value = _value(rnd)
                e.value = value                 # in place: the record must stay where views point
                model[key] = value
                db.account(key, e)
        elif op < 0.8:
            view = db.find(key)
            assert db.delete(key) == (key in model)
            if view is not None:
                assert view.value == model[key]  # a deleted key's view still reads its last value
            model.pop(key, None)
            ttl.pop(key, None)
        elif op < 0.9:
            e = db.find(key)
            if e is not None:
                db.set_expire(key, e, 10 ** 13)
                ttl[key] = 10 ** 13
        else:
            e = db.find(key)
            if e is not None:
                db.remove_expire(key, e)
                ttl.pop(key, None)
        if step % 3000 == 0:
            assert db.size() == len(model)
            assert sorted(db.key_list()) == sorted(model)
            assert db.expires_count() == len(ttl) and sorted(db.volatile_keys()) == sorted(ttl)
            for k, v in model.items():
                e = db.find(k)
                assert e.value == v and e.expire_at == ttl.get(k, -1)
    for k in list(model):
        db.delete(k)
    assert db.size() == 0 and db.expires_count() == 0
    assert ks.used_memory == 0 and db.used_memory == 0


def test_scan_returns_every_key_present_for_the_whole_scan_across_resizes():
    ks = Keyspace(1)
    db = ks.db(0)
    for i in range(5000):
        db.set_value(b"stable:%d" % i, b"x")
    rnd = random.Random(3)
    seen = set()
    cursor, calls = 0, 0
    while True:
        cursor, keys = db.scan(cursor, 50)
        seen.update(keys)
        calls += 1
        # grow the table several times and shrink it again while the scan runs
        if calls % 3 == 0:
            for _ in range(2000 if calls < 60 else 0):
                db.set_value(b"churn:%d" % rnd.randint(0, 10 ** 9), b"y")
        if calls > 100:
            for k in [k for k in db.key_list() if k.startswith(b"churn:")][:4000]:
                db.delete(k)
        if cursor == 0:
            break
        assert calls < 100000
    assert all(b"stable:%d" % i in seen for i in range(5000))


def test_values_read_back_exactly_and_account_is_exact_for_inline_strings():
    ks = Keyspace(1)
    db = ks.db(0)
    for n in (0, 1, 7, 8, 9, 100, 256, 257, 5000):
        db.set_value(b"s%d" % n, b"a" * n)
    for n in (0, 1, 7, 8, 9, 100, 256, 257, 5000):
        assert db.find(b"s%d" % n).value == b"a" * n
    before = ks.used_memory
    e = db.find(b"s9")
    e.value = b"bb"                  # shorter inline overwrite: the record and its cost stay the same
    assert ks.used_memory == before and db.find(b"s9").value == b"bb"
    e.value = b"c" * 300             # too long for the record: boxed, then accounted
    db.account(b"s9", e)
    assert ks.used_memory > before + 300
    e.value = b"d"                   # back inline: the boxed value's cost is given back
    assert ks.used_memory == before and db.find(b"s9").value == b"d"


def test_swapdb_moves_records_and_their_expiries():
    ks = Keyspace(2)
    a, b = ks.db(0), ks.db(1)
    a.set_value(b"k", b"v", 10 ** 13)
    b.set_value(b"other", b"w")
    ks.swap(0, 1)
    assert a.find(b"k") is None and a.find(b"other").value == b"w"
    assert b.find(b"k").expire_at == 10 ** 13 and b.volatile_keys() == [b"k"]


def test_expiry_index_shrinks_after_a_burst_of_ttl_keys_and_keeps_the_rest():
    ks = Keyspace(1)
    db = ks.db(0)
    far = 10 ** 13
    for i in range(20000):
        db.set_value(b"t%d" % i, b"v", far + i)
    grown = db.expiry_index_capacity()
    assert grown >= 20000 and db.expires_count() == 20000
    for i in range(20000):
        if i % 100:                                   # keep every hundredth key and its expiry
            assert db.delete(b"t%d" % i)
        elif i % 200 == 0:
            db.remove_expire(b"t%d" % i, db.find(b"t%d" % i))   # some stay as persistent keys
    assert db.expires_count() == 100
    assert db.expiry_index_capacity() <= 512 < grown
    for i in range(0, 20000, 100):
        e = db.find(b"t%d" % i)
        assert e is not None and e.expire_at == (-1 if i % 200 == 0 else far + i)
    assert sorted(db.volatile_keys()) == sorted(b"t%d" % i for i in range(100, 20000, 200))


def _grow_until_rehashing(db, prefix, start=0):
    i = start
    while not db.is_rehashing():
        db.set_value(b"%s:%d" % (prefix, i), b"v%d" % i)
        i += 1
        assert i < start + 1_000_000
    return i


def test_incremental_rehash_keeps_every_operation_exact_mid_rehash():
    """Growth starts an incremental rehash; while both tables hold records, finds, inserts, deletes, random
    picks, key_list, items and SCAN all see exactly the model's keys, and the rehash finishes by steps."""
    rnd = random.Random(5)
    ks = Keyspace(2)
    db = ks.db(0)
    n = _grow_until_rehashing(db, b"g")
    model = {b"g:%d" % i: b"v%d" % i for i in range(n)}
    size, target = db.bucket_counts()
    assert target == size * 2
    steps = 0
    while db.is_rehashing():
        steps += 1
        assert steps < 100_000
        op = rnd.random()
        key = b"g:%d" % rnd.randint(0, n + 500)
        if op < 0.3:
            db.set_value(key, b"new", -1)
            model[key] = b"new"
        elif op < 0.5:
            assert db.delete(key) == (model.pop(key, None) is not None)
        else:
            e = db.find(key)
            assert (e.value if e is not None else None) == model.get(key)
        if steps % 97 == 0:
            assert sorted(db.key_list()) == sorted(model)
            assert sorted(k for k, _ in db.items()) == sorted(model)
            assert db.random_any_key() in model
            seen, cursor = set(), 0
            while True:
                cursor, keys = db.scan(cursor, 100)
                seen.update(keys)
                if cursor == 0:
                    break
            assert seen == set(model)
    assert db.bucket_counts() == (target, 0) and len(db) == len(model)
    assert all(db.find(k).value == v for k, v in model.items())


def test_shrink_is_incremental_and_swapdb_carries_a_rehash():
    ks = Keyspace(2)
    db, other = ks.db(0), ks.db(1)
    n = _grow_until_rehashing(db, b"s")
    db.rehash_for(1000)
    assert not db.is_rehashing()
    big, _ = db.bucket_counts()
    i = 0
    while not db.is_rehashing():                  # below 1/8 full: a shrink starts
        assert db.delete(b"s:%d" % i)
        i += 1
    assert db.bucket_counts()[1] < big and len(db) * 8 < big
    left = {b"s:%d" % j for j in range(i, n)}
    ks.swap(0, 1)                                 # the half-done rehash moves with the records
    assert other.is_rehashing() and not db.is_rehashing() and len(db) == 0
    assert set(other.key_list()) == left and all(other.find(k) is not None for k in left)
    other.rehash_for(1000)                        # (the finds above may already have finished it)
    assert not other.is_rehashing()
    assert set(other.key_list()) == left


def test_items_pauses_the_rehash_under_it():
    ks = Keyspace(1)
    db = ks.db(0)
    n = _grow_until_rehashing(db, b"p")
    seen = []
    for key, _ in db.items():
        seen.append(key)
        db.find(b"p:%d" % (len(seen) % n))        # a lookup would take a rehash step if not paused
    assert sorted(seen) == sorted(b"p:%d" % i for i in range(n))
    assert db.is_rehashing()                      # nothing moved while iterating
    db.find(b"p:0")
    db.rehash_for(1000)
    assert not db.is_rehashing()


def test_values_of_type_finds_every_boxed_value_of_the_type():
    """Db.values_of_type (the services' walk after a load): every value of the type or a subclass, across a
    rehash, and nothing else (inline strings, other boxed types)."""
    from tests.support.inproc import Harness
    import engine.commands  # noqa: F401
    from engine.types.hashvalue import HashValue
    h = Harness()
    for i in range(3000):
        h.run("SET", "s%d" % i, "v")
        if i % 3 == 0:
            h.run("HSET", "h%d" % i, "f", "v")
        if i % 5 == 0:
            h.run("RPUSH", "l%d" % i, "x")
    found = h.ks.db(0).values_of_type(HashValue)
    assert sorted(k for k, _ in found) == sorted(b"h%d" % i for i in range(0, 3000, 3))
    assert all(type(v) is HashValue for _, v in found)
    assert h.ks.db(1).values_of_type(HashValue) == []
