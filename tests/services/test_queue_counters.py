"""QUEUE.LEN and /metrics read per-state counters kept incrementally (services/queue/value.py): a random
workload of every queue operation under a virtual clock, checked after each step against a brute-force
walk of the messages; then the same after the effect stream is replayed (AOF / replica) and after an RDB
round trip (dump_state / load_state, what RDB, DUMP/RESTORE and COPY use); and the counts never walk."""
import random

import pytest

from services.queue.value import QueueValue
from tests.services.test_queue_unit import NOW, Engine, replay


def brute(engine, key):
    q = engine.client.db.find(key.encode()).value
    return q.counts_by_walk(engine.ks.now_ms)


def counted(engine, key):
    rep = engine.run("QUEUE.LEN", key)
    return {k.decode(): v for k, v in rep.items()}


@pytest.mark.parametrize("fifo", [False, True])
def test_counters_match_a_brute_force_walk_through_every_operation(fifo):
    key = "jobs.fifo" if fifo else "jobs"
    rnd = random.Random(19 + fifo)
    a = Engine(NOW)
    a.run("QUEUE.CREATE", "dead" + (".fifo" if fifo else ""))
    a.run("QUEUE.CREATE", key, "VISIBILITY", "5", "RETENTION", "120", "DLQ", "dead" + (".fifo" if fifo else ""),
          "MAXRECEIVE", "3", *(["CONTENTDEDUP"] if fifo else []))
    receipts = []
    checks = 0
    for step in range(600):
        op = rnd.random()
        group = ["GROUP", "g%d" % rnd.randrange(4)] if fifo else []
        if op < 0.30:
            delay = ["DELAY", str(rnd.choice([0, 0, 2, 7]))] if not fifo else []
            a.run("QUEUE.SEND", key, "body-%d" % step, *group, *delay)
        elif op < 0.50:
            got = a.run("QUEUE.RECV", key, "COUNT", str(rnd.randrange(1, 4)))
            receipts += [m[b"ReceiptHandle"] for m in got or []]
        elif op < 0.62 and receipts:
            a.run("QUEUE.DELETE", key, receipts.pop(rnd.randrange(len(receipts))))
        elif op < 0.70 and receipts:
            a.run("QUEUE.NACK", key, receipts.pop(rnd.randrange(len(receipts))), "DELAY", str(rnd.choice([0, 3])))
        elif op < 0.78 and receipts:
            a.run("QUEUE.CHANGEVIS", key, rnd.choice(receipts), str(rnd.choice([0, 1, 9])))
        elif op < 0.80:
            a.run("QUEUE.SETATTR", key, "MessageRetentionPeriod", str(rnd.choice([60, 120, 3600])))
        elif op < 0.81 and step > 300:
            a.ks.now_ms += 61_000                    # PURGE once per 60 s
            a.run("QUEUE.PURGE", key)
            receipts.clear()
        a.ks.now_ms += rnd.choice([0, 0, 100, 900, 2500, 6000])
        assert counted(a, key) == brute(a, key), step
        checks += 1
    assert checks == 600
    # a replica / AOF replay of the effect stream, under another clock: the same counts at the same time
    b = replay(a.stream, a.ks.now_ms)
    b.ks.now_ms = a.ks.now_ms
    for t in (0, 1_000, 6_000, 200_000):
        a.ks.now_ms += t
        b.ks.now_ms = a.ks.now_ms
        assert counted(b, key) == brute(a, key) == counted(a, key)
    # the RDB round trip rebuilds the counters from the messages
    q = a.client.db.find(key.encode()).value
    loaded = QueueValue.load_state(q.dump_state(), q.rdb_encoding_version)
    for t in (0, 3_000, 10_000):
        now = a.ks.now_ms + t
        assert loaded.counts(now) == q.counts_by_walk(now) == q.counts(now)


def test_counts_do_not_walk_the_messages():
    q = QueueValue({"VisibilityTimeout": "30"})
    from services.queue.value import Message
    for i in range(20000):
        q.put(Message("m%d" % i, b"x", [], NOW, NOW + (5000 if i % 4 == 0 else 0), i + 1))
    for i in range(1, 20000, 4):
        q.lease("m%d" % i, "r%d" % i, NOW + 30_000, 1, NOW)
    assert q.counts(NOW) == {"visible": 10000, "inflight": 5000, "delayed": 5000}
    walked = []

    class Watch(dict):
        def values(self):
            walked.append(1)
            return super().values()
    watched = Watch(q.messages)
    q.messages = watched
    assert q.counts(NOW + 1000) == {"visible": 10000, "inflight": 5000, "delayed": 5000}
    assert q.counts(NOW + 6000) == {"visible": 15000, "inflight": 5000, "delayed": 0}
    assert q.counts(NOW + 31_000) == {"visible": 20000, "inflight": 0, "delayed": 0}
    # only the first message is looked at (is it past retention?), never all 20000
    assert len(walked) <= 3
    # the clock stepped back: the walk answers, and is right
    assert q.counts(NOW) == q.counts_by_walk(NOW)


def test_the_timeline_stays_bounded_when_nobody_asks_for_counts():
    from services.queue.value import Message
    q = QueueValue({"VisibilityTimeout": "30"})
    for i in range(100):
        q.put(Message("m%d" % i, b"x", [], NOW, NOW, i + 1))
    for rnd in range(200):                          # 20000 receives, no LEN in between
        for i in range(100):
            q.lease("m%d" % i, "r%d-%d" % (rnd, i), NOW + 30_000 + rnd, rnd + 1, NOW)
    assert len(q.timeline) <= 2 * 100 + 64 + 1
    assert q.counts(NOW + 1) == q.counts_by_walk(NOW + 1) == {"visible": 0, "inflight": 100, "delayed": 0}
