"""A tiny blocking RESP2/RESP3 client that keeps every reply type distinct.

Used by tools/specgen.py and the differential tests: they need to know whether Redis sent a map, an array or
a set, and a simple or a bulk string, which ordinary client libraries flatten away.
"""
import socket


class Simple(str):
    """A RESP simple string (+...)."""


class Error(str):
    """A RESP error (-...), without the leading '-'."""


class RespSet(list):
    """A RESP3 set (~...)."""


class RespMap(list):
    """A RESP3 map (%...), as a list of (key, value) pairs so order and duplicates survive."""

    def as_dict(self):
        return dict(self)


class Push(list):
    """A RESP3 push (>...)."""


class RespConnection:
    def __init__(self, host="127.0.0.1", port=6379, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            if isinstance(arg, str):
                arg = arg.encode()
            elif isinstance(arg, int):
                arg = str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        self.sock.sendall(b"".join(parts))

    def call(self, *args):
        self.send(*args)
        return self.read()

    def call_raw(self, *args):
        """Send a command and return the exact bytes of its reply."""
        self.send(*args)
        assert not self.buf, "call_raw needs an empty read buffer"
        _, end = self._parse_value(0)   # reads until one whole reply is buffered
        raw, self.buf = self.buf[:end], self.buf[end:]
        return raw

    def read(self):
        value, end = self._parse_value(0)
        self.buf = self.buf[end:]
        return value

    # -- parser ---------------------------------------------------------------------------------------------
    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self, pos):
        while True:
            nl = self.buf.find(b"\r\n", pos)
            if nl >= 0:
                return self.buf[pos:nl], nl + 2
            self._fill()

    def _parse_value(self, pos):
        line, pos = self._line(pos)
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            value = Simple(rest.decode())
        elif kind == b"-":
            value = Error(rest.decode())
        elif kind == b":":
            value = int(rest)
        elif kind in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                value = None
            else:
                while len(self.buf) < pos + n + 2:
                    self._fill()
                value = self.buf[pos:pos + n]
                pos += n + 2
                if kind == b"=":
                    value = value[4:]
                elif kind == b"!":
                    value = Error(value.decode())
        elif kind == b"_":
            value = None
        elif kind == b",":
            value = float(rest)
        elif kind == b"#":
            value = rest == b"t"
        elif kind == b"(":
            value = int(rest)
        elif kind in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                value = None
            else:
                value = {b"*": list, b"~": RespSet, b">": Push}[kind]()
                for _ in range(n):
                    item, pos = self._parse_value(pos)
                    value.append(item)
        elif kind == b"%" or kind == b"|":
            value = RespMap()
            for _ in range(int(rest)):
                key, pos = self._parse_value(pos)
                item, pos = self._parse_value(pos)
                value.append((key, item))
        else:
            raise ValueError(f"unknown RESP type byte {kind!r}")
        return value, pos


def parse_bytes(data: bytes):
    """Parse one complete reply held in memory (raises ConnectionError when it is truncated)."""
    parser = RespConnection.__new__(RespConnection)
    parser.buf = data
    parser.sock = None

    def no_more():
        raise ConnectionError("truncated reply")
    parser._fill = no_more
    value, end = parser._parse_value(0)
    if end != len(data):
        raise ValueError(f"{len(data) - end} bytes after the reply")
    return value


def canonical(value, unordered_subcommands=True):
    """A type-tagged tree for strict comparison (a set is not a list, a simple string not a bulk).

    Redis orders subcommands by its dict's hash order, which changes between servers; with
    unordered_subcommands the 'subcommands' map of COMMAND DOCS and element 10 of COMMAND INFO entries are
    sorted by name."""
    def walk(v, parent_key=None):
        if isinstance(v, RespMap):
            pairs = [(walk(k), walk(x, k)) for k, x in v]
            if unordered_subcommands and parent_key == b"subcommands":
                pairs.sort()
            return ("map", tuple(pairs))
        if isinstance(v, RespSet):
            return ("set", tuple(walk(x) for x in v))
        if isinstance(v, Push):
            return ("push", tuple(walk(x) for x in v))
        if isinstance(v, list):
            items = [walk(x) for x in v]
            if unordered_subcommands:
                # RESP2 renders a map as a flat array: a "subcommands" field is followed by name, docs, ...
                for i in range(0, len(v) - 1, 2):
                    if v[i] == b"subcommands" and type(v[i + 1]) is list:
                        pairs = sorted(zip(items[i + 1][1][0::2], items[i + 1][1][1::2]))
                        items[i + 1] = ("array", tuple(x for pair in pairs for x in pair))
            if unordered_subcommands and _looks_like_command_info(v):
                subs = items[9]
                if subs[0] == "array":
                    items[9] = ("array", tuple(sorted(subs[1])))
            return ("array", tuple(items))
        if isinstance(v, Simple):
            return ("simple", str(v))
        if isinstance(v, Error):
            return ("error", str(v))
        return (type(v).__name__, v)
    return walk(value)


def _looks_like_command_info(v):
    return (len(v) == 10 and isinstance(v[0], bytes) and isinstance(v[1], int) and isinstance(v[9], list))
