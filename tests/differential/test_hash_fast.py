"""The compiled hash handlers (engine/commands/t_hash_fast.pyx) against redis-server 7.0.15, byte for byte in
RESP2 and RESP3: every branch of the fast paths, the forms they hand to the Python handler, the listpack ->
hashtable conversion OBJECT ENCODING shows, and the keyspace events they raise."""
import pytest

from tests.differential.script_compare import ServerPair, assert_same

SCRIPTS = {
    "fast_paths": """
    set str v
    hset str f v
    hget str f
    hmget str f g
    hexists str f
    hlen str
    hstrlen str f
    hincrby str f 1
    hset h a 1 b 2 a 3
    hset h a 1 b
    hset h
    hset h c
    hget h a
    hget h nosuch
    hget nokey a
    hmget h a b nosuch a
    hmget nokey a b
    hexists h a
    hexists h nosuch
    hexists nokey a
    hlen h
    hlen nokey
    hstrlen h a
    hstrlen h nosuch
    hstrlen nokey a
    hincrby h a 5
    hincrby h a -10
    hincrby h new 7
    hincrby nk2 f 3
    hincrby h a x
    hincrby h a 1.5
    hincrby h a " 1"
    hincrby h a 9223372036854775807
    hincrby h a 9223372036854775807
    hset h m -9223372036854775808
    hincrby h m -1
    hincrby h m 0
    hset h s abc
    hincrby h s 1
    hset h z 007
    hincrby h z 1
    hgetall h
    object encoding h
    hset big f aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    object encoding big
    hincrby big2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1
    object encoding big2
    hset small f v
    object encoding small
    type h
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
             "hset c3 a abcde\nobject encoding c3\nhdel c3 a\nhset c3 a 1\nobject encoding c3\n" \
             "config set hash-max-listpack-entries 128\nconfig set hash-max-listpack-value 64\n"
    assert_same(pair, script)
