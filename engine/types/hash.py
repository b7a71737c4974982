"""The hash value type: engine/types/hashvalue.pyx (compiled), registered here under TYPE `hash`."""
from engine.core import register_value_type
from engine.types.hashvalue import HashValue, limits  # noqa: F401

register_value_type(HashValue, b"hash")
