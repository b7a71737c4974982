"""Sorted-set commands: Cachemere's replies equal redis-server 7.0.15's byte for byte, in RESP2 and RESP3;
random replies are checked by their properties."""
import pytest

from tests.differential.script_compare import ServerPair, assert_same
from tests.support.servers import RawConnection

SCRIPTS = {
    "write_and_read": """
    zadd z 1 a 2 b 3 c
    zadd z nx 5 a 6 d
    zadd z xx ch 10 a 20 zz
    zadd z gt ch 1 a 11 b
    zadd z lt 0 c
    zadd z incr 1 a
    zadd z incr nx 1 a
    zadd z nx xx 1 a
    zadd z gt lt 1 a
    zadd z gt nx 1 a
    zadd z incr 1 a 2 b
    zadd z 1
    zadd z
    zadd z x a
    zadd z nan a
    zadd z " 1" a
    zadd z 1e400 a
    zadd z inf q
    zadd z incr -inf q
    zadd z -0 m
    zscore z m
    zadd nx xx 1 a
    zadd newk xx 1 a
    zadd newk xx incr 1 a
    zincrby z 2.5 a
    zincrby z x a
    zincrby z nx a
    zincrby nk 1 a
    zrange z 0 -1 withscores
    zrange z 0 -1 withscores rev
    zrange z (1 +inf byscore withscores
    zrange z +inf (1 byscore rev withscores limit 1 2
    zrange z 0 -1 limit 0 1
    zrange z 0 -1 limit 0 -1
    zrange z - + bylex withscores
    zrange z - + bylex
    zrange z [a (d bylex limit 1 10
    zrange z 0 -1 rev rev
    zrange z 0 -1 bylex byscore
    zrange z a b
    zrange z 0 -1 limit x 1
    zrange z x y byscore
    zrange z x y bylex
    zrange z 0 -1 foo
    zrangebyscore z -inf +inf withscores limit 0 2
    zrangebyscore z -inf +inf rev
    zrevrangebyscore z +inf -inf withscores
    zrevrangebyscore z 2 (1
    zrangebylex z - + withscores
    zrevrangebylex z + - limit 0 2
    zrevrange z 0 1 withscores
    zrevrange z 0 1 limit 0 1
    zrangestore dst z 0 1
    zrange dst 0 -1 withscores
    zrangestore dst z 0 1 withscores
    zrangestore dst nokey 0 -1
    zrangestore dst z 5 1
    zcount z -inf +inf
    zcount z (1 3
    zcount z a 3
    zcount nokey 0 1
    zlexcount z - +
    zlexcount z a +
    zlexcount z [a [b
    zrank z a
    zrevrank z a
    zrank z nope
    zrank nokey a
    zcard z
    zcard nokey
    zmscore z a b nope
    zmscore nokey a
    zmscore z
    zscore nokey a
    set str x
    zadd str 1 a
    zscore str a
    zrange str 0 -1
    zrangestore dst str 0 -1
    zcard str
    zrem str a
    zcount str 0 1
    zrem z a b nope
    zrem nokey a
    zrange z 0 -1 withscores
    zadd z 1 a 2 b 3 c 4 d 5 e
    zremrangebyrank z 0 0
    zremrangebyrank z -1 -1
    zremrangebyrank z 5 10
    zremrangebyrank z x 1
    zremrangebyscore z (2 3
    zremrangebyscore z a 3
    zremrangebylex z - [a
    zremrangebylex z x +
    zrange z 0 -1 withscores
    zremrangebyscore z -inf +inf
    zremrangebyrank str 0 1
""",
    "set_operations": """
    zadd a 1 x 2 y 3 z
    zadd b 10 y 20 z 30 w
    sadd s z q
    zunion 2 a b
    zunion 2 a b withscores
    zunion 3 a b s withscores
    zunion 2 a b weights 2 3 withscores
    zunion 2 a b weights 2 withscores
    zunion 2 a b weights 2 x withscores
    zunion 2 a b aggregate min withscores
    zunion 2 a b aggregate max withscores
    zunion 2 a b aggregate foo
    zunion 2 a b aggregate
    zunion 0 a
    zunion -1 a
    zunion x a
    zunion 3 a b
    zunion 2 a nokey withscores
    zinter 2 a b withscores
    zinter 3 a b s withscores
    zinter 2 a nokey
    zinter 2 a a withscores weights 1 2
    zinter 2 a b weights 1 -1 aggregate sum withscores
    zdiff 2 a b withscores
    zdiff 2 b a withscores
    zdiff 3 b a s withscores
    zdiff 2 a b weights 1 1
    zdiff 2 a b aggregate min
    zdiff 1 nokey
    zintercard 2 a b
    zintercard 2 a b limit 1
    zintercard 2 a b limit 0
    zintercard 2 a b limit -1
    zintercard 2 a b withscores
    zintercard 1 s
    zunionstore d 2 a b
    zrange d 0 -1 withscores
    zunionstore d 2 a b withscores
    zinterstore d 2 a b weights 0 0
    zrange d 0 -1 withscores
    zinterstore d 2 a nokey
    get d
    zdiffstore d 2 a b
    zrange d 0 -1 withscores
    zunionstore d 0 a
    set str v
    zunion 2 a str
    zunionstore d 2 str a
    zinter 2 nokey str
    zadd inf1 inf m
    zadd inf2 -inf m
    zunion 2 inf1 inf2 withscores
    zinter 2 inf1 inf2 withscores
    zunion 2 inf1 inf2 weights 0 1 withscores
""",
    "pops": """
    zadd a 1 x 2 y 3 z
    zadd b 10 y 20 z 30 w
    set str v
    zpopmin a
    zpopmin nokey
    zpopmin nokey 2
    zpopmin str
    zpopmin b x
    zpopmin b -1
    zpopmin b 0
    zpopmin b 1 2
    zadd m1 1 a 2 b 3 c
    zadd m2 5 x
    zmpop 2 nokey m1 min
    zmpop 2 nokey m1 max count 5
    zmpop 2 nokey m1 max count 5
    zmpop 2 m1 m2 min count 1 count 2
    zmpop 2 m1 m2 min foo
    zmpop 2 m1 m2
    zmpop 5 m1 m2 min
    zmpop 1 str min
    zmpop 2 nokey m2 min
""",
    "random_and_scan": """
    set str v
    zadd r 1 a 2 b 3 c
    zrandmember r 0
    zrandmember r 3
    zrandmember r 3 withscores
    zrandmember r 10 withscores
    zrandmember r 2 foo
    zrandmember r 2 withscores foo
    zrandmember r x
    zrandmember nokey
    zrandmember nokey 5 withscores
    zrandmember str
    zrandmember str 1
    zscan r 0
    zscan r 0 match a*
    zscan r 0 count 0
    zscan r x
    zscan nokey 0
    zscan str 0
""",
    "negative_zero_by_encoding": """
    zadd neg -0 a
    zscore neg a
    zincrby neg -0 b
    zscore neg b
    zadd neg incr -0 c
    zrange neg 0 -1 withscores
    zadd zl 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    zadd zl -0 n
    zscore zl n
    zunion 1 zl withscores
    zunionstore zl2 1 zl
    zscore zl2 n
    zrangestore zl3 zl 0 -1
    zscore zl3 n
    zadd zl 1 b 2 c
    zscan zl 0 !unordered
""",
    "ranges_and_parsing": """
    zadd big 1.5 a 0.1 b 1e-300 c -1e300 d
    zscan big 0
    zrange big 0 -1 withscores
    zadd big nan x
    zadd big 1 2 3
    zadd big xx
    zrevrangebyscore big +inf -inf withscores limit 1 1
    zrangebyscore big (0.1 1.5
    zrangebyscore big (0.1 (1.5
    zrangebyscore big 2 1
    zrangebyscore big "" +inf
    zrangebyscore big ( +inf
    zrangebylex big [a (c
    zrangebylex big a c
    zrangebylex big [c [a
    zadd big2 0 a 0 b 0 c 0 d
    zrangebylex big2 (a [c
    zrevrangebylex big2 [c (a
    zrevrangebylex big2 + - limit 1 2
    zlexcount big2 (a +
    zremrangebylex big2 (b +
    zrange big2 0 -1
""",
}


@pytest.fixture(scope="module")
def pair():
    servers = ServerPair()
    yield servers
    servers.stop()


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script(pair, name, resp):
    assert_same(pair, SCRIPTS[name], resp)


def test_skiplist_encoding_keeps_negative_zero(pair):
    """129 members convert to a skiplist, which stores -0.0 as is (a listpack says 0)."""
    script = "zadd enc " + " ".join("%d m%d" % (i, i) for i in range(129)) + "\nzadd enc -0 z\nzscore enc z\n" \
             "zadd small -0 z\nzscore small z\nzrangestore back enc 0 9\nzrange back 0 -1 withscores\n" \
             "zadd enc 0.5 m1\nzrange enc 0 3 withscores\nzscan enc 0 count 1000 !unordered"
    assert_same(pair, script)


def read(conn, *args):
    from tests.support.diff import parse
    return parse(conn.command(*args))


def test_zrandmember_properties(pair):
    conn = RawConnection(pair.ours.port)
    members = [b"m%d" % i for i in range(20)]
    conn.command("ZADD", "rnd", *[x for i, m in enumerate(members) for x in (str(i), m)])
    picked = read(conn, "ZRANDMEMBER", "rnd", "5")
    assert len(picked) == 5 and len(set(picked)) == 5 and set(picked) <= set(members)
    repeated = read(conn, "ZRANDMEMBER", "rnd", "-50")
    assert len(repeated) == 50 and set(repeated) <= set(members)
    with_scores = read(conn, "ZRANDMEMBER", "rnd", "-3", "WITHSCORES")
    assert len(with_scores) == 6
    for member, score in zip(with_scores[::2], with_scores[1::2]):
        assert score == str(members.index(member)).encode()
    assert read(conn, "ZRANDMEMBER", "rnd") in members
    conn.command("HELLO", "3")
    nested = read(conn, "ZRANDMEMBER", "rnd", "2", "WITHSCORES")
    assert len(nested) == 2 and all(len(p) == 2 for p in nested)
    conn.close()


def test_zscan_of_skiplist_returns_everything(pair):
    conn = RawConnection(pair.ours.port)
    conn.command("ZADD", "scanned", *[x for i in range(300) for x in (str(i), "e%d" % i)])
    cursor, seen = b"0", {}
    for _ in range(1000):
        cursor, items = read(conn, "ZSCAN", "scanned", cursor, "COUNT", "50")
        seen.update(zip(items[::2], items[1::2]))
        if cursor == b"0":
            break
    assert seen == {b"e%d" % i: str(i).encode() for i in range(300)}
    conn.close()


def test_blocking_pops_served_at_once_and_in_multi(pair):
    """Keys with elements are served immediately; inside MULTI an empty key answers a null array."""
    script = """
    zadd bz 1 a 2 b 3 c
    bzpopmin nokey bz 0
    bzpopmax bz 0.5
    bzmpop 1 2 nokey bz min count 5
    bzpopmin bz x
    bzpopmin bz -1
    bzmpop 0 0 bz min
    bzmpop 1 1 bz foo
    bzmpop 1 1 bz min count 0
    multi
    bzpopmin bz 0
    bzmpop 0 1 bz max
    exec
    """
    assert_same(pair, script)
    assert_same(pair, script, resp=3)
