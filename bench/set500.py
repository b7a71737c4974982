"""Throughput per server CPU-second of the eviction-latency write load and of small-batch loads, Cachemere
against redis-server in interleaved rounds (issue 20, latency row: the scheduling of replies must not cost
throughput).

    python bench/set500.py [--rounds 3] [--requests 300000] [--cachemere CMD] [--before CMD] [--maxmemory 32mb]

Loads (redis-benchmark, load core; server pinned to the server core, fresh server per run):
  SET 500B -P4 c20   redis-benchmark -t set -d 500 -r 1000000 -P 4 -c 20   (the task's write load)
  SET -P1 c50        redis-benchmark -t set -r 100000 -P 1 -c 50
  GET -P1 c50        redis-benchmark -t get -r 100000 -P 1 -c 50
  SET -P1 c1         redis-benchmark -t set -r 100000 -P 1 -c 1   (one client: a reply per event-loop pass)
`--maxmemory 32mb`: the SET 500B load also runs at maxmemory allkeys-lru (every write evicts).
`--before CMD`: another cachemere-server build run as "before" in the same rounds.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.measure import pinned, LOAD_CORE, cpu_seconds  # noqa: E402
from bench import features  # noqa: E402
from bench.features import start  # noqa: E402

_RPS = re.compile(r"throughput summary: ([0-9.]+) requests per second")

LOADS = [
    ("SET 500B -P4 c20", ["-t", "set", "-d", "500", "-r", "1000000", "-P", "4", "-c", "20"], 1.0, False),
    ("SET -P1 c50", ["-t", "set", "-r", "100000", "-P", "1", "-c", "50"], 0.5, False),
    ("GET -P1 c50", ["-t", "get", "-r", "100000", "-P", "1", "-c", "50"], 0.5, False),
    ("SET -P1 c1", ["-t", "set", "-r", "100000", "-P", "1", "-c", "1"], 0.1, False),
]


def one(kind, cmd, argv, n, limited, workdir):
    features.CACHEMERE = cmd
    srv = start("cachemere" if kind != "redis" else "redis", workdir)
    try:
        if limited:
            for k, v in (("maxmemory", "32mb"), ("maxmemory-policy", "allkeys-lru")):
                subprocess.run(["redis-cli", "-p", str(srv.port), "config", "set", k, v], capture_output=True,
                               timeout=10)
            subprocess.run(pinned(["redis-benchmark", "-p", str(srv.port), "-n", "100000", "-q"] + argv,
                                  LOAD_CORE), capture_output=True, timeout=300)     # fill to the limit
        cpu0 = cpu_seconds(srv.proc.pid)
        out = subprocess.run(pinned(["redis-benchmark", "-p", str(srv.port), "-n", str(n), "-q"] + argv, LOAD_CORE),
                             capture_output=True, text=True, timeout=600).stdout
        cpu = cpu_seconds(srv.proc.pid) - cpu0
    finally:
        srv.stop()
    m = _RPS.search(out) or re.search(r"([0-9.]+) requests per second", out)
    return (float(m.group(1)) if m else float("nan")), n / max(cpu, 1e-9)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=300000)
    ap.add_argument("--cachemere", help="cachemere-server command (default: the venv's)")
    ap.add_argument("--before", help="another cachemere-server command, run as 'before'")
    ap.add_argument("--maxmemory", action="store_true", help="also the SET 500B load at maxmemory 32mb")
    ap.add_argument("--only", help="comma-separated load labels (prefix match)")
    args = ap.parse_args()
    cm = args.cachemere or features.CACHEMERE
    kinds = [("cachemere", cm), ("redis", None)] + ([("before", args.before)] if args.before else [])
    loads = list(LOADS)
    if args.maxmemory:
        loads.insert(1, ("SET 500B -P4 c20 maxmemory", LOADS[0][1], 1.0, True))
    if args.only:
        loads = [l for l in loads if any(l[0].startswith(p) for p in args.only.split(","))]
    workdir = f"/tmp/cachemere-set500-{os.getpid()}"
    os.makedirs(workdir, exist_ok=True)
    res = {}
    print(f"{'round':5} {'load':28} {'server':10} {'req/s':>10} {'req/cpu-s':>10}")
    for rnd in range(args.rounds):
        for label, argv, frac, limited in loads:
            for kind, cmd in (kinds if rnd % 2 == 0 else kinds[::-1]):
                rps, per_cpu = one(kind, cmd, argv, int(args.requests * frac), limited, workdir)
                res.setdefault((label, kind), []).append((rps, per_cpu))
                print(f"{rnd + 1:5} {label:28} {kind:10} {rps:10,.0f} {per_cpu:10,.0f}", flush=True)
    print(f"\nmedians ({args.rounds} rounds)      {'server':10} {'req/s':>10} {'req/cpu-s':>10}  ratio/redis (wall, cpu)")
    for label, *_ in loads:
        r = res.get((label, "redis"))
        for kind, _ in kinds:
            v = res.get((label, kind))
            if not v:
                continue
            w, c = statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)
            ratio = ""
            if r and kind != "redis":
                ratio = f"  {w / statistics.median(x[0] for x in r):.2f}  {c / statistics.median(x[1] for x in r):.2f}"
            print(f"{label:28} {kind:10} {w:10,.0f} {c:10,.0f}{ratio}")


if __name__ == "__main__":
    main()
