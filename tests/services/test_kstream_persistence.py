"""kstream keys across restart (AOF of explicit effects, RDB), DEBUG RELOAD, DUMP/RESTORE, AOF rewrite."""
import glob
import os
import tempfile
import time

import pytest
import redis

from tests.support.servers import start_cachemere, start_redis

S0 = "shardId-000000000000"


def build(r):
    r.execute_command("STREAM.CREATE", "ks", "SHARDS", 3)
    for i in range(40):
        r.execute_command("STREAM.PUT", "ks", f"pk{i}", f"data-{i}".encode() + bytes([i]))
    recs = []
    for i in range(30):
        recs += ["REC", f"m{i}", f"many-{i}"]
    r.execute_command("STREAM.PUTMANY", "ks", *recs)
    # inside a script and a transaction the effects are the same _PUTs
    r.eval("return redis.call('STREAM.PUT', KEYS[1], 'lua', 'from a script')", 1, "ks")
    p = r.pipeline(transaction=True)
    p.execute_command("STREAM.PUT", "ks", "tx", "one")
    p.execute_command("STREAM.PUT", "ks", "tx", "two")
    p.execute()
    r.execute_command("STREAM.SPLIT", "ks", S0, 1 << 120)
    r.execute_command("STREAM.PUT", "ks", "after-split", "x", "HASHKEY", 5)
    r.execute_command("STREAM.MERGE", "ks", "shardId-000000000001", "shardId-000000000002")
    r.execute_command("STREAM.PUT", "ks", "after-merge", "y")
    r.execute_command("STREAM.UPDATESHARDCOUNT", "ks", 4)
    r.execute_command("STREAM.PUT", "ks", "after-count", "z")
    r.execute_command("STREAM.LEASE", "ACQUIRE", "ks", "app", S0, "worker-1", "TTLMS", 3600000)
    seq = r.execute_command("STREAM.READ", "ks", S0, "TRIM_HORIZON", "COUNT", 1)[0][0]
    r.execute_command("STREAM.CHECKPOINT", "ks", "app", S0, seq, "SUBSEQ", 2)
    r.execute_command("STREAM.CHECKPOINT", "ks", "app", "shardId-000000000001", "SHARD_END")
    r.execute_command("STREAM.CREATE", "short", "SHARDS", 1, "RETENTIONMS", 400)
    r.execute_command("STREAM.PUT", "short", "k", "gone")
    time.sleep(0.45)
    r.execute_command("STREAM.PUT", "short", "k", "kept")      # trims "gone" (a STREAM._TRIM effect)
    # with a longer retention an untrimmed "gone" would be visible again: it must be really gone
    r.execute_command("STREAM.RETENTION", "short", 48)
    assert [rec[3] for rec in r.execute_command("STREAM.READ", "short", S0, "TRIM_HORIZON")] == [b"kept"]


def state(r):
    out = {}
    for key in (b"ks", b"short"):
        d = r.execute_command("STREAM.DESCRIBE", key)
        shards = {}
        for sh in d[b"Shards"]:
            sid = sh[b"ShardId"]
            shards[sid] = (sh, r.execute_command("STREAM.READ", key, sid, "TRIM_HORIZON"))
        out[key] = (d, shards, r.execute_command("STREAM.LEASE", "LIST", key, "app"),
                    r.execute_command("STREAM.CHECKPOINTGET", key, "app"))
    return out


def test_aof_restart_replays_effects_only():
    workdir = tempfile.mkdtemp(prefix="kstream-aof-")
    srv = start_cachemere("--appendonly", "yes", "--appendfsync", "always", workdir=workdir)
    try:
        r = redis.Redis(port=srv.port)
        build(r)
        before = state(r)
        it = r.execute_command("STREAM.ITERATOR", "ks", S0, "TRIM_HORIZON")
        r.close()
    finally:
        srv.stop()
    aof = b"".join(open(p, "rb").read() for p in glob.glob(os.path.join(workdir, "appendonlydir", "*.aof")))
    for effect in (b"STREAM._CREATE", b"STREAM._PUT", b"STREAM._RESHARD", b"STREAM._LEASE", b"STREAM._TRIM"):
        assert effect in aof
    for verb in (b"stream.put\r\n", b"STREAM.PUT\r\n", b"STREAM.PUTMANY", b"STREAM.SPLIT", b"STREAM.CREATE\r\n"):
        assert verb not in aof
    # every effect is idempotent: the whole incr file replayed twice gives the same streams
    incr = glob.glob(os.path.join(workdir, "appendonlydir", "*.incr.aof"))[0]
    with open(incr, "rb") as f:
        once = f.read()
    with open(incr, "ab") as f:
        f.write(once)
    srv = start_cachemere("--appendonly", "yes", workdir=workdir)
    try:
        r = redis.Redis(port=srv.port)
        assert state(r) == before
        # the iterator secret lives in the key: an iterator from before the restart still reads
        assert len(r.execute_command("STREAM.GET", "ks", it)[b"Records"]) > 0
        assert [rec[3] for rec in r.execute_command("STREAM.READ", "short", S0, "TRIM_HORIZON")] == [b"kept"]
        # and the stream keeps counting sequence numbers upward
        last = before[b"ks"][1][b"shardId-000000000009"][1] if b"shardId-000000000009" in before[b"ks"][1] else []
        sid, seq = r.execute_command("STREAM.PUT", "ks", "again", "w", "HASHKEY", 0)
        recs = r.execute_command("STREAM.READ", "ks", sid, "TRIM_HORIZON")
        assert recs[-1][0] == seq and all(int(x[0]) < int(seq) for x in recs[:-1])
        # a rewrite (RESTORE of the DUMP payload) reloads to the same state
        after = state(r)
        r.execute_command("BGREWRITEAOF")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and r.info("persistence")["aof_rewrite_in_progress"]:
            time.sleep(0.05)
        time.sleep(0.2)
        r.close()
    finally:
        srv.stop()
    srv = start_cachemere("--appendonly", "yes", workdir=workdir)
    try:
        r = redis.Redis(port=srv.port)
        assert state(r) == after
        r.close()
    finally:
        srv.stop()


def test_rdb_debug_reload_dump_restore():
    srv = start_cachemere("--enable-debug-command", "yes")
    ref = start_redis()
    try:
        r = redis.Redis(port=srv.port)
        build(r)
        before = state(r)
        assert r.execute_command("DEBUG", "RELOAD") == b"OK"
        assert state(r) == before
        payload = r.dump("ks")
        r.delete("ks")
        r.restore("ks", 0, payload)
        assert state(r) == before
        r.restore("copy", 0, payload)
        assert r.type("copy") == b"kstream"
        assert r.execute_command("STREAM.DESCRIBE", "copy")[b"Shards"] == before[b"ks"][0][b"Shards"]
        r.copy("ks", "copy2")
        r.execute_command("STREAM.PUT", "copy2", "k", "only in the copy")
        assert state(r) == before
        with pytest.raises(redis.ResponseError, match="Bad data format|checksum"):
            r.restore("bad", 0, payload[:20] + b"\x00" * 10 + payload[30:])
        # a real redis-server has no such module type and refuses the payload cleanly
        with pytest.raises(redis.ResponseError):
            redis.Redis(port=ref.port).restore("ks", 0, payload)
        r.execute_command("SAVE")
        r.close()
    finally:
        ref.stop()
        srv.stop()
    srv2 = start_cachemere(workdir=srv.dir)
    try:
        r = redis.Redis(port=srv2.port)
        assert state(r) == before
        r.close()
    finally:
        srv2.stop()


def test_load_state_refuses_malformed_payloads():
    from services.kstream.value import KStreamValue
    v = KStreamValue(1700000000000, b"k" * 16, 86400000)
    for hs, he in ((0, 10), (11, 20)):
        v.add_shard([], hs, he, 1700000000000)
    sh = v.shards["shardId-000000000000"]
    sh.append(sh.next_seq(1700000000001), 1700000000001, b"pk", b"data")
    v.leases["app"] = {"shardId-000000000000": ["w", 1, 5, None, 0]}
    v.close(v.shards["shardId-000000000001"], 1700000000005)
    v.add_shard(["shardId-000000000001"], 11, 20, 1700000000005)
    detail = v.dashboard_detail()
    assert detail["records"] == 1 and detail["open_shards"] == 2 and detail["apps"] == ["app"]
    assert detail["graph"]["edges"] == [["shardId-000000000001", "shardId-000000000002"]]
    assert [n["status"] for n in detail["graph"]["nodes"]] == ["OPEN", "CLOSED", "OPEN"]
    blob = v.dump_state()
    again = KStreamValue.load_state(blob, 1)
    assert again.dump_state() == blob and again.memory_usage() > 0
    for bad in (b"", b"junk", blob[:-1], blob + b"x", blob[:13] + b"\xff" + blob[14:]):
        with pytest.raises(ValueError):
            KStreamValue.load_state(bad, 1)
    with pytest.raises(ValueError):
        KStreamValue.load_state(blob, 0)


def test_kill9_with_appendfsync_always_loses_no_acknowledged_put():
    workdir = tempfile.mkdtemp(prefix="kstream-kill-")
    srv = start_cachemere("--appendonly", "yes", "--appendfsync", "always", workdir=workdir)
    acked = []
    stop = time.monotonic() + 1.0
    try:
        r = redis.Redis(port=srv.port)
        r.execute_command("STREAM.CREATE", "ks", "SHARDS", 2)
        import threading

        def writer():
            from redis.backoff import NoBackoff
            from redis.retry import Retry
            cl = redis.Redis(port=srv.port, socket_timeout=2, retry=Retry(NoBackoff(), 0))
            i = 0
            try:
                while True:
                    sid, seq = cl.execute_command("STREAM.PUT", "ks", f"k{i}", f"v{i}")
                    acked.append((sid, seq, f"v{i}".encode()))
                    i += 1
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                pass
        th = threading.Thread(target=writer)
        th.start()
        while time.monotonic() < stop:
            time.sleep(0.05)
        srv.kill9()
        th.join(5)
    finally:
        srv.stop()
    assert len(acked) > 50
    srv = start_cachemere("--appendonly", "yes", workdir=workdir)
    try:
        r = redis.Redis(port=srv.port)
        stored = set()
        for sid in (S0, "shardId-000000000001"):
            for seq, _, _, data in r.execute_command("STREAM.READ", "ks", sid, "TRIM_HORIZON"):
                stored.add((sid.encode(), seq, data))
        missing = [a for a in acked if a not in stored]
        assert not missing, missing[:3]
    finally:
        srv.stop()


def test_primary_trims_idle_streams_once_a_second():
    workdir = tempfile.mkdtemp(prefix="kstream-trim-")
    srv = start_cachemere("--appendonly", "yes", workdir=workdir)
    try:
        r = redis.Redis(port=srv.port)
        r.execute_command("STREAM.CREATE", "idle", "SHARDS", 2, "RETENTIONMS", 100)
        r.execute_command("STREAM.PUTMANY", "idle", "REC", "a", "1", "REC", "b", "2")
        deadline = time.monotonic() + 5
        aof = b""
        while time.monotonic() < deadline and b"STREAM._TRIM" not in aof:
            time.sleep(0.2)
            aof = b"".join(open(p, "rb").read() for p in glob.glob(os.path.join(workdir, "appendonlydir", "*.incr.aof")))
        assert b"STREAM._TRIM" in aof
        r.execute_command("STREAM.RETENTION", "idle", 24)     # trimmed records do not come back
        for sid in (S0, "shardId-000000000001"):
            assert r.execute_command("STREAM.READ", "idle", sid, "TRIM_HORIZON") == []
        assert r.execute_command("STREAM.TRIM", "idle") == 0
        r.execute_command("STREAM.CREATE", "manual", "SHARDS", 1, "RETENTIONMS", 100000)
        r.execute_command("STREAM.PUT", "manual", "k", "v")
        assert r.execute_command("STREAM.TRIM", "manual") == 0
    finally:
        srv.stop()
