"""STREAM.PUT / STREAM.GET / blocking STREAM.READ against XADD / XREAD / XREAD BLOCK on the same Cachemere
server (pinned to core 0, load on core 1), with ratios.

  * put: N records of 100 bytes, pipelined 100 deep, STREAM.PUT (4 shards, random partition keys) vs XADD *
  * get: read them all back 100 at a time: STREAM.GET with NextShardIterator vs XREAD COUNT 100
  * wake-up: a blocked STREAM.READ ... BLOCK woken by a PUT vs XREAD BLOCK woken by XADD (p50 / p99 ms)

    python bench/kstream.py [--records 50000] [--wakeups 300] [--quick]
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import redis  # noqa: E402

from bench.measure import SERVER_CORE, cpu_seconds, pinned  # noqa: E402
from tests.support.servers import CACHEMERE, ServerProcess, free_port  # noqa: E402

PAYLOAD = b"x" * 100


def start():
    workdir = tempfile.mkdtemp(prefix="bench-kstream-")
    port = free_port()
    argv = [CACHEMERE, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0", "--save", "",
            "--appendonly", "no", "--dir", workdir]
    return ServerProcess(pinned(argv, SERVER_CORE), port, workdir, os.path.join(workdir, "cachemere.log"))


SERVER_PID = [0]
CPU = {}


def timed(fn):
    """Wall seconds of fn; the server's CPU seconds meanwhile go to CPU[fn name]."""
    c0 = cpu_seconds(SERVER_PID[0])
    t0 = time.perf_counter()
    fn()
    CPU[fn.__name__] = cpu_seconds(SERVER_PID[0]) - c0
    return time.perf_counter() - t0


def bench_put(r, n):
    r.delete("ks", "xs")
    r.execute_command("STREAM.CREATE", "ks", "SHARDS", 4)

    def put_stream():
        for base in range(0, n, 100):
            p = r.pipeline(transaction=False)
            for i in range(base, min(n, base + 100)):
                p.execute_command("STREAM.PUT", "ks", b"pk%d" % i, PAYLOAD)
            p.execute()

    def put_x():
        for base in range(0, n, 100):
            p = r.pipeline(transaction=False)
            for i in range(base, min(n, base + 100)):
                p.execute_command("XADD", "xs", "*", "d", PAYLOAD)
            p.execute()
    return n / timed(put_stream), n / timed(put_x)


def bench_get(r, n):
    shards = [s[b"ShardId"] for s in r.execute_command("STREAM.DESCRIBE", "ks")[b"Shards"]]
    got = [0, 0]

    def get_stream():
        for sid in shards:
            it = r.execute_command("STREAM.ITERATOR", "ks", sid, "TRIM_HORIZON")
            while True:
                page = r.execute_command("STREAM.GET", "ks", it, "LIMIT", 100)
                if not page[b"Records"]:
                    break
                got[0] += len(page[b"Records"])
                it = page[b"NextShardIterator"]

    def get_x():
        last = b"0"
        while True:
            res = r.execute_command("XREAD", "COUNT", 100, "STREAMS", "xs", last)
            if not res:
                break
            entries = res[0][1]
            got[1] += len(entries)
            last = entries[-1][0]
    t_s, t_x = timed(get_stream), timed(get_x)
    assert got == [n, n], got
    return n / t_s, n / t_x


def wakeups(port, rounds, kind):
    r = redis.Redis(port=port)
    lat = []
    for i in range(rounds):
        ready = threading.Event()
        done = {}

        def reader():
            cl = redis.Redis(port=port)
            ready.set()
            if kind == "stream":
                cl.execute_command("STREAM.READ", "ks", "shardId-000000000000", "LATEST", "BLOCK", 5000)
            else:
                cl.execute_command("XREAD", "BLOCK", 5000, "STREAMS", "xs", "$")
            done["t"] = time.perf_counter()
            cl.close()
        th = threading.Thread(target=reader)
        th.start()
        ready.wait()
        deadline = time.monotonic() + 2
        while r.info("clients")["blocked_clients"] < 1 and time.monotonic() < deadline:
            time.sleep(0.0005)
        t0 = time.perf_counter()
        if kind == "stream":
            r.execute_command("STREAM.PUT", "ks", "k", PAYLOAD, "HASHKEY", 0)
        else:
            r.execute_command("XADD", "xs", "*", "d", PAYLOAD)
        th.join(5)
        lat.append((done["t"] - t0) * 1000)
    r.close()
    lat.sort()
    return statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=50000)
    ap.add_argument("--wakeups", type=int, default=300)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.records, a.wakeups = 10000, 100
    try:
        os.sched_setaffinity(0, {1})       # the load on core 1
    except (AttributeError, OSError):
        pass
    srv = start()
    SERVER_PID[0] = srv.proc.pid
    try:
        r = redis.Redis(port=srv.port)
        put_s, put_x = bench_put(r, a.records)
        get_s, get_x = bench_get(r, a.records)
        w_s = wakeups(srv.port, a.wakeups, "stream")
        w_x = wakeups(srv.port, a.wakeups, "x")
        print(f"{'load':34} {'STREAM.*':>12} {'X*':>12} {'ratio':>7}")
        print(f"{'put records/s (pipeline 100)':34} {put_s:12.0f} {put_x:12.0f} {put_s / put_x:7.2f}")
        print(f"{'get records/s (100 per call)':34} {get_s:12.0f} {get_x:12.0f} {get_s / get_x:7.2f}")
        n = a.records
        cs, cx = n / CPU["put_stream"], n / CPU["put_x"]
        print(f"{'put records per server CPU-s':34} {cs:12.0f} {cx:12.0f} {cs / cx:7.2f}")
        cs, cx = n / CPU["get_stream"], n / CPU["get_x"]
        print(f"{'get records per server CPU-s':34} {cs:12.0f} {cx:12.0f} {cs / cx:7.2f}")
        print(f"{'blocked read wake-up p50 ms':34} {w_s[0]:12.3f} {w_x[0]:12.3f} {w_s[0] / w_x[0]:7.2f}")
        print(f"{'blocked read wake-up p99 ms':34} {w_s[1]:12.3f} {w_x[1]:12.3f} {w_s[1] / w_x[1]:7.2f}")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
