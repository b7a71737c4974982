"""redis.log from a script reaches the server log at the configured verbosity, as on redis-server."""
import time

from tests.support.servers import RawConnection, start_cachemere, start_redis


def _log_lines_after(srv, marker, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in srv.log().splitlines() if marker in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_redis_log_levels_reach_the_server_log_like_redis():
    servers = [start_cachemere("--loglevel", "notice"), start_redis("--loglevel", "notice")]
    try:
        seen = []
        for srv in servers:
            conn = RawConnection(srv.port)
            script = ("redis.log(redis.LOG_WARNING, 'lua-warn', 42) redis.log(redis.LOG_NOTICE, 'lua-notice') "
                      "redis.log(redis.LOG_DEBUG, 'lua-debug') return 1")
            assert conn.command("EVAL", script, "0") == b":1\r\n"
            assert conn.command("EVAL", "redis.log(9, 'x')", "0").startswith(b"-ERR Invalid debug level.")
            conn.close()
            warn, notice = _log_lines_after(srv, "lua-warn"), _log_lines_after(srv, "lua-notice")
            debug = _log_lines_after(srv, "lua-debug", timeout=0.3)
            seen.append((len(warn), len(notice), len(debug)))
            assert warn and warn[0].rstrip().endswith("lua-warn 42")      # arguments joined with a space
            assert " # " in warn[0] and " * " in notice[0]                  # redis's level marks
        assert seen[0] == seen[1] == (1, 1, 0)                              # debug is below notice
    finally:
        for srv in servers:
            srv.stop()
