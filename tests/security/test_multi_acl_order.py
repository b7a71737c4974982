"""redis 7.0.15 processCommand order: inside MULTI a CMD_NO_MULTI command (SAVE, SHUTDOWN, PSYNC, SYNC) is refused
with "Command not allowed inside a transaction" after the auth check and *before* the ACL check, so a user who
may not run it gets that error (not -NOPERM) and no ACL LOG entry; compared with a real redis-server."""
import redis

from tests.support.servers import RawConnection


def _run(port):
    admin = redis.Redis(port=port)
    admin.acl_log_reset()
    admin.acl_setuser("multi-order", enabled=True, passwords=["+pw"], commands=["+multi", "+exec", "+get", "+auth"],
                      keys=["*"])
    c = RawConnection(port)
    out = [c.command("AUTH", "multi-order", "pw"), c.command("MULTI")]
    out += [c.command("SAVE"), c.command("SHUTDOWN"), c.command("PSYNC", "?", "-1"), c.command("SYNC")]
    out += [c.command("SET", "k", "v"), c.command("GET", "k"), c.command("EXEC")]
    c.close()
    log = [(e["reason"], e["context"], e["object"], e["username"]) for e in admin.acl_log()]
    admin.acl_deluser("multi-order")
    admin.acl_log_reset()
    return out, log


def test_no_multi_checked_before_acl_like_redis(cachemere, redis_ref):
    mine, ref = _run(cachemere.port), _run(redis_ref.port)
    assert mine == ref
    out, log = mine
    assert out[2] == b"-ERR Command not allowed inside a transaction\r\n"
    assert out[6].startswith(b"-NOPERM")
    assert log == [("command", "multi", "set", "multi-order")]
