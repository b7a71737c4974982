"""Instructions per request of the hash commands, the server under valgrind callgrind (load-independent A/B).

    .venv/bin/python bench/hash_callgrind.py [--requests 20000] [--cachemere CMD ...]

Each binary runs once under callgrind; per load a warm-up run, then counters zeroed, the load (redis-benchmark
-c 10 -P 16), counters dumped. Loads: HSET/HGET on one big hash (dict form), HSET/HGET/HGETALL on 10-field
hashes (packed form). Prints instructions per request per binary."""
import argparse
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.suites import load_small_hashes  # noqa: E402
from bench.callgrind import CallgrindServer, free_port  # noqa: E402

LOADS = [
    ("HSET big", ["-t", "hset"]),
    ("HGET big", ["HGET", "myhash", "element:__rand_int__"]),
    ("HSET small", ["HSET", "bench:h10:__rand_int__", "field:3", "value:x"]),
    ("HGET small", ["HGET", "bench:h10:__rand_int__", "field:7"]),
    ("HGETALL small", ["HGETALL", "bench:h10:__rand_int__"]),
]


def measure(cmd, requests):
    port = free_port()
    argv = shlex.split(cmd) + ["--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0", "--save", "",
                               "--appendonly", "no"]
    out = {}
    with CallgrindServer(argv, wait_port=port, prefix="hash-cg-") as srv:
        load_small_hashes(port, True)
        for label, args in LOADS:
            load = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "10", "-P", "16", "-r", "100000",
                    "-n", str(requests), "-q"] + args
            srv.run_load(load)       # warm-up
            out[label] = srv.count(lambda: srv.run_load(load)) / requests
    return out


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--cachemere", action="append", default=None)
    a = ap.parse_args()
    cmds = a.cachemere or [os.path.join(here, ".venv/bin/cachemere-server")]
    results = [measure(c, a.requests) for c in cmds]
    print("%-16s" % "load" + "".join("%16s" % ("binary %d" % i) for i in range(len(cmds))))
    for label, _ in LOADS:
        print("%-16s" % label + "".join("%16.0f" % r[label] for r in results))
    for i, c in enumerate(cmds):
        print("binary %d: %s" % (i, c))


if __name__ == "__main__":
    main()
