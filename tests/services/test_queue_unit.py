"""In-process (bare engine, virtual clock): the QUEUE.*/TOPIC.* effect stream replayed into another
engine under a different clock rebuilds byte-identical state; the value's own invariants."""
import hiredis
import pytest

from engine.core import Client, Dispatcher, Keyspace
import engine.commands  # noqa: F401
import services  # noqa: F401
from services.queue.value import Message, QueueValue, md5_attributes

NOW = 1_800_000_000_000


class Engine:
    def __init__(self, now, master=False):
        self.ks = Keyspace()
        self.ks.now_ms = now
        self.dispatcher = Dispatcher(self.ks)
        self.client = Client(self.ks)
        self.client.is_master = master
        self.client.reply.resp = 3
        self.stream = []
        self.ks.effects.subscribe(self.stream.append)

    def run(self, *args):
        self.dispatcher.execute(self.client, [a if isinstance(a, bytes) else str(a).encode() for a in args])
        reader = hiredis.Reader()
        reader.feed(self.client.reply.take())
        return reader.gets()

    def state(self, key):
        e = self.client.db.find(key)
        return None if e is None else e.value.dump_state()


def replay(stream, now, twice=False):
    """Apply the stream's commands (MULTI/EXEC markers dropped: a bare engine has no transaction state)."""
    b = Engine(now, master=True)
    reader = hiredis.Reader()
    reader.feed(b"".join(stream))
    while True:
        argv = reader.gets()
        if argv is False:
            break
        if argv[0].upper() in (b"MULTI", b"EXEC", b"SELECT"):
            continue
        for _ in range(2 if twice else 1):
            rep = b.run(*argv)
            assert not isinstance(rep, hiredis.ReplyError), (argv, rep)
    return b


def test_effect_stream_replays_to_identical_state_without_the_clock():
    a = Engine(NOW)
    a.run("QUEUE.CREATE", "dlq")
    a.run("QUEUE.CREATE", "q", "VISIBILITY", "10", "DLQ", "dlq", "MAXRECEIVE", "2")
    a.run("QUEUE.CREATE", "f.fifo", "CONTENTDEDUP")
    for i in range(6):
        a.run("QUEUE.SEND", "q", "m%d" % i, "ATTR", "n", "Number", i)
        a.run("QUEUE.SEND", "f.fifo", "f%d" % i, "GROUP", "g%d" % (i % 2))
    a.run("QUEUE.SENDBATCH", "q", "ENTRY", "x", "bx", "ENTRY", "y", "by", "DELAY", "5")
    got = a.run("QUEUE.RECV", "q", "COUNT", "4")
    a.ks.now_ms += 11_000                       # visibility expired: received again
    again = a.run("QUEUE.RECV", "q", "COUNT", "10")
    a.ks.now_ms += 11_000
    a.run("QUEUE.RECV", "q", "COUNT", "10")     # the twice-received ones go to the DLQ on this attempt
    a.run("QUEUE.DELETE", "q", again[-1][b"ReceiptHandle"])
    fr = a.run("QUEUE.RECV", "f.fifo", "COUNT", "10", "ATTEMPT", "att-1")
    a.run("QUEUE.CHANGEVIS", "f.fifo", fr[0][b"ReceiptHandle"], "100")
    a.run("QUEUE.NACK", "f.fifo", fr[1][b"ReceiptHandle"], "DELAY", "3")
    a.run("QUEUE.SETATTR", "q", "DelaySeconds", "2")
    a.run("TOPIC.CREATE", "t.fifo", "CONTENTDEDUP")
    a.run("TOPIC.SUBSCRIBE", "t.fifo", "QUEUE", "f.fifo", "RAW")
    a.run("TOPIC.PUBLISH", "t.fifo", "pub", "GROUP", "g9")
    a.run("QUEUE.MOVETASK", "START", "dlq")
    assert len(got) == 4 and a.run("QUEUE.LEN", "dlq") is not None
    b = replay(a.stream, NOW + 10 * 86400_000)
    for key in (b"q", b"dlq", b"f.fifo", b"t.fifo"):
        assert a.state(key) == b.state(key), key
    assert b"QUEUE.RECV" not in b"".join(a.stream).upper()
    # every effect is idempotent: applying each one twice in a row leaves the same state
    c = replay(a.stream, NOW, twice=True)
    for key in (b"q", b"dlq", b"f.fifo", b"t.fifo"):
        assert a.state(key) == c.state(key), key


def test_load_state_refuses_bad_payloads():
    for bad in (b"", b"{}", b"[1]", b'{"fifo": false}', b"\xff"):
        with pytest.raises(ValueError):
            QueueValue.load_state(bad, 0)


def test_pick_visibility_and_fifo_lock():
    q = QueueValue()
    for i in range(3):
        q.put(Message("id%d" % i, b"b", [], 0, i * 10, i + 1))
    picked, _ = q.pick(15, 10)
    assert picked == ["id0", "id1"]
    f = QueueValue(fifo=True)
    f.put(Message("a", b"a", [], 0, 0, 1, "g"))
    f.put(Message("b", b"b", [], 0, 0, 2, "g"))
    f.put(Message("c", b"c", [], 0, 0, 3, "h"))
    f.lease("a", "r", 100, 1, 1)
    assert f.pick(50, 10)[0] == ["c"]            # g is locked while a is in flight
    assert f.pick(150, 10)[0] == ["a", "b", "c"]
    assert f.next_change(50) == 100


def test_md5_attributes_order_independent_and_typed():
    a = md5_attributes([("b", "String", "1"), ("a", "Number", "1")])
    assert a == md5_attributes([("a", "Number", "1"), ("b", "String", "1")])
    assert a != md5_attributes([("a", "String", "1"), ("b", "String", "1")])
    assert md5_attributes([]) == ""


def test_retention_drops_oldest_on_writes_with_a_del_effect():
    a = Engine(NOW)
    a.run("QUEUE.CREATE", "r", "RETENTION", "60")
    a.run("QUEUE.SEND", "r", "old")
    a.ks.now_ms += 30_000
    a.run("QUEUE.SEND", "r", "mid")
    a.ks.now_ms += 31_000                        # "old" is past 60 s, "mid" is not
    assert a.run("QUEUE.LEN", "r")[b"visible"] == 1
    before = len(a.stream)
    a.run("QUEUE.SEND", "r", "new")
    assert b"QUEUE._DEL" in b"".join(a.stream[before:])
    q = a.client.db.find(b"r").value
    assert [m.body for m in q.messages.values()] == [b"mid", b"new"]
    assert [m[b"Body"] for m in a.run("QUEUE.RECV", "r", "COUNT", "10")] == [b"mid", b"new"]
    b = replay(a.stream, NOW)
    assert b.state(b"r") == a.state(b"r")
