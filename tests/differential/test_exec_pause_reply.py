"""Item 2 of issue 17 against redis-server 7.0.15: EXEC refused before it runs (BUSY script, arity, NOAUTH)
answers EXECABORT and discards the transaction; CLIENT PAUSE WRITE holds writes (also inside EVAL and MULTI)
but not reads, and freezes expiry; a RESP3 subscriber with CLIENT REPLY OFF still gets its messages."""
import time

import pytest

from tests.support.servers import RawConnection, encode, start_cachemere, start_redis, wait_for


def send(conn, *cmds, settle=0.15):
    conn.send(b"".join(encode(*c) for c in cmds))
    return conn.read_until_quiet(settle)


def _busy_exec(port):
    b = RawConnection(port, timeout=10)
    probe = RawConnection(port, timeout=10)
    runner = RawConnection(port, timeout=10)
    out = [send(b, ["MULTI"])]
    assert probe.command("PING") == b"+PONG\r\n"
    runner.send(encode("EVAL", "while true do end", "0"))
    wait_for(lambda: probe.command("PING").startswith(b"-BUSY"), timeout=5, interval=0.05)
    out.append(send(b, ["SET", "x", "1"], ["EXEC"], ["EXEC"], ["MULTI"], ["DISCARD"]))
    out.append(probe.command("SCRIPT", "KILL"))
    runner.read_reply()
    out.append(send(b, ["EXEC"], ["GET", "x"]))
    for cn in (b, probe, runner):
        cn.close()
    return out


def test_exec_after_busy_is_execabort(busy_pair):
    ours, theirs = busy_pair
    got = _busy_exec(ours.port)
    assert got == _busy_exec(theirs.port)
    assert b"-EXECABORT Transaction discarded because of: BUSY Redis is busy" in got[1]


@pytest.fixture(scope="module")
def auth_pair():
    ours = start_cachemere("--requirepass", "pw")
    theirs = start_redis("--requirepass", "pw")
    yield ours, theirs
    theirs.stop()
    ours.stop()


def test_exec_refused_by_arity_or_auth(auth_pair):
    results = []
    for srv in auth_pair:
        a, b = RawConnection(srv.port), RawConnection(srv.port)
        results.append((send(a, ["AUTH", "pw"], ["MULTI"], ["EXEC", "x"], ["EXEC"], ["EXEC", "y"], ["MULTI"],
                             ["SET", "k", "v"], ["EXEC"]),
                        send(b, ["EXEC"], ["MULTI"])))
        a.close()
        b.close()
    assert results[0] == results[1]


@pytest.fixture(scope="module")
def pair():
    ours = start_cachemere()
    theirs = start_redis()
    yield ours, theirs
    theirs.stop()
    ours.stop()


def _pause_write(port):
    p, b, s = RawConnection(port), RawConnection(port), RawConnection(port)
    out = [send(p, ["FLUSHALL"], ["SET", "k", "1"], ["CLIENT", "PAUSE", "3000", "WRITE"])]
    out.append(send(b, ["GET", "k"], ["TTL", "k"], ["CONFIG", "GET", "maxmemory"], ["MULTI"], ["GET", "k"], ["EXEC"],
                    ["EVAL_RO", "return 1", "0"], ["PUBLISH", "ch", "x"], ["EVAL", "return redis.call('get','k')", "0"],
                    ["INFO", "keyspace"]))
    for body in ([["SET", "k", "2"]], [["MULTI"], ["SET", "k", "3"], ["EXEC"]],
                 [["EVAL", "return redis.call('set','k','4')", "0"]], [["FCALL", "nosuch", "0"]]):
        out.append(send(b, *body, settle=0.3))          # held: nothing (or only MULTI's +OK) comes back
        out.append(send(s, ["GET", "k"]))               # reads still served
        out.append(send(p, ["CLIENT", "UNPAUSE"]))
        out.append(b.read_until_quiet(0.2))             # released by UNPAUSE
        out.append(send(p, ["CLIENT", "PAUSE", "3000", "WRITE"]))
    send(p, ["CLIENT", "UNPAUSE"])
    # expiry is frozen during the pause: the key reads as missing but stays in the keyspace
    out.append(send(p, ["SET", "e", "1", "PX", "100"], ["CLIENT", "PAUSE", "2000", "WRITE"]))
    time.sleep(0.4)
    out.append(send(b, ["EXISTS", "e"], ["PTTL", "e"], ["GET", "e"], ["DBSIZE"]))
    out.append(send(p, ["CLIENT", "UNPAUSE"]))
    time.sleep(0.3)
    out.append(send(b, ["EXISTS", "e"], ["DBSIZE"]))
    for cn in (p, b, s):
        cn.close()
    return out


@pytest.mark.drill      # make drill (make test at its 12-minute budget)
def test_client_pause_write(pair):
    ours, theirs = pair
    a, b = _pause_write(ours.port), _pause_write(theirs.port)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, (i, x, y)


def _reply_off_subscriber(port):
    a, b = RawConnection(port), RawConnection(port)
    a.command("HELLO", "3")
    out = [send(a, ["SUBSCRIBE", "ch"], ["CLIENT", "REPLY", "OFF"])]
    out.append(send(b, ["PUBLISH", "ch", "hi"]))
    out.append(a.read_until_quiet(0.15))
    out.append(send(a, ["PING"], ["PSUBSCRIBE", "c*"]))
    out.append(send(b, ["PUBLISH", "ch", "two"]))
    out.append(a.read_until_quiet(0.15))
    out.append(send(a, ["CLIENT", "REPLY", "ON"], ["PING"]))
    a.close()
    b.close()
    return out


def test_resp3_subscriber_with_reply_off_gets_messages(pair):
    ours, theirs = pair
    assert _reply_off_subscriber(ours.port) == _reply_off_subscriber(theirs.port)
