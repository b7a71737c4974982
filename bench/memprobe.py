"""Memory probe: load N keys with pipelined raw requests and report RSS growth per key.

RESP servers get `SET <16-byte key> <value>`, memcached servers `set <key> 0 0 <len>`; every reply is
checked. RSS is VmRSS from /proc/<pid>/status, read before and after the load.
"""
import socket

KEY_SIZE = 16


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return parse_vmrss(f.read())


def parse_vmrss(status_text: str) -> int:
    """VmRSS in bytes from the text of /proc/<pid>/status."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            amount, unit = line.split()[1:3]
            assert unit == "kB", unit
            return int(amount) * 1024
    raise ValueError("no VmRSS line")


def _resp_set(key: bytes, value: bytes) -> bytes:
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)


def _mc_set(key: bytes, value: bytes) -> bytes:
    return b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value)


PROTOCOLS = {"resp": (_resp_set, b"+OK\r\n"), "memcached": (_mc_set, b"STORED\r\n")}


def load_keys(port, n, protocol, value_size=32, prefix=b"k", batch=1000, timeout=60):
    """Store keys prefix + zero-padded 0..n-1 (KEY_SIZE bytes), `batch` per pipelined write."""
    encode, ok = PROTOCOLS[protocol]
    value = b"v" * value_size
    digits = KEY_SIZE - len(prefix)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for start in range(0, n, batch):
            count = min(batch, n - start)
            sock.sendall(b"".join(encode(prefix + b"%0*d" % (digits, i), value)
                                  for i in range(start, start + count)))
            expected = ok * count
            got = b""
            while len(got) < len(expected):
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                got += chunk
            if got != expected:
                raise RuntimeError(f"unexpected reply while loading: {got[:80]!r}")


def bytes_per_key(pid, port, n, protocol, value_size=32, prefix=b"k"):
    """RSS growth of process `pid` per key after storing n keys on `port`."""
    before = rss_bytes(pid)
    load_keys(port, n, protocol, value_size, prefix)
    return (rss_bytes(pid) - before) / n
