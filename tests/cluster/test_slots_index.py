"""The keyspace's cluster side: key_hash_slot against a real redis-server's CLUSTER KEYSLOT, and the
per-slot index (Keyspace.enable_slot_index, Db.count_keys_in_slot / keys_in_slot / delete_keys_in_slot)
compared with a brute-force recount after every path that adds, removes or renames keys."""
import os
import time
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
        assert db.verify_slot_index() == []
        if ks.slot_index_enabled and len(db):
            assert db.slot_counts() == dict(want)
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


def test_views_survive_enabling_the_index():
    ks = Keyspace(1)
    db = ks.db(0)
    db.set_value(b"a", b"1")
    db.set_value(b"b", [1, 2, 3] and b"x" * 1000)
    db.set_value(b"c", b"3", expire_at=ks.now_ms + 100000)
    view = db.find(b"b")
    before = ks.used_memory
    ks.enable_slot_index()
    assert ks.used_memory > before                      # the trailers are accounted
    assert view.value == b"x" * 1000                    # the old view still reads its (now detached) record
    del view
    assert db.find(b"b").value == b"x" * 1000
    assert db.find(b"c").expire_at == ks.now_ms + 100000
    assert db.random_volatile_key() == b"c"
    check(ks)
    for k in (b"a", b"b", b"c"):
        assert db.delete(k)
    check(ks)
    assert db.used_memory == 0


def test_memory_accounting_balances():
    ks = Keyspace(1)
    ks.enable_slot_index()
    db = ks.db(0)
    for i in range(1000):
        db.set_value(b"k%d" % i, b"v" * (i % 50))
    for i in range(1000):
        db.delete(b"k%d" % i)
    assert db.used_memory == 0 and ks.used_memory == 0


def test_slot_argument_range():
    ks = make_ks(5)
    db = ks.db(0)
    for bad in (-1, 16384):
        with pytest.raises(ValueError):
            db.count_keys_in_slot(bad)
        with pytest.raises(ValueError):
            db.keys_in_slot(bad, 1)
        with pytest.raises(ValueError):
            db.delete_keys_in_slot(bad)


def test_no_index_answers_by_scan():
    ks = Keyspace(1)
    db = ks.db(0)
    for i in range(100):
        db.set_value(b"{t}%d" % i, b"v")
    slot = key_hash_slot(b"t")
    assert db.count_keys_in_slot(slot) == 100
    assert len(db.keys_in_slot(slot, 10)) == 10
    assert db.delete_keys_in_slot(slot) == 100 and len(db) == 0


# ------------------------------------------------------------------ a live server: every path that adds/removes keys

def _check_live(r):
    assert r.execute_command("DEBUG", "SLOT-INDEX", "CHECK") == []


def test_live_paths_keep_the_index(fresh_cachemere):
    from pymemcache.client.base import Client as McClient
    from tests.support.servers import wait_for
    srv = fresh_cachemere("--enable-debug-command", "yes", memcached=True)
    r = redis.Redis(port=srv.port)
    for i in range(200):
        r.set("pre:%d" % i, "v")
    assert r.execute_command("DEBUG", "SLOT-INDEX", "STATUS") == 0
    assert r.execute_command("DEBUG", "SLOT-INDEX", "ENABLE") == b"OK"
    assert r.execute_command("DEBUG", "SLOT-INDEX", "STATUS") == 1
    _check_live(r)
    slot = key_hash_slot(b"tag")
    pipe = r.pipeline(transaction=False)
    for i in range(300):
        pipe.set("{tag}:%d" % i, "x" * (i % 400))
        pipe.hset("h:%d" % i, "f", "v")
    pipe.execute()
    assert r.execute_command("DEBUG", "SLOT-INDEX", "COUNT", slot) == 300
    assert len(r.execute_command("DEBUG", "SLOT-INDEX", "KEYS", slot, 10)) == 10
    _check_live(r)
    r.delete(*["{tag}:%d" % i for i in range(0, 300, 2)])
    r.unlink("h:1", "h:2")
    r.rename("h:3", "renamed")
    r.renamenx("h:4", "{tag}:renamed")
    r.move("h:5", 2)
    r.copy("h:6", "copied")
    r.copy("h:7", "h:7", destination_db=3)
    r.getdel("{tag}:1")
    r.set("gone", "1", px=1)
    r.set("lazy", "1", px=1)
    _check_live(r)
    dump = r.dump("h:9")
    r.restore("restored", 0, dump)
    r.restore("h:9", 5000, dump, replace=True)
    r.lpush("list", 1, 2)
    r.lpop("list", 2)                       # the list goes when emptied
    r.sadd("s", "a")
    r.srem("s", "a")
    time.sleep(0.05)
    assert r.get("lazy") is None            # lazy expiry
    wait_for(lambda: r.execute_command("DBSIZE") and r.exists("gone") == 0, timeout=5)
    _check_live(r)
    r.swapdb(0, 2)
    _check_live(r)
    r.swapdb(0, 2)
    r2 = redis.Redis(port=srv.port, db=2)
    r2.flushdb()
    _check_live(r)
    mc = McClient(("127.0.0.1", srv.mc_port))
    mc.set("mc1", "v")
    mc.add("mc2", "v")
    mc.set("{tag}mc", "v")
    mc.delete("mc1")
    mc.set("num", "1")
    mc.incr("num", 5)
    mc.touch("num", 100)
    mc.cas("mc2", "w", mc.gets("mc2")[1])
    _check_live(r)
    before = r.dbsize()
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    assert r.dbsize() == before
    _check_live(r)
    r.flushall()
    _check_live(r)
    r.set("after", "1")
    assert r.execute_command("DEBUG", "SLOT-INDEX", "COUNT", key_hash_slot(b"after")) == 1
    _check_live(r)


def test_live_eviction_and_active_expiry(fresh_cachemere):
    from tests.support.servers import wait_for
    srv = fresh_cachemere("--enable-debug-command", "yes", "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
    r = redis.Redis(port=srv.port)
    r.execute_command("DEBUG", "SLOT-INDEX", "ENABLE")
    pipe = r.pipeline(transaction=False)
    for i in range(20000):
        pipe.set("ev:%d" % i, "x" * 200)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    info = r.info("stats")
    assert info["evicted_keys"] > 0
    _check_live(r)
    r.config_set("maxmemory", "0")
    for i in range(500):
        pipe.set("ttl:%d" % i, "v", px=20)
    pipe.execute()
    wait_for(lambda: r.info("stats")["expired_keys"] >= 400, timeout=10)
    _check_live(r)


def test_replica_full_sync_swaps_in_an_indexed_db(fresh_cachemere):
    from tests.support.servers import wait_for
    primary = fresh_cachemere()
    replica = fresh_cachemere("--enable-debug-command", "yes")
    p = redis.Redis(port=primary.port)
    rr = redis.Redis(port=replica.port)
    for i in range(500):
        p.set("{r}:%d" % i, "v")
        p.set("k:%d" % i, "v")
    rr.set("old", "1")
    rr.execute_command("DEBUG", "SLOT-INDEX", "ENABLE")
    rr.replicaof("127.0.0.1", primary.port)
    wait_for(lambda: rr.dbsize() == 1000, timeout=15)
    _check_live(rr)
    assert rr.execute_command("DEBUG", "SLOT-INDEX", "COUNT", key_hash_slot(b"r")) == 500
    p.delete("{r}:1")
    p.set("{r}:new", "1")
    wait_for(lambda: rr.exists("{r}:new") == 1, timeout=10)
    _check_live(rr)
    assert rr.execute_command("DEBUG", "SLOT-INDEX", "COUNT", key_hash_slot(b"r")) == 500
