"""The value base class shared by the services' keys (queue, topic, kstream, workflow types).

A service value is an ordinary keyspace value: ``type_name`` is what TYPE and SCAN TYPE answer, and
``dump_state``/``load_state`` give its whole state as bytes, which persistence stores as a module-type
value (RDB_TYPE_MODULE_2 with the 9-character ``rdb_module_name``), so DUMP/RESTORE, RDB and AOF rewrite
(a RESTORE of the DUMP payload) carry it and a real redis-server refuses it cleanly (it has no such module:
"no matching module type").

Subclasses set ``type_name`` and ``rdb_module_name`` and implement the two methods; defining the subclass
registers it with persistence. ``rdb_encoding_version`` (0..1023) lets a later layout load an older one.
"""
from engine.persistence.rdb import module_type_id
from engine.persistence.snapshot import register_module_type


class ServiceValue:
    type_name = b"service"            # TYPE reply, e.g. b"queue", b"topic", b"kstream"
    rdb_module_name = None            # exactly 9 chars from [A-Za-z0-9_-] (redis moduleTypeEncodeId)
    rdb_encoding_version = 0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("rdb_module_name")
        if name is not None:
            module_type_id(name, cls.rdb_encoding_version)   # refuses a malformed name at import
            register_module_type(name, cls)

    def dump_state(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def load_state(cls, data: bytes, encoding_version: int):
        """The value from dump_state's bytes; raises ValueError on malformed data (RESTORE then answers
        "Bad data format" and an RDB load stops), never returns half a value."""
        raise NotImplementedError

    def memory_usage(self) -> int:
        """Approximate bytes held (maxmemory accounting, MEMORY USAGE)."""
        return 64

    # The dashboard (server/dashboard.py): a short JSON summary for the services list, and a detail view
    # (a workflow returns its execution graph: {"nodes": [{"id", "type", "status"}], "edges": [[from, to]]}).
    def dashboard_summary(self) -> dict:
        return {}

    def dashboard_detail(self) -> dict:
        return self.dashboard_summary()

    # /metrics (server/metrics.py): the families this type exports, name -> (type, help), and its samples,
    # e.g. queue_messages{queue="orders",state="visible"} 3 as ("queue_messages", {"queue": ..., "state": ...}, 3)
    metric_families = {}

    def metric_samples(self, key: str) -> list:
        return []

    # The engine's hooks: persistence's neutral form and the memory estimate (engine/evict.pxi value_cost).
    def to_rdb(self):
        return "module", (self.rdb_module_name, self.rdb_encoding_version, self.dump_state())

    def mem_estimate(self):
        return self.memory_usage()

    def copy(self):
        """COPY: an independent value with the same state."""
        return type(self).load_state(self.dump_state(), self.rdb_encoding_version)

    def encoding(self, config=None):
        return b"raw"                 # OBJECT ENCODING of a module value in redis
