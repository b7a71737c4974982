"""Replication with real processes: Cachemere <-> Cachemere and Cachemere <-> redis-server 7.0."""
import os
import signal
import socket
import threading
import time

import pytest
import redis
from pymemcache.client.base import Client as Memcache

from tests.replication.helpers import (client, info_repl, wait_link_up, wait_caught_up, dataset, mixed_load,
                                       wait_equal)
from tests.support.servers import start_cachemere, start_redis, wait_for, free_port


@pytest.fixture
def procs():
    started = []

    def cm(*args, **kw):
        srv = start_cachemere(*args, **kw)
        started.append(srv)
        return srv

    def rd(*args, **kw):
        srv = start_redis("--repl-diskless-sync-delay", "0", *args, **kw)
        started.append(srv)
        return srv
    yield cm, rd
    for srv in reversed(started):
        if srv.proc.poll() is None:
            try:
                os.kill(srv.proc.pid, signal.SIGCONT)
            except OSError:
                pass
        srv.stop()


def replica_of(primary):
    return ("--replicaof", "127.0.0.1", str(primary.port))


# ---------------------------------------------------------------------------------------------- full sync
@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_cachemere_replica_full_sync_then_stream(procs, diskless):
    cm, _ = procs
    primary = cm("--repl-diskless-sync", diskless)
    mixed_load(primary, seed=1)
    replica = cm(*replica_of(primary))
    wait_link_up(replica)
    mixed_load(primary, seed=2)
    data = wait_equal(primary, replica)
    assert len(data) > 100
    assert info_repl(primary)["connected_slaves"] == 1
    assert client(primary).info("stats")["sync_full"] == 1
    assert "Full resync from master" in replica.log()


def test_redis_replicates_from_cachemere(procs):
    cm, rd = procs
    primary = cm()
    mixed_load(primary, seed=3)
    replica = rd(*replica_of(primary))
    wait_link_up(replica)
    mixed_load(primary, seed=4)
    data = wait_equal(primary, replica)
    assert {t for t, _, _ in data.values()} >= {"string", "list", "hash", "set", "zset", "stream"}
    # redis's own view of the link matches ours
    assert info_repl(replica)["master_replid"] == info_repl(primary)["master_replid"]
    wait_caught_up(primary, replica)


def test_cachemere_replicates_from_redis(procs):
    cm, rd = procs
    primary = rd()
    mixed_load(primary, seed=5)
    replica = cm(*replica_of(primary))
    wait_link_up(replica)
    mixed_load(primary, seed=6)
    wait_equal(primary, replica)
    wait_caught_up(primary, replica)


def test_chained_replica_gets_the_top_primarys_stream(procs):
    cm, rd = procs
    top = cm()
    middle = rd(*replica_of(top))
    leaf = cm(*replica_of(middle))
    wait_link_up(middle)
    wait_link_up(leaf)
    mixed_load(top, n=200, seed=8)
    wait_equal(top, leaf)
    # offsets and replid agree along the chain (the middle forwards the bytes verbatim)
    wait_caught_up(top, leaf)
    assert info_repl(leaf)["master_replid"] == info_repl(top)["master_replid"]


# ---------------------------------------------------------------------------------------------- replica rules
def test_replica_is_read_only_and_serves_reads(procs):
    cm, rd = procs
    primary = cm()
    client(primary).set("a", "1")
    ours = cm(*replica_of(primary))
    theirs = rd(*replica_of(primary))
    for rep in (ours, theirs):
        wait_link_up(rep)
        wait_for(lambda: client(rep).get("a") == b"1")
        with pytest.raises(redis.ReadOnlyError) as exc:
            client(rep).set("b", "2")
        assert str(exc.value) == "You can't write against a read only replica."
    # inside MULTI the write is refused at queue time and EXEC aborts, as redis does
    for rep in (ours, theirs):
        raw = socket.create_connection(("127.0.0.1", rep.port))
        raw.sendall(b"MULTI\r\nSET x 1\r\nEXEC\r\n")
        time.sleep(0.2)
        assert raw.recv(4096) == (b"+OK\r\n-READONLY You can't write against a read only replica.\r\n"
                                  b"-EXECABORT Transaction discarded because of previous errors.\r\n")
        raw.close()
    client(ours).config_set("replica-read-only", "no")
    assert client(ours).set("local", "1")


def test_replica_never_expires_on_its_own_and_gets_the_del(procs):
    cm, _ = procs
    primary = cm()
    replica = cm(*replica_of(primary))
    wait_link_up(replica)
    client(primary).set("t", "v", px=300)
    wait_for(lambda: client(replica).exists("t"))
    # active expiry on the primary deletes it; the replica learns it through the DEL in the stream
    wait_for(lambda: client(primary).dbsize() == 0, timeout=5)
    wait_for(lambda: client(replica).dbsize() == 0, timeout=5)


def test_memcached_writes_replicate(procs):
    cm, _ = procs
    primary = cm(memcached=True)
    replica = cm(*replica_of(primary), memcached=True)
    wait_link_up(replica)
    mc = Memcache(("127.0.0.1", primary.mc_port))
    mc.set("mk", b"hello", expire=100)
    mc.set("mk2", b"x")
    mc.append("mk2", b"yz")
    assert mc.add("ctr", b"5")
    mc.incr("ctr", 2)
    wait_for(lambda: client(replica).get("ctr") == b"7")
    assert client(replica).get("mk") == b"hello"
    assert client(replica).get("mk2") == b"xyz"
    assert client(replica).pttl("mk") > 0
    mcr = Memcache(("127.0.0.1", replica.mc_port))
    assert mcr.get("mk") == b"hello"


# ---------------------------------------------------------------------------------------------- resync
def test_partial_resync_after_link_cut_and_full_beyond_backlog(procs):
    cm, _ = procs
    primary = cm("--repl-backlog-size", "16kb")
    replica = cm(*replica_of(primary))
    wait_link_up(replica)
    p = client(primary)
    p.set("a", 1)
    wait_caught_up(primary, replica)
    # within the backlog: cut the link while the replica is stopped, write a little, resume
    os.kill(replica.proc.pid, signal.SIGSTOP)
    p.client_kill_filter(_type="replica")
    for i in range(50):
        p.incr("a")
    os.kill(replica.proc.pid, signal.SIGCONT)
    wait_for(lambda: p.info("stats")["sync_partial_ok"] == 1, timeout=10)
    wait_caught_up(primary, replica)
    assert client(replica).get("a") == b"51"
    assert p.info("stats")["sync_full"] == 1
    # beyond the backlog: a full resync
    os.kill(replica.proc.pid, signal.SIGSTOP)
    p.client_kill_filter(_type="replica")
    for i in range(100):
        p.set("big%d" % i, "x" * 1000)
    os.kill(replica.proc.pid, signal.SIGCONT)
    wait_for(lambda: p.info("stats")["sync_full"] == 2, timeout=10)
    wait_equal(primary, replica)
    assert p.info("stats")["sync_partial_err"] == 1


def test_redis_replica_partial_resync_from_cachemere(procs):
    cm, rd = procs
    primary = cm()
    replica = rd(*replica_of(primary))
    wait_link_up(replica)
    p = client(primary)
    p.set("a", 1)
    wait_caught_up(primary, replica)
    p.client_kill_filter(_type="replica")
    for i in range(20):
        p.incr("a")
    wait_for(lambda: p.info("stats")["sync_partial_ok"] == 1, timeout=10)
    wait_for(lambda: client(replica).get("a") == b"21")
    assert p.info("stats")["sync_full"] == 1


def test_promotion_keeps_history_psync2(procs):
    """REPLICAOF NO ONE shifts the replid into replid2; a sibling then continues partially from the new primary."""
    cm, rd = procs
    old = cm()
    a = cm(*replica_of(old))
    b = cm(*replica_of(old))
    wait_link_up(a)
    wait_link_up(b)
    mixed_load(old, n=100, seed=9, expiring=False)
    wait_caught_up(old, a)
    wait_caught_up(old, b)
    old_id = info_repl(old)["master_replid"]
    old.stop()
    assert client(a).replicaof("NO", "ONE")
    ia = info_repl(a)
    assert ia["role"] == "master" and ia["master_replid2"] == old_id
    assert ia["second_repl_offset"] == ia["master_repl_offset"] + 1
    client(b).replicaof("127.0.0.1", a.port)
    wait_link_up(b)
    assert client(a).info("stats")["sync_partial_ok"] == 1
    assert client(a).info("stats")["sync_full"] == 0
    client(a).set("after", "promotion")
    wait_equal(a, b)
    # a real redis replica can continue from the promoted Cachemere too
    r = rd(*replica_of(a))
    wait_link_up(r)
    wait_equal(a, r)


# ---------------------------------------------------------------------------------------------- faults
class FakePrimary:
    """Answers the replica handshake and sends a given full-sync payload, then closes; counts connections."""

    def __init__(self, payload_frame):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.frame = payload_frame
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + 30
        while not self.stop and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            self.connections += 1
            conn.settimeout(2)
            buf = b""
            try:
                while b"PSYNC" not in buf.upper():
                    data = conn.recv(4096)
                    if not data:
                        break
                    buf += data
                    # answer each command as it comes: +PONG then +OK for REPLCONF
                    while True:
                        if buf.upper().startswith(b"*1\r\n$4\r\nPING\r\n"):
                            conn.sendall(b"+PONG\r\n")
                            buf = buf[14:]
                        elif buf.upper().startswith(b"*3\r\n$8\r\nREPLCONF") or buf.upper().startswith(b"*5\r\n$8\r\nREPLCONF"):
                            n = int(buf[1:2])
                            parts = buf.split(b"\r\n")
                            consumed = sum(len(x) + 2 for x in parts[:1 + 2 * n])
                            if len(buf) < consumed:
                                break
                            conn.sendall(b"+OK\r\n")
                            buf = buf[consumed:]
                        else:
                            break
                conn.sendall(b"+FULLRESYNC " + b"a" * 40 + b" 0\r\n" + self.frame)
                time.sleep(0.2)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("kind", ["corrupt", "truncated"])
def test_bad_rdb_from_primary_keeps_old_dataset(procs, kind):
    cm, _ = procs
    source = cm()
    client(source).set("new", "data")
    good = client(source).dump("new")
    # a real RDB of the source, then damaged
    raw = socket.create_connection(("127.0.0.1", source.port))
    raw.sendall(b"SYNC\r\n")
    data = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        data += raw.recv(65536)
        if data.startswith(b"$") and b"\r\n" in data:
            n = int(data[1:data.index(b"\r\n")])
            if len(data) >= data.index(b"\r\n") + 2 + n:
                break
    raw.close()
    head = data.index(b"\r\n") + 2
    rdb = data[head:head + int(data[1:head - 2])]
    assert rdb.startswith(b"REDIS") and good
    if kind == "corrupt":
        bad = bytearray(rdb)
        bad[len(bad) // 2] ^= 0xFF
        frame = b"$%d\r\n" % len(bad) + bytes(bad)
    else:
        frame = b"$%d\r\n" % len(rdb) + rdb[: len(rdb) // 2]        # then the primary disappears
    fake = FakePrimary(frame)
    try:
        replica = cm()
        r = client(replica)
        r.set("old", "kept")
        r.replicaof("127.0.0.1", fake.port)
        wait_for(lambda: fake.connections >= 2, timeout=10)      # it reconnects after the failure
        assert r.get("old") == b"kept"
        assert r.get("new") is None
        assert info_repl(replica)["master_link_status"] == "down"
        log = replica.log()
        if kind == "corrupt":
            assert log.count("Failed trying to load the MASTER synchronization DB") >= 1
        else:
            assert "Connection with master lost." in log
    finally:
        fake.close()


def test_wrong_masterauth(procs):
    cm, rd = procs
    primary = cm("--requirepass", "secret")
    ours = cm(*replica_of(primary), "--masterauth", "wrong")
    theirs = rd(*replica_of(primary), "--masterauth", "wrong")
    time.sleep(2)
    for rep in (ours, theirs):
        assert info_repl(rep)["master_link_status"] == "down"
    assert "Unable to AUTH to MASTER: -WRONGPASS" in ours.log()
    assert "Unable to AUTH to MASTER: -WRONGPASS" in theirs.log()
    assert redis.Redis(port=primary.port, password="secret").info("replication")["connected_slaves"] == 0
    fixed = cm(*replica_of(primary), "--masterauth", "secret")
    wait_link_up(fixed)


# ---------------------------------------------------------------------------------------------- shutdown
def test_shutdown_waits_for_lagging_replica(procs):
    cm, _ = procs
    primary = cm("--shutdown-timeout", "5")
    replica = cm(*replica_of(primary))
    wait_link_up(replica)
    wait_caught_up(primary, replica)
    os.kill(replica.proc.pid, signal.SIGSTOP)
    client(primary).set("last", "write")
    primary.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert primary.proc.poll() is None                   # still waiting for the replica
    os.kill(replica.proc.pid, signal.SIGCONT)
    primary.proc.wait(5)
    assert client(replica).get("last") == b"write"
    log = primary.log()
    assert "Waiting for replicas before shutting down." in log
    assert "1 of 1 replicas are in sync when shutting down." in log


def test_shutdown_gives_up_after_shutdown_timeout(procs):
    cm, _ = procs
    primary = cm("--shutdown-timeout", "1")
    replica = cm(*replica_of(primary))
    wait_link_up(replica)
    wait_caught_up(primary, replica)
    os.kill(replica.proc.pid, signal.SIGSTOP)
    client(primary).set("last", "write")
    started = time.monotonic()
    primary.proc.send_signal(signal.SIGTERM)
    primary.proc.wait(5)
    assert 0.9 <= time.monotonic() - started < 3
    os.kill(replica.proc.pid, signal.SIGCONT)
    log = primary.log()
    assert "Lagging replica" in log and "0 of 1 replicas are in sync when shutting down." in log


def test_replica_does_not_evict_by_itself(procs):
    cm, _ = procs
    primary = cm()
    replica = cm(*replica_of(primary), "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random")
    wait_link_up(replica)
    p = client(primary).pipeline(transaction=False)
    for i in range(3000):
        p.set("k%d" % i, "x" * 1000)
    p.execute()
    wait_caught_up(primary, replica)
    for i in range(50):
        client(replica).get("k%d" % i)          # reads over maxmemory: no eviction on a replica
    assert client(replica).dbsize() == 3000
    assert client(replica).info("stats")["evicted_keys"] == 0


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_writes_during_a_large_full_sync_arrive_and_the_primary_keeps_serving(procs, diskless):
    import subprocess
    cm, _ = procs
    primary = cm("--repl-diskless-sync", diskless)
    n = 200000
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$16\r\n%s\r\n" % (len(b"key:%d" % i), i, b"v" * 16)
                    for i in range(n))
    subprocess.run(["redis-cli", "-p", str(primary.port), "--pipe"], input=data, check=True,
                   stdout=subprocess.DEVNULL, timeout=120)
    p = client(primary)
    replica = cm(*replica_of(primary))
    worst = 0.0
    i = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        p.incr("during")
        worst = max(worst, time.monotonic() - t0)
        i += 1
        if info_repl(replica).get("master_link_status") == "up" and i > 50:
            break
    for _ in range(20):
        p.incr("during")
        i += 1
    wait_for(lambda: client(replica).get("during") == str(i).encode(), timeout=20)
    assert client(replica).dbsize() == n + 1
    assert "Background RDB transfer started by pid" in primary.log()
    assert worst < 0.5, worst
