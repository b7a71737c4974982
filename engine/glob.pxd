cpdef bint glob_match(bytes pattern, bytes subject, bint nocase=*)
cpdef bint is_match_all(bytes pattern)
