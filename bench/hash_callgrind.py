"""Instructions per request of the hash commands, the server under valgrind callgrind (load-independent A/B).

    .venv/bin/python bench/hash_callgrind.py [--requests 20000] [--cachemere CMD ...]

Each binary runs once under callgrind; per load a warm-up run, then counters zeroed, the load (redis-benchmark
-c 10 -P 16), counters dumped. Loads: HSET/HGET on one big hash (dict form), HSET/HGET/HGETALL on 10-field
hashes (packed form). Prints instructions per request per binary."""
import argparse
import glob
import os
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.suites import load_small_hashes  # noqa: E402
from tests.support.servers import free_port, wait_for_port  # noqa: E402

LOADS = [
    ("HSET big", ["-t", "hset"]),
    ("HGET big", ["HGET", "myhash", "element:__rand_int__"]),
    ("HSET small", ["HSET", "bench:h10:__rand_int__", "field:3", "value:x"]),
    ("HGET small", ["HGET", "bench:h10:__rand_int__", "field:7"]),
    ("HGETALL small", ["HGETALL", "bench:h10:__rand_int__"]),
]


def measure(cmd, requests):
    workdir = tempfile.mkdtemp(prefix="hash-cg-")
    port = free_port()
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/cg.%p"] + shlex.split(cmd) + [
        "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0", "--save", "", "--appendonly", "no",
        "--dir", workdir]
    log = open(os.path.join(workdir, "server.log"), "ab")
    proc = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = {}
    try:
        wait_for_port(port, timeout=180, proc=proc)
        load_small_hashes(port, True)

        def instructions(load):
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
                        for line in f:
                            if line.startswith("summary:"):
                                return int(line.split()[1])
                time.sleep(0.2)
            raise TimeoutError("callgrind dump not written")

        for label, args in LOADS:
            load = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "10", "-P", "16", "-r", "100000",
                    "-n", str(requests), "-q"] + args
            subprocess.run(load, capture_output=True, timeout=900)       # warm-up
            out[label] = instructions(load) / requests
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
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
