"""Shard stream service with Kinesis semantics: STREAM.* commands on kstream keys (see commands.py)."""
from services.kstream import commands  # noqa: F401
