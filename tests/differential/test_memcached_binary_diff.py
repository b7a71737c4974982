"""memcached binary protocol: the same request bytes to Cachemere and to a real memcached 1.6.18 (-t 1), the
responses compared packet for packet (CAS ids only as zero / non-zero, stat values dropped), and whether the
connection was closed.  Covers every opcode 1.6.18 serves, quiet batching, CAS semantics, the error statuses
and their bodies, lying headers (memcached's close / swallow behaviour) and the -I item size limit."""
import struct
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.mcbin import BinClient, req, store, arith, touch, parse, run_pair

E = struct.pack(">II", 0, 0)
BIG_OK = 1048516          # key "k", flags 0: the largest value that fits -I 1m (56 + 1 + 1 + v + 2)

SEQUENCES = {
    "get-family": [store("SET", b"k1", b"hello", flags=5) + req("GET", b"k1") + req("GETK", b"k1")
                   + req("GET", b"nokey") + req("GETK", b"nokey", opaque=0x01020304)],
    "quiet-gets-until-noop": [store("SETQ", b"q", b"v") + req("GETQ", b"q") + req("GETQ", b"nx") + req("GETKQ", b"q")
                              + req("GETKQ", b"nx") + req("NOOP", opaque=9)],
    "quiet-errors-are-sent": [store("ADDQ", b"a", b"1") + store("ADDQ", b"a", b"2") + store("REPLACEQ", b"nx", b"3")
                              + req("DELETEQ", b"nx") + req("APPENDQ", b"nx", b"x") + req("NOOP")],
    "add-replace": [store("ADD", b"a", b"1") + store("ADD", b"a", b"2") + store("REPLACE", b"nx", b"x")
                    + store("REPLACE", b"a", b"3", flags=7) + req("GET", b"a")],
    "append-prepend": [store("SET", b"ap", b"b", flags=9) + req("APPEND", b"ap", b"c") + req("PREPEND", b"ap", b"a")
                       + req("GET", b"ap") + req("APPEND", b"nx", b"x") + req("PREPENDQ", b"nx", b"x")
                       + req("APPENDQ", b"ap", b"d") + req("GET", b"ap")],
    "cas-mismatch-forms": [store("SET", b"c", b"x") + store("SET", b"c", b"y", cas=987654) + store("ADD", b"c", b"y", cas=5)
                           + store("ADD", b"nx", b"y", cas=5) + store("REPLACE", b"nx", b"y", cas=5)
                           + req("APPEND", b"c", b"z", cas=99) + req("DELETE", b"c", cas=77)
                           + arith("INCR", b"c", cas=55) + req("GET", b"c")],
    "incr-decr": [arith("INCR", b"n", 5, 10) + arith("INCR", b"n", 5) + arith("DECR", b"n", 100) + req("GET", b"n")
                  + arith("INCR", b"miss", 1, 0, 0xffffffff) + arith("DECR", b"miss", 1, 0, 0xffffffff)
                  + store("SET", b"t", b"abc") + arith("INCR", b"t") + store("SET", b"w", b"18446744073709551615")
                  + arith("INCR", b"w", 2) + req("GET", b"w") + store("SET", b"p", b"100") + arith("DECR", b"p", 95)
                  + req("GET", b"p")],
    "incr-quiet": [arith("INCRQ", b"n", 1, 7) + arith("DECRQ", b"n", 2) + arith("INCRQ", b"x", 1, 0, 0xffffffff)
                   + req("GET", b"n") + req("NOOP")],
    "delete": [store("SET", b"d", b"x") + req("DELETE", b"d") + req("DELETE", b"d") + store("SET", b"d", b"y")
               + req("DELETEQ", b"d") + req("GET", b"d")],
    "touch-gat": [store("SET", b"k1", b"hello", flags=3) + touch("TOUCH", b"k1", 100) + touch("GAT", b"k1", 100)
                  + touch("GATK", b"k1", 0) + touch("TOUCH", b"nx", 1) + touch("GAT", b"nx", 1) + touch("GATK", b"nx", 1)
                  + touch("GATQ", b"nx", 1) + touch("GATKQ", b"nx", 1) + touch("GATQ", b"k1", 1)
                  + touch("GATKQ", b"k1", 1) + req("NOOP")],
    "expired-on-arrival": [store("SET", b"e", b"x", exptime=1000000000) + req("GET", b"e")],
    "flush": [store("SET", b"f", b"x") + req("FLUSH") + req("GET", b"f") + store("SET", b"f", b"y")
              + req("FLUSHQ", extras=b"\0\0\0\0") + req("GET", b"f") + req("NOOP")],
    "flush-delayed": [store("SET", b"f", b"x") + req("FLUSH", extras=struct.pack(">I", 100)) + req("GET", b"f")],
    "version-noop-opaque": [req("VERSION", opaque=0xdeadbeef) + req("NOOP", opaque=0xffffffff)],
    "quit": [store("SET", b"a", b"x") + req("QUIT", opaque=3) + req("GET", b"a")],
    "quitq": [req("QUITQ") + req("NOOP")],
    "unknown-opcode": [req(0x50, opaque=4) + req(0xff, opaque=5) + req("NOOP")],
    "verbosity-is-unknown": [req("VERBOSITY", extras=b"\0\0\0\1") + req("NOOP")],
    # unknown opcode with a key: memcached swallows bodylen *more* bytes, eating into the next header
    "unknown-opcode-swallow": [req(0x50, b"ab", b"") + req("NOOP", opaque=5) + req("NOOP", opaque=6)],
    "unknown-opcode-swallow-misframe": [req(0x50, b"ab", b"xyz") + req("NOOP", opaque=5) + req("NOOP", opaque=6)],
    "stat-groups": [req("STAT", b"nosuch") + req("STAT", b"detail") + req("STAT", b"detail on")
                    + req("STAT", b"detail dump") + req("STAT", b"sizes") + req("STAT", b"reset")
                    + req("STAT", b"resetfoo") + req("STAT", b"conns") + req("STAT", b"items")],
    "sasl-off": [req("SASL_LIST") + req("SASL_AUTH", b"PLAIN", b"\0a\0b") + req("SASL_STEP", b"PLAIN", b"x")
                 + req("NOOP")],
    # malformed: memcached answers "Invalid arguments" and closes
    "bad-version": [req("VERSION", b"x")],
    "bad-get-extras": [req("GET", b"k", extras=b"\0\0\0\0")],
    "bad-get-nokey": [req("GET")],
    "bad-set-extras": [req("SET", b"k", b"v", extras=b"\0\0\0\0")],
    "bad-incr-extras": [req("INCR", b"k", extras=b"\0" * 8)],
    "bad-delete-body": [req("DELETE", b"k", b"v")],
    "bad-touch": [req("TOUCH", b"k")],
    "bad-flush": [req("FLUSH", extras=b"\0\0")],
    "bad-noop": [req("NOOP", b"k")],
    "bad-quit": [req("QUIT", extras=b"\0\0\0\0")],
    "bad-stat-extras": [req("STAT", extras=b"\0\0\0\0")],
    "bad-append-extras": [req("APPEND", b"k", b"v", extras=b"\0\0\0\0")],
    "key-too-long": [req("GET", b"k" * 251)],
    "key-250-ok": [store("SET", b"k" * 250, b"v") + req("GET", b"k" * 250)],
    "lying-keylen": [req("GET", b"abc", bodylen=2)],
    "lying-extlen": [req("SET", b"k", b"", extras=E, bodylen=5)],
    "wrong-magic": [b"\x81" + b"\0" * 23],
    "wrong-magic-later": [req("NOOP") + b"\x00" * 24],
    # memcached flushes after the 21st, 41st... request of a read (reqs_per_event): a wrong magic then loses
    # only the replies queued since
    "wrong-magic-after-hits": [store("SET", b"a", b"0123456789", flags=3) + req("GET", b"a") + req("GETK", b"a")
                               + req("GETQ", b"a") + touch("GAT", b"a", 0) + b"\x00" * 24],
    "wrong-magic-after-many": [store("SET", b"a", b"v") + req("GETK", b"a") * 44 + b"\x00" * 24],
    "wrong-magic-after-quiet": [store("SETQ", b"a", b"v") * 3 + req("GETK", b"a") * 40 + b"\x00" * 24],
    "partial-header-waits": [b"\x80\x0a\x00"],
    "extra-body-bytes-read-as-header": [req("TOUCH", b"k", extras=b"\0\0\0\0", bodylen=5 + 24)
                                        + req("NOOP", opaque=2)],
    # values and the -I limit
    "too-large": [store("SET", b"big", b"x" * 2000000) + req("NOOP")],
    "too-large-drops-old": [store("SET", b"k", b"old") + store("SET", b"k", b"x" * (BIG_OK + 1)) + req("GET", b"k")],
    "too-large-add-keeps-old": [store("SET", b"k", b"old") + store("ADD", b"k", b"x" * (BIG_OK + 1)) + req("GET", b"k")],
    "too-large-append": [store("SET", b"k", b"old") + req("APPEND", b"k", b"x" * (BIG_OK + 1)) + req("GET", b"k")],
    "largest-fits": [store("SET", b"k", b"y" * BIG_OK) + req("GETK", b"k")],
    "value-split-across-writes": [store("SET", b"s", b"abcdef")[:27], store("SET", b"s", b"abcdef")[27:]
                                  + req("GET", b"s")],
}


def _flush(port):
    c = BinClient(port)
    c.send(req("FLUSH"))
    assert c.sock.recv(24)[:2] == b"\x81\x08"
    c.close()


def _both(ours, theirs, steps):
    return run_pair(ours.mc_port, theirs.port, steps)


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_same_packets_as_memcached(cachemere, memcached_ref, name):
    mine, ref = _both(cachemere, memcached_ref, SEQUENCES[name])
    assert mine == ref


def _cas_of(packets):
    return [p for p in packets if p[1] in (0x00, 0x01)][-1][4]


def test_cas_flow_with_each_servers_own_ids(cachemere, memcached_ref):
    """CAS ids are server-local: take each server's id from its own GET and use it."""
    def run(port):
        _flush(port)
        c = BinClient(port)
        out = []
        p, _, _ = c.call(store("SET", b"c", b"v1"))
        cas_set = p[0][4]
        p, _, _ = c.call(req("GET", b"c"))
        out.append(p[0][4] == cas_set)
        for data in (store("SET", b"c", b"v2", cas=cas_set), store("SET", b"c", b"v3", cas=cas_set),
                     req("GET", b"c")):
            got, _, _ = c.call(data)
            out.append([(g[1], g[2], g[7]) for g in got])
        p, _, _ = c.call(req("GET", b"c"))
        cas_now = p[0][4]
        for data in (req("APPEND", b"c", b"+", cas=cas_now), req("DELETE", b"c", cas=cas_now + 1000),
                     arith("INCR", b"c", cas=cas_now)):
            got, _, _ = c.call(data)
            out.append([(g[1], g[2], g[7]) for g in got])
        p, _, _ = c.call(req("GET", b"c"))
        for data in (req("DELETE", b"c", cas=p[0][4]), req("GET", b"c")):
            got, _, _ = c.call(data)
            out.append([(g[1], g[2], g[7]) for g in got])
        # incr's reply carries the new CAS, and GET agrees
        p, _, _ = c.call(arith("INCR", b"n", 1, 41))
        p2, _, _ = c.call(req("GET", b"n"))
        out.append(p[0][4] == p2[0][4] != 0)
        c.close()
        return out
    with ThreadPoolExecutor(2) as pool:
        mine, ref = pool.submit(run, cachemere.mc_port), pool.submit(run, memcached_ref.port)
        assert mine.result() == ref.result()


def test_stat_names_and_settings(cachemere, memcached_ref):
    """STAT with no group / settings: the same names in the same order as Cachemere's text `stats` (tested
    against memcached by test_memcached_stats.py); the settings that describe the binary protocol have
    memcached's values."""
    def run(port):
        c = BinClient(port)
        general, _, _ = c.call(req("STAT"))
        settings, _, _ = c.call(req("STAT", b"settings"))
        c.close()
        return [p[6] for p in general], {p[6]: p[7] for p in settings}
    (mine_g, mine_s), (ref_g, ref_s) = run(cachemere.mc_port), run(memcached_ref.port)
    assert mine_g[-1] == ref_g[-1] == b""             # the terminating empty packet
    t = BinClient(cachemere.mc_port)
    t.send(b"stats\r\n")
    text, _ = t.read_until_quiet()
    t.close()
    assert mine_g[:-1] == [line.split(b" ")[1] for line in text.split(b"\r\n") if line.startswith(b"STAT ")]
    for name in (b"binding_protocol", b"auth_enabled_sasl", b"item_size_max", b"cas_enabled"):
        assert mine_s[name] == ref_s[name], name


def test_text_and_binary_share_one_keyspace(cachemere):
    """A binary SET is seen by the text protocol and by RESP, with its flags; a text set by binary GET."""
    import redis
    c = BinClient(cachemere.mc_port)
    c.call(store("SET", b"shared", b"from-binary", flags=42))
    t = BinClient(cachemere.mc_port)
    t.send(b"get shared\r\nset txt 7 0 3\r\nabc\r\n")
    raw, _ = t.read_until_quiet()
    assert raw == b"VALUE shared 42 11\r\nfrom-binary\r\nEND\r\nSTORED\r\n"
    p, _, _ = c.call(req("GET", b"txt"))
    assert (p[0][5], p[0][7]) == (struct.pack(">I", 7), b"abc")
    assert redis.Redis(port=cachemere.port).get("shared") == b"from-binary"
    c.close()
    t.close()


def test_ascii_only_setting_reads_binary_magic_as_text():
    """memcached-protocol ascii (memcached -B ascii): a leading 0x80 is not the binary protocol but text."""
    from tests.support.servers import start_cachemere, start_memcached
    ours = start_cachemere("--memcached-protocol", "ascii", memcached=True)
    theirs = start_memcached("-B", "ascii")
    try:
        for data in (req("NOOP"), b"\x80get a\r\n", b"\x80 get a\r\nget a\r\n"):
            mine, ref = run_pair(ours.mc_port, theirs.port, [data], flush=False)
            assert mine == ref
            assert mine[1].startswith(b"ERROR\r\n")
    finally:
        ours.stop()
        theirs.stop()


def test_binary_only_closes_text_clients():
    from tests.support.servers import start_cachemere
    srv = start_cachemere("--memcached-protocol", "binary", memcached=True)
    try:
        c = BinClient(srv.mc_port)
        c.send(b"get foo\r\n")
        raw, closed = c.read_until_quiet(settle=0.3)
        assert (raw, closed) == (b"", False)          # waiting for a whole header, as memcached -B binary
        c.send(b"get bar\r\nget baz\r\n")
        raw, closed = c.read_until_quiet(settle=3.0)         # returns at the close
        assert (raw, closed) == (b"", True)
        c.close()
        c = BinClient(srv.mc_port)
        p, _, _ = c.call(req("VERSION"))
        assert p[0][7] == b"1.6.18"
        c.close()
    finally:
        srv.stop()


def test_other_clients_unaffected_by_a_closed_binary_connection(cachemere):
    bad = BinClient(cachemere.mc_port)
    _, _, closed = bad.call(req("GET", b"abc", bodylen=2))
    assert closed
    good = BinClient(cachemere.mc_port)
    p, _, closed = good.call(req("NOOP", opaque=1))
    assert p[0][1:4] == (0x0a, 0, 1) and not closed
    good.close()


def test_parse_helper_roundtrip():
    data = req("GET", b"k", opaque=7)
    assert parse(data.replace(b"\x80", b"\x81", 1))[0][0][1:4] == (0x00, 0, 7)


def test_item_size_limit_like_memcached_dash_I():
    """memcached -I 2m against memcached-max-item-size 2m: the same values fit and the same are "Too large."."""
    from tests.support.servers import start_cachemere, start_memcached
    ours = start_cachemere("--memcached-max-item-size", "2m", memcached=True)
    theirs = start_memcached("-I", "2m")
    try:
        fits = 2 * 1024 * 1024 - 56 - 2 - 2 - 4          # key "k", flags 1
        steps = [store("SET", b"k", b"a" * fits, flags=1) + req("GETK", b"k", opaque=1),
                 store("SET", b"k", b"b" * (fits + 1), flags=1) + req("GET", b"k", opaque=2),
                 store("SET", b"k", b"c" * (fits + 4), flags=0) + req("GET", b"k", opaque=3)]
        mine, ref = run_pair(ours.mc_port, theirs.port, steps)
        assert mine == ref
        assert [p[2] for p in mine[0]] == [0, 0, 3, 1, 0, 0]
    finally:
        ours.stop()
        theirs.stop()
