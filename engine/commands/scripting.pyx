# cython: language_level=3, wraparound=True, boundscheck=True, binding=True
"""Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL/HELP (redis eval.c);
FCALL, FCALL_RO and FUNCTION LOAD/DELETE/FLUSH/LIST/STATS/KILL/DUMP/RESTORE/HELP (redis functions.c).

The engine side of running a script (the internal client, reply conversions, effects as one unit, BUSY)
lives in engine/scripting/runner.pyx; this module parses the arguments exactly as redis does and replies.
"""
from engine.commands.connection import reply_help
from engine.core import EVICT_RESULT_FAIL
from engine.core cimport Client as CClient, Keyspace
from engine.scripting.runtime cimport CompiledScript, ScriptRuntime
from engine.scripting.runner cimport ScriptRunner
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
    # the runner is cached in server.extensions; the context builds it on the first script
    runner = c.server.extensions.get("scripting")
    if runner is None:
        runner = c.server.script_runner()
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


def _shebang_flags(c, argv, is_sha):
    """The flags a script declared in its shebang (redis evalGetCommandFlags), None for a script without
    one (compat mode: checked per command as it runs) or one that cannot be found or parsed yet."""
    body_or_sha = argv[1]
    if is_sha:
        return _runner(c).runtime.cached_flags(body_or_sha)
    if body_or_sha[:2] != b"#!":
        return None
    from engine.scripting.runtime import ScriptError, parse_shebang
    try:
        return parse_shebang(body_or_sha)[0]
    except ScriptError:
        return None                     # reported when the script is compiled


def _script_oom(c):
    """redis server.script_oom: over maxmemory at script start and eviction could not make room."""
    ks = c.ks
    return bool(ks.maxmemory > 0 and ks.used_memory > ks.maxmemory and not c.is_master
                and ks.perform_evictions() == EVICT_RESULT_FAIL)


cdef object _last_server = None
cdef dict _last_extensions = None


cdef _eval_generic(CClient c, list argv, bint is_sha, bint read_only):
    # typed: every EVALSHA runs this (the same steps as before, without Python attribute lookups on the client)
    cdef Keyspace ks = c.ks
    cdef bint oom, may_write
    cdef ScriptRunner runner
    cdef ScriptRuntime runtime
    cdef Py_ssize_t numkeys
    cdef dict extensions
    server = c.server
    global _last_server, _last_extensions
    if server is _last_server:          # server.extensions is one dict for the server's life
        extensions = _last_extensions
    else:
        extensions = server.extensions
        _last_server = server
        _last_extensions = extensions
    found = extensions.get("scripting")
    runner = found if found is not None else server.script_runner()
    hook = runner._dispatcher.monitor_hook  # the server's dispatcher
    if hook is not None:
        hook(c, argv)                   # skip_monitor: monitors see EVAL before the commands its script runs
    runtime = runner.runtime
    if is_sha:
        script = runtime._by_sha_arg.get(argv[1]) if type(argv[1]) is bytes else None
        flags = (<CompiledScript>script).flags if script is not None else runtime.cached_flags(argv[1])
    else:
        flags = _shebang_flags(c, argv, is_sha)
    may_write = flags is not None and "no-writes" not in flags
    oom = (ks.maxmemory > 0 and ks.used_memory > ks.maxmemory and not c.is_master
           and ks.perform_evictions() == EVICT_RESULT_FAIL)
    if may_write:
        # a script declaring flags is treated by them (scriptFlagsToCmdFlags): without no-writes it is a
        # write command, without allow-oom a deny-oom one
        if oom and "allow-oom" not in flags:
            c.error(OOM_ERROR)
            return
        denied = _write_denied(c)
        if denied is not None:
            c.error(denied)
            return
    if is_sha and len(argv[1]) != 40:
        c.error(NOSCRIPT)            # redis answers before even reading numkeys
        return
    raw = argv[2]
    if type(raw) is bytes and len(<bytes>raw) == 1 and 48 <= (<bytes>raw)[0] <= 57:
        numkeys = (<bytes>raw)[0] - 48              # the usual one-digit count, without the generic parse
    else:
        parsed = _parse_ll(raw)
        if parsed is None:
            c.error(NOT_INTEGER)
            return
        if parsed > len(argv) - 3:
            c.error(b"ERR Number of keys can't be greater than number of args")
            return
        if parsed < 0:
            c.error(b"ERR Number of keys can't be negative")
            return
        numkeys = parsed
    if numkeys > len(argv) - 3:
        c.error(b"ERR Number of keys can't be greater than number of args")
        return
    if may_write and read_only:
        c.error(b"ERR Can not execute a script with write flag using *_ro command.")
        return
    keys = argv[3:3 + numkeys]
    args = argv[3 + numkeys:]
    runner.script_oom = oom
    runner.allow_oom = flags is not None and "allow-oom" in flags
    runner._run(c, None, None, argv[1], keys, args, is_sha, read_only)
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
    reply_help(c, SCRIPT_HELP)


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
    from engine.scripting.runtime import ScriptError
    try:
        sha = _runner(c).runtime.load(argv[2])
    except ScriptError as exc:
        c.error(exc.message.encode())
        return
    c.reply.add_bulk(sha.encode())


# ---------------------------------------------------------------------------------------------------
# Functions (redis 7.0 functions.c): FCALL, FCALL_RO and the FUNCTION container
# ---------------------------------------------------------------------------------------------------
NO_WRITES_OR_OOM = 1 | 2                 # engine.scripting.functions FLAG_NO_WRITES | FLAG_ALLOW_OOM
OOM_ERROR = b"OOM command not allowed when used memory > 'maxmemory'."

FUNCTION_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION "
    "RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
]


def _functions(c):
    return _runner(c).functions


def _load_timeout(c):
    from engine.scripting.functions import LOAD_TIMEOUT_MS
    return 0 if c.is_master else LOAD_TIMEOUT_MS    # redis mustObeyClient: no limit for the AOF / a master


def _subcommand_syntax_error(c, argv):
    c.error(b"ERR unknown subcommand or wrong number of arguments for '" + argv[1][:128]
            + b"'. Try FUNCTION HELP.")


def _write_denied(c):
    """The MISCONF text while persistence refuses writes (processCommand treats FCALL of a function without
    no-writes as a write command), else None."""
    server = c.server
    if server is None or c.is_master:
        return None
    p = server.extensions.get("persistence")
    return getattr(p, "deny_message", None) if p is not None else None


def _fcall_generic(c, argv, read_only):
    _feed_monitors(c, argv)             # redis: monitors see FCALL before the commands it runs
    info = _functions(c).get(argv[1])
    if info is None:
        c.error(b"ERR Function not found")
        return
    numkeys = _parse_ll(argv[2])
    if numkeys is None:
        c.error(b"ERR Bad number of keys provided")
        return
    if numkeys > len(argv) - 3:
        c.error(b"ERR Number of keys can't be greater than number of args")
        return
    if numkeys < 0:
        c.error(b"ERR Number of keys can't be negative")
        return
    flags = info.flags
    oom = _script_oom(c)
    if not flags & 1:                   # may write (no 'no-writes' flag)
        if not flags & 2 and oom:
            c.error(OOM_ERROR)          # redis: such an FCALL is denyoom (scriptFlagsToCmdFlags)
            return
        denied = _write_denied(c)
        if denied is not None:
            c.error(denied)
            return
        if read_only:
            c.error(b"ERR Can not execute a script with write flag using *_ro command.")
            return
    runner = _runner(c)
    runner.script_oom = oom
    runner.allow_oom = bool(flags & 2)
    runner.fcall(c, info, argv, argv[3:3 + numkeys], argv[3 + numkeys:], read_only or bool(flags & 1))
    # the function's commands propagated themselves, as one unit: FCALL is never an effect
    c.dirty = 0
    c.effect_override = None


@command(
    "fcall", -3, "noscript stale skip_monitor may_replicate no_mandatory_keys movablekeys", acl="scripting",
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
        "summary": "Invoke a function",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "Depends on the function that is executed.",
        "arguments": [
            {"name": "function", "type": "string"},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["optional", "multiple"]},
            {"name": "arg", "type": "string", "flags": ["optional", "multiple"]},
        ],
    },
)
def fcall_command(c, argv):
    _fcall_generic(c, argv, False)


@command(
    "fcall_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys movablekeys", acl="scripting",
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
        "summary": "Invoke a read-only function",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "Depends on the function that is executed.",
        "arguments": [
            {"name": "function", "type": "string"},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["optional", "multiple"]},
            {"name": "arg", "type": "string", "flags": ["optional", "multiple"]},
        ],
    },
)
def fcall_ro_command(c, argv):
    _fcall_generic(c, argv, True)


container(
    "function",
    docs={
        "summary": "A container for function commands",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "Depends on subcommand.",
    },
)


@command(
    "function|delete", 3, "write noscript", acl="scripting",
    tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    docs={
        "summary": "Delete a function by name",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "O(1)",
        "arguments": [{"name": "library-name", "type": "string"}],
    },
)
def function_delete_command(c, argv):
    from engine.scripting.functions import FunctionError
    try:
        _functions(c).delete(argv[2])
    except FunctionError as exc:
        c.error(b"ERR " + exc.message)
        return
    c.dirty += 1
    c.reply.add_ok()


@command(
    "function|dump", 2, "noscript", acl="scripting",
    docs={
        "summary": "Dump all functions into a serialized binary payload",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "O(N) where N is the number of functions",
    },
)
def function_dump_command(c, argv):
    compress = True
    if c.server is not None:
        try:
            compress = bool(c.server.config["rdbcompression"])
        except KeyError:
            pass
    c.reply.add_bulk(_functions(c).dump(compress))


@command(
    "function|flush", -2, "write noscript", acl="scripting",
    tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    docs={
        "summary": "Deleting all functions",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "O(N) where N is the number of functions deleted",
        "arguments": [
            {
                "name": "async",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "async", "type": "pure-token", "token": "ASYNC"},
                    {"name": "sync", "type": "pure-token", "token": "SYNC"},
                ],
            },
        ],
    },
)
def function_flush_command(c, argv):
    if len(argv) > 3:
        _subcommand_syntax_error(c, argv)
        return
    if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        c.error(b"ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
        return
    _functions(c).flush()
    c.dirty += 1
    c.reply.add_ok()


@command(
    "function|help", 2, "loading stale", acl="scripting",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "O(1)",
    },
)
def function_help_command(c, argv):
    reply_help(c, FUNCTION_HELP)


@command(
    "function|kill", 2, "noscript allow_busy", acl="scripting",
    tips=("request_policy:all_shards", "response_policy:one_succeeded"),
    docs={
        "summary": "Kill the function currently in execution.",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "O(1)",
    },
)
def function_kill_command(c, argv):
    _runner(c).kill(c, is_eval=False)


@command(
    "function|list", -2, "noscript", acl="scripting",
    tips=("nondeterministic_output_order",),
    docs={
        "summary": "List information about all the functions",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "O(N) where N is the number of functions",
        "arguments": [
            {"name": "library-name-pattern", "type": "string", "token": "LIBRARYNAME", "flags": ["optional"]},
            {"name": "withcode", "type": "pure-token", "token": "WITHCODE", "flags": ["optional"]},
        ],
    },
)
def function_list_command(c, argv):
    from engine.glob import glob_match
    with_code = False
    pattern = None
    i = 2
    while i < len(argv):
        arg = argv[i]
        low = arg.lower()
        if not with_code and low == b"withcode":
            with_code = True
        elif pattern is None and low == b"libraryname":
            if i >= len(argv) - 1:
                c.error(b"ERR library name argument was not given")
                return
            i += 1
            pattern = argv[i]
        else:
            c.error(b"ERR Unknown argument " + arg)
            return
        i += 1
    libraries = list(_functions(c).libraries.values())
    if pattern is not None:
        libraries = [lib for lib in libraries if glob_match(pattern, lib.name, True)]
    reply = c.reply
    reply.add_array_len(len(libraries))
    for lib in libraries:
        reply.add_map_len(4 if with_code else 3)
        reply.add_bulk(b"library_name")
        reply.add_bulk(lib.name)
        reply.add_bulk(b"engine")
        reply.add_bulk(b"LUA")
        reply.add_bulk(b"functions")
        reply.add_array_len(len(lib.functions))
        for info in lib.functions.values():
            reply.add_map_len(3)
            reply.add_bulk(b"name")
            reply.add_bulk(info.name)
            reply.add_bulk(b"description")
            if info.description is None:
                reply.add_null()
            else:
                reply.add_bulk(info.description)
            reply.add_bulk(b"flags")
            names = info.flag_names()
            reply.add_set_len(len(names))
            for name in names:
                reply.add_simple(name)
        if with_code:
            reply.add_bulk(b"library_code")
            reply.add_bulk(lib.code)


@command(
    "function|load", -3, "write denyoom noscript", acl="scripting",
    tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    docs={
        "summary": "Create a function with the given arguments (name, code, description)",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "O(1) (considering compilation time is redundant)",
        "arguments": [
            {"name": "replace", "type": "pure-token", "token": "REPLACE", "flags": ["optional"]},
            {"name": "function-code", "type": "string"},
        ],
    },
)
def function_load_command(c, argv):
    from engine.scripting.functions import FunctionError
    replace = False
    pos = 2
    while pos < len(argv) - 1:
        arg = argv[pos]
        pos += 1
        if arg.lower() == b"replace":
            replace = True
            continue
        c.error(b"ERR Unknown option given: " + arg)
        return
    try:
        name = _functions(c).create(argv[pos], replace, _load_timeout(c))
    except FunctionError as exc:
        c.error(b"ERR " + exc.message)
        return
    c.dirty += 1
    c.reply.add_bulk(name)


@command(
    "function|restore", -3, "write denyoom noscript", acl="scripting",
    tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    docs={
        "summary": "Restore all the functions on the given payload",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "O(N) where N is the number of functions on the payload",
        "arguments": [
            {"name": "serialized-value", "type": "string"},
            {
                "name": "policy",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "flush", "type": "pure-token", "token": "FLUSH"},
                    {"name": "append", "type": "pure-token", "token": "APPEND"},
                    {"name": "replace", "type": "pure-token", "token": "REPLACE"},
                ],
            },
        ],
    },
)
def function_restore_command(c, argv):
    from engine.scripting.functions import FunctionError
    if len(argv) > 4:
        _subcommand_syntax_error(c, argv)
        return
    policy = b"append"
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in (b"append", b"replace", b"flush"):
            c.error(b"ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
            return
    try:
        _functions(c).restore(argv[2], policy)
    except FunctionError as exc:
        c.error(b"ERR " + exc.message)
        return
    c.dirty += 1
    c.reply.add_ok()


@command(
    "function|stats", 2, "noscript allow_busy", acl="scripting",
    tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    docs={
        "summary": "Return information about the function currently running (name, description, duration)",
        "since": "7.0.0",
        "group": "scripting",
        "complexity": "O(1)",
    },
)
def function_stats_command(c, argv):
    from engine.scripting.runtime import ERR_BUSY
    runner = _runner(c)
    if runner.runtime.running and not runner.runtime.is_function:
        c.error(ERR_BUSY)              # an EVAL script is busy: redis answers shared.slowevalerr
        return
    functions = runner.functions
    reply = c.reply
    reply.add_map_len(2)
    reply.add_bulk(b"running_script")
    running = runner.running_function()
    if running is None:
        reply.add_null()
    else:
        name, command_argv, duration = running
        reply.add_map_len(3)
        reply.add_bulk(b"name")
        reply.add_bulk(name)
        reply.add_bulk(b"command")
        reply.add_array_len(len(command_argv))
        for arg in command_argv:
            reply.add_bulk(bytes(arg))
        reply.add_bulk(b"duration_ms")
        reply.add_int(duration)
    reply.add_bulk(b"engines")
    reply.add_map_len(1)
    reply.add_bulk(b"LUA")
    reply.add_map_len(2)
    reply.add_bulk(b"libraries_count")
    reply.add_int(functions.library_count())
    reply.add_bulk(b"functions_count")
    reply.add_int(functions.function_count())
