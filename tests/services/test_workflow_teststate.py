"""TestState (WF.TESTSTATE and boto3 test_state): one state, once, with an input: status SUCCEEDED / FAILED /
RETRIABLE / CAUGHT_ERROR, output, error and cause, nextState, and inspectionData at DEBUG; no effect on the
keyspace (moto has no TestState, so only the AWS API model's shapes are checked)."""
import json

import pytest
import redis

from tests.support.servers import free_port, start_cachemere, wait_for_port

LAMBDA = "arn:aws:states:::lambda:invoke"


@pytest.fixture(scope="module")
def srv():
    port = free_port()
    s = start_cachemere("--stepfunctions-port", port)
    wait_for_port(port)
    s.sfn_port = port
    yield s
    s.stop()


@pytest.fixture
def r(srv):
    c = redis.Redis(port=srv.port, decode_responses=True, protocol=3)
    yield c
    c.close()


def ts(r, d, *args):
    return r.execute_command("WF.TESTSTATE", json.dumps(d), *args)


def test_pass_data_flow_stages_at_debug(r):
    st = {"Type": "Pass", "InputPath": "$.a", "Parameters": {"x.$": "$.b", "f.$": "States.Format('n{}', $.b)"},
          "ResultPath": "$.r", "OutputPath": "$.r", "Next": "N"}
    out = ts(r, st, "INPUT", '{"a":{"b":1}}', "INSPECT", "DEBUG")
    assert out["status"] == "SUCCEEDED" and out["nextState"] == "N"
    assert json.loads(out["output"]) == {"x": 1, "f": "n1"}
    i = out["inspectionData"]
    assert json.loads(i["input"]) == {"a": {"b": 1}} and json.loads(i["afterInputPath"]) == {"b": 1}
    assert json.loads(i["afterParameters"]) == {"x": 1, "f": "n1"}
    assert json.loads(i["afterResultPath"]) == {"a": {"b": 1}, "r": {"x": 1, "f": "n1"}}
    info = ts(r, st, "INPUT", '{"a":{"b":1}}')
    assert "inspectionData" not in info and info["output"] == out["output"]
    assert r.dbsize() == 0


def test_task_with_mock_retriable_caught_and_failed(r):
    st = {"Type": "Task", "Resource": LAMBDA, "ResultSelector": {"p.$": "$.Payload"}, "End": True,
          "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 2}],
          "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handler"}]}
    ok = ts(r, st, "MOCK", json.dumps({"result": '{"Payload":5}'}), "INSPECT", "DEBUG")
    assert ok["status"] == "SUCCEEDED" and json.loads(ok["output"]) == {"p": 5} and "nextState" not in ok
    assert json.loads(ok["inspectionData"]["result"]) == {"Payload": 5}
    assert json.loads(ok["inspectionData"]["afterResultSelector"]) == {"p": 5}
    throttled = json.dumps({"errorOutput": {"error": "Throttled", "cause": "slow"}})
    ret = ts(r, st, "MOCK", throttled, "CONFIG", '{"retrierRetryCount":1}', "INSPECT", "DEBUG")
    assert (ret["status"], ret["error"], ret["cause"]) == ("RETRIABLE", "Throttled", "slow")
    assert ret["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 6}
    caught = ts(r, st, "MOCK", throttled, "CONFIG", '{"retrierRetryCount":2}', "INSPECT", "DEBUG")
    assert caught["status"] == "CAUGHT_ERROR" and caught["nextState"] == "Handler"
    assert json.loads(caught["output"]) == {"err": {"Error": "Throttled", "Cause": "slow"}}
    assert caught["inspectionData"]["errorDetails"] == {"catchIndex": 0}
    bare = dict(st)
    del bare["Catch"], bare["Retry"]
    failed = ts(r, bare, "MOCK", throttled)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Throttled", "slow")


def test_choice_wait_fail_jsonata_and_state_name(r):
    ch = {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "One"}], "Default": "Other"}
    assert ts(r, ch, "INPUT", '{"n":1}')["nextState"] == "One"
    assert ts(r, ch, "INPUT", '{"n":2}')["nextState"] == "Other"
    nomatch = ts(r, {"Type": "Choice", "Choices": ch["Choices"]}, "INPUT", '{"n":3}')
    assert nomatch["status"] == "FAILED" and nomatch["error"] == "States.NoChoiceMatched"
    w = ts(r, {"Type": "Wait", "Seconds": 3600, "Next": "X"}, "INPUT", '{"k":1}')    # does not wait
    assert w == {"status": "SUCCEEDED", "output": '{"k":1}', "nextState": "X"}
    f = ts(r, {"Type": "Fail", "ErrorPath": "$.e", "Cause": "c"}, "INPUT", '{"e":"Bad"}')
    assert (f["status"], f["error"], f["cause"]) == ("FAILED", "Bad", "c")
    j = ts(r, {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.a + $v %}",
               "Assign": {"w": "{% 7 %}"}, "End": True}, "INPUT", '{"a":1}', "VARS", '{"v":10}', "INSPECT", "DEBUG")
    assert j["status"] == "SUCCEEDED" and json.loads(j["output"]) == 11
    assert json.loads(j["inspectionData"]["variables"]) == {"v": 10, "w": 7}
    m = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                    "B": {"Type": "Pass", "Result": 2, "End": True}}}
    assert ts(r, m, "STATE", "B") == {"status": "SUCCEEDED", "output": "2"}


def test_bad_requests(r):
    with pytest.raises(redis.ResponseError, match="^INVALIDDEFINITION .*at /States/TestState"):
        ts(r, {"Type": "Pass", "Next": 1})
    with pytest.raises(redis.ResponseError, match="^INVALIDDEFINITION"):
        r.execute_command("WF.TESTSTATE", "{nope")
    with pytest.raises(redis.ResponseError, match="^VALIDATIONEXCEPTION .*only with a mock"):
        ts(r, {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True})
    with pytest.raises(redis.ResponseError, match="^VALIDATIONEXCEPTION .*Map and Parallel"):
        ts(r, {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "a", "States": {"a": {"Type": "Succeed"}}}]})
    with pytest.raises(redis.ResponseError, match="^VALIDATIONEXCEPTION State 'Z'"):
        ts(r, {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}, "STATE", "Z")
    with pytest.raises(redis.ResponseError, match="^VALIDATIONEXCEPTION context may only"):
        ts(r, {"Type": "Succeed"}, "CONTEXT", "{}")
    with pytest.raises(redis.ResponseError, match="^INVALIDEXECUTIONINPUT"):
        ts(r, {"Type": "Succeed"}, "INPUT", "{bad")
    with pytest.raises(redis.ResponseError, match="^syntax error"):
        ts(r, {"Type": "Succeed"}, "INSPECT", "LOUD")
    # a mocked Map: the mock is the Map's result, then ResultSelector / ResultPath apply
    mp = {"Type": "Map", "ResultPath": "$.all", "End": True,
          "ItemProcessor": {"StartAt": "a", "States": {"a": {"Type": "Pass", "End": True}}}}
    out = ts(r, mp, "INPUT", '{"x":1}', "MOCK", json.dumps({"result": "[1,2]"}))
    assert json.loads(out["output"]) == {"x": 1, "all": [1, 2]}


def test_boto3_test_state(srv):
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config
    sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{srv.sfn_port}", region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x",
                       config=Config(retries={"max_attempts": 1}, inject_host_prefix=False))   # TestState: sync-host
    st = {"Type": "Task", "Resource": LAMBDA, "OutputPath": "$.Payload", "Next": "After",
          "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 1}]}
    out = sfn.test_state(definition=json.dumps(st), roleArn="arn:aws:iam::0:role/x", input='{"q":1}',
                         inspectionLevel="DEBUG", mock={"result": '{"Payload":{"ok":true}}'})
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"ok": True} and out["nextState"] == "After"
    assert json.loads(out["inspectionData"]["input"]) == {"q": 1}
    assert json.loads(out["inspectionData"]["result"]) == {"Payload": {"ok": True}}
    ret = sfn.test_state(definition=json.dumps(st), input="{}", inspectionLevel="DEBUG",
                         mock={"errorOutput": {"error": "Throttled", "cause": "c"}})
    assert ret["status"] == "RETRIABLE" and ret["inspectionData"]["errorDetails"] == \
        {"retryIndex": 0, "retryBackoffIntervalSeconds": 1}
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.test_state(definition='{"Type":"Pass","Next":1}', input="{}")
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.test_state(definition=json.dumps({"Type": "Task", "Resource": "arn:aws:states:::activity:a", "End": True}))
    moto = pytest.importorskip("moto")
    from botocore.exceptions import ClientError
    with moto.mock_aws():                        # moto has no TestState (404 "Not yet implemented"): asserted
        m = boto3.client("stepfunctions", region_name="us-east-1")
        with pytest.raises(ClientError, match="Not yet implemented"):
            m.test_state(definition=json.dumps(st), roleArn="arn:aws:iam::123456789012:role/x")
