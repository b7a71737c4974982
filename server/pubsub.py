"""Pub/sub state (redis pubsub.c): channel, pattern and shard-channel subscriptions, message delivery,
and the output-buffer limit that disconnects slow subscribers (`client-output-buffer-limit pubsub`)."""
import time

from engine.glob import glob_match


class ClientSubscriptions:
    """Per-client subscription sets (Client.pubsub); insertion-ordered like redis's dicts for UNSUBSCRIBE replies."""
    __slots__ = ("channels", "patterns", "shard_channels", "soft_limit_since")

    def __init__(self):
        self.channels = {}
        self.patterns = {}
        self.shard_channels = {}
        self.soft_limit_since = 0.0

    def count(self):
        return len(self.channels) + len(self.patterns)

    def counts(self):
        return len(self.channels), len(self.patterns), len(self.shard_channels)


class PubSub:
    def __init__(self, server):
        self.server = server
        self.channels = {}          # channel -> {client: None} (ordered)
        self.patterns = {}          # pattern -> {client: None}
        self.shard_channels = {}
        self.pending = {}           # subscriber -> messages not written yet (flushed once per event-loop pass)

    # ------------------------------------------------------------------ subscriptions
    @staticmethod
    def state(c):
        if c.pubsub is None:
            c.pubsub = ClientSubscriptions()
        return c.pubsub

    def subscribe(self, c, channel, shard=False):
        st = self.state(c)
        mine = st.shard_channels if shard else st.channels
        table = self.shard_channels if shard else self.channels
        if channel in mine:
            return False
        mine[channel] = None
        table.setdefault(channel, {})[c] = None
        return True

    def unsubscribe(self, c, channel, shard=False):
        st = self.state(c)
        mine = st.shard_channels if shard else st.channels
        table = self.shard_channels if shard else self.channels
        if channel not in mine:
            return False
        del mine[channel]
        subs = table.get(channel)
        if subs is not None:
            subs.pop(c, None)
            if not subs:
                del table[channel]
        return True

    def psubscribe(self, c, pattern):
        st = self.state(c)
        if pattern in st.patterns:
            return False
        st.patterns[pattern] = None
        self.patterns.setdefault(pattern, {})[c] = None
        return True

    def punsubscribe(self, c, pattern):
        st = self.state(c)
        if pattern not in st.patterns:
            return False
        del st.patterns[pattern]
        subs = self.patterns.get(pattern)
        if subs is not None:
            subs.pop(c, None)
            if not subs:
                del self.patterns[pattern]
        return True

    def drop_client(self, c):
        st = c.pubsub
        if st is None:
            return
        for ch in list(st.channels):
            self.unsubscribe(c, ch)
        for ch in list(st.shard_channels):
            self.unsubscribe(c, ch, shard=True)
        for p in list(st.patterns):
            self.punsubscribe(c, p)
        c.pubsub = None

    def client_disconnected(self, c):
        self.drop_client(c)

    def reset_client(self, c):
        self.drop_client(c)

    # ------------------------------------------------------------------ delivery
    def publish(self, channel, message, shard=False):
        """Deliver to channel and pattern subscribers; returns the number of receivers."""
        receivers = 0
        table = self.shard_channels if shard else self.channels
        subs = table.get(channel)
        if subs:
            # encoded once per publish and RESP version, not once per subscriber
            body = encode_parts([b"smessage" if shard else b"message", channel, message])
            for cl in list(subs):
                self.deliver(cl, body)
                receivers += 1
        if not shard and self.patterns:
            for pattern, psubs in list(self.patterns.items()):
                if glob_match(pattern, channel):
                    body = encode_parts([b"pmessage", pattern, channel, message])
                    for cl in list(psubs):
                        self.deliver(cl, body)
                        receivers += 1
        return receivers

    def deliver(self, cl, body):
        """Queue a message (count, RESP-encoded elements) for a subscriber; all queued messages leave in one
        write per subscriber after the publishing batch (as redis writes client buffers in beforeSleep), not
        one syscall per message."""
        conn = cl.conn
        if conn is None or conn.closing:
            return
        count, elements = body
        queued = self.pending.get(cl)
        if queued is None:
            if not self.pending:
                self.server.loop.call_soon(self.flush_pending)
            queued = self.pending[cl] = []
        queued.append(PUSH_HEADERS[count] if cl.reply.resp >= 3 else ARRAY_HEADERS[count])
        queued.append(elements)

    def flush_pending(self):
        pending, self.pending = self.pending, {}
        for cl, chunks in pending.items():
            conn = cl.conn
            if conn is None or conn.closing:
                continue
            conn.write_raw(b"".join(chunks))
            self.check_output_limit(cl)

    def check_output_limit(self, cl):
        """client-output-buffer-limit pubsub <hard> <soft> <seconds>: disconnect a subscriber that does not read."""
        limits = self.server.config["client-output-buffer-limit"]
        hard, soft, seconds = output_limits(limits, "pubsub")
        size = cl.conn.output_buffer_size()
        st = cl.pubsub
        over = False
        if hard and size >= hard:
            over = True
        elif soft and size >= soft:
            now = time.monotonic()
            if not st.soft_limit_since:
                st.soft_limit_since = now
            elif now - st.soft_limit_since >= seconds:
                over = True
        elif st is not None:
            st.soft_limit_since = 0.0
        if over:
            self.server.log.warning(f"Client id={cl.id} addr={cl.conn.peer} scheduled to be closed ASAP for "
                                    f"overcoming of output buffer limits.")
            self.server.stat_obuf_limit_disconnections = getattr(self.server, "stat_obuf_limit_disconnections", 0) + 1
            cl.conn.transport.abort()
            cl.conn.closing = True

    # ------------------------------------------------------------------ introspection
    def channel_count(self):
        return len(self.channels)

    def pattern_count(self):
        return len(self.patterns)


ARRAY_HEADERS = [b"*%d\r\n" % n for n in range(5)]
PUSH_HEADERS = [b">%d\r\n" % n for n in range(5)]


def encode_parts(parts):
    """(element count, the elements as RESP bulk strings): the frame header depends on the subscriber."""
    return len(parts), b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def output_limits(value, klass):
    """(hard, soft, seconds) for a class from the config value (list/dict/str forms tolerated)."""
    if isinstance(value, dict):
        entry = value.get(klass) or value.get(klass.encode(), (0, 0, 0))
        return tuple(entry)
    text = value if isinstance(value, str) else " ".join(map(str, value))
    parts = text.split()
    for i in range(0, len(parts) - 3, 4):
        if parts[i] == klass:
            return int(parts[i + 1]), int(parts[i + 2]), int(parts[i + 3])
    return 0, 0, 0


def pubsub(server):
    ps = server.extensions.get("pubsub")
    if ps is None:
        ps = server.extensions["pubsub"] = PubSub(server)
    return ps
