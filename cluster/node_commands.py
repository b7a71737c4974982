"""The handlers of CLUSTER ..., ASKING, READONLY, READWRITE (redis 7.0.15 cluster.c clusterCommand), with
redis's replies and error texts.  ``cl`` is the ClusterState (server.extensions["cluster"])."""
from cluster import proto, slotkeys
from cluster.proto import SLOTS
from cluster.state import OK, mstime

# client flag bits (Client.flags; 1, 2, 4 are connection.py's)
CLIENT_READONLY = 1 << 8
CLIENT_ASKING = 1 << 9


def _slot(c, arg):
    try:
        if not arg or arg.strip() != arg:
            raise ValueError
        v = int(arg)
    except ValueError:
        v = -1
    if v < 0 or v >= SLOTS:
        c.error(b"ERR Invalid or out of range slot")
        return -1
    return v


def _node(cl, name):
    return cl.lookup(name)


def addslots(cl, c, argv):
    _slots_generic(cl, c, argv, False)


def delslots(cl, c, argv):
    _slots_generic(cl, c, argv, True)


def _check_assign(cl, c, seen, dele, start, end):
    for j in range(start, end + 1):
        if dele and cl.slots[j] is None:
            c.error(b"ERR Slot %d is already unassigned" % j)
            return False
        if not dele and cl.slots[j] is not None:
            c.error(b"ERR Slot %d is already busy" % j)
            return False
        if j in seen:
            c.error(b"ERR Slot %d specified multiple times" % j)
            return False
        seen.add(j)
    return True


def _apply_slots(cl, seen, dele):
    for j in sorted(seen):
        if dele:
            cl.del_slot(j)
        else:
            cl.importing.pop(j, None)
            cl.add_slot(cl.myself, j)
    cl.schedule(save=True, update=True)


def _slots_generic(cl, c, argv, dele):
    slots = []
    for a in argv[2:]:
        j = _slot(c, a)
        if j < 0:
            return
        slots.append(j)
    seen = set()
    for j in slots:
        if not _check_assign(cl, c, seen, dele, j, j):
            return
    _apply_slots(cl, seen, dele)
    c.reply.add_ok()


def addslotsrange(cl, c, argv):
    _range_generic(cl, c, argv, False)


def delslotsrange(cl, c, argv):
    _range_generic(cl, c, argv, True)


def _range_generic(cl, c, argv, dele):
    if len(argv) % 2 == 1:
        c.error(b"ERR wrong number of arguments for 'cluster|%s' command" % argv[1].lower())
        return
    seen = set()
    for i in range(2, len(argv), 2):
        a = _slot(c, argv[i])
        if a < 0:
            return
        b = _slot(c, argv[i + 1])
        if b < 0:
            return
        if a > b:
            c.error(b"ERR start slot number %d is greater than end slot number %d" % (a, b))
            return
        if not _check_assign(cl, c, seen, dele, a, b):
            return
    _apply_slots(cl, seen, dele)
    c.reply.add_ok()


def flushslots(cl, c, argv):
    if cl.server.ks.db(0).size() != 0:
        c.error(b"ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
        return
    cl.del_node_slots(cl.myself)
    cl.schedule(save=True, update=True)
    c.reply.add_ok()


def bumpepoch(cl, c, argv):
    bumped = cl.bump_epoch_without_consensus()
    cl.save_config()
    c.reply.add_simple(b"%s %d" % (b"BUMPED" if bumped else b"STILL", cl.myself.config_epoch))


def set_config_epoch(cl, c, argv):
    try:
        epoch = int(argv[2])
    except ValueError:
        c.error(b"ERR value is not an integer or out of range")
        return
    if epoch < 0:
        c.error(b"ERR Invalid config epoch specified: %d" % epoch)
    elif len(cl.nodes) > 1:
        c.error(b"ERR The user can assign a config epoch only when the node does not know any other node.")
    elif cl.myself.config_epoch != 0:
        c.error(b"ERR Node config epoch is already non-zero")
    else:
        cl.myself.config_epoch = epoch
        cl.log.warning("configEpoch set to %d via CLUSTER SET-CONFIG-EPOCH" % epoch)
        if cl.current_epoch < epoch:
            cl.current_epoch = epoch
        cl.schedule(save=True, update=True)
        c.reply.add_ok()


def count_failure_reports(cl, c, argv):
    n = _node(cl, argv[2])
    if n is None:
        c.error(b"ERR Unknown node " + argv[2])
        return
    c.reply.add_int(cl.failure_reports_count(n))


def countkeysinslot(cl, c, argv):
    try:
        slot = int(argv[2])
    except ValueError:
        c.error(b"ERR value is not an integer or out of range")
        return
    if slot < 0 or slot >= SLOTS:
        c.error(b"ERR Invalid slot")
        return
    c.reply.add_int(slotkeys.count_keys_in_slot(c.server.ks.db(0), slot))


def getkeysinslot(cl, c, argv):
    try:
        slot = int(argv[2])
        maxkeys = int(argv[3])
    except ValueError:
        c.error(b"ERR value is not an integer or out of range")
        return
    if slot < 0 or slot >= SLOTS or maxkeys < 0:
        c.error(b"ERR Invalid slot or number of keys")
        return
    keys = slotkeys.keys_in_slot(c.server.ks.db(0), slot, maxkeys)
    c.reply.add_array_len(len(keys))
    for k in keys:
        c.reply.add_bulk(k)


def keyslot(cl, c, argv):
    c.reply.add_int(slotkeys.key_hash_slot(argv[2]))


def myid(cl, c, argv):
    c.reply.add_bulk(cl.myself.name.encode())


def nodes(cl, c, argv):
    c.reply.add_verbatim(cl.nodes_description().encode("latin-1"))


def info(cl, c, argv):
    ok = pfail = fail = assigned = 0
    for n in cl.slots:
        if n is None:
            continue
        assigned += 1
        if n.flags & proto.F_FAIL:
            fail += 1
        elif n.flags & proto.F_PFAIL:
            pfail += 1
        else:
            ok += 1
    myself = cl.myself
    myepoch = myself.slaveof.config_epoch if (myself.is_slave and myself.slaveof is not None) \
        else myself.config_epoch
    lines = [
        "cluster_state:%s" % ("ok" if cl.state == OK else "fail"),
        "cluster_slots_assigned:%d" % assigned, "cluster_slots_ok:%d" % ok, "cluster_slots_pfail:%d" % pfail,
        "cluster_slots_fail:%d" % fail, "cluster_known_nodes:%d" % len(cl.nodes), "cluster_size:%d" % cl.size,
        "cluster_current_epoch:%d" % cl.current_epoch, "cluster_my_epoch:%d" % myepoch,
    ]
    tot = 0
    for t in range(proto.TYPE_COUNT):
        if cl.stats_sent[t]:
            lines.append("cluster_stats_messages_%s_sent:%d" % (proto.TYPE_NAMES[t], cl.stats_sent[t]))
            tot += cl.stats_sent[t]
    lines.append("cluster_stats_messages_sent:%d" % tot)
    tot = 0
    for t in range(proto.TYPE_COUNT):
        if cl.stats_recv[t]:
            lines.append("cluster_stats_messages_%s_received:%d" % (proto.TYPE_NAMES[t], cl.stats_recv[t]))
            tot += cl.stats_recv[t]
    lines.append("cluster_stats_messages_received:%d" % tot)
    lines.append("total_cluster_links_buffer_limit_exceeded:0")
    c.reply.add_verbatim(("\r\n".join(lines) + "\r\n").encode())


def _endpoint(cl, n):
    pref = cl.config["cluster-preferred-endpoint-type"]
    if pref == "hostname" and n.hostname:
        return n.hostname
    if pref == "unknown-endpoint":
        return "?"
    return n.ip


def _node_reply(cl, c, n):
    r = c.reply
    r.add_array_len(4)
    r.add_bulk(_endpoint(cl, n).encode())
    r.add_int(n.port)
    r.add_bulk(n.name.encode())
    meta = []
    pref = cl.config["cluster-preferred-endpoint-type"]
    if pref == "ip" and n.hostname:
        meta.append((b"hostname", n.hostname.encode()))
    elif pref != "ip":
        meta.append((b"ip", n.ip.encode()))
    r.add_map_len(len(meta))
    for k, v in meta:
        r.add_bulk(k)
        r.add_bulk(v)


def slots(cl, c, argv):
    entries = []
    start = -1
    for j in range(SLOTS + 1):
        n = cl.slots[j] if j < SLOTS else None
        if start >= 0 and (j == SLOTS or n is not cl.slots[start]):
            entries.append((start, j - 1, cl.slots[start]))
            start = -1
        if n is not None and start < 0:
            start = j
    r = c.reply
    r.add_array_len(len(entries))
    for a, b, n in entries:
        # redis isReplicaAvailable: not failed, and some data (a replica still at offset 0 is not listed)
        replicas = [s for s in n.slaves if not s.failed and
                    (cl.my_offset() if s is cl.myself else s.repl_offset) != 0]
        r.add_array_len(3 + len(replicas))
        r.add_int(a)
        r.add_int(b)
        _node_reply(cl, c, n)
        for s in replicas:
            _node_reply(cl, c, s)


def shards(cl, c, argv):
    masters = [n for n in cl.nodes.values() if n.is_master]
    r = c.reply
    r.add_array_len(len(masters))
    for m in masters:
        r.add_map_len(2)
        r.add_bulk(b"slots")
        ranges = m.slot_ranges()
        r.add_array_len(2 * len(ranges))
        for a, b in ranges:
            r.add_int(a)
            r.add_int(b)
        r.add_bulk(b"nodes")
        members = [m] + m.slaves
        r.add_array_len(len(members))
        for n in members:
            fields = [(b"id", n.name.encode()), (b"port", n.port)]
            if cl.config["tls-port"]:
                fields = [(b"id", n.name.encode()), (b"tls-port", n.port)]
            fields.append((b"ip", n.ip.encode()))
            fields.append((b"endpoint", _endpoint(cl, n).encode()))
            if n.hostname:
                fields.append((b"hostname", n.hostname.encode()))
            fields.append((b"role", b"master" if n.is_master else b"replica"))
            offset = cl.my_offset() if n is cl.myself else n.repl_offset
            fields.append((b"replication-offset", offset))
            if n.failed:
                health = b"fail"
            elif n.is_slave and offset == 0:
                health = b"loading"
            else:
                health = b"online"
            fields.append((b"health", health))
            r.add_map_len(len(fields))
            for k, v in fields:
                r.add_bulk(k)
                if isinstance(v, int):
                    r.add_int(v)
                else:
                    r.add_bulk(v)


def links(cl, c, argv):
    out = []
    for n in cl.nodes.values():
        if n is cl.myself:
            continue
        if n.link is not None and n.link.connected:
            out.append(("to", n, n.link))
        if n.inbound_link is not None:
            out.append(("from", n, n.inbound_link))
    r = c.reply
    r.add_array_len(len(out))
    for direction, n, link in out:
        used = link.buffered()
        r.add_map_len(6)
        r.add_bulk(b"direction")
        r.add_bulk(direction.encode())
        r.add_bulk(b"node")
        r.add_bulk(n.name.encode())
        r.add_bulk(b"create-time")
        r.add_int(link.ctime)
        r.add_bulk(b"events")
        r.add_bulk(b"rw" if used else b"r")
        r.add_bulk(b"send-buffer-allocated")
        r.add_int(used)
        r.add_bulk(b"send-buffer-used")
        r.add_int(used)


def meet(cl, c, argv):
    if len(argv) != 4 and len(argv) != 5:
        c.error(b"ERR wrong number of arguments for 'cluster|meet' command")
        return
    try:
        port = int(argv[3])
    except ValueError:
        c.error(b"ERR Invalid TCP base port specified: " + argv[3])
        return
    if len(argv) == 5:
        try:
            cport = int(argv[4])
        except ValueError:
            c.error(b"ERR Invalid TCP bus port specified: " + argv[4])
            return
    else:
        cport = port + 10000
    if not cl.start_handshake(argv[2].decode("latin-1"), port, cport):
        c.error(b"ERR Invalid node address specified: %s:%s" % (argv[2], argv[3]))
        return
    c.reply.add_ok()


def forget(cl, c, argv):
    n = _node(cl, argv[2])
    if n is None:
        c.error(b"ERR Unknown node " + argv[2])
        return
    if n is cl.myself:
        c.error(b"ERR I tried hard but I can't forget myself...")
        return
    if cl.myself.is_slave and cl.myself.slaveof is n:
        c.error(b"ERR Can't forget my master!")
        return
    cl.blacklist_add(n.name)
    cl.del_node(n)
    cl.schedule(save=True, update=True)
    c.reply.add_ok()


def replicate(cl, c, argv):
    n = _node(cl, argv[2])
    if n is None:
        c.error(b"ERR Unknown node " + argv[2])
        return
    if n is cl.myself:
        c.error(b"ERR Can't replicate myself")
        return
    if n.is_slave:
        c.error(b"ERR I can only replicate a master, not a replica.")
        return
    myself = cl.myself
    if myself.is_master and (myself.numslots != 0 or c.server.ks.db(0).size() != 0):
        c.error(b"ERR To set a master the node must be empty and without assigned slots.")
        return
    cl.set_master(n)
    cl.schedule(save=True, update=True)
    c.reply.add_ok()


def replicas(cl, c, argv):
    n = _node(cl, argv[2])
    if n is None:
        c.error(b"ERR Unknown node " + argv[2])
        return
    if n.is_slave:
        c.error(b"ERR The specified node is not a master")
        return
    c.reply.add_array_len(len(n.slaves))
    for s in n.slaves:
        c.reply.add_bulk(cl.describe_node(s).encode("latin-1"))


slaves = replicas


def saveconfig(cl, c, argv):
    if cl.save_config():
        c.reply.add_ok()
    else:
        c.error(b"ERR error saving the cluster node config: Permission denied")


def setslot(cl, c, argv):
    myself = cl.myself
    if myself.is_slave:
        c.error(b"ERR Please use SETSLOT only with masters.")
        return
    slot = _slot(c, argv[2])
    if slot < 0:
        return
    action = argv[3].lower()
    if action == b"migrating" and len(argv) == 5:
        if cl.slots[slot] is not myself:
            c.error(b"ERR I'm not the owner of hash slot %d" % slot)
            return
        n = _node(cl, argv[4])
        if n is None:
            c.error(b"ERR I don't know about node " + argv[4])
            return
        if n.is_slave:
            c.error(b"ERR Target node is not a master")
            return
        cl.migrating[slot] = n
    elif action == b"importing" and len(argv) == 5:
        if cl.slots[slot] is myself:
            c.error(b"ERR I'm already the owner of hash slot %d" % slot)
            return
        n = _node(cl, argv[4])
        if n is None:
            c.error(b"ERR I don't know about node " + argv[4])
            return
        if n.is_slave:
            c.error(b"ERR Target node is not a master")
            return
        cl.importing[slot] = n
    elif action == b"stable" and len(argv) == 4:
        cl.importing.pop(slot, None)
        cl.migrating.pop(slot, None)
    elif action == b"node" and len(argv) == 5:
        n = _node(cl, argv[4])
        if n is None:
            c.error(b"ERR Unknown node " + argv[4])
            return
        if n.is_slave:
            c.error(b"ERR Target node is not a master")
            return
        nkeys = cl.count_keys_in_slot(slot)
        if cl.slots[slot] is myself and n is not myself and nkeys != 0:
            c.error(b"ERR Can't assign hashslot %d to a different node while I still hold keys for this hash slot."
                    % slot)
            return
        if nkeys == 0 and slot in cl.migrating:
            del cl.migrating[slot]
        was_mine = cl.slots[slot] is myself
        cl.del_slot(slot)
        cl.add_slot(n, slot)
        if was_mine and n is not myself and myself.numslots == 0 and cl.config["cluster-allow-replica-migration"]:
            cl.log.warning("Configuration change detected. Reconfiguring myself as a replica of %.40s" % n.name)
            cl.set_master(n)
            cl.schedule(save=True, update=True)
        if n is myself and slot in cl.importing:
            if cl.bump_epoch_without_consensus():
                cl.log.warning("configEpoch updated after importing slot %d" % slot)
            del cl.importing[slot]
            cl.broadcast_pong()
    else:
        c.error(b"ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
        return
    cl.schedule(save=True, update=True)
    c.reply.add_ok()


def failover(cl, c, argv):
    force = takeover = False
    if len(argv) == 3:
        opt = argv[2].lower()
        if opt == b"force":
            force = True
        elif opt == b"takeover":
            takeover = True
            force = True
        else:
            c.error(b"ERR syntax error")
            return
    elif len(argv) > 3:
        c.error(b"ERR unknown subcommand or wrong number of arguments for 'failover'. Try CLUSTER HELP.")
        return
    myself = cl.myself
    if myself.is_master:
        c.error(b"ERR You should send CLUSTER FAILOVER to a replica")
        return
    if myself.slaveof is None:
        c.error(b"ERR I'm a replica but my master is unknown to me")
        return
    if not force and (myself.slaveof.failed or myself.slaveof.link is None):
        c.error(b"ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
        return
    cl.reset_manual_failover()
    cl.mf_end = mstime() + 5000
    if takeover:
        cl.log.warning("Taking over the master (user request).")
        cl.bump_epoch_without_consensus()
        cl.failover_replace_your_master()
    elif force:
        cl.log.warning("Forced failover user request accepted.")
        cl.mf_can_start = True
        cl.schedule(failover=True)
    else:
        cl.log.warning("Manual failover user request accepted.")
        link = myself.slaveof.link
        if link is not None:
            link.send(cl.build(proto.MFSTART))
    c.reply.add_ok()


def reset(cl, c, argv):
    hard = False
    if len(argv) == 3:
        opt = argv[2].lower()
        if opt == b"hard":
            hard = True
        elif opt != b"soft":
            c.error(b"ERR syntax error")
            return
    elif len(argv) > 3:
        c.error(b"ERR unknown subcommand or wrong number of arguments for 'reset'. Try CLUSTER HELP.")
        return
    if cl.myself.is_master and c.server.ks.db(0).size() != 0:
        c.error(b"ERR CLUSTER RESET can't be called with master nodes containing keys")
        return
    cl.reset(hard)
    c.reply.add_ok()


HELP = [
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
]


def help(cl, c, argv):
    c.reply.add_array_len(len(HELP))
    for line in HELP:
        c.reply.add_simple(line.encode())


# ---------------------------------------------------------------------- ASKING / READONLY / READWRITE
def asking(cl, c, argv):
    c.flags |= CLIENT_ASKING
    c.reply.add_ok()


def readonly(cl, c, argv):
    c.flags |= CLIENT_READONLY
    c.reply.add_ok()


def readwrite(cl, c, argv):
    c.flags &= ~CLIENT_READONLY
    c.reply.add_ok()

