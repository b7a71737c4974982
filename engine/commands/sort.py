"""SORT and SORT_RO (redis 7.0 sort.c): sort a list, set or sorted set, numerically or ALPHA, optionally BY
an external key pattern (with ``->field`` hash lookups), with LIMIT, GET patterns and STORE into a list."""
import ctypes
import functools

import engine.core
from engine.core import WRONGTYPE, SYNTAX_ERR, NOT_INTEGER, type_name
from engine.registry import command
from engine.notify import notify
from engine.types.zset import ZSetValue
from engine.types.hashvalue import HashValue
from protocol.resp import parse_ll

_libc = ctypes.CDLL(None, use_errno=True)
_strtod = _libc.strtod
_strtod.restype = ctypes.c_double
_strtod.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
ERANGE = 34


def sort_score(text):
    """The numeric weight SORT reads with strtod: None when it is not a whole, finite-range double."""
    end = ctypes.c_char_p()
    ctypes.set_errno(0)
    value = _strtod(text, ctypes.byref(end))
    if end.value is None or end.value != b"" or ctypes.get_errno() == ERANGE or value != value:
        return None
    return value


def lookup_by_pattern(db, pattern, subst):
    """lookupKeyByPattern: '#' is the element itself; the first '*' is replaced by the element; a '->field'
    after it reads a hash field. None when the key (or field) is missing or of the wrong type."""
    if pattern == b"#":
        return subst
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2:]
        key = pattern[:star] + subst + pattern[star + 1:arrow]
    else:
        key = pattern[:star] + subst + pattern[star + 1:]
    e = db.lookup_read(key)
    if e is None:
        return None
    value = e.value
    if field is not None:
        if not isinstance(value, (dict, HashValue)):
            return None
        return value.get(field)
    return value if type(value) is bytes else None


def elements_of(value):
    """The elements of a list/set/zset value in its natural order."""
    if type(value) is ZSetValue:
        return value.members()
    if hasattr(value, "ordered"):
        return value.ordered()
    return list(value)


def new_list(items):
    """A list value built by the list type registered as b"list" (through its from_rdb constructor)."""
    for pytype, name in engine.core.TYPE_NAMES.items():
        if name == b"list":
            try:
                return pytype.from_rdb("list", items)
            except TypeError:
                return pytype.from_rdb("list", items, None)
    raise RuntimeError("no list value type is registered")


def unrestricted_read_access(c, argv):
    """Whether the client's user may read any key with this command (SORT BY/GET patterns name other keys)."""
    user = getattr(c, "acl_user", None)
    if user is None or user.unrestricted:
        return True
    from engine.acl import user_has_unrestricted_key_access
    return user_has_unrestricted_key_access(user, c.cmd, argv, 1)


def sort_generic(c, argv, readonly):
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    sortby = storekey = None
    getops = []
    j = 2
    argc = len(argv)
    full_access = None      # redis: ACLUserCheckCmdWithUnrestrictedKeyAccess(..., CMD_KEY_ACCESS), asked once
    while j < argc:
        left = argc - j - 1
        opt = argv[j].lower()
        if opt in (b"by", b"get") and left >= 1 and full_access is None:
            full_access = unrestricted_read_access(c, argv)
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            limit_start = parse_ll(argv[j + 1])
            limit_count = None if limit_start is None else parse_ll(argv[j + 2])
            if limit_start is None or limit_count is None:
                c.error(NOT_INTEGER)
                return
            j += 2
        elif not readonly and opt == b"store" and left >= 1:
            storekey = argv[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            sortby = argv[j + 1]
            if b"*" not in sortby:
                dontsort = True
            elif not full_access:
                c.error(b"ERR BY option of SORT denied due to insufficient ACL permissions.")
                return
            j += 1
        elif opt == b"get" and left >= 1:
            if not full_access:
                c.error(b"ERR GET option of SORT denied due to insufficient ACL permissions.")
                return
            getops.append(argv[j + 1])
            j += 1
        else:
            c.error(SYNTAX_ERR)
            return
        j += 1
    e = c.db.lookup_read(argv[1])
    value = None if e is None else e.value
    kind = None if value is None else type_name(value)
    if kind is not None and kind not in (b"set", b"list", b"zset"):
        c.error(WRONGTYPE)
        return
    if dontsort and kind == b"set" and storekey is not None:
        # a set has no order of its own: what is stored must not depend on it
        dontsort, alpha, sortby = False, True, None
    if kind == b"zset":
        value.skiplist = True         # redis converts a sorted set to a skiplist for SORT, for good
    items = [] if value is None else elements_of(value)
    vectorlen = len(items)
    start = 0 if limit_start < 0 else limit_start
    end = vectorlen - 1 if limit_count < 0 else start + limit_count - 1
    if start >= vectorlen:
        start, end = vectorlen - 1, vectorlen - 2
    if end >= vectorlen:
        end = vectorlen - 1
    if dontsort:
        if desc and kind in (b"list", b"zset"):
            items.reverse()
    else:
        conversion_error = False
        keys = []
        for item in items:
            byval = lookup_by_pattern(c.db, sortby, item) if sortby is not None else item
            if alpha:
                keys.append(byval if sortby is not None else item)
            elif byval is None:
                keys.append(0.0)
            else:
                score = sort_score(byval)
                if score is None:
                    conversion_error = True
                    score = 0.0
                keys.append(score)
        if conversion_error:
            c.error(b"ERR One or more scores can't be converted into double")
            return
        order = list(range(vectorlen))
        order.sort(key=functools.cmp_to_key(make_compare(items, keys, alpha, sortby is not None)),
                   reverse=desc)
        items = [items[i] for i in order]
    selected = items[start:end + 1] if end >= start else []
    if storekey is None:
        r = c.reply
        r.add_array_len(len(selected) * len(getops) if getops else len(selected))
        for item in selected:
            if not getops:
                r.add_bulk(item)
            for pattern in getops:
                val = lookup_by_pattern(c.db, pattern, item)
                if val is None:
                    r.add_null()
                else:
                    r.add_bulk(val)
        return
    out = []
    for item in selected:
        if not getops:
            out.append(item)
        for pattern in getops:
            val = lookup_by_pattern(c.db, pattern, item)
            out.append(b"" if val is None else val)
    if out:
        c.db.set_value(storekey, new_list(out))
        notify(c, "l", b"sortstore", storekey)
        c.dirty += len(out)
        try:
            from engine.commands.t_zset import signal_ready
            signal_ready(c, storekey)
        except ImportError:
            pass
    elif c.db.lookup_write(storekey) is not None:
        c.db.delete(storekey)
        notify(c, "g", b"del", storekey)
        c.dirty += 1
    c.reply.add_int(len(out))


def make_compare(items, keys, alpha, bypattern):
    """sortCompare over element indexes; the caller reverses for DESC."""
    if not alpha:
        def compare(a, b):
            ka, kb = keys[a], keys[b]
            if ka != kb:
                return 1 if ka > kb else -1
            ia, ib = items[a], items[b]
            return (ia > ib) - (ia < ib)
        return compare

    def compare_alpha(a, b):
        ka, kb = keys[a], keys[b]
        if ka is None or kb is None:
            if ka is kb:
                return 0
            return -1 if ka is None else 1
        return (ka > kb) - (ka < kb)
    return compare_alpha


def sort_getkeys(argv):
    """sortGetKeys: the sorted key, and the last STORE destination (options with arguments skipped)."""
    keys = [(1, ["RO", "access"])]
    store = None
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    while i < len(argv):
        opt = argv[i].lower()
        if opt in skip:
            i += skip[opt]
        elif opt == b"store" and i + 1 < len(argv):
            store = i + 1
        i += 1
    if store is not None:
        keys.append((store, ["OW", "update"]))
    return keys


@command(
    "sort", -2, "write denyoom movablekeys", acl="set sortedset list dangerous", keys=(1, 1, 1),
    getkeys=sort_getkeys,
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "notes": (
                "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from "
                "the content of the key we sort"
            ),
            "flags": ["RO", "access"],
            "begin_search": {"type": "unknown", "spec": {}},
            "find_keys": {"type": "unknown", "spec": {}},
        },
        {
            "notes": (
                "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear "
                "anywhere in the argument array"
            ),
            "flags": ["OW", "update"],
            "begin_search": {"type": "unknown", "spec": {}},
            "find_keys": {"type": "unknown", "spec": {}},
        },
    ],
    docs={
        "summary": "Sort the elements in a list, set or sorted set",
        "since": "1.0.0",
        "group": "generic",
        "complexity": (
            "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of "
            "returned elements. When the elements are not sorted, complexity is O(N)."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "pattern", "type": "pattern", "key_spec_index": 1, "token": "BY", "flags": ["optional"]},
            {
                "name": "offset_count",
                "type": "block",
                "token": "LIMIT",
                "flags": ["optional"],
                "arguments": [{"name": "offset", "type": "integer"}, {"name": "count", "type": "integer"}],
            },
            {
                "name": "pattern",
                "type": "pattern",
                "key_spec_index": 1,
                "token": "GET",
                "flags": ["optional", "multiple", "multiple_token"],
            },
            {
                "name": "order",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "asc", "type": "pure-token", "token": "ASC"},
                    {"name": "desc", "type": "pure-token", "token": "DESC"},
                ],
            },
            {"name": "sorting", "type": "pure-token", "token": "ALPHA", "flags": ["optional"]},
            {
                "name": "destination",
                "type": "key",
                "key_spec_index": 2,
                "token": "STORE",
                "flags": ["optional"],
            },
        ],
    },
)
def sort_command(c, argv):
    sort_generic(c, argv, False)


@command(
    "sort_ro", -2, "readonly movablekeys", acl="set sortedset list dangerous", keys=(1, 1, 1),
    getkeys=lambda argv: [(1, ["RO", "access"])],      # redis sortROGetKeys
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "notes": (
                "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from "
                "the content of the key we sort"
            ),
            "flags": ["RO", "access"],
            "begin_search": {"type": "unknown", "spec": {}},
            "find_keys": {"type": "unknown", "spec": {}},
        },
    ],
    docs={
        "summary": "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        "since": "7.0.0",
        "group": "generic",
        "complexity": (
            "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of "
            "returned elements. When the elements are not sorted, complexity is O(N)."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "pattern", "type": "pattern", "key_spec_index": 1, "token": "BY", "flags": ["optional"]},
            {
                "name": "offset_count",
                "type": "block",
                "token": "LIMIT",
                "flags": ["optional"],
                "arguments": [{"name": "offset", "type": "integer"}, {"name": "count", "type": "integer"}],
            },
            {
                "name": "pattern",
                "type": "pattern",
                "key_spec_index": 1,
                "token": "GET",
                "flags": ["optional", "multiple", "multiple_token"],
            },
            {
                "name": "order",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "asc", "type": "pure-token", "token": "ASC"},
                    {"name": "desc", "type": "pure-token", "token": "DESC"},
                ],
            },
            {"name": "sorting", "type": "pure-token", "token": "ALPHA", "flags": ["optional"]},
        ],
    },
)
def sort_ro_command(c, argv):
    sort_generic(c, argv, True)
