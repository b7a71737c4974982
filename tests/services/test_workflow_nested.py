"""Nested executions (states:startExecution, .sync, .sync:2, .waitForTaskToken) and state machine versions and
aliases (WF.PUBLISH / WF.VERSIONS / WF.DELVERSION / WF.ALIAS, START QUALIFIER), with redis-py and with boto3
on the facade compared with moto where moto implements the call."""
import json
import time

import pytest
import redis

from tests.support.servers import free_port, start_cachemere, wait_for, wait_for_port

SM = "arn:aws:states:us-east-1:000000000000:stateMachine:"
CHILD = json.dumps({"StartAt": "C", "States": {
    "C": {"Type": "Pass",
          "Parameters": {"got.$": "$", "by.$": "$$.Execution.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"},
          "Next": "W"},
    "W": {"Type": "Wait", "SecondsPath": "$.got.wait", "End": True}}})
FAILING = json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Oops", "Cause": "child broke"}}})


def parent(mode, target="child", extra=None):
    st = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution" + mode,
          "Parameters": {"StateMachineArn": SM + target, "Input": {"x.$": "$.x", "wait.$": "$.wait"}}, "End": True}
    st.update(extra or {})
    return json.dumps({"StartAt": "P", "States": {"P": st}})


@pytest.fixture(scope="module")
def srv():
    port = free_port()
    s = start_cachemere("--appendonly", "yes", "--stepfunctions-port", port)
    wait_for_port(port)
    s.sfn_port = port
    yield s
    s.stop()


@pytest.fixture
def r(srv):
    c = redis.Redis(port=srv.port, decode_responses=True, protocol=3)
    c.flushall()
    c.execute_command("WF.CONFIG", "SET", "time-scale", "0.05")
    yield c
    c.execute_command("WF.CONFIG", "SET", "time-scale", "1")
    c.close()


def done(r, key, timeout=5):
    return wait_for(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(r.execute_command("WF.EXEC", key)),
                    timeout=timeout)


def children(r, sm="child"):
    return r.execute_command("WF.EXECUTIONS", sm)


def test_start_execution_fire_and_forget(r):
    r.execute_command("WF.CREATE", "child", CHILD)
    r.execute_command("WF.CREATE", "p", parent(""))
    key = r.execute_command("WF.START", "p", "NAME", "a", "INPUT", '{"x":1,"wait":1}')["exec"]
    d = r.execute_command("WF.EXEC", key)
    assert d["status"] == "SUCCEEDED"                         # does not wait for the child
    out = json.loads(d["output"])
    [kid] = children(r)
    assert out["ExecutionArn"] == kid["executionArn"] and kid["status"] == "RUNNING"
    kd = done(r, kid["exec"])
    assert json.loads(kd["output"]) == {"got": {"x": 1, "wait": 1}, "by": d["executionArn"]}
    assert kd["startedBy"] == d["executionArn"]


@pytest.mark.parametrize("mode", [".sync", ".sync:2"])
def test_sync_waits_for_the_child_and_gets_its_output(r, mode):
    r.execute_command("WF.CREATE", "child", CHILD)
    r.execute_command("WF.CREATE", "p", parent(mode))
    key = r.execute_command("WF.START", "p", "NAME", "s", "INPUT", '{"x":2,"wait":1}')["exec"]
    assert r.execute_command("WF.EXEC", key)["status"] == "RUNNING"
    d = done(r, key)
    assert d["status"] == "SUCCEEDED"
    out = json.loads(d["output"])
    [kid] = children(r)
    assert out["ExecutionArn"] == kid["executionArn"] and out["Status"] == "SUCCEEDED"
    want = {"got": {"x": 2, "wait": 1}, "by": d["executionArn"]}
    assert (out["Output"] if mode == ".sync:2" else json.loads(out["Output"])) == want
    types = [e["type"] for e in r.execute_command("WF.HISTORY", key)]
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
                     "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_child_failure_is_task_failed_and_catchable(r):
    r.execute_command("WF.CREATE", "bad", FAILING)
    r.execute_command("WF.CREATE", "p", parent(".sync", "bad"))
    d = done(r, r.execute_command("WF.START", "p", "NAME", "f", "INPUT", '{"x":0,"wait":0}')["exec"])
    assert d["status"] == "FAILED" and d["error"] == "States.TaskFailed"
    cause = json.loads(d["cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "Oops", "child broke")
    r.execute_command("WF.CREATE", "pc", json.dumps({"StartAt": "P", "States": {
        "P": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
              "Parameters": {"StateMachineArn": SM + "bad"},
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "H"}], "End": True},
        "H": {"Type": "Pass", "End": True}}}))
    d = done(r, r.execute_command("WF.START", "pc", "NAME", "c")["exec"])
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"])["err"]["Error"] == "States.TaskFailed"
    r.execute_command("WF.CREATE", "pm", parent(".sync", "missing"))
    d = done(r, r.execute_command("WF.START", "pm", "NAME", "m", "INPUT", '{"x":0,"wait":0}')["exec"])
    assert d["error"] == "StepFunctions.StateMachineDoesNotExistException"


def test_stopping_or_timing_out_the_parent_stops_a_sync_child(r):
    r.execute_command("WF.CREATE", "child", CHILD)
    r.execute_command("WF.CREATE", "p", parent(".sync"))
    key = r.execute_command("WF.START", "p", "NAME", "st", "INPUT", '{"x":1,"wait":100}')["exec"]
    [kid] = children(r)
    r.execute_command("WF.STOP", key)
    d = r.execute_command("WF.EXEC", kid["exec"])
    assert d["status"] == "ABORTED" and d["error"] == "States.Aborted"
    r.execute_command("WF.CREATE", "pt", parent(".sync:2", extra={"TimeoutSeconds": 1}))
    key = r.execute_command("WF.START", "pt", "NAME", "to", "INPUT", '{"x":1,"wait":100}')["exec"]
    d = done(r, key)
    assert d["status"] == "FAILED" and d["error"] == "States.Timeout"
    assert {x["status"] for x in children(r)} == {"ABORTED"}
    r.execute_command("WF.CREATE", "pf", parent(""))                  # fire-and-forget: the child goes on
    key = r.execute_command("WF.START", "pf", "NAME", "ff", "INPUT", '{"x":1,"wait":100}')["exec"]
    assert r.execute_command("WF.EXEC", key)["status"] == "SUCCEEDED"
    assert sorted(x["status"] for x in children(r)) == ["ABORTED", "ABORTED", "RUNNING"]


def test_wait_for_task_token_child_answers_the_parent(r):
    child = json.dumps({"StartAt": "C", "States": {"C": {"Type": "Pass", "End": True}}})
    r.execute_command("WF.CREATE", "tk", child)
    r.execute_command("WF.CREATE", "p", json.dumps({"StartAt": "P", "States": {"P": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken", "End": True,
        "Parameters": {"StateMachineArn": SM + "tk", "Name": "kid", "Input": {"token.$": "$$.Task.Token"}}}}}))
    key = r.execute_command("WF.START", "p", "NAME", "w")["exec"]
    kd = done(r, "{tk}:kid")
    token = json.loads(kd["output"])["token"]
    assert r.execute_command("WF.EXEC", key)["status"] == "RUNNING"     # the child's end does not answer
    r.execute_command("WF.TASK", "SUCCESS", token, '{"ok":1}')
    assert json.loads(done(r, key)["output"]) == {"ok": 1}


def test_nested_effects_reach_a_replica(srv, r):
    replica = start_cachemere("--replicaof", "127.0.0.1", srv.port)
    try:
        rr = redis.Redis(port=replica.port, decode_responses=True, protocol=3)
        wait_for(lambda: rr.info("replication")["master_link_status"] == "up", timeout=10)
        r.execute_command("WF.CREATE", "child", CHILD)
        r.execute_command("WF.CREATE", "p", parent(".sync"))
        key = r.execute_command("WF.START", "p", "NAME", "rep", "INPUT", '{"x":3,"wait":1}')["exec"]
        done(r, key)
        kid = children(r)[0]["exec"]
        for k in (key, kid):
            h = r.execute_command("WF.HISTORY", k)
            assert wait_for(lambda: rr.exists(k) and rr.execute_command("WF.HISTORY", k) == h, timeout=10)
    finally:
        replica.stop()


def test_a_sync_parent_and_its_child_resume_after_kill9():
    from services.workflow.asl.runtime import fold
    s = start_cachemere("--appendonly", "yes", "--appendfsync", "always")
    try:
        c = redis.Redis(port=s.port, decode_responses=True, protocol=3)
        c.execute_command("WF.CREATE", "child", CHILD)
        c.execute_command("WF.CREATE", "p", parent(".sync:2"))
        key = c.execute_command("WF.START", "p", "NAME", "k", "INPUT", '{"x":4,"wait":1}')["exec"]
        kid = c.execute_command("WF.EXECUTIONS", "child")[0]["exec"]
        s.kill9()
        time.sleep(1.1)                              # the child's wait is overdue when the server is back
        s = start_cachemere("--appendonly", "yes", workdir=s.dir)
        c = redis.Redis(port=s.port, decode_responses=True, protocol=3)
        d = done(c, key)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"])["Output"]["got"]["x"] == 4
        for k in (key, kid):
            h = c.execute_command("WF.HISTORY", k)
            assert [e["id"] for e in h] == list(range(1, len(h) + 1)) and fold(h)["status"] == "SUCCEEDED"
    finally:
        s.stop()


def test_versions_and_aliases(r):
    v1 = r.execute_command("WF.CREATE", "sm", json.dumps({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": "v1", "End": True}}}), "PUBLISH")["stateMachineVersionArn"]
    assert v1 == SM + "sm:1"
    assert r.execute_command("WF.PUBLISH", "sm")["stateMachineVersionArn"] == v1      # same revision: same version
    upd = r.execute_command("WF.UPDATE", "sm", json.dumps({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": "v2", "End": True}}}), "PUBLISH", "DESCRIPTION", "second")
    v2 = upd["stateMachineVersionArn"]
    assert v2 == SM + "sm:2"
    with pytest.raises(redis.ResponseError, match="^CONFLICTEXCEPTION"):
        r.execute_command("WF.PUBLISH", "sm", "REVISION", "1")
    assert [v["stateMachineVersionArn"] for v in r.execute_command("WF.VERSIONS", "sm")] == [v2, v1]
    assert r.execute_command("WF.DESCRIBE", "sm", "VERSION", "2")["description"] == "second"
    k = r.execute_command("WF.START", "sm", "NAME", "old", "QUALIFIER", "1")["exec"]
    d = r.execute_command("WF.EXEC", k)
    assert json.loads(d["output"]) == "v1" and d["stateMachineVersionArn"] == v1
    routing = [{"stateMachineVersionArn": v1, "weight": 30}, {"stateMachineVersionArn": v2, "weight": 70}]
    a = r.execute_command("WF.ALIAS", "CREATE", "sm", "prod", "ROUTING", json.dumps(routing))
    assert a["stateMachineAliasArn"] == SM + "sm:prod"
    assert r.execute_command("WF.ALIAS", "CREATE", "sm", "prod", "ROUTING", json.dumps(routing)) == a    # idempotent
    for bad, err in ((routing[:1], "Sum of routing"), ([{"stateMachineVersionArn": SM + "sm:9", "weight": 100}],
                                                          "Version Does Not Exist"),
                     ([routing[0], dict(routing[0], weight=70)], "distinct")):
        with pytest.raises(redis.ResponseError, match=err):
            r.execute_command("WF.ALIAS", "CREATE", "sm", "x", "ROUTING", json.dumps(bad))
    with pytest.raises(redis.ResponseError, match="^INVALIDNAME"):
        r.execute_command("WF.ALIAS", "CREATE", "sm", "12", "ROUTING", json.dumps(routing))
    outs = []
    for i in range(60):
        kk = r.execute_command("WF.START", "sm", "NAME", f"a{i}", "QUALIFIER", "prod")["exec"]
        d = r.execute_command("WF.EXEC", kk)
        assert d["stateMachineAliasArn"] == SM + "sm:prod"
        assert json.loads(d["output"]) == {v1: "v1", v2: "v2"}[d["stateMachineVersionArn"]]
        outs.append(json.loads(d["output"]))
    assert 5 <= outs.count("v1") <= 35                        # 30 % of 60, generously
    with pytest.raises(redis.ResponseError, match="^CONFLICTEXCEPTION Version to be deleted"):
        r.execute_command("WF.DELVERSION", "sm", "1")
    r.execute_command("WF.ALIAS", "UPDATE", "sm", "prod", "ROUTING", json.dumps([{"stateMachineVersionArn": v2,
                                                                                   "weight": 100}]))
    assert r.execute_command("WF.ALIAS", "DESCRIBE", "sm", "prod")["routingConfiguration"] == \
        [{"stateMachineVersionArn": v2, "weight": 100}]
    assert r.execute_command("WF.DELVERSION", "sm", "1") == "OK"
    with pytest.raises(redis.ResponseError, match="^STATEMACHINEDOESNOTEXIST"):
        r.execute_command("WF.START", "sm", "QUALIFIER", "1")
    assert [x["stateMachineAliasArn"] for x in r.execute_command("WF.ALIAS", "LIST", "sm")] == [SM + "sm:prod"]
    r.execute_command("WF.ALIAS", "DELETE", "sm", "prod")
    with pytest.raises(redis.ResponseError, match="^RESOURCENOTFOUND"):
        r.execute_command("WF.START", "sm", "QUALIFIER", "prod")
    # the alias pick is resolved before the effect: a replica applies the same version
    r.execute_command("WF.ALIAS", "CREATE", "sm", "half", "ROUTING", json.dumps(
        [{"stateMachineVersionArn": v2, "weight": 50},
         {"stateMachineVersionArn": r.execute_command("WF.UPDATE", "sm", json.dumps({"StartAt": "A", "States": {
             "A": {"Type": "Pass", "Result": "v3", "End": True}}}), "PUBLISH")["stateMachineVersionArn"],
          "weight": 50}]))
    # nested: a child started through an alias ARN
    r.execute_command("WF.CREATE", "p", json.dumps({"StartAt": "P", "States": {"P": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "OutputPath": "$.Output",
        "Parameters": {"StateMachineArn": SM + "sm:half"}, "End": True}}}))
    d = done(r, r.execute_command("WF.START", "p", "NAME", "n")["exec"])
    assert json.loads(d["output"]) in ("v2", "v3")


def _boto(srv):
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config
    return boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{srv.sfn_port}", region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))


def _versions_story(c, role):
    """The same calls on either side; returns what both must agree on."""
    d1 = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "one", "End": True}}})
    d2 = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "two", "End": True}}})
    got = {}
    cr = c.create_state_machine(name="vs", definition=d1, roleArn=role, publish=True)
    arn, v1 = cr["stateMachineArn"], cr["stateMachineVersionArn"]
    got["v1"] = v1[len(arn):]
    v2 = c.update_state_machine(stateMachineArn=arn, definition=d2, publish=True,
                                versionDescription="2nd")["stateMachineVersionArn"]
    got["v2"] = v2[len(arn):]
    got["describe_v1"] = json.loads(c.describe_state_machine(stateMachineArn=v1)["definition"])
    al = c.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    got["alias"] = al[len(arn):]
    da = c.describe_state_machine_alias(stateMachineAliasArn=al)
    got["alias_routing"] = [(x["stateMachineVersionArn"][len(arn):], x["weight"]) for x in da["routingConfiguration"]]
    c.update_state_machine_alias(stateMachineAliasArn=al, routingConfiguration=[
        {"stateMachineVersionArn": v2, "weight": 100}])
    da = c.describe_state_machine_alias(stateMachineAliasArn=al)
    got["alias_routing2"] = [(x["stateMachineVersionArn"][len(arn):], x["weight"]) for x in da["routingConfiguration"]]
    got["aliases"] = [x["stateMachineAliasArn"][len(arn):] for x in
                      c.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]]
    c.delete_state_machine_alias(stateMachineAliasArn=al)
    got["aliases_after"] = c.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    return got, c, arn, v1, v2


def test_boto3_versions_aliases_match_moto(srv):
    sfn = _boto(srv)
    ours, _, arn, v1, v2 = _versions_story(sfn, "arn:aws:iam::000000000000:role/x")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        import boto3
        m = boto3.client("stepfunctions", region_name="us-east-1")
        theirs, _, marn, mv1, _ = _versions_story(m, "arn:aws:iam::123456789012:role/x")
        # moto's known gaps, asserted so a fixed moto shows up here: no StartExecution on an alias or a version,
        # no PublishStateMachineVersion / ListStateMachineVersions
        mal = m.create_state_machine_alias(name="blue", routingConfiguration=[
            {"stateMachineVersionArn": mv1, "weight": 100}])["stateMachineAliasArn"]
        with pytest.raises(m.exceptions.StateMachineDoesNotExist):
            m.start_execution(stateMachineArn=mal)
        with pytest.raises(AttributeError):
            m.start_execution(stateMachineArn=mv1)
        with pytest.raises(NotImplementedError):
            m.publish_state_machine_version(stateMachineArn=marn)
        with pytest.raises(NotImplementedError):
            m.list_state_machine_versions(stateMachineArn=marn)
    assert ours == theirs
    # and here, what moto lacks
    v = sfn.publish_state_machine_version(stateMachineArn=arn)
    assert v["stateMachineVersionArn"] == v2                     # idempotent for the current revision
    assert [x["stateMachineVersionArn"] for x in sfn.list_state_machine_versions(
        stateMachineArn=arn)["stateMachineVersions"]] == [v2, v1]
    al = sfn.create_state_machine_alias(name="blue", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    ex = sfn.start_execution(stateMachineArn=al, name="viaalias")["executionArn"]
    d = sfn.describe_execution(executionArn=ex)
    assert d["stateMachineAliasArn"] == al and d["stateMachineVersionArn"] == v1 and json.loads(d["output"]) == "one"
    sfe = sfn.describe_state_machine_for_execution(executionArn=ex)
    assert sfe["stateMachineArn"] == v1 and json.loads(sfe["definition"])["States"]["A"]["Result"] == "one"
    via = sfn.list_executions(stateMachineArn=al)["executions"]
    assert [x["name"] for x in via] == ["viaalias"] and via[0]["stateMachineAliasArn"] == al
    assert [x["name"] for x in sfn.list_executions(stateMachineArn=v1)["executions"]] == ["viaalias"]
    assert sfn.list_executions(stateMachineArn=v2)["executions"] == []
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    assert len(sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]) == 1
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_state_machine_alias(stateMachineAliasArn=arn + ":nope")


def test_boto3_nested_sync_matches_moto_shape(srv):
    """A .sync:2 child through boto3: the parent's output is the child's DescribeExecution with JSON Output."""
    sfn = _boto(srv)
    r = redis.Redis(port=srv.port, decode_responses=True, protocol=3)
    r.flushall()
    sfn.create_state_machine(name="child", definition=CHILD, roleArn="arn:aws:iam::0:role/x")
    p = sfn.create_state_machine(name="par", definition=parent(".sync:2"), roleArn="arn:aws:iam::0:role/x")
    ex = sfn.start_execution(stateMachineArn=p["stateMachineArn"], input='{"x":9,"wait":0}')["executionArn"]
    d = wait_for(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(sfn.describe_execution(executionArn=ex)),
                 timeout=5)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"])["Output"]["got"] == {"x": 9, "wait": 0}
    ev = sfn.get_execution_history(executionArn=ex)["events"]
    sub = next(e for e in ev if e["type"] == "TaskSubmitted")["taskSubmittedEventDetails"]
    assert sub["resourceType"] == "states" and sub["resource"] == "startExecution.sync:2"
