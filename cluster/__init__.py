"""Redis Cluster (cluster-enabled yes), a peer of replication/: the Redis 7.0 cluster bus so that Cachemere
and redis-server nodes form one cluster, nodes.conf, the CLUSTER commands and the redirections.

- proto.py: the clusterMsg wire format (packed header "RCmb", gossip, FAIL, PUBLISH, UPDATE, extensions)
- bus.py: links on the cluster port (port+10000 or cluster-port), inbound and outbound
- state.py: nodes, slots, epochs, failure detection (PFAIL -> FAIL), elections, manual failover, nodes.conf
- routing.py: the dispatcher gate (MOVED/ASK/TRYAGAIN/CROSSSLOT/CLUSTERDOWN as redis getNodeByQuery)
- node_commands.py: CLUSTER ..., ASKING, READONLY, READWRITE handlers; commands.py: their declarations
- slotkeys.py: key -> slot and the keys of a slot (engine/slots when present)

``install(server)`` (server/main.py, after replication) registers ``server.extensions["cluster"]`` when
cluster-enabled is yes; otherwise the commands answer "This instance has cluster support disabled".
"""
from cluster import commands  # noqa: F401  (registers CLUSTER, ASKING, READONLY, READWRITE)


def install(server):
    if not server.config["cluster-enabled"]:
        return None
    from cluster.state import ClusterState
    from cluster import routing, slotkeys
    cl = ClusterState(server)
    cl.init()
    slotkeys.enable_index(server.ks)
    server.extensions["cluster"] = cl
    from server import info
    server_provider = server.info_sections.get("server") or info.SECTIONS["server"]

    def section_server(srv):
        return [(k, "cluster" if k == "redis_mode" else v) for k, v in server_provider(srv)]
    server.info_sections["server"] = section_server
    clients_provider = server.info_sections.get("clients") or info.SECTIONS["clients"]

    def section_clients(srv):             # redis getClusterConnectionsCount: two links per known node
        n = (len(cl.nodes) - 1) * 2
        return [(k, n if k == "cluster_connections" else v) for k, v in clients_provider(srv)]
    server.info_sections["clients"] = section_clients
    server.info_sections["cluster"] = lambda srv: [("cluster_enabled", 1)]
    routing.install_gate(cl, server.dispatcher)
    cl.bind()
    return cl
