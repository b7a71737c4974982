"""The RDB codec on its own: primitives, legacy encodings, and hostile or corrupted input."""
import io
import os
import random
import struct

import pytest

from engine.persistence._rdbfast import (
    build_ziplist,
    encode_length,
    encode_string,
    parse_listpack,
    parse_ziplist,
)
from engine.persistence.rdb import (
    BAD_DATA_FORMAT,
    DumpPayloadError,
    RdbError,
    RdbReader,
    RdbWriter,
    crc64,
    dump_value,
    lzf_compress,
    lzf_decompress,
    restore_value,
)

SAMPLE_VALUES = [
    ("string", b"plain"),
    ("string", b"12345"),
    ("string", b"xyz" * 40),
    ("list", [b"a", b"17", b"-3000", b"q" * 300]),
    ("list", [b"item%d" % i for i in range(1500)]),
    ("set", [b"1", b"2", b"-99999999999"]),
    ("set", [b"red", b"green", b"blue"]),
    ("hash", [(b"f", b"v"), (b"n", b"42")]),
    ("hash", [(b"field%d" % i, b"v" * (i % 90)) for i in range(200)]),
    ("zset", [(b"a", 1.0), (b"b", -2.5), (b"c", float("inf"))]),
    ("zset", [(b"m%d" % i, i * 0.3) for i in range(150)]),
    ("stream", {"entries": [(1, 0, [(b"k", b"v")]), (1, 1, [(b"k", b"w")]), (2, 0, [(b"z", b"1")])],
                "groups": [{"name": b"g", "last_id": (1, 1), "entries_read": 2,
                            "pel": [(1, 0, 1000, 1), (1, 1, 1000, 2)],
                            "consumers": [{"name": b"c", "seen_time": 1000, "pel": [(1, 0), (1, 1)]}]}]}),
]


def _rdb_bytes(version=10, values=SAMPLE_VALUES):
    out = io.BytesIO()
    writer = RdbWriter(out, version=version)
    writer.write_header({"redis-ver": "7.0.15", "redis-bits": 64})
    writer.select_db(0, len(values), 1)
    for index, (kind, value) in enumerate(values):
        writer.write_entry(b"key%d" % index, kind, value, expire_ms=1234567 if index == 0 else None)
    writer.finish()
    return out.getvalue()


def test_crc64_matches_redis_check_value():
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    data = os.urandom(1000)
    assert crc64(data[500:], crc64(data[:500])) == crc64(data)


def test_lzf_round_trip_and_limits():
    rng = random.Random(7)
    for size in (1, 2, 3, 21, 100, 5000, 70000):
        text = bytes(rng.choice(b"abcab ") for _ in range(size))
        packed = lzf_compress(text)
        assert lzf_decompress(packed, len(text)) == text
    assert lzf_compress(os.urandom(200), 196) is None          # incompressible: does not fit
    assert len(lzf_compress(b"a" * 1000)) < 30
    first = lzf_compress(b"hello world, hello world" * 5)
    lzf_compress(os.urandom(3000) + b"z" * 3000)                # must not leak state between calls
    assert lzf_compress(b"hello world, hello world" * 5) == first
    with pytest.raises(RdbError):
        lzf_decompress(b"\x1f" + b"x" * 5, 32)                  # literal run past input end
    with pytest.raises(RdbError):
        lzf_decompress(b"\x00a\xe0\xff\x05", 300)               # back reference before start
    with pytest.raises(RdbError):
        lzf_decompress(b"\x00a", 10 ** 12)                       # absurd expansion refused early


def test_string_encodings_follow_redis():
    assert encode_string(b"-128") == b"\xc0\x80"
    assert encode_string(b"32767") == b"\xc1\xff\x7f"
    assert encode_string(b"2147483647") == b"\xc2\xff\xff\xff\x7f"
    assert encode_string(b"2147483648") == b"\x0a2147483648"   # int64 values stay strings
    assert encode_string(b"01") == b"\x0201"
    assert encode_string(b"x" * 21)[0] == 0xC3                  # compressible and > 20 bytes
    assert encode_string(b"x" * 21, compress=False) == b"\x15" + b"x" * 21
    assert encode_length(16383) == b"\x7f\xff" and encode_length(16384) == b"\x80\x00\x00\x40\x00"
    assert encode_length(1 << 32) == b"\x81" + (1 << 32).to_bytes(8, "big")


@pytest.mark.parametrize("version", [9, 10, 11])
def test_writer_reader_round_trip(version):
    entries = list(RdbReader(_rdb_bytes(version)).entries())
    assert len(entries) == len(SAMPLE_VALUES)
    for (dbid, key, kind, value, expire, idle, freq), (want_kind, want) in zip(entries, SAMPLE_VALUES):
        assert (dbid, kind) == (0, want_kind)
        if kind in ("set", "hash"):
            assert sorted(value) == sorted(want)
        elif kind == "zset":
            assert dict(value) == dict(want)
        elif kind == "stream":
            assert value["entries"] == want["entries"]
            assert value["groups"][0]["pel"] == want["groups"][0]["pel"]
        else:
            assert value == want
    assert entries[0][4] == 1234567 and entries[1][4] is None


@pytest.mark.parametrize("kind,value", SAMPLE_VALUES)
def test_dump_payload_round_trip(kind, value):
    got_kind, got = restore_value(dump_value(kind, value))
    assert got_kind == kind
    if kind == "stream":
        assert got["entries"] == value["entries"]
    elif kind in ("set", "hash"):
        assert sorted(got) == sorted(value)
    elif kind == "zset":
        assert dict(got) == dict(value)
    else:
        assert got == value


def _legacy_file() -> bytes:
    """An RDB 6 file with pre-7.0 encodings: zipmap, ziplists, text scores, seconds expiry."""
    zipmap = b"\x02" + b"\x01a\x01\x00x" + b"\x02bb\x03\x02yyy\x00\x00" + b"\xff"
    body = b"REDIS0006"
    body += b"\xfe\x00"
    body += b"\xfd" + struct.pack("<i", 2000000000) + b"\x00" + encode_string(b"old") + encode_string(b"v")
    body += b"\x09" + encode_string(b"zm") + encode_string(zipmap, False)
    body += b"\x01" + encode_string(b"plainlist") + encode_length(2) + encode_string(b"a") + encode_string(b"b")
    body += b"\x0a" + encode_string(b"zl") + encode_string(build_ziplist([b"1", b"two", b"-70000"]), False)
    body += b"\x03" + encode_string(b"oldz") + encode_length(3) + encode_string(b"m1") + b"\x031.5" \
        + encode_string(b"m2") + b"\xfe" + encode_string(b"m3") + b"\xff"
    body += b"\x0c" + encode_string(b"zz") + encode_string(build_ziplist([b"x", b"2.5", b"y", b"3"]))
    body += b"\x0d" + encode_string(b"hz") + encode_string(build_ziplist([b"f", b"1"]))
    body += b"\x0e" + encode_string(b"ql") + encode_length(2) \
        + encode_string(build_ziplist([b"p", b"q"])) + encode_string(build_ziplist([b"r"]))
    body += b"\xff"
    return body + struct.pack("<Q", crc64(body))


def test_legacy_encodings():
    entries = {key: (kind, value, expire) for _, key, kind, value, expire, _, _ in
               RdbReader(_legacy_file()).entries()}
    assert entries[b"old"] == ("string", b"v", 2000000000000)
    assert entries[b"zm"] == ("hash", [(b"a", b"x"), (b"bb", b"yyy")], None)
    assert entries[b"plainlist"] == ("list", [b"a", b"b"], None)
    assert entries[b"zl"] == ("list", [b"1", b"two", b"-70000"], None)
    assert entries[b"oldz"] == ("zset", [(b"m1", 1.5), (b"m2", float("inf")), (b"m3", float("-inf"))], None)
    assert entries[b"zz"] == ("zset", [(b"x", 2.5), (b"y", 3.0)], None)
    assert entries[b"hz"] == ("hash", [(b"f", b"1")], None)
    assert entries[b"ql"] == ("list", [b"p", b"q", b"r"], None)


def test_every_truncation_raises():
    data = _rdb_bytes(10, SAMPLE_VALUES[:4] + SAMPLE_VALUES[5:8] + SAMPLE_VALUES[9:10] + SAMPLE_VALUES[11:])
    for cut in range(len(data)):
        with pytest.raises(RdbError):
            list(RdbReader(data[:cut]).entries())


def test_bit_flips_raise_rdb_error_only():
    data = _rdb_bytes(10)
    rng = random.Random(1)
    for _ in range(400):
        corrupt = bytearray(data)
        corrupt[rng.randrange(9, len(data) - 9)] ^= 1 << rng.randrange(8)
        with pytest.raises(RdbError):   # the checksum catches what the structure does not
            list(RdbReader(bytes(corrupt)).entries())
        try:                            # without the checksum the parser must still fail cleanly
            list(RdbReader(bytes(corrupt), verify_checksum=False).entries())
        except RdbError:
            pass


def test_mutated_dump_payloads_fail_cleanly():
    rng = random.Random(2)
    for kind, value in SAMPLE_VALUES:
        body = dump_value(kind, value)[:-8]
        for _ in range(60):
            corrupt = bytearray(body)
            for _ in range(rng.randrange(1, 4)):
                corrupt[rng.randrange(0, len(body) - 2)] = rng.randrange(256)
            payload = bytes(corrupt) + struct.pack("<Q", crc64(bytes(corrupt)))
            try:
                restore_value(payload)
            except DumpPayloadError as exc:
                assert str(exc) in (BAD_DATA_FORMAT, "ERR DUMP payload version or checksum are wrong")


def _payload(body: bytes) -> bytes:
    body += b"\x0a\x00"
    return body + struct.pack("<Q", crc64(body))


@pytest.mark.parametrize("body", [
    b"\x00\x80\xff\xff\xff\xff",                       # 4 GB string in a few bytes
    b"\x00\x81" + (1 << 62).to_bytes(8, "big"),         # 2^62 byte string
    b"\x01\x81" + (1 << 60).to_bytes(8, "big"),         # 2^60 list elements
    b"\x00\xc3\x05\x80\x7f\xff\xff\xff" + b"\x00" * 5,  # LZF claiming 2 GB from 5 bytes
    b"\x12\x01\x02\x05\x07\x00\x00\x00\x00\x00\xff",    # listpack whose header lies about its size
    b"\x12\x01\x03\x01a",                               # unknown quicklist container
    b"\x0b\x09\x04\x00\x00\x00\x01\x00\x00\x00\x01",    # intset size mismatch
    b"\x08",                                            # type 8 does not exist
    b"\x07\x00",                                        # module values are refused
    b"\x02\x02\x01a\x01a",                              # duplicate set members
    b"\x05\x01\x01a" + struct.pack("<d", float("nan")),  # NaN score
    b"\x04\x00",                                        # empty hash
])
def test_hostile_payloads(body):
    with pytest.raises(DumpPayloadError) as caught:
        restore_value(_payload(body))
    assert str(caught.value) == BAD_DATA_FORMAT


def test_file_level_errors():
    good = _rdb_bytes(10)
    with pytest.raises(RdbError, match="Wrong signature"):
        list(RdbReader(b"RUDIS0010" + good[9:]).entries())
    with pytest.raises(RdbError, match="Can't handle RDB format version 12"):
        list(RdbReader(b"REDIS0012" + good[9:]).entries())
    with pytest.raises(RdbError, match="checksum"):
        list(RdbReader(good[:-1] + bytes([good[-1] ^ 0xFF])).entries())
    no_checksum = good[:-8] + b"\x00" * 8                    # rdbchecksum no: accepted
    assert len(list(RdbReader(no_checksum).entries())) == len(SAMPLE_VALUES)
    module_aux = b"REDIS0010\xf7" + b"\x00" * 20
    with pytest.raises(RdbError, match="module"):
        list(RdbReader(module_aux).entries())


def test_blob_parsers_reject_garbage():
    rng = random.Random(3)
    for _ in range(2000):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        for parser in (parse_listpack, parse_ziplist):
            try:
                parser(blob)
            except RdbError:
                pass
