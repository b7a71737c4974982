"""The stock redis_exporter (Debian's prometheus-redis-exporter) scraping Cachemere and a real redis-server in
the same run: both report ``redis_up 1`` and Cachemere yields every metric family redis does, on a primary
with a replica attached, on the replica, with keyspace data, a stream, a slow log entry, a latency event,
a pub/sub subscriber and the client list exported.

One exporter process serves both through its multi-target ``/scrape?target=`` endpoint, so the options are
identical for the two."""
import shutil
import subprocess
import time
import urllib.request

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import free_port, start_cachemere, start_redis, wait_for, wait_for_port

EXPORTER = shutil.which("prometheus-redis-exporter") or "/usr/bin/prometheus-redis-exporter"

# Families redis emits that Cachemere does not, each with the reason. Empty today: every family matches.
JUSTIFIED_MISSING = {}


@pytest.fixture(scope="module")
def exporter():
    if not shutil.which(EXPORTER):
        pytest.skip("prometheus-redis-exporter is not installed (make deps-apt installs it)")
    port = free_port()
    proc = subprocess.Popen([EXPORTER, "-web.listen-address", "127.0.0.1:%d" % port, "-redis-only-metrics",
                             "-export-client-list", "-include-system-metrics", "-include-config-metrics",
                             "-check-single-keys", "db0=hash:1,db0=list:1",
                             "-check-single-streams", "db0=events", "-connection-timeout", "5s",
                             "-redis.addr", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=10, proc=proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def scrape(exporter_port, server_port):
    url = "http://127.0.0.1:%d/scrape?target=redis://127.0.0.1:%d" % (exporter_port, server_port)
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(body)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    return families, samples


def populate(port):
    r = redis.Redis(port=port)
    r.config_set("slowlog-log-slower-than", 0)          # every command enters the slow log
    # 20 ms: DEBUG SLEEP's event stays the latest one; a 1 ms command on a loaded machine would replace it
    r.config_set("latency-monitor-threshold", 20)
    for i in range(50):
        r.set("key:%d" % i, "v" * i)
    r.set("ttl:1", 1, ex=300)
    r.hset("hash:1", mapping={"a": 1, "b": 2})
    r.rpush("list:1", *range(10))
    r.zadd("zset:1", {"m": 1})
    r.sadd("set:1", "x")
    r.xadd("events", {"f": "v"})
    r.xgroup_create("events", "workers", id="0")
    r.xreadgroup("workers", "alice", {"events": ">"}, count=1)
    r.select(2)
    r.set("other-db", 1)
    r.execute_command("DEBUG", "SLEEP", "0.05")          # a latency event for LATENCY LATEST
    r.get("key:1")
    r.get("missing")
    r.close()                        # connected_clients is compared: only the exporter and the subscriber stay


def pair(start):
    primary = start("--enable-debug-command", "yes")
    replica = start("--enable-debug-command", "yes")
    return primary, replica


def attach(primary, replica):
    rr = redis.Redis(port=replica.port)
    rr.replicaof("127.0.0.1", primary.port)
    wait_for(lambda: rr.info("replication").get("master_link_status") == "up", timeout=15)
    rp = redis.Redis(port=primary.port)
    rp.set("after-attach", 1)
    wait_for(lambda: rr.get("after-attach") == b"1", timeout=10)
    wait_for(lambda: rp.info("replication").get("slave0", {}).get("state") == "online", timeout=10)
    rr.close()
    rp.close()


@pytest.fixture(scope="module")
def topologies():
    started = []
    try:
        out = {}
        for name, start in (("redis", start_redis), ("cachemere", start_cachemere)):
            primary, replica = pair(start)
            started += [primary, replica]
            sub = redis.Redis(port=primary.port).pubsub()
            sub.subscribe("news")
            sub.psubscribe("n*")
            started.append(sub)
            populate(primary.port)
            attach(primary, replica)
            out[name] = (primary, replica)
        yield out
    finally:
        for thing in started:
            try:
                thing.close() if hasattr(thing, "psubscribe") else thing.stop()
            except Exception:
                pass


def family_names(families):
    return {name for name, f in families.items() if f.samples}


@pytest.mark.parametrize("role", ["primary", "replica"])
def test_redis_exporter_reports_the_same_families_for_cachemere_as_for_redis(exporter, topologies, role):
    index = 0 if role == "primary" else 1
    ref_fams, ref = scrape(exporter, topologies["redis"][index].port)
    cm_fams, cm = scrape(exporter, topologies["cachemere"][index].port)
    assert ref[("redis_up", ())] == 1
    assert cm[("redis_up", ())] == 1
    missing = family_names(ref_fams) - family_names(cm_fams) - set(JUSTIFIED_MISSING)
    assert not missing, "families redis has and Cachemere lacks: %s" % sorted(missing)
    # and the values that mean something agree
    assert cm[("redis_db_keys", (("db", "db0"),))] == ref[("redis_db_keys", (("db", "db0"),))]
    assert cm[("redis_db_keys", (("db", "db2"),))] == 1
    assert cm[("redis_db_keys_expiring", (("db", "db0"),))] == 1
    # redis_connected_clients counts the link to a primary and not the replicas attached (exporter, subscriber)
    assert cm[("redis_connected_clients", ())] == ref[("redis_connected_clients", ())]
    assert ("redis_stream_group_consumer_messages_pending", (("consumer", "alice"), ("db", "db0"),
            ("group", "workers"), ("stream", "events"))) in cm
    assert any(name == "redis_latency_percentiles_usec" and dict(labels).get("cmd") == "set"
               for name, labels in cm)
    if role == "primary":
        assert cm[("redis_latency_spike_duration_seconds", (("event_name", "command"),))] >= 0.05
        assert cm[("redis_connected_slaves", ())] == 1
        assert cm[("redis_pubsub_channels", ())] == 1
        assert cm[("redis_slowlog_length", ())] > 0
        lag = [labels for name, labels in cm if name == "redis_connected_slave_lag_seconds"]
        assert [dict(labels)["slave_state"] for labels in lag] == ["online"]
    else:
        primary_port = str(topologies["cachemere"][0].port)
        assert cm[("redis_master_link_up", (("master_host", "127.0.0.1"), ("master_port", primary_port)))] == 1
