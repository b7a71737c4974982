"""Functions on the running server: persistence (RDB, AOF, rewrite, DEBUG RELOAD), effects, BUSY / FUNCTION KILL,
FCALL_RO, OOM, and redis-py's function API used as an application would.

Busy-function behaviour is compared with a real redis-server 7.0.15 started with the same busy-reply-threshold.
"""
import glob
import os
import time

import pytest

pytest.importorskip("lupa")
redis = pytest.importorskip("redis")

from tests.persistence.helpers import start_in  # noqa: E402
from tests.support.servers import RawConnection, encode, start_redis, wait_for  # noqa: E402

COUNTER_LIB = """#!lua name=counter
local function bump(keys, args)
  redis.call('incrby', keys[1], args[1] or 1)
  return redis.call('incr', keys[2] or keys[1])
end
redis.register_function('bump', bump)
redis.register_function{function_name='peek', callback=function(keys) return redis.call('get', keys[1]) end,
                        flags={'no-writes'}, description='read a counter'}
"""
TEMP_LIB = "#!lua name=temp\nredis.register_function('temp_fn', function() return 'temp' end)"
BUSY_LIB = """#!lua name=busy
redis.register_function('spin', function(keys, args)
  local i = 0
  while true do i = i + 1 end
end)
redis.register_function('spin_after_write', function(keys, args)
  redis.call('set', keys[1], 'w')
  local i = 0
  while true do i = i + 1 end
end)
"""
BUSY_FUNCTION = b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
BUSY_EVAL = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
UNKILLABLE = (b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either "
              b"wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n")


def connect(srv):
    return redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=10, protocol=2)


def library_names(r):
    return sorted(entry[b"library_name"] if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2]))[
        b"library_name"] for entry in r.function_list())


def restart(srv, workdir, *args):
    srv.stop()
    return start_in(workdir, *args)


# ---------------------------------------------------------------------------------------------- persistence
def test_libraries_survive_save_restart_and_debug_reload(tmp_path):
    args = ("--enable-debug-command", "yes")
    srv = start_in(tmp_path, *args)
    try:
        r = connect(srv)
        assert r.function_load(COUNTER_LIB) == b"counter"
        assert r.function_load(TEMP_LIB) == b"temp"
        assert r.fcall("bump", 1, "c", 5) == 6
        assert r.save()
        srv = restart(srv, tmp_path, *args)
        r = connect(srv)
        assert library_names(r) == [b"counter", b"temp"]
        assert r.fcall("bump", 1, "c") == 8
        assert r.fcall_ro("peek", 1, "c") == b"8"
        assert r.execute_command("DEBUG", "RELOAD") == b"OK"
        assert library_names(r) == [b"counter", b"temp"]
        assert r.fcall("temp_fn", 0) == b"temp"
        # FLUSHALL keeps the libraries (redis EMPTYDB_NOFUNCTIONS); FUNCTION DELETE then SAVE drops one
        assert r.flushall()
        assert r.fcall("bump", 1, "c") == 2
        assert r.function_delete("temp")
        assert r.save()
        srv = restart(srv, tmp_path, *args)
        r = connect(srv)
        assert library_names(r) == [b"counter"]
        with pytest.raises(redis.ResponseError, match="Function not found"):
            r.fcall("temp_fn", 0)
    finally:
        srv.stop()


def incr_aof_text(workdir):
    data = b""
    for path in sorted(glob.glob(os.path.join(str(workdir), "appendonlydir", "*.incr.aof"))):
        with open(path, "rb") as f:
            data += f.read()
    return data


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_libraries_survive_aof_restart_and_rewrite(tmp_path, preamble):
    args = ("--appendonly", "yes", "--aof-use-rdb-preamble", preamble, "--appendfsync", "always")
    srv = start_in(tmp_path, *args)
    try:
        r = connect(srv)
        r.function_load(COUNTER_LIB)
        r.function_load(TEMP_LIB)
        r.function_delete("temp")
        r.function_load(TEMP_LIB)
        r.function_load(TEMP_LIB.replace("'temp'", "'temp2'"), replace=True)
        assert r.fcall("bump", 1, "c", 2) == 3
        aof = incr_aof_text(tmp_path)
        # FUNCTION LOAD/DELETE propagate as themselves; FCALL propagates as its writes in MULTI/EXEC
        assert aof.count(b"$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n") == 4
        assert b"$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$7\r\nREPLACE\r\n" in aof
        assert b"$8\r\nFUNCTION\r\n$6\r\nDELETE\r\n$4\r\ntemp\r\n" in aof
        assert b"*1\r\n$5\r\nMULTI\r\n*3\r\n$6\r\nincrby\r\n$1\r\nc\r\n$1\r\n2\r\n*2\r\n$4\r\nincr\r\n" in aof
        assert b"FCALL" not in aof.upper()
        srv = restart(srv, tmp_path, *args)
        r = connect(srv)
        assert library_names(r) == [b"counter", b"temp"]
        assert r.fcall("temp_fn", 0) == b"temp2"
        assert r.get("c") == b"3"
        assert r.bgrewriteaof()
        wait_for(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0
                 and r.info("persistence")["aof_rewrites"] >= 1, timeout=10)
        base = glob.glob(os.path.join(str(tmp_path), "appendonlydir", "*.base.*"))
        assert len(base) == 1
        with open(base[0], "rb") as f:
            base_data = f.read()
        assert base_data.startswith(b"REDIS") == (preamble == "yes")
        assert b"#!lua name=counter" in base_data
        r.function_flush()
        r.function_load(COUNTER_LIB)
        srv = restart(srv, tmp_path, *args)
        r = connect(srv)
        assert library_names(r) == [b"counter"]
        assert r.fcall("bump", 1, "c") == 5
    finally:
        srv.stop()


def test_function_restore_propagates_and_reloads(tmp_path):
    args = ("--appendonly", "yes", "--appendfsync", "always")
    srv = start_in(tmp_path, *args)
    try:
        r = connect(srv)
        r.function_load(COUNTER_LIB)
        r.function_load(TEMP_LIB)
        payload = r.function_dump()
        r.function_flush()
        assert r.function_restore(payload)
        r.function_delete("temp")
        srv = restart(srv, tmp_path, *args)
        r = connect(srv)
        assert library_names(r) == [b"counter"]
        assert r.function_restore(payload, "REPLACE")
        srv = restart(srv, tmp_path, *args)
        assert library_names(connect(srv)) == [b"counter", b"temp"]
    finally:
        srv.stop()


def test_redis_can_load_our_rdb_with_functions(tmp_path):
    srv = start_in(tmp_path)
    try:
        r = connect(srv)
        r.function_load(COUNTER_LIB)
        r.fcall("bump", 1, "c")
        r.save()
    finally:
        srv.stop()
    ref = start_redis(workdir=str(tmp_path))
    try:
        r = connect(ref)
        assert library_names(r) == [b"counter"]
        assert r.fcall("bump", 1, "c") == 4
    finally:
        ref.stop()


# ---------------------------------------------------------------------------------------------- redis-py
def test_redis_py_function_api_as_an_application(fresh_cachemere):
    srv = fresh_cachemere()
    r = connect(srv)
    assert r.function_load(COUNTER_LIB) == b"counter"
    with pytest.raises(redis.ResponseError, match="Library 'counter' already exists"):
        r.function_load(COUNTER_LIB)
    assert r.function_load(COUNTER_LIB, replace=True) == b"counter"
    pipe = r.pipeline()
    for _ in range(10):
        pipe.fcall("bump", 1, "hits")
    assert pipe.execute() == list(range(2, 21, 2))
    assert r.fcall_ro("peek", 1, "hits") == b"20"
    with pytest.raises(redis.ResponseError, match=r"Can not execute a script with write flag using \*_ro command"):
        r.fcall_ro("bump", 1, "hits")
    listing = r.function_list(library="count*", withcode=True)
    assert len(listing) == 1
    entry = dict(zip(listing[0][::2], listing[0][1::2]))
    assert entry[b"library_code"] == COUNTER_LIB.encode()
    functions = sorted(dict(zip(f[::2], f[1::2]))[b"name"] for f in entry[b"functions"])
    assert functions == [b"bump", b"peek"]
    stats = dict(zip(*[iter(r.function_stats())] * 2))
    assert stats[b"running_script"] is None
    payload = r.function_dump()
    assert r.function_delete("counter")
    assert r.function_list() == []
    assert r.function_restore(payload)
    assert r.fcall("bump", 1, "hits", "3") == 24
    assert r.function_flush()
    with pytest.raises(redis.ResponseError, match="Function not found"):
        r.fcall("bump", 1, "hits")


def test_monitor_shows_fcall_before_its_commands(fresh_cachemere):
    srv = fresh_cachemere()
    r = connect(srv)
    r.function_load(COUNTER_LIB)
    mon = RawConnection(srv.port)
    mon.send(encode("MONITOR"))
    assert mon.read_reply() == b"+OK\r\n"
    r.fcall("bump", 1, "mon:c")
    lines = []
    wait_for(lambda: lines.extend(mon.read_until_quiet(0.1).splitlines()) or len(lines) >= 3, timeout=5)
    assert b'"fcall" "bump" "1" "mon:c"' in lines[0].lower()
    assert b' lua] "incrby" "mon:c" "1"' in lines[1]
    assert b' lua] "incr" "mon:c"' in lines[2]


@pytest.mark.parametrize("which", [0, 1], ids=["cachemere", "redis"])
def test_oom_refuses_functions_that_may_write(busy_pair, which):
    conn = RawConnection(busy_pair[which].port)
    lib = ("#!lua name=oom\nredis.register_function('w', function(keys) return redis.call('get', keys[1]) end)\n"
           "redis.register_function{function_name='ro', callback=function(keys) return 'ro' end, flags={'no-writes'}}\n"
           "redis.register_function{function_name='oomok', callback=function(keys) return 'ok' end, "
           "flags={'allow-oom'}}")
    assert conn.command("FUNCTION", "LOAD", lib) == b"$3\r\noom\r\n"
    assert conn.command("SET", "filler", "x" * 1000) == b"+OK\r\n"
    assert conn.command("CONFIG", "SET", "maxmemory", "1") == b"+OK\r\n"
    try:
        assert conn.command("FCALL", "w", "0") == b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        assert conn.command("FCALL", "ro", "0") == b"$2\r\nro\r\n"
        assert conn.command("FCALL", "oomok", "0") == b"$2\r\nok\r\n"
    finally:
        assert conn.command("CONFIG", "SET", "maxmemory", "0") == b"+OK\r\n"
    assert conn.command("FCALL", "w", "1", "filler")[:5] == b"$1000"


# ---------------------------------------------------------------------------------------------- BUSY / KILL
def _start_busy_function(port, name, *keys):
    """Load BUSY_LIB, call a never-ending function without waiting; return the caller and a probe."""
    setup = RawConnection(port, timeout=10)
    assert setup.command("FUNCTION", "LOAD", "REPLACE", BUSY_LIB) == b"$4\r\nbusy\r\n"
    setup.close()
    runner = RawConnection(port, timeout=10)
    probe = RawConnection(port, timeout=10)
    assert probe.command("PING") == b"+PONG\r\n"          # registered before the function starts
    runner.send(encode("FCALL", name, len(keys), *keys))
    wait_for(lambda: probe.command("PING").startswith(b"-BUSY"), timeout=5, interval=0.05)
    return runner, probe


@pytest.mark.parametrize("which", [0, 1], ids=["cachemere", "redis"])
def test_busy_function_then_function_kill(busy_pair, which):
    port = busy_pair[which].port
    runner, probe = _start_busy_function(port, "spin")
    assert probe.command("GET", "x") == BUSY_FUNCTION
    assert probe.command("FCALL", "spin", "0") == BUSY_FUNCTION
    assert probe.command("FUNCTION", "LIST") == BUSY_FUNCTION
    assert probe.command("SCRIPT", "KILL") == BUSY_FUNCTION     # a function is killed by FUNCTION KILL only
    stats = probe.command("FUNCTION", "STATS")
    assert stats.startswith(b"*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n"
                            b"*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:")
    assert stats.endswith(b"$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n"
                          b"$15\r\nfunctions_count\r\n:2\r\n")
    late = RawConnection(port, timeout=10)                  # connected while the function is busy
    assert late.command("PING") == BUSY_FUNCTION
    assert late.command("FUNCTION", "KILL") == b"+OK\r\n"
    assert runner.read_reply() == b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:4.\r\n"
    assert probe.command("PING") == b"+PONG\r\n"
    assert late.command("FUNCTION", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
    assert probe.command("FUNCTION", "STATS").startswith(b"*4\r\n$14\r\nrunning_script\r\n$-1\r\n")
    assert runner.command("FCALL", "nosuch", "0") == b"-ERR Function not found\r\n"


@pytest.mark.parametrize("which", [0, 1], ids=["cachemere", "redis"])
def test_function_kill_refuses_a_busy_eval(busy_pair, which):
    port = busy_pair[which].port
    runner = RawConnection(port, timeout=10)
    probe = RawConnection(port, timeout=10)
    assert probe.command("PING") == b"+PONG\r\n"
    runner.send(encode("EVAL", "local i = 0 while true do i = i + 1 end", "0"))
    wait_for(lambda: probe.command("PING").startswith(b"-BUSY"), timeout=5, interval=0.05)
    assert probe.command("FUNCTION", "KILL") == BUSY_EVAL
    assert probe.command("FUNCTION", "STATS") == BUSY_EVAL
    assert probe.command("SCRIPT", "KILL") == b"+OK\r\n"
    assert runner.read_reply().startswith(b"-ERR Script killed by user with SCRIPT KILL... script: ")


@pytest.mark.parametrize("which", [0, 1], ids=["cachemere", "redis"])
def test_unkillable_function_then_shutdown_nosave(busy_pair, which):
    srv = busy_pair[which]
    runner, probe = _start_busy_function(srv.port, "spin_after_write", "busy:k")
    assert probe.command("FUNCTION", "KILL") == UNKILLABLE
    assert probe.command("SCRIPT", "KILL") == UNKILLABLE
    probe.send(encode("SHUTDOWN", "NOSAVE"))
    assert probe.is_closed(timeout=5)
    srv.proc.wait(10)
    assert srv.proc.returncode == 0


def test_fcall_ro_refuses_writes_from_a_second_client_while_others_run(fresh_cachemere):
    """FCALL_RO runs a no-writes function; its writes fail, a write function is refused before it runs."""
    srv = fresh_cachemere()
    r = connect(srv)
    r.function_load("#!lua name=rw\n"
                    "redis.register_function{function_name='sneaky', callback=function(keys) "
                    "return redis.call('set', keys[1], 'x') end, flags={'no-writes'}}\n"
                    "redis.register_function('writer', function(keys) return redis.call('set', keys[1], 'x') end)")
    with pytest.raises(redis.ResponseError, match=r"Write commands are not allowed from read-only scripts\. "
                                                  r"script: sneaky, on @user_function:2\."):
        r.fcall_ro("sneaky", 1, "k")
    with pytest.raises(redis.ResponseError, match="Can not execute a script with write flag"):
        r.fcall_ro("writer", 1, "k")
    assert r.exists("k") == 0
    started = time.monotonic()
    assert r.fcall("writer", 1, "k") == b"OK"
    assert time.monotonic() - started < 5
    assert r.get("k") == b"x"
