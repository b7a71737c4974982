"""A write to a big value costs what it costs on a small one (issue 20): every push/pop/add/remove is O(1)
or O(log n) in the value's size, so the server CPU time of a batch of writes on a 1,000,000-element value stays within a
small factor of the same batch on a 1,000-element one (300,000 in make test). O(n) per command (memory accounting, effects,
notifications or the container) shows up as a ratio in the hundreds."""
import time

import pytest
import redis

BIG_SIZES = [300_000, pytest.param(1_000_000, marks=pytest.mark.drill)]   # 1M only in make drill (fill time)
SMALL = 1_000
OPS = 5_000
MAX_RATIO = 4.0

# Lua that fills KEYS[1] with ARGV[1] elements, 1,000 per variadic call
CHUNKED = ("local n = tonumber(ARGV[1]) for base = 0, n - 1, 1000 do local args = {} "
           "for i = base + 1, math.min(base + 1000, n) do %s end redis.call(%s, KEYS[1], unpack(args)) end")
FILL = {
    "list": CHUNKED % ("args[#args + 1] = i", "'rpush'"),
    "hash": CHUNKED % ("args[#args + 1] = i args[#args + 1] = i", "'hset'"),
    "set": CHUNKED % ("args[#args + 1] = i", "'sadd'"),
    "zset": CHUNKED % ("args[#args + 1] = i args[#args + 1] = i", "'zadd'"),
    "stream": "for i = 1, tonumber(ARGV[1]) do redis.call('xadd', KEYS[1], i .. '-1', 'f', i) end",
}


def writes(pipe, kind, key, i):
    member = "new-%d" % i
    if kind == "list":
        pipe.lpush(key, member)
        pipe.rpop(key)
        pipe.rpush(key, member)
        pipe.lpop(key)
        pipe.lmove(key, key, "RIGHT", "LEFT")
    elif kind == "hash":
        pipe.hset(key, member, "v")
        pipe.hdel(key, member)
    elif kind == "set":
        pipe.sadd(key, member)
        pipe.srem(key, member)
    elif kind == "zset":
        pipe.zadd(key, {member: -i})
        pipe.zrem(key, member)
    else:
        pipe.xadd(key, {"f": member})
        pipe.xdel(key, "0-1")


def server_cpu(r):
    cpu = r.info("cpu")
    return cpu["used_cpu_user"] + cpu["used_cpu_sys"]


def timed_batch(r, kind, key):
    """Server CPU seconds for OPS write pairs, each its own top-level command (where per-command work such
    as memory accounting happens), sent as one pipeline; the client's own cost is not counted."""
    pipe = r.pipeline(transaction=False)
    for i in range(OPS):
        writes(pipe, kind, key, i)
    before = server_cpu(r)
    pipe.execute()
    return server_cpu(r) - before


@pytest.mark.parametrize("big_size", BIG_SIZES)
@pytest.mark.parametrize("kind", sorted(FILL))
def test_write_cost_does_not_grow_with_value_size(cachemere, kind, big_size):
    r = redis.Redis(port=cachemere.port, socket_timeout=120)
    small, big = "scale:%s:small" % kind, "scale:%s:big" % kind
    r.delete(small, big)
    r.eval(FILL[kind], 1, small, SMALL)
    r.eval(FILL[kind], 1, big, big_size)
    ratios = []
    for _ in range(3):                                    # interleaved rounds, median: robust to noise
        t_small = timed_batch(r, kind, small)
        t_big = timed_batch(r, kind, big)
        ratios.append(t_big / t_small)
    ratio = sorted(ratios)[1]
    assert ratio < MAX_RATIO, "%s writes on %d elements cost %.1fx those on %d" % (kind, big_size, ratio, SMALL)
    r.delete(small, big)
