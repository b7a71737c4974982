"""SCAN's guarantee, checked against a running server with hypothesis: a key present for the whole iteration
is returned at least once, whatever other keys are added and deleted between the SCAN calls (and whatever
COUNT and MATCH are)."""
import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

from tests.support.diff import parse
from tests.support.servers import RawConnection

STABLE = 150
CHURN_OPS = st.lists(st.tuples(st.sampled_from(["add", "del", "del_stable_copy", "rename"]), st.integers(0, 300),
                               st.integers(1, 40)), max_size=40)


@pytest.fixture(scope="module")
def conn(cachemere):
    c = RawConnection(cachemere.port)
    c.command("SELECT", "7")
    yield c
    c.command("FLUSHDB")
    c.close()


def run_scan(conn, ops, count, match):
    """Scan db 7 while applying one churn operation after each call; returns the keys seen."""
    seen, cursor, step = set(), b"0", 0
    for _ in range(100_000):
        opts = ["COUNT", str(count)] + (["MATCH", match] if match else [])
        cursor, keys = parse(conn.command("SCAN", cursor, *opts))
        seen.update(keys)
        if step < len(ops):
            kind, n, burst = ops[step]
            step += 1
            for j in range(burst):
                churn = f"churn:{(n + j) % 300}"
                if kind == "add":
                    conn.command("SET", churn, "1")
                elif kind == "del":
                    conn.command("DEL", churn)
                elif kind == "del_stable_copy":
                    # deleting keys that sit among the stable ones moves other keys around the index
                    conn.command("DEL", f"copy:{(n + j) % STABLE}")
                else:
                    conn.command("RENAME", churn, f"churn:{(n + j + 1) % 300}")
        if cursor == b"0":
            return seen
    raise AssertionError("SCAN did not terminate")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CHURN_OPS, st.integers(1, 30), st.sampled_from([None, "stable:*", "*1*"]),
       st.lists(st.integers(0, 300), max_size=100))
def test_keys_present_throughout_are_returned(conn, ops, count, match, initial_churn):
    conn.command("FLUSHDB")
    stable = [f"stable:{i}" for i in range(STABLE)]
    # interleave stable keys with keys that will be deleted, so deletions move entries across the cursor
    for i, key in enumerate(stable):
        conn.command("SET", key, "1")
        conn.command("SET", f"copy:{i}", "1")
    for n in initial_churn:
        conn.command("SET", f"churn:{n}", "1")
    seen = run_scan(conn, ops, count, match)
    wanted = {k.encode() for k in stable if match is None or match == "stable:*" or "1" in k}
    assert wanted <= seen
    assert all(not k.startswith(b"stable:") or k in {s.encode() for s in stable} for k in seen)


def test_scan_on_a_quiet_keyspace_returns_each_key_once(conn):
    conn.command("FLUSHDB")
    for i in range(500):
        conn.command("SET", f"q:{i}", "1")
    seen, cursor = [], b"0"
    while True:
        cursor, keys = parse(conn.command("SCAN", cursor, "COUNT", "17"))
        seen += keys
        if cursor == b"0":
            break
    assert sorted(seen) == sorted(f"q:{i}".encode() for i in range(500))
