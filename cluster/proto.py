"""The Redis 7.0 cluster bus wire format (src/cluster.h): the packed ``clusterMsg`` header and its data
sections, all integers in network byte order.

Header (2256 bytes): sig "RCmb", totlen u32, ver u16 (1), port u16, type u16, count u16, currentEpoch u64,
configEpoch u64, offset u64, sender[40], myslots[2048], slaveof[40], myip[46], extensions u16,
notused1[30], pport u16, cport u16, flags u16, state u8, mflags[3].  Then the data union: PING/PONG/MEET
carry ``count`` gossip entries of 104 bytes (nodename[40], ping_sent u32 s, pong_received u32 s, ip[46],
port, cport, flags, pport, notused u16) followed by ``extensions`` ping extensions (u32 length, u16 type,
u16 unused, 8-byte aligned payload); FAIL the failing node's name; PUBLISH channel_len u32, message_len u32
and both bulks; UPDATE configEpoch u64, nodename[40], slots[2048].
"""
import re
import struct

SIG = b"RCmb"
PROTO_VER = 1
SLOTS = 16384
NAMELEN = 40
IPLEN = 46
NULL_NAME = b"\x00" * NAMELEN

PING, PONG, MEET, FAIL, PUBLISH, AUTH_REQUEST, AUTH_ACK, UPDATE, MFSTART, MODULE, PUBLISHSHARD = range(11)
TYPE_COUNT = 11
TYPE_NAMES = ["ping", "pong", "meet", "fail", "publish", "auth-req", "auth-ack", "update", "mfstart", "module",
              "publishshard"]

# node flags
F_MASTER, F_SLAVE, F_PFAIL, F_FAIL, F_MYSELF, F_HANDSHAKE, F_NOADDR, F_MEET, F_MIGRATE_TO, F_NOFAILOVER = \
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512
# mflags[0]
MF0_PAUSED, MF0_FORCEACK, MF0_EXT_DATA = 1, 2, 4
EXT_HOSTNAME = 0

HDR = struct.Struct("!4sIHHHHQQQ40s2048s40s46sH30sHHHB3s")
assert HDR.size == 2256
GOSSIP = struct.Struct("!40sII46sHHHHH")
assert GOSSIP.size == 104
UPDATE_DATA = struct.Struct("!Q40s2048s")
HDR_LEN = HDR.size
MIN_LEN = 8 + 8     # redis CLUSTERMSG_MIN_LEN is sizeof(clusterMsg)-sizeof(union) but it reads sig+totlen first


def _cstr(b):
    i = b.find(b"\x00")
    return (b if i < 0 else b[:i]).decode("latin-1")


def _pad(s, n):
    b = s.encode("latin-1")[:n - 1] if isinstance(s, str) else s[:n - 1]
    return b + b"\x00" * (n - len(b))


class Header:
    __slots__ = ("totlen", "ver", "port", "type", "count", "current_epoch", "config_epoch", "offset", "sender",
                 "myslots", "slaveof", "myip", "extensions", "pport", "cport", "flags", "state", "mflags")

    @classmethod
    def parse(cls, data):
        h = cls()
        (sig, h.totlen, h.ver, h.port, h.type, h.count, h.current_epoch, h.config_epoch, h.offset, sender,
         h.myslots, slaveof, myip, h.extensions, _unused, h.pport, h.cport, h.flags, h.state,
         h.mflags) = HDR.unpack_from(data, 0)
        h.sender = sender.decode("latin-1")
        h.slaveof = None if slaveof == NULL_NAME else slaveof.decode("latin-1")
        h.myip = _cstr(myip)
        return h


def build(mtype, sender, port, pport, cport, flags, state, current_epoch, config_epoch, offset, myslots,
          slaveof, myip, mflags0, body=b"", count=0, extensions=0):
    totlen = HDR_LEN + len(body)
    hdr = HDR.pack(SIG, totlen, PROTO_VER, port, mtype, count, current_epoch, config_epoch, offset,
                   sender.encode("latin-1"), bytes(myslots),
                   slaveof.encode("latin-1") if slaveof else NULL_NAME,
                   _pad(myip or "", IPLEN), extensions, b"\x00" * 30, pport, cport, flags, state,
                   bytes([mflags0, 0, 0]))
    return hdr + body


def gossip_entry(name, ping_sent_ms, pong_received_ms, ip, port, cport, flags, pport):
    return GOSSIP.pack(name.encode("latin-1"), (ping_sent_ms // 1000) & 0xFFFFFFFF,
                       (pong_received_ms // 1000) & 0xFFFFFFFF, _pad(ip or "", IPLEN), port, cport, flags,
                       pport, 0)


def parse_gossip(data, count):
    out = []
    off = HDR_LEN
    for _ in range(count):
        name, ps, pr, ip, port, cport, flags, pport, _u = GOSSIP.unpack_from(data, off)
        out.append((name.decode("latin-1"), ps, pr, _cstr(ip), port, cport, flags, pport))
        off += GOSSIP.size
    return out


def parse_extensions(data, count, nexts):
    """[(type, payload)] of the ping extensions after ``count`` gossip entries."""
    off = HDR_LEN + GOSSIP.size * count
    out = []
    for _ in range(nexts):
        length, etype, _u = struct.unpack_from("!IHH", data, off)
        out.append((etype, data[off + 8:off + length]))
        off += length
    return out


def hostname_ext(hostname):
    payload = hostname.encode("latin-1") + b"\x00"
    payload += b"\x00" * ((8 - (len(payload) % 8)) % 8)
    return struct.pack("!IHH", 8 + len(payload), EXT_HOSTNAME, 0) + payload


def valid_length(data, h):
    """redis clusterIsValidPacket: the total length the type implies matches totlen."""
    totlen = h.totlen
    t = h.type
    if h.ver != PROTO_VER:
        return False
    if t in (PING, PONG, MEET):
        explen = HDR_LEN + GOSSIP.size * h.count
        if h.mflags[0] & MF0_EXT_DATA:
            off = explen
            for _ in range(h.extensions):
                if off + 8 > totlen:
                    return False
                extlen = struct.unpack_from("!I", data, off)[0]
                if extlen % 8 != 0 or extlen < 8 or totlen - explen < extlen:
                    return False
                explen += extlen
                off += extlen
    elif t == FAIL:
        explen = HDR_LEN + NAMELEN
    elif t in (PUBLISH, PUBLISHSHARD):
        if totlen < HDR_LEN + 8:
            return False
        cl, ml = struct.unpack_from("!II", data, HDR_LEN)
        explen = HDR_LEN + 8 + cl + ml
    elif t in (AUTH_REQUEST, AUTH_ACK, MFSTART):
        explen = HDR_LEN
    elif t == UPDATE:
        explen = HDR_LEN + UPDATE_DATA.size
    elif t == MODULE:
        return totlen >= HDR_LEN + 16
    else:
        return True           # unknown types are ignored by the caller
    return totlen == explen


def bit_test(bm, j):
    return bm[j >> 3] & (1 << (j & 7))


def bit_set(bm, j):
    bm[j >> 3] |= (1 << (j & 7))


def bit_clear(bm, j):
    bm[j >> 3] &= ~(1 << (j & 7)) & 0xFF


_BITS = [tuple(k for k in range(8) if (b >> k) & 1) for b in range(256)]


def bitmap_slots(bm):
    """The slot numbers set in a 2048-byte bitmap."""
    out = []
    bits = _BITS
    for i, byte in enumerate(bm):
        if byte:
            base = i << 3
            if byte == 255:
                out.extend(range(base, base + 8))
            else:
                out.extend([base + k for k in bits[byte]])
    return out


def bitmap_minus(a, b):
    """The bitmap of the slots set in a and not in b."""
    n = len(a)
    return (int.from_bytes(a, "little") & ~int.from_bytes(b, "little")).to_bytes(n, "little")


_RUNS = re.compile(rb"\xff+|[^\x00\xff]")


def bitmap_ranges(bm):
    """[(start, end)] runs of set bits in a slot bitmap: runs of 0xFF bytes and the partial bytes are found by
    a regex (in C); only the partial bytes are looked at bit by bit."""
    out = []
    start = end = -2                   # the open range [start, end]
    for m in _RUNS.finditer(bm):
        i, k = m.span()
        if k - i > 1 or bm[i] == 0xFF:
            a, b = i << 3, (k << 3) - 1
            if a == end + 1:
                end = b
            else:
                if start >= 0:
                    out.append((start, end))
                start, end = a, b
            continue
        byte = bm[i]
        base = i << 3
        for bit in range(8):
            if (byte >> bit) & 1:
                j = base + bit
                if j == end + 1:
                    end = j
                else:
                    if start >= 0:
                        out.append((start, end))
                    start = end = j
    if start >= 0:
        out.append((start, end))
    return out
