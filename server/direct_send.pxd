# cython: language_level=3
"""Replies sent with send(2) straight from a connection's reply buffer, past the uvloop transport.

transport.write costs about a thousand instructions per call (method lookup, buffer list, try-write, on_write
bookkeeping) and takes a bytes object, so every reply was copied once more.  A connection sends on its socket
itself while the transport holds nothing of its own: uvloop tries every write at once, so an empty transport
buffer (get_write_buffer_size() == 0) means nothing written earlier is still waiting, and sending now keeps the
order.  Whatever send() does not take (EAGAIN, a short write, an error) goes to transport.write, which queues it,
applies the high-water mark and reports errors exactly as before; from then on the connection goes through the
transport until it has drained.  TLS connections never send directly: their bytes must pass through the SSL
transport.  CACHEMERE_DIRECT_SEND=0 turns it off (A/B runs).
"""
cdef extern from "sys/socket.h" nogil:
    ssize_t send(int sockfd, const void* buf, size_t n, int flags)
    int MSG_NOSIGNAL
    int MSG_DONTWAIT


cdef inline Py_ssize_t send_now(int fd, const char* p, Py_ssize_t n) noexcept:
    """Bytes the kernel took without blocking (0 when it took none or the send failed)."""
    cdef Py_ssize_t sent = send(fd, p, <size_t>n, MSG_NOSIGNAL | MSG_DONTWAIT)
    return sent if sent > 0 else 0


cdef inline bint transport_drained(object transport, bint* dirty) except -1:
    """Whether a reply may go on the socket now: nothing went through the transport since it was last seen empty
    (*dirty false), or it has drained since (then *dirty is cleared)."""
    if dirty[0]:
        if transport.get_write_buffer_size():
            return False
        dirty[0] = False
    return True


cdef int plain_socket_fd(object transport)
