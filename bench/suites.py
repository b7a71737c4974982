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
_CORE_MC = (McCase("mc set", "set"), McCase("mc get", "get"), McCase("mc mg (meta get)", "mg"))
# the binary protocol (memcslap --binary's GET/SET), auto-detected on the same port
_BINARY_MC = (McCase("mc binary set", "bset"), McCase("mc binary get", "bget"))

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
    "pubsub": Suite("pubsub", redis=(RedisCase("PUBLISH (no subscribers)", command=("PUBLISH", "chan", "hello")),),
                    notes="fan-out to subscribers is in bench/features.py"),
    "persistence": Suite(
        "persistence",
        redis=(RedisCase("SET", test="set"), RedisCase("INCR", test="incr")),
        server_args=("--appendonly", "yes", "--appendfsync", "everysec"),
        notes="both servers with appendonly yes, appendfsync everysec"),
    "memory": Suite("memory", memory_probe=True),
    "streams": Suite(
        "streams",
        redis=(RedisCase("XADD", command=("XADD", BENCH_STREAM, "*", "field", "value")),
               RedisCase("XREADGROUP COUNT 10 >",
                         command=("XREADGROUP", "GROUP", "g:__rand_int__", "c", "COUNT", "10", "STREAMS",
                                  BENCH_STREAM, ">"), keyspace=STREAM_GROUPS)),
        setup=load_stream,
        notes="XADD, then XREADGROUP COUNT 10 > of one of 100 groups made by the setup (500k entries)"),
}

SUITE_ORDER = ("core", "memcached", "types", "pubsub", "persistence", "memory", "streams")
