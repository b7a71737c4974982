"""The compiled sorted-set handlers (engine/commands/t_zset_fast.pyx) against redis-server 7.0.15, byte for
byte in RESP2 and RESP3: every branch of the fast paths and the forms they hand to the Python handler."""
import pytest

from tests.differential.script_compare import ServerPair, assert_same

SCRIPTS = {
    "fast_paths": """
    set str v
    zadd str 1 a
    zincrby str 1 a
    zscore str a
    zrank str a
    zrevrank str a
    zcard str
    zrem str a
    zpopmin str
    zpopmax str
    zadd f 1 a 2 b 3 c 2 b 4 a
    zadd f 1.5 a 1.50 a
    zadd F 1 a
    zadd f 0x10 h 1e3 k -1.5e-3 n +7 p .5 q 5. r
    zadd f 1 a 2
    zadd f 1 a x b
    zadd f 1 a " 2" b
    zadd f 1 a "2 " b
    zadd f 1e-400 u
    zadd f -1e400 u
    zadd f 1 a +inf b
    zadd f Nx 1 a
    zadd f CH 9 a
    zadd f 3 d 3 d 3 d
    zrange f 0 -1 withscores
    zscore f a
    zscore f nosuch
    zscore nokey a
    zcard f
    zcard nokey
    zrank f a
    zrevrank f a
    zrank f nosuch
    zrank nokey a
    zincrby f 1 a
    zincrby f -0.5 a
    zincrby f 0 a
    zincrby f 1e308 big
    zincrby f 1e308 big
    zincrby f 1e308 big
    zincrby f -inf big
    zincrby f inf big
    zincrby f 1 newmember
    zincrby nk2 3.25 m
    zincrby f 1.0e1 a
    zadd neg -0 a
    zscore neg a
    zincrby neg -0 b
    zscore neg b
    zadd f 17 m17 18 m18 19 m19 20 m20 21 m21 22 m22 23 m23 24 m24 25 m25 26 m26 27 m27 28 m28 29 m29 30 m30 31 m31 32 m32 33 m33
    zrange f 0 -1 withscores
    zrem f a b nosuch a
    zrem f nosuch
    zrem nokey a
    zpopmin f
    zpopmax f
    zpopmin f 2
    zpopmax f 0
    zpopmin f -1
    zpopmin f 1 2
    zpopmin nokey
    zpopmax nokey
    zadd one 1 x
    zpopmin one
    exists one
    zadd one 1 x 2 y
    zrem one x y
    exists one
    zadd one 1 x
    zpopmax one
    exists one
    zadd long 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    object encoding long
    zadd long2 1 a
    object encoding long2
    zadd long2 -0 b 2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    object encoding long2
    zadd long2 -0 c
    zscore long2 c
    zincrby long3 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    object encoding long3
    zrange f 0 -1 withscores
    zcard f
    zadd ints 999999999999999 a -999999999999999 b 1e15 c -1e15 d 1e16 e 123456789012345678 f 9007199254740993 g
    zscore ints a
    zscore ints b
    zscore ints c
    zscore ints d
    zscore ints e
    zscore ints f
    zscore ints g
    zincrby ints 1 a
    zincrby ints -1 b
    zincrby ints 0.5 h
    zincrby ints 0.5 h
    zrange ints 0 -1 withscores
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


def test_listpack_limits_follow_config(pair):
    """CONFIG SET zset-max-listpack-entries/value changes when ZADD and ZINCRBY convert to a skiplist."""
    script = "config set zset-max-listpack-entries 3\nconfig set zset-max-listpack-value 4\n" \
             "zadd c1 1 a 2 b 3 c\nobject encoding c1\nzadd c1 4 d\nobject encoding c1\n" \
             "zadd c2 -0 abcd\nobject encoding c2\nzincrby c2 1 abcde\nobject encoding c2\nzscore c2 abcd\n" \
             "zadd c3 -0 a\nzadd c3 -0 abcdef\nzscore c3 a\nobject encoding c3\n" \
             "config set zset-max-listpack-entries 128\nconfig set zset-max-listpack-value 64\n"
    assert_same(pair, script)


def test_pops_and_removals_of_a_skiplist(pair):
    """The compiled ZPOPMIN/ZPOPMAX/ZREM on a skiplist-encoded set (150 members, tied scores): ranks and
    ranges afterwards show the links and spans are intact."""
    adds = " ".join("%d m%03d" % (i % 17, i) for i in range(150))
    script = "zadd sk " + adds + "\nobject encoding sk\n" + "zpopmin sk\n" * 6 + "zpopmax sk\n" * 4 + \
             "zrem sk m100 m101 m007 nosuch\nzincrby sk 100 m050\nzadd sk -5 m149 3 m060\n" + \
             "".join("zrank sk m%03d\nzrevrank sk m%03d\n" % (i, i) for i in range(0, 150, 7)) + \
             "zrange sk 0 -1 withscores\nzrange sk 5 9\nzcard sk\n" + "zpopmin sk\n" * 3 + "zrange sk 0 4 withscores\n"
    assert_same(pair, script)
    assert_same(pair, script.replace("sk", "sk3"), resp=3)


def test_range_reads_of_a_skiplist(pair):
    """The compiled ZRANGE (rank form) and ZRANGEBYSCORE (plain form) write from the nodes; every other form,
    bad bound and packed zset goes to the Python handler: all byte for byte with redis, RESP2 and RESP3."""
    adds = " ".join("%s m%03d" % (("%d" % (i % 23)) if i % 5 else "%d.25" % (i % 23), i) for i in range(150))
    lines = ["zadd rs " + adds, "object encoding rs", "zadd small 1 a 2 b 3 c", "set str v"]
    for lo, hi in [("0", "-1"), ("5", "9"), ("-3", "-1"), ("-500", "2"), ("148", "500"), ("149", "149"),
                   ("150", "200"), ("10", "5"), ("-1", "-2"), ("0", "0"), ("x", "1"), ("1", "1.5"), ("01", "2"),
                   ("+1", "2"), ("9223372036854775807", "1"), ("-9223372036854775808", "0")]:
        lines += [f"zrange rs {lo} {hi}", f"zrange rs {lo} {hi} withscores", f"zrange rs {lo} {hi} WithScores"]
    for lo, hi in [("-inf", "+inf"), ("3", "5"), ("(3", "5"), ("3", "(5"), ("(3", "(3"), ("3", "3"), ("5", "3"),
                   ("3.25", "3.25"), ("(3.25", "4"), ("-1", "0"), ("22", "inf"), ("23", "30"), ("-inf", "-1"),
                   ("1e1", "1.2e1"), ("abc", "1"), ("1", "nan"), ("(", "1"), ("((1", "2"), ("1 ", "2"), (" 1", "2"),
                   ("0x10", "20"), ("-INF", "+Inf"), ("inFinity", "-infinity")]:
        lines += [f'zrangebyscore rs "{lo}" "{hi}"', f'zrangebyscore rs "{lo}" "{hi}" withscores']
    lines += ["zrangebyscore rs 1 3 limit 0 2", "zrangebyscore rs 1 3 withscores limit 1 3", "zrangebyscore rs 1 3 foo",
              "zrangebyscore rs 1 3 withscores withscores", "zrange rs 0 3 rev", "zrange rs 1 3 byscore",
              "zrange small 0 -1", "zrange small 0 -1 withscores", "zrangebyscore small 1 2 withscores",
              "zrange nokey 0 -1", "zrangebyscore nokey 0 1", "zrange str 0 1", "zrangebyscore str 0 1",
              "zrange str x 1", "zrangebyscore str x 1", "zrange rs 0", "zrangebyscore rs 0"]
    script = "\n".join(lines) + "\n"
    assert_same(pair, script)
    assert_same(pair, script.replace(" rs ", " rs3 "), resp=3)


def test_packed_score_widths(pair):
    """Packed zsets keep each score in a byte, a float or a double: the replies (scores printed as redis
    prints them), DUMP/RESTORE and OBJECT ENCODING equal redis's for scores at each width's edges."""
    scores = ["0", "-0", "1", "-1", "127", "-128", "128", "-129", "0.5", "-2.25", "0.1", "1e-40", "3.4028234663852886e38",
              "3.5e38", "1e308", "inf", "-inf", "16777216", "16777217", "1.401298464324817e-45"]
    long63 = "m" * 61
    lines = ["zadd pw " + " ".join(f"{sc} m{i:02d}" for i, sc in enumerate(scores)),
             "zadd pw63 " + " ".join(f"{sc} {i:02d}{long63}" for i, sc in enumerate(scores)),
             "zadd pw64 " + " ".join(f"{sc} {i:02d}{long63}x" for i, sc in enumerate(scores))]
    for key in ("pw", "pw63", "pw64"):
        lines += [f"object encoding {key}", f"zrange {key} 0 -1 withscores", f"zrangebyscore {key} -1 1 withscores",
                  f"zrank {key} m05", f"zcard {key}", f"zincrby {key} 1 m03", f"zscore {key} m03",
                  f"zincrby {key} 0.5 m08", f"zpopmin {key}", f"zpopmax {key}", f"zrange {key} 0 -1 withscores"]
    lines += ["zscore pw m01", "zscore pw m11", "zscore pw m19", "zadd pw 1.5 m02 -0 m04", "zrange pw 0 4 withscores"]
    script = "\n".join(lines) + "\n"
    assert_same(pair, script)
    assert_same(pair, script.replace(" pw", " pq"), resp=3)
