# cython: language_level=3
"""A connection's requests read from its socket with recv(2) instead of through the uvloop transport.

uvloop's stream read takes the GIL twice per read (the buffer allocation callback, then the read callback) and
runs its read bookkeeping and a Handle per ready socket around data_received.  Here every connection that reads
its own socket is registered in one epoll set of this module's (the read hub, as redis has one event loop
over all clients); uvloop watches only the hub's epoll descriptor, so one loop callback with the GIL taken once
serves every connection that is ready in that pass: epoll_wait(0), then recv() and the same code
data_received runs, per ready connection.

A connection takes its reads over once the transport has started (uvloop starts reading when connection_made
returns): the transport stops reading (pause_reading) and a duplicate of the socket's descriptor goes into the
hub (the transport keeps its own for writes, close and error reporting).  The duplicate leaves the hub before it
is closed (an epoll registration would outlive it otherwise).  Plain TCP and Unix sockets only (TLS bytes must
pass the SSL transport); CACHEMERE_OWN_READS=0 turns it off (A/B runs).
"""

cdef enum:
    READ_CHUNK = 262144            # one recv (uvloop's read buffer is as big)
    READS_PER_EVENT = 32           # recv again while a read filled the buffer (libuv reads up to 32 times)


cdef class SocketReading:
    """The part of a connection (server/connection.pyx RespConnection, server/mc_connection.pyx McConnection)
    that reads its socket through the hub. Subclasses implement _received (what data_received does) and may
    refuse own reads with _may_read_directly."""
    cdef public object transport
    cdef public bint closing
    cdef public bint reading_paused
    cdef int rfd                   # the duplicate descriptor this connection reads (-1: the transport reads)
    cdef bint rfd_watched          # registered in the hub (not while reading is paused)

    cdef int _received(self, data) except -1
    cdef bint _may_read_directly(self)
    cdef int take_over_reads(self) except -1
    cdef int read_ready(self) except -1
    cdef int pause_reads(self) except -1
    cdef int resume_reads(self) except -1
    cdef int release_reader(self) except -1
