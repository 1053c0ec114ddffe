"""relayctl console (issue 17) against a real 3-region deployment with
delay proxies (the shipped topology's round trips), in Debian's chromium,
headless, driven over the DevTools protocol: the page shows the three
regions and their links, updated live by server-sent events; a link cut at
its delay proxies shows as cut; a drill started from the page's form runs in
the console, finishes, and its plot appears with a line of data points per
region; and without the operator token every route answers 401. Screenshots
are kept in the test's tmp dir (their paths are printed)."""

import base64
import json
import os
import re
import shutil
import socket
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import websocket  # Debian's python3-websocket (scripts/lib.sh installs it), for chromium's DevTools protocol

from chat_support import HOST, Process, bin_path
from drill_support import stop_restarted, write_run_dir
from regions_support import TOPOLOGY, Cluster

# Debian's chromium (scripts/lib.sh installs it); the tests fail without it rather than pass unseen.
CHROMIUM = shutil.which("chromium") or "chromium"

DRILL_TIMEOUT = 120


class Chromium:
    """Headless chromium with one page, over the DevTools protocol (a websocket)."""

    def __init__(self, workdir):
        self.profile = os.path.join(str(workdir), "chromium-profile")
        os.makedirs(self.profile, exist_ok=True)
        # A profile used before holds the port of a chromium that is gone.
        if os.path.exists(os.path.join(self.profile, "DevToolsActivePort")):
            os.remove(os.path.join(self.profile, "DevToolsActivePort"))
        self.log = open(os.path.join(str(workdir), "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--user-data-dir=" + self.profile,
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1100,900",
             "about:blank"],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
            # /usr/bin/chromium is a shell script that does not exec: its own group, to stop it all.
            start_new_session=True)
        port = self._devtools_port(timeout=60)
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as response:
            targets = json.load(response)
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _devtools_port(self, timeout):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    first = f.readline().strip()
                if first.isdigit():
                    return int(first)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)  # chromium writes the file when it listens; no event to await from here
        raise AssertionError("chromium did not open its DevTools port; log: %s" % self.log.name)

    def call(self, method, timeout=60, **params):
        self.ws.settimeout(timeout)
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())  # bounded by the socket's timeout
            if message.get("id") == ident:
                assert "error" not in message, "%s: %s" % (method, message["error"])
                return message.get("result", {})

    def open(self, url):
        self.call("Page.navigate", url=url)
        assert self.wait_for("document.readyState === 'complete'", 30), "the page did not load: " + url

    def evaluate(self, expression, timeout=60):
        result = self.call("Runtime.evaluate", timeout=timeout, expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, condition, timeout):
        """Whether `condition` (JavaScript) held within `timeout` seconds: checked at
        every change of the DOM (a MutationObserver), not by polling."""
        return self.evaluate("""new Promise(function (resolve) {
              var check = function () { try { return !!(%s); } catch (e) { return false; } };
              if (check()) { resolve(true); return; }
              var observer = new MutationObserver(function () { if (check()) { observer.disconnect(); resolve(true); } });
              observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
              setTimeout(function () { observer.disconnect(); resolve(check()); }, %d);
            })""" % (condition, int(timeout * 1000)), timeout=timeout + 30)

    def screenshot(self, path):
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print("screenshot: %s" % path)
        return path

    def close(self):
        try:
            self.ws.close()
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
            self.log.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("console")
    cluster = Cluster(workdir, mirror="sync", proxies=True, rtt_ms=TOPOLOGY)
    run_dir = os.path.join(str(workdir), "run")
    write_run_dir(cluster, run_dir)
    drills = os.path.join(str(workdir), "drills")
    proc = None
    browser = None
    try:
        proc = Process([bin_path("relayctl"), "console", "--listen", "%s:0" % HOST, "--topology", cluster.topology_path,
                        "--key-dir", cluster.keys, "--run-dir", run_dir, "--drills-dir", drills],
                       str(workdir), "console", ready="relayctl console listening on", timeout=60)
        line = next(l for l in proc.lines if "listening on" in l)
        url = re.search(r"http://[0-9.]+:\d+/", line).group(0)
        with open(os.path.join(cluster.keys, "console.token")) as f:
            token = f.read().strip()
        browser = Chromium(workdir)
        yield {"cluster": cluster, "url": url, "token": token, "browser": browser, "dir": str(workdir),
               "drills": drills, "proc": proc}
    finally:
        if browser:
            browser.close()
        if proc:
            proc.stop()
        stop_restarted(cluster, run_dir)
        cluster.stop()


def get(url, headers=None, data=None):
    """(status, headers, body) of one request; no redirects followed."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_without_the_operator_token_every_route_is_401(console):
    url, token = console["url"], console["token"]
    for path in ("", "events", "api/deployment", "api/drills", "drills/nothing", "no-such-route", "?token=wrong"):
        status, headers, _ = get(url + path)
        assert status == 401, path
        assert headers["WWW-Authenticate"].startswith("Bearer")
    status, _, _ = get(url + "api/drills", headers={"Authorization": "Bearer " + "0" * 64}, data=b"{}")
    assert status == 401
    status, _, body = get(url + "api/deployment", headers={"Authorization": "Bearer " + token})
    assert status == 200 and len(json.loads(body)["regions"]) == 3
    # A login sets the cookie and sends the browser on without the token in the address.
    status, headers, _ = get(url + "?token=" + token)
    assert status == 303 and headers["Location"] == "/"
    assert "relay_console=%s" % token in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
    # Chromium without the token gets the 401 text, not the page.
    dom = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox",
                          "--user-data-dir=" + os.path.join(console["dir"], "chromium-anonymous"), "--dump-dom", url],
                         capture_output=True, text=True, timeout=60).stdout
    assert "operator token required" in dom and "regions" not in dom


def test_a_bad_drill_form_is_refused_with_what_to_fix(console):
    auth = {"Authorization": "Bearer " + console["token"], "Content-Type": "application/json"}
    for form, expected in (({"region": "mars"}, "region must be one of us-east, eu-west, ap-south"),
                           ({"region": "us-east", "devices": 1}, "devices must be from 2"),
                           ({"region": "us-east", "mode": "eventually"}, "mode must be async or sync")):
        status, _, body = get(console["url"] + "api/drills", headers=auth, data=json.dumps(form).encode())
        assert status == 400 and expected in body, body
    status, _, body = get(console["url"] + "api/drills", headers=auth, data=b"not json")
    assert status == 400
    status, _, body = get(console["url"] + "api/drills", headers=auth)
    assert status == 200 and json.loads(body) == []


def test_the_page_shows_three_regions_and_their_links_live(console):
    browser, url = console["browser"], console["url"]
    browser.open(url + "?token=" + console["token"])
    assert browser.evaluate("location.pathname") == "/"
    assert browser.wait_for("document.querySelectorAll('#regions tr.region[data-up=true]').length === 3", 30), \
        browser.evaluate("document.body.innerHTML")
    regions = browser.evaluate("Array.from(document.querySelectorAll('#regions tr.region')).map(r => r.dataset.region)")
    assert sorted(regions) == ["ap-south", "eu-west", "us-east"]
    links = browser.evaluate("""Array.from(document.querySelectorAll('#links tr.link')).map(r =>
        [r.dataset.link, r.dataset.state, r.cells[1].textContent])""")
    rtts = {tuple(sorted(link["between"])): link["rttMs"] for link in console["cluster"].links}
    assert len(links) == 3
    for name, state, rtt in links:
        assert state == "healed"
        assert rtt == "%g ms" % rtts[tuple(sorted(name.split("|")))]
    # Each direction's lag and outbox depth, and the map.
    assert browser.evaluate("document.querySelectorAll('#links td.lag').length") == 6
    assert browser.evaluate("document.querySelectorAll('#map g.map-region').length") == 3
    assert browser.evaluate("document.querySelectorAll('#map line.map-link').length") == 3
    # Refreshed by server-sent events, without a reload.
    assert browser.wait_for("document.getElementById('updated').textContent.startsWith('updated')", 15)
    browser.screenshot(os.path.join(console["dir"], "console-deployment.png"))


def test_a_cut_link_shows_as_cut(console):
    browser, cluster = console["browser"], console["cluster"]
    browser.open(console["url"])
    cut = "#links tr.link[data-link='us-east|eu-west'][data-state=cut]"
    assert browser.wait_for("document.querySelector(\"#links tr.link[data-link='us-east|eu-west']\")", 30)
    cluster.link("cut", "us-east", "eu-west")
    try:
        assert browser.wait_for("document.querySelector(\"%s\") && document.querySelector(\"#map line.map-link[data-state=cut]\")" % cut, 30)
        browser.screenshot(os.path.join(console["dir"], "console-link-cut.png"))
        # The other links stay healed.
        assert browser.evaluate("document.querySelectorAll('#links tr.link[data-state=healed]').length") == 2
    finally:
        cluster.link("heal", "us-east", "eu-west")
    assert browser.wait_for("document.querySelectorAll('#links tr.link[data-state=healed]').length === 3", 30)


def test_a_drill_started_from_the_page_finishes_with_its_plot(console):
    browser = console["browser"]
    browser.open(console["url"])
    assert browser.wait_for("document.querySelectorAll('#regions tr.region[data-up=true]').length === 3", 30)
    # Fill in the form and press its button, as an operator would.
    browser.evaluate("""(function () {
        var form = document.getElementById('drill-form');
        form.elements.kind.value = 'failover';
        form.elements.region.value = 'us-east';
        form.elements.mode.value = 'sync';
        form.elements.devices.value = '4';
        form.elements.rate.value = '20';
        form.elements.duration.value = '4';
        document.getElementById('drill-submit').click();
    })()""")
    assert browser.wait_for("document.getElementById('drill-running')", 30), browser.evaluate("document.getElementById('drill-error').textContent")
    # While us-east is down, the page shows it so, and eu-west serving it.
    assert browser.wait_for("""document.querySelector("#regions tr.region[data-region='us-east'][data-up=false][data-served-by='eu-west']")""", 60)
    assert browser.evaluate("!!document.querySelector('#map line.serves')")
    browser.screenshot(os.path.join(console["dir"], "console-drill-running.png"))
    finished = browser.wait_for("document.querySelector('#drill-latest[data-state]') && !document.getElementById('drill-running')",
                                DRILL_TIMEOUT)
    assert finished, browser.evaluate("document.getElementById('drills').textContent") + console["proc"].tail()
    state = browser.evaluate("document.getElementById('drill-latest').dataset.state")
    assert state == "done", browser.evaluate("document.getElementById('drill-latest').textContent")
    # The plot of deliveries per 100 ms has a polyline of data points for each region.
    lines = browser.evaluate("""Array.from(document.querySelectorAll('#drill-latest svg#delivered polyline.series')).map(p =>
        [p.dataset.name, p.getAttribute('points').trim().split(/\\s+/).length])""")
    assert sorted(name for name, _ in lines) == ["ap-south", "eu-west", "us-east"], lines
    assert all(points > 10 for _, points in lines), lines
    assert browser.evaluate("document.querySelectorAll('#drill-latest svg#lag polyline.series').length") >= 1
    assert browser.evaluate("document.querySelectorAll('#drill-latest svg line.marker').length") > 0
    # Listed among the past drills, and kept on disk with its report page.
    drill_id = browser.evaluate("document.getElementById('drill-latest').dataset.drill")
    assert browser.evaluate("!!document.querySelector(\"#past-drills tr.drill[data-drill='%s'][data-state=done]\")" % drill_id)
    browser.screenshot(os.path.join(console["dir"], "console-drill-done.png"))
    record = json.load(open(os.path.join(console["drills"], drill_id + ".json")))
    assert record["state"] == "done" and record["request"]["region"] == "us-east"
    report = record["report"]
    assert report["kind"] == "failover" and report["lostAcknowledged"] == 0 and report["rpoMessages"] == 0
    assert any(k.startswith("us-east killed") for k in report["timeline"])
    status, _, page = get(console["url"] + "drills/" + drill_id, headers={"Authorization": "Bearer " + console["token"]})
    assert status == 200 and page.startswith("<!DOCTYPE html>") and "<svg id=\"delivered\"" in page
    # The region came back and serves itself again.
    assert browser.wait_for("""document.querySelector("#regions tr.region[data-region='us-east'][data-up=true][data-served-by='us-east']")""", 30)


def test_the_console_stops_on_sigterm_and_frees_its_port(console):
    # The page is still open: its event stream must end for the server to stop.
    proc, url = console["proc"], console["url"]
    assert console["browser"].evaluate("document.getElementById('live').textContent") == "live"
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(20) == 0, proc.tail()
    # Nothing else holds the port: not the region the drill restarted from the console.
    host, port = re.match(r"http://([0-9.]+):(\d+)/", url).groups()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5).close()
