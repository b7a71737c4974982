"""The same boto3 SQS scenario against moto (in process) and against the server's SQS JSON facade
(sqs-port): the deterministic parts of every answer (bodies, MD5s, counts, error codes) must agree."""
import json
import os

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from tests.support.servers import free_port, start_cachemere  # noqa: E402

CREDS = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def code(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def scenario(sqs):
    t = []
    url = sqs.create_queue(QueueName="scn", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    t.append(("url-tail", url.rsplit("/", 1)[-1]))
    t.append(("same-url", sqs.get_queue_url(QueueName="scn")["QueueUrl"] == url))
    attrs = {"s": {"DataType": "String", "StringValue": "hello"},
             "n": {"DataType": "Number", "StringValue": "42"},
             "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"}}
    r = sqs.send_message(QueueUrl=url, MessageBody="first", MessageAttributes=attrs)
    t.append(("send-md5", r["MD5OfMessageBody"], r["MD5OfMessageAttributes"]))
    r = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "second"},
                                                      {"Id": "b", "MessageBody": "third", "DelaySeconds": 0}])
    t.append(("batch", sorted(x["Id"] for x in r["Successful"]), sorted(x["MD5OfMessageBody"] for x in r["Successful"])))
    t.append(("batch-dup", code(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "x", "MessageBody": "1"},
                                                                              {"Id": "x", "MessageBody": "2"}])))
    t.append(("batch-many", code(sqs.send_message_batch, QueueUrl=url,
                                 Entries=[{"Id": "e%d" % i, "MessageBody": "m"} for i in range(11)])))
    t.append(("attrs", sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]))
    msgs = []
    for _ in range(5):
        msgs += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                    AttributeNames=["All"]).get("Messages", [])
        if len(msgs) >= 3:
            break
    t.append(("recv", sorted((m["Body"], m["MD5OfBody"], m.get("MD5OfMessageAttributes"),
                              m["Attributes"]["ApproximateReceiveCount"]) for m in msgs)))
    first = [m for m in msgs if m["Body"] == "first"][0]
    t.append(("recv-attrs", first["MessageAttributes"]["b"]["BinaryValue"], first["MessageAttributes"]["n"]))
    t.append(("empty", sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])))
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    t.append(("again", [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in again]))
    others = [m for m in msgs if m["Body"] != "first"]
    r = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "d%d" % i, "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(others)])
    t.append(("delbatch", sorted(x["Id"] for x in r["Successful"]), r.get("Failed", [])))
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    t.append(("after", sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]))
    # errors
    t.append(("no-queue", code(sqs.get_queue_url, QueueName="nope")))
    t.append(("bad-max", code(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)))
    t.append(("bad-delay", code(sqs.send_message, QueueUrl=url, MessageBody="x", DelaySeconds=901)))
    # FIFO: dedup and ordering within a group
    furl = sqs.create_queue(QueueName="scn.fifo", Attributes={"FifoQueue": "true",
                                                              "ContentBasedDeduplication": "true"})["QueueUrl"]
    a = sqs.send_message(QueueUrl=furl, MessageBody="a1", MessageGroupId="g1")
    b = sqs.send_message(QueueUrl=furl, MessageBody="a1", MessageGroupId="g1")
    # (moto answers a new MessageId for the deduplicated send, we answer the original's MessageId and
    # SequenceNumber, as some other emulators do; not checked against AWS here, so compared only through
    # what is delivered)
    t.append(("fifo-dedup", bool(a["MessageId"]) and bool(b["MessageId"])))
    sqs.send_message(QueueUrl=furl, MessageBody="a2", MessageGroupId="g1")
    t.append(("fifo-nogroup", code(sqs.send_message, QueueUrl=furl, MessageBody="x")))
    got = sqs.receive_message(QueueUrl=furl, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    t.append(("fifo-recv", [(m["Body"], m["Attributes"]["MessageGroupId"]) for m in got]))
    t.append(("fifo-locked", sqs.receive_message(QueueUrl=furl, MaxNumberOfMessages=10).get("Messages", [])))
    # DLQ redrive on the receive after maxReceiveCount
    dlq = sqs.create_queue(QueueName="scn-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName="scn-src", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})})["QueueUrl"]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    seen = [len(sqs.receive_message(QueueUrl=src, VisibilityTimeout=0).get("Messages", [])) for _ in range(2)]
    t.append(("dlq", seen, [m["Body"] for m in sqs.receive_message(QueueUrl=dlq).get("Messages", [])]))
    sqs.purge_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=src)
    t.append(("list", sorted(u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", []))))
    return t


@pytest.fixture(scope="module")
def ours():
    port = free_port()
    srv = start_cachemere("--sqs-port", port, "--appendonly", "yes", "--appendfsync", "always")
    srv.sqs_port = port
    yield srv
    srv.stop()


def test_boto3_scenario_matches_moto(ours):
    with moto.mock_aws():
        theirs = scenario(boto3.client("sqs", **CREDS))
    os.environ.pop("MOTO_CALL_RESET_API", None)
    mine = scenario(boto3.client("sqs", endpoint_url="http://127.0.0.1:%d" % ours.sqs_port,
                                 config=Config(retries={"max_attempts": 1}), **CREDS))
    diffs = [(a, b) for a, b in zip(theirs, mine) if a != b]
    assert not diffs, diffs
    assert len(mine) == len(theirs)
