"""The dashboard in a real browser: Playwright drives headless Chromium (Debian's chromium package, or
Playwright's own download) against a running server and reads what a person would see."""
import os
import shutil

import pytest
import redis

from tests.support.servers import free_port, start_cachemere, wait_for

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make test installs it)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = os.environ.get("CACHEMERE_DASHBOARD_SCREENSHOT")   # set to refresh docs/dashboard.png


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"]) if CHROMIUM \
                else p.chromium.launch()
        except Exception as exc:        # neither Debian's chromium nor a Playwright download exists
            pytest.skip("no Chromium to drive: install Debian's chromium package (%s)" % exc)
        yield b
        b.close()


@pytest.fixture
def dash_server():
    port = free_port()
    srv = start_cachemere("--metrics-port", port)
    srv.metrics_port = port
    yield srv
    srv.stop()


def test_dashboard_shows_the_keyspace_and_follows_writes(browser, dash_server):
    r = redis.Redis(port=dash_server.port, client_name="browser-test")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto("http://127.0.0.1:%d/" % dash_server.metrics_port)
        page.wait_for_function("document.getElementById('status').textContent === 'live'", timeout=10000)
        assert page.text_content("#key-count") == "0"
        for i in range(42):
            r.set("k%d" % i, i)
        r.rpush("queue:list", *range(5))
        for i in range(30):
            r.get("k%d" % (i % 50))                      # a few misses for the hit ratio
        page.wait_for_function("document.getElementById('key-count').textContent === '43'", timeout=10000)
        types = dict(zip(page.locator("#types tbody td:nth-child(1)").all_text_contents(),
                         page.locator("#types tbody td:nth-child(2)").all_text_contents()))
        assert types == {"list": "1", "string": "42"}
        assert page.text_content("#keyspace tbody td") == "db0"
        wait_for(lambda: "browser-test" in page.locator("#clients tbody").inner_text(), timeout=10)
        assert page.text_content("#identity").startswith("redis 7.0.15")
        assert page.text_content("#repl-role").startswith("role: master")
        if SCREENSHOT:
            for second in range(4):                      # a few points on the hit-ratio chart
                for i in range(40 + 10 * second):
                    r.get("k%d" % (i % (45 + second * 5)))
                page.wait_for_timeout(1000)
            page.screenshot(path=SCREENSHOT, full_page=True)
    finally:
        page.close()
        r.close()


def test_dashboard_shows_a_replica_after_replicaof(browser, dash_server):
    replica = start_cachemere()
    page = browser.new_page()
    try:
        redis.Redis(port=replica.port).replicaof("127.0.0.1", dash_server.port)
        page.goto("http://127.0.0.1:%d/" % dash_server.metrics_port)
        page.wait_for_function("document.querySelectorAll('#replicas tbody tr').length === 1", timeout=15000)
        # the row appears with the replica's first state (wait_bgsave during the full sync), then turns online
        page.wait_for_function("(document.querySelectorAll('#replicas tbody td')[1] || {}).textContent === 'online'",
                               timeout=15000)
        cells = page.locator("#replicas tbody td").all_text_contents()
        assert cells[0] == "127.0.0.1:%d" % replica.port
        assert cells[1] == "online"
        assert "offset" in page.text_content("#repl-role")
    finally:
        page.close()
        replica.stop()


WORKFLOW = ('{"StartAt":"Check","States":{'
            '"Check":{"Type":"Pass","Next":"Review"},'
            '"Review":{"Type":"Wait","Seconds":300,"Next":"Ship"},'
            '"Ship":{"Type":"Pass","End":true}}}')


def test_workflow_graph_changes_colour_as_the_execution_advances(browser, dash_server):
    r = redis.Redis(port=dash_server.port)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        r.execute_command("WF.CONFIG", "SET", "time-scale", "0.01")       # the 300 s wait lasts 3 s
        r.execute_command("WF.CREATE", "orders", WORKFLOW)
        r.execute_command("WF.START", "orders", "NAME", "o1", "INPUT", "{}")
        page.goto("http://127.0.0.1:%d/" % dash_server.metrics_port)
        row = page.locator("#services tbody tr", has_text="{orders}:o1")
        row.wait_for(timeout=10000)
        row.click()
        review = page.locator('#graph g[data-state="Review"]')
        review.wait_for(timeout=10000)
        assert page.locator('#graph g[data-state="Check"]').get_attribute("data-status") == "succeeded"
        assert review.get_attribute("data-status") == "running"
        assert page.locator('#graph g[data-state="Ship"]').get_attribute("data-status") == "pending"
        running_fill = review.locator("rect").get_attribute("fill")
        page.wait_for_function(
            "document.querySelector('#graph g[data-state=\"Ship\"]')?.getAttribute('data-status') === 'succeeded'",
            timeout=20000)
        assert review.get_attribute("data-status") == "succeeded"
        assert review.locator("rect").get_attribute("fill") != running_fill       # the colour changed
    finally:
        page.close()
        r.close()


def test_dashboard_behind_the_acl_logs_in_with_http_basic(browser):
    port = free_port()
    srv = start_cachemere("--metrics-port", port, "--requirepass", "adminpw")
    r = redis.Redis(port=srv.port, password="adminpw")
    contexts = []
    try:
        r.acl_setuser("viewer", enabled=True, passwords=["+viewpw"], commands=["+info", "+client|list", "+slowlog|get"])
        r.acl_setuser("monitor", enabled=True, passwords=["+monpw"], commands=["+info"])
        for i in range(7):
            r.set("secret:%d" % i, i)
        url = "http://127.0.0.1:%d/" % port
        wait_for(lambda: _reachable(url), timeout=10)
        # no credentials: the browser gets the 401 and none of the page
        anonymous = browser.new_context()
        contexts.append(anonymous)
        page = anonymous.new_page()
        assert _refused(page, url)
        assert page.locator("#key-count").count() == 0
        challenge = anonymous.request.get(url)
        assert challenge.status == 401 and challenge.headers["www-authenticate"].startswith("Basic")
        # a wrong password is refused the same way
        wrong = browser.new_context(http_credentials={"username": "viewer", "password": "nope"})
        contexts.append(wrong)
        assert _refused(wrong.new_page(), url)
        # the viewer logs in and sees everything, the page's own fetches included
        viewer = browser.new_context(http_credentials={"username": "viewer", "password": "viewpw"})
        contexts.append(viewer)
        page = viewer.new_page()
        assert page.goto(url).status == 200
        page.wait_for_function("document.getElementById('status').textContent === 'live'", timeout=10000)
        page.wait_for_function("document.getElementById('key-count').textContent === '7'", timeout=10000)
        wait_for(lambda: "127.0.0.1" in page.locator("#clients tbody").inner_text(), timeout=10)
        # a user allowed INFO only gets the page without the clients panel
        monitor = browser.new_context(http_credentials={"username": "monitor", "password": "monpw"})
        contexts.append(monitor)
        page = monitor.new_page()
        page.goto(url)
        page.wait_for_function("document.getElementById('status').textContent === 'live'", timeout=10000)
        assert page.text_content("#key-count") == "7"
        assert "not permitted" in page.locator("#clients tbody").inner_text()
    finally:
        for context in contexts:
            context.close()
        r.close()
        srv.stop()


def _refused(page, url):
    """The navigation ends on the 401 (or headless Chromium cancels the login: ERR_INVALID_AUTH_CREDENTIALS)."""
    try:
        return page.goto(url).status == 401
    except sync_api.Error as exc:
        return "ERR_INVALID_AUTH_CREDENTIALS" in str(exc)


def _reachable(url):
    import urllib.error
    import urllib.request
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
