"""MIGRATE and RESTORE-ASKING against real servers: Cachemere -> Cachemere, Cachemere -> redis-server,
redis-server -> Cachemere, and the same commands sent to a Cachemere source and a redis-server source
(migrating to the same kind of target) compared byte for byte, errors included."""
import socket
import time

import pytest
import redis

from tests.support.servers import RawConnection, free_port, start_cachemere, start_redis, wait_for


@pytest.fixture(scope="module")
def nodes():
    """(cachemere source, redis source, cachemere target, redis target, redis target with a password)."""
    started = []
    try:
        for fn, args in ((start_cachemere, ()), (start_redis, ()), (start_cachemere, ()), (start_redis, ()),
                         (start_redis, ("--requirepass", "s3cret"))):
            started.append(fn(*args))
        yield started
    finally:
        for srv in started:
            srv.stop()


def fill(r, prefix=""):
    r.set(prefix + "str", "hello")
    r.set(prefix + "ttl", "soon", px=50000)
    r.rpush(prefix + "list", "a", "b", "c")
    r.hset(prefix + "hash", mapping={"f1": "v1", "f2": "v2"})
    r.sadd(prefix + "set", "x", "y")
    r.zadd(prefix + "zset", {"m1": 1.5, "m2": 2})
    r.xadd(prefix + "stream", {"k": "v"}, id="1-1")
    r.set(prefix + "long", "z" * 5000)
    r.set(prefix + "int", 12345)
    return [prefix + k for k in ("str", "ttl", "list", "hash", "set", "zset", "stream", "long", "int")]


def snapshot(r, keys):
    out = {}
    for k in keys:
        t = r.type(k)
        if t == b"string":
            v = r.get(k)
        elif t == b"list":
            v = r.lrange(k, 0, -1)
        elif t == b"hash":
            v = r.hgetall(k)
        elif t == b"set":
            v = sorted(r.smembers(k))
        elif t == b"zset":
            v = r.zrange(k, 0, -1, withscores=True)
        elif t == b"stream":
            v = r.xrange(k)
        else:
            v = None
        out[k] = (t, v)
    return out


@pytest.mark.parametrize("pair", [(0, 2), (0, 3), (1, 2)], ids=["cm->cm", "cm->redis", "redis->cm"])
def test_migrate_all_types_and_ttl(nodes, pair):
    src, dst = (redis.Redis(port=nodes[i].port) for i in pair)
    dst_db5 = redis.Redis(port=nodes[pair[1]].port, db=5)
    src.flushall()
    dst.flushall()
    keys = fill(src)
    want = snapshot(src, keys)
    # one key, then the rest with KEYS (and a missing one), into db 5
    assert src.execute_command("MIGRATE", "127.0.0.1", nodes[pair[1]].port, "str", 5, 2000) == b"OK"
    assert src.execute_command("MIGRATE", "127.0.0.1", nodes[pair[1]].port, "", 5, 2000, "KEYS",
                               *keys[1:], "missing") == b"OK"
    assert src.dbsize() == 0
    assert snapshot(dst_db5, keys) == want
    assert 45000 < dst_db5.pttl("ttl") <= 50000
    assert dst_db5.pttl("str") == -1
    assert src.execute_command("MIGRATE", "127.0.0.1", nodes[pair[1]].port, "str", 5, 2000) == b"NOKEY"


@pytest.mark.parametrize("pair", [(0, 2), (0, 3), (1, 2)], ids=["cm->cm", "cm->redis", "redis->cm"])
def test_migrate_copy_and_replace(nodes, pair):
    src, dst = (redis.Redis(port=nodes[i].port) for i in pair)
    port = nodes[pair[1]].port
    src.flushall()
    dst.flushall()
    src.set("a", "1")
    src.set("b", "2")
    assert src.execute_command("MIGRATE", "127.0.0.1", port, "", 0, 2000, "COPY", "KEYS", "a", "b") == b"OK"
    assert src.mget("a", "b") == [b"1", b"2"] and dst.mget("a", "b") == [b"1", b"2"]
    with pytest.raises(redis.ResponseError) as exc:
        src.execute_command("MIGRATE", "127.0.0.1", port, "", 0, 2000, "COPY", "KEYS", "a", "b")
    assert str(exc.value) == "Target instance replied with error: BUSYKEY Target key name already exists."
    src.set("a", "new")
    assert src.execute_command("MIGRATE", "127.0.0.1", port, "a", 0, 2000, "COPY", "REPLACE") == b"OK"
    assert dst.get("a") == b"new" and src.get("a") == b"new"
    assert src.execute_command("MIGRATE", "127.0.0.1", port, "", 0, 2000, "REPLACE", "KEYS", "a", "b") == b"OK"
    assert src.dbsize() == 0 and dst.mget("a", "b") == [b"new", b"2"]


def raw_pair(nodes, target_index, *args):
    """The raw reply of the same MIGRATE sent by the Cachemere source and by the redis source."""
    out = []
    for src in (nodes[0], nodes[1]):
        r = redis.Redis(port=src.port)
        r.flushall()
        r.set("k", "v")
        r.set("k2", "v2")
        conn = RawConnection(src.port)
        try:
            out.append(conn.command(*[a if a != "PORT" else nodes[target_index].port for a in args]))
        finally:
            conn.close()
    return out


ERROR_CASES = [
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0"),                                   # arity
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "notanint"),
    ("MIGRATE", "127.0.0.1", "PORT", "k", "x", "1000"),
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "99999999999999999999"),
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "1000", "KEYS", "k2"),              # key must be ""
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "1000", "AUTH"),
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "1000", "AUTH2", "user"),
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "1000", "BOGUS"),
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "1000", "COPY", "COPY", "REPLACE", "bogus"),
    ("MIGRATE", "127.0.0.1", "PORT", "nokey", "0", "1000"),
    ("MIGRATE", "127.0.0.1", "PORT", "", "0", "1000", "KEYS", "nokey", "nokey2"),
    ("MIGRATE", "127.0.0.1", "PORT", "", "0", "1000", "KEYS"),
    ("MIGRATE", "127.0.0.1", "PORT", "k", "99", "1000"),                           # SELECT fails there
    ("MIGRATE", "127.0.0.1", "PORT", "k", "-1", "1000"),
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "1000", "AUTH", "pw"),              # no password set there
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "1000", "AUTH2", "default", "pw"),
    ("MIGRATE", "127.0.0.1", "notaport", "k", "0", "1000"),
    ("MIGRATE", "127.0.0.1", "1", "k", "0", "1000"),                               # nothing listens
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "-5", "COPY"),                      # timeout <= 0: 1000 ms
    ("RESTORE-ASKING", "k"),
    ("RESTORE-ASKING", "k", "0", "garbage"),
    ("RESTORE-ASKING", "k", "0", "garbage", "REPLACE"),
    ("RESTORE-ASKING", "k", "-1", "x", "REPLACE"),
    ("RESTORE-ASKING", "k", "0", "x", "BOGUS"),
]


@pytest.mark.parametrize("args", ERROR_CASES, ids=lambda a: " ".join(a[3:])[:40])
def test_replies_byte_identical_to_redis(nodes, args):
    ours, theirs = raw_pair(nodes, 3, *args)
    assert ours == theirs


@pytest.mark.parametrize("args", [
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "1000"),
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "1000", "AUTH", "wrong"),
    ("MIGRATE", "127.0.0.1", "PORT", "k", "0", "1000", "AUTH", "s3cret"),
    ("MIGRATE", "127.0.0.1", "PORT", "", "0", "1000", "REPLACE", "AUTH2", "default", "s3cret", "KEYS", "k", "k2"),
    ("MIGRATE", "127.0.0.1", "PORT", "", "0", "1000", "AUTH2", "nobody", "s3cret", "KEYS", "k", "k2"),
], ids=["noauth", "wrongpass", "auth", "auth2", "auth2-wrong"])
def test_auth_replies_byte_identical_to_redis(nodes, args):
    target = redis.Redis(port=nodes[4].port, password="s3cret")
    outs = []
    for src in (nodes[0], nodes[1]):
        target.flushall()
        r = redis.Redis(port=src.port)
        r.flushall()
        r.set("k", "v")
        r.set("k2", "v2")
        conn = RawConnection(src.port)
        try:
            outs.append(conn.command(*[a if a != "PORT" else nodes[4].port for a in args]))
        finally:
            conn.close()
        outs.append((r.dbsize(), target.dbsize()))
    assert outs[0] == outs[2] and outs[1] == outs[3]


def test_timeout_reading(nodes):
    """A target that accepts the connection and never answers: IOERR after the timeout, key kept."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    try:
        replies = []
        for src in (nodes[0], nodes[1]):
            r = redis.Redis(port=src.port)
            r.flushall()
            r.set("k", "v")
            conn = RawConnection(src.port)
            t0 = time.monotonic()
            replies.append(conn.command("MIGRATE", "127.0.0.1", port, "k", 0, 200))
            took = time.monotonic() - t0
            conn.close()
            assert 0.15 < took < 3.0
            assert r.get("k") == b"v"
        assert replies[0] == replies[1] == b"-IOERR error or timeout reading to target instance\r\n"
    finally:
        lsock.close()


def test_cached_connection_reused_and_reconnected(fresh_cachemere):
    src_srv, dst_srv = fresh_cachemere(), fresh_cachemere()
    src = redis.Redis(port=src_srv.port)
    dst = redis.Redis(port=dst_srv.port)
    assert src.info("stats")["migrate_cached_sockets"] == 0
    for i in range(5):
        src.set("c%d" % i, i)
        assert src.execute_command("MIGRATE", "127.0.0.1", dst_srv.port, "c%d" % i, i % 2, 1000) == b"OK"
    assert src.info("stats")["migrate_cached_sockets"] == 1
    names = [c for c in dst.client_list() if c["cmd"] in ("restore", "select")]
    assert len(names) == 1                          # one cached connection served all five
    # the target drops the cached connection: the next MIGRATE reconnects and succeeds (redis's one retry)
    dst.client_kill_filter(_id=names[0]["id"])
    src.set("after", "1")
    assert src.execute_command("MIGRATE", "127.0.0.1", dst_srv.port, "after", 0, 1000) == b"OK"
    assert dst.get("after") == b"1"


def test_migrate_propagates_del_to_replica(fresh_cachemere, nodes):
    src_srv = fresh_cachemere()
    replica = fresh_cachemere()
    src = redis.Redis(port=src_srv.port)
    rep = redis.Redis(port=replica.port)
    rep.replicaof("127.0.0.1", src_srv.port)
    for k in ("m1", "m2", "m3"):
        src.set(k, k)
    wait_for(lambda: rep.dbsize() == 3, timeout=10)
    dst = redis.Redis(port=nodes[3].port)
    dst.flushall()
    assert src.execute_command("MIGRATE", "127.0.0.1", nodes[3].port, "", 0, 1000, "COPY", "KEYS", "m1") == b"OK"
    assert src.execute_command("MIGRATE", "127.0.0.1", nodes[3].port, "", 0, 1000, "KEYS", "m2", "m3") == b"OK"
    wait_for(lambda: rep.dbsize() == 1, timeout=10)
    assert rep.get("m1") == b"m1"
    assert dst.mget("m1", "m2", "m3") == [b"m1", b"m2", b"m3"]


def test_restore_asking_restores(nodes):
    r = redis.Redis(port=nodes[0].port)
    r.flushall()
    r.set("x", "payload")
    dump = r.dump("x")
    assert r.execute_command("RESTORE-ASKING", "y", 0, dump) == b"OK"
    assert r.get("y") == b"payload"
    for name in ("restore-asking", "migrate"):
        for sub in ("INFO", "DOCS"):
            replies = []
            for srv in (nodes[0], nodes[1]):
                conn = RawConnection(srv.port)
                replies.append(conn.command("COMMAND", sub, name))
                conn.close()
            assert replies[0] == replies[1], (name, sub)
    conn = RawConnection(nodes[0].port)
    assert conn.command("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "AUTH2", "u", "p", "KEYS", "a", "b") \
        == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    conn.close()


def test_cluster_enabled_sends_restore_asking(fresh_cachemere):
    """With cluster-enabled the RESTOREs sent are RESTORE-ASKING (seen by the target's MONITOR)."""
    import os
    import tempfile
    workdir = tempfile.mkdtemp(prefix="redis-cluster-")
    target = start_redis("--cluster-enabled", "yes", "--cluster-port", free_port(), "--cluster-config-file", os.path.join(workdir, "n.conf"),
                         workdir=workdir)
    try:
        src_srv = fresh_cachemere("--cluster-enabled", "yes")
        src = redis.Redis(port=src_srv.port)
        src.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)   # (merge with `cluster`: keys route by slot)
        tgt = redis.Redis(port=target.port)
        tgt.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)   # a target that serves the slot: MONITOR shows it
        for r in (src, tgt):
            wait_for(lambda: b"cluster_state:ok" in r.execute_command("CLUSTER", "INFO"), timeout=10)
        src.set("k", "v")
        mon = RawConnection(target.port)
        mon.command("MONITOR")
        try:
            reply = src.execute_command("MIGRATE", "127.0.0.1", target.port, "k", 0, 1000)
        except redis.ResponseError as exc:        # the target owns no slot: CLUSTERDOWN, as from redis
            reply = exc
        seen = mon.read_until_quiet(0.3)
        mon.close()
        # the target is a cluster node owning no slot: RESTORE-ASKING reaches it (and is refused with MOVED
        # or served, depending on its slots): what matters is the command name it received
        assert b'"RESTORE-ASKING"' in seen, (reply, seen)
    finally:
        target.stop()


def test_migrate_notifies_del_like_redis(nodes):
    """The source raises a "del" event per migrated key, as redis does (COPY raises none)."""
    events = []
    for src in (nodes[0], nodes[1]):
        r = redis.Redis(port=src.port)
        r.flushall()
        r.config_set("notify-keyspace-events", "KEA")
        r.set("n1", 1)
        r.set("n2", 2)
        sub = r.pubsub()
        sub.psubscribe("__keyevent@0__:*")
        sub.get_message(timeout=1)
        r.execute_command("MIGRATE", "127.0.0.1", nodes[3].port, "", 0, 1000, "REPLACE", "COPY", "KEYS", "n1")
        r.execute_command("MIGRATE", "127.0.0.1", nodes[3].port, "", 0, 1000, "REPLACE", "KEYS", "n1", "n2")
        got = []
        while True:
            m = sub.get_message(timeout=0.3)
            if m is None:
                break
            got.append((m["channel"], m["data"]))
        sub.close()
        r.config_set("notify-keyspace-events", "")
        events.append(got)
    assert events[0] == events[1] == [(b"__keyevent@0__:del", b"n1"), (b"__keyevent@0__:del", b"n2")]


@pytest.mark.drill
def test_cached_connection_closed_after_10s_idle(fresh_cachemere):
    src_srv, dst_srv = fresh_cachemere(), fresh_cachemere()
    src = redis.Redis(port=src_srv.port)
    dst = redis.Redis(port=dst_srv.port)
    src.set("k", "v")
    assert src.execute_command("MIGRATE", "127.0.0.1", dst_srv.port, "k", 0, 1000) == b"OK"
    assert src.info("stats")["migrate_cached_sockets"] == 1
    time.sleep(8)
    assert src.info("stats")["migrate_cached_sockets"] == 1        # not yet
    wait_for(lambda: src.info("stats")["migrate_cached_sockets"] == 0, timeout=6)
    wait_for(lambda: not [c for c in dst.client_list() if c["cmd"] == "restore"], timeout=3)


def test_restore_string_payloads_from_redis(nodes):
    """RESTORE's compiled path for strings: every length class and encoding redis's DUMP makes, with and
    without TTL and REPLACE, read back equal (and broken payloads still get redis's error)."""
    import random
    rng = random.Random(7)
    theirs = redis.Redis(port=nodes[1].port)
    ours = redis.Redis(port=nodes[0].port)
    ours.flushall()
    values = [b"", b"a", b"0", b"-1", b"12345", b"-2147483649", b"9223372036854775807", b"007", b"1.5",
              b"z" * 5000, b"ab" * 40000]
    values += [rng.randbytes(n) for n in (1, 20, 21, 63, 64, 300, 16383, 16384, 100000)]
    for i, v in enumerate(values):
        theirs.set("v", v)
        dump = theirs.dump("v")
        assert ours.restore("k%d" % i, 0, dump) == b"OK"
        assert ours.get("k%d" % i) == v
        assert ours.restore("k%d" % i, 5000, dump, replace=True) == b"OK"
        assert ours.get("k%d" % i) == v and 4000 < ours.pttl("k%d" % i) <= 5000
    bad = bytearray(theirs.dump("v"))
    bad[3] ^= 0xFF
    for args in (("kx", 0, bytes(bad)), ("k0", 0, theirs.dump("v"))):
        replies = []
        for srv in (nodes[0], nodes[1]):
            conn = RawConnection(srv.port)
            if srv is nodes[1]:
                conn.command("SET", "k0", "x")
            replies.append(conn.command("RESTORE", *args))
            conn.close()
        assert replies[0] == replies[1]


def test_auth_arguments_redacted_in_slowlog(nodes):
    """AUTH's password and AUTH2's username and password show as (redacted) in SLOWLOG, as in redis."""
    logged = []
    for src in (nodes[0], nodes[1]):
        r = redis.Redis(port=src.port)
        r.flushall()
        r.set("k", "v")
        r.config_set("slowlog-log-slower-than", 0)
        r.slowlog_reset()
        for auth in (["AUTH", "pw"], ["AUTH2", "user", "pw"]):
            try:
                r.execute_command("MIGRATE", "127.0.0.1", nodes[3].port, "", 0, 1000, "COPY", *auth, "KEYS", "k")
            except redis.ResponseError:
                pass
        entries = r.slowlog_get(10)
        r.config_set("slowlog-log-slower-than", 10000)
        logged.append(sorted(tuple(e["command"].split()) for e in entries if e["command"].startswith(b"MIGRATE")))
    assert logged[0] == logged[1]
    assert len(logged[0]) == 2 and all(b"pw" not in args and b"user" not in args for args in logged[0])


def test_reshard_flow_with_the_slot_index(fresh_cachemere):
    """What redis-cli --cluster reshard does per slot, on two indexed nodes: list 10 keys of the slot, MIGRATE
    them, until the slot is empty here; the counts move across exactly."""
    from engine.slots import key_hash_slot
    a_srv = fresh_cachemere("--enable-debug-command", "yes")
    b_srv = fresh_cachemere("--enable-debug-command", "yes")
    a, b = redis.Redis(port=a_srv.port), redis.Redis(port=b_srv.port)
    for r in (a, b):
        r.execute_command("DEBUG", "SLOT-INDEX", "ENABLE")
    pipe = a.pipeline(transaction=False)
    for i in range(3000):
        pipe.set("{t%d}:%d" % (i % 7, i), i)
    pipe.execute()
    slots = sorted({key_hash_slot(b"t%d" % j) for j in range(7)})
    for slot in slots[:4]:
        want = a.execute_command("DEBUG", "SLOT-INDEX", "COUNT", slot)
        assert want > 0
        while True:
            keys = a.execute_command("DEBUG", "SLOT-INDEX", "KEYS", slot, 10)
            if not keys:
                break
            assert a.execute_command("MIGRATE", "127.0.0.1", b_srv.port, "", 0, 5000, "REPLACE", "KEYS", *keys) == b"OK"
        assert a.execute_command("DEBUG", "SLOT-INDEX", "COUNT", slot) == 0
        assert b.execute_command("DEBUG", "SLOT-INDEX", "COUNT", slot) == want
    assert a.dbsize() + b.dbsize() == 3000
    for r in (a, b):
        assert r.execute_command("DEBUG", "SLOT-INDEX", "CHECK") == []
