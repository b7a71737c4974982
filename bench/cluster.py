"""Cluster benchmarks, a 3-primary Cachemere cluster side by side with a 3-primary redis-server 7.0 cluster (both
made by `redis-cli --cluster create` on this machine):

- throughput: `redis-benchmark --cluster` SET/GET (-c 50, -P --pipeline), requests/s and the ratio;
- reshard: --keys keys loaded (each node gets its slots' keys through redis-cli --pipe), then
  `redis-cli --cluster reshard` of --slots slots from the first primary to the second, wall time and ratio.

    python bench/cluster.py [--requests 200000] [--pipeline 16] [--keys 1000000] [--slots 5461] [--quick]
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.cluster.harness import Cluster, REDIS_CLI, cli, raw  # noqa: E402
from engine.slots import key_hash_slot  # noqa: E402


def owners(port):
    """slot -> port of its primary."""
    table = [0] * 16384
    for line in raw(port, "cluster", "nodes").splitlines():
        f = line.split()
        if "master" not in f[2]:
            continue
        p = int(f[1].split("@")[0].rsplit(":", 1)[1])
        for r in f[8:]:
            if r.startswith("["):
                continue
            a, _, b = r.partition("-")
            for j in range(int(a), int(b or a) + 1):
                table[j] = p
    return table


def load(cluster, nkeys):
    table = owners(cluster.ports[0])
    per = {}
    for i in range(nkeys):
        k = b"key:%d" % i
        per.setdefault(table[key_hash_slot(k)], []).append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$6\r\nvalue!\r\n" % (len(k), k))
    for port, cmds in per.items():
        subprocess.run([REDIS_CLI, "-p", str(port), "--pipe"], input=b"".join(cmds), capture_output=True,
                       timeout=600, check=True)


def benchmark(port, test, requests, pipeline):
    out = subprocess.run(["redis-benchmark", "--cluster", "-p", str(port), "-t", test, "-n", str(requests), "-c", "50",
                          "-P", str(pipeline), "-r", "100000", "-q"], capture_output=True, text=True, timeout=600).stdout
    m = re.findall(r"([\d.]+) requests per second", out)
    return float(m[-1]) if m else 0.0


def reshard(cluster, slots):
    ids = [raw(p, "cluster", "myid").strip() for p in cluster.ports]
    t0 = time.monotonic()
    cli("--cluster", "reshard", "127.0.0.1:%d" % cluster.ports[0], "--cluster-from", ids[0], "--cluster-to", ids[1],
        "--cluster-slots", slots, "--cluster-yes", "--cluster-pipeline", 100, timeout=3600)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--slots", type=int, default=5461)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.requests, args.keys, args.slots = 50000, 100000, 1000
    results = {}
    for kind in ("cachemere", "redis"):
        cluster = Cluster([kind] * 3, replicas=0, node_timeout=15000)
        try:
            res = results[kind] = {}
            for test in ("set", "get"):
                res[test] = benchmark(cluster.ports[0], test, args.requests, args.pipeline)
                res[test + " P1"] = benchmark(cluster.ports[0], test, args.requests // 4, 1)
            subprocess.run([REDIS_CLI, "-c", "-p", str(cluster.ports[0]), "flushall"], capture_output=True)
            for p in cluster.ports:
                raw(p, "flushall")
            t0 = time.monotonic()
            load(cluster, args.keys)
            res["load s"] = time.monotonic() - t0
            res["reshard s"] = reshard(cluster, args.slots)
            res["moved keys"] = int(raw(cluster.ports[1], "dbsize").strip())
        finally:
            cluster.stop()
    c, r = results["cachemere"], results["redis"]
    print("%-22s %14s %14s %8s" % ("", "cachemere", "redis", "ratio"))
    for k in c:
        if k.endswith(" s"):
            print("%-22s %13.2fs %13.2fs %8.2f" % (k, c[k], r[k], c[k] / r[k] if r[k] else 0))
        elif k == "moved keys":
            print("%-22s %14d %14d" % ("keys on node 2 after", c[k], r[k]))
        else:
            print("%-22s %12.0f/s %12.0f/s %8.2f" % (k + " (--cluster)", c[k], r[k], c[k] / r[k] if r[k] else 0))
    print("(%d keys, reshard of %d slots from primary 1 to primary 2; redis-benchmark -c 50 -P %d)"
          % (args.keys, args.slots, args.pipeline))


if __name__ == "__main__":
    main()
