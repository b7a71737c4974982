"""The narrow view of the server process that command families get as ``c.server``.

A family file (engine/commands/*, services/*) depends on the engine and on this context only; it never
imports ``server``. The process (server/server.py ``Server``) is a ``ServerContext``; a bare engine (unit
tests, tools) has ``c.server is None`` and the helpers in engine/blocking.py answer for that case.

What a family may use of ``c.server``:

* state: ``config`` (get/set, ``on_change``), ``extensions`` (per-family server state by name),
  ``dispatcher``, ``ks``, ``log``, ``slowlog``, ``latency_events``, ``last_save_time``, ``run_id``,
  ``hooks_on_shutdown``, ``active_expire_enabled``;
* actions: the methods below, plus ``pause_clients`` / ``unpause_clients``, ``request_shutdown``,
  ``reset_stats``, ``add_monitor``, ``security_warning``.
"""


class ConfigError(Exception):
    """A configuration error whose message is Redis's exact text.

    * from ``Config.from_argv``: the complete fatal block Redis prints on stderr
      (starts with a newline, ends with one); write ``str(e)`` verbatim and exit 1.
      When ``is_log_message`` is true (e.g. "Fatal error, can't open config file ..."),
      Redis logs it as a warning log line instead: log ``str(e)`` and exit 1.
    * from ``set_many`` / ``rewrite``: the RESP error text including the "ERR " prefix.
    * raised by an ``on_change`` callback: just the reason, e.g. "Unable to listen on
      this port. Check server logs."; ``set_many`` wraps it in Redis's CONFIG SET text.
    """

    def __init__(self, message: str, *, is_log_message: bool = False):
        super().__init__(message)
        self.is_log_message = is_log_message


class ServerContext:
    """The services the server process offers to command families (see the module docstring)."""

    # -- blocking commands (contract in engine/blocking.py)
    def block(self, c, keys, timeout_ms, argv, value_type=None, ready_check=None, timeout_reply=None):
        raise NotImplementedError

    def signal_key_ready(self, c, key):
        """Wake the clients blocked on key: the blocked-clients registry (server/blocked.py) registers itself as
        ``extensions["blocking"]`` when the first client blocks. Compiled writers (XADD) inline this when a
        server does not override it."""
        waiting = self.extensions.get("blocking")
        if waiting is not None:                # cheap when nobody ever blocked
            waiting.signal_key_ready(c, key)

    # -- pub/sub: the server's PubSub (publish, channels, patterns, subscriptions of a client)
    @property
    def pubsub(self):
        raise NotImplementedError

    # -- introspection
    def info_text(self, sections):
        """INFO's text for the lower-cased section names (empty = default)."""
        raise NotImplementedError

    def info_section_provider(self, name):
        """The callable(server) -> [(field, value)] that renders INFO section ``name`` now (a family or a
        peer such as replication/ wraps it to add or replace fields, then installs it in ``info_sections``)."""
        raise NotImplementedError

    def used_memory(self):
        raise NotImplementedError

    def client_memory(self):
        raise NotImplementedError

    def memcached_stats(self, engine, args):
        """The reply bytes of memcached ``stats [group]``."""
        raise NotImplementedError

    def memcached_binary_stats(self, engine, key, opcode, opaque):
        """The binary protocol's STAT response packets (one per stat, then the empty terminator)."""
        raise NotImplementedError

    def memcached_cache_memlimit(self, engine, arg):
        """The reply line of memcached ``cache_memlimit <MB>`` (sets maxmemory)."""
        raise NotImplementedError

    def memcached_config(self, req):
        """The reply bytes of ElastiCache's ``config get|set|delete cluster`` (auto discovery)."""
        raise NotImplementedError

    def memcached_discovery_item(self, with_cas):
        """``get AmazonElastiCache:cluster``'s VALUE block, or None when discovery is not configured."""
        raise NotImplementedError

    # -- connections
    def is_local_client(self, c):
        """True for a client over loopback or a unix socket (what protected configs and protected-mode allow)."""
        return True

    # -- client-side caching: the Tracking state (invalidation tables, redirects), None until first enabled
    def client_tracking(self, create=True):
        return None

    # -- scripting: the ScriptRunner that runs EVAL/FCALL on the server's Lua VM
    def script_runner(self):
        raise NotImplementedError
