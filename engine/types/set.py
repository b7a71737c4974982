"""The set value type (redis t_set.c type API), in redis 7.0's two encodings: an IntSetValue
(engine/types/intset.pyx: sorted packed integers, OBJECT ENCODING "intset") while every member is an
integer and the count is at most set-max-intset-entries, and "hashtable" after that. A hashtable set is
held in one of two forms, invisible from outside (both answer "hashtable" and save as RDB_TYPE_SET): a
SmallSetValue (engine/types/smallset.pyx: packed members plus an index, one block) while it has at most
128 members of at most 64 bytes, and a SetValue (a Python set of member bytes) past that. The conversions
are one way, intset -> small -> SetValue, as redis's setTypeConvert: the commands replace the record's
value by the one new_set / add_members answer and never go back."""
import sys

from engine.core import register_value_type
from protocol.resp import parse_ll
from engine.types.setpick import sampled_cost
from engine.types.intset import IntSetValue, intset_of
from engine.types.smallset import SmallSetValue, smallset_of, fits as small_fits
from engine.persistence.rdb import SetMembers


def max_intset(config):
    return 512 if config is None else config["set-max-intset-entries"]


def is_int_member(member):
    return parse_ll(member) is not None


def is_set(value):
    """Whether value is a set of either encoding."""
    t = type(value)
    return t is SetValue or t is IntSetValue or t is SmallSetValue


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


def general_set(members):
    """A hashtable-encoded set of members: a SmallSetValue when they fit, else a SetValue."""
    if not isinstance(members, (list, tuple)):
        members = list(members)
    if small_fits(members):
        return smallset_of(members)
    return SetValue(members)


def convert_add(value, members):
    """setTypeConvert of value (an intset or a small set that cannot take the next member) then setTypeAdd
    of members: (the new value, members added)."""
    before = len(value)
    out = general_set(value.ordered() + list(members))
    if type(value) is SmallSetValue and type(out) is SmallSetValue:
        out = SetValue(out.ordered())      # a small set converts for good
    return out, len(out) - before


def new_set(config, members):
    """A set of members as redis builds one member by member (setTypeCreate + setTypeAdd): an intset
    while all are integers and they are at most set-max-intset-entries, else a hashtable."""
    if not isinstance(members, (list, tuple)):
        members = list(members)
    limit = min(max_intset(config), 1 << 30)
    if len(members) > limit and len(set(members)) > limit:
        return general_set(members)
    try:
        value = intset_of(members, getattr(members, "intset_width", 2))
    except ValueError:
        return general_set(members)
    if len(value) <= limit:
        return value
    return general_set(members)


def add_members(value, config, members):
    """setTypeAdd for each member: (the value, now possibly a SetValue, members added). The caller stores a
    returned value that is not the one it passed (the record's conversion)."""
    if type(value) is IntSetValue:
        added = 0
        limit = min(max_intset(config), 1 << 30)
        for i, m in enumerate(members):
            value, r = value.with_member(m)
            if r < 0:
                value, more = convert_add(value, members[i:])
                return value, added + more
            added += r
            if r and len(value) > limit:
                value, more = convert_add(value, members[i + 1:])
                return value, added + more
        return value, added
    if type(value) is SmallSetValue:
        added = 0
        for i, m in enumerate(members):
            value, r = value.with_member(m)
            if r < 0:
                value, more = convert_add(value, members[i:])
                return value, added + more
            added += r
        return value, added
    before = len(value)
    value.update(members)
    return value, len(value) - before


SET_TYPES = (SetValue, IntSetValue, SmallSetValue)
register_value_type(SetValue, b"set")
register_value_type(IntSetValue, b"set")
register_value_type(SmallSetValue, b"set")
