"""The stream value type's incremental bookkeeping: the node memory total kept as entries are appended,
deleted and trimmed must equal a recount over the nodes (it is what MEMORY USAGE and maxmemory read after
every XADD, so it has to be O(1) and exact), and ids format as redis prints them."""
import random

from engine.types.stream import StreamValue, NACK, SortedIds, format_id, node_mem, U64_MAX


def recount(s):
    return sum(node_mem(node) for node in s.nodes)


def fields(i, big=False):
    return [b"f", (b"x" * 900 if big else b"v") + b"%d" % i]


def test_nodes_mem_follows_appends_deletes_and_trims():
    rng = random.Random(7)
    s = StreamValue()
    next_ms = 1
    most_nodes = 0
    for step in range(3000):
        op = rng.random()
        if op < 0.7 or not s.ids:
            s.append((next_ms, 0), fields(step, big=rng.random() < 0.1))
            next_ms += 1
        elif op < 0.97:
            assert s.delete(rng.choice(s.ids))
        else:
            s.trim("maxlen", max(0, len(s.ids) - rng.randint(1, 60)), None, rng.random() < 0.5, 0)
        assert s.nodes_mem == recount(s), step
        most_nodes = max(most_nodes, len(s.nodes))
    assert most_nodes > 3            # the run crossed node boundaries (4096 bytes / 100 entries)


def test_mem_estimate_is_stable_and_grows_with_nodes():
    s = StreamValue()
    empty = s.mem_estimate()
    for i in range(1, 501):
        s.append((i, 0), fields(i))
    assert s.mem_estimate() == 600 + recount(s) + len(s.nodes) * 40
    assert s.mem_estimate() > empty
    copy = s.copy()
    assert copy.nodes_mem == recount(copy) == s.nodes_mem


def test_format_id_unsigned_64_bit():
    assert format_id((0, 0)) == b"0-0"
    assert format_id((1700000000000, 5)) == b"1700000000000-5"
    assert format_id((U64_MAX, U64_MAX)) == b"18446744073709551615-18446744073709551615"


def test_sorted_ids_and_nack_fields():
    ids = SortedIds()
    for k in [(5, 0), (1, 0), (3, 2), (3, 1), (9, 9)]:
        ids.insert(k, NACK(10, 1, None))
    assert ids.keys == sorted(ids.keys) and len(ids) == 5
    ids.insert((3, 1), NACK(20, 2, "c"))          # re-insert replaces, no duplicate key
    assert len(ids.keys) == 5 and ids.get((3, 1)).delivery_count == 2
    assert ids.remove((1, 0)) and not ids.remove((1, 0))
    assert ids.keys == [(3, 1), (3, 2), (5, 0), (9, 9)]
    nack = ids.get((9, 9))
    nack.delivery_time += 5
    nack.consumer = "x"
    assert (nack.delivery_time, nack.consumer) == (15, "x")
