"""Connection commands (redis: PING, ECHO, SELECT, QUIT, HELLO, AUTH, RESET, CLIENT ...)."""
from engine.registry import command, container
from engine.commands._clientmem import fields as client_mem_fields

NOT_INTEGER = b"ERR value is not an integer or out of range"
SYNTAX_ERR = b"ERR syntax error"


def reply_help(c, lines):
    """Redis addReplyHelp: the command's lines plus the standard HELP line, as status replies."""
    c.reply.add_array_len(len(lines))
    for line in lines:
        c.reply.add_simple(line.encode())


def help_lines(cmd, lines):
    return [f"{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"] + lines + ["HELP", "    Prints this help."]


@command(
    "ping", -1, "fast", acl="connection",
    tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    docs={
        "summary": "Ping the server",
        "since": "1.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [{"name": "message", "type": "string", "flags": ["optional"]}],
    },
)
def ping_command(c, argv):
    if c.pubsub is not None and c.reply.resp == 2 and c.pubsub.active():
        c.reply.add_array_len(2)
        c.reply.add_bulk(b"pong")
        c.reply.add_bulk(argv[1] if len(argv) == 2 else b"")
    elif len(argv) > 2:
        c.error(b"ERR wrong number of arguments for 'ping' command")
    elif len(argv) == 2:
        c.reply.add_bulk(argv[1])
    else:
        c.reply.add_simple(b"PONG")


@command(
    "echo", 2, "loading stale fast", acl="connection",
    docs={
        "summary": "Echo the given string",
        "since": "1.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [{"name": "message", "type": "string"}],
    },
)
def echo_command(c, argv):
    c.reply.add_bulk(argv[1])


@command(
    "select", 2, "loading stale fast", acl="connection",
    docs={
        "summary": "Change the selected database for the current connection",
        "since": "1.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [{"name": "index", "type": "integer"}],
    },
)
def select_command(c, argv):
    try:
        index = int(argv[1])
    except ValueError:
        c.error(NOT_INTEGER)
        return
    if not 0 <= index < len(c.ks.dbs):
        c.error(b"ERR DB index is out of range")
        return
    c.select(index)
    c.reply.add_ok()


@command(
    "quit", -1, "noscript loading stale fast no_auth allow_busy", acl="connection",
    docs={"summary": "Close the connection", "since": "1.0.0", "group": "connection", "complexity": "O(1)"},
)
def quit_command(c, argv):
    c.reply.add_ok()
    c.close_after_reply = True


def authenticate(c, username, password, argv0=b"AUTH"):
    """Check credentials against the ACL users (engine/acl.py); True marks the client authenticated as
    that user, a failure goes to the ACL LOG. Without the ACL subsystem (bare engine): requirepass only."""
    server = c.server
    acl = server.extensions.get("acl") if server is not None else None
    if acl is not None:
        return acl.authenticate(c, username, password, argv0)
    required = server.config["requirepass"] if server is not None else ""
    if username != b"default":
        return False
    if required and password != required.encode():
        return False
    c.authenticated = True
    c.user = "default"
    return True


@command(
    "hello", -1, "noscript loading stale fast no_auth allow_busy", acl="connection",
    docs={
        "summary": "Handshake with Redis",
        "since": "6.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "history": [
            [
                "6.2.0",
                (
                    "`protover` made optional; when called without arguments the command reports the current "
                    "connection's context."
                ),
            ],
        ],
        "arguments": [
            {
                "name": "arguments",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "protover", "type": "integer"},
                    {
                        "name": "username_password",
                        "type": "block",
                        "token": "AUTH",
                        "flags": ["optional"],
                        "arguments": [
                            {"name": "username", "type": "string"},
                            {"name": "password", "type": "string"},
                        ],
                    },
                    {"name": "clientname", "type": "string", "token": "SETNAME", "flags": ["optional"]},
                ],
            },
        ],
    },
)
def hello_command(c, argv):
    ver = c.reply.resp
    if len(argv) >= 2:
        try:
            ver = int(argv[1])
        except ValueError:
            c.error(b"ERR Protocol version is not an integer or out of range")
            return
        if ver < 2 or ver > 3:
            c.error(b"NOPROTO unsupported protocol version")
            return
    j = 2
    name = None
    creds = None
    while j < len(argv):
        opt = argv[j].lower()
        if opt == b"auth" and j + 2 < len(argv):
            creds = (argv[j + 1], argv[j + 2])
            j += 3
        elif opt == b"setname" and j + 1 < len(argv):
            name = argv[j + 1]
            if not valid_client_name(name):
                c.error(b"ERR Client names cannot contain spaces, newlines or special characters.")
                return
            j += 2
        else:
            c.error(b"ERR Syntax error in HELLO option '" + argv[j] + b"'")
            return
    if creds is not None and not authenticate(c, creds[0], creds[1], argv[0]):
        c.error(b"WRONGPASS invalid username-password pair or user is disabled.")
        return
    if not c.authenticated:
        c.error(b"NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
                b"AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
                b"protocol version at the same time")
        return
    if name is not None:
        c.name = name or None
    c.reply.resp = ver
    r = c.reply
    r.add_map_len(7)
    r.add_bulk(b"server"); r.add_bulk(b"redis")
    r.add_bulk(b"version"); r.add_bulk(b"7.0.15")
    r.add_bulk(b"proto"); r.add_int(ver)
    r.add_bulk(b"id"); r.add_int(c.id)
    r.add_bulk(b"mode"); r.add_bulk(b"standalone")
    r.add_bulk(b"role"); r.add_bulk(b"slave" if c.ks.is_replica else b"master")
    r.add_bulk(b"modules"); r.add_array_len(0)


@command(
    "auth", -2, "noscript loading stale fast no_auth allow_busy", acl="connection",
    docs={
        "summary": "Authenticate to the server",
        "since": "1.0.0",
        "group": "connection",
        "complexity": "O(N) where N is the number of passwords defined for the user",
        "history": [["6.0.0", "Added ACL style (username and password)."]],
        "arguments": [
            {"name": "username", "type": "string", "since": "6.0.0", "flags": ["optional"]},
            {"name": "password", "type": "string"},
        ],
    },
)
def auth_command(c, argv):
    if len(argv) > 3:
        c.error(SYNTAX_ERR)
        return
    if len(argv) == 2:
        acl = c.server.extensions.get("acl") if c.server is not None else None
        if acl is not None:
            required = not acl.default.nopass
        else:
            required = c.server.config["requirepass"] if c.server is not None else ""
        if not required:
            c.error(b"ERR AUTH <password> called without any password configured for the default user. "
                    b"Are you sure your configuration is correct?")
            return
        username, password = b"default", argv[1]
    else:
        username, password = argv[1], argv[2]
    if authenticate(c, username, password, argv[0]):
        c.reply.add_ok()
    else:
        if c.server is not None:
            c.server.log.warning("AUTH failed")  # redis logs it in the ACL log; keep a trace
        c.error(b"WRONGPASS invalid username-password pair or user is disabled.")


@command(
    "reset", 1, "noscript loading stale fast no_auth allow_busy", acl="connection",
    docs={"summary": "Reset the connection", "since": "6.2.0", "group": "connection", "complexity": "O(1)"},
)
def reset_command(c, argv):
    server = c.server
    if server is not None:
        for ext in server.extensions.values():
            hook = getattr(ext, "reset_client", None)
            if hook is not None:
                hook(c)
    c.multi_queue = None
    c.multi_error = False
    c.watched = None
    c.select(0)
    c.reply.resp = 2
    c.name = None
    c.reply_mode = 0
    c.flags = 0
    c.authenticated = not (server is not None and server.dispatcher.auth_required)
    acl = server.extensions.get("acl") if server is not None else None
    if acl is not None:
        c.acl_user = acl.default
        c.user = "default"
    c.reply.add_simple(b"RESET")


container(
    "client",
    docs={
        "summary": "A container for client connection commands",
        "since": "2.4.0",
        "group": "connection",
        "complexity": "Depends on subcommand.",
    },
)
# ---------------------------------------------------------------------------- CLIENT


def valid_client_name(name):
    return all(33 <= ch <= 126 for ch in name)


@command(
    "client|id", 2, "noscript loading stale", acl="connection",
    docs={
        "summary": "Returns the client ID for the current connection",
        "since": "5.0.0",
        "group": "connection",
        "complexity": "O(1)",
    },
)
def client_id_command(c, argv):
    c.reply.add_int(c.id)


@command(
    "client|setname", 3, "noscript loading stale", acl="connection",
    docs={
        "summary": "Set the current connection name",
        "since": "2.6.9",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [{"name": "connection-name", "type": "string"}],
    },
)
def client_setname_command(c, argv):
    name = argv[2]
    if not valid_client_name(name):
        c.error(b"ERR Client names cannot contain spaces, newlines or special characters.")
        return
    c.name = name or None
    c.reply.add_ok()


@command(
    "client|getname", 2, "noscript loading stale", acl="connection",
    docs={
        "summary": "Get the current connection name",
        "since": "2.6.9",
        "group": "connection",
        "complexity": "O(1)",
    },
)
def client_getname_command(c, argv):
    if c.name:
        c.reply.add_bulk(c.name)
    else:
        c.reply.add_null()


def client_type(client):
    if client.is_master:
        return "master"
    if client.flags & FLAG_REPLICA:
        return "replica"
    if client.pubsub is not None and client.pubsub.active():
        return "pubsub"
    return "normal"


FLAG_REPLICA = 1
FLAG_NO_EVICT = 2
FLAG_MONITOR = 4
FLAG_READONLY = 1 << 8        # cluster/node_commands.py CLIENT_READONLY


def client_flags(client):
    flags = ""
    if client.flags & FLAG_REPLICA:
        flags += "S"
    if client.is_master:
        flags += "M"
    if client.pubsub is not None and client.pubsub.active():
        flags += "P"
    if client.multi_queue is not None:
        flags += "x"
    if client.blocked:
        flags += "b"
    ext = client.server.extensions.get("tracking") if client.server is not None else None
    st = ext.states.get(client) if ext is not None else None
    if st is not None:
        flags += "t"
        if st.broken:
            flags += "R"
        if st.bcast:
            flags += "B"
    if client.flags & FLAG_MONITOR:
        flags += "O"
    if client.flags & FLAG_READONLY:
        flags += "r"                                # READONLY against a cluster node
    if client.flags & FLAG_NO_EVICT:
        flags += "e"
    return flags or "N"


def tracking_redirect(client):
    """CLIENT LIST redir=: the redirection id while tracking is on (0 without one), else -1."""
    ext = client.server.extensions.get("tracking") if client.server is not None else None
    st = ext.states.get(client) if ext is not None else None
    return st.redirect if st is not None else -1


def client_info_line(client, now_ms, caller=None, argv=None):
    """One CLIENT LIST line with redis 7.0's fields (memory figures: engine/commands/_clientmem.py; `caller` and
    `argv` are the client running CLIENT LIST/INFO and its command, which it still holds)."""
    conn = client.conn
    mem = client_mem_fields(client, caller, argv)
    peer = conn.peer if conn is not None else "?:0"
    local = conn.local if conn is not None else "?:0"
    sub = psub = ssub = 0
    if client.pubsub is not None:
        sub, psub, ssub = client.pubsub.counts()
    multi = len(client.multi_queue) if client.multi_queue is not None else -1
    last = client.last_cmd.name if client.last_cmd is not None else "NULL"
    name = client.name.decode("utf-8", "replace") if client.name else ""
    age = max(0, (now_ms - client.created_ms) // 1000)
    idle = max(0, (now_ms - client.last_ms) // 1000)
    return (f"id={client.id} addr={peer} laddr={local} fd=8 name={name} age={age} idle={idle} "
            f"flags={client_flags(client)} db={client.db.id} sub={sub} psub={psub} ssub={ssub} multi={multi} "
            f"qbuf={mem['qbuf']} qbuf-free={mem['qbuf-free']} argv-mem={mem['argv-mem']} "
            f"multi-mem={mem['multi-mem']} rbs={mem['rbs']} rbp={mem['rbp']} obl={mem['obl']} "
            f"oll={mem['oll']} omem={mem['omem']} tot-mem={mem['tot-mem']} events={mem['events']} cmd={last} "
            f"user={client.user} "
            f"redir={tracking_redirect(client)} "
            f"resp={client.reply.resp}")


def all_clients(server):
    return [conn.client for conn in server.clients.values()]


@command(
    "client|info", 2, "noscript loading stale", acl="connection",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Returns information about the current client connection.",
        "since": "6.2.0",
        "group": "connection",
        "complexity": "O(1)",
    },
)
def client_info_command(c, argv):
    # redis shows the current command as the last one for CLIENT INFO
    c.last_cmd = c.cmd
    c.reply.add_verbatim((client_info_line(c, c.ks.now_ms, c, argv) + "\n").encode())


TYPES = {b"normal": "normal", b"master": "master", b"replica": "replica", b"slave": "replica", b"pubsub": "pubsub"}


@command(
    "client|list", -2, "admin noscript loading stale", acl="connection",
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get the list of client connections",
        "since": "2.4.0",
        "group": "connection",
        "complexity": "O(N) where N is the number of client connections",
        "history": [
            ["2.8.12", "Added unique client `id` field."],
            ["5.0.0", "Added optional `TYPE` filter."],
            ["6.0.0", "Added `user` field."],
            [
                "6.2.0",
                "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter.",
            ],
            ["7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."],
            ["7.0.3", "Added `ssub` field."],
        ],
        "arguments": [
            {
                "name": "normal_master_replica_pubsub",
                "type": "oneof",
                "token": "TYPE",
                "since": "5.0.0",
                "flags": ["optional"],
                "arguments": [
                    {"name": "normal", "type": "pure-token", "token": "NORMAL"},
                    {"name": "master", "type": "pure-token", "token": "MASTER"},
                    {"name": "replica", "type": "pure-token", "token": "REPLICA"},
                    {"name": "pubsub", "type": "pure-token", "token": "PUBSUB"},
                ],
            },
            {
                "name": "id",
                "type": "block",
                "token": "ID",
                "since": "6.2.0",
                "flags": ["optional"],
                "arguments": [{"name": "client-id", "type": "integer", "flags": ["multiple"]}],
            },
        ],
    },
)
def client_list_command(c, argv):
    clients = all_clients(c.server)
    if len(argv) == 4 and argv[2].lower() == b"type":
        kind = TYPES.get(argv[3].lower())
        if kind is None:
            c.error(b"ERR Unknown client type '" + argv[3] + b"'")
            return
        clients = [cl for cl in clients if client_type(cl) == kind]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        ids = []
        for raw in argv[3:]:
            try:
                value = int(raw)
                if value <= 0:
                    raise ValueError
            except ValueError:
                c.error(b"ERR Invalid client ID")
                return
            ids.append(value)
        clients = [cl for cl in clients if cl.id in ids]
    elif len(argv) != 2:
        c.error(SYNTAX_ERR)
        return
    c.last_cmd = c.cmd
    text = "".join(client_info_line(cl, c.ks.now_ms, c, argv) + "\n" for cl in clients)
    c.reply.add_verbatim(text.encode())


@command(
    "client|kill", -3, "admin noscript loading stale", acl="connection",
    docs={
        "summary": "Kill the connection of a client",
        "since": "2.4.0",
        "group": "connection",
        "complexity": "O(N) where N is the number of client connections",
        "history": [
            ["2.8.12", "Added new filter format."],
            ["2.8.12", "`ID` option."],
            ["3.2.0", "Added `master` type in for `TYPE` option."],
            [
                "5.0.0",
                "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility.",
            ],
            ["6.2.0", "`LADDR` option."],
        ],
        "arguments": [
            {
                "name": "filter",
                "type": "oneof",
                "arguments": [
                    {"name": "ip:port", "type": "string", "deprecated_since": "2.8.12"},
                    {
                        "name": "new-format",
                        "type": "oneof",
                        "flags": ["multiple"],
                        "arguments": [
                            {
                                "name": "client-id",
                                "type": "integer",
                                "token": "ID",
                                "since": "2.8.12",
                                "flags": ["optional"],
                            },
                            {
                                "name": "normal_master_slave_pubsub",
                                "type": "oneof",
                                "token": "TYPE",
                                "since": "2.8.12",
                                "flags": ["optional"],
                                "arguments": [
                                    {"name": "normal", "type": "pure-token", "token": "NORMAL"},
                                    {
                                        "name": "master",
                                        "type": "pure-token",
                                        "token": "MASTER",
                                        "since": "3.2.0",
                                    },
                                    {"name": "slave", "type": "pure-token", "token": "SLAVE"},
                                    {
                                        "name": "replica",
                                        "type": "pure-token",
                                        "token": "REPLICA",
                                        "since": "5.0.0",
                                    },
                                    {"name": "pubsub", "type": "pure-token", "token": "PUBSUB"},
                                ],
                            },
                            {"name": "username", "type": "string", "token": "USER", "flags": ["optional"]},
                            {"name": "ip:port", "type": "string", "token": "ADDR", "flags": ["optional"]},
                            {
                                "name": "ip:port",
                                "type": "string",
                                "token": "LADDR",
                                "since": "6.2.0",
                                "flags": ["optional"],
                            },
                            {"name": "yes/no", "type": "string", "token": "SKIPME", "flags": ["optional"]},
                        ],
                    },
                ],
            },
        ],
    },
)
def client_kill_command(c, argv):
    server = c.server
    if len(argv) == 3:
        # old style: CLIENT KILL addr:port
        for cl in all_clients(server):
            if cl.conn is not None and cl.conn.peer.encode() == argv[2]:
                kill_client(c, cl)
                c.reply.add_ok()
                return
        c.error(b"ERR No such client")
        return
    filters = {}
    skipme = True
    i = 2
    while i < len(argv):
        if i + 1 >= len(argv):
            c.error(SYNTAX_ERR)
            return
        opt, val = argv[i].lower(), argv[i + 1]
        if opt == b"id":
            try:
                filters["id"] = int(val)
                if filters["id"] <= 0:
                    raise ValueError
            except ValueError:
                c.error(b"ERR client-id should be greater than 0")
                return
        elif opt == b"type":
            kind = TYPES.get(val.lower())
            if kind is None:
                c.error(b"ERR Unknown client type '" + val + b"'")
                return
            filters["type"] = kind
        elif opt == b"addr":
            filters["addr"] = val.decode("latin-1")
        elif opt == b"laddr":
            filters["laddr"] = val.decode("latin-1")
        elif opt == b"user":
            acl = server.extensions.get("acl")
            if acl is not None and acl.get(val) is None:
                c.error(b"ERR No such user '" + val + b"'")
                return
            filters["user"] = val.decode("latin-1")
        elif opt == b"skipme":
            if val.lower() == b"yes":
                skipme = True
            elif val.lower() == b"no":
                skipme = False
            else:
                c.error(SYNTAX_ERR)
                return
        else:
            c.error(SYNTAX_ERR)
            return
        i += 2
    killed = 0
    for cl in all_clients(server):
        if "id" in filters and cl.id != filters["id"]:
            continue
        if "type" in filters and client_type(cl) != filters["type"]:
            continue
        if "addr" in filters and (cl.conn is None or cl.conn.peer != filters["addr"]):
            continue
        if "laddr" in filters and (cl.conn is None or cl.conn.local != filters["laddr"]):
            continue
        if "user" in filters and cl.user != filters["user"]:
            continue
        if cl is c and skipme:
            continue
        kill_client(c, cl)
        killed += 1
    c.reply.add_int(killed)


def kill_client(c, target):
    if target is c:
        c.close_after_reply = True
    elif target.conn is not None:
        target.conn.close()


@command(
    "client|pause", -3, "admin noscript loading stale", acl="connection",
    docs={
        "summary": "Stop processing commands from clients for some time",
        "since": "2.9.50",
        "group": "connection",
        "complexity": "O(1)",
        "history": [["6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."]],
        "arguments": [
            {"name": "timeout", "type": "integer"},
            {
                "name": "mode",
                "type": "oneof",
                "since": "6.2.0",
                "flags": ["optional"],
                "arguments": [
                    {"name": "write", "type": "pure-token", "token": "WRITE"},
                    {"name": "all", "type": "pure-token", "token": "ALL"},
                ],
            },
        ],
    },
)
def client_pause_command(c, argv):
    try:
        timeout = int(argv[2])
        if timeout < 0:
            raise ValueError
    except ValueError:
        c.error(b"ERR timeout is not an integer or out of range")
        return
    mode = "all"
    if len(argv) == 4:
        if argv[3].lower() == b"write":
            mode = "write"
        elif argv[3].lower() != b"all":
            c.error(b"ERR CLIENT PAUSE mode must be WRITE or ALL")
            return
    elif len(argv) > 4:
        c.error(SYNTAX_ERR)
        return
    c.server.pause_clients(c.ks.now_ms + timeout, mode)
    c.reply.add_ok()


@command(
    "client|unpause", 2, "admin noscript loading stale", acl="connection",
    docs={
        "summary": "Resume processing of clients that were paused",
        "since": "6.2.0",
        "group": "connection",
        "complexity": "O(N) Where N is the number of paused clients",
    },
)
def client_unpause_command(c, argv):
    c.server.unpause_clients()
    c.reply.add_ok()


@command(
    "client|reply", 3, "noscript loading stale", acl="connection",
    docs={
        "summary": "Instruct the server whether to reply to commands",
        "since": "3.2.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "on_off_skip",
                "type": "oneof",
                "arguments": [
                    {"name": "on", "type": "pure-token", "token": "ON"},
                    {"name": "off", "type": "pure-token", "token": "OFF"},
                    {"name": "skip", "type": "pure-token", "token": "SKIP"},
                ],
            },
        ],
    },
)
def client_reply_command(c, argv):
    mode = argv[2].lower()
    if mode == b"on":
        c.reply_mode = 0
        c.reply.add_ok()
    elif mode == b"off":
        c.reply_mode = 1
    elif mode == b"skip":
        if c.reply_mode == 0:
            c.reply_mode = 2
    else:
        c.error(SYNTAX_ERR)


@command(
    "client|no-evict", 3, "admin noscript loading stale", acl="connection",
    docs={
        "summary": "Set client eviction mode for the current connection",
        "since": "7.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "enabled",
                "type": "oneof",
                "arguments": [
                    {"name": "on", "type": "pure-token", "token": "ON"},
                    {"name": "off", "type": "pure-token", "token": "OFF"},
                ],
            },
        ],
    },
)
def client_no_evict_command(c, argv):
    mode = argv[2].lower()
    if mode == b"on":
        c.flags |= FLAG_NO_EVICT
    elif mode == b"off":
        c.flags &= ~FLAG_NO_EVICT
    else:
        c.error(SYNTAX_ERR)
        return
    c.reply.add_ok()


@command("client|setinfo", 4, "noscript loading stale", acl="connection",
         docs={"summary": "Set client or connection specific info", "since": "7.2.0", "group": "connection",
               "complexity": "O(1)",
               "arguments": [{"name": "attr", "type": "oneof", "arguments": [
                   {"name": "libname", "type": "string", "token": "LIB-NAME"},
                   {"name": "libver", "type": "string", "token": "LIB-VER"}]}]})
def client_setinfo_command(c, argv):
    # redis 7.2's CLIENT SETINFO: clients (redis-py, go-redis) send it on connect and some refuse to
    # continue when it fails, so it is implemented although 7.0.15 does not have it.
    attr = argv[2].lower()
    if attr not in (b"lib-name", b"lib-ver"):
        c.error(b"ERR Unrecognized option '" + argv[2] + b"'")
        return
    if not valid_client_name(argv[3]) and argv[3]:
        c.error(b"ERR " + attr.upper() + b" cannot contain spaces, newlines or special characters.")
        return
    c.info[attr.decode()] = argv[3]
    c.reply.add_ok()


@command(
    "client|unblock", -3, "admin noscript loading stale", acl="connection",
    docs={
        "summary": "Unblock a client blocked in a blocking command from a different connection",
        "since": "5.0.0",
        "group": "connection",
        "complexity": "O(log N) where N is the number of client connections",
        "arguments": [
            {"name": "client-id", "type": "integer"},
            {
                "name": "timeout_error",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "timeout", "type": "pure-token", "token": "TIMEOUT"},
                    {"name": "error", "type": "pure-token", "token": "ERROR"},
                ],
            },
        ],
    },
)
def client_unblock_command(c, argv):
    try:
        target_id = int(argv[2])
    except ValueError:
        c.error(NOT_INTEGER)
        return
    with_error = False
    if len(argv) == 4:
        if argv[3].lower() == b"error":
            with_error = True
        elif argv[3].lower() != b"timeout":
            c.error(b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
            return
    elif len(argv) > 4:
        c.error(SYNTAX_ERR)
        return
    blocking = c.server.extensions.get("blocking")
    ok = blocking is not None and blocking.unblock(target_id, with_error)
    c.reply.add_int(1 if ok else 0)


@command(
    "client|help", 2, "loading stale", acl="connection",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "connection",
        "complexity": "O(1)",
    },
)
def client_help_command(c, argv):
    reply_help(c, help_lines("CLIENT", [
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
    ]))
