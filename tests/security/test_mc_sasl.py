"""memcached authentication: the text protocol's -Y authfile (memcached-authfile), byte for byte against a real
memcached 1.6 started with -Y (binary SASL, -S, is tests/security/test_mc_binary_sasl.py)."""
import socket
import subprocess
import tempfile
import time

import pytest
from pymemcache.client.base import Client

from tests.support.servers import CACHEMERE, start_cachemere, start_memcached

AUTHFILE = b"user1:pass1\nuser2:pw2\nempty:\n"

SEQUENCES = [
    [b"get a\r\n"],
    [b"version\r\n", b"stats\r\n", b"quit\r\n", b"\r\n", b"get\r\n", b"mg a v\r\n", b"mn\r\n"],
    [b"set x 0 0 11\r\nuser1 pass1\r\n", b"set a 0 0 1\r\nx\r\n", b"get a\r\n", b"set x 0 0 11\r\nuser1 pass1\r\n"],
    [b"set x 0 0 11\r\nuser1 passX\r\n", b"get a\r\n", b"set x 0 0 9\r\nuser2 pw2\r\n", b"get a\r\n"],
    [b"set x 0 0 11 noreply\r\nuser1 pass1\r\n", b"delete a\r\n"],
    [b"set x 0 0 11 noreply\r\nuser1 passX\r\n", b"get a\r\n"],
    [b"set x 0 0 12\r\nuser1 pass1 \r\n", b"get a\r\n"],
    [b"set x 0 0 12\r\nuser1  pass1\r\n", b"get a\r\n"],
    [b"set x 0 0 17\r\nuser1 pass1 extra\r\n", b"get a\r\n"],
    [b"set x 0 0 11\r\nuser1:pass1\r\n", b"get a\r\n"],
    [b"set x 0 0 11\r\nUSER1 pass1\r\n"],
    [b"set x 0 0 5\r\nuser1\r\n", b"set x 0 0 0\r\n\r\n", b"set x 0 0 1\r\nab\r\n", b"set x 0 0 -1\r\n"],
    [b"set x 0 0 3000\r\n" + b"a" * 3000 + b"\r\n", b"get a\r\n"],
    [b"set user1 0 0\r\n", b"set user1 0 0 5x\r\n", b"add x 0 0 11\r\nuser1 pass1\r\n", b"SET x 0 0 1\r\n"],
    [b"set x 0 0 11\r\nuser1 pass1\r\nget a\r\n"],
    [b"set x 0 0 11\r\nuser1 pass1\r\n", b"quit\r\n"],
    [b"set x 0 0 7\r\nempty \r\n", b"set x 0 0 6\r\nempty\x00\r\n"],
    [b"set x 0 0 +11\r\nuser1 pass1\r\n", b"set  x  0  0  11 \r\nuser1 pass1\r\n", b"get a\r\n"],
    [b"set x 0 0 11\r\nuser1 pa", b"ss1\r\nget a\r\n"],            # split across reads
    [b"set " + b"k" * 300 + b" 0 0 11\r\nuser1 pass1\r\n", b"get a\r\n"],
    [b"x" * 2000],                                                  # no newline, under 2 KiB: waits
    [b"x" * 2100],                                                  # no newline after 2 KiB: closed
    [b"get a\r\n" * 25, b"get a\r\n" * 100],                          # one reply per 20 commands of a read
    [b"get a\r\nset x 0 0 11\r\nuser1 pass1\r\nget a\r\n"],
    [b"set x 0 0 11\r\nuser1 passX\r\nget a\r\nset x 0 0 11\r\nuser1 pass1\r\n"],
    [b"\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00a"],
]


@pytest.fixture(scope="module")
def auth_pair():
    path = tempfile.mktemp(prefix="mcauth-")
    with open(path, "wb") as f:
        f.write(AUTHFILE)
    ours = start_cachemere("--memcached-authfile", path, memcached=True)
    theirs = start_memcached("-Y", path)
    yield ours.mc_port, theirs.port
    theirs.stop()
    ours.stop()


def _run(port, seq):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(0.05)
    out = b""
    for chunk in seq:
        try:
            s.sendall(chunk)
        except OSError:
            out += b"<EPIPE>"
            break
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                out += b"<EOF>"
                s.close()
                return out
            out += data
    s.close()
    return out


@pytest.mark.parametrize("index", range(len(SEQUENCES)))
def test_same_bytes_as_memcached_Y(auth_pair, index):
    ours, theirs = auth_pair
    seq = SEQUENCES[index]
    # the keyspace state matters (get a): put both in the same state first
    for port in (ours, theirs):
        _run(port, [b"set x 0 0 11\r\nuser1 pass1\r\n", b"delete a\r\n"])
    assert _run(ours, seq) == _run(theirs, seq)


def test_pymemcache_auth_then_commands(auth_pair):
    ours, _ = auth_pair
    c = Client(("127.0.0.1", ours), timeout=5)
    assert c.set("user1", "user1 pass1", noreply=False)     # the auth shape pymemcache users send
    c.set("k", "v")
    assert c.get("k") == b"v"
    stats = c.stats("settings")
    assert stats[b"auth_enabled_ascii"] == b"yes"
    general = c.stats()
    assert general[b"auth_cmds"] >= 1


def test_unauthenticated_client_cannot_read(auth_pair):
    ours, _ = auth_pair
    c = Client(("127.0.0.1", ours), timeout=5)
    with pytest.raises(Exception, match="unauthenticated"):
        c.get("k")


def _refuses(*args):
    p = subprocess.run([CACHEMERE, "--port", "0", "--memcached-port", "0", "--save", "", *args],
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


def test_memcached_sasl_without_password_database_refused_at_start():
    # memcached-sasl itself works now (tests/security/test_mc_binary_sasl.py); it needs its users
    code, out = _refuses("--memcached-port", "22999", "--memcached-sasl", "yes")
    assert code == 1 and "memcached-sasl yes needs a password database" in out


def test_bad_authfile_refused_at_start(tmp_path):
    code, out = _refuses("--memcached-port", "22998", "--memcached-authfile", str(tmp_path / "missing"))
    assert code == 1 and "authfile" in out
