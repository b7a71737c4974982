"""Where a request's server time goes, per layer: perf samples of a running Cachemere grouped by module.

    python bench/perf_layers.py [--load get|set|incr|mset|mc-get|mc-mget|mc-mg|mc-set] [--pipeline 16]
                                [--seconds 3] [--cachemere CMD] [--top 25]

Starts Cachemere on free loopback ports (server pinned to core 0, load to core 1), loads it with
redis-benchmark or bench/mc_load.py, records `perf record -e cpu-clock -g` on the server process for
--seconds, and prints the share of the server's samples per layer (kernel: socket reads/writes and
scheduling; uvloop/libuv: the event loop; connection: server/connection.pyx or mc_connection.pyx; codec:
protocol/; engine: engine/core and memcache_ops; python: the interpreter, allocator and objects) and the
top symbols. cpu-clock (not cycles) because the VM exposes no hardware counters. Needs perf and
perf_event_paranoid <= 2 (root). Stops the server it started, also on errors.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

LAYERS = (
    ("kernel", ("[kernel", "[vdso]")),
    ("uvloop/libuv", ("loop.cpython",)),
    ("connection", ("connection.cpython", "mc_connection.cpython")),
    ("codec (protocol/)", ("resp.cpython", "memcache.cpython", "memcache_bin.cpython")),
    ("engine", ("core.cpython", "memcache_ops.cpython", "aclcore.cpython")),
    ("python runtime", ("libpython", "python3")),
    ("libc", ("libc.so",)),
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}")


def layer_of(dso):
    for name, marks in LAYERS:
        if any(m in dso for m in marks):
            return name
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--load", default="get")
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--cachemere", default=os.path.join(ROOT, ".venv", "bin", "cachemere-server"))
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    port, mport = free_port(), free_port()
    server = subprocess.Popen(["taskset", "-c", "0", args.cachemere, "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--memcached-port", str(mport)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    data = tempfile.mktemp(prefix="perf_layers_", suffix=".data")
    try:
        wait_port(port)
        wait_port(mport)
        mc = args.load.startswith("mc-")
        if mc:
            op = args.load[3:]
            subprocess.run([sys.executable, os.path.join(HERE, "mc_load.py"), "--port", str(mport), "--op", "set",
                            "--conns", "10", "--pipeline", "16", "--requests", "200000", "--preload"],
                           check=True, stdout=subprocess.DEVNULL, timeout=120)
            load = ["taskset", "-c", "1", sys.executable, os.path.join(HERE, "mc_load.py"), "--port", str(mport),
                    "--op", op, "--conns", "50", "--pipeline", str(args.pipeline), "--requests", "100000000",
                    "--timeout", str(args.seconds + 5)]
        else:
            subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", "300000", "-r", "100000",
                            "-P", "16", "-q"], check=True, stdout=subprocess.DEVNULL, timeout=120)
            if args.load not in ("get", "set"):
                # the load's own keys too (INCR's counter:*), so the profile is not the keys' creation and the
                # table's growth (bench/run.py's timed rounds run after its calibration runs created them)
                subprocess.run(["redis-benchmark", "-p", str(port), "-t", args.load, "-n", "1000000", "-r", "100000",
                                "-P", "16", "-q"], check=True, stdout=subprocess.DEVNULL, timeout=300)
            load = ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-t", args.load, "-n", "100000000",
                    "-r", "100000", "-P", str(args.pipeline), "-c", "50", "-q"]
        gen = subprocess.Popen(load, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            subprocess.run(["perf", "record", "-e", "cpu-clock", "-F", "4000", "-g", "-p", str(server.pid),
                            "-o", data, "--", "sleep", str(args.seconds)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=args.seconds + 30)
        finally:
            gen.send_signal(signal.SIGINT)
            try:
                gen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                gen.kill()
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio",
                              "-g", "none", "--percent-limit", "0"], capture_output=True, text=True, timeout=120)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    rows = []
    for line in rep.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "%" not in line.split()[0]:
            continue
        parts = line.split(None, 2)
        pct = float(parts[0].rstrip("%"))
        dso = parts[1]
        sym = parts[2].replace("[.] ", "").replace("[k] ", "").strip() if len(parts) > 2 else ""
        rows.append((pct, dso, sym))
    os.unlink(data)
    # finish_task_switch & co. are the idle task switching back in: time the server was not running
    idle = sum(p for p, d, s in rows if d.startswith("[kernel") and "finish_task_switch" in s)
    busy = sum(p for p, _, _ in rows) - idle
    by_layer = {}
    for p, d, s in rows:
        if d.startswith("[kernel") and "finish_task_switch" in s:
            continue
        by_layer[layer_of(d)] = by_layer.get(layer_of(d), 0.0) + p
    print(f"load {args.load} -P {args.pipeline}: shares of the server's busy samples ({busy:.1f}% of all; "
          f"{idle:.1f}% was finish_task_switch, i.e. switched out)")
    for name, p in sorted(by_layer.items(), key=lambda kv: -kv[1]):
        print(f"  {name:20s} {100 * p / busy:5.1f}%")
    print("top symbols:")
    for p, d, s in sorted(rows, key=lambda r: -r[0])[:args.top]:
        if d.startswith("[kernel") and "finish_task_switch" in s:
            continue
        print(f"  {100 * p / busy:5.1f}%  {os.path.basename(d)[:28]:28s} {s[:90]}")


if __name__ == "__main__":
    main()
