"""Workflow service figures: executions started and completed per second (5-state Pass/Choice machine),
bytes per waiting execution (10,000 in a Wait state), activity round trip (start -> POLL -> TASK SUCCESS
-> SUCCEEDED) p50/p99.  Starts its own cachemere-server on a free loopback port.

    .venv/bin/python -m bench.workflow [--n 20000] [--waiting 10000] [--rounds 300]

moto's interpreter (the issue's side-by-side reference) is not installed in this environment; when
``moto`` is importable the same Pass/Choice machine is run in process and its rate printed next to ours.
"""
import argparse
import json
import sys
import time

import redis

from tests.support.servers import start_cachemere

FIVE = json.dumps({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.n", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "B"}], "Default": "D"},
    "B": {"Type": "Pass", "Result": "b", "ResultPath": "$.r", "Next": "E"},
    "D": {"Type": "Pass", "Result": "d", "ResultPath": "$.r", "Next": "E"},
    "E": {"Type": "Succeed"}}})
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
ACT = json.dumps({"StartAt": "T", "States": {"T": {"Type": "Task", "End": True,
                  "Resource": "arn:aws:states:us-east-1:000000000000:activity:bench"}}})


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    import os
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(r, n, pid):
    r.execute_command("WF.CREATE", "five", FIVE)
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.execute_command("WF.START", "five", "NAME", f"e{i}", "INPUT", '{"x":1}')
        if len(pipe) >= 500:
            pipe.execute()
    pipe.execute()
    dt = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    last = r.execute_command("WF.EXEC", "{five}:e%d" % (n - 1))
    assert last[b"status"] == b"SUCCEEDED", last
    return n / dt, n / max(cpu, 1e-9)


def waiting_bytes(r, n):
    r.execute_command("WF.CREATE", "wait", WAIT)
    before = r.info("memory")["used_memory"]
    rss0 = r.info("memory")["used_memory_rss"]
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.execute_command("WF.START", "wait", "NAME", f"w{i}")
        if len(pipe) >= 500:
            pipe.execute()
    pipe.execute()
    after = r.info("memory")["used_memory"]
    rss1 = r.info("memory")["used_memory_rss"]
    return (after - before) / n, (rss1 - rss0) / n


def activity_rtt(r, rounds):
    r.execute_command("WF.ACTIVITY", "CREATE", "bench")
    r.execute_command("WF.CREATE", "act", ACT)
    lat = []
    for i in range(rounds):
        t0 = time.perf_counter()
        key = r.execute_command("WF.START", "act", "NAME", f"a{i}")[b"exec"]
        token, _ = r.execute_command("WF.POLL", "bench", "BLOCK", "1000")
        r.execute_command("WF.TASK", "SUCCESS", token, "{}")
        assert r.execute_command("WF.EXEC", key)[b"status"] == b"SUCCEEDED"
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def moto_rate(n):
    try:
        import boto3
        from moto import mock_aws
    except ImportError:
        return None
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sf = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sf.create_state_machine(name="five", definition=FIVE,
                                      roleArn="arn:aws:iam::123456789012:role/x")["stateMachineArn"]
        t0 = time.perf_counter()
        for i in range(n):
            sf.start_execution(stateMachineArn=arn, name=f"e{i}", input="{}")
        return n / (time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--waiting", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args(argv)
    srv = start_cachemere()
    try:
        r = redis.Redis(port=srv.port, protocol=3)
        per_sec, per_cpu = rate(r, args.n, srv.proc.pid)
        print(f"five-state Pass/Choice executions started+completed: {per_sec:,.0f}/s wall ({args.n} pipelined, "
              f"one redis-py client), {per_cpu:,.0f} per server CPU-second")
        per_exec, per_rss = waiting_bytes(r, args.waiting)
        print(f"waiting executions: {args.waiting} held, {per_exec:,.0f} bytes each (used_memory estimate), "
              f"{per_rss:,.0f} bytes each (RSS delta)")
        p50, p99 = activity_rtt(r, args.rounds)
        print(f"activity round trip (START, POLL, TASK SUCCESS, EXEC): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    finally:
        srv.stop()
    m = moto_rate(min(args.n, 200))
    if m is None:
        print("moto: not installed here, no side-by-side figure")
    else:
        print(f"moto in process: {m:,.0f}/s  (ratio cachemere/moto {per_sec / m:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
