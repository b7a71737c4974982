"""The workflow service (Amazon States Language) as WF.* commands.

asl/ is the pure interpreter; values.py the keyspace values; manager.py the primary's timer heap;
commands.py the command family."""
from . import commands  # noqa: F401  (registers the WF.* commands)
from .manager import server_started  # noqa: F401

import services as _services  # noqa: E402
from services.workflow import http as _http  # noqa: E402
_services.HTTP_FACADES.append(_http.start)
