# cython: language_level=3, wraparound=True, boundscheck=True, binding=True
"""Lua scripting runtime for EVAL / EVALSHA / SCRIPT / FUNCTION, independent of the engine.

The engine is reached through one callback, ``call_handler(argv, raise_errors) -> Reply``;
replies travel as a neutral Python value tree:

    bytes        bulk string            int          integer
    None         null (bulk or array)   list         array
    Status       simple string          ErrorReply   error (text without the leading '-')
    float        RESP3 double           bool         RESP3 boolean
    dict         RESP3 map              set          RESP3 set (ReplySet when members are unhashable)
    BigNumber    RESP3 big number       Verbatim     RESP3 verbatim string

Conversions both ways, error texts and the sandbox follow redis-server 7.0.15 (checked live).
Lua runs in lupa's bundled Lua 5.1 (``lupa.lua51``), sandboxed by engine/scripting/sandbox.py.
"""

import hashlib

from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

import lupa.lua51 as lua51

from engine.scripting.cjson import CJSON_LUA
from engine.scripting.libs import LIB_FUNCTIONS, MSGPACK_LUA, call_library
from engine.scripting.sandbox import INTERNAL_CHUNKNAME, SANDBOX_LUA

REDIS_VERSION = "7.0.15"
REDIS_VERSION_NUM = 0x07000F
HOOK_INSTRUCTIONS = 100000          # Redis' count hook period
MAX_REPLY_DEPTH = 7995              # depth where Redis answers "reached lua stack limit" (live)
DEFAULT_MAX_MEMORY = 256 * 1024 * 1024
_UNPACK_CHUNK = 4000                # values per lua unpack() call (LUAI_MAXCSTACK is 8000)
_VARARG_LIMIT = 1000                # KEYS + ARGV passed as varargs up to this many, else as tables
_INLINE_TOKENS = 64                 # replies of up to this many tokens come back from api.run itself
_INT64_MIN = -(1 << 63)


cdef inline double _monotonic_ms():
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1000000.0

# Texts the engine's call_handler should use (as ErrorReply) to match Redis' scriptCall().
ERR_UNKNOWN_COMMAND = b"ERR Unknown Redis command called from script"
ERR_WRONG_ARITY = b"ERR Wrong number of args calling Redis command from script"
ERR_NOSCRIPT_COMMAND = b"ERR This Redis command is not allowed from script"
ERR_WRITE_IN_READONLY = b"ERR Write commands are not allowed from read-only scripts."
ERR_BUSY = b"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
ERR_UNKILLABLE = (b"UNKILLABLE Sorry the script already executed write commands against the dataset. "
                  b"You can either wait the script termination or kill the server in a hard way "
                  b"using the SHUTDOWN NOSAVE command.")
ERR_NOTBUSY = b"NOTBUSY No scripts in execution right now."
ERR_NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."

SHEBANG_FLAGS = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")


class Status(bytes):
    """RESP simple string (+OK)."""


class ErrorReply(bytes):
    """RESP error; the bytes are the text after '-', e.g. b"ERR syntax error"."""


class BigNumber(bytes):
    """RESP3 big number (digits as bytes)."""


class Verbatim(bytes):
    """RESP3 verbatim string; ``fmt`` is the 3-byte format such as b"txt"."""

    def __new__(cls, value, fmt=b"txt"):
        obj = super().__new__(cls, value)
        obj.fmt = fmt
        return obj


class ReplySet(list):
    """RESP3 set whose members are not hashable (tables inside a set); order as Lua iterated."""


class ScriptError(Exception):
    """A failure that is not the script's own reply (NOSCRIPT, compile errors, bad shebang).

    ``message`` is the exact Redis error text without the leading '-'."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


cdef class CompiledScript:
    def __init__(self, sha, body, function, flags, has_shebang):
        self.sha = sha
        self.sha_bytes = sha.encode()
        self.body = body
        self.function = function
        self.flags = flags
        self.has_shebang = has_shebang


def _deny_python_attributes(obj, name, *args):
    # Defense in depth: even if a Python object leaked into Lua, it could not be inspected.
    raise AttributeError("access to Python objects is not allowed from scripts")


def _crlf_to_spaces(text):
    return text.replace(b"\r", b" ").replace(b"\n", b" ")


def _lua_number_to_int(value):
    """(long long) cast of a Lua number as x86-64 C does it (NaN/overflow -> INT64_MIN)."""
    if isinstance(value, int):
        return value if -(1 << 63) <= value < (1 << 63) else _INT64_MIN
    if value != value or value >= 9.223372036854775807e18 or value < -9.223372036854775808e18:
        return _INT64_MIN
    return int(value)


def _error_for_lua(text):
    """luaPushErrorBuff: '-CODE msg' -> 'CODE msg', a bare word gets an 'ERR ' code."""
    if text[:1] == b"-":
        space = text.find(b" ")
        if space < 0:
            code, msg = b"ERR", text[1:]
        else:
            code, msg = text[1:space], text[space + 1:]
    else:
        code, msg = b"ERR", text
    return code + b" " + msg.strip(b"\r\n")


def parse_shebang(body):
    """Return (flags, lua_body) for a script body; raises ScriptError like Redis 7.0."""
    if not body.startswith(b"#!"):
        return None, body
    end = body.find(b"\n")
    line = body if end < 0 else body[:end]
    parts = line.split(b" ")
    if parts[0] != b"#!lua":
        raise ScriptError("ERR Unexpected engine in script shebang: %s" % parts[0].decode("latin-1"))
    flags = []
    for part in parts[1:]:
        if not part:
            continue
        if not part.startswith(b"flags="):
            raise ScriptError("ERR Unknown lua shebang option: %s" % part.decode("latin-1"))
        for flag in part[len(b"flags="):].split(b","):
            if not flag:
                continue
            name = flag.decode("latin-1")
            if name not in SHEBANG_FLAGS:
                raise ScriptError("ERR Unexpected flag in script shebang: %s" % name)
            flags.append(name)
    # keep line numbers: the shebang line becomes a Lua comment
    return tuple(flags), b"--" + body[2:]


cdef class ScriptRuntime:
    def __init__(self, call_handler, log_handler=None, time_limit_ms=5000, *,
                 busy_handler=None, acl_check_handler=None, max_memory=DEFAULT_MAX_MEMORY,
                 redis_version=REDIS_VERSION, redis_version_num=REDIS_VERSION_NUM,
                 hook_instructions=HOOK_INSTRUCTIONS):
        """call_handler(argv: list[bytes], raise_errors: bool) -> Reply runs one command.
        While it runs, ``resp`` says which protocol the script asked for (redis.setresp) and
        ``read_only`` whether writes must be refused; the engine sets ``wrote = True`` after a
        write so the server can answer SCRIPT KILL with -UNKILLABLE.
        log_handler(level: int, message: bytes) receives redis.log (0=debug .. 3=warning).
        busy_handler() is called from inside a script that ran past time_limit_ms, at every
        hook tick, so the server can serve other clients (-BUSY) and SCRIPT KILL meanwhile.
        acl_check_handler(argv) -> True/False, or None for an unknown command."""
        self.call_handler = call_handler
        self.log_handler = log_handler
        self.busy_handler = busy_handler
        self.acl_check_handler = acl_check_handler
        self.time_limit_ms = time_limit_ms
        self.running = False
        self.busy = False
        self.wrote = False
        self.read_only = False
        self.resp = 2
        self.current_sha = None
        self.is_function = False
        self._killed = False
        self._loading = False
        self._started = 0.0
        self._load_started = 0.0
        self._load_timeout_ms = 0.0
        self._scripts = {}
        self._by_sha_arg = {}           # lowercase sha as bytes -> script: EVALSHA without decode/lower per run
        self._lua = lua51.LuaRuntime(
            encoding=None, register_eval=False, register_builtins=False,
            unpack_returned_tuples=True, max_memory=max_memory,
            attribute_handlers=(_deny_python_attributes, _deny_python_attributes))
        self._api = self._bootstrap(redis_version, redis_version_num, hook_instructions)
        self._run_api = self._api["run"]
        self._run_tables_api = self._api["run_tables"]
        self._fcall_api = self._api["fcall"]
        self._fcall_tables_api = self._api["fcall_tables"]

    # ------------------------------------------------------------------ setup
    def _bootstrap(self, redis_version, redis_version_num, hook_instructions):
        source = (SANDBOX_LUA
                  .replace("__CJSON__", CJSON_LUA)
                  .replace("__MSGPACK__", MSGPACK_LUA)
                  .replace("__MAX_REPLY_DEPTH__", str(MAX_REPLY_DEPTH))
                  .replace("__INLINE_TOKENS__", str(_INLINE_TOKENS))
                  .replace("__INTERNAL_SOURCE__", INTERNAL_CHUNKNAME))
        lua = self._lua
        loader = lua.eval("function(src, name) return assert(loadstring(src, name)) end")
        chunk = loader(source.encode(), INTERNAL_CHUNKNAME.encode())
        lib_spec = lua.table_from({name.encode(): lua.table_from([f.encode() for f in fnames])
                                   for name, fnames in LIB_FUNCTIONS.items()})
        api = chunk(self._lua_call, self._lua_tick, self._lua_log, self._lua_sha1hex,
                    self._lua_acl_check, self._lua_library, lib_spec,
                    hook_instructions, redis_version.encode(), redis_version_num, self._lua_load_tick)
        # Nothing but the sandbox may keep the real environment: drop lupa's helpers and
        # every dangerous global from the real table too (defense in depth).
        lua.execute("""
            python = nil; io = nil; os = nil; package = nil; require = nil; dofile = nil
            loadfile = nil; debug = nil; module = nil; print = nil; newproxy = nil
        """)
        return {name: api[name.encode()] for name in ("compile", "run", "run_tables", "slice", "reset",
                                                      "load_library", "fcall", "fcall_tables")}

    # ------------------------------------------------------------------ public API
    def load(self, body):
        """SCRIPT LOAD: compile and cache; returns the sha1 hex (str)."""
        if isinstance(body, str):
            body = body.encode()
        sha = hashlib.sha1(body).hexdigest()
        if sha in self._scripts:
            return sha
        flags, lua_body = parse_shebang(body)
        try:
            function, err = self._api["compile"](lua_body)
        except lua51.LuaMemoryError:
            raise ScriptError("ERR Error compiling script (new function): not enough memory")
        if function is False:
            raise ScriptError("ERR Error compiling script (new function): %s"
                              % err.decode("utf-8", "replace"))
        script = self._scripts[sha] = CompiledScript(sha, body, function, flags, flags is not None)
        self._by_sha_arg[script.sha_bytes] = script
        return sha

    def exists(self, sha):
        if isinstance(sha, bytes):
            sha = sha.decode("latin-1")
        return sha.lower() in self._scripts

    def cache_stats(self):
        """(cached EVAL scripts, bytes they hold): INFO number_of_cached_scripts, used_memory_scripts_eval
        (redis counts each body plus its dict entry and sha key, about 100 bytes)."""
        cdef CompiledScript script
        cdef Py_ssize_t total = 0
        for script in self._scripts.values():
            total += len(script.body) + 104
        return len(self._scripts), total

    def vm_memory(self):
        """Bytes the Lua VM holds (collectgarbage('count')): INFO used_memory_lua / used_memory_vm_eval."""
        return int(self._lua.eval("collectgarbage('count')") * 1024)

    def cached_flags(self, sha):
        """Shebang flags of the cached script with this sha (bytes, any case): None when it has no shebang
        or is not cached (EVALSHA's pre-run checks; cheap for the usual lower-case sha)."""
        cdef CompiledScript script = self._by_sha_arg.get(sha) if type(sha) is bytes else None
        if script is None:
            if len(sha) != 40:
                return None
            script = self._scripts.get((sha.decode("latin-1") if type(sha) is bytes else sha).lower())
            if script is None:
                return None
        return script.flags

    def script_flags(self, sha):
        """Shebang flags of a cached script: None for a plain (compat) script, else a tuple."""
        return self._scripts[sha.lower()].flags

    def flush(self):
        self._scripts.clear()
        self._by_sha_arg.clear()
        self._lua.execute("collectgarbage()")

    def kill(self):
        """SCRIPT KILL: the running script fails at its next hook tick."""
        self._killed = True

    def elapsed_ms(self):
        if not self.running:
            return 0.0
        return _monotonic_ms() - self._started

    def run(self, sha_or_body, keys, args, *, is_sha, read_only=False, resp=2):
        """EVAL/EVALSHA: run a script and return its reply tree (an ErrorReply when the
        script fails). Raises ScriptError for NOSCRIPT, compile and shebang errors."""
        return self.execute(sha_or_body, keys, args, is_sha, read_only)

    cpdef object execute(self, object sha_or_body, object keys, object args, bint is_sha, bint read_only):
        """run() with positional arguments, callable at C level (the server's EVAL path)."""
        cdef CompiledScript script
        if self.running:
            raise ScriptError("ERR This Redis command is not allowed from script")
        if is_sha:
            script = self._by_sha_arg.get(sha_or_body) if type(sha_or_body) is bytes else None
            if script is None:
                sha = sha_or_body.decode("latin-1") if isinstance(sha_or_body, bytes) else sha_or_body
                script = self._scripts.get(sha.lower())
                if script is None:
                    raise ScriptError(ERR_NOSCRIPT)
        else:
            script = self._scripts[self.load(sha_or_body)]
        return self._invoke(script.function, script.sha_bytes, script.sha, keys, args,
                            read_only or (script.flags is not None and "no-writes" in script.flags), False)

    # ------------------------------------------------------------------ functions (FUNCTION LOAD / FCALL)
    def load_library(self, body, timeout_ms=0):
        """FUNCTION LOAD's engine part (redis luaEngineCreate): run a library's code, the part after its
        shebang line (starting with that line's newline, so line numbers hold), with the load-time API.
        Returns [(name: bytes, function, flags bitmask, description: bytes | None)] in registration order;
        raises ScriptError with redis's text (bytes, no error code), e.g. b"Error compiling function: ...".
        timeout_ms > 0 limits the run (redis: 500 ms, none when loading from AOF or a master)."""
        if self.running:
            raise ScriptError(b"This Redis command is not allowed from script")
        if isinstance(body, str):
            body = body.encode()
        self._load_timeout_ms = timeout_ms
        self._load_started = _monotonic_ms()
        self._loading = True
        try:
            result = self._api["load_library"](body)
        except lua51.LuaMemoryError:
            self._api["reset"]()
            raise ScriptError(b"Error registering functions: ERR not enough memory")
        except lua51.LuaError as exc:
            self._api["reset"]()
            raise ScriptError(("Error registering functions: ERR %s" % str(exc)[:100]).encode())
        finally:
            self._loading = False
        if result[0] is False:
            raise ScriptError(bytes(result[1]))
        flat = self._read_tokens(result[1], int(result[2]))
        out = []
        for i in range(0, len(flat), 4):
            desc = flat[i + 3]
            out.append((bytes(flat[i]), flat[i + 1], int(flat[i + 2]),
                        None if desc is False or desc is None else bytes(desc)))
        return out

    cpdef object call_function(self, object function, bytes name, object keys, object args, bint read_only):
        """FCALL: run a registered function with (keys, args); returns its reply tree (an ErrorReply when
        it fails, with redis's "script: <name>, on @user_function:N." position)."""
        if self.running:
            raise ScriptError("ERR This Redis command is not allowed from script")
        return self._invoke(function, name, name.decode("latin-1"), keys, args, read_only, True)

    cdef object _invoke(self, object function, bytes name, str label, object keys, object args,
                        bint read_only, bint is_function):
        """One run of an EVAL script or a function: arguments into Lua, hook state, the reply back."""
        cdef list arguments
        cdef tuple result
        cdef Py_ssize_t numkeys
        # argv items are usually bytes already: copy only what is not (bytearray, memoryview)
        arguments = [k if type(k) is bytes else bytes(k) for k in keys]
        numkeys = len(arguments)
        if args:
            arguments += [a if type(a) is bytes else bytes(a) for a in args]
        self.running = True
        self.busy = False
        self.wrote = False
        self._killed = False
        self.read_only = read_only
        self.is_function = is_function
        self.resp = 2
        self.current_sha = label
        self._started = _monotonic_ms()
        finished = False
        try:
            if len(arguments) <= _VARARG_LIMIT:
                if is_function:
                    result = self._fcall_api(function, name, numkeys, *arguments)
                else:
                    result = self._run_api(function, name, numkeys, *arguments)
            else:
                lua = self._lua
                result = (self._fcall_tables_api if is_function else self._run_tables_api)(
                    function, name, lua.table_from(arguments[:numkeys]), lua.table_from(arguments[numkeys:]))
            finished = True
            ok, payload = result[0], result[1]
            if not ok:
                return ErrorReply(_crlf_to_spaces(payload))
            if payload is False:        # a small reply: its tokens follow the count
                if result[2] == 2:      # one scalar: skip the generic decoder
                    tag = result[3]
                    if tag == b"i":
                        return _lua_number_to_int(result[4])
                    if tag == b"s":
                        return result[4]
                return self._decode_tokens(result[3:])
            return self._decode_reply(payload, result[2])
        except lua51.LuaMemoryError:
            return ErrorReply(b"ERR Error running script %s, not enough memory" % name)
        except lua51.LuaError as exc:
            return ErrorReply(_crlf_to_spaces(("ERR Error running script %s, %s" % (
                label, str(exc)[:100])).encode()))
        finally:
            if not finished:
                self._api["reset"]()    # api.run ended abnormally: make sure the hook is off
            self.running = False
            self.busy = False
            self.is_function = False
            self.current_sha = None
            self.resp = 2
            self._gc_count += 1
            if self._gc_count >= 50:
                # redis evalGenericCommand: lua_gc(LUA_GCSTEP, 50) every 50 runs keeps the VM from growing
                # between Lua's own (200% pause) collections
                self._gc_count = 0
                if self._gc_step is None:
                    self._gc_step = self._lua.eval("function() collectgarbage('step', 50) end")
                self._gc_step()

    # ------------------------------------------------------------------ callbacks from Lua
    # Each returns only plain values and never raises: a Python exception object reaching
    # Lua would hand scripts a live Python object.
    def _lua_call(self, resp, raise_errors, *argv):
        try:
            self.resp = resp if type(resp) is int else int(resp)
            reply = self.call_handler(list(argv), bool(raise_errors))
            kind = type(reply)
            if kind is int or kind is bytes:    # the common replies are their own Lua value
                return False, reply
            return isinstance(reply, ErrorReply), self._to_lua(reply)
        except BaseException as exc:  # noqa: BLE001 - must not cross into Lua
            text = ("ERR internal error: %s" % type(exc).__name__).encode()
            try:
                return True, self._lua.table_from({b"err": text})
            except BaseException:
                return True, False

    def _lua_tick(self):
        try:
            if self._killed:
                return True
            if not self.busy and self.elapsed_ms() >= self.time_limit_ms:
                self.busy = True
            if self.busy and self.busy_handler is not None:
                self.busy_handler()
            return self._killed
        except BaseException:
            return self._killed

    def _lua_load_tick(self):
        try:
            return (self._loading and self._load_timeout_ms > 0
                    and _monotonic_ms() - self._load_started > self._load_timeout_ms)
        except BaseException:
            return False

    def _lua_log(self, level, message):
        try:
            if self.log_handler is not None:
                self.log_handler(int(level), bytes(message))
        except BaseException:
            pass

    @staticmethod
    def _lua_sha1hex(data):
        try:
            return hashlib.sha1(data).hexdigest().encode()
        except BaseException:
            return b""

    def _lua_acl_check(self, *argv):
        try:
            if self.acl_check_handler is None:
                return True
            allowed = self.acl_check_handler(list(argv))
            return None if allowed is None else bool(allowed)
        except BaseException:
            return False

    def _lua_library(self, libname, fname, *args):
        try:
            return call_library(self._lua, self._api, libname, fname, args)
        except BaseException as exc:
            return False, ("internal error in %s.%s: %s" % (
                libname.decode(), fname.decode(), type(exc).__name__)).encode()

    # ------------------------------------------------------------------ conversions
    def _to_lua(self, reply):
        """Engine reply -> Lua value, as redisProtocolToLuaType() does."""
        lua = self._lua
        kind = type(reply)
        if kind is bytes:
            return reply
        if kind is bool:
            return reply
        if kind is int:
            return reply
        if reply is None:
            return False if self.resp == 2 else None
        if kind is list or kind is tuple:
            return lua.table_from([self._to_lua(item) for item in reply])
        if kind is Status:
            return lua.table_from({b"ok": bytes(reply)})
        if kind is ErrorReply:
            return lua.table_from({b"err": _error_for_lua(b"-" + bytes(reply))})
        if kind is float:
            return lua.table_from({b"double": reply})
        if kind is dict:
            table = lua.table()
            for key, value in reply.items():
                table[self._to_lua(key)] = self._to_lua(value)
            return lua.table_from({b"map": table})
        if kind is set or kind is frozenset or kind is ReplySet:
            table = lua.table()
            for member in reply:
                table[self._to_lua(member)] = True
            return lua.table_from({b"set": table})
        if kind is BigNumber:
            return lua.table_from({b"big_number": bytes(reply)})
        if kind is Verbatim:
            inner = lua.table_from({b"format": reply.fmt, b"string": bytes(reply)})
            return lua.table_from({b"verbatim_string": inner})
        if kind is str:
            return reply.encode()
        if isinstance(reply, (bytes, bytearray, memoryview)):
            return bytes(reply)
        if isinstance(reply, int):
            return int(reply)
        raise TypeError("unsupported reply type %r" % kind)

    def _read_tokens(self, table, count):
        slice_ = self._api["slice"]
        tokens = []
        for start in range(1, count + 1, _UNPACK_CHUNK):
            part = slice_(table, start, min(count, start + _UNPACK_CHUNK - 1))
            if isinstance(part, tuple):
                tokens.extend(part)
            else:
                tokens.append(part)
        return tokens

    def _decode_reply(self, table, count):
        return self._decode_tokens(self._read_tokens(table, count))

    def _decode_tokens(self, tokens):
        """Flat tokens from the sandbox's emit() -> neutral reply tree (iterative: replies
        can nest deeper than Python's recursion limit)."""
        pos = 0
        root = []
        # stack entries: [container, remaining, kind, pending_key]
        stack = [[root, 1, "a", None]]
        while stack:
            frame = stack[-1]
            if frame[1] == 0:
                stack.pop()
                done = frame[0]
                if frame[2] == "S":
                    done = self._finish_set(done)
                if stack:
                    self._append(stack[-1], done)
                continue
            tag = tokens[pos]
            if tag == b"s":
                value = tokens[pos + 1]; pos += 2
            elif tag == b"i":
                value = _lua_number_to_int(tokens[pos + 1]); pos += 2
            elif tag == b"n":
                value = None; pos += 1
            elif tag == b"b":
                value = bool(tokens[pos + 1]); pos += 2
            elif tag == b"E":
                value = ErrorReply(_crlf_to_spaces(tokens[pos + 1])); pos += 2
            elif tag == b"o":
                value = Status(_crlf_to_spaces(tokens[pos + 1])); pos += 2
            elif tag == b"d":
                value = float(tokens[pos + 1]); pos += 2
            elif tag == b"B":
                value = BigNumber(_crlf_to_spaces(tokens[pos + 1])); pos += 2
            elif tag == b"v":
                value = Verbatim(tokens[pos + 2], tokens[pos + 1]); pos += 3
            elif tag in (b"a", b"m", b"S"):
                count = int(tokens[pos + 1]); pos += 2
                kind = tag.decode()
                container = {} if kind == "m" else []
                # a map frame receives keys and values as separate items
                stack.append([container, count * 2 if kind == "m" else count, kind, _NO_KEY])
                continue
            else:
                raise ValueError("bad reply token %r" % (tag,))
            self._append(frame, value)
        return root[0]

    @staticmethod
    def _append(frame, value):
        container, _, kind, key = frame
        if kind == "m":
            if key is _NO_KEY:
                frame[3] = hashable_reply(value)
            else:
                container[key] = value
                frame[3] = _NO_KEY
        else:
            container.append(value)
        frame[1] -= 1

    @staticmethod
    def _finish_set(members):
        try:
            return set(members)
        except TypeError:
            return ReplySet(members)


_NO_KEY = object()


def hashable_reply(value):
    """A reply value usable as a dict key or set member (RESP3 map keys may be arrays or maps)."""
    if isinstance(value, list):
        return tuple(hashable_reply(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, hashable_reply(v)) for k, v in value.items())
    if isinstance(value, set):
        return frozenset(value)
    return value
