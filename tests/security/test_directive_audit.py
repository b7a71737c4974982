"""Every accepted directive is implemented, refused at start when its value cannot be honoured, or a
documented harmless no-op (server/directive_audit.py).  A new directive that is in none of the lists fails
here, so nothing is accepted and silently ignored again (as --tls-port 6380 was)."""
import os
import subprocess

import pytest
import redis

from server.config import DIRECTIVES, Config
from server.directive_audit import HANDLED_EXTRA, IMPLEMENTED, NOOP, REFUSED
from tests.support.servers import CACHEMERE, ROOT, free_port, start_cachemere


def test_every_directive_is_in_exactly_one_list():
    names = {d.name for d in DIRECTIVES}
    lists = [set(IMPLEMENTED), set(REFUSED), set(NOOP)]
    unclassified = names - set().union(*lists)
    assert not unclassified, f"accepted but in no audit list: {sorted(unclassified)}"
    for i, a in enumerate(lists):
        for b in lists[i + 1:]:
            assert not a & b, f"in two lists: {sorted(a & b)}"
    assert set().union(*lists) <= names, "audit lists name directives the config does not accept"
    for name, reason in NOOP.items():
        assert reason.strip(), name
    for name, (accepted, reason) in REFUSED.items():
        d = next(d for d in DIRECTIVES if d.name == name)
        assert accepted(d.default, Config()), f"{name}: its default must be accepted"


def test_shipped_conf_only_uses_known_directives_and_starts():
    path = os.path.join(ROOT, "conf", "cachemere.conf")
    cfg = Config.from_argv([path])
    assert not cfg.extra
    srv = start_cachemere(config_file=path)
    try:
        assert redis.Redis(port=srv.port).ping()
    finally:
        srv.stop()


def _start(*args, timeout=20):
    argv = [CACHEMERE, "--port", str(free_port()), "--bind", "127.0.0.1", "--memcached-port", "0", "--save", "",
            *[str(a) for a in args]]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "still running"
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("args,needle", [
    (["--tls-port", "6380"], "No tls-cert-file configured!"),            # the case: no longer ignored
    (["--bind-source-addr", "127.0.0.1"], "'bind-source-addr 127.0.0.1'"),
    (["--cluster-enabled", "yes", "--tls-cluster", "yes"], "'tls-cluster yes'"),
    (["--unixsocket", "/tmp/cachemere-audit.sock"], "'unixsocket /tmp/cachemere-audit.sock'"),
    (["--syslog-enabled", "yes"], "'syslog-enabled yes'"),
    (["--supervised", "upstart"], "'supervised upstart'"),
    (["--maxmemory-clients", "10%"], "'maxmemory-clients 10%'"),
    (["--aof-timestamp-enabled", "yes"], "'aof-timestamp-enabled yes'"),
    (["--memcached-sasl", "yes"], "memcached-sasl yes needs a password database"),
    (["--memcached-sasl", "yes", "--memcached-protocol", "ascii", "--memcached-sasl-pwdb", "/dev/null"],
     "You cannot allow the ASCII protocol while using SASL"),
    (["--loadmodule", "/tmp/x.so"], "'loadmodule' is not supported"),
])
def test_refused_at_start(args, needle):
    code, out = _start(*args)
    assert code == 1, out
    assert needle in out, out


def test_extra_lines_refused_unless_handled():
    assert {"user", "rename-command"} <= HANDLED_EXTRA          # read by server/security.py
    code, out = _start("--loadmodule", "/tmp/nothing.so")
    assert code == 1 and "'loadmodule' is not supported" in out


def test_refused_directive_keeps_nothing_listening():
    port = free_port()
    code, _ = _start("--tls-port", str(port))
    import socket
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_protected_mode_with_password_or_off_starts(fresh_cachemere):
    srv = fresh_cachemere("--bind", "127.0.0.1", "--protected-mode", "no", "--tcp-keepalive", "60",
                          "--shutdown-on-sigterm", "nosave")
    assert redis.Redis(port=srv.port).ping()


def test_memcached_bind_and_tcp_keepalive_honoured(fresh_cachemere):
    """memcached-bind was accepted and ignored (the memcached port followed bind): now it is used."""
    mc = free_port()
    srv = fresh_cachemere("--memcached-bind", "127.0.0.2", "--memcached-port", mc)
    import socket
    import time
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.2", mc), timeout=0.5).close()
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", mc), timeout=0.5).close()
    # tcp-keepalive: the server's side of a client connection carries a keepalive timer (ss -o)
    import socket as _socket
    from tests.support.servers import wait_for
    client = _socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    client.sendall(b"PING\r\n")
    assert client.recv(100) == b"+PONG\r\n"
    local_port = client.getsockname()[1]

    def timers():
        out = subprocess.run(["ss", "-tno", "state", "established", f"( dport = :{local_port} )"],
                             capture_output=True, text=True, timeout=10).stdout
        return out if "keepalive" in out else None
    out = wait_for(timers, timeout=5, interval=0.1)
    client.close()
    assert "keepalive" in out, out


def test_shutdown_on_sigterm_nosave(tmp_path):
    srv = start_cachemere("--save", "3600", "1", "--shutdown-on-sigterm", "nosave", workdir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    r.set("k", "v")
    srv.stop()
    assert not os.path.exists(tmp_path / "dump.rdb")
    srv = start_cachemere("--save", "3600", "1", workdir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    r.set("k", "v")
    srv.stop()
    assert os.path.exists(tmp_path / "dump.rdb")


def test_oom_score_adj_absolute(fresh_cachemere):
    srv = fresh_cachemere("--oom-score-adj", "absolute", "--oom-score-adj-values", "123", "200", "800")
    with open(f"/proc/{srv.proc.pid}/oom_score_adj") as f:
        assert f.read().strip() == "123"
    redis.Redis(port=srv.port).config_set("oom-score-adj-values", "321 200 800")
    with open(f"/proc/{srv.proc.pid}/oom_score_adj") as f:
        assert f.read().strip() == "321"


def test_refused_values_fail_config_set(fresh_cachemere):
    srv = fresh_cachemere()
    r = redis.Redis(port=srv.port)
    for name, value in (("maxmemory-clients", "5%"),
                        ("aof-timestamp-enabled", "yes")):
        before = r.config_get(name)[name]
        with pytest.raises(redis.ResponseError, match=f"argument '{name}'.*not supported by Cachemere"):
            r.config_set(name, value)
        assert r.config_get(name)[name] == before
    assert r.set("still", "writable")
