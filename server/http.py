"""A small HTTP/1.1 server on the event loop, shared by every HTTP face of the process: /metrics and the
dashboard (metrics-port), and the services' AWS-style JSON facades (sqs-port, kinesis-port...).

No framework: requests are parsed from the transport's bytes with hard limits (request line + headers
<= 16 KiB, body <= max_body), a whole request must arrive within ``request_timeout`` seconds (slowloris
gets 408 and a close), keep-alive is honoured, and a handler's exception becomes a 500 without touching
the RESP or memcached listeners. A route is ``(method, path) -> handler(request)``; a handler returns a
``Response`` (or a coroutine of one). ``fallback`` handles what no route matches (the facades route on
the X-Amz-Target header rather than the path); ``guard`` sees every request first (the dashboard's HTTP
Basic check against the ACL).
"""
import asyncio
import inspect
import json
from urllib.parse import parse_qs, urlsplit

MAX_HEAD = 16 * 1024
REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 413: "Payload Too Large", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}


class Request:
    __slots__ = ("method", "target", "path", "query", "version", "headers", "body", "peer")

    def __init__(self, method, target, version, headers, body, peer):
        self.method = method
        self.target = target
        parts = urlsplit(target)
        self.path = parts.path or "/"
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.version = version
        self.headers = headers          # lower-cased name -> value (str)
        self.body = body
        self.peer = peer

    def json(self):
        return json.loads(self.body or b"{}")


class Response:
    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(self, status=200, body=b"", content_type="text/plain; charset=utf-8", headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else str(body).encode()
        self.content_type = content_type
        self.headers = headers or {}

    @classmethod
    def json(cls, obj, status=200, content_type="application/json"):
        return cls(status, json.dumps(obj, separators=(",", ":")).encode(), content_type)

    def encode(self, keep_alive):
        head = ["HTTP/1.1 %d %s" % (self.status, REASONS.get(self.status, "Status")),
                "Content-Type: " + self.content_type, "Content-Length: %d" % len(self.body),
                "Connection: " + ("keep-alive" if keep_alive else "close")]
        head += ["%s: %s" % item for item in self.headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.body


class HttpProtocol(asyncio.Protocol):
    def __init__(self, app):
        self.app = app
        self.buf = bytearray()
        self.transport = None
        self.timer = None
        self.busy = False               # a handler is running: later pipelined requests wait
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        self._arm_timer()

    def connection_lost(self, exc):
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()

    def _arm_timer(self):
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.app.request_timeout, self._timed_out)

    def _timed_out(self):
        if not self.closed:
            if self.buf:
                self.transport.write(Response(408, "request timeout\n").encode(False))
            self.transport.close()

    def data_received(self, data):
        if self.closed:
            return                      # draining after an error reply (see _fail)
        self.buf += data
        if not self.busy:
            self._process()

    def _fail(self, status, text):
        """Answer the error, then half-close and keep reading (discarding) for a moment before closing: a
        close with the client's bytes still unread makes the kernel send RST, which can destroy the error
        reply before the client reads it (a client still sending a huge header, for one)."""
        self.transport.write(Response(status, text + "\n").encode(False))
        self.closed = True
        self.buf = bytearray()
        try:
            if self.transport.can_write_eof():
                self.transport.write_eof()
        except OSError:
            pass
        asyncio.get_running_loop().call_later(1.0, self.transport.close)

    def _process(self):
        while not self.closed and not self.busy:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._fail(431, "request head too large")
                return
            if end > MAX_HEAD:
                self._fail(431, "request head too large")
                return
            try:
                lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ")
                if version not in ("HTTP/1.0", "HTTP/1.1") or not method.isalpha() or not method.isupper():
                    raise ValueError(lines[0])
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if not sep:
                        raise ValueError(line)
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if length < 0 or "transfer-encoding" in headers:
                    raise ValueError("unsupported body framing")
            except ValueError:
                self._fail(400, "bad request")
                return
            if length > self.app.max_body:
                self._fail(413, "request body too large")
                return
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4:end + 4 + length])
            del self.buf[:end + 4 + length]
            keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
            request = Request(method, target, version, headers, body, self.peer)
            self._arm_timer()
            self.busy = True
            asyncio.ensure_future(self._respond(request, keep_alive))

    async def _respond(self, request, keep_alive):
        try:
            response = await self.app.handle(request)
        except Exception as exc:        # a handler bug must not take the port down
            self.app.log_error(request, exc)
            response = Response(500, "internal error\n")
        self.busy = False
        if self.closed:
            return
        self.transport.write(response.encode(keep_alive))
        if not keep_alive:
            self.transport.close()
            self.closed = True
            return
        self._process()


class HttpApp:
    """Routes plus limits; ``await app.listen(loop, host, port)`` returns the asyncio server."""

    def __init__(self, name, *, log=None, max_body=1 << 20, request_timeout=10.0):
        self.name = name
        self.routes = {}
        self.prefix_routes = []
        self.fallback = None
        self.guard = None               # guard(request) -> None (go on) or a Response (401/403...)
        self.log = log
        self.max_body = max_body
        self.request_timeout = request_timeout

    def route(self, method, path, handler):
        self.routes[(method, path)] = handler

    def route_prefix(self, method, prefix, handler):
        self.prefix_routes.append((method, prefix, handler))

    async def handle(self, request):
        if self.guard is not None:
            refused = self.guard(request)
            if refused is not None:
                return refused
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            for method, prefix, candidate in self.prefix_routes:
                if request.method == method and request.path.startswith(prefix):
                    handler = candidate
                    break
        if handler is None:
            if self.fallback is not None:
                handler = self.fallback
            elif any(path == request.path for _, path in self.routes):
                return Response(405, "method not allowed\n")
            else:
                return Response(404, "not found\n")
        result = handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result

    def log_error(self, request, exc):
        if self.log is not None:
            self.log.warning("%s HTTP handler failed on %s %s: %r" % (self.name, request.method, request.path, exc))

    async def listen(self, loop, host, port):
        return await loop.create_server(lambda: HttpProtocol(self), host, port, reuse_address=True)

    async def listen_all(self, server, port, binds=None):
        """Listen on port at every bind address (default: the server's ``bind``), skipping an IPv6 address
        the host lacks as the RESP listener does; logs where it listens and returns the asyncio servers."""
        binds = binds or server.config["bind"] or ["127.0.0.1"]
        listeners = []
        for addr in binds:
            addr = addr.lstrip("-")
            try:
                listeners.append(await self.listen(server.loop, addr, port))
            except OSError:
                if ":" in addr:
                    continue
                raise
        server.log.notice("%s: HTTP on %s:%d" % (self.name, binds[0].lstrip("-"), port))
        return listeners
