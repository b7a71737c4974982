"""Scripting on the running server: atomicity, effects replication, WATCH, BUSY / SCRIPT KILL, redis-py.

Busy-script behaviour is compared with a real redis-server 7.0.15 started with the same busy-reply-threshold.
"""
import hashlib
import re
import threading
import time

import pytest

pytest.importorskip("lupa")
redis = pytest.importorskip("redis")

from tests.support.servers import RawConnection, encode, wait_for  # noqa: E402

INFINITE_LOOP = "local i = 0 while true do i = i + 1 end"
LOCK_COMMANDS = ["del", "pexpire", "pttl"]
WRITE_THEN_LOOP = "redis.call('set', KEYS[1], 'w') local i = 0 while true do i = i + 1 end"


# ---------------------------------------------------------------------------------------------- in-process
@pytest.fixture
def inproc():
    """A Server object without sockets: commands go straight to the dispatcher."""
    from server.config import Config
    from server.server import Server
    server = Server(Config.from_argv(["--loglevel", "warning"]))
    client = server.new_client(None)

    def run(*argv):
        server.dispatcher.execute(client, [a if isinstance(a, bytes) else str(a).encode() for a in argv])
        return client.reply.take()
    run.server = server
    run.client = client
    return run


def test_effects_are_the_scripts_commands_wrapped_in_multi_exec(inproc):
    effects = []
    inproc.server.ks.effects.subscribe(effects.append)
    reply = inproc("EVAL", "redis.call('set', KEYS[1], 'a'); redis.call('set', KEYS[2], 'b'); return 1",
                   "2", "k1", "k2")
    assert reply == b":1\r\n"
    stream = b"".join(effects)
    assert stream == (b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$5\r\nMULTI\r\n"
                      b"*3\r\n$3\r\nset\r\n$2\r\nk1\r\n$1\r\na\r\n*3\r\n$3\r\nset\r\n$2\r\nk2\r\n$1\r\nb\r\n"
                      b"*1\r\n$4\r\nEXEC\r\n")
    assert b"EVAL" not in stream.upper()


def test_single_write_is_not_wrapped_and_read_only_script_has_no_effect(inproc):
    effects = []
    inproc.server.ks.effects.subscribe(effects.append)
    inproc("EVAL", "return redis.call('get', 'nothing')", "0")
    assert effects == []
    inproc("EVALSHA", inproc("SCRIPT", "LOAD", "return redis.call('set', 'one', '1')")[5:45], "0")
    assert b"".join(effects) == b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$3\r\none\r\n$1\r\n1\r\n"


def test_select_inside_script_moves_only_the_script(inproc):
    effects = []
    inproc.server.ks.effects.subscribe(effects.append)
    inproc("EVAL", "redis.call('select', '3'); redis.call('set', 'k', 'v'); redis.call('select', '4'); "
                   "return redis.call('set', 'k', 'w')", "0")
    assert inproc.client.db.id == 0
    assert inproc.server.ks.dbs[3].find(b"k").value == b"v"
    assert inproc.server.ks.dbs[4].find(b"k").value == b"w"
    stream = b"".join(effects)
    assert stream.index(b"$6\r\nSELECT\r\n$1\r\n3") < stream.index(b"$1\r\nv\r\n") < \
        stream.index(b"$6\r\nSELECT\r\n$1\r\n4") < stream.index(b"$1\r\nw\r\n")


def test_failed_write_in_script_still_propagates_what_ran(inproc):
    effects = []
    inproc.server.ks.effects.subscribe(effects.append)
    reply = inproc("EVAL", "redis.call('set', 'a', '1'); redis.call('hset', 'a', 'f', 'v'); return 1", "0")
    assert reply.startswith(b"-WRONGTYPE")
    assert b"".join(effects).endswith(b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n")


def test_script_writes_trigger_watch(inproc):
    from engine.scripting.runner import ScriptRunner  # noqa: F401
    server = inproc.server
    watcher = server.new_client(None)
    server.dispatcher.execute(watcher, [b"WATCH", b"watched"])
    inproc("EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "watched")
    for argv in ([b"MULTI"], [b"GET", b"watched"], [b"EXEC"]):
        server.dispatcher.execute(watcher, argv)
    assert watcher.reply.take().endswith(b"*-1\r\n")


# ---------------------------------------------------------------------------------------------- process level
def test_script_writes_appear_together(cachemere):
    """A reader polling in a tight loop never sees one of the script's writes without the other."""
    r = redis.Redis(port=cachemere.port)
    r.set("atom:a", 0)
    r.set("atom:b", 0)
    stop = threading.Event()
    torn = []

    def reader():
        rr = redis.Redis(port=cachemere.port)
        while not stop.is_set():
            a, b = rr.mget("atom:a", "atom:b")
            if a != b:
                torn.append((a, b))
    t = threading.Thread(target=reader)
    t.start()
    try:
        script = r.register_script(
            "local n = redis.call('incr', KEYS[1]); for i = 1, 20000 do end; redis.call('set', KEYS[2], n); return n")
        for i in range(1, 60):
            assert script(keys=["atom:a", "atom:b"]) == i
    finally:
        stop.set()
        t.join(5)
    assert torn == []


def test_redis_py_register_script_and_evalsha(cachemere):
    r = redis.Redis(port=cachemere.port)
    r.script_flush()
    add = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    r.set("rp:n", 10)
    assert add(keys=["rp:n"], args=[5]) == 15            # NOSCRIPT first, then redis-py loads it
    assert r.script_exists(add.sha) == [True]
    assert r.evalsha(add.sha, 1, "rp:n", 1) == 16
    assert r.eval("return {KEYS[1], ARGV[1]}", 1, "k", "a") == [b"k", b"a"]
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha("0" * 40, 0)
    with pytest.raises(redis.exceptions.ResponseError, match="Number of keys can't be negative"):
        r.eval("return 1", -1)
    pipe = r.pipeline()
    add(keys=["rp:n"], args=[4], client=pipe)
    assert pipe.execute() == [20]


def test_redis_py_lock(cachemere):
    r = redis.Redis(port=cachemere.port)
    probe = RawConnection(cachemere.port)
    missing = [name for name in LOCK_COMMANDS
               if probe.command("COMMAND", "INFO", name) in (b"*1\r\n*-1\r\n", b"*1\r\n$-1\r\n")]
    if missing:
        pytest.skip("the keyspace commands redis-py's Lock scripts use are not implemented yet: %s" % missing)
    lock = r.lock("rp:lock", timeout=5)
    assert lock.acquire(blocking=False)
    other = r.lock("rp:lock", timeout=5)
    assert not other.acquire(blocking=False)
    assert lock.owned()
    assert lock.extend(10)
    assert 5000 < r.pttl("rp:lock") <= 15000
    assert lock.reacquire()
    lock.release()
    assert r.get("rp:lock") is None
    assert lock.acquire(blocking=False)
    r.set("rp:lock", "someone-else", px=5000)         # the lock expired and another owner took it
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.release()                                 # the release script refuses: token mismatch
    assert r.get("rp:lock") == b"someone-else"
    with r.lock("rp:lock2", timeout=5, blocking_timeout=1):
        assert r.get("rp:lock2") is not None
    assert r.get("rp:lock2") is None


def test_monitor_shows_eval_before_its_commands(cachemere):
    mon = RawConnection(cachemere.port)
    assert mon.command("MONITOR") == b"+OK\r\n"
    RawConnection(cachemere.port).command("EVAL", "return redis.call('set', 'mon:k', 'v')", "0")
    lines = []
    wait_for(lambda: lines.extend(mon.read_until_quiet(0.1).splitlines()) or len(lines) >= 2, timeout=5)
    assert b'"EVAL" "return redis.call(\'set\', \'mon:k\', \'v\')" "0"' in lines[0]
    assert b' lua] "set" "mon:k" "v"' in lines[1]


# ---------------------------------------------------------------------------------------------- BUSY
def _start_busy(port, body, *keys):
    """Send a never-ending script without waiting; return the connection and when BUSY set in."""
    conn = RawConnection(port, timeout=10)
    probe = RawConnection(port, timeout=10)
    assert probe.command("PING") == b"+PONG\r\n"          # registered before the script starts
    conn.send(encode("EVAL", body, len(keys), *keys))
    wait_for(lambda: probe.command("PING").startswith(b"-BUSY"), timeout=5, interval=0.05)
    return conn, probe


@pytest.mark.parametrize("which", [0, 1], ids=["cachemere", "redis"])
def test_busy_then_script_kill(busy_pair, which):
    port = busy_pair[which].port
    runner, probe = _start_busy(port, INFINITE_LOOP)
    busy = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    assert probe.command("GET", "x") == busy
    assert probe.command("SHUTDOWN") == busy
    assert probe.command("SCRIPT", "LOAD", "return 1") == busy
    assert probe.command("NOSUCH") == b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n"
    assert probe.command("MULTI") == b"+OK\r\n"           # allow_busy
    assert probe.command("INCR", "x") == busy
    assert probe.command("DISCARD") == b"+OK\r\n"
    late = RawConnection(port, timeout=10)                 # connected while the script is busy
    assert late.command("PING") == busy
    assert late.command("SCRIPT", "KILL") == b"+OK\r\n"
    sha = hashlib.sha1(INFINITE_LOOP.encode()).hexdigest().encode()
    assert runner.read_reply() == (b"-ERR Script killed by user with SCRIPT KILL... script: %s, on @user_script:1.\r\n"
                                   % sha)
    assert probe.command("PING") == b"+PONG\r\n"
    assert late.command("SCRIPT", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
    assert runner.command("PING") == b"+PONG\r\n"


@pytest.mark.parametrize("which", [0, 1], ids=["cachemere", "redis"])
def test_unkillable_script_then_shutdown_nosave(busy_pair, which):
    srv = busy_pair[which]
    runner, probe = _start_busy(srv.port, WRITE_THEN_LOOP, "busy:k")
    assert probe.command("SCRIPT", "KILL") == (
        b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait "
        b"the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n")
    probe.send(encode("SHUTDOWN", "NOSAVE"))
    assert probe.is_closed(timeout=5)
    srv.proc.wait(10)
    assert srv.proc.returncode == 0


def test_kill_reply_matches_redis(busy_pair):
    replies = []
    for srv in busy_pair:
        runner, probe = _start_busy(srv.port, INFINITE_LOOP)
        assert probe.command("SCRIPT", "KILL") == b"+OK\r\n"
        replies.append(runner.read_reply())
    assert replies[0] == replies[1]
    assert replies[0].startswith(b"-ERR Script killed by user with SCRIPT KILL...")


def _error_counters(port):
    conn = RawConnection(port)
    stats = conn.command("INFO", "errorstats").decode() + conn.command("INFO", "commandstats").decode()
    keep = ("errorstat_", "total_error_replies", "cmdstat_eval", "cmdstat_incr", "cmdstat_set:")
    return sorted(re.sub(r"usec=\d+,usec_per_call=[\d.]+,", "", line) for line in stats.split("\r\n")
                  if line.startswith(keep))


def test_error_stats_count_script_errors_once_like_redis(busy_pair):
    """A redis.call error passed on by the script is counted once in errorstats (redis 7.0 rules)."""
    scripts = [("return redis.call('incr', 'es:s')", "0"), ("return redis.pcall('incr', 'es:s')", "0"),
               ("redis.pcall('incr', 'es:s'); return 1", "0"), ("return redis.call('nosuch')", "0"),
               ("return redis.error_reply('MINE x')", "0"), ("error('x')", "0"), ("return 1", "-1")]
    counters = []
    for srv in busy_pair:
        conn = RawConnection(srv.port)
        conn.command("SET", "es:s", "abc")
        conn.command("CONFIG", "RESETSTAT")
        for body, numkeys in scripts:
            assert conn.command("EVAL", body, numkeys).startswith((b"-", b":"))
        assert conn.command("EVAL_RO", "return redis.call('set', 'a', 'b')", "0").startswith(b"-ERR Write")
        counters.append(_error_counters(srv.port))
    assert counters[0] == counters[1]
    assert "errorstat_ERR:count=7" in counters[0]
