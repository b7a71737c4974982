"""Start a replication group on one machine: a Cachemere primary, N Cachemere replicas and (optionally) three
stock redis-sentinel processes watching it, all on 127.0.0.1; Ctrl-C stops exactly what it started.

    python tools/repl_group.py [--port 7000] [--replicas 5] [--sentinels 3] [--quorum 2] [--dir /tmp/group]

Ports: primary --port, replicas --port+1.., sentinels --port+100... Each process logs to <dir>/<port>.log.
"""
import argparse
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, ".venv", "bin", "cachemere-server")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=7000)
    ap.add_argument("--replicas", type=int, default=5)
    ap.add_argument("--sentinels", type=int, default=3)
    ap.add_argument("--quorum", type=int, default=2)
    ap.add_argument("--down-after", type=int, default=3000)
    ap.add_argument("--dir", default="/tmp/cachemere-group")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    procs = []

    def spawn(argv, port):
        log = open(os.path.join(args.dir, "%d.log" % port), "ab")
        procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      cwd=args.dir))

    for i in range(args.replicas + 1):
        port = args.port + i
        conf = os.path.join(args.dir, "node-%d.conf" % port)
        if not os.path.exists(conf):
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\nmemcached-port 0\nsave \"\"\ndir %s\ndbfilename dump-%d.rdb\n"
                        % (port, args.dir, port))
                if i:
                    f.write("replicaof 127.0.0.1 %d\n" % args.port)
        spawn([SERVER, conf], port)
    time.sleep(1.0)
    for i in range(args.sentinels):
        port = args.port + 100 + i
        conf = os.path.join(args.dir, "sentinel-%d.conf" % port)
        if not os.path.exists(conf):
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d %d\n"
                        "sentinel down-after-milliseconds mymaster %d\nsentinel failover-timeout mymaster 10000\n"
                        "sentinel parallel-syncs mymaster 5\n"
                        % (port, args.dir, args.port, args.quorum, args.down_after))
        spawn(["redis-sentinel", conf], port)
    print("primary 127.0.0.1:%d, replicas %s, sentinels %s; logs in %s (Ctrl-C stops them)"
          % (args.port, [args.port + i for i in range(1, args.replicas + 1)],
             [args.port + 100 + i for i in range(args.sentinels)], args.dir))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while any(p.poll() is None for p in procs):      # a killed node is part of a drill: keep the rest
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
