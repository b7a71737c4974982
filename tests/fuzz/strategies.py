"""Hypothesis strategies for malformed RESP and memcached input, shared by the parser and live fuzzers."""
from hypothesis import strategies as st

NUMS = st.one_of(
    st.integers(-5, 40), st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, -2**63, 10**30, 536870912,
                                          536870913, 1048576, 16385]))
NUM_TEXT = st.one_of(NUMS.map(lambda n: str(n).encode()),
                     st.sampled_from([b"", b"+1", b" 1", b"1 ", b"01", b"-0", b"0x10", b"1e3", b"abc", b"\x00"]))
WORDS = st.sampled_from([b"PING", b"ECHO", b"ping", b"echo", b"", b"x", b"\x00", b"\r", b"\n", b"\"", b"'",
                         b"GET", b"\"a b\"", b"'x", b"\\x41", b"\"\\x4\"", b"\xff\xfe"])


@st.composite
def resp_piece(draw):
    kind = draw(st.integers(0, 9))
    if kind == 0:        # a well-formed array of bulks
        args = draw(st.lists(st.one_of(WORDS, st.binary(max_size=20)), min_size=0, max_size=4))
        return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    if kind == 1:        # array header with any count
        return b"*" + draw(NUM_TEXT) + draw(st.sampled_from([b"\r\n", b"\n", b"\r", b""]))
    if kind == 2:        # bulk header with any length (huge ones included), maybe a lying payload
        return b"$" + draw(NUM_TEXT) + b"\r\n" + draw(st.binary(max_size=30))
    if kind == 3:        # nested aggregates and RESP3 types where a bulk is expected
        depth = draw(st.integers(1, 50))
        return b"*1\r\n" * depth + draw(st.sampled_from([b"%1\r\n", b"~1\r\n", b":1\r\n", b"+OK\r\n", b"*1\r\n"]))
    if kind == 4:        # inline commands, quotes and all
        return b" ".join(draw(st.lists(WORDS, max_size=5))) + draw(st.sampled_from([b"\r\n", b"\n", b""]))
    if kind == 5:
        return draw(st.binary(max_size=40))
    if kind == 6:        # a bulk whose trailing CRLF is wrong
        data = draw(st.binary(max_size=8))
        return b"*1\r\n$%d\r\n%s%s" % (len(data), data, draw(st.sampled_from([b"XY", b"\r", b"", b"\n\n"])))
    if kind == 7:
        return draw(st.sampled_from([b"\r\n", b"\n", b"*", b"$", b"*0\r\n", b"*-1\r\n", b"\x00\r\n", b"  \r\n"]))
    if kind == 8:        # HTTP-ish probes (redis's cross-protocol guard)
        return draw(st.sampled_from([b"POST / HTTP/1.1\r\n", b"Host: x\r\n", b"GET / HTTP/1.0\r\n"]))
    return b"*2\r\n$4\r\nECHO\r\n$" + draw(NUM_TEXT) + b"\r\n" + draw(st.binary(max_size=10)) + b"\r\n"


resp_stream = st.lists(resp_piece(), min_size=1, max_size=8).map(b"".join)

MC_KEYS = st.one_of(st.sampled_from([b"k", b"nokey", b"a" * 250, b"a" * 251, b"\x00", b"k\r"]),
                    st.binary(min_size=1, max_size=10).filter(lambda b: b" " not in b and b"\n" not in b))
MC_VERBS = st.sampled_from([b"get", b"gets", b"gat", b"gats", b"delete", b"incr", b"decr", b"touch", b"set",
                            b"add", b"cas", b"append", b"mg", b"ms", b"md", b"ma", b"mn", b"me", b"verbosity",
                            b"flush_all", b"GET", b"bogus", b"stats", b"", b"HTTP/1.1", b"quit"])


@st.composite
def mc_piece(draw):
    kind = draw(st.integers(0, 5))
    end = draw(st.sampled_from([b"\r\n", b"\n", b"\r\n", b"", b"\r"]))
    if kind == 0:
        toks = [draw(MC_VERBS)] + draw(st.lists(st.one_of(MC_KEYS, NUM_TEXT), max_size=6))
        return b" ".join(toks) + end
    if kind == 1:        # storage command with a lying byte count
        n = draw(NUMS)
        data = draw(st.binary(max_size=20))
        return b"set k 0 0 %d\r\n%s%s" % (n, data, end) if n >= -5 else b"set k 0 0 x\r\n"
    if kind == 2:        # meta set with a lying size
        return b"ms k " + draw(NUM_TEXT) + b" T0\r\n" + draw(st.binary(max_size=20)) + end
    if kind == 3:
        return draw(st.binary(max_size=40))
    if kind == 4:        # long line without CRLF
        return b"get " + b"k" * draw(st.integers(0, 3000))
    return draw(st.sampled_from([b"\r\n", b"\n", b" \r\n", b"get\r\n", b"mn\r\n"]))


mc_stream = st.lists(mc_piece(), min_size=1, max_size=8).map(b"".join)


@st.composite
def chunked(draw, stream):
    """A stream and the positions where it is cut into reads."""
    data = draw(stream)
    cuts = sorted(set(draw(st.lists(st.integers(0, max(0, len(data))), max_size=6))))
    return data, cuts


def split_at(data, cuts):
    out, prev = [], 0
    for c in cuts:
        out.append(data[prev:c])
        prev = c
    out.append(data[prev:])
    return [c for c in out if c]
