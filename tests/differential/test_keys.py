"""Generic key commands: Cachemere's replies equal redis-server 7.0.15's byte for byte.

Replies are compared raw; only KEYS and SCAN results (no order in Redis) are compared as sorted lists, and
SCAN cursors (an implementation detail) are not compared at all.
"""
import re
import time

import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

from tests.support.diff import assert_same, parse, run_sequence
from tests.support.servers import RawConnection

ARITY = [
    ("DEL",), ("UNLINK",), ("EXISTS",), ("TYPE",), ("TYPE", "a", "b"), ("KEYS",), ("KEYS", "a", "b"), ("SCAN",),
    ("RANDOMKEY", "x"), ("RENAME", "a"), ("RENAME", "a", "b", "c"), ("RENAMENX", "a"), ("COPY", "a"), ("MOVE", "a"),
    ("MOVE", "a", "1", "2"), ("SWAPDB", "0"), ("SWAPDB", "0", "1", "2"), ("DBSIZE", "x"), ("TOUCH",),
    ("OBJECT",), ("OBJECT", "ENCODING"), ("OBJECT", "ENCODING", "a", "b"), ("OBJECT", "REFCOUNT"),
    ("OBJECT", "IDLETIME"), ("OBJECT", "FREQ"), ("OBJECT", "HELP", "x"), ("OBJECT", "NOSUCH"), ("object", "nosuch", "k"),
]

GENERIC = [
    ("SET", "a", "1"), ("SET", "b", "2"), ("HSET", "h", "f", "v"), ("SADD", "s", "x"), ("RPUSH", "l", "x"),
    ("ZADD", "z", "1", "m"), ("XADD", "x", "1-1", "f", "v"), ("PFADD", "hll", "e"),
    ("DEL", "a", "nokey", "a"), ("UNLINK", "nokey"), ("UNLINK", "b", "b"), ("SET", "b", "2"),
    ("EXISTS", "b", "b", "nokey"), ("EXISTS", "nokey"),
    ("TYPE", "b"), ("TYPE", "h"), ("TYPE", "s"), ("TYPE", "l"), ("TYPE", "z"), ("TYPE", "x"), ("TYPE", "hll"),
    ("TYPE", "nokey"), ("DBSIZE",), ("TOUCH", "b", "h", "nokey", "b"),
    # RENAME / RENAMENX
    ("RENAME", "nokey", "x2"), ("RENAMENX", "nokey", "x2"), ("RENAME", "b", "b"), ("RENAMENX", "b", "b"),
    ("RENAME", "b", "c"), ("GET", "b"), ("GET", "c"), ("RENAMENX", "c", "h"), ("RENAME", "c", "h"), ("TYPE", "h"),
    ("GET", "h"), ("RENAMENX", "h", "c"), ("GET", "c"),
    # COPY
    ("COPY", "c", "d"), ("COPY", "c", "d"), ("COPY", "c", "d", "REPLACE"), ("COPY", "c", "d", "replace", "REPLACE"),
    ("COPY", "c", "c"), ("COPY", "c", "c", "DB", "0"), ("COPY", "c", "c", "DB", "1"), ("COPY", "nokey", "c"),
    ("COPY", "nokey", "nokey"), ("COPY", "c", "e", "DB"), ("COPY", "c", "e", "DB", "99"), ("COPY", "c", "e", "DB", "-1"),
    ("COPY", "c", "e", "DB", "x"), ("COPY", "c", "e", "DB", "2147483648"), ("COPY", "c", "e", "DB", "-2147483649"),
    ("COPY", "c", "e", "DB", "9223372036854775808"), ("COPY", "c", "e", "BOGUS"), ("COPY", "c", "e", "DB", "1", "DB", "2"),
    ("COPY", "c", "e", "DB", "1", "x"),
    # MOVE
    ("MOVE", "c", "0"), ("MOVE", "nokey", "0"), ("MOVE", "c", "1"), ("MOVE", "c", "1"), ("MOVE", "nokey", "1"),
    ("MOVE", "d", "x"), ("MOVE", "d", "16"), ("MOVE", "d", "-1"), ("MOVE", "d", "2147483648"),
    ("MOVE", "d", "-2147483649"), ("MOVE", "nokey", "16"), ("SELECT", "1"), ("GET", "c"), ("GET", "e"),
    ("MOVE", "c", "0"), ("SELECT", "0"), ("GET", "c"),
    # SWAPDB
    ("SWAPDB", "0", "1"), ("DBSIZE",), ("SWAPDB", "0", "1"), ("DBSIZE",), ("SWAPDB", "0", "0"), ("SWAPDB", "x", "1"),
    ("SWAPDB", "0", "y"), ("SWAPDB", "x", "y"), ("SWAPDB", "0", "16"), ("SWAPDB", "-1", "0"),
    ("SWAPDB", "2147483648", "0"), ("SWAPDB", "0", "2147483648"), ("SWAPDB", "1.5", "0"),
    # FLUSHDB / FLUSHALL options
    ("FLUSHDB", "BOGUS"), ("FLUSHDB", "ASYNC", "SYNC"), ("FLUSHALL", "x"), ("FLUSHALL", "SYNC", "ASYNC"),
    ("SELECT", "3"), ("SET", "in3", "v"), ("FLUSHDB", "async"), ("DBSIZE",), ("SELECT", "0"), ("DBSIZE",),
    ("FLUSHDB", "sync"), ("DBSIZE",), ("RANDOMKEY",), ("SET", "only", "v"), ("RANDOMKEY",),
    ("FLUSHALL", "aSync"), ("DBSIZE",), ("FLUSHALL",), ("FLUSHDB",),
]

OBJECT = [
    ("SET", "i", "123"), ("SET", "neg", "-123"), ("SET", "lead0", "01"), ("SET", "big", "9223372036854775807"),
    ("SET", "toobig", "9223372036854775808"), ("SET", "e", "hello"), ("SET", "e44", "x" * 44), ("SET", "r45", "x" * 45),
    ("SET", "space", " 1"), ("SET", "negzero", "-0"), ("SET", "empty", ""),
    *[("OBJECT", "ENCODING", k) for k in ("i", "neg", "lead0", "big", "toobig", "e", "e44", "r45", "space",
                                           "negzero", "empty", "nokey")],
    ("OBJECT", "encoding", "i"), ("object", "Encoding", "i"),
    ("SET", "n", "100"), ("OBJECT", "REFCOUNT", "n"), ("SET", "n", "0"), ("OBJECT", "REFCOUNT", "n"),
    ("SET", "n", "9999"), ("OBJECT", "REFCOUNT", "n"), ("SET", "n", "10000"), ("OBJECT", "REFCOUNT", "n"),
    ("SET", "n", "-1"), ("OBJECT", "REFCOUNT", "n"), ("OBJECT", "REFCOUNT", "e"), ("OBJECT", "REFCOUNT", "nokey"),
    ("APPEND", "e", "x"), ("OBJECT", "ENCODING", "e"), ("SET", "n", "12"), ("APPEND", "n", "3"),
    ("OBJECT", "ENCODING", "n"), ("OBJECT", "REFCOUNT", "n"), ("SETRANGE", "e44", "0", "y"), ("OBJECT", "ENCODING", "e44"),
    ("INCR", "n"), ("OBJECT", "ENCODING", "n"), ("COPY", "i", "i2"), ("OBJECT", "ENCODING", "i2"),
    ("COPY", "e", "e2"), ("OBJECT", "ENCODING", "e2"), ("RENAME", "r45", "r46"), ("OBJECT", "ENCODING", "r46"),
    ("RPUSH", "l", "a"), ("HSET", "h", "a", "b"), ("SADD", "si", "1"), ("SADD", "ss", "a"), ("ZADD", "z", "1", "a"),
    ("XADD", "x", "1-1", "a", "b"), ("PFADD", "hll", "a"),
    *[("OBJECT", "ENCODING", k) for k in ("l", "h", "si", "ss", "z", "x", "hll")],
    *[("OBJECT", "REFCOUNT", k) for k in ("l", "h", "si", "z", "x")],
    ("OBJECT", "FREQ", "e"), ("OBJECT", "FREQ", "nokey"), ("OBJECT", "IDLETIME", "nokey"), ("OBJECT", "HELP"),
    ("object", "help"),
    ("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"), ("OBJECT", "IDLETIME", "e"), ("OBJECT", "IDLETIME", "nokey"),
    ("CONFIG", "SET", "maxmemory-policy", "volatile-lfu"), ("OBJECT", "IDLETIME", "e"),
    ("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"), ("OBJECT", "FREQ", "e"),
    ("CONFIG", "SET", "maxmemory", "1gb"), ("SET", "n", "5"), ("OBJECT", "REFCOUNT", "n"),
    ("CONFIG", "SET", "maxmemory-policy", "allkeys-random"), ("SET", "n", "6"), ("OBJECT", "REFCOUNT", "n"),
    ("CONFIG", "SET", "maxmemory-policy", "noeviction"), ("SET", "n", "7"), ("OBJECT", "REFCOUNT", "n"),
    ("CONFIG", "SET", "maxmemory", "0"),
]

PATTERN_KEYS = ["a", "b", "ab", "abc", "a*c", "a?c", "a[c", "a\\b", "a]b", "A", "Ab", "-", "^", "é", "\x80x", "\xffz",
                "", "h:1", "h:22", "hello", "hallo", "hxllo", "[", "]", "\\"]
PATTERNS = ["*", "", "a", "a*", "*c", "?", "??", "a?c", "a\\*c", "a\\?c", "[ab]", "[^a]", "[!a]", "[a-b]", "[b-a]",
            "[a-]", "[-a]", "a[\\[]c", "a[\\\\]b", "a\\\\b", "[]", "[]]", "[]b]", "[", "a[", "a[c", "\\", "*\\",
            "h*llo", "h?llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h:[0-9]", "h:[0-9]*", "[A-Z]*", "[a-\xff]",
            "[\xff-a]", "[^a-\xff]", "[\x80-\xff]*", "[\x80-Z]*", "*[", "**a", "*?*", "[\\]]", "[a\\-c]", "[^]"]


def _conns(cachemere, redis_ref):
    ours, theirs = RawConnection(cachemere.port), RawConnection(redis_ref.port)
    return ours, theirs


@pytest.fixture
def clean(cachemere, redis_ref):
    for port in (cachemere.port, redis_ref.port):
        run_sequence(port, [("FLUSHALL",), ("CONFIG", "SET", "maxmemory", "0"),
                            ("CONFIG", "SET", "maxmemory-policy", "noeviction")])
    yield
    for port in (cachemere.port, redis_ref.port):
        run_sequence(port, [("FLUSHALL",), ("CONFIG", "SET", "maxmemory", "0"),
                            ("CONFIG", "SET", "maxmemory-policy", "noeviction")])


@pytest.mark.parametrize("cmd", ARITY, ids=lambda c: " ".join(c))
def test_arity_and_subcommand_errors(cachemere, redis_ref, cmd):
    assert RawConnection(cachemere.port).command(*cmd) == RawConnection(redis_ref.port).command(*cmd)


@pytest.mark.parametrize("resp", [2, 3])
def test_generic_sequence(cachemere, redis_ref, clean, resp):
    assert_same(cachemere.port, redis_ref.port, GENERIC, unordered={"KEYS"}, resp=resp)


@pytest.mark.parametrize("resp", [2, 3])
def test_object_sequence(cachemere, redis_ref, clean, resp):
    assert_same(cachemere.port, redis_ref.port, OBJECT, resp=resp)


def test_keys_glob_table(cachemere, redis_ref, clean):
    setup = [("SET", k, "v") for k in PATTERN_KEYS]
    run_sequence(cachemere.port, setup)
    run_sequence(redis_ref.port, setup)
    assert_same(cachemere.port, redis_ref.port, [("KEYS", p) for p in PATTERNS], unordered={"KEYS"})


GLOB_ALPHABET = st.sampled_from(list(b"ab-^]\\[*?!A\x80\xff"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(GLOB_ALPHABET, max_size=8).map(bytes), st.lists(st.lists(GLOB_ALPHABET, max_size=6).map(bytes),
                                                               min_size=1, max_size=6))
def test_keys_glob_matches_redis(cachemere, redis_ref, pattern, keys):
    """Random patterns over the glob metacharacters and high bytes: KEYS answers the same key set."""
    answers = []
    for port in (cachemere.port, redis_ref.port):
        conn = RawConnection(port)
        conn.command("SELECT", "9")
        conn.command("FLUSHDB")
        for k in keys:
            conn.command("SET", k, "v")
        answers.append(sorted(parse(conn.command("KEYS", pattern))))
        conn.command("FLUSHDB")
        conn.close()
    assert answers[0] == answers[1], (pattern, keys)


SCAN_ERRORS = [
    ("SCAN", "x"), ("SCAN", "1.5"), ("SCAN", " 1"), ("SCAN", "1 "), ("SCAN", "-"), ("SCAN", "+"), ("SCAN", "0x1"),
    ("SCAN", "18446744073709551616"), ("SCAN", "-18446744073709551616"), ("SCAN", "0", "COUNT"),
    ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "COUNT", "-1"), ("SCAN", "0", "COUNT", "x"), ("SCAN", "0", "MATCH"),
    ("SCAN", "0", "TYPE"), ("SCAN", "0", "BOGUS"), ("SCAN", "0", "BOGUS", "1"), ("SCAN", "x", "COUNT", "0"),
    ("SCAN", "0", "COUNT", "0", "MATCH"),
    # accepted cursors (strtoul): the end of an empty keyspace looks the same in both
    ("SCAN", ""), ("SCAN", "-1"), ("SCAN", "+0"), ("SCAN", "-0"), ("SCAN", "00"), ("SCAN", "18446744073709551615"),
    ("SCAN", "0", "COUNT", "9223372036854775807"), ("SCAN", "0", "TYPE", "nosuchtype"), ("SCAN", "0", "MATCH", "*"),
]


@pytest.mark.parametrize("cmd", SCAN_ERRORS, ids=lambda c: " ".join(c))
def test_scan_arguments(cachemere, redis_ref, clean, cmd):
    assert RawConnection(cachemere.port).command(*cmd) == RawConnection(redis_ref.port).command(*cmd)


def scan_all(port, *opts, db=0):
    conn = RawConnection(port)
    conn.command("SELECT", str(db))
    cursor, seen = b"0", []
    for _ in range(10000):
        cursor, keys = parse(conn.command("SCAN", cursor, *opts))
        seen += keys
        if cursor == b"0":
            break
    conn.close()
    return sorted(set(seen))


def test_scan_full_iteration_with_options(cachemere, redis_ref, clean):
    setup = [("SET", f"sk:{i}", "v") for i in range(300)] + [("HSET", "sh", "f", "v"), ("SADD", "sset", "m"),
                                                             ("RPUSH", "slist", "x"), ("ZADD", "sz", "1", "m"),
                                                             ("SET", "with:ttl", "v", "EX", "1000")]
    for port in (cachemere.port, redis_ref.port):
        run_sequence(port, setup)
    for opts in ((), ("MATCH", "sk:1*"), ("TYPE", "hash"), ("TYPE", "HASH"), ("TYPE", "list"), ("TYPE", "zset"),
                 ("COUNT", "7", "TYPE", "string"), ("MATCH", "s?", "COUNT", "1000"), ("MATCH", "*ttl"),
                 ("count", "3", "match", "sk:2?", "type", "string"), ("TYPE", "string", "TYPE", "set")):
        assert scan_all(cachemere.port, *opts) == scan_all(redis_ref.port, *opts), opts


def test_copy_is_deep_for_every_type(cachemere, redis_ref, clean):
    """A copy is independent of its source: writes to either side do not show in the other."""
    seq = [
        ("RPUSH", "l", "a", "b"), ("HSET", "h", "f", "v"), ("SADD", "s", "1", "2"), ("SADD", "ss", "a"),
        ("ZADD", "z", "1", "a"), ("XADD", "x", "1-1", "f", "v"), ("XGROUP", "CREATE", "x", "g", "0"),
        ("PFADD", "hll", "a"), ("SET", "str", "v", "PX", "100000"),
    ]
    for key in ("l", "h", "s", "ss", "z", "x", "hll", "str"):
        seq += [("COPY", key, key + "2"), ("TYPE", key + "2"), ("OBJECT", "ENCODING", key + "2"),
                ("COPY", key, key + "3", "DB", "2")]
    seq += [
        ("RPUSH", "l", "c"), ("LPOP", "l2"), ("LRANGE", "l", "0", "-1"), ("LRANGE", "l2", "0", "-1"),
        ("HSET", "h", "g", "w"), ("HDEL", "h2", "f"), ("HGETALL", "h"), ("HGETALL", "h2"),
        ("SADD", "s", "3"), ("SREM", "s2", "1"), ("SMEMBERS", "s"), ("SMEMBERS", "s2"),
        ("ZADD", "z", "2", "b"), ("ZINCRBY", "z2", "5", "a"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZRANGE", "z2", "0", "-1", "WITHSCORES"),
        ("XADD", "x", "2-1", "f", "v"), ("XGROUP", "CREATE", "x2", "g2", "0"), ("XLEN", "x"), ("XLEN", "x2"),
        ("XINFO", "GROUPS", "x"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x2", ">"), ("XPENDING", "x", "g"),
        ("XPENDING", "x2", "g"), ("PFADD", "hll", "b", "c"), ("PFCOUNT", "hll2"), ("PFCOUNT", "hll"),
        ("APPEND", "str", "x"), ("GET", "str2"), ("TTL", "str2"), ("SELECT", "2"), ("TTL", "str3"), ("LLEN", "l3"),
        ("TYPE", "x3"), ("SELECT", "0"),
    ]
    assert_same(cachemere.port, redis_ref.port, seq, unordered={"SMEMBERS", "HGETALL"})


def test_rename_and_move_keep_ttl(cachemere, redis_ref, clean):
    seq = [("SET", "k", "v", "EX", "1000"), ("RENAME", "k", "k2"), ("TTL", "k2"), ("TTL", "k"),
           ("SET", "k3", "v"), ("EXPIRE", "k3", "500"), ("RENAME", "k2", "k3"), ("TTL", "k3"),
           ("SET", "k4", "v"), ("RENAME", "k4", "k3"), ("TTL", "k3"), ("SET", "k5", "v", "EX", "700"),
           ("RENAMENX", "k5", "k6"), ("TTL", "k6"), ("MOVE", "k6", "4"), ("SELECT", "4"), ("TTL", "k6"),
           ("COPY", "k6", "k7", "DB", "0"), ("SELECT", "0"), ("TTL", "k7"), ("EXPIRETIME", "k7")]
    ours = run_sequence(cachemere.port, seq)
    theirs = run_sequence(redis_ref.port, seq)
    # EXPIRETIME is absolute: equal up to the moment each server ran the SET
    assert ours[:-1] == theirs[:-1]
    assert abs(int(ours[-1][1:-2]) - int(theirs[-1][1:-2])) <= 2


def _stats(conn):
    info = conn.command("INFO", "stats").decode()
    return tuple(int(re.search(name + r":(\d+)", info).group(1)) for name in ("keyspace_hits", "keyspace_misses"))


READS = [("EXISTS", "k1", "nokey"), ("TYPE", "k2"), ("TYPE", "nokey"), ("TTL", "k3"), ("PTTL", "nokey"),
         ("EXPIRETIME", "k4"), ("PEXPIRETIME", "k4"), ("TOUCH", "k5", "nokey"), ("OBJECT", "ENCODING", "k6"),
         ("OBJECT", "REFCOUNT", "nokey"), ("OBJECT", "IDLETIME", "k7"), ("COPY", "k8", "k8c"), ("RENAME", "k9", "k9r"),
         ("EXPIRE", "k10", "100"), ("PERSIST", "k10"), ("SCAN", "0"), ("KEYS", "*"), ("RANDOMKEY",), ("DEL", "k11"),
         ("MOVE", "k12", "1"), ("DBSIZE",)]


@pytest.mark.parametrize("cmd", READS, ids=lambda c: " ".join(c))
def test_keyspace_hits_and_misses(cachemere, redis_ref, clean, cmd):
    """Each command looks keys up the way redis does: same INFO keyspace_hits/keyspace_misses deltas."""
    deltas = []
    for port in (cachemere.port, redis_ref.port):
        conn = RawConnection(port)
        for i in range(1, 13):
            conn.command("SET", f"k{i}", "v")
        before = _stats(conn)
        conn.command(*cmd)
        after = _stats(conn)
        deltas.append((after[0] - before[0], after[1] - before[1]))
        conn.command("FLUSHALL")
        conn.close()
    assert deltas[0] == deltas[1]


def test_which_commands_refresh_idle_time(cachemere, redis_ref, clean):
    """LOOKUP_NOTOUCH commands leave OBJECT IDLETIME alone; reads and writes reset it."""
    probes = {"k1": ("EXISTS", "k1"), "k2": ("TYPE", "k2"), "k3": ("TTL", "k3"), "k4": ("OBJECT", "ENCODING", "k4"),
              "k5": ("TOUCH", "k5"), "k6": ("GET", "k6"), "k7": ("EXPIRE", "k7", "100"), "k8": ("SCAN", "0"),
              "k9": ("KEYS", "k9"), "k10": ("PEXPIRETIME", "k10"), "k11": ("COPY", "k11", "k11c")}
    conns = [RawConnection(cachemere.port), RawConnection(redis_ref.port)]
    for conn in conns:
        for key in probes:
            conn.command("SET", key, "v")
    time.sleep(2.1)    # the LRU clock has a one second resolution
    results = []
    for conn in conns:
        for cmd in probes.values():
            conn.command(*cmd)
        results.append({key: parse(conn.command("OBJECT", "IDLETIME", key)) == 0 for key in probes})
    assert results[0] == results[1]
    assert results[0]["k6"] and not results[0]["k1"]


def test_randomkey_skips_and_reclaims_expired_keys(cachemere, clean):
    conn = RawConnection(cachemere.port)
    conn.command("SELECT", "5")
    for i in range(50):
        conn.command("SET", f"gone{i}", "v", "PX", "1")
    conn.command("SET", "alive", "v")
    time.sleep(0.05)
    assert conn.command("RANDOMKEY") == b"$5\r\nalive\r\n"
    for i in range(50):
        conn.command("SET", f"gone{i}", "v", "PX", "1")
    conn.command("DEL", "alive")
    time.sleep(0.05)
    assert conn.command("RANDOMKEY") == b"$-1\r\n"      # a primary deletes them all rather than answer one
    assert conn.command("DBSIZE") == b":0\r\n"
    conn.command("SELECT", "0")
