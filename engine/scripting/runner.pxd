# cython: language_level=3
"""C-level declaration of the script runner, cimported by engine/commands/scripting.pyx (EVAL/EVALSHA call _run
directly)."""
from engine.core cimport Client as CClient, Dispatcher
from engine.scripting.runtime cimport CommandGate, ScriptRuntime
from protocol.resp cimport ReplyBuffer


cdef class ScriptRunner(CommandGate):
    # C fields: eval() and _call() read them on every EVALSHA and every redis.call
    cdef public object server, caller, caller_argv
    # set by EVAL/FCALL before a run: over maxmemory at the start (redis server.script_oom), and whether
    # the script declared allow-oom
    cdef public bint script_oom, allow_oom
    cdef public object functions          # engine.scripting.functions.Functions: the loaded libraries
    cdef public CClient lua_client
    cdef public ScriptRuntime runtime
    cdef object _saved_before_call
    cdef list _busy_guests
    cdef set _eof_fds, _counted_errors
    cdef Dispatcher _dispatcher
    cdef ReplyBuffer _lua_reply
    cdef dict _table
    cdef dict _extensions             # server.extensions (one dict for the server's life)

    cdef _run(self, CClient c, list caller_argv, info, body_or_sha, keys, args, bint is_sha, bint read_only)
    cdef _reply(self, CClient c, result)
