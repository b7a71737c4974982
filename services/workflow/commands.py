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
from .asl.runtime import TERMINAL, new_execution, redrive_status, token_valid
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


def commit(c, key, ex, patch, new=None, sm=None, work=None):
    """Apply a patch computed on the primary and propagate it as WF._APPLY (encoded only when the effect
    stream has a consumer: AOF or a replica).  What a transition causes elsewhere follows as effects of their
    own in the same unit (MULTI/EXEC): the messages it sends (QUEUE._PUT), the children it starts (``spawn``:
    nested executions, Distributed Map items) or stops, and the parent a finished child answers.  Those run
    from a work list, not by recursion, so a map run of 10,000 quick children is a loop."""
    top = work is None
    if top:
        work = []
    spawns = patch.pop("spawn", None)
    sends = patch.pop("sends", None)
    stops = patch.pop("stops", None)
    was = "NEW" if new is not None else ex["status"]
    msg = build_msg(ex, patch, new, sm)
    if c.ks.effects.subscribers:
        c.also_propagate([b"WF._APPLY", key, encode_msg(msg)])
    elif c.effect_override is None:
        c.prevent_propagation()
    apply_msg(c, key, msg)
    for sp in sends or ():
        sqs_put(c, sp)
    for sp in spawns or ():
        work.append(("spawn", key, ex, sp))
    for name in stops or ():
        if isinstance(name, dict):            # a .sync child: its own state machine's key
            sm_name, _, ex_name = name["arn"].split(":execution:", 1)[1].partition(":")
            work.append(("stop", exec_key(sm_name.encode("latin-1"), ex_name.encode("latin-1"))))
        else:                                 # a map run's child, under its parent
            work.append(("stop", key + b"/" + name.encode("latin-1")))
    if ex["status"] in TERMINAL and was != ex["status"] and ex.get("parent"):
        work.append(("answer", ex))
    if not top:
        return
    for _ in range(200000):
        if not work:
            break
        item = work.pop(0)
        if item[0] == "spawn":
            spawn_child(c, item[1], item[2], item[3], work)
        elif item[0] == "answer":
            # the children of one parent that ended in this unit answer it in one transition
            pk = item[1]["parent"]["key"]
            same = [item[1]] + [w[1] for w in work if w[0] == "answer" and w[1]["parent"]["key"] == pk]
            work[:] = [w for w in work if not (w[0] == "answer" and w[1]["parent"]["key"] == pk)]
            answer_parent(c, same, work)
        else:
            e = c.db.lookup_write(item[1])
            if e is not None and isinstance(e.value, ExecutionValue) and e.value.ex["status"] == "RUNNING":
                cex = e.value.ex
                commit(c, item[1], cex, advance(cex, ("stop", "States.Aborted", "The parent execution stopped "
                                                      "waiting for this one"), env_for(c, item[1])), work=work)
    as_one_unit(c)


def sqs_put(c, send):
    """The message of an sqs:sendMessage task, put on its QUEUE as QUEUE._PUT in the same unit as the transition
    (the id was drawn by the transition; the queue's own rules, FIFO dedup included, apply)."""
    from services.queue.commands import after_put, prepare_message, put_effect, retention_effects
    from services.queue.common import AwsError
    from services.queue.value import QueueValue
    from .manager import sqs_options
    qkey = send["queue"].encode()
    e = c.db.lookup_write(qkey)
    if e is None or not isinstance(e.value, QueueValue):
        return
    q = e.value
    now = c.ks.now_ms
    try:
        m, _ = prepare_message(q, send["body"].encode(), sqs_options(send), now)
    except AwsError:
        return
    if m is None:
        return                        # a FIFO deduplication hit: the message is already there
    m.id = send["id"]
    q.gc(now)
    effects = retention_effects(qkey, q, now)
    q.put(m)
    effects.append(put_effect(qkey, [m]))
    c.dirty += len(effects)
    if c.ks.effects.subscribers:
        for eff in effects:
            c.also_propagate(eff)
    after_put(c, qkey, q, [m], now)


def spawn_child(c, parent_key, parent, sp, work):
    name = sp["name"]
    wf = workflow_of(c.server)
    if sp.get("map"):
        # a Distributed Map item: a child execution of the ItemProcessor, keyed under its parent (same slot)
        key = parent_key + b"/" + name.encode("latin-1")
        if c.db.find(key) is not None:
            return
        ex = new_execution(sp["definition"], sp["input"], arn=parent["arn"] + "/" + name, name=name,
                           sm_arn=parent["sm"], sm_name=parent["smName"], now_ms=c.ks.now_ms,
                           sm_type=sp.get("type", "STANDARD"), secret="%032x" % wf.rng.getrandbits(128))
        ex["mapRun"] = sp.get("run")
        smkey = b""
    else:
        smkey = sp["sm"].encode("latin-1")
        e = c.db.find(smkey)
        if e is None or not isinstance(e.value, StateMachineValue):
            return
        sm = e.value
        key = exec_key(smkey, name.encode("latin-1"))
        if c.db.find(key) is not None:
            return
        definition = sm.definition
        if sp.get("version"):
            v = sm.sm.get("versions", {}).get(sp["version"].rsplit(":", 1)[1])
            if v is not None:
                definition = json.loads(v["definition"])
        ex = new_execution(definition, sp["input"], arn=exec_arn(sm.sm["name"], name), name=name,
                           sm_arn=sm.sm["arn"], sm_name=sm.sm["name"], now_ms=c.ks.now_ms, sm_type=sm.sm["type"],
                           secret="%032x" % wf.rng.getrandbits(128))
        for k in ("version", "alias"):
            if sp.get(k):
                ex[k] = sp[k]
    ex["parent"] = {"key": parent_key.decode("latin-1"), "arn": parent["arn"], "token": sp.get("token"),
                    "mode": sp.get("mode")}
    env = env_for(c, key)
    env.now = c.ks.now_ms
    commit(c, key, ex, advance(ex, ("start",), env), new=ex, sm=smkey, work=work)


def child_output(ex, mode):
    """The DescribeExecution-shaped result of a .sync child (.sync:2: Input and Output as JSON, not text)."""
    two = mode == ".sync:2"
    d = {"ExecutionArn": ex["arn"], "StateMachineArn": ex["sm"], "Name": ex["name"], "Status": ex["status"],
         "StartDate": ex["start"], "StopDate": ex["stop"],
         "Input": ex["input"] if two else dumps(ex["input"]), "InputDetails": {"Included": True}}
    if ex["status"] == "SUCCEEDED":
        d["Output"] = ex["output"] if two else dumps(ex["output"])
        d["OutputDetails"] = {"Included": True}
    else:
        if ex.get("error") is not None:
            d["Error"] = ex["error"]
        if ex.get("cause") is not None:
            d["Cause"] = ex["cause"]
    return d


def answer_parent(c, children, work):
    """Ended children (of one parent) answer the parent's tokens: one transition for all of them."""
    sigs = []
    for ex in children:
        p = ex["parent"]
        if not p.get("token"):
            continue                 # fire-and-forget or .waitForTaskToken: the parent does not wait for the end
        if p.get("mode") == "map":
            sigs.append(("task", p["token"], "success", ex["output"]) if ex["status"] == "SUCCEEDED" else
                        ("task", p["token"], "failure", ex["error"], ex["cause"]))
        elif ex["status"] == "SUCCEEDED":
            sigs.append(("task", p["token"], "success", child_output(ex, p.get("mode"))))
        else:
            sigs.append(("task", p["token"], "failure", "States.TaskFailed", dumps(child_output(ex, p.get("mode")))))
    if not sigs:
        return
    pkey = children[0]["parent"]["key"].encode("latin-1")
    e = c.db.lookup_write(pkey)
    if e is None or not isinstance(e.value, ExecutionValue) or e.value.ex["status"] != "RUNNING":
        return
    pex = e.value.ex
    try:
        patch = advance(pex, sigs[0] if len(sigs) == 1 else ("tasks", sigs), env_for(c, pkey))
    except StatesError:
        return                       # the parent's task already timed out
    commit(c, pkey, pex, patch, work=work)


def as_one_unit(c):
    """Effects on several keys (a transition and its QUEUE._PUT, a parent and its child) go in MULTI/EXEC, so a
    crash or a replica never sees half of them."""
    effects = c.effect_override
    if not effects or c.ks.effects.unit_depth != 0:
        return
    if effects[0] == [b"MULTI"] and effects[-1] == [b"EXEC"]:
        effects = effects[1:-1]
    if len(effects) > 1 and len({bytes(e[1]) for e in effects if len(e) > 1}) > 1:
        effects = [[b"MULTI"]] + effects + [[b"EXEC"]]
    c.effect_override = effects


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


@command("wf._fire", 2, "write internal", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Fires an execution's due timers (the primary's timer heap; propagated as WF._APPLY)", [KEY_ARG]))
def wf_fire_command(c, argv):
    e = c.db.lookup_write(argv[1])
    if e is None or not isinstance(e.value, ExecutionValue):
        c.prevent_propagation()
        c.reply.add_null()
        return
    ex = e.value.ex
    due = next_due(ex)
    env = env_for(c, argv[1])
    if due is None or due > env.now:
        c.prevent_propagation()
        c.reply.add_int(0)
        return
    commit(c, argv[1], ex, advance(ex, ("timers",), env))
    c.reply.add_int(1)


# ------------------------------------------------------------------ state machines
@command("wf.create", -3, "write denyoom", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Creates a state machine from an Amazon States Language definition",
                    [KEY_ARG, {"name": "definition", "type": "string"},
                     {"name": "type", "type": "oneof", "token": "TYPE", "flags": ["optional"],
                      "arguments": [{"name": "standard", "type": "pure-token", "token": "STANDARD"},
                                    {"name": "express", "type": "pure-token", "token": "EXPRESS"}]}]))
def wf_create_command(c, argv):
    opts = parse_opts(c, argv, 3, {b"TYPE": True, b"PUBLISH": False, b"DESCRIPTION": True})
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
    out = {"stateMachineArn": value.sm["arn"], "creationDate": value.sm["created"]}
    if b"PUBLISH" in opts:
        out["stateMachineVersionArn"] = publish_version(value, c.ks.now_ms, _opt_str(opts, b"DESCRIPTION"))
    c.db.set_value(argv[1], value)
    c.dirty += 1
    c.propagate_as([b"WF._RESTORESM", argv[1], value.dump_state()])
    add_value(c.reply, out)


def _opt_str(opts, name):
    v = opts.get(name)
    return v.decode("utf-8", "replace") if v is not None else None


# ------------------------------------------------------------------ versions and aliases
MAX_VERSIONS = 1000
MAX_ALIASES = 100


def publish_version(sm, now, description=None):
    """A version of the current revision (idempotent: the revision's version if it has one); its ARN."""
    s = sm.sm
    versions = s.setdefault("versions", {})
    for n, v in versions.items():
        if v["revision"] == s["revision"]:
            return s["arn"] + ":" + n
    n = s.get("nextVersion", 1)
    s["nextVersion"] = n + 1
    versions[str(n)] = {"definition": s["definition"], "revision": s["revision"], "created": now,
                        "description": description}
    return s["arn"] + ":" + str(n)


def qualified(sm, qualifier, rng=None):
    """(definition, version ARN or None, alias ARN or None, error or None) for STARTing sm[:qualifier].  An
    alias with two versions picks one by weight with rng (drawn on the primary, before the effect)."""
    s = sm.sm
    if qualifier is None:
        return sm.definition, None, None, None
    q = qualifier
    alias_arn = None
    if not q.isdigit():
        a = s.get("aliases", {}).get(q)
        if a is None:
            return None, None, None, f"RESOURCENOTFOUND State Machine Alias Does Not Exist: '{s['arn']}:{q}'"
        alias_arn = s["arn"] + ":" + q
        routes = a["routing"]
        pick = routes[0]
        if len(routes) > 1:
            draw = (rng.randrange(100) if rng is not None else 0)
            pick = routes[0] if draw < routes[0]["weight"] else routes[1]
        q = pick["stateMachineVersionArn"].rsplit(":", 1)[1]
    v = s.get("versions", {}).get(q)
    if v is None:
        return None, None, None, f"STATEMACHINEDOESNOTEXIST State Machine Does Not Exist: '{s['arn']}:{q}'"
    return json.loads(v["definition"]), s["arn"] + ":" + q, alias_arn, None


def _sm_for(c, key, write=False):
    ok, sm = get_typed(c, key, StateMachineValue, write=write)
    if not ok:
        return None
    if sm is None:
        c.error(b"STATEMACHINEDOESNOTEXIST State Machine Does Not Exist: '" + sm_arn(key.decode("latin-1")).encode()
                + b"'")
        return None
    return sm


def _save_sm(c, key, sm):
    c.dirty += 1
    c.propagate_as([b"WF._RESTORESM", key, sm.dump_state()])


@command("wf.publish", -2, "write", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Publishes a version of the state machine's current revision (PublishStateMachineVersion)",
                    [KEY_ARG, {"name": "revision", "type": "string", "token": "REVISION", "flags": ["optional"]},
                     {"name": "description", "type": "string", "token": "DESCRIPTION", "flags": ["optional"]}]))
def wf_publish_command(c, argv):
    opts = parse_opts(c, argv, 2, {b"REVISION": True, b"DESCRIPTION": True})
    if opts is None:
        return
    sm = _sm_for(c, argv[1], True)
    if sm is None:
        return
    rev = opts.get(b"REVISION")
    if rev is not None and rev.decode("latin-1") != str(sm.sm["revision"]):
        c.error(b"CONFLICTEXCEPTION Failed to publish the State Machine version for revision " + rev +
                b". The current State Machine revision is " + str(sm.sm["revision"]).encode() + b".")
        return
    before = dict(sm.sm.get("versions", {}))
    if len(before) >= MAX_VERSIONS and not any(v["revision"] == sm.sm["revision"] for v in before.values()):
        c.error(b"SERVICEQUOTAEXCEEDEDEXCEPTION a state machine has at most 1000 versions")
        return
    arn = publish_version(sm, c.ks.now_ms, _opt_str(opts, b"DESCRIPTION"))
    n = arn.rsplit(":", 1)[1]
    if n not in before:
        _save_sm(c, argv[1], sm)
    add_value(c.reply, {"stateMachineVersionArn": arn, "creationDate": sm.sm["versions"][n]["created"]})


@command("wf.versions", 2, "readonly", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(True),
         docs=_docs("Lists a state machine's versions, newest first (ListStateMachineVersions)", [KEY_ARG]))
def wf_versions_command(c, argv):
    sm = _sm_for(c, argv[1])
    if sm is None:
        return
    vs = sorted(sm.sm.get("versions", {}).items(), key=lambda kv: -int(kv[0]))
    add_value(c.reply, [{"stateMachineVersionArn": sm.sm["arn"] + ":" + n, "creationDate": v["created"],
                         "revisionId": str(v["revision"]), "description": v.get("description")} for n, v in vs])


@command("wf.delversion", 3, "write", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Deletes a state machine version (DeleteStateMachineVersion); refused while an alias routes to "
                    "it", [KEY_ARG, {"name": "version", "type": "integer"}]))
def wf_delversion_command(c, argv):
    sm = _sm_for(c, argv[1], True)
    if sm is None:
        return
    n = argv[2].decode("latin-1")
    versions = sm.sm.get("versions", {})
    if n not in versions:
        c.reply.add_ok()
        return
    varn = sm.sm["arn"] + ":" + n
    for name, a in sm.sm.get("aliases", {}).items():
        if any(r["stateMachineVersionArn"] == varn for r in a["routing"]):
            c.error(("CONFLICTEXCEPTION Version to be deleted must not be referenced by an alias. Current list of "
                     "aliases referencing this version: [%s]" % (sm.sm["arn"] + ":" + name)).encode())
            return
    del versions[n]
    _save_sm(c, argv[1], sm)
    c.reply.add_ok()


def _routing(c, sm, text):
    ok, routes = parse_json(c, text, b"VALIDATIONEXCEPTION Invalid routing configuration")
    if not ok:
        return None
    if not isinstance(routes, list) or not 1 <= len(routes) <= 2:
        c.error(b"VALIDATIONEXCEPTION 1 validation error detected: Value at 'routingConfiguration' failed to satisfy "
                b"constraint: Member must have length between 1 and 2")
        return None
    seen = set()
    out = []
    for rt in routes:
        if not isinstance(rt, dict) or not isinstance(rt.get("stateMachineVersionArn"), str) or \
                not isinstance(rt.get("weight"), int) or isinstance(rt.get("weight"), bool) or \
                not 0 <= rt["weight"] <= 100:
            c.error(b"VALIDATIONEXCEPTION Each routing configuration needs a stateMachineVersionArn and a weight "
                    b"between 0 and 100")
            return None
        arn = rt["stateMachineVersionArn"]
        base, _, n = arn.rpartition(":")
        if base != sm.sm["arn"] or not n.isdigit():
            c.error(("VALIDATIONEXCEPTION Routing configuration must contain state machine version ARNs of '%s', "
                     "got '%s'" % (sm.sm["arn"], arn)).encode())
            return None
        if n not in sm.sm.get("versions", {}):
            c.error(("RESOURCENOTFOUND State Machine Version Does Not Exist: '%s'" % arn).encode())
            return None
        if arn in seen:
            c.error(b"VALIDATIONEXCEPTION Routing configuration must contain distinct state machine versions")
            return None
        seen.add(arn)
        out.append({"stateMachineVersionArn": arn, "weight": rt["weight"]})
    if sum(r["weight"] for r in out) != 100:
        c.error(b"VALIDATIONEXCEPTION Sum of routing configuration weights must be equal to 100")
        return None
    return out


def _alias_shape(sm, name, a):
    d = {"stateMachineAliasArn": sm.sm["arn"] + ":" + name, "name": name, "routingConfiguration": a["routing"],
         "creationDate": a["created"], "updateDate": a["updated"]}
    if a.get("description") is not None:
        d["description"] = a["description"]
    return d


@command("wf.alias", -3, "write", acl="keyspace", keys=(2, 2, 1),
         key_specs=[{"flags": ["RW", "update"], "begin_search": {"type": "index", "spec": {"index": 2}},
                     "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}],
         docs=_docs("Creates, updates, deletes, describes or lists a state machine's aliases (routing to one or two "
                    "versions by weight)",
                    [{"name": "op", "type": "oneof", "arguments": [
                        {"name": "create", "type": "pure-token", "token": "CREATE"},
                        {"name": "update", "type": "pure-token", "token": "UPDATE"},
                        {"name": "delete", "type": "pure-token", "token": "DELETE"},
                        {"name": "describe", "type": "pure-token", "token": "DESCRIBE"},
                        {"name": "list", "type": "pure-token", "token": "LIST"}]},
                     {"name": "key", "type": "key", "key_spec_index": 0},
                     {"name": "name", "type": "string", "flags": ["optional"]},
                     {"name": "routing", "type": "string", "token": "ROUTING", "flags": ["optional"]},
                     {"name": "description", "type": "string", "token": "DESCRIPTION", "flags": ["optional"]}]))
def wf_alias_command(c, argv):
    op = argv[1].upper()
    sm = _sm_for(c, argv[2], write=op in (b"CREATE", b"UPDATE", b"DELETE"))
    if sm is None:
        return
    aliases = sm.sm.setdefault("aliases", {})
    if op == b"LIST":
        if len(argv) != 3:
            c.error(SYNTAX_ERR)
            return
        items = sorted(aliases.items(), key=lambda kv: kv[1]["created"])
        add_value(c.reply, [{"stateMachineAliasArn": sm.sm["arn"] + ":" + n, "creationDate": a["created"]}
                            for n, a in items])
        return
    if len(argv) < 4:
        c.error(SYNTAX_ERR)
        return
    name = argv[3].decode("utf-8", "replace")
    opts = parse_opts(c, argv, 4, {b"ROUTING": True, b"DESCRIPTION": True})
    if opts is None:
        return
    arn = sm.sm["arn"] + ":" + name
    a = aliases.get(name)
    if op == b"CREATE":
        if not 1 <= len(name) <= 80 or name.isdigit() or any(ch in name for ch in ' <>{}[]?*"#%\\^|~`$&,;:/'):
            c.error(b"INVALIDNAME Invalid Name: '" + argv[3] + b"'")
            return
        if b"ROUTING" not in opts:
            c.error(SYNTAX_ERR)
            return
        routes = _routing(c, sm, opts[b"ROUTING"])
        if routes is None:
            return
        desc = _opt_str(opts, b"DESCRIPTION")
        if a is not None:
            if a["routing"] == routes and a.get("description") == desc:
                add_value(c.reply, {"stateMachineAliasArn": arn, "creationDate": a["created"]})      # idempotent
                return
            c.error(("CONFLICTEXCEPTION Failed to create alias because an alias with the same name and a different "
                     "routing configuration already exists: '%s'" % arn).encode())
            return
        if len(aliases) >= MAX_ALIASES:
            c.error(b"SERVICEQUOTAEXCEEDEDEXCEPTION a state machine has at most 100 aliases")
            return
        aliases[name] = {"routing": routes, "description": desc, "created": c.ks.now_ms, "updated": c.ks.now_ms}
        _save_sm(c, argv[2], sm)
        add_value(c.reply, {"stateMachineAliasArn": arn, "creationDate": c.ks.now_ms})
        return
    if a is None:
        c.error(("RESOURCENOTFOUND State Machine Alias Does Not Exist: '%s'" % arn).encode())
        return
    if op == b"DESCRIBE":
        add_value(c.reply, _alias_shape(sm, name, a))
    elif op == b"UPDATE":
        routes = None
        if b"ROUTING" in opts:
            routes = _routing(c, sm, opts[b"ROUTING"])
            if routes is None:
                return
        if routes is not None:
            a["routing"] = routes
        if b"DESCRIPTION" in opts:
            a["description"] = _opt_str(opts, b"DESCRIPTION")
        a["updated"] = c.ks.now_ms
        _save_sm(c, argv[2], sm)
        add_value(c.reply, {"updateDate": a["updated"]})
    elif op == b"DELETE":
        del aliases[name]
        _save_sm(c, argv[2], sm)
        c.reply.add_ok()
    else:
        c.error(SYNTAX_ERR)


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


@command("wf.update", -3, "write denyoom", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Replaces a state machine's definition (running executions keep theirs)",
                    [KEY_ARG, {"name": "definition", "type": "string"},
                     {"name": "publish", "type": "pure-token", "token": "PUBLISH", "flags": ["optional"]},
                     {"name": "description", "type": "string", "token": "DESCRIPTION", "flags": ["optional"]}]))
def wf_update_command(c, argv):
    opts = parse_opts(c, argv, 3, {b"PUBLISH": False, b"DESCRIPTION": True})
    if opts is None:
        return
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
    if text != sm.sm["definition"]:
        sm.set_definition(text)
        sm.sm["revision"] += 1
    sm.sm["updated"] = c.ks.now_ms
    out = {"updateDate": c.ks.now_ms, "revisionId": str(sm.sm["revision"])}
    if b"PUBLISH" in opts:
        out["stateMachineVersionArn"] = publish_version(sm, c.ks.now_ms, _opt_str(opts, b"DESCRIPTION"))
    c.dirty += 1
    c.propagate_as([b"WF._RESTORESM", argv[1], sm.dump_state()])
    add_value(c.reply, out)


@command("wf.describe", -2, "readonly", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(True),
         docs=_docs("Describes a state machine (or one of its versions)",
                    [KEY_ARG, {"name": "version", "type": "integer", "token": "VERSION", "flags": ["optional"]}]))
def wf_describe_command(c, argv):
    opts = parse_opts(c, argv, 2, {b"VERSION": True})
    if opts is None:
        return
    ok, sm = get_typed(c, argv[1], StateMachineValue)
    if not ok:
        return
    if sm is None:
        c.error(b"STATEMACHINEDOESNOTEXIST State Machine Does Not Exist")
        return
    s = sm.sm
    if b"VERSION" in opts:
        n = opts[b"VERSION"].decode("latin-1")
        v = s.get("versions", {}).get(n)
        if v is None:
            c.error(("STATEMACHINEDOESNOTEXIST State Machine Does Not Exist: '%s:%s'" % (s["arn"], n)).encode())
            return
        d = {"stateMachineArn": s["arn"] + ":" + n, "name": s["name"], "status": "ACTIVE",
             "definition": v["definition"], "type": s["type"], "creationDate": v["created"],
             "revisionId": str(v["revision"])}
        if v.get("description") is not None:
            d["description"] = v["description"]
        add_value(c.reply, d)
        return
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
                     {"name": "testcase", "type": "string", "token": "TESTCASE", "flags": ["optional"]},
                     {"name": "qualifier", "type": "string", "token": "QUALIFIER", "flags": ["optional"]}]))
def wf_start_command(c, argv):
    start_execution(c, argv, sync=False)


def start_execution(c, argv, sync):
    spec = {b"NAME": True, b"INPUT": True, b"TESTCASE": True, b"QUALIFIER": True}
    if sync:
        spec = {b"INPUT": True, b"TIMEOUT": True, b"TESTCASE": True, b"NAME": True, b"QUALIFIER": True}
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
    q = opts.get(b"QUALIFIER")
    definition, varn, aarn, err = qualified(sm, q.decode("latin-1") if q is not None else None, wf.rng)
    if err is not None:
        c.error(err.encode())
        return None
    ex = new_execution(definition, input_value, arn=exec_arn(sm.sm["name"], nm), name=nm, sm_arn=sm.sm["arn"],
                       sm_name=sm.sm["name"], now_ms=c.ks.now_ms, mocks=mocks, sm_type=sm.sm["type"],
                       secret="%032x" % wf.rng.getrandbits(128))
    if varn is not None:
        ex["version"] = varn
    if aarn is not None:
        ex["alias"] = aarn
    env = env_for(c, key)
    env.now = c.ks.now_ms
    patch = advance(ex, ("start",), env)
    commit(c, key, ex, patch, new=ex, sm=argv[1])
    if not sync:
        got = c.db.find(key).value.ex
        add_value(c.reply, {"executionArn": got["arn"], "exec": key, "startDate": got["start"]})
    return key


def describe(ex, key=None, now=None, history_limit=25000):
    d = {"executionArn": ex["arn"], "stateMachineArn": ex["sm"], "name": ex["name"], "status": ex["status"],
         "startDate": ex["start"], "stopDate": ex["stop"], "input": dumps(ex["input"]),
         "output": dumps(ex["output"]) if ex["status"] == "SUCCEEDED" else None,
         "error": ex["error"], "cause": ex["cause"]}
    if key is not None:
        d["exec"] = key
    for k, f in (("version", "stateMachineVersionArn"), ("alias", "stateMachineAliasArn")):
        if ex.get(k):
            d[f] = ex[k]
    if ex.get("parent"):
        d["startedBy"] = ex["parent"].get("arn")
    if ex.get("mapRun"):
        d["mapRunArn"] = ex["mapRun"]
    rt = ex["rt"]
    d["redriveCount"] = rt.get("redrives", 0)
    d["redriveDate"] = rt.get("redriveDate")
    if now is not None:
        d["redriveStatus"], d["redriveStatusReason"] = redrive_status(ex, now, history_limit)
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


@command("wf.exec", -2, "readonly", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(True),
         docs=_docs("Describes an execution (DescribeExecution); DEFINITION adds the definition it runs "
                    "(DescribeStateMachineForExecution)",
                    [KEY_ARG, {"name": "definition", "type": "pure-token", "token": "DEFINITION",
                               "flags": ["optional"]}]))
def wf_exec_command(c, argv):
    opts = parse_opts(c, argv, 2, {b"DEFINITION": False})
    if opts is None:
        return
    ex = exec_for(c, argv[1])
    if ex is not None:
        d = describe(ex, now=c.ks.now_ms, history_limit=workflow_of(c.server).history_limit)
        if b"DEFINITION" in opts:
            d["definition"] = dumps(ex["def"])
        add_value(c.reply, d)


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


@command("wf.redrive", -2, "write", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Redrives a failed, timed-out or aborted Standard execution from the state that failed "
                    "(RedriveExecution)",
                    [KEY_ARG, {"name": "token", "type": "string", "token": "CLIENTTOKEN", "flags": ["optional"]}]))
def wf_redrive_command(c, argv):
    opts = parse_opts(c, argv, 2, {b"CLIENTTOKEN": True})
    if opts is None:
        return
    ex = exec_for(c, argv[1], True)
    if ex is None:
        return
    token = opts.get(b"CLIENTTOKEN")
    token = token.decode("utf-8", "replace") if token is not None else None
    if token is not None and ex["rt"].get("redriveToken") == token and ex["rt"].get("redriveDate") is not None:
        add_value(c.reply, {"redriveDate": ex["rt"]["redriveDate"]})       # the same request again: idempotent
        return
    status, reason = redrive_status(ex, c.ks.now_ms, workflow_of(c.server).history_limit)
    if status != "REDRIVABLE":
        c.error(b"EXECUTIONNOTREDRIVABLE " + reason.encode())
        return
    env = env_for(c, argv[1])
    env.now = c.ks.now_ms
    patch = advance(ex, ("redrive", token), env)
    commit(c, argv[1], ex, patch)
    add_value(c.reply, {"redriveDate": ex["rt"]["redriveDate"]})


@command("wf.mapruns", 2, "readonly", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(True),
         docs=_docs("An execution's Distributed Map runs with their item counts (ListMapRuns / DescribeMapRun)",
                    [KEY_ARG]))
def wf_mapruns_command(c, argv):
    from .asl.runtime import map_runs
    ex = exec_for(c, argv[1])
    if ex is not None:
        add_value(c.reply, map_runs(ex))


def _nonneg(c, raw, name, limit=None, integer=True):
    """An UpdateMapRun number: an integer (or float) >= 0 (and <= limit); None after replying the error."""
    try:
        v = int(raw) if integer else float(raw)
    except ValueError:
        v = None
    if v is None or v != v or v < 0 or (limit is not None and v > limit):
        c.error(("VALIDATIONEXCEPTION 1 validation error detected: Value '%s' at '%s' failed to satisfy "
                 "constraint: Member must have value %s" % (raw.decode("utf-8", "replace"), name,
                 "between 0 and %s" % limit if limit is not None else "greater than or equal to 0")).encode())
        return None
    return v


@command("wf.updatemaprun", -3, "write", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(),
         docs=_docs("Changes a running Distributed Map run's MaxConcurrency and tolerated failures (UpdateMapRun)",
                    [KEY_ARG, {"name": "maprunarn", "type": "string"},
                     {"name": "maxconcurrency", "type": "integer", "token": "MAXCONCURRENCY", "flags": ["optional"]},
                     {"name": "count", "type": "integer", "token": "TOLERATEDFAILURECOUNT", "flags": ["optional"]},
                     {"name": "percentage", "type": "double", "token": "TOLERATEDFAILUREPERCENTAGE",
                      "flags": ["optional"]}]))
def wf_updatemaprun_command(c, argv):
    opts = parse_opts(c, argv, 3, {b"MAXCONCURRENCY": True, b"TOLERATEDFAILURECOUNT": True,
                                   b"TOLERATEDFAILUREPERCENTAGE": True})
    if opts is None:
        return
    values = []
    for opt, name, limit, integer in ((b"MAXCONCURRENCY", "maxConcurrency", None, True),
                                      (b"TOLERATEDFAILURECOUNT", "toleratedFailureCount", None, True),
                                      (b"TOLERATEDFAILUREPERCENTAGE", "toleratedFailurePercentage", 100, False)):
        if opt not in opts:
            values.append(None)
            continue
        v = _nonneg(c, opts[opt], name, limit, integer)
        if v is None:
            return
        values.append(v)
    ex = exec_for(c, argv[1], True)
    if ex is None:
        return
    arn = argv[2].decode("utf-8", "replace")
    if not any(rec["arn"] == arn for rec in ex["rt"].get("mapRuns", ())):
        c.error(("RESOURCENOTFOUND Map Run Does Not Exist: '%s'" % arn).encode())
        return
    if ex["status"] == "RUNNING" and any(rec["arn"] == arn and rec["status"] == "RUNNING"
                                         for rec in ex["rt"]["mapRuns"]):
        patch = advance(ex, ("updatemaprun", arn, *values), env_for(c, argv[1]))
        commit(c, argv[1], ex, patch)
    else:
        c.error(("VALIDATIONEXCEPTION Map Run '%s' is not running: only an in-progress Map Run can be updated"
                 % arn).encode())
        return
    c.reply.add_ok()


@command("wf.executions", -2, "readonly", acl="keyspace", keys=(1, 1, 1), key_specs=_k1(True),
         docs=_docs("Lists a state machine's executions",
                    [KEY_ARG, {"name": "status", "type": "string", "token": "STATUS", "flags": ["optional"]},
                     {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
                     {"name": "redrive", "type": "oneof", "token": "REDRIVE", "flags": ["optional"], "arguments": [
                         {"name": "redriven", "type": "pure-token", "token": "REDRIVEN"},
                         {"name": "not_redriven", "type": "pure-token", "token": "NOT_REDRIVEN"}]}]))
def wf_executions_command(c, argv):
    opts = parse_opts(c, argv, 2, {b"STATUS": True, b"COUNT": True, b"REDRIVE": True})
    if opts is None:
        return
    ok, sm = get_typed(c, argv[1], StateMachineValue)
    if not ok:
        return
    if sm is None:
        c.error(b"STATEMACHINEDOESNOTEXIST State Machine Does Not Exist")
        return
    want = opts.get(b"STATUS")
    redriven = opts.get(b"REDRIVE")
    if redriven is not None:
        redriven = redriven.upper()
        if redriven not in (b"REDRIVEN", b"NOT_REDRIVEN"):
            c.error(SYNTAX_ERR)
            return
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
        n = ex["rt"].get("redrives", 0)
        if redriven is not None and (n > 0) != (redriven == b"REDRIVEN"):
            continue
        item = {"executionArn": ex["arn"], "exec": key, "name": ex["name"], "status": ex["status"],
                "startDate": ex["start"], "stopDate": ex["stop"], "redriveCount": n,
                "redriveDate": ex["rt"].get("redriveDate")}
        for k, f in (("version", "stateMachineVersionArn"), ("alias", "stateMachineAliasArn")):
            if ex.get(k):
                item[f] = ex[k]
        out.append(item)
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
    if not token_valid(ex, token):
        c.error(b"INVALIDTOKEN Invalid Token: '" + argv[2][:128] + b"'")
        return
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
    for key, v in c.db.values_of_type(cls):
        out.append(shape(key, v))
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


# ------------------------------------------------------------------ TestState
@command("wf.teststate", -2, "readonly", acl="keyspace",
         docs=_docs("Runs one state once with an input and reports its output, error, next state and data-flow "
                    "stages (TestState); changes nothing",
                    [{"name": "definition", "type": "string"},
                     {"name": "input", "type": "string", "token": "INPUT", "flags": ["optional"]},
                     {"name": "state", "type": "string", "token": "STATE", "flags": ["optional"]},
                     {"name": "vars", "type": "string", "token": "VARS", "flags": ["optional"]},
                     {"name": "inspect", "type": "oneof", "token": "INSPECT", "flags": ["optional"], "arguments": [
                         {"name": "info", "type": "pure-token", "token": "INFO"},
                         {"name": "debug", "type": "pure-token", "token": "DEBUG"},
                         {"name": "trace", "type": "pure-token", "token": "TRACE"}]},
                     {"name": "mock", "type": "string", "token": "MOCK", "flags": ["optional"]},
                     {"name": "context", "type": "string", "token": "CONTEXT", "flags": ["optional"]},
                     {"name": "config", "type": "string", "token": "CONFIG", "flags": ["optional"]}]))
def wf_teststate_command(c, argv):
    from .asl.teststate import TestStateInvalid, test_state
    opts = parse_opts(c, argv, 2, {b"INPUT": True, b"STATE": True, b"VARS": True, b"INSPECT": True, b"MOCK": True,
                                   b"CONTEXT": True, b"CONFIG": True})
    if opts is None:
        return
    level = opts.get(b"INSPECT", b"INFO").upper().decode("latin-1")
    if level not in ("INFO", "DEBUG", "TRACE"):
        c.error(SYNTAX_ERR)
        return
    ok, definition = parse_json(c, argv[1], b"INVALIDDEFINITION Invalid State Machine Definition")
    if not ok:
        return
    ok, inp = parse_json(c, opts.get(b"INPUT", b"{}"))
    if not ok:
        return
    extra = {}
    for opt, name in ((b"VARS", "variables"), (b"MOCK", "mock"), (b"CONTEXT", "context"), (b"CONFIG", "config")):
        if opt in opts:
            ok, v = parse_json(c, opts[opt], b"VALIDATIONEXCEPTION Invalid " + opt.lower())
            if not ok:
                return
            if not isinstance(v, dict):
                c.error(b"VALIDATIONEXCEPTION Invalid " + opt.lower() + b": must be a JSON object")
                return
            extra[name] = v
    if "context" in extra and "mock" not in extra:
        c.error(b"VALIDATIONEXCEPTION context may only be specified together with a mock")
        return
    state = opts.get(b"STATE")
    wf = workflow_of(c.server)
    try:
        out = test_state(definition, inp, now_ms=c.ks.now_ms, rng=wf.rng, inspection_level=level,
                         state_name=state.decode() if state is not None else None, time_scale=wf.time_scale, **extra)
    except TestStateInvalid as exc:
        c.error((exc.typ.upper() + " " + exc.message).encode())
        return
    add_value(c.reply, out)
