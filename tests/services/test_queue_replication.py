"""Queues on a replica: the full sync carries queue keys (RDB module values), the stream carries the
QUEUE._* effects, and a promoted replica serves the same queue (same receipts, counts, FIFO locks)."""
import redis

from tests.replication.helpers import client, wait_caught_up, wait_link_up
from tests.support.servers import start_cachemere


def state(r, key):
    msgs = r.execute_command("QUEUE.PEEK", key, "COUNT", "1000", "STATE", "ALL")
    return (r.execute_command("QUEUE.LEN", key),
            sorted((m[b"MessageId"], m[b"Body"], m[b"State"], m[b"Attributes"][b"ApproximateReceiveCount"])
                   for m in msgs))


def test_replica_follows_and_promoted_replica_serves_the_same_queue():
    primary = start_cachemere()
    replica = None
    try:
        p = client(primary)
        p.execute_command("QUEUE.CREATE", "dlq")
        p.execute_command("QUEUE.CREATE", "rq", "VISIBILITY", "600", "DLQ", "dlq", "MAXRECEIVE", "1")
        p.execute_command("QUEUE.SEND", "rq", "before-sync")
        replica = start_cachemere("--replicaof", "127.0.0.1", primary.port)
        wait_link_up(replica)
        for i in range(5):
            p.execute_command("QUEUE.SEND", "rq", "m%d" % i, "ATTR", "i", "Number", i)
        got = p.execute_command("QUEUE.RECV", "rq", "COUNT", "3", "VISIBILITY", "0")
        p.execute_command("QUEUE.RECV", "rq", "COUNT", "2")            # redrives what was received once
        p.execute_command("QUEUE.CREATE", "f.fifo", "CONTENTDEDUP")
        p.execute_command("QUEUE.SEND", "f.fifo", "a", "GROUP", "g")
        p.execute_command("QUEUE.SEND", "f.fifo", "b", "GROUP", "g")
        [fm] = p.execute_command("QUEUE.RECV", "f.fifo", "VISIBILITY", "600")
        t = p.execute_command("TOPIC.CREATE", "t")
        p.execute_command("TOPIC.SUBSCRIBE", "t", "QUEUE", "rq", "RAW")
        p.execute_command("TOPIC.PUBLISH", "t", "fanned")
        wait_caught_up(primary, replica)
        r = client(replica)
        for key in ("rq", "dlq", "f.fifo"):
            assert state(r, key) == state(p, key)
        assert r.type("t") == b"topic"
        try:
            r.execute_command("QUEUE.SEND", "rq", "x")
            raise AssertionError("a replica accepted a write")
        except redis.ReadOnlyError:
            pass
        # promotion: the same receipt deletes, the FIFO group is still locked
        primary.kill9()
        assert r.replicaof("NO", "ONE")
        assert r.execute_command("QUEUE.RECV", "f.fifo") == []
        assert r.execute_command("QUEUE.DELETE", "f.fifo", fm[b"ReceiptHandle"]) == b"OK"
        assert [m[b"Body"] for m in r.execute_command("QUEUE.RECV", "f.fifo")] == [b"b"]
        assert t == b"OK" and got
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()
