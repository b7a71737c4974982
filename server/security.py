"""The server side of access control: the ACL subsystem's hooks, `user`/`aclfile`/`rename-command` from the
conf, `requirepass`, protected mode (redis 7.0 clientAcceptHandler) and the CONFIG SET local-client rule.

``install(server)`` runs in Server.__init__ (the ACL table exists before any client); ``load_at_startup``
runs once the config is final (redis ACLLoadUsersAtStartup) and returns False after logging why the server
must not start.
"""
from engine import registry
from engine.acl import Acl

DENIED = (b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set "
          b"for the default user. In this mode connections are only accepted from the loopback interface. If you "
          b"want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just "
          b"disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface "
          b"by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not "
          b"publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
          b"Alternatively you can just disable the protected mode by editing the Redis configuration file, and "
          b"setting the protected mode option to 'no', and then restarting the server. 3) If you started the "
          b"server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an "
          b"authentication password for the default user. NOTE: You only need to do one of the above things in "
          b"order for the server to start accepting connections from the outside.\r\n")


def install(server):
    cfg = server.config
    acl = Acl(server, cfg["acl-pubsub-default"], cfg["acllog-max-len"])
    server.extensions["acl"] = acl
    server.acl = acl
    server.dispatcher.acl_denied = acl.denied
    if cfg["requirepass"]:
        acl.set_default_password(cfg["requirepass"])
    acl.default_changed()
    cfg.on_change("requirepass", acl.set_default_password)
    cfg.on_change("acl-pubsub-default", lambda v: setattr(acl, "pubsub_all", v == "allchannels"))
    try:
        cfg.add_rewrite_source("user", acl.conf_lines)
    except AttributeError:
        pass
    return acl


def load_at_startup(server) -> bool:
    """rename-command and the conf's users / aclfile; False (after logging) when the server must not start."""
    cfg = server.config
    acl = server.extensions["acl"]
    log = server.log
    users = []
    for extra in getattr(cfg, "extra", ()):
        if extra.name == "rename-command":
            old, new = extra.args[0].encode("latin-1"), extra.args[1].encode("latin-1")
            if not registry.rename_command(old, new):
                spec = registry.COMMANDS.get(old.lower())
                why = "No such command in rename-command" if spec is None else "Target command name already exists"
                log.warning("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, "
                            "at line %d\n>>> '%s'\n%s" % (extra.line_number, extra.line, why))
                return False
        elif extra.name == "user":
            users.append([a.encode("latin-1") for a in extra.args])
    if cfg["aclfile"] and users:
        log.warning("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is "
                    "invalid. This setup is very likely to lead to configuration errors and security holes, please "
                    "define either an ACL file or declare users directly in your redis.conf, but not both.")
        return False
    try:
        acl.load_conf_users(users)
    except ValueError as e:
        log.warning(str(e))
        log.warning("Critical error while loading ACLs. Exiting.")
        return False
    if cfg["aclfile"]:
        errors = acl.load_file(cfg["aclfile"])
        if errors:
            log.warning("Aborting Redis startup because of ACL errors: %s" % errors)
            return False
    for name, u in acl.users.items():
        if not u.enabled and name != b"default" and name in {x[0] for x in users}:
            log.notice("The user '%s' is disabled (there is no 'on' modifier in the user description). Make sure "
                       "this is not a configuration error." % name.decode("latin-1"))
    return True


def is_local_peer(peer: str) -> bool:
    """redis connIsLocal: loopback (127.0.0.0/8, ::1) or a unix socket."""
    if not peer:
        return True                       # unix socket: no address
    host = peer.rsplit(":", 1)[0] if not peer.startswith("/") else peer
    host = host.strip("[]")
    if peer.startswith("/"):
        return True
    if host.startswith("::ffff:"):
        host = host[7:]
    return host.startswith("127.") or host == "::1" or host == "localhost"


def protected_mode_denies(server, peer: str) -> bool:
    """redis 7.0 clientAcceptHandler: protected-mode yes, the default user without a password, and a
    client that is not on loopback."""
    if not server.config["protected-mode"]:
        return False
    acl = server.extensions.get("acl")
    if acl is None or not acl.default.nopass:
        return False
    return not is_local_peer(peer)


REDACTED = b"(redacted)"


def redact(spec, argv):
    """The argv MONITOR and SLOWLOG show (redis redactClientCommandArgument): passwords and ACL rules hidden."""
    name = spec.name if spec is not None else ""
    if name not in _REDACTORS:
        return argv
    out = list(argv)
    _REDACTORS[name](out)
    return out


def _redact_auth(argv):
    for j in range(1, min(len(argv), 3)):
        argv[j] = REDACTED


def _redact_hello(argv):
    j = 2
    while j < len(argv):
        if argv[j].lower() == b"auth" and j + 2 < len(argv):
            argv[j + 1] = argv[j + 2] = REDACTED
            j += 3
        elif argv[j].lower() == b"setname" and j + 1 < len(argv):
            j += 2
        else:
            break


def _redact_setuser(argv):
    for j in range(2, len(argv)):
        argv[j] = REDACTED


_SENSITIVE = None


def _redact_config_set(argv):
    global _SENSITIVE
    if _SENSITIVE is None:
        from server.config import DIRECTIVES
        _SENSITIVE = {name.encode() for d in DIRECTIVES if d.sensitive for name in d.names}
    for j in range(2, len(argv) - 1, 2):
        if argv[j].lower() in _SENSITIVE:
            argv[j + 1] = REDACTED


def _redact_migrate(argv):
    """redis migrateCommand redacts the AUTH password and the AUTH2 username and password."""
    j = 6
    while j < len(argv):
        opt = argv[j].lower()
        if opt == b"auth" and j + 1 < len(argv):
            argv[j + 1] = REDACTED
            j += 2
        elif opt == b"auth2" and j + 2 < len(argv):
            argv[j + 1] = argv[j + 2] = REDACTED
            j += 3
        elif opt == b"keys":
            break
        else:
            j += 1


_REDACTORS = {"auth": _redact_auth, "migrate": _redact_migrate, "hello": _redact_hello, "acl|setuser": _redact_setuser,
              "config|set": _redact_config_set}
