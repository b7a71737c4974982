# cython: language_level=3
"""Geo maths of Redis 7.0 (geohash.c, geohash_helper.c, geo.c), value-level only.

A geo set is a sorted set whose score is a 52-bit interleaved geohash of (lon, lat) over the
Redis ranges lon [-180, 180], lat [-85.05112878, 85.05112878].  This module encodes/decodes
those scores, formats replies the way Redis does, and reproduces the area computation of
GEOSEARCH / GEORADIUS so that the same sorted-set score ranges are scanned in the same order
(which makes unsorted and ANY results identical to Redis).
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.math cimport sin, cos, asin, sqrt, fabs, M_PI
from libc.stdio cimport snprintf
from libc.string cimport strchr

from engine.types.zskiplist cimport ZSet

cdef extern from "math.h":
    long long llrint(double x)

GEO_LAT_MIN = -85.05112878
GEO_LAT_MAX = 85.05112878
GEO_LONG_MIN = -180.0
GEO_LONG_MAX = 180.0
GEO_STEP_MAX = 26

cdef double LAT_MIN = -85.05112878
cdef double LAT_MAX = 85.05112878
cdef double LONG_MIN = -180
cdef double LONG_MAX = 180
cdef double D_R = M_PI / 180.0
cdef double EARTH_RADIUS_IN_METERS = 6372797.560856
cdef double MERCATOR_MAX = 20037726.37

ERR_UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"
GEO_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


cdef struct HashBits:
    uint64_t bits
    uint8_t step

cdef struct Range:
    double min
    double max

cdef struct Area:
    Range longitude
    Range latitude


# ---------------------------------------------------------------- bit interleaving

cdef uint64_t interleave64(uint32_t xlo, uint32_t ylo):
    """x (latitude) in the even bits, y (longitude) in the odd bits."""
    cdef uint64_t x = xlo, y = ylo
    cdef uint64_t B[5]
    cdef unsigned int S[5]
    cdef int i
    B[0] = 0x5555555555555555ULL; B[1] = 0x3333333333333333ULL
    B[2] = 0x0F0F0F0F0F0F0F0FULL; B[3] = 0x00FF00FF00FF00FFULL
    B[4] = 0x0000FFFF0000FFFFULL
    S[0] = 1; S[1] = 2; S[2] = 4; S[3] = 8; S[4] = 16
    for i in range(4, -1, -1):
        x = (x | (x << S[i])) & B[i]
        y = (y | (y << S[i])) & B[i]
    return x | (y << 1)


cdef uint64_t deinterleave64(uint64_t interleaved):
    """Inverse of interleave64: latitude bits in the low word, longitude in the high word."""
    cdef uint64_t x = interleaved, y = interleaved >> 1
    cdef uint64_t B[6]
    cdef unsigned int S[6]
    cdef int i
    B[0] = 0x5555555555555555ULL; B[1] = 0x3333333333333333ULL
    B[2] = 0x0F0F0F0F0F0F0F0FULL; B[3] = 0x00FF00FF00FF00FFULL
    B[4] = 0x0000FFFF0000FFFFULL; B[5] = 0x00000000FFFFFFFFULL
    S[0] = 0; S[1] = 1; S[2] = 2; S[3] = 4; S[4] = 8; S[5] = 16
    for i in range(6):
        x = (x | (x >> S[i])) & B[i]
        y = (y | (y >> S[i])) & B[i]
    return x | (y << 32)


# ---------------------------------------------------------------- encode / decode

cdef bint hash_encode(Range lon_range, Range lat_range, double longitude, double latitude,
                      uint8_t step, HashBits *hash):
    """geohashEncode()."""
    cdef double lat_offset, long_offset
    if step > 32 or step == 0:
        return False
    if longitude > LONG_MAX or longitude < LONG_MIN or latitude > LAT_MAX or latitude < LAT_MIN:
        return False
    hash.bits = 0
    hash.step = step
    if (latitude < lat_range.min or latitude > lat_range.max or
            longitude < lon_range.min or longitude > lon_range.max):
        return False
    lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min)
    long_offset = (longitude - lon_range.min) / (lon_range.max - lon_range.min)
    lat_offset *= <double>(1ULL << step)
    long_offset *= <double>(1ULL << step)
    hash.bits = interleave64(<uint32_t>lat_offset, <uint32_t>long_offset)
    return True


cdef inline Range wgs84_lon():
    cdef Range r
    r.min = LONG_MIN
    r.max = LONG_MAX
    return r


cdef inline Range wgs84_lat():
    cdef Range r
    r.min = LAT_MIN
    r.max = LAT_MAX
    return r


cdef Area hash_decode(Range lon_range, Range lat_range, HashBits hash):
    """geohashDecode()."""
    cdef Area area
    cdef uint8_t step = hash.step
    cdef uint64_t hash_sep = deinterleave64(hash.bits)
    cdef double lat_scale = lat_range.max - lat_range.min
    cdef double long_scale = lon_range.max - lon_range.min
    cdef uint32_t ilato = <uint32_t>hash_sep
    cdef uint32_t ilono = <uint32_t>(hash_sep >> 32)
    cdef double div = <double>(1ULL << step)
    area.latitude.min = lat_range.min + (ilato * 1.0 / div) * lat_scale
    area.latitude.max = lat_range.min + ((ilato + 1) * 1.0 / div) * lat_scale
    area.longitude.min = lon_range.min + (ilono * 1.0 / div) * long_scale
    area.longitude.max = lon_range.min + ((ilono + 1) * 1.0 / div) * long_scale
    return area


cdef void area_center(Area *area, double *xy):
    """geohashDecodeAreaToLongLat(): centre of the cell, clamped to the valid range."""
    xy[0] = (area.longitude.min + area.longitude.max) / 2
    if xy[0] > LONG_MAX:
        xy[0] = LONG_MAX
    if xy[0] < LONG_MIN:
        xy[0] = LONG_MIN
    xy[1] = (area.latitude.min + area.latitude.max) / 2
    if xy[1] > LAT_MAX:
        xy[1] = LAT_MAX
    if xy[1] < LAT_MIN:
        xy[1] = LAT_MIN


cdef inline uint64_t align52(HashBits hash):
    return hash.bits << (52 - hash.step * 2)


cdef void decode_score_c(double score, double *xy):
    """decodeGeohash(): a 52-bit score back to the centre (lon, lat) of its cell."""
    cdef HashBits hash
    cdef Area area
    hash.bits = <uint64_t>score
    hash.step = 26
    area = hash_decode(wgs84_lon(), wgs84_lat(), hash)
    area_center(&area, xy)


def validate_lonlat(double longitude, double latitude):
    """extractLongLatOrReply() range check; raises ValueError with Redis's message."""
    cdef char buf[160]
    cdef int n
    if (longitude < LONG_MIN or longitude > LONG_MAX or
            latitude < LAT_MIN or latitude > LAT_MAX):
        n = snprintf(buf, sizeof(buf), "ERR invalid longitude,latitude pair %f,%f",
                     longitude, latitude)
        raise ValueError(buf[:n].decode())


def encode_score(double longitude, double latitude):
    """The sorted-set score GEOADD stores for a valid (lon, lat), as a float."""
    cdef HashBits hash
    validate_lonlat(longitude, latitude)
    hash_encode(wgs84_lon(), wgs84_lat(), longitude, latitude, 26, &hash)
    return <double>align52(hash)


def decode_score(double score):
    """(lon, lat) of a geo score, as GEOPOS reports before formatting."""
    cdef double xy[2]
    decode_score_c(score, xy)
    return xy[0], xy[1]


def geohash_string(double score):
    """GEOHASH's 11-character standard geohash (re-encoded over lat [-90, 90])."""
    cdef double xy[2]
    cdef HashBits hash
    cdef Range lon_r, lat_r
    cdef char buf[11]
    cdef int i, idx
    decode_score_c(score, xy)
    lon_r.min = -180
    lon_r.max = 180
    lat_r.min = -90
    lat_r.max = 90
    hash_encode(lon_r, lat_r, xy[0], xy[1], 26, &hash)
    for i in range(11):
        # Only 52 bits exist; the 11th character is always '0' as in Redis.
        idx = 0 if i == 10 else <int>((hash.bits >> (52 - ((i + 1) * 5))) & 0x1f)
        buf[i] = GEO_ALPHABET[idx]
    return buf[:11]


# ---------------------------------------------------------------- distances

cdef inline double deg_rad(double ang):
    return ang * D_R


cdef inline double rad_deg(double ang):
    return ang / D_R


cdef double lat_distance(double lat1d, double lat2d):
    """geohashGetLatDistance(): distance along a meridian."""
    return EARTH_RADIUS_IN_METERS * fabs(deg_rad(lat2d) - deg_rad(lat1d))


cdef double distance_c(double lon1d, double lat1d, double lon2d, double lat2d):
    """geohashGetDistance(): haversine on Redis's earth radius."""
    cdef double lat1r, lon1r, lat2r, lon2r, u, v, a
    lon1r = deg_rad(lon1d)
    lon2r = deg_rad(lon2d)
    v = sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1d, lat2d)
    lat1r = deg_rad(lat1d)
    lat2r = deg_rad(lat2d)
    u = sin((lat2r - lat1r) / 2)
    a = u * u + cos(lat1r) * cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * asin(sqrt(a))


def distance(double lon1, double lat1, double lon2, double lat2):
    """Distance in meters between two points (GEODIST before unit conversion)."""
    return distance_c(lon1, lat1, lon2, lat2)


def unit_to_meters(bytes unit):
    """extractUnitOrReply(): meters per unit, case-insensitive; raises ValueError."""
    u = unit.lower()
    if u == b"m":
        return 1.0
    if u == b"km":
        return 1000.0
    if u == b"ft":
        return 0.3048
    if u == b"mi":
        return 1609.34
    raise ValueError(ERR_UNIT)


def format_distance(double d):
    """addReplyDoubleDistance(): fixedpoint_d2string(d, 4), i.e. llrint(d*1e4) printed
    with four decimals."""
    cdef long long svalue
    cdef unsigned long long value
    cdef bint negative
    if d == 0:
        return b"0.0000"
    svalue = llrint(d * 10000.0)
    negative = svalue < 0
    value = <unsigned long long>(-svalue if negative else svalue)
    text = b"%d.%04d" % (value // 10000, value % 10000)
    return b"-" + text if negative else text


def format_coordinate(double d):
    """addReplyHumanLongDouble() in RESP2: "%.17Lf" with trailing zeros trimmed."""
    cdef char buf[5120]
    cdef long double ld = d
    cdef int l = snprintf(buf, sizeof(buf), "%.17Lf", ld)
    cdef char *p
    if strchr(buf, b'.') != NULL:
        p = buf + l - 1
        while p[0] == b'0':
            p -= 1
            l -= 1
        if p[0] == b'.':
            l -= 1
    if l == 2 and buf[0] == b'-' and buf[1] == b'0':
        buf[0] = b'0'
        l = 1
    return buf[:l]


# ---------------------------------------------------------------- neighbours

cdef void move_x(HashBits *hash, int d):
    cdef uint64_t x, y, zz
    if d == 0:
        return
    x = hash.bits & 0xaaaaaaaaaaaaaaaaULL
    y = hash.bits & 0x5555555555555555ULL
    zz = 0x5555555555555555ULL >> (64 - hash.step * 2)
    if d > 0:
        x = x + (zz + 1)
    else:
        x = x | zz
        x = x - (zz + 1)
    x &= (0xaaaaaaaaaaaaaaaaULL >> (64 - hash.step * 2))
    hash.bits = x | y


cdef void move_y(HashBits *hash, int d):
    cdef uint64_t x, y, zz
    if d == 0:
        return
    x = hash.bits & 0xaaaaaaaaaaaaaaaaULL
    y = hash.bits & 0x5555555555555555ULL
    zz = 0xaaaaaaaaaaaaaaaaULL >> (64 - hash.step * 2)
    if d > 0:
        y = y + (zz + 1)
    else:
        y = y | zz
        y = y - (zz + 1)
    y &= (0x5555555555555555ULL >> (64 - hash.step * 2))
    hash.bits = x | y


cdef HashBits moved(HashBits hash, int dx, int dy):
    move_x(&hash, dx)
    move_y(&hash, dy)
    return hash


cdef int estimate_steps(double range_meters, double lat):
    """geohashEstimateStepsByRadius()."""
    cdef int step = 1
    if range_meters == 0:
        return 26
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    if step < 1:
        step = 1
    if step > 26:
        step = 26
    return step


cdef class GeoShape:
    """A search area: circle (radius) or box (width, height), in user units + conversion."""
    cdef readonly double longitude, latitude, conversion, radius, width, height
    cdef readonly bint is_box
    cdef double bounds[4]

    def __init__(self, double longitude, double latitude, double conversion, *,
                 radius=None, width=None, height=None):
        self.longitude = longitude
        self.latitude = latitude
        self.conversion = conversion
        self.is_box = radius is None
        if self.is_box:
            if width is None or height is None:
                raise TypeError("a GeoShape needs radius, or width and height")
            self.width = width
            self.height = height
        else:
            self.radius = radius
        self._bounding_box()

    cdef void _bounding_box(self):
        """geohashBoundingBox(): [min_lon, min_lat, max_lon, max_lat] of the search area."""
        cdef double height = self.conversion * (self.height / 2 if self.is_box else self.radius)
        cdef double width = self.conversion * (self.width / 2 if self.is_box else self.radius)
        cdef double lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS)
        cdef double long_delta_top = rad_deg(
            width / EARTH_RADIUS_IN_METERS / cos(deg_rad(self.latitude + lat_delta)))
        cdef double long_delta_bottom = rad_deg(
            width / EARTH_RADIUS_IN_METERS / cos(deg_rad(self.latitude - lat_delta)))
        cdef bint southern = self.latitude < 0
        self.bounds[0] = (self.longitude - long_delta_bottom if southern
                          else self.longitude - long_delta_top)
        self.bounds[2] = (self.longitude + long_delta_bottom if southern
                          else self.longitude + long_delta_top)
        self.bounds[1] = self.latitude - lat_delta
        self.bounds[3] = self.latitude + lat_delta

    @property
    def bounding_box(self):
        return tuple(self.bounds[i] for i in range(4))

    cdef bint _contains(self, double lon, double lat, double *dist):
        """geoWithinShape() after decoding: circle or box test, distance in meters."""
        cdef double w, h
        if not self.is_box:
            dist[0] = distance_c(self.longitude, self.latitude, lon, lat)
            return dist[0] <= self.radius * self.conversion
        # geohashGetDistanceIfInRectangle(): latitude first since it is cheaper.
        w = self.width * self.conversion
        h = self.height * self.conversion
        if lat_distance(lat, self.latitude) > h / 2:
            return False
        if distance_c(lon, lat, self.longitude, lat) > w / 2:
            return False
        dist[0] = distance_c(self.longitude, self.latitude, lon, lat)
        return True

    def contains_score(self, double score):
        """(distance_m, lon, lat) when the point of this score is inside, else None."""
        cdef double xy[2]
        cdef double dist = 0
        decode_score_c(score, xy)
        if self._contains(xy[0], xy[1], &dist):
            return dist, xy[0], xy[1]
        return None

    def search_ranges(self):
        """geohashCalculateAreasByShapeWGS84() + membersOfAllNeighbors(): the score ranges
        [min, max) to scan, in Redis's order (centre, N, S, E, W, NE, NW, SE, SW), skipping
        empty cells and a cell equal to the previously scanned one."""
        cdef double min_lon = self.bounds[0], min_lat = self.bounds[1]
        cdef double max_lon = self.bounds[2], max_lat = self.bounds[3]
        cdef double radius_m
        cdef int steps, i, last_processed = 0
        cdef HashBits hash, cell
        cdef HashBits cells[9]
        cdef Area area, north, south, east, west
        cdef Range lon_r = wgs84_lon(), lat_r = wgs84_lat()
        cdef bint decrease_step = False
        cdef list out = []
        if self.is_box:
            radius_m = sqrt((self.width / 2) * (self.width / 2) +
                            (self.height / 2) * (self.height / 2))
        else:
            radius_m = self.radius
        radius_m *= self.conversion

        steps = estimate_steps(radius_m, self.latitude)
        hash_encode(lon_r, lat_r, self.longitude, self.latitude, steps, &hash)
        area = hash_decode(lon_r, lat_r, hash)

        # Decrease the step when a neighbour cell does not reach past the bounding box.
        north = hash_decode(lon_r, lat_r, moved(hash, 0, 1))
        south = hash_decode(lon_r, lat_r, moved(hash, 0, -1))
        east = hash_decode(lon_r, lat_r, moved(hash, 1, 0))
        west = hash_decode(lon_r, lat_r, moved(hash, -1, 0))
        if north.latitude.max < max_lat:
            decrease_step = True
        if south.latitude.min > min_lat:
            decrease_step = True
        if east.longitude.max < max_lon:
            decrease_step = True
        if west.longitude.min > min_lon:
            decrease_step = True
        if steps > 1 and decrease_step:
            steps -= 1
            hash_encode(lon_r, lat_r, self.longitude, self.latitude, steps, &hash)
            area = hash_decode(lon_r, lat_r, hash)

        cells[0] = hash
        cells[1] = moved(hash, 0, 1)     # north
        cells[2] = moved(hash, 0, -1)    # south
        cells[3] = moved(hash, 1, 0)     # east
        cells[4] = moved(hash, -1, 0)    # west
        cells[5] = moved(hash, 1, 1)     # north east
        cells[6] = moved(hash, -1, 1)    # north west
        cells[7] = moved(hash, 1, -1)    # south east
        cells[8] = moved(hash, -1, -1)   # south west

        # Exclude the useless cells (GZERO in Redis).
        if steps >= 2:
            if area.latitude.min < min_lat:
                cells[2].bits = cells[7].bits = cells[8].bits = 0
                cells[2].step = cells[7].step = cells[8].step = 0
            if area.latitude.max > max_lat:
                cells[1].bits = cells[5].bits = cells[6].bits = 0
                cells[1].step = cells[5].step = cells[6].step = 0
            if area.longitude.min < min_lon:
                cells[4].bits = cells[8].bits = cells[6].bits = 0
                cells[4].step = cells[8].step = cells[6].step = 0
            if area.longitude.max > max_lon:
                cells[3].bits = cells[7].bits = cells[5].bits = 0
                cells[3].step = cells[7].step = cells[5].step = 0

        for i in range(9):
            cell = cells[i]
            if cell.bits == 0 and cell.step == 0:
                continue
            if (last_processed and cell.bits == cells[last_processed].bits and
                    cell.step == cells[last_processed].step):
                continue
            lo = <double>align52(cell)
            cell.bits += 1
            out.append((lo, <double>align52(cell)))
            last_processed = i
        return out


def search(ZSet zset, GeoShape shape, unsigned long limit=0):
    """Members of a geo sorted set inside the shape, in Redis's scan order (before any
    ASC/DESC sort).  limit > 0 is the COUNT of COUNT ... ANY: stop once that many matched.
    Returns a list of (member, score, distance_m, lon, lat); divide distance_m by
    shape.conversion for replies."""
    cdef list found = []
    cdef double dist = 0
    cdef double xy[2]
    for lo, hi in shape.search_ranges():
        if limit and len(found) >= limit:
            break
        for member, score in zset.range_by_score(lo, hi, False, True):
            decode_score_c(score, xy)
            if shape._contains(xy[0], xy[1], &dist):
                found.append((member, score, dist, xy[0], xy[1]))
                if limit and len(found) >= limit:
                    break
    return found
