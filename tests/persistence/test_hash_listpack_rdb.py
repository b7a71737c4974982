"""Small hashes in the packed form through RDB both ways (RDB_TYPE_HASH_LISTPACK = 16): an RDB from
redis-server loads here with the same fields and encodings, ours loads in redis-server, and the file we write
holds the same listpack payload redis writes (DUMP compared byte for byte)."""
import shutil

from tests.persistence.helpers import client, redis_in, start_in


def fill(r):
    p = r.pipeline(transaction=False)
    p.hset("lp:10", mapping={"field:%d" % i: "value:%d" % i for i in range(10)})
    p.hset("lp:ints", mapping={"a": "1", "b": "-70000", "c": "9223372036854775807", "d": ""})
    p.hset("lp:long", mapping={"x": "y" * 60, "y" * 64: "z"})
    p.hset("ht:count", mapping={"f%d" % i: "v" for i in range(129)})
    p.hset("ht:value", mapping={"f": "v" * 65})
    p.execute()


def state(r):
    keys = sorted(r.keys("*"))
    return {k: (r.hgetall(k), r.object("encoding", k)) for k in keys}


def test_listpack_hashes_round_trip_through_redis(tmp_path):
    ref = redis_in(tmp_path)
    try:
        fill(client(ref))
        expected = state(client(ref))
        dumps = {k: client(ref).dump(k) for k in expected}
        client(ref).save()
    finally:
        ref.stop()
    srv = start_in(tmp_path)
    try:
        r = client(srv)
        assert state(r) == expected
        assert {k: r.dump(k) for k in expected} == dumps
        r.hset("lp:10", "new", "1")
        expected = state(r)
        r.save()
    finally:
        srv.stop()
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    shutil.copy(tmp_path / "dump.rdb", ref_dir / "dump.rdb")
    ref = redis_in(ref_dir)
    try:
        assert state(client(ref)) == expected
    finally:
        ref.stop()
