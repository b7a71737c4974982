"""Server commands (redis: INFO, CONFIG, TIME, SHUTDOWN, DEBUG, SLOWLOG, LATENCY, MONITOR, ROLE)."""
import time

from engine.context import ConfigError
from engine.registry import command, container
from protocol.resp import parse_ll
from engine.commands.connection import reply_help, help_lines, FLAG_MONITOR

SYNTAX_ERR = b"ERR syntax error"
NOT_INTEGER = b"ERR value is not an integer or out of range"


@command(
    "info", -1, "loading stale", acl="dangerous",
    tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    docs={
        "summary": "Get information and statistics about the server",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(1)",
        "history": [["7.0.0", "Added support for taking multiple section arguments."]],
        "arguments": [{"name": "section", "type": "string", "flags": ["optional", "multiple"]}],
    },
)
def info_command(c, argv):
    text = c.server.info_text([a.decode("latin-1").lower() for a in argv[1:]])
    c.reply.add_verbatim(text.encode())


container(
    "config",
    docs={
        "summary": "A container for server configuration commands",
        "since": "2.0.0",
        "group": "server",
        "complexity": "Depends on subcommand.",
    },
)
@command(
    "config|get", -3, "admin noscript loading stale",
    docs={
        "summary": "Get the values of configuration parameters",
        "since": "2.0.0",
        "group": "server",
        "complexity": "O(N) when N is the number of configuration parameters provided",
        "history": [["7.0.0", "Added the ability to pass multiple pattern parameters in one call"]],
        "arguments": [
            {
                "name": "parameter",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [{"name": "parameter", "type": "string"}],
            },
        ],
    },
)
def config_get_command(c, argv):
    pairs = c.server.config.get_pattern(argv[2:])
    c.reply.add_map_len(len(pairs))
    for name, value in pairs:
        c.reply.add_bulk(name)
        c.reply.add_bulk(value)


@command(
    "config|set", -4, "admin noscript loading stale",
    tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
    docs={
        "summary": "Set configuration parameters to the given values",
        "since": "2.0.0",
        "group": "server",
        "complexity": "O(N) when N is the number of configuration parameters provided",
        "history": [["7.0.0", "Added the ability to set multiple parameters in one call."]],
        "arguments": [
            {
                "name": "parameter_value",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [{"name": "parameter", "type": "string"}, {"name": "value", "type": "string"}],
            },
        ],
    },
)
def config_set_command(c, argv):
    args = argv[2:]
    if len(args) % 2:
        c.error(b"ERR wrong number of arguments for 'config|set' command")
        return
    try:
        local = c.server.is_local_client(c)
        c.server.config.set_many([(args[i], args[i + 1]) for i in range(0, len(args), 2)], local_client=local,
                                 loading=getattr(c.server, "loading", None) is not None)
    except ConfigError as exc:
        c.error(str(exc).encode())
        return
    c.reply.add_ok()


@command(
    "config|resetstat", 2, "admin noscript loading stale",
    docs={
        "summary": "Reset the stats returned by INFO",
        "since": "2.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def config_resetstat_command(c, argv):
    c.server.reset_stats()
    c.reply.add_ok()


@command(
    "config|rewrite", 2, "admin noscript loading stale",
    docs={
        "summary": "Rewrite the configuration file with the in memory configuration",
        "since": "2.8.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def config_rewrite_command(c, argv):
    if not c.server.config.config_file:
        c.error(b"ERR The server is running without a config file")
        return
    try:
        c.server.config.rewrite()
    except (ConfigError, OSError) as exc:
        c.server.log.warning(f"CONFIG REWRITE failed: {exc}")
        c.error(b"ERR Rewriting config file: " + str(exc).encode())
        return
    c.server.log.notice("CONFIG REWRITE executed with success.")
    c.reply.add_ok()


@command(
    "config|help", 2, "loading stale",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def config_help_command(c, argv):
    reply_help(c, help_lines("CONFIG", [
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
    ]))


@command(
    "time", 1, "loading stale fast",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Return the current server time",
        "since": "2.6.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def time_command(c, argv):
    now = time.time()
    sec = int(now)
    c.reply.add_array_len(2)
    c.reply.add_bulk(str(sec).encode())
    c.reply.add_bulk(str(int((now - sec) * 1e6)).encode())


@command(
    "shutdown", -1, "admin noscript loading stale no_multi allow_busy",
    docs={
        "summary": "Synchronously save the dataset to disk and then shut down the server",
        "since": "1.0.0",
        "group": "server",
        "complexity": (
            "O(N) when saving, where N is the total number of keys in all databases when saving data, "
            "otherwise O(1)"
        ),
        "history": [["7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."]],
        "arguments": [
            {
                "name": "nosave_save",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "nosave", "type": "pure-token", "token": "NOSAVE"},
                    {"name": "save", "type": "pure-token", "token": "SAVE"},
                ],
            },
            {"name": "now", "type": "pure-token", "token": "NOW", "since": "7.0.0", "flags": ["optional"]},
            {
                "name": "force",
                "type": "pure-token",
                "token": "FORCE",
                "since": "7.0.0",
                "flags": ["optional"],
            },
            {
                "name": "abort",
                "type": "pure-token",
                "token": "ABORT",
                "since": "7.0.0",
                "flags": ["optional"],
            },
        ],
    },
)
def shutdown_command(c, argv):
    save = None
    now = False
    force = False
    for arg in argv[1:]:
        a = arg.lower()
        if a == b"nosave":
            save = False
        elif a == b"save":
            save = True
        elif a == b"now":
            now = True
        elif a == b"force":
            force = True
        elif a == b"abort":
            c.error(b"ERR No shutdown in progress.")
            return
        else:
            c.error(SYNTAX_ERR)
            return
    prepared = False
    if c.server.shutdown_requested is None and (now or not c.server.shutdown_waits_for_replicas()):
        # redis prepareForShutdown runs inside SHUTDOWN: a failed final save answers an error and the
        # server goes on, unless FORCE (with lagging replicas it runs after the wait, as in redis)
        if not c.server.prepare_shutdown(save, force):
            c.error(b"ERR Errors trying to SHUTDOWN. Check logs.")
            return
        prepared = True
    c.server.request_shutdown(save=save, reason="SHUTDOWN", now=now, prepared=prepared, force=force)
    # redis closes the connection without a reply when the shutdown goes ahead
    c.close_after_reply = True


def debug_allowed(c):
    setting = c.server.config["enable-debug-command"]
    if setting in ("yes", True):
        return True
    if setting == "local" and c.conn is not None and (c.conn.peer.startswith("127.") or c.conn.peer.startswith("::1")):
        return True
    return False


@command(
    "debug", -2, "admin noscript loading stale protected",
    docs={
        "summary": "A container for debugging commands",
        "since": "1.0.0",
        "group": "server",
        "complexity": "Depends on subcommand.",
        "doc_flags": ["syscmd"],
    },
)
def debug_command(c, argv):
    if not debug_allowed(c):
        c.error(b'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run '
                b'it from a local connection, otherwise you need to set this option in the configuration file, '
                b'and then restart the server.')
        return
    sub = argv[1].lower()
    if sub == b"sleep" and len(argv) == 3:
        try:
            secs = float(argv[2])
        except ValueError:
            c.error(b"ERR value is not a valid float")
            return
        time.sleep(max(0.0, secs))
        c.reply.add_ok()
    elif sub == b"set-active-expire" and len(argv) == 3:
        c.server.active_expire_enabled = argv[2] != b"0"
        c.reply.add_ok()
    elif sub == b"object" and len(argv) == 3:
        e = c.db.lookup_write(argv[2])
        if e is None:
            c.error(b"ERR no such key")
            return
        from engine.core import type_name
        c.reply.add_simple(b"Value at:0x0 refcount:1 encoding:%s serializedlength:%d lru:%d lru_seconds_idle:0"
                           % (type_name(e.value), len(e.value) if isinstance(e.value, bytes) else 0, e.lru))
    elif sub == b"populate" and 3 <= len(argv) <= 5:
        debug_populate(c, argv)
    elif sub == b"slot-index" and len(argv) >= 3:
        from engine.commands.migrate import debug_slot_index    # Cachemere-only (cluster keyspace tests)
        debug_slot_index(c, argv)
    elif sub == b"help":
        reply_help(c, help_lines("DEBUG", [
            "OBJECT <key>", "    Show low level info about the key and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cluster slots are not respected so keys not belonging to the",
            "    current node can be created in cluster mode.",
            "SET-ACTIVE-EXPIRE <0|1>", "    Setting it to 0 disables expiring keys in background.",
            "SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
        ]))
    else:
        hook = c.server.extensions.get("debug")
        if hook is not None and hook.debug(c, argv):
            return
        # redis debugCommand has no subcommand table: addReplySubcommandSyntaxError
        c.error(b"ERR unknown subcommand or wrong number of arguments for '" + argv[1][:128] + b"'. Try DEBUG HELP.")


def _positive_long(c, arg):
    """redis getPositiveLongFromObjectOrReply (a non-number gets the range text too, as redis answers)."""
    n = parse_ll(arg)
    if n is None or n < 0:
        c.error(b"ERR value is out of range, must be positive")
        return None
    return n


def debug_populate(c, argv):
    """DEBUG POPULATE count [prefix] [size] (redis debug.c): string keys <prefix>:<n> = "value:<n>" (padded with
    zero bytes or cut to `size`), existing keys skipped; nothing is propagated."""
    count = _positive_long(c, argv[2])
    if count is None:
        return
    size = 0
    if len(argv) == 5:
        size = _positive_long(c, argv[4])
        if size is None:
            return
    prefix = argv[3] if len(argv) >= 4 else b"key"
    db = c.db
    modified = c.ks.on_key_modified
    prefix += b":"
    for j in range(count):
        key = prefix + b"%d" % j
        if db.lookup_write(key) is not None:
            continue
        val = b"value:%d" % j
        if size:
            val = val[:size] + bytes(max(0, size - len(val)))
        db.add(key, val)
        if modified is not None:
            modified(db, key)
    c.reply.add_ok()


container(
    "slowlog",
    docs={
        "summary": "A container for slow log commands",
        "since": "2.2.12",
        "group": "server",
        "complexity": "Depends on subcommand.",
    },
)
@command(
    "slowlog|get", -2, "admin loading stale",
    tips=("request_policy:all_nodes", "nondeterministic_output"),
    docs={
        "summary": "Get the slow log's entries",
        "since": "2.2.12",
        "group": "server",
        "complexity": "O(N) where N is the number of entries returned",
        "history": [["4.0.0", "Added client IP address, port and name to the reply."]],
        "arguments": [{"name": "count", "type": "integer", "flags": ["optional"]}],
    },
)
def slowlog_get_command(c, argv):
    count = 10
    if len(argv) == 3:
        try:
            count = int(argv[2])
            if count < -1:
                raise ValueError
        except ValueError:
            c.error(b"ERR count should be greater than or equal to -1")
            return
        if count == -1:
            count = len(c.server.slowlog)
    entries = c.server.slowlog[:count]
    c.reply.add_array_len(len(entries))
    for entry_id, ts, usec, args, peer, name in entries:
        c.reply.add_array_len(6)
        c.reply.add_int(entry_id)
        c.reply.add_int(ts)
        c.reply.add_int(usec)
        c.reply.add_bulk_list(args)
        c.reply.add_bulk(peer.encode())
        c.reply.add_bulk(name or b"")


@command(
    "slowlog|len", 2, "admin loading stale",
    tips=("request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"),
    docs={"summary": "Get the slow log's length", "since": "2.2.12", "group": "server", "complexity": "O(1)"},
)
def slowlog_len_command(c, argv):
    c.reply.add_int(len(c.server.slowlog))


@command(
    "slowlog|reset", 2, "admin loading stale",
    tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
    docs={
        "summary": "Clear all entries from the slow log",
        "since": "2.2.12",
        "group": "server",
        "complexity": "O(N) where N is the number of entries in the slowlog",
    },
)
def slowlog_reset_command(c, argv):
    c.server.slowlog.clear()
    c.reply.add_ok()


@command(
    "slowlog|help", 2, "loading stale",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "6.2.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def slowlog_help_command(c, argv):
    reply_help(c, help_lines("SLOWLOG", [
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
    ]))


@command(
    "monitor", 1, "admin noscript loading stale",
    docs={
        "summary": "Listen for all requests received by the server in real time",
        "since": "1.0.0",
        "group": "server",
    },
)
def monitor_command(c, argv):
    if c.multi_queue is not None:
        return
    c.flags |= FLAG_MONITOR
    c.server.add_monitor(c.conn)
    c.reply.add_ok()


@command(
    "role", 1, "noscript loading stale fast", acl="admin dangerous",
    docs={
        "summary": "Return the role of the instance in the context of replication",
        "since": "2.8.12",
        "group": "server",
        "complexity": "O(1)",
    },
)
def role_command(c, argv):
    repl = c.server.extensions.get("replication")
    if repl is not None:
        repl.role_reply(c)
        return
    c.reply.add_array_len(3)
    c.reply.add_bulk(b"master")
    c.reply.add_int(0)
    c.reply.add_array_len(0)
