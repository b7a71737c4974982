# cython: language_level=3
"""See socket_reader.pxd."""
import asyncio
import os

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.errno cimport errno, EAGAIN, EINTR, EEXIST, ENOENT
from libc.stdint cimport uint32_t
from libc.stdlib cimport realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF

cdef extern from "unistd.h" nogil:
    int close(int fd)

cdef extern from "fcntl.h" nogil:
    int fcntl(int fd, int cmd, int arg)
    int F_DUPFD_CLOEXEC

cdef extern from "sys/socket.h" nogil:
    ssize_t recv(int sockfd, void* buf, size_t n, int flags)
    int MSG_DONTWAIT

cdef extern from "sys/epoll.h" nogil:
    ctypedef union epoll_data_t:
        void* ptr
        int fd
        uint32_t u32
    cdef struct epoll_event:
        uint32_t events
        epoll_data_t data
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event* event)
    int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout)
    int EPOLL_CLOEXEC
    int EPOLL_CTL_ADD
    int EPOLL_CTL_DEL
    int EPOLLIN

cdef enum:
    HUB_EVENTS = 256               # connections served per hub callback (the rest stay ready for the next pass)

cdef bint _enabled = os.environ.get("CACHEMERE_OWN_READS", "1") != "0"
cdef tuple _STREAM_TRANSPORTS = ("TCPTransport", "UnixTransport")
cdef char _buf[READ_CHUNK]          # every read lands here first (the event loop runs one callback at a time)
cdef int _epfd = -1                 # the hub's epoll set
cdef object _hub_loop = None        # the loop watching it
# rfd -> connection, a reference held while registered (a C array: no dict lookup per ready connection); an
# event for a connection released earlier in the same pass finds NULL
cdef PyObject** _by_fd = NULL
cdef int _by_fd_cap = 0
cdef epoll_event _events[HUB_EVENTS]


def _hub_ready():
    """One loop callback for every connection ready in this pass."""
    cdef int n, i
    cdef SocketReading conn
    n = epoll_wait(_epfd, _events, HUB_EVENTS, 0)
    cdef int fd
    for i in range(n):
        # a connection served earlier in this pass may have released another one (CLIENT KILL)
        fd = _events[i].data.fd
        if fd < _by_fd_cap and _by_fd[fd] != NULL:
            conn = <SocketReading>_by_fd[fd]       # a reference of our own while it runs
            conn.read_ready()


cdef int _hub_add(SocketReading conn) except -1:
    global _epfd, _hub_loop, _by_fd, _by_fd_cap
    cdef epoll_event ev
    cdef int cap, i
    cdef PyObject** grown
    loop = asyncio.get_running_loop()
    if _epfd < 0 or _hub_loop is not loop:
        if _epfd >= 0:              # a new event loop (tests): a new set
            close(_epfd)
        _epfd = epoll_create1(EPOLL_CLOEXEC)
        if _epfd < 0:
            raise OSError(errno, os.strerror(errno))
        loop.add_reader(_epfd, _hub_ready)
        _hub_loop = loop
    if conn.rfd >= _by_fd_cap:
        cap = max(1024, _by_fd_cap)
        while cap <= conn.rfd:
            cap *= 2
        grown = <PyObject**>realloc(_by_fd, cap * sizeof(PyObject*))
        if grown == NULL:
            raise MemoryError()
        for i in range(_by_fd_cap, cap):
            grown[i] = NULL
        _by_fd = grown
        _by_fd_cap = cap
    ev.events = EPOLLIN
    ev.data.fd = conn.rfd
    if epoll_ctl(_epfd, EPOLL_CTL_ADD, conn.rfd, &ev) < 0 and errno != EEXIST:
        raise OSError(errno, os.strerror(errno))
    if _by_fd[conn.rfd] != NULL:
        Py_DECREF(<object>_by_fd[conn.rfd])
    Py_INCREF(conn)
    _by_fd[conn.rfd] = <PyObject*>conn
    return 0


cdef int _hub_remove(SocketReading conn) except -1:
    cdef epoll_event ev
    cdef PyObject* held
    if conn.rfd < _by_fd_cap and _by_fd[conn.rfd] == <PyObject*>conn:
        held = _by_fd[conn.rfd]
        _by_fd[conn.rfd] = NULL
        Py_DECREF(<object>held)          # the caller holds conn: it lives on
    if _epfd >= 0 and epoll_ctl(_epfd, EPOLL_CTL_DEL, conn.rfd, &ev) < 0 and errno != ENOENT:
        raise OSError(errno, os.strerror(errno))
    return 0


cdef object _read_chunk(int rfd):
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


cdef class SocketReading:

    def __cinit__(self):
        self.rfd = -1

    # the asyncio protocol callbacks both connection kinds share
    def data_received(self, data):
        self._received(data)

    def eof_received(self):
        return False                      # the transport closes (redis and memcached close on EOF)

    def pause_writing(self):
        # the peer is not reading its replies: stop reading its requests until the output drains
        if not self.reading_paused and not self.closing:
            self.reading_paused = True
            self.pause_reads()

    def resume_writing(self):
        if self.reading_paused and not self.closing:
            self.reading_paused = False
            self.resume_reads()

    cdef int _received(self, data) except -1:
        return 0

    cdef bint _may_read_directly(self):
        return True

    cdef int take_over_reads(self) except -1:
        """Called one loop pass after connection_made: read the socket here from now on, when it is a plain
        stream socket and own reads are on."""
        cdef int rfd
        transport = self.transport
        if not _enabled or self.closing or self.rfd >= 0 or transport is None or not self._may_read_directly() \
                or type(transport).__name__ not in _STREAM_TRANSPORTS or transport.is_closing():
            return 0
        sock = transport.get_extra_info("socket")
        if sock is None:
            return 0
        rfd = fcntl(sock.fileno(), F_DUPFD_CLOEXEC, 0)
        if rfd < 0:
            return 0
        self.rfd = rfd
        transport.pause_reading()
        if not self.reading_paused:
            self.resume_reads()
        return 0

    cdef int read_ready(self) except -1:
        cdef int i
        if self.closing or not self._may_read_directly():
            self.release_reader()
            return 0
        for i in range(READS_PER_EVENT):
            try:
                data = _read_chunk(self.rfd)
            except OSError:
                self.release_reader()
                self.transport.abort()       # as uvloop on a failed read: connection_lost follows
                return 0
            if data is None:
                return 0
            if PyBytes_GET_SIZE(data) == 0:
                # end of stream: eof_received() is false, so the transport closes (uvloop _on_eof)
                self.release_reader()
                self.transport.close()
                return 0
            self._received(data)
            if PyBytes_GET_SIZE(data) < READ_CHUNK or not self.rfd_watched:
                return 0
        return 0

    cdef int pause_reads(self) except -1:
        """Stop reading requests (the peer does not read its replies); the transport's reads when it reads."""
        if self.rfd < 0:
            self.transport.pause_reading()
        elif self.rfd_watched:
            self.rfd_watched = False
            _hub_remove(self)
        return 0

    cdef int resume_reads(self) except -1:
        if self.rfd < 0:
            self.transport.resume_reading()
        elif not self.rfd_watched:
            _hub_add(self)
            self.rfd_watched = True
        return 0

    cdef int release_reader(self) except -1:
        """Out of the hub, then the duplicate closed (the transport still owns the socket)."""
        if self.rfd < 0:
            return 0
        try:
            if self.rfd_watched:
                self.rfd_watched = False
                _hub_remove(self)
        finally:
            close(self.rfd)
            self.rfd = -1
        return 0
