"""An in-process keyspace and dispatcher for unit tests of command families: run commands, read the replies
and the effect stream (what the AOF and replicas receive) without a server process."""
from engine.core import Keyspace, Dispatcher, Client, encode_command
import engine.commands  # noqa: F401  (registers every family)

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
        """The effects since the last call, without the leading SELECT 0."""
        data = b"".join(self.effects)
        self.effects.clear()
        return data[len(SELECT0):] if data.startswith(SELECT0) else data


def cmd(*argv):
    """One command as the effect stream carries it."""
    return encode_command([a.encode() for a in argv])
