"""Pub/sub against redis-server 7.0.15, raw bytes on subscriber and publisher: shard channels (SSUBSCRIBE,
SPUBLISH, PUBSUB SHARDCHANNELS / SHARDNUMSUB, SUNSUBSCRIBE), subscriber mode (which commands a RESP2
subscriber may send, PING, MULTI), RESET and QUIT while subscribed, glob patterns, and the pubsub soft
output-buffer limit that disconnects a subscriber that stops reading.

Redis iterates its channel tables in hash order (randomly seeded at start-up), so replies listing several
channels from a table (PUBSUB SHARDCHANNELS, SUNSUBSCRIBE with no argument) are compared as sets, and each
pattern gets a subscriber of its own so that every connection's byte stream is deterministic."""
import select
import socket
import threading
import time

import hiredis
import pytest

from tests.support.servers import RawConnection, _resp_end, encode, start_redis, wait_for

READ = "READ"                 # step: what the connection has received since its last step
READ_ALL = "READ_ALL"         # step: the same for every subscriber connection at once (in order of creation)
CLOSED = "CLOSED"             # step: whether the server closed the connection (within 2 s)
STATS = "STATS"               # step: the pubsub_* lines of INFO stats


def frames(raw):
    """Split raw bytes into complete RESP values, each parsed (push frames come back as lists)."""
    out, pos = [], 0
    while pos < len(raw):
        end = _resp_end(raw, pos)
        assert end is not None, raw
        reader = hiredis.Reader()
        reader.feed(raw[pos:end])
        out.append(reader.gets())
        pos = end
    return out


def unordered_unsubscribe(raw):
    """A mass (S)UNSUBSCRIBE reply: the channels as a set, the running counts in order."""
    got = frames(raw)
    return sorted(f[1] for f in got), [f[0] for f in got], [f[2] for f in got]


def read_all_until_quiet(conns, settle=0.1, timeout=5.0):
    """What each connection receives until none of them has sent anything for `settle` seconds."""
    got = {conn: b"" for conn in conns}
    by_sock = {conn.sock: conn for conn in conns}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select(list(by_sock), [], [], settle)
        if not ready:
            break
        for sock in ready:
            data = sock.recv(65536)
            got[by_sock[sock]] += data
            if not data:
                del by_sock[sock]
        if not by_sock:
            break
    return [got[conn] for conn in conns]


SUBSCRIBES = ("SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE")


def run_steps(port, steps, resp=2, settle=0.1):
    """steps: (connection name, command tuple | READ | READ_ALL | CLOSED | STATS[, normaliser]).  Connections
    named "s*" are subscribers (in RESP `resp`; a command's output is what arrives until the connection goes quiet,
    except a (P|S)SUBSCRIBE outside MULTI: exactly one confirmation per argument); the others are plain RESP2
    clients (exactly one reply per command).  Returns one entry per step."""
    conns = {}
    in_multi = set()
    out = []
    try:
        for step in steps:
            name, cmd = step[0], step[1]
            conn = conns.get(name)
            if conn is None:
                conn = conns[name] = RawConnection(port)
                if name.startswith("s") and resp == 3:
                    conn.command("HELLO", "3")      # its reply carries the client id: not compared
            if isinstance(cmd, tuple) and str(cmd[0]).upper() in ("MULTI", "EXEC", "DISCARD", "RESET"):
                (in_multi.add if str(cmd[0]).upper() == "MULTI" else in_multi.discard)(name)
            if cmd == READ_ALL:
                got = read_all_until_quiet([c for n, c in conns.items() if n.startswith("s")], settle)
            elif cmd == READ:
                got = conn.read_until_quiet(settle=settle)
            elif name.startswith("s") and str(cmd[0]).upper() in SUBSCRIBES and name not in in_multi:
                conn.send(encode(*cmd))
                got = b"".join(conn.read_reply() for _ in cmd[1:])
            elif cmd == CLOSED:
                got = conn.is_closed(timeout=2.0)
            elif cmd == STATS:
                info = conn.command("INFO", "stats").decode()
                got = [line for line in info.split("\r\n") if line.startswith("pubsub")]
            elif name.startswith("s"):
                conn.send(encode(*cmd))
                got = conn.read_until_quiet(settle=settle)
            else:
                got = conn.command(*cmd)
            if len(step) > 2:
                got = step[2](got)
            out.append(got)
    finally:
        for conn in conns.values():
            conn.close()
    return out


def assert_steps_match(ours_port, theirs_port, steps, resp=2):
    ours = run_steps(ours_port, steps, resp)
    theirs = run_steps(theirs_port, steps, resp)
    for step, a, b in zip(steps, ours, theirs):
        assert a == b, (step[:2], a, b)
    return theirs


def sorted_array(raw):
    reader = hiredis.Reader()
    reader.feed(raw)
    return sorted(reader.gets())


SHARD_STEPS = [
    ("s", ("SSUBSCRIBE", "sh1", "sh2")),
    ("p", ("PUBSUB", "SHARDCHANNELS"), sorted_array),
    ("p", ("PUBSUB", "SHARDCHANNELS", "sh1*")), ("p", ("PUBSUB", "SHARDCHANNELS", "nomatch*")),
    ("p", ("PUBSUB", "SHARDNUMSUB", "sh1", "sh2", "nope")), ("p", ("PUBSUB", "SHARDNUMSUB")),
    ("p", ("PUBSUB", "CHANNELS")), ("p", ("PUBSUB", "NUMSUB", "sh1")), ("p", STATS),
    ("p", ("SPUBLISH", "sh1", "m")), ("s", READ),
    ("p", ("PUBLISH", "sh1", "not-for-shard")), ("p", ("SPUBLISH", "nope", "m")), ("s", READ),
    ("s", ("GET", "x")), ("s", ("PING",)), ("s", ("PING", "hello")),
    ("s", ("SUNSUBSCRIBE", "sh1", "nope")),
    # a plain subscription and its removal leave the client in subscriber mode: sh2 is still there
    ("s", ("SUBSCRIBE", "c1")), ("s", ("UNSUBSCRIBE", "c1")), ("s", ("GET", "x")), ("s", ("PING",)),
    ("s", ("SUNSUBSCRIBE",)), ("s", ("SUNSUBSCRIBE",)), ("s", ("GET", "x")), ("s", ("PING",)), ("p", STATS),
    ("s", ("SSUBSCRIBE", "sh1", "sh2", "sh3", "sh1")), ("p", ("PUBSUB", "SHARDNUMSUB", "sh1", "sh3")),
    ("s", ("SUNSUBSCRIBE",), unordered_unsubscribe), ("p", ("PUBSUB", "SHARDNUMSUB", "sh1", "sh2", "sh3")),
    # inside EXEC the client may not SSUBSCRIBE (redis: DENY BLOCKING), though SUBSCRIBE is allowed
    ("s", ("MULTI",)), ("s", ("SSUBSCRIBE", "x")), ("s", ("SUBSCRIBE", "y")), ("s", ("EXEC",)),
    ("p", ("PUBSUB", "SHARDNUMSUB", "x")), ("s", ("UNSUBSCRIBE",)), ("s", ("GET", "x")),
    # a subscriber publishing to its own shard channel (RESP3: its copy, then the count)
    ("s", ("SSUBSCRIBE", "own")), ("s", ("SPUBLISH", "own", "self")), ("p", ("SPUBLISH", "own", "other")), ("s", READ),
    ("s", ("SUNSUBSCRIBE",)), ("s", ("GET", "x")), ("p", ("PUBSUB", "SHARDNUMSUB", "own")),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_shard_pubsub_and_subscriber_mode_match_redis(cachemere, redis_ref, resp):
    theirs = assert_steps_match(cachemere.port, redis_ref.port, SHARD_STEPS, resp)
    # what redis said, so that a change to the steps cannot make the comparison vacuous
    assert theirs[1] == [b"sh1", b"sh2"]
    assert theirs[4] == b"*6\r\n$3\r\nsh1\r\n:1\r\n$3\r\nsh2\r\n:1\r\n$4\r\nnope\r\n:0\r\n"
    assert theirs[8] == ["pubsub_channels:0", "pubsub_patterns:0", "pubsubshard_channels:2"]
    head = b">3" if resp == 3 else b"*3"
    assert theirs[10] == head + b"\r\n$8\r\nsmessage\r\n$3\r\nsh1\r\n$1\r\nm\r\n"
    assert theirs[11] == b":0\r\n" and theirs[13] == b""
    assert theirs[14].startswith(b"-ERR Can't execute 'get'") == (resp == 2)


RESET_QUIT_STEPS = [
    ("s", ("SUBSCRIBE", "ch")), ("s", ("PSUBSCRIBE", "pa*")), ("s", ("SSUBSCRIBE", "sh")),
    ("p", ("PUBLISH", "ch", "1")), ("p", ("PUBLISH", "pat", "2")), ("p", ("SPUBLISH", "sh", "3")),
    ("s", ("RESET",)),        # the messages already sent, then +RESET (and back to RESP2)
    ("p", ("PUBSUB", "NUMSUB", "ch")), ("p", ("PUBSUB", "NUMPAT")), ("p", ("PUBSUB", "SHARDNUMSUB", "sh")), ("p", STATS),
    ("p", ("PUBLISH", "ch", "4")), ("p", ("PUBLISH", "pat", "5")), ("p", ("SPUBLISH", "sh", "6")), ("s", READ),
    ("s", ("GET", "x")), ("s", ("PING",)), ("s", ("UNSUBSCRIBE",)), ("s", ("SUNSUBSCRIBE",)),
    ("s", ("SSUBSCRIBE", "sh")), ("s", ("SUBSCRIBE", "ch")), ("s", ("RESET",)), ("s", ("PING",)),
    # QUIT while subscribed: pending messages, +OK, then the connection is closed
    ("s2", ("SUBSCRIBE", "ch")), ("s2", ("SSUBSCRIBE", "sh")), ("p", ("PUBLISH", "ch", "7")),
    ("s2", ("QUIT",)), ("s2", CLOSED),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_reset_and_quit_while_subscribed_match_redis(cachemere, redis_ref, resp):
    theirs = assert_steps_match(cachemere.port, redis_ref.port, RESET_QUIT_STEPS, resp)
    assert theirs[6].endswith(b"+RESET\r\n") and theirs[14] == b"" and theirs[15] == b"$-1\r\n"
    assert theirs[-2].endswith(b"+OK\r\n") and theirs[-1] is True

    def unsubscribed(port):
        conn = RawConnection(port)
        try:
            return conn.command("PUBSUB", "NUMSUB", "ch") == b"*2\r\n$2\r\nch\r\n:0\r\n" and \
                conn.command("PUBSUB", "SHARDNUMSUB", "sh") == b"*2\r\n$2\r\nsh\r\n:0\r\n"
        finally:
            conn.close()
    for port in (cachemere.port, redis_ref.port):    # the quitting client's subscriptions go with it
        wait_for(lambda: unsubscribed(port), timeout=5)


PATTERNS = [b"a[bc]?\\*d", b"a[^a]c", b"a[a-c]c", b"a[c-a]c", b"a\\?c", b"ab\\", b"*\\", b"a[\\]]c", b"a[b",
            b"a[^]c", b"a\\[c", b"h?llo", b"h*llo", b"h[^e]llo", b"[a-]x", b"a[\\", b"*", b"??"]
CHANNELS = [b"abx*d", b"adx*d", b"acxyd", b"acx*d", b"abc", b"aac", b"a?c", b"axc", b"ab\\", b"ab", b"a]c",
            b"a[b", b"a[bc", b"a^c", b"a[c", b"a\\c", b"\\", b"x\\", b"hello", b"hallo", b"hllo", b"heeello",
            b"-x", b"bx", b"a\\", b"a[", b"ax"]


@pytest.mark.parametrize("resp", [2, 3])
def test_pattern_globs_match_redis(cachemere, redis_ref, resp):
    """One subscriber per pattern; every PUBLISH's receiver count and every subscriber's bytes compared, plus
    PUBSUB CHANNELS filtered by the same patterns."""
    steps = [(f"s{i}", ("PSUBSCRIBE", pat)) for i, pat in enumerate(PATTERNS)]
    steps += [("lit", ("SUBSCRIBE",) + tuple(CHANNELS))]
    steps += [("p", ("PUBLISH", ch, b"m-" + ch)) for ch in CHANNELS]
    steps += [("s0", READ_ALL)]
    steps += [("p", ("PUBSUB", "CHANNELS", pat), sorted_array) for pat in PATTERNS]
    steps += [("p", ("PUBSUB", "NUMPAT"))]
    theirs = assert_steps_match(cachemere.port, redis_ref.port, steps, resp)
    # what redis said for the pattern of the brief: a[bc]?\*d takes abx*d and acx*d, not adx*d nor acxyd
    read = len(PATTERNS) + 1 + len(CHANNELS)
    assert [f[2] for f in frames(theirs[read][0])] == [b"abx*d", b"acx*d"]
    assert theirs[read + 1] == [b"abx*d", b"acx*d"]
    assert theirs[-1] == b":%d\r\n" % len(PATTERNS)


# ------------------------------------------------------------------------------------------------------------
# the pubsub output-buffer soft limit
# ------------------------------------------------------------------------------------------------------------
def test_client_output_buffer_limit_default_matches_redis(cachemere, redis_ref):
    def get(port):
        conn = RawConnection(port)
        try:
            return conn.command("CONFIG", "GET", "client-output-buffer-limit")
        finally:
            conn.close()
    theirs = get(redis_ref.port)
    assert get(cachemere.port) == theirs
    assert b"pubsub 33554432 8388608 60" in theirs


PAYLOAD = 16384


class Reader(threading.Thread):
    """A subscriber that reads everything: the messages' sequence numbers, until the "end" message."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.seqs = []
        self.bad = []
        self.done = threading.Event()
        self.error = None

    def run(self):
        reader = hiredis.Reader()
        deadline = time.monotonic() + 30
        try:
            while not self.done.is_set() and time.monotonic() < deadline:
                data = self.sock.recv(1 << 20)
                if not data:
                    self.error = "closed"
                    return
                reader.feed(data)
                while True:
                    msg = reader.gets()
                    if msg is False:
                        break
                    if msg[0] != b"message" or msg[1] != b"big":
                        self.bad.append(msg[:2])
                    elif msg[2] == b"end":
                        self.done.set()
                        break
                    else:
                        seq = int(msg[2][:8])
                        if msg[2] != b"%08d" % seq + b"x" * (PAYLOAD - 8):
                            self.bad.append(seq)
                        self.seqs.append(seq)
        except OSError as e:
            self.error = repr(e)


def soft_limit_run(srv):
    """The scenario on one server; returns what the test asserts on."""
    out = {}
    admin = RawConnection(srv.port)
    out["default"] = admin.command("CONFIG", "GET", "client-output-buffer-limit")
    out["set"] = admin.command("CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 256kb 1")
    out["get"] = admin.command("CONFIG", "GET", "client-output-buffer-limit")
    # the subscriber that never reads its messages.  Its receive buffer is left as it is: once the server has
    # closed it, what the kernels hold (a few MB) must drain at once to reach the EOF, which a tiny locked window
    # would make take minutes
    slow_conn = RawConnection(srv.port)
    slow = slow_conn.sock
    slow_id = int(slow_conn.command("CLIENT", "ID")[1:-2])
    out["slow_subscribe"] = slow_conn.command("SUBSCRIBE", "big")
    fast = RawConnection(srv.port)
    out["fast_subscribe"] = fast.command("SUBSCRIBE", "big")
    reader = Reader(fast.sock)
    reader.start()
    pub = RawConnection(srv.port)
    counts = []
    start = time.monotonic()
    elapsed = None
    i = 0
    while time.monotonic() - start < 10:
        reply = pub.command("PUBLISH", "big", b"%08d" % i + b"x" * (PAYLOAD - 8))
        counts.append(reply)
        i += 1
        if reply == b":1\r\n":
            elapsed = time.monotonic() - start
            break
        time.sleep(0.001)      # ~10 MB/s: the reading subscriber keeps up, the other falls behind
    out["elapsed"], out["published"], out["counts"] = elapsed, i, counts
    try:
        out["slow_gone"] = wait_for(lambda: b"id=%d " % slow_id not in admin.command("CLIENT", "LIST"), timeout=3)
    except TimeoutError:
        out["slow_gone"] = False
    # the non-reader's socket: what was delivered, then EOF (or a reset)
    eof = False
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if not slow.recv(1 << 20):
                eof = True
                break
        except ConnectionResetError:
            eof = True
            break
        except socket.timeout:
            break
    out["slow_eof"] = eof
    out["end"] = pub.command("PUBLISH", "big", "end")
    reader.done.wait(10)
    reader.done.set()
    out["reader_done"] = reader.join(5) or not reader.is_alive()
    out["reader_seqs"], out["reader_bad"], out["reader_error"] = reader.seqs, reader.bad, reader.error
    out["ping"] = pub.command("PING")
    for conn in (admin, slow_conn, fast, pub):
        conn.close()
    return out


def test_slow_subscriber_soft_limit_disconnects_like_redis(fresh_cachemere):
    """`pubsub 0 256kb 1`: a subscriber over 256kb for more than a second is dropped; the one that reads gets every
    message.  Both servers must drop it within 1-6 s of the first publish (the exact moment may differ)."""
    results = {}
    ref = start_redis()
    try:
        results["redis"] = soft_limit_run(ref)
    finally:
        ref.stop()
    results["cachemere"] = soft_limit_run(fresh_cachemere())
    theirs = results["redis"]
    for name, got in results.items():
        for key in ("default", "set", "get", "slow_subscribe", "fast_subscribe"):
            assert got[key] == theirs[key], (name, key, got[key], theirs[key])
        assert got["get"].endswith(b"pubsub 0 262144 1\r\n"), name
        assert got["elapsed"] is not None and 1.0 <= got["elapsed"] <= 6.0, (name, got["elapsed"])
        # two receivers until the drop, then only the reader
        assert set(got["counts"][:-1]) == {b":2\r\n"} and got["counts"][-1] == b":1\r\n", name
        assert got["slow_gone"] is True, name     # CLIENT LIST no longer shows it
        assert got["slow_eof"], name
        assert got["end"] == b":1\r\n" and got["ping"] == b"+PONG\r\n", name
        assert got["reader_done"] and got["reader_error"] is None and got["reader_bad"] == [], name
        assert got["reader_seqs"] == list(range(got["published"])), name


def test_idle_timeout_spares_subscribers_only(fresh_cachemere):
    """`timeout 1`: a client that subscribed and unsubscribed again is an ordinary client and is closed when idle; a
    client holding only a shard channel is a subscriber (redis CLIENT_PUBSUB) and is not."""
    def run(srv):
        was_subscriber, shard_only = RawConnection(srv.port), RawConnection(srv.port)
        was_subscriber.command("SUBSCRIBE", "t")
        was_subscriber.command("UNSUBSCRIBE", "t")
        shard_only.command("SSUBSCRIBE", "t")
        start = time.monotonic()
        closed = False
        while not closed and time.monotonic() - start < 8:
            closed = was_subscriber.is_closed(timeout=0.2)
        result = (closed, shard_only.is_closed(timeout=0.2))
        was_subscriber.close()
        shard_only.close()
        return result
    ref = start_redis("--timeout", "1")
    try:
        theirs = run(ref)
    finally:
        ref.stop()
    assert theirs == (True, False)
    assert run(fresh_cachemere("--timeout", "1")) == theirs
