"""Client-side caching commands (redis tracking.c / networking.c clientCommand): CLIENT TRACKING, CLIENT
CACHING, CLIENT GETREDIR, CLIENT TRACKINGINFO.  The state and the invalidation messages are server/tracking.py's,
reached through the server context (``c.server.client_tracking()``)."""
import re

from engine.registry import command

SYNTAX_ERR = b"ERR syntax error"
NOT_INTEGER = b"ERR value is not an integer or out of range"
_LL = re.compile(rb"-?(0|[1-9][0-9]{0,18})\Z")


def _state(c):
    ext = c.server.client_tracking(create=False) if c.server is not None else None
    return ext.states.get(c) if ext is not None else None


@command(
    "client|tracking", -3, "noscript loading stale", acl="connection",
    docs={
        "summary": "Enable or disable server assisted client side caching support",
        "since": "6.0.0",
        "group": "connection",
        "complexity": "O(1). Some options may introduce additional complexity.",
        "arguments": [
            {
                "name": "status",
                "type": "oneof",
                "arguments": [
                    {"name": "on", "type": "pure-token", "token": "ON"},
                    {"name": "off", "type": "pure-token", "token": "OFF"},
                ],
            },
            {"name": "client-id", "type": "integer", "token": "REDIRECT", "flags": ["optional"]},
            {
                "name": "prefix",
                "type": "string",
                "token": "PREFIX",
                "flags": ["optional", "multiple", "multiple_token"],
            },
            {"name": "bcast", "type": "pure-token", "token": "BCAST", "flags": ["optional"]},
            {"name": "optin", "type": "pure-token", "token": "OPTIN", "flags": ["optional"]},
            {"name": "optout", "type": "pure-token", "token": "OPTOUT", "flags": ["optional"]},
            {"name": "noloop", "type": "pure-token", "token": "NOLOOP", "flags": ["optional"]},
        ],
    },
)
def client_tracking_command(c, argv):
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes = []
    j = 3
    argc = len(argv)
    while j < argc:
        opt = argv[j].lower()
        more = argc - 1 - j
        if opt == b"redirect" and more:
            j += 1
            if redirect != 0:
                c.error(b"ERR A client can only redirect to a single other client")
                return
            m = _LL.match(argv[j])
            if m is None or not -(1 << 63) <= int(argv[j]) < (1 << 63):
                c.error(NOT_INTEGER)
                return
            redirect = int(argv[j])
            if redirect not in c.server.clients:
                c.error(b"ERR The client ID you want redirect to does not exist")
                return
        elif opt == b"bcast":
            bcast = True
        elif opt == b"optin":
            optin = True
        elif opt == b"optout":
            optout = True
        elif opt == b"noloop":
            noloop = True
        elif opt == b"prefix" and more:
            j += 1
            prefixes.append(argv[j])
        else:
            c.error(SYNTAX_ERR)
            return
        j += 1
    mode = argv[2].lower()
    if mode == b"on":
        st = _state(c)
        if not bcast and prefixes:
            c.error(b"ERR PREFIX option requires BCAST mode to be enabled")
            return
        if st is not None and st.bcast != bcast:
            c.error(b"ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then "
                    b"re-enabling it with a different mode.")
            return
        if bcast and (optin or optout):
            c.error(b"ERR OPTIN and OPTOUT are not compatible with BCAST")
            return
        if optin and optout:
            c.error(b"ERR You can't specify both OPTIN mode and OPTOUT mode")
            return
        if st is not None and ((optin and st.optout) or (optout and st.optin)):
            c.error(b"ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then "
                    b"re-enabling it with a different mode.")
            return
        if bcast:
            err = check_prefix_collisions(st, prefixes)
            if err is not None:
                c.error(err)
                return
        c.server.client_tracking().enable(c, redirect, bcast, optin, optout, noloop, prefixes)
    elif mode == b"off":
        ext = c.server.client_tracking(create=False)
        if ext is not None:
            ext.disable(c)
    else:
        c.error(SYNTAX_ERR)
        return
    c.reply.add_ok()


@command(
    "client|caching", 3, "noscript loading stale", acl="connection",
    docs={
        "summary": "Instruct the server about tracking or not keys in the next request",
        "since": "6.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "mode",
                "type": "oneof",
                "arguments": [
                    {"name": "yes", "type": "pure-token", "token": "YES"},
                    {"name": "no", "type": "pure-token", "token": "NO"},
                ],
            },
        ],
    },
)
def client_caching_command(c, argv):
    st = _state(c)
    if st is None:
        c.error(b"ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT "
                b"mode enabled")
        return
    opt = argv[2].lower()
    if opt == b"yes":
        if not st.optin:
            c.error(b"ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
            return
    elif opt == b"no":
        if not st.optout:
            c.error(b"ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
            return
    else:
        c.error(SYNTAX_ERR)
        return
    st.caching = True
    c.reply.add_ok()


@command(
    "client|getredir", 2, "noscript loading stale", acl="connection",
    docs={
        "summary": "Get tracking notifications redirection client ID if any",
        "since": "6.0.0",
        "group": "connection",
        "complexity": "O(1)",
    },
)
def client_getredir_command(c, argv):
    st = _state(c)
    c.reply.add_int(st.redirect if st is not None else -1)


@command(
    "client|trackinginfo", 2, "noscript loading stale", acl="connection",
    docs={
        "summary": "Return information about server assisted client side caching for the current connection",
        "since": "6.2.0",
        "group": "connection",
        "complexity": "O(1)",
    },
)
def client_trackinginfo_command(c, argv):
    st = _state(c)
    flags = [b"on" if st is not None else b"off"]
    if st is not None:
        if st.bcast:
            flags.append(b"bcast")
        if st.optin:
            flags.append(b"optin")
            if st.caching:
                flags.append(b"caching-yes")
        if st.optout:
            flags.append(b"optout")
            if st.caching:
                flags.append(b"caching-no")
        if st.noloop:
            flags.append(b"noloop")
        if st.broken:
            flags.append(b"broken_redirect")
    r = c.reply
    r.add_map_len(3)
    r.add_bulk(b"flags")
    r.add_set_len(len(flags))
    for f in flags:
        r.add_bulk(f)
    r.add_bulk(b"redirect")
    r.add_int(st.redirect if st is not None else -1)
    r.add_bulk(b"prefixes")
    prefixes = sorted(st.prefixes) if st is not None else []
    r.add_array_len(len(prefixes))
    for p in prefixes:
        r.add_bulk(p)


def _is_prefix(a, b):
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def check_prefix_collisions(st, prefixes):
    """redis checkPrefixCollisionsOrReply: the error text, or None."""
    for i, prefix in enumerate(prefixes):
        if st is not None:
            for existing in st.prefixes:
                if _is_prefix(existing, prefix):
                    return (b"ERR Prefix '%s' overlaps with an existing prefix '%s'. Prefixes for a single client "
                            b"must not overlap." % (prefix, existing))
        for other in prefixes[i + 1:]:
            if _is_prefix(prefix, other):
                return (b"ERR Prefix '%s' overlaps with another provided prefix '%s'. Prefixes for a single client "
                        b"must not overlap." % (prefix, other))
    return None
