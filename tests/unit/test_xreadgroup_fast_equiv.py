"""XREADGROUP's compiled `>` path against the generic one, in process: two engines run the same script, one with
the fast form (`GROUP g c COUNT n STREAMS key >`), the other with a form only the generic path takes (COUNT before
GROUP). Replies (RESP2 and RESP3), the effect stream (the XCLAIMs), the stream's RDB form (PEL, consumers,
last id, entries-read), keyspace hits and the accounted memory must all be equal; the accounted memory must also
equal a full re-estimate."""
import pytest

from engine.core import Keyspace, Dispatcher, Client
import engine.commands  # noqa: F401


def engine(resp):
    ks = Keyspace(16)
    effects = []
    ks.effects.subscribe(effects.append)
    d, c = Dispatcher(ks), Client(ks)
    ks.now_ms = 1700000000000
    if resp == 3:
        d.execute(c, [b"HELLO", b"3"])
    c.reply.take()
    return ks, d, c, effects


def read(fast, group, consumer, count):
    if fast:
        return [b"XREADGROUP", b"GROUP", group, consumer, b"COUNT", count, b"STREAMS", b"s", b">"]
    return [b"XREADGROUP", b"COUNT", count, b"GROUP", group, consumer, b"STREAMS", b"s", b">"]


SCRIPT = [[b"XADD", b"s", b"%d-%d" % (i, i % 3), b"f", b"v%d" % i] for i in range(1, 260)] + [
    [b"XGROUP", b"CREATE", b"s", b"g", b"0"], [b"XGROUP", b"CREATE", b"s", b"h", b"0", b"ENTRIESREAD", b"5"],
    "g a 3", "g a 150", [b"XDEL", b"s", b"160-1", b"161-2", b"170-2"], "g b 20", "h a 4",
    [b"XSETID", b"s", b"400-0", b"ENTRIESADDED", b"999"], "h b 0", "g c 5", "g c 5", "g a 1000",
    [b"XADD", b"s", b"500-0", b"a", b"1"], [b"XADD", b"s", b"500-1", b"a", b"2", b"b", b"3"], "g d -1", "h d 1",
    [b"XACK", b"s", b"g", b"1-1", b"2-2"], [b"XADD", b"s", b"501-0", b"f", b"w"], "g a 2", "h a 2",
]


@pytest.mark.parametrize("resp", [2, 3])
def test_fast_and_generic_reads_agree(resp):
    runs = []
    for fast in (True, False):
        ks, d, c, effects = engine(resp)
        replies = []
        for step in SCRIPT:
            if isinstance(step, str):
                g, cons, n = step.split()
                argv = read(fast, g.encode(), cons.encode(), n.encode())
            else:
                argv = step
            d.execute(c, argv)
            replies.append(c.reply.take())
            ks.now_ms += 1
        s = c.db.find(b"s").value
        used = ks.used_memory
        c.db.account(b"s", c.db.find(b"s"))
        assert ks.used_memory == used, fast
        runs.append((replies, b"".join(effects), s.to_rdb(), ks.stat_hits, ks.stat_misses, used))
    fast_run, generic_run = runs
    for i, (a, b) in enumerate(zip(fast_run[0], generic_run[0])):
        assert a == b, (i, SCRIPT[i], a, b)
    assert fast_run[1:] == generic_run[1:]
