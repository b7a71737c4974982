"""Shared helpers of the QUEUE.* and TOPIC.* families: AWS-named errors, reply encoding, declarations,
effects, and the primary's wake-up timers for long polls."""
import asyncio
import json
import re

from engine import blocking
from engine.core import WRONGTYPE, now_ms as wall_ms
from engine.registry import command

KEY_SPEC_RW = [{"flags": ["RW", "update"], "begin_search": {"type": "index", "spec": {"index": 1}},
                "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}]
KEY_SPEC_RO = [{"flags": ["RO", "access"], "begin_search": {"type": "index", "spec": {"index": 1}},
                "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}]


class AwsError(Exception):
    """An AWS error name and message; replied as ``-Name message``."""

    def __init__(self, name, message, sender=True):
        super().__init__(message)
        self.name = name
        self.message = message
        self.sender = sender

    def text(self):
        return ("%s %s" % (self.name, self.message)).encode()

    as_resp_error = text          # engine/reply.py add_value: an AwsError inside a reply is an error entry


def fail(c, err):
    c.error(err.text())


def invalid(message):
    return AwsError("InvalidParameterValue", message)


def declare(name, arity, flags, summary, args=(), readonly=False, internal=False, complexity="O(1)",
            acl="keyspace"):
    """@command for a service command: module group docs, one key at argv[1] (none for arity-1 LIST)."""
    if internal:
        flags = flags + " internal"
    docs = {"summary": summary, "since": "1.0.0", "group": "module", "complexity": complexity,
            "arguments": [dict(a) for a in args]}
    if internal:
        return command(name, arity, flags, acl=acl, keys=(1, 1, 1), key_specs=KEY_SPEC_RW)
    if not args or args[0].get("type") != "key":
        return command(name, arity, flags, acl=acl, docs=docs)
    return command(name, arity, flags, acl=acl, keys=(1, 1, 1),
                   key_specs=KEY_SPEC_RO if readonly else KEY_SPEC_RW, docs=docs)


def key_arg(name="key"):
    return {"name": name, "type": "key", "key_spec_index": 0}


def tok(token, typ="string", name=None, optional=True, multiple=False):
    a = {"name": name or token.lower(), "type": typ, "token": token}
    if optional:
        a["flags"] = ["optional"] + (["multiple"] if multiple else [])
    return a


# ------------------------------------------------------------------------------------------------ replies


def empty_array(r):
    r.add_array_len(0)


# ------------------------------------------------------------------------------------------------ lookups
def lookup(c, key, cls, write, missing_error):
    """The value of type cls at key, None after replying (missing -> missing_error, other type ->
    WRONGTYPE)."""
    e = c.db.lookup_write(key) if write else c.db.lookup_read(key)
    if e is None:
        if missing_error is not None:
            fail(c, missing_error)
        return None
    v = e.value
    if not isinstance(v, cls):
        c.error(WRONGTYPE)
        return None
    return v


def find_value(c, key, cls):
    """The value of type cls at key or None, without replying."""
    e = c.db.lookup_write(key)
    if e is None or not isinstance(e.value, cls):
        return None
    return e.value


INT_RE = re.compile(rb"-?\d{1,18}\Z")


def parse_int(arg, param, lo, hi, reason=None):
    if not INT_RE.match(arg):
        raise invalid("Value %s for parameter %s is invalid. Reason: Must be an integer." %
                      (arg.decode("utf-8", "replace"), param))
    v = int(arg)
    if v < lo or v > hi:
        raise invalid("Value %d for parameter %s is invalid. Reason: %s" %
                      (v, param, reason or "Must be >= %d and <= %d, if provided." % (lo, hi)))
    return v


def emit_effects(c, effects):
    """Propagate effects as the command's whole effect, in MULTI/EXEC when several keys are touched
    outside an existing unit (a crash between them must not half-apply a DLQ move or a fan-out)."""
    if not effects:
        return
    keys = {e[1] for e in effects}
    if len(effects) > 1 and len(keys) > 1 and c.ks.effects.unit_depth == 0:
        effects = [[b"MULTI"]] + effects + [[b"EXEC"]]
    c.propagate_as(effects[0])
    for e in effects[1:]:
        c.also_propagate(e)


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


# ------------------------------------------------------------------------------------------------ timers
class _DbRef:
    __slots__ = ("db",)

    def __init__(self, dbid):
        self.db = type("D", (), {"id": dbid})()


class Waker:
    """The primary's timers that wake long polls when a message becomes visible (delay or visibility
    expiry). One pending timer per (db, key), at the earliest due time asked for; never replicated."""

    def __init__(self, server):
        self.server = server
        self.timers = {}              # (dbid, key) -> (due_ms, TimerHandle)

    def schedule(self, dbid, key, due_ms):
        slot = (dbid, key)
        cur = self.timers.get(slot)
        if cur is not None and cur[0] <= due_ms:
            return
        if cur is not None:
            cur[1].cancel()
        loop = getattr(self.server, "loop", None)
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
        delay = max(0.0, (due_ms - wall_ms()) / 1000.0) + 0.0005
        self.timers[slot] = (due_ms, loop.call_later(delay, self._fire, slot, due_ms))

    def _fire(self, slot, due_ms):
        cur = self.timers.get(slot)
        if cur is None or cur[0] != due_ms:
            return
        del self.timers[slot]
        if wall_ms() < due_ms:
            self.schedule(slot[0], slot[1], due_ms)
            return
        self.server.signal_key_ready(_DbRef(slot[0]), slot[1])


def waker(c):
    server = c.server
    if server is None or c.ks.is_replica:
        return None
    w = server.extensions.get("queue-waker")
    if w is None:
        w = server.extensions["queue-waker"] = Waker(server)
    return w


def wake_at(c, key, due_ms):
    w = waker(c)
    if w is not None and due_ms is not None:
        w.schedule(c.db.id, key, due_ms)


def signal(c, key):
    blocking.signal_key_ready(c, key)
