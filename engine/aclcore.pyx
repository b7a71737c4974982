# cython: language_level=3
"""The compiled half of ACLs: users and selectors as typed objects, and the per-command permission check
the dispatcher runs for every command of a restricted user (redis acl.c ACLCheckAllUserCommandPerm).

engine/acl.py owns everything else (rule parsing, descriptions, the users table, ACL LOG); this module
keeps the hot path short: a command bit is one bytearray index, key positions of commands whose key specs
are plain index/range specs come from a plan computed once per command, and key/channel patterns are
matched with redis stringmatchlen (engine/glob.pyx).
"""
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdlib cimport malloc, free, realloc
from libc.string cimport memcmp, memset
from libc.stdint cimport uint64_t, uint32_t
from cpython.object cimport PyObject
from engine.spec cimport CommandSpec, CMD_NO_AUTH
from engine.glob cimport glob_match, _match

# redis server.h ACL_* results (the order matters: the "most relevant" error wins across selectors)
DEF OK = 0
DEF DENIED_CMD = 1
DEF DENIED_KEY = 2
DEF DENIED_AUTH = 3
DEF DENIED_CHANNEL = 4
ACL_OK = OK
ACL_DENIED_CMD = DENIED_CMD
ACL_DENIED_KEY = DENIED_KEY
ACL_DENIED_AUTH = DENIED_AUTH
ACL_DENIED_CHANNEL = DENIED_CHANNEL

# key pattern permissions (redis ACL_READ_PERMISSION / ACL_WRITE_PERMISSION)
DEF C_PERM_ALL = 3
PERM_READ = 1
PERM_WRITE = 2
PERM_ALL = C_PERM_ALL

# channel arguments, redis getChannelsFromCommand (db.c): name -> (first arg, every arg after it, kind)
CH_PUBLISH = 1
CH_SUBSCRIBE = 2
CH_PATTERN = 3
CHANNEL_ARGS = {
    "publish": (1, False, CH_PUBLISH),
    "spublish": (1, False, CH_PUBLISH),
    "subscribe": (1, True, CH_SUBSCRIBE),
    "ssubscribe": (1, True, CH_SUBSCRIBE),
    "psubscribe": (1, True, CH_PATTERN),
}

cdef KeyPlan* _plans = NULL    # CommandSpec.id -> KeyPlan (computed on first use; C structs: no refcounts)
cdef int _nplans = 0
cdef object _generic_keys = None   # callable(spec, argv) -> [(pos, rw)] (set by engine.acl)


def set_generic_keys(fn):
    global _generic_keys
    _generic_keys = fn


def reset_plans():
    cdef int i
    for i in range(_nplans):
        _plans[i].ready = False


cdef int rw_of(list flags):
    cdef int rw = 0
    for f in flags:
        if f == "access":
            rw |= 1
        elif f == "insert" or f == "delete" or f == "update":
            rw |= 2
    return rw


cdef make_plan(CommandSpec spec, KeyPlan* plan):
    """The key positions of a command whose usable key specs are all plain index/range ones (most
    commands), in C; anything else (keynum, keyword, incomplete specs, legacy triples) takes the generic
    path, engine.commands.introspection.get_keys, as COMMAND GETKEYSANDFLAGS does."""
    cdef int n = 0
    memset(plan, 0, sizeof(KeyPlan))
    plan.n = 0
    plan.single = 0
    plan.ch_first = 0
    ch = CHANNEL_ARGS.get(spec.name)
    if ch is not None:
        plan.ch_first = ch[0]
        plan.ch_every = ch[1]
        plan.ch_pattern = ch[2] == CH_PATTERN
    if not spec.key_specs:
        if spec.first_key > 0 or spec.getkeys is not None:
            plan.n = -1
        return
    variable = any("variable_flags" in ks.get("flags", []) for ks in spec.key_specs)
    for ks in spec.key_specs:
        flags = ks.get("flags", [])
        if "not_key" in flags:
            continue
        if "incomplete" in flags or n >= 8:
            plan.n = -1
            return
        begin = ks["begin_search"]
        find = ks["find_keys"]
        if begin["type"] != "index" or find["type"] != "range":
            plan.n = -1
            return
        fs = find["spec"]
        plan.first[n] = begin["spec"]["index"]
        plan.lastkey[n] = fs["lastkey"]
        plan.step[n] = fs["keystep"] or 1
        plan.limit[n] = fs["limit"]
        plan.rw[n] = -1 if (variable and spec.getkeys is not None) else rw_of(flags)
        n += 1
    plan.n = n
    plan.single = plan.first[0] if n == 1 and plan.lastkey[0] == 0 and plan.first[0] > 0 else 0
    return


cdef inline KeyPlan* plan_for(CommandSpec spec) except NULL:
    cdef int i = spec.id
    if 0 <= i < _nplans and _plans[i].ready:
        return &_plans[i]
    return new_plan(spec)


cdef KeyPlan* new_plan(CommandSpec spec) except NULL:
    global _plans, _nplans
    cdef int i = spec.id, n
    cdef KeyPlan* grown
    if i < 0:
        raise ValueError("command without an id")
    if i >= _nplans:
        n = max(i + 1, 2 * _nplans, 256)
        grown = <KeyPlan*>realloc(_plans, n * sizeof(KeyPlan))
        if grown == NULL:
            raise MemoryError()
        memset(grown + _nplans, 0, (n - _nplans) * sizeof(KeyPlan))
        _plans, _nplans = grown, n
    make_plan(spec, &_plans[i])
    _plans[i].ready = True
    # acl_check's inlined fast path: one key at a fixed position, or one plain range, and no channel arguments
    spec.acl_single = _plans[i].single if _plans[i].ch_first == 0 else 0
    if (_plans[i].n == 1 and not _plans[i].single and _plans[i].ch_first == 0 and _plans[i].limit[0] == 0
            and _plans[i].first[0] > 0):
        spec.acl_first = _plans[i].first[0]
        spec.acl_lastkey = _plans[i].lastkey[0]
        spec.acl_step = _plans[i].step[0]
    return &_plans[i]


cdef int rw_at(CommandSpec spec, list argv, Py_ssize_t pos):
    """The access flags of the key at argv[pos] for a variable_flags command (SET ... GET)."""
    for p, rw in _generic_keys(spec, argv):
        if p == pos:
            return rw
    return C_PERM_ALL


cdef class Selector:
    def __init__(self, int size, bint root=False):
        self.root = root
        self.bits = bytearray(size)
        self.firstargs = {}
        self.patterns = []
        self.channels = []
        self.cpats = NULL
        self.ncpats = 0
        self.refs = ()

    def __dealloc__(self):
        if self.cpats != NULL:
            free(self.cpats)

    def copy(self):
        cdef Selector s = Selector.__new__(Selector)
        s.root = self.root
        s.allkeys = self.allkeys
        s.allchannels = self.allchannels
        s.allcommands = self.allcommands
        s.future = self.future
        s.bits = bytearray(self.bits)
        s.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        s.patterns = [list(p) for p in self.patterns]
        s.channels = list(self.channels)
        s.cpats = NULL
        s.ncpats = 0
        s.refs = ()
        s.compile()
        return s

    cdef compile(self):
        """The key patterns as a C array (after every change: User.refresh). A key is matched only against
        the patterns whose literal prefix starts with its first byte, and those without a literal prefix:
        any one pattern matching is enough, so the order does not matter."""
        cdef int i, n = len(self.patterns), at
        cdef Py_ssize_t j
        if self.cpats != NULL:
            free(self.cpats)
            self.cpats = NULL
        self.ncpats = 0
        self.nwild = 0
        for i in range(256):
            self.bstart[i] = self.bend[i] = 0
        entries = []
        for pat, flags in self.patterns:
            b = bytes(pat)
            j = 0
            while j < len(b) and b[j] not in b"*?[\\":
                j += 1
            entries.append((b[0] if j else -1, b, flags, j))
        entries.sort(key=lambda e: e[0])
        self.refs = tuple(e[1] for e in entries)
        if n == 0:
            return
        self.cpats = <pat_t*>malloc(n * sizeof(pat_t))
        for i in range(n):
            first, b, flags, j = entries[i]
            b = <bytes>self.refs[i]
            self.cpats[i].p = PyBytes_AS_STRING(b)
            self.cpats[i].n = PyBytes_GET_SIZE(b)
            self.cpats[i].flags = <int>flags
            self.cpats[i].plen = j
            if j == len(b):
                self.cpats[i].kind = 1
            elif j == len(b) - 1 and b[j] == 42:      # "prefix*"
                self.cpats[i].kind = 2
            else:
                self.cpats[i].kind = 0
            if first < 0:
                self.nwild = i + 1
            else:
                if self.bend[first] == 0:
                    self.bstart[first] = i
                self.bend[first] = i + 1
        self.ncpats = n

    def recompile(self):
        self.compile()

    cdef int check_channel(self, bytes channel, bint is_pattern) except -1:
        for p in self.channels:
            if is_pattern:
                if p == channel:
                    return OK
            elif glob_match(<bytes>p, channel, False):
                return OK
        return DENIED_CHANNEL

    cdef int check_cmd(self, CommandSpec spec, list argv, int* errpos) except -1:
        """redis ACLSelectorCheckCmd."""
        cdef Py_ssize_t argc = list_len(argv), i, first, last
        cdef int r, j, cid
        cdef bint allowed
        cdef KeyPlan* plan
        if not self.allcommands and not (spec.flags & CMD_NO_AUTH):
            cid = spec.id
            if cid >= 0 and cid < PyByteArray_GET_SIZE(self.bits):
                allowed = PyByteArray_AS_STRING(self.bits)[cid] != 0
            else:
                allowed = self.future
            if not allowed and not firstarg_allowed(self, spec, argv):
                return DENIED_CMD
        if self.allkeys and self.allchannels:
            return OK
        plan = plan_for(spec)
        if plan.single and not self.allkeys and plan.single < argc:
            # one key at a fixed position (GET, SET, INCR, HSET...): the common case, without the range loop
            r = check_plain_key(self, spec, argv, plan.single, plan.rw[0])
            if r != OK:
                errpos[0] = plan.single
                return r
        elif not self.allkeys:
            if plan.n < 0:
                r = check_keys_generic(self, spec, argv, errpos)
                if r != OK:
                    return r
            else:
                for j in range(plan.n):
                    first = plan.first[j]
                    if plan.lastkey[j] >= 0:
                        last = first + plan.lastkey[j]
                    elif not plan.limit[j]:
                        last = argc + plan.lastkey[j]
                    else:
                        last = first + ((argc - first) // plan.limit[j] + plan.lastkey[j])
                    if last >= argc or last < first or first >= argc:
                        # not a plain match for this argv: let the generic extraction decide
                        r = check_keys_generic(self, spec, argv, errpos)
                        if r != OK:
                            return r
                        break
                    i = first
                    while i <= last:
                        r = check_plain_key(self, spec, argv, i, plan.rw[j])
                        if r != OK:
                            errpos[0] = i
                            return r
                        i += plan.step[j]
        if not self.allchannels and plan.ch_first:
            last = argc - 1 if plan.ch_every else plan.ch_first
            i = plan.ch_first
            while i <= last and i < argc:
                r = self.check_channel(<bytes>argv[i], plan.ch_pattern)
                if r != OK:
                    errpos[0] = i
                    return r
                i += 1
        return OK


# Kept out of check_cmd: Python locals there would cost every call their setup and cleanup.
cdef bint firstarg_allowed(Selector sel, CommandSpec spec, list argv) except -1:
    """A `+cmd|sub` rule allowing this first argument of an otherwise refused command."""
    fa = sel.firstargs.get(spec.id) if sel.firstargs else None
    if list_len(argv) < 2 or not fa:
        return False
    return (<bytes>argv[1]).lower() in fa


cdef int check_keys_generic(Selector sel, CommandSpec spec, list argv, int* errpos) except -1:
    """Keys found by the generic extraction (keynum/keyword specs, or an argv the plan cannot place)."""
    cdef int r
    for pos, rw in _generic_keys(spec, argv):
        r = check_key(sel, spec, argv, pos, rw)
        if r != OK:
            errpos[0] = pos
            return r
    return OK


cdef inline int string_match(const char* p, Py_ssize_t pn, const char* s, Py_ssize_t sn):
    """redis stringmatchlen, case-sensitive (engine/glob.pyx)."""
    cdef int skip = 0
    return _match(<const unsigned char*>p, pn, <const unsigned char*>s, sn, False, &skip, 0)


cdef inline int check_plain_key(Selector sel, CommandSpec spec, list argv, Py_ssize_t pos, int rw) except -1:
    """check_key for the plan's keys: the literal / `prefix*` walk of aclcore.pxd (fast_key_ok, inlined), then
    the full walk for anything it cannot decide (globs, read/write-only patterns, refusals)."""
    if fast_key_ok(sel, list_item(argv, pos)):
        return OK
    return check_key(sel, spec, argv, pos, rw)


# cm_prefix_eq (the literal prefix compare) is in aclcore.pxd, shared with acl_check's inlined fast path

DEF NEED_RW = -2


cdef inline int match_range(Selector sel, int rw, const char* k, Py_ssize_t kn, int lo, int hi) noexcept:
    """OK if a pattern in cpats[lo:hi] admits the key, DENIED_KEY if none does, NEED_RW when a read- or
    write-only pattern matched the name but the command's access flags for this key are not known yet
    (rw < 0: a variable_flags command; the caller resolves them and asks again)."""
    cdef pat_t* pt = sel.cpats + lo
    cdef pat_t* end = sel.cpats + hi
    while pt < end:
        # the literal prefix must match byte for byte (the first byte already does)
        if pt.plen > kn or (pt.plen > 1 and not cm_prefix_eq(pt.p, k, pt.plen)) or (pt.kind == 1 and pt.n != kn):
            pt += 1
            continue
        if pt.flags != C_PERM_ALL:
            if rw < 0:
                return NEED_RW
            if (pt.flags & rw) != rw:
                pt += 1
                continue
        if pt.kind != 0:                      # a literal or "prefix*": the prefix test decided
            return OK
        if string_match(pt.p, pt.n, k, kn):
            return OK
        pt += 1
    return DENIED_KEY


cdef inline int check_key(Selector sel, CommandSpec spec, list argv, Py_ssize_t pos, int rw) except -1:
    """Inlined into check_cmd: a key check is a few compares (a call per key, memcmp and the argument
    passing were most of a restricted user's cost, measured with callgrind)."""
    cdef PyObject* key = list_item(argv, pos)       # borrowed: argv holds it
    cdef const char* k = bytes_str(key)
    cdef Py_ssize_t kn = bytes_len(key)
    cdef int r
    if sel.nwild:
        r = match_range(sel, rw, k, kn, 0, sel.nwild)
        if r == NEED_RW:
            rw = rw_at(spec, argv, pos)
            r = match_range(sel, rw, k, kn, 0, sel.nwild)
        if r == OK:
            return r
    if kn == 0:
        return DENIED_KEY
    cdef unsigned char b0 = <unsigned char>k[0]
    r = match_range(sel, rw, k, kn, sel.bstart[b0], sel.bend[b0])
    if r == NEED_RW:
        rw = rw_at(spec, argv, pos)
        r = match_range(sel, rw, k, kn, sel.bstart[b0], sel.bend[b0])
    return r


cdef class User:
    def __init__(self, bytes name, int size):
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize = 0
        self.passwords = []
        self.selectors = [Selector(size, True)]
        self.unrestricted = False

    def root(self):
        return self.selectors[0]

    def refresh(self):
        """Recompute the fast-path state after a change of rules."""
        cdef Selector s
        self.unrestricted = False
        for s in self.selectors:
            s.compile()
            if s.allcommands and s.allkeys and s.allchannels:
                self.unrestricted = True

    cdef int check_c(self, CommandSpec spec, list argv, int* pos) except -1:
        """redis ACLCheckAllUserCommandPerm: OK, or the most relevant refusal with its argv position."""
        cdef int r, p, relevant = DENIED_CMD, last_idx = 0
        cdef Py_ssize_t j, n = list_len(self.selectors)
        if n == 1:          # most users: the root selector alone, its own result and position
            return (<Selector>list_item(self.selectors, 0)).check_cmd(spec, argv, pos)
        for j in range(n):
            p = 0
            r = (<Selector>list_item(self.selectors, j)).check_cmd(spec, argv, &p)
            if r == OK:
                return OK
            if r > relevant or (r == relevant and p > last_idx):
                relevant = r
                last_idx = p
        pos[0] = last_idx
        return relevant

    cpdef tuple check(self, CommandSpec spec, list argv):
        """None when allowed, else (reason, argv position)."""
        cdef int pos = 0, r
        if self.unrestricted:
            return None
        r = self.check_c(spec, argv, &pos)
        if r == OK:
            return None
        return (r, pos)

    cpdef bint check_channel(self, bytes channel, bint is_pattern):
        """redis ACLUserCheckChannelPerm."""
        cdef Selector s
        for s in self.selectors:
            if s.allchannels:
                return True
            if s.check_channel(channel, is_pattern) == OK:
                return True
        return False
