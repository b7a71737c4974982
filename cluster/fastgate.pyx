# cython: language_level=3
"""The compiled front of the cluster routing gate (cluster/routing.py).

The common request - a command whose keys sit at fixed positions, all in one slot this node owns and that is
not being migrated, while the cluster is ok and the client did not send ASKING - is answered here without a
Python call: CRC16 of each key (engine/slots hash_slot), one list lookup in the slot table.  Everything else
(MOVED/ASK/TRYAGAIN/CROSSSLOT/CLUSTERDOWN, EXEC, movable keys, READONLY replicas, the commands refused in
cluster mode) goes to the Python ``slow`` function, which is redis getNodeByQuery as it stands."""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

from engine.core cimport Client
from engine.spec cimport CommandSpec
from engine.slots cimport hash_slot

cdef unsigned int CLIENT_ASKING = 1 << 9


cdef class FastGate:
    cdef public object cl            # ClusterState
    cdef public object slow          # slow(c, spec, argv) -> bool
    cdef public object prev          # the gate chained before ours, or None
    cdef public list slots           # cl.slots (the same list object)
    cdef public object myself
    cdef public set special          # specs that always take the slow path
    cdef public unsigned long long movable

    def __init__(self, cl, slow, prev, special, unsigned long long movable):
        self.cl = cl
        self.slow = slow
        self.prev = prev
        self.slots = cl.slots
        self.myself = cl.myself
        self.special = special
        self.movable = movable

    def __call__(self, Client c, CommandSpec spec, list argv):
        cdef Py_ssize_t i, last, argc
        cdef int step, slot, s
        cdef bytes key
        if c.is_master:
            return self._next(c, spec, argv)
        if (c.flags & CLIENT_ASKING) or spec in self.special:
            return self._slow(c, spec, argv)
        if spec.first_key <= 0:
            if spec.key_specs or spec.getkeys is not None or spec.flags & self.movable:
                return self._slow(c, spec, argv)
            return self._next(c, spec, argv)                 # no keys: nothing to route
        if spec.flags & self.movable:
            return self._slow(c, spec, argv)
        # a getkeys without movablekeys (SET, BITFIELD) only varies the key flags: the positions are fixed
        argc = len(argv)
        last = spec.last_key if spec.last_key >= 0 else argc + spec.last_key
        if last >= argc:
            last = argc - 1
        step = spec.key_step if spec.key_step > 0 else 1
        i = spec.first_key
        slot = -1
        while i <= last:
            key = <bytes>argv[i]
            s = hash_slot(PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key))
            if slot == -1:
                slot = s
            elif s != slot:
                return self._slow(c, spec, argv)              # CROSSSLOT (or the same key twice): slow path
            i += step
        if slot == -1:
            return self._next(c, spec, argv)
        cl = self.cl
        if self.slots[slot] is not self.myself or cl.state != 0 or slot in cl.migrating or slot in cl.importing:
            return self._slow(c, spec, argv)
        return self._next(c, spec, argv)

    cdef object _next(self, Client c, CommandSpec spec, list argv):
        if self.prev is not None:
            return self.prev(c, spec, argv)
        return True

    cdef object _slow(self, Client c, CommandSpec spec, list argv):
        if not self.slow(c, spec, argv):
            return False
        return self._next(c, spec, argv)
