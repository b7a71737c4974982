"""CONFIG SET port / bind / tls-port against redis-server 7.0.15 (issue 17): a port or address that cannot be
bound refuses the CONFIG SET with redis's text, the value is rolled back (also the other parameters of a
multi-parameter CONFIG SET) and the old listener keeps serving; a good change moves the listener (new port
serves, old port refuses) while open connections stay."""
import socket
import ssl

from tests.security.conftest import make_certs, tls_args      # certificates made with the openssl CLI
from tests.support.servers import RawConnection, encode, free_port, start_cachemere, start_redis


def _busy_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, s.getsockname()[1]


def _pings(port):
    try:
        c = RawConnection(port, timeout=2)
    except OSError:
        return False
    try:
        return c.command("PING") == b"+PONG\r\n"
    finally:
        c.close()


def _run(srv, busy, new_port):
    c = RawConnection(srv.port)
    out = []
    try:
        for cmd in [("CONFIG", "SET", "port", str(busy)), ("CONFIG", "GET", "port"), ("PING",),
                    ("CONFIG", "SET", "maxmemory", "10mb", "port", str(busy), "maxmemory-policy", "allkeys-lru"),
                    ("CONFIG", "GET", "maxmemory"), ("CONFIG", "GET", "maxmemory-policy"),
                    ("CONFIG", "SET", "bind", "127.0.0.1 10.255.255.1"), ("CONFIG", "GET", "bind"),
                    ("CONFIG", "SET", "bind", "-10.255.255.1 127.0.0.1"), ("CONFIG", "GET", "bind"),
                    ("CONFIG", "SET", "bind", "127.0.0.1")]:
            out.append(c.command(*cmd).replace(str(srv.port).encode(), b"PORT"))
        out.append(_pings(srv.port))          # the old listener still serves after every refusal
        out.append(c.command("CONFIG", "SET", "port", str(new_port)))
        out.append(c.command("PING"))         # the open connection stays
        out.append((_pings(new_port), _pings(srv.port)))
    finally:
        c.close()
    return out


def test_port_and_bind_rollback_match_redis():
    blocker, busy = _busy_port()
    outs = []
    try:
        for start in (start_cachemere, start_redis):
            srv = start()
            try:
                outs.append(_run(srv, busy, free_port()))
            finally:
                srv.stop()
    finally:
        blocker.close()
    assert outs[0] == outs[1]
    assert b"Unable to listen on this port. Check server logs." in outs[0][0]
    assert b"Failed to bind to specified addresses." in outs[0][6]
    assert outs[0][-1] == (True, False)


def _tls_pings(port, certs):
    ctx = ssl.create_default_context(cafile=certs["ca_crt"])
    ctx.load_cert_chain(certs["client_crt"], certs["client_key"])      # tls-auth-clients yes
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(encode("PING"))
                return s.recv(100) == b"+PONG\r\n"
    except OSError:
        return False


def test_tls_port_rollback_matches_redis(tmp_path):
    certs = make_certs(str(tmp_path))
    blocker, busy = _busy_port()
    outs = []
    try:
        for start in (start_cachemere, start_redis):
            srv = start(*tls_args(certs))
            try:
                c = RawConnection(srv.port)
                tls_port = free_port()
                out = []
                for cmd in [("CONFIG", "SET", "tls-port", str(tls_port)), ("CONFIG", "SET", "tls-port", str(busy)),
                            ("CONFIG", "GET", "tls-port")]:
                    out.append(c.command(*cmd).replace(str(tls_port).encode(), b"TLSPORT"))
                out.append(_tls_pings(tls_port, certs))
                c.close()
                outs.append(out)
            finally:
                srv.stop()
    finally:
        blocker.close()
    assert outs[0] == outs[1]
    assert b"Unable to listen on this port" in outs[0][1] and outs[0][-1] is True
