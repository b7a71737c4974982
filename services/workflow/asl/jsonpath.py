"""JSONPath as Amazon States Language uses it (no I/O, no dependencies).

``parse(path)`` compiles ``$``/``$$``-rooted paths: ``.name``, ``['name']``, ``[n]`` (negative too),
``[*]``/``.*``, ``[a,b]``, ``[start:end]``, ``..name`` and filters ``[?(@.x op value)]``.
A *reference path* (names and indices only) is definite: ``get`` returns the one value.  Any other path
returns the list of matches, as AWS does (``$.items[*].id`` -> list).  ``put`` writes a reference path
into a copy (ResultPath).  Errors raise ``PathError`` with AWS-like text.
"""
import json
import re

__all__ = ["PathError", "parse", "get", "put", "is_reference", "MISSING"]


class PathError(Exception):
    pass


class _Missing:
    def __repr__(self):
        return "MISSING"


MISSING = _Missing()
_NODEFAULT = object()

_NAME = re.compile(r"[^.\[\]()\s'\"@=<>!,*?]+")
_INT = re.compile(r"-?\d+")
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_cache = {}


class Path:
    __slots__ = ("text", "root", "steps", "definite")

    def __init__(self, text, root, steps):
        self.text = text
        self.root = root          # "$" or "$$"
        self.steps = steps
        self.definite = all(s[0] in ("name", "index") for s in steps)


def parse(text):
    p = _cache.get(text)
    if p is not None:
        return p
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathError(f"The path '{text}' must start with '$'")
    i = 2 if text.startswith("$$") else 1
    root = text[:i]
    m = _VAR.match(text, 1) if i == 1 else None
    if m:                          # $name...: a variable (Assign) as the root
        root = "var:" + m.group(0)
        i = m.end()
    steps = []
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == ".":
            if text.startswith("..", i):
                i += 2
                m = _NAME.match(text, i)
                if m:
                    steps.append(("recurse", m.group(0)))
                    i = m.end()
                elif i < n and text[i] == "*":
                    steps.append(("recurse", None))
                    i += 1
                else:
                    raise PathError(f"Invalid path '{text}'")
                continue
            i += 1
            if i < n and text[i] == "*":
                steps.append(("wild",))
                i += 1
                continue
            m = _NAME.match(text, i)
            if not m:
                raise PathError(f"Invalid path '{text}'")
            name = m.group(0)
            i = m.end()
            if name == "length" and text.startswith("()", i):
                steps.append(("length",))
                i += 2
            else:
                steps.append(("name", name))
        elif ch == "[":
            j = _match_bracket(text, i)
            inner = text[i + 1:j].strip()
            i = j + 1
            steps.append(_bracket(text, inner))
        else:
            raise PathError(f"Invalid path '{text}'")
    p = Path(text, root, steps)
    if len(_cache) < 4096:
        _cache[text] = p
    return p


def _match_bracket(text, i):
    depth, q = 0, None
    for j in range(i, len(text)):
        c = text[j]
        if q:
            if c == "\\":
                continue
            if c == q:
                q = None
        elif c in "'\"":
            q = c
        elif c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
            if depth == 0:
                return j
    raise PathError(f"Invalid path '{text}': unbalanced brackets")


def _bracket(text, inner):
    if inner == "*":
        return ("wild",)
    if inner.startswith("?"):
        f = inner[1:].strip()
        if f.startswith("(") and f.endswith(")"):
            f = f[1:-1]
        return ("filter", _parse_filter(text, f.strip()))
    if inner[:1] in ("'", '"'):
        names = [s.strip()[1:-1] for s in _split_top(inner)]
        return ("name", names[0]) if len(names) == 1 else ("names", names)
    if ":" in inner:
        parts = inner.split(":")
        try:
            vals = [int(p) if p.strip() else None for p in parts]
        except ValueError:
            raise PathError(f"Invalid path '{text}'")
        while len(vals) < 3:
            vals.append(None)
        return ("slice", vals[0], vals[1], vals[2])
    if "," in inner:
        try:
            return ("indices", [int(s) for s in inner.split(",")])
        except ValueError:
            raise PathError(f"Invalid path '{text}'")
    if _INT.fullmatch(inner):
        return ("index", int(inner))
    if _NAME.fullmatch(inner):
        return ("name", inner)
    raise PathError(f"Invalid path '{text}'")


def _split_top(s):
    out, cur, q = [], "", None
    for c in s:
        if q:
            cur += c
            if c == q:
                q = None
        elif c in "'\"":
            q = c
            cur += c
        elif c == ",":
            out.append(cur)
            cur = ""
        else:
            cur += c
    out.append(cur)
    return out


_FILTER = re.compile(r"^@((?:\.[^\s=<>!]+|\[[^\]]+\])*)\s*(==|!=|<=|>=|<|>)?\s*(.*)$")


def _parse_filter(text, f):
    m = _FILTER.match(f)
    if not m:
        raise PathError(f"Invalid filter in path '{text}'")
    sub, op, lit = m.group(1), m.group(2), m.group(3).strip()
    subpath = parse("$" + sub) if sub else parse("$")
    value = None
    if op:
        if lit[:1] == "'" and lit[-1:] == "'":
            value = lit[1:-1]
        else:
            try:
                value = json.loads(lit)
            except ValueError:
                raise PathError(f"Invalid filter value in path '{text}'")
    return (subpath, op, value)


def _cmp(op, a, b):
    try:
        if op == "==":
            return a == b and type(a) is not bool or (a is b)
        if op == "!=":
            return a != b
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
    except TypeError:
        return False
    return False


def _children(v):
    if isinstance(v, dict):
        return list(v.values())
    if isinstance(v, list):
        return list(v)
    return []


def _recurse(v, name, out):
    if isinstance(v, dict):
        if name is None:
            out.extend(v.values())
        elif name in v:
            out.append(v[name])
        for c in v.values():
            _recurse(c, name, out)
    elif isinstance(v, list):
        if name is None:
            out.extend(v)
        for c in v:
            _recurse(c, name, out)


def _apply(step, nodes):
    kind = step[0]
    out = []
    if kind == "name":
        for v in nodes:
            if isinstance(v, dict) and step[1] in v:
                out.append(v[step[1]])
    elif kind == "names":
        for v in nodes:
            if isinstance(v, dict):
                out.extend(v[k] for k in step[1] if k in v)
    elif kind == "index":
        for v in nodes:
            if isinstance(v, list) and -len(v) <= step[1] < len(v):
                out.append(v[step[1]])
    elif kind == "indices":
        for v in nodes:
            if isinstance(v, list):
                out.extend(v[k] for k in step[1] if -len(v) <= k < len(v))
    elif kind == "slice":
        for v in nodes:
            if isinstance(v, list):
                out.extend(v[step[1]:step[2]:step[3]])
    elif kind == "wild":
        for v in nodes:
            out.extend(_children(v))
    elif kind == "recurse":
        for v in nodes:
            _recurse(v, step[1], out)
    elif kind == "length":
        for v in nodes:
            if isinstance(v, (list, dict, str)):
                out.append(len(v))
    elif kind == "filter":
        sub, op, value = step[1]
        for v in nodes:
            for c in _children(v):
                r = _eval(sub, c)
                if not r:
                    continue
                if op is None or _cmp(op, r[0], value):
                    out.append(c)
    return out


def _eval(p, value):
    nodes = [value]
    for step in p.steps:
        nodes = _apply(step, nodes)
        if not nodes and p.definite:
            return nodes
    return nodes


def get(path, value, context=None, default=_NODEFAULT, variables=None):
    """The value at ``path`` (``$$`` paths read ``context``, ``$name`` paths the variable ``name``); a
    definite path that matches nothing returns ``default`` or raises PathError."""
    p = parse(path) if isinstance(path, str) else path
    if p.root.startswith("var:"):
        name = p.root[4:]
        if not variables or name not in variables:
            if default is not _NODEFAULT:
                return default
            raise PathError(f"Invalid path '{p.text}': the variable '{name}' is not assigned")
        root = variables[name]
    else:
        root = context if p.root == "$$" else value
    if p.definite:
        v = root
        for step in p.steps:
            if step[0] == "name":
                if isinstance(v, dict) and step[1] in v:
                    v = v[step[1]]
                    continue
            elif isinstance(v, list) and -len(v) <= step[1] < len(v):
                v = v[step[1]]
                continue
            if default is not _NODEFAULT:
                return default
            raise PathError(f"Invalid path '{p.text}' : No results for path: {p.text}")
        return v
    return _eval(p, root)


def is_reference(path):
    try:
        return parse(path).definite and parse(path).root == "$"
    except PathError:
        return False


def put(path, target, value):
    """A copy of ``target`` with ``value`` at the reference path (ResultPath)."""
    p = parse(path)
    if not p.definite or p.root != "$":
        raise PathError(f"The ResultPath '{path}' is not a reference path")
    if not p.steps:
        return value
    root = _shallow(target) if isinstance(target, (dict, list)) else target
    if not isinstance(root, dict) and not (isinstance(root, list) and p.steps[0][0] == "index"):
        raise PathError(f"Unable to apply ResultPath \"{path}\" to input {json.dumps(target)}")
    cur = root
    for k, step in enumerate(p.steps):
        last = k == len(p.steps) - 1
        key = step[1]
        if step[0] == "name":
            if not isinstance(cur, dict):
                raise PathError(f"Unable to apply ResultPath \"{path}\" to input {json.dumps(target)}")
            if last:
                cur[key] = value
            else:
                nxt = cur.get(key)
                nxt = _shallow(nxt) if isinstance(nxt, (dict, list)) else ({} if nxt is None else nxt)
                if not isinstance(nxt, (dict, list)):
                    raise PathError(f"Unable to apply ResultPath \"{path}\" to input {json.dumps(target)}")
                cur[key] = nxt
                cur = nxt
        else:
            if not isinstance(cur, list) or not -len(cur) <= key < len(cur):
                raise PathError(f"Unable to apply ResultPath \"{path}\" to input {json.dumps(target)}")
            if last:
                cur[key] = value
            else:
                nxt = _shallow(cur[key]) if isinstance(cur[key], (dict, list)) else cur[key]
                cur[key] = nxt
                cur = nxt
    return root


def _shallow(v):
    return dict(v) if isinstance(v, dict) else list(v)
