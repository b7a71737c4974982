"""maxmemory hit ratios: `redis-cli --lru-test` against Cachemere and a real redis-server side by side.

redis-cli's LRU test runs a power-law read workload (SET on miss) and prints hits/misses per second.
Both servers get the same policy; two runs are made:
  * same maxmemory for both (what a user configures), and
  * the same key capacity (maxmemory scaled by the measured memory-per-key ratio), which compares the
    eviction algorithms themselves.

    python bench/lru_compare.py [--keys 200000] [--seconds 12] [--maxmemory-mb 10]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.servers import start_cachemere, start_redis  # noqa: E402

LINE = re.compile(rb"(\d+) Gets/sec \| Hits: (\d+) \(([\d.]+)%\) \| Misses: (\d+)")


def lru_test(port, keys, seconds):
    """Run redis-cli --lru-test for `seconds` (under `script` so it flushes per line) and return the hit
    ratio of the second half of the run (after the cache has warmed up)."""
    out = tempfile.mktemp(prefix="lru-")
    cmd = f"timeout {seconds} redis-cli -p {port} --lru-test {keys}"
    subprocess.run(["script", "-qc", cmd, out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=seconds + 10)
    with open(out, "rb") as f:
        rows = [(int(m.group(2)), int(m.group(4))) for m in LINE.finditer(f.read())]
    os.unlink(out)
    tail = rows[len(rows) // 2:]
    hits = sum(h for h, _ in tail)
    misses = sum(m for _, m in tail)
    return 100.0 * hits / max(1, hits + misses), len(rows)


def key_count(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "dbsize"], capture_output=True, timeout=10).stdout
    return int(out.strip() or 0)


def run_pair(policy, keys, seconds, cachemere_mb, redis_mb):
    ours = start_cachemere("--maxmemory", f"{cachemere_mb}mb", "--maxmemory-policy", policy)
    theirs = start_redis("--maxmemory", f"{redis_mb}mb", "--maxmemory-policy", policy)
    try:
        ours_ratio, _ = lru_test(ours.port, keys, seconds)
        theirs_ratio, _ = lru_test(theirs.port, keys, seconds)
        return ours_ratio, theirs_ratio, key_count(ours.port), key_count(theirs.port)
    finally:
        ours.stop()
        theirs.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=200000)
    ap.add_argument("--seconds", type=int, default=12)
    ap.add_argument("--maxmemory-mb", type=int, default=10)
    args = ap.parse_args()
    if not shutil.which("script") or not shutil.which("redis-cli"):
        sys.exit("needs redis-cli and script (util-linux)")
    mb = args.maxmemory_mb
    print(f"redis-cli --lru-test {args.keys}, {args.seconds} s per run, hit ratio of the warmed-up half")
    print(f"{'policy':14} {'setting':26} {'cachemere':>10} {'redis':>8} {'diff':>7} {'keys held (c/r)':>18}")
    for policy in ("allkeys-lru", "allkeys-lfu"):
        ours, theirs, kc, kr = run_pair(policy, args.keys, args.seconds, mb, mb)
        print(f"{policy:14} {'same maxmemory ' + str(mb) + 'mb':26} {ours:9.2f}% {theirs:7.2f}% "
              f"{ours - theirs:+6.2f} {kc:>9}/{kr:<8}")
        scaled = max(1, round(mb * kc and mb * kr / kc or mb))
        ours, theirs, kc2, kr2 = run_pair(policy, args.keys, args.seconds, scaled, mb)
        print(f"{policy:14} {'same capacity (' + str(scaled) + 'mb/' + str(mb) + 'mb)':26} {ours:9.2f}% "
              f"{theirs:7.2f}% {ours - theirs:+6.2f} {kc2:>9}/{kr2:<8}")


if __name__ == "__main__":
    main()
