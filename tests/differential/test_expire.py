"""The TTL family against redis-server 7.0.15 (replies byte for byte), and its effects in-process (what the
AOF and replicas would receive)."""
import time

import pytest

from tests.support.diff import assert_same, run_sequence
from tests.support.servers import RawConnection

from engine.core import Keyspace, Dispatcher, Client, encode_command
import engine.commands  # noqa: F401  (registers every family)

ARITY = [("EXPIRE", "k"), ("PEXPIRE", "k"), ("EXPIREAT", "k"), ("PEXPIREAT", "k"), ("TTL",), ("TTL", "k", "x"),
         ("PTTL",), ("EXPIRETIME",), ("PEXPIRETIME", "k", "x"), ("PERSIST",), ("PERSIST", "a", "b")]

# Every reply here is independent of the clock (TTLs far in the future, compared in whole seconds).
SEQUENCE = [
    ("SET", "k", "v"), ("TTL", "k"), ("PTTL", "k"), ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"),
    ("TTL", "nokey"), ("PTTL", "nokey"), ("EXPIRETIME", "nokey"), ("PEXPIRETIME", "nokey"),
    # option parsing and its errors, in redis's order of checks
    ("EXPIRE", "k", "10", "NX", "XX"), ("EXPIRE", "k", "10", "xx", "nx"), ("EXPIRE", "k", "10", "NX", "GT"),
    ("EXPIRE", "k", "10", "NX", "LT"), ("EXPIRE", "k", "10", "GT", "LT"), ("EXPIRE", "k", "10", "FOO"),
    ("EXPIRE", "k", "10", "NX", "FOO"), ("EXPIRE", "k", "10", "FOO", "NX", "XX"), ("EXPIRE", "k", "x", "NX", "XX"),
    ("EXPIRE", "k", "x", "FOO"), ("EXPIRE", "k", "abc"), ("EXPIRE", "k", "1.5"), ("EXPIRE", "k", ""),
    ("EXPIRE", "nokey", "x"), ("EXPIRE", "nokey", "10", "FOO"), ("EXPIRE", "nokey", "10"),
    ("PEXPIRE", "k", "10", "gt", "lt"), ("EXPIREAT", "k", "10", "nx", "gt"), ("PEXPIREAT", "k", "x"),
    # overflow limits of each form
    ("EXPIRE", "k", "9223372036854775"), ("EXPIRE", "k", "9223372036854776"), ("EXPIRE", "k", "-9223372036854775"),
    ("EXPIRE", "k", "-9223372036854776"), ("EXPIRE", "k", "9223372036854775808"),
    ("PEXPIRE", "k", "9223372036854775807"), ("EXPIREAT", "k", "9223372036854775"),
    ("EXPIREAT", "k", "9223372036854776"), ("PEXPIREAT", "k", "9223372036854775807"), ("TTL", "k"),
    ("SET", "k", "v"),
    # NX XX GT LT semantics
    ("EXPIRE", "k", "100", "XX"), ("EXPIRE", "k", "100", "GT"), ("EXPIRE", "k", "100", "LT"), ("TTL", "k"),
    ("EXPIRE", "k", "200", "NX"), ("EXPIRE", "k", "300", "NX"), ("TTL", "k"), ("EXPIRE", "k", "300", "XX"),
    ("TTL", "k"), ("EXPIRE", "k", "100", "GT"), ("EXPIRE", "k", "400", "GT"), ("TTL", "k"),
    ("EXPIRE", "k", "500", "LT"), ("EXPIRE", "k", "50", "LT"), ("TTL", "k"), ("EXPIRE", "k", "60", "XX", "GT"),
    ("EXPIRE", "k", "40", "XX", "LT"), ("EXPIRE", "k", "40", "lt", "xx"), ("TTL", "k"),
    # TTL, not PTTL: an exact millisecond count differs whenever a millisecond boundary passes between the
    # two commands on one server and not on the other (PTTL is compared with slack further down)
    ("PEXPIRE", "k", "70000", "GT"), ("TTL", "k"), ("EXPIREAT", "k", "4000000000", "GT"), ("EXPIRETIME", "k"),
    # no TTL of an absolute deadline here: the two servers run the sequence one after the other, so its
    # rounded seconds differ whenever a half-second boundary passes in between
    ("PEXPIREAT", "k", "4000000000001", "GT"), ("PEXPIRETIME", "k"), ("EXPIRETIME", "k"),
    ("PEXPIREAT", "k", "4000000000000", "LT"), ("PEXPIRETIME", "k"),
    # PERSIST
    ("PERSIST", "k"), ("PERSIST", "k"), ("PERSIST", "nokey"), ("TTL", "k"), ("EXPIRE", "k", "10", "LT"), ("TTL", "k"),
    # a deadline in the past deletes the key (even through GT/LT that pass)
    ("EXPIRE", "k", "0", "GT"), ("EXISTS", "k"), ("EXPIRE", "k", "-5", "LT"), ("EXISTS", "k"), ("TTL", "k"),
    ("SET", "k", "v"), ("EXPIRE", "k", "0", "XX"), ("EXISTS", "k"), ("EXPIRE", "k", "0", "NX"), ("EXISTS", "k"),
    ("SET", "k", "v"), ("PEXPIRE", "k", "-1"), ("EXISTS", "k"), ("SET", "k", "v"), ("EXPIREAT", "k", "1"),
    ("EXISTS", "k"), ("SET", "k", "v"), ("PEXPIREAT", "k", "0"), ("EXISTS", "k"), ("SET", "k", "v"),
    ("EXPIREAT", "k", "-9223372036854775"), ("EXISTS", "k"),
    # TTLs of other types and after overwrites
    ("HSET", "h", "f", "v"), ("EXPIRE", "h", "100"), ("TTL", "h"), ("HSET", "h", "g", "w"), ("TTL", "h"),
    ("SET", "s", "v", "EX", "100"), ("SET", "s", "w"), ("TTL", "s"), ("SET", "s", "v", "EX", "100"),
    ("SET", "s", "w", "KEEPTTL"), ("TTL", "s"), ("APPEND", "s", "x"), ("TTL", "s"), ("GETSET", "s", "y"), ("TTL", "s"),
    ("SET", "s", "v", "EXAT", "4000000000"), ("EXPIRETIME", "s"), ("SET", "s", "v", "PXAT", "4000000000123"),
    ("PEXPIRETIME", "s"), ("EXPIRETIME", "s"),
]


@pytest.fixture
def clean(cachemere, redis_ref):
    for port in (cachemere.port, redis_ref.port):
        run_sequence(port, [("FLUSHALL",)])
    yield
    for port in (cachemere.port, redis_ref.port):
        run_sequence(port, [("FLUSHALL",)])


@pytest.mark.parametrize("cmd", ARITY, ids=lambda c: " ".join(c))
def test_arity_errors(cachemere, redis_ref, cmd):
    assert RawConnection(cachemere.port).command(*cmd) == RawConnection(redis_ref.port).command(*cmd)


@pytest.mark.parametrize("resp", [2, 3])
def test_expire_sequence(cachemere, redis_ref, clean, resp):
    assert_same(cachemere.port, redis_ref.port, SEQUENCE, resp=resp)


def test_ttl_counts_down_and_rounds_like_redis(cachemere, redis_ref, clean):
    """TTL rounds the remaining milliseconds to the nearest second; PTTL is exact (compared with slack)."""
    results = []
    for port in (cachemere.port, redis_ref.port):
        conn = RawConnection(port)
        conn.command("SET", "k", "v", "PX", "10400")
        conn.command("SET", "j", "v", "PX", "10600")
        results.append((conn.command("TTL", "k"), conn.command("TTL", "j"), int(conn.command("PTTL", "k")[1:-2])))
    assert results[0][:2] == results[1][:2] == (b":10\r\n", b":11\r\n")
    assert 10300 <= results[0][2] <= 10400


def test_keys_expire_lazily_for_every_reader(cachemere, redis_ref, clean):
    setup = [("SET", f"e{i}", "v", "PX", "30") for i in range(12)] + [("SET", "stay", "v")]
    for port in (cachemere.port, redis_ref.port):
        run_sequence(port, setup)
    time.sleep(0.1)
    reads = [("GET", "e0"), ("EXISTS", "e1"), ("TYPE", "e2"), ("TTL", "e3"), ("PTTL", "e4"), ("EXPIRETIME", "e5"),
             ("OBJECT", "ENCODING", "e6"), ("RENAME", "e7", "x"), ("COPY", "e8", "x"), ("MOVE", "e9", "1"),
             ("PERSIST", "e10"), ("EXPIRE", "e11", "100"), ("KEYS", "*"), ("SCAN", "0", "COUNT", "100"), ("DBSIZE",)]
    assert_same(cachemere.port, redis_ref.port, reads, unordered={"KEYS"})


# ------------------------------------------------------------------------------------------ effects in-process
NOW = 1_700_000_000_000
SELECT0 = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"


def resp(*argv):
    return encode_command([a if isinstance(a, bytes) else str(a).encode() for a in argv])


class FakeConfig(dict):
    pass


class FakeServer:
    def __init__(self, **config):
        self.config = FakeConfig({"lazyfree-lazy-expire": False, "lazyfree-lazy-user-del": False,
                                  "proto-max-bulk-len": 512 * 1024 * 1024})
        self.config.update({k.replace("_", "-"): v for k, v in config.items()})

    def count_error(self, message):
        pass


class Engine:
    """A bare Keyspace + Dispatcher + Client with a consumer subscribed to the effect stream."""

    def __init__(self, server=None):
        self.ks = Keyspace(16)
        self.ks.now_ms = NOW
        self.dispatcher = Dispatcher(self.ks)
        self.client = Client(self.ks, server=server)
        self.effects = []
        self.ks.effects.subscribe(self.effects.append)

    def run(self, *args):
        """(reply bytes, effect bytes of this command without the stream's first SELECT 0)."""
        before = len(self.effects)
        self.dispatcher.execute(self.client, [a if isinstance(a, bytes) else str(a).encode() for a in args])
        stream = b"".join(self.effects[before:])
        if stream.startswith(SELECT0):
            stream = stream[len(SELECT0):]
        return self.client.reply.take(), stream


@pytest.fixture
def eng():
    return Engine()


def test_relative_expires_propagate_as_absolute_pexpireat(eng):
    eng.run("SET", "k", "v")
    assert eng.run("EXPIRE", "k", "100") == (b":1\r\n", resp("PEXPIREAT", "k", NOW + 100_000))
    assert eng.run("PEXPIRE", "k", "5000", "LT") == (b":1\r\n", resp("PEXPIREAT", "k", NOW + 5000, "LT"))
    assert eng.run("EXPIREAT", "k", "1800000000", "gt") == (b":1\r\n", resp("PEXPIREAT", "k", 1_800_000_000_000, "gt"))
    # PEXPIREAT keeps the client's spelling of the command, as redis does
    assert eng.run("pexpireat", "k", "1900000000000") == (b":1\r\n", resp("pexpireat", "k", "1900000000000"))
    assert eng.ks.dbs[0].find(b"k").expire_at == 1_900_000_000_000


def test_expires_that_change_nothing_propagate_nothing(eng):
    eng.run("SET", "k", "v", "EX", "100")
    for cmd in (("EXPIRE", "k", "10", "NX"), ("EXPIRE", "k", "1000", "LT"), ("EXPIRE", "k", "10", "GT"),
                ("EXPIRE", "nokey", "10"), ("EXPIRE", "k", "x"), ("EXPIRE", "k", "1", "NX", "XX"),
                ("PERSIST", "nokey"), ("TTL", "k"), ("PTTL", "k"), ("EXPIRETIME", "k")):
        assert eng.run(*cmd)[1] == b"", cmd
    eng.run("PERSIST", "k")
    assert eng.run("PERSIST", "k") == (b":0\r\n", b"")
    assert eng.run("EXPIRE", "k", "10", "XX") == (b":0\r\n", b"")


def test_set_with_relative_ttl_propagates_pxat(eng):
    assert eng.run("SET", "k", "v", "EX", "100") == (b"+OK\r\n", resp("SET", "k", "v", "PXAT", NOW + 100_000))
    assert eng.run("SET", "k", "v", "PX", "250")[1] == resp("SET", "k", "v", "PXAT", NOW + 250)


def test_deadline_in_the_past_deletes_and_propagates_del(eng):
    eng.run("SET", "k", "v")
    assert eng.run("EXPIRE", "k", "-1") == (b":1\r\n", resp("DEL", "k"))
    assert eng.ks.dbs[0].find(b"k") is None
    eng.run("SET", "k", "v")
    assert eng.run("PEXPIREAT", "k", NOW) == (b":1\r\n", resp("DEL", "k"))
    eng.run("SET", "k", "v", "EX", "100")
    assert eng.run("EXPIRE", "k", "0", "LT") == (b":1\r\n", resp("DEL", "k"))


def test_deadline_in_the_past_propagates_unlink_with_lazyfree_lazy_expire():
    eng = Engine(FakeServer(lazyfree_lazy_expire=True))
    eng.run("SET", "k", "v")
    assert eng.run("EXPIRE", "k", "0") == (b":1\r\n", resp("UNLINK", "k"))


def test_a_replica_keeps_past_deadlines_from_its_primary(eng):
    eng.client.is_master = True           # the replication link: the primary sends its own DEL later
    eng.run("SET", "k", "v")
    eng.run("EXPIRE", "k", "-1")
    assert eng.ks.dbs[0].find(b"k").expire_at == NOW - 1000


def test_lazily_expired_keys_emit_del_before_the_command(eng):
    eng.run("SET", "k", "v", "PX", "100")
    eng.run("SET", "j", "v", "PX", "100")
    eng.run("SET", "i", "v", "PX", "100")
    eng.ks.now_ms = NOW + 100
    assert eng.run("TTL", "k") == (b":-2\r\n", resp("DEL", "k"))
    assert eng.run("EXISTS", "j") == (b":0\r\n", resp("DEL", "j"))
    # a write on an expired key: DEL first, then the write itself
    assert eng.run("SET", "i", "w", "NX") == (b"+OK\r\n", resp("DEL", "i") + resp("SET", "i", "w", "NX"))
    assert eng.ks.stat_expired == 3


def test_generic_writes_propagate_as_sent(eng):
    eng.run("SET", "a", "1", "EX", "100")
    assert eng.run("RENAME", "a", "b") == (b"+OK\r\n", resp("RENAME", "a", "b"))
    assert eng.ks.dbs[0].find(b"b").expire_at == NOW + 100_000
    assert eng.run("RENAMENX", "b", "b") == (b":0\r\n", b"")
    assert eng.run("COPY", "b", "c", "DB", "2") == (b":1\r\n", resp("COPY", "b", "c", "DB", "2"))
    assert eng.ks.dbs[2].find(b"c").expire_at == NOW + 100_000
    assert eng.run("UNLINK", "b", "nokey") == (b":1\r\n", resp("UNLINK", "b", "nokey"))
    assert eng.run("DEL", "nokey") == (b":0\r\n", b"")
    assert eng.run("FLUSHDB") == (b"+OK\r\n", resp("FLUSHDB"))            # even when already empty
    assert eng.run("FLUSHALL", "ASYNC") == (b"+OK\r\n", resp("FLUSHALL", "ASYNC"))
    assert eng.run("SWAPDB", "0", "1") == (b"+OK\r\n", resp("SWAPDB", "0", "1"))
    eng.run("SET", "m", "v")
    assert eng.run("MOVE", "m", "3") == (b":1\r\n", resp("MOVE", "m", "3"))
    assert eng.run("MOVE", "m", "3") == (b":0\r\n", b"")


def test_effects_in_another_db_are_preceded_by_select(eng):
    eng.run("SET", "k", "v")
    eng.run("SELECT", "4")
    _, stream = eng.run("SET", "k", "v", "EX", "1")
    assert stream == b"*2\r\n$6\r\nSELECT\r\n$1\r\n4\r\n" + resp("SET", "k", "v", "PXAT", NOW + 1000)
