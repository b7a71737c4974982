"""Feature benchmarks against redis-server in the same run (servers on core 0, load on core 1):

  * EVALSHA of a small script (redis-benchmark),
  * PUBLISH fan-out: 1 publisher, 50 subscribers, messages delivered per second,
  * sorted-set scaling: ZADD / ZRANK / ZRANGEBYSCORE cost from 10^3 to 10^6 members (O(log n) check).

    python bench/features.py [--quick] [--rounds N] [--only evalsha,pubsub,streams,zset]
"""
import argparse
import os
import selectors
import socket
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.measure import pinned, SERVER_CORE, LOAD_CORE  # noqa: E402
from tests.support.servers import ServerProcess, free_port, CACHEMERE  # noqa: E402


def redis_benchmark(port, test, pipeline, requests, extra=()):
    """requests/s for one redis-benchmark test or custom command (CSV output)."""
    import csv
    import io
    import subprocess
    argv = pinned(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-P", str(pipeline),
                   "-n", str(requests), "-r", "100000", "--csv"] + (["-t", test] if test else []) + list(extra),
                  LOAD_CORE)
    out = subprocess.run(argv, capture_output=True, timeout=120, text=True).stdout
    rows = [r for r in csv.reader(io.StringIO(out)) if r and r[0] != "test"]
    return float(rows[-1][1]) if rows else 0.0


def start(kind, workdir):
    port = free_port()
    if kind == "cachemere":
        argv = [CACHEMERE, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0", "--save", "",
                "--dir", workdir]
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", workdir]
    return ServerProcess(pinned(argv, SERVER_CORE), port, workdir, os.path.join(workdir, f"{kind}.log"))


def command(sock, *args):
    sock.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in
                                                   (x if isinstance(x, bytes) else str(x).encode() for x in args)))
    data = b""
    while not data.endswith(b"\r\n"):
        data += sock.recv(65536)
    return data


def evalsha(port, n):
    sock = socket.create_connection(("127.0.0.1", port))
    sha = command(sock, "SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])").split(b"\r\n")[1].decode()
    sock.close()
    return redis_benchmark(port, None, 1, n, ("EVALSHA", sha, "1", "bench:counter"))


def pubsub_fanout(port, messages, subscribers=50):
    """Messages delivered per second to `subscribers` subscribers of one channel (pipelined publisher)."""
    subs = []
    for _ in range(subscribers):
        s = socket.create_connection(("127.0.0.1", port))
        command(s, "SUBSCRIBE", "fan")
        s.setblocking(False)
        subs.append(s)
    pub = socket.create_connection(("127.0.0.1", port))
    payload = b"*3\r\n$7\r\nPUBLISH\r\n$3\r\nfan\r\n$16\r\n0123456789abcdef\r\n"
    per_message = len(b"*3\r\n$7\r\nmessage\r\n$3\r\nfan\r\n$16\r\n0123456789abcdef\r\n")
    expected = per_message * messages
    sel = selectors.DefaultSelector()
    received = {s: 0 for s in subs}
    for s in subs:
        sel.register(s, selectors.EVENT_READ)
    start = time.monotonic()
    sent = 0
    batch = 100
    deadline = start + 60
    while (sent < messages or min(received.values()) < expected) and time.monotonic() < deadline:
        if sent < messages:
            pub.sendall(payload * batch)
            sent += batch
        for key, _ in sel.select(timeout=0.001):
            try:
                received[key.fileobj] += len(key.fileobj.recv(1 << 20))
            except BlockingIOError:
                pass
        pub.setblocking(False)
        try:
            while pub.recv(1 << 20):
                pass
        except BlockingIOError:
            pass
        pub.setblocking(True)
    elapsed = time.monotonic() - start
    delivered = sum(min(v, expected) for v in received.values()) // per_message
    for s in subs + [pub]:
        s.close()
    return delivered / elapsed


def streams(port, n):
    """XADD and XREADGROUP (COUNT 10, new entries) throughput at -P1."""
    sock = socket.create_connection(("127.0.0.1", port))
    command(sock, "DEL", "bench:s")
    sock.close()
    xadd = redis_benchmark(port, None, 1, n, ("XADD", "bench:s", "*", "field", "value"))
    sock = socket.create_connection(("127.0.0.1", port))
    command(sock, "XGROUP", "CREATE", "bench:s", "g", "0")
    sock.close()
    xread = redis_benchmark(port, None, 1, n // 10,
                            ("XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "bench:s", ">"))
    return xadd, xread


def zset_scaling(port, sizes):
    out = {}
    sock = socket.create_connection(("127.0.0.1", port))
    loaded = 0
    for size in sizes:
        for start in range(loaded, size, 1000):
            args = ["ZADD", "bench:z"]
            for i in range(start, min(size, start + 1000)):
                args += [str(i), f"m{i}"]
            command(sock, *args)
        loaded = size
        mid = size // 2
        rank = redis_benchmark(port, None, 1, 20000, ("ZRANK", "bench:z", f"m{mid}"))
        rng = redis_benchmark(port, None, 1, 20000, ("ZRANGEBYSCORE", "bench:z", str(mid), str(mid + 10)))
        add = redis_benchmark(port, None, 1, 20000, ("ZADD", "bench:z", str(mid), "__rand_int__"))
        out[size] = (add, rank, rng)
    sock.close()
    return out


def median_of(values):
    """Median of numbers, element-wise for tuples; a single value (the zset table) is taken as is."""
    if len(values) == 1:
        return values[0]
    if isinstance(values[0], tuple):
        return tuple(median_of([v[i] for v in values]) for i in range(len(values[0])))
    return statistics.median(values)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    ap.add_argument("--only", default="evalsha,pubsub,streams,zset",
                    help="comma-separated subset of: evalsha, pubsub, streams, zset")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    workdir = f"/tmp/cachemere-features-{os.getpid()}"
    os.makedirs(workdir, exist_ok=True)
    sizes = [1000, 10000, 100000] + ([] if args.quick else [1000000])
    rounds = {"cachemere": [], "redis": []}
    for round_no in range(args.rounds):
        # interleaved rounds: a noisy neighbour or a frequency change hits both servers alike
        for kind in ("cachemere", "redis"):
            srv = start(kind, workdir)
            try:
                runs = {
                    "evalsha": lambda: evalsha(srv.port, 30000 if args.quick else 100000),
                    "pubsub": lambda: pubsub_fanout(srv.port, 2000 if args.quick else 10000),
                    "streams": lambda: streams(srv.port, 30000 if args.quick else 100000),
                    "zset": lambda: zset_scaling(srv.port, sizes),
                }
                rounds[kind].append({name: run() for name, run in runs.items()
                                     if name in only and (name != "zset" or round_no == 0)})
            finally:
                srv.stop()
    results = {kind: {name: median_of([r[name] for r in done if name in r]) for name in done[0]}
               for kind, done in rounds.items()}
    c, r = results["cachemere"], results["redis"]
    print(f"{'test':40} {'cachemere':>12} {'redis':>12} {'ratio':>6}")
    if "evalsha" in only:
        print(f"{'EVALSHA (incr script) req/s -P1':40} {c['evalsha']:12,.0f} {r['evalsha']:12,.0f} "
              f"{c['evalsha'] / r['evalsha']:6.2f}")
    if "pubsub" in only:
        print(f"{'PUBLISH fan-out, msgs delivered/s (50 subs)':40} {c['pubsub']:12,.0f} {r['pubsub']:12,.0f} "
              f"{c['pubsub'] / r['pubsub']:6.2f}")
    for i, name in enumerate(("XADD * req/s -P1", "XREADGROUP COUNT 10 > req/s -P1") if "streams" in only else ()):
        print(f"{name:40} {c['streams'][i]:12,.0f} {r['streams'][i]:12,.0f} {c['streams'][i] / r['streams'][i]:6.2f}")
    for size in sizes if "zset" in only else ():
        for i, name in enumerate(("ZADD", "ZRANK", "ZRANGEBYSCORE 10")):
            label = f"{name} at {size:,} members req/s"
            print(f"{label:40} {c['zset'][size][i]:12,.0f} {r['zset'][size][i]:12,.0f} "
                  f"{c['zset'][size][i] / r['zset'][size][i]:6.2f}")


if __name__ == "__main__":
    main()
