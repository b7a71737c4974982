"""Progress bars on long CLI operations (server/progress.py): loading a big RDB at startup draws a tqdm bar
on a terminal (a pty here), and without a terminal the log is exactly the redis-style lines it always was."""
import os
import pty
import re
import select
import subprocess
import time

import pytest
import redis

from tests.support.servers import CACHEMERE, free_port, start_redis, wait_for_port

KEYS = 800_000
LOG_LINE = re.compile(r"^\d+:[MCSX] \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} [.\-*#] .+$|^\d+:signal-handler .+$")


@pytest.fixture(scope="module")
def big_rdb():
    """A dump.rdb of KEYS keys made by a real redis-server (DEBUG POPULATE + SAVE)."""
    srv = start_redis("--enable-debug-command", "yes")
    try:
        r = redis.Redis(port=srv.port)
        r.execute_command("DEBUG", "POPULATE", KEYS)
        r.save()
        r.close()
    finally:
        srv.stop()
    return srv.dir


def argv(workdir, port):
    return [CACHEMERE, "--port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0", "--save", "",
            "--appendonly", "no", "--dir", workdir]


def env_without_overrides():
    env = dict(os.environ)
    env.pop("CACHEMERE_PROGRESS", None)
    env["TERM"] = "xterm"
    env["CACHEMERE_PROGRESS_DELAY"] = "0.1"     # the load takes ~1 s here: a faster machine still shows it
    return env


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def test_loading_a_big_rdb_on_a_terminal_draws_a_progress_bar(big_rdb):
    port = free_port()
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv(big_rdb, port), stdin=slave, stdout=slave, stderr=slave, cwd=big_rdb,
                            env=env_without_overrides(), close_fds=True)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 60
        while b"Ready to accept connections" not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
        assert b"Ready to accept connections" in out, out[-2000:]
        assert redis.Redis(port=port).dbsize() == KEYS
    finally:
        stop(proc)
        os.close(master)
    text = out.decode("utf-8", "replace")
    assert "Loading RDB" in text
    bars = re.findall(r"Loading RDB: +(\d+)%\|", text)
    assert bars, text[-2000:]
    assert "100" in bars                                  # the bar ends full
    assert re.search(r"800k/800k", text)                  # keys counted with the RESIZEDB total
    assert "\r" in text                                   # redrawn in place


def test_without_a_terminal_the_log_is_unchanged(big_rdb):
    port = free_port()
    log_path = os.path.join(big_rdb, "notty.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv(big_rdb, port), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=big_rdb, env=env_without_overrides())
        try:
            wait_for_port(port, timeout=60, proc=proc)
            assert redis.Redis(port=port).dbsize() == KEYS
        finally:
            stop(proc)
    with open(log_path, "rb") as f:
        data = f.read().decode()
    assert "\r" not in data and "%|" not in data and "\x1b" not in data
    lines = data.splitlines()
    assert lines and all(LOG_LINE.match(line) for line in lines), [l for l in lines if not LOG_LINE.match(l)]
    assert any("Done loading RDB, keys loaded: %d" % KEYS in line for line in lines)
