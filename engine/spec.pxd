# The typed command declaration the dispatcher reads on every call.

cdef enum CommandFlag:
    CMD_WRITE = 1 << 0
    CMD_READONLY = 1 << 1
    CMD_DENYOOM = 1 << 2
    CMD_MODULE = 1 << 3
    CMD_ADMIN = 1 << 4
    CMD_PUBSUB = 1 << 5
    CMD_NOSCRIPT = 1 << 6
    CMD_BLOCKING = 1 << 7
    CMD_LOADING = 1 << 8
    CMD_STALE = 1 << 9
    CMD_SKIP_MONITOR = 1 << 10
    CMD_SKIP_SLOWLOG = 1 << 11
    CMD_ASKING = 1 << 12
    CMD_FAST = 1 << 13
    CMD_NO_AUTH = 1 << 14
    CMD_MAY_REPLICATE = 1 << 15
    CMD_SENTINEL = 1 << 16
    CMD_ONLY_SENTINEL = 1 << 17
    CMD_NO_MANDATORY_KEYS = 1 << 18
    CMD_PROTECTED = 1 << 19
    CMD_NO_ASYNC_LOADING = 1 << 20
    CMD_NO_MULTI = 1 << 21
    CMD_MOVABLE_KEYS = 1 << 22
    CMD_ALLOW_BUSY = 1 << 23
    CMD_INTERNAL = 1 << 24       # effect-only command: hidden from COMMAND, refused from normal clients


cdef class CommandSpec:
    cdef public str name                 # lower-case full name: "get", "config|get"
    cdef public bytes name_bytes
    cdef public int arity
    cdef public unsigned long long flags
    cdef public unsigned long long acl_categories
    cdef public int first_key
    cdef public int last_key
    cdef public int key_step
    cdef public object handler           # handler(Client c, list argv)
    cdef void* cfunc                     # the same handler as a C function, for the hot families in engine.core
    cdef bint self_accounted             # the C handler keeps its keys' memory cost itself (core bind_cost)
    cdef public object getkeys           # optional getkeys(argv) -> list of key indexes (movable keys)
    cdef public dict subcommands         # lower bytes -> CommandSpec, None when not a container
    cdef public CommandSpec parent
    cdef public list key_specs           # Redis key-spec maps, as COMMAND INFO shows them
    cdef public tuple tips
    cdef public dict docs                # COMMAND DOCS map (summary, since, group, complexity, arguments...)
    cdef public int id
    cdef public int acl_single           # ACL fast path: argv position of the only key, 0 = full check (engine.aclcore)
    cdef public int acl_first, acl_lastkey, acl_step   # ACL fast path: one plain key range (MSET, DEL), step 0 = none
    # INFO commandstats
    cdef public long long calls
    cdef public long long usec
    cdef public long long rejected_calls
    cdef public long long failed_calls
    # latency histogram (metrics): calls by duration, bucket i = up to 2**i us, the last one unbounded
    cdef long long latency_buckets[22]
