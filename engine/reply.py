"""Nested Python values as one RESP reply, for families that build their replies as data (the services).

``add_value(c.reply, value)`` writes through the ReplyBuffer (protocol/resp.pyx), so the client's protocol
decides the wire types, as redis's addReply* functions do:

=====================  ===========================  ==============================
Python                 RESP3                        RESP2
=====================  ===========================  ==============================
dict                   map ``%``                    flat array ``*`` (k, v, k, v)
list / tuple           array ``*``                  array
None                   null ``_``                   null bulk ``$-1``
bool                   boolean ``#t`` / ``#f``      integer ``:1`` / ``:0``
int                    integer ``:``                integer
float                  double ``,`` (%.17g, inf)    bulk string of the same text
bytes                  bulk ``$``                   bulk
str                    bulk (utf-8)                 bulk
an error object        error ``-`` (in arrays too: per-entry failures)
=====================  ===========================  ==============================

An error object is anything with ``as_resp_error()`` returning the bytes after ``-`` (the services'
AwsError). Map keys that are not bytes are written as their str. Any other value is written as the bulk
string of its str().
"""


def _text(s):
    return s.encode("utf-8", "surrogatepass")


def add_value(r, v):
    """Write v (see the module docstring) into the ReplyBuffer r."""
    if isinstance(v, dict):
        r.add_map_len(len(v))
        for k, x in v.items():
            r.add_bulk(k if isinstance(k, bytes) else _text(str(k)))
            add_value(r, x)
    elif isinstance(v, (list, tuple)):
        r.add_array_len(len(v))
        for x in v:
            add_value(r, x)
    elif isinstance(v, bytes):
        r.add_bulk(v)
    elif isinstance(v, str):
        r.add_bulk(_text(v))
    elif v is None:
        r.add_null()
    elif isinstance(v, bool):
        r.add_bool(v)
    elif isinstance(v, int):
        r.add_int(v)
    elif isinstance(v, float):
        r.add_double(v)
    elif hasattr(v, "as_resp_error"):
        r.add_error(v.as_resp_error())
    else:
        r.add_bulk(_text(str(v)))
