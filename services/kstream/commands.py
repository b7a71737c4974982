"""STREAM.* commands: a sharded stream with Amazon Kinesis Data Streams semantics (services.md section 3).

Every write is propagated as explicit, idempotent internal effects (refused from ordinary clients), so AOF
replay and replicas never read the clock or draw random bytes:

* CREATE                   -> STREAM._CREATE key created_ms secret retention_ms iterator_ttl_ms mode max_record n
* PUT / PUTMANY            -> STREAM._PUT key (shardId seq arrival_ms pkey data)...   (+ STREAM._TRIM for retention)
* SPLIT / MERGE / UPDATESHARDCOUNT -> STREAM._RESHARD key at_ms SPLIT|MERGE|COUNT args
* retention trim           -> STREAM._TRIM key shardId beforeSeq (primary only, during writes)
* LEASE / CHECKPOINT       -> STREAM._LEASE key app shardId owner counter expires_ms checkpoint subseq

ITERATOR, GET, READ, DESCRIBE, SHARDS and CHECKPOINTGET are reads. Iterators are HMAC-signed with a
secret kept in the key and expire after 5 minutes (ExpiredIteratorException).
"""
import base64
import hashlib
import hmac
import os
import re
import time

from engine import blocking
from engine.core import WRONGTYPE
from engine.notify import notify
from engine.registry import command, container
from engine.reply import add_value
from services.kstream.value import (KStreamValue, LOAD_GEN, POW_128, make_seq, seq_index, seq_arrival,
                                    uniform_ranges, CTR_BITS, MAX_SHARD_INDEX)

ACCOUNT = "000000000000"
MAX_SHARDS = 1024
SEQ_RE = re.compile(rb"(?:0|[1-9][0-9]{0,128})\Z")
HASH_RE = re.compile(rb"(?:0|[1-9][0-9]{0,38})\Z")
INT_RE = re.compile(rb"-?[0-9]{1,18}\Z")
ITERATOR_TYPES = (b"TRIM_HORIZON", b"LATEST", b"AT_SEQUENCE_NUMBER", b"AFTER_SEQUENCE_NUMBER", b"AT_TIMESTAMP")
DAY_MS = 24 * 3600 * 1000


class KError(Exception):
    """An AWS-named error: the reply is '-<name> <message>' and nothing has been applied."""

    def __init__(self, name, message):
        super().__init__(message)
        self.text = (name + " " + message).encode()


def invalid(msg):
    return KError("InvalidArgumentException", msg)


def validation(value, field, constraint):
    return KError("ValidationException",
                  f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
                  f"Member must {constraint}")


def sname(key):
    return key.decode("utf-8", "replace")


def not_found(key):
    return KError("ResourceNotFoundException", f"Stream {sname(key)} under account {ACCOUNT} not found.")


def shard_not_found(key, sid):
    return KError("ResourceNotFoundException",
                  f"Shard {sid} in stream {sname(key)} under account {ACCOUNT} does not exist")


def kerrors(handler):
    """Turn a KError raised before any change into its reply."""
    def run(c, argv):
        try:
            handler(c, argv)
        except KError as e:
            c.error(e.text)
    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------
def get_stream(c, key, write=False):
    e = c.db.lookup_write(key) if write else c.db.lookup_read(key)
    if e is None:
        raise not_found(key)
    if type(e.value) is not KStreamValue:
        raise KError("WRONGTYPE", WRONGTYPE[len("WRONGTYPE "):].decode())
    track(c, key)
    return e.value


def get_shard(s, key, sid):
    shard = s.shards.get(sid.decode("latin-1"))
    if shard is None:
        raise shard_not_found(key, sid.decode("utf-8", "replace"))
    return shard


def parse_int(arg, field, lo=None, hi=None):
    if not INT_RE.match(arg):
        raise validation(arg.decode("utf-8", "replace"), field, "be an integer")
    v = int(arg)
    if lo is not None and v < lo:
        raise validation(v, field, f"have value greater than or equal to {lo}")
    if hi is not None and v > hi:
        raise validation(v, field, f"have value less than or equal to {hi}")
    return v


def parse_seq(arg, field="startingSequenceNumber"):
    if not SEQ_RE.match(arg):
        raise validation(arg.decode("utf-8", "replace"), field,
                         r"satisfy regular expression pattern: 0|([1-9]\d{0,128})")
    return int(arg)


def shard_desc(sh):
    return {
        "ShardId": sh.id,
        "ParentShardId": sh.parents[0] if sh.parents else None,
        "AdjacentParentShardId": sh.parents[1] if len(sh.parents) > 1 else None,
        "HashKeyRange": {"StartingHashKey": str(sh.hash_start), "EndingHashKey": str(sh.hash_end)},
        "SequenceNumberRange": {"StartingSequenceNumber": str(sh.start_seq),
                                "EndingSequenceNumber": None if sh.end_seq is None else str(sh.end_seq)},
    }


def child_desc(s, sh):
    return [{"ShardId": ch.id, "ParentShards": list(ch.parents),
             "HashKeyRange": {"StartingHashKey": str(ch.hash_start), "EndingHashKey": str(ch.hash_end)}}
            for ch in s.children_of(sh.id)]


def horizon_seq(s, sh, now):
    """Records below this sequence number are past retention (invisible; trimmed on the primary)."""
    return make_seq(max(0, now - s.retention_ms), 0, 0)


class RetentionTimer:
    """server.extensions["kstream"]: once a second on the primary, STREAM.TRIM every stream that holds
    records past retention (streams that get no writes are trimmed too).

    The streams are an index of (db, key): every STREAM.* command notes its key, and whenever stream values
    were loaded (RDB at startup, a replica's full sync, RESTORE, COPY, DEBUG RELOAD: value.LOAD_GEN moves)
    the keyspace is re-indexed by an incremental SCAN (redis's reverse-binary cursor, so keys present for
    the whole scan are all found while the table changes), at most SCAN_BUDGET_S of each cron tick. The
    index is kept on replicas too, so a promoted replica trims at once."""
    INTERVAL_MS = 1000
    SCAN_BUDGET_S = 0.002
    SCAN_CHUNK = 512

    def __init__(self, server):
        self.server = server
        self.keys = set()               # {(dbid, key)} of streams seen
        self.next_ms = 0
        self.client = None
        self.seen_gen = -1              # value.LOAD_GEN indexed so far
        self.pending = []               # [[dbid, cursor]] of the re-index under way

    def note(self, dbid, key):
        self.keys.add((dbid, key))

    def indexing(self):
        return bool(self.pending) or self.seen_gen != LOAD_GEN[0]

    def _index_step(self):
        if self.seen_gen != LOAD_GEN[0]:
            self.seen_gen = LOAD_GEN[0]
            self.pending = [[db.id, 0] for db in self.server.ks.dbs if db.size()]
        deadline = time.monotonic() + self.SCAN_BUDGET_S
        dbs = self.server.ks.dbs
        while self.pending and time.monotonic() < deadline:
            slot = self.pending[0]
            db = dbs[slot[0]]
            cursor, keys = db.scan(slot[1], self.SCAN_CHUNK)
            for key in keys:
                e = db.find(key)
                if e is not None and type(e.value) is KStreamValue:
                    self.keys.add((slot[0], key))
            if cursor == 0:
                self.pending.pop(0)
            else:
                slot[1] = cursor

    def cron(self):
        if self.pending or self.seen_gen != LOAD_GEN[0]:
            self._index_step()
        ks = self.server.ks
        now = ks.update_clock()
        if now < self.next_ms or ks.is_replica:
            return
        self.next_ms = now + self.INTERVAL_MS
        if self.client is None:
            self.client = self.server.new_client(None)
        c = self.client
        for dbid, key in list(self.keys)[:1000]:
            e = ks.dbs[dbid].find(key)
            if e is None or type(e.value) is not KStreamValue:
                self.keys.discard((dbid, key))
                continue
            s = e.value
            bound = make_seq(max(0, now - s.retention_ms), 0, 0)
            if any(sh.seqs and sh.seqs[0] < bound for sh in s.shards.values()):
                c.select(dbid)
                self.server.dispatcher.execute(c, [b"STREAM.TRIM", key])
                c.reply.take()


def timer_of(server):
    timer = server.extensions.get("kstream")
    if timer is None:
        timer = server.extensions["kstream"] = RetentionTimer(server)
    return timer


def server_started(server):
    """services.started: the timer exists from the start, so the streams loaded from disk are indexed (and
    trimmed) even when no STREAM.* command ever names them."""
    timer_of(server)


def track(c, key):
    server = c.server
    if server is None:
        return
    timer_of(server).note(c.db.id, key)


def retention_trim(c, key, s, shards, effects):
    """On the primary only: drop the records past retention of the given shards, as STREAM._TRIM effects."""
    if c.ks.is_replica:
        return
    now = c.ks.now_ms
    for sh in shards:
        if sh.seqs and sh.seqs[0] < horizon_seq(s, sh, now):
            bound = horizon_seq(s, sh, now)
            if sh.trim_before(bound):
                effects.append([b"STREAM._TRIM", key, sh.id.encode(), str(bound).encode()])


def propagate(c, effects):
    if not effects:
        c.prevent_propagation()
        return
    c.propagate_as(effects[0])
    for eff in effects[1:]:
        c.also_propagate(eff)


def emit_records(r, sh, lo, hi):
    r.add_array_len(hi - lo)
    for i in range(lo, hi):
        r.add_array_len(4)
        r.add_bulk(str(sh.seqs[i]).encode())
        r.add_int(sh.arrivals[i])
        r.add_bulk(sh.pkeys[i])
        r.add_bulk(sh.datas[i])


# ---------------------------------------------------------------------------------------------------
# docs
# ---------------------------------------------------------------------------------------------------
KEY1 = [{"flags": ["RW", "update"], "begin_search": {"type": "index", "spec": {"index": 1}},
         "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}]
KEY1_RO = [{"flags": ["RO", "access"], "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}]
KEY2 = [{"flags": ["RW", "update"], "begin_search": {"type": "index", "spec": {"index": 2}},
         "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}]
KEY2_RO = [{"flags": ["RO", "access"], "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}]


def docs(summary, complexity, *args):
    arguments = [{"name": "key", "type": "key", "key_spec_index": 0}]
    for a in args:
        if isinstance(a, dict):
            arguments.append(a)
        else:
            name, _, flags = a.partition("?")
            arg = {"name": name, "type": "string"}
            if flags:
                arg["flags"] = ["optional"]
            arguments.append(arg)
    return {"summary": summary, "since": "1.0.0", "group": "module", "complexity": complexity,
            "arguments": arguments}


# ---------------------------------------------------------------------------------------------------
# CREATE
# ---------------------------------------------------------------------------------------------------
def apply_create(c, key, created_ms, secret, retention_ms, ttl_ms, mode, max_record, n):
    s = KStreamValue(created_ms, secret, retention_ms, ttl_ms, mode, max_record)
    for hs, he in uniform_ranges(n):
        s.add_shard([], hs, he, created_ms)
    c.db.add(key, s)
    c.dirty += 1
    return s


@command("stream.create", -2, "write denyoom", acl="stream", keys=(1, 1, 1), key_specs=KEY1,
         docs=docs("Create a Kinesis-style stream of n shards over the 128-bit MD5 hash key space", "O(N) shards",
                   "shards?", "mode?", "retention?", "retentionms?", "iteratorttlms?", "maxrecordkib?", "rate?"))
@kerrors
def stream_create(c, argv):
    """STREAM.CREATE key [SHARDS n] [MODE PROVISIONED|ON_DEMAND] [RETENTION hours] [RETENTIONMS ms]
    [ITERATORTTLMS ms] [MAXRECORDKIB k] [RATE records-per-second-per-shard]
    (RETENTIONMS / ITERATORTTLMS are test knobs below AWS's minimums; RATE, off by default, makes writes past
    it within one second fail with ProvisionedThroughputExceededException, per record in PUTMANY)"""
    key = argv[1]
    n, mode, retention_ms, ttl_ms, max_record, rate = None, "PROVISIONED", DAY_MS, 300000, 1048576, 0
    i = 2
    while i < len(argv):
        opt = argv[i].upper()
        if i + 1 >= len(argv):
            c.error(b"ERR syntax error")
            return
        val = argv[i + 1]
        if opt == b"SHARDS":
            n = parse_int(val, "shardCount", 1, MAX_SHARDS)
        elif opt == b"MODE":
            mode = val.upper().decode("latin-1")
            if mode not in ("PROVISIONED", "ON_DEMAND"):
                raise validation(val.decode("utf-8", "replace"), "streamModeDetails.streamMode",
                                 "satisfy enum value set: [PROVISIONED, ON_DEMAND]")
        elif opt == b"RETENTION":
            retention_ms = parse_int(val, "retentionPeriodHours", 24, 8760) * 3600000
        elif opt == b"RETENTIONMS":
            retention_ms = parse_int(val, "retentionPeriodMs", 1)
        elif opt == b"ITERATORTTLMS":
            ttl_ms = parse_int(val, "iteratorTtlMs", 1, 300000)
        elif opt == b"MAXRECORDKIB":
            max_record = parse_int(val, "maxRecordSizeInKiB", 1024, 10240) * 1024
        elif opt == b"RATE":
            rate = parse_int(val, "recordsPerSecondPerShard", 0, 1000000)
        else:
            c.error(b"ERR syntax error")
            return
        i += 2
    if n is None:
        n = 4 if mode == "ON_DEMAND" else 1
    e = c.db.lookup_write(key)
    if e is not None:
        if type(e.value) is KStreamValue:
            raise KError("ResourceInUseException", f"Stream {sname(key)} under account {ACCOUNT} already exists.")
        raise KError("WRONGTYPE", WRONGTYPE[len("WRONGTYPE "):].decode())
    now = c.ks.now_ms
    secret = os.urandom(16)
    apply_create(c, key, now, secret, retention_ms, ttl_ms, mode, max_record, n).shard_rate = rate
    notify(c, "d", b"stream.create", key)
    track(c, key)
    c.propagate_as([b"STREAM._CREATE", key, str(now).encode(), secret.hex().encode(), str(retention_ms).encode(),
                    str(ttl_ms).encode(), mode.encode(), str(max_record).encode(), str(n).encode(), str(rate).encode()])
    c.reply.add_ok()


@command("stream._create", -9, "write internal", keys=(1, 1, 1))
def stream_create_effect(c, argv):
    """The CREATE effect, with the creation time and iterator secret resolved (idempotent)."""
    e = c.db.lookup_write(argv[1])
    if e is None or type(e.value) is not KStreamValue or e.value.created_ms != int(argv[2]):
        if e is not None:
            c.db.delete(argv[1])
        s = apply_create(c, argv[1], int(argv[2]), bytes.fromhex(argv[3].decode()), int(argv[4]), int(argv[5]),
                         argv[6].decode(), int(argv[7]), int(argv[8]))
        s.shard_rate = int(argv[9]) if len(argv) > 9 else 0
    c.dirty += 1
    c.reply.add_ok()


@command("stream.retention", 3, "write", acl="stream", keys=(1, 1, 1), key_specs=KEY1,
         docs=docs("Set a stream's retention period in hours (24..8760)", "O(1)", "hours"))
@kerrors
def stream_retention(c, argv):
    hours = parse_int(argv[2], "retentionPeriodHours", 24, 8760)
    s = get_stream(c, argv[1], True)
    s.retention_ms = hours * 3600000
    c.dirty += 1
    c.reply.add_ok()


# ---------------------------------------------------------------------------------------------------
# DESCRIBE / SHARDS
# ---------------------------------------------------------------------------------------------------
@command("stream.describe", 2, "readonly", acl="stream", keys=(1, 1, 1), key_specs=KEY1_RO,
         docs=docs("Describe a stream: status, mode, retention and every shard", "O(N) shards"))
@kerrors
def stream_describe(c, argv):
    s = get_stream(c, argv[1])
    add_value(c.reply, {
        "StreamName": sname(argv[1]),
        "StreamARN": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{sname(argv[1])}",
        "StreamStatus": "ACTIVE",
        "StreamMode": s.mode,
        "RetentionPeriodHours": s.retention_ms // 3600000,
        "RetentionPeriodMs": s.retention_ms,
        "StreamCreationTimestamp": s.created_ms,
        "OpenShardCount": len(s.open_shards()),
        "Shards": [shard_desc(sh) for sh in s.shards.values()],
    })


@command("stream.shards", -2, "readonly", acl="stream", keys=(1, 1, 1), key_specs=KEY1_RO,
         docs=docs("List a stream's shards (Kinesis ListShards)", "O(N) shards", "after?", "filter?", "count?"))
@kerrors
def stream_shards(c, argv):
    """STREAM.SHARDS key [AFTER shardId] [FILTER AT_LATEST|AT_TRIM_HORIZON|FROM_TRIM_HORIZON] [COUNT n]"""
    s = get_stream(c, argv[1])
    after, flt, count = None, b"FROM_TRIM_HORIZON", 10000
    i = 2
    while i < len(argv):
        opt = argv[i].upper()
        if i + 1 >= len(argv):
            c.error(b"ERR syntax error")
            return
        if opt == b"AFTER":
            after = argv[i + 1].decode("latin-1")
        elif opt == b"FILTER":
            flt = argv[i + 1].upper()
            if flt not in (b"AT_LATEST", b"AT_TRIM_HORIZON", b"FROM_TRIM_HORIZON"):
                raise validation(argv[i + 1].decode("utf-8", "replace"), "shardFilter.type",
                                 "satisfy enum value set: [AT_LATEST, AT_TRIM_HORIZON, FROM_TRIM_HORIZON]")
        elif opt == b"COUNT":
            count = parse_int(argv[i + 1], "maxResults", 1, 10000)
        else:
            c.error(b"ERR syntax error")
            return
        i += 2
    shards = list(s.shards.values())
    if flt == b"AT_LATEST":
        shards = [sh for sh in shards if sh.is_open]
    elif flt == b"AT_TRIM_HORIZON":
        # the oldest shards still holding data: those whose parents are gone or empty past retention
        shards = [sh for sh in shards if not any(p in s.shards and s.shards[p].seqs for p in sh.parents)]
    if after is not None:
        shards = [sh for sh in shards if sh.id > after]
    add_value(c.reply, [shard_desc(sh) for sh in shards[:count]])


# ---------------------------------------------------------------------------------------------------
# PUT / PUTMANY
# ---------------------------------------------------------------------------------------------------
def check_record(s, pkey, data, hashkey):
    """The shard's hash key for one record, after AWS's checks (raises KError)."""
    try:
        pk_chars = len(pkey.decode("utf-8"))
    except UnicodeDecodeError:
        raise invalid("Partition key must be valid UTF-8.")
    if pk_chars < 1:
        raise validation("", "partitionKey", "have length greater than or equal to 1")
    if pk_chars > 256:
        raise validation(pkey.decode(), "partitionKey", "have length less than or equal to 256")
    if len(data) > s.max_record:
        raise validation(f"java.nio.HeapByteBuffer[pos=0 lim={len(data)} cap={len(data)}]", "data",
                         f"have length less than or equal to {s.max_record}")
    if len(data) + len(pkey) > s.max_record:
        raise invalid(f"Record size exceeds {s.max_record // 1048576} MB limit.")
    if hashkey is not None:
        if not HASH_RE.match(hashkey):
            raise validation(hashkey.decode("utf-8", "replace"), "explicitHashKey",
                             r"satisfy regular expression pattern: 0|([1-9]\d{0,38})")
        h = int(hashkey)
        if h >= POW_128:
            raise invalid("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                          f"Specified value was {hashkey.decode()}")
        return h
    return int.from_bytes(hashlib.md5(pkey).digest(), "big")


def put_records(c, key, s, records, order_after=None):
    """records: [(pkey, data, hash)] already checked. Appends them with one arrival time (moved on only when
    a shard's 2**20 counter for that ms is used up); returns ([(shard, seq, pkey, data, index, arrival)],
    [(index, shard) refused by the RATE knob], effects)."""
    arrival = max(s.last_ms, c.ks.now_ms)
    if order_after is not None:
        arrival = max(arrival, seq_arrival(order_after))
    placed = []
    failed = []                         # (index, shard) of records refused by the RATE knob
    for n, (pkey, data, h) in enumerate(records):
        sh = s.shard_for_hash(h)
        if s.shard_rate:
            window = arrival // 1000
            if sh.rate_sec != window:
                sh.rate_sec, sh.rate_count = window, 0
            if sh.rate_count >= s.shard_rate:
                failed.append((n, sh))
                continue
            sh.rate_count += 1
        seq = sh.next_seq(arrival)
        if order_after is not None and seq <= order_after:
            arrival += 1
            seq = sh.next_seq(arrival)
        if (sh.ctr + 1) >> CTR_BITS and sh.last_ms == arrival:      # 2**20 records in one ms: next ms
            arrival += 1
            seq = sh.next_seq(arrival)
        sh.append(seq, arrival, pkey, data)
        placed.append((sh, seq, pkey, data, n, arrival))
    if not placed:                      # all throttled: nothing changed (the rate window is not state)
        return placed, failed, []
    s.last_ms = arrival
    effects = []
    touched = {p[0].id: p[0] for p in placed}
    for sh in s.shards.values():         # closed shards get no writes: trim them with the stream's
        if sh.end_seq is not None and sh.seqs:
            touched.setdefault(sh.id, sh)
    retention_trim(c, key, s, touched.values(), effects)
    if c.ks.effects.subscribers:        # effects are built only when AOF or a replica consumes them
        effect = [b"STREAM._PUT", key]
        for sh, seq, pkey, data, _, arr in placed:      # arr: the 2**20-per-ms rollover may move it
            effect += [sh.id.encode(), str(seq).encode(), str(arr).encode(), pkey, data]
        effects.insert(0, effect)
    elif not effects:
        effects.append([b"STREAM._PUT", key])       # nobody consumes it: never encoded
    c.dirty += len(placed)
    notify(c, "d", b"stream.put", key)
    if len(effects) > 1:
        notify(c, "d", b"stream.trim", key)
    blocking.signal_key_ready(c, key)
    return placed, failed, effects


def throttled(key, sh):
    return KError("ProvisionedThroughputExceededException",
                  f"Rate exceeded for shard {sh.id} in stream {sname(key)} under account {ACCOUNT}.")


@command("stream.put", -4, "write denyoom", acl="stream", keys=(1, 1, 1), key_specs=KEY1,
         docs=docs("Put one record (Kinesis PutRecord): partition key -> MD5 -> shard", "O(log N)",
                   "partition-key", "data", "hashkey?", "orderafter?"))
@kerrors
def stream_put(c, argv):
    """STREAM.PUT key pkey data [HASHKEY h] [ORDERAFTER seq] -> [shardId, seq]"""
    hashkey = order_after = None
    i = 4
    while i < len(argv):
        opt = argv[i].upper()
        if i + 1 >= len(argv):
            c.error(b"ERR syntax error")
            return
        if opt == b"HASHKEY":
            hashkey = argv[i + 1]
        elif opt == b"ORDERAFTER":
            order_after = parse_seq(argv[i + 1], "sequenceNumberForOrdering")
        else:
            c.error(b"ERR syntax error")
            return
        i += 2
    s = get_stream(c, argv[1], True)
    h = check_record(s, argv[2], argv[3], hashkey)
    placed, failed, effects = put_records(c, argv[1], s, [(argv[2], argv[3], h)], order_after)
    if failed:
        raise throttled(argv[1], failed[0][1])
    propagate(c, effects)
    sh, seq = placed[0][0], placed[0][1]
    c.reply.add_array_len(2)
    c.reply.add_bulk(sh.id.encode())
    c.reply.add_bulk(str(seq).encode())


@command("stream.putmany", -5, "write denyoom", acl="stream", keys=(1, 1, 1), key_specs=KEY1,
         docs=docs("Put up to 500 records (Kinesis PutRecords) with per-record results", "O(N)",
                   {"name": "record", "type": "block", "flags": ["multiple"], "arguments": [
                       {"name": "rec", "type": "pure-token", "token": "REC"},
                       {"name": "partition-key", "type": "string"}, {"name": "data", "type": "string"},
                       {"name": "hashkey", "type": "string", "token": "HASHKEY", "flags": ["optional"]}]}))
@kerrors
def stream_putmany(c, argv):
    """STREAM.PUTMANY key REC pkey data [HASHKEY h] [REC ...] -> [failedCount, [[shardId, seq] | [errorCode,
    message]...]] in request order (errors only from the RATE knob)"""
    raw = []
    i = 2
    while i < len(argv):
        if argv[i].upper() != b"REC" or i + 2 >= len(argv):
            c.error(b"ERR syntax error")
            return
        pkey, data, hashkey = argv[i + 1], argv[i + 2], None
        i += 3
        if i + 1 < len(argv) and argv[i].upper() == b"HASHKEY":
            hashkey = argv[i + 1]
            i += 2
        raw.append((pkey, data, hashkey))
    if len(raw) > 500:
        raise validation("[...]", "records", "have length less than or equal to 500")
    s = get_stream(c, argv[1], True)
    total = 0
    records = []
    for pkey, data, hashkey in raw:
        records.append((pkey, data, check_record(s, pkey, data, hashkey)))
        total += len(pkey) + len(data)
    if total > 5 * 1048576:
        raise invalid("Records size exceeds 5 MB limit")
    placed, failed, effects = put_records(c, argv[1], s, records)
    propagate(c, effects)
    results = [None] * len(records)
    for sh, seq, _, _, n, _ in placed:
        results[n] = (sh.id.encode(), str(seq).encode())
    for n, sh in failed:
        e = throttled(argv[1], sh)
        results[n] = (b"ProvisionedThroughputExceededException", e.text.split(b" ", 1)[1])
    r = c.reply
    r.add_array_len(2)
    r.add_int(len(failed))
    r.add_array_len(len(results))
    for a, b in results:
        r.add_array_len(2)
        r.add_bulk(a)
        r.add_bulk(b)


@command("stream._put", -7, "write internal", keys=(1, 1, 1))
def stream_put_effect(c, argv):
    """STREAM._PUT key (shardId seq arrival_ms pkey data)...: append with resolved sequence numbers;
    records already present (seq at or below the shard's last) are skipped."""
    e = c.db.lookup_write(argv[1])
    if e is None or type(e.value) is not KStreamValue or (len(argv) - 2) % 5:
        c.error(b"ERR bad STREAM._PUT effect")
        return
    s = e.value
    for i in range(2, len(argv), 5):
        sh = s.shards.get(argv[i].decode("latin-1"))
        if sh is not None:
            arrival = int(argv[i + 2])
            sh.append(int(argv[i + 1]), arrival, argv[i + 3], argv[i + 4])
            s.last_ms = max(s.last_ms, arrival)
    c.dirty += 1
    blocking.signal_key_ready(c, argv[1])
    c.reply.add_ok()


@command("stream._trim", 4, "write internal", keys=(1, 1, 1))
def stream_trim_effect(c, argv):
    e = c.db.lookup_write(argv[1])
    if e is not None and type(e.value) is KStreamValue:
        sh = e.value.shards.get(argv[2].decode("latin-1"))
        if sh is not None:
            sh.trim_before(int(argv[3]))
    c.dirty += 1
    c.reply.add_ok()


@command("stream.trim", 2, "write", acl="stream", keys=(1, 1, 1), key_specs=KEY1,
         docs=docs("Drop the records past the stream's retention now (the primary also does it once a second)",
                   "O(N) shards + M records dropped"))
@kerrors
def stream_trim(c, argv):
    """STREAM.TRIM key -> the number of records dropped (a no-op on a replica: the primary sends _TRIM)"""
    s = get_stream(c, argv[1], True)
    effects = []
    before = sum(len(sh.seqs) for sh in s.shards.values())
    retention_trim(c, argv[1], s, list(s.shards.values()), effects)
    dropped = before - sum(len(sh.seqs) for sh in s.shards.values())
    if effects:
        c.dirty += 1
        notify(c, "d", b"stream.trim", argv[1])
    propagate(c, effects)
    c.reply.add_int(dropped)


# ---------------------------------------------------------------------------------------------------
# iterators and GET
# ---------------------------------------------------------------------------------------------------
def sign(s, payload):
    return hmac.new(s.secret, payload, hashlib.sha256).hexdigest()[:32].encode()


def make_iterator(s, sh, min_seq, now):
    payload = b"%d.%d.%d.%d" % (sh.idx, min_seq, now, s.created_ms)
    return base64.urlsafe_b64encode(payload + b"." + sign(s, payload))


def open_iterator(s, key, token, now):
    """(shard, min_seq) of a signed iterator, or KError."""
    bad = invalid("Invalid ShardIterator.")
    if len(token) > 512:
        raise validation(token.decode("utf-8", "replace")[:64] + "...", "shardIterator",
                         "have length less than or equal to 512")
    try:
        raw = base64.urlsafe_b64decode(token)
        payload, _, mac = raw.rpartition(b".")
        idx, min_seq, issued, created = (int(x) for x in payload.split(b"."))
    except Exception:
        raise bad from None
    if not hmac.compare_digest(mac, sign(s, payload)) or created != s.created_ms:
        raise bad
    if now - issued > s.iterator_ttl_ms:
        raise KError("ExpiredIteratorException",
                     f"Iterator expired. The iterator was created at time {issued} while right now it is {now} "
                     f"which is further in the future than the tolerated delay of {s.iterator_ttl_ms} milliseconds.")
    sh = s.shards.get("shardId-%012d" % idx)
    if sh is None:
        raise shard_not_found(key, "shardId-%012d" % idx)
    return sh, min_seq


def start_position(key, s, sh, kind, arg):
    """The smallest sequence number a reader at this position may get next."""
    if kind == b"TRIM_HORIZON":
        return 0
    if kind == b"LATEST":
        return (sh.seqs[-1] + 1) if sh.seqs else sh.start_seq
    if kind == b"AT_TIMESTAMP":
        ts = parse_int(arg, "timestamp", 0)
        return make_seq(ts, 0, 0)
    seq = parse_seq(arg)
    owner = seq_index(seq)
    if owner is None:
        raise invalid(f"StartingSequenceNumber {seq} used in GetShardIterator on shard {sh.id} in stream "
                      f"{sname(key)} under account {ACCOUNT} is invalid.")
    if owner != sh.idx:
        raise invalid(f"Invalid StartingSequenceNumber. It encodes shardId-{owner:012d}, while it was used in a "
                      f"call to a shard with {sh.id}")
    return seq if kind == b"AT_SEQUENCE_NUMBER" else seq + 1


def parse_kind(argv, i):
    """(kind, arg, next index) for 'TYPE [arg]' at argv[i]."""
    kind = argv[i].upper()
    if kind not in ITERATOR_TYPES:
        raise validation(argv[i].decode("utf-8", "replace"), "shardIteratorType",
                         "satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, "
                         "TRIM_HORIZON, LATEST]")
    if kind in (b"TRIM_HORIZON", b"LATEST"):
        return kind, None, i + 1
    if i + 1 >= len(argv):
        if kind == b"AT_TIMESTAMP":
            raise invalid("Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                          "Current request has no timestamp parameter.")
        raise invalid(f"Must specify StartingSequenceNumber for iterator of type {kind.decode()}.")
    return kind, argv[i + 1], i + 2


@command("stream.iterator", -4, "readonly", acl="stream", keys=(1, 1, 1), key_specs=KEY1_RO,
         docs=docs("Get a signed shard iterator (Kinesis GetShardIterator), valid for 5 minutes", "O(log N)",
                   "shard-id", "type", "position?"))
@kerrors
def stream_iterator(c, argv):
    """STREAM.ITERATOR key shardId TRIM_HORIZON|LATEST|AT_SEQUENCE_NUMBER s|AFTER_SEQUENCE_NUMBER s|AT_TIMESTAMP ms"""
    kind, arg, nxt = parse_kind(argv, 3)
    if nxt != len(argv):
        c.error(b"ERR syntax error")
        return
    s = get_stream(c, argv[1])
    sh = get_shard(s, argv[1], argv[2])
    c.reply.add_bulk(make_iterator(s, sh, start_position(argv[1], s, sh, kind, arg), c.ks.now_ms))


def visible_range(s, sh, min_seq, limit, now):
    lo = sh.position(max(min_seq, horizon_seq(s, sh, now)))
    hi = min(len(sh.seqs), lo + limit)
    size = 0
    for i in range(lo, hi):          # GetRecords returns at most 10 MiB
        size += len(sh.datas[i]) + len(sh.pkeys[i])
        if size > 10 * 1048576 and i > lo:
            hi = i
            break
    return lo, hi


@command("stream.get", -3, "readonly", acl="stream", keys=(1, 1, 1), key_specs=KEY1_RO,
         docs=docs("Read records at a shard iterator (Kinesis GetRecords)", "O(log N + M) for M records",
                   "iterator", "limit?"))
@kerrors
def stream_get(c, argv):
    """STREAM.GET key iterator [LIMIT n] -> {Records: [[seq, arrival_ms, pkey, data]...], NextShardIterator,
    MillisBehindLatest, ChildShards (at the end of a closed shard)}"""
    limit = 10000
    if len(argv) == 5 and argv[3].upper() == b"LIMIT":
        limit = parse_int(argv[4], "limit", 1, 10000)
    elif len(argv) != 3:
        c.error(b"ERR syntax error")
        return
    s = get_stream(c, argv[1])
    now = c.ks.now_ms
    sh, min_seq = open_iterator(s, argv[1], argv[2], now)
    lo, hi = visible_range(s, sh, min_seq, limit, now)
    next_min = sh.seqs[hi - 1] + 1 if hi > lo else min_seq
    at_end = hi == len(sh.seqs)
    r = c.reply
    r.add_map_len(4)
    r.add_bulk(b"Records")
    emit_records(r, sh, lo, hi)
    r.add_bulk(b"NextShardIterator")
    if at_end and not sh.is_open:
        r.add_null()
    else:
        r.add_bulk(make_iterator(s, sh, next_min, now))
    r.add_bulk(b"MillisBehindLatest")
    r.add_int(0 if at_end else max(0, now - sh.arrivals[hi]))
    r.add_bulk(b"ChildShards")
    add_value(r, child_desc(s, sh) if at_end and not sh.is_open else [])


# ---------------------------------------------------------------------------------------------------
# READ (blocking)
# ---------------------------------------------------------------------------------------------------
READ_KINDS = {b"FROM": b"AT_SEQUENCE_NUMBER", b"AFTER": b"AFTER_SEQUENCE_NUMBER", b"AT": b"AT_TIMESTAMP",
              b"TRIM_HORIZON": b"TRIM_HORIZON", b"LATEST": b"LATEST"}


@command("stream.read", -4, "readonly blocking", acl="stream", keys=(1, 1, 1), key_specs=KEY1_RO,
         docs=docs("Read a shard from a position, optionally blocking until a PUT brings records",
                   "O(log N + M) for M records", "shard-id", "position", "count?", "block?"))
@kerrors
def stream_read(c, argv):
    """STREAM.READ key shardId FROM seq|AFTER seq|TRIM_HORIZON|LATEST|AT ms [COUNT n] [BLOCK ms]
    -> [[seq, arrival_ms, pkey, data]...], or a null array when BLOCK times out"""
    word = argv[3].upper()
    if word not in READ_KINDS:
        c.error(b"ERR syntax error")
        return
    kind = READ_KINDS[word]
    arg = None
    i = 4
    if kind not in (b"TRIM_HORIZON", b"LATEST"):
        if i >= len(argv):
            c.error(b"ERR syntax error")
            return
        arg = argv[i]
        i += 1
    count, block_ms = 10000, None
    while i < len(argv):
        opt = argv[i].upper()
        if i + 1 >= len(argv):
            c.error(b"ERR syntax error")
            return
        if opt == b"COUNT":
            count = parse_int(argv[i + 1], "count", 1, 10000)
        elif opt == b"BLOCK":
            if not INT_RE.match(argv[i + 1]) or int(argv[i + 1]) < 0:
                c.error(b"ERR timeout is not an integer or out of range")
                return
            block_ms = int(argv[i + 1])
        else:
            c.error(b"ERR syntax error")
            return
        i += 2
    s = get_stream(c, argv[1])
    sh = get_shard(s, argv[1], argv[2])
    min_seq = start_position(argv[1], s, sh, kind, arg)
    lo, hi = visible_range(s, sh, min_seq, count, c.ks.now_ms)
    if hi > lo or block_ms is None or not sh.is_open:
        emit_records(c.reply, sh, lo, hi)
        return
    if c.deny_blocking:                 # inside MULTI or a script: answer as a timeout
        c.reply.add_null_array()
        return
    # pin LATEST ("after what is there now") so the re-run sees only records put meanwhile
    retry = list(argv)
    if kind == b"LATEST":
        pin = [b"AFTER", str(sh.seqs[-1]).encode()] if sh.seqs else [b"FROM", str(sh.start_seq).encode()]
        retry[3:4] = pin
    key = argv[1]

    def ready_check(db, k):
        e = db.find(k)
        if e is None or type(e.value) is not KStreamValue:
            return False
        sh2 = e.value.shards.get(sh.id)
        return sh2 is not None and ((bool(sh2.seqs) and sh2.seqs[-1] >= min_seq) or not sh2.is_open)

    blocking.block(c, [key], block_ms, retry, value_type=b"kstream", ready_check=ready_check)


# ---------------------------------------------------------------------------------------------------
# resharding
# ---------------------------------------------------------------------------------------------------
def not_eligible(key, sid):
    return KError("ResourceInUseException",
                  f"Shard {sid} in stream {sname(key)} under account {ACCOUNT} has already been merged or split, "
                  "and thus is not eligible for merging or splitting.")


def reshard_split(key, s, at_ms, sid, hashkey, apply):
    sh = s.shards.get(sid)
    if sh is None:
        raise shard_not_found(key, sid)
    if not sh.is_open:
        raise not_eligible(key, sid)
    if not HASH_RE.match(hashkey):
        raise validation(hashkey.decode("utf-8", "replace"), "newStartingHashKey",
                         r"satisfy regular expression pattern: 0|([1-9]\d{0,38})")
    h = int(hashkey)
    if not (sh.hash_start + 1 < h <= sh.hash_end):
        raise invalid(f"NewStartingHashKey {h} used in SplitShard() on shard {sid} in stream {sname(key)} under "
                      f"account {ACCOUNT} is not both greater than one plus the shard's StartingHashKey "
                      f"{sh.hash_start} and less than the shard's EndingHashKey {sh.hash_end}.")
    if s.next_index + 2 > MAX_SHARD_INDEX + 1:
        raise KError("LimitExceededException", "The stream has used all 4096 shard ids.")
    if apply:
        s.close(sh, at_ms)
        s.add_shard([sh.id], sh.hash_start, h - 1, at_ms)
        s.add_shard([sh.id], h, sh.hash_end, at_ms)


def reshard_merge(key, s, at_ms, sid, adj_id, apply):
    a, b = s.shards.get(sid), s.shards.get(adj_id)
    if a is None:
        raise shard_not_found(key, sid)
    if b is None:
        raise shard_not_found(key, adj_id)
    for x in (a, b):
        if not x.is_open:
            raise not_eligible(key, x.id)
    if not (a.hash_end + 1 == b.hash_start or b.hash_end + 1 == a.hash_start):
        raise invalid(f"Shards {sid} and {adj_id} in stream {sname(key)} under account {ACCOUNT} are not an "
                      "adjacent pair of shards eligible for merging")
    if s.next_index + 1 > MAX_SHARD_INDEX + 1:
        raise KError("LimitExceededException", "The stream has used all 4096 shard ids.")
    if apply:
        s.close(a, at_ms)
        s.close(b, at_ms)
        s.add_shard([a.id, b.id], min(a.hash_start, b.hash_start), max(a.hash_end, b.hash_end), at_ms)


def reshard_count(key, s, at_ms, target, apply):
    open_ = s.open_shards()
    n = len(open_)
    if target > 2 * n or target * 2 < n:
        raise KError("InvalidArgumentException",
                     f"UpdateShardCount cannot scale up over double your current open shard count. Current open "
                     f"shard count: {n} Target shard count: {target}" if target > 2 * n else
                     f"UpdateShardCount cannot scale down below half your current open shard count. Current open "
                     f"shard count: {n} Target shard count: {target}")
    day = [t for t in s.reshards if t > at_ms - 86400000]
    if len(day) >= 10:
        raise KError("LimitExceededException",
                     "Rate exceeded for stream: UpdateShardCount may be called at most 10 times in a rolling "
                     "24-hour period.")
    if target > MAX_SHARDS or s.next_index + target > MAX_SHARD_INDEX + 1:
        raise KError("LimitExceededException", f"Target shard count {target} exceeds the shard limit.")
    if apply:
        s.reshards = day + [at_ms]
        ranges = uniform_ranges(target)
        for sh in open_:
            s.close(sh, at_ms)
        for hs, he in ranges:
            parents = [sh.id for sh in open_ if sh.hash_start <= he and sh.hash_end >= hs]
            s.add_shard(parents, hs, he, at_ms)


def reshard(c, key, s, at_ms, op, args, apply):
    if op == b"SPLIT":
        reshard_split(key, s, at_ms, args[0].decode("latin-1"), args[1], apply)
    elif op == b"MERGE":
        reshard_merge(key, s, at_ms, args[0].decode("latin-1"), args[1].decode("latin-1"), apply)
    else:
        reshard_count(key, s, at_ms, int(args[0]), apply)
    if apply:
        s.last_ms = max(s.last_ms, at_ms)


def reshard_command(c, argv, op, args):
    key = argv[1]
    s = get_stream(c, key, True)
    at_ms = max(s.last_ms + 1, c.ks.now_ms)
    reshard(c, key, s, at_ms, op, args, False)       # checks only: raises before any change
    reshard(c, key, s, at_ms, op, args, True)
    c.dirty += 1
    c.propagate_as([b"STREAM._RESHARD", key, str(at_ms).encode(), op] + list(args))
    notify(c, "d", {b"SPLIT": b"stream.split", b"MERGE": b"stream.merge"}.get(op, b"stream.reshard"), key)
    blocking.signal_key_ready(c, key)               # READ on a shard that just closed answers at once
    c.reply.add_ok()


@command("stream.split", 4, "write", acl="stream", keys=(1, 1, 1), key_specs=KEY1,
         docs=docs("Split an open shard at a hash key (Kinesis SplitShard)", "O(N) shards",
                   "shard-id", "new-starting-hash-key"))
@kerrors
def stream_split(c, argv):
    reshard_command(c, argv, b"SPLIT", [argv[2], argv[3]])


@command("stream.merge", 4, "write", acl="stream", keys=(1, 1, 1), key_specs=KEY1,
         docs=docs("Merge two adjacent open shards (Kinesis MergeShards)", "O(N) shards",
                   "shard-id", "adjacent-shard-id"))
@kerrors
def stream_merge(c, argv):
    reshard_command(c, argv, b"MERGE", [argv[2], argv[3]])


@command("stream.updateshardcount", -3, "write", acl="stream", keys=(1, 1, 1), key_specs=KEY1,
         docs=docs("Reshard to n uniform shards (Kinesis UpdateShardCount UNIFORM_SCALING)", "O(N) shards",
                   "count", "scaling-type?"))
@kerrors
def stream_updateshardcount(c, argv):
    if len(argv) > 4 or (len(argv) == 4 and argv[3].upper() != b"UNIFORM_SCALING"):
        c.error(b"ERR syntax error")
        return
    target = parse_int(argv[2], "targetShardCount", 1, MAX_SHARDS)
    reshard_command(c, argv, b"COUNT", [str(target).encode()])


@command("stream._reshard", -5, "write internal", keys=(1, 1, 1))
def stream_reshard_effect(c, argv):
    """STREAM._RESHARD key at_ms SPLIT|MERGE|COUNT args: applied once (skipped when the stream has
    already moved past at_ms)."""
    e = c.db.lookup_write(argv[1])
    if e is not None and type(e.value) is KStreamValue:
        s = e.value
        at_ms = int(argv[2])
        if not any(sh.created_ms == at_ms for sh in s.shards.values()):
            try:
                reshard(c, argv[1], s, at_ms, argv[3].upper(), argv[4:], False)
                reshard(c, argv[1], s, at_ms, argv[3].upper(), argv[4:], True)
            except KError:
                pass
    c.dirty += 1
    c.reply.add_ok()


# ---------------------------------------------------------------------------------------------------
# leases and checkpoints (KCL-style lease table inside the stream key)
# ---------------------------------------------------------------------------------------------------
def lease_effect(key, app, sid, row):
    owner, counter, expires, checkpoint, subseq = row
    return [b"STREAM._LEASE", key, app.encode(), sid.encode(), (owner or "").encode(), str(counter).encode(),
            str(expires).encode(), (checkpoint or "").encode(), str(subseq).encode()]


def parents_done(s, app, sh):
    rows = s.leases.get(app, {})
    for p in sh.parents:
        if p in s.shards and s.shards[p].seqs and (rows.get(p) or [None] * 4)[3] != "SHARD_END":
            return False
    return True


def lease_reply(c, s, app, sh, row):
    add_value(c.reply, {"ShardId": sh.id, "LeaseOwner": row[0], "LeaseCounter": row[1], "ExpiresMs": row[2],
                        "Checkpoint": row[3], "SubSequenceNumber": row[4],
                        "ParentsDone": parents_done(s, app, sh), "ParentShardIds": list(sh.parents)})


container("stream.lease", docs={"summary": "KCL-style shard leases of a consumer application",
                                "since": "1.0.0", "group": "module"}, acl="stream")
LEASE_ARGS = ("app", "shard-id", "owner")


@command("stream.lease|acquire", -6, "write", acl="stream", keys=(2, 2, 1), key_specs=KEY2,
         docs=docs("Take a free or expired shard lease (or steal one with IFCOUNTER)", "O(1)",
                   *LEASE_ARGS, "ttlms?", "ifcounter?"))
@kerrors
def lease_acquire(c, argv):
    """STREAM.LEASE ACQUIRE key app shardId owner [TTLMS ms] [IFCOUNTER c]"""
    key, app, sid, owner = argv[2], argv[3].decode(), argv[4].decode("latin-1"), argv[5].decode()
    ttl, if_counter = 10000, None
    i = 6
    while i < len(argv):
        opt = argv[i].upper()
        if i + 1 >= len(argv):
            c.error(b"ERR syntax error")
            return
        if opt == b"TTLMS":
            ttl = parse_int(argv[i + 1], "ttlms", 1)
        elif opt == b"IFCOUNTER":
            if_counter = parse_int(argv[i + 1], "ifcounter", 0)
        else:
            c.error(b"ERR syntax error")
            return
        i += 2
    s = get_stream(c, key, True)
    sh = get_shard(s, key, argv[4])
    now = c.ks.now_ms
    row = s.leases.get(app, {}).get(sid) or [None, 0, 0, None, 0]
    free = row[0] is None or row[0] == owner or row[2] <= now
    if not free and (if_counter is None or if_counter != row[1]):
        raise KError("LEASEHELD", f"lease on {sid} is held by {row[0]} (counter {row[1]})")
    if if_counter is not None and if_counter != row[1]:
        raise KError("LEASELOST", f"lease counter of {sid} is {row[1]}, not {if_counter}")
    if not parents_done(s, app, sh):
        raise KError("LEASEBLOCKED", f"parents of {sid} are not checkpointed at SHARD_END yet: "
                                     + ", ".join(sh.parents))
    row = [owner, row[1] + 1, now + ttl, row[3], row[4]]
    s.leases.setdefault(app, {})[sid] = row
    c.dirty += 1
    c.propagate_as(lease_effect(key, app, sid, row))
    notify(c, "d", b"stream.lease", key)
    lease_reply(c, s, app, sh, row)


def owned_row(s, key, app, sid, owner, counter, now):
    row = s.leases.get(app, {}).get(sid)
    if row is None or row[0] != owner or row[1] != counter or row[2] <= now:
        held = "nobody" if row is None or row[0] is None else f"{row[0]} (counter {row[1]})"
        raise KError("LEASELOST", f"lease on {sid} is held by {held}")
    return row


@command("stream.lease|renew", 8, "write", acl="stream", keys=(2, 2, 1), key_specs=KEY2,
         docs=docs("Renew an owned lease (conditional on its counter)", "O(1)", *LEASE_ARGS, "counter", "ttlms"))
@kerrors
def lease_renew(c, argv):
    """STREAM.LEASE RENEW key app shardId owner counter ttlms"""
    key, app, sid, owner = argv[2], argv[3].decode(), argv[4].decode("latin-1"), argv[5].decode()
    counter = parse_int(argv[6], "counter", 0)
    ttl = parse_int(argv[7], "ttlms", 1)
    s = get_stream(c, key, True)
    sh = get_shard(s, key, argv[4])
    now = c.ks.now_ms
    row = owned_row(s, key, app, sid, owner, counter, now)
    row[1] += 1
    row[2] = now + ttl
    c.dirty += 1
    c.propagate_as(lease_effect(key, app, sid, row))
    lease_reply(c, s, app, sh, row)


@command("stream.lease|release", 7, "write", acl="stream", keys=(2, 2, 1), key_specs=KEY2,
         docs=docs("Give up an owned lease", "O(1)", *LEASE_ARGS, "counter"))
@kerrors
def lease_release(c, argv):
    key, app, sid, owner = argv[2], argv[3].decode(), argv[4].decode("latin-1"), argv[5].decode()
    counter = parse_int(argv[6], "counter", 0)
    s = get_stream(c, key, True)
    get_shard(s, key, argv[4])
    row = owned_row(s, key, app, sid, owner, counter, c.ks.now_ms)
    row[0], row[1], row[2] = None, row[1] + 1, 0
    c.dirty += 1
    c.propagate_as(lease_effect(key, app, sid, row))
    c.reply.add_ok()


@command("stream.lease|list", 4, "readonly", acl="stream", keys=(2, 2, 1), key_specs=KEY2_RO,
         docs=docs("The lease table of a consumer application, one row per shard", "O(N) shards", "app"))
@kerrors
def lease_list(c, argv):
    key, app = argv[2], argv[3].decode()
    s = get_stream(c, key)
    rows = s.leases.get(app, {})
    c.reply.add_array_len(len(s.shards))
    for sh in s.shards.values():
        lease_reply(c, s, app, sh, rows.get(sh.id) or [None, 0, 0, None, 0])


@command("stream.checkpoint", -5, "write", acl="stream", keys=(1, 1, 1), key_specs=KEY1,
         docs=docs("Record a consumer application's checkpoint on a shard", "O(1)", "app", "shard-id",
                   "sequence-number", "subseq?", "owner?"))
@kerrors
def stream_checkpoint(c, argv):
    """STREAM.CHECKPOINT key app shardId seq|TRIM_HORIZON|LATEST|SHARD_END [SUBSEQ n] [OWNER o COUNTER c]"""
    key, app, sid = argv[1], argv[2].decode(), argv[3].decode("latin-1")
    cp = argv[4]
    subseq, owner, counter = 0, None, None
    i = 5
    while i < len(argv):
        opt = argv[i].upper()
        if opt == b"SUBSEQ" and i + 1 < len(argv):
            subseq = parse_int(argv[i + 1], "subSequenceNumber", 0)
            i += 2
        elif opt == b"OWNER" and i + 3 < len(argv) and argv[i + 2].upper() == b"COUNTER":
            owner, counter = argv[i + 1].decode(), parse_int(argv[i + 3], "counter", 0)
            i += 4
        else:
            c.error(b"ERR syntax error")
            return
    s = get_stream(c, key, True)
    sh = get_shard(s, key, argv[3])
    upper = cp.upper()
    if upper in (b"TRIM_HORIZON", b"LATEST", b"SHARD_END"):
        if upper == b"SHARD_END" and sh.is_open:
            raise invalid(f"Shard {sid} is open: SHARD_END can only be checkpointed on a closed shard.")
        checkpoint = upper.decode()
    else:
        seq = parse_seq(cp, "sequenceNumber")
        if seq_index(seq) != sh.idx:
            raise invalid(f"Sequence number {seq} does not belong to shard {sid}.")
        checkpoint = str(seq)
    now = c.ks.now_ms
    rows = s.leases.setdefault(app, {})
    if owner is not None:
        row = owned_row(s, key, app, sid, owner, counter, now)
    else:
        row = rows.get(sid) or [None, 0, 0, None, 0]
    row = [row[0], row[1], row[2], checkpoint, subseq]
    rows[sid] = row
    c.dirty += 1
    c.propagate_as(lease_effect(key, app, sid, row))
    notify(c, "d", b"stream.checkpoint", key)
    c.reply.add_ok()


@command("stream.checkpointget", -3, "readonly", acl="stream", keys=(1, 1, 1), key_specs=KEY1_RO,
         docs=docs("A consumer application's checkpoints, by shard", "O(N) shards", "app", "shard-id?"))
@kerrors
def stream_checkpointget(c, argv):
    key, app = argv[1], argv[2].decode()
    s = get_stream(c, key)
    rows = s.leases.get(app, {})
    if len(argv) == 4:
        get_shard(s, key, argv[3])
        row = rows.get(argv[3].decode("latin-1"))
        add_value(c.reply, None if row is None else row[3])
        return
    add_value(c.reply, {sid: row[3] for sid, row in rows.items() if row[3] is not None})


@command("stream._lease", 9, "write internal", keys=(1, 1, 1))
def stream_lease_effect(c, argv):
    """STREAM._LEASE key app shardId owner counter expires_ms checkpoint subseq: the whole lease row."""
    e = c.db.lookup_write(argv[1])
    if e is not None and type(e.value) is KStreamValue:
        e.value.leases.setdefault(argv[2].decode(), {})[argv[3].decode("latin-1")] = [
            argv[4].decode() or None, int(argv[5]), int(argv[6]), argv[7].decode() or None, int(argv[8])]
    c.dirty += 1
    c.reply.add_ok()
