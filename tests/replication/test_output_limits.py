"""client-output-buffer-limit for the replica class (and its `slave` alias) and the normal class, enforced as
redis 7.0 does and checked against a real redis-server 7.0.15: a replica that stops reading is closed once over
the soft limit for more than soft-seconds, a normal client whose reply would pass the hard limit is closed
without it, a reply over the soft limit only once is delivered."""
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.replication.helpers import FakeReplica, client
from tests.support.servers import start_cachemere, start_redis, wait_for

pytestmark = pytest.mark.drill     # timed waits of several seconds per case: make drill

KINDS = ["cachemere", "redis"]
# redis logs "scheduled to be closed ASAP for ..." when the limit trips in a write, "closed for ..." when
# it trips while the reply is being flushed: both are redis 7.0 lines
LOG_LINE = "for overcoming of output buffer limits."


@pytest.fixture
def server():
    started = []

    def run(kind, *args):
        srv = start_cachemere(*args) if kind == "cachemere" else start_redis("--repl-diskless-sync-delay", "0", *args)
        started.append(srv)
        return srv
    yield run
    for srv in started:
        srv.stop()


@pytest.mark.parametrize("kind,klass", [("cachemere", "replica"), ("redis", "replica"), ("cachemere", "slave")])
def test_replica_over_the_soft_limit_for_soft_seconds_is_closed(server, kind, klass):
    srv = server(kind, "--client-output-buffer-limit", "%s 0 1mb 2" % klass)
    fake = FakeReplica(srv.port)
    fake.commands(settle=0.2)              # online; from now on it reads nothing
    r = client(srv)
    value = b"x" * 100_000
    started = time.monotonic()
    closed_at = None
    deadline = started + 20
    i = 0
    while time.monotonic() < deadline:
        r.set("k%d" % (i % 50), value)
        i += 1
        time.sleep(0.01)
        if i % 10 == 0 and r.info("replication")["connected_slaves"] == 0:
            closed_at = time.monotonic()
            break
    assert closed_at is not None, "the replica was never disconnected"
    assert closed_at - started >= 2.0            # not before soft-seconds over the soft limit
    try:
        wait_for(lambda: LOG_LINE in srv.log(), timeout=5)
    except TimeoutError:
        raise AssertionError(srv.log()[-3000:]) from None
    line = next(x for x in srv.log().splitlines() if LOG_LINE in x)
    assert "flags=S" in line                     # the CLIENT LIST line of the replica, as redis logs it
    fake.close()


@pytest.mark.parametrize("kind", KINDS)
def test_replica_over_the_hard_limit_is_closed_at_once(server, kind):
    srv = server(kind, "--client-output-buffer-limit", "replica 1mb 0 0")
    fake = FakeReplica(srv.port)
    fake.commands(settle=0.2)
    r = client(srv)
    value = b"x" * 100_000
    started = time.monotonic()
    while r.info("replication")["connected_slaves"] and time.monotonic() - started < 15:
        p = r.pipeline(transaction=False)
        for i in range(20):
            p.set("k%d" % i, value)
        p.execute()
    assert r.info("replication")["connected_slaves"] == 0
    wait_for(lambda: LOG_LINE in srv.log(), timeout=5)
    fake.close()


@pytest.mark.parametrize("kind", KINDS)
def test_normal_client_reply_over_the_hard_limit_closes_it(server, kind):
    srv = server(kind, "--client-output-buffer-limit", "normal 1mb 0 0")
    r = client(srv)
    r.set("big", b"v" * 3_000_000)
    r.set("small", "s")
    other = client(srv)
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=srv.port, retry=Retry(NoBackoff(), 0)).get("big")
    assert other.get("small") == b"s"                   # other clients unaffected
    wait_for(lambda: LOG_LINE in srv.log(), timeout=5)
    line = next(x for x in srv.log().splitlines() if LOG_LINE in x)
    assert "cmd=get" in line and "flags=N" in line


@pytest.mark.parametrize("kind", KINDS)
def test_normal_client_over_the_soft_limit_once_gets_its_reply(server, kind):
    srv = server(kind, "--client-output-buffer-limit", "normal 0 1mb 1")
    r = client(srv)
    r.set("big", b"v" * 3_000_000)
    assert len(r.get("big")) == 3_000_000
    assert len(r.get("big")) == 3_000_000                # drained in between: the soft clock starts again
    assert LOG_LINE not in srv.log()
