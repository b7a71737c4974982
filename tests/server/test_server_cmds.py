"""Connection and server commands (CLIENT, INFO, CONFIG, SLOWLOG, MONITOR, ...), the process lifecycle
(SIGTERM, log format, config errors) and replies compared with redis-server 7.0.15 where they are defined."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest
import redis

from tests.support.diff import assert_same, parse
from tests.support.servers import CACHEMERE, RawConnection, free_port, wait_for

DIFF = [
    ("PING",), ("PING", "hello"), ("PING", "a", "b"), ("ECHO", "x"), ("SELECT", "99"), ("SELECT", "x"),
    ("SELECT", "1"), ("SELECT", "0"), ("CLIENT", "SETNAME", "has space"), ("CLIENT", "SETNAME", "ok-name"),
    ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"), ("CLIENT", "NOPE"),
    ("CLIENT", "REPLY", "BOGUS"), ("CLIENT", "NO-EVICT", "maybe"), ("CLIENT", "NO-EVICT", "on"),
    ("CLIENT", "KILL", "1.2.3.4:5"), ("CLIENT", "KILL", "ID", "abc"), ("CLIENT", "KILL", "TYPE", "bogus"),
    ("CLIENT", "PAUSE", "abc"), ("CLIENT", "PAUSE", "10", "SOMETIMES"), ("CLIENT", "UNBLOCK", "999999"),
    ("CLIENT", "UNBLOCK", "x"), ("CLIENT", "HELP"), ("CLIENT", "LIST", "TYPE", "bogus"), ("HELLO", "4"),
    ("HELLO", "x"), ("HELLO", "3", "BOGUS"), ("AUTH", "pw"), ("AUTH", "u", "p", "x"), ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory-policy", "bogus"), ("CONFIG", "SET", "nosuch", "1"), ("CONFIG", "HELP"),
    ("CONFIG", "GET", "*max-*-entries*"), ("CONFIG", "SET", "hz"), ("SLOWLOG", "LEN", "x"), ("SLOWLOG", "HELP"),
    ("SLOWLOG", "GET", "-5"), ("LATENCY", "HELP"), ("LATENCY", "LATEST"), ("DEBUG", "SLEEP", "0"),
    ("SHUTDOWN", "BOGUS"), ("LASTSAVE", "x"), ("TIME", "x"), ("ROLE",), ("COMMAND", "COUNT", "x"),
    ("RESET",), ("QUIT",),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_replies_match_redis(cachemere, redis_ref, resp):
    # CONFIG GET with a glob answers in redis's hash-table order: compared as sets
    assert_same(cachemere.port, redis_ref.port, DIFF, unordered={"CONFIG"}, resp=resp)


def test_client_list_info_and_kill(cachemere):
    a = redis.Redis(port=cachemere.port, client_name="alpha")
    b = RawConnection(cachemere.port)
    b.command("CLIENT", "SETNAME", "beta")
    listing = a.client_list()
    names = {c["name"] for c in listing}
    assert {"alpha", "beta"} <= names
    mine = a.client_info()
    assert mine["name"] == "alpha" and mine["cmd"] == "client|info" and mine["flags"] == "N"
    for field in ("id", "addr", "laddr", "age", "idle", "db", "sub", "psub", "multi", "qbuf", "omem", "resp"):
        assert field in mine
    beta_id = next(c["id"] for c in listing if c["name"] == "beta")
    assert a.execute_command("CLIENT", "KILL", "ID", beta_id) == 1
    assert b.is_closed(timeout=2)
    assert a.client_id() == int(mine["id"])


def test_client_reply_off_skip(cachemere):
    conn = RawConnection(cachemere.port)
    conn.send(b"CLIENT REPLY OFF\r\nSET r1 1\r\nCLIENT REPLY ON\r\n")
    assert conn.read_until_quiet() == b"+OK\r\n"
    conn.send(b"CLIENT REPLY SKIP\r\nSET r2 2\r\nGET r2\r\n")
    assert conn.read_until_quiet() == b"$1\r\n2\r\n"


def test_client_pause_write_holds_writes_not_reads(cachemere):
    admin = RawConnection(cachemere.port)
    other = RawConnection(cachemere.port)
    assert admin.command("CLIENT", "PAUSE", "300", "WRITE") == b"+OK\r\n"
    start = time.monotonic()
    assert other.command("GET", "paused") == b"$-1\r\n"
    assert time.monotonic() - start < 0.2
    assert other.command("SET", "paused", "1") == b"+OK\r\n"
    assert time.monotonic() - start >= 0.25


def test_client_setinfo_for_modern_clients(cachemere):
    conn = RawConnection(cachemere.port)
    assert conn.command("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == b"+OK\r\n"
    assert conn.command("CLIENT", "SETINFO", "LIB-VER", "5.0.0") == b"+OK\r\n"
    assert conn.command("CLIENT", "SETINFO", "BOGUS", "x").startswith(b"-ERR")


def test_info_sections_and_fields(cachemere):
    r = redis.Redis(port=cachemere.port)
    r.set("info:k", "v", ex=100)
    text = RawConnection(cachemere.port).command("INFO")
    assert b"\r\nredis_version:7.0.15\r\n" in text and b"cachemere_version:" in text
    info = r.info("all")
    for field in ("redis_version", "redis_mode", "process_id", "run_id", "tcp_port", "uptime_in_seconds",
                  "connected_clients", "maxclients", "blocked_clients", "used_memory", "used_memory_human",
                  "used_memory_rss", "used_memory_peak", "maxmemory", "maxmemory_policy", "mem_fragmentation_ratio",
                  "loading", "rdb_changes_since_last_save", "total_connections_received", "total_commands_processed",
                  "instantaneous_ops_per_sec", "keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys",
                  "role", "master_replid", "used_cpu_sys", "used_cpu_user", "cluster_enabled"):
        assert field in info, field
    assert len(info["run_id"]) == 40
    assert info["db0"]["keys"] >= 1 and info["db0"]["expires"] >= 1
    assert "cmdstat_set" in info and info["cmdstat_set"]["calls"] >= 1
    r3 = redis.Redis(port=cachemere.port, protocol=3)
    assert "redis_version" in r3.info("server")


def test_errorstats_and_commandstats_count(fresh_cachemere):
    srv = fresh_cachemere()
    r = redis.Redis(port=srv.port)
    raw = RawConnection(srv.port)
    r.config_resetstat()
    assert raw.command("NOSUCHCOMMAND").startswith(b"-ERR unknown command")
    assert raw.command("GET").startswith(b"-ERR wrong number")
    raw.command("HSET", "h", "f", "v")
    assert raw.command("GET", "h").startswith(b"-WRONGTYPE")
    errors = r.info("errorstats")
    assert errors["errorstat_ERR"]["count"] == 2 and errors["errorstat_WRONGTYPE"]["count"] == 1
    stats = r.info("commandstats")
    assert stats["cmdstat_get"]["rejected_calls"] == 1 and stats["cmdstat_get"]["failed_calls"] == 1
    r.config_resetstat()
    assert "errorstat_ERR" not in r.info("errorstats")


def test_slowlog_and_monitor(fresh_cachemere):
    srv = fresh_cachemere("--slowlog-log-slower-than", "0")
    r = redis.Redis(port=srv.port)
    r.slowlog_reset()
    r.set("slow", "1")
    entries = r.slowlog_get(10)
    assert any(e["command"] == b"SET slow 1" for e in entries)
    assert r.slowlog_len() >= 1
    mon = RawConnection(srv.port)
    assert mon.command("MONITOR") == b"+OK\r\n"
    r.set("watched key", 'a "quoted"\nvalue')
    line = mon.read_until_quiet(settle=0.3)
    assert re.match(rb'\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "watched key" "a \\"quoted\\"\\nvalue"\r\n', line), line


def test_config_set_get_runtime(cachemere):
    r = redis.Redis(port=cachemere.port)
    r.config_set("slowlog-max-len", 99)
    assert r.config_get("slowlog-max-len") == {"slowlog-max-len": "99"}
    assert len(r.config_get("*")) > 150
    with pytest.raises(redis.ResponseError, match="without a config file"):
        r.config_rewrite()
    r.config_set("slowlog-max-len", 128)


def test_requirepass(fresh_cachemere):
    srv = fresh_cachemere("--requirepass", "s3cret")
    conn = RawConnection(srv.port)
    assert conn.command("GET", "x") == b"-NOAUTH Authentication required.\r\n"
    assert conn.command("AUTH", "wrong") == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert conn.command("AUTH", "default", "s3cret") == b"+OK\r\n"
    assert conn.command("GET", "x") == b"$-1\r\n"
    assert redis.Redis(port=srv.port, password="s3cret", protocol=3).ping() is True


def test_maxclients(fresh_cachemere):
    srv = fresh_cachemere("--maxclients", "2")
    a, b = RawConnection(srv.port), RawConnection(srv.port)
    assert a.command("PING") == b"+PONG\r\n"
    c = RawConnection(srv.port)
    assert c.read_until_quiet() == b"-ERR max number of clients reached\r\n"
    assert b.command("PING") == b"+PONG\r\n"


LOG_LINE = re.compile(r"^[0-9]+:[A-Z] [0-9]+ [A-z]+ [0-9]+ ([0-9:.]+) [.*#-] .*")


def test_sigterm_exits_zero_with_redis_style_log(fresh_cachemere):
    srv = fresh_cachemere()
    RawConnection(srv.port).command("SET", "k", "v")
    assert srv.stop(signal.SIGTERM) == 0
    lines = [l for l in srv.log().splitlines() if l.strip()]
    assert lines and all(LOG_LINE.match(l) or "signal-handler" in l for l in lines), lines
    assert any("Ready to accept connections" in l for l in lines)
    assert any("Received SIGTERM scheduling shutdown" in l for l in lines)


def test_shutdown_command_stops_the_server(fresh_cachemere):
    srv = fresh_cachemere()
    conn = RawConnection(srv.port)
    conn.send(b"SHUTDOWN NOSAVE\r\n")
    assert conn.read_until_quiet(settle=0.5) == b""
    assert srv.proc.wait(10) == 0


def test_bad_config_is_a_clear_startup_error(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("port 7000\nno-such-directive yes\n")
    out = subprocess.run([CACHEMERE, str(conf)], capture_output=True, timeout=20, text=True)
    assert out.returncode == 1
    assert "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***" in out.stderr
    assert "at line 2" in out.stderr and "'no-such-directive yes'" in out.stderr
    out = subprocess.run([CACHEMERE, "--port", "notaport"], capture_output=True, timeout=20, text=True)
    assert out.returncode == 1 and "port" in out.stderr


def test_config_file_and_flags(tmp_path):
    port = free_port()
    conf = tmp_path / "c.conf"
    conf.write_text(f"port 1\nbind 127.0.0.1\nmemcached-port 0\nsave \"\"\ndatabases 4\ndir {tmp_path}\n")
    proc = subprocess.Popen([CACHEMERE, str(conf), "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port), timeout=10)
        r = redis.Redis(port=port)
        assert r.config_get("databases") == {"databases": "4"}
        assert r.info("server")["config_file"] == str(conf)
    finally:
        proc.terminate()
        proc.wait(10)


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def test_redis_cli_tools(cachemere):
    cli = ["redis-cli", "-p", str(cachemere.port)]
    assert subprocess.run(cli + ["-n", "2", "set", "cli", "v"], capture_output=True, timeout=10).stdout == b"OK\n"
    assert subprocess.run(cli + ["-n", "2", "get", "cli"], capture_output=True, timeout=10).stdout == b"v\n"
    out = subprocess.run(cli + ["-3", "hello", "3"], capture_output=True, timeout=10).stdout
    assert b"proto" in out
    subprocess.run(cli + ["-n", "3", "mset", "scan:a", "1", "scan:b", "2", "other", "3"], capture_output=True,
                   timeout=10)
    out = subprocess.run(cli + ["-n", "3", "--scan", "--pattern", "scan:*"], capture_output=True, timeout=10).stdout
    assert sorted(out.split()) == [b"scan:a", b"scan:b"]
    out = subprocess.run(cli + ["-n", "3", "--bigkeys"], capture_output=True, timeout=20).stdout
    assert b"Biggest string found" in out and b"3 strings with" in out


CACHEMERE_ONLY_FIELDS = {"cachemere_version", "memcached_port", "python_version",
                         "client_query_buffer_limit_disconnections", "client_output_buffer_limit_disconnections"}


def _fields(text):
    lines = [line for line in text.decode().split("\r\n")[1:] if line and not line.startswith("#")]
    return [line.split(":", 1)[0] for line in lines]


@pytest.mark.parametrize("section", ["server", "clients", "memory", "persistence", "stats", "replication", "cpu"])
def test_info_fields_are_redis_fields_in_redis_order(cachemere, redis_ref, section):
    """Monitoring tools read INFO by field name: every redis 7.0.15 field is there, in redis's order."""
    ours = [f for f in _fields(RawConnection(cachemere.port).command("INFO", section)) if f not in CACHEMERE_ONLY_FIELDS]
    theirs = _fields(RawConnection(redis_ref.port).command("INFO", section))
    assert ours == theirs


def test_info_scripting_memory_and_io_counters_move(fresh_cachemere):
    srv = fresh_cachemere()
    r = redis.Redis(port=srv.port)
    before = r.info("stats")
    assert r.info("memory")["number_of_cached_scripts"] == 0
    r.script_load("return 'a fairly long script body to be cached' .. string.rep('x', 10)")
    r.function_load("#!lua name=infolib\nredis.register_function('infof', function() return 1 end)")
    memory = r.info("memory")
    assert memory["number_of_cached_scripts"] == 1 and memory["number_of_libraries"] == 1
    assert memory["number_of_functions"] == 1 and memory["used_memory_scripts_eval"] > 50
    assert memory["used_memory_functions"] > 50 and memory["used_memory_vm_eval"] > 10_000
    assert memory["used_memory_scripts"] == memory["used_memory_scripts_eval"] + memory["used_memory_functions"]
    for _ in range(20):
        r.ping()
    after = r.info("stats")
    assert after["total_reads_processed"] >= before["total_reads_processed"] + 20
    assert after["total_writes_processed"] >= before["total_writes_processed"] + 20
    r.script_flush()
    assert r.info("memory")["number_of_cached_scripts"] == 0
    r.config_resetstat()
    assert r.info("stats")["total_reads_processed"] <= 2
