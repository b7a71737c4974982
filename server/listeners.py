"""CONFIG SET port / bind at run time, as redis 7.0's applyPort (changeListenPort) and applyBind (changeBindAddr).

port: the new port is bound first, so a port that cannot be bound refuses the CONFIG SET ("Unable to listen on
this port. Check server logs.") and the old listener keeps serving; then the old one is closed. bind: the old
listeners (TCP and TLS) are closed, the new addresses bound, and on a failure the old addresses are bound again
("Failed to bind to specified addresses."). Connections already open stay either way. Both callbacks are
idempotent, since config.set_many re-applies the restored values of a refused multi-parameter CONFIG SET."""
import asyncio

from server.config import ConfigError

PORT_ERR = "Unable to listen on this port. Check server logs."
BIND_ERR = "Failed to bind to specified addresses."


def install(server):
    from server.tls import _bind_all_addresses, _serve
    cfg = server.config
    server._bound_resp = (cfg["port"], tuple(cfg["bind"] or ["127.0.0.1"]))

    def serve(socks):
        from server.connection import RespProtocol

        async def start():
            for sock in socks:
                srv = await server.loop.create_server(lambda: RespProtocol(server), sock=sock,
                                                      backlog=cfg["tcp-backlog"])
                server.listeners.append(srv)
        return asyncio.ensure_future(start())

    def bind(port, binds, kind):
        return _bind_all_addresses(server, port, kind, list(binds)) if port else []

    def close(which):
        for srv in getattr(server, which):
            srv.close()
        setattr(server, which, [])

    def change_port(port):
        old_port, binds = server._bound_resp
        if port == old_port:
            return
        try:
            socks = bind(port, binds, "TCP")
        except OSError as exc:
            server.log.warning(f"Failed listening on port {port} (tcp), aborting: {exc}")
            raise ConfigError(PORT_ERR) from None
        close("listeners")
        serve(socks)
        server._bound_resp = (port, binds)

    def change_bind(new_binds):
        port, old_binds = server._bound_resp
        binds = tuple(new_binds or ["127.0.0.1"])
        if binds == old_binds:
            return
        tls_port = cfg["tls-port"] if server.tls_contexts[0] is not None else 0
        close("listeners")
        if tls_port:
            close("tls_listeners")
        try:
            socks = bind(port, binds, "TCP")
            try:
                tls_socks = bind(tls_port, binds, "TLS")
            except OSError:
                for s in socks:
                    s.close()
                raise
        except OSError as exc:
            server.log.warning(f"Failed to bind, trying to restore old listening sockets. ({exc})")
            socks, tls_socks = bind(port, old_binds, "TCP"), bind(tls_port, old_binds, "TLS")
            serve(socks)
            if tls_socks:
                server.loop.create_task(_serve(server, tls_socks, server.tls_contexts[0]))
            raise ConfigError(BIND_ERR) from None
        serve(socks)
        if tls_socks:
            server.loop.create_task(_serve(server, tls_socks, server.tls_contexts[0]))
        server._bound_resp = (port, binds)

    cfg.on_change("port", change_port)
    cfg.on_change("bind", change_bind)
