"""Moving keys between two nodes with MIGRATE ... KEYS, as redis-cli --cluster reshard does
(--cluster-pipeline 10 by default: one MIGRATE per batch of keys, one at a time), for a Cachemere pair and a
redis-server pair on the same machine.

    python bench/migrate.py [--keys 1000000] [--batch 10 100]

For each pair and batch size: load N keys (16-byte names, 32-byte values) into the source, then move them
all to the target, timed, and check the target holds N keys and the source none. Prints keys/s and the
Cachemere/redis ratio.
"""
import argparse
import os
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.join(ROOT, "bench")]
sys.path.insert(0, ROOT)

import redis  # noqa: E402

from bench.measure import cpu_seconds  # noqa: E402
from bench.memory_per_key import load  # noqa: E402
from tests.support.servers import start_cachemere, start_redis  # noqa: E402


def bulk(a):
    return b"$%d\r\n%s\r\n" % (len(a), a)


def move_all(src_port, dst_port, n, batch, timeout_ms=5000):
    sock = socket.create_connection(("127.0.0.1", src_port), timeout=60)
    head = [b"MIGRATE", b"127.0.0.1", b"%d" % dst_port, b"", b"0", b"%d" % timeout_ms, b"KEYS"]
    buf = b""
    t0 = time.monotonic()
    for start in range(0, n, batch):
        keys = [b"%016d" % i for i in range(start, min(n, start + batch))]
        args = head + keys
        sock.sendall(b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args))
        while b"\r\n" not in buf:
            data = sock.recv(4096)
            if not data:
                raise ConnectionError("source closed the connection")
            buf += data
        line, buf = buf.split(b"\r\n", 1)
        if line != b"+OK":
            raise RuntimeError("MIGRATE replied %r" % line)
    took = time.monotonic() - t0
    sock.close()
    return took


def run_pair(name, start, n, batch, start_dst=None):
    src, dst = start(), (start_dst or start)()
    try:
        load(src.port, n)
        cpu0 = cpu_seconds(src.proc.pid) + cpu_seconds(dst.proc.pid)
        took = move_all(src.port, dst.port, n, batch)
        cpu = cpu_seconds(src.proc.pid) + cpu_seconds(dst.proc.pid) - cpu0
        s, d = redis.Redis(port=src.port).dbsize(), redis.Redis(port=dst.port).dbsize()
        if s != 0 or d != n:
            raise RuntimeError(f"{name}: source kept {s}, target has {d} of {n}")
        return took, cpu
    finally:
        src.stop()
        dst.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--mixed", action="store_true", help="also Cachemere -> redis-server and redis-server -> Cachemere")
    args = ap.parse_args()
    n = args.keys
    print(f"MIGRATE ... KEYS, {n} keys (16-byte names, 32-byte values), one MIGRATE at a time; wall time and "
          f"the CPU seconds both servers used (the fairer figure on a shared machine):")
    for batch in args.batch:
        (ours, oc), (theirs, tc) = run_pair("cachemere", start_cachemere, n, batch), \
            run_pair("redis-server", start_redis, n, batch)
        print(f"  batch {batch:4d}: cachemere {ours:6.2f} s, {oc:6.2f} cpu-s ({n / ours:8.0f} keys/s)   "
              f"redis-server {theirs:6.2f} s, {tc:6.2f} cpu-s ({n / theirs:8.0f} keys/s)   "
              f"ratio {theirs / ours:.2f}x wall, {tc / oc:.2f}x per cpu")
        if args.mixed:
            (c2r, c2rc), (r2c, r2cc) = run_pair("cachemere->redis", start_cachemere, n, batch, start_redis), \
                run_pair("redis->cachemere", start_redis, n, batch, start_cachemere)
            print(f"              cachemere->redis {c2r:6.2f} s, {c2rc:6.2f} cpu-s   "
                  f"redis->cachemere {r2c:6.2f} s, {r2cc:6.2f} cpu-s")


if __name__ == "__main__":
    main()
