"""The hash value type (redis t_hash.c type API): a dict of field -> value bytes that remembers Redis's
one-way listpack -> hashtable conversion, so OBJECT ENCODING answers as Redis would."""
from engine.core import register_value_type
from engine.types.hashvalue import HashValue, limits  # noqa: F401  (compiled: engine/types/hashvalue.pyx)


register_value_type(HashValue, b"hash")
