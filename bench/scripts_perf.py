"""Where an EVALSHA's server time goes: perf samples of a running Cachemere under the `scripts` suite's load.

    python bench/scripts_perf.py [--script set|incr] [--pipeline 16] [--seconds 4] [--cachemere CMD] [--top 40]
                                 [--callers SYMBOL]

Starts Cachemere on a free loopback port (pinned to core 0), SCRIPT LOADs the suite's scripts, drives
`redis-benchmark -c 50 -P N EVALSHA ...` (core 1), records `perf record -e cpu-clock -g` on the server and prints the
top symbols (self time, share of the server's busy samples) and the same grouped by layer (bench/perf_layers.py).
--callers SYMBOL also prints who calls SYMBOL (perf report -G, caller graph), e.g. luaC_step or propagatemark.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from bench.perf_layers import free_port, layer_of, wait_port  # noqa: E402
from bench.suites import INCR_SHA, SET_SHA, load_scripts  # noqa: E402

LOADS = {"incr": ["EVALSHA", INCR_SHA, "1", "counter:__rand_int__"],
         "set": ["EVALSHA", SET_SHA, "1", "key:__rand_int__", "value"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--script", choices=sorted(LOADS), default="set")
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--cachemere", default=os.path.join(ROOT, ".venv", "bin", "cachemere-server"))
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--callers", default=None)
    ap.add_argument("--keep", default=None, help="keep perf.data at this path")
    ap.add_argument("--dwarf", action="store_true", help="dwarf call graphs (-F 500) instead of frame pointers")
    args = ap.parse_args()
    port = free_port()
    server = subprocess.Popen(["taskset", "-c", "0"] + args.cachemere.split() +
                              ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    data = args.keep or tempfile.mktemp(prefix="scripts_perf_", suffix=".data")
    callers = ""
    try:
        wait_port(port)
        load_scripts(port, False)
        load = ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-n", "100000000", "-r", "100000",
                "-P", str(args.pipeline), "-c", "50", "-q"] + LOADS[args.script]
        gen = subprocess.Popen(load, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            graph = ["-F", "500", "--call-graph", "dwarf,16384"] if args.dwarf else ["-F", "4000", "-g"]
            subprocess.run(["perf", "record", "-e", "cpu-clock"] + graph + ["-p", str(server.pid),
                            "-o", data, "--", "sleep", str(args.seconds)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=args.seconds + 60)
        finally:
            gen.send_signal(signal.SIGINT)
            try:
                gen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                gen.kill()
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio",
                              "-g", "none", "--percent-limit", "0"], capture_output=True, text=True, timeout=180)
        if args.callers:
            callers = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "-G",
                                      "--symbol-filter", args.callers, "--percent-limit", "0.3"],
                                     capture_output=True, text=True, timeout=180).stdout
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        if os.path.exists(data) and not args.keep:
            os.unlink(data)
    rows = []
    for line in rep.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "%" not in line.split()[0]:
            continue
        parts = line.split(None, 2)
        rows.append((float(parts[0].rstrip("%")), parts[1],
                     parts[2].replace("[.] ", "").replace("[k] ", "").strip() if len(parts) > 2 else ""))
    idle = sum(p for p, d, s in rows if d.startswith("[kernel") and "finish_task_switch" in s)
    busy = sum(p for p, _, _ in rows) - idle
    by_layer = {}
    for p, d, s in rows:
        if d.startswith("[kernel") and "finish_task_switch" in s:
            continue
        name = "lua" if "lua51" in d or "lupa" in d else layer_of(d)
        by_layer[name] = by_layer.get(name, 0.0) + p
    print(f"EVALSHA {args.script} -P {args.pipeline}: shares of the server's busy samples")
    for name, p in sorted(by_layer.items(), key=lambda kv: -kv[1]):
        print(f"  {name:20s} {100 * p / busy:5.1f}%")
    print("top symbols:")
    for p, d, s in sorted(rows, key=lambda r: -r[0])[:args.top]:
        if d.startswith("[kernel") and "finish_task_switch" in s:
            continue
        print(f"  {100 * p / busy:5.1f}%  {os.path.basename(d)[:28]:28s} {s[:90]}")
    if callers:
        print(callers[:20000])


if __name__ == "__main__":
    main()
