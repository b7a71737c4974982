"""nutcracker (twemproxy) in front of three Cachemere nodes vs in front of three redis-server + memcached pairs,
same conf (conf/nutcracker.yml), same machine, in one run; prints requests/s through the proxy and the ratio.

    .venv/bin/python -m bench.nutcracker [--rounds 3] [--requests 100000]

RESP: redis-benchmark -t set,get -c 50 -r 100000 at -P 1 and -P 16 against the redis pool. memcached:
bench/mc_load.py (set/get, 8 connections, pipeline 16) against the memcache pool. The rounds alternate
which setup goes first; medians are printed. Through a proxy on a 2-core machine the proxy is usually the
bottleneck, so the ratio says whether Cachemere behind it costs anything, not how fast a node is.
"""
import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.measure import parse_redis_benchmark_csv  # noqa: E402
from bench.mc_load import parse_result  # noqa: E402
from tests.scaleout.support import Nutcracker, start_cachemere_nodes, start_reference_nodes, stop_all  # noqa: E402


def resp_load(port, pipeline, requests):
    out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-P", str(pipeline),
                          "-n", str(requests), "-r", "100000", "-t", "set,get", "-q", "--csv"],
                         capture_output=True, text=True, timeout=300).stdout
    return parse_redis_benchmark_csv(out)


def mc_load(port, op, requests):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "mc_load.py"), "--port", str(port),
                          "--op", op, "--conns", "8", "--pipeline", "16", "--requests", str(requests),
                          "--keyspace", "100000", "--value-size", "32", "--timeout", "120"],
                         capture_output=True, text=True, timeout=300).stdout
    return parse_result(out)["rps"]


def measure(nc, requests):
    rates = {}
    for p in (1, 16):
        for test, rps in resp_load(nc.port, p, requests).items():
            rates[f"RESP {test} -P {p}"] = rps
    for op in ("set", "get"):
        rates[f"memcache {op} pipeline 16"] = mc_load(nc.mc_port, op, requests)
    return rates


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100000)
    a = ap.parse_args()
    setups = {}
    try:
        for name, start in (("cachemere", start_cachemere_nodes), ("reference", start_reference_nodes)):
            nodes = start(3)
            setups[name] = (nodes, Nutcracker(nodes))
        runs = {name: [] for name in setups}
        for r in range(a.rounds):
            order = list(setups) if r % 2 == 0 else list(reversed(setups))
            for name in order:
                runs[name].append(measure(setups[name][1], a.requests))
    finally:
        for nodes, nc in setups.values():
            nc.stop()
            stop_all(nodes)
    print(f"{'through nutcracker':32s} {'cachemere':>12s} {'reference':>12s} {'ratio':>7s}")
    for label in runs["cachemere"][0]:
        ours = statistics.median(run[label] for run in runs["cachemere"])
        theirs = statistics.median(run[label] for run in runs["reference"])
        print(f"{label:32s} {ours:12.0f} {theirs:12.0f} {ours / theirs:7.2f}")


if __name__ == "__main__":
    main()
