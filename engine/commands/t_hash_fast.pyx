# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled fast paths of the hot hash commands (redis 7.0 t_hash.c), bound to the dispatcher with
bind_fast so it calls them as C functions: HSET/HMSET, HGET, HMGET, HINCRBY, HDEL, HEXISTS, HLEN.

Each handler makes the Python handler's (engine/commands/t_hash.py) checks in the same order: the
argument-count error of HSET, NOT_INTEGER of the increment before the lookup, WRONGTYPE, the listpack ->
hashtable conversion rules of HashValue.note_write, HINCRBY's value and overflow errors, the
"hset"/"hincrby"/"hdel"/"del" notifications, c.dirty. The dispatcher's call() does the rest for fast and
slow handlers alike: OOM and ACL before the call, then the effect stream (replication, AOF), WATCH and
tracking invalidation (on_key_modified).

Memory: the writes are bound with bind_cost, so the dispatcher does not re-estimate the key after them; a
new hash is estimated once (rec_account) when filled, then each field written or deleted adjusts the key's
accounted bytes by that field's own cost (rec_cost_add, O(1) whatever the hash's size), and a deleted
hash is released by rec_delete.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem, PyDict_Contains, PyDict_DelItem, PyDict_Size

from cpython.object cimport PyObject

cdef extern from "Python.h":
    PyObject* PyDict_SetDefault(object d, object key, object default) except NULL

from engine.core cimport Client, Db, cm_rec, rec_obj, CM_BOXED, bind_fast, bind_cost, rec_cost_add
from engine.types.hashvalue cimport HashValue, hv_find, hv_value, hv_set, hv_del, hv_convert, hv_len, hv_estimate, hv_reply_all
from protocol.resp cimport ReplyBuffer
from protocol.cutil cimport string2ll, ll_bytes

from engine.core import WRONGTYPE, NOT_INTEGER
from engine.notify import notify
import sys

cdef bytes WRONGTYPE_B = WRONGTYPE
cdef bytes NOT_INTEGER_B = NOT_INTEGER
cdef bytes NOT_INT_HASH = b"ERR hash value is not an integer"
cdef bytes OVERFLOW_ERR = b"ERR increment or decrement would overflow"
cdef bytes EV_HSET = b"hset"
cdef bytes EV_HINCRBY = b"hincrby"
cdef bytes EV_HDEL = b"hdel"
cdef bytes EV_DEL = b"del"
cdef long long LLONG_MAX_ = 9223372036854775807
cdef long long LLONG_MIN_ = -9223372036854775807 - 1

cdef object WRONG = object()          # lookup_hash's answer after a WRONGTYPE reply
cdef long long ENTRY_OVERHEAD = 24    # a dict entry (hash, key, value pointers), amortised index included


cdef inline HashValue new_hash():
    """HashValue() without the Python-level __init__ call (the C fields start False / None)."""
    return HashValue.__new__(HashValue)


cdef inline long long bytes_cost(bytes b):
    """engine/evict.pxi bytes_cost: what pymalloc takes for a bytes object."""
    cdef long long size = 33 + PyBytes_GET_SIZE(b)
    if size <= 512:
        return (size + 15) & ~15
    return (size + 16 + 15) & ~15


cdef inline object lookup_hash_rec(Client c, bytes key, cm_rec** out):
    """lookup_hash for a write, also giving the record."""
    cdef cm_rec* r = c.db.rec_lookup(key, False)
    cdef object o
    out[0] = r
    if r == NULL:
        return None
    if r.flags & CM_BOXED:
        o = <object>rec_obj(r)
        if type(o) is HashValue:
            return o
    c.error(WRONGTYPE_B)
    return WRONG


cdef inline object lookup_hash(Client c, bytes key, bint read):
    """The hash at key (redis lookupKeyRead/Write + checkType): None when absent, WRONG after replying."""
    cdef cm_rec* r = c.db.rec_lookup(key, read)
    cdef object o
    if r == NULL:
        return None
    if r.flags & CM_BOXED:
        o = <object>rec_obj(r)
        if type(o) is HashValue:
            return o
    c.error(WRONGTYPE_B)
    return WRONG


cdef inline void listpack_limits(Client c, long long* max_entries, long long* max_value):
    """engine.types.hash.limits without the copying Config.__getitem__."""
    cdef dict values
    if c.server is None:
        max_entries[0] = 128
        max_value[0] = 64
        return
    values = <dict>c.server.config._values
    max_entries[0] = <long long>values["hash-max-listpack-entries"]
    max_value[0] = <long long>values["hash-max-listpack-value"]


cdef inline void reply_bulk_raw(ReplyBuffer out, const unsigned char* p, Py_ssize_t n):
    out._header(b'$', n)
    out._append(<const char*>p, n)
    out._append(b"\r\n", 2)


cdef inline bint too_long(list argv, Py_ssize_t start, long long max_value):
    cdef Py_ssize_t j
    for j in range(start, len(argv)):
        if PyBytes_GET_SIZE(<bytes>argv[j]) > max_value:
            return True
    return False


cdef object hset_generic(Client c, list argv, bint ok_reply):
    cdef Py_ssize_t argc = len(argv), j
    cdef bytes key, field, val
    cdef HashValue h
    cdef dict d
    cdef object o
    cdef long long created = 0, max_entries = 128, max_value = 64, cost = 0, before = 0
    cdef cm_rec* r
    cdef PyObject* old
    cdef bint new_key = False, was_packed
    if argc % 2 != 0:
        c.error(b"ERR wrong number of arguments for '" + c.cmd.name_bytes + b"' command")
        return None
    key = <bytes>argv[1]
    o = lookup_hash_rec(c, key, &r)
    if o is WRONG:
        return None
    if o is None:
        h = new_hash()
        r = c.db.rec_add(key, h)
        new_key = True
    else:
        h = <HashValue>o
    was_packed = h.d is None
    if was_packed:
        # redis hashTypeTryConversion: a long field or value converts before the writes
        before = 0 if new_key else hv_estimate(h)
        listpack_limits(c, &max_entries, &max_value)
        if too_long(argv, 2, max_value):
            hv_convert(h)
    j = 2
    if h.d is None:
        while j < argc:
            field = <bytes>argv[j]
            val = <bytes>argv[j + 1]
            created += hv_set(h, PyBytes_AS_STRING(field), PyBytes_GET_SIZE(field),
                              PyBytes_AS_STRING(val), PyBytes_GET_SIZE(val))
            j += 2
            if h.count > max_entries:      # redis hashTypeSet: converted as soon as it holds too many
                hv_convert(h)
                break
    if was_packed:
        d = h.d
        while j < argc:
            if PyDict_SetDefault(d, argv[j], argv[j + 1]) != <PyObject*>argv[j + 1]:
                PyDict_SetItem(d, argv[j], argv[j + 1])
            else:
                created += 1
            j += 2
        cost = hv_estimate(h) - before
        rec_cost_add(c.db, r, cost + 8 if new_key else cost)   # a new record has nothing accounted
    else:
        d = h.d
        for j in range(2, argc, 2):
            field = <bytes>argv[j]
            old = PyDict_GetItem(d, field)
            if old == NULL:
                created += 1
                cost += bytes_cost(field) + ENTRY_OVERHEAD + bytes_cost(<bytes>argv[j + 1])
            else:
                cost += bytes_cost(<bytes>argv[j + 1]) - bytes_cost(<bytes>old)
            PyDict_SetItem(d, field, argv[j + 1])
        rec_cost_add(c.db, r, cost)
    c.dirty += (argc - 2) // 2
    if c.ks.notify_flags:
        notify(c, "h", EV_HSET, key)
    if ok_reply:
        c.reply.add_ok()
    else:
        c.reply.add_int(created)
    return None


cdef object hset_impl(Client c, list argv):
    return hset_generic(c, argv, False)


cdef object hmset_impl(Client c, list argv):
    return hset_generic(c, argv, True)


cdef inline bint hash_get(HashValue h, bytes field, ReplyBuffer out):
    """Reply h's value of field as a bulk string; False (nothing replied) when absent."""
    cdef PyObject* v
    cdef Py_ssize_t off, vlen
    cdef const unsigned char* p
    if h.d is None:
        off = hv_find(h, PyBytes_AS_STRING(field), PyBytes_GET_SIZE(field))
        if off < 0:
            return False
        p = hv_value(h, off, &vlen)
        reply_bulk_raw(out, p, vlen)
        return True
    v = PyDict_GetItem(h.d, field)
    if v == NULL:
        return False
    out.add_bulk(<bytes>v)
    return True


cdef object hget_impl(Client c, list argv):
    cdef object o = lookup_hash(c, <bytes>argv[1], True)
    if o is WRONG:
        return None
    if o is None or not hash_get(<HashValue>o, <bytes>argv[2], c.reply):
        c.reply.add_null()
    return None


cdef object hmget_impl(Client c, list argv):
    cdef Py_ssize_t j, argc = len(argv)
    cdef ReplyBuffer out
    cdef object o = lookup_hash(c, <bytes>argv[1], True)
    if o is WRONG:
        return None
    out = c.reply
    out.add_array_len(argc - 2)
    for j in range(2, argc):
        if o is None or not hash_get(<HashValue>o, <bytes>argv[j], out):
            out.add_null()
    return None


cdef object hincrby_impl(Client c, list argv):
    cdef long long incr = 0, value = 0
    cdef bytes key = <bytes>argv[1]
    cdef bytes field = <bytes>argv[2]
    cdef bytes current, text
    cdef PyObject* v = NULL
    cdef HashValue h
    cdef object o
    cdef long long max_entries = 128, max_value = 64, cost, before = 0
    cdef cm_rec* r
    cdef bint new_key = False
    cdef Py_ssize_t off = -1, vlen
    cdef const unsigned char* p
    if not string2ll(PyBytes_AS_STRING(<bytes>argv[3]), PyBytes_GET_SIZE(<bytes>argv[3]), &incr):
        c.error(NOT_INTEGER_B)
        return None
    o = lookup_hash_rec(c, key, &r)
    if o is WRONG:
        return None
    if o is None:
        h = new_hash()
        r = c.db.rec_add(key, h)
        new_key = True
    else:
        h = <HashValue>o
    if h.d is None:
        off = hv_find(h, PyBytes_AS_STRING(field), PyBytes_GET_SIZE(field))
        if off >= 0:
            p = hv_value(h, off, &vlen)
            if not string2ll(<const char*>p, vlen, &value):
                c.error(NOT_INT_HASH)
                return None
    else:
        v = PyDict_GetItem(h.d, field)
        if v != NULL:
            current = <bytes>v
            if not string2ll(PyBytes_AS_STRING(current), PyBytes_GET_SIZE(current), &value):
                c.error(NOT_INT_HASH)
                return None
    if (incr < 0 and value < 0 and incr < LLONG_MIN_ - value) or (incr > 0 and value > 0 and incr > LLONG_MAX_ - value):
        c.error(OVERFLOW_ERR)
        return None
    value += incr
    text = ll_bytes(value)
    if h.d is None:
        before = 0 if new_key else hv_estimate(h)
        hv_set(h, PyBytes_AS_STRING(field), PyBytes_GET_SIZE(field), PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text))
        # redis 7.0 hashTypeSet: the entry count, the field's and the new value's length
        listpack_limits(c, &max_entries, &max_value)
        if h.count > max_entries or PyBytes_GET_SIZE(field) > max_value or PyBytes_GET_SIZE(text) > max_value:
            hv_convert(h)
        cost = hv_estimate(h) - before
    else:
        if v == NULL:
            cost = bytes_cost(field) + ENTRY_OVERHEAD + bytes_cost(text)
        else:
            cost = bytes_cost(text) - bytes_cost(<bytes>v)
        PyDict_SetItem(h.d, field, text)
    rec_cost_add(c.db, r, cost + 8 if new_key else cost)   # a new record has nothing accounted
    c.dirty += 1
    if c.ks.notify_flags:
        notify(c, "h", EV_HINCRBY, key)
    c.reply.add_int(value)
    return None


cdef object hdel_impl(Client c, list argv):
    cdef bytes key = <bytes>argv[1]
    cdef bytes field
    cdef Py_ssize_t j, argc = len(argv)
    cdef long long deleted = 0, cost = 0, before
    cdef cm_rec* r
    cdef PyObject* old
    cdef HashValue h
    cdef dict d
    cdef object o = lookup_hash_rec(c, key, &r)
    if o is WRONG:
        return None
    if o is not None:
        h = <HashValue>o
        if h.d is None:
            before = hv_estimate(h)
            for j in range(2, argc):
                field = <bytes>argv[j]
                if hv_del(h, PyBytes_AS_STRING(field), PyBytes_GET_SIZE(field)):
                    deleted += 1
                    if h.count == 0:
                        break
            cost = hv_estimate(h) - before
        else:
            d = h.d
            for j in range(2, argc):
                old = PyDict_GetItem(d, argv[j])
                if old != NULL:
                    cost -= bytes_cost(<bytes>argv[j]) + ENTRY_OVERHEAD + bytes_cost(<bytes>old)
                    PyDict_DelItem(d, argv[j])
                    deleted += 1
                    if PyDict_Size(d) == 0:
                        break
        if deleted and hv_len(h) != 0:
            rec_cost_add(c.db, r, cost)
        if deleted:
            c.dirty += deleted
            if c.ks.notify_flags:
                notify(c, "h", EV_HDEL, key)
            if hv_len(h) == 0:
                c.db.rec_delete(key)
                if c.ks.notify_flags:
                    notify(c, "g", EV_DEL, key)
    c.reply.add_int(deleted)
    return None


cdef object hlen_impl(Client c, list argv):
    cdef object o = lookup_hash(c, <bytes>argv[1], True)
    if o is WRONG:
        return None
    c.reply.add_int(0 if o is None else hv_len(<HashValue>o))
    return None


cdef object hexists_impl(Client c, list argv):
    cdef HashValue h
    cdef bytes field = <bytes>argv[2]
    cdef object o = lookup_hash(c, <bytes>argv[1], True)
    if o is WRONG:
        return None
    if o is None:
        c.reply.add_int(0)
        return None
    h = <HashValue>o
    if h.d is None:
        c.reply.add_int(1 if hv_find(h, PyBytes_AS_STRING(field), PyBytes_GET_SIZE(field)) >= 0 else 0)
    else:
        c.reply.add_int(1 if PyDict_Contains(h.d, field) else 0)
    return None


cdef object reply_all(Client c, list argv, bint keys, bint values):
    """HGETALL/HKEYS/HVALS (t_hash.py reply_all): the packed form replied from its buffer."""
    cdef object o = lookup_hash(c, <bytes>argv[1], True)
    cdef HashValue h
    cdef ReplyBuffer out = c.reply
    if o is WRONG:
        return None
    if o is None:
        if keys and values:
            out.add_map_len(0)
        else:
            out.add_array_len(0)
        return None
    h = <HashValue>o
    if h.d is None:
        hv_reply_all(h, out, keys, values)
        return None
    if keys and values:
        out.add_map_len(len(h.d))
        for k, v in h.d.items():
            out.add_bulk(<bytes>k)
            out.add_bulk(<bytes>v)
    else:
        out.add_array_len(len(h.d))
        for x in (h.d if keys else h.d.values()):
            out.add_bulk(<bytes>x)
    return None


cdef object hgetall_impl(Client c, list argv):
    return reply_all(c, argv, True, True)


cdef object hkeys_impl(Client c, list argv):
    return reply_all(c, argv, True, False)


cdef object hvals_impl(Client c, list argv):
    return reply_all(c, argv, False, True)


bind_fast(b"hgetall", hgetall_impl)
bind_fast(b"hkeys", hkeys_impl)
bind_fast(b"hvals", hvals_impl)
bind_fast(b"hset", hset_impl)
bind_fast(b"hmset", hmset_impl)
bind_fast(b"hget", hget_impl)
bind_fast(b"hmget", hmget_impl)
bind_fast(b"hincrby", hincrby_impl)
bind_fast(b"hdel", hdel_impl)
bind_fast(b"hlen", hlen_impl)
bind_fast(b"hexists", hexists_impl)
for _name in (b"hset", b"hmset", b"hincrby", b"hdel"):
    bind_cost(_name)
