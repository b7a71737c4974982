"""Cluster state as redis 7.0's cluster.c keeps it: the nodes, the slot table, epochs, failure detection
(PFAIL -> FAIL with failure reports), replica election and promotion, manual failover, nodes.conf.

The wire format is cluster/proto.py and the links cluster/bus.py; the replica side uses the replication/
package (CLUSTER REPLICATE / a failover call its set_master / unset_master).  Times are unix ms as in redis.
"""
import asyncio
import os
import random
import time

from cluster import proto
from cluster.bus import Link
from cluster.proto import (F_MASTER, F_SLAVE, F_PFAIL, F_FAIL, F_MYSELF, F_HANDSHAKE, F_NOADDR, F_MEET,
                           F_MIGRATE_TO, F_NOFAILOVER, SLOTS)
from cluster import slotkeys

OK, FAIL = 0, 1
FAIL_REPORT_VALIDITY_MULT = 2
FAIL_UNDO_TIME_MULT = 2
MF_TIMEOUT = 5000
MF_PAUSE_MULT = 2
MAX_REJOIN_DELAY = 5000
MIN_REJOIN_DELAY = 500
WRITABLE_DELAY = 2000
BLACKLIST_TTL = 60
SLAVE_MIGRATION_DELAY = 5000

CANT_NONE, CANT_DATA_AGE, CANT_WAITING_DELAY, CANT_EXPIRED, CANT_WAITING_VOTES = range(5)

FLAG_NAMES = ((F_MYSELF, "myself"), (F_MASTER, "master"), (F_SLAVE, "slave"), (F_PFAIL, "fail?"),
              (F_FAIL, "fail"), (F_HANDSHAKE, "handshake"), (F_NOADDR, "noaddr"), (F_NOFAILOVER, "nofailover"))


def mstime():
    return int(time.time() * 1000)


def random_name():
    return os.urandom(20).hex()


class Node:
    def __init__(self, name, flags):
        self.name = name
        self.flags = flags
        self.ctime = mstime()
        self.config_epoch = 0
        self.slots = bytearray(SLOTS // 8)
        self.numslots = 0
        self.slaves = []
        self.slaveof = None
        self.ping_sent = 0
        self.pong_received = 0
        self.data_received = 0
        self.fail_time = 0
        self.voted_time = 0
        self.repl_offset_time = 0
        self.orphaned_time = 0
        self.repl_offset = 0
        self.ip = ""
        self.hostname = ""
        self.port = 0
        self.pport = 0
        self.cport = 0
        self.link = None
        self.inbound_link = None
        self.fail_reports = {}          # reporting Node -> time
        self.connecting = False
        self._ranges = None

    is_master = property(lambda self: bool(self.flags & F_MASTER))
    is_slave = property(lambda self: bool(self.flags & F_SLAVE))
    failed = property(lambda self: bool(self.flags & F_FAIL))
    timed_out = property(lambda self: bool(self.flags & F_PFAIL))
    in_handshake = property(lambda self: bool(self.flags & F_HANDSHAKE))
    has_addr = property(lambda self: not (self.flags & F_NOADDR))

    def flags_text(self):
        out = [n for bit, n in FLAG_NAMES if self.flags & bit]
        return ",".join(out) if out else "noflags"

    def slot_ranges(self):
        """[(start, end)] of this node's slots (cached until the slots change)."""
        if self._ranges is None:
            self._ranges = self._compute_ranges()
        return self._ranges

    def _compute_ranges(self):
        return proto.bitmap_ranges(self.slots) if self.numslots else []


class ClusterState:
    def __init__(self, server):
        self.server = server
        self.config = server.config
        self.log = server.log
        self.nodes = {}
        self.myself = None
        self.current_epoch = 0
        self.last_vote_epoch = 0
        self.state = FAIL
        self.size = 0
        self.slots = [None] * SLOTS
        self.migrating = {}             # slot -> Node
        self.importing = {}
        self.blacklist = {}             # name -> expire (s)
        self.failover_auth_time = 0
        self.failover_auth_count = 0
        self.failover_auth_sent = False
        self.failover_auth_rank = 0
        self.failover_auth_epoch = 0
        self.cant_failover_reason = CANT_NONE
        self.lastlog_time = 0
        self.mf_end = 0
        self.mf_slave = None
        self.mf_master_offset = -1
        self.mf_can_start = False
        self.stats_sent = [0] * proto.TYPE_COUNT
        self.stats_recv = [0] * proto.TYPE_COUNT
        self.stats_pfail_nodes = 0
        self.inbound_links = set()
        self.todo_save = False
        self.todo_fsync = False
        self.todo_update = False
        self.todo_failover = False
        self.todo_scheduled = False
        self.first_call_time = 0
        self.among_minority_time = 0
        self.iteration = 0
        self.last_cron = 0
        self.listeners = []
        self.started = False
        self.socks = []
        self.script_slot = -1
        self.config_path = self.config["cluster-config-file"]  # relative to dir: server/main.py chdir'ed there

    def script_check(self, caller, spec, argv):
        from cluster.routing import script_check
        return script_check(self, caller, spec, argv)

    # ------------------------------------------------------------------ helpers
    @property
    def node_timeout(self):
        return self.config["cluster-node-timeout"]

    def repl(self):
        return self.server.extensions.get("replication")

    def my_port(self):
        """redis clusterUpdateMyselfAnnouncedPorts: the TLS port when there is one, else the plain one."""
        cfg = self.config
        if cfg["tls-port"]:
            return cfg["cluster-announce-tls-port"] or cfg["tls-port"]
        return cfg["cluster-announce-port"] or cfg["port"]

    def my_pport(self):
        cfg = self.config
        if cfg["tls-port"]:
            return cfg["cluster-announce-port"] or cfg["port"]
        return 0

    def my_cport(self):
        return self.config["cluster-announce-bus-port"] or self.bus_port()

    def announce_changed(self, _value=None):
        """CONFIG SET of a cluster-announce-* directive: myself and the next messages use the new values."""
        m = self.myself
        m.port = self.my_port()
        m.pport = self.my_pport()
        m.cport = self.my_cport()
        ip = self.config["cluster-announce-ip"]
        if ip:
            m.ip = ip
        m.hostname = self.config["cluster-announce-hostname"] or ""
        if self.config["cluster-replica-no-failover"]:
            m.flags |= F_NOFAILOVER
        else:
            m.flags &= ~F_NOFAILOVER
        self.schedule(save=True)

    def bus_port(self):
        return self.config["cluster-port"] or (self.config["port"] + 10000)

    def lookup(self, name):
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        return self.nodes.get(name)

    def my_master(self):
        m = self.myself
        return m.slaveof if (m.is_slave and m.slaveof is not None) else m

    def my_offset(self):
        repl = self.repl()
        if repl is None:
            return 0
        return repl.offset

    def schedule(self, save=False, update=False, failover=False, fsync=False):
        self.todo_save |= save or fsync
        self.todo_fsync |= fsync
        self.todo_update |= update
        self.todo_failover |= failover
        if not self.todo_scheduled and self.server.loop is not None:
            self.todo_scheduled = True
            self.server.loop.call_soon(self.before_sleep)
        elif self.server.loop is None:
            self.before_sleep()

    def before_sleep(self):
        self.todo_scheduled = False
        if self.todo_failover:
            self.todo_failover = False
            if self.myself.is_slave:
                self.handle_slave_failover()
        if self.todo_update:
            self.todo_update = False
            self.update_state()
        if self.todo_save:
            self.todo_save = False
            self.save_config(self.todo_fsync)
            self.todo_fsync = False

    # ------------------------------------------------------------------ nodes and slots
    def add_node(self, node):
        self.nodes[node.name] = node

    def del_node(self, delnode):
        for j in range(SLOTS):
            if self.importing.get(j) is delnode:
                del self.importing[j]
            if self.migrating.get(j) is delnode:
                del self.migrating[j]
            if self.slots[j] is delnode:
                self.del_slot(j)
        for n in self.nodes.values():
            n.fail_reports.pop(delnode, None)
        self.free_node(delnode)

    def free_node(self, n):
        for s in n.slaves:
            s.slaveof = None
        if n.is_slave and n.slaveof is not None:
            self.node_remove_slave(n.slaveof, n)
        self.nodes.pop(n.name, None)
        if n.link is not None:
            n.link.close()
        if n.inbound_link is not None:
            n.inbound_link.close()

    def rename_node(self, node, newname):
        self.log.debug("Renaming node %s into %s" % (node.name, newname))
        self.nodes.pop(node.name, None)
        node.name = newname
        self.nodes[newname] = node

    def node_remove_slave(self, master, slave):
        if slave in master.slaves:
            master.slaves.remove(slave)
            if not master.slaves:
                master.flags &= ~F_MIGRATE_TO

    def node_add_slave(self, master, slave):
        if slave in master.slaves:
            return
        master.slaves.append(slave)
        master.flags |= F_MIGRATE_TO

    def add_slot(self, n, j):
        if self.slots[j] is not None:
            return False
        proto.bit_set(n.slots, j)
        n.numslots += 1
        n._ranges = None
        self.slots[j] = n
        return True

    def del_slot(self, j):
        n = self.slots[j]
        if n is None:
            return False
        if self.myself is not None and n is self.my_master():
            self._drop_shard_channels(j)
        proto.bit_clear(n.slots, j)
        n.numslots -= 1
        n._ranges = None
        self.slots[j] = None
        return True

    def _drop_shard_channels(self, slot):
        """redis removeChannelsInSlot: a slot leaving my shard unsubscribes its shard-channel subscribers (each
        gets its sunsubscribe message)."""
        ps = self.server.pubsub
        if not ps.shard_channels:
            return
        from engine.commands.pubsub import reply_subscription
        for ch in [x for x in ps.shard_channels if slotkeys.key_hash_slot(x) == slot]:
            for c in list(ps.shard_channels.get(ch, ())):
                ps.unsubscribe(c, ch, True)
                reply_subscription(c, b"sunsubscribe", ch, len(c.pubsub.shard_channels))
                if c.conn is not None:
                    c.conn.flush()

    def del_node_slots(self, node):
        deleted = 0
        for j in proto.bitmap_slots(node.slots):
            if self.slots[j] is node:
                self.del_slot(j)
                deleted += 1
        return deleted

    def close_all_slots(self):
        self.migrating.clear()
        self.importing.clear()

    def set_node_as_master(self, n):
        if n.is_master:
            return
        if n.slaveof is not None:
            self.node_remove_slave(n.slaveof, n)
            if n is not self.myself:
                n.flags |= F_MIGRATE_TO
        n.flags &= ~F_SLAVE
        n.flags |= F_MASTER
        n.slaveof = None
        self.schedule(save=True, update=True)

    def count_keys_in_slot(self, slot):
        return slotkeys.count_keys_in_slot(self.server.ks.db(0), slot)

    # ------------------------------------------------------------------ startup
    def init(self):
        """Load nodes.conf or create myself (redis clusterInit)."""
        if not self.load_config():
            self.myself = Node(random_name(), F_MYSELF | F_MASTER)
            self.add_node(self.myself)
            self.log.notice("No cluster configuration found, I'm %s" % self.myself.name)
            self.save_config()
        self.announce_changed()
        for name in ("cluster-announce-ip", "cluster-announce-port", "cluster-announce-tls-port",
                     "cluster-announce-bus-port", "cluster-announce-hostname", "cluster-replica-no-failover",
                     "port", "tls-port"):
            try:
                self.config.on_change(name, self.announce_changed)
            except Exception:            # a bare config without the hook (unit use)
                pass
        self.first_call_time = 0

    def bind(self):
        """Listen on the cluster bus port now (a busy port fails the start, as in redis); the asyncio
        server over these sockets starts with the first cron tick."""
        import socket
        port = self.bus_port()
        binds = self.config["bind"] or ["127.0.0.1"]
        self.socks = []
        for addr in binds:
            addr = addr.lstrip("-")
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((addr, port))
            except OSError as exc:
                s.close()
                if fam == socket.AF_INET6:
                    continue
                self.log.warning("Could not create server TCP listening socket %s:%d: %s" % (addr, port, exc))
                raise SystemExit(1)
            s.listen(self.config["tcp-backlog"])
            s.setblocking(False)
            self.socks.append(s)

    def start_listening(self):
        loop = self.server.loop
        self.started = True
        for s in self.socks:
            loop.create_task(loop.create_server(lambda: Link(self, None, True), sock=s))

    # ------------------------------------------------------------------ nodes.conf
    def describe_node(self, node, for_config=False):
        ip = node.ip
        port = node.port
        addr = "%s:%d@%d" % (ip, port, node.cport)
        if node.hostname:
            addr += "," + node.hostname
        master = node.slaveof.name if node.slaveof is not None else "-"
        link_state = "connected" if (node.link is not None or node.flags & F_MYSELF) else "disconnected"
        parts = [node.name, addr, node.flags_text(), master, str(node.ping_sent), str(node.pong_received),
                 str(node.config_epoch), link_state]
        if node.is_master:
            for a, b in node.slot_ranges():
                parts.append(str(a) if a == b else "%d-%d" % (a, b))
        if node.flags & F_MYSELF:
            for j in sorted(self.migrating):
                parts.append("[%d->-%s]" % (j, self.migrating[j].name))
            for j in sorted(self.importing):
                parts.append("[%d-<-%s]" % (j, self.importing[j].name))
        return " ".join(parts)

    def nodes_description(self, filter_flags=0):
        return "".join(self.describe_node(n) + "\n" for n in self.nodes.values() if not (n.flags & filter_flags))

    def save_config(self, fsync=True):
        content = self.nodes_description(F_HANDSHAKE)
        content += "vars currentEpoch %d lastVoteEpoch %d\n" % (self.current_epoch, self.last_vote_epoch)
        data = content.encode("latin-1")
        try:
            # in place, as redis clusterSaveConfig: write, then truncate to the new length
            fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
                os.ftruncate(fd, len(data))
                if fsync:            # redis fsyncs only for votes, epochs and role changes (TODO_FSYNC_CONFIG)
                    os.fsync(fd)
            finally:
                os.close(fd)
            return True
        except OSError as exc:
            self.log.warning("Could not save the cluster config %s: %s" % (self.config_path, exc))
            return False

    def load_config(self):
        try:
            with open(self.config_path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return False
        if not any(line.strip() for line in lines):
            return False
        for line in lines:
            argv = line.split()
            if not argv:
                continue
            if argv[0] == "vars":
                for i in range(1, len(argv) - 1, 2):
                    if argv[i] == "currentEpoch":
                        self.current_epoch = int(argv[i + 1])
                    elif argv[i] == "lastVoteEpoch":
                        self.last_vote_epoch = int(argv[i + 1])
                continue
            if len(argv) < 8:
                raise ValueError("Unrecoverable error: corrupted cluster config file \"%s\"." % line)
            n = self.lookup(argv[0])
            if n is None:
                n = Node(argv[0], 0)
                self.add_node(n)
            addr = argv[1]
            if "," in addr:
                addr, n.hostname = addr.split(",", 1)
            hostport, _, cport = addr.partition("@")
            ip, _, port = hostport.rpartition(":")
            n.ip = ip
            n.port = int(port)
            n.cport = int(cport) if cport else n.port + 10000
            for f in argv[2].split(","):
                if f == "myself":
                    self.myself = n
                    n.flags |= F_MYSELF
                elif f == "master":
                    n.flags |= F_MASTER
                elif f == "slave":
                    n.flags |= F_SLAVE
                elif f == "fail?":
                    n.flags |= F_PFAIL
                elif f == "fail":
                    n.flags |= F_FAIL
                    n.fail_time = mstime()
                elif f == "handshake":
                    n.flags |= F_HANDSHAKE
                elif f == "noaddr":
                    n.flags |= F_NOADDR
                elif f == "nofailover":
                    n.flags |= F_NOFAILOVER
            if argv[3] != "-":
                master = self.lookup(argv[3])
                if master is None:
                    master = Node(argv[3], 0)
                    self.add_node(master)
                n.slaveof = master
                self.node_add_slave(master, n)
            if int(argv[4]):
                n.ping_sent = mstime()
            if int(argv[5]):
                n.pong_received = mstime()
            n.config_epoch = int(argv[6])
            for s in argv[8:]:
                if s.startswith("["):
                    body = s[1:-1]
                    if "->-" in body:
                        slot, name = body.split("->-")
                        target = self.lookup(name) or self._placeholder(name)
                        self.migrating[int(slot)] = target
                    else:
                        slot, name = body.split("-<-")
                        target = self.lookup(name) or self._placeholder(name)
                        self.importing[int(slot)] = target
                    continue
                a, _, b = s.partition("-")
                for j in range(int(a), int(b or a) + 1):
                    self.add_slot(n, j)
        if self.myself is None:
            raise ValueError("Unrecoverable error: corrupted cluster config file (no myself).")
        # something changed in the format? rewrite it (redis saves after load when needed)
        max_epoch = max((x.config_epoch for x in self.nodes.values()), default=0)
        if max_epoch > self.current_epoch:
            self.current_epoch = max_epoch
        self.log.notice("Node configuration loaded, I'm %.40s" % self.myself.name)
        return True

    def _placeholder(self, name):
        n = Node(name, 0)
        self.add_node(n)
        return n

    # ------------------------------------------------------------------ messages
    def build(self, mtype, body=b"", count=0, extensions=0, mflags0=0):
        myself = self.myself
        master = self.my_master()
        if myself.is_master and self.mf_end:
            mflags0 |= proto.MF0_PAUSED
        offset = self.my_offset()
        self.stats_sent[mtype] += 1
        return proto.build(mtype, myself.name, self.my_port(), self.my_pport(), self.my_cport(),
                           myself.flags & 0xFFFF, self.state, self.current_epoch, master.config_epoch, offset,
                           master.slots, myself.slaveof.name if myself.slaveof is not None else None,
                           self.config["cluster-announce-ip"] or "", mflags0, body, count, extensions)

    def send_ping(self, link, mtype):
        now = mstime()
        n = len(self.nodes)
        freshnodes = n - 2
        wanted = max(3, n // 10)
        wanted = min(wanted, freshnodes)
        pfail_wanted = self.stats_pfail_nodes
        if link.node is not None and mtype == proto.PING:
            link.node.ping_sent = now
        entries = []
        chosen = set()
        candidates = list(self.nodes.values())
        maxiter = wanted * 3
        while freshnodes > 0 and len(entries) < wanted and maxiter > 0:
            maxiter -= 1
            this = random.choice(candidates)
            if this is self.myself or this.flags & F_PFAIL:
                continue
            if this.flags & (F_HANDSHAKE | F_NOADDR) or (this.link is None and this.numslots == 0):
                freshnodes -= 1
                continue
            if this in chosen:
                continue
            chosen.add(this)
            freshnodes -= 1
            entries.append(self._gossip(this))
        if pfail_wanted:
            for this in candidates:
                if pfail_wanted <= 0:
                    break
                if this.flags & F_HANDSHAKE or this.flags & F_NOADDR or not (this.flags & F_PFAIL):
                    continue
                entries.append(self._gossip(this))
                pfail_wanted -= 1
        body = b"".join(entries)
        nexts = 0
        if self.myself.hostname:
            body += proto.hostname_ext(self.myself.hostname)
            nexts = 1
        link.send(self.build(mtype, body, count=len(entries), extensions=nexts, mflags0=proto.MF0_EXT_DATA))

    def _gossip(self, n):
        return proto.gossip_entry(n.name, n.ping_sent, n.pong_received, n.ip, n.port, n.cport, n.flags & 0xFFFF,
                                  n.pport)

    def broadcast(self, data):
        for n in self.nodes.values():
            if n.link is None or n.flags & (F_MYSELF | F_HANDSHAKE):
                continue
            n.link.send(data)

    def broadcast_pong(self, local_slaves_only=False):
        for n in list(self.nodes.values()):
            if n.link is None or n is self.myself or n.in_handshake:
                continue
            if local_slaves_only:
                local = n.is_slave and n.slaveof is not None and (
                    n.slaveof is self.myself or n.slaveof is self.myself.slaveof)
                if not local:
                    continue
            self.send_ping(n.link, proto.PONG)

    def send_fail(self, name):
        data = self.build(proto.FAIL, name.encode("latin-1"))
        self.stats_sent[proto.FAIL] -= 1
        for n in self.nodes.values():
            if n.link is None or n.flags & (F_MYSELF | F_HANDSHAKE):
                continue
            self.stats_sent[proto.FAIL] += 1
            n.link.send(data)

    def send_update(self, link, node):
        if link is None:
            return
        body = proto.UPDATE_DATA.pack(node.config_epoch, node.name.encode("latin-1"), bytes(node.slots))
        link.send(self.build(proto.UPDATE, body))

    def publish(self, channel, message, shard=False):
        body = len(channel).to_bytes(4, "big") + len(message).to_bytes(4, "big") + channel + message
        mtype = proto.PUBLISHSHARD if shard else proto.PUBLISH
        if shard:
            # only the nodes of my shard
            master = self.my_master()
            targets = [master] + master.slaves
            for n in targets:
                if n is self.myself or n.link is None:
                    continue
                n.link.send(self.build(mtype, body))
            return
        data = self.build(mtype, body)
        self.stats_sent[mtype] -= 1
        for n in self.nodes.values():
            if n.link is None or n.flags & (F_MYSELF | F_HANDSHAKE):
                continue
            self.stats_sent[mtype] += 1
            n.link.send(data)

    # ------------------------------------------------------------------ handshake
    def handshake_in_progress(self, ip, port, cport):
        for n in self.nodes.values():
            if n.in_handshake and n.ip.lower() == ip.lower() and n.port == port and n.cport == cport:
                return True
        return False

    def start_handshake(self, ip, port, cport):
        import ipaddress
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            return False
        if port <= 0 or port > 65535 or cport <= 0 or cport > 65535:
            return False
        if self.handshake_in_progress(ip, port, cport):
            return True
        n = Node(random_name(), F_HANDSHAKE | F_MEET)
        n.ip = ip
        n.port = port
        n.cport = cport
        self.add_node(n)
        return True

    # ------------------------------------------------------------------ links
    def connect(self, node):
        node.connecting = True
        link = Link(self, node, False)
        node.link = link

        async def go():
            try:
                await asyncio.wait_for(self.server.loop.create_connection(lambda: link, node.ip, node.cport),
                                       timeout=max(1.0, self.node_timeout / 1000.0))
            except (OSError, asyncio.TimeoutError) as exc:
                self.log.verbose("Connection with Node %.40s at %s:%d failed: %s" % (node.name, node.ip,
                                                                                    node.cport, exc))
                if node.ping_sent == 0:
                    node.ping_sent = mstime()
                link.close()
            finally:
                node.connecting = False
        self.server.loop.create_task(go())

    def link_connected(self, link):
        node = link.node
        if node is None or link.closed:
            return
        old_ping_sent = node.ping_sent
        self.send_ping(link, proto.MEET if node.flags & F_MEET else proto.PING)
        if old_ping_sent:
            node.ping_sent = old_ping_sent
        node.flags &= ~F_MEET
        self.log.debug("Connecting with Node %.40s at %s:%d" % (node.name, node.ip, node.cport))

    # ------------------------------------------------------------------ packet processing
    def process(self, link, data):
        """redis clusterProcessPacket; False when the link was freed."""
        if len(data) < proto.HDR_LEN:
            return True
        h = proto.Header.parse(data)
        if not proto.valid_length(data, h):
            self.log.verbose("Dropping cluster bus packet of type %d: bad length" % h.type)
            return True
        mtype = h.type
        if mtype < proto.TYPE_COUNT:
            self.stats_recv[mtype] += 1
        now = mstime()
        sender = self.nodes.get(h.sender)
        if sender is not None and link.inbound and sender.inbound_link is not link and not sender.in_handshake:
            if sender.inbound_link is not None and sender.inbound_link is not link:
                sender.inbound_link.close()
            sender.inbound_link = link
            link.node = sender
        if sender is not None:
            sender.data_received = now
        if sender is not None and not sender.in_handshake:
            if h.current_epoch > self.current_epoch:
                self.current_epoch = h.current_epoch
            if h.config_epoch > sender.config_epoch:
                sender.config_epoch = h.config_epoch
                self.schedule(save=True, update=True)
            sender.repl_offset = h.offset
            sender.repl_offset_time = now
            myself = self.myself
            if (myself.is_slave and myself.slaveof is sender and h.mflags[0] & proto.MF0_PAUSED
                    and self.mf_master_offset == -1):
                self.mf_master_offset = sender.repl_offset
                self.schedule()
                self.log.warning("Received replication offset for paused master manual failover: %d"
                                 % self.mf_master_offset)
        if mtype in (proto.PING, proto.MEET):
            myself = self.myself
            if (mtype == proto.MEET or not myself.ip) and not self.config["cluster-announce-ip"]:
                sock = link.transport.get_extra_info("sockname") if link.transport else None
                if sock:
                    ip = sock[0]
                    if ip != myself.ip:
                        myself.ip = ip
                        self.log.warning("IP address for this node updated to %s" % ip)
                        self.schedule(save=True)
            if sender is None and mtype == proto.MEET:
                n = Node(random_name(), F_HANDSHAKE)
                n.ip = h.myip or self._peer_ip(link)
                n.port = h.port
                n.pport = h.pport
                n.cport = h.cport
                self.add_node(n)
                self.schedule(save=True)
                self.process_gossip(h, data, link, None)
            self.send_ping(link, proto.PONG)
        if mtype in (proto.PING, proto.PONG, proto.MEET):
            if h.mflags[0] & proto.MF0_EXT_DATA and h.extensions and sender is not None:
                for etype, payload in proto.parse_extensions(data, h.count, h.extensions):
                    if etype == proto.EXT_HOSTNAME:
                        sender.hostname = proto._cstr(payload)
            elif sender is not None and not h.extensions:
                if sender.hostname:
                    sender.hostname = ""
            if not link.inbound:
                node = link.node
                if node is not None and node.in_handshake:
                    if sender is not None:
                        # we already know this node under its real name: drop the handshake one
                        if self.update_address(sender, link, h):
                            self.schedule(save=True, update=True)
                        self.del_node(node)
                        return False
                    self.rename_node(node, h.sender)
                    self.log.debug("Handshake with node %.40s completed." % node.name)
                    node.flags &= ~F_HANDSHAKE
                    node.flags |= h.flags & (F_MASTER | F_SLAVE)
                    self.schedule(save=True)
                elif node is not None and node.name != h.sender:
                    self.log.debug("PONG contains mismatching sender ID. About node %.40s added %d ms ago, "
                                   "having flags %d" % (node.name, now - node.ctime, node.flags))
                    node.flags |= F_NOADDR
                    node.ip = ""
                    node.port = 0
                    node.pport = 0
                    node.cport = 0
                    link.close()
                    self.schedule(save=True)
                    return False
            if sender is not None:
                sender_flags = h.flags
                if sender_flags & F_NOFAILOVER:
                    sender.flags |= F_NOFAILOVER
                else:
                    sender.flags &= ~F_NOFAILOVER
            if sender is not None and mtype == proto.PING:
                if self.update_address(sender, link, h):
                    self.schedule(save=True, update=True)
            if not link.inbound and mtype == proto.PONG and link.node is not None:
                node = link.node
                node.pong_received = now
                node.ping_sent = 0
                if node.timed_out:
                    node.flags &= ~F_PFAIL
                    self.schedule(update=True)
                elif node.failed:
                    self.clear_failure_if_needed(node)
            if sender is None:
                return True
            # role changes
            if h.slaveof is None:
                self.set_node_as_master(sender)
            else:
                master = self.lookup(h.slaveof)
                if sender.is_master:
                    self.del_node_slots(sender)
                    sender.flags &= ~(F_MASTER | F_MIGRATE_TO)
                    sender.flags |= F_SLAVE
                    self.schedule(save=True, update=True)
                if master is not None and sender.slaveof is not master:
                    if sender.slaveof is not None:
                        self.node_remove_slave(sender.slaveof, sender)
                    self.node_add_slave(master, sender)
                    sender.slaveof = master
                    self.schedule(save=True)
            # slots
            sender_master = sender if sender.is_master else sender.slaveof
            dirty_slots = False
            if sender_master is not None:
                dirty_slots = bytes(sender_master.slots) != h.myslots
            if sender.is_master and dirty_slots:
                self.update_slots_config_with(sender, h.config_epoch, h.myslots)
            if dirty_slots:
                # only the claimed slots this node does not already see as the sender's can be stale claims
                for j in proto.bitmap_slots(proto.bitmap_minus(h.myslots, sender_master.slots)
                                            if sender_master is not None else h.myslots):
                    owner = self.slots[j]
                    if owner is sender or owner is None:
                        continue
                    if owner.config_epoch > h.config_epoch:
                        self.log.verbose("Node %.40s has old slots configuration, sending an UPDATE message "
                                         "about %.40s" % (sender.name, owner.name))
                        self.send_update(sender.link, owner)
                        break
            if (sender.is_master and self.myself.is_master and h.config_epoch == self.myself.config_epoch):
                self.handle_config_epoch_collision(sender)
            self.process_gossip(h, data, link, sender)
        elif mtype == proto.FAIL:
            if sender is not None:
                name = data[proto.HDR_LEN:proto.HDR_LEN + proto.NAMELEN].decode("latin-1")
                failing = self.lookup(name)
                if failing is not None and not (failing.flags & (F_FAIL | F_MYSELF)):
                    self.log.notice("FAIL message received from %.40s about %.40s" % (h.sender, name))
                    failing.flags |= F_FAIL
                    failing.fail_time = now
                    failing.flags &= ~F_PFAIL
                    self.schedule(save=True, update=True)
            else:
                self.log.notice("Ignoring FAIL message from unknown node %.40s about %.40s"
                                % (h.sender, data[proto.HDR_LEN:proto.HDR_LEN + 40].decode("latin-1")))
        elif mtype in (proto.PUBLISH, proto.PUBLISHSHARD):
            if sender is None:
                return True
            off = proto.HDR_LEN
            cl = int.from_bytes(data[off:off + 4], "big")
            ml = int.from_bytes(data[off + 4:off + 8], "big")
            channel = data[off + 8:off + 8 + cl]
            message = data[off + 8 + cl:off + 8 + cl + ml]
            ps = self.server.pubsub
            ps.publish(channel, message, mtype == proto.PUBLISHSHARD)
        elif mtype == proto.AUTH_REQUEST:
            if sender is None:
                return True
            self.send_failover_auth_if_needed(sender, h)
        elif mtype == proto.AUTH_ACK:
            if sender is None:
                return True
            if sender.is_master and sender.numslots > 0 and h.current_epoch >= self.failover_auth_epoch:
                self.failover_auth_count += 1
                self.schedule(failover=True)
        elif mtype == proto.MFSTART:
            if sender is None or sender.slaveof is not self.myself:
                return True
            self.reset_manual_failover()
            self.mf_end = now + MF_TIMEOUT
            self.mf_slave = sender
            self.server.pause_clients(now + MF_TIMEOUT * MF_PAUSE_MULT, "write")
            self.log.warning("Manual failover requested by replica %.40s." % sender.name)
            self.send_ping(link, proto.PING)
        elif mtype == proto.UPDATE:
            if sender is None:
                return True
            epoch, name, slots = proto.UPDATE_DATA.unpack_from(data, proto.HDR_LEN)
            n = self.lookup(name)
            if n is None:
                return True
            if n.config_epoch >= epoch:
                return True
            if n.is_slave:
                self.set_node_as_master(n)
            n.config_epoch = epoch
            self.schedule(save=True)
            self.update_slots_config_with(n, epoch, slots)
        else:
            self.log.verbose("Received unknown packet type: %d" % mtype)
        return True

    def _peer_ip(self, link):
        peer = link.transport.get_extra_info("peername") if link.transport else None
        return peer[0] if peer else ""

    def update_address(self, node, link, h):
        """redis nodeUpdateAddressIfNeeded."""
        if link is node.link:
            return False
        ip = h.myip or self._peer_ip(link)
        if node.port == h.port and node.cport == h.cport and node.pport == h.pport and node.ip == ip:
            return False
        node.ip = ip
        node.port = h.port
        node.pport = h.pport
        node.cport = h.cport
        if node.link is not None:
            node.link.close()
        node.flags &= ~F_NOADDR
        self.log.warning("Address updated for node %.40s, now %s:%d" % (node.name, ip, node.port))
        if self.myself.is_slave and self.myself.slaveof is node:
            self.set_replication_master(node)
        return True

    def process_gossip(self, h, data, link, sender):
        if not h.count:
            return
        now = mstime()
        for name, ps, pr, ip, port, cport, flags, pport in proto.parse_gossip(data, h.count):
            node = self.nodes.get(name)
            if node is not None:
                if sender is not None and sender.is_master and node is not self.myself:
                    if flags & (F_FAIL | F_PFAIL):
                        if self.add_failure_report(node, sender):
                            self.log.verbose("Node %.40s reported node %.40s as not reachable."
                                             % (sender.name, node.name))
                        self.mark_failing_if_needed(node)
                    else:
                        if node.fail_reports.pop(sender, None) is not None:
                            self.log.verbose("Node %.40s reported node %.40s is back online."
                                             % (sender.name, node.name))
                if (not (flags & (F_FAIL | F_PFAIL)) and node.ping_sent == 0 and
                        self.failure_reports_count(node) == 0):
                    pongtime = pr * 1000
                    if pongtime <= now + 500 and pongtime > node.pong_received:
                        node.pong_received = pongtime
                if (node.flags & (F_FAIL | F_PFAIL) and not (flags & F_NOADDR) and
                        not (flags & (F_FAIL | F_PFAIL)) and (node.ip.lower() != ip.lower() or
                                                            node.port != port or node.cport != cport)):
                    if node.link is not None:
                        node.link.close()
                    node.ip = ip
                    node.port = port
                    node.pport = pport
                    node.cport = cport
                    node.flags &= ~F_NOADDR
            else:
                if (sender is not None and not (flags & F_NOADDR) and not self.blacklisted(name)):
                    self.start_handshake(ip, port, cport)

    # ------------------------------------------------------------------ blacklist (FORGET)
    def blacklist_add(self, name):
        self.blacklist[name] = time.time() + BLACKLIST_TTL

    def blacklisted(self, name):
        exp = self.blacklist.get(name)
        if exp is None:
            return False
        if exp < time.time():
            del self.blacklist[name]
            return False
        return True

    # ------------------------------------------------------------------ failure detection
    def add_failure_report(self, failing, sender):
        new = sender not in failing.fail_reports
        failing.fail_reports[sender] = mstime()
        return new

    def cleanup_failure_reports(self, node):
        maxtime = self.node_timeout * FAIL_REPORT_VALIDITY_MULT
        now = mstime()
        for k, t in list(node.fail_reports.items()):
            if now - t > maxtime:
                del node.fail_reports[k]

    def failure_reports_count(self, node):
        self.cleanup_failure_reports(node)
        return len(node.fail_reports)

    def mark_failing_if_needed(self, node):
        needed_quorum = self.size // 2 + 1
        if not node.timed_out or node.failed:
            return
        failures = self.failure_reports_count(node)
        if self.myself.is_master:
            failures += 1
        if failures < needed_quorum:
            return
        self.log.notice("Marking node %.40s as failing (quorum reached)." % node.name)
        node.flags &= ~F_PFAIL
        node.flags |= F_FAIL
        node.fail_time = mstime()
        self.send_fail(node.name)
        self.schedule(save=True, update=True)

    def clear_failure_if_needed(self, node):
        now = mstime()
        if node.is_slave or node.numslots == 0:
            self.log.notice("Clear FAIL state for node %.40s: %s is reachable again."
                            % (node.name, "replica" if node.is_slave else "master without slots"))
            node.flags &= ~F_FAIL
            self.schedule(save=True, update=True)
        if node.is_master and node.numslots > 0 and now - node.fail_time > self.node_timeout * FAIL_UNDO_TIME_MULT:
            self.log.notice("Clear FAIL state for node %.40s: is reachable again and nobody is serving its slots "
                            "after some time." % node.name)
            node.flags &= ~F_FAIL
            self.schedule(save=True, update=True)

    # ------------------------------------------------------------------ slots config
    def update_slots_config_with(self, sender, sender_epoch, slots):
        """redis clusterUpdateSlotsConfigWith."""
        myself = self.myself
        if sender is myself:
            return
        curmaster = myself if myself.is_master else myself.slaveof
        newmaster = None
        migrated_our_slots = 0
        dirty = []
        sender_slots = bin(int.from_bytes(slots, "little")).count("1")
        for j in proto.bitmap_slots(proto.bitmap_minus(slots, sender.slots)):   # the slots sender owns are skipped
            owner = self.slots[j]
            if owner is sender:
                continue
            if j in self.importing:
                continue
            if owner is None or owner.config_epoch < sender_epoch:
                if owner is myself and self.count_keys_in_slot(j) and sender is not myself:
                    dirty.append(j)
                if owner is curmaster:
                    newmaster = sender
                    migrated_our_slots += 1
                self.del_slot(j)
                self.add_slot(sender, j)
                self.schedule(save=True, update=True)
        if (newmaster is not None and curmaster.numslots == 0 and
                (self.config["cluster-allow-replica-migration"] or sender_slots == migrated_our_slots)):
            self.log.warning("Configuration change detected. Reconfiguring myself as a replica of %.40s"
                             % sender.name)
            self.set_master(sender)
            self.schedule(save=True, update=True)
        elif dirty:
            for j in dirty:
                slotkeys.delete_keys_in_slot(self.server.ks.db(0), j)

    def handle_config_epoch_collision(self, sender):
        myself = self.myself
        if sender.config_epoch != myself.config_epoch or not sender.is_master or not myself.is_master:
            return
        if sender.name <= myself.name:
            return
        self.current_epoch += 1
        myself.config_epoch = self.current_epoch
        self.save_config()
        self.log.verbose("WARNING: configEpoch collision with node %.40s. configEpoch set to %d"
                         % (sender.name, myself.config_epoch))

    def bump_epoch_without_consensus(self):
        max_epoch = max((n.config_epoch for n in self.nodes.values()), default=0)
        max_epoch = max(max_epoch, self.current_epoch)
        myself = self.myself
        if myself.config_epoch == 0 or myself.config_epoch != max_epoch:
            self.current_epoch += 1
            myself.config_epoch = self.current_epoch
            self.schedule(save=True)
            self.log.warning("New configEpoch set to %d" % myself.config_epoch)
            return True
        return False

    # ------------------------------------------------------------------ roles
    def set_replication_master(self, node):
        repl = self.repl()
        if repl is None or not node.ip:
            return
        if repl.master_host != node.ip or repl.master_port != node.port:
            repl.set_master(node.ip, node.port)

    def set_master(self, n):
        """redis clusterSetMaster: myself becomes a replica of n."""
        myself = self.myself
        if myself.is_master:
            myself.flags &= ~(F_MASTER | F_MIGRATE_TO)
            myself.flags |= F_SLAVE
            self.close_all_slots()
        elif myself.slaveof is not None:
            self.node_remove_slave(myself.slaveof, myself)
        myself.slaveof = n
        self.node_add_slave(n, myself)
        self.set_replication_master(n)
        self.reset_manual_failover()

    def failover_replace_your_master(self):
        myself = self.myself
        oldmaster = myself.slaveof
        if myself.is_master or oldmaster is None:
            return
        self.set_node_as_master(myself)
        repl = self.repl()
        if repl is not None:
            repl.unset_master()
        for j in range(SLOTS):
            if self.slots[j] is oldmaster:
                self.del_slot(j)
                self.add_slot(myself, j)
        self.update_state()
        self.save_config()
        self.broadcast_pong()
        self.reset_manual_failover()

    # ------------------------------------------------------------------ elections
    def send_failover_auth_if_needed(self, node, h):
        myself = self.myself
        master = node.slaveof
        force_ack = h.mflags[0] & proto.MF0_FORCEACK
        if myself.is_slave or myself.numslots == 0:
            return
        req_epoch = h.current_epoch
        if req_epoch < self.current_epoch:
            self.log.warning("Failover auth denied to %.40s: reqEpoch (%d) < curEpoch(%d)"
                             % (node.name, req_epoch, self.current_epoch))
            return
        if self.last_vote_epoch == self.current_epoch:
            self.log.warning("Failover auth denied to %.40s: already voted for epoch %d"
                             % (node.name, self.current_epoch))
            return
        if node.is_master or master is None or (not master.failed and not force_ack):
            if node.is_master:
                why = "it is a master node"
            elif master is None:
                why = "I don't know its master"
            else:
                why = "its master is up"
            self.log.warning("Failover auth denied to %.40s: %s" % (node.name, why))
            return
        now = mstime()
        if now - master.voted_time < self.node_timeout * 2:
            self.log.warning("Failover auth denied to %.40s: can't vote about this master before %d milliseconds"
                             % (node.name, self.node_timeout * 2 - (now - master.voted_time)))
            return
        for j in proto.bitmap_slots(h.myslots):
            owner = self.slots[j]
            if owner is None:
                continue
            if owner.config_epoch <= h.config_epoch:
                continue
            self.log.warning("Failover auth denied to %.40s: slot %d epoch (%d) > reqEpoch (%d)"
                             % (node.name, j, owner.config_epoch, h.config_epoch))
            return
        self.last_vote_epoch = self.current_epoch
        master.voted_time = now
        self.schedule(fsync=True)
        if node.link is not None:
            node.link.send(self.build(proto.AUTH_ACK))
        self.log.warning("Failover auth granted to %.40s for epoch %d" % (node.name, self.current_epoch))

    def slave_rank(self):
        myself = self.myself
        master = myself.slaveof
        if master is None:
            return 0
        myoffset = self.my_offset()
        return sum(1 for s in master.slaves if s is not myself and not s.failed and s.repl_offset > myoffset)

    def handle_slave_failover(self):
        myself = self.myself
        master = myself.slaveof
        now = mstime()
        needed_quorum = self.size // 2 + 1
        manual = self.mf_end != 0 and self.mf_can_start
        nt = self.node_timeout
        auth_timeout = max(nt * 2, 2000)
        auth_retry_time = auth_timeout * 2
        if (myself.is_master or master is None or (not master.failed and not manual) or
                (self.config["cluster-replica-no-failover"] and not manual) or master.numslots == 0):
            self.cant_failover_reason = CANT_NONE
            return
        repl = self.repl()
        if repl is not None and repl.link_connected():
            data_age = int((time.time() - repl.link.last_io) * 1000)
        elif repl is not None and repl.down_since:
            data_age = int((time.time() - repl.down_since) * 1000)
        else:
            data_age = 0
        if data_age > nt:
            data_age -= nt
        factor = self.config["cluster-replica-validity-factor"]
        ping_period = self.config["repl-ping-replica-period"] if "repl-ping-replica-period" in self.config._values \
            else 10
        if factor and data_age > ping_period * 1000 + nt * factor and not manual:
            self.log_cant_failover(CANT_DATA_AGE)
            return
        auth_age = now - self.failover_auth_time
        if auth_age > auth_retry_time:
            self.failover_auth_time = now + 500 + random.randint(0, 499)
            self.failover_auth_count = 0
            self.failover_auth_sent = False
            self.failover_auth_rank = self.slave_rank()
            self.failover_auth_time += self.failover_auth_rank * 1000
            if self.mf_end:
                self.failover_auth_time = now
                self.failover_auth_rank = 0
                self.schedule(failover=True)
            self.log.warning("Start of election delayed for %d milliseconds (rank #%d, offset %d)."
                             % (self.failover_auth_time - now, self.failover_auth_rank, self.my_offset()))
            self.broadcast_pong(local_slaves_only=True)
            return
        if not self.failover_auth_sent and not manual:
            newrank = self.slave_rank()
            if newrank > self.failover_auth_rank:
                added = (newrank - self.failover_auth_rank) * 1000
                self.failover_auth_time += added
                self.failover_auth_rank = newrank
                self.log.warning("Replica rank updated to #%d, added %d milliseconds of delay." % (newrank, added))
        if now < self.failover_auth_time:
            self.log_cant_failover(CANT_WAITING_DELAY)
            return
        if auth_age > auth_timeout:
            self.log_cant_failover(CANT_EXPIRED)
            return
        if not self.failover_auth_sent:
            self.current_epoch += 1
            self.failover_auth_epoch = self.current_epoch
            self.log.warning("Starting a failover election for epoch %d." % self.current_epoch)
            self.request_failover_auth()
            self.failover_auth_sent = True
            self.schedule(fsync=True, update=True)
            return
        if self.failover_auth_count >= needed_quorum:
            self.log.warning("Failover election won: I'm the new master.")
            if myself.config_epoch < self.failover_auth_epoch:
                myself.config_epoch = self.failover_auth_epoch
                self.log.warning("configEpoch set to %d after successful failover" % myself.config_epoch)
            self.failover_replace_your_master()
        else:
            self.log_cant_failover(CANT_WAITING_VOTES)

    def log_cant_failover(self, reason):
        if reason == self.cant_failover_reason and time.time() - self.lastlog_time < 300:
            return
        self.cant_failover_reason = reason
        self.lastlog_time = time.time()
        text = {CANT_DATA_AGE: "Disconnected from master for longer than allowed. Please check the "
                               "'cluster-replica-validity-factor' configuration option.",
                CANT_WAITING_DELAY: "Waiting the delay before I can start a new failover.",
                CANT_EXPIRED: "Failover attempt expired.",
                CANT_WAITING_VOTES: "Waiting for votes, but majority still not reached."}.get(reason, "")
        self.log.notice("Currently unable to failover: %s" % text)

    def request_failover_auth(self):
        mflags = proto.MF0_FORCEACK if self.mf_end else 0
        data = self.build(proto.AUTH_REQUEST, mflags0=mflags)
        self.stats_sent[proto.AUTH_REQUEST] -= 1
        for n in self.nodes.values():
            if n.link is None or n.flags & (F_MYSELF | F_HANDSHAKE):
                continue
            self.stats_sent[proto.AUTH_REQUEST] += 1
            n.link.send(data)

    # ------------------------------------------------------------------ manual failover
    def reset_manual_failover(self):
        if self.mf_slave is not None:
            # we were the paused master: let clients go
            try:
                self.server.unpause_clients()
            except Exception:
                pass
        self.mf_end = 0
        self.mf_can_start = False
        self.mf_slave = None
        self.mf_master_offset = -1

    def manual_failover_check_timeout(self):
        if self.mf_end and self.mf_end < mstime():
            self.log.warning("Manual failover timed out.")
            self.reset_manual_failover()

    def handle_manual_failover(self):
        if self.mf_end == 0 or self.mf_can_start or self.mf_master_offset == -1:
            return
        if self.mf_master_offset == self.my_offset():
            self.mf_can_start = True
            self.log.warning("All master replication stream processed, manual failover can start.")
            self.schedule(failover=True)

    # ------------------------------------------------------------------ state
    def update_state(self):
        now = mstime()
        myself = self.myself
        if self.first_call_time == 0:
            self.first_call_time = now
        size = 0
        reachable = 0
        for n in self.nodes.values():
            if n.is_master and n.numslots:
                size += 1
                if not (n.flags & (F_FAIL | F_PFAIL)):
                    reachable += 1
        self.size = size           # (redis 7.0.15 shows the new size at once, even within the writable delay)
        if myself.is_master and self.state == FAIL and now - self.first_call_time < WRITABLE_DELAY:
            return
        new_state = OK
        if self.config["cluster-require-full-coverage"]:
            if None in self.slots or any(n.numslots and n.flags & F_FAIL for n in self.nodes.values()):
                new_state = FAIL
        needed_quorum = size // 2 + 1
        if reachable < needed_quorum:
            new_state = FAIL
            self.among_minority_time = now
        if new_state != self.state:
            rejoin_delay = self.node_timeout
            rejoin_delay = max(MIN_REJOIN_DELAY, min(MAX_REJOIN_DELAY, rejoin_delay))
            if new_state == OK and myself.is_master and now - self.among_minority_time < rejoin_delay:
                return
            self.log.warning("Cluster state changed: %s" % ("ok" if new_state == OK else "fail"))
            self.state = new_state

    # ------------------------------------------------------------------ cron
    def cron(self):
        now = mstime()
        if now - self.last_cron < 95:
            return
        self.last_cron = now
        if not self.started:
            self.start_listening()
        self.iteration += 1
        nt = self.node_timeout
        handshake_timeout = max(nt, 1000)
        self.stats_pfail_nodes = 0
        myself = self.myself
        for node in list(self.nodes.values()):
            if node.flags & (F_MYSELF | F_NOADDR):
                continue
            if node.flags & F_PFAIL:
                self.stats_pfail_nodes += 1
            if node.in_handshake and now - node.ctime > handshake_timeout:
                self.del_node(node)
                continue
            if node.link is None and not node.connecting and node.ip:
                self.connect(node)
        if self.iteration % 10 == 0:
            min_pong_node = None
            min_pong = 0
            cands = [n for n in self.nodes.values()]
            for _ in range(5):
                if not cands:
                    break
                this = random.choice(cands)
                if (this.link is None or not this.link.connected or this.ping_sent != 0 or
                        this.flags & (F_MYSELF | F_HANDSHAKE)):
                    continue
                if min_pong_node is None or min_pong > this.pong_received:
                    min_pong_node = this
                    min_pong = this.pong_received
            if min_pong_node is not None:
                self.send_ping(min_pong_node.link, proto.PING)
        update = False
        orphaned = max_slaves = this_slaves = 0
        for node in list(self.nodes.values()):
            if node.flags & (F_MYSELF | F_NOADDR | F_HANDSHAKE):
                continue
            if myself.is_slave and node.is_master and not node.failed:
                okslaves = self.count_non_failing_slaves(node)
                if okslaves == 0 and node.numslots > 0 and node.flags & F_MIGRATE_TO:
                    orphaned += 1
                if okslaves > max_slaves:
                    max_slaves = okslaves
                if myself.slaveof is node:
                    this_slaves = okslaves
            link = node.link
            ping_delay = now - node.ping_sent
            data_delay = now - node.data_received
            if (link is not None and link.connected and now - link.ctime > nt and node.ping_sent and
                    ping_delay > nt / 2 and data_delay > nt / 2):
                link.close()
                link = None
            if link is not None and link.connected and node.ping_sent == 0 and (now - node.pong_received) > nt / 2:
                self.send_ping(link, proto.PING)
                continue
            if (self.mf_end and myself.is_master and self.mf_slave is node and link is not None and
                    link.connected):
                self.send_ping(link, proto.PING)
                continue
            if node.ping_sent == 0:
                continue
            node_delay = min(ping_delay, data_delay)
            if node_delay > nt and not (node.flags & (F_PFAIL | F_FAIL)):
                self.log.debug("*** NODE %.40s possibly failing" % node.name)
                node.flags |= F_PFAIL
                update = True
        if (myself.is_slave and myself.slaveof is not None and myself.slaveof.ip and
                myself.slaveof.has_addr):
            self.set_replication_master(myself.slaveof)
        self.manual_failover_check_timeout()
        if myself.is_slave:
            self.handle_manual_failover()
            self.handle_slave_failover()
            if (orphaned and max_slaves >= 2 and this_slaves == max_slaves and
                    self.config["cluster-allow-replica-migration"]):
                self.handle_slave_migration(max_slaves)
        if update or self.state == FAIL:
            self.update_state()
        if self.todo_save or self.todo_update:
            self.before_sleep()

    # ------------------------------------------------------------------ replica migration
    def count_non_failing_slaves(self, n):
        return sum(1 for s in n.slaves if not s.failed)

    def handle_slave_migration(self, max_slaves):
        """redis clusterHandleSlaveMigration: a replica of the primary with the most replicas moves to an
        orphaned primary (one that had replicas and has none working), keeping cluster-migration-barrier."""
        myself = self.myself
        mymaster = myself.slaveof
        if self.state != OK or mymaster is None:
            return
        okslaves = sum(1 for s in mymaster.slaves if not s.failed and not s.timed_out)
        if okslaves <= self.config["cluster-migration-barrier"]:
            return
        candidate = myself
        target = None
        now = mstime()
        for node in list(self.nodes.values()):
            ok = 0
            is_orphaned = not (node.is_slave or node.failed) and bool(node.flags & F_MIGRATE_TO)
            if node.is_master:
                ok = self.count_non_failing_slaves(node)
            if ok > 0:
                is_orphaned = False
            if is_orphaned:
                if target is None and node.numslots > 0:
                    target = node
                if not node.orphaned_time:
                    node.orphaned_time = now
            else:
                node.orphaned_time = 0
            if ok == max_slaves:
                for s in node.slaves:
                    if s.name < candidate.name:
                        candidate = s
        if target is not None and candidate is myself and now - target.orphaned_time > SLAVE_MIGRATION_DELAY:
            self.log.notice("Migrating to orphaned master %.40s" % target.name)
            self.set_master(target)
            self.schedule(save=True, update=True)

    # ------------------------------------------------------------------ reset
    def reset(self, hard):
        myself = self.myself
        if myself.is_slave:
            self.set_node_as_master(myself)
            repl = self.repl()
            if repl is not None:
                repl.unset_master()
            slotkeys_db = self.server.ks.db(0)
            slotkeys_db.clear()
        self.close_all_slots()
        self.reset_manual_failover()
        for j in range(SLOTS):
            self.del_slot(j)
        for n in list(self.nodes.values()):
            if n is myself:
                continue
            self.del_node(n)
        if hard:
            self.current_epoch = 0
            self.last_vote_epoch = 0
            myself.config_epoch = 0
            self.log.warning("configEpoch set to 0 via CLUSTER RESET HARD")
            old = myself.name
            self.nodes.pop(old, None)
            myself.name = random_name()
            self.add_node(myself)
            self.log.notice("Node hard reset, now I'm %.40s" % myself.name)
        self.schedule(save=True, update=True)
