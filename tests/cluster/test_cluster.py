"""Cluster mode against the stock tools: a 3-primary + 3-replica Cachemere cluster made by `redis-cli --cluster
create`, checked by `redis-cli --cluster check`, driven by redis-py RedisCluster, and its replies (CLUSTER
subcommand errors, MOVED/ASK/CROSSSLOT/TRYAGAIN, MULTI/EXEC, EVAL) compared byte for byte with a redis-server
7.0.15 cluster of the same shape (node ids and ports normalised)."""
import re
import time

import pytest
import redis
from redis.cluster import RedisCluster

from tests.cluster.harness import Cluster, cli, node_ids, raw
from tests.support.servers import RawConnection, start_cachemere, start_redis, wait_for  # noqa: F401


@pytest.fixture(scope="module")
def clusters():
    cm = Cluster(["cachemere"] * 6, replicas=1)
    try:
        ref = Cluster(["redis"] * 6, replicas=1)
    except BaseException:
        cm.stop()
        raise
    try:
        yield cm, ref
    finally:
        cm.stop()
        ref.stop()


def masters_in_slot_order(cluster):
    """Ports of the primaries ordered by their first slot, then their replicas (as --cluster create made them)."""
    port = cluster.ports[0]
    rows = []
    for line in raw(port, "cluster", "nodes").splitlines():
        f = line.split()
        if "master" in f[2] and len(f) > 8:
            rows.append((int(f[8].split("-")[0]), int(f[1].split("@")[0].rsplit(":", 1)[1])))
    return [p for _s, p in sorted(rows)]


def normalizer(cluster):
    ids = node_ids(cluster.ports[0])
    order = masters_in_slot_order(cluster)
    others = sorted(p for p in cluster.ports if p not in order)
    index = {p: i for i, p in enumerate(order + others)}

    def norm(data):
        for port, nid in ids.items():
            data = data.replace(nid.encode(), b"<id%d>" % index[port])
        for port, i in index.items():
            data = data.replace(b":%d" % port, b":<port%d>" % i)
        return data
    return norm, order


def test_create_and_check(clusters):
    cm, _ref = clusters
    out = cli("--cluster", "check", "127.0.0.1:%d" % cm.ports[0]).stdout
    assert "[OK] All nodes agree about slots configuration." in out
    assert "[OK] All 16384 slots covered." in out
    assert out.count("M: ") == 3 and out.count("S: ") == 3
    info = raw(cm.ports[0], "cluster", "info")
    assert "cluster_state:ok" in info and "cluster_size:3" in info and "cluster_known_nodes:6" in info
    assert "cluster_enabled:1" in raw(cm.ports[0], "info", "cluster")
    assert "redis_mode:cluster" in raw(cm.ports[0], "info", "server")


def test_redis_py_cluster_client(clusters):
    cm, _ref = clusters
    rc = RedisCluster(host="127.0.0.1", port=cm.ports[0])
    try:
        for i in range(300):
            rc.set("key:%d" % i, i)
        assert [int(rc.get("key:%d" % i)) for i in range(300)] == list(range(300))
        pipe = rc.pipeline()
        for i in range(50):
            pipe.incr("ctr:%d" % i)
        assert pipe.execute() == [1] * 50
        assert rc.mset_nonatomic({"{t}a": 1, "{t}b": 2}) is not None
        assert rc.mget("{t}a", "{t}b") == [b"1", b"2"]
        # every primary holds some of the keys, and the counts add up
        total = sum(r.dbsize() for r in (redis.Redis(port=p) for p in masters_in_slot_order(cm)))
        assert total == 300 + 50 + 2
        # replicas answer reads after READONLY
        from redis.cluster import LoadBalancingStrategy
        rc_ro = RedisCluster(host="127.0.0.1", port=cm.ports[0], load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN_REPLICAS)
        try:
            assert all(int(rc_ro.get("key:%d" % i)) == i for i in range(0, 300, 7))
        finally:
            rc_ro.close()
    finally:
        rc.close()


def test_nodes_slots_shards_shape(clusters):
    cm, ref = clusters
    for cluster in (cm, ref):
        r = redis.Redis(port=cluster.ports[0])
        rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
        for i in range(30):          # replicas are listed once they have an offset (redis isReplicaAvailable)
            rc.set("shape:%d" % i, i)
        rc.close()
        wait_for(lambda: all(len(s) == 4 for s in r.execute_command("CLUSTER SLOTS")), timeout=10)
        slots = r.execute_command("CLUSTER SLOTS")
        assert sorted((s[0], s[1]) for s in slots) == [(0, 5460), (5461, 10922), (10923, 16383)]
        assert all(len(s) == 4 and len(s[2]) == 4 and not s[2][3] for s in slots), slots
        shards = r.execute_command("CLUSTER SHARDS")
        assert len(shards) == 3
        lines = raw(cluster.ports[0], "cluster", "nodes").splitlines()
        assert len(lines) == 6 and sum("myself" in x for x in lines) == 1
        for line in lines:
            assert re.fullmatch(r"[0-9a-f]{40} 127\.0\.0\.1:\d+@\d+ (myself,)?(master|slave) (-|[0-9a-f]{40}) "
                                r"\d+ \d+ \d+ connected( \d+-\d+)?", line), line
        myid = r.execute_command("CLUSTER MYID").decode()
        replicas = raw(cluster.ports[0], "cluster", "replicas", myid).splitlines()
        assert len(replicas) == 1 and myid in replicas[0]
        links = r.execute_command("CLUSTER LINKS")
        assert len(links) >= 5


ERROR_PROBES = [
    ["cluster", "addslots", "1"], ["cluster", "addslots", "100000"], ["cluster", "addslots", "x"],
    ["cluster", "addslots", "1", "1"], ["cluster", "delslotsrange", "5", "1"], ["cluster", "addslotsrange", "1"],
    ["cluster", "addslotsrange", "1", "2", "3"], ["cluster", "addslotsrange", "1", "2"],
    ["cluster", "setslot", "1", "foo"], ["cluster", "setslot", "1", "migrating", "abc"],
    ["cluster", "setslot", "16000", "migrating", "<id0>"], ["cluster", "setslot", "1", "importing", "abc"],
    ["cluster", "setslot", "1", "importing", "<id0>"], ["cluster", "setslot", "1", "node", "abc"],
    ["cluster", "setslot", "x", "stable"], ["cluster", "setslot", "1", "node", "<id3>"],
    ["cluster", "setslot", "1", "migrating", "<id3>"],
    ["cluster", "meet", "1.2.3.4", "x"], ["cluster", "meet", "nohost", "1"], ["cluster", "meet", "127.0.0.1", "1", "x"],
    ["cluster", "meet", "127.0.0.1"],
    ["cluster", "replicate", "abc"], ["cluster", "forget", "abc"], ["cluster", "count-failure-reports", "abc"],
    ["cluster", "replicas", "abc"], ["cluster", "forget", "<id0>"], ["cluster", "replicate", "<id0>"],
    ["cluster", "replicate", "<id3>"], ["cluster", "replicate", "<id1>"], ["cluster", "replicas", "<id3>"],
    ["cluster", "failover"], ["cluster", "failover", "foo"], ["cluster", "failover", "force", "x"],
    ["cluster", "reset", "foo"], ["cluster", "set-config-epoch", "5"], ["cluster", "set-config-epoch", "-1"],
    ["cluster", "set-config-epoch", "x"], ["cluster", "countkeysinslot", "x"], ["cluster", "countkeysinslot", "-1"],
    ["cluster", "countkeysinslot", "20000"], ["cluster", "countkeysinslot", "5"],
    ["cluster", "getkeysinslot", "1", "-1"], ["cluster", "getkeysinslot", "x", "1"],
    ["cluster", "getkeysinslot", "20000", "1"], ["cluster", "getkeysinslot", "5", "10"],
    ["cluster", "keyslot", "foo"], ["cluster", "keyslot", "{user1000}.following"], ["cluster", "keyslot", ""],
    ["cluster", "keyslot", "{}x"], ["cluster", "foo"], ["cluster"], ["cluster", "myid", "x"],
    ["cluster", "help"], ["cluster", "info", "x"], ["readonly", "x"], ["asking"], ["readwrite"],
    ["cluster", "bumpepoch", "x"], ["cluster", "saveconfig"],
    # routing
    ["get", "foo"], ["set", "foo", "1"], ["mset", "a", "1", "b", "2"], ["mget", "{x}a", "{x}b"],
    ["mget", "{x}a", "{y}b"], ["eval", "return 1", "1", "foo"], ["eval", "return 1", "2", "a", "b"],
    ["eval", "return 1", "0"], ["select", "1"], ["select", "0"], ["replicaof", "no", "one"], ["move", "k", "1"],
    ["swapdb", "0", "1"], ["del", "{a}1", "{a}2", "{b}3"], ["exists", "nosuchkey"], ["xread", "streams", "foo", "0"],
    ["sort", "k", "by", "nosort"], ["publish", "ch", "m"], ["spublish", "foo", "m"],
    ["object", "encoding", "foo"], ["keys", "zzz*"],
    # scripts (redis scriptVerifyClusterState)
    ["eval", "return redis.call('get', 'foo')", "0"], ["eval", "return redis.call('get', KEYS[1])", "1", "a0"],
    ["eval", "redis.call('get', '{a0}x'); return redis.call('get', 'a0')", "0"],
    ["eval", "return redis.pcall('get', 'foo')", "0"], ["eval", "redis.call('get', 'a0'); return redis.call('get', 'e0')", "0"],
    ["eval", "return redis.call('get', 'e0')", "1", "a0"], ["eval", "return redis.call('get', '{x}1')", "1", "{x}2"],
]


def probe(port, norm, ids, commands):
    conn = RawConnection(port)
    out = []
    try:
        for argv in commands:
            argv = [ids.get(a, a) for a in argv]
            conn.send(b"".join([b"*%d\r\n" % len(argv)] + [b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode())
                                                              for a in argv]))
            out.append((argv, norm(conn.read_reply())))
    finally:
        conn.sock.close()
    return out


def _ids(cluster, order):
    known = node_ids(cluster.ports[0])
    others = sorted(p for p in cluster.ports if p not in order)
    return {"<id%d>" % i: known[p] for i, p in enumerate(order + others)}


def test_replies_match_redis(clusters):
    cm, ref = clusters
    results = []
    for cluster in (cm, ref):
        norm, order = normalizer(cluster)
        results.append(probe(order[0], norm, _ids(cluster, order), ERROR_PROBES))
    diffs = [(a[0], a[1], b[1]) for a, b in zip(*results) if a[1] != b[1]]
    # CLUSTER HELP: same lines; SAVECONFIG: OK; the rest byte for byte
    assert diffs == [], "\n".join("%r\n  cachemere: %r\n  redis:     %r" % d for d in diffs)


def test_transactions_and_ask(clusters):
    """MULTI/EXEC with keys of another node, CROSSSLOT inside MULTI, ASK/TRYAGAIN/ASKING during a migration."""
    cm, ref = clusters
    seqs = [
        [["multi"], ["set", "foo", "1"], ["exec"]],
        [["multi"], ["set", "{a}x", "1"], ["set", "{b}x", "1"], ["exec"]],
        [["multi"], ["set", "a0", "1"], ["exec"]],
    ]
    for seq in seqs:
        results = []
        for cluster in (cm, ref):
            norm, order = normalizer(cluster)
            results.append(probe(order[0], norm, {}, seq))
        assert [x[1] for x in results[0]] == [x[1] for x in results[1]], seq
    # migration: slot of key "mig" (node 0 owns it in both) MIGRATING to node 1, IMPORTING on node 1
    for cluster in (cm, ref):
        cluster.mig_results = []
    for cluster in (cm, ref):
        norm, order = normalizer(cluster)
        r0 = redis.Redis(port=order[1])
        r1 = redis.Redis(port=order[2])
        ids = _ids(cluster, order)
        slot = r0.execute_command("CLUSTER KEYSLOT", "{m1}")
        assert 5461 <= slot <= 10922
        r0.set("{m1}present", "v")
        r0.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids["<id2>"])
        r1.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids["<id1>"])
        try:
            seq = [["get", "{m1}present"], ["get", "{m1}absent"], ["mget", "{m1}present", "{m1}absent"],
                   ["set", "{m1}new", "1"]]
            cluster.mig_results += probe(order[1], norm, ids, seq)
            seq1 = [["get", "{m1}absent"], ["asking"], ["get", "{m1}absent"], ["get", "{m1}absent"],
                    ["asking"], ["mget", "{m1}absent", "{m1}other"], ["asking"], ["set", "{m1}x", "1"],
                    ["asking"], ["del", "{m1}x"], ["readonly"], ["get", "{m1}absent"]]
            cluster.mig_results += probe(order[2], norm, ids, seq1)
            nodes_line = [x for x in raw(order[1], "cluster", "nodes").splitlines() if "myself" in x][0]
            cluster.mig_results.append((["nodes"], norm(nodes_line.split(" ", 8)[-1].encode())))
        finally:
            r0.execute_command("CLUSTER SETSLOT", slot, "STABLE")
            r1.execute_command("CLUSTER SETSLOT", slot, "STABLE")
            r0.delete("{m1}present")
    a, b = cm.mig_results, ref.mig_results
    assert [x[1] for x in a] == [x[1] for x in b], list(zip(a, [x[1] for x in b]))


def replica_of(cluster, master_port):
    ids = node_ids(cluster.ports[0])
    mid = ids[master_port]
    for line in raw(cluster.ports[0], "cluster", "nodes").splitlines():
        f = line.split()
        if f[3] == mid:
            return int(f[1].split("@")[0].rsplit(":", 1)[1])
    raise AssertionError("no replica of %d" % master_port)


def test_replica_moved_unless_readonly(clusters):
    """A replica answers MOVED to its primary, reads after READONLY (writes still MOVED), MOVED after READWRITE."""
    cm, ref = clusters
    out = []
    for cluster in (cm, ref):
        norm, order = normalizer(cluster)
        redis.Redis(port=order[0]).set("a0", "replicated")
        replica = replica_of(cluster, order[0])
        ro = redis.Redis(port=replica)
        ro.execute_command("READONLY")
        wait_for(lambda: ro.get("a0") == b"replicated", timeout=20)     # redis: diskless sync delay first
        ro.close()
        out.append(probe(replica, norm, {}, [
            ["get", "a0"], ["readonly"], ["get", "a0"], ["set", "a0", "1"], ["get", "foo"],
            ["multi"], ["get", "a0"], ["exec"], ["readwrite"], ["get", "a0"]]))
    assert [x[1] for x in out[0]] == [x[1] for x in out[1]], out
    assert out[0][2][1] == b"$10\r\nreplicated\r\n"


def test_publish_crosses_the_bus(clusters):
    """PUBLISH on one node reaches subscribers on every node (bus PUBLISH); SPUBLISH stays in the shard."""
    cm, _ref = clusters
    norm, order = normalizer(cm)
    subs = []
    for p in cm.ports:
        ps = redis.Redis(port=p).pubsub()
        ps.subscribe("news")
        ps.get_message(timeout=2)
        subs.append(ps)
    try:
        assert redis.Redis(port=order[0]).publish("news", "hello") >= 1
        for ps in subs:
            msg = None
            deadline = time.monotonic() + 5
            while msg is None and time.monotonic() < deadline:
                msg = ps.get_message(timeout=0.5)
            assert msg is not None and msg["data"] == b"hello", msg
    finally:
        for ps in subs:
            ps.close()


def test_services_commands_route_by_slot(clusters):
    """The services' commands declare their keys, so a key of another node gets MOVED like any key."""
    cm, _ref = clusters
    from engine import registry
    import engine.commands  # noqa: F401
    import services  # noqa: F401
    from engine.commands.introspection import command_has_keys
    names = [n.decode() for n in registry.COMMANDS if n.split(b".")[0] in (b"queue", b"stream", b"wf", b"topic")]
    norm, order = normalizer(cm)
    r = redis.Redis(port=order[0])
    # a key owned by the third primary
    key = "foo"
    assert r.execute_command("CLUSTER KEYSLOT", key) > 10922
    checked = 0
    for name in names:
        spec = registry.COMMANDS[name.encode()]
        if spec.subcommands or not command_has_keys(spec) or spec.flags & registry.FLAGS.get("internal", 0):
            continue
        argv = [name.upper(), key] + ["x"] * max(0, abs(spec.arity) - 2)
        try:
            r.execute_command(*argv)
        except redis.exceptions.MovedError:
            checked += 1
            continue
        except redis.ResponseError as exc:
            if str(exc).startswith("MOVED"):
                checked += 1
                continue
            if spec.first_key != 1:
                continue
            raise AssertionError("%s: %s" % (name, exc))
        except redis.exceptions.MovedError:
            checked += 1
            continue
    assert checked >= 5, names


def test_cluster_disabled_errors():
    """Without cluster-enabled, the cluster commands answer as a standalone redis-server does."""
    cm = start_cachemere()
    ref = start_redis()
    try:
        cmds = [["cluster", "info"], ["cluster", "nodes"], ["cluster", "help"], ["readonly"], ["readwrite"],
                ["asking"], ["cluster", "keyslot", "foo"], ["cluster", "foo"]]
        a = probe(cm.port, lambda x: x, {}, cmds)
        b = probe(ref.port, lambda x: x, {}, cmds)
        assert [x[1] for x in a] == [x[1] for x in b]
    finally:
        cm.stop()
        ref.stop()


def test_nodes_conf_and_restart(clusters):
    """nodes.conf in redis's format; a restarted node loads it and rejoins with its id and slots."""
    cm, _ref = clusters
    node = [n for n in cm.nodes if n.port == masters_in_slot_order(cm)[2]][0]
    conf = open(node.dir + "/nodes.conf").read()
    lines = conf.splitlines()
    assert lines[-1].startswith("vars currentEpoch ") and " lastVoteEpoch " in lines[-1]
    assert sum("myself" in x for x in lines) == 1 and len(lines) == 7
    myid = raw(node.port, "cluster", "myid").strip()
    node.stop()
    from tests.cluster.harness import start_node
    again = start_node("cachemere", node.port, workdir=node.dir)
    cm.nodes[cm.nodes.index(node)] = again
    assert raw(again.port, "cluster", "myid").strip() == myid
    cm.wait_ok(timeout=30)
    line = [x for x in raw(cm.ports[0], "cluster", "nodes").splitlines() if myid in x][0]
    # back as the primary of its slots, or (when its replica took over while it was down) as that one's replica
    assert line.endswith(" connected 10923-16383") or " slave " in line, line



def test_workflow_executions_follow_their_state_machine(clusters):
    """WF.START writes the execution key {sm}:name: the hash tag puts it in the state machine's slot, so the
    execution lives (and is read, WF.EXEC) on the node that owns the state machine."""
    cm, _ref = clusters
    rc = RedisCluster(host="127.0.0.1", port=cm.ports[0])
    try:
        definition = '{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}'
        for i in range(6):
            sm = "flow%d" % i
            rc.execute_command("WF.CREATE", sm, definition, target_nodes=rc.get_node_from_key(sm))
            out = rc.execute_command("WF.START", sm, "NAME", "run1", target_nodes=rc.get_node_from_key(sm))
            key = "{%s}:run1" % sm
            assert rc.keyslot(key) == rc.keyslot(sm)
            assert key.encode() in out if isinstance(out, bytes) else True
            assert rc.execute_command("WF.EXEC", key, target_nodes=rc.get_node_from_key(key))
    finally:
        rc.close()


def test_add_node_and_del_node(clusters):
    """redis-cli --cluster add-node (MEET, then REPLICATE for --cluster-slave) and del-node (FORGET everywhere,
    RESET SOFT on the node) against the Cachemere cluster."""
    cm, _ref = clusters
    from tests.cluster.harness import cluster_ports, start_node
    port = cluster_ports(1)[0]
    node = start_node("cachemere", port)
    try:
        out = cli("--cluster", "add-node", "127.0.0.1:%d" % port, "127.0.0.1:%d" % cm.ports[0]).stdout
        assert "[OK] New node added correctly." in out
        nid = raw(port, "cluster", "myid").strip()
        wait_for(lambda: all(nid in raw(p, "cluster", "nodes") for p in cm.ports), timeout=15)
        wait_for(lambda: "cluster_known_nodes:7" in raw(port, "cluster", "info"), timeout=15)
        out = cli("--cluster", "del-node", "127.0.0.1:%d" % cm.ports[0], nid).stdout
        assert "Sending CLUSTER RESET SOFT to the deleted node." in out
        wait_for(lambda: all(nid not in raw(p, "cluster", "nodes") for p in cm.ports), timeout=15)
        assert "cluster_known_nodes:1" in raw(port, "cluster", "info")
    finally:
        node.stop()


@pytest.mark.drill      # make drill (make test at its 12-minute budget)
def test_mixed_cluster_and_nodes_conf_interop():
    """A Cachemere + redis-server cluster forms through the 7.0 bus, and a node started on the other kind's
    nodes.conf keeps its identity (same file format both ways)."""
    from tests.cluster.harness import start_node
    cluster = Cluster(["cachemere", "redis", "cachemere"], replicas=0)
    try:
        out = cli("--cluster", "check", "127.0.0.1:%d" % cluster.ports[1]).stdout
        assert "[OK] All nodes agree about slots configuration." in out and "[OK] All 16384 slots covered." in out
        rc = RedisCluster(host="127.0.0.1", port=cluster.ports[1])
        try:
            for i in range(200):
                rc.set("mix:%d" % i, i)
            assert all(int(rc.get("mix:%d" % i)) == i for i in range(200))
        finally:
            rc.close()
        # the redis node's nodes.conf, read by Cachemere (and the other way round)
        for idx, new_kind in ((1, "cachemere"), (0, "redis")):
            old = cluster.nodes[idx]
            myid = raw(old.port, "cluster", "myid").strip()
            raw(old.port, "cluster", "saveconfig")
            old.stop()
            again = start_node(new_kind, old.port, workdir=old.dir)
            cluster.nodes[idx] = again
            assert raw(again.port, "cluster", "myid").strip() == myid
            cluster.wait_ok(timeout=30)
        out = cli("--cluster", "check", "127.0.0.1:%d" % cluster.ports[2]).stdout
        assert "[OK] All 16384 slots covered." in out
    finally:
        cluster.stop()


def test_announced_address_and_hostname_seen_by_redis():
    """cluster-announce-port/bus-port/hostname go into the bus header and the hostname ping extension: a
    redis-server node shows them in CLUSTER NODES (and CONFIG SET changes them at runtime)."""
    from tests.cluster.harness import cluster_ports, start_node
    p1, p2 = cluster_ports(2)
    cm = start_node("cachemere", p1, extra=("--cluster-announce-hostname", "cm-node-1"))
    ref = start_node("redis", p2)
    try:
        raw(p2, "cluster", "meet", "127.0.0.1", p1)
        cm_id = raw(p1, "cluster", "myid").strip()
        wait_for(lambda: cm_id in raw(p2, "cluster", "nodes") and
                 ",cm-node-1 " in [x for x in raw(p2, "cluster", "nodes").splitlines() if cm_id in x][0], timeout=15)
        line = [x for x in raw(p2, "cluster", "nodes").splitlines() if cm_id in x][0]
        assert line.split()[1] == "127.0.0.1:%d@%d,cm-node-1" % (p1, p1 + 10000), line
        raw(p1, "config", "set", "cluster-announce-port", "7777")
        raw(p1, "config", "set", "cluster-announce-bus-port", str(p1 + 10000))
        raw(p1, "config", "set", "cluster-announce-hostname", "renamed")
        wait_for(lambda: "127.0.0.1:7777@%d,renamed" % (p1 + 10000) in raw(p2, "cluster", "nodes"), timeout=15)
        # and the redis node's hostname reaches Cachemere the same way
        raw(p2, "config", "set", "cluster-announce-hostname", "redis-node")
        ref_id = raw(p2, "cluster", "myid").strip()
        wait_for(lambda: ",redis-node " in [x for x in raw(p1, "cluster", "nodes").splitlines() if ref_id in x][0],
                 timeout=15)
    finally:
        cm.stop()
        ref.stop()


def test_client_list_readonly_flag_and_info(clusters):
    cm, ref = clusters
    for cluster in (cm, ref):
        r = redis.Redis(port=cluster.ports[0], single_connection_client=True)
        r.execute_command("READONLY")
        assert "r" in r.client_info()["flags"]
        r.execute_command("READWRITE")
        assert "r" not in r.client_info()["flags"]
        assert r.info("clients")["cluster_connections"] == 10
        r.close()


@pytest.mark.drill      # make drill (make test at its 12-minute budget)
def test_shard_subscribers_dropped_when_the_slot_leaves():
    """SSUBSCRIBE to a channel of an owned slot; moving the slot away sends the subscriber its sunsubscribe
    (redis removeChannelsInSlot), on Cachemere as on redis-server."""
    seen = []
    for kind in ("cachemere", "redis"):
        cluster = Cluster([kind] * 3, replicas=0)
        try:
            norm, order = normalizer(cluster)
            ids = _ids(cluster, order)
            r0 = redis.Redis(port=order[0])
            slot = r0.execute_command("CLUSTER KEYSLOT", "a0")
            conn = RawConnection(order[0])
            conn.send(b"*2\r\n$10\r\nSSUBSCRIBE\r\n$2\r\na0\r\n")
            first = conn.read_reply()
            for p in order:
                redis.Redis(port=p).execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids["<id1>"])
            second = conn.read_reply()
            conn.send(b"*1\r\n$4\r\nPING\r\n")
            third = conn.read_reply()
            seen.append((first, second, third))
            conn.sock.close()
        finally:
            cluster.stop()
    assert seen[0] == seen[1], seen
    assert seen[0][1] == b"*3\r\n$12\r\nsunsubscribe\r\n$2\r\na0\r\n:0\r\n"


def test_single_node_replies_resp2_and_resp3_match_redis():
    """One node with a few slots: CLUSTER SLOTS / SHARDS / INFO (minus the counters) / NODES fields in RESP2 and
    RESP3 (maps, verbatim strings) byte for byte."""
    from tests.cluster.harness import cluster_ports, start_node
    out = []
    for kind in ("cachemere", "redis"):
        port = cluster_ports(1)[0]
        node = start_node(kind, port)
        try:
            nid = raw(port, "cluster", "myid").strip()
            raw(port, "cluster", "addslotsrange", "0", "100", "200", "300")
            raw(port, "cluster", "addslots", "5000")
            res = []
            for proto_ver in (b"2", b"3"):
                conn = RawConnection(port)
                conn.send(b"*2\r\n$5\r\nHELLO\r\n$1\r\n" + proto_ver + b"\r\n")
                conn.read_reply()
                for cmd in ([b"CLUSTER", b"SLOTS"], [b"CLUSTER", b"SHARDS"], [b"CLUSTER", b"LINKS"],
                            [b"CLUSTER", b"COUNTKEYSINSLOT", b"1"], [b"CLUSTER", b"MYID"], [b"CLUSTER", b"INFO"],
                            [b"INFO", b"cluster"]):
                    conn.send(b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in cmd))
                    res.append(conn.read_reply().replace(nid.encode(), b"<id>").replace(b"%d" % (port + 10000),
                               b"<cport>").replace(b"%d" % port, b"<port>"))
                conn.send(b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nNODES\r\n")
                nodes = conn.read_reply().replace(nid.encode(), b"<id>").replace(b"%d" % (port + 10000),
                                                                                 b"<cport>").replace(b"%d" % port, b"<port>")
                res.append(re.sub(rb" myself,master - 0 \d+ 0 connected", b" myself,master - 0 T 0 connected", nodes))
                conn.sock.close()
            out.append(res)
        finally:
            node.stop()
    assert out[0] == out[1], list(zip(out[0], out[1]))
