"""Executions on a replica: it applies the primary's WF._APPLY effects (same history, byte for byte), never
fires a timer itself, and after a promotion (REPLICAOF NO ONE once the primary is killed) it resumes the
waiting executions where their history says."""
import json
import time

import redis

from services.workflow.asl.runtime import fold
from tests.replication.helpers import wait_caught_up, wait_link_up
from tests.support.servers import start_cachemere, wait_for

WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "P"},
                                              "P": {"Type": "Pass", "Result": "done", "End": True}}})


def c(s):
    return redis.Redis(port=s.port, decode_responses=True, protocol=3)


def test_replica_follows_and_a_promoted_replica_resumes():
    primary = start_cachemere()
    replica = start_cachemere("--replicaof", "127.0.0.1", primary.port)
    try:
        p, r = c(primary), c(replica)
        wait_link_up(replica)
        p.execute_command("WF.CONFIG", "SET", "time-scale", "0.1")
        r.execute_command("WF.CONFIG", "SET", "time-scale", "0.1")
        p.execute_command("WF.CREATE", "sm", WAIT)
        short = p.execute_command("WF.START", "sm", "NAME", "short", "INPUT", '{"s":2}')["exec"]
        long_ = p.execute_command("WF.START", "sm", "NAME", "long", "INPUT", '{"s":30}')["exec"]
        wait_caught_up(primary, replica)
        assert r.execute_command("WF.EXEC", short)["status"] == "RUNNING"
        wait_for(lambda: p.execute_command("WF.EXEC", short)["status"] == "SUCCEEDED", timeout=5)
        wait_caught_up(primary, replica)
        assert r.execute_command("WF.HISTORY", short) == p.execute_command("WF.HISTORY", short)
        assert r.execute_command("WF.EXEC", short)["status"] == "SUCCEEDED"
        before = r.execute_command("WF.HISTORY", long_)
        assert fold(before)["open"] == {"W": 1}
        primary.kill9()
        time.sleep(0.5)
        assert r.execute_command("WF.HISTORY", long_) == before          # a replica never fires timers
        r.execute_command("REPLICAOF", "NO", "ONE")
        d = wait_for(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(
            r.execute_command("WF.EXEC", long_)), timeout=8)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == "done"
        h = r.execute_command("WF.HISTORY", long_)
        assert h[:len(before)] == before and [e["id"] for e in h] == list(range(1, len(h) + 1))
        assert fold(h)["status"] == "SUCCEEDED"
    finally:
        replica.stop()
        primary.stop()
