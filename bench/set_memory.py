"""Memory of small sets: RSS growth per set on Cachemere and redis-server 7.0.15, same run.

    python bench/set_memory.py [--sets 20000] [--sizes 10,100] [--kinds int,str] [--member-size 8] [--cachemere CMD]

Both servers start fresh (bench/run.py's Servers); for each kind and size, `--sets` keys get that many
members (`SADD key member ...`, one command per key) and RSS (VmRSS) is read before and after. Redis 7.0
keeps sets of <= 512 integers as an intset and others as a hashtable (7.0 has no listpack sets: 7.2 does).
Kinds: int (members 0..size-1) and str (short strings of --member-size bytes).
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


def members(kind, size, member_size):
    if kind == "int":
        return [b"%d" % i for i in range(size)]
    return [(b"m%d" % i).rjust(member_size, b"0") for i in range(size)]


def load(port, prefix, sets, mems, batch=200):
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        for start in range(0, sets, batch):
            count = min(batch, sets - start)
            sock.sendall(b"".join(resp_command(b"SADD", b"%s:%08d" % (prefix, k), *mems)
                                  for k in range(start, start + count)))
            want = b":%d\r\n" % len(mems) * count
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
    ap.add_argument("--sets", type=int, default=20000)
    ap.add_argument("--sizes", default="10,100")
    ap.add_argument("--kinds", default="int,str")
    ap.add_argument("--member-size", type=int, default=8)
    ap.add_argument("--cachemere")
    ap.add_argument("--no-cachemere", action="store_true")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = tempfile.mkdtemp(prefix="cachemere-setmem-")
    servers = Servers(workdir, resolve_cachemere(args), True, False, ())
    try:
        print(f"{args.sets} sets per row; str members of {args.member_size} bytes")
        print(f"{'kind':>4} {'members':>8} {'cachemere B/set':>16} {'redis B/set':>12} {'ratio':>6}")
        for kind in args.kinds.split(","):
            for size in sizes:
                mems = members(kind, size, args.member_size)
                per = {}
                for name, port in servers.resp_port.items():
                    pid = servers.pid(name)
                    before = rss_bytes(pid)
                    load(port, b"sm:%s:%d" % (kind.encode(), size), args.sets, mems)
                    per[name] = (rss_bytes(pid) - before) / args.sets
                c, r = per.get("cachemere"), per["redis"]
                print(f"{kind:>4} {size:>8} {c if c is not None else float('nan'):>16,.0f} {r:>12,.0f} "
                      f"{(c / r) if c else float('nan'):>6.2f}")
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
