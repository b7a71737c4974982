"""The optional Kinesis JSON facade (``kinesis-port``, off by default): AWS's JSON 1.1 protocol
(``X-Amz-Target: Kinesis_20131202.<Operation>``, ``application/x-amz-json-1.1``, base64 Data) over
HTTP/1.1, so stock ``boto3.client("kinesis", endpoint_url=...)`` works. Each operation runs the STREAM.*
command it maps to through the server's dispatcher on an internal client, so effects, AOF, blocked
readers and errors are exactly those of the RESP commands. Requests are not signature-checked.
"""
import base64
import json

ACCOUNT = "000000000000"
MAX_BODY = 12 * 1048576


class RespError(Exception):
    pass


def parse_resp(buf, pos=0):
    """(value, next pos) of one RESP2/RESP3 reply; errors come back as RespError values."""
    kind = buf[pos:pos + 1]
    nl = buf.index(b"\r\n", pos)
    line = buf[pos + 1:nl]
    pos = nl + 2
    if kind == b"+":
        return line, pos
    if kind == b"-":
        return RespError(line.decode("utf-8", "replace")), pos
    if kind == b":":
        return int(line), pos
    if kind == b"_":
        return None, pos
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, pos
        return buf[pos:pos + n], pos + n + 2
    if kind in (b"*", b"~"):
        n = int(line)
        if n < 0:
            return None, pos
        out = []
        for _ in range(n):
            v, pos = parse_resp(buf, pos)
            out.append(v)
        return out, pos
    if kind == b"%":
        out = {}
        for _ in range(int(line)):
            k, pos = parse_resp(buf, pos)
            v, pos = parse_resp(buf, pos)
            out[k.decode() if isinstance(k, bytes) else k] = v
        return out, pos
    raise ValueError(f"unexpected RESP type {kind!r}")


class AwsError(Exception):
    def __init__(self, name, message, status=400):
        super().__init__(message)
        self.name, self.message, self.status = name, message, status


def text(v):
    if isinstance(v, dict):
        return {k: text(x) for k, x in v.items()}
    if isinstance(v, list):
        return [text(x) for x in v]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


class Facade:
    def __init__(self, server):
        self.server = server
        self.client = server.new_client(None)
        self.run(b"HELLO", b"3")

    def run(self, *argv):
        srv = self.server
        srv.ks.update_clock()
        c = self.client
        srv.dispatcher.execute(c, [a if isinstance(a, bytes) else str(a).encode() for a in argv])
        blocking = srv.extensions.get("blocking")
        if blocking is not None and getattr(blocking, "ready", None):
            blocking.serve_ready()
        persistence = srv.extensions.get("persistence")
        if persistence is not None:
            persistence.before_reply(None)     # the effects reach the AOF (fsynced under always) before the reply
        value, _ = parse_resp(c.reply.take())
        if isinstance(value, RespError):
            name, _, message = str(value).partition(" ")
            if name in ("ERR", "WRONGTYPE"):
                raise AwsError("InvalidArgumentException" if name == "ERR" else "ResourceInUseException", message)
            raise AwsError(name, message)
        return value

    # ------------------------------------------------------------------ operations
    @staticmethod
    def stream_name(body):
        name = body.get("StreamName")
        if name is None and "StreamARN" in body:
            name = body["StreamARN"].rsplit("/", 1)[-1]
        if not name:
            raise AwsError("ValidationException", "Either StreamName or StreamARN should be provided.")
        return name.encode()

    def op_CreateStream(self, body):
        args = [b"STREAM.CREATE", self.stream_name(body)]
        mode = (body.get("StreamModeDetails") or {}).get("StreamMode")
        if mode:
            args += [b"MODE", mode]
        if "ShardCount" in body:
            args += [b"SHARDS", body["ShardCount"]]
        self.run(*args)
        return {}

    def op_DeleteStream(self, body):
        name = self.stream_name(body)
        self.run(b"STREAM.DESCRIBE", name)
        self.run(b"DEL", name)
        return {}

    def op_ListStreams(self, body):
        names, cursor = [], b"0"
        for _ in range(10000):
            cursor, keys = self.run(b"SCAN", cursor, b"TYPE", b"kstream", b"COUNT", b"1000")
            names += [k.decode() for k in keys]
            if cursor == b"0":
                break
        names.sort()
        return {"StreamNames": names, "HasMoreStreams": False}

    def describe(self, body):
        d = text(self.run(b"STREAM.DESCRIBE", self.stream_name(body)))
        shards = []
        for sh in d["Shards"]:
            entry = {"ShardId": sh["ShardId"], "HashKeyRange": sh["HashKeyRange"],
                     "SequenceNumberRange": {k: v for k, v in sh["SequenceNumberRange"].items() if v is not None}}
            for k in ("ParentShardId", "AdjacentParentShardId"):
                if sh[k] is not None:
                    entry[k] = sh[k]
            shards.append(entry)
        return d, shards

    def op_DescribeStream(self, body):
        d, shards = self.describe(body)
        return {"StreamDescription": {
            "StreamName": d["StreamName"], "StreamARN": d["StreamARN"], "StreamStatus": d["StreamStatus"],
            "StreamModeDetails": {"StreamMode": d["StreamMode"]}, "Shards": shards, "HasMoreShards": False,
            "RetentionPeriodHours": d["RetentionPeriodHours"],
            "StreamCreationTimestamp": d["StreamCreationTimestamp"] / 1000.0,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}], "EncryptionType": "NONE"}}

    def op_DescribeStreamSummary(self, body):
        d, shards = self.describe(body)
        return {"StreamDescriptionSummary": {
            "StreamName": d["StreamName"], "StreamARN": d["StreamARN"], "StreamStatus": d["StreamStatus"],
            "StreamModeDetails": {"StreamMode": d["StreamMode"]}, "RetentionPeriodHours": d["RetentionPeriodHours"],
            "StreamCreationTimestamp": d["StreamCreationTimestamp"] / 1000.0,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}], "EncryptionType": "NONE",
            "OpenShardCount": d["OpenShardCount"], "ConsumerCount": 0}}

    def op_ListShards(self, body):
        start = body.get("ExclusiveStartShardId")
        if "NextToken" in body:
            try:      # (botocore's list_shards paginator sends StreamName along: accepted when it agrees)
                name, start = json.loads(base64.b64decode(body["NextToken"]))
            except Exception:
                raise AwsError("InvalidArgumentException", "Invalid NextToken.") from None
            if body.get("StreamName", name) != name:
                raise AwsError("InvalidArgumentException", "NextToken belongs to another stream.")
            body = dict(body, StreamName=name)
        _, shards = self.describe(body)
        if start is not None:
            shards = [s for s in shards if s["ShardId"] > start]
        flt = (body.get("ShardFilter") or {}).get("Type")
        if flt == "AT_LATEST":
            shards = [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
        out = {"Shards": shards}
        limit = int(body.get("MaxResults", 1000))
        if len(shards) > limit:
            out["Shards"] = shards[:limit]
            token = json.dumps([self.stream_name(body).decode(), shards[limit - 1]["ShardId"]])
            out["NextToken"] = base64.b64encode(token.encode()).decode()
        return out

    def op_PutRecord(self, body):
        args = [b"STREAM.PUT", self.stream_name(body), body.get("PartitionKey", "").encode(),
                base64.b64decode(body.get("Data", ""))]
        if "ExplicitHashKey" in body:
            args += [b"HASHKEY", body["ExplicitHashKey"]]
        if "SequenceNumberForOrdering" in body:
            args += [b"ORDERAFTER", body["SequenceNumberForOrdering"]]
        sid, seq = self.run(*args)
        return {"ShardId": sid.decode(), "SequenceNumber": seq.decode(), "EncryptionType": "NONE"}

    def op_PutRecords(self, body):
        args = [b"STREAM.PUTMANY", self.stream_name(body)]
        for rec in body.get("Records", []):
            args += [b"REC", rec.get("PartitionKey", "").encode(), base64.b64decode(rec.get("Data", ""))]
            if "ExplicitHashKey" in rec:
                args += [b"HASHKEY", rec["ExplicitHashKey"]]
        failed, results = self.run(*args)
        return {"FailedRecordCount": failed, "EncryptionType": "NONE",
                "Records": [{"ShardId": a.decode(), "SequenceNumber": b.decode()} if a.startswith(b"shardId-") else
                            {"ErrorCode": a.decode(), "ErrorMessage": b.decode()} for a, b in results]}

    def op_GetShardIterator(self, body):
        kind = body.get("ShardIteratorType", "")
        args = [b"STREAM.ITERATOR", self.stream_name(body), body.get("ShardId", ""), kind]
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER") and "StartingSequenceNumber" in body:
            args.append(body["StartingSequenceNumber"])
        elif kind == "AT_TIMESTAMP" and "Timestamp" in body:
            args.append(int(float(body["Timestamp"]) * 1000))
        return {"ShardIterator": self.run(*args).decode()}

    def op_GetRecords(self, body):
        it = body.get("ShardIterator", "").encode()
        name = self.iterator_stream(it)
        args = [b"STREAM.GET", name, it.partition(b"~")[2]]
        if "Limit" in body:
            args += [b"LIMIT", body["Limit"]]
        page = self.run(*args)
        out = {"Records": [{"SequenceNumber": seq.decode(), "ApproximateArrivalTimestamp": arr / 1000.0,
                            "Data": base64.b64encode(data).decode(), "PartitionKey": pk.decode("utf-8", "replace")}
                           for seq, arr, pk, data in page["Records"]],
               "MillisBehindLatest": page["MillisBehindLatest"]}
        if page["NextShardIterator"] is not None:
            out["NextShardIterator"] = page["NextShardIterator"].decode()
        if page["ChildShards"]:
            out["ChildShards"] = text(page["ChildShards"])
        return out

    def iterator_stream(self, it):
        """The facade's iterators carry the stream name in front of the signed RESP iterator."""
        name, sep, _ = it.partition(b"~")
        if not sep:
            raise AwsError("InvalidArgumentException", "Invalid ShardIterator.")
        return base64.urlsafe_b64decode(name + b"=" * (-len(name) % 4))

    def op_SplitShard(self, body):
        self.run(b"STREAM.SPLIT", self.stream_name(body), body.get("ShardToSplit", ""),
                 body.get("NewStartingHashKey", ""))
        return {}

    def op_MergeShards(self, body):
        self.run(b"STREAM.MERGE", self.stream_name(body), body.get("ShardToMerge", ""),
                 body.get("AdjacentShardToMerge", ""))
        return {}

    def op_UpdateShardCount(self, body):
        name = self.stream_name(body)
        d = self.run(b"STREAM.DESCRIBE", name)
        self.run(b"STREAM.UPDATESHARDCOUNT", name, body.get("TargetShardCount", 0), b"UNIFORM_SCALING")
        return {"StreamName": name.decode(), "CurrentShardCount": d[b"OpenShardCount"],
                "TargetShardCount": int(body.get("TargetShardCount", 0))}

    def op_IncreaseStreamRetentionPeriod(self, body):
        self.run(b"STREAM.RETENTION", self.stream_name(body), body.get("RetentionPeriodHours", 0))
        return {}

    op_DecreaseStreamRetentionPeriod = op_IncreaseStreamRetentionPeriod

    # ------------------------------------------------------------------ HTTP
    def handle(self, target, body):
        prefix = "Kinesis_20131202."
        op = getattr(self, "op_" + target[len(prefix):], None) if target.startswith(prefix) else None
        if op is None:
            raise AwsError("UnknownOperationException", "", 400)
        out = op(body)
        # iterators handed out through the facade name their stream (GetRecords has no StreamName)
        name = None
        for k in ("ShardIterator", "NextShardIterator"):
            if k in out:
                if name is None:
                    name = self.stream_name(body) if k == "ShardIterator" else self.iterator_stream(
                        body["ShardIterator"].encode())
                out[k] = base64.urlsafe_b64encode(name).decode().rstrip("=") + "~" + out[k]
        return out


JSON_TYPE = "application/x-amz-json-1.1"


async def start(server):
    """The HTTP_FACADES entry: listen on kinesis-port when it is set."""
    port = server.config["kinesis-port"]
    return await start_facade(server, port) if port else []


async def start_facade(server, port):
    """Listen on port (every bind address) with the process's HTTP server; returns the asyncio servers."""
    from server.http import HttpApp, Response      # server-side glue (command families never import server/)
    facade = Facade(server)
    app = HttpApp("kinesis-port", log=server.log, max_body=MAX_BODY)

    def handle(request):
        try:
            try:
                payload = request.json()
            except ValueError:
                raise AwsError("SerializationException", "Start of structure or map found where not expected.")
            return Response.json(facade.handle(request.headers.get("x-amz-target", ""), payload), 200, JSON_TYPE)
        except AwsError as e:
            resp = Response.json({"__type": e.name, "message": e.message}, e.status, JSON_TYPE)
            resp.headers["x-amzn-ErrorType"] = e.name
            return resp
    app.fallback = handle
    return await app.listen_all(server, port)
