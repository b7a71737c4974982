"""The primary's timer heap for workflow executions (``server.extensions["workflow"]``).

Executions advance from ``loop.call_at`` timers, never from sleeping threads.  The heap holds
(due ms, db id, key) and is not replicated: it is rebuilt from the keys when the server starts and after
every load (RDB, DEBUG RELOAD, RESTORE: ExecutionValue.load_state bumps LOAD_GEN, the cron notices).  A
stale entry (key gone, execution finished, due moved) is skipped when it fires.  A fired timer computes
the transition with the interpreter and applies it through the dispatcher as ``WF._APPLY key patch``
from an internal primary client, so AOF and replicas get the resolved patch.  Replicas never fire.
"""
import asyncio
import base64
import heapq
import json
import random
import secrets
import time

from engine import registry
from engine.core import Client
from .asl import Env, next_due
from .asl.runtime import HISTORY_LIMIT
from .values import LOAD_GEN, ActivityValue, ExecutionValue


def now_ms():
    return int(time.time() * 1000)


def token_prefix(key):
    return base64.urlsafe_b64encode(key).decode().rstrip("=") + "~"


def key_of_token(token):
    head = token.split("~", 1)[0]
    try:
        return base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except (ValueError, TypeError):
        return None


def nested_target(db, arn, name, rng):
    """Where a states:startExecution task starts its child: {sm, execArn, version, alias} or {error, cause}."""
    from .commands import exec_arn, exec_key, qualified
    from .values import StateMachineValue
    head, sep, rest = arn.partition(":stateMachine:")
    if not sep or not rest:
        return {"error": "StepFunctions.InvalidArnException", "cause": f"Invalid Arn: '{arn}'"}
    parts = rest.split(":")
    smname, qual = parts[0], (parts[1] if len(parts) > 1 else None)
    e = db.find(smname.encode())
    if e is None or not isinstance(e.value, StateMachineValue):
        return {"error": "StepFunctions.StateMachineDoesNotExistException",
                "cause": f"State Machine Does Not Exist: '{arn}'"}
    definition, varn, aarn, err = qualified(e.value, qual, rng)
    if err is not None:
        return {"error": "StepFunctions.StateMachineDoesNotExistException", "cause": err.split(" ", 1)[1]}
    if db.find(exec_key(smname.encode(), name.encode())) is not None:
        return {"error": "StepFunctions.ExecutionAlreadyExistsException",
                "cause": f"Execution Already Exists: '{exec_arn(smname, name)}'"}
    return {"sm": smname, "execArn": exec_arn(smname, name), "version": varn, "alias": aarn}


def sqs_options(send):
    return {"delay": send.get("delay"), "attrs": [], "trace": None,
            "group": str(send["group"]).encode() if send.get("group") is not None else None,
            "dedup": str(send["dedup"]).encode() if send.get("dedup") is not None else None}


def sqs_check(db, send):
    """None when the message of an sqs:sendMessage task can go to that QUEUE, else (error, cause)."""
    from services.queue.commands import prepare_message
    from services.queue.common import AwsError
    from services.queue.value import QueueValue
    e = db.find(send["queue"].encode())
    if e is None or not isinstance(e.value, QueueValue):
        return ("SQS.QueueDoesNotExistException", "The specified queue does not exist.")
    try:
        prepare_message(e.value, send["body"].encode(), sqs_options(send), now_ms())
    except AwsError as err:
        return ("SQS." + err.name + ("" if err.name.endswith("Exception") else "Exception"), err.message)
    return None


class Workflow:
    def __init__(self, server):
        self.server = server
        self.heap = []
        self.handle = None
        self.handle_due = None
        self.seen_gen = -1
        self.time_scale = 1.0
        self.history_limit = HISTORY_LIMIT
        self.mock_config = {}
        self.rng = random.Random(secrets.randbits(64))
        self.client = None
        self.fired = 0

    # ------------------------------------------------------------------ environment
    def env(self, db, key):
        def activity_exists(name):
            e = db.find(name.encode())
            return e is not None and isinstance(e.value, ActivityValue)
        def nested(arn, name):
            return nested_target(db, arn, name, self.rng)

        def sqs(send):
            return sqs_check(db, send)

        def read_key(name):
            e = db.find(name.encode())
            return e.value if e is not None and isinstance(e.value, bytes) else None
        return Env(now_ms(), self.rng, self.time_scale, activity_exists, token_prefix(key),
                   history_limit=self.history_limit, nested=nested, sqs=sqs, read_key=read_key)

    def internal_client(self):
        if self.client is None:
            c = Client(self.server.ks, self.server, None, 0)
            c.is_master = True
            c.authenticated = True
            c.name = "workflow"
            self.client = c
        return self.client

    # ------------------------------------------------------------------ heap
    def schedule(self, dbid, key, due):
        if due is None:
            return
        heapq.heappush(self.heap, (due, dbid, key))
        self._arm()

    @staticmethod
    def loop():
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return None          # loading at startup: server_started arms the heap once the loop runs

    def _arm(self):
        loop = self.loop()
        if loop is None or not self.heap:
            return
        due = self.heap[0][0]
        if self.handle is not None and self.handle_due is not None and self.handle_due <= due:
            return
        if self.handle is not None:
            self.handle.cancel()
        delay = max(0.0, (due - now_ms()) / 1000.0)
        self.handle_due = due
        self.handle = loop.call_later(delay, self._fire)

    def rebuild(self):
        self.seen_gen = LOAD_GEN[0]
        self.heap = []
        for db in self.server.ks.dbs:
            for key, v in db.values_of_type(ExecutionValue):
                due = next_due(v.ex)
                if due is not None:
                    self.heap.append((due, db.id, key))
        heapq.heapify(self.heap)
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        self._arm()

    def cron(self):
        if self.server.ks.is_replica:
            return                      # a replica applies WF._APPLY effects only; a promotion re-arms below
        if LOAD_GEN[0] != self.seen_gen:
            self.rebuild()
        elif self.heap and self.handle is None:
            self._arm()

    def _fire(self):
        self.handle = None
        self.handle_due = None
        if self.server.ks.is_replica:
            return                      # only the primary runs timers; the cron re-arms after a promotion
        started = time.monotonic()
        now = now_ms()
        done = set()
        while self.heap and self.heap[0][0] <= now:
            due, dbid, key = heapq.heappop(self.heap)
            if (dbid, key) in done:
                continue
            done.add((dbid, key))
            self.step(dbid, key, now)
            if time.monotonic() - started > 0.05:
                break                  # never hold the loop for long: the rest fires on the next turn
        self._arm()

    def step(self, dbid, key, now):
        db = self.server.ks.dbs[dbid]
        e = db.find(key)
        if e is None or not isinstance(e.value, ExecutionValue):
            return
        ex = e.value.ex
        due = next_due(ex)
        if due is None:
            return
        if due > now:
            self.schedule(dbid, key, due)
            return
        self.fired += 1
        c = self.internal_client()
        c.select(dbid)
        # WF._FIRE computes the transition and commits it like any command (its effects: WF._APPLY, plus the
        # nested executions it starts or answers); it never reaches the AOF or a replica itself
        spec = registry.COMMANDS[b"wf._fire"]
        self.server.dispatcher.call(c, spec, [b"WF._FIRE", key])
        c.reply.truncate(0)          # waiters on the changed keys are served from the loop (engine/blocking.py)


def workflow_of(server):
    wf = server.extensions.get("workflow")
    if wf is None:
        wf = server.extensions["workflow"] = Workflow(server)
    return wf


def server_started(server):
    """Called once the server's loop runs (services.started): build the heap from the loaded keys (the
    optional Step Functions HTTP facade, ``stepfunctions-port``, starts with the other facades)."""
    workflow_of(server).rebuild()
