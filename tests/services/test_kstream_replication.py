"""kstream keys over Redis-protocol replication (Cachemere -> Cachemere): full sync carries the module
values, the stream carries only the explicit effects, replicas never trim or read the clock for writes."""
import threading
import time

import pytest
import redis

from tests.replication.helpers import wait_caught_up, wait_link_up
from tests.services.test_kstream_persistence import S0, build, state
from tests.support.servers import start_cachemere


@pytest.fixture
def pair():
    primary = start_cachemere()
    started = [primary]
    try:
        r = redis.Redis(port=primary.port)
        r.execute_command("STREAM.CREATE", "before-sync", "SHARDS", 2)
        r.execute_command("STREAM.PUT", "before-sync", "k", "in the RDB")
        replica = start_cachemere("--replicaof", "127.0.0.1", str(primary.port))
        started.append(replica)
        wait_link_up(replica)
        yield primary, replica
    finally:
        for srv in reversed(started):
            srv.stop()


def test_replica_follows_streams_and_blocked_readers_wake(pair):
    primary, replica = pair
    p, rr = redis.Redis(port=primary.port), redis.Redis(port=replica.port)
    build(p)
    wait_caught_up(primary, replica)
    assert state(rr) == state(p)
    assert [x[3] for x in rr.execute_command("STREAM.READ", "before-sync", S0, "TRIM_HORIZON")] + \
        [x[3] for x in rr.execute_command("STREAM.READ", "before-sync", "shardId-000000000001", "TRIM_HORIZON")] == \
        [b"in the RDB"]
    # an iterator from the primary reads on the replica (the secret is replicated)
    it = p.execute_command("STREAM.ITERATOR", "ks", S0, "TRIM_HORIZON")
    assert rr.execute_command("STREAM.GET", "ks", it)[b"Records"] == p.execute_command("STREAM.GET", "ks", it)[b"Records"]
    # writes and effect commands are refused on the replica
    with pytest.raises(redis.ResponseError, match="read only replica"):
        rr.execute_command("STREAM.PUT", "ks", "k", "v")
    with pytest.raises(redis.ResponseError):
        rr.execute_command("STREAM._PUT", "ks", S0, "1", "1", "k", "v")
    # a reader blocked on the replica is woken by the replicated _PUT
    out = {}

    def reader():
        cl = redis.Redis(port=replica.port)
        out["reply"] = cl.execute_command("STREAM.READ", "ks", "shardId-000000000009", "LATEST", "BLOCK", 5000)
        cl.close()
    open_ids = [sh[b"ShardId"] for sh in p.execute_command("STREAM.SHARDS", "ks", "FILTER", "AT_LATEST")]
    assert b"shardId-000000000009" in open_ids
    th = threading.Thread(target=reader)
    th.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and rr.info("clients")["blocked_clients"] != 1:
        time.sleep(0.01)
    sh9 = next(sh for sh in p.execute_command("STREAM.DESCRIBE", "ks")[b"Shards"] if sh[b"ShardId"] == b"shardId-000000000009")
    p.execute_command("STREAM.PUT", "ks", "k", "to the replica", "HASHKEY", sh9[b"HashKeyRange"][b"StartingHashKey"])
    th.join(5)
    assert [x[3] for x in out["reply"]] == [b"to the replica"]


def test_only_the_primary_trims_and_a_promoted_replica_continues(pair):
    primary, replica = pair
    p, rr = redis.Redis(port=primary.port), redis.Redis(port=replica.port)
    p.execute_command("STREAM.CREATE", "short", "SHARDS", 1, "RETENTIONMS", 300)
    p.execute_command("STREAM.PUT", "short", "k", "old")
    wait_caught_up(primary, replica)
    time.sleep(0.35)
    # the replica hides the expired record but never trims it itself
    assert rr.execute_command("STREAM.READ", "short", S0, "TRIM_HORIZON") == []
    with pytest.raises(redis.ResponseError, match="read only replica"):
        rr.execute_command("STREAM.TRIM", "short")
    # the primary's trim arrives as STREAM._TRIM: raising the retention shows nothing came back
    assert p.execute_command("STREAM.TRIM", "short") in (0, 1)     # 0 when the primary's timer was first
    p.execute_command("STREAM.RETENTION", "short", 24)
    wait_caught_up(primary, replica)
    assert rr.execute_command("STREAM.READ", "short", S0, "TRIM_HORIZON") == []
    _, last = p.execute_command("STREAM.PUT", "short", "k", "kept")
    wait_caught_up(primary, replica)
    before = state_short(rr)
    assert before == state_short(p)
    # failover: the promoted replica serves the same records and keeps numbering upward
    primary.stop()
    rr.execute_command("REPLICAOF", "NO", "ONE")
    assert state_short(rr) == before
    _, seq = rr.execute_command("STREAM.PUT", "short", "k", "after failover")
    assert int(seq) > int(last)
    assert [x[3] for x in rr.execute_command("STREAM.READ", "short", S0, "TRIM_HORIZON")] == [b"kept", b"after failover"]


def state_short(r):
    return (r.execute_command("STREAM.DESCRIBE", "short")[b"Shards"],
            r.execute_command("STREAM.READ", "short", S0, "TRIM_HORIZON"))
