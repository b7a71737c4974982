"""QUEUE.*: SQS semantics on a keyspace value (services/queue/value.py).

Every write is propagated as explicit, idempotent effects carrying resolved ids, receipts and absolute
timestamps (``QUEUE._CONF``, ``_PUT``, ``_LEASE``, ``_VIS``, ``_DEL``, ``_PURGE``), so AOF replay and
replicas never read the clock, draw ids or pick messages. Errors carry the AWS error name.
"""
import base64
import hashlib
import json
import os
import re
import uuid

from engine import blocking
from engine.registry import command, container
from engine.reply import add_value
from services.queue.common import (AwsError, declare, dumps, emit_effects, empty_array, fail, find_value,
                                   invalid, key_arg, lookup, parse_int, signal, tok, wake_at)
from services.queue.value import (ATTEMPT_WINDOW_MS, Message, QueueValue, key_from_arn, md5_attributes,
                                  md5_body, queue_arn)

NO_QUEUE = AwsError("QueueDoesNotExist", "The specified queue does not exist.")
MAX_BATCH = 10
MAX_ATTRS = 10
TWELVE_HOURS_MS = 43200 * 1000
ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,256}\Z")
BATCH_ID_RE = re.compile(rb"[A-Za-z0-9_\-]{1,80}\Z")
DEDUP_RE = re.compile(rb"[\x21-\x7e]{1,128}\Z")
# SQS body characters: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF
BAD_CHARS_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
INVALID_CHARS = AwsError("InvalidMessageContents",
                         "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
                         "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")

# attribute -> (lo, hi) for the numeric ones SetQueueAttributes accepts
NUM_ATTRS = {"VisibilityTimeout": (0, 43200), "DelaySeconds": (0, 900), "MessageRetentionPeriod": (60, 1209600),
             "MaximumMessageSize": (1024, 1048576), "ReceiveMessageWaitTimeSeconds": (0, 20)}
SETTABLE = set(NUM_ATTRS) | {"RedrivePolicy", "RedriveAllowPolicy", "Policy", "KmsMasterKeyId",
                             "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "ContentBasedDeduplication",
                             "DeduplicationScope", "FifoThroughputLimit"}
FIFO_ONLY = {"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
READ_ONLY_ATTRS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                   "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn"]
ALL_ATTR_NAMES = set(SETTABLE) | set(READ_ONLY_ATTRS) | {"FifoQueue", "All"}


def s(b):
    return b.decode("utf-8", "surrogateescape")


# ================================================================================ attribute validation
def validate_attrs(c, key, fifo, attrs, existing=None):
    """Check SQS queue attributes (name -> str); raises AwsError. Returns the normalised dict."""
    out = {}
    for name, value in attrs.items():
        if name == "FifoQueue":
            if existing is not None:
                raise AwsError("InvalidAttributeName", "Unknown Attribute FifoQueue.")
            continue
        if name not in SETTABLE:
            raise AwsError("InvalidAttributeName", "Unknown Attribute %s." % name)
        if name in FIFO_ONLY and not fifo:
            raise AwsError("InvalidAttributeName", "Unknown Attribute %s." % name)
        if name in NUM_ATTRS:
            lo, hi = NUM_ATTRS[name]
            if not re.fullmatch(r"-?\d{1,12}", value) or not lo <= int(value) <= hi:
                raise AwsError("InvalidAttributeValue", "Invalid value for the parameter %s." % name)
            value = str(int(value))
        elif name == "ContentBasedDeduplication":
            if value.lower() not in ("true", "false"):
                raise AwsError("InvalidAttributeValue", "Invalid value for the parameter %s." % name)
            value = value.lower()
        elif name == "DeduplicationScope":
            if value not in ("messageGroup", "queue"):
                raise AwsError("InvalidAttributeValue", "Invalid value for the parameter %s." % name)
        elif name == "FifoThroughputLimit":
            if value not in ("perQueue", "perMessageGroupId"):
                raise AwsError("InvalidAttributeValue", "Invalid value for the parameter %s." % name)
        elif name == "RedrivePolicy":
            if value == "":
                out[name] = ""
                continue
            try:
                pol = json.loads(value)
                arn, mrc = pol["deadLetterTargetArn"], int(pol["maxReceiveCount"])
            except (ValueError, KeyError, TypeError):
                raise AwsError("InvalidParameterValue", "Value %s for parameter RedrivePolicy is invalid. Reason: "
                               "Redrive policy is not a dict or valid json." % value)
            if not 1 <= mrc <= 1000:
                raise AwsError("InvalidParameterValue", "Value %s for parameter RedrivePolicy is invalid. Reason: "
                               "Invalid value for maxReceiveCount: %s, valid values are from 1 to 1000 both "
                               "inclusive." % (value, pol["maxReceiveCount"]))
            dlq = find_value(c, key_from_arn(str(arn)), QueueValue)
            if dlq is None:
                raise AwsError("InvalidParameterValue", "Value %s for parameter RedrivePolicy is invalid. Reason: "
                               "Dead-letter target does not exist." % value)
            if dlq.fifo != fifo:
                raise AwsError("InvalidParameterValue", "Value %s for parameter RedrivePolicy is invalid. Reason: "
                               "Dead-letter queue must be same type of queue as the source." % value)
            allow = json.loads(dlq.attrs.get("RedriveAllowPolicy") or '{"redrivePermission": "allowAll"}')
            perm = allow.get("redrivePermission")
            if perm == "denyAll" or (perm == "byQueue" and queue_arn(key) not in allow.get("sourceQueueArns", [])):
                raise AwsError("InvalidParameterValue", "Value %s for parameter RedrivePolicy is invalid. Reason: "
                               "The dead-letter queue's RedriveAllowPolicy does not allow %s as a source queue."
                               % (value, queue_arn(key)))
            value = json.dumps({"deadLetterTargetArn": str(arn), "maxReceiveCount": mrc}, separators=(",", ":"))
        elif name == "RedriveAllowPolicy":
            try:
                pol = json.loads(value)
                perm = pol["redrivePermission"]
                arns = pol.get("sourceQueueArns", [])
                ok = perm in ("allowAll", "denyAll") or (perm == "byQueue" and isinstance(arns, list)
                                                        and 1 <= len(arns) <= 10)
            except (ValueError, KeyError, TypeError, AttributeError):
                ok = False
            if not ok:
                raise AwsError("InvalidAttributeValue", "Invalid value for the parameter RedriveAllowPolicy.")
        out[name] = value
    return out


# ================================================================================ message validation
def parse_msg_attrs(pairs):
    """[(name, type, value bytes)] -> [(name, type, str|bytes)], checked as SQS does."""
    if len(pairs) > MAX_ATTRS:
        raise invalid("Number of message attributes [%d] exceeds the allowed maximum [%d]." % (len(pairs), MAX_ATTRS))
    out, seen = [], set()
    for name_b, type_b, value in pairs:
        name, dtype = s(name_b), s(type_b)
        if (not ATTR_NAME_RE.match(name) or name.startswith(".") or name.endswith(".") or ".." in name
                or name.lower().startswith(("aws.", "amazon."))):
            raise invalid("Message (user) attribute '%s' is invalid." % name)
        if name in seen:
            raise invalid("Message (user) attribute name '%s' is repeated." % name)
        seen.add(name)
        base = dtype.split(".", 1)[0]
        if base not in ("String", "Number", "Binary") or len(dtype) > 256:
            raise invalid("The type of message (user) attribute '%s' is invalid. You must use only the "
                          "following supported type prefixes: Binary, Number, String." % name)
        if not value:
            raise invalid("Message (user) attribute '%s' must contain a non-empty value of type '%s'." % (name, base))
        if base == "Binary":
            out.append((name, dtype, bytes(value)))
            continue
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise INVALID_CHARS
        if BAD_CHARS_RE.search(text):
            raise INVALID_CHARS
        if base == "Number":
            try:
                float(text)
            except ValueError:
                raise invalid("Can't cast the value of message (user) attribute '%s' to a number." % name)
        out.append((name, dtype, text))
    return out


def check_body(body):
    if not body:
        raise AwsError("MissingParameter", "The request must contain the parameter MessageBody.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise INVALID_CHARS
    if BAD_CHARS_RE.search(text):
        raise INVALID_CHARS


def parse_send_opts(argv, i, end):
    """Options of one message: DELAY s, GROUP g, DEDUP id, ATTR name type value, TRACE v."""
    o = {"delay": None, "group": None, "dedup": None, "attrs": [], "trace": None}
    while i < end:
        opt = argv[i].upper()
        if opt == b"DELAY" and i + 1 < end:
            o["delay"] = parse_int(argv[i + 1], "DelaySeconds", 0, 900,
                                   "DelaySeconds must be >= 0 and <= 900.")
            i += 2
        elif opt == b"GROUP" and i + 1 < end:
            o["group"] = argv[i + 1]
            i += 2
        elif opt == b"DEDUP" and i + 1 < end:
            o["dedup"] = argv[i + 1]
            i += 2
        elif opt == b"TRACE" and i + 1 < end:
            o["trace"] = s(argv[i + 1])
            i += 2
        elif opt == b"ATTR" and i + 3 < end:
            o["attrs"].append((argv[i + 1], argv[i + 2], argv[i + 3]))
            i += 4
        else:
            raise AwsError("ERR", "syntax error")
    return o


def prepare_message(q, body, o, now):
    """Validate one message for queue q; returns (Message or None, reply dict). A FIFO dedup hit returns
    (None, the original's reply). Raises AwsError."""
    check_body(body)
    attrs = parse_msg_attrs(o["attrs"])
    size = len(body) + sum(len(n) + len(t) + len(v if isinstance(v, bytes) else v.encode()) for n, t, v in attrs)
    maxsize = q.num("MaximumMessageSize")
    if size > maxsize:
        raise invalid("One or more parameters are invalid. Reason: Message must be shorter than %d bytes." % maxsize)
    group = dedup = None
    if q.fifo:
        if o["delay"] is not None and o["delay"] != 0:
            raise invalid("Value %d for parameter DelaySeconds is invalid. Reason: The request include parameter "
                          "that is not valid for this queue type." % o["delay"])
        if o["group"] is None:
            raise AwsError("MissingParameter", "The request must contain the parameter MessageGroupId.")
        if not DEDUP_RE.match(o["group"]):
            raise invalid("Value %s for parameter MessageGroupId is invalid. Reason: MessageGroupId can only "
                          "include alphanumeric and punctuation characters. 1 to 128 in length." % s(o["group"]))
        group = s(o["group"])
        if o["dedup"] is not None:
            if not DEDUP_RE.match(o["dedup"]):
                raise invalid("Value %s for parameter MessageDeduplicationId is invalid. Reason: "
                              "MessageDeduplicationId can only include alphanumeric and punctuation characters. "
                              "1 to 128 in length." % s(o["dedup"]))
            dedup = s(o["dedup"])
        elif q.attrs.get("ContentBasedDeduplication") == "true":
            dedup = hashlib.sha256(body).hexdigest()
        else:
            raise invalid("The queue should either have ContentBasedDeduplication enabled or "
                          "MessageDeduplicationId provided explicitly")
        hit = q.dedup_hit(group, dedup, now)
        if hit is not None:
            return None, send_reply(hit[0], body, attrs, hit[1], True)
    else:
        if o["dedup"] is not None:
            raise invalid("Value %s for parameter MessageDeduplicationId is invalid. Reason: The request include "
                          "parameter that is not valid for this queue type." % s(o["dedup"]))
        if o["group"] is not None:
            if not DEDUP_RE.match(o["group"]):
                raise invalid("Value %s for parameter MessageGroupId is invalid." % s(o["group"]))
            group = s(o["group"])            # fair queues: a tenant id on a standard queue
    delay = (o["delay"] if o["delay"] is not None else q.num("DelaySeconds")) * 1000
    m = Message(str(uuid.uuid4()), body, attrs, now, now + delay, q.next_seq, group, dedup, None, o["trace"])
    return m, send_reply(m.id, body, attrs, m.seq, q.fifo)


def send_reply(mid, body, attrs, seq, fifo):
    out = {"MessageId": mid, "MD5OfMessageBody": md5_body(body)}
    if attrs:
        out["MD5OfMessageAttributes"] = md5_attributes(attrs)
    if fifo:
        out["SequenceNumber"] = "%020d" % seq
    return out


def put_effect(key, msgs):
    return [b"QUEUE._PUT", key] + [dumps(m.to_json()) for m in msgs]


def after_put(c, key, q, msgs, now):
    """Wake long polls: at once for visible messages, by timer for delayed ones."""
    if any(m.visible_at <= now for m in msgs):
        signal(c, key)
    later = [m.visible_at for m in msgs if m.visible_at > now]
    if later:
        wake_at(c, key, min(later))


# ================================================================================ receipts
def make_receipt(mid):
    return base64.urlsafe_b64encode(("%s:%s" % (mid, os.urandom(12).hex())).encode()).decode()


def parse_receipt(receipt):
    bad = AwsError("ReceiptHandleIsInvalid",
                   'The input receipt handle "%s" is not a valid receipt handle.' % s(receipt)[:1024])
    try:
        mid, nonce = base64.urlsafe_b64decode(receipt).decode().split(":")
        uuid.UUID(mid)
        bytes.fromhex(nonce)
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    return mid


def leased_message(q, receipt, now):
    """The message a receipt names and still holds; None when the message is gone (deleting it again is
    a success, as in SQS). Raises ReceiptHandleIsInvalid for a malformed or stale receipt."""
    mid = parse_receipt(receipt)
    m = q.messages.get(mid)
    if m is None:
        return None
    rs = s(receipt)
    if m.receipt != rs or (q.fifo and m.visible_at <= now):
        raise AwsError("ReceiptHandleIsInvalid", "The receipt handle has expired.")
    return m


# ================================================================================ message replies
def message_reply(q, m):
    attrs = {"SenderId": "000000000000", "SentTimestamp": str(m.sent),
             "ApproximateReceiveCount": str(m.count),
             "ApproximateFirstReceiveTimestamp": str(m.first_recv)}
    if m.group is not None:
        attrs["MessageGroupId"] = m.group
    if q.fifo:
        attrs["MessageDeduplicationId"] = m.dedup
        attrs["SequenceNumber"] = "%020d" % m.seq
    if m.src is not None:
        attrs["DeadLetterQueueSourceArn"] = m.src
    if m.trace is not None:
        attrs["AWSTraceHeader"] = m.trace
    out = {"MessageId": m.id, "ReceiptHandle": m.receipt, "MD5OfBody": md5_body(m.body), "Body": m.body,
           "Attributes": attrs}
    if m.attrs:
        out["MD5OfMessageAttributes"] = md5_attributes(m.attrs)
        out["MessageAttributes"] = {
            n: ({"DataType": t, "BinaryValue": v} if t.startswith("Binary") else {"DataType": t, "StringValue": v})
            for n, t, v in m.attrs}
    return out


# ================================================================================ CREATE / attributes
CREATE_OPTS = {b"VISIBILITY": "VisibilityTimeout", b"DELAY": "DelaySeconds", b"RETENTION": "MessageRetentionPeriod",
               b"MAXSIZE": "MaximumMessageSize", b"WAIT": "ReceiveMessageWaitTimeSeconds"}


def parse_create(c, argv):
    key = argv[1]
    fifo = key.endswith(b".fifo")
    attrs = {}
    dlq = maxrecv = None
    i = 2
    while i < len(argv):
        opt = argv[i].upper()
        if opt == b"FIFO":
            fifo_flag = True
            if not key.endswith(b".fifo"):
                raise invalid("The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                              "underscores, must end with .fifo suffix and be 1 to 80 in length.")
            fifo = fifo_flag
            i += 1
        elif opt in CREATE_OPTS and i + 1 < len(argv):
            attrs[CREATE_OPTS[opt]] = s(argv[i + 1])
            i += 2
        elif opt == b"DLQ" and i + 3 < len(argv) and argv[i + 2].upper() == b"MAXRECEIVE":
            dlq, maxrecv = argv[i + 1], s(argv[i + 3])
            i += 4
        elif opt == b"CONTENTDEDUP":
            attrs["ContentBasedDeduplication"] = "true"
            i += 1
        elif opt == b"DEDUPSCOPE" and i + 1 < len(argv):
            attrs["DeduplicationScope"] = {b"QUEUE": "queue", b"GROUP": "messageGroup"}.get(argv[i + 1].upper(), s(argv[i + 1]))
            i += 2
        elif opt == b"THROUGHPUT" and i + 1 < len(argv):
            attrs["FifoThroughputLimit"] = {b"QUEUE": "perQueue", b"GROUP": "perMessageGroupId"}.get(
                argv[i + 1].upper(), s(argv[i + 1]))
            i += 2
        elif opt == b"ATTR" and i + 2 < len(argv):
            attrs[s(argv[i + 1])] = s(argv[i + 2])
            i += 3
        else:
            raise AwsError("ERR", "syntax error")
    if dlq is not None:
        if not re.fullmatch(r"\d{1,6}", maxrecv):
            maxrecv = "0"
        attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": queue_arn(dlq), "maxReceiveCount": int(maxrecv)})
    return fifo, validate_attrs(c, key, fifo, attrs)


def conf_effect(key, q):
    return [b"QUEUE._CONF", key, dumps({"fifo": q.fifo, "attrs": q.attrs})]


@declare("queue.create", -2, "write denyoom", "Create a queue (SQS CreateQueue), idempotent when the attributes match",
         [key_arg(), tok("FIFO", "pure-token"), tok("VISIBILITY", "integer"), tok("DELAY", "integer"),
          tok("RETENTION", "integer"), tok("MAXSIZE", "integer"), tok("WAIT", "integer"),
          tok("DLQ", "string"), tok("MAXRECEIVE", "integer"), tok("CONTENTDEDUP", "pure-token"),
          tok("DEDUPSCOPE", "string"), tok("THROUGHPUT", "string"), tok("ATTR", "string", multiple=True)])
def queue_create(c, argv):
    key = argv[1]
    try:
        fifo, attrs = parse_create(c, argv)
    except AwsError as err:
        if err.name == "ERR":
            c.error(b"ERR syntax error")
        else:
            fail(c, err)
        return
    e = c.db.lookup_write(key)
    if e is not None:
        q = e.value
        if not isinstance(q, QueueValue):
            fail(c, AwsError("QueueNameExists", "A key of another type exists with the name %s." % s(key)))
            return
        for name, value in attrs.items():
            if q.attrs.get(name) != value:
                fail(c, AwsError("QueueNameExists", "A queue already exists with the same name and a different "
                                 "value for attribute %s" % name))
                return
        if q.fifo != fifo:
            fail(c, AwsError("QueueNameExists", "A queue already exists with the same name and a different "
                             "value for attribute FifoQueue"))
            return
        c.reply.add_ok()
        return
    now = c.ks.now_ms
    q = QueueValue(attrs, fifo)
    q.attrs["CreatedTimestamp"] = q.attrs["LastModifiedTimestamp"] = str(now // 1000)
    c.db.add(key, q)
    c.dirty += 1
    c.propagate_as(conf_effect(key, q))
    c.reply.add_ok()


@declare("queue.setattr", -4, "write denyoom", "Set queue attributes (SQS SetQueueAttributes), all or none",
         [key_arg(), {"name": "data", "type": "block", "flags": ["multiple"],
                      "arguments": [{"name": "attribute", "type": "string"}, {"name": "value", "type": "string"}]}])
def queue_setattr(c, argv):
    if len(argv) % 2:
        c.error(b"ERR syntax error")
        return
    q = lookup(c, argv[1], QueueValue, True, NO_QUEUE)
    if q is None:
        return
    try:
        attrs = validate_attrs(c, argv[1], q.fifo, {s(argv[i]): s(argv[i + 1]) for i in range(2, len(argv), 2)}, q.attrs)
    except AwsError as err:
        fail(c, err)
        return
    for k, v in attrs.items():
        if k == "RedrivePolicy" and v == "":
            q.attrs.pop(k, None)
        else:
            q.attrs[k] = v
    q.attrs["LastModifiedTimestamp"] = str(c.ks.now_ms // 1000)
    c.dirty += 1
    c.propagate_as(conf_effect(argv[1], q))
    c.reply.add_ok()


@declare("queue.getattr", -2, "readonly", "Queue attributes (SQS GetQueueAttributes) including the Approximate counts",
         [key_arg(), {"name": "attribute", "type": "string", "flags": ["optional", "multiple"]}], readonly=True)
def queue_getattr(c, argv):
    q = lookup(c, argv[1], QueueValue, False, NO_QUEUE)
    if q is None:
        return
    names = [s(a) for a in argv[2:]] or ["All"]
    for n in names:
        if n not in ALL_ATTR_NAMES:
            fail(c, AwsError("InvalidAttributeName", "Unknown Attribute %s." % n))
            return
    counts = q.counts(c.ks.now_ms)
    full = dict(q.attrs)
    full.update({"ApproximateNumberOfMessages": str(counts["visible"]),
                 "ApproximateNumberOfMessagesNotVisible": str(counts["inflight"]),
                 "ApproximateNumberOfMessagesDelayed": str(counts["delayed"]),
                 "QueueArn": queue_arn(argv[1])})
    if "All" not in names:
        full = {k: v for k, v in full.items() if k in names}
    add_value(c.reply, dict(sorted(full.items())))


@declare("queue.list", -1, "readonly", "Queues of the current database (SQS ListQueues)",
         [tok("PREFIX", "string")])
def queue_list(c, argv):
    prefix = b""
    if len(argv) == 3 and argv[1].upper() == b"PREFIX":
        prefix = argv[2]
    elif len(argv) != 1:
        c.error(b"ERR syntax error")
        return
    out = []
    for key in c.db.key_list():
        if key.startswith(prefix):
            e = c.db.find(key)
            if e is not None and isinstance(e.value, QueueValue):
                out.append(key)
    add_value(c.reply, sorted(out))


@declare("queue.drop", 2, "write", "Delete a queue and its messages (SQS DeleteQueue)", [key_arg()])
def queue_drop(c, argv):
    q = lookup(c, argv[1], QueueValue, True, NO_QUEUE)
    if q is None:
        return
    c.db.delete(argv[1])
    c.dirty += 1
    c.propagate_as([b"DEL", argv[1]])
    c.reply.add_ok()


# ================================================================================ SEND
@declare("queue.send", -3, "write denyoom", "Send a message (SQS SendMessage)",
         [key_arg(), {"name": "body", "type": "string"}, tok("DELAY", "integer"), tok("GROUP", "string"),
          tok("DEDUP", "string"), tok("TRACE", "string"), tok("ATTR", "string", multiple=True)])
def queue_send(c, argv):
    key = argv[1]
    q = lookup(c, key, QueueValue, True, NO_QUEUE)
    if q is None:
        return
    now = c.ks.now_ms
    try:
        o = parse_send_opts(argv, 3, len(argv))
        m, rep = prepare_message(q, argv[2], o, now)
    except AwsError as err:
        c.error(b"ERR syntax error") if err.name == "ERR" else fail(c, err)
        return
    if m is not None:
        q.gc(now)
        effects = retention_effects(key, q, now)
        q.put(m)
        effects.append(put_effect(key, [m]))
        c.dirty += len(effects)
        emit_effects(c, effects)
        after_put(c, key, q, [m], now)
    add_value(c.reply, rep)


def retention_effects(key, q, now):
    """Messages past the retention period, dropped from the oldest end by a write (a primary's decision,
    propagated as QUEUE._DEL like redis's expiry DEL)."""
    gone = q.expire_oldest(now)
    return [[b"QUEUE._DEL", key] + [mid.encode() for mid in gone]] if gone else []


@declare("queue.sendbatch", -5, "write denyoom", "Send up to 10 messages with per-entry results (SQS SendMessageBatch)",
         [key_arg(), {"name": "entry", "type": "block", "token": "ENTRY", "flags": ["multiple"],
                      "arguments": [{"name": "id", "type": "string"}, {"name": "body", "type": "string"}]}])
def queue_sendbatch(c, argv):
    key = argv[1]
    q = lookup(c, key, QueueValue, True, NO_QUEUE)
    if q is None:
        return
    starts = [i for i in range(2, len(argv)) if argv[i].upper() == b"ENTRY" and i + 2 < len(argv)]
    if not starts or starts[0] != 2:
        c.error(b"ERR syntax error")
        return
    # an ENTRY token inside an option's value would be ambiguous: entries are cut at ENTRY tokens that
    # follow a complete option list
    entries, i = [], 2
    while i < len(argv):
        if argv[i].upper() != b"ENTRY" or i + 2 >= len(argv):
            c.error(b"ERR syntax error")
            return
        eid, body, j = argv[i + 1], argv[i + 2], i + 3
        while j < len(argv) and argv[j].upper() != b"ENTRY":
            j += {b"ATTR": 4}.get(argv[j].upper(), 2)
        if j > len(argv):
            c.error(b"ERR syntax error")
            return
        entries.append((eid, body, i + 3, j))
        i = j
    try:
        check_batch_shape([e[0] for e in entries], sum(len(e[1]) for e in entries))
    except AwsError as err:
        fail(c, err)
        return
    now = c.ks.now_ms
    q.gc(now)
    results, puts = [], []
    for eid, body, a, b in entries:
        try:
            o = parse_send_opts(argv, a, b)
            m, rep = prepare_message(q, body, o, now)
        except AwsError as err:
            if err.name == "ERR":
                err = invalid("Invalid options for entry %s." % s(eid))
            results.append({"Id": s(eid), "SenderFault": 1, "Code": err.name, "Message": err.message})
            continue
        if m is not None:
            q.put(m)
            puts.append(m)
        rep = dict(rep)
        rep["Id"] = s(eid)
        results.append(rep)
    if puts:
        effects = retention_effects(key, q, now) + [put_effect(key, puts)]
        c.dirty += len(effects)
        emit_effects(c, effects)
        after_put(c, key, q, puts, now)
    add_value(c.reply, results)


def check_batch_shape(ids, total=0, limit=1048576):
    if not ids:
        raise AwsError("EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request.")
    if len(ids) > MAX_BATCH:
        raise AwsError("TooManyEntriesInBatchRequest",
                       "Maximum number of entries per request are %d. You have sent %d." % (MAX_BATCH, len(ids)))
    seen = set()
    for eid in ids:
        if not BATCH_ID_RE.match(eid):
            raise AwsError("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, "
                           "hyphens and underscores. It can be at most 80 letters long.")
        if eid in seen:
            raise AwsError("BatchEntryIdsNotDistinct", "Id %s repeated." % s(eid))
        seen.add(eid)
    if total > limit:
        raise AwsError("BatchRequestTooLong",
                       "Batch requests cannot be longer than %d bytes. You have sent %d bytes." % (limit, total))


# ================================================================================ RECV
def queue_ready_check(db, key):
    e = db.find(key)
    return e is not None and isinstance(e.value, QueueValue) and e.value.has_visible(db.ks.now_ms)


def parse_recv(argv, q):
    count, vis, wait, attempt = 1, None, None, None
    i = 2
    while i < len(argv):
        opt = argv[i].upper()
        if i + 1 >= len(argv):
            raise AwsError("ERR", "syntax error")
        if opt == b"COUNT":
            count = parse_int(argv[i + 1], "MaxNumberOfMessages", 1, 10, "Must be between 1 and 10, if provided.")
        elif opt == b"VISIBILITY":
            vis = parse_int(argv[i + 1], "VisibilityTimeout", 0, 43200)
        elif opt == b"WAIT":
            wait = parse_int(argv[i + 1], "WaitTimeSeconds", 0, 20)
        elif opt == b"ATTEMPT":
            attempt = s(argv[i + 1])
            if not re.fullmatch(r"[\x21-\x7e]{1,128}", attempt):
                raise invalid("Value %s for parameter ReceiveRequestAttemptId is invalid. Reason: "
                              "ReceiveRequestAttemptId can only include alphanumeric and punctuation characters. "
                              "1 to 128 in length." % attempt)
        else:
            raise AwsError("ERR", "syntax error")
        i += 2
    if wait is None:
        wait = q.num("ReceiveMessageWaitTimeSeconds")
    if vis is None:
        vis = q.num("VisibilityTimeout")
    return count, vis * 1000, wait * 1000, attempt


def redrive_moves(c, key, q, ids, now, effects):
    """Messages received maxReceiveCount times go to the DLQ on this receive attempt (as SQS does)."""
    pol = q.redrive()
    if pol is None:
        return ids
    dlq_key, maxrecv = pol
    dlq = find_value(c, dlq_key, QueueValue) if dlq_key != key else None
    if dlq is None:
        return ids
    keep, moved = [], []
    for mid in ids:
        m = q.messages[mid]
        if m.count >= maxrecv:
            q.remove(mid)
            nm = Message(m.id, m.body, m.attrs, m.sent, now, dlq.next_seq, m.group, m.dedup, queue_arn(key), m.trace)
            nm.count, nm.first_recv = m.count, m.first_recv
            dlq.put(nm)
            moved.append(nm)
        else:
            keep.append(mid)
    if moved:
        effects.append([b"QUEUE._DEL", key] + [m.id.encode() for m in moved])
        effects.append(put_effect(dlq_key, moved))
        signal(c, dlq_key)
    return keep


def lease_messages(c, key, q, count, vis_ms, attempt, now, effects):
    """Pick and lease up to count messages of q (retention drops and DLQ moves first); appends the effects,
    returns the leased messages."""
    effects += retention_effects(key, q, now)
    picked, expired = q.pick(now, count)
    for mid in expired:
        q.remove(mid)
    if expired:
        effects.append([b"QUEUE._DEL", key] + [mid.encode() for mid in expired])
    picked = redrive_moves(c, key, q, picked, now, effects)
    out = []
    if picked:
        lease = [b"QUEUE._LEASE", key]
        for mid in picked:
            m = q.messages[mid]
            q.lease(mid, make_receipt(mid), now + vis_ms, m.count + 1, m.first_recv or now)
            lease += [mid.encode(), m.receipt.encode(), b"%d" % m.visible_at, b"%d" % m.count, b"%d" % m.first_recv]
            out.append(m)
        if attempt is not None and q.fifo:
            q.attempts[attempt] = [now + ATTEMPT_WINDOW_MS, [m.id for m in out], [m.receipt for m in out]]
            lease += [b"ATTEMPT", attempt.encode(), b"%d" % (now + ATTEMPT_WINDOW_MS)]
        effects.append(lease)
        if vis_ms == 0:
            signal(c, key)
        else:
            wake_at(c, key, now + vis_ms)
    return out


@declare("queue.recv", -2, "write blocking", "Receive messages, leasing them for the visibility timeout; long polls "
         "with WAIT (SQS ReceiveMessage)",
         [key_arg(), tok("COUNT", "integer"), tok("VISIBILITY", "integer"), tok("WAIT", "integer"),
          tok("ATTEMPT", "string")])
def queue_recv(c, argv):
    key = argv[1]
    q = lookup(c, key, QueueValue, True, NO_QUEUE)
    if q is None:
        return
    try:
        count, vis_ms, wait_ms, attempt = parse_recv(argv, q)
    except AwsError as err:
        c.error(b"ERR syntax error") if err.name == "ERR" else fail(c, err)
        return
    now = c.ks.now_ms
    q.gc(now)
    if attempt is not None and q.fifo:
        cached = q.attempts.get(attempt)
        if cached is not None and cached[0] > now:
            msgs = [q.messages.get(mid) for mid in cached[1]]
            msgs = [m for m, r in zip(msgs, cached[2]) if m is not None and m.receipt == r and m.visible_at > now]
            if msgs:
                add_value(c.reply, [message_reply(q, m) for m in msgs])
                return
    effects = []
    out = lease_messages(c, key, q, count, vis_ms, attempt, now, effects)
    if effects:
        c.dirty += len(effects)
        emit_effects(c, effects)
    if out or wait_ms == 0 or c.deny_blocking:
        add_value(c.reply, [message_reply(q, m) for m in out])
        return
    blocking.block(c, [key], wait_ms, argv, value_type=b"queue", ready_check=queue_ready_check,
                   timeout_reply=empty_array)
    wake_at(c, key, q.next_change(now))


def mrecv_keys(argv):
    for i in range(1, len(argv)):
        if argv[i].upper() == b"FROM":
            return list(range(i + 1, len(argv)))
    return []


@command("queue.mrecv", -5, "write blocking", acl="keyspace", getkeys=mrecv_keys,
         key_specs=[{"flags": ["RW", "update"], "begin_search": {"type": "keyword", "spec": {"keyword": "FROM",
                                                                                          "startfrom": 1}},
                     "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}}}],
         docs={"summary": "Receive from the first of several queues that has messages, blocking up to TIMEOUT ms "
                          "(Disque GETJOB style); replies [queue, messages] or an empty array",
               "since": "1.0.0", "group": "module", "complexity": "O(K + N) for K queues and N messages",
               "arguments": [{"name": "timeout", "type": "integer", "token": "TIMEOUT"}, tok("COUNT", "integer"),
                             tok("VISIBILITY", "integer"),
                             {"name": "key", "type": "key", "key_spec_index": 0, "token": "FROM",
                              "flags": ["multiple"]}]})
def queue_mrecv(c, argv):
    positions = mrecv_keys(argv)
    if not positions or argv[1].upper() != b"TIMEOUT":
        c.error(b"ERR syntax error")
        return
    count, vis = 1, None
    try:
        timeout_ms = parse_int(argv[2], "TIMEOUT", 0, 20000)
        i = 3
        while i < positions[0] - 1:
            opt = argv[i].upper()
            if opt == b"COUNT" and i + 1 < positions[0] - 1:
                count = parse_int(argv[i + 1], "MaxNumberOfMessages", 1, 10, "Must be between 1 and 10, if provided.")
            elif opt == b"VISIBILITY" and i + 1 < positions[0] - 1:
                vis = parse_int(argv[i + 1], "VisibilityTimeout", 0, 43200)
            else:
                raise AwsError("ERR", "syntax error")
            i += 2
    except AwsError as err:
        c.error(b"ERR syntax error") if err.name == "ERR" else fail(c, err)
        return
    keys = [argv[p] for p in positions]
    queues = []
    for key in keys:
        qv = lookup(c, key, QueueValue, True, NO_QUEUE)
        if qv is None:
            return
        queues.append((key, qv))
    now = c.ks.now_ms
    serving = blocking.serving_key(c)
    effects = []
    for key, qv in queues:
        if serving is not None and key != serving:
            continue
        if not qv.has_visible(now):
            continue
        out = lease_messages(c, key, qv, count, (qv.num("VisibilityTimeout") if vis is None else vis) * 1000,
                             None, now, effects)
        if out:
            c.dirty += len(effects)
            emit_effects(c, effects)
            add_value(c.reply, [key, [message_reply(qv, m) for m in out]])
            return
    if effects:
        c.dirty += len(effects)
        emit_effects(c, effects)
    if timeout_ms == 0 or c.deny_blocking:
        c.reply.add_array_len(0)
        return
    blocking.block(c, keys, timeout_ms, argv, value_type=b"queue", ready_check=queue_ready_check,
                   timeout_reply=empty_array)
    for key, qv in queues:
        wake_at(c, key, qv.next_change(now))


# ================================================================================ DELETE / visibility
def per_handle(c, key, q, handles, apply):
    """Run apply(m) for each receipt; a single handle answers OK or its error, several an array."""
    now = c.ks.now_ms
    results, touched = [], []
    for h in handles:
        try:
            m = leased_message(q, h, now)
            results.append(apply(m, now) if m is not None else "OK")
            if m is not None:
                touched.append(m)
        except AwsError as err:
            results.append(err)
    return results, touched


def answer_handles(c, results, single):
    if single:
        r = results[0]
        if isinstance(r, AwsError):
            fail(c, r)
        else:
            c.reply.add_simple(b"OK")
        return
    c.reply.add_array_len(len(results))
    for r in results:
        if isinstance(r, AwsError):
            c.reply.add_error(r.text())
        else:
            c.reply.add_simple(b"OK")


@declare("queue.delete", -3, "write", "Delete received messages by receipt handle (SQS DeleteMessage[Batch])",
         [key_arg(), {"name": "receipt", "type": "string", "flags": ["multiple"]}])
def queue_delete(c, argv):
    key = argv[1]
    q = lookup(c, key, QueueValue, True, NO_QUEUE)
    if q is None:
        return
    if len(argv) - 2 > MAX_BATCH:
        fail(c, AwsError("TooManyEntriesInBatchRequest", "Maximum number of entries per request are %d. You have "
                         "sent %d." % (MAX_BATCH, len(argv) - 2)))
        return
    results, touched = per_handle(c, key, q, argv[2:], lambda m, now: "OK")
    for m in touched:
        q.remove(m.id)
    if touched:
        c.dirty += 1
        c.propagate_as([b"QUEUE._DEL", key] + [m.id.encode() for m in touched])
        if q.fifo:
            signal(c, key)             # the group may be unlocked
    answer_handles(c, results, len(argv) == 3)


def change_visibility(c, key, q, pairs):
    now = c.ks.now_ms
    results, effect = [], [b"QUEUE._VIS", key]
    due = []
    for h, secs in pairs:
        try:
            m = leased_message(q, h, now)
            if m is None or m.visible_at <= now:
                raise AwsError("MessageNotInflight",
                               "Message does not exist or is not available for visibility timeout change.")
            v = parse_int(secs, "VisibilityTimeout", 0, 43200)
            if now + v * 1000 - m.first_recv > TWELVE_HOURS_MS:
                raise invalid("Value %d for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout "
                              "for the message is beyond the limit [43200 seconds]" % v)
        except AwsError as err:
            results.append(err)
            continue
        q.set_visible(m, now + v * 1000)
        effect += [m.id.encode(), b"%d" % m.visible_at]
        due.append(m.visible_at)
        results.append("OK")
    if len(effect) > 2:
        c.dirty += 1
        c.propagate_as(effect)
        if any(d <= now for d in due):
            signal(c, key)
        later = [d for d in due if d > now]
        if later:
            wake_at(c, key, min(later))
    return results


@declare("queue.changevis", -4, "write", "Change the visibility timeout of received messages "
         "(SQS ChangeMessageVisibility[Batch])",
         [key_arg(), {"name": "data", "type": "block", "flags": ["multiple"],
                      "arguments": [{"name": "receipt", "type": "string"}, {"name": "seconds", "type": "integer"}]}])
def queue_changevis(c, argv):
    if len(argv) % 2:
        c.error(b"ERR syntax error")
        return
    q = lookup(c, argv[1], QueueValue, True, NO_QUEUE)
    if q is None:
        return
    pairs = [(argv[i], argv[i + 1]) for i in range(2, len(argv), 2)]
    if len(pairs) > MAX_BATCH:
        fail(c, AwsError("TooManyEntriesInBatchRequest", "Maximum number of entries per request are %d. You have "
                         "sent %d." % (MAX_BATCH, len(pairs))))
        return
    answer_handles(c, change_visibility(c, argv[1], q, pairs), len(pairs) == 1)


@declare("queue.nack", -3, "write", "Give a received message back, visible now or after DELAY seconds",
         [key_arg(), {"name": "receipt", "type": "string"}, tok("DELAY", "integer")])
def queue_nack(c, argv):
    q = lookup(c, argv[1], QueueValue, True, NO_QUEUE)
    if q is None:
        return
    delay = b"0"
    if len(argv) == 5 and argv[3].upper() == b"DELAY":
        delay = argv[4]
    elif len(argv) != 3:
        c.error(b"ERR syntax error")
        return
    answer_handles(c, change_visibility(c, argv[1], q, [(argv[2], delay)]), True)


# ================================================================================ PURGE / LEN / PEEK
@declare("queue.purge", 2, "write", "Delete every message of a queue (SQS PurgeQueue, once per 60 s)", [key_arg()])
def queue_purge(c, argv):
    q = lookup(c, argv[1], QueueValue, True, NO_QUEUE)
    if q is None:
        return
    now = c.ks.now_ms
    if q.last_purge and now - q.last_purge < 60000:
        fail(c, AwsError("PurgeQueueInProgress", "Only one PurgeQueue operation on %s is allowed every 60 seconds."
                         % s(argv[1])))
        return
    q.purge(now)
    c.dirty += 1
    c.propagate_as([b"QUEUE._PURGE", argv[1], b"%d" % now])
    c.reply.add_ok()


@declare("queue.len", 2, "readonly", "Message counts {visible, inflight, delayed}", [key_arg()], readonly=True,
         complexity="O(1) amortised: per-state counters kept by every effect")
def queue_len(c, argv):
    q = lookup(c, argv[1], QueueValue, False, NO_QUEUE)
    if q is None:
        return
    add_value(c.reply, q.counts(c.ks.now_ms))


@declare("queue.peek", -2, "readonly", "Messages without receiving them (visibility unchanged)",
         [key_arg(), tok("COUNT", "integer"), tok("STATE", "string")], readonly=True)
def queue_peek(c, argv):
    q = lookup(c, argv[1], QueueValue, False, NO_QUEUE)
    if q is None:
        return
    count, states = 10, {"visible"}
    i = 2
    try:
        while i < len(argv):
            opt = argv[i].upper()
            if opt == b"COUNT" and i + 1 < len(argv):
                count = parse_int(argv[i + 1], "COUNT", 1, 1000)
            elif opt == b"STATE" and i + 1 < len(argv):
                st = argv[i + 1].lower().decode("latin-1")
                if st not in ("visible", "inflight", "delayed", "all"):
                    raise AwsError("ERR", "syntax error")
                states = {"visible", "inflight", "delayed"} if st == "all" else {st}
            else:
                raise AwsError("ERR", "syntax error")
            i += 2
    except AwsError as err:
        c.error(b"ERR syntax error") if err.name == "ERR" else fail(c, err)
        return
    now = c.ks.now_ms
    out = []
    for m in q.peek(now, count, states):
        r = message_reply(q, m)
        r.pop("ReceiptHandle")
        r["State"] = q.state_of(m, now)
        out.append(r)
    add_value(c.reply, out)


# ================================================================================ DLQ tools
@declare("queue.dlqsources", 2, "readonly", "Queues whose RedrivePolicy targets this queue "
         "(SQS ListDeadLetterSourceQueues)", [key_arg()], readonly=True)
def queue_dlqsources(c, argv):
    if lookup(c, argv[1], QueueValue, False, NO_QUEUE) is None:
        return
    out = []
    for key in c.db.key_list():
        e = c.db.find(key)
        if e is not None and isinstance(e.value, QueueValue):
            pol = e.value.redrive()
            if pol is not None and pol[0] == argv[1]:
                out.append(key)
    add_value(c.reply, sorted(out))


KEY2_RW = [{"flags": ["RW", "update"], "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}]
KEY2_RO = [{"flags": ["RO", "access"], "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}]
container("queue.movetask", docs={"summary": "Dead-letter queue move tasks (SQS Start/List/CancelMessageMoveTask)",
                                  "since": "1.0.0", "group": "module", "complexity": "Depends on subcommand."})


def _task_source(c, src_key):
    e = c.db.lookup_write(src_key)
    if e is None or not isinstance(e.value, QueueValue):
        fail(c, AwsError("ResourceNotFoundException", "The resource that you specified for the SourceArn parameter "
                         "doesn't exist."))
        return None
    return e.value


@command("queue.movetask|start", -3, "write", acl="keyspace", keys=(2, 2, 1), key_specs=KEY2_RW,
         docs={"summary": "Move the messages of a dead-letter queue back to their source queues or to DEST; "
                          "without MAXRATE the task runs to completion at once, with MAXRATE n it moves at most n "
                          "messages a second (the primary's timer, as SQS does)", "since": "1.0.0",
               "group": "module", "complexity": "O(N) with N the messages moved",
               "arguments": [key_arg("source"), tok("DEST", "key", "destination"), tok("MAXRATE", "integer")]})
def queue_movetask_start(c, argv):
    src_key = argv[2]
    dest_key = None
    rate = None
    i = 3
    while i < len(argv):
        opt = argv[i].upper()
        if opt == b"DEST" and i + 1 < len(argv):
            dest_key = argv[i + 1]
        elif opt == b"MAXRATE" and i + 1 < len(argv):
            try:
                rate = parse_int(argv[i + 1], "MaxNumberOfMessagesPerSecond", 1, 500)
            except AwsError as err:
                fail(c, err)
                return
        else:
            c.error(b"ERR syntax error")
            return
        i += 2
    src = _task_source(c, src_key)
    if src is None:
        return
    is_dlq = False
    for key in c.db.key_list():
        e = c.db.find(key)
        if e is not None and isinstance(e.value, QueueValue) and key != src_key:
            pol = e.value.redrive()
            if pol is not None and pol[0] == src_key:
                is_dlq = True
                break
    if not is_dlq:
        fail(c, invalid("Source queue must be configured as a Dead Letter Queue."))
        return
    if dest_key is not None and find_value(c, dest_key, QueueValue) is None:
        fail(c, AwsError("ResourceNotFoundException", "The resource that you specified for the DestinationArn "
                         "parameter doesn't exist."))
        return
    if any(t.get("Status") == "RUNNING" for t in src.tasks):
        fail(c, AwsError("UnsupportedOperation", "There is already a task running. Only one active task is "
                         "allowed for each source queue at a given time."))
        return
    now = c.ks.now_ms
    moves = _move_candidates(c, src_key, src, dest_key, now, None)
    handle = base64.urlsafe_b64encode(("%s:%d:%s" % (s(src_key), now, uuid.uuid4().hex)).encode()).decode()
    task = {"TaskHandle": handle, "Status": "RUNNING", "SourceArn": queue_arn(src_key),
            "ApproximateNumberOfMessagesMoved": 0, "ApproximateNumberOfMessagesToMove": len(moves),
            "StartedTimestamp": now}
    if dest_key is not None:
        task["DestinationArn"] = queue_arn(dest_key)
    effects = []
    if rate is None:                        # system-optimised velocity: everything now
        effects += _apply_moves(c, src_key, src, moves, now)
        task["ApproximateNumberOfMessagesMoved"] = len(moves)
        task["Status"] = "COMPLETED"
    else:
        task["MaxNumberOfMessagesPerSecond"] = rate
        if not moves:
            task["Status"] = "COMPLETED"
    src.tasks = ([task] + src.tasks)[:10]
    effects.append([b"QUEUE._TASKS", src_key, dumps(src.tasks)])
    c.dirty += len(effects)
    emit_effects(c, effects)
    if task["Status"] == "RUNNING":
        note_move_task(c, src_key)
    add_value(c.reply, {"TaskHandle": handle, "Status": task["Status"],
                          "ApproximateNumberOfMessagesMoved": task["ApproximateNumberOfMessagesMoved"]})


def _move_candidates(c, src_key, src, dest_key, now, limit):
    """(message, target key, target queue) of the messages a move task takes now: visible, within retention,
    with a target queue (DEST, else the queue the message was dead-lettered from) other than the source."""
    moves = []
    for m in src.messages.values():
        if limit is not None and len(moves) >= limit:
            break
        if src.expired(m, now) or m.visible_at > now:
            continue
        tk = dest_key if dest_key is not None else (key_from_arn(m.src) if m.src else None)
        tq = find_value(c, tk, QueueValue) if tk is not None else None
        if tq is None or tk == src_key:
            continue
        moves.append((m, tk, tq))
    return moves


def _apply_moves(c, src_key, src, moves, now):
    """Move the messages (visible at once in their target, DeadLetterQueueSourceArn cleared); the effects."""
    effects, dels, targets = [], [], {}
    for m, tk, tq in moves:
        src.remove(m.id)
        dels.append(m.id.encode())
        nm = Message(m.id, m.body, m.attrs, m.sent, now, tq.next_seq, m.group, m.dedup, None, m.trace)
        tq.put(nm)
        targets.setdefault(tk, []).append(nm)
    if dels:
        effects.append([b"QUEUE._DEL", src_key] + dels)
        for tk, msgs in targets.items():
            effects.append(put_effect(tk, msgs))
            signal(c, tk)
    return effects


@declare("queue._movestep", 3, "write", "", internal=True)
def queue_movestep(c, argv):
    """The primary's move-task timer (MoveTasks): move up to ``n`` more messages of the source's RUNNING
    rate-limited task, as the explicit QUEUE._DEL / QUEUE._PUT / QUEUE._TASKS effects (this command itself
    never propagates). Replies 1 while the task still runs, else 0."""
    src_key = argv[1]
    c.prevent_propagation()
    try:
        allowance = int(argv[2])
    except ValueError:
        c.error(b"ERR bad count")
        return
    e = c.db.lookup_write(src_key)
    if e is None or not isinstance(e.value, QueueValue):
        c.reply.add_int(0)
        return
    src = e.value
    task = next((t for t in src.tasks if t.get("Status") == "RUNNING"), None)
    if task is None or "MaxNumberOfMessagesPerSecond" not in task:
        c.reply.add_int(0)
        return
    now = c.ks.now_ms
    moved = int(task["ApproximateNumberOfMessagesMoved"])
    due = min(allowance, int(task["ApproximateNumberOfMessagesToMove"]) - moved)
    effects = []
    if due > 0:
        dest_arn = task.get("DestinationArn")
        dest_key = key_from_arn(dest_arn) if dest_arn else None
        moves = _move_candidates(c, src_key, src, dest_key, now, due)
        effects += _apply_moves(c, src_key, src, moves, now)
        task["ApproximateNumberOfMessagesMoved"] = moved = moved + len(moves)
        if len(moves) < due:                 # nothing left to move (consumed, expired or in flight)
            task["Status"] = "COMPLETED"
    if moved >= int(task["ApproximateNumberOfMessagesToMove"]):
        task["Status"] = "COMPLETED"
    if effects or task["Status"] != "RUNNING":
        effects.append([b"QUEUE._TASKS", src_key, dumps(src.tasks)])
        c.dirty += len(effects)
        emit_effects(c, effects)
    c.reply.add_int(1 if task["Status"] == "RUNNING" else 0)


class MoveTasks:
    """server.extensions["queue-movetasks"]: on the primary, every cron tick, QUEUE._MOVESTEP key n for each
    source queue with a RUNNING rate-limited task, n from a per-source credit that grows by rate x the time
    since the last step (at most MAX_STEP_MS of it, so a stall or a restart never turns into a burst) and
    keeps its fraction (so the rounding never adds up): over time exactly MaxNumberOfMessagesPerSecond.
    The credit is the primary's own business: the effects carry the messages moved, not the arithmetic.
    The sources are noted by MOVETASK START and the _TASKS effect (so a replica knows them when promoted),
    and re-found after a load (value.TASK_LOAD_GEN moves when a queue with a running task is loaded: RDB,
    full sync, RESTORE) by an incremental SCAN."""
    SCAN_BUDGET_S = 0.002
    MAX_STEP_MS = 250

    def __init__(self, server):
        self.server = server
        self.sources = {}               # (dbid, key) -> [last step ms, credit]
        self.client = None
        self.seen_gen = -1
        self.pending = []               # [[dbid, cursor]]

    def note(self, dbid, key, now=None):
        if (dbid, key) not in self.sources:
            from engine.core import now_ms
            self.sources[(dbid, key)] = [now if now is not None else now_ms(), 0.0]

    def allowance(self, slot, rate, now):
        state = self.sources[slot]
        elapsed = min(max(0, now - state[0]), self.MAX_STEP_MS)
        state[0] = now
        state[1] = min(state[1] + rate * elapsed / 1000.0, max(1.0, rate * self.MAX_STEP_MS / 1000.0))
        n = int(state[1])
        state[1] -= n
        return n

    def _index_step(self):
        from services.queue import value as qvalue
        if self.seen_gen != qvalue.TASK_LOAD_GEN[0]:
            self.seen_gen = qvalue.TASK_LOAD_GEN[0]
            self.pending = [[db.id, 0] for db in self.server.ks.dbs if db.size()]
        import time
        deadline = time.monotonic() + self.SCAN_BUDGET_S
        dbs = self.server.ks.dbs
        while self.pending and time.monotonic() < deadline:
            slot = self.pending[0]
            db = dbs[slot[0]]
            cursor, keys = db.scan(slot[1], 512)
            for key in keys:
                e = db.find(key)
                if e is not None and isinstance(e.value, QueueValue) and \
                        any(t.get("Status") == "RUNNING" for t in e.value.tasks):
                    self.note(slot[0], key)
            if cursor == 0:
                self.pending.pop(0)
            else:
                slot[1] = cursor

    def cron(self):
        from services.queue import value as qvalue
        if self.pending or self.seen_gen != qvalue.TASK_LOAD_GEN[0]:
            self._index_step()
        ks = self.server.ks
        if not self.sources or ks.is_replica:
            return
        ks.update_clock()
        if self.client is None:
            from engine.core import Client
            c = Client(ks, self.server, None, 0)
            c.is_master = True
            c.authenticated = True
            c.name = "queue-movetasks"
            self.client = c
        c = self.client
        now = ks.now_ms
        for slot in list(self.sources):
            dbid, key = slot
            e = ks.dbs[dbid].find(key)
            task = None
            if e is not None and isinstance(e.value, QueueValue):
                task = next((t for t in e.value.tasks if t.get("Status") == "RUNNING"), None)
            if task is None or "MaxNumberOfMessagesPerSecond" not in task:
                del self.sources[slot]
                continue
            n = self.allowance(slot, int(task["MaxNumberOfMessagesPerSecond"]), now)
            c.select(dbid)
            self.server.dispatcher.execute(c, [b"QUEUE._MOVESTEP", key, str(n).encode()])
            if c.reply.take() != b":1\r\n":
                self.sources.pop(slot, None)


def move_tasks_of(server):
    mt = server.extensions.get("queue-movetasks")
    if mt is None:
        mt = server.extensions["queue-movetasks"] = MoveTasks(server)
    return mt


def note_move_task(c, key):
    if c.server is not None:
        move_tasks_of(c.server).note(c.db.id, key, c.ks.now_ms)


def server_started(server):
    """services.started: the move-task timer exists from the start (running tasks loaded from disk go on)."""
    move_tasks_of(server)


@command("queue.movetask|list", -3, "readonly", acl="keyspace", keys=(2, 2, 1), key_specs=KEY2_RO,
         docs={"summary": "The most recent move tasks of a dead-letter queue, newest first", "since": "1.0.0",
               "group": "module", "complexity": "O(1)", "arguments": [key_arg("source"), tok("MAX", "integer")]})
def queue_movetask_list(c, argv):
    e = c.db.lookup_read(argv[2])
    if e is None or not isinstance(e.value, QueueValue):
        fail(c, AwsError("ResourceNotFoundException", "The resource that you specified for the SourceArn parameter "
                         "doesn't exist."))
        return
    limit = 1
    if len(argv) == 5 and argv[3].upper() == b"MAX":
        try:
            limit = parse_int(argv[4], "MaxResults", 1, 10)
        except AwsError as err:
            fail(c, err)
            return
    elif len(argv) != 3:
        c.error(b"ERR syntax error")
        return
    add_value(c.reply, e.value.tasks[:limit])


@command("queue.movetask|cancel", 4, "write", acl="keyspace", keys=(2, 2, 1), key_specs=KEY2_RW,
         docs={"summary": "Cancel a running move task", "since": "1.0.0", "group": "module", "complexity": "O(1)",
               "arguments": [key_arg("source"), {"name": "handle", "type": "string"}]})
def queue_movetask_cancel(c, argv):
    src = _task_source(c, argv[2])
    if src is None:
        return
    for t in src.tasks:
        if t["TaskHandle"] == s(argv[3]):
            if t["Status"] != "RUNNING":
                fail(c, AwsError("UnsupportedOperation", "The task is not running: it has status %s."
                                 % t["Status"]))
                return
            t["Status"] = "CANCELLED"
            c.dirty += 1
            c.propagate_as([b"QUEUE._TASKS", argv[2], dumps(src.tasks)])
            add_value(c.reply, {"ApproximateNumberOfMessagesMoved": t["ApproximateNumberOfMessagesMoved"]})
            return
    fail(c, AwsError("ResourceNotFoundException", "The task handle does not exist."))


# ================================================================================ internal effects
def _internal_queue(c, key):
    e = c.db.lookup_write(key)
    if e is None or not isinstance(e.value, QueueValue):
        c.error(b"ERR no such queue")
        return None
    return e.value


@declare("queue._conf", 3, "write", "", internal=True)
def queue_conf_effect(c, argv):
    try:
        j = json.loads(argv[2])
        attrs, fifo = {str(k): str(v) for k, v in j["attrs"].items()}, bool(j["fifo"])
    except (ValueError, KeyError, TypeError, AttributeError):
        c.error(b"ERR bad queue configuration")
        return
    e = c.db.lookup_write(argv[1])
    if e is not None and isinstance(e.value, QueueValue):
        e.value.attrs = attrs
    else:
        if e is not None:
            c.db.delete(argv[1])
        q = QueueValue(None, fifo)
        q.attrs = attrs
        c.db.add(argv[1], q)
    c.dirty += 1
    c.reply.add_ok()


@declare("queue._put", -3, "write", "", internal=True)
def queue_put_effect(c, argv):
    q = _internal_queue(c, argv[1])
    if q is None:
        return
    try:
        msgs = [Message.from_json(json.loads(b)) for b in argv[2:]]
    except (ValueError, TypeError):
        c.error(b"ERR bad message")
        return
    for m in msgs:
        q.put(m)
    c.dirty += 1
    signal(c, argv[1])
    c.reply.add_ok()


@declare("queue._lease", -3, "write", "", internal=True)
def queue_lease_effect(c, argv):
    q = _internal_queue(c, argv[1])
    if q is None:
        return
    args = argv[2:]
    attempt = None
    if len(args) >= 3 and args[-3] == b"ATTEMPT":
        attempt = (s(args[-2]), int(args[-1]))
        args = args[:-3]
    ids, receipts = [], []
    for i in range(0, len(args) - 4, 5):
        mid, receipt = s(args[i]), s(args[i + 1])
        q.lease(mid, receipt, int(args[i + 2]), int(args[i + 3]), int(args[i + 4]))
        ids.append(mid)
        receipts.append(receipt)
    if attempt is not None:
        q.attempts[attempt[0]] = [attempt[1], ids, receipts]
    c.dirty += 1
    c.reply.add_ok()


@declare("queue._vis", -4, "write", "", internal=True)
def queue_vis_effect(c, argv):
    q = _internal_queue(c, argv[1])
    if q is None:
        return
    for i in range(2, len(argv) - 1, 2):
        m = q.messages.get(s(argv[i]))
        if m is not None:
            q.set_visible(m, int(argv[i + 1]))
    c.dirty += 1
    c.reply.add_ok()


@declare("queue._del", -3, "write", "", internal=True)
def queue_del_effect(c, argv):
    q = _internal_queue(c, argv[1])
    if q is None:
        return
    for mid in argv[2:]:
        q.remove(s(mid))
    c.dirty += 1
    c.reply.add_ok()


@declare("queue._tasks", 3, "write", "", internal=True)
def queue_tasks_effect(c, argv):
    q = _internal_queue(c, argv[1])
    if q is None:
        return
    try:
        q.tasks = list(json.loads(argv[2]))
    except ValueError:
        c.error(b"ERR bad tasks")
        return
    if any(t.get("Status") == "RUNNING" for t in q.tasks):
        note_move_task(c, argv[1])             # a promoted replica goes on with the task
    c.dirty += 1
    c.reply.add_ok()


@declare("queue._purge", 3, "write", "", internal=True)
def queue_purge_effect(c, argv):
    q = _internal_queue(c, argv[1])
    if q is None:
        return
    q.purge(int(argv[2]))
    c.dirty += 1
    c.reply.add_ok()
