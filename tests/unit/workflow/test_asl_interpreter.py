"""The pure ASL interpreter (services/workflow/asl): small state machines with expected outputs, many of
them the examples of the AWS Step Functions developer guide and the states-language.net spec."""
import random

import pytest

from services.workflow.asl import (Env, StatesError, advance, apply_patch, matches, next_due, pending_tasks,
                                   run_to_completion, validate)
from services.workflow.asl import intrinsics, jsonpath
from services.workflow.asl.dataflow import string_matches


def one(state, **extra):
    st = {"Type": "Pass", "End": True}
    st.update(state)
    d = {"StartAt": "S", "States": {"S": st}}
    d.update(extra)
    return d


def run(d, inp=None, **kw):
    assert validate(d) == [], validate(d)
    return run_to_completion(d, {} if inp is None else inp, **kw)


def out(d, inp=None, **kw):
    ex = run(d, inp, **kw)
    assert ex["status"] == "SUCCEEDED", (ex["error"], ex["cause"])
    return ex["output"]


def types(ex):
    return [e["type"] for e in ex["history"]]


# ------------------------------------------------------------------ JSONPath data flow
AWS_INPUT = {"comment": "Example for InputPath.",
             "dataset1": {"val1": 1, "val2": 2, "val3": 3},
             "dataset2": {"val1": "a", "val2": "b", "val3": "c"}}


def test_input_path_selects_a_subtree():
    assert out(one({"InputPath": "$.dataset2"}), AWS_INPUT) == {"val1": "a", "val2": "b", "val3": "c"}


def test_result_path_merges_into_the_raw_input():
    # AWS guide "ResultPath": {"master": {"detail": [1, 2, 3]}} + ResultPath $.master.detail
    d = one({"Result": "Hello, Step Functions!", "ResultPath": "$.taskresult"})
    assert out(d, {"comment": "x"}) == {"comment": "x", "taskresult": "Hello, Step Functions!"}
    d = one({"Result": [4, 5], "ResultPath": "$.master.detail"})
    assert out(d, {"master": {"detail": [1, 2, 3]}}) == {"master": {"detail": [4, 5]}}


def test_result_path_null_discards_and_output_path_selects():
    assert out(one({"Result": 1, "ResultPath": None}), {"a": 1}) == {"a": 1}
    assert out(one({"Result": {"x": {"y": 2}}, "OutputPath": "$.x"}), {}) == {"y": 2}
    assert out(one({"InputPath": None}), {"a": 1}) == {}
    assert out(one({"OutputPath": None}), {"a": 1}) == {}


def test_parameters_paths_context_and_static_fields():
    d = one({"Parameters": {"flagged": True, "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"},
                            "weekday.$": "$.weekday", "name.$": "$$.State.Name", "exec.$": "$$.Execution.Name"}})
    got = out(d, {"vals": [0, 10, 20, 30, 40, 50], "weekday": "Tuesday"})
    assert got == {"flagged": True, "parts": {"first": 0, "last3": [30, 40, 50]}, "weekday": "Tuesday",
                   "name": "S", "exec": "e"}


def test_parameters_missing_path_fails_with_parameter_path_failure():
    ex = run(one({"Parameters": {"x.$": "$.nope"}}), {})
    assert ex["status"] == "FAILED" and ex["error"] == "States.ParameterPathFailure"


def test_result_selector_on_a_mocked_task():
    d = one({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "ResultSelector": {"payload.$": "$.Payload", "code.$": "$.StatusCode"}, "ResultPath": "$.res"})
    mocks = {"S": {"0": {"Return": {"Payload": {"v": 1}, "StatusCode": 200, "Other": 0}}}}
    assert out(d, {"in": 1}, mocks=mocks) == {"in": 1, "res": {"payload": {"v": 1}, "code": 200}}


def test_jsonpath_queries():
    doc = {"store": {"book": [{"t": "a", "p": 8}, {"t": "b", "p": 12}, {"t": "c", "p": 9}]}}
    assert jsonpath.get("$.store.book[*].t", doc) == ["a", "b", "c"]
    assert jsonpath.get("$.store.book[?(@.p < 10)].t", doc) == ["a", "c"]
    assert jsonpath.get("$..p", doc) == [8, 12, 9]
    assert jsonpath.get("$.store.book[1]['t']", doc) == "b"
    assert jsonpath.get("$.store.book.length()", doc) == [3]
    with pytest.raises(jsonpath.PathError):
        jsonpath.get("$.store.nope", doc)
    with pytest.raises(jsonpath.PathError):
        jsonpath.parse("store")
    assert jsonpath.put("$.a.b", {"a": {"c": 1}}, 2) == {"a": {"c": 1, "b": 2}}
    with pytest.raises(jsonpath.PathError):
        jsonpath.put("$.a.b", {"a": 5}, 2)


def test_result_path_onto_a_scalar_fails_with_result_path_match_failure():
    ex = run(one({"Result": 1, "ResultPath": "$.a.b"}), {"a": "scalar"})
    assert ex["error"] == "States.ResultPathMatchFailure"


# ------------------------------------------------------------------ Choice: every operator
CHOICE_CASES = [
    ({"StringEquals": "x"}, "x", True), ({"StringEquals": "x"}, "y", False), ({"StringEquals": "1"}, 1, False),
    ({"StringLessThan": "b"}, "a", True), ({"StringGreaterThan": "b"}, "a", False),
    ({"StringLessThanEquals": "a"}, "a", True), ({"StringGreaterThanEquals": "b"}, "c", True),
    ({"StringMatches": "log-*.txt"}, "log-2024.txt", True), ({"StringMatches": "a\\*b"}, "a*b", True),
    ({"StringMatches": "a\\*b"}, "axxb", False), ({"StringMatches": "*"}, 5, False),
    ({"NumericEquals": 5}, 5.0, True), ({"NumericEquals": 5}, "5", False), ({"NumericEquals": 1}, True, False),
    ({"NumericLessThan": 5}, 4, True), ({"NumericGreaterThan": 5}, 4, False),
    ({"NumericLessThanEquals": 5}, 5, True), ({"NumericGreaterThanEquals": 5}, 4.99, False),
    ({"BooleanEquals": True}, True, True), ({"BooleanEquals": False}, 0, False),
    ({"TimestampEquals": "2016-03-14T01:59:00Z"}, "2016-03-14T01:59:00Z", True),
    ({"TimestampEquals": "2016-03-14T01:59:00Z"}, "2016-03-14T02:59:00+01:00", True),
    ({"TimestampLessThan": "2016-03-14T01:59:00Z"}, "2016-03-14T01:58:59.5Z", True),
    ({"TimestampGreaterThan": "2016-03-14T01:59:00Z"}, "2016-03-14T01:58:00Z", False),
    ({"TimestampLessThanEquals": "2016-03-14T01:59:00Z"}, "2016-03-14T01:59:00Z", True),
    ({"TimestampGreaterThanEquals": "2016-03-14T01:59:00Z"}, "not a time", False),
    ({"IsNull": True}, None, True), ({"IsNull": True}, 0, False), ({"IsNumeric": True}, 1.5, True),
    ({"IsNumeric": True}, True, False), ({"IsString": True}, "s", True), ({"IsString": False}, 1, True),
    ({"IsBoolean": True}, False, True), ({"IsTimestamp": True}, "2016-03-14T01:59:00Z", True),
    ({"IsTimestamp": True}, "2016-03-14", False),
]


def choice(rule):
    return {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [dict(rule, Next="Yes")], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": "yes", "End": True},
        "No": {"Type": "Pass", "Result": "no", "End": True}}}


@pytest.mark.parametrize("op,value,expected", CHOICE_CASES)
def test_choice_operators(op, value, expected):
    rule = dict(op, Variable="$.v")
    assert out(choice(rule), {"v": value}) == ("yes" if expected else "no")


@pytest.mark.parametrize("op", ["StringEqualsPath", "StringLessThanPath", "StringGreaterThanPath",
                                "StringLessThanEqualsPath", "StringGreaterThanEqualsPath", "NumericEqualsPath",
                                "NumericLessThanPath", "NumericGreaterThanPath", "NumericLessThanEqualsPath",
                                "NumericGreaterThanEqualsPath", "BooleanEqualsPath", "TimestampEqualsPath",
                                "TimestampLessThanPath", "TimestampGreaterThanPath", "TimestampLessThanEqualsPath",
                                "TimestampGreaterThanEqualsPath"])
def test_choice_path_operators(op):
    kind = "String" if op.startswith("String") else "Numeric" if op.startswith("Numeric") else \
        "Boolean" if op.startswith("Boolean") else "Timestamp"
    lo, hi = {"String": ("a", "b"), "Numeric": (1, 2), "Boolean": (True, False),
              "Timestamp": ("2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z")}[kind]
    base = op[len(kind):-4]
    expected = {"Equals": False, "LessThan": True, "GreaterThan": False, "LessThanEquals": True,
                "GreaterThanEquals": False}[base]
    if kind == "Boolean":
        expected = False
    assert out(choice({"Variable": "$.a", op: "$.b"}), {"a": lo, "b": hi}) == ("yes" if expected else "no")
    same = {"Equals": True, "LessThan": False, "GreaterThan": False, "LessThanEquals": True,
            "GreaterThanEquals": True}[base]
    assert out(choice({"Variable": "$.a", op: "$.b"}), {"a": lo, "b": lo}) == ("yes" if same else "no")


def test_choice_and_or_not_and_is_present():
    rule = {"And": [{"Variable": "$.a", "IsPresent": True},
                    {"Or": [{"Variable": "$.a", "NumericGreaterThan": 10},
                            {"Not": {"Variable": "$.b", "StringEquals": "skip"}}]}]}
    assert out(choice(rule), {"a": 11, "b": "skip"}) == "yes"
    assert out(choice(rule), {"a": 1, "b": "skip"}) == "no"
    assert out(choice(rule), {"b": "go"}) == "no"


def test_choice_no_match_without_default_and_missing_variable():
    d = {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.v", "NumericEquals": 1, "Next": "E"}]}, "E": {"Type": "Succeed"}}}
    ex = run(d, {"v": 2})
    assert ex["error"] == "States.NoChoiceMatched"
    ex = run(d, {})
    assert ex["error"] == "States.Runtime" and "Invalid path '$.v'" in ex["cause"]


def test_string_matches_escapes():
    assert string_matches("a\\b", "a\\\\b")
    assert string_matches("", "*")
    assert not string_matches("abc", "a*d")


# ------------------------------------------------------------------ Wait
def test_wait_forms_use_the_clock():
    for st, inp, due in [({"Seconds": 10}, {}, 10000), ({"SecondsPath": "$.s"}, {"s": 3}, 3000),
                         ({"Timestamp": "1970-01-01T00:00:07Z"}, {}, 7000),
                         ({"TimestampPath": "$.t"}, {"t": "1970-01-01T00:00:02.500Z"}, 2500)]:
        ex = run(one(dict(st, Type="Wait")), inp)
        assert ex["status"] == "SUCCEEDED" and ex["stop"] == due, st
        assert types(ex) == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited", "ExecutionSucceeded"]


def test_wait_time_scale_and_past_timestamp():
    ex = run(one({"Type": "Wait", "Seconds": 100}), {}, time_scale=0.01)
    assert ex["stop"] == 1000
    ex = run(one({"Type": "Wait", "Timestamp": "1970-01-01T00:00:01Z"}), {}, now_ms=50000)
    assert ex["stop"] == 50000


def test_wait_seconds_path_bad_value():
    ex = run(one({"Type": "Wait", "SecondsPath": "$.s"}), {"s": "ten"})
    assert ex["error"] == "States.Runtime"


def test_wait_state_leaves_a_timer_in_the_runtime():
    from services.workflow.asl.runtime import new_execution
    ex = new_execution(one({"Type": "Wait", "Seconds": 5}), {}, arn="a", name="n", sm_arn="s", sm_name="m",
                       now_ms=1000)
    apply_patch(ex, advance(ex, ("start",), Env(1000)))
    assert ex["status"] == "RUNNING" and next_due(ex) == 6000
    p = advance(ex, ("timers",), Env(3000))
    assert p["events"] == []            # not due yet: nothing happens
    apply_patch(ex, advance(ex, ("timers",), Env(6001)))
    assert ex["status"] == "SUCCEEDED"


# ------------------------------------------------------------------ Succeed / Fail
def test_fail_with_error_and_cause_paths():
    d = one({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('bad {}', $.n)"})
    del d["States"]["S"]["End"]
    ex = run(d, {"e": "MyError", "n": 7})
    assert (ex["status"], ex["error"], ex["cause"]) == ("FAILED", "MyError", "bad 7")
    assert types(ex) == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    assert ex["history"][-1]["executionFailedEventDetails"] == {"error": "MyError", "cause": "bad 7"}


def test_succeed_output_path():
    d = one({"Type": "Succeed", "OutputPath": "$.a"})
    del d["States"]["S"]["End"]
    assert out(d, {"a": [1]}) == [1]


# ------------------------------------------------------------------ Parallel / Map
def test_parallel_collects_branch_outputs_in_order():
    d = one({"Type": "Parallel", "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "Next": "A"},
                                    "A": {"Type": "Pass", "Result": "slow", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "fast", "End": True}}}],
        "ResultPath": "$.r"})
    ex = run(d, {"x": 1})
    assert ex["output"] == {"x": 1, "r": ["slow", "fast"]}
    t = types(ex)
    assert t[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert t[-3:] == ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]


def test_parallel_branch_failure_is_caught():
    d = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}},
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "c"}}}],
            "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.err", "Next": "H"}], "Next": "Z"},
        "H": {"Type": "Pass", "End": True}, "Z": {"Type": "Succeed"}}}
    ex = run(d, {})
    assert ex["output"] == {"err": {"Error": "Boom", "Cause": "c"}}
    assert ex["stop"] == 0             # the waiting branch was abandoned
    assert "ParallelStateFailed" in types(ex)


def test_map_with_item_selector_and_max_concurrency():
    d = one({"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
             "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "k.$": "$.k"},
             "ItemProcessor": {"StartAt": "W", "States": {
                 "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
                 "P": {"Type": "Pass", "Parameters": {"r.$": "States.MathAdd($.v, $.i)", "k.$": "$.k"},
                       "End": True}}}})
    ex = run(d, {"items": [10, 20, 30, 40, 50], "k": "K"})
    assert ex["output"] == [{"r": 10, "k": "K"}, {"r": 21, "k": "K"}, {"r": 32, "k": "K"}, {"r": 43, "k": "K"},
                            {"r": 54, "k": "K"}]
    assert ex["stop"] == 3000           # 5 items two at a time, 1 s each
    assert types(ex).count("MapIterationStarted") == 5
    started = [e for e in ex["history"] if e["type"] == "MapStateStarted"][0]
    assert started["mapStateStartedEventDetails"] == {"length": 5}


def test_map_legacy_iterator_and_empty_list():
    d = one({"Type": "Map", "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}})
    assert out(d, []) == []
    assert out(d, [1, {"a": 2}]) == [1, {"a": 2}]


def test_map_tolerated_failures():
    proc = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 2, "Next": "F"}],
              "Default": "P"},
        "F": {"Type": "Fail", "Error": "Big"}, "P": {"Type": "Pass", "End": True}}}
    ok = out(one({"Type": "Map", "ItemProcessor": proc, "ToleratedFailureCount": 2}), [1, 2, 3, 4])
    assert ok[:2] == [1, 2] and ok[2]["Error"] == "Big"
    ex = run(one({"Type": "Map", "ItemProcessor": proc, "ToleratedFailureCount": 1}), [1, 2, 3, 4])
    assert ex["error"] == "States.ExceedToleratedFailureThreshold"
    assert out(one({"Type": "Map", "ItemProcessor": proc, "ToleratedFailurePercentage": 50}), [1, 2, 3, 4])
    ex = run(one({"Type": "Map", "ItemProcessor": proc, "ToleratedFailurePercentage": 25}), [1, 2, 3, 4])
    assert ex["error"] == "States.ExceedToleratedFailureThreshold"
    ex = run(one({"Type": "Map", "ItemProcessor": proc}), [1, 5])
    assert ex["error"] == "Big"


def test_map_items_path_must_be_an_array():
    ex = run(one({"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}),
             {"a": 1})
    assert ex["error"] == "States.Runtime"


# ------------------------------------------------------------------ Retry / Catch / errors
def task_with(retry=None, catch=None, **extra):
    st = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f", "End": True}
    if retry is not None:
        st["Retry"] = retry
    if catch is not None:
        st["Catch"] = catch
    st.update(extra)
    d = {"StartAt": "S", "States": {"S": st, "H": {"Type": "Pass", "End": True}}}
    return d


def test_retry_backoff_then_success_from_mocks():
    mocks = {"S": {"0-2": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "x"}}, "3": {"Return": {"ok": 1}}}}
    d = task_with(retry=[{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 2, "MaxAttempts": 3,
                          "BackoffRate": 2}])
    d["States"].pop("H")
    ex = run(d, {}, mocks=mocks)
    assert ex["output"] == {"ok": 1}
    assert ex["stop"] == 2000 + 4000 + 8000
    assert types(ex).count("TaskScheduled") == 4 and types(ex).count("TaskStateEntered") == 1


def test_retry_max_delay_and_full_jitter():
    mocks = {"S": {"0-9": {"Throw": {"Error": "E"}}, "10": {"Return": 1}}}
    d = task_with(retry=[{"ErrorEquals": ["E"], "IntervalSeconds": 1, "MaxAttempts": 10, "BackoffRate": 3,
                          "MaxDelaySeconds": 5}])
    d["States"].pop("H")
    ex = run(d, {}, mocks=mocks)
    assert ex["stop"] == (1 + 3 + 5 * 8) * 1000
    d["States"]["S"]["Retry"][0]["JitterStrategy"] = "FULL"
    ex = run(d, {}, mocks=mocks, rng=random.Random(1))
    assert ex["status"] == "SUCCEEDED" and 0 < ex["stop"] < (1 + 3 + 5 * 8) * 1000


def test_retry_exhausted_then_catch_and_first_matching_retrier_only():
    mocks = {"S": {"0-5": {"Throw": {"Error": "E", "Cause": "why"}}}}
    d = task_with(retry=[{"ErrorEquals": ["E"], "MaxAttempts": 1}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}],
                  catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}])
    ex = run(d, {"in": 1}, mocks=mocks)
    assert ex["output"] == {"Error": "E", "Cause": "why"}
    assert types(ex).count("TaskScheduled") == 2          # one retry: the second retrier is never used


def test_max_attempts_zero_and_uncaught_error():
    mocks = {"S": {"0": {"Throw": {"Error": "E"}}}}
    d = task_with(retry=[{"ErrorEquals": ["E"], "MaxAttempts": 0}])
    d["States"].pop("H")
    ex = run(d, {}, mocks=mocks)
    assert ex["status"] == "FAILED" and ex["error"] == "E"


def test_unmocked_task_fails_with_task_failed_and_is_catchable():
    ex = run(task_with(catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "H", "ResultPath": "$.e"}]), {})
    assert ex["status"] == "SUCCEEDED" and ex["output"]["e"]["Error"] == "States.TaskFailed"


def test_error_matching_rules():
    assert matches(["States.ALL"], "Anything")
    assert not matches(["States.ALL"], "States.Runtime")
    assert not matches(["States.Runtime"], "States.Runtime")
    assert not matches(["States.ALL"], "States.DataLimitExceeded")
    assert matches(["States.DataLimitExceeded"], "States.DataLimitExceeded")
    assert matches(["States.TaskFailed"], "MyError")
    assert not matches(["States.TaskFailed"], "States.Timeout")
    assert matches(["States.Timeout"], "States.Timeout")


def test_payload_limit_is_data_limit_exceeded():
    d = one({"Parameters": {"big.$": "States.ArrayRange(1, 1000, 1)"}})
    from services.workflow.asl.runtime import new_execution
    ex = new_execution(d, {}, arn="a", name="n", sm_arn="s", sm_name="m", now_ms=0)
    apply_patch(ex, advance(ex, ("start",), Env(0, payload_limit=1000)))
    assert ex["status"] == "FAILED" and ex["error"] == "States.DataLimitExceeded"


def test_pass_cycle_is_bounded_by_the_history_limit():
    d = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}
    from services.workflow.asl.runtime import new_execution
    ex = new_execution(d, {}, arn="a", name="n", sm_arn="s", sm_name="m", now_ms=0)
    env = Env(0, history_limit=25000, step_budget=1000)
    apply_patch(ex, advance(ex, ("start",), env))
    assert ex["status"] == "RUNNING" and next_due(ex) == 0     # budget spent: continues from a due timer
    rounds = 0
    while ex["status"] == "RUNNING":
        apply_patch(ex, advance(ex, ("timers",), env))
        rounds += 1
    assert ex["status"] == "FAILED" and ex["error"] == "States.Runtime" and rounds < 20
    assert len(ex["history"]) == 25000


# ------------------------------------------------------------------ Task timeouts, callbacks, activities
def test_callback_task_success_failure_and_context_token():
    d = task_with(Resource="arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                  Parameters={"MessageBody": {"token.$": "$$.Task.Token"}})
    d["States"].pop("H")
    seen = []

    def answer(ex, t):
        seen.append(t)
        return ("task", t["token"], "success", {"done": True})
    ex = run(d, {}, on_task=answer)
    assert ex["output"] == {"done": True}
    assert seen[0]["input"] == {"MessageBody": {"token": seen[0]["token"]}}
    assert types(ex)[1:6] == ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    ex = run(d, {}, on_task=lambda ex, t: ("task", t["token"], "failure", "Nope", "because"))
    assert (ex["error"], ex["cause"]) == ("Nope", "because")


def test_task_timeout_and_heartbeat_timeout():
    base = dict(Resource="arn:aws:states:::lambda:invoke.waitForTaskToken")
    d = task_with(TimeoutSeconds=30, **base)
    d["States"].pop("H")
    ex = run(d, {})
    assert (ex["error"], ex["stop"]) == ("States.Timeout", 30000) and "TaskTimedOut" in types(ex)
    d = task_with(TimeoutSecondsPath="$.t", HeartbeatSecondsPath="$.h", **base)
    d["States"].pop("H")
    ex = run(d, {"t": 30, "h": 5})
    assert (ex["error"], ex["stop"]) == ("States.HeartbeatTimeout", 5000)


def test_heartbeat_extends_the_deadline():
    from services.workflow.asl.runtime import new_execution
    d = task_with(Resource="arn:aws:states:::activity:work", HeartbeatSeconds=5, TimeoutSeconds=100)
    d["States"].pop("H")
    ex = new_execution(d, {"job": 1}, arn="a", name="n", sm_arn="s", sm_name="m", now_ms=0)
    apply_patch(ex, advance(ex, ("start",), Env(0)))
    t = pending_tasks(ex)[0]
    assert t["activity"] == "work" and t["input"] == {"job": 1}
    apply_patch(ex, advance(ex, ("task", t["token"], "started", "w1"), Env(1000)))
    assert next_due(ex) == 6000
    apply_patch(ex, advance(ex, ("task", t["token"], "heartbeat"), Env(4000)))
    assert next_due(ex) == 9000
    apply_patch(ex, advance(ex, ("timers",), Env(8000)))
    assert ex["status"] == "RUNNING"
    apply_patch(ex, advance(ex, ("task", t["token"], "success", "ok"), Env(8500)))
    assert ex["output"] == "ok"
    assert types(ex)[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    with pytest.raises(StatesError):
        advance(ex, ("task", t["token"], "success", "again"), Env(9000))


def test_missing_activity_fails_with_runtime():
    from services.workflow.asl.runtime import new_execution
    d = task_with(Resource="arn:aws:states:us-east-1:000000000000:activity:gone",
                  catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}])
    ex = new_execution(d, {}, arn="a", name="n", sm_arn="s", sm_name="m", now_ms=0)
    apply_patch(ex, advance(ex, ("start",), Env(0, activity_exists=lambda name: False)))
    assert ex["status"] == "FAILED" and ex["error"] == "States.Runtime"


def test_execution_timeout_and_stop():
    d = one({"Type": "Wait", "Seconds": 100}, TimeoutSeconds=10)
    ex = run(d, {})
    assert ex["status"] == "TIMED_OUT" and ex["stop"] == 10000 and types(ex)[-1] == "ExecutionTimedOut"
    from services.workflow.asl.runtime import new_execution
    ex = new_execution(one({"Type": "Wait", "Seconds": 100}), {}, arn="a", name="n", sm_arn="s", sm_name="m",
                       now_ms=0)
    apply_patch(ex, advance(ex, ("start",), Env(0)))
    apply_patch(ex, advance(ex, ("stop", "Halt", "by test"), Env(5)))
    assert ex["status"] == "ABORTED" and next_due(ex) is None
    assert ex["history"][-1]["executionAbortedEventDetails"] == {"error": "Halt", "cause": "by test"}


def test_history_event_ids_chain():
    ex = run(one({"Type": "Wait", "Seconds": 1}), {})
    ids = [e["id"] for e in ex["history"]]
    assert ids == list(range(1, len(ids) + 1))
    assert all(e["previousEventId"] == e["id"] - 1 for e in ex["history"])


# ------------------------------------------------------------------ intrinsics (AWS guide examples)
def intr(expr, value=None, ctx=None, rng=None):
    return intrinsics.evaluate(expr, value or {}, ctx or {}, rng)


def test_intrinsics_from_the_aws_guide():
    assert intr("States.Format('Hello, my name is {}.', $.name)", {"name": "Arnav"}) == "Hello, my name is Arnav."
    assert intr("States.StringToJson($.s)", {"s": "{\"number\": 20}"}) == {"number": 20}
    assert intr("States.JsonToString($.o)", {"o": {"a": [1, 2]}}) == '{"a":[1,2]}'
    assert intr("States.Array('Foo', 2020, $.a, null)", {"a": {"b": 1}}) == ["Foo", 2020, {"b": 1}, None]
    assert intr("States.ArrayPartition($.a, 4)", {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]}) == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]
    assert intr("States.ArrayContains($.a, $.v)", {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "v": 5}) is True
    assert intr("States.ArrayContains($.a, 'x')", {"a": [1]}) is False
    assert intr("States.ArrayRange(1, 9, 2)") == [1, 3, 5, 7, 9]
    assert intr("States.ArrayRange(5, 1, -2)") == [5, 3, 1]
    assert intr("States.ArrayGetItem($.a, $.i)", {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5}) == 6
    assert intr("States.ArrayLength($.a)", {"a": [1, 2, 3]}) == 3
    assert intr("States.ArrayUnique($.a)", {"a": [1, 2, 3, 3, 3, 3, 3, 3, 4]}) == [1, 2, 3, 4]
    assert intr("States.Base64Encode($.s)", {"s": "Data to encode"}) == "RGF0YSB0byBlbmNvZGU="
    assert intr("States.Base64Decode('RGVjb2RlZCBkYXRh')") == "Decoded data"
    assert intr("States.Hash($.s, 'SHA-1')", {"s": "input data"}) == "aaff4a450a104cd177d28d18d74485e8cae074b7"
    assert intr("States.JsonMerge($.a, $.b, false)", {"a": {"a": 1, "x": {"y": 1}}, "b": {"x": {"z": 2}}}) == \
        {"a": 1, "x": {"z": 2}}
    assert intr("States.MathAdd($.v, -1)", {"v": 111}) == 110
    assert intr("States.StringSplit($.s, $.d)", {"s": "This.is+a,test=string", "d": ".+,="}) == \
        ["This", "is", "a", "test", "string"]
    assert intr("States.StringSplit('1,2,3,4,5', ',')") == ["1", "2", "3", "4", "5"]
    assert intr("States.MathRandom(1, 999, 1234)") == intr("States.MathRandom(1, 999, 1234)")
    r = intr("States.MathRandom(1, 10)", rng=random.Random(3))
    assert 1 <= r < 10
    u = intr("States.UUID()", rng=random.Random(3))
    assert len(u) == 36 and u[14] == "4"
    assert intr("States.Format('{} \\{x\\} {}', 1, true)") == "1 {x} true"
    assert intr("States.ArrayLength(States.Array(1, States.Array(2, 3)))") == 2
    assert intr("States.Format('{}', $$.Execution.Name)", {}, {"Execution": {"Name": "run1"}}) == "run1"


@pytest.mark.parametrize("expr", [
    "States.ArrayGetItem(States.Array(1), 5)", "States.Nope(1)", "States.Format('{}')", "States.MathAdd(1.5, 1)",
    "States.StringToJson('{bad')", "States.ArrayRange(1, 5000, 1)", "States.Base64Decode('!!!')",
    "States.Hash('x', 'CRC32')", "States.ArrayPartition(States.Array(1), 0)", "States.Format('x'",
    "States.Array(" * 12 + ")" * 12,
])
def test_intrinsic_failures(expr):
    with pytest.raises(intrinsics.IntrinsicError):
        intr(expr)


def test_intrinsic_failure_in_a_state_is_catchable():
    d = {"StartAt": "S", "States": {
        "S": {"Type": "Pass", "Parameters": {"x.$": "States.ArrayGetItem($.a, 9)"}, "End": True}}}
    ex = run(d, {"a": []})
    assert ex["error"] == "States.IntrinsicFailure"


# ------------------------------------------------------------------ the history is the durable record
FOLD_MACHINES = [
    one({"Type": "Wait", "Seconds": 3}),
    {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}},
        {"StartAt": "X", "States": {"X": {"Type": "Wait", "Seconds": 2, "Next": "Y"},
                                    "Y": {"Type": "Pass", "End": True}}}]}}},
    one({"Type": "Map", "MaxConcurrency": 2, "ItemProcessor": {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "SecondsPath": "$", "End": True}}}}),
    task_with(retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 2}],
              catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}]),
]


@pytest.mark.parametrize("d", FOLD_MACHINES)
def test_fold_of_history_equals_runtime_snapshot_at_every_step(d):
    from services.workflow.asl.runtime import fold, new_execution, snapshot
    ex = new_execution(d, [1, 3, 2], arn="a", name="n", sm_arn="s", sm_name="m", now_ms=0)
    apply_patch(ex, advance(ex, ("start",), Env(0, random.Random(1))))
    steps = 0
    while True:
        assert fold(ex["history"]) == snapshot(ex)
        due = next_due(ex)
        if due is None:
            break
        apply_patch(ex, advance(ex, ("timers",), Env(due, random.Random(1))))
        steps += 1
    assert ex["status"] != "RUNNING" and steps >= 1


def test_jsonpath_assign_and_variable_references():
    d = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": {"id": 7, "tags": ["x"]}, "Assign": {"order.$": "$", "n": 1}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"id.$": "$order.id", "first.$": "$order.tags[0]", "n.$": "$n"},
              "End": True}}}
    assert out(d, {}) == {"id": 7, "first": "x", "n": 1}
    d["States"]["B"]["Parameters"] = {"x.$": "$nope"}
    assert run(d, {})["error"] == "States.ParameterPathFailure"
