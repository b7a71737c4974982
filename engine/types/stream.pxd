# C-level entry points of the stream value type, cimported by the stream command family.

cpdef bytes format_id(tuple stream_id)
