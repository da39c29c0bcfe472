"""A real browser through nginx too: headless chromium opens a page of lib/web_app.py through
nginx (contrib/nginx.conf, an http server for *.localhost) -> gateway -> client -> local
service, and straight through the gateway; the page's script uses fetch(), an EventSource
and a WebSocket, and the test reads what the page shows over the DevTools protocol. Then the
gateway's own pages, 404, 502, 503 and 401, the same two ways: the status, the text a visitor
reads (what went wrong and what to do), and a screenshot kept in the artifacts directory
(lib/artifacts.py). One gateway, nginx and chromium serve the whole module."""

import json
import signal

import pytest

from lib import browser
from lib import nginx_front as N
from lib import procs as P

pytestmark = [
    pytest.mark.skipif(not browser.available(), reason="chromium is not installed"),
    pytest.mark.skipif(not N.nginx_installed(), reason="nginx is not installed (Debian: nginx)"),
]

HOLD = "0.5"    # --hold-requests: how long a request waits for a lost tunnel before its 503
GRACE = "600"   # --reconnect-grace: 'away' stays a lost tunnel (503), not a free name (404)


class Site:
    """nginx in front of a gateway for *.localhost, the tunnels the tests open, chromium."""

    def __init__(self, reg):
        pytest.importorskip("websockets")
        self.reg = reg
        self.front = N.start_front(reg, "--hold-requests", HOLD, "--reconnect-grace", GRACE,
                                   domain="localhost")
        self.gw = self.front.gw
        self.app = reg.web_app()
        self.app_client = reg.client(self.front.control, self.app.port)
        self.dead_port = P.free_port()
        reg.client(self.front.control, self.dead_port, "--subdomain", "deadend")
        reg.client(self.front.control, self.app.port, "--subdomain", "locked",
                   "--basic-auth", "alice:s3cret")
        away = reg.client(self.front.control, self.app.port, "--subdomain", "away")
        away.proc.send_signal(signal.SIGKILL)
        away.proc.wait(10)
        P.wait_until(lambda: "away" not in [t.get("subdomain") for t in self.gw.tunnels()], 10,
                     "the gateway to notice the client of 'away' gone", reg.tails)
        self.browser = browser.start(reg)
        self.page = self.browser.page()

    def url(self, via, name, path="/"):
        """The URL of tunnel name through nginx or straight to the gateway."""
        if via == "nginx":
            return self.front.http_url(name, path)
        return "http://%s.localhost:%d%s" % (name, self.gw.http_port, path)


@pytest.fixture(scope="module")
def site(binaries, tmp_path_factory):
    reg = P.Registry(tmp_path_factory.mktemp("browser-nginx"))
    try:
        yield Site(reg)
        problems = reg.problems()
    finally:
        reg.close()
    problems = problems or reg.problems(check_exit=False)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.mark.parametrize("via", ["nginx", "direct"])
def test_web_app_in_browser(site, via, artifacts):
    """fetch(), all three server-sent events (each acked before the next was sent) and both
    WebSocket echoes show in the page; the local service saw the browser's requests with
    the visitor's address in X-Forwarded-For and the page's Origin on the WebSocket."""
    cl, page = site.app_client, site.page
    url = site.url(via, cl.sub)
    seen = len(site.app.proc.stdout_lines)
    doc = page.navigate(url)
    assert doc.status == 200, doc
    page.wait_for("document.getElementById('state').textContent", lambda v: v == "done", 30,
                  "the page to show fetch, SSE and WebSocket results")
    shown = {k: page.evaluate("document.getElementById('%s').textContent" % k)
             for k in ("fetch", "sse", "ws")}
    # nginx passes Host without the port ($host); the gateway, as it came.
    host = cl.sub + ".localhost" + ("" if via == "nginx" else ":%d" % site.gw.http_port)
    assert shown["fetch"] == "fetch:%s:42:%s" % (site.app.tag, host), shown
    assert shown["sse"] == "sse:one,two,three", shown
    assert shown["ws"] == "ws:echo:alpha|echo:beta-%s.localhost" % cl.sub, shown
    page.screenshot(artifacts / ("web-app-%s.png" % via))

    lines = site.app.proc.stdout_lines[seen:]
    reqs = {}
    for line in lines:
        if line.startswith("REQ GET "):
            path, _, headers = line[len("REQ GET "):].partition(" ")
            reqs.setdefault(path.partition("?")[0], dict(
                (k.lower(), v) for k, v in json.loads(headers)))
    assert set(reqs) >= {"/", "/api/data", "/events", "/api/ack", "/ws"}, lines
    for path, h in reqs.items():
        assert h.get("x-forwarded-for") == "127.0.0.1", (path, h)
        assert "Chrome" in h.get("user-agent", ""), (path, h)
    assert reqs["/events"].get("accept") == "text/event-stream", reqs["/events"]
    assert reqs["/ws"].get("upgrade", "").lower() == "websocket", reqs["/ws"]
    origin = "http://" + url.split("/")[2]
    assert reqs["/ws"].get("origin") == origin, reqs["/ws"]
    assert not [l for l in lines if l.startswith("SSE-NO-ACK")], lines
    assert [l.split()[2] for l in lines if l.startswith("SSE-SENT")] == ["1", "2", "3"], lines


# name, status, X-Ngrnotok-Error, what the page must say (each, case-insensitive)
PAGES = [
    ("nobody-here", 404, "tunnel-not-found",
     ["no tunnel is online", "nobody-here", "ngrnotok http"]),
    ("deadend", 502, "bad-gateway",
     ["local service", "did not answer", "is running", "port"]),
    ("away", 503, "unavailable",
     ["reconnecting", "away", "try again"]),
    ("locked", 401, "auth-required",
     ["user name and a password", "reload", "https"]),
]


@pytest.mark.parametrize("via", ["nginx", "direct"])
@pytest.mark.parametrize("name,status,code,says", PAGES, ids=[str(p[1]) for p in PAGES])
def test_gateway_page_in_browser(site, via, name, status, code, says, artifacts):
    page = site.page
    doc = page.navigate(site.url(via, name, "/some/page?x=1"))
    assert doc.status == status, doc
    assert doc.headers.get("x-ngrnotok-error") == code, doc.headers
    assert doc.headers.get("content-type", "").startswith("text/html"), doc.headers
    text = page.text()
    low = text.lower()
    missing = [s for s in says if s.lower() not in low]
    assert not missing, "the %d page does not say %r; it says:\n%s" % (status, missing, text)
    assert str(status) in text, text
    # Plain: the page loads nothing (no script, style sheet, image or font of elsewhere); the
    # browser may ask for /favicon.ico on its own.
    loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in loaded if not u.endswith("/favicon.ico")] == [], loaded
    assert page.evaluate("document.scripts.length + document.images.length") == 0, page.html()
    png = page.screenshot(artifacts / ("%d-%s.png" % (status, via)))
    assert png.stat().st_size > 1000
