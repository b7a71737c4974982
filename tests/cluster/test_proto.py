"""The bus wire format against redis 7.0's cluster.h: sizes, field offsets, length validation, round trips."""
from cluster import proto


def test_sizes_and_offsets():
    assert proto.HDR.size == 2256           # sizeof(clusterMsg) - sizeof(union clusterMsgData)
    assert proto.GOSSIP.size == 104         # sizeof(clusterMsgDataGossip)
    assert proto.UPDATE_DATA.size == 8 + 40 + 2048
    msg = proto.build(proto.PING, "a" * 40, 7000, 0, 17000, proto.F_MASTER, 0, 5, 3, 99, bytearray(2048), None,
                      "", proto.MF0_EXT_DATA)
    assert msg[:4] == b"RCmb" and int.from_bytes(msg[4:8], "big") == len(msg) == 2256
    assert int.from_bytes(msg[8:10], "big") == 1 and int.from_bytes(msg[10:12], "big") == 7000
    assert int.from_bytes(msg[16:24], "big") == 5 and int.from_bytes(msg[24:32], "big") == 3
    assert msg[40:80] == b"a" * 40
    assert int.from_bytes(msg[2248:2250], "big") == 17000          # cport
    assert int.from_bytes(msg[2250:2252], "big") == proto.F_MASTER  # flags
    assert msg[2253] == proto.MF0_EXT_DATA


def test_round_trip_and_validation():
    bm = bytearray(2048)
    for j in (0, 1, 5000, 16383):
        proto.bit_set(bm, j)
    body = proto.gossip_entry("b" * 40, 5000, 7000, "127.0.0.1", 7001, 17001, proto.F_SLAVE, 0)
    body += proto.hostname_ext("host-x")
    msg = proto.build(proto.PONG, "a" * 40, 7000, 0, 17000, proto.F_MASTER, 0, 1, 1, 0, bm, "c" * 40, "",
                      proto.MF0_EXT_DATA, body, count=1, extensions=1)
    h = proto.Header.parse(msg)
    assert proto.valid_length(msg, h)
    assert h.slaveof == "c" * 40 and proto.bitmap_slots(h.myslots) == [0, 1, 5000, 16383]
    assert proto.parse_gossip(msg, 1) == [("b" * 40, 5, 7, "127.0.0.1", 7001, 17001, proto.F_SLAVE, 0)]
    assert proto.parse_extensions(msg, 1, 1) == [(proto.EXT_HOSTNAME, b"host-x\x00\x00")]
    bad = msg[:4] + (len(msg) + 8).to_bytes(4, "big") + msg[8:] + b"\x00" * 8
    assert not proto.valid_length(bad, proto.Header.parse(bad))
    assert proto.bitmap_ranges(bm) == [(0, 1), (5000, 5000), (16383, 16383)]
