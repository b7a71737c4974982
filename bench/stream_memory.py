"""Bytes per stream entry, Cachemere against redis-server in the same run.

    python bench/stream_memory.py [--entries 1000000] [--cachemere CMD]

Each server (pinned to core 0, a free loopback port, no persistence) gets one stream of N entries
`XADD bench:mem * field <8-byte value>` (pipelined, every reply checked); the figure is the growth of the
server's RSS (VmRSS) over the load divided by N, plus redis's used_memory growth per entry for reference.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.memprobe import rss_bytes  # noqa: E402
from bench.suites import resp_command  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline=20.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"port {port} did not open")


def read_n(sock, n):
    buf = b""
    while buf.count(b"\r\n") < 2 * n:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    if b"-" == buf[:1] or b"\r\n-" in buf:
        raise RuntimeError(buf[:200])


def info_used_memory(sock):
    sock.sendall(resp_command(b"INFO", b"memory"))
    time.sleep(0.2)
    data = sock.recv(1 << 16)
    for line in data.split(b"\r\n"):
        if line.startswith(b"used_memory:"):
            return int(line.split(b":")[1])
    return None


def measure(argv, port, entries, batch=1000):
    proc = subprocess.Popen(["taskset", "-c", "0"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
            before = rss_bytes(proc.pid)
            used_before = info_used_memory(sock)
            for start in range(0, entries, batch):
                n = min(entries, start + batch) - start
                sock.sendall(b"".join(resp_command(b"XADD", b"bench:mem", b"*", b"field", b"v%07d" % (start + i))
                                      for i in range(n)))
                read_n(sock, n)
            time.sleep(0.3)
            after = rss_bytes(proc.pid)
            used_after = info_used_memory(sock)
        used = (used_after - used_before) / entries if used_before is not None and used_after else None
        return (after - before) / entries, used
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--cachemere", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                        ".venv", "bin", "cachemere-server"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="stream-mem-")
    rows = []
    port = free_port()
    rows.append(("redis-server", measure(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no", "--dir", work], port, args.entries)))
    port, mc = free_port(), free_port()
    rows.append(("cachemere", measure(args.cachemere.split() + ["--port", str(port), "--memcached-port", str(mc),
                                                                "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                                                "no", "--dir", work], port, args.entries)))
    print(f"stream of {args.entries:,} entries (XADD * field <8-byte value>)")
    print(f"{'server':14} {'RSS B/entry':>12} {'used_memory B/entry':>20}")
    for name, (rss, used) in rows:
        print(f"{name:14} {rss:12.1f} {used if used is None else round(used, 1)!s:>20}")
    print(f"cachemere/redis RSS ratio: {rows[1][1][0] / rows[0][1][0]:.2f}")


if __name__ == "__main__":
    main()
