# cython: language_level=3, boundscheck=False, wraparound=False
"""The hash value type as a compiled dict subclass (engine/types/hash.py re-exports it): field -> value
bytes, plus Redis's one-way listpack -> hashtable conversion flag in a C field the compiled fast path
(engine/commands/t_hash_fast.pyx) reads without an attribute lookup. OBJECT ENCODING, RDB/DUMP, HSCAN's
cursor index (`_scan`) and MEMORY USAGE behave as the former Python class did."""
import sys


def limits(config):
    if config is None:
        return 128, 64
    return config["hash-max-listpack-entries"], config["hash-max-listpack-value"]


cdef class HashValue(dict):
    type_name = b"hash"

    def __init__(self, *args):
        dict.__init__(self, *args)
        self.hashtable = False
        self._scan = None

    def note_write(self, config, *items):
        """Apply Redis's conversion rules after fields/values in `items` were written."""
        if self.hashtable:
            return
        max_entries, max_value = limits(config)
        if len(self) > max_entries or any(len(x) > max_value for x in items):
            self.hashtable = True

    def encoding(self, config=None):
        return b"hashtable" if self.hashtable else b"listpack"

    def copy(self):
        other = HashValue(self)
        other.hashtable = self.hashtable
        return other

    def to_rdb(self):
        return "hash", list(self.items())

    @classmethod
    def from_rdb(cls, kind, pairs, config=None):
        value = cls(pairs)
        value.note_write(config, *[x for pair in pairs for x in pair])
        return value

    def mem_usage(self):
        return sys.getsizeof(self) + sum(len(k) + len(v) + 66 for k, v in self.items())

    def __reduce__(self):
        return (_rebuild, (dict(self), self.hashtable))


def _rebuild(pairs, hashtable):
    value = HashValue(pairs)
    value.hashtable = hashtable
    return value
