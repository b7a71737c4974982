"""pymemcache's HashClient over three Cachemere nodes: the client picks the node (rendezvous hashing), every
key is on exactly the node the hash names (seen through the RESP port of that node, the same keyspace), and
after a node is lost only that node's keys move: the others stay where they are and keep their values.
"""
import pytest
import redis
from pymemcache.client.hash import HashClient
from pymemcache.client.rendezvous import RendezvousHash

from tests.scaleout.support import start_cachemere_nodes, stop_all


@pytest.fixture
def nodes():
    nodes = start_cachemere_nodes(3)
    yield nodes
    stop_all(nodes)


def owner(nodes, key, alive=None):
    """The node rendezvous hashing gives key among the alive nodes (pymemcache names nodes "host:port")."""
    alive = nodes if alive is None else alive
    h = RendezvousHash([f"127.0.0.1:{n.mc_port}" for n in alive])
    name = h.get_node(key)
    return next(n for n in alive if f"127.0.0.1:{n.mc_port}" == name)


def test_hashclient_places_keys_by_rendezvous_and_survives_a_node_loss(nodes):
    # retry_attempts=0: the first failure marks a node dead and takes it out of the hash (for dead_timeout s)
    client = HashClient([("127.0.0.1", n.mc_port) for n in nodes], connect_timeout=2, timeout=2,
                        retry_attempts=0, dead_timeout=300, ignore_exc=True)
    keys = [f"session:{i}" for i in range(300)]
    for k in keys:
        assert client.set(k, k.encode(), noreply=False)
    direct = [redis.Redis(port=n.port) for n in nodes]
    counts = [r.dbsize() for r in direct]
    assert sum(counts) == 300 and min(counts) >= 50, counts
    for k in keys:
        assert redis.Redis(port=owner(nodes, k).port).get(k) == k.encode()

    lost, survivors = nodes[1], [nodes[0], nodes[2]]
    on_lost = [k for k in keys if owner(nodes, k) is lost]
    kept = [k for k in keys if owner(nodes, k) is not lost]
    lost.kill9()
    # the first request that reaches the dead node fails (a miss with ignore_exc) and marks it dead
    assert client.get(on_lost[0]) is None
    # keys of the survivors did not move and are all still there
    assert all(client.get(k) == k.encode() for k in kept)
    # the lost node's keys now hash to a survivor: misses until they are written again, then stored there
    assert all(client.get(k) is None for k in on_lost)
    for k in on_lost:
        assert client.set(k, b"again", noreply=False)
        home = owner(nodes, k, alive=survivors)
        assert redis.Redis(port=home.port).get(k) == b"again"
    assert sum(r.dbsize() for r in (direct[0], direct[2])) == 300
    client.close()
