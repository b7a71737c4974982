"""Unit tests for engine/scripting/functions.py and the function side of engine/scripting/runtime.pyx, without a server.

The replies' bytes are compared with redis-server 7.0.15 in tests/differential/test_functions.py; here the
library registry's rules, the load time limit and the hook state shared with EVAL are checked directly.
"""
import time

import pytest

pytest.importorskip("lupa")

from engine.scripting.functions import FLAG_ALLOW_OOM, FLAG_NO_WRITES, FunctionError, Functions  # noqa: E402
from engine.scripting.runtime import ErrorReply, ScriptError  # noqa: E402
from tests.unit.test_scripting import make_runtime, run  # noqa: E402


def lib(name, *functions):
    return ("#!lua name=%s\n" % name + "\n".join(
        "redis.register_function('%s', function(keys, args) %s end)" % f for f in functions)).encode()


def call(functions, name, keys=(), args=(), read_only=False):
    info = functions.get(name.encode())
    return functions.runtime.call_function(info.function, info.name, [k.encode() for k in keys],
                                           [a.encode() for a in args], read_only)


def test_load_registers_functions_in_order_with_flags_and_descriptions():
    runtime, engine = make_runtime()
    functions = Functions(runtime)
    code = (b"#!lua name=mylib\n"
            b"redis.register_function('plain', function(keys, args) return {keys, args} end)\n"
            b"redis.register_function{function_name='ro', callback=function(keys) return redis.call('get', keys[1]) "
            b"end, flags={'NO-WRITES', 'allow-oom'}, description='reads'}\n")
    assert functions.create(code) == b"mylib"
    library = functions.libraries[b"mylib"]
    assert list(library.functions) == [b"plain", b"ro"]
    assert library.code == code
    ro = library.functions[b"ro"]
    assert ro.flags == FLAG_NO_WRITES | FLAG_ALLOW_OOM and ro.description == b"reads"
    assert ro.flag_names() == [b"no-writes", b"allow-oom"]
    assert library.functions[b"plain"].description is None
    assert call(functions, "PLAIN", ["k1", "k2"], ["a"]) == [[b"k1", b"k2"], [b"a"]]
    engine.data[b"k"] = b"v"
    assert call(functions, "ro", ["k"], read_only=True) == b"v"
    assert (functions.library_count(), functions.function_count()) == (1, 2)


def test_replace_collisions_and_delete_keep_the_registry_consistent():
    runtime, _ = make_runtime()
    functions = Functions(runtime)
    functions.create(lib("a", ("f", "return 'a'")))
    with pytest.raises(FunctionError) as exc:
        functions.create(lib("a", ("g", "return 1")))
    assert exc.value.message == b"Library 'a' already exists"
    with pytest.raises(FunctionError) as exc:
        functions.create(lib("b", ("F", "return 'b'")))          # function names collide without case
    assert exc.value.message == b"Function F already exists"
    assert functions.codes() == [lib("a", ("f", "return 'a'"))]
    functions.create(lib("a", ("g", "return 'g'")), replace=True)
    assert functions.get(b"f") is None and call(functions, "g") == b"g"
    with pytest.raises(FunctionError) as exc:                     # a failed REPLACE keeps the old library
        functions.create(lib("a", ("h", "return +")), replace=True)
    assert exc.value.message.startswith(b"Error compiling function: user_function:2:")
    assert call(functions, "g") == b"g"
    functions.delete(b"a")
    assert functions.get(b"g") is None and functions.codes() == []
    with pytest.raises(FunctionError) as exc:
        functions.delete(b"a")
    assert exc.value.message == b"Library not found"


def test_dump_restore_round_trip_and_policies():
    runtime, _ = make_runtime()
    functions = Functions(runtime)
    functions.create(lib("one", ("f1", "return 1")))
    functions.create(lib("two", ("f2", "return 2")))
    payload = functions.dump()
    assert payload[-10:-8] == b"\x0a\x00"                         # RDB version 10, little endian
    other = Functions(runtime)
    other.create(lib("three", ("f3", "return 3")))
    other.restore(payload)
    assert sorted(other.libraries) == [b"one", b"three", b"two"]
    with pytest.raises(FunctionError) as exc:
        other.restore(payload)
    assert exc.value.message == b"Library one already exists"
    other.restore(payload, b"replace")
    other.restore(payload, b"flush")
    assert sorted(other.libraries) == [b"one", b"two"] and call(other, "f2") == 2
    clash = Functions(runtime)
    clash.create(lib("x", ("F1", "return 'x'")))
    with pytest.raises(FunctionError) as exc:                     # all or nothing
        clash.restore(payload)
    assert exc.value.message == b"Function f1 already exists"
    assert list(clash.libraries) == [b"x"]
    with pytest.raises(FunctionError) as exc:
        clash.restore(payload[:-1] + bytes([payload[-1] ^ 1]))
    assert exc.value.message == b"DUMP payload version or checksum are wrong"


def test_load_time_limit_then_eval_and_functions_still_work():
    runtime, _ = make_runtime(time_limit_ms=20, busy_handler=lambda: runtime.kill())
    started = time.monotonic()
    with pytest.raises(ScriptError) as exc:
        runtime.load_library(b"\nlocal i = 0 while true do i = i + 1 end", 50)
    assert time.monotonic() - started < 5
    assert exc.value.message == b"Error registering functions: ERR FUNCTION LOAD timeout"
    # the hook is back for scripts (busy detection and kill) and no limit applies without a timeout
    reply = run(runtime, "local i = 0 while true do i = i + 1 end")
    assert bytes(reply).startswith(b"ERR Script killed by user with SCRIPT KILL... script: ")
    registered = runtime.load_library(b"\nlocal x = 0 for i = 1, 300000 do x = x + 1 end\n"
                                      b"redis.register_function('f', function() return x end)", 0)
    name, function, _, _ = registered[0]
    assert runtime.call_function(function, name, [], [], False) == 300000


def test_a_busy_function_is_killed_and_reports_its_name_and_line():
    seen = []

    def on_busy():
        seen.append((runtime.is_function, runtime.current_sha))
        runtime.kill()
    runtime, _ = make_runtime(time_limit_ms=20, busy_handler=on_busy)
    functions = Functions(runtime)
    functions.create(b"#!lua name=spin\nredis.register_function('spin', function()\n"
                     b"  while true do pcall(function() while true do end end) end\nend)")
    reply = call(functions, "spin")
    assert reply == ErrorReply(b"ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:3.")
    assert seen and seen[0] == (True, "spin")
    assert runtime.is_function is False and runtime.running is False
    assert run(runtime, "return 5") == 5


def test_functions_and_eval_have_separate_globals():
    runtime, _ = make_runtime()
    functions = Functions(runtime)
    functions.create(b"#!lua name=g\n"
                     b"redis.register_function('keys', function() return type(rawget(_G, 'KEYS')) end)\n"
                     b"redis.register_function('chunk', function() return loadstring('return type(KEYS)')() end)\n"
                     b"redis.register_function('api', function() return type(redis.register_function) end)")
    assert call(functions, "keys") == b"nil"
    reply = call(functions, "chunk")
    assert isinstance(reply, ErrorReply) and b"nonexistent global variable 'KEYS'" in reply
    assert call(functions, "api") == b"nil"
    assert run(runtime, "return {type(KEYS), type(rawget(_G, 'register_function'))}") == [b"table", b"nil"]
    assert run(runtime, "return type(loadstring('return KEYS')())") == b"table"
