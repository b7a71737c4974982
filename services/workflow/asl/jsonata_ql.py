"""JSONata as the ASL query language (``QueryLanguage: "JSONata"``), on the jsonata-python library.

A field value that is a string ``"{% expr %}"`` is evaluated with ``$states`` ({input, context, result,
errorOutput}) and the execution's variables (``Assign``) bound; objects and arrays are evaluated field by
field.  Each evaluation runs under a Timebox (time and depth budget) so one expression cannot stall the
server; any failure raises ``States.QueryEvaluationError``.
"""
import re

from .errors import StatesError

try:
    import jsonata as _jsonata
except ImportError:            # the library is optional: JSONata states then fail with a clear error
    _jsonata = None

EXPR_TIMEOUT_MS = 100
EXPR_MAX_DEPTH = 200
_EXPR = re.compile(r"^\{%(.*)%\}$", re.DOTALL)
_compiled = {}


def available():
    return _jsonata is not None


def is_expr(v):
    return isinstance(v, str) and _EXPR.match(v) is not None


def compile_expr(text):
    e = _compiled.get(text)
    if e is None:
        if _jsonata is None:
            raise StatesError("States.QueryEvaluationError", "JSONata needs the jsonata-python package")
        try:
            e = _jsonata.Jsonata(text)
        except Exception as exc:           # the library's parse errors (JException...)
            raise StatesError("States.QueryEvaluationError", f"Invalid JSONata expression '{text}': {exc}")
        if len(_compiled) < 4096:
            _compiled[text] = e
    return e


def evaluate_expr(text, states, variables):
    e = compile_expr(text)
    e.environment.set_runtime_bounds(EXPR_TIMEOUT_MS, EXPR_MAX_DEPTH)     # a fresh budget per evaluation
    bindings = dict(variables or {})
    bindings["states"] = states
    try:
        return e.evaluate(None, bindings)
    except StatesError:
        raise
    except Exception as exc:
        raise StatesError("States.QueryEvaluationError", f"An error occurred while evaluating the JSONata "
                          f"expression '{text}': {exc}")


def evaluate(v, states, variables):
    """A field value with every {% %} string evaluated."""
    if isinstance(v, str):
        m = _EXPR.match(v)
        return evaluate_expr(m.group(1).strip(), states, variables) if m else v
    if isinstance(v, dict):
        return {k: evaluate(x, states, variables) for k, x in v.items()}
    if isinstance(v, list):
        return [evaluate(x, states, variables) for x in v]
    return v
