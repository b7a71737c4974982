"""CLUSTER, ASKING, READONLY and READWRITE, declared as redis 7.0.15 declares them (tools/specgen.py); the
handlers live in cluster/node_commands.py and run against ``server.extensions["cluster"]``.  Without
cluster-enabled every one answers redis's "This instance has cluster support disabled"."""
from engine.registry import command, container

DISABLED = b"ERR This instance has cluster support disabled"


def _dispatch(c, argv, name):
    cl = c.server.extensions.get("cluster") if c.server is not None else None
    if cl is None:
        c.error(DISABLED)
        return
    from cluster import node_commands
    getattr(node_commands, name[8:] if name.startswith("cluster_") else name)(cl, c, argv)


container(
    "cluster",
    docs={
        "summary": "A container for cluster commands",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "Depends on subcommand.",
    },
)


@command(
    "cluster|addslots", -3, "admin stale no_async_loading",
    docs={
        "summary": "Assign new hash slots to receiving node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(N) where N is the total number of hash slot arguments",
        "arguments": [{"name": "slot", "type": "integer", "flags": ["multiple"]}],
    },
)
def cluster_addslots_command(c, argv):
    _dispatch(c, argv, 'cluster_addslots')


@command(
    "cluster|addslotsrange", -4, "admin stale no_async_loading",
    docs={
        "summary": "Assign new hash slots to receiving node",
        "since": "7.0.0",
        "group": "cluster",
        "complexity": (
            "O(N) where N is the total number of the slots between the start slot and end slot arguments."
        ),
        "arguments": [
            {
                "name": "start-slot_end-slot",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [
                    {"name": "start-slot", "type": "integer"},
                    {"name": "end-slot", "type": "integer"},
                ],
            },
        ],
    },
)
def cluster_addslotsrange_command(c, argv):
    _dispatch(c, argv, 'cluster_addslotsrange')


@command(
    "cluster|bumpepoch", 2, "admin stale no_async_loading",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Advance the cluster config epoch",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
    },
)
def cluster_bumpepoch_command(c, argv):
    _dispatch(c, argv, 'cluster_bumpepoch')


@command(
    "cluster|count-failure-reports", 3, "admin stale",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Return the number of failure reports active for a given node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(N) where N is the number of failure reports",
        "arguments": [{"name": "node-id", "type": "string"}],
    },
)
def cluster_count_failure_reports_command(c, argv):
    _dispatch(c, argv, 'cluster_count_failure_reports')


@command(
    "cluster|countkeysinslot", 3, "stale",
    docs={
        "summary": "Return the number of local keys in the specified hash slot",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
        "arguments": [{"name": "slot", "type": "integer"}],
    },
)
def cluster_countkeysinslot_command(c, argv):
    _dispatch(c, argv, 'cluster_countkeysinslot')


@command(
    "cluster|delslots", -3, "admin stale no_async_loading",
    docs={
        "summary": "Set hash slots as unbound in receiving node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(N) where N is the total number of hash slot arguments",
        "arguments": [{"name": "slot", "type": "integer", "flags": ["multiple"]}],
    },
)
def cluster_delslots_command(c, argv):
    _dispatch(c, argv, 'cluster_delslots')


@command(
    "cluster|delslotsrange", -4, "admin stale no_async_loading",
    docs={
        "summary": "Set hash slots as unbound in receiving node",
        "since": "7.0.0",
        "group": "cluster",
        "complexity": (
            "O(N) where N is the total number of the slots between the start slot and end slot arguments."
        ),
        "arguments": [
            {
                "name": "start-slot_end-slot",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [
                    {"name": "start-slot", "type": "integer"},
                    {"name": "end-slot", "type": "integer"},
                ],
            },
        ],
    },
)
def cluster_delslotsrange_command(c, argv):
    _dispatch(c, argv, 'cluster_delslotsrange')


@command(
    "cluster|failover", -2, "admin stale no_async_loading",
    docs={
        "summary": "Forces a replica to perform a manual failover of its master.",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "options",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "force", "type": "pure-token", "token": "FORCE"},
                    {"name": "takeover", "type": "pure-token", "token": "TAKEOVER"},
                ],
            },
        ],
    },
)
def cluster_failover_command(c, argv):
    _dispatch(c, argv, 'cluster_failover')


@command(
    "cluster|flushslots", 2, "admin stale no_async_loading",
    docs={
        "summary": "Delete a node's own slots information",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
    },
)
def cluster_flushslots_command(c, argv):
    _dispatch(c, argv, 'cluster_flushslots')


@command(
    "cluster|forget", 3, "admin stale no_async_loading",
    docs={
        "summary": "Remove a node from the nodes table",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
        "arguments": [{"name": "node-id", "type": "string"}],
    },
)
def cluster_forget_command(c, argv):
    _dispatch(c, argv, 'cluster_forget')


@command(
    "cluster|getkeysinslot", 4, "stale",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Return local key names in the specified hash slot",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(log(N)) where N is the number of requested keys",
        "arguments": [{"name": "slot", "type": "integer"}, {"name": "count", "type": "integer"}],
    },
)
def cluster_getkeysinslot_command(c, argv):
    _dispatch(c, argv, 'cluster_getkeysinslot')


@command(
    "cluster|help", 2, "loading stale",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "cluster",
        "complexity": "O(1)",
    },
)
def cluster_help_command(c, argv):
    _dispatch(c, argv, 'cluster_help')


@command(
    "cluster|info", 2, "stale",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Provides info about Redis Cluster node state",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
    },
)
def cluster_info_command(c, argv):
    _dispatch(c, argv, 'cluster_info')


@command(
    "cluster|keyslot", 3, "stale",
    docs={
        "summary": "Returns the hash slot of the specified key",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(N) where N is the number of bytes in the key",
        "arguments": [{"name": "key", "type": "string"}],
    },
)
def cluster_keyslot_command(c, argv):
    _dispatch(c, argv, 'cluster_keyslot')


@command(
    "cluster|links", 2, "stale",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Returns a list of all TCP links to and from peer nodes in cluster",
        "since": "7.0.0",
        "group": "cluster",
        "complexity": "O(N) where N is the total number of Cluster nodes",
    },
)
def cluster_links_command(c, argv):
    _dispatch(c, argv, 'cluster_links')


@command(
    "cluster|meet", -4, "admin stale no_async_loading",
    docs={
        "summary": "Force a node cluster to handshake with another node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
        "history": [["4.0.0", "Added the optional `cluster_bus_port` argument."]],
        "arguments": [
            {"name": "ip", "type": "string"},
            {"name": "port", "type": "integer"},
            {"name": "cluster_bus_port", "type": "integer", "since": "4.0.0", "flags": ["optional"]},
        ],
    },
)
def cluster_meet_command(c, argv):
    _dispatch(c, argv, 'cluster_meet')


@command(
    "cluster|myid", 2, "stale",
    docs={"summary": "Return the node id", "since": "3.0.0", "group": "cluster", "complexity": "O(1)"},
)
def cluster_myid_command(c, argv):
    _dispatch(c, argv, 'cluster_myid')


@command(
    "cluster|nodes", 2, "stale",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get Cluster config for the node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(N) where N is the total number of Cluster nodes",
    },
)
def cluster_nodes_command(c, argv):
    _dispatch(c, argv, 'cluster_nodes')


@command(
    "cluster|replicas", 3, "admin stale",
    tips=("nondeterministic_output",),
    docs={
        "summary": "List replica nodes of the specified master node",
        "since": "5.0.0",
        "group": "cluster",
        "complexity": "O(1)",
        "arguments": [{"name": "node-id", "type": "string"}],
    },
)
def cluster_replicas_command(c, argv):
    _dispatch(c, argv, 'cluster_replicas')


@command(
    "cluster|replicate", 3, "admin stale no_async_loading",
    docs={
        "summary": "Reconfigure a node as a replica of the specified master node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
        "arguments": [{"name": "node-id", "type": "string"}],
    },
)
def cluster_replicate_command(c, argv):
    _dispatch(c, argv, 'cluster_replicate')


@command(
    "cluster|reset", -2, "admin noscript stale",
    docs={
        "summary": "Reset a Redis Cluster node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": (
            "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect."
        ),
        "arguments": [
            {
                "name": "hard_soft",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "hard", "type": "pure-token", "token": "HARD"},
                    {"name": "soft", "type": "pure-token", "token": "SOFT"},
                ],
            },
        ],
    },
)
def cluster_reset_command(c, argv):
    _dispatch(c, argv, 'cluster_reset')


@command(
    "cluster|saveconfig", 2, "admin stale no_async_loading",
    docs={
        "summary": "Forces the node to save cluster state on disk",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
    },
)
def cluster_saveconfig_command(c, argv):
    _dispatch(c, argv, 'cluster_saveconfig')


@command(
    "cluster|set-config-epoch", 3, "admin stale no_async_loading",
    docs={
        "summary": "Set the configuration epoch in a new node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
        "arguments": [{"name": "config-epoch", "type": "integer"}],
    },
)
def cluster_set_config_epoch_command(c, argv):
    _dispatch(c, argv, 'cluster_set_config_epoch')


@command(
    "cluster|setslot", -4, "admin stale no_async_loading",
    docs={
        "summary": "Bind a hash slot to a specific node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
        "arguments": [
            {"name": "slot", "type": "integer"},
            {
                "name": "subcommand",
                "type": "oneof",
                "arguments": [
                    {"name": "node-id", "type": "string", "token": "IMPORTING"},
                    {"name": "node-id", "type": "string", "token": "MIGRATING"},
                    {"name": "node-id", "type": "string", "token": "NODE"},
                    {"name": "stable", "type": "pure-token", "token": "STABLE"},
                ],
            },
        ],
    },
)
def cluster_setslot_command(c, argv):
    _dispatch(c, argv, 'cluster_setslot')


@command(
    "cluster|shards", 2, "stale",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get array of cluster slots to node mappings",
        "since": "7.0.0",
        "group": "cluster",
        "complexity": "O(N) where N is the total number of cluster nodes",
    },
)
def cluster_shards_command(c, argv):
    _dispatch(c, argv, 'cluster_shards')


@command(
    "cluster|slaves", 3, "admin stale",
    tips=("nondeterministic_output",),
    docs={
        "summary": "List replica nodes of the specified master node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
        "doc_flags": ["deprecated"],
        "deprecated_since": "5.0.0",
        "replaced_by": "`CLUSTER REPLICAS`",
        "arguments": [{"name": "node-id", "type": "string"}],
    },
)
def cluster_slaves_command(c, argv):
    _dispatch(c, argv, 'cluster_slaves')


@command(
    "cluster|slots", 2, "stale",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get array of Cluster slot to node mappings",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(N) where N is the total number of Cluster nodes",
        "doc_flags": ["deprecated"],
        "deprecated_since": "7.0.0",
        "replaced_by": "`CLUSTER SHARDS`",
        "history": [["4.0.0", "Added node IDs."], ["7.0.0", "Added additional networking metadata field."]],
    },
)
def cluster_slots_command(c, argv):
    _dispatch(c, argv, 'cluster_slots')


@command(
    "asking", 1, "fast", acl="connection",
    docs={
        "summary": "Sent by cluster clients after an -ASK redirect",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
    },
)
def asking_command(c, argv):
    _dispatch(c, argv, 'asking')


@command(
    "readonly", 1, "loading stale fast", acl="connection",
    docs={
        "summary": "Enables read queries for a connection to a cluster replica node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
    },
)
def readonly_command(c, argv):
    _dispatch(c, argv, 'readonly')


@command(
    "readwrite", 1, "loading stale fast", acl="connection",
    docs={
        "summary": "Disables read queries for a connection to a cluster replica node",
        "since": "3.0.0",
        "group": "cluster",
        "complexity": "O(1)",
    },
)
def readwrite_command(c, argv):
    _dispatch(c, argv, 'readwrite')

