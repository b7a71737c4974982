# cython: language_level=3
"""C-level declarations of the Lua runtime's classes, shared with engine/scripting/runner.pyx."""
from engine.scripting.luacapi cimport lua_State


cdef class CommandGate:
    # redis.call's C path (runtime.pyx): the engine side subclasses this (engine/scripting/runner.pyx). gate_call runs
    # argv and returns None with the command's RESP reply at reply_data/reply_len (valid until the next call), or
    # the error text (bytes, e.g. b"ERR Unknown Redis command called from script") of a command refused before it ran.
    cdef const char* reply_data
    cdef Py_ssize_t reply_len
    cdef object _held
    cdef object gate_call(self, list argv)
    cdef gate_error(self, bytes text)     # a command answered this error (its line without '-')


cdef class CompiledScript:
    cdef readonly str sha
    cdef readonly bytes sha_bytes, body
    cdef readonly object function, flags
    cdef readonly bint has_shebang
    cdef int ref                      # LUA_REGISTRYINDEX reference of function (C path), 0 without one


cdef class ScriptRuntime:
    # a cdef class: run() and the Lua callbacks touch these on every EVALSHA, as C fields
    cdef public object call_handler, log_handler, busy_handler, acl_check_handler
    cdef public double time_limit_ms
    cdef public bint running, busy, wrote, read_only
    cdef public bint is_function      # what runs is a function (FCALL), not an EVAL script
    cdef public int resp
    cdef public object current_sha    # the sha of the running script, or the name of the running function
    cdef bint _killed, _loading
    cdef int _gc_count                # runs since the last GC step (redis LUA_GC_CYCLE_PERIOD)
    cdef object _gc_step
    cdef double _started, _load_started, _load_timeout_ms
    cdef dict _scripts, _by_sha_arg
    cdef readonly object _lua
    cdef object _api, _run_api, _run_tables_api, _fcall_api, _fcall_tables_api
    cdef public CommandGate gate      # redis.call's engine side for the C path (None: call_handler via lupa)
    cdef lua_State* _L                # lupa's state when the C API could be bound, else NULL
    cdef int _run_ref                 # api.run_tables in the registry
    cdef int _arm_ref, _finish_ref, _globals_ref, _errh_ref   # api.arm, api.finish, the script globals, err_handler
    cdef int _armed                   # the sandbox's run state in place: 1 for _run_c (api.arm), 2 for _run_fn_c
    cdef int _arm_fcall_ref           # api.arm_fcall in the registry
    cdef object _fn_obj               # the function _fn_ref refers to (FCALL's C path: the last one called)
    cdef int _fn_ref
    cdef int _keys_ref, _argv_ref     # spare KEYS / ARGV tables in the registry (0: none)
    cdef int _ok[3]                   # the spare {ok = 'OK'} table: registry ref (0 none), handed out this run, enabled
    cdef long long _gc_base           # VM KB after the last full collection of the C path's GC pacing (0: none)
    cdef long long _max_memory
    cdef object _call_hold            # bytes the last C redis.call's error points into

    cpdef object execute(self, object sha_or_body, object keys, object args, bint is_sha, bint read_only)
    cpdef object call_function(self, object function, bytes name, object keys, object args, bint read_only)
    cdef object _invoke(self, object function, bytes name, str label, object keys, object args,
                        bint read_only, bint is_function)
    cdef lua_State* _probe_state(self)
    cdef int _make_ref(self, obj) except -1
    cdef bint _memory_ok(self, Py_ssize_t extra)
    cdef void _gc_pace(self)
    cdef object _run_c(self, CompiledScript script, list keys, list args, str label)
    cdef object _run_fn_c(self, object function, bytes name, list keys, list args)
    cdef object _c_reply(self, lua_State* L, int top, int status, bytes label)
