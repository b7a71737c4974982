"""The workflow service's keyspace values: state machines, executions and activities (ServiceValue)."""
import json

from services.base import ServiceValue

LOAD_GEN = [0]          # bumped whenever an execution is loaded (RDB, RESTORE, DEBUG RELOAD): rebuild timers


def _dumps(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()


def _loads(data):
    try:
        v = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"bad workflow value: {exc}")
    if not isinstance(v, dict):
        raise ValueError("bad workflow value")
    return v


class StateMachineValue(ServiceValue):
    type_name = b"statemachine"
    rdb_module_name = "cm-wf-sm-"

    def __init__(self, sm):
        self.sm = sm                  # {name, arn, definition (text), type, created, revision, execs: [names]}
        self._parsed = None

    @property
    def definition(self):
        if self._parsed is None:
            self._parsed = json.loads(self.sm["definition"])
        return self._parsed

    def set_definition(self, text):
        self.sm["definition"] = text
        self._parsed = None

    def dump_state(self):
        return _dumps(self.sm)

    @classmethod
    def load_state(cls, data, encoding_version):
        sm = _loads(data)
        if "definition" not in sm or "arn" not in sm:
            raise ValueError("bad state machine value")
        sm.setdefault("execs", [])
        return cls(sm)

    def memory_usage(self):
        return 200 + len(self.sm["definition"]) + 48 * len(self.sm.get("execs", ()))


class ExecutionValue(ServiceValue):
    type_name = b"execution"
    rdb_module_name = "cm-wf-ex-"

    def __init__(self, ex):
        self.ex = ex

    def dump_state(self):
        return _dumps(self.ex)

    @classmethod
    def load_state(cls, data, encoding_version):
        ex = _loads(data)
        for k in ("arn", "def", "history", "rt", "status"):
            if k not in ex:
                raise ValueError("bad execution value")
        LOAD_GEN[0] += 1
        return cls(ex)

    def memory_usage(self):
        ex = self.ex
        return 2400 + 300 * len(ex["history"]) + 300 * len(ex["rt"]["frames"])    # ~RSS per execution (bench)


class ActivityValue(ServiceValue):
    type_name = b"activity"
    rdb_module_name = "cm-wf-act"

    def __init__(self, act):
        self.act = act                # {name, arn, created, queue: [[exec key, token], ...]}

    def dump_state(self):
        return _dumps(self.act)

    @classmethod
    def load_state(cls, data, encoding_version):
        act = _loads(data)
        act.setdefault("queue", [])
        return cls(act)

    def memory_usage(self):
        return 150 + 120 * len(self.act["queue"])
