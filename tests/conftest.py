"""Shared fixtures: real server processes on free loopback ports."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.servers import start_cachemere, start_redis, start_memcached  # noqa: E402


@pytest.fixture(scope="session")
def cachemere():
    srv = start_cachemere(memcached=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def redis_ref():
    srv = start_redis()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def memcached_ref():
    srv = start_memcached()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def debug_pair():
    """A Cachemere and a redis-server of the module's own with DEBUG allowed (DEBUG SET-ACTIVE-EXPIRE 0 keeps
    expired keys in place; both servers refuse DEBUG by default), as (ours, theirs)."""
    ours = start_cachemere("--enable-debug-command", "yes")
    try:
        theirs = start_redis("--enable-debug-command", "yes")
    except Exception:
        ours.stop()
        raise
    yield ours, theirs
    theirs.stop()
    ours.stop()


@pytest.fixture
def busy_pair(fresh_cachemere):
    """A Cachemere and a redis-server of the test's own that answer -BUSY after 100 ms of script, (ours, theirs)."""
    ours = fresh_cachemere("--busy-reply-threshold", "100")
    theirs = start_redis("--busy-reply-threshold", "100")
    yield ours, theirs
    theirs.stop()


@pytest.fixture
def fresh_cachemere():
    """A server of the test's own (for tests that change config or kill it)."""
    started = []

    def start(*args, **kw):
        srv = start_cachemere(*args, **kw)
        started.append(srv)
        return srv
    yield start
    for srv in started:
        srv.stop()
