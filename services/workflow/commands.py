"""WF.* commands: the workflow service (Amazon States Language executions kept in the keyspace).

Keys: a state machine (TYPE ``statemachine``), its executions ``{sm}:name`` (TYPE ``execution``, the hash
tag keeps them in the state machine's slot) and activities (TYPE ``activity``).  Every write that changes
an execution is propagated as one ``WF._APPLY key patch`` effect carrying the resolved transition
(events with their ids and timestamps, the new runtime snapshot, random draws); AOF replay and replicas
apply it without evaluating ASL or reading the clock.
"""
import json
import uuid

from engine.core import WRONGTYPE, SYNTAX_ERR
from engine.registry import command
from engine.reply import add_value
from engine.blocking import block, signal_key_ready

from .asl import StatesError, advance, apply_patch, next_due, pending_tasks, validate
from .asl.runtime import TERMINAL, new_execution
from .manager import key_of_token, now_ms, workflow_of
from .values import ActivityValue, ExecutionValue, StateMachineValue

ACCOUNT = "000000000000"
REGION = "us-east-1"
MAX_INPUT = 262144
RESUME = b"\x00resume"


def _k1(ro=False):
    return [{"flags": ["RO", "access"] if ro else ["RW", "update"], "begin_search": {"type": "index", "spec": {"index": 1}},
             "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}]


def _docs(summary, args, since="0.1.0"):
    return {"summary": summary, "since": since, "group": "module", "complexity": "O(1)", "arguments": args}


KEY_ARG = {"name": "key", "type": "key", "key_spec_index": 0}


def dumps(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def sm_arn(name):
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def exec_arn(sm, name):
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{sm}:{name}"


def exec_key(smkey, name):
    return b"{" + smkey + b"}:" + name


def exec_sm_key(key):
    """The state machine key of an execution key {sm}:name."""
    return key[1:key.rfind(b"}:")] if key.startswith(b"{") else b""


def get_typed(c, key, cls, write=False):
    """(ok, value): value None when missing; ok False after WRONGTYPE."""
    e = c.db.lookup_write(key) if write else c.db.lookup_read(key)
    if e is None:
        return True, None
    if not isinstance(e.value, cls):
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def parse_opts(c, argv, start, spec):
    """Options NAME value / FLAG from argv[start:] per spec {NAME: takes_value}; None after an error."""
    out = {}
    i = start
    while i < len(argv):
        name = argv[i].upper()
        if name not in spec:
            c.error(SYNTAX_ERR)
            return None
        if spec[name]:
            if i + 1 >= len(argv):
                c.error(SYNTAX_ERR)
                return None
            out[name] = argv[i + 1]
            i += 2
        else:
            out[name] = True
            i += 1
    return out


def parse_json(c, data, code=b"INVALIDEXECUTIONINPUT Invalid execution input"):
    if len(data) > MAX_INPUT:
        c.error(code + b": larger than 262144 bytes")
        return False, None
    try:
        return True, json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        c.error(code + b": " + str(exc).encode())
        return False, None


def _express_problems(m, loc=""):
    """Express workflows allow no activities, .sync or .waitForTaskToken (AWS; LocalStack ExpressStaticAnalyser)."""
    out = []
    for name, st in (m.get("States") or {}).items():
        if not isinstance(st, dict):
            continue
        sloc = f"{loc}/States/{name}"
        res = st.get("Resource", "")
        if st.get("Type") == "Task" and isinstance(res, str) and (
                ":activity:" in res or res.endswith(".waitForTaskToken") or ".sync" in res):
            out.append({"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "location": sloc + "/Resource",
                        "message": "Express state machines do not support activities, .sync or .waitForTaskToken"})
        for i, b in enumerate(st.get("Branches") or []):
            if isinstance(b, dict):
                out += _express_problems(b, f"{sloc}/Branches/{i}")
        proc = st.get("ItemProcessor") or st.get("Iterator")
        if isinstance(proc, dict):
            out += _express_problems(proc, f"{sloc}/ItemProcessor")
    return out


def check_definition(c, text, typ="STANDARD"):
    diags = validate(text)
    if not diags and typ == "EXPRESS":
        diags = _express_problems(json.loads(text))
    if diags:
        d = diags[0]
        c.error(("INVALIDDEFINITION Invalid State Machine Definition: '%s: %s at %s'"
                 % (d["code"], d["message"], d["location"])).encode())
        return None
    return json.loads(text)


# ------------------------------------------------------------------ patches and their application
def unstarted_activity_tokens(ex_rt_frames):
    out = {}
    for f in ex_rt_frames.values():
        w = f.get("wait")
        if w and w.get("k") == "task" and w.get("act") and not w.get("started"):
            out[w["token"]] = w["act"]
    return out


def build_msg(ex, patch, new=None, sm=None):
    """The WF._APPLY payload (a dict): the patch plus the activity-queue changes it implies."""
    before = unstarted_activity_tokens(ex["rt"]["frames"]) if new is None else {}
    after = unstarted_activity_tokens(patch.get("rt", ex["rt"])["frames"])
    acts = [["push", a, t] for t, a in after.items() if t not in before]
    acts += [["remove", a, t] for t, a in before.items() if t not in after]
    msg = {"op": "new" if new is not None else "patch", "patch": patch}
    if new is not None:
        msg["ex"] = new
        msg["sm"] = sm.decode("latin-1")
    if acts:
        msg["acts"] = acts
    return msg


def encode_msg(msg):
    return dumps(msg).encode()


def apply_msg(c, key, msg):
    """Apply a WF._APPLY payload to the keyspace (deterministic; the same on the primary, AOF, replicas)."""
    if msg["op"] == "new":
        ex = msg["ex"]
        value = ExecutionValue(ex)
        c.db.set_value(key, value)
        sm = c.db.find(msg["sm"].encode("latin-1"))
        if sm is not None and isinstance(sm.value, StateMachineValue):
            sm.value.sm["execs"].append(ex["name"])
            sm.value.count("RUNNING")
    else:
        e = c.db.lookup_write(key)
        if e is None or not isinstance(e.value, ExecutionValue):
            return False
        ex = e.value.ex
    was = ex["status"]
    apply_patch(ex, msg["patch"])
    if ex["status"] != was:
        sm = c.db.find(exec_sm_key(key))
        if sm is not None and isinstance(sm.value, StateMachineValue):
            sm.value.count(ex["status"])
    e = c.db.find(key)
    c.db.account(key, e)                  # the execution key is not the command's key: account it here
    for op, act, token in msg.get("acts", ()):
        a = c.db.find(act.encode())
        if a is None or not isinstance(a.value, ActivityValue):
            continue
        q = a.value.act["queue"]
        if op == "push":
            q.append([key.decode("latin-1"), token])
            signal_key_ready(c, act.encode())
        else:
            a.value.act["queue"] = [x for x in q if x[1] != token]
    c.dirty += 1
    if c.server is not None:
        wf = workflow_of(c.server)
        wf.schedule(c.db.id, key, next_due(ex))
    if ex["status"] in TERMINAL:
        signal_key_ready(c, key)
    return True


def commit(c, key, ex, patch, new=None, sm=None):
    """Apply a patch computed on the primary and propagate it as WF._APPLY (encoded only when the effect
    stream has a consumer: AOF or a replica)."""
    msg = build_msg(ex, patch, new, sm)
    if c.ks.effects.subscribers:
        c.also_propagate([b"WF._APPLY", key, encode_msg(msg)])
    else:
        c.prevent_propagation()
    apply_msg(c, key, msg)


def env_for(c, key):
    return workflow_of(c.server).env(c.db, key)


@command("wf._apply", 3, "write internal", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Applies a resolved workflow transition (effect only; refused from normal clients)",
                    [KEY_ARG, {"name": "patch", "type": "string"}]))
def wf_apply_command(c, argv):
    try:
        msg = json.loads(argv[2])
    except ValueError:
        c.error(b"ERR bad WF._APPLY payload")
        return
    apply_msg(c, argv[1], msg)
    c.reply.add_ok()


# ------------------------------------------------------------------ state machines
@command("wf.create", -3, "write denyoom", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Creates a state machine from an Amazon States Language definition",
                    [KEY_ARG, {"name": "definition", "type": "string"},
                     {"name": "type", "type": "oneof", "token": "TYPE", "flags": ["optional"],
                      "arguments": [{"name": "standard", "type": "pure-token", "token": "STANDARD"},
                                    {"name": "express", "type": "pure-token", "token": "EXPRESS"}]}]))
def wf_create_command(c, argv):
    opts = parse_opts(c, argv, 3, {b"TYPE": True})
    if opts is None:
        return
    typ = opts.get(b"TYPE", b"STANDARD").upper()
    if typ not in (b"STANDARD", b"EXPRESS"):
        c.error(SYNTAX_ERR)
        return
    ok, sm = get_typed(c, argv[1], StateMachineValue, write=True)
    if not ok:
        return
    try:
        text = argv[2].decode()
    except UnicodeDecodeError:
        c.error(b"INVALIDDEFINITION Invalid State Machine Definition: not UTF-8")
        return
    if sm is not None:
        if sm.sm["definition"] == text and sm.sm["type"] == typ.decode():
            add_value(c.reply, {"stateMachineArn": sm.sm["arn"], "creationDate": sm.sm["created"]})
            return
        c.error(b"STATEMACHINEALREADYEXISTS State Machine Already Exists: '" + sm.sm["arn"].encode() + b"'")
        return
    if check_definition(c, text, typ.decode()) is None:
        return
    name = argv[1].decode("latin-1")
    value = StateMachineValue({"name": name, "arn": sm_arn(name), "definition": text, "type": typ.decode(),
                               "created": c.ks.now_ms, "revision": 1, "execs": []})
    c.db.set_value(argv[1], value)
    c.dirty += 1
    c.propagate_as([b"WF._RESTORESM", argv[1], value.dump_state()])
    add_value(c.reply, {"stateMachineArn": value.sm["arn"], "creationDate": value.sm["created"]})


@command("wf._restoresm", 3, "write internal", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Sets a state machine key (effect only)", [KEY_ARG, {"name": "state", "type": "string"}]))
def wf_restoresm_command(c, argv):
    try:
        value = StateMachineValue.load_state(argv[2], 0)
    except ValueError:
        c.error(b"ERR bad state machine payload")
        return
    old = c.db.find(argv[1])
    if old is not None and isinstance(old.value, StateMachineValue):
        value.sm["execs"] = old.value.sm["execs"]
    c.db.set_value(argv[1], value)
    c.dirty += 1
    c.reply.add_ok()


@command("wf.update", 3, "write denyoom", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Replaces a state machine's definition (running executions keep theirs)",
                    [KEY_ARG, {"name": "definition", "type": "string"}]))
def wf_update_command(c, argv):
    ok, sm = get_typed(c, argv[1], StateMachineValue, write=True)
    if not ok:
        return
    if sm is None:
        c.error(b"STATEMACHINEDOESNOTEXIST State Machine Does Not Exist")
        return
    try:
        text = argv[2].decode()
    except UnicodeDecodeError:
        c.error(b"INVALIDDEFINITION Invalid State Machine Definition: not UTF-8")
        return
    if check_definition(c, text, sm.sm["type"]) is None:
        return
    sm.set_definition(text)
    sm.sm["revision"] += 1
    sm.sm["updated"] = c.ks.now_ms
    c.dirty += 1
    c.propagate_as([b"WF._RESTORESM", argv[1], sm.dump_state()])
    add_value(c.reply, {"updateDate": c.ks.now_ms, "revisionId": str(sm.sm["revision"])})


@command("wf.describe", 2, "readonly", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(True),
         docs=_docs("Describes a state machine", [KEY_ARG]))
def wf_describe_command(c, argv):
    ok, sm = get_typed(c, argv[1], StateMachineValue)
    if not ok:
        return
    if sm is None:
        c.error(b"STATEMACHINEDOESNOTEXIST State Machine Does Not Exist")
        return
    s = sm.sm
    add_value(c.reply, {"stateMachineArn": s["arn"], "name": s["name"], "status": "ACTIVE",
                        "definition": s["definition"], "type": s["type"], "creationDate": s["created"],
                        "revisionId": str(s["revision"]), "executions": len(s["execs"])})


@command("wf.validate", -2, "readonly fast", acl="keyspace",
         docs=_docs("Validates an Amazon States Language definition (statelint-style diagnostics)",
                    [{"name": "definition", "type": "string"}]))
def wf_validate_command(c, argv):
    diags = validate(argv[1])
    add_value(c.reply, {"result": "FAIL" if diags else "OK", "diagnostics": diags})


# ------------------------------------------------------------------ executions
@command("wf.start", -2, "write denyoom", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Starts an execution (idempotent by NAME)",
                    [KEY_ARG, {"name": "name", "type": "string", "token": "NAME", "flags": ["optional"]},
                     {"name": "input", "type": "string", "token": "INPUT", "flags": ["optional"]},
                     {"name": "testcase", "type": "string", "token": "TESTCASE", "flags": ["optional"]}]))
def wf_start_command(c, argv):
    start_execution(c, argv, sync=False)


def start_execution(c, argv, sync):
    spec = {b"NAME": True, b"INPUT": True, b"TESTCASE": True}
    if sync:
        spec = {b"INPUT": True, b"TIMEOUT": True, b"TESTCASE": True, b"NAME": True}
    opts = parse_opts(c, argv, 2, spec)
    if opts is None:
        return None
    ok, sm = get_typed(c, argv[1], StateMachineValue, write=True)
    if not ok:
        return None
    if sm is None:
        c.error(b"STATEMACHINEDOESNOTEXIST State Machine Does Not Exist")
        return None
    wf = workflow_of(c.server)
    raw = opts.get(b"INPUT", b"{}")
    ok, input_value = parse_json(c, raw)
    if not ok:
        return None
    name = opts.get(b"NAME")
    if name is None:
        name = str(uuid.UUID(int=wf.rng.getrandbits(128), version=4)).encode()
    elif not 1 <= len(name) <= 80 or any(ch in name for ch in b' <>{}[]?*"#%\\^|~`$&,;:/'):
        c.error(b"INVALIDNAME Invalid Name: '" + name + b"'")
        return None
    key = exec_key(argv[1], name)
    e = c.db.lookup_write(key)
    if e is not None:
        if isinstance(e.value, ExecutionValue) and e.value.ex["input"] == input_value \
                and e.value.ex["status"] == "RUNNING" and not sync:
            add_value(c.reply, {"executionArn": e.value.ex["arn"], "exec": key, "startDate": e.value.ex["start"]})
            return key
        c.error(b"EXECUTIONALREADYEXISTS Execution Already Exists: '" +
                exec_arn(sm.sm["name"], name.decode("latin-1")).encode() + b"'")
        return None
    mocks = {}
    tc = opts.get(b"TESTCASE")
    if tc is not None:
        cfg = wf.mock_config
        cases = cfg.get("StateMachines", {}).get(sm.sm["name"], {}).get("TestCases", {})
        case = cases.get(tc.decode())
        if case is None:
            c.error(b"ERR no test case '" + tc + b"' for this state machine in the mock config")
            return None
        for state, resp_name in case.items():
            resp = cfg.get("MockedResponses", {}).get(resp_name)
            if resp is None:
                c.error(b"ERR the mock config names an unknown mocked response '" + resp_name.encode() + b"'")
                return None
            mocks[state] = resp
    nm = name.decode("latin-1")
    ex = new_execution(sm.definition, input_value, arn=exec_arn(sm.sm["name"], nm), name=nm, sm_arn=sm.sm["arn"],
                       sm_name=sm.sm["name"], now_ms=c.ks.now_ms, mocks=mocks, sm_type=sm.sm["type"])
    env = env_for(c, key)
    env.now = c.ks.now_ms
    patch = advance(ex, ("start",), env)
    commit(c, key, ex, patch, new=ex, sm=argv[1])
    if not sync:
        got = c.db.find(key).value.ex
        add_value(c.reply, {"executionArn": got["arn"], "exec": key, "startDate": got["start"]})
    return key


def describe(ex, key=None):
    d = {"executionArn": ex["arn"], "stateMachineArn": ex["sm"], "name": ex["name"], "status": ex["status"],
         "startDate": ex["start"], "stopDate": ex["stop"], "input": dumps(ex["input"]),
         "output": dumps(ex["output"]) if ex["status"] == "SUCCEEDED" else None,
         "error": ex["error"], "cause": ex["cause"]}
    if key is not None:
        d["exec"] = key
    if ex["status"] == "RUNNING":
        d["pendingTasks"] = [{k: (dumps(v) if k == "input" else v) for k, v in t.items()} for t in pending_tasks(ex)]
    return d


def sync_reply(c, ex):
    d = {"executionArn": ex["arn"], "status": ex["status"], "startDate": ex["start"], "stopDate": ex["stop"]}
    if ex["status"] == "SUCCEEDED":
        d["output"] = dumps(ex["output"])
    else:
        d["error"] = ex["error"]
        d["cause"] = ex["cause"]
    add_value(c.reply, d)


def _terminal(db, key):
    e = db.find(key)
    return e is not None and isinstance(e.value, ExecutionValue) and e.value.ex["status"] in TERMINAL


@command("wf.startsync", -2, "write denyoom blocking", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Starts an execution and replies with its result when it ends (blocks the client)",
                    [KEY_ARG, {"name": "input", "type": "string", "token": "INPUT", "flags": ["optional"]},
                     {"name": "timeout", "type": "integer", "token": "TIMEOUT", "flags": ["optional"]}]))
def wf_startsync_command(c, argv):
    if len(argv) >= 2 and argv[-2] == RESUME:           # re-run of a blocked STARTSYNC: the result is there
        e = c.db.find(argv[-1])
        if e is not None and isinstance(e.value, ExecutionValue) and e.value.ex["status"] in TERMINAL:
            sync_reply(c, e.value.ex)
        else:
            block(c, [argv[-1]], 0, argv)
        return
    timeout = 300000
    for i in range(2, len(argv) - 1):
        if argv[i].upper() == b"TIMEOUT":
            try:
                timeout = int(argv[i + 1])
            except ValueError:
                c.error(b"ERR value is not an integer or out of range")
                return
            if timeout < 0:
                c.error(b"ERR timeout is negative")
                return
    key = start_execution(c, argv, sync=True)
    if key is None:
        return
    ex = c.db.find(key).value.ex
    if ex["status"] in TERMINAL or c.deny_blocking:
        sync_reply(c, ex)
        return
    block(c, [key], timeout, list(argv) + [RESUME, key], value_type=b"execution", ready_check=_terminal)


def exec_for(c, key, write=False):
    ok, v = get_typed(c, key, ExecutionValue, write)
    if not ok:
        return None
    if v is None:
        c.error(b"EXECUTIONDOESNOTEXIST Execution Does Not Exist: '" + key + b"'")
        return None
    return v.ex


@command("wf.exec", 2, "readonly", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(True),
         docs=_docs("Describes an execution (DescribeExecution)", [KEY_ARG]))
def wf_exec_command(c, argv):
    ex = exec_for(c, argv[1])
    if ex is not None:
        add_value(c.reply, describe(ex))


@command("wf.stop", -2, "write", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Stops a running execution",
                    [KEY_ARG, {"name": "error", "type": "string", "token": "ERROR", "flags": ["optional"]},
                     {"name": "cause", "type": "string", "token": "CAUSE", "flags": ["optional"]}]))
def wf_stop_command(c, argv):
    opts = parse_opts(c, argv, 2, {b"ERROR": True, b"CAUSE": True})
    if opts is None:
        return
    ex = exec_for(c, argv[1], True)
    if ex is None:
        return
    if ex["status"] == "RUNNING":
        err = opts.get(b"ERROR")
        cause = opts.get(b"CAUSE")
        patch = advance(ex, ("stop", err.decode() if err else None, cause.decode() if cause else None),
                        env_for(c, argv[1]))
        commit(c, argv[1], ex, patch)
    add_value(c.reply, {"stopDate": ex["stop"]})


@command("wf.executions", -2, "readonly", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(True),
         docs=_docs("Lists a state machine's executions",
                    [KEY_ARG, {"name": "status", "type": "string", "token": "STATUS", "flags": ["optional"]},
                     {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]}]))
def wf_executions_command(c, argv):
    opts = parse_opts(c, argv, 2, {b"STATUS": True, b"COUNT": True})
    if opts is None:
        return
    ok, sm = get_typed(c, argv[1], StateMachineValue)
    if not ok:
        return
    if sm is None:
        c.error(b"STATEMACHINEDOESNOTEXIST State Machine Does Not Exist")
        return
    want = opts.get(b"STATUS")
    try:
        count = int(opts.get(b"COUNT", b"1000"))
    except ValueError:
        c.error(b"ERR value is not an integer or out of range")
        return
    out = []
    for name in reversed(sm.sm["execs"]):
        key = exec_key(argv[1], name.encode("latin-1"))
        e = c.db.find(key)
        if e is None or not isinstance(e.value, ExecutionValue):
            continue
        ex = e.value.ex
        if want is not None and ex["status"] != want.decode().upper():
            continue
        out.append({"executionArn": ex["arn"], "exec": key, "name": ex["name"], "status": ex["status"],
                    "startDate": ex["start"], "stopDate": ex["stop"]})
        if len(out) >= count:
            break
    add_value(c.reply, out)


@command("wf.history", -2, "readonly", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(True),
         docs=_docs("An execution's history events (GetExecutionHistory shapes)",
                    [KEY_ARG, {"name": "from", "type": "integer", "token": "FROM", "flags": ["optional"]},
                     {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
                     {"name": "reverse", "type": "pure-token", "token": "REVERSE", "flags": ["optional"]},
                     {"name": "nodata", "type": "pure-token", "token": "NODATA", "flags": ["optional"]}]))
def wf_history_command(c, argv):
    opts = parse_opts(c, argv, 2, {b"FROM": True, b"COUNT": True, b"REVERSE": False, b"NODATA": False})
    if opts is None:
        return
    try:
        start = int(opts.get(b"FROM", b"0"))
        count = int(opts.get(b"COUNT", b"1000"))
    except ValueError:
        c.error(b"ERR value is not an integer or out of range")
        return
    ex = exec_for(c, argv[1])
    if ex is None:
        return
    events = ex["history"][::-1] if b"REVERSE" in opts else ex["history"]
    if start:
        events = [e for e in events if (e["id"] < start if b"REVERSE" in opts else e["id"] > start)]
    events = events[:max(0, count)]
    if b"NODATA" in opts:
        events = [{k: ({kk: vv for kk, vv in v.items() if kk not in ("input", "output")} if isinstance(v, dict) else v)
                   for k, v in e.items()} for e in events]
    add_value(c.reply, events)


# ------------------------------------------------------------------ activities and tasks
def act_key(name):
    return name


@command("wf.activity", -3, "write denyoom", acl="keyspace", keys=(2, 2, 1),
         key_specs=[{"flags": ["RW", "update"], "begin_search": {"type": "index", "spec": {"index": 2}},
                     "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}],
         docs=_docs("Creates, deletes or describes an activity",
                    [{"name": "op", "type": "oneof", "arguments": [
                        {"name": "create", "type": "pure-token", "token": "CREATE"},
                        {"name": "delete", "type": "pure-token", "token": "DELETE"},
                        {"name": "describe", "type": "pure-token", "token": "DESCRIBE"}]},
                     {"name": "key", "type": "key", "key_spec_index": 0}]))
def wf_activity_command(c, argv):
    op = argv[1].upper()
    key = argv[2]
    ok, act = get_typed(c, key, ActivityValue, write=True)
    if not ok:
        return
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:{key.decode('latin-1')}"
    if op == b"CREATE":
        if act is None:
            act = ActivityValue({"name": key.decode("latin-1"), "arn": arn, "created": c.ks.now_ms, "queue": []})
            c.db.set_value(key, act)
            c.dirty += 1
            c.propagate_as([b"WF._RESTOREACT", key, act.dump_state()])
        add_value(c.reply, {"activityArn": arn, "creationDate": act.act["created"]})
    elif op == b"DELETE":
        if act is not None:
            c.db.delete(key)
            c.dirty += 1
            c.propagate_as([b"DEL", key])
        c.reply.add_ok()
    elif op == b"DESCRIBE":
        if act is None:
            c.error(b"ACTIVITYDOESNOTEXIST Activity Does Not Exist: '" + arn.encode() + b"'")
            return
        add_value(c.reply, {"activityArn": arn, "name": act.act["name"], "creationDate": act.act["created"],
                            "pending": len(act.act["queue"])})
    else:
        c.error(SYNTAX_ERR)


@command("wf._restoreact", 3, "write internal", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Sets an activity key (effect only)", [KEY_ARG, {"name": "state", "type": "string"}]))
def wf_restoreact_command(c, argv):
    try:
        value = ActivityValue.load_state(argv[2], 0)
    except ValueError:
        c.error(b"ERR bad activity payload")
        return
    c.db.set_value(argv[1], value)
    c.dirty += 1
    c.reply.add_ok()


def _activity_ready(db, key):
    e = db.find(key)
    return e is not None and isinstance(e.value, ActivityValue) and bool(e.value.act["queue"])


@command("wf.poll", -2, "write blocking", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Takes the next activity task (GetActivityTask), waiting up to BLOCK ms (at most 60000)",
                    [KEY_ARG, {"name": "worker", "type": "string", "token": "WORKER", "flags": ["optional"]},
                     {"name": "block", "type": "integer", "token": "BLOCK", "flags": ["optional"]}]))
def wf_poll_command(c, argv):
    opts = parse_opts(c, argv, 2, {b"WORKER": True, b"BLOCK": True})
    if opts is None:
        return
    try:
        block_ms = int(opts.get(b"BLOCK", b"0"))
    except ValueError:
        c.error(b"ERR value is not an integer or out of range")
        return
    if block_ms < 0:
        c.error(b"ERR timeout is negative")
        return
    block_ms = min(block_ms, 60000)
    ok, act = get_typed(c, argv[1], ActivityValue, write=True)
    if not ok:
        return
    if act is None:
        c.error(b"ACTIVITYDOESNOTEXIST Activity Does Not Exist: '" + argv[1] + b"'")
        return
    worker = opts.get(b"WORKER", b"").decode("utf-8", "replace")
    while act.act["queue"]:
        exkey, token = act.act["queue"][0]
        key = exkey.encode("latin-1")
        e = c.db.lookup_write(key)
        if e is None or not isinstance(e.value, ExecutionValue):
            act.act["queue"].pop(0)
            continue
        ex = e.value.ex
        try:
            patch = advance(ex, ("task", token, "started", worker), env_for(c, key))
        except StatesError:
            act.act["queue"].pop(0)
            continue
        inp = next((t["input"] for t in pending_tasks(ex) if t["token"] == token), None)
        commit(c, key, ex, patch)
        add_value(c.reply, [token, dumps(inp)])
        return
    if block_ms == 0 or c.deny_blocking:
        c.reply.add_null()
        return
    block(c, [argv[1]], block_ms, argv, value_type=b"activity", ready_check=_activity_ready,
          timeout_reply=lambda r: r.add_null())


@command("wf.task", -3, "write", acl="keyspace",
         docs=_docs("Completes or heartbeats a task by its token (SendTaskSuccess/Failure/Heartbeat)",
                    [{"name": "op", "type": "oneof", "arguments": [
                        {"name": "success", "type": "pure-token", "token": "SUCCESS"},
                        {"name": "failure", "type": "pure-token", "token": "FAILURE"},
                        {"name": "heartbeat", "type": "pure-token", "token": "HEARTBEAT"}]},
                     {"name": "token", "type": "string"},
                     {"name": "output", "type": "string", "flags": ["optional"]}]))
def wf_task_command(c, argv):
    op = argv[1].upper()
    token = argv[2].decode("latin-1")
    key = key_of_token(token)
    if key is None or "~" not in token:
        c.error(b"INVALIDTOKEN Invalid Token: '" + argv[2][:128] + b"'")
        return
    if op == b"SUCCESS":
        if len(argv) != 4:
            c.error(b"ERR wrong number of arguments for 'wf.task|success' command")
            return
        ok, out = parse_json(c, argv[3], b"INVALIDOUTPUT Invalid Output")
        if not ok:
            return
        sig = ("task", token, "success", out)
    elif op == b"FAILURE":
        opts = parse_opts(c, argv, 3, {b"ERROR": True, b"CAUSE": True})
        if opts is None:
            return
        sig = ("task", token, "failure", opts.get(b"ERROR", b"").decode("utf-8", "replace") or None,
               opts.get(b"CAUSE", b"").decode("utf-8", "replace") or None)
    elif op == b"HEARTBEAT":
        if len(argv) != 3:
            c.error(SYNTAX_ERR)
            return
        sig = ("task", token, "heartbeat")
    else:
        c.error(SYNTAX_ERR)
        return
    e = c.db.lookup_write(key)
    if e is None or not isinstance(e.value, ExecutionValue):
        c.error(b"TASKDOESNOTEXIST Task Does Not Exist")
        return
    ex = e.value.ex
    if ex["status"] != "RUNNING":
        c.error(b"TASKTIMEDOUT Task Timed Out: the task token is no longer pending")
        return
    try:
        patch = advance(ex, sig, env_for(c, key))
    except StatesError:
        c.error(b"TASKTIMEDOUT Task Timed Out: the task token is no longer pending")
        return
    commit(c, key, ex, patch)
    c.reply.add_ok()


# ------------------------------------------------------------------ configuration
@command("wf.config", -3, "admin", acl="",
         docs=_docs("Gets or sets the workflow service's settings (time-scale, history-limit, mock-config)",
                    [{"name": "op", "type": "oneof", "arguments": [
                        {"name": "get", "type": "pure-token", "token": "GET"},
                        {"name": "set", "type": "pure-token", "token": "SET"}]},
                     {"name": "parameter", "type": "string"},
                     {"name": "value", "type": "string", "flags": ["optional"]}]))
def wf_config_command(c, argv):
    wf = workflow_of(c.server)
    op, name = argv[1].upper(), argv[2].lower()
    if op == b"GET" and len(argv) == 3:
        if name == b"time-scale":
            c.reply.add_bulk_str(repr(wf.time_scale))
        elif name == b"history-limit":
            c.reply.add_int(wf.history_limit)
        elif name == b"mock-config":
            c.reply.add_bulk_str(dumps(wf.mock_config))
        else:
            c.error(b"ERR unknown workflow setting '" + argv[2] + b"'")
        return
    if op != b"SET" or len(argv) != 4:
        c.error(SYNTAX_ERR)
        return
    value = argv[3]
    try:
        if name == b"time-scale":
            v = float(value)
            if not 0 < v <= 1000:
                raise ValueError
            wf.time_scale = v
        elif name == b"history-limit":
            v = int(value)
            if not 10 <= v <= 25000:
                raise ValueError
            wf.history_limit = v
        elif name == b"mock-config":
            cfg = json.loads(value)
            if not isinstance(cfg, dict):
                raise ValueError
            wf.mock_config = cfg
        else:
            c.error(b"ERR unknown workflow setting '" + argv[2] + b"'")
            return
    except ValueError:
        c.error(b"ERR invalid value for workflow setting '" + argv[2] + b"'")
        return
    c.reply.add_ok()


def _list_of(c, cls, shape):
    out = []
    for key, e in list(c.db.items()):
        if isinstance(e.value, cls):
            out.append(shape(key, e.value))
    out.sort(key=lambda d: d["name"])
    return out


@command("wf.list", 1, "readonly", acl="keyspace",
         docs=_docs("Lists the state machines of the current database (ListStateMachines)", []))
def wf_list_command(c, argv):
    add_value(c.reply, _list_of(c, StateMachineValue, lambda k, v: {
        "stateMachineArn": v.sm["arn"], "name": v.sm["name"], "key": k, "type": v.sm["type"],
        "creationDate": v.sm["created"]}))


@command("wf.activities", 1, "readonly", acl="keyspace",
         docs=_docs("Lists the activities of the current database (ListActivities)", []))
def wf_activities_command(c, argv):
    add_value(c.reply, _list_of(c, ActivityValue, lambda k, v: {
        "activityArn": v.act["arn"], "name": v.act["name"], "creationDate": v.act["created"],
        "pending": len(v.act["queue"])}))
