# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled hot path of the hash family: HSET/HGET/HINCRBY/HMGET/HEXISTS/HLEN/HSTRLEN as C handlers
bound with bind_fast, working on the record's HashValue (a dict) directly. Each does what its Python form in
engine/commands/t_hash.py does, step for step: lookup with lazy expiry (a read counts hits/misses and raises
"keymiss"), WRONGTYPE, a new key's "new" event, the listpack -> hashtable conversion bookkeeping behind
OBJECT ENCODING, the keyspace notification, dirty, the reply. The dispatcher's call() still does the rest
(effects, WATCH / tracking invalidation, stats).

Memory: HSET and HINCRBY are bound with bind_cost, so the dispatcher does not re-estimate the hash after
them: a new field adds its field and value bytes and its dict slot (entry_cost), a replaced value the
difference (O(1) whatever the hash's size); a new hash is estimated once (rec_account). Error forms (odd
HSET arity, a bad increment) run the Python handler, so their texts stay in one place.

Imported at the end of engine/commands/t_hash.py, after the commands are declared.
"""
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem, PyDict_Contains
from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.object cimport PyObject

from engine.core cimport (Client, Db, cm_rec, rec_obj, CM_BOXED, bind_fast, bind_cost, HandlerFunc,
                          rec_cost_add)
from engine.types.hashvalue cimport HashValue
from protocol.cutil cimport string2ll

from engine.core import WRONGTYPE
from engine.notify import notify
import engine.types.hash  # noqa: F401  (registers the type)
from engine.commands import t_hash as _py

cdef object HASH_TYPE = HashValue
cdef object HSET_PY = _py.hset_command
cdef object HINCRBY_PY = _py.hincrby_command

cdef long long LLONG_MAX_ = 9223372036854775807
cdef long long LLONG_MIN_ = -9223372036854775807 - 1


cdef inline HashValue hash_of(Client c, cm_rec* r):
    """The record's HashValue, or None after WRONGTYPE (r not NULL)."""
    if not (r.flags & CM_BOXED) or type(<object>rec_obj(r)) is not HASH_TYPE:
        c.error(WRONGTYPE)
        return None
    return <HashValue>rec_obj(r)


# what CPython's allocator takes for a bytes object (engine/evict.pxi bytes_cost), and a dict entry's slot
# share (24 B entry + index byte(s), at the table's 2/3 load)
cdef inline long long bytes_cost(object b):
    cdef long long size = 33 + PyBytes_GET_SIZE(<bytes>b)
    if size <= 512:
        return (size + 15) & ~15
    return (size + 16 + 15) & ~15

DEF ENTRY_SLOT = 40


cdef inline HashValue new_hash():
    return HashValue.__new__(HashValue)        # hashtable False, no Python __init__


cdef inline void note_write(Client c, HashValue h, Py_ssize_t first, list argv):
    """HashValue.note_write for argv[first:] (fields and values just written): a hash past the listpack
    limits is a hashtable from then on. Once converted (the usual state of a big hash) it costs one read."""
    cdef Py_ssize_t i, n = len(argv)
    cdef long long max_entries = 128, max_value = 64
    if h.hashtable:
        return
    cdef dict values
    if c.server is not None:
        values = <dict>c.server.config._values      # not Config.__getitem__, which copies
        max_entries = <long long>values["hash-max-listpack-entries"]
        max_value = <long long>values["hash-max-listpack-value"]
    if len(h) > max_entries:
        h.hashtable = True
        return
    for i in range(first, n):
        if PyBytes_GET_SIZE(<bytes>argv[i]) > max_value:
            h.hashtable = True
            return


cdef object hset_impl(Client c, list argv):
    cdef Py_ssize_t i, argc = len(argv)
    cdef bytes key
    cdef Db db
    cdef cm_rec* r
    cdef HashValue h
    cdef PyObject* old
    cdef long long created = 0, cost = 0
    cdef bint fresh = False
    if argc % 2 != 0:
        return HSET_PY(c, argv)         # the arity error, worded in one place
    key = <bytes>argv[1]
    db = c.db
    r = db.rec_lookup(key, False)
    if r == NULL:
        h = new_hash()
        r = db.rec_add(key, h)
        fresh = True
    else:
        h = hash_of(c, r)
        if h is None:
            return
    for i in range(2, argc, 2):
        old = PyDict_GetItem(h, argv[i])
        if old == NULL:
            created += 1
            cost += bytes_cost(argv[i]) + bytes_cost(argv[i + 1]) + ENTRY_SLOT
        else:
            cost += bytes_cost(argv[i + 1]) - bytes_cost(<object>old)
        PyDict_SetItem(h, argv[i], argv[i + 1])
    if fresh:
        db.rec_account(r)
    else:
        rec_cost_add(db, r, cost)
    note_write(c, h, 2, argv)
    c.dirty += (argc - 2) // 2
    if c.ks.notify_flags:
        notify(c, "h", b"hset", key)
    c.reply.add_int(created)


cdef object hget_impl(Client c, list argv):
    cdef cm_rec* r = c.db.rec_lookup(<bytes>argv[1], True)
    cdef HashValue h
    cdef PyObject* v
    if r == NULL:
        c.reply.add_null()
        return
    h = hash_of(c, r)
    if h is None:
        return
    v = PyDict_GetItem(h, argv[2])
    if v == NULL:
        c.reply.add_null()
    else:
        c.reply.add_bulk(<bytes>v)


cdef object hmget_impl(Client c, list argv):
    cdef cm_rec* r = c.db.rec_lookup(<bytes>argv[1], True)
    cdef HashValue h = None
    cdef PyObject* v
    cdef Py_ssize_t i, argc = len(argv)
    if r != NULL:
        h = hash_of(c, r)
        if h is None:
            return
    c.reply.add_array_len(argc - 2)
    for i in range(2, argc):
        v = PyDict_GetItem(h, argv[i]) if h is not None else NULL
        if v == NULL:
            c.reply.add_null()
        else:
            c.reply.add_bulk(<bytes>v)


cdef object hexists_impl(Client c, list argv):
    cdef cm_rec* r = c.db.rec_lookup(<bytes>argv[1], True)
    cdef HashValue h
    if r == NULL:
        c.reply.add_int(0)
        return
    h = hash_of(c, r)
    if h is not None:
        c.reply.add_int(1 if PyDict_Contains(h, argv[2]) else 0)


cdef object hlen_impl(Client c, list argv):
    cdef cm_rec* r = c.db.rec_lookup(<bytes>argv[1], True)
    cdef HashValue h
    if r == NULL:
        c.reply.add_int(0)
        return
    h = hash_of(c, r)
    if h is not None:
        c.reply.add_int(len(h))


cdef object hstrlen_impl(Client c, list argv):
    cdef cm_rec* r = c.db.rec_lookup(<bytes>argv[1], True)
    cdef HashValue h
    cdef PyObject* v
    if r == NULL:
        c.reply.add_int(0)
        return
    h = hash_of(c, r)
    if h is not None:
        v = PyDict_GetItem(h, argv[2])
        c.reply.add_int(PyBytes_GET_SIZE(<bytes>v) if v != NULL else 0)


cdef object hincrby_impl(Client c, list argv):
    cdef long long incr, value = 0
    cdef bytes key, field
    cdef Db db
    cdef cm_rec* r
    cdef HashValue h
    cdef PyObject* cur = NULL
    cdef long long cost
    cdef bytes arg = <bytes>argv[3]
    cdef bytes cur_b
    if not string2ll(arg, PyBytes_GET_SIZE(arg), &incr):
        return HINCRBY_PY(c, argv)      # the "not an integer" error, in one place
    key = <bytes>argv[1]
    field = <bytes>argv[2]
    db = c.db
    r = db.rec_lookup(key, False)
    if r != NULL:
        h = hash_of(c, r)
        if h is None:
            return
        cur = PyDict_GetItem(h, field)
        if cur != NULL:
            cur_b = <bytes>cur
            if not string2ll(cur_b, PyBytes_GET_SIZE(cur_b), &value):
                c.error(b"ERR hash value is not an integer")
                return
    else:
        h = None
    if (incr < 0 and value < 0 and incr < LLONG_MIN_ - value) or (incr > 0 and value > 0 and incr > LLONG_MAX_ - value):
        c.error(b"ERR increment or decrement would overflow")
        return
    value += incr
    out = b"%d" % value
    if h is None:
        h = new_hash()
        r = db.rec_add(key, h)
        PyDict_SetItem(h, field, out)
        db.rec_account(r)
    else:
        if cur == NULL:
            cost = bytes_cost(field) + bytes_cost(out) + ENTRY_SLOT
        else:
            cost = bytes_cost(out) - bytes_cost(<object>cur)
        PyDict_SetItem(h, field, out)
        rec_cost_add(db, r, cost)
    if not h.hashtable:
        note_write(c, h, 2, argv[:2] + [field, out])
    c.dirty += 1
    if c.ks.notify_flags:
        notify(c, "h", b"hincrby", key)
    c.reply.add_int(value)


bind_fast(b"hset", <HandlerFunc>hset_impl)
bind_fast(b"hget", <HandlerFunc>hget_impl)
bind_fast(b"hmget", <HandlerFunc>hmget_impl)
bind_fast(b"hexists", <HandlerFunc>hexists_impl)
bind_fast(b"hlen", <HandlerFunc>hlen_impl)
bind_fast(b"hstrlen", <HandlerFunc>hstrlen_impl)
bind_fast(b"hincrby", <HandlerFunc>hincrby_impl)
bind_cost(b"hset")
bind_cost(b"hincrby")
