"""ACL against a real redis-server 7.0.15: SETUSER rules and errors, GETUSER/LIST descriptions, the -NOPERM,
-WRONGPASS and -NOAUTH texts, MULTI/EXEC and script checks, ACL LOG fields, DRYRUN, CAT, GENPASS, HELP.

Replies are compared byte for byte, except where redis itself is not deterministic: the single-command
part of a rules description follows redis's command-table hash order (random per process), so those tokens
are compared as a set; commands Cachemere does not have (cluster, replication internals) are left out.
"""
import hashlib

import pytest
import redis

from tests.security.conftest import cli, raw
from tests.support.servers import RawConnection

H1 = hashlib.sha256(b"p1").hexdigest()
H2 = hashlib.sha256(b"p2").hexdigest()

RULE_SETS = [
    [],
    ["on", ">p1", ">p2", "<p1", "~k*", "%R~r*", "%W~w*", "%RW~rw*", "&ch*", "+get", "+set"],
    ["on", "nopass", "+@all", "-@dangerous", "+flushdb"],
    ["on", "+@read", "+@hash", "-hgetall", "+client|id"],
    ["allkeys", "allchannels", "allcommands"],
    ["nocommands", "resetkeys", "resetchannels", "+@string", "-append"],
    ["on", "#" + H1, "#" + H2, "!" + H1],
    ["(~a* +get)", "(%W~b* +set +del)"],
    ["(+get", "~x", "&c*)", "on"],
    ["(+get ~x)", "clearselectors"],
    ["on", ">x", "~a", "reset"],
    ["-@all", "+select|0", "+select|1", "+SELECT|2"],
    ["-@all", "+config|get", "+config|set"],
    ["+@all", "-config|set", "-@scripting"],
    ["on", ">pw", "skip-sanitize-payload"],
    ["sanitize-payload", "~x", "~x", "%R~x", "&y", "&y"],
    ["+acl|whoami", "+@pubsub", "-@all", "+ping"],
    ["+@all", "-@read", "-@write", "+@keyspace"],
    ["+@geo", "+@sortedset", "+@bitmap", "-@slow"],
    ["", "on", ""],
]

BAD_RULES = [
    ["~*", "~foo"], ["&*", "&foo"], ["allkeys", "~a"], ["%X~foo"], ["%RR~foo"], ["~a\tb"], ["&a\x00b"],
    ["+get|"], ["+config|get|x"], ["+nosuch|x"], ["-get|x"], ["+@"], ["+@nosuch"], ["-nosuch"], ["<nopw"],
    ["!xyz"], ["#" + "A" * 64], ["#" + "a" * 63], ["foo"], ["(~x"], ["(+nosuch)"], ["(~x +get", "foo"],
    ["on", "(+get)", "(", "x"], ["+@all", "-"], ["+"],
]


def missing_commands(ours, theirs):
    """Commands only one server has: redis's cluster/module ones, the services' QUEUE.*/STREAM.*/WF.* here;
    single-command rules naming them cannot be compared."""
    a = set(cli(ours.port, "command", "list").split())
    b = set(cli(theirs.port, "command", "list").split())
    return a ^ b


def normalize(text, missing):
    """Split a description into segments (root, selectors); in each, single-command rules become a set."""
    out = []
    for seg in text.replace("(", "\0(").split("\0"):
        tokens = seg.strip().strip("()").split()
        keep, singles = [], set()
        for t in tokens:
            if t[:1] in "+-" and t[1:2] != "@":
                if t[1:].lower() not in missing and t[1:].split("|")[0].lower() not in missing:
                    singles.add(t)
            else:
                keep.append(t)
        out.append((commuting_runs_sorted(keep), sorted(singles)))
    return out


def commuting_runs_sorted(tokens):
    """Consecutive category rules of the same sign commute (-@set -@stream == -@stream -@set): sort each run.
    redis picks the order greedily by category sizes, and the services' commands make some sizes differ."""
    out, run = [], []
    for t in tokens + [None]:
        if run and (t is None or t[:2] != run[0][:2] or t[1:2] != "@"):
            out += sorted(run) if run[0][1:2] == "@" else run
            run = []
        if t is not None:
            run.append(t)
    return out


def getuser(port, name):
    return raw(port, "ACL", "GETUSER", name)


def norm_getuser(reply, missing):
    if reply is None:
        return None
    d = dict(zip(reply[::2], reply[1::2]))
    d["commands"] = normalize(d["commands"], missing)
    d["selectors"] = [
        {k: (normalize(v, missing) if k == "commands" else v) for k, v in zip(s[::2], s[1::2])}
        for s in d["selectors"]]
    return d


def test_setuser_rules_describe_like_redis(pair, both):
    ours, theirs = pair
    missing = missing_commands(ours, theirs)
    for i, rules in enumerate(RULE_SETS):
        name = f"rs{i}"
        both.same("ACL", "SETUSER", name, *rules)
        assert norm_getuser(getuser(ours.port, name), missing) == norm_getuser(getuser(theirs.port, name), missing), rules
    lists = []
    for port in (ours.port, theirs.port):
        lines = raw(port, "ACL", "LIST")
        lists.append([normalize(line, missing) for line in lines])
    assert lists[0] == lists[1]
    both.same("ACL", "USERS")


def test_setuser_errors_are_redis_texts_and_apply_nothing(both):
    both.same("ACL", "SETUSER", "bad", "on", ">pw", "+get", "~k")
    before = both.same("ACL", "GETUSER", "bad")
    for rules in BAD_RULES:
        both.same("ACL", "SETUSER", "bad", "+set", *rules)
        assert both.same("ACL", "GETUSER", "bad") == before, rules
    both.same("ACL", "SETUSER", "a b")
    both.same("ACL", "SETUSER", "a\x00b")
    both.same("ACL", "SETUSER")
    both.same("ACL", "GETUSER", "nosuch")
    both.same("ACL", "GETUSER")
    both.same("ACL", "DELUSER", "default")
    both.same("ACL", "DELUSER", "nosuch", "bad", "bad")
    both.same("ACL")
    both.same("ACL", "foo")
    both.same("ACL", "help")


def test_cat_genpass_whoami_load_save(pair, both):
    ours, theirs = pair
    missing = missing_commands(ours, theirs)
    both.same("ACL", "CAT")
    for cat in ("string", "dangerous", "keyspace", "pubsub", "scripting", "admin", "fast", "slow"):
        a = set(raw(ours.port, "ACL", "CAT", cat))
        b = set(raw(theirs.port, "ACL", "CAT", cat))
        common = set(cli(theirs.port, "command", "list").split())
        assert {x for x in a if x in common} == {x for x in b if x not in missing and x.split("|")[0] not in missing}, cat
    both.same("ACL", "CAT", "nosuch")
    both.same("ACL", "CAT", "STRING", "x")
    for bits in ("0", "-1", "4097", "x", "1.5"):
        both.same("ACL", "GENPASS", bits)
    for bits in ("1", "5", "255", "4096"):
        a, b = both.cmd("ACL", "GENPASS", bits)
        assert len(a) == len(b) and a.split(b"\r\n")[0] == b.split(b"\r\n")[0]
    a, b = both.cmd("ACL", "GENPASS")
    assert len(a) == len(b) == len(b"$64\r\n") + 64 + 2
    both.same("ACL", "WHOAMI")
    both.same("ACL", "LOAD")
    both.same("ACL", "SAVE")
    both.same("ACL", "LOG", "x")
    both.same("ACL", "LOG", "1", "2")


def _auth_conn(port, user, password):
    c = RawConnection(port)
    assert c.command("AUTH", user, password) == b"+OK\r\n"
    return c


USER_RULES = ["on", ">pw", "~k*", "%R~r*", "%W~w*", "&ch*", "+get", "+set", "+multi", "+exec", "+eval",
              "+evalsha", "+publish", "+subscribe", "+psubscribe", "+acl", "+client|list", "+hset", "+hget",
              "+xadd", "+lpush", "+rpoplpush", "+copy", "+sort", "+getdel", "+bitfield", "+spublish", "+ssubscribe",
              "+unsubscribe", "+mset", "+zunionstore", "+fcall", "+function|load", "+object|encoding"]


def test_noperm_texts_and_checks(pair, both):
    both.same("ACL", "SETUSER", "u1", *USER_RULES)
    ours, theirs = pair
    a, b = _auth_conn(ours.port, "u1", "pw"), _auth_conn(theirs.port, "u1", "pw")
    cases = [
        ("del", "k1"), ("get", "x"), ("get", "k1"), ("set", "r1", "v"), ("get", "r1"), ("set", "w1", "v"),
        ("get", "w1"), ("set", "w1", "v", "get"), ("getdel", "w1"), ("bitfield", "w1", "get", "u8", "0"),
        ("bitfield", "r1", "get", "u8", "0"), ("bitfield", "r1", "set", "u8", "0", "1"),
        ("publish", "zz", "m"), ("publish", "ch1", "m"), ("hset", "k2", "f", "v"), ("hget", "x", "f"),
        ("xadd", "x", "*", "f", "v"), ("xadd", "k3", "1-1", "f", "v"), ("lpush", "k4", "a"),
        ("rpoplpush", "k4", "r4"), ("rpoplpush", "k4", "w4"), ("copy", "k4", "x"), ("sort", "k4", "store", "x"),
        ("sort", "k4", "by", "x*"), ("client", "info"), ("client", "list", "id", "1"),
        ("subscribe", "zz"), ("psubscribe", "ch*x"), ("spublish", "zz", "m"), ("spublish", "ch2", "m"),
        ("mset", "k1", "a", "w1", "b"), ("mset", "k1", "a", "x", "b"), ("zunionstore", "k5", "2", "k6", "r6"),
        ("zunionstore", "k5", "2", "k6", "x"), ("object", "encoding", "x"), ("object", "encoding", "k1"),
        ("object", "freq", "k1"), ("fcall", "nosuchfn", "1", "x"), ("fcall", "nosuchfn", "1", "k1"),
        ("eval", "return redis.call('del','k1')", "0"), ("eval", "return redis.call('get','x')", "0"),
        ("eval", "return redis.pcall('get','x')", "0"), ("eval", "return redis.call('publish','x','y')", "0"),
        ("eval", "return redis.call('get',KEYS[1])", "1", "x"),
        ("eval", "return redis.acl_check_cmd('get','x')", "0"),
        ("eval", "return redis.acl_check_cmd('get','k1')", "0"),
        ("eval", "return redis.acl_check_cmd('del','k1')", "0"),
        ("multi",), ("get", "x"), ("del", "a"), ("set", "k1", "1"), ("exec",),
        ("multi",), ("set", "k1", "1"), ("exec",),
        ("acl", "whoami"), ("acl", "dryrun", "u1", "get", "x"), ("acl", "dryrun", "u1", "get", "k1"),
        ("acl", "dryrun", "u1", "del", "k1"), ("acl", "dryrun", "u1", "publish", "zz", "m"),
        ("acl", "dryrun", "nouser", "get", "x"), ("acl", "dryrun", "u1", "nocmd", "x"),
        ("acl", "dryrun", "u1", "get"), ("acl", "dryrun", "u1", "config", "get", "x"),
        ("acl", "dryrun", "default", "config", "get", "x"), ("acl", "dryrun", "u1", "config", "nosub"),
        ("subscribe", "ch1"), ("ping",), ("ssubscribe", "zz"), ("unsubscribe", "zz"),
    ]
    for args in cases:
        ra, rb = a.command(*args), b.command(*args)
        assert ra == rb, (args, ra, rb)
    a.close()
    b.close()


def test_exec_after_rules_change(pair, both):
    ours, theirs = pair
    both.same("ACL", "SETUSER", "u2", "on", ">pw", "~*", "&*", "+@all")
    a, b = _auth_conn(ours.port, "u2", "pw"), _auth_conn(theirs.port, "u2", "pw")
    for conn in (a, b):
        assert conn.command("MULTI") == b"+OK\r\n"
        assert conn.command("SET", "x", "1") == b"+QUEUED\r\n"
        assert conn.command("GET", "x") == b"+QUEUED\r\n"
        assert conn.command("PUBLISH", "c", "m") == b"+QUEUED\r\n"
    both.same("ACL", "SETUSER", "u2", "-get", "resetkeys", "~y")
    assert a.command("EXEC") == b.command("EXEC")
    a.close()
    b.close()


def test_auth_hello_texts(pair, both):
    ours, theirs = pair
    both.same("ACL", "SETUSER", "u3", "on", ">pw", "+@all", "~*")
    both.same("ACL", "SETUSER", "u4", "off", ">pw", "+@all", "~*")
    both.same("ACL", "SETUSER", "u5", "on", "nopass", "+@all", "~*")
    for args in [("AUTH", "u3", "bad"), ("AUTH", "nouser", "x"), ("AUTH", "u4", "pw"), ("AUTH", "pw"),
                 ("AUTH", "a", "b", "c"), ("AUTH", "u5", "anything"), ("ACL", "WHOAMI"), ("AUTH", "u3", "pw"),
                 ("ACL", "WHOAMI"), ("HELLO", "3", "AUTH", "u3", "bad"), ("HELLO", "2", "AUTH", "u4", "pw"),
                 ("HELLO", "2", "AUTH", "u3", "pw", "SETNAME", "nm"), ("CLIENT", "GETNAME"),
                 ("HELLO", "2", "AUTH", "u3"), ("RESET",), ("ACL", "WHOAMI")]:
        a, b = both.cmd(*args)
        if args[0] == "HELLO" and a.startswith(b"*"):
            a, b = a.split(b"id")[0], b.split(b"id")[0]      # the client id differs
        assert a == b, (args, a, b)


def test_requirepass_and_noauth(pair, both):
    ours, theirs = pair
    both.same("CONFIG", "SET", "requirepass", "secret")
    a, b = RawConnection(ours.port), RawConnection(theirs.port)
    for args in [("GET", "x"), ("PING",), ("AUTH", "wrong"), ("AUTH", "default", "wrong"), ("HELLO", "3"),
                 ("AUTH", "secret"), ("GET", "x")]:
        ra, rb = a.command(*args), b.command(*args)
        if args[0] == "HELLO" and ra.startswith(b"%"):
            ra, rb = ra.split(b"id")[0], rb.split(b"id")[0]
        assert ra == rb, (args, ra, rb)
    both.same("ACL", "GETUSER", "default")
    both.same("CONFIG", "SET", "requirepass", "")
    both.same("ACL", "GETUSER", "default")
    a.close()
    b.close()


def _log_entries(port):
    out = []
    for e in raw(port, "ACL", "LOG"):
        d = dict(zip(e[::2], e[1::2]))
        assert float(d.pop("age-seconds")) >= 0
        info = d.pop("client-info")
        assert "user=" in info and "cmd=" in info and "addr=" in info
        out.append(d)
    return out


def test_acl_log_entries(pair, both):
    ours, theirs = pair
    both.same("ACL", "LOG", "RESET")
    both.same("ACL", "SETUSER", "logu", "on", ">pw", "~k*", "&c*", "+get", "+publish", "+eval", "+multi", "+exec")
    a, b = _auth_conn(ours.port, "logu", "pw"), _auth_conn(theirs.port, "logu", "pw")
    for args in [("GET", "x"), ("GET", "x"), ("SET", "k", "v"), ("PUBLISH", "z", "m"),
                 ("EVAL", "return redis.pcall('get', 'y')", "0"), ("MULTI",), ("GET", "q"), ("EXEC",),
                 ("AUTH", "logu", "bad"), ("AUTH", "nobody", "x")]:
        assert a.command(*args) == b.command(*args), args
    assert _log_entries(ours.port) == _log_entries(theirs.port)
    both.same("ACL", "LOG", "0")
    both.same("ACL", "LOG", "-5")
    a2, b2 = both.cmd("ACL", "LOG", "2")
    assert a2.split(b"\r\n")[0] == b2.split(b"\r\n")[0] == b"*2"
    both.same("ACL", "LOG", "RESET")
    both.same("ACL", "LOG")
    a.close()
    b.close()


def test_resp3_getuser_shape(pair):
    ours, theirs = pair
    for port in (ours.port, theirs.port):
        raw(port, "ACL", "SETUSER", "r3", "on", ">p", "~a", "(+get ~b)")
    replies = []
    for port in (ours.port, theirs.port):
        c = RawConnection(port)
        c.command("HELLO", "3")
        replies.append(c.command("ACL", "GETUSER", "r3"))
        c.close()
    assert replies[0] == replies[1]


def test_secrets_redacted_in_monitor_and_slowlog(pair, both):
    ours, theirs = pair
    monitors = []
    for srv in pair:
        m = RawConnection(srv.port)
        assert m.command("MONITOR") == b"+OK\r\n"
        monitors.append(m)
    both.same("CONFIG", "SET", "slowlog-log-slower-than", "0")
    both.same("SLOWLOG", "RESET")
    both.same("ACL", "SETUSER", "mm", "on", ">secretpw", "~*", "+@all")
    both.same("AUTH", "nouser", "pw")
    both.same("AUTH", "mm", "secretpw")
    a, b = both.cmd("HELLO", "2", "AUTH", "mm", "secretpw", "SETNAME", "x")
    both.same("CONFIG", "SET", "masterauth", "topsecret")
    lines = []
    for m in monitors:
        text = m.read_until_quiet(0.3).decode()
        lines.append([line.split("]", 1)[1] for line in text.splitlines() if "]" in line])
        assert "secretpw" not in text and "topsecret" not in text
        m.close()
    assert lines[0] == lines[1]
    logs = []
    for srv in pair:
        entries = raw(srv.port, "SLOWLOG", "GET", "20")
        logs.append([e[3] for e in entries])
    assert logs[0] == logs[1]
    assert not any("secretpw" in arg or "topsecret" in arg for entry in logs[0] for arg in entry)
    both.same("CONFIG", "SET", "slowlog-log-slower-than", "10000")


def test_variable_key_flags_like_redis(both):
    for args in [("SET", "k", "v"), ("SET", "k", "v", "GET"), ("SET", "k", "v", "NX", "get"),
                 ("BITFIELD", "k", "GET", "u8", "0"), ("BITFIELD", "k", "SET", "u8", "0", "1"), ("BITFIELD", "k"),
                 ("BITFIELD", "k", "OVERFLOW", "SAT", "GET", "u8", "0"), ("BITFIELD", "k", "bogus")]:
        both.same("COMMAND", "GETKEYSANDFLAGS", *args)


def test_key_pattern_shapes_like_redis(pair, both):
    """Every pattern shape the compiled key check distinguishes (engine/aclcore.pyx): a leading glob, an
    exact literal, a literal prefix then '*', a prefix then more glob, read/write-only ones, the empty key,
    and multi-key commands refused on a later key."""
    both.same("ACL", "SETUSER", "shapes", "on", ">pw", "+@all", "~*:tail", "~exact", "~pre*", "~ab?d*",
              "%R~ro[0-9]", "%W~wo*", "~\\*lit")
    ours, theirs = pair
    a, b = _auth_conn(ours.port, "shapes", "pw"), _auth_conn(theirs.port, "shapes", "pw")
    cases = [("get", k) for k in ("x:tail", ":tail", "tail", "exact", "exac", "exactly", "pre", "prefix", "pr",
                                  "abcd", "abxdyy", "abd", "ro1", "ro", "roa", "wo", "*lit", "xlit", "")]
    cases += [("set", "ro1", "v"), ("set", "wo1", "v"), ("get", "wo1"), ("set", "x:tail", "v"),
              ("mset", "pre1", "a", "exact", "b", "nope", "c"), ("mset", "pre1", "a", "exact", "b"),
              ("mget", "exact", "pre2", "ro3", "wo3"), ("del", "exact", "x"), ("set", "", "v"),
              ("rename", "pre1", "ro2"), ("lmove", "pre1", "wo2", "left", "right")]
    for args in cases:
        ra, rb = a.command(*args), b.command(*args)
        assert ra == rb, (args, ra, rb)
    a.close()
    b.close()


def test_rule_changes_between_commands_like_redis(pair, both):
    """The inlined single-key check (engine/aclcore.pxd acl_check) reads the user's current rules: a command
    bit cleared, keys reset, a second selector added or cleared on a live connection answer as redis does."""
    both.same("ACL", "SETUSER", "live", "on", ">pw", "+@all", "~k:*", "~lit")
    ours, theirs = pair
    a, b = _auth_conn(ours.port, "live", "pw"), _auth_conn(theirs.port, "live", "pw")
    steps = [
        [("get", "k:1"), ("set", "lit", "v"), ("get", "other")],
        [("mset", "k:1", "a", "k:2", "b"), ("mset", "k:1", "a", "nope", "b"), ("mset", "k:1", "a", "k:2"),
         ("mget", "k:1", "lit", "k:3"), ("mget", "k:1", "x"), ("del", "k:9", "lit"), ("del", "k:9", ""),
         ("exists", "k:1", "k:2", "zz")],
        [("acl", "setuser", "live", "-mset", "-get")],
        [("mset", "k:1", "a", "k:2", "b"), ("mget", "k:1")],
        [("acl", "setuser", "live", "+mset")],
        [("get", "k:1"), ("set", "k:1", "v")],
        [("acl", "setuser", "live", "+get", "(~sel:* +get)")],
        [("get", "sel:1"), ("set", "sel:1", "v"), ("get", "k:1"), ("get", "nope")],
        [("acl", "setuser", "live", "clearselectors", "resetkeys", "~n*")],
        [("get", "sel:1"), ("get", "k:1"), ("get", "n1"), ("get", "")],
        [("acl", "setuser", "live", "allkeys")],
        [("get", "anything"), ("acl", "setuser", "live", "nocommands", "+set")],
        [("get", "x"), ("set", "x", "1"), ("ping",)],
    ]
    for group in steps:
        for args in group:
            ra, rb = a.command(*args), b.command(*args)
            assert ra == rb, (args, ra, rb)
    a.close()
    b.close()
