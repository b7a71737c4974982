"""RDB load's compiled path for runs of string keys (engine/core.pyx load_string_run, Cursor.read_string_run_ex):
plain and expiring strings, mixed in one run, land in the record table as the per-key slow path puts them."""
import io
import time

from engine.core import Keyspace
from engine.persistence.rdb import RdbReader, load_rdb
from engine.persistence.snapshot import load_keyspace, write_keyspace
from tests.persistence.helpers import FAR_FUTURE_MS, client, redis_in, start_in


def _mixed_keyspace(now_ms):
    ks = Keyspace(2)
    db = ks.dbs[0]
    for i in range(300):
        key = b"k:%d" % i
        value = [b"v%d" % i, b"%d" % (i * 7 - 500), b"long-value-" * (i % 9 + 1)][i % 3]
        if i % 4 == 1:
            db.set_value(key, value, FAR_FUTURE_MS + i)
        elif i % 4 == 3:
            db.set_value(key, value, now_ms + 3_600_000 + i)
        else:
            db.set_value(key, value)
    ks.dbs[1].set_value(b"other", b"x", FAR_FUTURE_MS)
    return ks


def _snapshot(ks):
    out = {}
    for db in ks.dbs:
        for key in db.key_list():
            e = db.find(key)
            out[(db.id, key)] = (e.value, e.expire_at)
    return out


def test_reader_yields_mixed_expiry_runs_and_entries_agree():
    now = int(time.time() * 1000)
    buf = io.BytesIO()
    write_keyspace(_mixed_keyspace(now), buf)
    events = [e for e in RdbReader(buf.getvalue()).events() if e[0] == "strings"]
    assert sum(len(e[2]) // 3 for e in events) == 301
    assert len(events) <= 3               # one run per db (the expiry prefix does not end a run)
    flat = events[0][2]
    assert any(flat[i + 2] == -1 for i in range(0, len(flat), 3))
    assert any(flat[i + 2] > 0 for i in range(0, len(flat), 3))
    entries = {(e[0], e[1]): (e[3], e[4]) for e in RdbReader(buf.getvalue()).entries()}
    assert entries[(0, b"k:1")] == (b"-493", FAR_FUTURE_MS + 1)
    assert entries[(0, b"k:0")] == (b"v0", None)


def test_fast_load_matches_the_per_key_path_values_ttls_and_memory():
    now = int(time.time() * 1000)
    src = _mixed_keyspace(now)
    buf = io.BytesIO()
    write_keyspace(src, buf)
    fast = Keyspace(2)
    stats = load_keyspace(fast, buf.getvalue())
    assert stats.keys_loaded == 301 and stats.keys_expired == 0
    slow = Keyspace(2)

    def on_key(dbid, key, kind, value, expire_ms, idle, freq):
        db = slow.dbs[dbid]
        db.account(key, db.load_value(key, value, -1 if expire_ms is None else expire_ms))
    load_rdb(buf.getvalue(), on_key=on_key)
    assert _snapshot(fast) == _snapshot(slow) == _snapshot(src)
    assert fast.used_memory == slow.used_memory
    assert [d.used_memory for d in fast.dbs] == [d.used_memory for d in slow.dbs]
    assert fast.dbs[0].expires_count() == slow.dbs[0].expires_count() == 150


def test_fast_load_replaces_present_keys_and_drops_expired_ones():
    now = int(time.time() * 1000)
    src = Keyspace(1)
    src.dbs[0].set_value(b"live", b"new", FAR_FUTURE_MS)
    src.dbs[0].set_value(b"gone", b"old", now + 3_600_000)
    src.dbs[0].set_value(b"plain", b"p")
    buf = io.BytesIO()
    write_keyspace(src, buf)
    dst = Keyspace(1)
    dst.dbs[0].set_value(b"live", b"previous-value-that-is-longer")
    dst.dbs[0].set_value(b"plain", b"q", FAR_FUTURE_MS)
    expired = []
    stats = load_keyspace(dst, buf.getvalue(), now_ms=now + 7_200_000,
                          on_expired=lambda dbid, key: expired.append((dbid, key)))
    assert stats.keys_loaded == 2 and stats.keys_expired == 1 and expired == [(0, b"gone")]
    assert dst.dbs[0].find(b"live").value == b"new"
    assert dst.dbs[0].find(b"live").expire_at == FAR_FUTURE_MS
    assert dst.dbs[0].find(b"plain").expire_at == -1
    assert dst.dbs[0].find(b"gone") is None
    kept = Keyspace(1)                    # a replica keeps what its primary will expire
    stats = load_keyspace(kept, buf.getvalue(), now_ms=now + 7_200_000, drop_expired=False)
    assert stats.keys_loaded == 3 and kept.dbs[0].find(b"gone").expire_at == now + 3_600_000


def test_redis_written_rdb_with_mixed_expiries(tmp_path):
    ref = redis_in(tmp_path)
    try:
        r = client(ref)
        p = r.pipeline(transaction=False)
        for i in range(2000):
            if i % 5 == 0:
                p.set("k:%d" % i, "v%d" % i, pxat=FAR_FUTURE_MS + i)
            elif i % 5 == 1:
                p.set("k:%d" % i, str(i * 13), px=600)      # expired by the time cachemere loads
            elif i % 5 == 2:
                p.set("k:%d" % i, "x" * (40 + i % 100))      # LZF-compressed by redis
            else:
                p.set("k:%d" % i, str(i))
        p.execute()
        r.save()
    finally:
        ref.stop()
    time.sleep(0.7)
    srv = start_in(tmp_path)
    try:
        c = client(srv)
        assert c.dbsize() == 1600
        assert "keys loaded: 1600, keys expired: 400." in srv.log()
        assert c.get("k:0") == b"v0" and c.pexpiretime("k:0") == FAR_FUTURE_MS
        assert c.get("k:1") is None
        assert c.get("k:2") == b"x" * 42 and c.ttl("k:2") == -1
        assert c.get("k:3") == b"3" and c.object("encoding", "k:3") == b"int"
        assert c.pexpiretime("k:1995") == FAR_FUTURE_MS + 1995
        assert c.info("persistence")["rdb_last_load_keys_loaded"] == 1600
    finally:
        srv.stop()
