# cython: language_level=3, wraparound=True, boundscheck=True, binding=True
"""The stream value type (redis t_stream.c data model).

Entries live in a sorted list of ids ((ms, seq) tuples, bisect for O(log n) range starts) plus an aligned
list of flat (field, value, ...) tuples (no dict: no hashing per XADD, and tuples of bytes leave the GC).  Redis stores entries in listpack "nodes" of a rax; trimming with
``~`` only drops whole nodes and XINFO reports node counts, so the node boundaries are modelled too
(`Node`: master id, slots used including deleted entries, live count, estimated listpack bytes).
"""
from libc.stdio cimport snprintf
from bisect import bisect_left, bisect_right, insort

from engine.core import register_value_type

U64_MAX = (1 << 64) - 1
MIN_ID = (0, 0)
MAX_ID = (U64_MAX, U64_MAX)
SCG_INVALID_ENTRIES_READ = -1


cpdef bytes format_id(tuple stream_id):
    """'<ms>-<seq>' (both unsigned 64-bit)."""
    cdef char buf[48]
    cdef unsigned long long ms = stream_id[0]
    cdef unsigned long long seq = stream_id[1]
    cdef int n = snprintf(buf, sizeof(buf), "%llu-%llu", ms, seq)
    return buf[:n]


def incr_id(stream_id):
    """streamIncrID: the next id, or None on overflow."""
    ms, seq = stream_id
    if seq == U64_MAX:
        if ms == U64_MAX:
            return None
        return (ms + 1, 0)
    return (ms, seq + 1)


def decr_id(stream_id):
    ms, seq = stream_id
    if seq == 0:
        if ms == 0:
            return None
        return (ms - 1, U64_MAX)
    return (ms, seq - 1)


# --------------------------------------------------------------------------------------------------
# listpack size estimate (streamAppendItem opens a new node when the tail node's bytes would pass
# stream-node-max-bytes)
# --------------------------------------------------------------------------------------------------
cdef inline int lp_int_size(long long v):
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -(1 << 23) <= v < (1 << 23):
        return 5
    if -(1 << 31) <= v < (1 << 31):
        return 6
    return 10


def _lp_int_size(v):
    if -(1 << 63) <= v < (1 << 63):
        return lp_int_size(v)
    return 10


cdef inline long long lp_str_size(bytes s):
    """listpack bytes of one string element (integers as lpEncodeIntegerGetType would store them)."""
    cdef Py_ssize_t n = len(s)
    cdef const unsigned char* p = s
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef unsigned long long v = 0
    cdef long long header, body
    if 0 < n <= 20:
        if p[0] == 45:
            neg = True
            i = 1
        if i < n and not (p[i] == 48 and (n - i > 1 or neg)):
            while i < n and 48 <= p[i] <= 57:
                i += 1
            if i == n:
                # digits only, canonical (no leading zero, no "-0"): an integer if it fits in int64
                i = 1 if neg else 0
                while i < n:
                    if v > 922337203685477580ULL or (v == 922337203685477580ULL and p[i] - 48 > (8 if neg else 7)):
                        break
                    v = v * 10 + (p[i] - 48)
                    i += 1
                else:
                    if neg:
                        if v == 9223372036854775808ULL:
                            return 10
                        return lp_int_size(-<long long>v)
                    return lp_int_size(<long long>v)
    header = 1 if n < 64 else (2 if n < 4096 else 5)
    body = header + n
    return body + (1 if body < 128 else (2 if body < 16384 else 3))


def _lp_str_size(s):
    return lp_str_size(s)


cdef class Node:
    """One listpack node of the stream rax."""

    def __init__(self, tuple master, list fields):
        cdef long long nb = 7 + 2 + 2 + 2 + 2
        self.master = master
        self.last = master
        self.slots = 0
        self.live = 0
        self.master_fields = fields
        for f in fields:
            nb += lp_str_size(f)
        self.nbytes = nb


cdef inline long long c_node_mem(Node node):
    return node.nbytes if node.nbytes > 4096 else 4096


def node_mem(Node node):
    """A listpack node is preallocated to stream-node-max-bytes (4096) in redis."""
    return c_node_mem(node)


cdef class NACK:
    """A pending entry: delivery time, delivery count, owning consumer."""

    def __init__(self, delivery_time, delivery_count, consumer):
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count
        self.consumer = consumer


cdef class SortedIds:
    """A rax-like map keyed by stream id: dict plus a sorted key list."""

    def __init__(self):
        self.keys = []
        self.map = {}

    def __len__(self):
        return len(self.map)

    def __contains__(self, k):
        return k in self.map

    def get(self, k):
        return self.map.get(k)

    cpdef insert(self, k, v):
        cdef list keys = self.keys
        if k not in self.map:
            if not keys or k > keys[len(keys) - 1]:
                keys.append(k)
            else:
                insort(keys, k)
        self.map[k] = v

    cpdef bint remove(self, k) except -1:
        if self.map.pop(k, None) is None:
            return False
        i = bisect_left(self.keys, k)
        del self.keys[i]
        return True

    def index_ge(self, k):
        return bisect_left(self.keys, k)


cdef class Consumer:
    def __init__(self, name, seen_time):
        self.name = name
        self.seen_time = seen_time
        self.pel = SortedIds()       # id -> NACK (shared with the group PEL)


cdef class ConsumerGroup:
    def __init__(self, last_id, entries_read):
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel = SortedIds()       # id -> NACK
        self.consumers = {}          # name -> Consumer (replies sort by name, like the rax)

    def sorted_consumers(self):
        return [self.consumers[n] for n in sorted(self.consumers)]

    def create_consumer(self, name, now):
        consumer = Consumer(name, now)
        self.consumers[name] = consumer
        return consumer

    def delete_consumer(self, consumer):
        for k in consumer.pel.keys:
            self.pel.remove(k)
        del self.consumers[consumer.name]

    def ack(self, entry_id):
        nack = self.pel.get(entry_id)
        if nack is None:
            return False
        self.pel.remove(entry_id)
        nack.consumer.pel.remove(entry_id)
        return True


cdef class StreamValue:
    type_name = b"stream"

    def __init__(self):
        self.ids = []                # sorted live entry ids
        self.vals = []               # (field, value, ...) of each live entry, aligned with ids
        self.nodes = []              # Node list in id order
        self.last_id = MIN_ID
        self.first_id = MIN_ID
        self.max_deleted_id = MIN_ID
        self.entries_added = 0
        self.groups = {}             # name -> ConsumerGroup
        self.nodes_mem = 0           # sum of node_mem(node) over nodes, kept as nodes change

    def __len__(self):
        return len(self.ids)

    # ---- entries ---------------------------------------------------------------------------------
    cpdef append(self, tuple entry_id, list fields_values, long long node_max_bytes=4096,
                 long long node_max_entries=100):
        """streamAppendItem's storage step (the id is already validated)."""
        cdef Py_ssize_t i, n = len(fields_values)
        cdef long long cost = 0, entry_bytes, max_bytes
        cdef Node node = None
        cdef list fields
        cdef bint same
        for i in range(n):
            cost += len(<bytes>fields_values[i])
        if self.nodes:
            node = <Node>self.nodes[len(self.nodes) - 1]
            max_bytes = node_max_bytes if 0 < node_max_bytes <= (1 << 30) else (1 << 30)
            if node.nbytes + cost >= max_bytes:
                node = None
            elif node_max_entries and node.slots >= node_max_entries:
                node = None
        if node is None:
            node = Node(entry_id, fields_values[0::2])
            self.nodes.append(node)
        else:
            self.nodes_mem -= c_node_mem(node)
        entry_bytes = 2 + lp_int_size(<long long>(<unsigned long long>entry_id[0] - <unsigned long long>node.master[0])) \
            + lp_int_size(<long long>(<unsigned long long>entry_id[1] - <unsigned long long>node.master[1]))
        fields = node.master_fields
        same = len(fields) * 2 == n
        if same:
            for i in range(0, n, 2):
                if <bytes>fields[i >> 1] != <bytes>fields_values[i]:
                    same = False
                    break
        if same:
            for i in range(1, n, 2):
                entry_bytes += lp_str_size(<bytes>fields_values[i])
        else:
            entry_bytes += 2
            for i in range(n):
                entry_bytes += lp_str_size(<bytes>fields_values[i])
        node.nbytes += entry_bytes + 2
        self.nodes_mem += c_node_mem(node)
        node.slots += 1
        node.live += 1
        node.last = entry_id
        self.ids.append(entry_id)
        self.vals.append(tuple(fields_values))
        self.last_id = entry_id
        self.entries_added += 1
        if len(self.ids) == 1:
            self.first_id = entry_id

    cpdef get_entry(self, entry_id):
        """The entry's (field, value, ...) tuple, or None when there is no such live entry."""
        cdef list ids = self.ids
        cdef Py_ssize_t n = len(ids)
        cdef Py_ssize_t i
        if n and ids[n - 1] == entry_id:
            return self.vals[n - 1]
        i = bisect_left(ids, entry_id)
        if i < n and ids[i] == entry_id:
            return self.vals[i]
        return None

    def _node_index(self, entry_id):
        lo, hi = 0, len(self.nodes)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.nodes[mid].master <= entry_id:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    def _drop_live(self, entry_id):
        """Remove one live entry from the entry index and its node (no id bookkeeping)."""
        i = bisect_left(self.ids, entry_id)
        del self.ids[i]
        del self.vals[i]
        ni = self._node_index(entry_id)
        node = self.nodes[ni]
        node.live -= 1
        if node.live == 0:
            self.nodes_mem -= node_mem(node)
            del self.nodes[ni]

    def delete(self, entry_id):
        """streamDeleteItem: True when the entry existed."""
        if self.get_entry(entry_id) is None:
            return False
        self._drop_live(entry_id)
        return True

    def last_valid_id(self):
        """streamLastValidID: the last live entry's id, else 0-0."""
        return self.ids[-1] if self.ids else MIN_ID

    cpdef list range(self, start, end, long long count=0, bint rev=False):
        """Entries (id, fields) with start <= id <= end, count 0 = all."""
        cdef Py_ssize_t lo, hi
        lo = bisect_left(self.ids, start)
        hi = len(self.ids) if end == MAX_ID else bisect_right(self.ids, end)
        if lo >= hi:
            return []
        if rev:
            if count:
                lo = max(lo, hi - count)
            ids = self.ids[lo:hi][::-1]
        else:
            if count:
                hi = min(hi, lo + count)
            ids = self.ids[lo:hi]
        if rev:
            vals = self.vals[lo:hi][::-1]
        else:
            vals = self.vals[lo:hi]
        return list(zip(ids, vals))

    def trim(self, strategy, maxlen, minid, approx, limit):
        """streamTrim: returns the number of entries removed."""
        deleted = 0
        while self.nodes:
            if strategy == "maxlen" and len(self.ids) <= maxlen:
                break
            node = self.nodes[0]
            entries = node.live
            if limit and deleted + entries > limit:
                break
            if strategy == "maxlen":
                remove_node = len(self.ids) - entries >= maxlen
            else:
                remove_node = node.last < minid
            if remove_node:
                hi = bisect_right(self.ids, node.last)
                del self.ids[:hi]
                del self.vals[:hi]
                self.nodes_mem -= node_mem(node)
                del self.nodes[0]
                deleted += entries
                continue
            if approx:
                break
            # trim entries from within the node
            while self.ids and self.ids[0] <= node.last:
                if strategy == "maxlen":
                    if len(self.ids) <= maxlen:
                        break
                elif self.ids[0] >= minid:
                    break
                entry_id = self.ids[0]
                self._drop_live(entry_id)
                deleted += 1
            break
        if self.ids:
            self.first_id = self.ids[0]
        return deleted

    # ---- consumer groups -------------------------------------------------------------------------
    cpdef bint range_has_tombstones(self, start=None, end=None) except -1:
        if not self.ids or self.max_deleted_id == MIN_ID:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        start = start or MIN_ID
        end = end or MAX_ID
        return start <= self.max_deleted_id <= end

    cpdef long long estimate_distance_from_first_ever_entry(self, entry_id) except? -2:
        if not self.entries_added:
            return 0
        if not self.ids and entry_id <= self.last_id:
            return self.entries_added
        if entry_id == self.last_id:
            return self.entries_added
        if entry_id > self.last_id:
            return SCG_INVALID_ENTRIES_READ
        if self.max_deleted_id == MIN_ID or self.max_deleted_id < self.first_id:
            if entry_id < self.first_id:
                return self.entries_added - len(self.ids)
            if entry_id == self.first_id:
                return self.entries_added - len(self.ids) + 1
        return SCG_INVALID_ENTRIES_READ

    def group_lag(self, group):
        """streamReplyWithCGLag: the lag, or None when it cannot be known."""
        if not self.entries_added:
            return 0
        if group.entries_read != SCG_INVALID_ENTRIES_READ and not self.range_has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        entries_read = self.estimate_distance_from_first_ever_entry(group.last_id)
        if entries_read != SCG_INVALID_ENTRIES_READ:
            return self.entries_added - entries_read
        return None

    def sorted_groups(self):
        return [(n, self.groups[n]) for n in sorted(self.groups)]

    # ---- introspection ---------------------------------------------------------------------------
    def rax_node_count(self):
        """Nodes of a compressed radix tree holding the 16-byte node keys (XINFO radix-tree-nodes)."""
        keys = [node.master[0].to_bytes(8, "big") + node.master[1].to_bytes(8, "big") for node in self.nodes]

        def count(group, depth):
            if depth == 16:
                return 1
            first, last = group[0], group[-1]
            common = depth
            while common < 16 and first[common] == last[common]:
                common += 1
            if common > depth:
                return 1 + count(group, common)
            total = 1
            i = 0
            while i < len(group):
                j = i
                ch = group[i][depth]
                while j < len(group) and group[j][depth] == ch:
                    j += 1
                total += count(group[i:j], depth + 1)
                i = j
            return total

        return count(keys, 0) if keys else 1

    # ---- value-type protocol ---------------------------------------------------------------------
    def encoding(self, config=None):
        return b"stream"

    def copy(self):
        return StreamValue.from_rdb("stream", self.to_rdb()[1])

    def to_rdb(self):
        groups = []
        for name, group in self.sorted_groups():
            pel = [(k[0], k[1], n.delivery_time, n.delivery_count) for k, n in
                   ((k, group.pel.map[k]) for k in group.pel.keys)]
            consumers = [{"name": cons.name, "seen_time": cons.seen_time, "active_time": None,
                          "pel": list(cons.pel.keys)} for cons in group.sorted_consumers()]
            groups.append({"name": name, "last_id": group.last_id, "entries_read": group.entries_read,
                           "pel": pel, "consumers": consumers})
        entries = [(i[0], i[1], [(fv[j], fv[j + 1]) for j in range(0, len(fv), 2)])
                   for i, fv in zip(self.ids, self.vals)]
        return "stream", {"entries": entries, "length": len(self.ids), "last_id": self.last_id,
                          "first_id": self.first_id, "max_deleted_id": self.max_deleted_id,
                          "entries_added": self.entries_added, "groups": groups}

    @classmethod
    def from_rdb(cls, kind, data, config=None):
        value = cls()
        max_bytes, max_entries = 4096, 100
        if config is not None:
            try:
                max_bytes, max_entries = config["stream-node-max-bytes"], config["stream-node-max-entries"]
            except KeyError:
                pass
        for ms, seq, pairs in data.get("entries", []):
            value.append((ms, seq), [x for pair in pairs for x in pair], max_bytes, max_entries)
        value.last_id = tuple(data.get("last_id") or value.last_id)
        value.entries_added = data.get("entries_added", len(value.ids))
        value.max_deleted_id = tuple(data.get("max_deleted_id") or MIN_ID)
        first = data.get("first_id")
        value.first_id = tuple(first) if first and value.ids else (value.ids[0] if value.ids else MIN_ID)
        for group_data in data.get("groups", []):
            entries_read = group_data.get("entries_read")
            group = ConsumerGroup(tuple(group_data["last_id"]),
                                  SCG_INVALID_ENTRIES_READ if entries_read is None else entries_read)
            nacks = {}
            for ms, seq, delivery_time, delivery_count in group_data.get("pel", []):
                nacks[(ms, seq)] = NACK(delivery_time, delivery_count, None)
                group.pel.insert((ms, seq), nacks[(ms, seq)])
            for cons_data in group_data.get("consumers", []):
                consumer = group.create_consumer(cons_data["name"], cons_data.get("seen_time", 0))
                for entry_id in cons_data.get("pel", []):
                    nack = nacks[tuple(entry_id[:2])]
                    nack.consumer = consumer
                    consumer.pel.insert(tuple(entry_id[:2]), nack)
            value.groups[group_data["name"]] = group
        return value

    def mem_estimate(self):
        """What Redis would use: each listpack node is preallocated to stream-node-max-bytes (4096), plus
        the rax and the consumer groups' PEL entries (O(nodes + groups), no entry walk)."""
        cdef long long pel = 0
        cdef ConsumerGroup g
        for v in self.groups.values():
            g = <ConsumerGroup>v
            pel += len(g.pel.map) * 130 + len(g.consumers) * 100
        return 600 + self.nodes_mem + len(self.nodes) * 40 + pel

    mem_usage = mem_estimate


register_value_type(StreamValue, b"stream")
