"""Three-node setups for the scale-out tests: Cachemere nodes (RESP + memcached on one process), the same
shape out of real redis-server + memcached, and nutcracker (twemproxy) in front, all on free loopback ports.

conf/nutcracker.yml is the documented configuration; the tests run that file with its ports rewritten, so
what is tested is what is documented.
"""
import os
import shutil
import tempfile

from tests.support.servers import ServerProcess, free_port, start_cachemere, start_memcached, start_redis
from tools.scaleout import nutcracker_conf

NUTCRACKER = shutil.which("nutcracker") or "/usr/sbin/nutcracker"


class Node:
    """One backend: .port (RESP), .mc_port (memcached), .procs (what to stop), .alive."""

    def __init__(self, port, mc_port, procs):
        self.port, self.mc_port, self.procs = port, mc_port, procs

    def kill9(self):
        for p in self.procs:
            p.kill9()

    def stop(self):
        for p in self.procs:
            p.stop()


def start_cachemere_nodes(n=3, *args):
    nodes = []
    try:
        for _ in range(n):
            srv = start_cachemere(*args, memcached=True)
            nodes.append(Node(srv.port, srv.mc_port, [srv]))
    except Exception:
        stop_all(nodes)
        raise
    return nodes


def start_reference_nodes(n=3):
    """n pairs of real redis-server + memcached, in the same shape as the Cachemere nodes."""
    nodes = []
    try:
        for _ in range(n):
            r = start_redis()
            try:
                m = start_memcached()
            except Exception:
                r.stop()
                raise
            nodes.append(Node(r.port, m.port, [r, m]))
    except Exception:
        stop_all(nodes)
        raise
    return nodes


def stop_all(things):
    for t in things:
        try:
            t.stop()
        except Exception:
            pass


class Nutcracker(ServerProcess):
    """nutcracker running conf/nutcracker.yml against nodes: .port (redis pool), .mc_port (memcache pool)."""

    def __init__(self, nodes, redis_extra=(), **overrides):
        workdir = tempfile.mkdtemp(prefix="nutcracker-")
        self.mc_port = free_port()
        port = free_port()
        self.stats_port = free_port()
        conf = os.path.join(workdir, "nutcracker.yml")
        with open(conf, "w") as f:
            f.write(nutcracker_conf([n.port for n in nodes], [n.mc_port for n in nodes], port, self.mc_port,
                                    redis_extra, **overrides))
        log = os.path.join(workdir, "nutcracker.log")
        argv = [NUTCRACKER, "-c", conf, "-s", str(self.stats_port), "-a", "127.0.0.1", "-o", log,
                "-p", os.path.join(workdir, "nutcracker.pid"), "-v", "6"]
        super().__init__(argv, port, workdir, os.path.join(workdir, "stdout.log"), extra_ports=(self.mc_port,))
        self.nutcracker_log = log

    def log(self):
        with open(self.nutcracker_log, "rb") as f:
            return f.read().decode("utf-8", "replace")
