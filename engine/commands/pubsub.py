"""Pub/sub commands (redis pubsub.c). State and delivery live in the server (c.server.pubsub, server/pubsub.py)."""
from engine.registry import command, container
from engine.commands.connection import reply_help, help_lines
from engine.glob import glob_match


def reply_subscription(c, kind, name, count):
    """The (un)subscribe confirmation: a push frame in RESP3, an array in RESP2."""
    r = c.reply
    r.add_push_len(3)
    r.add_bulk(kind)
    if name is None:
        r.add_null()
    else:
        r.add_bulk(name)
    r.add_int(count)


def subscribe_generic(c, argv, shard):
    ps = c.server.pubsub
    kind = b"ssubscribe" if shard else b"subscribe"
    for ch in argv[1:]:
        ps.subscribe(c, ch, shard)
        st = c.pubsub
        reply_subscription(c, kind, ch, len(st.shard_channels) if shard else st.count())


def unsubscribe_generic(c, argv, shard):
    ps = c.server.pubsub
    kind = b"sunsubscribe" if shard else b"unsubscribe"
    st = ps.state(c)
    targets = argv[1:] or list(st.shard_channels if shard else st.channels)
    if not targets:
        reply_subscription(c, kind, None, len(st.shard_channels) if shard else st.count())
        return
    for ch in targets:
        ps.unsubscribe(c, ch, shard)
        reply_subscription(c, kind, ch, len(st.shard_channels) if shard else st.count())


@command(
    "subscribe", -2, "pubsub noscript loading stale",
    docs={
        "summary": "Listen for messages published to the given channels",
        "since": "2.0.0",
        "group": "pubsub",
        "complexity": "O(N) where N is the number of channels to subscribe to.",
        "arguments": [{"name": "channel", "type": "string", "flags": ["multiple"]}],
    },
)
def subscribe_command(c, argv):
    subscribe_generic(c, argv, False)


@command(
    "unsubscribe", -1, "pubsub noscript loading stale",
    docs={
        "summary": "Stop listening for messages posted to the given channels",
        "since": "2.0.0",
        "group": "pubsub",
        "complexity": "O(N) where N is the number of clients already subscribed to a channel.",
        "arguments": [{"name": "channel", "type": "string", "flags": ["optional", "multiple"]}],
    },
)
def unsubscribe_command(c, argv):
    unsubscribe_generic(c, argv, False)


@command(
    "psubscribe", -2, "pubsub noscript loading stale",
    docs={
        "summary": "Listen for messages published to channels matching the given patterns",
        "since": "2.0.0",
        "group": "pubsub",
        "complexity": "O(N) where N is the number of patterns the client is already subscribed to.",
        "arguments": [
            {
                "name": "pattern",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [{"name": "pattern", "type": "pattern"}],
            },
        ],
    },
)
def psubscribe_command(c, argv):
    ps = c.server.pubsub
    for pattern in argv[1:]:
        ps.psubscribe(c, pattern)
        reply_subscription(c, b"psubscribe", pattern, c.pubsub.count())


@command(
    "punsubscribe", -1, "pubsub noscript loading stale",
    docs={
        "summary": "Stop listening for messages posted to channels matching the given patterns",
        "since": "2.0.0",
        "group": "pubsub",
        "complexity": (
            "O(N+M) where N is the number of patterns the client is already subscribed and M is the number "
            "of total patterns subscribed in the system (by any client)."
        ),
        "arguments": [{"name": "pattern", "type": "pattern", "flags": ["optional", "multiple"]}],
    },
)
def punsubscribe_command(c, argv):
    ps = c.server.pubsub
    st = ps.state(c)
    targets = argv[1:] or list(st.patterns)
    if not targets:
        reply_subscription(c, b"punsubscribe", None, st.count())
        return
    for pattern in targets:
        ps.punsubscribe(c, pattern)
        reply_subscription(c, b"punsubscribe", pattern, st.count())


def propagate_to_replicas(c, argv):
    """redis publishCommand: forceCommandPropagation(c, PROPAGATE_REPL). The message reaches the subscribers of
    every replica, not the AOF: a replication-only effect, in its place inside a MULTI/EXEC or script unit (the
    EffectLog has a replication subscriber only on a primary with a backlog; a replica relays the bytes it
    applied from its own primary, so chained replicas get it too)."""
    effects = c.ks.effects if c.ks is not None else None
    if effects is None or not effects.n_repl:
        return
    effects.emit_repl(c.db.id, list(argv))


@command(
    "publish", 3, "pubsub loading stale fast may_replicate",
    docs={
        "summary": "Post a message to a channel",
        "since": "2.0.0",
        "group": "pubsub",
        "complexity": (
            "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total "
            "number of subscribed patterns (by any client)."
        ),
        "arguments": [{"name": "channel", "type": "string"}, {"name": "message", "type": "string"}],
    },
)
def publish_command(c, argv):
    publish_generic(c, argv, False)


def publish_generic(c, argv, shard):
    ps = c.server.pubsub
    n = ps.publish(argv[1], argv[2], shard)
    propagate_to_replicas(c, argv)
    if c.pubsub is not None and c.conn is not None:
        # a RESP3 subscriber publishing: its earlier replies, then its own copy, then the count (redis order)
        c.conn.flush()
        ps.flush_now()
    c.reply.add_int(n)


@command(
    "ssubscribe", -2, "pubsub noscript loading stale", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["not_key"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Listen for messages published to the given shard channels",
        "since": "7.0.0",
        "group": "pubsub",
        "complexity": "O(N) where N is the number of shard channels to subscribe to.",
        "arguments": [{"name": "shardchannel", "type": "string", "flags": ["multiple"]}],
    },
)
def ssubscribe_command(c, argv):
    if c.deny_blocking:
        # redis ssubscribeCommand: inside EXEC the client is DENY_BLOCKING, and unlike (P)SUBSCRIBE there is no
        # exception for MULTI
        c.error(b"ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
        return
    subscribe_generic(c, argv, True)


@command(
    "sunsubscribe", -1, "pubsub noscript loading stale", keys=(1, -1, 1),
    key_specs=[
        {
            "flags": ["not_key"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Stop listening for messages posted to the given shard channels",
        "since": "7.0.0",
        "group": "pubsub",
        "complexity": "O(N) where N is the number of clients already subscribed to a shard channel.",
        "arguments": [{"name": "shardchannel", "type": "string", "flags": ["optional", "multiple"]}],
    },
)
def sunsubscribe_command(c, argv):
    unsubscribe_generic(c, argv, True)


@command(
    "spublish", 3, "pubsub loading stale fast may_replicate", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["not_key"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Post a message to a shard channel",
        "since": "7.0.0",
        "group": "pubsub",
        "complexity": "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        "arguments": [{"name": "shardchannel", "type": "string"}, {"name": "message", "type": "string"}],
    },
)
def spublish_command(c, argv):
    publish_generic(c, argv, True)


container(
    "pubsub",
    docs={
        "summary": "A container for Pub/Sub commands",
        "since": "2.8.0",
        "group": "pubsub",
        "complexity": "Depends on subcommand.",
    },
)
@command(
    "pubsub|channels", -2, "pubsub loading stale",
    docs={
        "summary": "List active channels",
        "since": "2.8.0",
        "group": "pubsub",
        "complexity": (
            "O(N) where N is the number of active channels, and assuming constant time pattern matching "
            "(relatively short channels and patterns)"
        ),
        "arguments": [{"name": "pattern", "type": "pattern", "flags": ["optional"]}],
    },
)
def pubsub_channels_command(c, argv):
    channels_reply(c, c.server.pubsub.channels, argv)


def channels_reply(c, table, argv):
    pattern = argv[2] if len(argv) > 2 else None
    names = [ch for ch in table if pattern is None or glob_match(pattern, ch)]
    c.reply.add_array_len(len(names))
    for ch in names:
        c.reply.add_bulk(ch)


@command(
    "pubsub|numsub", -2, "pubsub loading stale",
    docs={
        "summary": "Get the count of subscribers for channels",
        "since": "2.8.0",
        "group": "pubsub",
        "complexity": "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        "arguments": [{"name": "channel", "type": "string", "flags": ["optional", "multiple"]}],
    },
)
def pubsub_numsub_command(c, argv):
    numsub_reply(c, c.server.pubsub.channels, argv)


def numsub_reply(c, table, argv):
    c.reply.add_array_len((len(argv) - 2) * 2)
    for ch in argv[2:]:
        c.reply.add_bulk(ch)
        c.reply.add_int(len(table.get(ch, ())))


@command(
    "pubsub|numpat", 2, "pubsub loading stale",
    docs={
        "summary": "Get the count of unique patterns pattern subscriptions",
        "since": "2.8.0",
        "group": "pubsub",
        "complexity": "O(1)",
    },
)
def pubsub_numpat_command(c, argv):
    c.reply.add_int(len(c.server.pubsub.patterns))


@command(
    "pubsub|shardchannels", -2, "pubsub loading stale",
    docs={
        "summary": "List active shard channels",
        "since": "7.0.0",
        "group": "pubsub",
        "complexity": (
            "O(N) where N is the number of active shard channels, and assuming constant time pattern "
            "matching (relatively short shard channels)."
        ),
        "arguments": [{"name": "pattern", "type": "pattern", "flags": ["optional"]}],
    },
)
def pubsub_shardchannels_command(c, argv):
    channels_reply(c, c.server.pubsub.shard_channels, argv)


@command(
    "pubsub|shardnumsub", -2, "pubsub loading stale",
    docs={
        "summary": "Get the count of subscribers for shard channels",
        "since": "7.0.0",
        "group": "pubsub",
        "complexity": (
            "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels"
        ),
        "arguments": [{"name": "shardchannel", "type": "string", "flags": ["optional", "multiple"]}],
    },
)
def pubsub_shardnumsub_command(c, argv):
    numsub_reply(c, c.server.pubsub.shard_channels, argv)


@command(
    "pubsub|help", 2, "loading stale",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "6.2.0",
        "group": "pubsub",
        "complexity": "O(1)",
    },
)
def pubsub_help_command(c, argv):
    reply_help(c, help_lines("PUBSUB", [
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
    ]))
