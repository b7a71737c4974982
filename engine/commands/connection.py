"""Connection commands (redis: PING, ECHO, SELECT, QUIT...)."""
from engine.registry import command


@command("ping", -1, "fast", acl="connection",
         docs={"summary": "Ping the server", "since": "1.0.0", "group": "connection", "complexity": "O(1)",
               "arguments": [{"name": "message", "type": "string", "flags": ["optional"]}]})
def ping_command(c, argv):
    if len(argv) > 2:
        c.error(b"ERR wrong number of arguments for 'ping' command")
    elif c.pubsub is not None and c.reply.resp == 2 and c.pubsub.count():
        c.reply.add_array_len(2)
        c.reply.add_bulk(b"pong")
        c.reply.add_bulk(argv[1] if len(argv) == 2 else b"")
    elif len(argv) == 2:
        c.reply.add_bulk(argv[1])
    else:
        c.reply.add_simple(b"PONG")


@command("echo", 2, "fast", acl="connection",
         docs={"summary": "Echo the given string", "since": "1.0.0", "group": "connection", "complexity": "O(1)",
               "arguments": [{"name": "message", "type": "string"}]})
def echo_command(c, argv):
    c.reply.add_bulk(argv[1])


@command("select", 2, "loading stale fast", acl="keyspace",
         docs={"summary": "Change the selected database for the current connection", "since": "1.0.0",
               "group": "connection", "complexity": "O(1)", "arguments": [{"name": "index", "type": "integer"}]})
def select_command(c, argv):
    try:
        index = int(argv[1])
    except ValueError:
        c.error(b"ERR value is not an integer or out of range")
        return
    if not 0 <= index < len(c.ks.dbs):
        c.error(b"ERR DB index is out of range")
        return
    c.select(index)
    c.reply.add_ok()


@command("quit", -1, "allow_busy noscript loading stale fast no_auth", acl="connection",
         docs={"summary": "Close the connection", "since": "1.0.0", "group": "connection", "complexity": "O(1)",
               "doc_flags": ["deprecated"], "deprecated_since": "7.2.0", "replaced_by": "just closing the connection"})
def quit_command(c, argv):
    c.reply.add_ok()
    c.close_after_reply = True


@command("hello", -1, "noscript loading stale fast no_auth", acl="connection",
         docs={"summary": "Handshake with Redis", "since": "6.0.0", "group": "connection", "complexity": "O(1)",
               "history": [["6.2.0", "`protover` made optional; when called without arguments the command reports "
                                     "the current connection's context."]],
               "arguments": [{"name": "arguments", "type": "block", "flags": ["optional"], "arguments": [
                   {"name": "protover", "type": "integer"},
                   {"name": "username_password", "type": "block", "token": "AUTH", "flags": ["optional"],
                    "arguments": [{"name": "username", "type": "string"}, {"name": "password", "type": "string"}]},
                   {"name": "clientname", "type": "string", "token": "SETNAME", "flags": ["optional"]}]}]})
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
    auth = None
    while j < len(argv):
        opt = argv[j].lower()
        if opt == b"auth" and j + 2 < len(argv):
            auth = (argv[j + 1], argv[j + 2])
            j += 3
        elif opt == b"setname" and j + 1 < len(argv):
            name = argv[j + 1]
            j += 2
        else:
            c.error(b"ERR Syntax error in HELLO option '" + argv[j] + b"'")
            return
    if auth is not None:
        check = getattr(c.server, "authenticate", None)
        if check is None or not check(c, auth[0], auth[1]):
            c.error(b"WRONGPASS invalid username-password pair or user is disabled.")
            return
    if not c.authenticated:
        c.error(b"NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
                b"<proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
                b"protocol version at the same time")
        return
    if name is not None:
        c.name = name
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
