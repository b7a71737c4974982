"""An optional HTTP facade for the Step Functions JSON protocol (``stepfunctions-port``, 0 = off), so
boto3's ``client("stepfunctions", endpoint_url="http://127.0.0.1:PORT")`` works.

Each request (``X-Amz-Target: AWSStepFunctions.<Operation>``, a JSON body) becomes the matching WF.*
command, run through the dispatcher from an internal client of its own (stats, effects and AOF as for any
client); the RESP3 reply is read back with hiredis and reshaped into the AWS answer.  Errors become HTTP 400
``{"__type": "StateMachineDoesNotExist", "message": ...}``.  GetActivityTask long-polls (up to 60 s) from the
event loop without blocking it.  Listens on loopback only.
"""
import asyncio
import json

import hiredis

from engine.core import Client

ERRORS = {
    b"STATEMACHINEDOESNOTEXIST": "StateMachineDoesNotExist", b"STATEMACHINEALREADYEXISTS": "StateMachineAlreadyExists",
    b"EXECUTIONALREADYEXISTS": "ExecutionAlreadyExists", b"EXECUTIONDOESNOTEXIST": "ExecutionDoesNotExist",
    b"INVALIDDEFINITION": "InvalidDefinition", b"TASKDOESNOTEXIST": "TaskDoesNotExist",
    b"TASKTIMEDOUT": "TaskTimedOut", b"INVALIDTOKEN": "InvalidToken", b"INVALIDOUTPUT": "InvalidOutput",
    b"ACTIVITYDOESNOTEXIST": "ActivityDoesNotExist", b"INVALIDEXECUTIONINPUT": "InvalidExecutionInput",
    b"INVALIDNAME": "InvalidName",
}
MAX_BODY = 1 << 20
MAX_HEAD = 16 * 1024
REQUEST_TIMEOUT = 10.0         # a request must arrive whole within this (slowloris gets a close)


class AwsError(Exception):
    def __init__(self, typ, message):
        super().__init__(message)
        self.typ = typ
        self.message = message


def _s(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _tree(v):
    if isinstance(v, dict):
        return {_s(k): _tree(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_tree(x) for x in v]
    return _s(v)


def _secs(ms):
    return None if ms is None else ms / 1000.0


def _after(arn, marker):
    if not isinstance(arn, str) or marker not in arn:
        raise AwsError("InvalidArn", f"Invalid Arn: '{arn}'")
    return arn.split(marker, 1)[1]


def sm_key(arn):
    return _after(arn, ":stateMachine:").split(":")[0].encode()


def exec_key(arn):
    sm, name = _after(arn, ":execution:").split(":", 1)
    return b"{" + sm.encode() + b"}:" + name.encode()


def act_key(arn):
    return _after(arn, ":activity:").encode()


class Facade:
    def __init__(self, server):
        self.server = server
        self.client = Client(server.ks, server, None, 0)
        self.client.reply.resp = 3
        self.client.deny_blocking = True
        self.client.name = "stepfunctions-http"
        self.listeners = []

    def run(self, *argv):
        c = self.client
        c.reply.truncate(0)
        self.server.dispatcher.execute(c, [a if isinstance(a, bytes) else str(a).encode() for a in argv])
        data = c.reply.take()
        reader = hiredis.Reader()
        reader.feed(data)
        v = reader.gets()
        if isinstance(v, hiredis.ReplyError):
            msg = str(v).encode()
            code = msg.split(b" ", 1)[0]
            raise AwsError(ERRORS.get(code, "ValidationException"), msg.decode("utf-8", "replace"))
        return _tree(v)

    # ------------------------------------------------------------------ operations
    async def handle(self, op, b):
        if op == "CreateStateMachine":
            r = self.run(b"WF.CREATE", b["name"], b["definition"], b"TYPE", b.get("type", "STANDARD"))
            return {"stateMachineArn": r["stateMachineArn"], "creationDate": _secs(r["creationDate"])}
        if op == "DescribeStateMachine":
            r = self.run(b"WF.DESCRIBE", sm_key(b["stateMachineArn"]))
            return {"stateMachineArn": r["stateMachineArn"], "name": r["name"], "status": "ACTIVE",
                    "definition": r["definition"], "roleArn": "arn:aws:iam::000000000000:role/cachemere",
                    "type": r["type"], "creationDate": _secs(r["creationDate"]), "revisionId": r["revisionId"]}
        if op == "UpdateStateMachine":
            r = self.run(b"WF.UPDATE", sm_key(b["stateMachineArn"]), b["definition"])
            return {"updateDate": _secs(r["updateDate"]), "revisionId": r["revisionId"]}
        if op == "DeleteStateMachine":
            self.run(b"DEL", sm_key(b["stateMachineArn"]))
            return {}
        if op == "ListStateMachines":
            return {"stateMachines": [{"stateMachineArn": x["stateMachineArn"], "name": x["name"], "type": x["type"],
                                       "creationDate": _secs(x["creationDate"])} for x in self.run(b"WF.LIST")]}
        if op == "ListActivities":
            return {"activities": [{"activityArn": x["activityArn"], "name": x["name"],
                                    "creationDate": _secs(x["creationDate"])} for x in self.run(b"WF.ACTIVITIES")]}
        if op == "ValidateStateMachineDefinition":
            return self.run(b"WF.VALIDATE", b["definition"])
        if op in ("StartExecution", "StartSyncExecution"):
            argv = [b"WF.START", sm_key(b["stateMachineArn"])]
            if b.get("name"):
                argv += [b"NAME", b["name"]]
            if "input" in b:
                argv += [b"INPUT", b["input"]]
            r = self.run(*argv)
            if op == "StartExecution":
                return {"executionArn": r["executionArn"], "startDate": _secs(r["startDate"])}
            key = r["exec"].encode()
            for _ in range(3000):                  # Express: at most 5 minutes
                d = self.run(b"WF.EXEC", key)
                if d["status"] != "RUNNING":
                    break
                await asyncio.sleep(0.1)
            out = {"executionArn": d["executionArn"], "stateMachineArn": d["stateMachineArn"], "name": d["name"],
                   "startDate": _secs(d["startDate"]), "stopDate": _secs(d["stopDate"]), "status": d["status"],
                   "input": d["input"]}
            for k in ("output", "error", "cause"):
                if d.get(k) is not None:
                    out[k] = d[k]
            return out
        if op == "DescribeExecution":
            d = self.run(b"WF.EXEC", exec_key(b["executionArn"]))
            out = {"executionArn": d["executionArn"], "stateMachineArn": d["stateMachineArn"], "name": d["name"],
                   "status": d["status"], "startDate": _secs(d["startDate"]), "input": d["input"]}
            if d.get("stopDate") is not None:
                out["stopDate"] = _secs(d["stopDate"])
            for k in ("output", "error", "cause"):
                if d.get(k) is not None:
                    out[k] = d[k]
            return out
        if op == "StopExecution":
            argv = [b"WF.STOP", exec_key(b["executionArn"])]
            for f, t in (("error", b"ERROR"), ("cause", b"CAUSE")):
                if b.get(f) is not None:
                    argv += [t, b[f]]
            r = self.run(*argv)
            return {"stopDate": _secs(r["stopDate"])}
        if op == "ListExecutions":
            argv = [b"WF.EXECUTIONS", sm_key(b["stateMachineArn"])]
            if b.get("statusFilter"):
                argv += [b"STATUS", b["statusFilter"]]
            r = self.run(*argv)
            return {"executions": [{"executionArn": x["executionArn"], "stateMachineArn": b["stateMachineArn"],
                                    "name": x["name"], "status": x["status"], "startDate": _secs(x["startDate"]),
                                    **({"stopDate": _secs(x["stopDate"])} if x["stopDate"] is not None else {})}
                                   for x in r]}
        if op == "GetExecutionHistory":
            argv = [b"WF.HISTORY", exec_key(b["executionArn"]), b"COUNT", b.get("maxResults") or 1000]
            if b.get("reverseOrder"):
                argv.append(b"REVERSE")
            if b.get("includeExecutionData") is False:
                argv.append(b"NODATA")
            events = self.run(*argv)
            for e in events:
                e["timestamp"] = _secs(e["timestamp"])
                for k, v in e.items():
                    if k.endswith("EventDetails") and isinstance(v, dict):
                        for kk, vv in list(v.items()):
                            if kk.endswith("Details") and isinstance(vv, dict) and "truncated" in vv:
                                vv["truncated"] = bool(vv["truncated"])
            return {"events": events}
        if op == "CreateActivity":
            r = self.run(b"WF.ACTIVITY", b"CREATE", b["name"])
            return {"activityArn": r["activityArn"], "creationDate": _secs(r["creationDate"])}
        if op == "DeleteActivity":
            self.run(b"WF.ACTIVITY", b"DELETE", act_key(b["activityArn"]))
            return {}
        if op == "GetActivityTask":
            key = act_key(b["activityArn"])
            for _ in range(600):                   # long poll: up to 60 s, from the loop
                r = self.run(b"WF.POLL", key, b"WORKER", b.get("workerName") or "")
                if r is not None:
                    return {"taskToken": r[0], "input": r[1]}
                await asyncio.sleep(0.1)
            return {}
        if op == "SendTaskSuccess":
            self.run(b"WF.TASK", b"SUCCESS", b["taskToken"], b["output"])
            return {}
        if op == "SendTaskFailure":
            argv = [b"WF.TASK", b"FAILURE", b["taskToken"]]
            for f, t in (("error", b"ERROR"), ("cause", b"CAUSE")):
                if b.get(f) is not None:
                    argv += [t, b[f]]
            self.run(*argv)
            return {}
        if op == "SendTaskHeartbeat":
            self.run(b"WF.TASK", b"HEARTBEAT", b["taskToken"])
            return {}
        raise AwsError("UnknownOperationException", f"The operation {op} is not supported by this endpoint")


class HttpProtocol(asyncio.Protocol):
    def __init__(self, facade):
        self.facade = facade
        self.buf = b""
        self.transport = None
        self.busy = False

    def connection_made(self, transport):
        self.transport = transport
        self.timer = None

    def connection_lost(self, exc):
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None

    def _timed_out(self):
        self.timer = None
        if self.transport is not None and self.buf and not self.busy:
            self.transport.close()

    def data_received(self, data):
        self.buf += data
        if len(self.buf) > MAX_BODY + MAX_HEAD or (b"\r\n\r\n" not in self.buf and len(self.buf) > MAX_HEAD):
            self.transport.close()
            return
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(REQUEST_TIMEOUT, self._timed_out)
        self._next()

    def _next(self):
        if self.busy:
            return
        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return
        lines = head.split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
        try:
            n = int(headers.get(b"content-length", b"0"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.transport.close()
            return
        if len(rest) < n:
            return
        body, self.buf = rest[:n], rest[n:]
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        target = headers.get(b"x-amz-target", b"").decode("latin-1")
        self.busy = True
        asyncio.ensure_future(self._serve(target, body))

    async def _serve(self, target, body):
        status, out = 200, None
        try:
            if not target.startswith("AWSStepFunctions."):
                raise AwsError("UnknownOperationException", "missing X-Amz-Target AWSStepFunctions.<Operation>")
            try:
                b = json.loads(body or b"{}")
            except ValueError:
                raise AwsError("SerializationException", "the body is not JSON")
            out = await self.facade.handle(target.split(".", 1)[1], b)
        except AwsError as exc:
            status, out = 400, {"__type": exc.typ, "message": exc.message}
        except KeyError as exc:
            status, out = 400, {"__type": "ValidationException", "message": f"missing field {exc}"}
        data = json.dumps(out).encode()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/x-amz-json-1.0\r\n"
                                 b"Content-Length: %d\r\nx-amzn-RequestId: cachemere\r\n\r\n"
                                 % (status, b"OK" if status == 200 else b"Bad Request", len(data)) + data)
        self.busy = False
        if self.buf:
            self._next()


def start(server, port):
    facade = Facade(server)
    loop = asyncio.get_running_loop()

    async def listen():
        srv = await loop.create_server(lambda: HttpProtocol(facade), "127.0.0.1", port, reuse_address=True)
        facade.listeners.append(srv)
    loop.create_task(listen())
    return facade
