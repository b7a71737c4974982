"""The list value type (redis t_list.c / quicklist.c type API): a deque of element bytes.

Redis 7.0 stores every list as a quicklist (the listpack-encoded small list arrived in 7.2), so
OBJECT ENCODING always answers "quicklist" here, whatever `list-max-listpack-size` says; that setting
only shapes Redis's node sizes, which nothing observable by a client depends on.
"""
import sys
from collections import deque

from engine.core import register_value_type

# a bytes object's fixed cost in CPython and a deque block's per-element share (64 slots of 8 B + links)
BYTES_OVERHEAD = 33
DEQUE_SLOT = 8 + 1


class ListValue(deque):
    __slots__ = ()
    type_name = b"list"

    def encoding(self, config=None):
        return b"quicklist"

    def copy(self):
        return ListValue(self)

    def to_rdb(self):
        return "list", list(self)

    @classmethod
    def from_rdb(cls, kind, items, config=None):
        return cls(items)

    def mem_estimate(self):
        """O(1) estimate for memory accounting: the element size is sampled at both ends only (a deque
        reaches its middle by walking blocks, O(n): sampling there made every push/pop O(n))."""
        n = len(self)
        if n == 0:
            return sys.getsizeof(self)
        if n == 1:
            avg = len(self[0])
        else:
            avg = (len(self[0]) + len(self[1]) + len(self[-2]) + len(self[-1])) // 4
        return sys.getsizeof(self) + n * (((BYTES_OVERHEAD + avg + 15) & ~15) + DEQUE_SLOT)

    mem_usage = mem_estimate


register_value_type(ListValue, b"list")
