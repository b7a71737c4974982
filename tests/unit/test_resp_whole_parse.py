"""The one-pass multibulk parse (RespParser._parse_whole, issue 20) gives what the incremental parser gives:
every odd-but-accepted and every refused form falls back to it, so whole buffers and one byte at a time agree;
argv[0] is one bytes object while the command repeats."""
import pytest

from protocol.resp import RespParser


def parse_all(chunks):
    p = RespParser()
    out = []
    for chunk in chunks:
        p.feed(chunk)
        while True:
            argv = p.next_argv()
            if argv is None:
                break
            if argv is False:
                out.append(("error", p.error.message, p.error.reply))
                return out
            out.append(argv)
    return out


CASES = [
    b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n",                       # empty bulk
    b"*1\r\n$4\r\nPING\r\n",
    b"*2\r\n$3\r\nGET\r\n$3\r\nk\x00y\r\n",                   # NUL inside a bulk
    b"*2\r\n$3\r\nGET\r\n$3\r\nkeyXY",                        # bytes after a bulk are skipped, not checked
    b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
    b"*02\r\n$3\r\nGET\r\n$3\r\nkey\r\n",                     # leading zero in the count
    b"*2\r\n$03\r\nGET\r\n$3\r\nkey\r\n",                     # leading zero in a length
    b"*2\r\n$3\rXGET\r\n$3\r\nkey\r\n",                      # \r not followed by \n
    b"*2\r\n$-1\r\n",
    b"*2\r\n:3\r\nGET\r\n",
    b"*1000\r\n" + b"$1\r\nx\r\n" * 1000,                    # more than 64 arguments
    b"*64\r\n" + b"$1\r\nx\r\n" * 64,
    b"*65\r\n" + b"$1\r\nx\r\n" * 65,
    b"*1\r\n$536870913\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n*1\r\n$4\r\nPING\r\n",
]


@pytest.mark.parametrize("payload", CASES)
def test_whole_equals_bytewise(payload):
    whole = parse_all([payload])
    assert whole == parse_all([payload[i:i + 1] for i in range(len(payload))])
    for cut in range(1, len(payload), max(1, len(payload) // 40)):
        assert whole == parse_all([payload[:cut], payload[cut:]])


def test_unauthenticated_limits_still_apply():
    p = RespParser()
    p.auth_required = True
    p.feed(b"*11\r\n" + b"$1\r\nx\r\n" * 11)
    assert p.next_argv() is False and p.error.message == b"unauthenticated multibulk length"


def test_command_name_object_is_reused():
    p = RespParser()
    p.feed(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*2\r\n$3\r\nget\r\n$1\r\nc\r\n")
    a, b, c = p.next_argv(), p.next_argv(), p.next_argv()
    assert a == [b"GET", b"a"] and b == [b"GET", b"b"] and c == [b"get", b"c"]
    assert a[0] is b[0] and c[0] is not a[0]
    assert hash(a[1]) == hash(bytes(bytearray(b"a")))
