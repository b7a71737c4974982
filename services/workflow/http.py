"""An optional HTTP facade for the Step Functions JSON protocol (``stepfunctions-port``, 0 = off), so
boto3's ``client("stepfunctions", endpoint_url="http://127.0.0.1:PORT")`` works.

Each request (``X-Amz-Target: AWSStepFunctions.<Operation>``, a JSON body) becomes the matching WF.*
command, run through the dispatcher from an internal client of its own (stats, effects and AOF as for any
client); the RESP3 reply is read back with hiredis and reshaped into the AWS answer.  Errors become HTTP 400
``{"__type": "StateMachineDoesNotExist", "message": ...}``.  GetActivityTask long-polls (up to 60 s) from the
event loop without blocking it.  Served by the process's one HTTP server (server/http.py) on the bind addresses.
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
    b"INVALIDNAME": "InvalidName", b"EXECUTIONNOTREDRIVABLE": "ExecutionNotRedrivable",
    b"VALIDATIONEXCEPTION": "ValidationException", b"RESOURCENOTFOUND": "ResourceNotFound",
    b"CONFLICTEXCEPTION": "ConflictException", b"INVALIDARN": "InvalidArn",
    b"SERVICEQUOTAEXCEEDEDEXCEPTION": "ServiceQuotaExceededException",
}
MAX_BODY = 1 << 20
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


def sm_qualifier(arn):
    """The version number or alias name of a qualified state machine ARN (None when unqualified)."""
    parts = _after(arn, ":stateMachine:").split(":")
    return parts[1] if len(parts) > 1 else None


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
            argv = [b"WF.CREATE", b["name"], b["definition"], b"TYPE", b.get("type", "STANDARD")]
            if b.get("publish"):
                argv.append(b"PUBLISH")
                if b.get("versionDescription") is not None:
                    argv += [b"DESCRIPTION", b["versionDescription"]]
            r = self.run(*argv)
            out = {"stateMachineArn": r["stateMachineArn"], "creationDate": _secs(r["creationDate"])}
            if r.get("stateMachineVersionArn"):
                out["stateMachineVersionArn"] = r["stateMachineVersionArn"]
            return out
        if op == "DescribeStateMachine":
            argv = [b"WF.DESCRIBE", sm_key(b["stateMachineArn"])]
            q = sm_qualifier(b["stateMachineArn"])
            if q is not None:
                if not q.isdigit():
                    raise AwsError("ValidationException", "DescribeStateMachine takes a state machine or version "
                                   "ARN (use DescribeStateMachineAlias for an alias)")
                argv += [b"VERSION", q]
            r = self.run(*argv)
            out = {"stateMachineArn": r["stateMachineArn"], "name": r["name"], "status": "ACTIVE",
                   "definition": r["definition"], "roleArn": "arn:aws:iam::000000000000:role/cachemere",
                   "type": r["type"], "creationDate": _secs(r["creationDate"]), "revisionId": r["revisionId"]}
            if r.get("description") is not None:
                out["description"] = r["description"]
            return out
        if op == "UpdateStateMachine":
            argv = [b"WF.UPDATE", sm_key(b["stateMachineArn"])]
            if b.get("definition") is None:
                d = self.run(b"WF.DESCRIBE", sm_key(b["stateMachineArn"]))
                argv.append(d["definition"])
            else:
                argv.append(b["definition"])
            if b.get("publish"):
                argv.append(b"PUBLISH")
                if b.get("versionDescription") is not None:
                    argv += [b"DESCRIPTION", b["versionDescription"]]
            r = self.run(*argv)
            out = {"updateDate": _secs(r["updateDate"]), "revisionId": r["revisionId"]}
            if r.get("stateMachineVersionArn"):
                out["stateMachineVersionArn"] = r["stateMachineVersionArn"]
            return out
        if op == "PublishStateMachineVersion":
            argv = [b"WF.PUBLISH", sm_key(b["stateMachineArn"])]
            if b.get("revisionId"):
                argv += [b"REVISION", b["revisionId"]]
            if b.get("description") is not None:
                argv += [b"DESCRIPTION", b["description"]]
            r = self.run(*argv)
            return {"stateMachineVersionArn": r["stateMachineVersionArn"], "creationDate": _secs(r["creationDate"])}
        if op == "ListStateMachineVersions":
            r = self.run(b"WF.VERSIONS", sm_key(b["stateMachineArn"]))
            return {"stateMachineVersions": [{"stateMachineVersionArn": x["stateMachineVersionArn"],
                                              "creationDate": _secs(x["creationDate"])} for x in r]}
        if op == "DeleteStateMachineVersion":
            arn = b["stateMachineVersionArn"]
            q = sm_qualifier(arn)
            if q is None or not q.isdigit():
                raise AwsError("ValidationException", f"Invalid version ARN: '{arn}'")
            self.run(b"WF.DELVERSION", sm_key(arn), q)
            return {}
        if op in ("CreateStateMachineAlias", "DescribeStateMachineAlias", "UpdateStateMachineAlias",
                  "DeleteStateMachineAlias"):
            if op == "CreateStateMachineAlias":
                routes = b["routingConfiguration"]
                if not routes:
                    raise AwsError("ValidationException", "routingConfiguration must not be empty")
                key, name = sm_key(routes[0]["stateMachineVersionArn"]), b["name"]
            else:
                arn = b["stateMachineAliasArn"]
                key, name = sm_key(arn), sm_qualifier(arn)
                if name is None or name.isdigit():
                    raise AwsError("ValidationException", f"Invalid alias ARN: '{arn}'")
            verb = {"Create": b"CREATE", "Describe": b"DESCRIBE", "Update": b"UPDATE", "Delete": b"DELETE"}[
                op[:op.index("StateMachineAlias")]]
            argv = [b"WF.ALIAS", verb, key, name]
            if b.get("routingConfiguration") is not None and verb in (b"CREATE", b"UPDATE"):
                argv += [b"ROUTING", json.dumps(b["routingConfiguration"])]
            if b.get("description") is not None and verb in (b"CREATE", b"UPDATE"):
                argv += [b"DESCRIPTION", b["description"]]
            r = self.run(*argv)
            if verb == b"DELETE":
                return {}
            if verb == b"UPDATE":
                return {"updateDate": _secs(r["updateDate"])}
            if verb == b"CREATE":
                return {"stateMachineAliasArn": r["stateMachineAliasArn"], "creationDate": _secs(r["creationDate"])}
            r["creationDate"] = _secs(r["creationDate"])
            r["updateDate"] = _secs(r["updateDate"])
            return r
        if op == "ListStateMachineAliases":
            r = self.run(b"WF.ALIAS", b"LIST", sm_key(b["stateMachineArn"]))
            return {"stateMachineAliases": [{"stateMachineAliasArn": x["stateMachineAliasArn"],
                                             "creationDate": _secs(x["creationDate"])} for x in r]}
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
            if sm_qualifier(b["stateMachineArn"]) is not None:
                argv += [b"QUALIFIER", sm_qualifier(b["stateMachineArn"])]
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
            if d.get("mapRunArn"):
                out["mapRunArn"] = d["mapRunArn"]
            if d.get("stopDate") is not None:
                out["stopDate"] = _secs(d["stopDate"])
            for k in ("output", "error", "cause"):
                if d.get(k) is not None:
                    out[k] = d[k]
            for k in ("stateMachineVersionArn", "stateMachineAliasArn"):
                if d.get(k):
                    out[k] = d[k]
            out["redriveCount"] = d["redriveCount"]
            if d.get("redriveDate") is not None:
                out["redriveDate"] = _secs(d["redriveDate"])
            if d.get("redriveStatus"):
                out["redriveStatus"] = d["redriveStatus"]
                if d.get("redriveStatusReason"):
                    out["redriveStatusReason"] = d["redriveStatusReason"]
            return out
        if op == "UpdateMapRun":
            arn = b["mapRunArn"]
            ex_arn = _after(arn, ":mapRun:").rsplit(":", 2)[0]
            args = [b"WF.UPDATEMAPRUN", exec_key(arn.split(":mapRun:")[0] + ":execution:" + ex_arn), arn]
            for field, token in (("maxConcurrency", b"MAXCONCURRENCY"), ("toleratedFailureCount", b"TOLERATEDFAILURECOUNT"),
                                 ("toleratedFailurePercentage", b"TOLERATEDFAILUREPERCENTAGE")):
                if b.get(field) is not None:
                    args += [token, str(b[field])]
            self.run(*args)
            return {}
        if op in ("ListMapRuns", "DescribeMapRun"):
            if op == "ListMapRuns":
                runs = self.run(b"WF.MAPRUNS", exec_key(b["executionArn"]))
                return {"mapRuns": [{"executionArn": x["executionArn"], "mapRunArn": x["mapRunArn"],
                                     "stateMachineArn": x["stateMachineArn"], "startDate": _secs(x["startDate"]),
                                     **({"stopDate": _secs(x["stopDate"])} if x.get("stopDate") else {})}
                                    for x in runs]}
            arn = b["mapRunArn"]
            ex_arn = _after(arn, ":mapRun:").rsplit(":", 2)[0]
            runs = self.run(b"WF.MAPRUNS", exec_key(arn.split(":mapRun:")[0] + ":execution:" + ex_arn))
            run = next((x for x in runs if x["mapRunArn"] == arn), None)
            if run is None:
                raise AwsError("ResourceNotFound", f"Map Run Does Not Exist: '{arn}'")
            run["startDate"] = _secs(run["startDate"])
            if run.get("stopDate"):
                run["stopDate"] = _secs(run["stopDate"])
            else:
                run.pop("stopDate", None)
            run["toleratedFailurePercentage"] = float(run["toleratedFailurePercentage"])
            return run
        if op == "DescribeStateMachineForExecution":
            d = self.run(b"WF.EXEC", exec_key(b["executionArn"]), b"DEFINITION")
            sm = self.run(b"WF.DESCRIBE", sm_key(d["stateMachineArn"]))
            out = {"stateMachineArn": d.get("stateMachineVersionArn") or d["stateMachineArn"], "name": sm["name"],
                   "definition": d["definition"], "roleArn": "arn:aws:iam::000000000000:role/cachemere",
                   "updateDate": _secs(d["startDate"]), "revisionId": sm["revisionId"]}
            if d.get("mapRunArn"):
                out["mapRunArn"] = d["mapRunArn"]
            return out
        if op == "RedriveExecution":
            argv = [b"WF.REDRIVE", exec_key(b["executionArn"])]
            if b.get("clientToken"):
                argv += [b"CLIENTTOKEN", b["clientToken"]]
            r = self.run(*argv)
            return {"redriveDate": _secs(r["redriveDate"])}
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
            if b.get("redriveFilter"):
                argv += [b"REDRIVE", b["redriveFilter"]]
            r = self.run(*argv)
            q = sm_qualifier(b["stateMachineArn"])
            if q is not None:              # a version or alias ARN: the executions started through it
                field = "stateMachineVersionArn" if q.isdigit() else "stateMachineAliasArn"
                r = [x for x in r if x.get(field) == b["stateMachineArn"]]
            return {"executions": [{"executionArn": x["executionArn"], "stateMachineArn": b["stateMachineArn"],
                                    **{k: x[k] for k in ("stateMachineVersionArn", "stateMachineAliasArn") if x.get(k)},
                                    "name": x["name"], "status": x["status"], "startDate": _secs(x["startDate"]),
                                    **({"stopDate": _secs(x["stopDate"])} if x["stopDate"] is not None else {}),
                                    "redriveCount": x["redriveCount"],
                                    **({"redriveDate": _secs(x["redriveDate"])} if x.get("redriveDate") else {})}
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
        if op == "TestState":
            argv = [b"WF.TESTSTATE", b["definition"], b"INPUT", b.get("input") or "{}",
                    b"INSPECT", b.get("inspectionLevel") or "INFO"]
            if b.get("stateName"):
                argv += [b"STATE", b["stateName"]]
            if b.get("variables"):
                argv += [b"VARS", b["variables"]]
            if b.get("mock"):
                argv += [b"MOCK", json.dumps(b["mock"])]
            if b.get("context"):
                argv += [b"CONTEXT", b["context"]]
            if b.get("stateConfiguration"):
                argv += [b"CONFIG", json.dumps(b["stateConfiguration"])]
            r = self.run(*argv)
            insp = r.get("inspectionData")
            if isinstance(insp, dict) and isinstance(insp.get("errorDetails"), dict):
                insp["errorDetails"] = {k: int(v) for k, v in insp["errorDetails"].items()}
            return {k: v for k, v in r.items() if v is not None}
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


async def start(server):
    """The HTTP_FACADES entry: listen on stepfunctions-port (every bind address) with the process's one HTTP
    server (server/http.py: limits, keep-alive, slowloris timeout); returns the asyncio servers."""
    port = server.config["stepfunctions-port"]
    if not port:
        return []
    from server.http import HttpApp, Response      # server-side glue (command families never import server/)
    facade = Facade(server)
    server.extensions["stepfunctions-http"] = facade
    app = HttpApp("stepfunctions-port", log=server.log, max_body=MAX_BODY, request_timeout=REQUEST_TIMEOUT)

    async def handle(request):
        status, out = 200, None
        target = request.headers.get("x-amz-target", "")
        try:
            if not target.startswith("AWSStepFunctions."):
                raise AwsError("UnknownOperationException", "missing X-Amz-Target AWSStepFunctions.<Operation>")
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                raise AwsError("SerializationException", "the body is not JSON")
            out = await facade.handle(target.split(".", 1)[1], body)
        except AwsError as exc:
            status, out = 400, {"__type": exc.typ, "message": exc.message}
        except KeyError as exc:
            status, out = 400, {"__type": "ValidationException", "message": f"missing field {exc}"}
        return Response(status, json.dumps(out).encode(), "application/x-amz-json-1.0",
                        {"x-amzn-RequestId": "cachemere"})
    app.fallback = handle
    facade.listeners = await app.listen_all(server, port)
    return facade.listeners
