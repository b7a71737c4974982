"""MULTI/EXEC/DISCARD/WATCH: same replies as redis-server 7.0.15, and the race semantics of WATCH."""
import time

import pytest
import redis

from tests.support.servers import RawConnection

SEQUENCES = [
    [("MULTI",), ("SET", "tx:a", "1"), ("INCR", "tx:a"), ("GET", "tx:a"), ("EXEC",)],
    [("MULTI",), ("SET", "tx:b", "x"), ("INCR", "tx:b"), ("GET", "tx:b"), ("EXEC",)],       # runtime error inside
    [("MULTI",), ("SET", "tx:c"), ("GET", "tx:c"), ("EXEC",)],                             # arity error aborts
    [("MULTI",), ("NOSUCHCMD",), ("EXEC",)],
    [("MULTI",), ("MULTI",), ("EXEC",)],
    [("EXEC",)], [("DISCARD",)],
    [("MULTI",), ("SET", "tx:d", "1"), ("DISCARD",), ("GET", "tx:d")],
    [("MULTI",), ("WATCH", "tx:e"), ("EXEC",)],
    [("WATCH", "tx:f"), ("SET", "tx:f", "1"), ("MULTI",), ("GET", "tx:f"), ("EXEC",)],     # own write aborts
    [("WATCH", "tx:g"), ("MULTI",), ("GET", "tx:g"), ("EXEC",)],
    [("WATCH", "tx:h"), ("UNWATCH",), ("SET", "tx:h", "1"), ("MULTI",), ("GET", "tx:h"), ("EXEC",)],
    [("MULTI",), ("EXEC",)],
    [("MULTI",), ("PING",), ("ECHO", "x"), ("EXEC",)],
]


def run(port, seq, resp=2):
    conn = RawConnection(port)
    if resp == 3:
        conn.command("HELLO", "3")
    out = [conn.command(*cmd) for cmd in seq]
    conn.close()
    return out


@pytest.mark.parametrize("seq", SEQUENCES, ids=lambda s: " / ".join(" ".join(c) for c in s))
@pytest.mark.parametrize("resp", [2, 3])
def test_same_replies(cachemere, redis_ref, seq, resp):
    assert run(cachemere.port, seq, resp) == run(redis_ref.port, seq, resp)


def test_watch_touched_by_other_client(cachemere):
    a = RawConnection(cachemere.port)
    b = RawConnection(cachemere.port)
    a.command("SET", "race", "0")
    assert a.command("WATCH", "race") == b"+OK\r\n"
    assert b.command("INCR", "race") == b":1\r\n"
    a.command("MULTI")
    a.command("SET", "race", "100")
    assert a.command("EXEC") == b"*-1\r\n"
    assert a.command("GET", "race") == b"$1\r\n1\r\n"


def test_watch_touched_by_flushall_and_expiry(cachemere):
    a = RawConnection(cachemere.port)
    b = RawConnection(cachemere.port)
    a.command("SET", "wf", "1")
    a.command("WATCH", "wf")
    b.command("FLUSHALL")
    a.command("MULTI")
    assert a.command("EXEC") == b"*-1\r\n"
    a.command("SET", "we", "1", "PX", "50")
    a.command("WATCH", "we")
    time.sleep(0.15)
    a.command("MULTI")
    a.command("PING")
    assert a.command("EXEC") == b"*-1\r\n"


def test_redis_py_pipeline_and_watch_retry(cachemere):
    r = redis.Redis(port=cachemere.port)
    r.set("counter", 0)
    with r.pipeline() as pipe:
        pipe.incr("counter").incr("counter").get("counter")
        assert pipe.execute() == [1, 2, b"2"]

    def incr_transaction(pipe):
        value = int(pipe.get("counter"))
        pipe.multi()
        pipe.set("counter", value + 10)
    assert r.transaction(incr_transaction, "counter") == [True]
    assert r.get("counter") == b"12"


def test_many_clients_watch_race(cachemere):
    """10 clients each do 20 optimistic increments with WATCH retry: no lost update."""
    clients = [redis.Redis(port=cachemere.port) for _ in range(10)]
    clients[0].set("optimistic", 0)
    deadline = time.monotonic() + 30

    def bump(pipe):
        v = int(pipe.get("optimistic"))
        pipe.multi()
        pipe.set("optimistic", v + 1)

    for _ in range(20):
        for cl in clients:
            assert time.monotonic() < deadline
            cl.transaction(bump, "optimistic")
    assert int(clients[0].get("optimistic")) == 200
