"""ACL on a live server with stock clients: redis-py and redis-cli as ACL users, users from the conf file and
from an aclfile (ACL LOAD/SAVE, CONFIG REWRITE), DELUSER and revoked channels disconnecting clients,
CLIENT KILL USER / CLIENT LIST user=, and the checks for commands of several families."""
import os
import tempfile
import time

import pytest
import redis

from tests.security.conftest import cli, raw
from tests.security.test_acl_diff import missing_commands, normalize
from tests.support.servers import RawConnection, start_cachemere, start_redis, wait_for


@pytest.fixture(scope="module")
def srv():
    s = start_cachemere()
    yield s
    s.stop()


def test_redis_py_and_cli_as_acl_user(srv):
    admin = redis.Redis(port=srv.port)
    assert admin.acl_setuser("app", enabled=True, passwords=["+apppw"], keys=["app:*"],
                             commands=["+@read", "+@write", "-@dangerous", "+ping", "+acl|whoami"])
    r = redis.Redis(port=srv.port, username="app", password="apppw")
    assert r.set("app:1", "v") and r.get("app:1") == b"v"
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.get("other")
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.flushall()
    assert r.acl_whoami() == "app"
    r3 = redis.Redis(port=srv.port, username="app", password="apppw", protocol=3)
    assert r3.get("app:1") == b"v"
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=srv.port, username="app", password="nope").ping()
    assert cli(srv.port, "get", "app:1", user="app", password="apppw") == "v\n"
    out = cli(srv.port, "get", "zzz", user="app", password="apppw")
    assert "NOPERM" in out
    assert "WRONGPASS" in cli(srv.port, "ping", user="app", password="bad") + \
        __import__("subprocess").run(["redis-cli", "-p", str(srv.port), "--user", "app", "--pass", "bad",
                                      "--no-auth-warning", "ping"], capture_output=True, text=True).stderr
    info = admin.acl_getuser("app")
    assert "app:*" in str(info["keys"])


def test_client_list_user_field_and_kill_user(srv):
    admin = redis.Redis(port=srv.port)
    admin.acl_setuser("killme", enabled=True, nopass=True, keys=["*"], commands=["+@all"])
    victims = [RawConnection(srv.port) for _ in range(2)]
    for v in victims:
        assert v.command("AUTH", "killme", "x") == b"+OK\r\n"
        assert b"user=killme" in v.command("CLIENT", "INFO")
    listing = admin.client_list()
    assert sum(1 for c in listing if c["user"] == "killme") == 2
    assert raw(srv.port, "CLIENT", "KILL", "USER", "nosuchuser").args[0] == "ERR No such user 'nosuchuser'"
    assert admin.execute_command("CLIENT", "KILL", "USER", "killme") == 2
    assert all(v.is_closed() for v in victims)


def test_deluser_disconnects_and_channels_revoked(srv):
    admin = redis.Redis(port=srv.port)
    admin.acl_setuser("gone", enabled=True, nopass=True, keys=["*"], commands=["+@all"], channels=["*"])
    c = RawConnection(srv.port)
    assert c.command("AUTH", "gone", "x") == b"+OK\r\n"
    assert admin.acl_deluser("gone") == 1
    assert c.is_closed()
    # a subscriber whose channel permission is revoked is disconnected (ACLKillPubsubClientsIfNeeded)
    admin.execute_command("ACL", "SETUSER", "sub", "on", "nopass", "+@all", "resetchannels", "&news:*")
    s = RawConnection(srv.port)
    assert s.command("AUTH", "sub", "x") == b"+OK\r\n"
    assert s.command("SUBSCRIBE", "news:1").startswith(b"*3")
    admin.execute_command("ACL", "SETUSER", "sub", "&news:*", "&more")      # a superset: kept
    assert s.command("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    admin.execute_command("ACL", "SETUSER", "sub", "resetchannels", "&other")
    assert s.is_closed()


def test_other_families_are_checked(srv):
    admin = redis.Redis(port=srv.port)
    admin.execute_command("ACL", "SETUSER", "fam", "on", ">p", "~*", "-@all", "+@hash", "+xadd", "+xlen", "+rpush")
    r = redis.Redis(port=srv.port, username="fam", password="p")
    assert r.hset("h", "f", "v") == 1
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.lpush("l", "a")
    assert r.rpush("l", "a") == 1
    assert r.xadd("s", {"f": "v"}, id="1-1") == b"1-1"
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.zadd("z", {"a": 1})
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.xrange("s")
    # functions: redis.call inside FCALL is checked for the caller too
    admin.execute_command("FUNCTION", "LOAD", "REPLACE",
                          "#!lua name=acltest\nredis.register_function('dodel', function(k) "
                          "return redis.call('del', k[1]) end)")
    admin.execute_command("ACL", "SETUSER", "fam", "+fcall")
    with pytest.raises(redis.exceptions.ResponseError) as e:
        r.fcall("dodel", 1, "h")
    assert "The user executing the script can't run this command or subcommand" in str(e.value)


def _conf(text):
    d = tempfile.mkdtemp(prefix="cm-acl-conf-")
    path = os.path.join(d, "cachemere.conf")
    with open(path, "w") as f:
        f.write(text)
    return d, path


def test_conf_users_requirepass_and_rewrite():
    d, path = _conf("user alice on >alicepw ~a:* +@all\nuser bob off\nrequirepass toplevel\n")
    s = start_cachemere(config_file=path, workdir=d)
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=s.port).ping()
        r = redis.Redis(port=s.port, password="toplevel")
        assert r.ping()
        a = redis.Redis(port=s.port, username="alice", password="alicepw")
        assert a.set("a:1", "x")
        users = r.acl_users()
        assert set(users) == {"alice", "bob", "default"}
        r.acl_setuser("carol", enabled=True, passwords=["+c"], keys=["c:*"], commands=["+get"])
        r.config_rewrite()
        text = open(path).read()
        assert "user carol on #" in text and "~c:* resetchannels -@all +get" in text
        assert "user alice on #" in text
    finally:
        s.stop()
    # the rewritten file starts the server with the same users
    s = start_cachemere(config_file=path, workdir=d)
    try:
        r = redis.Redis(port=s.port, username="carol", password="c")
        assert r.get("c:1") is None
    finally:
        s.stop()


def test_bad_conf_user_stops_startup():
    d, path = _conf("user alice on +nosuchcommand\n")
    with pytest.raises(Exception):
        s = start_cachemere(config_file=path, workdir=d)
        s.stop()
    log = open(os.path.join(d, "server.log")).read()
    assert "Error loading ACL rule '+nosuchcommand' for the user named 'alice': Unknown command or category name " \
           "in ACL" in log


def test_aclfile_load_save_like_redis():
    d1, d2 = tempfile.mkdtemp(), tempfile.mkdtemp()
    initial = "user default on nopass ~* &* +@all\nuser fileu on >fp ~f:* resetchannels -@all +get +set\n"
    for d in (d1, d2):
        with open(os.path.join(d, "users.acl"), "w") as f:
            f.write(initial)
    ours = start_cachemere("--aclfile", "users.acl", workdir=d1)
    theirs = start_redis("--aclfile", "users.acl", workdir=d2)
    try:
        for port in (ours.port, theirs.port):
            r = redis.Redis(port=port, username="fileu", password="fp")
            assert r.set("f:1", "v") and r.get("f:1") == b"v"
        missing = missing_commands(ours, theirs)

        def same_lists(a, b):
            return [normalize(x, missing) for x in a] == [normalize(x, missing) for x in b]
        assert same_lists(raw(ours.port, "ACL", "LIST"), raw(theirs.port, "ACL", "LIST"))
        for port in (ours.port, theirs.port):
            raw(port, "ACL", "SETUSER", "newu", "on", ">np", "~n:*", "+get")
            assert raw(port, "ACL", "SAVE") == "OK"
        assert same_lists(open(os.path.join(d1, "users.acl")).read().splitlines(),
                          open(os.path.join(d2, "users.acl")).read().splitlines())
        bad = ("user default on nopass ~* &* +@all\nuser x on +nosuch ~a\n# comment\nuser y on bogus bogus\n"
               "user x\nuser\nuser (x on\n")
        # (an unmatched "(" in an aclfile line crashes redis-server 7.0.15 itself: checked on ours only below)
        for d in (d1, d2):
            with open(os.path.join(d, "users.acl"), "w") as f:
                f.write(bad)
        a, b = RawConnection(ours.port).command("ACL", "LOAD"), RawConnection(theirs.port).command("ACL", "LOAD")
        assert a == b
        assert raw(ours.port, "ACL", "USERS") == raw(theirs.port, "ACL", "USERS")   # nothing changed
        with open(os.path.join(d1, "users.acl"), "w") as f:
            f.write("user default on nopass ~* &* +@all\nuser z on (+get\n")
        err = raw(ours.port, "ACL", "LOAD")
        assert str(err) == ("ERR users.acl:2: Unmatched parenthesis in selector definition.WARNING: ACL errors "
                            "detected, no change to the previously active ACL rules was performed")
        for d in (d1, d2):
            with open(os.path.join(d, "users.acl"), "w") as f:
                f.write("user default on nopass ~* &* +@all\nuser only on nopass ~o +get\n")
        held = [RawConnection(p) for p in (ours.port, theirs.port)]
        for h in held:
            assert h.command("AUTH", "fileu", "fp") == b"+OK\r\n"
        for port in (ours.port, theirs.port):
            assert raw(port, "ACL", "LOAD") == "OK"
        assert same_lists(raw(ours.port, "ACL", "LIST"), raw(theirs.port, "ACL", "LIST"))
        assert all(h.is_closed() for h in held)      # clients of users that no longer exist are dropped
    finally:
        ours.stop()
        theirs.stop()


def test_acl_pubsub_default_allchannels():
    s = start_cachemere("--acl-pubsub-default", "allchannels")
    try:
        raw(s.port, "ACL", "SETUSER", "pc", "on", "nopass", "+@all")
        assert "&*" in raw(s.port, "ACL", "GETUSER", "pc")[9]
        raw(s.port, "CONFIG", "SET", "acl-pubsub-default", "resetchannels")
        raw(s.port, "ACL", "SETUSER", "pc2", "on", "nopass", "+@all")
        assert raw(s.port, "ACL", "GETUSER", "pc2")[9] == ""
    finally:
        s.stop()


def test_aof_replay_is_not_subject_to_default_user_rules():
    d, path = _conf("appendonly yes\nuser default on nopass ~* &* +@all\n")
    s = start_cachemere("--appendonly", "yes", config_file=path, workdir=d)
    try:
        raw(s.port, "SET", "k", "v")
        raw(s.port, "ACL", "SETUSER", "default", "resetkeys", "~nothing")
    finally:
        s.stop()
    with open(path, "w") as f:
        f.write("appendonly yes\nuser default on nopass ~nothing &* +@all\n")
    s = start_cachemere("--appendonly", "yes", config_file=path, workdir=d)
    try:
        raw(s.port, "ACL", "SETUSER", "default", "~*")
        assert raw(s.port, "GET", "k") == "v"
    finally:
        s.stop()
