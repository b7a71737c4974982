"""Fixtures for the security tests: test certificates made with the openssl CLI and TLS servers on free
ports; a Cachemere and a redis-server 7.0.15 of the module's own (ACL state is per server), and raw
connections that compare replies byte for byte."""
import os
import ssl
import subprocess
import tempfile

import pytest

from tests.support.servers import CACHEMERE, RawConnection, ServerProcess, free_port, start_cachemere, start_redis


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
            "--repl-diskless-sync-delay", "0", *tls_args(certs), *[str(a) for a in args]]
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


# commands redis 7.0.15 has and Cachemere does not (cluster, replication internals...): they can appear
# in redis's "-cmd" rule lists only
MISSING = None


@pytest.fixture(scope="module")
def pair():
    ours = start_cachemere()
    try:
        theirs = start_redis()
    except Exception:
        ours.stop()
        raise
    yield ours, theirs
    theirs.stop()
    ours.stop()


class Both:
    """Send the same command to both servers on raw connections; `same()` asserts identical bytes."""

    def __init__(self, ours, theirs):
        self.ports = (ours.port, theirs.port)
        self.a = RawConnection(ours.port)
        self.b = RawConnection(theirs.port)

    def cmd(self, *args):
        return self.a.command(*args), self.b.command(*args)

    def same(self, *args):
        a, b = self.cmd(*args)
        assert a == b, (args, a, b)
        return a

    def close(self):
        self.a.close()
        self.b.close()


@pytest.fixture
def both(pair):
    b = Both(*pair)
    yield b
    b.close()


def cli(port, *args, user=None, password=None):
    argv = ["redis-cli", "-p", str(port)]
    if user:
        argv += ["--user", user]
    if password:
        argv += ["--pass", password, "--no-auth-warning"]
    out = subprocess.run(argv + list(args), capture_output=True, timeout=10)
    return out.stdout.decode()


def parse_resp(data: bytes):
    """A RESP2/RESP3 reply as Python values (bulk/simple -> str, errors -> Exception instance)."""
    def parse(pos):
        kind = data[pos:pos + 1]
        nl = data.index(b"\r\n", pos)
        head = data[pos + 1:nl]
        pos = nl + 2
        if kind in (b"+", b"("):
            return head.decode(), pos
        if kind == b"-":
            return Exception(head.decode()), pos
        if kind == b":":
            return int(head), pos
        if kind == b",":
            return float(head), pos
        if kind == b"_":
            return None, pos
        if kind == b"#":
            return head == b"t", pos
        if kind in (b"$", b"=", b"!"):
            n = int(head)
            if n < 0:
                return None, pos
            return data[pos:pos + n].decode("latin-1"), pos + n + 2
        if kind in (b"*", b"~", b">", b"%"):
            n = int(head)
            if n < 0:
                return None, pos
            if kind == b"%":
                n *= 2
            out = []
            for _ in range(n):
                v, pos = parse(pos)
                out.append(v)
            return out, pos
        raise ValueError(data[pos - 10:pos + 10])
    return parse(0)[0]


def raw(port, *args):
    c = RawConnection(port)
    try:
        return parse_resp(c.command(*args))
    finally:
        c.close()
