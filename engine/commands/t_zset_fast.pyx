# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled fast paths of the hot sorted-set commands (redis 7.0 t_zset.c), bound to the dispatcher with
bind_fast so it calls them as C functions.

The plain forms run here: `ZADD key score member [score member ...]` (no NX/XX/GT/LT/CH/INCR), ZINCRBY,
ZSCORE, ZREM, ZCARD, ZRANK, ZREVRANK and ZPOPMIN/ZPOPMAX without a count. Every other form (flags, counts,
an odd argument count) goes to the Python handler of engine/commands/t_zset.py unchanged, so its error
texts and order stay the reference. Each fast handler makes the slow path's checks in the same order:
scores parsed before the key is looked up (NOT_FLOAT first), WRONGTYPE, the listpack -> skiplist
conversion rules and -0.0 normalisation of ZSetValue.insert, the "zadd"/"zincr"/"zrem"/"zpopmin"/"del"
notifications, BZPOPMIN wakeups when a key is created, c.dirty. The dispatcher's call() does the rest for
fast and slow handlers alike: OOM and ACL before the call, then the effect stream (replication, AOF),
WATCH and tracking invalidation (on_key_modified) and the memory re-estimate (O(1): ZSet.mem_estimate).
"""
from cpython.object cimport PyObject
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.ref cimport Py_INCREF, Py_DECREF
from libc.stdlib cimport strtod
from libc.math cimport isnan, HUGE_VAL, fpclassify, FP_ZERO

from engine.core cimport Client, Db, cm_rec, rec_obj, CM_BOXED, bind_fast, bind_cost, rec_cost_add
from engine.types.zskiplist cimport ZSet, SkipNode
from protocol.cutil cimport string2ll
from protocol.resp cimport ReplyBuffer

from engine.core import WRONGTYPE, NOT_FLOAT
from engine.notify import notify
from engine import blocking
import engine.commands.t_zset as slow
from engine.types.zset import ZSetValue, new_zset

cdef extern from "ctype.h":
    int isspace(int c)

cdef extern from *:
    """
    #include <errno.h>
    static inline void cmz_clear_errno(void) { errno = 0; }
    static inline int cmz_errno_is_erange(void) { return errno == ERANGE; }
    """
    void cmz_clear_errno()
    int cmz_errno_is_erange()

cdef object ZSET_TYPE = ZSetValue
cdef object zadd_slow = slow.zadd_command
cdef object zincrby_slow = slow.zincrby_command
cdef object zpopmin_slow = slow.zpopmin_command
cdef object zpopmax_slow = slow.zpopmax_command
cdef bytes NAN_ERR = slow.NAN_ERR
cdef bytes EMPTY_ARRAY = slow.EMPTY_ARRAY
cdef bytes WRONGTYPE_B = WRONGTYPE
cdef bytes NOT_FLOAT_B = NOT_FLOAT
cdef bytes EV_ZADD = b"zadd"
cdef bytes EV_ZINCR = b"zincr"
cdef bytes EV_ZREM = b"zrem"
cdef bytes EV_ZPOPMIN = b"zpopmin"
cdef bytes EV_ZPOPMAX = b"zpopmax"
cdef bytes EV_DEL = b"del"


cdef inline bint parse_score(bytes text, double* out):
    """engine.types.zskiplist.parse_score (redis getDoubleFromObject) without the exception."""
    cdef const char* start = PyBytes_AS_STRING(text)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(text)
    cdef char* end
    cdef double value
    if n == 0 or isspace(<unsigned char>start[0]):
        return False
    cmz_clear_errno()
    value = strtod(start, &end)
    if (end - start) != n or isnan(value) or (
            cmz_errno_is_erange() and (value == HUGE_VAL or value == -HUGE_VAL or fpclassify(value) == FP_ZERO)):
        return False
    out[0] = value
    return True


cdef inline bint may_be_flag(bytes arg):
    """Whether ZADD's option loop could take argv[2] as a flag (NX XX CH INCR GT LT, any case): those, and
    anything else starting with one of their letters, go to the Python handler."""
    cdef Py_ssize_t n = PyBytes_GET_SIZE(arg)
    cdef char ch
    if n < 2 or n > 4:
        return False
    ch = PyBytes_AS_STRING(arg)[0] | 32
    return ch == b'n' or ch == b'x' or ch == b'c' or ch == b'i' or ch == b'g' or ch == b'l'


cdef inline void listpack_limits(Client c, long long* max_entries, long long* max_value):
    """engine.types.zset.limits without the copying Config.__getitem__."""
    cdef dict values
    if c.server is None:
        max_entries[0] = 128
        max_value[0] = 64
        return
    values = <dict>c.server.config._values
    max_entries[0] = <long long>values["zset-max-listpack-entries"]
    max_value[0] = <long long>values["zset-max-listpack-value"]


cdef object WRONG = object()          # lookup_zset's answer after a WRONGTYPE reply


cdef inline object lookup_zset(Client c, bytes key, bint read, cm_rec** rp=NULL):
    """The zset at key (redis lookupKeyRead/Write + checkType): None when absent, WRONG after replying;
    its record in rp when given."""
    cdef cm_rec* r = c.db.rec_lookup(key, read)
    cdef object o
    if r == NULL:
        return None
    if r.flags & CM_BOXED:
        o = <object>rec_obj(r)
        if type(o) is ZSET_TYPE:
            if rp != NULL:
                rp[0] = r
            return o
    c.error(WRONGTYPE_B)
    return WRONG


# Memory: the writers are bound with bind_cost, so the dispatcher does not re-estimate the key through
# value_cost's attribute lookup and Python call (a tenth of a ZADD); they set the record's cost from
# ZSet.z_cost, the same O(1) figure, or account the key themselves after a slow-path call.
cdef inline void account_zset(Client c, cm_rec* r, ZSet zs):
    rec_cost_add(c.db, r, <long long>zs.z_cost() + 8 - <long long>r.vlen)


cdef object account_after(Client c, bytes key, object result):
    cdef cm_rec* r = c.db.rec_find(key)
    if r != NULL:
        c.db.rec_account(r)
    return result


cdef int zs_store(ZSet zs, bytes member, double score, bint found, double old, long long max_entries,
                  long long max_value) except -1:
    """ZSetValue.insert + ZSet.add for a known current score (found False: a new member)."""
    if not zs.skiplist:
        if PyBytes_GET_SIZE(member) > max_value or (not found and <long long>zs.length + 1 > max_entries):
            zs.skiplist = True
        else:
            score += 0.0                  # a listpack stores -0.0 as 0
    return zs.z_put(member, score, found, old)


cdef ZSet create_zset(Client c, bytes key, bytes first_member, cm_rec** rp):
    """zaddGenericCommand's creation: zsetTypeCreate, dbAdd, signalKeyAsReady."""
    config = c.server.config if c.server is not None else None
    zs = new_zset(config, PyBytes_GET_SIZE(first_member))
    rp[0] = c.db.rec_add(key, zs)
    blocking.signal_key_ready(c, key)
    return <ZSet>zs


cdef object zadd_impl(Client c, list argv):
    cdef Py_ssize_t argc = len(argv), j, elements
    cdef double score
    cdef bytes key, member
    cdef ZSet zs = None
    cdef object o
    cdef long long added = 0, updated = 0, max_entries = 128, max_value = 64
    cdef double old = 0.0
    cdef int found
    cdef double stack_scores[16]
    cdef double* scores = stack_scores
    cdef object heap = None
    cdef cm_rec* r = NULL
    if argc % 2 != 0 or may_be_flag(<bytes>argv[2]):
        return account_after(c, <bytes>argv[1], zadd_slow(c, argv))
    elements = (argc - 2) // 2
    if elements > 16:
        heap = bytearray(elements * sizeof(double))
        scores = <double*><char*>(<bytearray>heap)
    for j in range(elements):
        if not parse_score(<bytes>argv[2 + 2 * j], &scores[j]):
            c.error(NOT_FLOAT_B)
            return None
    key = <bytes>argv[1]
    o = lookup_zset(c, key, False, &r)
    if o is WRONG:
        return None
    zs = create_zset(c, key, <bytes>argv[3], &r) if o is None else <ZSet>o
    if not zs.skiplist:
        listpack_limits(c, &max_entries, &max_value)
    for j in range(elements):
        member = <bytes>argv[3 + 2 * j]
        score = scores[j]
        found = zs.z_find(member, &old)
        if found and old == score:
            continue
        zs_store(zs, member, score, found, old, max_entries, max_value)
        if found:
            updated += 1
        else:
            added += 1
    c.dirty += added + updated
    account_zset(c, r, zs)
    c.reply.add_int(added)
    if (added or updated) and c.ks.notify_flags:
        notify(c, "z", EV_ZADD, key)
    return None


cdef object zincrby_impl(Client c, list argv):
    cdef double score, old = 0.0
    cdef bytes key = <bytes>argv[1]
    cdef bytes member = <bytes>argv[3]
    cdef ZSet zs = None
    cdef object o
    cdef long long max_entries = 128, max_value = 64
    cdef bint changed = False
    cdef cm_rec* r = NULL
    if may_be_flag(<bytes>argv[2]):
        return account_after(c, key, zincrby_slow(c, argv))
    if not parse_score(<bytes>argv[2], &score):
        c.error(NOT_FLOAT_B)
        return None
    o = lookup_zset(c, key, False, &r)
    if o is WRONG:
        return None
    zs = create_zset(c, key, member, &r) if o is None else <ZSet>o
    if not zs.skiplist:
        listpack_limits(c, &max_entries, &max_value)
    if zs.z_find(member, &old):
        score += old
        if isnan(score):
            c.error(NAN_ERR)
            return None
        if score != old:
            zs_store(zs, member, score, True, old, max_entries, max_value)
            changed = True
    else:
        zs_store(zs, member, score, False, 0.0, max_entries, max_value)
        changed = True
    if changed:
        c.dirty += 1
    account_zset(c, r, zs)
    c.reply.add_double(score)
    if changed and c.ks.notify_flags:
        notify(c, "z", EV_ZINCR, key)
    return None


cdef object zscore_impl(Client c, list argv):
    cdef ZSet zs = None
    cdef double score
    cdef object o = lookup_zset(c, <bytes>argv[1], True)
    if o is WRONG:
        return None
    if o is None:
        c.reply.add_null()
        return None
    zs = <ZSet>o
    if zs.z_find(<bytes>argv[2], &score):
        c.reply.add_double(score)
    else:
        c.reply.add_null()
    return None


cdef object zcard_impl(Client c, list argv):
    cdef ZSet zs = None
    cdef object o = lookup_zset(c, <bytes>argv[1], True)
    if o is WRONG:
        return None
    c.reply.add_int(0 if o is None else <long long>(<ZSet>o).length)
    return None


cdef object zrank_generic(Client c, list argv, bint reverse):
    cdef ZSet zs = None
    cdef long long r
    cdef bytes member = <bytes>argv[2]
    cdef object o = lookup_zset(c, <bytes>argv[1], True)
    if o is WRONG:
        return None
    if o is None:
        c.reply.add_null()
        return None
    zs = <ZSet>o
    r = zs.z_rank(member)
    if r < 0:
        c.reply.add_null()
    else:
        c.reply.add_int(<long long>zs.length - 1 - r if reverse else r)
    return None


cdef object zrank_impl(Client c, list argv):
    return zrank_generic(c, argv, False)


cdef object zrevrank_impl(Client c, list argv):
    return zrank_generic(c, argv, True)


cdef object zrem_impl(Client c, list argv):
    cdef bytes key = <bytes>argv[1]
    cdef ZSet zs = None
    cdef Py_ssize_t j, argc = len(argv)
    cdef long long deleted = 0
    cdef bint removed_key = False
    cdef cm_rec* r = NULL
    cdef object o = lookup_zset(c, key, False, &r)
    if o is WRONG:
        return None
    if o is None:
        c.reply.add_int(0)
        return None
    zs = <ZSet>o
    for j in range(2, argc):
        if zs.z_del(<bytes>argv[j]):
            deleted += 1
            if zs.length == 0:
                c.db.rec_delete(key)
                removed_key = True
                break
    if deleted and not removed_key:
        account_zset(c, r, zs)
    if deleted:
        if c.ks.notify_flags:
            notify(c, "z", EV_ZREM, key)
            if removed_key:
                notify(c, "g", EV_DEL, key)
        c.dirty += deleted
    c.reply.add_int(deleted)
    return None


cdef object zpop_one(Client c, list argv, bint use_max):
    """ZPOPMIN/ZPOPMAX key (no count): one (member, score) pair, flat in both protocols."""
    cdef bytes key = <bytes>argv[1]
    cdef ZSet zs = None
    cdef bytes member
    cdef double score
    cdef cm_rec* r = NULL
    cdef object o = lookup_zset(c, key, False, &r)
    cdef ReplyBuffer out
    if o is WRONG:
        return None
    if o is None:
        c.reply.add_raw(EMPTY_ARRAY)
        return None
    zs = <ZSet>o
    member = zs.z_pop(use_max, &score)
    out = c.reply
    out.add_array_len(2)
    out.add_bulk(member)
    out.add_double(score)
    c.dirty += 1
    if c.ks.notify_flags:
        notify(c, "z", EV_ZPOPMAX if use_max else EV_ZPOPMIN, key)
    if zs.length == 0:
        c.db.rec_delete(key)
        if c.ks.notify_flags:
            notify(c, "g", EV_DEL, key)
    else:
        account_zset(c, r, zs)
    return None


cdef object zpopmin_impl(Client c, list argv):
    if len(argv) != 2:
        return account_after(c, <bytes>argv[1], zpopmin_slow(c, argv))
    return zpop_one(c, argv, False)


cdef object zpopmax_impl(Client c, list argv):
    if len(argv) != 2:
        return account_after(c, <bytes>argv[1], zpopmax_slow(c, argv))
    return zpop_one(c, argv, True)


# ---- reads that write their reply straight from the skiplist nodes (ZRANGE rank form, ZRANGEBYSCORE) ----
# Only the plain forms (optionally WITHSCORES) of a skiplist-encoded zset; options, parse errors and packed
# zsets take the Python handler, whose checks come in redis's order (options, range, then the key).
cdef object zrange_slow = slow.zrange_command
cdef object zrangebyscore_slow = slow.zrangebyscore_command


cdef inline int withscores_arg(list argv):
    """1 when argv has exactly 4 arguments, 2 when a fifth is WITHSCORES (any case), 0 otherwise."""
    cdef Py_ssize_t argc = len(argv)
    cdef bytes opt
    cdef const char* p
    if argc == 4:
        return 1
    if argc != 5:
        return 0
    opt = <bytes>argv[4]
    if PyBytes_GET_SIZE(opt) != 10:
        return 0
    p = PyBytes_AS_STRING(opt)
    for i in range(10):
        if (p[i] | 32) != b"withscores"[i]:
            return 0
    return 2


cdef inline bint parse_bound(bytes text, double* value, bint* exclusive):
    """zslParseRange's bound ('(' for exclusive, then strtod over the whole argument, not NaN)."""
    cdef const char* start = PyBytes_AS_STRING(text)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(text)
    cdef char* end
    exclusive[0] = n > 0 and start[0] == b'('
    if exclusive[0]:
        start += 1
        n -= 1
    if n == 0:
        return False
    value[0] = strtod(start, &end)
    return (end - start) == n and not isnan(value[0])


cdef inline void reply_nodes(ReplyBuffer out, SkipNode* x, unsigned long count, bint withscores):
    """count members from x forward, flat member/score pairs in RESP2, [member, score] pairs in RESP3."""
    if not withscores:
        out.add_array_len(count)
    elif out.resp >= 3:
        out.add_array_len(count)
    else:
        out.add_array_len(count * 2)
    while count > 0 and x != NULL:
        if withscores and out.resp >= 3:
            out.add_array_len(2)
        out.add_bulk(<bytes>x.member)
        if withscores:
            out.add_double(x.score)
        x = x.level[0].forward
        count -= 1


cdef object PACKED = object()         # skiplist_for_read: the zset is packed, the Python handler answers


cdef inline object skiplist_for_read(Client c, list argv):
    """The skiplist zset at argv[1]; None after replying (an empty array for a missing key, WRONGTYPE);
    PACKED for a packed zset."""
    cdef object o = lookup_zset(c, <bytes>argv[1], True)
    if o is WRONG:
        return None
    if o is None:
        c.reply.add_raw(EMPTY_ARRAY)
        return None
    if (<ZSet>o).packed:
        return PACKED
    return o


cdef object zrangebyscore_impl(Client c, list argv):
    cdef int form = withscores_arg(argv)
    cdef double lo, hi
    cdef bint lo_ex, hi_ex
    cdef object o
    cdef ZSet zs
    cdef SkipNode* first
    cdef SkipNode* x
    cdef unsigned long count = 0
    if form == 0 or not parse_bound(<bytes>argv[2], &lo, &lo_ex) or not parse_bound(<bytes>argv[3], &hi, &hi_ex):
        return zrangebyscore_slow(c, argv)
    o = skiplist_for_read(c, argv)
    if o is None:
        return None
    if o is PACKED:
        return zrangebyscore_slow(c, argv)
    zs = <ZSet>o
    first = zs._first_in_score_range(lo, hi, lo_ex, hi_ex)
    x = first
    while x != NULL and (x.score < hi if hi_ex else x.score <= hi):
        count += 1
        x = x.level[0].forward
    reply_nodes(c.reply, first, count, form == 2)
    return None


cdef object zrange_impl(Client c, list argv):
    cdef int form = withscores_arg(argv)
    cdef bytes a1, a2
    cdef long long start, end, length
    cdef object o
    cdef ZSet zs
    if form == 0:
        return zrange_slow(c, argv)
    a1 = <bytes>argv[2]
    a2 = <bytes>argv[3]
    if not string2ll(PyBytes_AS_STRING(a1), PyBytes_GET_SIZE(a1), &start) or \
            not string2ll(PyBytes_AS_STRING(a2), PyBytes_GET_SIZE(a2), &end):
        return zrange_slow(c, argv)
    o = skiplist_for_read(c, argv)
    if o is None:
        return None
    if o is PACKED:
        return zrange_slow(c, argv)
    zs = <ZSet>o
    length = <long long>zs.length
    # redis's rank sanitising (slow.normalize_ranks)
    if start < 0:
        start += length
    if end < 0:
        end += length
    if start < 0:
        start = 0
    if start > end or start >= length:
        c.reply.add_raw(EMPTY_ARRAY)
        return None
    if end >= length:
        end = length - 1
    reply_nodes(c.reply, zs._node_at_rank(<unsigned long>start + 1), <unsigned long>(end - start + 1), form == 2)
    return None


bind_fast(b"zrangebyscore", zrangebyscore_impl)
bind_fast(b"zrange", zrange_impl)


bind_fast(b"zadd", zadd_impl)
bind_fast(b"zincrby", zincrby_impl)
bind_fast(b"zscore", zscore_impl)
bind_fast(b"zcard", zcard_impl)
bind_fast(b"zrank", zrank_impl)
bind_fast(b"zrevrank", zrevrank_impl)
bind_fast(b"zrem", zrem_impl)
bind_fast(b"zpopmin", zpopmin_impl)
bind_fast(b"zpopmax", zpopmax_impl)
for _name in (b"zadd", b"zincrby", b"zrem", b"zpopmin", b"zpopmax"):
    bind_cost(_name)
