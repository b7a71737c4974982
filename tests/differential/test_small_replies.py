"""Item 4 of issue 17: small reply differences, each against redis-server 7.0.15 byte for byte."""
import redis

from tests.support.diff import assert_same
from tests.support.servers import RawConnection, encode


def test_numkeys_limit_and_float_errors(cachemere, redis_ref):
    cmds = []
    for nk in ["x", "0", "-1", "99999999999999999999", "5"]:
        cmds += [["SINTERCARD", nk, "sr:a"], ["ZINTERCARD", nk, "sr:a"], ["LMPOP", nk, "sr:a", "LEFT"],
                 ["ZMPOP", nk, "sr:a", "MIN"], ["EVAL", "return 1", nk]]
    for lim in ["x", "-1", "0"]:
        cmds += [["SINTERCARD", "1", "sr:a", "LIMIT", lim], ["ZINTERCARD", "1", "sr:a", "LIMIT", lim]]
    cmds += [["DEL", "sr:h", "sr:a"], ["HSET", "sr:h", "f", "1"]]
    cmds += [["HINCRBYFLOAT", "sr:h", "f", v] for v in ["inf", "-inf", "+inf", "INFINITY", "1e5000", "nan", "0x10"]]
    cmds += [["HSET", "sr:h", "g", "inf"], ["HINCRBYFLOAT", "sr:h", "g", "1"], ["HGETALL", "sr:h"], ["DEL", "sr:h"]]
    assert_same(cachemere.port, redis_ref.port, cmds)


def test_xread_block_from_script_keeps_the_typed_name(cachemere, redis_ref):
    cmds = [["EVAL", "return redis.pcall('%s','BLOCK','0','streams','s','$')" % name, "0"]
            for name in ("xread", "XREAD", "XrEaD")]
    cmds += [["EVAL", "return redis.pcall('%s','GROUP','g','c','BLOCK','0','streams','s','>')" % name, "0"]
             for name in ("xreadgroup", "XREADGROUP")]
    cmds += [["EVAL", "return redis.call('xread','block','0','streams','s','$')", "0"]]
    assert_same(cachemere.port, redis_ref.port, cmds)


def test_lua_conversions_and_script_flush(cachemere, redis_ref):
    cmds = [
        ["EVAL", "local t={} for i=1,8000 do t[i]=tostring(i) end return #{unpack(t)}", "0"],
        ["EVAL", "local t={'del'} for i=1,7999 do t[i+1]='sr:k'..i end return redis.call(unpack(t))", "0"],
        ["EVAL", "local r = redis.call('set','sr:k','v') return {type(r), r['ok']}", "0"],
        ["EVAL", "local r = redis.call('ping') return {type(r), r['ok']}", "0"],
        ["EVAL", "local r = redis.pcall('get') return {type(r), r['err']}", "0"],
        ["EVAL", "local t = setmetatable({}, {__index=function(t,k) return redis.call('get','sr:'..k) end}) "
                 "return t.k", "0"],
        ["SCRIPT", "FLUSH", "ASYNC"], ["SCRIPT", "FLUSH", "SYNC"], ["SCRIPT", "FLUSH", "FOO"],
        ["SCRIPT", "FLUSH", "ASYNC", "SYNC"], ["DEL", "sr:k"],
    ]
    assert_same(cachemere.port, redis_ref.port, cmds)


def _smove_events(port):
    a, sub = RawConnection(port), RawConnection(port)
    try:
        a.command("DEL", "sr:src", "sr:dst", "sr:x")     # before subscribing: earlier tests may have left them
        a.command("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.command("PSUBSCRIBE", "__key*__:*")
        a.send(b"".join(encode(*c) for c in (
            ["SADD", "sr:src", "m", "n"], ["SADD", "sr:dst", "m"], ["SMOVE", "sr:src", "sr:dst", "m"],
            ["SMOVE", "sr:src", "sr:dst", "n"], ["SMOVE", "sr:dst", "sr:dst", "m"], ["SMOVE", "sr:x", "sr:dst", "m"],
            ["DEL", "sr:dst"])))
        replies = a.read_until_quiet(0.15)
        return replies, sub.read_until_quiet(0.2)
    finally:
        a.command("CONFIG", "SET", "notify-keyspace-events", "")
        a.close()
        sub.close()


def test_smove_notifies_sadd_only_on_a_real_addition(cachemere, redis_ref):
    assert _smove_events(cachemere.port) == _smove_events(redis_ref.port)


def test_used_memory_lua_does_not_grow_per_eval(cachemere):
    r = redis.Redis(port=cachemere.port)
    for _ in range(100):
        r.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, "sr:k", "v" * 100)
    mid = r.info("memory")["used_memory_lua"]
    for _ in range(600):
        r.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, "sr:k", "v" * 100)
    end = r.info("memory")["used_memory_lua"]
    assert end <= mid * 1.15, (mid, end)
    r.delete("sr:k")
