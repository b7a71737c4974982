"""memcached replies compared byte for byte with a real memcached 1.6.18 (-t 1), for valid and malformed
sequences.  CAS ids are server-local counters, so they are normalised before comparing; everything else
(error lines, noreply suppression, meta flags, padding of incr/decr, closes) must be identical."""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.servers import RawConnection

CAS_PATTERNS = [
    (re.compile(rb"^(VALUE \S+ \d+ \d+) \d+\r$", re.M), rb"\1 <cas>\r"),   # gets/gats
    (re.compile(rb" c\d+(?=[ \r])"), rb" c<cas>"),                        # meta c flag
    (re.compile(rb" cas=\d+ "), rb" cas=<cas> "),                          # me
]

SEQUENCES = [
    # storage and retrieval
    b"set k1 0 0 5\r\nhello\r\nget k1\r\n",
    b"set k2 5 0 3\r\nabc\r\nget k2 nokey\r\ngets k2\r\n",
    b"set k3 4294967295 0 1\r\nx\r\nget k3\r\n",
    b"add k1 0 0 1\r\nx\r\nreplace nokey 0 0 1\r\nx\r\nadd new 0 0 1\r\nx\r\nreplace new 3 0 1\r\ny\r\nget new\r\n",
    b"append nokey 0 0 1\r\nx\r\nprepend nokey 0 0 1\r\nx\r\n",
    b"set ap 9 0 1\r\nb\r\nappend ap 0 0 1\r\nc\r\nprepend ap 0 0 1\r\na\r\nget ap\r\n",
    b"cas nokey 0 0 1 5\r\nx\r\nset c 0 0 1\r\nx\r\ncas c 0 0 1 1\r\ny\r\n",
    b"set c 0 0 1\r\nx\r\ngets c\r\n",
    b"set e 0 -1 1\r\nx\r\nget e\r\nset e 0 0 1\r\nx\r\nset e 0 -1 1\r\ny\r\nget e\r\n",
    b"set z 0 0 0\r\n\r\nget z\r\n",
    # incr/decr: wrap, floor, in-place padding, non-numeric rules
    b"set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nget n\r\nincr k1 1\r\nincr nokey 1\r\ndecr nokey 1\r\n",
    b"set n 0 0 3\r\n100\r\ndecr n 95\r\nget n\r\nincr n 1\r\nget n\r\nincr n 1000\r\nget n\r\n",
    b"set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\nget n\r\n",
    b"set n 0 0 3\r\n 12\r\nincr n 1\r\nset n 0 0 3\r\n+12\r\nincr n 1\r\nset n 0 0 3\r\n12a\r\nincr n 1\r\n",
    b"set n 0 0 3\r\n-12\r\nincr n 1\r\nset n 0 0 0\r\n\r\nincr n 1\r\nset n 0 0 4\r\n12 a\r\nincr n 1\r\n",
    b"set n 0 0 25\r\n0000000000000000000000012\r\nincr n 1\r\nget n\r\n",
    b"incr k abc\r\nincr k -1\r\nincr\r\ndecr k 1 2 3\r\n",
    # delete, touch, gat
    b"set k1 0 0 1\r\nx\r\ndelete k1\r\ndelete k1\r\ndelete k1 0\r\ndelete k1 noreply\r\ndelete k1 5\r\n",
    b"touch nokey 10\r\nset t 0 0 1\r\nx\r\ntouch t 100\r\nmg t t\r\ntouch t abc\r\n",
    b"set g 0 0 1\r\nx\r\ngat 100 g nx\r\nmg g t\r\ngat -1 g\r\nget g\r\ngat\r\ngat 1\r\ngat x g\r\n",
    b"set g 5 0 1\r\nx\r\ngats 100 g\r\n",
    # noreply everywhere
    b"set k 0 0 1 noreply\r\nx\r\nadd k 0 0 1 noreply\r\ny\r\nincr k 1 noreply\r\ntouch k 1 noreply\r\nget k\r\n",
    b"set a 0 0 noreply\r\nflush_all noreply\r\nverbosity 1 noreply\r\nmn\r\n",
    # malformed lines
    b"set bad 0 0 2\r\nabc\r\n",
    b"set bad 0 0 -1\r\nset bad x 0 1\r\nset bad 0 x 1\r\nset\r\nset a b\r\n",
    b"get " + b"k" * 251 + b"\r\n",
    b"set " + b"k" * 251 + b" 0 0 1\r\nx\r\n",
    b"bogus command\r\nGET x\r\nge\r\n\r\n \r\n",
    b"get\ta\r\nget a\x00b\r\n",
    b"version\r\nverbosity 1\r\nverbosity\r\nverbosity x\r\nversion extra\r\n",
    b"flush_all\r\nget k\r\nflush_all x\r\nflush_all 0\r\n",
    b"shutdown\r\n",
    b"stats detail\r\nstats nothing\r\nstats sizes\r\nstats reset\r\nstats detail on\r\n",
    b"cache_memlimit 100\r\nlru_crawler x\r\nrefresh_certs\r\n",
    # meta commands
    b"mn\r\nmx\r\nmg\r\nme\r\n",
    b"set m 7 0 2\r\nhi\r\nmg m v f s k\r\nmg nokey v\r\nmg nokey v q\r\nmg m q k O123\r\nmn\r\n",
    b"set m 0 0 2\r\nhi\r\nmg m v c t\r\nmg m kk\r\nmg m Z\r\nmg m T\r\nmg m Tx N1\r\n",
    b"ms ms1 2 F3\r\nhi\r\nmg ms1 v f\r\nms ms1 2 ME\r\nzz\r\nmd ms1\r\nmd ms1\r\n",
    b"ms a 2 MA\r\nhi\r\nms a 2 MA N0\r\nhi\r\nms a 1 MP\r\nx\r\nms a 1 ME\r\ny\r\nms b 1 MR\r\ny\r\nms a 1 q\r\nz\r\nmn\r\n",
    b"ms a 2 MX\r\nhi\r\nms a x\r\nms a 2 c k O1\r\nhi\r\nms a 2 T0 I\r\nab\r\nms a 2\r\nabc\r\n",
    b"ma nokey\r\nma nokey N0 J5 v\r\nma nokey\r\nma nokey MD D3 v\r\nma nokey MX\r\nma nokey Dx\r\n",
    b"ma cnt N0 J10 v t\r\nma cnt v\r\nma cnt MD D100 v\r\nma cnt q\r\nmg cnt v\r\nma nope q\r\n",
    b"set s 0 0 1\r\nx\r\nma s\r\nma s c v\r\n",
    b"md nope q\r\nmd nope\r\nset d 0 0 1\r\nx\r\nmd d q\r\nmd d\r\nmd d C1\r\nmn\r\n",
    b"set d 0 0 1\r\nx\r\nmd d C1\r\nmd d x\r\n",
    # stale / win / recache
    b"set n 0 0 2\r\n12\r\nmg n s v\r\nmg n R30 v t\r\nmd n I T30\r\nmg n v t\r\nmg n v t\r\nmg n v h l\r\n",
    b"mg nx N30 v t s\r\nmg nx N30 v t\r\nms nx 2 T0\r\nhi\r\nmg nx v t\r\n",
    b"set q 0 100 2\r\n12\r\nmg q R200 v t\r\nmg q R200 v t\r\n",
    b"set h 3 0 2\r\nhi\r\nmg h h f\r\nmg h h\r\nmg h u h\r\nme h\r\nme nope\r\n",
    b"set s1 0 0 1\r\nx\r\nms s1 1 C1 I\r\ny\r\nmg s1 v\r\n",
    b"ms YmluYXJ5 2 b\r\nhi\r\nmg YmluYXJ5 b v k\r\nget binary\r\nmg YQ b v\r\n",
    b"get a b c d\r\ngets\r\nbget a\r\n",
]


def _normalise(data):
    for pattern, repl in CAS_PATTERNS:
        data = pattern.sub(repl, data)
    return data


def _run(port, payload, flush=True):
    conn = RawConnection(port)
    if flush:
        conn.send(b"flush_all\r\n")
        assert conn.sock.recv(4) == b"OK\r\n"
    conn.send(payload)
    out = conn.read_until_quiet(settle=0.15)
    closed = conn.is_closed(timeout=0.05)
    conn.close()
    return _normalise(out), closed


def _both(cachemere, memcached_ref, payload, flush=True):
    """(ours, memcached's) for the same payload, run side by side to keep the file fast."""
    with ThreadPoolExecutor(2) as pool:
        mine = pool.submit(_run, cachemere.mc_port, payload, flush)
        ref = pool.submit(_run, memcached_ref.port, payload, flush)
        return mine.result(), ref.result()


@pytest.mark.parametrize("payload", SEQUENCES, ids=lambda p: p[:40].decode("latin-1"))
def test_same_bytes_as_memcached(cachemere, memcached_ref, payload):
    mine, ref = _both(cachemere, memcached_ref, payload)
    assert mine == ref


CLOSING = [
    b"GET / HTTP/1.0\r\n",
    b"foo HTTP/1.1\r\n",
    b"quit\r\n",
    b"set a 0 0 1\r\nx\r\nquit\r\nget a\r\n",
    b"x" * 3000,
]


@pytest.mark.parametrize("payload", CLOSING, ids=lambda p: p[:20].decode("latin-1"))
def test_closes_like_memcached(cachemere, memcached_ref, payload):
    # (a leading 0x80 selects the binary protocol: tests/differential/test_memcached_binary_diff.py)
    mine, ref = _both(cachemere, memcached_ref, payload)
    assert mine == ref
    assert mine[1] is True
