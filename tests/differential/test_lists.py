"""Lists: replies equal redis-server 7.0.15's byte for byte, in RESP2 and RESP3."""
import pytest

from tests.support.diff import assert_same

PUSH_POP = [
    ("DEL", "l", "m", "str"), ("LPUSH", "l", "a", "b", "c"), ("RPUSH", "l", "d", "e"), ("LRANGE", "l", "0", "-1"),
    ("LPUSHX", "nokey", "x"), ("RPUSHX", "nokey", "x"), ("EXISTS", "nokey"), ("LPUSHX", "l", "x", "y"),
    ("RPUSHX", "l", "z"), ("LLEN", "l"), ("LLEN", "nokey"), ("OBJECT", "ENCODING", "l"),
    ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l", "2"), ("RPOP", "l", "0"), ("LPOP", "l", "-1"),
    ("LPOP", "l", "abc"), ("LPOP", "l", "1", "2"), ("LPOP", "nokey"), ("RPOP", "nokey", "2"),
    ("LPOP", "nokey", "0"), ("LPOP", "nokey", "-1"), ("RPOP", "l", "100"), ("EXISTS", "l"), ("LPUSH", "l"),
    ("SET", "str", "v"), ("LPUSH", "str", "a"), ("RPUSHX", "str", "a"), ("LPOP", "str"), ("RPOP", "str", "2"),
    ("LLEN", "str"), ("RPUSH", "big", "x" * 9000), ("OBJECT", "ENCODING", "big"),
]

READS = [
    ("DEL", "l", "str"), ("RPUSH", "l", "a", "b", "c", "b", "a", "b"), ("LRANGE", "l", "0", "2"),
    ("LRANGE", "l", "-2", "-1"), ("LRANGE", "l", "-100", "100"), ("LRANGE", "l", "4", "2"), ("LRANGE", "l", "6", "9"),
    ("LRANGE", "l", "x", "1"), ("LRANGE", "l", "1", "y"), ("LRANGE", "nokey", "0", "-1"), ("LRANGE", "l", "5", "-1"),
    ("LINDEX", "l", "0"), ("LINDEX", "l", "-1"), ("LINDEX", "l", "6"), ("LINDEX", "l", "-7"), ("LINDEX", "l", "x"),
    ("LINDEX", "nokey", "x"), ("LINDEX", "nokey", "0"),
    ("LPOS", "l", "b"), ("LPOS", "l", "b", "RANK", "2"), ("LPOS", "l", "b", "RANK", "-1"),
    ("LPOS", "l", "b", "RANK", "-2", "COUNT", "0"), ("LPOS", "l", "b", "COUNT", "0"), ("LPOS", "l", "b", "COUNT", "2"),
    ("LPOS", "l", "b", "COUNT", "0", "MAXLEN", "4"), ("LPOS", "l", "b", "RANK", "-1", "MAXLEN", "1"),
    ("LPOS", "l", "zz"), ("LPOS", "l", "zz", "COUNT", "3"), ("LPOS", "l", "b", "RANK", "0"),
    ("LPOS", "l", "b", "RANK", "x"), ("LPOS", "l", "b", "RANK", "-9223372036854775808"),
    ("LPOS", "l", "b", "COUNT", "-1"), ("LPOS", "l", "b", "COUNT", "x"), ("LPOS", "l", "b", "MAXLEN", "-1"),
    ("LPOS", "l", "b", "BOGUS"), ("LPOS", "l", "b", "RANK"), ("LPOS", "nokey", "b"), ("LPOS", "nokey", "b", "COUNT", "1"),
    ("LPOS", "l", "b", "RANK", "5"), ("SET", "str", "v"), ("LRANGE", "str", "0", "1"), ("LINDEX", "str", "0"),
    ("LPOS", "str", "a"),
]

WRITES = [
    ("DEL", "l", "str", "d"), ("RPUSH", "l", "a", "b", "c", "b", "a", "b"), ("LSET", "l", "0", "A"),
    ("LSET", "l", "-1", "Z"), ("LSET", "l", "10", "x"), ("LSET", "l", "x", "x"), ("LSET", "nokey", "0", "x"),
    ("LINSERT", "l", "BEFORE", "b", "B1"), ("LINSERT", "l", "after", "c", "C1"), ("LINSERT", "l", "before", "zz", "x"),
    ("LINSERT", "l", "middle", "b", "x"), ("LINSERT", "nokey", "before", "b", "x"), ("LRANGE", "l", "0", "-1"),
    ("LREM", "l", "1", "b"), ("LREM", "l", "-1", "a"), ("LRANGE", "l", "0", "-1"), ("LREM", "l", "0", "zz"),
    ("LREM", "l", "x", "b"), ("LREM", "nokey", "0", "b"), ("RPUSH", "r", "x", "y", "x", "x"), ("LREM", "r", "0", "x"),
    ("LRANGE", "r", "0", "-1"), ("LREM", "r", "0", "y"), ("EXISTS", "r"),
    ("LTRIM", "l", "1", "-2"), ("LRANGE", "l", "0", "-1"), ("LTRIM", "l", "x", "1"), ("LTRIM", "nokey", "0", "1"),
    ("LTRIM", "l", "0", "100"), ("LTRIM", "l", "5", "1"), ("EXISTS", "l"),
    ("RPUSH", "s", "1", "2", "3"), ("LMOVE", "s", "d", "LEFT", "RIGHT"), ("LMOVE", "s", "d", "right", "left"),
    ("LRANGE", "d", "0", "-1"), ("LMOVE", "s", "s", "LEFT", "RIGHT"), ("LMOVE", "d", "d", "RIGHT", "LEFT"),
    ("LRANGE", "d", "0", "-1"), ("LMOVE", "s", "d", "UP", "LEFT"), ("LMOVE", "s", "d", "LEFT", "DOWN"),
    ("LMOVE", "nokey", "d", "LEFT", "LEFT"), ("RPOPLPUSH", "s", "d"), ("EXISTS", "s"), ("RPOPLPUSH", "s", "d"),
    ("RPOPLPUSH", "d", "d"), ("LRANGE", "d", "0", "-1"), ("SET", "str", "v"), ("RPOPLPUSH", "d", "str"),
    ("RPOPLPUSH", "str", "d"), ("LMOVE", "d", "str", "LEFT", "LEFT"), ("LRANGE", "d", "0", "-1"),
    ("LSET", "str", "0", "x"), ("LINSERT", "str", "before", "a", "b"), ("LREM", "str", "0", "a"),
    ("LTRIM", "str", "0", "1"),
]

MPOP = [
    ("DEL", "a", "b", "str"), ("RPUSH", "b", "1", "2", "3"), ("LMPOP", "2", "a", "b", "LEFT"),
    ("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "10"), ("LMPOP", "2", "a", "b", "LEFT"), ("LMPOP", "0", "a", "LEFT"),
    ("LMPOP", "x", "a", "LEFT"), ("LMPOP", "-1", "a", "LEFT"), ("LMPOP", "3", "a", "b", "LEFT"),
    ("LMPOP", "1", "a", "MIDDLE"), ("LMPOP", "1", "a", "LEFT", "COUNT", "0"), ("LMPOP", "1", "a", "LEFT", "COUNT", "x"),
    ("LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"), ("LMPOP", "1", "a", "LEFT", "BOGUS"),
    ("LMPOP", "1", "a", "LEFT", "COUNT"), ("SET", "str", "v"), ("LMPOP", "2", "str", "a", "LEFT"),
    ("RPUSH", "a", "x"), ("LMPOP", "2", "a", "str", "LEFT"),
]

BLOCKING_IMMEDIATE = [
    ("DEL", "a", "b", "str", "d"), ("RPUSH", "b", "1", "2", "3", "4", "5"), ("BLPOP", "a", "b", "0"), ("BRPOP", "a", "b", "0.5"),
    ("BLPOP", "a", "x"), ("BLPOP", "a", "-1"), ("BLPOP", "a", "-1.5"), ("BLPOP", "a", ""), ("BLPOP", "a", " 1"),
    ("BLPOP", "a", "inf"), ("BLPOP", "a", "nan"), ("BLPOP", "a", "1e30"),
    ("BLMOVE", "b", "d", "LEFT", "RIGHT", "0"), ("BLMOVE", "b", "d", "UP", "RIGHT", "0"),
    ("BLMOVE", "b", "d", "LEFT", "RIGHT", "x"), ("BRPOPLPUSH", "b", "d", "0"), ("BRPOPLPUSH", "b", "d", "-1"),
    ("LRANGE", "d", "0", "-1"), ("EXISTS", "b"), ("SET", "str", "v"), ("BLPOP", "str", "0"), ("BLPOP", "a", "str", "0"),
    ("BRPOPLPUSH", "str", "d", "0"), ("BLMOVE", "d", "str", "LEFT", "LEFT", "0"),
    ("BLMPOP", "0", "2", "a", "d", "LEFT", "COUNT", "5"), ("BLMPOP", "x", "1", "a", "LEFT"),
    ("BLMPOP", "0", "0", "a", "LEFT"), ("BLMPOP", "0", "1", "a", "SIDEWAYS"), ("BLMPOP", "0", "1", "str", "LEFT"),
    ("BLMPOP", "-1", "1", "a", "LEFT"),
]

# inside MULTI a blocking command with no data answers at once as a timeout
BLOCKING_IN_MULTI = [
    ("DEL", "a", "d"), ("MULTI",), ("BLPOP", "a", "0"), ("BRPOP", "a", "1"), ("BLMOVE", "a", "d", "LEFT", "LEFT", "0"),
    ("BRPOPLPUSH", "a", "d", "0"), ("BLMPOP", "0", "1", "a", "LEFT"), ("RPUSH", "a", "x"), ("BLPOP", "a", "0"),
    ("EXEC",),
]


# redis parses the timeout as a long double and rounds it up to whole ms (strtold syntax: hex, inf...);
# a list with data makes every valid timeout answer at once
TIMEOUT_TEXTS = ["0", "-0", "+2", "5.", ".5", "00.5", "1E2", "1e+2", "0X10", "0x.8", "0x1.8p1", "-0.0001", "-0.001",
                 "-0.002", "0.0001", "4e-400", "1e-4940", "-1e-4940", "0e99999", "1e-5000", "1e5000", "1.1e4932",
                 "1.2e4932", "0x1p16383", "0x1p16384", "0x1p-16445", "0x1p-16446", "inf", "-Infinity", "INF",
                 "infinit", "nan", "-nan", "1e16", "9.3e15", "9223372036854775.807", "9223372036854775.808",
                 "9223372036854775807", "1_0", "1,5", "0x", "0xp1", "1e", " ", "\t1", "1\n", "abc", ""]
TIMEOUT_PARSING = [("DEL", "tk", "d")]
for text in TIMEOUT_TEXTS:
    TIMEOUT_PARSING += [("RPUSH", "tk", "v", "w", "x"), ("BLPOP", "tk", text), ("BLMPOP", text, "1", "tk", "LEFT"),
                        ("BLMOVE", "tk", "d", "LEFT", "LEFT", text), ("BRPOPLPUSH", "d", "tk", text)]

# BLMPOP checks numkeys, the side and COUNT before the timeout; BLMOVE the sides before it
ARGUMENT_ORDER = [
    ("BLMPOP", "x", "0", "a", "LEFT"), ("BLMPOP", "x", "1", "a", "MIDDLE"), ("BLMPOP", "-1", "1", "a", "LEFT", "COUNT", "0"),
    ("BLMPOP", "x", "1", "a", "LEFT", "COUNT", "1", "BOGUS"), ("BLMPOP", "x", "5", "a", "LEFT"),
    ("BLMOVE", "a", "d", "UP", "LEFT", "x"), ("BLMOVE", "a", "d", "LEFT", "DOWN", "-1"),
    ("BRPOPLPUSH", "a", "d", "x"), ("BLPOP", "a", "x"), ("SET", "str", "v"), ("BLPOP", "str", "x"),
    ("BLMOVE", "str", "d", "LEFT", "LEFT", "x"), ("BLMPOP", "x", "1", "str", "LEFT"), ("BLPOP", "str", "-1"),
    ("LPOP", "str", "-1"), ("LPOP", "a", "-1"), ("RPOP", "str", "x"), ("LPOP", "str", "0"), ("DEL", "str"),
]


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("sequence", [PUSH_POP, READS, WRITES, MPOP, BLOCKING_IMMEDIATE, BLOCKING_IN_MULTI,
                                      TIMEOUT_PARSING, ARGUMENT_ORDER],
                         ids=["push_pop", "reads", "writes", "mpop", "blocking_immediate", "blocking_in_multi",
                              "timeout_parsing", "argument_order"])
def test_list_commands(cachemere, redis_ref, sequence, resp):
    assert_same(cachemere.port, redis_ref.port, sequence, resp=resp)


def test_sort_store_builds_a_list(cachemere, redis_ref):
    seq = [("DEL", "src", "dst"), ("RPUSH", "src", "3", "1", "2"), ("SORT", "src", "STORE", "dst"),
           ("TYPE", "dst"), ("LRANGE", "dst", "0", "-1"), ("OBJECT", "ENCODING", "dst")]
    assert_same(cachemere.port, redis_ref.port, seq)


def test_command_info_matches(cachemere, redis_ref):
    names = ["LPUSH", "LPOS", "LMPOP", "BLPOP", "BLMOVE", "BLMPOP", "BRPOPLPUSH"]
    assert_same(cachemere.port, redis_ref.port, [("COMMAND", "INFO", *names)])


def test_lrange_walks_from_the_nearer_end(cachemere, redis_ref):
    """The compiled LRANGE walks forward for ranges nearer the head and backward (then reversed) for ranges
    nearer the tail; both orders, the clamping and the parse errors equal redis's."""
    seq = [("DEL", "lr"), ("RPUSH", "lr", *[f"e{i}" for i in range(300)])]
    for lo, hi in [("0", "-1"), ("0", "9"), ("290", "299"), ("-10", "-1"), ("-1", "-1"), ("150", "151"),
                   ("149", "150"), ("100", "280"), ("-400", "5"), ("295", "400"), ("300", "301"), ("-301", "-300"),
                   ("5", "4"), ("01", "3"), ("+1", "3"), ("1", "3.0"), ("9223372036854775807", "-1"),
                   ("-9223372036854775808", "0"), ("0", "9223372036854775807")]:
        seq.append(("LRANGE", "lr", lo, hi))
    for resp in (2, 3):
        assert_same(cachemere.port, redis_ref.port, seq, resp=resp)
