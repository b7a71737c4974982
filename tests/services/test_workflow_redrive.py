"""RedriveExecution (WF.REDRIVE and boto3 redrive_execution): a FAILED / TIMED_OUT / ABORTED Standard execution
runs again from the state that failed; successful states and branches keep their results; the AWS rules
(not after SUCCEEDED, not for Express, the history quota) answer ExecutionNotRedrivable; the redrive is one
WF._APPLY effect, so a replica and an AOF restart see the same history."""
import json

import pytest
import redis

from services.workflow.asl.runtime import fold, snapshot
from tests.support.servers import free_port, start_cachemere, wait_for, wait_for_port

CB = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
PAR = json.dumps({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "P"},
    "P": {"Type": "Parallel", "Next": "T", "Branches": [
        {"StartAt": "ok", "States": {"ok": {"Type": "Pass", "Result": "b0", "End": True}}},
        {"StartAt": "T2", "States": {"T2": {"Type": "Task", "Resource": CB, "End": True}}}]},
    "T": {"Type": "Task", "Resource": CB, "End": True}}})


@pytest.fixture(scope="module")
def srv():
    s = start_cachemere("--appendonly", "yes", "--appendfsync", "always")
    yield s
    s.stop()


@pytest.fixture
def r(srv):
    c = redis.Redis(port=srv.port, decode_responses=True, protocol=3)
    c.flushall()
    yield c
    c.close()


def token(r, key, state=None):
    tasks = r.execute_command("WF.EXEC", key)["pendingTasks"]
    return next(t["token"] for t in tasks if state is None or t["state"] == state)


def test_redrive_reruns_only_the_failed_branch_and_keeps_history(r):
    r.execute_command("WF.CREATE", "sm", PAR)
    key = r.execute_command("WF.START", "sm", "NAME", "x", "INPUT", "{}")["exec"]
    d = r.execute_command("WF.EXEC", key)
    assert d["redriveStatus"] == "NOT_REDRIVABLE" and d["redriveStatusReason"] == \
        "Execution is RUNNING and cannot be redriven."
    with pytest.raises(redis.ResponseError, match="^EXECUTIONNOTREDRIVABLE Execution is RUNNING"):
        r.execute_command("WF.REDRIVE", key)
    r.execute_command("WF.TASK", "FAILURE", token(r, key), "ERROR", "Boom", "CAUSE", "first")
    d = r.execute_command("WF.EXEC", key)
    assert (d["status"], d["error"], d["redriveStatus"], d["redriveCount"], d["redriveDate"]) == \
        ("FAILED", "Boom", "REDRIVABLE", 0, None)
    before = r.execute_command("WF.HISTORY", key)
    got = r.execute_command("WF.REDRIVE", key)
    d = r.execute_command("WF.EXEC", key)
    assert d["status"] == "RUNNING" and d["redriveCount"] == 1 and d["redriveDate"] == got["redriveDate"]
    assert d["stopDate"] is None and d["error"] is None
    assert [t["state"] for t in d["pendingTasks"]] == ["T2"]          # only the failed branch runs again
    h = r.execute_command("WF.HISTORY", key)
    assert h[:len(before)] == before
    assert h[len(before)]["type"] == "ExecutionRedriven"
    assert h[len(before)]["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert fold(h)["open"] == {"P": 1, "T2": 1}
    r.execute_command("WF.TASK", "SUCCESS", token(r, key), '"b1"')
    pending = r.execute_command("WF.EXEC", key)["pendingTasks"]
    assert json.loads(pending[0]["input"]) == ["b0", "b1"]             # the kept branch result, not rerun
    r.execute_command("WF.TASK", "SUCCESS", token(r, key), '"fin"')
    d = r.execute_command("WF.EXEC", key)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == "fin"
    h = r.execute_command("WF.HISTORY", key)
    assert [e["id"] for e in h] == list(range(1, len(h) + 1))
    types = [e["type"] for e in h]
    assert types.count("ExecutionStarted") == 1 and types.count("ExecutionRedriven") == 1
    assert types.count("PassStateEntered") == 2                          # A and ok ran once
    assert fold(h)["status"] == "SUCCEEDED" and fold(h)["output"] == "fin"
    with pytest.raises(redis.ResponseError,
                       match="^EXECUTIONNOTREDRIVABLE Execution is SUCCEEDED and cannot be redriven"):
        r.execute_command("WF.REDRIVE", key)
    assert r.execute_command("WF.EXECUTIONS", "sm", "REDRIVE", "REDRIVEN")[0]["redriveCount"] == 1
    assert r.execute_command("WF.EXECUTIONS", "sm", "REDRIVE", "NOT_REDRIVEN") == []


def test_redrive_after_abort_and_timeout_resets_retries_and_context(r):
    sm = json.dumps({"StartAt": "W", "TimeoutSeconds": 1, "States": {
        "W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "C"},
        "C": {"Type": "Pass", "Parameters": {"rc.$": "$$.Execution.RedriveCount"}, "End": True}}})
    r.execute_command("WF.CREATE", "sm", sm)
    r.execute_command("WF.CONFIG", "SET", "time-scale", "0.05")
    try:
        k1 = r.execute_command("WF.START", "sm", "NAME", "stop", "INPUT", '{"s":0}')["exec"]
        assert r.execute_command("WF.EXEC", k1)["status"] in ("RUNNING", "SUCCEEDED")
        k2 = r.execute_command("WF.START", "sm", "NAME", "slow", "INPUT", '{"s":100}')["exec"]
        d = wait_for(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(r.execute_command("WF.EXEC", k2)),
                     timeout=5)
        assert d["status"] == "TIMED_OUT" and d["redriveStatus"] == "REDRIVABLE"
        r.execute_command("WF.REDRIVE", k2, "CLIENTTOKEN", "t1")
        again = r.execute_command("WF.REDRIVE", k2, "CLIENTTOKEN", "t1")       # same token: idempotent
        assert r.execute_command("WF.EXEC", k2)["redriveCount"] == 1 and again["redriveDate"]
        r.execute_command("WF.STOP", k2, "ERROR", "Halt")
        assert r.execute_command("WF.EXEC", k2)["status"] == "ABORTED"
        r.execute_command("WF.REDRIVE", k2)
        d = r.execute_command("WF.EXEC", k2)
        assert d["status"] == "RUNNING" and d["redriveCount"] == 2
        h = r.execute_command("WF.HISTORY", k2)
        assert fold(h) == snapshot({"status": d["status"], "output": None, "error": None, "cause": None,
                                    "rt": {"frames": {"1": {"state": "W", "wait": {"k": "timer"}}}}})
    finally:
        r.execute_command("WF.CONFIG", "SET", "time-scale", "1")


def test_express_and_unknown_are_refused(r):
    r.execute_command("WF.CREATE", "ex", json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}),
                      "TYPE", "EXPRESS")
    res = r.execute_command("WF.STARTSYNC", "ex")
    assert res["status"] == "FAILED"
    key = r.execute_command("WF.EXECUTIONS", "ex")[0]["exec"]
    with pytest.raises(redis.ResponseError, match="^EXECUTIONNOTREDRIVABLE Execution is of type EXPRESS"):
        r.execute_command("WF.REDRIVE", key)
    with pytest.raises(redis.ResponseError, match="^EXECUTIONDOESNOTEXIST"):
        r.execute_command("WF.REDRIVE", "{ex}:nope")
    with pytest.raises(redis.ResponseError, match="^syntax error"):
        r.execute_command("WF.REDRIVE", key, "BOGUS")


def test_history_quota_makes_it_not_redrivable(r):
    r.execute_command("WF.CONFIG", "SET", "history-limit", "12")
    try:
        loop = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}})
        r.execute_command("WF.CREATE", "loop", loop)
        key = r.execute_command("WF.START", "loop", "NAME", "l")["exec"]
        d = r.execute_command("WF.EXEC", key)
        assert d["status"] == "FAILED" and d["redriveStatus"] == "NOT_REDRIVABLE"
        assert d["redriveStatusReason"] == "Execution history event limit exceeded."
    finally:
        r.execute_command("WF.CONFIG", "SET", "history-limit", "25000")


def test_redrive_reaches_a_replica_as_the_same_history(srv, r):
    r.execute_command("WF.CREATE", "sm", PAR)
    key = r.execute_command("WF.START", "sm", "NAME", "y")["exec"]
    r.execute_command("WF.TASK", "FAILURE", token(r, key), "ERROR", "Boom")
    r.execute_command("WF.REDRIVE", key)
    h = r.execute_command("WF.HISTORY", key)
    replica = start_cachemere("--replicaof", "127.0.0.1", srv.port)
    try:
        rr = redis.Redis(port=replica.port, decode_responses=True, protocol=3)
        assert wait_for(lambda: rr.exists(key) and rr.execute_command("WF.HISTORY", key) == h, timeout=10)
        r.execute_command("WF.TASK", "SUCCESS", token(r, key), '"b1"')
        r.execute_command("WF.TASK", "SUCCESS", token(r, key), '"z"')
        h2 = r.execute_command("WF.HISTORY", key)
        assert wait_for(lambda: rr.execute_command("WF.HISTORY", key) == h2, timeout=10)
        assert rr.execute_command("WF.EXEC", key)["redriveCount"] == 1
    finally:
        replica.stop()


def test_boto3_redrive_execution():
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config
    port = free_port()
    s = start_cachemere("--stepfunctions-port", port)
    try:
        wait_for_port(port)
        sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
        arn = sfn.create_state_machine(name="p", definition=PAR, roleArn="arn:aws:iam::0:role/x")["stateMachineArn"]
        ex = sfn.start_execution(stateMachineArn=arn, name="e1")["executionArn"]
        with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
            sfn.redrive_execution(executionArn=ex)
        r = redis.Redis(port=s.port, decode_responses=True, protocol=3)
        tok = token(r, "{p}:e1")
        sfn.send_task_failure(taskToken=tok, error="Boom", cause="c")
        d = sfn.describe_execution(executionArn=ex)
        assert d["status"] == "FAILED" and d["redriveStatus"] == "REDRIVABLE" and d["redriveCount"] == 0
        got = sfn.redrive_execution(executionArn=ex)
        d = sfn.describe_execution(executionArn=ex)
        assert d["status"] == "RUNNING" and d["redriveCount"] == 1 and d["redriveDate"] == got["redriveDate"]
        events = sfn.get_execution_history(executionArn=ex)["events"]
        red = [e for e in events if e["type"] == "ExecutionRedriven"]
        assert red[0]["executionRedrivenEventDetails"] == {"redriveCount": 1}
        lst = sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"]
        assert [x["redriveCount"] for x in lst] == [1]
        with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
            sfn.redrive_execution(executionArn=ex + "nope")
        moto = pytest.importorskip("moto")
        with moto.mock_aws():                    # moto has no RedriveExecution: asserted
            m = boto3.client("stepfunctions", region_name="us-east-1")
            with pytest.raises(NotImplementedError):
                m.redrive_execution(executionArn="arn:aws:states:us-east-1:123456789012:execution:p:e1")
    finally:
        s.stop()
