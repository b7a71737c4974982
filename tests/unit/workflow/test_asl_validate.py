"""WF.VALIDATE's checker (services/workflow/asl/validate.py): statelint-style diagnostics with locations."""
import pytest

from services.workflow.asl import validate


def locs(d):
    return [(x["location"], x["code"]) for x in validate(d)]


def test_valid_machine_has_no_diagnostics():
    assert validate('{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}') == []


@pytest.mark.parametrize("definition,location", [
    ("{nope", "/"),
    ({"States": {"A": {"Type": "Pass", "End": True}}}, "/"),
    ({"StartAt": "B", "States": {"A": {"Type": "Pass", "End": True}}}, "/StartAt"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "X"}}}, "/States/A/Next"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}, "/States/A"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Next": "A"}}}, "/States/A"),
    ({"StartAt": "A", "States": {"A": {"Type": "Bogus"}}}, "/States/A/Type"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Foo": 1}}}, "/States/A/Foo"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "End": True}}}, "/States/A"),
    ({"StartAt": "A", "States": {"A": {"Type": "Wait", "End": True}}}, "/States/A"),
    ({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "Timestamp": "x", "End": True}}}, "/States/A"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "ResultPath": "$.a[*]"}}},
     "/States/A/ResultPath"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "InputPath": "a.b"}}}, "/States/A/InputPath"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Parameters": {"x.$": "States.Nope()"}}}},
     "/States/A/Parameters/x.$"),
    ({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": []}}}, "/States/A/Choices"),
    ({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [
        {"Variable": "$.x", "NumericEquals": "1", "Next": "A"}]}}}, "/States/A/Choices/0/NumericEquals"),
    ({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [
        {"Variable": "$.x", "Next": "A"}]}}}, "/States/A/Choices/0"),
    ({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [
        {"Variable": "$.x", "IsNull": True, "Next": "A"}], "Default": "Z"}}}, "/States/A/Default"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:x", "End": True, "Retry": [
        {"ErrorEquals": ["States.ALL", "E"]}]}}}, "/States/A/Retry/0/ErrorEquals"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:x", "End": True, "Retry": [
        {"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}]}}}, "/States/A/Retry/0/ErrorEquals"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:x", "End": True, "Retry": [
        {"ErrorEquals": ["E"], "BackoffRate": 0.5}]}}}, "/States/A/Retry/0/BackoffRate"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:x", "End": True, "Catch": [
        {"ErrorEquals": ["E"], "Next": "Q"}]}}}, "/States/A/Catch/0/Next"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:x", "End": True,
                                       "TimeoutSeconds": 5, "HeartbeatSeconds": 10}}}, "/States/A/HeartbeatSeconds"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}, "B": {"Type": "Pass", "End": True}}},
     "/States/B"),
    ({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}}}]}}}, "/States/P/Branches/0/States/X/Next"),
    ({"StartAt": "M", "States": {"M": {"Type": "Map", "End": True}}}, "/States/M"),
    ({"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ToleratedFailurePercentage": 150,
                                       "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}}}},
     "/States/M/ToleratedFailurePercentage"),
    ({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}}, "/States/F"),
])
def test_diagnostics_name_the_path(definition, location):
    got = validate(definition)
    assert got, definition
    assert location in [x["location"] for x in got], got
    assert all(set(x) == {"severity", "code", "message", "location"} for x in got)
