"""RESP request parser and reply encoder: whole, split at every byte boundary, 1 byte at a time,
malformed input, and the reply encoder checked by hiredis (RESP2 and RESP3)."""
import hiredis
import pytest
from hypothesis import given, settings, strategies as st

from protocol.resp import RespParser, ReplyBuffer, split_args, parse_ll

STREAM = (b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n"
          b"PING\r\n"
          b"ECHO \"a b\\x41\\n\" 'c d'\r\n"
          b"\r\n"
          b"*0\r\n"
          b"*-1\r\n"
          b"*1\r\n$0\r\n\r\n"
          b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
EXPECTED = [[b"SET", b"key", b"va\r\nl"], [b"PING"], [b"ECHO", b"a bA\n", b"c d"], [b""], [b"GET", b"key"]]


def drain(parser):
    out = []
    while True:
        argv = parser.next_argv()
        if argv is None or argv is False:
            return out, argv
        out.append(argv)


def feed_chunks(chunks):
    p = RespParser()
    got = []
    for chunk in chunks:
        p.feed(chunk)
        commands, last = drain(p)
        got.extend(commands)
        assert last is None
    return got


def test_whole():
    assert feed_chunks([STREAM]) == EXPECTED


def test_one_byte_at_a_time():
    assert feed_chunks([STREAM[i:i + 1] for i in range(len(STREAM))]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_every_split_point(cut):
    assert feed_chunks([STREAM[:cut], STREAM[cut:]]) == EXPECTED


@pytest.mark.parametrize("payload,message", [
    (b"*1\r\n$-5\r\n", b"invalid bulk length"),
    (b"*1\r\n$abc\r\n", b"invalid bulk length"),
    (b"*1\r\n$536870913\r\n", b"invalid bulk length"),
    (b"*2147483648\r\n", b"invalid multibulk length"),
    (b"*abc\r\n", b"invalid multibulk length"),
    (b"*1\r\n:5\r\n", b"expected '$', got ':'"),
    (b"*1\r\n*1\r\n", b"expected '$', got '*'"),
    (b'SET "a b\r\n', b"unbalanced quotes in request"),
    (b"x" * (64 * 1024 + 1), b"too big inline request"),
    (b"*" + b"1" * (64 * 1024 + 1), b"too big mbulk count string"),
    (b"*1\r\n$" + b"1" * (64 * 1024 + 1), b"too big bulk count string"),
])
def test_malformed(payload, message):
    # the error is found however the bytes arrive
    for chunks in ([payload], [payload[i:i + 7] for i in range(0, len(payload), 7)]):
        p = RespParser()
        last = None
        for chunk in chunks:
            p.feed(chunk)
            _, last = drain(p)
            if last is False:
                break
        assert last is False
        assert p.error.message == message and p.error.reply


def test_commands_before_an_error_are_returned():
    p = RespParser()
    p.feed(b"PING\r\n*1\r\n$-5\r\n")
    assert p.next_argv() == [b"PING"]
    assert p.next_argv() is False


def test_unauthenticated_limits():
    p = RespParser()
    p.auth_required = True
    p.feed(b"*11\r\n")
    assert p.next_argv() is False and p.error.message == b"unauthenticated multibulk length"
    p = RespParser()
    p.auth_required = True
    p.feed(b"*1\r\n$16385\r\n")
    assert p.next_argv() is False and p.error.message == b"unauthenticated bulk length"


def test_query_buffer_limit_closes_silently():
    p = RespParser(query_buffer_limit=1000)
    p.feed(b"*1\r\n$2000\r\n" + b"x" * 1500)
    assert p.next_argv() is False
    assert not p.error.reply


def test_large_bulk_in_many_pieces():
    value = bytes(range(256)) * 4096       # 1 MiB with every byte value
    payload = b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" % (len(value), value)
    p = RespParser()
    got = []
    for i in range(0, len(payload), 65536):
        p.feed(payload[i:i + 65536])
        got.extend(drain(p)[0])
    assert got == [[b"ECHO", value]]


def test_split_args_like_sdssplitargs():
    assert split_args(b'set "a\\tb" \'x\\\'y\'') == [b"set", b"a\tb", b"x'y"]
    assert split_args(b'"\\x4' + b'1"') == [b"A"]
    assert split_args(b'"a"b') is None
    assert split_args(b"  ") == []


@pytest.mark.parametrize("text,value", [(b"0", 0), (b"-1", -1), (b"01", None), (b"+1", None), (b" 1", None),
                                        (b"9223372036854775807", 2 ** 63 - 1), (b"9223372036854775808", None),
                                        (b"-9223372036854775808", -2 ** 63), (b"", None), (b"-", None)])
def test_string2ll(text, value):
    assert parse_ll(text) == value


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=6), min_size=1, max_size=8),
       st.integers(min_value=1, max_value=50))
def test_roundtrip_any_argv(commands, chunk):
    payload = b"".join(b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)
                       for argv in commands)
    assert feed_chunks([payload[i:i + chunk] for i in range(0, len(payload), chunk)]) == commands


def decode(data, resp):
    reader = hiredis.Reader(notEnoughData=None) if resp == 2 else hiredis.Reader()
    reader.feed(data)
    out = []
    while True:
        item = reader.gets()
        if item is False or item is None:
            return out
        out.append(item)


@pytest.mark.parametrize("resp", [2, 3])
def test_reply_buffer_parsed_back_by_hiredis(resp):
    r = ReplyBuffer()
    r.resp = resp
    r.add_ok()
    r.add_int(-42)
    r.add_bulk(b"bulk\r\nwith crlf")
    r.add_bulk_list([b"a", None, b"c"])
    r.add_map_len(1)
    r.add_bulk(b"k")
    r.add_int(1)
    r.add_double(1.5)
    r.add_bool(True)
    data = r.take()
    items = decode(data, resp)
    assert items[0] == b"OK" and items[1] == -42 and items[2] == b"bulk\r\nwith crlf"
    assert items[3] == [b"a", None, b"c"]
    if resp == 2:
        assert items[4:] == [[b"k", 1], b"1.5", 1]
    else:
        assert items[4:] == [{b"k": 1}, 1.5, True]


def test_resp_specific_shapes():
    r = ReplyBuffer()
    r.add_null()
    r.add_null_array()
    r.add_double(float("inf"))
    r.add_double(1.1)
    assert r.take() == b"$-1\r\n*-1\r\n$3\r\ninf\r\n$18\r\n1.1000000000000001\r\n"
    r.resp = 3
    r.add_null()
    r.add_null_array()
    r.add_double(float("-inf"))
    r.add_set_len(2)
    r.add_push_len(3)
    r.add_verbatim(b"hi")
    assert r.take() == b"_\r\n_\r\n,-inf\r\n~2\r\n>3\r\n=6\r\ntxt:hi\r\n"


def test_error_replies_never_contain_newlines():
    r = ReplyBuffer()
    r.add_error(b"ERR bad\r\nthing")
    assert r.take() == b"-ERR bad  thing\r\n"
