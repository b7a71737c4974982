# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""memcached text + meta protocol codec (pure: no I/O), modelled on memcached 1.6.18.

Parsing mirrors memcached's ``proto_text.c`` step for step, because clients (and tests written
against memcached) depend on the exact error line and on which bytes are consumed after an error:

* a line ends at ``\\n``; one ``\\r`` before it is dropped unless the line is just ``\\r\\n``;
  the line is cut at its first NUL byte (memcached runs ``strlen`` on it);
* tokens are split on the space character only (a tab is part of a token), at most 23 tokens
  plus a "rest of line" pointer, exactly like ``tokenize_command`` with ``MAX_TOKENS`` 24;
* numbers are read with the C library's ``strtol``/``strtoul``/``strtoull`` under memcached's
  ``safe_strto*`` rules (leading blanks and ``+`` allowed, 32-bit truncation kept);
* an incomplete line longer than 2048 bytes closes the connection unless it starts (after at
  most 100 spaces) with ``get `` or ``gets ``; an unknown command whose last token starts with
  ``HTTP/`` closes the connection without a reply.

``McParser.next_request()`` returns ``McRequest`` objects.  A request with ``error`` set must be
answered with that exact line (unless ``noreply``), then the connection closed if ``close``.
See ``protocol/MEMCACHE_NOTES.md`` for the behaviours verified against a live memcached.
"""
from libc.string cimport memcpy, memchr, memmove, strlen, strncmp, memcmp
from libc.stdlib cimport malloc, realloc, free, strtol, strtoul, strtoull
from libc cimport errno as c_errno  # module access: a bare `errno = 0` would make a local
from libc.stdint cimport int32_t, uint32_t, uint64_t, int64_t
from cpython.bytes cimport PyBytes_FromStringAndSize
import binascii

# ---------------------------------------------------------------------------------------------
# Command codes
# ---------------------------------------------------------------------------------------------
cdef enum:
    C_ERROR = 0       # the line is an error: see McRequest.error / close
    C_GET = 1
    C_GETS = 2
    C_GAT = 3
    C_GATS = 4
    C_SET = 5
    C_ADD = 6
    C_REPLACE = 7
    C_APPEND = 8
    C_PREPEND = 9
    C_CAS = 10
    C_DELETE = 11
    C_INCR = 12
    C_DECR = 13
    C_TOUCH = 14
    C_FLUSH_ALL = 15
    C_VERSION = 16
    C_VERBOSITY = 17
    C_STATS = 18
    C_QUIT = 19
    C_SHUTDOWN = 20
    C_MG = 21
    C_MS = 22
    C_MD = 23
    C_MA = 24
    C_MN = 25
    C_ME = 26
    C_ADMIN = 27      # slabs, lru_crawler, lru, watch, cache_memlimit, extstore, refresh_certs
    C_CONFIG = 28     # ElastiCache's auto-discovery verb: config get|set|delete cluster

MC_ERROR = C_ERROR
MC_GET = C_GET
MC_GETS = C_GETS
MC_GAT = C_GAT
MC_GATS = C_GATS
MC_SET = C_SET
MC_ADD = C_ADD
MC_REPLACE = C_REPLACE
MC_APPEND = C_APPEND
MC_PREPEND = C_PREPEND
MC_CAS = C_CAS
MC_DELETE = C_DELETE
MC_INCR = C_INCR
MC_DECR = C_DECR
MC_TOUCH = C_TOUCH
MC_FLUSH_ALL = C_FLUSH_ALL
MC_VERSION = C_VERSION
MC_VERBOSITY = C_VERBOSITY
MC_STATS = C_STATS
MC_QUIT = C_QUIT
MC_SHUTDOWN = C_SHUTDOWN
MC_MG = C_MG
MC_MS = C_MS
MC_MD = C_MD
MC_MA = C_MA
MC_MN = C_MN
MC_ME = C_ME
MC_ADMIN = C_ADMIN
MC_CONFIG = C_CONFIG

COMMAND_NAMES = {
    C_ERROR: "error", C_GET: "get", C_GETS: "gets", C_GAT: "gat", C_GATS: "gats", C_SET: "set",
    C_ADD: "add", C_REPLACE: "replace", C_APPEND: "append", C_PREPEND: "prepend", C_CAS: "cas",
    C_DELETE: "delete", C_INCR: "incr", C_DECR: "decr", C_TOUCH: "touch",
    C_FLUSH_ALL: "flush_all", C_VERSION: "version", C_VERBOSITY: "verbosity", C_STATS: "stats",
    C_QUIT: "quit", C_SHUTDOWN: "shutdown", C_MG: "mg", C_MS: "ms", C_MD: "md", C_MA: "ma",
    C_MN: "mn", C_ME: "me", C_ADMIN: "admin", C_CONFIG: "config",
}

# ---------------------------------------------------------------------------------------------
# Limits (memcached 1.6.18 constants)
# ---------------------------------------------------------------------------------------------
cdef enum:
    MAX_TOKENS = 24             # tokenize_command's max_tokens (23 real tokens + terminal)
    KEY_MAX_LENGTH = 250
    LINE_NO_EOL_LIMIT = 2048    # an incomplete line longer than this closes the connection...
    MULTIGET_LEAD_SPACES = 100  # ...unless it is a get/gets after at most this many spaces
    MFLAG_MAX_OPT_LENGTH = 20   # meta: ntokens (incl. terminal) above this is an error
    MFLAG_MAX_OPAQUE_LENGTH = 32
    ITEM_HEADER_SIZE = 56       # sizeof(item) 48 + 8 bytes of CAS, as item_size_ok() counts
    INT_MAX = 2147483647

KEY_MAX_LEN = KEY_MAX_LENGTH

# ---------------------------------------------------------------------------------------------
# Error lines (exact bytes memcached sends)
# ---------------------------------------------------------------------------------------------
ERR_ERROR = b"ERROR\r\n"
ERR_BAD_FORMAT = b"CLIENT_ERROR bad command line format\r\n"
ERR_BAD_CHUNK = b"CLIENT_ERROR bad data chunk\r\n"
ERR_TOO_LARGE = b"SERVER_ERROR object too large for cache\r\n"
ERR_BAD_EXPTIME = b"CLIENT_ERROR invalid exptime argument\r\n"
ERR_BAD_DELTA = b"CLIENT_ERROR invalid numeric delta argument\r\n"
ERR_DELETE_USAGE = b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
ERR_META_DUP = b"CLIENT_ERROR duplicate flag\r\n"
ERR_META_INVALID = b"CLIENT_ERROR invalid flag\r\n"
ERR_META_BAD_TOKEN = b"CLIENT_ERROR bad token in command line format\r\n"
ERR_META_DECODE_KEY = b"CLIENT_ERROR error decoding key\r\n"
ERR_META_M_LENGTH = b"CLIENT_ERROR incorrect length for M token\r\n"
ERR_META_INITIAL = b"CLIENT_ERROR invalid numeric initial value\r\n"
ERR_META_DELTA = b"CLIENT_ERROR invalid numeric delta value\r\n"
ERR_MG_TOO_MANY = b"CLIENT_ERROR options flags are too long\r\n"
ERR_META_TOO_MANY = b"CLIENT_ERROR options flags too long\r\n"
ERR_META_OPAQUE = b"CLIENT_ERROR opaque token too long\r\n"
ERR_MS_MODE = b"CLIENT_ERROR invalid mode for ms M token\r\n"
ERR_MA_MODE = b"CLIENT_ERROR invalid mode for ma M token\r\n"
ERR_INVALID_OR_DUP = b"CLIENT_ERROR invalid or duplicate flag\r\n"


cdef list _NO_ITEMS = []


cdef class McRequest:
    """One parsed request (or one error to answer).

    ``command`` is an ``MC_*`` code, ``name`` the command word as sent.  ``keys`` holds every key
    (get-family: many; others: one; meta with ``b``: the base64-decoded key and
    ``key_binary`` True).  Numbers follow memcached's C conversions: ``flags`` is uint32,
    ``exptime`` is the int32 as sent (relative/absolute/negative not resolved), ``delay`` is
    flush_all's int32 argument, ``cas_unique``/``delta``/``initial`` uint64.

    Meta commands: ``meta_flags`` maps each flag character (str) to the rest of its token
    (bytes, ``b""`` for bare flags) in request order, which is the order memcached echoes return
    flags in; ``mode`` is the M flag's character ('' if absent); ``opaque`` the bytes after O
    (None if absent); ``has_ttl``/``has_cas``/``vivify`` tell whether T/C/N were sent, with
    ``exptime``/``cas_unique``/``autoviv_exptime``/``recache_time``/``flags``/``delta``/
    ``initial`` holding their values.  ``noreply`` is True for the q flag.

    Errors: ``error`` is the exact line to send (None for valid requests); send nothing when
    ``noreply`` is true (memcached suppresses errors once it has seen a trailing noreply).
    ``close`` asks to close the connection (after sending ``error`` if any).  ``swallow`` is the
    number of payload bytes the parser discards after this error (already handled by the
    parser; informational).
    """
    cdef public int command
    cdef public bytes name
    cdef public list keys
    cdef public bint key_binary
    cdef public object flags
    cdef public object exptime
    cdef public object value
    cdef public object cas_unique
    cdef public object delta
    cdef public object initial
    cdef public bint noreply
    cdef public object delay
    cdef public object verbosity
    cdef public list args
    cdef public object meta_flags
    cdef public str mode
    cdef public object opaque
    cdef public bint has_ttl
    cdef public bint has_cas
    cdef public bint vivify
    cdef public object autoviv_exptime
    cdef public object recache_time
    cdef public object error
    cdef public bint close
    cdef public Py_ssize_t swallow

    def __cinit__(self):
        self.command = C_ERROR
        self.name = b""
        self.keys = _NO_ITEMS   # shared and never mutated: the parser assigns fresh lists
        self.key_binary = False
        self.flags = 0
        self.exptime = 0
        self.value = None
        self.cas_unique = 0
        self.delta = 0
        self.initial = 0
        self.noreply = False
        self.delay = 0
        self.verbosity = 0
        self.args = _NO_ITEMS
        self.meta_flags = None
        self.mode = ""
        self.opaque = None
        self.has_ttl = False
        self.has_cas = False
        self.vivify = False
        self.autoviv_exptime = 0
        self.recache_time = 0
        self.error = None
        self.close = False
        self.swallow = 0

    @property
    def key(self):
        """The first key (or None)."""
        return self.keys[0] if self.keys else None

    @property
    def stats_args(self):
        """Arguments after ``stats`` (alias of ``args``)."""
        return self.args

    @property
    def reply_suppressed(self):
        """True when nothing at all must be sent for an error request."""
        return self.noreply or self.error is None

    def __repr__(self):
        parts = [COMMAND_NAMES.get(self.command, str(self.command))]
        if self.keys:
            parts.append("keys=%r" % (self.keys,))
        if self.error is not None:
            parts.append("error=%r" % (self.error,))
        if self.close:
            parts.append("close")
        if self.noreply:
            parts.append("noreply")
        if self.meta_flags:
            parts.append("meta=%r" % (self.meta_flags,))
        return "McRequest(%s)" % " ".join(parts)


cdef inline McRequest _error(bytes line, bint noreply=False):
    cdef McRequest r = McRequest.__new__(McRequest)
    r.error = line
    r.noreply = noreply
    return r


# ---------------------------------------------------------------------------------------------
# memcached's safe_strto* (util.c), on NUL-terminated tokens
# ---------------------------------------------------------------------------------------------
cdef inline bint _is_space(char ch) nogil:
    return ch == 32 or (ch >= 9 and ch <= 13)


cdef bint safe_strtol(const char *s, int32_t *out) noexcept nogil:
    cdef char *end
    c_errno.errno = 0
    out[0] = 0
    cdef long v = strtol(s, &end, 10)
    if c_errno.errno == c_errno.ERANGE or end == s:
        return False
    if _is_space(end[0]) or end[0] == 0:
        out[0] = <int32_t>v
        return True
    return False


cdef bint safe_strtoul(const char *s, uint32_t *out) noexcept nogil:
    cdef char *end
    cdef const char *p
    c_errno.errno = 0
    cdef unsigned long v = strtoul(s, &end, 10)
    if c_errno.errno == c_errno.ERANGE or end == s:
        return False
    if _is_space(end[0]) or end[0] == 0:
        if <long>v < 0:
            p = s
            while p[0] != 0:
                if p[0] == 45:  # '-'
                    return False
                p += 1
        out[0] = <uint32_t>v
        return True
    return False


cdef bint safe_strtoull(const char *s, uint64_t *out) noexcept nogil:
    cdef char *end
    cdef const char *p
    c_errno.errno = 0
    out[0] = 0
    cdef unsigned long long v = strtoull(s, &end, 10)
    if c_errno.errno == c_errno.ERANGE or end == s:
        return False
    if _is_space(end[0]) or end[0] == 0:
        if <long long>v < 0:
            p = s
            while p < end:
                if p[0] == 45:
                    return False
                p += 1
        out[0] = <uint64_t>v
        return True
    return False


# ---------------------------------------------------------------------------------------------
# base64 as memcached's base64.c does it (non-alphabet bytes skipped, stops after padding)
# ---------------------------------------------------------------------------------------------
cdef unsigned char _B64[256]
cdef void _init_b64():
    cdef int i
    for i in range(256):
        _B64[i] = 0x80
    cdef const char *alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for i in range(64):
        _B64[<unsigned char>alphabet[i]] = <unsigned char>i
    _B64[61] = 0   # '='
_init_b64()


cdef Py_ssize_t _b64_decode_inplace(unsigned char *src, Py_ssize_t n) noexcept nogil:
    """Decode n bytes in place; returns the decoded length, 0 on failure (like memcached)."""
    cdef Py_ssize_t i, count = 0, out = 0
    cdef unsigned char block[4]
    cdef unsigned char t
    cdef int pad = 0
    for i in range(n):
        if _B64[src[i]] != 0x80:
            count += 1
    if count == 0 or count % 4:
        return 0
    count = 0
    for i in range(n):
        t = _B64[src[i]]
        if t == 0x80:
            continue
        if src[i] == 61:
            pad += 1
        block[count] = t
        count += 1
        if count == 4:
            # out never overtakes i: 3 bytes written per 4 read
            src[out] = <unsigned char>((block[0] << 2) | (block[1] >> 4))
            src[out + 1] = <unsigned char>((block[1] << 4) | (block[2] >> 2))
            src[out + 2] = <unsigned char>((block[2] << 6) | block[3])
            out += 3
            count = 0
            if pad:
                if pad == 1:
                    out -= 1
                elif pad == 2:
                    out -= 2
                else:
                    return 0
                break
    return out


def base64_decode_key(bytes data):
    """Decode like memcached's base64_decode; returns None where memcached fails (0 length)."""
    cdef bytearray buf = bytearray(data)
    cdef unsigned char *p = buf
    cdef Py_ssize_t n = _b64_decode_inplace(p, len(buf))
    if n == 0:
        return None
    return bytes(buf[:n])


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------
cdef enum ParserState:
    ST_LINE = 0
    ST_VALUE = 1
    ST_SWALLOW = 2
    ST_CLOSED = 3


cdef class McParser:
    """Streaming parser: ``feed(bytes)`` then call ``next_request()`` until it returns None.

    ``max_item_size`` mirrors memcached's ``-I`` (item_size_max): a storage command whose item
    would not fit (56 + key + 1 + (4 if flags) + bytes + 2 > max_item_size) yields
    ``SERVER_ERROR object too large for cache`` and its payload is swallowed.
    """
    cdef char *buf           # unconsumed input lives in buf[start:end]
    cdef Py_ssize_t start
    cdef Py_ssize_t end
    cdef Py_ssize_t cap
    cdef char *line          # NUL-separated copy of the current line (tokenized in place)
    cdef Py_ssize_t line_cap
    cdef Py_ssize_t tok_off[MAX_TOKENS]
    cdef Py_ssize_t tok_len[MAX_TOKENS]
    cdef int ntok            # real tokens (memcached's ntokens - 1)
    cdef Py_ssize_t rest     # offset of the untokenized remainder, -1 if none
    cdef int state
    cdef Py_ssize_t need     # ST_VALUE: bytes of value + "\r\n"; ST_SWALLOW: bytes left
    cdef McRequest pending   # ST_VALUE: the storage request waiting for its data
    cdef bint pending_meta
    cdef bint seen_any
    cdef public bint binary_magic_closes   # False: a leading 0x80 is text (the connection already chose ascii)
    cdef public Py_ssize_t max_item_size

    def __cinit__(self, Py_ssize_t max_item_size=1048576):
        self.cap = 16384
        self.buf = <char *>malloc(self.cap)
        self.line_cap = 4096
        self.line = <char *>malloc(self.line_cap)
        if self.buf == NULL or self.line == NULL:
            raise MemoryError()
        self.start = 0
        self.end = 0
        self.state = ST_LINE
        self.max_item_size = max_item_size
        self.seen_any = False
        self.binary_magic_closes = True

    def __dealloc__(self):
        free(self.buf)
        free(self.line)

    @property
    def buffered(self):
        """Bytes received and not yet consumed."""
        return self.end - self.start

    @property
    def closed(self):
        """True once a request with ``close`` was returned; the parser then ignores input."""
        return self.state == ST_CLOSED

    @property
    def idle(self):
        """True between requests: nothing buffered, no data block or swallow pending, not closed (the
        memcached connection then scans a read with mc_scan_fast before handing the rest here)."""
        return self.state == ST_LINE and self.start == self.end

    def feed(self, const unsigned char[::1] data not None):
        """Append received bytes (bytes, bytearray or memoryview)."""
        cdef Py_ssize_t n = data.shape[0]
        cdef Py_ssize_t skip
        if n == 0 or self.state == ST_CLOSED:
            return
        cdef const unsigned char *src = &data[0]
        if self.state == ST_SWALLOW and self.start == self.end:
            # discard swallowed payload without buffering it
            skip = n if n < self.need else self.need
            self.need -= skip
            src += skip
            n -= skip
            if self.need == 0:
                self.state = ST_LINE
            if n == 0:
                return
        self._reserve(n)
        memcpy(self.buf + self.end, src, n)
        self.end += n

    cdef int _reserve(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t used = self.end - self.start
        cdef Py_ssize_t newcap
        cdef char *nb
        if self.end + n <= self.cap:
            return 0
        if self.start > 0:
            memmove(self.buf, self.buf + self.start, used)
            self.start = 0
            self.end = used
            if used + n <= self.cap:
                return 0
        newcap = self.cap * 2
        while newcap < used + n:
            newcap *= 2
        nb = <char *>realloc(self.buf, newcap)
        if nb == NULL:
            raise MemoryError()
        self.buf = nb
        self.cap = newcap
        return 0

    cdef inline void _consume(self, Py_ssize_t n):
        self.start += n
        if self.start == self.end:
            self.start = 0
            self.end = 0

    def next_request(self):
        """Return the next complete ``McRequest``, or None if more bytes are needed."""
        cdef Py_ssize_t avail, skip
        cdef const char *p
        cdef const char *nl
        cdef McRequest req
        while True:
            avail = self.end - self.start
            if self.state == ST_CLOSED:
                return None
            if self.state == ST_SWALLOW:
                skip = avail if avail < self.need else self.need
                self._consume(skip)
                self.need -= skip
                if self.need:
                    return None
                self.state = ST_LINE
                continue
            if self.state == ST_VALUE:
                if avail < self.need:
                    return None
                return self._finish_value()
            if avail == 0:
                return None
            p = self.buf + self.start
            if not self.seen_any:
                self.seen_any = True
                if <unsigned char>p[0] == 0x80 and self.binary_magic_closes:
                    # memcached would switch to the binary protocol; we do not speak it
                    return self._close()
            nl = <const char *>memchr(p, 10, avail)
            if nl == NULL:
                if avail > LINE_NO_EOL_LIMIT and not self._is_large_multiget(p, avail):
                    return self._close()
                return None
            req = self._parse_line(p, nl - p)
            if req is None:
                continue
            return req

    cdef bint _is_large_multiget(self, const char *p, Py_ssize_t avail):
        cdef Py_ssize_t i = 0
        while i < avail and p[i] == 32:
            i += 1
        if i > MULTIGET_LEAD_SPACES:
            return False
        if avail - i >= 4 and memcmp(p + i, b"get ", 4) == 0:
            return True
        if avail - i >= 5 and memcmp(p + i, b"gets ", 5) == 0:
            return True
        return False

    cdef McRequest _close(self):
        cdef McRequest r = McRequest.__new__(McRequest)
        r.close = True
        self.state = ST_CLOSED
        self.start = 0
        self.end = 0
        return r

    cdef McRequest _finish_value(self):
        cdef McRequest req = self.pending
        cdef const char *p = self.buf + self.start
        cdef Py_ssize_t n = self.need
        self.pending = None
        self.state = ST_LINE
        if p[n - 2] != 13 or p[n - 1] != 10:
            self._consume(n)
            # meta sets always report errors; text sets honour noreply
            return _error(ERR_BAD_CHUNK, False if self.pending_meta else req.noreply)
        req.value = PyBytes_FromStringAndSize(p, n - 2)
        self._consume(n)
        return req

    # -- tokenizing ---------------------------------------------------------------------------
    cdef void _tokenize(self, Py_ssize_t pos, Py_ssize_t length):
        """memcached's tokenize_command on line[pos:pos+length] (NUL at line[pos+length])."""
        cdef char *line = self.line
        cdef Py_ssize_t s = pos, e = pos, stop = pos + length
        cdef int n = 0
        while e < stop:
            if line[e] == 32:
                if s != e:
                    self.tok_off[n] = s
                    self.tok_len[n] = e - s
                    n += 1
                    line[e] = 0
                    if n == MAX_TOKENS - 1:
                        e += 1
                        s = e
                        break
                s = e + 1
            e += 1
        if s != e:
            self.tok_off[n] = s
            self.tok_len[n] = e - s
            n += 1
        self.ntok = n
        self.rest = -1 if line[e] == 0 else e

    cdef inline bytes _tok(self, int i):
        return PyBytes_FromStringAndSize(self.line + self.tok_off[i], self.tok_len[i])

    cdef inline const char *_tp(self, int i):
        return self.line + self.tok_off[i]

    cdef inline bint _tok_is(self, int i, const char *word):
        cdef Py_ssize_t n = strlen(word)
        return self.tok_len[i] == n and memcmp(self.line + self.tok_off[i], word, n) == 0

    cdef inline bint _last_is_noreply(self):
        # set_noreply_maybe: tokens[ntokens - 2] is the last real token
        return self.ntok > 0 and self._tok_is(self.ntok - 1, b"noreply")

    # -- line dispatch ------------------------------------------------------------------------
    cdef McRequest _parse_line(self, const char *p, Py_ssize_t nl_pos):
        """Parse the line p[0:nl_pos] (nl_pos indexes the newline). Consumes it."""
        cdef Py_ssize_t length = nl_pos
        cdef char *nline
        if length > 1 and p[length - 1] == 13:
            length -= 1
        if length + 1 > self.line_cap:
            nline = <char *>realloc(self.line, length + 1)
            if nline == NULL:
                raise MemoryError()
            self.line = nline
            self.line_cap = length + 1
        memcpy(self.line, p, length)
        self.line[length] = 0
        length = strlen(self.line)   # memcached stops at an embedded NUL
        self._consume(nl_pos + 1)
        self._tokenize(0, length)
        return self._dispatch()

    cdef McRequest _dispatch(self):
        cdef int nt = self.ntok + 1       # memcached's ntokens (counts the terminal token)
        cdef const char *cmd
        cdef Py_ssize_t clen
        cdef char first
        if self.ntok == 0 or self.tok_len[0] < 2:
            return _error(ERR_ERROR)
        cmd = self._tp(0)
        clen = self.tok_len[0]
        first = cmd[0]
        if first == 109 and clen == 2:   # 'm'
            if cmd[1] == 103:
                return self._meta_get()
            if cmd[1] == 115:
                return self._meta_set()
            if cmd[1] == 100:
                return self._meta_delete_or_arith(C_MD)
            if cmd[1] == 110:
                return self._simple(C_MN)
            if cmd[1] == 97:
                return self._meta_delete_or_arith(C_MA)
            if cmd[1] == 101:
                return self._meta_debug()
            return _error(ERR_ERROR)
        if first == 103:   # 'g'
            if nt < 3:
                return _error(ERR_ERROR)
            if self._tok_is(0, b"get"):
                return self._get(C_GET, False)
            if self._tok_is(0, b"gets"):
                return self._get(C_GETS, False)
            if self._tok_is(0, b"gat"):
                return self._get(C_GAT, True)
            if self._tok_is(0, b"gats"):
                return self._get(C_GATS, True)
            return _error(ERR_ERROR)
        if first == 115:   # 's'
            if self._tok_is(0, b"set"):
                if not (nt == 6 or nt == 7):
                    return _error(ERR_ERROR)
                return self._update(C_SET)
            if self._tok_is(0, b"stats"):
                return self._with_args(C_STATS)
            if self._tok_is(0, b"shutdown"):
                return self._with_args(C_SHUTDOWN)
            if self._tok_is(0, b"slabs"):
                return self._with_args(C_ADMIN)
            return _error(ERR_ERROR)
        if first == 97:    # 'a'
            if self._tok_is(0, b"add"):
                if not (nt == 6 or nt == 7):
                    return _error(ERR_ERROR)
                return self._update(C_ADD)
            if self._tok_is(0, b"append"):
                if not (nt == 6 or nt == 7):
                    return _error(ERR_ERROR)
                return self._update(C_APPEND)
            return _error(ERR_ERROR)
        if first == 99:    # 'c'
            if self._tok_is(0, b"cas"):
                if not (nt == 7 or nt == 8):
                    return _error(ERR_ERROR)
                return self._update(C_CAS)
            if self._tok_is(0, b"cache_memlimit"):
                if not (nt == 3 or nt == 4):
                    return _error(ERR_ERROR)
                return self._with_args(C_ADMIN)
            if self._tok_is(0, b"config"):
                return self._config()
            return _error(ERR_ERROR)
        if first == 105:   # 'i'
            if self._tok_is(0, b"incr"):
                if not (nt == 4 or nt == 5):
                    return _error(ERR_ERROR)
                return self._arith(C_INCR)
            return _error(ERR_ERROR)
        if first == 100:   # 'd'
            if self._tok_is(0, b"delete"):
                if not (3 <= nt <= 5):
                    return _error(ERR_ERROR)
                return self._delete()
            if self._tok_is(0, b"decr"):
                if not (nt == 4 or nt == 5):
                    return _error(ERR_ERROR)
                return self._arith(C_DECR)
            return _error(ERR_ERROR)
        if first == 116:   # 't'
            if self._tok_is(0, b"touch"):
                if not (nt == 4 or nt == 5):
                    return _error(ERR_ERROR)
                return self._touch()
            return _error(ERR_ERROR)
        if self._tok_is(0, b"replace"):
            if not (nt == 6 or nt == 7):
                return _error(ERR_ERROR)
            return self._update(C_REPLACE)
        if self._tok_is(0, b"prepend"):
            if not (nt == 6 or nt == 7):
                return _error(ERR_ERROR)
            return self._update(C_PREPEND)
        if self._tok_is(0, b"bget"):
            if not (nt >= 3):
                return _error(ERR_ERROR)
            return self._get(C_GET, False)
        if self._tok_is(0, b"flush_all"):
            if not (2 <= nt <= 4):
                return _error(ERR_ERROR)
            return self._flush_all()
        if self._tok_is(0, b"version"):
            return self._simple(C_VERSION)
        if self._tok_is(0, b"quit"):
            return self._simple(C_QUIT)
        if self._tok_is(0, b"lru_crawler") or self._tok_is(0, b"watch"):
            return self._with_args(C_ADMIN)
        if self._tok_is(0, b"verbosity"):
            if not (nt == 3 or nt == 4):
                return _error(ERR_ERROR)
            return self._verbosity()
        if self._tok_is(0, b"lru") or self._tok_is(0, b"extstore"):
            if not (nt >= 3):
                return _error(ERR_ERROR)
            return self._with_args(C_ADMIN)
        if self._tok_is(0, b"refresh_certs"):
            return self._with_args(C_ADMIN)
        if strncmp(self._tp(self.ntok - 1), b"HTTP/", 5) == 0:
            return self._close()
        return _error(ERR_ERROR)

    cdef McRequest _new(self, int command):
        cdef McRequest r = McRequest.__new__(McRequest)
        r.command = command
        r.name = self._tok(0)
        return r

    cdef McRequest _simple(self, int command):
        return self._new(command)

    cdef McRequest _with_args(self, int command):
        cdef McRequest r = self._new(command)
        cdef int i
        r.args = [self._tok(i) for i in range(1, self.ntok)]
        if command == C_ADMIN:
            r.noreply = self._last_is_noreply()
        return r

    # -- text commands ------------------------------------------------------------------------
    cdef McRequest _get(self, int command, bint touch):
        cdef int32_t exptime = 0
        cdef int i, first_key = 1
        cdef McRequest r
        cdef list keys = []
        if touch:
            if not safe_strtol(self._tp(1), &exptime):
                return _error(ERR_BAD_EXPTIME)
            first_key = 2
        while True:
            for i in range(first_key, self.ntok):
                if self.tok_len[i] > KEY_MAX_LENGTH:
                    return _error(ERR_BAD_FORMAT)
                keys.append(self._tok(i))
            if self.rest < 0:
                break
            self._tokenize(self.rest, strlen(self.line + self.rest))
            first_key = 0
        r = self._new(command)
        r.keys = keys
        r.exptime = exptime
        return r

    cdef McRequest _update(self, int command):
        cdef bint noreply = self._last_is_noreply()
        cdef uint32_t flags = 0
        cdef int32_t exptime = 0, vlen = 0
        cdef uint64_t cas = 0
        cdef McRequest r
        if self.tok_len[1] > KEY_MAX_LENGTH:
            return _error(ERR_BAD_FORMAT, noreply)
        if not (safe_strtoul(self._tp(2), &flags) and safe_strtol(self._tp(3), &exptime)
                and safe_strtol(self._tp(4), &vlen)):
            return _error(ERR_BAD_FORMAT, noreply)
        if command == C_CAS and not safe_strtoull(self._tp(5), &cas):
            return _error(ERR_BAD_FORMAT, noreply)
        if vlen < 0 or vlen > INT_MAX - 2:
            return _error(ERR_BAD_FORMAT, noreply)
        r = self._new(command)
        r.exptime = exptime
        r.cas_unique = cas
        r.noreply = noreply
        return self._expect_data(r, 1, flags, vlen)

    cdef McRequest _expect_data(self, McRequest r, int key_tok, uint32_t flags, int32_t vlen):
        """A storage request's tail: a too-large item is refused (its data swallowed), else wait for the data."""
        cdef McRequest err
        if self._too_large(self.tok_len[key_tok], flags, vlen):
            err = _error(ERR_TOO_LARGE, r.noreply)
            if r.command == C_SET:
                # memcached process_update_command: a refused SET also unlinks the old item (no stale data)
                err.command = C_SET
                err.keys = [self._tok(key_tok)]
            self._start_swallow(err, vlen + 2)
            return err
        r.keys = [self._tok(key_tok)]
        r.flags = flags
        self._await_value(r, vlen + 2, False)
        return self._ready_value()

    cdef bint _too_large(self, Py_ssize_t nkey, uint32_t flags, int64_t vlen):
        cdef int64_t total = ITEM_HEADER_SIZE + nkey + 1 + (4 if flags else 0) + vlen + 2
        return total > self.max_item_size

    cdef void _start_swallow(self, McRequest r, Py_ssize_t n):
        cdef Py_ssize_t avail = self.end - self.start
        cdef Py_ssize_t skip = avail if avail < n else n
        r.swallow = n
        self._consume(skip)
        self.need = n - skip
        if self.need:
            self.state = ST_SWALLOW

    cdef void _await_value(self, McRequest r, Py_ssize_t n, bint meta):
        self.pending = r
        self.pending_meta = meta
        self.need = n
        self.state = ST_VALUE

    cdef McRequest _ready_value(self):
        # return the storage request now if its data is already buffered; else wait for it
        if self.end - self.start >= self.need:
            return self._finish_value()
        return None

    cdef McRequest _delete(self):
        cdef bint noreply = False, hold_is_zero, valid
        cdef int nt = self.ntok + 1
        cdef McRequest r
        if nt > 3:
            hold_is_zero = self._tok_is(2, b"0")
            noreply = self._last_is_noreply()
            valid = (nt == 4 and (hold_is_zero or noreply)) or (nt == 5 and hold_is_zero and noreply)
            if not valid:
                return _error(ERR_DELETE_USAGE, noreply)
        if self.tok_len[1] > KEY_MAX_LENGTH:
            return _error(ERR_BAD_FORMAT, noreply)
        r = self._new(C_DELETE)
        r.keys = [self._tok(1)]
        r.noreply = noreply
        return r

    cdef McRequest _arith(self, int command):
        cdef bint noreply = self._last_is_noreply()
        cdef uint64_t delta = 0
        cdef McRequest r
        if self.tok_len[1] > KEY_MAX_LENGTH:
            return _error(ERR_BAD_FORMAT, noreply)
        if not safe_strtoull(self._tp(2), &delta):
            return _error(ERR_BAD_DELTA, noreply)
        r = self._new(command)
        r.keys = [self._tok(1)]
        r.delta = delta
        r.noreply = noreply
        return r

    cdef McRequest _touch(self):
        cdef bint noreply = self._last_is_noreply()
        cdef int32_t exptime = 0
        cdef McRequest r
        if self.tok_len[1] > KEY_MAX_LENGTH:
            return _error(ERR_BAD_FORMAT, noreply)
        if not safe_strtol(self._tp(2), &exptime):
            return _error(ERR_BAD_EXPTIME, noreply)
        r = self._new(C_TOUCH)
        r.keys = [self._tok(1)]
        r.exptime = exptime
        r.noreply = noreply
        return r

    cdef McRequest _flush_all(self):
        cdef bint noreply = self._last_is_noreply()
        cdef int32_t delay = 0
        cdef int nt = self.ntok + 1
        cdef McRequest r
        if nt != (3 if noreply else 2):
            if not safe_strtol(self._tp(1), &delay):
                return _error(ERR_BAD_EXPTIME, noreply)
        r = self._new(C_FLUSH_ALL)
        r.delay = delay
        r.noreply = noreply
        return r

    cdef McRequest _config(self):
        """ElastiCache's ``config`` verb (auto discovery): ``config get <key>``, ``config delete <key>``
        and the storage form ``config set <key> <flags> <bytes> [noreply]`` followed by a data block.
        ``args`` holds the words after ``config``; for set, ``flags`` and ``value`` are filled as for
        a ``set``.  Which keys exist is the engine's business (server/mc_discovery.py)."""
        cdef int nt = self.ntok + 1
        cdef bint noreply
        cdef uint32_t flags = 0
        cdef int32_t vlen = 0
        cdef McRequest r
        if nt >= 3 and self._tok_is(1, b"set"):
            if not (nt == 6 or nt == 7):
                return _error(ERR_ERROR)
            noreply = self._last_is_noreply()
            if self.tok_len[2] > KEY_MAX_LENGTH:
                return _error(ERR_BAD_FORMAT, noreply)
            if not (safe_strtoul(self._tp(3), &flags) and safe_strtol(self._tp(4), &vlen)):
                return _error(ERR_BAD_FORMAT, noreply)
            if vlen < 0 or vlen > INT_MAX - 2:
                return _error(ERR_BAD_FORMAT, noreply)
            r = self._with_args(C_CONFIG)
            r.noreply = noreply
            return self._expect_data(r, 2, flags, vlen)
        if nt == 4 and (self._tok_is(1, b"get") or self._tok_is(1, b"delete")):
            if self.tok_len[2] > KEY_MAX_LENGTH:
                return _error(ERR_BAD_FORMAT)
            r = self._with_args(C_CONFIG)
            r.keys = [self._tok(2)]
            return r
        return _error(ERR_ERROR)

    cdef McRequest _verbosity(self):
        cdef bint noreply = self._last_is_noreply()
        cdef uint32_t level = 0
        cdef McRequest r
        if not safe_strtoul(self._tp(1), &level):
            return _error(ERR_BAD_FORMAT, noreply)
        r = self._new(C_VERBOSITY)
        r.verbosity = level
        r.noreply = noreply
        return r

    # -- meta commands ------------------------------------------------------------------------
    cdef bytes _meta_preparse(self, int start, McRequest r):
        """memcached's _meta_flag_preparse. Returns the error line, or None when valid.

        Fills r's meta fields. Later recoverable errors overwrite earlier messages, as in C;
        an unknown or repeated flag stops at once.
        """
        cdef unsigned char seen[128]
        cdef int i
        cdef unsigned char o
        cdef bint has_error = False
        cdef bytes errstr = ERR_BAD_FORMAT
        cdef int32_t i32 = 0
        cdef uint32_t u32 = 0
        cdef uint64_t u64 = 0
        cdef Py_ssize_t n
        cdef const char *v
        cdef dict flags = {}
        for i in range(128):
            seen[i] = 0
        for i in range(start, self.ntok):
            v = self._tp(i)
            o = <unsigned char>v[0]
            if o >= 127 or seen[o]:
                return ERR_META_DUP
            seen[o] = 1
            if o == 98:    # 'b': base64 key, decoded in place
                n = _b64_decode_inplace(<unsigned char *>self.line + self.tok_off[1], self.tok_len[1])
                if n == 0:
                    errstr = ERR_META_DECODE_KEY
                    has_error = True
                self.tok_len[1] = n
                r.key_binary = True
            elif o == 78 or o == 84 or o == 82:   # N T R: int32 ttl
                if not safe_strtol(v + 1, &i32):
                    errstr = ERR_META_BAD_TOKEN
                    has_error = True
                elif o == 78:
                    r.vivify = True
                    r.autoviv_exptime = i32
                elif o == 84:
                    r.has_ttl = True
                    r.exptime = i32
                else:
                    r.recache_time = i32
            elif o == 70:  # F: client flags; failure keeps the current message
                if not safe_strtoul(v + 1, &u32):
                    has_error = True
                else:
                    r.flags = u32
            elif o == 67:  # C
                if not safe_strtoull(v + 1, &u64):
                    errstr = ERR_META_BAD_TOKEN
                    has_error = True
                else:
                    r.has_cas = True
                    r.cas_unique = u64
            elif o == 77:  # M
                if self.tok_len[i] != 2:
                    errstr = ERR_META_M_LENGTH
                    has_error = True
                else:
                    r.mode = chr(<unsigned char>v[1])
            elif o == 74:  # J
                if not safe_strtoull(v + 1, &u64):
                    errstr = ERR_META_INITIAL
                    has_error = True
                else:
                    r.initial = u64
            elif o == 68:  # D
                if not safe_strtoull(v + 1, &u64):
                    errstr = ERR_META_DELTA
                    has_error = True
                else:
                    r.delta = u64
            elif o == 113:  # q
                r.noreply = True
            elif (o == 108 or o == 79 or o == 80 or o == 76 or o == 107 or o == 115 or o == 116
                  or o == 99 or o == 102 or o == 118 or o == 104 or o == 117 or o == 73):
                pass        # l O P L k s t c f v h u I: no argument to check
            else:
                return ERR_META_INVALID
            flags[chr(o)] = PyBytes_FromStringAndSize(v + 1, self.tok_len[i] - 1)
        if has_error:
            return errstr
        r.meta_flags = flags
        if "O" in flags:
            r.opaque = flags["O"]
        return None

    cdef bint _opaque_too_long(self, int start):
        cdef int i
        for i in range(start, self.ntok):
            if self._tp(i)[0] == 79 and self.tok_len[i] > MFLAG_MAX_OPAQUE_LENGTH:
                return True
        return False

    cdef McRequest _meta_get(self):
        cdef int nt = self.ntok + 1
        cdef McRequest r
        cdef bytes err
        if nt < 3:
            return _error(ERR_ERROR)
        if self.tok_len[1] > KEY_MAX_LENGTH:
            return _error(ERR_BAD_FORMAT)
        if nt > MFLAG_MAX_OPT_LENGTH:
            return _error(ERR_MG_TOO_MANY)
        r = self._new(C_MG)
        err = self._meta_preparse(2, r)
        if err is not None:
            return _error(err)
        if self._opaque_too_long(2):
            return _error(ERR_META_OPAQUE)
        r.keys = [self._tok(1)]
        return r

    cdef McRequest _meta_set(self):
        cdef int nt = self.ntok + 1
        cdef int32_t vlen = 0
        cdef McRequest r, e
        cdef bytes err
        cdef str mode
        if nt < 3:
            return _error(ERR_ERROR)
        if self.tok_len[1] > KEY_MAX_LENGTH or nt == 3:
            return _error(ERR_BAD_FORMAT)
        if nt > MFLAG_MAX_OPT_LENGTH:
            return _error(ERR_META_TOO_MANY)
        if not safe_strtol(self._tp(2), &vlen) or vlen < 0 or vlen > INT_MAX - 2:
            return _error(ERR_BAD_FORMAT)
        # from here on memcached knows the size, so every error swallows the payload
        r = self._new(C_MS)
        err = self._meta_preparse(3, r)
        if err is None:
            mode = r.mode
            if self._opaque_too_long(3):
                err = ERR_META_OPAQUE
            if mode not in ("", "E", "A", "P", "R", "S"):
                err = ERR_MS_MODE    # checked after the opaque scan, so it wins
        if err is None and self._too_large(self.tok_len[1], r.flags, vlen):
            err = ERR_TOO_LARGE
        if err is not None:
            e = _error(err)
            self._start_swallow(e, vlen + 2)
            return e
        r.keys = [self._tok(1)]
        self._await_value(r, vlen + 2, True)
        return self._ready_value()

    cdef McRequest _meta_delete_or_arith(self, int command):
        cdef int nt = self.ntok + 1
        cdef McRequest r
        if nt < 3:
            return _error(ERR_ERROR)
        if self.tok_len[1] > KEY_MAX_LENGTH:
            return _error(ERR_BAD_FORMAT)
        if nt > MFLAG_MAX_OPT_LENGTH:
            return _error(ERR_META_TOO_MANY)
        r = self._new(command)
        if command == C_MA:
            r.delta = 1
        if self._meta_preparse(2, r) is not None:
            return _error(ERR_INVALID_OR_DUP)
        if command == C_MA and r.mode not in ("", "I", "+", "D", "-"):
            return _error(ERR_MA_MODE)
        if self._opaque_too_long(2):
            return _error(ERR_META_OPAQUE)
        r.keys = [self._tok(1)]
        return r

    cdef McRequest _meta_debug(self):
        cdef int nt = self.ntok + 1
        cdef McRequest r
        cdef Py_ssize_t n
        if nt < 3 or self.tok_len[1] > KEY_MAX_LENGTH:
            return _error(ERR_BAD_FORMAT)
        r = self._new(C_ME)
        if nt >= 4 and self._tok_is(2, b"b"):
            n = _b64_decode_inplace(<unsigned char *>self.line + self.tok_off[1], self.tok_len[1])
            if n == 0:
                return _error(ERR_BAD_FORMAT)
            self.tok_len[1] = n
            r.key_binary = True
        r.keys = [self._tok(1)]
        return r


# ---------------------------------------------------------------------------------------------
# Writers: exact reply bytes
# ---------------------------------------------------------------------------------------------
STORED = b"STORED\r\n"
NOT_STORED = b"NOT_STORED\r\n"
EXISTS = b"EXISTS\r\n"
NOT_FOUND = b"NOT_FOUND\r\n"
DELETED = b"DELETED\r\n"
TOUCHED = b"TOUCHED\r\n"
OK = b"OK\r\n"
END = b"END\r\n"
RESET = b"RESET\r\n"
MN = b"MN\r\n"
EN = b"EN\r\n"
ERR_NON_NUMERIC = b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
ERR_OUT_OF_MEMORY_STORING = b"SERVER_ERROR out of memory storing object\r\n"
ERR_SHUTDOWN_DISABLED = b"ERROR: shutdown not enabled\r\n"


def write_value(bytes key, uint32_t flags, bytes data, cas=None):
    """One get hit: ``VALUE <key> <flags> <bytes>[ <cas>]\\r\\n<data>\\r\\n`` (no END).

    Pass ``cas`` (int) for gets/gats, None for get/gat.
    """
    if cas is None:
        return b"VALUE %s %d %d\r\n%s\r\n" % (key, flags, len(data), data)
    return b"VALUE %s %d %d %d\r\n%s\r\n" % (key, flags, len(data), cas, data)


def write_get_response(list hits, bint with_cas=False):
    """Whole get/gets reply: each hit ``(key, flags, data, cas)`` as ``write_value``, then END."""
    cdef list out = []
    for key, flags, data, cas in hits:
        out.append(write_value(key, flags, data, cas if with_cas else None))
    out.append(END)
    return b"".join(out)


def write_number(uint64_t value):
    """incr/decr success: the new value as decimal, ``<n>\\r\\n``."""
    return b"%d\r\n" % value


def write_version(bytes version=b"1.6.18"):
    """``VERSION <version>\\r\\n``."""
    return b"VERSION " + version + b"\r\n"


def write_stats(items):
    """Stats reply: ``STAT <name> <value>\\r\\n`` for each (name, value) pair, then END.

    Names and values may be str, bytes or int.
    """
    cdef list out = []
    for name, value in items:
        out.append(b"STAT %s %s\r\n" % (_b(name), _b(value)))
    out.append(END)
    return b"".join(out)


cdef bytes _b(object v):
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return (<str>v).encode()
    return str(v).encode()


cdef bytes _meta_key(bytes key, bint binary):
    # META_KEY: " k<key>" or " k<base64> b" for binary keys
    if binary:
        return b" k" + binascii.b2a_base64(key, newline=False) + b" b"
    return b" k" + key


def write_mg_hit(McRequest req, bytes data, uint32_t flags, uint64_t cas, int64_t ttl,
                 uint64_t last_access=0, bint fetched=False, bint won=False, bint stale=False,
                 bint token_sent=False):
    """mg hit: ``VA <size> <ret flags>\\r\\n<data>\\r\\n`` if v was asked, else ``HD <ret flags>\\r\\n``.

    Return flags follow the request's flag order (s t c f l h O k; T/N/R/q/u/v/b echo nothing);
    then `` Z`` (token_sent), `` X`` (stale), `` W`` (won) in that order.  ``ttl`` is the
    remaining TTL in seconds or -1 for none; ``last_access`` seconds since last access;
    ``fetched`` the h flag.  memcached sends HD even with q on a hit.
    """
    cdef dict mf = req.meta_flags
    cdef list out = []
    want_value = "v" in mf
    out.append(b"VA %d" % len(data) if want_value else b"HD")
    for ch in mf:
        if ch == "s":
            out.append(b" s%d" % len(data))
        elif ch == "t":
            out.append(b" t%d" % ttl)
        elif ch == "c":
            out.append(b" c%d" % cas)
        elif ch == "f":
            out.append(b" f%d" % flags)
        elif ch == "l":
            out.append(b" l%d" % last_access)
        elif ch == "h":
            out.append(b" h1" if fetched else b" h0")
        elif ch == "O":
            out.append(b" O" + mf["O"])
        elif ch == "k":
            out.append(_meta_key(req.keys[0], req.key_binary))
    if token_sent:
        out.append(b" Z")
    if stale:
        out.append(b" X")
    if won:
        out.append(b" W")
    out.append(b"\r\n")
    if want_value:
        out.append(data)
        out.append(b"\r\n")
    return b"".join(out)


cdef bytes _status_with_ok_flags(McRequest req, bytes code, cas):
    # status code followed by O / k (/ c when cas is given) in request order
    cdef list out = [code]
    for ch in req.meta_flags:
        if ch == "O":
            out.append(b" O" + req.meta_flags["O"])
        elif ch == "k":
            out.append(_meta_key(req.keys[0], req.key_binary))
        elif ch == "c" and cas is not None:
            out.append(b" c%d" % cas)
    out.append(b"\r\n")
    return b"".join(out)


def write_mg_miss(McRequest req):
    """mg miss: ``EN`` + O/k return flags; ``b""`` when q was given (memcached elides it)."""
    if req.noreply:
        return b""
    return _status_with_ok_flags(req, b"EN", None)


def write_ms_result(McRequest req, bytes code, uint64_t cas=0):
    """ms reply: code (HD/NS/EX/NF) + O/k/c flags in request order (c = the item's new CAS).

    Returns ``b""`` for HD with q; NS/EX/NF are always sent.
    """
    if req.noreply and code == b"HD":
        return b""
    return _status_with_ok_flags(req, code, cas)


def write_md_result(McRequest req, bytes code):
    """md reply: code (HD/NF/EX) + O/k flags. ``b""`` for HD with q (NF/EX still sent)."""
    if req.noreply and code == b"HD":
        return b""
    return _status_with_ok_flags(req, code, None)


def write_ma_result(McRequest req, bytes code, value=None, uint64_t cas=0, int64_t ttl=-1):
    """ma reply.

    On success (code HD) with a number ``value``: ``VA <len> <flags>\\r\\n<value>\\r\\n`` if v
    was asked else ``HD <flags>\\r\\n``, flags c/t/O/k in request order.  With q the success
    reply is elided entirely (``b""``).  On NF/EX/NS only O/k follow the code.
    """
    cdef list out
    cdef bytes num
    if code != b"HD" or value is None:
        return _status_with_ok_flags(req, code, None)
    if req.noreply:
        return b""
    num = b"%d" % value
    want_value = "v" in req.meta_flags
    out = [b"VA %d" % len(num) if want_value else b"HD"]
    for ch in req.meta_flags:
        if ch == "c":
            out.append(b" c%d" % cas)
        elif ch == "t":
            out.append(b" t%d" % ttl)
        elif ch == "O":
            out.append(b" O" + req.meta_flags["O"])
        elif ch == "k":
            out.append(_meta_key(req.keys[0], req.key_binary))
    out.append(b"\r\n")
    if want_value:
        out.append(num)
        out.append(b"\r\n")
    return b"".join(out)


def write_me(bytes key, bint binary, int64_t exp, uint64_t la, uint64_t cas, bint fetched,
             unsigned int cls, uint64_t size):
    """me hit: ``ME <key> exp=<e> la=<s> cas=<c> fetch=<yes|no> cls=<n> size=<n>\\r\\n``.

    A miss is ``EN\\r\\n``; a binary key is shown base64-encoded (no `` b`` suffix).
    """
    shown = binascii.b2a_base64(key, newline=False) if binary else key
    return b"ME %s exp=%d la=%d cas=%d fetch=%s cls=%d size=%d\r\n" % (
        shown, exp, la, cas, b"yes" if fetched else b"no", cls, size)


# ---------------------------------------------------------------------------------------------
# Fast scanner (memcache.pxd): get / set / mg <key> v straight from a read buffer
# ---------------------------------------------------------------------------------------------
cdef inline Py_ssize_t _fast_tokens(const char* p, Py_ssize_t i, Py_ssize_t length, Py_ssize_t* off,
                                    Py_ssize_t* ln, int maxn) noexcept nogil:
    """Split p[i:length] on spaces as tokenize_command does (runs of spaces, leading and trailing ones are
    no tokens); at most maxn tokens, -1 if there are more."""
    cdef int n = 0
    cdef Py_ssize_t j
    while i < length:
        while i < length and p[i] == 32:
            i += 1
        if i >= length:
            break
        j = i
        while j < length and p[j] != 32:
            j += 1
        if n >= maxn:
            return -1
        off[n] = i
        ln[n] = j - i
        n += 1
        i = j
    return n


cdef inline bint _fast_digits(const char* p, Py_ssize_t n, int maxdigits, unsigned long long* out) noexcept nogil:
    """A plain decimal of 1..maxdigits digits (no sign, no blanks): what safe_strto* reads the same way."""
    cdef unsigned long long v = 0
    cdef Py_ssize_t i
    if n < 1 or n > maxdigits:
        return False
    for i in range(n):
        if p[i] < 48 or p[i] > 57:
            return False
        v = v * 10 + <unsigned long long>(p[i] - 48)
    out[0] = v
    return True


cdef int mc_scan_fast(const char* p, Py_ssize_t avail, Py_ssize_t max_item_size, McFast* f) noexcept nogil:
    """Recognise one complete hot request at p[0:avail] without consuming anything: MCF_GET, MCF_SET,
    MCF_MG_V with f filled (f.size = the bytes it takes), or MCF_NONE.

    Only shapes McParser answers with a plain valid request are accepted: a line of at most
    LINE_NO_EOL_LIMIT bytes, no NUL, keys of 1..250 bytes; set's numbers plain digits within their C types,
    an optional `noreply` as the sixth token, an item that fits max_item_size and a data block that is
    complete and ends in \\r\\n; mg with exactly the `v` flag. Everything else (errors, other verbs, an
    incomplete request) is MCF_NONE, and McParser parses it from this byte on."""
    cdef const char* nl
    cdef Py_ssize_t eol, length, i, scan
    cdef Py_ssize_t off[7]
    cdef Py_ssize_t ln[7]
    cdef Py_ssize_t n
    cdef unsigned long long v
    f.kind = MCF_NONE
    scan = avail if avail < LINE_NO_EOL_LIMIT + 2 else LINE_NO_EOL_LIMIT + 2
    if scan < 5:
        return MCF_NONE
    nl = <const char*>memchr(p, 10, scan)
    if nl == NULL:
        return MCF_NONE
    eol = nl - p
    length = eol
    if length > 1 and p[length - 1] == 13:
        length -= 1
    if memchr(p, 0, length) != NULL:
        return MCF_NONE
    if p[0] == 103 and p[1] == 101 and p[2] == 116 and p[3] == 32:            # "get "
        n = _fast_tokens(p, 4, length, f.koff, f.klen, MCF_MAX_KEYS)
        if n <= 0:
            return MCF_NONE
        for i in range(n):
            if f.klen[i] > KEY_MAX_LENGTH:
                return MCF_NONE
        f.nkeys = <int>n
        f.size = eol + 1
        f.kind = MCF_GET
        return MCF_GET
    if p[0] == 109 and p[1] == 103 and p[2] == 32:                               # "mg "
        n = _fast_tokens(p, 3, length, off, ln, 3)
        if n != 2 or ln[0] > KEY_MAX_LENGTH or ln[1] != 1 or p[off[1]] != 118:  # mg <key> v
            return MCF_NONE
        f.nkeys = 1
        f.koff[0] = off[0]
        f.klen[0] = ln[0]
        f.size = eol + 1
        f.kind = MCF_MG_V
        return MCF_MG_V
    if p[0] == 115 and p[1] == 101 and p[2] == 116 and p[3] == 32:            # "set "
        n = _fast_tokens(p, 4, length, off, ln, 5)
        if n != 4 and n != 5:
            return MCF_NONE
        if ln[0] > KEY_MAX_LENGTH:
            return MCF_NONE
        f.noreply = False
        if n == 5:
            if not (ln[4] == 7 and memcmp(p + off[4], b"noreply", 7) == 0):
                return MCF_NONE
            f.noreply = True
        if not _fast_digits(p + off[1], ln[1], 10, &v) or v > <unsigned long long>4294967295:
            return MCF_NONE
        f.flags = <uint32_t>v
        if not _fast_digits(p + off[2], ln[2], 9, &v):
            return MCF_NONE
        f.exptime = <int32_t>v
        if not _fast_digits(p + off[3], ln[3], 9, &v):
            return MCF_NONE
        f.vlen = <Py_ssize_t>v
        if ITEM_HEADER_SIZE + ln[0] + 1 + (4 if f.flags else 0) + f.vlen + 2 > max_item_size:
            return MCF_NONE
        f.voff = eol + 1
        if f.voff + f.vlen + 2 > avail or p[f.voff + f.vlen] != 13 or p[f.voff + f.vlen + 1] != 10:
            return MCF_NONE
        f.nkeys = 1
        f.koff[0] = off[0]
        f.klen[0] = ln[0]
        f.size = f.voff + f.vlen + 2
        f.kind = MCF_SET
        return MCF_SET
    return MCF_NONE


def scan_fast(data, Py_ssize_t max_item_size=1048576):
    """mc_scan_fast from Python (tests): None, or (kind, size, keys, flags, exptime, value, noreply) with kind
    one of "get", "set", "mg"."""
    cdef bytes b = bytes(data)
    cdef McFast f
    cdef const char* p = b
    cdef int kind = mc_scan_fast(p, len(b), max_item_size, &f)
    if kind == MCF_NONE:
        return None
    keys = [b[f.koff[i]:f.koff[i] + f.klen[i]] for i in range(f.nkeys)]
    if kind == MCF_SET:
        return ("set", f.size, keys, f.flags, f.exptime, b[f.voff:f.voff + f.vlen], bool(f.noreply))
    return ("get" if kind == MCF_GET else "mg", f.size, keys, 0, 0, None, False)
