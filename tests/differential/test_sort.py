"""SORT / SORT_RO: Cachemere's replies equal redis-server 7.0.15's byte for byte."""
import pytest

from tests.differential.script_compare import ServerPair, assert_same
from tests.support.servers import RawConnection

SCRIPTS = {
    "sets_numeric_alpha_by_get": """
    sadd s 3 1 2 10 -5
    sort s
    sort s desc
    sort s alpha
    sort s alpha desc
    sort s limit 1 2
    sort s limit -1 2
    sort s limit 2 -1
    sort s limit 10 2
    sort s limit x 2
    sort s limit 0 y
    mset w_3 30 w_1 10 w_2 20 w_10 -1 w_-5 x
    sort s by w_*
    set w_-5 5
    sort s by w_*
    sort s by w_* desc get # get w_*
    sort s by w_* get nope_*
    sort s by w_* get nope
    sort s by w_* limit 0 2
    sort s by w_* alpha
    sort s by nope_* alpha
    sort s by nope_*
    sort s by nosort
    sort s foo
    sort s limit 1
    sort s store
    sort_ro s store x
    hset h_1 f 100
    hset h_2 f 50
    hset h_3 f 75
    hset h_10 f 1
    hset h_-5 f 2
    sort s by h_*->f get h_*->f get h_*-> get #
    sort s by h_*->f alpha
    sort s by h_*->g
    sort s by w_*->f
    sort s get h_*->f
    sort s by h_-> get h_*->
    sadd ss b a c
    sort ss by nosort alpha !unordered
    sort ss
    sort ss alpha
    """,
    "sorted_sets_and_errors": """
    zadd z 5 a 3 b 1 c 4 d
    sort z alpha
    sort z alpha desc limit 1 2
    sort z by nosort
    sort z by nosort desc
    sort z by nosort desc limit 1 2
    sort z by nosort limit 1 2
    sort z by nosort limit 5 2
    sort z
    zrange z 0 -1 withscores
    mset k_a 1.5 k_b 1e300 k_c 2 k_d 0x10
    sort z by k_*
    sort z by k_* get k_* get #
    set k_d " 7"
    sort z by k_* desc
    sort_ro z alpha
    sort_ro z by k_* get k_*
    sort nokey
    sort nokey alpha limit 0 1
    set str x
    sort str
    hset hh a b
    sort hh
    set k_b 1e400
    sort z by k_*
    """,
    "getkeys": """
    command getkeys sort z store a store b by x get y limit 0 1
    command getkeysandflags sort z store dst
    command getkeysandflags sort z limit store 1 get store
    command getkeys sort_ro z alpha
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


def test_store_into_list(pair):
    """STORE writes a list; it needs the list type (another family) to read it back."""
    probe = RawConnection(pair.ours.port)
    has_lists = not probe.command("LRANGE", "nolist", "0", "-1").startswith(b"-ERR unknown command")
    probe.close()
    if not has_lists:
        pytest.skip("no list commands in this build yet")
    assert_same(pair, """
    sadd s 3 1 2
    mset w_1 3 w_2 2 w_3 1
    sort s by nosort store dst
    lrange dst 0 -1
    sort s by w_* get # get nope_* store dst
    lrange dst 0 -1
    sort s limit 5 5 store dst
    lrange dst 0 -1
    sort nokey store dst
    type dst
    """)
