"""LATENCY (redis latency.c): LATEST, HISTORY, RESET, GRAPH, DOCTOR, HISTOGRAM, HELP.  The samples are
server/latency.py's LatencyMonitor (``server.latency``)."""
from engine.registry import command, container
from engine.commands.connection import reply_help, help_lines


container(
    "latency",
    docs={
        "summary": "A container for latency diagnostics commands",
        "since": "2.8.13",
        "group": "server",
        "complexity": "Depends on subcommand.",
    },
)
@command(
    "latency|latest", 2, "admin noscript loading stale",
    tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    docs={
        "summary": "Return the latest latency samples for all events.",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(1)",
    },
)
def latency_latest_command(c, argv):
    events = c.server.latency.events
    c.reply.add_array_len(len(events))
    for name, ts in events.items():
        t, ms = ts.samples[ts.idx - 1]          # the newest sample (the ring's slot before idx)
        c.reply.add_array_len(4)
        c.reply.add_bulk(name.encode())
        c.reply.add_int(t)
        c.reply.add_int(ms)
        c.reply.add_int(ts.max)



@command(
    "latency|history", 3, "admin noscript loading stale",
    tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    docs={
        "summary": "Return timestamp-latency samples for the event.",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(1)",
        "arguments": [{"name": "event", "type": "string"}],
    },
)
def latency_history_command(c, argv):
    ts = c.server.latency.events.get(argv[2].decode("latin-1"))
    samples = ts.ordered() if ts is not None else []
    c.reply.add_array_len(len(samples))
    for t, ms in samples:
        c.reply.add_array_len(2)
        c.reply.add_int(t)
        c.reply.add_int(ms)



@command(
    "latency|reset", -2, "admin noscript loading stale",
    tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
    docs={
        "summary": "Reset latency data for one or more events.",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(1)",
        "arguments": [{"name": "event", "type": "string", "flags": ["optional", "multiple"]}],
    },
)
def latency_reset_command(c, argv):
    c.reply.add_int(c.server.latency.reset([a.decode("latin-1") for a in argv[2:]]))



@command(
    "latency|histogram", -2, "admin noscript loading stale",
    tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    docs={
        "summary": "Return the cumulative distribution of latencies of a subset of commands or all.",
        "since": "7.0.0",
        "group": "server",
        "complexity": "O(N) where N is the number of commands with latency information being retrieved.",
        "arguments": [{"name": "command", "type": "string", "flags": ["optional", "multiple"]}],
    },
)
def latency_histogram_command(c, argv):
    from engine import registry
    specs = []
    if len(argv) == 2:
        specs = [s for s in registry.all_specs() if s.calls]
    else:
        for name in argv[2:]:
            spec = registry.lookup(name)
            if spec is not None and spec.calls:
                specs.append(spec)
    c.reply.add_map_len(len(specs))
    for spec in specs:
        c.reply.add_bulk(spec.name.encode())
        c.reply.add_map_len(2)
        c.reply.add_bulk(b"calls")
        c.reply.add_int(spec.calls)
        c.reply.add_bulk(b"histogram_usec")
        # one bucket: the mean rounded up to a power of two, since per-call samples are not kept
        mean = max(1, spec.usec // max(1, spec.calls))
        bucket = 1
        while bucket < mean:
            bucket *= 2
        c.reply.add_map_len(1)
        c.reply.add_int(bucket)
        c.reply.add_int(spec.calls)


@command(
    "latency|doctor", 2, "admin noscript loading stale",
    tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    docs={
        "summary": "Return a human readable latency analysis report.",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(1)",
    },
)
def latency_doctor_command(c, argv):
    c.reply.add_verbatim(c.server.latency.report().encode())



@command(
    "latency|graph", 3, "admin noscript loading stale",
    tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    docs={
        "summary": "Return a latency graph for the event.",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(1)",
        "arguments": [{"name": "event", "type": "string"}],
    },
)
def latency_graph_command(c, argv):
    name = argv[2].decode("latin-1")
    ts = c.server.latency.events.get(name)
    if ts is None:
        c.error(b"ERR No samples available for event '" + argv[2] + b"'")
        return
    c.reply.add_verbatim(c.server.latency.graph(name, ts).encode())



@command(
    "latency|help", 2, "loading stale",
    docs={
        "summary": "Show helpful text about the different subcommands.",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(1)",
    },
)
def latency_help_command(c, argv):
    reply_help(c, help_lines("LATENCY", [
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
    ]))
