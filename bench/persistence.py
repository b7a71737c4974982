"""Persistence benchmarks against redis-server 7.0.15 in the same run (servers on core 0, load on core 1):

  * SET throughput (redis-benchmark -c 50 -P 16) with appendonly no / appendfsync everysec / always,
  * RDB load time of N keys (one dump written by redis-server DEBUG POPULATE, loaded by both),
  * BGSAVE with N keys: the fork pause (latest_fork_usec), the whole save, the worst client latency meanwhile.

    python bench/persistence.py [--keys 1000000] [--requests 300000] [--quick] [--only aof,load,fork,always]
                                [--load-rounds 3]

--only picks sections: aof (everysec cost vs appendonly no, SET/INCR at -P16 and -P1, each server vs itself),
always (appendfsync always, cachemere/redis), load (RDB load time), fork (BGSAVE latest_fork_usec).
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.measure import cpu_seconds, LOAD_CORE, SERVER_CORE, parse_redis_benchmark_csv, pinned  # noqa: E402
from tests.support.servers import ServerProcess, free_port, CACHEMERE  # noqa: E402


def redis_benchmark(port, test, pipeline, requests):
    """requests/s of one redis-benchmark built-in test (-c 50)."""
    argv = pinned(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-P", str(pipeline),
                   "-n", str(requests), "-r", "100000", "-t", test, "-q", "--csv"], LOAD_CORE)
    out = subprocess.run(argv, capture_output=True, timeout=300, text=True).stdout
    rates = parse_redis_benchmark_csv(out)
    return next((v for k, v in rates.items() if k.split(" ")[0] == test.upper()), 0.0)


def start(kind, workdir, *args):
    port = free_port()
    exe = [CACHEMERE, "--memcached-port", "0"] if kind == "cachemere" else ["redis-server"]
    argv = exe + ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                  "--dir", workdir, "--enable-debug-command", "yes"] + list(args)
    return ServerProcess(pinned(argv, SERVER_CORE), port, workdir, os.path.join(workdir, f"{kind}.log"))


def command(port, *args, timeout=600):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in
                                                      (x if isinstance(x, bytes) else str(x).encode() for x in args)))
        data = b""
        while not data.endswith(b"\r\n") or (data[:1] == b"$" and data.count(b"\r\n") < 2):
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            data += chunk
        return data


def info_field(port, name):
    text = command(port, "INFO", "all").decode("latin-1", "replace")
    m = re.search(r"^%s:(.*)\r$" % re.escape(name), text, re.M)
    return m.group(1) if m else None


def _rates(args, tests, requests):
    """{(test, pipeline): {kind: rate}} for one server config, cachemere and redis interleaved."""
    out = {}
    for kind in ("cachemere", "redis"):
        workdir = tempfile.mkdtemp(prefix=f"bench-persist-{kind}-")
        srv = start(kind, workdir, *args)
        try:
            for test, pipeline in tests:
                n = requests if pipeline > 1 else max(requests // 4, 10000)
                cpu0 = cpu_seconds(srv.proc.pid)
                rps = redis_benchmark(srv.port, test, pipeline, n)
                cpu = cpu_seconds(srv.proc.pid) - cpu0
                out.setdefault((test, pipeline), {})[kind] = (rps, n / cpu if cpu > 0 else 0.0)
        finally:
            srv.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    return out


TESTS = [("set", 16), ("incr", 16), ("set", 1), ("incr", 1)]


def set_throughput(requests, sections):
    modes = {"no": (), "everysec": ("--appendonly", "yes", "--appendfsync", "everysec"),
             "always": ("--appendonly", "yes", "--appendfsync", "always")}
    wanted = ["no"] + (["everysec"] if "aof" in sections else []) + (["always"] if "always" in sections else [])
    if wanted == ["no"]:
        return
    res = {m: _rates(modes[m], TESTS, requests) for m in wanted}
    for idx, unit in ((0, "wall ops/s"), (1, "server ops/cpu-s")):
        print(f"\n{'-c50 ' + unit:22} {'mode':9} {'cachemere':>10} {'redis':>10} {'c/r':>5}"
              f" {'c cost vs no':>13} {'r cost vs no':>13}")
        for t in TESTS:
            base = res["no"][t]
            for m in wanted:
                c, r = res[m][t]["cachemere"][idx], res[m][t]["redis"][idx]
                cc = 1 - c / base["cachemere"][idx] if base["cachemere"][idx] else 0
                rc = 1 - r / base["redis"][idx] if base["redis"][idx] else 0
                print(f"{t[0].upper() + ' -P' + str(t[1]):22} {m:9} {c:10,.0f} {r:10,.0f} {c / r if r else 0:5.2f}"
                      f" {cc * 100:12.1f}% {rc * 100:12.1f}%")
    if "aof" in sections:
        print("target: everysec cost (cachemere vs its own appendonly no) <= 10%")
    if "always" in sections:
        print("target: always c/r >= 0.80")


def loaded_seconds(log_text):
    found = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", log_text)     # the last start's
    return float(found[-1]) if found else None


def _wait_loaded(srv, limit=600):
    t0 = time.monotonic()
    while (info_field(srv.port, "loading") or "0") != "0" and time.monotonic() - t0 < limit:
        time.sleep(0.05)


def _startup_cpu(kind):
    """Server CPU seconds from exec to serving with an empty dataset: subtracted from a load's CPU."""
    workdir = tempfile.mkdtemp(prefix="bench-persist-empty-")
    try:
        srv = start(kind, workdir)
        try:
            _wait_loaded(srv)
            command(srv.port, "PING")
            return cpu_seconds(srv.proc.pid)
        finally:
            srv.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _bgsave(srv):
    """(fork ms, whole BGSAVE s, worst PING latency ms meanwhile)."""
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
    start_save = time.monotonic()
    command(srv.port, "BGSAVE")
    worst = 0.0
    while True:
        t = time.perf_counter()
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        sock.recv(64)
        worst = max(worst, time.perf_counter() - t)
        if info_field(srv.port, "rdb_bgsave_in_progress") == "0" or time.monotonic() - start_save > 600:
            break
        time.sleep(0.005)
    save_s = time.monotonic() - start_save
    fork_ms = int(info_field(srv.port, "latest_fork_usec") or 0) / 1000
    sock.close()
    return fork_ms, save_s, worst * 1000


def load_and_bgsave(keys, rounds=3, sections=("load", "fork")):
    """RDB load of one redis-written dump: interleaved rounds (cachemere, redis, redis, cachemere...), each
    load as the log's "DB loaded from disk" wall seconds and as the server's CPU seconds (process CPU at the
    end of the load minus the CPU of an empty start); BGSAVE figures from the first round."""
    figures = {"cachemere": [], "redis": []}
    forks = {}
    workdir = tempfile.mkdtemp(prefix="bench-persist-rdb-")
    try:
        ref = start("redis", workdir)
        command(ref.port, "DEBUG", "POPULATE", keys, "key", 16)
        command(ref.port, "SAVE")
        ref.stop()
        size = os.path.getsize(os.path.join(workdir, "dump.rdb"))
        base = {kind: _startup_cpu(kind) for kind in ("cachemere", "redis")}
        print(f"\nRDB with {keys:,} string keys ({size / 1e6:.1f} MB, written by redis-server), {rounds} "
              f"interleaved rounds; startup CPU subtracted: cachemere {base['cachemere']:.2f}s, "
              f"redis {base['redis']:.2f}s")
        print(f"{'':12} {'round':>5} {'load wall s':>11} {'load cpu s':>10} {'fork ms':>8} {'bgsave s':>9} "
              f"{'max client latency ms':>22}")
        for rnd in range(rounds):
            order = ("cachemere", "redis") if rnd % 2 == 0 else ("redis", "cachemere")
            for kind in order:
                srv = start(kind, workdir)
                try:
                    _wait_loaded(srv)
                    cpu = cpu_seconds(srv.proc.pid) - base[kind]
                    load = loaded_seconds(srv.log())
                    dbsize = command(srv.port, "DBSIZE")
                    assert dbsize == b":%d\r\n" % keys, dbsize
                    figures[kind].append((load, cpu))
                    extra = ""
                    if rnd == 0 and "fork" in sections:
                        forks[kind] = _bgsave(srv)
                        extra = f" {forks[kind][0]:8.1f} {forks[kind][1]:9.2f} {forks[kind][2]:22.1f}"
                    print(f"{kind:12} {rnd + 1:5} {load if load is not None else float('nan'):11.2f} {cpu:10.2f}"
                          + extra)
                finally:
                    srv.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def median(xs):
        xs = sorted(x for x in xs if x is not None)
        return xs[len(xs) // 2] if xs else None

    c_wall, r_wall = median([f[0] for f in figures["cachemere"]]), median([f[0] for f in figures["redis"]])
    c_cpu, r_cpu = median([f[1] for f in figures["cachemere"]]), median([f[1] for f in figures["redis"]])
    if c_wall and r_wall:
        print(f"load ratio cachemere/redis (median wall) {c_wall / r_wall:.2f}")
    if c_cpu and r_cpu and r_cpu > 0:
        print(f"load ratio cachemere/redis (median server CPU) {c_cpu / r_cpu:.2f} (target <= 1.2)")
    if "fork" in sections and forks.get("redis") and forks["redis"][0]:
        print(f"fork pause ratio cachemere/redis {forks['cachemere'][0] / forks['redis'][0]:.2f} (target <= 1.5)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=300_000)
    ap.add_argument("--quick", action="store_true", help="100k keys, 100k requests")
    ap.add_argument("--only", default="aof,load,fork,always", help="comma list of aof,load,fork,always")
    ap.add_argument("--load-rounds", type=int, default=3, help="interleaved RDB load rounds per server")
    args = ap.parse_args()
    if args.quick:
        args.keys, args.requests = 100_000, 100_000
    sections = set(x.strip() for x in args.only.split(",") if x.strip())
    set_throughput(args.requests, sections)
    if sections & {"load", "fork"}:
        load_and_bgsave(args.keys, args.load_rounds, sections)


if __name__ == "__main__":
    main()
