"""Topic deliveries to Redis pub/sub channels are part of TOPIC.PUBLISH's effect: a replica's subscribers
get them (as a redis PUBLISH reaches a replica's), after the queue puts of the same publish, and an AOF
that holds them replays cleanly on restart."""
import os
import time

import redis

from tests.replication.helpers import client, wait_caught_up, wait_link_up
from tests.support.servers import start_cachemere, wait_for


def next_message(sub, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = sub.get_message(timeout=0.2)
        if m is not None and m["type"] in ("message", "pmessage"):
            return m
    return None


def test_a_replicas_subscribers_get_the_topics_channel_deliveries():
    primary = start_cachemere()
    replica = None
    subs = []
    try:
        p = client(primary)
        p.execute_command("QUEUE.CREATE", "orders-q")
        p.execute_command("TOPIC.CREATE", "orders")
        p.execute_command("TOPIC.SUBSCRIBE", "orders", "CHANNEL", "orders-feed", "RAW")
        p.execute_command("TOPIC.SUBSCRIBE", "orders", "QUEUE", "orders-q", "RAW")
        replica = start_cachemere("--replicaof", "127.0.0.1", primary.port)
        wait_link_up(replica)
        wait_caught_up(primary, replica)
        r = client(replica)
        on_replica = r.pubsub()
        on_replica.subscribe("orders-feed")
        on_primary = p.pubsub()
        on_primary.psubscribe("orders-*")
        subs += [on_replica, on_primary]
        for s in subs:
            assert s.get_message(timeout=2)["type"] in ("subscribe", "psubscribe")
        p.execute_command("TOPIC.PUBLISH", "orders", "order-1")
        got = next_message(on_replica)
        assert got is not None and got["data"] == b"order-1" and got["channel"] == b"orders-feed"
        assert next_message(on_primary)["data"] == b"order-1"
        # the queue put of the same publish is applied on the replica before the PUBLISH reaches it
        assert r.execute_command("QUEUE.LEN", "orders-q")[b"visible"] == 1
        # a topic with only a channel subscription (no queue put in the effect) reaches the replica too
        p.execute_command("TOPIC.CREATE", "alerts")
        p.execute_command("TOPIC.SUBSCRIBE", "alerts", "CHANNEL", "orders-feed", "RAW")
        p.execute_command("TOPIC.PUBLISH", "alerts", "alert-1")
        assert next_message(on_replica)["data"] == b"alert-1"
    finally:
        for s in subs:
            s.close()
        if replica is not None:
            replica.stop()
        primary.stop()


def test_channel_deliveries_in_the_aof_replay_cleanly():
    srv = start_cachemere("--appendonly", "yes", "--appendfsync", "always")
    workdir = srv.dir
    try:
        r = redis.Redis(port=srv.port)
        r.execute_command("QUEUE.CREATE", "q")
        r.execute_command("TOPIC.CREATE", "t")
        r.execute_command("TOPIC.SUBSCRIBE", "t", "CHANNEL", "feed", "RAW")
        r.execute_command("TOPIC.SUBSCRIBE", "t", "QUEUE", "q", "RAW")
        for i in range(3):
            r.execute_command("TOPIC.PUBLISH", "t", "m%d" % i)
        before = r.info("persistence")["rdb_changes_since_last_save"]
        r.execute_command("TOPIC.PUBLISH", "t", "m3")
        # the queue put counts as one change, the channel delivery as none (PUBLISH is no change)
        assert r.info("persistence")["rdb_changes_since_last_save"] == before + 1
    finally:
        srv.stop()
    aof_dir = os.path.join(workdir, "appendonlydir")
    text = b"".join(open(os.path.join(aof_dir, f), "rb").read() for f in sorted(os.listdir(aof_dir))
                    if f.endswith(".aof"))
    assert text.count(b"PUBLISH") >= 4 and b"feed" in text
    again = start_cachemere("--appendonly", "yes", workdir=workdir)
    try:
        r = redis.Redis(port=again.port)
        wait_for(lambda: r.execute_command("QUEUE.LEN", "q")[b"visible"] == 4, timeout=10)
    finally:
        again.stop()
