"""Smoke drill: three stock redis-sentinel processes (quorum 2) fail over a Cachemere group after kill -9 of the
primary; the others are repointed and continue partially (the full drills with load and redis-py's Sentinel are
the sentinel work's)."""
import os
import shutil
import subprocess
import tempfile

import pytest
import redis

from tests.replication.helpers import client, info_repl, wait_link_up
from tests.replication.test_replication import procs, replica_of  # noqa: F401  (fixture)
from tests.support.servers import free_port, wait_for, wait_for_port


@pytest.mark.drill
@pytest.mark.skipif(not shutil.which("redis-sentinel"), reason="redis-sentinel not installed")
def test_sentinel_promotes_a_cachemere_replica(procs):
    cm, _ = procs
    primary = cm()
    replicas = [cm(*replica_of(primary)) for _ in range(2)]
    for r in replicas:
        wait_link_up(r)
    for i in range(100):
        client(primary).set("k%d" % i, i)
    sentinels = []
    workdir = tempfile.mkdtemp(prefix="sentinel-")
    try:
        for _ in range(3):
            port = free_port()
            conf = os.path.join(workdir, "s%d.conf" % port)
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor m 127.0.0.1 %d 2\n"
                        "sentinel down-after-milliseconds m 1000\nsentinel failover-timeout m 5000\n"
                        % (port, workdir, primary.port))
            log = open(os.path.join(workdir, "s%d.log" % port), "wb")
            sentinels.append((subprocess.Popen(["redis-sentinel", conf], stdout=log, stderr=subprocess.STDOUT), port))
            wait_for_port(port)
        s = redis.Redis(port=sentinels[0][1])
        wait_for(lambda: s.sentinel_master("m")["num-slaves"] == 2 and s.sentinel_master("m")["num-other-sentinels"] == 2,
                 timeout=20, interval=0.2)
        primary.kill9()
        wait_for(lambda: s.sentinel_get_master_addr_by_name("m")[1] != primary.port, timeout=30, interval=0.2)
        new_port = int(s.sentinel_get_master_addr_by_name("m")[1])
        new = next(r for r in replicas if r.port == new_port)
        other = next(r for r in replicas if r.port != new_port)
        wait_for(lambda: info_repl(new)["role"] == "master", timeout=10)
        wait_for(lambda: info_repl(other).get("master_port") == new_port, timeout=20, interval=0.2)
        wait_link_up(other)
        assert client(new).info("stats")["sync_full"] == 0
        assert client(other).get("k99") == b"99"
    finally:
        for p, _ in sentinels:
            p.terminate()
            p.wait(10)
