# cython: language_level=3
"""The hash value type (redis t_hash.c type API): a dict of field -> value bytes that remembers Redis's
one-way listpack -> hashtable conversion, so OBJECT ENCODING answers as Redis would.

A compiled dict subclass: creating one (HSET on a new key) is a C allocation rather than a Python __init__,
and the compiled fast paths (engine/commands/t_hash_fast.pyx) read `hashtable` as a C field."""
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
        cdef HashValue other = HashValue(self)
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


def _rebuild(items, hashtable):
    value = HashValue(items)
    value.hashtable = hashtable
    return value
