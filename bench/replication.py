"""Replication benchmarks, Cachemere side by side with redis-server 7.0 (each primary with replicas of its own kind):

- lag: p50/p99 ms from SET on the primary to the value being readable on every replica, under a paced
  background write load (--rate ops/s of pipelined SETs from a separate process);
- full sync: time for a new replica to be up with a --keys dataset (process start included, both sides);
- throughput: redis-benchmark SET -c 50 -P 16 against the primary with 0 and --replicas replicas.

    python bench/replication.py [--replicas 2] [--rate 50000] [--keys 1000000] [--probes 300] [--quick]
"""
import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.servers import start_cachemere, start_redis, wait_for  # noqa: E402

import redis  # noqa: E402


def start(kind, *args):
    if kind == "cachemere":
        return start_cachemere(*args)
    return start_redis("--repl-diskless-sync-delay", "0", *args)


def cli(srv):
    return redis.Redis(port=srv.port, socket_timeout=60)


def link_up(srv):
    return cli(srv).info("replication").get("master_link_status") == "up"


def paced_load(port, rate, stop_at):
    """SETs in pipelines of rate/100 every 10 ms until stop_at (monotonic)."""
    sock = socket.create_connection(("127.0.0.1", port))
    batch = max(1, rate // 100)
    i = 0
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        parts = []
        for _ in range(batch):
            k = b"load:%d" % (i % 100000)
            parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$8\r\nxxxxxxxx\r\n" % (len(k), k))
            i += 1
        sock.sendall(b"".join(parts))
        need = 5 * batch
        got = 0
        while got < need:
            got += len(sock.recv(1 << 20))
        delay = 0.01 - (time.monotonic() - t0)
        if delay > 0:
            time.sleep(delay)
    sock.close()


def measure_lag(primary, replicas, rate, probes):
    stop_at = time.monotonic() + 3600
    load = multiprocessing.Process(target=paced_load, args=(primary.port, rate, stop_at), daemon=True)
    load.start()
    time.sleep(0.5)
    p = socket.create_connection(("127.0.0.1", primary.port))
    rs = [socket.create_connection(("127.0.0.1", r.port)) for r in replicas]
    lags = []
    try:
        for i in range(probes):
            val = b"%d" % i
            cmd = b"*3\r\n$3\r\nSET\r\n$5\r\nprobe\r\n$%d\r\n%s\r\n" % (len(val), val)
            t0 = time.perf_counter()
            p.sendall(cmd)
            p.recv(64)
            for r in rs:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    r.sendall(b"*2\r\n$3\r\nGET\r\n$5\r\nprobe\r\n")
                    reply = r.recv(64)
                    if reply.endswith(b"\r\n" + val + b"\r\n"):
                        break
            lags.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.01)
    finally:
        load.terminate()
        load.join(5)
        p.close()
        for r in rs:
            r.close()
    lags.sort()
    return statistics.median(lags), lags[int(len(lags) * 0.99) - 1]


def fill(srv, keys):
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$32\r\n%s\r\n" % (len(b"key:%d" % i), i, b"v" * 32)
                    for i in range(keys))
    subprocess.run(["redis-cli", "-p", str(srv.port), "--pipe"], input=data, check=True, stdout=subprocess.DEVNULL,
                   timeout=600)
    assert cli(srv).dbsize() == keys


def measure_full_sync(kind, primary, keys):
    t0 = time.perf_counter()
    rep = start(kind, "--replicaof", "127.0.0.1", primary.port)
    try:
        wait_for(lambda: link_up(rep) and cli(rep).dbsize() == keys, timeout=600, interval=0.05)
        return time.perf_counter() - t0
    finally:
        rep.stop()


def throughput(srv, n):
    out = subprocess.run(["redis-benchmark", "-p", str(srv.port), "-t", "set", "-c", "50", "-P", "16", "-n", str(n),
                          "-r", "100000", "-q"], capture_output=True, text=True, timeout=600).stdout
    # "SET: 123456.79 requests per second, p50=..."
    line = [x for x in out.replace("\r", "\n").splitlines() if x.startswith("SET:")][-1]
    return float(line.split()[1])


def run(kind, args):
    res = {}
    if args.sync_only:
        primary = start(kind)
        try:
            fill(primary, args.keys)
            res["sync"] = measure_full_sync(kind, primary, args.keys)
        finally:
            primary.stop()
        return res
    primary = start(kind)
    replicas = []
    try:
        res["tput0"] = throughput(primary, args.ops)
        replicas = [start(kind, "--replicaof", "127.0.0.1", primary.port) for _ in range(args.replicas)]
        for r in replicas:
            wait_for(lambda: link_up(r), timeout=30)
        res["tputN"] = throughput(primary, args.ops)
        res["lag"] = measure_lag(primary, replicas, args.rate, args.probes)
    finally:
        for r in replicas:
            r.stop()
        primary.stop()
    primary = start(kind)
    try:
        fill(primary, args.keys)
        res["sync"] = measure_full_sync(kind, primary, args.keys)
    finally:
        primary.stop()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--rate", type=int, default=50000)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--probes", type=int, default=300)
    ap.add_argument("--ops", type=int, default=500000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sync-only", action="store_true", help="only the full sync of --keys keys")
    args = ap.parse_args()
    if args.quick:
        args.keys, args.probes, args.ops, args.rate = 100000, 100, 200000, 20000
    if not shutil.which("redis-benchmark"):
        sys.exit("redis-benchmark not found")
    results = {kind: run(kind, args) for kind in ("cachemere", "redis")}
    c, r = results["cachemere"], results["redis"]
    if args.sync_only:
        print("full sync s (%d keys): cachemere %.2f redis %.2f ratio %.2f"
              % (args.keys, c["sync"], r["sync"], c["sync"] / r["sync"]))
        return
    print("replicas=%d rate=%d ops/s keys=%d" % (args.replicas, args.rate, args.keys))
    print("%-34s %14s %14s %8s" % ("", "cachemere", "redis", "ratio"))
    rows = [("lag p50 ms", c["lag"][0], r["lag"][0]), ("lag p99 ms", c["lag"][1], r["lag"][1]),
            ("full sync s (%d keys)" % args.keys, c["sync"], r["sync"]),
            ("SET -P16 rps, 0 replicas", c["tput0"], r["tput0"]),
            ("SET -P16 rps, %d replicas" % args.replicas, c["tputN"], r["tputN"])]
    for label, a, b in rows:
        print("%-34s %14.2f %14.2f %8.2f" % (label, a, b, a / b if b else float("nan")))
    print("%-34s %14.2f %14.2f" % ("replication cost (tputN/tput0)", c["tputN"] / c["tput0"], r["tputN"] / r["tput0"]))


if __name__ == "__main__":
    main()
