"""The kstream value: one Kinesis-like stream (its shards, records, leases and checkpoints) in one key.

Layout (services.md section 3):

* shards own contiguous ranges of the 128-bit MD5 space; CREATE with n shards splits it as Kinesis does
  (``floor(2**128 / n) * i`` .. the next start - 1, the last shard ending at 2**128 - 1);
* a record's sequence number is ``4 * 10**55 + (((arrival_ms << 20) + ctr) << 12) + shard_index``, a
  56-digit decimal whose numeric order is string order, increasing per shard; ``arrival_ms`` is the
  stream-wide ``max(last, now)`` and a reshard moves it to at least ``last + 1``, so every child record
  sorts after every parent record and AT_TIMESTAMP is a sequence-number bound;
* records of a shard are parallel lists (seqs, arrivals, partition keys, data) kept in sequence order,
  so reads are a bisect;
* leases and checkpoints of consumer applications live in the key (as Redis Stream groups do).
"""
import bisect
import json
import struct

from services.base import ServiceValue

POW_128 = 1 << 128
SEQ_VERSION = 4 * 10 ** 55
CTR_BITS = 20
IDX_BITS = 12
MAX_SHARD_INDEX = (1 << IDX_BITS) - 1
MAGIC = b"KSTREAM1"


def make_seq(arrival_ms, ctr, idx):
    return SEQ_VERSION + ((((arrival_ms << CTR_BITS) + ctr) << IDX_BITS) | idx)


def seq_index(seq):
    """The shard index a sequence number encodes, or None when it is not one of ours."""
    if seq < SEQ_VERSION or seq >= 5 * 10 ** 55:
        return None
    return (seq - SEQ_VERSION) & MAX_SHARD_INDEX


def seq_arrival(seq):
    return (seq - SEQ_VERSION) >> (IDX_BITS + CTR_BITS)


def shard_id(idx):
    return "shardId-%012d" % idx


def uniform_ranges(n):
    """Kinesis CreateStream / UpdateShardCount UNIFORM_SCALING hash key ranges for n shards."""
    step = POW_128 // n
    return [(step * i, (step * (i + 1) if i < n - 1 else POW_128) - 1) for i in range(n)]



LOAD_GEN = [0]          # bumped by every load_state (services/kstream/commands.py RetentionTimer)

class Shard:
    __slots__ = ("idx", "id", "parents", "hash_start", "hash_end", "created_ms", "start_seq", "end_seq",
                 "last_ms", "ctr", "seqs", "arrivals", "pkeys", "datas", "bytes", "rate_sec", "rate_count")

    def __init__(self, idx, parents, hash_start, hash_end, created_ms):
        self.idx = idx
        self.id = shard_id(idx)
        self.parents = list(parents)        # [ParentShardId, AdjacentParentShardId, (more for a reshard)]
        self.hash_start = hash_start
        self.hash_end = hash_end
        self.created_ms = created_ms
        self.start_seq = make_seq(created_ms, 0, idx)
        self.end_seq = None                 # set when the shard is closed
        self.last_ms = -1                   # arrival of the shard's last record, and its counter
        self.ctr = 0
        self.seqs = []
        self.arrivals = []
        self.pkeys = []
        self.datas = []
        self.bytes = 0
        self.rate_sec = -1                  # the per-shard write-rate window (RATE knob; not persisted)
        self.rate_count = 0

    @property
    def is_open(self):
        return self.end_seq is None

    def next_seq(self, arrival_ms):
        if arrival_ms == self.last_ms:
            return make_seq(arrival_ms, self.ctr + 1, self.idx)
        return make_seq(arrival_ms, 0, self.idx)

    def append(self, seq, arrival_ms, pkey, data):
        """Idempotent: a sequence number at or below the shard's last one is already applied."""
        if self.seqs and seq <= self.seqs[-1]:
            return False
        self.seqs.append(seq)
        self.arrivals.append(arrival_ms)
        self.pkeys.append(pkey)
        self.datas.append(data)
        self.bytes += len(pkey) + len(data)
        rest = seq - SEQ_VERSION
        self.last_ms = rest >> (IDX_BITS + CTR_BITS)
        self.ctr = (rest >> IDX_BITS) & ((1 << CTR_BITS) - 1)
        return True

    def trim_before(self, seq):
        """Drop the records with a sequence number below seq; returns how many."""
        n = bisect.bisect_left(self.seqs, seq)
        if n:
            self.bytes -= sum(len(p) + len(d) for p, d in zip(self.pkeys[:n], self.datas[:n]))
            del self.seqs[:n], self.arrivals[:n], self.pkeys[:n], self.datas[:n]
        return n

    def position(self, min_seq):
        return bisect.bisect_left(self.seqs, min_seq)

    def meta(self):
        return [self.idx, self.parents, str(self.hash_start), str(self.hash_end), self.created_ms,
                None if self.end_seq is None else str(self.end_seq), self.last_ms, self.ctr]


class KStreamValue(ServiceValue):
    type_name = b"kstream"
    rdb_module_name = "cmkstream"
    rdb_encoding_version = 1

    def __init__(self, created_ms, secret, retention_ms, iterator_ttl_ms=300000, mode="PROVISIONED",
                 max_record=1048576):
        self.created_ms = created_ms
        self.secret = secret
        self.retention_ms = retention_ms
        self.iterator_ttl_ms = iterator_ttl_ms
        self.mode = mode
        self.max_record = max_record
        self.shard_rate = 0                 # records/s per shard before ProvisionedThroughputExceeded (0 = no limit)
        self.last_ms = created_ms
        self.next_index = 0
        self.shards = {}                    # shard id (str) -> Shard, in creation order
        self.reshards = []                  # arrival ms of each reshard (UpdateShardCount rate limit)
        self.leases = {}                    # app (str) -> {shard id: [owner|None, counter, expires_ms, checkpoint|None, subseq]}

    # ------------------------------------------------------------------ shards
    def add_shard(self, parents, hash_start, hash_end, created_ms):
        if self.next_index > MAX_SHARD_INDEX:
            raise OverflowError("shard index space exhausted")
        s = Shard(self.next_index, parents, hash_start, hash_end, created_ms)
        self.next_index += 1
        self.shards[s.id] = s
        return s

    def open_shards(self):
        return sorted((s for s in self.shards.values() if s.is_open), key=lambda s: s.hash_start)

    def shard_for_hash(self, h):
        for s in self.shards.values():
            if s.end_seq is None and s.hash_start <= h <= s.hash_end:
                return s
        raise LookupError(h)

    def children_of(self, sid):
        return [s for s in self.shards.values() if sid in s.parents]

    def close(self, shard, reshard_ms):
        shard.end_seq = make_seq(reshard_ms - 1, (1 << CTR_BITS) - 1, shard.idx)

    # ------------------------------------------------------------------ persistence
    def dump_state(self):
        meta = {
            "created_ms": self.created_ms, "secret": self.secret.hex(), "retention_ms": self.retention_ms,
            "iterator_ttl_ms": self.iterator_ttl_ms, "mode": self.mode, "max_record": self.max_record,
            "last_ms": self.last_ms, "next_index": self.next_index, "reshards": self.reshards,
            "shard_rate": self.shard_rate,
            "shards": [s.meta() for s in self.shards.values()], "leases": self.leases,
        }
        head = json.dumps(meta, separators=(",", ":")).encode()
        out = [MAGIC, struct.pack(">I", len(head)), head]
        for s in self.shards.values():
            out.append(struct.pack(">I", len(s.seqs)))
            for seq, arr, pk, data in zip(s.seqs, s.arrivals, s.pkeys, s.datas):
                sb = str(seq).encode()
                out.append(struct.pack(">BQII", len(sb), arr, len(pk), len(data)))
                out += (sb, pk, data)
        return b"".join(out)

    @classmethod
    def load_state(cls, data, encoding_version):
        LOAD_GEN[0] += 1          # RDB load, full sync, RESTORE, COPY, DEBUG RELOAD: the trim timer re-indexes
        try:
            return cls._load(bytes(data), encoding_version)
        except ValueError:
            raise
        except Exception as exc:          # any malformation: never half a value
            raise ValueError(f"bad kstream payload: {exc}") from None

    @classmethod
    def _load(cls, data, encoding_version):
        if encoding_version != 1 or not data.startswith(MAGIC):
            raise ValueError("bad kstream payload")
        pos = len(MAGIC)
        (hl,) = struct.unpack_from(">I", data, pos)
        pos += 4
        meta = json.loads(data[pos:pos + hl])
        pos += hl
        v = cls(int(meta["created_ms"]), bytes.fromhex(meta["secret"]), int(meta["retention_ms"]),
                int(meta["iterator_ttl_ms"]), str(meta["mode"]), int(meta["max_record"]))
        v.last_ms = int(meta["last_ms"])
        v.shard_rate = int(meta.get("shard_rate", 0))
        v.reshards = [int(x) for x in meta["reshards"]]
        v.leases = {str(app): {str(k): list(l) for k, l in ls.items()} for app, ls in meta["leases"].items()}
        for idx, parents, hs, he, cms, end, last_ms, ctr in meta["shards"]:
            s = Shard(int(idx), [str(p) for p in parents], int(hs), int(he), int(cms))
            s.end_seq = None if end is None else int(end)
            v.shards[s.id] = s
            (n,) = struct.unpack_from(">I", data, pos)
            pos += 4
            for _ in range(n):
                sl, arr, pl, dl = struct.unpack_from(">BQII", data, pos)
                pos += 17
                seq = int(data[pos:pos + sl])
                pos += sl
                pk = data[pos:pos + pl]
                pos += pl
                d = data[pos:pos + dl]
                pos += dl
                if len(d) != dl or len(pk) != pl:
                    raise ValueError("truncated kstream payload")
                s.seqs.append(seq)
                s.arrivals.append(arr)
                s.pkeys.append(pk)
                s.datas.append(d)
                s.bytes += pl + dl
            s.last_ms, s.ctr = int(last_ms), int(ctr)
        v.next_index = int(meta["next_index"])
        if pos != len(data):
            raise ValueError("trailing bytes in kstream payload")
        return v

    # ------------------------------------------------------------------ /metrics (server/metrics.py)
    metric_families = {
        "stream_records_total": ("gauge", "Records held by a kstream shard (within retention or not yet trimmed)"),
        "stream_bytes": ("gauge", "Partition key + data bytes held by a kstream shard"),
        "stream_shards": ("gauge", "Shards of a kstream by state (OPEN, CLOSED)"),
    }

    def metric_samples(self, key):
        out = []
        for s in self.shards.values():
            out.append(("stream_records_total", {"stream": key, "shard": s.id}, len(s.seqs)))
            out.append(("stream_bytes", {"stream": key, "shard": s.id}, s.bytes))
        n_open = sum(1 for s in self.shards.values() if s.is_open)
        out.append(("stream_shards", {"stream": key, "state": "OPEN"}, n_open))
        out.append(("stream_shards", {"stream": key, "state": "CLOSED"}, len(self.shards) - n_open))
        return out

    # ------------------------------------------------------------------ dashboard (server/dashboard.py)
    def dashboard_summary(self):
        return {"mode": self.mode, "retention_hours": self.retention_ms / 3600000,
                "open_shards": sum(1 for s in self.shards.values() if s.is_open), "shards": len(self.shards),
                "records": sum(len(s.seqs) for s in self.shards.values()),
                "bytes": sum(s.bytes for s in self.shards.values()), "apps": sorted(self.leases)}

    def dashboard_detail(self):
        """The shard lineage as a graph (parents -> children), plus per-shard counts and the lease tables."""
        nodes = [{"id": s.id, "type": "shard", "status": "OPEN" if s.is_open else "CLOSED", "records": len(s.seqs),
                  "hash_start": str(s.hash_start), "hash_end": str(s.hash_end)} for s in self.shards.values()]
        edges = [[p, s.id] for s in self.shards.values() for p in s.parents]
        leases = {app: {sid: {"owner": row[0], "counter": row[1], "expires_ms": row[2], "checkpoint": row[3]}
                        for sid, row in rows.items()} for app, rows in self.leases.items()}
        return dict(self.dashboard_summary(), graph={"nodes": nodes, "edges": edges}, leases=leases)

    def memory_usage(self):
        total = 512
        for s in self.shards.values():
            total += 400 + s.bytes + 120 * len(s.seqs)
        for ls in self.leases.values():
            total += 150 * len(ls)
        return total
