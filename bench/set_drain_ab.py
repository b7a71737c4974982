"""A/B of two Cachemere builds on the SREM drain of a big set: SREMs per server CPU-second.

    python bench/set_drain_ab.py BEFORE_SERVER AFTER_SERVER [--rounds 3]

Each round starts each build (pinned to core 0, redis-benchmark on core 1, a free loopback port), fills
bench:s with 1M `SADD bench:s m:__rand_int__` (-r 100000, -P 16, 50 clients), then times 1M random SREMs of
the same keyspace (the set drains and the key goes away) by the server's utime+stime. The builds alternate
within each round; the medians are printed. This is what `--suite sets` "SREM rand" runs after "SADD rand".
"""
import argparse
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.callgrind import free_port  # noqa: E402


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        p = f.read().rsplit(")", 1)[1].split()
    return (int(p[11]) + int(p[12])) / os.sysconf("SC_CLK_TCK")


def run(binary):
    port = free_port()
    proc = subprocess.Popen(["taskset", "-c", "0", binary, "--port", str(port), "--bind", "127.0.0.1",
                             "--memcached-port", "0", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close(); break
        except OSError:
            time.sleep(0.1)
    b = ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-c", "50", "-P", "16", "-r", "100000", "-q"]
    subprocess.run(b + ["-n", "1000000", "SADD", "bench:s", "m:__rand_int__"], capture_output=True, timeout=300)
    c0 = cpu(proc.pid)
    subprocess.run(b + ["-n", "1000000", "SREM", "bench:s", "m:__rand_int__"], capture_output=True, timeout=300)
    c1 = cpu(proc.pid)
    proc.terminate(); proc.wait(10)
    return 1000000 / (c1 - c0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    res = {"before": [], "after": []}
    for _ in range(args.rounds):
        for name, binary in (("before", args.before), ("after", args.after)):
            res[name].append(run(binary))
    for k, v in res.items():
        print(k, ["%.0f" % x for x in v], "median %.0f SREM/cpu-s" % sorted(v)[len(v) // 2])


if __name__ == "__main__":
    main()
