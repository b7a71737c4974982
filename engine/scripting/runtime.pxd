# cython: language_level=3
"""C-level declarations of the Lua runtime's classes, shared with server/script_runner.pyx."""


cdef class CompiledScript:
    cdef readonly str sha
    cdef readonly bytes sha_bytes, body
    cdef readonly object function, flags
    cdef readonly bint has_shebang


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

    cpdef object execute(self, object sha_or_body, object keys, object args, bint is_sha, bint read_only)
    cpdef object call_function(self, object function, bytes name, object keys, object args, bint read_only)
    cdef object _invoke(self, object function, bytes name, str label, object keys, object args,
                        bint read_only, bint is_function)
