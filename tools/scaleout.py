"""Three (or N) Cachemere nodes behind nutcracker on one machine, for tools/nutcracker-group and the tests.

conf/nutcracker.yml documents the layout with fixed ports (RESP 7001-7003, memcached 11301-11303, proxy
22121/22122); ``nutcracker_conf`` rewrites those ports so the same file runs anywhere (the tests use free
ports). Each node also gets ``memcached-cluster-nodes`` listing every node, so ElastiCache auto-discovery
clients find the same nodes the proxy uses.
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = os.path.join(ROOT, "conf", "nutcracker.yml")
DOC_REDIS_PORTS = (7001, 7002, 7003)
DOC_MC_PORTS = (11301, 11302, 11303)
DOC_LISTEN = (22121, 22122)


def nutcracker_conf(resp_ports, mc_ports, redis_listen, mc_listen, redis_extra=(), **overrides):
    """conf/nutcracker.yml for the given node ports (three) and listen ports, with option overrides (both
    pools) and extra option lines for the redis pool (e.g. "redis_auth: pw")."""
    with open(CONF) as f:
        text = f.read()
    mapping = {f"127.0.0.1:{DOC_LISTEN[0]}": f"127.0.0.1:{redis_listen}",
               f"127.0.0.1:{DOC_LISTEN[1]}": f"127.0.0.1:{mc_listen}"}
    mapping.update({f"127.0.0.1:{doc}:": f"127.0.0.1:{p}:" for doc, p in zip(DOC_REDIS_PORTS, resp_ports)})
    mapping.update({f"127.0.0.1:{doc}:": f"127.0.0.1:{p}:" for doc, p in zip(DOC_MC_PORTS, mc_ports)})
    for old, new in mapping.items():
        assert old in text, old
        text = text.replace(old, new)
    for key, value in overrides.items():
        text = re.sub(rf"(?m)^(\s+{key}:).*$", rf"\g<1> {value}", text)
    for line in redis_extra:
        text = text.replace("  redis: true\n", f"  redis: true\n  {line}\n", 1)
    return text


def discovery_list(mc_ports, host="127.0.0.1"):
    """The memcached-cluster-nodes value for nodes on these memcached ports."""
    return " ".join(f"node{i + 1}.local|{host}|{p}" for i, p in enumerate(mc_ports))
