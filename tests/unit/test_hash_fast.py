"""The compiled hash commands (engine/commands/t_hash_fast.pyx), in-process: the effects they emit, memory
kept incrementally (bind_cost) close to a full re-estimate, and a deleted hash returning used_memory."""
from engine.core import Keyspace, Dispatcher, Client, encode_command, memory_usage
import engine.commands  # noqa: F401  (registers every family)
from engine.types.hash import HashValue

SELECT0 = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"


class Harness:
    def __init__(self):
        self.ks = Keyspace()
        self.dispatcher = Dispatcher(self.ks)
        self.client = Client(self.ks)
        self.effects = []
        self.ks.effects.subscribe(self.effects.append)

    def run(self, *argv):
        self.dispatcher.execute(self.client, [a if isinstance(a, bytes) else str(a).encode() for a in argv])
        return self.client.reply.take()

    def stream(self):
        data = b"".join(self.effects)
        self.effects.clear()
        return data[len(SELECT0):] if data.startswith(SELECT0) else data


def cmd(*argv):
    return encode_command([a.encode() for a in argv])


def test_replies_and_effects():
    h = Harness()
    assert h.run("HSET", "h", "a", "1", "b", "2", "a", "3") == b":2\r\n"
    assert h.run("HINCRBY", "h", "b", "5") == b":7\r\n"
    assert h.run("HINCRBY", "h", "b", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert h.run("HGET", "h", "a") == b"$1\r\n3\r\n"
    assert h.run("HMGET", "h", "a", "zz", "b") == b"*3\r\n$1\r\n3\r\n$-1\r\n$1\r\n7\r\n"
    assert h.run("HSET", "h", "odd") == b"-ERR wrong number of arguments for 'hset' command\r\n"
    assert h.stream() == cmd("HSET", "h", "a", "1", "b", "2", "a", "3") + cmd("HINCRBY", "h", "b", "5")
    assert type(h.ks.db(0).find(b"h").value) is HashValue


def test_memory_is_accounted_per_field_and_released_with_the_key():
    h = Harness()
    start = h.ks.used_memory
    for i in range(3000):
        h.run("HSET", "h", "field-%d" % i, "value-%d" % i)
        if i % 3 == 0:
            h.run("HINCRBY", "h", "counter-%d" % (i % 100), i)
    for i in range(0, 3000, 7):
        h.run("HSET", "h", "field-%d" % i, "a much longer value than before, %d" % i)
    grown = h.ks.used_memory - start
    key_cost = memory_usage(b"h", h.ks.db(0).find(b"h"))          # a full re-estimate of the key
    assert abs(grown - key_cost) < 0.15 * key_cost, (grown, key_cost)
    h.run("DEL", "h")
    assert h.ks.used_memory == start
