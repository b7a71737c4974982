"""tools/nutcracker-group: three nodes and the proxy in one command, usable through both pools and auto
discovery, and stopped again (only the processes it started)."""
import os
import random
import socket
import subprocess
import sys

import pytest
import redis
from pymemcache.client.base import Client as McClient

from tests.scaleout.support import NUTCRACKER
from tests.scaleout.test_nutcracker import proxy_client
from tests.support.servers import CACHEMERE, ROOT

TOOL = os.path.join(ROOT, "tools", "nutcracker-group")


def free_run(n, tries=50):
    """A base port with n consecutive free ports (and base+100 for the stats port)."""
    for _ in range(tries):
        base = random.randrange(20000, 50000)
        ports = list(range(base, base + n)) + [base + 100]
        try:
            socks = []
            for p in ports:
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    raise RuntimeError("no free port range")


@pytest.mark.skipif(not os.path.exists(NUTCRACKER), reason="nutcracker not installed (make deps-apt)")
def test_group_start_use_stop(tmp_path):
    resp, mc, proxy = free_run(3), free_run(3), free_run(2)
    d = str(tmp_path / "group")

    def run(*args):
        return subprocess.run([sys.executable, TOOL, *args, "--dir", d], capture_output=True, text=True, timeout=60)

    out = run("start", "--port", str(resp), "--mc-port", str(mc), "--proxy-port", str(proxy),
              "--server", CACHEMERE)
    try:
        assert out.returncode == 0, out.stderr + out.stdout
        r = proxy_client(proxy)
        for i in range(60):
            assert r.set(f"g:{i}", i)
        counts = [redis.Redis(port=resp + i).dbsize() for i in range(3)]
        assert sum(counts) == 60 and min(counts) > 0, counts
        m = McClient(("127.0.0.1", proxy + 1), timeout=5)
        assert m.get("g:7") == b"7"                  # same keyspace, same ring positions as the redis pool
        with socket.create_connection(("127.0.0.1", mc + 2), timeout=5) as s:
            s.sendall(b"config get cluster\r\n")
            reply = b""
            while not reply.endswith(b"END\r\n"):
                reply += s.recv(4096)
        assert f"node1.local|127.0.0.1|{mc} node2.local|127.0.0.1|{mc + 1} node3.local|127.0.0.1|{mc + 2}\n".encode() \
            in reply
        assert "running" in run("status").stdout
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0 and "stopped 4 processes" in stopped.stdout
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy), timeout=1).close()
