"""Fixtures for the security tests: test certificates made with the openssl CLI, TLS servers on free ports."""
import os
import ssl
import subprocess
import tempfile

import pytest

from tests.support.servers import CACHEMERE, ServerProcess, free_port


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(directory):
    """A CA, a server certificate for localhost/127.0.0.1, a client certificate from the same CA, and a client
    certificate from another (untrusted) CA.  Returns a dict of paths."""
    ext = os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for ca in ("ca", "rogue-ca"):
        _openssl("req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", f"{ca}.key", "-out",
                 f"{ca}.crt", "-days", "2", "-subj", f"/CN=Cachemere test {ca}", cwd=directory)
    for name, ca, extra in (("server", "ca", ["-extfile", ext]), ("client", "ca", []), ("rogue", "rogue-ca", [])):
        _openssl("req", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={'localhost' if name == 'server' else name}", cwd=directory)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", *extra, cwd=directory)
    # an encrypted copy of the server key for tls-key-file-pass
    _openssl("pkey", "-in", "server.key", "-out", "server-enc.key", "-aes256", "-passout", "pass:s3cret", cwd=directory)
    names = ("ca.crt", "server.crt", "server.key", "server-enc.key", "client.crt", "client.key", "rogue.crt",
             "rogue.key")
    return {n.replace(".", "_").replace("-", "_"): os.path.join(directory, n) for n in names} | {"dir": directory}


@pytest.fixture(scope="session")
def certs():
    return make_certs(tempfile.mkdtemp(prefix="cachemere-certs-"))


def tls_args(certs, *extra):
    return ["--tls-cert-file", certs["server_crt"], "--tls-key-file", certs["server_key"],
            "--tls-ca-cert-file", certs["ca_crt"], *extra]


def start_tls_cachemere(certs, *args, plain=False, memcached=False, workdir=None):
    """cachemere-server with a TLS port (and, with plain=True, a plaintext one too); .port is the TLS port,
    .plain_port the plaintext one (0 when off), .mc_port the memcached port."""
    workdir = workdir or tempfile.mkdtemp(prefix="cachemere-tls-")
    tls_port = free_port()
    plain_port = free_port() if plain else 0
    mc_port = free_port() if memcached else 0
    argv = [CACHEMERE, "--port", str(plain_port), "--tls-port", str(tls_port), "--bind", "127.0.0.1",
            "--memcached-port", str(mc_port), "--save", "", "--appendonly", "no", "--dir", workdir,
            *tls_args(certs), *[str(a) for a in args]]
    extra = tuple(p for p in (plain_port, mc_port) if p)
    srv = ServerProcess(argv, tls_port, workdir, os.path.join(workdir, "server.log"), extra_ports=extra)
    srv.plain_port, srv.mc_port = plain_port, mc_port
    return srv


def client_ssl_context(certs, cert=True, rogue=False, version=None):
    ctx = ssl.create_default_context(cafile=certs["ca_crt"])
    if cert:
        name = "rogue" if rogue else "client"
        ctx.load_cert_chain(certs[f"{name}_crt"], certs[f"{name}_key"])
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


@pytest.fixture(scope="module")
def tls_server(certs):
    srv = start_tls_cachemere(certs, plain=True)
    yield srv
    srv.stop()
