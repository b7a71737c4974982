"""services/queue/client.py against the real server."""
import pytest
import redis

from services.queue.client import Queue, QueueError, Topic


@pytest.fixture
def r(cachemere):
    conn = redis.Redis(port=cachemere.port)
    conn.delete("cq", "cq-dlq", "ct", "cq.fifo")
    yield conn
    conn.close()


def test_client_round_trip(r):
    dlq = Queue(r, "cq-dlq").create()
    q = Queue(r, "cq").create(visibility=5, dlq=dlq, max_receive=3)
    sent = q.send("hello", attrs={"kind": "greeting", "n": 3, "raw": b"\x00"})
    [m] = q.recv(count=10)
    assert m.id == sent["MessageId"] and m.body == "hello" and m.receive_count == 1
    assert m.attrs == {"kind": "greeting", "n": 3, "raw": b"\x00"}
    m.nack()
    [m] = q.recv()
    assert m.receive_count == 2
    assert m.delete() == b"OK"
    assert q.len() == {"visible": 0, "inflight": 0, "delayed": 0}
    res = q.send_batch([("a", "1"), ("b", "2", {"delay": 999})])
    assert res[0]["Id"] == "a" and res[1]["Code"] == "InvalidParameterValue"
    with pytest.raises(QueueError) as ei:
        q.recv(count=11)
    assert ei.value.code == "InvalidParameterValue"
    t = Topic(r, "ct").create()
    t.subscribe_queue(q, raw=True, filter_policy={"kind": ["x"]})
    t.publish("skip", attrs={"kind": "y"})
    t.publish("take", attrs={"kind": "x"})
    assert sorted(m.body for m in q.recv(count=10)) == ["1", "take"]
    assert q.attributes("VisibilityTimeout") == {"VisibilityTimeout": "5"}
