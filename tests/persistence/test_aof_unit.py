"""The AOF file layer and the snapshot registry, in process."""
import io

import pytest

from engine.core import Keyspace
from engine.persistence import aof
from engine.persistence.snapshot import (class_for_kind, load_keyspace, register_rdb_kind, value_from_rdb,
                                         value_to_rdb, write_keyspace)


def test_manifest_round_trip_and_rewrite_bookkeeping():
    am = aof.AofManifest()
    assert am.new_base("appendonly.aof", True) == "appendonly.aof.1.base.rdb"
    assert am.last_incr("appendonly.aof") == "appendonly.aof.1.incr.aof"
    assert am.new_incr("appendonly.aof") == "appendonly.aof.2.incr.aof"     # a rewrite starts
    am.new_base("appendonly.aof", False)                                     # ... and finishes
    am.mark_rewritten_incr_as_history()
    text = am.text()
    assert text == ("file appendonly.aof.2.base.aof seq 2 type b\n"
                    "file appendonly.aof.1.base.rdb seq 1 type h\n"
                    "file appendonly.aof.1.incr.aof seq 1 type h\n"
                    "file appendonly.aof.2.incr.aof seq 2 type i\n")
    again = aof.AofManifest.parse(text)
    assert again.text() == text and again.curr_base_seq == 2 and again.curr_incr_seq == 2


def test_manifest_quotes_odd_names_and_rejects_garbage():
    am = aof.AofManifest()
    am.new_base("my file", True)
    assert am.text() == 'file "my file.1.base.rdb" seq 1 type b\n'
    assert aof.AofManifest.parse(am.text()).base.name == "my file.1.base.rdb"
    for bad in ("file a seq x type b\n", "file a seq 1 type z\n", "", "file a seq 1\n"):
        with pytest.raises(aof.AofError):
            aof.AofManifest.parse(bad)


def test_parser_reports_truncation_offsets_and_format_errors():
    one = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert [argv for argv, _ in aof.iter_commands(one * 2)] == [[b"SET", b"a", b"1"]] * 2
    for cut in range(1, len(one)):
        with pytest.raises(aof.AofTruncated) as info:
            list(aof.iter_commands(one + one[:cut]))
        assert info.value.valid_up_to == len(one)
    with pytest.raises(aof.AofFormatError):
        list(aof.iter_commands(one + b"GARBAGE\r\n" + one))
    multi = b"*1\r\n$5\r\nMULTI\r\n" + one
    seen = []
    with pytest.raises(aof.AofTruncated) as info:
        aof.replay_commands(one + multi, seen.append)
    assert info.value.valid_up_to == len(one)


def test_snapshot_round_trip_through_the_registry():
    ks = Keyspace(4)
    h = value_from_rdb("hash", [(b"f", b"v")])
    ks.dbs[0].set_value(b"h", h)
    ks.dbs[0].set_value(b"s", b"str", 4102444800123)
    ks.dbs[2].set_value(b"set", value_from_rdb("set", [b"1", b"2", b"x"]))
    buf = io.BytesIO()
    assert write_keyspace(ks, buf) == 3
    other = Keyspace(4)
    stats = load_keyspace(other, buf.getvalue())
    assert stats.keys_loaded == 3
    assert value_to_rdb(other.dbs[0].find(b"h").value) == ("hash", [(b"f", b"v")])
    assert other.dbs[0].find(b"s").expire_at == 4102444800123
    assert sorted(other.dbs[2].find(b"set").value) == [b"1", b"2", b"x"]
    # a class registered explicitly wins over the lazy lookup
    class Fake(dict):
        type_name = b"hash"

        @classmethod
        def from_rdb(cls, kind, pairs):
            return cls(pairs)
    original = class_for_kind("hash")
    register_rdb_kind("hash", Fake)
    try:
        assert type(value_from_rdb("hash", [(b"a", b"b")])) is Fake
    finally:
        register_rdb_kind("hash", original)


def test_commands_rewrite_a_keyspace():
    ks = Keyspace(2)
    ks.dbs[1].set_value(b"k", b"v", 123456)
    ks.dbs[1].set_value(b"z", value_from_rdb("zset", [(b"m", 1.5)]))
    out = io.BytesIO()
    aof.write_keyspace_as_commands(ks, out)
    argvs = [argv for argv, _ in aof.iter_commands(out.getvalue())]
    # keys come in table order; each key's commands stay together, its PEXPIREAT right after its value
    assert argvs[0] == [b"SELECT", b"1"]
    groups = sorted([argvs[1:3], argvs[3:]] if argvs[1][1] == b"k" else [argvs[2:], argvs[1:2]])
    assert groups == [[[b"SET", b"k", b"v"], [b"PEXPIREAT", b"k", b"123456"]], [[b"ZADD", b"z", b"1.5", b"m"]]]
