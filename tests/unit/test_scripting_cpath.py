"""redis.call's C path (engine/scripting/runtime.pyx): RESP replies of the engine turned into Lua values in C, and
EVAL's arguments/replies through lua_pcall, with a CommandGate answering fixed RESP bytes."""
import pytest

from engine.scripting.runtime import BigNumber, CommandGate, ErrorReply, ScriptRuntime, Status, Verbatim


class FixedGate(CommandGate):
    """Answers each command name with fixed RESP bytes and records what ran."""

    def __init__(self, replies):
        self.replies = replies
        self.calls = []
        self.errors = []

    def execute(self, argv):
        self.calls.append(list(argv))
        return self.replies[argv[0]]

    def on_error(self, text):
        self.errors.append(text)


REPLIES = {
    b"int": b":42\r\n",
    b"neg": b":-7\r\n",
    b"bulk": b"$5\r\nhe\x00lo\r\n",
    b"empty": b"$0\r\n\r\n",
    b"nil": b"$-1\r\n",
    b"nilarr": b"*-1\r\n",
    b"arr": b"*4\r\n:1\r\n$1\r\nx\r\n*2\r\n+OK\r\n:2\r\n$-1\r\n",
    b"status": b"+PONG\r\n",
    b"err": b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    b"bare": b"-NOSPACE\r\n",
    b"map": b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$2\r\nbb\r\n",
    b"set": b"~2\r\n$1\r\nm\r\n$1\r\nn\r\n",
    b"double": b",3.5\r\n",
    b"true": b"#t\r\n",
    b"null3": b"_\r\n",
    b"big": b"(12345678901234567890\r\n",
    b"verb": b"=9\r\ntxt:hello\r\n",
}


@pytest.fixture
def rt():
    gate = FixedGate(REPLIES)
    runtime = ScriptRuntime(None, gate=gate)
    return runtime, gate


def run(runtime, body, keys=(), args=()):
    return runtime.run(body, list(keys), list(args), is_sha=False)


def test_c_path_is_bound(rt):
    runtime, gate = rt
    assert runtime.gate is gate
    assert run(runtime, "return redis.call('int')") == 42
    assert gate.calls == [[b"int"]]


def test_integers_and_bulk(rt):
    runtime, _ = rt
    assert run(runtime, "return redis.call('neg')") == -7
    assert run(runtime, "local v = redis.call('int') return type(v) .. ':' .. v") == b"number:42"
    assert run(runtime, "return redis.call('bulk')") == b"he\x00lo"
    assert run(runtime, "return redis.call('empty')") == b""


def test_nil_is_false_in_resp2_and_nil_in_resp3(rt):
    runtime, _ = rt
    assert run(runtime, "return type(redis.call('nil'))") == b"boolean"
    assert run(runtime, "return tostring(redis.call('nilarr'))") == b"false"
    assert run(runtime, "redis.setresp(3) return type(redis.call('null3'))") == b"nil"
    assert runtime.resp == 2           # reset after the run


def test_arrays(rt):
    runtime, _ = rt
    assert run(runtime, "return redis.call('arr')") == [1, b"x", [Status(b"OK"), 2], None]
    assert run(runtime, "local t = redis.call('arr') return {#t, t[3][1].ok, type(t[4])}") == [4, b"OK", b"boolean"]


def test_status_and_error_tables(rt):
    runtime, gate = rt
    assert run(runtime, "return redis.call('status')") == Status(b"PONG")
    assert type(run(runtime, "return redis.call('status')")) is Status
    assert run(runtime, "return redis.call('status').ok") == b"PONG"
    assert run(runtime, "return redis.pcall('err').err") == \
        b"WRONGTYPE Operation against a key holding the wrong kind of value"
    assert run(runtime, "return redis.pcall('bare').err") == b"ERR NOSPACE"
    reply = run(runtime, "return redis.call('err')")
    assert type(reply) is ErrorReply
    assert reply.startswith(b"WRONGTYPE Operation against") and b"script: " in reply and b"@user_script:1." in reply
    assert gate.errors[-1] == b"WRONGTYPE Operation against a key holding the wrong kind of value"


def test_pcall_catches_and_returns(rt):
    runtime, _ = rt
    assert run(runtime, "local ok, e = pcall(redis.call, 'err') return {tostring(ok), e}") == \
        [b"false", b"WRONGTYPE Operation against a key holding the wrong kind of value"]
    assert run(runtime, "local r = redis.pcall('err') return type(r)") == b"table"
    assert run(runtime, "return redis.pcall('err')") == \
        ErrorReply(b"WRONGTYPE Operation against a key holding the wrong kind of value")


def test_resp3_types(rt):
    runtime, _ = rt
    assert run(runtime, "redis.setresp(3) local m = redis.call('map').map return {m.a, m.b}") == [1, b"bb"]
    assert run(runtime, "redis.setresp(3) local s = redis.call('set').set return {tostring(s.m), tostring(s.n)}") \
        == [b"true", b"true"]
    assert run(runtime, "redis.setresp(3) return tostring(redis.call('double').double)") == b"3.5"
    assert run(runtime, "redis.setresp(3) return tostring(redis.call('true'))") == b"true"
    assert run(runtime, "redis.setresp(3) return redis.call('big').big_number") == b"12345678901234567890"
    assert run(runtime, "redis.setresp(3) local v = redis.call('verb').verbatim_string return {v.format, v.string}") \
        == [b"txt", b"hello"]
    assert run(runtime, "redis.setresp(3) return redis.call('verb')") == Verbatim(b"hello", b"txt")
    assert run(runtime, "redis.setresp(3) return redis.call('big')") == BigNumber(b"12345678901234567890")


def test_arguments(rt):
    runtime, gate = rt
    run(runtime, "return redis.call('int', KEYS[1], ARGV[1], 1.5, 3, ARGV[2])", [b"k\x00"], [b"a", b""])
    assert gate.calls[-1] == [b"int", b"k\x00", b"a", b"1.5", b"3", b""]
    reply = run(runtime, "return redis.call()")
    assert reply.startswith(b"ERR Please specify at least one argument for this redis lib call script:")
    reply = run(runtime, "return redis.call('int', {})")
    assert reply.startswith(b"ERR Lua redis lib command arguments must be strings or integers script:")
    assert run(runtime, "return redis.pcall('int', {}).err") == \
        b"ERR Lua redis lib command arguments must be strings or integers"


def test_gate_exception_is_an_internal_error(rt):
    runtime, _ = rt
    assert run(runtime, "return redis.pcall('missing').err") == b"ERR internal error: KeyError"


def test_evalsha_keys_and_argv(rt):
    runtime, _ = rt
    sha = runtime.load(b"return {#KEYS, #ARGV, KEYS[1], ARGV[2]}")
    assert runtime.run(sha.encode(), [b"k1", b"k2"], [b"a", b"b", b"c"], is_sha=True) == [2, 3, b"k1", b"b"]
    assert runtime.run(sha.encode(), [], [], is_sha=True) == [0, 0]
    assert runtime.run(sha.encode(), [b"x"], [], is_sha=True) == [1, 0, b"x"]


def test_script_errors_and_reply_types(rt):
    runtime, _ = rt
    assert run(runtime, "return 3.99") == 3
    assert run(runtime, "return {ok='fine'}") == Status(b"fine")
    assert run(runtime, "return {err='My Error'}") == ErrorReply(b"My Error")
    assert run(runtime, "return {err='a\\r\\nb'}") == ErrorReply(b"a  b")
    assert run(runtime, "return true") == 1
    assert run(runtime, "return {1, 'two', {3}}") == [1, b"two", [3]]
    reply = run(runtime, "error('boom')")
    assert reply.startswith(b"ERR user_script:1: boom script: ")
    big = run(runtime, "local t = {} for i = 1, 200 do t[i] = i end return t")
    assert big == list(range(1, 201))


def test_flush_drops_references(rt):
    runtime, _ = rt
    sha = runtime.load(b"return 1")
    assert runtime.run(sha.encode(), [], [], is_sha=True) == 1
    runtime.flush()
    sha = runtime.load(b"return 2")
    assert runtime.run(sha.encode(), [], [], is_sha=True) == 2


def test_keys_and_argv_are_fresh_every_run(rt):
    """The C path reuses KEYS/ARGV tables between runs: nothing a script does to them may show in the next run."""
    runtime, _ = rt
    touch = runtime.load(b"KEYS[5] = 'x'; KEYS.extra = 1; ARGV[1] = 'changed'; ARGV[9] = 'y'; return #KEYS")
    meta = runtime.load(b"setmetatable(KEYS, {__index = function() return 'meta' end}); return KEYS[7]")
    show = runtime.load(b"local n = 0 for _ in pairs(KEYS) do n = n + 1 end "
                        b"local m = 0 for _ in pairs(ARGV) do m = m + 1 end "
                        b"return {n, m, tostring(KEYS.extra), tostring(KEYS[7]), tostring(getmetatable(KEYS)), ARGV[1]}")
    for _ in range(3):
        assert runtime.run(touch.encode(), [b"a"], [b"v"], is_sha=True) == 1
        assert runtime.run(show.encode(), [b"k"], [b"arg"], is_sha=True) == [1, 1, b"nil", b"nil", b"nil", b"arg"]
        assert runtime.run(meta.encode(), [], [], is_sha=True) == b"meta"
        assert runtime.run(show.encode(), [], [b"z"], is_sha=True) == [0, 1, b"nil", b"nil", b"nil", b"z"]
    err = runtime.load(b"error(KEYS)")
    runtime.run(err.encode(), [b"a"], [], is_sha=True)
    assert runtime.run(show.encode(), [b"k"], [], is_sha=True)[:4] == [1, 0, b"nil", b"nil"]
    ret = runtime.load(b"return KEYS")
    assert runtime.run(ret.encode(), [b"a", b"b"], [], is_sha=True) == [b"a", b"b"]
    assert runtime.run(ret.encode(), [b"c"], [], is_sha=True) == [b"c"]
    big = runtime.load(b"return {#KEYS, #ARGV}")
    assert runtime.run(big.encode(), [b"k%d" % i for i in range(300)], [b"a"] * 200, is_sha=True) == [300, 200]
    assert runtime.run(big.encode(), [b"k"], [], is_sha=True) == [1, 0]


def test_run_state_between_direct_calls(rt):
    """EVAL scripts are called from C without the sandbox's run wrapper: its per-run state (the RESP version,
    the kill flag, the hook) must still start fresh in every run, also after FCALL and library loads."""
    runtime, _ = rt
    assert run(runtime, "redis.setresp(3) return true") is True
    assert run(runtime, "return true") == 1             # RESP2 again: the script's setresp does not carry over
    assert run(runtime, "return {false}") == [None]
    lib = runtime.load_library(b"\nredis.register_function('f', function(keys, args) return #keys end)")
    assert runtime.call_function(lib[0][1], b"f", [b"a", b"b"], [], False) == 2
    assert run(runtime, "return KEYS[1]", [b"k"]) == b"k"
    assert run(runtime, "return {pcall(error, 'x')}")[0] is None     # false -> nil in RESP2
    assert run(runtime, "local ok = pcall(function() return undefined_global end) return tostring(ok)") == b"false"
    reply = run(runtime, "x = 1")
    assert reply.startswith(b"ERR user_script:1: Script attempted to access nonexistent global variable 'x'") \
        or b"readonly" in reply
    assert run(runtime, "return 7") == 7


def test_kill_then_next_run_and_hook_outside_runs():
    gate = FixedGate(REPLIES)
    ticks = []
    holder = {}

    def busy():
        ticks.append(1)
        holder["rt"].kill()

    runtime = ScriptRuntime(None, gate=gate, time_limit_ms=0, busy_handler=busy)
    holder["rt"] = runtime
    assert run(runtime, "return 1") == 1
    reply = run(runtime, "local ok = pcall(function() while true do end end) return 'survived'")
    assert reply.startswith(b"ERR Script killed by user with SCRIPT KILL")
    runtime.time_limit_ms = 10 ** 9
    ticks.clear()
    assert run(runtime, "return {pcall(error, 'x')}")[0] is None
    assert run(runtime, "local n = 0 for i = 1, 300000 do n = n + 1 end return n") == 300000
    assert run(runtime, "return 2") == 2
    runtime.time_limit_ms = 0
    # Lua code outside a run (through lupa) with the count hook armed: no busy call, no kill
    runtime._lua.execute("local x = 0 for i = 1, 300000 do x = x + i end")
    assert not ticks
    assert run(runtime, "return 3") == 3
