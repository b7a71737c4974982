"""The optional Step Functions HTTP facade (stepfunctions-port) with boto3, compared with moto's
interpreter where moto runs the same definitions (moto is optional: those comparisons skip without it)."""
import json
import threading
import time

import pytest

from tests.support.servers import free_port, start_cachemere, wait_for, wait_for_port

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

DEFS = {
    "choice": {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": {"n": 3}, "ResultPath": "$.r", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.r.n", "NumericGreaterThan": 2, "Next": "Big"}],
              "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": True},
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "End": True}}},
    "parallel_intrinsics": {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "F", "States": {"F": {"Type": "Pass", "Parameters": {
            "s.$": "States.Format('{}-{}', $.a, $.b)", "r.$": "States.ArrayRange(1, 5, 2)"}, "End": True}}},
        {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": True}}}}}}]}}},
}
INPUT = {"a": "x", "b": 2, "items": [1, 2, 3]}


@pytest.fixture(scope="module")
def sfn():
    port = free_port()
    s = start_cachemere("--stepfunctions-port", port)
    wait_for_port(port)
    client = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x",
                          config=Config(retries={"max_attempts": 1}))
    yield client
    s.stop()


def run_ours(sfn, name, definition, inp):
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                   roleArn="arn:aws:iam::000000000000:role/x")["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, name="run", input=json.dumps(inp))["executionArn"]
    d = wait_for(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(
        sfn.describe_execution(executionArn=ex)), timeout=5)
    events = sfn.get_execution_history(executionArn=ex)["events"]
    return d, events


def run_moto(name, definition, inp):
    moto = pytest.importorskip("moto")
    with moto.mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        c = boto3.client("stepfunctions", region_name="us-east-1")
        arn = c.create_state_machine(name=name, definition=json.dumps(definition),
                                     roleArn="arn:aws:iam::123456789012:role/x")["stateMachineArn"]
        ex = c.start_execution(stateMachineArn=arn, name="run", input=json.dumps(inp))["executionArn"]
        d = wait_for(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(
            c.describe_execution(executionArn=ex)), timeout=10)
        events = c.get_execution_history(executionArn=ex)["events"]
    return d, events


@pytest.mark.parametrize("name", sorted(DEFS))
def test_boto3_runs_a_machine_and_matches_moto(sfn, name):
    d, events = run_ours(sfn, name, DEFS[name], INPUT)
    assert d["status"] == "SUCCEEDED"
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    theirs, their_events = run_moto(name, DEFS[name], INPUT)
    assert theirs["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == json.loads(theirs["output"])
    ours_t, theirs_t = [e["type"] for e in events], [e["type"] for e in their_events]
    if name == "choice":
        assert ours_t == theirs_t
    else:
        # moto runs branches and iterations in threads, so how the branches interleave varies from run to run
        # (either branch may log its first event first): compare the
        # multiset, the common start and end, and each state type's own event order
        assert sorted(ours_t) == sorted(theirs_t)
        assert ours_t[:3] == theirs_t[:3] and ours_t[-5:] == theirs_t[-5:]
        for kind in ("MapState", "ParallelState"):   # Pass events come from the branch and the iterations: they interleave
            assert [t for t in ours_t if t.startswith(kind)] == [t for t in theirs_t if t.startswith(kind)]


def test_errors_activities_and_validation(sfn):
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.start_execution(stateMachineArn="arn:aws:states:us-east-1:000000000000:stateMachine:nope")
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.create_state_machine(name="bad", definition='{"StartAt":"A","States":{}}', roleArn="arn:aws:iam::0:role/x")
    v = sfn.validate_state_machine_definition(definition='{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}')
    assert v["result"] == "FAIL" and v["diagnostics"][0]["location"] == "/States/A/Next"
    act = sfn.create_activity(name="jobs")["activityArn"]
    assert "jobs" in [a["name"] for a in sfn.list_activities()["activities"]]
    sm = sfn.create_state_machine(name="actsm", roleArn="arn:aws:iam::0:role/x", definition=json.dumps(
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": act, "End": True}}}))["stateMachineArn"]
    got = {}
    t = threading.Thread(target=lambda: got.update(sfn.get_activity_task(activityArn=act, workerName="w")))
    t.start()
    time.sleep(0.2)
    ex = sfn.start_execution(stateMachineArn=sm, input='{"job":1}')["executionArn"]
    t.join(10)
    assert json.loads(got["input"]) == {"job": 1}
    sfn.send_task_success(taskToken=got["taskToken"], output='{"ok":true}')
    assert json.loads(sfn.describe_execution(executionArn=ex)["output"]) == {"ok": True}
    assert "actsm" in [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert [e["status"] for e in sfn.list_executions(stateMachineArn=sm)["executions"]] == ["SUCCEEDED"]
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=got["taskToken"], output="{}")
