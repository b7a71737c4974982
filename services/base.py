"""The value base class shared by the services' keys (queue, topic, kstream, workflow types).

A service value is an ordinary keyspace value: ``type_name`` is what TYPE and SCAN TYPE answer, and
``dump_state``/``load_state`` give its whole state as bytes, which persistence stores as a module-type
value (RDB_TYPE_MODULE_2 with the 9-character ``rdb_module_name``), so DUMP/RESTORE, RDB and AOF rewrite
carry it and a real redis-server refuses it cleanly (it has no such module).

Subclasses set ``type_name`` and ``rdb_module_name`` and implement the two methods; ``rdb_encoding_version``
(0..1023) lets a later layout load an older one.
"""


class ServiceValue:
    type_name = b"service"            # TYPE reply, e.g. b"queue", b"topic", b"kstream"
    rdb_module_name = "cm-svc---"     # exactly 9 chars from [A-Za-z0-9_-] (redis moduleTypeEncodeId)
    rdb_encoding_version = 0

    def dump_state(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def load_state(cls, data: bytes, encoding_version: int):
        raise NotImplementedError

    def memory_usage(self) -> int:
        """Approximate bytes held (maxmemory accounting, MEMORY USAGE)."""
        return 64
