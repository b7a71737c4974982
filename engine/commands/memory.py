"""MEMORY commands (redis object.c memoryCommand) over the keyspace's memory accounting."""
from engine.core import memory_usage
from engine.registry import command, container
from engine.reply import add_value
from engine.commands.connection import reply_help, help_lines
from protocol.resp import parse_ll


container(
    "memory",
    docs={
        "summary": "A container for memory diagnostics commands",
        "since": "4.0.0",
        "group": "server",
        "complexity": "Depends on subcommand.",
    },
)
@command(
    "memory|usage", -3, "readonly", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Estimate the memory usage of a key",
        "since": "4.0.0",
        "group": "server",
        "complexity": "O(N) where N is the number of samples.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "count", "type": "integer", "token": "SAMPLES", "flags": ["optional"]},
        ],
    },
)
def memory_usage_command(c, argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3].lower() != b"samples"):
        c.error(b"ERR syntax error")
        return
    if len(argv) == 5 and parse_ll(argv[4]) is None:
        c.error(b"ERR value is not an integer or out of range")
        return
    e = c.db.lookup_write(argv[2])
    if e is None:
        c.reply.add_null()
        return
    c.reply.add_int(memory_usage(argv[2], e))


def stats_pairs(server):
    ks = server.ks
    used = server.used_memory()
    startup = server.startup_rss
    keys = ks.key_count()
    pairs = [
        (b"peak.allocated", max(getattr(server, "peak_memory", 0), used)), (b"total.allocated", used),
        (b"startup.allocated", startup), (b"replication.backlog", 0), (b"clients.slaves", 0),
        (b"clients.normal", server.client_memory()), (b"cluster.links", 0), (b"aof.buffer", 0),
        (b"lua.caches", 0), (b"functions.caches", 0),
    ]
    for db in ks.dbs:
        if db.size():
            pairs.append((b"db.%d" % db.id, [(b"overhead.hashtable.main", db.size() * 57),
                                             (b"overhead.hashtable.expires", db.expires_count() * 8)]))
    pairs += [
        (b"overhead.total", server.client_memory()), (b"keys.count", keys),
        (b"keys.bytes-per-key", ks.used_memory // keys if keys else 0), (b"dataset.bytes", ks.used_memory),
        (b"dataset.percentage", 100.0 if used else 0.0),
        (b"peak.percentage", 100.0 * used / max(1, getattr(server, "peak_memory", used) or used)),
        (b"fragmentation", (server.rss_bytes() - startup) / used if used else 1.0),
    ]
    return pairs


def as_map(pairs):
    """stats_pairs' (name, value) lists, nested, as dicts in order (engine/reply.py turns them into maps)."""
    return {k: as_map(v) if isinstance(v, list) else v for k, v in pairs}


@command(
    "memory|stats", 2, "",
    tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    docs={"summary": "Show memory usage details", "since": "4.0.0", "group": "server", "complexity": "O(1)"},
)
def memory_stats_command(c, argv):
    add_value(c.reply, as_map(stats_pairs(c.server)))


@command(
    "memory|doctor", 2, "",
    tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    docs={
        "summary": "Outputs memory problems report",
        "since": "4.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def memory_doctor_command(c, argv):
    ks = c.ks
    if ks.used_memory < 5 * 1024 * 1024:
        text = ("Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used "
                "in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam "
                "and I will be back to our programming as soon as I finished rebooting.")
    elif ks.maxmemory and ks.used_memory > ks.maxmemory:
        text = ("Sam, I detected a few issues in this Cachemere instance memory implants:\n\n"
                " * High memory usage: used memory is above maxmemory; keys are being evicted "
                f"(policy {c.server.config['maxmemory-policy']}).\n")
    else:
        text = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
    c.reply.add_verbatim(text.encode())


@command(
    "memory|malloc-stats", 2, "",
    tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    docs={
        "summary": "Show allocator internal stats",
        "since": "4.0.0",
        "group": "server",
        "complexity": "Depends on how much memory is allocated, could be slow",
    },
)
def memory_malloc_stats_command(c, argv):
    c.reply.add_verbatim(b"Stats not supported for the current allocator")


@command(
    "memory|purge", 2, "",
    tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    docs={
        "summary": "Ask the allocator to release memory",
        "since": "4.0.0",
        "group": "server",
        "complexity": "Depends on how much memory is allocated, could be slow",
    },
)
def memory_purge_command(c, argv):
    import gc
    gc.collect()
    c.reply.add_ok()


@command(
    "memory|help", 2, "loading stale",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "4.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
)
def memory_help_command(c, argv):
    reply_help(c, help_lines("MEMORY", [
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
    ]))
