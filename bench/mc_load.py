"""A pipelining memcached load generator: fixed request count, several connections, every reply verified.

    python bench/mc_load.py --port 11211 --op get --conns 8 --pipeline 32 --requests 1000000 [--preload]

memcslap blocks on one request per thread and memcaslap keeps one request in flight per connection; both
saturate their own core before `memcached -t 1` saturates its core, so neither can tell a fast server
from a faster one. This generator builds its request batches and their exact expected replies before
the clock starts; the timed loop is only sendall / recv_into / one bytes comparison per batch, so its
cost per request falls with the pipeline depth.

Ops: get (text `get k`), mget (text `get k1 ... k16`: one request of 16 keys, counted as 16 requests),
mg (meta `mg k v`), set (text `set k 0 0 D`), bget / bset (binary protocol GET and
SET, the memcslap --binary requests). Values are a function of the key, so a GET reply is known in advance;
--preload stores every key of the keyspace first (not timed). Binary replies carry server-chosen CAS ids:
those 8 bytes of each reply are blanked before the batch is compared.

Prints one JSON line: requests, seconds, rps, client_cpu_s, client_ceiling_rps (requests per CPU-second
of this process: the rate it could drive if the server answered instantly) and errors. The run stops
at the first reply that differs from the expected bytes (exit status 1); exit status 2 if it hit --timeout.
"""
import argparse
import json
import random
import selectors
import socket
import struct
import sys
import time

KEY_FORMAT = b"mc:%010d"
BIN_HDR = struct.Struct(">BBHBBHIIQ")
BINARY_OPS = ("bget", "bset")
MGET_KEYS = 16                  # keys per `mget` request
MGET_SPACE = [100000]           # the keyspace the mget keys are drawn from (set by run())


def value_for(key: bytes, size: int) -> bytes:
    """The deterministic value stored under `key`: the key repeated, cut to `size` bytes."""
    return (key * (size // len(key) + 1))[:size]


def request_and_reply(op: str, key: bytes, size: int):
    """The request bytes for one op on `key` and the exact reply a server holding the preload gives."""
    value = value_for(key, size)
    if op == "get":
        return b"get %s\r\n" % key, b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, size, value)
    if op == "mget":
        keys = [key] + [KEY_FORMAT % ((int(key[3:]) + 7919 * i) % MGET_SPACE[0]) for i in range(1, MGET_KEYS)]
        return (b"get " + b" ".join(keys) + b"\r\n",
                b"".join(b"VALUE %s 0 %d\r\n%s\r\n" % (k, size, value_for(k, size)) for k in keys) + b"END\r\n")
    if op == "mg":
        return b"mg %s v\r\n" % key, b"VA %d\r\n%s\r\n" % (size, value)
    if op == "set":
        return b"set %s 0 0 %d\r\n%s\r\n" % (key, size, value), b"STORED\r\n"
    if op == "bget":
        return (BIN_HDR.pack(0x80, 0x00, len(key), 0, 0, 0, len(key), 0, 0) + key,
                BIN_HDR.pack(0x81, 0x00, 0, 4, 0, 0, 4 + size, 0, 0) + b"\0\0\0\0" + value)
    if op == "bset":
        return (BIN_HDR.pack(0x80, 0x01, len(key), 8, 0, 0, 8 + len(key) + size, 0, 0) + b"\0" * 8 + key + value,
                BIN_HDR.pack(0x81, 0x01, 0, 0, 0, 0, 0, 0, 0))
    raise ValueError(f"unknown op {op!r}")


def reply_size(op: str, size: int) -> int:
    """The length of one binary reply (every reply of a binary batch has the same length)."""
    return 24 + 4 + size if op == "bget" else 24


ZERO_CAS = bytes(8)


def blank_cas(buf: bytearray, one: int):
    """Zero the CAS field (bytes 16..24) of each fixed-size binary reply in buf."""
    for off in range(16, len(buf), one):
        buf[off:off + 8] = ZERO_CAS


def build_batches(op, pipeline, count, keyspace, size, rng):
    """`count` (request bytes, expected reply bytes) pairs of `pipeline` requests on random keys."""
    batches = []
    for _ in range(count):
        pairs = [request_and_reply(op, KEY_FORMAT % rng.randrange(keyspace), size) for _ in range(pipeline)]
        batches.append((b"".join(p[0] for p in pairs), b"".join(p[1] for p in pairs)))
    return batches


def preload(host, port, keyspace, size, timeout, chunk=1000):
    """SET every key of the keyspace (pipelined, one connection), checking every STORED."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        for start in range(0, keyspace, chunk):
            keys = [KEY_FORMAT % i for i in range(start, min(keyspace, start + chunk))]
            sock.sendall(b"".join(request_and_reply("set", k, size)[0] for k in keys))
            expected = b"STORED\r\n" * len(keys)
            got = _recv_exactly(sock, len(expected))
            if got != expected:
                raise RuntimeError(f"preload: unexpected reply {got[:80]!r}")


def _recv_exactly(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    pos = 0
    while pos < n:
        got = sock.recv_into(view[pos:])
        if not got:
            raise ConnectionError("server closed the connection")
        pos += got
    return bytes(buf)


class _Conn:
    """One connection with one batch in flight: recv_into a buffer sized to the expected reply."""
    __slots__ = ("sock", "batches", "next_batch", "expected", "buf", "view", "pos", "one")

    def __init__(self, sock, batches, one=0):
        self.sock = sock
        self.batches = batches
        self.next_batch = 0
        self.expected = b""
        self.pos = 0
        self.one = one              # binary op: the size of one reply (CAS blanked per batch), else 0

    def send_next(self):
        request, self.expected = self.batches[self.next_batch % len(self.batches)]
        self.next_batch += 1
        self.buf = bytearray(len(self.expected))
        self.view = memoryview(self.buf)
        self.pos = 0
        self.sock.sendall(request)


def run(host, port, op, conns, pipeline, requests, keyspace, size, timeout, distinct_batches=64, seed=1):
    """Send `requests` (rounded up to whole batches) over `conns` connections; returns the result dict."""
    rng = random.Random(seed)
    MGET_SPACE[0] = keyspace
    # an mget request answers MGET_KEYS gets: --requests and the reported rate count the gets
    total_batches = -(-requests // (pipeline * (MGET_KEYS if op == "mget" else 1)))
    per_conn = [total_batches // conns + (1 if i < total_batches % conns else 0) for i in range(conns)]
    sel = selectors.DefaultSelector()
    open_conns = []
    for i in range(conns):
        if per_conn[i] == 0:
            continue
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn = _Conn(sock, build_batches(op, pipeline, min(distinct_batches, per_conn[i]), keyspace, size, rng),
                     reply_size(op, size) if op in BINARY_OPS else 0)
        sel.register(sock, selectors.EVENT_READ, conn)
        open_conns.append(conn)
    remaining = {id(c): per_conn[i] for i, c in enumerate(open_conns)}
    errors = 0
    first_error = None
    cpu0, t0 = time.process_time(), time.monotonic()
    deadline = t0 + timeout
    for conn in open_conns:
        _send_blocking(conn)
    active = len(open_conns)
    timed_out = False
    while active:
        events = sel.select(timeout=max(0.0, deadline - time.monotonic()))
        if not events:
            timed_out = True
            break
        for key, _ in events:
            conn = key.data
            try:
                got = conn.sock.recv_into(conn.view[conn.pos:])
            except BlockingIOError:
                continue
            if not got:
                raise ConnectionError("server closed the connection")
            start, conn.pos = conn.pos, conn.pos + got
            # Check each chunk as it lands: a short wrong reply (a miss, an error line) would otherwise
            # leave the loop waiting for bytes that never come. After a wrong reply the stream is out of
            # step with the expectations, so the run stops there.
            if conn.one:
                if conn.pos < len(conn.expected):
                    continue
                blank_cas(conn.buf, conn.one)      # the whole batch is in: compare it without the CAS ids
                start = 0
            if conn.buf[start:conn.pos] != conn.expected[start:conn.pos]:
                errors += 1
                first_error = bytes(conn.buf[max(0, start - 40):conn.pos][:160])
                active = 0
                break
            if conn.pos < len(conn.expected):
                continue
            remaining[id(conn)] -= 1
            if remaining[id(conn)]:
                _send_blocking(conn)
            else:
                sel.unregister(conn.sock)
                active -= 1
    seconds = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    for conn in open_conns:
        conn.sock.close()
    sent = sum(c.next_batch for c in open_conns) * pipeline * (MGET_KEYS if op == "mget" else 1)
    return {
        "op": op, "conns": conns, "pipeline": pipeline, "requests": sent, "seconds": round(seconds, 4),
        "rps": round(sent / seconds, 1) if seconds else 0.0, "client_cpu_s": round(cpu, 4),
        "client_ceiling_rps": round(sent / cpu, 1) if cpu else 0.0, "errors": errors,
        "first_error": first_error.decode("latin-1") if first_error else None, "timed_out": timed_out,
    }


def _send_blocking(conn):
    # A batch is small next to the socket buffer, so sendall on a non-blocking socket rarely needs a retry;
    # switch to blocking for the send so a full buffer waits instead of raising.
    conn.sock.setblocking(True)
    try:
        conn.send_next()
    finally:
        conn.sock.setblocking(False)


def parse_result(stdout: str) -> dict:
    """The result dict from mc_load's output: its last line that is a JSON object."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("mc_load printed no JSON result")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--op", choices=["get", "mget", "mg", "set", "bget", "bset"], default="get")
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--pipeline", type=int, default=32)
    ap.add_argument("--requests", type=int, default=500_000)
    ap.add_argument("--keyspace", type=int, default=10_000)
    ap.add_argument("--value-size", type=int, default=32)
    ap.add_argument("--preload", action="store_true", help="SET the whole keyspace first (not timed)")
    ap.add_argument("--timeout", type=float, default=60.0, help="bound on the timed run, seconds")
    args = ap.parse_args(argv)
    if args.preload:
        preload(args.host, args.port, args.keyspace, args.value_size, args.timeout)
    result = run(args.host, args.port, args.op, args.conns, args.pipeline, args.requests, args.keyspace,
                 args.value_size, args.timeout)
    print(json.dumps(result))
    return 2 if result["timed_out"] else (1 if result["errors"] else 0)


if __name__ == "__main__":
    sys.exit(main())
