"""protocol/memcache.pxd mc_scan_fast (the memcached connection's fast text requests) against McParser: whatever
the scanner accepts, the parser reads as the same valid request over the same bytes."""
import random

from protocol import memcache as mc

K250 = b"k" * 250
SHAPES = [
    b"get a\r\n", b"get a b  c \r\n", b"get a\n", b"get \r\n", b"get\r\n", b"gets a\r\n", b"get a\x00b\r\n",
    b"get " + K250 + b"\r\n", b"get " + K250 + b"k\r\n", b"get " + b" ".join(b"k%d" % i for i in range(32)) + b"\r\n",
    b"get " + b" ".join(b"k%d" % i for i in range(33)) + b"\r\n", b"get a\tb\r\n", b"get a\r\r\n", b"get a",
    b"mg a v\r\n", b"mg a  v \r\n", b"mg a v q\r\n", b"mg a\r\n", b"mg a V\r\n", b"mg a vv\r\n", b"mg " + K250 + b" v\r\n",
    b"set a 0 0 1\r\nx\r\n", b"set a 1 2 3 noreply\r\nxyz\r\n", b"set a 0 0 1 noreplx\r\nx\r\n", b"set a 0 0 1\r\nx",
    b"set a 0 0 1\r\nxy\r\n", b"set a 4294967295 0 1\r\nx\r\n", b"set a 4294967296 0 1\r\nx\r\n", b"set a -1 0 1\r\nx\r\n",
    b"set a 0 -1 1\r\nx\r\n", b"set a 0 999999999 1\r\nx\r\n", b"set a 0 0 +1\r\nx\r\n", b"set a 0 0 01\r\nx\r\n",
    b"set a 0 0\r\n", b"set a 0 0 1 noreply x\r\nx\r\n", b"set  a  0  0  2 \r\nab\r\n", b"set a 0 0 0\r\n\r\n",
    b"set " + K250 + b" 0 0 1\r\nx\r\n", b"set a 0 0 2000\r\n" + b"v" * 2000 + b"\r\n",
]


def parse_all(data, limit):
    p = mc.McParser(limit)
    p.binary_magic_closes = False
    p.feed(data)
    req = p.next_request()
    return req, len(data) - p.buffered


def check(data, limit=1048576):
    got = mc.scan_fast(data, limit)
    if got is None:
        return False
    kind, size, keys, flags, exptime, value, noreply = got
    req, consumed = parse_all(data[:size], limit)
    assert req is not None and req.error is None and not req.close, (data, req)
    assert consumed == size
    assert req.keys == keys
    if kind == "set":
        assert req.command == mc.MC_SET
        assert (req.flags, req.exptime, req.value, req.noreply) == (flags, exptime, value, noreply)
    elif kind == "get":
        assert req.command == mc.MC_GET
    else:
        assert req.command == mc.MC_MG and dict(req.meta_flags) == {"v": b""} and not req.noreply
    return True


def test_shapes_agree_with_the_parser():
    accepted = sum(check(d) for d in SHAPES)
    assert accepted >= 15
    assert not check(b"set a 0 0 2000\r\n" + b"v" * 2000 + b"\r\n", limit=1024)     # too large: the parser's error


def test_random_lines_agree_with_the_parser():
    rng = random.Random(20)
    alphabet = [b"get", b"set", b"mg", b"v", b"a", b"0", b"1", b"12", b"noreply", b" ", b"  ", b"\t", b"\x00", b"-1",
                b"+1", b"4294967295", b"x" * 251]
    n = 0
    for _ in range(4000):
        line = b" ".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 7)))
        data = line + rng.choice([b"\r\n", b"\n", b""]) + rng.choice([b"", b"x\r\n", b"xy\r\n", b"\r\n", b"abc\r\n"])
        n += check(data)
    assert n > 100
