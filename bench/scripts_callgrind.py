"""Instructions per EVALSHA (bench `scripts` suite's one-call scripts), the server under valgrind callgrind.

    python bench/scripts_callgrind.py [--requests 20000] [--redis] [--cachemere CMD]

An instruction count does not move with the machine's load, so it shows the few percent of an A/B that timing on
shared cores cannot. Each server runs under `valgrind --tool=callgrind`; after a warm-up load the counters are
zeroed, one redis-benchmark -P 16 EVALSHA load runs, and the dump's total is divided by the requests.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.suites import INCR_SHA, SET_SHA, load_scripts  # noqa: E402
from tests.support.servers import CACHEMERE, free_port, wait_for_port  # noqa: E402

LOADS = {"incr": ["EVALSHA", INCR_SHA, "1", "counter:__rand_int__"],
         "set": ["EVALSHA", SET_SHA, "1", "key:__rand_int__", "value"]}


def run(name, cmd, requests, tests, pipeline):
    workdir = tempfile.mkdtemp(prefix="scripts-cg-")
    port = free_port()
    base = ([cmd, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0"] if name == "cachemere"
            else ["redis-server", "--port", str(port), "--bind", "127.0.0.1"])
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/cg.%p"] + base + [
        "--save", "", "--appendonly", "no", "--dir", workdir]
    log = open(os.path.join(workdir, "server.log"), "ab")
    proc = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=600, proc=proc)
        load_scripts(port, False)

        def instructions(argv_load):
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, timeout=60)
            subprocess.run(argv_load, capture_output=True, timeout=900)
            before = set(glob.glob(f"{workdir}/cg.*"))
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, timeout=60)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                new = set(glob.glob(f"{workdir}/cg.*")) - before
                if new:
                    time.sleep(0.5)
                    with open(new.pop()) as f:
                        for line in f:
                            if line.startswith("summary:"):
                                return int(line.split()[1])
                time.sleep(0.2)
            raise TimeoutError("callgrind dump not written")

        out = {}
        for test in tests:
            load = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "10", "-P", str(pipeline),
                    "-r", "100000", "-n", str(requests), "-q"] + LOADS[test]
            subprocess.run(load, capture_output=True, timeout=900)     # warm-up
            a, b = instructions(load), instructions(load)
            out[test] = (a + b) / 2 / requests
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
