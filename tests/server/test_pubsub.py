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
