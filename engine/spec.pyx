# cython: language_level=3
"""CommandSpec: one immutable declaration per command (built by engine.registry)."""
from libc.string cimport memset

FLAG_NAMES = [
    ("write", CMD_WRITE), ("readonly", CMD_READONLY), ("denyoom", CMD_DENYOOM), ("module", CMD_MODULE),
    ("admin", CMD_ADMIN), ("pubsub", CMD_PUBSUB), ("noscript", CMD_NOSCRIPT), ("blocking", CMD_BLOCKING),
    ("loading", CMD_LOADING), ("stale", CMD_STALE), ("skip_monitor", CMD_SKIP_MONITOR),
    ("skip_slowlog", CMD_SKIP_SLOWLOG), ("asking", CMD_ASKING), ("fast", CMD_FAST), ("no_auth", CMD_NO_AUTH),
    ("may_replicate", CMD_MAY_REPLICATE), ("sentinel", CMD_SENTINEL), ("only_sentinel", CMD_ONLY_SENTINEL),
    ("no_mandatory_keys", CMD_NO_MANDATORY_KEYS), ("protected", CMD_PROTECTED),
    ("no_async_loading", CMD_NO_ASYNC_LOADING), ("no_multi", CMD_NO_MULTI), ("movablekeys", CMD_MOVABLE_KEYS),
    ("allow_busy", CMD_ALLOW_BUSY), ("internal", CMD_INTERNAL),
]
FLAGS = dict(FLAG_NAMES)
# COMMAND INFO hides these on purpose (redis server.c addReplyCommandFlags)
HIDDEN_FLAGS = CMD_MAY_REPLICATE | CMD_SENTINEL | CMD_ONLY_SENTINEL | CMD_PROTECTED | CMD_INTERNAL


cdef class CommandSpec:
    def __init__(self, name, arity, flags, acl_categories, first_key, last_key, key_step, handler,
                 key_specs=None, tips=(), docs=None, getkeys=None):
        self.name = name
        self.name_bytes = name.encode()
        self.arity = arity
        self.flags = flags
        self.acl_categories = acl_categories
        self.first_key = first_key
        self.last_key = last_key
        self.key_step = key_step
        self.handler = handler
        self.cfunc = NULL
        self.self_accounted = False
        self.getkeys = getkeys
        self.subcommands = None
        self.parent = None
        self.key_specs = list(key_specs or [])
        self.tips = tuple(tips)
        self.docs = dict(docs or {})
        self.id = 0
        self.calls = self.usec = self.rejected_calls = self.failed_calls = 0
        memset(self.latency_buckets, 0, sizeof(self.latency_buckets))

    def latency_histogram(self):
        """Calls per duration bucket (registry.LATENCY_BUCKETS_US gives the upper bounds)."""
        return [self.latency_buckets[i] for i in range(22)]

    def reset_latency(self):
        memset(self.latency_buckets, 0, sizeof(self.latency_buckets))

    def has_flag(self, str name):
        return bool(self.flags & FLAGS[name])

    def flag_names(self, bint include_hidden=False):
        return [n for n, bit in FLAG_NAMES if self.flags & bit and (include_hidden or not bit & HIDDEN_FLAGS)]

    def __repr__(self):
        return f"<CommandSpec {self.name} arity={self.arity}>"
