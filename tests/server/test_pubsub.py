"""Pub/sub with redis-py and raw sockets: RESP2 subscriber mode, RESP3 push frames, patterns, fan-out,
slow-subscriber disconnection; keyspace notifications."""
import socket
import time

import pytest
import redis

from tests.support.servers import RawConnection, encode, wait_for


def test_subscribe_publish_redis_py(cachemere):
    r = redis.Redis(port=cachemere.port)
    p = r.pubsub()
    p.subscribe("news")
    p.psubscribe("n*")
    assert p.get_message(timeout=2)["type"] == "subscribe"
    assert p.get_message(timeout=2)["type"] == "psubscribe"
    assert r.publish("news", "hello") == 2
    got = [p.get_message(timeout=2) for _ in range(2)]
    assert {m["type"] for m in got} == {"message", "pmessage"}
    assert all(m["data"] == b"hello" for m in got)
    assert r.pubsub_numsub("news") == [(b"news", 1)]
    assert r.pubsub_numpat() == 1
    assert b"news" in r.pubsub_channels()
    p.close()


@pytest.mark.parametrize("cmds", [
    # (UNSUBSCRIBE with no argument answers in hash-table order in redis: keep one channel left for it)
    [("SUBSCRIBE", "a", "b"), ("GET", "x"), ("PING",), ("PING", "m"), ("UNSUBSCRIBE", "a"), ("UNSUBSCRIBE",),
     ("GET", "x")],
    [("PSUBSCRIBE", "p*"), ("PUNSUBSCRIBE", "p*", "q*"), ("UNSUBSCRIBE",)],
    [("SSUBSCRIBE", "s1"), ("SUNSUBSCRIBE",), ("SUNSUBSCRIBE",)],
    [("PUBSUB", "NUMSUB", "nobody"), ("PUBSUB", "NUMPAT"), ("PUBSUB", "SHARDNUMSUB", "z")],
])
@pytest.mark.parametrize("resp", [2, 3])
def test_subscriber_mode_replies_match_redis(cachemere, redis_ref, cmds, resp):
    def run(port):
        conn = RawConnection(port)
        if resp == 3:
            conn.command("HELLO", "3")
        out = []
        for cmd in cmds:
            conn.send(encode(*cmd))
            out.append(conn.read_until_quiet(settle=0.1))
        return out
    assert run(cachemere.port) == run(redis_ref.port)


def test_fan_out_to_100_subscribers(cachemere):
    subs = []
    for _ in range(100):
        conn = RawConnection(cachemere.port)
        assert conn.command("SUBSCRIBE", "fan") == b"*3\r\n$9\r\nsubscribe\r\n$3\r\nfan\r\n:1\r\n"
        subs.append(conn)
    pub = RawConnection(cachemere.port)
    assert pub.command("PUBLISH", "fan", "x") == b":100\r\n"
    for conn in subs:
        assert conn.read_reply() == b"*3\r\n$7\r\nmessage\r\n$3\r\nfan\r\n$1\r\nx\r\n"
        conn.close()


def test_slow_subscriber_is_disconnected_others_unaffected(fresh_cachemere):
    srv = fresh_cachemere("--client-output-buffer-limit", "pubsub", "1mb", "256kb", "60")
    slow = socket.create_connection(("127.0.0.1", srv.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(encode("SUBSCRIBE", "flood"))
    time.sleep(0.2)
    fast = RawConnection(srv.port)
    fast.command("SUBSCRIBE", "other")
    pub = RawConnection(srv.port)
    payload = "x" * 65536
    deadline = time.monotonic() + 20
    receivers = None
    while time.monotonic() < deadline:
        receivers = pub.command("PUBLISH", "flood", payload)
        if receivers == b":0\r\n":
            break
    assert receivers == b":0\r\n"           # the slow subscriber was dropped
    assert pub.command("PUBLISH", "other", "still-here") == b":1\r\n"
    assert fast.read_reply() == b"*3\r\n$7\r\nmessage\r\n$5\r\nother\r\n$10\r\nstill-here\r\n"
    info = pub.command("INFO", "stats")
    assert b"client_output_buffer_limit_disconnections:1" in info
    slow.close()


def test_keyspace_notifications(cachemere):
    r = redis.Redis(port=cachemere.port)
    r.config_set("notify-keyspace-events", "KEA")
    try:
        p = r.pubsub()
        p.psubscribe("__key*@0__:*")
        p.get_message(timeout=2)
        r.set("nk", "1")
        r.incr("nk")
        r.set("nk:ttl", "1", px=50)
        seen = []

        def collect():
            m = p.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                seen.append((m["channel"], m["data"]))
            return (b"__keyevent@0__:expired", b"nk:ttl") in seen
        wait_for(collect, timeout=5)
        assert (b"__keyspace@0__:nk", b"set") in seen
        assert (b"__keyevent@0__:set", b"nk") in seen
        assert (b"__keyevent@0__:incrby", b"nk") in seen
        assert (b"__keyevent@0__:expire", b"nk:ttl") in seen
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_keyspace_notifications_from_memcached(cachemere):
    """The memcached verbs share db 0 and its change feed: a get miss raises "keymiss", a set of a new key
    "new" then "set", a delete "del" (Cachemere only: redis has no memcached side)."""
    r = redis.Redis(port=cachemere.port)
    r.config_set("notify-keyspace-events", "Eg$nm")
    mc = socket.create_connection(("127.0.0.1", cachemere.mc_port), timeout=5)
    try:
        p = r.pubsub()
        p.psubscribe("__keyevent@0__:*")
        assert p.get_message(timeout=2)["type"] == "psubscribe"

        def ask(line, expect):
            mc.sendall(line)
            data = b""
            deadline = time.monotonic() + 5
            while not data.endswith(expect) and time.monotonic() < deadline:
                data += mc.recv(4096)
            assert data == expect
        ask(b"get mc:notify:k\r\n", b"END\r\n")
        ask(b"set mc:notify:k 0 0 1\r\nv\r\n", b"STORED\r\n")
        ask(b"set mc:notify:k 0 0 1\r\nw\r\n", b"STORED\r\n")
        ask(b"delete mc:notify:k\r\n", b"DELETED\r\n")
        seen = []

        def collect():
            m = p.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                seen.append((m["channel"], m["data"]))
            return len(seen) >= 5
        wait_for(collect, timeout=5)
        key = b"mc:notify:k"
        assert seen == [(b"__keyevent@0__:keymiss", key), (b"__keyevent@0__:new", key), (b"__keyevent@0__:set", key),
                        (b"__keyevent@0__:set", key), (b"__keyevent@0__:del", key)]
        p.close()
    finally:
        mc.close()
        r.config_set("notify-keyspace-events", "")


@pytest.mark.parametrize("resp", [2, 3])
def test_pipelined_fan_out_order_matches_redis(cachemere, redis_ref, resp):
    """Messages are written per source once per batch: subscribers of several sources (channel + patterns)
    must still see publish order, each RESP version its own framing, and mid-batch (un)subscriptions apply
    from that point on."""
    def run(port):
        multi = RawConnection(port)
        single = RawConnection(port)
        late = RawConnection(port)
        for conn in (multi, single, late):
            if resp == 3:
                conn.command("HELLO", "3")
                conn.read_until_quiet(settle=0.05)
        # no channel matches both patterns: redis orders patterns by a randomly seeded hash
        multi.send(encode("SUBSCRIBE", "a") + encode("PSUBSCRIBE", "a*", "x*"))
        single.send(encode("SUBSCRIBE", "ab"))
        multi.read_until_quiet(settle=0.1)
        single.read_until_quiet(settle=0.1)
        pub = RawConnection(port)
        batch = b"".join(encode("PUBLISH", ch, f"m{i}") for i, ch in enumerate(["a", "ab", "b", "xb", "a", "ab"]))
        pub.send(batch)
        got = [pub.read_until_quiet(settle=0.1), multi.read_until_quiet(settle=0.1),
               single.read_until_quiet(settle=0.1)]
        # one pipelined write from a subscriber: earlier message, then (un)subscribe, then later messages
        late.send(encode("SUBSCRIBE", "z"))
        late.read_until_quiet(settle=0.1)
        pub.send(encode("PUBLISH", "y", "before") + b"".join(encode("PUBLISH", "z", f"n{i}") for i in range(3)))
        got.append(pub.read_until_quiet(settle=0.1))
        got.append(late.read_until_quiet(settle=0.1))
        if resp == 3:       # a RESP3 subscriber may publish: its own copy comes before the count
            late.send(encode("PUBLISH", "y", "1") + encode("SUBSCRIBE", "y") + encode("PUBLISH", "y", "2")
                      + encode("UNSUBSCRIBE", "y") + encode("PUBLISH", "y", "3"))
            got.append(late.read_until_quiet(settle=0.2))
        return got
    assert run(cachemere.port) == run(redis_ref.port)


def test_fan_out_many_messages_every_subscriber_complete(cachemere):
    """A pipelined burst reaches every subscriber whole and in order (the joined per-channel bytes)."""
    subs = []
    for i in range(20):
        conn = RawConnection(cachemere.port)
        if i % 2:
            conn.command("HELLO", "3")
            conn.read_until_quiet(settle=0.05)
        conn.send(encode("SUBSCRIBE", "burst"))
        conn.read_until_quiet(settle=0.05)
        subs.append(conn)
    pub = RawConnection(cachemere.port)
    n = 500
    pub.send(b"".join(encode("PUBLISH", "burst", str(i)) for i in range(n)))
    for i, conn in enumerate(subs):
        head = b">3" if i % 2 else b"*3"
        want = b"".join(head + b"\r\n$7\r\nmessage\r\n$5\r\nburst\r\n$%d\r\n%d\r\n" % (len(str(k)), k)
                        for k in range(n))
        data = b""
        deadline = time.monotonic() + 10
        while len(data) < len(want) and time.monotonic() < deadline:
            data += conn.read_until_quiet(settle=0.1)
        assert data == want
