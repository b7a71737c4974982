"""memcached auto discovery as Amazon ElastiCache serves it, from the ``memcached-cluster-nodes`` directive.

A discovery-aware client (the ElastiCache Cluster Client, django-elastipymemcache, ...) connects to any
node and asks for the node list, then hashes keys over the nodes itself:

* ``config get cluster`` (engine 1.4.14 and later) ->
  ``CONFIG cluster <flags> <bytes>\\r\\n<version>\\n<host|ip|port> <host|ip|port>...\\n\\r\\nEND\\r\\n``
* ``get AmazonElastiCache:cluster`` (older engines) -> the same body as an item:
  ``VALUE AmazonElastiCache:cluster <flags> <bytes>\\r\\n<body>\\r\\nEND\\r\\n``

``<bytes>`` counts the body (version line and node line, each ending in ``\\n``); the data block then
ends with the usual ``\\r\\n``.  The version starts at 1 and goes up by one at every change, whichever
way it comes: ``CONFIG SET memcached-cluster-nodes "..."`` on the RESP port, or the engine's own
``config set cluster <flags> <bytes>`` storage command (data: ``<nodes>`` or ``<version>\\n<nodes>``; a
given version is taken when it is higher, as clients only reload on a higher one) and
``config delete cluster``.  With no nodes configured ``config get cluster`` answers ``ERROR`` as stock
memcached does (clients with a fallback then treat the node as a plain memcached) and
``AmazonElastiCache:cluster`` is an ordinary key; ``config set cluster`` still configures the node.

Nothing here is stored in the keyspace: the node list is configuration (CONFIG GET/REWRITE show it).
"""

from __future__ import annotations

from engine.context import ConfigError

DIRECTIVE = "memcached-cluster-nodes"
ITEM_KEY = b"AmazonElastiCache:cluster"

ERROR = b"ERROR\r\n"
ERR_BAD_CHUNK = b"CLIENT_ERROR bad data chunk\r\n"
STORED = b"STORED\r\n"
DELETED = b"DELETED\r\n"
NOT_FOUND = b"NOT_FOUND\r\n"


def parse_nodes(text: str) -> list[tuple[str, str, int]]:
    """``host|ip|port host|ip|port ...`` -> [(host, ip, port)]; ValueError with the reason."""
    nodes = []
    for token in text.split():
        parts = token.split("|")
        if len(parts) != 3:
            raise ValueError(f"node '{token}' is not host|ip|port")
        host, ip, port = parts
        if not host and not ip:
            raise ValueError(f"node '{token}' has neither a host name nor an address")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"node '{token}' has an invalid port")
        nodes.append((host, ip, int(port)))
    return nodes


def check_nodes(value: str) -> str | None:
    """The directive's validator (CONFIG SET / config file): None when valid, else the reason."""
    try:
        parse_nodes(value)
    except ValueError as e:
        return str(e)
    return None


def normalize_nodes(value: str) -> str:
    return " ".join(value.split())


class McDiscovery:
    """The cluster configuration a node serves; one per server (server.extensions["mc-discovery"])."""

    def __init__(self, server):
        self.server = server
        self.flags = 0
        self.nodes = normalize_nodes(server.config[DIRECTIVE] or "")
        self.version = 1 if self.nodes else 0
        self._given_version = None
        server.config.on_change(DIRECTIVE, self._changed)

    # -- state
    def _changed(self, value):
        self.nodes = normalize_nodes(value or "")
        given, self._given_version = self._given_version, None
        self.version = max(self.version + 1, given or 0)

    def body(self) -> bytes:
        return b"%d\n%s\n" % (self.version, self.nodes.encode())

    # -- replies
    def item(self, with_cas: bool) -> bytes | None:
        """The ``get AmazonElastiCache:cluster`` item (VALUE line, data, CRLF), None when unset."""
        if not self.nodes:
            return None
        body = self.body()
        cas = b" %d" % self.version if with_cas else b""
        return b"VALUE %s %d %d%s\r\n%s\r\n" % (ITEM_KEY, self.flags, len(body), cas, body)

    def config_reply(self, req) -> bytes:
        sub = req.args[0].lower() if req.args else b""
        key = req.keys[0] if req.keys else b""
        if key != b"cluster":
            return ERROR
        if sub == b"get":
            if not self.nodes:
                return ERROR
            body = self.body()
            return b"CONFIG cluster %d %d\r\n%s\r\nEND\r\n" % (self.flags, len(body), body)
        if sub == b"set":
            return self._set(req.flags, req.value)
        if sub == b"delete":
            if not self.nodes:
                return NOT_FOUND
            self._store("")
            return DELETED
        return ERROR

    def _set(self, flags: int, data: bytes) -> bytes:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            return ERR_BAD_CHUNK
        lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
        given = None
        if len(lines) == 2 and lines[0].isdigit():
            given = int(lines[0])
            lines = lines[1:]
        if len(lines) != 1:
            return ERR_BAD_CHUNK
        try:
            if not parse_nodes(lines[0]):
                return ERR_BAD_CHUNK
        except ValueError:
            return ERR_BAD_CHUNK
        self.flags = flags
        self._store(lines[0], given)
        return STORED

    def _store(self, nodes: str, given: int | None = None):
        """Write the node list through CONFIG SET so CONFIG GET/REWRITE agree; bumps the version."""
        nodes = normalize_nodes(nodes)
        if nodes == self.nodes:
            self.version = max(self.version + 1, given or 0)
            return
        self._given_version = given
        try:
            self.server.config.set_many([(DIRECTIVE.encode(), nodes.encode())])
        except ConfigError:
            self._given_version = None
            raise


def discovery_of(server) -> McDiscovery:
    d = server.extensions.get("mc-discovery")
    if d is None:
        d = server.extensions["mc-discovery"] = McDiscovery(server)
    return d
