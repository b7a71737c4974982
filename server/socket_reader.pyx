# cython: language_level=3
"""See socket_reader.pxd."""
import os

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.errno cimport errno, EAGAIN, EINTR

cdef extern from "unistd.h" nogil:
    int close(int fd)

cdef extern from "fcntl.h" nogil:
    int fcntl(int fd, int cmd, int arg)
    int F_DUPFD_CLOEXEC

cdef extern from "sys/socket.h" nogil:
    ssize_t recv(int sockfd, void* buf, size_t n, int flags)
    int MSG_DONTWAIT

cdef bint _enabled = os.environ.get("CACHEMERE_OWN_READS", "1") != "0"
cdef tuple _STREAM_TRANSPORTS = ("TCPTransport", "UnixTransport")
cdef char _buf[READ_CHUNK]          # every read lands here first (the event loop runs one callback at a time)


cdef int take_over_reads(object loop, object transport) except -2:
    """The duplicate descriptor the connection now reads (start_watching registers it), or -1: the transport
    goes on reading."""
    cdef int rfd
    # uvloop's plain stream transports (an SSL transport is another class)
    if not _enabled or loop is None or transport is None or type(transport).__name__ not in _STREAM_TRANSPORTS \
            or transport.is_closing():
        return -1
    sock = transport.get_extra_info("socket")
    if sock is None:
        return -1
    rfd = fcntl(sock.fileno(), F_DUPFD_CLOEXEC, 0)
    if rfd < 0:
        return -1
    transport.pause_reading()
    return rfd


cdef int stop_watching(object loop, int rfd, bint* watching) except -1:
    if watching[0]:
        watching[0] = False
        loop.remove_reader(rfd)
    return 0


cdef int start_watching(object loop, int rfd, object on_readable, bint* watching) except -1:
    if not watching[0]:
        watching[0] = True
        loop.add_reader(rfd, on_readable)
    return 0


cdef int release_reader(object loop, int* rfd, bint* watching) except -1:
    """Unregister, then close the duplicate (the transport still owns the socket)."""
    if rfd[0] < 0:
        return 0
    try:
        stop_watching(loop, rfd[0], watching)
    finally:
        close(rfd[0])
        rfd[0] = -1
    return 0


cdef object read_chunk(int rfd):
    """The next bytes from the socket: b"" at end of stream, None when nothing is ready; OSError on failure."""
    cdef ssize_t n
    while True:
        n = recv(rfd, _buf, READ_CHUNK, MSG_DONTWAIT)
        if n >= 0:
            return PyBytes_FromStringAndSize(_buf, n)
        if errno == EINTR:
            continue
        if errno == EAGAIN:                 # (EWOULDBLOCK is EAGAIN on Linux)
            return None
        raise OSError(errno, os.strerror(errno))


cdef object next_chunk(object loop, object transport, int* rfd, bint* watching):
    """The next bytes to process, or None: nothing is ready, or the stream ended (the reader is released and
    the transport closed, as uvloop does when eof_received() is false) or failed (released and aborted, as
    uvloop on a failed read); connection_lost follows both."""
    try:
        data = read_chunk(rfd[0])
    except OSError:
        release_reader(loop, rfd, watching)
        transport.abort()
        return None
    if data is None:
        return None
    if len(<bytes>data) == 0:
        release_reader(loop, rfd, watching)
        transport.close()
        return None
    return data
