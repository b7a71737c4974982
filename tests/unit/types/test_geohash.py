"""Geo maths (engine/types/geohash.pyx) compared with redis-server 7.0 GEO commands."""
import random

import pytest

from engine.types import geohash as geo
from engine.types.zskiplist import ZSet

CITIES = [
    (13.361389, 38.115556, b"Palermo"), (15.087269, 37.502669, b"Catania"),
    (2.3522, 48.8566, b"Paris"), (-0.1276, 51.5072, b"London"), (-122.4194, 37.7749, b"SF"),
    (151.2093, -33.8688, b"Sydney"), (139.6917, 35.6895, b"Tokyo"), (-58.3816, -34.6037, b"BA"),
    (179.9999, 0.0, b"east-edge"), (-179.9999, 0.5, b"west-edge"), (0, 0, b"null-island"),
    (-180, -85.05112878, b"sw-corner"), (180, 85.05112878, b"ne-corner"),
    (25.0, 84.9, b"north"), (-40.0, -84.0, b"south"),
]


@pytest.fixture
def geo_pair(redis_raw):
    """The same points in redis-server key 'geo' and in a local ZSet."""
    rnd = random.Random(7)
    points = list(CITIES)
    points += [(rnd.uniform(-180, 180), rnd.uniform(-85.05, 85.05), b"p%d" % i) for i in range(250)]
    points += [(rnd.uniform(10, 12), rnd.uniform(44, 46), b"q%d" % i) for i in range(250)]
    zset = ZSet()
    args = []
    for lon, lat, member in points:
        args += [repr(lon), repr(lat), member]
        zset.add(member, geo.encode_score(lon, lat))
    assert redis_raw("GEOADD", "geo", *args) == len(points)
    return redis_raw, zset, points


def test_scores_positions_and_hashes(geo_pair):
    redis_raw, zset, points = geo_pair
    for lon, lat, member in points:
        score = zset.score(member)
        assert float(redis_raw("ZSCORE", "geo", member)) == score
        lon2, lat2 = geo.decode_score(score)
        assert redis_raw("GEOPOS", "geo", member) == [
            [geo.format_coordinate(lon2), geo.format_coordinate(lat2)]]
        assert redis_raw("GEOHASH", "geo", member) == [geo.geohash_string(score)]
        assert abs(lon2 - lon) < 1e-5 and abs(lat2 - lat) < 1e-5


def test_known_values():
    score = geo.encode_score(13.361389, 38.115556)
    assert score == 3479099956230698.0
    assert geo.geohash_string(score) == b"sqc8b49rny0"
    lon, lat = geo.decode_score(score)
    assert geo.format_coordinate(lon) == b"13.36138933897018433"
    assert geo.format_coordinate(lat) == b"38.11555639549629859"
    catania = geo.decode_score(geo.encode_score(15.087269, 37.502669))
    assert geo.format_distance(geo.distance(lon, lat, *catania) / 1000) == b"166.2742"
    assert geo.format_distance(0.0) == b"0.0000"
    assert geo.format_coordinate(-0.0) == b"0"


def test_units_and_validation():
    assert [geo.unit_to_meters(u) for u in (b"m", b"KM", b"ft", b"Mi")] == [1, 1000, 0.3048, 1609.34]
    with pytest.raises(ValueError, match="^ERR unsupported unit provided. please use M, KM, FT, MI$"):
        geo.unit_to_meters(b"parsec")
    with pytest.raises(ValueError, match=r"^ERR invalid longitude,latitude pair 200.000000,100.000000$"):
        geo.encode_score(200, 100)
    with pytest.raises(ValueError):
        geo.validate_lonlat(0, 85.06)
    geo.validate_lonlat(-180, -85.05112878)


def test_geodist_matches(geo_pair):
    redis_raw, zset, points = geo_pair
    rnd = random.Random(3)
    members = [m for _, _, m in points]
    for _ in range(200):
        a, b = rnd.sample(members, 2)
        unit = rnd.choice([b"m", b"km", b"ft", b"mi"])
        pa, pb = geo.decode_score(zset.score(a)), geo.decode_score(zset.score(b))
        mine = geo.format_distance(geo.distance(*pa, *pb) / geo.unit_to_meters(unit))
        assert redis_raw("GEODIST", "geo", a, b, unit) == mine


def local_reply(zset, shape, limit=0):
    return [[member, geo.format_distance(dist / shape.conversion), int(score),
             [geo.format_coordinate(lon), geo.format_coordinate(lat)]]
            for member, score, dist, lon, lat in geo.search(zset, shape, limit)]


def random_query(rnd):
    if rnd.random() < 0.5:
        lon, lat = rnd.uniform(9, 13), rnd.uniform(43, 47)
    else:
        lon, lat = rnd.uniform(-180, 180), rnd.uniform(-85, 85)
    if rnd.random() < 0.1:
        lon, lat = rnd.choice([(179.99, 0.0), (-179.99, 10.0), (0.0, 84.9), (10.0, -84.9)])
    unit = rnd.choice([b"m", b"km", b"ft", b"mi"])
    conv = geo.unit_to_meters(unit)
    if rnd.random() < 0.5:
        radius = float(repr(rnd.choice([0, rnd.uniform(0, 300), rnd.uniform(0, 3000),
                                        rnd.uniform(0, 25000)]) * 1000 / conv))
        return (lon, lat, ["BYRADIUS", repr(radius), unit],
                geo.GeoShape(lon, lat, conv, radius=radius))
    width, height = (float(repr(rnd.choice([rnd.uniform(0, 300), rnd.uniform(0, 6000)]) * 1000 / conv))
                     for _ in range(2))
    return (lon, lat, ["BYBOX", repr(width), repr(height), unit],
            geo.GeoShape(lon, lat, conv, width=width, height=height))


def test_geosearch_matches_in_scan_order(geo_pair):
    """Unsorted GEOSEARCH replies depend on the scanned cells and their order, so equality
    here checks the area computation, the shape tests, and all reply formatting."""
    redis_raw, zset, _ = geo_pair
    rnd = random.Random(11)
    total = 0
    for _ in range(250):
        lon, lat, args, shape = random_query(rnd)
        got = redis_raw("GEOSEARCH", "geo", "FROMLONLAT", repr(lon), repr(lat), *args,
                        "WITHDIST", "WITHHASH", "WITHCOORD")
        assert got == local_reply(zset, shape), (lon, lat, args)
        total += len(got)
    assert total > 1000


def test_geosearch_count_any_and_sorting(geo_pair):
    redis_raw, zset, _ = geo_pair
    rnd = random.Random(12)
    for _ in range(60):
        lon, lat, args, shape = random_query(rnd)
        count = rnd.randint(1, 8)
        got = redis_raw("GEOSEARCH", "geo", "FROMLONLAT", repr(lon), repr(lat), *args,
                        "COUNT", count, "ANY", "WITHDIST")
        mine = [row[:2] for row in local_reply(zset, shape, count)]
        assert got == mine[:count]
        asc = redis_raw("GEOSEARCH", "geo", "FROMLONLAT", repr(lon), repr(lat), *args, "ASC")
        found = geo.search(zset, shape)
        assert asc == [m for m, _, _, _, _ in sorted(found, key=lambda row: row[2])]


def test_search_from_member_and_ranges(geo_pair):
    redis_raw, zset, _ = geo_pair
    lon, lat = geo.decode_score(zset.score(b"Palermo"))
    shape = geo.GeoShape(lon, lat, 1000.0, radius=200.0)
    got = redis_raw("GEOSEARCH", "geo", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km", "WITHDIST")
    assert got == [row[:2] for row in local_reply(zset, shape)]
    assert [m for m, *_ in geo.search(zset, shape)] and all(
        lo < hi for lo, hi in shape.search_ranges())
    with pytest.raises(TypeError):
        geo.GeoShape(0, 0, 1.0)
