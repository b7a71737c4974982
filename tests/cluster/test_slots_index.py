"""The keyspace's cluster side: key_hash_slot against a real redis-server's CLUSTER KEYSLOT, and the
per-slot index (Keyspace.enable_slot_index, Db.count_keys_in_slot / keys_in_slot / delete_keys_in_slot)
compared with a brute-force recount after every path that adds, removes or renames keys."""
import os
import random
import tempfile
from collections import Counter

import pytest
import redis

from engine.core import Keyspace
from engine.slots import key_hash_slot, crc16_of
from tests.support.servers import start_redis

EDGE_KEYS = [b"", b"{", b"}", b"{}", b"{}a", b"a{}", b"{{a}}", b"{a}}", b"a{b}c{d}", b"{a}{b}", b"}{a}",
             b"{ab", b"ab}", b"{{}}", b"{}{a}", b"foo", b"{user1000}.following", b"\x00{\x00}\x00",
             b"\xff\xfe{\x80}", b"a{b", b"a}b{c}", b"123456789", b"{123456789}x"]


def test_crc16_check_value():
    assert crc16_of(b"123456789") == 0x31C3
    assert key_hash_slot(b"foo") == 12182
    assert key_hash_slot(b"{user1000}.following") == key_hash_slot(b"{user1000}.followers")


@pytest.fixture(scope="module")
def redis_cluster_node():
    workdir = tempfile.mkdtemp(prefix="redis-cluster-")
    srv = start_redis("--cluster-enabled", "yes", "--cluster-config-file", os.path.join(workdir, "nodes.conf"),
                      workdir=workdir)
    yield srv
    srv.stop()


def test_keyslot_matches_redis(redis_cluster_node):
    rng = random.Random(18)
    keys = list(EDGE_KEYS)
    alphabet = b"{}ab\x00\xff"
    for _ in range(3000):
        n = rng.randint(0, 12)
        keys.append(bytes(rng.choice(alphabet) for _ in range(n)))
    for _ in range(2000):
        keys.append(rng.randbytes(rng.randint(1, 40)))
    r = redis.Redis(port=redis_cluster_node.port)
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.execute_command("CLUSTER", "KEYSLOT", k)
    theirs = pipe.execute()
    mismatches = [(k, key_hash_slot(k), t) for k, t in zip(keys, theirs) if key_hash_slot(k) != t]
    assert mismatches == []


# ------------------------------------------------------------------ the index, against a brute-force recount

def brute(db):
    return Counter(key_hash_slot(k) for k in db.key_list())


def check(ks):
    for db in ks.dbs:
        want = brute(db)
        for slot in set(want) | {0, 16383, 5474}:
            assert db.count_keys_in_slot(slot) == want.get(slot, 0), (db.id, slot)
            got = db.keys_in_slot(slot, 1 << 30)
            assert sorted(got) == sorted(k for k in db.key_list() if key_hash_slot(k) == slot)
            assert len(set(got)) == len(got)


def make_ks(n=300, enable_first=True):
    ks = Keyspace(4)
    if enable_first:
        ks.enable_slot_index()
    db = ks.db(0)
    for i in range(n):
        db.set_value(b"key:%d" % i, b"v%d" % i)
        db.set_value(b"{tag}:%d" % i, b"x" * (i % 300))   # some boxed (longer than the inline maximum)
    if not enable_first:
        ks.enable_slot_index()
    return ks


@pytest.mark.parametrize("enable_first", [True, False])
def test_index_counts_after_inserts(enable_first):
    ks = make_ks(enable_first=enable_first)
    assert ks.slot_index_enabled
    assert ks.db(0).count_keys_in_slot(key_hash_slot(b"tag")) == 300
    check(ks)


def test_index_off_by_default():
    ks = Keyspace(2)
    assert not ks.slot_index_enabled


def test_keys_in_slot_count_and_delete():
    ks = make_ks()
    db = ks.db(0)
    slot = key_hash_slot(b"tag")
    assert len(db.keys_in_slot(slot, 7)) == 7
    assert db.keys_in_slot(slot, 0) == []
    seen = []
    ks.effects.subscribe(seen.append)
    assert db.delete_keys_in_slot(slot) == 300
    assert db.count_keys_in_slot(slot) == 0
    assert len(db) == 300
    assert len(seen) == 300 and all(b"$3\r\nDEL\r\n" in s for s in seen)
    assert db.delete_keys_in_slot(slot) == 0
    check(ks)


def test_index_through_deletes_overwrites_expiry_and_views():
    ks = make_ks()
    db = ks.db(0)
    for i in range(0, 300, 3):
        db.delete(b"key:%d" % i)
    for i in range(0, 300, 5):
        db.set_value(b"key:%d" % i, b"y" * 400)             # overwrite / recreate, boxed
    e = db.find(b"key:1")
    db.delete(b"key:1")                                    # deleted while a view lives
    assert e.value == b"v1"
    del e
    check(ks)
    now = ks.now_ms
    for i in range(2, 300, 7):
        db.set_value(b"key:%d" % i, b"t", expire_at=now - 1)
    check(ks)                                              # expired, not yet reclaimed: still counted
    for i in range(2, 300, 7):
        assert db.lookup_read(b"key:%d" % i) is None      # lazy expiry
    check(ks)
    db.clear()
    check(ks)
    db.set_value(b"again", b"1")
    check(ks)


def test_index_through_swap_and_flush():
    ks = make_ks()
    ks.db(1).set_value(b"one", b"1")
    ks.db(0)._swap_contents(ks.db(1))
    check(ks)
    ks.db(0).set_value(b"two", b"2")
    ks.db(1).delete(b"key:5")
    check(ks)
    # a replica's full sync swaps in a db loaded by a side keyspace without the index
    side = Keyspace(4)
    for i in range(50):
        side.db(0).set_value(b"side:%d" % i, b"s")
    ks.db(0)._swap_contents(side.db(0))
    side.db(0).clear()
    check(ks)
    ks.db(0).delete(b"side:3")
    check(ks)
    for db in ks.dbs:
        db.clear()
    check(ks)
