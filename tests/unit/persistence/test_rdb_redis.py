"""The RDB codec against a real redis-server 7.0: files, DUMP/RESTORE, redis-check-rdb."""
import io
import shutil
import subprocess

import pytest
import redis

from engine.persistence.rdb import (
    BAD_DATA_FORMAT,
    DUMP_VERSION_OR_CHECKSUM_WRONG,
    DumpPayloadError,
    RdbReader,
    RdbWriter,
    default_aux,
    dump_value,
    load_rdb,
    restore_value,
)
from tests.unit.persistence.rdb_test_support import client_for_db, normalize, populate, read_key, snapshot, snapshot_from_rdb

CHECK_RDB = shutil.which("redis-check-rdb") or "/usr/bin/redis-check-rdb"


@pytest.fixture
def populated(redis_server):
    populate(redis_server.client)
    redis_server.client.function_load(
        "#!lua name=rdbtestlib\nredis.register_function('rdbtest_one', function() return 1 end)")
    return redis_server


def _save(server):
    server.client.save()
    return server.rdb_path


def test_reader_matches_redis_save(populated):
    path = _save(populated)
    reader = RdbReader(str(path))
    from_file = snapshot_from_rdb(reader.entries())
    assert from_file == snapshot(populated.client)
    assert reader.version == 10
    assert reader.aux[b"redis-ver"] == b"7.0.15"
    assert reader.aux[b"redis-bits"] == b"64"
    assert b"ctime" in reader.aux and b"used-mem" in reader.aux and b"aof-base" in reader.aux
    assert len(reader.functions) == 1 and b"rdbtest_one" in reader.functions[0]
    assert reader.resize_hints[0][0] == sum(1 for db, _ in from_file if db == 0)
    assert reader.checksum != 0


def test_load_rdb_callbacks_and_file_objects(populated):
    path = _save(populated)
    seen = {"aux": {}, "dbs": [], "keys": 0}
    reader = load_rdb(path.read_bytes(),
                      on_aux=lambda k, v: seen["aux"].__setitem__(k, v),
                      on_select_db=seen["dbs"].append,
                      on_key=lambda *entry: seen.__setitem__("keys", seen["keys"] + 1))
    assert seen["dbs"] == [0, 1]
    assert seen["aux"][b"redis-ver"] == b"7.0.15"
    assert seen["keys"] == populated.client.dbsize() + client_for_db(populated.client, 1).dbsize()
    assert reader.version == 10
    # A file object positioned after a prefix (e.g. a replication bulk header) is read from there
    # and left just after the RDB.
    data = path.read_bytes()
    stream = io.BytesIO(b"$%d\r\n" % len(data) + data + b"TAIL")
    stream.seek(len(b"$%d\r\n" % len(data)))
    assert len(list(RdbReader(stream).entries())) == seen["keys"]
    assert stream.read() == b"TAIL"
    with open(path, "ab") as handle:
        handle.write(b"TAIL")
    with open(path, "rb") as handle:
        assert len(list(RdbReader(handle).entries())) == seen["keys"]
        assert handle.read() == b"TAIL"


def _write_snapshot(path, contents, version=10, compress=True):
    with open(path, "wb") as handle:
        writer = RdbWriter(handle, version=version, compress=compress)
        writer.write_header(default_aux())
        for db in sorted({db for db, _ in contents}):
            keys = [(key, value) for (d, key), value in contents.items() if d == db]
            writer.select_db(db, len(keys), sum(1 for _, (_, exp) in keys if exp is not None))
            for key, ((kind, value), expire) in keys:
                if kind == "hash":
                    value = list(value.items())
                elif kind == "zset":
                    value = [(m, float(s)) for m, s in value.items()]
                writer.write_entry(key, kind, value, expire_ms=expire)
        writer.finish()


@pytest.mark.parametrize("version,compress", [(10, True), (10, False), (9, True)])
def test_writer_output_loads_in_redis(populated, redis_factory, tmp_path, version, compress):
    expected = snapshot(populated.client)
    out_dir = tmp_path / ("written-%d-%d" % (version, compress))
    out_dir.mkdir()
    _write_snapshot(out_dir / "dump.rdb", expected, version, compress)
    check = subprocess.run([CHECK_RDB, str(out_dir / "dump.rdb")], capture_output=True, timeout=60)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert b"RDB looks OK" in check.stdout
    fresh = redis_factory(out_dir)
    view = _without_v9_stream_metadata if version == 9 else (lambda contents: contents)
    assert view(snapshot(fresh.client)) == view(expected)
    # and our own reader reads back what we wrote
    assert view(snapshot_from_rdb(RdbReader(str(out_dir / "dump.rdb")).entries())) == view(expected)


def _without_v9_stream_metadata(contents):
    """RDB 9 streams do not store first/max-deleted IDs, entries-added or group read counters."""
    out = {}
    for name, ((kind, value), expire) in contents.items():
        if kind == "stream":
            value = {k: v for k, v in value.items()
                     if k not in ("first_id", "max_deleted_id", "entries_added")}
            value["groups"] = [{k: v for k, v in g.items() if k != "entries_read"}
                               for g in value["groups"]]
        out[name] = ((kind, value), expire)
    return out


def test_version_11_round_trip(tmp_path, populated):
    expected = snapshot(populated.client)
    _write_snapshot(tmp_path / "v11.rdb", expected, version=11)
    reader = RdbReader(str(tmp_path / "v11.rdb"))
    assert snapshot_from_rdb(reader.entries()) == expected
    assert reader.version == 11


def test_dump_from_redis_restores_equal(populated):
    client = populated.client
    for key in client.scan_iter():
        kind, value = restore_value(client.dump(key))
        assert normalize(kind, value) == normalize(*read_key(client, key)), key


def test_dump_value_restores_into_redis(populated, redis_factory, tmp_path):
    source = populated.client
    target_dir = tmp_path / "target"
    target_dir.mkdir()
    target = redis_factory(target_dir).client
    for key in source.scan_iter():
        kind, value = read_key(source, key)
        target.restore(key, 0, dump_value(kind, value))
        assert normalize(*read_key(target, key)) == normalize(kind, value), key


@pytest.mark.parametrize("compression", ["no", "yes"])
def test_dump_payload_bytes_identical_to_redis(redis_server, compression):
    """Compact encodings are deterministic: our DUMP must equal Redis's byte for byte."""
    client = redis_server.client
    client.config_set("rdbcompression", compression)
    populate(client)
    compared = 0
    for key in client.scan_iter():
        if client.object("encoding", key) == b"hashtable":
            continue   # dict iteration order is Redis-internal
        kind, value = read_key(client, key)
        if kind == "stream":
            continue   # entries deleted by XDEL stay in Redis's listpacks as tombstones
        assert dump_value(kind, value, compress=compression == "yes") == client.dump(key), key
        compared += 1
    assert compared >= 15


def test_stream_dump_identical_without_deletions(redis_server):
    client = redis_server.client
    for i in range(300):
        client.xadd("s", {"a": str(i), "b": "x" * (i % 13)} if i % 50 else {"z": "1"},
                    id="%d-%d" % (1000 + i // 4, i % 4))
    client.xgroup_create("s", "grp", id="0")
    client.xreadgroup("grp", "c1", {"s": ">"}, count=10)
    kind, value = read_key(client, b"s")
    payload = client.dump("s")
    assert restore_value(payload)[1]["entries"] == value["entries"]
    assert dump_value(kind, value) == payload


def test_restore_errors_match_redis(redis_server):
    client = redis_server.client
    client.set("k", "value")
    good = client.dump("k")
    bad_checksum = good[:-1] + bytes([good[-1] ^ 1])
    newer_version = good[:-10] + b"\x0b\x00" + good[-8:]
    body = b"\x04\x05" + good[-10:-8]      # hash claiming 5 fields, no data
    from engine.persistence.rdb import crc64
    bad_body = body + crc64(body).to_bytes(8, "little")
    for payload, message in [(bad_checksum, DUMP_VERSION_OR_CHECKSUM_WRONG),
                             (newer_version, DUMP_VERSION_OR_CHECKSUM_WRONG),
                             (b"short", DUMP_VERSION_OR_CHECKSUM_WRONG),
                             (bad_body, BAD_DATA_FORMAT)]:
        with pytest.raises(DumpPayloadError) as caught:
            restore_value(payload)
        assert str(caught.value) == message
        with pytest.raises(redis.ResponseError) as from_redis:
            client.restore("target", 0, payload, replace=True)
        assert message.endswith(str(from_redis.value))
