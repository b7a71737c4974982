"""Server instructions per memcached request under valgrind callgrind: a load-independent A/B of builds.

    python bench/mc_callgrind.py [--cachemere CMD ...] [--ops set:1,get:1,mg:1,get:16,mget:1] [--requests 10000]

Each --cachemere (default: this tree's .venv/bin/cachemere-server) is started under `valgrind --tool=callgrind`
on free loopback ports, the keyspace (10k keys, 32-byte values) is stored, then for each op:P the counters are
zeroed, bench/mc_load.py sends --requests requests over 10 connections with that pipeline depth, and the
dump's instruction total is divided by the request count. User space only (the kernel's socket work is not
counted; an mget counts as its 16 gets): it measures what a change to the server's own code saves, not a ratio to memcached. Prints one
line per build and op.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from bench.callgrind import CallgrindServer, free_port  # noqa: E402


def measure(exe, ops, requests):
    port, mport = free_port(), free_port()
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", str(mport), "--save", "",
            "--appendonly", "no"]
    out = {}
    with CallgrindServer(argv, wait_port=mport, prefix="mc-cg-") as srv:
        load = [sys.executable, os.path.join(HERE, "mc_load.py"), "--port", str(mport), "--keyspace", "10000",
                "--timeout", "900"]
        subprocess.run(load + ["--op", "set", "--conns", "2", "--pipeline", "100", "--requests", "200",
                               "--preload"], capture_output=True, timeout=900, check=True)
        for op in ops:
            name, pipeline = op.split(":")

            def one_load():
                r = subprocess.run(load + ["--op", name, "--conns", "10", "--pipeline", pipeline,
                                           "--requests", str(requests)], capture_output=True, timeout=900)
                if r.returncode:
                    raise RuntimeError(f"mc_load {op} failed: {r.stdout[-300:]!r}")
            out[op] = srv.count(one_load) / requests
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cachemere", action="append",
                    help="server executable (repeat for an A/B); default this tree's build")
    ap.add_argument("--ops", default="set:1,get:1,mg:1,mget:1,get:16")
    ap.add_argument("--requests", type=int, default=10000)
    args = ap.parse_args(argv)
    exes = args.cachemere or [os.path.join(os.path.dirname(HERE), ".venv", "bin", "cachemere-server")]
    ops = args.ops.split(",")
    for exe in exes:
        res = measure(exe, ops, args.requests)
        print(exe, " ".join(f"{op}={v:,.0f}" for op, v in res.items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
