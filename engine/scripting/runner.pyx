# cython: language_level=3, wraparound=True, boundscheck=True, binding=True
"""Glue between the Lua runtime (engine/scripting/runtime.pyx) and the server: EVAL's engine side.

One ScriptRunner per server (``server.extensions["scripting"]``) owns the ScriptRuntime and an internal
client, the "lua client" of Redis, through which scripts run commands with the dispatcher:

- the internal client's db follows the caller's db when a script starts; a SELECT inside the script moves
  only the script (redis 7);
- its reply buffer speaks the script's RESP version (redis.setresp) and is parsed back into the runtime's
  neutral reply tree by ``parse_reply``;
- commands are checked as redis scriptCall() does, with its error texts (unknown, arity, noscript,
  writes from read-only scripts);
- effects: each inner write propagates itself through the dispatcher (redis 7 effects replication), the
  whole script being one EffectLog unit, so AOF/replicas get MULTI ... EXEC and never the EVAL.

FCALL runs a function of ``self.functions`` (engine/scripting/functions.py) the same way; while a function is busy,
clients get the FUNCTION KILL variant of -BUSY, SCRIPT KILL refuses it and FUNCTION KILL refuses an EVAL.

BUSY, with a single-threaded asyncio server: the script runs inside the caller's data_received callback,
so the event loop cannot serve anyone until it returns. Once the script runs past busy-reply-threshold,
the runtime calls ``_serve_while_busy`` at every hook tick; it polls the sockets of the other connected
clients (non-blocking ``poll`` on their file descriptors), reads what is pending and hands it to their
connection's data_received, as the event loop would. While busy, a ``before_call`` wrapper answers every
command without the allow_busy flag with -BUSY, so only SCRIPT KILL, SHUTDOWN NOSAVE, MULTI/DISCARD/WATCH,
AUTH/HELLO/CLIENT... run (redis processCommand). Connections accepted while busy are served too: the
listening sockets are polled and an accepted socket gets a temporary transport (``_BusyTransport``) that
is handed over to the event loop when the script ends. The caller's own connection is not read while its
script runs (redis protects the caller the same way).

Known gaps of this design: a connection the event loop accepted in the very iteration that started the
script (its connection_made still queued) is served only after the script; memcached connections are not
served while busy (their commands bypass the dispatcher, so answering them would break atomicity).
"""
import os
import select
import socket

from engine import registry
from server.connection import _flush_deferred
from engine.core import Client, exec_abort
from engine.core cimport Client as CClient, Dispatcher, EffectLog
from engine.spec cimport CommandSpec
from protocol.resp cimport ReplyBuffer
from engine.scripting.runtime cimport CommandGate, ScriptRuntime
from engine.scripting.functions import Functions
from engine.scripting.runtime import (
    ERR_BUSY, ERR_NOSCRIPT_COMMAND, ERR_UNKNOWN_COMMAND, ERR_WRITE_IN_READONLY, ERR_WRONG_ARITY,
    BigNumber, ErrorReply, ReplySet, ScriptError, Status, Verbatim, hashable_reply)

CMD_WRITE = registry.FLAGS["write"]
CMD_DENYOOM = registry.FLAGS["denyoom"]
ERR_OOM = b"OOM command not allowed when used memory > 'maxmemory'."
CMD_NOSCRIPT = registry.FLAGS["noscript"]
CMD_ALLOW_BUSY = registry.FLAGS["allow_busy"]
CMD_INTERNAL = registry.FLAGS["internal"]
# the same bits as C constants for gate_call (no Python int per test)
cdef unsigned long long F_WRITE = CMD_WRITE, F_DENYOOM = CMD_DENYOOM, F_NOSCRIPT = CMD_NOSCRIPT
cdef unsigned long long F_INTERNAL = CMD_INTERNAL
cdef bytes _OK = b"OK"                 # the +OK of a SET script, written without a copy of the Status
LUA_LOG_LEVELS = ("debug", "verbose", "notice", "warning")
# shared.slowscripterr: what clients get while a function (not an EVAL script) is busy
ERR_BUSY_FUNCTION = b"BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
READ_CHUNK = 65536


cdef class ScriptRunner(CommandGate):
    # fields: engine/scripting/runner.pxd

    def __init__(self, server):
        self.server = server
        self.runtime = ScriptRuntime(self._call, self._log, server.config["busy-reply-threshold"],
                                     busy_handler=self._serve_while_busy,
                                     acl_check_handler=self._acl_check, gate=self)
        self.lua_client = Client(server.ks, server, None, server.next_client_id)
        server.next_client_id += 1
        self.lua_client.deny_blocking = True
        self.lua_client.authenticated = True
        self.caller = None
        self.caller_argv = None
        self.functions = Functions(self.runtime)
        self._saved_before_call = None
        self._busy_guests = []          # connections accepted while busy, on a temporary transport
        self._eof_fds = set()
        self._counted_errors = set()    # texts of errors from commands run by the current script
        server.config.on_change("busy-reply-threshold", self._set_time_limit)
        # fixed for the server's life; looked up once instead of per redis.call
        self._dispatcher = server.dispatcher
        self._table = server.dispatcher.table
        self._extensions = server.extensions
        self._lua_reply = self.lua_client.reply

    # ------------------------------------------------------------------ EVAL / EVALSHA
    def eval(self, CClient c, body_or_sha, keys, args, *, is_sha, read_only):
        """Run a script for client c and write its reply (or error) into c.reply."""
        self._run(c, None, None, body_or_sha, keys, args, is_sha, read_only)

    def run_script(self, CClient c, body_or_sha, keys, args, bint is_sha, bint read_only, bint oom, bint allow_oom):
        """eval() for EVAL/EVALSHA with positional arguments, and the OOM state of the start (script_oom, allow_oom)."""
        self.script_oom = oom
        self.allow_oom = allow_oom
        self._run(c, None, None, body_or_sha, keys, args, is_sha, read_only)

    def fcall(self, CClient c, info, list argv, keys, args, bint read_only):
        """Run function ``info`` (engine.scripting.functions.FunctionInfo) for client c, as eval() runs a script;
        argv is the caller's command (FUNCTION STATS shows it)."""
        self._run(c, argv, info, None, keys, args, False, read_only)

    cdef _run(self, CClient c, list caller_argv, info, body_or_sha, keys, args, bint is_sha, bint read_only):
        """A script (info None) or a function run for c: the lua client takes the caller's db and user,
        the run is one effect unit, BUSY state is undone after it, and the reply goes to c."""
        cdef ScriptRuntime runtime = self.runtime
        cdef CClient lua = self.lua_client
        cdef EffectLog effects = c.ks.effects
        lua.db = c.db
        lua.user = c.user
        lua.reply.resp = 2
        self.caller = c
        self.caller_argv = caller_argv
        if self._counted_errors:
            self._counted_errors.clear()
        effects.begin_unit()
        try:
            if info is None:
                result = runtime.execute(body_or_sha, keys, args, is_sha, read_only)
            else:
                result = runtime.call_function(info.function, info.name, keys, args, read_only)
        except ScriptError as exc:
            c.error(exc.message.encode() if isinstance(exc.message, str) else exc.message)
            return
        finally:
            effects.end_unit()
            self._lua_reply.length = 0      # the C path leaves the last redis.call's reply in place
            self.caller = None
            self.caller_argv = None
            if self._saved_before_call is not None or self._busy_guests or self._eof_fds:
                self._end_busy()
        self._reply(c, result)

    cdef _reply(self, CClient c, result):
        counted = self._counted_errors
        kind = type(result)
        if kind is int:                 # the common small replies, without write_reply's dispatch
            c.reply.add_int(result)
            return
        if kind is bytes:
            c.reply.add_bulk(result)
            return
        if kind is Status:              # +OK of a SET script...
            if counted:
                counted.clear()
            c.reply.add_simple(_OK if result == _OK else bytes(result))
            return
        if kind is ErrorReply and counted and any(result.startswith(text) for text in counted):
            # the error of a redis.call the script passed on: errorstats already has it (redis
            # ignore_error_stats_update); failed_calls of EVAL still counts it
            counted.clear()
            c.errors += 1
            c.reply.add_error(bytes(result))
            return
        counted.clear()
        write_reply(c, result)

    # ------------------------------------------------------------------ redis.call / redis.pcall
    cdef object gate_call(self, list argv):
        """redis scriptCall(): checks in redis order, then the dispatcher. None with the RESP reply at
        reply_data/reply_len (the lua client's reply buffer), or the ErrorReply of a command refused before it ran."""
        cdef ScriptRuntime runtime = self.runtime
        cdef CommandSpec spec = self._table.get(argv[0])
        cdef Py_ssize_t argc = len(argv)
        cdef ReplyBuffer reply_buffer
        cdef CClient lua
        if spec is None or spec.flags & F_INTERNAL or spec.subcommands is not None:
            spec = self._lookup(argv)
        if spec is None:
            return self._rejected(None, ERR_UNKNOWN_COMMAND)
        if (spec.arity > 0 and spec.arity != argc) or argc < -spec.arity:
            return self._rejected(spec, ERR_WRONG_ARITY)
        if spec.flags & F_NOSCRIPT:
            return self._rejected(spec, ERR_NOSCRIPT_COMMAND)
        caller = self.caller
        if caller is not None and (<CClient>caller).acl_user is not None \
                and not (<CClient>caller).acl_user.unrestricted:
            denied = self.server.extensions["acl"].check_script(caller, spec, argv)
            if denied is not None:                # redis scriptVerifyACL
                return self._rejected(spec, denied)
        if spec.flags & F_WRITE and runtime.read_only:
            return self._rejected(spec, ERR_WRITE_IN_READONLY)
        if spec.flags & F_DENYOOM and self.script_oom and not self.allow_oom and not runtime.wrote:
            # redis scriptVerifyOOM: refused only before the script's first write, or atomicity would break
            return self._rejected(spec, ERR_OOM)
        if caller is not None:
            cluster = self._extensions.get("cluster")
            if cluster is not None:
                denied = cluster.script_check(caller, spec, argv)
                if denied is not None:                # redis scriptVerifyClusterState
                    return self._rejected(spec, denied)
        if spec.flags & F_WRITE:
            runtime.wrote = True        # redis SCRIPT_WRITE_DIRTY: set before the call, SCRIPT KILL refuses
        lua = self.lua_client
        reply_buffer = self._lua_reply
        reply_buffer.length = 0
        reply_buffer.resp = runtime.resp
        lua.multi_queue = None
        self._dispatcher.call(lua, spec, argv)
        self.reply_data = reply_buffer.buf
        self.reply_len = reply_buffer.length
        return None

    cdef gate_error(self, bytes text):
        self._counted_errors.add(_error_code_text(text))

    def _call(self, list argv, raise_errors):
        """redis.call through lupa (when the C path is not bound): gate_call, then the reply parsed."""
        cdef ReplyBuffer reply_buffer = self._lua_reply
        rejected = self.gate_call(argv)
        if rejected is not None:
            return rejected
        if reply_buffer.length > 3 and reply_buffer.buf[0] == 58:
            # an integer (INCR...): what parse_reply would return, read in place
            value = _small_int(reply_buffer.buf, reply_buffer.length)
            if value is not None:
                reply_buffer.length = 0
                return value
        data = reply_buffer.take()
        if data[0] == 58:
            return int(data[1:data.index(b"\r\n")])
        reply = parse_reply(data)
        if type(reply) is ErrorReply:
            self._counted_errors.add(_error_code_text(reply))
        return reply

    def _set_time_limit(self, value):
        self.runtime.time_limit_ms = value

    def _rejected(self, spec, message):
        """A command refused before running: counted in errorstats here, once (redis afterErrorReply)."""
        if spec is not None:
            spec.rejected_calls += 1
        self.server.count_error(message)
        self._counted_errors.add(message)
        return ErrorReply(message)

    def _lookup(self, argv):
        table = self.server.dispatcher.table
        name = argv[0]
        spec = table.get(name) or table.get(name.lower())
        if spec is None or spec.flags & CMD_INTERNAL:
            return None
        if spec.subcommands is not None:
            if len(argv) < 2:
                return spec if spec.handler is not None else None
            return spec.subcommands.get(argv[1].lower())
        return spec

    def _acl_check(self, argv):
        """redis.acl_check_cmd: None for an unknown command; ACL users are not modelled here."""
        spec = self._lookup(argv)
        if spec is None:
            return None
        acl = self.server.extensions.get("acl")
        check = getattr(acl, "command_allowed", None)
        if check is not None and self.caller is not None:
            return bool(check(self.caller, spec, argv))
        return True

    def _log(self, level, message):
        getattr(self.server.log, LUA_LOG_LEVELS[level])(message.decode("utf-8", "replace"))

    # ------------------------------------------------------------------ SCRIPT subcommands
    def kill(self, c, is_eval=True):
        """SCRIPT KILL (is_eval) and FUNCTION KILL (redis scriptKill): each kills only its own kind."""
        runtime = self.runtime
        if not runtime.running:
            c.error(b"NOTBUSY No scripts in execution right now.")
        elif runtime.wrote:
            c.error(b"UNKILLABLE Sorry the script already executed write commands against the dataset. "
                    b"You can either wait the script termination or kill the server in a hard way using "
                    b"the SHUTDOWN NOSAVE command.")
        elif is_eval and runtime.is_function:
            c.error(ERR_BUSY_FUNCTION)
        elif not is_eval and not runtime.is_function:
            c.error(ERR_BUSY)
        else:
            runtime.kill()
            c.reply.add_ok()

    def running_function(self):
        """(name, caller argv, duration ms) of the function running now, or None (FUNCTION STATS)."""
        runtime = self.runtime
        if not runtime.running or not runtime.is_function:
            return None
        return runtime.current_sha.encode("latin-1"), self.caller_argv or [], int(runtime.elapsed_ms())

    # ------------------------------------------------------------------ BUSY
    def _serve_while_busy(self):
        server = self.server
        if self._saved_before_call is None:
            self._start_busy()
        ks = server.ks
        frozen_now = ks.now_ms          # other clients' batches must not move the script's clock
        try:
            _flush_deferred()           # replies held for the end of the pass (redis: beforeSleep while blocked)
            self._accept_pending()
            self._poll_clients()
        finally:
            ks.now_ms = frozen_now
        if server.shutdown_requested is not None:
            self.runtime.kill()         # SHUTDOWN NOSAVE: stop the script so the shutdown can proceed

    def _start_busy(self):
        server = self.server
        runtime = self.runtime
        server.log.warning(
            "Slow script detected: still in execution after %d milliseconds. You can try killing the script "
            "using the %s command. Script name is: %s." % (
                int(runtime.elapsed_ms()), "FUNCTION KILL" if runtime.is_function else "SCRIPT KILL",
                runtime.current_sha))
        dispatcher = server.dispatcher
        original = dispatcher.before_call
        self._saved_before_call = (original,)
        busy_error = ERR_BUSY_FUNCTION if runtime.is_function else ERR_BUSY

        def refuse_while_busy(c, spec, argv):
            if original is not None and not original(c, spec, argv):
                return False
            if spec.flags & CMD_ALLOW_BUSY and not (spec.name == "shutdown" and not _has_nosave(argv)):
                return True
            spec.rejected_calls += 1
            if spec.name == "exec":
                exec_abort(c, busy_error)       # redis rejectCommand -> execCommandAbort
                return False
            if c.multi_queue is not None:
                c.multi_error = True
            c.error(busy_error)
            return False
        dispatcher.before_call = refuse_while_busy

    def _end_busy(self):
        if self._saved_before_call is not None:
            self.server.dispatcher.before_call = self._saved_before_call[0]
            self._saved_before_call = None
        self._eof_fds.clear()
        guests, self._busy_guests = self._busy_guests, []
        for conn in guests:
            if conn.transport.closed:
                conn.connection_lost(None)
            else:
                conn.transport.hand_over(self.server.loop, conn)

    def _poll_clients(self):
        from server.connection import RespConnection
        caller_conn = self.caller.conn if self.caller is not None else None
        by_fd = {}
        for conn in list(self.server.clients.values()) + self._busy_guests:
            # only RESP connections: their commands go through the dispatcher, where BUSY is answered
            # (a memcached connection would write to the keyspace in the middle of the script)
            if not isinstance(conn, RespConnection) or conn is caller_conn or conn.closing \
                    or conn.reading_paused or conn.transport is None \
                    or conn.transport.get_extra_info("sslcontext") is not None:
                continue    # a TLS connection's socket carries records, not commands: it waits for the script
            fd = _fileno(conn.transport)
            if fd >= 0 and fd not in self._eof_fds:
                by_fd[fd] = conn
        if not by_fd:
            return
        poller = select.poll()
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(0):
            conn = by_fd[fd]
            try:
                data = os.read(fd, READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                self._eof_fds.add(fd)
                continue
            if not data:
                self._eof_fds.add(fd)   # the event loop sees the EOF again once the script ends
                continue
            conn.data_received(data)

    def _accept_pending(self, limit=16):
        from server.connection import RespProtocol
        for listener in self.server.listeners:
            for lsock in listener.sockets:
                try:
                    listening = socket.socket(fileno=os.dup(lsock.fileno()))
                except OSError:
                    continue
                try:
                    listening.setblocking(False)
                    for _ in range(limit):
                        try:
                            sock, _ = listening.accept()
                        except OSError:       # nothing pending (BlockingIOError) or a transient failure
                            break
                        sock.setblocking(False)
                        conn = RespProtocol(self.server)
                        conn.connection_made(_BusyTransport(sock))
                        if conn.client is not None:
                            self._busy_guests.append(conn)
                finally:
                    listening.close()     # closes only our duplicate descriptor


cdef object _small_int(const char* buf, Py_ssize_t length):
    """The value of an integer reply ':<digits>\\r\\n' of up to 18 digits, else None (parsed the slow way)."""
    cdef Py_ssize_t start = 2 if buf[1] == 45 else 1     # after ':' and an optional '-'
    cdef Py_ssize_t i = start
    cdef long long value = 0
    while i < length and 48 <= buf[i] <= 57 and i - start < 18:
        value = value * 10 + (buf[i] - 48)
        i += 1
    if i == start or i + 2 != length or buf[i] != 13:
        return None
    return -value if start == 2 else value


def _error_code_text(reply):
    """The error as the script sees it (an 'ERR' code added when the text has none), as Lua gets it."""
    text = bytes(reply).strip(b"\r\n")
    return text if b" " in text else b"ERR " + text


def _has_nosave(argv):
    return any(a.lower() == b"nosave" for a in argv[1:])


def _fileno(transport):
    sock = transport.get_extra_info("socket")
    try:
        return sock.fileno() if sock is not None else -1
    except (OSError, ValueError):
        return -1


class _BusyTransport:
    """The transport of a connection accepted while a script is busy, until the event loop can adopt it.

    Writes go straight to the non-blocking socket (a tiny reply: BUSY, +OK...), anything the socket does not
    take is kept and handed over."""

    def __init__(self, sock):
        self.sock = sock
        self.pending = b""
        self.closed = False

    def get_extra_info(self, name, default=None):
        try:
            if name == "peername":
                return self.sock.getpeername()
            if name == "sockname":
                return self.sock.getsockname()
        except OSError:
            return default
        if name == "socket":
            return self.sock
        return default

    def write(self, data):
        if self.closed:
            return
        if not self.pending:
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.close()
                return
            data = data[sent:]
        self.pending += data

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def is_closing(self):
        return self.closed

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass

    def get_write_buffer_size(self):
        return len(self.pending)

    def hand_over(self, loop, conn):
        """Let the event loop adopt the socket for the connection that used this temporary transport."""
        if self.closed or loop is None:
            return

        async def adopt():
            transport, _ = await loop.connect_accepted_socket(lambda: _Adopter(conn), self.sock)
            if self.pending:
                transport.write(self.pending)
        loop.create_task(adopt())


class _Adopter:
    """asyncio protocol forwarding to an existing connection: keeps its client instead of registering anew."""

    def __init__(self, conn):
        self.conn = conn

    def connection_made(self, transport):
        self.conn.transport = transport

    def data_received(self, data):
        self.conn.data_received(data)

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        self.conn.connection_lost(exc)

    def pause_writing(self):
        self.conn.pause_writing()

    def resume_writing(self):
        self.conn.resume_writing()


# ---------------------------------------------------------------------------------------------------
# RESP bytes from the internal client -> the runtime's neutral reply tree
# ---------------------------------------------------------------------------------------------------
def parse_reply(data):
    """Parse one complete RESP2/RESP3 reply (as written by ReplyBuffer) into the neutral tree."""
    value, _ = _parse(data, 0)
    return value


def _parse(data, pos):
    nl = data.index(b"\r\n", pos)
    kind = data[pos]
    line = data[pos + 1:nl]
    pos = nl + 2
    if kind == 36:      # $
        n = int(line)
        if n < 0:
            return None, pos
        return data[pos:pos + n], pos + n + 2
    if kind == 58:      # :
        return int(line), pos
    if kind == 43:      # +
        return Status(line), pos
    if kind == 45:      # -
        return ErrorReply(line), pos
    if kind == 42 or kind == 62:   # * and > (a push inside a script is just an array)
        n = int(line)
        if n < 0:
            return None, pos
        out = []
        for _ in range(n):
            item, pos = _parse(data, pos)
            out.append(item)
        return out, pos
    if kind == 37:      # %
        out = {}
        for _ in range(int(line)):
            key, pos = _parse(data, pos)
            val, pos = _parse(data, pos)
            out[hashable_reply(key)] = val
        return out, pos
    if kind == 126:     # ~
        items = []
        for _ in range(int(line)):
            item, pos = _parse(data, pos)
            items.append(item)
        try:
            return set(items), pos
        except TypeError:
            return ReplySet(items), pos
    if kind == 95:      # _
        return None, pos
    if kind == 44:      # ,
        return float(line), pos
    if kind == 35:      # #
        return line == b"t", pos
    if kind == 40:      # (
        return BigNumber(line), pos
    if kind == 61:      # =
        n = int(line)
        body = data[pos:pos + n]
        return Verbatim(body[4:], body[:3]), pos + n + 2
    if kind == 124:     # | attribute: skipped, the value follows
        for _ in range(int(line) * 2):
            _, pos = _parse(data, pos)
        return _parse(data, pos)
    raise ValueError("unexpected RESP type byte %r" % chr(kind))


# ---------------------------------------------------------------------------------------------------
# The runtime's reply tree -> the caller's reply buffer (RESP2 downgrades as redis does)
# ---------------------------------------------------------------------------------------------------
def write_reply(c, value):
    """Iterative: a script may return tables nested thousands deep."""
    reply = c.reply
    stack = [value]
    while stack:
        v = stack.pop()
        kind = type(v)
        if kind is bytes:
            reply.add_bulk(v)
        elif kind is int:
            reply.add_int(v)
        elif kind is list or kind is tuple:
            reply.add_array_len(len(v))
            stack.extend(reversed(v))
        elif v is None:
            reply.add_null()
        elif kind is Status:
            reply.add_simple(bytes(v))
        elif kind is ErrorReply:
            c.error(bytes(v))
        elif kind is bool:
            reply.add_bool(v)
        elif kind is float:
            reply.add_double(v)
        elif kind is dict:
            reply.add_map_len(len(v))
            items = []
            for key, val in v.items():
                items.append(list(key) if type(key) is tuple else key)
                items.append(val)
            stack.extend(reversed(items))
        elif kind is set or kind is frozenset or kind is ReplySet:
            members = [list(m) if type(m) is tuple else m for m in v]
            reply.add_set_len(len(members))
            stack.extend(reversed(members))
        elif kind is BigNumber:
            if reply.resp >= 3:
                reply.add_raw(b"(" + bytes(v) + b"\r\n")
            else:
                reply.add_bulk(bytes(v))
        elif kind is Verbatim:
            reply.add_verbatim(bytes(v), v.fmt)
        else:
            reply.add_bulk(bytes(v))


def script_runner(server):
    runner = server.extensions.get("scripting")
    if runner is None:
        runner = server.extensions["scripting"] = ScriptRunner(server)
    return runner
