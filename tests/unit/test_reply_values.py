"""engine/reply.py add_value: nested Python values as RESP2 / RESP3, the wire types redis's addReply* use."""
import pytest

from engine.reply import add_value
from protocol.resp import ReplyBuffer


class Err:
    def as_resp_error(self):
        return b"QueueDoesNotExist no such queue"


def encode(value, resp):
    r = ReplyBuffer()
    r.resp = resp
    add_value(r, value)
    return r.take()


@pytest.mark.parametrize("value,resp2,resp3", [
    (None, b"$-1\r\n", b"_\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (False, b":0\r\n", b"#f\r\n"),
    (7, b":7\r\n", b":7\r\n"),
    (-3, b":-3\r\n", b":-3\r\n"),
    (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (float("inf"), b"$3\r\ninf\r\n", b",inf\r\n"),
    (b"raw", b"$3\r\nraw\r\n", b"$3\r\nraw\r\n"),
    ("h\u00e9", b"$3\r\nh\xc3\xa9\r\n", b"$3\r\nh\xc3\xa9\r\n"),
    ([], b"*0\r\n", b"*0\r\n"),
    ((1, "a"), b"*2\r\n:1\r\n$1\r\na\r\n", b"*2\r\n:1\r\n$1\r\na\r\n"),
    ({}, b"*0\r\n", b"%0\r\n"),
    ({"k": None, b"b": [True]}, b"*4\r\n$1\r\nk\r\n$-1\r\n$1\r\nb\r\n*1\r\n:1\r\n",
     b"%2\r\n$1\r\nk\r\n_\r\n$1\r\nb\r\n*1\r\n#t\r\n"),
    ({1: 2}, b"*2\r\n$1\r\n1\r\n:2\r\n", b"%1\r\n$1\r\n1\r\n:2\r\n"),
    ([Err(), 1], b"*2\r\n-QueueDoesNotExist no such queue\r\n:1\r\n",
     b"*2\r\n-QueueDoesNotExist no such queue\r\n:1\r\n"),
])
def test_wire_types(value, resp2, resp3):
    assert encode(value, 2) == resp2
    assert encode(value, 3) == resp3


def test_surrogates_and_other_objects():
    assert encode("\udcff", 2) == b"$3\r\n\xed\xb3\xbf\r\n"     # surrogatepass, never an exception
    assert encode(ValueError("x"), 2) == b"$1\r\nx\r\n"        # str() of anything else
    assert encode({"a": {"b": {"c": [0.25]}}}, 3) == b"%1\r\n$1\r\na\r\n%1\r\n$1\r\nb\r\n%1\r\n$1\r\nc\r\n*1\r\n,0.25\r\n"
