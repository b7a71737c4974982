"""Real redis-server processes for the RDB codec tests (each started and stopped by the test)."""
import shutil
import socket
import subprocess
import time

import pytest
import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    """One redis-server bound to loopback, persisting only into ``directory``."""

    def __init__(self, directory, dbfilename="dump.rdb", extra_args=()):
        self.directory = directory
        self.dbfilename = dbfilename
        self.port = _free_port()
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(directory), "--dbfilename", dbfilename,
                "--daemonize", "no", "--loglevel", "warning", *extra_args]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.client = redis.Redis(port=self.port, socket_timeout=10)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client.ping():
                    break
            except redis.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = self.proc.stdout.read().decode(errors="replace") if self.proc.poll() is not None else ""
                self.stop()
                raise RuntimeError("redis-server did not start: %s" % output)
            time.sleep(0.05)
        # Redis still reports LOADING for a moment on big files.
        while self.client.info("persistence").get("loading", 0):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server kept loading")
            time.sleep(0.05)

    @property
    def rdb_path(self):
        return self.directory / self.dbfilename

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.client.close()


@pytest.fixture
def redis_factory(tmp_path):
    started = []

    def start(directory=None, **kwargs):
        server = RedisProcess(directory or tmp_path, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def redis_server(redis_factory):
    return redis_factory()
