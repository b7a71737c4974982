# cython: language_level=3, wraparound=True, boundscheck=True, binding=True
"""Scripting commands (redis eval.c): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL/HELP.

The engine side of running a script (the internal client, reply conversions, effects as one unit, BUSY)
lives in server/script_runner.pyx; this module parses the arguments exactly as redis does and replies.
"""
from engine.registry import command, container

NOT_INTEGER = b"ERR value is not an integer or out of range"
NOSCRIPT = b"NOSCRIPT No matching script. Please use EVAL."

SCRIPT_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]


def _runner(c):
    # the runner is cached in server.extensions; the import happens only on the first script
    runner = c.server.extensions.get("scripting")
    if runner is None:
        from server.script_runner import script_runner
        runner = script_runner(c.server)
    return runner


_SMALL_LL = {str(i).encode(): i for i in range(16)}   # common numkeys, no parse per call


def _parse_ll(raw):
    """string2ll: an optional '-', digits, no leading zeros or spaces, within 64 bits."""
    small = _SMALL_LL.get(raw)
    if small is not None:
        return small
    if not raw or len(raw) > 20:
        return None
    digits = raw[1:] if raw[:1] == b"-" else raw
    if not digits.isdigit() or (digits[:1] == b"0" and len(raw) > 1):
        return None
    value = int(raw)
    if not -(1 << 63) <= value < (1 << 63):
        return None
    return value


def eval_getkeys(argv):
    """Keys of EVAL-like commands: numkeys names at argv[2] follow it (redis evalGetKeys)."""
    numkeys = _parse_ll(argv[2]) if len(argv) > 2 else None
    if numkeys is None or numkeys <= 0 or numkeys > len(argv) - 3:
        return []
    return list(range(3, 3 + numkeys))


def _feed_monitors(c, argv):
    # EVAL is skip_monitor so that MONITOR shows it before the commands its script runs (redis eval.c)
    hook = c.server.dispatcher.monitor_hook
    if hook is not None:
        hook(c, argv)


def _eval_generic(c, argv, is_sha, read_only):
    _feed_monitors(c, argv)
    if is_sha and len(argv[1]) != 40:
        c.error(NOSCRIPT)            # redis answers before even reading numkeys
        return
    numkeys = _parse_ll(argv[2])
    if numkeys is None:
        c.error(NOT_INTEGER)
        return
    if numkeys > len(argv) - 3:
        c.error(b"ERR Number of keys can't be greater than number of args")
        return
    if numkeys < 0:
        c.error(b"ERR Number of keys can't be negative")
        return
    keys = argv[3:3 + numkeys]
    args = argv[3 + numkeys:]
    _runner(c).eval(c, argv[1], keys, args, is_sha=is_sha, read_only=read_only)
    # the script's commands propagated themselves, as one unit: EVAL is never an effect
    c.dirty = 0
    c.effect_override = None


@command(
    "eval", -3, "noscript stale skip_monitor may_replicate no_mandatory_keys movablekeys", acl="scripting",
    getkeys=eval_getkeys,
    key_specs=[
        {
            "notes": "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
            "flags": ["RW", "access", "update"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Execute a Lua script server side",
        "since": "2.6.0",
        "group": "scripting",
        "complexity": "Depends on the script that is executed.",
        "arguments": [
            {"name": "script", "type": "string"},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["optional", "multiple"]},
            {"name": "arg", "type": "string", "flags": ["optional", "multiple"]},
        ],
    },
)
def eval_command(c, argv):
    _eval_generic(c, argv, is_sha=False, read_only=False)


@command(
    "evalsha", -3, "noscript stale skip_monitor may_replicate no_mandatory_keys movablekeys", acl="scripting",
    getkeys=eval_getkeys,
    key_specs=[
        {
            "flags": ["RW", "access", "update"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Execute a Lua script server side",
        "since": "2.6.0",
        "group": "scripting",
        "complexity": "Depends on the script that is executed.",
        "arguments": [
            {"name": "sha1", "type": "string"},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["optional", "multiple"]},
            {"name": "arg", "type": "string", "flags": ["optional", "multiple"]},
        ],
    },
)
def evalsha_command(c, argv):
    _eval_generic(c, argv, is_sha=True, read_only=False)


@command(
    "eval_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys movablekeys", acl="scripting",
    getkeys=eval_getkeys,
    key_specs=[
        {
            "notes": "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Execute a read-only Lua script server side",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "Depends on the script that is executed.",
        "arguments": [
            {"name": "script", "type": "string"},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["optional", "multiple"]},
            {"name": "arg", "type": "string", "flags": ["optional", "multiple"]},
        ],
    },
)
def eval_ro_command(c, argv):
    _eval_generic(c, argv, is_sha=False, read_only=True)


@command(
    "evalsha_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys movablekeys", acl="scripting",
    getkeys=eval_getkeys,
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Execute a read-only Lua script server side",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "Depends on the script that is executed.",
        "arguments": [
            {"name": "sha1", "type": "string"},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["optional", "multiple"]},
            {"name": "arg", "type": "string", "flags": ["optional", "multiple"]},
        ],
    },
)
def evalsha_ro_command(c, argv):
    _eval_generic(c, argv, is_sha=True, read_only=True)


container(
    "script",
    docs={
        "summary": "A container for Lua scripts management commands",
        "since": "2.6.0",
        "group": "scripting",
        "complexity": "Depends on subcommand.",
    },
)


@command(
    "script|debug", 3, "noscript", acl="scripting",
    docs={
        "summary": "Set the debug mode for executed scripts.",
        "since": "3.2.0",
        "group": "scripting",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "mode",
                "type": "oneof",
                "arguments": [
                    {"name": "yes", "type": "pure-token", "token": "YES"},
                    {"name": "sync", "type": "pure-token", "token": "SYNC"},
                    {"name": "no", "type": "pure-token", "token": "NO"},
                ],
            },
        ],
    },
)
def script_debug_command(c, argv):
    mode = argv[2].lower()
    if mode == b"no":
        c.reply.add_ok()
    elif mode in (b"yes", b"sync"):
        c.error(b"ERR SCRIPT DEBUG (the Lua debugger) is not supported by this server")
    else:
        c.error(b"ERR Use SCRIPT DEBUG YES/SYNC/NO")


@command(
    "script|exists", -3, "noscript", acl="scripting",
    tips=("request_policy:all_shards", "response_policy:agg_logical_and"),
    docs={
        "summary": "Check existence of scripts in the script cache.",
        "since": "2.6.0",
        "group": "scripting",
        "complexity": (
            "O(N) with N being the number of scripts to check (so checking a single script is an O(1) "
            "operation)."
        ),
        "arguments": [{"name": "sha1", "type": "string", "flags": ["multiple"]}],
    },
)
def script_exists_command(c, argv):
    runtime = _runner(c).runtime
    c.reply.add_array_len(len(argv) - 2)
    for sha in argv[2:]:
        c.reply.add_int(1 if len(sha) == 40 and runtime.exists(sha) else 0)


@command(
    "script|flush", -2, "noscript", acl="scripting",
    tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
    docs={
        "summary": "Remove all the scripts from the script cache.",
        "since": "2.6.0",
        "group": "scripting",
        "complexity": "O(N) with N being the number of scripts in cache",
        "history": [["6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers."]],
        "arguments": [
            {
                "name": "async",
                "type": "oneof",
                "since": "6.2.0",
                "flags": ["optional"],
                "arguments": [
                    {"name": "async", "type": "pure-token", "token": "ASYNC"},
                    {"name": "sync", "type": "pure-token", "token": "SYNC"},
                ],
            },
        ],
    },
)
def script_flush_command(c, argv):
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"sync", b"async")):
        c.error(b"ERR SCRIPT FLUSH only support SYNC|ASYNC option")
        return
    _runner(c).runtime.flush()
    c.reply.add_ok()


@command(
    "script|help", 2, "loading stale", acl="scripting",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "scripting",
        "complexity": "O(1)",
    },
)
def script_help_command(c, argv):
    c.reply.add_array_len(len(SCRIPT_HELP))
    for line in SCRIPT_HELP:
        c.reply.add_simple(line.encode())


@command(
    "script|kill", 2, "noscript allow_busy", acl="scripting",
    tips=("request_policy:all_shards", "response_policy:one_succeeded"),
    docs={
        "summary": "Kill the script currently in execution.",
        "since": "2.6.0",
        "group": "scripting",
        "complexity": "O(1)",
    },
)
def script_kill_command(c, argv):
    _runner(c).kill(c)


@command(
    "script|load", 3, "noscript stale", acl="scripting",
    tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
    docs={
        "summary": "Load the specified Lua script into the script cache.",
        "since": "2.6.0",
        "group": "scripting",
        "complexity": "O(N) with N being the length in bytes of the script body.",
        "arguments": [{"name": "script", "type": "string"}],
    },
)
def script_load_command(c, argv):
    from engine.scripting import ScriptError
    try:
        sha = _runner(c).runtime.load(argv[2])
    except ScriptError as exc:
        c.error(exc.message.encode())
        return
    c.reply.add_bulk(sha.encode())
