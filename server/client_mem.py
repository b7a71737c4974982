"""clientsCron's buffer resizing (redis clientsCronResizeQueryBuffer / clientsCronResizeOutputBuffer) over the
figures each RESP connection keeps for CLIENT LIST (engine/commands/_clientmem.py computes the fields)."""
import time

PROTO_RESIZE_THRESHOLD = 32 * 1024
REPLY_MIN = 1024
REPLY_CHUNK = 16384
PEAK_RESET_MS = 5000


def cron(server, now_ms=None):
    """clientsCron's buffer resizing for every connection (each client about once a second, as redis)."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    for conn in list(server.clients.values()):
        client = getattr(conn, "client", None)
        if client is None or not hasattr(conn, "qb_alloc"):
            continue
        # clientsCronResizeQueryBuffer
        used = conn.parser.buffered()
        alloc = conn.qb_alloc
        if alloc - used > 4096:
            idle = (now_ms - client.last_ms) // 1000
            if idle > 2:
                conn.qb_alloc = used
            elif alloc > PROTO_RESIZE_THRESHOLD and alloc // 2 > conn.qb_peak:
                conn.qb_alloc = max(used, conn.qb_peak)
        conn.qb_peak = used
        # clientsCronResizeOutputBuffer
        size = conn.rb_size
        if size // 2 >= REPLY_MIN and conn.rb_peak < size // 2:
            conn.rb_size = max(REPLY_MIN, conn.rb_peak + 1)
        elif size * 2 < REPLY_CHUNK * 2 and conn.rb_peak == size:
            conn.rb_size = min(REPLY_CHUNK, size * 2)
        if not conn.rb_peak_reset:
            conn.rb_peak_reset = now_ms
        elif now_ms - conn.rb_peak_reset >= PEAK_RESET_MS:
            conn.rb_peak = 0
            conn.rb_peak_reset = now_ms
