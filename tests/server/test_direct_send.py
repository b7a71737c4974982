"""Replies sent on the socket directly (server/direct_send.pxd) keep every byte and their order when the kernel
takes only part of them: the rest goes through the transport, and later replies wait behind it. Also the
adaptive end-of-pass writing (server/connection.pyx: lone mode): one client, two clients taking turns, and many
clients at once all get every reply. Each test compares with a real redis-server where the bytes are defined."""
import select
import socket
import threading
import time

import pytest
import redis

from engine.core import encode_command

BIG = 6 * 1024 * 1024          # well over a loopback socket's send buffer: the first send is short


def resp_command(*args):
    return encode_command([a if isinstance(a, bytes) else str(a).encode() for a in args])


def read_exactly_slowly(sock, n, deadline):
    """Read n bytes in small sips with pauses, so the server's socket buffer fills and its sends come up short."""
    got = bytearray()
    while len(got) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"read {len(got)} of {n} bytes")
        r, _, _ = select.select([sock], [], [], 1.0)
        if not r:
            continue
        chunk = sock.recv(min(65536, n - len(got)))
        if not chunk:
            raise ConnectionError("server closed the connection")
        got += chunk
        if len(got) < 2 * BIG:
            time.sleep(0.002)
    return bytes(got)


def pipelined_big_replies(port):
    value = bytes(range(256)) * (BIG // 256)
    setup = redis.Redis(port=port)
    setup.set("ds:big", value)
    setup.set("ds:small", "after")
    expected_len = 0
    s = socket.create_connection(("127.0.0.1", port))
    try:
        # three big replies, then small ones: each flush after the first finds the transport still holding bytes
        s.sendall(resp_command("GET", "ds:big") + resp_command("PING") + resp_command("GET", "ds:big")
                  + resp_command("GET", "ds:small") + resp_command("GET", "ds:big") + resp_command("PING"))
        big_reply = b"$%d\r\n%s\r\n" % (len(value), value)
        expected = big_reply + b"+PONG\r\n" + big_reply + b"$5\r\nafter\r\n" + big_reply + b"+PONG\r\n"
        expected_len = len(expected)
        time.sleep(0.3)              # let the server write into a full socket buffer before reading starts
        got = read_exactly_slowly(s, expected_len, time.monotonic() + 60)
    finally:
        s.close()
    return got, expected


def test_big_pipelined_replies_to_a_slow_reader_arrive_whole_and_in_order(cachemere, redis_ref):
    got, expected = pipelined_big_replies(cachemere.port)
    assert got == expected
    ref_got, ref_expected = pipelined_big_replies(redis_ref.port)
    assert ref_got == ref_expected == expected


def test_replies_after_a_short_send_go_behind_it(cachemere):
    """While the transport still holds the tail of a big reply, a pipelined burst of small replies must not
    overtake it (a direct send would put them on the socket first)."""
    port = cachemere.port
    redis.Redis(port=port).set("ds:big2", b"x" * BIG)
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(resp_command("GET", "ds:big2"))
        time.sleep(0.2)
        for i in range(50):          # separate reads: separate flushes while the big reply is still queued
            s.sendall(resp_command("ECHO", "m%d" % i))
            time.sleep(0.002)
        tail = b"".join(b"$%d\r\nm%d\r\n" % (len("m%d" % i), i) for i in range(50))
        expected = b"$%d\r\n" % BIG + b"x" * BIG + b"\r\n" + tail
        assert read_exactly_slowly(s, len(expected), time.monotonic() + 60) == expected
    finally:
        s.close()


def test_subscriber_gets_messages_and_replies_in_order(cachemere):
    """Published messages go through the transport; a subscriber's own replies sent directly must not pass them."""
    port = cachemere.port
    s = socket.create_connection(("127.0.0.1", port))
    pub = redis.Redis(port=port)
    try:
        s.sendall(resp_command("SUBSCRIBE", "ds:chan"))
        deadline = time.monotonic() + 10
        want = b"*3\r\n$9\r\nsubscribe\r\n$7\r\nds:chan\r\n:1\r\n"
        assert read_exactly_slowly(s, len(want), deadline) == want
        payload = b"p" * BIG
        assert pub.publish("ds:chan", payload) == 1
        s.sendall(resp_command("PING", "after"))
        msg = b"*3\r\n$7\r\nmessage\r\n$7\r\nds:chan\r\n$%d\r\n%s\r\n" % (len(payload), payload)
        pong = b"*2\r\n$4\r\npong\r\n$5\r\nafter\r\n"
        assert read_exactly_slowly(s, len(msg) + len(pong), time.monotonic() + 60) == msg + pong
    finally:
        s.close()


def test_lone_client_then_two_clients_taking_turns_then_many(cachemere):
    """Lone mode: a sequential client gets each reply at once; a second client read in the same millisecond turns
    the end-of-pass writing back on; neither loses or reorders a reply."""
    port = cachemere.port
    a = redis.Redis(port=port, socket_timeout=10)
    for i in range(200):             # more than LONE_PASSES single-connection passes
        assert a.incr("ds:lone") == i + 1
    b = redis.Redis(port=port, socket_timeout=10)
    for i in range(200):
        assert a.set("ds:a", i) is True
        assert b.get("ds:a") == str(i).encode()
    errors = []

    def worker(n):
        try:
            r = redis.Redis(port=port, socket_timeout=10)
            for i in range(300):
                key = "ds:w%d" % n
                assert r.rpush(key, i) == i + 1
                assert r.lindex(key, -1) == str(i).encode()
        except Exception as exc:       # reported below: an assert in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert not any(t.is_alive() for t in threads)
    for i in range(50):              # and back to one client
        assert a.incr("ds:lone") == 201 + i


@pytest.mark.parametrize("mode", ["text", "meta"])
def test_memcached_big_values_to_a_slow_reader(cachemere, mode):
    port = cachemere.mc_port
    value = bytes(range(256)) * 3500       # 896,000 bytes: under the 1 MB item limit
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(b"set ds:mc 0 0 %d\r\n%s\r\n" % (len(value), value))
        assert read_exactly_slowly(s, 8, time.monotonic() + 10) == b"STORED\r\n"
        if mode == "text":
            req = b"get ds:mc\r\n"
            one = b"VALUE ds:mc 0 %d\r\n%s\r\nEND\r\n" % (len(value), value)
        else:
            req = b"mg ds:mc v\r\n"
            one = b"VA %d\r\n%s\r\n" % (len(value), value)
        s.sendall(req * 12 + b"version\r\n")
        time.sleep(0.3)
        got = read_exactly_slowly(s, len(one) * 12, time.monotonic() + 60)
        assert got == one * 12
        tail = read_exactly_slowly(s, len(b"VERSION "), time.monotonic() + 10)
        assert tail == b"VERSION "
    finally:
        s.close()
