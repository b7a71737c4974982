"""Sibling services (queue, topic, shard stream, workflow) as Redis-module-style command families.

Each service is a subpackage here (services/queue/, services/kstream/, services/workflow/...) whose
command files declare their commands with engine.registry's ``@command``, exactly as engine/commands/
families do: importing this package imports every subpackage, so adding a service needs no central edit.
Their data lives in the keyspace as ``ServiceValue`` subclasses (services/base.py), one key per queue,
topic, stream or state machine, so DEL/EXPIRE/RENAME/SCAN TYPE, RDB, AOF and replication apply.
"""
import importlib
import pkgutil

# async start(server) -> [asyncio servers]: the services' optional HTTP facades (sqs-port...), started by the
# server with its other listeners; a service appends its own when imported
HTTP_FACADES = []

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_") and _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")


def started(server):
    """Called by Server.start once the event loop runs: each service subpackage's ``server_started(server)``
    (if it has one) rebuilds its timers from the loaded keys."""
    import sys
    for name, mod in list(sys.modules.items()):
        if name.startswith(__name__ + ".") and name.count(".") == 1:
            hook = getattr(mod, "server_started", None)
            if hook is not None:
                hook(server)
