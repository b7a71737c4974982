"""memcached ``-S``: SASL authentication on the binary protocol (here ``memcached-sasl yes``), PLAIN only.

What a client sees is memcached 1.6.18's (tests/security/test_mc_binary_sasl.py compares it byte for byte with
a real ``memcached -S`` backed by a cyrus sasldb):

* SASL forces the binary protocol (memcached: "You cannot allow the ASCII protocol while using SASL"):
  ``memcached-protocol ascii`` with ``memcached-sasl yes`` refuses to start; a text client is read as binary
  and its connection closed (the first 24 bytes do not start with the 0x80 magic);
* SASL_LIST_MECHS answers ``PLAIN``; SASL_AUTH ``PLAIN`` with ``authzid\\0authcid\\0password`` answers
  ``Authenticated`` or status 0x20 "Auth failure."; SASL_AUTH with no data answers 0x21 (continue) and the
  following SASL_STEP carries the PLAIN message; any other mechanism, a SASL_STEP with nothing started, a
  malformed message, an authzid other than the authcid: "Auth failure.";
* every SASL_AUTH/SASL_STEP first drops the connection's authentication (memcached's init_sasl_conn);
* until authenticated, every other opcode but VERSION gets "Auth failure." and the connection is closed
  (protocol/memcache_bin.pyx does that part).

Where memcached asks cyrus-sasl (a sasldb made with ``saslpasswd2 -a memcached``, found through
``SASL_CONF_PATH``'s memcached.conf), Cachemere reads a plain password file: ``memcached-sasl-pwdb``, in the
``user:password`` line format memcached itself reads from ``MEMCACHED_SASL_PWDB`` when built with
``--enable-sasl-pwdb``; unset, the users of ``memcached-authfile`` (same format).  As with cyrus's default
realm, ``user@<hostname>`` names the same user as ``user``.  Counted in stats ``auth_cmds``/``auth_errors``.
"""
from __future__ import annotations

import socket

from protocol import memcache_bin as mb
from server import mc_auth

MECHS = b"PLAIN"
AUTHENTICATED = b"Authenticated"


class SaslConfigError(Exception):
    pass


def load(cfg) -> dict[bytes, bytes]:
    """The password database the config names ({user: password}); raises SaslConfigError with the reason."""
    if cfg["memcached-protocol"] == "ascii":
        raise SaslConfigError("ERROR: You cannot allow the ASCII protocol while using SASL "
                              "(memcached-sasl yes with memcached-protocol ascii). Refusing to start.")
    path = cfg["memcached-sasl-pwdb"] or cfg["memcached-authfile"]
    if not path:
        raise SaslConfigError("memcached-sasl yes needs a password database: set memcached-sasl-pwdb (or "
                              "memcached-authfile) to a file of user:password lines. Refusing to start.")
    try:
        entries = mc_auth.load_authfile(path)
    except mc_auth.AuthfileError as exc:
        raise SaslConfigError(str(exc).replace("authfile", "SASL password database")) from None
    return {user: password for user, password in entries}


def _hostname() -> bytes:
    try:
        return socket.gethostname().encode()
    except OSError:
        return b""


class SaslSession:
    """One connection's SASL state."""

    __slots__ = ("users", "continuing", "realm")

    def __init__(self, users):
        self.users = users
        self.continuing = False          # a SASL_AUTH PLAIN without data waits for its SASL_STEP
        self.realm = _hostname()

    def check_plain(self, data: bytes) -> bool:
        parts = data.split(b"\0")
        if len(parts) != 3:
            return False
        authzid, authcid, password = parts
        user = authcid
        if user not in self.users and b"@" in user:
            name, _, realm = user.rpartition(b"@")
            if realm == self.realm:
                user = name
        if self.users.get(user) != password or not user:
            return False
        if authzid and authzid != authcid and authzid != user:
            return False
        return True

    def handle(self, req, parser, out: list) -> None:
        """Answer SASL_LIST_MECHS / SASL_AUTH / SASL_STEP; sets parser.authenticated."""
        op = req.cmd
        if op == mb.OP_SASL_LIST_MECHS:
            out.append(mb.response(req.opcode, req.opaque, 0, b"", b"", MECHS))
            return
        parser.authenticated = False
        ok = False
        if op == mb.OP_SASL_AUTH:
            self.continuing = False
            if req.key == MECHS:
                if not req.value:
                    self.continuing = True
                    out.append(mb.header(req.opcode, mb.ST_AUTH_CONTINUE, req.opaque, 0, 0, 0, 0))
                    return
                ok = self.check_plain(req.value)
        elif self.continuing:
            self.continuing = False
            ok = self.check_plain(req.value)
        mc_auth.STATS["auth_cmds"] += 1
        if ok:
            parser.authenticated = True
            out.append(mb.response(req.opcode, req.opaque, 0, b"", b"", AUTHENTICATED))
        else:
            mc_auth.STATS["auth_errors"] += 1
            out.append(mb.error(req.opcode, req.opaque, mb.ST_AUTH_ERROR))
