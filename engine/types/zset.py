"""The sorted-set value type (redis t_zset.c type API): the Cython ``ZSet`` skiplist core plus the memory of
Redis 7.0's one-way listpack -> skiplist conversion.

While a Redis zset is listpack-encoded its scores are stored as text, which turns a -0.0 score into "0";
the skiplist keeps the double as is. ``insert`` reproduces both so ZSCORE answers as Redis would.
"""

from engine.core import register_value_type
from engine.types.zskiplist import ZSet


def limits(config):
    """(zset-max-listpack-entries, zset-max-listpack-value)."""
    if config is None:
        return 128, 64
    return config["zset-max-listpack-entries"], config["zset-max-listpack-value"]


class ZSetValue(ZSet):
    __slots__ = ("_scan",)                  # the encoding flag `skiplist` is a field of ZSet
    type_name = b"zset"

    def __init__(self):
        self.skiplist = False       # ZSet.__cinit__ takes no arguments: the encoding is set after creation

    @classmethod
    def encoded(cls, skiplist):
        value = cls()
        value.skiplist = skiplist
        return value

    def insert(self, member, score, config):
        """zsetAdd's storage step: convert first when this member breaks the listpack limits, then store
        (a listpack stores -0.0 as 0). Returns ZSet.add's (added, old_score)."""
        if not self.skiplist:
            max_entries, max_value = limits(config)
            if len(member) > max_value or (member not in self and len(self) + 1 > max_entries):
                self.skiplist = True
            else:
                score += 0.0          # -0.0 -> 0.0, as the listpack's text form does
        return self.add(member, score)

    def convert_if_needed(self, config, max_member_len=None):
        """zsetConvertToListpackIfNeeded (store commands): a skiplist small enough becomes a listpack."""
        if not self.skiplist:
            return
        max_entries, max_value = limits(config)
        if max_member_len is None:
            max_member_len = max((len(m) for m, _ in self.items()), default=0)
        if len(self) <= max_entries and max_member_len <= max_value:
            self.skiplist = False
            for member, score in self.items():
                if score == 0.0:      # a -0.0 becomes 0 (ZSet.add sees -0.0 == 0.0 and would keep it)
                    self.remove(member)
                    self.add(member, 0.0)

    def encoding(self, config=None):
        return b"skiplist" if self.skiplist else b"listpack"

    def copy(self):
        other = ZSetValue.encoded(self.skiplist)
        for member, score in self.items():
            other.add(member, score)
        return other

    def to_rdb(self):
        return "zset", self.items()

    @classmethod
    def from_rdb(cls, kind, pairs, config=None):
        max_entries, max_value = limits(config)
        value = cls.encoded(len(pairs) > max_entries or any(len(m) > max_value for m, _ in pairs))
        for member, score in pairs:
            value.add(member, score if value.skiplist else score + 0.0)
        return value

    mem_usage = ZSet.mem_estimate        # O(1): ZSet counts its members' bytes

    def members(self):
        return [m for m, _ in self.items()]


def new_zset(config, first_member_len):
    """zaddGenericCommand's creation rule (7.0): a skiplist when listpacks are disabled or the first member
    is already too long."""
    max_entries, max_value = limits(config)
    return ZSetValue.encoded(max_entries == 0 or first_member_len > max_value)


def build_zset(config, pairs):
    """A zset for a STORE destination from (member, score) pairs, encoded as Redis's store commands leave it."""
    value = ZSetValue.encoded(True)
    for member, score in pairs:
        value.add(member, score)
    value.convert_if_needed(config)
    return value


register_value_type(ZSetValue, b"zset")
