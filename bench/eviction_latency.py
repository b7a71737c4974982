"""Eviction must not stall serving: p99 latency of GET while a write load runs, with the keyspace at
maxmemory (allkeys-lru, evicting) and without a limit, on Cachemere (and redis-server for reference).

    python bench/eviction_latency.py [--seconds 6]
"""
import argparse
import csv
import io
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.measure import pinned, LOAD_CORE  # noqa: E402
from bench.features import start  # noqa: E402


def get_p99(port, seconds):
    """Run a SET load (random keys, 500-byte values) and measure GET latency percentiles meanwhile."""
    writer = subprocess.Popen(pinned(["redis-benchmark", "-p", str(port), "-t", "set", "-r", "10000000",
                                      "-d", "500", "-c", "20", "-P", "4", "-n", "100000000", "-q"], LOAD_CORE),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = subprocess.run(pinned(["redis-benchmark", "-p", str(port), "-t", "get", "-r", "10000000", "-c", "5",
                                     "-n", str(20000 * seconds), "--csv"], LOAD_CORE),
                             capture_output=True, text=True, timeout=seconds * 10 + 30).stdout
    finally:
        writer.terminate()
        writer.wait(10)
    row = [r for r in csv.reader(io.StringIO(out)) if r and r[0] == "GET"][0]
    return float(row[1]), float(row[4]), float(row[6])      # rps, p50 ms, p99 ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=6)
    args = ap.parse_args()
    workdir = f"/tmp/cachemere-evlat-{os.getpid()}"
    os.makedirs(workdir, exist_ok=True)
    p99s = {}
    print(f"{'server':10} {'setting':28} {'GET/s':>9} {'p50 ms':>7} {'p99 ms':>7}")
    for kind in ("cachemere", "redis"):
        for label, cfg in (("no limit", []), ("maxmemory 32mb allkeys-lru", ["maxmemory 32mb", "allkeys-lru"])):
            srv = start(kind, workdir)
            try:
                if cfg:
                    subprocess.run(["redis-cli", "-p", str(srv.port), "config", "set", "maxmemory", "32mb"],
                                   capture_output=True, timeout=10)
                    subprocess.run(["redis-cli", "-p", str(srv.port), "config", "set", "maxmemory-policy",
                                    "allkeys-lru"], capture_output=True, timeout=10)
                rps, p50, p99 = get_p99(srv.port, args.seconds)
                evicted = subprocess.run(["redis-cli", "-p", str(srv.port), "info", "stats"], capture_output=True,
                                         text=True, timeout=10).stdout
                ev = next((l.split(":")[1].strip() for l in evicted.splitlines() if l.startswith("evicted_keys")), "?")
                p99s[(kind, bool(cfg))] = p99
                print(f"{kind:10} {label:28} {rps:9,.0f} {p50:7.3f} {p99:7.3f}   evicted_keys={ev}")
            finally:
                srv.stop()
    for limited, label in ((False, "no limit"), (True, "at maxmemory")):
        r = p99s.get(("redis", limited))
        if r:
            print(f"GET p99 ratio cachemere/redis {label}: {p99s[('cachemere', limited)] / r:.2f}"
                  + ("  (target <= 1.2)" if limited else ""))


if __name__ == "__main__":
    main()
