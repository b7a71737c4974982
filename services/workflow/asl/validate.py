"""Static validation of an ASL definition, in the spirit of awslabs/statelint: every problem is reported
with the JSON pointer of the offending field (``/States/X/Next``), never as an exception.

``validate(definition)`` -> list of diagnostics ``{"severity", "code", "message", "location"}`` (empty when
valid).  ``definition`` may be text or an already parsed dict.
"""
import json

from . import jsonpath
from .dataflow import COMPARISONS, TYPE_TESTS, parse_timestamp
from .errors import ERROR_NAMES
from .intrinsics import IntrinsicError, looks_intrinsic, parse as parse_intrinsic
from .jsonata_ql import is_expr

JSONPATH_ONLY = ("InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "ItemsPath")
JSONATA_ONLY = ("Arguments", "Output", "Items")

STATE_TYPES = ("Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
COMMON = {"Type", "Comment", "QueryLanguage"}
FIELDS = {
    "Pass": {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "Assign", "Output"},
    "Task": {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Resource",
             "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Retry", "Catch",
             "Credentials", "Arguments", "Output", "Assign"},
    "Choice": {"InputPath", "OutputPath", "Choices", "Default", "Assign", "Output"},
    "Wait": {"Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath", "TimestampPath",
             "Assign", "Output"},
    "Succeed": {"InputPath", "OutputPath", "Output"},
    "Fail": {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Branches",
                 "Retry", "Catch", "Arguments", "Output", "Assign"},
    "Map": {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "ItemsPath",
            "Items", "ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath",
            "ToleratedFailureCount", "ToleratedFailureCountPath", "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath", "Retry", "Catch", "Label", "ItemReader", "ItemBatcher",
            "ResultWriter", "Arguments", "Output", "Assign"},
}
MAX_STATES = 10000


class _V:
    def __init__(self):
        self.out = []
        self.jsonata = False

    def err(self, loc, msg, code="SCHEMA_VALIDATION_FAILED"):
        self.out.append({"severity": "ERROR", "code": code, "message": msg, "location": loc or "/"})

    # -------------------------------------------------------------- helpers
    def path(self, loc, v, reference=False, nullable=True):
        if v is None and nullable:
            return
        if not isinstance(v, str):
            self.err(loc, "Field must be a JSONPath string")
            return
        try:
            p = jsonpath.parse(v)
        except jsonpath.PathError:
            self.err(loc, f"The value '{v}' is not a valid JSONPath")
            return
        if reference and (not p.definite or p.root != "$"):
            self.err(loc, f"The value '{v}' is not a valid Reference Path")

    def number(self, loc, v, integer=False, minimum=None):
        if self.jsonata and is_expr(v):
            return
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not float(v).is_integer()):
            self.err(loc, "Field must be " + ("an integer" if integer else "a number"))
            return
        if minimum is not None and v < minimum:
            self.err(loc, f"Field must be at least {minimum}")

    def template(self, loc, t):
        if isinstance(t, dict):
            for k, v in t.items():
                sub = loc + "/" + k.replace("~", "~0").replace("/", "~1")
                if k.endswith(".$"):
                    if not isinstance(v, str):
                        self.err(sub, "The value of a field ending in '.$' must be a path or an intrinsic function")
                    elif v.startswith("$"):
                        self.path(sub, v)
                    elif looks_intrinsic(v):
                        try:
                            parse_intrinsic(v)
                        except IntrinsicError as exc:
                            self.err(sub, f"Invalid intrinsic function: {exc}")
                    else:
                        self.err(sub, f"The value '{v}' of a field ending in '.$' must be a path or an intrinsic "
                                 "function")
                else:
                    self.template(sub, v)
        elif isinstance(t, list):
            for i, v in enumerate(t):
                self.template(f"{loc}/{i}", v)

    def errors_list(self, loc, names, is_retry):
        if not isinstance(names, list) or not names:
            self.err(loc, "ErrorEquals must be a non-empty array of strings")
            return
        for i, n in enumerate(names):
            if not isinstance(n, str):
                self.err(f"{loc}/{i}", "Error names must be strings")
            elif n.startswith("States.") and n not in ERROR_NAMES:
                self.err(f"{loc}/{i}", f"Unknown predefined error name '{n}'")
        if "States.ALL" in names and len(names) != 1:
            self.err(loc, "States.ALL must appear alone in ErrorEquals")

    def retriers(self, loc, st, names):
        for field in ("Retry", "Catch"):
            if field not in st:
                continue
            lst = st[field]
            floc = f"{loc}/{field}"
            if not isinstance(lst, list):
                self.err(floc, f"{field} must be an array")
                continue
            for i, r in enumerate(lst):
                rloc = f"{floc}/{i}"
                if not isinstance(r, dict):
                    self.err(rloc, f"A {field} entry must be an object")
                    continue
                if "ErrorEquals" not in r:
                    self.err(rloc, "Missing required field 'ErrorEquals'")
                else:
                    self.errors_list(rloc + "/ErrorEquals", r["ErrorEquals"], field == "Retry")
                    if "States.ALL" in r["ErrorEquals"] and i != len(lst) - 1:
                        self.err(rloc + "/ErrorEquals", f"States.ALL must be in the last {field} entry")
                if field == "Retry":
                    allowed = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
                               "JitterStrategy", "Comment"}
                    if "IntervalSeconds" in r:
                        self.number(rloc + "/IntervalSeconds", r["IntervalSeconds"], True, 1)
                    if "MaxAttempts" in r:
                        self.number(rloc + "/MaxAttempts", r["MaxAttempts"], True, 0)
                    if "BackoffRate" in r:
                        self.number(rloc + "/BackoffRate", r["BackoffRate"], False, 1)
                    if "MaxDelaySeconds" in r:
                        self.number(rloc + "/MaxDelaySeconds", r["MaxDelaySeconds"], True, 1)
                    if "JitterStrategy" in r and r["JitterStrategy"] not in ("FULL", "NONE"):
                        self.err(rloc + "/JitterStrategy", "JitterStrategy must be FULL or NONE")
                else:
                    allowed = {"ErrorEquals", "Next", "ResultPath", "Comment", "Output", "Assign"}
                    if "Next" not in r:
                        self.err(rloc, "Missing required field 'Next'")
                    elif r["Next"] not in names:
                        self.err(rloc + "/Next", f"Missing 'Next' target: {r['Next']}", "MISSING_TRANSITION_TARGET")
                    if "ResultPath" in r:
                        self.path(rloc + "/ResultPath", r["ResultPath"], reference=True)
                for k in r if isinstance(r, dict) else ():
                    if k not in allowed:
                        self.err(f"{rloc}/{k}", f"Field '{k}' is not supported in a {field} entry")

    def rule(self, loc, r, top, names):
        if not isinstance(r, dict):
            self.err(loc, "A choice rule must be an object")
            return
        if self.jsonata and top:
            if "Condition" not in r:
                self.err(loc, "Missing required field 'Condition'")
            elif not (is_expr(r["Condition"]) or isinstance(r["Condition"], bool)):
                self.err(loc + "/Condition", "Condition must be a JSONata expression {% ... %} or a boolean")
            if "Next" not in r:
                self.err(loc, "Missing required field 'Next'")
            elif r["Next"] not in names:
                self.err(loc + "/Next", f"Missing 'Next' target: {r['Next']}", "MISSING_TRANSITION_TARGET")
            for k in r:
                if k not in ("Condition", "Next", "Comment", "Output", "Assign"):
                    self.err(f"{loc}/{k}", f"Field '{k}' is not supported in a JSONata choice rule")
            return
        if top:
            if "Next" not in r:
                self.err(loc, "Missing required field 'Next'")
            elif r["Next"] not in names:
                self.err(loc + "/Next", f"Missing 'Next' target: {r['Next']}", "MISSING_TRANSITION_TARGET")
        elif "Next" in r:
            self.err(loc + "/Next", "Nested choice rules must not have 'Next'")
        for comb in ("And", "Or"):
            if comb in r:
                if not isinstance(r[comb], list) or not r[comb]:
                    self.err(f"{loc}/{comb}", f"{comb} must be a non-empty array of rules")
                    return
                for i, sub in enumerate(r[comb]):
                    self.rule(f"{loc}/{comb}/{i}", sub, False, names)
                return
        if "Not" in r:
            self.rule(loc + "/Not", r["Not"], False, names)
            return
        if "Variable" not in r:
            self.err(loc, "Missing required field 'Variable'")
            return
        self.path(loc + "/Variable", r["Variable"], nullable=False)
        ops = [k for k in r if k in COMPARISONS or k in TYPE_TESTS]
        if len(ops) != 1:
            self.err(loc, "A choice rule must have exactly one comparison operator" if ops else
                     "A choice rule must have a comparison operator")
            return
        op = ops[0]
        v = r[op]
        if op in TYPE_TESTS:
            if not isinstance(v, bool):
                self.err(f"{loc}/{op}", f"{op} must be a boolean")
        elif op.endswith("Path"):
            self.path(f"{loc}/{op}", v, nullable=False)
        else:
            kind = COMPARISONS[op][0]
            ok = {"String": isinstance(v, str), "Numeric": isinstance(v, (int, float)) and not isinstance(v, bool),
                  "Boolean": isinstance(v, bool), "Timestamp": parse_timestamp(v) is not None}[kind]
            if not ok:
                self.err(f"{loc}/{op}", f"{op} requires a {kind.lower()} value")
        for k in r:
            if k not in ("Variable", "Next", "Comment", op):
                self.err(f"{loc}/{k}", f"Field '{k}' is not supported in a choice rule")

    # -------------------------------------------------------------- machines
    def machine(self, loc, m, top=False):
        if not isinstance(m, dict):
            self.err(loc, "A state machine must be a JSON object")
            return
        allowed = {"StartAt", "States", "Comment", "QueryLanguage"} | ({"Version", "TimeoutSeconds"} if top else set())
        if not top:
            allowed |= {"ProcessorConfig"}
        for k in m:
            if k not in allowed:
                self.err(f"{loc}/{k}", f"Field '{k}' is not supported")
        if m.get("QueryLanguage", "JSONPath") not in ("JSONPath", "JSONata"):
            self.err(loc + "/QueryLanguage", "QueryLanguage must be JSONPath or JSONata")
        elif top:
            self.jsonata = m.get("QueryLanguage") == "JSONata"
        if "TimeoutSeconds" in m:
            self.number(loc + "/TimeoutSeconds", m["TimeoutSeconds"], True, 1)
        states = m.get("States")
        if "States" not in m:
            self.err(loc, "Missing required field 'States'")
            states = {}
        elif not isinstance(states, dict) or not states:
            self.err(loc + "/States", "States must be a non-empty object")
            states = {}
        if "StartAt" not in m:
            self.err(loc, "Missing required field 'StartAt'")
        elif states and m["StartAt"] not in states:
            self.err(loc + "/StartAt", f"StartAt references a state that does not exist: {m['StartAt']}",
                     "MISSING_TRANSITION_TARGET")
        if len(states) > MAX_STATES:
            self.err(loc + "/States", f"A state machine may have at most {MAX_STATES} states")
        names = set(states)
        saved_names = getattr(self, "_names", None)
        self._names = names
        for name, st in states.items():
            sloc = f"{loc}/States/{name}"
            if len(name) > 80:
                self.err(sloc, "State names must be at most 80 characters")
            self.state(sloc, name, st, names)
        self._names = saved_names
        # reachability (statelint: "No transition found to state")
        if states and m.get("StartAt") in states:
            seen, todo = set(), [m["StartAt"]]
            while todo:
                n = todo.pop()
                if n in seen or n not in states:
                    continue
                seen.add(n)
                st = states[n] if isinstance(states[n], dict) else {}
                nxt = [st.get("Next"), st.get("Default")]
                nxt += [c.get("Next") for c in st.get("Choices", []) if isinstance(c, dict)]
                nxt += [c.get("Next") for c in st.get("Catch", []) if isinstance(c, dict)]
                todo.extend(x for x in nxt if isinstance(x, str))
            for n in states:
                if n not in seen:
                    self.err(f"{loc}/States/{n}", f"No transition found to state {n}", "UNREACHABLE_STATE")

    def jsonata_checks(self, loc, st, typ):
        from .jsonata_ql import compile_expr
        from .errors import StatesError

        def walk(l, v):
            if isinstance(v, str) and is_expr(v):
                try:
                    compile_expr(v.strip()[2:-2].strip())
                except StatesError as exc:
                    self.err(l, exc.cause)
            elif isinstance(v, dict):
                for k, x in v.items():
                    walk(f"{l}/{k}", x)
            elif isinstance(v, list):
                for i, x in enumerate(v):
                    walk(f"{l}/{i}", x)
        for k in ("Arguments", "Output", "Assign", "Items", "ItemSelector", "Error", "Cause", "Seconds",
                  "Timestamp", "TimeoutSeconds", "HeartbeatSeconds", "MaxConcurrency"):
            if k in st:
                walk(f"{loc}/{k}", st[k])
        if typ == "Task" and "Resource" not in st:
            self.err(loc, "Missing required field 'Resource'")
        if typ in ("Task", "Parallel", "Map"):
            self.retriers(loc, st, self._names)
        if typ == "Choice":
            ch = st.get("Choices")
            if not isinstance(ch, list) or not ch:
                self.err(loc + ("/Choices" if "Choices" in st else ""), "Choices must be a non-empty array")
            else:
                for i, r in enumerate(ch):
                    self.rule(f"{loc}/Choices/{i}", r, True, self._names)
                    if isinstance(r, dict):
                        walk(f"{loc}/Choices/{i}/Condition", r.get("Condition"))
        if typ == "Wait":
            forms = [k for k in ("Seconds", "Timestamp") if k in st]
            if len(forms) != 1:
                self.err(loc, "A JSONata Wait state must have exactly one of Seconds, Timestamp")
        if typ == "Parallel":
            for i, b in enumerate(st.get("Branches") or []):
                self.machine(f"{loc}/Branches/{i}", b)
            if not st.get("Branches"):
                self.err(loc, "Branches must be a non-empty array")
        if typ == "Map":
            proc_field = "ItemProcessor" if "ItemProcessor" in st else "Iterator"
            if proc_field not in st:
                self.err(loc, "Missing required field 'ItemProcessor'")
            else:
                self.machine(f"{loc}/{proc_field}", st[proc_field])

    def state(self, loc, name, st, names):
        if not isinstance(st, dict):
            self.err(loc, "A state must be a JSON object")
            return
        typ = st.get("Type")
        if typ is None:
            self.err(loc, "Missing required field 'Type'")
            return
        if typ not in STATE_TYPES:
            self.err(loc + "/Type", f"Unknown state type '{typ}'")
            return
        allowed = FIELDS[typ] | COMMON
        outer = self.jsonata
        ql = st.get("QueryLanguage")
        if ql is not None:
            if ql not in ("JSONPath", "JSONata"):
                self.err(loc + "/QueryLanguage", "QueryLanguage must be JSONPath or JSONata")
            elif ql == "JSONPath" and outer:
                self.err(loc + "/QueryLanguage", "A JSONPath state is not allowed in a JSONata state machine")
            self.jsonata = ql == "JSONata"
        try:
            self._state(loc, name, st, names, typ, allowed)
        finally:
            self.jsonata = outer

    def _state(self, loc, name, st, names, typ, allowed):
        if typ == "Map" and "Items" in st:
            allowed = allowed | {"Items"}
        for k in st:
            if k not in allowed:
                self.err(f"{loc}/{k}", f"Field '{k}' is not supported in a {typ} state")
            elif self.jsonata and k in JSONPATH_ONLY:
                self.err(f"{loc}/{k}", f"Field '{k}' is not supported with QueryLanguage JSONata")
            elif not self.jsonata and k in JSONATA_ONLY:
                self.err(f"{loc}/{k}", f"Field '{k}' needs QueryLanguage JSONata")
        if typ in ("Choice", "Succeed", "Fail"):
            pass
        else:
            has_next, has_end = "Next" in st, st.get("End") is True
            if "End" in st and not isinstance(st["End"], bool):
                self.err(loc + "/End", "End must be a boolean")
            if has_next and has_end:
                self.err(loc, "A state must not have both 'Next' and 'End'")
            elif not has_next and not has_end:
                self.err(loc, "A state must have either 'Next' or 'End': true")
            elif has_next and st["Next"] not in names:
                self.err(loc + "/Next", f"Missing 'Next' target: {st['Next']}", "MISSING_TRANSITION_TARGET")
        for f in ("InputPath", "OutputPath"):
            if f in st:
                self.path(f"{loc}/{f}", st[f])
        if self.jsonata:
            self.jsonata_checks(loc, st, typ)
            return
        if "ResultPath" in st:
            self.path(loc + "/ResultPath", st["ResultPath"], reference=True)
        for f in ("Parameters", "ResultSelector", "ItemSelector"):
            if f in st:
                self.template(f"{loc}/{f}", st[f])
        if typ == "Task":
            if "Resource" not in st:
                self.err(loc, "Missing required field 'Resource'")
            elif not isinstance(st["Resource"], str) or not st["Resource"].startswith("arn:"):
                self.err(loc + "/Resource", "Resource must be an ARN")
            for f in ("TimeoutSeconds", "HeartbeatSeconds"):
                if f in st and f + "Path" in st:
                    self.err(loc, f"A Task state must not have both '{f}' and '{f}Path'")
                if f in st:
                    self.number(f"{loc}/{f}", st[f], True, 1)
                if f + "Path" in st:
                    self.path(f"{loc}/{f}Path", st[f + "Path"], reference=True, nullable=False)
            if isinstance(st.get("TimeoutSeconds"), int) and isinstance(st.get("HeartbeatSeconds"), int) \
                    and st["HeartbeatSeconds"] >= st["TimeoutSeconds"]:
                self.err(loc + "/HeartbeatSeconds", "HeartbeatSeconds must be smaller than TimeoutSeconds")
        if typ in ("Task", "Parallel", "Map"):
            self.retriers(loc, st, names)
        if typ == "Choice":
            ch = st.get("Choices")
            if not isinstance(ch, list) or not ch:
                self.err(loc + ("/Choices" if "Choices" in st else ""), "Choices must be a non-empty array")
            else:
                for i, r in enumerate(ch):
                    self.rule(f"{loc}/Choices/{i}", r, True, names)
            if "Default" in st and st["Default"] not in names:
                self.err(loc + "/Default", f"Missing 'Default' target: {st['Default']}", "MISSING_TRANSITION_TARGET")
        if typ == "Wait":
            forms = [k for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if k in st]
            if len(forms) != 1:
                self.err(loc, "A Wait state must have exactly one of Seconds, Timestamp, SecondsPath, TimestampPath")
            elif forms[0] == "Seconds":
                self.number(loc + "/Seconds", st["Seconds"], True, 0)
            elif forms[0] == "Timestamp":
                if parse_timestamp(st["Timestamp"]) is None:
                    self.err(loc + "/Timestamp", "Timestamp must be an RFC3339 timestamp")
            else:
                self.path(f"{loc}/{forms[0]}", st[forms[0]], reference=True, nullable=False)
        if typ == "Fail":
            for a, b in (("Error", "ErrorPath"), ("Cause", "CausePath")):
                if a in st and b in st:
                    self.err(loc, f"A Fail state must not have both '{a}' and '{b}'")
                if a in st and not isinstance(st[a], str):
                    self.err(f"{loc}/{a}", f"{a} must be a string")
                if b in st:
                    v = st[b]
                    if isinstance(v, str) and looks_intrinsic(v):
                        try:
                            parse_intrinsic(v)
                        except IntrinsicError as exc:
                            self.err(f"{loc}/{b}", f"Invalid intrinsic function: {exc}")
                    else:
                        self.path(f"{loc}/{b}", v, nullable=False)
        if typ == "Parallel":
            br = st.get("Branches")
            if not isinstance(br, list) or not br:
                self.err(loc + ("/Branches" if "Branches" in st else ""), "Branches must be a non-empty array")
            else:
                for i, b in enumerate(br):
                    self.machine(f"{loc}/Branches/{i}", b)
        if typ == "Map":
            proc_field = "ItemProcessor" if "ItemProcessor" in st else "Iterator"
            if proc_field not in st:
                self.err(loc, "Missing required field 'ItemProcessor'")
            else:
                self.machine(f"{loc}/{proc_field}", st[proc_field])
            if "ItemsPath" in st:
                self.path(loc + "/ItemsPath", st["ItemsPath"], reference=True, nullable=False)
            for f, integer in (("MaxConcurrency", True), ("ToleratedFailureCount", True),
                               ("ToleratedFailurePercentage", False)):
                if f in st:
                    self.number(f"{loc}/{f}", st[f], integer, 0)
                    if f == "ToleratedFailurePercentage" and isinstance(st[f], (int, float)) and st[f] > 100:
                        self.err(f"{loc}/{f}", "ToleratedFailurePercentage must be at most 100")
                if f + "Path" in st:
                    self.path(f"{loc}/{f}Path", st[f + "Path"], reference=True, nullable=False)
                if f in st and f + "Path" in st:
                    self.err(loc, f"A Map state must not have both '{f}' and '{f}Path'")
            if "Parameters" in st and "ItemSelector" in st:
                self.err(loc, "A Map state must not have both 'Parameters' and 'ItemSelector'")


def validate(definition):
    if isinstance(definition, (bytes, bytearray)):
        definition = definition.decode("utf-8", "replace")
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except ValueError as exc:
            return [{"severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION",
                     "message": f"The definition is not valid JSON: {exc}", "location": "/"}]
    v = _V()
    v.machine("", definition, top=True)
    return v.out
