"""JSONPath data flow (InputPath, Parameters, ResultSelector, ResultPath, OutputPath), payload templates,
Choice rules and timestamps: the pure pieces a state evaluation is made of."""
import functools
import json
import re
from datetime import datetime, timezone

from . import jsonpath
from .errors import StatesError
from .intrinsics import IntrinsicError, evaluate as eval_intrinsic, looks_intrinsic


dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def input_path(st, raw, ctx):
    p = st.get("InputPath", "$")
    if p is None:
        return {}
    if p == "$":
        return raw
    try:
        return jsonpath.get(p, raw, ctx)
    except jsonpath.PathError as exc:
        raise StatesError("States.Runtime", f"An error occurred while executing the state '{ctx['State']['Name']}'"
                          f" (entered at the event id #{ctx.get('_eid', 0)}). {exc}")


def output_path(st, value, ctx):
    p = st.get("OutputPath", "$")
    if p is None:
        return {}
    if p == "$":
        return value
    try:
        return jsonpath.get(p, value, ctx)
    except jsonpath.PathError as exc:
        raise StatesError("States.Runtime", f"An error occurred while executing the state '{ctx['State']['Name']}'. {exc}")


def result_path(st, raw, result, ctx):
    p = st.get("ResultPath", "$")
    if p is None:
        return raw
    if p == "$":
        return result
    try:
        return jsonpath.put(p, raw, result)
    except jsonpath.PathError as exc:
        raise StatesError("States.ResultPathMatchFailure",
                          f"An error occurred while executing the state '{ctx['State']['Name']}'. {exc}")


def template(t, value, ctx, rng, field="Parameters", variables=None):
    """A payload template (Parameters, ResultSelector, ItemSelector) evaluated against value and ctx."""
    if isinstance(t, dict):
        out = {}
        for k, v in t.items():
            if k.endswith(".$") and isinstance(v, str):
                name = k[:-2]
                if v.startswith("$"):
                    try:
                        out[name] = jsonpath.get(v, value, ctx, variables=variables)
                    except jsonpath.PathError:
                        raise StatesError("States.ParameterPathFailure" if field != "ResultSelector" else "States.Runtime",
                                          f"The JSONPath '{v}' specified for the field '{k}' could not be found in "
                                          f"the input '{dumps(value)}'")
                elif looks_intrinsic(v):
                    try:
                        out[name] = eval_intrinsic(v, value, ctx, rng)
                    except IntrinsicError as exc:
                        raise StatesError("States.IntrinsicFailure",
                                          f"The evaluation of the intrinsic function '{v}' for the field '{k}' "
                                          f"failed: {exc}")
                else:
                    raise StatesError("States.Runtime", f"The value of the field '{k}' must be a path or an "
                                      f"intrinsic function, got '{v}'")
            else:
                out[k] = template(v, value, ctx, rng, field, variables)
        return out
    if isinstance(t, list):
        return [template(v, value, ctx, rng, field, variables) for v in t]
    return t


# ------------------------------------------------------------------ timestamps
_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_timestamp(s):
    """An RFC 3339 timestamp as epoch ms (float), or None when s is not one."""
    if not isinstance(s, str):
        return None
    m = _TS.match(s)
    if not m:
        return None
    y, mo, d, h, mi, se = (int(m.group(i)) for i in range(1, 7))
    frac = float(m.group(7)) if m.group(7) else 0.0
    tz = m.group(8)
    try:
        dt = datetime(y, mo, d, h, mi, se, tzinfo=timezone.utc)
    except ValueError:
        return None
    ms = dt.timestamp() * 1000 + frac * 1000
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        ms -= sign * (int(tz[1:3]) * 60 + int(tz[4:6])) * 60000
    return ms


@functools.lru_cache(maxsize=4096)
def iso(ms):
    dt = datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (int(ms) % 1000)


# ------------------------------------------------------------------ Choice
def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def string_matches(value, pattern):
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else re.escape(c))
        i += 1
    return re.fullmatch("".join(out), value, re.DOTALL) is not None


_CMP = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}

COMPARISONS = {}
for _kind in ("String", "Numeric", "Timestamp"):
    for _op in _CMP:
        COMPARISONS[_kind + _op] = (_kind, _op, False)
        COMPARISONS[_kind + _op + "Path"] = (_kind, _op, True)
COMPARISONS["BooleanEquals"] = ("Boolean", "Equals", False)
COMPARISONS["BooleanEqualsPath"] = ("Boolean", "Equals", True)
COMPARISONS["StringMatches"] = ("String", "Matches", False)
TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")


def _typed(kind, v):
    if kind == "String":
        return v if isinstance(v, str) else None
    if kind == "Numeric":
        return v if _is_num(v) else None
    if kind == "Boolean":
        return v if isinstance(v, bool) else None
    return parse_timestamp(v)


def _path_value(path, value, ctx):
    try:
        return jsonpath.get(path, value, ctx)
    except jsonpath.PathError:
        raise StatesError("States.Runtime", f"Invalid path '{path}': The choice state's condition path references "
                          f"an invalid value.")


def evaluate_rule(rule, value, ctx):
    if "And" in rule:
        return all(evaluate_rule(r, value, ctx) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate_rule(r, value, ctx) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate_rule(rule["Not"], value, ctx)
    var = rule["Variable"]
    if "IsPresent" in rule:
        present = jsonpath.get(var, value, ctx, default=jsonpath.MISSING) is not jsonpath.MISSING \
            if jsonpath.parse(var).definite else bool(jsonpath.get(var, value, ctx))
        return present == rule["IsPresent"]
    v = _path_value(var, value, ctx)
    for test in TYPE_TESTS[:1] + TYPE_TESTS[2:]:
        if test in rule:
            want = rule[test]
            if test == "IsNull":
                got = v is None
            elif test == "IsNumeric":
                got = _is_num(v)
            elif test == "IsString":
                got = isinstance(v, str)
            elif test == "IsBoolean":
                got = isinstance(v, bool)
            else:
                got = parse_timestamp(v) is not None
            return got == want
    for name, (kind, op, is_path) in COMPARISONS.items():
        if name in rule:
            other = rule[name]
            if op == "Matches":
                return isinstance(v, str) and string_matches(v, other)
            if is_path:
                other = _path_value(other, value, ctx)
            a, b = _typed(kind, v), _typed(kind, other)
            if a is None or b is None:
                return False
            return _CMP[op](a, b)
    raise StatesError("States.Runtime", f"The choice rule {dumps(rule)} has no comparison operator")


def choose(st, value, ctx):
    for rule in st.get("Choices", ()):
        if evaluate_rule(rule, value, ctx):
            return rule["Next"]
    return st.get("Default")
