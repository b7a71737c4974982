"""REPLCONF, PSYNC, SYNC, REPLICAOF/SLAVEOF, WAIT and FAILOVER, declared as redis 7.0.15 declares them
(tools/specgen.py); the handlers live in replication/manager.py.  ROLE is declared in engine/commands/server.py
and asks ``server.extensions["replication"]``."""
from engine.registry import command


def _repl(c):
    return c.server.extensions["replication"]


def replicaof(c, argv):
    repl = _repl(c)
    if repl.failover is not None:
        c.error(b"ERR REPLICAOF not allowed while failing over.")
        return
    host, port = argv[1], argv[2]
    if host.lower() == b"no" and port.lower() == b"one":
        if repl.master_host is not None:
            repl.unset_master()
            repl.log.notice("MASTER MODE enabled (user request from 'id=%d addr=%s')"
                            % (c.id, c.conn.peer if c.conn is not None else ""))
        c.reply.add_ok()
        return
    if c.flags & 1:
        c.error(b"ERR Command is not valid when client is a replica.")
        return
    try:
        p = int(port)
    except ValueError:
        p = -1
    if not 0 <= p <= 65535:           # getRangeLongFromObjectOrReply(..., "Invalid master port")
        c.error(b"ERR Invalid master port")
        return
    h = host.decode("latin-1")
    if repl.master_host is not None and repl.master_host.lower() == h.lower() and repl.master_port == p:
        repl.log.notice("REPLICAOF would result into synchronization with the master we are already connected "
                        "with. No operation performed.")
        c.reply.add_simple(b"OK Already connected to specified master")
        return
    repl.set_master(h, p)
    repl.log.notice("REPLICAOF %s:%d enabled (user request from 'id=%d addr=%s')"
                    % (h, p, c.id, c.conn.peer if c.conn is not None else ""))
    c.reply.add_ok()


@command(
    "replconf", -1, "admin noscript loading stale allow_busy",
    docs={
        "summary": "An internal command for configuring the replication stream",
        "since": "3.0.0",
        "group": "server",
        "complexity": "O(1)",
        "doc_flags": ["syscmd"],
    },
)
def replconf_command(c, argv):
    _repl(c).replconf_command(c, argv)


@command(
    "psync", -3, "admin noscript no_async_loading no_multi",
    docs={
        "summary": "Internal command used for replication",
        "since": "2.8.0",
        "group": "server",
        "arguments": [{"name": "replicationid", "type": "string"}, {"name": "offset", "type": "integer"}],
    },
)
def psync_command(c, argv):
    _repl(c).sync_command(c, argv, True)


@command(
    "sync", 1, "admin noscript no_async_loading no_multi",
    docs={"summary": "Internal command used for replication", "since": "1.0.0", "group": "server"},
)
def sync_command(c, argv):
    _repl(c).sync_command(c, argv, False)


@command(
    "replicaof", 3, "admin noscript stale no_async_loading",
    docs={
        "summary": "Make the server a replica of another instance, or promote it as master.",
        "since": "5.0.0",
        "group": "server",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "args",
                "type": "oneof",
                "arguments": [
                    {
                        "name": "host-port",
                        "type": "block",
                        "arguments": [
                            {"name": "host", "type": "string"},
                            {"name": "port", "type": "integer"},
                        ],
                    },
                    {
                        "name": "no-one",
                        "type": "block",
                        "arguments": [
                            {"name": "no", "type": "pure-token", "token": "NO"},
                            {"name": "one", "type": "pure-token", "token": "ONE"},
                        ],
                    },
                ],
            },
        ],
    },
)
def replicaof_command(c, argv):
    replicaof(c, argv)


@command(
    "slaveof", 3, "admin noscript stale no_async_loading",
    docs={
        "summary": "Make the server a replica of another instance, or promote it as master.",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(1)",
        "doc_flags": ["deprecated"],
        "deprecated_since": "5.0.0",
        "replaced_by": "`REPLICAOF`",
        "arguments": [
            {
                "name": "args",
                "type": "oneof",
                "arguments": [
                    {
                        "name": "host-port",
                        "type": "block",
                        "arguments": [
                            {"name": "host", "type": "string"},
                            {"name": "port", "type": "integer"},
                        ],
                    },
                    {
                        "name": "no-one",
                        "type": "block",
                        "arguments": [
                            {"name": "no", "type": "pure-token", "token": "NO"},
                            {"name": "one", "type": "pure-token", "token": "ONE"},
                        ],
                    },
                ],
            },
        ],
    },
)
def slaveof_command(c, argv):
    replicaof(c, argv)


@command(
    "wait", 3, "noscript", acl="connection",
    tips=("request_policy:all_shards", "response_policy:agg_min"),
    docs={
        "summary": (
            "Wait for the synchronous replication of all the write commands sent in the context of the "
            "current connection"
        ),
        "since": "3.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "numreplicas", "type": "integer"}, {"name": "timeout", "type": "integer"}],
    },
)
def wait_command(c, argv):
    _repl(c).wait_command(c, argv)


@command(
    "failover", -1, "admin noscript stale",
    docs={
        "summary": "Start a coordinated failover between this server and one of its replicas.",
        "since": "6.2.0",
        "group": "server",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "target",
                "type": "block",
                "token": "TO",
                "flags": ["optional"],
                "arguments": [
                    {"name": "host", "type": "string"},
                    {"name": "port", "type": "integer"},
                    {"name": "force", "type": "pure-token", "token": "FORCE", "flags": ["optional"]},
                ],
            },
            {"name": "abort", "type": "pure-token", "token": "ABORT", "flags": ["optional"]},
            {"name": "milliseconds", "type": "integer", "token": "TIMEOUT", "flags": ["optional"]},
        ],
    },
)
def failover_command(c, argv):
    from replication.failover import failover_command as run
    run(_repl(c), c, argv)

