"""Distributed Map (ItemProcessor.ProcessorConfig Mode DISTRIBUTED): every item is a child execution (STANDARD or
EXPRESS) keyed under its parent, at most MaxConcurrency at a time, ToleratedFailureCount/Percentage deciding the
map run; compared with moto's interpreter through boto3 (moto refuses ExecutionType EXPRESS: asserted)."""
import json
import time

import pytest
import redis

from tests.support.servers import free_port, start_cachemere, wait_for, wait_for_port


def dmap(proc_states, start, extra=None, et="STANDARD"):
    st = {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": et}, "StartAt": start, "States": proc_states}}
    st.update(extra or {})
    return json.dumps({"StartAt": "M", "States": {"M": st}})


ECHO = {"D": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}}
SLOW_OR_FAIL = {"C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 2, "Next": "F"}],
                      "Default": "W"},
                "F": {"Type": "Fail", "Error": "Big", "Cause": "too big"},
                "W": {"Type": "Wait", "Seconds": 1, "End": True}}


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
    c.flushall()
    c.execute_command("WF.CONFIG", "SET", "time-scale", "0.05")
    yield c
    c.execute_command("WF.CONFIG", "SET", "time-scale", "1")
    c.close()


def done(r, key, timeout=8):
    return wait_for(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(r.execute_command("WF.EXEC", key)),
                    timeout=timeout)


def test_children_run_with_max_concurrency(r):
    r.execute_command("WF.CREATE", "dm", dmap({"W": {"Type": "Wait", "Seconds": 1, "Next": "D"}, **ECHO}, "W",
                                             {"MaxConcurrency": 2}))
    key = r.execute_command("WF.START", "dm", "NAME", "a", "INPUT", json.dumps({"items": list(range(5))}))["exec"]
    kids = r.keys("{dm}:a/*")
    assert len(kids) == 2 and all(r.type(k) == "execution" for k in kids)      # two at a time
    peak = 0
    t0 = time.monotonic()
    while r.execute_command("WF.EXEC", key)["status"] == "RUNNING" and time.monotonic() - t0 < 8:
        running = [k for k in r.keys("{dm}:a/*") if r.execute_command("WF.EXEC", k)["status"] == "RUNNING"]
        peak = max(peak, len(running))
        time.sleep(0.01)
    d = done(r, key)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == [{"v": i} for i in range(5)]
    assert peak <= 2 and len(r.keys("{dm}:a/*")) == 5
    kid = r.execute_command("WF.EXEC", sorted(r.keys("{dm}:a/*"))[0])
    assert kid["startedBy"] == d["executionArn"]
    types = [e["type"] for e in r.execute_command("WF.HISTORY", key)]
    assert types == ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded",
                     "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]


def test_tolerated_failures_and_the_threshold(r):
    r.execute_command("WF.CREATE", "tol", dmap(SLOW_OR_FAIL, "C", {"ToleratedFailureCount": 1}, et="EXPRESS"))
    d = done(r, r.execute_command("WF.START", "tol", "NAME", "ok", "INPUT", '{"items":[1,3,0]}')["exec"])
    assert d["status"] == "SUCCEEDED"
    out = json.loads(d["output"])
    assert out[1] == {"Error": "Big", "Cause": "too big"} and out[0] == 1 and out[2] == 0
    key = r.execute_command("WF.START", "tol", "NAME", "bad", "INPUT", '{"items":[1,3,5,0]}')["exec"]
    d = done(r, key)
    assert d["status"] == "FAILED" and d["error"] == "States.ExceedToleratedFailureThreshold"
    status = sorted(r.execute_command("WF.EXEC", k)["status"] for k in r.keys("{tol}:bad/*"))
    assert status == ["ABORTED", "ABORTED", "FAILED", "FAILED"]                 # the run's other children stop
    r.execute_command("WF.CREATE", "pct", dmap(SLOW_OR_FAIL, "C", {"ToleratedFailurePercentage": 50}))
    d = done(r, r.execute_command("WF.START", "pct", "NAME", "p", "INPUT", '{"items":[3,4,0,1]}')["exec"])
    assert d["status"] == "SUCCEEDED"
    r.execute_command("WF.CREATE", "none", dmap(SLOW_OR_FAIL, "C"))
    d = done(r, r.execute_command("WF.START", "none", "NAME", "n", "INPUT", '{"items":[3]}')["exec"])
    assert d["error"] == "States.ExceedToleratedFailureThreshold"
    assert [e["type"] for e in r.execute_command("WF.HISTORY", "{none}:n")][-4:] == \
        ["MapRunStarted", "MapRunFailed", "MapStateFailed", "ExecutionFailed"]


def test_stopping_the_parent_stops_the_map_run(r):
    r.execute_command("WF.CREATE", "st", dmap({"W": {"Type": "Wait", "Seconds": 100, "End": True}}, "W"))
    key = r.execute_command("WF.START", "st", "NAME", "s", "INPUT", '{"items":[1,2,3]}')["exec"]
    r.execute_command("WF.STOP", key)
    assert {r.execute_command("WF.EXEC", k)["status"] for k in r.keys("{st}:s/*")} == {"ABORTED"}


def _run(c, role, definition, inp):
    arn = c.create_state_machine(name="dm", definition=definition, roleArn=role)["stateMachineArn"]
    ex = c.start_execution(stateMachineArn=arn, input=json.dumps(inp))["executionArn"]
    d = wait_for(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(c.describe_execution(executionArn=ex)),
                 timeout=10)
    return d, [e["type"] for e in c.get_execution_history(executionArn=ex)["events"]]


def test_boto3_distributed_map_matches_moto(srv):
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config
    sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{srv.sfn_port}", region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    redis.Redis(port=srv.port).flushall()
    definition = dmap(ECHO, "D", {"MaxConcurrency": 2})
    ours, our_types = _run(sfn, "arn:aws:iam::000000000000:role/x", definition, {"items": [1, 2, 3]})
    sfn.create_state_machine(name="ex", definition=dmap(ECHO, "D", et="EXPRESS"), roleArn="arn:aws:iam::0:role/x")
    moto = pytest.importorskip("moto")
    with moto.mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        m = boto3.client("stepfunctions", region_name="us-east-1")
        theirs, their_types = _run(m, "arn:aws:iam::123456789012:role/x", definition, {"items": [1, 2, 3]})
        with pytest.raises(m.exceptions.InvalidDefinition):              # moto's parser: STANDARD only
            m.create_state_machine(name="ex", definition=dmap(ECHO, "D", et="EXPRESS"),
                                   roleArn="arn:aws:iam::123456789012:role/x")
    assert ours["status"] == theirs["status"] == "SUCCEEDED"
    assert json.loads(ours["output"]) == json.loads(theirs["output"]) == [{"v": 1}, {"v": 2}, {"v": 3}]
    assert our_types == their_types


def test_a_map_run_resumes_after_kill9():
    from services.workflow.asl.runtime import fold
    s = start_cachemere("--appendonly", "yes", "--appendfsync", "always")
    try:
        r = redis.Redis(port=s.port, decode_responses=True, protocol=3)
        r.execute_command("WF.CREATE", "dm", dmap({"W": {"Type": "Wait", "SecondsPath": "$.w", "Next": "D"},
                                                   "D": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "End": True}},
                                                  "W", {"MaxConcurrency": 3}))
        items = [{"v": i, "w": 0 if i < 2 else 1} for i in range(6)]
        key = r.execute_command("WF.START", "dm", "NAME", "a", "INPUT", json.dumps({"items": items}))["exec"]
        wait_for(lambda: len(r.keys("{dm}:a/*")) >= 4, timeout=5)
        s.kill9()
        s = start_cachemere("--appendonly", "yes", workdir=s.dir)
        r = redis.Redis(port=s.port, decode_responses=True, protocol=3)
        d = done(r, key)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == [{"v": i} for i in range(6)]
        kids = r.keys("{dm}:a/*")
        assert len(kids) == 6
        for k in [key] + kids:
            h = r.execute_command("WF.HISTORY", k)
            assert [e["id"] for e in h] == list(range(1, len(h) + 1))
            assert [e["type"] for e in h].count("ExecutionSucceeded") == 1 and fold(h)["status"] == "SUCCEEDED"
    finally:
        s.stop()


def test_a_large_map_run_does_not_hold_the_loop(r):
    """5,000 quick children start 100 per transition (the rest from timers), so other clients keep being served."""
    r.execute_command("WF.CREATE", "big", dmap({"D": {"Type": "Pass", "End": True}}, "D"))
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"], decode_responses=True)
    t0 = time.monotonic()
    key = r.execute_command("WF.START", "big", "INPUT", json.dumps({"items": list(range(5000))}))["exec"]
    worst = 0.0
    while time.monotonic() - t0 < 30:
        t1 = time.monotonic()
        other.ping()
        worst = max(worst, time.monotonic() - t1)
        if r.execute_command("WF.EXECUTIONS", "big")[0]["status"] != "RUNNING":
            break
    d = r.execute_command("WF.EXEC", key)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == list(range(5000))
    assert worst < 1.0, worst                    # generous on a loaded 2-core machine (about 0.03 s unloaded)


def test_redrive_reruns_only_the_unfinished_children(r):
    r.execute_command("WF.CREATE", "rd", dmap({"W": {"Type": "Wait", "SecondsPath": "$.w", "Next": "D"},
                                               "D": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "End": True}}, "W"))
    items = [{"v": 0, "w": 0}, {"v": 1, "w": 0}, {"v": 2, "w": 10}, {"v": 3, "w": 10}]
    key = r.execute_command("WF.START", "rd", "NAME", "x", "INPUT", json.dumps({"items": items}))["exec"]
    wait_for(lambda: sum(r.execute_command("WF.EXEC", k)["status"] == "SUCCEEDED" for k in r.keys("{rd}:x/*")) == 2,
             timeout=5)
    r.execute_command("WF.STOP", key)
    assert sorted(r.execute_command("WF.EXEC", k)["status"] for k in r.keys("{rd}:x/*")) == \
        ["ABORTED", "ABORTED", "SUCCEEDED", "SUCCEEDED"]
    r.execute_command("WF.REDRIVE", key)
    assert len(r.keys("{rd}:x/*")) == 6                        # two new children, for the two stopped ones
    d = done(r, key)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == [{"v": i} for i in range(4)]
    types = [e["type"] for e in r.execute_command("WF.HISTORY", key)]
    assert types.count("MapRunStarted") == 2 and types.count("ExecutionRedriven") == 1


def test_item_reader_reads_a_key(r):
    r.set("orders.json", json.dumps([{"id": 1}, {"id": 2}, {"id": 3}]))
    r.set("orders.csv", "id,qty\n1,5\n2,7\n")
    r.set("orders.jsonl", '{"id":1}\n{"id":2}\n')

    def reader(key, typ, extra=None):
        rd = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": typ, **(extra or {})},
              "Parameters": {"Bucket": "any", "Key.$": "$.key"}}
        return dmap(ECHO, "D", {"ItemReader": rd})
    for name, typ, extra, want in (
            ("j", "JSON", {"MaxItems": 2}, [{"v": {"id": 1}}, {"v": {"id": 2}}]),
            ("c", "CSV", None, [{"v": {"id": "1", "qty": "5"}}, {"v": {"id": "2", "qty": "7"}}]),
            ("l", "JSONL", None, [{"v": {"id": 1}}, {"v": {"id": 2}}])):
        r.execute_command("WF.CREATE", name, reader(name, typ, extra))
        key = {"j": "orders.json", "c": "orders.csv", "l": "orders.jsonl"}[name]
        d = done(r, r.execute_command("WF.START", name, "INPUT", json.dumps({"key": key}))["exec"])
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == want, (name, d)
    r.execute_command("WF.CREATE", "missing", reader("missing", "JSON"))
    d = done(r, r.execute_command("WF.START", "missing", "INPUT", '{"key":"nope"}')["exec"])
    assert d["status"] == "FAILED" and d["error"] == "States.ItemReaderFailed"


def test_item_batcher_groups_items(r):
    r.execute_command("WF.CREATE", "b", dmap({"D": {"Type": "Pass", "Parameters": {"n.$": "States.ArrayLength($.Items)",
                                                                                 "tag.$": "$.BatchInput.tag"},
                                                "End": True}}, "D",
                                             {"ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"tag.$": "$.t"}}}))
    d = done(r, r.execute_command("WF.START", "b", "INPUT", json.dumps({"items": [1, 2, 3, 4, 5], "t": "x"}))["exec"])
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == [{"n": 2, "tag": "x"}, {"n": 2, "tag": "x"},
                                                                        {"n": 1, "tag": "x"}]
    assert len(r.keys("{b}:*/*")) == 3                        # one child per batch


def test_map_runs_with_counts(srv, r):
    r.execute_command("WF.CREATE", "mr", dmap(SLOW_OR_FAIL, "C", {"ToleratedFailureCount": 1, "MaxConcurrency": 2}))
    key = r.execute_command("WF.START", "mr", "NAME", "m", "INPUT", '{"items":[3,1,0,0]}')["exec"]
    [live] = r.execute_command("WF.MAPRUNS", key)
    assert live["status"] == "RUNNING" and live["itemCounts"]["total"] == 4 and live["maxConcurrency"] == 2
    assert live["itemCounts"]["pending"] + live["itemCounts"]["running"] + live["itemCounts"]["succeeded"] + \
        live["itemCounts"]["failed"] == 4
    done(r, key)
    [run] = r.execute_command("WF.MAPRUNS", key)
    assert run["status"] == "SUCCEEDED" and run["itemCounts"]["succeeded"] == 3 and run["itemCounts"]["failed"] == 1
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config
    sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{srv.sfn_port}", region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    ex_arn = r.execute_command("WF.EXEC", key)["executionArn"]
    [item] = sfn.list_map_runs(executionArn=ex_arn)["mapRuns"]
    d = sfn.describe_map_run(mapRunArn=item["mapRunArn"])
    assert d["status"] == "SUCCEEDED" and d["itemCounts"]["total"] == 4 and d["toleratedFailureCount"] == 1
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_map_run(mapRunArn=item["mapRunArn"] + "9")


def test_update_map_run_changes_concurrency_and_threshold(srv, r):
    r.execute_command("WF.CREATE", "up", dmap({"W": {"Type": "Wait", "Seconds": 4, "Next": "D"}, **ECHO}, "W",
                                             {"MaxConcurrency": 1}))
    key = r.execute_command("WF.START", "up", "NAME", "u", "INPUT", json.dumps({"items": list(range(4))}))["exec"]
    [run] = r.execute_command("WF.MAPRUNS", key)
    assert run["maxConcurrency"] == 1 and run["itemCounts"]["running"] == 1 and run["itemCounts"]["pending"] == 3
    with pytest.raises(redis.ResponseError, match="^VALIDATIONEXCEPTION .*maxConcurrency"):
        r.execute_command("WF.UPDATEMAPRUN", key, run["mapRunArn"], "MAXCONCURRENCY", "-1")
    with pytest.raises(redis.ResponseError, match="^VALIDATIONEXCEPTION .*toleratedFailurePercentage"):
        r.execute_command("WF.UPDATEMAPRUN", key, run["mapRunArn"], "TOLERATEDFAILUREPERCENTAGE", "101")
    with pytest.raises(redis.ResponseError, match="^RESOURCENOTFOUND Map Run Does Not Exist"):
        r.execute_command("WF.UPDATEMAPRUN", key, run["mapRunArn"] + "9", "MAXCONCURRENCY", "4")
    assert r.execute_command("WF.UPDATEMAPRUN", key, run["mapRunArn"], "MAXCONCURRENCY", "4") == "OK"
    [run] = r.execute_command("WF.MAPRUNS", key)
    assert run["maxConcurrency"] == 4 and run["itemCounts"]["running"] == 4 and run["itemCounts"]["pending"] == 0
    d = done(r, key)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == [{"v": i} for i in range(4)]
    with pytest.raises(redis.ResponseError, match="^VALIDATIONEXCEPTION Map Run .* is not running"):
        r.execute_command("WF.UPDATEMAPRUN", key, run["mapRunArn"], "MAXCONCURRENCY", "2")

    # a threshold the failures already pass fails the run at once, through boto3's update_map_run
    slow = dict(SLOW_OR_FAIL, W={"Type": "Wait", "Seconds": 60, "End": True})      # 3 s at this time scale
    r.execute_command("WF.CREATE", "upf", dmap(slow, "C", {"ToleratedFailureCount": 5}))
    key = r.execute_command("WF.START", "upf", "NAME", "f", "INPUT", '{"items":[3,1,1,1]}')["exec"]
    wait_for(lambda: r.execute_command("WF.MAPRUNS", key)[0]["itemCounts"]["failed"] == 1, timeout=5)
    assert r.execute_command("WF.EXEC", key)["status"] == "RUNNING"
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config
    sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{srv.sfn_port}", region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    arn = r.execute_command("WF.MAPRUNS", key)[0]["mapRunArn"]
    sfn.update_map_run(mapRunArn=arn, toleratedFailureCount=0)
    d = done(r, key)
    assert d["status"] == "FAILED" and d["error"] == "States.ExceedToleratedFailureThreshold"
    desc = sfn.describe_map_run(mapRunArn=arn)
    assert desc["status"] == "FAILED" and desc["toleratedFailureCount"] == 0
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.update_map_run(mapRunArn=arn + "9", maxConcurrency=3)
