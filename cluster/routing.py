"""Cluster redirection in the dispatcher (redis processCommand + getNodeByQuery + clusterRedirectClient).

Installed as a chained ``Dispatcher.before_call`` only when cluster-enabled is yes, so a standalone server
pays nothing.  Replies -MOVED / -ASK / -TRYAGAIN / -CROSSSLOT / -CLUSTERDOWN with redis 7.0's texts; queued
MULTI commands are checked at queue time and EXEC over the whole queue, as redis does."""
from engine import registry
from engine.commands.introspection import get_keys
from engine.commands.transactions import discard_transaction

from cluster import slotkeys
from cluster.node_commands import CLIENT_ASKING, CLIENT_READONLY
from cluster.state import OK

CMD_WRITE = registry.FLAGS["write"]
CMD_MOVABLE_KEYS = registry.FLAGS["movablekeys"]
CMD_ASKING = registry.FLAGS["asking"]
R_NONE, R_CROSS_SLOT, R_UNSTABLE, R_ASK, R_MOVED, R_DOWN_STATE, R_DOWN_UNBOUND, R_DOWN_RO_STATE = range(8)
SHARD_PUBSUB = frozenset(["ssubscribe", "sunsubscribe", "spublish"])
REFUSED_IN_CLUSTER = {
    "replicaof": b"ERR REPLICAOF not allowed in cluster mode.",
    "slaveof": b"ERR REPLICAOF not allowed in cluster mode.",
    "move": b"ERR MOVE is not allowed in cluster mode",
    "swapdb": b"ERR SWAPDB is not allowed in cluster mode",
}


def _keys(spec, argv):
    name = spec.name
    if name in SHARD_PUBSUB:
        return argv[1:] if name != "spublish" else argv[1:2]
    if spec.first_key > 0 and not (spec.flags & CMD_MOVABLE_KEYS):     # fixed positions (SET's getkeys: flags only)
        argc = len(argv)
        last = spec.last_key if spec.last_key >= 0 else argc + spec.last_key
        if last >= argc:
            last = argc - 1
        return argv[spec.first_key:last + 1:spec.key_step or 1]
    return [argv[pos] for pos, _f in get_keys(spec, argv)]


def node_by_query(cl, c, spec, argv):
    """(node, slot, error_code) as redis getNodeByQuery."""
    myself = cl.myself
    if spec.name == "exec":
        if c.multi_queue is None:
            return myself, 0, R_NONE
        commands = c.multi_queue
    else:
        commands = ((spec, argv),)
    is_shard = spec.name in SHARD_PUBSUB
    firstkey = None
    n = None
    slot = 0
    migrating = importing = multiple = False
    missing = 0
    db0 = None
    for mspec, margv in commands:
        for key in _keys(mspec, margv):
            thisslot = slotkeys.key_hash_slot(key)
            if firstkey is None:
                firstkey = key
                slot = thisslot
                n = cl.slots[slot]
                if n is None:
                    return None, slot, R_DOWN_UNBOUND
                if n is myself and slot in cl.migrating:
                    migrating = True
                elif slot in cl.importing:
                    importing = True
            elif key != firstkey:
                if slot != thisslot:
                    return None, slot, R_CROSS_SLOT
                multiple = True
            if (migrating or importing) and not is_shard:
                if db0 is None:
                    db0 = cl.server.ks.db(0)
                if db0.find(key) is None:
                    missing += 1
    if n is None:
        return myself, -1, R_NONE
    if cl.state != OK:
        if is_shard:
            if not cl.config["cluster-allow-pubsubshard-when-down"]:
                return None, slot, R_DOWN_STATE
        elif not cl.config["cluster-allow-reads-when-down"]:
            return None, slot, R_DOWN_STATE
        elif _is_write(c, spec):
            return None, slot, R_DOWN_RO_STATE
    if (migrating or importing) and spec.name == "migrate":
        return myself, slot, R_NONE
    if migrating and missing:
        if multiple:
            return None, slot, R_UNSTABLE
        return cl.migrating[slot], slot, R_ASK
    if importing and (c.flags & CLIENT_ASKING or spec.flags & CMD_ASKING):
        if multiple and missing:
            return None, slot, R_UNSTABLE
        return myself, slot, R_NONE
    if ((c.flags & CLIENT_READONLY) or is_shard) and not _is_write(c, spec) and myself.is_slave \
            and myself.slaveof is n:
        return myself, slot, R_NONE
    if n is not myself:
        return n, slot, R_MOVED
    return n, slot, R_NONE


def _is_write(c, spec):
    if spec.flags & CMD_WRITE:
        return True
    if spec.name == "exec" and c.multi_queue:
        return any(s.flags & CMD_WRITE for s, _a in c.multi_queue)
    return False


def redirect_text(cl, n, slot, code):
    if code == R_CROSS_SLOT:
        return b"CROSSSLOT Keys in request don't hash to the same slot"
    if code == R_UNSTABLE:
        return b"TRYAGAIN Multiple keys request during rehashing of slot"
    if code == R_DOWN_STATE:
        return b"CLUSTERDOWN The cluster is down"
    if code == R_DOWN_RO_STATE:
        return b"CLUSTERDOWN The cluster is down and only accepts read commands"
    if code == R_DOWN_UNBOUND:
        return b"CLUSTERDOWN Hash slot not served"
    host = cl_endpoint(cl, n)
    return b"%s %d %s:%d" % (b"ASK" if code == R_ASK else b"MOVED", slot, host.encode(), n.port)


def cl_endpoint(cl, n):
    pref = cl.config["cluster-preferred-endpoint-type"]
    if pref == "hostname" and n.hostname:
        return n.hostname
    if pref == "unknown-endpoint":
        return "?"
    return n.ip


def install_gate(cl, dispatcher):
    prev = dispatcher.before_call

    def cluster_gate(c, spec, argv):
        name = spec.name
        flags = c.flags
        if flags & CLIENT_ASKING and name != "asking" and (c.multi_queue is None or name == "exec"):
            c.flags = flags & ~CLIENT_ASKING        # redis resetClient: ASKING lasts one command (or one MULTI)
        if not c.is_master and (spec.first_key > 0 or spec.key_specs or spec.flags & CMD_MOVABLE_KEYS
                                or name == "exec" or name in SHARD_PUBSUB):
            saved = c.flags
            if flags & CLIENT_ASKING:
                c.flags = saved | CLIENT_ASKING
            n, slot, code = node_by_query(cl, c, spec, argv)
            c.flags = saved
            if n is None or n is not cl.myself:
                if name == "exec":
                    discard_transaction(c)
                elif c.multi_queue is not None:
                    c.multi_error = True
                spec.rejected_calls += 1
                c.error(redirect_text(cl, n, slot, code))
                return False
        refused = REFUSED_IN_CLUSTER.get(name)
        if refused is None and name == "select" and len(argv) == 2 and argv[1] != b"0":
            refused = b"ERR SELECT is not allowed in cluster mode"
        if refused is not None and not c.is_master:
            _reject(c, spec, refused)
            return False
        return True

    from engine import registry as _reg
    special = set()
    for name in ("exec", "select", "replicaof", "slaveof", "move", "swapdb", "ssubscribe", "sunsubscribe",
                 "spublish", "asking"):
        spec = _reg.COMMANDS.get(name.encode())
        if spec is not None:
            special.add(spec)
    try:
        from cluster.fastgate import FastGate
    except ImportError:           # not built: the Python gate alone
        def gate(c, spec, argv):
            if not cluster_gate(c, spec, argv):
                return False
            return prev(c, spec, argv) if prev is not None else True
    else:
        gate = FastGate(cl, cluster_gate, prev, special, CMD_MOVABLE_KEYS)
    dispatcher.before_call = gate
    return gate


def _reject(c, spec, message):
    spec.rejected_calls += 1
    if c.multi_queue is not None:
        c.multi_error = True
    c.error(message)


def script_check(cl, caller, spec, argv):
    """redis scriptVerifyClusterState: the error text for a command a script may not run here, or None."""
    if caller.is_master:
        return None
    n, slot, code = node_by_query(cl, caller, spec, argv)
    if n is None or n is not cl.myself:
        if code == R_DOWN_RO_STATE:
            return b"ERR Script attempted to execute a write command while the cluster is down and readonly"
        if code == R_DOWN_STATE:
            return b"ERR Script attempted to execute a command while the cluster is down"
        return b"ERR Script attempted to access a non local key in a cluster node"
    return None            # redis 7.0.15 lets a script touch several local slots (the same-slot rule is 7.2's)
