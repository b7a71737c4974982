"""Blocking commands (redis 7.0 blocked.c): clients waiting for data on keys, woken by writes.

Contract, shared by every blocking family (lists, sorted sets, streams, the services): a family imports
``engine.blocking`` only; the waiting queues live in the server process (server/blocked.py ``Blocking``,
reached through the ServerContext, engine/context.py):

* ``parse_timeout(c, arg)`` parses a blocking command's seconds timeout exactly as redis 7.0.15
  (getTimeoutFromObjectOrReply: strtold, then ``(long long) ceill(t * 1000)``): relative ms, 0 = forever,
  or None after replying ``ERR timeout is not a float or out of range`` / ``ERR timeout is negative``.
* A blocking handler that finds no data (and ``c.deny_blocking`` is false: inside EXEC or a script it
  answers at once as a timeout) calls
  ``block(c, keys, timeout_ms, argv, value_type=None, ready_check=None, timeout_reply=None)`` and writes no
  reply.  The client stops parsing its input (``c.blocked``) and is queued, FIFO, on every (db id, key).
* A write that may give a waiting client data calls ``signal_key_ready(c, key)`` (cheap when nobody waits
  on the key; redis signals when a list/zset/stream key is created).  Right after the current top-level
  command (a whole MULTI/EXEC or script included) the clients waiting on each ready key are served in
  FIFO order, keys in the order they became ready: a client is served when the key exists, holds a
  value of ``value_type`` (b"list", b"zset"...; by default from the command's COMMAND DOCS group) and
  ``ready_check(db, key)`` (if given) agrees, else non-empty.  Serving re-runs the client's ``argv``
  through ``server.dispatcher.call``; while it runs, ``serving_key(c)`` returns the ready key, so a
  handler can serve that key only, as redis 7.0 does (BLPOP a b served from b when b became ready).  The
  handler pops, replies and rewrites its effect itself (``c.propagate_as``: BLPOP -> LPOP ...).
* If the re-run handler calls ``block`` again (the data was not for it after all), the client stays
  blocked with its original deadline and queue positions, and nothing is replied.
* On timeout, or ``CLIENT UNBLOCK id [TIMEOUT]``, the client gets ``timeout_reply(reply_buffer)``
  (default: a null array, redis's answer for lists, sorted sets and streams); ``CLIENT UNBLOCK id ERROR``
  answers ``-UNBLOCKED client unblocked via CLIENT UNBLOCK``.  A disconnect drops the client from the
  queues, so the next waiter gets the data.
* An unblocked client's reply is written at once; its pipelined input resumes from the event loop
  (redis processUnblockedClients in beforeSleep).

Without a server (a bare engine) ``block`` answers at once as a timeout and ``signal_key_ready`` does nothing.
"""
import re
from fractions import Fraction


UNBLOCKED_ERROR = b"UNBLOCKED client unblocked via CLIENT UNBLOCK"
TIMEOUT_NOT_FLOAT = b"ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = b"ERR timeout is negative"
# the value type a blocking command waits for, by its COMMAND DOCS group, when block() is not told
GROUP_TYPES = {"list": b"list", "sorted-set": b"zset", "stream": b"stream"}
LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)


# ---------------------------------------------------------------------------------------------------
# timeouts: redis parses them as a C long double (x87: 64-bit mantissa) and rounds up to whole ms
# ---------------------------------------------------------------------------------------------------
_DECIMAL = re.compile(rb"([+-]?)(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?\Z")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP]([+-]?\d+))?\Z")
_INFINITY = re.compile(rb"[+-]?(inf|infinity)\Z", re.IGNORECASE)
MAX_LONG_DOUBLE_CHARS = 5 * 1024
# long double range: values beyond these make strtold fail with ERANGE (redis: not a float)
LD_MAX_EXP2 = 16384
LD_MIN_EXP2 = -16445
LD_MIN_NORMAL_EXP2 = -16382


def _round_to_long_double(q):
    """q rounded to the nearest x87 long double (64-bit mantissa, ties to even; subnormals below
    2**-16382 keep a fixed 2**-16445 quantum); None when it overflows to infinity."""
    if q == 0:
        return q
    sign = -1 if q < 0 else 1
    q = abs(q)
    exp = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** exp > q:
        exp -= 1
    exp = max(exp, LD_MIN_NORMAL_EXP2)
    rounded = round(q * Fraction(2) ** (63 - exp)) * Fraction(2) ** (exp - 63)
    if rounded >= Fraction(2) ** LD_MAX_EXP2:
        return None
    return sign * rounded


def _parse_long_double(arg):
    """string2ld: an exact Fraction (or +-inf as a float), None when redis refuses the text."""
    if not arg or len(arg) >= MAX_LONG_DOUBLE_CHARS:
        return None
    m = _DECIMAL.match(arg)
    if m is not None:
        sign, digits, exp = m.group(1), m.group(2), int(m.group(3) or 0)
        whole, _, frac = digits.partition(b".")
        mantissa = int((whole + frac) or b"0")
        exp -= len(frac)
        base = 10
    else:
        m = _HEX.match(arg)
        if m is None:
            if _INFINITY.match(arg):
                return float("-inf") if arg[:1] == b"-" else float("inf")
            return None
        sign, digits, exp = m.group(1), m.group(2), int(m.group(3) or 0)
        whole, _, frac = digits.partition(b".")
        mantissa = int((whole + frac) or b"0", 16)
        exp -= 4 * len(frac)
        base = 2
    if mantissa == 0:
        return Fraction(0)
    # rough binary magnitude first, so that "1e999999999" costs nothing
    magnitude = mantissa.bit_length() + (exp * 3.3219280948873626 if base == 10 else exp)
    if magnitude > LD_MAX_EXP2 + 16 or magnitude < LD_MIN_EXP2 - 16:
        return None                      # ERANGE: overflow, or underflow to zero
    value = _round_to_long_double(Fraction(mantissa) * Fraction(base) ** exp)
    if value is None or value == 0:
        return None                      # ERANGE: overflow, or underflow to zero
    return -value if sign == b"-" else value


def timeout_ms_from_arg(arg):
    """(ms, None) or (None, error text): redis 7.0.15 getTimeoutFromObjectOrReply with UNIT_SECONDS."""
    value = _parse_long_double(arg)
    if value is None:
        return None, TIMEOUT_NOT_FLOAT
    if isinstance(value, float):         # infinities: (long long) of an out-of-range value is LLONG_MIN
        return None, TIMEOUT_NEGATIVE
    product = _round_to_long_double(value * 1000)
    if product is None:
        return None, TIMEOUT_NEGATIVE
    ms = -((-product.numerator) // product.denominator)      # ceill
    if ms < LLONG_MIN or ms > LLONG_MAX:
        ms = LLONG_MIN
    if ms < 0:
        return None, TIMEOUT_NEGATIVE
    return ms, None


def parse_timeout(c, arg):
    """Relative timeout in ms (0 = forever), or None after replying the error."""
    ms, error = timeout_ms_from_arg(arg)
    if error is not None:
        c.error(error)
        return None
    return ms


# ---------------------------------------------------------------------------------------------------
# state
# ---------------------------------------------------------------------------------------------------
class BlockedState:
    """What one blocked client waits for (kept in ``Client.blocked_state``)."""
    __slots__ = ("dbid", "keys", "argv", "spec", "timer", "value_type", "ready_check", "timeout_reply",
                 "serving", "ready_key", "reblocked", "reply_muted")

    def __init__(self, dbid, keys, argv, spec, value_type, ready_check, timeout_reply):
        self.dbid = dbid
        self.keys = keys
        self.argv = argv
        self.spec = spec
        self.timer = None
        self.value_type = value_type
        self.ready_check = ready_check
        self.timeout_reply = timeout_reply
        self.serving = False          # True while the blocked command is being re-run
        self.ready_key = None         # the key being served, during the re-run
        self.reblocked = False
        self.reply_muted = False      # CLIENT REPLY OFF or SKIP applied to the blocked command


def null_array_reply(reply):
    reply.add_null_array()


def block(c, keys, timeout_ms, argv, value_type=None, ready_check=None, timeout_reply=None):
    """Block c until a key in keys is ready (see the module contract). Without a server (bare engine),
    answer at once as a timeout."""
    if c.server is None:
        (timeout_reply or null_array_reply)(c.reply)
        return
    c.server.block(c, keys, timeout_ms, argv, value_type, ready_check, timeout_reply)


def serving_key(c):
    """The key whose data is being offered to c (while its blocked command is re-run), else None."""
    state = c.blocked_state
    return state.ready_key if isinstance(state, BlockedState) else None


def signal_key_ready(c, key):
    server = c.server if c.server is not None else c.ks.server
    if server is not None:
        server.signal_key_ready(c, key)
