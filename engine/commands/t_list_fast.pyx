# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled hot path of the list family: LPUSH/RPUSH/LPOP/RPOP/LMOVE/RPOPLPUSH/LINDEX/LLEN as C handlers
bound with bind_fast, working on the ListValue (a deque) of the record directly. Each handler does what its
Python form in engine/commands/t_list.py does, step for step (lookup with lazy expiry, WRONGTYPE, the new
key's "new" event and blocked-client wakeup, keyspace notifications in redis's order, deleting an emptied
list, dirty, the reply); the dispatcher's call() still does the rest (effects, WATCH / tracking invalidation,
stats). What is not the common form (LPOP/RPOP with a count) runs the Python handler.

Memory: the commands are bound with bind_cost, so the dispatcher does not re-estimate the key after them;
a push or pop adjusts the key's accounted bytes by the element's own cost (rec_cost_add, O(1) whatever the
list's length), a new list is estimated once (rec_account), a deleted one is released by rec_delete.

Imported at the end of engine/commands/t_list.py, after the commands are declared.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF

from engine.core cimport (Client, Db, cm_rec, rec_obj, CM_BOXED, bind_fast, bind_cost, HandlerFunc,
                          rec_cost_add)
from protocol.cutil cimport string2ll
from protocol.resp cimport ReplyBuffer

from engine.core import WRONGTYPE, NOT_INTEGER, SYNTAX_ERR
from engine.notify import notify
from engine.blocking import signal_key_ready
from engine.types.listvalue import ListValue
from engine.commands import t_list as _py

cdef object LIST_TYPE = ListValue

# deque's append/appendleft (METH_O) and pop/popleft (METH_NOARGS) as C functions, taken from their method
# descriptors (ListValue overrides none of them): a push or pop is then a C call, no attribute lookup
cdef extern from *:
    """
    typedef PyObject* (*cm_deque_meth)(PyObject*, PyObject*);
    static cm_deque_meth cm_descr_meth(PyObject* descr, int flags) {
        PyMethodDef* def;
        if (Py_TYPE(descr) != &PyMethodDescr_Type) return NULL;
        def = ((PyMethodDescrObject*)descr)->d_method;
        if ((def->ml_flags & ~METH_COEXIST) != flags) return NULL;
        return (cm_deque_meth)(void(*)(void))def->ml_meth;
    }
    """
    ctypedef PyObject* (*cm_deque_meth)(PyObject*, PyObject*)
    cm_deque_meth cm_descr_meth(PyObject* descr, int flags)
    int METH_O
    int METH_NOARGS

from collections import deque as _deque
cdef cm_deque_meth D_APPEND = cm_descr_meth(<PyObject*>_deque.__dict__["append"], METH_O)
cdef cm_deque_meth D_APPENDLEFT = cm_descr_meth(<PyObject*>_deque.__dict__["appendleft"], METH_O)
cdef cm_deque_meth D_POP = cm_descr_meth(<PyObject*>_deque.__dict__["pop"], METH_NOARGS)
cdef cm_deque_meth D_POPLEFT = cm_descr_meth(<PyObject*>_deque.__dict__["popleft"], METH_NOARGS)
for _m in ("append", "appendleft", "pop", "popleft"):
    if getattr(ListValue, _m) is not getattr(_deque, _m):
        D_APPEND = D_APPENDLEFT = D_POP = D_POPLEFT = NULL


cdef inline int push_one(object lst, bytes v, bint head) except -1:
    cdef cm_deque_meth f = D_APPENDLEFT if head else D_APPEND
    cdef PyObject* res
    if f == NULL:
        if head:
            lst.appendleft(v)
        else:
            lst.append(v)
        return 0
    res = f(<PyObject*>lst, <PyObject*>v)
    if res == NULL:
        raise MemoryError()
    Py_DECREF(<object>res)
    return 0


cdef inline bytes pop_one(object lst, bint head):
    """The element popped from a non-empty list."""
    cdef cm_deque_meth f = D_POPLEFT if head else D_POP
    cdef PyObject* res
    if f == NULL:
        return <bytes>(lst.popleft() if head else lst.pop())
    res = f(<PyObject*>lst, NULL)
    if res == NULL:
        raise IndexError("pop from an empty deque")
    cdef object v = <object>res
    Py_DECREF(v)                  # <object> took its own reference
    return <bytes>v

# bytes a list element costs beyond the list: its bytes object as CPython allocates it (33 B header, rounded
# to 16) and its share of the deque's blocks (8 B slot, links) -- the slope of ListValue.mem_estimate
cdef inline long long element_cost(bytes v):
    return ((33 + PyBytes_GET_SIZE(v) + 15) & ~15) + 17


cdef inline bint ieq(bytes a, const char* lower, Py_ssize_t n):
    cdef const char* p = PyBytes_AS_STRING(a)
    cdef Py_ssize_t i
    cdef char ch
    if PyBytes_GET_SIZE(a) != n:
        return False
    for i in range(n):
        ch = p[i]
        if 65 <= ch <= 90:
            ch += 32
        if ch != lower[i]:
            return False
    return True


cdef inline int parse_where(Client c, bytes arg):
    """LEFT -> 1, RIGHT -> 0, else -1 after the syntax error (t_list.parse_where)."""
    if ieq(arg, b"left", 4):
        return 1
    if ieq(arg, b"right", 5):
        return 0
    c.error(SYNTAX_ERR)
    return -1


cdef inline int list_rec(Client c, cm_rec* r):
    """0: a list record; -1 after WRONGTYPE (r not NULL)."""
    if not (r.flags & CM_BOXED) or type(<object>rec_obj(r)) is not LIST_TYPE:
        c.error(WRONGTYPE)
        return -1
    return 0


cdef object fallback(Client c, list argv, object handler, int nkeys):
    """Run the Python form, then account the keys it names (the dispatcher skips that for bound commands)."""
    cdef cm_rec* r
    cdef int i
    handler(c, argv)
    if c.dirty > 0:
        for i in range(1, nkeys + 1):
            r = c.db.rec_find(<bytes>argv[i])
            if r != NULL:
                c.db.rec_account(r)


# ---------------------------------------------------------------------------------------------------
# pushes
# ---------------------------------------------------------------------------------------------------
cdef object push_generic(Client c, list argv, bint head):
    """t_list.push_generic (not the X forms): the reply is the new length."""
    cdef bytes key = <bytes>argv[1]
    cdef Db db = c.db
    cdef cm_rec* r = db.rec_lookup(key, False)
    cdef object lst
    cdef Py_ssize_t i, argc = len(argv)
    cdef long long cost = 0
    cdef bint created = False
    cdef bytes v
    if r != NULL:
        if list_rec(c, r) < 0:
            return
        lst = <object>rec_obj(r)
    else:
        lst = ListValue()
        r = db.rec_add(key, lst)
        created = True
        signal_key_ready(c, key)
    for i in range(2, argc):
        v = <bytes>argv[i]
        push_one(lst, v, head)
        cost += element_cost(v)
    if c.ks.notify_flags:
        notify(c, "l", b"lpush" if head else b"rpush", key)
    if created:
        db.rec_account(r)
    else:
        rec_cost_add(db, r, cost)
    c.dirty += argc - 2
    c.reply.add_int(len(lst))


cdef object lpush_impl(Client c, list argv):
    push_generic(c, argv, True)


cdef object rpush_impl(Client c, list argv):
    push_generic(c, argv, False)


# ---------------------------------------------------------------------------------------------------
# pops
# ---------------------------------------------------------------------------------------------------
cdef inline void emptied(Client c, Db db, bytes key):
    """t_list.delete_if_empty for a list known to be empty."""
    db.rec_delete(key)
    if c.ks.notify_flags:
        notify(c, "g", b"del", key)


cdef object pop_generic(Client c, list argv, bint head):
    cdef bytes key = <bytes>argv[1]
    cdef Db db = c.db
    cdef cm_rec* r = db.rec_lookup(key, False)
    cdef object lst
    cdef bytes value
    if r == NULL:
        c.reply.add_null()
        return
    if list_rec(c, r) < 0:
        return
    lst = <object>rec_obj(r)
    value = pop_one(lst, head)
    if c.ks.notify_flags:
        notify(c, "l", b"lpop" if head else b"rpop", key)
    if len(lst) == 0:
        emptied(c, db, key)
    else:
        rec_cost_add(db, r, -element_cost(value))
    c.dirty += 1
    c.reply.add_bulk(value)


cdef object lpop_impl(Client c, list argv):
    if len(argv) != 2:
        return fallback(c, argv, _py.lpop_command, 1)
    pop_generic(c, argv, True)


cdef object rpop_impl(Client c, list argv):
    if len(argv) != 2:
        return fallback(c, argv, _py.rpop_command, 1)
    pop_generic(c, argv, False)


cdef object lmove_impl(Client c, list argv):
    """t_list.lmove_command."""
    cdef int from_head = parse_where(c, <bytes>argv[3])
    if from_head < 0:
        return
    cdef int to_head = parse_where(c, <bytes>argv[4])
    if to_head < 0:
        return
    move_generic(c, <bytes>argv[1], <bytes>argv[2], from_head, to_head)


cdef object rpoplpush_impl(Client c, list argv):
    move_generic(c, <bytes>argv[1], <bytes>argv[2], False, True)


cdef object move_generic(Client c, bytes source, bytes destination, bint from_head, bint to_head):
    """t_list.move_generic."""
    cdef Db db = c.db
    cdef cm_rec* rs = db.rec_lookup(source, False)
    cdef cm_rec* rd
    cdef object src, dst
    cdef bytes value
    cdef bint same = source == destination
    cdef bint created = False
    if rs == NULL:
        c.reply.add_null()
        return
    if list_rec(c, rs) < 0:
        return
    src = <object>rec_obj(rs)
    if same:
        rd = rs
        dst = src
    else:
        rd = db.rec_lookup(destination, False)
        if rd != NULL:
            if list_rec(c, rd) < 0:
                return
            dst = <object>rec_obj(rd)
    value = pop_one(src, from_head)
    # push_into: create the destination (wakes its blocked clients), push, its event
    if not same and rd == NULL:
        dst = ListValue()
        rd = db.rec_add(destination, dst)
        created = True
        signal_key_ready(c, destination)
    push_one(dst, value, to_head)
    if c.ks.notify_flags:
        notify(c, "l", b"lpush" if to_head else b"rpush", destination)
    c.reply.add_bulk(value)
    if c.ks.notify_flags:
        notify(c, "l", b"lpop" if from_head else b"rpop", source)
    if not same:
        if created:
            db.rec_account(rd)
        else:
            rec_cost_add(db, rd, element_cost(value))
        if len(src) == 0:
            emptied(c, db, source)       # rd stays valid: records never move, only this one goes
        else:
            rec_cost_add(db, rs, -element_cost(value))
    c.dirty += 1


# ---------------------------------------------------------------------------------------------------
# reads
# ---------------------------------------------------------------------------------------------------
cdef object llen_impl(Client c, list argv):
    cdef cm_rec* r = c.db.rec_lookup(<bytes>argv[1], True)
    if r == NULL:
        c.reply.add_int(0)
        return
    if list_rec(c, r) < 0:
        return
    c.reply.add_int(len(<object>rec_obj(r)))


cdef object lindex_impl(Client c, list argv):
    cdef cm_rec* r = c.db.rec_lookup(<bytes>argv[1], True)
    cdef bytes arg = <bytes>argv[2]
    cdef long long index
    cdef Py_ssize_t n
    cdef object lst
    if r == NULL:
        c.reply.add_null()
        return
    if list_rec(c, r) < 0:
        return
    if not string2ll(PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg), &index):
        c.error(NOT_INTEGER)
        return
    lst = <object>rec_obj(r)
    n = len(lst)
    if index < 0:
        index += n
    if 0 <= index < n:
        c.reply.add_bulk(<bytes>lst[index])
    else:
        c.reply.add_null()


cdef object lrange_slow = _py.lrange_command


cdef object lrange_impl(Client c, list argv):
    """LRANGE with its reply written while walking the deque: forward from the head when the range is
    nearer the head, else backward from the tail into a list written in reverse (deque indexing is a
    block walk per element)."""
    cdef bytes a1 = <bytes>argv[2]
    cdef bytes a2 = <bytes>argv[3]
    cdef long long start, end, n, count, skip, i
    cdef cm_rec* r
    cdef object lst, it
    cdef list tail
    cdef ReplyBuffer out
    if not string2ll(PyBytes_AS_STRING(a1), PyBytes_GET_SIZE(a1), &start) or \
            not string2ll(PyBytes_AS_STRING(a2), PyBytes_GET_SIZE(a2), &end):
        return lrange_slow(c, argv)           # the error text is the Python handler's
    r = c.db.rec_lookup(<bytes>argv[1], True)
    out = c.reply
    if r == NULL:
        out.add_array_len(0)
        return None
    if list_rec(c, r) < 0:
        return None
    lst = <object>rec_obj(r)
    n = len(lst)
    # redis's index arithmetic (t_list.normalise_range)
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        out.add_array_len(0)
        return None
    if end >= n:
        end = n - 1
    count = end - start + 1
    out.add_array_len(count)
    if start <= n - 1 - end:
        it = iter(lst)
        for i in range(start):
            next(it)
        for i in range(count):
            out.add_bulk(<bytes>next(it))
    else:
        it = reversed(lst)
        for i in range(n - 1 - end):
            next(it)
        tail = [next(it) for i in range(count)]
        for i in range(count - 1, -1, -1):
            out.add_bulk(<bytes>tail[i])
    return None


bind_fast(b"lpush", lpush_impl)
bind_fast(b"rpush", rpush_impl)
bind_fast(b"lpop", lpop_impl)
bind_fast(b"rpop", rpop_impl)
bind_fast(b"lmove", lmove_impl)
bind_fast(b"rpoplpush", rpoplpush_impl)
bind_fast(b"lindex", lindex_impl)
bind_fast(b"llen", llen_impl)
bind_fast(b"lrange", lrange_impl)
for _name in (b"lpush", b"rpush", b"lpop", b"rpop", b"lmove", b"rpoplpush"):
    bind_cost(_name)


def deque_calls_direct():
    """Whether pushes and pops call deque's C functions directly (else through the methods)."""
    return D_APPEND != NULL and D_APPENDLEFT != NULL and D_POP != NULL and D_POPLEFT != NULL
