"""TOPIC.*: SNS-style topics (TYPE ``topic``) fanning out to queues and Redis pub/sub channels.

A publish resolves everything on the primary (message id, timestamp, FIFO sequence number, which
subscriptions match the filter policies) and propagates only the resulting ``QUEUE._PUT`` effects into the
subscribed queues (plus ``TOPIC._DEDUP`` for FIFO topics), in MULTI/EXEC when several keys are written.
Channel deliveries follow as ``PUBLISH channel payload`` effects in the same unit, so the subscribers of a
replica get them too (as a redis PUBLISH reaches them); an AOF replay publishes them to nobody.
"""
import base64
import datetime
import hashlib
import json
import uuid

from services.base import ServiceValue
from engine.reply import add_value
from services.queue.common import (AwsError, declare, dumps, emit_effects, fail, find_value, key_arg, lookup,
                                   tok)
from services.queue.commands import after_put, parse_msg_attrs, put_effect, s
from services.queue.value import DEDUP_WINDOW_MS, Message, QueueValue

TOPIC_ARN_PREFIX = "arn:aws:sns:us-east-1:000000000000:"
NOT_FOUND = AwsError("NotFound", "Topic does not exist")
MAX_PUBLISH = 262144


def topic_arn(key):
    return TOPIC_ARN_PREFIX + key.decode("utf-8", "replace")


class TopicValue(ServiceValue):
    type_name = b"topic"
    rdb_module_name = "cmtopic01"

    def __init__(self, fifo=False, content_dedup=False):
        self.fifo = fifo
        self.content_dedup = content_dedup
        self.subs = {}                # subscription arn -> {protocol, endpoint, raw, filter}
        self.dedup = {}               # FIFO: dedup id -> [message id, seq, expires_ms]
        self.next_seq = 1

    def dump_state(self):
        return dumps({"fifo": self.fifo, "cd": self.content_dedup, "subs": self.subs, "dedup": self.dedup,
                      "seq": self.next_seq})

    @classmethod
    def load_state(cls, data, encoding_version):
        try:
            j = json.loads(data)
            t = cls(bool(j["fifo"]), bool(j["cd"]))
            t.subs = {str(k): dict(v) for k, v in j["subs"].items()}
            t.dedup = {str(k): list(v) for k, v in j["dedup"].items()}
            t.next_seq = int(j["seq"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError("bad topic payload: %s" % exc) from None
        return t

    def dashboard_summary(self):
        return {"kind": "fifo" if self.fifo else "standard", "subscriptions": len(self.subs)}

    def memory_usage(self):
        return 256 + 200 * len(self.subs) + 100 * len(self.dedup)


# ================================================================================ filter policies
class PolicyError(Exception):
    pass


def check_policy(policy):
    if not isinstance(policy, dict) or not policy:
        raise PolicyError("Filter policy must be a non-empty JSON object")
    combos = 1
    for k, v in policy.items():
        if k == "$or":
            if not isinstance(v, list) or len(v) < 2:
                raise PolicyError("$or must be an array of at least two filter policies")
            for p in v:
                check_policy(p)
            continue
        if not isinstance(v, list):
            raise PolicyError('Match value must be String, number, true, false, or null')
        combos *= max(1, len(v))
        for cond in v:
            if isinstance(cond, dict):
                if len(cond) != 1 or next(iter(cond)) not in ("prefix", "suffix", "anything-but", "numeric", "exists",
                                                            "equals-ignore-case"):
                    raise PolicyError("Unrecognized match type %s" % ",".join(cond))
                if "numeric" in cond:
                    parse_numeric(cond["numeric"])
    if len(policy) > 5:
        raise PolicyError("Filter policy can not have more than 5 keys")
    if combos > 150:
        raise PolicyError("Filter policy is too complex")


def parse_numeric(spec):
    if not isinstance(spec, list) or not spec or len(spec) % 2:
        raise PolicyError("Value of numeric must be an array.")
    out = []
    for i in range(0, len(spec), 2):
        op, val = spec[i], spec[i + 1]
        if op not in ("=", "<", "<=", ">", ">=") or isinstance(val, bool) or not isinstance(val, (int, float)):
            raise PolicyError("Unrecognized numeric range operator: %s" % op)
        out.append((op, val))
    return out


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def cond_matches(cond, value, present):
    """One condition of a key's list against one attribute value (str, number, or None when absent)."""
    if isinstance(cond, dict):
        (op, arg), = cond.items()
        if op == "exists":
            return present == bool(arg)
        if not present:
            return False
        if op == "prefix":
            return isinstance(value, str) and value.startswith(arg)
        if op == "suffix":
            return isinstance(value, str) and value.endswith(arg)
        if op == "equals-ignore-case":
            return isinstance(value, str) and value.lower() == str(arg).lower()
        if op == "anything-but":
            if isinstance(arg, dict):
                return not cond_matches(arg, value, present)
            vals = arg if isinstance(arg, list) else [arg]
            return not any(cond_matches(v, value, present) for v in vals)
        if op == "numeric":
            n = _num(value)
            if n is None:
                return False
            for o, v in parse_numeric(arg):
                if not {"=": n == v, "<": n < v, "<=": n <= v, ">": n > v, ">=": n >= v}[o]:
                    return False
            return True
        return False
    if not present:
        return False
    if isinstance(cond, bool) or cond is None:
        return value == cond
    if isinstance(cond, (int, float)):
        n = _num(value)
        return n is not None and n == cond
    return value == cond


def policy_matches(policy, attrs):
    """attrs: name -> (type, value). SNS MessageAttributes scope; String.Array values match per element."""
    for k, conds in policy.items():
        if k == "$or":
            if not any(policy_matches(p, attrs) for p in conds):
                return False
            continue
        a = attrs.get(k)
        present = a is not None
        values = [None]
        if present:
            typ, val = a
            if typ == "String.Array":
                try:
                    values = json.loads(val)
                    if not isinstance(values, list):
                        values = [val]
                except ValueError:
                    values = [val]
            elif typ.startswith("Binary"):
                values = []
            else:
                values = [val]
        if not any(cond_matches(cnd, v, present) for cnd in conds for v in (values or [None])):
            return False
    return True


# ================================================================================ commands
@declare("topic.create", -2, "write denyoom", "Create a topic (SNS CreateTopic), idempotent",
         [key_arg(), tok("FIFO", "pure-token"), tok("CONTENTDEDUP", "pure-token")])
def topic_create(c, argv):
    key = argv[1]
    fifo, cd = key.endswith(b".fifo"), False
    for a in argv[2:]:
        a = a.upper()
        if a == b"FIFO":
            if not key.endswith(b".fifo"):
                fail(c, AwsError("InvalidParameter", "Invalid parameter: Fifo Topic names must end with .fifo and "
                                 "must be made up of only uppercase and lowercase ASCII letters, numbers, "
                                 "underscores, and hyphens, and must be between 1 and 256 characters long."))
                return
        elif a == b"CONTENTDEDUP":
            cd = True
        else:
            c.error(b"ERR syntax error")
            return
    e = c.db.lookup_write(key)
    if e is not None:
        t = e.value
        if not isinstance(t, TopicValue) or t.content_dedup != cd:
            fail(c, AwsError("InvalidParameter", "Invalid parameter: Attributes Reason: Topic already exists "
                             "with different attributes"))
            return
        c.reply.add_ok()
        return
    t = TopicValue(fifo, cd)
    c.db.add(key, t)
    c.dirty += 1
    c.propagate_as([b"TOPIC._SET", key, t.dump_state()])
    c.reply.add_ok()


@declare("topic.subscribe", -4, "write denyoom", "Subscribe a queue or a pub/sub channel (SNS Subscribe)",
         [key_arg(), {"name": "protocol", "type": "oneof", "arguments": [
             {"name": "queue", "type": "pure-token", "token": "QUEUE"},
             {"name": "channel", "type": "pure-token", "token": "CHANNEL"}]},
          {"name": "endpoint", "type": "string"}, tok("RAW", "pure-token"), tok("FILTER", "string")])
def topic_subscribe(c, argv):
    key = argv[1]
    t = lookup(c, key, TopicValue, True, NOT_FOUND)
    if t is None:
        return
    proto = argv[2].lower()
    if proto not in (b"queue", b"channel"):
        fail(c, AwsError("InvalidParameter", "Invalid parameter: Amazon SNS does not support this protocol string: %s"
                         % s(argv[2])))
        return
    endpoint = argv[3]
    raw, policy = False, None
    i = 4
    while i < len(argv):
        a = argv[i].upper()
        if a == b"RAW":
            raw = True
            i += 1
        elif a == b"FILTER" and i + 1 < len(argv):
            try:
                policy = json.loads(argv[i + 1])
                check_policy(policy)
            except (ValueError, PolicyError) as exc:
                fail(c, AwsError("InvalidParameter", "Invalid parameter: FilterPolicy: %s" % exc))
                return
            i += 2
        else:
            c.error(b"ERR syntax error")
            return
    if proto == b"queue":
        qv = find_value(c, endpoint, QueueValue)
        if qv is None:
            fail(c, AwsError("InvalidParameter", "Invalid parameter: Endpoint: queue %s does not exist" % s(endpoint)))
            return
        if t.fifo and not qv.fifo:
            fail(c, AwsError("InvalidParameter", "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SNS "
                             "Topics can only deliver to FIFO SQS queues"))
            return
    for arn, sub in t.subs.items():                  # SNS: subscribing again answers the same ARN
        if sub["protocol"] == proto.decode() and sub["endpoint"] == s(endpoint):
            sub["raw"], sub["filter"] = raw, policy
            break
    else:
        arn = "%s:%s" % (topic_arn(key), uuid.uuid4())
        t.subs[arn] = {"protocol": proto.decode(), "endpoint": s(endpoint), "raw": raw, "filter": policy}
    c.dirty += 1
    c.propagate_as([b"TOPIC._SET", key, t.dump_state()])
    add_value(c.reply, arn)


@declare("topic.unsubscribe", 3, "write", "Remove a subscription by ARN (SNS Unsubscribe)",
         [key_arg(), {"name": "subscription", "type": "string"}])
def topic_unsubscribe(c, argv):
    t = lookup(c, argv[1], TopicValue, True, NOT_FOUND)
    if t is None:
        return
    if t.subs.pop(s(argv[2]), None) is None:
        fail(c, AwsError("NotFound", "Subscription does not exist"))
        return
    c.dirty += 1
    c.propagate_as([b"TOPIC._SET", argv[1], t.dump_state()])
    c.reply.add_ok()


@declare("topic.subscriptions", 2, "readonly", "Subscriptions of a topic (SNS ListSubscriptionsByTopic)",
         [key_arg()], readonly=True)
def topic_subscriptions(c, argv):
    t = lookup(c, argv[1], TopicValue, False, NOT_FOUND)
    if t is None:
        return
    add_value(c.reply, [{"SubscriptionArn": arn, "Protocol": sub["protocol"], "Endpoint": sub["endpoint"],
                         "RawMessageDelivery": "true" if sub["raw"] else "false",
                         "FilterPolicy": json.dumps(sub["filter"]) if sub["filter"] else ""}
                        for arn, sub in t.subs.items()])


@declare("topic.list", 1, "readonly", "Topics of the current database (SNS ListTopics)")
def topic_list(c, argv):
    out = []
    for key in c.db.key_list():
        e = c.db.find(key)
        if e is not None and isinstance(e.value, TopicValue):
            out.append(key)
    add_value(c.reply, sorted(out))


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03dZ" % (ms % 1000)


def envelope(key, mid, message, subject, attrs, now, arn, seq=None):
    env = {"Type": "Notification", "MessageId": mid, "TopicArn": topic_arn(key)}
    if subject is not None:
        env["Subject"] = subject
    env["Message"] = message
    env["Timestamp"] = iso(now)
    if seq is not None:
        env["SequenceNumber"] = "%020d" % seq
    env.update({"SignatureVersion": "1", "Signature": "", "SigningCertURL": "",
                "UnsubscribeURL": "unsubscribe:" + arn})
    if attrs:
        env["MessageAttributes"] = {n: {"Type": t, "Value": v if isinstance(v, str) else
                                        base64.b64encode(v).decode()} for n, t, v in attrs}
    return json.dumps(env)


@declare("topic.publish", -3, "write denyoom", "Publish to every matching subscription (SNS Publish)",
         [key_arg(), {"name": "message", "type": "string"}, tok("SUBJECT", "string"), tok("GROUP", "string"),
          tok("DEDUP", "string"), tok("ATTR", "string", multiple=True)])
def topic_publish(c, argv):
    key = argv[1]
    t = lookup(c, key, TopicValue, True, NOT_FOUND)
    if t is None:
        return
    body = argv[2]
    subject = group = dedup = None
    pairs = []
    i = 3
    while i < len(argv):
        a = argv[i].upper()
        if a in (b"SUBJECT", b"GROUP", b"DEDUP") and i + 1 < len(argv):
            v = s(argv[i + 1])
            if a == b"SUBJECT":
                subject = v
            elif a == b"GROUP":
                group = v
            else:
                dedup = v
            i += 2
        elif a == b"ATTR" and i + 3 < len(argv):
            pairs.append((argv[i + 1], argv[i + 2], argv[i + 3]))
            i += 4
        else:
            c.error(b"ERR syntax error")
            return
    try:
        if not body:
            raise AwsError("InvalidParameter", "Invalid parameter: Empty message")
        if len(body) > MAX_PUBLISH:
            raise AwsError("InvalidParameter", "Invalid parameter: Message too long")
        try:
            message = body.decode("utf-8")
        except UnicodeDecodeError:
            raise AwsError("InvalidParameter", "Invalid parameter: Message contains invalid characters")
        # SNS allows String.Array; queues take the rest
        attrs = parse_msg_attrs([(n, b"String" if tp == b"String.Array" else tp, v) for n, tp, v in pairs])
        attrs = [(n, "String.Array" if tp == b"String.Array" else typ, v)
                 for (n, typ, v), (_, tp, _) in zip(attrs, pairs)]
        if t.fifo:
            if group is None:
                raise AwsError("InvalidParameter", "Invalid parameter: The MessageGroupId parameter is required for "
                               "FIFO topics")
            if dedup is None:
                if not t.content_dedup:
                    raise AwsError("InvalidParameter", "Invalid parameter: The topic should either have "
                                   "ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
                dedup = hashlib.sha256(body).hexdigest()
        elif dedup is not None:
            raise AwsError("InvalidParameter", "Invalid parameter: MessageDeduplicationId Reason: The request includes "
                           "a parameter that is not valid for this topic type")
    except AwsError as err:
        fail(c, err)
        return
    now = c.ks.now_ms
    effects = []
    seq = None
    if t.fifo:
        hit = t.dedup.get(dedup)
        if hit is not None and hit[2] > now:
            add_value(c.reply, {"MessageId": hit[0], "SequenceNumber": "%020d" % hit[1]})
            return
        for k in [k for k, v in t.dedup.items() if v[2] <= now]:
            del t.dedup[k]
        seq = t.next_seq
        t.next_seq += 1
    mid = str(uuid.uuid4())
    if t.fifo:
        t.dedup[dedup] = [mid, seq, now + DEDUP_WINDOW_MS]
        effects.append([b"TOPIC._SET", key, t.dump_state()])
    match_attrs = {n: (typ, v) for n, typ, v in attrs}
    channels = []
    for arn, sub in t.subs.items():
        if sub["filter"] and not policy_matches(sub["filter"], match_attrs):
            continue
        if sub["raw"]:
            payload, qattrs = message, [(n, "String" if typ == "String.Array" else typ, v) for n, typ, v in attrs]
        else:
            payload, qattrs = envelope(key, mid, message, subject, attrs, now, arn, seq), []
        if sub["protocol"] == "channel":
            channels.append((sub["endpoint"].encode(), payload.encode()))
            continue
        qkey = sub["endpoint"].encode()
        qv = find_value(c, qkey, QueueValue)
        if qv is None:
            continue
        pb = payload.encode()
        if len(pb) > qv.num("MaximumMessageSize"):
            continue
        qdedup = dedup if qv.fifo else None
        if qv.fifo and qv.dedup_hit(group, qdedup, now) is not None:
            continue
        m = Message(str(uuid.uuid4()), pb, qattrs, now, now + qv.delay_ms, qv.next_seq,
                    group if qv.fifo else None, qdedup)
        qv.put(m)
        effects.append(put_effect(qkey, [m]))
        after_put(c, qkey, qv, [m], now)
    # the channel deliveries are part of the effect, after the queue puts and in the same unit, so a
    # replica's subscribers get them as redis PUBLISH reaches a replica's (and in order with the puts); an
    # AOF replay publishes them to nobody. They do not count as changes (dirty), as PUBLISH does not.
    if effects:
        c.dirty += len(effects)
    effects += [[b"PUBLISH", ch, payload] for ch, payload in channels]
    if effects:
        emit_effects(c, effects)
    else:
        c.prevent_propagation()
    if channels and c.server is not None:
        for ch, payload in channels:
            c.server.pubsub.publish(ch, payload)
    out = {"MessageId": mid}
    if seq is not None:
        out["SequenceNumber"] = "%020d" % seq
    add_value(c.reply, out)


@declare("topic._set", 3, "write", "", internal=True)
def topic_set_effect(c, argv):
    try:
        t = TopicValue.load_state(argv[2], 0)
    except ValueError:
        c.error(b"ERR bad topic state")
        return
    e = c.db.lookup_write(argv[1])
    if e is not None and isinstance(e.value, TopicValue):
        e.value.__dict__.update(t.__dict__)          # in place: a TTL on the key stays
    else:
        if e is not None:
            c.db.delete(argv[1])
        c.db.add(argv[1], t)
    c.dirty += 1
    c.reply.add_ok()
