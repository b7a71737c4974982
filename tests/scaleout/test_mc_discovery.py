"""memcached auto discovery in ElastiCache's format (server/mc_discovery.py): exact bytes, runtime changes
through CONFIG SET and `config set cluster`, and real discovery clients (django-elastipymemcache's
AWSElastiCacheClient, a pymemcache HashClient fed by discovery; elasticache-auto-discovery's discover())
finding three Cachemere nodes from any one of them.
"""
import socket

import pytest
import redis

from tests.scaleout.support import start_cachemere_nodes, stop_all
from tests.support.servers import RawConnection, start_cachemere, start_memcached

NODES = "a.local|127.0.0.1|11211 b.local|127.0.0.2|11212"


def mc(conn, data):
    conn.send(data)
    return conn.read_until_quiet(settle=0.15)


@pytest.fixture
def node():
    srv = start_cachemere("--memcached-cluster-nodes", NODES, memcached=True)
    yield srv
    srv.stop()


def cluster_reply(version, nodes, flags=0):
    body = b"%d\n%s\n" % (version, nodes.encode())
    return b"CONFIG cluster %d %d\r\n%s\r\nEND\r\n" % (flags, len(body), body)


def test_config_get_cluster_exact_bytes(node):
    c = RawConnection(node.mc_port)
    expected = (b"CONFIG cluster 0 50\r\n1\na.local|127.0.0.1|11211 b.local|127.0.0.2|11212\n\r\nEND\r\n")
    assert mc(c, b"config get cluster\r\n") == expected == cluster_reply(1, NODES)
    # the pre-1.4.14 form: the same body as an item
    assert mc(c, b"get AmazonElastiCache:cluster\r\n") == (
        b"VALUE AmazonElastiCache:cluster 0 50\r\n1\na.local|127.0.0.1|11211 b.local|127.0.0.2|11212\n\r\nEND\r\n")
    assert mc(c, b"gets AmazonElastiCache:cluster\r\n").startswith(b"VALUE AmazonElastiCache:cluster 0 50 1\r\n")
    # mixed with ordinary keys in one get, in order
    assert mc(c, b"set k 0 0 1\r\nv\r\n") == b"STORED\r\n"
    reply = mc(c, b"get k AmazonElastiCache:cluster k\r\n")
    assert reply.startswith(b"VALUE k 0 1\r\nv\r\nVALUE AmazonElastiCache:cluster 0 50\r\n")
    assert reply.endswith(b"\r\nVALUE k 0 1\r\nv\r\nEND\r\n")


def test_config_set_on_resp_port_bumps_version(node):
    c = RawConnection(node.mc_port)
    r = redis.Redis(port=node.port)
    assert r.config_get("memcached-cluster-nodes") == {"memcached-cluster-nodes": NODES}
    r.config_set("memcached-cluster-nodes", "c.local|127.0.0.3|11213   d.local||11214")
    assert mc(c, b"config get cluster\r\n") == cluster_reply(2, "c.local|127.0.0.3|11213 d.local||11214")
    r.config_set("memcached-cluster-nodes", "c.local|127.0.0.3|11213")
    assert mc(c, b"config get cluster\r\n") == cluster_reply(3, "c.local|127.0.0.3|11213")
    for bad, why in [("nopipes", "is not host|ip|port"), ("a|b|c|d", "is not host|ip|port"),
                     ("h|1.2.3.4|0", "invalid port"), ("h|1.2.3.4|70000", "invalid port"), ("||11211", "neither")]:
        with pytest.raises(redis.ResponseError) as e:
            r.config_set("memcached-cluster-nodes", bad)
        assert str(e.value).startswith(
            "CONFIG SET failed (possibly related to argument 'memcached-cluster-nodes') - ") and why in str(e.value)
    # a refused value changes nothing
    assert mc(c, b"config get cluster\r\n") == cluster_reply(3, "c.local|127.0.0.3|11213")
    # emptied: the node answers as a plain memcached again
    r.config_set("memcached-cluster-nodes", "")
    assert mc(c, b"config get cluster\r\n") == b"ERROR\r\n"
    assert mc(c, b"get AmazonElastiCache:cluster\r\n") == b"END\r\n"


def test_config_set_cluster_memcached_command(node):
    c = RawConnection(node.mc_port)
    r = redis.Redis(port=node.port)
    data = b"x.local|127.0.0.9|11219"
    assert mc(c, b"config set cluster 0 %d\r\n%s\r\n" % (len(data), data)) == b"STORED\r\n"
    assert mc(c, b"config get cluster\r\n") == cluster_reply(2, data.decode())
    assert r.config_get("memcached-cluster-nodes")["memcached-cluster-nodes"] == data.decode()
    # the engine's own form with a version line: a higher version is taken as given
    data = b"10\ny.local|127.0.0.8|11218\n"
    assert mc(c, b"config set cluster 7 %d\r\n%s\r\n" % (len(data), data)) == b"STORED\r\n"
    assert mc(c, b"config get cluster\r\n") == cluster_reply(10, "y.local|127.0.0.8|11218", flags=7)
    # a lower one still moves the version forward (clients reload only on a higher version)
    data = b"3\ny.local|127.0.0.8|11218"
    assert mc(c, b"config set cluster 7 %d noreply\r\n%s\r\n" % (len(data), data)) == b""
    assert mc(c, b"config get cluster\r\n") == cluster_reply(11, "y.local|127.0.0.8|11218", flags=7)
    assert mc(c, b"config delete cluster\r\n") == b"DELETED\r\n"
    assert mc(c, b"config delete cluster\r\n") == b"NOT_FOUND\r\n"
    assert mc(c, b"config get cluster\r\n") == b"ERROR\r\n"


def test_malformed_config_commands(node):
    c = RawConnection(node.mc_port)
    cases = [
        (b"config\r\n", b"ERROR\r\n"),
        (b"config get\r\n", b"ERROR\r\n"),
        (b"config get cluster extra\r\n", b"ERROR\r\n"),
        (b"config get nosuchkey\r\n", b"ERROR\r\n"),
        (b"config frob cluster\r\n", b"ERROR\r\n"),
        (b"config set cluster 0\r\n", b"ERROR\r\n"),
        (b"config set cluster x 3\r\n", b"CLIENT_ERROR bad command line format\r\n"),
        (b"config set cluster 0 -1\r\n", b"CLIENT_ERROR bad command line format\r\n"),
        (b"config set cluster 0 5\r\nhello\r\n", b"CLIENT_ERROR bad data chunk\r\n"),
        (b"config set cluster 0 3\r\nabcde\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\n"),  # as set does
        (b"config set cluster 0 9\r\nh|i|99999\r\n", b"CLIENT_ERROR bad data chunk\r\n"),
        (b"config set other 0 9\r\nh|i|11211\r\n", b"ERROR\r\n"),
    ]
    for req, want in cases:
        assert mc(c, req) == want, req
    # nothing was half-applied, and the connection still works
    assert mc(c, b"config get cluster\r\n") == cluster_reply(1, NODES)
    assert mc(c, b"version\r\n").startswith(b"VERSION ")


def test_without_nodes_config_is_an_unknown_command_as_in_memcached():
    ours = start_cachemere(memcached=True)
    theirs = start_memcached()
    try:
        a, b = RawConnection(ours.mc_port), RawConnection(theirs.port)
        for req in (b"config get cluster\r\n", b"get AmazonElastiCache:cluster\r\n",
                    b"set AmazonElastiCache:cluster 3 0 2\r\nhi\r\n", b"get AmazonElastiCache:cluster\r\n"):
            assert mc(a, req) == mc(b, req), req       # an ordinary key then
        # `config set cluster` still configures an unconfigured node (the memcached-side way to set it up)
        assert mc(a, b"config set cluster 0 13\r\nn|127.0.0.1|1\r\n") == b"STORED\r\n"
        assert mc(a, b"config get cluster\r\n") == cluster_reply(1, "n|127.0.0.1|1")
        assert mc(a, b"get AmazonElastiCache:cluster\r\n").startswith(b"VALUE AmazonElastiCache:cluster 0 16\r\n1\n")
    finally:
        ours.stop()
        theirs.stop()


def test_config_file_directive_and_rewrite(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text('memcached-cluster-nodes "n1|127.0.0.1|1 n2|127.0.0.1|2"\n')
    srv = start_cachemere(memcached=True, config_file=str(conf))
    try:
        c = RawConnection(srv.mc_port)
        assert mc(c, b"config get cluster\r\n") == cluster_reply(1, "n1|127.0.0.1|1 n2|127.0.0.1|2")
        r = redis.Redis(port=srv.port)
        r.config_set("memcached-cluster-nodes", "n3|127.0.0.1|3")
        r.config_rewrite()
        assert 'memcached-cluster-nodes "n3|127.0.0.1|3"' in conf.read_text() or \
            "memcached-cluster-nodes n3|127.0.0.1|3" in conf.read_text()
    finally:
        srv.stop()


# ---------------------------------------------------------------------------------- real clients
@pytest.fixture(scope="module")
def cluster():
    nodes = start_cachemere_nodes(3)
    try:
        listing = " ".join(f"node{i}.local|127.0.0.1|{n.mc_port}" for i, n in enumerate(nodes))
        for n in nodes:
            redis.Redis(port=n.port).config_set("memcached-cluster-nodes", listing)
    except Exception:
        stop_all(nodes)
        raise
    yield nodes
    stop_all(nodes)


def test_elasticache_auto_discovery_client(cluster):
    ead = pytest.importorskip("elasticache_auto_discovery")
    for n in cluster:
        found = ead.discover(f"127.0.0.1:{n.mc_port}", time_to_timeout=5)
        assert found == [[f"node{i}.local".encode(), b"127.0.0.1", str(m.mc_port).encode()]
                         for i, m in enumerate(cluster)]


def test_django_elastipymemcache_client_distributes_over_discovered_nodes(cluster):
    pytest.importorskip("django")
    from django.conf import settings
    if not settings.configured:
        settings.configure()
    client_mod = pytest.importorskip("django_elastipymemcache.client")
    client = client_mod.AWSElastiCacheClient(f"127.0.0.1:{cluster[0].mc_port}", connect_timeout=5, timeout=5)
    try:
        assert set(client.clients) == {f"127.0.0.1:{n.mc_port}" for n in cluster}
        for i in range(300):
            assert client.set(f"disc:{i}", str(i).encode(), noreply=False)
        assert all(client.get(f"disc:{i}") == str(i).encode() for i in range(300))
        counts = [redis.Redis(port=n.port).dbsize() for n in cluster]
        assert sum(counts) == 300 and min(counts) >= 30, counts
    finally:
        client.close()


def test_discovery_client_follows_a_runtime_change(cluster):
    """A node leaves the listing (CONFIG SET on every node, as an operator would): the version goes up and
    a discovery client's refresh drops it."""
    pytest.importorskip("django")
    from django.conf import settings
    if not settings.configured:
        settings.configure()
    client_mod = pytest.importorskip("django_elastipymemcache.client")
    old = redis.Redis(port=cluster[0].port).config_get("memcached-cluster-nodes")["memcached-cluster-nodes"]
    raw = RawConnection(cluster[1].mc_port)
    before = mc(raw, b"config get cluster\r\n").split(b"\r\n")[1].split(b"\n")[0]
    try:
        two = " ".join(old.split()[:2])
        for n in cluster:
            redis.Redis(port=n.port).config_set("memcached-cluster-nodes", two)
        after = mc(raw, b"config get cluster\r\n").split(b"\r\n")[1].split(b"\n")[0]
        assert int(after) == int(before) + 1
        client = client_mod.AWSElastiCacheClient(f"127.0.0.1:{cluster[1].mc_port}", connect_timeout=5, timeout=5)
        try:
            assert set(client.clients) == {f"127.0.0.1:{n.mc_port}" for n in cluster[:2]}
        finally:
            client.close()
    finally:
        for n in cluster:
            redis.Redis(port=n.port).config_set("memcached-cluster-nodes", old)
