"""Server instructions per RESP request under valgrind callgrind, Cachemere beside redis-server 7.0.15.

    python bench/resp_callgrind.py [--requests 20000] [--keyspace 100000] [--servers cachemere,redis]
                                   [--cachemere CMD] COMMAND ARG...

    python bench/resp_callgrind.py HINCRBY bench:hi f:__rand_int__ 1 --keyspace 1000
    python bench/resp_callgrind.py ZADD myzset __rand_int__ element:__rand_int__

Each server runs under `valgrind --tool=callgrind` on a free loopback port. redis-benchmark (-c 10 -P 16 -r
KEYSPACE) runs the command once to fill the keyspace, then again with the counters zeroed before and dumped
after; the dump's total over the request count is printed. User space only: an instruction count does not
move with the machine's load, so it compares the two servers' own work where timing on shared cores cannot
(it does not weigh cache misses, which is why it is a guide beside `bench/run.py`, not a replacement).
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.servers import CACHEMERE, free_port, wait_for_port  # noqa: E402


def instructions_per_request(name, cachemere, command, requests, keyspace):
    workdir = tempfile.mkdtemp(prefix="resp-cg-")
    port = free_port()
    base = ([cachemere, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0"] if name == "cachemere"
            else ["redis-server", "--port", str(port), "--bind", "127.0.0.1"])
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/cg.%p"] + base + [
        "--save", "", "--appendonly", "no", "--dir", workdir]
    with open(os.path.join(workdir, "server.log"), "ab") as log:
        proc = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=600, proc=proc)   # valgrind on a loaded machine starts slowly
        load = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "10", "-P", "16", "-r", str(keyspace),
                "-n", str(requests), "-q"] + command
        subprocess.run(load, capture_output=True, timeout=900)          # fill: the measured run finds its keys
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, timeout=60)
        subprocess.run(load, capture_output=True, timeout=900)
        before = set(glob.glob(f"{workdir}/cg.*"))
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            new = set(glob.glob(f"{workdir}/cg.*")) - before
            if new:
                time.sleep(0.5)
                with open(new.pop()) as f:
                    total = next(int(line.split()[1]) for line in f if line.startswith("summary:"))
                return total / requests
            time.sleep(0.2)
        raise TimeoutError("callgrind dump not written")
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--servers", default="cachemere,redis")
    ap.add_argument("--cachemere", default=CACHEMERE)
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()
    rows = {}
    for name in args.servers.split(","):
        rows[name] = instructions_per_request(name, args.cachemere, args.command, args.requests, args.keyspace)
        print(f"{name:10} {' '.join(args.command)}: {rows[name]:.0f} instructions per request", flush=True)
    if "cachemere" in rows and "redis" in rows:
        print(f"cachemere / redis: {rows['cachemere'] / rows['redis']:.2f}")


if __name__ == "__main__":
    main()
