"""ACL and MODULE commands (redis acl.c aclCommand, module.c moduleCommand).

The model lives in engine/acl.py; the handlers here parse arguments and render replies exactly as redis 7.0.
Declarations printed by ``tools/specgen.py acl module`` (module|load/loadex/unload carry the hidden
``protected`` flag: refused unless enable-module-command allows it).
"""
import os

from engine import registry
from engine.registry import command, container
from engine import acl as aclmod
from engine.commands.connection import reply_help, help_lines

NOT_INTEGER = b"ERR value is not an integer or out of range"
NO_ACL_FILE = (b"ERR This Redis instance is not configured to use an ACL file. You may want to specify users via "
               b"the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration "
               b"file set) in order to store users in the Redis configuration.")


def get_acl(c):
    acl = c.server.extensions.get("acl") if c.server is not None else None
    if acl is None:
        raise RuntimeError("ACL subsystem not installed")
    return acl


container(
    "acl",
    docs={
        "summary": "A container for Access List Control commands ",
        "since": "6.0.0",
        "group": "server",
        "complexity": "Depends on subcommand.",
    },
)


@command(
    "acl|cat", -2, "noscript loading stale",
    docs={
        "summary": "List the ACL categories or the commands inside a category",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(1) since the categories and commands are a fixed set.",
        "arguments": [{"name": "categoryname", "type": "string", "flags": ["optional"]}],
    },
)
def acl_cat_command(c, argv):
    _acl_cat_command(c, argv)


@command(
    "acl|deluser", -3, "admin noscript loading stale",
    docs={
        "summary": "Remove the specified ACL users and the associated rules",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(1) amortized time considering the typical user.",
        "arguments": [{"name": "username", "type": "string", "flags": ["multiple"]}],
    },
)
def acl_deluser_command(c, argv):
    _acl_deluser_command(c, argv)


@command(
    "acl|dryrun", -4, "admin noscript loading stale",
    docs={
        "summary": "Returns whether the user can execute the given command without executing the command.",
        "since": "7.0.0",
        "group": "server",
        "complexity": "O(1).",
        "arguments": [
            {"name": "username", "type": "string"},
            {"name": "command", "type": "string"},
            {"name": "arg", "type": "string", "flags": ["optional", "multiple"]},
        ],
    },
)
def acl_dryrun_command(c, argv):
    _acl_dryrun_command(c, argv)


@command(
    "acl|genpass", -2, "noscript loading stale",
    docs={
        "summary": "Generate a pseudorandom secure password to use for ACL users",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(1)",
        "arguments": [{"name": "bits", "type": "integer", "flags": ["optional"]}],
    },
)
def acl_genpass_command(c, argv):
    _acl_genpass_command(c, argv)


@command(
    "acl|getuser", 3, "admin noscript loading stale",
    docs={
        "summary": "Get the rules for a specific ACL user",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(N). Where N is the number of password, command and pattern rules that the user has.",
        "history": [
            ["6.2.0", "Added Pub/Sub channel patterns."],
            [
                "7.0.0",
                (
                    "Added selectors and changed the format of key and channel patterns from a list to their "
                    "rule representation."
                ),
            ],
        ],
        "arguments": [{"name": "username", "type": "string"}],
    },
)
def acl_getuser_command(c, argv):
    _acl_getuser_command(c, argv)


@command(
    "acl|help", 2, "loading stale",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def acl_help_command(c, argv):
    _acl_help_command(c, argv)


@command(
    "acl|list", 2, "admin noscript loading stale",
    docs={
        "summary": "List the current ACL rules in ACL config file format",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(N). Where N is the number of configured users.",
    },
)
def acl_list_command(c, argv):
    _acl_list_command(c, argv)


@command(
    "acl|load", 2, "admin noscript loading stale",
    docs={
        "summary": "Reload the ACLs from the configured ACL file",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(N). Where N is the number of configured users.",
    },
)
def acl_load_command(c, argv):
    _acl_load_command(c, argv)


@command(
    "acl|log", -2, "admin noscript loading stale",
    docs={
        "summary": "List latest events denied because of ACLs in place",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(N) with N being the number of entries shown.",
        "arguments": [
            {
                "name": "operation",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "count", "type": "integer"},
                    {"name": "reset", "type": "pure-token", "token": "RESET"},
                ],
            },
        ],
    },
)
def acl_log_command(c, argv):
    _acl_log_command(c, argv)


@command(
    "acl|save", 2, "admin noscript loading stale",
    docs={
        "summary": "Save the current ACL rules in the configured ACL file",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(N). Where N is the number of configured users.",
    },
)
def acl_save_command(c, argv):
    _acl_save_command(c, argv)


@command(
    "acl|setuser", -3, "admin noscript loading stale",
    docs={
        "summary": "Modify or create the rules for a specific ACL user",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(N). Where N is the number of rules provided.",
        "history": [
            ["6.2.0", "Added Pub/Sub channel patterns."],
            ["7.0.0", "Added selectors and key based permissions."],
        ],
        "arguments": [
            {"name": "username", "type": "string"},
            {"name": "rule", "type": "string", "flags": ["optional", "multiple"]},
        ],
    },
)
def acl_setuser_command(c, argv):
    _acl_setuser_command(c, argv)


@command(
    "acl|users", 2, "admin noscript loading stale",
    docs={
        "summary": "List the username of all the configured ACL rules",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(N). Where N is the number of configured users.",
    },
)
def acl_users_command(c, argv):
    _acl_users_command(c, argv)


@command(
    "acl|whoami", 2, "noscript loading stale",
    docs={
        "summary": "Return the name of the user associated to the current connection",
        "since": "6.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def acl_whoami_command(c, argv):
    _acl_whoami_command(c, argv)


container(
    "module",
    docs={
        "summary": "A container for module commands",
        "since": "4.0.0",
        "group": "server",
        "complexity": "Depends on subcommand.",
    },
)


@command(
    "module|help", 2, "loading stale",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def module_help_command(c, argv):
    _module_help_command(c, argv)


@command(
    "module|list", 2, "admin noscript",
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "List all modules loaded by the server",
        "since": "4.0.0",
        "group": "server",
        "complexity": "O(N) where N is the number of loaded modules.",
    },
)
def module_list_command(c, argv):
    _module_list_command(c, argv)


@command(
    "module|load", -3, "admin noscript no_async_loading protected",
    docs={
        "summary": "Load a module",
        "since": "4.0.0",
        "group": "server",
        "complexity": "O(1)",
        "arguments": [
            {"name": "path", "type": "string"},
            {"name": "arg", "type": "string", "flags": ["optional", "multiple"]},
        ],
    },
)
def module_load_command(c, argv):
    _module_load_command(c, argv)


@command(
    "module|loadex", -3, "admin noscript no_async_loading protected",
    docs={
        "summary": "Load a module with extended parameters",
        "since": "7.0.0",
        "group": "server",
        "complexity": "O(1)",
        "arguments": [
            {"name": "path", "type": "string"},
            {
                "name": "configs",
                "type": "block",
                "token": "CONFIG",
                "flags": ["optional", "multiple", "multiple_token"],
                "arguments": [{"name": "name", "type": "string"}, {"name": "value", "type": "string"}],
            },
            {
                "name": "args",
                "type": "block",
                "token": "ARGS",
                "flags": ["optional", "multiple"],
                "arguments": [{"name": "arg", "type": "string"}],
            },
        ],
    },
)
def module_loadex_command(c, argv):
    _module_loadex_command(c, argv)


@command(
    "module|unload", 3, "admin noscript no_async_loading protected",
    docs={
        "summary": "Unload a module",
        "since": "4.0.0",
        "group": "server",
        "complexity": "O(1)",
        "arguments": [{"name": "name", "type": "string"}],
    },
)
def module_unload_command(c, argv):
    _module_unload_command(c, argv)



# ---------------------------------------------------------------------------------------------- handlers
ACL_HELP = [
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
]


def _parse_long(data):
    from protocol.resp import parse_ll
    return parse_ll(data)


def _acl_cat_command(c, argv):
    r = c.reply
    if len(argv) == 2:
        r.add_array_len(len(registry.ACL_CATEGORIES))
        for name in registry.ACL_CATEGORIES:
            r.add_bulk(name.encode())
        return
    if len(argv) != 3:
        c.error(b"ERR unknown subcommand or wrong number of arguments for '" + argv[1][:128] + b"'. Try ACL HELP.")
        return
    cflag = aclmod.category_flag(argv[2])
    if not cflag:
        c.error(b"ERR Unknown category '" + argv[2][:128] + b"'")
        return
    names = [spec.name_bytes for spec in aclmod._walk(aclmod._top_commands()) if spec.acl_categories & cflag]
    r.add_array_len(len(names))
    for name in names:
        r.add_bulk(name)


def _acl_deluser_command(c, argv):
    acl = get_acl(c)
    deleted = acl.deluser(c, argv[2:])
    if deleted is None:
        c.error(b"ERR The 'default' user cannot be removed")
        return
    c.reply.add_int(deleted)


def _acl_dryrun_command(c, argv):
    acl = get_acl(c)
    u = acl.get(argv[2])
    if u is None:
        c.error(b"ERR User '" + argv[2].split(b"\x00")[0] + b"' not found")
        return
    target = argv[3:]
    table = c.server.dispatcher.table
    spec = table.get(target[0].lower())
    if spec is not None and spec.flags & aclmod.CMD_INTERNAL:
        spec = None
    if spec is not None and spec.subcommands is not None and len(target) >= 2:
        spec = spec.subcommands.get(target[1].lower())
    if spec is None:
        c.error(b"ERR Command '" + target[0].split(b"\x00")[0] + b"' not found")
        return
    if (spec.arity > 0 and spec.arity != len(target)) or len(target) < -spec.arity:
        c.error(b"ERR wrong number of arguments for '" + spec.name_bytes + b"' command")
        return
    result = u.check(spec, target)
    if result is None:
        c.reply.add_ok()
        return
    reason, idx = result
    if reason == aclmod.ACL_DENIED_CMD:
        text = b"This user has no permissions to run the '" + spec.name_bytes + b"' command"
    elif reason == aclmod.ACL_DENIED_KEY:
        text = b"This user has no permissions to access the '" + target[idx] + b"' key"
    else:
        text = b"This user has no permissions to access the '" + target[idx] + b"' channel"
    c.reply.add_bulk(text)


def _acl_genpass_command(c, argv):
    bits = 256
    if len(argv) == 3:
        bits = _parse_long(argv[2])
        if bits is None:
            c.error(NOT_INTEGER)
            return
    if bits <= 0 or bits > 4096:
        c.error(b"ERR ACL GENPASS argument must be the number of bits for the output password, a positive number "
                b"up to 4096")
        return
    chars = (bits + 3) // 4
    c.reply.add_bulk(os.urandom((chars + 1) // 2).hex()[:chars].encode())


def _add_selector(r, sel):
    r.add_bulk(b"commands")
    r.add_bulk(aclmod.describe_command_rules(sel))
    r.add_bulk(b"keys")
    if sel.allkeys:
        r.add_bulk(b"~*")
    else:
        r.add_bulk(b" ".join(aclmod.pattern_string(p) for p in sel.patterns))
    r.add_bulk(b"channels")
    if sel.allchannels:
        r.add_bulk(b"&*")
    else:
        r.add_bulk(b" ".join(b"&" + ch for ch in sel.channels))
    return 3


def _acl_getuser_command(c, argv):
    u = get_acl(c).get(argv[2])
    r = c.reply
    if u is None:
        r.add_null()
        return
    r.add_map_len(6)
    r.add_bulk(b"flags")
    flags = aclmod.user_flag_names(u)
    r.add_set_len(len(flags))
    for f in flags:
        r.add_bulk(f)
    r.add_bulk(b"passwords")
    r.add_array_len(len(u.passwords))
    for p in u.passwords:
        r.add_bulk(p.encode())
    _add_selector(r, u.selectors[0])
    r.add_bulk(b"selectors")
    r.add_array_len(len(u.selectors) - 1)
    for sel in u.selectors[1:]:
        r.add_map_len(3)
        _add_selector(r, sel)


def _acl_help_command(c, argv):
    reply_help(c, help_lines("ACL", ACL_HELP))


def _acl_list_command(c, argv):
    acl = get_acl(c)
    names = sorted(acl.users)
    c.reply.add_array_len(len(names))
    for name in names:
        c.reply.add_bulk(b"user " + name + b" " + aclmod.describe_user(acl.users[name]))


def _acl_load_command(c, argv):
    filename = c.server.config["aclfile"]
    if not filename:
        c.error(NO_ACL_FILE)
        return
    errors = get_acl(c).load_file(filename)
    if errors is None:
        c.reply.add_ok()
    else:
        c.error(b"ERR " + errors.encode("latin-1", "replace"))


def _acl_log_command(c, argv):
    acl = get_acl(c)
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            acl.log.clear()
            c.reply.add_ok()
            return
        count = _parse_long(argv[2])
        if count is None:
            c.error(NOT_INTEGER)
            return
        if count < 0:
            count = 0
    elif len(argv) != 2:
        c.error(b"ERR unknown subcommand or wrong number of arguments for '" + argv[1][:128] + b"'. Try ACL HELP.")
        return
    entries = acl.log[:count]
    r = c.reply
    r.add_array_len(len(entries))
    import time
    now = int(time.time() * 1000)
    for e in entries:
        r.add_map_len(7)
        r.add_bulk(b"count"); r.add_int(e["count"])
        r.add_bulk(b"reason"); r.add_bulk(aclmod.REASONS.get(e["reason"], "unknown").encode())
        r.add_bulk(b"context"); r.add_bulk(aclmod.CONTEXTS[e["context"]].encode())
        r.add_bulk(b"object"); r.add_bulk(e["object"] or b"")
        r.add_bulk(b"username"); r.add_bulk(e["username"])
        r.add_bulk(b"age-seconds"); r.add_double((now - e["ctime"]) / 1000.0)
        r.add_bulk(b"client-info"); r.add_bulk(e["cinfo"])


def _acl_save_command(c, argv):
    filename = c.server.config["aclfile"]
    if not filename:
        c.error(NO_ACL_FILE)
        return
    if get_acl(c).save_file(filename):
        c.reply.add_ok()
    else:
        c.error(b"ERR There was an error trying to save the ACLs. Please check the server logs for more information")


def _acl_setuser_command(c, argv):
    name = argv[2]
    if aclmod.has_spaces(name):
        c.error(b"ERR Usernames can't contain spaces or null characters")
        return
    err = get_acl(c).setuser(name, argv[3:])
    if err is not None:
        c.error(b"ERR " + err.encode("latin-1"))
        return
    c.reply.add_ok()


def _acl_users_command(c, argv):
    names = sorted(get_acl(c).users)
    c.reply.add_array_len(len(names))
    for name in names:
        c.reply.add_bulk(name)


def _acl_whoami_command(c, argv):
    c.reply.add_bulk(c.user.encode("latin-1") if isinstance(c.user, str) else c.user)


# ---------------------------------------------------------------------------------------------- MODULE
MODULE_HELP = [
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
]
MODULE_DENIED = (b'ERR MODULE command not allowed. If the enable-module-command option is set to "local", you can '
                 b'run it from a local connection, otherwise you need to set this option in the configuration file, '
                 b'and then restart the server.')


def is_local_client(c):
    conn = c.conn
    if conn is None:
        return True
    peer = getattr(conn, "peer", "") or ""
    return peer.startswith("127.") or peer.startswith("::1") or peer.startswith("[::1]") or peer.startswith("/")


def protected_allowed(c, option):
    """redis processCommand for CMD_PROTECTED commands (enable-debug-command / enable-module-command)."""
    setting = c.server.config[option] if c.server is not None else "yes"
    return setting in ("yes", True) or (setting == "local" and is_local_client(c))


def _module_help_command(c, argv):
    reply_help(c, help_lines("MODULE", MODULE_HELP))


def _module_list_command(c, argv):
    c.reply.add_array_len(0)


def _module_load_command(c, argv):
    if not protected_allowed(c, "enable-module-command"):
        c.error(MODULE_DENIED)
        return
    if c.server is not None:
        c.server.log.warning("Module %s failed to load: Cachemere does not load native modules"
                             % argv[2].decode("latin-1", "replace"))
    c.error(b"ERR Error loading the extension. Please check the server logs.")


def _module_loadex_command(c, argv):
    _module_load_command(c, argv)


def _module_unload_command(c, argv):
    if not protected_allowed(c, "enable-module-command"):
        c.error(MODULE_DENIED)
        return
    c.error(b"ERR Error unloading module: no such module with that name")
