"""The set value type (redis t_set.c type API): a Python set of member bytes that remembers Redis's
intset -> hashtable conversion; intset-encoded sets list their members in ascending integer order as
Redis's intset does."""
import sys

from engine.core import register_value_type
from protocol.resp import parse_ll
from engine.types.setpick import sampled_cost


def max_intset(config):
    return 512 if config is None else config["set-max-intset-entries"]


def is_int_member(member):
    return parse_ll(member) is not None


class SetValue(set):
    __slots__ = ("hashtable", "_scan")
    type_name = b"set"

    def __init__(self, *args):
        super().__init__(*args)
        self.hashtable = False

    def note_write(self, config, members=()):
        if self.hashtable:
            return
        if len(self) > max_intset(config) or not all(is_int_member(m) for m in members):
            self.hashtable = True

    def encoding(self, config=None):
        return b"hashtable" if self.hashtable else b"intset"

    def ordered(self):
        """Members in the order Redis replies them: ascending integers for an intset."""
        if self.hashtable:
            return list(self)
        return sorted(self, key=int)

    def copy(self):
        other = SetValue(self)
        other.hashtable = self.hashtable
        return other

    def to_rdb(self):
        return "set", self.ordered()

    @classmethod
    def from_rdb(cls, kind, members, config=None):
        value = cls(members)
        value.note_write(config, members)
        return value

    def mem_estimate(self):
        """O(1) estimate for memory accounting (engine/evict.pxi value_cost): random slots, not the first."""
        return sampled_cost(self)

    def mem_usage(self):
        return sys.getsizeof(self) + sum(len(m) + 49 for m in self)


def new_set(config, members):
    value = SetValue(members)
    value.note_write(config, members)
    return value


register_value_type(SetValue, b"set")
