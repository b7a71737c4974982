"""Cluster drills (make drill): a mixed Cachemere + redis-server cluster formed and kept healthy by the Redis
7.0 bus, kill -9 of a primary (FAIL, replica election, promotion; WAIT 1 acknowledged writes survive), manual
CLUSTER FAILOVER / FORCE / TAKEOVER, and redis-cli --cluster reshard / rebalance / fix under a write load."""
import signal
import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster

from tests.cluster.harness import Cluster, cli, raw
from tests.support.servers import wait_for

pytestmark = pytest.mark.drill


def node_line(port, node_id):
    return [x for x in raw(port, "cluster", "nodes").splitlines() if x.startswith(node_id)][0]


def primary_with_replica(cluster):
    """(primary node, its replica node) of the first shard."""
    by_port = {n.port: n for n in cluster.nodes}
    for line in raw(cluster.ports[0], "cluster", "nodes").splitlines():
        f = line.split()
        if "slave" in f[2]:
            master_id = f[3]
            replica_port = int(f[1].split("@")[0].rsplit(":", 1)[1])
            for l2 in raw(cluster.ports[0], "cluster", "nodes").splitlines():
                g = l2.split()
                if g[0] == master_id:
                    return by_port[int(g[1].split("@")[0].rsplit(":", 1)[1])], by_port[replica_port]
    raise AssertionError("no replica")


def kill9_failover(cluster, check_port_of):
    primary, replica = primary_with_replica(cluster)
    pr = redis.Redis(port=primary.port)
    primary_id = pr.execute_command("CLUSTER MYID").decode()
    tag = None
    for i in range(10000):          # a hash tag served by this primary
        slot = pr.execute_command("CLUSTER KEYSLOT", "{t%d}" % i)
        if primary_id in node_line(primary.port, primary_id) and \
                pr.execute_command("CLUSTER COUNTKEYSINSLOT", slot) >= 0:
            owner = [x for x in raw(primary.port, "cluster", "nodes").splitlines() if "myself" in x][0]
            ranges = [r for r in owner.split()[8:] if not r.startswith("[")]
            if any(int(r.split("-")[0]) <= slot <= int(r.split("-")[-1]) for r in ranges):
                tag = "{t%d}" % i
                break
    assert tag
    for i in range(500):
        pr.set("%s:%d" % (tag, i), i)
    try:
        wait_for(lambda: pr.execute_command("WAIT", 1, 500) >= 1, timeout=40)   # (a redis replica syncs after 5 s)
    except Exception:
        raise AssertionError("WAIT on %s primary, %s replica: %s\n%s\n%s" % (
            primary.kind, replica.kind, pr.info("replication"), redis.Redis(port=replica.port).info("replication"),
            replica.log()[-2500:]))
    t0 = time.monotonic()
    primary.stop(signal.SIGKILL)
    rr = redis.Redis(port=replica.port)
    wait_for(lambda: rr.execute_command("ROLE")[0] == b"master", timeout=30)
    elapsed = time.monotonic() - t0
    others = [n.port for n in cluster.nodes if n is not primary]
    wait_for(lambda: all("fail" in node_line(p, primary_id).split()[2] for p in others), timeout=20)
    cluster.wait_ok(ports=others, replicas=0)
    assert all(rr.get("%s:%d" % (tag, i)) == str(i).encode() for i in range(500))
    rc = RedisCluster(host="127.0.0.1", port=check_port_of(others))
    try:
        rc.set(tag + ":after", "x")
        assert rc.get(tag + ":after") == b"x"
    finally:
        rc.close()
    # the old primary comes back on its nodes.conf: UPDATE/pongs make it a replica of the promoted one
    from tests.cluster.harness import start_node
    again = start_node(primary.kind, primary.port, node_timeout=2000, workdir=primary.dir)
    cluster.nodes[cluster.nodes.index(primary)] = again
    replica_id = rr.execute_command("CLUSTER MYID").decode()
    ag = redis.Redis(port=again.port)

    def rejoined():
        return (node_line(again.port, primary_id).split()[3] == replica_id and
                ag.execute_command("ROLE")[0] == b"slave" and
                ag.info("replication").get("master_link_status") == "up")
    try:
        wait_for(rejoined, timeout=40)
        ag.execute_command("READONLY")
        wait_for(lambda: ag.get(tag + ":after") == b"x", timeout=20)
    except Exception:
        raise AssertionError("restarted %s node: %s\n%s\n%s" % (
            primary.kind, raw(again.port, "cluster", "nodes"), ag.info("replication"), again.log()[-3000:]))
    cluster.wait_ok(replicas=3)
    return elapsed


def test_mixed_cluster_forms_and_fails_over():
    """Cachemere and redis-server nodes alternate (primaries and replicas of both kinds)."""
    kinds = ["cachemere", "redis", "cachemere", "redis", "cachemere", "redis"]
    cluster = Cluster(kinds, replicas=1, node_timeout=2000)
    try:
        out = cli("--cluster", "check", "127.0.0.1:%d" % cluster.ports[1]).stdout
        assert "[OK] All nodes agree about slots configuration." in out and "[OK] All 16384 slots covered." in out
        for p in cluster.ports:
            info = raw(p, "cluster", "info")
            assert "cluster_state:ok" in info and "cluster_known_nodes:6" in info
        rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
        try:
            for i in range(500):
                rc.set("m:%d" % i, i)
            assert all(int(rc.get("m:%d" % i)) == i for i in range(500))
        finally:
            rc.close()
        # stays healthy over several node timeouts
        time.sleep(5)
        for p in cluster.ports:
            assert "cluster_state:ok" in raw(p, "cluster", "info")
            assert "fail" not in raw(p, "cluster", "nodes")
        elapsed = kill9_failover(cluster, lambda others: others[0])
        assert elapsed < 2.0 * 2 + 10
    finally:
        cluster.stop()


def test_kill9_failover_cachemere():
    cluster = Cluster(["cachemere"] * 6, replicas=1, node_timeout=2000)
    try:
        elapsed = kill9_failover(cluster, lambda others: others[0])
        # node timeout (2 s) + FAIL propagation + election delay (0.5-1 s + rank)
        assert elapsed < 10, elapsed
        print("kill -9 -> promoted in %.2f s" % elapsed)
    finally:
        cluster.stop()


def test_manual_failover_variants():
    cluster = Cluster(["cachemere"] * 6, replicas=1, node_timeout=2000)
    try:
        for option in ([], ["FORCE"], ["TAKEOVER"]):
            primary, replica = primary_with_replica(cluster)
            rr = redis.Redis(port=replica.port)
            assert rr.execute_command("CLUSTER FAILOVER", *option) in (True, b"OK")
            wait_for(lambda: rr.execute_command("ROLE")[0] == b"master", timeout=20)
            pr = redis.Redis(port=primary.port)
            wait_for(lambda: pr.execute_command("ROLE")[0] == b"slave", timeout=20)
            cluster.wait_ok(replicas=0)
        out = cli("--cluster", "check", "127.0.0.1:%d" % cluster.ports[0]).stdout
        assert "[OK] All 16384 slots covered." in out
    finally:
        cluster.stop()


def test_reshard_rebalance_under_load_loses_nothing():
    cluster = Cluster(["cachemere"] * 3, replicas=0, node_timeout=5000)
    stop = threading.Event()
    written = {}
    errors = []

    def writer():
        rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
        i = 0
        try:
            while not stop.is_set():
                k = "load:%d" % i
                try:
                    rc.set(k, i)
                    written[k] = i
                except Exception as exc:      # noqa: BLE001 - counted, the test fails on any
                    errors.append(repr(exc))
                i += 1
        finally:
            rc.close()
    try:
        rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
        pipe = rc.pipeline()
        for i in range(5000):
            pipe.set("pre:%d" % i, i)
        pipe.execute()
        th = threading.Thread(target=writer)
        th.start()
        ids = [raw(p, "cluster", "myid").strip() for p in cluster.ports]
        t0 = time.monotonic()
        cli("--cluster", "reshard", "127.0.0.1:%d" % cluster.ports[0], "--cluster-from", ids[0], "--cluster-to",
            ids[1], "--cluster-slots", "300", "--cluster-yes", timeout=300)
        reshard_s = time.monotonic() - t0
        cli("--cluster", "rebalance", "127.0.0.1:%d" % cluster.ports[0], "--cluster-threshold", "1", timeout=300)
        stop.set()
        th.join(30)
        out = cli("--cluster", "check", "127.0.0.1:%d" % cluster.ports[0]).stdout
        assert "[OK] All 16384 slots covered." in out and "[OK] All nodes agree" in out
        assert not errors, errors[:5]
        assert all(rc.get("pre:%d" % i) == str(i).encode() for i in range(5000))
        assert all(rc.get(k) == str(v).encode() for k, v in written.items())
        print("reshard of 300 slots under load: %.1f s, %d writes" % (reshard_s, len(written)))
        fix = cli("--cluster", "fix", "127.0.0.1:%d" % cluster.ports[0], "--cluster-yes", timeout=120).stdout
        assert "[OK] All 16384 slots covered." in fix
        rc.close()
    finally:
        stop.set()
        cluster.stop()


def test_cluster_down_texts_and_allow_reads_when_down():
    """A primary without replica dies: the cluster goes down (full coverage); replies diffed with redis, then
    cluster-allow-reads-when-down yes serves reads and refuses writes with redis's texts."""
    from tests.cluster.test_cluster import normalizer, probe
    clusters = []
    try:
        for kind in ("cachemere", "redis"):
            clusters.append(Cluster([kind] * 3, replicas=0, node_timeout=1000))
        outs = []
        for cluster in clusters:
            norm, order = normalizer(cluster)
            redis.Redis(port=order[0]).set("a0", "v")
            victim = [n for n in cluster.nodes if n.port == order[2]][0]
            victim.stop(signal.SIGKILL)
            live = order[:2]
            wait_for(lambda: all("cluster_state:fail" in raw(p, "cluster", "info") for p in live), timeout=20)
            res = probe(order[0], norm, {}, [["get", "a0"], ["set", "a0", "1"], ["get", "foo"], ["ping"]])
            for p in live:
                raw(p, "config", "set", "cluster-allow-reads-when-down", "yes")
            res += probe(order[0], norm, {}, [["get", "a0"], ["set", "a0", "1"], ["get", "foo"],
                                               ["mget", "a0", "{a0}x"]])
            for p in live:
                raw(p, "config", "set", "cluster-require-full-coverage", "no")
            wait_for(lambda: all("cluster_state:ok" in raw(p, "cluster", "info") for p in live), timeout=20)
            res += probe(order[0], norm, {}, [["set", "a0", "2"], ["get", "foo"]])
            outs.append(res)
        assert [x[1] for x in outs[0]] == [x[1] for x in outs[1]], outs
    finally:
        for c in clusters:
            c.stop()


def test_replica_migration_to_orphaned_primary():
    """7 nodes: 3 primaries, one with 2 replicas. Killing the only replica of another primary orphans it; a
    replica of the primary with two migrates to it (cluster-migration-barrier 1, after 5 s as in redis)."""
    cluster = Cluster(["cachemere"] * 7, replicas=1, node_timeout=1000)
    try:
        port0 = cluster.ports[0]

        def shape():
            masters, replicas_of = {}, {}
            for line in raw(port0, "cluster", "nodes").splitlines():
                f = line.split()
                port = int(f[1].split("@")[0].rsplit(":", 1)[1])
                if "master" in f[2] and "fail" not in f[2]:
                    masters[f[0]] = port
                elif "slave" in f[2] and "fail" not in f[2]:
                    replicas_of.setdefault(f[3], []).append(port)
            return masters, replicas_of
        masters, replicas_of = shape()
        single = [m for m in masters if len(replicas_of.get(m, [])) == 1][0]
        victim_port = replicas_of[single][0]
        victim = [n for n in cluster.nodes if n.port == victim_port][0]
        victim.stop(signal.SIGKILL)
        t0 = time.monotonic()
        wait_for(lambda: len(shape()[1].get(single, [])) == 1 and victim_port not in shape()[1].get(single, []),
                 timeout=40)
        moved = shape()[1][single][0]
        rr = redis.Redis(port=moved)
        wait_for(lambda: rr.info("replication").get("master_port") == masters[single] and
                 rr.info("replication").get("master_link_status") == "up", timeout=20)
        print("replica migrated in %.1f s" % (time.monotonic() - t0))
        assert all(len(v) == 1 for v in shape()[1].values())
    finally:
        cluster.stop()
