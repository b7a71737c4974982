"""The append-only file at process level: multi-part layout, restart, rewrite, redis interop, truncation."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.persistence.helpers import client, contents, populate, redis_in, start_in
from tests.support.servers import RawConnection, wait_for

AOF = ("--appendonly", "yes")


def aof_files(workdir):
    return sorted(os.listdir(os.path.join(str(workdir), "appendonlydir")))


def manifest(workdir):
    with open(os.path.join(str(workdir), "appendonlydir", "appendonly.aof.manifest")) as f:
        return f.read()


def incr_path(workdir, seq=1):
    return os.path.join(str(workdir), "appendonlydir", "appendonly.aof.%d.incr.aof" % seq)


def test_layout_restart_and_rewrite(tmp_path):
    srv = start_in(tmp_path, *AOF)
    try:
        r = client(srv)
        populate(r)
        assert aof_files(tmp_path) == ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof",
                                       "appendonly.aof.manifest"]
        assert manifest(tmp_path) == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                                      "file appendonly.aof.1.incr.aof seq 1 type i\n")
        expected = contents(srv)
    finally:
        srv.stop(signal.SIGKILL)
    srv = start_in(tmp_path, *AOF)
    try:
        assert contents(srv) == expected
        r = client(srv)
        assert RawConnection(srv.port).command("BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
        wait_for(lambda: r.info("persistence")["aof_rewrites"] == 1, timeout=10)
        r.set("after-rewrite", "1")
        expected = contents(srv)
        assert manifest(tmp_path) == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                                      "file appendonly.aof.2.incr.aof seq 2 type i\n")
        assert aof_files(tmp_path) == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof",
                                       "appendonly.aof.manifest"]
    finally:
        srv.stop(signal.SIGKILL)
    check = subprocess.run(["redis-check-aof", os.path.join(str(tmp_path), "appendonlydir", "appendonly.aof.manifest")],
                           capture_output=True, timeout=30)
    assert check.returncode == 0 and b"All AOF files and manifest are valid" in check.stdout, check.stdout
    srv = start_in(tmp_path, *AOF)
    try:
        assert contents(srv) == expected
    finally:
        srv.stop()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_redis_server_loads_our_appendonlydir(tmp_path, preamble):
    srv = start_in(tmp_path, *AOF, "--aof-use-rdb-preamble", preamble)
    try:
        r = client(srv)
        populate(r)
        r.bgrewriteaof()
        wait_for(lambda: r.info("persistence")["aof_rewrites"] == 1, timeout=10)
        r.set("tail", "after rewrite")
        r.delete("s:small")
        expected = contents(srv)
    finally:
        srv.stop()
    suffix = ".rdb" if preamble == "yes" else ".aof"
    assert "appendonly.aof.2.base" + suffix in aof_files(tmp_path)
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    shutil.copytree(tmp_path / "appendonlydir", ref_dir / "appendonlydir")
    ref = redis_in(ref_dir, "--appendonly", "yes")
    try:
        assert contents(ref) == expected
    finally:
        ref.stop()


def test_redis_appendonlydir_loads_here(tmp_path):
    ref = redis_in(tmp_path, "--appendonly", "yes")
    try:
        populate(client(ref))
        client(ref).incrby("counter", 5)
        expected = contents(ref)
    finally:
        ref.stop()
    srv = start_in(tmp_path, *AOF)
    try:
        assert contents(srv) == expected
    finally:
        srv.stop()


def _write_then_stop(workdir, *commands):
    srv = start_in(workdir, *AOF)
    r = client(srv)
    for args in commands:
        r.execute_command(*args)
    srv.stop()


def test_truncated_aof_loads_when_allowed_and_refuses_otherwise(tmp_path):
    _write_then_stop(tmp_path, ("SET", "foo", "5"), ("SET", "bar", "x"))
    with open(incr_path(tmp_path), "ab") as f:
        f.write(b"*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$1\r\n")        # torn last command
    size_before = os.path.getsize(incr_path(tmp_path))
    code, log = start_in(tmp_path, *AOF, "--aof-load-truncated", "no", expect_failure=True)
    assert code != 0
    assert "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof" in log
    srv = start_in(tmp_path, *AOF, "--aof-load-truncated", "yes")
    try:
        r = client(srv)
        assert r.get("foo") == b"5" and r.get("bar") == b"x"
        log = srv.log()
        assert "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!" in log
        assert "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset " in log
        assert "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled" in log
        assert os.path.getsize(incr_path(tmp_path)) < size_before
        r.incr("foo")                                              # appended after the truncation point
    finally:
        srv.stop(signal.SIGKILL)
    srv = start_in(tmp_path, *AOF)
    try:
        assert client(srv).get("foo") == b"6"
    finally:
        srv.stop()


def test_unfinished_multi_is_reverted(tmp_path):
    _write_then_stop(tmp_path, ("SET", "foo", "1"))
    with open(incr_path(tmp_path), "ab") as f:
        f.write(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$1\r\n2\r\n")
    srv = start_in(tmp_path, *AOF)
    try:
        assert client(srv).get("foo") == b"1"
        assert "Revert incomplete MULTI/EXEC transaction in AOF file appendonly.aof.1.incr.aof" in srv.log()
    finally:
        srv.stop()


def test_corruption_in_the_middle_refuses_to_start(tmp_path):
    _write_then_stop(tmp_path, ("SET", "a", "1"), ("SET", "b", "2"), ("SET", "c", "3"))
    data = bytearray(open(incr_path(tmp_path), "rb").read())
    data[bytes(data).lower().index(b"*3\r\n$3\r\nset\r\n$1\r\nb")] = ord("!")   # SET b no longer parses
    open(incr_path(tmp_path), "wb").write(bytes(data))
    code, log = start_in(tmp_path, *AOF, expect_failure=True)
    assert code != 0
    assert "Bad file format reading the append only file appendonly.aof.1.incr.aof" in log


def test_enable_at_runtime_and_auto_rewrite(tmp_path):
    srv = start_in(tmp_path, "--auto-aof-rewrite-min-size", "4096", "--auto-aof-rewrite-percentage", "100")
    try:
        r = client(srv)
        r.mset({"pre%d" % i: "v" for i in range(100)})
        assert r.config_set("appendonly", "yes")
        wait_for(lambda: r.info("persistence")["aof_rewrites"] == 1, timeout=10)
        assert manifest(tmp_path) == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                                      "file appendonly.aof.1.incr.aof seq 1 type i\n")
        for i in range(200):                       # grow the incr file past min-size and 100% of the base
            r.set("grow%d" % i, "x" * 50)
        wait_for(lambda: r.info("persistence")["aof_rewrites"] >= 2, timeout=10)
        expected = contents(srv)
    finally:
        srv.stop(signal.SIGKILL)
    srv = start_in(tmp_path, *AOF)
    try:
        assert contents(srv) == expected
    finally:
        srv.stop()


def test_rewrite_under_writes_keeps_every_increment(tmp_path):
    srv = start_in(tmp_path, *AOF, "--rdb-key-save-delay", "1000")
    try:
        r = client(srv)
        r.mset({"pad%d" % i: "v" for i in range(300)})      # ~0.3 s of child work
        r.bgrewriteaof()
        done = 0
        deadline = time.monotonic() + 10
        while (done < 2000 or r.info("persistence")["aof_rewrite_in_progress"]) and time.monotonic() < deadline:
            p = r.pipeline(transaction=False)
            for _ in range(100):
                p.incr("counter")
            p.execute()
            done += 100
        wait_for(lambda: r.info("persistence")["aof_rewrites"] == 1, timeout=10)
        assert int(r.get("counter")) == done
    finally:
        srv.stop(signal.SIGKILL)
    srv = start_in(tmp_path, *AOF)
    try:
        assert int(client(srv).get("counter")) == done
    finally:
        srv.stop()
