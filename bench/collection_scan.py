"""HSCAN / SSCAN / ZSCAN loops (COUNT 10) over a 1M-element hashtable/skiplist collection, Cachemere next to
redis-server 7.0.15 in one run: total loop time, calls, and the ratio.

    .venv/bin/python -m bench.collection_scan [--n 1000000] [--count 10]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import redis  # noqa: E402

from tests.support.servers import start_cachemere, start_redis  # noqa: E402


def fill(r, kind, n):
    p = r.pipeline(transaction=False)
    for lo in range(0, n, 10000):
        chunk = range(lo, min(n, lo + 10000))
        if kind == "HSCAN":
            p.hset("k", mapping={b"f%d" % i: b"v" for i in chunk})
        elif kind == "SSCAN":
            p.sadd("k", *[b"m%d" % i for i in chunk])
        else:
            p.zadd("k", {b"m%d" % i: i for i in chunk})
    p.execute()


def loop(r, cmd, count):
    conn = r.connection_pool.get_connection()
    cursor, calls, seen = b"0", 0, 0
    t0 = time.perf_counter()
    while True:
        conn.send_command(cmd, "k", cursor, "COUNT", count)
        cursor, items = conn.read_response()
        calls += 1
        seen += len(items)
        if cursor == b"0":
            return time.perf_counter() - t0, calls, seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--count", type=int, default=10)
    a = ap.parse_args()
    servers = {"cachemere": start_cachemere(), "redis": start_redis()}
    try:
        for cmd in ("HSCAN", "SSCAN", "ZSCAN"):
            row = {}
            for name, srv in servers.items():
                r = redis.Redis(port=srv.port)
                r.delete("k")
                fill(r, cmd, a.n)
                row[name] = loop(r, cmd, a.count)
                r.delete("k")
            c, rd = row["cachemere"], row["redis"]
            print(f"{cmd} n={a.n} COUNT {a.count}: cachemere {c[0]:.2f}s {c[1]} calls, redis {rd[0]:.2f}s "
                  f"{rd[1]} calls, time ratio {c[0] / rd[0]:.2f}")
    finally:
        for srv in servers.values():
            srv.stop()


if __name__ == "__main__":
    main()
