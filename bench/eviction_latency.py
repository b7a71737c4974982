"""Eviction must not stall serving: GET latency percentiles while a write load runs, with the keyspace at
maxmemory (allkeys-lru, evicting) and without a limit, on Cachemere and redis-server in interleaved rounds.

    python bench/eviction_latency.py [--rounds 3] [--seconds 6] [--cachemere CMD] [--only limit|nolimit]
    python bench/eviction_latency.py --callgrind [--requests 100000] [--cachemere CMD]
    python bench/eviction_latency.py --before CMD ...   (a second cachemere build, e.g. main's, as "before")

--callgrind: each server under valgrind's callgrind (load-independent): instructions per SET of the same
write load (500-byte values, random keys, 20 connections, -P 4) at maxmemory 32mb allkeys-lru (every write
evicts) and, as the base, per SET with no limit; the counters are zeroed and dumped around each load.

Per run: a fresh server (pinned to the server core), 20 writer connections doing SET -P 4 of 500-byte values on
random keys (redis-benchmark, load core) and, meanwhile, 5 connections doing GET -P 1 (redis-benchmark; its
HDR percentile table gives p50 / p99 / p99.9). At maxmemory the writers first fill the keyspace up to the
limit, so the timed GETs all run while every write evicts. Each round runs every setting on both servers,
alternating which server goes first; the table shows per-run figures and the medians, and the ratio line is
median cachemere / median redis. Server CPU per GET-run second is shown too (both loads run on it).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.measure import pinned, LOAD_CORE, cpu_seconds  # noqa: E402
from bench import features  # noqa: E402
from bench.features import start  # noqa: E402

_PCT = re.compile(r"^\s*([0-9.]+)% <= ([0-9.]+) milliseconds", re.M)
_RPS = re.compile(r"throughput summary: ([0-9.]+) requests per second")


def percentile(out, want):
    """The latency (ms) of the first row of redis-benchmark's percentile table at or above `want` %."""
    rows = [(float(p), float(ms)) for p, ms in _PCT.findall(out.split("Cumulative distribution")[0])]
    for p, ms in rows:
        if p >= want:
            return ms
    return rows[-1][1] if rows else float("nan")


def info_field(port, section, field):
    out = subprocess.run(["redis-cli", "-p", str(port), "info", section], capture_output=True, text=True,
                         timeout=10).stdout
    return next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith(field + ":")), "?")


def one_run(srv, seconds, limited):
    """SET load plus timed GETs: (GET/s, p50, p99, p999 ms, server CPU s during the GETs, evicted_keys)."""
    writer = subprocess.Popen(pinned(["redis-benchmark", "-p", str(srv.port), "-t", "set", "-r", "10000000",
                                      "-d", "500", "-c", "20", "-P", "4", "-n", "100000000", "-q"], LOAD_CORE),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if limited:           # fill up to maxmemory first (bounded), so every timed write evicts
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and info_field(srv.port, "stats", "evicted_keys") in ("0", "?"):
                time.sleep(0.1)
        else:
            time.sleep(0.3)
        cpu0 = cpu_seconds(srv.proc.pid)
        t0 = time.monotonic()
        out = subprocess.run(pinned(["redis-benchmark", "-p", str(srv.port), "-t", "get", "-r", "10000000", "-c",
                                     "5", "-n", str(20000 * seconds)], LOAD_CORE),
                             capture_output=True, text=True, timeout=seconds * 10 + 30).stdout
        wall = time.monotonic() - t0
        cpu = cpu_seconds(srv.proc.pid) - cpu0
    finally:
        writer.terminate()
        writer.wait(10)
    m = _RPS.search(out)
    rps = float(m.group(1)) if m else float("nan")
    return (rps, percentile(out, 50.0), percentile(out, 99.0), percentile(out, 99.9), cpu / wall,
            info_field(srv.port, "stats", "evicted_keys"))


def callgrind(kind, requests, cachemere):
    """Instructions per SET at maxmemory (evicting) and without a limit, the server under callgrind."""
    from bench.callgrind import CallgrindServer, free_port, server_argv
    out = {}
    for limited in (False, True):
        port = free_port()
        argv = server_argv(kind, port, cachemere)
        if limited:
            argv += ["--maxmemory", "32mb", "--maxmemory-policy", "allkeys-lru"]
        with CallgrindServer(argv, wait_port=port, prefix="evict-cg-", start_timeout=900) as srv:
            load = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "20", "-P", "4", "-r", "10000000",
                    "-d", "500", "-n", str(requests), "-t", "set", "-q"]
            # warm-up: at maxmemory, fill past the limit so every counted SET evicts
            srv.run_load(load[:-5] + ["-n", str(80000 if limited else 20000), "-t", "set", "-q"])
            total = srv.count(lambda: srv.run_load(load, timeout=1800))
            out[limited] = (total / requests, srv.last_dump)
    return out


def main_callgrind(args):
    from tests.support.servers import CACHEMERE
    cm = args.cachemere or CACHEMERE
    print(f"instructions per SET (500-byte values, -c 20 -P 4, {args.requests} requests; server under callgrind)")
    print(f"{'server':10} {'no limit':>10} {'at maxmemory':>13} {'eviction adds':>14}")
    res = {}
    for kind in args.servers.split(","):
        r = callgrind(kind, args.requests, cm)
        res[kind] = r
        print(f"{kind:10} {r[False][0]:10,.0f} {r[True][0]:13,.0f} {r[True][0] - r[False][0]:14,.0f}   "
              f"({r[True][1]})", flush=True)
    if len(res) < 2:
        return
    print(f"ratio cachemere/redis: no limit {res['cachemere'][False][0] / res['redis'][False][0]:.2f}, "
          f"at maxmemory {res['cachemere'][True][0] / res['redis'][True][0]:.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cachemere", help="cachemere-server command (default: the venv's)")
    ap.add_argument("--only", choices=("limit", "nolimit"))
    ap.add_argument("--callgrind", action="store_true", help="instructions per SET under valgrind")
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--servers", default="cachemere,redis", help="--callgrind: which servers (comma-separated)")
    ap.add_argument("--before", help="another cachemere-server command, run as server 'before' in each round")
    args = ap.parse_args()
    if args.callgrind:
        return main_callgrind(args)
    if args.cachemere:
        features.CACHEMERE = args.cachemere
    workdir = f"/tmp/cachemere-evlat-{os.getpid()}"
    os.makedirs(workdir, exist_ok=True)
    settings = [("no limit", False), ("maxmemory 32mb allkeys-lru", True)]
    if args.only:
        settings = [s for s in settings if s[1] == (args.only == "limit")]
    runs = {}
    print(f"{args.rounds} interleaved rounds, {args.seconds} s of GETs per run")
    print(f"{'round':5} {'server':10} {'setting':28} {'GET/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'p999 ms':>8} "
          f"{'srv cpu':>7}")
    after_cmd = features.CACHEMERE
    kinds = ("cachemere", "redis") + (("before",) if args.before else ())
    for rnd in range(args.rounds):
        order = kinds if rnd % 2 == 0 else kinds[::-1]
        for label, limited in settings:
            for kind in order:
                features.CACHEMERE = args.before if kind == "before" else after_cmd
                srv = start("cachemere" if kind == "before" else kind, workdir)
                try:
                    if limited:
                        for k, v in (("maxmemory", "32mb"), ("maxmemory-policy", "allkeys-lru")):
                            subprocess.run(["redis-cli", "-p", str(srv.port), "config", "set", k, v],
                                           capture_output=True, timeout=10)
                    r = one_run(srv, args.seconds, limited)
                finally:
                    srv.stop()
                runs.setdefault((kind, limited), []).append(r)
                print(f"{rnd + 1:5} {kind:10} {label:28} {r[0]:9,.0f} {r[1]:7.3f} {r[2]:7.3f} {r[3]:8.3f} "
                      f"{r[4]:7.2f}   evicted_keys={r[5]}", flush=True)
    print("\nmedians")
    med = {}
    for (kind, limited), rs in sorted(runs.items()):
        med[(kind, limited)] = [statistics.median(r[i] for r in rs) for i in range(5)]
        m = med[(kind, limited)]
        label = dict((b, a) for a, b in settings)[limited]
        print(f"{'':5} {kind:10} {label:28} {m[0]:9,.0f} {m[1]:7.3f} {m[2]:7.3f} {m[3]:8.3f} {m[4]:7.2f}")
    for label, limited in settings:
        r = med.get(("redis", limited))
        for kind in ("cachemere", "before"):
            c = med.get((kind, limited))
            if c and r:
                print(f"GET {kind}/redis {label}: p50 {c[1] / r[1]:.2f}  p99 {c[2] / r[2]:.2f}"
                      f"{'  (target <= 1.2)' if limited else ''}  p999 {c[3] / r[3]:.2f}  GET/s {c[0] / r[0]:.2f}"
                      f"  ({args.rounds} rounds)")


if __name__ == "__main__":
    main()
