"""sqs:sendMessage[.waitForTaskToken] onto a Cachemere QUEUE (a worker receives the token and answers with
WF.TASK SUCCESS), the send in the same unit as the transition's WF._APPLY, and task tokens that cannot be forged
(an HMAC with the execution's secret, kept with the data: valid after a restart and on a promoted replica)."""
import glob
import json
import os

import pytest
import redis

from tests.support.servers import start_cachemere, wait_for

URL = "http://127.0.0.1/000000000000/"


def machine(queue="jobs", callback=True, extra=None):
    st = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage" + (".waitForTaskToken" if callback else ""),
          "Parameters": {"QueueUrl": URL + queue, "MessageBody": {"n.$": "$.n"}}, "End": True}
    if callback:
        st["Parameters"]["MessageBody"]["token.$"] = "$$.Task.Token"
    st.update(extra or {})
    return json.dumps({"StartAt": "T", "States": {"T": st}})


def client(s):
    return redis.Redis(port=s.port, decode_responses=True, protocol=3)


@pytest.fixture(scope="module")
def srv():
    s = start_cachemere("--appendonly", "yes", "--appendfsync", "always")
    yield s
    s.stop()


@pytest.fixture
def r(srv):
    c = client(srv)
    c.flushall()
    yield c
    c.close()


def test_a_worker_receives_the_token_from_the_queue_and_completes_the_task(srv, r):
    r.execute_command("QUEUE.CREATE", "jobs")
    r.execute_command("WF.CREATE", "sm", machine())
    key = r.execute_command("WF.START", "sm", "NAME", "a", "INPUT", '{"n":4}')["exec"]
    [msg] = r.execute_command("QUEUE.RECV", "jobs")
    body = json.loads(msg["Body"])
    assert body["n"] == 4
    pending = r.execute_command("WF.EXEC", key)["pendingTasks"]
    assert pending[0]["token"] == body["token"]
    h = r.execute_command("WF.HISTORY", key)
    sub = next(e for e in h if e["type"] == "TaskSubmitted")["taskSubmittedEventDetails"]
    assert json.loads(sub["output"])["MessageId"] == msg["MessageId"]          # the id drawn by the transition
    assert r.execute_command("WF.TASK", "SUCCESS", body["token"], '{"done":1}') == "OK"
    r.execute_command("QUEUE.DELETE", "jobs", msg["ReceiptHandle"])
    d = r.execute_command("WF.EXEC", key)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"done": 1}
    # the send and the transition are effects of the same unit in the AOF
    data = b"".join(open(p, "rb").read() for p in glob.glob(os.path.join(srv.dir, "appendonlydir", "*.incr.aof")))
    i = data.rfind(b"QUEUE._PUT")
    assert i > 0 and data.rfind(b"MULTI", 0, i) > data.rfind(b"EXEC\r\n", 0, i)


def test_plain_send_message_and_missing_queue(r):
    r.execute_command("QUEUE.CREATE", "out")
    r.execute_command("WF.CREATE", "plain", machine("out", callback=False))
    d = r.execute_command("WF.EXEC", r.execute_command("WF.START", "plain", "INPUT", '{"n":1}')["exec"])
    assert d["status"] == "SUCCEEDED"
    out = json.loads(d["output"])
    [msg] = r.execute_command("QUEUE.RECV", "out")
    assert out["MessageId"] == msg["MessageId"] and out["MD5OfMessageBody"] == msg["MD5OfBody"]
    m = json.loads(machine("nope"))
    m["States"]["T"]["Catch"] = [{"ErrorEquals": ["SQS.QueueDoesNotExistException"], "Next": "H"}]
    m["States"]["H"] = {"Type": "Pass", "Result": "caught", "End": True}
    r.execute_command("WF.CREATE", "nowhere", json.dumps(m))
    d = r.execute_command("WF.EXEC", r.execute_command("WF.START", "nowhere", "INPUT", '{"n":1}')["exec"])
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == "caught"


def test_fifo_queue_gets_group_and_dedup(r):
    r.execute_command("QUEUE.CREATE", "f.fifo", "FIFO")
    r.execute_command("WF.CREATE", "ff", machine("f.fifo", extra={"Parameters": {
        "QueueUrl": URL + "f.fifo", "MessageBody.$": "$.n", "MessageGroupId": "g", "MessageDeduplicationId.$": "$.d"}}))
    for n in (1, 2):
        r.execute_command("WF.START", "ff", "INPUT", json.dumps({"n": "same", "d": "x"}))
    assert len(r.execute_command("QUEUE.PEEK", "f.fifo", "COUNT", "10")) == 1        # deduplicated by the queue
    r.execute_command("WF.CREATE", "nogroup", machine("f.fifo"))
    d = r.execute_command("WF.EXEC", r.execute_command("WF.START", "nogroup", "INPUT", '{"n":1}')["exec"])
    assert d["status"] == "FAILED" and d["error"] == "SQS.MissingParameterException"


def test_forged_tokens_are_refused(r):
    r.execute_command("WF.CREATE", "cb", json.dumps({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True}}}))
    key = r.execute_command("WF.START", "cb", "NAME", "t")["exec"]
    token = r.execute_command("WF.EXEC", key)["pendingTasks"][0]["token"]
    head, mac = token.rsplit(".", 1)
    prefix, body = head.split("~", 1)
    fid, attempt, rnd = body.split(".")
    forged = [head + "." + ("A" if mac[0] != "A" else "B") + mac[1:],             # a changed MAC
              f"{prefix}~{fid}.{int(attempt) + 1}.{rnd}.{mac}",                   # another attempt, same MAC
              head]                                                               # no MAC
    for t in forged:
        with pytest.raises(redis.ResponseError, match="^INVALIDTOKEN"):
            r.execute_command("WF.TASK", "SUCCESS", t, "{}")
    other = r.execute_command("WF.START", "cb", "NAME", "u")["exec"]
    t2 = r.execute_command("WF.EXEC", other)["pendingTasks"][0]["token"]
    moved = token.split("~")[0] + "~" + t2.split("~")[1]                          # another execution's token body
    with pytest.raises(redis.ResponseError, match="^INVALIDTOKEN"):
        r.execute_command("WF.TASK", "SUCCESS", moved, "{}")
    assert r.execute_command("WF.EXEC", key)["status"] == "RUNNING"
    assert "secret" not in r.execute_command("WF.EXEC", key)
    assert r.execute_command("WF.TASK", "SUCCESS", token, '"ok"') == "OK"
    with pytest.raises(redis.ResponseError, match="^TASKTIMEDOUT"):            # genuine but no longer pending
        r.execute_command("WF.TASK", "SUCCESS", token, '"ok"')


def test_tokens_stay_valid_after_restart_and_on_a_promoted_replica():
    s = start_cachemere("--appendonly", "yes", "--appendfsync", "always")
    replica = None
    try:
        r = client(s)
        r.execute_command("WF.CREATE", "cb", machine("jobs"))
        r.execute_command("QUEUE.CREATE", "jobs")
        k1 = r.execute_command("WF.START", "cb", "NAME", "one", "INPUT", '{"n":1}')["exec"]
        k2 = r.execute_command("WF.START", "cb", "NAME", "two", "INPUT", '{"n":2}')["exec"]
        toks = {json.loads(m["Body"])["n"]: json.loads(m["Body"])["token"]
                for m in r.execute_command("QUEUE.RECV", "jobs", "COUNT", "10")}
        s.kill9()
        s = start_cachemere("--appendonly", "yes", workdir=s.dir)
        r = client(s)
        assert r.execute_command("WF.TASK", "SUCCESS", toks[1], '"after restart"') == "OK"
        assert json.loads(r.execute_command("WF.EXEC", k1)["output"]) == "after restart"
        replica = start_cachemere("--replicaof", "127.0.0.1", s.port)
        rr = client(replica)
        wait_for(lambda: rr.exists(k2) and rr.execute_command("WF.EXEC", k1)["status"] == "SUCCEEDED", timeout=10)
        s.kill9()
        rr.execute_command("REPLICAOF", "NO", "ONE")
        with pytest.raises(redis.ResponseError, match="^INVALIDTOKEN"):
            rr.execute_command("WF.TASK", "SUCCESS", toks[2][:-2] + "zz", "{}")
        assert rr.execute_command("WF.TASK", "SUCCESS", toks[2], '"after failover"') == "OK"
        assert json.loads(rr.execute_command("WF.EXEC", k2)["output"]) == "after failover"
    finally:
        s.stop()
        if replica is not None:
            replica.stop()


def test_the_send_reaches_a_replica_with_the_transition(srv, r):
    replica = start_cachemere("--replicaof", "127.0.0.1", srv.port)
    try:
        rr = client(replica)
        wait_for(lambda: rr.info("replication")["master_link_status"] == "up", timeout=10)
        r.execute_command("QUEUE.CREATE", "jobs")
        r.execute_command("WF.CREATE", "sm", machine())
        key = r.execute_command("WF.START", "sm", "NAME", "rep", "INPUT", '{"n":8}')["exec"]
        h = r.execute_command("WF.HISTORY", key)
        wait_for(lambda: rr.exists(key) and rr.execute_command("WF.HISTORY", key) == h, timeout=10)
        [theirs] = rr.execute_command("QUEUE.PEEK", "jobs")
        [ours] = r.execute_command("QUEUE.PEEK", "jobs")
        assert theirs["MessageId"] == ours["MessageId"] and json.loads(theirs["Body"])["n"] == 8
    finally:
        replica.stop()
