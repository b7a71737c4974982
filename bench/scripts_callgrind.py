"""Instructions per EVALSHA (bench `scripts` suite's one-call scripts), the server under valgrind callgrind.

    python bench/scripts_callgrind.py [--requests 20000] [--redis] [--cachemere CMD]

An instruction count does not move with the machine's load, so it shows the few percent of an A/B that timing on
shared cores cannot. Each server runs under `valgrind --tool=callgrind`; after a warm-up load the counters are
zeroed, one redis-benchmark -P 16 EVALSHA load runs, and the dump's total is divided by the requests.
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.suites import INCR_SHA, SET_SHA, load_scripts  # noqa: E402
from bench.callgrind import CallgrindServer, free_port, server_argv  # noqa: E402
from tests.support.servers import CACHEMERE  # noqa: E402

LOADS = {"incr": ["EVALSHA", INCR_SHA, "1", "counter:__rand_int__"],
         "set": ["EVALSHA", SET_SHA, "1", "key:__rand_int__", "value"]}


def run(name, cmd, requests, tests, pipeline):
    port = free_port()
    with CallgrindServer(server_argv(name, port, cmd), wait_port=port, prefix="scripts-cg-") as srv:
        load_scripts(port, False)
        out = {}
        for test in tests:
            load = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "10", "-P", str(pipeline),
                    "-r", "100000", "-n", str(requests), "-q"] + LOADS[test]
            srv.run_load(load)     # warm-up
            a, b = (srv.count(lambda: srv.run_load(load)) for _ in range(2))
            out[test] = (a + b) / 2 / requests
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--tests", default="incr,set")
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--redis", action="store_true")
    ap.add_argument("--cachemere", default=CACHEMERE)
    args = ap.parse_args()
    tests = args.tests.split(",")
    print(f"{'server':10} {'test':6} {'instr/req':>10}")
    for name in ["cachemere"] + (["redis"] if args.redis else []):
        for test, ipr in run(name, args.cachemere, args.requests, tests, args.pipeline).items():
            print(f"{name:10} {test:6} {ipr:10.0f}")


if __name__ == "__main__":
    main()
