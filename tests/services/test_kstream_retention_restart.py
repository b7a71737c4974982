"""The retention trim timer finds every stream after a restart, not only those a STREAM.* command touched
since startup: the streams loaded from the RDB (among plain keys, in several databases) are indexed by an
incremental scan and trimmed without any STREAM.* command naming them."""
import os
import time

import redis

from tests.support.servers import start_cachemere, wait_for

RECORD = 2000          # bytes of random data per record: DUMP's LZF cannot shrink them, so its size tells


def test_streams_loaded_at_startup_are_trimmed_without_being_touched():
    srv = start_cachemere()
    workdir = srv.dir
    try:
        r = redis.Redis(port=srv.port)
        pipe = r.pipeline(transaction=False)
        for i in range(20000):
            pipe.set("plain:%d" % i, i)
        pipe.execute()
        for db in (0, 3):
            r.execute_command("SELECT", db)
            for name in ("s-a", "s-b"):
                r.execute_command("STREAM.CREATE", name, "SHARDS", 2, "RETENTIONMS", 1500)
                for i in range(4):
                    r.execute_command("STREAM.PUT", name, "pk%d" % i, os.urandom(RECORD))
            r.execute_command("STREAM.CREATE", "long-lived", "SHARDS", 1)     # default 24 h retention
            r.execute_command("STREAM.PUT", "long-lived", "pk", os.urandom(RECORD))
        r.execute_command("SELECT", 0)
        r.save()
    finally:
        srv.stop()
    time.sleep(1.6)                                     # the records are past retention before the restart
    again = start_cachemere(workdir=workdir)
    try:
        clients = {db: redis.Redis(port=again.port, db=db) for db in (0, 3)}
        assert clients[0].dbsize() == 20000 + 3
        # only generic commands from here on: DUMP's size shows whether the expired records are still held
        sizes = {(db, name): len(clients[db].dump(name)) for db in (0, 3) for name in ("s-a", "s-b")}
        assert all(n > 4 * RECORD for n in sizes.values())      # loaded with their records
        def trimmed():
            return all(len(clients[db].dump(name)) < RECORD for db in (0, 3) for name in ("s-a", "s-b"))
        wait_for(trimmed, timeout=15, interval=0.2)
        for db in (0, 3):
            assert len(clients[db].dump("long-lived")) > RECORD  # within retention: kept
    finally:
        again.stop()
