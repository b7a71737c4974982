"""CLIENT LIST / CLIENT INFO memory fields (the buffer resizing cron is server/client_mem.py) as redis 7.0 computes them (networking.c catClientInfoString,
getClientMemoryUsage, clientsCronResizeQueryBuffer, clientsCronResizeOutputBuffer), over the figures the
connection keeps (server/connection.pyx: qb_alloc / qb_peak, rb_size / rb_peak):

- qbuf: the query buffer; for the client running CLIENT LIST/INFO it still holds the command being run (redis
  trims the buffer after the batch). qbuf-free: what the allocation has left (a 16 KiB read room rounded to the
  allocator's size class, or the big request's size), shrunk by the cron rule: idle > 2 s frees the spare room,
  a buffer over 32 KiB with a peak under half of it shrinks to the peak.
- argv-mem: the argument bytes of the command being run (the caller; a blocked client keeps its argv);
  multi-mem: the queued commands' argument bytes plus a pointer per argument.
- rbs / rbp: the 16 KiB reply buffer and its peak use, shrunk to max(1024, peak + 1) when the peak stays under
  half, grown back when full; the peak resets every 5 s.
- obl / oll / omem: output not yet sent: up to the reply buffer size it is `obl`, beyond it reply-list
  memory (`oll` nodes, `omem` bytes); events gains `w` while output waits.
- tot-mem: query buffer allocation + argv + multi + reply buffer + reply list + the client struct."""

CLIENT_STRUCT = 790           # redis 7.0 sizeof(client) and its small allocations, as tot-mem shows it


def encoded_len(argv):
    return len(b"*%d\r\n" % len(argv)) + sum(len(b"$%d\r\n" % len(a)) + len(a) + 2 for a in argv)


def argv_mem(argv):
    return sum(len(a) for a in argv)


def fields(client, caller=None, argv=None):
    """The memory-related fields of one client line, in redis's order, as a dict of ints/str."""
    conn = client.conn
    if conn is None:
        return {"qbuf": 0, "qbuf-free": 0, "argv-mem": 0, "multi-mem": 0, "rbs": 0, "rbp": 0, "obl": 0,
                "oll": 0, "omem": 0, "tot-mem": CLIENT_STRUCT, "events": "r"}
    qbuf = conn.parser.buffered()
    amem = 0
    if client is caller and argv is not None:
        qbuf += encoded_len(argv)
        amem = argv_mem(argv)
    elif client.blocked and getattr(client.blocked_state, "argv", None) is not None:
        amem = argv_mem(client.blocked_state.argv)
    else:
        amem = conn.parser.partial_argv_mem()       # the arguments of a command still arriving
    alloc = max(conn.qb_alloc, qbuf)
    mmem = 0
    if client.multi_queue is not None:
        mmem = sum(argv_mem(a) + 8 * len(a) for _, a in client.multi_queue)
    pending = conn.output_buffer_size()
    rbs = conn.rb_size
    obl = oll = omem = 0
    if pending:
        if pending <= rbs:
            obl = pending
        else:
            oll, omem = max(1, pending // (1 << 22) + 1), pending
    multi_struct = 32 if client.multi_queue else 0
    return {"qbuf": qbuf, "qbuf-free": max(0, alloc - qbuf), "argv-mem": amem, "multi-mem": mmem, "rbs": rbs,
            "rbp": conn.rb_peak, "obl": obl, "oll": oll, "omem": omem,
            "tot-mem": alloc + amem + mmem + rbs + omem + CLIENT_STRUCT + multi_struct,
            "events": "rw" if pending else "r"}
