"""engine/evict.pxi sample_records: the batched (prefetched) random draws of the eviction pool give what
rec_random / the expiry index give: existing keys, keys with a TTL for volatile-*, during a rehash too, and
more draws than one batch (maxmemory-samples above 64)."""
import collections

from engine.core import Keyspace, sample_keys


def _db(n, ttl_every=0):
    ks = Keyspace(1)
    db = ks.db(0)
    for i in range(n):
        db.set_value(b"k:%d" % i, b"v", 10 ** 15 if ttl_every and i % ttl_every == 0 else -1)
    return ks, db


def test_draws_are_existing_keys_and_cover_the_table():
    ks, db = _db(2000)
    drawn = sample_keys(db, 20000)
    assert len(drawn) == 20000 and None not in drawn
    keys = {b"k:%d" % i for i in range(2000)}
    assert set(drawn) <= keys
    counts = collections.Counter(drawn)
    assert len(counts) > 1900                       # nearly every key is drawn (10 per key on average)
    assert max(counts.values()) < 60                # and none far more often than the rest


def test_volatile_draws_only_keys_with_ttl():
    ks, db = _db(1000, ttl_every=10)
    drawn = sample_keys(db, 500, volatile_only=True)
    assert len(drawn) == 500
    assert {int(k.split(b":")[1]) % 10 for k in drawn} == {0}
    assert len(set(drawn)) > 80


def test_empty_db_and_rehash():
    ks = Keyspace(1)
    db = ks.db(0)
    assert sample_keys(db, 5) == [None] * 5
    assert sample_keys(db, 5, volatile_only=True) == [None] * 5
    for i in range(5000):
        db.set_value(b"r:%d" % i, b"v")
        if db.is_rehashing():
            break
    assert db.is_rehashing()
    live = {b"r:%d" % j for j in range(i + 1)}
    drawn = sample_keys(db, 3000)
    assert None not in drawn and set(drawn) <= live      # both tables are drawn from, no moved-out bucket
    assert len(set(drawn)) > len(live) // 2
