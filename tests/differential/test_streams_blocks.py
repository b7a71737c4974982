"""Stream node (block) boundaries against redis-server 7.0.15: entries across stream-node-max-entries and
stream-node-max-bytes, XDEL of every entry of a node (the node goes, radix-tree-keys drops), ranges that
start, end and reverse across nodes with deleted entries, exact and ~ trims (whole nodes only with ~),
entries whose fields differ from the node's master entry, and replies built from the packed entries."""
import pytest

from tests.support.diff import assert_same, run_sequence


def xadds(key, lo, hi, *fields):
    return [("XADD", key, f"{i}-{i % 3}", *(fields or ("f", str(i)))) for i in range(lo, hi)]


BLOCKS = [("DEL", "pb", "pw", "pm", "pt")] + xadds("pb", 1, 301) + [
    ("XINFO", "STREAM", "pb"), ("XLEN", "pb"),
    # every entry of the second node (ids 101..200) deleted: the node goes
    ("XDEL", "pb", *[f"{i}-{i % 3}" for i in range(101, 150)]), ("XINFO", "STREAM", "pb"),
    ("XDEL", "pb", *[f"{i}-{i % 3}" for i in range(150, 201)]), ("XINFO", "STREAM", "pb"), ("XLEN", "pb"),
    ("XRANGE", "pb", "95", "205"), ("XREVRANGE", "pb", "205", "95"), ("XRANGE", "pb", "(100-1", "+", "COUNT", "3"),
    ("XREVRANGE", "pb", "+", "-", "COUNT", "3"), ("XRANGE", "pb", "150", "160"),
    ("XDEL", "pb", "300-0", "299-2"), ("XINFO", "STREAM", "pb"), ("XREVRANGE", "pb", "+", "-", "COUNT", "2"),
    ("XADD", "pb", "301-0", "f", "x"), ("XINFO", "STREAM", "pb"),
    ("XTRIM", "pb", "MAXLEN", "~", "150"), ("XLEN", "pb"), ("XINFO", "STREAM", "pb"),
    ("XTRIM", "pb", "MAXLEN", "~", "50"), ("XLEN", "pb"), ("XINFO", "STREAM", "pb"),
    ("XTRIM", "pb", "MAXLEN", "42"), ("XLEN", "pb"), ("XINFO", "STREAM", "pb"), ("XRANGE", "pb", "-", "+", "COUNT", "2"),
    ("XTRIM", "pb", "MINID", "280"), ("XINFO", "STREAM", "pb"), ("XTRIM", "pb", "MINID", "~", "290"), ("XLEN", "pb"),
    ("XDEL", "pb", "280-1", "281-2"), ("XTRIM", "pb", "MINID", "283-0"), ("XINFO", "STREAM", "pb", "FULL"),
    # master-field mismatch, several fields, empty values, big values crossing stream-node-max-bytes
] + xadds("pw", 1, 40, "a", "1", "b", "2") + xadds("pw", 40, 60, "c", "") + xadds("pw", 60, 80, "a", "1", "b", "2") + [
    ("XRANGE", "pw", "38", "62"), ("XREVRANGE", "pw", "62", "38"), ("XINFO", "STREAM", "pw"),
] + [("XADD", "pm", f"{i}-0", "f", "y" * (i * 37 % 700)) for i in range(1, 60)] + [
    ("XINFO", "STREAM", "pm"), ("XRANGE", "pm", "10", "12"), ("XTRIM", "pm", "MAXLEN", "~", "20"), ("XLEN", "pm"),
    ("XINFO", "STREAM", "pm"),
    # MINID trim leaving a node whose only live entries were flagged (its last slot deleted first)
] + xadds("pt", 1, 121) + [
    ("XDEL", "pt", "100-1"), ("XTRIM", "pt", "MINID", "101"), ("XINFO", "STREAM", "pt"), ("XLEN", "pt"),
    ("XTRIM", "pt", "MAXLEN", "~", "5"), ("XINFO", "STREAM", "pt"), ("XADD", "pt", "200-0", "f", "v"),
    ("XINFO", "STREAM", "pt"), ("XRANGE", "pt", "-", "+", "COUNT", "3"),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_stream_block_boundaries(cachemere, redis_ref, resp):
    run_sequence(cachemere.port, BLOCKS[:1])
    run_sequence(redis_ref.port, BLOCKS[:1])
    assert_same(cachemere.port, redis_ref.port, BLOCKS[1:], resp=resp)


SMALL_NODES = [("DEL", "ps")] + [("CONFIG", "SET", "stream-node-max-entries", "7")] + xadds("ps", 1, 50) + [
    ("XINFO", "STREAM", "ps"), ("XDEL", "ps", *[f"{i}-{i % 3}" for i in range(8, 15)]), ("XINFO", "STREAM", "ps"),
    ("XTRIM", "ps", "MAXLEN", "~", "30"), ("XLEN", "ps"), ("XINFO", "STREAM", "ps"),
    ("CONFIG", "SET", "stream-node-max-bytes", "60"),
] + xadds("ps", 50, 70) + [
    ("XINFO", "STREAM", "ps"), ("XRANGE", "ps", "45", "55"),
    ("CONFIG", "SET", "stream-node-max-entries", "100"), ("CONFIG", "SET", "stream-node-max-bytes", "4096"),
]


def test_stream_node_limits_from_config(cachemere, redis_ref):
    run_sequence(cachemere.port, SMALL_NODES[:1])
    run_sequence(redis_ref.port, SMALL_NODES[:1])
    assert_same(cachemere.port, redis_ref.port, SMALL_NODES[1:], resp=2)
