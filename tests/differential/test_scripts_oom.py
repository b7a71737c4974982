"""Scripts and functions under OOM (`maxmemory 1`) against redis-server 7.0.15, byte for byte (issue 17): a script
without flags gets the OOM error from its first write (redis.call raises it with the script position, pcall returns
it), reads run; shebang scripts are refused before running unless `no-writes` or `allow-oom`; EVAL_RO and FCALL_RO;
functions by their flags (deny-oom unless no-writes/allow-oom); FUNCTION LOAD / RESTORE / RESTORE of a key refused,
FUNCTION DELETE / FLUSH allowed; inside MULTI everything but EXEC/DISCARD/QUIT/RESET is refused, and EXEC of a
queue holding a denyoom command aborts; `CONFIG SET maxmemory 0` restores service."""
from tests.support.servers import RawConnection, start_cachemere, start_redis

LIB = ("#!lua name=lib\n"
       "redis.register_function{function_name='ro', callback=function(k,a) return redis.call('get',k[1]) end, flags={'no-writes'}}\n"
       "redis.register_function('rw', function(k,a) return redis.call('set',k[1],'x') end)\n"
       "redis.register_function('rd', function(k,a) return redis.call('get',k[1]) end)\n"
       "redis.register_function{function_name='oom', callback=function(k,a) return redis.call('set',k[1],'y') end, flags={'allow-oom'}}\n"
       "redis.register_function{function_name='oomro', callback=function(k,a) return redis.call('set',k[1],'y') end, flags={'allow-oom', 'no-writes'}}\n")
SEQ = [("SET", "k", "v"), ("FUNCTION", "LOAD", LIB), ("DUMP", "k"), ("CONFIG", "SET", "maxmemory", "1"),
 ("EVAL", "return redis.call('set',KEYS[1],'a')", "1", "k"),
 ("EVAL", "return redis.pcall('set',KEYS[1],'a')", "1", "k"),
 ("EVAL", "local v = redis.call('get',KEYS[1]); return redis.call('set',KEYS[1],'a')", "1", "k"),
 ("EVAL", "return redis.call('get',KEYS[1])", "1", "k"),
 ("EVAL", "return redis.call('incr','cnt')", "0"),
 ("EVAL", "return redis.call('del','k2')", "0"),
 ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])", "1", "k"),
 ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set',KEYS[1], 'z')", "1", "k"),
 ("EVAL", "#!lua\nreturn redis.call('get',KEYS[1])", "1", "k"),
 ("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set',KEYS[1],'b')", "1", "k"),
 ("EVAL", "#!lua flags=allow-oom,no-writes\nreturn redis.call('get',KEYS[1])", "1", "k"),
 ("EVAL_RO", "return redis.call('get',KEYS[1])", "1", "k"),
 ("EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])", "1", "k"),
 ("EVAL_RO", "#!lua\nreturn redis.call('get',KEYS[1])", "1", "k"),
 ("SCRIPT", "LOAD", "return redis.call('set',KEYS[1],'c')"),
 ("EVALSHA", "e2b8cbfb9a1d3c0ca0d0c2c80dc2f6b0ea7d4b48", "1", "k"),
 ("FCALL", "ro", "1", "k"), ("FCALL", "rw", "1", "k"), ("FCALL", "rd", "1", "k"), ("FCALL", "oom", "1", "k"), ("FCALL", "oomro", "1", "k"),
 ("FCALL_RO", "ro", "1", "k"), ("FCALL_RO", "rd", "1", "k"),
 ("FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function('f2', function() return 1 end)"),
 ("FUNCTION", "LOAD", "REPLACE", LIB),
 ("FUNCTION", "DUMP"),
 ("RESTORE", "k3", "0", "\x00\x01v\n\x00\xd3\x9a\xf6\xa4\x0c\xc9\x1a\xf8"),
 ("FUNCTION", "RESTORE", "\xf5\xc3@X@]\x1f#!lua name=lib3\n\rredis.registe\rr_function('f3'\x0c,function() ret\x15urn 3 end)\n\n\x00\xbe\xb1\xde\x13\x10Hg\x8c"),
 ("FUNCTION", "DELETE", "lib"), ("FUNCTION", "FLUSH"), ("SCRIPT", "FLUSH"),
 ("MULTI",), ("EVAL", "return redis.call('get',KEYS[1])", "1", "k"), ("EXEC",),
 ("MULTI",), ("EVAL", "return 1", "0"), ("SET", "a", "b"), ("EXEC",),
 ("CONFIG", "SET", "maxmemory", "0"),
 ("EVAL", "return redis.call('set',KEYS[1],'a')", "1", "k"), ("GET", "k")]


def _run(srv):
    c = RawConnection(srv.port)
    other = RawConnection(srv.port)
    try:
        res = []
        for cmd in SEQ:
            res.append(c.command(*cmd))
        # a queue built before the OOM holding a denyoom command: EXEC aborts with the OOM error
        for cmd in (("MULTI",), ("SET", "q", "1"), ("GET", "q")):
            res.append(c.command(*cmd))
        res.append(other.command("CONFIG", "SET", "maxmemory", "1"))
        for cmd in (("EXEC",), ("MULTI",), ("GET", "q"), ("DISCARD",), ("CONFIG", "SET", "maxmemory", "0"),
                    ("MULTI",), ("GET", "q"), ("EXEC",)):
            res.append(c.command(*cmd))
        return res
    finally:
        c.close()
        other.close()


def test_scripts_under_oom_match_redis():
    outs = []
    for start in (start_cachemere, start_redis):
        srv = start()
        try:
            outs.append(_run(srv))
        finally:
            srv.stop()
    ours, theirs = outs
    diffs = [(i, a, b) for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    assert not diffs, diffs
    assert sum(b"OOM command not allowed" in x for x in ours) >= 15
    assert ours[-1] == b"*1\r\n$-1\r\n"
