"""JSONata as the query language (QueryLanguage, Arguments/Output/Assign, Condition, Items) on jsonata-python."""
import pytest

from services.workflow.asl import run_to_completion, validate
from services.workflow.asl import jsonata_ql

pytestmark = pytest.mark.skipif(not jsonata_ql.available(), reason="jsonata-python is not installed")


def run(d, inp, **kw):
    assert validate(d) == [], validate(d)
    return run_to_completion(d, inp, **kw)


def test_output_assign_choice_map():
    d = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": {"sum": "{% $sum($states.input.nums) %}"},
              "Assign": {"seen": "{% $count($states.input.nums) %}"}, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.sum > 5 %}", "Next": "M",
                                             "Output": "{% [1, 2, 3] %}"}], "Default": "F"},
        "M": {"Type": "Map", "ItemSelector": {"v": "{% $states.context.Map.Item.Value * $seen %}"},
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": "{% $states.input.v %}",
                                                                  "End": True}}},
              "Output": "{% $sum($states.result) %}", "End": True},
        "F": {"Type": "Fail", "Error": "{% 'Small' %}", "Cause": "{% 'sum ' & $string($states.input.sum) %}"}}}
    ex = run(d, {"nums": [1, 2, 3]})
    assert (ex["status"], ex["output"]) == ("SUCCEEDED", 18)
    ex = run(d, {"nums": [1]})
    assert (ex["status"], ex["error"], ex["cause"]) == ("FAILED", "Small", "sum 1")


def test_task_arguments_result_and_catch_error_output():
    d = {"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Arguments": {"FunctionName": "f", "Payload": "{% $states.input %}"},
              "Output": "{% $states.result.Payload.v + 1 %}", "End": True}}}
    ex = run(d, {"q": 1}, mocks={"T": {"0": {"Return": {"Payload": {"v": 41}}}}})
    assert ex["output"] == 42
    sched = [e for e in ex["history"] if e["type"] == "TaskScheduled"][0]
    assert sched["taskScheduledEventDetails"]["parameters"] == '{"FunctionName":"f","Payload":{"q":1}}'
    d["States"]["T"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "H",
                                  "Output": "{% $states.errorOutput.Error %}"}]
    d["States"]["H"] = {"Type": "Pass", "End": True}
    ex = run(d, {}, mocks={"T": {"0": {"Throw": {"Error": "Oops", "Cause": "c"}}}})
    assert ex["output"] == "Oops"


def test_wait_seconds_expression_and_items():
    d = {"QueryLanguage": "JSONata", "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": "{% $states.input.s * 2 %}", "Next": "M"},
        "M": {"Type": "Map", "Items": "{% $states.input.xs %}",
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "End": True}}}
    ex = run(d, {"s": 3, "xs": ["a", "b"]})
    assert ex["output"] == ["a", "b"] and ex["stop"] == 6000


def test_runaway_expression_is_bounded_and_bad_syntax_is_a_diagnostic():
    d = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": "{% ($f := function($x){ $f($x + 1) }; $f(0)) %}", "End": True}}}
    ex = run(d, {})
    assert ex["error"] == "States.QueryEvaluationError"
    bad = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": "{% $sum( %}", "End": True}}}
    assert [x["location"] for x in validate(bad)] == ["/States/A/Output"]
    mixed = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "InputPath": "$.a", "End": True}}}
    assert [x["location"] for x in validate(mixed)] == ["/States/A/InputPath"]


def test_per_state_query_language_and_variables_scope():
    d = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"x": 5}, "Next": "P"},
        "P": {"Type": "Parallel", "QueryLanguage": "JSONata", "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"x": 99},
                                              "Output": "{% $x %}", "End": True}}}],
              "Output": "{% [$states.result[0], $x] %}", "End": True}}}
    ex = run(d, {})
    assert ex["output"] == [5, 5]          # the branch's Assign does not leak out
