"""Geo commands: Cachemere's replies equal redis-server 7.0.15's byte for byte, in RESP2 and RESP3."""
import pytest

from tests.differential.script_compare import ServerPair, assert_same

SCRIPTS = {
    "geo": """
    geoadd g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
    geoadd g xx ch 13.361389 38.115556 Palermo 1 1 new
    geoadd g nx xx 1 1 a
    geoadd g 1 1
    geoadd g 200 1 a
    geoadd g 1 86 a
    geoadd g x 1 a
    geoadd g gt 1 1 a
    geoadd g ch nx ch
    geodist g Palermo Catania
    geodist g Palermo Catania km
    geodist g Palermo Catania mi
    geodist g Palermo Catania ft
    geodist g Palermo Catania xx
    geodist g Palermo Catania km x
    geodist g Palermo nope
    geodist nokey a b
    geohash g Palermo Catania nope
    geohash nokey a
    geopos g Palermo nope Catania
    geopos nokey a
    georadius g 15 37 200 km
    georadius g 15 37 200 km withdist withcoord withhash asc
    georadius g 15 37 200 km withdist desc
    georadius g 15 37 200 km count 1
    georadius g 15 37 200 km count 1 desc withdist
    georadius g 15 37 200 km count 0
    georadius g 15 37 200 km count x
    georadius g 15 37 200 km any
    georadius g 15 37 200 km count 1 any
    georadius g 15 37 x km
    georadius g 15 37 -1 km
    georadius g 15 37 1 parsec
    georadius g 15 37 200 km store dst
    zrange dst 0 -1 withscores
    georadius g 15 37 200 km storedist dst2
    zrange dst2 0 -1 withscores
    georadius g 15 37 200 km store dst withdist
    georadius_ro g 15 37 200 km store dst
    georadius nokey 15 37 200 km store dst
    get dst
    georadius nokey 15 37 200 km
    georadiusbymember g Palermo 200 km withdist
    georadiusbymember g nope 200 km withdist
    georadiusbymember nokey nope 200 km withdist
    georadiusbymember_ro g Palermo 500 km withcoord count 5
    geosearch g frommember Palermo byradius 200 km
    geosearch g fromlonlat 15 37 bybox 400 400 km withdist asc
    geosearch g fromlonlat 15 37 bybox 400 400 km withdist desc count 1
    geosearch g fromlonlat 15 37 byradius 200 km bybox 1 1 km
    geosearch g fromlonlat 15 37 frommember Palermo byradius 1 km
    geosearch g byradius 200 km
    geosearch g frommember Palermo
    GEOSEARCH g frommember Palermo
    geosearch g fromlonlat 15 37 bybox -1 1 km
    geosearch g fromlonlat 15 37 bybox x 1 km
    geosearch g fromlonlat 15 37 bybox 1 y km
    geosearch g fromlonlat 15 37 byradius 200 km store x
    geosearch g frommember nope byradius 200 km
    geosearch nokey frommember nope byradius 200 km
    geosearchstore dst g frommember Palermo byradius 200 km storedist
    zrange dst 0 -1 withscores
    geosearchstore dst g frommember Palermo byradius 200 km withdist
    geosearchstore dst g frommember Palermo byradius 1 m
    get dst
    geosearchstore dst nokey frommember Palermo byradius 1 m
    set str x
    geoadd str 1 1 a
    geopos str a
    geohash str a
    geodist str a b
    georadius str 1 1 1 km
    geosearch str frommember a byradius 1 km
""",
}


@pytest.fixture(scope="module")
def pair():
    servers = ServerPair()
    yield servers
    servers.stop()


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script(pair, name, resp):
    assert_same(pair, SCRIPTS[name], resp)


def random_points(seed, n, lon_range, lat_range):
    import random
    rng = random.Random(seed)
    return [("%.6f" % rng.uniform(*lon_range), "%.6f" % rng.uniform(*lat_range), "p%d" % i) for i in range(n)]


@pytest.mark.parametrize("where", [((12.0, 14.0), (41.0, 43.0)), ((-179.9, 179.9), (-85.0, 85.0)),
                                   ((170.0, 179.99), (75.0, 85.0))], ids=["rome", "world", "pole_dateline"])
def test_search_orders_and_any(pair, where):
    """Unsorted and ANY results depend on the cells Redis scans and their order: they must match too."""
    points = random_points(7, 300, *where)
    lon = (where[0][0] + where[0][1]) / 2
    lat = (where[1][0] + where[1][1]) / 2
    lines = ["geoadd pts " + " ".join(" ".join(p) for p in points)]
    for radius in ("1", "50", "300", "5000"):
        lines += [
            "georadius pts %s %s %s km" % (lon, lat, radius),
            "georadius pts %s %s %s km count 5 any withdist" % (lon, lat, radius),
            "georadius pts %s %s %s km withdist withhash withcoord count 7 desc" % (lon, lat, radius),
            "geosearch pts fromlonlat %s %s bybox %s %s km" % (lon, lat, radius, radius),
            "geosearch pts frommember p3 bybox %s 20 mi asc withdist" % radius,
            "geosearch pts frommember p5 byradius %s ft count 3 any" % radius,
            "geosearchstore dst%s pts fromlonlat %s %s byradius %s km storedist" % (radius, lon, lat, radius),
            "zrange dst%s 0 -1 withscores" % radius,
            "georadiusbymember pts p9 %s km store st%s" % (radius, radius),
            "zrange st%s 0 -1 withscores" % radius,
        ]
    lines += ["geopos pts p0 p1 p2", "geohash pts p0 p1 p2", "geodist pts p0 p1 km"]
    assert_same(pair, "\n".join(lines))
    assert_same(pair, "\n".join(lines), resp=3)
