"""Lua scripting (redis eval.c, script_lua.c, function_lua.c, functions.c), pure engine code, no I/O.

- runtime.pyx: the Lua VM (lupa's Lua 5.1), redis.* bindings, Lua <-> RESP conversion, ScriptError.
- sandbox.py: the sandbox bootstrap (readonly globals, allowed builtins), as Lua source.
- libs.py, cjson.py: the libraries scripts see (bit, struct, cmsgpack, cjson).
- functions.py: FUNCTION libraries (LOAD/DELETE/DUMP/RESTORE state and FCALL lookup).

The command handlers live in engine/commands/scripting.pyx; engine/scripting/runner.pyx runs scripts for a
client (busy state, SCRIPT KILL, the dispatcher re-entry).
"""
