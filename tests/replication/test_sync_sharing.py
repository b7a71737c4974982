"""Full syncs shared by several replicas (repl-diskless-sync-delay / repl-diskless-sync-max-replicas, a disk-target
fork joined by a replica arriving during it) and the place of PUBLISH in the replication stream, each checked the
same way against a real redis-server 7.0.15 next to Cachemere."""
import os
import time

import pytest
import redis

from tests.replication.helpers import FakeReplica
from tests.support.servers import start_cachemere, start_redis


@pytest.fixture
def server():
    started = []

    def run(kind, *args):
        srv = start_cachemere(*args) if kind == "cachemere" else start_redis("--repl-diskless-sync-delay", "0", *args)
        started.append(srv)
        return srv
    yield run
    for srv in started:
        srv.stop()


def forks(srv):
    return srv.log().count("Starting BGSAVE for SYNC with target")


KINDS = ["cachemere", "redis"]


@pytest.mark.parametrize("kind", KINDS)
def test_diskless_delay_serves_all_waiting_replicas_with_one_fork(server, kind):
    srv = server(kind, "--repl-diskless-sync-delay", "1", "--repl-diskless-sync-max-replicas", "0")
    redis.Redis(port=srv.port).set("k", "v")
    started = time.monotonic()
    a = FakeReplica(srv.port, wait=False)
    b = FakeReplica(srv.port, wait=False)
    a.sync()
    b.sync()
    waited = min(a.head_time, b.head_time) - started
    assert a.head == b.head and a.head.startswith(b"+FULLRESYNC")
    assert a.rdb == b.rdb and b"k" in a.rdb
    assert forks(srv) == 1
    assert "Delay next BGSAVE for diskless SYNC" in srv.log()
    assert 0.8 < waited < 4.5, waited          # the delay is 1 s (redis counts whole seconds of idle time)
    a.close()
    b.close()


@pytest.mark.parametrize("kind", KINDS)
def test_diskless_max_replicas_starts_the_fork_before_the_delay(server, kind):
    srv = server(kind, "--repl-diskless-sync-delay", "30", "--repl-diskless-sync-max-replicas", "2")
    started = time.monotonic()
    a = FakeReplica(srv.port, wait=False)
    b = FakeReplica(srv.port, wait=False)
    a.sync()
    b.sync()
    assert a.head == b.head
    assert b.head_time - started < 10
    assert forks(srv) == 1
    # with one replica only, the delay holds it back (nothing within a second)
    c = FakeReplica(srv.port, wait=False)
    c.sock.settimeout(1.0)
    with pytest.raises(OSError):
        c.sync()
    c.close()
    a.close()
    b.close()


@pytest.mark.parametrize("kind", KINDS)
def test_replica_arriving_during_a_socket_transfer_waits_for_the_next_fork(server, kind):
    # 10 keys x 0.1 s (rdb-key-save-delay): the first transfer takes about a second
    srv = server(kind, "--repl-diskless-sync-delay", "0", "--rdb-key-save-delay", "100000")
    r = redis.Redis(port=srv.port)
    for i in range(10):
        r.set("k%d" % i, i)
    a = FakeReplica(srv.port, wait=False)
    time.sleep(0.3)
    r.set("during", "1")
    b = FakeReplica(srv.port, wait=False)
    a.sync()
    b.sync()
    assert "Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC" in srv.log()
    assert forks(srv) == 2
    assert b.head_time >= a.head_time
    assert b.full_offset > a.full_offset       # its snapshot was taken later: it holds `during`
    assert b"during" in b.rdb and b"during" not in a.rdb
    a.close()
    b.close()


@pytest.mark.parametrize("kind", KINDS)
def test_replica_arriving_during_a_disk_bgsave_joins_it(server, kind):
    srv = server(kind, "--repl-diskless-sync", "no", "--rdb-key-save-delay", "100000")
    r = redis.Redis(port=srv.port)
    for i in range(10):
        r.set("k%d" % i, i)
    a = FakeReplica(srv.port, wait=False)
    time.sleep(0.3)
    r.set("during", "1")
    b = FakeReplica(srv.port, wait=False)
    a.sync()
    b.sync()
    assert "Waiting for end of BGSAVE for SYNC" in srv.log()
    assert forks(srv) == 1
    assert a.head == b.head                     # same snapshot, same offset
    assert a.rdb == b.rdb
    # the write made during the fork reaches both through the stream gathered since the snapshot
    for x in (a, b):
        cmds = x.commands(settle=0.5)
        assert [b"SET", b"during", b"1"] in [[p.upper() if i == 0 else p for i, p in enumerate(c)] for c in cmds]
    a.close()
    b.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_slow_sync_keeps_the_replica_alive_with_newlines(server, kind):
    srv = server(kind, "--repl-diskless-sync-delay", "2")
    a = FakeReplica(srv.port)
    assert a.head.startswith(b"+FULLRESYNC")
    assert a.newlines >= 1          # redis replicationCron writes "\n" to replicas waiting for the fork


def _stream_of(srv, load):
    fr = FakeReplica(srv.port)
    fr.commands(settle=0.2)
    load(srv)
    out = fr.read(settle=0.4)
    fr.close()
    return out


def _publish_load(srv):
    r = redis.Redis(port=srv.port)
    p = r.pipeline(transaction=True)
    p.publish("a", "1")
    p.publish("b", "2")
    p.execute()
    p = r.pipeline(transaction=True)
    p.set("k", "v")
    p.publish("c", "3")
    p.execute()
    p = r.pipeline(transaction=True)
    p.publish("c1", "3")
    p.get("k")
    p.execute()
    r3 = redis.Redis(port=srv.port, db=3)
    r3.publish("d", "4")
    r3.eval("redis.call('publish','e','5'); redis.call('set','x','1'); redis.call('publish','e','6')", 0)
    r3.eval("redis.call('publish','e','7')", 0)
    r3.spublish("s", "8")
    p = r3.pipeline(transaction=True)
    p.execute_command("SELECT", "5")
    p.set("y", "1")
    p.execute_command("SELECT", "6")
    p.publish("f", "6")
    p.execute()
    r.set("after", "1")


def test_publish_in_multi_and_scripts_is_propagated_where_redis_puts_it(server):
    """The bytes a replica link receives, compared with redis-server's: PUBLISH inside the MULTI/EXEC (or the
    script's MULTI/EXEC) in execution order, a lone PUBLISH unwrapped, SELECT where redis inserts it."""
    ours = _stream_of(server("cachemere"), _publish_load)
    theirs = _stream_of(server("redis"), _publish_load)
    assert b"PUBLISH" in theirs
    assert ours == theirs


def _aof_bytes(srv):
    d = os.path.join(srv.dir, "appendonlydir")
    incr = [f for f in os.listdir(d) if f.endswith(".incr.aof")]
    with open(os.path.join(d, sorted(incr)[-1]), "rb") as f:
        return f.read()


def test_publish_is_not_in_the_aof_and_the_aof_transaction_wraps_only_its_writes(server):
    """redis 7.0 PROPAGATE_REPL: the AOF never gets PUBLISH, but with a replication stream a PUBLISH counts in its
    unit, so the AOF gets MULTI ... EXEC around the rest (even an empty MULTI EXEC for a transaction of two
    PUBLISHes, and a SELECT before EXEC when the last PUBLISH was in another db). Compared with redis-server's AOF,
    with a replica attached (both streams at once); the file loads back."""
    out = {}
    dirs = {}
    for kind in KINDS:
        srv = server(kind, "--appendonly", "yes", "--appendfsync", "always")
        fr = FakeReplica(srv.port)
        fr.commands(settle=0.2)
        before = len(_aof_bytes(srv))
        _publish_load(srv)
        r = redis.Redis(port=srv.port)
        p = r.pipeline(transaction=True)
        p.set("a", "1")
        p.publish("z", "1")
        p.set("b", "2")
        p.execute()
        time.sleep(0.3)
        out[kind] = _aof_bytes(srv)[before:]
        dirs[kind] = srv.dir
        fr.close()
        srv.stop()
    assert b"PUBLISH" not in out["redis"].upper()
    again = server("cachemere", "--appendonly", "yes", "--dir", dirs["cachemere"])
    r = redis.Redis(port=again.port)
    assert (r.get("k"), r.get("a"), r.get("b"), r.get("after")) == (b"v", b"1", b"2", b"1")
    assert redis.Redis(port=again.port, db=3).get("x") == b"1"
    assert redis.Redis(port=again.port, db=5).get("y") == b"1"
    assert out["cachemere"] == out["redis"], (out["cachemere"].replace(b"\r\n", b" "), out["redis"].replace(b"\r\n", b" "))
