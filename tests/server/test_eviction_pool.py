"""The compiled eviction pool (engine/evict.pxi) and the eviction-time listener skip: what the listeners
must still see once someone needs them (tracking invalidation, keyspace events), and long keys in the pool."""
import time

import redis

from tests.support.servers import RawConnection

from engine.core import Keyspace, EvictionPool


def _wait_evicted(r, key, deadline_s=10):
    deadline = time.monotonic() + deadline_s
    i = 0
    while r.exists(key):
        assert time.monotonic() < deadline, "the key was never evicted"
        pipe = r.pipeline(transaction=False)
        for _ in range(200):
            pipe.set(f"fill:{i}", b"x" * 400)
            i += 1
        pipe.execute()


def test_tracking_invalidation_and_events_on_eviction(fresh_cachemere):
    srv = fresh_cachemere("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-random")
    r = redis.Redis(port=srv.port)
    r.set("tracked", "v")
    reader = RawConnection(srv.port)
    reader.send(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n"
                b"*2\r\n$3\r\nGET\r\n$7\r\ntracked\r\n")
    assert reader.read_until_quiet().endswith(b"$1\r\nv\r\n")
    r.config_set("notify-keyspace-events", "Ee")
    sub = redis.Redis(port=srv.port).pubsub()
    sub.subscribe("__keyevent@0__:evicted")
    _wait_evicted(r, "tracked")
    pushed = reader.read_until_quiet(settle=0.5)
    assert b">2\r\n$10\r\ninvalidate\r\n*1\r\n$7\r\ntracked\r\n" in pushed, pushed
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not seen:
        m = sub.get_message(timeout=0.2)
        if m and m["type"] == "message":
            seen.append(m["data"])
    assert seen                       # evicted events flow once notifications are on


def test_pool_with_long_keys_evicts(fresh_cachemere):
    srv = fresh_cachemere("--maxmemory-policy", "allkeys-lru", "--maxmemory-samples", "10")
    r = redis.Redis(port=srv.port)
    long_key = "k" * 200
    r.set(long_key, "old")
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"short:{i}", b"y" * 100)
    pipe.execute()
    used = r.info("memory")["used_memory"]
    r.config_set("maxmemory", used - 20000)
    r.set("trigger", "1")
    assert r.info("stats")["evicted_keys"] > 0
    assert r.dbsize() < 3002


def test_eviction_pool_object():
    ks = Keyspace(1)
    pool = ks.eviction_pool
    assert isinstance(pool, EvictionPool)
    assert len(pool) == 0 and pool.entries() == []
    ks.set_policy("allkeys-lfu")
    assert len(ks.eviction_pool) == 0
