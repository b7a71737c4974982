"""Draining a big set with SPOP costs what draining a small one costs per pop (issue 20): each SPOP is O(1)
whatever the set's size and however many members were already popped. A pop that re-reads the set's table
from its start (memory re-estimate sampling the first members of a table that popping empties from the
front, or anything else O(n)) shows up as a per-pop cost ratio in the hundreds between a 1M set and a 1k one."""
import pytest
import redis

BIG_SIZES = [200_000, pytest.param(1_000_000, marks=pytest.mark.drill)]
SMALL = 1_000
POPS = 900             # per batch: most of the small set, a thin slice of the big one
MAX_RATIO = 4.0

FILL = ("local n = tonumber(ARGV[1]) for base = 0, n - 1, 1000 do local args = {} "
        "for i = base + 1, math.min(base + 1000, n) do args[#args + 1] = 'm' .. i end "
        "redis.call('sadd', KEYS[1], unpack(args)) end")


def server_cpu(r):
    cpu = r.info("cpu")
    return cpu["used_cpu_user"] + cpu["used_cpu_sys"]


def timed_pops(r, key, n):
    pipe = r.pipeline(transaction=False)
    for _ in range(n):
        pipe.spop(key)
    before = server_cpu(r)
    out = pipe.execute()
    elapsed = server_cpu(r) - before
    assert all(m is not None for m in out)
    return elapsed


@pytest.mark.parametrize("big_size", BIG_SIZES)
def test_spop_drain_cost_does_not_grow_with_set_size(cachemere, big_size):
    r = redis.Redis(port=cachemere.port, socket_timeout=120)
    small, big = "drain:small", "drain:big"
    ratios = []
    for _ in range(3):                                    # interleaved rounds, median: robust to noise
        r.delete(small, big)
        r.eval(FILL, 1, small, SMALL)
        r.eval(FILL, 1, big, big_size)
        # pop most of the big set first, so its table is mostly empty slots (the drained state)
        drained = big_size - 5 * POPS
        pipe = r.pipeline(transaction=False)
        for _ in range(drained // 1000):
            pipe.spop(big, 1000)
        pipe.execute()
        assert r.scard(big) >= POPS
        t_small = timed_pops(r, small, POPS)
        t_big = timed_pops(r, big, POPS)
        ratios.append(t_big / max(t_small, 1e-3))
    ratio = sorted(ratios)[1]
    assert ratio < MAX_RATIO, "SPOP on a drained %d-member set costs %.1fx one on %d" % (big_size, ratio, SMALL)
    # the drained set still pops every remaining member exactly once
    rest = r.scard(big)
    seen = set(r.spop(big) for _ in range(rest))
    assert len(seen) == rest and r.exists(big) == 0
    r.delete(small, big)
