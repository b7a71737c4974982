"""Item 7 of issue 17 against redis-server 7.0.15: lazyfree counters in INFO memory (UNLINK, DEL under
lazyfree-lazy-user-del, FLUSHDB/FLUSHALL ASYNC and lazyfree-lazy-user-flush), `--save "3600 1"` as one
argument, and SHUTDOWN refusing to exit when the final save fails (unless FORCE)."""
import os
import time

import pytest
import redis

from tests.support.servers import RawConnection, start_cachemere, start_redis


def _settled(r):
    """(pending, freed) once nothing is pending and two reads agree (redis frees in a background thread)."""
    deadline = time.time() + 3
    last = None
    while True:
        time.sleep(0.02)
        info = r.info("memory")
        now = (info["lazyfree_pending_objects"], info["lazyfreed_objects"])
        if (now == last and now[0] == 0) or time.time() > deadline:
            return now
        last = now


def _lazyfree_run(port):
    r = redis.Redis(port=port)
    out = []

    def snap(label):
        out.append((label,) + _settled(r))
    r.sadd("bigset", *range(1000))
    r.sadd("small", 1, 2)
    r.set("s", "x")
    r.unlink("bigset", "small")
    snap("unlink")
    r.rpush("biglist", *range(5000))
    r.hset("bighash", mapping={str(i): i for i in range(500)})
    r.zadd("bigz", {str(i): i for i in range(500)})
    r.unlink("biglist", "bighash", "bigz")
    snap("unlink list/hash/zset")
    r.sadd("bigset", *range(1000))
    r.delete("bigset")
    snap("del")
    for i in range(5):
        r.sadd("b%d" % i, *range(100))
    r.execute_command("FLUSHDB", "ASYNC")
    snap("flushdb async")
    for i in range(5):
        r.set("k%d" % i, "v")
    r.execute_command("FLUSHALL", "ASYNC")
    snap("flushall async")
    r.execute_command("FLUSHALL", "SYNC")
    snap("flushall sync")
    r.config_set("lazyfree-lazy-user-del", "yes")
    r.sadd("bigset", *range(1000))
    r.delete("bigset")
    snap("del lazy")
    r.config_set("lazyfree-lazy-user-flush", "yes")
    for i in range(3):
        r.set("k%d" % i, "v")
    r.flushall()
    snap("flushall lazy")
    r.set("k", "v")
    r.execute_command("FLUSHDB", "SYNC")
    snap("flushdb sync under lazy-user-flush")
    r.config_set("lazyfree-lazy-user-del", "no")
    r.config_set("lazyfree-lazy-user-flush", "no")
    return out


@pytest.fixture
def fresh_pair(fresh_cachemere):
    """Servers of the test's own: FLUSHDB ASYNC counts every key of the db, so no leftovers of other tests."""
    theirs = start_redis()
    yield fresh_cachemere(), theirs
    theirs.stop()


def test_lazyfree_counters(fresh_pair):
    ours, theirs = fresh_pair
    assert _lazyfree_run(ours.port) == _lazyfree_run(theirs.port)


def test_save_rule_as_one_argument(fresh_cachemere):
    ours = fresh_cachemere("--save", "3600 1 300 100")
    theirs = start_redis("--save", "3600 1 300 100")
    try:
        got = [redis.Redis(port=s.port).config_get("save") for s in (ours, theirs)]
        assert got[0] == got[1] == {"save": "3600 1 300 100"}
    finally:
        theirs.stop()


def _failed_shutdown(srv):
    os.makedirs(os.path.join(srv.argv[srv.argv.index("--dir") + 1], "dump.rdb", "x"))   # rename() will fail
    c = RawConnection(srv.port)
    out = [c.command("SET", "a", "1"), c.command("SHUTDOWN"), c.command("SHUTDOWN", "SAVE"), c.command("PING"),
           c.command("GET", "a")]
    c.send(b"*2\r\n$8\r\nSHUTDOWN\r\n$5\r\nFORCE\r\n")
    out.append(c.read_until_quiet(0.5))
    deadline = time.time() + 5
    while srv.proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    out.append(srv.proc.poll())
    return out


def test_shutdown_refuses_when_the_final_save_fails(fresh_cachemere):
    ours = fresh_cachemere("--save", "3600 1")
    theirs = start_redis("--save", "3600 1")
    try:
        got = _failed_shutdown(ours)
        assert got == _failed_shutdown(theirs)
        assert got[1] == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n" and got[-1] == 0
        assert "Error trying to save the DB, can't exit." in ours.log()
    finally:
        theirs.stop()


def _effort_run(port):
    """Which UNLINKs count as lazily freed: by encoding (compact ones cost one free), as redis decides."""
    r = redis.Redis(port=port)
    out = []

    def lf():
        return _settled(r)[1]
    base = lf()
    steps = [("list", lambda: r.rpush("x", *range(5000))),
             ("hash500", lambda: r.hset("x", mapping={str(i): i for i in range(500)})),
             ("zset500", lambda: r.zadd("x", {str(i): i for i in range(500)})),
             ("zset65", lambda: r.zadd("x", {str(i): i for i in range(65)})),
             ("zset129", lambda: r.zadd("x", {str(i): i for i in range(129)})),
             ("intset100", lambda: r.sadd("x", *range(100))), ("set600", lambda: r.sadd("x", *range(600))),
             ("strset100", lambda: r.sadd("x", *["a%d" % i for i in range(100)])),
             ("stream", lambda: r.xadd("x", {"f": "v"}))]
    for name, fill in steps:
        fill()
        r.unlink("x")
        out.append((name, lf() - base))
    return out


def test_lazyfree_effort_by_encoding(fresh_pair):
    ours, theirs = fresh_pair
    assert _effort_run(ours.port) == _effort_run(theirs.port)


def _sigterm_with_failing_save(srv):
    import signal
    os.makedirs(os.path.join(srv.argv[srv.argv.index("--dir") + 1], "dump.rdb", "x"))
    c = RawConnection(srv.port)
    c.command("SET", "a", "1")
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.7)
    alive = srv.proc.poll() is None
    pong = c.command("PING") if alive else None
    c.close()
    return alive, pong


def test_sigterm_with_a_failing_final_save_keeps_serving(fresh_cachemere):
    ours = fresh_cachemere("--save", "3600 1")
    theirs = start_redis("--save", "3600 1")
    try:
        got = _sigterm_with_failing_save(ours)
        assert got == _sigterm_with_failing_save(theirs) == (True, b"+PONG\r\n")
    finally:
        ours.kill9()
        theirs.kill9()
