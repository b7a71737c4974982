"""Run the same command script on a private Cachemere and a private redis-server 7.0.15 and compare replies.

A script is one command per line (shlex syntax). A line ending in ``!unordered`` is compared as sorted
element lists (Redis gives no order), one ending in ``!skip`` is run but not compared (random replies, checked
by properties elsewhere). Every script runs in a database of its own, so scripts need no cleanup.
"""
import itertools
import shlex

from tests.support.diff import parse, normalise
from tests.support.servers import RawConnection, start_cachemere, start_redis

DATABASES = 16


class ServerPair:
    def __init__(self, *cachemere_args, redis_args=()):
        self.ours = start_cachemere(*cachemere_args)
        try:
            self.ref = start_redis(*redis_args)
        except Exception:
            self.ours.stop()
            raise
        self._dbs = itertools.count(0)

    def stop(self):
        self.ours.stop()
        self.ref.stop()

    def connections(self, resp=2):
        db = next(self._dbs)
        assert db < DATABASES, "more scripts than databases: split the module"
        conns = []
        for port in (self.ours.port, self.ref.port):
            conn = RawConnection(port)
            if resp == 3:
                conn.command("HELLO", "3")
            assert conn.command("SELECT", str(db)) == b"+OK\r\n"
            conns.append(conn)
        return conns

    def mismatches(self, script, resp=2):
        """[(line, ours, theirs)] for every compared line whose replies differ."""
        ours, theirs = self.connections(resp)
        out = []
        try:
            for raw in script.strip().splitlines():
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                mode = None
                for marker in ("!unordered", "!skip"):
                    if line.endswith(marker):
                        mode, line = marker, line[:-len(marker)].strip()
                args = shlex.split(line)
                a, b = ours.command(*args), theirs.command(*args)
                if a == b or mode == "!skip":
                    continue
                if mode == "!unordered" and normalise(parse(a, resp)) == normalise(parse(b, resp)):
                    continue
                out.append((line, a, b))
        finally:
            ours.close()
            theirs.close()
        return out


def assert_same(pair, script, resp=2):
    diffs = pair.mismatches(script, resp)
    assert not diffs, "\n".join("%s\n  ours:  %r\n  redis: %r" % d for d in diffs)
