"""What the cluster slot index costs: bytes per key and SET/GET throughput with the index on vs off.

    python bench/slots.py [--keys 1000000] [--requests 1000000] [--rounds 3] [--skip-memory] [--skip-throughput]

Memory: N keys (16-byte keys, 32-byte values) loaded with pipelined raw RESP into a Cachemere with the
index off, a Cachemere with it on (DEBUG SLOT-INDEX ENABLE before the load, as cluster mode does at
startup), a plain redis-server and a redis-server with cluster-enabled yes owning all 16384 slots (whose
slots_to_keys costs 16 B per key in the dict entry): RSS growth per key, and Cachemere's used_memory per key.

Throughput: redis-benchmark -P 16 -c 50 SET and GET over -r 1000000 keys against the two Cachemere
setups, interleaved rounds, medians of wall requests/s and of requests per server CPU-second.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# run from the root as a module (python -m bench.slots)
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.join(ROOT, "bench")]
sys.path.insert(0, ROOT)

import redis  # noqa: E402

from bench.measure import cpu_seconds, pinned, parse_redis_benchmark_csv, SERVER_CORE, LOAD_CORE  # noqa: E402
from bench.memory_per_key import rss, load  # noqa: E402
from tests.support.servers import free_port, start_cachemere, start_redis  # noqa: E402


def cachemere(index):
    srv = start_cachemere("--enable-debug-command", "yes")
    subprocess.run(["taskset", "-pc", SERVER_CORE, str(srv.proc.pid)], capture_output=True)
    if index:
        redis.Redis(port=srv.port).execute_command("DEBUG", "SLOT-INDEX", "ENABLE")
    return srv


def redis_cluster():
    workdir = tempfile.mkdtemp(prefix="redis-cluster-bench-")
    srv = start_redis("--cluster-enabled", "yes", "--cluster-port", free_port(), "--cluster-config-file", os.path.join(workdir, "nodes.conf"),
                      workdir=workdir)
    r = redis.Redis(port=srv.port)
    r.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    deadline = time.monotonic() + 20
    while b"cluster_state:ok" not in r.execute_command("CLUSTER", "INFO") and time.monotonic() < deadline:
        time.sleep(0.1)
    return srv


def memory(n):
    rows = []
    for label, start in (("cachemere, index off", lambda: cachemere(False)),
                         ("cachemere, index on", lambda: cachemere(True)),
                         ("redis-server", start_redis),
                         ("redis-server cluster-enabled", redis_cluster)):
        srv = start()
        try:
            r = redis.Redis(port=srv.port)
            used0 = r.info("memory")["used_memory"]
            before = rss(srv.proc.pid)
            load(srv.port, n)
            time.sleep(0.2)
            grown = (rss(srv.proc.pid) - before) / n
            used = (r.info("memory")["used_memory"] - used0) / n
            rows.append((label, grown, used))
        finally:
            srv.stop()
    print(f"memory, {n} keys (16-byte keys, 32-byte values):")
    for label, grown, used in rows:
        print(f"  {label:30s} RSS {grown:6.1f} B/key   used_memory {used:6.1f} B/key")
    off, on = rows[0][1], rows[1][1]
    print(f"  index cost: {on - off:+.1f} B/key RSS ({rows[1][2] - rows[0][2]:+.1f} B/key used_memory); "
          f"redis cluster-enabled vs plain: {rows[3][1] - rows[2][1]:+.1f} B/key")
    return rows


def bench_once(srv, test, requests):
    argv = pinned(["redis-benchmark", "-h", "127.0.0.1", "-p", str(srv.port), "-c", "50", "-P", "16",
                   "-n", str(requests), "-r", "1000000", "-t", test, "-q", "--csv"], LOAD_CORE)
    cpu0 = cpu_seconds(srv.proc.pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300).stdout
    cpu = cpu_seconds(srv.proc.pid) - cpu0
    rate = list(parse_redis_benchmark_csv(out).values())[0]
    return rate, requests / cpu if cpu > 0 else float("nan")


def throughput(requests, rounds):
    servers = {"off": cachemere(False), "on": cachemere(True)}
    results = {(k, t): [] for k in servers for t in ("set", "get")}
    try:
        for srv in servers.values():
            bench_once(srv, "set", requests // 5)       # warm-up, and the keys GET reads
        for rnd in range(rounds):
            order = ["off", "on"] if rnd % 2 == 0 else ["on", "off"]
            for test in ("set", "get"):
                for k in order:
                    results[(k, test)].append(bench_once(servers[k], test, requests))
    finally:
        for srv in servers.values():
            srv.stop()
    print(f"throughput, redis-benchmark -P 16 -c 50 -r 1000000, {requests} requests x {rounds} rounds (medians):")
    for test in ("set", "get"):
        off = [x[0] for x in results[("off", test)]]
        on = [x[0] for x in results[("on", test)]]
        offc = [x[1] for x in results[("off", test)]]
        onc = [x[1] for x in results[("on", test)]]
        print(f"  {test.upper():4s} index off {statistics.median(off):10.0f}/s ({statistics.median(offc):10.0f}/cpu-s)"
              f"   on {statistics.median(on):10.0f}/s ({statistics.median(onc):10.0f}/cpu-s)"
              f"   on/off {statistics.median(on) / statistics.median(off):.3f} wall, "
              f"{statistics.median(onc) / statistics.median(offc):.3f} per cpu")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()
    if not args.skip_memory:
        memory(args.keys)
    if not args.skip_throughput:
        throughput(args.requests, args.rounds)


if __name__ == "__main__":
    main()
