"""The 18 States.* intrinsic functions of the Amazon States Language, with their own small parser.

``evaluate(text, input, context, rng)`` parses ``States.Name(arg, ...)`` (arguments: quoted strings with
``\\'``/``\\{``/``\\}``/``\\\\`` escapes, numbers, true/false/null, JSONPaths from ``$`` or ``$$``, and
nested intrinsic calls, at most 10 deep) and runs it.  Failures raise ``IntrinsicError`` (the state then
fails with ``States.IntrinsicFailure``).  ``rng`` supplies randomness (MathRandom, UUID): the caller owns
it, so a replayed transition never draws again.
"""
import base64
import hashlib
import json
import random
import re
import uuid

from . import jsonpath

MAX_DEPTH = 10
MAX_RANGE = 1000
MAX_BASE64 = 10000


class IntrinsicError(Exception):
    pass


_NUM = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FNAME = re.compile(r"States\.[A-Za-z0-9]+")


def looks_intrinsic(text):
    return isinstance(text, str) and text.startswith("States.") and "(" in text


class _Parser:
    def __init__(self, text):
        self.t = text
        self.i = 0

    def ws(self):
        while self.i < len(self.t) and self.t[self.i] in " \t\n\r":
            self.i += 1

    def call(self, depth):
        if depth > MAX_DEPTH:
            raise IntrinsicError("intrinsic functions may be nested at most %d deep" % MAX_DEPTH)
        m = _FNAME.match(self.t, self.i)
        if not m:
            raise IntrinsicError(f"invalid intrinsic function call at position {self.i}: {self.t!r}")
        name = m.group(0)
        if name not in FUNCTIONS:
            raise IntrinsicError(f"unknown intrinsic function {name}")
        self.i = m.end()
        self.ws()
        if self.i >= len(self.t) or self.t[self.i] != "(":
            raise IntrinsicError(f"expected '(' after {name}")
        self.i += 1
        args = []
        self.ws()
        if self.i < len(self.t) and self.t[self.i] == ")":
            self.i += 1
            return ("call", name, args)
        while True:
            self.ws()
            args.append(self.arg(depth))
            self.ws()
            if self.i >= len(self.t):
                raise IntrinsicError(f"unterminated call to {name}")
            c = self.t[self.i]
            self.i += 1
            if c == ")":
                return ("call", name, args)
            if c != ",":
                raise IntrinsicError(f"expected ',' or ')' in {name} at position {self.i - 1}")

    def arg(self, depth):
        t, i = self.t, self.i
        if i >= len(t):
            raise IntrinsicError("missing argument")
        c = t[i]
        if c == "'":
            out = []
            i += 1
            while i < len(t):
                ch = t[i]
                if ch == "\\" and i + 1 < len(t):
                    out.append("\\" + t[i + 1] if t[i + 1] in "{}" else t[i + 1])
                    i += 2
                    continue
                if ch == "'":
                    self.i = i + 1
                    return ("str", "".join(out))
                out.append(ch)
                i += 1
            raise IntrinsicError("unterminated string literal")
        if c == "$":
            depth_b, j = 0, i
            while j < len(t):
                ch = t[j]
                if ch in "[(":
                    depth_b += 1
                elif ch in "])":
                    if depth_b == 0:
                        break
                    depth_b -= 1
                elif ch == "," and depth_b == 0:
                    break
                elif ch == "'" and depth_b > 0:
                    j = t.index("'", j + 1) if "'" in t[j + 1:] else len(t)
                j += 1
            self.i = j
            path = t[i:j].strip()
            try:
                jsonpath.parse(path)
            except jsonpath.PathError as exc:
                raise IntrinsicError(str(exc))
            return ("path", path)
        if t.startswith("States.", i):
            return self.call(depth + 1)
        for word, val in (("true", True), ("false", False), ("null", None)):
            if t.startswith(word, i):
                self.i = i + len(word)
                return ("lit", val)
        m = _NUM.match(t, i)
        if m:
            self.i = m.end()
            s = m.group(0)
            return ("lit", float(s) if any(ch in s for ch in ".eE") else int(s))
        raise IntrinsicError(f"invalid argument at position {i} in {t!r}")


_parsed = {}


def parse(text):
    tree = _parsed.get(text)
    if tree is None:
        p = _Parser(text.strip())
        tree = p.call(1)
        p.ws()
        if p.i != len(p.t):
            raise IntrinsicError(f"unexpected text after the intrinsic call: {p.t[p.i:]!r}")
        if len(_parsed) < 4096:
            _parsed[text] = tree
    return tree


def evaluate(text, value, context, rng=None):
    return _run(parse(text), value, context, rng or random.Random())


def _run(node, value, context, rng):
    kind = node[0]
    if kind == "str":
        return node[1]
    if kind == "lit":
        return node[1]
    if kind == "path":
        try:
            return jsonpath.get(node[1], value, context)
        except jsonpath.PathError as exc:
            raise IntrinsicError(str(exc))
    args = [_run(a, value, context, rng) for a in node[2]]
    fn, arity = FUNCTIONS[node[1]]
    lo, hi = arity
    if len(args) < lo or (hi is not None and len(args) > hi):
        raise IntrinsicError(f"{node[1]} takes {lo if lo == hi else str(lo) + '..' + str(hi or 'n')} arguments, got {len(args)}")
    if fn is _uuid or fn is _math_random:
        return fn(node[1], args, rng)
    return fn(node[1], args)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int_arg(name, v, what):
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool):
        raise IntrinsicError(f"{name}: {what} must be an integer, got {json.dumps(v)}")
    return v


def _str_arg(name, v, what):
    if not isinstance(v, str):
        raise IntrinsicError(f"{name}: {what} must be a string, got {json.dumps(v)}")
    return v


def _arr_arg(name, v, what="the first argument"):
    if not isinstance(v, list):
        raise IntrinsicError(f"{name}: {what} must be an array, got {json.dumps(v)}")
    return v


def dumps(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _format(name, args):
    tmpl = _str_arg(name, args[0], "the template")
    vals = args[1:]
    out, k, i = [], 0, 0
    while i < len(tmpl):
        if tmpl.startswith("\\{", i) or tmpl.startswith("\\}", i):
            out.append(tmpl[i + 1])
            i += 2
            continue
        if tmpl.startswith("{}", i):
            if k >= len(vals):
                raise IntrinsicError(f"{name}: the template has more '{{}}' than arguments")
            v = vals[k]
            k += 1
            if isinstance(v, (dict, list)):
                raise IntrinsicError(f"{name}: arguments must be strings, numbers, booleans or null")
            out.append(v if isinstance(v, str) else dumps(v))
            i += 2
            continue
        out.append(tmpl[i])
        i += 1
    if k != len(vals):
        raise IntrinsicError(f"{name}: {len(vals)} arguments for {k} '{{}}' in the template")
    return "".join(out)


def _string_to_json(name, args):
    s = _str_arg(name, args[0], "the argument")
    try:
        return json.loads(s)
    except ValueError as exc:
        raise IntrinsicError(f"{name}: invalid JSON: {exc}")


def _json_to_string(name, args):
    return dumps(args[0])


def _array(name, args):
    return list(args)


def _array_partition(name, args):
    arr = _arr_arg(name, args[0])
    n = _int_arg(name, args[1], "the chunk size")
    if n <= 0:
        raise IntrinsicError(f"{name}: the chunk size must be positive")
    return [arr[i:i + n] for i in range(0, len(arr), n)]


def _array_contains(name, args):
    arr = _arr_arg(name, args[0])
    return any(v == args[1] and type(v) is type(args[1]) or (_is_num(v) and _is_num(args[1]) and v == args[1])
               for v in arr)


def _array_range(name, args):
    start = _int_arg(name, args[0], "the start")
    end = _int_arg(name, args[1], "the end")
    step = _int_arg(name, args[2], "the step")
    if step == 0:
        raise IntrinsicError(f"{name}: the step must not be 0")
    out = []
    v = start
    while (step > 0 and v <= end) or (step < 0 and v >= end):
        out.append(v)
        if len(out) > MAX_RANGE:
            raise IntrinsicError(f"{name}: the range has more than {MAX_RANGE} items")
        v += step
    return out


def _array_get_item(name, args):
    arr = _arr_arg(name, args[0])
    i = _int_arg(name, args[1], "the index")
    if not 0 <= i < len(arr):
        raise IntrinsicError(f"{name}: index {i} out of bounds for an array of {len(arr)}")
    return arr[i]


def _array_length(name, args):
    return len(_arr_arg(name, args[0]))


def _array_unique(name, args):
    arr = _arr_arg(name, args[0])
    seen, out = set(), []
    for v in arr:
        key = dumps([type(v).__name__ if not _is_num(v) else "n", v])
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _b64enc(name, args):
    s = _str_arg(name, args[0], "the argument")
    if len(s) > MAX_BASE64:
        raise IntrinsicError(f"{name}: the input is longer than {MAX_BASE64} characters")
    return base64.b64encode(s.encode()).decode()


def _b64dec(name, args):
    s = _str_arg(name, args[0], "the argument")
    if len(s) > MAX_BASE64:
        raise IntrinsicError(f"{name}: the input is longer than {MAX_BASE64} characters")
    try:
        return base64.b64decode(s.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntrinsicError(f"{name}: invalid base64: {exc}")


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def _hash(name, args):
    data = args[0]
    if data is None:
        raise IntrinsicError(f"{name}: the data must not be null")
    alg = _str_arg(name, args[1], "the algorithm")
    if alg not in _HASHES:
        raise IntrinsicError(f"{name}: unsupported algorithm {alg} (MD5, SHA-1, SHA-256, SHA-384, SHA-512)")
    s = data if isinstance(data, str) else dumps(data)
    return hashlib.new(_HASHES[alg], s.encode()).hexdigest()


def _json_merge(name, args):
    a, b, deep = args
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise IntrinsicError(f"{name}: both arguments must be objects")
    if deep is not False:
        raise IntrinsicError(f"{name}: only shallow merges (false) are supported")
    out = dict(a)
    out.update(b)
    return out


def _math_random(name, args, rng):
    start = _int_arg(name, args[0], "the start")
    end = _int_arg(name, args[1], "the end")
    if end <= start:
        raise IntrinsicError(f"{name}: the end must be greater than the start")
    if len(args) == 3:
        return random.Random(_int_arg(name, args[2], "the seed")).randrange(start, end)
    return rng.randrange(start, end)


def _math_add(name, args):
    a = _int_arg(name, args[0], "the first argument")
    b = _int_arg(name, args[1], "the second argument")
    return a + b


def _string_split(name, args):
    s = _str_arg(name, args[0], "the string")
    d = _str_arg(name, args[1], "the delimiters")
    if not d:
        return [s]
    parts = re.split("[" + re.escape(d) + "]", s)
    return [p for p in parts if p != ""]


def _uuid(name, args, rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


FUNCTIONS = {
    "States.Format": (_format, (1, None)),
    "States.StringToJson": (_string_to_json, (1, 1)),
    "States.JsonToString": (_json_to_string, (1, 1)),
    "States.Array": (_array, (0, None)),
    "States.ArrayPartition": (_array_partition, (2, 2)),
    "States.ArrayContains": (_array_contains, (2, 2)),
    "States.ArrayRange": (_array_range, (3, 3)),
    "States.ArrayGetItem": (_array_get_item, (2, 2)),
    "States.ArrayLength": (_array_length, (1, 1)),
    "States.ArrayUnique": (_array_unique, (1, 1)),
    "States.Base64Encode": (_b64enc, (1, 1)),
    "States.Base64Decode": (_b64dec, (1, 1)),
    "States.Hash": (_hash, (2, 2)),
    "States.JsonMerge": (_json_merge, (3, 3)),
    "States.MathRandom": (_math_random, (2, 3)),
    "States.MathAdd": (_math_add, (2, 2)),
    "States.StringSplit": (_string_split, (2, 2)),
    "States.UUID": (_uuid, (0, 0)),
}
