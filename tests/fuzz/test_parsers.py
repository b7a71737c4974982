"""Hypothesis on the codecs: protocol/resp.pyx RespParser and protocol/memcache.pyx McParser.

Properties: no exception whatever the bytes; the result does not depend on how the bytes are cut into reads
(a parser bug that loses or duplicates state across reads shows up as a difference); every RESP error is one
of redis 7.0.15's protocol error texts; the buffered bytes stay under the configured limits."""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.memcache import McParser
from protocol.resp import RespParser
from tests.fuzz.strategies import chunked, mc_stream, resp_stream, split_at

SHORT = int(os.environ.get("CACHEMERE_FUZZ_EXAMPLES", "300"))
COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

REDIS_PROTOCOL_ERRORS = {b"too big inline request", b"unbalanced quotes in request", b"too big mbulk count string",
                         b"invalid multibulk length", b"unauthenticated multibulk length",
                         b"too big bulk count string", b"invalid bulk length", b"unauthenticated bulk length",
                         b"query buffer limit"}


def run_resp(pieces, auth_required=False, max_bulk=512 * 1024 * 1024, qbuf=1024 ** 3):
    p = RespParser(max_bulk, qbuf)
    p.auth_required = auth_required
    out = []
    for piece in pieces:
        p.feed(piece)
        while True:
            argv = p.next_argv()
            if argv is None:
                break
            if argv is False:
                out.append(("error", p.error.message, p.error.reply))
                return out, p
            out.append(tuple(argv))
        assert p.buffered() <= max(qbuf, 1024 * 1024) + len(piece)
    return out, p


def check_resp_error(out):
    if out and out[-1][0] == "error":
        msg = out[-1][1]
        assert msg in REDIS_PROTOCOL_ERRORS or (msg.startswith(b"expected '$', got '") and msg.endswith(b"'")
                                                and len(msg) == len(b"expected '$', got 'x'")), msg


def resp_case(case, auth):
    data, cuts = case
    whole, _ = run_resp([data], auth_required=auth)
    pieces, _ = run_resp(split_at(data, cuts), auth_required=auth)
    bytewise, _ = run_resp([data[i:i + 1] for i in range(len(data))], auth_required=auth) if len(data) < 400 else (whole, None)
    assert whole == pieces == bytewise
    check_resp_error(whole)


@settings(max_examples=SHORT, **COMMON)
@given(chunked(resp_stream), st.booleans())
def test_resp_parser_chunking_invariant(case, auth):
    resp_case(case, auth)


def mc_run(pieces):
    p = McParser(1024 * 1024)
    out = []
    for piece in pieces:
        p.feed(piece)
        while True:
            req = p.next_request()
            if req is None:
                break
            out.append((repr(req), req.error, bytes(req.value) if req.value is not None else None))
            if req.close:
                return out
        if p.closed:
            break
    return out


def mc_case(case):
    data, cuts = case
    whole = mc_run([data])
    if max(len(line) for line in data.split(b"\n")) > 2000:
        return      # memcached's "no newline in 2048 buffered bytes" rule depends on the reads by design
    assert whole == mc_run(split_at(data, cuts))
    if len(data) < 300:
        assert whole == mc_run([data[i:i + 1] for i in range(len(data))])
    for rep, err, _ in whole:
        if err is not None:
            assert err.endswith(b"\r\n") and err.split(b" ", 1)[0] in (b"ERROR\r\n", b"CLIENT_ERROR", b"SERVER_ERROR"), err


@settings(max_examples=SHORT, **COMMON)
@given(chunked(mc_stream))
def test_memcached_parser_chunking_invariant(case):
    mc_case(case)


def test_resp_limits_hold_for_huge_declared_lengths():
    # a declared 512 MB bulk with 2 MB sent: the parser keeps what it got, refuses past the query buffer limit
    out, p = run_resp([b"*1\r\n$536870912\r\n", b"x" * (2 << 20)], qbuf=1 << 20)
    assert out == [("error", b"query buffer limit", False)]
    out, _ = run_resp([b"*1\r\n$536870913\r\n"])
    assert out == [("error", b"invalid bulk length", True)]
    out, _ = run_resp([b"*2147483648\r\n"])
    assert out == [("error", b"invalid multibulk length", True)]
    out, _ = run_resp([b"*1\r\n" * 1000 + b"$1\r\nx\r\n"])
    assert out == [("error", b"expected '$', got '*'", True)]
    out, _ = run_resp([b"x" * (64 * 1024 + 1)])
    assert out == [("error", b"too big inline request", True)]
    out, _ = run_resp([b"*-1\r\n*0\r\n*-2147483648\r\nPING\r\n"])
    assert out == [(b"PING",)]


@pytest.mark.drill
@settings(max_examples=500_000, **COMMON)
@given(chunked(resp_stream), st.booleans())
def test_resp_parser_long(case, auth):
    resp_case(case, auth)


@pytest.mark.drill
@settings(max_examples=500_000, **COMMON)
@given(chunked(mc_stream))
def test_memcached_parser_long(case):
    mc_case(case)
