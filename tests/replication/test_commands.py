"""REPLICAOF/ROLE/INFO/WAIT/FAILOVER and the write gates, compared with redis-server where redis defines them."""
import socket
import time

import pytest
import redis

from tests.replication.helpers import client, info_repl, wait_link_up, wait_caught_up, wait_equal
from tests.replication.test_replication import procs, replica_of  # noqa: F401  (fixture)
from tests.support.servers import wait_for
from tools.resp3_client import RespConnection


def field_names(srv):
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.sendall(b"INFO replication\r\n")
    data = b""
    while not data.endswith(b"\r\n\r\n") and (not data or len(data) < int(data[1:data.index(b"\r\n")]) + 5):
        data += sock.recv(65536)
    sock.close()
    text = data.split(b"\r\n", 1)[1].decode()
    return [line.split(":", 1)[0] for line in text.splitlines() if line and not line.startswith("#")]


def normalise(names):
    return ["slaveN" if n.startswith("slave") and n[5:].isdigit() else n for n in names]


def test_info_replication_fields_like_redis_in_both_roles(procs):
    cm, rd = procs
    ours_p, theirs_p = cm(), rd()
    assert field_names(ours_p) == field_names(theirs_p)
    ours_r = cm(*replica_of(ours_p), "--replica-priority", "7", "--replica-announced", "no")
    theirs_r = rd(*replica_of(theirs_p), "--replica-priority", "7", "--replica-announced", "no")
    wait_link_up(ours_r)
    wait_link_up(theirs_r)
    wait_for(lambda: info_repl(ours_p)["connected_slaves"] == 1 and info_repl(theirs_p)["connected_slaves"] == 1)
    assert normalise(field_names(ours_p)) == normalise(field_names(theirs_p))
    assert field_names(ours_r) == field_names(theirs_r)
    for rep in (ours_r, theirs_r):
        i = info_repl(rep)
        assert (i["slave_priority"], i["replica_announced"], i["slave_read_only"]) == (7, 0, 1)
    slave0 = info_repl(ours_p)["slave0"]
    assert slave0["ip"] == "127.0.0.1" and slave0["port"] == ours_r.port and slave0["state"] == "online"
    assert len(info_repl(ours_p)["master_replid"]) == 40
    # link down: the same fields as redis again
    ours_p.stop()
    theirs_p.stop()
    wait_for(lambda: info_repl(ours_r)["master_link_status"] == "down")
    wait_for(lambda: info_repl(theirs_r)["master_link_status"] == "down")
    assert field_names(ours_r) == field_names(theirs_r)
    assert client(ours_r).execute_command("ROLE")[:3] == [b"slave", b"127.0.0.1", ours_p.port]


def test_min_replicas_info_field_and_noreplicas(procs):
    cm, rd = procs
    for srv in (cm("--min-replicas-to-write", "1"), rd("--min-replicas-to-write", "1")):
        raw = socket.create_connection(("127.0.0.1", srv.port))
        raw.sendall(b"SET a 1\r\nGET a\r\n")
        time.sleep(0.2)
        assert raw.recv(4096) == b"-NOREPLICAS Not enough good replicas to write.\r\n$-1\r\n"
        raw.close()
        assert "min_slaves_good_slaves" in field_names(srv)
    primary = cm("--min-replicas-to-write", "1")
    replica = cm(*replica_of(primary))
    wait_link_up(replica)
    wait_for(lambda: info_repl(primary)["min_slaves_good_slaves"] == 1)
    assert client(primary).set("a", "1")


def test_role_like_redis(procs):
    cm, rd = procs
    for primary in (cm(), rd()):
        replica = cm(*replica_of(primary))
        wait_link_up(replica)
        client(primary).set("x", "y")
        wait_caught_up(primary, replica)
        role = client(primary).execute_command("ROLE")
        wait_for(lambda: client(primary).execute_command("ROLE")[2] and
                 int(client(primary).execute_command("ROLE")[2][0][2]) == client(primary).execute_command("ROLE")[1])
        role = client(primary).execute_command("ROLE")
        assert role[0] == b"master" and role[2][0][:2] == [b"127.0.0.1", str(replica.port).encode()]
        r = client(replica).execute_command("ROLE")
        assert r[:4] == [b"slave", b"127.0.0.1", primary.port, b"connected"]
        assert r[4] == info_repl(primary)["master_repl_offset"]


def test_wait(procs):
    cm, rd = procs
    primary = cm()
    p = client(primary)
    assert p.execute_command("WAIT", 0, 0) == 0
    assert p.execute_command("WAIT", 1, 100) == 0            # no replica: times out (immediately)
    replica = cm(*replica_of(primary))
    wait_link_up(replica)
    p.set("a", 1)
    started = time.monotonic()
    assert p.execute_command("WAIT", 1, 2000) == 1
    assert time.monotonic() - started < 1.0                  # answered by the GETACK, not the timeout
    started = time.monotonic()
    assert p.execute_command("WAIT", 2, 300) == 1
    assert time.monotonic() - started >= 0.25
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        p.execute_command("WAIT", 1, -1)
    with pytest.raises(redis.ResponseError, match="WAIT cannot be used with replica instances"):
        client(replica).execute_command("WAIT", 1, 10)
    # pipelined commands after a blocked WAIT still run, in order
    raw = socket.create_connection(("127.0.0.1", primary.port))
    raw.sendall(b"SET b 1\r\nWAIT 1 2000\r\nGET b\r\n")
    time.sleep(0.5)
    assert raw.recv(4096) == b"+OK\r\n:1\r\n$1\r\n1\r\n"
    raw.close()


def test_max_replicas(procs):
    cm, rd = procs
    primary = cm("--max-replicas", "1")
    first = cm(*replica_of(primary))
    wait_link_up(first)
    second = rd(*replica_of(primary))
    wait_for(lambda: "max-replicas" in second.log(), timeout=10)
    assert info_repl(second)["master_link_status"] == "down"
    assert "ERR max number of replicas reached (max-replicas 1)" in second.log()
    assert "refused: max-replicas 1 reached" in primary.log()
    assert info_repl(primary)["connected_slaves"] == 1
    assert info_repl(first)["master_link_status"] == "up"


def test_replicaof_errors_like_redis(procs):
    cm, rd = procs
    ours, theirs = cm(), rd()
    for srv in (ours, theirs):
        c = client(srv)
        with pytest.raises(redis.ResponseError) as exc:
            c.execute_command("REPLICAOF", "127.0.0.1", "notaport")
        assert str(exc.value) == "Invalid master port"
        with pytest.raises(redis.ResponseError) as exc:
            c.execute_command("REPLICAOF", "127.0.0.1")
        assert "wrong number of arguments" in str(exc.value)
        assert c.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        # to itself: accepted as redis does, the link never comes up (a replica cannot serve SYNC)
        assert c.execute_command("REPLICAOF", "127.0.0.1", srv.port) == b"OK"
        assert c.execute_command("REPLICAOF", "127.0.0.1", srv.port) == b"OK Already connected to specified master"
    time.sleep(1.5)
    for srv in (ours, theirs):
        assert info_repl(srv)["master_link_status"] == "down"
        assert client(srv).execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        assert info_repl(srv)["role"] == "master"
    assert "NOMASTERLINK" in ours.log() and "NOMASTERLINK" in theirs.log()


def test_failover_errors_like_redis(procs):
    cm, rd = procs
    cases = [(), ("ABORT",), ("FORCE",), ("TIMEOUT", "0"), ("TIMEOUT", "x"), ("BOGUS",), ("ABORT", "FORCE"),
             ("TO", "127.0.0.1", "1", "FORCE"), ("TO", "127.0.0.1", "1", "TIMEOUT", "10", "FORCE")]

    def errors(srv, cases=cases):
        out = []
        for args in cases:
            try:
                out.append(client(srv).execute_command("FAILOVER", *args))
            except redis.ResponseError as exc:
                out.append(str(exc))
        return out
    ours, theirs = cm(), rd()
    assert errors(ours) == errors(theirs)
    # with a replica attached, the target checks
    r1, r2 = cm(*replica_of(ours)), rd(*replica_of(theirs))
    wait_link_up(r1)
    wait_link_up(r2)
    targets = [c for c in cases if c[:1] == ("TO",)]
    assert errors(ours, targets) == errors(theirs, targets)
    assert "FAILOVER target HOST and PORT is not a replica." in errors(ours, targets)


@pytest.mark.parametrize("to", [False, True])
def test_failover_switches_roles_without_losing_writes(procs, to):
    cm, _ = procs
    a = cm()
    b = cm(*replica_of(a))
    wait_link_up(b)
    for i in range(200):
        client(a).incr("n")
    args = ("TO", "127.0.0.1", b.port) if to else ()
    assert client(a).execute_command("FAILOVER", *args) == b"OK"
    wait_for(lambda: info_repl(b)["role"] == "master", timeout=10)
    wait_for(lambda: info_repl(a)["role"] == "slave" and info_repl(a)["master_link_status"] == "up", timeout=10)
    assert info_repl(a)["master_failover_state"] == "no-failover"
    assert client(b).get("n") == b"200"
    assert client(b).info("stats")["sync_partial_ok"] == 1
    client(b).incr("n")
    wait_equal(b, a)
    with pytest.raises(redis.ReadOnlyError):
        client(a).set("n", 0)


def test_command_docs_like_redis(procs):
    cm, rd = procs
    ours, theirs = RespConnection(port=cm().port), RespConnection(port=rd().port)
    for name in ("replconf", "psync", "sync", "replicaof", "slaveof", "wait", "failover"):
        for sub in ("INFO", "DOCS"):
            assert ours.call_raw("COMMAND", sub, name) == theirs.call_raw("COMMAND", sub, name), (sub, name)


def test_config_rewrite_keeps_the_role(procs, tmp_path):
    cm, _ = procs
    primary = cm()
    conf = tmp_path / "replica.conf"
    conf.write_text("replica-priority 50\n")
    replica = cm(config_file=str(conf))
    assert client(replica).replicaof("127.0.0.1", primary.port)
    wait_link_up(replica)
    client(replica).config_rewrite()
    assert "replicaof 127.0.0.1 %d" % primary.port in conf.read_text()
    assert client(replica).config_get("replicaof") == {"replicaof": "127.0.0.1 %d" % primary.port}
    client(replica).replicaof("NO", "ONE")
    client(replica).config_rewrite()
    assert "replicaof" not in conf.read_text()


def test_replica_serve_stale_data_no_like_redis(procs):
    cm, rd = procs
    ours = cm("--replicaof", "127.0.0.1", "1", "--replica-serve-stale-data", "no")
    theirs = rd("--replicaof", "127.0.0.1", "1", "--replica-serve-stale-data", "no")
    for srv in (ours, theirs):
        raw = socket.create_connection(("127.0.0.1", srv.port))
        raw.sendall(b"GET a\r\nPING\r\nSET a 1\r\n")
        time.sleep(0.3)
        got = raw.recv(4096)
        raw.close()
        down = b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
        assert got == down + down + b"-READONLY You can't write against a read only replica.\r\n", got
        assert info_repl(srv)["master_link_down_since_seconds"] == -1
        assert client(srv).execute_command("ROLE") == [b"slave", b"127.0.0.1", 1, b"connect", -1]


@pytest.mark.drill
def test_sixth_replica_refused_by_default(procs):
    cm, rd = procs
    primary = cm()
    five = [cm(*replica_of(primary)) for _ in range(5)]
    for r in five:
        wait_link_up(r)
    sixth = rd(*replica_of(primary))
    wait_for(lambda: "max number of replicas reached (max-replicas 5)" in sixth.log(), timeout=10)
    assert info_repl(primary)["connected_slaves"] == 5
    assert "refused: max-replicas 5 reached" in primary.log()
    assert all(info_repl(r)["master_link_status"] == "up" for r in five)


def test_info_memory_counts_the_backlog(procs):
    cm, _ = procs
    primary = cm()
    assert client(primary).info("memory")["mem_replication_backlog"] == 0
    replica = cm(*replica_of(primary))
    wait_link_up(replica)
    client(primary).set("k", "x" * 5000)
    wait_for(lambda: client(primary).info("memory")["mem_replication_backlog"] >= 5000)
