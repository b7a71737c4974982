"""SRANDMEMBER without a count is O(1) on a large set (a random slot of the set's table, as redis samples its
dict), uniform, and still right after most members were removed."""
import time

import redis


def test_srandmember_is_constant_time_and_fair(cachemere):
    r = redis.Redis(port=cachemere.port)
    r.delete("bigs", "smalls")
    pipe = r.pipeline(transaction=False)
    for start in range(0, 300000, 10000):
        pipe.sadd("bigs", *[b"m%d" % i for i in range(start, start + 10000)])
    pipe.execute()
    r.sadd("smalls", *[b"s%d" % i for i in range(1000)])
    t0 = time.perf_counter()
    for _ in range(300):
        r.srandmember("smalls")
    small = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(300):
        assert r.srandmember("bigs").startswith(b"m")
    big = time.perf_counter() - t0
    assert big < small * 3 + 0.05, (small, big)        # O(n) over 300k members would be ~100x slower
    # fair: every member of a 100-member set shows up; a set emptied down to a few members still answers
    r.delete("fair")
    r.sadd("fair", *[b"f%d" % i for i in range(1000)])
    r.srem("fair", *[b"f%d" % i for i in range(100, 1000)])
    seen = {r.srandmember("fair") for _ in range(3000)}
    assert seen == {b"f%d" % i for i in range(100)}
    r.srem("bigs", *[b"m%d" % i for i in range(5, 300000)])
    assert {r.srandmember("bigs") for _ in range(200)} == {b"m%d" % i for i in range(5)}
    r.delete("bigs", "smalls", "fair")
