"""DEBUG POPULATE against redis-server 7.0.15 byte for byte (error texts, prefix, size padding/cut, existing keys
kept, DEBUG's subcommand syntax error)."""
from tests.support.servers import RawConnection

SEQ = [("DEBUG","POPULATE","-1"),("DEBUG","POPULATE","abc"),("DEBUG","POPULATE","3","pfx","-5"),("DEBUG","POPULATE","3","pfx","x"),
       ("SET","pfx:1","keep"),("DEBUG","POPULATE","3","pfx","12"),("MGET","pfx:0","pfx:1","pfx:2","pfx:3"),("DEBUG","POPULATE","2","q","3"),("MGET","q:0","q:1"),
       ("DEBUG","POPULATE","2"),("MGET","key:0","key:1"),("DEBUG","POPULATE","1","a","1","b"),("DEBUG","POPULATE"),("DEBUG","POPULATE","0"),("DBSIZE",)]


def test_debug_populate_matches_redis(debug_pair):
    outs = []
    for srv in debug_pair:
        c = RawConnection(srv.port)
        c.command("FLUSHALL")
        res = [c.command(*cmd) for cmd in SEQ]
        c.command("FLUSHALL")
        c.close()
        outs.append(res)
    assert outs[0] == outs[1]
    assert outs[0][-1] == b":7\r\n"
