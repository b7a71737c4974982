"""The blocking-command API under the name the type families import (``server.blocking``).

The implementation and its contract live in server/blocked.py; this module is the same API, so
``from server.blocking import block, signal_key_ready, parse_timeout, serving_key`` and
``from server import blocked`` reach one Blocking object per server.
"""
from server.blocked import (  # noqa: F401
    Blocking, BlockedState, UNBLOCKED_ERROR, block, blocking_of, null_array_reply, parse_timeout, serving_key,
    signal_key_ready, timeout_ms_from_arg,
)
