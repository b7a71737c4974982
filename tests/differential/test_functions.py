"""FCALL / FCALL_RO / FUNCTION ...: Cachemere's raw reply bytes equal redis-server 7.0.15's.

Libraries are server-wide, so every sequence starts (and ends) with FUNCTION FLUSH on both session servers;
key arguments "fn:..." get a per-run prefix as in test_eval. Redis lists libraries (and a library's functions)
in hash order, so a FUNCTION LIST holding several of them is compared as sorted element lists (``Unordered``);
every other reply, errors with their positions included, must match byte for byte.
"""
import itertools
import os
import struct

import pytest

pytest.importorskip("lupa")

from engine.persistence._rdbfast import crc64, encode_string  # noqa: E402
from tests.support.diff import parse, run_sequence  # noqa: E402

_runs = itertools.count()


class Unordered(tuple):
    """A command whose reply is compared as sorted element lists."""


def normalise(value):
    """Lists sorted at every depth, maps (RESP3) included."""
    if isinstance(value, dict):
        return sorted(((normalise(k), normalise(v)) for k, v in value.items()), key=repr)
    if isinstance(value, list):
        return sorted((normalise(v) for v in value), key=repr)
    return value


def assert_same(ours, theirs, commands, resp=2):
    token = "fn%d-%d:" % (os.getpid(), next(_runs))
    commands = [("FUNCTION", "FLUSH")] + list(commands) + [("FUNCTION", "FLUSH")]
    sent = [tuple(token + a[3:] if isinstance(a, str) and a.startswith("fn:") else a for a in cmd)
            for cmd in commands]
    a = run_sequence(ours, sent, resp)
    b = run_sequence(theirs, sent, resp)
    for cmd, x, y in zip(commands, a, b):
        if x == y:
            continue
        if isinstance(cmd, Unordered):
            assert normalise(parse(x)) == normalise(parse(y)), (cmd, x, y)
        else:
            assert x == y, (cmd, x, y)


def lib(name, *functions):
    """Library code registering functions given as (name, body) with the positional form."""
    lines = ["#!lua name=%s" % name]
    for fname, body in functions:
        lines.append("redis.register_function('%s', function(keys, args) %s end)" % (fname, body))
    return "\n".join(lines)


def payload(body, version=10):
    """A FUNCTION DUMP payload around raw records: RDB version and CRC64, little endian."""
    data = body + struct.pack("<H", version)
    return data + struct.pack("<Q", crc64(data))


def record(code, compress=False):
    return b"\xf5" + encode_string(code.encode() if isinstance(code, str) else code, compress)


LIB_A = lib("libA", ("fa", "return 'A'"))
LIB_C = "#!lua name=libC\nredis.register_function('FA', function() return 'C' end)"
LONG_LIB = "#!lua name=longlib\n" + "".join(
    "redis.register_function('f%d', function() return 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa' end)\n" % i for i in range(20))
LOOP = "local i = 0 while true do i = i + 1 end"

RUNTIME_LIB = "\n".join([
    "#!lua name=rt",
    "local function helper(x) return x end",
    "local captured = redis.register_function",
    "redis.register_function('err1', function(keys, args) error('boom') end)",
    "redis.register_function('err2', function(keys, args) return redis.call('nosuch') end)",
    "redis.register_function('err3', function(keys, args) error({err='TBL x'}) end)",
    "redis.register_function('err4', function(keys, args) return nosuchglobal end)",
    "redis.register_function('keys', function(keys, args) return KEYS end)",
    "redis.register_function('argv', function(keys, args) return ARGV end)",
    "redis.register_function('g', function(keys, args) x = 1 end)",
    "redis.register_function('rf', function(keys, args) redis.register_function('zz', function() end) end)",
    "redis.register_function('rfc', function(keys, args) captured('zz', function() end) end)",
    "redis.register_function('rfx', function(keys, args) return type(redis.register_function) end)",
    "redis.register_function('set', function(keys, args) return redis.call('set', keys[1], args[1]) end)",
    "redis.register_function('ret', function(keys, args) return {1, 'a', {ok='fine'}, 2.5, true, false} end)",
    "redis.register_function('nret', function(keys, args) return end)",
    "redis.register_function('pc', function(keys, args) return redis.pcall('incr', keys[1]) end)",
    "redis.register_function('multi', function(keys, args) return redis.call('multi') end)",
    "redis.register_function('fc', function(keys, args) return redis.call('fcall', 'ret', '0') end)",
    "redis.register_function('ev', function(keys, args) return redis.call('eval', 'return 1', '0') end)",
    "redis.register_function('fl', function(keys, args) return redis.call('function', 'list') end)",
    "redis.register_function('fh', function(keys, args) return #redis.call('function', 'help') end)",
    "redis.register_function('helper', function(keys, args) return helper(args[1]) end)",
    "redis.register_function('resp3', function(keys, args) redis.setresp(3) return redis.call('hgetall', keys[1]) end)",
    "redis.register_function('two', function(keys, args) return 1, 2 end)",
    "redis.register_function('err5', function(keys, args) local t = nil; return t.x end)",
    "redis.register_function('shape', function(keys, args) return {#keys, #args, keys[1], args[1], args[#args]} end)",
    "redis.register_function('mutate', function(keys, args) keys[1] = 'x' table.insert(args, 'y') "
    "return {keys[1], args[#args]} end)",
    "redis.register_function('sha', function(keys, args) return redis.sha1hex('') end)",
    "redis.register_function('pcall_err', function(keys, args) local ok, e = pcall(redis.call, 'incr', keys[1]) "
    "return {tostring(ok), e} end)",
    "redis.register_function('sel', function(keys, args) redis.call('select', '3') "
    "return redis.call('set', keys[1], 'in3') end)",
    "redis.register_function('ls', function(keys, args) return loadstring('return 1 + 1')() end)",
    "redis.register_function('lsg', function(keys, args) return loadstring('return KEYS')() end)",
    "redis.register_function('genv', function(keys, args) local out = {} for i, n in ipairs({'_G', "
    "'__redis__err__handler', 'loadstring', 'cjson', 'bit', 'struct', 'cmsgpack', 'pcall', 'print', 'getfenv', "
    "'os', 'debug', 'KEYS', 'ARGV'}) do out[i] = n .. '=' .. type(rawget(_G, n)) end return out end)",
    "redis.register_function('libs', function(keys, args) return {cjson.encode({1, 2}), bit.band(7, 3), "
    "struct.pack('>I2', 258), cmsgpack.unpack(cmsgpack.pack(5))} end)",
])

SEQUENCES = {
    "load and call": [
        ("FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('f1', function(keys, args) "
                             "return {keys, args} end)"),
        ("FCALL", "f1", "2", "a", "b", "c"), ("FCALL", "F1", "0"), ("FCALL", "nosuch", "0"),
        ("FCALL", "f1", "x"), ("FCALL", "f1", "-1"), ("FCALL", "f1", "5", "a"), ("FCALL", "f1", " 1", "a"),
        ("FCALL", "f1", "01", "a"), ("FCALL", "f1", "-0"), ("FCALL", "f1", "99999999999999999999"),
        ("FCALL", "nosuch", "x"), ("FCALL", "f1"), ("FCALL",), ("FCALL_RO", "f1", "0"), ("FCALL_RO", "f1", "x"),
        ("FUNCTION", "LOAD", lib("lib1", ("f1", "return 1"))),
        ("FUNCTION", "LOAD", "REPLACE", lib("lib1", ("f1", "return 2"))), ("FCALL", "f1", "0"),
        ("FUNCTION", "LOAD", "replace", "replace", lib("lib1", ("f1", "return 3"))), ("FCALL", "f1", "0"),
        ("FUNCTION", "LOAD", "BOGUS", lib("x", ("fx", "return 1"))), ("FUNCTION", "LOAD", "REPLACE"),
        ("FUNCTION", "LOAD"), ("FUNCTION", "LOAD", "#!lua name=up\nredis.register_function('F2', function() end)"),
        ("FCALL", "f2", "0"), ("FCALL", "F2", "0"),
        ("FUNCTION", "LOAD", lib("other", ("f1", "return 1"))),
        ("FUNCTION", "LOAD", lib("other", ("F1", "return 1"))),
        ("FUNCTION", "LOAD", "REPLACE", lib("other", ("f1", "return 1"))),
        ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nredis.register_function('F1', function() return 'F' end)"),
        ("FCALL", "f1", "0"),
    ],
    "library metadata": [
        ("FUNCTION", "LOAD", "return 1"), ("FUNCTION", "LOAD", "#!lua"), ("FUNCTION", "LOAD", "#!lua\n"),
        ("FUNCTION", "LOAD", "#!lua name=\n"), ("FUNCTION", "LOAD", "#!lua name=a-b\n"),
        ("FUNCTION", "LOAD", "#!lua name=x name=y\n"), ("FUNCTION", "LOAD", "#!lua foo=bar\n"),
        ("FUNCTION", "LOAD", "#!py name=p\n"), ("FUNCTION", "LOAD", "#!py name=a-b\n"),
        ("FUNCTION", "LOAD", "#! lua name=p\n"), ("FUNCTION", "LOAD", '#!lua name="q q"\n'),
        ("FUNCTION", "LOAD", '#!lua name="qq\n'), ("FUNCTION", "LOAD", "#!lua name=empty\n"),
        ("FUNCTION", "LOAD", "#!lua name=empty\nlocal x = 1"), ("FUNCTION", "LOAD", "#!lua name=x \n"),
        ("FUNCTION", "LOAD", "#!lua NAME=up\nredis.register_function('up', function() return 'up' end)"),
        ("FUNCTION", "LOAD", "#!LUA name=up2\nredis.register_function('up2', function() return 'up' end)"),
        ("FUNCTION", "LOAD", "#!lua   name=x2  \nredis.register_function('x2', function() end)"),
        ("FUNCTION", "LOAD", "#!lua name=x3\r\nredis.register_function('x3', function() end)"),
        ("FUNCTION", "LOAD", '#!lua name="quoted"\nredis.register_function(\'x4\', function() end)'),
        ("FUNCTION", "LOAD", "#!lua name=syn\nreturn +"), ("FUNCTION", "LOAD", "#!lua name=syn\n\x1bLua"),
        ("FUNCTION", "LOAD", "#!lua name=flagged flags=no-writes\n"),
        Unordered(("FUNCTION", "LIST")),
    ],
    "register_function": [
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function()"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('a','b','c')"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('a')"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function({}, function() end)"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('a', 'x')"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('a-b', function() end)"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('', function() end)"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('a', function() end)\n"
                             "redis.register_function('a', function() end)"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{function_name='x'}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{callback=function() end}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{function_name={}, callback=function() end}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{function_name='x', callback='y'}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{function_name='x', callback=function() end, "
                             "flags='no-writes'}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{function_name='x', callback=function() end, "
                             "flags={'bogus'}}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{function_name='x', callback=function() end, "
                             "flags={1}}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{function_name='x', callback=function() end, "
                             "flags={{}}}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{function_name='x', callback=function() end, "
                             "description={}}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{function_name='x', callback=function() end, "
                             "other=1}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{'x', function() end}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function{[true]=1}"),
        ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('y', function() end, 1)"),
        ("FUNCTION", "LOAD", "#!lua name=l\nlocal t = {} redis.register_function('y', function() end) "
                             "redis.register_function(t)"),
        ("FUNCTION", "LIST"),
        # the accepted forms, each listed on its own
        ("FUNCTION", "LOAD", "#!lua name=p1\nredis.register_function(1, function() return 'one' end)"),
        ("FUNCTION", "LIST"), ("FCALL", "1", "0"), ("FUNCTION", "DELETE", "p1"),
        ("FUNCTION", "LOAD", "#!lua name=t1\nredis.register_function{function_name='a', callback=function() end, "
                             "flags={'no-writes','allow-oom'}, description='desc'}"),
        ("FUNCTION", "LIST"), ("FUNCTION", "DELETE", "t1"),
        ("FUNCTION", "LOAD", "#!lua name=t2\nredis.register_function{function_name=1, callback=function() end, "
                             "description=5}"),
        ("FUNCTION", "LIST"), ("FUNCTION", "DELETE", "t2"),
        ("FUNCTION", "LOAD", "#!lua name=t3\nredis.register_function{FUNCTION_NAME='x2', Callback=function() end, "
                             "FLAGS={'NO-WRITES'}}"),
        ("FUNCTION", "LIST"), ("FUNCTION", "DELETE", "t3"),
        ("FUNCTION", "LOAD", "#!lua name=t4\nredis.register_function{function_name='x3', callback=function() end, "
                             "flags={'no-writes', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys', 'allow-oom'}}"),
        ("FUNCTION", "LIST", "WITHCODE"), ("FUNCTION", "DELETE", "t4"),
        ("FUNCTION", "LOAD", "#!lua name=t5\nredis.register_function{function_name='x5', callback=function() end, "
                             "flags={}}"),
        ("FUNCTION", "LIST"),
    ],
    "load-time API": [
        ("FUNCTION", "LOAD", "#!lua name=err\nerror('boom')"),
        ("FUNCTION", "LOAD", "#!lua name=err\nredis.call('ping')"),
        ("FUNCTION", "LOAD", "#!lua name=err\nreturn redis.call('ping')"),
        ("FUNCTION", "LOAD", "#!lua name=err\nlocal x = string.len('a')"),
        ("FUNCTION", "LOAD", "#!lua name=err\nx = 1"),
        ("FUNCTION", "LOAD", "#!lua name=err\nlocal t = {} t.x = 1 return #KEYS"),
        ("FUNCTION", "LOAD", "#!lua name=err\nredis.register_function('y', print)"),
        ("FUNCTION", "LOAD", "#!lua name=err\nredis.setresp(3)"),
        ("FUNCTION", "LOAD", "#!lua name=err\nredis.pcall('ping')"),
        ("FUNCTION", "LOAD", "#!lua name=err\nredis.sha1hex('ping')"),
        ("FUNCTION", "LOAD", "#!lua name=err\nlocal a = redis.register_function; redis.nope = 1"),
        ("FUNCTION", "LOAD", "#!lua name=err\nredis.register_function = 1"),
        ("FUNCTION", "LOAD", "#!lua name=err\nlocal x = _G"),
        ("FUNCTION", "LOAD", "#!lua name=err\nlocal x = redis.breakpoint"),
        ("FUNCTION", "LOAD", "#!lua name=err\nlocal x = redis.log(1)"),
        ("FUNCTION", "LOAD", "#!lua name=err\nredis.register_function('x', function() end) redis.log(1)"),
        ("FUNCTION", "LOAD", "#!lua name=err\nlocal x = nil\nlocal y = x.field"),
        ("FUNCTION", "LOAD", "#!lua name=ok\nredis.log(redis.LOG_DEBUG, 'loading', 1)\n"
                             "local v = redis.REDIS_VERSION .. redis.REDIS_VERSION_NUM .. redis.LOG_WARNING\n"
                             "redis.register_function('v', function() return v end)"),
        ("FCALL", "v", "0"),
        ("FUNCTION", "LOAD", "#!lua name=loop\n" + LOOP),
        ("FUNCTION", "LIST", "LIBRARYNAME", "loop"),
    ],
    "runtime": [
        ("FUNCTION", "LOAD", RUNTIME_LIB),
        ("FCALL", "err1", "0"), ("FCALL", "err2", "0"), ("FCALL", "err3", "0"), ("FCALL", "err4", "0"),
        ("FCALL", "keys", "0"), ("FCALL", "argv", "0"), ("FCALL", "g", "0"), ("FCALL", "rf", "0"),
        ("FCALL", "rfc", "0"), ("FCALL", "rfx", "0"), ("FCALL", "set", "1", "fn:s", "v"), ("FCALL", "ret", "0"),
        ("FCALL", "nret", "0"), ("FCALL", "pc", "1", "fn:s"), ("FCALL", "multi", "0"), ("FCALL", "fc", "0"),
        ("FCALL", "ev", "0"), ("FCALL", "fl", "0"), ("FCALL", "fh", "0"), ("FCALL", "helper", "0", "hi"),
        ("HSET", "fn:h", "a", "1"), ("FCALL", "resp3", "1", "fn:h"), ("FCALL", "two", "0"), ("FCALL", "err5", "0"),
        ("FCALL", "shape", "2", "a", "b", "c", "d"), ("FCALL", "shape", "0"), ("FCALL", "mutate", "1", "a", "b"),
        ("FCALL", "sha", "0"), ("FCALL", "pcall_err", "1", "fn:s"), ("FCALL", "sel", "1", "fn:db"),
        ("GET", "fn:db"), ("SELECT", "3"), ("GET", "fn:db"), ("DEL", "fn:db"), ("SELECT", "0"),
        ("FCALL", "ls", "0"), ("FCALL", "lsg", "0"), ("FCALL", "genv", "0"), ("FCALL", "libs", "0"),
        ("FCALL", "shape", "3", *["k%d" % i for i in range(3)], *["a%d" % i for i in range(1200)]),
        ("EVAL", "return type(redis.register_function)", "0"),
        ("EVAL", "redis.register_function('x', function() end)", "0"),
        ("EVAL", "return redis.call('fcall', 'ret', '0')", "0"),
        # SCRIPT FLUSH leaves the libraries alone
        ("SCRIPT", "FLUSH"), ("FCALL", "ret", "0"),
        # library functions are C functions in redis: accepted as callbacks, called with (keys, args)
        ("FUNCTION", "LOAD", "#!lua name=cb\nredis.register_function('logcb', redis.log)\n"
         "redis.register_function{function_name='shacb', callback=redis.sha1hex}"),
        ("FCALL", "logcb", "0"), ("FCALL", "shacb", "0"), ("FUNCTION", "DELETE", "cb"),
    ],
    "read-only": [
        ("FUNCTION", "LOAD", "\n".join([
            "#!lua name=ro",
            "redis.register_function('set', function(keys, args) return redis.call('set', keys[1], args[1]) end)",
            "redis.register_function{function_name='roset', callback=function(keys, args) "
            "return redis.call('set', keys[1], args[1]) end, flags={'no-writes'}}",
            "redis.register_function{function_name='roget', callback=function(keys, args) "
            "return redis.call('get', keys[1]) end, flags={'no-writes'}}",
            "redis.register_function{function_name='ropcall', callback=function(keys, args) "
            "return redis.pcall('incr', keys[1]) end, flags={'no-writes'}}",
            "redis.register_function{function_name='oomok', callback=function(keys, args) "
            "return redis.call('set', keys[1], 'o') end, flags={'allow-oom'}}",
        ])),
        ("FCALL", "set", "1", "fn:k", "v"), ("FCALL", "roset", "1", "fn:k", "v"),
        ("FCALL_RO", "roset", "1", "fn:k", "v"), ("FCALL_RO", "roget", "1", "fn:k"), ("FCALL", "roget", "1", "fn:k"),
        ("FCALL_RO", "set", "1", "fn:k", "v"), ("FCALL_RO", "oomok", "1", "fn:k"), ("FCALL", "oomok", "1", "fn:k"),
        ("FCALL", "ropcall", "1", "fn:k"), ("GET", "fn:k"),
    ],
    "list": [
        ("FUNCTION", "LIST"),
        ("FUNCTION", "LOAD", lib("mylib", ("f", "return 1"))),
        ("FUNCTION", "LIST", "WITHCODE"), ("FUNCTION", "LIST", "withcode", "LIBRARYNAME", "my*"),
        ("FUNCTION", "LIST", "LIBRARYNAME", "MY*"), ("FUNCTION", "LIST", "LIBRARYNAME", "x*"),
        ("FUNCTION", "LIST", "LIBRARYNAME", "mylib", "WITHCODE"), ("FUNCTION", "LIST", "LIBRARYNAME"),
        ("FUNCTION", "LIST", "WITHCODE", "WITHCODE"), ("FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"),
        ("FUNCTION", "LIST", "bogus"), ("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME"),
        ("FUNCTION", "LOAD", lib("mylib2", ("g", "return 1"))), ("FUNCTION", "LOAD", lib("other", ("h", "return 1"))),
        Unordered(("FUNCTION", "LIST")), Unordered(("FUNCTION", "LIST", "LIBRARYNAME", "my*", "WITHCODE")),
        ("FUNCTION", "LIST", "LIBRARYNAME", "oth?r"), ("FUNCTION", "LIST", "LIBRARYNAME", "[o]*"),
        ("FUNCTION", "STATS"),
    ],
    "delete and flush": [
        ("FUNCTION", "LOAD", lib("mylib", ("f", "return 1"), ("g", "return 2"))),
        ("FUNCTION", "STATS"), ("FUNCTION", "DELETE", "nosuch"), ("FUNCTION", "DELETE", "MYLIB"),
        ("FUNCTION", "DELETE"), ("FUNCTION", "DELETE", "a", "b"), ("FUNCTION", "DELETE", "mylib"),
        ("FUNCTION", "DELETE", "mylib"), ("FCALL", "f", "0"), ("FUNCTION", "STATS"),
        ("FUNCTION", "LOAD", lib("mylib", ("f", "return 1"))), ("FUNCTION", "FLUSH", "bogus"),
        ("FUNCTION", "FLUSH", "sync", "x"), ("FUNCTION", "FLUSH", "a", "b", "c"), ("FUNCTION", "LIST"),
        ("FUNCTION", "FLUSH", "ASYNC"), ("FUNCTION", "LIST"),
        ("FUNCTION", "LOAD", lib("mylib", ("f", "return 1"))), ("FUNCTION", "FLUSH", "sync"), ("FUNCTION", "LIST"),
        ("FUNCTION", "LOAD", lib("mylib", ("f", "return 1"))), ("FUNCTION", "FLUSH"), ("FCALL", "f", "0"),
    ],
    "dump and restore": [
        ("FUNCTION", "DUMP"), ("FUNCTION", "LOAD", LIB_A), ("FUNCTION", "DUMP"),
        ("FUNCTION", "LOAD", LONG_LIB), ("FUNCTION", "DELETE", "libA"), ("FUNCTION", "DUMP"),
        ("FUNCTION", "DELETE", "longlib"), ("FUNCTION", "LOAD", LIB_A),
        ("FUNCTION", "RESTORE", payload(record(LIB_A))), ("FUNCTION", "RESTORE", payload(record(LIB_A)), "REPLACE"),
        ("FUNCTION", "RESTORE", payload(record(LIB_A)), "append"),
        ("FUNCTION", "RESTORE", payload(record(LIB_A)), "FLUSH"), ("FCALL", "fa", "0"),
        ("FUNCTION", "RESTORE", payload(record(LIB_C))), ("FUNCTION", "RESTORE", payload(record(LIB_C)), "REPLACE"),
        ("FUNCTION", "RESTORE", payload(record(LIB_C) + record(LIB_A)), "REPLACE"), ("FCALL", "fa", "0"),
        ("FUNCTION", "RESTORE", payload(record(LIB_A)), "bogus"),
        ("FUNCTION", "RESTORE", payload(record(LIB_A)), "FLUSH", "x"), ("FUNCTION", "RESTORE"),
        ("FUNCTION", "RESTORE", "abc"), ("FUNCTION", "RESTORE", "0123456789"),
        ("FUNCTION", "RESTORE", payload(b"\x00")), ("FUNCTION", "RESTORE", payload(b"\xf6")),
        ("FUNCTION", "RESTORE", payload(record(LIB_A), 11)), ("FUNCTION", "RESTORE", payload(record(LIB_A), 9)),
        ("FUNCTION", "RESTORE", payload(record("return 1"))),
        ("FUNCTION", "RESTORE", payload(record("#!lua name=dd\nreturn +"))),
        ("FUNCTION", "RESTORE", payload(record("#!lua name=dd\nredis.register_function('dd', function() end)") * 2)),
        ("FUNCTION", "RESTORE", payload(b"\xf5\x40\x64abc")), ("FUNCTION", "RESTORE", payload(b"\xf5\x05abc")),
        ("FUNCTION", "RESTORE", payload(b"\xf5\x0cabc")), ("FUNCTION", "RESTORE", payload(b"\xf5")),
        ("FUNCTION", "RESTORE", payload(record(LIB_A))[:-1] + b"x"),
        ("FUNCTION", "RESTORE", payload(record(LONG_LIB.replace("longlib", "l2").replace("'f", "'g"), True))),
        ("FCALL", "g3", "0"), ("FUNCTION", "DELETE", "libA"), ("FUNCTION", "DUMP"),
        # 7.0 release-candidate records: name, engine, description flag (+ description), code
        ("FUNCTION", "RESTORE", payload(b"\xf6" + encode_string(b"pglib", False))),
        ("FUNCTION", "RESTORE", payload(b"\xf6" + encode_string(b"pglib", False) + encode_string(b"LUA", False)
                                        + b"\x01")),
        ("FUNCTION", "RESTORE", payload(b"\xf6" + encode_string(b"pglib", False) + encode_string(b"LUA", False)
                                        + b"\x01" + encode_string(b"d", False))),
        ("FUNCTION", "RESTORE", payload(b"\xf6" + encode_string(b"pglib", False) + encode_string(b"LUA", False)
                                        + b"\x00" + encode_string(b"redis.register_function('pg', function() "
                                                                  b"return 'pg' end)", False))),
        ("FCALL", "pg", "0"), ("FUNCTION", "LIST", "LIBRARYNAME", "pglib", "WITHCODE"),
        ("FUNCTION", "RESTORE", payload(b"")), ("FUNCTION", "RESTORE", payload(b""), "FLUSH"), ("FUNCTION", "LIST"),
        ("FUNCTION", "STATS"),
    ],
    "help, stats, kill, arity": [
        ("FUNCTION", "HELP"), ("FUNCTION", "HELP", "x"), ("FUNCTION", "STATS"), ("FUNCTION", "STATS", "x"),
        ("FUNCTION", "KILL"), ("FUNCTION", "KILL", "x"), ("FUNCTION", "DUMP", "x"), ("FUNCTION", "NOPE"),
        ("FUNCTION",), ("function", "help"), ("SCRIPT", "KILL"),
    ],
    "transaction": [
        ("FUNCTION", "LOAD", lib("tx", ("w", "return redis.call('incr', keys[1])"))),
        ("MULTI",), ("FCALL", "w", "1", "fn:n"), ("FCALL", "w", "x"), ("FCALL", "nosuch", "0"),
        ("FUNCTION", "LOAD", lib("tx2", ("w2", "return 2"))), ("FCALL", "w2", "0"), ("EXEC",),
        ("MULTI",), ("FCALL", "w"), ("EXEC",), ("GET", "fn:n"),
    ],
}

RESP3_SEQUENCE = [
    ("FUNCTION", "LOAD", "\n".join([
        "#!lua name=r3",
        "redis.register_function{function_name='h', callback=function(keys, args) return redis.call('hgetall', "
        "keys[1]) end, flags={'no-writes', 'allow-stale'}, description='hash'}",
        "redis.register_function('h3', function(keys, args) redis.setresp(3) return redis.call('hgetall', keys[1]) end)",
        "redis.register_function('t', function(keys, args) return {double=1.5} end)",
        "redis.register_function('b', function(keys, args) redis.setresp(3) return {true, false} end)",
    ])),
    ("HSET", "fn:h", "f", "v"), ("FCALL", "h", "1", "fn:h"), ("FCALL", "h3", "1", "fn:h"), ("FCALL", "t", "0"),
    ("FCALL", "b", "0"), Unordered(("FUNCTION", "LIST")), ("FUNCTION", "STATS"), ("FUNCTION", "HELP"),
    ("FUNCTION", "LIST", "LIBRARYNAME", "nomatch"),
]


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_resp2_sequences(cachemere, redis_ref, name):
    assert_same(cachemere.port, redis_ref.port, SEQUENCES[name])


def test_resp3_replies(cachemere, redis_ref):
    assert_same(cachemere.port, redis_ref.port, RESP3_SEQUENCE, resp=3)


def test_command_introspection_for_functions(cachemere, redis_ref):
    assert_same(cachemere.port, redis_ref.port, [
        ("COMMAND", "GETKEYS", "FCALL", "f", "2", "a", "b", "c"), ("COMMAND", "GETKEYS", "FCALL", "f", "0"),
        ("COMMAND", "GETKEYS", "FCALL_RO", "f", "1", "k"), ("COMMAND", "INFO", "FCALL", "FCALL_RO"),
        ("COMMAND", "INFO", "FUNCTION|LOAD", "FUNCTION|KILL", "FUNCTION|STATS", "FUNCTION|RESTORE"),
        ("COMMAND", "DOCS", "FCALL"),
    ])
