"""Sorted-set commands (redis 7.0 t_zset.c), on the ``ZSetValue`` type (engine/types/zset.py).

Ranges, counts and pops run in the Cython skiplist core; this layer parses arguments in Redis's order
(so the first error reported is Redis's) and shapes the replies for RESP2 and RESP3.
"""
import math
import random

from engine import blocking
from engine.core import WRONGTYPE, SYNTAX_ERR, NOT_INTEGER, NOT_FLOAT
from engine.registry import command
from engine.notify import notify
from engine.types.zset import ZSetValue, new_zset, build_zset, limits
from engine.types.set import SetValue, IntSetValue, SmallSetValue
from engine.types.zskiplist import parse_score, parse_score_bound, parse_lex_bound, format_score
from engine.commands._scan import parse_cursor, parse_options, reply_whole_collection, reply_cursor_batch, ScanArgs, EMPTY_SCAN
from protocol.resp import parse_ll

LONG_MAX = (1 << 63) - 1
NAN_ERR = b"ERR resulting score is not a number (NaN)"
RANGE_NOT_FLOAT = b"ERR min or max is not a float"
LEX_RANGE_ERR = b"ERR min or max not valid string range item"
EMPTY_ARRAY = b"*0\r\n"


# ---------------------------------------------------------------------------------------------------------------
# shared helpers (also used by geo and sort)
# ---------------------------------------------------------------------------------------------------------------
def config_of(c):
    return c.server.config if c.server is not None else None


def zset_for_read(c, key):
    """(ok, value or None); replies WRONGTYPE when the key holds another type."""
    e = c.db.lookup_read(key)
    if e is None:
        return True, None
    if type(e.value) is not ZSetValue:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def zset_for_write(c, key):
    e = c.db.lookup_write(key)
    if e is None:
        return True, None
    if type(e.value) is not ZSetValue:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def signal_ready(c, key):
    """Wake clients blocked on key (engine/blocking.py)."""
    blocking.signal_key_ready(c, key)


def delete_if_empty(c, key, zs):
    if len(zs) == 0:
        c.db.delete(key)
        notify(c, "g", b"del", key)
        return True
    return False


def store_result(c, dstkey, zs, event):
    """setKey + reply of the STORE commands: an empty result deletes the destination."""
    if zs is not None and len(zs):
        c.db.set_value(dstkey, zs)
        c.reply.add_int(len(zs))
        notify(c, "z", event, dstkey)
        signal_ready(c, dstkey)
        c.dirty += 1
    else:
        c.reply.add_int(0)
        if c.db.lookup_write(dstkey) is not None:
            c.db.delete(dstkey)
            notify(c, "g", b"del", dstkey)
            c.dirty += 1


def reply_items(c, items, withscores):
    """Members, or member/score pairs (flat in RESP2, nested pairs in RESP3)."""
    r = c.reply
    if not withscores:
        r.add_array_len(len(items))
        for member, _ in items:
            r.add_bulk(member)
    elif r.resp >= 3:
        r.add_array_len(len(items))
        for member, score in items:
            r.add_array_len(2)
            r.add_bulk(member)
            r.add_double(score)
    else:
        r.add_array_len(len(items) * 2)
        for member, score in items:
            r.add_bulk(member)
            r.add_double(score)


def parse_long(c, arg, message=None):
    """getLongFromObjectOrReply: the value, or None after replying."""
    v = parse_ll(arg)
    if v is None:
        c.error(b"ERR " + message if message else NOT_INTEGER)
    return v


def parse_range_long(c, arg, lo, hi, message=None):
    """getRangeLongFromObjectOrReply."""
    v = parse_ll(arg)
    if v is None:
        c.error(b"ERR " + message if message else NOT_INTEGER)
        return None
    if v < lo or v > hi:
        c.error(b"ERR " + message if message else
                b"ERR value is out of range, value must between %d and %d" % (lo, hi))
        return None
    return v


def parse_score_range(c, lo_arg, hi_arg):
    """zslParseRange: ((min, min_ex), (max, max_ex)) or None after replying."""
    try:
        return parse_score_bound(lo_arg), parse_score_bound(hi_arg)
    except ValueError:
        c.error(RANGE_NOT_FLOAT)
        return None


def parse_lex_range(c, lo_arg, hi_arg):
    try:
        return parse_lex_bound(lo_arg), parse_lex_bound(hi_arg)
    except ValueError:
        c.error(LEX_RANGE_ERR)
        return None


def normalize_ranks(start, end, length):
    """Redis's rank sanitising: (start, end) inclusive, or None for an empty range."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    if start < 0:
        start = 0
    if start > end or start >= length:
        return None
    if end >= length:
        end = length - 1
    return start, end


# ---------------------------------------------------------------------------------------------------------------
# ZADD / ZINCRBY
# ---------------------------------------------------------------------------------------------------------------
def zadd_generic(c, argv, incr):
    nx = xx = gt = lt = ch = False
    scoreidx = 2
    while scoreidx < len(argv):
        opt = argv[scoreidx].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt == b"ch":
            ch = True
        elif opt == b"incr":
            incr = True
        elif opt == b"gt":
            gt = True
        elif opt == b"lt":
            lt = True
        else:
            break
        scoreidx += 1
    elements = len(argv) - scoreidx
    if elements % 2 or not elements:
        c.error(SYNTAX_ERR)
        return
    elements //= 2
    if nx and xx:
        c.error(b"ERR XX and NX options at the same time are not compatible")
        return
    if (gt and nx) or (lt and nx) or (gt and lt):
        c.error(b"ERR GT, LT, and/or NX options at the same time are not compatible")
        return
    if incr and elements > 1:
        c.error(b"ERR INCR option supports a single increment-element pair")
        return
    scores = []
    for j in range(elements):
        try:
            scores.append(parse_score(argv[scoreidx + j * 2]))
        except ValueError:
            c.error(NOT_FLOAT)
            return
    key = argv[1]
    ok, zs = zset_for_write(c, key)
    if not ok:
        return
    added = updated = processed = 0
    score = 0.0
    if zs is None:
        if xx:
            reply_zadd(c, incr, ch, processed, score, added, updated)
            return
        config = config_of(c)
        zs = new_zset(config, len(argv[scoreidx + 1]))
        c.db.add(key, zs)
        signal_ready(c, key)
    config = config_of(c)
    for j in range(elements):
        score = scores[j]
        member = argv[scoreidx + j * 2 + 1]
        cur = zs.score(member)
        if cur is not None:
            if nx:
                continue
            if incr:
                score += cur
                if math.isnan(score):
                    finish_zadd(c, key, incr, added, updated)
                    c.error(NAN_ERR)
                    return
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            if score != cur:
                zs.insert(member, score, config)
                updated += 1
            processed += 1
        elif not xx:
            zs.insert(member, score, config)
            added += 1
            processed += 1
    c.dirty += added + updated
    reply_zadd(c, incr, ch, processed, score, added, updated)
    finish_zadd(c, key, incr, added, updated)


def reply_zadd(c, incr, ch, processed, score, added, updated):
    if incr:
        if processed:
            c.reply.add_double(score)
        else:
            c.reply.add_null()
    else:
        c.reply.add_int(added + updated if ch else added)


def finish_zadd(c, key, incr, added, updated):
    if added or updated:
        notify(c, "z", b"zincr" if incr else b"zadd", key)


@command(
    "zadd", -4, "write denyoom fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Add one or more members to a sorted set, or update its score if it already exists",
        "since": "1.2.0",
        "group": "sorted-set",
        "complexity": "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        "history": [
            ["2.4.0", "Accepts multiple elements."],
            ["3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."],
            ["6.2.0", "Added the `GT` and `LT` options."],
        ],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "condition",
                "type": "oneof",
                "since": "3.0.2",
                "flags": ["optional"],
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                ],
            },
            {
                "name": "comparison",
                "type": "oneof",
                "since": "6.2.0",
                "flags": ["optional"],
                "arguments": [
                    {"name": "gt", "type": "pure-token", "token": "GT"},
                    {"name": "lt", "type": "pure-token", "token": "LT"},
                ],
            },
            {"name": "change", "type": "pure-token", "token": "CH", "since": "3.0.2", "flags": ["optional"]},
            {
                "name": "increment",
                "type": "pure-token",
                "token": "INCR",
                "since": "3.0.2",
                "flags": ["optional"],
            },
            {
                "name": "score_member",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [{"name": "score", "type": "double"}, {"name": "member", "type": "string"}],
            },
        ],
    },
)
def zadd_command(c, argv):
    zadd_generic(c, argv, False)


@command(
    "zincrby", 4, "write denyoom fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Increment the score of a member in a sorted set",
        "since": "1.2.0",
        "group": "sorted-set",
        "complexity": "O(log(N)) where N is the number of elements in the sorted set.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "increment", "type": "integer"},
            {"name": "member", "type": "string"},
        ],
    },
)
def zincrby_command(c, argv):
    zadd_generic(c, argv, True)


# ---------------------------------------------------------------------------------------------------------------
# point reads and removals
# ---------------------------------------------------------------------------------------------------------------
@command(
    "zrem", -3, "write fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove one or more members from a sorted set",
        "since": "1.2.0",
        "group": "sorted-set",
        "complexity": (
            "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements "
            "to be removed."
        ),
        "history": [["2.4.0", "Accepts multiple elements."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def zrem_command(c, argv):
    key = argv[1]
    ok, zs = zset_for_write(c, key)
    if not ok:
        return
    if zs is None:
        c.reply.add_int(0)
        return
    deleted = 0
    removed_key = False
    for member in argv[2:]:
        if zs.remove(member):
            deleted += 1
            if len(zs) == 0:
                c.db.delete(key)
                removed_key = True
                break
    if deleted:
        notify(c, "z", b"zrem", key)
        if removed_key:
            notify(c, "g", b"del", key)
        c.dirty += deleted
    c.reply.add_int(deleted)


@command(
    "zcard", 2, "readonly fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the number of members in a sorted set",
        "since": "1.2.0",
        "group": "sorted-set",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def zcard_command(c, argv):
    ok, zs = zset_for_read(c, argv[1])
    if ok:
        c.reply.add_int(0 if zs is None else len(zs))


@command(
    "zscore", 3, "readonly fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the score associated with the given member in a sorted set",
        "since": "1.2.0",
        "group": "sorted-set",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string"},
        ],
    },
)
def zscore_command(c, argv):
    ok, zs = zset_for_read(c, argv[1])
    if not ok:
        return
    score = None if zs is None else zs.score(argv[2])
    if score is None:
        c.reply.add_null()
    else:
        c.reply.add_double(score)


@command(
    "zmscore", -3, "readonly fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the score associated with the given members in a sorted set",
        "since": "6.2.0",
        "group": "sorted-set",
        "complexity": "O(N) where N is the number of members being requested.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def zmscore_command(c, argv):
    ok, zs = zset_for_read(c, argv[1])
    if not ok:
        return
    c.reply.add_array_len(len(argv) - 2)
    for member in argv[2:]:
        score = None if zs is None else zs.score(member)
        if score is None:
            c.reply.add_null()
        else:
            c.reply.add_double(score)


def zrank_generic(c, argv, reverse):
    ok, zs = zset_for_read(c, argv[1])
    if not ok:
        return
    rank = None if zs is None else zs.rank(argv[2], reverse)
    if rank is None:
        c.reply.add_null()
    else:
        c.reply.add_int(rank)


@command(
    "zrank", 3, "readonly fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Determine the index of a member in a sorted set",
        "since": "2.0.0",
        "group": "sorted-set",
        "complexity": "O(log(N))",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string"},
        ],
    },
)
def zrank_command(c, argv):
    zrank_generic(c, argv, False)


@command(
    "zrevrank", 3, "readonly fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Determine the index of a member in a sorted set, with scores ordered from high to low",
        "since": "2.0.0",
        "group": "sorted-set",
        "complexity": "O(log(N))",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string"},
        ],
    },
)
def zrevrank_command(c, argv):
    zrank_generic(c, argv, True)


@command(
    "zcount", 4, "readonly fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Count the members in a sorted set with scores within the given values",
        "since": "2.0.0",
        "group": "sorted-set",
        "complexity": "O(log(N)) with N being the number of elements in the sorted set.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "min", "type": "double"},
            {"name": "max", "type": "double"},
        ],
    },
)
def zcount_command(c, argv):
    rng = parse_score_range(c, argv[2], argv[3])
    if rng is None:
        return
    ok, zs = zset_for_read(c, argv[1])
    if not ok:
        return
    if zs is None:
        c.reply.add_int(0)
        return
    (lo, lo_ex), (hi, hi_ex) = rng
    c.reply.add_int(zs.count_in_score_range(lo, hi, lo_ex, hi_ex))


@command(
    "zlexcount", 4, "readonly fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Count the number of members in a sorted set between a given lexicographical range",
        "since": "2.8.9",
        "group": "sorted-set",
        "complexity": "O(log(N)) with N being the number of elements in the sorted set.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "min", "type": "string"},
            {"name": "max", "type": "string"},
        ],
    },
)
def zlexcount_command(c, argv):
    rng = parse_lex_range(c, argv[2], argv[3])
    if rng is None:
        return
    ok, zs = zset_for_read(c, argv[1])
    if not ok:
        return
    c.reply.add_int(0 if zs is None else zs.count_in_lex_range(rng[0], rng[1]))


# ---------------------------------------------------------------------------------------------------------------
# ZRANGE and friends (zrangeGenericCommand)
# ---------------------------------------------------------------------------------------------------------------
RANK, SCORE, LEX = 0, 1, 2


def zrange_generic(c, argv, argc_start, dstkey, rangetype, reverse):
    """rangetype/reverse None = decided by the BYSCORE/BYLEX/REV options (ZRANGE, ZRANGESTORE)."""
    key = argv[argc_start]
    minidx, maxidx = argc_start + 1, argc_start + 2
    store = dstkey is not None
    withscores = False
    offset, limit = 0, -1
    limit_given = False
    auto_type = rangetype is None
    auto_dir = reverse is None
    j = argc_start + 3
    while j < len(argv):
        opt = argv[j].lower()
        left = len(argv) - j - 1
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset = parse_long(c, argv[j + 1])
            if offset is None:
                return
            limit = parse_long(c, argv[j + 2])
            if limit is None:
                return
            limit_given = True
            j += 2
        elif auto_dir and reverse is None and opt == b"rev":
            reverse = True
        elif auto_type and rangetype is None and opt == b"bylex":
            rangetype = LEX
        elif auto_type and rangetype is None and opt == b"byscore":
            rangetype = SCORE
        else:
            c.error(SYNTAX_ERR)
            return
        j += 1
    reverse = bool(reverse)
    if rangetype is None:
        rangetype = RANK
    if limit_given and limit != -1 and rangetype == RANK:
        c.error(b"ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        return
    if withscores and rangetype == LEX:
        c.error(b"ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        return
    if reverse and rangetype != RANK:
        minidx, maxidx = maxidx, minidx
    if rangetype == RANK:
        start = parse_long(c, argv[minidx])
        if start is None:
            return
        end = parse_long(c, argv[maxidx])
        if end is None:
            return
    elif rangetype == SCORE:
        rng = parse_score_range(c, argv[minidx], argv[maxidx])
        if rng is None:
            return
    else:
        rng = parse_lex_range(c, argv[minidx], argv[maxidx])
        if rng is None:
            return
    e = c.db.lookup_read(key)
    if e is None:
        if store:
            store_result(c, dstkey, None, b"zrangestore")
        else:
            c.reply.add_raw(EMPTY_ARRAY)
        return
    zs = e.value
    if type(zs) is not ZSetValue:
        c.error(WRONGTYPE)
        return
    if rangetype == RANK:
        ranks = normalize_ranks(start, end, len(zs))
        items = [] if ranks is None else zs.range_by_rank(ranks[0], ranks[1], reverse)
    elif rangetype == SCORE:
        (lo, lo_ex), (hi, hi_ex) = rng
        items = zs.range_by_score(lo, hi, lo_ex, hi_ex, reverse, offset, limit)
    else:
        items = zs.range_by_lex(rng[0], rng[1], reverse, offset, limit)
    if store:
        config = config_of(c)
        # zrangeResultBeginStore -> zsetTypeCreate(length, 0): a rank range knows its length, so a long one
        # starts as a skiplist (its -0.0 scores stay -0.0); score and lex ranges start as a listpack
        result = ZSetValue.encoded(rangetype == RANK and len(items) > limits(config)[0])
        for member, score in items:
            result.insert(member, score, config)
        store_result(c, dstkey, result, b"zrangestore")
    else:
        reply_items(c, items, withscores)


@command(
    "zrange", -4, "readonly", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Return a range of members in a sorted set",
        "since": "1.2.0",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            "returned."
        ),
        "history": [["6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "start", "type": "string"},
            {"name": "stop", "type": "string"},
            {
                "name": "sortby",
                "type": "oneof",
                "since": "6.2.0",
                "flags": ["optional"],
                "arguments": [
                    {"name": "byscore", "type": "pure-token", "token": "BYSCORE"},
                    {"name": "bylex", "type": "pure-token", "token": "BYLEX"},
                ],
            },
            {"name": "rev", "type": "pure-token", "token": "REV", "since": "6.2.0", "flags": ["optional"]},
            {
                "name": "offset_count",
                "type": "block",
                "token": "LIMIT",
                "since": "6.2.0",
                "flags": ["optional"],
                "arguments": [{"name": "offset", "type": "integer"}, {"name": "count", "type": "integer"}],
            },
            {"name": "withscores", "type": "pure-token", "token": "WITHSCORES", "flags": ["optional"]},
        ],
    },
)
def zrange_command(c, argv):
    zrange_generic(c, argv, 1, None, None, None)


@command(
    "zrangestore", -5, "write denyoom", acl="sortedset", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Store a range of members from sorted set into another key",
        "since": "6.2.0",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            "stored into the destination key."
        ),
        "arguments": [
            {"name": "dst", "type": "key", "key_spec_index": 0},
            {"name": "src", "type": "key", "key_spec_index": 1},
            {"name": "min", "type": "string"},
            {"name": "max", "type": "string"},
            {
                "name": "sortby",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "byscore", "type": "pure-token", "token": "BYSCORE"},
                    {"name": "bylex", "type": "pure-token", "token": "BYLEX"},
                ],
            },
            {"name": "rev", "type": "pure-token", "token": "REV", "flags": ["optional"]},
            {
                "name": "offset_count",
                "type": "block",
                "token": "LIMIT",
                "flags": ["optional"],
                "arguments": [{"name": "offset", "type": "integer"}, {"name": "count", "type": "integer"}],
            },
        ],
    },
)
def zrangestore_command(c, argv):
    zrange_generic(c, argv, 2, argv[1], None, None)


@command(
    "zrevrange", -4, "readonly", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Return a range of members in a sorted set, by index, with scores ordered from high to low"
        ),
        "since": "1.2.0",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            "returned."
        ),
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`ZRANGE` with the `REV` argument",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "start", "type": "integer"},
            {"name": "stop", "type": "integer"},
            {"name": "withscores", "type": "pure-token", "token": "WITHSCORES", "flags": ["optional"]},
        ],
    },
)
def zrevrange_command(c, argv):
    zrange_generic(c, argv, 1, None, RANK, True)


@command(
    "zrangebyscore", -4, "readonly", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Return a range of members in a sorted set, by score",
        "since": "1.0.5",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            "being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you "
            "can consider it O(log(N))."
        ),
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`ZRANGE` with the `BYSCORE` argument",
        "history": [["2.0.0", "Added the `WITHSCORES` modifier."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "min", "type": "double"},
            {"name": "max", "type": "double"},
            {
                "name": "withscores",
                "type": "pure-token",
                "token": "WITHSCORES",
                "since": "2.0.0",
                "flags": ["optional"],
            },
            {
                "name": "offset_count",
                "type": "block",
                "token": "LIMIT",
                "flags": ["optional"],
                "arguments": [{"name": "offset", "type": "integer"}, {"name": "count", "type": "integer"}],
            },
        ],
    },
)
def zrangebyscore_command(c, argv):
    zrange_generic(c, argv, 1, None, SCORE, False)


@command(
    "zrevrangebyscore", -4, "readonly", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Return a range of members in a sorted set, by score, with scores ordered from high to low"
        ),
        "since": "2.2.0",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            "being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you "
            "can consider it O(log(N))."
        ),
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`ZRANGE` with the `REV` and `BYSCORE` arguments",
        "history": [["2.1.6", "`min` and `max` can be exclusive."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "max", "type": "double"},
            {"name": "min", "type": "double"},
            {"name": "withscores", "type": "pure-token", "token": "WITHSCORES", "flags": ["optional"]},
            {
                "name": "offset_count",
                "type": "block",
                "token": "LIMIT",
                "flags": ["optional"],
                "arguments": [{"name": "offset", "type": "integer"}, {"name": "count", "type": "integer"}],
            },
        ],
    },
)
def zrevrangebyscore_command(c, argv):
    zrange_generic(c, argv, 1, None, SCORE, True)


@command(
    "zrangebylex", -4, "readonly", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Return a range of members in a sorted set, by lexicographical range",
        "since": "2.8.9",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            "being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you "
            "can consider it O(log(N))."
        ),
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`ZRANGE` with the `BYLEX` argument",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "min", "type": "string"},
            {"name": "max", "type": "string"},
            {
                "name": "offset_count",
                "type": "block",
                "token": "LIMIT",
                "flags": ["optional"],
                "arguments": [{"name": "offset", "type": "integer"}, {"name": "count", "type": "integer"}],
            },
        ],
    },
)
def zrangebylex_command(c, argv):
    zrange_generic(c, argv, 1, None, LEX, False)


@command(
    "zrevrangebylex", -4, "readonly", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Return a range of members in a sorted set, by lexicographical range, ordered from higher to "
            "lower strings."
        ),
        "since": "2.8.9",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            "being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you "
            "can consider it O(log(N))."
        ),
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`ZRANGE` with the `REV` and `BYLEX` arguments",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "max", "type": "string"},
            {"name": "min", "type": "string"},
            {
                "name": "offset_count",
                "type": "block",
                "token": "LIMIT",
                "flags": ["optional"],
                "arguments": [{"name": "offset", "type": "integer"}, {"name": "count", "type": "integer"}],
            },
        ],
    },
)
def zrevrangebylex_command(c, argv):
    zrange_generic(c, argv, 1, None, LEX, True)


# ---------------------------------------------------------------------------------------------------------------
# ZREMRANGEBY*
# ---------------------------------------------------------------------------------------------------------------
def zremrange_generic(c, argv, rangetype, event):
    key = argv[1]
    if rangetype == RANK:
        start = parse_long(c, argv[2])
        if start is None:
            return
        end = parse_long(c, argv[3])
        if end is None:
            return
    elif rangetype == SCORE:
        rng = parse_score_range(c, argv[2], argv[3])
        if rng is None:
            return
    else:
        rng = parse_lex_range(c, argv[2], argv[3])
        if rng is None:
            return
    ok, zs = zset_for_write(c, key)
    if not ok:
        return
    if zs is None:
        c.reply.add_int(0)
        return
    if rangetype == RANK:
        ranks = normalize_ranks(start, end, len(zs))
        if ranks is None:
            c.reply.add_int(0)
            return
        deleted = len(zs.delete_range_by_rank(ranks[0], ranks[1]))
    elif rangetype == SCORE:
        (lo, lo_ex), (hi, hi_ex) = rng
        deleted = len(zs.delete_range_by_score(lo, hi, lo_ex, hi_ex))
    else:
        deleted = len(zs.delete_range_by_lex(rng[0], rng[1]))
    if deleted:
        notify(c, "z", event, key)
        delete_if_empty(c, key, zs)
    c.dirty += deleted
    c.reply.add_int(deleted)


@command(
    "zremrangebyrank", 4, "write", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove all members in a sorted set within the given indexes",
        "since": "2.0.0",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            "removed by the operation."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "start", "type": "integer"},
            {"name": "stop", "type": "integer"},
        ],
    },
)
def zremrangebyrank_command(c, argv):
    zremrange_generic(c, argv, RANK, b"zremrangebyrank")


@command(
    "zremrangebyscore", 4, "write", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove all members in a sorted set within the given scores",
        "since": "1.2.0",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            "removed by the operation."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "min", "type": "double"},
            {"name": "max", "type": "double"},
        ],
    },
)
def zremrangebyscore_command(c, argv):
    zremrange_generic(c, argv, SCORE, b"zremrangebyscore")


@command(
    "zremrangebylex", 4, "write", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove all members in a sorted set between the given lexicographical range",
        "since": "2.8.9",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements "
            "removed by the operation."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "min", "type": "string"},
            {"name": "max", "type": "string"},
        ],
    },
)
def zremrangebylex_command(c, argv):
    zremrange_generic(c, argv, LEX, b"zremrangebylex")


# ---------------------------------------------------------------------------------------------------------------
# pops (genericZpopCommand) and their blocking forms
# ---------------------------------------------------------------------------------------------------------------
def find_pop_candidate(c, keys):
    """The first existing key of keys: (ok, key, zset); ok False after a WRONGTYPE reply."""
    for key in keys:
        e = c.db.lookup_write(key)
        if e is None:
            continue
        if type(e.value) is not ZSetValue:
            c.error(WRONGTYPE)
            return False, None, None
        return True, key, e.value
    return True, None, None


def pop_and_reply(c, key, zs, use_max, count, emitkey, nested):
    """Pop up to count elements of a non-empty zset and reply in the shape of the calling command."""
    items = zs.pop_max(count) if use_max else zs.pop_min(count)
    r = c.reply
    if not nested and not emitkey:
        r.add_array_len(len(items) * 2)
    elif nested and not emitkey:
        r.add_array_len(len(items))
    elif not nested and emitkey:
        r.add_array_len(len(items) * 2 + 1)
        r.add_bulk(key)
    else:
        r.add_array_len(2)
        r.add_bulk(key)
        r.add_array_len(len(items))
    for member, score in items:
        if nested:
            r.add_array_len(2)
        r.add_bulk(member)
        r.add_double(score)
    c.dirty += len(items)
    notify(c, "z", b"zpopmax" if use_max else b"zpopmin", key)
    delete_if_empty(c, key, zs)
    return items


def zpop_minmax(c, argv, use_max):
    if len(argv) > 3:
        c.error(SYNTAX_ERR)
        return
    count = -1
    if len(argv) == 3:
        count = parse_range_long(c, argv[2], 0, LONG_MAX, b"value is out of range, must be positive")
        if count is None:
            return
    ok, key, zs = find_pop_candidate(c, argv[1:2])
    if not ok:
        return
    if zs is None or count == 0:
        c.reply.add_raw(EMPTY_ARRAY)
        return
    nested = c.reply.resp >= 3 and len(argv) == 3
    pop_and_reply(c, key, zs, use_max, 1 if count == -1 else count, False, nested)


@command(
    "zpopmin", -2, "write fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove and return members with the lowest scores in a sorted set",
        "since": "5.0.0",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of "
            "elements popped."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "count", "type": "integer", "flags": ["optional"]},
        ],
    },
)
def zpopmin_command(c, argv):
    zpop_minmax(c, argv, False)


@command(
    "zpopmax", -2, "write fast", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove and return members with the highest scores in a sorted set",
        "since": "5.0.0",
        "group": "sorted-set",
        "complexity": (
            "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of "
            "elements popped."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "count", "type": "integer", "flags": ["optional"]},
        ],
    },
)
def zpopmax_command(c, argv):
    zpop_minmax(c, argv, True)


def parse_mpop(c, argv, numkeys_idx):
    """ZMPOP/BZMPOP arguments: (keys, use_max, count) or None after replying."""
    numkeys = parse_range_long(c, argv[numkeys_idx], 1, LONG_MAX, b"numkeys should be greater than 0")
    if numkeys is None:
        return None
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        c.error(SYNTAX_ERR)
        return None
    where = argv[where_idx].lower()
    if where not in (b"min", b"max"):
        c.error(SYNTAX_ERR)
        return None
    count = -1
    j = where_idx + 1
    while j < len(argv):
        if count == -1 and argv[j].lower() == b"count" and len(argv) - 1 - j > 0:
            j += 1
            count = parse_range_long(c, argv[j], 1, LONG_MAX, b"count should be greater than 0")
            if count is None:
                return None
        else:
            c.error(SYNTAX_ERR)
            return None
        j += 1
    return argv[numkeys_idx + 1:where_idx], where == b"max", (1 if count == -1 else count)


@command(
    "zmpop", -4, "write movablekeys", acl="sortedset",
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Remove and return members with scores in a sorted set",
        "since": "7.0.0",
        "group": "sorted-set",
        "complexity": (
            "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in "
            "the sorted set, and M being the number of elements popped."
        ),
        "arguments": [
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {
                "name": "where",
                "type": "oneof",
                "arguments": [
                    {"name": "min", "type": "pure-token", "token": "MIN"},
                    {"name": "max", "type": "pure-token", "token": "MAX"},
                ],
            },
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
        ],
    },
)
def zmpop_command(c, argv):
    parsed = parse_mpop(c, argv, 1)
    if parsed is None:
        return
    keys, use_max, count = parsed
    ok, key, zs = find_pop_candidate(c, keys)
    if not ok:
        return
    if zs is None:
        c.reply.add_null_array()
        return
    pop_and_reply(c, key, zs, use_max, count, True, True)
    c.propagate_as([b"ZPOPMAX" if use_max else b"ZPOPMIN", key, b"%d" % count])


def blocking_pop(c, argv, keys, timeout_ms, use_max, count, mpop):
    """Serve at once when a key has elements; otherwise block (engine/blocking.py) or, inside
    MULTI/scripts, answer a null array as if the timeout had expired."""
    ok, key, zs = find_pop_candidate(c, keys)
    if not ok:
        return
    if zs is not None:
        if mpop:
            pop_and_reply(c, key, zs, use_max, count, True, True)
            c.propagate_as([b"ZPOPMAX" if use_max else b"ZPOPMIN", key, b"%d" % count])
        else:
            pop_and_reply(c, key, zs, use_max, 1, True, False)
            c.propagate_as([b"ZPOPMAX" if use_max else b"ZPOPMIN", key])
        return
    if c.deny_blocking:
        c.reply.add_null_array()
        return
    blocking.block(c, keys, timeout_ms, argv)


def bzpop_minmax(c, argv, use_max):
    timeout = blocking.parse_timeout(c, argv[-1])
    if timeout is None:
        return
    blocking_pop(c, argv, argv[1:-1], timeout, use_max, 1, False)


@command(
    "bzpopmin", -3, "write noscript blocking fast", acl="sortedset", keys=(1, -2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -2, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Remove and return the member with the lowest score from one or more sorted sets, or block until "
            "one is available"
        ),
        "since": "5.0.0",
        "group": "sorted-set",
        "complexity": "O(log(N)) with N being the number of elements in the sorted set.",
        "history": [["6.0.0", "`timeout` is interpreted as a double instead of an integer."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {"name": "timeout", "type": "double"},
        ],
    },
)
def bzpopmin_command(c, argv):
    bzpop_minmax(c, argv, False)


@command(
    "bzpopmax", -3, "write noscript blocking fast", acl="sortedset", keys=(1, -2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -2, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Remove and return the member with the highest score from one or more sorted sets, or block "
            "until one is available"
        ),
        "since": "5.0.0",
        "group": "sorted-set",
        "complexity": "O(log(N)) with N being the number of elements in the sorted set.",
        "history": [["6.0.0", "`timeout` is interpreted as a double instead of an integer."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {"name": "timeout", "type": "double"},
        ],
    },
)
def bzpopmax_command(c, argv):
    bzpop_minmax(c, argv, True)


@command(
    "bzmpop", -5, "write blocking movablekeys", acl="sortedset",
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Remove and return members with scores in a sorted set or block until one is available",
        "since": "7.0.0",
        "group": "sorted-set",
        "complexity": (
            "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in "
            "the sorted set, and M being the number of elements popped."
        ),
        "arguments": [
            {"name": "timeout", "type": "double"},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {
                "name": "where",
                "type": "oneof",
                "arguments": [
                    {"name": "min", "type": "pure-token", "token": "MIN"},
                    {"name": "max", "type": "pure-token", "token": "MAX"},
                ],
            },
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
        ],
    },
)
def bzmpop_command(c, argv):
    timeout = blocking.parse_timeout(c, argv[1])
    if timeout is None:
        return
    parsed = parse_mpop(c, argv, 2)
    if parsed is None:
        return
    keys, use_max, count = parsed
    blocking_pop(c, argv, keys, timeout, use_max, count, True)


# ---------------------------------------------------------------------------------------------------------------
# ZUNION / ZINTER / ZDIFF (+STORE), ZINTERCARD
# ---------------------------------------------------------------------------------------------------------------
UNION, INTER, DIFF = 0, 1, 2


class Source:
    """One input of a set operation: a zset, a plain set (every score 1), or nothing."""
    __slots__ = ("value", "weight")

    def __init__(self, value):
        self.value = value
        self.weight = 1.0

    def __len__(self):
        return 0 if self.value is None else len(self.value)

    def items(self):
        v = self.value
        if v is None:
            return []
        if type(v) is ZSetValue:
            return v.items()
        return [(m, 1.0) for m in (v.ordered() if hasattr(v, "ordered") else v)]

    def score(self, member):
        v = self.value
        if v is None:
            return None
        if type(v) is ZSetValue:
            return v.score(member)
        return 1.0 if member in v else None


def aggregate(target, value, how):
    if how == b"sum":
        target += value
        return 0.0 if math.isnan(target) else target
    if how == b"min":
        return value if value < target else target
    return value if value > target else target


def weighted(score, weight):
    v = score * weight
    return 0.0 if math.isnan(v) else v


def zsetop_generic(c, argv, dstkey, numkeys_idx, op, cardinality_only=False):
    setnum = parse_long(c, argv[numkeys_idx])
    if setnum is None:
        return
    if setnum < 1:
        c.error(b"ERR at least 1 input key is needed for '" + c.cmd.name_bytes + b"' command")
        return
    if setnum > len(argv) - (numkeys_idx + 1):
        c.error(SYNTAX_ERR)
        return
    sources = []
    j = numkeys_idx + 1
    for _ in range(setnum):
        e = c.db.lookup_read(argv[j])    # the *STORE variants too (redis 7.0: keyspace_misses, "keymiss")
        if e is not None and type(e.value) is not ZSetValue and type(e.value) is not SetValue \
                and type(e.value) is not IntSetValue and type(e.value) is not SmallSetValue:
            c.error(WRONGTYPE)
            return
        sources.append(Source(None if e is None else e.value))
        j += 1
    how = b"sum"
    withscores = False
    limit = 0
    while j < len(argv):
        remaining = len(argv) - j
        opt = argv[j].lower()
        if op != DIFF and not cardinality_only and remaining >= setnum + 1 and opt == b"weights":
            j += 1
            for src in sources:
                try:
                    src.weight = parse_score(argv[j])
                except ValueError:
                    c.error(b"ERR weight value is not a float")
                    return
                j += 1
        elif op != DIFF and not cardinality_only and remaining >= 2 and opt == b"aggregate":
            how = argv[j + 1].lower()
            if how not in (b"sum", b"min", b"max"):
                c.error(SYNTAX_ERR)
                return
            j += 2
        elif remaining >= 1 and dstkey is None and not cardinality_only and opt == b"withscores":
            withscores = True
            j += 1
        elif cardinality_only and remaining >= 2 and opt == b"limit":
            limit = parse_ll(argv[j + 1])
            if limit is None or limit < 0:
                c.error(b"ERR LIMIT can't be negative")
                return
            j += 2
        else:
            c.error(SYNTAX_ERR)
            return
    if op != DIFF:
        # redis sorts the inputs by cardinality (smallest first): it fixes the summation order
        sources.sort(key=len)
    result = {}
    if op == UNION:
        for src in sources:
            for member, score in src.items():
                value = weighted(score, src.weight)
                old = result.get(member)
                result[member] = value if old is None else aggregate(old, value, how)
    elif op == INTER:
        first = sources[0]
        for member, score in first.items():
            value = weighted(score, first.weight)
            for other in sources[1:]:
                if other.value is first.value:
                    value = aggregate(value, weighted(score, other.weight), how)
                    continue
                s = other.score(member)
                if s is None:
                    break
                value = aggregate(value, weighted(s, other.weight), how)
            else:
                result[member] = value
                if cardinality_only and limit and len(result) >= limit:
                    break
    else:
        others = sources[1:]
        for member, score in sources[0].items():
            if not any(o.score(member) is not None for o in others):
                result[member] = score
    if cardinality_only:
        c.reply.add_int(len(result))
        return
    zs = build_zset(config_of(c), result.items())
    if dstkey is not None:
        event = (b"zunionstore", b"zinterstore", b"zdiffstore")[op]
        store_result(c, dstkey, zs, event)
    else:
        reply_items(c, zs.items(), withscores)


@command(
    "zunionstore", -4, "write denyoom movablekeys", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Add multiple sorted sets and store the resulting sorted set in a new key",
        "since": "2.0.0",
        "group": "sorted-set",
        "complexity": (
            "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the "
            "number of elements in the resulting sorted set."
        ),
        "arguments": [
            {"name": "destination", "type": "key", "key_spec_index": 0},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 1, "flags": ["multiple"]},
            {"name": "weight", "type": "integer", "token": "WEIGHTS", "flags": ["optional", "multiple"]},
            {
                "name": "aggregate",
                "type": "oneof",
                "token": "AGGREGATE",
                "flags": ["optional"],
                "arguments": [
                    {"name": "sum", "type": "pure-token", "token": "SUM"},
                    {"name": "min", "type": "pure-token", "token": "MIN"},
                    {"name": "max", "type": "pure-token", "token": "MAX"},
                ],
            },
        ],
    },
)
def zunionstore_command(c, argv):
    zsetop_generic(c, argv, argv[1], 2, UNION)


@command(
    "zinterstore", -4, "write denyoom movablekeys", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        "since": "2.0.0",
        "group": "sorted-set",
        "complexity": (
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of "
            "input sorted sets and M being the number of elements in the resulting sorted set."
        ),
        "arguments": [
            {"name": "destination", "type": "key", "key_spec_index": 0},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 1, "flags": ["multiple"]},
            {"name": "weight", "type": "integer", "token": "WEIGHTS", "flags": ["optional", "multiple"]},
            {
                "name": "aggregate",
                "type": "oneof",
                "token": "AGGREGATE",
                "flags": ["optional"],
                "arguments": [
                    {"name": "sum", "type": "pure-token", "token": "SUM"},
                    {"name": "min", "type": "pure-token", "token": "MIN"},
                    {"name": "max", "type": "pure-token", "token": "MAX"},
                ],
            },
        ],
    },
)
def zinterstore_command(c, argv):
    zsetop_generic(c, argv, argv[1], 2, INTER)


@command(
    "zdiffstore", -4, "write denyoom movablekeys", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        "since": "6.2.0",
        "group": "sorted-set",
        "complexity": (
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the "
            "size of the first set, and K is the size of the result set."
        ),
        "arguments": [
            {"name": "destination", "type": "key", "key_spec_index": 0},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 1, "flags": ["multiple"]},
        ],
    },
)
def zdiffstore_command(c, argv):
    zsetop_generic(c, argv, argv[1], 2, DIFF)


@command(
    "zunion", -3, "readonly movablekeys", acl="sortedset",
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Add multiple sorted sets",
        "since": "6.2.0",
        "group": "sorted-set",
        "complexity": (
            "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the "
            "number of elements in the resulting sorted set."
        ),
        "arguments": [
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {"name": "weight", "type": "integer", "token": "WEIGHTS", "flags": ["optional", "multiple"]},
            {
                "name": "aggregate",
                "type": "oneof",
                "token": "AGGREGATE",
                "flags": ["optional"],
                "arguments": [
                    {"name": "sum", "type": "pure-token", "token": "SUM"},
                    {"name": "min", "type": "pure-token", "token": "MIN"},
                    {"name": "max", "type": "pure-token", "token": "MAX"},
                ],
            },
            {"name": "withscores", "type": "pure-token", "token": "WITHSCORES", "flags": ["optional"]},
        ],
    },
)
def zunion_command(c, argv):
    zsetop_generic(c, argv, None, 1, UNION)


@command(
    "zinter", -3, "readonly movablekeys", acl="sortedset",
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Intersect multiple sorted sets",
        "since": "6.2.0",
        "group": "sorted-set",
        "complexity": (
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of "
            "input sorted sets and M being the number of elements in the resulting sorted set."
        ),
        "arguments": [
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {"name": "weight", "type": "integer", "token": "WEIGHTS", "flags": ["optional", "multiple"]},
            {
                "name": "aggregate",
                "type": "oneof",
                "token": "AGGREGATE",
                "flags": ["optional"],
                "arguments": [
                    {"name": "sum", "type": "pure-token", "token": "SUM"},
                    {"name": "min", "type": "pure-token", "token": "MIN"},
                    {"name": "max", "type": "pure-token", "token": "MAX"},
                ],
            },
            {"name": "withscores", "type": "pure-token", "token": "WITHSCORES", "flags": ["optional"]},
        ],
    },
)
def zinter_command(c, argv):
    zsetop_generic(c, argv, None, 1, INTER)


@command(
    "zdiff", -3, "readonly movablekeys", acl="sortedset",
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Subtract multiple sorted sets",
        "since": "6.2.0",
        "group": "sorted-set",
        "complexity": (
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the "
            "size of the first set, and K is the size of the result set."
        ),
        "arguments": [
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {"name": "withscores", "type": "pure-token", "token": "WITHSCORES", "flags": ["optional"]},
        ],
    },
)
def zdiff_command(c, argv):
    zsetop_generic(c, argv, None, 1, DIFF)


@command(
    "zintercard", -3, "readonly movablekeys", acl="sortedset",
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Intersect multiple sorted sets and return the cardinality of the result",
        "since": "7.0.0",
        "group": "sorted-set",
        "complexity": (
            "O(N*K) worst case with N being the smallest input sorted set, K being the number of input "
            "sorted sets."
        ),
        "arguments": [
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {"name": "limit", "type": "integer", "token": "LIMIT", "flags": ["optional"]},
        ],
    },
)
def zintercard_command(c, argv):
    zsetop_generic(c, argv, None, 1, INTER, cardinality_only=True)


# ---------------------------------------------------------------------------------------------------------------
# ZRANDMEMBER, ZSCAN
# ---------------------------------------------------------------------------------------------------------------
@command(
    "zrandmember", -2, "readonly", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Get one or multiple random elements from a sorted set",
        "since": "6.2.0",
        "group": "sorted-set",
        "complexity": "O(N) where N is the number of elements returned",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "options",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "count", "type": "integer"},
                    {
                        "name": "withscores",
                        "type": "pure-token",
                        "token": "WITHSCORES",
                        "flags": ["optional"],
                    },
                ],
            },
        ],
    },
)
def zrandmember_command(c, argv):
    if len(argv) >= 3:
        count = parse_range_long(c, argv[2], -LONG_MAX, LONG_MAX)
        if count is None:
            return
        withscores = False
        if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withscores"):
            c.error(SYNTAX_ERR)
            return
        if len(argv) == 4:
            withscores = True
            if count < -LONG_MAX // 2 or count > LONG_MAX // 2:
                c.error(b"ERR value is out of range")
                return
        zrandmember_with_count(c, argv[1], count, withscores)
        return
    ok, zs = zset_for_read(c, argv[1])
    if not ok:
        return
    if zs is None:
        c.reply.add_null()
        return
    c.reply.add_bulk(zs.random_members(1, True)[0][0])


def zrandmember_with_count(c, key, count, withscores):
    ok, zs = zset_for_read(c, key)
    if not ok:
        return
    if zs is None or count == 0:
        c.reply.add_raw(EMPTY_ARRAY)
        return
    if count < 0 or count == 1:
        items = zs.random_members(abs(count), True)
    elif count >= len(zs):
        items = zs.items(True)          # redis walks the whole zset from the highest score down
    else:
        items = zs.random_members(count, False)
        random.shuffle(items)
    reply_items(c, items, withscores)


def zscan_items(zs):
    out = []
    for member, score in zs.items():
        out.append(member)
        out.append(format_score(score))
    return out


@command(
    "zscan", -3, "readonly", acl="sortedset", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Incrementally iterate sorted sets elements and associated scores",
        "since": "2.8.0",
        "group": "sorted-set",
        "complexity": (
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the "
            "cursor to return back to 0. N is the number of elements inside the collection.."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "cursor", "type": "integer"},
            {"name": "pattern", "type": "pattern", "token": "MATCH", "flags": ["optional"]},
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
        ],
    },
)
def zscan_command(c, argv):
    cursor = parse_cursor(c, argv[2])
    if cursor is None:
        return
    ok, zs = zset_for_read(c, argv[1])
    if not ok:
        return
    if zs is None:
        c.reply.add_raw(EMPTY_SCAN)
        return
    args = ScanArgs(cursor)
    if not parse_options(c, argv, 3, args):
        return
    if zs.skiplist:
        scores = zs.scan_dict()

        def score_of(member):
            score = scores.get(member)
            return None if score is None else format_score(score)
        reply_cursor_batch(c, args, zs, scores, score_of)
        return
    reply_whole_collection(c, args, zscan_items(zs), pairs=True)
