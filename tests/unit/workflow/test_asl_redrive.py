"""The pure runtime's redrive: only the failed states, branches and iterations re-enter; the history fold equals
the runtime snapshot at every step, before and after the redrive."""
import json
import random

from services.workflow.asl.runtime import Env, advance, apply_patch, fold, new_execution, pending_tasks, \
    redrive_status, snapshot

CB = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


def run(definition, inp):
    ex = new_execution(definition, inp, arn="arn:e", name="e", sm_arn="arn:sm", sm_name="sm", now_ms=1000)
    rng = random.Random(3)
    step(ex, ("start",), rng)
    return ex, rng


def step(ex, sig, rng, now=2000):
    apply_patch(ex, advance(ex, sig, Env(now, rng)))
    assert fold(ex["history"]) == snapshot(ex)


def answer(ex, rng, fn):
    """Answer every pending task: fn(input) -> ("success", out) | ("failure", error)."""
    for t in pending_tasks(ex):
        kind, v = fn(json.loads(json.dumps(t["input"])))
        sig = ("task", t["token"], "success", v) if kind == "success" else ("task", t["token"], "failure", v, "c")
        step(ex, sig, rng)
        if ex["status"] != "RUNNING":
            return


def test_inline_map_reruns_only_the_failed_and_aborted_iterations():
    d = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": CB, "Parameters": {"i.$": "$"}, "End": True}}}}}}
    ex, rng = run(d, {"items": [1, 2, 3]})
    assert len(pending_tasks(ex)) == 3
    seen = []

    def first(inp):
        seen.append(inp["i"])
        return ("failure", "Bad") if inp["i"] == 2 else ("success", inp["i"] * 10)
    answer(ex, rng, first)
    assert ex["status"] == "FAILED" and redrive_status(ex, 3000)[0] == "REDRIVABLE"
    step(ex, ("redrive", None), rng, 3000)
    assert seen == [1, 2]                                     # 2 failed the run while 3 was still running
    assert ex["status"] == "RUNNING" and [t["input"] for t in pending_tasks(ex)] == [{"i": 2}, {"i": 3}]
    answer(ex, rng, lambda inp: ("success", inp["i"] * 10))
    assert ex["status"] == "SUCCEEDED" and ex["output"] == [10, 20, 30]
    types = [e["type"] for e in ex["history"]]
    assert types.count("MapIterationStarted") == 3 and types.count("ExecutionRedriven") == 1
    assert fold(ex["history"])["output"] == [10, 20, 30]


def test_redrive_of_a_retried_task_resets_its_retries():
    d = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": CB, "End": True,
                                          "Retry": [{"ErrorEquals": ["Bad"], "MaxAttempts": 1}]}}}
    ex, rng = run(d, {})
    answer(ex, rng, lambda inp: ("failure", "Bad"))
    step(ex, ("timers",), rng, 10000)                       # the retry
    answer(ex, rng, lambda inp: ("failure", "Bad"))
    assert ex["status"] == "FAILED"
    step(ex, ("redrive", None), rng, 20000)
    answer(ex, rng, lambda inp: ("failure", "Bad"))
    assert ex["status"] == "RUNNING"                          # retried again: the counter started over
    step(ex, ("timers",), rng, 30000)
    answer(ex, rng, lambda inp: ("success", "ok"))
    assert ex["status"] == "SUCCEEDED" and ex["rt"]["redrives"] == 1
    assert redrive_status(ex, 40000) == ("NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven.")


def test_redrivable_period_is_14_days():
    d = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}
    ex, rng = run(d, {})
    assert redrive_status(ex, ex["stop"] + 14 * 86400 * 1000)[0] == "REDRIVABLE"
    assert redrive_status(ex, ex["stop"] + 14 * 86400 * 1000 + 1) == \
        ("NOT_REDRIVABLE", "Execution redrivable period exceeded.")
