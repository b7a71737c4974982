"""Blocked clients (BLPOP, BZPOPMIN, XREAD BLOCK) woken when their key is created by RENAME, RENAMENX, COPY,
COPY ... DB, MOVE, SWAPDB or RESTORE, as redis 7.0.15's dbAdd / scanDatabaseForReadyKeys do; compared with
redis-server byte for byte (the writer's replies and what the blocked client receives)."""
import time

import pytest

from tests.support.servers import RawConnection, encode

CASES = [
    ("rename", [["RPUSH", "a", "1"]], [["RENAME", "a", "b"]], ["BLPOP", "b", "0"]),
    ("renamenx", [["RPUSH", "a", "1"]], [["RENAMENX", "a", "b"]], ["BLPOP", "b", "0"]),
    ("copy", [["RPUSH", "a", "1"]], [["COPY", "a", "b"]], ["BLPOP", "b", "0"]),
    ("copy-db", [["SELECT", "1"], ["RPUSH", "a", "1"]], [["SELECT", "1"], ["COPY", "a", "b", "DB", "0"]],
     ["BLPOP", "b", "0"]),
    ("move", [["SELECT", "1"], ["RPUSH", "b", "1"]], [["SELECT", "1"], ["MOVE", "b", "0"]], ["BLPOP", "b", "0"]),
    ("swapdb", [["SELECT", "1"], ["RPUSH", "b", "1"]], [["SWAPDB", "0", "1"]], ["BLPOP", "b", "0"]),
    ("zset-rename", [["ZADD", "za", "1", "m"]], [["RENAME", "za", "b"]], ["BZPOPMIN", "b", "0"]),
    ("stream-rename", [["XADD", "xa", "1-1", "f", "v"]], [["RENAME", "xa", "b"]],
     ["XREAD", "BLOCK", "0", "STREAMS", "b", "0-0"]),
    ("restore", [["RPUSH", "src", "1"]], "RESTORE", ["BLPOP", "b", "0"]),
    ("wrong-type", [["SET", "a", "x"]], [["RENAME", "a", "b"]], ["BLPOP", "b", "0"]),
]


def _run(port, setup, op, blocking):
    w, b = RawConnection(port), RawConnection(port)
    try:
        w.command("FLUSHALL")
        for cmd in setup:
            w.command(*cmd)
        w.command("SELECT", "0")
        b.send(encode(*blocking))
        time.sleep(0.05)
        if op == "RESTORE":
            payload = w.command("DUMP", "src").split(b"\r\n", 1)[1][:-2]
            op = [["RESTORE", "b", "0", payload]]
        w.send(b"".join(encode(*cmd) for cmd in op))
        return w.read_until_quiet(0.1), b.read_until_quiet(0.15)
    finally:
        w.close()
        b.close()


@pytest.mark.parametrize("name,setup,op,blocking", CASES, ids=[c[0] for c in CASES])
def test_wakeup(cachemere, redis_ref, name, setup, op, blocking):
    ours = _run(cachemere.port, setup, op, blocking)
    assert ours == _run(redis_ref.port, setup, op, blocking)
    if name != "wrong-type":
        assert ours[1], "the blocked client was not served"
