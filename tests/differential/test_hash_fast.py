"""The compiled hash handlers (engine/commands/t_hash_fast.pyx) against redis-server 7.0.15, byte for byte
in RESP2 and RESP3: every branch of the fast paths (errors, WRONGTYPE, creation, key deletion, the
listpack -> hashtable conversion, keyspace notifications)."""
import pytest

from tests.differential.script_compare import ServerPair, assert_same

SCRIPTS = {
    "fast_paths": """
    set str v
    hset str f v
    hmset str f v
    hget str f
    hmget str f g
    hincrby str f 1
    hdel str f
    hlen str
    hexists str f
    hset h f
    hset h f v g
    hmset h f
    hset h f 1 g 2 f 3
    hmset h a x b y
    hget h f
    hget h nosuch
    hget nokey f
    hmget h f g nosuch a
    hmget nokey a b
    hlen h
    hlen nokey
    hexists h f
    hexists h nosuch
    hexists nokey f
    hincrby h f x
    hincrby h a 1
    hincrby h f 10
    hincrby h f -13
    hincrby h new 5
    hincrby h f 9223372036854775807
    hincrby h f 1
    hincrby h f -9223372036854775808
    hincrby h f 01
    hincrby h f " 1"
    hincrby nk f 7
    hset big f 9223372036854775807
    hincrby big f 1
    hset big f -9223372036854775808
    hincrby big f -1
    hgetall h
    object encoding h
    hdel h nosuch
    hdel h f g nosuch f
    hdel nokey f
    hdel h a b new
    exists h
    hdel nk f
    exists nk
    hset e f aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    object encoding e
    hincrby e2 ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff 1
    object encoding e2
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


def test_listpack_limits_follow_config(pair):
    """CONFIG SET hash-max-listpack-entries/value changes when HSET and HINCRBY convert to a hashtable."""
    script = "config set hash-max-listpack-entries 3\nconfig set hash-max-listpack-value 4\n" \
             "hset c1 a 1 b 2 c 3\nobject encoding c1\nhset c1 d 4\nobject encoding c1\n" \
             "hset c2 abcd 1\nobject encoding c2\nhincrby c2 abcde 1\nobject encoding c2\n" \
             "hincrby c3 a 99999\nobject encoding c3\nhset c4 a 1 b 2 c 3\nhdel c4 a\nhset c4 a 1\n" \
             "object encoding c4\nhincrby c4 d 1\nobject encoding c4\n" \
             "config set hash-max-listpack-entries 128\nconfig set hash-max-listpack-value 64\n"
    assert_same(pair, script)
