"""AOF everysec cost in instructions per request (load-independent A/B), the server under valgrind callgrind.

    python bench/aof_callgrind.py [--cachemere PATH] [--requests 40000] [--tests set,incr] [--pipelines 16,1]
                                  [--redis]

For appendonly no and appendonly yes (appendfsync everysec), one server each, warmed up first, it reports the
server's user-space instructions per request (callgrind counters zeroed and dumped around each load, ABBA)
and the everysec cost. Kernel time (the write syscall) is not counted: compare ops/cpu-s with
bench/persistence.py --only aof for the whole cost.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.servers import CACHEMERE, free_port, wait_for_port  # noqa: E402


def run(exe, name, aof, requests, tests, pipelines):
    workdir = tempfile.mkdtemp(prefix="aof-cg-")
    port = free_port()
    base = ([exe, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0"] if name == "cachemere"
            else ["redis-server", "--port", str(port), "--bind", "127.0.0.1"])
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/cg.%p"] + base + [
        "--save", "", "--dir", workdir] + (["--appendonly", "yes", "--appendfsync", "everysec"] if aof
                                           else ["--appendonly", "no"])
    log = open(os.path.join(workdir, "server.log"), "ab")
    proc = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        try:
            wait_for_port(port, timeout=300, proc=proc)
        except RuntimeError:
            log.flush()
            with open(os.path.join(workdir, "server.log"), errors="replace") as f:
                sys.stderr.write(f.read()[-3000:])
            raise

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
            for p in pipelines:
                n = requests if p > 1 else max(requests // 4, 2000)
                load = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "10", "-P", str(p), "-r",
                        "100000", "-n", str(n), "-t", test, "-q"]
                subprocess.run(load, capture_output=True, timeout=900)     # warm-up
                a, b = instructions(load), instructions(load)
                out[(test, p)] = (a + b) / 2 / n
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


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
