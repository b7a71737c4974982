"""Pub/sub state (redis pubsub.c): channel, pattern and shard-channel subscriptions, message delivery,
and the output-buffer limit that disconnects slow subscribers (`client-output-buffer-limit pubsub`)."""
import heapq
import time

from engine.glob import glob_match
from server.connection import commit_before_write, set_pubsub_flush


class ClientSubscriptions:
    """Per-client subscription sets (Client.pubsub); insertion-ordered like redis's dicts for UNSUBSCRIBE replies."""
    __slots__ = ("channels", "patterns", "shard_channels", "soft_limit_since")

    def __init__(self):
        self.channels = {}
        self.patterns = {}
        self.shard_channels = {}
        self.soft_limit_since = 0

    def count(self):
        """Channels + patterns: the figure (P)(UN)SUBSCRIBE replies carry (redis clientSubscriptionsCount)."""
        return len(self.channels) + len(self.patterns)

    def active(self):
        """Subscriber mode (redis CLIENT_PUBSUB): any channel, pattern or shard channel.  Redis sets the flag on
        every (P|S)SUBSCRIBE and clears it when an unsubscribe leaves the total at zero, so a client with only
        shard channels is in subscriber mode too (RESP2 command restriction, PING, CLIENT LIST, timeout)."""
        return bool(self.channels or self.patterns or self.shard_channels)

    def counts(self):
        return len(self.channels), len(self.patterns), len(self.shard_channels)


class PubSub:
    def __init__(self, server):
        self.server = server
        self.channels = {}          # channel -> {client: None} (ordered)
        self.patterns = {}          # pattern -> {client: None}
        self.shard_channels = {}
        # source name -> ([frames], [publish seq]) not written yet (flushed once per event-loop pass)
        self.pend_channels = {}
        self.pend_patterns = {}
        self.pend_shard = {}
        self.seq = 0
        self.scheduled = False

    # ------------------------------------------------------------------ subscriptions
    @staticmethod
    def state(c):
        if c.pubsub is None:
            c.pubsub = ClientSubscriptions()
        return c.pubsub

    def subscribe(self, c, channel, shard=False):
        self.flush_now()
        st = self.state(c)
        mine = st.shard_channels if shard else st.channels
        table = self.shard_channels if shard else self.channels
        if channel in mine:
            return False
        mine[channel] = None
        table.setdefault(channel, {})[c] = None
        return True

    def unsubscribe(self, c, channel, shard=False):
        self.flush_now()
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
        self.flush_now()
        st = self.state(c)
        if pattern in st.patterns:
            return False
        st.patterns[pattern] = None
        self.patterns.setdefault(pattern, {})[c] = None
        return True

    def punsubscribe(self, c, pattern):
        self.flush_now()
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
        self.flush_now()
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
    # A publish does not touch subscribers: the frame is appended once to its source's pending list
    # (channel, pattern or shard channel).  After the event-loop pass, each source's frames are joined once
    # per RESP version and the same bytes go to every subscriber whose only subscription is that source;
    # subscribers of several sources get their sources' frames merged back into publish order.  Subscriptions
    # are fixed during a batch: every change flushes the pending frames first (flush_now).
    def publish(self, channel, message, shard=False):
        """Deliver to channel and pattern subscribers; returns the number of receivers."""
        receivers = 0
        table = self.shard_channels if shard else self.channels
        subs = table.get(channel)
        if subs:
            frame = b"*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
                8 if shard else 7, b"smessage" if shard else b"message", len(channel), channel,
                len(message), message)
            self.queue(self.pend_shard if shard else self.pend_channels, channel, frame)
            receivers = len(subs)
        if not shard and self.patterns:
            for pattern, psubs in self.patterns.items():
                if glob_match(pattern, channel):
                    frame = b"*4\r\n$8\r\npmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
                        len(pattern), pattern, len(channel), channel, len(message), message)
                    self.queue(self.pend_patterns, pattern, frame)
                    receivers += len(psubs)
        return receivers

    def queue(self, pend, name, frame):
        entries = pend.get(name)
        if entries is None:
            if not self.scheduled:
                self.scheduled = True
                self.server.loop.call_soon(self.flush_pending)
            entries = pend[name] = ([], [])
        self.seq += 1
        entries[0].append(frame)
        entries[1].append(self.seq)

    def flush_now(self):
        """Write pending frames before a subscription change or a subscriber's own command (ordering)."""
        if self.pend_channels or self.pend_patterns or self.pend_shard:
            self.flush_pending()

    def flush_pending(self):
        self.scheduled = False
        sources = ((self.channels, self.pend_channels), (self.patterns, self.pend_patterns),
                   (self.shard_channels, self.pend_shard))
        self.pend_channels, self.pend_patterns, self.pend_shard = {}, {}, {}
        limits = output_limits(self.server.config["client-output-buffer-limit"], "pubsub")
        commit_before_write()   # the batch's effects are durable before anyone sees them (once, not per write)
        multi = None
        for table, pend in sources:
            for name, entries in pend.items():
                subs = table.get(name)
                if not subs:
                    continue
                frames = entries[0]
                data2 = data3 = None
                for cl in list(subs):      # a copy: an aborted subscriber may unsubscribe while we write
                    conn = cl.conn
                    if conn is None or conn.closing:
                        continue
                    st = cl.pubsub
                    if len(st.channels) + len(st.patterns) + len(st.shard_channels) != 1:
                        if multi is None:
                            multi = {}
                        multi.setdefault(cl, []).append(entries)
                        continue
                    if cl.reply.resp >= 3:
                        if data3 is None:
                            data3 = b"".join([b">" + f[1:] for f in frames])
                        data = data3
                    else:
                        if data2 is None:
                            data2 = b"".join(frames)
                        data = data2
                    conn.net_out += len(data)
                    conn.tw_dirty = True
                    conn.transport.write(data)
                    self.check_output_limit(cl, limits)
        if multi is not None:
            for cl, lists in multi.items():
                if len(lists) == 1:
                    frames = lists[0][0]
                else:       # several sources: back into publish order
                    merged = heapq.merge(*[zip(seqs, frames) for frames, seqs in lists])
                    frames = [f for _, f in merged]
                if cl.reply.resp >= 3:
                    frames = [b">" + f[1:] for f in frames]
                data = b"".join(frames)
                conn = cl.conn
                conn.net_out += len(data)
                conn.tw_dirty = True
                conn.transport.write(data)
                self.check_output_limit(cl, limits)

    def check_output_limit(self, cl, limits=None):
        """client-output-buffer-limit pubsub <hard> <soft> <seconds>: disconnect a subscriber that does not read."""
        if limits is None:
            limits = output_limits(self.server.config["client-output-buffer-limit"], "pubsub")
        hard, soft, seconds = limits
        size = cl.conn.output_buffer_size()
        st = cl.pubsub
        over = False
        if hard and size >= hard:
            over = True
        elif soft and size >= soft:
            # redis checkClientOutputBufferLimits: whole unix seconds, and over only once strictly more than
            # <seconds> have passed since the soft limit was first seen (so 1 s means 1-2 s of real time)
            now = int(time.time())
            if not st.soft_limit_since:
                st.soft_limit_since = now
            elif now - st.soft_limit_since > seconds:
                over = True
        elif st is not None:
            st.soft_limit_since = 0
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

    def shard_channel_count(self):
        return len(self.shard_channels)


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


def _follow_normal_limit(server):
    """client-output-buffer-limit normal: enforced by server/connection.pyx, told here (where the directive's
    pubsub class lives) at startup and on CONFIG SET."""
    try:
        from server.connection import set_normal_output_limit
    except ImportError:
        return

    def apply(value=None):
        set_normal_output_limit(*output_limits(server.config["client-output-buffer-limit"], "normal"))
    apply()
    server.config.on_change("client-output-buffer-limit", apply)


def pubsub(server):
    ps = server.extensions.get("pubsub")
    if ps is None:
        ps = server.extensions["pubsub"] = PubSub(server)
        set_pubsub_flush(ps.flush_now)
        _follow_normal_limit(server)
    return ps
