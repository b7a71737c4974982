"""Start real server processes on free loopback ports for tests: cachemere-server, redis-server, memcached.

Every wait is bounded; each helper stops only the process it started.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHEMERE = os.path.join(os.path.dirname(sys.executable), "cachemere-server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def wait_for(condition, timeout=5.0, interval=0.02):
    """Poll condition() until truthy; returns its value or raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


class ServerProcess:
    """A started server; .port, .proc, .dir, .log_path; stop() terminates it (SIGTERM, then SIGKILL)."""

    def __init__(self, argv, port, workdir, log_path, extra_ports=()):
        self.argv = argv
        self.port = port
        self.dir = workdir
        self.log_path = log_path
        self.extra_ports = extra_ports
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        try:
            wait_for_port(port, proc=self.proc)
            for p in extra_ports:
                wait_for_port(p, proc=self.proc)
        except Exception:
            self.stop()
            raise

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)


def start_cachemere(*args, memcached=False, workdir=None, config_file=None):
    """cachemere-server on free ports; extra `--directive value` pairs in args."""
    workdir = workdir or tempfile.mkdtemp(prefix="cachemere-")
    port = free_port()
    mc_port = free_port() if memcached else 0
    argv = [CACHEMERE] + ([config_file] if config_file else []) + [
        "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", str(mc_port),
        "--save", "", "--appendonly", "no", "--dir", workdir,
        # as the tests start redis-server: a full sync forks at once instead of waiting 5 s for more replicas
        "--repl-diskless-sync-delay", "0"] + [str(a) for a in args]
    srv = ServerProcess(argv, port, workdir, os.path.join(workdir, "server.log"),
                        extra_ports=(mc_port,) if mc_port else ())
    srv.mc_port = mc_port
    return srv


def start_redis(*args, workdir=None):
    workdir = workdir or tempfile.mkdtemp(prefix="redis-ref-")
    port = free_port()
    argv = [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", workdir] + [str(a) for a in args]
    return ServerProcess(argv, port, workdir, os.path.join(workdir, "redis.log"))


def start_memcached(*args):
    workdir = tempfile.mkdtemp(prefix="memcached-ref-")
    port = free_port()
    argv = [shutil.which("memcached") or "/usr/bin/memcached", "-p", str(port), "-l", "127.0.0.1", "-U", "0",
            "-t", "1"] + [str(a) for a in args]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    return ServerProcess(argv, port, workdir, os.path.join(workdir, "memcached.log"))


class RawConnection:
    """A raw socket client reading exact bytes (for byte-for-byte comparisons)."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""

    def send(self, data: bytes):
        self.sock.sendall(data)

    def read_until_quiet(self, settle=0.1, limit=1 << 20):
        """Everything the server sends until it stays silent for `settle` seconds (or closes)."""
        chunks = []
        self.sock.settimeout(settle)
        total = 0
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and total < limit:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
            total += len(data)
        self.sock.settimeout(self.timeout)
        return b"".join(chunks)

    def read_reply(self):
        """One complete RESP reply as raw bytes."""
        while True:
            end = _resp_end(self.buf, 0)
            if end is not None:
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data

    def command(self, *args):
        self.send(encode(*args))
        return self.read_reply()

    def is_closed(self, timeout=1.0):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
            return data == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(self.timeout)

    def close(self):
        self.sock.close()


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _resp_end(buf, pos):
    """Index just past the RESP value starting at pos, or None if incomplete."""
    if pos >= len(buf):
        return None
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    kind = buf[pos:pos + 1]
    if kind in (b"+", b"-", b":", b",", b"#", b"_", b"("):
        return nl + 2
    if kind in (b"$", b"=", b"!"):
        n = int(buf[pos + 1:nl])
        if n < 0:
            return nl + 2
        end = nl + 2 + n + 2
        return end if len(buf) >= end else None
    if kind in (b"*", b"~", b">", b"%", b"|"):
        n = int(buf[pos + 1:nl])
        if n < 0:
            return nl + 2
        if kind in (b"%", b"|"):
            n *= 2
        p = nl + 2
        for _ in range(n):
            p = _resp_end(buf, p)
            if p is None:
                return None
        if kind == b"|":   # attribute: followed by the actual value
            return _resp_end(buf, p)
        return p
    raise ValueError(f"bad RESP at {pos}: {buf[pos:pos + 20]!r}")
