"""RDB snapshots at process level: SAVE/BGSAVE, restart, SIGTERM, interop with redis-server, corruption."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from engine.persistence.rdb import RdbReader
from tests.persistence.helpers import client, contents, populate, redis_in, start_in
from tests.support.servers import RawConnection, wait_for


def info(r):
    return r.info("persistence")


def test_save_restart_keeps_data(tmp_path):
    srv = start_in(tmp_path)
    try:
        r = client(srv)
        populate(r)
        before = contents(srv)
        assert r.save() is True
        assert info(r)["rdb_changes_since_last_save"] == 0
        assert info(r)["rdb_saves"] == 1
    finally:
        srv.stop(signal.SIGKILL)
    srv = start_in(tmp_path)
    try:
        assert contents(srv) == before
        log = srv.log()
        assert "Done loading RDB, keys loaded: 19, keys expired: 0." in log
        assert "DB loaded from disk: " in log
        assert info(client(srv))["rdb_last_load_keys_loaded"] == 19
    finally:
        srv.stop()


def test_sigterm_with_save_rules_writes_dump(tmp_path):
    srv = start_in(tmp_path, "--save", "3600", "1")
    r = client(srv)
    r.set("k", "v")
    r.hset("h", "a", "b")
    assert not os.path.exists(tmp_path / "dump.rdb")
    assert srv.stop(signal.SIGTERM) == 0
    assert "Saving the final RDB snapshot before exiting." in srv.log()
    entries = {(e[1], e[2]) for e in RdbReader(str(tmp_path / "dump.rdb")).entries()}
    assert entries == {(b"k", "string"), (b"h", "hash")}


def test_shutdown_nosave_skips_and_save_forces(tmp_path):
    srv = start_in(tmp_path, "--save", "3600", "1")
    client(srv).set("k", "v")
    RawConnection(srv.port).send(b"SHUTDOWN NOSAVE\r\n")
    srv.proc.wait(10)
    assert not os.path.exists(tmp_path / "dump.rdb")
    srv = start_in(tmp_path)              # no save rules: SHUTDOWN SAVE still saves
    client(srv).set("k", "v")
    RawConnection(srv.port).send(b"SHUTDOWN SAVE\r\n")
    srv.proc.wait(10)
    assert os.path.exists(tmp_path / "dump.rdb")


def test_missing_file_starts_empty_and_corrupt_file_refuses(tmp_path):
    srv = start_in(tmp_path)
    r = client(srv)
    assert r.dbsize() == 0
    populate(r)
    r.save()
    srv.stop()
    good = (tmp_path / "dump.rdb").read_bytes()
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    (tmp_path / "dump.rdb").write_bytes(bytes(corrupt))
    code, log = start_in(tmp_path, expect_failure=True)
    assert code != 0
    assert "Fatal error loading the DB" in log
    (tmp_path / "dump.rdb").write_bytes(good[:len(good) // 2])   # truncated
    code, log = start_in(tmp_path, expect_failure=True)
    assert code != 0
    assert "Short read or OOM loading DB. Unrecoverable error, aborting now." in log


def test_our_dump_passes_redis_check_rdb_and_loads_in_redis(tmp_path):
    srv = start_in(tmp_path)
    try:
        populate(client(srv))
        expected = contents(srv)
        client(srv).save()
    finally:
        srv.stop()
    check = subprocess.run(["redis-check-rdb", str(tmp_path / "dump.rdb")], capture_output=True, timeout=30)
    assert b"RDB looks OK" in check.stdout, check.stdout
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    shutil.copy(tmp_path / "dump.rdb", ref_dir / "dump.rdb")
    ref = redis_in(ref_dir)
    try:
        assert contents(ref) == expected
    finally:
        ref.stop()


def test_redis_dump_loads_in_cachemere(tmp_path):
    ref = redis_in(tmp_path)
    try:
        populate(client(ref))
        expected = contents(ref)
        client(ref).save()
    finally:
        ref.stop()
    srv = start_in(tmp_path)
    try:
        assert contents(srv) == expected
    finally:
        srv.stop()


def test_bgsave_is_a_point_in_time_image(tmp_path):
    # 300 keys at 2 ms each: the child runs ~0.6 s while the parent keeps serving writes
    srv = start_in(tmp_path, "--rdb-key-save-delay", "2000")
    try:
        r = client(srv)
        r.mset({"k%d" % i: "before" for i in range(300)})
        assert RawConnection(srv.port).command("BGSAVE") == b"+Background saving started\r\n"
        assert info(r)["rdb_bgsave_in_progress"] == 1
        with pytest.raises(Exception, match="Background save already in progress"):
            r.bgsave()
        served = 0
        deadline = time.monotonic() + 10
        while info(r)["rdb_bgsave_in_progress"] and time.monotonic() < deadline:
            p = r.pipeline(transaction=False)
            for i in range(0, 300, 7):
                p.set("k%d" % i, "after")
            p.set("new%d" % served, "x")
            p.execute()
            served += 1
        assert served > 3                     # the parent kept serving during the save
        persistence = info(r)
        assert persistence["rdb_last_bgsave_status"] == "ok"
        assert r.info("stats")["latest_fork_usec"] > 0
        # what the writes did after the fork is still unsaved
        assert persistence["rdb_changes_since_last_save"] >= served
    finally:
        srv.stop()
    values = {e[1]: e[3] for e in RdbReader(str(tmp_path / "dump.rdb")).entries()}
    assert values == {b"k%d" % i: b"before" for i in range(300)}
    assert "Background saving terminated with success" in srv.log()


def test_failed_bgsave_refuses_writes_with_misconf(tmp_path):
    srv = start_in(tmp_path, "--save", "3600", "1000")
    try:
        r = client(srv)
        r.set("k", "v")
        blocker = tmp_path / "dump.rdb"          # rename() onto a non-empty directory fails
        blocker.mkdir()
        (blocker / "x").write_text("x")
        r.bgsave()
        wait_for(lambda: info(r)["rdb_last_bgsave_status"] == "err", timeout=10)
        with pytest.raises(Exception, match="MISCONF"):
            r.set("k", "w")
        assert r.get("k") == b"v"                # reads still work
        shutil.rmtree(blocker)
        r.bgsave()
        wait_for(lambda: info(r)["rdb_last_bgsave_status"] == "ok", timeout=10)
        assert r.set("k", "w") is True
    finally:
        srv.stop()


def test_bgsave_schedule_and_debug_reload(tmp_path):
    srv = start_in(tmp_path, "--rdb-key-save-delay", "1000", "--enable-debug-command", "yes")
    try:
        r = client(srv)
        r.mset({"k%d" % i: i for i in range(200)})
        r.bgrewriteaof()   # a child is busy: BGSAVE must be scheduled
        raw = RawConnection(srv.port)
        assert raw.command("BGSAVE", "SCHEDULE") == b"+Background saving scheduled\r\n"
        assert raw.command("BGREWRITEAOF") == b"-ERR Background append only file rewriting already in progress\r\n"
        wait_for(lambda: info(r)["rdb_saves"] >= 1 and not info(r)["rdb_bgsave_in_progress"], timeout=15)
        assert r.execute_command("DEBUG", "RELOAD") == b"OK"
        assert r.dbsize() == 200 and r.get("k7") == b"7"
        assert r.lastsave() is not None
    finally:
        srv.stop()


def test_flushall_with_save_rules_saves_empty_dataset(tmp_path):
    srv = start_in(tmp_path, "--save", "3600", "1")
    try:
        r = client(srv)
        r.set("a", 1)
        r.save()
        r.flushall()
        assert list(RdbReader(str(tmp_path / "dump.rdb")).entries()) == []
    finally:
        srv.stop()
