"""FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (redis 7.0 failoverCommand): pause writes, wait
until the target replica acknowledged the whole stream, then become its replica with ``PSYNC replid offset
FAILOVER``, which makes the target promote itself and continue partially from us (no write is lost).
"""
import time

from replication.primary import STATE_ONLINE

SYNTAX = b"ERR syntax error"


class Failover:
    def __init__(self, target, force, deadline):
        self.target = target          # ReplicaLink or None (any replica that catches up)
        self.host = None
        self.port = 0
        self.force = force
        self.deadline = deadline      # monotonic, or None
        self.timer = None


def failover_command(repl, c, argv):
    host = port = None
    force = abort = False
    timeout_ms = 0
    i = 1
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"to" and i + 2 < n + 0 and host is None:
            host = argv[i + 1].decode("latin-1")
            try:
                port = int(argv[i + 2])
            except ValueError:
                c.error(b"ERR value is not an integer or out of range")
                return
            i += 3
        elif opt == b"force" and not force:
            force = True
            i += 1
        elif opt == b"timeout" and i + 1 < n and not timeout_ms:
            try:
                timeout_ms = int(argv[i + 1])
            except ValueError:
                c.error(b"ERR value is not an integer or out of range")
                return
            if timeout_ms <= 0:
                c.error(b"ERR FAILOVER timeout must be greater than 0")
                return
            i += 2
        elif opt == b"abort" and not abort:
            abort = True
            i += 1
        else:
            c.error(SYNTAX)
            return
    if abort:
        if host is not None or force or timeout_ms:
            c.error(SYNTAX)
            return
        if repl.failover is None:
            c.error(b"ERR No failover in progress.")
            return
        abort_failover(repl, "Failover manually aborted")
        c.reply.add_ok()
        return
    if repl.failover is not None:
        c.error(b"ERR FAILOVER already in progress.")
        return
    if repl.master_host is not None:
        c.error(b"ERR FAILOVER is not valid when server is a replica.")
        return
    if not repl.replicas:
        c.error(b"ERR FAILOVER requires connected replicas.")
        return
    if force and (host is None or not timeout_ms):
        c.error(b"ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
        return
    online = [r for r in repl.replicas if r.state == STATE_ONLINE]
    target = None
    if host is not None:
        for r in online:
            if r.ip == host and r.listening_port == port:
                target = r
                break
        if target is None:
            if any(r.ip == host and r.listening_port == port for r in repl.replicas):
                c.error(b"ERR FAILOVER target replica is not online.")
            else:
                c.error(b"ERR FAILOVER target HOST and PORT is not a replica.")
            return
    fo = Failover(target, force, time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None)
    repl.failover = fo
    repl.failover_state = "waiting-for-sync"
    server = repl.server
    server.pause_clients(server.ks.update_clock() + 10 ** 9, "write")
    repl.log.notice("FAILOVER requested to %s." % (target.name if target else "any replica"))
    repl.feed_stream(b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n")
    repl.flush_replicas()
    _tick(repl)
    c.reply.add_ok()


def _tick(repl):
    fo = repl.failover
    if fo is None or repl.failover_state != "waiting-for-sync":
        return
    chosen = None
    candidates = [fo.target] if fo.target is not None else list(repl.replicas)
    for r in candidates:
        if r in repl.replicas and r.state == STATE_ONLINE and r.ack_offset >= repl.offset:
            chosen = r
            break
    if chosen is None and fo.deadline is not None and time.monotonic() >= fo.deadline:
        if fo.force and fo.target is not None:
            chosen = fo.target
        else:
            abort_failover(repl, "Failover target replica did not catch up in time")
            return
    if chosen is None:
        fo.timer = repl.server.loop.call_later(0.01, _tick, repl)
        return
    repl.failover_state = "failover-in-progress"
    fo.host, fo.port = chosen.ip, chosen.listening_port
    repl.log.notice("Failover target %s is synced, failing over." % chosen.name)
    repl.set_master(fo.host, fo.port, failover=True)


def failover_link_result(repl, ok, message=""):
    """The PSYNC ... FAILOVER reply arrived (ok) or the attempt failed."""
    fo = repl.failover
    if fo is None:
        return
    if ok:
        repl.failover = None
        repl.failover_state = "no-failover"
        repl.server.unpause_clients()
        repl.log.notice("Failover target %s:%d is now the master." % (fo.host, fo.port))
    else:
        abort_failover(repl, "Failover target rejected the failover: %s" % message)


def abort_failover(repl, reason):
    fo = repl.failover
    if fo is None:
        return
    if fo.timer is not None:
        fo.timer.cancel()
    was_in_progress = repl.failover_state == "failover-in-progress"
    repl.failover = None
    repl.failover_state = "no-failover"
    if was_in_progress and repl.master_host is not None:
        repl.unset_master(shift=False)
    repl.server.unpause_clients()
    repl.log.notice("FAILOVER to %s aborted: %s" % ("%s:%d" % (fo.host, fo.port) if fo.host else "any replica", reason))
