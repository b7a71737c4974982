"""Keyspace notifications (the change feed) against redis-server 7.0.15: for every event class, the same command
mix over every type publishes the same messages, in the same order, on both servers.

A subscriber PSUBSCRIBEs '__key*__:*' and SUBSCRIBEs a sentinel channel; after each command the client
PUBLISHes to the sentinel, so the messages a command caused are exactly those read before the sentinel comes
back (no timing guesses). Replies are compared too: the same state on both sides is what makes the events
comparable. The pair of servers belongs to this module (FLUSHALL, SELECT, SWAPDB and DEBUG SET-ACTIVE-EXPIRE
are used freely); active expiry is switched off while a mix runs so only lazy expiry (deterministic) fires.
"""
import re
import time

import hiredis
import pytest

from tests.support.diff import parse
from tests.support.servers import RawConnection, encode, start_cachemere, wait_for

RESTORE_PAYLOAD = b"\x00\x01v\n\x00\x91\x08\xce\xb2\x198\x8a\xce"     # DUMP of the string "v" (redis 7.0, RDB 10)
SLEEP = "SLEEP"          # pseudo-command: the client waits (keys set with PX 1 are then logically expired)

STRINGS = [
    ("SET", "s1", "v"), ("SET", "s1", "w"), ("SET", "s2", "v", "EX", "100"), ("SET", "s1", "x", "NX"),
    ("SET", "s3", "x", "XX"), ("SET", "s3", "x", "GET"), ("SET", "s3", "y", "GET"), ("SET", "s1", "v", "KEEPTTL"),
    ("GET", "s1"), ("GET", "nos"), ("MGET", "s1", "nos", "s2", "nos2"), ("SETNX", "s4", "1"), ("SETNX", "s4", "2"),
    ("SETEX", "s5", "100", "v"), ("PSETEX", "s5", "100000", "w"), ("GETSET", "s6", "x"), ("GETSET", "s6", "y"),
    ("GETEX", "s6", "EX", "100"), ("GETEX", "nos", "EX", "100"), ("GETEX", "s6", "PERSIST"), ("GETDEL", "s6"),
    ("GETDEL", "s6"), ("APPEND", "s7", "x"), ("APPEND", "s7", "y"), ("APPEND", "s8", ""), ("SETRANGE", "s9", "5", "z"),
    ("SETRANGE", "s7", "1", "q"), ("SETRANGE", "s10", "0", ""), ("INCR", "n1"), ("INCR", "n1"), ("DECR", "n2"),
    ("INCRBY", "n3", "5"), ("DECRBY", "n3", "2"), ("INCRBYFLOAT", "n4", "1.5"), ("INCRBYFLOAT", "n4", "1.5"),
    ("MSET", "m1", "1", "m2", "2"), ("MSETNX", "m3", "1", "m4", "2"), ("MSETNX", "m3", "1", "m5", "2"),
    ("STRLEN", "s1"), ("STRLEN", "nos"), ("GETRANGE", "nos", "0", "1"), ("GETRANGE", "s1", "0", "1"),
    ("SUBSTR", "nos", "0", "1"), ("LCS", "s1", "nos"), ("LCS", "nos", "nos2"), ("SET", "h", "x", "GET"),
    ("SETBIT", "b1", "7", "1"), ("SETBIT", "b1", "7", "1"), ("SETBIT", "b1", "7", "0"), ("GETBIT", "nob", "1"),
    ("BITCOUNT", "nob"), ("BITPOS", "nob", "1"), ("BITOP", "AND", "b2", "b1", "nob"), ("BITOP", "OR", "b3", "nob", "nob2"),
    ("BITOP", "NOT", "b2", "nob"), ("BITFIELD", "bf", "SET", "u8", "0", "5"), ("BITFIELD", "bf", "SET", "u8", "0", "5"),
    ("BITFIELD", "bf2", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "8"), ("BITFIELD", "nobf", "GET", "u8", "0"),
    ("BITFIELD_RO", "nobf", "GET", "u8", "0"), ("PFADD", "h1", "a"), ("PFADD", "h1", "a"), ("PFADD", "h2"),
    ("PFCOUNT", "noh"), ("PFCOUNT", "h1"), ("PFCOUNT", "h1", "noh"), ("PFMERGE", "h3", "h1", "noh"),
    ("PFMERGE", "h3", "noh"), ("PFMERGE", "h4"),
]
LISTS = [
    ("LPUSH", "l1", "a", "b"), ("RPUSH", "l1", "c"), ("LPUSHX", "l2", "a"), ("RPUSHX", "l2", "a"), ("LPUSHX", "l1", "z"),
    ("LRANGE", "l1", "0", "-1"), ("LRANGE", "nol", "0", "-1"), ("LLEN", "nol"), ("LINDEX", "nol", "0"),
    ("LPOS", "nol", "a"), ("LPOS", "l1", "a"), ("LPOP", "nol"), ("RPOP", "nol"), ("LPOP", "l1"), ("RPOP", "l1", "2"),
    ("LSET", "l1", "0", "q"), ("LSET", "nol", "0", "q"), ("LINSERT", "l1", "BEFORE", "q", "p"),
    ("LINSERT", "nol", "BEFORE", "q", "p"), ("LREM", "l1", "0", "p"), ("LREM", "nol", "0", "p"), ("LTRIM", "l1", "0", "0"),
    ("LTRIM", "nol", "0", "0"), ("RPUSH", "l3", "a", "b", "c"), ("RPOPLPUSH", "l3", "l4"), ("RPOPLPUSH", "nol", "l4"),
    ("LMOVE", "l3", "l4", "LEFT", "RIGHT"), ("LMOVE", "l3", "l3", "LEFT", "RIGHT"), ("LMOVE", "l3", "l5", "RIGHT", "LEFT"),
    ("LMPOP", "2", "nol", "l4", "LEFT"), ("LMPOP", "1", "nol", "RIGHT"), ("BLPOP", "l4", "0.01"), ("BLPOP", "nol", "0.01"),
    ("BRPOPLPUSH", "l4", "l6", "0.01"), ("BLMOVE", "nol", "l6", "LEFT", "LEFT", "0.01"), ("BLMPOP", "0.01", "1", "l6", "LEFT"),
    ("LTRIM", "l5", "1", "0"), ("RPUSH", "l7", "a"), ("LREM", "l7", "0", "a"), ("SORT", "nol"),
    ("SORT", "l1", "ALPHA", "STORE", "sl1"), ("SORT", "nol", "STORE", "sl1"), ("SORT_RO", "nol"), ("RPUSH", "l8", "2", "1"),
    ("SORT", "l8", "BY", "w_*", "GET", "o_*"), ("SORT", "l8", "STORE", "l8"),
]
SETS = [
    ("SADD", "t1", "a", "b"), ("SADD", "t1", "a"), ("SREM", "t1", "a"), ("SREM", "nost", "a"), ("SREM", "t1", "b"),
    ("SADD", "t2", "1", "2", "3"), ("SISMEMBER", "nost", "a"), ("SMISMEMBER", "nost", "a"), ("SMEMBERS", "nost"),
    ("SCARD", "nost"), ("SRANDMEMBER", "nost"), ("SRANDMEMBER", "nost", "3"), ("SPOP", "nost"), ("SPOP", "t2", "5"),
    ("SADD", "t0", "7"), ("SPOP", "t0"), ("SADD", "t3", "a", "b"), ("SADD", "t4", "b", "c"), ("SMOVE", "t3", "t5", "a"),
    ("SMOVE", "t3", "t5", "b"), ("SMOVE", "nost", "t5", "b"), ("SMOVE", "t5", "t5", "a"), ("SINTER", "t4", "nost"),
    ("SINTERCARD", "1", "nost"), ("SUNION", "nost"), ("SDIFF", "nost", "t4"), ("SINTERSTORE", "t6", "t4", "t5"),
    ("SINTERSTORE", "t6", "t4", "nost"), ("SUNIONSTORE", "t7", "t4", "nost"), ("SUNIONSTORE", "t7", "nost"),
    ("SDIFFSTORE", "t8", "t4", "t5"), ("SDIFFSTORE", "t8", "nost"), ("SSCAN", "nost", "0"), ("SADD", "t9", "1", "2", "3"),
    ("SORT", "t9", "STORE", "t9s"),
]
HASHES = [
    ("HSET", "hh1", "f", "v"), ("HSET", "hh1", "f", "w", "g", "x"), ("HSETNX", "hh1", "f", "y"), ("HSETNX", "hh2", "f", "y"),
    ("HMSET", "hh3", "a", "1"), ("HGET", "nohh", "f"), ("HGET", "hh1", "nof"), ("HMGET", "nohh", "a"), ("HGETALL", "nohh"),
    ("HKEYS", "nohh"), ("HVALS", "nohh"), ("HLEN", "nohh"), ("HEXISTS", "nohh", "a"), ("HSTRLEN", "nohh", "a"),
    ("HRANDFIELD", "nohh"), ("HRANDFIELD", "nohh", "2", "WITHVALUES"), ("HSCAN", "nohh", "0"), ("HINCRBY", "hh4", "a", "1"),
    ("HINCRBYFLOAT", "hh4", "b", "1.5"), ("HINCRBYFLOAT", "hh5", "b", "1.5"), ("HDEL", "hh1", "f"), ("HDEL", "hh1", "g"),
    ("HDEL", "nohh", "g"),
]
ZSETS = [
    ("ZADD", "z1", "1", "a", "2", "b"), ("ZADD", "z1", "1", "a"), ("ZADD", "z1", "INCR", "1", "a"),
    ("ZADD", "z1", "NX", "1", "a"), ("ZADD", "z0", "XX", "1", "a"), ("ZADD", "z0", "GT", "1", "a"), ("ZINCRBY", "z2", "1", "a"),
    ("ZREM", "z2", "a"), ("ZREM", "noz", "a"), ("ZSCORE", "noz", "a"), ("ZMSCORE", "noz", "a"), ("ZRANGE", "noz", "0", "-1"),
    ("ZRANGEBYSCORE", "noz", "0", "1"), ("ZREVRANGE", "noz", "0", "1"), ("ZCARD", "noz"), ("ZCOUNT", "noz", "0", "1"),
    ("ZRANK", "noz", "a"), ("ZREVRANK", "noz", "a"), ("ZLEXCOUNT", "noz", "-", "+"), ("ZRANDMEMBER", "noz"),
    ("ZRANDMEMBER", "noz", "2"), ("ZSCAN", "noz", "0"), ("ZPOPMIN", "noz"), ("ZPOPMAX", "z1"),
    ("ZADD", "z3", "1", "a", "2", "b", "3", "c"), ("ZREMRANGEBYSCORE", "z3", "1", "1"), ("ZREMRANGEBYRANK", "z3", "0", "0"),
    ("ZREMRANGEBYLEX", "z3", "-", "+"), ("ZREMRANGEBYSCORE", "noz", "1", "1"), ("ZADD", "z4", "1", "a", "2", "b"),
    ("ZUNIONSTORE", "z5", "2", "z4", "noz"), ("ZINTERSTORE", "z6", "2", "z4", "noz"), ("ZINTERSTORE", "z5", "2", "z4", "noz"),
    ("ZDIFFSTORE", "z7", "1", "z4"), ("ZUNION", "2", "noz", "z4"), ("ZINTER", "1", "noz"), ("ZDIFF", "1", "noz"),
    ("ZINTERCARD", "1", "noz"), ("ZRANGESTORE", "z8", "z4", "0", "-1"), ("ZRANGESTORE", "z8", "noz", "0", "-1"),
    ("ZMPOP", "1", "noz", "MIN"), ("ZMPOP", "2", "noz", "z4", "MIN", "COUNT", "5"), ("BZPOPMIN", "noz", "0.01"),
    ("ZADD", "z9", "1", "a"), ("BZPOPMAX", "z9", "0.01"), ("BZMPOP", "0.01", "1", "noz", "MIN"),
    ("GEOADD", "g1", "13.36", "38.11", "p"), ("GEOADD", "g1", "15.08", "37.50", "q"), ("GEOADD", "g1", "15.08", "37.50", "q"),
    ("GEOADD", "g0", "XX", "13.36", "38.11", "p"), ("GEOPOS", "nog", "p"), ("GEODIST", "nog", "p", "q"),
    ("GEOHASH", "nog", "p"), ("GEOSEARCH", "nog", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
    ("GEOSEARCHSTORE", "g2", "g1", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
    ("GEOSEARCHSTORE", "g3", "nog", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
    ("GEORADIUS", "g1", "15", "37", "200", "km", "STORE", "g4"), ("GEORADIUS", "nog", "15", "37", "200", "km"),
    ("GEORADIUSBYMEMBER", "g1", "p", "10", "km", "STOREDIST", "g5"),
]
STREAMS = [
    ("XADD", "x1", "1-1", "f", "v"), ("XADD", "x1", "2-1", "f", "v"), ("XADD", "x2", "NOMKSTREAM", "*", "f", "v"),
    ("XLEN", "nox"), ("XRANGE", "nox", "-", "+"), ("XREVRANGE", "nox", "+", "-"), ("XREAD", "STREAMS", "nox", "0"),
    ("XREAD", "STREAMS", "x1", "nox", "0", "0"), ("XREAD", "COUNT", "1", "STREAMS", "x1", "0"),
    ("XGROUP", "CREATE", "x1", "g1", "0"), ("XGROUP", "CREATE", "x3", "g1", "0", "MKSTREAM"),
    ("XGROUP", "CREATE", "nox", "g1", "0"), ("XGROUP", "CREATECONSUMER", "x1", "g1", "c1"),
    ("XREADGROUP", "GROUP", "g1", "c2", "STREAMS", "x1", ">"), ("XREADGROUP", "GROUP", "g1", "c2", "STREAMS", "nox", ">"),
    ("XACK", "x1", "g1", "1-1"), ("XACK", "nox", "g1", "1-1"), ("XPENDING", "x1", "g1"), ("XPENDING", "nox", "g1"),
    ("XCLAIM", "x1", "g1", "c3", "0", "2-1", "JUSTID"), ("XAUTOCLAIM", "x1", "g1", "c4", "0", "0", "JUSTID"),
    ("XAUTOCLAIM", "nox", "g1", "c4", "0", "0"), ("XGROUP", "SETID", "x1", "g1", "0"),
    ("XGROUP", "DELCONSUMER", "x1", "g1", "c1"), ("XINFO", "GROUPS", "nox"), ("XGROUP", "DESTROY", "x1", "g1"),
    ("XTRIM", "x1", "MAXLEN", "1"), ("XTRIM", "nox", "MAXLEN", "1"), ("XDEL", "x1", "2-1"), ("XDEL", "nox", "2-1"),
    ("XSETID", "x1", "5-0"), ("XSETID", "nox", "5-0"), ("XINFO", "STREAM", "nox"), ("XADD", "x4", "MAXLEN", "1", "9-1", "f", "v"),
    ("XREAD", "BLOCK", "10", "STREAMS", "nox", "$"), ("DEL", "x4"),
]
GENERIC = [
    ("SET", "k1", "v"), ("DEL", "k1", "nok"), ("SET", "k2", "v"), ("UNLINK", "k2", "nok"), ("EXISTS", "nok"),
    ("EXISTS", "nok", "nok2", "nok"), ("TYPE", "nok"), ("TTL", "nok"), ("PTTL", "nok"), ("EXPIRETIME", "nok"),
    ("PEXPIRETIME", "nok"), ("OBJECT", "ENCODING", "nok"), ("OBJECT", "FREQ", "nok"), ("OBJECT", "IDLETIME", "nok"),
    ("OBJECT", "REFCOUNT", "nok"), ("TOUCH", "nok"), ("DUMP", "nok"), ("SET", "k3", "v"), ("RENAME", "k3", "k4"),
    ("SET", "k5", "v"), ("RENAME", "k4", "k5"), ("RENAMENX", "k5", "k6"), ("SET", "k7", "v"), ("RENAMENX", "k6", "k7"),
    ("RENAME", "k6", "k6"), ("RENAME", "nok", "k6"), ("EXPIRE", "k6", "100"), ("PEXPIRE", "k6", "100000"),
    ("EXPIREAT", "k6", "99999999999"), ("PEXPIREAT", "k6", "99999999999999"), ("EXPIRE", "k6", "100", "NX"),
    ("EXPIRE", "nok", "100"), ("PERSIST", "k6"), ("PERSIST", "k6"), ("PERSIST", "nok"), ("TTL", "k6"),
    ("EXPIRE", "k7", "0"), ("SET", "k8", "v"), ("PEXPIREAT", "k8", "1"), ("SET", "k9", "v"), ("COPY", "k9", "k10"),
    ("COPY", "k9", "k10"), ("COPY", "k9", "k10", "REPLACE"), ("COPY", "nok", "k11"), ("COPY", "k9", "k9db", "DB", "1"),
    ("MOVE", "k9", "2"), ("MOVE", "nok", "2"), ("SET", "k9", "again"), ("MOVE", "k9", "2"), ("SET", "k12", "v"),
    ("DUMP", "k12"), ("TOUCH", "k12", "nok", "k12"), ("TYPE", "k12"), ("RESTORE", "k13", "0", RESTORE_PAYLOAD),
    ("RESTORE", "k13", "0", RESTORE_PAYLOAD, "REPLACE"), ("RESTORE", "k14", "100000", RESTORE_PAYLOAD),
    ("RESTORE", "k13", "0", RESTORE_PAYLOAD), ("SCAN", "0", "MATCH", "zz*"), ("KEYS", "zz*"), ("DBSIZE",),
    ("SELECT", "3"), ("SET", "d3", "v"), ("GET", "nok3"), ("LPUSH", "d3l", "a"), ("DEL", "d3"), ("SELECT", "0"),
    ("SWAPDB", "0", "5"), ("GET", "k12"), ("SWAPDB", "0", "5"),
    ("MULTI",), ("SET", "mk", "1"), ("GET", "nok"), ("INCR", "mk"), ("EXEC",),
    ("EVAL", "redis.call('set', KEYS[1], 'x'); return redis.call('get', KEYS[2])", "2", "ek", "nok"),
    ("EVAL", "return redis.call('exists', KEYS[1], KEYS[2])", "2", "nok", "ek"),
    ("EVAL", "return redis.pcall('hget', KEYS[1], 'x')", "1", "nok"),
    ("FLUSHDB",), ("SET", "k19", "v"), ("FLUSHALL",),
]
# keys that are logically expired (PX 1, then a wait) but not reclaimed yet: lazy expiry ("expired") first,
# then what the command does ("keymiss" for a read, "new" for a write that recreates the key)
EXPIRY = [
    ("SET", "e1", "v", "PX", "1"), ("RPUSH", "e2", "a"), ("PEXPIRE", "e2", "1"), ("SADD", "e3", "a"), ("PEXPIRE", "e3", "1"),
    ("HSET", "e4", "f", "v"), ("PEXPIRE", "e4", "1"), ("ZADD", "e5", "1", "a"), ("PEXPIRE", "e5", "1"),
    ("SET", "e6", "1", "PX", "1"), ("SET", "e7", "1", "PX", "1"), ("SET", "e8", "1", "PX", "1"), ("SET", "e9", "1", "PX", "1"),
    ("XADD", "e10", "1-1", "f", "v"), ("PEXPIRE", "e10", "1"), ("SET", "e11", "v", "PX", "1"), ("SET", "e12", "v", "PX", "1"),
    ("SET", "e13", "v", "PX", "1"), ("SET", "e14", "v", "PX", "1"), ("SET", "e15", "v", "PX", "1"),
    ("SET", "e16", "v", "PX", "1"), ("SET", "e17", "v", "PX", "1"), ("SET", "e18", "v", "PX", "1"),
    (SLEEP, 0.05),
    ("GET", "e1"), ("RPUSH", "e2", "b"), ("SISMEMBER", "e3", "a"), ("SADD", "e3", "b"), ("HGET", "e4", "f"),
    ("ZADD", "e5", "XX", "1", "a"), ("INCR", "e6"), ("APPEND", "e7", "x"), ("GETDEL", "e8"), ("GETEX", "e9", "PERSIST"),
    ("XLEN", "e10"), ("EXISTS", "e11", "e11"), ("MSET", "e12", "1", "e19", "2"), ("SET", "e13", "w"), ("TTL", "e14"),
    ("TYPE", "e15"), ("OBJECT", "ENCODING", "e16"), ("RENAME", "e17", "e20"), ("COPY", "e18", "e21"),
]
FAMILIES = {"strings": STRINGS, "lists": LISTS, "sets": SETS, "hashes": HASHES, "zsets": ZSETS, "streams": STREAMS,
            "generic": GENERIC, "expiry": EXPIRY}
FLAG_CLASSES = ["Kg", "Eg", "E$", "El", "Es", "Eh", "Ez", "Et", "Ex", "Ee", "Kn", "En", "Em", "KEA", "KEAnm"]


@pytest.fixture(scope="module")
def pair(debug_pair):
    """This module's own Cachemere and redis-server, DEBUG enabled for SET-ACTIVE-EXPIRE."""
    return debug_pair


def read_until_sentinel(sub, deadline, pattern=b"__key*__:*"):
    """The raw keyspace messages (of `pattern`) before the sentinel message (bounded by deadline)."""
    msgs = []
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("no sentinel message in time")
        raw = sub.read_reply()
        value = parse(raw)
        if value[0] == b"message":
            assert value[1] == b"sentinel", value
            return msgs
        assert value[0] == b"pmessage" and value[1] == pattern, value
        msgs.append(raw)


def capture(port, flags, commands):
    """[(command, reply, [raw pmessage...])] for commands run on one connection with notify-keyspace-events
    set to flags; the keyspace is flushed first and active expiry is off while they run."""
    sub, cli = RawConnection(port), RawConnection(port)
    out = []
    try:
        assert cli.command("FLUSHALL") == b"+OK\r\n"
        assert cli.command("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
        assert cli.command("CONFIG", "SET", "notify-keyspace-events", flags) == b"+OK\r\n"
        sub.command("PSUBSCRIBE", "__key*__:*")
        sub.command("SUBSCRIBE", "sentinel")
        in_multi = False
        deadline = time.monotonic() + 60
        for cmd in commands:
            if cmd[0] == SLEEP:
                time.sleep(cmd[1])
                continue
            reply = cli.command(*cmd)
            name = str(cmd[0]).upper()
            if name == "MULTI":
                in_multi = True
            elif name in ("EXEC", "DISCARD"):
                in_multi = False
            if in_multi:                      # a PUBLISH would be queued: the events come with EXEC
                out.append((cmd, reply, []))
                continue
            assert cli.command("PUBLISH", "sentinel", "x") == b":1\r\n"
            out.append((cmd, reply, read_until_sentinel(sub, deadline)))
    finally:
        cli.command("CONFIG", "SET", "notify-keyspace-events", "")
        cli.command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        cli.command("SELECT", "0")
        sub.close()
        cli.close()
    return out


def readable(raw_messages):
    return [tuple(parse(m)[2:]) for m in raw_messages]


def assert_same_feed(ours_port, theirs_port, flags, commands):
    theirs = capture(theirs_port, flags, commands)
    ours = capture(ours_port, flags, commands)
    for (cmd, their_reply, their_msgs), (_, our_reply, our_msgs) in zip(theirs, ours):
        assert our_reply == their_reply, (flags, cmd, our_reply, their_reply)
        assert our_msgs == their_msgs, (flags, cmd, readable(our_msgs), readable(their_msgs))
    assert len(ours) == len(theirs)
    return theirs


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("flags", FLAG_CLASSES)
def test_same_events_as_redis(pair, flags, family):
    ours, theirs = pair
    assert_same_feed(ours.port, theirs.port, flags, FAMILIES[family])


# what each class must produce somewhere in the mixes (so a class that publishes nothing cannot pass quietly)
EXPECTED = {
    "Kg": b"__keyspace@0__:k1", "Eg": b"__keyevent@0__:restore", "E$": b"__keyevent@0__:incrbyfloat",
    "El": b"__keyevent@0__:lpush", "Es": b"__keyevent@0__:sinterstore",
    "Eh": b"__keyevent@0__:hincrbyfloat", "Ez": b"__keyevent@0__:zrangestore", "Et": b"__keyevent@0__:xgroup-create",
    "Ex": b"__keyevent@0__:expired", "Kn": b"__keyspace@0__:s1", "En": b"__keyevent@0__:new",
    "Em": b"__keyevent@0__:keymiss", "KEA": b"__keyevent@0__:expired", "KEAnm": b"__keyevent@0__:keymiss",
}


@pytest.mark.parametrize("flags", sorted(EXPECTED))
def test_each_class_publishes_its_events(pair, flags):
    """The reference publishes the expected channel for each class (the comparison above is not vacuous), and
    only channels of that class: n and m stay out of 'A'."""
    _, theirs = pair
    channels = set()
    for family in FAMILIES.values():
        for _, _, msgs in capture(theirs.port, flags, family):
            channels.update(parse(m)[2] for m in msgs)
    assert EXPECTED[flags] in channels
    if flags == "KEA":
        assert not any(ch.endswith((b":new", b":keymiss")) for ch in channels)
    if flags in ("Em", "En"):
        event = b":keymiss" if flags == "Em" else b":new"
        assert all(ch.startswith(b"__keyevent@") and ch.endswith(event) for ch in channels), channels


def test_new_keys_in_other_dbs(pair):
    """MOVE, COPY DB and writes after SELECT raise "new" with the target db's number, as redis."""
    ours, theirs = pair
    commands = [("SET", "a", "1"), ("MOVE", "a", "7"), ("SET", "b", "1"), ("COPY", "b", "b2", "DB", "9"),
                ("SELECT", "4"), ("HSET", "h", "f", "v"), ("GET", "missing"), ("SELECT", "0")]
    events = assert_same_feed(ours.port, theirs.port, "KEnm", commands)
    channels = [parse(m)[2] for _, _, msgs in events for m in msgs]
    for ch in (b"__keyevent@7__:new", b"__keyevent@9__:new", b"__keyspace@4__:h", b"__keyevent@4__:keymiss"):
        assert ch in channels


def stats(conn):
    info = conn.command("INFO", "stats")
    return tuple(int(re.search(rb"%s:(\d+)" % name, info).group(1)) for name in (b"keyspace_hits", b"keyspace_misses"))


def hits_misses(port, commands):
    """keyspace_hits/misses added by each command (keymiss follows keyspace_misses: they must agree)."""
    cli = RawConnection(port)
    out = []
    try:
        cli.command("FLUSHALL")
        cli.command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        before = stats(cli)
        in_multi = False
        for cmd in commands:
            if cmd[0] == SLEEP:
                time.sleep(cmd[1])
                continue
            cli.command(*cmd)
            name = str(cmd[0]).upper()
            in_multi = (in_multi or name == "MULTI") and name not in ("EXEC", "DISCARD")
            if in_multi:
                continue
            after = stats(cli)
            out.append((cmd, after[0] - before[0], after[1] - before[1]))
            before = after
    finally:
        cli.command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        cli.command("SELECT", "0")
        cli.close()
    return out


@pytest.mark.parametrize("family", list(FAMILIES))
def test_keyspace_hits_and_misses_as_redis(pair, family):
    ours, theirs = pair
    assert hits_misses(ours.port, FAMILIES[family]) == hits_misses(theirs.port, FAMILIES[family])


def test_config_get_renders_flags_as_redis(pair):
    """Redis 7.0 shows 'A' without 'n' (the flag is still on: the KEAnm mixes above see "new")."""
    ours, theirs = pair
    for flags in ("KEAnm", "AnKE", "Kn", "nm", "Eg$lshzxetd", "Eg$lshzxetdn", "KEm", "m", "E", ""):
        replies = []
        for port in (ours.port, theirs.port):
            conn = RawConnection(port)
            try:
                conn.command("CONFIG", "SET", "notify-keyspace-events", flags)
                replies.append(conn.command("CONFIG", "GET", "notify-keyspace-events"))
            finally:
                conn.command("CONFIG", "SET", "notify-keyspace-events", "")
                conn.close()
        assert replies[0] == replies[1], (flags, replies)


def test_blocked_xread_served_without_lookups(pair):
    """A blocked XREAD is served without looking its keys up again (no second "keymiss" for a missing one)."""
    ours, theirs = pair
    results = []
    for port in (ours.port, theirs.port):
        sub, reader, writer = RawConnection(port), RawConnection(port), RawConnection(port)
        try:
            writer.command("FLUSHALL")
            writer.command("XADD", "s", "1-1", "f", "v")
            writer.command("CONFIG", "SET", "notify-keyspace-events", "KEAm")
            sub.command("PSUBSCRIBE", "__key*__:*")
            sub.command("SUBSCRIBE", "sentinel")
            before = stats(writer)
            reader.send(encode("XREAD", "BLOCK", "5000", "STREAMS", "missing", "s", "$", "$"))
            wait_for(lambda: b"blocked_clients:1" in writer.command("INFO", "clients"), timeout=5)
            writer.command("XADD", "s", "2-1", "f", "v")
            reply = reader.read_reply()
            after = stats(writer)
            writer.command("PUBLISH", "sentinel", "x")
            msgs = readable(read_until_sentinel(sub, time.monotonic() + 10))
            results.append((reply, msgs, (after[0] - before[0], after[1] - before[1])))
        finally:
            writer.command("CONFIG", "SET", "notify-keyspace-events", "")
            for conn in (sub, reader, writer):
                conn.close()
    assert results[0] == results[1]
    assert results[1][1].count((b"__keyevent@0__:keymiss", b"missing")) == 2      # both lookups while blocking


class Feed:
    """A subscriber connection's pushed messages, parsed as they come (a message may span reads)."""

    def __init__(self, port):
        self.conn = RawConnection(port)
        self.reader = hiredis.Reader()

    def command(self, *args):
        return self.conn.command(*args)

    def drain(self, settle):
        """The messages that arrive until the connection stays quiet for `settle` seconds."""
        self.reader.feed(self.conn.read_until_quiet(settle=settle))
        values = []
        while True:
            value = self.reader.gets()
            if value is False:
                return values
            values.append(value)

    def wait_for_pmessages(self, count, timeout):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            out.extend(v for v in self.drain(0.1) if v[0] == b"pmessage")
        return out

    def close(self):
        self.conn.close()


def test_expired_keyevent_in_selected_db(pair):
    """Active expiry publishes __keyevent@3__:expired for a key of db 3 (no read needed), as redis."""
    ours, theirs = pair
    seen = []
    for port in (ours.port, theirs.port):
        sub, cli = Feed(port), RawConnection(port)
        try:
            cli.command("FLUSHALL")
            cli.command("CONFIG", "SET", "notify-keyspace-events", "Ex")
            sub.command("PSUBSCRIBE", "__key*__:*")
            cli.command("SELECT", "3")
            cli.command("SET", "soon", "v", "PX", "30")
            cli.command("SET", "later", "v", "EX", "1000")
            cli.command("SELECT", "0")
            cli.command("SET", "soon0", "v", "PX", "30")
            msgs = sub.wait_for_pmessages(2, timeout=10)
            seen.append(sorted((m[2], m[3]) for m in msgs))
            assert cli.command("SELECT", "3") == b"+OK\r\n"
            assert cli.command("EXISTS", "later") == b":1\r\n"
        finally:
            cli.command("CONFIG", "SET", "notify-keyspace-events", "")
            sub.close()
            cli.close()
    expected = [(b"__keyevent@0__:expired", b"soon0"), (b"__keyevent@3__:expired", b"soon")]
    assert seen[0] == seen[1] == expected


def evictions(srv, count=3000, timeout=30):
    """SET 1 KB values past a small maxmemory with allkeys-random and notify-keyspace-events Ee: returns
    (evicted keyevent messages, INFO evicted_keys added, keys written)."""
    sub, cli = Feed(srv.port), RawConnection(srv.port)
    messages = []
    try:
        cli.command("FLUSHALL")
        sub.command("PSUBSCRIBE", "__key*__:*")
        assert cli.command("CONFIG", "SET", "notify-keyspace-events", "Ee") == b"+OK\r\n"
        used = int(re.search(rb"used_memory:(\d+)", cli.command("INFO", "memory")).group(1))
        evicted_before = int(re.search(rb"evicted_keys:(\d+)", cli.command("INFO", "stats")).group(1))
        assert cli.command("CONFIG", "SET", "maxmemory-policy", "allkeys-random") == b"+OK\r\n"
        assert cli.command("CONFIG", "SET", "maxmemory", str(used + 512 * 1024)) == b"+OK\r\n"
        deadline = time.monotonic() + timeout
        written = []
        value = "x" * 1024
        for i in range(count):
            if time.monotonic() > deadline:
                break
            key = "ev:%d" % i
            assert cli.command("SET", key, value) == b"+OK\r\n"
            written.append(key.encode())
            if i % 100 == 99:
                messages.extend(sub.drain(0.01))
        cli.command("CONFIG", "SET", "maxmemory", "0")
        messages.extend(sub.drain(0.3))
        evicted = int(re.search(rb"evicted_keys:(\d+)", cli.command("INFO", "stats")).group(1)) - evicted_before
        still_there = {k for k in written if cli.command("EXISTS", k) == b":1\r\n"}
    finally:
        cli.command("CONFIG", "SET", "maxmemory", "0")
        cli.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        cli.command("CONFIG", "SET", "notify-keyspace-events", "")
        cli.command("FLUSHALL")
        sub.close()
        cli.close()
    return [m for m in messages if m[0] == b"pmessage"], evicted, written, still_there


def test_evicted_events(pair):
    ours, theirs = pair
    names = []
    for srv in (ours, theirs):
        msgs, evicted, written, still_there = evictions(srv)
        assert evicted > 0
        assert len(msgs) == evicted                           # one keyevent message per evicted key
        keys = [m[3] for m in msgs]
        assert len(set(keys)) == len(keys)
        assert set(keys) <= set(written) and not set(keys) & still_there    # exactly the keys that went
        assert set(written) - set(keys) == still_there
        names.append({m[2] for m in msgs})
    assert names[0] == names[1] == {b"__keyevent@0__:evicted"}


def test_flags_from_the_config_file_include_new_under_all(tmp_path):
    """notify-keyspace-events from the config file: "KEAnm" sends "new" and "keymiss" from the start, although
    CONFIG GET shows "AKEm" as redis does."""
    conf = tmp_path / "notify.conf"
    conf.write_text('notify-keyspace-events "KEAnm"\n')
    srv = start_cachemere(config_file=str(conf))
    try:
        sub, cli = RawConnection(srv.port), RawConnection(srv.port)
        try:
            assert cli.command("CONFIG", "GET", "notify-keyspace-events") == \
                b"*2\r\n$22\r\nnotify-keyspace-events\r\n$4\r\nAKEm\r\n"
            sub.command("PSUBSCRIBE", "__keyevent@0__:*")
            sub.command("SUBSCRIBE", "sentinel")
            cli.command("GET", "fresh")
            cli.command("SET", "fresh", "v")
            cli.command("PUBLISH", "sentinel", "x")
            events = [parse(m)[2:] for m in read_until_sentinel(sub, time.monotonic() + 10, b"__keyevent@0__:*")]
            assert events == [[b"__keyevent@0__:keymiss", b"fresh"], [b"__keyevent@0__:new", b"fresh"],
                              [b"__keyevent@0__:set", b"fresh"]]
        finally:
            sub.close()
            cli.close()
    finally:
        srv.stop()

