"""The command table: one declaration per command drives dispatch, arity errors, COMMAND/COMMAND DOCS,
ACL categories, INFO commandstats and write propagation.

A family file declares each command next to its handler::

    @command("get", 2, "readonly fast", acl="string", keys=(1, 1, 1),
             key_specs=[...], docs={"summary": "...", "since": "1.0.0", "group": "string", ...})
    def get_command(Client c, list argv): ...

``acl`` lists only the explicit categories; the implicit ones (@write, @read, @fast, @slow, @admin,
@dangerous, @pubsub, @blocking) are derived from the flags exactly as redis setImplicitACLCategories.
``tools/specgen.py`` prints these declarations from a real redis-server so they stay true to Redis.
Containers (CONFIG, CLIENT, ...) are declared with ``container(...)``; subcommands as "config|get".
"""
from engine.spec import CommandSpec, FLAGS

# Redis's ACL category order (acl.c ACLCommandCategories): COMMAND INFO lists them in this order.
ACL_CATEGORIES = [
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
    "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
    "transaction", "scripting",
]
ACL_BITS = {name: 1 << i for i, name in enumerate(ACL_CATEGORIES)}

COMMANDS: dict = {}          # lower-case bytes name -> top-level CommandSpec
_next_id = 0


def parse_flags(flags) -> int:
    bits = 0
    for f in (flags.split() if isinstance(flags, str) else flags):
        bits |= FLAGS[f.lower()]
    return bits


def acl_bits(acl, flagbits: int) -> int:
    bits = 0
    for cat in (acl.split() if isinstance(acl, str) else acl):
        bits |= ACL_BITS[cat.lower().lstrip("@")]
    # setImplicitACLCategories (redis 7.0 server.c)
    if flagbits & FLAGS["write"]:
        bits |= ACL_BITS["write"]
    if flagbits & FLAGS["readonly"] and not bits & ACL_BITS["scripting"]:
        bits |= ACL_BITS["read"]
    if flagbits & FLAGS["admin"]:
        bits |= ACL_BITS["admin"] | ACL_BITS["dangerous"]
    if flagbits & FLAGS["pubsub"]:
        bits |= ACL_BITS["pubsub"]
    if flagbits & FLAGS["fast"]:
        bits |= ACL_BITS["fast"]
    if flagbits & FLAGS["blocking"]:
        bits |= ACL_BITS["blocking"]
    if not bits & ACL_BITS["fast"]:
        bits |= ACL_BITS["slow"]
    return bits


def acl_names(bits: int) -> list:
    return ["@" + name for name in ACL_CATEGORIES if bits & ACL_BITS[name]]


def _register(spec: CommandSpec) -> CommandSpec:
    global _next_id
    _next_id += 1
    spec.id = _next_id
    if "|" in spec.name:
        parent_name, sub = spec.name.split("|", 1)
        parent = COMMANDS.get(parent_name.encode())
        if parent is None:
            raise ValueError(f"container {parent_name!r} must be declared before {spec.name!r}")
        spec.parent = parent
        parent.subcommands[sub.encode()] = spec
    else:
        if spec.name.encode() in COMMANDS:
            raise ValueError(f"command {spec.name!r} declared twice")
        COMMANDS[spec.name.encode()] = spec
    return spec


def command(name, arity, flags="", *, acl="", keys=(0, 0, 0), key_specs=(), tips=(), docs=None, getkeys=None):
    """Declare a command; decorates its handler ``handler(Client c, list argv)``."""
    flagbits = parse_flags(flags)

    def decorate(handler):
        _register(CommandSpec(name.lower(), arity, flagbits, acl_bits(acl, flagbits), keys[0], keys[1], keys[2],
                              handler, key_specs=key_specs, tips=tips, docs=docs, getkeys=getkeys))
        return handler
    return decorate


def container(name, *, docs=None, acl="", flags="", arity=-2, tips=(), handler=None):
    """Declare a container command (CONFIG, CLIENT, OBJECT...) whose subcommands are declared as 'x|y'.

    ``handler``/``arity``/``tips`` serve COMMAND, the one container Redis also runs without a subcommand
    (arity -1): the dispatcher calls ``handler`` when argv has no subcommand."""
    flagbits = parse_flags(flags)
    spec = CommandSpec(name.lower(), arity, flagbits, acl_bits(acl, flagbits), 0, 0, 0, handler, tips=tips,
                       docs=docs)
    spec.subcommands = {}
    return _register(spec)


def lookup(name: bytes):
    """Top-level spec by name (any case), or None."""
    return COMMANDS.get(name.lower())


# upper bounds (us) of the per-command latency buckets engine/spec.pyx keeps; None = +Inf
LATENCY_BUCKETS_US = [1 << i for i in range(21)] + [None]


def all_specs(include_internal=False):
    """Every spec, containers followed by their subcommands."""
    out = []
    for spec in COMMANDS.values():
        if spec.flags & FLAGS["internal"] and not include_internal:
            continue
        out.append(spec)
        if spec.subcommands:
            out.extend(spec.subcommands.values())
    return out
