"""Keyspace <-> RDB: walks the databases through each value class's ``to_rdb``/``from_rdb``.

The RDB codec (engine/persistence/rdb.py) speaks neutral forms ("hash", [(f, v)...]); this module maps
them to the engine's value classes through a registry ``kind -> class``.  A type registers itself with
one line at import time::

    from engine.persistence.snapshot import register_rdb_kind
    register_rdb_kind("list", ListValue)

Kinds that nobody registered are looked up lazily in ``engine/types/<kind>.py`` (the class whose
``type_name`` is the kind), so a type written after this module needs no edit here.
"""
import importlib
import inspect
import pkgutil
import time

from engine.core import object_idle_ms, object_freq, load_string_run, presize_for_load
from engine.persistence._rdbfast import string_records
from engine.persistence.rdb import (
    EncodingLimits, RdbReader, RdbWriter, RdbError, RDB_VERSION, load_rdb, default_aux,
)

__all__ = ["register_rdb_kind", "register_module_type", "class_for_kind", "value_to_rdb", "value_from_rdb", "encoding_limits",
           "write_keyspace", "load_keyspace", "LoadStats", "RdbError"]

LRU_CLOCK_MAX = (1 << 24) - 1

_CLASSES = {}              # kind -> value class
_FROM_RDB_TAKES_CONFIG = {}  # class -> whether from_rdb accepts the config argument


def register_rdb_kind(kind, cls):
    """Make ``cls.from_rdb`` the loader for RDB values of ``kind`` ("list", "zset", "stream"...)."""
    _CLASSES[kind] = cls


_MODULE_TYPES = {}         # 9-character module type name -> class with load_state(data, encoding_version)


def register_module_type(name, cls):
    """Make ``cls.load_state`` the loader for module values (RDB_TYPE_MODULE_2) of type ``name``: how the
    services' value classes (services/base.py ServiceValue) reach RDB, DUMP/RESTORE and AOF rewrite."""
    _MODULE_TYPES[name] = cls


def _find_in_module(module, kind):
    wanted = kind.encode()
    for obj in vars(module).values():
        if isinstance(obj, type) and getattr(obj, "type_name", None) == wanted and hasattr(obj, "from_rdb"):
            return obj
    return None


def class_for_kind(kind):
    """The value class for a neutral kind: registered, else found in engine.types.<kind> or, failing
    that, in any engine.types module (the class whose type_name is the kind and that has from_rdb)."""
    cls = _CLASSES.get(kind)
    if cls is not None:
        return cls
    import engine.types as types_package
    names = [kind] + sorted(m.name for m in pkgutil.iter_modules(types_package.__path__) if m.name != kind)
    for name in names:
        try:
            module = importlib.import_module("engine.types." + name)
        except ImportError:
            continue
        cls = _find_in_module(module, kind)
        if cls is not None:
            _CLASSES[kind] = cls
            return cls
    raise RdbError("No value type can load RDB values of kind %r" % kind)


def value_to_rdb(value):
    """(kind, neutral form) of an Entry value: strings are bytes, every other type has to_rdb()."""
    if isinstance(value, bytes):
        return "string", value
    if isinstance(value, (bytearray, memoryview)):
        return "string", bytes(value)
    return value.to_rdb()


def value_from_rdb(kind, neutral, config=None):
    """An engine value from a neutral form (the inverse of value_to_rdb)."""
    if kind == "string":
        return bytes(neutral)
    if kind == "module":
        name, encoding_version, state = neutral
        cls = _MODULE_TYPES.get(name)
        if cls is None:
            raise RdbError("The RDB file contains module data I can't load: no matching module type '%s'" % name)
        return cls.load_state(state, encoding_version)
    cls = class_for_kind(kind)
    takes_config = _FROM_RDB_TAKES_CONFIG.get(cls)
    if takes_config is None:
        try:
            params = inspect.signature(cls.from_rdb).parameters
            takes_config = len(params) >= 3 or any(p.kind == p.VAR_POSITIONAL for p in params.values())
        except (TypeError, ValueError):
            takes_config = False
        _FROM_RDB_TAKES_CONFIG[cls] = takes_config
    if takes_config:
        return cls.from_rdb(kind, neutral, config)
    return cls.from_rdb(kind, neutral)


def encoding_limits(config):
    """The compact-encoding thresholds RdbWriter uses, read from the live config."""
    if config is None:
        return EncodingLimits()

    def get(name, default):
        try:
            return config[name]
        except KeyError:
            return default
    return EncodingLimits(
        hash_max_listpack_entries=get("hash-max-listpack-entries", 128),
        hash_max_listpack_value=get("hash-max-listpack-value", 64),
        zset_max_listpack_entries=get("zset-max-listpack-entries", 128),
        zset_max_listpack_value=get("zset-max-listpack-value", 64),
        set_max_intset_entries=get("set-max-intset-entries", 512),
        list_max_listpack_size=get("list-max-listpack-size", -2),
        stream_node_max_bytes=get("stream-node-max-bytes", 4096),
        stream_node_max_entries=get("stream-node-max-entries", 100),
    )


def _policy(config):
    try:
        return config["maxmemory-policy"] if config is not None else "noeviction"
    except KeyError:
        return "noeviction"


def write_keyspace(ks, fileobj, config=None, *, aof_base=False, per_key_delay_us=0, redis_ver="7.0.15",
                   functions=(), extra_aux=None):
    """Write every database of ``ks`` as an RDB (redis rdbSaveRio); returns the number of keys written.

    ``aof_base`` marks the file as an AOF base (the "aof-base" aux field).  ``per_key_delay_us`` is
    redis's hidden rdb-key-save-delay, used by tests to slow a child down.  ``functions`` is the code of
    every function library, written as FUNCTION2 records before the databases (redis rdbSaveFunctions).
    ``extra_aux`` adds aux fields (replication: repl-stream-db, repl-id, repl-offset).
    """
    compress = bool(config["rdbcompression"]) if config is not None else True
    checksum = bool(config["rdbchecksum"]) if config is not None else True
    writer = RdbWriter(fileobj, RDB_VERSION, compress=compress, checksum=checksum,
                       limits=encoding_limits(config))
    aux = default_aux(redis_ver, used_mem=ks.used_memory)
    aux.pop("aof-base", None)
    if extra_aux:
        aux.update(extra_aux)             # redis rdbSaveInfoAuxFields: repl-stream-db, repl-id, repl-offset here
    aux["aof-base"] = 1 if aof_base else 0
    writer.write_header(aux)
    for code in functions:
        writer.write_function(code)
    policy = _policy(config)
    save_lru = "lru" in policy
    save_lfu = "lfu" in policy
    delay = per_key_delay_us / 1e6 if per_key_delay_us and per_key_delay_us > 0 else 0
    written = 0
    write_entry = writer.write_entry
    # plain strings (no LRU/LFU record, no test delay) are encoded in batches by _rdbfast.string_records
    fast = not save_lru and not save_lfu and not delay
    compress_strings = compress
    batch = []
    for db in ks.dbs:
        if not db.size():
            continue
        writer.select_db(db.id, db.size(), db.expires_count())
        for key, e in db.items():
            value = e.value
            if fast and type(value) is bytes:
                batch.append((key, value, e.expire_at))
                if len(batch) >= 2048:
                    writer.write_raw(string_records(batch, compress_strings))
                    batch = []
                written += 1
                continue
            if batch:
                writer.write_raw(string_records(batch, compress_strings))
                batch = []
            kind, neutral = value_to_rdb(value)
            if kind != "string" and not neutral and kind != "stream":
                continue                      # an empty aggregate never reaches disk (redis deletes them)
            expire = e.expire_at if e.expire_at >= 0 else None
            idle = object_idle_ms(ks, e) // 1000 if save_lru else None
            freq = object_freq(ks, e) if save_lfu else None
            write_entry(key, kind, neutral, expire, idle, freq)
            written += 1
            if delay:
                time.sleep(delay)
        if batch:
            writer.write_raw(string_records(batch, compress_strings))
            batch = []
    writer.finish()
    return written


class LoadStats:
    """What a load read: keys loaded and skipped as expired, aux fields, the RDB version."""

    def __init__(self):
        self.keys_loaded = 0
        self.keys_expired = 0
        self.aux = {}
        self.version = None
        self.end_offset = None


def load_keyspace(ks, source, config=None, *, now_ms=None, drop_expired=True, on_aux=None, on_function=None,
                  on_expired=None, on_progress=None, progress=None):
    """Load an RDB (path, bytes or file object) into ``ks`` (redis rdbLoadRio); returns LoadStats.

    ``progress``: a bar (server/progress.py: ``update(n)``, ``total``) told every 4096 keys; its total grows
    by each database's RESIZEDB size as the file announces them.

    ``on_function(code)`` receives each function library (FUNCTION2 record); without it they are skipped.
    Keys already present are replaced.  Expired keys are skipped when ``drop_expired`` (a master
    loading its own file).  Raises RdbError on malformed data; the keyspace then holds what was read
    before the error.
    """
    stats = LoadStats()
    reported = [0]                  # keys told to ``progress`` so far

    def tell():
        progress.update(stats.keys_loaded - reported[0])
        reported[0] = stats.keys_loaded

    if now_ms is None:
        now_ms = int(time.time() * 1000)
    policy = _policy(config)
    use_lfu = "lfu" in policy
    ndbs = len(ks.dbs)
    ks.update_clock()
    lru_clock = ks.lru_clock
    lfu_minutes = (now_ms // 60000) & 65535

    def on_key(dbid, key, kind, neutral, expire_ms, lru_idle, lfu_freq):
        if dbid >= ndbs:
            raise RdbError("FATAL: Data file was created with a Redis server configured to handle more "
                           "than %d databases. Exiting" % ndbs)
        if drop_expired and expire_ms is not None and expire_ms < now_ms:
            stats.keys_expired += 1
            if on_expired is not None:
                on_expired(dbid, key)      # a primary propagates it as DEL (redis RDBFLAGS_FEED_REPL)
            return
        db = ks.dbs[dbid]
        value = neutral if kind == "string" and type(neutral) is bytes else value_from_rdb(kind, neutral, config)
        e = db.load_value(key, value, expire_ms if expire_ms is not None else -1)
        if use_lfu and lfu_freq is not None:
            e.lru = (lfu_minutes << 8) | (lfu_freq & 255)
        elif not use_lfu and lru_idle is not None:
            e.lru = (lru_clock - min(lru_idle, LRU_CLOCK_MAX)) & LRU_CLOCK_MAX
        db.account(key, e)
        stats.keys_loaded += 1
        if progress is not None and stats.keys_loaded - reported[0] >= 4096:
            tell()

    def on_strings(dbid, flat):
        if dbid >= ndbs:
            on_key(dbid, flat[0], "string", flat[1], None, None, None)     # raises the FATAL error
        expired = load_string_run(ks.dbs[dbid], flat, now_ms, drop_expired)      # compiled (engine/core.pyx)
        if expired:
            stats.keys_expired += len(expired)
            if on_expired is not None:
                for key in expired:
                    on_expired(dbid, key)
        stats.keys_loaded += len(flat) // 3 - (len(expired) if expired else 0)
        if progress is not None and stats.keys_loaded - reported[0] >= 4096:
            tell()

    def aux(key, value):
        stats.aux[key] = value
        if on_aux is not None:
            on_aux(key, value)

    def select_db(dbid):
        if dbid >= ndbs:
            raise RdbError("FATAL: Data file was created with a Redis server configured to handle more "
                           "than %d databases. Exiting" % ndbs)

    def resize_db(dbid, size, expires):
        if dbid < ndbs:
            presize_for_load(ks.dbs[dbid], size)
        if progress is not None:
            progress.total = (progress.total or 0) + size
            progress.refresh()

    reader = load_rdb(source, on_aux=aux, on_select_db=select_db, on_key=on_key, on_function=on_function,
                      on_strings=on_strings, on_progress=on_progress,
                      on_resize_db=resize_db)
    if progress is not None:
        tell()
    stats.version = reader.version
    stats.end_offset = reader.end_offset
    return stats


def read_rdb_entries(source):
    """Every (dbid, key, kind, neutral, expire_ms, idle, freq) in an RDB: for tests and tools."""
    return list(RdbReader(source).entries())
