"""Shared helpers for the persistence tests: servers in a chosen directory, datasets and their comparison."""
import os
import subprocess

import redis

from tests.support.servers import CACHEMERE, ServerProcess, free_port, start_redis

FAR_FUTURE_MS = 4102444800123   # year 2100: nothing expires during a test


def start_in(workdir, *args, expect_failure=False, timeout=10.0):
    """cachemere-server persisting into `workdir` (no save rules, no AOF unless args say so).

    With expect_failure the process must exit on its own: returns (exit code, log text)."""
    port = free_port()
    argv = [CACHEMERE, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0",
            "--save", "", "--appendonly", "no", "--dir", str(workdir)] + [str(a) for a in args]
    log_path = os.path.join(str(workdir), "server.log")
    if expect_failure:
        with open(log_path, "ab") as log:
            proc = subprocess.run(argv, cwd=str(workdir), stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout)
        with open(log_path, "rb") as f:
            return proc.returncode, f.read().decode("utf-8", "replace")
    return ServerProcess(argv, port, str(workdir), log_path)


def redis_in(workdir, *args):
    return start_redis(*args, workdir=str(workdir))


def client(srv, db=0):
    return redis.Redis(host="127.0.0.1", port=srv.port, db=db, socket_timeout=10)


def populate(r, with_zset=True):
    """Strings (int/raw/big/binary), hashes, sets (intset and not), expiring keys, and db 1."""
    p = r.pipeline(transaction=False)
    p.set("s:small", "hello")
    p.set("s:int", "12345")
    p.set("s:neg", "-7")
    p.set("s:big", "abcdefgh" * 500)
    p.set("s:bin", bytes(range(256)))
    p.set("s:empty", "")
    p.set("s:ttl", "t", pxat=FAR_FUTURE_MS)
    p.hset("h:small", mapping={"f1": "v1", "f2": "2"})
    p.hset("h:big", mapping={"field:%d" % i: "value:%d" % i for i in range(300)})
    p.sadd("set:ints", *range(-20, 40))
    p.sadd("set:strs", "a", "b", "c", "x" * 100)
    p.sadd("set:many", *["m%d" % i for i in range(600)])
    if with_zset:
        p.zadd("z:small", {"a": 1, "b": 2.5, "c": -3})
        p.zadd("z:big", {"m%d" % i: i / 3 for i in range(200)})
    p.rpush("l:small", "a", "1", "-5", "b" * 70)
    p.rpush("l:big", *["item:%d" % i for i in range(1000)])
    for i in range(30):
        p.xadd("x:stream", {"n": str(i), "kind": "even" if i % 2 == 0 else "odd"}, id="1700000000000-%d" % i)
    p.execute()
    r.xgroup_create("x:stream", "g1", id="0")
    r.xreadgroup("g1", "alice", {"x:stream": ">"}, count=4)
    r.xdel("x:stream", "1700000000000-7")
    r1 = redis.Redis(host="127.0.0.1", port=r.connection_pool.connection_kwargs["port"], db=1, socket_timeout=10)
    r1.set("db1:key", "one")
    r1.hset("db1:hash", "f", "v")
    r1.close()


def contents(srv, dbs=(0, 1)):
    """{db: {key: (type, value, has_ttl)}} read through the server's commands."""
    out = {}
    for dbid in dbs:
        r = client(srv, dbid)
        data = {}
        for key in r.keys("*"):
            kind = r.type(key).decode()
            if kind == "string":
                value = r.get(key)
            elif kind == "hash":
                value = r.hgetall(key)
            elif kind == "set":
                value = frozenset(r.smembers(key))
            elif kind == "zset":
                value = tuple(r.zrange(key, 0, -1, withscores=True))
            elif kind == "list":
                value = tuple(r.lrange(key, 0, -1))
            elif kind == "stream":
                info = r.xinfo_stream(key)
                groups = [(g["name"], g["pending"], g["last-delivered-id"]) for g in r.xinfo_groups(key)]
                pending = [(p["message_id"], p["consumer"]) for p in r.xpending_range(key, "g1", "-", "+", 100)] \
                    if groups else []
                value = (tuple(r.xrange(key)), info["length"], info["last-generated-id"], tuple(groups),
                         tuple(pending))
            else:
                value = None
            data[key] = (kind, value, r.pttl(key) > 0)
        out[dbid] = data
        r.close()
    return out
