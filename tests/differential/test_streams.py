"""Streams: replies equal redis-server 7.0.15's byte for byte (explicit ids keep them deterministic; replies
holding idle times or delivery timestamps are compared with those numbers masked)."""
import pytest

from tests.support.diff import assert_same, parse, run_sequence

BASIC = [
    ("DEL", "s", "s2", "str", "nokey"), ("SET", "str", "v"),
    ("XADD", "s", "1-1", "a", "1"), ("XADD", "s", "1-1", "a", "1"), ("XADD", "s", "1-0", "a", "1"),
    ("XADD", "s", "0-0", "a", "1"), ("XADD", "nokey", "0-0", "a", "1"), ("EXISTS", "nokey"),
    ("XADD", "s", "1-*", "b", "2"), ("XADD", "s", "2", "c", "3", "d", "4"), ("XADD", "s", "2-*", "e", "5"),
    ("XADD", "s", "1-*", "x", "y"), ("XADD", "s", "3-x", "a", "1"), ("XADD", "s", "-1", "a", "1"),
    ("XADD", "s", "+", "a", "1"), ("XADD", "s", "-", "a", "1"), ("XADD", "s", "5-1", "a"),
    ("XADD", "s", "5-1"), ("XADD", "s", "5-1", "a", "1", "b"), ("XADD", "str", "5-1", "a", "1"),
    ("XADD", "nokey", "NOMKSTREAM", "5-1", "a", "1"), ("EXISTS", "nokey"), ("XADD", "s", "18446744073709551616-1", "a", "1"),
    ("XADD", "s", "18446744073709551615-18446744073709551615", "a", "1"), ("XADD", "s", "*", "a", "1"),
    ("XLEN", "s"), ("XLEN", "nokey"), ("XLEN", "str"), ("DEL", "s"),
    ("XADD", "s", "0-*", "f", "v"), ("XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "f", "v"),
    ("XADD", "s", "LIMIT", "10", "9-1", "f", "v"), ("XADD", "s", "MAXLEN", "1", "LIMIT", "10", "9-1", "f", "v"),
    ("XADD", "s", "MAXLEN", "-1", "9-1", "f", "v"), ("XADD", "s", "MAXLEN", "x", "9-1", "f", "v"),
    ("XADD", "s", "MAXLEN", "~", "10", "LIMIT", "-1", "9-1", "f", "v"), ("XADD", "s", "MINID", "bad", "9-1", "f", "v"),
    ("XADD", "s", "BOGUS", "9-1", "f", "v"),
    ("DEL", "s"),
] + [("XADD", "s", f"{i}-1", "field", str(i)) for i in range(1, 31)] + [
    ("XRANGE", "s", "-", "+", "COUNT", "3"), ("XRANGE", "s", "5", "7"), ("XRANGE", "s", "(5-1", "(7-1"),
    ("XRANGE", "s", "(5", "7-0"), ("XREVRANGE", "s", "+", "-", "COUNT", "2"), ("XREVRANGE", "s", "(10-1", "(8-1"),
    ("XRANGE", "s", "-", "+", "COUNT", "0"), ("XRANGE", "s", "-", "+", "COUNT", "-5"),
    ("XRANGE", "s", "-", "+", "COUNT"), ("XRANGE", "s", "-", "+", "LIMIT", "2"), ("XRANGE", "s", "x", "+"),
    ("XRANGE", "s", "(-", "+"), ("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"),
    ("XRANGE", "s", "-", "(0-0"), ("XRANGE", "nokey", "-", "+"), ("XRANGE", "str", "-", "+"),
    ("XRANGE", "s", "(", "+"), ("XRANGE", "s", "10-1", "5-1"), ("XRANGE", "s", "-", "+", "COUNT", "x"),
    ("XRANGE", "s", "1-+5", "+"), ("XRANGE", "s", " 5", "+"), ("XRANGE", "s", "5-", "+"), ("XRANGE", "s", "-05", "+"),
    ("XRANGE", "s", "5--0", "+"), ("XRANGE", "s", "5-1-1", "+"), ("XRANGE", "s", "0x5", "+"), ("XRANGE", "s", "1" * 128, "+"),
    ("XRANGE", "s", "29-18446744073709551615", "+"), ("XRANGE", "s", "(29-18446744073709551615", "+"),
    ("XREVRANGE", "s", "(1-0", "-"), ("XREVRANGE", "s", "+", "(30-1"), ("XRANGE", "s", "-", "(1-0"),
    ("XDEL", "s", "1-1", "2-1", "99-1"), ("XDEL", "s", "bad"), ("XDEL", "nokey", "1-1"), ("XDEL", "str", "1-1"),
    ("XINFO", "STREAM", "s"), ("XRANGE", "s", "-", "+", "COUNT", "2"),
    ("XTRIM", "s", "MAXLEN", "25"), ("XLEN", "s"), ("XTRIM", "s", "MINID", "10-1"), ("XRANGE", "s", "-", "+", "COUNT", "1"),
    ("XTRIM", "s", "MAXLEN", "~", "5"), ("XTRIM", "s", "MINID", "~", "20"), ("XTRIM", "s", "LIMIT", "5"),
    ("XTRIM", "s", "MAXLEN", "=", "18", "LIMIT", "2"), ("XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "2"),
    ("XTRIM", "s"), ("XTRIM", "s", "BOGUS", "1"), ("XTRIM", "nokey", "MAXLEN", "1"), ("XTRIM", "str", "MAXLEN", "1"),
    ("XINFO", "STREAM", "s"), ("XTRIM", "s", "MAXLEN", "0"), ("XINFO", "STREAM", "s"), ("EXISTS", "s"),
    ("XSETID", "s", "100-1"), ("XSETID", "s", "1-1"), ("XSETID", "nokey", "1-1"), ("XSETID", "str", "1-1"),
    ("XSETID", "s", "200-1", "ENTRIESADDED", "-1"), ("XSETID", "s", "200-1", "MAXDELETEDID", "300-1"),
    ("XSETID", "s", "200-1", "ENTRIESADDED", "100", "MAXDELETEDID", "150-0"), ("XSETID", "s", "200-1", "BOGUS"),
    ("XSETID", "s", "+"), ("XINFO", "STREAM", "s"), ("XSETID", "s", "10-1"),
    ("XADD", "s", "300-1", "a", "1"), ("XSETID", "s", "250-1"), ("XSETID", "s", "300-1", "ENTRIESADDED", "0"),
    ("XINFO", "STREAM", "s", "FULL"), ("XINFO", "STREAM", "s", "FULL", "COUNT", "1"), ("XINFO", "STREAM", "s", "BAD"),
    ("XINFO", "STREAM", "s", "FULL", "LIMIT", "1"), ("XINFO", "STREAM", "nokey"), ("XINFO", "STREAM", "str"),
    ("XINFO", "HELP"), ("XINFO", "BOGUS", "s"), ("XINFO", "GROUPS", "s"),
]

READS = [
    ("DEL", "r1", "r2", "str"), ("SET", "str", "v"),
    ("XADD", "r1", "1-1", "a", "1"), ("XADD", "r1", "2-1", "b", "2"), ("XADD", "r2", "5-5", "c", "3"),
    ("XREAD", "STREAMS", "r1", "r2", "0", "0"), ("XREAD", "COUNT", "1", "STREAMS", "r1", "r2", "1-1", "0-0"),
    ("XREAD", "STREAMS", "r1", "$"), ("XREAD", "STREAMS", "r1", "nokey", "0", "0"), ("XREAD", "STREAMS", "nokey", "$"),
    ("XREAD", "STREAMS", "r1", "2-1"), ("XREAD", "STREAMS", "r1"), ("XREAD", "STREAMS", "r1", "r2", "0"),
    ("XREAD", "STREAMS", "r1", ">"), ("XREAD", "STREAMS", "str", "0"), ("XREAD", "STREAMS", "r1", "bad"),
    ("XREAD", "STREAMS", "r1", "+"), ("XREAD", "COUNT", "x", "STREAMS", "r1", "0"), ("XREAD", "BLOCK", "x", "STREAMS", "r1", "0"),
    ("XREAD", "BLOCK", "-1", "STREAMS", "r1", "0"), ("XREAD", "BLOCK", "100", "STREAMS", "r1", "0"),
    ("XREAD", "COUNT", "-1", "STREAMS", "r1", "0"), ("XREAD", "GROUP", "g", "c", "STREAMS", "r1", "0"),
    ("XREAD", "NOACK", "STREAMS", "r1", "0"), ("XREAD", "BOGUS", "STREAMS", "r1", "0"), ("XREAD", "COUNT", "1", "r1", "0"),
]

GROUPS = [
    ("DEL", "g1", "str", "nokey", "e1"), ("SET", "str", "v"),
    ("XGROUP", "CREATE", "nokey", "grp", "$"), ("XGROUP", "CREATE", "str", "grp", "$"),
    ("XGROUP", "CREATE", "g1", "grp", "$", "MKSTREAM"), ("XGROUP", "CREATE", "g1", "grp", "$"),
    ("XGROUP", "CREATE", "g1", "g2", "0", "ENTRIESREAD", "-2"), ("XGROUP", "CREATE", "g1", "g2", "0", "ENTRIESREAD", "x"),
    ("XGROUP", "CREATE", "g1", "g2", "bad"), ("XGROUP", "CREATE", "g1", "g2", "0", "BOGUS"),
    ("XGROUP", "CREATE", "g1", "g2", "0", "ENTRIESREAD", "0"), ("XGROUP", "HELP"), ("XGROUP", "BOGUS"),
    ("XINFO", "GROUPS", "g1"),
] + [("XADD", "g1", f"{i}-0", "f", str(i)) for i in range(1, 9)] + [
    ("XINFO", "GROUPS", "g1"),
    ("XREADGROUP", "GROUP", "grp", "alice", "COUNT", "2", "STREAMS", "g1", ">"),
    ("XREADGROUP", "GROUP", "grp", "bob", "COUNT", "1", "STREAMS", "g1", ">"),
    ("XREADGROUP", "GROUP", "grp", "bob", "NOACK", "COUNT", "1", "STREAMS", "g1", ">"),
    ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "g1", "0"),
    ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "g1", "1-0"),
    ("XREADGROUP", "GROUP", "grp", "alice", "COUNT", "1", "STREAMS", "g1", "0"),
    ("XREADGROUP", "GROUP", "grp", "nobody", "STREAMS", "g1", "0"),
    ("XREADGROUP", "GROUP", "nogrp", "alice", "STREAMS", "g1", ">"),
    ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "nokey", ">"),
    ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "g1", "$"),
    ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "str", ">"),
    ("XREADGROUP", "COUNT", "1", "STREAMS", "g1", ">", "x", "y"), ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "g1"),
    ("XINFO", "GROUPS", "g1"), ("XPENDING", "g1", "grp"), ("XPENDING", "g1", "g2"),
    ("XPENDING", "g1", "grp", "-", "+", "10", "nobody"), ("XPENDING", "g1", "grp", "-", "+", "0"),
    ("XPENDING", "g1", "grp", "-", "+"), ("XPENDING", "g1", "grp", "-", "+", "x"), ("XPENDING", "g1", "grp", "IDLE", "x", "-", "+", "10"),
    ("XPENDING", "g1", "grp", "IDLE", "10", "-", "+"), ("XPENDING", "g1", "grp", "(18446744073709551615-18446744073709551615", "+", "1"),
    ("XPENDING", "nokey", "grp"), ("XPENDING", "g1", "nogrp"), ("XPENDING", "str", "grp"),
    ("XACK", "g1", "grp", "1-0", "99-0"), ("XACK", "g1", "grp", "bad"), ("XACK", "nokey", "grp", "1-0"),
    ("XACK", "g1", "nogrp", "1-0"), ("XACK", "str", "grp", "1-0"), ("XPENDING", "g1", "grp"),
    ("XCLAIM", "g1", "grp", "carol", "0", "2-0", "JUSTID"), ("XCLAIM", "g1", "grp", "carol", "0", "3-0", "5-0"),
    ("XCLAIM", "g1", "grp", "carol", "x", "3-0"), ("XCLAIM", "g1", "grp", "carol", "0", "3-0", "IDLE", "x"),
    ("XCLAIM", "g1", "grp", "carol", "0", "3-0", "BOGUS"), ("XCLAIM", "g1", "grp", "carol", "0", "3-0", "LASTID", "bad"),
    ("XCLAIM", "nokey", "grp", "carol", "0", "3-0"), ("XCLAIM", "g1", "nogrp", "carol", "0", "3-0"),
    ("XCLAIM", "g1", "grp", "dave", "0", "6-0", "FORCE", "JUSTID", "RETRYCOUNT", "7"),
    ("XCLAIM", "g1", "grp", "dave", "3600000", "6-0", "JUSTID"),
    ("XDEL", "g1", "2-0"), ("XREADGROUP", "GROUP", "grp", "carol", "STREAMS", "g1", "0"),
    ("XAUTOCLAIM", "g1", "grp", "erin", "0", "0", "COUNT", "1"), ("XAUTOCLAIM", "g1", "grp", "erin", "0", "0"),
    ("XAUTOCLAIM", "g1", "grp", "erin", "0", "0", "JUSTID"), ("XAUTOCLAIM", "g1", "grp", "erin", "0", "0", "COUNT", "0"),
    ("XAUTOCLAIM", "g1", "grp", "erin", "x", "0"), ("XAUTOCLAIM", "g1", "grp", "erin", "0", "bad"),
    ("XAUTOCLAIM", "g1", "grp", "erin", "0", "0", "BOGUS"), ("XAUTOCLAIM", "g1", "nogrp", "erin", "0", "0"),
    ("XAUTOCLAIM", "g1", "grp", "erin", "3600000", "0"), ("XAUTOCLAIM", "nokey", "grp", "c", "x", "0"),
    ("XAUTOCLAIM", "nokey", "grp", "c", "0", "0", "COUNT", "0"), ("XAUTOCLAIM", "str", "grp", "c", "x", "0"),
    ("XAUTOCLAIM", "str", "grp", "c", "0", "0"), ("XCLAIM", "nokey", "grp", "c", "x", "0"), ("XCLAIM", "str", "grp", "c", "0", "0"),
    ("XGROUP", "CREATECONSUMER", "str", "g", "c"), ("XGROUP", "CREATE", "g1", "g3", "$", "ENTRIESREAD", "5"),
    ("XGROUP", "CREATE", "e1", "g", "$", "MKSTREAM", "ENTRIESREAD", "3"), ("XINFO", "GROUPS", "e1"), ("DEL", "e1"),
    ("XPENDING", "g1", "grp"), ("XINFO", "GROUPS", "g1"),
    ("XGROUP", "SETID", "g1", "grp", "0"), ("XGROUP", "SETID", "g1", "grp", "$", "ENTRIESREAD", "8"),
    ("XGROUP", "SETID", "g1", "nogrp", "0"), ("XGROUP", "SETID", "g1", "grp", "0", "BOGUS"),
    ("XGROUP", "SETID", "nokey", "grp", "0"), ("XINFO", "GROUPS", "g1"),
    ("XGROUP", "SETID", "g1", "grp", "2-0"), ("XREADGROUP", "GROUP", "grp", "frank", "COUNT", "2", "STREAMS", "g1", ">"),
    ("XPENDING", "g1", "grp"),
    ("XGROUP", "CREATECONSUMER", "g1", "grp", "zed"), ("XGROUP", "CREATECONSUMER", "g1", "grp", "zed"),
    ("XGROUP", "CREATECONSUMER", "g1", "nogrp", "zed"), ("XGROUP", "DELCONSUMER", "g1", "grp", "frank"),
    ("XGROUP", "DELCONSUMER", "g1", "grp", "nobody"), ("XPENDING", "g1", "grp"),
    ("XGROUP", "DESTROY", "g1", "g2"), ("XGROUP", "DESTROY", "g1", "g2"), ("XGROUP", "DESTROY", "nokey", "g2"),
    ("XINFO", "GROUPS", "g1"), ("XINFO", "CONSUMERS", "g1", "nogrp"), ("XINFO", "CONSUMERS", "nokey", "grp"),
    ("XINFO", "CONSUMERS", "g1", "grp"), ("XINFO", "STREAM", "g1", "FULL"), ("XINFO", "STREAM", "g1", "FULL", "COUNT", "1"),
    ("XADD", "g1", "MAXLEN", "2", "20-0", "f", "v"), ("XINFO", "GROUPS", "g1"),
    ("XCLAIM", "g1", "grp", "carol", "0", "3-0", "4-0", "LASTID", "30-0"), ("XINFO", "GROUPS", "g1"),
    ("XREADGROUP", "GROUP", "grp", "carol", "STREAMS", "g1", "0"), ("XINFO", "STREAM", "g1", "FULL"),
]

NODES = [("DEL", "n", "b")] + [("XADD", "n", f"{i}-0", "f", str(i)) for i in range(1, 251)] + [
    ("XINFO", "STREAM", "n"), ("XTRIM", "n", "MAXLEN", "~", "120"), ("XINFO", "STREAM", "n"),
    ("XTRIM", "n", "MINID", "~", "260"), ("XLEN", "n"), ("XTRIM", "n", "MAXLEN", "~", "10", "LIMIT", "99"),
    ("XLEN", "n"), ("XTRIM", "n", "MAXLEN", "~", "10", "LIMIT", "100"), ("XLEN", "n"),
    ("XADD", "n", "MAXLEN", "~", "5", "300-0", "f", "v"), ("XLEN", "n"), ("XDEL", "n", "201-0", "202-0"),
    ("XTRIM", "n", "MINID", "203-0"), ("XINFO", "STREAM", "n"),
    ("XTRIM", "n", "MAXLEN", "3"), ("XINFO", "STREAM", "n"), ("XRANGE", "n", "-", "+"),
] + [("XADD", "b", f"{i}-0", "f", "x" * 900) for i in range(1, 20)] + [
    ("XINFO", "STREAM", "b"), ("XTRIM", "b", "MAXLEN", "~", "10"), ("XLEN", "b"), ("XINFO", "STREAM", "b"),
]


def compare(ours, theirs, sequence, resp):
    """Each sequence starts with the DEL of its keys: run it uncompared (other tests share these servers)."""
    run_sequence(ours.port, sequence[:1])
    run_sequence(theirs.port, sequence[:1])
    assert_same(ours.port, theirs.port, sequence[1:], resp=resp)


@pytest.mark.parametrize("resp", [2, 3])
def test_stream_basics(cachemere, redis_ref, resp):
    compare(cachemere, redis_ref, BASIC, resp)


@pytest.mark.parametrize("resp", [2, 3])
def test_stream_reads(cachemere, redis_ref, resp):
    compare(cachemere, redis_ref, READS, resp)


@pytest.mark.parametrize("resp", [2, 3])
def test_stream_nodes_and_approx_trim(cachemere, redis_ref, resp):
    compare(cachemere, redis_ref, NODES, resp)


def mask_times(value):
    """Replace the integers that are times (idle, delivery time) by a marker, recursively."""
    if isinstance(value, list):
        # XPENDING extended rows: [id, consumer, idle, count]
        if len(value) == 4 and isinstance(value[0], bytes) and isinstance(value[2], int):
            return [value[0], value[1], "T", value[3]]
        # XINFO STREAM FULL consumer PEL rows: [id, delivery time, count]
        if len(value) == 3 and isinstance(value[0], bytes) and isinstance(value[1], int):
            return [value[0], "T", value[2]]
        out = []
        for i, v in enumerate(value):
            if i > 0 and value[i - 1] in (b"idle", b"seen-time") and isinstance(v, int):
                out.append("T")
            else:
                out.append(mask_times(v))
        return out
    if isinstance(value, dict):
        return {k: ("T" if k in (b"idle", b"seen-time") else mask_times(v)) for k, v in value.items()}
    return value


@pytest.mark.parametrize("resp", [2, 3])
def test_consumer_groups(cachemere, redis_ref, resp):
    ours = run_sequence(cachemere.port, GROUPS, resp)[1:]
    theirs = run_sequence(redis_ref.port, GROUPS, resp)[1:]
    for cmd, a, b in zip(GROUPS[1:], ours, theirs):
        if a == b:
            continue
        if cmd[0] in ("XPENDING", "XINFO"):
            assert mask_times(parse(a, resp)) == mask_times(parse(b, resp)), (cmd, a, b)
        else:
            assert a == b, (cmd, a, b)


def test_time_dependent_fields(cachemere):
    seq = [("DEL", "t"), ("XADD", "t", "1-0", "f", "v"), ("XGROUP", "CREATE", "t", "g", "0"),
           ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "t", ">"), ("XPENDING", "t", "g", "-", "+", "10"),
           ("XINFO", "CONSUMERS", "t", "g"), ("XCLAIM", "t", "g", "d", "0", "1-0", "TIME", "1000", "JUSTID"),
           ("XINFO", "STREAM", "t", "FULL")]
    out = [parse(r) for r in run_sequence(cachemere.port, seq)]
    row = out[4][0]
    assert row[0] == b"1-0" and row[1] == b"c" and 0 <= row[2] < 5000 and row[3] == 1
    consumer = out[5][0]
    assert consumer[:4] == [b"name", b"c", b"pending", 1] and 0 <= consumer[5] < 5000
    assert out[6] == [b"1-0"]
    full = out[7]
    pending = full[full.index(b"groups") + 1][0]
    pel = pending[pending.index(b"pending") + 1]
    assert pel == [[b"1-0", b"d", 1000, 1]]


def test_xadd_autoid_is_monotonic(cachemere):
    out = [parse(r) for r in run_sequence(cachemere.port, [("DEL", "a"), ("XADD", "a", "*", "f", "1"),
                                                            ("XADD", "a", "*", "f", "2"), ("XADD", "a", "MAXLEN", "~", "1", "*", "f", "3")])]
    ids = [tuple(int(x) for x in i.split(b"-")) for i in out[1:]]
    assert ids == sorted(ids) and len(set(ids)) == 3


# ------------------------------------------------------------------------------------------------------------
# effects: what AOF and replicas receive
# ------------------------------------------------------------------------------------------------------------
def engine_with_effects():
    from engine.core import Keyspace, Dispatcher, Client
    import engine.commands  # noqa: F401
    ks = Keyspace(16)
    effects = []
    ks.effects.subscribe(effects.append)
    return ks, Dispatcher(ks), Client(ks), effects


def commands_of(effects):
    """Decode the RESP effect stream into argv lists (SELECT included)."""
    data = b"".join(effects)
    out, pos = [], 0
    while pos < len(data):
        n_end = data.index(b"\r\n", pos)
        n = int(data[pos + 1:n_end])
        pos = n_end + 2
        argv = []
        for _ in range(n):
            l_end = data.index(b"\r\n", pos)
            length = int(data[pos + 1:l_end])
            argv.append(data[l_end + 2:l_end + 2 + length])
            pos = l_end + 4 + length
        out.append(argv)
    return out


def test_xadd_and_xreadgroup_effects():
    ks, d, c, effects = engine_with_effects()
    ks.now_ms = 1000
    d.execute(c, [b"XADD", b"s", b"*", b"a", b"1"])
    d.execute(c, [b"XADD", b"s", b"1000-*", b"b", b"2"])
    d.execute(c, [b"XADD", b"s", b"maxlen", b"~", b"1", b"*", b"c", b"3"])
    d.execute(c, [b"XGROUP", b"CREATE", b"s", b"g", b"0"])
    ks.now_ms = 5000
    d.execute(c, [b"XREADGROUP", b"GROUP", b"g", b"alice", b"COUNT", b"2", b"STREAMS", b"s", b">"])
    d.execute(c, [b"XREADGROUP", b"GROUP", b"g", b"alice", b"NOACK", b"STREAMS", b"s", b">"])
    d.execute(c, [b"XREADGROUP", b"GROUP", b"g", b"alice", b"STREAMS", b"s", b"0"])
    d.execute(c, [b"XDEL", b"s", b"1000-1"])
    d.execute(c, [b"XAUTOCLAIM", b"s", b"g", b"bob", b"0", b"0"])
    assert commands_of(effects) == [
        [b"SELECT", b"0"],
        [b"XADD", b"s", b"1000-0", b"a", b"1"],
        [b"XADD", b"s", b"1000-1", b"b", b"2"],
        [b"XADD", b"s", b"maxlen", b"=", b"3", b"1000-2", b"c", b"3"],
        [b"XGROUP", b"CREATE", b"s", b"g", b"0"],
        [b"MULTI"],
        [b"XCLAIM", b"s", b"g", b"alice", b"0", b"1000-0", b"TIME", b"5000", b"RETRYCOUNT", b"1", b"FORCE",
         b"JUSTID", b"LASTID", b"1000-0"],
        [b"XCLAIM", b"s", b"g", b"alice", b"0", b"1000-1", b"TIME", b"5000", b"RETRYCOUNT", b"1", b"FORCE",
         b"JUSTID", b"LASTID", b"1000-1"],
        [b"EXEC"],
        [b"XGROUP", b"SETID", b"s", b"g", b"1000-2", b"ENTRIESREAD", b"3"],
        [b"XDEL", b"s", b"1000-1"],
        [b"MULTI"],
        [b"XCLAIM", b"s", b"g", b"bob", b"0", b"1000-0", b"TIME", b"5000", b"RETRYCOUNT", b"3", b"FORCE",
         b"JUSTID", b"LASTID", b"1000-2"],
        [b"XCLAIM", b"s", b"g", b"alice", b"0", b"1000-1", b"TIME", b"5000", b"RETRYCOUNT", b"2", b"FORCE",
         b"JUSTID", b"LASTID", b"1000-2"],
        [b"EXEC"],
    ]


def test_rdb_round_trip_and_copy():
    from engine.types.stream import StreamValue
    from engine.persistence import rdb
    ks, d, c, _ = engine_with_effects()
    ks.now_ms = 1000
    for i in range(1, 6):
        d.execute(c, [b"XADD", b"s", b"%d-0" % i, b"f", b"%d" % i])
    d.execute(c, [b"XGROUP", b"CREATE", b"s", b"g", b"0"])
    d.execute(c, [b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"2", b"STREAMS", b"s", b">"])
    d.execute(c, [b"XDEL", b"s", b"3-0"])
    s = c.db.find(b"s").value
    kind, neutral = s.to_rdb()
    rdbtype, payload = rdb.encode_value(kind, neutral)
    again = StreamValue.from_rdb(kind, neutral)
    assert again.to_rdb() == (kind, neutral)
    copied = s.copy()
    copied.groups[b"g"].ack((1, 0))
    assert len(s.groups[b"g"].pel) == 2 and len(copied.groups[b"g"].pel) == 1
    assert payload and s.encoding() == b"stream" and s.mem_estimate() > 0


EFFECT_SEQUENCE = [
    ["XADD", "e", "1-0", "f", "1"], ["XADD", "e", "2-0", "f", "2"], ["XADD", "e", "MAXLEN", "~", "1", "3-0", "f", "3"],
    ["XADD", "e", "NOMKSTREAM", "4-*", "f", "4"], ["XADD", "nokey", "NOMKSTREAM", "4-0", "f", "4"],
    ["XGROUP", "CREATE", "e", "g", "0"], ["XGROUP", "CREATE", "e", "g", "0"],
    ["XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "e", ">"],
    ["XREADGROUP", "GROUP", "g", "bob", "NOACK", "COUNT", "1", "STREAMS", "e", ">"],
    ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "e", "0"], ["XREADGROUP", "GROUP", "g", "carl", "STREAMS", "e", ">"],
    ["XCLAIM", "e", "g", "dave", "0", "1-0", "9-0"], ["XCLAIM", "e", "g", "dave", "0", "4-0", "FORCE", "LASTID", "3-5"],
    ["XCLAIM", "e", "g", "dave", "0", "99-0", "LASTID", "50-0"], ["XDEL", "e", "2-0", "77-0"],
    ["XAUTOCLAIM", "e", "g", "erin", "0", "0", "COUNT", "10"], ["XACK", "e", "g", "1-0", "5-0"],
    ["XGROUP", "CREATECONSUMER", "e", "g", "zed"], ["XGROUP", "DELCONSUMER", "e", "g", "erin"],
    ["XGROUP", "SETID", "e", "g", "$"], ["XTRIM", "e", "MAXLEN", "~", "0"], ["XTRIM", "e", "MINID", "0"],
    ["XSETID", "e", "100-0", "ENTRIESADDED", "10"], ["XGROUP", "DESTROY", "e", "g"],
    ["XADD", "e", "MINID", "~", "0", "LIMIT", "100", "101-0", "f", "v"], ["XTRIM", "e", "MAXLEN", "~", "0", "LIMIT", "100"],
]


def mask_effect_times(commands):
    out = []
    for argv in commands:
        argv = [a.lower() if i == 0 or a.upper() in (b"MAXLEN", b"SETID") else a for i, a in enumerate(argv)]
        out.append([b"T" if i > 0 and argv[i - 1] == b"TIME" else a for i, a in enumerate(argv)])
    return out


def test_effects_match_redis_aof(tmp_path):
    """The effect stream equals what redis-server 7.0.15 writes to its AOF for the same commands."""
    import glob
    import os
    import time
    from tests.support.servers import start_redis
    srv = start_redis("--appendonly", "yes", "--appendfsync", "always", workdir=str(tmp_path))
    try:
        run_sequence(srv.port, EFFECT_SEQUENCE)
        deadline = time.monotonic() + 5
        while True:
            incr = glob.glob(os.path.join(str(tmp_path), "appendonlydir", "*.incr.aof"))
            data = open(incr[0], "rb").read() if incr else b""
            if data.count(b"\r\nXTRIM\r\n") + data.count(b"\r\nxtrim\r\n") >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        srv.stop()
    theirs = commands_of([data])
    ks, d, c, effects = engine_with_effects()
    ks.now_ms = 1000
    for argv in EFFECT_SEQUENCE:
        d.execute(c, [a.encode() for a in argv])
    assert mask_effect_times(commands_of(effects)) == mask_effect_times(theirs)


DUMP_SETUP = [("DEL", "dm")] + [("XADD", "dm", f"{i}-0", "f", str(i), "g", "x" * i) for i in range(1, 150)] + [
    ("XDEL", "dm", "3-0", "140-0"), ("XGROUP", "CREATE", "dm", "ga", "0"), ("XGROUP", "CREATE", "dm", "gb", "$"),
    ("XREADGROUP", "GROUP", "ga", "c1", "COUNT", "5", "STREAMS", "dm", ">"),
    ("XREADGROUP", "GROUP", "ga", "c2", "COUNT", "3", "STREAMS", "dm", ">"), ("XGROUP", "CREATECONSUMER", "dm", "gb", "idle"),
    ("XCLAIM", "dm", "ga", "c3", "0", "2-0", "TIME", "12345", "RETRYCOUNT", "9"),
]


@pytest.mark.parametrize("source_is_redis", [True, False])
def test_dump_restore_between_servers(cachemere, redis_ref, source_is_redis):
    """A stream DUMPed by one server RESTOREs on the other with identical XINFO STREAM FULL (times included:
    they travel in the payload)."""
    source, target = (redis_ref, cachemere) if source_is_redis else (cachemere, redis_ref)
    run_sequence(source.port, DUMP_SETUP)
    src = run_sequence(source.port, [("DUMP", "dm"), ("XINFO", "STREAM", "dm", "FULL", "COUNT", "0")])
    payload = parse(src[0])
    from tests.support.servers import RawConnection
    conn = RawConnection(target.port)
    try:
        conn.command("DEL", "dm")
        assert conn.command("RESTORE", "dm", "0", payload) == b"+OK\r\n"
        info = conn.command("XINFO", "STREAM", "dm", "FULL", "COUNT", "0")
    finally:
        conn.close()
    ours, theirs = parse(info), parse(src[1])
    assert ours == theirs


# ------------------------------------------------------------------------------------------------------------
# blocking reads
# ------------------------------------------------------------------------------------------------------------
def blocked_count(conn):
    info = conn.command("INFO", "clients")
    return int(info.split(b"blocked_clients:")[1].split(b"\r\n")[0])


def blocked_reply(port, setup, blocked_cmd, triggers, resp=2):
    """Run blocked_cmd on one connection, wait until the server reports it blocked, run triggers on another
    and return (the blocked client's reply, the triggers' replies, a follow-up command's reply)."""
    from tests.support.servers import RawConnection, encode, wait_for
    waiter, other = RawConnection(port), RawConnection(port)
    try:
        if resp == 3:
            waiter.command("HELLO", "3")
        for cmd in setup:
            other.command(*cmd)
        before = blocked_count(other)
        waiter.send(encode(*blocked_cmd))
        wait_for(lambda: blocked_count(other) > before, timeout=5)
        trigger_replies = [other.command(*cmd) for cmd in triggers]
        reply = waiter.read_reply()
        return reply, trigger_replies, waiter.command("PING")
    finally:
        waiter.close()
        other.close()


BLOCKING_CASES = {
    "xread_dollar": ([("DEL", "bk"), ("XADD", "bk", "1-0", "f", "old")],
                     ("XREAD", "BLOCK", "0", "STREAMS", "bk", "$"),
                     [("XADD", "other", "1-0", "f", "v"), ("XADD", "bk", "2-0", "f", "new")]),
    "xread_new_key": ([("DEL", "bk", "bk2")],
                      ("XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "bk", "bk2", "$", "$"),
                      [("XADD", "bk2", "5-0", "a", "1", "b", "2")]),
    "xreadgroup": ([("DEL", "bk"), ("XGROUP", "CREATE", "bk", "g", "$", "MKSTREAM")],
                   ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "bk", ">"),
                   [("XADD", "bk", "3-0", "f", "v"), ("XPENDING", "bk", "g")]),
    "xreadgroup_destroyed": ([("DEL", "bk"), ("XGROUP", "CREATE", "bk", "g", "$", "MKSTREAM")],
                             ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "bk", ">"),
                             [("XGROUP", "DESTROY", "bk", "g")]),
    "xread_timeout": ([("DEL", "bk"), ("XADD", "bk", "1-0", "f", "v")],
                      ("XREAD", "BLOCK", "150", "STREAMS", "bk", "$"), []),
}


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("case", sorted(BLOCKING_CASES))
def test_blocking_reads(cachemere, redis_ref, case, resp):
    setup, blocked_cmd, triggers = BLOCKING_CASES[case]
    ours = blocked_reply(cachemere.port, setup, blocked_cmd, triggers, resp)
    theirs = blocked_reply(redis_ref.port, setup, blocked_cmd, triggers, resp)
    assert ours == theirs


def test_blocking_inside_multi_or_script_answers_at_once(cachemere, redis_ref):
    seq = [("DEL", "bm"), ("XADD", "bm", "1-0", "f", "v"), ("MULTI",), ("XREAD", "BLOCK", "0", "STREAMS", "bm", "$"),
           ("EXEC",), ("XGROUP", "CREATE", "bm", "g", "$"),
           ("EVAL", "return redis.call('XREAD','BLOCK','0','STREAMS','bm','$')", "0"),
           ("EVAL", "return redis.call('XREADGROUP','GROUP','g','c','BLOCK','0','STREAMS','bm','>')", "0"),
           ("EVAL", "return redis.call('XREAD','STREAMS','bm','0')", "0")]
    assert run_sequence(cachemere.port, seq)[1:] == run_sequence(redis_ref.port, seq)[1:]


def several_consumers_run(port, resp, count):
    """Three consumers block on XREADGROUP ... BLOCK 0 STREAMS s > (in that order); another client adds one entry,
    then two more (three with COUNT 1) in one EXEC, then one last entry.  Returns every reply and state seen."""
    from tests.support.servers import RawConnection, encode, wait_for
    other = RawConnection(port)
    out = {}
    consumers = []
    try:
        other.command("DEL", "mc")
        out["create"] = other.command("XGROUP", "CREATE", "mc", "g", "$", "MKSTREAM")
        before = blocked_count(other)
        for i in range(1, 4):
            conn = RawConnection(port)
            consumers.append(conn)
            if resp == 3:
                conn.command("HELLO", "3")
            conn.send(encode("XREADGROUP", "GROUP", "g", f"c{i}", *(("COUNT", "1") if count else ()),
                             "BLOCK", "0", "STREAMS", "mc", ">"))
            wait_for(lambda: blocked_count(other) == before + i, timeout=5)    # blocked in this order
        out["blocked_0"] = blocked_count(other) - before
        out["xadd"] = other.command("XADD", "mc", "1-0", "f", "a")
        out["served_1"] = [conn.read_until_quiet(settle=0.15) for conn in consumers]
        out["blocked_1"] = blocked_count(other) - before
        extra = [("XADD", "mc", "2-1", "f", "b2")] if count else []
        other.send(b"".join(encode(*cmd) for cmd in [("MULTI",), ("XADD", "mc", "2-0", "f", "b")] + extra +
                            [("XADD", "mc", "3-0", "f", "c"), ("EXEC",)]))
        out["exec"] = other.read_until_quiet(settle=0.15)
        out["served_2"] = [conn.read_until_quiet(settle=0.15) for conn in consumers]
        out["blocked_2"] = blocked_count(other) - before
        out["xpending"] = other.command("XPENDING", "mc", "g")
        out["xpending_rows"] = mask_times(parse(other.command("XPENDING", "mc", "g", "-", "+", "10")))
        out["xinfo_consumers"] = mask_times(parse(other.command("XINFO", "CONSUMERS", "mc", "g")))
        out["xinfo_groups"] = other.command("XINFO", "GROUPS", "mc")
        out["xadd_last"] = other.command("XADD", "mc", "4-0", "f", "d")
        out["served_3"] = [conn.read_until_quiet(settle=0.15) for conn in consumers]
        out["blocked_3"] = blocked_count(other) - before
        out["xpending_last"] = other.command("XPENDING", "mc", "g")
    finally:
        for conn in consumers + [other]:
            conn.close()
    return out


@pytest.mark.parametrize("count", [False, True], ids=["nocount", "count1"])
@pytest.mark.parametrize("resp", [2, 3])
def test_several_blocked_xreadgroup_consumers(cachemere, redis_ref, resp, count):
    ours = several_consumers_run(cachemere.port, resp, count)
    theirs = several_consumers_run(redis_ref.port, resp, count)
    for key in theirs:
        assert ours[key] == theirs[key], (key, ours[key], theirs[key])
    # what redis does, so that the comparison cannot be vacuous: the first blocked consumer takes 1-0, the
    # others stay blocked on ">" until entries newer than the group's last id arrive
    assert theirs["blocked_0"] == 3 and theirs["blocked_1"] == 2
    assert theirs["served_1"][0] and not theirs["served_1"][1] and not theirs["served_1"][2]
    assert theirs["blocked_2"] == (0 if count else 1) and theirs["blocked_3"] == 0


@pytest.mark.parametrize("resp", [2, 3])
def test_xreadgroup_block_inside_multi_does_not_block(cachemere, redis_ref, resp):
    seq = [("DEL", "mb"), ("XGROUP", "CREATE", "mb", "g", "$", "MKSTREAM"),
           ("MULTI",), ("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "mb", ">"), ("EXEC",),
           ("XADD", "mb", "1-0", "f", "v"),
           ("MULTI",), ("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "mb", ">"),
           ("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "mb", ">"),
           ("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "mb", "0"), ("EXEC",),
           ("XPENDING", "mb", "g"), ("XINFO", "CONSUMERS", "mb", "g")]
    # a server that blocked there would never answer EXEC: run_sequence's read times out and the test fails
    ours = run_sequence(cachemere.port, seq, resp)[1:]
    theirs = run_sequence(redis_ref.port, seq, resp)[1:]
    for cmd, a, b in zip(seq[1:], ours, theirs):
        if cmd[0] == "XINFO":
            a, b = mask_times(parse(a, resp)), mask_times(parse(b, resp))
        assert a == b, (cmd, a, b)
    assert theirs[3] == (b"*1\r\n_\r\n" if resp == 3 else b"*1\r\n*-1\r\n")
