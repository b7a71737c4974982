# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled hot path of the set family (redis 7.0 t_set.c): SADD, SREM, SISMEMBER, SMISMEMBER, SCARD and
SPOP without a count as C handlers bound with bind_fast, working on the record's SetValue (a set subclass)
through the C set API. Each handler does what its Python form in engine/commands/t_set.py does, step for step:
the write or read lookup (lazy expiry, keyspace hits/misses and "keymiss" for reads), WRONGTYPE, the new key
(rec_add: "new" event) before its members, the intset -> hashtable conversion rule of SetValue.note_write,
the "sadd"/"srem"/"spop"/"del" notifications in redis's order, deleting an emptied set, SPOP's SREM
propagation, c.dirty, the reply. The dispatcher's call() does the rest for fast and slow handlers alike: OOM
and ACL before the call, then the effect stream (replication, AOF), WATCH and tracking invalidation
(on_key_modified), stats. SPOP with a count runs the Python handler.

Memory: the commands are bound with bind_cost, so the dispatcher does not re-estimate the key after them
(that estimate samples the set's first members: on a set drained by SPOP, whose table empties from the
front, it walked O(n) empty slots per pop). A write adjusts the key's accounted bytes by what it changed
(rec_cost_add: the members' own cost plus the table's growth, O(1) whatever the set's size); a new set is
estimated once (rec_account); a deleted one is released by rec_delete.

Imported at the end of engine/commands/t_set.py, after the commands are declared.
"""
from cpython.object cimport PyObject
from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.set cimport PySet_Add, PySet_Discard, PySet_Contains, PySet_GET_SIZE, PySet_Clear

from engine.core cimport Client, Db, cm_rec, rec_obj, CM_BOXED, bind_fast, bind_cost, rec_cost_add
from protocol.cutil cimport bytes_to_ll

from engine.core import WRONGTYPE
from engine.notify import notify
from engine.types.set import SetValue
from engine.types.set import convert_add as py_convert_add
from engine.types.smallset cimport (SmallSetValue, SS_MAX_MEMBERS, SS_MAX_LEN, ss_new, ss_reserve, ss_add,
                                    ss_remove, ss_contains, ss_random_pop, ss_cost)
from cpython.bytes cimport PyBytes_AS_STRING
from engine.types.intset cimport (IntSetValue, intset_new, intset_add, intset_remove, intset_find,
                                  intset_member, intset_remove_at, intset_cost, intset_random_index)
from engine.commands import t_set as _py

cdef extern from "Python.h":
    ctypedef struct PySetObject:
        Py_ssize_t fill
        Py_ssize_t used
        Py_ssize_t mask

cdef object SET_TYPE = SetValue
cdef object INTSET_TYPE = IntSetValue
cdef object SMALL_TYPE = SmallSetValue
cdef bytes WRONGTYPE_B = WRONGTYPE
cdef bytes EV_SADD = b"sadd"
cdef bytes EV_SREM = b"srem"
cdef bytes EV_SPOP = b"spop"
cdef bytes EV_DEL = b"del"
cdef bytes SREM_B = b"SREM"
cdef object spop_slow = _py.spop_command
cdef object spop_random_small = _py.spop_small_pick
cdef object WRONG = object()          # lookup_set's answer after a WRONGTYPE reply


cdef inline long long alloc_size(long long size):
    """engine/evict.pxi alloc_size: pymalloc rounds to 16 up to 512 B, malloc adds a 16 B header above."""
    if size <= 512:
        return (size + 15) & ~15
    return (size + 16 + 15) & ~15


cdef inline long long member_cost(object m):
    """engine/evict.pxi element_cost of a bytes member."""
    return alloc_size(33 + PyBytes_GET_SIZE(m))


cdef inline long long table_bytes(object s):
    """The set's hash table beyond the object (sys.getsizeof's part that grows): 0 while in smalltable."""
    cdef Py_ssize_t size = (<PySetObject*>s).mask + 1
    return 0 if size <= 8 else size * 16


cdef long long shrink_if_sparse(object s) except -1:
    """redis setTypeRemove's htNeedsResize + dictResize: a table less than 10% full (HASHTABLE_MIN_FILL) is
    rebuilt at the members' size. A CPython set never shrinks on discard and keeps its deleted slots (dummies)
    until it grows, so a set emptied by SREM kept probing a table sized for its peak (a 100k-member set
    drained: 4 MB of mostly empty slots, out of cache). O(n) for n < size/10, so O(1) amortized, as redis.
    Answers the bytes the table gave back (for the key's accounting)."""
    cdef Py_ssize_t size = (<PySetObject*>s).mask + 1
    cdef Py_ssize_t used = PySet_GET_SIZE(s)
    cdef long long before
    cdef list members
    cdef object m
    if size <= 128 or used * 10 >= size:
        return 0
    before = table_bytes(s)
    members = list(s)
    PySet_Clear(s)
    for m in members:
        PySet_Add(s, m)
    return before - table_bytes(s)


cdef inline long long max_intset(Client c):
    """engine.types.set.max_intset without the copying Config.__getitem__."""
    if c.server is None:
        return 512
    return <long long>(<dict>c.server.config._values)["set-max-intset-entries"]


cdef inline object lookup_set(Client c, bytes key, bint read, cm_rec** out):
    """The set at key (redis lookupKeyRead/Write + checkType): None when absent, WRONG after replying."""
    cdef cm_rec* r = c.db.rec_lookup(key, read)
    cdef object o
    out[0] = r
    if r == NULL:
        return None
    if r.flags & CM_BOXED:
        o = <object>rec_obj(r)
        if type(o) is SET_TYPE or type(o) is SMALL_TYPE or type(o) is INTSET_TYPE:
            return o
    c.error(WRONGTYPE_B)
    return WRONG


cdef object convert_add(object s, list argv, Py_ssize_t first, Py_ssize_t* added):
    """setTypeConvert then setTypeAdd of argv[first:]: the value that replaces s (engine/types/set.py
    convert_add: an intset becomes a small set when the members fit, a small set a SetValue)."""
    h, more = py_convert_add(s, argv[first:])
    added[0] += <Py_ssize_t>more
    return h


cdef object small_add_members(SmallSetValue s, list argv, Py_ssize_t* added):
    """setTypeAdd of argv[2:] on a small set: s, or the bigger block it grew into, while every member is at
    most SS_MAX_LEN bytes and the count stays within SS_MAX_MEMBERS, else the converted SetValue."""
    cdef Py_ssize_t i, n = len(argv), ln, total = 0, k = n - 2
    cdef int one
    cdef bytes m
    for i in range(2, n):
        ln = PyBytes_GET_SIZE(<bytes>argv[i])
        if ln > SS_MAX_LEN:
            return convert_add(s, argv, 2, added)
        total += 1 + ln
    if k > SS_MAX_MEMBERS - <Py_ssize_t>s.n:
        total = total * (SS_MAX_MEMBERS - <Py_ssize_t>s.n) // k
        k = SS_MAX_MEMBERS - <Py_ssize_t>s.n
    if k > 1:
        s = ss_reserve(s, k, total)          # one block for all of them (exact for a new set's members)
    for i in range(2, n):
        m = <bytes>argv[i]
        if s.n >= SS_MAX_MEMBERS and not ss_contains(s, PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m)):
            return convert_add(s, argv, i, added)
        s = ss_add(s, PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m), &one)
        added[0] += one
    return s


cdef object intset_add_members(Client c, IntSetValue s, list argv, Py_ssize_t* added):
    """setTypeAdd of argv[2:] on an intset, member by member as redis: the intset holding them (s, or the
    new object a full block or a wider integer made) while every member is an integer and the count stays
    within set-max-intset-entries, else the converted hashtable."""
    cdef Py_ssize_t i, n = len(argv)
    cdef long long v, limit = max_intset(c)
    cdef int one
    if limit > (1 << 30):
        limit = 1 << 30
    for i in range(2, n):
        if not bytes_to_ll(<bytes>argv[i], &v):
            return convert_add(s, argv, i, added)
        s = intset_add(s, v, &one)
        if one:
            added[0] += 1
            if s.n > limit:
                return convert_add(s, argv, i + 1, added)
    return s


cdef inline void drop_if_empty(Client c, bytes key, object s):
    """t_set.remove_if_empty."""
    if len(s) == 0:
        c.db.rec_delete(key)
        if c.ks.notify_flags:
            notify(c, "g", EV_DEL, key)


cdef object sadd_impl(Client c, list argv):
    cdef bytes key = <bytes>argv[1]
    cdef cm_rec* r
    cdef object s = lookup_set(c, key, False, &r)
    cdef Py_ssize_t i, n = len(argv), before, added
    cdef long long cost = 0, tbl
    cdef bint new = False
    cdef object m
    cdef object h
    cdef long long icost
    if s is WRONG:
        return
    if s is None:
        # redis setTypeCreate: an intset when the first member is an integer, else "hashtable": a small set
        # (sized by small_add_members) unless the members are past its limits
        s = intset_new(0, 2) if bytes_to_ll(<bytes>argv[2], &icost) else ss_new(0, 0)
        r = c.db.rec_add(key, s)
        new = True
    if type(s) is SMALL_TYPE:
        added = 0
        icost = ss_cost(<SmallSetValue>s)
        h = small_add_members(<SmallSetValue>s, argv, &added)
        if h is not s:
            c.db.rec_assign(r, h)             # a grown block or the converted SetValue
            c.db.rec_account(r)
        elif new:
            c.db.rec_account(r)
        elif added:
            rec_cost_add(c.db, r, ss_cost(<SmallSetValue>s) - icost)
        if added:
            c.dirty += added
            if c.ks.notify_flags:
                notify(c, "s", EV_SADD, key)
        c.reply.add_int(added)
        return
    if type(s) is INTSET_TYPE:
        added = 0
        icost = intset_cost(<IntSetValue>s)
        h = intset_add_members(c, <IntSetValue>s, argv, &added)
        if h is not s:
            c.db.rec_assign(r, h)             # a grown intset or the converted hashtable
            c.db.rec_account(r)
        elif new:
            c.db.rec_account(r)
        elif added:
            rec_cost_add(c.db, r, intset_cost(<IntSetValue>s) - icost)
        if added:
            c.dirty += added
            if c.ks.notify_flags:
                notify(c, "s", EV_SADD, key)
        c.reply.add_int(added)
        return
    before = PySet_GET_SIZE(s)
    tbl = table_bytes(s)
    for i in range(2, n):
        m = argv[i]
        added = PySet_GET_SIZE(s)
        PySet_Add(s, m)
        if PySet_GET_SIZE(s) != added:
            cost += member_cost(m)
    added = PySet_GET_SIZE(s) - before
    if new:
        c.db.rec_account(r)
    elif added:
        rec_cost_add(c.db, r, cost + table_bytes(s) - tbl)
    if added:
        c.dirty += added
        if c.ks.notify_flags:
            notify(c, "s", EV_SADD, key)
    c.reply.add_int(added)


cdef object srem_impl(Client c, list argv):
    cdef bytes key = <bytes>argv[1]
    cdef cm_rec* r
    cdef object s = lookup_set(c, key, False, &r)
    cdef Py_ssize_t i, n = len(argv), removed = 0
    cdef long long cost = 0
    cdef object m
    cdef long long v
    if s is WRONG:
        return
    if type(s) is INTSET_TYPE:
        cost = intset_cost(<IntSetValue>s)
        for i in range(2, n):
            if bytes_to_ll(<bytes>argv[i], &v) and intset_remove(<IntSetValue>s, v):
                removed += 1
                if (<IntSetValue>s).n == 0:
                    break
        if removed:
            rec_cost_add(c.db, r, intset_cost(<IntSetValue>s) - cost)
            c.dirty += removed
            if c.ks.notify_flags:
                notify(c, "s", EV_SREM, key)
            drop_if_empty(c, key, s)
        c.reply.add_int(removed)
        return
    if type(s) is SMALL_TYPE:
        for i in range(2, n):
            m = argv[i]
            if ss_remove(<SmallSetValue>s, PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m)):
                removed += 1
                if (<SmallSetValue>s).n == 0:
                    break
        if removed:                           # the block keeps its size (its cost is unchanged)
            c.dirty += removed
            if c.ks.notify_flags:
                notify(c, "s", EV_SREM, key)
            drop_if_empty(c, key, s)
        c.reply.add_int(removed)
        return
    if s is not None:
        for i in range(2, n):
            m = argv[i]
            if PySet_Discard(s, m) == 1:
                removed += 1
                cost += member_cost(m)
                if PySet_GET_SIZE(s) == 0:
                    break
        if removed:
            cost += shrink_if_sparse(s)
            rec_cost_add(c.db, r, -cost)
            c.dirty += removed
            if c.ks.notify_flags:
                notify(c, "s", EV_SREM, key)
            drop_if_empty(c, key, s)
    c.reply.add_int(removed)


cdef object sismember_impl(Client c, list argv):
    cdef cm_rec* r
    cdef object s = lookup_set(c, <bytes>argv[1], True, &r)
    cdef long long v
    if s is WRONG:
        return
    if type(s) is SMALL_TYPE:
        c.reply.add_int(ss_contains(<SmallSetValue>s, PyBytes_AS_STRING(<bytes>argv[2]),
                                    PyBytes_GET_SIZE(<bytes>argv[2])))
        return
    if type(s) is INTSET_TYPE:
        c.reply.add_int(1 if bytes_to_ll(<bytes>argv[2], &v) and intset_find(<IntSetValue>s, v) else 0)
        return
    c.reply.add_int(1 if s is not None and PySet_Contains(s, argv[2]) == 1 else 0)


cdef object smismember_impl(Client c, list argv):
    cdef cm_rec* r
    cdef object s = lookup_set(c, <bytes>argv[1], True, &r)
    cdef Py_ssize_t i, n = len(argv)
    cdef long long v
    if s is WRONG:
        return
    c.reply.add_array_len(n - 2)
    if type(s) is SMALL_TYPE:
        for i in range(2, n):
            c.reply.add_int(ss_contains(<SmallSetValue>s, PyBytes_AS_STRING(<bytes>argv[i]),
                                        PyBytes_GET_SIZE(<bytes>argv[i])))
        return
    if type(s) is INTSET_TYPE:
        for i in range(2, n):
            c.reply.add_int(1 if bytes_to_ll(<bytes>argv[i], &v) and intset_find(<IntSetValue>s, v) else 0)
        return
    for i in range(2, n):
        c.reply.add_int(1 if s is not None and PySet_Contains(s, argv[i]) == 1 else 0)


cdef object scard_impl(Client c, list argv):
    cdef cm_rec* r
    cdef object s = lookup_set(c, <bytes>argv[1], True, &r)
    if s is WRONG:
        return
    if type(s) is SMALL_TYPE:
        c.reply.add_int((<SmallSetValue>s).n)
        return
    if type(s) is INTSET_TYPE:
        c.reply.add_int((<IntSetValue>s).n)
        return
    c.reply.add_int(PySet_GET_SIZE(s) if s is not None else 0)


cdef object spop_impl(Client c, list argv):
    cdef bytes key
    cdef cm_rec* r
    cdef object s, member
    if len(argv) != 2:
        # the count form and the syntax error: the Python handler, then the re-estimate the dispatcher skips
        # for a bind_cost command (O(1): SetValue.mem_estimate samples random slots)
        spop_slow(c, argv)
        if c.dirty > 0:
            r = c.db.rec_find(<bytes>argv[1])
            if r != NULL:
                c.db.rec_account(r)
        return
    key = <bytes>argv[1]
    s = lookup_set(c, key, False, &r)
    if s is WRONG:
        return
    if s is None:
        c.reply.add_null()
        return
    cdef Py_ssize_t i
    cdef long long cost
    if type(s) is SMALL_TYPE:
        member = ss_random_pop(<SmallSetValue>s, True)     # uniform: a random live slot; cost unchanged
    elif type(s) is INTSET_TYPE:
        cost = intset_cost(<IntSetValue>s)
        i = intset_random_index(<IntSetValue>s)   # uniform, as intsetRandom
        member = intset_member(<IntSetValue>s, i)
        intset_remove_at(<IntSetValue>s, i)
        rec_cost_add(c.db, r, intset_cost(<IntSetValue>s) - cost)
    else:
        member = s.pop()                      # O(1) amortized: CPython's pop finger (see t_set.spop_command)
        rec_cost_add(c.db, r, -member_cost(member))
    c.dirty += 1
    if c.ks.notify_flags:
        notify(c, "s", EV_SPOP, key)
    c.propagate_as([SREM_B, key, member])     # the random pick is resolved here: replicas and the AOF remove it
    drop_if_empty(c, key, s)
    c.reply.add_bulk(<bytes>member)


bind_fast(b"sadd", sadd_impl)
bind_fast(b"srem", srem_impl)
bind_fast(b"sismember", sismember_impl)
bind_fast(b"smismember", smismember_impl)
bind_fast(b"scard", scard_impl)
bind_fast(b"spop", spop_impl)
for _name in (b"sadd", b"srem", b"spop"):
    bind_cost(_name)
