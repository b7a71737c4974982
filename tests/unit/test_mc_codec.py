"""memcached text/meta codec: exact parse results, every split point, and a differential check of
error lines and reply bytes against a real memcached 1.6.18 (skipped when it is not installed)."""
import os
import shutil
import socket
import subprocess
import time

import pytest

mc = pytest.importorskip("protocol.memcache")
from protocol.memcache import McParser  # noqa: E402

FIELDS = ("command", "name", "keys", "flags", "exptime", "value", "cas_unique", "delta", "initial",
          "noreply", "delay", "verbosity", "args", "meta_flags", "mode", "opaque", "key_binary",
          "has_ttl", "has_cas", "vivify", "autoviv_exptime", "recache_time", "error", "close",
          "swallow")


def summary(req):
    return tuple((f, getattr(req, f)) for f in FIELDS)


def drain(parser):
    out = []
    while True:
        req = parser.next_request()
        if req is None:
            return out
        out.append(req)


def parse_chunks(chunks, **kw):
    parser = McParser(**kw)
    out = []
    for chunk in chunks:
        parser.feed(chunk)
        out.extend(drain(parser))
    return out


def parse(data, **kw):
    return parse_chunks([data], **kw)


def one(data, **kw):
    reqs = parse(data, **kw)
    assert len(reqs) == 1, reqs
    return reqs[0]


def assert_split_invariant(data, **kw):
    """Same requests whole, one byte at a time, and split in two at every boundary."""
    whole = [summary(r) for r in parse(data, **kw)]
    bytewise = [summary(r) for r in parse_chunks([data[i:i + 1] for i in range(len(data))], **kw)]
    assert bytewise == whole
    for cut in range(1, len(data)):
        assert [summary(r) for r in parse_chunks([data[:cut], data[cut:]], **kw)] == whole, cut
    return whole


# --------------------------------------------------------------------------------------------
# valid text commands
# --------------------------------------------------------------------------------------------
def test_get_family():
    r = one(b"get a b c\r\n")
    assert (r.command, r.keys, r.name) == (mc.MC_GET, [b"a", b"b", b"c"], b"get")
    r = one(b"gets a\n")
    assert (r.command, r.keys) == (mc.MC_GETS, [b"a"])
    r = one(b"gat 100 a b\r\n")
    assert (r.command, r.exptime, r.keys) == (mc.MC_GAT, 100, [b"a", b"b"])
    r = one(b"gats -1 a\r\n")
    assert (r.command, r.exptime, r.keys) == (mc.MC_GATS, -1, [b"a"])
    # gat with no key is valid (memcached answers END)
    r = one(b"gat 1\r\n")
    assert (r.command, r.keys, r.error) == (mc.MC_GAT, [], None)
    # leading/multiple spaces, \r kept inside a key when the line ends in \r\r\n
    assert one(b"  get  a   b \r\n").keys == [b"a", b"b"]
    assert one(b"get a\r\r\n").keys == [b"a\r"]
    # NUL cuts the line (memcached uses strlen)
    assert one(b"get a\x00b c\r\n").keys == [b"a"]
    # control bytes are fine inside keys; noreply is just a key for get
    assert one(b"get \x01\x02 noreply\r\n").keys == [b"\x01\x02", b"noreply"]
    # bget is an ancient alias of get
    assert one(b"bget a\r\n").command == mc.MC_GET


def test_multiget_beyond_24_tokens_and_250_byte_keys():
    keys = [b"k%d" % i for i in range(100)]
    assert one(b"get " + b" ".join(keys) + b"\r\n").keys == keys
    assert one(b"get " + b"a" * 250 + b"\r\n").keys == [b"a" * 250]
    assert one(b"get a " + b"a" * 251 + b"\r\n").error == mc.ERR_BAD_FORMAT
    # a too long key after the first 23 tokens is still caught
    assert one(b"get " + b" ".join(keys[:30]) + b" " + b"z" * 251 + b"\r\n").error == mc.ERR_BAD_FORMAT


def test_storage_commands():
    r = one(b"set k 5 10 3\r\nabc\r\n")
    assert (r.command, r.keys, r.flags, r.exptime, r.value, r.noreply) == (
        mc.MC_SET, [b"k"], 5, 10, b"abc", False)
    for name, code in ((b"add", mc.MC_ADD), (b"replace", mc.MC_REPLACE), (b"append", mc.MC_APPEND),
                       (b"prepend", mc.MC_PREPEND)):
        r = one(name + b" k 0 0 1 noreply\r\nx\r\n")
        assert (r.command, r.value, r.noreply) == (code, b"x", True)
    r = one(b"cas k 1 2 2 99\r\nhi\r\n")
    assert (r.command, r.cas_unique, r.value) == (mc.MC_CAS, 99, b"hi")
    r = one(b"cas k 1 2 2 18446744073709551615 noreply\r\nhi\r\n")
    assert (r.cas_unique, r.noreply) == (2 ** 64 - 1, True)
    # value may contain \r\n and anything else; zero-length value
    assert one(b"set k 0 0 4\r\n\r\n\r\n\r\n").value == b"\r\n\r\n"
    assert one(b"set k 0 0 0\r\n\r\n").value == b""
    # C conversions as memcached: 32-bit truncation, leading '+', leading zeros, trailing tab
    assert one(b"set k 4294967297 0 1\r\nx\r\n").flags == 1
    assert one(b"set k 18446744073709551615 0 1\r\nx\r\n").flags == 4294967295
    assert one(b"set k 0 2147483648 1\r\nx\r\n").exptime == -2147483648
    assert one(b"set k 0 0 4294967297\r\nx\r\n").value == b"x"
    assert one(b"set k 0 0 +01\t\r\nx\r\n").value == b"x"
    # 'norepl' is not noreply
    assert one(b"set k 0 0 1 norepl\r\nx\r\n").noreply is False


def test_storage_waits_for_data():
    p = McParser()
    p.feed(b"set k 0 0 5\r\nab")
    assert p.next_request() is None
    p.feed(b"cde\r")
    assert p.next_request() is None
    p.feed(b"\nget k\r\n")
    assert p.next_request().value == b"abcde"
    assert p.next_request().keys == [b"k"]
    assert p.next_request() is None
    assert p.buffered == 0


def test_other_text_commands():
    r = one(b"delete k\r\n")
    assert (r.command, r.keys, r.noreply) == (mc.MC_DELETE, [b"k"], False)
    assert one(b"delete k noreply\r\n").noreply
    assert one(b"delete k 0\r\n").error is None
    assert one(b"delete k 0 noreply\r\n").noreply
    r = one(b"incr k 5\r\n")
    assert (r.command, r.delta) == (mc.MC_INCR, 5)
    r = one(b"decr k 18446744073709551615 noreply\r\n")
    assert (r.command, r.delta, r.noreply) == (mc.MC_DECR, 2 ** 64 - 1, True)
    # strtoull wraps big negative numbers that memcached then accepts
    assert one(b"incr k -18446744073709551615\r\n").delta == 1
    r = one(b"touch k 10 noreply\r\n")
    assert (r.command, r.exptime, r.noreply) == (mc.MC_TOUCH, 10, True)
    assert one(b"flush_all\r\n").delay == 0
    r = one(b"flush_all 10 noreply\r\n")
    assert (r.command, r.delay, r.noreply) == (mc.MC_FLUSH_ALL, 10, True)
    assert (one(b"flush_all noreply\r\n").delay, one(b"flush_all noreply\r\n").noreply) == (0, True)
    assert one(b"flush_all 5 junk\r\n").delay == 5   # extra token ignored, like memcached
    r = one(b"verbosity 1 noreply\r\n")
    assert (r.command, r.verbosity, r.noreply) == (mc.MC_VERBOSITY, 1, True)
    assert one(b"version\r\n").command == mc.MC_VERSION
    assert one(b"version x y\r\n").command == mc.MC_VERSION
    assert one(b"quit\r\n").command == mc.MC_QUIT
    r = one(b"stats\r\n")
    assert (r.command, r.stats_args) == (mc.MC_STATS, [])
    assert one(b"stats detail dump\r\n").args == [b"detail", b"dump"]
    r = one(b"shutdown graceful\r\n")
    assert (r.command, r.args) == (mc.MC_SHUTDOWN, [b"graceful"])
    r = one(b"cache_memlimit 100 noreply\r\n")
    assert (r.command, r.name, r.args, r.noreply) == (mc.MC_ADMIN, b"cache_memlimit", [b"100", b"noreply"], True)
    assert one(b"watch\r\n").command == mc.MC_ADMIN


# --------------------------------------------------------------------------------------------
# valid meta commands
# --------------------------------------------------------------------------------------------
def test_meta_get():
    r = one(b"mg key v f t s c k O123 q\r\n")
    assert r.command == mc.MC_MG and r.keys == [b"key"]
    assert list(r.meta_flags) == ["v", "f", "t", "s", "c", "k", "O", "q"]
    assert r.opaque == b"123" and r.noreply
    r = one(b"mg key T30 N60 R5 h l u\r\n")
    assert (r.has_ttl, r.exptime, r.vivify, r.autoviv_exptime, r.recache_time) == (True, 30, True, 60, 5)
    r = one(b"mg YWJj b k v\r\n")
    assert (r.keys, r.key_binary) == ([b"abc"], True)
    # memcached's decoder: padding ends decoding, junk bytes are skipped
    assert one(b"mg YQ==YQ== b\r\n").keys == [b"a"]
    assert one(b"mg YQ=x b\r\n").keys == [b"a\x00"]
    assert one(b"mg key\r\n").meta_flags == {}
    # flags only look at their first byte: "kk" is k
    assert list(one(b"mg key kk\r\n").meta_flags) == ["k"]


def test_meta_set_delete_arith_noop_debug():
    r = one(b"ms key 2 T10 F5 C7 MA I k c O9 q\r\nhi\r\n")
    assert (r.command, r.keys, r.value, r.exptime, r.flags, r.cas_unique, r.mode, r.opaque, r.noreply) == (
        mc.MC_MS, [b"key"], b"hi", 10, 5, 7, "A", b"9", True)
    assert r.has_cas and r.has_ttl
    r = one(b"ms YWJj 1 b\r\nx\r\n")
    assert (r.keys, r.key_binary, r.value) == ([b"abc"], True, b"x")
    r = one(b"md key q C5 I T30 O1 k\r\n")
    assert (r.command, r.cas_unique, r.noreply, r.exptime) == (mc.MC_MD, 5, True, 30)
    r = one(b"ma key\r\n")
    assert (r.command, r.delta, r.initial, r.mode) == (mc.MC_MA, 1, 0, "")
    r = one(b"ma key N0 J5 D3 MD v t c\r\n")
    assert (r.delta, r.initial, r.mode, r.vivify, r.autoviv_exptime) == (3, 5, "D", True, 0)
    assert one(b"mn\r\n").command == mc.MC_MN
    assert one(b"mn a b\r\n").command == mc.MC_MN
    r = one(b"me key\r\n")
    assert (r.command, r.keys) == (mc.MC_ME, [b"key"])
    r = one(b"me YQ== b\r\n")
    assert (r.keys, r.key_binary) == ([b"a"], True)


# --------------------------------------------------------------------------------------------
# errors, swallowing, closing
# --------------------------------------------------------------------------------------------
ERROR_CASES = [
    # (input, [(error line, noreply)], close)
    (b"foo\r\n", [(b"ERROR\r\n", False)], False),
    (b"\r\n", [(b"ERROR\r\n", False)], False),
    (b"\n", [(b"ERROR\r\n", False)], False),
    (b"g\r\n", [(b"ERROR\r\n", False)], False),
    (b"get\r\n", [(b"ERROR\r\n", False)], False),
    (b"GET a\r\n", [(b"ERROR\r\n", False)], False),
    (b"get\ta\r\n", [(b"ERROR\r\n", False)], False),
    (b"set a 0 0\r\n", [(b"ERROR\r\n", False)], False),
    (b"set a 0 0 1 2 3\r\n", [(b"ERROR\r\n", False)], False),
    (b"set a x 0 1\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"set a -1 0 1\r\nx\r\n", [(mc.ERR_BAD_FORMAT, False), (b"ERROR\r\n", False)], False),
    (b"set a 0 0 -1\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"set a 0 0 1x\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"set a 0 0 noreply\r\n", [(mc.ERR_BAD_FORMAT, True)], False),
    (b"set a 0 0 1\r\nab\r\n", [(mc.ERR_BAD_CHUNK, False), (b"ERROR\r\n", False)], False),
    (b"set a 0 0 1\nabc\r\n", [(mc.ERR_BAD_CHUNK, False), (b"ERROR\r\n", False)], False),
    (b"set a 0 0 1 noreply\r\nxy\r\n", [(mc.ERR_BAD_CHUNK, True), (b"ERROR\r\n", False)], False),
    (b"set " + b"a" * 251 + b" 0 0 1 noreply\r\nx\r\n", [(mc.ERR_BAD_FORMAT, True), (b"ERROR\r\n", False)], False),
    (b"cas a 0 0 1\r\nx\r\n", [(b"ERROR\r\n", False), (b"ERROR\r\n", False)], False),
    (b"cas a 0 0 1 -1\r\nx\r\n", [(mc.ERR_BAD_FORMAT, False), (b"ERROR\r\n", False)], False),
    (b"incr a\r\n", [(b"ERROR\r\n", False)], False),
    (b"incr a x\r\n", [(mc.ERR_BAD_DELTA, False)], False),
    (b"incr a -1\r\n", [(mc.ERR_BAD_DELTA, False)], False),
    (b"incr a 18446744073709551616\r\n", [(mc.ERR_BAD_DELTA, False)], False),
    (b"incr a x noreply\r\n", [(mc.ERR_BAD_DELTA, True)], False),
    (b"decr " + b"a" * 251 + b" 1\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"touch a\r\n", [(b"ERROR\r\n", False)], False),
    (b"touch a x\r\n", [(mc.ERR_BAD_EXPTIME, False)], False),
    (b"gat x a\r\n", [(mc.ERR_BAD_EXPTIME, False)], False),
    (b"gats\r\n", [(b"ERROR\r\n", False)], False),
    (b"delete\r\n", [(b"ERROR\r\n", False)], False),
    (b"delete a 1\r\n", [(mc.ERR_DELETE_USAGE, False)], False),
    (b"delete a 0 x\r\n", [(mc.ERR_DELETE_USAGE, False)], False),
    (b"delete a 1 noreply\r\n", [(mc.ERR_DELETE_USAGE, True)], False),
    (b"delete a noreply extra\r\n", [(mc.ERR_DELETE_USAGE, False)], False),
    (b"delete a b c d\r\n", [(b"ERROR\r\n", False)], False),
    (b"flush_all x\r\n", [(mc.ERR_BAD_EXPTIME, False)], False),
    (b"flush_all x noreply\r\n", [(mc.ERR_BAD_EXPTIME, True)], False),
    (b"flush_all 1 2 3\r\n", [(b"ERROR\r\n", False)], False),
    (b"verbosity\r\n", [(b"ERROR\r\n", False)], False),
    (b"verbosity x\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"verbosity 1 2 3\r\n", [(b"ERROR\r\n", False)], False),
    (b"get " + b"a" * 251 + b"\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"set a 0 0 1 b c d e f g h i j k l m n o p q r s t u v w x y z\r\n", [(b"ERROR\r\n", False)], False),
    (b"lru\r\n", [(b"ERROR\r\n", False)], False),
    (b"cache_memlimit\r\n", [(b"ERROR\r\n", False)], False),
    (b"misbehave\r\n", [(b"ERROR\r\n", False)], False),
    (b"debugtime 1\r\n", [(b"ERROR\r\n", False)], False),
    # meta
    (b"m\r\n", [(b"ERROR\r\n", False)], False),
    (b"mx a\r\n", [(b"ERROR\r\n", False)], False),
    (b"mg\r\n", [(b"ERROR\r\n", False)], False),
    (b"mg a v v\r\n", [(mc.ERR_META_DUP, False)], False),
    (b"mg a z\r\n", [(mc.ERR_META_INVALID, False)], False),
    (b"mg a \x80\r\n", [(mc.ERR_META_DUP, False)], False),
    (b"mg a S3\r\n", [(mc.ERR_META_INVALID, False)], False),
    (b"mg a E1\r\n", [(mc.ERR_META_INVALID, False)], False),
    (b"mg a O" + b"1" * 32 + b"\r\n", [(mc.ERR_META_OPAQUE, False)], False),
    (b"mg a Tx\r\n", [(mc.ERR_META_BAD_TOKEN, False)], False),
    (b"mg a N\r\n", [(mc.ERR_META_BAD_TOKEN, False)], False),
    (b"mg a R1x\r\n", [(mc.ERR_META_BAD_TOKEN, False)], False),
    (b"mg a q Tx\r\n", [(mc.ERR_META_BAD_TOKEN, False)], False),
    (b"mg a F1 C1 M J D I\r\n", [(mc.ERR_META_DELTA, False)], False),
    (b"mg a MXY\r\n", [(mc.ERR_META_M_LENGTH, False)], False),
    (b"mg a Jx\r\n", [(mc.ERR_META_INITIAL, False)], False),
    (b"mg a Fx\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"mg a b Tx\r\n", [(mc.ERR_META_BAD_TOKEN, False)], False),
    (b"mg a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\r\n", [(mc.ERR_MG_TOO_MANY, False)], False),
    (b"mg YQ b k\r\n", [(mc.ERR_META_DECODE_KEY, False)], False),
    (b"mg YW-j b k\r\n", [(mc.ERR_META_DECODE_KEY, False)], False),
    (b"mg " + b"a" * 251 + b" v\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"ms a\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"ms a b\r\nxx\r\n", [(mc.ERR_BAD_FORMAT, False), (b"ERROR\r\n", False)], False),
    (b"ms a S1 T0\r\nx\r\n", [(mc.ERR_BAD_FORMAT, False), (b"ERROR\r\n", False)], False),
    (b"ms a -1\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"ms " + b"a" * 251 + b" 1\r\nx\r\n", [(mc.ERR_BAD_FORMAT, False), (b"ERROR\r\n", False)], False),
    (b"ms a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\r\nx\r\n", [(mc.ERR_META_TOO_MANY, False), (b"ERROR\r\n", False)], False),
    (b"ms a 1 MX\r\nx\r\n", [(mc.ERR_MS_MODE, False)], False),
    (b"ms a 1 MEE\r\nx\r\n", [(mc.ERR_META_M_LENGTH, False)], False),
    (b"ms a 1 z q\r\nx\r\n", [(mc.ERR_META_INVALID, False)], False),
    (b"ms a 1 Fx\r\nx\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"ms a 1 F1 F2\r\nx\r\n", [(mc.ERR_META_DUP, False)], False),
    (b"ms a 1 C1x\r\nx\r\n", [(mc.ERR_META_BAD_TOKEN, False)], False),
    (b"ms a 1 b\r\nx\r\n", [(mc.ERR_META_DECODE_KEY, False)], False),
    (b"ms a 1 O" + b"1" * 33 + b"\r\nx\r\n", [(mc.ERR_META_OPAQUE, False)], False),
    (b"ms a 1 O" + b"1" * 33 + b" MX\r\nx\r\n", [(mc.ERR_MS_MODE, False)], False),
    (b"ms a 1 q\r\nxy\r\n", [(mc.ERR_BAD_CHUNK, False), (b"ERROR\r\n", False)], False),
    (b"md\r\n", [(b"ERROR\r\n", False)], False),
    (b"md a z\r\n", [(mc.ERR_INVALID_OR_DUP, False)], False),
    (b"md a C1 C2\r\n", [(mc.ERR_INVALID_OR_DUP, False)], False),
    (b"md a q O" + b"1" * 33 + b"\r\n", [(mc.ERR_META_OPAQUE, False)], False),
    (b"md a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\r\n", [(mc.ERR_META_TOO_MANY, False)], False),
    (b"ma a MX\r\n", [(mc.ERR_MA_MODE, False)], False),
    (b"ma a Dx\r\n", [(mc.ERR_INVALID_OR_DUP, False)], False),
    (b"ma a Jx q\r\n", [(mc.ERR_INVALID_OR_DUP, False)], False),
    (b"me\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    (b"me a b\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
    # connection closers
    (b"GET / HTTP/1.0\r\n", [], True),
    (b"PUT /asdf/asd/fasdfasdf/sadf HTTP/1.1\r\n", [], True),
    (b"DELETE HTTP/1.1\r\n", [], True),
    (b"HTTP/1.1\r\n", [], True),
    (b"foo HTTP/\n", [], True),
    (b"x1 b c d e f g h i j k l m n o p q r s t u v HTTP/1.0 x\r\n", [], True),
    (b"x" * 2049, [], True),
    (b" " * 101 + b"get " + b"a" * 2100, [], True),
    (b"gat 0 " + b"a" * 2100, [], True),
]
# memcached would switch to its binary protocol on a leading 0x80; the codec closes instead
BINARY_CASES = [(b"\x80\x00\x00\x00", [], True)]
# HTTP/ only closes for commands that fall through memcached's whole dispatch chain
NOT_CLOSING = [
    (b"gxx / HTTP/1.0\r\n", [(b"ERROR\r\n", False)], False),
    (b"sxx / HTTP/1.0\r\n", [(b"ERROR\r\n", False)], False),
    (b"mx / HTTP/1.0\r\n", [(b"ERROR\r\n", False)], False),
    (b"x HTTP/1.0\r\n", [(b"ERROR\r\n", False)], False),
    (b"foo HTTP\r\n", [(b"ERROR\r\n", False)], False),
    (b"foo http/1.1\r\n", [(b"ERROR\r\n", False)], False),
    (b"foo HTTP/1.1 x\r\n", [(b"ERROR\r\n", False)], False),
    (b"x1 b c d e f g h i j k l m n o p q r s t u v w HTTP/1.0\r\n", [(b"ERROR\r\n", False)], False),
    (b"verbosity HTTP/1.0\r\n", [(mc.ERR_BAD_FORMAT, False)], False),
]


@pytest.mark.parametrize("data,errors,close", ERROR_CASES + NOT_CLOSING + BINARY_CASES)
def test_error_lines(data, errors, close):
    reqs = assert_split_invariant(data) if len(data) < 400 else [summary(r) for r in parse(data)]
    got = [(dict(r)["error"], dict(r)["noreply"]) for r in reqs if dict(r)["error"] is not None]
    assert got == errors
    assert [dict(r)["close"] for r in reqs].count(True) == (1 if close else 0)
    assert all(dict(r)["error"] is not None or dict(r)["close"] for r in reqs)


def test_incomplete_line_limits():
    p = McParser()
    p.feed(b"x" * 2048)
    assert p.next_request() is None and not p.closed
    p.feed(b"x")
    assert p.next_request().close and p.closed
    p.feed(b"get a\r\n")          # input after close is ignored
    assert p.next_request() is None
    # a huge multiget without newline is buffered, memcached allows it
    p = McParser()
    keys = b" ".join(b"k%d" % i for i in range(30000))
    p.feed(b" " * 100 + b"gets " + keys)
    assert p.next_request() is None and not p.closed
    p.feed(b"\r\n")
    assert len(p.next_request().keys) == 30000


def test_too_large_is_swallowed():
    # 56 + nkey + 1 + (4 if flags) + bytes + 2 must fit in max_item_size (memcached's item_size_ok)
    assert one(b"set k 0 0 1048516\r\n" + b"x" * 1048516 + b"\r\n").value == b"x" * 1048516
    reqs = parse(b"set k 0 0 1048517\r\n" + b"x" * 1048517 + b"\r\nversion\r\n")
    assert [(r.error, r.swallow, r.command) for r in reqs] == [
        (mc.ERR_TOO_LARGE, 1048519, mc.MC_SET), (None, 0, mc.MC_VERSION)]   # SET: the old item is unlinked
    assert one(b"set k 5 0 1048513\r\n" + b"x" * 1048513 + b"\r\n").error == mc.ERR_TOO_LARGE
    reqs = parse(b"set k 0 0 100 noreply\r\n" + b"y" * 102 + b"version\r\n", max_item_size=100)
    assert [(r.error, r.noreply) for r in reqs] == [(mc.ERR_TOO_LARGE, True), (None, False)]
    # swallowed bytes split across feeds, byte by byte
    data = b"ms k 50 T0\r\n" + b"z" * 52 + b"mn\r\n"
    whole = assert_split_invariant(data, max_item_size=64)
    assert [dict(r)["error"] for r in whole] == [mc.ERR_TOO_LARGE, None]


VALID_STREAM = (b"get a b\r\ngets c\nset k 1 2 3\r\na\r\n\r\nadd k 0 0 0 noreply\r\n\r\n"
                b"cas k 0 0 1 5\r\nx\r\nincr k 1\r\ndecr k 2 noreply\r\ntouch k 3\r\ndelete k\r\n"
                b"flush_all 0\r\nversion\r\nverbosity 1\r\nstats items\r\nmg k v c O1\r\n"
                b"ms k 2 MS c\r\nhi\r\nmd k q\r\nma k MD D5\r\nmn\r\nme k\r\nquit\r\n")


def test_split_invariance_of_a_pipelined_stream():
    reqs = assert_split_invariant(VALID_STREAM)
    assert [dict(r)["command"] for r in reqs] == [
        mc.MC_GET, mc.MC_GETS, mc.MC_SET, mc.MC_ADD, mc.MC_CAS, mc.MC_INCR, mc.MC_DECR, mc.MC_TOUCH,
        mc.MC_DELETE, mc.MC_FLUSH_ALL, mc.MC_VERSION, mc.MC_VERBOSITY, mc.MC_STATS, mc.MC_MG, mc.MC_MS,
        mc.MC_MD, mc.MC_MA, mc.MC_MN, mc.MC_ME, mc.MC_QUIT]
    assert all(dict(r)["error"] is None for r in reqs)


def test_feed_accepts_buffers():
    p = McParser()
    p.feed(bytearray(b"get a\r\n"))
    p.feed(memoryview(b"get b\r\n"))
    assert [r.keys for r in drain(p)] == [[b"a"], [b"b"]]


def test_base64_helper():
    assert mc.base64_decode_key(b"YWJj") == b"abc"
    assert mc.base64_decode_key(b"YQ") is None


# --------------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------------
def test_text_writers():
    assert mc.write_value(b"k", 5, b"abc") == b"VALUE k 5 3\r\nabc\r\n"
    assert mc.write_value(b"k", 0, b"", 7) == b"VALUE k 0 0 7\r\n\r\n"
    assert mc.write_get_response([(b"a", 1, b"x", 3), (b"b", 0, b"yz", 4)], True) == (
        b"VALUE a 1 1 3\r\nx\r\nVALUE b 0 2 4\r\nyz\r\nEND\r\n")
    assert mc.write_get_response([]) == b"END\r\n"
    assert mc.write_number(18446744073709551615) == b"18446744073709551615\r\n"
    assert mc.write_version() == b"VERSION 1.6.18\r\n"
    assert mc.write_stats([("pid", 1), (b"version", b"1.6.18")]) == b"STAT pid 1\r\nSTAT version 1.6.18\r\nEND\r\n"


def test_meta_writers():
    r = one(b"mg key v f t s c k O123 q\r\n")
    assert mc.write_mg_hit(r, b"a", 0, 1, -1) == b"VA 1 f0 t-1 s1 c1 kkey O123\r\na\r\n"
    assert mc.write_mg_miss(r) == b""
    r = one(b"mg YQ== b k O1 h l\r\n")
    assert mc.write_mg_hit(r, b"x", 0, 9, 10, last_access=3, fetched=True, won=True, stale=True,
                           token_sent=True) == b"HD kYQ== b O1 h1 l3 Z X W\r\n"
    assert mc.write_mg_miss(r) == b"EN kYQ== b O1\r\n"
    r = one(b"ms key 1 c k O9\r\nx\r\n")
    assert mc.write_ms_result(r, b"HD", 2) == b"HD c2 kkey O9\r\n"
    r = one(b"ms key 1 q O9\r\nx\r\n")
    assert mc.write_ms_result(r, b"HD") == b"" and mc.write_ms_result(r, b"NS") == b"NS O9\r\n"
    r = one(b"md key O1 k q\r\n")
    assert mc.write_md_result(r, b"HD") == b"" and mc.write_md_result(r, b"NF") == b"NF O1 kkey\r\n"
    r = one(b"ma key N0 J5 v t c\r\n")
    assert mc.write_ma_result(r, b"HD", 5, cas=4, ttl=-1) == b"VA 1 t-1 c4\r\n5\r\n"
    assert mc.write_ma_result(r, b"NF") == b"NF\r\n"
    assert mc.write_me(b"a", False, -1, 0, 5, False, 1, 61) == (
        b"ME a exp=-1 la=0 cas=5 fetch=no cls=1 size=61\r\n")


# --------------------------------------------------------------------------------------------
# differential check against a live memcached
# --------------------------------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def memcached():
    binary = shutil.which("memcached")
    if binary is None:
        pytest.skip("memcached not installed")
    port = _free_port()
    cmd = [binary, "-p", str(port), "-l", "127.0.0.1", "-t", "1", "-U", "0"]
    if os.geteuid() == 0:
        cmd += ["-u", "root"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("memcached did not start")
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


def talk(port, data, until=b"MN\r\n", timeout=3.0):
    """Send data; read until the reply ends with `until` or the server closes. -> (reply, closed)"""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                return out, True
            out += chunk
            if until and out.endswith(until):
                return out, False
        return out, False
    finally:
        s.close()


def expected_reply(data):
    """What our codec says memcached answers to a stream of malformed lines + version/mn."""
    out = b""
    for req in parse(data):
        if req.error is not None:
            if not req.noreply:
                out += req.error
        elif req.command == mc.MC_VERSION:
            out += b"VERSION 1.6.18\r\n"
        elif req.command == mc.MC_MN:
            out += b"MN\r\n"
        elif not req.close:
            raise AssertionError("unexpected valid request %r" % req)
        if req.close:
            return out, True
    return out, False


@pytest.mark.parametrize("data,errors,close", ERROR_CASES + NOT_CLOSING)
def test_differential_error_lines(memcached, data, errors, close):
    stream = data if close else data + b"version\r\nmn\r\n"
    expected = expected_reply(stream)
    assert talk(memcached, stream, until=None if close else b"MN\r\n") == expected


def test_differential_too_large(memcached):
    stream = (b"set k 0 0 1048517\r\n" + b"x" * 1048517 + b"\r\n"
              b"ms k 2000000 q\r\n" + b"x" * 2000000 + b"\r\nmn\r\n")
    assert talk(memcached, stream) == expected_reply(stream)


def test_differential_meta_replies(memcached):
    reply, _ = talk(memcached, b"set dk 0 0 1\r\na\r\nmg dk v f t s c k O123 q\r\nmn\r\n")
    head = reply.split(b"\r\n")[1]
    cas = int([t for t in head.split() if t.startswith(b"c")][0][1:])
    req = one(b"mg dk v f t s c k O123 q\r\n")
    assert reply == b"STORED\r\n" + mc.write_mg_hit(req, b"a", 0, cas, -1) + b"MN\r\n"

    reply, _ = talk(memcached, b"mg nokey k O5\r\nmg nokey q\r\nmn\r\n")
    assert reply == (mc.write_mg_miss(one(b"mg nokey k O5\r\n")) + mc.write_mg_miss(one(b"mg nokey q\r\n"))
                     + b"MN\r\n")

    reply, _ = talk(memcached, b"ms YWJj 1 c k O9 b\r\nx\r\nmn\r\n")
    cas = int(reply.split()[1][1:])
    assert reply == mc.write_ms_result(one(b"ms YWJj 1 c k O9 b\r\nx\r\n"), b"HD", cas) + b"MN\r\n"

    reply, _ = talk(memcached, b"md dk q\r\nmd dk O1 k q\r\nmn\r\n")
    assert reply == (mc.write_md_result(one(b"md dk q\r\n"), b"HD")
                     + mc.write_md_result(one(b"md dk O1 k q\r\n"), b"NF") + b"MN\r\n")

    reply, _ = talk(memcached, b"ma dn N0 J5 v t c\r\nmn\r\n")
    cas = int(reply.split(b"\r\n")[0].split()[-1][1:])
    assert reply == mc.write_ma_result(one(b"ma dn N0 J5 v t c\r\n"), b"HD", 5, cas=cas, ttl=-1) + b"MN\r\n"

    reply, _ = talk(memcached, b"set g 3 0 2\r\nhi\r\ngets g nokey\r\nmn\r\n")
    cas = int(reply.split(b"\r\n")[1].split()[-1])
    assert reply == b"STORED\r\n" + mc.write_get_response([(b"g", 3, b"hi", cas)], True) + b"MN\r\n"
