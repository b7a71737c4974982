"""EVAL / EVALSHA / EVAL_RO / EVALSHA_RO / SCRIPT: Cachemere's raw reply bytes equal redis-server 7.0.15's.

Each sequence runs on a fresh connection to both servers (keys under the "ev:" prefix); error texts carry the
script's sha1 and line, so they compare exactly too.
"""
import itertools
import os

import pytest

pytest.importorskip("lupa")

from tests.support.diff import assert_same as _assert_same  # noqa: E402

_runs = itertools.count()


def assert_same(ours, theirs, commands, resp=2):
    """Key arguments ("ev:..." as a whole argument) get a prefix unique to this run, so sequences start
    from missing keys on both session servers without needing DEL."""
    token = "ev%d-%d:" % (os.getpid(), next(_runs))
    commands = [tuple(token + a[3:] if isinstance(a, str) and a.startswith("ev:") else a for a in cmd)
                for cmd in commands]
    _assert_same(ours, theirs, commands, resp=resp)

SHA_RETURN_1 = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"     # sha1("return 1")

SEQUENCES = {
    "numkeys": [
        ("EVAL", "return 1", "-1"), ("EVAL", "return 1", "2", "a"), ("EVAL", "return 1", "abc"),
        ("EVAL", "return 1", " 1", "a"), ("EVAL", "return 1", "01", "a"), ("EVAL", "return 1", "-0"),
        ("EVAL", "return 1", "99999999999999999999"),
        ("EVAL", "return {KEYS[1], ARGV[1], #KEYS, #ARGV}", "1", "k", "a"),
        ("EVAL", "return 1"), ("EVALSHA", "abc", "-1"), ("EVALSHA", "f" * 40, "-1"), ("EVALSHA", "f" * 40, "0"),
        ("EVAL_RO", "return 1", "5"), ("EVALSHA_RO", "x", "0"),
    ],
    # KEYS/ARGV cross into Lua as varargs up to 1000 values and as tables beyond; replies of up to 64 tokens
    # come back from the run call itself, bigger ones through a second call: both sides of each limit
    "argument and reply sizes": [
        ("EVAL", "return {#KEYS, #ARGV, KEYS[1], KEYS[#KEYS], ARGV[1], ARGV[#ARGV]}", "500",
         *["k%d" % i for i in range(500)], *["a%d" % i for i in range(500)]),
        ("EVAL", "return {#KEYS, #ARGV, KEYS[1], KEYS[#KEYS], ARGV[1], ARGV[#ARGV]}", "700",
         *["k%d" % i for i in range(700)], *["a%d" % i for i in range(2300)]),
        ("EVAL", "return ARGV", "0", *["v%d" % i for i in range(31)]),
        ("EVAL", "return ARGV", "0", *["v%d" % i for i in range(32)]),
        ("EVAL", "return ARGV", "0", *["v%d" % i for i in range(33)]),
        ("EVAL", "return ARGV", "0", *["v%d" % i for i in range(5000)]),
        ("EVAL", "local t = {} for i = 1, 40 do t[i] = {i, tostring(i)} end return t", "0"),
    ],
    "return types": [
        ("EVAL", "return 42", "0"), ("EVAL", "return 3.99", "0"), ("EVAL", "return -3.99", "0"),
        ("EVAL", "return 'str'", "0"), ("EVAL", "return {1, 'two', {3, {4}}, nil, 5}", "0"),
        ("EVAL", "return true", "0"), ("EVAL", "return false", "0"), ("EVAL", "return nil", "0"),
        ("EVAL", "return {ok='fine'}", "0"), ("EVAL", "return {err='My bad'}", "0"),
        ("EVAL", "return redis.status_reply('PONG')", "0"), ("EVAL", "return redis.error_reply('CODE x')", "0"),
        ("EVAL", "return redis.error_reply('no code')", "0"), ("EVAL", "return {}", "0"),
        ("EVAL", "return {1, true, false, 2}", "0"), ("EVAL", "return {double=1.5}", "0"),
        ("EVAL", "return {map={a=1}}", "0"), ("EVAL", "return {set={x=true}}", "0"),
        ("EVAL", "return {big_number='123456789012345678901234567890'}", "0"),
        ("EVAL", "return {verbatim_string={format='txt', string='hello'}}", "0"),
        ("EVAL", "return 'a\\r\\nb'", "0"),
    ],
    "redis.call": [
        ("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "ev:s", "v1"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", "ev:s"),
        ("EVAL", "return redis.call('get', 'ev:missing')", "0"),
        ("EVAL", "return redis.call('incr', KEYS[1])", "1", "ev:n"),
        ("EVAL", "return redis.call('incrby', KEYS[1], '41')", "1", "ev:n"),
        ("EVAL", "return redis.call('incr', KEYS[1])", "1", "ev:s"),
        ("EVAL", "return redis.pcall('incr', KEYS[1])", "1", "ev:s"),
        ("EVAL", "local r = redis.pcall('incr', KEYS[1]); return r['err']", "1", "ev:s"),
        ("EVAL", "local ok, e = pcall(redis.call, 'incr', KEYS[1]); return {tostring(ok), e}", "1", "ev:s"),
        ("EVAL", "return redis.call('hset', KEYS[1], 'f', 'v')", "1", "ev:h"),
        ("EVAL", "return redis.call('hgetall', KEYS[1])", "1", "ev:h"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", "ev:h"),
        ("EVAL", "return redis.call('nosuchcommand')", "0"),
        ("EVAL", "return redis.pcall('nosuchcommand')", "0"),
        ("EVAL", "return redis.call('get')", "0"),
        ("EVAL", "return redis.call('get', 'a', 'b')", "0"),
        ("EVAL", "return redis.call('multi')", "0"),
        ("EVAL", "return redis.call('eval', 'return 1', '0')", "0"),
        ("EVAL", "return redis.call('script', 'load', 'return 1')", "0"),
        ("EVAL", "return redis.call('config', 'nosuchsub')", "0"),
        ("EVAL", "return redis.call()", "0"),
        ("EVAL", "return redis.call({})", "0"),
        ("EVAL", "return redis.call('set', 'ev:x', 1.5)", "0"),
        ("EVAL", "return redis.call('ping')", "0"),
        ("EVAL", "return redis.call('mget', KEYS[1], KEYS[2])", "2", "ev:s", "ev:none"),
        ("EVAL", "return nosuchfunction()", "0"),
        ("EVAL", "error('boom')", "0"),
        ("EVAL", "error({err='TABLE err'})", "0"),
        ("EVAL", "return 1 +", "0"),
        ("EVAL", "x = 1", "0"),
    ],
    "read-only": [
        ("EVAL_RO", "return redis.call('set', 'ev:ro', '1')", "0"),
        ("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "ev:ro"),
        ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'ev:ro', '1')", "0"),
        ("EVAL", "#!lua flags=no-writes\nreturn 7", "0"),
        ("EVAL", "#!lua name=x\nreturn 1", "0"),
        ("EVAL", "#!python\nreturn 1", "0"),
        ("EVAL", "#!lua flags=bogus\nreturn 1", "0"),
        ("SCRIPT", "LOAD", "return redis.call('set', 'ev:ro', '2')"),
        ("EVALSHA_RO", "5b4bd5c0a9a98e7fcb2b0e2da0a5eac86bd75ef3", "0"),
    ],
    "script subcommands": [
        ("SCRIPT", "LOAD", "return 1"), ("SCRIPT", "EXISTS", SHA_RETURN_1, "f" * 40, "abc"),
        ("SCRIPT", "EXISTS", SHA_RETURN_1.upper()),
        ("EVALSHA", SHA_RETURN_1, "0"), ("EVALSHA", SHA_RETURN_1.upper(), "0"), ("EVALSHA_RO", SHA_RETURN_1, "0"),
        ("SCRIPT", "LOAD", "return +"), ("SCRIPT", "LOAD", "return"), ("SCRIPT", "KILL"), ("SCRIPT", "HELP"),
        ("SCRIPT", "FLUSH", "BOGUS"), ("SCRIPT", "FLUSH", "SYNC", "x"), ("SCRIPT", "NOPE"), ("SCRIPT",),
        ("SCRIPT", "LOAD"), ("SCRIPT", "EXISTS"), ("SCRIPT", "KILL", "x"), ("SCRIPT", "DEBUG", "maybe"),
        ("SCRIPT", "DEBUG", "NO"), ("EVAL", "return redis.sha1hex('')", "0"),
    ],
    "flush": [
        ("SCRIPT", "LOAD", "return 'flushed?'"), ("SCRIPT", "FLUSH"),
        ("SCRIPT", "EXISTS", "54a7b1a6d4e1bd69bc1f8e31e68f44a6dbafb2c0"),
        ("SCRIPT", "LOAD", "return 'flushed?'"), ("SCRIPT", "FLUSH", "async"), ("SCRIPT", "FLUSH", "sync"),
        ("EVALSHA", SHA_RETURN_1, "0"), ("EVAL", "return 1", "0"), ("EVALSHA", SHA_RETURN_1, "0"),
    ],
    # integer and bulk replies take short cuts on both crossings (redis.call -> Lua, script -> client):
    # each kind of reply next to one that takes the generic path, in RESP2 and RESP3
    "redis.call reply kinds": [
        ("SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])"),
        ("EVALSHA", "2bab3b661081db58bd2341920e0ba7cf5dc77b25", "1", "ev:n"),
        ("EVALSHA", "2BAB3B661081DB58BD2341920E0BA7CF5DC77B25", "1", "ev:n"),
        ("EVAL", "return redis.call('incr', KEYS[1])", "1", "ev:n"),
        ("EVAL", "return redis.call('incrby', KEYS[1], '-5')", "1", "ev:n"),
        ("EVAL", "return {redis.call('incr', KEYS[1]), redis.call('get', KEYS[1])}", "1", "ev:n"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", "ev:n"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", "ev:missing"),
        ("EVAL", "return type(redis.call('get', KEYS[1]))", "1", "ev:missing"),
        ("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "ev:s", "v"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", "ev:s"),
        ("EVAL", "return redis.call('incr', KEYS[1])", "1", "ev:s"),
        ("EVAL", "return redis.pcall('incr', KEYS[1])", "1", "ev:s"),
        ("EVAL", "local r = redis.pcall('incr', KEYS[1]); return type(r) .. ':' .. tostring(r.err)", "1", "ev:s"),
        ("EVAL", "return redis.call('rpush', KEYS[1], 'a', 'b')", "1", "ev:l"),
        ("EVAL", "return redis.call('lrange', KEYS[1], 0, -1)", "1", "ev:l"),
        ("EVAL", "return redis.call('strlen', KEYS[1]) + 0.5", "1", "ev:s"),
        ("EVAL", "redis.setresp(3); return redis.call('incr', KEYS[1])", "1", "ev:n"),
        ("EVAL", "redis.setresp(3); return redis.call('get', KEYS[1])", "1", "ev:missing"),
        # redis.call runs on a coroutine that is replaced after each error: calls after errors, error texts
        ("EVAL", "local n = 0 for i = 1, 3 do if not pcall(redis.call, 'incr', KEYS[1]) then n = n + 1 end end "
         "return {n, redis.call('strlen', KEYS[1]), redis.call('echo', 'after')}", "1", "ev:s"),
        ("EVAL", "pcall(redis.call, 'nosuchcmd'); return redis.call('incr', KEYS[1])", "1", "ev:s"),
        ("EVAL", "local ok, e = pcall(redis.call); return {tostring(ok), e.err}", "0"),
        ("EVAL", "return redis.call('echo', 'a', 'b')", "0"),
        ("EVAL", "return redis.call('echo', 1.5)", "0"),
        ("EVAL", "return {redis.call('echo', 'x'), redis.call('echo', '')}", "0"),
        # globals resolve ENV -> G in the VM; a missing one errors from the script's own frame
        ("EVAL", "return nosuchglobal", "0"),
        ("EVAL", "local x = 1\nreturn x + nosuchglobal", "0"),
        ("EVAL", "local function f() return nosuchglobal end\nreturn f()", "0"),
        ("EVAL", "local ok, e = pcall(function() return nosuchglobal end) return {tostring(ok), e}", "0"),
        ("EVAL", "return {rawget(_G, 'nosuchglobal') == nil, _G.redis ~= nil, type(_G['KEYS'])}", "1", "k"),
        ("EVAL", "return _G.nosuchglobal", "0"),
        ("EVAL", "nosuchglobal = 1", "0"),
        ("EVAL", "return ARGV[1]", "0", ""),
        ("EVAL", "return KEYS[15]", "15", *["k%d" % i for i in range(15)]),
        ("EVAL", "return KEYS[16]", "16", *["k%d" % i for i in range(16)]),
        # integer replies read in place (18 digits at most) or parsed (longer), signs, zero
        ("SET", "ev:i", "0"), ("EVAL", "return redis.call('incrby', KEYS[1], '0')", "1", "ev:i"),
        ("EVAL", "return redis.call('incrby', KEYS[1], '-999999999999999999')", "1", "ev:i"),
        ("EVAL", "return redis.call('incrby', KEYS[1], '-9223372036854775807')", "1", "ev:i"),
        ("EVAL", "return redis.call('incrby', KEYS[1], '9223372036854775807')", "1", "ev:i"),
        ("SET", "ev:i", "0"), ("EVAL", "return redis.call('incrby', KEYS[1], '9223372036854775807')", "1", "ev:i"),
        # arguments: numbers (converted), more than 8 (the argv table path), KEYS/ARGV splits
        ("EVAL", "return redis.call('incrby', KEYS[1], 5)", "1", "ev:n"),
        ("EVAL", "return redis.call('rpush', KEYS[1], 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i')", "1", "ev:l9"),
        ("EVAL", "return redis.call('rpush', KEYS[1], 'a', 'b', 'c', 'd', 'e', 'f', 'g', 2.5, 'i')", "1", "ev:l9"),
        ("EVAL", "return redis.call('rpush', KEYS[1], 'a', {})", "1", "ev:l9"),
        ("EVAL", "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", "2", "k1", "k2", "a1", "a2"),
        ("EVAL", "return {#KEYS, #ARGV, ARGV[1]}", "0", "a1", "a2"),
        ("EVAL", "return {#KEYS, #ARGV, KEYS[2]}", "2", "k1", "k2"),
        # the library functions are callable tables inside (to keep the caller's frame): scripts still
        # see C functions
        ("EVAL", "return {type(redis.call), type(redis.pcall), type(redis.log), type(redis.sha1hex), "
         "type(bit.band), type(cjson.encode), type(cmsgpack.pack), type(struct.pack), type(math.random), "
         "type(redis.setresp), type(getmetatable(redis.call)), tostring(redis.call):sub(1, 10), "
         "tostring(bit.tohex):sub(1, 10), type({}), type(print), type(nil)}", "0"),
        ("EVAL", "return type(load(redis.call))", "0"),
        ("EVAL", "local f, e = load(function() error('in reader') end) return {type(f), e}", "0"),
        ("EVAL", "local f, e = load(function() error('in reader') end) return {e.err, e.source, e.line}", "0"),
        ("EVAL", "local f, e = load(function() error({err='boom'}) end) return e", "0"),
        ("EVAL", "local n = 0 local f = load(function() n = n + 1 if n == 1 then return 'return 7' end end) "
         "return f()", "0"),
        # only the first return value is the reply; nothing returned is nil
        ("EVAL", "return 1, 2", "0"), ("EVAL", "return 'a', 'b'", "0"), ("EVAL", "local x = 1", "0"),
        ("EVAL", "return 3.99", "0"), ("EVAL", "return -3.99", "0"),
    ],
    "select inside a script": [
        ("SELECT", "0"),
        ("EVAL", "redis.call('select', '5'); redis.call('set', KEYS[1], 'in5'); return redis.call('get', KEYS[1])",
         "1", "ev:db"),
        ("GET", "ev:db"), ("SELECT", "5"), ("GET", "ev:db"), ("SELECT", "0"),
        ("EVAL", "return redis.call('select', '99')", "0"),
    ],
    "transaction": [
        ("MULTI",), ("EVAL", "return redis.call('set', 'ev:t', 'x')", "0"), ("EVAL", "return 1", "-1"),
        ("EXEC",), ("MULTI",), ("EVAL", "return 1", "-1", "x"), ("EVAL",), ("EXEC",),
    ],
}

RESP3_SEQUENCE = [
    ("HSET", "ev:h3", "f", "v"),
    ("EVAL", "return redis.call('hgetall', KEYS[1])", "1", "ev:h3"),
    ("EVAL", "redis.setresp(3); return redis.call('hgetall', KEYS[1])", "1", "ev:h3"),
    ("EVAL", "redis.setresp(3); local m = redis.call('hgetall', KEYS[1]); return m['map']['f']", "1", "ev:h3"),
    ("EVAL", "redis.setresp(3); return redis.call('get', 'ev:nothing')", "0"),
    ("EVAL", "return redis.call('get', 'ev:nothing')", "0"),
    ("EVAL", "redis.setresp(3); return {double=3.25}", "0"),
    ("EVAL", "return {double=3.25}", "0"),
    ("EVAL", "redis.setresp(3); return {true, false}", "0"),
    ("EVAL", "return {true, false}", "0"),
    ("EVAL", "return {map={a={1,2}}}", "0"),
    ("EVAL", "return {set={a=true}}", "0"),
    ("EVAL", "return {big_number='1234567890123456789012345'}", "0"),
    ("EVAL", "return {verbatim_string={format='txt', string='hi'}}", "0"),
    ("EVAL", "redis.setresp(3); return redis.call('hrandfield', KEYS[1], '-1', 'withvalues')", "1", "ev:h3"),
    ("EVAL", "redis.setresp(3); return redis.call('hincrbyfloat', KEYS[1], 'x', '0.5')", "1", "ev:h3"),
    ("EVAL", "redis.setresp(4)", "0"),
    ("EVAL", "return nil", "0"),
    ("EVAL", "return false", "0"),
]

RESP2_DOWNGRADES = [
    ("HSET", "ev:h2", "f", "v"),
    ("EVAL", "redis.setresp(3); return redis.call('hgetall', KEYS[1])", "1", "ev:h2"),
    ("EVAL", "redis.setresp(3); return {true, false, {double=0.1}}", "0"),
    ("EVAL", "redis.setresp(3); return redis.call('get', 'ev:nothing')", "0"),
    ("EVAL", "redis.setresp(3); local r = redis.call('get', 'ev:nothing'); return type(r)", "0"),
    ("EVAL", "local r = redis.call('get', 'ev:nothing'); return type(r)", "0"),
]


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_resp2_sequences(cachemere, redis_ref, name):
    assert_same(cachemere.port, redis_ref.port, SEQUENCES[name])


def test_resp3_replies(cachemere, redis_ref):
    assert_same(cachemere.port, redis_ref.port, RESP3_SEQUENCE, resp=3)


def test_resp2_downgrades_of_resp3_values(cachemere, redis_ref):
    assert_same(cachemere.port, redis_ref.port, RESP2_DOWNGRADES)


def test_command_getkeys_for_eval(cachemere, redis_ref):
    assert_same(cachemere.port, redis_ref.port, [
        ("COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "c"),
        ("COMMAND", "GETKEYS", "EVAL", "return 1", "0"),
        ("COMMAND", "GETKEYS", "EVALSHA_RO", "x", "1", "k"),
        ("COMMAND", "INFO", "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO"),
    ])
