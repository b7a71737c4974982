"""List commands (redis 7.0 t_list.c) and their blocking forms (the contract in engine/blocking.py)."""

from engine.core import WRONGTYPE, SYNTAX_ERR, NOT_INTEGER, NO_SUCH_KEY, OUT_OF_RANGE
from engine.registry import command
from engine.notify import notify
from engine.types.listvalue import ListValue
from protocol.resp import parse_ll
from engine import blocking

LONG_MAX = (1 << 63) - 1
LONG_MIN = -(1 << 63)


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------
def list_for_read(c, key):
    """(ok, value): value None when the key is missing; ok False after WRONGTYPE."""
    e = c.db.lookup_read(key)
    if e is None:
        return True, None
    if type(e.value) is not ListValue:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def list_for_write(c, key):
    e = c.db.lookup_write(key)
    if e is None:
        return True, None
    if type(e.value) is not ListValue:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def parse_long(c, arg, message=NOT_INTEGER):
    value = parse_ll(arg)
    if value is None:
        c.error(message)
    return value


def parse_positive(c, arg, message):
    """getPositiveLongFromObjectOrReply: the same message for non-numbers and negatives."""
    value = parse_ll(arg)
    if value is None or value < 0:
        c.error(b"ERR " + message)
        return None
    return value


def parse_where(c, arg):
    """LEFT/RIGHT -> True for the head, False for the tail; None after a syntax error."""
    lowered = arg.lower()
    if lowered == b"left":
        return True
    if lowered == b"right":
        return False
    c.error(SYNTAX_ERR)
    return None


def parse_timeout(c, arg):
    """getTimeoutFromObjectOrReply in seconds: relative ms (0 = forever), or None after replying."""
    return blocking.parse_timeout(c, arg)


def candidate_keys(c, keys):
    """The keys a blocking pop looks at: all of them, or only the key being offered to a woken client
    (redis 7.0 serves the key that became ready, whatever the other keys hold)."""
    ready = blocking.serving_key(c)
    return keys if ready is None else [ready]


def signal_ready(c, key):
    blocking.signal_key_ready(c, key)


def push_into(c, key, lst, elements, head):
    """Push elements into lst (created under key when None); returns the list."""
    if lst is None:
        lst = ListValue()
        c.db.add(key, lst)
        signal_ready(c, key)
    if head:
        lst.extendleft(elements)
    else:
        lst.extend(elements)
    notify(c, "l", b"lpush" if head else b"rpush", key)
    return lst


def delete_if_empty(c, key, lst):
    if not lst:
        c.db.delete(key)
        notify(c, "g", b"del", key)


def pop_one(c, key, lst, head):
    value = lst.popleft() if head else lst.pop()
    notify(c, "l", b"lpop" if head else b"rpop", key)
    delete_if_empty(c, key, lst)
    c.dirty += 1
    return value


def pop_range_reply(c, key, lst, head, count, with_key):
    """listPopRangeAndReplyWithKey: up to count elements as an array (inside [key, [...]] when with_key)."""
    n = min(count, len(lst))
    if with_key:
        c.reply.add_array_len(2)
        c.reply.add_bulk(key)
    c.reply.add_array_len(n)
    for _ in range(n):
        c.reply.add_bulk(lst.popleft() if head else lst.pop())
    notify(c, "l", b"lpop" if head else b"rpop", key)
    delete_if_empty(c, key, lst)
    c.dirty += n


def push_generic(c, argv, head, only_existing):
    key = argv[1]
    ok, lst = list_for_write(c, key)
    if not ok:
        return
    if lst is None and only_existing:
        c.reply.add_int(0)
        return
    lst = push_into(c, key, lst, argv[2:], head)
    c.dirty += len(argv) - 2
    c.reply.add_int(len(lst))


def pop_generic(c, argv, head):
    if len(argv) > 3:
        c.error(b"ERR wrong number of arguments for '" + c.cmd.name_bytes + b"' command")
        return
    has_count = len(argv) == 3
    count = 0
    if has_count:
        count = parse_positive(c, argv[2], b"value is out of range, must be positive")
        if count is None:
            return
    ok, lst = list_for_write(c, argv[1])
    if not ok:
        return
    if lst is None:
        if has_count:
            c.reply.add_null_array()
        else:
            c.reply.add_null()
        return
    if has_count and count == 0:
        c.reply.add_array_len(0)
        return
    if not has_count:
        c.reply.add_bulk(pop_one(c, argv[1], lst, head))
        return
    pop_range_reply(c, argv[1], lst, head, count, False)


def normalise_range(start, end, length):
    """LRANGE/LTRIM index arithmetic: (start, end) inclusive, or None when empty."""
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


def move_generic(c, source, destination, from_head, to_head):
    """lmoveGenericCommand; returns True when an element moved (the reply is written either way)."""
    ok, src = list_for_write(c, source)
    if not ok:
        return False
    if src is None:
        c.reply.add_null()
        return False
    ok, dst = list_for_write(c, destination)
    if not ok:
        return False
    value = src.popleft() if from_head else src.pop()
    push_into(c, destination, dst if destination != source else src, (value,), to_head)
    c.reply.add_bulk(value)
    notify(c, "l", b"lpop" if from_head else b"rpop", source)
    delete_if_empty(c, source, src)
    c.dirty += 1
    return True


def side_name(head):
    """getStringObjectFromListPosition: how a served BLMOVE names the sides in its LMOVE effect."""
    return b"left" if head else b"right"


def parse_mpop(c, argv, numkeys_index):
    """(keys, head, count) for LMPOP/BLMPOP, or None after replying the error."""
    numkeys = parse_ll(argv[numkeys_index])
    if numkeys is None or numkeys < 1:
        c.error(b"ERR numkeys should be greater than 0")
        return None
    where_index = numkeys_index + numkeys + 1
    if where_index >= len(argv):
        c.error(SYNTAX_ERR)
        return None
    head = parse_where(c, argv[where_index])
    if head is None:
        return None
    count = -1
    j = where_index + 1
    while j < len(argv):
        if count == -1 and argv[j].lower() == b"count" and j + 1 < len(argv):
            j += 1
            count = parse_ll(argv[j])
            if count is None or count < 1:
                c.error(b"ERR count should be greater than 0")
                return None
        else:
            c.error(SYNTAX_ERR)
            return None
        j += 1
    return argv[numkeys_index + 1:where_index], head, (1 if count == -1 else count)


def mpop_candidate(c, keys):
    """(ok, key, list) of the first non-empty list among keys."""
    for key in keys:
        ok, lst = list_for_write(c, key)
        if not ok:
            return False, None, None
        if lst:
            return True, key, lst
    return True, None, None


def mpop_serve(c, key, lst, head, count):
    popped = min(count, len(lst))
    pop_range_reply(c, key, lst, head, count, True)
    c.propagate_as([b"LPOP" if head else b"RPOP", key, b"%d" % popped])


def bpop_generic(c, argv, head):
    """BLPOP/BRPOP."""
    timeout = parse_timeout(c, argv[-1])
    if timeout is None:
        return
    keys = argv[1:-1]
    for key in candidate_keys(c, keys):
        ok, lst = list_for_write(c, key)
        if not ok:
            return
        if lst:
            c.reply.add_array_len(2)
            c.reply.add_bulk(key)
            c.reply.add_bulk(pop_one(c, key, lst, head))
            c.propagate_as([b"LPOP" if head else b"RPOP", key])
            return
    if c.deny_blocking:
        c.reply.add_null_array()
        return
    blocking.block(c, keys, timeout, argv, b"list")


def bmove_generic(c, argv, source, destination, from_head, to_head, timeout_arg, effect_name):
    timeout = parse_timeout(c, timeout_arg)
    if timeout is None:
        return
    ok, src = list_for_write(c, source)
    if not ok:
        return
    if src is None:
        if c.deny_blocking:
            c.reply.add_null()
            return
        blocking.block(c, [source], timeout, argv, b"list")
        return
    if move_generic(c, source, destination, from_head, to_head):
        if effect_name == b"LMOVE":
            if blocking.serving_key(c) is None:     # redis rewrites with the sides as the client spelt them
                c.propagate_as([b"LMOVE", source, destination, argv[3], argv[4]])
            else:
                c.propagate_as([b"LMOVE", source, destination, side_name(from_head), side_name(to_head)])
        else:
            c.propagate_as([b"RPOPLPUSH", source, destination])


@command(
    "lpush", -3, "write denyoom fast", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Prepend one or multiple elements to a list",
        "since": "1.0.0",
        "group": "list",
        "complexity": (
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple "
            "arguments."
        ),
        "history": [["2.4.0", "Accepts multiple `element` arguments."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "element", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def lpush_command(c, argv):
    push_generic(c, argv, True, False)


@command(
    "rpush", -3, "write denyoom fast", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Append one or multiple elements to a list",
        "since": "1.0.0",
        "group": "list",
        "complexity": (
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple "
            "arguments."
        ),
        "history": [["2.4.0", "Accepts multiple `element` arguments."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "element", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def rpush_command(c, argv):
    push_generic(c, argv, False, False)


@command(
    "lpushx", -3, "write denyoom fast", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Prepend an element to a list, only if the list exists",
        "since": "2.2.0",
        "group": "list",
        "complexity": (
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple "
            "arguments."
        ),
        "history": [["4.0.0", "Accepts multiple `element` arguments."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "element", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def lpushx_command(c, argv):
    push_generic(c, argv, True, True)


@command(
    "rpushx", -3, "write denyoom fast", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Append an element to a list, only if the list exists",
        "since": "2.2.0",
        "group": "list",
        "complexity": (
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple "
            "arguments."
        ),
        "history": [["4.0.0", "Accepts multiple `element` arguments."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "element", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def rpushx_command(c, argv):
    push_generic(c, argv, False, True)


@command(
    "lpop", -2, "write fast", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove and get the first elements in a list",
        "since": "1.0.0",
        "group": "list",
        "complexity": "O(N) where N is the number of elements returned",
        "history": [["6.2.0", "Added the `count` argument."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "count", "type": "integer", "since": "6.2.0", "flags": ["optional"]},
        ],
    },
)
def lpop_command(c, argv):
    pop_generic(c, argv, True)


@command(
    "rpop", -2, "write fast", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove and get the last elements in a list",
        "since": "1.0.0",
        "group": "list",
        "complexity": "O(N) where N is the number of elements returned",
        "history": [["6.2.0", "Added the `count` argument."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "count", "type": "integer", "since": "6.2.0", "flags": ["optional"]},
        ],
    },
)
def rpop_command(c, argv):
    pop_generic(c, argv, False)


@command(
    "llen", 2, "readonly fast", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get the length of a list",
        "since": "1.0.0",
        "group": "list",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)
def llen_command(c, argv):
    ok, lst = list_for_read(c, argv[1])
    if ok:
        c.reply.add_int(len(lst) if lst is not None else 0)


@command(
    "lrange", 4, "readonly", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get a range of elements from a list",
        "since": "1.0.0",
        "group": "list",
        "complexity": (
            "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end "
            "(HEAD or TAIL) for large lists; and N is the number of elements in the specified range."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "start", "type": "integer"},
            {"name": "stop", "type": "integer"},
        ],
    },
)
def lrange_command(c, argv):
    start = parse_long(c, argv[2])
    if start is None:
        return
    end = parse_long(c, argv[3])
    if end is None:
        return
    ok, lst = list_for_read(c, argv[1])
    if not ok:
        return
    bounds = normalise_range(start, end, len(lst)) if lst is not None else None
    if bounds is None:
        c.reply.add_array_len(0)
        return
    start, end = bounds
    c.reply.add_array_len(end - start + 1)
    if start > len(lst) // 2:
        lst.rotate(-start)
        try:
            for i in range(end - start + 1):
                c.reply.add_bulk(lst[i])
        finally:
            lst.rotate(start)
    else:
        for i in range(start, end + 1):
            c.reply.add_bulk(lst[i])


@command(
    "lindex", 3, "readonly", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get an element from a list by its index",
        "since": "1.0.0",
        "group": "list",
        "complexity": (
            "O(N) where N is the number of elements to traverse to get to the element at index. This makes "
            "asking for the first or the last element of the list O(1)."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "index", "type": "integer"},
        ],
    },
)
def lindex_command(c, argv):
    ok, lst = list_for_read(c, argv[1])
    if not ok:
        return
    if lst is None:
        c.reply.add_null()
        return
    index = parse_long(c, argv[2])
    if index is None:
        return
    if -len(lst) <= index < len(lst):
        c.reply.add_bulk(lst[index])
    else:
        c.reply.add_null()


@command(
    "lset", 4, "write denyoom", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set the value of an element in a list by its index",
        "since": "1.0.0",
        "group": "list",
        "complexity": (
            "O(N) where N is the length of the list. Setting either the first or the last element of the "
            "list is O(1)."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "index", "type": "integer"},
            {"name": "element", "type": "string"},
        ],
    },
)
def lset_command(c, argv):
    e = c.db.lookup_write(argv[1])
    if e is None:
        c.error(NO_SUCH_KEY)
        return
    lst = e.value
    if type(lst) is not ListValue:
        c.error(WRONGTYPE)
        return
    index = parse_long(c, argv[2])
    if index is None:
        return
    if not -len(lst) <= index < len(lst):
        c.error(OUT_OF_RANGE)
        return
    lst[index] = argv[3]
    c.dirty += 1
    notify(c, "l", b"lset", argv[1])
    c.reply.add_ok()


@command(
    "linsert", 5, "write denyoom", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Insert an element before or after another element in a list",
        "since": "2.2.0",
        "group": "list",
        "complexity": (
            "O(N) where N is the number of elements to traverse before seeing the value pivot. This means "
            "that inserting somewhere on the left end on the list (head) can be considered O(1) and "
            "inserting somewhere on the right end (tail) is O(N)."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "where",
                "type": "oneof",
                "arguments": [
                    {"name": "before", "type": "pure-token", "token": "BEFORE"},
                    {"name": "after", "type": "pure-token", "token": "AFTER"},
                ],
            },
            {"name": "pivot", "type": "string"},
            {"name": "element", "type": "string"},
        ],
    },
)
def linsert_command(c, argv):
    where = argv[2].lower()
    if where not in (b"before", b"after"):
        c.error(SYNTAX_ERR)
        return
    ok, lst = list_for_write(c, argv[1])
    if not ok:
        return
    if lst is None:
        c.reply.add_int(0)
        return
    try:
        position = lst.index(argv[3])
    except ValueError:
        c.reply.add_int(-1)
        return
    lst.insert(position if where == b"before" else position + 1, argv[4])
    c.dirty += 1
    notify(c, "l", b"linsert", argv[1])
    c.reply.add_int(len(lst))


@command(
    "lrem", 4, "write", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove elements from a list",
        "since": "1.0.0",
        "group": "list",
        "complexity": "O(N+M) where N is the length of the list and M is the number of elements removed.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "count", "type": "integer"},
            {"name": "element", "type": "string"},
        ],
    },
)
def lrem_command(c, argv):
    count = parse_long(c, argv[2])
    if count is None:
        return
    ok, lst = list_for_write(c, argv[1])
    if not ok:
        return
    if lst is None:
        c.reply.add_int(0)
        return
    element = argv[3]
    limit = abs(count) if count != 0 else len(lst)
    kept = []
    removed = 0
    items = reversed(lst) if count < 0 else iter(lst)
    for item in items:
        if removed < limit and item == element:
            removed += 1
        else:
            kept.append(item)
    if removed:
        if count < 0:
            kept.reverse()
        lst.clear()
        lst.extend(kept)
        c.dirty += removed
        notify(c, "l", b"lrem", argv[1])
        delete_if_empty(c, argv[1], lst)
    c.reply.add_int(removed)


@command(
    "ltrim", 4, "write", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Trim a list to the specified range",
        "since": "1.0.0",
        "group": "list",
        "complexity": "O(N) where N is the number of elements to be removed by the operation.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "start", "type": "integer"},
            {"name": "stop", "type": "integer"},
        ],
    },
)
def ltrim_command(c, argv):
    start = parse_long(c, argv[2])
    if start is None:
        return
    end = parse_long(c, argv[3])
    if end is None:
        return
    ok, lst = list_for_write(c, argv[1])
    if not ok:
        return
    if lst is None:
        c.reply.add_ok()
        return
    length = len(lst)
    bounds = normalise_range(start, end, length)
    if bounds is None:
        left, right = length, 0
    else:
        left, right = bounds[0], length - bounds[1] - 1
    for _ in range(left):
        lst.popleft()
    for _ in range(right):
        lst.pop()
    notify(c, "l", b"ltrim", argv[1])
    delete_if_empty(c, argv[1], lst)
    c.dirty += left + right
    c.reply.add_ok()


@command(
    "lpos", -3, "readonly", acl="list", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Return the index of matching elements on a list",
        "since": "6.0.6",
        "group": "list",
        "complexity": (
            "O(N) where N is the number of elements in the list, for the average case. When searching for "
            "elements near the head or the tail of the list, or when the MAXLEN option is provided, the "
            "command may run in constant time."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "element", "type": "string"},
            {"name": "rank", "type": "integer", "token": "RANK", "flags": ["optional"]},
            {"name": "num-matches", "type": "integer", "token": "COUNT", "flags": ["optional"]},
            {"name": "len", "type": "integer", "token": "MAXLEN", "flags": ["optional"]},
        ],
    },
)
def lpos_command(c, argv):
    rank, count, maxlen = 1, -1, 0
    j = 3
    while j < len(argv):
        option = argv[j].lower()
        more = j + 1 < len(argv)
        if option == b"rank" and more:
            j += 1
            rank = parse_long(c, argv[j])
            if rank is None:
                return
            if rank == 0:
                c.error(b"ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
                        b"or use negative to start from the end of the list")
                return
        elif option == b"count" and more:
            j += 1
            count = parse_positive(c, argv[j], b"COUNT can't be negative")
            if count is None:
                return
        elif option == b"maxlen" and more:
            j += 1
            maxlen = parse_positive(c, argv[j], b"MAXLEN can't be negative")
            if maxlen is None:
                return
        else:
            c.error(SYNTAX_ERR)
            return
        j += 1
    ok, lst = list_for_read(c, argv[1])
    if not ok:
        return
    if lst is None:
        if count != -1:
            c.reply.add_array_len(0)
        else:
            c.reply.add_null()
        return
    length = len(lst)
    element = argv[2]
    wanted = count if count > 0 else (length if count == 0 else 1)
    skip = 0 if rank == LONG_MIN else abs(rank) - 1     # redis negates LONG_MIN into itself: first match
    matches = []
    indexes = range(length - 1, -1, -1) if rank < 0 else range(length)
    if rank < 0:
        items = reversed(lst)
    else:
        items = iter(lst)
    compared = 0
    for index, item in zip(indexes, items):
        if maxlen and compared >= maxlen:
            break
        compared += 1
        if item == element:
            if skip:
                skip -= 1
                continue
            matches.append(index)
            if len(matches) >= wanted:
                break
    if count != -1:
        c.reply.add_array_len(len(matches))
        for index in matches:
            c.reply.add_int(index)
    elif matches:
        c.reply.add_int(matches[0])
    else:
        c.reply.add_null()


@command(
    "lmove", 5, "write denyoom", acl="list", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Pop an element from a list, push it to another list and return it",
        "since": "6.2.0",
        "group": "list",
        "complexity": "O(1)",
        "arguments": [
            {"name": "source", "type": "key", "key_spec_index": 0},
            {"name": "destination", "type": "key", "key_spec_index": 1},
            {
                "name": "wherefrom",
                "type": "oneof",
                "arguments": [
                    {"name": "left", "type": "pure-token", "token": "LEFT"},
                    {"name": "right", "type": "pure-token", "token": "RIGHT"},
                ],
            },
            {
                "name": "whereto",
                "type": "oneof",
                "arguments": [
                    {"name": "left", "type": "pure-token", "token": "LEFT"},
                    {"name": "right", "type": "pure-token", "token": "RIGHT"},
                ],
            },
        ],
    },
)
def lmove_command(c, argv):
    from_head = parse_where(c, argv[3])
    if from_head is None:
        return
    to_head = parse_where(c, argv[4])
    if to_head is None:
        return
    move_generic(c, argv[1], argv[2], from_head, to_head)


@command(
    "rpoplpush", 3, "write denyoom", acl="list", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove the last element in a list, prepend it to another list and return it",
        "since": "1.2.0",
        "group": "list",
        "complexity": "O(1)",
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`LMOVE` with the `RIGHT` and `LEFT` arguments",
        "arguments": [
            {"name": "source", "type": "key", "key_spec_index": 0},
            {"name": "destination", "type": "key", "key_spec_index": 1},
        ],
    },
)
def rpoplpush_command(c, argv):
    move_generic(c, argv[1], argv[2], False, True)


@command(
    "lmpop", -4, "write movablekeys", acl="list",
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Pop elements from a list",
        "since": "7.0.0",
        "group": "list",
        "complexity": (
            "O(N+M) where N is the number of provided keys and M is the number of elements returned."
        ),
        "arguments": [
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {
                "name": "where",
                "type": "oneof",
                "arguments": [
                    {"name": "left", "type": "pure-token", "token": "LEFT"},
                    {"name": "right", "type": "pure-token", "token": "RIGHT"},
                ],
            },
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
        ],
    },
)
def lmpop_command(c, argv):
    parsed = parse_mpop(c, argv, 1)
    if parsed is None:
        return
    keys, head, count = parsed
    ok, key, lst = mpop_candidate(c, keys)
    if not ok:
        return
    if lst is None:
        c.reply.add_null_array()
        return
    mpop_serve(c, key, lst, head, count)


@command(
    "blpop", -3, "write noscript blocking", acl="list", keys=(1, -2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -2, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove and get the first element in a list, or block until one is available",
        "since": "2.0.0",
        "group": "list",
        "complexity": "O(N) where N is the number of provided keys.",
        "history": [["6.0.0", "`timeout` is interpreted as a double instead of an integer."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {"name": "timeout", "type": "double"},
        ],
    },
)
def blpop_command(c, argv):
    bpop_generic(c, argv, True)


@command(
    "brpop", -3, "write noscript blocking", acl="list", keys=(1, -2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -2, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Remove and get the last element in a list, or block until one is available",
        "since": "2.0.0",
        "group": "list",
        "complexity": "O(N) where N is the number of provided keys.",
        "history": [["6.0.0", "`timeout` is interpreted as a double instead of an integer."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {"name": "timeout", "type": "double"},
        ],
    },
)
def brpop_command(c, argv):
    bpop_generic(c, argv, False)


@command(
    "blmove", 6, "write denyoom noscript blocking", acl="list", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Pop an element from a list, push it to another list and return it; or block until one is "
            "available"
        ),
        "since": "6.2.0",
        "group": "list",
        "complexity": "O(1)",
        "arguments": [
            {"name": "source", "type": "key", "key_spec_index": 0},
            {"name": "destination", "type": "key", "key_spec_index": 1},
            {
                "name": "wherefrom",
                "type": "oneof",
                "arguments": [
                    {"name": "left", "type": "pure-token", "token": "LEFT"},
                    {"name": "right", "type": "pure-token", "token": "RIGHT"},
                ],
            },
            {
                "name": "whereto",
                "type": "oneof",
                "arguments": [
                    {"name": "left", "type": "pure-token", "token": "LEFT"},
                    {"name": "right", "type": "pure-token", "token": "RIGHT"},
                ],
            },
            {"name": "timeout", "type": "double"},
        ],
    },
)
def blmove_command(c, argv):
    from_head = parse_where(c, argv[3])
    if from_head is None:
        return
    to_head = parse_where(c, argv[4])
    if to_head is None:
        return
    bmove_generic(c, argv, argv[1], argv[2], from_head, to_head, argv[5], b"LMOVE")


@command(
    "brpoplpush", 4, "write denyoom noscript blocking", acl="list", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Pop an element from a list, push it to another list and return it; or block until one is "
            "available"
        ),
        "since": "2.2.0",
        "group": "list",
        "complexity": "O(1)",
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`BLMOVE` with the `RIGHT` and `LEFT` arguments",
        "history": [["6.0.0", "`timeout` is interpreted as a double instead of an integer."]],
        "arguments": [
            {"name": "source", "type": "key", "key_spec_index": 0},
            {"name": "destination", "type": "key", "key_spec_index": 1},
            {"name": "timeout", "type": "double"},
        ],
    },
)
def brpoplpush_command(c, argv):
    bmove_generic(c, argv, argv[1], argv[2], False, True, argv[3], b"RPOPLPUSH")


@command(
    "blmpop", -5, "write blocking movablekeys", acl="list",
    key_specs=[
        {
            "flags": ["RW", "access", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        },
    ],
    docs={
        "summary": "Pop elements from a list, or block until one is available",
        "since": "7.0.0",
        "group": "list",
        "complexity": (
            "O(N+M) where N is the number of provided keys and M is the number of elements returned."
        ),
        "arguments": [
            {"name": "timeout", "type": "double"},
            {"name": "numkeys", "type": "integer"},
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
            {
                "name": "where",
                "type": "oneof",
                "arguments": [
                    {"name": "left", "type": "pure-token", "token": "LEFT"},
                    {"name": "right", "type": "pure-token", "token": "RIGHT"},
                ],
            },
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
        ],
    },
)
def blmpop_command(c, argv):
    parsed = parse_mpop(c, argv, 2)       # redis checks numkeys, the side and COUNT before the timeout
    if parsed is None:
        return
    timeout = parse_timeout(c, argv[1])
    if timeout is None:
        return
    keys, head, count = parsed
    ok, key, lst = mpop_candidate(c, candidate_keys(c, keys))
    if not ok:
        return
    if lst is not None:
        mpop_serve(c, key, lst, head, count)
        return
    if c.deny_blocking:
        c.reply.add_null_array()
        return
    blocking.block(c, keys, timeout, argv, b"list")


# the compiled hot path (LPUSH/RPUSH/LPOP/RPOP/LMOVE/LINDEX/LLEN as C handlers): engine/commands/t_list_fast.pyx
from engine.commands import t_list_fast  # noqa: E402,F401
