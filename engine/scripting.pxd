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
    cdef public int resp
    cdef public object current_sha
    cdef bint _killed
    cdef double _started
    cdef dict _scripts, _by_sha_arg
    cdef readonly object _lua
    cdef object _api, _run_api

    cpdef object execute(self, object sha_or_body, object keys, object args, bint is_sha, bint read_only)
