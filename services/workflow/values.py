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


def graph(definition):
    """{"nodes": [{"id", "type"}], "edges": [[from, to]]} of a definition's top-level states."""
    states = definition.get("States", {}) if isinstance(definition, dict) else {}
    nodes, edges = [], []
    for name, st in states.items():
        if not isinstance(st, dict):
            continue
        nodes.append({"id": name, "type": st.get("Type")})
        targets = [st.get("Next"), st.get("Default")]
        targets += [c.get("Next") for c in st.get("Choices", []) if isinstance(c, dict)]
        targets += [c.get("Next") for c in st.get("Catch", []) if isinstance(c, dict)]
        for t in targets:
            if isinstance(t, str) and [name, t] not in edges:
                edges.append([name, t])
    return {"nodes": nodes, "edges": edges}


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

    # /metrics and the dashboard (services/base.py): executions started and ended, by status
    metric_families = {"workflow_executions_total": ("counter", "Executions of a state machine by status "
                                                     "(RUNNING counts starts; the others, ends)")}

    def count(self, status):
        counts = self.sm.setdefault("counts", {})
        counts[status] = counts.get(status, 0) + 1

    def metric_samples(self, key):
        return [("workflow_executions_total", {"state_machine": key, "status": st}, n)
                for st, n in sorted(self.sm.get("counts", {}).items())]

    def dashboard_summary(self):
        return {"name": self.sm["name"], "type": self.sm["type"], "revision": self.sm["revision"],
                "executions": len(self.sm.get("execs", ())), "counts": dict(self.sm.get("counts", {}))}

    def dashboard_detail(self):
        d = self.dashboard_summary()
        d.update(graph(self.definition))
        return d


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

    def dashboard_summary(self):
        ex = self.ex
        return {"name": ex["name"], "stateMachine": ex["smName"], "status": ex["status"], "events": len(ex["history"]),
                "startDate": ex["start"], "stopDate": ex["stop"]}

    def dashboard_detail(self):
        """The execution graph: each top-level state with the status its history gives it."""
        d = self.dashboard_summary()
        g = graph(self.ex["def"])
        status = {}
        for e in self.ex["history"]:
            t = e["type"]
            if t.endswith("StateEntered"):
                status[e["stateEnteredEventDetails"]["name"]] = "failed" if t == "FailStateEntered" else "running"
            elif t.endswith("StateExited"):
                status[e["stateExitedEventDetails"]["name"]] = "succeeded"
        if self.ex["status"] in ("FAILED", "TIMED_OUT", "ABORTED"):
            for k, v in status.items():
                if v == "running":
                    status[k] = "failed"
        for n in g["nodes"]:
            n["status"] = status.get(n["id"], "pending")
        d.update(g)
        return d

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
