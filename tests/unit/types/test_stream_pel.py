"""The PEL map (engine/types/stream.pyx SortedIds: C (ms, seq) ids in one sorted array, the NACKs in a list beside)
against a dict + sorted list model, and the group/consumer/NACK cycle still collected once a stream goes."""
import gc
import random

from engine.types.stream import SortedIds, NACK, StreamValue, ConsumerGroup, U64_MAX


def test_sorted_ids_against_a_model():
    rnd = random.Random(7)
    m = SortedIds()
    model = {}
    for _ in range(3000):
        k = (rnd.choice([0, 1, 5, U64_MAX]), rnd.randrange(0, 40))
        op = rnd.random()
        if op < 0.6:
            m.insert(k, k[1])
            model[k] = k[1]
        else:
            assert m.remove(k) == (k in model)
            model.pop(k, None)
        assert len(m) == len(model)
    keys = sorted(model)
    assert m.keys == keys and m.map == model and m.vals == [model[k] for k in keys]
    for i, k in enumerate(keys):
        assert m.key_at(i) == k and m.value_at(i) == model[k] and k in m and m.get(k) == model[k]
    assert m.key_at(-1) == keys[-1] and m.get((2, 2)) is None and (2, 2) not in m
    assert m.index_ge((0, 0)) == 0 and m.index_ge((U64_MAX, U64_MAX)) == len(keys) - ((U64_MAX, U64_MAX) in model)
    assert m.index_ge((1, 10)) == sum(1 for k in keys if k < (1, 10))


def test_consumer_cycle_is_collected():
    s = StreamValue()
    for i in range(1, 50):
        s.append((i, 0), [b"f", b"v"])
    g = ConsumerGroup((0, 0), 0)
    s.groups[b"g"] = g
    cons = g.create_consumer(b"c", 1)
    for i in range(1, 50):
        n = NACK(987654321, 1, cons)
        g.pel.insert((i, 0), n)
        cons.pel.insert((i, 0), n)
    def mine():
        return [o for o in gc.get_objects() if type(o) is NACK and o.delivery_time == 987654321]

    assert mine()                # NACKs are GC-tracked, so the check below means something
    del s, g, cons, n
    gc.collect()
    assert not mine()
