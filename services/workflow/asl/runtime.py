"""The execution runtime as data: a frame tree advanced by deterministic transitions.

An execution is a JSON-able dict (see ``new_execution``): its definition, input, status, the append-only
AWS-shaped ``history`` and ``rt``, the runtime snapshot: ``frames`` (one per running (sub)state machine:
the root, a Parallel branch, a Map iteration) each with the current state, its raw input, retry counters
and ``wait`` (what it is blocked on: a timer ``due`` ms, a task token with timeout/heartbeat deadlines, or
children).  ``advance(ex, signal, env)`` computes a *patch* ``{events, rt, status...}`` from the stored
execution without changing it; ``apply_patch(ex, patch)`` applies one.  The server runs ``advance`` on the
primary only and propagates the patch (``WF._APPLY``), so AOF replay and replicas apply resolved
timestamps, ids and random draws and never evaluate ASL.  Nothing sleeps: a step runs until every frame
is blocked, or until its transition budget is spent (the rest continues from a timer due at once).
"""
import base64
import copy
import hashlib
import hmac
import json
import uuid
from collections import Counter
import math
import random
import secrets

from . import jsonpath
from .dataflow import (choose, dumps, input_path, iso, output_path, parse_timestamp, result_path, template)
from .errors import StatesError, matches
from . import jsonata_ql

PAYLOAD_LIMIT = 262144
HISTORY_LIMIT = 25000
STEP_BUDGET = 2000           # state transitions per advance
DMAP_BATCH = 100             # Distributed Map children started per transition
DEFAULT_TASK_TIMEOUT = 99999999

PREFIX = {"Pass": "Pass", "Task": "Task", "Choice": "Choice", "Wait": "Wait", "Succeed": "Succeed",
          "Fail": "Fail", "Parallel": "Parallel", "Map": "Map"}
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class Env:
    """What the caller supplies: the clock, randomness, time scale and lookups (activity existence)."""

    def __init__(self, now_ms, rng=None, time_scale=1.0, activity_exists=None, token_prefix="",
                 history_limit=HISTORY_LIMIT, payload_limit=PAYLOAD_LIMIT, step_budget=STEP_BUDGET, nested=None,
                 sqs=None, read_key=None):
        self.now = int(now_ms)
        self.rng = rng or random.Random(secrets.randbits(64))
        self.time_scale = time_scale
        self.activity_exists = activity_exists
        self.token_prefix = token_prefix
        self.history_limit = history_limit
        self.payload_limit = payload_limit
        self.step_budget = step_budget
        self.nested = nested          # nested(state machine ARN, execution name) -> {execArn, ...} | {error, cause}
        self.sqs = sqs                # sqs(send) -> None | (error, cause): can the message go to that QUEUE?
        self.read_key = read_key      # read_key(name) -> bytes of a string key | None (ItemReader)


def new_execution(definition, input_value, *, arn, name, sm_arn, sm_name, now_ms, mocks=None, sm_type="STANDARD",
                  secret=None):
    return {"arn": arn, "name": name, "sm": sm_arn, "smName": sm_name, "type": sm_type, "def": definition,
            "secret": secret,
            "input": input_value, "start": int(now_ms), "stop": None, "status": "RUNNING", "output": None,
            "error": None, "cause": None, "history": [], "mocks": mocks or {},
            "rt": {"frames": {}, "seq": 0, "deadline": None, "calls": {}, "started": False}}


def apply_patch(ex, patch):
    """Apply one transition (deterministic: every value is resolved in the patch)."""
    ex["history"].extend(patch.get("events", ()))
    if "rt" in patch:
        ex["rt"] = patch["rt"]
    for k in ("status", "output", "error", "cause", "stop"):
        if k in patch:
            ex[k] = patch[k]
    return ex


def next_due(ex):
    """The earliest ms at which a timer of this execution is due, or None."""
    if ex["status"] != "RUNNING":
        return None
    rt = ex["rt"]
    due = rt.get("deadline")
    for f in rt["frames"].values():
        w = f.get("wait")
        if not w:
            continue
        for k in ("due", "hb"):
            d = w.get(k)
            if d is not None and (due is None or d < due):
                due = d
    return due


def pending_tasks(ex):
    out = []
    for fid, f in sorted(ex["rt"]["frames"].items(), key=lambda kv: int(kv[0])):
        w = f.get("wait")
        if w and w.get("k") == "task":
            out.append({"token": w["token"], "state": f["state"], "activity": w.get("act"),
                        "started": w.get("started", False), "input": w.get("in")})
    return out


def states_of(definition, path):
    d = definition
    for i in range(0, len(path), 2):
        st = d["States"][path[i]]
        br = path[i + 1]
        if br >= 0:
            d = st["Branches"][br]
        else:
            d = st.get("ItemProcessor") or st.get("Iterator")
    return d


def token_mac(secret, text):
    return base64.urlsafe_b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()[:12]).decode()


def token_valid(ex, token):
    """Does the token carry a valid HMAC for this execution (always True for executions without a secret)?"""
    secret = ex.get("secret")
    if not secret:
        return True
    head, dot, mac = token.rpartition(".")
    return bool(dot) and hmac.compare_digest(token_mac(secret, head), mac)


class _Stop(Exception):
    pass


class Step:
    def __init__(self, ex, env):
        self.ex = ex
        self.env = env
        self.now = env.now
        self.rt = copy.deepcopy(ex["rt"])
        self.frames = self.rt["frames"]
        self.events = []
        self.next_id = len(ex["history"]) + 1
        self.queue = []
        self.result = {}
        self.done = False
        self._defs = {}
        self._last = (None, None)     # (value, its JSON text): a state's output is the next one's input
        self._chain = False           # inside a failure that propagates up the frame tree
        self._snap = None             # the frames as they were when that failure began (RedriveExecution)

    # ------------------------------------------------------------ plumbing
    def patch(self):
        p = {"events": self.events, "rt": self.rt}
        p.update(self.result)
        return p

    def event(self, f, typ, key=None, details=None):
        if self.next_id >= self.env.history_limit and not self.done:
            self.finish("FAILED", error="States.Runtime",
                        cause=f"The execution reached the maximum number of history events "
                              f"({self.env.history_limit}).")
            raise _Stop()
        prev = f.get("last", 0) if f is not None else (self.next_id - 1)
        ev = {"id": self.next_id, "previousEventId": prev, "timestamp": self.now, "type": typ}
        if key is not None:
            ev[key] = details
        self.events.append(ev)
        if f is not None:
            f["last"] = self.next_id
        self.next_id += 1
        return ev

    def sdef(self, f):
        key = tuple(f["path"])
        d = self._defs.get(key)
        if d is None:
            d = self._defs[key] = states_of(self.ex["def"], f["path"])
        return d

    def state(self, f):
        return self.sdef(f)["States"][f["state"]]

    def ctx(self, f, token=None, item=None):
        ex = self.ex
        c = {"Execution": {"Id": ex["arn"], "Input": ex["input"], "Name": ex["name"],
                           "RoleArn": "arn:aws:iam::000000000000:role/cachemere", "StartTime": iso(ex["start"]),
                           "RedriveCount": self.rt.get("redrives", 0)},
             "State": {"EnteredTime": iso(f.get("entered", self.now)), "Name": f["state"],
                       "RetryCount": f.get("rc", 0)},
             "StateMachine": {"Id": ex["sm"], "Name": ex["smName"]}}
        p = ex.get("parent")
        if p:
            c["Execution"]["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] = p.get("arn")
        if token is not None:
            c["Task"] = {"Token": token}
        if item is not None:
            c["Map"] = {"Item": item}
        return c

    def ql(self, f, st):
        return st.get("QueryLanguage") or self.ex["def"].get("QueryLanguage") or "JSONPath"

    def states_var(self, f, ctx, **extra):
        d = {"input": f["input"], "context": ctx}
        d.update(extra)
        return d

    def jev(self, f, v, states):
        return jsonata_ql.evaluate(v, states, f.get("vars"))

    def assign(self, f, values):
        if values:
            f["vars"] = dict(f.get("vars") or {})
            f["vars"].update(values)

    def jsonata_assign(self, f, spec, states):
        return self.jev(f, spec, states) if spec else None

    def jsonpath_assign(self, f, st, result, ctx):
        if "Assign" in st:
            self.assign(f, template(st["Assign"], result, ctx, self.env.rng, "Assign", f.get("vars")))

    def scaled(self, seconds):
        return int(round(seconds * 1000.0 * self.env.time_scale))

    def check_size(self, f, value, what="output"):
        if self._last[0] is value and value is not None:
            return self._last[1]
        s = dumps(value)
        if len(s) * 4 > self.env.payload_limit and len(s.encode()) > self.env.payload_limit:
            raise StatesError("States.DataLimitExceeded",
                              f"The state/task '{f['state']}' returned a result with a size exceeding the maximum "
                              f"number of bytes service limit.")
        self._last = (value, s)
        return s

    def new_frame(self, parent, slot, path, state, value, item=None):
        self.rt["seq"] += 1
        fid = str(self.rt["seq"])
        f = {"id": fid, "parent": parent["id"] if parent else None, "slot": slot, "path": path, "state": state,
             "input": value, "wait": None, "last": parent["last"] if parent else 0,
             "vars": dict(parent.get("vars") or {}) if parent else {}}
        self.frames[fid] = f
        self.queue.append(fid)
        return f

    def finish(self, status, output=None, error=None, cause=None):
        self.done = True
        typ = {"SUCCEEDED": "ExecutionSucceeded", "FAILED": "ExecutionFailed", "TIMED_OUT": "ExecutionTimedOut",
               "ABORTED": "ExecutionAborted"}[status]
        last = max([f.get("last", 0) for f in self.frames.values()] or [self.next_id - 1])
        if status == "SUCCEEDED":
            details = ("executionSucceededEventDetails",
                       {"output": dumps(output), "outputDetails": {"truncated": False}})
        else:
            d = {}
            if error is not None:
                d["error"] = error
            if cause is not None:
                d["cause"] = cause
            details = ({"FAILED": "executionFailedEventDetails", "TIMED_OUT": "executionTimedOutEventDetails",
                        "ABORTED": "executionAbortedEventDetails"}[status], d)
        for fr in self.frames.values():
            w = fr.get("wait")
            if w and w.get("typ") == "dmap":
                self.close_run(w, "ABORTED")
                if w["tokens"]:
                    self.stop_children(copy.deepcopy(w) if status != "SUCCEEDED" else w)
            self.stop_sync_child(w)
        if status != "SUCCEEDED":
            # what a RedriveExecution restarts from: the frames as the failure found them (the failing state
            # and every branch or iteration still running re-enter; finished ones keep their results)
            self.rt["redrive"] = self._snap if (self._chain and self._snap is not None) else copy.deepcopy(self.frames)
        self.frames.clear()
        self.queue = []
        self.rt["deadline"] = None
        self.event({"last": last}, typ, *details)
        self.result.update(status=status, stop=self.now, output=output if status == "SUCCEEDED" else None,
                           error=error, cause=cause)

    # ------------------------------------------------------------ driving
    def run_queue(self):
        steps = 0
        while self.queue and not self.done:
            fid = self.queue.pop(0)
            f = self.frames.get(fid)
            if f is None:
                continue
            if steps >= self.env.step_budget:
                # budget spent: the rest continues from a timer due now (the server's next tick)
                for rest in [fid] + self.queue:
                    if rest in self.frames:
                        self.frames[rest]["wait"] = {"k": "timer", "due": self.now, "why": "enter"}
                self.queue = []
                return
            steps += 1
            self.enter(f)

    def signal(self, sig):
        try:
            kind = sig[0]
            if kind == "start":
                self.start()
            elif kind == "timers":
                self.fire_timers()
            elif kind == "task":
                self.task_signal(*sig[1:])
            elif kind == "tasks":                # several answers at once (map run children ending together)
                for one in sig[1]:
                    if self.done:
                        break
                    try:
                        self.task_signal(*one[1:])
                    except StatesError:
                        pass                     # that task is no longer pending
            elif kind == "stop":
                if self.ex["status"] == "RUNNING":
                    self.finish("ABORTED", error=sig[1], cause=sig[2])
            elif kind == "redrive":
                self.redrive(*sig[1:])
            elif kind == "updatemaprun":
                self.update_map_run(*sig[1:])
            self.run_queue()
        except _Stop:
            pass
        return self.patch()

    def start(self):
        ex = self.ex
        defn = ex["def"]
        self.event(None, "ExecutionStarted", "executionStartedEventDetails",
                   {"input": dumps(ex["input"]), "inputDetails": {"truncated": False},
                    "roleArn": "arn:aws:iam::000000000000:role/cachemere"})
        self.rt["started"] = True
        t = defn.get("TimeoutSeconds")
        if t is not None:
            self.rt["deadline"] = self.now + self.scaled(t)
        root = self.new_frame(None, 0, [], defn["StartAt"], ex["input"])
        root["last"] = 1

    def redrive(self, client_token=None):
        """RedriveExecution: the execution runs again from where it failed (callers check redrive_status)."""
        frames = self.rt.pop("redrive", None) or {}
        self.rt["redrives"] = n = self.rt.get("redrives", 0) + 1
        self.rt["redriveDate"] = self.now
        self.rt["redriveToken"] = client_token
        ev = self.event(None, "ExecutionRedriven", "executionRedrivenEventDetails", {"redriveCount": n})
        self.frames.update(frames)
        t = self.ex["def"].get("TimeoutSeconds")
        if t is not None:
            self.rt["deadline"] = self.now + self.scaled(t)
        for fid in sorted(self.frames, key=int):
            f = self.frames[fid]
            f["last"] = ev["id"]
            w = f.get("wait")
            if not (w and w.get("k") == "kids") or w.get("typ") == "dmap":
                if w and w.get("typ") == "dmap":     # stopped or timed out during its map run
                    running, failed = set(w["tokens"].values()), set(w.get("failed", ()))
                    f["dmapKeep"] = {"res": w["res"], "ok": [i for i, v in enumerate(w["res"]) if v is not None
                                                             and i not in failed and i not in running]}
                f["wait"] = None
                f["redriven"] = True
                self.queue.append(fid)
        self.result.update(status="RUNNING", stop=None, output=None, error=None, cause=None)

    def fire_timers(self):
        dl = self.rt.get("deadline")
        if dl is not None and dl <= self.now:
            self.finish("TIMED_OUT", error="States.Timeout", cause="The execution timed out.")
            return
        for fid in sorted(self.frames, key=int):
            f = self.frames.get(fid)
            if f is None or not f.get("wait"):
                continue
            w = f["wait"]
            if w["k"] == "timer" and w["due"] <= self.now:
                f["wait"] = None
                why = w["why"]
                if why == "enter":
                    self.queue.append(fid)
                elif why == "wait":
                    self.guard(f, lambda: self.exit(f, self.state(f), w["out"]))
                elif why == "retry":
                    self.guard(f, lambda: self.execute(f, self.state(f), retry=True))
            elif w["k"] == "kids" and w.get("typ") == "dmap":
                if w.get("due") is not None and w["due"] <= self.now:
                    self.dmap_launch(f, self.state(f))
            elif w["k"] == "task":
                if w.get("due") is not None and w["due"] <= self.now:
                    self.task_timeout(f, w, "States.Timeout", "")
                elif w.get("hb") is not None and w["hb"] <= self.now:
                    self.task_timeout(f, w, "States.HeartbeatTimeout", "")
            if self.done:
                return

    def stop_sync_child(self, w):
        """A .sync child whose parent task ends without it (the parent stopped, failed or timed out) is stopped
        too, as AWS stops the job of a .sync integration."""
        if w and w.get("k") == "task" and w.get("child") and ".sync" in w.get("res", ""):
            self.result.setdefault("stops", []).append({"arn": w["child"]})

    def task_timeout(self, f, w, error, cause):
        self.stop_sync_child(w)
        f["wait"] = None
        st = self.state(f)
        typ = "ActivityTimedOut" if w.get("act") else "TaskTimedOut"
        key = "activityTimedOutEventDetails" if w.get("act") else "taskTimedOutEventDetails"
        d = {"error": error, "cause": cause}
        if not w.get("act"):
            d = {"resourceType": w.get("rtype", ""), "resource": w.get("res", ""), "error": error, "cause": cause}
        self.event(f, typ, key, d)
        self.state_failed(f, st, error, cause)

    def find_token(self, token):
        for f in self.frames.values():
            w = f.get("wait")
            if w and w.get("k") == "task" and w.get("token") == token:
                return f, w
        return None, None

    def task_signal(self, token, what, *args):
        f, w = self.find_token(token)
        if f is None:
            for fr in self.frames.values():
                wk = fr.get("wait")
                if wk and wk.get("typ") == "dmap" and token in wk["tokens"] and what in ("success", "failure"):
                    return self.dmap_child_done(fr, wk, wk["tokens"][token], token, what, args)
            raise StatesError("TaskDoesNotExist", "Task Timed Out")
        st = self.state(f)
        act = w.get("act")
        if what == "started":
            w["started"] = True
            if w.get("hbs") is not None:
                w["hb"] = self.now + self.scaled(w["hbs"])
            self.event(f, "ActivityStarted", "activityStartedEventDetails", {"workerName": args[0] or ""})
            return
        if what == "heartbeat":
            if w.get("hbs") is not None:
                w["hb"] = self.now + self.scaled(w["hbs"])
            return
        f["wait"] = None
        if what == "success":
            out = args[0]
            if act:
                self.event(f, "ActivitySucceeded", "activitySucceededEventDetails",
                           {"output": dumps(out), "outputDetails": {"truncated": False}})
            else:
                self.event(f, "TaskSucceeded", "taskSucceededEventDetails",
                           {"resourceType": w["rtype"], "resource": w["res"], "output": dumps(out),
                            "outputDetails": {"truncated": False}})
            self.guard(f, lambda: self.task_result(f, st, out))
        else:
            error, cause = args[0], args[1]
            if act:
                self.event(f, "ActivityFailed", "activityFailedEventDetails", {"error": error, "cause": cause})
            else:
                self.event(f, "TaskFailed", "taskFailedEventDetails",
                           {"resourceType": w["rtype"], "resource": w["res"], "error": error, "cause": cause})
            self.state_failed(f, st, error, cause)

    def guard(self, f, fn):
        try:
            fn()
        except StatesError as e:
            self.state_failed(f, self.state(f), e.error, e.cause)

    # ------------------------------------------------------------ states
    def enter(self, f):
        st = self.state(f)
        f["entered"] = self.now
        f["retries"] = {}
        f["rc"] = 0
        typ = st["Type"]
        try:
            s = self.check_size(f, f["input"], "input")
        except StatesError as e:
            self.frame_failed(f, e.error, e.cause)
            return
        self.event(f, PREFIX[typ] + "StateEntered", "stateEnteredEventDetails",
                   {"name": f["state"], "input": s, "inputDetails": {"truncated": False}})
        self.guard(f, lambda: self.execute(f, st))

    def execute(self, f, st, retry=False):
        typ = st["Type"]
        raw = f["input"]
        ctx = self.ctx(f)
        if self.ql(f, st) == "JSONata":
            return self.execute_jsonata(f, st, typ, raw, ctx)
        if typ == "Pass":
            eff = input_path(st, raw, ctx)
            if "Parameters" in st:
                eff = template(st["Parameters"], eff, ctx, self.env.rng, variables=f.get("vars"))
            result = st["Result"] if "Result" in st else eff
            out = output_path(st, result_path(st, raw, result, ctx), ctx)
            self.jsonpath_assign(f, st, result, ctx)
            self.exit(f, st, out)
        elif typ == "Choice":
            eff = input_path(st, raw, ctx)
            nxt = choose(st, eff, ctx)
            if nxt is None:
                raise StatesError("States.NoChoiceMatched", f"No Choice Rules matched and no Default is specified "
                                  f"in state '{f['state']}'.")
            self.exit(f, st, output_path(st, eff, ctx), nxt)
        elif typ == "Wait":
            eff = input_path(st, raw, ctx)
            due = self.wait_due(st, eff, ctx)
            f["wait"] = {"k": "timer", "due": due, "why": "wait", "out": output_path(st, eff, ctx)}
        elif typ == "Succeed":
            eff = input_path(st, raw, ctx)
            self.exit(f, st, output_path(st, eff, ctx))
        elif typ == "Fail":
            error, cause = st.get("Error"), st.get("Cause")
            try:
                if "ErrorPath" in st:
                    error = self.str_path(st["ErrorPath"], raw, ctx, "ErrorPath")
                if "CausePath" in st:
                    cause = self.str_path(st["CausePath"], raw, ctx, "CausePath")
            except StatesError as e:
                error, cause = e.error, e.cause
            self.frame_failed(f, error, cause)
        elif typ == "Task":
            self.task(f, st, raw, ctx)
        elif typ == "Parallel":
            eff = input_path(st, raw, ctx)
            if "Parameters" in st:
                eff = template(st["Parameters"], eff, ctx, self.env.rng, variables=f.get("vars"))
            self.event(f, "ParallelStateStarted")
            branches = st["Branches"]
            kids = {}
            for i, br in enumerate(branches):
                k = self.new_frame(f, i, f["path"] + [f["state"], i], br["StartAt"], eff)
                kids[str(i)] = k["id"]
            f["wait"] = {"k": "kids", "typ": "parallel", "kids": kids, "res": [None] * len(branches),
                         "left": len(branches)}
            if not branches:
                self.kids_done(f, st)
        elif typ == "Map":
            self.map_start(f, st, raw, ctx)

    def execute_jsonata(self, f, st, typ, raw, ctx):
        states = self.states_var(f, ctx)
        if typ == "Pass":
            out = self.jev(f, st.get("Output", raw), states) if "Output" in st else raw
            values = self.jsonata_assign(f, st.get("Assign"), states)
            self.assign(f, values)
            self.exit(f, st, out)
        elif typ == "Choice":
            for rule in st.get("Choices", ()):
                cond = self.jev(f, rule.get("Condition"), states)
                if not isinstance(cond, bool):
                    raise StatesError("States.QueryEvaluationError",
                                      f"The Condition of a choice rule must be a boolean, got {dumps(cond)}")
                if cond:
                    out = self.jev(f, rule["Output"], states) if "Output" in rule else raw
                    self.assign(f, self.jsonata_assign(f, rule.get("Assign"), states))
                    self.exit(f, st, out, rule["Next"])
                    return
            if st.get("Default") is None:
                raise StatesError("States.NoChoiceMatched", f"No Choice Rules matched and no Default is specified "
                                  f"in state '{f['state']}'.")
            out = self.jev(f, st["Output"], states) if "Output" in st else raw
            self.assign(f, self.jsonata_assign(f, st.get("Assign"), states))
            self.exit(f, st, out, st["Default"])
        elif typ == "Wait":
            if "Seconds" in st:
                secs = self.jev(f, st["Seconds"], states)
                if not isinstance(secs, (int, float)) or isinstance(secs, bool) or secs < 0:
                    raise StatesError("States.QueryEvaluationError", f"Seconds must be a non-negative number, got "
                                      f"{dumps(secs)}")
                due = self.now + self.scaled(secs)
            else:
                ts = self.jev(f, st.get("Timestamp"), states)
                ms = parse_timestamp(ts)
                if ms is None:
                    raise StatesError("States.QueryEvaluationError", f"Timestamp {dumps(ts)} is not a timestamp")
                due = self.now + int(round(max(0.0, ms - self.now) * self.env.time_scale))
            out = self.jev(f, st["Output"], states) if "Output" in st else raw
            self.assign(f, self.jsonata_assign(f, st.get("Assign"), states))
            f["wait"] = {"k": "timer", "due": due, "why": "wait", "out": out}
        elif typ == "Succeed":
            self.exit(f, st, self.jev(f, st["Output"], states) if "Output" in st else raw)
        elif typ == "Fail":
            try:
                error = self.jev(f, st.get("Error"), states)
                cause = self.jev(f, st.get("Cause"), states)
            except StatesError as e:
                error, cause = e.error, e.cause
            self.frame_failed(f, error, cause)
        elif typ == "Task":
            self.task(f, st, raw, ctx)
        elif typ == "Parallel":
            eff = self.jev(f, st["Arguments"], states) if "Arguments" in st else raw
            self.event(f, "ParallelStateStarted")
            kids = {}
            for i, br in enumerate(st["Branches"]):
                k = self.new_frame(f, i, f["path"] + [f["state"], i], br["StartAt"], eff)
                kids[str(i)] = k["id"]
            f["wait"] = {"k": "kids", "typ": "parallel", "kids": kids, "res": [None] * len(st["Branches"]),
                         "left": len(st["Branches"])}
        elif typ == "Map":
            self.map_start(f, st, raw, ctx)

    def str_path(self, p, raw, ctx, field):
        if isinstance(p, str) and p.startswith("States."):
            from .intrinsics import evaluate, IntrinsicError
            try:
                v = evaluate(p, raw, ctx, self.env.rng)
            except IntrinsicError as exc:
                raise StatesError("States.IntrinsicFailure", str(exc))
        else:
            try:
                v = jsonpath.get(p, raw, ctx)
            except jsonpath.PathError as exc:
                raise StatesError("States.Runtime", str(exc))
        return v if isinstance(v, str) else dumps(v)

    def num_field(self, st, name, eff, ctx, default=None, f=None):
        if name in st:
            v = st[name]
            if jsonata_ql.is_expr(v) and f is not None:
                v = self.jev(f, v, self.states_var(f, ctx))
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    raise StatesError("States.QueryEvaluationError", f"{name} must be a non-negative number, got "
                                      f"{dumps(v)}")
            return v
        if name + "Path" in st:
            p = st[name + "Path"]
            try:
                v = jsonpath.get(p, eff, ctx)
            except jsonpath.PathError:
                raise StatesError("States.Runtime", f"Invalid path '{p}' for {name}Path")
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise StatesError("States.Runtime", f"The {name}Path '{p}' must point to a non-negative number, "
                                  f"got {dumps(v)}")
            return v
        return default

    def wait_due(self, st, eff, ctx):
        secs = self.num_field(st, "Seconds", eff, ctx)
        if secs is not None:
            return self.now + self.scaled(secs)
        ts = st.get("Timestamp")
        if ts is None and "TimestampPath" in st:
            try:
                ts = jsonpath.get(st["TimestampPath"], eff, ctx)
            except jsonpath.PathError:
                raise StatesError("States.Runtime", f"Invalid path '{st['TimestampPath']}' for TimestampPath")
        ms = parse_timestamp(ts)
        if ms is None:
            raise StatesError("States.Runtime", f"The TimestampPath value {dumps(ts)} is not a valid timestamp")
        remaining = max(0.0, ms - self.now)
        return self.now + int(round(remaining * self.env.time_scale))

    def exit(self, f, st, out, nxt=None):
        typ = st["Type"]
        f.pop("redriven", None)
        f.pop("dmapKeep", None)
        s = self.check_size(f, out)
        self.event(f, PREFIX[typ] + "StateExited", "stateExitedEventDetails",
                   {"name": f["state"], "output": s, "outputDetails": {"truncated": False}})
        if nxt is None and typ != "Choice":
            nxt = None if (st.get("End") or typ == "Succeed") else st.get("Next")
        if nxt is None:
            self.frame_succeeded(f, out)
        else:
            f["state"] = nxt
            f["input"] = out
            f["wait"] = None
            self.queue.append(f["id"])

    # ------------------------------------------------------------ Task
    def task(self, f, st, raw, ctx):
        jsonata = self.ql(f, st) == "JSONata"
        eff = raw if jsonata else input_path(st, raw, ctx)
        res = st["Resource"]
        callback = res.endswith(".waitForTaskToken")
        act = None
        if ":activity:" in res:
            act = res.rsplit(":activity:", 1)[1]
        token = None
        if callback or act:
            token = self.new_token(f)
            ctx = self.ctx(f, token=token)
        if jsonata:
            params = self.jev(f, st["Arguments"], self.states_var(f, ctx)) if "Arguments" in st else eff
        else:
            params = template(st["Parameters"], eff, ctx, self.env.rng, variables=f.get("vars")) \
                if "Parameters" in st else eff
        timeout = self.num_field(st, "TimeoutSeconds", eff, ctx, None, f)
        hb = self.num_field(st, "HeartbeatSeconds", eff, ctx, None, f)
        rtype, resname = _resource_type(res)
        name = f["state"]
        calls = self.rt["calls"]
        n = calls.get(name, 0)
        calls[name] = n + 1
        mock = _mocked(self.ex.get("mocks", {}).get(name), n)
        if act is not None and mock is None:
            if self.env.activity_exists is not None and not self.env.activity_exists(act):
                self.frame_failed(f, "States.Runtime", f"The activity {res} does not exist.", fatal=True)
                return
            d = {"resource": res, "input": dumps(params), "inputDetails": {"truncated": False}}
            if timeout is not None:
                d["timeoutInSeconds"] = timeout
            if hb is not None:
                d["heartbeatInSeconds"] = hb
            self.event(f, "ActivityScheduled", "activityScheduledEventDetails", d)
            f["wait"] = {"k": "task", "token": token, "act": act, "in": params, "started": False,
                         "due": self.now + self.scaled(timeout if timeout is not None else DEFAULT_TASK_TIMEOUT),
                         "hb": self.now + self.scaled(hb) if hb is not None else None, "hbs": hb}
            return
        d = {"resourceType": rtype, "resource": resname, "region": "us-east-1", "parameters": dumps(params)}
        if timeout is not None:
            d["timeoutInSeconds"] = timeout
        if hb is not None:
            d["heartbeatInSeconds"] = hb
        self.event(f, "TaskScheduled", "taskScheduledEventDetails", d)
        self.event(f, "TaskStarted", "taskStartedEventDetails", {"resourceType": rtype, "resource": resname})
        if mock is not None:
            if "Throw" in mock:
                err = mock["Throw"].get("Error", "States.TaskFailed")
                cause = mock["Throw"].get("Cause", "")
                self.event(f, "TaskFailed", "taskFailedEventDetails",
                           {"resourceType": rtype, "resource": resname, "error": err, "cause": cause})
                raise StatesError(err, cause)
            out = mock.get("Return")
            self.event(f, "TaskSucceeded", "taskSucceededEventDetails",
                       {"resourceType": rtype, "resource": resname, "output": dumps(out),
                        "outputDetails": {"truncated": False}})
            self.task_result(f, st, out)
            return
        if rtype == "sqs" and resname.split(".", 1)[0] == "sendMessage" and self.env.sqs is not None and \
                isinstance(params, dict) and params.get("QueueUrl"):
            self.sqs_send(f, st, params, token, timeout, hb, rtype, resname, callback)
            return
        if rtype == "states" and resname.split(".", 1)[0] == "startExecution":
            self.nested(f, st, params, token, timeout, hb, rtype, resname)
            return
        if callback:
            self.event(f, "TaskSubmitted", "taskSubmittedEventDetails",
                       {"resourceType": rtype, "resource": resname, "output": "{}",
                        "outputDetails": {"truncated": False}})
            f["wait"] = {"k": "task", "token": token, "act": None, "in": params, "rtype": rtype, "res": resname,
                         "due": self.now + self.scaled(timeout) if timeout is not None else None,
                         "hb": self.now + self.scaled(hb) if hb is not None else None, "hbs": hb}
            return
        err, cause = "States.TaskFailed", f"No local integration or mocked response for the resource '{res}'."
        self.event(f, "TaskFailed", "taskFailedEventDetails",
                   {"resourceType": rtype, "resource": resname, "error": err, "cause": cause})
        raise StatesError(err, cause)

    def new_token(self, f):
        """A task token: the execution key, the frame, the attempt (token counter), 64 random bits and an HMAC of
        them with the execution's secret, so a token cannot be forged (WF.TASK checks it: INVALIDTOKEN)."""
        self.rt["tok"] = self.rt.get("tok", 0) + 1
        body = "%s.%d.%016x" % (f["id"], self.rt["tok"], self.env.rng.getrandbits(64))
        secret = self.ex.get("secret")
        if secret:
            body += "." + token_mac(secret, self.env.token_prefix + body)
        return self.env.token_prefix + body

    def sqs_send(self, f, st, params, token, timeout, hb, rtype, resname, callback):
        """sqs:sendMessage[.waitForTaskToken] onto a QUEUE of this server (QueueUrl's last segment is the queue
        key): the message (its id drawn here) goes into the patch's ``sends``; the caller puts it with
        QUEUE._PUT in the same unit as the WF._APPLY of this transition."""
        def fail(err, cause):
            self.event(f, "TaskFailed", "taskFailedEventDetails",
                       {"resourceType": rtype, "resource": resname, "error": err, "cause": cause})
            raise StatesError(err, cause)
        name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        body = params.get("MessageBody")
        if body is None:
            fail("SQS.MissingParameterException", "The request must contain the parameter MessageBody.")
        text = body if isinstance(body, str) else dumps(body)
        send = {"queue": name, "body": text, "id": str(uuid.UUID(int=self.env.rng.getrandbits(128), version=4))}
        for k, field in (("group", "MessageGroupId"), ("dedup", "MessageDeduplicationId"), ("delay", "DelaySeconds")):
            if params.get(field) is not None:
                send[k] = params[field]
        err = self.env.sqs(send)
        if err is not None:
            fail(*err)
        self.result.setdefault("sends", []).append(send)
        out = {"MessageId": send["id"], "MD5OfMessageBody": hashlib.md5(text.encode()).hexdigest()}
        if not callback:
            self.event(f, "TaskSucceeded", "taskSucceededEventDetails",
                       {"resourceType": rtype, "resource": resname, "output": dumps(out),
                        "outputDetails": {"truncated": False}})
            self.task_result(f, st, out)
            return
        self.event(f, "TaskSubmitted", "taskSubmittedEventDetails",
                   {"resourceType": rtype, "resource": resname, "output": dumps(out),
                    "outputDetails": {"truncated": False}})
        f["wait"] = {"k": "task", "token": token, "act": None, "in": params, "rtype": rtype, "res": resname,
                     "due": self.now + self.scaled(timeout) if timeout is not None else None,
                     "hb": self.now + self.scaled(hb) if hb is not None else None, "hbs": hb}

    def nested(self, f, st, params, token, timeout, hb, rtype, resname):
        """states:startExecution[.sync[:2]|.waitForTaskToken]: a child execution of a state machine of this server.
        The child is started by the caller from the patch's ``spawn`` list (its own WF._APPLY effect); with
        .sync the frame waits on an internal token that the child's end answers."""
        mode = resname[len("startExecution"):]

        def fail(err, cause):
            self.event(f, "TaskFailed", "taskFailedEventDetails",
                       {"resourceType": rtype, "resource": resname, "error": err, "cause": cause})
            raise StatesError(err, cause)
        if not isinstance(params, dict) or not isinstance(params.get("StateMachineArn"), str):
            fail("States.Runtime", "The Parameters of a states:startExecution task need a StateMachineArn")
        name = params.get("Name")
        if name is None:
            name = str(uuid.UUID(int=self.env.rng.getrandbits(128), version=4))
        inp = params.get("Input", {})
        if isinstance(inp, str):
            try:
                inp = json.loads(inp)
            except ValueError:
                fail("StepFunctions.InvalidExecutionInputException", "Invalid execution input: not JSON")
        info = self.env.nested(params["StateMachineArn"], str(name)) if self.env.nested else \
            {"error": "States.TaskFailed", "cause": "No state machines here"}
        if "error" in info:
            fail(info["error"], info["cause"])
        started = {"ExecutionArn": info["execArn"], "StartDate": self.now}
        spawn = {"sm": info["sm"], "name": str(name), "input": inp, "qualifier": info.get("qualifier"),
                 "version": info.get("version"), "alias": info.get("alias")}
        self.result.setdefault("spawn", []).append(spawn)
        if mode == "":
            self.event(f, "TaskSucceeded", "taskSucceededEventDetails",
                       {"resourceType": rtype, "resource": resname, "output": dumps(started),
                        "outputDetails": {"truncated": False}})
            self.task_result(f, st, started)
            return
        if mode != ".waitForTaskToken":
            token = self.new_token(f)
            spawn["token"] = token
            spawn["mode"] = mode
        self.event(f, "TaskSubmitted", "taskSubmittedEventDetails",
                   {"resourceType": rtype, "resource": resname, "output": dumps(started),
                    "outputDetails": {"truncated": False}})
        f["wait"] = {"k": "task", "token": token, "act": None, "in": params, "rtype": rtype, "res": resname,
                     "due": self.now + self.scaled(timeout) if timeout is not None else None,
                     "hb": self.now + self.scaled(hb) if hb is not None else None, "hbs": hb,
                     "child": info["execArn"]}

    def task_result(self, f, st, result):
        ctx = self.ctx(f)
        if self.ql(f, st) == "JSONata":
            states = self.states_var(f, ctx, result=result)
            out = self.jev(f, st["Output"], states) if "Output" in st else result
            self.assign(f, self.jsonata_assign(f, st.get("Assign"), states))
            self.exit(f, st, out)
            return
        self.jsonpath_assign(f, st, result, ctx)
        if "ResultSelector" in st:
            result = template(st["ResultSelector"], result, ctx, self.env.rng, "ResultSelector", f.get("vars"))
        out = output_path(st, result_path(st, f["input"], result, ctx), ctx)
        self.exit(f, st, out)

    # ------------------------------------------------------------ Map
    def map_start(self, f, st, raw, ctx):
        jsonata = self.ql(f, st) == "JSONata"
        if jsonata:
            eff = raw
            ip = "Items"
            items = self.jev(f, st["Items"], self.states_var(f, ctx)) if "Items" in st else raw
        else:
            eff = input_path(st, raw, ctx)
            ip = st.get("ItemsPath", "$")
            if "ItemReader" not in st:
                try:
                    items = jsonpath.get(ip, eff, ctx)
                except jsonpath.PathError as exc:
                    raise StatesError("States.Runtime", str(exc))
        if "ItemReader" in st:
            ip = "ItemReader"
            items = self.read_items(f, st["ItemReader"], eff, ctx, jsonata)
        if not isinstance(items, list):
            raise StatesError("States.Runtime", f"Invalid path '{ip}': the value at ItemsPath must be an array, "
                              f"got {dumps(items)}")
        sel = st.get("ItemSelector", st.get("Parameters"))
        inputs = []
        for i, v in enumerate(items):
            if sel is not None and jsonata:
                ictx = self.ctx(f, item={"Index": i, "Value": v})
                inputs.append(self.jev(f, sel, self.states_var(f, ictx)))
            elif sel is not None:
                inputs.append(template(sel, eff, self.ctx(f, item={"Index": i, "Value": v}), self.env.rng,
                                       variables=f.get("vars")))
            else:
                inputs.append(v)
        if "ItemBatcher" in st:
            inputs = self.batches(f, st["ItemBatcher"], inputs, eff, ctx, jsonata)
        maxc = self.num_field(st, "MaxConcurrency", eff, ctx, 0, f) or 0
        tol_n = self.num_field(st, "ToleratedFailureCount", eff, ctx, None, f)
        tol_p = self.num_field(st, "ToleratedFailurePercentage", eff, ctx, None, f)
        self.event(f, "MapStateStarted", "mapStateStartedEventDetails", {"length": len(inputs)})
        proc = st.get("ItemProcessor") or st.get("Iterator") or {}
        if (proc.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED" and self.env.nested is not None:
            return self.dmap_start(f, st, inputs, int(maxc), tol_n, tol_p)
        f["wait"] = {"k": "kids", "typ": "map", "kids": {}, "res": [None] * len(items), "left": len(items),
                     "items": inputs, "next": 0, "max": int(maxc), "fails": 0, "tn": tol_n, "tp": tol_p}
        if not items:
            self.kids_done(f, st)
            return
        self.map_launch(f, st)

    def batches(self, f, b, inputs, eff, ctx, jsonata):
        """ItemBatcher: the (selected) items in batches {"Items": [...], "BatchInput": ...} of at most
        MaxItemsPerBatch[Path] items and MaxInputBytesPerBatch[Path] bytes (each batch holds at least one item)."""
        n = self.num_field(b, "MaxItemsPerBatch", eff, ctx, None, f)
        nbytes = self.num_field(b, "MaxInputBytesPerBatch", eff, ctx, None, f)
        if n is None and nbytes is None:
            raise StatesError("States.Runtime", "An ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch")
        bi = None
        if "BatchInput" in b:
            bi = self.jev(f, b["BatchInput"], self.states_var(f, ctx)) if jsonata else \
                template(b["BatchInput"], eff, ctx, self.env.rng, variables=f.get("vars"))
        out, cur, size = [], [], 0
        for v in inputs:
            vs = len(dumps(v).encode()) + 1
            if cur and ((n is not None and len(cur) >= n) or (nbytes is not None and size + vs > nbytes)):
                out.append(cur)
                cur, size = [], 0
            cur.append(v)
            size += vs
        if cur:
            out.append(cur)
        return [dict({"Items": c}, **({"BatchInput": bi} if bi is not None else {})) for c in out]

    def read_items(self, f, rd, eff, ctx, jsonata):
        """ItemReader with Resource arn:aws:states:::s3:getObject reads the items from a string key of this server
        (Parameters.Key; Bucket is ignored): ReaderConfig.InputType JSON (an array), JSONL or CSV (header
        FIRST_ROW or CSVHeaders), MaxItems[Path].  The items read go into the transition's patch, so replicas
        and replays never read the key."""
        import csv
        import io

        def fail(msg):
            raise StatesError("States.ItemReaderFailed", msg)
        res = rd.get("Resource", "")
        if res != "arn:aws:states:::s3:getObject" or self.env.read_key is None:
            fail(f"The ItemReader resource '{res}' is not supported: arn:aws:states:::s3:getObject reads a key")
        if jsonata:
            params = self.jev(f, rd.get("Arguments", {}), self.states_var(f, ctx))
        else:
            params = template(rd.get("Parameters", {}), eff, ctx, self.env.rng, variables=f.get("vars"))
        key = params.get("Key") if isinstance(params, dict) else None
        if not isinstance(key, str):
            fail("The ItemReader needs Parameters.Key (the key holding the items)")
        data = self.env.read_key(key)
        if data is None:
            fail(f"The key '{key}' does not exist or does not hold a string")
        cfg = rd.get("ReaderConfig") or {}
        typ = cfg.get("InputType", "JSON")
        try:
            text = data.decode("utf-8")
            if typ == "JSON":
                items = json.loads(text)
                if not isinstance(items, list):
                    fail(f"The key '{key}' does not hold a JSON array")
            elif typ == "JSONL":
                items = [json.loads(line) for line in text.splitlines() if line.strip()]
            elif typ == "CSV":
                rows = list(csv.reader(io.StringIO(text)))
                header = cfg.get("CSVHeaders")
                if cfg.get("CSVHeaderLocation", "FIRST_ROW") == "FIRST_ROW" or header is None:
                    header, rows = (rows[0] if rows else []), rows[1:]
                items = [dict(zip(header, row)) for row in rows]
            else:
                fail(f"Unsupported ReaderConfig.InputType '{typ}'")
        except (ValueError, UnicodeDecodeError) as exc:
            fail(f"The key '{key}' could not be read as {typ}: {exc}")
        maxi = cfg.get("MaxItems")
        if maxi is None and "MaxItemsPath" in cfg:
            try:
                maxi = jsonpath.get(cfg["MaxItemsPath"], eff, ctx)
            except jsonpath.PathError:
                fail(f"Invalid path '{cfg['MaxItemsPath']}' for MaxItemsPath")
        if isinstance(maxi, int) and not isinstance(maxi, bool) and maxi > 0:
            items = items[:maxi]
        return items

    # ------------------------------------------------------------ Distributed Map
    def dmap_start(self, f, st, inputs, maxc, tol_n, tol_p):
        """A Distributed Map: each item runs as a child execution (STANDARD or EXPRESS) of the ItemProcessor,
        started by the caller from ``spawn`` and answering this frame by token when it ends (a map run)."""
        n = len(inputs)
        keep = f.pop("dmapKeep", None)
        redriven = f.pop("redriven", False)
        run = "%s:%s:%d" % (self.ex["arn"].replace(":execution:", ":mapRun:", 1), f["state"], self.next_id)
        self.event(f, "MapRunStarted", "mapRunStartedEventDetails", {"mapRunArn": run})
        res, todo = [None] * n, None
        if redriven and keep is not None and len(keep["res"]) == n:
            # a redrive reruns the children that failed, were stopped or never started; the others keep results
            ok = set(keep["ok"])
            res = [keep["res"][i] if i in ok else None for i in range(n)]
            todo = [i for i in range(n) if i not in ok]
        left = n if todo is None else len(todo)
        self.rt.setdefault("mapRuns", []).append({
            "arn": run, "start": self.now, "stop": None, "status": "RUNNING", "max": maxc,
            "tn": tol_n or 0, "tp": tol_p or 0, "counts": None})
        f["wait"] = {"k": "kids", "typ": "dmap", "kids": {}, "res": res, "left": left, "items": inputs,
                     "next": 0, "max": maxc if maxc > 0 else 10000, "fails": 0, "tn": tol_n, "tp": tol_p,
                     "tokens": {}, "run": run, "todo": todo, "failed": []}
        if not left:
            self.dmap_end(f, st, True)
            return
        self.dmap_launch(f, st)

    def dmap_launch(self, f, st):
        """Start children up to MaxConcurrency, at most DMAP_BATCH per transition: the rest start from a timer due
        at once (the server's next turn), so a map run of 10,000 items never holds the loop for long."""
        w = f["wait"]
        w.pop("due", None)
        proc = dict(st.get("ItemProcessor") or st.get("Iterator"))
        typ = proc.pop("ProcessorConfig", {}).get("ExecutionType", "STANDARD")
        launched = 0
        todo = w.get("todo")
        bound = len(todo) if todo is not None else len(w["items"])
        while w["next"] < bound and len(w["tokens"]) < w["max"]:
            if launched >= DMAP_BATCH:
                w["due"] = self.now
                break
            launched += 1
            i = todo[w["next"]] if todo is not None else w["next"]
            w["next"] += 1
            token = self.new_token(f)
            w["tokens"][token] = i
            self.result.setdefault("spawn", []).append({
                "map": True, "name": "%s.%s.%d" % (f["id"], self.rt["tok"], i), "input": w["items"][i],
                "token": token, "mode": "map", "definition": proc, "type": typ, "run": w["run"]})
        if w["next"] >= bound:
            w["items"] = []
            w["next"] = 0
            w["todo"] = []

    def update_map_run(self, arn, maxc, tol_n, tol_p):
        """UpdateMapRun: a running map run's MaxConcurrency and tolerated failures change (None: unchanged).
        A higher limit starts more children at once; a threshold its failures already pass fails the run."""
        for f in self.frames.values():
            w = f.get("wait")
            if w and w.get("typ") == "dmap" and w["run"] == arn:
                break
        else:
            raise StatesError("ResourceNotFound", f"Map Run Does Not Exist: '{arn}'")
        rec = next(r for r in self.rt.get("mapRuns", ()) if r["arn"] == arn)
        if maxc is not None:
            rec["max"] = maxc
            w["max"] = maxc if maxc > 0 else 10000
        if tol_n is not None:
            rec["tn"] = w["tn"] = tol_n
        if tol_p is not None:
            rec["tp"] = w["tp"] = tol_p
        st = self.state(f)
        if w["fails"] and not self.dmap_tolerated(w):
            self.dmap_end(f, st, False)
        elif self.dmap_pending(w):
            self.dmap_launch(f, st)

    def dmap_tolerated(self, w):
        """Do the map run's failures so far stay within its ToleratedFailureCount / Percentage?"""
        tn, tp = w.get("tn"), w.get("tp")
        return (tn is not None or tp is not None) and (tn is None or w["fails"] <= tn) and \
            (tp is None or w["fails"] * 100.0 / len(w["res"]) <= tp)

    def dmap_pending(self, w):
        todo = w.get("todo")
        return w["next"] < (len(todo) if todo is not None else len(w["items"]))

    def stop_children(self, w):
        """The map run's children still running are stopped by the caller (``stops``: their names)."""
        stops = self.result.setdefault("stops", [])
        for token, i in w["tokens"].items():
            body = token.split("~", 1)[-1].split(".")
            stops.append("%s.%s.%d" % (body[0], body[1], i))
        w["tokens"] = {}

    def dmap_child_done(self, f, w, slot, token, what, args):
        st = self.state(f)
        del w["tokens"][token]
        w["left"] -= 1
        if what == "success":
            w["res"][slot] = args[0]
        else:
            w["fails"] += 1
            w.setdefault("failed", []).append(slot)
            w["res"][slot] = {"Error": args[0], "Cause": args[1]}
            if not self.dmap_tolerated(w):
                self.dmap_end(f, st, False)
                return
        if w["left"] == 0:
            self.dmap_end(f, st, True)
        elif self.dmap_pending(w):
            w["due"] = self.now              # the next children start from the timer (DMAP_BATCH at a time)

    def close_run(self, w, status):
        for rec in self.rt.get("mapRuns", ()):
            if rec["arn"] == w["run"] and rec["status"] == "RUNNING":
                rec.update(status=status, stop=self.now, counts=map_counts(w, aborting=True))

    def dmap_end(self, f, st, ok):
        w = f["wait"]
        self.close_run(w, "SUCCEEDED" if ok else "FAILED")
        if ok:
            self.event(f, "MapRunSucceeded")
            self.guard(f, lambda: self.kids_done(f, st))
            return
        running = set(w["tokens"].values())
        failed = set(w.get("failed", ()))
        f["dmapKeep"] = {"res": w["res"], "ok": [i for i, v in enumerate(w["res"])
                                                  if v is not None and i not in failed and i not in running]}
        self.stop_children(w)
        f["wait"] = None
        err, cause = "States.ExceedToleratedFailureThreshold", "The specified tolerated failure threshold was exceeded"
        self.event(f, "MapRunFailed", "mapRunFailedEventDetails", {"error": err, "cause": cause})
        self.event(f, "MapStateFailed")
        self.state_failed(f, st, err, cause)

    def map_launch(self, f, st):
        w = f["wait"]
        proc = st.get("ItemProcessor") or st.get("Iterator")
        while w["next"] < len(w["items"]) and (w["max"] <= 0 or len(w["kids"]) < w["max"]):
            i = w["next"]
            w["next"] += 1
            self.event(f, "MapIterationStarted", "mapIterationStartedEventDetails", {"name": f["state"], "index": i})
            k = self.new_frame(f, i, f["path"] + [f["state"], -1], proc["StartAt"], w["items"][i])
            w["kids"][str(i)] = k["id"]
        if w["next"] >= len(w["items"]):
            w["items"] = []          # every item launched: keep no copies
            w["next"] = len(w["res"])

    # ------------------------------------------------------------ frames
    def drop_frame(self, fid):
        f = self.frames.pop(fid, None)
        if f is None:
            return
        w = f.get("wait")
        if w and w.get("k") == "kids":
            for kid in list(w["kids"].values()):
                self.drop_frame(kid)

    def frame_succeeded(self, f, out):
        if f["parent"] is None:
            self.finish("SUCCEEDED", output=out)
            return
        p = self.frames[f["parent"]]
        del self.frames[f["id"]]
        w = p["wait"]
        slot = f["slot"]
        w["kids"].pop(str(slot), None)
        w["res"][slot] = out
        w["left"] -= 1
        p["last"] = max(p.get("last", 0), f.get("last", 0))
        st = self.state(p)
        if w["typ"] == "map":
            self.event(p, "MapIterationSucceeded", "mapIterationSucceededEventDetails",
                       {"name": p["state"], "index": slot})
            self.map_launch(p, st)
        if w["left"] == 0:
            self.guard(p, lambda: self.kids_done(p, st))

    def kids_done(self, p, st):
        w = p["wait"]
        p["wait"] = None
        typ = st["Type"]
        self.event(p, typ + "StateSucceeded")
        self.task_result(p, st, w["res"])

    def frame_failed(self, f, error, cause, fatal=False):
        if self._chain:
            return self._frame_failed(f, error, cause, fatal)
        self._snap = copy.deepcopy(self.frames)
        self._chain = True
        try:
            return self._frame_failed(f, error, cause, fatal)
        finally:
            self._chain = False

    def _frame_failed(self, f, error, cause, fatal=False):
        if f["parent"] is None or fatal:
            self.finish("FAILED", error=error, cause=cause)
            return
        p = self.frames[f["parent"]]
        self.drop_frame(f["id"])
        w = p["wait"]
        slot = f["slot"]
        w["kids"].pop(str(slot), None)
        p["last"] = max(p.get("last", 0), f.get("last", 0))
        st = self.state(p)
        if w["typ"] == "map":
            self.event(p, "MapIterationFailed", "mapIterationFailedEventDetails", {"name": p["state"], "index": slot})
            w["fails"] += 1
            w["left"] -= 1
            w["res"][slot] = {"Error": error, "Cause": cause}
            tn, tp = w.get("tn"), w.get("tp")
            total = len(w["res"])
            tolerated = (tn is not None or tp is not None) and \
                (tn is None or w["fails"] <= tn) and (tp is None or w["fails"] * 100.0 / total <= tp)
            if tolerated:
                self.map_launch(p, st)
                if w["left"] == 0:
                    self.guard(p, lambda: self.kids_done(p, st))
                return
            if tn is not None or tp is not None:
                error, cause = "States.ExceedToleratedFailureThreshold", \
                    "The specified tolerated failure threshold was exceeded"
        for kid in list(w["kids"].values()):
            self.drop_frame(kid)
        p["wait"] = None
        self.event(p, st["Type"] + "StateFailed")
        self.state_failed(p, st, error, cause)

    def state_failed(self, f, st, error, cause):
        """Retry (first matching retrier), then Catch (first matching catcher), else the frame fails."""
        if self.done:
            return
        for i, r in enumerate(st.get("Retry", ())):
            if matches(r["ErrorEquals"], error):
                n = f["retries"].get(str(i), 0)
                if n < r.get("MaxAttempts", 3):
                    delay = r.get("IntervalSeconds", 1) * (r.get("BackoffRate", 2.0) ** n)
                    if "MaxDelaySeconds" in r:
                        delay = min(delay, r["MaxDelaySeconds"])
                    if r.get("JitterStrategy") == "FULL":
                        delay = self.env.rng.uniform(0, delay)
                    f["retries"][str(i)] = n + 1
                    f["rc"] = f.get("rc", 0) + 1
                    f["wait"] = {"k": "timer", "due": self.now + self.scaled(delay), "why": "retry"}
                    return
                break
        for c in st.get("Catch", ()):
            if matches(c["ErrorEquals"], error):
                ctx = self.ctx(f)
                value = {"Error": error, "Cause": cause if cause is not None else ""}
                try:
                    if self.ql(f, st) == "JSONata":
                        states = self.states_var(f, ctx, errorOutput=value)
                        out = self.jev(f, c["Output"], states) if "Output" in c else value
                        self.assign(f, self.jsonata_assign(f, c.get("Assign"), states))
                    else:
                        out = result_path(c, f["input"], value, ctx)
                except StatesError as e:
                    self.frame_failed(f, e.error, e.cause)
                    return
                self.exit(f, st, out, c["Next"])
                return
        self.frame_failed(f, error, cause)


def map_counts(w, aborting=False):
    """A map run's item counts (DescribeMapRun's itemCounts) from its frame's wait."""
    total = len(w["res"])
    todo = w.get("todo")
    pending = max(0, (len(todo) if todo is not None else len(w["items"])) - w["next"])
    running = len(w["tokens"])
    failed = len(w.get("failed", ()))
    c = {"pending": pending, "running": 0 if aborting else running, "succeeded": total - failed - running - pending,
         "failed": failed, "timedOut": 0, "aborted": running if aborting else 0, "total": total,
         "resultsWritten": 0}
    return c


def map_runs(ex):
    """The execution's map runs (ListMapRuns / DescribeMapRun), live counts for running ones."""
    live = {}
    for f in ex["rt"]["frames"].values():
        w = f.get("wait")
        if w and w.get("typ") == "dmap":
            live[w["run"]] = map_counts(w)
    out = []
    for rec in ex["rt"].get("mapRuns", ()):
        counts = rec["counts"] if rec["counts"] is not None else live.get(rec["arn"])
        if counts is None:               # the execution ended by another path: closed without counts
            counts = {"pending": 0, "running": 0, "succeeded": 0, "failed": 0, "timedOut": 0, "aborted": 0,
                      "total": 0, "resultsWritten": 0}
        out.append({"mapRunArn": rec["arn"], "executionArn": ex["arn"], "stateMachineArn": ex["sm"],
                    "status": rec["status"], "startDate": rec["start"], "stopDate": rec["stop"],
                    "maxConcurrency": rec["max"], "toleratedFailureCount": rec["tn"],
                    "toleratedFailurePercentage": float(rec["tp"]), "itemCounts": counts,
                    "executionCounts": counts})
    return out


def _mocked(responses, n):
    if not responses:
        return None
    for k, v in responses.items():
        if "-" in k:
            lo, hi = k.split("-", 1)
            if int(lo) <= n <= int(hi):
                return v
        elif int(k) == n:
            return v
    return None


def _resource_type(res):
    parts = res.split(":")
    if len(parts) >= 6 and parts[2] == "states" and not parts[3] and not parts[4]:
        svc = parts[5]
        name = ":".join(parts[6:]) if len(parts) > 6 else ""
        return svc, name
    if len(parts) >= 3 and parts[2] == "lambda":
        return "lambda", res
    return parts[2] if len(parts) > 2 else "unknown", res


def advance(ex, signal, env):
    """The patch one signal causes: ("start",), ("timers",), ("task", token, "success", out) /
    ("task", token, "failure", error, cause) / ("task", token, "heartbeat") / ("task", token, "started",
    worker), ("stop", error, cause).  Raises StatesError("TaskDoesNotExist") for an unknown token."""
    return Step(ex, env).signal(signal)


def run_to_completion(definition, input_value, now_ms=0, rng=None, max_rounds=100000, mocks=None,
                      on_task=None, time_scale=1.0):
    """Test helper: run an execution with a virtual clock, jumping to each due timer; ``on_task(ex, task)``
    may answer pending tasks with a signal tuple.  Returns the execution dict."""
    ex = new_execution(definition, input_value, arn="arn:aws:states:us-east-1:000000000000:execution:t:e",
                       name="e", sm_arn="arn:aws:states:us-east-1:000000000000:stateMachine:t", sm_name="t",
                       now_ms=now_ms, mocks=mocks)
    rng = rng or random.Random(7)
    now = now_ms
    apply_patch(ex, advance(ex, ("start",), Env(now, rng, time_scale)))
    for _ in range(max_rounds):
        if ex["status"] != "RUNNING":
            return ex
        acted = False
        if on_task is not None:
            for t in pending_tasks(ex):
                sig = on_task(ex, t)
                if sig is not None:
                    apply_patch(ex, advance(ex, sig, Env(now, rng, time_scale)))
                    acted = True
                    break
        if acted:
            continue
        due = next_due(ex)
        if due is None:
            return ex
        now = max(now, due)
        apply_patch(ex, advance(ex, ("timers",), Env(now, rng, time_scale)))
    return ex


def fold(history):
    """What the history alone says about an execution: status, output/error/cause, and the multiset of
    states entered and not yet left.  ``fold(ex["history"]) == snapshot(ex)`` holds for every stored
    execution (asserted by the tests after restarts): the history is the durable record."""
    status, out, error, cause = "RUNNING", None, None, None
    open_states = []              # [(name, event index)]
    markers = []
    failed_markers = []           # Parallel/Map states failed in this attempt (a redrive reopens them)
    pending = Counter()           # after a redrive: states open at the failure, re-entered once more
    for i, e in enumerate(history):
        t = e["type"]
        if t.endswith("StateEntered"):
            name = e["stateEnteredEventDetails"]["name"]
            if pending[name] > 0:
                pending[name] -= 1
            elif t != "FailStateEntered":
                open_states.append((name, i))
        elif t.endswith("StateExited"):
            name = e["stateExitedEventDetails"]["name"]
            for k in range(len(open_states) - 1, -1, -1):
                if open_states[k][0] == name:
                    del open_states[k]
                    break
        elif t in ("ParallelStateStarted", "MapStateStarted"):
            markers.append(i)
        elif t in ("ParallelStateSucceeded", "MapStateSucceeded"):
            if markers:
                markers.pop()
        elif t in ("ParallelStateFailed", "MapStateFailed"):
            m = markers.pop() if markers else -1
            failed_markers.append(m)
            open_states = [s for s in open_states if s[1] < m]
        elif t == "ExecutionSucceeded":
            status = "SUCCEEDED"
            out = json.loads(e["executionSucceededEventDetails"]["output"])
        elif t in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            status = {"ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT",
                      "ExecutionAborted": "ABORTED"}[t]
            d = next((v for k, v in e.items() if k.endswith("EventDetails")), {})
            error, cause = d.get("error"), d.get("cause")
        elif t == "ExecutionRedriven":
            status, out, error, cause = "RUNNING", None, None, None
            pending = Counter(s[0] for s in open_states)
            markers = sorted(markers + [m for m in failed_markers if m >= 0])
            failed_markers = []
    if status != "RUNNING":
        open_states = []
    return {"status": status, "output": out, "error": error, "cause": cause,
            "open": dict(Counter(s[0] for s in open_states))}


def snapshot(ex):
    """The same view read from the runtime snapshot (the frames) instead of the history."""
    from collections import Counter
    frames = ex["rt"]["frames"].values()
    entered = [f["state"] for f in frames if not (f.get("wait") and f["wait"].get("why") == "enter")]
    return {"status": ex["status"], "output": ex["output"], "error": ex["error"], "cause": ex["cause"],
            "open": dict(Counter(entered)) if ex["status"] == "RUNNING" else {}}



REDRIVE_PERIOD_MS = 14 * 86400 * 1000
MAX_REDRIVES = 1000


def redrive_status(ex, now_ms, history_limit=HISTORY_LIMIT):
    """(REDRIVABLE | NOT_REDRIVABLE, reason or None): the AWS RedriveExecution rules."""
    st = ex["status"]
    if ex.get("type") == "EXPRESS":
        return "NOT_REDRIVABLE", "Execution is of type EXPRESS and cannot be redriven."
    if st in ("RUNNING", "SUCCEEDED"):
        return "NOT_REDRIVABLE", f"Execution is {st} and cannot be redriven."
    if "redrive" not in ex["rt"]:
        return "NOT_REDRIVABLE", "Execution was started before the launch of RedriveExecution."
    if len(ex["history"]) >= min(history_limit, HISTORY_LIMIT) - 1:
        return "NOT_REDRIVABLE", "Execution history event limit exceeded."
    if ex["rt"].get("redrives", 0) >= MAX_REDRIVES:
        return "NOT_REDRIVABLE", "Execution redrive count limit exceeded."
    if now_ms - ex["start"] > 365 * 86400 * 1000:
        return "NOT_REDRIVABLE", "Execution has exceeded the max execution time."
    if ex["stop"] is not None and now_ms - ex["stop"] > REDRIVE_PERIOD_MS:
        return "NOT_REDRIVABLE", "Execution redrivable period exceeded."
    return "REDRIVABLE", None
