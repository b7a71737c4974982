"""A server under valgrind callgrind, for the benchmarks that count instructions per request.

An instruction count does not move with the machine's load, so it shows a change of a few percent that timing
on shared cores cannot (it does not weigh cache misses: a guide beside bench/run.py, not a replacement).
The scripts (acl.py --callgrind, resp_callgrind.py, mc_callgrind.py, hash_callgrind.py, scripts_callgrind.py,
aof_callgrind.py, eviction_latency.py --callgrind) share this one harness:

    with CallgrindServer(server_argv("cachemere", port, cmd)) as srv:
        srv.run_load(load)                  # warm-up
        total = srv.count(lambda: srv.run_load(load))

Every process started here is stopped here, every wait is bounded.
"""
import glob
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.servers import CACHEMERE, free_port, wait_for_port  # noqa: E402


def server_argv(name, port, cachemere=CACHEMERE, workdir=None):
    """Cachemere's or redis-server's command line on 127.0.0.1:port, without persistence."""
    if name == "cachemere":
        argv = [cachemere, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0"]
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no"]
    if workdir:
        argv += ["--dir", workdir]
    return argv


class CallgrindServer:
    """server_argv run under `valgrind --tool=callgrind` in its own directory; wait_port is the port to wait for
    (None: do not wait). count() zeroes the counters, runs the load and returns the instructions it cost."""

    def __init__(self, argv, wait_port=None, prefix="cg-", start_timeout=600):
        self.workdir = tempfile.mkdtemp(prefix=prefix)
        self.argv = argv
        self.wait_port = wait_port
        self.start_timeout = start_timeout
        self.proc = None
        self.last_dump = None

    def __enter__(self):
        log = open(os.path.join(self.workdir, "server.log"), "ab")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.workdir}/cg.%p"] + self.argv
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        if self.wait_port is not None:
            try:
                wait_for_port(self.wait_port, timeout=self.start_timeout, proc=self.proc)   # valgrind starts slowly
            except BaseException:
                self.stop()
                raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def zero(self):
        subprocess.run(["callgrind_control", "-z", str(self.proc.pid)], capture_output=True, timeout=60)

    def dump_total(self):
        """Dump the counters; the instructions since the last zero (the dump's path is in last_dump)."""
        before = set(glob.glob(f"{self.workdir}/cg.*"))
        subprocess.run(["callgrind_control", "-d", str(self.proc.pid)], capture_output=True, timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            new = set(glob.glob(f"{self.workdir}/cg.*")) - before
            if new:
                time.sleep(0.5)                 # let valgrind finish writing it
                self.last_dump = new.pop()
                with open(self.last_dump) as f:
                    for line in f:
                        if line.startswith("summary:"):
                            return int(line.split()[1])
            time.sleep(0.2)
        raise TimeoutError("callgrind dump not written")

    def count(self, load):
        """Instructions the server ran during load() (a callable)."""
        self.zero()
        load()
        return self.dump_total()

    @staticmethod
    def run_load(argv, timeout=900):
        subprocess.run(argv, capture_output=True, timeout=timeout)


def function_instructions(dump, symbol):
    """Inclusive instructions of the function whose name ends with `symbol` in a callgrind dump."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", dump],
                         capture_output=True, text=True, timeout=300).stdout
    for line in out.splitlines():
        name = line.split(" [")[0].rstrip()
        if name.endswith(symbol):
            return int(line.split()[0].replace(",", ""))
    raise ValueError(f"{symbol} not found in {dump}")


__all__ = ["CallgrindServer", "server_argv", "function_instructions", "free_port"]
