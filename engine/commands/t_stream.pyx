# cython: language_level=3, wraparound=True, boundscheck=True, binding=True
"""Stream commands (redis 7.0 t_stream.c): XADD, XRANGE, XREAD, consumer groups, XINFO...

Effects follow Redis: XADD and XTRIM propagate with the generated id / exact trim threshold, and the
consumer-group reads propagate as XCLAIM ... FORCE JUSTID (plus XGROUP SETID after a NOACK read)
instead of XREADGROUP itself, so replicas and the AOF reach the same PEL state deterministically.
"""
from engine import blocking
from engine.core import WRONGTYPE, SYNTAX_ERR, NOT_INTEGER
from engine.registry import command, container
from engine.notify import notify, notify_db, NOTIFY_KEY_MISS
from engine.types.stream import (StreamValue, ConsumerGroup, NACK, U64_MAX, MIN_ID, MAX_ID,
                                 SCG_INVALID_ENTRIES_READ, incr_id, decr_id)
from engine.types.stream cimport format_id
from protocol.resp import parse_ll
from protocol.resp cimport ReplyBuffer
cdef extern from "limits.h":
    const unsigned long long U64_MAX_C "ULLONG_MAX"
from engine.core cimport Client, Db, Entry, bind_fast, bind_cost, cm_rec, rec_obj, CM_BOXED, rec_cost_add
from engine.types.stream cimport StreamValue as CStreamValue, Node, NACK as CNACK, SortedIds, Consumer, \
    ConsumerGroup as CConsumerGroup

INVALID_ID = b"ERR Invalid stream ID specified as stream command argument"
NO_SUCH_KEY = b"ERR no such key"


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def config_value(c, name, default):
    if c.server is None:
        return default
    return c.server.config.scalar(name)


def node_limits(c):
    return config_value(c, "stream-node-max-bytes", 4096), config_value(c, "stream-node-max-entries", 100)


def signal_key_ready(c, key):
    """Wake clients blocked on key (engine/blocking.py)."""
    blocking.signal_key_ready(c, key)


def propagate_effects(c, effects):
    """Replace the command's effect with `effects` (several are wrapped in MULTI/EXEC as Redis does)."""
    if not effects:
        c.prevent_propagation()
        return
    if len(effects) > 1 and c.ks.effects.unit_depth == 0:
        effects = [[b"MULTI"]] + effects + [[b"EXEC"]]
    c.propagate_as(effects[0])
    for argv in effects[1:]:
        c.also_propagate(argv)


def string2ull(s):
    """redis util.c string2ull: string2ll for non-negatives, else strtoull's leniency."""
    v = parse_ll(s)
    if v is not None:
        return v if v >= 0 else None
    t = s.lstrip(b" \t\n\v\f\r")
    negative = False
    if t[:1] in (b"+", b"-"):
        negative = t[:1] == b"-"
        t = t[1:]
    if not t or not t.isdigit():
        return None
    v = int(t)
    if v > U64_MAX:
        return None
    return (-v) & U64_MAX if negative else v


def parse_id(c, arg, missing_seq=0, strict=False, allow_seq_star=False):
    """streamGenericParseIDOrReply: (id, seq_given) or None after replying the error (c may be None)."""
    seq_given = True
    if len(arg) > 127:
        return _invalid_id(c)
    buf = arg.split(b"\0", 1)[0]
    if strict and buf in (b"-", b"+"):
        return _invalid_id(c)
    if buf == b"-":
        return MIN_ID, seq_given
    if buf == b"+":
        return MAX_ID, seq_given
    ms_part, dash, seq_part = buf.partition(b"-")
    ms = string2ull(ms_part)
    if ms is None:
        return _invalid_id(c)
    if dash:
        if allow_seq_star and seq_part == b"*":
            seq = 0
            seq_given = False
        else:
            seq = string2ull(seq_part)
            if seq is None:
                return _invalid_id(c)
    else:
        seq = missing_seq
    return (ms, seq), seq_given


def _invalid_id(c):
    if c is not None:
        c.error(INVALID_ID)
    return None


def parse_strict_id(c, arg):
    parsed = parse_id(c, arg, 0, True)
    return None if parsed is None else parsed[0]


def parse_interval_id(c, arg, missing_seq):
    """streamParseIntervalIDOrReply: (id, exclusive) or None."""
    if len(arg) > 1 and arg[:1] == b"(":
        parsed = parse_id(c, arg[1:], missing_seq, True)
        return None if parsed is None else (parsed[0], True)
    parsed = parse_id(c, arg, missing_seq, False)
    return None if parsed is None else (parsed[0], False)


def parse_range_bounds(c, start_arg, end_arg):
    """Start/end of XRANGE/XPENDING with the '(' exclusive forms resolved; None after an error."""
    start = parse_interval_id(c, start_arg, 0)
    if start is None:
        return None
    start_id, start_ex = start
    if start_ex:
        start_id = incr_id(start_id)
        if start_id is None:
            c.error(b"ERR invalid start ID for the interval")
            return None
    end = parse_interval_id(c, end_arg, U64_MAX)
    if end is None:
        return None
    end_id, end_ex = end
    if end_ex:
        end_id = decr_id(end_id)
        if end_id is None:
            c.error(b"ERR invalid end ID for the interval")
            return None
    return start_id, end_id


def parse_int(c, arg, message=NOT_INTEGER):
    v = parse_ll(arg)
    if v is None:
        c.error(message)
    return v


def stream_for_read(c, key):
    """(ok, stream or None)."""
    e = c.db.lookup_read(key)
    if e is None:
        return True, None
    if type(e.value) is not StreamValue:
        c.error(WRONGTYPE)
        return False, None
    (<CStreamValue>e.value).groups_dirty = True        # the command may touch its groups
    return True, e.value


def stream_for_write(c, key):
    e = c.db.lookup_write(key)
    if e is None:
        return True, None
    if type(e.value) is not StreamValue:
        c.error(WRONGTYPE)
        return False, None
    (<CStreamValue>e.value).groups_dirty = True        # the command may touch its groups
    return True, e.value


def stream_lookup(c, key, bint write):
    """stream_for_write (write) or stream_for_read for XREAD/XREADGROUP, which change at most the group
    they name: groups_dirty is left alone (xread_generic marks the group) except for XREAD, which touches no
    group at all."""
    e = c.db.lookup_write(key) if write else c.db.lookup_read(key)
    if e is None:
        return True, None
    if type(e.value) is not StreamValue:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def reply_id(c, entry_id):
    (<ReplyBuffer>c.reply).add_bulk(format_id(entry_id))


cdef write_entry(ReplyBuffer reply, tuple entry_id, fields_values):
    reply.add_array_len(2)
    reply.add_bulk(format_id(entry_id))
    reply.add_array_len(len(fields_values))
    for x in fields_values:
        reply.add_bulk(x)


def reply_entry(c, entry_id, fields_values):
    write_entry(<ReplyBuffer>c.reply, entry_id, fields_values)


def reply_entries(c, entries):
    c.reply.add_array_len(len(entries))
    for entry_id, fields_values in entries:
        reply_entry(c, entry_id, fields_values)


def reply_single_entry_or_null(c, s, entry_id):
    """streamReplyWithRange(id, id, RAWENTRIES) or a null when the entry is gone."""
    fields_values = s.get_entry(entry_id)
    if fields_values is None:
        c.reply.add_null()
    else:
        reply_entry(c, entry_id, fields_values)


def xclaim_effect(key, group_name, group, entry_id, nack):
    """streamPropagateXCLAIM."""
    return [b"XCLAIM", key, group_name, nack.consumer.name, b"0", format_id(entry_id), b"TIME",
            b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count, b"FORCE", b"JUSTID",
            b"LASTID", format_id(group.last_id)]


def setid_effect(key, group_name, group):
    """streamPropagateGroupID."""
    return [b"XGROUP", b"SETID", key, group_name, format_id(group.last_id), b"ENTRIESREAD",
            b"%d" % group.entries_read]


def nogroup_error(c, key, group_name, suffix=b""):
    c.error(b"NOGROUP No such key '" + key + b"' or consumer group '" + group_name + b"'" + suffix)


def subcommand_syntax_error(c, argv):
    c.error(b"ERR unknown subcommand or wrong number of arguments for '" + argv[1][:128] + b"'. Try "
            + argv[0].upper() + b" HELP.")


def reply_help(c, lines):
    c.reply.add_array_len(len(lines))
    for line in lines:
        c.reply.add_simple(line)


# --------------------------------------------------------------------------------------------------
# XADD / XTRIM
# --------------------------------------------------------------------------------------------------
class AddTrimArgs:
    __slots__ = ("strategy", "maxlen", "minid", "approx", "limit", "arg_index", "nomkstream", "id", "id_given",
                 "seq_given", "next_index")

    def __init__(self):
        self.strategy = None
        self.maxlen = 0
        self.minid = MIN_ID
        self.approx = False
        self.limit = 0
        self.arg_index = 0
        self.nomkstream = False
        self.id = None
        self.id_given = False
        self.seq_given = True
        self.next_index = 0


def must_obey(c):
    """redis mustObeyClient: the primary's link or the AOF loader (an internal client with no connection
    that is not the scripting client) replays effects such as '= N LIMIT M' without the user checks."""
    if c.is_master:
        return True
    return c.server is not None and c.conn is None and not running_in_script(c)


def parse_add_trim_args(c, argv, xadd):
    """streamParseAddOrTrimArgsOrReply; None after an error."""
    args = AddTrimArgs()
    limit_given = False
    argc = len(argv)
    i = 2
    while i < argc:
        more = argc - 1 - i
        opt = argv[i]
        lopt = opt.lower()
        if xadd and opt == b"*":
            break
        if lopt in (b"maxlen", b"minid") and more:
            if args.strategy is not None:
                c.error(b"ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
                return None
            args.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                args.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            if lopt == b"maxlen":
                v = parse_int(c, argv[i + 1])
                if v is None:
                    return None
                if v < 0:
                    c.error(b"ERR The MAXLEN argument must be >= 0.")
                    return None
                args.maxlen = v
                args.strategy = "maxlen"
            else:
                minid = parse_strict_id(c, argv[i + 1])
                if minid is None:
                    return None
                args.minid = minid
                args.strategy = "minid"
            i += 1
            args.arg_index = i
        elif lopt == b"limit" and more:
            v = parse_int(c, argv[i + 1])
            if v is None:
                return None
            if v < 0:
                c.error(b"ERR The LIMIT argument must be >= 0.")
                return None
            args.limit = v
            limit_given = True
            i += 1
        elif xadd and lopt == b"nomkstream":
            args.nomkstream = True
        elif xadd:
            parsed = parse_id(c, opt, 0, True, True)
            if parsed is None:
                return None
            args.id, args.seq_given = parsed
            args.id_given = True
            break
        else:
            c.error(SYNTAX_ERR)
            return None
        i += 1
    args.next_index = i
    if args.limit and args.strategy is None:
        c.error(b"ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
        return None
    if not xadd and args.strategy is None:
        c.error(b"ERR syntax error, XTRIM must be called with a trimming strategy")
        return None
    if must_obey(c):
        args.limit = 0
    elif args.approx:
        if not limit_given:
            args.limit = config_value(c, "stream-node-max-entries", 100) * 100
            if args.limit <= 0 or args.limit > 1000000:
                args.limit = 10000
    else:
        if limit_given:
            c.error(b"ERR syntax error, LIMIT cannot be used without the special ~ option")
            return None
        args.limit = 0
    return args


def trim_stream(s, args):
    deleted = s.trim(args.strategy, args.maxlen, args.minid, args.approx, args.limit)
    if not len(s):
        s.first_id = MIN_ID
    return deleted


def rewrite_trim_args(s, args, argv):
    """streamRewriteApproxSpecialArg + streamRewriteTrimArgument: '~ N' becomes '= <exact>'."""
    argv[args.arg_index - 1] = b"="
    argv[args.arg_index] = b"%d" % len(s) if args.strategy == "maxlen" else format_id(s.first_id)


def xadd_command(c, argv):
    args = parse_add_trim_args(c, argv, True)
    if args is None:
        return
    id_pos = args.next_index
    field_count = len(argv) - id_pos - 1
    if field_count < 2 or field_count % 2 == 1:
        c.error(b"ERR wrong number of arguments for 'xadd' command")
        return
    if args.id_given and args.seq_given and args.id == MIN_ID:
        c.error(b"ERR The ID specified in XADD must be greater than 0-0")
        return
    key = argv[1]
    ok, s = stream_for_write(c, key)
    if not ok:
        return
    if s is None:
        if args.nomkstream:
            c.reply.add_null()
            return
        s = StreamValue()
        c.db.add(key, s)
    if s.last_id == MAX_ID:
        c.error(b"ERR The stream has exhausted the last possible ID, unable to add more items")
        return
    if args.id_given:
        if args.seq_given:
            new_id = args.id
        elif s.last_id[0] == args.id[0]:
            if s.last_id[1] == U64_MAX:
                new_id = None
            else:
                new_id = (s.last_id[0], s.last_id[1] + 1)
        else:
            new_id = args.id
    else:
        now = c.ks.now_ms
        new_id = (now, 0) if now > s.last_id[0] else incr_id(s.last_id)
    if new_id is None or new_id <= s.last_id:
        c.error(b"ERR The ID specified in XADD is equal or smaller than the target stream top item")
        return
    max_bytes, max_entries = node_limits(c)
    s.append(new_id, argv[id_pos + 1:], max_bytes, max_entries)
    reply_id(c, new_id)
    c.dirty += 1
    notify(c, "t", b"xadd", key)
    effect = argv
    if not args.id_given or not args.seq_given:
        effect = list(argv)
        effect[id_pos] = format_id(new_id)
    if args.strategy is not None:
        if trim_stream(s, args):
            notify(c, "t", b"xtrim", key)
        if args.approx:
            effect = list(effect)
            rewrite_trim_args(s, args, effect)
    if effect is not argv:
        c.propagate_as(effect)
    signal_key_ready(c, key)


def xtrim_command(c, argv):
    ok, s = stream_for_write(c, argv[1])
    if not ok:
        return
    if s is None:
        c.reply.add_int(0)
        return
    args = parse_add_trim_args(c, argv, False)
    if args is None:
        return
    deleted = trim_stream(s, args)
    if deleted:
        notify(c, "t", b"xtrim", argv[1])
        if args.approx:
            effect = list(argv)
            rewrite_trim_args(s, args, effect)
            c.propagate_as(effect)
        c.dirty += deleted
    c.reply.add_int(deleted)


# --------------------------------------------------------------------------------------------------
# XLEN XRANGE XREVRANGE XDEL XSETID
# --------------------------------------------------------------------------------------------------
def xlen_command(c, argv):
    ok, s = stream_for_read(c, argv[1])
    if ok:
        c.reply.add_int(len(s) if s is not None else 0)


def xrange_generic(c, argv, rev):
    bounds = parse_range_bounds(c, argv[3], argv[2]) if rev else parse_range_bounds(c, argv[2], argv[3])
    if bounds is None:
        return
    start, end = bounds
    count = -1
    j = 4
    while j < len(argv):
        if argv[j].lower() == b"count" and j + 1 < len(argv):
            count = parse_int(c, argv[j + 1])
            if count is None:
                return
            if count < 0:
                count = 0
            j += 2
        else:
            c.error(SYNTAX_ERR)
            return
    ok, s = stream_for_read(c, argv[1])
    if not ok:
        return
    if s is None:
        c.reply.add_array_len(0)
        return
    if count == 0:
        c.reply.add_null_array()
        return
    s.reply_range(c.reply, start, end, 0 if count == -1 else count, rev)


def xrange_command(c, argv):
    xrange_generic(c, argv, False)


def xrevrange_command(c, argv):
    xrange_generic(c, argv, True)


def xdel_command(c, argv):
    ok, s = stream_for_write(c, argv[1])
    if not ok:
        return
    if s is None:
        c.reply.add_int(0)
        return
    ids = []
    for arg in argv[2:]:
        entry_id = parse_strict_id(c, arg)
        if entry_id is None:
            return
        ids.append(entry_id)
    deleted = 0
    first_entry = False
    for entry_id in ids:
        if s.delete(entry_id):
            if entry_id == s.first_id:
                first_entry = True
            if entry_id > s.max_deleted_id:
                s.max_deleted_id = entry_id
            deleted += 1
    if deleted:
        if not len(s):
            s.first_id = MIN_ID
        elif first_entry:
            s.first_id = s.first_live_id()
        notify(c, "t", b"xdel", argv[1])
        c.dirty += deleted
    c.reply.add_int(deleted)


def xsetid_command(c, argv):
    new_id = parse_strict_id(c, argv[2])
    if new_id is None:
        return
    entries_added = -1
    max_deleted = MIN_ID
    i = 3
    while i < len(argv):
        more = len(argv) - 1 - i
        opt = argv[i].lower()
        if opt == b"entriesadded" and more:
            entries_added = parse_int(c, argv[i + 1])
            if entries_added is None:
                return
            if entries_added < 0:
                c.error(b"ERR entries_added must be positive")
                return
            i += 2
        elif opt == b"maxdeletedid" and more:
            max_deleted = parse_strict_id(c, argv[i + 1])
            if max_deleted is None:
                return
            if new_id < max_deleted:
                c.error(b"ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
                return
            i += 2
        else:
            c.error(SYNTAX_ERR)
            return
    ok, s = stream_for_write(c, argv[1])
    if not ok:
        return
    if s is None:
        c.error(NO_SUCH_KEY)
        return
    if len(s):
        if new_id < s.last_valid_id():
            c.error(b"ERR The ID specified in XSETID is smaller than the target stream top item")
            return
        if entries_added != -1 and len(s) > entries_added:
            c.error(b"ERR The entries_added specified in XSETID is smaller than the target stream length")
            return
    s.last_id = new_id
    if entries_added != -1:
        s.entries_added = entries_added
    if max_deleted != MIN_ID:
        s.max_deleted_id = max_deleted
    notify(c, "t", b"xsetid", argv[1])
    c.dirty += 1
    c.reply.add_ok()


# --------------------------------------------------------------------------------------------------
# XREAD / XREADGROUP
# --------------------------------------------------------------------------------------------------
def xread_getkeys(argv):
    """redis xreadGetKeys: the keys are the first half of what follows STREAMS."""
    streams_pos = -1
    i = 1
    while i < len(argv):
        arg = argv[i].lower()
        if arg in (b"block", b"count"):
            i += 1
        elif arg == b"group":
            i += 2
        elif arg == b"noack":
            pass
        elif arg == b"streams":
            streams_pos = i
            break
        else:
            break
        i += 1
    num_keys = len(argv) - streams_pos - 1
    if streams_pos == -1 or num_keys == 0 or num_keys % 2:
        return []
    return list(range(streams_pos + 1, streams_pos + 1 + num_keys // 2))


def xread_generic(Client c, list argv, bint xreadgroup):
    timeout = -1
    count = 0
    streams_arg = 0
    streams_count = 0
    group_name = consumer_name = None
    noack = False
    argc = len(argv)
    i = 1
    while i < argc:
        more = argc - 1 - i
        opt = argv[i].lower()
        if opt == b"block" and more:
            if running_in_script(c):
                c.error(b"ERR " + argv[0] + b" command is not allowed with BLOCK option from scripts")  # as typed
                return
            i += 1
            timeout = parse_ll(argv[i])
            if timeout is None:
                c.error(b"ERR timeout is not an integer or out of range")
                return
            if timeout < 0:
                c.error(b"ERR timeout is negative")
                return
        elif opt == b"count" and more:
            i += 1
            count = parse_int(c, argv[i])
            if count is None:
                return
            if count < 0:
                count = 0
        elif opt == b"streams" and more:
            streams_arg = i + 1
            streams_count = argc - streams_arg
            if streams_count % 2:
                c.error(b"ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
                return
            streams_count //= 2
            break
        elif opt == b"group" and more >= 2:
            if not xreadgroup:
                c.error(b"ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
                return
            group_name, consumer_name = argv[i + 1], argv[i + 2]
            i += 2
        elif opt == b"noack":
            if not xreadgroup:
                c.error(b"ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
                return
            noack = True
        else:
            c.error(SYNTAX_ERR)
            return
        i += 1
    if streams_arg == 0:
        c.error(SYNTAX_ERR)
        return
    if xreadgroup and group_name is None:
        c.error(b"ERR Missing GROUP option for XREADGROUP")
        return

    # redis looks each stream up twice (lookupKeyRead while parsing the IDs, again while serving), so a missing
    # stream counts two keyspace_misses and raises "keymiss" twice; serving a blocked client looks up nothing
    # (serveClientsBlockedOnStreamKey), so the re-run of a blocked command counts nothing either
    retry = is_blocked_retry(c)
    streams, groups, ids = [], [], []
    for k in range(streams_count):
        key = argv[streams_arg + k]
        id_arg = argv[streams_arg + streams_count + k]
        ok, s = stream_lookup(c, key, retry)
        if not ok:
            return
        group = None
        if group_name is not None:
            group = s.groups.get(group_name) if s is not None else None
            if group is not None:
                # the read changes this group only: mem_estimate recounts it alone (unless another group
                # or any other command touched the groups since the last recount)
                if (<CStreamValue>s).dirty_group is None:
                    (<CStreamValue>s).dirty_group = group
                elif (<CStreamValue>s).dirty_group is not group:
                    (<CStreamValue>s).groups_dirty = True
            else:
                if is_blocked_retry(c) and s is not None:
                    c.error(b"NOGROUP the consumer group this client was blocked on no longer exists")
                else:
                    nogroup_error(c, key, group_name, b" in XREADGROUP with GROUP option")
                return
        if id_arg == b"$":
            if xreadgroup:
                c.error(b"ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history "
                        b"of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID "
                        b"would just return an empty result set.")
                return
            entry_id = s.last_id if s is not None else MIN_ID
        elif id_arg == b">":
            if not xreadgroup:
                c.error(b"ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
                        b"<consumer> option.")
                return
            entry_id = MAX_ID
        else:
            entry_id = parse_strict_id(c, id_arg)
            if entry_id is None:
                return
        streams.append(s)
        groups.append(group)
        ids.append(entry_id)

    now = c.ks.now_ms
    served = []          # (key, [(id, fields or None)])
    effects = [] if c.ks.effects.subscribers else None
    for k in range(streams_count):
        s = streams[k]
        key = argv[streams_arg + k]
        if not retry:
            if s is None:
                c.ks.stat_misses += 1
                if c.ks.notify_flags & NOTIFY_KEY_MISS:
                    notify_db(c.ks, "m", b"keymiss", key, c.db.id)
            else:
                c.ks.stat_hits += 1
        if s is None:
            continue
        group = groups[k]
        gt = ids[k]
        serve = history = False
        if group is not None:
            if gt != MAX_ID:
                serve = history = True
            elif len(s) and s.last_valid_id() > group.last_id:
                serve = True
                gt = group.last_id
        elif len(s) and s.last_valid_id() > gt:
            serve = True
        if not serve:
            continue
        start = incr_id(gt) or MAX_ID
        consumer = None
        if group is not None:
            consumer = group.consumers.get(consumer_name)
            if consumer is None:
                consumer = group.create_consumer(consumer_name, now)
                notify(c, "t", b"xgroup-createconsumer", key)
                c.dirty += 1
                if noack and effects is not None:
                    # no XCLAIM will follow to create it on replicas (redis streamPropagateConsumerCreation)
                    effects.append([b"XGROUP", b"CREATECONSUMER", key, group_name, consumer_name])
            consumer.seen_time = now
            c.dirty += 1
        if history:
            served.append((key, read_consumer_history(s, consumer, start, count, now)))
        elif group is not None:
            served.append((key, read_new_for_group(s, key, group_name, group, consumer, start, count, noack, now,
                                                   effects)))
        else:
            served.append((key, s.range(start, MAX_ID, count)))
    if xreadgroup:
        propagate_effects(c, effects or [])
    if not served:
        if timeout != -1 and block_for_streams(c, argv, streams_arg, streams_count, ids, group_name, timeout):
            return
        c.reply.add_null_array()
        return
    if c.reply.resp == 2:
        c.reply.add_array_len(len(served))
    else:
        c.reply.add_map_len(len(served))
    for key, entries in served:
        if c.reply.resp == 2:
            c.reply.add_array_len(2)
        c.reply.add_bulk(key)
        reply = <ReplyBuffer>c.reply
        reply.add_array_len(len(entries))
        for entry_id, fields_values in entries:
            if fields_values is None:
                reply.add_array_len(2)
                reply.add_bulk(format_id(entry_id))
                reply.add_null_array()
            else:
                write_entry(reply, entry_id, fields_values)


def running_in_script(c):
    """Whether c is the scripting engine's client (EVAL/FCALL), where BLOCK is refused."""
    if c.server is None:
        return False
    runner = c.server.extensions.get("scripting")
    return runner is not None and getattr(runner, "lua_client", None) is c


def is_blocked_retry(c):
    """True while the server re-runs this client's blocked command (engine/blocking.py)."""
    return getattr(c.blocked_state, "serving", False)


def block_for_streams(c, argv, streams_arg, streams_count, ids, group_name, timeout):
    """Park the client until one of the streams has something for it (False when it cannot block:
    inside MULTI/scripts Redis answers as if timed out at once)."""
    if c.server is None or c.deny_blocking:
        return False
    retry = list(argv)
    waits = {}
    for k in range(streams_count):
        key = argv[streams_arg + k]
        if group_name is None:
            # '$' means "newer than now": pin it so the retried command only sees entries added meanwhile
            retry[streams_arg + streams_count + k] = format_id(ids[k])
        waits.setdefault(key, ids[k])

    def ready_check(db, key):
        """What serveClientsBlockedOnStreamKey waits for: a newer entry, or the group gone (-NOGROUP)."""
        e = db.find(key)
        if e is None or type(e.value) is not StreamValue:
            return False
        s = e.value
        if group_name is not None:
            group = s.groups.get(group_name)
            return group is None or s.last_valid_id() > group.last_id
        return len(s) > 0 and s.last_valid_id() > waits.get(key, MAX_ID)

    keys = list(waits)
    blocking.block(c, keys, timeout, retry, value_type=b"stream", ready_check=ready_check)
    return True


def read_consumer_history(s, consumer, start, count, now):
    """streamReplyWithRangeFromConsumerPEL: the consumer's pending entries from start (deleted ones as None)."""
    out = []
    pel = consumer.pel
    pos = pel.index_ge(start)
    while pos < len(pel):
        if count and len(out) >= count:
            break
        entry_id = pel.key_at(pos)
        nack = pel.value_at(pos)
        pos += 1
        fields_values = s.get_entry(entry_id)
        if fields_values is not None:
            nack.delivery_time = now
            nack.delivery_count += 1
        out.append((entry_id, fields_values))
    return out


def read_new_for_group(CStreamValue s, key, group_name, CConsumerGroup group, Consumer consumer, start,
                       long long count, bint noack, long long now, effects):
    """streamReplyWithRange for a group: advance last_id/entries_read, record NACKs, collect XCLAIM effects
    (effects is None when nothing consumes the effect stream: no AOF, no replica)."""
    cdef list entries = s.range(start, MAX_ID, count)
    cdef bint propagate_last_id = False
    cdef SortedIds group_pel = group.pel
    cdef SortedIds consumer_pel = consumer.pel
    cdef CNACK nack
    for entry_id, _ in entries:
        if entry_id > group.last_id:
            if group.entries_read != SCG_INVALID_ENTRIES_READ and not s.range_has_tombstones(entry_id):
                group.entries_read += 1
            elif s.entries_added:
                group.entries_read = s.estimate_distance_from_first_ever_entry(entry_id)
            group.last_id = entry_id
            if noack:
                propagate_last_id = True
        if not noack:
            if not len(group_pel) or entry_id > group_pel.key_at(-1):
                # past every pending id of the group (so of the consumer too): a new NACK appended to both
                nack = CNACK(now, 1, consumer)
                group_pel.c_append(entry_id[0], entry_id[1], nack)
                consumer_pel.c_append(entry_id[0], entry_id[1], nack)
                if effects is not None:
                    effects.append(xclaim_effect(key, group_name, group, entry_id, nack))
                continue
            nack = group_pel.get(entry_id)
            if nack is None:
                nack = CNACK(now, 1, consumer)
                group_pel.insert(entry_id, nack)
            else:
                # XGROUP SETID can make an entry deliverable again: it moves to this consumer
                (<Consumer>nack.consumer).pel.remove(entry_id)
                nack.consumer = consumer
                nack.delivery_time = now
                nack.delivery_count = 1
            consumer_pel.insert(entry_id, nack)
            if effects is not None:
                effects.append(xclaim_effect(key, group_name, group, entry_id, nack))
    if propagate_last_id and effects is not None:
        effects.append(setid_effect(key, group_name, group))
    return entries


def xread_command(c, argv):
    xread_generic(c, argv, False)


def xreadgroup_command(c, argv):
    xread_generic(c, argv, True)


# --------------------------------------------------------------------------------------------------
# XGROUP
# --------------------------------------------------------------------------------------------------
def parse_entries_read(c, arg):
    v = parse_int(c, arg)
    if v is None:
        return None
    if v < 0 and v != SCG_INVALID_ENTRIES_READ:
        c.error(b"ERR value for ENTRIESREAD must be positive or -1")
        return None
    return v


def xgroup_prelude(c, argv):
    """The checks every XGROUP subcommand but HELP shares; (stream, group, entries_read) or None."""
    opt = argv[1].lower()
    mkstream = False
    entries_read = SCG_INVALID_ENTRIES_READ
    if opt in (b"create", b"setid") and len(argv) >= 5:
        i = 5
        while i < len(argv):
            word = argv[i].lower()
            if opt == b"create" and word == b"mkstream":
                mkstream = True
                i += 1
            elif word == b"entriesread" and i + 1 < len(argv):
                entries_read = parse_entries_read(c, argv[i + 1])
                if entries_read is None:
                    return None
                i += 2
            else:
                subcommand_syntax_error(c, argv)
                return None
    ok, s = stream_for_write(c, argv[2])
    if not ok:
        return None
    group = s.groups.get(argv[3]) if s is not None else None
    if not mkstream:
        if s is None:
            c.error(b"ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to "
                    b"use the MKSTREAM option to create an empty stream automatically.")
            return None
        if group is None and opt in (b"setid", b"createconsumer", b"delconsumer"):
            c.error(b"NOGROUP No such consumer group '" + argv[3] + b"' for key name '" + argv[2] + b"'")
            return None
    return s, group, entries_read


def xgroup_create_command(c, argv):
    prelude = xgroup_prelude(c, argv)
    if prelude is None:
        return
    s, group, entries_read = prelude
    if len(argv) > 8:
        subcommand_syntax_error(c, argv)
        return
    if argv[4] == b"$":
        last_id = s.last_id if s is not None else MIN_ID
    else:
        last_id = parse_strict_id(c, argv[4])
        if last_id is None:
            return
    if s is None:
        s = StreamValue()
        c.db.add(argv[2], s)
    if argv[3] in s.groups:
        c.error(b"BUSYGROUP Consumer Group name already exists")
        return
    s.groups[argv[3]] = ConsumerGroup(last_id, entries_read)
    c.dirty += 1
    notify(c, "t", b"xgroup-create", argv[2])
    c.reply.add_ok()


def xgroup_setid_command(c, argv):
    prelude = xgroup_prelude(c, argv)
    if prelude is None:
        return
    s, group, entries_read = prelude
    if len(argv) not in (5, 7):
        subcommand_syntax_error(c, argv)
        return
    if argv[4] == b"$":
        last_id = s.last_id
    else:
        parsed = parse_id(c, argv[4], 0)
        if parsed is None:
            return
        last_id = parsed[0]
    group.last_id = last_id
    group.entries_read = entries_read
    c.dirty += 1
    notify(c, "t", b"xgroup-setid", argv[2])
    c.reply.add_ok()


def xgroup_destroy_command(c, argv):
    prelude = xgroup_prelude(c, argv)
    if prelude is None:
        return
    s, group, _ = prelude
    if group is None:
        c.reply.add_int(0)
        return
    del s.groups[argv[3]]
    c.dirty += 1
    notify(c, "t", b"xgroup-destroy", argv[2])
    signal_key_ready(c, argv[2])      # blocked XREADGROUP readers must see -NOGROUP
    c.reply.add_int(1)


def xgroup_createconsumer_command(c, argv):
    prelude = xgroup_prelude(c, argv)
    if prelude is None:
        return
    _, group, _ = prelude
    if argv[4] in group.consumers:
        c.reply.add_int(0)
        return
    group.create_consumer(argv[4], c.ks.now_ms)
    c.dirty += 1
    notify(c, "t", b"xgroup-createconsumer", argv[2])
    c.reply.add_int(1)


def xgroup_delconsumer_command(c, argv):
    prelude = xgroup_prelude(c, argv)
    if prelude is None:
        return
    _, group, _ = prelude
    consumer = group.consumers.get(argv[4])
    pending = 0
    if consumer is not None:
        pending = len(consumer.pel)
        group.delete_consumer(consumer)
        c.dirty += 1
        notify(c, "t", b"xgroup-delconsumer", argv[2])
    c.reply.add_int(pending)


XGROUP_HELP = [
    b"XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CREATE <key> <groupname> <id|$> [option]",
    b"    Create a new consumer group. Options are:",
    b"    * MKSTREAM",
    b"      Create the empty stream if it does not exist.",
    b"    * ENTRIESREAD entries_read",
    b"      Set the group's entries_read counter (internal use).",
    b"CREATECONSUMER <key> <groupname> <consumer>",
    b"    Create a new consumer in the specified group.",
    b"DELCONSUMER <key> <groupname> <consumer>",
    b"    Remove the specified consumer.",
    b"DESTROY <key> <groupname>",
    b"    Remove the specified group.",
    b"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    b"    Set the current group ID and entries_read counter.",
    b"HELP",
    b"    Prints this help.",
]


def xgroup_help_command(c, argv):
    reply_help(c, XGROUP_HELP)


# --------------------------------------------------------------------------------------------------
# XACK XPENDING XCLAIM XAUTOCLAIM
# --------------------------------------------------------------------------------------------------
def xack_command(c, argv):
    ok, s = stream_for_read(c, argv[1])
    if not ok:
        return
    group = s.groups.get(argv[2]) if s is not None else None
    if group is None:
        c.reply.add_int(0)
        return
    ids = []
    for arg in argv[3:]:
        entry_id = parse_strict_id(c, arg)
        if entry_id is None:
            return
        ids.append(entry_id)
    acknowledged = 0
    for entry_id in ids:
        if group.ack(entry_id):
            acknowledged += 1
    c.dirty += acknowledged
    c.reply.add_int(acknowledged)


def xpending_command(c, argv):
    argc = len(argv)
    summary = argc == 3
    if argc != 3 and (argc < 6 or argc > 9):
        c.error(SYNTAX_ERR)
        return
    min_idle = 0
    count = 0
    consumer_name = None
    if argc >= 6:
        start_index = 3
        if argv[3].lower() == b"idle":
            min_idle = parse_int(c, argv[4])
            if min_idle is None:
                return
            if argc < 8:
                c.error(SYNTAX_ERR)
                return
            start_index += 2
        count = parse_int(c, argv[start_index + 2])
        if count is None:
            return
        if count < 0:
            count = 0
        bounds = parse_range_bounds(c, argv[start_index], argv[start_index + 1])
        if bounds is None:
            return
        start, end = bounds
        if start_index + 3 < argc:
            consumer_name = argv[start_index + 3]
    ok, s = stream_for_read(c, argv[1])
    if not ok:
        return
    group = s.groups.get(argv[2]) if s is not None else None
    if group is None:
        nogroup_error(c, argv[1], argv[2])
        return
    if summary:
        c.reply.add_array_len(4)
        c.reply.add_int(len(group.pel))
        if not group.pel:
            c.reply.add_null()
            c.reply.add_null()
            c.reply.add_null_array()
            return
        reply_id(c, group.pel.key_at(0))
        reply_id(c, group.pel.key_at(-1))
        owners = [cons for cons in group.sorted_consumers() if len(cons.pel)]
        c.reply.add_array_len(len(owners))
        for cons in owners:
            c.reply.add_array_len(2)
            c.reply.add_bulk(cons.name)
            c.reply.add_bulk(b"%d" % len(cons.pel))
        return
    if consumer_name is not None:
        consumer = group.consumers.get(consumer_name)
        if consumer is None:
            c.reply.add_array_len(0)
            return
        pel = consumer.pel
    else:
        pel = group.pel
    now = c.ks.now_ms
    rows = []
    pos = pel.index_ge(start)
    while pos < len(pel):
        entry_id = pel.key_at(pos)
        nack = pel.value_at(pos)
        pos += 1
        if not count or entry_id > end:
            break
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        rows.append((entry_id, nack))
        count -= 1
    c.reply.add_array_len(len(rows))
    for entry_id, nack in rows:
        c.reply.add_array_len(4)
        reply_id(c, entry_id)
        c.reply.add_bulk(nack.consumer.name)
        c.reply.add_int(max(0, now - nack.delivery_time))
        c.reply.add_int(nack.delivery_count)


def group_for_claim(c, argv):
    ok, s = stream_for_read(c, argv[1])
    if not ok:
        return None
    group = s.groups.get(argv[2]) if s is not None else None
    if group is None:
        nogroup_error(c, argv[1], argv[2])
        return None
    return s, group


def claiming_consumer(c, group, name, key):
    consumer = group.consumers.get(name)
    if consumer is None:
        consumer = group.create_consumer(name, c.ks.now_ms)
        notify(c, "t", b"xgroup-createconsumer", key)
        c.dirty += 1
    else:
        consumer.seen_time = c.ks.now_ms
    return consumer


def move_nack(group, entry_id, nack, consumer):
    if nack.consumer is not consumer:
        if nack.consumer is not None:
            nack.consumer.pel.remove(entry_id)
        consumer.pel.insert(entry_id, nack)
        nack.consumer = consumer


def drop_nack(group, entry_id, nack):
    group.pel.remove(entry_id)
    nack.consumer.pel.remove(entry_id)


def xclaim_command(c, argv):
    found = group_for_claim(c, argv)
    if found is None:
        return
    s, group = found
    min_idle = parse_int(c, argv[4], b"ERR Invalid min-idle-time argument for XCLAIM")
    if min_idle is None:
        return
    if min_idle < 0:
        min_idle = 0
    ids = []
    j = 5
    while j < len(argv):
        parsed = parse_id(None, argv[j], 0, True)
        if parsed is None:
            break
        ids.append(parsed[0])
        j += 1
    now = c.ks.now_ms
    delivery_time = -1
    retry_count = -1
    force = justid = False
    last_id = MIN_ID
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].lower()
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and more:
            j += 1
            v = parse_int(c, argv[j], b"ERR Invalid IDLE option argument for XCLAIM")
            if v is None:
                return
            delivery_time = now - v
        elif opt == b"time" and more:
            j += 1
            delivery_time = parse_int(c, argv[j], b"ERR Invalid TIME option argument for XCLAIM")
            if delivery_time is None:
                return
        elif opt == b"retrycount" and more:
            j += 1
            retry_count = parse_int(c, argv[j], b"ERR Invalid RETRYCOUNT option argument for XCLAIM")
            if retry_count is None:
                return
        elif opt == b"lastid" and more:
            j += 1
            last_id = parse_strict_id(c, argv[j])
            if last_id is None:
                return
        else:
            c.error(b"ERR Unrecognized XCLAIM option '" + argv[j] + b"'")
            return
        j += 1
    key, group_name = argv[1], argv[2]
    effects = []
    propagate_last_id = False
    if last_id > group.last_id:
        group.last_id = last_id
        propagate_last_id = True
    if delivery_time == -1 or delivery_time < 0 or delivery_time > now:
        delivery_time = now
    consumer = None
    claimed = []
    for entry_id in ids:
        nack = group.pel.get(entry_id)
        if s.get_entry(entry_id) is None:
            if nack is not None:
                # the entry was deleted: drop it from the PEL (and tell replicas to)
                effects.append(xclaim_effect(key, group_name, group, entry_id, nack))
                propagate_last_id = False
                c.dirty += 1
                drop_nack(group, entry_id, nack)
            continue
        if force and nack is None:
            nack = NACK(now, 0, None)
            group.pel.insert(entry_id, nack)
        if nack is None:
            continue
        if nack.consumer is not None and min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = claiming_consumer(c, group, argv[3], key)
        nack.delivery_time = delivery_time
        if retry_count >= 0:
            nack.delivery_count = retry_count
        elif not justid:
            nack.delivery_count += 1
        move_nack(group, entry_id, nack, consumer)
        claimed.append(entry_id)
        effects.append(xclaim_effect(key, group_name, group, entry_id, nack))
        propagate_last_id = False
        c.dirty += 1
    if propagate_last_id:
        effects.append(setid_effect(key, group_name, group))
        c.dirty += 1
    c.reply.add_array_len(len(claimed))
    for entry_id in claimed:
        if justid:
            reply_id(c, entry_id)
        else:
            reply_single_entry_or_null(c, s, entry_id)
    propagate_effects(c, effects)


def xautoclaim_command(c, argv):
    # unlike XCLAIM, every argument is checked before the key and group
    min_idle = parse_int(c, argv[4], b"ERR Invalid min-idle-time argument for XAUTOCLAIM")
    if min_idle is None:
        return
    if min_idle < 0:
        min_idle = 0
    parsed = parse_interval_id(None, argv[5], 0)
    if parsed is None or parsed[1]:
        c.error(INVALID_ID)
        return
    start = parsed[0]
    count = 100
    justid = False
    j = 6
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].lower()
        if opt == b"count" and more:
            v = parse_ll(argv[j + 1])
            if v is None or v < 1 or v > ((1 << 63) - 1) // 16:
                c.error(b"ERR COUNT must be > 0")
                return
            count = v
            j += 2
        elif opt == b"justid":
            justid = True
            j += 1
        else:
            c.error(SYNTAX_ERR)
            return
    found = group_for_claim(c, argv)
    if found is None:
        return
    s, group = found
    key, group_name = argv[1], argv[2]
    now = c.ks.now_ms
    attempts = count * 10
    consumer = None
    claimed, deleted_ids, effects = [], [], []
    keys = group.pel
    pos = keys.index_ge(start)
    while attempts and count and pos < len(keys):
        attempts -= 1
        entry_id = keys.key_at(pos)
        nack = keys.value_at(pos)
        if s.get_entry(entry_id) is None:
            effects.append(xclaim_effect(key, group_name, group, entry_id, nack))
            c.dirty += 1
            drop_nack(group, entry_id, nack)     # keys shifts down: pos now names the next entry
            deleted_ids.append(entry_id)
            count -= 1
            continue
        pos += 1
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = claiming_consumer(c, group, argv[3], key)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        move_nack(group, entry_id, nack, consumer)
        claimed.append(entry_id)
        count -= 1
        effects.append(xclaim_effect(key, group_name, group, entry_id, nack))
        c.dirty += 1
    cursor = keys.key_at(pos) if pos < len(keys) else MIN_ID
    c.reply.add_array_len(3)
    reply_id(c, cursor)
    c.reply.add_array_len(len(claimed))
    for entry_id in claimed:
        if justid:
            reply_id(c, entry_id)
        else:
            reply_single_entry_or_null(c, s, entry_id)
    c.reply.add_array_len(len(deleted_ids))
    for entry_id in deleted_ids:
        reply_id(c, entry_id)
    propagate_effects(c, effects)


# --------------------------------------------------------------------------------------------------
# XINFO
# --------------------------------------------------------------------------------------------------
def xinfo_stream_for(c, argv):
    ok, s = stream_for_read(c, argv[2])
    if not ok:
        return None
    if s is None:
        c.error(NO_SUCH_KEY)
        return None
    return s


def add_field(c, name):
    c.reply.add_bulk(name)


def reply_lag(c, s, group):
    lag = s.group_lag(group)
    if lag is None:
        c.reply.add_null()
    else:
        c.reply.add_int(lag)


def reply_entries_read(c, group):
    if group.entries_read == SCG_INVALID_ENTRIES_READ:
        c.reply.add_null()
    else:
        c.reply.add_int(group.entries_read)


def xinfo_consumers_command(c, argv):
    s = xinfo_stream_for(c, argv)
    if s is None:
        return
    group = s.groups.get(argv[3])
    if group is None:
        c.error(b"NOGROUP No such consumer group '" + argv[3] + b"' for key name '" + argv[2] + b"'")
        return
    now = c.ks.now_ms
    consumers = group.sorted_consumers()
    c.reply.add_array_len(len(consumers))
    for consumer in consumers:
        c.reply.add_map_len(3)
        add_field(c, b"name")
        c.reply.add_bulk(consumer.name)
        add_field(c, b"pending")
        c.reply.add_int(len(consumer.pel))
        add_field(c, b"idle")
        c.reply.add_int(max(0, now - consumer.seen_time))


def xinfo_groups_command(c, argv):
    s = xinfo_stream_for(c, argv)
    if s is None:
        return
    groups = s.sorted_groups()
    c.reply.add_array_len(len(groups))
    for name, group in groups:
        c.reply.add_map_len(6)
        add_field(c, b"name")
        c.reply.add_bulk(name)
        add_field(c, b"consumers")
        c.reply.add_int(len(group.consumers))
        add_field(c, b"pending")
        c.reply.add_int(len(group.pel))
        add_field(c, b"last-delivered-id")
        reply_id(c, group.last_id)
        add_field(c, b"entries-read")
        reply_entries_read(c, group)
        add_field(c, b"lag")
        reply_lag(c, s, group)


def xinfo_stream_command(c, argv):
    s = xinfo_stream_for(c, argv)
    if s is None:
        return
    argc = len(argv)
    if argc not in (3, 4, 6):
        subcommand_syntax_error(c, argv)
        return
    full = False
    count = 10
    if argc > 3:
        if argv[3].lower() != b"full":
            subcommand_syntax_error(c, argv)
            return
        if argc == 6:
            if argv[4].lower() != b"count":
                subcommand_syntax_error(c, argv)
                return
            count = parse_int(c, argv[5])
            if count is None:
                return
            if count < 0:
                count = 10
        full = True
    c.reply.add_map_len(9 if full else 10)
    add_field(c, b"length")
    c.reply.add_int(len(s))
    add_field(c, b"radix-tree-keys")
    c.reply.add_int(len(s.nodes))
    add_field(c, b"radix-tree-nodes")
    c.reply.add_int(s.rax_node_count())
    add_field(c, b"last-generated-id")
    reply_id(c, s.last_id)
    add_field(c, b"max-deleted-entry-id")
    reply_id(c, s.max_deleted_id)
    add_field(c, b"entries-added")
    c.reply.add_int(s.entries_added)
    add_field(c, b"recorded-first-entry-id")
    reply_id(c, s.first_id)
    if not full:
        add_field(c, b"groups")
        c.reply.add_int(len(s.groups))
        add_field(c, b"first-entry")
        first = s.first_entry()
        if first is not None:
            reply_entry(c, first[0], first[1])
        else:
            c.reply.add_null()
        add_field(c, b"last-entry")
        last = s.last_entry()
        if last is not None:
            reply_entry(c, last[0], last[1])
        else:
            c.reply.add_null()
        return
    add_field(c, b"entries")
    s.reply_range(c.reply, MIN_ID, MAX_ID, count)
    add_field(c, b"groups")
    groups = s.sorted_groups()
    c.reply.add_array_len(len(groups))
    for name, group in groups:
        c.reply.add_map_len(7)
        add_field(c, b"name")
        c.reply.add_bulk(name)
        add_field(c, b"last-delivered-id")
        reply_id(c, group.last_id)
        add_field(c, b"entries-read")
        reply_entries_read(c, group)
        add_field(c, b"lag")
        reply_lag(c, s, group)
        add_field(c, b"pel-count")
        c.reply.add_int(len(group.pel))
        add_field(c, b"pending")
        npel = min(count, len(group.pel)) if count else len(group.pel)
        c.reply.add_array_len(npel)
        for pos in range(npel):
            entry_id = group.pel.key_at(pos)
            nack = group.pel.value_at(pos)
            c.reply.add_array_len(4)
            reply_id(c, entry_id)
            c.reply.add_bulk(nack.consumer.name)
            c.reply.add_int(nack.delivery_time)
            c.reply.add_int(nack.delivery_count)
        add_field(c, b"consumers")
        consumers = group.sorted_consumers()
        c.reply.add_array_len(len(consumers))
        for consumer in consumers:
            c.reply.add_map_len(4)
            add_field(c, b"name")
            c.reply.add_bulk(consumer.name)
            add_field(c, b"seen-time")
            c.reply.add_int(consumer.seen_time)
            add_field(c, b"pel-count")
            c.reply.add_int(len(consumer.pel))
            add_field(c, b"pending")
            npel = min(count, len(consumer.pel)) if count else len(consumer.pel)
            c.reply.add_array_len(npel)
            for pos in range(npel):
                entry_id = consumer.pel.key_at(pos)
                nack = consumer.pel.value_at(pos)
                c.reply.add_array_len(3)
                reply_id(c, entry_id)
                c.reply.add_int(nack.delivery_time)
                c.reply.add_int(nack.delivery_count)


XINFO_HELP = [
    b"XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CONSUMERS <key> <groupname>",
    b"    Show consumers of <groupname>.",
    b"GROUPS <key>",
    b"    Show the stream consumer groups.",
    b"STREAM <key> [FULL [COUNT <count>]",
    b"    Show information about the stream.",
    b"HELP",
    b"    Prints this help.",
]


def xinfo_help_command(c, argv):
    reply_help(c, XINFO_HELP)


# --------------------------------------------------------------------------------------------------
# Declarations (tools/specgen.py against redis-server 7.0.15)
# --------------------------------------------------------------------------------------------------
command(
    "xadd", -5, "write denyoom fast", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "notes": "UPDATE instead of INSERT because of the optional trimming feature",
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Appends a new entry to a stream",
        "since": "5.0.0",
        "group": "stream",
        "complexity": (
            "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted."
        ),
        "history": [
            ["6.2.0", "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option."],
            ["7.0.0", "Added support for the `<ms>-*` explicit ID form."],
        ],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "nomkstream",
                "type": "pure-token",
                "token": "NOMKSTREAM",
                "since": "6.2.0",
                "flags": ["optional"],
            },
            {
                "name": "trim",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {
                        "name": "strategy",
                        "type": "oneof",
                        "arguments": [
                            {"name": "maxlen", "type": "pure-token", "token": "MAXLEN"},
                            {"name": "minid", "type": "pure-token", "token": "MINID", "since": "6.2.0"},
                        ],
                    },
                    {
                        "name": "operator",
                        "type": "oneof",
                        "flags": ["optional"],
                        "arguments": [
                            {"name": "equal", "type": "pure-token", "token": "="},
                            {"name": "approximately", "type": "pure-token", "token": "~"},
                        ],
                    },
                    {"name": "threshold", "type": "string"},
                    {
                        "name": "count",
                        "type": "integer",
                        "token": "LIMIT",
                        "since": "6.2.0",
                        "flags": ["optional"],
                    },
                ],
            },
            {
                "name": "id_or_auto",
                "type": "oneof",
                "arguments": [
                    {"name": "auto_id", "type": "pure-token", "token": "*"},
                    {"name": "id", "type": "string"},
                ],
            },
            {
                "name": "field_value",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [{"name": "field", "type": "string"}, {"name": "value", "type": "string"}],
            },
        ],
    },
)(xadd_command)


command(
    "xlen", 2, "readonly fast", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Return the number of entries in a stream",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)(xlen_command)


command(
    "xrange", -4, "readonly", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Return a range of elements in a stream, with IDs matching the specified IDs interval",
        "since": "5.0.0",
        "group": "stream",
        "complexity": (
            "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking "
            "for the first 10 elements with COUNT), you can consider it O(1)."
        ),
        "history": [["6.2.0", "Added exclusive ranges."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "start", "type": "string"},
            {"name": "end", "type": "string"},
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
        ],
    },
)(xrange_command)


command(
    "xrevrange", -4, "readonly", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Return a range of elements in a stream, with IDs matching the specified IDs interval, in "
            "reverse order (from greater to smaller IDs) compared to XRANGE"
        ),
        "since": "5.0.0",
        "group": "stream",
        "complexity": (
            "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the "
            "first 10 elements with COUNT), you can consider it O(1)."
        ),
        "history": [["6.2.0", "Added exclusive ranges."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "end", "type": "string"},
            {"name": "start", "type": "string"},
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
        ],
    },
)(xrevrange_command)


command(
    "xdel", -3, "write fast", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Removes the specified entries from the stream. Returns the number of items actually deleted, "
            "that may be different from the number of IDs passed in case certain IDs do not exist."
        ),
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1) for each single item to delete in the stream, regardless of the stream size.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "id", "type": "string", "flags": ["multiple"]},
        ],
    },
)(xdel_command)


command(
    "xtrim", -4, "write", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "Trims the stream to (approximately if '~' is passed) a certain size",
        "since": "5.0.0",
        "group": "stream",
        "complexity": (
            "O(N), with N being the number of evicted entries. Constant times are very small however, since "
            "entries are organized in macro nodes containing multiple entries that can be released with a "
            "single deallocation."
        ),
        "history": [["6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "trim",
                "type": "block",
                "arguments": [
                    {
                        "name": "strategy",
                        "type": "oneof",
                        "arguments": [
                            {"name": "maxlen", "type": "pure-token", "token": "MAXLEN"},
                            {"name": "minid", "type": "pure-token", "token": "MINID", "since": "6.2.0"},
                        ],
                    },
                    {
                        "name": "operator",
                        "type": "oneof",
                        "flags": ["optional"],
                        "arguments": [
                            {"name": "equal", "type": "pure-token", "token": "="},
                            {"name": "approximately", "type": "pure-token", "token": "~"},
                        ],
                    },
                    {"name": "threshold", "type": "string"},
                    {
                        "name": "count",
                        "type": "integer",
                        "token": "LIMIT",
                        "since": "6.2.0",
                        "flags": ["optional"],
                    },
                ],
            },
        ],
    },
)(xtrim_command)


command(
    "xread", -4, "readonly blocking movablekeys", acl="stream", getkeys=xread_getkeys,
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "keyword", "spec": {"keyword": "STREAMS", "startfrom": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 2}},
        },
    ],
    docs={
        "summary": (
            "Return never seen elements in multiple streams, with IDs greater than the ones reported by the "
            "caller for each stream. Can block."
        ),
        "since": "5.0.0",
        "group": "stream",
        "complexity": (
            "For each stream mentioned: O(N) with N being the number of elements being returned, it means "
            "that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will "
            "pay O(M) time in order to serve the M clients blocked on the stream getting new data."
        ),
        "arguments": [
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
            {"name": "milliseconds", "type": "integer", "token": "BLOCK", "flags": ["optional"]},
            {
                "name": "streams",
                "type": "block",
                "token": "STREAMS",
                "arguments": [
                    {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
                    {"name": "id", "type": "string", "flags": ["multiple"]},
                ],
            },
        ],
    },
)(xread_command)


container(
    "xgroup",
    docs={
        "summary": "A container for consumer groups commands",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "Depends on subcommand.",
    },
)


command(
    "xgroup|create", -5, "write denyoom", acl="stream", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Create a consumer group.",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1)",
        "history": [["7.0.0", "Added the `entries_read` named argument."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "groupname", "type": "string"},
            {
                "name": "id",
                "type": "oneof",
                "arguments": [
                    {"name": "id", "type": "string"},
                    {"name": "new_id", "type": "pure-token", "token": "$"},
                ],
            },
            {"name": "mkstream", "type": "pure-token", "token": "MKSTREAM", "flags": ["optional"]},
            {"name": "entries_read", "type": "integer", "token": "ENTRIESREAD", "flags": ["optional"]},
        ],
    },
)(xgroup_create_command)


command(
    "xgroup|createconsumer", 5, "write denyoom", acl="stream", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "insert"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Create a consumer in a consumer group.",
        "since": "6.2.0",
        "group": "stream",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "groupname", "type": "string"},
            {"name": "consumername", "type": "string"},
        ],
    },
)(xgroup_createconsumer_command)


command(
    "xgroup|delconsumer", 5, "write", acl="stream", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Delete a consumer from a consumer group.",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "groupname", "type": "string"},
            {"name": "consumername", "type": "string"},
        ],
    },
)(xgroup_delconsumer_command)


command(
    "xgroup|destroy", 4, "write", acl="stream", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Destroy a consumer group.",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(N) where N is the number of entries in the group's pending entries list (PEL).",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "groupname", "type": "string"},
        ],
    },
)(xgroup_destroy_command)


command(
    "xgroup|help", 2, "loading stale", acl="stream",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1)",
    },
)(xgroup_help_command)


command(
    "xgroup|setid", -5, "write", acl="stream", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Set a consumer group to an arbitrary last delivered ID value.",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1)",
        "history": [["7.0.0", "Added the optional `entries_read` argument."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "groupname", "type": "string"},
            {
                "name": "id",
                "type": "oneof",
                "arguments": [
                    {"name": "id", "type": "string"},
                    {"name": "new_id", "type": "pure-token", "token": "$"},
                ],
            },
            {"name": "entries_read", "type": "integer", "token": "ENTRIESREAD", "flags": ["optional"]},
        ],
    },
)(xgroup_setid_command)


command(
    "xreadgroup", -7, "write blocking movablekeys", acl="stream", getkeys=xread_getkeys,
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "keyword", "spec": {"keyword": "STREAMS", "startfrom": 4}},
            "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 2}},
        },
    ],
    docs={
        "summary": (
            "Return new entries from a stream using a consumer group, or access the history of the pending "
            "entries for a given consumer. Can block."
        ),
        "since": "5.0.0",
        "group": "stream",
        "complexity": (
            "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant "
            "(e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the "
            "other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients "
            "blocked on the stream getting new data."
        ),
        "arguments": [
            {
                "name": "group_consumer",
                "type": "block",
                "token": "GROUP",
                "arguments": [{"name": "group", "type": "string"}, {"name": "consumer", "type": "string"}],
            },
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
            {"name": "milliseconds", "type": "integer", "token": "BLOCK", "flags": ["optional"]},
            {"name": "noack", "type": "pure-token", "token": "NOACK", "flags": ["optional"]},
            {
                "name": "streams",
                "type": "block",
                "token": "STREAMS",
                "arguments": [
                    {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]},
                    {"name": "id", "type": "string", "flags": ["multiple"]},
                ],
            },
        ],
    },
)(xreadgroup_command)


command(
    "xack", -4, "write fast", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Marks a pending message as correctly processed, effectively removing it from the pending "
            "entries list of the consumer group. Return value of the command is the number of messages "
            "successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL."
        ),
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1) for each message ID processed.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "group", "type": "string"},
            {"name": "id", "type": "string", "flags": ["multiple"]},
        ],
    },
)(xack_command)


command(
    "xpending", -3, "readonly", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": (
            "Return information and entries from a stream consumer group pending entries list, that are "
            "messages fetched but never acknowledged."
        ),
        "since": "5.0.0",
        "group": "stream",
        "complexity": (
            "O(N) with N being the number of elements returned, so asking for a small fixed number of "
            "entries per call is O(1). O(M), where M is the total number of entries scanned when used with "
            "the IDLE filter. When the command returns just the summary and the list of consumers is small, "
            "it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer."
        ),
        "history": [["6.2.0", "Added the `IDLE` option and exclusive range intervals."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "group", "type": "string"},
            {
                "name": "filters",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {
                        "name": "min-idle-time",
                        "type": "integer",
                        "token": "IDLE",
                        "since": "6.2.0",
                        "flags": ["optional"],
                    },
                    {"name": "start", "type": "string"},
                    {"name": "end", "type": "string"},
                    {"name": "count", "type": "integer"},
                    {"name": "consumer", "type": "string", "flags": ["optional"]},
                ],
            },
        ],
    },
)(xpending_command)


command(
    "xclaim", -6, "write fast", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": (
            "Changes (or acquires) ownership of a message in a consumer group, as if the message was "
            "delivered to the specified consumer."
        ),
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(log N) with N being the number of messages in the PEL of the consumer group.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "group", "type": "string"},
            {"name": "consumer", "type": "string"},
            {"name": "min-idle-time", "type": "string"},
            {"name": "id", "type": "string", "flags": ["multiple"]},
            {"name": "ms", "type": "integer", "token": "IDLE", "flags": ["optional"]},
            {"name": "unix-time-milliseconds", "type": "unix-time", "token": "TIME", "flags": ["optional"]},
            {"name": "count", "type": "integer", "token": "RETRYCOUNT", "flags": ["optional"]},
            {"name": "force", "type": "pure-token", "token": "FORCE", "flags": ["optional"]},
            {"name": "justid", "type": "pure-token", "token": "JUSTID", "flags": ["optional"]},
            {"name": "id", "type": "string", "token": "LASTID", "flags": ["optional"]},
        ],
    },
)(xclaim_command)


command(
    "xautoclaim", -6, "write fast", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "delete"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": (
            "Changes (or acquires) ownership of messages in a consumer group, as if the messages were "
            "delivered to the specified consumer."
        ),
        "since": "6.2.0",
        "group": "stream",
        "complexity": "O(1) if COUNT is small.",
        "history": [
            [
                "7.0.0",
                (
                    "Added an element to the reply array, containing deleted entries the command cleared "
                    "from the PEL"
                ),
            ],
        ],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "group", "type": "string"},
            {"name": "consumer", "type": "string"},
            {"name": "min-idle-time", "type": "string"},
            {"name": "start", "type": "string"},
            {"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]},
            {"name": "justid", "type": "pure-token", "token": "JUSTID", "flags": ["optional"]},
        ],
    },
)(xautoclaim_command)


container(
    "xinfo",
    docs={
        "summary": "A container for stream introspection commands",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "Depends on subcommand.",
    },
)


command(
    "xinfo|consumers", 4, "readonly", acl="stream", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    tips=("nondeterministic_output",),
    docs={
        "summary": "List the consumers in a consumer group",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "groupname", "type": "string"},
        ],
    },
)(xinfo_consumers_command)


command(
    "xinfo|groups", 3, "readonly", acl="stream", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "List the consumer groups of a stream",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1)",
        "history": [["7.0.0", "Added the `entries-read` and `lag` fields"]],
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
)(xinfo_groups_command)


command(
    "xinfo|help", 2, "loading stale", acl="stream",
    docs={
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1)",
    },
)(xinfo_help_command)


command(
    "xinfo|stream", -3, "readonly", acl="stream", keys=(2, 2, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Get information about a stream",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1)",
        "history": [
            ["6.0.0", "Added the `FULL` modifier."],
            [
                "7.0.0",
                (
                    "Added the `max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`, "
                    "`entries-read` and `lag` fields"
                ),
            ],
        ],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "full",
                "type": "block",
                "token": "FULL",
                "flags": ["optional"],
                "arguments": [{"name": "count", "type": "integer", "token": "COUNT", "flags": ["optional"]}],
            },
        ],
    },
)(xinfo_stream_command)


command(
    "xsetid", -3, "write denyoom fast", acl="stream", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "An internal command for replicating stream values",
        "since": "5.0.0",
        "group": "stream",
        "complexity": "O(1)",
        "history": [["7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "last-id", "type": "string"},
            {
                "name": "entries_added",
                "type": "integer",
                "token": "ENTRIESADDED",
                "since": "7.0.0",
                "flags": ["optional"],
            },
            {
                "name": "max_deleted_entry_id",
                "type": "string",
                "token": "MAXDELETEDID",
                "since": "7.0.0",
                "flags": ["optional"],
            },
        ],
    },
)(xsetid_command)


# --------------------------------------------------------------------------------------------------
# compiled fast paths (bound with bind_fast: the dispatcher calls them as C functions)
# --------------------------------------------------------------------------------------------------
cdef bytes STAR = b"*"
cdef bytes EV_XADD = b"xadd"
cdef object STREAM_TYPE = StreamValue
from engine.context import ServerContext as _ServerContext
cdef object CONTEXT_SIGNAL = _ServerContext.signal_key_ready     # inlined by xadd_impl unless overridden


cdef inline void account_key(Client c, bytes key):
    """What the dispatcher's account_keys does for XADD's key (XADD is bound with bind_cost)."""
    cdef Db db = c.db
    cdef cm_rec* r = db.rec_find(key)
    if r != NULL:
        db.rec_account(r)


cdef object xadd_impl(Client c, list argv):
    """XADD key * field value [field value ...]: the slow path's steps in its order (lookup for write,
    WRONGTYPE, the new key, the id, the append, the reply, dirty, "xadd", the effect with the id, the
    blocked clients' wakeup); any option (NOMKSTREAM, MAXLEN/MINID, LIMIT) or an explicit id runs
    xadd_command.  Memory: XADD is bound with bind_cost; the append adjusts the key's accounted bytes by
    the change of the stream's node estimate (O(1)), a new stream and the slow path are re-estimated."""
    cdef Py_ssize_t argc = len(argv)
    cdef Db db = c.db
    cdef cm_rec* r
    cdef CStreamValue s
    cdef object last, new_id
    cdef unsigned long long lms, lseq
    cdef long long max_bytes = 4096, max_entries = 100, before, dirty
    cdef bint created = False
    cdef list effect
    cdef bytes key
    if argc < 5 or (argc - 3) & 1 or <bytes>argv[2] != STAR:
        dirty = c.dirty
        xadd_command(c, argv)
        if c.dirty != dirty and argc > 1:
            account_key(c, <bytes>argv[1])
        return None
    key = <bytes>argv[1]
    r = db.rec_lookup(key, False)
    if r == NULL:
        s = CStreamValue()
        r = db.rec_add(key, s)
        created = True
    else:
        v = <object>rec_obj(r) if r.flags & CM_BOXED else None
        if type(v) is not STREAM_TYPE:
            c.error(WRONGTYPE)
            return None
        s = <CStreamValue>v
    last = s.last_id
    lms = last[0]
    lseq = last[1]
    if lms == U64_MAX_C and lseq == U64_MAX_C:
        c.error(b"ERR The stream has exhausted the last possible ID, unable to add more items")
        return None
    now = c.ks.now_ms
    # streamIncrID / the '*' id, as incr_id does (the id is then always above the last one)
    if now > 0 and <unsigned long long>now > lms:
        new_id = (<unsigned long long>now, 0)
    elif lseq == U64_MAX_C:
        new_id = (lms + 1, 0)
    else:
        new_id = (lms, lseq + 1)
    if c.server is not None:
        values = c.server.config._values          # what config.scalar(name) reads, without its Python frame
        max_bytes = (<dict>values)["stream-node-max-bytes"]
        max_entries = (<dict>values)["stream-node-max-entries"]
    before = s.nodes_mem + len(s.nodes) * 40
    s.append_at(<tuple>new_id, argv, 3, max_bytes, max_entries)
    if created:
        db.rec_account(r)
    else:
        rec_cost_add(db, r, s.nodes_mem + len(s.nodes) * 40 - before)
    id_bytes = format_id(<tuple>new_id)
    c.reply.add_bulk(id_bytes)
    c.dirty += 1
    if c.ks.notify_flags:
        notify(c, "t", EV_XADD, key)
    if c.ks.effects.subscribers:
        # the effect names the id (with no AOF and no replica nothing reads it: argv, as the dispatcher would)
        effect = list(argv)
        effect[2] = id_bytes
        c.propagate_as(effect)
    # blocking.signal_key_ready -> ServerContext.signal_key_ready, inlined: the blocked-clients registry, if any
    server = c.server if c.server is not None else c.ks.server
    if server is not None:
        if type(server).signal_key_ready is CONTEXT_SIGNAL:
            waiting = server.extensions.get("blocking")
            if waiting is not None and getattr(waiting, "waiting", True):   # nobody blocked: nothing to do
                waiting.signal_key_ready(c, key)
        else:
            server.signal_key_ready(c, key)
    return None


bind_fast(b"xadd", xadd_impl)
bind_cost(b"xadd")


cdef bytes GT_ID = b">"
cdef bytes EV_CREATECONSUMER = b"xgroup-createconsumer"


cdef inline bint is_word(bytes arg, const char* lower, Py_ssize_t n) noexcept:
    """arg equals the lower-case ASCII word `lower` (n bytes) ignoring case."""
    cdef const char* p = arg
    cdef Py_ssize_t i
    if len(arg) != n:
        return False
    for i in range(n):
        if (p[i] | 0x20) != lower[i]:
            return False
    return True


cdef object xreadgroup_slow(Client c, list argv):
    """The generic XREADGROUP (xread_generic), then the accounting the dispatcher would have done (XREADGROUP
    is bound with bind_cost): every key it names, re-estimated when it changed something."""
    cdef long long dirty = c.dirty
    xread_generic(c, argv, True)
    if c.dirty != dirty:
        for i in xread_getkeys(argv):
            account_key(c, <bytes>argv[i])
    return None


cdef object xreadgroup_impl(Client c, list argv):
    """XREADGROUP GROUP g c [COUNT n] [BLOCK ms] STREAMS key > on one existing stream and group, without NOACK
    (BLOCK only when there is something to serve),
    when every pending id of the group is at or below its last-delivered id (so the new NACKs go at the end of
    both PELs): xread_generic's steps in its order (the lookup counted as a hit twice, the consumer created
    with its notification, seen-time, the entries written from the nodes into the reply, the PEL, last_id and
    entries_read, one XCLAIM effect per entry when something reads the effect stream).  Any other form, a
    missing key or group, a key with a TTL, another type, or a blocked client's re-run: xreadgroup_slow.
    Memory: bound with bind_cost; the read adds its PEL entries' and new consumer's share of mem_estimate."""
    cdef Py_ssize_t argc = len(argv)
    cdef long long count = 0, now, n, delta
    cdef Db db = c.db
    cdef cm_rec* r
    cdef CStreamValue s
    cdef CConsumerGroup group
    cdef Consumer consumer
    cdef SortedIds gpel
    cdef ReplyBuffer reply
    cdef bytes key
    cdef bint created = False
    cdef list served = None
    cdef unsigned long long gms, gseq, vms, vseq
    cdef Py_ssize_t i
    cdef bint block = False
    if argc < 7 or argc > 11 or argc & 1 == 0 or <bytes>argv[argc - 1] != GT_ID or c.blocked_state is not None \
            or not is_word(<bytes>argv[1], "group", 5) or not is_word(<bytes>argv[argc - 3], "streams", 7):
        return xreadgroup_slow(c, argv)
    i = 4
    while i < argc - 3:                     # COUNT n and BLOCK ms, once each, in any order
        if is_word(<bytes>argv[i], "count", 5):
            v = parse_ll(argv[i + 1])
            if v is None:
                return xreadgroup_slow(c, argv)
            count = v if v > 0 else 0
        elif is_word(<bytes>argv[i], "block", 5) and not block:
            v = parse_ll(argv[i + 1])
            if v is None or v < 0 or running_in_script(c):
                return xreadgroup_slow(c, argv)    # the errors are the generic path's
            block = True
        else:
            return xreadgroup_slow(c, argv)
        i += 2
    key = <bytes>argv[argc - 2]
    r = db.rec_find(key)
    if r == NULL or r.vslot >= 0 or not (r.flags & CM_BOXED):
        return xreadgroup_slow(c, argv)
    v = <object>rec_obj(r)
    if type(v) is not STREAM_TYPE:
        return xreadgroup_slow(c, argv)
    s = <CStreamValue>v
    g = s.groups.get(argv[2])
    if g is None:
        return xreadgroup_slow(c, argv)
    group = <CConsumerGroup>g
    gpel = group.pel
    gms = group.last_id[0]
    gseq = group.last_id[1]
    if len(gpel):
        # a pending id above last_id (XGROUP SETID back, XCLAIM FORCE): the generic path re-delivers it
        last_pending = gpel.key_at(-1)
        vms = last_pending[0]
        vseq = last_pending[1]
        if vms > gms or (vms == gms and vseq > gseq):
            return xreadgroup_slow(c, argv)
    serve = False
    if s.length:
        last_valid = s.last_live
        vms = last_valid[0]
        vseq = last_valid[1]
        serve = vms > gms or (vms == gms and vseq > gseq)
    if not serve and block:
        return xreadgroup_slow(c, argv)         # it blocks (or answers as timed out in MULTI/scripts)
    # from here on, what xread_generic does for this form
    db.rec_lookup(key, True)                # lookupKeyRead: a hit (no TTL, so no expiry), the LRU/LFU touch
    c.ks.stat_hits += 1                     # redis looks the stream up a second time while serving
    if not serve:
        c.prevent_propagation()
        c.reply.add_null_array()
        return None
    now = c.ks.now_ms
    cname = argv[3]
    cons = group.consumers.get(cname)
    if cons is None:
        cons = group.create_consumer(cname, now)
        if c.ks.notify_flags:
            notify(c, "t", EV_CREATECONSUMER, key)
        c.dirty += 1
        created = True
    consumer = <Consumer>cons
    consumer.seen_time = now
    c.dirty += 1
    if c.ks.effects.subscribers:
        served = []
    reply = c.reply
    if reply.resp == 2:
        reply.add_array_len(1)
        reply.add_array_len(2)
    else:
        reply.add_map_len(1)
    reply.add_bulk(key)
    n = s.read_group_new(group, consumer, count, now, reply, served)
    if served:
        group_name = argv[2]
        propagate_effects(c, [xclaim_effect_at(key, group_name, entry_id, nack) for entry_id, nack in served])
    else:
        c.prevent_propagation()
    # memory: mem_estimate's groups share grows by 130 per PEL entry and 100 per consumer
    delta = n * 130 + (100 if created else 0)
    group.mem_cached += delta
    s.groups_mem += delta
    r = db.rec_find(key)
    if r != NULL:
        rec_cost_add(db, r, delta)
    return None


def xclaim_effect_at(key, group_name, entry_id, nack):
    """xclaim_effect for a `>` read, where the group's last id was this entry's when it was served."""
    id_bytes = format_id(entry_id)
    return [b"XCLAIM", key, group_name, nack.consumer.name, b"0", id_bytes, b"TIME",
            b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count, b"FORCE", b"JUSTID",
            b"LASTID", id_bytes]


bind_fast(b"xreadgroup", xreadgroup_impl)
bind_cost(b"xreadgroup")
