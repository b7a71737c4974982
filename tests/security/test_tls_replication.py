"""tls-replication yes: a replica reaches its primary's TLS port over TLS (client certificate from the same
CA), and the data arrives; without tls-replication the same replica cannot sync with a TLS-only primary."""
import time

import redis

from tests.security.conftest import start_tls_cachemere, tls_args
from tests.support.servers import start_cachemere, wait_for


def test_replica_syncs_over_tls(certs):
    primary = start_tls_cachemere(certs)                       # TLS port only, client certificates required
    replica = start_cachemere(*tls_args(certs, "--tls-replication", "yes", "--tls-client-cert-file",
                                        certs["client_crt"], "--tls-client-key-file", certs["client_key"],
                                        "--replicaof", "127.0.0.1", primary.port))
    try:
        p = redis.Redis(port=primary.port, ssl=True, ssl_ca_certs=certs["ca_crt"], ssl_certfile=certs["client_crt"],
                        ssl_keyfile=certs["client_key"], ssl_check_hostname=False)
        p.set("over-tls", "yes")
        r = redis.Redis(port=replica.port)
        wait_for(lambda: r.info("replication").get("master_link_status") == "up", timeout=15)
        wait_for(lambda: r.get("over-tls") == b"yes", timeout=10)
        assert p.info("replication")["connected_slaves"] == 1
    finally:
        replica.stop()
        primary.stop()


def test_plaintext_replica_cannot_sync_with_a_tls_primary(certs):
    primary = start_tls_cachemere(certs)
    replica = start_cachemere("--replicaof", "127.0.0.1", primary.port, "--repl-timeout", "2")
    try:
        r = redis.Redis(port=replica.port)
        wait_for(lambda: "MASTER <-> REPLICA sync started" in replica.log(), timeout=10)
        time.sleep(2)
        assert r.info("replication")["master_link_status"] == "down"
    finally:
        replica.stop()
        primary.stop()
