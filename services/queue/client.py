"""A thin Python client for QUEUE.* and TOPIC.* over redis-py (any redis.Redis connection works).

    import redis
    from services.queue.client import Queue, Topic

    r = redis.Redis(port=6379)
    jobs = Queue(r, "jobs").create(visibility=30)
    jobs.send("hello", attrs={"kind": "greeting", "n": 3})
    for m in jobs.recv(count=10, wait=20):
        print(m.body, m.attrs)
        m.delete()

AWS errors are raised as ``QueueError`` with ``.code`` (``InvalidParameterValue``, ``ReceiptHandleIsInvalid``...).
"""
import redis


class QueueError(Exception):
    def __init__(self, code, message):
        super().__init__("%s %s" % (code, message))
        self.code = code
        self.message = message


def _call(conn, *args):
    try:
        return conn.execute_command(*args)
    except redis.ResponseError as e:
        code, _, msg = str(e).partition(" ")
        raise QueueError(code, msg) from None


def _s(v):
    return v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v


def _attr_args(attrs):
    out = []
    for name, value in (attrs or {}).items():
        if isinstance(value, tuple):
            dtype, value = value
        elif isinstance(value, bytes):
            dtype = "Binary"
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            dtype = "Number"
        else:
            dtype = "String"
        out += ["ATTR", name, dtype, value if isinstance(value, bytes) else str(value)]
    return out


class Message:
    def __init__(self, queue, raw):
        self.queue = queue
        self.id = _s(raw[b"MessageId"])
        self.receipt = raw.get(b"ReceiptHandle")
        self.body = _s(raw[b"Body"])
        self.md5 = _s(raw[b"MD5OfBody"])
        self.system = {_s(k): _s(v) for k, v in raw.get(b"Attributes", {}).items()}
        self.attrs = {}
        for name, a in (raw.get(b"MessageAttributes") or {}).items():
            dtype = _s(a[b"DataType"])
            v = a.get(b"BinaryValue") if b"BinaryValue" in a else _s(a[b"StringValue"])
            if dtype.startswith("Number"):
                v = float(v) if any(ch in v for ch in ".eE") else int(v)
            self.attrs[_s(name)] = v

    @property
    def receive_count(self):
        return int(self.system.get("ApproximateReceiveCount", 0))

    def delete(self):
        return self.queue.delete(self.receipt)

    def nack(self, delay=0):
        return _call(self.queue.conn, "QUEUE.NACK", self.queue.key, self.receipt, "DELAY", delay)

    def change_visibility(self, seconds):
        return _call(self.queue.conn, "QUEUE.CHANGEVIS", self.queue.key, self.receipt, seconds)

    def __repr__(self):
        return "Message(%r, %r)" % (self.id, self.body)


class Queue:
    def __init__(self, conn, key):
        self.conn = conn
        self.key = key

    def create(self, fifo=False, visibility=None, delay=None, retention=None, max_size=None, wait=None,
               dlq=None, max_receive=None, content_dedup=False, **attributes):
        args = ["QUEUE.CREATE", self.key] + (["FIFO"] if fifo else [])
        for opt, v in (("VISIBILITY", visibility), ("DELAY", delay), ("RETENTION", retention),
                       ("MAXSIZE", max_size), ("WAIT", wait)):
            if v is not None:
                args += [opt, v]
        if dlq is not None:
            args += ["DLQ", dlq.key if isinstance(dlq, Queue) else dlq, "MAXRECEIVE", max_receive or 3]
        if content_dedup:
            args.append("CONTENTDEDUP")
        for k, v in attributes.items():
            args += ["ATTR", k, v]
        _call(self.conn, *args)
        return self

    def send(self, body, delay=None, group=None, dedup=None, attrs=None):
        args = ["QUEUE.SEND", self.key, body]
        if delay is not None:
            args += ["DELAY", delay]
        if group is not None:
            args += ["GROUP", group]
        if dedup is not None:
            args += ["DEDUP", dedup]
        rep = _call(self.conn, *(args + _attr_args(attrs)))
        return {_s(k): _s(v) for k, v in rep.items()}

    def send_batch(self, entries):
        """entries: [(id, body) or (id, body, {send options})]; per-entry result dicts."""
        args = ["QUEUE.SENDBATCH", self.key]
        for e in entries:
            eid, body, opts = (e + ({},))[:3]
            args += ["ENTRY", eid, body]
            for opt in ("delay", "group", "dedup"):
                if opts.get(opt) is not None:
                    args += [opt.upper(), opts[opt]]
            args += _attr_args(opts.get("attrs"))
        return [{_s(k): _s(v) for k, v in r.items()} for r in _call(self.conn, *args)]

    def recv(self, count=1, visibility=None, wait=None, attempt=None):
        args = ["QUEUE.RECV", self.key, "COUNT", count]
        if visibility is not None:
            args += ["VISIBILITY", visibility]
        if wait is not None:
            args += ["WAIT", wait]
        if attempt is not None:
            args += ["ATTEMPT", attempt]
        return [Message(self, m) for m in _call(self.conn, *args)]

    def delete(self, *receipts):
        return _call(self.conn, "QUEUE.DELETE", self.key, *receipts)

    def purge(self):
        return _call(self.conn, "QUEUE.PURGE", self.key)

    def drop(self):
        return _call(self.conn, "QUEUE.DROP", self.key)

    def len(self):
        return {_s(k): v for k, v in _call(self.conn, "QUEUE.LEN", self.key).items()}

    def attributes(self, *names):
        return {_s(k): _s(v) for k, v in _call(self.conn, "QUEUE.GETATTR", self.key, *names).items()}

    def set_attributes(self, **attrs):
        args = ["QUEUE.SETATTR", self.key]
        for k, v in attrs.items():
            args += [k, v]
        return _call(self.conn, *args)


class Topic:
    def __init__(self, conn, key):
        self.conn = conn
        self.key = key

    def create(self, fifo=False, content_dedup=False):
        _call(self.conn, "TOPIC.CREATE", self.key, *(["FIFO"] if fifo else []),
              *(["CONTENTDEDUP"] if content_dedup else []))
        return self

    def subscribe_queue(self, queue, raw=False, filter_policy=None):
        return self._subscribe("QUEUE", queue.key if isinstance(queue, Queue) else queue, raw, filter_policy)

    def subscribe_channel(self, channel, raw=False, filter_policy=None):
        return self._subscribe("CHANNEL", channel, raw, filter_policy)

    def _subscribe(self, proto, endpoint, raw, filter_policy):
        import json
        args = ["TOPIC.SUBSCRIBE", self.key, proto, endpoint] + (["RAW"] if raw else [])
        if filter_policy is not None:
            args += ["FILTER", filter_policy if isinstance(filter_policy, str) else json.dumps(filter_policy)]
        return _s(_call(self.conn, *args))

    def unsubscribe(self, arn):
        return _call(self.conn, "TOPIC.UNSUBSCRIBE", self.key, arn)

    def publish(self, message, subject=None, group=None, dedup=None, attrs=None):
        args = ["TOPIC.PUBLISH", self.key, message]
        for opt, v in (("SUBJECT", subject), ("GROUP", group), ("DEDUP", dedup)):
            if v is not None:
                args += [opt, v]
        return {_s(k): _s(v) for k, v in _call(self.conn, *(args + _attr_args(attrs))).items()}
