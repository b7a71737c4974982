"""XADD's fast path keeps the key's memory cost itself (bind_cost): after appends across node limits, with
consumer groups read in between and the slow path's forms mixed in, the incrementally kept used_memory
equals a full re-estimate of the stream."""
from engine.core import Keyspace, Dispatcher, Client
import engine.commands  # noqa: F401


def test_xadd_accounting_matches_a_full_estimate():
    ks = Keyspace(16)
    d, c = Dispatcher(ks), Client(ks)
    ks.now_ms = 1700000000000
    d.execute(c, [b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM"])
    for i in range(700):
        if i % 50 == 7:
            d.execute(c, [b"XREADGROUP", b"GROUP", b"g", b"c%d" % (i % 3), b"COUNT", b"5", b"STREAMS", b"s", b">"])
        if i % 70 == 11:
            d.execute(c, [b"XGROUP", b"CREATE", b"s", b"h%d" % i, b"0"])
        if i % 9 == 4 and i > 11:
            d.execute(c, [b"XREADGROUP", b"GROUP", b"h11", b"c%d" % (i % 4), b"COUNT", b"3", b"STREAMS", b"s", b">"])
            d.execute(c, [b"XREADGROUP", b"GROUP", b"h11", b"c%d" % (i % 4), b"COUNT", b"2", b"STREAMS", b"s", b">"])
        if i % 9 == 5 and i > 81:
            d.execute(c, [b"XREADGROUP", b"GROUP", b"h81", b"z", b"COUNT", b"4", b"STREAMS", b"s", b">"])
            d.execute(c, [b"XACK", b"s", b"h11", b"%d-0" % (ks.now_ms - 1)])
        if i % 25 == 0:
            used = ks.used_memory
            c.db.account(b"s", c.db.find(b"s"))
            assert ks.used_memory == used, i
        if i % 97 == 3:
            d.execute(c, [b"XADD", b"s", b"MAXLEN", b"~", b"300", b"*", b"f", b"v"])
        else:
            d.execute(c, [b"XADD", b"s", b"*", b"f", b"x" * (i % 300)])
        if i % 13 == 0:
            ks.now_ms += 1
    c.reply.take()
    used = ks.used_memory
    db = c.db
    db.account(b"s", db.find(b"s"))
    assert ks.used_memory == used
    assert len(db.find(b"s").value.nodes) > 5
