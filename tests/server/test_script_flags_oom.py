"""Shebang flags and maxmemory, compared with redis-server 7.0.15: a script that declares flags is checked
by them before it runs (OOM without allow-oom, *_RO without no-writes, for EVAL, EVALSHA and FCALL); a
script without a shebang has its deny-oom commands refused as it runs, until its first write."""
import redis

from tests.support.servers import start_cachemere, start_redis

LIBRARY = ("#!lua name=t\n"
           "redis.register_function{function_name='ro', callback=function() return 1 end, flags={'no-writes'}}\n"
           "redis.register_function{function_name='rw', callback=function(k) return redis.call('set', k[1], 'v') end}\n"
           "redis.register_function{function_name='oom', callback=function() return 3 end, flags={'allow-oom'}}")

UNDER_OOM = [
    ("EVAL", "#!lua flags=no-writes\nreturn 1", 0),
    ("EVAL", "#!lua\nreturn 1", 0),
    ("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', 'k', 'v')", 0),
    ("EVAL", "return 1", 0),
    ("EVAL", "return redis.call('set', 'k', 'v')", 0),
    ("EVAL", "return redis.pcall('set', 'k', 'v')", 0),
    ("EVAL", "redis.call('del', 'nokey') return redis.call('set', 'k2', 'v')", 0),   # written first: allowed
    ("EVAL", "return redis.call('get', 'big') ~= nil", 0),
    ("EVAL_RO", "#!lua\nreturn 1", 0),
    ("EVALSHA", "@sha", 0), ("EVALSHA_RO", "@sha", 0),
    ("FCALL", "ro", 0), ("FCALL", "rw", 1, "k3"), ("FCALL", "oom", 0), ("FCALL_RO", "rw", 1, "k3"),
    ("FCALL_RO", "ro", 0),
]

WITHOUT_LIMIT = [
    ("EVAL_RO", "#!lua\nreturn 1", 0),
    ("EVAL_RO", "#!lua flags=no-writes\nreturn 1", 0),
    ("EVAL_RO", "#!lua flags=allow-oom\nreturn redis.call('set', 'k', 'v')", 0),
    ("EVAL_RO", "return 1", 0),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", 0),
    ("EVALSHA_RO", "@sha", 0), ("EVALSHA_RO", "@SHA", 0),
    ("EVAL", "#!lua flags=bogus\nreturn 1", 0), ("EVAL_RO", "#!lua flags=bogus\nreturn 1", 0),
]


def _run(r, cmd, sha):
    cmd = tuple(sha if a == "@sha" else sha.upper() if a == "@SHA" else a for a in cmd)
    try:
        return ("ok", r.execute_command(*cmd))
    except redis.ResponseError as exc:
        return ("error", type(exc).__name__, str(exc))


def _transcript(port):
    r = redis.Redis(port=port)
    r.flushall()
    r.function_flush()
    r.set("big", "x" * 200_000)
    r.function_load(LIBRARY)
    sha = r.script_load("#!lua\nreturn 5")
    out = []
    try:
        r.config_set("maxmemory", 1)
        out += [_run(r, cmd, sha) for cmd in UNDER_OOM]
    finally:
        r.config_set("maxmemory", 0)
    out += [_run(r, cmd, sha) for cmd in WITHOUT_LIMIT]
    out.append(sorted(r.keys("k*")))
    r.close()
    return out


def test_shebang_flags_and_script_oom_match_redis():
    ours, theirs = start_cachemere(), start_redis()
    try:
        expected = _transcript(theirs.port)
        # the comparison can fail both ways: redis refuses some of these and runs others
        assert ("error", "OutOfMemoryError", "command not allowed when used memory > 'maxmemory'.") in expected
        assert ("ok", 1) in expected
        assert _transcript(ours.port) == expected
    finally:
        ours.stop()
        theirs.stop()
