"""XREADGROUP's compiled `>` path (engine/commands/t_stream.pyx xreadgroup_impl) against redis-server 7.0.15, RESP2
and RESP3: COUNT larger than the stream, COUNT 0 / negative / absent, reads across nodes with deleted entries in
between, a new consumer, an empty result, keywords in any case, BLOCK when there is something to serve, the forms that go to the generic path (COUNT
first, NOACK, BLOCK with nothing to serve, a PEL above last-delivered after XGROUP SETID, missing key or group, another type, a TTL), then
the PEL (XPENDING summary and extended, XINFO GROUPS/CONSUMERS/STREAM FULL with the times masked), XACK and
XCLAIM on what the fast path recorded."""
import pytest

from tests.support.diff import parse, run_sequence


def mask_times(value):
    """Times (idle, delivery time, seen-time) replaced by a marker, recursively."""
    if isinstance(value, list):
        if len(value) == 4 and isinstance(value[0], bytes) and isinstance(value[2], int):
            return [value[0], value[1], "T", value[3]]             # XPENDING extended row
        if len(value) == 3 and isinstance(value[0], bytes) and isinstance(value[1], int):
            return [value[0], "T", value[2]]                       # XINFO FULL consumer PEL row
        if len(value) == 4 and isinstance(value[0], bytes) and isinstance(value[1], bytes) \
                and isinstance(value[2], int) and isinstance(value[3], int):
            return [value[0], value[1], "T", value[3]]             # XINFO FULL group PEL row
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


def xadds(key, lo, hi):
    return [("XADD", key, f"{i}-1", "f", str(i)) for i in range(lo, hi)]


SEQ = [("DEL", "xs", "xstr", "xttl", "xe")] + xadds("xs", 1, 251) + [
    ("XGROUP", "CREATE", "xs", "g", "0"), ("XGROUP", "CREATE", "xs", "h", "$"), ("XGROUP", "CREATE", "xs", "k", "0"),
    ("XINFO", "GROUPS", "xs"),
    # a new consumer, COUNT across the first node boundary (100 entries per node)
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "xs", ">"),
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "120", "STREAMS", "xs", ">"),
    ("XINFO", "CONSUMERS", "xs", "g"), ("XPENDING", "xs", "g"),
    # deleted entries between the group's last id and the next reads (entries-read / lag then estimated)
    ("XDEL", "xs", "124-1", "125-1", "126-1", "200-1"), ("XINFO", "GROUPS", "xs"),
    ("xreadgroup", "group", "g", "bob", "count", "5", "streams", "xs", ">"), ("XINFO", "GROUPS", "xs"),
    ("XREADGROUP", "Group", "g", "bob", "Count", "-3", "Streams", "xs", ">"),       # negative COUNT: all
    ("XINFO", "GROUPS", "xs"), ("XPENDING", "xs", "g"),
    # nothing new: empty (null) result, no consumer made
    ("XREADGROUP", "GROUP", "g", "carol", "COUNT", "10", "STREAMS", "xs", ">"), ("XINFO", "CONSUMERS", "xs", "g"),
    ("XREADGROUP", "GROUP", "h", "dave", "STREAMS", "xs", ">"), ("XINFO", "CONSUMERS", "xs", "h"),
    ("XADD", "xs", "300-0", "a", "1", "b", "2"), ("XADD", "xs", "300-5", "f", ""),
    ("XREADGROUP", "GROUP", "h", "dave", "COUNT", "0", "STREAMS", "xs", ">"),
    # COUNT larger than the stream, no COUNT at all
    ("XREADGROUP", "GROUP", "k", "erin", "COUNT", "100000", "STREAMS", "xs", ">"),
    ("XADD", "xs", "301-0", "f", "z"), ("XREADGROUP", "GROUP", "k", "erin", "STREAMS", "xs", ">"),
    # BLOCK with something to serve (the fast path), and with nothing (the generic path times out)
    ("XADD", "xs", "301-1", "f", "b1"), ("XADD", "xs", "301-2", "f", "b2"),
    ("XREADGROUP", "GROUP", "k", "erin", "BLOCK", "10", "COUNT", "1", "STREAMS", "xs", ">"),
    ("XREADGROUP", "GROUP", "k", "erin", "COUNT", "5", "BLOCK", "0", "STREAMS", "xs", ">"),
    ("XREADGROUP", "GROUP", "k", "erin", "COUNT", "5", "BLOCK", "10", "STREAMS", "xs", ">"),
    ("XREADGROUP", "GROUP", "k", "erin", "BLOCK", "-1", "STREAMS", "xs", ">"),
    ("XREADGROUP", "GROUP", "k", "erin", "BLOCK", "x", "STREAMS", "xs", ">"),
    ("XINFO", "GROUPS", "xs"), ("XPENDING", "xs", "k", "-", "+", "5"), ("XPENDING", "xs", "k", "-", "+", "3", "erin"),
    ("XPENDING", "xs", "k", "IDLE", "0", "299", "+", "10"),
    # the generic path's forms, beside
    ("XREADGROUP", "COUNT", "2", "GROUP", "g", "frank", "STREAMS", "xs", ">"),
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "xs", "0"),
    ("XREADGROUP", "GROUP", "nog", "alice", "COUNT", "2", "STREAMS", "xs", ">"),
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "nokey", ">"),
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "x", "STREAMS", "xs", ">"),
    ("SET", "xstr", "v"), ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "xstr", ">"),
    ("XGROUP", "SETID", "xs", "g", "100-1"),
    ("XREADGROUP", "GROUP", "g", "gina", "COUNT", "4", "STREAMS", "xs", ">"),      # PEL above last id: generic
    ("XPENDING", "xs", "g", "-", "+", "10"), ("XINFO", "GROUPS", "xs"),
    ("XGROUP", "SETID", "xs", "g", "$"), ("XADD", "xs", "302-0", "f", "y"),
    ("XREADGROUP", "GROUP", "g", "gina", "COUNT", "4", "STREAMS", "xs", ">"),
    ("XREADGROUP", "GROUP", "g", "gina", "NOACK", "STREAMS", "xs", ">"),
    # what the fast reads recorded: ack, claim, history, full info
    ("XACK", "xs", "g", "1-1", "2-1", "3-1", "124-1"), ("XPENDING", "xs", "g"),
    ("XCLAIM", "xs", "g", "henry", "0", "4-1", "5-1", "JUSTID"), ("XINFO", "CONSUMERS", "xs", "g"),
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "xs", "0"),
    ("XAUTOCLAIM", "xs", "k", "ivan", "0", "0", "COUNT", "3", "JUSTID"),
    ("XINFO", "STREAM", "xs", "FULL", "COUNT", "4"),
    ("XGROUP", "DELCONSUMER", "xs", "g", "bob"), ("XPENDING", "xs", "g"),
    # a TTL on the key: the generic path (lazy expiry) serves it
    ("XADD", "xttl", "1-0", "f", "v"), ("XGROUP", "CREATE", "xttl", "g", "0"), ("PEXPIRE", "xttl", "100000"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "xttl", ">"), ("XPENDING", "xttl", "g"),
    # an empty stream (MKSTREAM) and one whose every new entry was deleted
    ("XGROUP", "CREATE", "xe", "g", "$", "MKSTREAM"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "xe", ">"),
    ("XADD", "xe", "5-0", "f", "v"), ("XADD", "xe", "6-0", "f", "v"), ("XDEL", "xe", "5-0", "6-0"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "xe", ">"), ("XINFO", "GROUPS", "xe"),
    ("XADD", "xe", "7-0", "f", "w"), ("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "xe", ">"),
    ("XINFO", "GROUPS", "xe"), ("INFO", "keyspace"),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_xreadgroup_fast_path(cachemere, redis_ref, resp):
    ours = run_sequence(cachemere.port, SEQ, resp)
    theirs = run_sequence(redis_ref.port, SEQ, resp)
    for cmd, a, b in zip(SEQ, ours, theirs):
        if a == b:
            continue
        if cmd[0] in ("XPENDING", "XINFO"):
            assert mask_times(parse(a, resp)) == mask_times(parse(b, resp)), (cmd, a, b)
        elif cmd[0] == "INFO":
            continue
        else:
            assert a == b, (cmd, a, b)


def test_xreadgroup_fast_keyspace_hits(cachemere, redis_ref):
    """Two hits per served stream read, as redis's two lookups (INFO stats keyspace_hits / misses)."""
    seq = [("DEL", "xh"), ("XADD", "xh", "1-0", "f", "v"), ("XGROUP", "CREATE", "xh", "g", "0"), ("CONFIG", "RESETSTAT"),
           ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "xh", ">"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "xh", ">"),
           ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">"), ("INFO", "stats")]

    def hits(port):
        info = run_sequence(port, seq)[-1].decode()
        return [line for line in info.split("\r\n") if line.startswith(("keyspace_hits", "keyspace_misses"))]

    assert hits(cachemere.port) == hits(redis_ref.port)
