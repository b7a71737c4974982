# cython: language_level=3
"""See direct_send.pxd."""
import os

cdef bint _enabled = os.environ.get("CACHEMERE_DIRECT_SEND", "1") != "0"


cdef int plain_socket_fd(object transport):
    """The socket a connection may send on directly, or -1 (TLS, no socket, or direct sends turned off)."""
    if transport is None or not _enabled:
        return -1
    if transport.get_extra_info("sslcontext") is not None or transport.get_extra_info("ssl_object") is not None:
        return -1
    sock = transport.get_extra_info("socket")
    if sock is None:
        return -1
    try:
        return sock.fileno()
    except Exception:
        return -1
