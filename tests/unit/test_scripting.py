"""Unit tests for engine/scripting/runtime.pyx: the Lua runtime behind EVAL/EVALSHA/SCRIPT.

The tests own a tiny engine (GET/SET/INCR/DEL over a dict) as call_handler. Where a real
redis-server 7.0.15 is installed, the same scripts run there too and the raw RESP2 bytes of
both replies must be identical.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

pytest.importorskip("lupa")

from engine.scripting.runtime import (  # noqa: E402
    ERR_UNKNOWN_COMMAND, ERR_WRONG_ARITY, BigNumber, ErrorReply, ScriptError, ScriptRuntime,
    Status, Verbatim)

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


# ---------------------------------------------------------------- the test's own engine
class DictEngine:
    ARITY = {b"get": 2, b"set": 3, b"incr": 2, b"del": -2}

    def __init__(self):
        self.data = {}
        self.calls = []
        self.runtime = None

    def __call__(self, argv, raise_errors):
        self.calls.append(list(argv))
        name = argv[0].lower()
        arity = self.ARITY.get(name)
        if arity is None:
            return ErrorReply(ERR_UNKNOWN_COMMAND)
        if (arity > 0 and len(argv) != arity) or (arity < 0 and len(argv) < -arity):
            return ErrorReply(ERR_WRONG_ARITY)
        if name == b"get":
            return self.data.get(argv[1])
        if name == b"set":
            self.data[argv[1]] = argv[2]
            if self.runtime is not None:
                self.runtime.wrote = True
            return Status(b"OK")
        if name == b"del":
            removed = sum(1 for k in argv[1:] if self.data.pop(k, None) is not None)
            return removed
        if name == b"incr":
            try:
                value = int(self.data.get(argv[1], b"0")) + 1
            except ValueError:
                return ErrorReply(b"ERR value is not an integer or out of range")
            self.data[argv[1]] = str(value).encode()
            return value
        raise AssertionError("unreachable")


def make_runtime(**kwargs):
    engine = DictEngine()
    runtime = ScriptRuntime(engine, **kwargs)
    engine.runtime = runtime
    return runtime, engine


def run(runtime, body, keys=(), args=()):
    return runtime.run(body.encode() if isinstance(body, str) else body,
                       [k.encode() for k in keys], [a.encode() for a in args], is_sha=False)


# ---------------------------------------------------------------- RESP2 encoding of our replies
def resp2(value):
    out, stack = [], [value]
    while stack:
        out.append(_resp2_head(stack.pop(), stack))
    return b"".join(out)


def _resp2_head(value, stack):
    """Encode one value; push the children of aggregates (reversed) onto ``stack``."""
    if isinstance(value, ErrorReply):
        return b"-" + bytes(value) + b"\r\n"
    if isinstance(value, Status):
        return b"+" + bytes(value) + b"\r\n"
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), bytes(value))
    if isinstance(value, bool):
        return b":1\r\n" if value else b":0\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, float):
        text = ("%.17g" % value).encode()
        return b"$%d\r\n%s\r\n" % (len(text), text)
    if isinstance(value, dict):
        items = [x for pair in value.items() for x in pair]
    elif isinstance(value, (list, tuple, set)):
        items = list(value)
    else:
        raise TypeError(type(value))
    stack.extend(reversed(items))
    return b"*%d\r\n" % len(items)


# ---------------------------------------------------------------- a real redis-server, when present
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RawRedis:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def command(self, *args):
        args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.sock.sendall(b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        return self._read_reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read_reply(self):
        # iterative: replies may nest thousands of arrays deep
        out, pending = b"", 1
        while pending:
            pending -= 1
            line = self._line()
            out += line + b"\r\n"
            kind = line[:1]
            if kind == b"$" and int(line[1:]) >= 0:
                size = int(line[1:])
                while len(self.buf) < size + 2:
                    self.buf += self.sock.recv(65536)
                out += self.buf[:size + 2]
                self.buf = self.buf[size + 2:]
            elif kind == b"*":
                pending += max(0, int(line[1:]))
        return out


@pytest.fixture(scope="module")
def real_redis():
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server not installed")
    tmp = tempfile.mkdtemp(prefix="cachemere-lua-")
    port = _free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", tmp, "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                client = RawRedis(port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)


# Scripts whose reply must be byte-identical to redis-server 7.0.15 (fresh keyspace each).
DIFFERENTIAL_SCRIPTS = [
    # Lua -> RESP
    "return 1", "return 3.99", "return -3.99", "return 'x'", "return true", "return false",
    "return nil", "return {}", "return {1,2,3.7,'x',nil,4}", "return {1,{2,{3,'a'}},true,false,'b'}",
    "return {a=1}", "return {1, 2, [5]=5, a=3}", "return 1e300", "return 0/0", "return 2^63",
    "return -2^63", "return 2^53+1", "return function() end",
    "return {err='bad'}", "return {err='-X y'}", "return {err='a\\r\\nb'}", "return {err=''}",
    "return {err=1}", "return {ok='fine'}", "return {ok=1}", "return {ok='a\\r\\nb'}",
    "return {ok='a', err='b'}", "return {double=1.5}", "return {double=0.1}", "return {double=3}",
    "return {map={a=1}}", "return {set={a=true}}", "return {big_number='123'}",
    "return {verbatim_string={format='txt',string='hi'}}",
    "redis.setresp(3) return true", "redis.setresp(3) return false",
    "redis.setresp(3) return {double=1.5}",
    "local t={} t[1]=t return t",
    "local t={} for i=1,9000 do t={t} end return t",
    # redis.* helpers
    "return redis.error_reply('My err')", "return redis.error_reply('-X y')",
    "return redis.error_reply('nospace')", "return redis.error_reply('')",
    "return redis.error_reply('-')", "return redis.error_reply(1)",
    "return redis.status_reply('X')", "return redis.status_reply(1)",
    "return redis.status_reply('')",
    "return redis.sha1hex('')", "return redis.sha1hex('abc')", "return redis.sha1hex()",
    "return redis.setresp(4)", "return redis.setresp()", "return redis.set_repl(1)",
    "return redis.set_repl(9)", "return redis.replicate_commands()", "return redis.breakpoint()",
    "return redis.debug('x')", "return redis.REDIS_VERSION .. ' ' .. redis.REDIS_VERSION_NUM",
    "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
    "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
    "return redis.log(9, 'x')", "return redis.log('a', 'x')", "return redis.log(1)",
    "return redis.log(redis.LOG_DEBUG, 'quiet')",
    "local r={} for k,v in pairs(redis) do r[#r+1]=k end table.sort(r) return r",
    # redis.call / pcall, RESP -> Lua
    "return redis.call('set','a','b')", "redis.call('set','a','b') return redis.call('get','a')",
    "return redis.call('get','nokey')", "return type(redis.call('get','nokey'))",
    "return redis.call('incr','n')", "return type(redis.call('incr','n'))",
    "local r = redis.call('set','a','b') return {type(r), r.ok}",
    "return redis.call('nosuch')", "return redis.pcall('nosuch')",
    "local x = redis.call('nosuch')", "return redis.pcall('nosuch')['err']",
    "return redis.call('get')", "return redis.pcall('get','a','b')",
    "return redis.call()", "return redis.pcall()", "return redis.call({})", "return redis.pcall({})",
    "redis.call('set','x',1.5) return redis.call('get','x')",
    "redis.call('set','x',1e20) return redis.call('get','x')",
    "redis.call('set','x',7) return redis.call('get','x')",
    "redis.call('set','nn','abc') return redis.call('incr','nn')",
    "redis.call('set','nn','abc') return redis.pcall('incr','nn')",
    "redis.call('set','nn','abc') local r = redis.pcall('incr','nn') return r.err",
    "return pcall(redis.call,'nosuch')", "local ok,e=pcall(redis.call,'nosuch') return e",
    "local ok,e=pcall(redis.call,'nosuch') return type(e)",
    "local ok,e=pcall(error,'x') return e", "local ok,e=pcall(error,{err='q'}) return e",
    "return {pcall(redis.call, 'get', 'nokey')}",
    # errors and their decorations
    "error('boom')", "error({err='boom2'})", "error(12)", "error(nil)", "error('boom', 0)",
    "error('a\\nb')", "local function f() error('deep') end f()",
    "\nreturn redis.call('nosuch')", "local a = 1\n\nerror('line3')",
    # sandbox
    "return os", "return io", "return package", "return require", "return loadfile",
    "return dofile", "return debug", "return setfenv", "return getfenv", "return print",
    "return module", "return newproxy", "return python", "return nosuch",
    "a=1", "function f() end", "string.x=1", "redis.call=nil", "rawset(_G,'a',1)",
    "setmetatable(_G,{})", "return type(getmetatable(_G))", "getmetatable('').__index.x = 1",
    "table.insert(_G, 1)", "table.sort(_G)", "_G.x = 1", "math.floor = nil", "cjson.x = 1",
    "local r={} for k,v in pairs(_G) do r[#r+1]=k end table.sort(r) return r",
    "return {type(loadstring), type(load), type(bit), type(struct), type(cmsgpack), type(cjson), _VERSION}",
    "return loadstring('return 1+1')()", "return loadstring('x=1')()",
    "return loadstring('return os')()", "local f = loadstring('return 1 +') return tostring(f)",
    "return loadstring(string.dump(function() return 1 end))",
    "KEYS[1]='z' return KEYS[1]", "return #KEYS", "return rawget(_G, 'string') == string",
    "local n=0 for k,v in ipairs(KEYS) do n=n+1 end return n",
    "local co = coroutine.create(function(a) coroutine.yield(a+1) return 9 end) "
    "local _, x = coroutine.resume(co, 1) local _, y = coroutine.resume(co) return {x, y}",
    "return coroutine.wrap(function() return 'w' end)()",
    # math.random is redisLrand48 (deterministic after a seed)
    "math.randomseed(42) return tostring(math.random())",
    "math.randomseed(1) return {math.random(1000), math.random(1000), math.random(5, 7)}",
    "return math.random(0)", "return math.random(1,2,3)", "return math.random(3,2)",
    # cjson
    "return cjson.encode({1,2,'a',{b=1}})", "return cjson.encode({a={}})", "return cjson.encode({})",
    "return cjson.encode(1/3)", "return cjson.encode(123456789012345678)",
    "return cjson.encode({[1]=1,[3]=3})", "return cjson.encode({[1]=1,[30]=3})",
    "return cjson.encode({[10]=1})", "return cjson.encode({[11]=1})",
    "return cjson.encode(0/0)", "return cjson.encode(-0)", "return cjson.encode(nil)",
    "return cjson.encode(cjson.null)", "return cjson.encode(function() end)",
    "return cjson.encode('\\1\\127\\128\\233 \"/\\\\')", "return cjson.encode({[true]=1})",
    "return cjson.encode()", "return cjson.encode(1,2)", "return cjson.encode(-1e-7)",
    "local t={} for i=1,1100 do t={t} end return cjson.encode(t)",
    "return cjson.decode('[1,2,{\"a\":null}]')[3].a == cjson.null",
    "return cjson.decode('\"\\\\u00e9\"')", "return cjson.decode('\"\\\\ud83d\\\\ude00\"')",
    "return cjson.decode('1e2')", "return cjson.decode('{\"a\":[true,false]}').a[1]",
    "return cjson.encode(cjson.decode('{\"1\":2}'))", "return cjson.decode('{')",
    "return cjson.decode('[1,2')", "return cjson.decode('')", "return cjson.decode('nul')",
    "return cjson.decode('{\"a\" 1}')", "return cjson.decode('{\"a\":1 \"b\"}')",
    "return cjson.decode('{1:2}')", "return cjson.decode('[1,]')", "return cjson.decode('[1] x')",
    "return cjson.decode('\"abc')", "return cjson.decode('\"\\\\x\"')",
    "return cjson.decode('\"\\\\u12\"')", "return cjson.decode('-')", "return cjson.decode('.5')",
    "return cjson.decode('  true  ')", "return cjson.decode(1)", "return cjson.decode()",
    "return tostring(cjson.decode('-0'))",
    "local v = {a={1,2,{b='c'}}, d='e'} local s = cjson.encode(v) "
    "local w = cjson.decode(s) return {w.a[1], w.a[3].b, w.d}",
    # cmsgpack, bit, struct
    "return cmsgpack.pack({1,2},{a=1},'abc',1.5,-1,300,-200,true,nil,0.1,2^40)",
    "return cmsgpack.pack(string.rep('x',40))", "return cmsgpack.pack()",
    "return {cmsgpack.unpack(cmsgpack.pack({1,{2,{a='b'}}}))}",
    "local t = cmsgpack.unpack(cmsgpack.pack({1,{2,{a='b'}}})) return t[2][2].a",
    "return cmsgpack.unpack(cmsgpack.pack(1.5))", "return cmsgpack.unpack('\\196')",
    "return cmsgpack.unpack('\\193')", "return {cmsgpack.unpack_one(cmsgpack.pack(1,2), 0)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2, 0)}",
    "return {bit.band(0xff, 0x0f), bit.tohex(255), bit.tohex(-1, -4), bit.lshift(1,31), "
    "bit.tobit(2^32+5), bit.bnot(0), bit.bswap(0x12345678), bit.arshift(-256, 4), "
    "bit.rshift(-256,4), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bor(1,2,4), bit.bxor(7,2)}",
    "return bit.tobit(1.5)..' '..bit.tobit(2.5)..' '..bit.tobit(-1.5)", "return bit.band()",
    "return bit.band('x')",
    "return struct.pack('>iHb', 1, 2, -3)", "return {struct.unpack('>iHb', struct.pack('>iHb', 1, 2, -3))}",
    "return struct.pack('<d', 1.5)", "return struct.size('!4bi')", "return {struct.unpack('s', 'ab\\0cd')}",
    "return struct.unpack('>i', 'ab')", "return {struct.unpack('<h', struct.pack('<h', -2))}",
    # shebang
    "#!lua\nreturn 1", "#!lua flags=no-writes\nreturn 2",
]


@pytest.mark.parametrize("script", DIFFERENTIAL_SCRIPTS)
def test_same_reply_as_redis(real_redis, script):
    runtime, engine = make_runtime()
    ours = run(runtime, script, keys=["k1"], args=["a1"])
    real_redis.command("FLUSHALL")
    theirs = real_redis.command("EVAL", script, "1", "k1", "a1")
    assert resp2(ours) == theirs


def test_same_reply_as_redis_evalsha(real_redis):
    runtime, _ = make_runtime()
    body = b"return {KEYS[1], ARGV[1], ARGV[2]}"
    sha = runtime.load(body)
    assert sha == real_redis.command("SCRIPT", "LOAD", body).split(b"\r\n")[1].decode()
    ours = runtime.run(sha.upper(), [b"k"], [b"x", b"y"], is_sha=True)
    assert resp2(ours) == real_redis.command("EVALSHA", sha, "1", "k", "x", "y")


def test_compile_error_and_shebang_errors_match_redis(real_redis):
    runtime, _ = make_runtime()
    for body in ("return 1 +", "#!luax\nreturn 1", "#!lua flags=bogus\nreturn 1", "#!lua foo\nreturn 1"):
        with pytest.raises(ScriptError) as info:
            runtime.load(body.encode())
        assert b"-" + info.value.message.encode() + b"\r\n" == real_redis.command("EVAL", body, "0")


# ---------------------------------------------------------------- runtime API
def test_load_exists_flush_and_noscript():
    runtime, _ = make_runtime()
    sha = runtime.load(b"return 'hi'")
    import hashlib
    assert sha == hashlib.sha1(b"return 'hi'").hexdigest()
    assert runtime.exists(sha) and runtime.exists(sha.upper().encode())
    assert runtime.run(sha, [], [], is_sha=True) == b"hi"
    runtime.flush()
    assert not runtime.exists(sha)
    with pytest.raises(ScriptError) as info:
        runtime.run(sha, [], [], is_sha=True)
    assert info.value.message == "NOSCRIPT No matching script. Please use EVAL."


def test_script_flags_from_shebang():
    runtime, _ = make_runtime()
    plain = runtime.load(b"return 1")
    ro = runtime.load(b"#!lua flags=no-writes,allow-oom\nreturn 1")
    assert runtime.script_flags(plain) is None
    assert runtime.script_flags(ro) == ("no-writes", "allow-oom")


def test_call_handler_sees_argv_resp_and_read_only():
    seen = []

    def handler(argv, raise_errors):
        seen.append((argv, raise_errors, runtime.resp, runtime.read_only))
        return None

    runtime = ScriptRuntime(handler)
    runtime.run(b"redis.call('get', 1.5, 7) redis.setresp(3) return redis.pcall('get', 'k')",
                [], [], is_sha=False, read_only=True)
    assert seen == [([b"get", b"1.5", b"7"], True, 2, True), ([b"get", b"k"], False, 3, True)]


def test_resp3_replies_convert_to_lua_types():
    replies = {
        b"double": 2.5, b"bool": True, b"map": {b"f": b"v"}, b"set": {b"m"},
        b"null": None, b"big": BigNumber(b"12345678901234567890"),
        b"verb": Verbatim(b"hello", b"txt"), b"nested": [1, [b"x", None]],
    }
    runtime = ScriptRuntime(lambda argv, raise_errors: replies[argv[1]])
    script = b"""
        redis.setresp(3)
        local d = redis.call('x', 'double')
        local m = redis.call('x', 'map')
        local s = redis.call('x', 'set')
        local n = redis.call('x', 'null')
        local b = redis.call('x', 'big')
        local v = redis.call('x', 'verb')
        return {d.double, tostring(redis.call('x', 'bool')), m.map.f, tostring(s.set.m),
                tostring(n), b.big_number, v.verbatim_string.format, v.verbatim_string.string}
    """
    assert runtime.run(script, [], [], is_sha=False) == [
        2, b"true", b"v", b"true", b"nil", b"12345678901234567890", b"txt", b"hello"]
    # RESP2 script view: null -> false
    assert runtime.run(b"return tostring(redis.call('x', 'null'))", [], [], is_sha=False) == b"false"


def test_resp3_return_values():
    runtime, _ = make_runtime()
    assert runtime.run(b"redis.setresp(3) return {true, false, {double=1.5}, {map={a={1}}}, {set={x=true}}}",
                       [], [], is_sha=False) == [True, False, 1.5, {b"a": [1]}, {b"x"}]
    assert runtime.run(b"return {big_number='1\\r\\n2'}", [], [], is_sha=False) == BigNumber(b"1  2")


def test_log_handler_receives_levels_and_joined_message():
    logged = []
    runtime, _ = make_runtime(log_handler=lambda level, msg: logged.append((level, msg)))
    runtime.run(b"redis.log(redis.LOG_WARNING, 'hello', 'w', 3, {}, 'x') redis.log(0, 'dbg')",
                [], [], is_sha=False)
    assert logged == [(3, b"hello w 3 x"), (0, b"dbg")]


def test_keys_and_argv_are_per_run():
    runtime, _ = make_runtime()
    assert run(runtime, "return {KEYS[1], ARGV[2], #KEYS, #ARGV}", ["a"], ["x", "y"]) == [b"a", b"y", 1, 2]
    assert run(runtime, "return {#KEYS, #ARGV}") == [0, 0]


def test_wrote_flag_set_by_engine():
    runtime, _ = make_runtime()
    run(runtime, "return redis.call('get', 'a')")
    assert runtime.wrote is False
    run(runtime, "return redis.call('set', 'a', 'b')")
    assert runtime.wrote is True


# ---------------------------------------------------------------- sandbox safety
def test_no_python_reachable():
    runtime, _ = make_runtime()
    probes = [
        "return python", "return rawget(_G, 'python')", "return getfenv",
        "return tostring(rawget(getmetatable(_G) or {}, '__index'))",
    ]
    for probe in probes:
        reply = run(runtime, probe)
        assert reply in (None, b"nil") or isinstance(reply, ErrorReply), (probe, reply)
    # walk everything reachable from _G: only Lua values, never lupa's Python wrappers
    reply = run(runtime, """
        local seen, kinds = {}, {}
        local function walk(v)
          if type(v) == 'table' and not seen[v] then
            seen[v] = true
            for k, x in pairs(v) do walk(k) walk(x) end
            local mt = getmetatable(v)
            if mt then walk(mt) end
          elseif type(v) == 'userdata' then
            kinds[#kinds+1] = tostring(v)
          end
        end
        walk(_G)
        walk(getmetatable(''))
        return kinds
    """)
    assert all(not kind.startswith(b"<") and b"Python" not in kind for kind in reply), reply


def test_python_exception_in_handler_does_not_leak_an_object():
    def handler(argv, raise_errors):
        raise ValueError("secret")

    runtime = ScriptRuntime(handler)
    assert runtime.run(b"local ok, e = pcall(redis.call, 'get', 'x') return {tostring(ok), type(e), e}",
                       [], [], is_sha=False) == [b"false", b"string", b"ERR internal error: ValueError"]


def test_globals_stay_pristine_between_runs():
    runtime, _ = make_runtime()
    for attempt in ("string.x = 1", "rawset(string, 'x', 1)", "table.insert(string, 1)",
                    "setmetatable(string, {__index=function() return 1 end})",
                    "getmetatable('').__index.x = 1", "_G.x = 1", "rawset(_G, 'x', 1)"):
        assert isinstance(run(runtime, attempt), ErrorReply), attempt
    assert run(runtime, "return {tostring(string.x), tostring(rawget(_G, 'x')), type(('a').upper)}") == [
        b"nil", b"nil", b"function"]


def test_loaded_chunks_run_in_the_sandbox():
    runtime, _ = make_runtime()
    assert isinstance(run(runtime, "return loadstring('return os')()"), ErrorReply)
    assert isinstance(run(runtime, "return load(function() return nil end)"), bytes) is False
    reply = run(runtime, "local n = 0 return load(function() n = n + 1 if n == 1 then return 'return io' end end)()")
    assert isinstance(reply, ErrorReply) and b"'io'" in reply


# ---------------------------------------------------------------- time limit, kill, memory
def test_busy_then_kill_from_busy_handler():
    calls = []

    def on_busy():
        calls.append(runtime.elapsed_ms())
        assert runtime.busy and runtime.running
        runtime.kill()

    runtime, _ = make_runtime(time_limit_ms=30, busy_handler=on_busy)
    started = time.monotonic()
    reply = run(runtime, "local i = 0 while true do i = i + 1 end")
    assert time.monotonic() - started < 5
    sha = runtime.load(b"local i = 0 while true do i = i + 1 end")
    assert reply == ErrorReply(b"ERR Script killed by user with SCRIPT KILL... script: %s, on @user_script:1."
                               % sha.encode())
    assert calls and calls[0] >= 30
    assert not runtime.running and not runtime.busy


def test_kill_cannot_be_swallowed_by_pcall():
    runtime, _ = make_runtime(time_limit_ms=20, busy_handler=lambda: runtime.kill())
    reply = run(runtime, "while true do pcall(function() while true do end end) end")
    assert bytes(reply).startswith(b"ERR Script killed by user with SCRIPT KILL... script: ")
    reply = run(runtime, "while true do local co = coroutine.wrap(function() while true do end end) pcall(co) end")
    assert bytes(reply).startswith(b"ERR Script killed by user with SCRIPT KILL... script: ")
    # the runtime is usable afterwards
    assert run(runtime, "return 5") == 5


def test_the_hook_stays_armed_across_runs_and_kills():
    # the count hook is installed once and kept between runs; a kill switches it to a line hook,
    # after which the next run must get its count hook back (ticks, busy detection, killable again)
    ticks = []
    runtime, _ = make_runtime(time_limit_ms=20, busy_handler=lambda: (ticks.append(1), runtime.kill()))
    for _ in range(3):
        reply = run(runtime, "local i = 0 while true do i = i + 1 end")
        assert bytes(reply).startswith(b"ERR Script killed by user with SCRIPT KILL... script: ")
        assert run(runtime, "return 7") == 7
    assert len(ticks) >= 3
    quiet, _ = make_runtime(time_limit_ms=60000, busy_handler=lambda: ticks.append("unexpected"))
    assert run(quiet, "local x = 0 for i = 1, 2000000 do x = x + 1 end return x") == 2000000
    assert "unexpected" not in ticks


def test_busy_flag_without_kill_lets_script_finish():
    seen = []
    runtime, _ = make_runtime(time_limit_ms=1, busy_handler=lambda: seen.append(runtime.busy))
    assert run(runtime, "local x = 0 for i = 1, 3000000 do x = x + i end return x") == 4500001500000
    assert seen and all(seen)


def test_memory_limit_errors_instead_of_growing():
    runtime, _ = make_runtime(max_memory=16 * 1024 * 1024)
    reply = run(runtime, "local t = {} for i = 1, 1e8 do t[i] = i end return #t")
    assert isinstance(reply, ErrorReply) and b"not enough memory" in reply
    assert run(runtime, "return 'still alive'") == b"still alive"


def test_math_random_starts_from_redis_default_state():
    # a freshly started redis-server 7.0.15 answers 40 to its first `return math.random(100)`
    runtime, _ = make_runtime()
    assert run(runtime, "return math.random(100)") == 40
    assert run(runtime, "math.randomseed(42) return tostring(math.random())") == b"0.74452500033403"


def test_nested_run_is_refused():
    runtime = None

    def handler(argv, raise_errors):
        return runtime.run(b"return 1", [], [], is_sha=False)

    runtime = ScriptRuntime(handler)
    reply = runtime.run(b"return redis.pcall('eval')", [], [], is_sha=False)
    assert reply == ErrorReply(b"ERR internal error: ScriptError")
    assert runtime.run(b"return 2", [], [], is_sha=False) == 2
