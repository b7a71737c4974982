# cython: language_level=3
"""The compiled half of ACLs: users and selectors as typed objects, and the per-command permission check
the dispatcher runs for every command of a restricted user (redis acl.c ACLCheckAllUserCommandPerm).

engine/acl.py owns everything else (rule parsing, descriptions, the users table, ACL LOG); this module
keeps the hot path short: a command bit is one bytearray index, key positions of commands whose key specs
are plain index/range specs come from a plan computed once per command, and key/channel patterns are
matched with redis stringmatchlen (engine/glob.pyx).
"""
from engine.spec cimport CommandSpec, CMD_NO_AUTH
from engine.glob cimport glob_match

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
PERM_READ = 1
PERM_WRITE = 2
PERM_ALL = 3

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

cdef dict _plans = {}          # CommandSpec -> plan (see key_plan) or False when the generic path is needed
cdef object _generic_keys = None   # callable(spec, argv) -> [(pos, rw)] (set by engine.acl)


def set_generic_keys(fn):
    global _generic_keys
    _generic_keys = fn


def reset_plans():
    _plans.clear()


cdef inline int rw_of(list flags):
    cdef int rw = 0
    for f in flags:
        if f == "access":
            rw |= 1
        elif f == "insert" or f == "delete" or f == "update":
            rw |= 2
    return rw


cdef object key_plan(CommandSpec spec):
    """A tuple of (first, lastkey, step, limit, rw) per key spec when every usable spec is a plain
    index/range one (most commands), () for a command without keys, False otherwise."""
    plan = []
    if spec.getkeys is not None:
        return False
    if not spec.key_specs:
        if spec.first_key > 0:
            return False
        return ()
    for ks in spec.key_specs:
        flags = ks.get("flags", [])
        if "not_key" in flags:
            continue
        if "incomplete" in flags or "variable_flags" in flags:
            return False
        begin = ks["begin_search"]
        find = ks["find_keys"]
        if begin["type"] != "index" or find["type"] != "range":
            return False
        fs = find["spec"]
        plan.append((begin["spec"]["index"], fs["lastkey"], fs["keystep"] or 1, fs["limit"], rw_of(flags)))
    return tuple(plan)


cdef class Selector:
    cdef public bint root
    cdef public bint allkeys
    cdef public bint allchannels
    cdef public bint allcommands
    cdef public bint future          # the reserved "future commands" bit (+@all / allcommands)
    cdef public bytearray bits       # command id -> allowed
    cdef public dict firstargs       # command id -> [lower-case first args] (+cmd|arg on a plain command)
    cdef public list patterns        # [[pattern bytes, PERM_*]]
    cdef public list channels        # [pattern bytes]

    def __init__(self, int size, bint root=False):
        self.root = root
        self.bits = bytearray(size)
        self.firstargs = {}
        self.patterns = []
        self.channels = []

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
        return s

    cdef inline bint has_bit(self, int cid):
        if cid < 0 or cid >= len(self.bits):
            return self.future
        return self.bits[cid] != 0

    cdef int check_key(self, bytes key, int rw):
        if self.allkeys:
            return OK
        for p in self.patterns:
            if (<int>p[1] & rw) != rw:
                continue
            if glob_match(<bytes>p[0], key, False):
                return OK
        return DENIED_KEY

    cdef int check_channel(self, bytes channel, bint is_pattern):
        for p in self.channels:
            if is_pattern:
                if p == channel:
                    return OK
            elif glob_match(<bytes>p, channel, False):
                return OK
        return DENIED_CHANNEL

    cdef int check_cmd(self, CommandSpec spec, list argv, int* errpos):
        """redis ACLSelectorCheckCmd."""
        cdef Py_ssize_t argc = len(argv), i, first, last
        cdef int r, step
        if not self.allcommands and not (spec.flags & CMD_NO_AUTH):
            if not self.has_bit(spec.id):
                fa = self.firstargs.get(spec.id) if self.firstargs else None
                if argc < 2 or not fa:
                    return DENIED_CMD
                if (<bytes>argv[1]).lower() not in fa:
                    return DENIED_CMD
        if not self.allkeys:
            plan = _plans.get(spec)
            if plan is None:
                plan = key_plan(spec)
                _plans[spec] = plan
            if plan is False:
                for pos, rw in _generic_keys(spec, argv):
                    r = self.check_key(<bytes>argv[pos], rw)
                    if r != OK:
                        errpos[0] = pos
                        return r
            else:
                for first, lastkey, step, limit, rw in plan:
                    if lastkey >= 0:
                        last = first + lastkey
                    elif not limit:
                        last = argc + lastkey
                    else:
                        last = first + ((argc - first) // limit + lastkey)
                    if last >= argc or last < first or first >= argc:
                        continue
                    i = first
                    while i <= last:
                        r = self.check_key(<bytes>argv[i], rw)
                        if r != OK:
                            errpos[0] = i
                            return r
                        i += step
        if not self.allchannels:
            ch = CHANNEL_ARGS.get(spec.name)
            if ch is not None:
                first, every, kind = ch
                last = argc - 1 if every else first
                i = first
                while i <= last and i < argc:
                    r = self.check_channel(<bytes>argv[i], kind == CH_PATTERN)
                    if r != OK:
                        errpos[0] = i
                        return r
                    i += 1
        return OK


cdef class User:
    cdef public bytes name
    cdef public bint enabled
    cdef public bint nopass
    cdef public int sanitize          # 0 unset, 1 skip-sanitize-payload, 2 sanitize-payload
    cdef public list passwords        # SHA-256 hex digests (str)
    cdef public list selectors        # root selector first
    cdef public bint unrestricted     # one selector with allcommands + allkeys + allchannels: no check needed

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
        cdef Selector s
        self.unrestricted = False
        for s in self.selectors:
            if s.allcommands and s.allkeys and s.allchannels:
                self.unrestricted = True

    cpdef tuple check(self, CommandSpec spec, list argv):
        """redis ACLCheckAllUserCommandPerm: None when allowed, else (reason, argv position)."""
        cdef Selector s
        cdef int r, pos = 0, relevant = DENIED_CMD, last_idx = 0
        if self.unrestricted:
            return None
        for s in self.selectors:
            pos = 0
            r = s.check_cmd(spec, argv, &pos)
            if r == OK:
                return None
            if r > relevant or (r == relevant and pos > last_idx):
                relevant = r
                last_idx = pos
        return (relevant, last_idx)

    cpdef bint check_channel(self, bytes channel, bint is_pattern):
        """redis ACLUserCheckChannelPerm."""
        cdef Selector s
        for s in self.selectors:
            if s.allchannels:
                return True
            if s.check_channel(channel, is_pattern) == OK:
                return True
        return False
