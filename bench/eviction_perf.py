"""perf stat / perf record of the server during the eviction-latency load (bench/eviction_latency.py's load:
20 writer connections SET -P 4 of 500-byte values to random keys, 5 GET -P 1 connections), for Cachemere and
redis-server, at maxmemory 32mb allkeys-lru (evicting) or without a limit.

    python bench/eviction_perf.py [--seconds 5] [--rounds 1] [--only limit|nolimit] [--record]
                                  [--servers cachemere,redis] [--before CMD]

Per server and setting: cycles, instructions, IPC, cache-misses, L1-dcache-load-misses, page-faults and
context switches of the server process over `--seconds` of the load, divided by the requests it served in that
window (INFO total_commands_processed delta), so the figures are per request and comparable across servers.
`--before CMD`: a second cachemere-server build (e.g. main's venv) run as server "before" in the same rounds,
for an A/B of a change; rounds alternate the server order. `--record`: also `perf record -g` for the same window; the top self-cost symbols are printed (perf report).
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.measure import pinned, LOAD_CORE, cpu_seconds  # noqa: E402
from bench import features  # noqa: E402
from bench.features import start  # noqa: E402
from bench.eviction_latency import info_field  # noqa: E402

EVENTS = ["cycles", "instructions", "cache-misses", "cache-references", "L1-dcache-load-misses",
          "page-faults", "context-switches"]


def perf_window(srv, seconds, limited, record, tag):
    writer = subprocess.Popen(pinned(["redis-benchmark", "-p", str(srv.port), "-t", "set", "-r", "10000000",
                                      "-d", "500", "-c", "20", "-P", "4", "-n", "100000000", "-q"], LOAD_CORE),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    getter = None
    try:
        if limited:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and info_field(srv.port, "stats", "evicted_keys") in ("0", "?"):
                time.sleep(0.1)
        else:
            time.sleep(0.3)
        getter = subprocess.Popen(pinned(["redis-benchmark", "-p", str(srv.port), "-t", "get", "-r", "10000000",
                                          "-c", "5", "-n", "100000000", "-q"], LOAD_CORE),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        n0 = int(info_field(srv.port, "stats", "total_commands_processed"))
        cpu0 = cpu_seconds(srv.proc.pid)
        stat = subprocess.run(["perf", "stat", "-x", ",", "-e", ",".join(EVENTS), "-p", str(srv.proc.pid),
                               "--", "sleep", str(seconds)], capture_output=True, text=True, timeout=seconds + 30)
        cpu = cpu_seconds(srv.proc.pid) - cpu0
        n1 = int(info_field(srv.port, "stats", "total_commands_processed"))
        rep = None
        if record:
            data = f"/tmp/evperf-{os.getpid()}-{tag}.data"
            subprocess.run(["perf", "record", "-g", "-o", data, "-p", str(srv.proc.pid), "--", "sleep",
                            str(seconds)], capture_output=True, timeout=seconds + 60)
            rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "--percent-limit",
                                  "0.8", "-g", "none", "--sort", "dso,symbol"],
                                 capture_output=True, text=True, timeout=300).stdout
    finally:
        for p in (getter, writer):
            if p is not None:
                p.terminate()
                p.wait(10)
    counts = {}
    for line in stat.stderr.splitlines():
        parts = line.split(",")
        if len(parts) >= 3 and parts[2] in EVENTS:
            try:
                counts[parts[2]] = float(parts[0])
            except ValueError:
                counts[parts[2]] = float("nan")
    return counts, n1 - n0 - 2, cpu, rep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--only", choices=("limit", "nolimit"))
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--servers", default="cachemere,redis")
    ap.add_argument("--cachemere", help="cachemere-server command (default: the venv's)")
    ap.add_argument("--before", help="another cachemere-server command, run as server 'before'")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    if args.cachemere:
        features.CACHEMERE = args.cachemere
    after_cmd = features.CACHEMERE
    kinds = args.servers.split(",") + (["before"] if args.before else [])
    workdir = f"/tmp/cachemere-evperf-{os.getpid()}"
    os.makedirs(workdir, exist_ok=True)
    settings = [("no limit", False), ("maxmemory 32mb allkeys-lru", True)]
    if args.only:
        settings = [s for s in settings if s[1] == (args.only == "limit")]
    print(f"{'server':10} {'setting':28} {'req':>9} {'cpu-s':>6} {'req/cpu-s':>10} {'cyc/req':>8} {'ins/req':>8} "
          f"{'IPC':>5} {'cmiss/req':>9} {'L1miss/req':>10} {'pgflt/kreq':>10} {'cs/kreq':>8}")
    reports = []
    per = {}
    for rnd, (label, limited) in [(r, s) for r in range(args.rounds) for s in settings]:
        for kind in (kinds if rnd % 2 == 0 else kinds[::-1]):
            features.CACHEMERE = args.before if kind == "before" else after_cmd
            srv = start("cachemere" if kind == "before" else kind, workdir)
            try:
                if limited:
                    for k, v in (("maxmemory", "32mb"), ("maxmemory-policy", "allkeys-lru")):
                        subprocess.run(["redis-cli", "-p", str(srv.port), "config", "set", k, v],
                                       capture_output=True, timeout=10)
                tag = f"{kind}-{'limit' if limited else 'nolimit'}"
                c, n, cpu, rep = perf_window(srv, args.seconds, limited, args.record, tag)
            finally:
                srv.stop()
            n = max(n, 1)
            g = lambda e: c.get(e, float("nan"))  # noqa: E731
            print(f"{kind:10} {label:28} {n:9,} {cpu:6.2f} {n / max(cpu, 1e-9):10,.0f} {g('cycles') / n:8,.0f} "
                  f"{g('instructions') / n:8,.0f} {g('instructions') / g('cycles'):5.2f} "
                  f"{g('cache-misses') / n:9.1f} {g('L1-dcache-load-misses') / n:10.1f} "
                  f"{1000 * g('page-faults') / n:10.1f} {1000 * g('context-switches') / n:8.2f}", flush=True)
            per.setdefault((kind, label), []).append(n / max(cpu, 1e-9))
            if rep:
                reports.append((tag, rep))
    if args.rounds > 1:
        import statistics
        print(f"\nmedian requests per server CPU-second ({args.rounds} rounds)")
        for (kind, label), v in per.items():
            print(f"{kind:10} {label:28} {statistics.median(v):10,.0f}")
    for tag, rep in reports:
        print(f"\n=== perf report {tag} (self, by dso,symbol)")
        lines = [l for l in rep.splitlines() if l.strip() and not l.startswith("#")]
        print("\n".join(lines[:45]))


if __name__ == "__main__":
    main()
