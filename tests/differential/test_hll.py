"""HyperLogLog commands: replies and the stored HYLL bytes equal redis-server 7.0.15's."""
import pytest

from tests.differential.script_compare import ServerPair, assert_same

SCRIPTS = {
    "hll": """
    pfadd h1 a b c d e
    pfadd h1 a
    pfadd h1
    pfadd h2
    pfcount h1
    pfcount h1 h2 nokey
    pfcount nokey
    get h1
    get h2
    pfmerge h3 h1 h2
    get h3
    pfcount h3
    set str foo
    pfadd str a
    pfcount str
    pfcount h1 str
    pfmerge h4 str
    zadd zz 1 a
    pfadd zz a
    pfcount zz
    pfcount h1 zz
    pfmerge zz h1
    pfdebug encoding h1
    pfdebug decode h1
    pfdebug foo h1
    pfdebug encoding nokey
    pfdebug encoding str
    pfdebug todense h1
    pfdebug encoding h1
    pfdebug decode h1
    pfdebug todense h1
    get h1
    pfadd h1 x y z
    pfcount h1
    get h1
    pfmerge h5 h1 h3
    get h5
    pfdebug getreg h3
    get h3
    pfselftest
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
