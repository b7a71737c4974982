"""The set value type (redis t_set.c type API), in redis 7.0's two encodings: an IntSetValue
(engine/types/intset.pyx: sorted packed integers, OBJECT ENCODING "intset") while every member is an
integer and the count is at most set-max-intset-entries, and a SetValue (a Python set of member bytes,
"hashtable") after that. The conversion is one way, as redis's setTypeConvert: the commands replace the
record's IntSetValue by a SetValue (to_hashtable) and never go back."""
import sys

from engine.core import register_value_type
from protocol.resp import parse_ll
from engine.types.setpick import sampled_cost
from engine.types.intset import IntSetValue, intset_of
from engine.persistence.rdb import SetMembers


def max_intset(config):
    return 512 if config is None else config["set-max-intset-entries"]


def is_int_member(member):
    return parse_ll(member) is not None


def is_set(value):
    """Whether value is a set of either encoding."""
    t = type(value)
    return t is SetValue or t is IntSetValue


class SetValue(set):
    __slots__ = ("hashtable", "_scan")
    type_name = b"set"

    def __init__(self, *args):
        super().__init__(*args)
        self.hashtable = True

    def note_write(self, config, members=()):
        """Kept for callers of the former single-class type: a SetValue is always a hashtable."""

    def encoding(self, config=None):
        return b"hashtable"

    def ordered(self):
        """Members in the order Redis replies them (the table's own order)."""
        return list(self)

    def copy(self):
        return SetValue(self)

    def to_rdb(self):
        members = SetMembers(self)
        members.hashtable = True           # RDB_TYPE_SET even when every member is an integer, as redis
        return "set", members

    @classmethod
    def from_rdb(cls, kind, members, config=None):
        """redis rdbLoadObject: an intset while every member is an integer and the count is within the limit
        (RDB_TYPE_SET_INTSET and RDB_TYPE_SET alike), else a hashtable."""
        return new_set(config, members)

    def mem_estimate(self):
        """O(1) estimate for memory accounting (engine/evict.pxi value_cost): random slots, not the first."""
        return sampled_cost(self)

    def mem_usage(self):
        return sys.getsizeof(self) + sum(len(m) + 49 for m in self)


def to_hashtable(value):
    """redis setTypeConvert(OBJ_ENCODING_HT): a SetValue holding an IntSetValue's members."""
    return SetValue(value.ordered())


def new_set(config, members):
    """A set of members as redis builds one member by member (setTypeCreate + setTypeAdd): an intset
    while all are integers and they are at most set-max-intset-entries, else a hashtable."""
    if not isinstance(members, (list, tuple)):
        members = list(members)
    limit = min(max_intset(config), 1 << 30)
    if len(members) > limit and len(set(members)) > limit:
        return SetValue(members)
    try:
        value = intset_of(members, getattr(members, "intset_width", 2))
    except ValueError:
        return SetValue(members)
    if len(value) <= limit:
        return value
    return SetValue(members)


def add_members(value, config, members):
    """setTypeAdd for each member: (the value, now possibly a SetValue, members added). The caller stores a
    returned value that is not the one it passed (the record's conversion)."""
    if type(value) is IntSetValue:
        added = 0
        limit = min(max_intset(config), 1 << 30)
        for i, m in enumerate(members):
            value, r = value.with_member(m)
            if r < 0:
                value = to_hashtable(value)
                before = len(value)
                value.update(members[i:])
                return value, added + len(value) - before
            added += r
            if r and len(value) > limit:
                value = to_hashtable(value)
                before = len(value)
                value.update(members[i + 1:])
                return value, added + len(value) - before
        return value, added
    before = len(value)
    value.update(members)
    return value, len(value) - before


SET_TYPES = (SetValue, IntSetValue)
register_value_type(SetValue, b"set")
register_value_type(IntSetValue, b"set")
