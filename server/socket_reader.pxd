# cython: language_level=3
"""A connection's requests read from its socket with recv(2) instead of through the uvloop transport.

uvloop's stream read takes the GIL twice per read (the buffer allocation callback, then the read callback) and
runs its read bookkeeping around data_received: about 700 of the ~6,000 instructions a -P1 SET costs.  A
connection takes its reads over once the transport has started: the transport stops reading
(pause_reading) and loop.add_reader watches a duplicate of the socket's descriptor (uvloop refuses add_reader
on a descriptor its transport owns), so one callback with the GIL taken once does recv() and hands the bytes to
the same code data_received runs.  Writes, close and errors stay with the transport; the duplicate is
unregistered before it is closed (an epoll registration would outlive it otherwise).  Plain TCP and Unix
sockets only (TLS bytes must pass the SSL transport); CACHEMERE_OWN_READS=0 turns it off (A/B runs).
"""

cdef enum:
    READ_CHUNK = 262144            # one recv (uvloop's read buffer is as big)
    READS_PER_EVENT = 32           # recv again while a read filled the buffer (libuv reads up to 32 times)

cdef int take_over_reads(object loop, object transport) except -2
cdef int stop_watching(object loop, int rfd, bint* watching) except -1
cdef int start_watching(object loop, int rfd, object on_readable, bint* watching) except -1
cdef int release_reader(object loop, int* rfd, bint* watching) except -1
cdef object read_chunk(int rfd)
cdef object next_chunk(object loop, object transport, int* rfd, bint* watching)
