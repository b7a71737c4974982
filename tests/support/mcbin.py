"""memcached binary protocol framing for tests: request bytes, response parsing, comparison masks."""
import socket
import struct
import time

HDR = struct.Struct(">BBHBBHIIQ")

OP = dict(GET=0x00, SET=0x01, ADD=0x02, REPLACE=0x03, DELETE=0x04, INCR=0x05, DECR=0x06, QUIT=0x07, FLUSH=0x08,
          GETQ=0x09, NOOP=0x0a, VERSION=0x0b, GETK=0x0c, GETKQ=0x0d, APPEND=0x0e, PREPEND=0x0f, STAT=0x10,
          SETQ=0x11, ADDQ=0x12, REPLACEQ=0x13, DELETEQ=0x14, INCRQ=0x15, DECRQ=0x16, QUITQ=0x17, FLUSHQ=0x18,
          APPENDQ=0x19, PREPENDQ=0x1a, VERBOSITY=0x1b, TOUCH=0x1c, GAT=0x1d, GATQ=0x1e, SASL_LIST=0x20,
          SASL_AUTH=0x21, SASL_STEP=0x22, GATK=0x23, GATKQ=0x24)


def req(op, key=b"", value=b"", extras=b"", opaque=0, cas=0, magic=0x80, keylen=None, extlen=None, bodylen=None):
    """A request; keylen/extlen/bodylen override the true lengths (lying headers)."""
    op = OP[op] if isinstance(op, str) else op
    kl = len(key) if keylen is None else keylen
    el = len(extras) if extlen is None else extlen
    bl = len(extras) + len(key) + len(value) if bodylen is None else bodylen
    return HDR.pack(magic, op, kl, el, 0, 0, bl, opaque, cas) + extras + key + value


def store(op, key, value, flags=0, exptime=0, **kw):
    return req(op, key, value, struct.pack(">II", flags, exptime), **kw)


def arith(op, key, delta=1, initial=0, exptime=0, **kw):
    return req(op, key, b"", struct.pack(">QQI", delta, initial, exptime), **kw)


def touch(op, key, exptime, **kw):
    return req(op, key, b"", struct.pack(">I", exptime), **kw)


def parse(data):
    """[(opcode, status, opaque, cas, extras, key, value)] and the unparsed tail."""
    out = []
    while len(data) >= 24:
        magic, op, kl, el, _dt, status, bl, opaque, cas = HDR.unpack_from(data)
        if len(data) < 24 + bl:
            break
        body = data[24:24 + bl]
        out.append((magic, op, status, opaque, cas, body[:el], body[el:el + kl], body[el + kl:]))
        data = data[24 + bl:]
    return out, data


def masked(data, stats_values=False):
    """Responses with CAS ids reduced to zero/non-zero, and stat values dropped (they are clocks/pids)."""
    packets, tail = parse(data)
    out = []
    for magic, op, status, opaque, cas, ext, key, value in packets:
        if op == OP["STAT"] and status == 0 and key and not stats_values:
            value = b"<v>"
        out.append((magic, op, status, opaque, bool(cas), ext, key, value))
    return out, tail


class BinClient:
    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout

    def send(self, data):
        self.sock.sendall(data)

    def read_until_quiet(self, settle=0.15, limit=64 << 20):
        chunks, total = [], 0
        self.sock.settimeout(settle)
        deadline = time.monotonic() + self.timeout
        closed = False
        while time.monotonic() < deadline and total < limit:
            try:
                d = self.sock.recv(1 << 16)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not d:
                closed = True
                break
            chunks.append(d)
            total += len(d)
        self.sock.settimeout(self.timeout)
        return b"".join(chunks), closed

    def call(self, data):
        """Send a request that is answered, wait (up to the timeout) for the first bytes, then read up to
        the server's silence: (packets, tail, closed)."""
        self.send(data)
        self.sock.settimeout(self.timeout)
        first = self.sock.recv(1 << 16)
        if not first:
            return [], b"", True
        raw, closed = self.read_until_quiet()
        raw = first + raw
        packets, tail = parse(raw)
        return packets, tail, closed

    def close(self):
        self.sock.close()


def _session(port, steps, flush, settle):
    c = BinClient(port)
    if flush:
        c.send(HDR.pack(0x80, 0x08, 0, 0, 0, 0, 0, 0, 0))
        assert c.sock.recv(24)[:2] == b"\x81\x08"
    raw, closed = b"", False
    for step in steps:
        if closed:
            break
        try:
            c.send(step)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        got, closed = c.read_until_quiet(settle=settle)
        raw += got
    return c, raw, closed


def run_pair(port_a, port_b, steps, flush=True, settle=0.15):
    """The same steps on a fresh connection to each server, side by side; each result is
    (masked packets, unparsed tail, closed).  If the two differ, both are read again with a long settle
    before returning, so a reply that was only slow (a loaded machine) is not taken for a difference."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        fa = pool.submit(_session, port_a, steps, flush, settle)
        fb = pool.submit(_session, port_b, steps, flush, settle)
        (ca, ra, cla), (cb, rb, clb) = fa.result(), fb.result()
        if (masked(ra), cla) != (masked(rb), clb):
            more = [pool.submit(c.read_until_quiet, 1.0) if not closed else None
                    for c, closed in ((ca, cla), (cb, clb))]
            if more[0] is not None:
                got, cla = more[0].result()
                ra += got
            if more[1] is not None:
                got, clb = more[1].result()
                rb += got
    ca.close()
    cb.close()
    pa, ta = masked(ra)
    pb, tb = masked(rb)
    return (pa, ta, cla), (pb, tb, clb)
