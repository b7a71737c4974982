"""Errors shared by the RDB codec and its Cython helpers."""


class RdbError(ValueError):
    """The RDB bytes are malformed, truncated, or use something this codec does not support."""


class DumpPayloadError(RdbError):
    """A RESTORE payload was rejected; ``str(exc)`` is the exact Redis error reply (without '-')."""


DUMP_VERSION_OR_CHECKSUM_WRONG = "ERR DUMP payload version or checksum are wrong"
BAD_DATA_FORMAT = "ERR Bad data format"
