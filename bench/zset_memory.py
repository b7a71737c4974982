"""Memory of small sorted sets: RSS growth per zset on Cachemere and redis-server 7.0.15, same run.

    python bench/zset_memory.py [--zsets 20000] [--sizes 10,100] [--member-size 8] [--cachemere CMD]

Both servers start fresh (bench/run.py's Servers); for each size, `--zsets` keys get that many members
(`ZADD key score member ...`, one command per key, scores i + 0.5) and RSS (VmRSS) is read before and
after. Redis keeps such zsets as listpacks (<= 128 members of <= 64 bytes).
"""
import argparse
import os
import socket
import sys
import tempfile
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.memprobe import rss_bytes  # noqa: E402
from bench.run import Servers, resolve_cachemere  # noqa: E402
from bench.suites import resp_command  # noqa: E402


def load(port, prefix, zsets, size, member_size, batch=200):
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        for start in range(0, zsets, batch):
            count = min(batch, zsets - start)
            cmds = []
            for k in range(start, start + count):
                args = [b"ZADD", b"%s:%d:%08d" % (prefix, size, k)]
                for i in range(size):
                    args += [b"%d.5" % i, (b"m%d" % i).rjust(member_size, b"0")]
                cmds.append(resp_command(*args))
            sock.sendall(b"".join(cmds))
            want = b":%d\r\n" % size * count
            got = b""
            while len(got) < len(want):
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                got += chunk
            if got != want:
                raise RuntimeError(f"unexpected reply: {got[:80]!r}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zsets", type=int, default=20000)
    ap.add_argument("--sizes", default="10,100")
    ap.add_argument("--member-size", type=int, default=8)
    ap.add_argument("--cachemere")
    ap.add_argument("--no-cachemere", action="store_true")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = tempfile.mkdtemp(prefix="cachemere-zsetmem-")
    servers = Servers(workdir, resolve_cachemere(args), True, False, ())
    try:
        print(f"{args.zsets} zsets per size, members of {args.member_size} bytes")
        print(f"{'members':>8} {'cachemere B/zset':>17} {'redis B/zset':>13} {'ratio':>6}")
        for size in sizes:
            per = {}
            for name, port in servers.resp_port.items():
                pid = servers.pid(name)
                before = rss_bytes(pid)
                load(port, b"zm", args.zsets, size, args.member_size)
                per[name] = (rss_bytes(pid) - before) / args.zsets
            c, r = per.get("cachemere"), per["redis"]
            print(f"{size:>8} {c if c is not None else float('nan'):>17,.0f} {r:>13,.0f} "
                  f"{(c / r) if c else float('nan'):>6.2f}")
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
