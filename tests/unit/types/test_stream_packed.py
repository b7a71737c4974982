"""The packed node of the stream type: entries round-trip through the node buffers (ids as deltas of the
master, values only when the fields match the master entry), deleted slots stay flagged in place, nodes
split at the entry and byte limits, and ranges/reverse ranges across nodes equal a plain-list model."""
import random

from engine.types.stream import StreamValue, MIN_ID, MAX_ID, U64_MAX


def model_range(model, start, end, count=0, rev=False):
    out = [(k, v) for k, v in model if start <= k <= end]
    if rev:
        out.reverse()
    return out[:count] if count else out


def test_packed_round_trip_and_flags():
    s = StreamValue()
    s.append((1000, 0), [b"f", b"v"])
    s.append((1000, 1), [b"f", b""])                        # same fields, empty value
    s.append((1005, 7), [b"g", b"1", b"h", b"x" * 300])     # other fields: stored in full
    s.append((U64_MAX, U64_MAX - 1), [b"f", b"12345"])
    assert len(s.nodes) == 1
    node = s.nodes[0]
    assert [e[0] for e in node.entries()] == [(1000, 0), (1000, 1), (1005, 7), (U64_MAX, U64_MAX - 1)]
    assert s.get_entry((1000, 1)) == (b"f", b"")
    assert s.get_entry((1005, 7)) == (b"g", b"1", b"h", b"x" * 300)
    assert s.get_entry((1005, 6)) is None and s.get_entry((1, 0)) is None
    assert s.delete((1000, 1)) and not s.delete((1000, 1))
    assert [e[2] for e in node.entries()] == [False, True, False, False]     # flagged in place
    assert node.slots == 4 and node.live == 3 and len(s) == 3
    assert s.last_valid_id() == (U64_MAX, U64_MAX - 1)
    assert s.delete((U64_MAX, U64_MAX - 1)) and s.last_valid_id() == (1005, 7)
    assert s.ids == [(1000, 0), (1005, 7)]
    # a small entry costs bytes, not objects: id deltas and the value only
    t = StreamValue()
    t.append((1700000000000, 0), [b"field", b"v0000000"])
    before = t.nodes[0].packed_bytes
    t.append((1700000000003, 0), [b"field", b"v0000001"])
    assert t.nodes[0].packed_bytes - before == 1 + 1 + 1 + 1 + 8     # flags, ms delta, seq, len, value


def test_nodes_split_and_ranges_match_a_list_model():
    rng = random.Random(3)
    s = StreamValue()
    model = []
    ms = 1
    for i in range(1500):
        ms += rng.choice((0, 0, 1, 5, 1000))
        entry_id = (ms, i)
        fv = [b"f", b"%d" % i] if rng.random() < 0.8 else [b"a%d" % (i % 3), b"x" * rng.randint(0, 500)]
        s.append(entry_id, fv, 4096, 100)
        model.append((entry_id, tuple(fv)))
    assert all(n.slots <= 100 for n in s.nodes) and len(s.nodes) > 15
    for entry_id, _ in rng.sample(model, 400):
        assert s.delete(entry_id)
    model = [m for m in model if s.get_entry(m[0]) is not None]
    assert len(s) == len(model) == 1100
    assert sum(n.live for n in s.nodes) == len(model)
    for _ in range(200):
        a, b = sorted(rng.choice(model)[0] for _ in range(2))
        a = (a[0], max(0, a[1] + rng.choice((-1, 0, 1))))
        count = rng.choice((0, 1, 3, 50))
        assert s.range(a, b, count) == model_range(model, a, b, count)
        assert s.range(a, b, count, True) == model_range(model, a, b, count, True)
    assert s.range(MIN_ID, MAX_ID) == model
    assert s.first_entry() == model[0] and s.last_entry() == model[-1]
    copy = s.copy()
    assert copy.range(MIN_ID, MAX_ID) == model


def test_xdel_of_a_whole_node_drops_it_and_trim_keeps_counts():
    s = StreamValue()
    for i in range(1, 301):
        s.append((i, 0), [b"f", b"v"])
    assert len(s.nodes) == 3
    for i in range(101, 201):
        assert s.delete((i, 0))
    assert len(s.nodes) == 2 and len(s) == 200
    assert s.range((90, 0), (210, 0)) == [((i, 0), (b"f", b"v")) for i in list(range(90, 101)) + list(range(201, 211))]
    assert s.trim("maxlen", 150, None, True, 0) == 0            # ~: the first node cannot go whole
    assert s.trim("maxlen", 150, None, False, 0) == 50           # exact: flagged inside the first node
    assert len(s.nodes) == 2 and s.nodes[0].live == 50 and s.first_id == (51, 0)
    assert s.trim("minid", 0, (250, 0), True, 0) == 50           # whole first node
    assert len(s.nodes) == 1 and s.first_id == (201, 0)
