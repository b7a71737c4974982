"""CLIENT LIST / CLIENT INFO buffer fields against redis-server 7.0.15 (issue 17), driven in lock-step on both: the
caller still holds its command (qbuf=26, argv-mem=10 for CLIENT INFO), the query buffer allocation grows with a
big request and the cron shrinks it back, a blocked client keeps its argv (argv-mem), MULTI counts its queue
(multi-mem) and shows the last queued command, the reply buffer shrinks to 1024 with its peak (rbs/rbp), and a
client that does not read a big reply has it in the reply list (obl=0, oll>0, omem, events=rw)."""
import socket
import time

from tests.support.servers import RawConnection, encode, wait_for


def _fields(line):
    return dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)


def _info(conn):
    out = conn.command("CLIENT", "INFO").decode()
    return _fields(out.split("\r\n", 1)[1].strip())


def _line_of(conn, client_id):
    out = conn.command("CLIENT", "LIST", "ID", str(client_id)).decode()
    return _fields(out.split("\r\n", 1)[1].strip())


def test_client_buffer_fields_match_redis(cachemere, redis_ref):
    servers = (cachemere, redis_ref)
    a = [RawConnection(s.port) for s in servers]
    b = [RawConnection(s.port) for s in servers]
    try:
        first = [_info(c) for c in a]
        for f in first:
            assert (f["qbuf"], f["qbuf-free"], f["argv-mem"], f["multi-mem"], f["obl"], f["oll"], f["omem"]) == \
                ("26", "20448", "10", "0", "0", "0", "0"), f
        ids = [f["id"] for f in first]
        for c in a:
            assert c.command("SET", "clf:big", "x" * 200000) == b"+OK\r\n"
        grown = [_info(c) for c in a]
        assert grown[0]["qbuf-free"] == grown[1]["qbuf-free"] == "229340"
        # the cron gives the spare room back (peak under half of a > 32k buffer) and shrinks the reply buffer
        for c, i in zip(b, ids):
            wait_for(lambda: int(_line_of(c, i)["qbuf-free"]) <= 20474 and _line_of(c, i)["rbs"] == "1024",
                     timeout=5)
        for c in a:
            for cmd in (("MULTI",), ("SET", "clf:k", "v" * 100), ("GET", "clf:k")):
                c.command(*cmd)
        multi = [_line_of(c, i) for c, i in zip(b, ids)]
        assert [(m["multi"], m["multi-mem"], m["cmd"], m["flags"]) for m in multi] == [("2", "156", "get", "x")] * 2, multi
        for c in a:
            c.command("DISCARD")
            c.send(encode("BLPOP", "clf:" + "l" * 996, "0"))
        time.sleep(0.1)
        blocked = [_line_of(c, i) for c, i in zip(b, ids)]
        assert [(x["argv-mem"], x["cmd"], x["flags"]) for x in blocked] == [("1006", "blpop", "b")] * 2
        for c in b:
            c.command("LPUSH", "clf:" + "l" * 996, "x")
        # a reader that stops reading a 12 MB reply
        slow = []
        for s in servers:
            r = RawConnection(s.port)
            r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            r.command("SET", "clf:huge", "y" * 4000000)
            rid = int(r.command("CLIENT", "ID")[1:-2])
            r.send(encode("GET", "clf:huge") * 3)
            slow.append((r, rid))
        time.sleep(0.3)
        for c, (r, rid) in zip(b, slow):
            f = _line_of(c, rid)
            assert f["obl"] == "0" and int(f["oll"]) >= 1 and int(f["omem"]) > 4000000 and f["events"] == "rw", f
            assert int(f["tot-mem"]) > int(f["omem"])
            r.close()
    finally:
        for c in a + b:
            c.close()
