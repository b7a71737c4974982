# cython: language_level=3
"""Opaque Lua 5.1 types shared by the scripting modules; the C API itself is bound in engine/scripting/runtime.pyx
(function pointers resolved with dlsym from lupa's already-loaded ``lupa.lua51`` extension, which bundles Lua 5.1 and
exports its lua_* / luaL_* symbols), so scripts run in the lua_State lupa created, without a second Lua."""

cdef extern from *:
    """
    #ifndef CM_LUA_STATE_DECLARED
    #define CM_LUA_STATE_DECLARED
    typedef struct lua_State lua_State;
    #endif
    """
    ctypedef struct lua_State:
        pass
