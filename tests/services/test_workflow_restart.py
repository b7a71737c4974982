"""Executions survive DEBUG RELOAD and restarts (AOF and RDB, kill -9 included): a waiting execution
resumes where its history says, an overdue timer fires at once, and no event is doubled."""
import json
import time

import redis

from services.workflow.asl.runtime import fold
from tests.support.servers import start_cachemere, wait_for

WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "P"},
                                              "P": {"Type": "Pass", "Result": "done", "ResultPath": "$.r",
                                                    "End": True}}})
ACT = json.dumps({"StartAt": "T", "States": {"T": {"Type": "Task", "End": True,
                  "Resource": "arn:aws:states:us-east-1:000000000000:activity:jobs"}}})


def client(s):
    return redis.Redis(port=s.port, decode_responses=True, protocol=3)


def check_history(r, key, open_states=None):
    h = r.execute_command("WF.HISTORY", key)
    assert [e["id"] for e in h] == list(range(1, len(h) + 1))          # nothing doubled, nothing lost
    d = r.execute_command("WF.EXEC", key)
    folded = fold(h)                                                     # the history says what the runtime says
    assert folded["status"] == d["status"] and folded["error"] == d["error"]
    if d["status"] == "SUCCEEDED":
        assert folded["output"] == json.loads(d["output"])
    if open_states is not None:
        assert folded["open"] == open_states
    types = [e["type"] for e in h]
    assert types.count("ExecutionStarted") == 1 and types.count("WaitStateExited") <= 1
    return types


def finished(r, key):
    d = r.execute_command("WF.EXEC", key)
    return d if d["status"] != "RUNNING" else None


def test_debug_reload_keeps_a_waiting_execution_running():
    s = start_cachemere("--enable-debug-command", "yes")
    try:
        r = client(s)
        r.execute_command("WF.CREATE", "sm", WAIT)
        key = r.execute_command("WF.START", "sm", "NAME", "a", "INPUT", '{"s":1}')["exec"]
        assert r.execute_command("DEBUG", "RELOAD") == "OK"
        assert r.type(key) == "execution" and r.execute_command("WF.EXEC", key)["status"] == "RUNNING"
        d = wait_for(lambda: finished(r, key), timeout=5)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"s": 1, "r": "done"}
        check_history(r, key)
        # DUMP/RESTORE carries an execution, and the restored copy runs on its own
        k2 = r.execute_command("WF.START", "sm", "NAME", "b", "INPUT", '{"s":1}')["exec"]
        payload = redis.Redis(port=s.port).dump(k2)
        redis.Redis(port=s.port).restore("{sm}:copy", 0, payload)
        assert wait_for(lambda: finished(r, "{sm}:copy"), timeout=5)["status"] == "SUCCEEDED"
    finally:
        s.stop()


def test_aof_restart_after_kill9_resumes_and_overdue_timers_fire_at_once():
    s = start_cachemere("--appendonly", "yes", "--appendfsync", "always")
    d = s.dir
    try:
        r = client(s)
        r.execute_command("WF.CREATE", "sm", WAIT)
        r.execute_command("WF.ACTIVITY", "CREATE", "jobs")
        r.execute_command("WF.CREATE", "act", ACT)
        long_key = r.execute_command("WF.START", "sm", "NAME", "long", "INPUT", '{"s":3}')["exec"]
        short_key = r.execute_command("WF.START", "sm", "NAME", "short", "INPUT", '{"s":1}')["exec"]
        act_key = r.execute_command("WF.START", "act", "NAME", "job1", "INPUT", '{"n":1}')["exec"]
        before = r.execute_command("WF.HISTORY", long_key)
    finally:
        s.kill9()
    time.sleep(1.2)                                    # "short" is overdue by now
    s = start_cachemere("--appendonly", "yes", workdir=d)
    try:
        r = client(s)
        t0 = time.monotonic()
        assert wait_for(lambda: finished(r, short_key), timeout=3)["status"] == "SUCCEEDED"
        assert time.monotonic() - t0 < 1.0            # fired at once after the load
        assert r.execute_command("WF.EXEC", long_key)["status"] == "RUNNING"
        assert r.execute_command("WF.HISTORY", long_key) == before
        check_history(r, long_key, {"W": 1})
        check_history(r, act_key, {"T": 1})
        assert wait_for(lambda: finished(r, long_key), timeout=5)["status"] == "SUCCEEDED"
        for k in (short_key, long_key):
            check_history(r, k)
        # the activity task queued before the crash is still there for a worker
        token, inp = r.execute_command("WF.POLL", "jobs", "BLOCK", "1000")
        assert json.loads(inp) == {"n": 1}
        r.execute_command("WF.TASK", "SUCCESS", token, '"ok"')
        assert json.loads(r.execute_command("WF.EXEC", act_key)["output"]) == "ok"
    finally:
        s.stop()
    # and once more, from the AOF that now holds the whole story
    s = start_cachemere("--appendonly", "yes", workdir=d)
    try:
        r = client(s)
        assert r.execute_command("WF.EXEC", act_key)["status"] == "SUCCEEDED"
        types = check_history(r, long_key)
        assert types[-1] == "ExecutionSucceeded"
    finally:
        s.stop()


def test_rdb_restart_resumes():
    s = start_cachemere()
    d = s.dir
    try:
        r = client(s)
        r.execute_command("WF.CREATE", "sm", WAIT)
        key = r.execute_command("WF.START", "sm", "NAME", "x", "INPUT", '{"s":1}')["exec"]
        r.save()
    finally:
        s.kill9()
    s = start_cachemere(workdir=d)
    try:
        r = client(s)
        assert wait_for(lambda: finished(r, key), timeout=5)["status"] == "SUCCEEDED"
        check_history(r, key)
    finally:
        s.stop()
