"""Memory of small hashes: RSS growth per hash on redis-server and Cachemere, same run.

    .venv/bin/python bench/hash_memory.py [--hashes 20000] [--fields 10 100] [--cachemere CMD]

Each hash gets `fields` fields of ~10-byte names and values in one pipelined HSET; RSS is VmRSS from
/proc/<pid>/status before and after loading. Prints bytes per hash and the Cachemere/redis ratio.
"""
import argparse
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memprobe import rss_bytes  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(port)


def resp(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def load(port, hashes, fields, batch=200, timeout=120):
    deadline = time.time() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for start in range(0, hashes, batch):
            if time.time() > deadline:
                raise TimeoutError("load too slow")
            count = min(batch, hashes - start)
            out = []
            for i in range(start, start + count):
                args = [b"hm:%012d" % i]
                for f in range(fields):
                    args += [b"field:%04d" % f, b"value:%04d" % f]
                out.append(resp(b"HSET", *args))
            sock.sendall(b"".join(out))
            expected = (b":%d\r\n" % fields) * count
            got = b""
            while len(got) < len(expected):
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("closed")
                got += chunk
            if got != expected:
                raise RuntimeError(f"unexpected reply {got[:80]!r}")


def measure(argv, port, hashes, fields):
    workdir = tempfile.mkdtemp(prefix="hashmem-")
    proc = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        before = rss_bytes(proc.pid)
        load(port, hashes, fields)
        time.sleep(0.2)
        return (rss_bytes(proc.pid) - before) / hashes
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--hashes", type=int, default=20000)
    ap.add_argument("--fields", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--cachemere", default=os.path.join(here, ".venv/bin/cachemere-server"))
    a = ap.parse_args()
    for fields in a.fields:
        p1, p2 = free_port(), free_port()
        r = measure(["redis-server", "--port", str(p1), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                    p1, a.hashes, fields)
        c = measure(shlex.split(a.cachemere) + ["--port", str(p2), "--memcached-port", str(free_port()),
                                                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                    p2, a.hashes, fields)
        print(f"{fields:4d} fields: redis {r:9.1f} B/hash  cachemere {c:9.1f} B/hash  ratio {c / r:5.2f}x")


if __name__ == "__main__":
    main()
