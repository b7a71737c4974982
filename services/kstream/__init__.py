"""Shard stream service with Kinesis semantics: STREAM.* commands on kstream keys (see commands.py)."""
from services.kstream import commands  # noqa: F401

import services as _services  # noqa: E402
from services.kstream import http as _http  # noqa: E402
_services.HTTP_FACADES.append(_http.start)


def server_started(server):
    commands.server_started(server)
