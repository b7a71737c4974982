"""memcached 1.6's text-protocol authentication (``-Y authfile``; here ``memcached-authfile``).

Until a connection authenticates, memcached reads it with try_read_command_asciiauth instead of the normal
parser, and so does this gate (same replies, byte for byte, tests/security/test_mc_sasl.py):

* a line (up to ``\\n``; more than 2048 bytes without one closes the connection) that is not
  ``set <key> <flags> <exptime> <bytes> ...`` with a valid ``<bytes>`` gets ``CLIENT_ERROR unauthenticated``
  (every other command, ``quit`` included);
* otherwise ``<bytes>+2`` bytes are read: not ending in ``\\r\\n`` -> ``CLIENT_ERROR bad command line
  termination``; fewer than two space-separated tokens -> ``CLIENT_ERROR bad authentication token format``;
  ``user pass`` found in the authfile -> ``STORED`` (also with noreply: the gate never looks at it) and the
  connection is served normally from the next byte on; else ``CLIENT_ERROR authentication failure``.

Of the replies to the commands of one read (in runs of 20, memcached's reqs_per_event) only the last one is
sent, as memcached's auth path reuses one response object.  The authfile holds ``user:password`` lines.  stats: ``auth_cmds`` / ``auth_errors`` and
``auth_enabled_ascii yes``.
"""
from __future__ import annotations

UNAUTHENTICATED = b"CLIENT_ERROR unauthenticated\r\n"
BAD_TERMINATION = b"CLIENT_ERROR bad command line termination\r\n"
BAD_FORMAT = b"CLIENT_ERROR bad authentication token format\r\n"
FAILURE = b"CLIENT_ERROR authentication failure\r\n"
STORED = b"STORED\r\n"

MAX_LINE = 2048                     # memcached: no newline after 2 KiB of input: close
REQS_PER_EVENT = 20                 # memcached -R default
MAX_PAYLOAD = 16384                 # memcached's read buffer: a longer token block can never complete

STATS = {"auth_cmds": 0, "auth_errors": 0}


class AuthfileError(Exception):
    pass


def load_authfile(path: str) -> set[tuple[bytes, bytes]]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise AuthfileError(f"Could not load authfile: {path}: {exc.strerror}") from None
    entries = set()
    for line in data.replace(b"\r", b"\n").split(b"\n"):
        if not line:
            continue
        user, sep, password = line.partition(b":")
        if not sep or not user:
            raise AuthfileError(f"Invalid line in authfile {path}: no ':' separator in an entry")
        entries.add((user, password))
    return entries


def _tokens(data: bytes) -> list[bytes]:
    """memcached tokenize_command: split on single spaces, empty tokens dropped, the text ends at a NUL."""
    return [t for t in data.split(b"\0", 1)[0].split(b" ") if t]


def _strtoul(token: bytes):
    """memcached safe_strtoul: strtoul, then the end must be a space or the end; negative wraps refused."""
    i, n = 0, len(token)
    while i < n and token[i] in b" \t\n\v\f\r":
        i += 1
    j = i
    if j < n and token[j] in b"+-":
        j += 1
    k = j
    while k < n and 48 <= token[k] <= 57:
        k += 1
    if k == j:
        return None
    if k < n and token[k] not in b" \t\n\v\f\r":
        return None
    value = int(token[j:k])
    if value > 0xFFFFFFFFFFFFFFFF:
        return None                 # ERANGE
    if token[i:i + 1] == b"-":
        if value == 0:
            return 0
        value = (-value) & 0xFFFFFFFFFFFFFFFF
        if value >= 1 << 63:
            return None              # (long) l < 0 with a '-': refused
    return value & 0xFFFFFFFF


class McAuthGate:
    """Per-connection state before authentication.  feed(data) -> (reply bytes, leftover, close)."""

    __slots__ = ("entries", "buf", "need", "authenticated")

    def __init__(self, entries):
        self.entries = entries
        self.buf = b""
        self.need = -1               # bytes of the token block still expected, -1 while reading a line
        self.authenticated = False

    def feed(self, data: bytes):
        buf = self.buf + data if self.buf else data
        out = []
        # memcached answers the commands of one event from a single response object that this path never
        # renews: of every run of up to reqs_per_event (20) commands, only the last reply is sent
        last = None
        done = 0
        while True:
            if self.need < 0:
                if len(buf) < 2:
                    break
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > MAX_LINE:
                        self.buf = b""
                        return b"".join(out), b"", True
                    break
                line, buf = buf[:nl], buf[nl + 1:]
                toks = _tokens(line)
                size = _strtoul(toks[4]) if len(toks) >= 5 and toks[0] == b"set" else None
                if size is None:
                    last = UNAUTHENTICATED
                    done += 1
                    if done % REQS_PER_EVENT == 0:
                        out.append(last)
                        last = None
                    continue
                if size + 2 > MAX_PAYLOAD:
                    self.buf = b""
                    return b"".join(out), b"", True
                self.need = size + 2
            if len(buf) < self.need:
                break
            block, buf = buf[:self.need], buf[self.need:]
            self.need = -1
            done += 1
            toks = _tokens(block[:-2])
            if block[-2:] != b"\r\n":
                last = BAD_TERMINATION
            elif len(toks) < 2:
                last = BAD_FORMAT
            else:
                STATS["auth_cmds"] += 1
                if (toks[0], toks[1]) in self.entries:
                    out.append(STORED)
                    self.authenticated = True
                    self.buf = b""
                    return b"".join(out), buf, False
                STATS["auth_errors"] += 1
                last = FAILURE
            if done % REQS_PER_EVENT == 0:
                out.append(last)
                last = None
        if last is not None:
            out.append(last)
        self.buf = buf
        return b"".join(out), b"", False
