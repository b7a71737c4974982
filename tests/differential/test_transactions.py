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
    """10 threads each do 20 optimistic increments with WATCH retry at the same time: no lost update, and
    the retries show the clients really did collide (a WATCH that never fires would lose updates here)."""
    import threading
    clients = [redis.Redis(port=cachemere.port) for _ in range(10)]
    clients[0].set("optimistic", 0)
    deadline = time.monotonic() + 60
    retries = []
    start = threading.Barrier(len(clients))
    failures = []

    def worker(cl):
        try:
            start.wait(timeout=10)
            for _ in range(20):
                while time.monotonic() < deadline:
                    with cl.pipeline() as pipe:
                        try:
                            pipe.watch("optimistic")
                            v = int(pipe.get("optimistic"))
                            time.sleep(0.001)           # widen the window between read and EXEC
                            pipe.multi()
                            pipe.set("optimistic", v + 1)
                            pipe.execute()
                            break
                        except redis.WatchError:
                            retries.append(1)
        except Exception as exc:                      # surfaced below: a thread's assert is not seen by pytest
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(cl,)) for cl in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert not failures
    assert int(clients[0].get("optimistic")) == 200
    assert retries, "no transaction was ever aborted: the clients did not collide"


def test_interleaved_watchers_first_commit_wins(cachemere, redis_ref):
    """A and B both WATCH and read the key; A commits, B's EXEC must be aborted (null), on both servers."""
    def transcript(port):
        a, b = RawConnection(port), RawConnection(port)
        out = [a.command("SET", "iw", "5")]
        for conn in (a, b):
            out += [conn.command("WATCH", "iw"), conn.command("GET", "iw")]
        out += [a.command("MULTI"), a.command("SET", "iw", "6"), a.command("EXEC")]
        out += [b.command("MULTI"), b.command("SET", "iw", "7"), b.command("EXEC"), b.command("GET", "iw")]
        a.close()
        b.close()
        return out
    theirs = transcript(redis_ref.port)
    assert theirs[-2:] == [b"*-1\r\n", b"$1\r\n6\r\n"]
    assert transcript(cachemere.port) == theirs


# WATCH on one connection, something on another, then MULTI/PING/EXEC: redis flags the watcher only when
# the other command really touched a watched key (redis touchAllWatchedKeysInDb, signalModifiedKey)
OTHER_CLIENT_CASES = {
    "flushdb, watched key absent": ([], ["wk:none"], [("FLUSHDB",)]),
    "flushdb, watched key present": ([("SET", "wk:a", "1")], ["wk:a"], [("FLUSHDB",)]),
    "flushdb of another db": ([("SET", "wk:a", "1")], ["wk:a"], [("SELECT", "4"), ("FLUSHDB",)]),
    "flushall, watched key absent": ([], ["wk:none"], [("FLUSHALL",)]),
    "flushall, watched key present": ([("SET", "wk:a", "1")], ["wk:a"], [("FLUSHALL",)]),
    "swapdb of unrelated dbs": ([("SET", "wk:a", "1")], ["wk:a"], [("SWAPDB", "2", "3")]),
    "swapdb, watched key absent in both": ([], ["wk:none"], [("SWAPDB", "0", "1")]),
    "swapdb, watched key only in the other db": (
        [("SELECT", "1"), ("SET", "wk:b", "1"), ("SELECT", "0")], ["wk:b"], [("SWAPDB", "0", "1")]),
    "swapdb, watched key present": ([("SET", "wk:a", "1")], ["wk:a"], [("SWAPDB", "0", "1")]),
    "swapdb same db": ([("SET", "wk:a", "1")], ["wk:a"], [("SWAPDB", "0", "0")]),
    "move of another key": ([("SET", "wk:a", "1"), ("SET", "wk:m", "1")], ["wk:a"], [("MOVE", "wk:m", "1")]),
    "move of the watched key": ([("SET", "wk:a", "1")], ["wk:a"], [("MOVE", "wk:a", "1")]),
    "move into the watched key's db": (
        [("SELECT", "1"), ("SET", "wk:a", "1"), ("SELECT", "0")], ["wk:a"],
        [("SELECT", "1"), ("MOVE", "wk:a", "0")]),
    "copy to another db, other key": ([("SET", "wk:a", "1"), ("SET", "wk:c", "1")], ["wk:a"],
                                      [("COPY", "wk:c", "wk:d", "DB", "1")]),
    "copy to another db onto the watched name": (
        [("SET", "wk:c", "1")], ["wk:a"], [("SELECT", "1"), ("COPY", "wk:c", "wk:a", "DB", "0")]),
    "copy within the db onto the watched key": ([("SET", "wk:c", "1")], ["wk:a"], [("COPY", "wk:c", "wk:a")]),
    "copy from the watched key": ([("SET", "wk:a", "1")], ["wk:a"], [("COPY", "wk:a", "wk:e")]),
    "sunionstore reading the watched key": ([("SADD", "wk:s", "m")], ["wk:s"], [("SUNIONSTORE", "wk:u", "wk:s")]),
    "sunionstore into the watched key": ([("SADD", "wk:s", "m")], ["wk:u"], [("SUNIONSTORE", "wk:u", "wk:s")]),
    "lmove from the watched list": ([("RPUSH", "wk:l", "x")], ["wk:l"], [("LMOVE", "wk:l", "wk:l2", "LEFT", "LEFT")]),
    "write to another key": ([("SET", "wk:a", "1")], ["wk:a"], [("SET", "wk:z", "1")]),
    "delete of an absent watched key": ([], ["wk:none"], [("DEL", "wk:none")]),
    "expire of the watched key": ([("SET", "wk:a", "1")], ["wk:a"], [("EXPIRE", "wk:a", "100")]),
}


@pytest.mark.parametrize("case", sorted(OTHER_CLIENT_CASES))
def test_watch_against_another_clients_command(cachemere, redis_ref, case):
    setup, watched, other = OTHER_CLIENT_CASES[case]

    def transcript(port):
        a, b = RawConnection(port), RawConnection(port)
        a.command("FLUSHALL")
        out = [a.command(*cmd) for cmd in setup]
        out.append(a.command("WATCH", *watched))
        out += [b.command(*cmd) for cmd in other]
        out += [a.command("MULTI"), a.command("PING"), a.command("EXEC")]
        a.close()
        b.close()
        return out
    assert transcript(cachemere.port) == transcript(redis_ref.port)


# keys that had already expired (but were not yet deleted) when WATCH ran: redis remembers that and
# ignores their removal by FLUSHDB/SWAPDB, while a key that comes back alive still aborts the EXEC
EXPIRED_WATCH_CASES = {
    "flushdb removes an expired watched key": [("FLUSHDB",)],
    "swapdb replaces it with nothing": [("SWAPDB", "0", "1")],
    "swapdb replaces it with a live key": [("SELECT", "1"), ("SET", "wk:x", "live"), ("SWAPDB", "0", "1")],
    "swapdb replaces it with an expired key": [("SELECT", "1"), ("SET", "wk:x", "old", "PX", "1"),
                                               ("SELECT", "1"), ("SWAPDB", "0", "1")],
}


@pytest.mark.parametrize("case", sorted(EXPIRED_WATCH_CASES))
def test_watch_of_an_already_expired_key(debug_pair, case):
    def transcript(port):
        a, b = RawConnection(port), RawConnection(port)
        a.command("FLUSHALL")
        # active expiry off, or it could delete the expired key on one server and not the other
        assert a.command("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
        out = [a.command("SET", "wk:x", "1", "PX", "1")]
        time.sleep(0.02)                # expired, and with active expiry off still in the table
        out.append(a.command("WATCH", "wk:x"))
        for cmd in EXPIRED_WATCH_CASES[case]:
            out.append(b.command(*cmd))
            if cmd[-2:] == ("PX", "1"):
                time.sleep(0.02)
        out += [a.command("MULTI"), a.command("PING"), a.command("EXEC")]
        a.command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        a.close()
        b.close()
        return out
    ours, theirs = debug_pair
    assert transcript(ours.port) == transcript(theirs.port)


AOF_SEQUENCE = [
    ("MULTI",), ("SET", "ta:a", "1"), ("INCR", "ta:a"), ("GET", "ta:a"), ("EXEC",),
    ("MULTI",), ("SET", "ta:b", "x"), ("EXEC",),                       # a single write
    ("MULTI",), ("GET", "ta:a"), ("EXEC",),                            # no write: nothing propagated
    ("MULTI",), ("SET", "ta:c", "x"), ("INCR", "ta:c"), ("RPUSH", "ta:l", "v"), ("EXEC",),   # a runtime error
    ("MULTI",), ("SELECT", "3"), ("SET", "ta:e", "1"), ("EXEC",),      # SELECT inside the transaction
    ("SET", "ta:f", "after"),
    ("MULTI",), ("SET", "ta:g", "1"), ("SET",), ("EXEC",),             # EXECABORT: nothing
    ("MULTI",), ("EXPIRE", "ta:a", "100"), ("DEL", "ta:b"), ("LPUSH", "ta:l2", "a", "b"), ("EXEC",),
]


def _incr_aof(workdir, marker, timeout=5.0):
    import glob
    import os
    deadline = time.monotonic() + timeout
    while True:
        files = glob.glob(os.path.join(workdir, "appendonlydir", "*.incr.aof"))
        data = open(files[0], "rb").read() if files else b""
        if marker in data or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def test_exec_propagates_as_redis_writes_it_to_the_aof(tmp_path):
    """The AOF bytes a run of transactions produces equal redis-server 7.0.15's: MULTI/EXEC around several
    writes, one write alone, nothing for read-only or aborted transactions, SELECT carried inside."""
    from tests.support.servers import start_cachemere, start_redis
    logs = {}
    for name, start in (("redis", start_redis), ("cachemere", start_cachemere)):
        workdir = tmp_path / name
        workdir.mkdir()
        srv = start("--appendonly", "yes", "--appendfsync", "always", workdir=str(workdir))
        try:
            conn = RawConnection(srv.port)
            replies = [conn.command(*cmd) for cmd in AOF_SEQUENCE]
            conn.close()
            logs[name] = (replies, _incr_aof(str(workdir), b"ta:l2"))
        finally:
            srv.stop()
    assert logs["cachemere"][0] == logs["redis"][0]
    assert b"MULTI" in logs["redis"][1] and b"ta:l2" in logs["redis"][1]
    assert logs["cachemere"][1] == logs["redis"][1]


@pytest.mark.parametrize("server", ["cachemere", "redis_ref"])
def test_watched_key_evicted_aborts_exec(request, server):
    """allkeys-lru under a tight maxmemory evicts the oldest key, the watched one: EXEC is aborted."""
    srv = request.getfixturevalue(server)
    a, b = RawConnection(srv.port), RawConnection(srv.port)
    a.command("FLUSHALL")
    used = int([line for line in a.command("INFO", "memory").split(b"\r\n")
                if line.startswith(b"used_memory:")][0].split(b":")[1])
    try:
        a.command("SET", "ev:watched", "x" * 100)
        a.command("WATCH", "ev:watched")
        assert b.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru") == b"+OK\r\n"
        assert b.command("CONFIG", "SET", "maxmemory", str(used + 200_000)) == b"+OK\r\n"
        deadline = time.monotonic() + 20
        i = 0
        while b.command("EXISTS", "ev:watched") == b":1\r\n":
            assert time.monotonic() < deadline, "the watched key was never evicted"
            b.command("SET", "ev:fill:%d" % i, "y" * 1000)
            i += 1
        assert a.command("MULTI") == b"+OK\r\n"
        assert a.command("PING") == b"+QUEUED\r\n"
        assert a.command("EXEC") == b"*-1\r\n"
    finally:
        b.command("CONFIG", "SET", "maxmemory", "0")
        b.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        b.command("FLUSHALL")
        a.close()
        b.close()
