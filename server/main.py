"""cachemere-server [CONFIG_FILE] [--directive value ...] [-]: the redis-server command line."""
import asyncio
import os
import sys


def _daemonize():
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)


def main(argv=None):
    from server.config import Config, ConfigError, ConfigExit
    argv = sys.argv[1:] if argv is None else argv
    try:
        config = Config.from_argv(argv)
    except ConfigExit as done:          # --version / --help
        stream = sys.stdout if done.stream == "stdout" else sys.stderr
        stream.write(done.text)
        stream.flush()
        return done.code
    except ConfigError as exc:
        sys.stderr.write(str(exc) if str(exc).endswith("\n") else str(exc) + "\n")
        return 1
    if config["daemonize"]:
        _daemonize()
    if config["dir"]:
        try:
            os.chdir(config["dir"])
        except OSError as exc:
            sys.stderr.write(f"Can't chdir to '{config['dir']}': {exc.strerror}\n")
            return 1
    pidfile = config["pidfile"]
    if pidfile:
        with open(pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    try:
        import uvloop
        uvloop.install()
    except ImportError:  # uvloop is a dependency; plain asyncio still works
        pass
    import gc
    # every command allocates an argv list; collect young objects less often and keep the startup heap
    # out of collections altogether (the keyspace itself holds no reference cycles)
    gc.set_threshold(50000, 20, 100)
    if os.environ.get("CACHEMERE_DEFER_WRITES") == "0":     # A/B switch for bench/eviction_latency.py
        from server.connection import set_deferred_writes
        set_deferred_writes(False)
    from server.server import Server
    server = Server(config)
    from server import startup_checks
    if not startup_checks.run(server):           # a directive the server cannot honour: refuse to start
        return 1
    from server import security
    if not security.load_at_startup(server):    # bad users / aclfile / rename-command: refuse to start
        return 1
    from server import persistence
    if persistence.install(server, defer_load=True) is None:   # the data on disk cannot be loaded: refuse to start
        return 1
    import replication
    import cluster

    def install_replication_and_cluster():
        replication.install(server)
        cluster.install(server)                  # cluster-enabled yes: the bus, nodes.conf, redirections
    if server.pending_load is not None:
        # replication reads what the load found (repl-id/offset, expired keys) and connects to a primary only
        # once the data is in (redis: replicationCron does not run while loading)
        server.after_load.append(install_replication_and_cluster)
    else:
        install_replication_and_cluster()
    server.pubsub      # installs pub/sub now: it also applies client-output-buffer-limit normal
    gc.freeze()
    try:
        return asyncio.run(server.serve())
    except OSError as exc:
        server.log.warning(f"Failed listening: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
