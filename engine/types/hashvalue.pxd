cdef class HashValue(dict):
    cdef public bint hashtable      # converted from listpack (one way), as redis's OBJ_ENCODING_HT
    cdef public object _scan        # HSCAN's cursor index over a large hash (engine/commands/_scan.py)
