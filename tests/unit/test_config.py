"""server/config.py: parsing, errors, CONFIG GET/SET/REWRITE, and differential checks
against a real redis-server 7.0.15 (startup errors, CONFIG GET *, CONFIG SET errors)."""

import io
import os
import shutil
import subprocess

import pytest

from server.config import DIRECTIVES
from server.config import (Config, ConfigError, ConfigExit, command_line_options, format_memory,
                           parse_memory, repr_arg, split_args, string_match)
from tests.support.servers import start_redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REDIS_SERVER = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server not installed")


def fatal(line_number, line, message):
    return (f"\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
            f"Reading the configuration file, at line {line_number}\n>>> '{line}'\n{message}\n")


def load(text: str, *flags) -> Config:
    return Config.from_argv(["-", *flags], stdin=io.BytesIO(text.encode()))


def error_of(fn, *args, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        fn(*args, **kw)
    return str(info.value)


# ------------------------------------------------------------------ lexing and units

@pytest.mark.parametrize("line,expected", [
    (b'a b  c', [b"a", b"b", b"c"]),
    (b'  requirepass "x y"  ', [b"requirepass", b"x y"]),
    (rb'k "\n\r\t\b\a\\\"\x41\x4g\q"', [b"k", b"\n\r\t\b\x07\\\"Ax4gq"]),
    (rb"k 'a\'b\n'", [b"k", b"a'b\\n"]),
    (b'k ""', [b"k", b""]),
    (b'k a"b c"', [b"k", b"ab c"]),
    (b'k "a"b', None),
    (b"k 'a'b", None),
    (b'k "abc', None),
    (b"k 'abc", None),
])
def test_split_args_follows_sdssplitargs(line, expected):
    assert split_args(line) == expected


def test_repr_arg_round_trips_through_split_args():
    raw = bytes(range(256))
    assert split_args(b"k " + repr_arg(raw)) == [b"k", raw]
    assert repr_arg(b'a b"\n') == b'"a b\\"\\n"'


@pytest.mark.parametrize("text,expected", [
    ("0", 0), ("", 0), ("b", 0), ("12", 12), ("1B", 1), ("1k", 1000), ("1kb", 1024), ("1K", 1000),
    ("1KB", 1024), ("2m", 2_000_000), ("2mb", 2 * 1024**2), ("1g", 10**9), ("1Gb", 1024**3),
    ("-1", None), (" 1", None), ("1.5mb", None), ("1x", None), ("1 mb", None),
    ("18446744073709551616", None), ("18446744073709551615", 2**64 - 1),
])
def test_memory_units(text, expected):
    assert parse_memory(text) == expected


def test_format_memory_uses_the_largest_exact_unit():
    assert [format_memory(v) for v in (0, 1000, 1024, 3 * 1024**2, 1024**3, 1536)] == \
        ["0", "1000", "1kb", "3mb", "1gb", "1536"]


def test_string_match_globs():
    assert string_match("hash-max-*", "hash-max-listpack-entries")
    assert string_match("PORT", "port")
    assert string_match("p?rt", "port")
    assert string_match("[a-p]ort", "port") and not string_match("[^p]ort", "port")
    assert not string_match("port?", "port")


# ------------------------------------------------------------------ command line and file

def test_command_line_builds_redis_style_option_lines():
    file, stdin, options = command_line_options(["my.conf", "--port", "7000", "--save", "--loglevel", "debug", "-"])
    assert (file, stdin) == ("my.conf", True)
    assert options == b'port "7000" \nsave ""\nloglevel "debug" '


def test_flags_override_file_and_later_flags_win(tmp_path):
    conf = tmp_path / "a.conf"
    conf.write_text("port 7000\nmaxmemory 1mb\n")
    cfg = Config.from_argv([str(conf), "--port", "7001", "--maxmemory-policy", "allkeys-lru", "--port", "7002"])
    assert cfg["port"] == 7002
    assert cfg["maxmemory"] == 1024 * 1024
    assert cfg["maxmemory-policy"] == "allkeys-lru"
    assert cfg.config_file == str(conf)


def test_stdin_is_read_after_the_file_and_before_flags(tmp_path):
    conf = tmp_path / "a.conf"
    conf.write_text("port 7000\ntimeout 5\n")
    cfg = Config.from_argv([str(conf), "--timeout", "9", "-"], stdin=io.BytesIO(b"port 7001\ntimeout 7\n"))
    assert (cfg["port"], cfg["timeout"], cfg.read_stdin) == (7001, 9, True)


def test_quotes_comments_case_and_blank_lines():
    cfg = load('# comment\n\n   \nREQUIREPASS "a b\\x41"\nMasterAuth \'x"y\'\n  loglevel WARNING  \n')
    assert cfg["requirepass"] == "a bA"
    assert cfg["masterauth"] == 'x"y'
    assert cfg["loglevel"] == "warning"


def test_types_of_values():
    cfg = load("maxmemory 2gb\nappendonly yes\nunixsocketperm 700\nmaxmemory-clients 5%\n"
               "replicaof 10.0.0.1 6380\noom-score-adj relative\n")
    assert cfg["maxmemory"] == 2 * 1024**3 and cfg["appendonly"] is True
    assert cfg["unixsocketperm"] == 0o700 and cfg["maxmemory-clients"] == -5
    assert cfg["replicaof"] == ("10.0.0.1", 6380) and cfg["slaveof"] == ("10.0.0.1", 6380)
    assert cfg["oom-score-adj"] == "yes"
    assert cfg["hash-max-ziplist-entries"] == 512


def test_save_lines_accumulate_and_empty_save_clears():
    assert Config.from_argv([])["save"] == [(3600, 1), (300, 100), (60, 10000)]
    assert load("save 900 1\nsave 300 10 60 10000\n")["save"] == [(900, 1), (300, 10), (60, 10000)]
    assert load("save 900 1\n", "--save", "")["save"] == []
    assert load("", "--save")["save"] == []
    assert load('save ""\nsave 60 1\n')["save"] == [(60, 1)]


def test_include_and_glob_include(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("timeout 11\n")
    (tmp_path / "conf.d" / "b.conf").write_text("timeout 12\ntcp-keepalive 5\n")
    (tmp_path / "base.conf").write_text("port 7100\n")
    main = tmp_path / "main.conf"
    main.write_text(f"include {tmp_path}/base.conf\ninclude {tmp_path}/conf.d/*.conf\n"
                    f"include {tmp_path}/empty.d/*.conf\nport 7101\n")
    cfg = Config.from_argv([str(main)])
    assert (cfg["port"], cfg["timeout"], cfg["tcp-keepalive"]) == (7101, 12, 5)


def test_include_of_missing_file_is_a_logged_fatal_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(f"include {tmp_path}/missing.conf\n")
    assert info.value.is_log_message
    assert str(info.value) == f"Fatal error, can't open config file '{tmp_path}/missing.conf': No such file or directory"


def test_extra_directives_are_kept_for_their_owners():
    cfg = load('rename-command FLUSHALL ""\nuser alice on >pw ~* +@all\nloadmodule /x.so a\n'
               'list-max-ziplist-entries 512\n')
    assert [(e.name, e.args, e.line_number) for e in cfg.extra] == [
        ("rename-command", ["FLUSHALL", ""], 1), ("user", ["alice", "on", ">pw", "~*", "+@all"], 2),
        ("loadmodule", ["/x.so", "a"], 3)]
    assert str(cfg.extra[0].fatal("No such command in rename-command")) == \
        fatal(1, 'rename-command FLUSHALL ""', "No such command in rename-command")


def test_version_and_help():
    with pytest.raises(ConfigExit) as info:
        Config.from_argv(["-v"])
    assert info.value.code == 0 and "Cachemere server v=" in info.value.text
    with pytest.raises(ConfigExit) as info:
        Config.from_argv(["--help"])
    assert info.value.code == 1 and info.value.text.startswith("Usage: ")


def test_shipped_conf_loads_with_documented_defaults():
    cfg = Config.from_argv([os.path.join(ROOT, "conf", "cachemere.conf")])
    fresh = Config.from_argv([])
    for d in cfg.directives():
        if d.name not in ("dir",):
            assert cfg[d.name] == fresh[d.name], d.name
    assert cfg["dir"] == os.getcwd() and cfg["logfile"] == ""
    assert cfg["memcached-port"] == 11211 and cfg["memcached-bind"] == ["127.0.0.1", "::1"]


def test_memcached_directives():
    cfg = load("memcached-memory 64\nmemcached-max-item-size 2m\nmemcached-bind 10.0.0.1\n")
    assert cfg.effective_maxmemory() == 64 * 1024 * 1024
    # memcached -I units: 2m is 2 MiB (issue 17: "-I 2m" as memcached 1.6.18 reads it)
    assert cfg["memcached-max-item-size"] == 2 * 1024 * 1024 and cfg["memcached-bind"] == ["10.0.0.1"]
    assert load("memcached-memory 64\nmaxmemory 1000\n").effective_maxmemory() == 1000
    assert error_of(load, "memcached-max-item-size 10\n") == fatal(
        1, "memcached-max-item-size 10", "argument must be between 1024 and 1073741824 inclusive")


# ------------------------------------------------------------------ startup errors

def test_file_errors_have_redis_wording():
    assert error_of(load, "port 7000\nfoo bar\n") == fatal(2, "foo bar", "Bad directive or wrong number of arguments")
    assert error_of(load, 'port "7000\n') == fatal(1, 'port "7000', "Unbalanced quotes in configuration line")
    assert error_of(load, "\n\nport 1 2\n") == fatal(3, "port 1 2", "wrong number of arguments")
    assert error_of(load, "sentinel monitor x\n") == fatal(
        1, "sentinel monitor x", "sentinel directive while not in sentinel mode")
    assert error_of(load, "a.b\n") == fatal(1, "a.b", "Module config specified without value")
    assert error_of(load, "cluster-enabled yes\nreplicaof h 1\n") == \
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nreplicaof directive not allowed in cluster mode\n"


FAILING_COMMAND_LINES = [
    ["--port", "abc"], ["--port", "1", "2"], ["--port"], ["--port", "7000", "--port"],
    ["--maxmemory-policy", "foo"], ["--maxmemory", "10x"], ["--save", "10"], ["--save", "0", "1"],
    ["--unixsocketperm", "800"], ["--unixsocketperm", "1000"], ["--replicaof", "localhost", "x"],
    ["--slaveof", "a"], ["--bind"] + [f"10.0.0.{i}" for i in range(17)], ["--dbfilename", "a/b"],
    ["--appendfilename", ""], ["--logfile", "/nonexistent-dir/x.log"], ["--requirepass", 'a\nb"c', "--foo", "x y"],
    ["--hz", "-1"], ["--maxmemory-clients", "101%"], ["--maxmemory-clients", "x"],
    ["--notify-keyspace-events", "Z"], ["--shutdown-on-sigint", "save", "nosave"],
    ["--client-output-buffer-limit", "normal", "1"], ["--client-output-buffer-limit", "master", "1", "2", "3"],
    ["--latency-tracking-info-percentiles", "101"], ["--latency-tracking-info-percentiles", "x"],
    ["--activedefrag", "yes"], ["--dir", "/nonexistent-dir"], ["--oom-score-adj-values", "1", "2"],
    ["--appendonly"], ["--appendonly", "maybe"], ["--timeout", "01"], ["--timeout", "+1"],
    ["--maxclients", "0"], ["--proto-max-bulk-len", "1000"], ["--cluster-announce-hostname", "a_b"],
    ["--proc-title-template", "{nope}"], ["--databases", "0"],
]


@needs_redis
@pytest.mark.parametrize("argv", FAILING_COMMAND_LINES, ids=lambda a: " ".join(a)[:40])
def test_startup_errors_match_redis_server(argv):
    # Every case fails during config parsing, so redis-server exits without listening.
    ref = subprocess.run([REDIS_SERVER, *argv], capture_output=True, text=True, timeout=10)
    assert ref.returncode == 1
    assert error_of(Config.from_argv, argv) == ref.stderr


@needs_redis
def test_file_error_matches_redis_server(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("port 7000\nmaxmemory 1mb\nfoo bar\n")
    ref = subprocess.run([REDIS_SERVER, str(conf), "--port", "7001"], capture_output=True, text=True, timeout=10)
    assert error_of(Config.from_argv, [str(conf), "--port", "7001"]) == ref.stderr


# ------------------------------------------------------------------ CONFIG GET

def get(cfg, *patterns):
    return [(k.decode(), v.decode()) for k, v in cfg.get_pattern([p.encode() for p in patterns])]


def test_config_get_rendering():
    cfg = Config.from_argv([])
    assert get(cfg, "save") == [("save", "3600 1 300 100 60 10000")]
    assert get(cfg, "client-output-buffer-limit") == [
        ("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")]
    assert get(cfg, "maxmemory", "proto-max-bulk-len") == [("maxmemory", "0"), ("proto-max-bulk-len", "536870912")]
    assert get(cfg, "bind", "appendonly", "unixsocketperm") == [("bind", "127.0.0.1 ::1"), ("appendonly", "no"),
                                                               ("unixsocketperm", "0")]
    assert get(cfg, "latency-tracking-info-percentiles") == [("latency-tracking-info-percentiles", "50 99 99.9")]


def test_config_get_patterns_dedup_aliases_and_hidden():
    cfg = Config.from_argv([])
    assert get(cfg, "PORT") == [("PORT", "6379")]
    assert get(cfg, "PORT*") == [("port", "6379")]
    assert get(cfg, "port", "PORT", "port") == [("port", "6379")]
    assert sorted(get(cfg, "hash-max-*")) == [
        ("hash-max-listpack-entries", "512"), ("hash-max-listpack-value", "64"),
        ("hash-max-ziplist-entries", "512"), ("hash-max-ziplist-value", "64")]
    assert get(cfg, "nonexistent") == []
    assert get(cfg, "use-exit*") == [] and get(cfg, "use-exit-on-panic") == [("use-exit-on-panic", "no")]


# ------------------------------------------------------------------ CONFIG SET

def cset(cfg, *args, **kw):
    pairs = [(args[i].encode(), args[i + 1].encode()) for i in range(0, len(args), 2)]
    cfg.set_many(pairs, **kw)


def test_config_set_updates_typed_values():
    cfg = Config.from_argv([])
    cset(cfg, "maxmemory", "100mb", "maxmemory-policy", "ALLKEYS-LRU", "save", "60 1 10 5", "hz", "100000")
    assert cfg["maxmemory"] == 100 * 1024**2 and cfg["maxmemory-policy"] == "allkeys-lru"
    assert cfg["save"] == [(60, 1), (10, 5)] and cfg["hz"] == 500
    cset(cfg, "notify-keyspace-events", "xgE$", "client-output-buffer-limit", "REPLICA 1mb 2 3")
    assert get(cfg, "notify-keyspace-events") == [("notify-keyspace-events", "g$xE")]
    assert cfg["client-output-buffer-limit"]["replica"] == (1024 * 1024, 2, 3)
    cset(cfg, "notify-keyspace-events", "g$lshzxetdKEn")
    assert cfg["notify-keyspace-events"] == "AnKE"         # 'n' stays on ...
    assert get(cfg, "notify-keyspace-events") == [("notify-keyspace-events", "AKE")]   # ... redis shows "AKE"
    cset(cfg, "notify-keyspace-events", "nK")
    assert get(cfg, "notify-keyspace-events") == [("notify-keyspace-events", "nK")]


def test_metrics_auth_is_an_enum_settable_at_run_time():
    cfg = Config.from_argv(["--metrics-auth", "yes"])
    assert cfg["metrics-auth"] == "yes"
    assert Config.from_argv([])["metrics-auth"] == "auto"
    cset(cfg, "metrics-auth", "NO")
    assert get(cfg, "metrics-auth") == [("metrics-auth", "no")]
    msg = error_of(cset, cfg, "metrics-auth", "maybe")
    assert msg.startswith("ERR CONFIG SET failed (possibly related to argument 'metrics-auth') - argument(s)")
    assert cfg["metrics-auth"] == "no"


def test_config_set_is_atomic():
    cfg = Config.from_argv([])
    msg = error_of(cset, cfg, "timeout", "5", "maxmemory-policy", "bad")
    assert msg.startswith("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s)")
    assert cfg["timeout"] == 0 and cfg["maxmemory-policy"] == "noeviction"


def test_on_change_callbacks_and_veto_rollback():
    cfg = Config.from_argv([])
    seen = []
    cfg.on_change("timeout", lambda v: seen.append(("timeout", v)))

    def refuse_port(value):
        seen.append(("port", value))
        if value == 1:
            raise ConfigError("Unable to listen on this port. Check server logs.")
    cfg.on_change("port", refuse_port)
    cset(cfg, "timeout", "0")  # unchanged: no callback
    assert seen == []
    cset(cfg, "timeout", "7", "port", "7000")
    assert seen == [("timeout", 7), ("port", 7000)]
    seen.clear()
    assert error_of(cset, cfg, "timeout", "8", "port", "1") == (
        "ERR CONFIG SET failed (possibly related to argument 'port') - "
        "Unable to listen on this port. Check server logs.")
    assert (cfg["timeout"], cfg["port"]) == (7, 7000)
    assert seen == [("timeout", 8), ("port", 1), ("timeout", 7), ("port", 7000)]


def test_protected_configs_follow_enable_protected_configs(tmp_path):
    assert "can't set protected config" in error_of(cset, Config.from_argv([]), "dir", str(tmp_path))
    cfg = Config.from_argv(["--enable-protected-configs", "local"])
    assert "can't set protected config" in error_of(cset, cfg, "dir", str(tmp_path))
    cset(cfg, "dir", str(tmp_path), local_client=True)
    assert cfg["dir"] == str(tmp_path)
    cfg = Config.from_argv(["--enable-protected-configs", "yes"])
    cset(cfg, "dbfilename", "x.rdb")
    assert cfg["dbfilename"] == "x.rdb"
    assert error_of(cset, cfg, "dbfilename", "a/b") == (
        "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename can't be a path, just a filename")


def test_loading_refuses_deny_loading_configs():
    assert error_of(cset, Config.from_argv([]), "appendonly", "yes", loading=True) == \
        "LOADING Redis is loading the dataset in memory"


SET_CASES = [
    ["foo", "bar"], ["foo", "bar", "dir", "/tmp"], ["dir", "/tmp", "foo", "bar"], ["timeout", "abc", "foo", "bar"],
    ["dir", "/tmp"], ["dbfilename", "x.rdb"], ["daemonize", "yes"], ["slaveof", "x"], ["unixsocket", "x"],
    ["port", "1", "port", "2"], ["PORT", "1", "port", "2"], ["appendonly", "maybe"],
    ["maxmemory", "-1"], ["maxmemory", " 1"], ["maxmemory", "1.5mb"], ["port", "+1"], ["timeout", "01"],
    ["timeout", "-0"], ["timeout", "99999999999"], ["hash-max-ziplist-entries", "abc"],
    ["HASH-MAX-ZIPLIST-ENTRIES", "abc"], ["slave-priority", "x"], ["maxmemory-policy", "foo"],
    ["save", "10"], ["save", "a b"], ["save", "0 1"], ["save", "100  10"], ["save", " "],
    ["notify-keyspace-events", "Z"], ["client-output-buffer-limit", "normal 1 2"],
    ["client-output-buffer-limit", "master 1 2 3"], ["client-output-buffer-limit", "replica 1 2 -3"],
    ["oom-score-adj-values", "1 2"], ["oom-score-adj-values", "1 2 3000"],
    ["latency-tracking-info-percentiles", "x"], ["latency-tracking-info-percentiles", "101"],
    ["maxmemory-clients", "101%"], ["maxmemory-clients", "abc"], ["maxmemory-clients", "-5"],
    ["proc-title-template", "{foo}"], ["proc-title-template", ""], ["proto-max-bulk-len", "1000"],
    ["slowlog-log-slower-than", "-2"], ["maxclients", "0"], ["active-defrag-cycle-min", "0"],
    ["cluster-announce-hostname", "a_b"], ["activedefrag", "yes"], ["shutdown-on-sigint", "bad"],
    ["shutdown-on-sigint", "save nosave"], ["propagation-error-behavior", "x"], ["enable-protected-configs", "yes"],
    ["timeout", "5", "maxmemory-policy", "bad"], ["appendfilename", "x"],
]
GOOD_SET_CASES = [
    ["maxmemory", ""], ["maxmemory", "b"], ["maxmemory", "1B"], ["maxmemory-clients", "10%"],
    ["notify-keyspace-events", "KEA"], ["notify-keyspace-events", "Anm"], ["notify-keyspace-events", "xgE$"],
    ["shutdown-on-sigint", "now nosave force"], ["shutdown-on-sigint", "default now"], ["oom-score-adj", "relative"],
    ["latency-tracking-info-percentiles", "50 99.99 100"], ["latency-tracking-info-percentiles", ""],
    ["client-output-buffer-limit", "normal 1mb 2mb 3 REPLICA 1 2 3"], ["save", ""], ["save", "100 10 5 1"],
    ["hz", "100000"], ["lua-time-limit", "1"], ["bind", "127.0.0.1 -::1"], ["maxmemory-policy", "ALLKEYS-LFU"],
    ["list-max-ziplist-size", "-1"], ["replica-announce-ip", ""],
]


@pytest.fixture(scope="module")
def redis_ref():
    if REDIS_SERVER is None:
        pytest.skip("redis-server not installed")
    srv = start_redis()
    import redis
    client = redis.Redis(port=srv.port, decode_responses=True, socket_timeout=5)
    client.startup_config = client.config_get("*")  # before the SET cases change it
    yield client
    client.config_set("bind", client.startup_config["bind"])
    client.close()
    srv.stop()


def _ref_error(client, args):
    try:
        client.execute_command("CONFIG", "SET", *args)
    except Exception as e:  # redis-py raises ResponseError and friends
        return "ERR " + str(e) if not str(e).startswith(("ERR", "LOADING")) else str(e)
    return None


@pytest.mark.parametrize("args", SET_CASES, ids=lambda a: " ".join(a)[:40])
def test_config_set_errors_match_redis(redis_ref, args):
    expected = _ref_error(redis_ref, args)
    assert expected is not None
    assert error_of(cset, Config.from_argv([]), *args) == expected


@pytest.mark.parametrize("args", GOOD_SET_CASES, ids=lambda a: " ".join(a)[:40])
def test_config_set_values_render_like_redis(redis_ref, args):
    assert _ref_error(redis_ref, args) is None
    cfg = Config.from_argv([])
    cset(cfg, *args)
    names = args[0::2]
    ref = redis_ref.execute_command("CONFIG", "GET", *names)
    ref = dict(ref) if isinstance(ref, dict) else dict(zip(ref[0::2], ref[1::2]))
    assert dict(get(cfg, *names)) == ref


def test_config_get_star_matches_redis_defaults(redis_ref):
    ref = dict(redis_ref.startup_config)
    # The fixture's redis runs with test flags; restore the values they changed.
    ref.update({"save": "3600 1 300 100 60 10000", "appendonly": "no"})
    mine = dict(get(Config.from_argv([]), "*"))
    cachemere_only = {d.name for d in DIRECTIVES if d.cachemere_only}
    assert len(ref) == 192
    assert set(mine) - set(ref) == cachemere_only
    assert set(ref) - set(mine) == set()
    allowed_differences = {"bind", "dir", "port"}  # loopback default; cwd; the fixture's free port
    diffs = {k: (ref[k], mine[k]) for k in ref if ref[k] != mine[k] and k not in allowed_differences}
    assert diffs == {}
    assert mine["bind"] == "127.0.0.1 ::1" and mine["port"] == "6379" and mine["dir"] == os.getcwd()


# ------------------------------------------------------------------ CONFIG REWRITE

def test_rewrite_without_file():
    assert error_of(Config.from_argv([]).rewrite) == "ERR The server is running without a config file"


def test_rewrite_keeps_comments_and_updates_in_place(tmp_path):
    conf = tmp_path / "r.conf"
    conf.write_text("# top comment\nport 6394\nbind 127.0.0.1\n\n  # indented comment\nsave 900 1\nsave 300 10\n"
                    "MAXMEMORY 1mb\nrename-command FLUSHALL \"\"\nslave-read-only yes\nappendonly no\n\n\n"
                    "# trailing comment\ntimeout 5\n")
    cfg = Config.from_argv([str(conf)])
    cset(cfg, "maxmemory", "3000000", "save", "100 1", "timeout", "0", "replica-read-only", "no",
         "notify-keyspace-events", "KEA", "hz", "20", "client-output-buffer-limit", "pubsub 64mb 16mb 60",
         "maxmemory-clients", "5%", "loglevel", "warning", "masterauth", 'a b"c',
         "oom-score-adj-values", "0 100 800")
    cfg.rewrite()
    assert conf.read_text() == (
        "# top comment\nport 6394\nbind 127.0.0.1\n\n# indented comment\nsave 100 1\n\nmaxmemory 3000000\n"
        "rename-command FLUSHALL \"\"\nreplica-read-only no\nappendonly no\n\n# trailing comment\ntimeout 0\n\n"
        "# Generated by CONFIG REWRITE\n"
        "masterauth \"a b\\\"c\"\n"
        "loglevel warning\n"
        "hz 20\n"
        "maxmemory-clients 5%\n"
        f"dir \"{os.getcwd()}\"\n"
        "client-output-buffer-limit pubsub 64mb 16mb 60\n"
        "oom-score-adj-values 0 100 800\n"
        "notify-keyspace-events \"AKE\"\n"
        "latency-tracking-info-percentiles 50 99 99.9\n")
    again = Config.from_argv([str(conf)])
    for name in ("maxmemory", "save", "timeout", "masterauth", "notify-keyspace-events", "client-output-buffer-limit"):
        assert again[name] == cfg[name]
    cfg.rewrite()  # idempotent: no second signature, same text
    assert conf.read_text().count("# Generated by CONFIG REWRITE") == 1


def test_rewrite_drops_unset_values_and_default_bind(tmp_path):
    conf = tmp_path / "r.conf"
    conf.write_text("bind 10.0.0.1\nmasterauth secret\nsave 60 1\n")
    cfg = Config.from_argv([str(conf)])
    cset(cfg, "bind", "127.0.0.1 ::1", "masterauth", "", "save", "")
    cfg.add_rewrite_source("user", lambda: ["user default on nopass ~* &* +@all"])
    cfg.rewrite()
    text = conf.read_text()
    assert text.startswith('\nsave ""\n') or text.startswith('save ""\n')
    assert "bind" not in text and "masterauth" not in text
    assert "user default on nopass ~* &* +@all\n" in text


def test_rewrite_creates_a_missing_file(tmp_path):
    conf = tmp_path / "new.conf"
    cfg = Config.from_argv([])
    cfg.config_file = str(conf)
    cset(cfg, "port", "7777")
    cfg.rewrite()
    assert "port 7777\n" in conf.read_text()
    assert Config.from_argv([str(conf)])["port"] == 7777
