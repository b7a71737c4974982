"""memcached side of issue 17 against memcached 1.6.18: the item size limit (-I, header included, and a refused
SET removing the old item), stats cachedump, cache_memlimit, and the fields of stats settings / slabs / items."""
import re
import socket
import time

import pytest

from tests.support.servers import start_cachemere, start_memcached


def mc(port, data, settle=0.2):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    s.settimeout(settle)
    out = b""
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


def stats(port, sub=b""):
    raw = mc(port, b"stats " + sub + b"\r\n" if sub else b"stats\r\n")
    return [tuple(line.split(b" ", 2)[1:]) for line in raw.split(b"\r\n") if line.startswith(b"STAT ")]


@pytest.fixture(scope="module")
def pair():
    theirs = start_memcached()
    ours = start_cachemere(memcached=True)
    yield ours.mc_port, theirs.port
    ours.stop()
    theirs.stop()


def test_too_large_set_removes_the_old_item(pair):
    big = b"x" * 1049600
    script = (b"set k 0 0 3\r\nabc\r\nset k 0 0 %d\r\n%s\r\nget k\r\n" % (len(big), big) +
              b"add k 0 0 3\r\nabc\r\nadd k 0 0 %d\r\n%s\r\nget k\r\ndelete k\r\n" % (len(big), big))
    ours, theirs = (mc(p, script) for p in pair)
    assert ours == theirs
    assert ours.startswith(b"STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n")


@pytest.mark.parametrize("opts", [((), ()), (("-I", "2m"), ("--memcached-max-item-size", "2m"))], ids=["1m", "2m"])
def test_item_size_limit_boundary(opts):
    theirs = start_memcached(*opts[0])
    ours = start_cachemere(*opts[1], memcached=True)
    try:
        limit = 2097152 if opts[0] else 1048576
        script = b""
        for key, flags in ((b"kk", 0), (b"key-77", 5)):
            for n in range(limit - 78, limit - 58, 3):
                script += b"set %s %d 0 %d\r\n%s\r\n" % (key, flags, n, b"z" * n)
        got = [mc(p, script, settle=0.5) for p in (ours.mc_port, theirs.port)]
        assert got[0] == got[1]
        assert b"STORED" in got[0] and b"SERVER_ERROR" in got[0]
        settings = [dict(stats(p, b"settings"))[b"item_size_max"] for p in (ours.mc_port, theirs.port)]
        assert settings[0] == settings[1] == str(limit).encode()
    finally:
        ours.stop()
        theirs.stop()


def test_cachedump_and_memlimit_replies(pair):
    script = (b"stats cachedump 1 10\r\nstats cachedump 0 0\r\nstats cachedump 64 1\r\nstats cachedump 63 1\r\n"
              b"stats cachedump\r\nstats cachedump 1\r\nstats cachedump x y\r\nstats cachedump -1 1\r\n"
              b"cache_memlimit 100\r\ncache_memlimit\r\ncache_memlimit x\r\ncache_memlimit 0\r\ncache_memlimit 7\r\n"
              b"cache_memlimit 2000000000\r\ncache_memlimit 64\r\ncache_memlimit 64 noreply\r\n")
    ours, theirs = (mc(p, b"flush_all\r\n" + script) for p in pair)
    assert ours == theirs


def test_cachedump_lists_items_of_a_class(pair):
    # cachedump walks memcached's COLD LRU; without LRU segmentation new items are linked there at once
    flat = start_memcached("-o", "no_lru_maintainer")
    results = []
    for port in (pair[0], flat.port):
        mc(port, b"flush_all\r\n")
        now = int(time.time())
        mc(port, b"set a 0 0 1\r\n1\r\nset bb 0 100 2\r\n22\r\nset c 7 0 3\r\n333\r\nset %s 0 0 200\r\n%s\r\n"
           % (b"big", b"v" * 200))
        dump1 = mc(port, b"stats cachedump 1 0\r\n")
        dump3 = mc(port, b"stats cachedump 6 0\r\nstats cachedump 1 1\r\n")
        results.append((lines(dump1, now), dump3))
    flat.stop()
    ours, theirs = results
    assert ours[0] == theirs[0]
    assert ours[0] == [b"END", b"ITEM a [1 b; 0 s]", b"ITEM bb [2 b; T s]", b"ITEM c [3 b; 0 s]"]
    assert ours[1].split(b"\r\n")[:2] == theirs[1].split(b"\r\n")[:2]
    assert ours[1].count(b"ITEM") == theirs[1].count(b"ITEM") == 2


def lines(raw, now):     # the absolute expiry, within a second either way (memcached's clock ticks per second)
    return sorted(re.sub(rb"; (\d+) s]", lambda m: b"; T s]" if abs(int(m.group(1)) - now - 100) <= 2
                         else m.group(0), line) for line in raw.split(b"\r\n") if line)


def test_stats_settings_items_slabs_fields(pair):
    for port in pair:
        mc(port, b"flush_all\r\n")
        mc(port, b"set a 0 0 1\r\n1\r\nset %s 0 0 200\r\n%s\r\n" % (b"big", b"v" * 200))
    ours, theirs = ([name for name, _ in stats(p, b"settings")] for p in pair)
    assert ours == theirs
    for sub in (b"items", b"slabs"):
        o, t = (stats(p, sub) for p in pair)
        assert [n for n, _ in o] == [n for n, _ in t], sub
    stable = (b"1:chunk_size", b"1:chunks_per_page", b"1:used_chunks", b"3:chunk_size", b"3:used_chunks",
              b"active_slabs", b"items:1:number", b"items:3:number", b"items:1:mem_requested",
              b"items:3:mem_requested")
    o, t = (dict(stats(p, b"slabs") + stats(p, b"items")) for p in pair)
    assert {k: o.get(k) for k in stable} == {k: t.get(k) for k in stable}
