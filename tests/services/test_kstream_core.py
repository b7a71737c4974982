"""STREAM.* (Kinesis semantics) against a real cachemere-server, with redis-py clients."""
import hashlib
import threading
import time

import pytest
import redis

from tests.support.servers import RawConnection

POW_128 = 1 << 128
S0, S1, S2 = ("shardId-%012d" % i for i in range(3))


@pytest.fixture
def r(cachemere):
    client = redis.Redis(port=cachemere.port)
    client.flushall()
    yield client
    client.close()


def cmd(r, *args):
    return r.execute_command(*args)


def err(r, *args):
    with pytest.raises(redis.ResponseError) as info:
        r.execute_command(*args)
    return str(info.value)


def shards(r, key):
    return cmd(r, "STREAM.DESCRIBE", key)[b"Shards"]


def get_all(r, key, it, limit=None):
    extra = ["LIMIT", limit] if limit else []
    return cmd(r, "STREAM.GET", key, it, *extra)


def md5_int(pkey):
    return int.from_bytes(hashlib.md5(pkey.encode()).digest(), "big")


def test_create_splits_hash_space_like_kinesis(r):
    assert cmd(r, "STREAM.CREATE", "s", "SHARDS", 3) == b"OK"
    assert r.type("s") == b"kstream"
    ranges = [(int(sh[b"HashKeyRange"][b"StartingHashKey"]), int(sh[b"HashKeyRange"][b"EndingHashKey"]))
              for sh in shards(r, "s")]
    # the ranges AWS reports for a 3-shard stream
    assert ranges == [(0, 113427455640312821154458202477256070484),
                      (113427455640312821154458202477256070485, 226854911280625642308916404954512140969),
                      (226854911280625642308916404954512140970, POW_128 - 1)]
    d = cmd(r, "STREAM.DESCRIBE", "s")
    assert d[b"StreamStatus"] == b"ACTIVE" and d[b"RetentionPeriodHours"] == 24
    assert [sh[b"ShardId"] for sh in shards(r, "s")] == [S0.encode(), S1.encode(), S2.encode()]
    assert err(r, "STREAM.CREATE", "s", "SHARDS", 2).startswith(
        "ResourceInUseException Stream s under account 000000000000 already exists")
    assert "ValidationException" in err(r, "STREAM.CREATE", "t", "SHARDS", 0)
    assert "ValidationException" in err(r, "STREAM.CREATE", "t", "RETENTION", 23)
    r.set("str", "x")
    assert err(r, "STREAM.CREATE", "str").startswith("WRONGTYPE")
    assert err(r, "STREAM.PUT", "str", "k", "v").startswith("WRONGTYPE")
    assert err(r, "STREAM.DESCRIBE", "nope") == "ResourceNotFoundException Stream nope under account 000000000000 not found."
    assert cmd(r, "STREAM.CREATE", "od", "MODE", "ON_DEMAND") == b"OK"
    assert len(shards(r, "od")) == 4


def test_put_routes_by_md5_and_sequence_numbers(r):
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 4)
    bounds = [(int(sh[b"HashKeyRange"][b"StartingHashKey"]), int(sh[b"HashKeyRange"][b"EndingHashKey"]), sh[b"ShardId"])
              for sh in shards(r, "s")]
    last = {}
    for i in range(60):
        pkey = f"user-{i}"
        sid, seq = cmd(r, "STREAM.PUT", "s", pkey, f"data-{i}")
        h = md5_int(pkey)
        assert sid == next(b[2] for b in bounds if b[0] <= h <= b[1])
        assert len(seq) == 56 and seq.isdigit() and not seq.startswith(b"0")
        if sid in last:
            assert int(seq) > int(last[sid])
        last[sid] = seq
    assert len(last) == 4
    # explicit hash keys, including the top of the space (which moto crashes on)
    assert cmd(r, "STREAM.PUT", "s", "x", "d", "HASHKEY", POW_128 - 1)[0] == bounds[3][2]
    assert cmd(r, "STREAM.PUT", "s", "x", "d", "HASHKEY", 0)[0] == bounds[0][2]
    assert err(r, "STREAM.PUT", "s", "x", "d", "HASHKEY", POW_128).startswith(
        "InvalidArgumentException Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1].")
    assert "ValidationException" in err(r, "STREAM.PUT", "s", "x", "d", "HASHKEY", "012")
    # ORDERAFTER (SequenceNumberForOrdering): strictly after the given number
    _, a = cmd(r, "STREAM.PUT", "s", "k", "1")
    _, b = cmd(r, "STREAM.PUT", "s", "k", "2", "ORDERAFTER", a)
    assert int(b) > int(a)


def test_put_limits_nothing_half_applied(r):
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 2)
    assert "Member must have length less than or equal to 1048576" in err(r, "STREAM.PUT", "s", "k", b"x" * (1048576 + 1))
    assert err(r, "STREAM.PUT", "s", "k", b"x" * 1048576).startswith("InvalidArgumentException Record size exceeds 1 MB")
    assert cmd(r, "STREAM.PUT", "s", "k", b"x" * (1048576 - 1))[0]
    assert "at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256" in \
        err(r, "STREAM.PUT", "s", "k" * 257, "d")
    assert "at 'partitionKey'" in err(r, "STREAM.PUT", "s", "", "d")
    many = []
    for i in range(501):
        many += ["REC", f"k{i}", "d"]
    assert "at 'records' failed to satisfy constraint: Member must have length less than or equal to 500" in \
        err(r, "STREAM.PUTMANY", "s", *many)
    # a bad record in the middle: the whole call is refused, nothing stored
    bad = ["REC", "a", "1", "REC", "b", "2", "HASHKEY", "-1", "REC", "c", "3"]
    assert "ValidationException" in err(r, "STREAM.PUTMANY", "s", *bad)
    big = []
    for i in range(6):
        big += ["REC", f"k{i}", b"y" * 1000000]
    assert err(r, "STREAM.PUTMANY", "s", *big) == "InvalidArgumentException Records size exceeds 5 MB limit"
    total = 0
    for sh in (S0, S1):
        total += len(get_all(r, "s", cmd(r, "STREAM.ITERATOR", "s", sh, "TRIM_HORIZON"))[b"Records"])
    assert total == 1
    failed, results = cmd(r, "STREAM.PUTMANY", "s", "REC", "a", "1", "REC", "b", "2", "HASHKEY", 0, "REC", "c", "3")
    assert failed == 0 and len(results) == 3 and results[1][0] == S0.encode()
    assert len({res[1] for res in results}) == 3


def test_iterator_types(r):
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 1)
    seqs = [cmd(r, "STREAM.PUT", "s", "k", f"v{i}")[1] for i in range(5)]
    def datas(it, limit=None):
        return [rec[3] for rec in get_all(r, "s", it, limit)[b"Records"]]
    th = cmd(r, "STREAM.ITERATOR", "s", S0, "TRIM_HORIZON")
    assert datas(th) == [b"v0", b"v1", b"v2", b"v3", b"v4"]
    assert datas(cmd(r, "STREAM.ITERATOR", "s", S0, "AT_SEQUENCE_NUMBER", seqs[2])) == [b"v2", b"v3", b"v4"]
    assert datas(cmd(r, "STREAM.ITERATOR", "s", S0, "AFTER_SEQUENCE_NUMBER", seqs[2])) == [b"v3", b"v4"]
    assert datas(cmd(r, "STREAM.ITERATOR", "s", S0, "AT_SEQUENCE_NUMBER", seqs[0])) == [b"v0", b"v1", b"v2", b"v3", b"v4"]
    latest = cmd(r, "STREAM.ITERATOR", "s", S0, "LATEST")
    assert datas(latest) == []
    time.sleep(0.005)
    ts = int(time.time() * 1000)
    time.sleep(0.005)
    cmd(r, "STREAM.PUT", "s", "k", "v5")
    assert datas(latest) == [b"v5"]
    assert datas(cmd(r, "STREAM.ITERATOR", "s", S0, "AT_TIMESTAMP", ts)) == [b"v5"]
    assert datas(cmd(r, "STREAM.ITERATOR", "s", S0, "AT_TIMESTAMP", 0)) == [b"v0", b"v1", b"v2", b"v3", b"v4", b"v5"]
    # NextShardIterator walks the shard page by page; MillisBehindLatest is 0 once caught up
    got, it = [], th
    for _ in range(10):
        page = get_all(r, "s", it, 2)
        got += [rec[3] for rec in page[b"Records"]]
        if not page[b"Records"]:
            assert page[b"MillisBehindLatest"] == 0
            break
        it = page[b"NextShardIterator"]
    assert got == [b"v0", b"v1", b"v2", b"v3", b"v4", b"v5"]
    page = get_all(r, "s", th, 2)
    assert page[b"MillisBehindLatest"] >= 0 and page[b"ChildShards"] == []
    rec = page[b"Records"][0]
    assert rec[0] == seqs[0] and rec[2] == b"k" and abs(rec[1] - time.time() * 1000) < 60000
    # errors
    assert "ResourceNotFoundException Shard shardId-000000000009" in err(r, "STREAM.ITERATOR", "s", "shardId-000000000009", "LATEST")
    assert "ValidationException" in err(r, "STREAM.ITERATOR", "s", S0, "SOMEWHERE")
    assert "ValidationException" in err(r, "STREAM.ITERATOR", "s", S0, "AT_SEQUENCE_NUMBER", "007")
    assert err(r, "STREAM.ITERATOR", "s", S0, "AT_SEQUENCE_NUMBER").startswith("InvalidArgumentException Must specify")
    assert "ValidationException" in err(r, "STREAM.GET", "s", th, "LIMIT", 10001)


def test_iterators_are_signed_and_expire(r):
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 2, "ITERATORTTLMS", 1000)
    cmd(r, "STREAM.CREATE", "other", "SHARDS", 2)
    it = cmd(r, "STREAM.ITERATOR", "s", S0, "TRIM_HORIZON")
    assert len(it) <= 512
    import base64
    raw = base64.urlsafe_b64decode(it)
    forged = base64.urlsafe_b64encode(raw.replace(b"0.", b"1.", 1))
    assert err(r, "STREAM.GET", "s", forged) == "InvalidArgumentException Invalid ShardIterator."
    assert err(r, "STREAM.GET", "s", b"garbage") == "InvalidArgumentException Invalid ShardIterator."
    assert err(r, "STREAM.GET", "other", it) == "InvalidArgumentException Invalid ShardIterator."
    # a sequence number of another shard
    sid, seq = cmd(r, "STREAM.PUT", "s", "k", "v", "HASHKEY", 0)
    assert sid == S0.encode()
    assert err(r, "STREAM.ITERATOR", "s", S1, "AT_SEQUENCE_NUMBER", seq).startswith(
        "InvalidArgumentException Invalid StartingSequenceNumber. It encodes shardId-000000000000")
    cmd(r, "STREAM.GET", "s", it)
    time.sleep(1.1)
    assert err(r, "STREAM.GET", "s", it).startswith("ExpiredIteratorException Iterator expired.")
    # recreating the stream invalidates old iterators
    r.delete("s")
    time.sleep(0.002)
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 2)
    assert err(r, "STREAM.GET", "s", it) == "InvalidArgumentException Invalid ShardIterator."


def test_split_merge_and_child_shards(r):
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 2)
    _, before = cmd(r, "STREAM.PUT", "s", "k", "old", "HASHKEY", 5)
    th = cmd(r, "STREAM.ITERATOR", "s", S0, "TRIM_HORIZON")
    half = POW_128 // 2
    assert cmd(r, "STREAM.SPLIT", "s", S0, half // 2) == b"OK"
    desc = {sh[b"ShardId"]: sh for sh in shards(r, "s")}
    assert len(desc) == 4
    parent = desc[S0.encode()]
    assert parent[b"SequenceNumberRange"][b"EndingSequenceNumber"] is not None
    c3, c4 = desc[b"shardId-000000000002"], desc[b"shardId-000000000003"]
    assert c3[b"ParentShardId"] == S0.encode() and c4[b"ParentShardId"] == S0.encode()
    assert int(c3[b"HashKeyRange"][b"EndingHashKey"]) + 1 == int(c4[b"HashKeyRange"][b"StartingHashKey"]) == half // 2
    assert int(c3[b"SequenceNumberRange"][b"StartingSequenceNumber"]) > int(before)
    # writes now go to the children; the closed parent drains to a null iterator and its children
    sid, after = cmd(r, "STREAM.PUT", "s", "k", "new", "HASHKEY", 5)
    assert sid == b"shardId-000000000002" and int(after) > int(before)
    page = get_all(r, "s", th)
    assert [rec[3] for rec in page[b"Records"]] == [b"old"]
    assert page[b"NextShardIterator"] is None
    assert sorted(ch[b"ShardId"] for ch in page[b"ChildShards"]) == [b"shardId-000000000002", b"shardId-000000000003"]
    # the parent cannot be split or merged again (kinesalite#109)
    assert err(r, "STREAM.SPLIT", "s", S0, 10).startswith("ResourceInUseException Shard shardId-000000000000 in stream s")
    assert err(r, "STREAM.SPLIT", "s", "shardId-000000000002", 0).startswith("InvalidArgumentException NewStartingHashKey 0")
    assert err(r, "STREAM.MERGE", "s", "shardId-000000000002", S1).startswith(
        "InvalidArgumentException Shards shardId-000000000002 and shardId-000000000001")
    assert cmd(r, "STREAM.MERGE", "s", "shardId-000000000003", S1) == b"OK"
    merged = shards(r, "s")[-1]
    assert merged[b"ParentShardId"] == b"shardId-000000000003" and merged[b"AdjacentParentShardId"] == S1.encode()
    assert int(merged[b"HashKeyRange"][b"StartingHashKey"]) == half // 2
    assert int(merged[b"HashKeyRange"][b"EndingHashKey"]) == POW_128 - 1
    open_ = cmd(r, "STREAM.SHARDS", "s", "FILTER", "AT_LATEST")
    assert [sh[b"ShardId"] for sh in open_] == [b"shardId-000000000002", b"shardId-000000000004"]
    assert len(cmd(r, "STREAM.SHARDS", "s")) == 5
    assert [sh[b"ShardId"] for sh in cmd(r, "STREAM.SHARDS", "s", "AFTER", "shardId-000000000002", "COUNT", 1)] == \
        [b"shardId-000000000003"]


def test_update_shard_count(r):
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 2)
    assert err(r, "STREAM.UPDATESHARDCOUNT", "s", 5).startswith("InvalidArgumentException UpdateShardCount cannot scale up")
    assert cmd(r, "STREAM.UPDATESHARDCOUNT", "s", 3, "UNIFORM_SCALING") == b"OK"
    open_ = cmd(r, "STREAM.SHARDS", "s", "FILTER", "AT_LATEST")
    assert len(open_) == 3
    ranges = [(int(sh[b"HashKeyRange"][b"StartingHashKey"]), int(sh[b"HashKeyRange"][b"EndingHashKey"])) for sh in open_]
    assert ranges[0] == (0, 113427455640312821154458202477256070484) and ranges[-1][1] == POW_128 - 1
    assert open_[1][b"ParentShardId"] == S0.encode() and open_[1][b"AdjacentParentShardId"] == S1.encode()
    assert err(r, "STREAM.UPDATESHARDCOUNT", "s", 1).startswith("InvalidArgumentException UpdateShardCount cannot scale down")


def test_blocking_read_woken_by_put(cachemere, r):
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 1)
    cmd(r, "STREAM.PUT", "s", "k", "before")
    assert [rec[3] for rec in cmd(r, "STREAM.READ", "s", S0, "TRIM_HORIZON")] == [b"before"]
    assert cmd(r, "STREAM.READ", "s", S0, "LATEST") == []
    assert cmd(r, "STREAM.READ", "s", S0, "LATEST", "BLOCK", 50) is None
    out = {}
    def reader():
        cl = redis.Redis(port=cachemere.port)
        t0 = time.monotonic()
        out["reply"] = cl.execute_command("STREAM.READ", "s", S0, "LATEST", "BLOCK", 5000)
        out["elapsed"] = time.monotonic() - t0
        cl.close()
    th = threading.Thread(target=reader)
    th.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and r.info("clients")["blocked_clients"] != 1:
        time.sleep(0.01)
    assert r.info("clients")["blocked_clients"] == 1
    # a PUT to another stream does not wake it, one to this stream does
    cmd(r, "STREAM.CREATE", "t", "SHARDS", 1)
    cmd(r, "STREAM.PUT", "t", "k", "elsewhere")
    time.sleep(0.05)
    assert "reply" not in out
    cmd(r, "STREAM.PUT", "s", "k", "wake")
    th.join(5)
    assert [rec[3] for rec in out["reply"]] == [b"wake"] and out["elapsed"] < 4
    # a reader blocked on a shard that gets split is woken with an empty batch (move on to the children)
    def reader2():
        cl = redis.Redis(port=cachemere.port)
        out["closed"] = cl.execute_command("STREAM.READ", "s", S0, "LATEST", "BLOCK", 5000)
        cl.close()
    th = threading.Thread(target=reader2)
    th.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and r.info("clients")["blocked_clients"] != 1:
        time.sleep(0.01)
    cmd(r, "STREAM.SPLIT", "s", S0, 1 << 127)
    th.join(5)
    assert out["closed"] == []
    assert cmd(r, "STREAM.READ", "s", S0, "LATEST", "BLOCK", 0) == []
    # inside MULTI it answers at once
    p = r.pipeline(transaction=True)
    p.execute_command("STREAM.READ", "t", S0, "LATEST", "BLOCK", 0)
    assert p.execute() == [None]


def test_leases_and_checkpoints(r):
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 1)
    cmd(r, "STREAM.PUT", "s", "k", "v")
    row = cmd(r, "STREAM.LEASE", "ACQUIRE", "s", "app", S0, "w1", "TTLMS", 10000)
    assert row[b"LeaseOwner"] == b"w1" and row[b"LeaseCounter"] == 1
    assert err(r, "STREAM.LEASE", "ACQUIRE", "s", "app", S0, "w2").startswith("LEASEHELD lease on shardId-000000000000 is held by w1")
    # another app has its own table
    assert cmd(r, "STREAM.LEASE", "ACQUIRE", "s", "other", S0, "w2")[b"LeaseCounter"] == 1
    row = cmd(r, "STREAM.LEASE", "RENEW", "s", "app", S0, "w1", 1, 10000)
    assert row[b"LeaseCounter"] == 2
    assert err(r, "STREAM.LEASE", "RENEW", "s", "app", S0, "w1", 1, 10000).startswith("LEASELOST")
    # steal with the counter just observed (KCL's conditional write)
    row = cmd(r, "STREAM.LEASE", "ACQUIRE", "s", "app", S0, "w2", "IFCOUNTER", 2)
    assert row[b"LeaseOwner"] == b"w2" and row[b"LeaseCounter"] == 3
    assert err(r, "STREAM.CHECKPOINT", "s", "app", S0, "SHARD_END").startswith("InvalidArgumentException")
    seq = cmd(r, "STREAM.READ", "s", S0, "TRIM_HORIZON")[0][0]
    assert err(r, "STREAM.CHECKPOINT", "s", "app", S0, seq, "OWNER", "w1", "COUNTER", 3).startswith("LEASELOST")
    assert cmd(r, "STREAM.CHECKPOINT", "s", "app", S0, seq, "OWNER", "w2", "COUNTER", 3) == b"OK"
    assert cmd(r, "STREAM.CHECKPOINTGET", "s", "app", S0) == seq
    assert cmd(r, "STREAM.CHECKPOINTGET", "s", "app") == {S0.encode(): seq}
    # children wait for their parents to reach SHARD_END
    cmd(r, "STREAM.SPLIT", "s", S0, 1000)
    assert err(r, "STREAM.LEASE", "ACQUIRE", "s", "app", "shardId-000000000001", "w2").startswith("LEASEBLOCKED")
    assert cmd(r, "STREAM.CHECKPOINT", "s", "app", S0, "SHARD_END") == b"OK"
    assert cmd(r, "STREAM.LEASE", "ACQUIRE", "s", "app", "shardId-000000000001", "w2")[b"ParentsDone"] == 1
    assert cmd(r, "STREAM.LEASE", "RELEASE", "s", "app", S0, "w2", 3) == b"OK"
    rows = cmd(r, "STREAM.LEASE", "LIST", "s", "app")
    assert [x[b"LeaseOwner"] for x in rows] == [None, b"w2", None]
    assert rows[0][b"Checkpoint"] == b"SHARD_END"
    # an expired lease is free for anyone
    cmd(r, "STREAM.LEASE", "ACQUIRE", "s", "app", "shardId-000000000002", "w3", "TTLMS", 20)
    time.sleep(0.05)
    assert cmd(r, "STREAM.LEASE", "ACQUIRE", "s", "app", "shardId-000000000002", "w4")[b"LeaseOwner"] == b"w4"


def test_retention_trims_on_write(r):
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 1, "RETENTIONMS", 400)
    cmd(r, "STREAM.PUT", "s", "k", "old")
    time.sleep(0.45)
    it = cmd(r, "STREAM.ITERATOR", "s", S0, "TRIM_HORIZON")
    assert get_all(r, "s", it)[b"Records"] == []        # past retention: invisible at once
    cmd(r, "STREAM.PUT", "s", "k", "new")
    assert [rec[3] for rec in get_all(r, "s", it)[b"Records"]] == [b"new"]
    # a closed shard is trimmed by the writes to its children
    cmd(r, "STREAM.SPLIT", "s", S0, 1000)
    time.sleep(0.45)
    cmd(r, "STREAM.PUT", "s", "k", "child")
    cmd(r, "STREAM.RETENTION", "s", 24)
    assert cmd(r, "STREAM.READ", "s", S0, "TRIM_HORIZON") == []
    assert "ValidationException" in err(r, "STREAM.RETENTION", "s", 9000)
    assert cmd(r, "STREAM.RETENTION", "s", 48) == b"OK"
    assert cmd(r, "STREAM.DESCRIBE", "s")[b"RetentionPeriodHours"] == 48


def test_internal_effects_refused_and_docs(cachemere, r):
    for name in ("STREAM._PUT", "STREAM._CREATE", "STREAM._TRIM", "STREAM._RESHARD", "STREAM._LEASE"):
        with pytest.raises(redis.ResponseError):
            r.execute_command(name, "s", "a", "b", "c", "d", "e", "f", "g", "h")
    conn = RawConnection(cachemere.port)
    docs = conn.command("COMMAND", "DOCS", "STREAM.PUT", "STREAM.GET", "STREAM.LEASE")
    assert b"stream.put" in docs and b"stream.get" in docs and b"stream.lease|acquire" in docs and b"module" in docs
    info = conn.command("COMMAND", "INFO", "STREAM.PUT", "STREAM._PUT")
    assert b"@stream" in info and info.endswith(b"$-1\r\n")
    conn.close()
    # DEL / RENAME / SCAN TYPE / EXPIRE
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 1)
    assert [k for k in r.scan_iter(_type="kstream")] == [b"s"]
    r.rename("s", "s2")
    assert cmd(r, "STREAM.PUT", "s2", "k", "v")[0] == S0.encode()
    assert r.memory_usage("s2") > 0
    assert r.delete("s2") == 1


def test_keyspace_notifications(cachemere, r):
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    r.config_set("notify-keyspace-events", "Ed")
    try:
        ps = r.pubsub()
        ps.psubscribe("__keyevent@0__:stream.*")
        ps.get_message(timeout=1)
        cmd(r, "STREAM.CREATE", "s", "SHARDS", 1)
        cmd(r, "STREAM.PUT", "s", "k", "v")
        cmd(r, "STREAM.SPLIT", "s", S0, 1000)
        events = []
        deadline = time.monotonic() + 3
        while len(events) < 3 and time.monotonic() < deadline:
            m = ps.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                events.append((m["channel"], m["data"]))
        assert events == [(b"__keyevent@0__:stream.create", b"s"), (b"__keyevent@0__:stream.put", b"s"),
                          (b"__keyevent@0__:stream.split", b"s")]
        ps.close()
    finally:
        r.config_set("notify-keyspace-events", old)


def test_rate_knob_gives_per_record_throughput_failures(r):
    cmd(r, "STREAM.CREATE", "s", "SHARDS", 2, "RATE", 3)
    recs = []
    for i in range(5):
        recs += ["REC", "a", str(i), "HASHKEY", 0]
    recs += ["REC", "b", "other shard", "HASHKEY", 1 << 127]
    ok_seqs = []
    failed, results = cmd(r, "STREAM.PUTMANY", "s", *recs)
    ok_seqs += [res[1] for res in results[:5] if res[0] == S0.encode()]
    if failed == 0:          # the batch straddled a second boundary: the window restarted; try again at once
        failed, results = cmd(r, "STREAM.PUTMANY", "s", *recs)
        ok_seqs += [res[1] for res in results[:5] if res[0] == S0.encode()]
    assert failed >= 2
    errors = [res for res in results if res[0] == b"ProvisionedThroughputExceededException"]
    assert len(errors) == failed and errors[0][1].startswith(b"Rate exceeded for shard shardId-000000000000 in stream s")
    assert results[5][0] == S1.encode()            # the other shard has its own budget
    assert [rec[0] for rec in cmd(r, "STREAM.READ", "s", S0, "TRIM_HORIZON")] == ok_seqs   # refused ones not stored
    # a single PUT over the budget is refused, with nothing stored
    before = len(cmd(r, "STREAM.READ", "s", S0, "TRIM_HORIZON"))
    msgs = []
    for _ in range(4):
        try:
            cmd(r, "STREAM.PUT", "s", "a", "x", "HASHKEY", 0)
        except redis.ResponseError as e:
            msgs.append(str(e))
    after = len(cmd(r, "STREAM.READ", "s", S0, "TRIM_HORIZON"))
    assert msgs and msgs[0].startswith("ProvisionedThroughputExceededException Rate exceeded for shard shardId-000000000000")
    assert after - before == 4 - len(msgs)
