"""String family effects, in-process: what each write propagates (the AOF/replica stream), the TTL and entry
metadata it leaves (raw encoding, memcached CAS reset), and the replies of paths a differential run cannot
reach cheaply (proto-max-bulk-len from the server config, lazyfree variants, a primary's stream)."""
import pytest

from engine.core import Keyspace, Dispatcher, Client, encode_command
import engine.commands  # noqa: F401  (registers every family)

NOW = 1_700_000_000_000
SELECT0 = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"


class FakeConfig(dict):
    pass


class FakeServer:
    """The slice of server.server.Server the string commands read: config values and error counting."""

    def __init__(self, **config):
        self.config = FakeConfig({"proto-max-bulk-len": 512 * 1024 * 1024, "lazyfree-lazy-user-del": False,
                                  "lazyfree-lazy-expire": False})
        self.config.update({name.replace("_", "-"): value for name, value in config.items()})
        self.errors = []

    def count_error(self, message):
        self.errors.append(message)


class Harness:
    def __init__(self, server=None):
        self.ks = Keyspace()
        self.ks.now_ms = NOW
        self.dispatcher = Dispatcher(self.ks)
        self.client = Client(self.ks, server=server)
        self.effects = []
        self.ks.effects.subscribe(self.effects.append)

    @property
    def db(self):
        return self.client.db

    def run(self, *args):
        """Execute one command; returns (reply bytes, effect bytes without the leading SELECT)."""
        before = len(self.effects)
        self.dispatcher.execute(self.client, [a if isinstance(a, bytes) else str(a).encode() for a in args])
        stream = b"".join(self.effects[before:])
        if stream.startswith(SELECT0):
            stream = stream[len(SELECT0):]
        return self.client.reply.take(), stream


def cmd(*args):
    return encode_command([a if isinstance(a, bytes) else str(a).encode() for a in args])


@pytest.fixture
def h():
    return Harness()


def test_setnx_propagates_itself_only_when_it_sets(h):
    assert h.run("SETNX", "k", "v") == (b":1\r\n", cmd("SETNX", "k", "v"))
    assert h.run("SETNX", "k", "w") == (b":0\r\n", b"")
    assert h.db.find(b"k").value == b"v"


def test_setex_and_psetex_propagate_as_set_pxat(h):
    assert h.run("SETEX", "k", 100, "v") == (b"+OK\r\n", cmd("SET", "k", "v", "PXAT", NOW + 100_000))
    assert h.db.find(b"k").expire_at == NOW + 100_000
    assert h.run("PSETEX", "p", 1500, "v") == (b"+OK\r\n", cmd("SET", "p", "v", "PXAT", NOW + 1500))
    assert h.db.find(b"p").expire_at == NOW + 1500
    assert sorted(h.db.volatile_keys()) == [b"k", b"p"]


def test_setex_errors_change_nothing(h):
    assert h.run("SETEX", "k", 0, "v") == (b"-ERR invalid expire time in 'setex' command\r\n", b"")
    assert h.run("PSETEX", "k", -1, "v") == (b"-ERR invalid expire time in 'psetex' command\r\n", b"")
    assert h.run("SETEX", "k", 9223372036854775, "v")[0] == b"-ERR invalid expire time in 'setex' command\r\n"
    assert h.run("PSETEX", "k", 9223372036854775807, "v")[0] == b"-ERR invalid expire time in 'psetex' command\r\n"
    assert h.run("SETEX", "k", "x", "v") == (b"-ERR value is not an integer or out of range\r\n", b"")
    assert h.db.find(b"k") is None


def test_setex_replaces_an_existing_value_and_its_metadata(h):
    e = h.db.add(b"k", {b"f": b"v"})
    e.cas, e.mc_flags = 9, 3
    h.run("SETEX", "k", 10, "v")
    e = h.db.find(b"k")
    assert (e.value, e.cas, e.mc_flags, e.expire_at) == (b"v", 0, 0, NOW + 10_000)


def test_getset_propagates_as_set_and_clears_the_ttl(h):
    h.run("SETEX", "k", 100, "old")
    assert h.run("GETSET", "k", "new") == (b"$3\r\nold\r\n", cmd("SET", "k", "new"))
    e = h.db.find(b"k")
    assert (e.value, e.expire_at, h.db.volatile_keys()) == (b"new", -1, [])
    assert h.run("GETSET", "fresh", "v") == (b"$-1\r\n", cmd("SET", "fresh", "v"))


def test_getdel_propagates_del(h):
    h.run("SET", "k", "v")
    assert h.run("GETDEL", "k") == (b"$1\r\nv\r\n", cmd("DEL", "k"))
    assert h.db.find(b"k") is None
    assert h.run("GETDEL", "k") == (b"$-1\r\n", b"")


def test_getdel_propagates_unlink_under_lazyfree_lazy_user_del():
    h = Harness(FakeServer(lazyfree_lazy_user_del=True))
    h.run("SET", "k", "v")
    assert h.run("GETDEL", "k") == (b"$1\r\nv\r\n", cmd("UNLINK", "k"))


@pytest.mark.parametrize("options, at_ms", [
    (("EX", 100), NOW + 100_000),
    (("px", 2500), NOW + 2500),
    (("EXAT", 1_800_000_000), 1_800_000_000_000),
    (("PXAT", 1_800_000_000_123), 1_800_000_000_123),
    (("EX", 10, "EX", 20), NOW + 20_000),
])
def test_getex_expiry_propagates_as_pexpireat(h, options, at_ms):
    h.run("SET", "k", "v")
    assert h.run("GETEX", "k", *options) == (b"$1\r\nv\r\n", cmd("PEXPIREAT", "k", at_ms))
    assert h.db.find(b"k").expire_at == at_ms
    assert h.db.volatile_keys() == [b"k"]


def test_getex_persist_propagates_only_when_a_ttl_was_removed(h):
    h.run("SETEX", "k", 100, "v")
    assert h.run("GETEX", "k", "PERSIST") == (b"$1\r\nv\r\n", cmd("PERSIST", "k"))
    assert (h.db.find(b"k").expire_at, h.db.volatile_keys()) == (-1, [])
    assert h.run("GETEX", "k", "PERSIST") == (b"$1\r\nv\r\n", b"")
    assert h.run("GETEX", "k") == (b"$1\r\nv\r\n", b"")


def test_getex_with_a_past_absolute_time_deletes(h):
    h.run("SET", "k", "v")
    assert h.run("GETEX", "k", "EXAT", 1) == (b"$1\r\nv\r\n", cmd("DEL", "k"))
    assert h.db.find(b"k") is None
    h.run("SET", "k", "v")
    assert h.run("GETEX", "k", "PXAT", NOW) == (b"$1\r\nv\r\n", cmd("DEL", "k"))


def test_getex_past_time_uses_unlink_under_lazyfree_lazy_expire():
    h = Harness(FakeServer(lazyfree_lazy_expire=True))
    h.run("SET", "k", "v")
    assert h.run("GETEX", "k", "EXAT", 1) == (b"$1\r\nv\r\n", cmd("UNLINK", "k"))


def test_getex_on_a_replica_sets_a_past_time_instead_of_deleting(h):
    h.run("SET", "k", "v")
    h.ks.is_replica = True
    assert h.run("GETEX", "k", "PXAT", NOW - 5) == (b"$1\r\nv\r\n", cmd("PEXPIREAT", "k", NOW - 5))


def test_getex_errors_and_missing_keys_have_no_effect(h):
    h.run("SET", "k", "v")
    assert h.run("GETEX", "k", "EX", 0) == (b"-ERR invalid expire time in 'getex' command\r\n", b"")
    assert h.run("GETEX", "k", "EX", 5, "PERSIST") == (b"-ERR syntax error\r\n", b"")
    assert h.run("GETEX", "nokey", "EX", "junk") == (b"$-1\r\n", b"")
    assert h.db.find(b"k").expire_at == -1


def test_getex_on_an_expired_key_sees_nothing_and_the_expiry_propagates_del(h):
    h.run("PSETEX", "k", 10, "v")
    h.ks.now_ms = NOW + 11
    assert h.run("GETEX", "k", "EX", 100) == (b"$-1\r\n", cmd("DEL", "k"))


def test_append_marks_raw_resets_cas_and_keeps_ttl(h):
    assert h.run("APPEND", "k", "ab") == (b":2\r\n", cmd("APPEND", "k", "ab"))
    assert h.db.find(b"k").raw == 0          # a new key keeps the argument's encoding
    e = h.db.find(b"k")
    e.cas, e.mc_flags = 42, 7
    h.db.set_expire(b"k", e, NOW + 5000)
    assert h.run("APPEND", "k", "cd") == (b":4\r\n", cmd("APPEND", "k", "cd"))
    e = h.db.find(b"k")
    assert (e.value, e.raw, e.cas, e.mc_flags, e.expire_at) == (b"abcd", 1, 0, 7, NOW + 5000)
    assert h.run("APPEND", "k", "")[1] == cmd("APPEND", "k", "")   # an empty append still counts as a write


def test_setrange_marks_raw_and_skips_empty_writes(h):
    assert h.run("SETRANGE", "k", 2, "xy") == (b":4\r\n", cmd("SETRANGE", "k", "2", "xy"))
    e = h.db.find(b"k")
    assert (e.value, e.raw) == (b"\x00\x00xy", 1)
    h.run("SET", "n", "12345")
    h.db.find(b"n").cas = 3
    assert h.run("SETRANGE", "n", 1, "ab") == (b":5\r\n", cmd("SETRANGE", "n", "1", "ab"))
    e = h.db.find(b"n")
    assert (e.value, e.raw, e.cas) == (b"1ab45", 1, 0)
    assert h.run("SETRANGE", "n", 100, "") == (b":5\r\n", b"")
    assert h.run("SETRANGE", "none", 100, "") == (b":0\r\n", b"")
    assert h.db.find(b"none") is None


def test_incrbyfloat_propagates_set_keepttl_with_the_result(h):
    assert h.run("INCRBYFLOAT", "f", "0.1") == (b"$3\r\n0.1\r\n", cmd("SET", "f", "0.1", "KEEPTTL"))
    e = h.db.find(b"f")
    h.db.set_expire(b"f", e, NOW + 9000)
    e.cas, e.raw = 5, 1
    assert h.run("INCRBYFLOAT", "f", "0.2") == (b"$3\r\n0.3\r\n", cmd("SET", "f", "0.3", "KEEPTTL"))
    e = h.db.find(b"f")
    assert (e.value, e.expire_at, e.cas, e.raw) == (b"0.3", NOW + 9000, 0, 0)
    assert h.run("INCRBYFLOAT", "f", "5.0e3")[0] == b"$22\r\n5000.29999999999999982\r\n"   # as redis 7.0.15


@pytest.mark.parametrize("stored, increment, reply", [
    (None, b"1e5000", b"-ERR value is not a valid float\r\n"),
    (None, b"1e-5000", b"-ERR value is not a valid float\r\n"),
    (None, b"1\x00", b"-ERR value is not a valid float\r\n"),
    (None, b"inf", b"-ERR increment would produce NaN or Infinity\r\n"),
    (b"1e4932", b"1e4932", b"-ERR increment would produce NaN or Infinity\r\n"),
    (b"abc", b"1", b"-ERR value is not a valid float\r\n"),
    (b"1e-5000", b"1", b"-ERR value is not a valid float\r\n"),
    (None, b"1.5e-20", b"$1\r\n0\r\n"),
    (b"10.5", b"0.1", b"$4\r\n10.6\r\n"),
    (None, b"0x10", b"$2\r\n16\r\n"),
])
def test_incrbyfloat_values_and_errors(h, stored, increment, reply):
    if stored is not None:
        h.db.add(b"f", stored)
    out, effect = h.run("INCRBYFLOAT", "f", increment)
    assert out == reply
    assert (effect == b"") == out.startswith(b"-")


def test_msetnx_sets_all_or_nothing(h):
    assert h.run("MSETNX", "a", "1", "b", "2") == (b":1\r\n", cmd("MSETNX", "a", "1", "b", "2"))
    assert h.run("MSETNX", "c", "3", "a", "x") == (b":0\r\n", b"")
    assert h.db.find(b"c") is None and h.db.find(b"a").value == b"1"
    assert h.run("MSETNX", "d", "1", "d", "2")[0] == b":1\r\n"
    assert h.db.find(b"d").value == b"2"


@pytest.mark.parametrize("args", [
    ("STRLEN", "k"), ("GETRANGE", "k", 0, -1), ("SUBSTR", "k", 0, 1), ("LCS", "k", "k"), ("LCS", "k", "k", "IDX"),
    ("GETEX", "k"),
])
def test_reads_have_no_effect(h, args):
    h.run("SET", "k", "value")
    reply, effect = h.run(*args)
    assert not reply.startswith(b"-") and effect == b""


WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"


@pytest.mark.parametrize("args, reply", [
    (("GETSET", "h", "v"), WRONGTYPE), (("GETDEL", "h"), WRONGTYPE), (("GETEX", "h", "PERSIST"), WRONGTYPE),
    (("APPEND", "h", "v"), WRONGTYPE), (("STRLEN", "h"), WRONGTYPE), (("GETRANGE", "h", 0, 1), WRONGTYPE),
    (("SUBSTR", "h", 0, 1), WRONGTYPE), (("SETRANGE", "h", 0, "v"), WRONGTYPE), (("SETRANGE", "h", 0, ""), WRONGTYPE),
    (("INCRBYFLOAT", "h", "1"), WRONGTYPE), (("SETNX", "h", "v"), b":0\r\n"), (("MSETNX", "x", "1", "h", "v"), b":0\r\n"),
    (("LCS", "h", "x"), b"-ERR The specified keys must contain string values\r\n"),
])
def test_wrongtype_on_a_hash_value(h, args, reply):
    h.db.add(b"h", {b"f": b"v"})
    assert h.run(*args) == (reply, b"")
    assert h.db.find(b"h").value == {b"f": b"v"}


def test_length_limits_follow_proto_max_bulk_len():
    srv = FakeServer(proto_max_bulk_len=10)
    h = Harness(srv)
    too_long = b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    assert h.run("APPEND", "k", "0123456789")[0] == b":10\r\n"      # a new key takes its argument as is
    assert h.run("APPEND", "k", "x") == (too_long, b"")
    assert h.run("SETRANGE", "k", 10, "x") == (too_long, b"")
    assert h.run("SETRANGE", "k", 9, "x")[0] == b":10\r\n"
    assert h.run("SETRANGE", "n", 9, "xy") == (too_long, b"")
    assert h.run("LCS", "k", "k")[0] == \
        b"-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
    assert srv.errors[0] == too_long[1:-2]
    h.client.is_master = True          # our primary's stream is applied whatever our own limit
    h.run("APPEND", "k", "more")
    assert h.db.find(b"k").value == b"012345678xmore"


def test_lcs_replies(h):
    h.run("MSET", "a", "ohmytext", "b", "mynewtext")
    assert h.run("LCS", "a", "b")[0] == b"$6\r\nmytext\r\n"
    assert h.run("LCS", "a", "b", "LEN")[0] == b":6\r\n"
    assert h.run("LCS", "a", "b", "IDX", "MINMATCHLEN", 4, "WITHMATCHLEN")[0] == (
        b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n")
    h.client.reply.resp = 3
    assert h.run("LCS", "a", "b", "IDX")[0] == (
        b"%2\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n"
        b":0\r\n:1\r\n$3\r\nlen\r\n:6\r\n")


def test_lcs_table_matches_the_textbook_dynamic_programme():
    import random
    from engine.commands.t_string import LcsTable
    rng = random.Random(3)
    for _ in range(150):
        a = bytes(rng.choice(b"abc") for _ in range(rng.randint(0, 12)))
        b = bytes(rng.choice(b"abcd") for _ in range(rng.randint(0, 12)))
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                table[i][j] = (table[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1]
                               else max(table[i - 1][j], table[i][j - 1]))
        lcs = LcsTable(a, b)
        assert [[lcs.cell(i, j) for j in range(len(b) + 1)] for i in range(len(a) + 1)] == table
