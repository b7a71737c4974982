"""Shared parsing and replies of the SCAN family (redis db.c scanGenericCommand)."""
from engine.core import SYNTAX_ERR, NOT_INTEGER
from engine.glob import glob_match
from engine.types.scanindex import build as build_scan_index, fingerprint as scan_fingerprint
from protocol.resp import parse_ll

EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"


class ScanArgs:
    __slots__ = ("cursor", "count", "pattern", "type_name")

    def __init__(self, cursor):
        self.cursor = cursor
        self.count = 10
        self.pattern = None
        self.type_name = None


def parse_cursor(c, arg):
    """redis parseScanCursorOrReply: what strtoul(arg, 10) accepts whole, else `ERR invalid cursor`.

    Like strtoul: an optional sign ("-1" wraps to 2**64-1), and "" reads as 0; no leading space, no
    overflow past 2**64-1."""
    digits = arg[1:] if arg[:1] in (b"+", b"-") else arg
    if arg == b"" or (digits.isdigit() and len(digits.lstrip(b"0")) <= 20):
        value = int(digits) if digits else 0
        if value < (1 << 64):
            return (-value) % (1 << 64) if arg[:1] == b"-" else value
    c.error(b"ERR invalid cursor")
    return None


def parse_options(c, argv, start, args, allow_type=False):
    """COUNT / MATCH (/ TYPE for SCAN); False after replying the error."""
    i = start
    while i < len(argv):
        opt = argv[i].lower()
        left = len(argv) - i
        if opt == b"count" and left >= 2:
            n = parse_ll(argv[i + 1])
            if n is None:
                c.error(NOT_INTEGER)
                return False
            if n < 1:
                c.error(SYNTAX_ERR)
                return False
            args.count = n
            i += 2
        elif opt == b"match" and left >= 2:
            args.pattern = None if argv[i + 1] == b"*" else argv[i + 1]
            i += 2
        elif opt == b"type" and allow_type and left >= 2:
            args.type_name = argv[i + 1]
            i += 2
        else:
            c.error(SYNTAX_ERR)
            return False
    return True


def reply_whole_collection(c, args, items, pairs=False):
    """Answer a collection scan in one step with cursor 0 (what redis does for compact encodings; a valid
    SCAN answer for any size: every element is returned exactly once)."""
    if args.pattern is not None:
        if pairs:
            items = [x for i in range(0, len(items), 2) if glob_match(args.pattern, items[i])
                     for x in (items[i], items[i + 1])]
        else:
            items = [x for x in items if glob_match(args.pattern, x)]
    c.reply.add_array_len(2)
    c.reply.add_bulk(b"0")
    c.reply.add_array_len(len(items))
    for x in items:
        c.reply.add_bulk(x)


def reply_cursor_batch(c, args, owner, container, value_of=None):
    """One step of a real cursor over a large collection (engine/types/scanindex.pyx): `owner` keeps the
    index in its `_scan` slot, `container` is its dict or set, `value_of(key)` gives a hash field's reply
    value (None when the field is gone); without it the elements are set members."""
    idx = getattr(owner, "_scan", None)
    if idx is None or (args.cursor == 0 and (idx.tag is None or idx.tag != scan_fingerprint(container))):
        idx = build_scan_index(container)
        owner._scan = idx
    keys, cursor = idx.batch(args.cursor, args.count)
    if cursor == 0:
        owner._scan = None          # the scan that reached the end frees it; another one rebuilds
    out = []
    pattern = args.pattern
    for k in keys:
        if pattern is not None and not glob_match(pattern, k):
            continue
        if value_of is None:
            if k in container:
                out.append(k)
        else:
            v = value_of(k)
            if v is not None:
                out.append(k)
                out.append(v)
    c.reply.add_array_len(2)
    c.reply.add_bulk(b"%d" % cursor)
    c.reply.add_array_len(len(out))
    for x in out:
        c.reply.add_bulk(x)


def scan_collection(c, argv, value_for_read, items_of, pairs=False, large=None):
    """HSCAN/SSCAN/ZSCAN key cursor [MATCH p] [COUNT n] in redis's order of checks."""
    args_cursor = parse_cursor(c, argv[2])
    if args_cursor is None:
        return
    ok, value = value_for_read(c, argv[1])
    if not ok:
        return
    if value is None:
        c.reply.add_raw(EMPTY_SCAN)
        return
    args = ScanArgs(args_cursor)
    if not parse_options(c, argv, 3, args):
        return
    if large is not None and large(c, args, value):
        return
    reply_whole_collection(c, args, items_of(value), pairs)
