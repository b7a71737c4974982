"""The queue value (TYPE ``queue``): one SQS-semantics queue per key, standard or FIFO.

State is data only (no timers, no clock reads): every timestamp is absolute ms given by the caller, so
the primary and a replica or an AOF replay that apply the same effects (services/queue/commands.py
``QUEUE._*``) hold the same state.  Visibility is a score (ElasticMQ's model): a message is visible when
``visible_at <= now``; it is in flight when it has been received and ``visible_at > now``; it is delayed
when it was never received and ``visible_at > now``.

Standard queues pick messages from a heap of (visible_at, seq, id) with lazy invalidation (an entry is
live while the message exists and still has that visible_at).  FIFO queues keep one deque of ids per
message group, in sequence order; a group is locked while any of its messages is in flight.
"""
import base64
import hashlib
import heapq
import json
import struct
from collections import deque

from services.base import ServiceValue

ARN_PREFIX = "arn:aws:sqs:us-east-1:000000000000:"
DEDUP_WINDOW_MS = 5 * 60 * 1000
ATTEMPT_WINDOW_MS = 5 * 60 * 1000

DEFAULTS = {
    "VisibilityTimeout": "30",
    "DelaySeconds": "0",
    "MessageRetentionPeriod": "345600",
    "MaximumMessageSize": "1048576",
    "ReceiveMessageWaitTimeSeconds": "0",
}
FIFO_DEFAULTS = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}


def queue_arn(key):
    return ARN_PREFIX + key.decode("utf-8", "replace")


def key_from_arn(arn):
    return arn.rsplit(":", 1)[-1].encode()


# ------------------------------------------------------------------------------------------------- MD5s
def md5_body(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()


def md5_attributes(attrs) -> str:
    """SQS MD5OfMessageAttributes: attributes sorted by name; each as name, data type (both 4-byte
    big-endian length-prefixed UTF-8), a transport byte (1 string/number, 2 binary), the length-prefixed
    value."""
    if not attrs:
        return ""
    h = hashlib.md5()
    for name, dtype, value in sorted(attrs, key=lambda a: a[0]):
        nb, tb = name.encode(), dtype.encode()
        h.update(struct.pack(">I", len(nb)) + nb + struct.pack(">I", len(tb)) + tb)
        if dtype.startswith("Binary"):
            h.update(b"\x02" + struct.pack(">I", len(value)) + value)
        else:
            vb = value if isinstance(value, bytes) else value.encode()
            h.update(b"\x01" + struct.pack(">I", len(vb)) + vb)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------ messages
class Message:
    __slots__ = ("id", "body", "attrs", "sent", "visible_at", "count", "first_recv", "receipt", "group",
                 "dedup", "seq", "src", "trace", "fut")

    def __init__(self, id, body, attrs, sent, visible_at, seq, group=None, dedup=None, src=None, trace=None):
        self.id = id                  # str uuid
        self.body = body              # bytes (valid SQS characters, UTF-8)
        self.attrs = attrs            # list of (name, type, value: str, bytes for Binary*)
        self.sent = sent              # ms
        self.visible_at = visible_at  # ms
        self.count = 0                # ApproximateReceiveCount
        self.first_recv = 0           # ms, 0 = never received
        self.receipt = None           # str: the latest receipt handle
        self.group = group
        self.dedup = dedup
        self.seq = seq                # int, increasing per queue
        self.src = src                # DeadLetterQueueSourceArn
        self.trace = trace            # AWSTraceHeader
        self.fut = None               # QueueValue's counters: INFLIGHT/DELAYED while counted as not yet visible

    def to_json(self):
        return [self.id, self.body.decode("utf-8", "surrogatepass"),
                [[n, t, base64.b64encode(v).decode() if t.startswith("Binary") else v] for n, t, v in self.attrs],
                self.sent, self.visible_at, self.count, self.first_recv, self.receipt, self.group, self.dedup,
                self.seq, self.src, self.trace]

    @classmethod
    def from_json(cls, j):
        (mid, body, attrs, sent, vis, count, first, receipt, group, dedup, seq, src, trace) = j
        m = cls(mid, body.encode("utf-8", "surrogatepass"),
                [(n, t, base64.b64decode(v) if t.startswith("Binary") else v) for n, t, v in attrs],
                int(sent), int(vis), int(seq), group, dedup, src, trace)
        m.count, m.first_recv, m.receipt = int(count), int(first), receipt
        return m

    def size(self):
        return len(self.body) + sum(len(n) + len(t) + len(v) for n, t, v in self.attrs)


INFLIGHT, DELAYED = 1, 2
TASK_LOAD_GEN = [0]     # bumped when a queue with a RUNNING move task is loaded (commands.MoveTasks)


class QueueValue(ServiceValue):
    """A queue. LEN and /metrics read per-state counters kept incrementally (no walk of the messages):
    every message not yet visible at ``clock`` is counted as in flight or delayed and has an entry in the
    ``timeline`` heap; ``counts(now)`` moves the entries due by ``now`` to visible (an amortised O(log n)
    per message per transition), and subtracts the messages past retention that the timer has not dropped
    yet, found from the oldest end (plus the few messages put out of send order, moved ones). A ``now``
    before ``clock`` (the wall clock stepped back) falls back to the walk. Every mutation goes through
    put / lease / set_visible / remove / purge, which keep the counters, so effects, AOF replay and RDB
    load (which re-puts every message) leave them right."""
    type_name = b"queue"
    rdb_module_name = "cmqueue01"

    def __init__(self, attrs=None, fifo=False):
        self.fifo = fifo
        self.attrs = dict(DEFAULTS)
        if fifo:
            self.attrs.update(FIFO_DEFAULTS)
        if attrs:
            self.attrs.update(attrs)
        self.messages = {}            # id -> Message, in sequence order
        self.heap = []                # standard: (visible_at, seq, id), lazily invalidated
        self.groups = {}              # FIFO: group -> deque of ids in sequence order
        self.dedup = {}               # dedup key -> [message id, seq, expires_ms]
        self.attempts = {}            # FIFO receive attempt id -> [expires_ms, [ids], [receipts]]
        self.next_seq = 1
        self.last_purge = 0
        self.bytes = 0
        self.tasks = []               # the last move tasks (MOVETASK START), newest first
        self.clock = 0                # counters: states are as of this time (ms)
        self.timeline = []            # (visible_at, seq, id, kind) of messages counted as not yet visible
        self.n_future = [0, 0, 0]     # [unused, in flight, delayed] as of clock
        self.max_sent = 0             # the latest send time put so far
        self.out_of_order = set()     # ids put with a send time older than max_sent (moved messages)

    # ---------------------------------------------------------------------------------- configuration
    def num(self, name):
        return int(self.attrs.get(name, DEFAULTS.get(name, "0")))

    @property
    def visibility_ms(self):
        return self.num("VisibilityTimeout") * 1000

    @property
    def delay_ms(self):
        return self.num("DelaySeconds") * 1000

    @property
    def retention_ms(self):
        return self.num("MessageRetentionPeriod") * 1000

    def redrive(self):
        """(dlq key, maxReceiveCount) or None."""
        raw = self.attrs.get("RedrivePolicy")
        if not raw:
            return None
        pol = json.loads(raw)
        return key_from_arn(pol["deadLetterTargetArn"]), int(pol["maxReceiveCount"])

    # ---------------------------------------------------------------------------------- mutations (effects)
    def put(self, m: Message):
        """Add a message (QUEUE._PUT); idempotent by id."""
        if m.id in self.messages:
            return False
        self.messages[m.id] = m
        self.bytes += m.size()
        if m.sent < self.max_sent:
            self.out_of_order.add(m.id)
        else:
            self.max_sent = m.sent
        m.fut = None
        self._account(m)
        if m.seq >= self.next_seq:
            self.next_seq = m.seq + 1
        if self.fifo:
            self.groups.setdefault(m.group, deque()).append(m.id)
        else:
            heapq.heappush(self.heap, (m.visible_at, m.seq, m.id))
        if m.dedup is not None:
            self.dedup[self.dedup_key(m.group, m.dedup)] = [m.id, m.seq, m.sent + DEDUP_WINDOW_MS]
        return True

    def dedup_key(self, group, dedup):
        if self.fifo and self.attrs.get("DeduplicationScope") == "messageGroup":
            return "%s\x00%s" % (group, dedup)
        return dedup

    def remove(self, mid):
        """Delete a message (QUEUE._DEL); idempotent. The dedup record stays for its 5 minutes."""
        m = self.messages.pop(mid, None)
        if m is None:
            return None
        self.bytes -= m.size()
        self._unaccount(m)
        if self.out_of_order:
            self.out_of_order.discard(mid)
        if self.fifo:
            q = self.groups.get(m.group)
            if q is not None:
                if q and q[0] == mid:
                    q.popleft()
                else:
                    try:
                        q.remove(mid)
                    except ValueError:
                        pass
                if not q:
                    del self.groups[m.group]
        return m

    def lease(self, mid, receipt, visible_at, count, first_recv):
        """A receive of one message (QUEUE._LEASE), with absolute values: idempotent."""
        m = self.messages.get(mid)
        if m is None:
            return None
        self._unaccount(m)
        m.receipt, m.count, m.first_recv = receipt, count, first_recv
        self.set_visible(m, visible_at)
        return m

    def set_visible(self, m, visible_at):
        self._unaccount(m)
        m.visible_at = visible_at
        self._account(m)
        if not self.fifo:
            heapq.heappush(self.heap, (visible_at, m.seq, m.id))

    def purge(self, at_ms):
        self.messages.clear()
        self.heap.clear()
        self.groups.clear()
        self.attempts.clear()
        self.bytes = 0
        self.last_purge = at_ms
        self.timeline.clear()
        self.n_future = [0, 0, 0]
        self.out_of_order.clear()

    # ---------------------------------------------------------------------------------- state counters
    def _account(self, m):
        if m.visible_at > self.clock:
            kind = INFLIGHT if m.count > 0 and m.receipt is not None else DELAYED
            m.fut = kind
            self.n_future[kind] += 1
            heapq.heappush(self.timeline, (m.visible_at, m.seq, m.id, kind))
            if len(self.timeline) > 2 * (self.n_future[1] + self.n_future[2]) + 64:
                self._compact()            # stale entries (re-leased, deleted) when nobody asks for counts

    def _compact(self):
        self.timeline = [(m.visible_at, m.seq, m.id, m.fut) for m in self.messages.values() if m.fut is not None]
        heapq.heapify(self.timeline)

    def _unaccount(self, m):
        if m.fut is not None:
            self.n_future[m.fut] -= 1      # its timeline entry goes stale (skipped when due)
            m.fut = None

    def _advance(self, now):
        timeline, msgs = self.timeline, self.messages
        while timeline and timeline[0][0] <= now:
            vis, _seq, mid, kind = heapq.heappop(timeline)
            m = msgs.get(mid)
            if m is not None and m.fut == kind and m.visible_at == vis:
                self.n_future[kind] -= 1
                m.fut = None
        self.clock = now
        if len(timeline) > 2 * (self.n_future[1] + self.n_future[2]) + 64:
            self._compact()

    def _expired_by_state(self, now, out):
        """Take the messages past retention off ``out`` (as counted at ``now``): from the oldest end of
        the send-ordered messages, then the out-of-order ones."""
        retention = self.retention_ms
        ooo = self.out_of_order
        for m in self.messages.values():
            if m.id in ooo:
                continue
            if m.sent + retention > now:
                break
            out[self.state_of(m, now)] -= 1
        for mid in ooo:
            m = self.messages[mid]
            if m.sent + retention <= now:
                out[self.state_of(m, now)] -= 1
    def gc(self, now):
        """Forget dedup records and receive attempts past their window (no effect: they carry absolute
        expiry times, so a replica that keeps them longer answers the same)."""
        if len(self.dedup) > 64:
            for k in [k for k, v in self.dedup.items() if v[2] <= now]:
                del self.dedup[k]
        if self.attempts:
            for k in [k for k, v in self.attempts.items() if v[0] <= now]:
                del self.attempts[k]
        if len(self.heap) > 64 and len(self.heap) > 4 * len(self.messages) + 64:
            self.heap = [(m.visible_at, m.seq, m.id) for m in self.messages.values()]
            heapq.heapify(self.heap)

    def expire_oldest(self, now, limit=100):
        """Drop up to limit messages past the retention period from the oldest end (messages are kept in
        sequence order, which is send order but for moved messages, which the receive path still catches).
        Returns the removed ids, for the caller's QUEUE._DEL effect."""
        out = []
        retention = self.retention_ms
        for m in self.messages.values():
            if len(out) >= limit or m.sent + retention > now:
                break
            out.append(m.id)
        for mid in out:
            self.remove(mid)
        return out

    # ---------------------------------------------------------------------------------- queries (pure)
    def expired(self, m, now):
        return m.sent + self.retention_ms <= now

    def dedup_hit(self, group, dedup, now):
        rec = self.dedup.get(self.dedup_key(group, dedup))
        if rec is not None and rec[2] > now:
            return rec
        return None

    def state_of(self, m, now):
        if m.visible_at <= now:
            return "visible"
        return "inflight" if m.count > 0 and m.receipt is not None else "delayed"

    def counts(self, now):
        """{visible, inflight, delayed} at ``now``, from the counters (see the class doc)."""
        if now < self.clock:
            return self.counts_by_walk(now)
        self._advance(now)
        inflight, delayed = self.n_future[INFLIGHT], self.n_future[DELAYED]
        out = {"visible": len(self.messages) - inflight - delayed, "inflight": inflight, "delayed": delayed}
        self._expired_by_state(now, out)
        return out

    def counts_by_walk(self, now):
        """The same by looking at every message (the reference the counters are tested against)."""
        out = {"visible": 0, "inflight": 0, "delayed": 0}
        for m in self.messages.values():
            if not self.expired(m, now):
                out[self.state_of(m, now)] += 1
        return out

    def _heap_top(self):
        heap, msgs = self.heap, self.messages
        while heap:
            vis, seq, mid = heap[0]
            m = msgs.get(mid)
            if m is not None and m.visible_at == vis:
                return heap[0]
            heapq.heappop(heap)
        return None

    def has_visible(self, now):
        if self.fifo:
            for q in self.groups.values():
                if self._no_inflight(q, now) and self.messages[q[0]].visible_at <= now:
                    return True
            return False
        top = self._heap_top()
        return top is not None and top[0] <= now

    def _no_inflight(self, q, now):
        msgs = self.messages
        for mid in q:
            m = msgs[mid]
            if m.receipt is None:
                return True
            if m.visible_at > now:
                return False
        return True

    def next_change(self, now):
        """The earliest time after now at which a message becomes visible (for long-poll timers)."""
        best = None
        if self.fifo:
            for q in self.groups.values():
                for mid in q:
                    m = self.messages[mid]
                    if m.visible_at > now and (best is None or m.visible_at < best):
                        best = m.visible_at
                    if m.receipt is None:
                        break
            return best
        for vis, seq, mid in self.heap:
            if vis > now:
                m = self.messages.get(mid)
                if m is not None and m.visible_at == vis and (best is None or vis < best):
                    best = vis
        return best

    def pick(self, now, count):
        """(ids to deliver, ids expired by retention): no mutation of message state, but heap entries of
        picked messages are popped (they are pushed back by lease)."""
        picked, expired = [], []
        if self.fifo:
            for q in list(self.groups.values()):
                if len(picked) >= count:
                    break
                if not self._no_inflight(q, now):
                    continue
                for mid in q:
                    m = self.messages[mid]
                    if m.visible_at > now:
                        break
                    if self.expired(m, now):
                        expired.append(mid)
                        continue
                    picked.append(mid)
                    if len(picked) >= count:
                        break
            return picked, expired
        heap = self.heap
        while len(picked) < count:
            top = self._heap_top()
            if top is None or top[0] > now:
                break
            heapq.heappop(heap)
            m = self.messages[top[2]]
            (expired if self.expired(m, now) else picked).append(m.id)
        return picked, expired

    def peek(self, now, count, states):
        out = []
        for m in self.messages.values():
            if len(out) >= count:
                break
            if not self.expired(m, now) and self.state_of(m, now) in states:
                out.append(m)
        return out

    # ---------------------------------------------------------------------------------- persistence
    def dump_state(self) -> bytes:
        return json.dumps({
            "v": 1, "fifo": self.fifo, "attrs": self.attrs, "next_seq": self.next_seq,
            "last_purge": self.last_purge, "dedup": self.dedup, "attempts": self.attempts, "tasks": self.tasks,
            "messages": [m.to_json() for m in self.messages.values()],
        }, separators=(",", ":")).encode()

    @classmethod
    def load_state(cls, data: bytes, encoding_version: int):
        try:
            j = json.loads(data)
            q = cls(j["attrs"], bool(j["fifo"]))
            q.attrs = {str(k): str(v) for k, v in j["attrs"].items()}
            for mj in j["messages"]:
                q.put(Message.from_json(mj))
            q.dedup = {str(k): [str(v[0]), int(v[1]), int(v[2])] for k, v in j["dedup"].items()}
            q.attempts = {str(k): [int(v[0]), list(v[1]), list(v[2])] for k, v in j["attempts"].items()}
            q.next_seq = max(q.next_seq, int(j["next_seq"]))
            q.last_purge = int(j["last_purge"])
            q.tasks = [dict(t) for t in j.get("tasks", [])]
            if any(t.get("Status") == "RUNNING" for t in q.tasks):
                TASK_LOAD_GEN[0] += 1           # the move-task timer re-finds the running tasks
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError("bad queue payload: %s" % exc) from None
        return q

    # /metrics and the dashboard (services/base.py hooks); a reader at the wall clock, like LEN
    metric_families = {"queue_messages": ("gauge", "Messages in a queue by state (visible, inflight, delayed)")}

    def metric_samples(self, key):
        from engine.core import now_ms
        return [("queue_messages", {"queue": key, "state": st}, n) for st, n in self.counts(now_ms()).items()]

    def dashboard_summary(self):
        from engine.core import now_ms
        out = {"kind": "fifo" if self.fifo else "standard"}
        out.update(self.counts(now_ms()))
        pol = self.redrive()
        if pol is not None:
            out["dlq"] = pol[0].decode("utf-8", "replace")
            out["maxReceiveCount"] = pol[1]
        return out

    def memory_usage(self) -> int:
        return 512 + self.bytes + 200 * len(self.messages) + 100 * len(self.dedup)

    def __len__(self):
        return len(self.messages)
