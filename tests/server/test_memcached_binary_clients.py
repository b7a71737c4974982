"""Real binary-protocol clients against Cachemere's memcached port: memccapable -b (libmemcached's conformance
run), python-binary-memcached (bmemcached) and libmemcached's command-line tools with --binary."""
import re
import shutil
import subprocess

import pytest


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (libmemcached-tools) not installed")
    return path


def test_memccapable_binary_all_pass(cachemere):
    out = subprocess.run([_tool("memccapable"), "-b", "-h", "127.0.0.1", "-p", str(cachemere.mc_port)],
                         capture_output=True, timeout=60, text=True).stdout
    assert len(re.findall(r"\[pass\]", out)) == 27, out
    assert "All tests passed" in out


def _bm_session(port):
    """A fixed bmemcached workload; every call's result, to compare Cachemere's with memcached's."""
    bmemcached = pytest.importorskip("bmemcached")
    bm = bmemcached.Client([f"127.0.0.1:{port}"], compression=None)
    bm.flush_all()
    r = []
    r.append(bm.set("bk:a", "hello", time=100))
    r.append(bm.get("bk:a"))
    r.append((bm.set("bk:int", 42), bm.get("bk:int")))                  # flags carry the type
    r.append((bm.set("bk:obj", {"x": [1, 2]}), bm.get("bk:obj")))
    r.append((bm.add("bk:a", "x"), bm.add("bk:new", "x")))
    r.append((bm.replace("bk:none", "x"), bm.replace("bk:new", "y")))
    value, cas = bm.gets("bk:a")
    r.append((value, bool(cas)))
    r.append((bm.cas("bk:a", "world", cas), bm.cas("bk:a", "again", cas), bm.get("bk:a")))
    r.append(bm.incr("bk:n", 1))
    bm.set("bk:n", 10)
    r.append((bm.incr("bk:n", 5), bm.decr("bk:n", 100)))
    r.append((bm.delete("bk:a"), bm.get("bk:a"), bm.delete("bk:a")))
    data = {f"bk:m{i}": f"v{i}" for i in range(200)}
    r.append(bm.set_multi(data))                                  # SETQ ... NOOP
    r.append(bm.get_multi(list(data) + ["bk:missing"]) == data)   # GETKQ ... NOOP
    r.append(bm.delete_multi(list(data)[:100]))
    r.append(len(bm.get_multi(list(data))))
    big = "x" * (1024 * 1024 - 200)
    r.append((bm.set("bk:big", big), bm.get("bk:big") == big))
    r.append(bm.set("bk:toobig", "x" * (2 * 1024 * 1024)))        # "Too large."
    r.append(bm.get("bk:toobig"))
    stats = list(bm.stats().values())[0]
    r.append(sorted(k for k in stats if k in ("cmd_get", "get_hits", "curr_items", b"cmd_get", b"get_hits")))
    bm.disconnect_all()
    return r


def test_bmemcached_same_results_as_memcached(cachemere, memcached_ref):
    import redis
    mine = _bm_session(cachemere.mc_port)
    assert mine == _bm_session(memcached_ref.port)
    assert mine[0] is True and mine[1] == "hello" and mine[7][2] == "world" and mine[9] == (15, 0)
    r = redis.Redis(port=cachemere.port)
    assert r.get("bk:new") == b"y" and r.get("bk:n") == b"0 "         # one keyspace with RESP


def test_libmemcached_tools_binary(cachemere, tmp_path):
    server = f"--servers=127.0.0.1:{cachemere.mc_port}"
    f = tmp_path / "mc-tool-key"
    f.write_bytes(b"file body")
    run = lambda *a: subprocess.run(list(a), capture_output=True, timeout=20)   # noqa: E731
    assert run(_tool("memccp"), "--binary", server, str(f)).returncode == 0
    p = run(_tool("memccat"), "--binary", server, "mc-tool-key")
    assert p.returncode == 0 and p.stdout == b"file body\n"
    assert run(_tool("memcexist"), "--binary", server, "mc-tool-key").returncode == 0
    assert run(_tool("memctouch"), "--binary", server, "--expire=100", "mc-tool-key").returncode == 0
    p = run(_tool("memcstat"), "--binary", server)
    assert p.returncode == 0 and b"curr_items" in p.stdout and b"cmd_get" in p.stdout
    assert run(_tool("memcrm"), "--binary", server, "mc-tool-key").returncode == 0
    assert run(_tool("memcexist"), "--binary", server, "mc-tool-key").returncode != 0
    assert run(_tool("memcflush"), "--binary", server).returncode == 0


def test_binary_writes_survive_an_aof_restart(tmp_path):
    """Binary stores go through the same effects as text ones: SET (+flags, TTL), INCR, APPEND, DELETE are
    in the AOF and come back after a restart."""
    import struct
    from tests.support.mcbin import BinClient, req, store, arith
    from tests.support.servers import start_cachemere
    workdir = str(tmp_path)
    srv = start_cachemere("--appendonly", "yes", "--appendfsync", "always", memcached=True, workdir=workdir)
    try:
        c = BinClient(srv.mc_port)
        c.call(store("SET", b"p:a", b"hello", flags=77, exptime=1000))
        c.call(arith("INCR", b"p:n", 5, 10))
        c.call(arith("INCR", b"p:n", 5, 10))
        c.call(req("APPEND", b"p:a", b"!"))
        c.call(store("SET", b"p:gone", b"x"))
        c.call(req("DELETE", b"p:gone"))
        c.close()
    finally:
        srv.stop()
    srv = start_cachemere("--appendonly", "yes", memcached=True, workdir=workdir)
    try:
        c = BinClient(srv.mc_port)
        p, _, _ = c.call(req("GET", b"p:a") + req("GET", b"p:n") + req("GET", b"p:gone"))
        assert [(x[2], x[5], x[7]) for x in p] == [(0, struct.pack(">I", 77), b"hello!"),
                                                  (0, b"\0\0\0\0", b"15"), (1, b"", b"Not found")]
        import redis
        assert 0 < redis.Redis(port=srv.port).ttl("p:a") <= 1000
        c.close()
    finally:
        srv.stop()
