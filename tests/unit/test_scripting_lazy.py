"""lua3 (issue 20): cjson / cmsgpack loaded on first use, the spare {ok = 'OK'} reply table of EVAL runs and the C
path's GC paced by memory growth (engine/scripting/sandbox.py lazy_library, runtime.pyx cm_ok_recycle / _gc_pace)."""
from engine.scripting.runtime import CommandGate, ErrorReply, ScriptRuntime, Status


class OkGate(CommandGate):
    def execute(self, argv):
        return b"+OK\r\n" if argv[0].lower() == b"set" else b":1\r\n"


def new_runtime():
    return ScriptRuntime(None, gate=OkGate())


def run(runtime, body, keys=(), args=()):
    return runtime.run(body, [k.encode() for k in keys], [a.encode() for a in args], is_sha=False)


LIB_VIEWS = [
    # every way a script reads a library's table, each the first access in a fresh VM
    "local r = {} for k, v in pairs(cjson) do r[#r + 1] = k .. '=' .. type(v) end table.sort(r) return r",
    "local r = {} for k, v in pairs(cmsgpack) do r[#r + 1] = k .. '=' .. type(v) end table.sort(r) return r",
    "return {type(rawget(cjson, 'encode')), type(rawget(cmsgpack, 'pack')), tostring(rawget(cjson, '_VERSION'))}",
    "return {next(cjson) ~= nil, next(cmsgpack) ~= nil, #cjson, #cmsgpack}",
    "local n = 0 for i, v in ipairs(cjson) do n = n + 1 end return n",
    "return {cjson.encode(cmsgpack), cjson.encode(cjson)}",
    "return cmsgpack.pack(cjson) == cmsgpack.pack(cjson)",
    "return {type(_G.cjson), type(rawget(_G, 'cjson')), rawget(_G, 'cmsgpack') == cmsgpack, cjson.null == cjson.null}",
    "return tostring(getmetatable(cjson) == getmetatable(cmsgpack))",
    "return {pcall(rawset, cjson, 'x', 1)}",
    "return {pcall(function() cjson.x = 1 end)}",
    "return {pcall(setmetatable, cmsgpack, {})}",
    "return {pcall(table.insert, cjson, 1)}",
    "return cjson.decode('[1,{\"a\":null}]')[2].a == cjson.null",
    "return cmsgpack.unpack(cmsgpack.pack({1, 2, 'x'}))",
    "return cjson.nosuch == nil",
    "local r = {} for k in pairs(_G) do r[#r + 1] = k end table.sort(r) return r",
]


def test_lazy_libraries_look_loaded_from_the_first_access():
    warm = new_runtime()
    run(warm, "return {cjson.encode({1}), cmsgpack.pack(1)}")       # both loaded
    for body in LIB_VIEWS:
        assert run(new_runtime(), body) == run(warm, body), body


def test_lazy_libraries_cost_no_memory_until_used_and_functions_see_them():
    rt = new_runtime()
    rt._lua.execute("collectgarbage()")
    before = rt.vm_memory()
    assert run(rt, "return cjson.encode({a = 1})") == b'{"a":1}'
    rt._lua.execute("collectgarbage()")
    assert rt.vm_memory() > before + 4000
    fresh = new_runtime()
    [(name, fn, _, _)] = fresh.load_library(
        b"\nredis.register_function('f', function() return {cjson.encode({2}), type(cmsgpack.pack)} end)")
    assert fresh.call_function(fn, name, [], [], False) == [b"[2]", b"function"]


def test_spare_ok_table_is_fresh_each_run_and_distinct_within_a_run():
    rt = new_runtime()
    body = "local a = redis.call('set', KEYS[1], 'v') local b = redis.call('set', KEYS[1], 'v') " \
           "local same = rawequal(a, b) a.x = ARGV[1] return {same and 1 or 0, a.ok, b.ok, tostring(a.x), tostring(b.x)}"
    assert run(rt, body, ["k"], ["1"]) == [0, b"OK", b"OK", b"1", b"nil"]
    # the table changed by the last run is not handed out again
    check = "local a = redis.call('set', KEYS[1], 'v') local n = 0 for _ in pairs(a) do n = n + 1 end " \
            "return {n, tostring(a.x), tostring(getmetatable(a))}"
    assert run(rt, check, ["k"]) == [1, b"nil", b"nil"]
    assert run(rt, "local a = redis.call('set', 'k', 'v') setmetatable(a, {__index = function() return 'm' end}) "
                   "return a.zz") == b"m"
    assert run(rt, check, ["k"]) == [1, b"nil", b"nil"]
    assert run(rt, "local a = redis.call('set', 'k', 'v') a.ok = 'NO' return a") == Status(b"NO")
    assert run(rt, "return redis.call('set', 'k', 'v')") == Status(b"OK")
    assert run(rt, "local a = redis.call('set', 'k', 'v') a[1] = 5 return a") == Status(b"OK")
    assert run(rt, check, ["k"]) == [1, b"nil", b"nil"]
    # an error raised with the table (the error handler adds its position to it) and pcall'd statuses
    got = run(rt, "error(redis.call('set', 'k', 'v'))")
    assert isinstance(got, ErrorReply)
    assert run(rt, check, ["k"]) == [1, b"nil", b"nil"]
    assert run(rt, "return {redis.pcall('set', 'k', 'v').ok, redis.pcall('set', 'k', 'v').ok}") == [b"OK", b"OK"]


def test_gc_paced_by_growth_keeps_the_vm_bounded():
    rt = new_runtime()
    sha = rt.load(b"return redis.call('set', KEYS[1], ARGV[1])").encode()
    for i in range(500):
        rt.execute(sha, [b"key:%d" % i], [b"x" * 50], True, False)
    rt._lua.execute("collectgarbage()")
    live = rt.vm_memory()
    seen = []
    for i in range(3000):
        rt.execute(sha, [b"key:%d" % i], [b"x" * 50], True, False)
        seen.append(rt.vm_memory())
    assert max(seen) <= live * 1.15, (live, max(seen))
    # a script that leaves a lot of garbage (~1 MB) is collected after its run (Lua's string table, grown to 32K
    # slots, shrinks by half per collection)
    run(rt, "local t = {} for i = 1, 20000 do t[i] = tostring(i) .. 'abc' end return 1")
    rt.execute(sha, [b"k"], [b"v"], True, False)
    assert rt.vm_memory() <= live + 200_000


def test_fcall_c_path_keeps_function_semantics():
    rt = new_runtime()
    lib = (b"\nlocal kept = {}\n"
           b"redis.register_function('keep', function(keys, args) kept[#kept + 1] = keys return #kept end)\n"
           b"redis.register_function('peek', function(keys, args)\n"
           b"  local r = {} for i, t in ipairs(kept) do r[i] = t[1] end return r end)\n"
           b"redis.register_function('env', function(keys, args)\n"
           b"  return {type(loadstring('return KEYS')), pcall(loadstring('return KEYS'))} end)\n"
           b"redis.register_function('resp', function(keys, args) redis.setresp(3) return redis.call('set', 'k', 'v') end)\n"
           b"redis.register_function('boom', function(keys, args) error('boom') end)\n")
    fns = {name: fn for name, fn, _, _ in rt.load_library(lib)}

    def fcall(name, keys=(), args=()):
        return rt.call_function(fns[name.encode()], name.encode(), list(keys), list(args), False)

    assert fcall("keep", [b"a"]) == 1
    assert fcall("keep", [b"b"]) == 2                  # each call's keys table is its own
    assert fcall("peek") == [b"a", b"b"]
    env = fcall("env")
    assert env[0] == b"function" and env[1] is None    # pcall false: KEYS is no global of functions
    assert run(rt, "return type(loadstring('return KEYS')())", ["k"]) == b"table"     # EVAL's globals again
    assert fcall("resp") == Status(b"OK")
    assert run(rt, "return redis.call('set', 'k', 'v')") == Status(b"OK")
    assert fcall("boom") == ErrorReply(b"ERR user_function:9: boom script: boom, on @user_function:9.")
    assert fcall("keep", [b"c"]) == 3
