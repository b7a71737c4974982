"""Replication state of one server (redis replication.c): the replication ids and offset, the backlog, the
replicas attached to us (primary side, replication/primary.py) and our link to a primary (replica side,
replication/replica.py); REPLICAOF, ROLE, WAIT, INFO replication, the write gates (READONLY, NOREPLICAS,
MASTERDOWN) and the once-a-second cron (pings, ACKs, timeouts, reconnects, backlog TTL).

The stream a primary sends is the engine's EffectLog, the very bytes the AOF appends (SELECT included,
expiry and eviction as DEL): ``feed_stream`` is an EffectLog subscriber while we are a primary with a
backlog.  A replica feeds ``feed_stream`` with the bytes it applied from its own primary instead, so chained
replicas get the top primary's stream verbatim and offsets agree along the chain (PSYNC2).
"""
import asyncio
import os
import time

from engine import registry
from engine.core import Keyspace
from engine.persistence.rdb import RdbError
from engine.persistence.snapshot import load_keyspace
from replication.backlog import Backlog
from replication.primary import (ReplicaLink, RdbChild, rdb_payload, frame_payload, STATE_ONLINE, STATE_SEND_BULK,
                                 STATE_WAIT_BGSAVE, STATE_WAIT_START)
from replication.replica import MasterLink, ST_CONNECTED, ST_TRANSFER, ST_HANDSHAKE, encode

WRITE = registry.FLAGS["write"]
STALE = registry.FLAGS["stale"]
FLAG_REPLICA = 1          # engine/commands/connection.py FLAG_REPLICA (CLIENT LIST 'S', CLIENT KILL TYPE replica)

PING = encode("PING")
GETACK = encode("REPLCONF", "GETACK", "*")

ERR_READONLY = b"READONLY You can't write against a read only replica."
ERR_NOREPLICAS = b"NOREPLICAS Not enough good replicas to write."
ERR_MASTERDOWN = b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."


def new_replid():
    return os.urandom(20).hex()


class Waiter:
    __slots__ = ("client", "target", "numreplicas", "timer")

    def __init__(self, client, target, numreplicas):
        self.client = client
        self.target = target
        self.numreplicas = numreplicas
        self.timer = None


class Replication:
    def __init__(self, server):
        self.server = server
        self.config = server.config
        self.log = server.log
        self.ks = server.ks
        self.replid = new_replid()
        self.replid2 = "0" * 40
        self.second_offset = -1
        self.offset = 0
        self.backlog = None
        self.no_replicas_since = time.time()
        self.replicas = []
        self.by_client = {}
        self.replconf_opts = {}
        # replica side
        self.master_host = None
        self.master_port = 0
        self.link = None
        self.connecting = False
        self.master_client = None
        self.cached_replid = None
        self.cached_offset = -1
        self.cached_db = 0
        self.down_since = None
        self.next_connect = 0.0
        self.applying_offset = None
        self.auth_failures = 0
        # stats
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        self.subscribed = False
        self.flush_scheduled = False
        self.waiters = []
        self.getack_requested = False
        self.gate_installed = False
        self.gate_prev = None
        self.last_cron = 0.0
        self.cron_loops = 0
        self.failover_state = "no-failover"
        self.failover = None
        self.psync_failover = False
        self.rdb_child = None         # the fork serving full syncs now (one at a time, as redis)
        self.start_timer = None

    # ------------------------------------------------------------------ install
    def register(self):
        server = self.server
        server.extensions["replication"] = self
        server.info_sections["replication"] = self.info_replication
        stats_provider = server.info_section_provider("stats")

        def stats_with_sync(srv):
            out = []
            for name, value in stats_provider(srv):
                if name == "sync_full":
                    value = self.sync_full
                elif name == "sync_partial_ok":
                    value = self.sync_partial_ok
                elif name == "sync_partial_err":
                    value = self.sync_partial_err
                out.append((name, value))
            return out
        server.info_sections["stats"] = stats_with_sync
        memory_provider = server.info_section_provider("memory")

        def memory_with_backlog(srv):
            out = []
            for name, value in memory_provider(srv):
                if name == "mem_replication_backlog" or name == "mem_total_replication_buffers":
                    value = len(self.backlog.buf) if self.backlog is not None else 0
                elif name == "mem_clients_slaves":
                    value = sum(r.conn.output_buffer_size() for r in self.replicas)
                out.append((name, value))
            return out
        server.info_sections["memory"] = memory_with_backlog
        cfg = self.config
        cfg.on_change("repl-backlog-size", lambda v: self.backlog.resize(v) if self.backlog else None)
        cfg.on_change("min-replicas-to-write", lambda v: self._install_gate() if v else None)
        cfg.on_change("replica-serve-stale-data", lambda v: self._install_gate())
        for name in ("maxmemory", "memcached-memory", "replica-ignore-maxmemory"):
            cfg.on_change(name, lambda v: server.loop.call_soon(self._apply_maxmemory) if server.loop else None)
        target = cfg["replicaof"]
        if cfg["min-replicas-to-write"]:
            self._install_gate()
        if target is not None:
            self.set_master(target[0], target[1], startup=True)
        self._restore_from_rdb()

    # ------------------------------------------------------------------ replication info in the RDB
    def save_info(self):
        """redis rdbPopulateSaveInfo: the aux fields an RDB saved now carries (repl-stream-db, repl-id,
        repl-offset), or None when we are in no replication chain (a primary without a backlog)."""
        if self.master_host is None:
            if self.backlog is None:
                return None
            db = self.ks.effects.selected_db(self.feed_stream)
            stream_db = 0 if db == -1 else db
        elif self.master_client is not None:
            stream_db = self.master_client.db.id
        elif self.cached_replid is not None:
            stream_db = self.cached_db
        else:
            return None
        return {"repl-stream-db": stream_db, "repl-id": self.replid, "repl-offset": self.offset}

    def _restore_from_rdb(self):
        """redis loadDataFromDisk: the replication id and offset of the RDB loaded at startup. A replica makes
        them its cached master (replicationCacheMasterUsingMyself), so its first PSYNC can continue; a primary
        keeps them as its secondary id, so its old replicas can continue with it."""
        persistence = self.server.extensions.get("persistence")
        info = getattr(persistence, "loaded_repl_info", None) or {}
        try:
            replid = info["repl-id"].decode("latin-1")
            offset = int(info["repl-offset"])
            stream_db = int(info["repl-stream-db"])
        except (KeyError, ValueError, UnicodeDecodeError):
            return
        if len(replid) != 40 or offset == -1 or stream_db == -1:
            return
        if self.master_host is not None:
            self.replid = replid
            self.offset = offset
            self.cached_replid = replid
            self.cached_offset = offset
            self.cached_db = stream_db if 0 <= stream_db < len(self.ks.dbs) else 0
            self.log.notice("Before turning into a replica, using my own master parameters to synthesize a cached "
                            "master: I may be able to synchronize with the new master with just a partial transfer.")
        else:
            self.replid2 = replid
            self.second_offset = offset + 1
            self.offset = offset
            self._create_backlog()
            self._update_subscription()
            self.no_replicas_since = time.time()
            # keys that expired while we were down were dropped by the load: the replicas that continue get DELs
            for dbid, key in getattr(persistence, "loaded_expired", ()):
                self.ks.effects.emit(dbid, [b"DEL", key])
        if persistence is not None:
            persistence.loaded_expired = []

    def _apply_maxmemory(self):
        """replica-ignore-maxmemory: a replica never evicts by itself (its primary's DELs do)."""
        if self.master_host is not None and self.config["replica-ignore-maxmemory"]:
            self.ks.maxmemory = 0
        else:
            self.ks.maxmemory = self.config.effective_maxmemory()

    # ------------------------------------------------------------------ role helpers
    @property
    def is_replica(self):
        return self.master_host is not None

    def link_connected(self):
        return self.link is not None and self.link.state == ST_CONNECTED

    def applying_offset_or_offset(self):
        return self.applying_offset if self.applying_offset is not None else self.offset

    def _update_subscription(self):
        want = self.master_host is None and self.backlog is not None
        effects = self.ks.effects
        if want and not self.subscribed:
            effects.subscribe(self.feed_stream, True)
            self.subscribed = True
        elif not want and self.subscribed:
            effects.unsubscribe(self.feed_stream)
            self.subscribed = False

    def _create_backlog(self):
        self.backlog = Backlog(self.config["repl-backlog-size"], self.offset)
        self.log.notice("Replication backlog created, my new replication IDs are '%s' and '%s'"
                        % (self.replid, self.replid2))

    def shift_replid(self):
        """Promotion (redis shiftReplicationId): the old history stays reachable as replid2."""
        self.replid2 = self.replid
        self.second_offset = self.offset + 1
        self.replid = new_replid()
        self.log.notice("Setting secondary replication ID to %s, valid up to offset: %d. New replication ID is %s"
                        % (self.replid2, self.second_offset, self.replid))

    def clear_replid2(self):
        self.replid2 = "0" * 40
        self.second_offset = -1

    # ------------------------------------------------------------------ the stream
    def feed_stream(self, data):
        """Bytes of the replication stream: into the backlog, the offset, and every replica's buffer."""
        if self.backlog is None:
            self._create_backlog()
        self.backlog.append(data)
        self.offset += len(data)
        if self.replicas:
            n = len(data)
            for r in self.replicas:
                if r.state != STATE_WAIT_START:      # its stream starts when its fork does
                    r.pending.append(data)
                    r.pending_bytes += n
            if not self.flush_scheduled:
                self.flush_scheduled = True
                self.server.loop.call_soon(self.flush_replicas)

    def flush_replicas(self):
        self.flush_scheduled = False
        limits = self.config["client-output-buffer-limit"]["replica"]
        now = int(time.time())
        for r in list(self.replicas):
            if r.state == STATE_ONLINE and r.pending:
                data = b"".join(r.pending) if len(r.pending) > 1 else r.pending[0]
                r.pending = []
                r.pending_bytes = 0
                r.write(data)
            if limits[0] or limits[1]:
                self._check_output_limit(r, limits, now)

    def _check_output_limit(self, r, limits, now):
        """redis checkClientOutputBufferLimits for the replica class (`client-output-buffer-limit replica|slave
        <hard> <soft> <soft-seconds>`): what the replica has not taken yet (the socket's buffer, and the stream
        kept for it while its RDB is prepared) over the hard limit closes it at once; over the soft limit
        continuously for more than soft-seconds (whole unix seconds, as redis) closes it too."""
        hard, soft, seconds = limits
        used = r.conn.output_buffer_size() + r.pending_bytes
        over = bool(hard and used >= hard)
        if soft and used >= soft:
            if not r.soft_limit_since:
                r.soft_limit_since = now
            elif now - r.soft_limit_since > seconds:
                over = True
        else:
            r.soft_limit_since = 0
        if over and not r.conn.closing:
            from engine.commands.connection import client_info_line
            self.log.warning("Client %s scheduled to be closed ASAP for overcoming of output buffer limits."
                             % client_info_line(r.client, self.ks.update_clock()))
            self.server.stat_obuf_limit_disconnections = getattr(self.server, "stat_obuf_limit_disconnections", 0) + 1
            r.pending = []
            r.pending_bytes = 0
            r.abort()

    # ------------------------------------------------------------------ primary side: SYNC / PSYNC
    def sync_command(self, c, argv, psync):
        conn = c.conn
        if conn is None or c.flags & FLAG_REPLICA:
            return
        limit = self.config["max-replicas"]
        if len(self.replicas) >= limit:
            self.log.warning("Replica %s refused: max-replicas %d reached" % (conn.peer, limit))
            c.error(b"ERR max number of replicas reached (max-replicas %d)" % limit)
            return
        if psync and len(argv) > 3 and argv[3].lower() == b"failover":
            if self.master_host is None:
                c.error(b"ERR PSYNC FAILOVER can't be sent to a master.")
                return
            if argv[1].decode("latin-1") != self.replid:
                c.error(b"ERR PSYNC FAILOVER replid must match my replid.")
                return
            self.log.notice("Promoting replica as requested by the master (failover)")
            self.unset_master()
        elif self.master_host is not None and not self.link_connected():
            c.error(b"NOMASTERLINK Can't SYNC while not connected with my master")
            return
        link = ReplicaLink(self, conn)
        self.log.notice("Replica %s asks for synchronization" % link.name)
        if psync:
            replid = argv[1].decode("latin-1")
            try:
                psync_offset = int(argv[2])
            except ValueError:
                psync_offset = -1
            if self._try_partial(c, link, replid, psync_offset):
                return
        self._full_sync(c, link, psync)

    def _try_partial(self, c, link, replid, psync_offset):
        if replid != self.replid and not (replid == self.replid2 and psync_offset <= self.second_offset):
            if replid != "?":
                if replid != self.replid and replid != self.replid2:
                    self.log.notice("Partial resynchronization not accepted: Replication ID mismatch (Replica "
                                    "asked for '%s', my replication IDs are '%s' and '%s')"
                                    % (replid, self.replid, self.replid2))
                else:
                    self.log.notice("Partial resynchronization not accepted: Requested offset for second ID was "
                                    "%d, but I can reply up to %d" % (psync_offset, self.second_offset))
                self.sync_partial_err += 1
            else:
                self.log.notice("Full resync requested by replica %s" % link.name)
            return False
        if self.backlog is None or not self.backlog.has(psync_offset):
            self.log.notice("Unable to partial resync with replica %s for lack of backlog (Replica request was: %d)."
                            % (link.name, psync_offset))
            self.sync_partial_err += 1
            return False
        head = b"+CONTINUE %s\r\n" % self.replid.encode() if "psync2" in link.capa else b"+CONTINUE\r\n"
        data = self.backlog.since(psync_offset)
        self._attach(c, link, head + data, STATE_ONLINE)
        self.sync_partial_ok += 1
        self.log.notice("Partial resynchronization request from %s accepted. Sending %d bytes of backlog starting "
                        "from offset %d." % (link.name, len(data), psync_offset))
        return True

    def _full_sync(self, c, link, psync):
        """redis syncCommand's full-resync cases: attach to a disk-target fork in progress (its snapshot offset and
        the stream gathered since), or wait for the next fork: at once, or after repl-diskless-sync-delay for a
        diskless replica (the delay lets more replicas share one transfer, see _start_pending)."""
        if self.backlog is None:
            if not self.replicas:
                self.replid = new_replid()
                self.clear_replid2()
            self._create_backlog()
            self._update_subscription()
        self.sync_full += 1
        link.psync = psync
        link.eof_capa = bool(psync and "eof" in link.capa)
        cfg = self.config
        self._attach(c, link, b"", STATE_WAIT_START)
        child = self.rdb_child
        if child is not None:
            first = next((r for r in child.links if r in self.replicas and r.state == STATE_WAIT_BGSAVE), None)
            if not child.eof and first is not None:
                link.pending = list(first.pending)       # redis copyReplicaOutputBuffer
                link.pending_bytes = first.pending_bytes
                link.state = STATE_WAIT_BGSAVE
                child.links.append(link)
                if psync:
                    link.write(b"+FULLRESYNC %s %d\r\n" % (child.replid.encode(), child.offset))
                self.log.notice("Waiting for end of BGSAVE for SYNC")
            elif child.eof:
                self.log.notice("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC")
            else:
                self.log.notice("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC")
            return
        if cfg["repl-diskless-sync"] and link.eof_capa and cfg["repl-diskless-sync-delay"]:
            self.log.notice("Delay next BGSAVE for diskless SYNC")
            self._start_pending()          # repl-diskless-sync-max-replicas may already be reached
            return
        self._start_bgsave([link])

    def _start_pending(self):
        """redis shouldStartChildReplication / replicationStartPendingFork (serverCron, every 100 ms): one fork for
        every replica waiting, once the longest waiting one has waited repl-diskless-sync-delay seconds, or
        repl-diskless-sync-max-replicas of them are waiting; replicas that arrive meanwhile wait for the next."""
        if self.start_timer is not None:
            self.start_timer.cancel()
            self.start_timer = None
        if self.rdb_child is not None:
            return
        waiting = [r for r in self.replicas if r.state == STATE_WAIT_START]
        if not waiting:
            return
        cfg = self.config
        max_idle = time.time() - min(r.created for r in waiting)
        most = cfg["repl-diskless-sync-max-replicas"]
        if (not cfg["repl-diskless-sync"] or (most > 0 and len(waiting) >= most)
                or max_idle >= cfg["repl-diskless-sync-delay"]):
            self._start_bgsave(waiting)
        elif self.server.loop is not None:
            self.start_timer = self.server.loop.call_later(0.1, self._start_pending)

    def _start_bgsave(self, links):
        """redis startBgsaveForReplication: one snapshot for all `links`; socket target only when every one of
        them has capa eof (and repl-diskless-sync is on)."""
        eof = bool(self.config["repl-diskless-sync"] and all(r.eof_capa for r in links))
        self.log.notice("Starting BGSAVE for SYNC with target: %s" % ("replicas sockets" if eof else "disk"))
        stream_db = 0
        if self.master_host is None:
            self.ks.effects.last_dbid = -1        # the stream after the snapshot starts with a SELECT
        elif self.master_client is not None:
            stream_db = self.master_client.db.id
        aux = {"repl-stream-db": stream_db, "repl-id": self.replid, "repl-offset": self.offset}
        head = b"+FULLRESYNC %s %d\r\n" % (self.replid.encode(), self.offset)
        for r in links:
            r.pending = []                        # the stream for it starts at the snapshot's offset
            r.pending_bytes = 0
        child = RdbChild.start(self, aux)
        if child is None:
            # in-process snapshot (also the fallback when fork fails): exact at this offset, blocks while it runs
            started = time.monotonic()
            payload = rdb_payload(self.server, aux)
            framed = frame_payload(payload, eof)
            for r in links:
                # diskless: the stream starts only after the replica's first ACK, so the EOF mark ends its read
                r.state = STATE_SEND_BULK if eof else STATE_ONLINE
                r.write((head if r.psync else b"") + framed)
                self.log.notice("Synchronization with replica %s succeeded (%d bytes RDB in %.3f s)"
                                % (r.name, len(payload), time.monotonic() - started))
            self.flush_replicas()
            return
        self.log.notice("Background RDB transfer started by pid %d" % child.pid)
        self.rdb_child = child
        child.links = list(links)
        child.eof = eof
        child.offset = self.offset
        child.replid = self.replid
        if eof:
            child.mark = os.urandom(20).hex().encode()
        for r in links:
            r.state = STATE_WAIT_BGSAVE
            r.write((head if r.psync else b"") + (b"$EOF:" + child.mark + b"\r\n" if eof else b""))

    def rdb_child_done(self, child, ok, data_len):
        if self.rdb_child is child:
            self.rdb_child = None
        payload = None
        for link in child.links:
            if link not in self.replicas:
                continue
            if not ok:
                self.log.warning("Background RDB transfer for replica %s failed: closing its link" % link.name)
                link.close()
                continue
            if child.eof:
                link.write(child.mark)
                link.state = STATE_SEND_BULK           # online at its first ACK
                self.log.notice("Streamed RDB transfer with replica %s succeeded (socket). %d bytes in %.3f s"
                                % (link.name, data_len, time.monotonic() - child.started))
            else:
                if payload is None:
                    payload = b"".join(child.chunks)
                    child.chunks = []
                link.write(b"$%d\r\n" % len(payload) + payload)
                link.state = STATE_ONLINE
                self.log.notice("Synchronization with replica %s succeeded (%d bytes RDB in %.3f s)"
                                % (link.name, len(payload), time.monotonic() - child.started))
        self.flush_replicas()
        self._start_pending()

    def rdb_child_data(self, child, data):
        if child.eof:
            for link in child.links:
                if link in self.replicas and not link.conn.closing:
                    link.state = STATE_SEND_BULK
                    link.write(data)
        else:
            child.chunks.append(data)

    def _attach(self, c, link, data, state):
        pending = c.reply.take() if c.reply.size() else b""
        link.state = state
        link.ack_time = time.time()
        c.flags |= FLAG_REPLICA
        self.replicas.append(link)
        self.by_client[c.id] = link
        link.write(pending + data)

    def client_disconnected(self, client):
        self.replconf_opts.pop(client.id, None)
        link = self.by_client.pop(client.id, None)
        if link is not None and link in self.replicas:
            self.replicas.remove(link)
            self.log.notice("Connection with replica %s lost." % link.name)
            if not self.replicas:
                self.no_replicas_since = time.time()
        if self.waiters:
            for w in list(self.waiters):
                if w.client is client:
                    self._end_wait(w, reply=False)

    def disconnect_replicas(self):
        for r in list(self.replicas):
            r.close()

    def replconf_command(self, c, argv):
        if len(argv) % 2 == 0:
            c.error(b"ERR syntax error")
            return
        opts = self.replconf_opts.setdefault(c.id, {})
        for i in range(1, len(argv), 2):
            name = argv[i].lower()
            value = argv[i + 1]
            if name == b"listening-port":
                try:
                    opts["listening-port"] = int(value)
                except ValueError:
                    c.error(b"ERR value is not an integer or out of range")
                    return
            elif name == b"ip-address":
                opts["ip-address"] = value.decode("latin-1")
            elif name == b"capa":
                opts.setdefault("capa", set()).add(value.decode("latin-1").lower())
            elif name == b"ack":
                link = self.by_client.get(c.id)
                if link is not None:
                    try:
                        off = int(value)
                    except ValueError:
                        return
                    if off > link.ack_offset:
                        link.ack_offset = off
                    link.ack_time = time.time()
                    if link.state == STATE_SEND_BULK:
                        link.state = STATE_ONLINE
                        self.log.notice("Replica %s is online: streaming starts at its first REPLCONF ACK"
                                        % link.name)
                        self.flush_replicas()
                    if self.waiters:
                        self._check_waiters()
                return                          # ACK gets no reply
            elif name == b"getack":
                if c.is_master and self.link is not None:
                    self.link.send_ack()
                return
            elif name in (b"rdb-only", b"rdb-filter-only", b"fack"):
                pass
            else:
                c.error(b"ERR Unrecognized REPLCONF option: " + argv[i])
                return
        c.reply.add_ok()

    # ------------------------------------------------------------------ replica side
    def set_master(self, host, port, startup=False, failover=False):
        was_master = self.master_host is None
        self.psync_failover = failover
        self.master_host = host
        self.master_port = port
        self.config._values["replicaof"] = (host, port)
        self.ks.is_replica = True
        self._apply_maxmemory()
        self.log.role = "S"
        self._install_gate()
        if self.link is not None:
            self.link.abort(None)
        self.link = None
        # our replicas stay attached (redis 7.0): they are dropped only if the history changes (new replid)
        if was_master:
            self.down_since = None
            self._update_subscription()
            for w in list(self.waiters):
                self._end_wait(w)
            if not startup:
                self.cached_replid = self.replid        # redis replicationCacheMasterUsingMyself
                self.cached_offset = self.offset
                self.cached_db = 0
        self.master_client = None if startup else self.master_client
        self.next_connect = 0.0
        if self.server.loop is not None:
            self.server.loop.call_soon(self._connect)

    def unset_master(self, shift=True):
        if self.master_host is None:
            return
        self.psync_failover = False
        if self.link is not None:
            self.link.abort(None)
        self.link = None
        self.master_host = None
        self.master_port = 0
        self.config._values["replicaof"] = None
        self.ks.is_replica = False
        self._apply_maxmemory()
        self.log.role = "M"
        if shift:
            self.shift_replid()
        if self.backlog is None:
            self._create_backlog()
        self.master_client = None
        self.cached_replid = None
        self.down_since = None
        self.ks.effects.last_dbid = -1
        self.disconnect_replicas()
        self._update_subscription()

    def _connect(self):
        if self.master_host is None or self.link is not None or self.connecting:
            return
        self.connecting = True
        host, port = self.master_host, self.master_port
        self.log.notice("Connecting to MASTER %s:%d" % (host, port))
        self.log.notice("MASTER <-> REPLICA sync started")
        self.next_connect = time.time() + 1.0
        link = MasterLink(self, host, port)
        self.link = link
        loop = self.server.loop

        async def go():
            try:
                # tls-replication: the link is TLS, with the context the server builds for outgoing links
                ssl_context = self.server.outgoing_tls_context() if self.config["tls-replication"] else None
                await asyncio.wait_for(loop.create_connection(lambda: link, host, port, ssl=ssl_context),
                                       timeout=self.config["repl-timeout"])
            except (OSError, asyncio.TimeoutError) as exc:
                if self.link is link:
                    self.link = None
                link.closed = True
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "Connection timed out"
                self.log.warning("Error condition on socket for SYNC: %s" % reason)
            finally:
                self.connecting = False
        loop.create_task(go())

    def link_lost(self, link, message):
        if message:
            self.log.warning(message)
        if self.failover is not None and self.failover_state == "failover-in-progress" and self.link is link:
            from replication.failover import failover_link_result
            self.link = None
            failover_link_result(self, False, message or "link closed")
            return
        if self.link is link:
            self.link = None
            if link.state == ST_CONNECTED:
                self.cached_replid = self.replid
                self.cached_offset = self.offset
                self.down_since = time.time()
            if self.master_client is not None and self.master_client.multi_queue is not None:
                self.master_client.multi_queue = None     # a cut transaction is resent whole
                self.master_client.multi_error = False
            self.next_connect = time.time() + 1.0

    def partial_resync_accepted(self, link, newid):
        if self.failover is not None:
            from replication.failover import failover_link_result
            self.psync_failover = False
            failover_link_result(self, True)
        if newid and newid != self.replid:
            self.replid2 = self.replid
            self.second_offset = self.offset + 1
            self.replid = newid
            self.log.notice("Master replication ID changed to %s" % newid)
            self.disconnect_replicas()
        if self.master_client is None:
            self.master_client = self._new_master_client(self.cached_db)
        if self.backlog is None:
            self._create_backlog()
        self.down_since = None

    def _new_master_client(self, dbid):
        c = self.server.new_client(None)
        c.is_master = True
        c.authenticated = True
        c.select(dbid)
        return c

    def full_sync_received(self, link, payload, replid, offset):
        """The RDB of a full sync arrived whole: load it aside, swap it in only if it loaded completely."""
        server = self.server
        ks = self.ks
        started = time.monotonic()
        side = Keyspace(len(ks.dbs))
        functions = []
        aux = {}
        try:
            stats = load_keyspace(side, payload, self.config, drop_expired=False, on_aux=aux.__setitem__,
                                  on_function=functions.append)
        except (RdbError, ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
            for db in side.dbs:
                db.clear()
            link.abort("Failed trying to load the MASTER synchronization DB from socket, keeping the old "
                       "dataset: %s" % exc)
            return
        self.log.notice("MASTER <-> REPLICA sync: Flushing old data")
        watch = server.extensions.get("watch")
        delta = 0
        for mine, theirs in zip(ks.dbs, side.dbs):
            if watch is not None:
                watch.db_emptied(mine)
            delta += theirs.used_memory - mine.used_memory
            mine._swap_contents(theirs)
            theirs.clear()
        ks.used_memory += delta
        persistence = server.extensions.get("persistence")
        if persistence is not None:
            persistence.flush_functions()
            for code in functions:
                try:
                    persistence.load_function(code, replace=True)
                except RdbError:
                    pass
        self.log.notice("MASTER <-> REPLICA sync: Loading DB in memory")
        self.log.notice("Done loading RDB, keys loaded: %d, keys expired: %d." % (stats.keys_loaded, stats.keys_expired))
        self.replid = replid
        self.clear_replid2()
        self.offset = offset
        self.backlog = Backlog(self.config["repl-backlog-size"], offset)
        self.disconnect_replicas()
        try:
            dbid = int(aux.get(b"repl-stream-db", b"0"))
        except ValueError:
            dbid = 0
        self.master_client = self._new_master_client(dbid if 0 <= dbid < len(ks.dbs) else 0)
        ks.dirty += 1
        self.down_since = None
        self.log.notice("MASTER <-> REPLICA sync: Finished with success (%.3f s)" % (time.monotonic() - started))
        link._start_stream(offset)
        if self.failover is not None:
            from replication.failover import failover_link_result
            self.psync_failover = False
            failover_link_result(self, True)
        if persistence is not None and getattr(persistence, "aof_state", 0):
            try:
                persistence.rewrite_background()
            except Exception as exc:  # the AOF catches up at the next rewrite
                self.log.warning("Background AOF rewrite after sync failed to start: %s" % exc)

    # ------------------------------------------------------------------ write gates
    def _install_gate(self):
        if self.gate_installed:
            return
        dispatcher = self.server.dispatcher
        self.gate_prev = dispatcher.before_call
        dispatcher.before_call = self._gate
        self.gate_installed = True

    def _gate(self, c, spec, argv):
        prev = self.gate_prev
        if prev is not None and not prev(c, spec, argv):
            return False
        if c.is_master:
            return True
        is_write = spec.flags & WRITE or (spec.name == "exec" and c.multi_queue
                                          and any(s.flags & WRITE for s, _ in c.multi_queue))
        message = None
        if is_write:
            need = self.config["min-replicas-to-write"]
            if need and self.master_host is None and self.config["min-replicas-max-lag"] \
                    and self.good_replicas() < need:
                message = ERR_NOREPLICAS
            elif self.master_host is not None and self.config["replica-read-only"]:
                message = ERR_READONLY
        if message is None and self.master_host is not None and not self.link_connected() \
                and not self.config["replica-serve-stale-data"] and not spec.flags & STALE:
            message = ERR_MASTERDOWN
        if message is None:
            return True
        spec.rejected_calls += 1
        if c.multi_queue is not None:
            c.multi_error = True
        c.error(message)
        return False

    def good_replicas(self):
        max_lag = self.config["min-replicas-max-lag"]
        now = time.time()
        return sum(1 for r in self.replicas if r.state == STATE_ONLINE and now - r.ack_time <= max_lag)

    # ------------------------------------------------------------------ WAIT
    def wait_command(self, c, argv):
        if self.master_host is not None:
            c.error(b"ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "
                    b"replica is configured to be writable (which is not the default) writes to replicas are just "
                    b"local and are not propagated.")
            return
        try:
            numreplicas = int(argv[1])
        except ValueError:
            c.error(b"ERR value is not an integer or out of range")
            return
        try:
            timeout = int(argv[2])
        except ValueError:
            c.error(b"ERR timeout is not an integer or out of range")
            return
        if timeout < 0:
            c.error(b"ERR timeout is negative")
            return
        target = self.offset
        acked = self.acked(target)
        if acked >= numreplicas or c.deny_blocking or c.conn is None or not self.replicas:
            c.reply.add_int(acked)
            return
        w = Waiter(c, target, numreplicas)
        c.blocked = True
        self.waiters.append(w)
        if timeout:
            w.timer = self.server.loop.call_later(timeout / 1000.0, self._end_wait, w)
        if not self.getack_requested:
            self.getack_requested = True
            self.server.loop.call_soon(self._send_getack)

    def _send_getack(self):
        self.getack_requested = False
        if self.replicas and self.master_host is None:
            self.feed_stream(GETACK)

    def acked(self, target):
        return sum(1 for r in self.replicas if r.state == STATE_ONLINE and r.ack_offset >= target)

    def _check_waiters(self):
        for w in list(self.waiters):
            if self.acked(w.target) >= w.numreplicas:
                self._end_wait(w)

    def _end_wait(self, w, reply=True):
        if w not in self.waiters:
            return
        self.waiters.remove(w)
        if w.timer is not None:
            w.timer.cancel()
        c = w.client
        c.blocked = False
        if not reply or c.conn is None or c.conn.closing:
            return
        c.reply.add_int(self.acked(w.target))
        c.conn.flush()
        self.server.loop.call_soon(c.conn.process_input)

    # ------------------------------------------------------------------ shutdown
    def shutdown_would_wait(self):
        """Whether a shutdown now has replicas to wait for (a primary with replicas not at its offset)."""
        if not self.config["shutdown-timeout"] or self.master_host is not None or not self.replicas:
            return False
        return not all(r.state == STATE_ONLINE and r.ack_offset >= self.offset for r in self.replicas)

    def delay_shutdown(self, finish):
        """redis 7 shutdown: pause writes and give lagging replicas up to shutdown-timeout seconds to ACK the
        whole stream; True when finish() will be called later."""
        if not self.shutdown_would_wait():
            return False
        timeout = self.config["shutdown-timeout"]
        target = self.offset
        self.log.notice("Waiting for replicas before shutting down.")
        server = self.server
        server.pause_clients(server.ks.update_clock() + timeout * 1000 + 1000, "write")
        self.feed_stream(GETACK)
        self.flush_replicas()
        deadline = time.monotonic() + timeout

        def check():
            lagging = [r for r in self.replicas if r.state != STATE_ONLINE or r.ack_offset < target]
            if lagging and time.monotonic() < deadline:
                server.loop.call_later(0.01, check)
                return
            for r in lagging:
                self.log.warning("Lagging replica %s reported offset %d behind master, lag=%d, state=%s."
                                 % (r.name, target - r.ack_offset, r.lag(), r.state))
            total = len(self.replicas)
            self.log.notice("%d of %d replicas are in sync when shutting down." % (total - len(lagging), total))
            finish()
        server.loop.call_later(0.01, check)
        return True

    # ------------------------------------------------------------------ cron
    def cron(self):
        now = time.time()
        if now - self.last_cron < 1.0:
            return
        self.last_cron = now
        self.cron_loops += 1
        cfg = self.config
        if self.master_host is not None:
            link = self.link
            if link is None and not self.connecting and now >= self.next_connect:
                self._connect()
            elif link is not None:
                if link.state == ST_CONNECTED:
                    link.send_ack()
                if now - link.last_io > cfg["repl-timeout"]:
                    what = {ST_TRANSFER: "Timeout receiving bulk data from MASTER... If the problem persists try "
                                         "to set the 'repl-timeout' parameter in redis.conf to a larger value.",
                            ST_CONNECTED: "MASTER timeout: no data nor PING received..."}.get(
                        link.state, "Timeout connecting to the MASTER...")
                    link.abort(what)
        elif self.replicas and self.cron_loops % max(1, cfg["repl-ping-replica-period"]) == 0:
            self.feed_stream(PING)
        child = self.rdb_child
        for r in self.replicas:
            # redis replicationCron: a newline keeps replicas waiting for their RDB from timing out
            if r.state == STATE_WAIT_START or (r.state == STATE_WAIT_BGSAVE and child is not None and not child.eof):
                r.write(b"\n")
        timeout = cfg["repl-timeout"]
        for r in list(self.replicas):
            if r.state == STATE_ONLINE and now - r.ack_time > timeout:
                self.log.warning("Disconnecting timedout replica (streaming sync): %s" % r.name)
                r.close()
        ttl = cfg["repl-backlog-ttl"]
        if (self.backlog is not None and not self.replicas and self.master_host is None and ttl
                and now - self.no_replicas_since > ttl):
            self.replid = new_replid()
            self.clear_replid2()
            self.backlog = None
            self._update_subscription()
            self.log.notice("Replication backlog freed after %d seconds without connected replicas." % ttl)

    # ------------------------------------------------------------------ ROLE / INFO
    def link_state_name(self):
        link = self.link
        if link is None:
            return "connecting" if self.connecting else "connect"
        return {ST_HANDSHAKE: "handshake", ST_TRANSFER: "sync", ST_CONNECTED: "connected"}.get(link.state, "connecting")

    def role_reply(self, c):
        r = c.reply
        if self.master_host is None:
            r.add_array_len(3)
            r.add_bulk(b"master")
            r.add_int(self.offset)
            online = [x for x in self.replicas if x.state == STATE_ONLINE]
            r.add_array_len(len(online))
            for x in online:
                r.add_array_len(3)
                r.add_bulk(x.ip.encode())
                r.add_bulk(b"%d" % x.listening_port)
                r.add_bulk(b"%d" % x.ack_offset)
            return
        r.add_array_len(5)
        r.add_bulk(b"slave")
        r.add_bulk(self.master_host.encode())
        r.add_int(self.master_port)
        r.add_bulk(self.link_state_name().encode())
        r.add_int(self.offset if self.link_connected() else -1)

    def info_replication(self, server):
        cfg = self.config
        now = time.time()
        out = [("role", "slave" if self.master_host is not None else "master")]
        if self.master_host is not None:
            link = self.link
            connected = self.link_connected()
            out += [
                ("master_host", self.master_host), ("master_port", self.master_port),
                ("master_link_status", "up" if connected else "down"),
                ("master_last_io_seconds_ago", int(now - link.last_io) if connected else -1),
                ("master_sync_in_progress", 1 if link is not None and link.state == ST_TRANSFER else 0),
                ("slave_read_repl_offset", link.read_offset if connected else
                 self.offset if self.cached_replid is not None else 1),
                ("slave_repl_offset", self.offset if (connected or self.cached_replid is not None) else 1),
            ]
            if link is not None and link.state == ST_TRANSFER:
                total = link.transfer_size
                read = len(link.payload) if link.payload is not None else 0
                out += [("master_sync_total_bytes", total), ("master_sync_read_bytes", read),
                        ("master_sync_left_bytes", total - read if total >= 0 else -1),
                        ("master_sync_perc", "%.2f" % (read * 100.0 / total if total > 0 else 0)),
                        ("master_sync_last_io_seconds_ago", int(now - link.last_io))]
            if not connected:
                out.append(("master_link_down_since_seconds", int(now - self.down_since) if self.down_since else -1))
            out += [("slave_priority", cfg["replica-priority"]), ("slave_read_only", 1 if cfg["replica-read-only"] else 0),
                    ("replica_announced", 1 if cfg["replica-announced"] else 0)]
        out.append(("connected_slaves", len(self.replicas)))
        if cfg["min-replicas-to-write"] and cfg["min-replicas-max-lag"]:
            out.append(("min_slaves_good_slaves", self.good_replicas()))
        for i, r in enumerate(self.replicas):
            out.append(("slave%d" % i, "ip=%s,port=%d,state=%s,offset=%d,lag=%d"
                        % (r.ip, r.listening_port, r.info_state, r.ack_offset, r.lag())))
        b = self.backlog
        out += [
            ("master_failover_state", self.failover_state),
            ("master_replid", self.replid), ("master_replid2", self.replid2),
            ("master_repl_offset", self.offset), ("second_repl_offset", self.second_offset),
            ("repl_backlog_active", 1 if b is not None else 0),
            ("repl_backlog_size", b.size if b is not None else cfg["repl-backlog-size"]),
            ("repl_backlog_first_byte_offset", b.first_byte_offset if b is not None else 0),
            ("repl_backlog_histlen", b.histlen if b is not None else 0),
        ]
        return out


def install(server):
    repl = Replication(server)
    repl.register()
    return repl
