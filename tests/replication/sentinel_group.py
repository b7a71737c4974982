"""A replication group watched by the stock redis-sentinel, for the failover drills: real processes on
loopback (a primary, N replicas, three sentinels), a write load through redis-py's Sentinel.master_for()
(plain SET, and SET + WAIT), reads through slave_for(), and the figures a drill reports.

``kind`` is "cachemere" or "redis" so the same drill runs against redis-server for comparison."""
import os
import shutil
import signal
import tempfile
import threading
import time

import redis
from redis.sentinel import Sentinel

from tests.support.servers import ServerProcess, free_port, start_cachemere, start_redis, wait_for

SENTINEL_BIN = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
NAME = "mymaster"


def start_node(kind, *args):
    if kind == "redis":
        return start_redis("--repl-diskless-sync-delay", "0", *args)
    return start_cachemere(*args)


def start_sentinel(master_port, quorum=2, down_after_ms=1000, failover_timeout_ms=3000, parallel_syncs=1):
    workdir = tempfile.mkdtemp(prefix="sentinel-")
    port = free_port()
    conf = os.path.join(workdir, "sentinel.conf")
    with open(conf, "w") as f:
        f.write("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n" % (port, workdir))
        f.write("sentinel monitor %s 127.0.0.1 %d %d\n" % (NAME, master_port, quorum))
        f.write("sentinel down-after-milliseconds %s %d\n" % (NAME, down_after_ms))
        f.write("sentinel failover-timeout %s %d\n" % (NAME, failover_timeout_ms))
        f.write("sentinel parallel-syncs %s %d\n" % (NAME, parallel_syncs))
    return ServerProcess([SENTINEL_BIN, conf], port, workdir, os.path.join(workdir, "sentinel.log"))


def rc(srv, timeout=2):
    return redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=timeout, socket_connect_timeout=timeout)


class Group:
    """primary + replicas + sentinels; stop() stops every process it started (SIGCONT first)."""

    def __init__(self, kind="cachemere", replicas=2, sentinels=3, node_args=(), replica_args=None, **sentinel_kw):
        self.kind = kind
        self.nodes = []
        self.sentinels = []
        try:
            self.primary = self._node(*node_args)
            self.replicas = [self._node("--replicaof", "127.0.0.1", self.primary.port, *node_args,
                                        *(replica_args[i] if replica_args else ()))
                             for i in range(replicas)]
            for r in self.replicas:
                wait_for(lambda: rc(r).info("replication").get("master_link_status") == "up", timeout=15)
            for _ in range(sentinels):
                self.sentinels.append(start_sentinel(self.primary.port, **sentinel_kw))
            self.wait_discovered()
        except Exception:
            self.stop()
            raise
        self.by_port = {n.port: n for n in self.nodes}

    def _node(self, *args):
        srv = start_node(self.kind, *args)
        self.nodes.append(srv)
        return srv

    def wait_discovered(self, timeout=20):
        """Every sentinel knows every replica (with fresh INFO) and the other sentinels."""
        n_rep, n_sen = len(self.replicas), len(self.sentinels) - 1

        def ready():
            for s in self.sentinels:
                c = rc(s)
                reps = c.sentinel_slaves(NAME)
                if len(reps) != n_rep or len(c.sentinel_sentinels(NAME)) != n_sen:
                    return False
                for d in reps:
                    if d["master-link-status"] != "ok" or d["is_disconnected"] or d["is_sdown"]:
                        return False
            return True
        wait_for(ready, timeout=timeout, interval=0.1)

    def sentinel_client(self, **kw):
        return Sentinel([("127.0.0.1", s.port) for s in self.sentinels], socket_timeout=0.5,
                        socket_connect_timeout=0.5, **kw)

    def master_addr(self):
        """The primary as the sentinels report it (the first one that answers)."""
        for s in self.sentinels:
            try:
                host, port = rc(s, 0.5).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME)
                return host.decode(), int(port)
            except (redis.RedisError, OSError, TypeError):
                continue
        return None

    def sentinel_log(self):
        return "\n".join(s.log() for s in self.sentinels)

    def stop(self):
        for srv in reversed(self.sentinels + self.nodes):
            if srv.proc.poll() is None:
                try:
                    os.kill(srv.proc.pid, signal.SIGCONT)
                except OSError:
                    pass
            srv.stop()


class Load:
    """Writer threads through master_for(): plain SET p:<i> and SET w:<i> + WAIT <wait_n> <wait_ms> (acked only if
    WAIT reached wait_n replicas); a reader through slave_for(). Every operation bounded by socket timeouts."""

    def __init__(self, group, wait_n=1, wait_ms=200, seed_keys=50):
        self.sentinel = group.sentinel_client()
        self.master = self.sentinel.master_for(NAME, socket_timeout=wait_ms / 1000.0 + 1, socket_connect_timeout=0.5)
        self.replica = self.sentinel.slave_for(NAME, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.wait_n, self.wait_ms = wait_n, wait_ms
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.acked = {"p": [], "w": []}          # (index, monotonic time of the ack)
        self.errors = {"p": 0, "w": 0, "read": 0}
        self.reads_ok = []                       # monotonic times of good reads
        self.seed_keys = seed_keys
        p = self.master.pipeline(transaction=False)
        for i in range(seed_keys):
            p.set("seed:%d" % i, i)
        p.execute()
        self.master.execute_command("WAIT", len(group.replicas), 5000)
        self.threads = [threading.Thread(target=self._write, args=("p",), daemon=True),
                        threading.Thread(target=self._write, args=("w",), daemon=True),
                        threading.Thread(target=self._read, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _write(self, kind):
        i = 0
        while not self.stop_flag.is_set():
            key = "%s:%d" % (kind, i)
            try:
                if kind == "p":
                    self.master.set(key, i)
                    ok = True
                else:
                    p = self.master.pipeline(transaction=False)
                    p.set(key, i)
                    p.execute_command("WAIT", self.wait_n, self.wait_ms)
                    ok = p.execute()[1] >= self.wait_n
                    if not ok:      # fewer replicas than expected: ask the sentinels again on the next write
                        self.master.connection_pool.disconnect()
                if ok:
                    with self.lock:
                        self.acked[kind].append((i, time.monotonic()))
            except (redis.RedisError, OSError):
                with self.lock:
                    self.errors[kind] += 1
                time.sleep(0.02)
            i += 1

    def _read(self):
        i = 0
        while not self.stop_flag.is_set():
            try:
                v = self.replica.get("seed:%d" % (i % self.seed_keys))
                if v is not None and int(v) == i % self.seed_keys:
                    self.reads_ok.append(time.monotonic())
            except (redis.RedisError, OSError):
                self.errors["read"] += 1
                time.sleep(0.02)
            i += 1
            time.sleep(0.002)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(10)

    def missing(self, node, kind, before=None):
        """Acknowledged keys of one writer (acked before `before`, if given) absent from node."""
        with self.lock:
            idx = [i for i, t in self.acked[kind] if before is None or t < before]
        c = rc(node, 10)
        lost = []
        for start in range(0, len(idx), 1000):
            chunk = idx[start:start + 1000]
            vals = c.mget(["%s:%d" % (kind, i) for i in chunk])
            lost += [i for i, v in zip(chunk, vals) if v is None]
        return len(idx), lost


def sync_stats(nodes):
    """(sum of sync_full, sum of sync_partial_ok) over nodes that answer."""
    full = partial = 0
    for n in nodes:
        st = rc(n).info("stats")
        full += st["sync_full"]
        partial += st["sync_partial_ok"]
    return full, partial


def wait_repointed(group, new_primary, survivors, timeout=20):
    """Every surviving replica replicates from new_primary with its link up."""
    def done():
        for n in survivors:
            info = rc(n).info("replication")
            if info.get("role") != "slave" or info.get("master_port") != new_primary.port \
                    or info.get("master_link_status") != "up":
                return False
        return True
    wait_for(done, timeout=timeout, interval=0.05)


def wait_same_offset(primary, replicas, timeout=15):
    def done():
        off = rc(primary).info("replication")["master_repl_offset"]
        return all(rc(r).info("replication").get("slave_repl_offset", -1) >= off for r in replicas)
    wait_for(done, timeout=timeout, interval=0.05)


def kill_drill(group, write_s=1.5, after_s=2.0, promote_timeout=20):
    """kill -9 the primary under the load; returns the figures (dict). Asserts what must hold."""
    old = group.primary
    survivors = list(group.replicas)
    full0, partial0 = sync_stats(survivors)
    initial_full = sync_stats([old])[0]
    load = Load(group, wait_n=1).start()
    time.sleep(write_s)
    t_kill = time.monotonic()
    old.kill9()
    t_dead = time.monotonic()            # acks received before this may come from the old primary
    addr = None
    while time.monotonic() - t_kill < promote_timeout:
        addr = group.master_addr()
        if addr is not None and addr[1] != old.port:
            break
        time.sleep(0.02)
    t_promoted = time.monotonic()
    assert addr is not None and addr[1] != old.port, "no promotion within %ss:\n%s" % (
        promote_timeout, group.sentinel_log()[-3000:])
    new = group.by_port[addr[1]]
    others = [n for n in survivors if n is not new]
    wait_repointed(group, new, others)
    t_repointed = time.monotonic()
    # writes through master_for resumed on the new primary, reads through slave_for kept working
    n_acked = len(load.acked["p"])
    wait_for(lambda: len(load.acked["p"]) > n_acked + 20, timeout=10)
    time.sleep(after_s)
    gap = max_ack_gap(load, "p")
    load.stop()
    wait_same_offset(new, others)
    acked_p, lost_p = load.missing(new, "p", before=t_dead)
    acked_w, lost_w = load.missing(new, "w", before=t_dead)
    _, lost_all = load.missing(new, "p")
    assert lost_all == lost_p, "writes acknowledged after the kill are missing: %s (before: %s)" % (
        sorted(set(lost_all) - set(lost_p))[:20], lost_p[:20])
    for n in others:                       # every survivor holds what the new primary holds
        for kind in ("p", "w"):
            assert load.missing(n, kind)[1] == load.missing(new, kind)[1]
    assert rc(new).info("replication")["role"] == "master"
    full1, partial1 = sync_stats(survivors)
    reads_after = [t for t in load.reads_ok if t > t_repointed]
    assert reads_after, "no read through slave_for() after the failover"
    return {
        "kind": group.kind, "replicas": len(survivors), "promoted_port": new.port,
        "promotion_s": round(t_promoted - t_kill, 2),
        "repointed_s": round(t_repointed - t_kill, 2),
        "write_outage_s": round(gap, 2),
        "acked_before_kill": acked_p, "lost": len(lost_p),
        "acked_before_kill_wait1": acked_w, "lost_wait1": len(lost_w),
        "initial_full_syncs": initial_full,
        "full_resyncs_after_kill": full1 - full0, "partial_resyncs_after_kill": partial1 - partial0,
        "write_errors": dict(load.errors), "reads_ok": len(load.reads_ok),
        "reads_ok_after_repoint": len(reads_after),
    }



def max_ack_gap(load, kind):
    """The longest time between two consecutive acknowledged writes (the write outage)."""
    with load.lock:
        ts = sorted(t for _, t in load.acked[kind])
    return max((b - a for a, b in zip(ts, ts[1:])), default=0.0)


def manual_failover_drill(group, write_s=1.5, after_s=1.0, timeout=40):
    """SENTINEL FAILOVER (nothing killed) under the load. Writes acknowledged by WAIT <every replica> must all
    survive (the promoted replica had them); plain SETs that reached the old primary after the promotion are
    reported (stock sentinel demotes the old primary only after it has seen it as a master for a while)."""
    old = group.primary
    nodes = [old] + list(group.replicas)
    full0, partial0 = sync_stats(nodes)
    load = Load(group, wait_n=len(group.replicas), wait_ms=500).start()
    time.sleep(write_s)
    t0 = time.monotonic()
    assert rc(group.sentinels[0]).execute_command("SENTINEL", "FAILOVER", NAME) == b"OK"
    addr = None
    while time.monotonic() - t0 < timeout:
        addr = group.master_addr()
        if addr is not None and addr[1] != old.port:
            break
        time.sleep(0.02)
    t_promoted = time.monotonic()
    assert addr is not None and addr[1] != old.port, group.sentinel_log()[-3000:]
    new = group.by_port[addr[1]]
    others = [n for n in nodes if n is not new]
    wait_repointed(group, new, others, timeout=timeout)
    t_repointed = time.monotonic()
    n_acked = len(load.acked["w"])
    wait_for(lambda: len(load.acked["w"]) > n_acked + 10, timeout=10)
    time.sleep(after_s)
    load.stop()
    wait_same_offset(new, others)
    acked_w, lost_w = load.missing(new, "w")
    acked_p, lost_p = load.missing(new, "p")
    for n in others:
        assert load.missing(n, "w")[1] == lost_w
    full1, partial1 = sync_stats(nodes)
    return {
        "kind": group.kind, "replicas": len(group.replicas),
        "promotion_s": round(t_promoted - t0, 2), "all_repointed_s": round(t_repointed - t0, 2),
        "write_outage_s": round(max_ack_gap(load, "p"), 2), "wait_all_outage_s": round(max_ack_gap(load, "w"), 2),
        "acked_wait_all": acked_w, "lost_wait_all": len(lost_w),
        "acked_plain": acked_p, "lost_plain": len(lost_p),
        "full_resyncs": full1 - full0, "partial_resyncs": partial1 - partial0,
        "write_errors": dict(load.errors), "reads_ok": len(load.reads_ok),
    }
