"""Running one load against one server and measuring it: wall rate, server CPU, load-generator CPU.

The load generator is a child process pinned to its own core; its CPU time comes from the rusage of
reaped children (taken around the run), the server's from /proc/<pid>/stat (utime + stime of every
thread). A run whose generator was busy more than CLIENT_BOUND of the wall time is flagged: its rate
says more about the generator than about the server.
"""
import csv
import io
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, asdict
from typing import Optional

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CORE = "0"
LOAD_CORE = "1"
CLIENT_BOUND = 0.9
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        return parse_proc_stat_cpu(f.read())


def parse_proc_stat_cpu(stat_line: str) -> float:
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat_line.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pinned(argv, core):
    """argv run under `taskset -c core`, when there are at least two cores to separate."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", core] + list(argv)
    return list(argv)


def parse_redis_benchmark_csv(text: str) -> dict:
    """{test name: requests/s} from `redis-benchmark --csv` output (header row and blank lines skipped)."""
    rates = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 2 or row[0] == "test":
            continue
        try:
            rates[row[0]] = float(row[1])
        except ValueError:
            continue
    return rates


def pick_rate(rates: dict, case) -> Optional[float]:
    """The row for `case` in parsed CSV: the built-in test's row (redis-benchmark prints e.g.
    'MSET (10 keys)' and an extra 'LPUSH (needed to benchmark LRANGE)' row), else the custom command's."""
    if not rates:
        return None
    if case.test:
        wanted = case.test.upper()
        for name, rps in rates.items():
            if name.split(" ")[0] == wanted:
                return rps
        return None
    return list(rates.values())[-1]


def redis_benchmark_argv(port, case, pipeline, requests):
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(case.clients),
            "-P", str(pipeline), "-n", str(requests), "-r", str(case.keyspace), "-q", "--csv"]
    argv += ["-t", case.test] if case.test else list(case.command)
    return pinned(argv, LOAD_CORE)


def mc_load_argv(port, case, pipeline, requests, timeout):
    argv = [sys.executable, os.path.join(BENCH_DIR, "mc_load.py"), "--port", str(port), "--op", case.op,
            "--conns", str(case.conns), "--pipeline", str(pipeline), "--requests", str(requests),
            "--keyspace", str(case.keyspace), "--value-size", str(case.value_size), "--timeout", str(timeout)]
    return pinned(argv, LOAD_CORE)


def parse_mc_load(stdout: str) -> dict:
    """rps, requests and generator busy fraction (over its timed loop only) from mc_load's JSON line."""
    from bench.mc_load import parse_result
    result = parse_result(stdout)
    busy = result["client_cpu_s"] / result["seconds"] if result["seconds"] else None
    return {"rps": result["rps"], "requests": result["requests"], "client_busy": busy,
            "client_ceiling_rps": result["client_ceiling_rps"]}


def parse_redis_benchmark_for(case):
    """A parse function for measured_run: the case's rate from redis-benchmark's CSV."""
    return lambda stdout: {"rps": pick_rate(parse_redis_benchmark_csv(stdout), case)}


@dataclass
class RunResult:
    server: str
    label: str
    pipeline: int
    requests: int
    rps: Optional[float]            # as reported by the load generator; None if the run failed
    wall_s: float
    server_cpu_s: float
    client_cpu_s: float
    error: str = ""
    client_ceiling_rps: Optional[float] = None   # mc_load only: requests per generator CPU-second
    timed_client_busy: Optional[float] = None     # generator-reported busy fraction, if it reports one

    @property
    def per_cpu_s(self) -> Optional[float]:
        """Requests per server CPU-second."""
        if not self.rps or self.server_cpu_s <= 0:
            return None
        return self.requests / self.server_cpu_s

    @property
    def client_busy(self) -> float:
        if self.timed_client_busy is not None:
            return self.timed_client_busy
        return self.client_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self):
        d = asdict(self)
        d["per_cpu_s"] = self.per_cpu_s
        d["client_busy"] = round(self.client_busy, 3)
        return d


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured_run(server_name, server_pid, label, pipeline, requests, argv, parse, timeout):
    """Run the load `argv` (bounded by `timeout`) against a server; `parse(stdout)` gives its req/s.

    The server CPU counts the whole generator run, connection setup and mc_load's untimed preload
    included, so per-CPU-second figures are slightly pessimistic for both servers alike.
    """
    server_cpu0, client_cpu0, t0 = cpu_seconds(server_pid), _children_cpu(), time.monotonic()
    error = ""
    parsed = {}
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        parsed = parse(proc.stdout) if proc.stdout.strip() else {}
        if proc.returncode != 0 or not parsed.get("rps"):
            error = f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-300:]}"
            parsed = {}
    except subprocess.TimeoutExpired:
        error = f"timed out after {timeout:.0f}s"
    except (ValueError, KeyError) as exc:
        error = f"unparsable output: {exc}"
    wall = time.monotonic() - t0
    return RunResult(server_name, label, pipeline, parsed.get("requests", requests), parsed.get("rps"), wall,
                     cpu_seconds(server_pid) - server_cpu0, _children_cpu() - client_cpu0, error,
                     parsed.get("client_ceiling_rps"), parsed.get("client_busy"))
