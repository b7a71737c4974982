"""What each benchmark suite runs. Adding a suite is adding an entry to SUITES.

A RedisCase is one redis-benchmark run per pipeline depth: either a built-in test (`test="lpush"`, passed
as `-t lpush`) or a custom command line (`command=("ZRANGEBYSCORE", "key", "0", "100")`, where
`__rand_int__` expands to a random number below the keyspace). A McCase is one bench/mc_load.py run.
A Suite may add server arguments (the same for Cachemere and redis-server) and a setup step that runs
once per RESP server before the timed rounds.
"""
import socket
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence


@dataclass(frozen=True)
class RedisCase:
    label: str
    test: Optional[str] = None                 # redis-benchmark -t name
    command: Sequence[str] = ()                 # or a custom command line
    pipelines: Sequence[int] = (1, 16)
    keyspace: int = 100_000                     # -r
    clients: int = 50                           # -c


@dataclass(frozen=True)
class McCase:
    label: str
    op: str                                     # get | mg | set | bget | bset (see mc_load.py)
    pipelines: Sequence[int] = (1, 16)
    conns: int = 50
    keyspace: int = 100_000
    value_size: int = 32


@dataclass(frozen=True)
class Suite:
    name: str
    redis: Sequence[RedisCase] = ()
    memcached: Sequence[McCase] = ()
    server_args: Sequence[str] = ()             # extra redis.conf-style args for Cachemere and redis-server
    setup: Optional[Callable[[int, bool], None]] = None   # setup(resp_port, quick)
    memory_probe: bool = False                  # run bench/memprobe.py instead of loads
    notes: str = field(default="", compare=False)


def resp_command(*args) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


BIG_ZSET = "bench:bigzset"


def load_big_zset(port: int, quick: bool, members: int = 1_000_000, batch: int = 1000):
    """A sorted set for the ZRANGE loads: `members` members (100k with --quick), pipelined ZADDs."""
    members = min(members, 100_000) if quick else members
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for start in range(0, members, batch):
            args = [b"ZADD", BIG_ZSET.encode()]
            for i in range(start, min(members, start + batch)):
                args += [b"%d" % i, b"m%d" % i]
            sock.sendall(resp_command(*args))
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(100)
                if not chunk:
                    raise ConnectionError("server closed the connection while loading the zset")
                reply += chunk
            if not reply.startswith(b":"):
                raise RuntimeError(f"ZADD failed: {reply!r}")


ZSET_POP = "bench:zpop"


def load_zset_suite(port: int, quick: bool):
    """The zset suite's keys: the 1M-member BIG_ZSET (ZRANK/ZREM) and a ZPOPMIN reserve (refilled by the
    suite's ZADD-new load, which runs before ZPOPMIN in every round)."""
    load_big_zset(port, quick)
    members = 50_000 if quick else 500_000
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for start in range(0, members, 1000):
            args = [b"ZADD", ZSET_POP.encode()]
            for i in range(start, min(members, start + 1000)):
                args += [b"%d" % i, b"p%d" % i]
            sock.sendall(resp_command(*args))
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(100)
                if not chunk:
                    raise ConnectionError("server closed the connection while loading the zset")
                reply += chunk


BENCH_LIST = "bench:list"


def load_list(port: int, quick: bool, elements: int = 1000):
    """A list for the LMOVE (rotates it: the length stays) and LINDEX loads."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(resp_command(b"DEL", BENCH_LIST.encode())
                     + resp_command(b"RPUSH", BENCH_LIST.encode(), *[b"e%d" % i for i in range(elements)]))
        reply = b""
        while reply.count(b"\r\n") < 2:
            chunk = sock.recv(100)
            if not chunk:
                raise ConnectionError("server closed the connection while loading the list")
            reply += chunk
        if not reply.split(b"\r\n")[1].startswith(b":"):
            raise RuntimeError(f"RPUSH failed: {reply!r}")
BENCH_STREAM = "bench:s"


STREAM_GROUPS = 100


def load_stream(port: int, quick: bool, entries: int = 500_000, batch: int = 1000):
    """The streams suite's setup: `entries` entries (100k with --quick) in BENCH_STREAM, pipelined XADDs, then
    STREAM_GROUPS consumer groups from 0, g:000000000000 ... (redis-benchmark's 12-digit __rand_int__), that the
    XREADGROUP loads read from, a random group per request: each request takes 10 new entries of its group, so
    the groups together hold entries * STREAM_GROUPS / 10 requests before the reads run dry (empty replies)."""
    entries = min(entries, 100_000) if quick else entries
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(resp_command(b"DEL", BENCH_STREAM.encode()))
        _read_replies(sock, 1)
        for start in range(0, entries, batch):
            n = min(entries, start + batch) - start
            sock.sendall(resp_command(b"XADD", BENCH_STREAM.encode(), b"*", b"field", b"value") * n)
            _read_replies(sock, n)
        for g in range(STREAM_GROUPS):
            sock.sendall(resp_command(b"XGROUP", b"CREATE", BENCH_STREAM.encode(), b"g:%012d" % g, b"0"))
            if _read_replies(sock, 1) != b"+OK\r\n":
                raise RuntimeError("XGROUP CREATE failed")


def _read_replies(sock, n):
    """Read n one-line replies (bulk ids of XADD, +OK, :n); returns the last one."""
    buf = b""
    while buf.count(b"\r\n") < (2 * n if buf.startswith(b"$") else n):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection while loading the stream")
        buf += chunk
    if buf.startswith(b"-"):
        raise RuntimeError(f"stream setup failed: {buf[:200]!r}")
    return buf


_CORE_REDIS = tuple(RedisCase(t.upper(), test=t) for t in ("set", "get", "incr", "mset"))
# Text `get` and meta `mg` both: memcached 1.6.18 answers pipelined text gets in many small writes
# (about 3 replies per write) but meta gets in one, so the two rows differ a lot on the reference side.
_CORE_MC = (McCase("mc set", "set"), McCase("mc get", "get"), McCase("mc mget (16 keys)", "mget"),
            McCase("mc mg (meta get)", "mg"))
# the binary protocol (memcslap --binary's GET/SET), auto-detected on the same port
_BINARY_MC = (McCase("mc binary set", "bset"), McCase("mc binary get", "bget"))

# EVALSHA of one-call scripts: both servers SCRIPT LOAD them first (a sha is the body's sha1, the same on both)
INCR_SCRIPT = b"return redis.call('incr', KEYS[1])"
SET_SCRIPT = b"return redis.call('set', KEYS[1], ARGV[1])"
INCR_SHA = "2bab3b661081db58bd2341920e0ba7cf5dc77b25"
SET_SHA = "55b22c0d0cedf3866879ce7c854970626dcef0c3"


def load_scripts(port: int, quick: bool):
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for body, sha in ((INCR_SCRIPT, INCR_SHA), (SET_SCRIPT, SET_SHA)):
            sock.sendall(resp_command(b"SCRIPT", b"LOAD", body))
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(100)
                if not chunk:
                    raise ConnectionError("server closed the connection during SCRIPT LOAD")
                reply += chunk
            if sha.encode() not in reply:
                raise RuntimeError(f"SCRIPT LOAD failed: {reply!r}")


SUITES = {
    "core": Suite("core", redis=_CORE_REDIS, memcached=_CORE_MC),
    "memcached": Suite("memcached", memcached=_CORE_MC + _BINARY_MC,
                       notes="the memcached rows of core, and the binary protocol's GET/SET"),
    "types": Suite(
        "types",
        redis=tuple(RedisCase(t.upper(), test=t, pipelines=(1,))
                    for t in ("lpush", "lpop", "rpush", "rpop", "sadd", "spop", "hset", "zadd", "zpopmin",
                              "lrange_100"))
        + (RedisCase("ZADD rand", command=("ZADD", "bench:z", "__rand_int__", "m:__rand_int__"),
                     pipelines=(1, 16)),
           RedisCase("ZRANGEBYSCORE big", command=("ZRANGEBYSCORE", BIG_ZSET, "500000", "500100"),
                     pipelines=(1,)),
           RedisCase("ZRANGE big 0 10", command=("ZRANGE", BIG_ZSET, "0", "10"), pipelines=(1,))),
        setup=load_big_zset),
    "zset": Suite(
        "zset",
        redis=(RedisCase("ZADD new", command=("ZADD", ZSET_POP, "__rand_int__", "m:__rand_int__"),
                         keyspace=10_000_000),
               RedisCase("ZADD update", command=("ZADD", "bench:zu", "__rand_int__", "m:__rand_int__"),
                         keyspace=1000),
               RedisCase("ZINCRBY", command=("ZINCRBY", "bench:zu", "1", "m:__rand_int__"), keyspace=1000),
               RedisCase("ZSCORE", command=("ZSCORE", "bench:zu", "m:__rand_int__"), keyspace=1000),
               RedisCase("ZRANK big", command=("ZRANK", BIG_ZSET, "m__rand_int__"), keyspace=1_000_000),
               RedisCase("ZREM big", command=("ZREM", BIG_ZSET, "m__rand_int__"), keyspace=1_000_000),
               RedisCase("ZPOPMIN", command=("ZPOPMIN", ZSET_POP)),
               RedisCase("ZADD small", command=("ZADD", "bench:zs:__rand_int__", "__rand_int__", "m:__rand_int__"),
                         keyspace=100)),
        setup=load_zset_suite,
        notes="ZADD new adds random members of 10M to the ZPOPMIN key (preloaded with 500k) before ZPOPMIN runs; "
              "ZADD update/ZINCRBY/ZSCORE on 1000 members; ZRANK/ZREM on a 1M-member zset; ZADD small: 100 keys of up to 100 members "
              "(listpack in redis, packed in Cachemere)"),
    "lists": Suite(
        "lists",
        redis=tuple(RedisCase(t.upper(), test=t) for t in ("lpush", "lpop", "rpush", "rpop"))
        + (RedisCase("LMOVE", command=("LMOVE", BENCH_LIST, BENCH_LIST, "RIGHT", "LEFT")),
           RedisCase("LINDEX", command=("LINDEX", BENCH_LIST, "500"))),
        setup=load_list,
        notes="-t lpush/lpop/rpush/rpop (one list, mylist), LMOVE rotating and LINDEX the middle of a 1000-element list"),
    "sets": Suite(
        "sets",
        redis=(RedisCase("SADD", test="sadd", keyspace=1_000_000),
               RedisCase("SISMEMBER", command=("SISMEMBER", "myset", "element:__rand_int__")),
               RedisCase("SCARD", command=("SCARD", "myset")),
               RedisCase("SADD rand", command=("SADD", "bench:s", "m:__rand_int__")),
               RedisCase("SREM rand", command=("SREM", "bench:s", "m:__rand_int__")),
               RedisCase("SPOP", test="spop")),
        notes="-t sadd (one set, myset, up to 1M members element:__rand_int__) and -t spop (pops myset: it "
              "may empty during SPOP -P16, on both servers); SISMEMBER/SCARD on myset; SADD then SREM of random "
              "members of bench:s (100k)"),
    "pubsub": Suite("pubsub", redis=(RedisCase("PUBLISH (no subscribers)", command=("PUBLISH", "chan", "hello")),),
                    notes="fan-out to subscribers is in bench/features.py"),
    "persistence": Suite(
        "persistence",
        redis=(RedisCase("SET", test="set"), RedisCase("INCR", test="incr")),
        server_args=("--appendonly", "yes", "--appendfsync", "everysec"),
        notes="both servers with appendonly yes, appendfsync everysec"),
    "hash": Suite(
        "hash",
        redis=(RedisCase("HSET", test="hset"),
               RedisCase("HGET", command=("HGET", "myhash", "element:__rand_int__")),
               RedisCase("HINCRBY", command=("HINCRBY", "bench:hi", "f:__rand_int__", "1"), keyspace=1000),
               RedisCase("HSET small", command=("HSET", "bench:hs:__rand_int__", "field", "value"))),
        notes="-t hset (one hash, myhash, fields of a 100k keyspace), HGET of its fields, HINCRBY on 1000 "
              "fields of one hash, HSET small: one field in each of 100k keys"),
    "memory": Suite("memory", memory_probe=True),
    "scripts": Suite(
        "scripts",
        redis=(RedisCase("EVALSHA incr", command=("EVALSHA", INCR_SHA, "1", "counter:__rand_int__")),
               RedisCase("EVALSHA set", command=("EVALSHA", SET_SHA, "1", "key:__rand_int__", "value"))),
        setup=load_scripts, notes="EVALSHA of one-call scripts (INCR, SET) after SCRIPT LOAD"),
    "streams": Suite(
        "streams",
        redis=(RedisCase("XADD", command=("XADD", BENCH_STREAM, "*", "field", "value")),
               RedisCase("XREADGROUP COUNT 10 >",
                         command=("XREADGROUP", "GROUP", "g:__rand_int__", "c", "COUNT", "10", "STREAMS",
                                  BENCH_STREAM, ">"), keyspace=STREAM_GROUPS)),
        setup=load_stream,
        notes="XADD, then XREADGROUP COUNT 10 > of one of 100 groups made by the setup (500k entries)"),
}

SUITE_ORDER = ("core", "memcached", "types", "lists", "hash", "sets", "zset", "streams", "pubsub", "persistence",
               "scripts", "memory")


# ---- small hashes (issue 20, the packed listpack form of engine/types/hashvalue.pyx) ----
SMALL_HASH_KEYS = 100_000


def load_small_hashes(port: int, quick: bool, fields: int = 10, batch: int = 1000):
    """The hashsmall suite's setup: SMALL_HASH_KEYS hashes bench:h10:000000000000 ... (redis-benchmark's
    12-digit __rand_int__) of `fields` fields field:0 .. value:0 .., pipelined HSETs."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        for start in range(0, SMALL_HASH_KEYS, batch):
            n = min(SMALL_HASH_KEYS, start + batch) - start
            args = [x for f in range(fields) for x in (b"field:%d" % f, b"value:%d" % f)]
            sock.sendall(b"".join(resp_command(b"HSET", b"bench:h10:%012d" % i, *args) for i in range(start, start + n)))
            _read_replies(sock, n)


SUITES["hashsmall"] = Suite(
    "hashsmall",
    redis=(RedisCase("HGET small", command=("HGET", "bench:h10:__rand_int__", "field:7")),
           RedisCase("HSET small", command=("HSET", "bench:h10:__rand_int__", "field:3", "value:x")),
           RedisCase("HINCRBY small", command=("HINCRBY", "bench:h10:__rand_int__", "n", "1")),
           RedisCase("HGETALL small", command=("HGETALL", "bench:h10:__rand_int__"), pipelines=(1,))),
    setup=load_small_hashes,
    notes="100k hashes of 10 fields (listpack in both servers): HGET/HSET/HINCRBY of one field, HGETALL")
SUITE_ORDER = SUITE_ORDER + ("hashsmall",)
