"""TestState: run one state once with a given input and report what AWS's TestState API reports.

The state runs on the execution interpreter (runtime.Step) with three differences: the run stops when the
state is left (``nextState`` instead of entering it), a Wait does not wait, and a failure is not retried:
a matching retrier with attempts left gives ``RETRIABLE`` (with the backoff interval), a matching catcher
``CAUGHT_ERROR`` (with the catcher's output and Next), otherwise ``FAILED``.  Task results come from the
``mock`` ({result} or {errorOutput: {error, cause}}); activities, ``.sync``, ``.waitForTaskToken``, Map and
Parallel need one (as on AWS).  ``inspectionData`` (DEBUG and TRACE) holds each data-flow stage as JSON text:
input, afterInputPath, afterParameters, result, afterResultSelector, afterResultPath (JSONPath) or
afterArguments (JSONata), and variables.  Nothing here touches the keyspace: TestState has no effect.
"""
import copy
import json
import random

from .dataflow import dumps, input_path, result_path, template
from .errors import StatesError, matches
from .runtime import Env, Step, new_execution
from .validate import validate

NAME = "TestState"


class TestStateInvalid(Exception):
    """A request TestState refuses: (AWS error type, message)."""

    def __init__(self, typ, message):
        super().__init__(message)
        self.typ = typ
        self.message = message


class _Done(Exception):
    pass


def _targets(st):
    out = [st.get("Next"), st.get("Default")]
    out += [c.get("Next") for c in st.get("Choices", ()) if isinstance(c, dict)]
    out += [c.get("Next") for c in st.get("Catch", ()) if isinstance(c, dict)]
    return [t for t in out if isinstance(t, str)]


def machine_for(definition, state_name=None):
    """(machine definition, state name) to run: a single state is wrapped in a machine whose other states
    (its Next targets) are placeholders; with state_name the definition is a whole machine."""
    if not isinstance(definition, dict):
        raise TestStateInvalid("InvalidDefinition", "Invalid State Machine Definition: the definition must be an "
                               "object")
    if state_name is not None:
        states = definition.get("States")
        if not isinstance(states, dict) or state_name not in states:
            raise TestStateInvalid("ValidationException", f"State '{state_name}' is not in the definition")
        m = definition
    else:
        if "Type" not in definition:
            raise TestStateInvalid("InvalidDefinition", "Invalid State Machine Definition: a single state "
                                   "definition needs a Type (or give stateName with a whole machine)")
        st = dict(definition)
        states = {NAME: st}
        for t in _targets(st):
            if t != NAME:
                states[t] = {"Type": "Succeed"}
        m = {"StartAt": NAME, "States": states}
        if "QueryLanguage" in st:
            m["QueryLanguage"] = st["QueryLanguage"]
        state_name = NAME
    diags = validate(m)
    if diags:
        d = diags[0]
        raise TestStateInvalid("InvalidDefinition", "Invalid State Machine Definition: '%s: %s at %s'"
                               % (d["code"], d["message"], d["location"]))
    return m, state_name


class _TestStep(Step):
    def __init__(self, ex, env, mock, config, context):
        super().__init__(ex, env)
        self.mock = mock
        self.config = config or {}
        self.context = context
        self.outcome = None
        self.catching = None
        self.result_seen = None
        self.has_result = False

    def ctx(self, f, token=None, item=None):
        c = super().ctx(f, token, item)
        if isinstance(self.context, dict):
            c = _merge(c, self.context)
        return c

    def event(self, f, typ, key=None, details=None):
        return {"id": 0}                # TestState keeps no history

    def exit(self, f, st, out, nxt=None):
        self.check_size(f, out)
        if nxt is None and st["Type"] != "Choice":
            nxt = None if (st.get("End") or st["Type"] == "Succeed") else st.get("Next")
        self.outcome = {"status": "CAUGHT_ERROR" if self.catching is not None else "SUCCEEDED", "output": out}
        if nxt is not None:
            self.outcome["nextState"] = nxt
        self.vars_after = f.get("vars")
        raise _Done()

    def frame_failed(self, f, error, cause, fatal=False):
        self.outcome = {"status": "FAILED", "error": error, "cause": cause}
        raise _Done()

    def state_failed(self, f, st, error, cause):
        for i, r in enumerate(st.get("Retry", ())):
            if matches(r["ErrorEquals"], error):
                n = int(self.config.get("retrierRetryCount", 0))
                if n < r.get("MaxAttempts", 3):
                    delay = r.get("IntervalSeconds", 1) * (r.get("BackoffRate", 2.0) ** n)
                    if "MaxDelaySeconds" in r:
                        delay = min(delay, r["MaxDelaySeconds"])
                    self.outcome = {"status": "RETRIABLE", "error": error, "cause": cause,
                                    "errorDetails": {"retryIndex": i, "retryBackoffIntervalSeconds": int(delay)}}
                    raise _Done()
                break
        for j, c in enumerate(st.get("Catch", ())):
            if matches(c["ErrorEquals"], error):
                self.catching = {"catchIndex": j}
                break
        self.error_seen = (error, cause)
        super().state_failed(f, dict(st, Retry=[]), error, cause)

    def task_result(self, f, st, result):
        self.result_seen, self.has_result = result, True
        super().task_result(f, st, result)

    def mocked(self, f, st):
        m = self.mock
        if "errorOutput" in m:
            eo = m["errorOutput"] or {}
            raise StatesError(eo.get("error") or "States.TaskFailed", eo.get("cause") or "")
        try:
            result = json.loads(m.get("result", "null"))
        except (TypeError, ValueError) as exc:
            raise TestStateInvalid("ValidationException", f"The mock result is not JSON: {exc}")
        self.task_result(f, st, result)

    def task(self, f, st, raw, ctx):
        if self.mock is not None:
            # the request is built as in a real run (paths, templates, timeouts), then the mock answers it
            if self.ql(f, st) == "JSONata":
                if "Arguments" in st:
                    self.jev(f, st["Arguments"], self.states_var(f, ctx))
            elif "Parameters" in st:
                template(st["Parameters"], input_path(st, raw, ctx), ctx, self.env.rng, variables=f.get("vars"))
            self.mocked(f, st)
            return
        res = st["Resource"]
        if ":activity:" in res or res.endswith(".waitForTaskToken") or ".sync" in res:
            raise TestStateInvalid("ValidationException", "TestState supports activities, .sync and "
                                   ".waitForTaskToken only with a mock")
        super().task(f, st, raw, ctx)

    def execute(self, f, st, retry=False):
        if st["Type"] in ("Map", "Parallel"):
            if self.mock is None:
                raise TestStateInvalid("ValidationException", "TestState supports Map and Parallel states only "
                                       "with a mock")
            self.mocked(f, st)
            return
        super().execute(f, st, retry)
        w = f.get("wait")
        if w and w.get("k") == "timer" and w.get("why") == "wait":
            f["wait"] = None              # TestState does not wait
            self.exit(f, st, w["out"])


def _merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _stages(st, raw, ctx, rng, variables, step):
    """The JSONPath data-flow stages (DEBUG), as far as they get before an error."""
    d = {}
    typ = st["Type"]
    try:
        eff = input_path(st, raw, ctx)
        d["afterInputPath"] = dumps(eff)
        if typ in ("Pass", "Task", "Map", "Parallel"):
            if "Parameters" in st:
                eff = template(st["Parameters"], eff, ctx, rng, variables=variables)
            d["afterParameters"] = dumps(eff)
        if typ == "Pass":
            result = st["Result"] if "Result" in st else eff
        elif step.has_result:
            result = step.result_seen
        else:
            return d
        if typ not in ("Pass", "Task", "Map", "Parallel"):
            return d
        d["result"] = dumps(result)
        if "ResultSelector" in st:
            result = template(st["ResultSelector"], result, ctx, rng, "ResultSelector", variables)
        d["afterResultSelector"] = dumps(result)
        d["afterResultPath"] = dumps(result_path(st, raw, result, ctx))
    except StatesError:
        pass
    return d


def test_state(definition, input_value, *, now_ms, rng=None, state_name=None, variables=None,
               inspection_level="INFO", mock=None, context=None, config=None, time_scale=1.0,
               activity_exists=None):
    """The TestState answer: {status, output | error+cause, nextState, inspectionData}."""
    m, name = machine_for(definition, state_name)
    ex = new_execution(m, input_value, arn="arn:aws:states:us-east-1:000000000000:execution:TestState:test",
                       name="test", sm_arn="arn:aws:states:us-east-1:000000000000:stateMachine:TestState",
                       sm_name="TestState", now_ms=now_ms)
    rng = rng or random.Random()
    state0 = rng.getstate()
    env = Env(now_ms, rng, time_scale, activity_exists)
    step = _TestStep(ex, env, mock, config, context)
    f = step.new_frame(None, 0, [], name, input_value)
    if variables:
        f["vars"] = dict(variables)
    st = m["States"][name]
    vars_before = copy.deepcopy(f["vars"])
    try:
        step.enter(f)
    except _Done:
        pass
    out = dict(step.outcome or {"status": "FAILED", "error": "States.Runtime", "cause": "The state did not end"})
    details = out.pop("errorDetails", None)
    if out["status"] == "CAUGHT_ERROR":
        details = step.catching
    if "output" in out:
        out["output"] = dumps(out["output"])
    if inspection_level in ("DEBUG", "TRACE"):
        insp = {"input": dumps(input_value)}
        ctx = step.ctx(f)
        if step.ql(f, st) == "JSONata":
            if "Arguments" in st and step.has_result:
                rng2 = random.Random()
                rng2.setstate(state0)
                try:
                    insp["afterArguments"] = dumps(step.jev(f, st["Arguments"], step.states_var(
                        dict(f, input=input_value, vars=vars_before), ctx)))
                except StatesError:
                    pass
            if step.has_result:
                insp["result"] = dumps(step.result_seen)
        else:
            rng2 = random.Random()
            rng2.setstate(state0)
            insp.update(_stages(st, input_value, ctx, rng2, vars_before, step))
        after = getattr(step, "vars_after", None)
        if after:
            insp["variables"] = dumps(after)
        if details:
            insp["errorDetails"] = details
        out["inspectionData"] = insp
    return out
