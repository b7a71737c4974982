"""TLS GET/SET throughput: Cachemere's TLS port against redis-server's own (Debian's 7.0.15 is built with
TLS), same certificates, side by side, with the plaintext ports as a baseline.

    python bench/tls.py [--rounds 3] [--requests 200000] [--clients 50] [--cachemere CMD]

Both servers run `--port 0 --tls-port P --tls-auth-clients yes` with a CA, a server and a client certificate
made with the openssl CLI; redis-benchmark --tls presents the client certificate.  The servers are pinned
to core 0 and the load to core 1 (bench/measure.py); each row is the median over the rounds (alternating
which server goes first), with requests per server CPU-second next to the wall rate.  Every server started
here is stopped here, every subprocess has a timeout.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.measure import measured_run, parse_redis_benchmark_csv, pinned, LOAD_CORE, SERVER_CORE  # noqa: E402
from server import progress  # noqa: E402
from tests.security.conftest import make_certs  # noqa: E402
from tests.support.servers import CACHEMERE, ServerProcess, free_port  # noqa: E402


def start(kind, certs, tls, cachemere_cmd):
    workdir = tempfile.mkdtemp(prefix=f"bench-tls-{kind}-")
    port = free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir]
    if tls:
        common += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", certs["server_crt"],
                   "--tls-key-file", certs["server_key"], "--tls-ca-cert-file", certs["ca_crt"]]
    else:
        common += ["--port", str(port)]
    if kind == "cachemere":
        argv = cachemere_cmd + common + ["--memcached-port", "0"]
    else:
        argv = ["redis-server"] + common
    return ServerProcess(pinned(argv, SERVER_CORE), port, workdir, os.path.join(workdir, "log"))


def bench_argv(port, certs, tls, test, pipeline, clients, requests):
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients), "-P", str(pipeline),
            "-n", str(requests), "-r", "100000", "-t", test, "-q", "--csv"]
    if tls:
        argv += ["--tls", "--cacert", certs["ca_crt"], "--cert", certs["client_crt"], "--key", certs["client_key"]]
    return pinned(argv, LOAD_CORE)


def server_pid(srv):
    """The server's own pid (under taskset the Popen child execs the server, so it is the same)."""
    return srv.proc.pid


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--cachemere", default=CACHEMERE, help="command that starts Cachemere")
    args = ap.parse_args(argv)
    cachemere_cmd = args.cachemere.split()
    certs = make_certs(tempfile.mkdtemp(prefix="bench-tls-certs-"))
    results = {}
    cases = [(tls, test, p) for tls in (True, False) for test in ("set", "get") for p in (1, 16)]
    servers = {}
    try:
        for tls in (True, False):
            for kind in ("cachemere", "redis"):
                servers[(kind, tls)] = start(kind, certs, tls, cachemere_cmd)
        for (kind, tls), srv in servers.items():        # warm-up, not counted (first handshakes, caches)
            subprocess.run(bench_argv(srv.port, certs, tls, "set", 1, args.clients, 20000), capture_output=True,
                           timeout=120)
        bar = progress.bar(args.rounds * len(cases) * 2, "tls bench", "run", leave=False)   # a TTY only
        for rnd in range(args.rounds):
            order = ("cachemere", "redis") if rnd % 2 == 0 else ("redis", "cachemere")
            for tls, test, pipeline in cases:
                for kind in order:
                    srv = servers[(kind, tls)]
                    n = args.requests * (4 if pipeline > 1 else 1)
                    bar.set_postfix_str(f"round {rnd + 1} {kind} {'tls' if tls else 'plain'} {test} -P {pipeline}")
                    run = measured_run(kind, server_pid(srv), test, pipeline, n,
                                       bench_argv(srv.port, certs, tls, test, pipeline, args.clients, n),
                                       lambda out, t=test: {"rps": parse_redis_benchmark_csv(out).get(t.upper())},
                                       timeout=300)
                    bar.update()
                    if run.error:
                        bar.write(f"  ! {kind} {'tls' if tls else 'plain'} {test} -P {pipeline}: {run.error}")
                        continue
                    results.setdefault((kind, tls, test, pipeline), []).append(run)
        bar.close()
    finally:
        for srv in servers.values():
            srv.stop()
    print(f"\nredis-benchmark -c {args.clients} -r 100000, median of {args.rounds} rounds "
          f"(rps = wall requests/s; /cpu = requests per server CPU-second)\n")
    print(f"{'transport':9} {'test':4} {'-P':>3} {'cachemere rps':>14} {'redis rps':>12} {'ratio':>6} "
          f"{'cm /cpu':>10} {'redis /cpu':>11} {'ratio':>6}")
    for tls, test, pipeline in cases:
        ours = results.get(("cachemere", tls, test, pipeline), [])
        theirs = results.get(("redis", tls, test, pipeline), [])
        if not ours or not theirs:
            continue
        o_rps = statistics.median(r.rps for r in ours)
        t_rps = statistics.median(r.rps for r in theirs)
        o_cpu = statistics.median(r.per_cpu_s or 0 for r in ours)
        t_cpu = statistics.median(r.per_cpu_s or 0 for r in theirs)
        print(f"{'tls' if tls else 'plain':9} {test:4} {pipeline:>3} {o_rps:>14,.0f} {t_rps:>12,.0f} "
              f"{o_rps / t_rps:>6.2f} {o_cpu:>10,.0f} {t_cpu:>11,.0f} {(o_cpu / t_cpu if t_cpu else 0):>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
