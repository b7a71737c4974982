"""A restarted replica, and a restarted primary, continue with a partial resync: the RDB saved at shutdown carries
repl-stream-db / repl-id / repl-offset (redis rdbSaveInfoAuxFields), and startup uses them (a replica as its cached
master, a primary as its secondary id). Cachemere with Cachemere, and with a real redis-server 7.0.15 on either
side."""
import time

import pytest
import redis

from tests.replication.helpers import client, wait_link_up, wait_caught_up, wait_equal, dataset
from tests.support.servers import ServerProcess, start_cachemere, start_redis, wait_for


@pytest.fixture
def nodes():
    started = []

    def run(kind, *args):
        if kind == "cachemere":
            srv = start_cachemere(*args)
        else:
            srv = start_redis("--repl-diskless-sync-delay", "0", *args)
        started.append(srv)
        return srv

    def restart(srv):
        again = ServerProcess(srv.argv, srv.port, srv.dir, srv.log_path)
        started.append(again)
        return again
    yield run, restart
    for srv in started:
        if srv.proc.poll() is None:
            srv.stop()


def stats(srv):
    info = client(srv).info("stats")
    return info["sync_full"], info["sync_partial_ok"]


def shutdown(srv):
    try:
        client(srv).shutdown()
    except redis.ConnectionError:
        pass
    srv.proc.wait(15)
    srv.stop()


def load(srv, prefix, n=50):
    r = client(srv)
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set("%s:%d" % (prefix, i), i)
        p.hset("%s:h" % prefix, i, i)
    p.execute()
    client(srv, db=2).set("%s:db2" % prefix, 1)     # the stream's selected db is not 0 at shutdown


# the mixed pairs (~5 s each) run in `make drill`; make test keeps the Cachemere pair
@pytest.mark.parametrize("primary_kind,replica_kind", [("cachemere", "cachemere"),
                                                       pytest.param("redis", "cachemere", marks=pytest.mark.drill),
                                                       pytest.param("cachemere", "redis", marks=pytest.mark.drill)])
def test_a_restarted_replica_continues_partially(nodes, primary_kind, replica_kind):
    run, restart = nodes
    primary = run(primary_kind)
    load(primary, "a")
    replica = run(replica_kind, "--save", "3600 1", "--replicaof", "127.0.0.1", primary.port)
    wait_link_up(replica)
    wait_caught_up(primary, replica)
    before = stats(primary)
    shutdown(replica)                          # SHUTDOWN saves (a save point is set)
    load(primary, "b")                         # writes while it is down: in the primary's backlog
    replica = restart(replica)
    wait_link_up(replica)
    wait_caught_up(primary, replica)
    after = stats(primary)
    assert after[0] == before[0], "a full resync happened: %r -> %r" % (before, after)
    assert after[1] == before[1] + 1
    wait_equal(primary, replica)
    assert dataset(replica) == dataset(primary)
    if replica_kind == "cachemere":
        assert "Successful partial resynchronization with master." in replica.log()
        # writes after the continuation land in the right db (repl-stream-db restored)
        client(primary, db=2).set("c", "3")
        wait_for(lambda: client(replica, db=2).get("c") == b"3", timeout=10)


@pytest.mark.drill      # make drill (make test at its 12-minute budget)
@pytest.mark.parametrize("replica_kind", ["cachemere", pytest.param("redis", marks=pytest.mark.drill)])
def test_a_restarted_primary_lets_its_replicas_continue(nodes, replica_kind):
    run, restart = nodes
    primary = run("cachemere", "--save", "3600 1", "--shutdown-timeout", "5")
    load(primary, "a")
    replica = run(replica_kind, "--replicaof", "127.0.0.1", primary.port)
    wait_link_up(replica)
    wait_caught_up(primary, replica)
    client(primary).set("vol", "1", px=700)           # expires while the primary is down
    wait_for(lambda: client(replica).exists("vol") or client(replica).dbsize() > 100, timeout=10)
    wait_caught_up(primary, replica)
    old_replid = client(primary).info("replication")["master_replid"]
    shutdown(primary)
    time.sleep(0.8)
    primary = restart(primary)
    info = client(primary).info("replication")
    assert info["master_replid2"] == old_replid          # the old history, as the secondary id
    wait_link_up(replica, timeout=20)
    wait_caught_up(primary, replica)
    assert stats(primary) == (0, 1)                     # the replica continued: no full sync on the new primary
    # the key found expired by the load reached the replica as a DEL (redis RDBFLAGS_FEED_REPL)
    wait_for(lambda: client(replica).dbsize() == client(primary).dbsize(), timeout=10)
    load(primary, "b")
    wait_equal(primary, replica)
    assert dataset(replica) == dataset(primary)


def rdb_aux(path):
    """The aux fields of an RDB file, in order (string-encoded values only: enough for these fields)."""
    data = open(path, "rb").read()
    names = []
    pos = 9
    while data[pos] == 0xFA:
        pos += 1
        fields = []
        for _ in range(2):
            first = data[pos]
            kind = first >> 6
            if kind == 0:
                n, pos = first & 0x3F, pos + 1
                fields.append(data[pos:pos + n])
                pos += n
            elif kind == 1:
                n, pos = ((first & 0x3F) << 8) | data[pos + 1], pos + 2
                fields.append(data[pos:pos + n])
                pos += n
            else:                       # integer encodings: 0xC0 int8, 0xC1 int16, 0xC2 int32
                size = {0xC0: 1, 0xC1: 2, 0xC2: 4}[first]
                fields.append(int.from_bytes(data[pos + 1:pos + 1 + size], "little", signed=True))
                pos += 1 + size
        names.append(fields[0])
    return names


@pytest.mark.parametrize("role", ["primary", "replica"])
def test_saved_rdb_has_the_replication_aux_fields_as_redis(nodes, role):
    run, _ = nodes
    names = {}
    for kind in ("cachemere", "redis"):
        primary = run(kind)
        replica = run(kind, "--replicaof", "127.0.0.1", primary.port)
        wait_link_up(replica)
        client(primary).set("k", "v")
        wait_caught_up(primary, replica)
        srv = primary if role == "primary" else replica
        client(srv).save()
        names[kind] = rdb_aux(srv.dir + "/dump.rdb")
    assert names["cachemere"] == names["redis"]
    assert b"repl-id" in names["redis"]
