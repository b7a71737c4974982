"""Benchmarks: Cachemere against a real redis-server and a real memcached, in the same run.

    python bench/run.py [--rounds 3] [--quick] [--suite core|memcached|types|pubsub|persistence|memory|all ...]
                        [--json out.json] [--cachemere CMD | --no-cachemere] [--seconds 2.5]

Servers are pinned to core 0 and the load generators to core 1 (taskset), all on 127.0.0.1 free ports:
Cachemere (`.venv/bin/cachemere-server`, or --cachemere CMD), `redis-server --save '' --appendonly no`
and `memcached -t 1 -U 0`. The RESP loads are redis-benchmark (-c 50, -P 1 and -P 16, -r keyspace), the
memcached loads bench/mc_load.py (pipelined, replies verified). Each load's request count is calibrated
per server so a run lasts about --seconds; then the runs are interleaved over rounds (the server order
alternates) and the medians are printed with Cachemere/reference ratios, both per wall second and per
server CPU-second (utime+stime from /proc/<pid>/stat). Without Cachemere only the references run.
Suites are defined in bench/suites.py.
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import memprobe  # noqa: E402
from bench.measure import (SERVER_CORE, measured_run, mc_load_argv, parse_mc_load,  # noqa: E402
                           parse_redis_benchmark_for, pinned, redis_benchmark_argv)
from bench.mc_load import preload as mc_preload  # noqa: E402
from bench.report import format_table, machine_info, summarize  # noqa: E402
from bench.suites import SUITE_ORDER, SUITES  # noqa: E402
from server import progress  # noqa: E402
from tests.support.servers import ServerProcess, free_port, wait_for_port  # noqa: E402

DEFAULT_CACHEMERE = os.path.join(ROOT, ".venv", "bin", "cachemere-server")
MIN_REQUESTS, MAX_REQUESTS = 2_000, 50_000_000


class Servers:
    """The servers of one suite; stop() stops exactly the processes started here."""

    def __init__(self, workdir, cachemere_cmd, need_redis, need_memcached, server_args):
        self.workdir = workdir
        self.procs = {}         # name -> ServerProcess
        self.resp_port = {}     # name -> RESP port
        self.mc_port = {}       # name -> memcached-protocol port
        try:
            if cachemere_cmd:
                self._start_cachemere(cachemere_cmd, server_args, need_memcached)
            if need_redis:
                port = free_port()
                self.procs["redis"] = ServerProcess(
                    pinned(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", workdir] + list(server_args), SERVER_CORE),
                    port, workdir, os.path.join(workdir, "redis.log"))
                self.resp_port["redis"] = port
            if need_memcached:
                port = free_port()
                argv = ["memcached", "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-t", "1", "-m", "2048"]
                if os.geteuid() == 0:
                    argv += ["-u", "root"]    # memcached refuses to run as root without it
                self.procs["memcached"] = ServerProcess(pinned(argv, SERVER_CORE), port, workdir,
                                                        os.path.join(workdir, "memcached.log"))
                self.mc_port["memcached"] = port
        except BaseException:
            self.stop()
            raise

    def _start_cachemere(self, cmd, server_args, need_memcached):
        port, mc_port = free_port(), free_port()
        argv = shlex.split(cmd) + ["--port", str(port), "--memcached-port", str(mc_port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no"] + list(server_args)
        self.procs["cachemere"] = ServerProcess(pinned(argv, SERVER_CORE), port, self.workdir,
                                                os.path.join(self.workdir, "cachemere.log"))
        self.resp_port["cachemere"] = port
        if need_memcached:
            try:
                wait_for_port(mc_port, timeout=5, proc=self.procs["cachemere"].proc)
                self.mc_port["cachemere"] = mc_port
            except Exception:
                print("cachemere: no memcached listener; its memcached rows are skipped")

    def pid(self, name):
        return self.procs[name].proc.pid

    def stop(self):
        for proc in self.procs.values():
            proc.stop()


def calibrated_requests(rps, seconds):
    return int(min(MAX_REQUESTS, max(MIN_REQUESTS, (rps or 0) * seconds)))


def run_suite(suite, args, cachemere_cmd, all_runs):
    """Run one suite on fresh servers; prints and returns its summary rows."""
    print(f"\n== suite {suite.name}" + (f" ({suite.notes})" if suite.notes else ""))
    workdir = tempfile.mkdtemp(prefix=f"cachemere-bench-{suite.name}-")
    need_redis = bool(suite.redis) or suite.memory_probe
    need_mc = bool(suite.memcached) or suite.memory_probe
    servers = Servers(workdir, cachemere_cmd, need_redis, need_mc, suite.server_args)
    try:
        if suite.memory_probe:
            return memory_suite(servers, args)
        if suite.setup:
            for port in servers.resp_port.values():
                suite.setup(port, args.quick)
        for case in suite.memcached:      # the gets must find the values mc_load expects
            for port in servers.mc_port.values():
                mc_preload("127.0.0.1", port, case.keyspace, case.value_size, timeout=60)
        loads = list(_loads(suite, servers, args))
        requests = {}
        per_round = sum(len(load["servers"]) for load in loads)
        # a bar on a terminal (server/progress.py): calibration plus every round's runs; nothing in a pipe
        bar = progress.bar(per_round * (1 + args.rounds), f"suite {suite.name}", "run", leave=False)
        for load in loads:                # calibration (also a warm-up): not counted
            for name in load["servers"]:
                probe = load["probe"]
                bar.set_postfix_str(f"calibrating {load['label']} P{load['pipeline']} on {name}")
                result = _run(load, name, probe, timeout=30 + probe / 2000)
                bar.update()
                requests[(load["key"], name)] = calibrated_requests(result.rps, args.seconds)
                if result.error:
                    bar.write(f"  calibration {load['label']} P{load['pipeline']} on {name}: {result.error}")
        runs = []
        for rnd in range(args.rounds):
            for i, load in enumerate(loads):
                order = load["servers"] if (rnd + i) % 2 == 0 else load["servers"][::-1]
                for name in order:
                    n = requests[(load["key"], name)]
                    bar.set_postfix_str(f"round {rnd + 1} {load['label']} P{load['pipeline']} on {name}")
                    result = _run(load, name, n, timeout=15 + 10 * args.seconds)
                    bar.update()
                    if result.error:
                        bar.write(f"  {load['label']} P{load['pipeline']} on {name}: {result.error}")
                    runs.append(result)
            bar.write(f"  round {rnd + 1}/{args.rounds} done")
        bar.close()
        all_runs.extend(runs)
        ref_of = {load["label"]: load["reference"] for load in loads}
        rows = summarize(runs, lambda label: ref_of[label])
        print(format_table(rows))
        return rows
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _loads(suite, servers, args):
    """Every (case, pipeline) of the suite with the servers it runs on and how to run it there."""
    for case in suite.redis:
        names = [n for n in ("cachemere", "redis") if n in servers.resp_port]
        for p in case.pipelines:
            yield {"key": (case.label, p), "label": case.label, "pipeline": p, "reference": "redis",
                   "servers": names, "probe": 10_000 * p if p > 1 else 20_000, "servers_obj": servers,
                   "argv": lambda name, n, case=case, p=p: redis_benchmark_argv(servers.resp_port[name], case, p, n),
                   "parse": parse_redis_benchmark_for(case)}
    for case in suite.memcached:
        names = [n for n in ("cachemere", "memcached") if n in servers.mc_port]
        for p in case.pipelines:
            yield {"key": (case.label, p), "label": case.label, "pipeline": p, "reference": "memcached",
                   "servers": names, "probe": 5_000 * p if p > 1 else 10_000, "servers_obj": servers,
                   "argv": lambda name, n, timeout, case=case, p=p: mc_load_argv(servers.mc_port[name], case, p,
                                                                                   n, timeout),
                   "parse": parse_mc_load}


def _run(load, name, requests, timeout):
    servers = load["servers_obj"]
    if load["reference"] == "memcached":
        argv = load["argv"](name, requests, timeout - 5)    # mc_load stops itself first
    else:
        argv = load["argv"](name, requests)
    return measured_run(name, servers.pid(name), load["label"], load["pipeline"], requests, argv, load["parse"],
                        timeout)


def memory_suite(servers, args):
    n = args.memory_keys or (100_000 if args.quick else 1_000_000)
    probes = []
    if "cachemere" in servers.procs:
        probes.append(("cachemere", "resp", servers.resp_port["cachemere"], b"r"))
        if "cachemere" in servers.mc_port:
            probes.append(("cachemere", "memcached", servers.mc_port["cachemere"], b"m"))
    probes += [("redis", "resp", servers.resp_port["redis"], b"r"),
               ("memcached", "memcached", servers.mc_port["memcached"], b"m")]
    rows = []
    for name, protocol, port, prefix in probes:
        per_key = memprobe.bytes_per_key(servers.pid(name), port, n, protocol, prefix=prefix)
        rows.append({"server": name, "protocol": protocol, "keys": n, "bytes_per_key": per_key})
    ref = {"resp": "redis", "memcached": "memcached"}
    ref_value = {r["protocol"]: r["bytes_per_key"] for r in rows if r["server"] == ref[r["protocol"]]}
    print(f"{n:,} keys, 16-byte keys, 32-byte values (RSS growth per key; Cachemere's memcached keys are "
          f"added on top of its RESP keys)")
    print(f"{'server':10} {'protocol':10} {'B/key':>8} {'vs reference':>13}")
    for r in rows:
        ratio = r["bytes_per_key"] / ref_value[r["protocol"]] if ref_value.get(r["protocol"]) else None
        r["ratio"] = ratio
        print(f"{r['server']:10} {r['protocol']:10} {r['bytes_per_key']:8.0f} "
              f"{(format(ratio, '.2f') + 'x') if ratio else '-':>13}")
    return rows


def tool_versions():
    def first_line(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "?"
    return {"redis-server": first_line(["redis-server", "--version"]), "memcached": first_line(["memcached", "-V"])}


def resolve_cachemere(args):
    if args.no_cachemere:
        return None
    if args.cachemere:
        return args.cachemere
    if os.access(DEFAULT_CACHEMERE, os.X_OK):
        return shlex.quote(DEFAULT_CACHEMERE)
    return None


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (3; 2 with --quick)")
    ap.add_argument("--quick", action="store_true", help="short runs (~0.5 s) to check that everything works")
    ap.add_argument("--seconds", type=float, default=None, help="target length of one run (2.5; 0.5 with --quick)")
    ap.add_argument("--suite", action="append", default=None,
                    help=f"one of {', '.join(SUITE_ORDER)} or all; repeatable or comma-separated (core)")
    ap.add_argument("--cachemere", help="command that starts Cachemere (the port options are appended)")
    ap.add_argument("--no-cachemere", action="store_true", help="run the reference servers only")
    ap.add_argument("--memory-keys", type=int, default=None, help="keys for the memory suite (1M; 100k quick)")
    ap.add_argument("--json", help="write machine, every run and the summaries to this file")
    args = ap.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.seconds = args.seconds or (0.5 if args.quick else 2.5)
    names = [n for item in (args.suite or ["core"]) for n in item.split(",") if n]
    if "all" in names:
        names = [n for n in SUITE_ORDER if n != "memcached"]    # core already has the memcached rows
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        ap.error(f"unknown suite(s) {unknown}; known: {', '.join(SUITE_ORDER)}, all")
    args.suites = names
    return args


def main(argv=None):
    args = parse_args(argv)
    for tool in ("redis-server", "redis-benchmark", "memcached"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install redis-server redis-tools memcached")
    machine = machine_info()
    versions = tool_versions()
    print(f"machine: nproc {machine['nproc']}, {machine['cpu']}, {machine['kernel']}, Python {machine['python']}")
    print(f"reference: {versions['redis-server']}; {versions['memcached']}")
    cachemere_cmd = resolve_cachemere(args)
    print(f"cachemere: {cachemere_cmd or 'absent (references only)'}")
    print(f"{args.rounds} interleaved rounds, runs of ~{args.seconds} s; servers on core 0, load on core 1")
    runs, summaries = [], {}
    for name in args.suites:
        summaries[name] = run_suite(SUITES[name], args, cachemere_cmd, runs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "versions": versions, "cachemere": cachemere_cmd,
                       "rounds": args.rounds, "seconds": args.seconds, "summaries": summaries,
                       "runs": [r.as_dict() for r in runs]}, f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
