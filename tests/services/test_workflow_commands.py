"""WF.* against the real server with redis-py: state machines, executions, timers, history, activities,
callbacks, mocks, and the one-effect-per-transition propagation."""
import json
import threading
import time

import pytest
import redis

from tests.support.servers import start_cachemere, wait_for

PASS_CHOICE = json.dumps({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Result": {"n": 3}, "ResultPath": "$.r", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.r.n", "NumericGreaterThan": 2, "Next": "Big"}],
          "Default": "Small"},
    "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "Next": "Done"},
    "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "Next": "Done"},
    "Done": {"Type": "Succeed"}}})
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "Next": "P"},
                                              "P": {"Type": "Pass", "Result": "woke", "End": True}}})


@pytest.fixture(scope="module")
def srv():
    s = start_cachemere()
    yield s
    s.stop()


@pytest.fixture
def r(srv):
    c = redis.Redis(port=srv.port, decode_responses=True, protocol=3)
    c.flushall()
    c.execute_command("WF.CONFIG", "SET", "time-scale", "1")
    yield c
    c.close()


def wait_status(r, key, status="SUCCEEDED", timeout=5.0):
    return wait_for(lambda: r.execute_command("WF.EXEC", key)["status"] == status and
                    r.execute_command("WF.EXEC", key), timeout=timeout)


def test_create_start_describe_history(r):
    got = r.execute_command("WF.CREATE", "sm1", PASS_CHOICE)
    assert got["stateMachineArn"] == "arn:aws:states:us-east-1:000000000000:stateMachine:sm1"
    assert r.type("sm1") == "statemachine"
    st = r.execute_command("WF.START", "sm1", "NAME", "run1", "INPUT", '{"x":1}')
    assert st["exec"] == "{sm1}:run1" and st["executionArn"].endswith(":execution:sm1:run1")
    assert r.type("{sm1}:run1") == "execution"
    d = r.execute_command("WF.EXEC", "{sm1}:run1")
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == {"x": 1, "r": {"n": 3}, "size": "big"}
    h = r.execute_command("WF.HISTORY", "{sm1}:run1")
    assert [e["type"] for e in h] == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ChoiceStateEntered",
                                      "ChoiceStateExited", "PassStateEntered", "PassStateExited",
                                      "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]
    assert h[0]["executionStartedEventDetails"]["input"] == '{"x":1}'
    assert h[1]["stateEnteredEventDetails"]["name"] == "A" and h[1]["previousEventId"] == 1
    rev = r.execute_command("WF.HISTORY", "{sm1}:run1", "REVERSE", "COUNT", "2")
    assert [e["id"] for e in rev] == [10, 9]
    nodata = r.execute_command("WF.HISTORY", "{sm1}:run1", "NODATA", "COUNT", "1")
    assert "input" not in nodata[0]["executionStartedEventDetails"]
    lst = r.execute_command("WF.EXECUTIONS", "sm1")
    assert [x["name"] for x in lst] == ["run1"]
    assert r.execute_command("WF.DESCRIBE", "sm1")["definition"] == PASS_CHOICE
    assert [x["name"] for x in r.execute_command("WF.LIST")] == ["sm1"]
    r.execute_command("WF.ACTIVITY", "CREATE", "act1")
    assert [x["name"] for x in r.execute_command("WF.ACTIVITIES")] == ["act1"]


def test_start_is_idempotent_by_name(r):
    r.execute_command("WF.CREATE", "sm", WAIT)
    a = r.execute_command("WF.START", "sm", "NAME", "same", "INPUT", "{}")
    b = r.execute_command("WF.START", "sm", "NAME", "same", "INPUT", "{}")
    assert a == b
    with pytest.raises(redis.ResponseError, match="^EXECUTIONALREADYEXISTS"):
        r.execute_command("WF.START", "sm", "NAME", "same", "INPUT", '{"other":1}')
    assert len(r.execute_command("WF.EXECUTIONS", "sm")) == 1


def test_bad_input_gets_exact_errors_and_changes_nothing(r):
    with pytest.raises(redis.ResponseError, match=r"^INVALIDDEFINITION .*MISSING_TRANSITION_TARGET.* at /States/A/Next"):
        r.execute_command("WF.CREATE", "bad", '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Q"}}}')
    with pytest.raises(redis.ResponseError, match="^INVALIDDEFINITION"):
        r.execute_command("WF.CREATE", "bad", "{not json")
    act = json.dumps({"StartAt": "T", "States": {"T": {"Type": "Task", "End": True,
                      "Resource": "arn:aws:states:::activity:a"}}})
    with pytest.raises(redis.ResponseError, match="^INVALIDDEFINITION .*Express.* at /States/T/Resource"):
        r.execute_command("WF.CREATE", "bad", act, "TYPE", "EXPRESS")
    assert r.exists("bad") == 0
    with pytest.raises(redis.ResponseError, match="^STATEMACHINEDOESNOTEXIST"):
        r.execute_command("WF.START", "nope")
    r.execute_command("WF.CREATE", "sm", WAIT)
    with pytest.raises(redis.ResponseError, match="^INVALIDEXECUTIONINPUT"):
        r.execute_command("WF.START", "sm", "INPUT", "{bad")
    with pytest.raises(redis.ResponseError, match="^syntax error"):
        r.execute_command("WF.START", "sm", "BOGUS", "1")
    with pytest.raises(redis.ResponseError, match="^INVALIDNAME"):
        r.execute_command("WF.START", "sm", "NAME", "a b")
    assert r.execute_command("WF.EXECUTIONS", "sm") == []
    r.set("str", "x")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        r.execute_command("WF.START", "str")
    with pytest.raises(redis.ResponseError, match="^unknown command 'WF._APPLY'"):
        r.execute_command("WF._APPLY", "k", "{}")
    with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'wf.create' command"):
        r.execute_command("WF.CREATE", "x")


def test_validate_reports_diagnostics(r):
    ok = r.execute_command("WF.VALIDATE", PASS_CHOICE)
    assert ok == {"result": "OK", "diagnostics": []}
    bad = r.execute_command("WF.VALIDATE", '{"StartAt":"A","States":{"A":{"Type":"Wait","End":true}}}')
    assert bad["result"] == "FAIL" and bad["diagnostics"][0]["location"] == "/States/A"


def test_wait_state_advances_from_the_timer_heap(r):
    r.execute_command("WF.CREATE", "sm", WAIT)
    r.execute_command("WF.CONFIG", "SET", "time-scale", "0.1")
    t0 = time.monotonic()
    key = r.execute_command("WF.START", "sm", "NAME", "w")["exec"]
    assert r.execute_command("WF.EXEC", key)["status"] == "RUNNING"
    assert r.ping()                       # the loop is free while the execution waits
    d = wait_status(r, key)
    assert 0.15 < time.monotonic() - t0 < 2.0
    assert json.loads(d["output"]) == "woke"
    types = [e["type"] for e in r.execute_command("WF.HISTORY", key)]
    assert types == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited", "PassStateEntered", "PassStateExited",
                     "ExecutionSucceeded"]


def test_stop_a_running_execution(r):
    r.execute_command("WF.CREATE", "sm", WAIT)
    key = r.execute_command("WF.START", "sm", "NAME", "s")["exec"]
    r.execute_command("WF.STOP", key, "ERROR", "Halt", "CAUSE", "test")
    d = r.execute_command("WF.EXEC", key)
    assert (d["status"], d["error"], d["cause"]) == ("ABORTED", "Halt", "test")
    assert r.execute_command("WF.EXECUTIONS", "sm", "STATUS", "ABORTED")[0]["name"] == "s"
    with pytest.raises(redis.ResponseError, match="^EXECUTIONDOESNOTEXIST"):
        r.execute_command("WF.EXEC", "{sm}:nope")


def test_startsync_blocks_until_the_end(r):
    r.execute_command("WF.CREATE", "sm", WAIT, "TYPE", "EXPRESS")
    r.execute_command("WF.CONFIG", "SET", "time-scale", "0.1")
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"], decode_responses=True)
    t0 = time.monotonic()
    res = r.execute_command("WF.STARTSYNC", "sm", "INPUT", "{}")
    assert res["status"] == "SUCCEEDED" and json.loads(res["output"]) == "woke"
    assert time.monotonic() - t0 >= 0.15
    res = other.execute_command("WF.STARTSYNC", "sm", "TIMEOUT", "50")
    assert res is None                    # timed out first; the execution goes on
    r.execute_command("WF.CREATE", "pc", PASS_CHOICE)
    res = r.execute_command("WF.STARTSYNC", "pc", "INPUT", '{"q":1}')
    assert json.loads(res["output"])["size"] == "big"


def test_activity_poll_blocks_and_task_success(r):
    r.execute_command("WF.ACTIVITY", "CREATE", "work")
    assert r.type("work") == "activity"
    sm = json.dumps({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource":
                     "arn:aws:states:us-east-1:000000000000:activity:work", "HeartbeatSeconds": 30,
                     "TimeoutSeconds": 60, "End": True}}})
    r.execute_command("WF.CREATE", "sm", sm)
    port = r.connection_pool.connection_kwargs["port"]
    got = {}

    def poller():
        p = redis.Redis(port=port, decode_responses=True)
        got["task"] = p.execute_command("WF.POLL", "work", "WORKER", "w1", "BLOCK", "5000")
    t = threading.Thread(target=poller)
    t.start()
    time.sleep(0.2)
    assert "task" not in got               # a real blocked client
    key = r.execute_command("WF.START", "sm", "NAME", "a1", "INPUT", '{"job":7}')["exec"]
    t.join(5)
    token, inp = got["task"]
    assert json.loads(inp) == {"job": 7}
    assert r.execute_command("WF.POLL", "work") is None
    assert r.execute_command("WF.TASK", "HEARTBEAT", token) == "OK"
    assert r.execute_command("WF.TASK", "SUCCESS", token, '{"done":true}') == "OK"
    d = r.execute_command("WF.EXEC", key)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"done": True}
    types = [e["type"] for e in r.execute_command("WF.HISTORY", key)]
    assert types == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted",
                     "ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded"]
    assert r.execute_command("WF.HISTORY", key)[3]["activityStartedEventDetails"] == {"workerName": "w1"}
    with pytest.raises(redis.ResponseError, match="^TASKTIMEDOUT"):
        r.execute_command("WF.TASK", "SUCCESS", token, "{}")
    with pytest.raises(redis.ResponseError, match="^INVALIDTOKEN"):
        r.execute_command("WF.TASK", "SUCCESS", "garbage", "{}")
    with pytest.raises(redis.ResponseError, match="^ACTIVITYDOESNOTEXIST"):
        r.execute_command("WF.POLL", "nothere")
    assert r.execute_command("WF.POLL", "work", "BLOCK", "100") is None


def test_wait_for_task_token_failure_and_catch(r):
    sm = json.dumps({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
              "Parameters": {"MessageBody": {"token.$": "$$.Task.Token"}},
              "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.err", "Next": "H"}], "End": True},
        "H": {"Type": "Pass", "End": True}}})
    r.execute_command("WF.CREATE", "sm", sm)
    key = r.execute_command("WF.START", "sm", "NAME", "cb", "INPUT", '{"a":1}')["exec"]
    pending = r.execute_command("WF.EXEC", key)["pendingTasks"]
    token = pending[0]["token"]
    assert json.loads(pending[0]["input"]) == {"MessageBody": {"token": token}}
    r.execute_command("WF.TASK", "FAILURE", token, "ERROR", "Rejected", "CAUSE", "no")
    d = r.execute_command("WF.EXEC", key)
    assert json.loads(d["output"]) == {"a": 1, "err": {"Error": "Rejected", "Cause": "no"}}


def test_mock_config_test_cases(r):
    sm = json.dumps({"StartAt": "L", "States": {"L": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1}],
                     "OutputPath": "$.Payload", "End": True}}})
    r.execute_command("WF.CREATE", "LambdaSM", sm)
    cfg = {"StateMachines": {"LambdaSM": {"TestCases": {"HappyPath": {"L": "MockedSuccess"},
                                                        "RetryPath": {"L": "MockedRetry"}}}},
           "MockedResponses": {
               "MockedSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": 1}}}},
               "MockedRetry": {"0": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "slow"}},
                               "1": {"Return": {"StatusCode": 200, "Payload": {"ok": 2}}}}}}
    r.execute_command("WF.CONFIG", "SET", "mock-config", json.dumps(cfg))
    r.execute_command("WF.CONFIG", "SET", "time-scale", "0.05")
    k1 = r.execute_command("WF.START", "LambdaSM", "TESTCASE", "HappyPath")["exec"]
    assert json.loads(r.execute_command("WF.EXEC", k1)["output"]) == {"ok": 1}
    k2 = r.execute_command("WF.START", "LambdaSM", "TESTCASE", "RetryPath")["exec"]
    assert json.loads(wait_status(r, k2)["output"]) == {"ok": 2}
    with pytest.raises(redis.ResponseError, match="no test case"):
        r.execute_command("WF.START", "LambdaSM", "TESTCASE", "Nope")


def test_config_get_set(r):
    assert r.execute_command("WF.CONFIG", "SET", "time-scale", "0.5") == "OK"
    assert r.execute_command("WF.CONFIG", "GET", "time-scale") == "0.5"
    with pytest.raises(redis.ResponseError, match="^invalid value"):
        r.execute_command("WF.CONFIG", "SET", "time-scale", "-1")
    with pytest.raises(redis.ResponseError, match="^unknown workflow setting"):
        r.execute_command("WF.CONFIG", "GET", "nope")


def test_each_transition_is_one_apply_effect_on_the_replication_stream(srv, r):
    """MONITOR-free check: the AOF of a fresh server holds WF._APPLY effects, never WF.START itself."""
    s = start_cachemere("--appendonly", "yes")
    try:
        c = redis.Redis(port=s.port, decode_responses=True, protocol=3)
        c.execute_command("WF.CONFIG", "SET", "time-scale", "0.05")
        c.execute_command("WF.CREATE", "sm", WAIT)
        key = c.execute_command("WF.START", "sm", "NAME", "x")["exec"]
        wait_status(c, key)
        import glob
        import os
        data = b"".join(open(p, "rb").read() for p in glob.glob(os.path.join(s.dir, "appendonlydir", "*.incr.aof")))
        assert data.count(b"WF._APPLY") == 2 and b"WF.START" not in data and b"WF._RESTORESM" in data
    finally:
        s.stop()


def test_command_docs_and_acl_categories(srv):
    conn = redis.Connection(port=srv.port)
    try:
        conn.send_command("COMMAND", "INFO", "wf.start", "wf.poll", "wf._apply")
        start, poll, internal = conn.read_response()
        assert start[0] == b"wf.start" and start[1] == -2 and b"write" in start[2]
        assert set(start[6]) == {b"@keyspace", b"@write", b"@slow"}
        assert b"@blocking" in poll[6]
        assert internal is None                  # internal effect commands are hidden
        conn.send_command("COMMAND", "DOCS", "wf.history")
        docs = conn.read_response()
        if isinstance(docs, dict):
            docs = [k for kv in docs.items() for k in kv]
        assert docs[0] == b"wf.history"
        body = docs[1] if isinstance(docs[1], dict) else dict(zip(docs[1][::2], docs[1][1::2]))
        assert b"GetExecutionHistory" in body[b"summary"] and body[b"group"] == b"module"
    finally:
        conn.disconnect()


def test_metrics_and_dashboard_views():
    import urllib.request
    from tests.support.servers import free_port, wait_for_port
    port = free_port()
    s = start_cachemere("--metrics-port", port)
    try:
        wait_for_port(port)
        c = redis.Redis(port=s.port, decode_responses=True, protocol=3)
        c.execute_command("WF.CREATE", "sm", PASS_CHOICE)
        c.execute_command("WF.START", "sm", "NAME", "a")
        c.execute_command("WF.START", "sm", "NAME", "b")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        assert 'workflow_executions_total{state_machine="sm",status="SUCCEEDED"} 2' in text
        assert 'workflow_executions_total{state_machine="sm",status="RUNNING"} 2' in text
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/services", timeout=5) as resp:
            rows = json.loads(resp.read())["services"]
        byk = {r["key"]: r for r in rows}
        assert byk["sm"]["type"] == "statemachine" and byk["sm"]["summary"]["executions"] == 2
        assert byk["{sm}:a"]["summary"]["status"] == "SUCCEEDED"
        import urllib.parse
        url = f"http://127.0.0.1:{port}/api/service?db=0&key=" + urllib.parse.quote("{sm}:a")
        with urllib.request.urlopen(url, timeout=5) as resp:
            detail = json.loads(resp.read())
        detail = detail.get("detail", detail)
        status = {n["id"]: n["status"] for n in detail["nodes"]}
        assert status == {"A": "succeeded", "C": "succeeded", "Big": "succeeded", "Small": "pending",
                          "Done": "succeeded"}
        assert ["C", "Small"] in detail["edges"]
    finally:
        s.stop()
