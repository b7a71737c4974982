"""Redis-protocol replication (primary and replica sides, PSYNC2), a peer of engine/.

- backlog.py: the replication backlog (ring of the last repl-backlog-size bytes, by offset)
- primary.py: a replica attached to us (full sync RDB framing, the stream, ACKs)
- replica.py: our link to a primary (handshake, RDB into a side keyspace, stream applied via the Dispatcher)
- manager.py: ids/offsets, REPLICAOF, ROLE, WAIT, INFO replication, write gates, the cron
- failover.py: FAILOVER [TO host port [FORCE]] [TIMEOUT ms] [ABORT]
- commands.py: the command declarations (as redis 7.0.15 declares them)

``install(server)`` (called by server/main.py after persistence) registers ``server.extensions["replication"]``.
"""
from replication import commands  # noqa: F401  (registers REPLCONF, PSYNC, SYNC, REPLICAOF, WAIT, FAILOVER)


def install(server):
    from replication.manager import install as _install
    return _install(server)
