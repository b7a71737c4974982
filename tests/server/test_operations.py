"""Operating the daemon: /metrics in Prometheus format, the dashboard's JSON API, bad HTTP input kept away
from the RESP port, systemd readiness over NOTIFY_SOCKET, and logfile rotation without SIGHUP."""
import json
import os
import socket
import time
import urllib.error
import urllib.request

import pytest
import redis
from pymemcache.client.base import Client as MemcacheClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import free_port, start_cachemere, wait_for


@pytest.fixture(scope="module")
def ops_server():
    port = free_port()
    srv = start_cachemere("--metrics-port", port, memcached=True)
    srv.metrics_port = port
    wait_for(lambda: _http_ok(port), timeout=10)
    yield srv
    srv.stop()


def _http_ok(port):
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read()
        return True
    except OSError:
        return False


def get(srv, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (srv.metrics_port, path), timeout=5) as response:
        return response.status, response.headers, response.read()


def scrape(srv):
    status, headers, body = get(srv, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    families = {}
    for family in text_string_to_metric_families(body.decode()):
        families[family.name] = family
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return families, samples


def test_metrics_follow_the_data_and_the_commands(ops_server):
    r = redis.Redis(port=ops_server.port)
    r.flushall()
    r.config_resetstat()
    for i in range(25):
        r.set("metric:%d" % i, i)
    r.select(3)
    r.set("other", 1, ex=100)
    for i in range(7):
        r.get("metric:missing")
    families, samples = scrape(ops_server)
    assert samples[("redis_up", ())] == 1
    assert samples[("redis_db_keys", (("db", "db0"),))] == 25
    assert samples[("redis_db_keys", (("db", "db3"),))] == 1
    assert samples[("redis_db_keys_expiring", (("db", "db3"),))] == 1
    assert samples[("redis_commands_total", (("cmd", "set"),))] == 26
    assert samples[("redis_commands_total", (("cmd", "get"),))] == 7
    assert samples[("redis_keyspace_misses_total", ())] >= 7
    assert families["redis_commands"].type == "counter"   # the parser strips _total from counter names
    # INFO latencystats as redis_exporter turns it into a summary
    lat = families["redis_latency_percentiles_usec"]
    assert lat.type == "summary"
    quantiles = {s.labels["quantile"] for s in lat.samples if s.labels.get("cmd") == "set" and "quantile" in s.labels}
    assert quantiles == {"50", "99", "99.9"}
    assert samples[("redis_latency_percentiles_usec_count", (("cmd", "set"),))] == 26
    info = r.info("memory")
    assert samples[("redis_memory_used_bytes", ())] == pytest.approx(info["used_memory"], rel=0.2)
    # the per-family latency histogram: cumulative buckets, +Inf equals the count, count equals the calls
    hist = families["cachemere_command_duration_seconds"]
    assert hist.type == "histogram"
    buckets = [(float(s.labels["le"]), s.value) for s in hist.samples
               if s.name.endswith("_bucket") and s.labels["family"] == "string"]
    assert [b for b, _ in buckets] == sorted(b for b, _ in buckets)
    assert all(a <= b for (_, a), (_, b) in zip(buckets, buckets[1:]))
    count = samples[("cachemere_command_duration_seconds_count", (("family", "string"),))]
    assert buckets[-1] == (float("inf"), count)
    assert count == 33                                       # 26 SET + 7 GET
    r.close()


def test_memcached_metrics(ops_server):
    mc = MemcacheClient(("127.0.0.1", ops_server.mc_port), timeout=5)
    redis.Redis(port=ops_server.port).flushall()
    mc.set("mk", "v")
    mc.get("mk")
    mc.get("absent")
    _, samples = scrape(ops_server)
    stats = {k.decode(): v for k, v in mc.stats().items()}
    assert samples[("memcached_up", ())] == 1
    assert samples[("memcached_current_items", ())] == stats["curr_items"] == 1
    assert samples[("memcached_commands_total", (("command", "get"), ("status", "hit")))] == stats["get_hits"]
    assert samples[("memcached_commands_total", (("command", "get"), ("status", "miss")))] == stats["get_misses"]
    mc.close()


def test_dashboard_api(ops_server):
    r = redis.Redis(port=ops_server.port, client_name="api-test")
    r.flushall()
    r.set("s", 1)
    r.rpush("l", 1, 2)
    r.hset("h", "f", "v")
    r.config_set("slowlog-log-slower-than", 0)
    r.ping()
    r.config_set("slowlog-log-slower-than", 10000)
    _, _, body = get(ops_server, "/api/overview")
    overview = json.loads(body)
    assert overview["keys"] == 3 and overview["types"] == {"string": 1, "list": 1, "hash": 1}
    assert overview["version"] == "7.0.15" and overview["role"] == "master"
    clients = json.loads(get(ops_server, "/api/clients")[2])["clients"]
    assert "api-test" in [c["name"] for c in clients]
    slow = json.loads(get(ops_server, "/api/slowlog")[2])["entries"]
    assert any(e["argv"][:1] == ["PING"] for e in slow)
    families = {f["family"]: f for f in json.loads(get(ops_server, "/api/latency")[2])["families"]}
    assert families["string"]["calls"] >= 1 and families["string"]["p99_usec_max"] >= 1
    repl = json.loads(get(ops_server, "/api/replication")[2])
    assert repl["fields"]["role"] == "master" and repl["replicas"] == []
    assert json.loads(get(ops_server, "/api/services")[2]) == {"services": []}
    status, headers, page = get(ops_server, "/")
    assert status == 200 and b"<title>Cachemere dashboard</title>" in page
    assert get(ops_server, "/static/app.js")[0] == 200
    r.close()


def raw_http(port, data, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
        return b"".join(chunks)


def test_bad_http_input_is_refused_and_the_resp_port_is_untouched(ops_server):
    port = ops_server.metrics_port
    assert raw_http(port, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 404")
    assert raw_http(port, b"POST /metrics HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 405")
    huge = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"
    assert raw_http(port, huge).startswith(b"HTTP/1.1 431")
    assert raw_http(port, b"garbage without structure\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw_http(port, b"GET / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n").startswith(b"HTTP/1.1 413")
    assert raw_http(port, b"GET /static/../server.py HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 404")
    # a slowloris holding half a request: the RESP port and other HTTP clients keep being served
    slow = socket.create_connection(("127.0.0.1", port), timeout=5)
    slow.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
    r = redis.Redis(port=ops_server.port, socket_timeout=5)
    assert r.ping()
    assert get(ops_server, "/api/overview")[0] == 200
    slow.close()
    # keep-alive: two requests on one connection, both answered
    reply = raw_http(port, b"GET /api/slowlog HTTP/1.1\r\n\r\nGET /api/slowlog HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert reply.count(b"HTTP/1.1 200 OK") == 2
    r.close()


def test_metrics_port_is_off_by_default(cachemere):
    assert redis.Redis(port=cachemere.port).config_get("metrics-port") == {"metrics-port": "0"}


def test_systemd_readiness_and_stopping(tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    srv = start_cachemere("--supervised", "systemd")
    try:
        message = listener.recv(4096).decode()
        assert "READY=1" in message and "STATUS=Ready to accept connections" in message
        assert redis.Redis(port=srv.port).info("server")["process_supervised"] == "systemd"
    finally:
        srv.stop()
        listener.settimeout(5)
        assert "STOPPING=1" in listener.recv(4096).decode()
        listener.close()
    assert "Supervised by systemd" in srv.log()


def test_logfile_rotation_without_sighup(tmp_path):
    logfile = tmp_path / "cachemere.log"
    srv = start_cachemere("--logfile", logfile)
    try:
        r = redis.Redis(port=srv.port)
        wait_for(lambda: logfile.exists() and b"Ready to accept" in logfile.read_bytes(), timeout=10)
        os.rename(logfile, tmp_path / "cachemere.log.1")          # what logrotate does
        time.sleep(1.1)                                             # the path is checked once a second
        r.save()                                                    # SAVE logs "DB saved on disk"
        wait_for(lambda: logfile.exists() and b"DB saved on disk" in logfile.read_bytes(), timeout=10)
        assert b"DB saved on disk" not in (tmp_path / "cachemere.log.1").read_bytes()
    finally:
        srv.stop()


# ---------------------------------------------------------------- the port behind the ACL (HTTP Basic)
def _request(port, path, user=None, password=None, raw_auth=None):
    import base64
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {}
    if raw_auth is not None:
        headers["Authorization"] = raw_auth
    elif user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _status_or_none(port, path):
    try:
        return _request(port, path)[0]
    except OSError:
        return None


@pytest.fixture(scope="module")
def acl_server():
    port = free_port()
    srv = start_cachemere("--metrics-port", port, "--requirepass", "adminpw")
    srv.metrics_port = port
    wait_for(lambda: _status_or_none(port, "/metrics") == 401, timeout=10)
    r = redis.Redis(port=srv.port, password="adminpw")
    r.acl_setuser("monitor", enabled=True, passwords=["+monpw"], commands=["+info"])
    r.acl_setuser("viewer", enabled=True, passwords=["+viewpw"], commands=["+info", "+client|list", "+slowlog|get"])
    r.acl_setuser("offuser", enabled=False, passwords=["+offpw"], commands=["+@all"])
    r.acl_setuser("writer", enabled=True, passwords=["+writepw"], commands=["+set", "+get"], keys=["*"])
    r.close()
    yield srv
    srv.stop()


def test_metrics_port_wants_acl_credentials_once_a_password_is_set(acl_server):
    port = acl_server.metrics_port
    for path in ("/metrics", "/", "/static/app.js", "/api/overview", "/api/clients", "/nowhere"):
        status, headers, _ = _request(port, path)
        assert status == 401, path
        assert headers["WWW-Authenticate"].startswith('Basic realm="cachemere"')
    # wrong password, unknown user, disabled user, malformed headers: 401
    for user, password in (("default", "nope"), ("ghost", "x"), ("offuser", "offpw"), ("monitor", "viewpw")):
        assert _request(port, "/metrics", user, password)[0] == 401, user
    for raw in ("Basic !!!", "Basic " + "bm9jb2xvbg==", "Bearer abc", "Basic"):
        assert _request(port, "/metrics", raw_auth=raw)[0] == 401, raw
    # the right password of a user allowed INFO: in
    status, _, body = _request(port, "/metrics", "default", "adminpw")
    assert status == 200 and b"redis_up 1" in body
    status, _, body = _request(port, "/metrics", "monitor", "monpw")
    assert status == 200 and b"redis_up 1" in body
    assert _request(port, "/", "monitor", "monpw")[0] == 200
    assert _request(port, "/api/overview", "monitor", "monpw")[0] == 200
    # INFO alone does not show the clients or the slow log
    assert _request(port, "/api/clients", "monitor", "monpw")[0] == 403
    assert _request(port, "/api/slowlog", "monitor", "monpw")[0] == 403
    assert _request(port, "/api/clients", "viewer", "viewpw")[0] == 200
    assert _request(port, "/api/slowlog", "viewer", "viewpw")[0] == 200
    # a user who may write data but not run INFO is not a dashboard user
    status, _, body = _request(port, "/metrics", "writer", "writepw")
    assert status == 403 and b"'info'" in body
    # the RESP port is unaffected, and the failed logins are in the ACL LOG as failed AUTHs are
    admin = redis.Redis(port=acl_server.port, password="adminpw")
    assert admin.ping()
    entries = {(e["username"], e["reason"], e["object"]) for e in admin.acl_log()}
    assert ("ghost", "auth", "HTTP") in entries and ("default", "auth", "HTTP") in entries


def test_metrics_auth_follows_the_acl_and_the_directive(acl_server):
    port = acl_server.metrics_port
    r = redis.Redis(port=acl_server.port, password="adminpw")
    try:
        r.acl_setuser("monitor", enabled=False)
        assert _request(port, "/metrics", "monitor", "monpw")[0] == 401      # switched off: at once
        r.acl_setuser("monitor", enabled=True)
        assert _request(port, "/metrics", "monitor", "monpw")[0] == 200
        r.config_set("metrics-auth", "no")
        assert _request(port, "/metrics")[0] == 200
        r.config_set("metrics-auth", "auto")
        assert _request(port, "/metrics")[0] == 401
    finally:
        r.config_set("metrics-auth", "auto")
        r.close()


def test_metrics_port_is_open_without_passwords_unless_told(ops_server):
    r = redis.Redis(port=ops_server.port)
    port = ops_server.metrics_port
    assert _request(port, "/metrics")[0] == 200
    try:
        # a non-default user with a password is enough to close the port (auto)
        r.acl_setuser("someone", enabled=True, passwords=["+pw"], commands=["+info"])
        assert _request(port, "/metrics")[0] == 401
        assert _request(port, "/metrics", "someone", "pw")[0] == 200
        r.acl_deluser("someone")
        assert _request(port, "/metrics")[0] == 200
        r.config_set("metrics-auth", "yes")               # the default user is nopass: any password goes
        assert _request(port, "/metrics")[0] == 401
        assert _request(port, "/metrics", "default", "anything")[0] == 200
    finally:
        r.config_set("metrics-auth", "auto")
        r.acl_deluser("someone")
