"""A real browser (headless chromium) loads a page through the tunnel and
runs its script, which fetches more data through the tunnel or opens a
WebSocket through it."""

import asyncio
import json
import shutil
import subprocess
import tempfile
import time

import pytest

from lib import http_util as H
from lib import procs as P

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

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


async def _cdp_poll(devtools_port, url, expression, done, timeout):
    """Over the DevTools protocol (python3-websockets as its client): open url
    in the browser's page, then evaluate `expression` until done(value) or
    the deadline. Returns (value, outerHTML)."""
    import websockets
    r = H.request(devtools_port, "GET", "/json/list", [("Host", "127.0.0.1:%d" % devtools_port)])
    pages = [t for t in r.json() if t.get("type") == "page"]
    assert pages, "chromium lists no page target: %r" % r.body[:1000]
    async with websockets.connect(pages[0]["webSocketDebuggerUrl"], max_size=None,
                                  ping_interval=None, compression=None) as ws:
        ids = iter(range(1, 1 << 30))

        async def call(method, **params):
            i = next(ids)
            await ws.send(json.dumps({"id": i, "method": method, "params": params}))
            while True:    # skip events until our answer
                msg = json.loads(await ws.recv())
                if msg.get("id") == i:
                    assert "error" not in msg, "%s failed: %r" % (method, msg)
                    return msg["result"]

        async def evaluate(expr):
            res = await call("Runtime.evaluate", expression=expr, returnByValue=True)
            return res.get("result", {}).get("value")

        await call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = await evaluate(expression)
            if done(value):
                break
            await asyncio.sleep(0.05)
        return value, await evaluate("document.documentElement.outerHTML")


def test_page_websocket_through_tunnel(procs, tmp_path):
    """The page and its WebSocket (same origin, /ws) both go through the
    tunnel to one local service (lib/ws_server.py); the page's script writes
    the echoed messages into the DOM, which is polled over the DevTools
    protocol (--dump-dom's virtual time does not wait for WebSocket traffic)."""
    pytest.importorskip("websockets")
    gw = procs.gateway()
    srv = procs.ws_server()
    cl = procs.client(gw, srv.port)
    profile = tmp_path / "chromium-profile"
    browser = procs.spawn("chromium", [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-proxy-server", "--user-data-dir=%s" % profile,
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"])
    active = profile / "DevToolsActivePort"
    devtools_port = int(P.wait_until(
        lambda: browser.poll() is None and active.read_text().split("\n")[0].strip(), 60,
        "chromium's DevToolsActivePort file", procs.tails))

    want = "echo:alpha|echo:beta-%s.localhost|bin:1,2,3,250" % cl.sub
    expr = ("(document.getElementById('ws') ? document.getElementById('ws').textContent : '') + "
            "'\\n' + (document.getElementById('state') ? "
            "document.getElementById('state').textContent : '')")
    poll = _cdp_poll(devtools_port, "http://%s/page" % cl.host, expr,
                     lambda v: bool(v) and v.split("\n")[0] == want, 60)
    try:
        value, html = asyncio.run(asyncio.wait_for(poll, 90))
    except asyncio.TimeoutError:
        raise AssertionError("the DevTools session with chromium did not finish within 90s\n%s"
                             % browser.describe()) from None
    assert value is not None, "the page never loaded; DOM: %s" % html[:2000]
    text, state = value.split("\n", 1)
    assert text == want, ("timed out after 60s waiting for the WebSocket echoes in the DOM "
                          "(want %r, state %r): %s" % (want, state, html[:2000]))
    assert state in ("opened", "opened closed-1000"), \
        "WebSocket state in the DOM: %r" % state
    # The handshake reached the local service with the browser's Origin.
    m = srv.proc.wait_stdout(r"^REQ /ws (\[.*\])$", 10, "the local service to log /ws")[0]
    headers = {k.lower(): v for k, v in json.loads(m.group(1))}
    assert headers.get("upgrade", "").lower() == "websocket", headers
    assert headers.get("origin") == "http://%s" % cl.host, headers
    assert srv.proc.count_stdout(r"^WS-OPEN /ws$") == 1
