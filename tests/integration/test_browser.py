"""A real browser (headless chromium) loads a page through the tunnel and
runs its script, which fetches more data through the tunnel or opens a
WebSocket through it."""

import json
import subprocess
import tempfile

import pytest

from lib import browser

CHROMIUM = browser.CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def dump_dom(url, timeout=90):
    with tempfile.TemporaryDirectory(prefix="ngrnotok-chromium-") as profile:
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-proxy-server",
                "--user-data-dir=" + profile, "--virtual-time-budget=5000",
                "--dump-dom", url]
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("chromium did not finish within %ds for %s; stderr tail: %s"
                                 % (timeout, url, (e.stderr or b"")[-2000:]))
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, "chromium exit %d for %s; stderr tail: %s" % (
        p.returncode, url, p.stderr.decode("utf-8", "replace")[-2000:])
    return out, p.stderr.decode("utf-8", "replace")


def test_page_script_runs_through_tunnel(tunnel):
    url = "http://%s/page" % tunnel.host
    assert tunnel.client.url.startswith("http://") and tunnel.host.endswith(
        ".localhost:%d" % tunnel.gateway.http_port)
    dom, err = dump_dom(url)
    assert "Static heading" in dom, "page not loaded through the tunnel; DOM: %s\nstderr: %s" % (
        dom[:2000], err[-2000:])
    # Text produced by the page's script from a second request (fetch) through
    # the tunnel; it appears nowhere in the HTML itself.
    assert "Hello from upstream %s" % tunnel.upstream.tag in dom, \
        "script-fetched greeting missing from DOM: %s" % dom[:2000]
    assert "computed-42-%s.localhost" % tunnel.client.sub in dom, dom[:2000]
    assert "waiting for script" not in dom
    # Both requests went through the tunnel to the upstream.
    lines = tunnel.upstream.proc.stdout_lines
    assert any(l == "REQ GET /page" for l in lines), lines
    assert any(l == "REQ GET /api/greeting" for l in lines), lines


def test_unknown_subdomain_page_in_browser(tunnel):
    url = "http://no-such-browser-tunnel.localhost:%d/" % tunnel.gateway.http_port
    dom, err = dump_dom(url)
    assert "no-such-browser-tunnel" in dom, "404 page does not name the subdomain: %s\n%s" % (
        dom[:2000], err[-2000:])


def test_page_websocket_through_tunnel(procs):
    """The page and its WebSocket (same origin, /ws) both go through the
    tunnel to one local service (lib/ws_server.py); the page's script writes
    the echoed messages into the DOM, which is polled over the DevTools
    protocol (--dump-dom's virtual time does not wait for WebSocket traffic)."""
    pytest.importorskip("websockets")
    gw = procs.gateway()
    srv = procs.ws_server()
    cl = procs.client(gw, srv.port)
    b = browser.start(procs)
    page = b.page()
    page.navigate("http://%s/page" % cl.host)
    want = "echo:alpha|echo:beta-%s.localhost|bin:1,2,3,250" % cl.sub
    text = page.wait_for("document.getElementById('ws').textContent", lambda v: v == want, 60,
                         "the WebSocket echoes in the DOM (%r)" % want)
    assert text == want
    state = page.wait_for("document.getElementById('state').textContent",
                          lambda v: v == "opened closed-1000", 10, "the WebSocket's close")
    assert state == "opened closed-1000", state
    # The handshake reached the local service with the browser's Origin.
    m = srv.proc.wait_stdout(r"^REQ /ws (\[.*\])$", 10, "the local service to log /ws")[0]
    headers = {k.lower(): v for k, v in json.loads(m.group(1))}
    assert headers.get("upgrade", "").lower() == "websocket", headers
    assert headers.get("origin") == "http://%s" % cl.host, headers
    assert srv.proc.count_stdout(r"^WS-OPEN /ws$") == 1
