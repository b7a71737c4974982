"""Shared helpers for the replication tests: a dataset reader that compares logical contents, a mixed write
load, and waits on INFO replication."""
import random
import time

import redis

from tests.support.servers import wait_for


def client(srv, db=0):
    return redis.Redis(host="127.0.0.1", port=srv.port, db=db, socket_timeout=10)


def info_repl(srv):
    return client(srv).info("replication")


def wait_link_up(replica, timeout=15):
    wait_for(lambda: info_repl(replica).get("master_link_status") == "up", timeout=timeout)


def wait_caught_up(primary, replica, timeout=15):
    """The replica processed every byte the primary produced."""
    def done():
        p = info_repl(primary)["master_repl_offset"]
        r = info_repl(replica)
        return r.get("master_link_status") == "up" and r.get("slave_repl_offset", -1) >= p
    wait_for(done, timeout=timeout)


def dataset(srv, dbs=(0, 1, 2, 3)):
    """Every key of the given dbs with its type, logical value and whether it has a TTL."""
    out = {}
    for db in dbs:
        r = client(srv, db)
        for key in r.scan_iter(count=1000):
            t = r.type(key).decode()
            if t == "string":
                v = r.get(key)
            elif t == "list":
                v = r.lrange(key, 0, -1)
            elif t == "hash":
                v = sorted(r.hgetall(key).items())
            elif t == "set":
                v = sorted(r.smembers(key))
            elif t == "zset":
                v = r.zrange(key, 0, -1, withscores=True)
            elif t == "stream":
                v = r.xrange(key)
            elif t == "none":
                continue
            else:
                v = r.dump(key)
            out[(db, key)] = (t, v, r.pttl(key) > 0)
    return out


def mixed_load(srv, n=400, seed=7, expiring=True):
    """Strings, lists, hashes, sets, zsets, streams, counters and expiring keys over dbs 0-3 (pipelined)."""
    rnd = random.Random(seed)
    for db in (0, 1, 2, 3):
        p = client(srv, db).pipeline(transaction=False)
        for i in range(n):
            k = "k%d" % rnd.randrange(n // 2)
            op = rnd.randrange(12)
            if op == 0:
                p.set("s:" + k, "v%d" % i)
            elif op == 1:
                p.incrby("n:" + k, rnd.randrange(100))
            elif op == 2:
                p.rpush("l:" + k, *["e%d" % j for j in range(rnd.randrange(1, 5))])
            elif op == 3:
                p.lpop("l:" + k)
            elif op == 4:
                p.hset("h:" + k, mapping={"f%d" % j: j for j in range(rnd.randrange(1, 6))})
            elif op == 5:
                p.sadd("S:" + k, *["m%d" % rnd.randrange(20) for _ in range(3)])
            elif op == 6:
                p.spop("S:" + k)
            elif op == 7:
                p.zadd("z:" + k, {"m%d" % rnd.randrange(30): rnd.random() for _ in range(3)})
            elif op == 8:
                p.xadd("x:" + k, {"f": i}, maxlen=20, approximate=False)
            elif op == 9 and expiring:
                p.set("e:" + k, i, px=rnd.choice([50, 200, 60000]))
            elif op == 10:
                p.delete("s:" + k)
            else:
                p.append("s:" + k, "+")
        p.execute()
    # a transaction and a script
    r = client(srv)
    with r.pipeline(transaction=True) as t:
        t.set("tx:a", 1).incr("tx:a").lpush("tx:l", "x")
        t.execute()
    r.eval("redis.call('set', KEYS[1], ARGV[1]); redis.call('incr', KEYS[2])", 2, "lua:a", "lua:b", "z")


def settle_expiring(*servers, timeout=10):
    """Wait until the short-lived keys are gone everywhere (primary DELs reached the replicas)."""
    def done():
        for srv in servers:
            for db in (0, 1, 2, 3):
                r = client(srv, db)
                for key in r.scan_iter(match="e:*", count=1000):
                    if 0 <= r.pttl(key) < 1000 or r.pttl(key) == -2:
                        return False
        return True
    wait_for(done, timeout=timeout, interval=0.1)


def wait_equal(primary, replica, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        a, b = dataset(primary), dataset(replica)
        if a == b:
            return a
        if time.monotonic() > deadline:
            missing = set(a) ^ set(b)
            diff = [k for k in set(a) & set(b) if a[k] != b[k]]
            raise AssertionError("datasets differ: %d keys only on one side %s, %d differ %s"
                                 % (len(missing), sorted(missing)[:5], len(diff), diff[:5]))
        time.sleep(0.2)


class FakeReplica:
    """A raw replica link (PING, REPLCONF capa eof psync2, PSYNC): .head is the +FULLRESYNC/+CONTINUE line, .rdb
    the payload of a full sync; commands() parses the stream that follows (pings and GETACKs left out), so the
    stream a primary propagates can be compared byte for byte with redis-server's."""

    def __init__(self, port, replid="?", offset=-1, eof=True, listening_port=0, timeout=10.0, wait=True):
        import socket as _socket
        self.sock = _socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.rdb = None
        self.newlines = 0
        for cmd in ([b"PING"], [b"REPLCONF", b"listening-port", str(listening_port).encode()],
                    [b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"] if eof else [b"REPLCONF", b"capa", b"psync2"]):
            self.sock.sendall(_encode(cmd))
            self._line()
        self.sock.sendall(_encode([b"PSYNC", replid.encode(), str(offset).encode()]))
        self.head = None
        self.head_time = None
        if wait:
            self.sync()

    def sync(self):
        """Read the PSYNC answer (and the RDB of a full sync)."""
        self.head = self._line()
        self.head_time = time.monotonic()
        if self.head.startswith(b"+FULLRESYNC"):
            self.rdb = self._payload()
        self.sock.sendall(_encode([b"REPLCONF", b"ACK", b"0"]))
        return self

    @property
    def full_offset(self):
        return int(self.head.split()[2])

    def _recv(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def _line(self):
        while True:
            # the primary may send newlines as keepalives while it prepares the RDB
            while self.buf.startswith(b"\n"):
                self.buf = self.buf[1:]
                self.newlines += 1
            nl = self.buf.find(b"\r\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 2:]
                return line
            self._recv()

    def _payload(self):
        line = self._line()
        if line.startswith(b"$EOF:"):
            mark = line[5:]
            while True:
                i = self.buf.find(mark)
                if i >= 0:
                    out, self.buf = self.buf[:i], self.buf[i + len(mark):]
                    return out
                self._recv()
        n = int(line[1:])
        while len(self.buf) < n:
            self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self, settle=0.3, timeout=5.0):
        """All stream bytes until the primary has been silent for `settle` s."""
        import socket as _socket
        deadline = time.monotonic() + timeout
        # a primary puts a diskless replica online at its first ACK after the transfer: ACK as a replica does
        self.sock.settimeout(0.1)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            self.sock.sendall(_encode([b"REPLCONF", b"ACK", b"0"]))
            try:
                self._recv()
                quiet_since = time.monotonic()
            except _socket.timeout:
                if time.monotonic() - quiet_since >= settle:
                    break
        self.sock.settimeout(10)
        data, self.buf = self.buf, b""
        return data

    def commands(self, settle=0.3, timeout=5.0, keep_ping=False):
        data = self.read(settle, timeout)
        out = []
        pos = 0
        while pos < len(data):
            if data[pos:pos + 1] == b"\n":
                pos += 1
                continue
            n_end = data.index(b"\r\n", pos)
            n = int(data[pos + 1:n_end])
            pos = n_end + 2
            argv = []
            for _ in range(n):
                l_end = data.index(b"\r\n", pos)
                ln = int(data[pos + 1:l_end])
                argv.append(data[l_end + 2:l_end + 2 + ln])
                pos = l_end + 2 + ln + 2
            if not keep_ping and (argv[0].upper() == b"PING" or argv[:2] == [b"REPLCONF", b"GETACK"]):
                continue
            out.append(argv)
        return out

    def close(self):
        self.sock.close()


def _encode(argv):
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)
