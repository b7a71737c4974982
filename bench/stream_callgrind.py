"""Server instructions per XADD and per XREADGROUP under valgrind callgrind, Cachemere beside redis-server 7.0.15.

    python bench/stream_callgrind.py [--requests 20000] [--entries 100000] [--servers cachemere,redis]
                                     [--cachemere CMD] [--pipeline 16]

The streams suite's setup (bench/suites.py load_stream: `entries` entries, 100 groups g:000000000000 ...),
then redis-benchmark -c 10 -P 16: `XREADGROUP GROUP g:__rand_int__ c COUNT 10 STREAMS bench:s >` (-r 100) once
to warm up and once counted, then `XADD bench:s * field value` counted. User space instructions only (a guide
beside bench/run.py: load-independent, blind to cache misses).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.callgrind import CallgrindServer, free_port, server_argv  # noqa: E402
from bench.suites import BENCH_STREAM, STREAM_GROUPS, load_stream  # noqa: E402
from tests.support.servers import CACHEMERE  # noqa: E402


def counts(name, cachemere, requests, entries, pipeline):
    port = free_port()
    with CallgrindServer(server_argv(name, port, cachemere), wait_port=port, prefix="stream-cg-") as srv:
        load_stream(port, False, entries=entries)
        base = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "10", "-P", str(pipeline),
                "-n", str(requests), "-q"]
        xrg = base + ["-r", str(STREAM_GROUPS), "XREADGROUP", "GROUP", "g:__rand_int__", "c", "COUNT", "10",
                      "STREAMS", BENCH_STREAM, ">"]
        srv.run_load(xrg)
        out = {"XREADGROUP": srv.count(lambda: srv.run_load(xrg)) / requests}
        xadd = base + ["XADD", BENCH_STREAM, "*", "field", "value"]
        out["XADD"] = srv.count(lambda: srv.run_load(xadd)) / requests
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--entries", type=int, default=100000)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--servers", default="cachemere,redis")
    ap.add_argument("--cachemere", default=CACHEMERE)
    args = ap.parse_args()
    rows = {}
    for name in args.servers.split(","):
        rows[name] = counts(name, args.cachemere, args.requests, args.entries, args.pipeline)
        for cmd, v in rows[name].items():
            print(f"{name:10} {cmd:11} {v:8.0f} instructions per request", flush=True)
    if "cachemere" in rows and "redis" in rows:
        for cmd in rows["redis"]:
            print(f"cachemere / redis {cmd}: {rows['cachemere'][cmd] / rows['redis'][cmd]:.2f}")


if __name__ == "__main__":
    main()
