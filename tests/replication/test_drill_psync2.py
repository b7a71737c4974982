"""psync2-style drill (the idea of redis tests/integration/psync2.tcl): five Cachemere nodes, the primary switched
at random every couple of seconds with FAILOVER TO (the others repointed with REPLICAOF), replica links cut with
CLIENT KILL TYPE replica, under a steady INCR load that retries on -READONLY. At the end every node holds the same
data, no acknowledged increment is lost, and no full resync happened after the initial ones."""
import random
import threading
import time

import pytest
import redis

from tests.replication.helpers import client, info_repl, wait_link_up, wait_caught_up, dataset
from tests.replication.test_replication import procs, replica_of  # noqa: F401  (fixture)
from tests.support.servers import wait_for

DURATION = 25


@pytest.mark.drill
def test_psync2_drill(procs):
    cm, _ = procs
    nodes = [cm()]
    nodes += [cm(*replica_of(nodes[0])) for _ in range(4)]
    for n in nodes[1:]:
        wait_link_up(n)
    initial_full = sum(client(n).info("stats")["sync_full"] for n in nodes)
    assert initial_full == 4
    state = {"primary": nodes[0], "acked": 0, "stop": False, "readonly": 0}

    def load():
        while not state["stop"]:
            srv = state["primary"]
            try:
                client(srv).incr("counter")
                state["acked"] += 1
                client(srv).set("key:%d" % random.randrange(1000), time.time())
            except redis.ReadOnlyError:
                state["readonly"] += 1
                time.sleep(0.01)
            time.sleep(0.001)
    t = threading.Thread(target=load, daemon=True)
    t.start()
    rnd = random.Random(13)
    switches = cuts = 0
    deadline = time.monotonic() + DURATION
    try:
        while time.monotonic() < deadline:
            time.sleep(rnd.uniform(1.0, 2.0))
            primary = state["primary"]
            target = rnd.choice([n for n in nodes if n is not primary])
            if info_repl(target).get("master_port") != primary.port:
                client(target).replicaof("127.0.0.1", primary.port)
            wait_link_up(target)
            wait_for(lambda: any(s["port"] == target.port and s["state"] == "online"
                                 for k, s in info_repl(primary).items() if k.startswith("slave") and k[5:].isdigit()),
                     timeout=10)
            assert client(primary).execute_command("FAILOVER", "TO", "127.0.0.1", target.port, "TIMEOUT", 5000) == b"OK"
            wait_for(lambda: info_repl(target)["role"] == "master", timeout=10)
            state["primary"] = target
            switches += 1
            for n in nodes:
                if n is not target and info_repl(n).get("master_port") != target.port:
                    client(n).replicaof("127.0.0.1", target.port)
            if rnd.random() < 0.7:
                victim = rnd.choice(nodes)
                client(victim).client_kill_filter(_type="replica")
                cuts += 1
    finally:
        state["stop"] = True
        t.join(10)
    primary = state["primary"]
    for n in nodes:
        if n is not primary:
            wait_link_up(n, timeout=20)
            wait_caught_up(primary, n, timeout=20)
    data = dataset(primary, dbs=(0,))
    for n in nodes:
        assert dataset(n, dbs=(0,)) == data
    assert int(client(primary).get("counter")) == state["acked"]
    total_full = sum(client(n).info("stats")["sync_full"] for n in nodes)
    partial = sum(client(n).info("stats")["sync_partial_ok"] for n in nodes)
    print("switches=%d cuts=%d acked=%d readonly-retries=%d full=%d partial=%d"
          % (switches, cuts, state["acked"], state["readonly"], total_full, partial))
    assert switches >= 5
    assert total_full == initial_full
