"""memcached -S (binary SASL PLAIN): Cachemere with memcached-sasl yes + a password file against a real memcached
1.6.18 -S whose cyrus-sasl reads a sasldb made by saslpasswd2 (both with user alice / secret), the same request
bytes to both and the responses compared packet for packet; then real clients (python-binary-memcached,
libmemcached's tools with --binary -u/-p)."""
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

from tests.support.mcbin import BinClient, req, store, run_pair
from tests.support.servers import start_cachemere, start_memcached

HOST = socket.gethostname().encode()
PLAIN_OK = b"\0alice\0secret"


def _sasldb(workdir):
    tool = shutil.which("saslpasswd2") or "/usr/sbin/saslpasswd2"
    if not os.path.exists(tool):
        pytest.skip("saslpasswd2 (Debian sasl2-bin) is needed to give the reference memcached a sasldb")
    db = os.path.join(workdir, "sasldb2")
    subprocess.run([tool, "-p", "-a", "memcached", "-c", "-f", db, "alice"], input=b"secret", check=True,
                   timeout=20)
    with open(os.path.join(workdir, "memcached.conf"), "w") as f:
        f.write(f"mech_list: plain\nsasldb_path: {db}\n")


@pytest.fixture(scope="module")
def sasl_pair():
    workdir = tempfile.mkdtemp(prefix="mc-sasl-")
    _sasldb(workdir)
    pwdb = os.path.join(workdir, "pwdb")
    with open(pwdb, "w") as f:
        f.write("alice:secret\nbob:hunter2\n")
    old = os.environ.get("SASL_CONF_PATH")
    os.environ["SASL_CONF_PATH"] = workdir            # read by the reference memcached's cyrus-sasl
    try:
        theirs = start_memcached("-S")
    finally:
        if old is None:
            os.environ.pop("SASL_CONF_PATH", None)
        else:
            os.environ["SASL_CONF_PATH"] = old
    try:
        ours = start_cachemere("--memcached-sasl", "yes", "--memcached-sasl-pwdb", pwdb, memcached=True)
    except Exception:
        theirs.stop()
        raise
    yield ours, theirs
    ours.stop()
    theirs.stop()


SEQUENCES = {
    "list-mechs": [req("SASL_LIST")],
    "unauthenticated-get-closes": [req("GET", b"k")],
    "unauthenticated-noop-closes": [req("NOOP")],
    "unauthenticated-bad-header-is-auth-failure": [req("GET", b"k", extras=b"\0\0\0\0")],
    "version-allowed": [req("VERSION") + req("SASL_LIST") + req("STAT")],
    "auth-ok-then-use": [req("SASL_AUTH", b"PLAIN", PLAIN_OK, opaque=7) + store("SET", b"k", b"v") + req("GET", b"k")
                         + req("NOOP")],
    "auth-wrong-password": [req("SASL_AUTH", b"PLAIN", b"\0alice\0wrong") + req("SASL_AUTH", b"PLAIN", PLAIN_OK)
                            + req("NOOP")],
    "auth-unknown-user": [req("SASL_AUTH", b"PLAIN", b"\0carol\0secret") + req("GET", b"k")],
    "auth-authzid-same": [req("SASL_AUTH", b"PLAIN", b"alice\0alice\0secret") + req("NOOP")],
    "auth-authzid-other": [req("SASL_AUTH", b"PLAIN", b"root\0alice\0secret") + req("NOOP")],
    "auth-realm": [req("SASL_AUTH", b"PLAIN", b"\0alice@" + HOST + b"\0secret") + req("NOOP")],
    "auth-malformed": [req("SASL_AUTH", b"PLAIN", b"alice secret") + req("SASL_AUTH", b"PLAIN", b"\0alice")
                       + req("VERSION")],
    "auth-other-mech": [req("SASL_AUTH", b"CRAM-MD5", b"") + req("SASL_AUTH", b"NOPE", b"x") + req("VERSION")],
    "auth-continue-then-step": [req("SASL_AUTH", b"PLAIN", b""), req("SASL_STEP", b"PLAIN", PLAIN_OK) + req("NOOP")],
    "step-without-start": [req("SASL_STEP", b"PLAIN", PLAIN_OK) + req("VERSION")],
    "step-after-success": [req("SASL_AUTH", b"PLAIN", PLAIN_OK) + req("SASL_STEP", b"PLAIN", PLAIN_OK) + req("NOOP")],
    "reauth-failure-drops-auth": [req("SASL_AUTH", b"PLAIN", PLAIN_OK) + req("SASL_AUTH", b"PLAIN", b"\0a\0b")
                                  + req("GET", b"k")],
    "mech-too-long": [req("SASL_AUTH", b"P" * 33, b"xyz") + req("VERSION")],
    "sasl-bad-extras": [req("SASL_AUTH", b"PLAIN", PLAIN_OK, extras=b"\0\0\0\0")],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_same_packets_as_memcached_sasl(sasl_pair, name):
    ours, theirs = sasl_pair
    mine, ref = run_pair(ours.mc_port, theirs.port, SEQUENCES[name], flush=False)
    assert mine == ref


def test_text_client_is_read_as_binary_and_closed(sasl_pair):
    for srv, port in ((sasl_pair[0], sasl_pair[0].mc_port), (sasl_pair[1], sasl_pair[1].port)):
        c = BinClient(port)
        c.send(b"get foo\r\nget bar\r\nget baz\r\n")     # 30 bytes: a "header" without the 0x80 magic
        raw, closed = c.read_until_quiet(settle=3.0)         # returns at the close
        assert (raw, closed) == (b"", True), srv.argv[0]
        c.close()


def test_settings_and_auth_counters(sasl_pair):
    ours, theirs = sasl_pair

    def run(port):
        c = BinClient(port)
        c.call(req("SASL_AUTH", b"PLAIN", b"\0alice\0bad"))
        c.call(req("SASL_AUTH", b"PLAIN", PLAIN_OK))
        settings, _, _ = c.call(req("STAT", b"settings"))
        general, _, _ = c.call(req("STAT"))
        c.close()
        s = {p[6]: p[7] for p in settings}
        g = {p[6]: p[7] for p in general}
        return s[b"auth_enabled_sasl"], s[b"binding_protocol"], int(g[b"auth_cmds"]) >= 2, int(g[b"auth_errors"]) >= 1
    assert run(ours.mc_port) == run(theirs.port) == (b"yes", b"binary", True, True)


def test_python_binary_memcached_with_sasl(sasl_pair):
    bmemcached = pytest.importorskip("bmemcached")
    ours, theirs = sasl_pair
    for port in (ours.mc_port, theirs.port):
        c = bmemcached.Client([f"127.0.0.1:{port}"], "alice", "secret")
        assert c.set("bm-key", "value", time=100)
        assert c.get("bm-key") == "value"
        assert c.add("bm-key", "x") is False
        assert c.incr("bm-n", 1) in (None, False) or True      # miss without initial: client-specific result
        c.set("bm-n", 10)
        assert c.incr("bm-n", 5) == 15
        assert c.delete("bm-key")
        assert c.get("bm-key") is None
        c.disconnect_all()
        bad = bmemcached.Client([f"127.0.0.1:{port}"], "alice", "nope")
        with pytest.raises(Exception):
            bad.set("x", "y")
            bad.get("x")
            raise AssertionError("unreachable: the server refused the credentials")
        bad.disconnect_all()


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (libmemcached-tools) not installed")
    return path


def test_libmemcached_tools_with_sasl(sasl_pair, tmp_path):
    ours, _ = sasl_pair
    server = f"127.0.0.1:{ours.mc_port}"
    f = tmp_path / "tool-file"
    f.write_bytes(b"copied by memccp")
    auth = ["--binary", "--username=alice", "--password=secret", f"--servers={server}"]
    p = subprocess.run([_tool("memccp"), *auth, str(f)], capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([_tool("memccat"), *auth, "tool-file"], capture_output=True, timeout=20)
    assert p.returncode == 0 and p.stdout == b"copied by memccp\n", (p.stdout, p.stderr)
    p = subprocess.run([_tool("memccat"), "--binary", "--username=alice", "--password=wrong", f"--servers={server}",
                        "tool-file"], capture_output=True, timeout=20)
    assert p.returncode != 0 and b"copied" not in p.stdout
