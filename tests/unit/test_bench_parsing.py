"""The benchmark harness's parsing and summarizing (bench/), plus one short mc_load run on a real memcached."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from bench import mc_load
from bench.measure import (RunResult, mc_load_argv, parse_mc_load, parse_proc_stat_cpu,
                           parse_redis_benchmark_csv, pick_rate, redis_benchmark_argv, CLK_TCK)
from bench.memprobe import parse_vmrss
from bench.report import format_table, summarize
from bench.run import calibrated_requests, parse_args
from bench.suites import McCase, RedisCase
from tests.support.servers import free_port, wait_for_port

# Captured from redis-benchmark 7.0.15 -q --csv -t hset,zadd,lrange_100 and a custom command.
CSV = '''"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"HSET","77220.08","0.337","0.112","0.335","0.407","0.519","0.983"
"LPUSH (needed to benchmark LRANGE)","95238.10","0.279","0.072","0.263","0.367","0.471","1.655"
"LRANGE_100 (first 100 elements)","73260.07","0.521","0.232","0.503","0.775","0.911","1.207"
"MSET (10 keys)","72516.32","0.586","0.112","0.519","0.927","2.471","6.247"
'''
CUSTOM_CSV = '''"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"ZRANGEBYSCORE zkey 0 100","95238.10","0.271","0.088","0.263","0.367","0.439","0.663"
'''


def test_redis_benchmark_csv_rows_are_parsed_by_test_name():
    rates = parse_redis_benchmark_csv(CSV)
    assert rates == {"HSET": 77220.08, "LPUSH (needed to benchmark LRANGE)": 95238.10,
                     "LRANGE_100 (first 100 elements)": 73260.07, "MSET (10 keys)": 72516.32}


def test_pick_rate_matches_builtin_tests_and_skips_the_helper_lpush_row():
    rates = parse_redis_benchmark_csv(CSV)
    assert pick_rate(rates, RedisCase("LRANGE_100", test="lrange_100")) == 73260.07
    assert pick_rate(rates, RedisCase("MSET", test="mset")) == 72516.32
    assert pick_rate(rates, RedisCase("GET", test="get")) is None
    custom = RedisCase("ZRANGEBYSCORE", command=("ZRANGEBYSCORE", "zkey", "0", "100"))
    assert pick_rate(parse_redis_benchmark_csv(CUSTOM_CSV), custom) == 95238.10
    assert pick_rate(parse_redis_benchmark_csv(""), custom) is None


def test_redis_benchmark_argv_uses_t_for_builtins_and_appends_custom_commands():
    argv = redis_benchmark_argv(6379, RedisCase("SET", test="set"), 16, 1000)
    tail = argv[argv.index("redis-benchmark"):]
    assert tail == ["redis-benchmark", "-h", "127.0.0.1", "-p", "6379", "-c", "50", "-P", "16", "-n", "1000",
                    "-r", "100000", "-q", "--csv", "-t", "set"]
    argv = redis_benchmark_argv(1, RedisCase("Z", command=("ZADD", "k", "__rand_int__", "m")), 1, 10)
    assert argv[-4:] == ["ZADD", "k", "__rand_int__", "m"] and "-t" not in argv


def test_proc_stat_cpu_survives_a_command_name_with_spaces_and_parentheses():
    line = "42 (cache (mere) x) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 7 9 20 0 5 0 1 1 1"
    assert parse_proc_stat_cpu(line) == pytest.approx(200 / CLK_TCK)


def test_proc_stat_cpu_of_this_process_grows_with_work():
    with open(f"/proc/{os.getpid()}/stat") as f:
        before = parse_proc_stat_cpu(f.read())
    end = time.process_time() + 0.05
    while time.process_time() < end:
        pass
    with open(f"/proc/{os.getpid()}/stat") as f:
        assert parse_proc_stat_cpu(f.read()) > before


def test_vmrss_is_read_in_bytes():
    assert parse_vmrss("Name:\tredis\nVmPeak:\t 9 kB\nVmRSS:\t    7635 kB\nThreads: 5\n") == 7635 * 1024
    with pytest.raises(ValueError):
        parse_vmrss("Name:\tx\n")


def test_mc_load_result_line_is_found_after_other_output():
    out = 'warming up\n{"rps": 5.0, "requests": 32, "seconds": 2.0, "client_cpu_s": 1.0, "client_ceiling_rps": 32.0}\n'
    assert mc_load.parse_result(out)["rps"] == 5.0
    assert parse_mc_load(out) == {"rps": 5.0, "requests": 32, "client_busy": 0.5, "client_ceiling_rps": 32.0}
    with pytest.raises(ValueError):
        mc_load.parse_result("no json here\n")


def test_mc_load_expected_replies_follow_the_memcached_protocol():
    key = b"mc:0000000007"
    value = mc_load.value_for(key, 20)
    assert len(value) == 20 and value.startswith(key)
    assert mc_load.request_and_reply("get", key, 20) == (b"get mc:0000000007\r\n",
                                                         b"VALUE mc:0000000007 0 20\r\n" + value + b"\r\nEND\r\n")
    assert mc_load.request_and_reply("mg", key, 20) == (b"mg mc:0000000007 v\r\n", b"VA 20\r\n" + value + b"\r\n")
    assert mc_load.request_and_reply("set", key, 20) == (b"set mc:0000000007 0 0 20\r\n" + value + b"\r\n",
                                                         b"STORED\r\n")


def _run(server, label, rps, cpu, busy_cpu, wall=1.0, pipeline=1):
    return RunResult(server, label, pipeline, int(rps * wall), rps, wall, cpu, busy_cpu)


def test_summary_takes_medians_and_ratios_and_marks_client_bound_sides():
    runs = [_run("cachemere", "SET", 50_000, 0.5, 0.95), _run("redis", "SET", 100_000, 1.0, 0.5),
            _run("cachemere", "SET", 60_000, 0.5, 0.95), _run("redis", "SET", 120_000, 1.0, 0.5),
            _run("cachemere", "SET", 70_000, 0.5, 0.95), _run("redis", "SET", 110_000, 1.0, 0.5),
            RunResult("redis", "GET", 1, 1000, None, 1.0, 0.1, 0.1, error="timed out")]
    rows = summarize(runs, lambda label: "redis")
    set_row, get_row = rows
    assert set_row["cachemere"] == 60_000 and set_row["ref"] == 110_000
    assert set_row["ratio"] == pytest.approx(60 / 110)
    assert set_row["cachemere_per_cpu_s"] == 120_000 and set_row["ref_per_cpu_s"] == 110_000
    assert set_row["cachemere_client_bound"] and not set_row["ref_client_bound"]
    assert get_row["ref"] is None and get_row["ref_failed"] == 1 and get_row["ratio"] is None
    table = format_table(rows)
    assert "60,000*" in table and "110,000" in table and "0.55" in table and "1.09" in table
    assert "generator" in table and "failed" in table


def test_calibration_is_clamped():
    assert calibrated_requests(100_000, 2.5) == 250_000
    assert calibrated_requests(None, 2.5) == 2_000
    assert calibrated_requests(1e12, 2.5) == 50_000_000


def test_suite_arguments_expand():
    args = parse_args(["--quick", "--suite", "core,types", "--suite", "memory"])
    assert args.suites == ["core", "types", "memory"] and args.rounds == 2 and args.seconds == 0.5
    assert "memcached" not in parse_args(["--suite", "all"]).suites
    with pytest.raises(SystemExit):
        parse_args(["--suite", "nosuch"])


@pytest.mark.skipif(not shutil.which("memcached"), reason="memcached not installed")
def test_mc_load_verifies_replies_against_a_real_memcached():
    port = free_port()
    argv = ["memcached", "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-t", "1"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=5, proc=server)
        case = McCase("get", "get", conns=4, keyspace=500, value_size=40)
        tool = mc_load_argv(port, case, 8, 4000, timeout=20)
        tool = tool[tool.index(sys.executable):]
        # Gets before any set: the replies are bare ENDs, shorter than expected; the run must stop at once.
        missing = subprocess.run(tool, capture_output=True, text=True, timeout=30)
        result = mc_load.parse_result(missing.stdout)
        assert missing.returncode == 1 and result["errors"] == 1 and not result["timed_out"]
        assert result["first_error"].startswith("END\r\n")
        mc_load.preload("127.0.0.1", port, case.keyspace, case.value_size, timeout=10)
        for op in ("get", "mg", "set"):
            argv = tool[:]
            argv[argv.index("--op") + 1] = op
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            result = mc_load.parse_result(done.stdout)
            assert done.returncode == 0, done.stdout + done.stderr
            assert result["errors"] == 0 and result["requests"] == 4000 and result["rps"] > 0
    finally:
        server.terminate()
        server.wait(10)
