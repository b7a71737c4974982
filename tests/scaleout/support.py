"""Three-node setups for the scale-out tests: Cachemere nodes (RESP + memcached on one process), the same
shape out of real redis-server + memcached, and nutcracker (twemproxy) in front, all on free loopback ports.

conf/nutcracker.yml is the documented configuration; the tests run that file with its ports rewritten, so
what is tested is what is documented.
"""
import os
import re
import shutil
import tempfile

from tests.support.servers import ROOT, ServerProcess, free_port, start_cachemere, start_memcached, start_redis

NUTCRACKER = shutil.which("nutcracker") or "/usr/sbin/nutcracker"
CONF = os.path.join(ROOT, "conf", "nutcracker.yml")
DOC_REDIS_PORTS = (7001, 7002, 7003)
DOC_MC_PORTS = (11301, 11302, 11303)
DOC_LISTEN = (22121, 22122)


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


def nutcracker_conf(nodes, redis_listen, mc_listen, redis_extra=(), **overrides):
    """conf/nutcracker.yml with the documented ports replaced by the given ones, option overrides (both
    pools) and extra option lines for the redis pool (e.g. "redis_auth: pw")."""
    with open(CONF) as f:
        text = f.read()
    mapping = {f"127.0.0.1:{DOC_LISTEN[0]}": f"127.0.0.1:{redis_listen}",
               f"127.0.0.1:{DOC_LISTEN[1]}": f"127.0.0.1:{mc_listen}"}
    for doc, node in zip(DOC_REDIS_PORTS, nodes):
        mapping[f"127.0.0.1:{doc}:"] = f"127.0.0.1:{node.port}:"
    for doc, node in zip(DOC_MC_PORTS, nodes):
        mapping[f"127.0.0.1:{doc}:"] = f"127.0.0.1:{node.mc_port}:"
    for old, new in mapping.items():
        assert old in text, old
        text = text.replace(old, new)
    for key, value in overrides.items():
        text = re.sub(rf"(?m)^(\s+{key}:).*$", rf"\g<1> {value}", text)
    for line in redis_extra:
        text = text.replace("  redis: true\n", f"  redis: true\n  {line}\n", 1)
    return text


class Nutcracker(ServerProcess):
    """nutcracker running conf/nutcracker.yml against nodes: .port (redis pool), .mc_port (memcache pool)."""

    def __init__(self, nodes, redis_extra=(), **overrides):
        workdir = tempfile.mkdtemp(prefix="nutcracker-")
        self.mc_port = free_port()
        port = free_port()
        self.stats_port = free_port()
        conf = os.path.join(workdir, "nutcracker.yml")
        with open(conf, "w") as f:
            f.write(nutcracker_conf(nodes, port, self.mc_port, redis_extra, **overrides))
        log = os.path.join(workdir, "nutcracker.log")
        argv = [NUTCRACKER, "-c", conf, "-s", str(self.stats_port), "-a", "127.0.0.1", "-o", log,
                "-p", os.path.join(workdir, "nutcracker.pid"), "-v", "6"]
        super().__init__(argv, port, workdir, os.path.join(workdir, "stdout.log"), extra_ports=(self.mc_port,))
        self.nutcracker_log = log

    def log(self):
        with open(self.nutcracker_log, "rb") as f:
            return f.read().decode("utf-8", "replace")
