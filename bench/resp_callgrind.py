"""Server instructions per RESP request under valgrind callgrind, Cachemere beside redis-server 7.0.15.

    python bench/resp_callgrind.py [--requests 20000] [--keyspace 100000] [--servers cachemere,redis]
                                   [--pipeline 16] [--cachemere CMD] COMMAND ARG...

    python bench/resp_callgrind.py HINCRBY bench:hi f:__rand_int__ 1 --keyspace 1000
    python bench/resp_callgrind.py ZADD myzset __rand_int__ element:__rand_int__

Each server runs under `valgrind --tool=callgrind` on a free loopback port. redis-benchmark (-c 10 -P 16 (--pipeline) -r
KEYSPACE) runs the command once to fill the keyspace, then again with the counters zeroed before and dumped
after; the dump's total over the request count is printed. User space only: an instruction count does not
move with the machine's load, so it compares the two servers' own work where timing on shared cores cannot
(it does not weigh cache misses, which is why it is a guide beside `bench/run.py`, not a replacement).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.callgrind import CallgrindServer, free_port, server_argv  # noqa: E402
from tests.support.servers import CACHEMERE  # noqa: E402


def instructions_per_request(name, cachemere, command, requests, keyspace, pipeline=16):
    port = free_port()
    with CallgrindServer(server_argv(name, port, cachemere), wait_port=port, prefix="resp-cg-") as srv:
        load = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "10", "-P", str(pipeline), "-r", str(keyspace),
                "-n", str(requests), "-q"] + command
        srv.run_load(load)                 # fill: the measured run finds its keys
        return srv.count(lambda: srv.run_load(load)) / requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--servers", default="cachemere,redis")
    ap.add_argument("--pipeline", type=int, default=16, help="redis-benchmark -P (1: the per-read cost shows)")
    ap.add_argument("--cachemere", default=CACHEMERE)
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()
    rows = {}
    for name in args.servers.split(","):
        rows[name] = instructions_per_request(name, args.cachemere, args.command, args.requests, args.keyspace, args.pipeline)
        print(f"{name:10} {' '.join(args.command)}: {rows[name]:.0f} instructions per request", flush=True)
    if "cachemere" in rows and "redis" in rows:
        print(f"cachemere / redis: {rows['cachemere'] / rows['redis']:.2f}")


if __name__ == "__main__":
    main()
