"""QUEUE.MOVETASK START ... MAXRATE n moves at most n messages a second over time (SQS's
MaxNumberOfMessagesPerSecond), driven by the primary's timer through explicit effects: LIST shows the task
RUNNING with its progress, CANCEL stops it, a replica follows, and boto3's StartMessageMoveTask maps to it."""
import time

import boto3
import pytest
import redis

from tests.replication.helpers import client, wait_caught_up, wait_link_up
from tests.support.servers import free_port, start_cachemere, wait_for


def fill_dlq(r, n):
    r.execute_command("QUEUE.CREATE", "dead")
    r.execute_command("QUEUE.CREATE", "work", "DLQ", "dead", "MAXRECEIVE", "1")
    r.execute_command("QUEUE.CREATE", "elsewhere")
    for i in range(0, n, 10):
        r.execute_command("QUEUE.SENDBATCH", "dead", *sum((["ENTRY", "e%d" % j, "m%d" % j]
                                                           for j in range(i, min(n, i + 10))), []))


def lengths(r, key):
    return r.execute_command("QUEUE.LEN", key)[b"visible"]


def test_movetask_applies_the_rate_over_time_and_a_replica_follows():
    primary = start_cachemere()
    replica = None
    try:
        r = client(primary)
        fill_dlq(r, 60)
        replica = start_cachemere("--replicaof", "127.0.0.1", primary.port)
        wait_link_up(replica)
        started = time.monotonic()
        res = r.execute_command("QUEUE.MOVETASK", "START", "dead", "DEST", "elsewhere", "MAXRATE", "20")
        assert res[b"Status"] == b"RUNNING" and res[b"ApproximateNumberOfMessagesMoved"] == 0
        # after ~1 s about 20 have moved, never more than the rate allows
        samples = []
        while time.monotonic() - started < 1.4:
            moved = lengths(r, "elsewhere")
            samples.append((time.monotonic() - started, moved))
            time.sleep(0.05)
        for elapsed, moved in samples:
            assert moved <= 20 * elapsed + 1, (elapsed, moved)
        assert samples[-1][1] >= 5                                      # and it does move meanwhile
        [task] = r.execute_command("QUEUE.MOVETASK", "LIST", "dead")
        assert task[b"Status"] == b"RUNNING" and task[b"MaxNumberOfMessagesPerSecond"] == 20
        assert task[b"ApproximateNumberOfMessagesToMove"] == 60
        assert 0 < task[b"ApproximateNumberOfMessagesMoved"] < 60
        with pytest.raises(redis.ResponseError, match="UnsupportedOperation"):
            r.execute_command("QUEUE.MOVETASK", "START", "dead")        # one running task per source
        wait_for(lambda: r.execute_command("QUEUE.MOVETASK", "LIST", "dead")[0][b"Status"] == b"COMPLETED",
                 timeout=10, interval=0.1)
        took = time.monotonic() - started
        assert took >= 2.5                                              # 60 messages at 20/s: ~3 s, not at once
        assert lengths(r, "elsewhere") == 60 and lengths(r, "dead") == 0
        wait_caught_up(primary, replica)
        rr = client(replica)
        assert lengths(rr, "elsewhere") == 60
        assert rr.execute_command("QUEUE.MOVETASK", "LIST", "dead")[0][b"Status"] == b"COMPLETED"
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()


def test_movetask_cancel_stops_a_running_task_and_no_rate_moves_at_once():
    srv = start_cachemere()
    try:
        r = redis.Redis(port=srv.port)
        fill_dlq(r, 40)
        res = r.execute_command("QUEUE.MOVETASK", "START", "dead", "DEST", "elsewhere", "MAXRATE", "10")
        time.sleep(0.5)
        out = r.execute_command("QUEUE.MOVETASK", "CANCEL", "dead", res[b"TaskHandle"])
        stopped_at = lengths(r, "elsewhere")
        assert 1 <= stopped_at <= 10 and out[b"ApproximateNumberOfMessagesMoved"] == stopped_at
        time.sleep(0.6)
        assert lengths(r, "elsewhere") == stopped_at                    # nothing moves after the cancel
        [task] = r.execute_command("QUEUE.MOVETASK", "LIST", "dead")
        assert task[b"Status"] == b"CANCELLED"
        # without MAXRATE: system-optimised, everything at once
        res = r.execute_command("QUEUE.MOVETASK", "START", "dead", "DEST", "elsewhere")
        assert res[b"Status"] == b"COMPLETED" and res[b"ApproximateNumberOfMessagesMoved"] == 40 - stopped_at
        assert lengths(r, "elsewhere") == 40
    finally:
        srv.stop()


def test_boto3_start_message_move_task_with_a_rate():
    port = free_port()
    srv = start_cachemere("--sqs-port", port)
    try:
        sqs = boto3.client("sqs", endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x")
        r = redis.Redis(port=srv.port)
        fill_dlq(r, 15)
        arn = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="dead")["QueueUrl"],
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        dest = arn.rsplit(":", 1)[0] + ":elsewhere"
        sqs.start_message_move_task(SourceArn=arn, DestinationArn=dest, MaxNumberOfMessagesPerSecond=10)
        time.sleep(0.5)
        [task] = sqs.list_message_move_tasks(SourceArn=arn)["Results"]
        assert task["Status"] == "RUNNING" and task["MaxNumberOfMessagesPerSecond"] == 10
        wait_for(lambda: sqs.list_message_move_tasks(SourceArn=arn)["Results"][0]["Status"] == "COMPLETED",
                 timeout=10, interval=0.1)
        assert lengths(r, "elsewhere") == 15
    finally:
        srv.stop()


def test_a_running_task_goes_on_after_a_restart():
    srv = start_cachemere("--appendonly", "yes", "--appendfsync", "always")
    workdir = srv.dir
    try:
        r = redis.Redis(port=srv.port)
        fill_dlq(r, 30)
        r.execute_command("QUEUE.MOVETASK", "START", "dead", "DEST", "elsewhere", "MAXRATE", "10")
        time.sleep(0.3)
        r.bgrewriteaof()                     # the RUNNING task rides in the rewrite's RDB preamble
        wait_for(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0, timeout=10)
    finally:
        srv.kill9()
    again = start_cachemere("--appendonly", "yes", workdir=workdir)
    try:
        r = redis.Redis(port=again.port)
        [task] = r.execute_command("QUEUE.MOVETASK", "LIST", "dead")
        assert task[b"Status"] == b"RUNNING"
        wait_for(lambda: lengths(r, "elsewhere") == 30, timeout=15, interval=0.1)
        assert r.execute_command("QUEUE.MOVETASK", "LIST", "dead")[0][b"Status"] == b"COMPLETED"
    finally:
        again.stop()
