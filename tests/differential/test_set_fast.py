"""The compiled set handlers (engine/commands/t_set_fast.pyx) against redis-server 7.0.15, byte for byte in
RESP2 and RESP3: every branch of the fast paths (WRONGTYPE, new keys, duplicates, intset -> hashtable
conversion, emptied sets deleted) and the forms they hand to the Python handler (SPOP with a count)."""
import pytest

from tests.differential.script_compare import ServerPair, assert_same

SCRIPTS = {
    "fast_paths": """
    set str v
    sadd str a
    srem str a
    sismember str a
    smismember str a b
    scard str
    spop str
    spop str 2
    sadd s 3 1 2 3 1
    object encoding s
    smembers s
    sadd s 1
    sadd s -5 0 9223372036854775807 -9223372036854775808
    smembers s
    object encoding s
    sadd s 007
    object encoding s
    sismember s 007
    sismember s 7
    sismember s 1
    sismember nokey 1
    smismember s 1 2 nosuch 3
    smismember nokey a b
    scard s
    scard nokey
    srem s 1 1 nosuch 2
    srem s nosuch
    srem nokey a
    scard s
    sadd i 1 2 3
    sadd i a
    object encoding i
    sadd i 4
    object encoding i
    sadd one x
    spop one
    exists one
    spop one
    spop nokey
    spop nokey 0
    spop nokey 3
    sadd two x y
    srem two x y z
    exists two
    sadd three 5
    spop three 1 2
    spop three -1
    spop three abc
    spop three 0
    spop three 1
    exists three
    sadd ints 42
    spop ints
    sadd big 1 2 3 4 5 6 7 8 9 10
    spop big 10
    exists big
    sadd big 1 2 3
    spop big 5
    exists big
    sadd m ""
    sismember m ""
    scard m
    srem m ""
    exists m
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


def test_intset_limit_follows_config(pair):
    """CONFIG SET set-max-intset-entries changes when SADD converts an intset to a hashtable."""
    script = "config set set-max-intset-entries 3\nsadd c1 1 2 3\nobject encoding c1\nsadd c1 3\n" \
             "object encoding c1\nsadd c1 4\nobject encoding c1\nsadd c2 1 2 3 4\nobject encoding c2\n" \
             "config set set-max-intset-entries 512\n"
    assert_same(pair, script)


def test_keyspace_events_and_watch(pair):
    """The fast handlers' notifications (sadd, srem, spop, del, new) and WATCH dirtying, as redis."""
    script = "config set notify-keyspace-events KEA\nsadd w a b\nwatch w\nsadd w a\nmulti\nscard w\nexec\n" \
             "watch w\nsrem w nosuch\nmulti\nscard w\nexec\nwatch w\nsrem w a\nmulti\nscard w\nexec\n" \
             "watch w\nspop w\nmulti\nscard w\nexec\nexists w\nconfig set notify-keyspace-events \"\"\n"
    assert_same(pair, script)
