"""Loading at startup with the listeners open (issue 17), side by side with redis-server 7.0.15 loading the same
RDB: while the data loads, clients connect and get `-LOADING Redis is loading the dataset in memory` for every
command without the `loading` flag (PING, DBSIZE, GET, a MULTI body, EXEC of it), the `loading` ones answer (INFO,
CONFIG GET, SELECT, CLIENT SETNAME, COMMAND COUNT), CONFIG SET of a deny-loading directive is refused with
-LOADING; INFO persistence shows loading:1 and redis's loading_* fields in its order with plausible values;
afterwards every key is there."""
import hashlib
import os
import shutil
import signal
import socket
import time

import pytest
import redis

from tests.support.servers import CACHEMERE, ServerProcess, encode, free_port, start_cachemere

N_KEYS = 1_000_000
DURING = [("PING",), ("DBSIZE",), ("GET", "key:1"), ("SELECT", "1"), ("CONFIG", "GET", "maxmemory-samples"),
          ("CLIENT", "SETNAME", "poller"), ("COMMAND", "COUNT"), ("CONFIG", "SET", "appendonly", "yes"),
          ("CONFIG", "SET", "maxmemory-samples", "5"), ("MULTI",), ("GET", "key:2"), ("EXEC",), ("SELECT", "0")]


def _make_rdb(directory):
    os.makedirs(directory)
    srv = start_cachemere("--enable-debug-command", "yes", workdir=directory)
    try:
        r = redis.Redis(port=srv.port)
        r.execute_command("DEBUG", "POPULATE", N_KEYS)
        r.save()
    finally:
        srv.stop()
    return os.path.join(directory, "dump.rdb")


def _read_replies(sock, count, timeout=20.0):
    """Read `count` RESP replies (simple types and one level of bulk/array) from a blocking socket."""
    sock.settimeout(timeout)
    buf = b""
    replies = []

    def parse(pos):
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            return None
        kind = buf[pos:pos + 1]
        if kind in (b"+", b"-", b":"):
            return nl + 2
        n = int(buf[pos + 1:nl])
        if kind == b"$":
            end = nl + 2 + max(n, 0) + (2 if n >= 0 else 0)
            return end if len(buf) >= end else None
        p = nl + 2
        for _ in range(max(n, 0)):
            p = parse(p)
            if p is None:
                return None
        return p
    pos = 0
    while len(replies) < count:
        end = parse(pos) if pos < len(buf) else None
        if end is None:
            buf += sock.recv(1 << 20)
            continue
        replies.append(buf[pos:end])
        pos = end
    return replies


def _during_load(argv, port, workdir, log):
    """Start a server on the RDB, connect as soon as it listens, and (once PING says LOADING) send DURING and an
    INFO persistence pipelined; returns (replies, info fields, load seconds, final dbsize)."""
    t0 = time.monotonic()
    srv = ServerProcess(argv, port, workdir, log)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        while True:
            s.sendall(encode("PING"))
            first = _read_replies(s, 1)[0]
            if first.startswith(b"-LOADING") or time.monotonic() - t0 > 60:
                break
        s.sendall(b"".join(encode(*c) for c in DURING) + encode("INFO", "persistence"))
        replies = _read_replies(s, len(DURING) + 1)
        info = replies.pop()
        fields = [line.split(b":", 1) for line in info.split(b"\r\n")[1:] if b":" in line]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s.sendall(encode("DBSIZE"))
            size = _read_replies(s, 1)[0]
            if not size.startswith(b"-LOADING"):
                break
            time.sleep(0.02)
        s.close()
        return first, replies, fields, time.monotonic() - t0, size
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def big_rdb(tmp_path_factory):
    return _make_rdb(str(tmp_path_factory.mktemp("loading") / "gen"))


def test_loading_serves_loading_errors_and_progress(tmp_path, big_rdb):
    rdb = big_rdb
    results = {}
    for name in ("cachemere", "redis"):
        d = str(tmp_path / name)
        os.makedirs(d)
        shutil.copy(rdb, os.path.join(d, "dump.rdb"))
        port = free_port()
        if name == "cachemere":
            argv = [CACHEMERE, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0", "--save", "",
                    "--appendonly", "no", "--dir", d]
        else:
            argv = [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port), "--bind",
                    "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", d]
        results[name] = _during_load(argv, port, d, os.path.join(d, "server.log"))
    (o_first, o_rep, o_fields, o_secs, o_size), (r_first, r_rep, r_fields, r_secs, r_size) = \
        results["cachemere"], results["redis"]
    assert o_first == r_first == b"-LOADING Redis is loading the dataset in memory\r\n"
    assert [x for i, x in enumerate(o_rep) if i != 6] == [x for i, x in enumerate(r_rep) if i != 6], (o_rep, r_rep)
    assert o_rep[1] == b"-LOADING Redis is loading the dataset in memory\r\n"
    assert o_rep[7].startswith(b"-LOADING") and o_rep[8] == b"+OK\r\n"
    assert [k for k, _ in o_fields] == [k for k, _ in r_fields]       # loading_* included, same order
    o = dict(o_fields)
    assert o[b"loading"] == b"1" and abs(int(o[b"loading_start_time"]) - time.time()) < 120
    total = os.path.getsize(rdb)
    assert int(o[b"loading_total_bytes"]) == total
    assert 0 <= int(o[b"loading_loaded_bytes"]) <= total
    assert 0.0 <= float(o[b"loading_loaded_perc"]) <= 100.0 and int(o[b"loading_eta_seconds"]) >= 0
    assert int(o[b"loading_rdb_used_mem"]) > 0 and int(dict(r_fields)[b"loading_rdb_used_mem"]) > 0
    assert o_size == r_size == b":%d\r\n" % N_KEYS
    print("load seconds: cachemere %.2f, redis %.2f" % (o_secs, r_secs))


@pytest.mark.parametrize("how", ["SHUTDOWN", "SIGTERM"])
def test_shutdown_while_loading_exits_without_saving(tmp_path, big_rdb, how):
    """redis prepareForShutdown: a SHUTDOWN or SIGTERM during the load stops it and never saves the half-loaded
    dataset over the file (save rules are set here)."""
    d = str(tmp_path)
    path = os.path.join(d, "dump.rdb")
    shutil.copy(big_rdb, path)
    digest = hashlib.sha1(open(path, "rb").read()).hexdigest()
    port = free_port()
    argv = [CACHEMERE, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0", "--save", "3600 1",
            "--appendonly", "no", "--dir", d]
    srv = ServerProcess(argv, port, d, os.path.join(d, "server.log"))
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(encode("PING"))
        assert _read_replies(s, 1)[0].startswith(b"-LOADING")
        if how == "SHUTDOWN":
            s.sendall(encode("SHUTDOWN"))
        else:
            srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(30) == 0
        s.close()
    finally:
        srv.stop()
    assert hashlib.sha1(open(path, "rb").read()).hexdigest() == digest
    assert "DB saved on disk" not in srv.log()
