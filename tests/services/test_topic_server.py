"""TOPIC.* against the real server: fan-out to queues and channels, filter policies, raw vs envelope, FIFO."""
import json
import time

import pytest
import redis

from services.queue.topics import check_policy, policy_matches, PolicyError
from tests.support.servers import start_cachemere


@pytest.fixture(scope="module")
def srv():
    s = start_cachemere("--appendonly", "yes")
    yield s
    s.stop()


@pytest.fixture
def r(srv):
    conn = redis.Redis(port=srv.port)
    conn.flushall()
    yield conn
    conn.close()


def x(r, *a):
    return r.execute_command(*a)


def err(r, *a):
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command(*a)
    return str(ei.value)


def test_fanout_raw_envelope_filter_and_channel(r, srv):
    assert x(r, "TOPIC.CREATE", "orders") == b"OK"
    assert r.type("orders") == b"topic"
    for k in ("all", "raw", "big"):
        x(r, "QUEUE.CREATE", k)
    sa = x(r, "TOPIC.SUBSCRIBE", "orders", "QUEUE", "all")
    assert sa.startswith(b"arn:aws:sns:us-east-1:000000000000:orders:")
    assert x(r, "TOPIC.SUBSCRIBE", "orders", "QUEUE", "all") == sa                 # same subscription again
    x(r, "TOPIC.SUBSCRIBE", "orders", "QUEUE", "raw", "RAW")
    x(r, "TOPIC.SUBSCRIBE", "orders", "QUEUE", "big", "RAW", "FILTER",
      json.dumps({"amount": [{"numeric": [">=", 100]}], "kind": ["book", {"prefix": "e-"}]}))
    x(r, "TOPIC.SUBSCRIBE", "orders", "CHANNEL", "orders-feed", "RAW")
    ps = redis.Redis(port=srv.port).pubsub()
    ps.subscribe("orders-feed")
    ps.get_message(timeout=1)
    rep = x(r, "TOPIC.PUBLISH", "orders", "small", "SUBJECT", "s", "ATTR", "amount", "Number", "5",
            "ATTR", "kind", "String", "book")
    x(r, "TOPIC.PUBLISH", "orders", "large", "ATTR", "amount", "Number", "500", "ATTR", "kind", "String", "e-book")
    [m1, m2] = x(r, "QUEUE.RECV", "all", "COUNT", "10")
    env = json.loads(m1[b"Body"])
    assert env["Type"] == "Notification" and env["Message"] == "small" and env["Subject"] == "s"
    assert env["MessageId"] == rep[b"MessageId"].decode()
    assert env["MessageAttributes"]["amount"] == {"Type": "Number", "Value": "5"}
    raw = x(r, "QUEUE.RECV", "raw", "COUNT", "10")
    assert [m[b"Body"] for m in raw] == [b"small", b"large"]
    assert raw[0][b"MessageAttributes"][b"kind"][b"StringValue"] == b"book"
    assert [m[b"Body"] for m in x(r, "QUEUE.RECV", "big", "COUNT", "10")] == [b"large"]
    got = []
    deadline = time.time() + 2
    while len(got) < 2 and time.time() < deadline:
        msg = ps.get_message(timeout=0.5)
        if msg and msg["type"] == "message":
            got.append(msg["data"])
    assert got == [b"small", b"large"]
    assert x(r, "TOPIC.UNSUBSCRIBE", "orders", sa) == b"OK"
    assert err(r, "TOPIC.UNSUBSCRIBE", "orders", sa).startswith("NotFound")
    assert len(x(r, "TOPIC.SUBSCRIPTIONS", "orders")) == 3
    assert x(r, "TOPIC.LIST") == [b"orders"]


def test_errors(r):
    assert err(r, "TOPIC.PUBLISH", "nope", "x").startswith("NotFound")
    x(r, "TOPIC.CREATE", "t")
    assert err(r, "TOPIC.PUBLISH", "t", "").startswith("InvalidParameter Invalid parameter: Empty message")
    assert err(r, "TOPIC.PUBLISH", "t", "x" * 262145).startswith("InvalidParameter Invalid parameter: Message too long")
    assert err(r, "TOPIC.SUBSCRIBE", "t", "QUEUE", "noqueue").startswith("InvalidParameter")
    x(r, "QUEUE.CREATE", "q")
    assert err(r, "TOPIC.SUBSCRIBE", "t", "QUEUE", "q", "FILTER", "[1]").startswith("InvalidParameter")
    assert err(r, "TOPIC.SUBSCRIBE", "t", "HTTP", "q").startswith("InvalidParameter")
    assert err(r, "TOPIC.CREATE", "nofifo", "FIFO").startswith("InvalidParameter")
    x(r, "TOPIC.CREATE", "f.fifo")
    assert err(r, "TOPIC.SUBSCRIBE", "f.fifo", "QUEUE", "q").startswith("InvalidParameter")


def test_fifo_topic_to_fifo_queue_dedup(r):
    x(r, "TOPIC.CREATE", "t.fifo", "CONTENTDEDUP")
    x(r, "QUEUE.CREATE", "q.fifo")
    x(r, "TOPIC.SUBSCRIBE", "t.fifo", "QUEUE", "q.fifo", "RAW")
    assert err(r, "TOPIC.PUBLISH", "t.fifo", "a").startswith("InvalidParameter")
    a = x(r, "TOPIC.PUBLISH", "t.fifo", "a", "GROUP", "g")
    b = x(r, "TOPIC.PUBLISH", "t.fifo", "a", "GROUP", "g")
    assert a == b and b"SequenceNumber" in a
    x(r, "TOPIC.PUBLISH", "t.fifo", "b", "GROUP", "g")
    msgs = x(r, "QUEUE.RECV", "q.fifo", "COUNT", "10")
    assert [m[b"Body"] for m in msgs] == [b"a", b"b"]
    assert msgs[0][b"Attributes"][b"MessageGroupId"] == b"g"


def test_topic_persists_through_reload(fresh_cachemere):
    s = fresh_cachemere("--appendonly", "yes", "--enable-debug-command", "yes")
    r = redis.Redis(port=s.port)
    x(r, "TOPIC.CREATE", "t")
    x(r, "QUEUE.CREATE", "q")
    x(r, "TOPIC.SUBSCRIBE", "t", "QUEUE", "q", "FILTER", '{"k": ["v"]}')
    x(r, "TOPIC.PUBLISH", "t", "m", "ATTR", "k", "String", "v")
    subs = x(r, "TOPIC.SUBSCRIPTIONS", "t")
    x(r, "DEBUG", "LOADAOF")
    assert x(r, "TOPIC.SUBSCRIPTIONS", "t") == subs
    assert x(r, "QUEUE.LEN", "q")[b"visible"] == 1
    x(r, "DEBUG", "RELOAD")
    assert x(r, "TOPIC.SUBSCRIPTIONS", "t") == subs


# ------------------------------------------------------------------------------------------------ unit
@pytest.mark.parametrize("policy,attrs,expected", [
    ({"a": ["x"]}, {"a": ("String", "x")}, True),
    ({"a": ["x"]}, {"a": ("String", "y")}, False),
    ({"a": ["x"]}, {}, False),
    ({"a": [{"exists": False}]}, {}, True),
    ({"a": [{"exists": True}]}, {}, False),
    ({"a": [{"anything-but": ["x", "y"]}]}, {"a": ("String", "z")}, True),
    ({"a": [{"anything-but": {"prefix": "z"}}]}, {"a": ("String", "zz")}, False),
    ({"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": ("Number", "5")}, True),
    ({"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": ("Number", "5.1")}, False),
    ({"n": [10]}, {"n": ("Number", "10.0")}, True),
    ({"a": [{"suffix": ".png"}]}, {"a": ("String", "x.png")}, True),
    ({"a": [{"equals-ignore-case": "ABC"}]}, {"a": ("String", "abc")}, True),
    ({"a": ["red"]}, {"a": ("String.Array", '["blue", "red"]')}, True),
    ({"a": ["x"], "b": ["y"]}, {"a": ("String", "x")}, False),
    ({"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"b": ("String", "y")}, True),
])
def test_filter_policy(policy, attrs, expected):
    check_policy(policy)
    assert policy_matches(policy, attrs) is expected


def test_filter_policy_refused():
    for bad in ({}, {"a": "x"}, {"a": [{"wat": 1}]}, {"a": [{"numeric": [">"]}]}):
        with pytest.raises(PolicyError):
            check_policy(bad)
