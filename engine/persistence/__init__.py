"""Persistence formats: the Redis RDB codec (files, DUMP/RESTORE payloads)."""
