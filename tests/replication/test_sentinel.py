"""Stock redis-sentinel (Debian package, unchanged) monitoring and failing over a Cachemere group.

First what Sentinel sends to the nodes, byte for byte against a real redis-server (ROLE, INFO fields, the
MULTI/REPLICAOF/CONFIG REWRITE/CLIENT KILL transaction, SCRIPT KILL), then the failovers with real processes.
The long drills (five replicas, SENTINEL FAILOVER, the same drills against redis-server) are marked drill."""
import json
import os
import re
import threading
import time

import pytest
import redis

from tests.replication.sentinel_group import Group, kill_drill, manual_failover_drill, rc, start_sentinel, NAME
from tests.support.servers import RawConnection, start_cachemere, start_redis, wait_for

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/redis-sentinel"), reason="apt package redis-sentinel")

FIGURES = os.environ.get("SENTINEL_DRILL_FIGURES")     # a file the drills append their figures to (JSON lines)


def report(figures):
    print("\nsentinel drill:", json.dumps(figures))
    if FIGURES:
        with open(FIGURES, "a") as f:
            f.write(json.dumps(figures) + "\n")


def start(kind, *args, **kw):
    if kind == "redis":
        return start_redis("--repl-diskless-sync-delay", "0", *args, **kw)
    return start_cachemere(*args, **kw)


@pytest.fixture
def procs():
    started = []

    def run(kind, *args, **kw):
        srv = start(kind, *args, **kw)
        started.append(srv)
        return srv
    yield run
    for srv in reversed(started):
        srv.stop()


def norm(data, *ports):
    """Reply bytes with the (differing) port numbers and ids replaced."""
    for p in ports:
        data = data.replace(b"$%d\r\n%d\r\n" % (len(str(p)), p), b"$P\r\nPORT\r\n").replace(b":%d\r\n" % p, b":PORT\r\n")
    return data


def closed(conn, timeout=1.0):
    """The server closed this connection (whatever it sent before)."""
    conn.sock.settimeout(timeout)
    try:
        while conn.sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except OSError:
        return False
    finally:
        conn.sock.settimeout(conn.timeout)


def sentinel_view(kind, procs):
    """What Sentinel reads and does on a primary + replica pair, as reply bytes (ports normalised)."""
    p = procs(kind)
    s = procs(kind, "--replicaof", "127.0.0.1", p.port, "--replica-priority", "7")
    wait_for(lambda: rc(s).info("replication").get("master_link_status") == "up", timeout=10)
    rc(p).set("a", "1")
    wait_for(lambda: rc(p).info("replication").get("slave0", {}).get("offset", 0) >= rc(p).info(
        "replication")["master_repl_offset"], timeout=5)
    out = {}
    cp, cs = RawConnection(p.port), RawConnection(s.port)
    out["role_primary"] = norm(cp.command("ROLE"), p.port, s.port)
    out["role_replica"] = norm(cs.command("ROLE"), p.port, s.port)
    out["setname"] = cs.command("CLIENT", "SETNAME", "sentinel-0123abcd-cmd")
    info = rc(s).info()
    out["info_replica"] = {k: info.get(k) for k in (
        "role", "master_host", "master_link_status", "slave_priority", "replica_announced", "slave_read_only")}
    out["info_replica"]["master_port_ok"] = info["master_port"] == p.port
    out["info_replica"]["offset_ok"] = info["slave_repl_offset"] == info["master_repl_offset"] > 0
    out["run_id"] = bool(re.fullmatch(r"[0-9a-f]{40}", info["run_id"]))
    pinfo = rc(p).info()
    out["slave0"] = sorted(pinfo["slave0"]) + [pinfo["slave0"]["state"], pinfo["slave0"]["port"] == s.port]
    # subscribers and plain clients on the replica, then Sentinel's promotion transaction
    subs = [RawConnection(s.port) for _ in range(2)]
    out["hello"] = [x.command("SUBSCRIBE", "__sentinel__:hello") for x in subs][0]
    out["publish"] = cs.command("PUBLISH", "__sentinel__:hello", "127.0.0.1,26379,abc,0,mymaster,127.0.0.1,1,0")
    plain = [RawConnection(s.port) for _ in range(3)]
    for x in plain:
        x.command("PING")
    rc(s).close()
    tx = [cs.command("MULTI")]
    for cmd in (("REPLICAOF", "NO", "ONE"), ("CONFIG", "REWRITE"), ("CLIENT", "KILL", "TYPE", "normal"),
                ("CLIENT", "KILL", "TYPE", "pubsub")):
        tx.append(cs.command(*cmd))
    tx.append(cs.command("EXEC"))
    out["promote_tx"] = tx
    out["killed"] = [closed(x) for x in subs + plain] + [closed(cs, 0.2)]
    out["role_promoted"] = norm(cs.command("ROLE"), p.port, s.port)
    out["script_kill"] = cs.command("SCRIPT", "KILL")
    out["client_kill_bad"] = [cs.command("CLIENT", "KILL", "TYPE", t) for t in ("bogus", "master", "replica")]
    # repoint the old primary (as Sentinel does for a demoted master): REPLICAOF + CONFIG REWRITE + kill
    tx = [cp.command("MULTI")]
    for cmd in (("REPLICAOF", "127.0.0.1", s.port), ("CONFIG", "REWRITE"), ("CLIENT", "KILL", "TYPE", "normal"),
                ("CLIENT", "KILL", "TYPE", "pubsub")):
        tx.append(cp.command(*cmd))
    tx.append(cp.command("EXEC"))
    out["demote_tx"] = tx
    wait_for(lambda: rc(p).info("replication").get("master_link_status") == "up", timeout=10)
    out["role_demoted"] = norm(RawConnection(p.port).command("ROLE"), p.port, s.port)
    # the demoted primary's replid history lets it continue partially
    out["sync_full_on_promoted"] = rc(s).info("stats")["sync_full"]
    return out


def test_what_sentinel_sends_matches_redis(procs):
    ours, theirs = sentinel_view("cachemere", procs), sentinel_view("redis", procs)
    for key in theirs:
        if key.startswith("role_"):   # offsets differ between the two servers' streams: compare the shape
            pat = re.compile(rb":\d+\r\n")
            assert pat.sub(b":N\r\n", ours[key]) == pat.sub(b":N\r\n", theirs[key]), key
        else:
            assert ours[key] == theirs[key], key
    assert theirs["killed"] == [True] * 5 + [False]


@pytest.mark.parametrize("kind", ["cachemere", "redis"])
def test_config_rewrite_keeps_replicaof(kind, procs, tmp_path):
    """Sentinel persists its REPLICAOF with CONFIG REWRITE: a restart from the rewritten file is still a replica."""
    p = procs(kind)
    conf = tmp_path / "node.conf"
    conf.write_text("# node\nreplica-priority 42\n")
    s = procs(kind, config_file=str(conf)) if kind == "cachemere" else None
    if s is None:                     # start_redis takes no config file: pass it as the first argument
        from tests.support.servers import ServerProcess, free_port
        port = free_port()
        s = ServerProcess(["redis-server", str(conf), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--dir", str(tmp_path)], port, str(tmp_path), str(tmp_path / "log"))
    c = rc(s)
    with c.pipeline(transaction=True) as t:
        t.execute_command("REPLICAOF", "127.0.0.1", p.port).execute_command("CONFIG", "REWRITE")
        assert t.execute() == [b"OK", b"OK"]
    text = conf.read_text()
    assert re.search(r"^replicaof 127\.0\.0\.1 %d$" % p.port, text, re.M), text
    assert re.search(r"^replica-priority 42$", text, re.M)
    s.stop()
    # restarted from the rewritten file: a replica again
    from tests.support.servers import ServerProcess
    s2 = ServerProcess(s.argv, s.port, s.dir, s.log_path)
    try:
        wait_for(lambda: rc(s2).info("replication").get("master_link_status") == "up", timeout=10)
        with rc(s2).pipeline(transaction=True) as t:
            t.execute_command("REPLICAOF", "NO", "ONE").execute_command("CONFIG", "REWRITE")
            t.execute()
        assert "replicaof" not in conf.read_text()
    finally:
        s2.stop()


@pytest.mark.parametrize("kind", ["cachemere", "redis"])
def test_link_down_fields(kind, procs):
    """After the primary dies a replica reports what Sentinel's replica selection reads."""
    p = procs(kind)
    s = procs(kind, "--replicaof", "127.0.0.1", p.port)
    wait_for(lambda: rc(s).info("replication").get("master_link_status") == "up", timeout=10)
    p.kill9()
    wait_for(lambda: rc(s).info("replication")["master_link_status"] == "down", timeout=10)
    time.sleep(1.1)
    info = rc(s).info("replication")
    assert info["role"] == "slave" and info["master_port"] == p.port
    assert 1 <= info["master_link_down_since_seconds"] <= 5
    assert info["master_sync_in_progress"] == 0
    role = rc(s).execute_command("ROLE")
    assert role[0] == b"slave" and role[3] in (b"connect", b"connecting"), role


def test_sentinel_script_kill_on_busy_primary(procs):
    """A primary stuck in a script answers PING with -BUSY; once it is subjectively down Sentinel sends SCRIPT
    KILL, the script ends and the primary is not failed over."""
    p = procs("cachemere", "--busy-reply-threshold", "100")
    s = start_sentinel(p.port, quorum=1, down_after_ms=500, failover_timeout_ms=60000)
    try:
        wait_for(lambda: b"sentinel-" in rc(p).execute_command("CLIENT", "LIST"), timeout=10)
        result = {}

        def busy():
            try:
                rc(p, 30).eval("local i = 0 while true do i = i + 1 end", 0)
            except redis.RedisError as e:
                result["err"] = str(e)
        t = threading.Thread(target=busy, daemon=True)
        t.start()
        t.join(15)
        assert "Script killed by user with SCRIPT KILL" in result.get("err", ""), result
        assert rc(p).ping()
        assert "+sdown master" in s.log()
        assert "+switch-master" not in s.log()
    finally:
        s.stop()


def test_kill_primary_sentinel_fails_over_short():
    """kill -9 of the primary of a primary + 2 replicas group under a write load (the short drill). The first
    replica has replica-priority 0: Sentinel must promote the other one."""
    g = Group("cachemere", replicas=2, replica_args=[("--replica-priority", "0"), ()])
    never = g.replicas[0].port
    try:
        fig = kill_drill(g, write_s=1.0, after_s=0.5)
    finally:
        g.stop()
    report(fig)
    assert fig["promoted_port"] != never
    assert fig["promotion_s"] < 10
    # the other replica reconnected to the new primary: partially (PSYNC2), or fully when it had received more of
    # the old stream than the replica Sentinel chose (Sentinel picks by offset from INFO that may be a second old)
    assert fig["partial_resyncs_after_kill"] + fig["full_resyncs_after_kill"] == 1
    assert fig["reads_ok_after_repoint"] > 0


@pytest.mark.drill
@pytest.mark.parametrize("backlog", ["1mb", "64mb"])
@pytest.mark.parametrize("kind", ["cachemere", "redis"])
def test_drill_kill_primary_five_replicas(kind, backlog):
    """With the default 1mb backlog the replicas Sentinel repoints last (parallel-syncs 1) may find the new
    primary's backlog already past their offset under this load and resync fully; with 64mb none does."""
    g = Group(kind, replicas=5, node_args=("--repl-backlog-size", backlog))
    try:
        fig = kill_drill(g, write_s=3.0, after_s=2.0)
        fig["backlog"] = backlog
        # the old primary comes back on its port: the sentinels make it a replica of the new primary
        old = g.primary
        from tests.support.servers import ServerProcess
        back = ServerProcess(old.argv, old.port, old.dir, old.log_path)
        g.nodes.append(back)
        new_port = g.master_addr()[1]
        wait_for(lambda: rc(back).info("replication").get("master_port") == new_port
                 and rc(back).info("replication").get("master_link_status") == "up", timeout=40, interval=0.2)
        fig["old_primary_rejoined"] = True
    finally:
        g.stop()
    report(fig)
    assert fig["promotion_s"] < 10
    assert fig["partial_resyncs_after_kill"] + fig["full_resyncs_after_kill"] == 4
    if backlog == "64mb" and kind == "cachemere":
        assert fig["full_resyncs_after_kill"] == 0
    assert fig["reads_ok_after_repoint"] > 0


@pytest.mark.drill
@pytest.mark.parametrize("kind", ["cachemere", "redis"])
def test_drill_sentinel_failover_loses_no_acknowledged_write(kind):
    g = Group(kind, replicas=5)
    try:
        fig = manual_failover_drill(g)
    finally:
        g.stop()
    report(fig)
    assert fig["acked_wait_all"] > 100
    assert fig["lost_wait_all"] == 0


def publish_view(kind, procs):
    p = procs(kind)
    s = procs(kind, "--replicaof", "127.0.0.1", p.port)
    s2 = procs(kind, "--replicaof", "127.0.0.1", s.port)          # chained
    for x in (s, s2):
        wait_for(lambda: rc(x).info("replication").get("master_link_status") == "up", timeout=10)
    subs = [RawConnection(x.port) for x in (p, s, s2)]
    for x in subs:
        x.command("SUBSCRIBE", "__sentinel__:hello")
    r = rc(p)
    counts = [r.publish("__sentinel__:hello", "plain"), r.execute_command("SPUBLISH", "__sentinel__:hello", "s")]
    with r.pipeline(transaction=True) as t:
        counts.append(t.set("k", 1).publish("__sentinel__:hello", "in-multi").execute())
    counts.append(r.eval("return redis.call('publish', '__sentinel__:hello', 'lua')", 0))
    wait_for(lambda: rc(s2).get("k") == b"1", timeout=5)
    return counts, [x.read_until_quiet(0.3) for x in subs]


def test_publish_reaches_subscribers_of_replicas(procs):
    """PUBLISH on a primary is propagated to its replicas (and theirs), not to the AOF, as in redis."""
    ours, theirs = publish_view("cachemere", procs), publish_view("redis", procs)
    assert ours == theirs
    assert theirs[1][2].count(b"message") == 3
