"""The replication backlog: the last ``repl-backlog-size`` bytes of the replication stream, addressed by
replication offset (redis repl_backlog).  Offsets follow redis: ``offset`` is the offset of the last byte
produced (master_repl_offset); the backlog holds bytes ``first_byte_offset .. offset``."""


class Backlog:
    __slots__ = ("size", "buf", "start", "offset")

    def __init__(self, size, offset):
        self.size = max(16 * 1024, int(size))   # redis CONFIG_REPL_BACKLOG_MIN_SIZE
        self.buf = bytearray()
        self.start = offset + 1                 # replication offset of buf[0]
        self.offset = offset                    # offset of the last byte appended

    def append(self, data):
        self.buf += data
        self.offset += len(data)
        excess = len(self.buf) - self.size
        if excess > self.size // 4 or (excess > 0 and len(data) >= self.size):
            # trim in chunks so appending stays amortised O(len(data))
            del self.buf[:excess]
            self.start += excess

    def trim(self):
        excess = len(self.buf) - self.size
        if excess > 0:
            del self.buf[:excess]
            self.start += excess

    def resize(self, size):
        self.size = max(16 * 1024, int(size))
        self.trim()

    @property
    def histlen(self):
        return min(len(self.buf), self.size)

    @property
    def first_byte_offset(self):
        return self.offset - self.histlen + 1

    def has(self, psync_offset):
        """Whether the bytes from psync_offset (the first byte a replica lacks) on are all here."""
        return self.first_byte_offset <= psync_offset <= self.offset + 1

    def since(self, psync_offset):
        return bytes(self.buf[psync_offset - self.start:])
