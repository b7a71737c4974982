"""LATENCY events beyond "command" against redis-server 7.0.15 (issue 17): the same scenario on both servers
records the same event names: "eviction-cycle" and "eviction-del" (a CONFIG SET maxmemory that evicts a big hash
and 100k keys in one cycle), "expire-cycle" (and redis's "expire-del": the active cycle deletes a big hash), "aof-write",
"aof-write-alone" and "aof-fsync-always" (a 32 MB SET under appendfsync always). The figures differ, the names
and the shape of LATENCY LATEST / HISTORY do not."""
import time

import redis

from tests.support.servers import start_cachemere, start_redis, wait_for


def _events(r):
    return {row[0].decode() for row in r.execute_command("LATENCY", "LATEST")}


def _big_hash(r, key, n=150000):
    p = r.pipeline(transaction=False)
    for lo in range(0, n, 5000):
        p.hset(key, mapping={b"f%d" % i: b"v%d" % i for i in range(lo, lo + 5000)})
    p.execute()


def _scenario(srv):
    r = redis.Redis(port=srv.port)
    r.config_set("latency-monitor-threshold", 1)
    r.execute_command("DEBUG", "POPULATE", 100000)
    _big_hash(r, "big")
    r.config_set("maxmemory-eviction-tenacity", 100)
    r.config_set("maxmemory-policy", "allkeys-random")
    r.config_set("maxmemory", 1)                   # evicts everything in one cycle
    r.config_set("maxmemory", 0)
    evicted = _events(r)
    assert r.dbsize() == 0
    _big_hash(r, "exp")
    r.pexpire("exp", 50)
    wait_for(lambda: r.info("stats")["expired_keys"] >= 1, timeout=10)      # the active cycle deletes it
    expired = _events(r) - evicted
    r.config_set("appendonly", "yes")
    wait_for(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0
             and r.info("persistence")["aof_rewrite_scheduled"] == 0, timeout=20)
    time.sleep(0.2)
    r.config_set("appendfsync", "always")
    r.set("large", b"x" * (32 << 20))
    aof = _events(r) - evicted - expired
    shapes = [r.execute_command("LATENCY", "HISTORY", e)[0].__len__() for e in sorted(evicted | expired | aof)]
    return evicted, expired, aof, shapes


def test_latency_events_match_redis():
    results = []
    for start in (start_cachemere, start_redis):
        srv = start("--enable-debug-command", "yes")
        try:
            results.append(_scenario(srv))
        finally:
            srv.stop()
    ours, theirs = results
    assert {"eviction-cycle", "eviction-del"} <= theirs[0]
    assert {"expire-cycle", "expire-del"} <= theirs[1] | theirs[0]
    assert {"aof-write", "aof-write-alone", "aof-fsync-always"} <= theirs[2]
    assert ours[0] >= {"eviction-cycle", "eviction-del"} and ours[0] - {"command", "fast-command", "fork"} \
        <= theirs[0] | {"expire-cycle"}
    # our delete of a big value releases it after the reply (engine/commands/_lazyfree.py), so "expire-del" only
    # spikes when the unlink itself is slow; the cycle is
    assert "expire-cycle" in ours[1] | ours[0]
    assert {"aof-write", "aof-write-alone", "aof-fsync-always"} <= ours[2]
    assert set(ours[3]) == set(theirs[3]) == {2}
