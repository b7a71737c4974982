"""Geo commands (redis 7.0 geo.c): a geo set is a sorted set whose scores are 52-bit geohashes.

The maths (encoding, distances, the cells a search scans, the scan itself) is the Cython core
engine/types/geohash.pyx; this layer parses arguments in Redis's order and shapes replies.
"""
from engine.core import WRONGTYPE, SYNTAX_ERR, NOT_INTEGER, NOT_FLOAT
from engine.registry import command
from engine.types import geohash
from engine.types.geohash import GeoShape
from engine.types.zset import ZSetValue, build_zset
from engine.types.zskiplist import parse_score
from engine.commands.t_zset import zadd_generic, store_result
from protocol.resp import parse_ll

EMPTY_ARRAY = b"*0\r\n"


def parse_double(c, arg, message=None):
    """getDoubleFromObjectOrReply: the value, or None after replying."""
    try:
        return parse_score(arg)
    except ValueError:
        c.error(b"ERR " + message if message else NOT_FLOAT)
        return None


def parse_lonlat(c, lon_arg, lat_arg):
    """extractLongLatOrReply: (lon, lat) or None after replying."""
    lon = parse_double(c, lon_arg)
    if lon is None:
        return None
    lat = parse_double(c, lat_arg)
    if lat is None:
        return None
    try:
        geohash.validate_lonlat(lon, lat)
    except ValueError as exc:
        c.error(str(exc).encode())
        return None
    return lon, lat


def parse_unit(c, arg):
    try:
        return geohash.unit_to_meters(arg)
    except ValueError as exc:
        c.error(str(exc).encode())
        return None


def parse_distance(c, value_arg, unit_arg):
    """extractDistanceOrReply: (radius, meters per unit) or None."""
    radius = parse_double(c, value_arg, b"need numeric radius")
    if radius is None:
        return None
    if radius < 0:
        c.error(b"ERR radius cannot be negative")
        return None
    conversion = parse_unit(c, unit_arg)
    if conversion is None:
        return None
    return radius, conversion


def parse_box(c, w_arg, h_arg, unit_arg):
    width = parse_double(c, w_arg, b"need numeric width")
    if width is None:
        return None
    height = parse_double(c, h_arg, b"need numeric height")
    if height is None:
        return None
    if height < 0 or width < 0:
        c.error(b"ERR height or width cannot be negative")
        return None
    conversion = parse_unit(c, unit_arg)
    if conversion is None:
        return None
    return width, height, conversion


def geo_for_read(c, key):
    """lookupKeyRead + checkType: (ok, zset or None)."""
    e = c.db.lookup_read(key)
    if e is None:
        return True, None
    if type(e.value) is not ZSetValue:
        c.error(WRONGTYPE)
        return False, None
    return True, e.value


def add_coordinate(c, value):
    """addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3."""
    text = geohash.format_coordinate(value)
    if c.reply.resp >= 3:
        c.reply.add_raw(b"," + text + b"\r\n")
    else:
        c.reply.add_bulk(text)


# ---------------------------------------------------------------------------------------------------------------
# GEOADD GEODIST GEOHASH GEOPOS
# ---------------------------------------------------------------------------------------------------------------
@command(
    "geoadd", -5, "write denyoom", acl="geo", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Add one or more geospatial items in the geospatial index represented using a sorted set",
        "since": "3.2.0",
        "group": "geo",
        "complexity": "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        "history": [["6.2.0", "Added the `CH`, `NX` and `XX` options."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "condition",
                "type": "oneof",
                "since": "6.2.0",
                "flags": ["optional"],
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                ],
            },
            {"name": "change", "type": "pure-token", "token": "CH", "since": "6.2.0", "flags": ["optional"]},
            {
                "name": "longitude_latitude_member",
                "type": "block",
                "flags": ["multiple"],
                "arguments": [
                    {"name": "longitude", "type": "double"},
                    {"name": "latitude", "type": "double"},
                    {"name": "member", "type": "string"},
                ],
            },
        ],
    },
)
def geoadd_command(c, argv):
    xx = nx = False
    longidx = 2
    while longidx < len(argv):
        opt = argv[longidx].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt == b"ch":
            pass
        else:
            break
        longidx += 1
    if (len(argv) - longidx) % 3 or (xx and nx):
        c.error(SYNTAX_ERR)
        return
    # Redis rewrites GEOADD into the ZADD it runs (and propagates)
    zadd_argv = [b"zadd"] + argv[1:longidx]
    for i in range(longidx, len(argv), 3):
        lonlat = parse_lonlat(c, argv[i], argv[i + 1])
        if lonlat is None:
            return
        zadd_argv.append(b"%d" % int(geohash.encode_score(lonlat[0], lonlat[1])))
        zadd_argv.append(argv[i + 2])
    zadd_generic(c, zadd_argv, False)
    if c.dirty:
        c.propagate_as(zadd_argv)


@command(
    "geodist", -4, "readonly", acl="geo", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Returns the distance between two members of a geospatial index",
        "since": "3.2.0",
        "group": "geo",
        "complexity": "O(log(N))",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member1", "type": "string"},
            {"name": "member2", "type": "string"},
            {
                "name": "unit",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "m", "type": "pure-token", "token": "M"},
                    {"name": "km", "type": "pure-token", "token": "KM"},
                    {"name": "ft", "type": "pure-token", "token": "FT"},
                    {"name": "mi", "type": "pure-token", "token": "MI"},
                ],
            },
        ],
    },
)
def geodist_command(c, argv):
    to_meter = 1.0
    if len(argv) == 5:
        to_meter = parse_unit(c, argv[4])
        if to_meter is None:
            return
    elif len(argv) > 5:
        c.error(SYNTAX_ERR)
        return
    ok, zs = geo_for_read(c, argv[1])
    if not ok:
        return
    s1 = None if zs is None else zs.score(argv[2])
    s2 = None if zs is None else zs.score(argv[3])
    if s1 is None or s2 is None:
        c.reply.add_null()
        return
    lon1, lat1 = geohash.decode_score(s1)
    lon2, lat2 = geohash.decode_score(s2)
    c.reply.add_bulk(geohash.format_distance(geohash.distance(lon1, lat1, lon2, lat2) / to_meter))


@command(
    "geohash", -2, "readonly", acl="geo", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Returns members of a geospatial index as standard geohash strings",
        "since": "3.2.0",
        "group": "geo",
        "complexity": (
            "O(log(N)) for each member requested, where N is the number of elements in the sorted set."
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def geohash_command(c, argv):
    ok, zs = geo_for_read(c, argv[1])
    if not ok:
        return
    c.reply.add_array_len(len(argv) - 2)
    for member in argv[2:]:
        score = None if zs is None else zs.score(member)
        if score is None:
            c.reply.add_null()
        else:
            c.reply.add_bulk(geohash.geohash_string(score))


@command(
    "geopos", -2, "readonly", acl="geo", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "Returns longitude and latitude of members of a geospatial index",
        "since": "3.2.0",
        "group": "geo",
        "complexity": "O(N) where N is the number of members requested.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string", "flags": ["multiple"]},
        ],
    },
)
def geopos_command(c, argv):
    ok, zs = geo_for_read(c, argv[1])
    if not ok:
        return
    c.reply.add_array_len(len(argv) - 2)
    for member in argv[2:]:
        score = None if zs is None else zs.score(member)
        if score is None:
            c.reply.add_null_array()
        else:
            lon, lat = geohash.decode_score(score)
            c.reply.add_array_len(2)
            add_coordinate(c, lon)
            add_coordinate(c, lat)


# ---------------------------------------------------------------------------------------------------------------
# GEORADIUS* / GEOSEARCH* (georadiusGeneric)
# ---------------------------------------------------------------------------------------------------------------
RADIUS_COORDS = 1
RADIUS_MEMBER = 2
RADIUS_NOSTORE = 4
GEOSEARCH = 8
GEOSEARCHSTORE = 16


def member_position(c, zs, member):
    score = zs.score(member)
    if score is None:
        c.error(b"ERR could not decode requested zset member")
        return None
    return geohash.decode_score(score)


def georadius_generic(c, argv, src_index, flags):
    storekey = None
    storedist = False
    ok, zs = geo_for_read(c, argv[src_index])
    if not ok:
        return
    center = None
    radius = box = None
    conversion = 1.0
    if flags & RADIUS_COORDS:
        base_args = 6
        center = parse_lonlat(c, argv[2], argv[3])
        if center is None:
            return
        dist = parse_distance(c, argv[4], argv[5])
        if dist is None:
            return
        radius, conversion = dist
    elif flags & RADIUS_MEMBER and zs is None:
        base_args = 5
    elif flags & RADIUS_MEMBER:
        base_args = 5
        center = member_position(c, zs, argv[2])
        if center is None:
            return
        dist = parse_distance(c, argv[3], argv[4])
        if dist is None:
            return
        radius, conversion = dist
    else:
        base_args = 2
        if flags & GEOSEARCHSTORE:
            base_args = 3
            storekey = argv[1]
    withdist = withhash = withcoords = False
    frommember = fromloc = byradius = bybox = False
    sort = None
    any_ = False
    count = 0
    remaining = len(argv) - base_args
    i = 0
    while i < remaining:
        arg = argv[base_args + i].lower()
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoords = True
        elif arg == b"any":
            any_ = True
        elif arg == b"asc":
            sort = "asc"
        elif arg == b"desc":
            sort = "desc"
        elif arg == b"count" and i + 1 < remaining:
            count = parse_ll(argv[base_args + i + 1])
            if count is None:
                c.error(NOT_INTEGER)
                return
            if count <= 0:
                c.error(b"ERR COUNT must be > 0")
                return
            i += 1
        elif arg in (b"store", b"storedist") and i + 1 < remaining and not flags & (RADIUS_NOSTORE | GEOSEARCH):
            storekey = argv[base_args + i + 1]
            storedist = arg == b"storedist"
            i += 1
        elif arg == b"storedist" and flags & GEOSEARCH and flags & GEOSEARCHSTORE:
            storedist = True
        elif arg == b"frommember" and i + 1 < remaining and flags & GEOSEARCH and not fromloc:
            if zs is not None:
                center = member_position(c, zs, argv[base_args + i + 1])
                if center is None:
                    return
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and i + 2 < remaining and flags & GEOSEARCH and not frommember:
            center = parse_lonlat(c, argv[base_args + i + 1], argv[base_args + i + 2])
            if center is None:
                return
            fromloc = True
            i += 2
        elif arg == b"byradius" and i + 2 < remaining and flags & GEOSEARCH and not bybox:
            dist = parse_distance(c, argv[base_args + i + 1], argv[base_args + i + 2])
            if dist is None:
                return
            radius, conversion = dist
            box = None
            byradius = True
            i += 2
        elif arg == b"bybox" and i + 3 < remaining and flags & GEOSEARCH and not byradius:
            parsed = parse_box(c, argv[base_args + i + 1], argv[base_args + i + 2], argv[base_args + i + 3])
            if parsed is None:
                return
            box = parsed[:2]
            conversion = parsed[2]
            bybox = True
            i += 3
        else:
            c.error(SYNTAX_ERR)
            return
        i += 1
    if storekey is not None and (withdist or withhash or withcoords):
        what = b"GEOSEARCHSTORE" if flags & GEOSEARCHSTORE else b"STORE option in GEORADIUS"
        c.error(b"ERR " + what + b" is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
        return
    if flags & GEOSEARCH and not (frommember or fromloc):
        c.error(b"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " + argv[0])
        return
    if flags & GEOSEARCH and not (byradius or bybox):
        c.error(b"ERR exactly one of BYRADIUS and BYBOX can be specified for " + argv[0])
        return
    if any_ and not count:
        c.error(b"ERR the ANY argument requires COUNT argument")
        return
    if zs is None:
        if storekey is not None:
            store_result(c, storekey, None, b"")
        else:
            c.reply.add_raw(EMPTY_ARRAY)
        return
    if count and sort is None and not any_:
        sort = "asc"
    if box is not None:
        shape = GeoShape(center[0], center[1], conversion, width=box[0], height=box[1])
    else:
        shape = GeoShape(center[0], center[1], conversion, radius=radius)
    found = geohash.search(zs, shape, count if any_ else 0)
    if not found and storekey is None:
        c.reply.add_raw(EMPTY_ARRAY)
        return
    if sort is not None:
        # stable either way: equal distances keep the scan order, as glibc's merge-sort qsort does
        found.sort(key=lambda p: p[2], reverse=sort == "desc")
    returned = found if not count else found[:count]
    if storekey is None:
        options = withdist + withcoords + withhash
        r = c.reply
        r.add_array_len(len(returned))
        for member, score, dist, lon, lat in returned:
            if options:
                r.add_array_len(options + 1)
            r.add_bulk(member)
            if withdist:
                r.add_bulk(geohash.format_distance(dist / conversion))
            if withhash:
                r.add_int(int(score))
            if withcoords:
                r.add_array_len(2)
                add_coordinate(c, lon)
                add_coordinate(c, lat)
        return
    pairs = [(member, dist / conversion if storedist else score) for member, score, dist, _, _ in returned]
    event = b"geosearchstore" if flags & GEOSEARCH else b"georadiusstore"
    store_result(c, storekey, build_zset(c.server.config if c.server is not None else None, pairs) if pairs
                 else None, event)
    if pairs:
        c.dirty += len(pairs) - 1


@command(
    "georadius", -6, "write denyoom movablekeys", acl="geo", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "keyword", "spec": {"keyword": "STORE", "startfrom": 6}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "keyword", "spec": {"keyword": "STOREDIST", "startfrom": 6}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Query a sorted set representing a geospatial index to fetch members matching a given maximum "
            "distance from a point"
        ),
        "since": "3.2.0",
        "group": "geo",
        "complexity": (
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area "
            "delimited by center and radius and M is the number of items inside the index."
        ),
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument",
        "history": [
            ["6.2.0", "Added the `ANY` option for `COUNT`."],
            ["7.0.0", "Added support for uppercase unit names."],
        ],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "longitude", "type": "double"},
            {"name": "latitude", "type": "double"},
            {"name": "radius", "type": "double"},
            {
                "name": "unit",
                "type": "oneof",
                "arguments": [
                    {"name": "m", "type": "pure-token", "token": "M"},
                    {"name": "km", "type": "pure-token", "token": "KM"},
                    {"name": "ft", "type": "pure-token", "token": "FT"},
                    {"name": "mi", "type": "pure-token", "token": "MI"},
                ],
            },
            {"name": "withcoord", "type": "pure-token", "token": "WITHCOORD", "flags": ["optional"]},
            {"name": "withdist", "type": "pure-token", "token": "WITHDIST", "flags": ["optional"]},
            {"name": "withhash", "type": "pure-token", "token": "WITHHASH", "flags": ["optional"]},
            {
                "name": "count",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "count", "type": "integer", "token": "COUNT"},
                    {
                        "name": "any",
                        "type": "pure-token",
                        "token": "ANY",
                        "since": "6.2.0",
                        "flags": ["optional"],
                    },
                ],
            },
            {
                "name": "order",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "asc", "type": "pure-token", "token": "ASC"},
                    {"name": "desc", "type": "pure-token", "token": "DESC"},
                ],
            },
            {"name": "key", "type": "key", "key_spec_index": 1, "token": "STORE", "flags": ["optional"]},
            {"name": "key", "type": "key", "key_spec_index": 2, "token": "STOREDIST", "flags": ["optional"]},
        ],
    },
)
def georadius_command(c, argv):
    georadius_generic(c, argv, 1, RADIUS_COORDS)


@command(
    "georadius_ro", -6, "readonly", acl="geo", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "A read-only variant for GEORADIUS",
        "since": "3.2.10",
        "group": "geo",
        "complexity": (
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area "
            "delimited by center and radius and M is the number of items inside the index."
        ),
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`GEOSEARCH` with the `BYRADIUS` argument",
        "history": [["6.2.0", "Added the `ANY` option for `COUNT`."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "longitude", "type": "double"},
            {"name": "latitude", "type": "double"},
            {"name": "radius", "type": "double"},
            {
                "name": "unit",
                "type": "oneof",
                "arguments": [
                    {"name": "m", "type": "pure-token", "token": "M"},
                    {"name": "km", "type": "pure-token", "token": "KM"},
                    {"name": "ft", "type": "pure-token", "token": "FT"},
                    {"name": "mi", "type": "pure-token", "token": "MI"},
                ],
            },
            {"name": "withcoord", "type": "pure-token", "token": "WITHCOORD", "flags": ["optional"]},
            {"name": "withdist", "type": "pure-token", "token": "WITHDIST", "flags": ["optional"]},
            {"name": "withhash", "type": "pure-token", "token": "WITHHASH", "flags": ["optional"]},
            {
                "name": "count",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "count", "type": "integer", "token": "COUNT"},
                    {
                        "name": "any",
                        "type": "pure-token",
                        "token": "ANY",
                        "since": "6.2.0",
                        "flags": ["optional"],
                    },
                ],
            },
            {
                "name": "order",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "asc", "type": "pure-token", "token": "ASC"},
                    {"name": "desc", "type": "pure-token", "token": "DESC"},
                ],
            },
        ],
    },
)
def georadius_ro_command(c, argv):
    georadius_generic(c, argv, 1, RADIUS_COORDS | RADIUS_NOSTORE)


@command(
    "georadiusbymember", -5, "write denyoom movablekeys", acl="geo", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "keyword", "spec": {"keyword": "STORE", "startfrom": 5}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "keyword", "spec": {"keyword": "STOREDIST", "startfrom": 5}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Query a sorted set representing a geospatial index to fetch members matching a given maximum "
            "distance from a member"
        ),
        "since": "3.2.0",
        "group": "geo",
        "complexity": (
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area "
            "delimited by center and radius and M is the number of items inside the index."
        ),
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments",
        "history": [["7.0.0", "Added support for uppercase unit names."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string"},
            {"name": "radius", "type": "double"},
            {
                "name": "unit",
                "type": "oneof",
                "arguments": [
                    {"name": "m", "type": "pure-token", "token": "M"},
                    {"name": "km", "type": "pure-token", "token": "KM"},
                    {"name": "ft", "type": "pure-token", "token": "FT"},
                    {"name": "mi", "type": "pure-token", "token": "MI"},
                ],
            },
            {"name": "withcoord", "type": "pure-token", "token": "WITHCOORD", "flags": ["optional"]},
            {"name": "withdist", "type": "pure-token", "token": "WITHDIST", "flags": ["optional"]},
            {"name": "withhash", "type": "pure-token", "token": "WITHHASH", "flags": ["optional"]},
            {
                "name": "count",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "count", "type": "integer", "token": "COUNT"},
                    {"name": "any", "type": "pure-token", "token": "ANY", "flags": ["optional"]},
                ],
            },
            {
                "name": "order",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "asc", "type": "pure-token", "token": "ASC"},
                    {"name": "desc", "type": "pure-token", "token": "DESC"},
                ],
            },
            {"name": "key", "type": "key", "key_spec_index": 1, "token": "STORE", "flags": ["optional"]},
            {"name": "key", "type": "key", "key_spec_index": 2, "token": "STOREDIST", "flags": ["optional"]},
        ],
    },
)
def georadiusbymember_command(c, argv):
    georadius_generic(c, argv, 1, RADIUS_MEMBER)


@command(
    "georadiusbymember_ro", -5, "readonly", acl="geo", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": "A read-only variant for GEORADIUSBYMEMBER",
        "since": "3.2.10",
        "group": "geo",
        "complexity": (
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area "
            "delimited by center and radius and M is the number of items inside the index."
        ),
        "doc_flags": ["deprecated"],
        "deprecated_since": "6.2.0",
        "replaced_by": "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "member", "type": "string"},
            {"name": "radius", "type": "double"},
            {
                "name": "unit",
                "type": "oneof",
                "arguments": [
                    {"name": "m", "type": "pure-token", "token": "M"},
                    {"name": "km", "type": "pure-token", "token": "KM"},
                    {"name": "ft", "type": "pure-token", "token": "FT"},
                    {"name": "mi", "type": "pure-token", "token": "MI"},
                ],
            },
            {"name": "withcoord", "type": "pure-token", "token": "WITHCOORD", "flags": ["optional"]},
            {"name": "withdist", "type": "pure-token", "token": "WITHDIST", "flags": ["optional"]},
            {"name": "withhash", "type": "pure-token", "token": "WITHHASH", "flags": ["optional"]},
            {
                "name": "count",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "count", "type": "integer", "token": "COUNT"},
                    {"name": "any", "type": "pure-token", "token": "ANY", "flags": ["optional"]},
                ],
            },
            {
                "name": "order",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "asc", "type": "pure-token", "token": "ASC"},
                    {"name": "desc", "type": "pure-token", "token": "DESC"},
                ],
            },
        ],
    },
)
def georadiusbymember_ro_command(c, argv):
    georadius_generic(c, argv, 1, RADIUS_MEMBER | RADIUS_NOSTORE)


@command(
    "geosearch", -7, "readonly", acl="geo", keys=(1, 1, 1),
    key_specs=[
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Query a sorted set representing a geospatial index to fetch members inside an area of a box or "
            "a circle."
        ),
        "since": "6.2.0",
        "group": "geo",
        "complexity": (
            "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the "
            "shape provided as the filter and M is the number of items inside the shape"
        ),
        "history": [["7.0.0", "Added support for uppercase unit names."]],
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "from",
                "type": "oneof",
                "arguments": [
                    {"name": "member", "type": "string", "token": "FROMMEMBER"},
                    {
                        "name": "longitude_latitude",
                        "type": "block",
                        "token": "FROMLONLAT",
                        "arguments": [
                            {"name": "longitude", "type": "double"},
                            {"name": "latitude", "type": "double"},
                        ],
                    },
                ],
            },
            {
                "name": "by",
                "type": "oneof",
                "arguments": [
                    {
                        "name": "circle",
                        "type": "block",
                        "arguments": [
                            {"name": "radius", "type": "double", "token": "BYRADIUS"},
                            {
                                "name": "unit",
                                "type": "oneof",
                                "arguments": [
                                    {"name": "m", "type": "pure-token", "token": "M"},
                                    {"name": "km", "type": "pure-token", "token": "KM"},
                                    {"name": "ft", "type": "pure-token", "token": "FT"},
                                    {"name": "mi", "type": "pure-token", "token": "MI"},
                                ],
                            },
                        ],
                    },
                    {
                        "name": "box",
                        "type": "block",
                        "arguments": [
                            {"name": "width", "type": "double", "token": "BYBOX"},
                            {"name": "height", "type": "double"},
                            {
                                "name": "unit",
                                "type": "oneof",
                                "arguments": [
                                    {"name": "m", "type": "pure-token", "token": "M"},
                                    {"name": "km", "type": "pure-token", "token": "KM"},
                                    {"name": "ft", "type": "pure-token", "token": "FT"},
                                    {"name": "mi", "type": "pure-token", "token": "MI"},
                                ],
                            },
                        ],
                    },
                ],
            },
            {
                "name": "order",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "asc", "type": "pure-token", "token": "ASC"},
                    {"name": "desc", "type": "pure-token", "token": "DESC"},
                ],
            },
            {
                "name": "count",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "count", "type": "integer", "token": "COUNT"},
                    {"name": "any", "type": "pure-token", "token": "ANY", "flags": ["optional"]},
                ],
            },
            {"name": "withcoord", "type": "pure-token", "token": "WITHCOORD", "flags": ["optional"]},
            {"name": "withdist", "type": "pure-token", "token": "WITHDIST", "flags": ["optional"]},
            {"name": "withhash", "type": "pure-token", "token": "WITHHASH", "flags": ["optional"]},
        ],
    },
)
def geosearch_command(c, argv):
    georadius_generic(c, argv, 1, GEOSEARCH)


@command(
    "geosearchstore", -8, "write denyoom", acl="geo", keys=(1, 2, 1),
    key_specs=[
        {
            "flags": ["OW", "update"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
        {
            "flags": ["RO", "access"],
            "begin_search": {"type": "index", "spec": {"index": 2}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        },
    ],
    docs={
        "summary": (
            "Query a sorted set representing a geospatial index to fetch members inside an area of a box or "
            "a circle, and store the result in another key."
        ),
        "since": "6.2.0",
        "group": "geo",
        "complexity": (
            "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the "
            "shape provided as the filter and M is the number of items inside the shape"
        ),
        "history": [["7.0.0", "Added support for uppercase unit names."]],
        "arguments": [
            {"name": "destination", "type": "key", "key_spec_index": 0},
            {"name": "source", "type": "key", "key_spec_index": 1},
            {
                "name": "from",
                "type": "oneof",
                "arguments": [
                    {"name": "member", "type": "string", "token": "FROMMEMBER"},
                    {
                        "name": "longitude_latitude",
                        "type": "block",
                        "token": "FROMLONLAT",
                        "arguments": [
                            {"name": "longitude", "type": "double"},
                            {"name": "latitude", "type": "double"},
                        ],
                    },
                ],
            },
            {
                "name": "by",
                "type": "oneof",
                "arguments": [
                    {
                        "name": "circle",
                        "type": "block",
                        "arguments": [
                            {"name": "radius", "type": "double", "token": "BYRADIUS"},
                            {
                                "name": "unit",
                                "type": "oneof",
                                "arguments": [
                                    {"name": "m", "type": "pure-token", "token": "M"},
                                    {"name": "km", "type": "pure-token", "token": "KM"},
                                    {"name": "ft", "type": "pure-token", "token": "FT"},
                                    {"name": "mi", "type": "pure-token", "token": "MI"},
                                ],
                            },
                        ],
                    },
                    {
                        "name": "box",
                        "type": "block",
                        "arguments": [
                            {"name": "width", "type": "double", "token": "BYBOX"},
                            {"name": "height", "type": "double"},
                            {
                                "name": "unit",
                                "type": "oneof",
                                "arguments": [
                                    {"name": "m", "type": "pure-token", "token": "M"},
                                    {"name": "km", "type": "pure-token", "token": "KM"},
                                    {"name": "ft", "type": "pure-token", "token": "FT"},
                                    {"name": "mi", "type": "pure-token", "token": "MI"},
                                ],
                            },
                        ],
                    },
                ],
            },
            {
                "name": "order",
                "type": "oneof",
                "flags": ["optional"],
                "arguments": [
                    {"name": "asc", "type": "pure-token", "token": "ASC"},
                    {"name": "desc", "type": "pure-token", "token": "DESC"},
                ],
            },
            {
                "name": "count",
                "type": "block",
                "flags": ["optional"],
                "arguments": [
                    {"name": "count", "type": "integer", "token": "COUNT"},
                    {"name": "any", "type": "pure-token", "token": "ANY", "flags": ["optional"]},
                ],
            },
            {"name": "storedist", "type": "pure-token", "token": "STOREDIST", "flags": ["optional"]},
        ],
    },
)
def geosearchstore_command(c, argv):
    georadius_generic(c, argv, 2, GEOSEARCH | GEOSEARCHSTORE)
