"""A replica of a redis-server primary whose diskless sync waits (repl-diskless-sync-delay) receives newlines
before +FULLRESYNC; like redis's replica (slaveTryPartialResynchronization) it keeps waiting for the reply."""
import redis

from tests.support.servers import start_cachemere, start_redis, wait_for


def test_newlines_before_fullresync_are_keepalives():
    primary = start_redis("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "2")
    replica = start_cachemere()
    try:
        redis.Redis(port=primary.port).set("k", "v")
        r = redis.Redis(port=replica.port)
        r.execute_command("REPLICAOF", "127.0.0.1", primary.port)
        wait_for(lambda: r.info("replication")["master_link_status"] == "up", timeout=20)
        assert r.get("k") == b"v"
        assert "Unexpected reply to PSYNC" not in replica.log()
    finally:
        replica.stop()
        primary.stop()
