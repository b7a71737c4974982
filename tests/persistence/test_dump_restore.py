"""DUMP / RESTORE: payloads interchangeable with redis-server 7.0 both ways, errors byte for byte."""
import pytest

from tests.persistence.helpers import client, contents, populate
from tests.support.servers import RawConnection, start_cachemere, start_redis


@pytest.fixture(scope="module")
def pair():
    ours, ref = start_cachemere(), start_redis()
    yield ours, ref
    ours.stop()
    ref.stop()


def _move_all(src, dst):
    """DUMP every key of src and RESTORE it into dst (with its TTL)."""
    a, b = client(src), client(dst)
    b.flushall()
    for key in a.keys("*"):
        payload = a.dump(key)
        ttl = a.pttl(key)
        assert b.restore(key, max(ttl, 0), payload) == b"OK"
    return contents(dst, dbs=(0,))[0]


def test_dump_restore_interop_both_ways(pair):
    ours, ref = pair
    for srv in pair:
        client(srv).flushall()
        populate(client(srv))
    expected = contents(ref, dbs=(0,))[0]
    assert _move_all(ours, ref) == expected          # our payloads load in redis
    assert _move_all(ref, ours) == expected          # redis payloads load here


def test_dump_of_small_values_is_byte_identical(pair):
    ours, ref = pair
    for srv in pair:
        r = client(srv)
        r.flushall()
        r.set("s", "hello")
        r.set("i", "12345")
        r.set("long", "a" * 200)
        r.hset("h", mapping={"a": "1", "b": "2"})
        r.sadd("ints", 1, 2, 3)
    for key in ("s", "i", "long", "h", "ints"):
        assert client(ours).dump(key) == client(ref).dump(key), key


@pytest.mark.parametrize("args", [
    ("RESTORE", "k", "0", "PAYLOAD"),                              # BUSYKEY (k exists)
    ("RESTORE", "new", "-1", "PAYLOAD"),                           # negative TTL
    ("RESTORE", "new", "abc", "PAYLOAD"),                          # TTL not an integer
    ("RESTORE", "new", "0", "garbage"),                            # payload too short / bad checksum
    ("RESTORE", "new", "0", "PAYLOAD", "BOGUS"),                   # syntax error
    ("RESTORE", "new", "0", "PAYLOAD", "IDLETIME", "-5"),
    ("RESTORE", "new", "0", "PAYLOAD", "FREQ", "300"),
    ("RESTORE", "new", "0", "PAYLOAD", "IDLETIME", "5", "FREQ", "5"),
    ("RESTORE", "k", "0", "PAYLOAD", "REPLACE", "ABSTTL", "IDLETIME", "10"),
    ("RESTORE", "gone", "1", "PAYLOAD", "ABSTTL"),                 # already expired: OK, no key
    ("EXISTS", "gone"),
    ("RESTORE", "k", "0", "BADCRC", "REPLACE"),
    ("RESTORE", "new2", "0", "BADTYPE"),
    ("DUMP", "missing"),
    ("RESTORE", "ttl", "100000", "PAYLOAD"),
    ("DUMP",),
])
def test_restore_errors_match_redis(pair, args):
    replies = []
    for srv in pair:
        r = client(srv)
        r.flushall()
        r.set("k", "v")
        payload = r.dump("k")
        bad_crc = payload[:-1] + bytes([payload[-1] ^ 1])
        body = b"\x63" + payload[1:-10]      # unknown RDB type 99 with a valid checksum
        from engine.persistence.rdb import crc64
        import struct
        body += payload[-10:-8]
        bad_type = body + struct.pack("<Q", crc64(body))
        subst = {"PAYLOAD": payload, "BADCRC": bad_crc, "BADTYPE": bad_type}
        conn = RawConnection(srv.port)
        replies.append(conn.command(*[subst.get(a, a) for a in args]))
        conn.close()
    assert replies[0] == replies[1]


def test_restore_ttl_idletime_and_propagated_absttl(pair):
    ours, _ = pair
    r = client(ours)
    r.flushall()
    r.set("src", "v")
    payload = r.dump("src")
    assert r.restore("t", 50000, payload) == b"OK"
    assert 40000 < r.pttl("t") <= 50000
    assert r.restore("idle", 0, payload, idletime=1000) == b"OK"
    assert r.object("idletime", "idle") >= 999
    assert r.restore("t", 0, payload, replace=True) == b"OK"
    assert r.pttl("t") == -1
