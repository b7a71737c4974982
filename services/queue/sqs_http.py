"""The optional SQS JSON 1.0 facade (``sqs-port``, off by default): stock ``boto3.client("sqs",
endpoint_url="http://127.0.0.1:PORT")`` works unchanged.

Each request (``X-Amz-Target: AmazonSQS.<Action>``, a JSON body) is mapped to QUEUE.* commands run through
the dispatcher by one internal client per request, so the facade adds no semantics of its own: the
effects, limits and error names are the RESP commands' (errors come back as ``{"__type":
"com.amazonaws.sqs#Name", "message": ...}`` with the ``x-amzn-query-error`` header botocore reads for
query-compatible codes). A long poll (``WaitTimeSeconds``) blocks that client on the key like any RESP
client and the HTTP answer is sent when it is served or times out.

This module is process-side (it is started by the server with the HTTP server of server/http.py), not a
command family.
"""
import base64

import hiredis

from services.queue.value import md5_attributes

ACCOUNT = "000000000000"
LEGACY = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
}


class SqsError(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name, self.message = name, message


class _Conn:
    """What the blocking machinery needs of a connection: the served reply resolves a future."""

    def __init__(self, loop):
        self.closing = False
        self.client = None
        self.future = loop.create_future()

    def flush(self):
        if not self.future.done():
            self.future.set_result(self.client.reply.take())

    def process_input(self):
        pass


def _decode(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    if isinstance(v, dict):
        return {_decode(k): _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


class Facade:
    def __init__(self, server):
        self.server = server

    # ------------------------------------------------------------------ running commands
    async def run(self, *argv, raise_errors=True):
        """Run one command; its decoded reply (a nested error raises SqsError when top-level)."""
        server = self.server
        conn = _Conn(server.loop)
        c = server.new_client(conn)
        conn.client = c
        c.authenticated = True
        c.reply.resp = 3
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in argv]
        server.ks.update_clock()
        server.dispatcher.execute(c, argv)
        if c.blocked:
            data = await conn.future
        else:
            data = c.reply.take()
            blocking = server.extensions.get("blocking")
            if blocking is not None and blocking.ready:
                blocking.serve_ready()
        # the AOF before the answer, as a RESP reply waits for it (fsynced under appendfsync always)
        persistence = server.extensions.get("persistence")
        if persistence is not None and getattr(persistence, "pending", None):
            persistence.write_pending()
        reader = hiredis.Reader()
        reader.feed(data)
        rep = reader.gets()
        if isinstance(rep, hiredis.ReplyError) and raise_errors:
            raise self.error(rep)
        return rep

    @staticmethod
    def error(e):
        name, _, msg = str(e).partition(" ")
        if name in ("ERR", "WRONGTYPE"):
            return SqsError("InvalidParameterValue", str(e))
        return SqsError(name, msg)

    # ------------------------------------------------------------------ HTTP
    async def handle(self, request):
        from server.http import Response
        target = request.headers.get("x-amz-target", "")
        action = target.split(".", 1)[1] if target.startswith("AmazonSQS.") else None
        handler = getattr(self, "op_" + action, None) if action else None
        try:
            if handler is None:
                raise SqsError("InvalidAction", "The action %s is not valid for this endpoint." % (action or target))
            try:
                body = request.json()
            except ValueError:
                raise SqsError("InvalidParameterValue", "The request body is not valid JSON")
            self.host = request.headers.get("host", "localhost")
            out = await handler(body)
            return Response.json(out, content_type="application/x-amz-json-1.0")
        except SqsError as err:
            resp = Response.json({"__type": "com.amazonaws.sqs#" + err.name, "message": err.message}, status=400,
                                 content_type="application/x-amz-json-1.0")
            resp.headers["x-amzn-query-error"] = "%s;Sender" % LEGACY.get(err.name, err.name)
            return resp

    def url(self, name):
        return "http://%s/%s/%s" % (self.host, ACCOUNT, name)

    @staticmethod
    def key(body):
        url = body.get("QueueUrl")
        if not url:
            raise SqsError("MissingParameter", "The request must contain the parameter QueueUrl.")
        return url.rstrip("/").rsplit("/", 1)[-1]

    # ------------------------------------------------------------------ queue management
    async def op_CreateQueue(self, b):
        name = b.get("QueueName")
        if not name:
            raise SqsError("MissingParameter", "The request must contain the parameter QueueName.")
        argv = ["QUEUE.CREATE", name]
        attrs = dict(b.get("Attributes") or {})
        if attrs.pop("FifoQueue", "false").lower() == "true":
            argv.append("FIFO")
        elif name.endswith(".fifo"):
            raise SqsError("InvalidParameterValue", "The name of a FIFO queue can only include alphanumeric "
                           "characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
        for k, v in attrs.items():
            argv += ["ATTR", k, v]
        await self.run(*argv)
        return {"QueueUrl": self.url(name)}

    async def op_GetQueueUrl(self, b):
        name = b.get("QueueName", "")
        await self.run("QUEUE.GETATTR", name, "QueueArn")
        return {"QueueUrl": self.url(name)}

    async def op_ListQueues(self, b):
        argv = ["QUEUE.LIST"] + (["PREFIX", b["QueueNamePrefix"]] if b.get("QueueNamePrefix") else [])
        names = _decode(await self.run(*argv))
        return {"QueueUrls": [self.url(n) for n in names]} if names else {}

    async def op_DeleteQueue(self, b):
        await self.run("QUEUE.DROP", self.key(b))
        return {}

    async def op_GetQueueAttributes(self, b):
        names = b.get("AttributeNames") or []
        attrs = _decode(await self.run("QUEUE.GETATTR", self.key(b), *names)) if names else {}
        return {"Attributes": attrs} if attrs else {}

    async def op_SetQueueAttributes(self, b):
        argv = ["QUEUE.SETATTR", self.key(b)]
        for k, v in (b.get("Attributes") or {}).items():
            argv += [k, v]
        if len(argv) == 2:
            return {}
        await self.run(*argv)
        return {}

    async def op_PurgeQueue(self, b):
        await self.run("QUEUE.PURGE", self.key(b))
        return {}

    async def op_ListDeadLetterSourceQueues(self, b):
        names = _decode(await self.run("QUEUE.DLQSOURCES", self.key(b)))
        return {"queueUrls": [self.url(n) for n in names]}

    async def op_StartMessageMoveTask(self, b):
        src = b.get("SourceArn", "").rsplit(":", 1)[-1]
        argv = ["QUEUE.MOVETASK", "START", src]
        if b.get("DestinationArn"):
            argv += ["DEST", b["DestinationArn"].rsplit(":", 1)[-1]]
        if b.get("MaxNumberOfMessagesPerSecond") is not None:
            argv += ["MAXRATE", str(b["MaxNumberOfMessagesPerSecond"])]
        rep = _decode(await self.run(*argv))
        return {"TaskHandle": rep["TaskHandle"]}

    async def op_ListMessageMoveTasks(self, b):
        src = b.get("SourceArn", "").rsplit(":", 1)[-1]
        argv = ["QUEUE.MOVETASK", "LIST", src] + (["MAX", b["MaxResults"]] if b.get("MaxResults") else [])
        return {"Results": _decode(await self.run(*argv))}

    async def op_CancelMessageMoveTask(self, b):
        handle = b.get("TaskHandle", "")
        try:
            src = base64.urlsafe_b64decode(handle).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            raise SqsError("ResourceNotFoundException", "The task handle does not exist.")
        rep = _decode(await self.run("QUEUE.MOVETASK", "CANCEL", src, handle))
        return {"ApproximateNumberOfMessagesMoved": rep.get("ApproximateNumberOfMessagesMoved", 0)}

    # ------------------------------------------------------------------ messages
    @staticmethod
    def send_opts(e):
        argv = []
        if "DelaySeconds" in e:
            argv += ["DELAY", e["DelaySeconds"]]
        if e.get("MessageGroupId") is not None:
            argv += ["GROUP", e["MessageGroupId"]]
        if e.get("MessageDeduplicationId") is not None:
            argv += ["DEDUP", e["MessageDeduplicationId"]]
        trace = (e.get("MessageSystemAttributes") or {}).get("AWSTraceHeader")
        if trace:
            argv += ["TRACE", trace.get("StringValue", "")]
        for name, a in (e.get("MessageAttributes") or {}).items():
            dtype = a.get("DataType", "")
            if dtype.startswith("Binary"):
                value = base64.b64decode(a.get("BinaryValue", ""))
            else:
                value = a.get("StringValue", "").encode()
            argv += ["ATTR", name, dtype, value]
        return argv

    async def op_SendMessage(self, b):
        if "MessageBody" not in b:
            raise SqsError("MissingParameter", "The request must contain the parameter MessageBody.")
        rep = _decode(await self.run("QUEUE.SEND", self.key(b), b["MessageBody"].encode("utf-8", "surrogatepass"),
                                     *self.send_opts(b)))
        return rep

    async def op_SendMessageBatch(self, b):
        key = self.key(b)
        argv = ["QUEUE.SENDBATCH", key]
        entries = b.get("Entries") or []
        if not entries:
            raise SqsError("EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the "
                           "request.")
        for e in entries:
            argv += ["ENTRY", e.get("Id", ""), e.get("MessageBody", "").encode("utf-8", "surrogatepass")]
            argv += self.send_opts(e)
        return self.split_batch(_decode(await self.run(*argv)))

    @staticmethod
    def split_batch(results):
        ok, failed = [], []
        for r in results:
            if "Code" in r:
                failed.append({"Id": r["Id"], "SenderFault": bool(r["SenderFault"]), "Code": r["Code"],
                               "Message": r["Message"]})
            else:
                ok.append(r)
        out = {"Successful": ok}
        if failed:
            out["Failed"] = failed
        return out

    async def op_ReceiveMessage(self, b):
        argv = ["QUEUE.RECV", self.key(b)]
        for field, opt in (("MaxNumberOfMessages", "COUNT"), ("VisibilityTimeout", "VISIBILITY"),
                           ("WaitTimeSeconds", "WAIT"), ("ReceiveRequestAttemptId", "ATTEMPT")):
            if b.get(field) is not None:
                argv += [opt, b[field]]
        msgs = _decode(await self.run(*argv))
        want_sys = set(b.get("AttributeNames") or []) | set(b.get("MessageSystemAttributeNames") or [])
        want_user = b.get("MessageAttributeNames") or []
        out = []
        for m in msgs:
            m = dict(m)
            attrs = m.pop("Attributes")
            if want_sys:
                m["Attributes"] = attrs if "All" in want_sys else {k: v for k, v in attrs.items() if k in want_sys}
            user = m.pop("MessageAttributes", None)
            m.pop("MD5OfMessageAttributes", None)
            if user and want_user:
                keep = {}
                for n, a in user.items():
                    if any(w in ("All", ".*") or w == n or (w.endswith(".*") and n.startswith(w[:-2]))
                           for w in want_user):
                        keep[n] = a
                if keep:
                    m["MessageAttributes"] = {n: ({"DataType": a["DataType"], "BinaryValue":
                                                   base64.b64encode(a["BinaryValue"].encode("utf-8", "surrogateescape")).decode()}
                                                  if "BinaryValue" in a else a) for n, a in keep.items()}
                    m["MD5OfMessageAttributes"] = md5_attributes(
                        [(n, a["DataType"], a["BinaryValue"].encode("utf-8", "surrogateescape") if "BinaryValue" in a
                          else a["StringValue"]) for n, a in keep.items()])
            out.append(m)
        return {"Messages": out} if out else {}

    async def _batch(self, b, build, label):
        entries = b.get("Entries") or []
        if not entries:
            raise SqsError("EmptyBatchRequest", "There should be at least one %s in the request." % label)
        ids = [e.get("Id", "") for e in entries]
        from services.queue.commands import check_batch_shape
        from services.queue.common import AwsError
        try:
            check_batch_shape([i.encode() for i in ids])
        except AwsError as err:
            raise SqsError(err.name, err.message)
        results = await self.run(*build(entries), raise_errors=len(entries) > 1)
        if not isinstance(results, list):
            results = [results]
        ok, failed = [], []
        for eid, r in zip(ids, results):
            if isinstance(r, hiredis.ReplyError):
                e = self.error(r)
                failed.append({"Id": eid, "SenderFault": True, "Code": e.name, "Message": e.message})
            else:
                ok.append({"Id": eid})
        out = {"Successful": ok}
        if failed:
            out["Failed"] = failed
        return out

    async def op_DeleteMessage(self, b):
        await self.run("QUEUE.DELETE", self.key(b), b.get("ReceiptHandle", ""))
        return {}

    async def op_DeleteMessageBatch(self, b):
        key = self.key(b)
        res = await self._batch(b, lambda es: ["QUEUE.DELETE", key] + [e.get("ReceiptHandle", "") for e in es],
                                "DeleteMessageBatchRequestEntry")
        return res

    async def op_ChangeMessageVisibility(self, b):
        await self.run("QUEUE.CHANGEVIS", self.key(b), b.get("ReceiptHandle", ""), b.get("VisibilityTimeout", 0))
        return {}

    async def op_ChangeMessageVisibilityBatch(self, b):
        key = self.key(b)

        def build(es):
            argv = ["QUEUE.CHANGEVIS", key]
            for e in es:
                argv += [e.get("ReceiptHandle", ""), e.get("VisibilityTimeout", 0)]
            return argv
        return await self._batch(b, build, "ChangeMessageVisibilityBatchRequestEntry")


async def start(server):
    """Listen on sqs-port (every bind address) when it is set; returns the asyncio servers."""
    try:
        port = server.config["sqs-port"]
    except KeyError:
        return []
    if not port:
        return []
    from server.http import HttpApp
    app = HttpApp("sqs", log=server.log, max_body=2 << 20, request_timeout=30.0)
    facade = Facade(server)
    app.fallback = facade.handle
    return await app.listen_all(server, port)

