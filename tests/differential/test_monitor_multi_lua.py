"""MONITOR against redis-server 7.0.15, byte for byte with the timestamps masked (issue 17): redis 7.0 feeds a
command to the monitors after it ran (so EXEC follows the commands of its body, shown as they execute, and
SELECT shows the db it selected); EVAL/FCALL come before the commands their script runs, which carry the
"lua" source; queued commands appear at EXEC, a DISCARDed or EXECABORTed body never; admin commands inside
MULTI are hidden but EXEC is shown; AUTH/HELLO are redacted; binary arguments are quoted as redis sdscatrepr."""
import re

from tests.support.servers import RawConnection, start_cachemere, start_redis

SEQ = [("SET", "a", "1"), ("MULTI",), ("SET", "b", "2"), ("INCR", "a"), ("EXEC",),
       ("EVAL", "redis.call('set','c','3'); return redis.call('get','c')", "0"),
       ("SELECT", "2"), ("EVAL", "return redis.pcall('incr','x')", "1", "x"),
       ("MULTI",), ("EVAL", "return redis.call('ping')", "0"), ("GET", "a"), ("EXEC",),
       ("MULTI",), ("SET", "q"), ("EXEC",),
       ("MULTI",), ("GET", "a"), ("DISCARD",),
       ("MULTI",), ("SET", "z", "1"), ("CONFIG", "SET", "maxmemory-samples", "5"), ("EXEC",),
       ("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('f', function(k,a) return redis.call('set', k[1], a[1]) end)"),
       ("FCALL", "f", "1", "fk", "fv"), ("AUTH", "secret"), ("HELLO", "2", "AUTH", "default", "pw"),
       ("EVAL", "return redis.call('auth','x')", "0"), ("SELECT", "0"),
       ("SET", "bin", "a\"b\\c\x01\r\n d\xff")]


def _monitor_lines(start):
    srv = start()
    try:
        m = RawConnection(srv.port)
        assert m.command("MONITOR") == b"+OK\r\n"
        c = RawConnection(srv.port)
        for cmd in SEQ:
            c.command(*cmd)
        out = m.read_until_quiet(0.3)
        c.close()
        m.close()
    finally:
        srv.stop()
    out = re.sub(rb"\+\d+\.\d{6} \[(\d+) 127\.0\.0\.1:\d+\]", rb"+T [\1 ADDR]", out)
    return re.sub(rb"\+\d+\.\d{6} \[(\d+) lua\]", rb"+T [\1 lua]", out).split(b"\r\n")


def test_monitor_multi_and_lua_match_redis():
    ours, theirs = _monitor_lines(start_cachemere), _monitor_lines(start_redis)
    assert ours == theirs
    assert b'+T [0 ADDR] "INCR" "a"' in ours and ours.index(b'+T [0 ADDR] "EXEC"') > ours.index(b'+T [0 ADDR] "INCR" "a"')
    assert b'+T [2 ADDR] "SELECT" "2"' in ours and b'+T [0 lua] "set" "c" "3"' in ours
