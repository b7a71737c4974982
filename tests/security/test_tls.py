"""TLS on the RESP port: redis-cli --tls, redis-py ssl=True, client certificates required / optional / off,
plaintext clients on the TLS port, port 0 + tls-port only, INFO / CONFIG GET, CONFIG SET, startup errors
with redis's texts (compared with a real redis-server built with TLS)."""
import re
import socket
import ssl
import subprocess
import time

import pytest
import redis

from server.config import Config
from server import tls as tlsmod
from tests.security.conftest import client_ssl_context, start_tls_cachemere, tls_args
from tests.support.servers import CACHEMERE, ServerProcess, free_port, start_redis, wait_for


def rcli(certs, port, *args, cert=True, timeout=10):
    argv = ["redis-cli", "--tls", "--cacert", certs["ca_crt"], "-p", str(port)]
    if cert:
        argv += ["--cert", certs["client_crt"], "--key", certs["client_key"]]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout)


def rpy(certs, port, cert=True, **kw):
    extra = dict(ssl_certfile=certs["client_crt"], ssl_keyfile=certs["client_key"]) if cert else {}
    return redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs["ca_crt"],
                       socket_timeout=5, **extra, **kw)


def tls_connect(port, ctx, timeout=5):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def refused(port, ctx):
    """The server refuses this client's certificate: at the handshake (TLS 1.2), or by closing right after it
    (TLS 1.3 clients finish their side before the server has checked the certificate)."""
    try:
        s = tls_connect(port, ctx)
        s.sendall(b"PING\r\n")
        data = s.recv(10)
        s.close()
        return data == b""
    except (ssl.SSLError, OSError):
        return True


def test_redis_cli_tls(certs, tls_server):
    out = rcli(certs, tls_server.port, "set", "tls:k", "v1")
    assert out.stdout.strip() == "OK", out.stderr
    assert rcli(certs, tls_server.port, "get", "tls:k").stdout.strip() == "v1"
    # the same keyspace through the plaintext port
    assert redis.Redis(port=tls_server.plain_port).get("tls:k") == b"v1"


def test_redis_py_ssl_pipeline(certs, tls_server):
    r = rpy(certs, tls_server.port)
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"tls:p{i}", "x" * i)
    pipe.execute()
    assert r.mget([f"tls:p{i}" for i in (0, 10, 499)]) == [b"", b"x" * 10, b"x" * 499]
    big = b"z" * (3 << 20)              # several TLS records each way
    r.set("tls:big", big)
    assert r.get("tls:big") == big
    assert r.execute_command("HELLO", "3")[b"proto"] == 3


def test_client_cert_required_by_default(certs, tls_server):
    with pytest.raises(redis.ConnectionError):
        rpy(certs, tls_server.port, cert=False).ping()
    assert refused(tls_server.port, client_ssl_context(certs, rogue=True))
    assert refused(tls_server.port, client_ssl_context(certs, cert=False))
    assert not refused(tls_server.port, client_ssl_context(certs))
    out = rcli(certs, tls_server.port, "ping", cert=False)
    assert "PONG" not in out.stdout
    assert rpy(certs, tls_server.port).ping()


def test_client_cert_optional(certs):
    srv = start_tls_cachemere(certs, "--tls-auth-clients", "optional")
    try:
        assert rpy(certs, srv.port, cert=False).ping()
        assert rpy(certs, srv.port).ping()
        assert refused(srv.port, client_ssl_context(certs, rogue=True))        # given, so it must verify
        assert not refused(srv.port, client_ssl_context(certs, cert=False))
        assert rcli(certs, srv.port, "ping", cert=False).stdout.strip() == "PONG"
    finally:
        srv.stop()


def test_plaintext_client_on_tls_port_is_disconnected(certs, tls_server):
    good = rpy(certs, tls_server.port)
    good.set("tls:before", "1")
    for payload in (b"PING\r\n", b"*1\r\n$4\r\nPING\r\n", b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x05hello"):
        s = socket.create_connection(("127.0.0.1", tls_server.port), timeout=5)
        s.sendall(payload)
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        s.close()
        assert b"PONG" not in data and not data.startswith(b"+") and not data.startswith(b"-")
    assert good.get("tls:before") == b"1"        # the TLS client was not disturbed
    assert redis.Redis(port=tls_server.plain_port).ping()


def test_port_0_tls_only(certs):
    srv = start_tls_cachemere(certs)
    try:
        info = rpy(certs, srv.port).info("server")
        assert info["tcp_port"] == srv.port
        assert "port=0" in srv.log() and f"tls-port={srv.port}" in srv.log()
    finally:
        srv.stop()


def test_config_get_tls_matches_redis(certs, tls_server):
    ours = rpy(certs, tls_server.port).config_get("tls-*")
    ref_port = free_port()
    theirs_srv = start_redis("--tls-port", ref_port, *tls_args(certs))
    try:
        theirs = rpy(certs, ref_port).config_get("tls-*")
    finally:
        theirs_srv.stop()
    ours.pop("tls-port"), theirs.pop("tls-port")
    assert ours == theirs


def test_tls_protocols_and_ciphersuites(certs):
    srv = start_tls_cachemere(certs, "--tls-protocols", "TLSv1.3", "--tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256")
    try:
        with pytest.raises((ssl.SSLError, OSError)):
            tls_connect(srv.port, client_ssl_context(certs, version=ssl.TLSVersion.TLSv1_2))
        s = tls_connect(srv.port, client_ssl_context(certs))
        assert s.version() == "TLSv1.3"
        assert s.cipher()[0] == "TLS_CHACHA20_POLY1305_SHA256"
        s.sendall(b"PING\r\n")
        assert s.recv(100) == b"+PONG\r\n"
        s.close()
    finally:
        srv.stop()
    srv = start_tls_cachemere(certs, "--tls-protocols", "TLSv1.2", "--tls-ciphers", "ECDHE-RSA-AES128-GCM-SHA256",
                              "--tls-prefer-server-ciphers", "yes", "--tls-session-caching", "no")
    try:
        with pytest.raises((ssl.SSLError, OSError)):
            tls_connect(srv.port, client_ssl_context(certs, version=ssl.TLSVersion.TLSv1_3))
        s = tls_connect(srv.port, client_ssl_context(certs))
        assert s.version() == "TLSv1.2" and s.cipher()[0] == "ECDHE-RSA-AES128-GCM-SHA256"
        s.close()
    finally:
        srv.stop()


@pytest.mark.drill      # make drill (make test at its 12-minute budget)
def test_encrypted_key_and_ca_dir(certs, tmp_path):
    # tls-ca-cert-dir: an OpenSSL hashed directory
    cadir = tmp_path / "cadir"
    cadir.mkdir()
    h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", certs["ca_crt"]], capture_output=True,
                       text=True, check=True).stdout.strip()
    (cadir / f"{h}.0").write_bytes(open(certs["ca_crt"], "rb").read())
    port = free_port()
    argv = [CACHEMERE, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--memcached-port", "0",
            "--save", "", "--dir", str(tmp_path), "--tls-cert-file", certs["server_crt"],
            "--tls-key-file", certs["server_enc_key"], "--tls-key-file-pass", "s3cret", "--tls-ca-cert-dir", str(cadir)]
    srv = ServerProcess(argv, port, str(tmp_path), str(tmp_path / "log"))
    try:
        assert rpy(certs, port).ping()
        with pytest.raises(redis.ConnectionError):
            rpy(certs, port, cert=False).ping()
    finally:
        srv.stop()


def _startup_error(args, tmp_path, binary):
    port = free_port()
    argv = [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--dir", str(tmp_path)] + [str(a) for a in args]
    if binary == CACHEMERE:
        argv += ["--memcached-port", "0"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    lines = [re.sub(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ . ", "", ln) for ln in (p.stdout + p.stderr).splitlines()]
    return p.returncode, [ln for ln in lines if "TLS" in ln or "tls" in ln or "Failed" in ln or "certificate" in ln]


@pytest.mark.parametrize("args", [
    [],
    ["--tls-cert-file", "{server_crt}"],
    ["--tls-cert-file", "{server_crt}", "--tls-key-file", "{server_key}"],
    ["--tls-cert-file", "{dir}/nofile.crt", "--tls-key-file", "{server_key}", "--tls-ca-cert-file", "{ca_crt}"],
    ["--tls-cert-file", "{server_crt}", "--tls-key-file", "{server_key}", "--tls-ca-cert-file", "{ca_crt}",
     "--tls-protocols", "TLSv1.4"],
    ["--tls-cert-file", "{server_crt}", "--tls-key-file", "{server_key}", "--tls-ca-cert-file", "{ca_crt}",
     "--tls-ciphers", "BOGUS"],
    ["--tls-cert-file", "{server_crt}", "--tls-key-file", "{server_key}", "--tls-ca-cert-file", "{ca_crt}",
     "--tls-ciphersuites", "BOGUS"],
])
def test_startup_errors_match_redis(certs, tmp_path, args):
    args = [a.format(**certs) for a in args]
    ours = _startup_error(args, tmp_path, CACHEMERE)
    theirs = _startup_error(args, tmp_path, "redis-server")
    assert ours[0] == theirs[0] == 1
    assert ours[1] == theirs[1], (ours, theirs)


def test_config_set_tls(certs, tls_server):
    r = rpy(certs, tls_server.port)
    new_port = free_port()
    assert r.config_set("tls-port", new_port)
    wait_for(lambda: _ping_ok(certs, new_port), timeout=5)
    assert r.ping()                          # the connection made on the old port stays
    with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
        r.config_set("tls-cert-file", "/nonexistent.crt")
    assert r.config_get("tls-cert-file")["tls-cert-file"] == certs["server_crt"]
    assert r.config_set("tls-auth-clients", "no")
    assert rpy(certs, new_port, cert=False).ping()
    assert r.config_set("tls-auth-clients", "yes")
    with pytest.raises(redis.ConnectionError):
        rpy(certs, new_port, cert=False).ping()
    assert r.config_set("tls-port", tls_server.port)
    wait_for(lambda: _ping_ok(certs, tls_server.port), timeout=5)


def _ping_ok(certs, port):
    try:
        return rpy(certs, port).ping()
    except redis.ConnectionError:
        return False


def test_client_context_for_outgoing_links(certs, tls_server):
    """server/tls.client_context is what a replica's link uses: it presents the client (or server) pair and
    verifies the primary's certificate against the CA."""
    cfg = Config.from_argv(["--tls-replication", "yes", *tls_args(certs)])
    ctx = tlsmod.client_context(cfg)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_server.port), timeout=5))
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    assert s.recv(100) == b"+PONG\r\n"
    s.close()
    cfg = Config.from_argv(["--tls-client-cert-file", certs["rogue_crt"], "--tls-client-key-file", certs["rogue_key"],
                            *tls_args(certs)])
    try:
        s = tlsmod.client_context(cfg).wrap_socket(socket.create_connection(("127.0.0.1", tls_server.port), timeout=5))
        s.sendall(b"PING\r\n")
        assert s.recv(10) == b""
    except (ssl.SSLError, OSError):
        pass


def test_many_tls_clients_and_half_open_handshakes(certs, tls_server):
    # handshakes that never finish must not block the others
    stalled = [socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) for _ in range(20)]
    try:
        clients = [rpy(certs, tls_server.port) for _ in range(20)]
        for i, c in enumerate(clients):
            c.set(f"tls:m{i}", i)
        assert [int(c.get(f"tls:m{i}")) for i, c in enumerate(clients)] == list(range(20))
    finally:
        for s in stalled:
            s.close()
