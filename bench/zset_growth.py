"""The longest ZADD while one sorted set grows, Cachemere beside redis-server 7.0.15 (the member table's growth).

    python bench/zset_growth.py [--members 1200000] [--batch 2000]

Each server runs on a free loopback port with its slow log at 1 ms; one-member ZADDs (`m:<i>`, score i * 1.5)
are pipelined in batches; then the ZADD entries of SLOWLOG GET give how many took over 1 ms and the longest.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import redis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.servers import CACHEMERE, free_port, wait_for_port  # noqa: E402


def longest_zadds(argv, members, batch):
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="zgrow-")
    proc = subprocess.Popen(argv + ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                    "--dir", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    try:
        wait_for_port(port, timeout=30, proc=proc)
        r = redis.Redis(port=port, socket_timeout=60)
        r.config_set("slowlog-log-slower-than", 1000)
        r.config_set("slowlog-max-len", 1000)
        r.slowlog_reset()
        pipe = r.pipeline(transaction=False)
        for i in range(members):
            pipe.zadd("bench:zgrow", {"m:%d" % i: i * 1.5})
            if i % batch == batch - 1:
                pipe.execute()
        pipe.execute()
        assert r.zcard("bench:zgrow") == members
        slow = sorted((e["duration"] for e in r.slowlog_get(1000) if e["command"].startswith(b"ZADD")), reverse=True)
        return slow
    finally:
        proc.terminate()
        proc.wait(30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1_200_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--cachemere", default=CACHEMERE)
    args = ap.parse_args()
    for name, argv in (("cachemere", [args.cachemere]), ("redis", ["redis-server"])):
        slow = longest_zadds(argv, args.members, args.batch)
        if slow:
            print(f"{name:10} ZADDs over 1 ms: {len(slow):3}  longest {slow[0]:6} us  next {slow[1:6]}", flush=True)
        else:
            print(f"{name:10} no ZADD took over 1 ms", flush=True)


if __name__ == "__main__":
    main()
