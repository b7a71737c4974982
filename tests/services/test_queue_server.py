"""QUEUE.* against the real server process (redis-py): SQS semantics, long polls, effects, persistence."""
import hashlib
import json
import os
import threading
import time

import pytest
import redis

from tests.support.servers import start_cachemere


@pytest.fixture(scope="module")
def srv():
    s = start_cachemere("--appendonly", "yes", "--appendfsync", "always", "--enable-debug-command", "yes")
    yield s
    s.stop()


@pytest.fixture
def r(srv):
    conn = redis.Redis(port=srv.port)
    conn.flushall()
    yield conn
    conn.close()


def q(r, *args):
    return r.execute_command(*args)


def err(r, *args):
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command(*args)
    return str(ei.value)


def recv(r, key, *opts):
    return q(r, "QUEUE.RECV", key, *opts)


# ------------------------------------------------------------------------------------------------ basics
def test_send_recv_delete_cycle_and_md5(r):
    assert q(r, "QUEUE.CREATE", "jobs") == b"OK"
    assert q(r, "QUEUE.CREATE", "jobs") == b"OK"                          # idempotent
    assert "QueueNameExists" in err(r, "QUEUE.CREATE", "jobs", "VISIBILITY", "5")
    rep = q(r, "QUEUE.SEND", "jobs", "hello")
    assert rep[b"MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest().encode()
    assert b"MD5OfMessageAttributes" not in rep
    assert r.type("jobs") == b"queue"
    assert q(r, "QUEUE.LEN", "jobs") == {b"visible": 1, b"inflight": 0, b"delayed": 0}
    [m] = recv(r, "jobs", "COUNT", "10")
    assert m[b"Body"] == b"hello" and m[b"MessageId"] == rep[b"MessageId"]
    assert m[b"Attributes"][b"ApproximateReceiveCount"] == b"1"
    assert recv(r, "jobs") == []                                           # in flight
    assert q(r, "QUEUE.LEN", "jobs") == {b"visible": 0, b"inflight": 1, b"delayed": 0}
    assert q(r, "QUEUE.DELETE", "jobs", m[b"ReceiptHandle"]) == b"OK"
    assert q(r, "QUEUE.DELETE", "jobs", m[b"ReceiptHandle"]) == b"OK"      # already gone: success, as SQS
    assert q(r, "QUEUE.LEN", "jobs") == {b"visible": 0, b"inflight": 0, b"delayed": 0}


def test_md5_of_message_attributes_matches_sqs_vector(r):
    # the value SQS (and botocore's checksum validation) computes for these attributes
    q(r, "QUEUE.CREATE", "md5")
    rep = q(r, "QUEUE.SEND", "md5", "body", "ATTR", "b", "Number", "1", "ATTR", "a", "String", "x",
            "ATTR", "c", "Binary", b"\x00\x01")
    import struct

    def enc(x):
        return struct.pack(">I", len(x)) + x
    raw = (enc(b"a") + enc(b"String") + b"\x01" + enc(b"x") + enc(b"b") + enc(b"Number") + b"\x01" + enc(b"1")
           + enc(b"c") + enc(b"Binary") + b"\x02" + enc(b"\x00\x01"))
    assert rep[b"MD5OfMessageAttributes"] == hashlib.md5(raw).hexdigest().encode()
    [m] = recv(r, "md5")
    assert m[b"MD5OfMessageAttributes"] == rep[b"MD5OfMessageAttributes"]
    assert m[b"MessageAttributes"][b"c"] == {b"DataType": b"Binary", b"BinaryValue": b"\x00\x01"}


def test_limits_with_aws_error_names_nothing_applied(r):
    q(r, "QUEUE.CREATE", "lim", "MAXSIZE", "1024")
    assert err(r, "QUEUE.SEND", "lim", "x" * 1025).startswith(
        "InvalidParameterValue One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.")
    assert err(r, "QUEUE.SEND", "lim", "x", "DELAY", "901").startswith("InvalidParameterValue Value 901 for parameter "
                                                                       "DelaySeconds is invalid.")
    assert err(r, "QUEUE.SEND", "lim", b"\x01bad").startswith("InvalidMessageContents")
    assert err(r, "QUEUE.SEND", "lim", "").startswith("MissingParameter")
    attrs = []
    for i in range(11):
        attrs += ["ATTR", "a%d" % i, "String", "v"]
    assert "exceeds the allowed maximum [10]" in err(r, "QUEUE.SEND", "lim", "x", *attrs)
    assert err(r, "QUEUE.SEND", "lim", "x", "ATTR", "n", "Number", "abc").startswith("InvalidParameterValue")
    assert err(r, "QUEUE.SEND", "lim", "x", "ATTR", "AWS.x", "String", "v").startswith("InvalidParameterValue")
    assert err(r, "QUEUE.RECV", "lim", "COUNT", "11").startswith(
        "InvalidParameterValue Value 11 for parameter MaxNumberOfMessages is invalid.")
    assert err(r, "QUEUE.RECV", "lim", "WAIT", "21").startswith("InvalidParameterValue")
    assert err(r, "QUEUE.RECV", "lim", "VISIBILITY", "43201").startswith("InvalidParameterValue")
    assert err(r, "QUEUE.DELETE", "lim", "garbage").startswith("ReceiptHandleIsInvalid")
    assert err(r, "QUEUE.SEND", "nosuch", "x").startswith("QueueDoesNotExist")
    assert err(r, "QUEUE.SETATTR", "lim", "VisibilityTimeout", "10", "DelaySeconds", "9999").startswith(
        "InvalidAttributeValue")
    assert q(r, "QUEUE.GETATTR", "lim", "VisibilityTimeout") == {b"VisibilityTimeout": b"30"}   # not half-applied
    assert err(r, "QUEUE.SETATTR", "lim", "Bogus", "1").startswith("InvalidAttributeName")
    assert q(r, "QUEUE.LEN", "lim") == {b"visible": 0, b"inflight": 0, b"delayed": 0}
    r.set("str", "x")
    assert err(r, "QUEUE.SEND", "str", "x").startswith("WRONGTYPE")
    assert "unknown command" in err(r, "QUEUE._PUT", "lim", "{}")              # internal effects refused


def test_batches_per_entry_and_request_errors(r):
    q(r, "QUEUE.CREATE", "b")
    args = []
    for i in range(11):
        args += ["ENTRY", "e%d" % i, "m%d" % i]
    assert err(r, "QUEUE.SENDBATCH", "b", *args).startswith("TooManyEntriesInBatchRequest")
    assert err(r, "QUEUE.SENDBATCH", "b", "ENTRY", "x", "1", "ENTRY", "x", "2").startswith("BatchEntryIdsNotDistinct")
    assert err(r, "QUEUE.SENDBATCH", "b", "ENTRY", "a", "x" * 600000, "ENTRY", "b", "y" * 600000).startswith(
        "BatchRequestTooLong")
    assert q(r, "QUEUE.LEN", "b")[b"visible"] == 0
    res = q(r, "QUEUE.SENDBATCH", "b", "ENTRY", "ok1", "one", "ENTRY", "bad", "two", "DELAY", "1000",
            "ENTRY", "ok2", "three", "ATTR", "k", "String", "v")
    assert [x[b"Id"] for x in res] == [b"ok1", b"bad", b"ok2"]
    assert res[1][b"Code"] == b"InvalidParameterValue" and res[1][b"SenderFault"] == 1
    assert b"MD5OfMessageAttributes" in res[2]
    msgs = recv(r, "b", "COUNT", "10")
    assert sorted(m[b"Body"] for m in msgs) == [b"one", b"three"]
    out = q(r, "QUEUE.DELETE", "b", msgs[0][b"ReceiptHandle"], "junk", msgs[1][b"ReceiptHandle"])
    assert out[0] == b"OK" and out[2] == b"OK" and isinstance(out[1], redis.ResponseError)


def test_visibility_changevis_nack_and_stale_receipts(r):
    q(r, "QUEUE.CREATE", "v", "VISIBILITY", "30")
    q(r, "QUEUE.SEND", "v", "m")
    [m1] = recv(r, "v", "VISIBILITY", "1")
    time.sleep(1.1)
    [m2] = recv(r, "v")
    assert m2[b"Attributes"][b"ApproximateReceiveCount"] == b"2"
    assert m2[b"ReceiptHandle"] != m1[b"ReceiptHandle"]
    assert err(r, "QUEUE.DELETE", "v", m1[b"ReceiptHandle"]).startswith("ReceiptHandleIsInvalid")   # stale
    assert q(r, "QUEUE.CHANGEVIS", "v", m2[b"ReceiptHandle"], "0") == b"OK"
    [m3] = recv(r, "v")
    assert q(r, "QUEUE.NACK", "v", m3[b"ReceiptHandle"], "DELAY", "1") == b"OK"
    assert q(r, "QUEUE.LEN", "v")[b"inflight"] == 1
    assert recv(r, "v") == []
    assert err(r, "QUEUE.CHANGEVIS", "v", m3[b"ReceiptHandle"], "43201").startswith("InvalidParameterValue")
    time.sleep(1.1)
    assert len(recv(r, "v")) == 1
    peek = q(r, "QUEUE.PEEK", "v", "STATE", "ALL")
    assert peek[0][b"State"] == b"inflight" and b"ReceiptHandle" not in peek[0]


def test_delay_purge_retention(r):
    q(r, "QUEUE.CREATE", "d", "DELAY", "1")
    q(r, "QUEUE.SEND", "d", "later")
    q(r, "QUEUE.SEND", "d", "now", "DELAY", "0")
    assert q(r, "QUEUE.LEN", "d") == {b"visible": 1, b"inflight": 0, b"delayed": 1}
    assert [m[b"Body"] for m in recv(r, "d", "COUNT", "10")] == [b"now"]
    time.sleep(1.1)
    assert [m[b"Body"] for m in recv(r, "d", "COUNT", "10")] == [b"later"]
    assert q(r, "QUEUE.PURGE", "d") == b"OK"
    assert err(r, "QUEUE.PURGE", "d").startswith("PurgeQueueInProgress")
    q(r, "QUEUE.CREATE", "ret", "RETENTION", "60")
    assert err(r, "QUEUE.CREATE", "ret2", "RETENTION", "59").startswith("InvalidAttributeValue")


# ------------------------------------------------------------------------------------------------ long poll
def _timed_recv(port, key, wait, out):
    c = redis.Redis(port=port)
    t = time.monotonic()
    out.append((c.execute_command("QUEUE.RECV", key, "WAIT", wait), time.monotonic() - t))
    c.close()


@pytest.mark.parametrize("how", ["send", "visibility", "delay", "timeout"])
def test_long_poll_woken(r, srv, how):
    q(r, "QUEUE.CREATE", "lp")
    if how == "visibility":
        q(r, "QUEUE.SEND", "lp", "x")
        recv(r, "lp", "VISIBILITY", "1")
    elif how == "delay":
        q(r, "QUEUE.SEND", "lp", "x", "DELAY", "1")
    out = []
    t = threading.Thread(target=_timed_recv, args=(srv.port, "lp", "2" if how == "timeout" else "5", out))
    t.start()
    time.sleep(0.2)
    if how == "send":
        q(r, "QUEUE.SEND", "lp", "x")
    t.join(10)
    msgs, elapsed = out[0]
    if how == "timeout":
        assert msgs == [] and 1.9 < elapsed < 4
    elif how == "send":
        assert len(msgs) == 1 and elapsed < 1.0           # woken by the send (0.2 s after blocking), not the 5 s deadline
    else:
        assert len(msgs) == 1 and 0.9 < elapsed < 2.5     # woken at the due time, long before the 5 s deadline


def test_long_poll_fifo_group_unlock_wakes(r, srv):
    q(r, "QUEUE.CREATE", "g.fifo", "FIFO", "CONTENTDEDUP")
    q(r, "QUEUE.SEND", "g.fifo", "a", "GROUP", "g1")
    q(r, "QUEUE.SEND", "g.fifo", "b", "GROUP", "g1")
    [m] = recv(r, "g.fifo")
    out = []
    t = threading.Thread(target=_timed_recv, args=(srv.port, "g.fifo", "5", out))
    t.start()
    time.sleep(0.2)
    q(r, "QUEUE.DELETE", "g.fifo", m[b"ReceiptHandle"])
    t.join(10)
    assert [x[b"Body"] for x in out[0][0]] == [b"b"] and out[0][1] < 1.5


# ------------------------------------------------------------------------------------------------ FIFO
def test_fifo_order_group_lock_dedup_attempts(r):
    assert err(r, "QUEUE.CREATE", "plain", "FIFO").startswith("InvalidParameterValue")
    q(r, "QUEUE.CREATE", "f.fifo")
    assert err(r, "QUEUE.SEND", "f.fifo", "x").startswith("MissingParameter")
    assert err(r, "QUEUE.SEND", "f.fifo", "x", "GROUP", "g").startswith("InvalidParameterValue The queue should")
    assert err(r, "QUEUE.SEND", "f.fifo", "x", "GROUP", "g", "DEDUP", "d", "DELAY", "5").startswith(
        "InvalidParameterValue")
    r1 = q(r, "QUEUE.SEND", "f.fifo", "a1", "GROUP", "A", "DEDUP", "1")
    r1b = q(r, "QUEUE.SEND", "f.fifo", "a1-again", "GROUP", "A", "DEDUP", "1")
    assert r1b[b"MessageId"] == r1[b"MessageId"] and r1b[b"SequenceNumber"] == r1[b"SequenceNumber"]
    q(r, "QUEUE.SEND", "f.fifo", "a2", "GROUP", "A", "DEDUP", "2")
    q(r, "QUEUE.SEND", "f.fifo", "b1", "GROUP", "B", "DEDUP", "3")
    got = recv(r, "f.fifo", "COUNT", "1", "ATTEMPT", "try1")
    assert [m[b"Body"] for m in got] == [b"a1"]
    again = recv(r, "f.fifo", "COUNT", "1", "ATTEMPT", "try1")                  # retried receive: same answer
    assert again[0][b"ReceiptHandle"] == got[0][b"ReceiptHandle"]
    # group A is locked while a1 is in flight: only B is served
    assert [m[b"Body"] for m in recv(r, "f.fifo", "COUNT", "10")] == [b"b1"]
    assert recv(r, "f.fifo", "COUNT", "10") == []
    q(r, "QUEUE.DELETE", "f.fifo", got[0][b"ReceiptHandle"])
    [a2] = recv(r, "f.fifo", "COUNT", "10")
    assert a2[b"Body"] == b"a2" and a2[b"Attributes"][b"MessageGroupId"] == b"A"
    # deleting does not forget the dedup id (elasticmq#354)
    assert q(r, "QUEUE.SEND", "f.fifo", "a1", "GROUP", "A", "DEDUP", "1")[b"MessageId"] == r1[b"MessageId"]
    # content-based dedup
    q(r, "QUEUE.CREATE", "c.fifo", "CONTENTDEDUP")
    x = q(r, "QUEUE.SEND", "c.fifo", "same", "GROUP", "g")
    y = q(r, "QUEUE.SEND", "c.fifo", "same", "GROUP", "g")
    assert x[b"MessageId"] == y[b"MessageId"]
    [m] = recv(r, "c.fifo")
    assert m[b"Attributes"][b"MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest().encode()


def test_fifo_expired_receipt_rejected(r):
    q(r, "QUEUE.CREATE", "e.fifo", "CONTENTDEDUP")
    q(r, "QUEUE.SEND", "e.fifo", "a", "GROUP", "g")
    [m] = recv(r, "e.fifo", "VISIBILITY", "1")
    time.sleep(1.1)
    assert err(r, "QUEUE.DELETE", "e.fifo", m[b"ReceiptHandle"]) == "ReceiptHandleIsInvalid The receipt handle has expired."


# ------------------------------------------------------------------------------------------------ DLQ
def test_dlq_redrive_on_receive_after_max_and_move_back(r):
    q(r, "QUEUE.CREATE", "dead")
    q(r, "QUEUE.CREATE", "src", "DLQ", "dead", "MAXRECEIVE", "2")
    assert json.loads(q(r, "QUEUE.GETATTR", "src", "RedrivePolicy")[b"RedrivePolicy"])["maxReceiveCount"] == 2
    assert err(r, "QUEUE.CREATE", "src2", "DLQ", "nosuch", "MAXRECEIVE", "2").startswith("InvalidParameterValue")
    q(r, "QUEUE.SEND", "src", "poison")
    for _ in range(2):
        assert len(recv(r, "src", "VISIBILITY", "0")) == 1
    assert recv(r, "src", "VISIBILITY", "0") == []                # 3rd receive moves it
    [m] = recv(r, "dead")
    assert m[b"Body"] == b"poison"
    assert m[b"Attributes"][b"DeadLetterQueueSourceArn"] == b"arn:aws:sqs:us-east-1:000000000000:src"
    assert q(r, "QUEUE.DLQSOURCES", "dead") == [b"src"]
    q(r, "QUEUE.CHANGEVIS", "dead", m[b"ReceiptHandle"], "0")
    res = q(r, "QUEUE.MOVETASK", "START", "dead")
    assert res[b"ApproximateNumberOfMessagesMoved"] == 1
    assert [x[b"Body"] for x in recv(r, "src")] == [b"poison"]
    [task] = q(r, "QUEUE.MOVETASK", "LIST", "dead")
    assert task[b"TaskHandle"] == res[b"TaskHandle"] and task[b"Status"] == b"COMPLETED"
    assert task[b"SourceArn"] == b"arn:aws:sqs:us-east-1:000000000000:dead"
    assert err(r, "QUEUE.MOVETASK", "CANCEL", "dead", res[b"TaskHandle"]).startswith("UnsupportedOperation")
    assert err(r, "QUEUE.MOVETASK", "START", "src").startswith(
        "InvalidParameterValue Source queue must be configured as a Dead Letter Queue.")
    assert err(r, "QUEUE.MOVETASK", "START", "nosuch").startswith("ResourceNotFoundException")


# ------------------------------------------------------------------------------------------------ commands
def test_command_docs_list_and_drop(r, srv):
    raw = redis.Redis(port=srv.port)
    raw.response_callbacks.pop("COMMAND", None)
    docs = raw.execute_command("COMMAND", "DOCS", "QUEUE.SEND")
    assert docs[b"queue.send"][b"group"] == b"module"
    names = raw.execute_command("COMMAND", "LIST")
    assert b"queue.recv" in names and b"queue._put" not in names
    [info] = raw.execute_command("COMMAND", "INFO", "QUEUE.RECV")
    assert b"blocking" in info[2] and b"@blocking" in info[6]
    q(r, "QUEUE.CREATE", "l1")
    q(r, "QUEUE.CREATE", "l2")
    assert q(r, "QUEUE.LIST") == [b"l1", b"l2"]
    assert q(r, "QUEUE.LIST", "PREFIX", "l2") == [b"l2"]
    assert q(r, "QUEUE.DROP", "l1") == b"OK"
    assert q(r, "QUEUE.LIST") == [b"l2"]


def test_recv_in_multi_does_not_block(r):
    q(r, "QUEUE.CREATE", "m")
    p = r.pipeline(transaction=True)
    p.execute_command("QUEUE.RECV", "m", "WAIT", "5")
    t = time.monotonic()
    assert p.execute() == [[]]
    assert time.monotonic() - t < 1


# ------------------------------------------------------------------------------------------------ persistence
def _state(r, key):
    return (q(r, "QUEUE.LEN", key), sorted((m[b"Body"], m[b"State"]) for m in q(r, "QUEUE.PEEK", key, "STATE", "ALL")))


def test_aof_replay_restart_debug_reload_dump_restore():
    args = ("--appendonly", "yes", "--appendfsync", "always", "--enable-debug-command", "yes")
    s = start_cachemere(*args)
    try:
        _persistence_scenario(s, args)
    finally:
        s.stop()


def _persistence_scenario(s, args):
    r = redis.Redis(port=s.port)
    q(r, "QUEUE.CREATE", "p.fifo", "CONTENTDEDUP", "VISIBILITY", "600")
    q(r, "QUEUE.CREATE", "dlq")
    q(r, "QUEUE.CREATE", "ps", "DLQ", "dlq", "MAXRECEIVE", "1")
    for i in range(5):
        q(r, "QUEUE.SEND", "p.fifo", "m%d" % i, "GROUP", "g%d" % (i % 2))
        q(r, "QUEUE.SEND", "ps", "s%d" % i, "ATTR", "n", "Number", str(i))
    got = recv(r, "p.fifo", "COUNT", "10")
    q(r, "QUEUE.DELETE", "p.fifo", got[0][b"ReceiptHandle"])
    recv(r, "ps", "COUNT", "2", "VISIBILITY", "0")
    recv(r, "ps", "COUNT", "2", "VISIBILITY", "0")          # moves to the DLQ, leases others
    before = {k: _state(r, k) for k in ("p.fifo", "ps", "dlq")}
    receipt = got[1][b"ReceiptHandle"]
    aof = b"".join(open(os.path.join(s.dir, "appendonlydir", f), "rb").read()
                   for f in os.listdir(os.path.join(s.dir, "appendonlydir")) if ".aof" in f)
    assert b"QUEUE._LEASE" in aof and b"QUEUE._PUT" in aof and b"QUEUE._DEL" in aof
    assert b"QUEUE.RECV" not in aof.upper() and b"QUEUE.SEND\r" not in aof.upper()
    # kill -9, then AOF replay on restart (appendfsync always: nothing acknowledged is lost)
    s.kill9()
    s2 = start_cachemere(*args, workdir=s.dir)
    s.proc, s.port, s._log = s2.proc, s2.port, s2._log
    r = redis.Redis(port=s.port)
    assert {k: _state(r, k) for k in before} == before
    assert q(r, "QUEUE.DELETE", "p.fifo", receipt) == b"OK"           # the receipt survived
    before = {k: _state(r, k) for k in before}
    # RDB round trip
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    assert {k: _state(r, k) for k in before} == before
    # DUMP/RESTORE
    blob = r.dump("ps")
    r.restore("ps-copy", 0, blob)
    assert _state(r, "ps-copy") == before["ps"]
    assert r.type("ps-copy") == b"queue"
    # AOF rewrite then replay
    r.execute_command("BGREWRITEAOF")
    time.sleep(1)
    r.execute_command("DEBUG", "LOADAOF")
    assert {k: _state(r, k) for k in before} == before


@pytest.mark.drill      # ~6 s: make drill (make test keeps the kstream and AOF kill -9 loops)
def test_kill9_under_load_loses_no_acked_send_and_revives_no_acked_delete():
    args = ("--appendonly", "yes", "--appendfsync", "always")
    s = start_cachemere(*args)
    try:
        r = redis.Redis(port=s.port, socket_timeout=5)
        q(r, "QUEUE.CREATE", "load", "VISIBILITY", "600")
        sent, deleted, in_doubt = set(), set(), set()
        stop = time.monotonic() + 1.5
        killer = threading.Timer(1.0, s.kill9)
        killer.start()
        try:
            while time.monotonic() < stop:
                sent.add(q(r, "QUEUE.SEND", "load", "m")[b"MessageId"])
                for m in recv(r, "load", "COUNT", "2")[:1]:
                    in_doubt.add(m[b"MessageId"])         # applied or not if the ack never comes
                    q(r, "QUEUE.DELETE", "load", m[b"ReceiptHandle"])
                    in_doubt.discard(m[b"MessageId"])
                    deleted.add(m[b"MessageId"])
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        killer.join()
        assert len(sent) > 20
        s2 = start_cachemere(*args, workdir=s.dir)
        s.proc, s.port, s._log = s2.proc, s2.port, s2._log
        r = redis.Redis(port=s.port)
        present = {m[b"MessageId"] for m in q(r, "QUEUE.PEEK", "load", "COUNT", "1000", "STATE", "ALL")}
        assert sent - deleted - in_doubt <= present                  # every acknowledged send survived
        assert not (deleted & present)                    # no acknowledged delete came back
    finally:
        s.stop()


def test_metrics_and_dashboard_summary():
    import urllib.request
    from tests.support.servers import free_port
    mport = free_port()
    s = start_cachemere("--metrics-port", mport)
    try:
        r = redis.Redis(port=s.port)
        q(r, "QUEUE.CREATE", "mq")
        q(r, "QUEUE.SEND", "mq", "a")
        q(r, "QUEUE.SEND", "mq", "b", "DELAY", "60")
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5).read().decode()
        assert 'queue_messages{queue="mq",state="visible"} 1' in text
        assert 'queue_messages{queue="mq",state="delayed"} 1' in text
    finally:
        s.stop()


def test_redrive_allow_policy(r):
    q(r, "QUEUE.CREATE", "guarded")
    assert err(r, "QUEUE.SETATTR", "guarded", "RedriveAllowPolicy", '{"redrivePermission": "some"}').startswith(
        "InvalidAttributeValue")
    q(r, "QUEUE.SETATTR", "guarded", "RedriveAllowPolicy", json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": ["arn:aws:sqs:us-east-1:000000000000:allowed"]}))
    assert err(r, "QUEUE.CREATE", "other", "DLQ", "guarded", "MAXRECEIVE", "3").startswith("InvalidParameterValue")
    assert q(r, "QUEUE.CREATE", "allowed", "DLQ", "guarded", "MAXRECEIVE", "3") == b"OK"
    assert r.exists("other") == 0


def test_two_waiters_one_message_each_in_arrival_order(r, srv):
    q(r, "QUEUE.CREATE", "two")
    out1, out2 = [], []
    t1 = threading.Thread(target=_timed_recv, args=(srv.port, "two", "5", out1))
    t1.start()
    time.sleep(0.2)
    t2 = threading.Thread(target=_timed_recv, args=(srv.port, "two", "5", out2))
    t2.start()
    time.sleep(0.2)
    q(r, "QUEUE.SEND", "two", "first")
    t1.join(10)
    assert [m[b"Body"] for m in out1[0][0]] == [b"first"]     # the first waiter is served first
    assert not out2                                            # the second still waits
    q(r, "QUEUE.SEND", "two", "second")
    t2.join(10)
    assert [m[b"Body"] for m in out2[0][0]] == [b"second"] and out2[0][1] < 2


def test_mrecv_several_queues(r, srv):
    q(r, "QUEUE.CREATE", "mA")
    q(r, "QUEUE.CREATE", "mB")
    q(r, "QUEUE.SEND", "mB", "b1")
    key, msgs = q(r, "QUEUE.MRECV", "TIMEOUT", "0", "COUNT", "5", "FROM", "mA", "mB")
    assert key == b"mB" and [m[b"Body"] for m in msgs] == [b"b1"]
    assert q(r, "QUEUE.MRECV", "TIMEOUT", "0", "FROM", "mA", "mB") == []
    assert err(r, "QUEUE.MRECV", "TIMEOUT", "20001", "FROM", "mA").startswith("InvalidParameterValue")
    assert err(r, "QUEUE.MRECV", "TIMEOUT", "0", "FROM", "mA", "nosuch").startswith("QueueDoesNotExist")
    out = []

    def waiter():
        c = redis.Redis(port=srv.port)
        t = time.monotonic()
        out.append((c.execute_command("QUEUE.MRECV", "TIMEOUT", "5000", "FROM", "mA", "mB"), time.monotonic() - t))
    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.2)
    q(r, "QUEUE.SEND", "mA", "a1")
    th.join(10)
    (key, msgs), elapsed = out[0]
    assert key == b"mA" and msgs[0][b"Body"] == b"a1" and elapsed < 1.5
    t = time.monotonic()
    assert q(r, "QUEUE.MRECV", "TIMEOUT", "300", "FROM", "mA", "mB") == [] and time.monotonic() - t >= 0.29
    raw = redis.Redis(port=srv.port)
    raw.response_callbacks.pop("COMMAND", None)
    assert raw.execute_command("COMMAND", "GETKEYS", "QUEUE.MRECV", "TIMEOUT", "0", "FROM", "x", "y") == [b"x", b"y"]
