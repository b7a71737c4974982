"""The failover drill (``make drill``): a primary and a replica, 1,000 executions in flight through Wait states
and an activity answered by worker threads, kill -9 of the primary mid-run, REPLICAOF NO ONE on the replica, and
every execution ends exactly once with the right output on the promoted replica.

Replication is asynchronous (as in Redis): the last transitions before the crash may be lost.  An activity task
whose ActivityStarted reached the replica but whose answer did not is recovered by the task's TimeoutSeconds and a
Retry on States.Timeout (a new token is queued), which is the at-least-once contract AWS gives activities."""
import json
import threading
import time

import pytest
import redis

from services.workflow.asl.runtime import fold
from tests.replication.helpers import wait_caught_up, wait_link_up
from tests.support.servers import start_cachemere, wait_for

N = 1000
MACHINE = json.dumps({"StartAt": "W", "States": {
    "W": {"Type": "Wait", "SecondsPath": "$.w", "Next": "T"},
    "T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:000000000000:activity:jobs", "TimeoutSeconds": 40,
          "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 20, "BackoffRate": 1}],
          "ResultPath": "$.r", "Next": "W2"},
    "W2": {"Type": "Wait", "Seconds": 5, "Next": "P"},
    "P": {"Type": "Pass", "Parameters": {"n.$": "$.n", "r.$": "$.r.r"}, "End": True}}})


def c(s):
    return redis.Redis(port=s.port, decode_responses=True, protocol=3, socket_timeout=5)


class Workers:
    def __init__(self, srv, n=4):
        self.target = srv
        self.stop = False
        self.answered = 0
        self.errors = 0
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(n)]
        for t in self.threads:
            t.start()

    def run(self, i):
        conn, port = None, None
        deadline = time.monotonic() + 300
        while not self.stop and time.monotonic() < deadline:
            try:
                if conn is None or port != self.target.port:
                    port = self.target.port
                    conn = c(self.target)
                got = conn.execute_command("WF.POLL", "jobs", "WORKER", f"w{i}", "BLOCK", "200")
                if got is None:
                    continue
                token, inp = got
                n = json.loads(inp)["n"]
                try:
                    conn.execute_command("WF.TASK", "SUCCESS", token, json.dumps({"r": n * 2}))
                    self.answered += 1
                except redis.ResponseError:
                    self.errors += 1                      # a task that timed out meanwhile (retried)
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                conn = None
                time.sleep(0.05)


@pytest.mark.drill
def test_failover_drill_1000_executions_finish_exactly_once():
    primary = start_cachemere()
    replica = start_cachemere("--replicaof", "127.0.0.1", primary.port)
    workers = None
    try:
        p, r = c(primary), c(replica)
        wait_link_up(replica)
        for x in (p, r):
            x.execute_command("WF.CONFIG", "SET", "time-scale", "0.1")
        p.execute_command("WF.ACTIVITY", "CREATE", "jobs")
        p.execute_command("WF.CREATE", "drill", MACHINE)
        pipe = p.pipeline(transaction=False)
        for i in range(N):
            w = (i % 10) * 3 if i % 4 else 60           # a quarter wait 6 s (scaled): across the failover
            pipe.execute_command("WF.START", "drill", "NAME", f"e{i}", "INPUT", json.dumps({"n": i, "w": w}))
        keys = [x["exec"] for x in pipe.execute()]
        wait_caught_up(primary, replica, timeout=30)
        workers = Workers(primary)
        t0 = time.monotonic()
        wait_for(lambda: len(p.execute_command("WF.EXECUTIONS", "drill", "STATUS", "SUCCEEDED", "COUNT", N)) >= N // 5,
                 timeout=60)
        before = {"succeeded": len(p.execute_command("WF.EXECUTIONS", "drill", "STATUS", "SUCCEEDED", "COUNT", N))}
        primary.kill9()                                   # mid-run: waits, activities and answers in flight
        kill_at = time.monotonic()
        r.execute_command("REPLICAOF", "NO", "ONE")
        workers.target = replica
        on_replica = r.execute_command("WF.EXECUTIONS", "drill", "COUNT", N)
        assert len(on_replica) == N                       # every start had reached the replica
        wait_for(lambda: len(r.execute_command("WF.EXECUTIONS", "drill", "STATUS", "SUCCEEDED", "COUNT", N)) == N,
                 timeout=120, interval=0.5)
        recovered = time.monotonic() - kill_at
        for i, key in enumerate(keys):
            d = r.execute_command("WF.EXEC", key)
            assert d["status"] == "SUCCEEDED", (key, d)
            assert json.loads(d["output"]) == {"n": i, "r": 2 * i}
            h = r.execute_command("WF.HISTORY", key)
            assert [e["id"] for e in h] == list(range(1, len(h) + 1))
            types = [e["type"] for e in h]
            assert types.count("ExecutionStarted") == 1 and types.count("ExecutionSucceeded") == 1
            assert types.count("ActivitySucceeded") == 1 and types.count("WaitStateExited") == 2
            f = fold(h)
            assert f["status"] == "SUCCEEDED" and f["output"] == {"n": i, "r": 2 * i} and f["open"] == {}
        assert r.execute_command("WF.POLL", "jobs") is None          # no task left behind
        print(f"\ndrill: {N} executions, {before['succeeded']} done before the kill, all done "
              f"{recovered:.1f} s after it, {time.monotonic() - t0:.1f} s in all; worker answers {workers.answered}, "
              f"late answers refused {workers.errors}")
    finally:
        if workers is not None:
            workers.stop = True
        replica.stop()
        primary.stop()
