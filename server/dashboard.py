"""The operations HTTP port (``metrics-port``, off by default): Prometheus ``/metrics``, a read-only JSON API
and the dashboard's static files (server/web/, plain HTML + JS, no build step).

Everything is read in-process from the server's state, never through the dispatcher, so a scrape or an
open dashboard costs no command slots and cannot change data. Bad HTTP input is server/http.py's
business: it never reaches the RESP or memcached listeners.

API (GET, JSON):
  /api/overview      version, role, uptime, memory, hit/miss counters, ops/s, clients, keys per db and type
  /api/clients       one row per client (CLIENT LIST's fields)
  /api/slowlog       the slow log, newest first
  /api/latency       per command family: calls, mean and p50/p99 from the latency histogram
  /api/replication   INFO replication's fields, replicas parsed from the slaveN lines
  /api/services      every service key (queue, topic, kstream, workflow...) with its summary
  /api/service?db=N&key=K   one service key's detail (a workflow execution's graph: nodes with a status, edges)

Access (``metrics-auth``, default ``auto``): when any password is set (``requirepass``, or any ACL user other
than ``default`` that has a password), or ``metrics-auth yes``, every path on the port, /metrics included,
wants HTTP Basic credentials checked against the ACL: the user exists, is ``on``, and the password matches
(a ``nopass`` user matches any). A missing or wrong credential gets 401 with ``WWW-Authenticate: Basic``
(a wrong one is an ACL LOG entry: reason ``auth``, object ``HTTP``);
a right one whose user may not run the command the page reads gets 403. The permission is the command the
same data costs over RESP: ``INFO`` for /metrics, the dashboard page and the JSON overview, latency,
replication and services; ``CLIENT LIST`` for /api/clients and ``SLOWLOG GET`` for /api/slowlog. So
``user monitor on >pw +info +client|list +slowlog|get`` is a dashboard user who cannot touch data (a
Prometheus scrape needs only ``+info``). ``metrics-auth no`` leaves the port open whatever the ACL says.
"""
import base64
import binascii
import os
import time

from engine import registry
from engine.commands.connection import client_info_line
from server import metrics
from server.http import HttpApp, Response

WEB_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "application/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
TYPE_SAMPLE_LIMIT = 10000        # keys looked at per database for the per-type counts
SERVICE_SCAN_LIMIT = 200000      # keys looked at per request when listing the services' keys


def _section(fields, name):
    return {k: fields[k] for k in fields.get("__section__" + name, [])}


def overview(server):
    fields = metrics.info_fields(server)
    ks = server.ks
    dbs = []
    types = {}
    sampled_all = True
    for db in ks.dbs:
        n = db.size()
        if not n:
            continue
        dbs.append({"db": db.id, "keys": n, "expires": db.expires_count()})
        seen = 0
        for _key, e in db.items():
            value = e.value
            name = "string" if isinstance(value, (bytes, bytearray)) else \
                getattr(value, "type_name", b"unknown").decode()
            types[name] = types.get(name, 0) + 1
            seen += 1
            if seen >= TYPE_SAMPLE_LIMIT:
                sampled_all = sampled_all and seen == n
                break
    hits, misses = ks.stat_hits, ks.stat_misses
    return {
        "version": fields.get("redis_version"), "cachemere_version": fields.get("cachemere_version"),
        "role": fields.get("role", "master"), "uptime_seconds": server.uptime(), "time": time.time(),
        "used_memory": int(fields.get("used_memory", 0)), "maxmemory": int(fields.get("maxmemory", 0)),
        "used_memory_rss": int(fields.get("used_memory_rss", 0)),
        "keyspace_hits": hits, "keyspace_misses": misses,
        "hit_ratio": hits / (hits + misses) if hits + misses else None,
        "ops_per_sec": server.ops_per_sec(), "total_commands": ks.stat_commands,
        "connected_clients": len(server.clients), "keys": sum(d["keys"] for d in dbs),
        "dbs": dbs, "types": types, "types_exact": sampled_all,
    }


def clients(server):
    now_ms = int(time.time() * 1000)
    rows = []
    for conn in list(server.clients.values()):
        line = client_info_line(conn.client, now_ms)
        rows.append(dict(part.split("=", 1) for part in line.split(" ") if "=" in part))
    return {"clients": rows}


def slowlog(server):
    return {"entries": [{"id": i, "time": ts, "usec": usec,
                         "argv": [a.decode("utf-8", "replace") for a in argv],
                         "peer": peer, "name": (name or b"").decode("utf-8", "replace")}
                        for i, ts, usec, argv, peer, name in server.slowlog]}


def _percentile(buckets, fraction):
    total = sum(buckets)
    if not total:
        return None
    target = fraction * total
    running = 0
    for bound, count in zip(registry.LATENCY_BUCKETS_US, buckets):
        running += count
        if running >= target:
            return bound if bound is not None else registry.LATENCY_BUCKETS_US[-2] * 2
    return None


def latency(server):
    families = {}
    for spec in registry.all_specs():
        if not spec.calls:
            continue
        docs = spec.docs or (spec.parent.docs if spec.parent is not None else None) or {}
        group = docs.get("group", "other")
        entry = families.setdefault(group, {"calls": 0, "usec": 0, "buckets": [0] * len(registry.LATENCY_BUCKETS_US)})
        entry["calls"] += spec.calls
        entry["usec"] += spec.usec
        for i, count in enumerate(spec.latency_histogram()):
            entry["buckets"][i] += count
    out = []
    for group, entry in sorted(families.items()):
        out.append({"family": group, "calls": entry["calls"],
                    "mean_usec": entry["usec"] / entry["calls"],
                    "p50_usec_max": _percentile(entry["buckets"], 0.5),
                    "p99_usec_max": _percentile(entry["buckets"], 0.99)})
    events = {name: [[ts, ms] for ts, ms in samples[-60:]]
              for name, samples in getattr(server, "latency_events", {}).items()
              if isinstance(samples, list)}
    return {"families": out, "events": events}


def replication(server):
    fields = _section(metrics.info_fields(server), "replication")
    replicas = []
    for key, value in fields.items():
        if key.startswith("slave") and key[5:].isdigit():
            replicas.append(dict(part.split("=", 1) for part in value.split(",") if "=" in part))
    return {"fields": fields, "replicas": replicas}


def service_values(server, limit=SERVICE_SCAN_LIMIT):
    """(db id, key, value) of every service key, looking at no more than ``limit`` keys in all (a big
    keyspace of plain keys must not stall the loop for a dashboard poll or a scrape)."""
    from services.base import ServiceValue
    seen = 0
    for db in server.ks.dbs:
        if not db.size():
            continue
        for key, e in db.items():
            if isinstance(e.value, ServiceValue):
                yield db.id, key, e.value
            seen += 1
            if seen >= limit:
                return


def services(server):
    rows = []
    for dbid, key, value in service_values(server):
        rows.append({"db": dbid, "key": key.decode("utf-8", "replace"), "type": value.type_name.decode(),
                     "summary": value.dashboard_summary()})
    return {"services": rows}


def service_detail(server, dbid, key):
    if not 0 <= dbid < len(server.ks.dbs):
        return None
    e = server.ks.dbs[dbid].find(key)
    from services.base import ServiceValue
    if e is None or not isinstance(e.value, ServiceValue):
        return None
    return {"db": dbid, "key": key.decode("utf-8", "replace"), "type": e.value.type_name.decode(),
            "summary": e.value.dashboard_summary(), "detail": e.value.dashboard_detail()}


# path -> the command (argv) a user must be allowed to run to read it; every other path needs INFO
PERMISSION = {"/api/clients": [b"client", b"list"], "/api/slowlog": [b"slowlog", b"get"]}
INFO_ARGV = [b"info"]
REALM = 'Basic realm="cachemere", charset="UTF-8"'


def auth_required(server):
    """Whether the HTTP port wants credentials (see the module doc)."""
    mode = server.config["metrics-auth"]
    if mode != "auto":
        return mode == "yes"
    acl = getattr(server, "acl", None)
    if acl is None:
        return False
    default = acl.default
    if not default.nopass or not default.enabled:
        return True
    return any(u is not default and len(u.passwords) for u in acl.users.values())


def _spec_for(argv):
    spec = registry.lookup(argv[0])
    if spec is not None and len(argv) > 1 and spec.subcommands:
        spec = spec.subcommands.get(argv[1].lower())
    return spec


def _unauthorized(text):
    return Response(401, text + "\n", headers={"WWW-Authenticate": REALM})


def _log_refusal(server, username, peer):
    """A failed login is an ACL LOG entry (reason auth, object HTTP), as a failed AUTH is: one client
    object stands for the metrics port, named so, with the peer's address."""
    from engine.acl import ACL_DENIED_AUTH, CTX_TOPLEVEL
    from engine.core import Client
    c = server.extensions.get("metrics-port-client")
    if c is None:
        c = server.extensions["metrics-port-client"] = Client(server.ks, server, None, 0)
        c.name = "metrics-port"
    try:
        server.acl.add_log(c, ACL_DENIED_AUTH, CTX_TOPLEVEL, username=username, obj=b"HTTP")
    except Exception as exc:          # the log is a courtesy: never a 500 for it
        server.log.verbose("metrics-port: ACL LOG entry failed: %r" % exc)
    server.log.verbose("metrics-port: refused credentials for user '%s' from %s"
                       % (username.decode("utf-8", "replace"), peer))


def check_request(server, request):
    """None when the request may go on, else the 401/403 Response."""
    if not auth_required(server):
        return None
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return _unauthorized("authentication required")
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return _unauthorized("malformed credentials")
    username, sep, password = decoded.partition(b":")
    if not sep:
        return _unauthorized("malformed credentials")
    user = server.acl.check_credentials(username, password)
    if user is None:
        _log_refusal(server, username, request.peer)
        return _unauthorized("invalid username-password pair or user is disabled")
    argv = PERMISSION.get(request.path, INFO_ARGV)
    spec = _spec_for(argv)
    if spec is not None and user.check(spec, list(argv)) is not None:
        return Response(403, "this user has no permissions to run the '%s' command\n" % spec.name)
    return None


def build_app(server):
    app = HttpApp("metrics-port", log=server.log, max_body=64 * 1024)
    app.guard = lambda request: check_request(server, request)

    def json_route(path, producer):
        app.route("GET", path, lambda request: Response.json(producer(server)))

    app.route("GET", "/metrics", lambda request: Response(
        200, metrics.render(server), "text/plain; version=0.0.4; charset=utf-8"))
    json_route("/api/overview", overview)
    json_route("/api/clients", clients)
    json_route("/api/slowlog", slowlog)
    json_route("/api/latency", latency)
    json_route("/api/replication", replication)
    json_route("/api/services", services)

    def one_service(request):
        try:
            dbid = int(request.query.get("db", "0"))
        except ValueError:
            return Response.json({"error": "db must be an integer"}, 400)
        found = service_detail(server, dbid, request.query.get("key", "").encode("utf-8", "surrogateescape"))
        return Response.json(found, 200) if found is not None else Response.json({"error": "no such service key"}, 404)
    app.route("GET", "/api/service", one_service)

    def static(request):
        name = "index.html" if request.path in ("/", "/index.html") else request.path[len("/static/"):]
        if "/" in name or name.startswith(".") or not name:
            return Response(404, "not found\n")
        path = os.path.join(WEB_ROOT, name)
        if not os.path.isfile(path):
            return Response(404, "not found\n")
        with open(path, "rb") as f:
            body = f.read()
        return Response(200, body, STATIC_TYPES.get(os.path.splitext(name)[1], "application/octet-stream"),
                        {"Cache-Control": "no-cache"})
    app.route("GET", "/", static)
    app.route("GET", "/index.html", static)
    app.route_prefix("GET", "/static/", static)
    return app


async def start(server):
    """Listen on metrics-port (every bind address); returns the asyncio servers."""
    port = server.config["metrics-port"]
    if not port:
        return []
    return await build_app(server).listen_all(server, port, server.config["metrics-bind"])
