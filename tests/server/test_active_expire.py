"""Active expiry: keys nobody reads are reclaimed by the cron's expire cycle, and each one propagates DEL."""
import time

from tests.support.servers import RawConnection


def pipeline_set_px(conn, keys, px):
    conn.send(b"".join(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n$2\r\nPX\r\n$%d\r\n%d\r\n"
                       % (len(k), k, len(str(px)), px) for k in keys))
    for _ in keys:
        assert conn.read_reply() == b"+OK\r\n"


def wait_dbsize(conn, wanted, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.command("DBSIZE") == b":%d\r\n" % wanted:
            return True
        time.sleep(0.05)
    return conn.command("DBSIZE") == b":%d\r\n" % wanted


def test_ten_thousand_unread_keys_are_reclaimed(fresh_cachemere):
    srv = fresh_cachemere("--hz", "10")
    conn = RawConnection(srv.port)
    pipeline_set_px(conn, [b"exp:%d" % i for i in range(10000)], 100)
    for i in range(100):
        conn.command("SET", f"keep:{i}", "v")
    assert conn.command("DBSIZE") == b":10100\r\n"      # DBSIZE never expires anything itself
    assert wait_dbsize(conn, 100, timeout=5.0)
    assert b"expired_keys:10000\r\n" in conn.command("INFO", "stats")
    assert conn.command("GET", "keep:7") == b"$1\r\nv\r\n"


def test_keys_in_every_database_are_reclaimed(fresh_cachemere):
    srv = fresh_cachemere("--hz", "20")
    conn = RawConnection(srv.port)
    for db in (0, 5, 15):
        conn.command("SELECT", str(db))
        pipeline_set_px(conn, [b"d%d:%d" % (db, i) for i in range(500)], 50)
    for db in (0, 5, 15):
        conn.command("SELECT", str(db))
        assert wait_dbsize(conn, 0, timeout=5.0), db


def test_active_expire_leaves_live_keys_and_ttls_alone(fresh_cachemere):
    srv = fresh_cachemere("--hz", "50")
    conn = RawConnection(srv.port)
    pipeline_set_px(conn, [b"long:%d" % i for i in range(200)], 60_000)
    pipeline_set_px(conn, [b"short:%d" % i for i in range(200)], 30)
    assert wait_dbsize(conn, 200, timeout=5.0)
    time.sleep(0.2)
    assert conn.command("DBSIZE") == b":200\r\n"
    assert conn.command("EXISTS", "long:0", "long:199") == b":2\r\n"


def test_cycle_deletes_stale_keys_and_propagates_del():
    """In-process: one cycle reclaims stale keys only, each one as a DEL on the effect stream."""
    from engine.core import Keyspace, encode_command
    from engine.expire import ActiveExpire
    ks = Keyspace(4)
    stream = []
    ks.effects.subscribe(stream.append)
    now = ks.update_clock()
    db = ks.dbs[2]
    for i in range(300):
        e = db.add(b"old:%d" % i, b"v")
        db.set_expire(b"old:%d" % i, e, now - 10)
    for i in range(50):
        e = db.add(b"new:%d" % i, b"v")
        db.set_expire(b"new:%d" % i, e, now + 60_000)
    expired = sum(ActiveExpire(ks).cycle(10) for _ in range(20))
    assert expired == 300 and db.size() == 50 and ks.stat_expired == 300
    effects = b"".join(stream)
    assert effects.startswith(b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n")
    assert effects.count(b"*2\r\n$3\r\nDEL\r\n") == 300
    assert encode_command([b"DEL", b"old:123"]) in effects and b"new:" not in effects


def test_a_replica_never_expires_actively():
    from engine.core import Keyspace
    from engine.expire import ActiveExpire
    ks = Keyspace(1)
    ks.is_replica = True
    e = ks.dbs[0].add(b"k", b"v")
    ks.dbs[0].set_expire(b"k", e, ks.update_clock() - 10)
    assert ActiveExpire(ks).cycle(10) == 0 and ks.dbs[0].size() == 1
