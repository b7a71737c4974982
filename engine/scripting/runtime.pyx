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
from libc.stdio cimport snprintf
from libc.string cimport memchr
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.float cimport PyFloat_FromDouble
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromLongLong
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from engine.scripting.luacapi cimport lua_State

import lupa.lua51 as lua51

from engine.scripting.cjson import CJSON_LUA
from engine.scripting.libs import LIB_FUNCTIONS, MSGPACK_LUA, call_library
from engine.scripting.sandbox import INTERNAL_CHUNKNAME, SANDBOX_LUA, lazy_library_lua

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


_STATUS_OK = Status(b"OK")


class ReplySet(list):
    """RESP3 set whose members are not hashable (tables inside a set); order as Lua iterated."""


class ScriptError(Exception):
    """A failure that is not the script's own reply (NOSCRIPT, compile errors, bad shebang).

    ``message`` is the exact Redis error text without the leading '-'."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------------
# The C path (issue 20): the Lua 5.1 C API of lupa's bundled Lua, bound with dlsym. EVALSHA pushes KEYS/ARGV as Lua
# strings and calls the sandbox's api.run with lua_pcall; redis.call / redis.pcall are lua_CFunctions that build argv,
# hand it to the engine's CommandGate (the dispatcher's compiled path) and turn the command's RESP reply into Lua
# values in C, the conversions of ScriptRuntime._to_lua (redis redisProtocolToLuaType) without Python objects.
# ---------------------------------------------------------------------------------------------------
cdef extern from *:
    """
    #include <dlfcn.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    typedef int (*cm_lua_CFunction)(lua_State*);
    #define CM_REGISTRY (-10000)
    #define CM_GLOBALS (-10002)
    #define CM_UPVALUE(i) (CM_GLOBALS - (i))

    static int (*cm_gettop)(lua_State*);
    static void (*cm_settop)(lua_State*, int);
    static int (*cm_type)(lua_State*, int);
    static const char* (*cm_tolstring)(lua_State*, int, size_t*);
    static double (*cm_tonumber)(lua_State*, int);
    static int (*cm_toboolean)(lua_State*, int);
    static void* (*cm_touserdata)(lua_State*, int);
    static void (*cm_pushlstring)(lua_State*, const char*, size_t);
    static void (*cm_pushnumber)(lua_State*, double);
    static void (*cm_pushnil)(lua_State*);
    static void (*cm_pushboolean)(lua_State*, int);
    static void (*cm_pushcclosure)(lua_State*, cm_lua_CFunction, int);
    static void (*cm_pushlightuserdata)(lua_State*, void*);
    static void (*cm_createtable)(lua_State*, int, int);
    static void (*cm_rawseti)(lua_State*, int, int);
    static void (*cm_rawgeti)(lua_State*, int, int);
    static void (*cm_rawset)(lua_State*, int);
    static void (*cm_rawget)(lua_State*, int);
    static void (*cm_setfield)(lua_State*, int, const char*);
    static void (*cm_getfield)(lua_State*, int, const char*);
    static int (*cm_pcall)(lua_State*, int, int, int);
    static int (*cm_error)(lua_State*);
    static int (*cm_checkstack)(lua_State*, int);
    static int (*cm_gc)(lua_State*, int, int);
    static int (*cm_ref)(lua_State*, int);
    static void (*cm_unref)(lua_State*, int, int);
    static void (*cm_concat)(lua_State*, int);
    static int (*cm_next)(lua_State*, int);
    static int (*cm_getmetatable)(lua_State*, int);
    static void (*cm_pushvalue)(lua_State*, int);

    static int cm_bind_lua(const char* path) {
        void* h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
        if (!h) return 0;
    #define CM_BIND(var, sym) if (!(*(void**)(&var) = dlsym(h, sym))) return 0;
        CM_BIND(cm_gettop, "lua_gettop") CM_BIND(cm_settop, "lua_settop") CM_BIND(cm_type, "lua_type")
        CM_BIND(cm_tolstring, "lua_tolstring") CM_BIND(cm_tonumber, "lua_tonumber")
        CM_BIND(cm_toboolean, "lua_toboolean") CM_BIND(cm_touserdata, "lua_touserdata")
        CM_BIND(cm_pushlstring, "lua_pushlstring") CM_BIND(cm_pushnumber, "lua_pushnumber")
        CM_BIND(cm_pushnil, "lua_pushnil") CM_BIND(cm_pushboolean, "lua_pushboolean")
        CM_BIND(cm_pushcclosure, "lua_pushcclosure") CM_BIND(cm_pushlightuserdata, "lua_pushlightuserdata")
        CM_BIND(cm_createtable, "lua_createtable") CM_BIND(cm_rawseti, "lua_rawseti")
        CM_BIND(cm_rawgeti, "lua_rawgeti") CM_BIND(cm_rawset, "lua_rawset") CM_BIND(cm_rawget, "lua_rawget") CM_BIND(cm_setfield, "lua_setfield")
        CM_BIND(cm_getfield, "lua_getfield") CM_BIND(cm_pcall, "lua_pcall") CM_BIND(cm_error, "lua_error")
        CM_BIND(cm_checkstack, "lua_checkstack") CM_BIND(cm_gc, "lua_gc") CM_BIND(cm_ref, "luaL_ref")
        CM_BIND(cm_unref, "luaL_unref") CM_BIND(cm_concat, "lua_concat") CM_BIND(cm_next, "lua_next")
        CM_BIND(cm_getmetatable, "lua_getmetatable") CM_BIND(cm_pushvalue, "lua_pushvalue")
    #undef CM_BIND
        return 1;
    }

    /* what redis.call's Python half hands the C half: kind 0 = a RESP reply at data/len, 1 = an error line */
    /* ok: the runtime's spare +OK table while an EVAL script runs (see cm_redis_command), else NULL */
    typedef struct { int kind; const char* data; Py_ssize_t len; int resp; int* ok; } cm_out;
    static int (*cm_py_call)(void* rt, lua_State* L, cm_out* out);

    /* {err = 'CODE msg'} from an error line without its '-' (luaPushErrorBuff / _error_for_lua) */
    static void cm_push_err(lua_State* L, const char* s, size_t n) {
        const char* sp = (const char*)memchr(s, ' ', n);
        const char* msg; const char* mend = s + n;
        cm_checkstack(L, 4);
        cm_createtable(L, 0, 1);
        if (sp == NULL) { cm_pushlstring(L, "ERR ", 4); msg = s; }
        else { cm_pushlstring(L, s, (size_t)(sp - s) + 1); msg = sp + 1; }
        while (msg < mend && (*msg == '\\r' || *msg == '\\n')) msg++;
        while (mend > msg && (mend[-1] == '\\r' || mend[-1] == '\\n')) mend--;
        cm_pushlstring(L, msg, (size_t)(mend - msg));
        cm_concat(L, 2);
        cm_setfield(L, -2, "err");
    }

    static void cm_push_null(lua_State* L, int resp) {
        if (resp == 2) cm_pushboolean(L, 0); else cm_pushnil(L);
    }

    static void cm_push_field(lua_State* L, const char* field, const char* s, size_t n) {
        cm_createtable(L, 0, 1);
        cm_pushlstring(L, s, n);
        cm_setfield(L, -2, field);
    }

    /* one RESP value at p (as ReplyBuffer wrote it) pushed as the Lua value redis gives scripts; returns its end */
    static const char* cm_resp_push(lua_State* L, const char* p, const char* end, int resp, int* is_error) {
        char kind;
        const char* e; const char* next; size_t n; long long len, i;
        if (p >= end) { cm_pushnil(L); return end; }
        cm_checkstack(L, 6);
        kind = *p++;
        e = (const char*)memchr(p, '\\r', (size_t)(end - p));
        if (e == NULL) e = end;
        n = (size_t)(e - p);
        next = e + 2;
        switch (kind) {
        case '$':
            len = strtoll(p, NULL, 10);
            if (len < 0) { cm_push_null(L, resp); return next; }
            cm_pushlstring(L, next, (size_t)len);
            return next + len + 2;
        case ':':
            cm_pushnumber(L, (double)strtoll(p, NULL, 10));
            return next;
        case '+':
            cm_push_field(L, "ok", p, n);
            return next;
        case '-':
            cm_push_err(L, p, n);
            if (is_error) *is_error = 1;
            return next;
        case '*': case '>':
            len = strtoll(p, NULL, 10);
            if (len < 0) { cm_push_null(L, resp); return next; }
            cm_createtable(L, len > 1000000 ? 1000000 : (int)len, 0);
            for (i = 1; i <= len; i++) {
                next = cm_resp_push(L, next, end, resp, NULL);
                cm_rawseti(L, -2, (int)i);
            }
            return next;
        case '%':
            len = strtoll(p, NULL, 10);
            cm_createtable(L, 0, 1);
            cm_createtable(L, 0, len > 1000000 ? 1000000 : (int)len);
            for (i = 0; i < len; i++) {
                next = cm_resp_push(L, next, end, resp, NULL);
                next = cm_resp_push(L, next, end, resp, NULL);
                cm_rawset(L, -3);
            }
            cm_setfield(L, -2, "map");
            return next;
        case '~':
            len = strtoll(p, NULL, 10);
            cm_createtable(L, 0, 1);
            cm_createtable(L, 0, len > 1000000 ? 1000000 : (int)len);
            for (i = 0; i < len; i++) {
                next = cm_resp_push(L, next, end, resp, NULL);
                cm_pushboolean(L, 1);
                cm_rawset(L, -3);
            }
            cm_setfield(L, -2, "set");
            return next;
        case '_':
            cm_pushnil(L);
            return next;
        case ',': {
            char buf[128];
            size_t m = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;
            memcpy(buf, p, m); buf[m] = 0;
            cm_createtable(L, 0, 1);
            cm_pushnumber(L, strtod(buf, NULL));
            cm_setfield(L, -2, "double");
            return next;
        }
        case '#':
            cm_pushboolean(L, n > 0 && *p == 't');
            return next;
        case '(':
            cm_push_field(L, "big_number", p, n);
            return next;
        case '=':
            len = strtoll(p, NULL, 10);
            cm_createtable(L, 0, 1);
            cm_createtable(L, 0, 2);
            cm_pushlstring(L, next, len >= 3 ? 3 : (size_t)len);
            cm_setfield(L, -2, "format");
            cm_pushlstring(L, next + (len >= 4 ? 4 : len), len >= 4 ? (size_t)(len - 4) : 0);
            cm_setfield(L, -2, "string");
            cm_setfield(L, -2, "verbatim_string");
            return next + len + 2;
        case '|':
            len = strtoll(p, NULL, 10);
            for (i = 0; i < 2 * len; i++) {
                next = cm_resp_push(L, next, end, resp, NULL);
                cm_settop(L, -2);
            }
            return cm_resp_push(L, next, end, resp, is_error);
        default:
            cm_pushnil(L);
            return end;
        }
    }

    static int cm_redis_command(lua_State* L, int raise_errors) {
        cm_out out;
        int is_error = 0;
        out.kind = 1; out.data = "ERR internal error"; out.len = 18; out.resp = 2; out.ok = NULL;
        cm_py_call(cm_touserdata(L, CM_UPVALUE(1)), L, &out);
        if (out.kind == 0 && out.ok != NULL && !out.ok[1] && out.len == 5 && memcmp(out.data, "+OK\\r\\n", 5) == 0) {
            /* the first +OK of an EVAL run answers the spare {ok = 'OK'} table (a SET script's only garbage but its
               key string, and so two thirds of the GC work). A script can keep no reference past its run (its
               globals are read-only; FCALL, whose closures can, never gets here), and cm_ok_recycle keeps the table
               only if it is still exactly {ok = 'OK'} */
            if (out.ok[0] > 0) cm_rawgeti(L, CM_REGISTRY, out.ok[0]);
            else {
                cm_push_field(L, "ok", "OK", 2);
                cm_pushvalue(L, -1);
                out.ok[0] = cm_ref(L, CM_REGISTRY);
            }
            out.ok[1] = 1;
            return 1;
        }
        if (out.kind == 0) cm_resp_push(L, out.data, out.data + out.len, out.resp, &is_error);
        else { cm_push_err(L, out.data, (size_t)out.len); is_error = 1; }
        if (is_error && raise_errors) return cm_error(L);
        return 1;
    }
    static int cm_redis_call(lua_State* L) { return cm_redis_command(L, 1); }
    static int cm_redis_pcall(lua_State* L) { return cm_redis_command(L, 0); }
    /* redis.setresp's effect on the runtime's C field (the sandbox validates the argument) */
    static int cm_setresp(lua_State* L) {
        int* target = (int*)cm_touserdata(L, CM_UPVALUE(1));
        *target = (int)cm_tonumber(L, 1);
        return 0;
    }
    /* KEYS / ARGV tables are reused between runs (a script has nowhere to keep a reference once it returns: its
       globals are read-only), which halves the garbage of a run and so the GC steps' work. cm_push_spare pushes
       the spare table (a new one when there is none); cm_recycle empties 1..n after the run and drops the table
       unless it is then empty and has no metatable (a script may have added fields or set one). */
    static void cm_push_spare(lua_State* L, int* ref, int narr) {
        if (*ref > 0) { cm_rawgeti(L, CM_REGISTRY, *ref); return; }
        cm_createtable(L, narr, 0);
        cm_pushvalue(L, -1);
        *ref = cm_ref(L, CM_REGISTRY);
    }
    static void cm_drop_spare(lua_State* L, int* ref) {
        if (*ref > 0) cm_unref(L, CM_REGISTRY, *ref);
        *ref = 0;
    }
    static void cm_recycle(lua_State* L, int* ref, int n) {
        int i;
        if (*ref <= 0) return;
        cm_rawgeti(L, CM_REGISTRY, *ref);
        for (i = 1; i <= n; i++) { cm_pushnil(L); cm_rawseti(L, -2, i); }
        cm_pushnil(L);
        if (cm_next(L, -2)) { cm_settop(L, -4); cm_drop_spare(L, ref); return; }
        if (cm_getmetatable(L, -1)) { cm_settop(L, -3); cm_drop_spare(L, ref); return; }
        cm_settop(L, -2);
    }

    /* after an EVAL run that was handed the spare +OK table (ok[1]): keep it for the next run only if it is still
       {ok = 'OK'} with no other key and no metatable, else drop it (ok[0] = 0: a new one on the next +OK) */
    static void cm_ok_recycle(lua_State* L, int* ok) {
        int top, pristine = 0;
        size_t n = 0;
        const char* s;
        if (!ok[1]) return;
        ok[1] = 0;
        if (ok[0] <= 0) return;
        top = cm_gettop(L);
        cm_rawgeti(L, CM_REGISTRY, ok[0]);
        if (cm_type(L, top + 1) == 5 && !cm_getmetatable(L, top + 1)) {
            cm_pushnil(L);
            if (cm_next(L, top + 1) && cm_type(L, top + 2) == 4 && cm_type(L, top + 3) == 4) {
                s = cm_tolstring(L, top + 2, &n);
                if (n == 2 && s[0] == 'o' && s[1] == 'k') {
                    s = cm_tolstring(L, top + 3, &n);
                    if (n == 2 && s[0] == 'O' && s[1] == 'K') {
                        cm_settop(L, top + 2);
                        if (!cm_next(L, top + 1)) pristine = 1;
                    }
                }
            }
        }
        cm_settop(L, top);
        if (!pristine) { cm_unref(L, CM_REGISTRY, ok[0]); ok[0] = 0; }
    }

    static void cm_push_closure(lua_State* L, int which, void* up) {
        cm_pushlightuserdata(L, up);
        cm_pushcclosure(L, which == 0 ? cm_redis_call : which == 1 ? cm_redis_pcall : cm_setresp, 1);
    }
    """
    ctypedef struct cm_out:
        int kind
        const char* data
        Py_ssize_t len
        int resp
        int* ok
    int cm_bind_lua(const char* path)
    int cm_gettop(lua_State*)
    void cm_settop(lua_State*, int)
    int cm_type(lua_State*, int)
    const char* cm_tolstring(lua_State*, int, size_t*)
    double cm_tonumber(lua_State*, int)
    int cm_toboolean(lua_State*, int)
    void cm_pushlstring(lua_State*, const char*, size_t)
    void cm_pushnumber(lua_State*, double)
    void cm_pushboolean(lua_State*, int)
    void cm_pushvalue(lua_State*, int)
    void cm_rawget(lua_State*, int)
    void cm_rawset(lua_State*, int)
    void cm_rawgeti(lua_State*, int, int)
    void cm_rawseti(lua_State*, int, int)
    void cm_createtable(lua_State*, int, int)
    void cm_setfield(lua_State*, int, const char*)
    void cm_getfield(lua_State*, int, const char*)
    int cm_pcall(lua_State*, int, int, int)
    int cm_checkstack(lua_State*, int)
    int cm_gc(lua_State*, int, int)
    int cm_ref(lua_State*, int)
    void cm_unref(lua_State*, int, int)
    void cm_push_closure(lua_State*, int, void*)
    void cm_push_spare(lua_State*, int*, int)
    void cm_drop_spare(lua_State*, int*)
    void cm_recycle(lua_State*, int*, int)
    void cm_ok_recycle(lua_State*, int*)
    int (*cm_py_call)(void*, lua_State*, cm_out*) noexcept

cdef enum:
    LUA_TNIL = 0
    LUA_TBOOLEAN = 1
    LUA_TNUMBER = 3
    LUA_TSTRING = 4
    LUA_TTABLE = 5
    LUA_REGISTRYINDEX = -10000
    LUA_GLOBALSINDEX = -10002
    LUA_MULTRET = -1
    LUA_ERRMEM = 4
    LUA_GCCOLLECT = 2
    LUA_GCCOUNT = 3
    LUA_GCSTEP = 5

cdef int _capi_state = 0          # 0 not tried, 1 bound, -1 unavailable
ERR_NO_ARGS = b"ERR Please specify at least one argument for this redis lib call"
ERR_ARG_TYPE = b"ERR Lua redis lib command arguments must be strings or integers"


cdef bint _bind_capi():
    global _capi_state
    if _capi_state == 0:
        _capi_state = -1
        if lua51.__file__ and cm_bind_lua(lua51.__file__.encode()):
            _capi_state = 1
    return _capi_state == 1


cdef lua_State* _state_of(object runtime):
    """lupa's LuaRuntime keeps its lua_State* as its first C field, after the object header and the vtable pointer
    (lupa 2.x: ``cdef class LuaRuntime: cdef lua_State *_state``); checked by the caller with a probe."""
    cdef lua_State* L = (<lua_State**>((<char*><PyObject*>runtime) + sizeof(PyObject) + sizeof(void*)))[0]
    if L == NULL or (<unsigned char*>L)[sizeof(void*)] != 8:     # CommonHeader: next, tt == LUA_TTHREAD
        return NULL
    return L


cdef int _redis_call_py(void* rtp, lua_State* L, cm_out* out) noexcept with gil:
    """redis.call's Python half: argv from the Lua arguments (numbers as %.17g, like the sandbox did), then the gate.
    Never raises and never leaves a Lua error pending: the C half pushes the reply or raises after this returns."""
    cdef ScriptRuntime rt = <ScriptRuntime>rtp
    cdef CommandGate gate
    cdef int n, i, t
    cdef size_t slen = 0
    cdef const char* s
    cdef char numbuf[64]
    cdef list argv
    text = None
    try:
        n = cm_gettop(L)
        if n == 0:
            text = ERR_NO_ARGS
        else:
            argv = PyList_New(n)
            for i in range(n):
                t = cm_type(L, i + 1)
                if t == LUA_TSTRING:
                    s = cm_tolstring(L, i + 1, &slen)
                    item = PyBytes_FromStringAndSize(s, slen)
                elif t == LUA_TNUMBER:
                    slen = snprintf(numbuf, 64, "%.17g", cm_tonumber(L, i + 1))
                    item = PyBytes_FromStringAndSize(numbuf, slen)
                else:
                    text = ERR_ARG_TYPE
                    item = b""
                Py_INCREF(item)
                PyList_SET_ITEM(argv, i, item)
            if text is None:
                gate = rt.gate
                text = gate.gate_call(argv)
                if text is None:
                    if gate.reply_len > 0:
                        out.kind = 0
                        out.data = gate.reply_data
                        out.len = gate.reply_len
                        out.resp = rt.resp
                        if rt._ok[2]:
                            out.ok = rt._ok
                        if gate.reply_data[0] == 45:        # '-': errorstats already counted it
                            nl = gate.reply_data[1:gate.reply_len]
                            gate.gate_error(nl.split(b"\r\n", 1)[0])
                        return 0
                    text = b"ERR internal error: empty reply"
    except BaseException as exc:  # noqa: BLE001 - must not cross into Lua
        text = ("ERR internal error: %s" % type(exc).__name__).encode()
    rt._call_hold = text
    out.kind = 1
    out.data = PyBytes_AS_STRING(text)
    out.len = PyBytes_GET_SIZE(text)
    return 0


cm_py_call = _redis_call_py


cdef class CommandGate:
    """The engine side of redis.call's C path. This default runs ``self.execute(argv) -> RESP bytes`` (a Python
    method, for tests); engine/scripting/runner.pyx overrides gate_call with the dispatcher's compiled path."""

    cdef object gate_call(self, list argv):
        data = self.execute(argv)
        if not isinstance(data, bytes):
            raise TypeError("execute() must return RESP bytes")
        self._held = data
        self.reply_data = PyBytes_AS_STRING(data)
        self.reply_len = PyBytes_GET_SIZE(data)
        return None

    cdef gate_error(self, bytes text):
        hook = getattr(self, "on_error", None)
        if hook is not None:
            hook(text)


cdef object _c_number(double d):
    """A Lua number as lupa converts it: an int when integral, else a float."""
    if d == d and -9.223372036854775808e18 <= d < 9.223372036854775807e18 and d == <double>(<long long>d):
        return PyLong_FromLongLong(<long long>d)
    return PyFloat_FromDouble(d)


cdef object _c_number_to_int(double d):
    if d != d or d >= 9.223372036854775807e18 or d < -9.223372036854775808e18:
        return _INT64_MIN
    return PyLong_FromLongLong(<long long>d)


cdef object _c_value(lua_State* L, int idx):
    cdef int t = cm_type(L, idx)
    cdef size_t n = 0
    cdef const char* s
    if t == LUA_TSTRING:
        s = cm_tolstring(L, idx, &n)
        return PyBytes_FromStringAndSize(s, n)
    if t == LUA_TNUMBER:
        return _c_number(cm_tonumber(L, idx))
    if t == LUA_TBOOLEAN:
        return cm_toboolean(L, idx) != 0
    return None


cdef object _status_or_error(lua_State* L, int idx, bint is_status):
    """A status (+OK...) or error reply from the Lua string at idx, CR/LF as spaces (redis luaReplyToRedisReply)."""
    cdef size_t slen = 0
    cdef const char* s = cm_tolstring(L, idx, &slen)
    if is_status and slen == 2 and s[0] == 79 and s[1] == 75:
        return _STATUS_OK                                       # +OK (SET...): one shared immutable value
    kind = Status if is_status else ErrorReply
    if memchr(s, 13, slen) == NULL and memchr(s, 10, slen) == NULL:
        return kind(PyBytes_FromStringAndSize(s, slen))
    return kind(_crlf_to_spaces(PyBytes_FromStringAndSize(s, slen)))


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
                 hook_instructions=HOOK_INSTRUCTIONS, gate=None):
        """call_handler(argv: list[bytes], raise_errors: bool) -> Reply runs one command.
        While it runs, ``resp`` says which protocol the script asked for (redis.setresp) and
        ``read_only`` whether writes must be refused; the engine sets ``wrote = True`` after a
        write so the server can answer SCRIPT KILL with -UNKILLABLE.
        log_handler(level: int, message: bytes) receives redis.log (0=debug .. 3=warning).
        busy_handler() is called from inside a script that ran past time_limit_ms, at every
        hook tick, so the server can serve other clients (-BUSY) and SCRIPT KILL meanwhile.
        acl_check_handler(argv) -> True/False, or None for an unknown command.
        gate (a CommandGate): redis.call's C path, used instead of call_handler when the Lua C API binds."""
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
        self._max_memory = max_memory or 0
        self._L = NULL
        if gate is not None and _bind_capi():
            self._L = self._probe_state()
            if self._L != NULL:
                self.gate = gate
                # the sandbox picks these up (and the cleanup below drops them from the real globals)
                cm_push_closure(self._L, 0, <void*>self)
                cm_setfield(self._L, LUA_GLOBALSINDEX, b"__cm_call")
                cm_push_closure(self._L, 1, <void*>self)
                cm_setfield(self._L, LUA_GLOBALSINDEX, b"__cm_pcall")
                cm_push_closure(self._L, 2, <void*>&self.resp)
                cm_setfield(self._L, LUA_GLOBALSINDEX, b"__cm_setresp")
        self._api = self._bootstrap(redis_version, redis_version_num, hook_instructions)
        self._run_api = self._api["run"]
        self._run_tables_api = self._api["run_tables"]
        self._fcall_api = self._api["fcall"]
        self._fcall_tables_api = self._api["fcall_tables"]
        if self._L != NULL:
            self._run_ref = self._make_ref(self._api["run_tables"])
            self._arm_ref = self._make_ref(self._api["arm"])
            self._arm_fcall_ref = self._make_ref(self._api["arm_fcall"])
            self._finish_ref = self._make_ref(self._api["finish"])
            self._globals_ref = self._make_ref(self._api["globals"])
            self._errh_ref = self._make_ref(self._api["err_handler"])

    cdef lua_State* _probe_state(self):
        """lupa's lua_State, checked: a global set through lupa must read back through the C API."""
        cdef lua_State* L = _state_of(self._lua)
        cdef size_t n = 0
        cdef const char* s
        cdef int top
        if L == NULL:
            return NULL
        self._lua.execute("__cm_probe = 'cachemere-capi-probe'")
        top = cm_gettop(L)
        cm_getfield(L, LUA_GLOBALSINDEX, b"__cm_probe")
        s = cm_tolstring(L, -1, &n)
        ok = s != NULL and s[:n] == b"cachemere-capi-probe"
        cm_settop(L, top)
        self._lua.execute("__cm_probe = nil")
        return L if ok else NULL

    cdef int _make_ref(self, obj) except -1:
        """A LUA_REGISTRYINDEX reference to a lupa object (via a temporary global), for the C path to push it."""
        g = self._lua.globals()
        g[b"__cm_ref"] = obj
        cm_getfield(self._L, LUA_GLOBALSINDEX, b"__cm_ref")
        ref = cm_ref(self._L, LUA_REGISTRYINDEX)
        g[b"__cm_ref"] = None
        return ref

    # ------------------------------------------------------------------ setup
    def _bootstrap(self, redis_version, redis_version_num, hook_instructions):
        source = (SANDBOX_LUA
                  .replace("__CJSON__", lazy_library_lua("cjson", CJSON_LUA, "G.cjson = readonly(cjson)", "cjson"))
                  .replace("__MSGPACK__", lazy_library_lua("cmsgpack", MSGPACK_LUA, "pylibs.cmsgpack = cmsgpack",
                                                           "cmsgpack"))
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
            __cm_call = nil; __cm_pcall = nil; __cm_setresp = nil
        """)
        return {name: api[name.encode()] for name in ("compile", "run", "run_tables", "slice", "reset",
                                                      "load_library", "fcall", "fcall_tables",
                                                      "arm", "arm_fcall", "finish", "globals", "err_handler")}

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
        if self._L != NULL and self._memory_ok(len(body)):
            script.ref = self._make_ref(function)
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
        cdef CompiledScript script
        if self._L != NULL:
            for script in self._scripts.values():
                if script.ref:
                    cm_unref(self._L, LUA_REGISTRYINDEX, script.ref)
                    script.ref = 0
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
        return self._invoke(script, script.sha_bytes, script.sha, keys, args,
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
        self._armed = 0
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
        """One run of an EVAL script (function: its CompiledScript) or a function: arguments into Lua, hook state,
        the reply back."""
        cdef list arguments
        cdef tuple result
        cdef Py_ssize_t numkeys, total = 0
        cdef CompiledScript script = None
        cdef bint fn_c = False
        if is_function:
            # FCALL's C path: lists of bytes (the server's argv slices), as for EVAL
            if self._L != NULL and type(keys) is list and type(args) is list \
                    and len(<list>keys) + len(<list>args) <= _VARARG_LIMIT:
                fn_c = True
                for a in <list>keys:
                    if type(a) is not bytes:
                        fn_c = False
                        break
                    total += PyBytes_GET_SIZE(a)
                if fn_c:
                    for a in <list>args:
                        if type(a) is not bytes:
                            fn_c = False
                            break
                        total += PyBytes_GET_SIZE(a)
                if fn_c and not self._memory_ok(total):
                    fn_c = False
        else:
            script = <CompiledScript>function
            function = script.function
            # the C path takes the caller's lists of bytes as they are
            if script.ref and type(keys) is list and type(args) is list \
                    and len(<list>keys) + len(<list>args) <= _VARARG_LIMIT:
                for a in <list>keys:
                    if type(a) is not bytes:
                        script = None
                        break
                    total += PyBytes_GET_SIZE(a)
                if script is not None:
                    for a in <list>args:
                        if type(a) is not bytes:
                            script = None
                            break
                        total += PyBytes_GET_SIZE(a)
                if script is not None and not self._memory_ok(total):
                    script = None
            else:
                script = None
        if script is None and not fn_c:
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
        if script is None and not fn_c:
            if self._armed == 2:
                self._api["reset"]()    # run_env back to EVAL's globals (run_tables does not set it)
            self._armed = 0             # run_tables / fcall_tables leave the sandbox's run state as they like
        try:
            if script is not None:
                result_c = self._run_c(script, <list>keys, <list>args, label)
                finished = True
                return result_c
            if fn_c:
                result_c = self._run_fn_c(function, name, <list>keys, <list>args)
                finished = True
                return result_c
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
                self._armed = 0
                self._api["reset"]()    # api.run ended abnormally: make sure the hook is off
            self.running = False
            self.busy = False
            self.is_function = False
            self.current_sha = None
            self.resp = 2
            self._gc_count += 1
            if self._L != NULL:
                self._gc_pace()
            elif self._gc_count >= 50:
                # redis evalGenericCommand: lua_gc(LUA_GCSTEP, 50) every 50 runs keeps the VM from growing
                # between Lua's own (200% pause) collections
                self._gc_count = 0
                if self._gc_step is None:
                    self._gc_step = self._lua.eval("function() collectgarbage('step', 50) end")
                self._gc_step()

    cdef void _gc_pace(self):
        """The C path's GC after each run, paced by memory growth (redis 7.0 steps its GC only when the VM grew).
        A run of a one-call script leaves ~50-160 bytes of garbage (its key string, a reply table) in a VM of ~150 KB
        that every GC cycle marks and sweeps whole. Incremental steps every 50 runs (redis' LUA_GC_CYCLE_PERIOD) ran
        a cycle every ~150 runs, whatever the garbage; here a full collection runs once the VM has grown by an
        eighth since the last one (a SET script: every ~350 runs, ~25 us each), so the VM stays within 12.5% of its
        live size with a third of the GC work. A VM over 4 MB (many cached scripts) keeps the incremental steps,
        so a collection's pause stays short; each step that ends a cycle updates the base."""
        cdef lua_State* L = self._L
        cdef long long used = cm_gc(L, LUA_GCCOUNT, 0), base = self._gc_base
        cdef int done
        if base > 0 and base <= 4096:
            if used < base + (base >> 3) + 1:
                return
        elif base > 0:
            if self._gc_count < 50:
                return
            self._gc_count = 0
            done = cm_gc(L, LUA_GCSTEP, 15)
            if done:
                self._gc_base = cm_gc(L, LUA_GCCOUNT, 0)
            return
        # fresh KEYS/ARGV/+OK tables now and then: a reused table keeps the capacity a script gave it
        cm_drop_spare(L, &self._keys_ref)
        cm_drop_spare(L, &self._argv_ref)
        cm_drop_spare(L, &self._ok[0])
        self._gc_count = 0
        cm_gc(L, LUA_GCCOLLECT, 0)
        self._gc_base = cm_gc(L, LUA_GCCOUNT, 0)
        if self._gc_base <= 0:
            self._gc_base = 1

    cdef bint _memory_ok(self, Py_ssize_t extra):
        """Whether the C path may push `extra` bytes unprotected: lupa's max_memory allocator fails allocations
        over its limit, and a failure outside lua_pcall would abort the process (lupa's path then raises instead)."""
        if self._max_memory <= 0:
            return True
        return <long long>cm_gc(self._L, LUA_GCCOUNT, 0) * 1024 + 2 * extra + 262144 < self._max_memory


    cdef object _c_reply(self, lua_State* L, int top, int status, bytes label):
        """The reply (or the error) of a script or function called from C, at top + 2 after lua_pcall returned status
        (the message handler at top + 1; label: the script's sha or the function's name, as errors name it)."""
        cdef int base, count, t
        cdef Py_ssize_t i
        cdef size_t slen = 0
        cdef const char* s
        cdef list tokens
        if status == 0:
            t = cm_type(L, top + 2)
            if t == LUA_TNUMBER:
                return _c_number_to_int(cm_tonumber(L, top + 2))
            if t == LUA_TSTRING:
                s = cm_tolstring(L, top + 2, &slen)
                return PyBytes_FromStringAndSize(s, slen)
            if t == LUA_TTABLE:                             # finish()'s status / error tables, in its order
                cm_pushlstring(L, b"err", 3)
                cm_rawget(L, top + 2)
                if cm_type(L, -1) == LUA_TSTRING:
                    return _status_or_error(L, -1, False)
                cm_settop(L, top + 2)
                cm_pushlstring(L, b"ok", 2)
                cm_rawget(L, top + 2)
                if cm_type(L, -1) == LUA_TSTRING:
                    return _status_or_error(L, -1, True)
                cm_settop(L, top + 2)
        # finish(ok, v, sha): the error text, or the reply's tokens
        cm_rawgeti(L, LUA_REGISTRYINDEX, self._finish_ref)
        cm_pushboolean(L, status == 0)
        cm_pushvalue(L, top + 2)
        cm_pushlstring(L, PyBytes_AS_STRING(label), PyBytes_GET_SIZE(label))
        base = top + 3
        if cm_pcall(L, 3, LUA_MULTRET, 0) != 0:
            return ErrorReply(b"ERR Error running script %s, not enough memory" % label)
        if not cm_toboolean(L, base):
            s = cm_tolstring(L, base + 1, &slen)
            return ErrorReply(_crlf_to_spaces(PyBytes_FromStringAndSize(s, slen)))
        count = <int>cm_tonumber(L, base + 2)
        if cm_type(L, base + 1) != LUA_TTABLE:         # a small reply: its tokens follow the count
            if count == 2:
                s = cm_tolstring(L, base + 3, &slen)
                if s != NULL and slen == 1:
                    if s[0] == 105:                   # 'i'
                        return _c_number_to_int(cm_tonumber(L, base + 4))
                    if s[0] == 115:                   # 's'
                        s = cm_tolstring(L, base + 4, &slen)
                        return PyBytes_FromStringAndSize(s, slen)
                    if s[0] == 111 or s[0] == 69:     # 'o' status, 'E' error
                        return _status_or_error(L, base + 4, s[0] == 111)
            tokens = [_c_value(L, base + 3 + i) for i in range(count)]
            return self._decode_tokens(tokens)
        tokens = []
        for i in range(count):
            cm_rawgeti(L, base + 1, <int>i + 1)
            tokens.append(_c_value(L, -1))
            cm_settop(L, -2)
        return self._decode_tokens(tokens)

    cdef object _run_c(self, CompiledScript script, list keys, list args, str label):
        """The script's function called from C (redis luaCallFunction): KEYS/ARGV set in the script globals, then
        lua_pcall(fn, 0 args, 1 result) with the sandbox's err_handler as message handler. A number, a string or a
        status/error table is read straight off the stack; any other reply (and every error) goes through the
        sandbox's finish(), whose tokens are read off the stack."""
        cdef lua_State* L = self._L
        cdef int top = cm_gettop(L)
        cdef Py_ssize_t i, numkeys = len(keys), nargs = len(args), n = numkeys + nargs
        cdef int status, base, count, t
        cdef size_t slen = 0
        cdef const char* s
        cdef list tokens
        if not cm_checkstack(L, <int>n + 12):
            return ErrorReply(b"ERR Error running script %s, not enough memory" % script.sha_bytes)
        if self._armed != 1:
            cm_rawgeti(L, LUA_REGISTRYINDEX, self._arm_ref)
            if cm_pcall(L, 0, 0, 0) != 0:
                cm_settop(L, top)
                return ErrorReply(b"ERR Error running script %s, not enough memory" % script.sha_bytes)
            self._armed = 1
        cm_rawgeti(L, LUA_REGISTRYINDEX, self._globals_ref)     # G.KEYS, G.ARGV = keys, argv (both keys exist)
        cm_pushlstring(L, b"KEYS", 4)
        cm_push_spare(L, &self._keys_ref, <int>numkeys)
        for i in range(numkeys):
            a = keys[i]
            cm_pushlstring(L, PyBytes_AS_STRING(a), PyBytes_GET_SIZE(a))
            cm_rawseti(L, -2, <int>i + 1)
        cm_rawset(L, top + 1)
        cm_pushlstring(L, b"ARGV", 4)
        cm_push_spare(L, &self._argv_ref, <int>nargs)
        for i in range(nargs):
            a = args[i]
            cm_pushlstring(L, PyBytes_AS_STRING(a), PyBytes_GET_SIZE(a))
            cm_rawseti(L, -2, <int>i + 1)
        cm_rawset(L, top + 1)
        cm_settop(L, top)
        cm_rawgeti(L, LUA_REGISTRYINDEX, self._errh_ref)        # top + 1: the message handler
        cm_rawgeti(L, LUA_REGISTRYINDEX, script.ref)
        self._ok[2] = 1                                          # the spare +OK table for this run's first +OK
        status = cm_pcall(L, 0, 1, top + 1)                      # top + 2: the reply or the error
        self._ok[2] = 0
        try:
            return self._c_reply(L, top, status, script.sha_bytes)
        finally:
            cm_settop(L, top)
            cm_ok_recycle(L, self._ok)
            cm_recycle(L, &self._keys_ref, <int>numkeys)
            cm_recycle(L, &self._argv_ref, <int>nargs)
            if self._killed or self.resp != 2:
                # a kill leaves a line hook and `killed` set, redis.setresp the sandbox's resp: put the run state
                # back as api.run_tables leaves it (hook off) and arm again before the next run
                self._armed = 0
                self._api["reset"]()

    cdef object _run_fn_c(self, object function, bytes name, list keys, list args):
        """FCALL's function called from C like _run_c calls a script: lua_pcall(fn, 2 args: new keys and args tables,
        1 result) with err_handler as message handler, the run state armed for functions once (api.arm_fcall: the
        functions' globals for loadstring). The tables are new each call: a function's closures may keep them."""
        cdef lua_State* L = self._L
        cdef int top = cm_gettop(L)
        cdef Py_ssize_t i, numkeys = len(keys), nargs = len(args)
        cdef int status
        if not cm_checkstack(L, 16):
            return ErrorReply(b"ERR Error running script %s, not enough memory" % name)
        if self._armed != 2:
            cm_rawgeti(L, LUA_REGISTRYINDEX, self._arm_fcall_ref)
            if cm_pcall(L, 0, 0, 0) != 0:
                cm_settop(L, top)
                return ErrorReply(b"ERR Error running script %s, not enough memory" % name)
            self._armed = 2
        if function is not self._fn_obj:
            # one cached registry reference, to the function called last (FCALL of one function in a loop)
            if self._fn_ref:
                cm_unref(L, LUA_REGISTRYINDEX, self._fn_ref)
                self._fn_ref = 0
                self._fn_obj = None
            self._fn_ref = self._make_ref(function)
            self._fn_obj = function
        cm_rawgeti(L, LUA_REGISTRYINDEX, self._errh_ref)        # top + 1: the message handler
        cm_rawgeti(L, LUA_REGISTRYINDEX, self._fn_ref)
        cm_createtable(L, <int>numkeys, 0)
        for i in range(numkeys):
            a = keys[i]
            cm_pushlstring(L, PyBytes_AS_STRING(a), PyBytes_GET_SIZE(a))
            cm_rawseti(L, -2, <int>i + 1)
        cm_createtable(L, <int>nargs, 0)
        for i in range(nargs):
            a = args[i]
            cm_pushlstring(L, PyBytes_AS_STRING(a), PyBytes_GET_SIZE(a))
            cm_rawseti(L, -2, <int>i + 1)
        status = cm_pcall(L, 2, 1, top + 1)                      # top + 2: the reply or the error
        try:
            return self._c_reply(L, top, status, name)
        finally:
            cm_settop(L, top)
            if self._killed or self.resp != 2:
                self._armed = 0
                self._api["reset"]()

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
            if not self.running:        # the C path's armed hook, outside a run
                return False
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
