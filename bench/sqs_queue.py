"""Queue service benchmark on one Cachemere (server on core 0, load on core 1), side by side with the
ElasticMQ-style use of Redis lists on the same server, and with redis-server's lists:

  * cycle: QUEUE.SEND + QUEUE.RECV + QUEUE.DELETE vs LPUSH + LMOVE (to a processing list) + LREM,
    per cycle: wall time on one connection and server CPU (utime+stime from /proc), and the ratio
    (issue 14's goal: <= 3x);
  * boto3 SendMessage+ReceiveMessage+DeleteMessage: moto in process vs the sqs-port facade;
  * long-poll wake latency: a client blocked in QUEUE.RECV ... WAIT 5 (vs BLMOVE) is woken by a send
    from another connection; p50/p99 of send -> reply, in ms (goal: p99 < 2 ms).

    python bench/sqs_queue.py [--cycles 20000] [--wakes 300] [--boto3-cycles 300]
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# this file is named like the stdlib's queue module (which redis-py imports): drop bench/ from the path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.join(ROOT, "bench")]
sys.path.insert(0, ROOT)

import redis  # noqa: E402

from bench.measure import cpu_seconds, pinned, SERVER_CORE, LOAD_CORE  # noqa: E402
from tests.support.servers import ServerProcess, free_port, CACHEMERE  # noqa: E402


def start(kind):
    import tempfile
    port = free_port()
    wd = tempfile.mkdtemp(prefix="qbench-")
    if kind == "cachemere":
        argv = [CACHEMERE, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0", "--save", "",
                "--appendonly", "no", "--dir", wd]
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", wd]
    return ServerProcess(pinned(argv, SERVER_CORE), port, wd, os.path.join(wd, "log"))


def queue_cycles(r, n):
    r.execute_command("QUEUE.CREATE", "bq")
    for _ in range(n):
        r.execute_command("QUEUE.SEND", "bq", "payload-0123456789")
        [m] = r.execute_command("QUEUE.RECV", "bq")
        r.execute_command("QUEUE.DELETE", "bq", m[b"ReceiptHandle"])


def list_cycles(r, n):
    for _ in range(n):
        r.lpush("bl", "payload-0123456789")
        v = r.lmove("bl", "bl:processing", "RIGHT", "LEFT")
        r.lrem("bl:processing", 1, v)


def timed(srv, fn, r, n):
    c0, t0 = cpu_seconds(srv.proc.pid), time.perf_counter()
    fn(r, n)
    return (time.perf_counter() - t0) / n * 1e6, (cpu_seconds(srv.proc.pid) - c0) / n * 1e6


def _cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for x in args:
        x = x if isinstance(x, bytes) else str(x).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(x), x))
    return b"".join(out)


def _read_reply(sock, reader):
    while True:
        rep = reader.gets()
        if rep is not False:
            return rep
        reader.feed(sock.recv(65536))


def wake_latency(port, n, queue):
    """send -> woken reply latencies (ms) for QUEUE.RECV WAIT or BLMOVE, on raw sockets in one thread
    (no client threads: the figure is the server's wake path plus two loopback hops)."""
    import socket
    import hiredis
    a, b = socket.create_connection(("127.0.0.1", port)), socket.create_connection(("127.0.0.1", port))
    for s_ in (a, b):
        s_.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ra, rb = hiredis.Reader(), hiredis.Reader()
    if queue:
        b.sendall(_cmd("QUEUE.CREATE", "wq"))
        _read_reply(b, rb)
    out = []
    for _ in range(n):
        a.sendall(_cmd("QUEUE.RECV", "wq", "WAIT", "5") if queue else _cmd("BLMOVE", "wl", "wl:p", "RIGHT", "LEFT", "5"))
        time.sleep(0.002)                          # let the waiter block
        t0 = time.perf_counter()
        b.sendall(_cmd("QUEUE.SEND", "wq", "x") if queue else _cmd("LPUSH", "wl", "x"))
        rep = _read_reply(a, ra)
        out.append((time.perf_counter() - t0) * 1000)
        _read_reply(b, rb)
        assert rep, rep
        if queue:
            rh = rep[0][rep[0].index(b"ReceiptHandle") + 1]
            b.sendall(_cmd("QUEUE.DELETE", "wq", rh))
            _read_reply(b, rb)
    a.close()
    b.close()
    return out


def boto3_cycles(sqs, n):
    url = sqs.create_queue(QueueName="bq")["QueueUrl"]
    t0 = time.perf_counter()
    for _ in range(n):
        sqs.send_message(QueueUrl=url, MessageBody="payload-0123456789")
        m = sqs.receive_message(QueueUrl=url)["Messages"][0]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return (time.perf_counter() - t0) / n * 1e6


def boto3_compare(n):
    """The same SendMessage+ReceiveMessage+DeleteMessage cycle through boto3: moto in process vs the server's
    sqs-port facade (both pay boto3's own cost, which dominates)."""
    try:
        import boto3
        import moto
    except ImportError:
        print("boto3/moto not installed: skipping the moto comparison")
        return
    creds = dict(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with moto.mock_aws():
        boto3_cycles(boto3.client("sqs", **creds), 20)
        theirs = boto3_cycles(boto3.client("sqs", **creds), n)
    import tempfile
    port, sqs_port = free_port(), free_port()
    wd = tempfile.mkdtemp(prefix="qbench-")
    srv = ServerProcess(pinned([CACHEMERE, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0",
                                "--save", "", "--appendonly", "no", "--dir", wd, "--sqs-port", str(sqs_port)],
                               SERVER_CORE), port, wd, os.path.join(wd, "log"), extra_ports=(sqs_port,))
    try:
        client = boto3.client("sqs", endpoint_url="http://127.0.0.1:%d" % sqs_port, **creds)
        boto3_cycles(client, 20)
        ours = boto3_cycles(client, n)
    finally:
        srv.stop()
    print("boto3 Send+Receive+Delete cycle (us, %d cycles)" % n)
    print("  moto in process                         %7.1f" % theirs)
    print("  cachemere sqs-port                      %7.1f   (%.2fx moto's rate)" % (ours, theirs / ours))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=20000)
    ap.add_argument("--wakes", type=int, default=300)
    ap.add_argument("--boto3-cycles", type=int, default=300)
    a = ap.parse_args()
    os.sched_setaffinity(0, {int(LOAD_CORE)}) if hasattr(os, "sched_setaffinity") else None
    ours = start("cachemere")
    theirs = start("redis")
    try:
        r = redis.Redis(port=ours.port)
        rr = redis.Redis(port=theirs.port)
        queue_cycles(r, 500)
        list_cycles(r, 500)
        list_cycles(rr, 500)
        rows = []
        for _ in range(3):
            rows.append((timed(ours, queue_cycles, r, a.cycles), timed(ours, list_cycles, r, a.cycles),
                         timed(theirs, list_cycles, rr, a.cycles)))
        q = [statistics.median(x[0][i] for x in rows) for i in (0, 1)]
        l_ = [statistics.median(x[1][i] for x in rows) for i in (0, 1)]
        rl = [statistics.median(x[2][i] for x in rows) for i in (0, 1)]
        print("cycle (us per cycle, median of 3 x %d)      wall     server-CPU" % a.cycles)
        print("  QUEUE.SEND+RECV+DELETE (cachemere)      %7.1f   %7.1f" % tuple(q))
        print("  LPUSH+LMOVE+LREM       (cachemere)      %7.1f   %7.1f" % tuple(l_))
        print("  LPUSH+LMOVE+LREM       (redis-server)   %7.1f   %7.1f" % tuple(rl))
        print("  ratio queue/lists on cachemere          %7.2fx  %7.2fx   (goal <= 3x)" % (q[0] / l_[0], q[1] / l_[1]))
        wq = sorted(wake_latency(ours.port, a.wakes, True))
        wl = sorted(wake_latency(ours.port, a.wakes, False))
        wr = sorted(wake_latency(theirs.port, a.wakes, False))

        def pct(v, p):
            return v[min(len(v) - 1, int(len(v) * p))]
        print("long-poll wake latency, send -> reply (ms, %d wakes)   p50     p99" % a.wakes)
        print("  QUEUE.RECV WAIT (cachemere)                        %6.3f  %6.3f   (goal p99 < 2)" % (pct(wq, .5), pct(wq, .99)))
        print("  BLMOVE (cachemere)                                 %6.3f  %6.3f" % (pct(wl, .5), pct(wl, .99)))
        print("  BLMOVE (redis-server)                              %6.3f  %6.3f" % (pct(wr, .5), pct(wr, .99)))
    finally:
        ours.stop()
        theirs.stop()
    boto3_compare(a.boto3_cycles)


if __name__ == "__main__":
    main()
