"""TLS for both front ends with the standard library's ``ssl`` (uvloop runs the handshake).

redis 7.0's tls.c is the model: ``tls-port`` opens a TLS listener next to (or, with ``port 0``, instead of)
the plaintext one, configured from ``tls-cert-file`` / ``tls-key-file`` (``tls-key-file-pass``),
``tls-ca-cert-file`` / ``tls-ca-cert-dir``, ``tls-auth-clients`` (yes = a client certificate is required,
optional = verified when given, no = not asked), ``tls-protocols``, ``tls-ciphers``, ``tls-ciphersuites``,
``tls-prefer-server-ciphers``, ``tls-session-caching`` / ``tls-session-cache-size`` / ``-timeout`` and
``tls-dh-params-file``.  Configuration errors are redis's log lines, followed by "Failed to configure TLS.
Check logs for more info." and exit 1, as redis-server does.

The memcached port speaks TLS when ``memcached-tls yes`` (memcached 1.6 ``-Z``); its certificate, key and
CA default to the tls-* ones and can be set apart with ``memcached-ssl-chain-cert`` / ``memcached-ssl-key``
/ ``memcached-ssl-ca-cert`` (``-o ssl_chain_cert,ssl_key,ssl_ca_cert``), ``memcached-ssl-verify-mode``
(``ssl_verify_mode`` 0 none, 1 request, 2 require, 3 once = require here).

``client_context(config)`` is the client side for outgoing links (replication, ``tls-replication yes``):
it presents ``tls-client-cert-file`` / ``tls-client-key-file`` (or the server pair, as redis does) and
verifies the peer against the same CA.

The standard library has no call for TLS 1.3 ciphersuites nor the session cache size and timeout; those
go through OpenSSL's own SSL_CTX_set_ciphersuites / SSL_CTX_ctrl on the context's SSL_CTX (ctypes, on the
libssl that the ``_ssl`` module is linked with).  Where that is not possible, a directive that asks for
them makes the server refuse to start rather than run without it.
"""
from __future__ import annotations

import ctypes
import os
import ssl

FAILED = "Failed to configure TLS. Check logs for more info."

_PROTOCOLS = {"tlsv1": ssl.TLSVersion.TLSv1, "tlsv1.1": ssl.TLSVersion.TLSv1_1,
              "tlsv1.2": ssl.TLSVersion.TLSv1_2, "tlsv1.3": ssl.TLSVersion.TLSv1_3}
_PROTOCOLS_ERROR = ("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' "
                    "and 'TLSv1.3'.")

# OpenSSL SSL_CTX_ctrl codes (ssl.h)
_SSL_CTRL_SET_SESS_CACHE_SIZE = 42
_SSL_CTRL_SET_SESS_CACHE_MODE = 44
_SSL_SESS_CACHE_OFF = 0
_SSL_SESS_CACHE_SERVER = 2


class TLSConfigError(Exception):
    """A TLS configuration error; ``str(e)`` is redis's log line naming the cause."""


# ------------------------------------------------------------------ raw OpenSSL access
_libssl = None


def _lib():
    global _libssl
    if _libssl is None:
        import _ssl
        lib = ctypes.CDLL(_ssl.__file__)      # dlsym on it searches libssl, which _ssl is linked with
        lib.SSL_CTX_set_ciphersuites.argtypes = (ctypes.c_void_p, ctypes.c_char_p)
        lib.SSL_CTX_set_ciphersuites.restype = ctypes.c_int
        lib.SSL_CTX_ctrl.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p)
        lib.SSL_CTX_ctrl.restype = ctypes.c_long
        lib.SSL_CTX_set_timeout.argtypes = (ctypes.c_void_p, ctypes.c_long)
        lib.SSL_CTX_set_timeout.restype = ctypes.c_long
        _libssl = lib
    return _libssl


def _ssl_ctx_ptr(ctx: ssl.SSLContext) -> int:
    """The SSL_CTX* of a context: CPython's PySSLContext starts with PyObject_HEAD then SSL_CTX *ctx."""
    ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not ptr:
        raise TLSConfigError("TLS: cannot reach the OpenSSL context")
    return ptr


def native_available() -> bool:
    try:
        _lib()
        return True
    except (OSError, AttributeError, ImportError):
        return False


def _set_ciphersuites(ctx: ssl.SSLContext, suites: str) -> None:
    try:
        lib = _lib()
    except (OSError, AttributeError, ImportError):
        raise TLSConfigError(f"Failed to configure ciphersuites: {suites}") from None
    if lib.SSL_CTX_set_ciphersuites(_ssl_ctx_ptr(ctx), suites.encode()) != 1:
        raise TLSConfigError(f"Failed to configure ciphersuites: {suites}")


def _set_session_cache(ctx: ssl.SSLContext, enabled: bool, size: int, timeout: int) -> None:
    try:
        lib = _lib()
    except (OSError, AttributeError, ImportError):
        if not enabled:       # without the native calls, at least no tickets
            ctx.options |= ssl.OP_NO_TICKET
        return
    ptr = _ssl_ctx_ptr(ctx)
    if enabled:
        lib.SSL_CTX_ctrl(ptr, _SSL_CTRL_SET_SESS_CACHE_MODE, _SSL_SESS_CACHE_SERVER, None)
        lib.SSL_CTX_ctrl(ptr, _SSL_CTRL_SET_SESS_CACHE_SIZE, size, None)
        lib.SSL_CTX_set_timeout(ptr, timeout)
    else:
        lib.SSL_CTX_ctrl(ptr, _SSL_CTRL_SET_SESS_CACHE_MODE, _SSL_SESS_CACHE_OFF, None)
        ctx.options |= ssl.OP_NO_TICKET


def _reset_cert_store(ctx):
    """Forget the CAs loaded before (load_verify_locations only adds): a fresh X509_STORE."""
    try:
        lib = _lib()
        lib.X509_STORE_new.restype = ctypes.c_void_p
        lib.SSL_CTX_set_cert_store.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
        lib.SSL_CTX_set_cert_store.restype = None
        store = lib.X509_STORE_new()
        if store:
            lib.SSL_CTX_set_cert_store(_ssl_ctx_ptr(ctx), store)
    except (OSError, AttributeError, ImportError):
        pass


# ------------------------------------------------------------------ building contexts
def _protocol_range(text: str):
    if not text:
        return ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3     # redis: TLSv1.2 and TLSv1.3 by default
    chosen = []
    for word in text.split():
        version = _PROTOCOLS.get(word.lower())
        if version is None:
            raise TLSConfigError(_PROTOCOLS_ERROR)
        chosen.append(version)
    return min(chosen), max(chosen)


def _opt(cfg, name):
    value = cfg[name]
    return value if value else None


def _load_pair(ctx, cert, key, password, what=""):
    try:
        ctx.load_cert_chain(cert, key, password=password if password else None)
    except ssl.SSLError as exc:
        label = "private key" if exc.reason in ("KEY_VALUES_MISMATCH", "BAD_DECRYPT") else "certificate"
        raise TLSConfigError(f"Failed to load {what}{label}: {cert if label == 'certificate' else key}: "
                             f"{_reason(exc)}") from None
    except OSError as exc:
        missing = key if os.path.exists(cert) else cert
        label = "certificate" if missing == cert else "private key"
        raise TLSConfigError(f"Failed to load {what}{label}: {missing}: {_reason(exc)}") from None


def _reason(exc):
    """OpenSSL's ERR_error_string as redis logs it: system errors as error:8000XXXX:system library::text."""
    if not isinstance(exc, ssl.SSLError) and getattr(exc, "errno", None):
        return f"error:{0x80000000 | exc.errno:08X}:system library::{os.strerror(exc.errno)}"
    lib = getattr(exc, "library", None)
    reason = getattr(exc, "reason", None)
    if lib and reason:
        return f"{lib} routines::{reason.lower().replace('_', ' ')}"
    return getattr(exc, "strerror", None) or str(exc)


def _load_ca(ctx, ca_file, ca_dir):
    try:
        ctx.load_verify_locations(cafile=ca_file, capath=ca_dir)
    except (ssl.SSLError, OSError) as exc:
        raise TLSConfigError(f"Failed to configure CA certificate(s) file/directory: {_reason(exc)}") from None


def server_context(cfg, *, memcached: bool = False, into: ssl.SSLContext | None = None) -> ssl.SSLContext:
    """The SSLContext of a TLS listener (RESP, or memcached with memcached=True); raises TLSConfigError.

    ``into``: reconfigure that live context in place (CONFIG SET), so the listener keeps its socket and only
    connections accepted afterwards see the change (OpenSSL copies the settings at each handshake)."""
    cert = _opt(cfg, "tls-cert-file")
    key = _opt(cfg, "tls-key-file")
    ca_file = _opt(cfg, "tls-ca-cert-file")
    ca_dir = _opt(cfg, "tls-ca-cert-dir")
    if memcached:
        cert = _opt(cfg, "memcached-ssl-chain-cert") or cert
        key = _opt(cfg, "memcached-ssl-key") or key or cert    # memcached: the key may sit in the chain file
        ca_file = _opt(cfg, "memcached-ssl-ca-cert") or ca_file
    if not cert:
        raise TLSConfigError("No ssl_chain_cert configured!" if memcached else "No tls-cert-file configured!")
    if not key:
        raise TLSConfigError("No tls-key-file configured!")
    if memcached:
        verify = {0: ssl.CERT_NONE, 1: ssl.CERT_OPTIONAL}.get(cfg["memcached-ssl-verify-mode"], ssl.CERT_REQUIRED)
        need_ca = verify != ssl.CERT_NONE
    else:
        verify = {"no": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL}.get(cfg["tls-auth-clients"], ssl.CERT_REQUIRED)
        need_ca = verify != ssl.CERT_NONE or cfg["tls-replication"] or cfg["tls-cluster"]
    if need_ca and not ca_file and not ca_dir:
        if memcached:
            raise TLSConfigError("ssl_ca_cert must be specified when ssl_verify_mode requests client certificates")
        raise TLSConfigError("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, "
                             "tls-replication or tls-auth-clients are enabled!")
    if into is not None:
        server_context(cfg, memcached=memcached)      # validate everything on a scratch context first
        ctx = into
        ctx.set_ciphers("DEFAULT")
        ctx.options = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).options
        _reset_cert_store(ctx)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    low, high = _protocol_range(cfg["tls-protocols"])
    ctx.minimum_version, ctx.maximum_version = low, high
    if low < ssl.TLSVersion.TLSv1_2:
        # OpenSSL 3's default security level refuses TLS 1.0/1.1 handshakes; asking for them means allowing them
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_SINGLE_DH_USE | ssl.OP_SINGLE_ECDH_USE
    if cfg["tls-prefer-server-ciphers"]:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    _load_pair(ctx, cert, key, cfg["tls-key-file-pass"])
    if ca_file or ca_dir:
        _load_ca(ctx, ca_file, ca_dir)
    ctx.verify_mode = verify
    ciphers = _opt(cfg, "memcached-ssl-ciphers") if memcached else None
    ciphers = ciphers or _opt(cfg, "tls-ciphers")
    if ciphers:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise TLSConfigError(f"Failed to configure ciphers: {ciphers}") from None
    suites = _opt(cfg, "tls-ciphersuites")
    if suites:
        _set_ciphersuites(ctx, suites)
    dh = _opt(cfg, "tls-dh-params-file")
    if dh:
        try:
            ctx.load_dh_params(dh)
        except (ssl.SSLError, OSError) as exc:
            raise TLSConfigError(f"Failed to load {dh}: {_reason(exc)}") from None
    caching = cfg["memcached-ssl-session-cache"] if memcached else cfg["tls-session-caching"]
    _set_session_cache(ctx, caching, cfg["tls-session-cache-size"], cfg["tls-session-cache-timeout"])
    return ctx


def client_context(cfg) -> ssl.SSLContext:
    """The client side of outgoing TLS links (replication with tls-replication yes, cluster bus).

    Presents tls-client-cert-file/tls-client-key-file, or the server's own pair when those are unset (redis
    does the same), and verifies the peer's certificate against tls-ca-cert-file/-dir.  Host names are not
    checked: redis checks the chain only, and links are made to addresses."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    low, high = _protocol_range(cfg["tls-protocols"])
    ctx.minimum_version, ctx.maximum_version = low, high
    cert = _opt(cfg, "tls-client-cert-file")
    key = _opt(cfg, "tls-client-key-file")
    password = cfg["tls-client-key-file-pass"]
    if not cert:
        cert, key, password = _opt(cfg, "tls-cert-file"), _opt(cfg, "tls-key-file"), cfg["tls-key-file-pass"]
    if cert and key:
        _load_pair(ctx, cert, key, password, what="client ")
    ca_file, ca_dir = _opt(cfg, "tls-ca-cert-file"), _opt(cfg, "tls-ca-cert-dir")
    if ca_file or ca_dir:
        _load_ca(ctx, ca_file, ca_dir)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    ciphers = _opt(cfg, "tls-ciphers")
    if ciphers:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise TLSConfigError(f"Failed to configure ciphers: {ciphers}") from None
    suites = _opt(cfg, "tls-ciphersuites")
    if suites:
        _set_ciphersuites(ctx, suites)
    return ctx


def check_startup(cfg):
    """Build every context the configuration asks for; returns (resp_ctx or None, memcached_ctx or None).

    Raises TLSConfigError on the first problem (its text is the line to log before FAILED)."""
    resp_ctx = server_context(cfg) if cfg["tls-port"] else None
    mc_ctx = server_context(cfg, memcached=True) if cfg["memcached-tls"] and cfg["memcached-port"] else None
    if cfg["tls-replication"] or cfg["tls-cluster"]:
        client_context(cfg)
    return resp_ctx, mc_ctx


# The tls-* directives whose change rebuilds the TLS listeners (redis applyTlsCfg)
RELOAD_DIRECTIVES = ("tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-client-cert-file",
                     "tls-client-key-file", "tls-client-key-file-pass", "tls-dh-params-file", "tls-ca-cert-file",
                     "tls-ca-cert-dir", "tls-protocols", "tls-ciphers", "tls-ciphersuites",
                     "tls-prefer-server-ciphers", "tls-session-caching", "tls-session-cache-size",
                     "tls-session-cache-timeout", "tls-auth-clients", "tls-replication", "tls-cluster")


# ------------------------------------------------------------------ listeners
def _bind(addr: str, port: int, backlog: int):
    import socket
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((addr, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _bind_all(server, port):
    """Bind the TLS port on every bind address now (so a failure can refuse CONFIG SET); returns sockets."""
    return _bind_all_addresses(server, port, "TLS")


def _bind_all_addresses(server, port, kind, addresses=None):
    """Bind `port` on every bind address now; an optional ("-") or IPv6 address that fails is skipped."""
    socks = []
    for addr in addresses or server.config["bind"] or ["127.0.0.1"]:
        optional = addr.startswith("-")
        addr = addr.lstrip("-")
        try:
            socks.append(_bind(addr, port, server.config["tcp-backlog"]))
        except OSError as exc:
            if optional or ":" in addr:
                server.log.warning(f"Could not create server {kind} listening socket {addr}:{port}: {exc}")
                continue
            for s in socks:
                s.close()
            raise
    return socks


async def _serve(server, socks, ctx):
    from server.connection import RespProtocol
    for sock in socks:
        srv = await server.loop.create_server(lambda: RespProtocol(server), sock=sock, ssl=ctx,
                                              backlog=server.config["tcp-backlog"])
        server.tls_listeners.append(srv)


async def start_resp_listeners(server):
    """Server.start(): open the TLS port with the context checked at startup, and follow CONFIG SET."""
    _install_config_hooks(server)
    ctx = server.tls_contexts[0]
    port = server.config["tls-port"]
    if port and ctx is None:       # Server used without main.py's startup check
        ctx = server.tls_contexts = (server_context(server.config), server.tls_contexts[1])
        ctx = ctx[0]
    if port:
        await _serve(server, _bind_all(server, port), ctx)


def _install_config_hooks(server):
    from server.config import ConfigError
    cfg = server.config
    if getattr(server, "_tls_hooks", False):
        return
    server._tls_hooks = True

    def reopen(port, ctx):
        """tls-port changed: close the old listeners, bind the new port now (a failure vetoes CONFIG SET)."""
        socks = []
        if port:
            try:
                socks = _bind_all(server, port)
            except OSError as exc:       # the old listeners keep serving (redis changeListenPort)
                server.log.warning(f"Failed listening on port {port} (tls), aborting: {exc}")
                raise ConfigError("Unable to listen on this port. Check server logs.") from None
        for srv in server.tls_listeners:
            srv.close()
        server.tls_listeners = []
        if socks:
            server.loop.create_task(_serve(server, socks, ctx))

    def tls_port_changed(port):
        ctx = server.tls_contexts[0]
        if port and ctx is None:
            try:
                ctx = server_context(cfg)
            except TLSConfigError as exc:
                server.log.warning(str(exc))
                raise ConfigError("Unable to update TLS configuration. Check server logs.") from None
            server.tls_contexts = (ctx, server.tls_contexts[1])
        reopen(port, ctx)

    def tls_settings_changed(_value):
        if not cfg["tls-port"] and not server.tls_contexts[0]:
            return          # redis reconfigures only while TLS is in use
        live = server.tls_contexts[0]
        try:
            if cfg["tls-replication"] or cfg["tls-cluster"]:
                client_context(cfg)
            ctx = server_context(cfg, into=live)     # new connections get the new settings; open ones keep theirs
        except TLSConfigError as exc:
            server.log.warning(str(exc))
            raise ConfigError("Unable to update TLS configuration. Check server logs.") from None
        server.tls_contexts = (ctx, server.tls_contexts[1])

    cfg.on_change("tls-port", tls_port_changed)
    for name in RELOAD_DIRECTIVES:
        cfg.on_change(name, tls_settings_changed)
