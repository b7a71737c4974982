"""Blocking commands with several raw clients, the same scenario against Cachemere and redis-server 7.0.15,
transcripts compared byte for byte: FIFO service, timeouts (fractional, RESP2/RESP3 shapes), disconnects,
CLIENT UNBLOCK, BLMOVE chains, wake-ups after MULTI/EXEC and scripts, and the effects a served client
propagates (compared through both servers' AOF).  Every wait is bounded (socket timeouts, wait_for)."""
import glob
import os
import socket
import time

import pytest

from tests.support.servers import RawConnection, encode, start_cachemere, start_redis, wait_for

CLIENTS = 4


@pytest.fixture(scope="module")
def servers():
    ours, theirs = start_cachemere(), start_redis()
    yield ours, theirs
    ours.stop()
    theirs.stop()


def blocked_clients(port):
    conn = RawConnection(port)
    try:
        info = conn.command("INFO", "clients").decode()
    finally:
        conn.close()
    return int(info.split("blocked_clients:")[1].split("\r\n")[0])


def run(port, steps):
    """Play steps on CLIENTS connections; returns the transcript [(step, output)].

    ("cmd", i, *args) send and read one reply | ("send", i, *args) send only | ("raw", i, bytes)
    ("read", i[, seconds]) one reply or "TIMEOUT" | ("blocked", n) wait until INFO says n blocked clients
    ("hello3", i) switch client i to RESP3 | ("id", i) remember client i's id | ("unblock", i, j, mode...) CLIENT UNBLOCK <id of j> from i
    ("close", i) | ("sleep", seconds)
    """
    conns = [RawConnection(port, timeout=3) for _ in range(CLIENTS)]
    conns[0].command("FLUSHALL")
    conns[0].command("CONFIG", "RESETSTAT")
    ids = {}
    out = []
    try:
        for step in steps:
            op = step[0]
            if op == "cmd":
                out.append((step, conns[step[1]].command(*step[2:])))
            elif op == "send":
                conns[step[1]].send(encode(*step[2:]))
            elif op == "raw":
                conns[step[1]].send(step[2])
            elif op == "read":
                conn = conns[step[1]]
                conn.sock.settimeout(step[2] if len(step) > 2 else 3)
                try:
                    out.append((step, conn.read_reply()))
                except socket.timeout:
                    out.append((step, "TIMEOUT"))
                conn.sock.settimeout(conn.timeout)
            elif op == "blocked":
                try:
                    wait_for(lambda: blocked_clients(port) == step[1], timeout=3)
                    out.append((step, "ok"))
                except TimeoutError:
                    out.append((step, "blocked=%d" % blocked_clients(port)))
            elif op == "hello3":
                conns[step[1]].command("HELLO", "3")     # (its reply names the client id: not compared)
            elif op == "id":
                ids[step[1]] = conns[step[1]].command("CLIENT", "ID")[1:-2].decode()
            elif op == "unblock":
                out.append((step, conns[step[1]].command("CLIENT", "UNBLOCK", ids[step[2]], *step[3:])))
            elif op == "close":
                conns[step[1]].close()
            elif op == "sleep":
                time.sleep(step[1])
    finally:
        for conn in conns:
            try:
                conn.close()
            except OSError:
                pass
    return out


def assert_same(servers, steps):
    ours, theirs = servers
    mine = run(ours.port, steps)
    reference = run(theirs.port, steps)
    assert mine == reference
    return mine


def hello3(i):
    return ("hello3", i)


SCENARIOS = {
    "fifo_three_waiters": [
        ("send", 1, "BLPOP", "q", "0"), ("blocked", 1), ("send", 2, "BRPOP", "q", "0"), ("blocked", 2),
        ("send", 3, "BLPOP", "q", "other", "0"), ("blocked", 3),
        ("cmd", 0, "RPUSH", "q", "a", "b"), ("read", 1), ("read", 2), ("read", 3, 0.3), ("blocked", 1),
        ("cmd", 0, "LPUSH", "other", "z"), ("read", 3), ("cmd", 0, "EXISTS", "q", "other"),
    ],
    "pusher_pipeline_pop_comes_second": [
        ("send", 1, "BLPOP", "k", "0"), ("blocked", 1),
        ("raw", 0, encode("RPUSH", "k", "a") + encode("LPOP", "k")), ("read", 0), ("read", 0), ("read", 1),
    ],
    "served_from_the_key_that_became_ready": [
        ("send", 1, "BLPOP", "k1", "k2", "0"), ("blocked", 1),
        ("cmd", 0, "MULTI"), ("cmd", 0, "RPUSH", "k2", "x"), ("cmd", 0, "RPUSH", "k1", "y"), ("cmd", 0, "EXEC"),
        ("read", 1), ("cmd", 0, "LRANGE", "k1", "0", "-1"),
    ],
    "other_key_of_wrong_type_is_ignored": [
        ("send", 1, "BLPOP", "k1", "k2", "0"), ("blocked", 1), ("cmd", 0, "SET", "k1", "str"),
        ("cmd", 0, "RPUSH", "k2", "x"), ("read", 1),
    ],
    "wrong_type_keeps_waiting_until_timeout": [
        ("send", 1, "BLPOP", "k", "0.3"), ("blocked", 1), ("cmd", 0, "SET", "k", "v"), ("read", 1),
    ],
    "push_inside_multi_served_after_exec": [
        ("send", 1, "BLPOP", "k", "0"), ("blocked", 1), ("cmd", 0, "MULTI"), ("cmd", 0, "RPUSH", "k", "a"),
        ("cmd", 0, "LPOP", "k"), ("cmd", 0, "RPUSH", "k", "b", "c"), ("cmd", 0, "EXEC"), ("read", 1),
        ("cmd", 0, "LRANGE", "k", "0", "-1"),
    ],
    "push_inside_script_served_after_it": [
        ("send", 1, "BRPOP", "k", "0"), ("blocked", 1),
        ("cmd", 0, "EVAL", "redis.call('rpush', KEYS[1], 'a'); redis.call('rpop', KEYS[1]); "
         "return redis.call('rpush', KEYS[1], 'b', 'c')", "1", "k"),
        ("read", 1), ("cmd", 0, "LRANGE", "k", "0", "-1"),
    ],
    "blocking_inside_multi_and_scripts_answers_at_once": [
        ("cmd", 0, "MULTI"), ("cmd", 0, "BLPOP", "k", "0"), ("cmd", 0, "BLMOVE", "k", "d", "LEFT", "LEFT", "0"),
        ("cmd", 0, "BLMPOP", "0", "1", "k", "LEFT"), ("cmd", 0, "EXEC"),
        ("cmd", 0, "EVAL", "return redis.call('blmpop', '0', '1', KEYS[1], 'LEFT')", "1", "k"),
        ("cmd", 0, "EVAL", "return redis.pcall('blpop', KEYS[1], '0')", "1", "k"),
        hello3(0), ("cmd", 0, "MULTI"), ("cmd", 0, "BRPOP", "k", "0"), ("cmd", 0, "BRPOPLPUSH", "k", "d", "0"),
        ("cmd", 0, "EXEC"),
    ],
    "timeouts_resp2": [
        ("cmd", 1, "BLPOP", "k", "0.05"), ("cmd", 1, "BRPOP", "k", "k2", ".05"),
        ("cmd", 1, "BLMOVE", "k", "d", "LEFT", "RIGHT", "0.05"), ("cmd", 1, "BRPOPLPUSH", "k", "d", "5e-2"),
        ("cmd", 1, "BLMPOP", "0.05", "2", "k", "k2", "RIGHT", "COUNT", "3"),
        ("cmd", 1, "BLPOP", "k", "0.0001"), ("cmd", 1, "BLPOP", "k", "0x1p-20"), ("cmd", 1, "EXISTS", "d"),
    ],
    "timeouts_resp3": [
        hello3(1), ("cmd", 1, "BLPOP", "k", "0.05"), ("cmd", 1, "BLMOVE", "k", "d", "LEFT", "RIGHT", "0.05"),
        ("cmd", 1, "BRPOPLPUSH", "k", "d", "0.05"), ("cmd", 1, "BLMPOP", "0.05", "1", "k", "LEFT"),
    ],
    "tiny_negative_timeouts_block_forever": [
        ("id", 1), ("send", 1, "BLPOP", "k", "-0.0001"), ("read", 1, 0.3), ("blocked", 1),
        ("unblock", 0, 1), ("read", 1), ("send", 1, "BLPOP", "k", "-0.001"), ("blocked", 1),
        ("cmd", 0, "RPUSH", "k", "v"), ("read", 1), ("cmd", 1, "BLPOP", "k", "-0.002"),
    ],
    "disconnect_passes_the_element_on": [
        ("send", 1, "BLPOP", "k", "0"), ("blocked", 1), ("send", 2, "BLMOVE", "k", "d", "RIGHT", "LEFT", "0"),
        ("blocked", 2), ("close", 1), ("blocked", 1), ("cmd", 0, "RPUSH", "k", "v"), ("read", 2),
        ("cmd", 0, "LRANGE", "d", "0", "-1"), ("cmd", 0, "EXISTS", "k"),
    ],
    "client_unblock_timeout_and_error": [
        ("id", 1), ("unblock", 0, 1), ("unblock", 0, 1, "TIMEOUT"), ("unblock", 0, 1, "BOGUS"),
        ("send", 1, "BLPOP", "k", "0"), ("blocked", 1), ("unblock", 0, 1, "TIMEOUT"), ("read", 1),
        ("send", 1, "BLMOVE", "k", "d", "LEFT", "LEFT", "0"), ("blocked", 1), ("unblock", 0, 1), ("read", 1),
        ("raw", 1, encode("BRPOPLPUSH", "k", "d", "0") + encode("PING")), ("blocked", 1),
        ("unblock", 0, 1, "ERROR"), ("read", 1), ("read", 1), ("blocked", 0), ("unblock", 0, 1, "ERROR"),
        hello3(1), ("send", 1, "BLMPOP", "0", "1", "k", "RIGHT"), ("blocked", 1), ("unblock", 0, 1, "timeout"),
        ("read", 1), ("cmd", 0, "INFO", "errorstats"),
    ],
    "served_client_pipeline_continues": [
        ("raw", 1, encode("BLPOP", "k", "0") + encode("LLEN", "k") + encode("BLPOP", "k2", "0") + encode("PING")),
        ("blocked", 1), ("cmd", 0, "RPUSH", "k", "a", "b"), ("read", 1), ("read", 1), ("blocked", 1),
        ("cmd", 0, "RPUSH", "k2", "c"), ("read", 1), ("read", 1),
    ],
    "blmove_chains": [
        ("send", 1, "BLMOVE", "s", "d", "RIGHT", "LEFT", "0"), ("blocked", 1),
        ("send", 2, "BRPOPLPUSH", "d", "d2", "0"), ("blocked", 2), ("send", 3, "BLPOP", "d2", "0"), ("blocked", 3),
        ("cmd", 0, "RPUSH", "s", "a", "b"), ("read", 1), ("read", 2), ("read", 3),
        ("cmd", 0, "LRANGE", "s", "0", "-1"), ("cmd", 0, "EXISTS", "d", "d2"),
    ],
    "blmove_into_itself_and_into_a_wrong_type": [
        ("send", 1, "BLMOVE", "k", "k", "LEFT", "RIGHT", "0"), ("blocked", 1), ("cmd", 0, "RPUSH", "k", "a", "b"),
        ("read", 1), ("cmd", 0, "LRANGE", "k", "0", "-1"), ("cmd", 0, "SET", "str", "v"),
        ("send", 1, "BLMOVE", "e", "str", "LEFT", "RIGHT", "0"), ("blocked", 1), ("send", 2, "BLPOP", "e", "0"),
        ("blocked", 2), ("cmd", 0, "RPUSH", "e", "x"), ("read", 1), ("read", 2),
    ],
    "blmpop_counts_resp2_and_resp3": [
        ("send", 1, "BLMPOP", "0", "2", "x", "k", "RIGHT", "COUNT", "2"), ("blocked", 1), hello3(2),
        ("send", 2, "BLMPOP", "0", "1", "k", "LEFT", "COUNT", "5"), ("blocked", 2),
        ("cmd", 0, "RPUSH", "k", "a", "b", "c"), ("read", 1), ("read", 2), ("cmd", 0, "EXISTS", "k"),
        hello3(3), ("send", 3, "BLPOP", "k", "0"), ("blocked", 1), ("cmd", 0, "LPUSH", "k", "v"), ("read", 3),
    ],
    "same_key_twice_and_other_databases": [
        ("send", 1, "BLPOP", "k", "k", "0"), ("blocked", 1), ("cmd", 0, "RPUSH", "k", "a", "b"), ("read", 1),
        ("cmd", 2, "SELECT", "1"), ("send", 2, "BLPOP", "k", "0"), ("blocked", 1), ("cmd", 0, "DEL", "k"),
        ("cmd", 0, "RPUSH", "k", "db0"), ("read", 2, 0.3), ("cmd", 0, "SELECT", "1"),
        ("cmd", 0, "RPUSH", "k", "db1"), ("read", 2),
    ],
    "client_reply_off_drops_the_late_reply": [
        ("raw", 1, encode("CLIENT", "REPLY", "OFF") + encode("BLPOP", "k", "0")), ("blocked", 1),
        ("cmd", 0, "RPUSH", "k", "a"), ("blocked", 0), ("cmd", 1, "CLIENT", "REPLY", "ON"),
        ("raw", 1, encode("CLIENT", "REPLY", "SKIP") + encode("BLPOP", "k", "0")), ("blocked", 1),
        ("cmd", 0, "RPUSH", "k", "b"), ("read", 1), ("cmd", 1, "LLEN", "k"),
    ],
    "lpushx_and_linsert_do_not_create": [
        ("send", 1, "BLPOP", "k", "1"), ("blocked", 1), ("cmd", 0, "LPUSHX", "k", "a"),
        ("cmd", 0, "LINSERT", "k", "BEFORE", "a", "b"), ("cmd", 0, "RPUSH", "k", "a"), ("read", 1),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_transcript_as_redis(servers, name):
    assert_same(servers, SCENARIOS[name])


def test_timeout_is_honoured_in_time(servers):
    ours, _ = servers
    conn = RawConnection(ours.port)
    start = time.monotonic()
    assert conn.command("BLPOP", "none", "0.2") == b"*-1\r\n"
    assert 0.18 <= time.monotonic() - start < 1.5
    start = time.monotonic()
    assert conn.command("BLMPOP", "0.001", "1", "none", "LEFT") == b"*-1\r\n"
    assert time.monotonic() - start < 1.0


def test_blocked_clients_counted_and_released(servers):
    ours, _ = servers
    waiters = [RawConnection(ours.port) for _ in range(3)]
    for i, conn in enumerate(waiters):
        conn.send(encode("BRPOP", "count:%d" % i, "0"))
    wait_for(lambda: blocked_clients(ours.port) == 3, timeout=3)
    for conn in waiters:
        conn.close()
    wait_for(lambda: blocked_clients(ours.port) == 0, timeout=3)


# ---------------------------------------------------------------------------------------------------
# what a served client propagates: both servers' AOF, command by command
# ---------------------------------------------------------------------------------------------------
def parse_aof(data):
    commands = []
    pos = 0
    while pos < len(data):
        assert data[pos:pos + 1] == b"*", data[pos:pos + 40]
        nl = data.index(b"\r\n", pos)
        argc = int(data[pos + 1:nl])
        pos = nl + 2
        argv = []
        for _ in range(argc):
            nl = data.index(b"\r\n", pos)
            length = int(data[pos + 1:nl])
            argv.append(data[nl + 2:nl + 2 + length])
            pos = nl + 2 + length + 2
        commands.append(argv)
    return commands


def aof_commands(srv):
    paths = glob.glob(os.path.join(srv.dir, "appendonlydir", "*.incr.aof"))
    assert len(paths) == 1, paths
    with open(paths[0], "rb") as f:
        return [argv for argv in parse_aof(f.read()) if argv[0].upper() != b"SELECT"]


PROPAGATION = [
    ("send", 1, "BLPOP", "a", "b", "0"), ("blocked", 1), ("cmd", 0, "RPUSH", "b", "1", "2"), ("read", 1),
    ("send", 1, "BRPOPLPUSH", "s", "d", "0"), ("blocked", 1), ("cmd", 0, "RPUSH", "s", "x"), ("read", 1),
    ("send", 1, "BLMOVE", "s", "d", "LEFT", "RIGHT", "0"), ("blocked", 1), ("cmd", 0, "RPUSH", "s", "y"),
    ("read", 1), ("send", 1, "BLMPOP", "0", "1", "m", "LEFT", "COUNT", "10"), ("blocked", 1),
    ("cmd", 0, "RPUSH", "m", "1", "2", "3"), ("read", 1), ("cmd", 0, "BLPOP", "b", "0"),
    ("cmd", 0, "BLMPOP", "0", "1", "d", "RIGHT", "COUNT", "5"), ("cmd", 1, "BLPOP", "none", "0.01"),
    ("cmd", 0, "RPUSH", "s", "z"), ("cmd", 0, "BLMOVE", "s", "d", "Right", "lEFT", "0"),
]


def test_served_clients_propagate_the_non_blocking_form():
    ours = start_cachemere("--appendonly", "yes", "--appendfsync", "always")
    theirs = start_redis("--appendonly", "yes", "--appendfsync", "always")
    try:
        assert run(ours.port, PROPAGATION) == run(theirs.port, PROPAGATION)
        expected = aof_commands(theirs)
        assert [b"LPOP", b"b"] in expected and [b"LPOP", b"m", b"3"] in expected
        wait_for(lambda: aof_commands(ours) == expected, timeout=3)
    finally:
        ours.stop()
        theirs.stop()
