"""The same boto3 Kinesis scenario against moto (in process) and against the server's Kinesis facade
(kinesis-port), compared field by field. moto is not a full oracle (services.md 3.3: its sequence numbers
are "1","2"..., its iterators plain base64), so sequence numbers and timestamps are compared by shape, and
the server alone is checked for what moto gets wrong."""
import base64
import datetime

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from tests.support.servers import free_port, start_cachemere, wait_for_port  # noqa: E402

CREDS = dict(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def facade():
    port = free_port()
    srv = start_cachemere("--kinesis-port", port)
    wait_for_port(port, proc=srv.proc)
    srv.kinesis_port = port
    yield srv
    srv.stop()


def scenario(k):
    """A boto3 session; returns what both implementations must agree on."""
    out = {}
    k.create_stream(StreamName="orders", ShardCount=2)
    d = k.describe_stream(StreamName="orders")["StreamDescription"]
    out["status"] = d["StreamStatus"]
    out["shards"] = [(s["ShardId"], s["HashKeyRange"]) for s in d["Shards"]]
    out["put"] = []
    seqs = {}
    for i in range(20):
        res = k.put_record(StreamName="orders", PartitionKey=f"customer-{i}", Data=f"order {i}".encode())
        out["put"].append(res["ShardId"])
        seqs.setdefault(res["ShardId"], []).append(res["SequenceNumber"])
    res = k.put_records(StreamName="orders", Records=[
        {"PartitionKey": f"batch-{i}", "Data": bytes([i]) * 10} for i in range(10)] + [
        {"PartitionKey": "x", "Data": b"explicit", "ExplicitHashKey": "0"}])
    out["put_records"] = (res["FailedRecordCount"], [r["ShardId"] for r in res["Records"]])
    out["read"] = {}
    for sid, _ in out["shards"]:
        it = k.get_shard_iterator(StreamName="orders", ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        page = k.get_records(ShardIterator=it, Limit=100)
        out["read"][sid] = [(r["PartitionKey"], r["Data"]) for r in page["Records"]]
        first = page["Records"][0]["SequenceNumber"]
        it = k.get_shard_iterator(StreamName="orders", ShardId=sid, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                  StartingSequenceNumber=first)["ShardIterator"]
        out["read"][sid + " after first"] = [r["Data"] for r in k.get_records(ShardIterator=it)["Records"]]
        it = k.get_shard_iterator(StreamName="orders", ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                  StartingSequenceNumber=first)["ShardIterator"]
        out["read"][sid + " at first"] = [r["Data"] for r in k.get_records(ShardIterator=it)["Records"]]
        # paging with NextShardIterator
        it = k.get_shard_iterator(StreamName="orders", ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        pages = []
        for _ in range(20):
            page = k.get_records(ShardIterator=it, Limit=3)
            if not page["Records"]:
                break
            pages.append(len(page["Records"]))
            it = page["NextShardIterator"]
        out["read"][sid + " pages"] = pages
    sid0 = out["shards"][0][0]
    latest = k.get_shard_iterator(StreamName="orders", ShardId=sid0, ShardIteratorType="LATEST")["ShardIterator"]
    out["latest_empty"] = k.get_records(ShardIterator=latest)["Records"]
    k.put_record(StreamName="orders", PartitionKey="late", Data=b"late", ExplicitHashKey="1")
    out["latest"] = [r["Data"] for r in k.get_records(ShardIterator=latest)["Records"]]
    k.split_shard(StreamName="orders", ShardToSplit=sid0, NewStartingHashKey=str(2 ** 125))
    shards = k.list_shards(StreamName="orders")["Shards"]
    out["after_split"] = [(s["ShardId"], s.get("ParentShardId"), s["HashKeyRange"],
                           "EndingSequenceNumber" in s["SequenceNumberRange"]) for s in shards]
    res = k.put_record(StreamName="orders", PartitionKey="p", Data=b"child", ExplicitHashKey="5")
    out["child_put"] = res["ShardId"]
    # AT_TIMESTAMP (boto3 sends epoch seconds): a time after everything -> nothing, 0 -> everything
    last_shard = out["after_split"][-1][0]
    it = k.get_shard_iterator(StreamName="orders", ShardId=sid0, ShardIteratorType="AT_TIMESTAMP",
                              Timestamp=datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc))["ShardIterator"]
    out["at_timestamp_2000"] = [r["Data"] for r in k.get_records(ShardIterator=it)["Records"]]
    it = k.get_shard_iterator(StreamName="orders", ShardId=last_shard, ShardIteratorType="AT_TIMESTAMP",
                              Timestamp=datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc))["ShardIterator"]
    out["at_timestamp_2100"] = [r["Data"] for r in k.get_records(ShardIterator=it)["Records"]]
    open_ = sorted((int(s[2]["StartingHashKey"]), int(s[2]["EndingHashKey"]), s[0]) for s in out["after_split"] if not s[3])
    a, b = open_[0], open_[1]                 # the two children of the split: adjacent
    assert a[1] + 1 == b[0]
    k.merge_shards(StreamName="orders", ShardToMerge=a[2], AdjacentShardToMerge=b[2])
    out["after_merge"] = [(s["ShardId"], s.get("ParentShardId"), s.get("AdjacentParentShardId"), s["HashKeyRange"])
                          for s in k.list_shards(StreamName="orders")["Shards"]
                          if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    # (moto ignores ShardFilter; the server is checked for it in the next test)
    summary = k.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]
    out["summary"] = (summary["StreamStatus"], summary["OpenShardCount"], summary["RetentionPeriodHours"])
    out["seq_grows"] = int(res["SequenceNumber"]) > int(seqs[sid0][-1])
    for name, call in (("describe_missing", lambda: k.describe_stream(StreamName="nope")),
                       ("create_twice", lambda: k.create_stream(StreamName="orders", ShardCount=1)),
                       ("bad_hash", lambda: k.put_record(StreamName="orders", PartitionKey="p", Data=b"x",
                                                          ExplicitHashKey=str(2 ** 129))),
                       ("split_closed", lambda: k.split_shard(StreamName="orders", ShardToSplit=sid0,
                                                              NewStartingHashKey="7"))):
        try:
            call()
            out[name] = None
        except ClientError as e:
            out[name] = e.response["Error"]["Code"]
    out["streams"] = k.list_streams()["StreamNames"]
    k.delete_stream(StreamName="orders")
    out["after_delete"] = k.list_streams()["StreamNames"]
    return out, seqs


def test_boto3_against_moto_and_server(facade):
    with moto.mock_aws():
        theirs, _ = scenario(boto3.client("kinesis", **CREDS))
    ours_client = boto3.client("kinesis", endpoint_url=f"http://127.0.0.1:{facade.kinesis_port}",
                               config=Config(retries={"max_attempts": 1}), **CREDS)
    ours, seqs = scenario(ours_client)
    # moto: ExplicitHashKey >= 2**128 is not refused; after a split it still routes puts to the closed parent
    # and splitting a closed shard is InvalidArgumentException there, ResourceInUseException in AWS (kinesalite's
    # AWS-checked text: "has already been merged or split, and thus is not eligible for merging or splitting")
    known_moto_gaps = {"bad_hash", "child_put", "split_closed", "at_timestamp_2000"}
    for key in theirs:
        if key in known_moto_gaps:
            continue
        assert ours[key] == theirs[key], key
    assert ours["bad_hash"] == "InvalidArgumentException"
    assert ours["describe_missing"] == "ResourceNotFoundException"
    assert ours["split_closed"] == "ResourceInUseException"
    assert theirs["at_timestamp_2000"] == ours["at_timestamp_2000"] + [b"child"]    # moto's put into the closed parent
    assert ours["child_put"] == "shardId-000000000002" and theirs["child_put"] == "shardId-000000000000"
    # what moto gets wrong and the server gets right: 56-digit sequence numbers, increasing per shard
    for values in seqs.values():
        assert all(len(s) == 56 for s in values)
        assert [int(s) for s in values] == sorted(int(s) for s in values)


def test_server_facade_closed_shard_and_errors(facade):
    k = boto3.client("kinesis", endpoint_url=f"http://127.0.0.1:{facade.kinesis_port}",
                     config=Config(retries={"max_attempts": 1}), **CREDS)
    k.create_stream(StreamName="c", ShardCount=1)
    k.put_record(StreamName="c", PartitionKey="a", Data=b"1")
    it = k.get_shard_iterator(StreamName="c", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    k.split_shard(StreamName="c", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2 ** 127))
    page = k.get_records(ShardIterator=it)
    assert [r["Data"] for r in page["Records"]] == [b"1"]
    # a drained closed shard: no next iterator, and its children (moto gets both wrong)
    assert "NextShardIterator" not in page
    assert sorted(c["ShardId"] for c in page["ChildShards"]) == ["shardId-000000000001", "shardId-000000000002"]
    with pytest.raises(ClientError) as info:
        k.get_records(ShardIterator=it[:-4] + "AAAA")
    assert info.value.response["Error"]["Code"] == "InvalidArgumentException"
    with pytest.raises(ClientError) as info:
        k.put_records(StreamName="c", Records=[{"PartitionKey": "a", "Data": b"x"}] * 501)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert [s["ShardId"] for s in k.list_shards(StreamName="c", ShardFilter={"Type": "AT_LATEST"})["Shards"]] == \
        ["shardId-000000000001", "shardId-000000000002"]
    # ListShards pages with NextToken (KCL lists shards this way)
    page = k.list_shards(StreamName="c", MaxResults=2)
    assert [s["ShardId"] for s in page["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    rest = k.list_shards(NextToken=page["NextToken"], MaxResults=2)
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000002"] and "NextToken" not in rest
    assert [s["ShardId"] for s in k.get_paginator("list_shards").paginate(
        StreamName="c", PaginationConfig={"PageSize": 1}).build_full_result()["Shards"]] == \
        ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]
    res = k.put_record(StreamName="c", PartitionKey="a", Data=base64.b64decode("AAEC"))
    assert len(res["SequenceNumber"]) == 56
    k.delete_stream(StreamName="c")


def test_dashboard_lists_streams_and_lineage():
    import json
    import urllib.request

    import redis
    port = free_port()
    srv = start_cachemere("--metrics-port", port)
    try:
        wait_for_port(port, proc=srv.proc)
        r = redis.Redis(port=srv.port)
        r.execute_command("STREAM.CREATE", "orders", "SHARDS", 1)
        r.execute_command("STREAM.PUT", "orders", "k", "v")
        r.execute_command("STREAM.SPLIT", "orders", "shardId-000000000000", 1 << 127)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/services", timeout=5) as resp:
            rows = json.load(resp)["services"]
        row = next(x for x in rows if x["key"] == "orders")
        assert row["type"] == "kstream" and row["summary"]["records"] == 1 and row["summary"]["open_shards"] == 2
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/service?db=0&key=orders", timeout=5) as resp:
            detail = json.load(resp)["detail"]
        assert sorted(detail["graph"]["edges"]) == [["shardId-000000000000", "shardId-000000000001"],
                                                    ["shardId-000000000000", "shardId-000000000002"]]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        from prometheus_client.parser import text_string_to_metric_families
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for fam in text_string_to_metric_families(text) for s in fam.samples}
        assert samples[("stream_records_total", (("shard", "shardId-000000000000"), ("stream", "orders")))] == 1
        assert samples[("stream_shards", (("state", "OPEN"), ("stream", "orders")))] == 2
        assert samples[("stream_shards", (("state", "CLOSED"), ("stream", "orders")))] == 1
    finally:
        srv.stop()


def test_facade_writes_reach_the_aof_before_the_reply():
    import glob
    import os
    import tempfile
    workdir = tempfile.mkdtemp(prefix="kstream-facade-aof-")
    port = free_port()
    srv = start_cachemere("--kinesis-port", port, "--appendonly", "yes", "--appendfsync", "always", workdir=workdir)
    try:
        wait_for_port(port, proc=srv.proc)
        k = boto3.client("kinesis", endpoint_url=f"http://127.0.0.1:{port}",
                         config=Config(retries={"max_attempts": 1}), **CREDS)
        k.create_stream(StreamName="d", ShardCount=1)
        seq = k.put_record(StreamName="d", PartitionKey="a", Data=b"durable")["SequenceNumber"]
        aof = b"".join(open(p, "rb").read() for p in glob.glob(os.path.join(workdir, "appendonlydir", "*.incr.aof")))
        assert b"STREAM._PUT" in aof and seq.encode() in aof and b"durable" in aof
    finally:
        srv.kill9()
