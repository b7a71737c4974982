"""AOF everysec cost in instructions per request (load-independent A/B), the server under valgrind callgrind.

    python bench/aof_callgrind.py [--cachemere PATH] [--requests 40000] [--tests set,incr] [--pipelines 16,1]
                                  [--redis]

For appendonly no and appendonly yes (appendfsync everysec), one server each, warmed up first, it reports the
server's user-space instructions per request (callgrind counters zeroed and dumped around each load, ABBA)
and the everysec cost. Kernel time (the write syscall) is not counted: compare ops/cpu-s with
bench/persistence.py --only aof for the whole cost.
"""
import argparse
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.callgrind import CallgrindServer, free_port, server_argv  # noqa: E402
from tests.support.servers import CACHEMERE  # noqa: E402


def run(exe, name, aof, requests, tests, pipelines):
    port = free_port()
    # the later --appendonly wins over server_argv's "no" (redis.conf semantics: the last directive counts)
    argv = server_argv(name, port, exe) + (["--appendonly", "yes", "--appendfsync", "everysec"] if aof else [])
    with CallgrindServer(argv, wait_port=port, prefix="aof-cg-") as srv:
        out = {}
        for test in tests:
            for p in pipelines:
                n = requests if p > 1 else max(requests // 4, 2000)
                load = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "10", "-P", str(p), "-r",
                        "100000", "-n", str(n), "-t", test, "-q"]
                srv.run_load(load)     # warm-up
                a, b = (srv.count(lambda: srv.run_load(load)) for _ in range(2))
                out[(test, p)] = (a + b) / 2 / n
    shutil.rmtree(srv.workdir, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cachemere", default=CACHEMERE)
    ap.add_argument("--requests", type=int, default=40000)
    ap.add_argument("--tests", default="set,incr")
    ap.add_argument("--pipelines", default="16,1")
    ap.add_argument("--redis", action="store_true", help="redis-server too")
    args = ap.parse_args()
    tests = args.tests.split(",")
    pipes = [int(x) for x in args.pipelines.split(",")]
    print(f"{'server':10} {'test':10} {'no instr/req':>13} {'everysec':>10} {'cost':>7}")
    for name in ["cachemere"] + (["redis"] if args.redis else []):
        no = run(args.cachemere, name, False, args.requests, tests, pipes)
        yes = run(args.cachemere, name, True, args.requests, tests, pipes)
        for k in no:
            print(f"{name:10} {k[0].upper() + ' -P' + str(k[1]):10} {no[k]:13.0f} {yes[k]:10.0f} "
                  f"{(yes[k] - no[k]) / no[k] * 100:6.1f}%")


if __name__ == "__main__":
    main()
