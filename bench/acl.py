"""Cost of ACL checks: redis-benchmark -P 16 AUTH'd as a 20-rule user vs the default user, same server.

    python bench/acl.py [--rounds 5] [--requests 400000] [--tests set,get,incr,mset]
                        [--cachemere CMD] [--redis]
    python bench/acl.py --callgrind [--requests 40000] [--redis]

--callgrind runs each server under `valgrind --tool=callgrind` and reports instructions per request for the
default and the 20-rule user (counters zeroed and dumped around each load with callgrind_control): an
instruction count does not move with the machine's load, so it shows a few percent that timing cannot.
For Cachemere the last column is the difference inside Dispatcher.execute alone (the check itself, without
the clock-driven timers, which run more often in a load that took longer), as a share of the whole request.

Both loads run against one Cachemere (pinned to core 0, redis-benchmark to core 1), interleaved round by
round (the order alternates), and the table shows medians of requests/s and of requests per server
CPU-second, with the restricted/default ratio (goal: >= 0.95). --redis runs the same pair on redis-server
7.0.15 for reference.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.measure import cpu_seconds, parse_redis_benchmark_csv, pinned  # noqa: E402
from tests.support.servers import start_cachemere, start_redis  # noqa: E402

# 20 rules: flags, a password, key patterns (the benchmark's keys match the last ones), channels, categories
# and single commands, so the check walks several patterns and the command bitmap like a real user would.
RULES = ["on", ">benchpass", "~cache:*", "%R~ro:*", "%W~wo:*", "~session:*", "~mylist*", "~myset*",
         "~myhash*", "~counter:*", "~key:*", "&news:*", "&bench:*", "+@all", "-@dangerous", "-@admin",
         "+ping", "-flushall", "-keys", "-debug"]
assert len(RULES) == 20


def run_load(port, test, requests, user):
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-P", "16", "-r", "100000",
            "-n", str(requests), "-t", test, "--csv", "-q"]
    if user:
        argv += ["--user", "bench", "-a", "benchpass"]
    out = subprocess.run(pinned(argv, "1"), capture_output=True, text=True, timeout=120)
    rates = parse_redis_benchmark_csv(out.stdout)
    return next(iter(rates.values())) if rates else None


def bench_server(srv, tests, rounds, requests):
    import redis
    r = redis.Redis(port=srv.port)
    r.execute_command("ACL", "SETUSER", "bench", *RULES)
    try:
        subprocess.run(["taskset", "-pc", "0", str(srv.proc.pid)], capture_output=True, timeout=5)
    except Exception:
        pass
    results = {}
    for test in tests:
        rows = {False: [], True: []}
        cpu = {False: [], True: []}
        run_load(srv.port, test, requests // 4, False)      # warm-up
        for i in range(rounds):
            for user in ((False, True) if i % 2 == 0 else (True, False)):
                c0 = cpu_seconds(srv.proc.pid)
                rate = run_load(srv.port, test, requests, user)
                c1 = cpu_seconds(srv.proc.pid)
                if rate:
                    rows[user].append(rate)
                    cpu[user].append(requests / max(1e-6, c1 - c0))
        results[test] = {k: (statistics.median(rows[k]) if rows[k] else 0.0,
                             statistics.median(cpu[k]) if cpu[k] else 0.0) for k in rows}
    return results


def callgrind_server(name, requests, tests):
    """Instructions per request, default user vs the restricted one, the server under callgrind."""
    import redis
    from bench.callgrind import CallgrindServer, free_port, function_instructions, server_argv
    port = free_port()
    with CallgrindServer(server_argv(name, port), wait_port=port, prefix="acl-cg-") as srv:
        r = redis.Redis(port=port, socket_timeout=60)
        r.execute_command("ACL", "SETUSER", "bench", *RULES)
        # every key the loads can name exists before counting starts: otherwise the loads keep creating keys,
        # and a hash-table resize landing in one of the four counts moved a row by up to 10 points
        for prefix in ("key:", "counter:"):
            for lo in range(0, 100000, 5000):
                pipe = r.pipeline(transaction=False)
                for i in range(lo, lo + 5000):
                    pipe.set(f"{prefix}{i:012d}", "1")   # an integer: INCR works on it
                pipe.execute()

        def instructions(argv_load):
            """(whole process, inside the dispatcher) instructions of one load; the second is None for redis
            (its Debian binary has no symbols to find processCommand by)."""
            total = srv.count(lambda: srv.run_load(argv_load))
            inside = function_instructions(srv.last_dump, "Dispatcher_execute") if name == "cachemere" else None
            return total, inside

        out = {}
        for test in tests:
            load = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "10", "-P", "16", "-r", "100000",
                    "-n", str(requests), "-t", test, "-q"]
            acl = load + ["--user", "bench", "-a", "benchpass"]
            srv.run_load(load)     # warm-up
            # ABBA order, so a drift (cron, table growth) weighs on both sides alike
            d1, a1, a2, d2 = instructions(load), instructions(acl), instructions(acl), instructions(load)
            exec_delta = None
            if d1[1] is not None:
                exec_delta = ((a1[1] + a2[1]) - (d1[1] + d2[1])) / 2 / requests
            out[test] = ((d1[0] + d2[0]) / 2 / requests, (a1[0] + a2[0]) / 2 / requests, exec_delta)
        return out


def main_callgrind(args):
    names = ["cachemere"] + (["redis"] if args.redis else [])
    tests = args.tests.split(",")
    print(f"{'server':10} {'test':7} {'default instr/req':>18} {'acl instr/req':>14} {'acl cost':>9} "
          f"{'in dispatcher':>14}")
    for name in names:
        for test, (d, a, exec_delta) in callgrind_server(name, args.requests, tests).items():
            inside = f"{exec_delta:+6.0f} {exec_delta / d * 100:5.1f}%" if exec_delta is not None else ""
            print(f"{name:10} {test:7} {d:18.0f} {a:14.0f} {(a - d) / d * 100:8.1f}% {inside:>14}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=400000)
    ap.add_argument("--tests", default="set,get,incr,mset")
    ap.add_argument("--redis", action="store_true")
    ap.add_argument("--callgrind", action="store_true", help="instructions per request under valgrind")
    args = ap.parse_args()
    if args.callgrind:
        if "--requests" not in sys.argv:
            args.requests = 40000
        return main_callgrind(args)
    tests = args.tests.split(",")
    servers = [("cachemere", start_cachemere)] + ([("redis", start_redis)] if args.redis else [])
    print(f"{'server':10} {'test':7} {'default r/s':>12} {'acl r/s':>12} {'ratio':>6} "
          f"{'default r/cpu-s':>16} {'acl r/cpu-s':>12} {'ratio':>6}")
    for name, start in servers:
        srv = start()
        try:
            res = bench_server(srv, tests, args.rounds, args.requests)
        finally:
            srv.stop()
        for test, row in res.items():
            (dw, dc), (aw, ac) = row[False], row[True]
            print(f"{name:10} {test:7} {dw:12.0f} {aw:12.0f} {aw / dw if dw else 0:6.3f} "
                  f"{dc:16.0f} {ac:12.0f} {ac / dc if dc else 0:6.3f}")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
