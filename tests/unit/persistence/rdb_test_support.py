"""Build a dataset in a real Redis and read it back into the codec's neutral form for comparison."""
import math

import redis

FAR_FUTURE_MS = 4102444800123  # 2100-01-01, so nothing expires while the test runs


def _id(text: bytes) -> tuple:
    ms, seq = text.split(b"-")
    return int(ms), int(seq)


def client_for_db(client, db: int):
    kwargs = client.connection_pool.connection_kwargs
    return redis.Redis(host=kwargs.get("host", "127.0.0.1"), port=kwargs["port"], db=db,
                       socket_timeout=10)


def populate(client) -> None:
    """Keys of every type, small (compact encodings) and large (plain encodings), in db 0 and 1."""
    pipe = client.pipeline(transaction=False)
    pipe.set("str:small", "hello")
    pipe.set("str:int8", "-7")
    pipe.set("str:int16", "1234")
    pipe.set("str:int32", "-2000000000")
    pipe.set("str:int64", "123456789012345")
    pipe.set("str:leadingzero", "007")
    pipe.set("str:empty", "")
    pipe.set("str:compressible", "abcdefgh" * 200)
    pipe.set("str:binary", bytes(range(256)) * 3)
    pipe.set("str:expiring", "soon", pxat=FAR_FUTURE_MS)
    pipe.rpush("list:small", "a", "1", "-5", "300000", "b" * 70, "c" * 5000)
    pipe.rpush("list:big", *[("item:%d" % i) if i % 3 else str(i * 7919) for i in range(10000)])
    pipe.sadd("set:ints", *range(-50, 50), 1 << 40, -(1 << 35))
    pipe.sadd("set:manyints", *range(1000))
    pipe.sadd("set:strings", "apple", "banana", "cherry", "42")
    pipe.hset("hash:small", mapping={"f1": "v1", "f2": "2", "n": "-12345", "empty": ""})
    pipe.hset("hash:big", mapping={"field:%d" % i: "value:%d" % (i * i) for i in range(600)})
    pipe.hset("hash:longvalue", mapping={"f": "x" * 100})
    pipe.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3.25, "d": float("inf"), "e": float("-inf"),
                             "f": 0.1, "g": 1e300, "h": 12345678})
    pipe.zadd("zset:big", {"member:%d" % i: i / 7 for i in range(200)})
    pipe.pexpireat("zset:big", FAR_FUTURE_MS + 1)
    for i in range(250):
        fields = {"temp": str(20 + i % 7), "hum": "%d.5" % (i % 50)}
        if i % 40 == 0:
            fields = {"other": "layout", "n": str(i)}
        pipe.xadd("stream:s", fields, id="%d-%d" % (1700000000000 + i // 3, i % 3))
    pipe.execute()
    client.xdel("stream:s", "1700000000001-1", "1700000000002-0")
    client.xgroup_create("stream:s", "g1", id="0")
    client.xgroup_create("stream:s", "g2", id="$")
    client.xreadgroup("g1", "alice", {"stream:s": ">"}, count=5)
    client.xreadgroup("g1", "bob", {"stream:s": ">"}, count=3)
    client.xack("stream:s", "g1", "1700000000000-0")
    client.xadd("stream:empty", {"x": "1"}, id="5-5")
    client.xdel("stream:empty", "5-5")
    db1 = client_for_db(client, 1)
    db1.set("db1:key", "in db one")
    db1.sadd("db1:set", "x", "y")
    db1.close()


def read_key(client, key: bytes):
    """(kind, value) of ``key`` in the neutral form, read through ordinary commands."""
    kind = client.type(key).decode()
    if kind == "string":
        return kind, client.get(key)
    if kind == "list":
        return kind, client.lrange(key, 0, -1)
    if kind == "set":
        return kind, list(client.smembers(key))
    if kind == "hash":
        return kind, list(client.hgetall(key).items())
    if kind == "zset":
        return kind, client.zrange(key, 0, -1, withscores=True)
    if kind == "stream":
        info = client.execute_command("XINFO", "STREAM", key, "FULL", "COUNT", 0)
        info = {k.decode() if isinstance(k, bytes) else k: v for k, v in info.items()}
        groups = []
        for group in info["groups"]:
            group = {k.decode() if isinstance(k, bytes) else k: v for k, v in group.items()}
            consumers = []
            for consumer in group["consumers"]:
                consumer = {k.decode() if isinstance(k, bytes) else k: v for k, v in consumer.items()}
                consumers.append({"name": consumer["name"], "seen_time": consumer["seen-time"],
                                  "pel": [_id(p[0]) for p in consumer["pending"]]})
            groups.append({"name": group["name"], "last_id": _id(group["last-delivered-id"]),
                           # XINFO shows an invalid (-1) read counter as nil
                           "entries_read": -1 if group["entries-read"] is None else group["entries-read"],
                           "pel": [(*_id(p[0]), p[2], p[3]) for p in group["pending"]],
                           "consumers": consumers})
        entries = [(*_id(eid), list(zip(flat[0::2], flat[1::2]))) for eid, flat in info["entries"]]
        return kind, {"entries": entries, "length": info["length"],
                      "last_id": _id(info["last-generated-id"]),
                      "first_id": _id(info["recorded-first-entry-id"]),
                      "max_deleted_id": _id(info["max-deleted-entry-id"]),
                      "entries_added": info["entries-added"], "groups": groups}
    raise AssertionError("unexpected type %s" % kind)


def normalize(kind: str, value):
    """A comparable form: order is irrelevant for sets, hashes and zsets."""
    if kind == "set":
        return kind, sorted(value)
    if kind == "hash":
        return kind, dict(value)
    if kind == "zset":
        return kind, {m: (s if not math.isinf(s) else str(s)) for m, s in value}
    if kind == "stream":
        value = dict(value)
        groups = []
        for group in value.get("groups", []):
            group = dict(group)
            group["consumers"] = sorted(
                ({"name": c["name"], "seen_time": c["seen_time"], "pel": sorted(c["pel"])}
                 for c in group["consumers"]), key=lambda c: c["name"])
            group["pel"] = sorted(group["pel"])
            groups.append(group)
        value["groups"] = sorted(groups, key=lambda g: g["name"])
        return kind, value
    return kind, value


def snapshot(client, dbs=(0, 1)) -> dict:
    """{(db, key): (normalized kind/value, absolute expire ms or None)} for every key."""
    out = {}
    for db in dbs:
        db_client = client_for_db(client, db)
        for key in db_client.scan_iter(count=1000):
            expire = db_client.execute_command("PEXPIRETIME", key)
            out[(db, key)] = (normalize(*read_key(db_client, key)), None if expire < 0 else expire)
        db_client.close()
    return out


def snapshot_from_rdb(entries) -> dict:
    """The same mapping built from RdbReader.entries() tuples."""
    out = {}
    for dbid, key, kind, value, expire, _idle, _freq in entries:
        out[(dbid, key)] = (normalize(kind, value), expire)
    return out
