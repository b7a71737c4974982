"""A/B of two cachemere builds on the AOF everysec cost, per server CPU-second, interleaved rounds.

    python bench/aof_ab.py --a /work/main/.venv/bin/cachemere-server --b .venv/bin/cachemere-server [--rounds 3]

Each round runs both builds (order alternating) with appendonly no and everysec (order alternating),
SET -P16 (600k requests) and INCR -P1 (150k), after a warm-up of a quarter of that; medians per build.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.measure import SERVER_CORE, cpu_seconds, pinned  # noqa: E402
from bench.persistence import redis_benchmark  # noqa: E402
from tests.support.servers import ServerProcess, free_port  # noqa: E402

TESTS = (("set", 16, 600000), ("incr", 1, 150000))


def run(exe, aof, test, pipeline, n):
    workdir = tempfile.mkdtemp(prefix="aof-ab-")
    port = free_port()
    argv = [exe, "--memcached-port", "0", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir",
            workdir] + (["--appendonly", "yes", "--appendfsync", "everysec"] if aof else ["--appendonly", "no"])
    srv = ServerProcess(pinned(argv, SERVER_CORE), port, workdir, os.path.join(workdir, "server.log"))
    try:
        redis_benchmark(port, test, pipeline, n // 4)
        c0 = cpu_seconds(srv.proc.pid)
        redis_benchmark(port, test, pipeline, n)
        return n / max(1e-6, cpu_seconds(srv.proc.pid) - c0)
    finally:
        srv.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="cachemere-server of build A")
    ap.add_argument("--b", required=True, help="cachemere-server of build B")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    builds = {"A": args.a, "B": args.b}
    res = {}
    for rnd in range(args.rounds):
        for b in (("A", "B") if rnd % 2 == 0 else ("B", "A")):
            for aof in ((False, True) if rnd % 2 == 0 else (True, False)):
                for test, p, n in TESTS:
                    res.setdefault((b, aof, test, p), []).append(run(builds[b], aof, test, p, n))
    for b in builds:
        for test, p, _ in TESTS:
            no = statistics.median(res[(b, False, test, p)])
            ev = statistics.median(res[(b, True, test, p)])
            print(f"{b} {test.upper()} -P{p}: no {no:,.0f} everysec {ev:,.0f} ops/cpu-s, everysec cost "
                  f"{(1 - ev / no) * 100:.1f}%")


if __name__ == "__main__":
    main()
