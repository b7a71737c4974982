cdef class HashValue(dict):
    cdef public bint hashtable      # converted from listpack (one way, as redis): OBJECT ENCODING hashtable
    cdef public object _scan        # an HSCAN cursor index over a big hash (engine/commands/_scan.py)
