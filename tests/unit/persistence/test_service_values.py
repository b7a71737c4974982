"""Service values (services/base.py ServiceValue) as RDB module values: RDB files, DUMP payloads and AOF
rewrite carry them, and a real redis-server 7.0 refuses them cleanly (it has no such module)."""
import io
import json
import shutil
import subprocess

import pytest
import redis

from engine.persistence.aof import commands_for_value
from engine.persistence.rdb import (
    BAD_DATA_FORMAT, DumpPayloadError, RdbError, RdbReader, RdbWriter, TYPE_MODULE_2, default_aux,
    dump_value, module_type_id, module_type_name, restore_value,
)
from engine.persistence.snapshot import value_from_rdb, value_to_rdb
from services.base import ServiceValue

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class Tally(ServiceValue):
    """A toy service value: a dict of counters."""
    type_name = b"tally"
    rdb_module_name = "cm-tally-"
    rdb_encoding_version = 2

    def __init__(self, counts=None):
        self.counts = dict(counts or {})

    def dump_state(self):
        return json.dumps(self.counts, sort_keys=True).encode()

    @classmethod
    def load_state(cls, data, encoding_version):
        assert encoding_version == 2
        return cls(json.loads(data))


def test_module_type_id_matches_redis_encoding():
    # redis moduleTypeEncodeId packs 6 bits per name character, then the 10-bit encoding version
    module_id = module_type_id("AAAAAAAAB", 5)
    assert module_id == (1 << 10) | 5
    assert module_type_name(module_type_id("cm-tally-", 2)) == ("cm-tally-", 2)
    with pytest.raises(ValueError):
        module_type_id("short", 0)
    with pytest.raises(ValueError):
        module_type_id("bad.chars", 0)


def test_malformed_module_name_is_refused_at_class_definition():
    with pytest.raises(ValueError):
        class Broken(ServiceValue):
            rdb_module_name = "toolongname"


def test_rdb_round_trip():
    value = Tally({"a": 1, "b": 22})
    out = io.BytesIO()
    writer = RdbWriter(out)
    writer.write_header(default_aux())
    writer.select_db(0, 1, 1)
    kind, neutral = value_to_rdb(value)
    assert kind == "module"
    writer.write_entry(b"t", kind, neutral, expire_ms=4102444800000)
    writer.finish()
    entries = list(RdbReader(out.getvalue()).entries())
    assert len(entries) == 1
    dbid, key, kind, neutral, expire_ms, _, _ = entries[0]
    assert (dbid, key, kind, expire_ms) == (0, b"t", "module", 4102444800000)
    loaded = value_from_rdb(kind, neutral)
    assert isinstance(loaded, Tally) and loaded.counts == {"a": 1, "b": 22}


def test_dump_restore_and_aof_rewrite_round_trip():
    value = Tally({"x": 3})
    payload = dump_value(*value_to_rdb(value))
    assert payload[0] == TYPE_MODULE_2
    kind, neutral = restore_value(payload)
    assert value_from_rdb(kind, neutral).counts == {"x": 3}
    # AOF rewrite rebuilds the key with RESTORE of the same payload
    (argv,) = commands_for_value(b"k", *value_to_rdb(value))
    assert argv[:3] == [b"RESTORE", b"k", b"0"]
    assert value_from_rdb(*restore_value(argv[3])).counts == {"x": 3}
    copied = value.copy()
    assert copied.counts == value.counts and copied is not value


def test_unknown_module_type_is_refused_with_redis_text():
    blob = dump_value("module", ("cm-nosuch", 0, b"state"))
    kind, neutral = restore_value(blob)
    with pytest.raises(RdbError, match="no matching module type 'cm-nosuch'"):
        value_from_rdb(kind, neutral)
    # a truncated payload is bad data, never half a value
    with pytest.raises(DumpPayloadError):
        restore_value(blob[:5] + blob[-10:])


def test_real_redis_refuses_the_payload_and_the_file(redis_server, tmp_path):
    payload = dump_value(*value_to_rdb(Tally({"a": 1})))
    with pytest.raises(redis.ResponseError) as err:
        redis_server.client.restore("t", 0, payload)
    assert str(err.value) == BAD_DATA_FORMAT.removeprefix("ERR ")
    assert redis_server.client.exists("t") == 0

    path = tmp_path / "svc.rdb"
    with open(path, "wb") as f:
        writer = RdbWriter(f)
        writer.write_header(default_aux())
        writer.select_db(0, 1, 0)
        writer.write_entry(b"t", *value_to_rdb(Tally({"a": 1})))
        writer.finish()
    # redis-server loading the file stops at start (subprocess.run returns) with its text, naming the type
    start = subprocess.run([REDIS_SERVER, "--port", "0", "--unixsocket", str(tmp_path / "r.sock"), "--save", "", "--dir", str(tmp_path),
                            "--dbfilename", "svc.rdb"], capture_output=True, text=True, timeout=30)
    assert "The RDB file contains module data I can't load: no matching module type 'cm-tally-'" in start.stdout
