"""engine.registry (implicit ACL categories, registration) and the COMMAND renderers of
engine.commands.introspection, checked against bytes taken from redis-server 7.0.15."""
import ast
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from engine import registry  # noqa: E402
from engine.commands import introspection as intro  # noqa: E402
from engine.spec import CommandSpec, FLAGS  # noqa: E402
from protocol.resp import ReplyBuffer  # noqa: E402
from tools import specgen  # noqa: E402


class StandIn:
    """The part of a client the COMMAND handlers use."""

    def __init__(self, resp=3):
        self.reply = ReplyBuffer()
        self.reply.resp = resp

    def error(self, message):
        self.reply.add_error(message)


def cats(acl, flags):
    return registry.acl_names(registry.acl_bits(acl, registry.parse_flags(flags)))


# -- implicit ACL categories (redis setImplicitACLCategories) ---------------------------------------------------
@pytest.mark.parametrize("acl, flags, expected", [
    ("string", "write denyoom", ["@write", "@string", "@slow"]),
    ("string", "readonly fast", ["@read", "@string", "@fast"]),
    ("keyspace dangerous", "readonly", ["@keyspace", "@read", "@slow", "@dangerous"]),
    ("scripting", "readonly noscript", ["@slow", "@scripting"]),          # scripting: no implicit @read
    ("", "admin noscript loading stale", ["@admin", "@slow", "@dangerous"]),
    ("", "pubsub loading stale fast", ["@pubsub", "@fast"]),
    ("list", "write blocking", ["@write", "@list", "@slow", "@blocking"]),
    ("@connection fast", "", ["@fast", "@connection"]),                     # explicit @fast: no @slow
    ("", "", ["@slow"]),
])
def test_implicit_acl_categories(acl, flags, expected):
    assert cats(acl, flags) == expected


def test_unknown_flag_and_category_are_refused():
    with pytest.raises(KeyError):
        registry.parse_flags("readonly nosuchflag")
    with pytest.raises(KeyError):
        registry.acl_bits("nosuchcat", 0)


@pytest.fixture
def private_registry(monkeypatch):
    table = {}
    monkeypatch.setattr(registry, "COMMANDS", table)
    return table


def test_registration_builds_containers(private_registry):
    registry.container("box", docs={"summary": "A box", "group": "server"})

    @registry.command("box|open", 2, "admin", docs={"summary": "Open"})
    def box_open(c, argv):
        pass

    @registry.command("Plain", 1, "fast")
    def plain(c, argv):
        pass

    assert list(private_registry) == [b"box", b"plain"]
    box = registry.lookup(b"BOX")
    assert box.arity == -2 and box.handler is None
    assert box.subcommands[b"open"].parent is box and box.subcommands[b"open"].handler is box_open
    assert [s.name for s in registry.all_specs()] == ["box", "box|open", "plain"]
    with pytest.raises(ValueError):
        registry.command("plain", 1)(plain)
    with pytest.raises(ValueError):
        registry.command("nobox|x", 1)(plain)


def test_internal_specs_are_hidden(private_registry):
    registry.command("visible", 1)(lambda c, argv: None)
    registry.command("secret", 1, "internal")(lambda c, argv: None)
    assert [s.name for s in registry.all_specs()] == ["visible"]
    assert intro.lookup_by_fullname(b"secret") is None
    c = StandIn()
    intro.command_count_command(c, [b"command", b"count"])
    assert c.reply.take() == b":1\r\n"
    intro.command_list_command(c, [b"command", b"list"])
    assert c.reply.take() == b"*1\r\n$7\r\nvisible\r\n"


# -- rendering ------------------------------------------------------------------------------------------------
GET_SPEC = dict(
    key_specs=[{"flags": ["RO", "access"], "begin_search": {"type": "index", "spec": {"index": 1}},
                "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}],
    docs={"summary": "Get the value of a key", "since": "1.0.0", "group": "string", "complexity": "O(1)",
          "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}]},
)
# redis-server 7.0.15: COMMAND INFO get, over RESP3
REDIS_INFO_GET_RESP3 = (
    b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n"
    b"+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n"
    b"$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n"
    b"$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n")
# ... and COMMAND DOCS get over RESP2
REDIS_DOCS_GET_RESP2 = (
    b"*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n"
    b"$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n"
    b"$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n")


def test_command_info_and_docs_bytes(private_registry):
    registry.command("get", 2, "readonly fast", acl="string", keys=(1, 1, 1), **GET_SPEC)(lambda c, a: None)
    c = StandIn(3)
    intro.command_info_command(c, [b"command", b"info", b"GET"])
    assert c.reply.take() == REDIS_INFO_GET_RESP3
    c = StandIn(2)
    intro.command_docs_command(c, [b"command", b"docs", b"get", b"nosuch"])
    assert c.reply.take() == REDIS_DOCS_GET_RESP2
    intro.command_info_command(c, [b"command", b"info", b"nosuch", b"get|x"])
    assert c.reply.take() == b"*2\r\n$-1\r\n$-1\r\n"


def test_value_shapes_follow_key_names():
    reply = ReplyBuffer()
    reply.resp = 3
    intro.add_value(reply, {"doc_flags": ["deprecated"], "history": [["6.2.0", "x"]], "n": 3,
                            "arguments": [{"flags": ["optional", "multiple"]}]})
    assert reply.take() == (b"%4\r\n$9\r\ndoc_flags\r\n~1\r\n+deprecated\r\n$7\r\nhistory\r\n~1\r\n*2\r\n$5\r\n6.2.0\r\n"
                            b"$1\r\nx\r\n$1\r\nn\r\n:3\r\n$9\r\narguments\r\n*1\r\n%1\r\n$5\r\nflags\r\n~2\r\n"
                            b"+optional\r\n+multiple\r\n")


def test_container_info_nests_subcommands_and_docs(private_registry):
    registry.container("box", docs={"summary": "A box"})
    registry.command("box|open", 2, "admin", docs={"summary": "Open", "group": "server"})(lambda c, a: None)
    c = StandIn(3)
    intro.add_command_info(c.reply, registry.lookup(b"box"))
    info = c.reply.take()
    assert info.startswith(b"*10\r\n$3\r\nbox\r\n:-2\r\n~0\r\n:0\r\n:0\r\n:0\r\n~1\r\n+@slow\r\n~0\r\n~0\r\n*1\r\n*10\r\n")
    assert info.endswith(b"~0\r\n~0\r\n~0\r\n")        # a subcommand has an empty *set* of subcommands
    intro.add_command_docs(c.reply, registry.lookup(b"box"))
    # 'group' is always present (defaulted), subcommands come last, keyed by full name
    assert c.reply.take() == (b"%3\r\n$7\r\nsummary\r\n$5\r\nA box\r\n$5\r\ngroup\r\n$7\r\ngeneric\r\n"
                              b"$11\r\nsubcommands\r\n%1\r\n$8\r\nbox|open\r\n%2\r\n$7\r\nsummary\r\n$4\r\nOpen\r\n"
                              b"$5\r\ngroup\r\n$6\r\nserver\r\n")


# -- key extraction -------------------------------------------------------------------------------------------
def make_spec(key_specs, arity=-2, flags=0):
    return CommandSpec("t", arity, flags, 0, 0, 0, 0, None, key_specs=key_specs)


def ks(flags, begin, find):
    return {"flags": flags, "begin_search": begin, "find_keys": find}


INDEX1 = {"type": "index", "spec": {"index": 1}}


def test_keys_from_key_specs():
    mset = make_spec([ks(["OW"], INDEX1, {"type": "range", "spec": {"lastkey": -1, "keystep": 2, "limit": 0}})])
    assert intro.keys_from_key_specs(mset, [b"mset", b"a", b"1", b"b", b"2"]) == [(1, ["OW"]), (3, ["OW"])]
    keynum = make_spec([ks(["RW"], {"type": "index", "spec": {"index": 2}},
                           {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}})])
    assert intro.keys_from_key_specs(keynum, [b"eval", b"s", b"2", b"a", b"b", b"x"]) == [(3, ["RW"]), (4, ["RW"])]
    assert intro.keys_from_key_specs(keynum, [b"eval", b"s", b"3", b"a"]) is None
    assert intro.keys_from_key_specs(keynum, [b"eval", b"s", b"01", b"a"]) is None    # string2ll rules
    xread = make_spec([ks(["RO"], {"type": "keyword", "spec": {"keyword": "STREAMS", "startfrom": 1}},
                          {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 2}})])
    assert intro.keys_from_key_specs(xread, [b"xread", b"streams", b"a", b"b", b"0", b"0"]) == \
        [(2, ["RO"]), (3, ["RO"])]
    backwards = make_spec([ks(["RO"], {"type": "keyword", "spec": {"keyword": "KEYS", "startfrom": -2}},
                              {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}})])
    assert intro.keys_from_key_specs(backwards, [b"m", b"keys", b"x", b"keys", b"k1", b"k2"]) == \
        [(4, ["RO"]), (5, ["RO"])]
    unknown = make_spec([ks(["OW"], {"type": "unknown", "spec": {}}, {"type": "unknown", "spec": {}})])
    assert intro.keys_from_key_specs(unknown, [b"sort", b"a"]) is None


def test_getkeys_errors_and_getkeys_callback(private_registry):
    registry.command("nokeys", -1)(lambda c, a: None)
    registry.command("mv", -2, "movablekeys", getkeys=lambda argv: [(1, ["update", "OW"])],
                     key_specs=[ks(["OW", "variable_flags"], INDEX1,
                                   {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}})])(
        lambda c, a: None)
    c = StandIn(3)
    for argv, expected in [
        ([b"nosuch", b"a"], b"-ERR Invalid command specified\r\n"),
        ([b"nokeys", b"a"], b"-ERR The command has no key arguments\r\n"),
        ([b"mv", b"k", b"v"], b"*1\r\n*2\r\n$1\r\nk\r\n~2\r\n+OW\r\n+update\r\n"),
    ]:
        intro.command_getkeysandflags_command(c, [b"command", b"getkeysandflags"] + argv)
        assert c.reply.take() == expected


def test_command_list_filters(private_registry):
    registry.command("pfadd", -2, "write", acl="hyperloglog")(lambda c, a: None)
    registry.container("config")
    registry.command("config|get", -3, "admin")(lambda c, a: None)
    c = StandIn(2)
    for argv, expected in [
        ([b"FILTERBY", b"ACLCAT", b"HyperLogLog"], b"*1\r\n$5\r\npfadd\r\n"),
        ([b"filterby", b"aclcat", b"@hyperloglog"], b"*0\r\n"),
        ([b"FILTERBY", b"PATTERN", b"CONFIG|g*"], b"*1\r\n$10\r\nconfig|get\r\n"),
        ([b"FILTERBY", b"MODULE", b"x"], b"*0\r\n"),
        ([b"FILTERBY", b"foo", b"x"], b"-ERR syntax error\r\n"),
        ([b"x"], b"-ERR syntax error\r\n"),
        ([], b"*3\r\n$5\r\npfadd\r\n$6\r\nconfig\r\n$10\r\nconfig|get\r\n"),
    ]:
        intro.command_list_command(c, [b"command", b"list"] + argv)
        assert c.reply.take() == expected, argv


# -- specgen formatting ---------------------------------------------------------------------------------------
def test_pretty_output_is_the_same_literal():
    value = {"summary": "word " * 40, "arguments": [{"name": "a" * 50, "flags": ["optional"]}] * 3, "n": 1}
    text = specgen.pretty(value, 4, len("docs="))
    assert all(len(line) <= specgen.WIDTH for line in text.splitlines())
    assert ast.literal_eval(text) == value


def test_explicit_acl_leaves_out_implicit_categories():
    info = specgen.CommandInfo.__new__(specgen.CommandInfo)
    info.name, info.hidden_flags = "keys", []
    info.flags, info.acl = ["readonly"], ["@keyspace", "@read", "@slow", "@dangerous"]
    assert specgen.explicit_acl(info) == "keyspace dangerous"
    info.flags, info.acl = ["admin", "noscript"], ["@admin", "@slow", "@dangerous"]
    assert specgen.explicit_acl(info) == ""
