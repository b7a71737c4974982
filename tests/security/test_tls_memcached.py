"""The memcached port over TLS (memcached-tls yes, memcached 1.6 -Z): pymemcache with a TLS context, and the
same bytes as a real memcached started with -Z -o ssl_chain_cert,ssl_key for the same requests."""
import socket
import ssl
import subprocess

import pytest
from pymemcache.client.base import Client

from tests.security.conftest import client_ssl_context, start_tls_cachemere
from tests.support.servers import start_memcached, CACHEMERE, ServerProcess, free_port


@pytest.fixture(scope="module")
def mc_tls_pair(certs):
    ours = start_tls_cachemere(certs, "--memcached-tls", "yes", "--tls-auth-clients", "no", memcached=True)
    theirs = start_memcached("-Z", "-o", f"ssl_chain_cert={certs['server_crt']},ssl_key={certs['server_key']}")
    yield ours.mc_port, theirs.port
    theirs.stop()
    ours.stop()


def _exchange(port, ctx, requests):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost")
    out = []
    for req, expect_end in requests:
        s.sendall(req)
        data = b""
        while not data.endswith(expect_end):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        out.append(data)
    s.close()
    return out


def test_pymemcache_over_tls(certs, mc_tls_pair):
    ours, _ = mc_tls_pair
    ctx = client_ssl_context(certs, cert=False)
    c = Client(("127.0.0.1", ours), tls_context=ctx, connect_timeout=5, timeout=5)
    c.set("tlsk", b"v" * 100000)
    assert c.get("tlsk") == b"v" * 100000
    c.close()


def test_same_bytes_as_memcached_tls(certs, mc_tls_pair):
    ours, theirs = mc_tls_pair
    ctx = client_ssl_context(certs, cert=False)
    reqs = [(b"set tk 5 0 3\r\nabc\r\n", b"\r\n"), (b"get tk nokey\r\n", b"END\r\n"), (b"bogus\r\n", b"\r\n"),
            (b"incr tk 1\r\n", b"\r\n"), (b"delete tk\r\n", b"\r\n"), (b"mn\r\n", b"MN\r\n")]
    assert _exchange(ours, ctx, reqs) == _exchange(theirs, ctx, reqs)


def test_plaintext_on_memcached_tls_port(certs, mc_tls_pair):
    ours, _ = mc_tls_pair
    s = socket.create_connection(("127.0.0.1", ours), timeout=5)
    s.sendall(b"version\r\n")
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    assert not data.startswith(b"VERSION")
    s.close()


def test_memcached_tls_client_cert_required(certs):
    srv = start_tls_cachemere(certs, "--memcached-tls", "yes", "--memcached-ssl-verify-mode", "2",
                              "--memcached-ssl-ca-cert", certs["ca_crt"], memcached=True)
    try:
        good = Client(("127.0.0.1", srv.mc_port), tls_context=client_ssl_context(certs), timeout=5)
        assert good.version()
        bad = Client(("127.0.0.1", srv.mc_port), tls_context=client_ssl_context(certs, cert=False), timeout=5)
        with pytest.raises(Exception):
            bad.version()
    finally:
        srv.stop()
