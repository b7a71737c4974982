"""HyperLogLog core (engine/types/hll.pyx) compared byte for byte with redis-server 7.0."""
import random

import pytest

from engine.types import hll
from engine.types.hll import HLLCorrupted, HLLWrongType

DENSE_SIZE = 12304


def elements(count, seed):
    rnd = random.Random(seed)
    return [b"el:%d:%d" % (seed, rnd.randrange(10**12)) for _ in range(count)]


def add_both(redis_raw, key, items, value=None, batch=97):
    """PFADD in batches on the server and locally; compare reply and stored bytes each time."""
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        reply = redis_raw("PFADD", key, *chunk)
        value, changed = hll.pfadd(value, chunk)
        assert reply == int(changed)
        assert redis_raw("GET", key) == value, "diverged after %d elements" % (i + len(chunk))
    return value


@pytest.mark.parametrize("count,seed", [(10, 1), (1000, 2), (20000, 3)])
def test_pfadd_and_pfcount_byte_exact(redis_raw, count, seed):
    value = add_both(redis_raw, "k", elements(count, seed))
    assert value[:4] == b"HYLL"
    assert value[4] == (0 if count == 20000 else 1)        # 20000 elements promote to dense
    assert value[15] & 0x80                               # cached cardinality is stale
    card, updated = hll.pfcount([value])
    assert redis_raw("PFCOUNT", "k") == card
    assert redis_raw("GET", "k") == updated                # the cache written back in place
    assert updated[15] & 0x80 == 0
    assert hll.pfcount([updated]) == (card, None)          # served from the cache
    assert abs(card - count) <= max(3, count * 0.03)
    # Re-adding known elements changes nothing.
    assert hll.pfadd(updated, elements(count, seed)[:50]) == (updated, False)


def test_pfadd_without_elements_and_empty_key(redis_raw):
    assert redis_raw("PFADD", "e") == 1
    value, changed = hll.pfadd(None, [])
    assert changed and redis_raw("GET", "e") == value
    assert redis_raw("PFADD", "e") == 0 and hll.pfadd(value, []) == (value, False)
    assert value == hll.new_sparse()[:15] + b"\x80" + hll.new_sparse()[16:]
    assert hll.pfcount([None]) == (0, None)
    assert hll.pfcount([value])[0] == redis_raw("PFCOUNT", "e") == 0


def test_sparse_max_bytes_promotion(redis_raw):
    redis_raw("CONFIG", "SET", "hll-sparse-max-bytes", "400")
    try:
        items = elements(600, 9)
        value = None
        for i in range(0, len(items), 50):
            chunk = items[i:i + 50]
            redis_raw("PFADD", "small", *chunk)
            value, _ = hll.pfadd(value, chunk, sparse_max_bytes=400)
            assert redis_raw("GET", "small") == value
        assert value[4] == 0 and len(value) == DENSE_SIZE
    finally:
        redis_raw("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_multi_key_pfcount_and_pfmerge(redis_raw):
    small = add_both(redis_raw, "a", elements(40, 11))
    other = add_both(redis_raw, "b", elements(900, 12))
    dense = add_both(redis_raw, "c", elements(5000, 13))
    assert dense[4] == 0 and small[4] == 1 and other[4] == 1
    for keys, values in [(["a", "b"], [small, other]), (["a", "c"], [small, dense]),
                         (["a", "b", "c", "missing"], [small, other, dense, None])]:
        assert redis_raw("PFCOUNT", *keys) == hll.pfcount(values)[0]
        # New destination: sparse stays sparse unless some input is dense (Redis 7.0).
        redis_raw("DEL", "dst")
        redis_raw("PFMERGE", "dst", *keys)
        merged = hll.pfmerge([None] + values)
        assert redis_raw("GET", "dst") == merged
        assert merged[4] == (0 if dense in values else 1)
        assert redis_raw("PFCOUNT", "dst") == hll.pfcount([merged])[0]
    # Existing destination that is also a source, with a fresh cache in its header.
    redis_raw("PFCOUNT", "a")
    cached_a = redis_raw("GET", "a")
    redis_raw("PFMERGE", "a", "c")
    assert redis_raw("GET", "a") == hll.pfmerge([cached_a, dense])
    redis_raw("PFMERGE", "b")
    assert redis_raw("GET", "b") == hll.pfmerge([other])


def test_validation_and_errors(redis_raw):
    assert not hll.is_valid_hll(b"HYLL")
    assert not hll.is_valid_hll(b"hello world, not an hll")
    assert not hll.is_valid_hll(b"HYLL\x02" + b"\x00" * 11)
    assert not hll.is_valid_hll(b"HYLL\x00" + b"\x00" * 11)   # dense with the wrong size
    assert hll.is_valid_hll(hll.new_sparse())
    assert not hll.is_valid_hll(None) and not hll.is_valid_hll("HYLL")
    redis_raw("SET", "s", "not an hll at all")
    with pytest.raises(Exception) as server_err:
        redis_raw("PFADD", "s", "x")
    with pytest.raises(HLLWrongType) as mine:
        hll.pfadd(b"not an hll at all", [b"x"])
    assert str(mine.value) == str(server_err.value)
    with pytest.raises(HLLWrongType):
        hll.pfcount([b"junk"])
    with pytest.raises(HLLWrongType):
        hll.pfmerge([None, b"junk"])
    # A sparse body that does not cover 16384 registers is corrupted.
    corrupt = hll.new_sparse()[:16] + b"\x40\x10"
    redis_raw("SET", "bad", corrupt)
    with pytest.raises(Exception) as server_err:
        redis_raw("PFADD", "bad", "x", "y", "z")
    with pytest.raises(HLLCorrupted) as mine:
        hll.pfadd(corrupt, [b"x", b"y", b"z"])
    assert str(mine.value) == str(server_err.value)
    stale = corrupt[:15] + b"\x80" + corrupt[16:]
    redis_raw("SET", "bad", stale)
    with pytest.raises(Exception) as server_err:
        redis_raw("PFCOUNT", "bad")
    with pytest.raises(HLLCorrupted) as mine:
        hll.pfcount([stale])
    assert str(mine.value) == str(server_err.value)


def test_hash_element_known_vector():
    index, count = hll.hash_element(b"a")
    assert 0 <= index < 16384 and 1 <= count <= 51
    assert hll.registers(hll.pfadd(None, [b"a"])[0])[index] == count
