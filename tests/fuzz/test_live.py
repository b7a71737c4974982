"""Fuzzing the live front ends: malformed RESP against Cachemere and a real redis-server side by side (the
same bytes back, protocol errors included), malformed memcached text/binary input against Cachemere; after
every case the server is alive, answers another client, and nothing hangs (every read has a timeout).
Memory stays bounded by client-query-buffer-limit / proto-max-bulk-len under huge declared lengths."""
import os
import re
import socket
import struct
import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import mc_stream, resp_stream
from tests.support.servers import start_cachemere, start_redis

SHORT = int(os.environ.get("CACHEMERE_LIVE_FUZZ_EXAMPLES", "150"))
COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                     HealthCheck.data_too_large])
MC_REPLY_STARTS = (b"ERROR", b"CLIENT_ERROR ", b"SERVER_ERROR ", b"VALUE ", b"END", b"STORED", b"NOT_STORED",
                   b"EXISTS", b"NOT_FOUND", b"DELETED", b"TOUCHED", b"OK", b"MN", b"EN", b"HD", b"NS", b"NF",
                   b"EX", b"VA ", b"STAT ", b"VERSION ", b"ME ", b"RESET")


@pytest.fixture(scope="module")
def pair():
    ours = start_cachemere(memcached=True)
    theirs = start_redis()
    yield ours, theirs
    theirs.stop()
    ours.stop()


def exchange(port, data, timeout=10.0):
    """Send data, half-close, read everything until the server closes: (bytes, seconds)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    started = time.monotonic()
    try:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass                    # the server may close first (protocol error mid-stream)
        out = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise AssertionError(f"server hung on {data[:200]!r}") from None
            if not chunk:
                break
            out.append(chunk)
        return b"".join(out), time.monotonic() - started
    finally:
        s.close()


def normalise(reply):
    # the only legitimately different bytes: the server's own name in HELLO / version texts (not generated)
    return reply


# Hypothesis also draws byte strings it finds in the project's source, so a generated request can be one of the
# service commands (QUEUE.*, STREAM.*, TOPIC.*, WF.*), which redis-server answers as unknown: not comparable
OWN_COMMAND = re.compile(rb"(?i)(queue|stream|topic|wf)\.")


def resp_case(pair, data):
    if OWN_COMMAND.search(data):
        return
    ours, theirs = pair
    mine, _ = exchange(ours.port, data)
    ref, _ = exchange(theirs.port, data)
    assert normalise(mine) == normalise(ref), data
    assert redis.Redis(port=ours.port, socket_timeout=5).ping()


@settings(max_examples=SHORT, **COMMON)
@given(resp_stream)
def test_resp_live_same_bytes_as_redis(pair, data):
    resp_case(pair, data)


def check_mc_replies(data, reply):
    """Every reply is a memcached reply line, and a VALUE/VA line is followed by exactly its data block."""
    pos = 0
    while pos < len(reply):
        end = reply.find(b"\r\n", pos)
        assert end >= 0, (data, reply[pos:])
        line = reply[pos:end]
        pos = end + 2
        assert line.startswith(MC_REPLY_STARTS), (data, line)
        parts = line.split(b" ")
        if parts[0] in (b"VALUE", b"VA"):
            size = int(parts[3] if parts[0] == b"VALUE" else parts[1])
            assert reply[pos + size:pos + size + 2] == b"\r\n", (data, reply)
            pos += size + 2


def mc_case(pair, data):
    ours, _ = pair
    reply, _ = exchange(ours.mc_port, data)
    check_mc_replies(data, reply)
    probe = socket.create_connection(("127.0.0.1", ours.mc_port), timeout=5)
    probe.sendall(b"mn\r\n")
    assert probe.recv(10) == b"MN\r\n"
    probe.close()


@settings(max_examples=SHORT, **COMMON)
@given(mc_stream)
def test_memcached_live_malformed(pair, data):
    mc_case(pair, data)


def _bin_header(opcode, keylen, extlen, bodylen, magic=0x80):
    return struct.pack(">BBHBBHIIQ", magic, opcode, keylen, extlen, 0, 0, bodylen, 0, 0)


@settings(max_examples=max(20, SHORT // 5), **COMMON)
@given(st.integers(0, 255), st.integers(0, 65535), st.integers(0, 255), st.sampled_from([0, 1, 100, 2**31, 2**32 - 1]),
       st.binary(max_size=64), st.sampled_from([0x80, 0x81]))
def test_memcached_binary_headers_with_lying_lengths(pair, opcode, keylen, extlen, bodylen, body, magic):
    ours, _ = pair
    reply, elapsed = exchange(ours.mc_port, _bin_header(opcode, keylen, extlen, bodylen, magic) + body)
    assert elapsed < 5
    # 0x80 selects the binary protocol (its parser is fuzzed against memcached in tests/fuzz/test_binary.py);
    # 0x81 is a response magic: memcached reads such bytes as text, and so does Cachemere
    mc_case(pair, b"mn\r\n")


def test_resp_extremes_same_as_redis(pair):
    cases = [
        b"*1\r\n" * 1_000_000 + b"$4\r\nPING\r\n",           # aggregates nested 1M deep
        b"*1\r\n$536870912\r\n" + b"x" * 100,                  # a huge declared bulk that never comes
        b"*1\r\n$536870913\r\nPING\r\n",                       # past proto-max-bulk-len
        b"*2147483648\r\n", b"*-2147483649\r\nPING\r\n", b"*1\r\n$-1\r\n",
        b"x" * (70 * 1024),                                    # inline beyond 64 KB without a newline
        b"PING " + b"a" * (60 * 1024) + b"\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nvXY*1\r\n$4\r\nPING\r\n",   # a bulk with a wrong trailing CRLF
        b"\x00" * 1000 + b"\r\n", b"*1\r\n$4\r\nPING" + b"\r\n" * 100,
        b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for data in cases:
        resp_case(pair, data)


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_memory_bounded_by_query_buffer_limit(fresh_cachemere):
    srv = fresh_cachemere("--client-query-buffer-limit", "1mb", "--proto-max-bulk-len", "1mb")
    other = redis.Redis(port=srv.port, socket_timeout=5)
    other.ping()
    before = _rss_kb(srv.proc.pid)
    socks = []
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(b"*1\r\n$1048576\r\n")
        socks.append(s)
    chunk = b"y" * 65536
    closed = 0
    for s in socks:
        try:
            for _ in range(40):                 # 2.5 MB each: past the 1 MB limit
                s.sendall(chunk)
        except OSError:
            closed += 1
            continue
        s.settimeout(5)
        try:
            if s.recv(100) == b"":
                closed += 1
        except ConnectionResetError:
            closed += 1
    assert closed == len(socks)
    assert other.ping()
    grown_mb = (_rss_kb(srv.proc.pid) - before) / 1024
    assert grown_mb < 64, grown_mb
    r = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    r.sendall(b"*1\r\n$1048577\r\n")
    assert r.recv(100) == b"-ERR Protocol error: invalid bulk length\r\n"
    assert "Closing client that reached max query buffer length" in srv.log()
    assert other.info("stats")["client_query_buffer_limit_disconnections"] == len(socks) if \
        "client_query_buffer_limit_disconnections" in other.info("stats") else True


@pytest.mark.drill
@settings(max_examples=200_000, **COMMON)
@given(resp_stream)
def test_resp_live_long(pair, data):
    resp_case(pair, data)


@pytest.mark.drill
@settings(max_examples=100_000, **COMMON)
@given(mc_stream)
def test_memcached_live_long(pair, data):
    mc_case(pair, data)
