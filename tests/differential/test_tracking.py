"""CLIENT TRACKING (client-side caching) against redis-server 7.0.15: the same scenario on both servers,
every byte each connection receives compared (replies and invalidation pushes/messages, in order)."""
import time

import pytest

from tests.support.servers import RawConnection, encode, wait_for


def run_scenario(port, steps, settle=0.08):
    """steps: (connection name, [commands]) or ("sleep", seconds).  A command argument "{id:x}" is the
    client id of connection x.  Returns [(name, bytes received after the step)]."""
    conns, ids, out = {}, {}, []

    def conn(name):
        if name not in conns:
            conns[name] = RawConnection(port)
            ids[name] = int(conns[name].command("CLIENT", "ID")[1:-2])
        return conns[name]
    try:
        for name, cmds in steps:
            if name == "sleep":
                time.sleep(cmds)
                continue
            cn = conn(name)
            if cmds and cmds[0][0] == "HELLO":      # its reply carries the client id: not compared
                cn.command(*cmds[0])
                cmds = cmds[1:]
            cmds = [[ids[a[4:-1]] if isinstance(a, str) and a.startswith("{id:") and conn(a[4:-1]) else a
                     for a in cmd] for cmd in cmds]
            cn.send(b"".join(encode(*cmd) for cmd in cmds))
            got = cn.read_until_quiet(settle)
            for other, cid in ids.items():      # ids differ between the servers: compared by connection
                got = got.replace(b":%d\r\n" % cid, b":<id %s>\r\n" % other.encode())
            out.append((name, got))
    finally:
        for cn in conns.values():
            cn.close()
    return out


def assert_scenario(ours, theirs, steps):
    a = run_scenario(ours.port, steps)
    b = run_scenario(theirs.port, steps)
    for step, x, y in zip([s for s in steps if s[0] != "sleep"], a, b):
        assert x == y, (step, x, y)


@pytest.fixture(scope="module")
def pair(debug_pair):
    return debug_pair


def T(*cmd):
    return list(cmd)


def test_default_mode_resp3(pair):
    ours, theirs = pair
    assert_scenario(ours, theirs, [
        ("a", [T("HELLO", "3")]),
        ("a", [T("FLUSHALL"), T("CLIENT", "TRACKING", "ON"), T("GET", "k"), T("SET", "k", "1")]),
        ("a", [T("GET", "k"), T("MULTI"), T("SET", "k", "2"), T("GET", "k"), T("EXEC")]),
        ("a", [T("GET", "k"), T("EVAL", "redis.call('set','k','3') return redis.call('get','k')", "0")]),
        ("a", [T("GET", "k"), T("SET", "k", "x"), T("SET", "k", "y")]),
        ("a", [T("GET", "k"), T("GET", "k2"), T("MSET", "k", "y", "k2", "z")]),
        ("a", [T("GET", "k"), T("SELECT", "1"), T("SET", "k", "1"), T("SELECT", "0")]),
        ("a", [T("GET", "k"), T("SWAPDB", "0", "1"), T("SWAPDB", "0", "1")]),
        ("a", [T("SET", "k", "1"), T("GET", "k"), T("EXPIRE", "k", "0")]),
        ("a", [T("GET", "nokey"), T("SET", "nokey", "1", "NX"), T("SET", "nokey", "2", "NX")]),
        ("a", [T("GET", "ww"), T("SET", "ww", "1", "XX"), T("DEL", "ww")]),
        ("a", [T("SET", "str", "x"), T("HGET", "str", "f"), T("SET", "str", "y")]),
        ("a", [T("GET", "m"), T("SADD", "m", "1"), T("HGET", "h", "f"), T("HSET", "h", "f", "v")]),
        ("a", [T("GET", "r1"), T("SET", "r1", "v"), T("GET", "r1"), T("GET", "r2"), T("RENAME", "r1", "r2")]),
        ("a", [T("GET", "k"), T("FLUSHDB")]),
        ("b", [T("SET", "k", "1")]),
        ("a", [T("GET", "k"), T("CLIENT", "TRACKINGINFO"), T("CLIENT", "GETREDIR")]),
        ("b", [T("SET", "k", "2"), T("SET", "k", "3")]),
        ("a", []),
        ("a", [T("SET", "q", "1", "PX", "400"), T("GET", "q")]),
        ("sleep", 0.7),
        ("a", []),
        ("a", [T("GET", "k"), T("RESET"), T("CLIENT", "TRACKINGINFO"), T("CLIENT", "GETREDIR")]),
        ("b", [T("SET", "k", "4")]),
        ("a", []),
    ])


def test_option_errors(pair):
    ours, theirs = pair
    assert_scenario(ours, theirs, [
        ("a", [T("CLIENT", "TRACKING", "ON", "BCAST"), T("CLIENT", "TRACKING", "ON"),
               T("CLIENT", "TRACKING", "OFF"),
               T("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab"),
               T("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "b"),
               T("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "abc"),
               T("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "c"), T("CLIENT", "TRACKINGINFO"),
               T("CLIENT", "TRACKING", "OFF"),
               T("CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"), T("CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"),
               T("CLIENT", "TRACKING", "ON", "PREFIX", "x"), T("CLIENT", "TRACKING", "ON", "REDIRECT", "99999"),
               T("CLIENT", "TRACKING", "ON", "REDIRECT", "x"), T("CLIENT", "TRACKING", "ON", "REDIRECT", "01"),
               T("CLIENT", "TRACKING", "ON", "REDIRECT", "{id:a}", "REDIRECT", "{id:a}"),
               T("CLIENT", "TRACKING", "ON", "FOO"), T("CLIENT", "TRACKING", "MAYBE"),
               T("CLIENT", "TRACKING", "ON", "REDIRECT"),
               T("CLIENT", "CACHING", "YES"), T("CLIENT", "TRACKING", "ON", "OPTIN"), T("CLIENT", "CACHING", "NO"),
               T("CLIENT", "CACHING", "MAYBE"), T("CLIENT", "TRACKING", "ON", "OPTOUT"),
               T("CLIENT", "CACHING", "YES", "X"), T("CLIENT", "GETREDIR", "X"), T("CLIENT", "TRACKING"),
               T("CLIENT", "TRACKING", "OFF"), T("CLIENT", "TRACKING", "ON", "REDIRECT", "{id:a}"),
               T("CLIENT", "GETREDIR"), T("CLIENT", "TRACKINGINFO"), T("CLIENT", "TRACKING", "OFF")]),
    ])


def test_optin_optout_noloop(pair):
    ours, theirs = pair
    assert_scenario(ours, theirs, [
        ("a", [T("HELLO", "3")]),
        ("a", [T("FLUSHALL"), T("CLIENT", "TRACKING", "ON", "OPTIN"), T("GET", "x"), T("CLIENT", "CACHING", "YES"),
               T("GET", "y"), T("CLIENT", "TRACKINGINFO"), T("SET", "x", "1"), T("SET", "y", "1")]),
        ("a", [T("CLIENT", "CACHING", "YES"), T("MULTI"), T("GET", "x"), T("GET", "y"), T("EXEC"),
               T("CLIENT", "TRACKINGINFO"), T("MSET", "x", "2", "y", "2")]),
        ("a", [T("CLIENT", "CACHING", "YES"), T("PING"), T("GET", "x"), T("SET", "x", "3")]),
        ("a", [T("CLIENT", "CACHING", "YES"), T("EVAL", "return redis.call('get', KEYS[1])", "1", "x"),
               T("SET", "x", "4")]),
        ("a", [T("CLIENT", "TRACKING", "OFF"), T("CLIENT", "TRACKING", "ON", "OPTOUT", "NOLOOP"), T("GET", "x"),
               T("CLIENT", "CACHING", "NO"), T("GET", "y"), T("CLIENT", "TRACKINGINFO")]),
        ("c", [T("MSET", "x", "1", "y", "1")]),
        ("a", [T("GET", "x"), T("SET", "x", "9"), T("GET", "x"), T("EVAL", "return redis.call('set','x','1')", "0")]),
        ("c", [T("SET", "x", "2")]),
        ("a", [T("CLIENT", "TRACKING", "OFF"), T("CLIENT", "TRACKING", "ON"),
               T("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "ro")]),
        ("c", [T("SET", "ro", "1")]),
        ("a", []),
    ])


def test_bcast(pair):
    ours, theirs = pair
    assert_scenario(ours, theirs, [
        ("a", [T("HELLO", "3")]),
        ("a", [T("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "b")]),
        ("c", [T("SET", "a2", "1"), T("SET", "b1", "1"), T("SET", "c1", "1"), T("SET", "a1", "2"),
               T("SET", "a2", "x")]),
        ("a", []),
        ("a", [T("SET", "b7", "1")]),
        ("a", [T("CLIENT", "TRACKING", "OFF"), T("CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP", "PREFIX", "p"),
               T("SET", "p1", "1")]),
        ("c", [T("SET", "p2", "1"), T("SET", "p1", "2")]),
        ("a", []),
        ("a", [T("SET", "p3", "1"), T("DEL", "p3")]),
        ("b", [T("HELLO", "3"), T("CLIENT", "TRACKING", "ON", "BCAST")]),
        ("c", [T("SET", "zz", "1"), T("SET", "p4", "1")]),
        ("a", []),
        ("b", []),
        ("c", [T("FLUSHALL")]),
        ("a", []),
        ("b", []),
    ])


def test_redirect_resp2(pair):
    ours, theirs = pair
    assert_scenario(ours, theirs, [
        ("b", [T("SUBSCRIBE", "__redis__:invalidate")]),
        ("a", [T("CLIENT", "TRACKING", "ON", "REDIRECT", "{id:b}"), T("GET", "k"), T("SET", "k", "1")]),
        ("b", []),
        ("a", [T("GET", "k"), T("FLUSHDB")]),
        ("b", []),
        ("c", [T("CLIENT", "TRACKING", "ON", "REDIRECT", "{id:a}"), T("GET", "j"), T("SET", "j", "1")]),
        ("a", []),
        ("d", [T("HELLO", "3"), T("CLIENT", "TRACKING", "ON", "REDIRECT", "{id:e}"), T("GET", "j")]),
        ("e", [T("HELLO", "3")]),
        ("c", [T("SET", "j", "2")]),
        ("e", []),
        ("d", []),
    ])


@pytest.mark.parametrize("resp", ["2", "3"])
def test_broken_redirect(pair, resp):
    """The redirect target went away: flags R and broken_redirect; RESP3 gets tracking-redir-broken pushes."""
    ours, theirs = pair
    assert _broken(ours, resp) == _broken(theirs, resp)


def _broken(srv, resp):
    a, b = RawConnection(srv.port), RawConnection(srv.port)
    try:
        bid = int(b.command("CLIENT", "ID")[1:-2])
        a.command("HELLO", resp)
        a.command("CLIENT", "TRACKING", "ON", "REDIRECT", str(bid))
        a.command("GET", "k")
        b.close()
        time.sleep(0.1)
        a.send(encode("SET", "k", "1") + encode("CLIENT", "TRACKINGINFO") + encode("GET", "k") +
               encode("SET", "k", "2"))
        got = a.read_until_quiet(0.1).replace(b":%d\r\n" % bid, b":<b>\r\n")
        flags, redir = _client_flags(a)
        return got, flags, redir == b"%d" % bid
    finally:
        a.close()


def _client_flags(conn):
    raw = conn.command("CLIENT", "INFO")
    text = raw.split(b"\r\n", 1)[1]
    fields = dict(f.split(b"=", 1) for f in text.split() if b"=" in f)
    return fields[b"flags"], fields[b"redir"]


def test_client_list_flags_and_info(pair):
    ours, theirs = pair
    for srv in (ours, theirs):
        srv.result = []
        for opts in ([], ["BCAST"]):
            a = RawConnection(srv.port)
            a.command("CLIENT", "TRACKING", "ON", *opts)
            a.command("GET", "inf1")
            a.command("MGET", "inf1", "inf2")
            srv.result.append(_client_flags(a))
            info = a.command("INFO", "everything").decode()
            fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
            srv.result.append({k: fields[k] for k in ("tracking_clients", "tracking_total_keys",
                                                      "tracking_total_items", "tracking_total_prefixes")})
            a.command("CLIENT", "TRACKING", "OFF")
            srv.result.append(_client_flags(a))
            a.command("SET", "inf1", "x")
            a.command("SET", "inf2", "x")
            a.close()
    assert ours.result == theirs.result


def test_expiry_eviction_and_memcached_invalidate(fresh_cachemere):
    """Paths redis has no counterpart for in one process: memcached writes, eviction; checked directly."""
    srv = fresh_cachemere(memcached=True)
    import socket
    a = RawConnection(srv.port)
    a.command("HELLO", "3")
    a.command("CLIENT", "TRACKING", "ON")
    a.command("GET", "mk")
    mc = socket.create_connection(("127.0.0.1", srv.mc_port))
    mc.sendall(b"set mk 0 0 1\r\nx\r\n")
    assert mc.recv(100) == b"STORED\r\n"
    assert a.read_until_quiet(0.2) == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nmk\r\n"
    a.command("GET", "mk")
    mc.sendall(b"flush_all\r\n")
    assert mc.recv(100) == b"OK\r\n"
    assert a.read_until_quiet(0.2) == b">2\r\n$10\r\ninvalidate\r\n_\r\n"
    # eviction: keys read, then memory squeezed until they go
    b = RawConnection(srv.port)
    for i in range(50):
        b.command("SET", f"ev{i}", "v" * 2000)
        a.command("GET", f"ev{i}")
    b.command("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
    b.command("CONFIG", "SET", "maxmemory", "1")
    b.command("SET", "trigger", "1")
    got = a.read_until_quiet(0.3)
    assert got.count(b"invalidate") >= 10, got[:200]
    b.command("CONFIG", "SET", "maxmemory", "0")
    mc.close()
    a.close()
    b.close()


def test_redis_py_invalidation_push(pair):
    """redis-py's RESP3 connection hands the invalidation push to its invalidation handler (the hook its
    client-side cache uses; the cache itself, redis-py >= 5.1, only runs against servers reporting 7.4+)."""
    import redis
    results = []
    for srv in pair:
        got = []
        conn = redis.Connection(port=srv.port, protocol=3)
        w = redis.Redis(port=srv.port)
        try:
            conn.connect()
            conn._parser.set_invalidation_push_handler(got.append)
            w.set("csc", "one")
            conn.send_command("CLIENT", "TRACKING", "ON")
            tracking_reply = conn.read_response()
            conn.send_command("GET", "csc")
            first = conn.read_response()
            w.set("csc", "two")
            time.sleep(0.05)
            conn.send_command("PING")
            pong = conn.read_response()
            results.append((tracking_reply, first, pong, got))
        finally:
            conn.disconnect()
            w.close()
    assert results[0] == results[1]
    assert results[0][3] == [[b"invalidate", [b"csc"]]]


def test_tracking_table_max_keys(fresh_cachemere):
    """Over tracking-table-max-keys the oldest tracked keys are dropped with an invalidation, as redis's
    trackingLimitUsedSlots does (redis picks random keys, so only the counts are compared)."""
    srv = fresh_cachemere("--tracking-table-max-keys", "5")
    a = RawConnection(srv.port)
    a.command("HELLO", "3")
    a.command("CLIENT", "TRACKING", "ON")
    a.send(b"".join(encode("GET", "t%d" % i) for i in range(8)))
    got = a.read_until_quiet(0.2)
    assert got.count(b"invalidate") == 3
    info = a.command("INFO", "stats")
    assert b"tracking_total_keys:5\r\n" in info
    a.close()
