"""Bitmap commands: Cachemere's replies and resulting strings equal redis-server 7.0.15's."""
import pytest

from tests.differential.script_compare import ServerPair, assert_same

SCRIPTS = {
    "bitops": """
    setbit b 7 1
    setbit b 7 1
    setbit b 100 1
    get b
    setbit b -1 1
    setbit b x 1
    setbit b 1 2
    setbit b 1 -1
    setbit b 4294967296 1
    setbit b 1 x
    getbit b 7
    getbit b 6
    getbit b 100000
    getbit nokey 1
    getbit b -1
    getbit b x
    zadd zz 1 a
    setbit zz 1 1
    getbit zz 1
    bitcount zz
    set s foobar
    bitcount s
    bitcount s 0 0
    bitcount s 1 1
    bitcount s 1 1 bit
    bitcount s 5 30 bit
    bitcount s -5 -1 bit
    bitcount s -1 -5
    bitcount s 0 -1 byte
    bitcount s 0 -1 foo
    bitcount s 0
    bitcount s x 1
    bitcount s 0 1 2 3
    bitcount nokey x
    bitpos s 1
    bitpos s 0
    bitpos s 1 2
    bitpos s 1 2 -1 byte
    bitpos s 0 2 -1 bit
    bitpos s 1 7 15 bit
    bitpos s 0 7 15 bit
    bitpos s 1 7 7 bit
    bitpos s 0 1 1 bit
    bitpos s 2
    bitpos s x
    bitpos s 1 x
    bitpos s 1 0 x
    bitpos s 1 0 1 foo
    bitpos nokey 0
    bitpos nokey 1
    set ff "\xff\xff\xff"
    bitpos ff 0
    bitpos ff 0 0 -1
    bitpos ff 0 0 -1 bit
    bitpos ff 0 0
    bitpos ff 1 1 1
    set zero "\x00\x00"
    bitpos zero 1
    bitpos zero 0 1
    bitpos zero 1 3 12 bit
    bitop and dest s ff
    get dest
    bitop or dest s nokey
    get dest
    bitop xor dest s ff zero
    get dest
    bitop not dest s
    get dest
    bitop not dest s ff
    bitop foo dest s
    bitop and dest nokey nokey2
    get dest
    bitop and dest zz
    bitfield bf set i8 0 -100 get u8 0 get i4 0 incrby u2 100 1 get u32 #1
    bitfield bf incrby u2 100 1 overflow sat incrby u2 102 1 incrby i8 #0 -200 overflow fail incrby i8 #0 -200 get i8 0
    bitfield bf set u8 0 300 overflow sat set u8 8 300 set i8 16 -300 overflow wrap set i8 24 200 get u32 0
    bitfield bf set i64 0 -1 get i64 0 get u63 1 incrby i64 0 -9223372036854775808 overflow sat incrby i64 0 -9223372036854775808 get i64 0
    bitfield bf set u63 0 -1 get u63 0 overflow fail incrby u63 0 1 incrby u63 0 -9223372036854775808
    bitfield bf get u64 0
    bitfield bf get i65 0
    bitfield bf get I8 0
    bitfield bf get u0 0
    bitfield bf get u8 -1
    bitfield bf get u8 #-1
    bitfield bf overflow foo get u8 0
    bitfield bf foo
    bitfield bf get u8
    bitfield bf set u8 0 x
    bitfield bf
    bitfield nokey get u8 0
    bitfield zz get u8 0
    bitfield zz set u8 0 1
    bitfield_ro bf get u8 0 get i16 #1
    bitfield_ro bf set u8 0 1
    bitfield_ro bf overflow sat get u8 0
    bitfield nk2 overflow fail incrby u2 0 10
    get nk2
    bitfield bf incrby i5 100 1 get u4 100 set i3 3 5
    get bf
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
