"""Protected defaults as redis 7.0: protected mode (-DENIED for non-loopback clients without a password),
enable-debug-command / enable-module-command / enable-protected-configs (the "CONFIG SET dir + dbfilename
to write a cron file" attack fails by default), and rename-command in the conf, each against redis-server.

The non-loopback cases need an address of this machine that is not loopback: it is found with a UDP
socket "connected" to a TEST-NET address (no packet is sent); without one they are skipped and the
decision function is tested directly.
"""
import os
import socket
import tempfile

import pytest

from server.security import is_local_peer, protected_mode_denies
from tests.security.conftest import raw
from tests.support.servers import RawConnection, start_cachemere, start_redis


def external_address():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    if addr.startswith("127."):
        return None
    try:
        probe = socket.socket()
        probe.bind((addr, 0))
        probe.close()
    except OSError:
        return None
    return addr


EXT = external_address()
needs_ext = pytest.mark.skipif(EXT is None, reason="no non-loopback address on this machine")


class Conn(RawConnection):
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.timeout = 5
        self.buf = b""


def start_both(*args):
    ours = start_cachemere(*args)
    try:
        theirs = start_redis(*args)
    except Exception:
        ours.stop()
        raise
    return ours, theirs


def same_on_both(pair, *args, host="127.0.0.1"):
    out = []
    for srv in pair:
        c = Conn(host, srv.port)
        try:
            out.append(c.command(*args))
        finally:
            c.close()
    assert out[0] == out[1], (args, out)
    return out[0]


# -------------------------------------------------------------------------------------------------- protected mode
def test_protected_mode_decision():
    class Cfg(dict):
        pass

    class FakeAcl:
        class default:
            nopass = True

    class FakeServer:
        config = Cfg({"protected-mode": True})
        extensions = {"acl": FakeAcl}

    assert is_local_peer("127.0.0.1:5000") and is_local_peer("::1:5000") and is_local_peer("")
    assert not is_local_peer("192.0.2.7:5000") and not is_local_peer("fd00::2:5000")
    assert protected_mode_denies(FakeServer, "192.0.2.7:1")
    assert not protected_mode_denies(FakeServer, "127.0.0.1:1")
    FakeAcl.default.nopass = False
    assert not protected_mode_denies(FakeServer, "192.0.2.7:1")
    FakeAcl.default.nopass = True
    FakeServer.config["protected-mode"] = False
    assert not protected_mode_denies(FakeServer, "192.0.2.7:1")


@needs_ext
def test_protected_mode_denies_external_clients_like_redis():
    pair = start_both("--bind", "0.0.0.0", "--protected-mode", "yes")
    try:
        replies = []
        for srv in pair:
            c = Conn(EXT, srv.port)                # redis answers at accept time, before any command
            replies.append(c.read_until_quiet(0.3))
            assert c.is_closed()
            c.close()
        assert replies[0] == replies[1]
        assert replies[0].startswith(b"-DENIED Redis is running in protected mode")
        same_on_both(pair, "PING")                                   # loopback is served
        same_on_both(pair, "CONFIG", "SET", "requirepass", "pw")     # a password: external clients get in
        for srv in pair:
            c = Conn(EXT, srv.port)
            assert c.command("PING") == b"-NOAUTH Authentication required.\r\n"
            assert c.command("AUTH", "pw") == b"+OK\r\n"
            assert c.command("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
            c.close()
        same_on_both(pair, "CONFIG", "SET", "protected-mode", "no")
        for srv in pair:
            c = Conn(EXT, srv.port)
            assert c.command("PING") == b"+PONG\r\n"
            c.close()
    finally:
        for srv in pair:
            srv.stop()


# -------------------------------------------------------------------------------------------------- protected configs
def test_cron_file_attack_fails_by_default(tmp_path):
    pair = start_both()
    try:
        for args in [("CONFIG", "SET", "dir", str(tmp_path)), ("CONFIG", "SET", "dbfilename", "root"),
                     ("CONFIG", "SET", "dir", "/tmp", "dbfilename", "x"), ("CONFIG", "SET", "maxmemory", "0"),
                     ("CONFIG", "SET", "appendfilename", "x"), ("CONFIG", "SET", "logfile", "x"),
                     ("CONFIG", "SET", "enable-protected-configs", "yes"), ("CONFIG", "SET", "aclfile", "x"),
                     ("CONFIG", "GET", "dbfilename"),
                     ("DEBUG", "SLEEP", "0"), ("DEBUG", "HELP"), ("MODULE", "LOAD", "/tmp/x.so"),
                     ("MODULE", "LOADEX", "/tmp/x.so"), ("MODULE", "UNLOAD", "x"), ("MODULE", "LIST"),
                     ("MODULE", "HELP")]:
            same_on_both(pair, *args)
        assert not os.listdir(tmp_path)
    finally:
        for srv in pair:
            srv.stop()


def test_protected_configs_yes_allows(tmp_path):
    pair = start_both("--enable-protected-configs", "yes", "--enable-debug-command", "yes",
                      "--enable-module-command", "yes")
    try:
        same_on_both(pair, "CONFIG", "SET", "dbfilename", "other.rdb")
        for srv in pair:
            d = tmp_path / str(srv.port)
            d.mkdir()
            assert raw(srv.port, "CONFIG", "SET", "dir", str(d)) == "OK"
        same_on_both(pair, "DEBUG", "SLEEP", "0")
        same_on_both(pair, "MODULE", "UNLOAD", "nosuchmodule")
    finally:
        for srv in pair:
            srv.stop()


@needs_ext
def test_local_setting_allows_loopback_only():
    pair = start_both("--bind", "127.0.0.1", EXT, "--protected-mode", "no", "--enable-protected-configs", "local",
                      "--enable-debug-command", "local", "--enable-module-command", "local")
    try:
        same_on_both(pair, "CONFIG", "SET", "dbfilename", "local.rdb")
        same_on_both(pair, "DEBUG", "SLEEP", "0")
        same_on_both(pair, "CONFIG", "SET", "dbfilename", "remote.rdb", host=EXT)
        same_on_both(pair, "DEBUG", "SLEEP", "0", host=EXT)
        same_on_both(pair, "MODULE", "LOAD", "/tmp/x.so", host=EXT)
        same_on_both(pair, "CONFIG", "GET", "dbfilename")
    finally:
        for srv in pair:
            srv.stop()


# -------------------------------------------------------------------------------------------------- rename-command
def _conf_pair(text):
    pair = []
    for start in (start_cachemere, start_redis):
        d = tempfile.mkdtemp(prefix="cm-rename-")
        path = os.path.join(d, "s.conf")
        with open(path, "w") as f:
            f.write(text)
        if start is start_redis:
            pair.append(start("--include", path, workdir=d))
        else:
            pair.append(start(config_file=path, workdir=d))
    return pair


def test_rename_command_dispatch_command_output_and_acl():
    plain = start_both()
    try:
        counts = [raw(s.port, "COMMAND", "COUNT") for s in plain]
    finally:
        for s in plain:
            s.stop()
    pair = _conf_pair('rename-command get myget\nrename-command flushall ""\nrename-command config cfg\n')
    try:
        for args in [("GET", "x"), ("SET", "x", "1"), ("MYGET", "x"), ("myget", "x"), ("FLUSHALL",),
                     ("CONFIG", "GET", "port"), ("CFG", "GET", "maxmemory"), ("COMMAND", "INFO", "get", "myget"),
                     ("COMMAND", "INFO", "flushall"), ("COMMAND", "DOCS", "myget"), ("COMMAND", "DOCS", "get"),
                     ("COMMAND", "GETKEYS", "myget", "k"), ("COMMAND", "GETKEYS", "get", "k"),
                     ("ACL", "SETUSER", "rn", "+myget"), ("ACL", "SETUSER", "rn", "on", "nopass", "~*", "+get", "+flushall"),
                     ("ACL", "DRYRUN", "rn", "get", "x"), ("ACL", "DRYRUN", "rn", "myget", "x"),
                     ("ACL", "DRYRUN", "rn", "flushall")]:
            same_on_both(pair, *args)
        after = [raw(s.port, "COMMAND", "COUNT") for s in pair]
        assert [a - b for a, b in zip(after, counts)] == [-1, -1]
        names = [set(raw(s.port, "COMMAND", "LIST")) for s in pair]
        for n in names:
            assert "get" in n and "myget" not in n and "flushall" not in n and "config" in n
        cat = [set(raw(s.port, "ACL", "CAT", "dangerous")) for s in pair]
        assert all("flushall" in c for c in cat)                  # ACL works on the original names
    finally:
        for s in pair:
            s.stop()


def test_rename_to_unknown_or_existing_command_stops_startup():
    for text in ("rename-command nosuch x\n", "rename-command get set\n"):
        d = tempfile.mkdtemp(prefix="cm-rename-bad-")
        path = os.path.join(d, "s.conf")
        with open(path, "w") as f:
            f.write(text)
        with pytest.raises(Exception):
            start_cachemere(config_file=path, workdir=d).stop()
