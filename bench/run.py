"""Benchmarks: Cachemere against a real redis-server and a real memcached, in the same run.

    python bench/run.py [--rounds 3] [--suite core|types|memcached|all] [--quick] [--json out.json]

Servers are pinned to core 0 and the load generators to core 1 (taskset), all on 127.0.0.1. The loads
are the standard tools: redis-benchmark (-c 50, -P 1 and -P 16) for the RESP side and memcaslap
(libmemcached-tools) for the memcached side. Runs are interleaved over rounds (Cachemere first in odd
rounds, the reference first in even ones) and the medians are printed with Cachemere/reference ratios,
for wall-clock requests per second and per server CPU-second (utime+stime from /proc/<pid>/stat).
"""
import argparse
import csv
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.servers import ServerProcess, free_port, wait_for_port, CACHEMERE  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CORE = "0"
LOAD_CORE = "1"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pinned(argv, core):
    return (["taskset", "-c", core] + argv) if shutil.which("taskset") and os.cpu_count() > 1 else argv


def start_servers(workdir):
    os.makedirs(workdir, exist_ok=True)
    servers = {}
    port, mc_port = free_port(), free_port()
    servers["cachemere"] = ServerProcess(
        pinned([CACHEMERE, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", str(mc_port),
                "--save", "", "--appendonly", "no", "--dir", workdir], SERVER_CORE),
        port, workdir, os.path.join(workdir, "cachemere.log"))
    servers["cachemere"].mc_port = mc_port
    port = free_port()
    servers["redis"] = ServerProcess(
        pinned(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", workdir], SERVER_CORE), port, workdir, os.path.join(workdir, "redis.log"))
    port = free_port()
    mc_argv = ["memcached", "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-t", "1"]
    if os.geteuid() == 0:
        mc_argv += ["-u", "root"]
    servers["memcached"] = ServerProcess(pinned(mc_argv, SERVER_CORE), port, workdir,
                                         os.path.join(workdir, "memcached.log"))
    return servers


def redis_benchmark(port, test, pipeline, requests, extra=()):
    """requests/s for one redis-benchmark test (CSV output)."""
    argv = pinned(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-P", str(pipeline),
                   "-n", str(requests), "-r", "100000", "--csv"] + (["-t", test] if test else []) + list(extra),
                  LOAD_CORE)
    out = subprocess.run(argv, capture_output=True, timeout=120, text=True).stdout
    rows = [r for r in csv.reader(io.StringIO(out)) if r and r[0] != "test"]
    return float(rows[-1][1]) if rows else 0.0


def memcaslap(port, seconds, concurrency=32, get_ratio=None):
    argv = pinned(["memcaslap", "-s", f"127.0.0.1:{port}", "-T", "1", "-c", str(concurrency), "-t", f"{seconds}s",
                   "-X", "32"], LOAD_CORE)
    out = subprocess.run(argv, capture_output=True, timeout=seconds + 30, text=True).stdout
    m = re.search(r"Ops: (\d+) TPS: (\d+)", out)
    return float(m.group(2)) if m else 0.0


def measure(server, fn):
    """(ops/s, ops per server CPU-second) for one load run."""
    pid = server.proc.pid
    c0, t0 = cpu_seconds(pid), time.monotonic()
    rate = fn()
    cpu = cpu_seconds(pid) - c0
    wall = time.monotonic() - t0
    return rate, (rate * wall / cpu if cpu > 0 else 0.0)


def suite_tests(suite, quick):
    n = 100_000 if quick else 300_000
    core = []
    for p in (1, 16):
        for t in ("set", "get", "incr", "mset"):
            core.append(("resp", f"{t.upper()} -P{p}", t, p, n if p == 16 else n // 3, ()))
    types = [("resp", f"{t.upper()} -P1", t, 1, n // 3, ())
             for t in ("lpush", "lpop", "rpop", "sadd", "spop", "hset", "zadd", "zpopmin", "lrange_100")]
    types.append(("resp", "ZRANGEBYSCORE big -P1", None, 1, n // 10,
                  ("ZRANGEBYSCORE", "bench:bigzset", "500000", "500100")))
    types.append(("resp", "ZRANGE big 0 10 -P1", None, 1, n // 10, ("ZRANGE", "bench:bigzset", "0", "10")))
    mc = [("mc", "memcached get/set 9:1", None, 0, 3 if quick else 5, ())]
    return {"core": core, "types": types, "memcached": mc, "all": core + types + mc}[suite]


def load_big_zset(port, members):
    """A sorted set with `members` members for the ZRANGE loads (pipelined ZADDs)."""
    import socket
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    batch = 1000
    for start in range(0, members, batch):
        args = [b"ZADD", b"bench:bigzset"]
        for i in range(start, min(members, start + batch)):
            args += [b"%d" % i, b"m%d" % i]
        sock.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        data = b""
        while not data.endswith(b"\r\n"):
            data += sock.recv(100)
    sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--suite", default="core", choices=["core", "types", "memcached", "all"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--zset-members", type=int, default=1_000_000)
    ap.add_argument("--json")
    args = ap.parse_args()
    for tool in ("redis-server", "redis-benchmark", "memcached", "memcaslap"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: install redis-server redis-tools memcached libmemcached-tools")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}")
    tests = suite_tests(args.suite, args.quick)
    workdir = f"/tmp/cachemere-bench-{os.getpid()}"
    servers = start_servers(workdir)
    try:
        wait_for_port(servers["cachemere"].mc_port, timeout=3)
    except TimeoutError:
        print("cachemere has no memcached listener: skipping the memcached rows")
        tests = [t for t in tests if t[0] != "mc"]
    results = {}
    try:
        if any("big" in t[1] for t in tests):
            members = min(args.zset_members, 100_000) if args.quick else args.zset_members
            for name in ("cachemere", "redis"):
                load_big_zset(servers[name].port, members)
        for rnd in range(args.rounds):
            for kind, label, test, pipeline, amount, extra in tests:
                ref = "memcached" if kind == "mc" else "redis"
                order = ["cachemere", ref] if rnd % 2 == 0 else [ref, "cachemere"]
                for name in order:
                    srv = servers[name]
                    if kind == "mc":
                        port = srv.mc_port if name == "cachemere" else srv.port
                        fn = lambda port=port: memcaslap(port, amount)
                    else:
                        fn = lambda srv=srv: redis_benchmark(srv.port, test, pipeline, amount, extra)
                    results.setdefault((label, name), []).append(measure(srv, fn))
    finally:
        for srv in servers.values():
            srv.stop()
    rows = []
    print(f"\n{'test':28} {'cachemere/s':>12} {'reference/s':>12} {'ratio':>6}   {'c ops/cpu-s':>12} "
          f"{'r ops/cpu-s':>12} {'ratio':>6}")
    for kind, label, *_ in tests:
        ref = "memcached" if kind == "mc" else "redis"
        c = results[(label, "cachemere")]
        r = results[(label, ref)]
        c_rate, r_rate = statistics.median(x[0] for x in c), statistics.median(x[0] for x in r)
        c_eff, r_eff = statistics.median(x[1] for x in c), statistics.median(x[1] for x in r)
        ratio = c_rate / r_rate if r_rate else 0.0
        eff = c_eff / r_eff if r_eff else 0.0
        rows.append({"test": label, "reference": ref, "cachemere": c_rate, "ref": r_rate, "ratio": ratio,
                     "cachemere_per_cpu_s": c_eff, "ref_per_cpu_s": r_eff, "cpu_ratio": eff})
        print(f"{label:28} {c_rate:12,.0f} {r_rate:12,.0f} {ratio:6.2f}   {c_eff:12,.0f} {r_eff:12,.0f} {eff:6.2f}")
    print(f"(medians of {args.rounds} interleaved rounds; reference = redis-server 7.0.15, or memcached -t 1 "
          f"for the memcached rows)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
