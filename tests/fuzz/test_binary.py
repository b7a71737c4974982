"""Hypothesis on the memcached binary protocol: protocol/memcache_bin.pyx McBinParser alone (no exception, the
result independent of how the bytes are cut into reads, buffering bounded by the item size limit, nothing after
a close) and live: random request streams (valid, quiet, lying lengths, unknown opcodes) sent to Cachemere and to
a real memcached 1.6.18, the responses compared packet for packet.  Long runs are drills."""
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.memcache_bin import McBinParser
from tests.support.mcbin import req, run_pair, OP

SHORT = int(os.environ.get("CACHEMERE_FUZZ_EXAMPLES", "300"))
LIVE = int(os.environ.get("CACHEMERE_LIVE_FUZZ_EXAMPLES", "150")) // 5
COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.function_scoped_fixture])
LIMIT = 4096

keys = st.sampled_from([b"a", b"b", b"c", b"n"])
values = st.one_of(st.sampled_from([b"", b"1", b"10", b"18446744073709551615", b"x y"]), st.binary(max_size=40))
u32 = st.sampled_from([0, 1, 5, 0xffffffff])
cas = st.sampled_from([0, 0, 0, 1 << 50])          # never an id either server may have handed out
exptime = st.sampled_from([0, 0, 1000, 1000000000, 0xffffffff])

STORE = ["SET", "ADD", "REPLACE", "SETQ", "ADDQ", "REPLACEQ"]
KEYED = ["GET", "GETQ", "GETK", "GETKQ", "DELETE", "DELETEQ"]


@st.composite
def valid_request(draw):
    kind = draw(st.sampled_from(["store", "keyed", "concat", "arith", "touch", "plain", "unknown"]))
    opaque = draw(st.sampled_from([0, 1, 0xdeadbeef]))
    if kind == "store":
        return req(draw(st.sampled_from(STORE)), draw(keys), draw(values),
                   struct.pack(">II", draw(u32), draw(exptime)), opaque=opaque, cas=draw(cas))
    if kind == "keyed":
        return req(draw(st.sampled_from(KEYED)), draw(keys), opaque=opaque, cas=draw(cas))
    if kind == "concat":
        return req(draw(st.sampled_from(["APPEND", "PREPEND", "APPENDQ", "PREPENDQ"])), draw(keys), draw(values),
                   opaque=opaque, cas=draw(cas))
    if kind == "arith":
        return req(draw(st.sampled_from(["INCR", "DECR", "INCRQ", "DECRQ"])), draw(keys), b"",
                   struct.pack(">QQI", draw(st.sampled_from([0, 1, 7, 1 << 63])), draw(st.sampled_from([0, 42])),
                               draw(exptime)), opaque=opaque, cas=draw(cas))
    if kind == "touch":
        return req(draw(st.sampled_from(["TOUCH", "GAT", "GATQ", "GATK", "GATKQ"])), draw(keys), b"",
                   struct.pack(">I", draw(exptime)), opaque=opaque)
    if kind == "plain":
        return req(draw(st.sampled_from(["NOOP", "VERSION", "FLUSHQ", "SASL_LIST"])), opaque=opaque)
    return req(draw(st.sampled_from([0x1b, 0x25, 0x30, 0x50, 0xfe])), opaque=opaque)


@st.composite
def lying_request(draw):
    op = draw(st.integers(0, 0x26))
    key = draw(st.binary(max_size=8))
    extras = draw(st.sampled_from([b"", b"\0" * 4, b"\0" * 8, b"\0" * 20]))
    return req(op, key, draw(st.binary(max_size=8)), extras,
               keylen=draw(st.one_of(st.none(), st.integers(0, 300))),
               extlen=draw(st.one_of(st.none(), st.integers(0, 30))),
               bodylen=draw(st.one_of(st.none(), st.integers(0, 64))),
               magic=draw(st.sampled_from([0x80, 0x80, 0x80, 0x81, 0x00])))


streams = st.lists(st.one_of(valid_request(), valid_request(), lying_request()), min_size=1, max_size=24).map(b"".join)


def run_parser(pieces):
    p = McBinParser(LIMIT, False)
    out = []
    for piece in pieces:
        p.feed(piece)
        while True:
            r = p.next_request()
            if r is None:
                break
            out.append((r.opcode, r.cmd, r.quiet, r.key, r.extras, r.value, r.cas, r.opaque, r.error, r.close))
        assert p.buffered <= LIMIT + 24 + 65535 + 255 + len(piece)
    if p.closed:
        p.feed(b"\x80\x0a" + b"\0" * 22)
        assert p.next_request() is None
    return out


@settings(max_examples=SHORT, **COMMON)
@given(streams, st.lists(st.integers(1, 64), max_size=10))
def test_parser_independent_of_read_boundaries(data, cuts):
    whole = run_parser([data])
    pieces, pos = [], 0
    for n in cuts:
        pieces.append(data[pos:pos + n])
        pos += n
    pieces.append(data[pos:])
    assert run_parser(pieces) == whole
    assert run_parser([data[i:i + 1] for i in range(len(data))]) == whole


@settings(max_examples=SHORT, **COMMON)
@given(st.binary(min_size=24, max_size=200))
def test_parser_random_bytes(data):
    run_parser([b"\x80" + data])


def test_parser_huge_declared_value_is_swallowed_not_buffered():
    p = McBinParser(LIMIT, False)
    p.feed(req("SET", b"k", b"", b"\0" * 8, bodylen=9 + (1 << 31)))
    r = p.next_request()
    assert r.error[6:8] == b"\x00\x03" and not r.close           # Too large., then the value is swallowed
    for _ in range(100):
        p.feed(b"x" * 65536)
        assert p.next_request() is None and p.buffered == 0


def live_case(ours, theirs, data):
    mine, ref = run_pair(ours.mc_port, theirs.port, [data + req("NOOP", opaque=0x4e4f4f50)], settle=0.12)
    assert mine == ref


@pytest.fixture(scope="module")
def bin_pair(cachemere, memcached_ref):
    return cachemere, memcached_ref


@settings(max_examples=max(10, LIVE), **COMMON)
@given(streams)
def test_live_same_as_memcached(bin_pair, data):
    live_case(*bin_pair, data)


@pytest.mark.drill
@settings(max_examples=5_000, **COMMON)
@given(streams)
def test_live_same_as_memcached_drill(bin_pair, data):
    live_case(*bin_pair, data)


@pytest.mark.drill
@settings(max_examples=200_000, **COMMON)
@given(streams, st.lists(st.integers(1, 64), max_size=10))
def test_parser_drill(data, cuts):
    test_parser_independent_of_read_boundaries.hypothesis.inner_test(data, cuts)


assert OP["NOOP"] == 0x0a
