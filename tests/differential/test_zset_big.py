"""Big (skiplist-encoded) sorted sets through growth of the member -> node table: replies byte-identical
to redis-server 7.0.15 for lookups, updates, deletes, pops, ranks, special scores and DUMP payloads."""
import pytest

from tests.differential.script_compare import ServerPair, assert_same


@pytest.fixture(scope="module")
def pair():
    servers = ServerPair()
    yield servers
    servers.stop()


def _zadd(key, pairs):
    return "zadd %s %s" % (key, " ".join("%s %s" % p for p in pairs))


def test_big_set_growth_updates_and_deletes(pair):
    lines = []
    # 3000 members in batches (the table doubles several times), equal scores and -0.0/inf among them
    for b in range(0, 3000, 500):
        lines.append(_zadd("big", [((i * 7) % 13 if i % 5 else "-0", "m%d" % i) for i in range(b, b + 500)]))
    lines.append(_zadd("big", [("inf", "top"), ("-inf", "bottom"), ("1e300", "huge")]))
    lines += ["zcard big", "zscore big m0", "zscore big m1", "zscore big m2999", "zscore big absent",
              "zmscore big m5 nope m2998 top bottom", "zrank big m1234", "zrevrank big m1234", "zrank big nope",
              "zadd big xx ch gt 100 m10 0 m11 5 nope", "zadd big nx 1 m12 1 new1", "zadd big lt ch -5 m13",
              "zadd big incr 2.5 m14", "zincrby big -inf m15", "zincrby big 1 m16", "zscore big m15",
              "zadd big incr inf top", "zrem big " + " ".join("m%d" % i for i in range(0, 3000, 3)), "zcard big",
              "zscore big m0", "zscore big m1", "zrank big m2", "zrange big 0 9 withscores",
              "zrange big -5 -1 withscores", "zrangebyscore big 3 3 limit 0 5", "zcount big -inf +inf",
              "zpopmin big 3", "zpopmax big 3", "zremrangebyrank big 0 99", "zremrangebyscore big 12 12",
              "zcard big", "zmscore big m1 m2 m4 m5 m7 m8", "zadd big 5 m1 5 m2 5 m3", "zrank big m3",
              "zrangestore copy big 0 -1", "zcard copy", "zunionstore u 2 big copy weights 1 2", "zscore u m1",
              "zinterstore i 2 big copy", "zcard i", "zdiffstore d 2 big copy", "zcard d",
              "object encoding big", "debug reload", "zcard big", "zscore big m1", "zrank big m4",
              "zrange big 0 4 withscores", "dump copy", "del big", "zscore big m1"]
    assert_same(pair, "\n".join(lines))
    assert_same(pair, "\n".join(lines), resp=3)


def test_big_set_emptied_and_refilled(pair):
    lines = [_zadd("e", [(i, "x%d" % i) for i in range(400)])]
    lines += ["zpopmin e 400", "exists e", _zadd("e", [(i % 3, "y%d" % i) for i in range(300)]),
              "zrem e " + " ".join("y%d" % i for i in range(299)), "zrange e 0 -1 withscores",
              "object encoding e", "zscore e y299", "zscore e y0"]
    assert_same(pair, "\n".join(lines))


def test_store_of_a_range_keeps_redis_encoding_and_signed_zeros(pair):
    # ZRANGESTORE by rank knows its length (zsetTypeCreate(length, 0)): over 128 members it starts as a
    # skiplist and keeps -0.0; score/lex ranges start as a listpack, where -0.0 becomes 0
    lines = [_zadd("src", [((i * 7) % 13 if i % 5 else "-0", "m%d" % i) for i in range(300)])]
    for args in ("0 -1", "0 4", "-inf +inf byscore", "-1 1 byscore", "- + bylex", "0 -1 rev", "0 127"):
        lines += ["zrangestore d src " + args, "object encoding d", "dump d", "zscore d m5"]
    assert_same(pair, "\n".join(lines))
