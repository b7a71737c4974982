"""RSS per key: load N keys (16-byte keys, 32-byte values) into Cachemere and a real redis-server with
pipelined raw RESP, and report RSS growth per key and the ratio.

    python bench/memory_per_key.py [--keys 1000000]
"""
import argparse
import os
import socket
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.servers import start_cachemere, start_redis  # noqa: E402


def rss(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def load(port, n, batch=1000):
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    value = b"v" * 32
    expected = b"+OK\r\n" * batch
    for start in range(0, n, batch):
        count = min(batch, n - start)
        payload = b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\n%016d\r\n$32\r\n%s\r\n" % (i, value)
                           for i in range(start, start + count))
        sock.sendall(payload)
        want = len(expected) if count == batch else 5 * count
        got = b""
        while len(got) < want:
            got += sock.recv(1 << 20)
    sock.close()


def measure(srv, n):
    before = rss(srv.proc.pid)
    load(srv.port, n)
    return (rss(srv.proc.pid) - before) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    n = ap.parse_args().keys
    ours = start_cachemere()
    theirs = start_redis()
    try:
        c = measure(ours, n)
        r = measure(theirs, n)
    finally:
        ours.stop()
        theirs.stop()
    print(f"{n} keys (16-byte keys, 32-byte values): cachemere {c:.0f} B/key, redis-server {r:.0f} B/key, "
          f"ratio {c / r:.2f}x")


if __name__ == "__main__":
    main()
