"""Real clusters for the tests: Cachemere and/or redis-server nodes (cluster-enabled yes) on loopback ports whose
bus port (port+10000) is free too, joined by the stock `redis-cli --cluster create`."""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

from tests.support.servers import CACHEMERE, ServerProcess

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def cluster_ports(n):
    """n consecutive-ish ports p with p and p+10000 free (p in 20000..45000)."""
    for _ in range(200):
        base = random.randrange(20000, 45000 - n)
        ports = list(range(base, base + n))
        if all(_port_free(p) and _port_free(p + 10000) for p in ports):
            return ports
    raise RuntimeError("no free ports for a cluster")


def start_node(kind, port, node_timeout=2000, extra=(), workdir=None):
    workdir = workdir or tempfile.mkdtemp(prefix="cluster-%s-%d-" % (kind, port))
    common = ["--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
              "--cluster-node-timeout", str(node_timeout), "--save", "", "--appendonly", "no",
              "--dir", workdir] + [str(a) for a in extra]
    if kind == "redis":
        argv = [REDIS_SERVER] + common
        log = os.path.join(workdir, "redis.log")
    else:
        argv = [CACHEMERE] + common + ["--memcached-port", "0"]
        log = os.path.join(workdir, "server.log")
    srv = ServerProcess(argv, port, workdir, log)
    srv.kind = kind
    return srv


def cli(*args, timeout=120, check=True):
    res = subprocess.run([REDIS_CLI] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError("redis-cli %s failed: %s%s" % (" ".join(map(str, args)), res.stdout, res.stderr))
    return res


def raw(port, *args):
    r = cli("-p", port, *args, check=False)
    return r.stdout


class Cluster:
    def __init__(self, kinds, replicas=0, node_timeout=2000, extra=()):
        self.replicas = replicas * (len(kinds) // (replicas + 1))
        for attempt in range(3):          # a port taken between the check and the bind: new ports
            self.ports = cluster_ports(len(kinds))
            self.nodes = []
            try:
                for kind, port in zip(kinds, self.ports):
                    self.nodes.append(start_node(kind, port, node_timeout, extra))
                break
            except RuntimeError:
                self.stop()
                if attempt == 2:
                    raise
        try:
            cli("--cluster", "create", *["127.0.0.1:%d" % p for p in self.ports], "--cluster-replicas", replicas,
                "--cluster-yes")
            self.wait_ok()
        except BaseException:
            self.stop()
            raise

    def wait_ok(self, timeout=30, ports=None, replicas=None):
        want = self.replicas if replicas is None else replicas
        deadline = time.monotonic() + timeout
        ports = ports or [n.port for n in self.nodes if n.proc.poll() is None]
        while time.monotonic() < deadline:
            if all("cluster_state:ok" in raw(p, "cluster", "info") for p in ports):
                # every node agrees on the slot owners
                views = [slots_view(p) for p in ports]
                slaves = [raw(p, "cluster", "nodes").count(" slave ") + raw(p, "cluster", "nodes").count(",slave ")
                          for p in ports]
                if all(v == views[0] for v in views) and all(n >= want for n in slaves):
                    return
            time.sleep(0.1)
        raise AssertionError("cluster did not reach ok: " + " | ".join(raw(p, "cluster", "nodes") for p in ports))

    def stop(self):
        for n in self.nodes:
            try:
                n.stop()
            except Exception:
                pass
            shutil.rmtree(n.dir, ignore_errors=True)


def slots_view(port):
    out = raw(port, "cluster", "nodes")
    view = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and "master" in f[2] and "fail" not in f[2]:
            view.append((f[0], tuple(x for x in f[8:] if not x.startswith("["))))
    return sorted(view)


def node_ids(port):
    """{port: node id} as a node sees its cluster."""
    out = {}
    for line in raw(port, "cluster", "nodes").splitlines():
        f = line.split()
        if len(f) >= 8:
            hp = f[1].split("@")[0]
            out[int(hp.rsplit(":", 1)[1])] = f[0]
    return out
