"""The COMMAND family: COMMAND, COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS, HELP.

Every reply is rendered from the declarations in engine.registry (never from a data file), in the same shape
Redis 7.0 builds them (server.c addReplyCommandInfo / addReplyCommandDocs, db.c getKeysUsingKeySpecs).
Declarations below were printed by ``tools/specgen.py command``.
"""
from engine.glob import glob_match
from engine import registry
from engine import reply as reply_values
from engine.registry import command, container
from engine.spec import FLAGS
from protocol.resp import parse_ll

INTERNAL = FLAGS["internal"]
NO_MANDATORY_KEYS = FLAGS["no_mandatory_keys"]

# keys whose values Redis sends as a set of simple strings / a set of [version, text] arrays
FLAG_SET_KEYS = frozenset(("flags", "doc_flags"))
HISTORY_KEY = "history"

# server.c addReplyFlagsForKeyArgs order
KEY_FLAG_ORDER = ["RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key", "incomplete",
                  "variable_flags"]


# -- lookups ----------------------------------------------------------------------------------------------------
def _visible(spec):
    return spec if spec is not None and not spec.flags & INTERNAL else None


def visible_subcommands(spec):
    return [sub for sub in spec.subcommands.values() if not sub.flags & INTERNAL] if spec.subcommands else []


def visible_commands():
    return [spec for spec in registry.COMMANDS.values() if not spec.flags & INTERNAL]


def lookup_by_fullname(name: bytes):
    """redis lookupCommandBySds: 'get' or 'config|get' (any case); None when unknown or hidden."""
    parts = name.lower().split(b"|")
    if len(parts) > 2:
        return None
    base = _visible(registry.lookup(parts[0]))
    if base is None or len(parts) == 1:
        return base
    if base.subcommands is None:
        return None
    return _visible(base.subcommands.get(parts[1]))


def lookup_by_argv(argv):
    """redis lookupCommand(argv, argc): a container's subcommand from argv[1] when there is one."""
    base = _visible(registry.lookup(argv[0]))
    if base is None or len(argv) == 1 or base.subcommands is None:
        return base
    return _visible(base.subcommands.get(argv[1].lower()))


# -- rendering --------------------------------------------------------------------------------------------------
def add_value(reply, value, key=None):
    """A declared key-spec/docs value: dict -> map, list -> array, str -> bulk, int -> integer; the values of
    'flags'/'doc_flags' are sets of simple strings and 'history' a set of arrays, as Redis sends them."""
    if key in FLAG_SET_KEYS:
        reply.add_set_len(len(value))
        for flag in value:
            reply.add_simple(flag.encode())
    elif key == HISTORY_KEY:
        reply.add_set_len(len(value))
        for entry in value:
            reply.add_array_len(len(entry))
            for text in entry:
                reply.add_bulk(text.encode())
    elif isinstance(value, dict):
        reply.add_map_len(len(value))
        for k, v in value.items():
            reply.add_bulk(k.encode())
            add_value(reply, v, k)
    elif isinstance(value, (list, tuple)):
        reply.add_array_len(len(value))
        for item in value:
            add_value(reply, item)
    else:
        reply_values.add_value(reply, value)    # scalars: the one engine/reply.py mapping


def add_command_info(reply, spec):
    """One COMMAND INFO entry (10 elements), subcommands nested; a null for None."""
    if spec is None:
        reply.add_null()
        return
    reply.add_array_len(10)
    reply.add_bulk(spec.name_bytes)
    reply.add_int(spec.arity)
    flags = spec.flag_names()
    reply.add_set_len(len(flags))
    for flag in flags:
        reply.add_simple(flag.encode())
    reply.add_int(spec.first_key)
    reply.add_int(spec.last_key)
    reply.add_int(spec.key_step)
    categories = registry.acl_names(spec.acl_categories)
    reply.add_set_len(len(categories))
    for cat in categories:
        reply.add_simple(cat.encode())
    reply.add_set_len(len(spec.tips))
    for tip in spec.tips:
        reply.add_bulk(tip.encode())
    reply.add_set_len(len(spec.key_specs))
    for key_spec in spec.key_specs:
        add_value(reply, key_spec)
    if spec.subcommands is None:
        reply.add_set_len(0)          # Redis: an empty *set* without subcommands, an array with them
    else:
        subs = visible_subcommands(spec)
        reply.add_array_len(len(subs))
        for sub in subs:
            add_command_info(reply, sub)


def docs_items(spec):
    """The COMMAND DOCS fields of a spec; 'group' is always present in Redis, so default it."""
    items = list(spec.docs.items())
    if "group" not in spec.docs:
        at = sum(1 for k, _ in items[:2] if k in ("summary", "since"))
        items.insert(at, ("group", spec.parent.docs.get("group", "generic") if spec.parent else "generic"))
    return [(k, v) for k, v in items if k != "subcommands"]


def add_command_docs(reply, spec):
    items = docs_items(spec)
    has_subs = spec.subcommands is not None
    reply.add_map_len(len(items) + has_subs)
    for key, value in items:
        reply.add_bulk(key.encode())
        add_value(reply, value, key)
    if has_subs:
        subs = visible_subcommands(spec)
        reply.add_bulk(b"subcommands")
        reply.add_map_len(len(subs))
        for sub in subs:
            reply.add_bulk(sub.name_bytes)
            add_command_docs(reply, sub)


# -- key extraction (COMMAND GETKEYS) ---------------------------------------------------------------------------
def _spec_flags(key_spec):
    return key_spec.get("flags", [])


def keys_from_key_specs(spec, argv):
    """redis getKeysUsingKeySpecs: [(position, flags)] or None when a spec cannot be applied to argv."""
    argc = len(argv)
    found = []
    for key_spec in spec.key_specs:
        flags = _spec_flags(key_spec)
        if "not_key" in flags:
            continue
        begin, find = key_spec["begin_search"], key_spec["find_keys"]
        if begin["type"] == "index":
            first = begin["spec"]["index"]
        elif begin["type"] == "keyword":
            keyword = begin["spec"]["keyword"].lower().encode()
            startfrom = begin["spec"]["startfrom"]
            start = startfrom if startfrom > 0 else argc + startfrom
            end = argc - 1 if startfrom > 0 else 1
            first = 0
            i = start
            while i != end:
                if i >= argc or i < 1:
                    break
                if argv[i].lower() == keyword:
                    first = i + 1
                    break
                i = i + 1 if start <= end else i - 1
            if not first:
                continue                         # keyword absent: this spec finds no key
        else:
            return None
        if find["type"] == "range":
            step = find["spec"]["keystep"]
            lastkey, limit = find["spec"]["lastkey"], find["spec"]["limit"]
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif find["type"] == "keynum":
            step = find["spec"]["keystep"]
            numkeys_at = first + find["spec"]["keynumidx"]
            if numkeys_at >= argc:
                return None
            numkeys = parse_ll(argv[numkeys_at])
            if numkeys is None or numkeys < 0:
                return None
            first += find["spec"]["firstkey"]
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        for i in range(first, last + 1, step):
            found.append((i, flags))
        if "incomplete" in flags:
            return None                          # the spec may miss keys: let the command's getkeys decide
    return found


def _normalize_getkeys(result, spec):
    """spec.getkeys returns positions, or (position, flag names) pairs for exact GETKEYSANDFLAGS."""
    default_flags = next((_spec_flags(k) for k in spec.key_specs if "not_key" not in _spec_flags(k)), [])
    out = []
    for item in result or ():
        if isinstance(item, tuple):
            pos, flags = item
            out.append((pos, sorted(flags, key=KEY_FLAG_ORDER.index)))
        else:
            out.append((item, default_flags))
    return out


def command_has_keys(spec):
    """redis doesCommandHaveKeys."""
    if spec.getkeys is not None:
        return True
    if spec.key_specs:
        return any("not_key" not in _spec_flags(k) for k in spec.key_specs)
    return spec.first_key > 0


def get_keys(spec, argv):
    """redis getKeysFromCommandWithSpecs: [(position, flags)] of the keys in a full argv."""
    usable = [k for k in spec.key_specs if "not_key" not in _spec_flags(k)]
    variable = any("variable_flags" in _spec_flags(k) for k in spec.key_specs)
    if usable and not (variable and spec.getkeys is not None):
        found = keys_from_key_specs(spec, argv)
        if found is not None:
            return found
    if spec.getkeys is not None:
        return _normalize_getkeys(spec.getkeys(argv), spec)
    if not spec.key_specs and spec.first_key > 0:
        # a declaration with only the legacy (first, last, step) triple
        last = spec.last_key if spec.last_key >= 0 else len(argv) + spec.last_key
        return [(i, []) for i in range(spec.first_key, min(last, len(argv) - 1) + 1, spec.key_step or 1)]
    return []


def _getkeys_reply(c, argv, with_flags):
    target_argv = argv[2:]
    spec = lookup_by_argv(target_argv)
    if spec is None:
        c.error(b"ERR Invalid command specified")
        return
    if not command_has_keys(spec):
        c.error(b"ERR The command has no key arguments")
        return
    argc = len(target_argv)
    if (spec.arity > 0 and spec.arity != argc) or argc < -spec.arity:
        c.error(b"ERR Invalid number of arguments specified for command")
        return
    keys = get_keys(spec, target_argv)
    if not keys:
        if spec.flags & NO_MANDATORY_KEYS:
            c.reply.add_array_len(0)
        else:
            c.error(b"ERR Invalid arguments specified for command")
        return
    reply = c.reply
    reply.add_array_len(len(keys))
    for pos, flags in keys:
        if with_flags:
            reply.add_array_len(2)
            reply.add_bulk(target_argv[pos])
            add_value(reply, flags, "flags")
        else:
            reply.add_bulk(target_argv[pos])


# -- COMMAND LIST filters ---------------------------------------------------------------------------------------
def _pattern_matcher(pattern: bytes):
    return lambda name: glob_match(pattern, name.encode("latin-1"), True)


def _list_filter(kind: bytes, arg: bytes):
    kind = kind.lower()
    if kind == b"module":
        return lambda spec: False                # every Cachemere command is built in
    if kind == b"aclcat":
        bit = registry.ACL_BITS.get(arg.decode("latin-1").lower(), 0)
        return lambda spec: bool(bit and spec.acl_categories & bit)
    if kind == b"pattern":
        match = _pattern_matcher(arg)
        return lambda spec: match(spec.name)
    return None


# -- handlers ---------------------------------------------------------------------------------------------------
def command_command(c, argv):
    specs = visible_commands()
    c.reply.add_array_len(len(specs))
    for spec in specs:
        add_command_info(c.reply, spec)


container(
    "command",
    flags="loading stale",
    acl="connection",
    arity=-1,
    handler=command_command,
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Get array of Redis command details",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(N) where N is the total number of Redis commands",
    },
)


@command(
    "command|count", 2, "loading stale", acl="connection",
    docs={
        "summary": "Get total number of Redis commands",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(1)",
    },
)
def command_count_command(c, argv):
    c.reply.add_int(len(visible_commands()))


@command(
    "command|docs", -2, "loading stale", acl="connection",
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Get array of specific Redis command documentation",
        "since": "7.0.0",
        "group": "server",
        "complexity": "O(N) where N is the number of commands to look up",
        "arguments": [{"name": "command-name", "type": "string", "flags": ["optional", "multiple"]}],
    },
)
def command_docs_command(c, argv):
    if len(argv) == 2:
        specs = visible_commands()
    else:
        specs = [spec for spec in map(lookup_by_fullname, argv[2:]) if spec is not None]
    c.reply.add_map_len(len(specs))
    for spec in specs:
        c.reply.add_bulk(spec.name_bytes)
        add_command_docs(c.reply, spec)


@command(
    "command|getkeys", -4, "loading stale", acl="connection",
    docs={
        "summary": "Extract keys given a full Redis command",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(N) where N is the number of arguments to the command",
    },
)
def command_getkeys_command(c, argv):
    _getkeys_reply(c, argv, with_flags=False)


@command(
    "command|getkeysandflags", -4, "loading stale", acl="connection",
    docs={
        "summary": "Extract keys and access flags given a full Redis command",
        "since": "7.0.0",
        "group": "server",
        "complexity": "O(N) where N is the number of arguments to the command",
    },
)
def command_getkeysandflags_command(c, argv):
    _getkeys_reply(c, argv, with_flags=True)


HELP_LINES = [
    b"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"(no subcommand)",
    b"    Return details about all Redis commands.",
    b"COUNT",
    b"    Return the total number of commands in this Redis server.",
    b"LIST",
    b"    Return a list of all commands in this Redis server.",
    b"INFO [<command-name> ...]",
    b"    Return details about multiple Redis commands.",
    b"    If no command names are given, documentation details for all",
    b"    commands are returned.",
    b"DOCS [<command-name> ...]",
    b"    Return documentation details about multiple Redis commands.",
    b"    If no command names are given, documentation details for all",
    b"    commands are returned.",
    b"GETKEYS <full-command>",
    b"    Return the keys from a full Redis command.",
    b"GETKEYSANDFLAGS <full-command>",
    b"    Return the keys and the access flags from a full Redis command.",
    b"HELP",
    b"    Prints this help.",
]


@command(
    "command|help", 2, "loading stale", acl="connection",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def command_help_command(c, argv):
    c.reply.add_array_len(len(HELP_LINES))
    for line in HELP_LINES:
        c.reply.add_simple(line)


@command(
    "command|info", -2, "loading stale", acl="connection",
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Get array of specific Redis command details, or all when no argument is given.",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(N) where N is the number of commands to look up",
        "history": [["7.0.0", "Allowed to be called with no argument to get info on all commands."]],
        "arguments": [{"name": "command-name", "type": "string", "flags": ["optional", "multiple"]}],
    },
)
def command_info_command(c, argv):
    if len(argv) == 2:
        command_command(c, argv)
        return
    c.reply.add_array_len(len(argv) - 2)
    for name in argv[2:]:
        add_command_info(c.reply, lookup_by_fullname(name))


@command(
    "command|list", -2, "loading stale", acl="connection",
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "Get an array of Redis command names",
        "since": "7.0.0",
        "group": "server",
        "complexity": "O(N) where N is the total number of Redis commands",
        "arguments": [
            {
                "name": "filterby",
                "type": "oneof",
                "token": "FILTERBY",
                "flags": ["optional"],
                "arguments": [
                    {"name": "module-name", "type": "string", "token": "MODULE"},
                    {"name": "category", "type": "string", "token": "ACLCAT"},
                    {"name": "pattern", "type": "pattern", "token": "PATTERN"},
                ],
            },
        ],
    },
)
def command_list_command(c, argv):
    keep = lambda spec: True  # noqa: E731
    if len(argv) == 5 and argv[2].lower() == b"filterby":
        keep = _list_filter(argv[3], argv[4])
    elif len(argv) != 2:
        keep = None
    if keep is None:
        c.error(b"ERR syntax error")
        return
    names = []
    for spec in visible_commands():
        for candidate in [spec] + visible_subcommands(spec):
            if keep(candidate):
                names.append(candidate.name_bytes)
    c.reply.add_bulk_list(names)
