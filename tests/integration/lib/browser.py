"""Headless chromium driven over the DevTools protocol (python3-websockets as its client).

    b = browser.start(procs)            # chromium on --remote-debugging-port=0
    page = b.page()                     # the browser's page target, Network and Page enabled
    resp = page.navigate(url)           # waits for the load event; resp.status, resp.headers
    text = page.wait_for("document.body.innerText", lambda v: "done" in v, 30, "the page")
    page.screenshot(path)               # PNG

Every wait has a deadline and fails with an AssertionError saying what was awaited; chromium
is a process of the Registry, stopped by PID with the test's others. The page answers a
basic-auth challenge by cancelling it (Fetch.continueWithAuth), as a visitor who closes the
login box does, so that a 401's own page is what shows."""

import asyncio
import base64
import json
import shutil
import time
import uuid

from . import http_util as H
from . import procs as P

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def available():
    return CHROMIUM is not None


class Response:
    """A response the page received (Network.responseReceived)."""

    def __init__(self, params):
        r = params["response"]
        self.request_id = params.get("requestId")
        self.type = params.get("type")
        self.url = r.get("url")
        self.status = r.get("status")
        self.headers = {k.lower(): v for k, v in (r.get("headers") or {}).items()}

    def __repr__(self):
        return "<Response %s %s %s>" % (self.status, self.type, self.url)


class Page:
    """One DevTools session on a page target. Methods are synchronous; each runs the
    protocol on this object's own event loop within a deadline."""

    def __init__(self, browser, ws_url, timeout=30):
        import websockets
        self.browser = browser
        self.loop = asyncio.new_event_loop()
        self.responses = []         # every Response since the last navigate(), in order
        self.failed = []            # Network.loadingFailed params, the same
        self._events = []           # events not yet looked at by _wait_event
        self._ids = iter(range(1, 1 << 30))

        async def connect():    # made inside the loop: websockets binds to the running one
            return await websockets.connect(ws_url, max_size=None, ping_interval=None,
                                            compression=None)

        self.ws = self._run(connect(), timeout, "the DevTools socket")
        self.call("Page.enable")
        self.call("Network.enable")
        # Only to answer basic-auth challenges: every paused request is let go at once.
        self.call("Fetch.enable", handleAuthRequests=True)

    # -- the protocol --------------------------------------------------------------------------
    def _run(self, coro, timeout, what):
        try:
            return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))
        except asyncio.TimeoutError:
            raise AssertionError("timed out after %ss waiting for %s\n%s"
                                 % (timeout, what, self.browser.proc.describe())) from None

    async def _send(self, method, params):
        i = next(self._ids)
        await self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        return i

    async def _recv(self):
        """The next message; events are recorded (and Fetch's answered) on the way."""
        msg = json.loads(await self.ws.recv())
        method = msg.get("method")
        if method is None:
            return msg
        params = msg.get("params", {})
        if method == "Fetch.requestPaused":
            await self._send("Fetch.continueRequest", {"requestId": params["requestId"]})
        elif method == "Fetch.authRequired":
            await self._send("Fetch.continueWithAuth", {
                "requestId": params["requestId"],
                "authChallengeResponse": {"response": "CancelAuth"}})
        elif method == "Network.responseReceived":
            self.responses.append(Response(params))
        elif method == "Network.loadingFailed":
            self.failed.append(params)
        self._events.append(msg)
        return msg

    async def _pump(self, seconds):
        """Takes in events for this long."""
        end = self.loop.time() + seconds
        try:
            while self.loop.time() < end:
                await asyncio.wait_for(self._recv(), end - self.loop.time())
        except asyncio.TimeoutError:
            pass

    async def _call(self, method, params):
        i = await self._send(method, params)
        while True:
            msg = await self._recv()
            if msg.get("id") == i:
                if "error" in msg:
                    raise AssertionError("%s failed: %r" % (method, msg["error"]))
                return msg.get("result", {})

    async def _wait_event(self, match):
        while True:
            while self._events:
                msg = self._events.pop(0)
                if match(msg):
                    return msg
            await self._recv()

    def call(self, method, timeout=30, **params):
        return self._run(self._call(method, params), timeout, "DevTools %s" % method)

    # -- what tests use ------------------------------------------------------------------------
    def navigate(self, url, timeout=30):
        """Opens url and waits for its load event. Returns the document's Response."""
        async def go():
            self._events.clear()
            self.responses, self.failed = [], []
            res = await self._call("Page.navigate", {"url": url})
            if res.get("errorText"):
                raise AssertionError("chromium could not open %s: %s" % (url, res["errorText"]))
            loader = res.get("loaderId")
            await self._wait_event(lambda m: m.get("method") == "Page.loadEventFired")
            for r in self.responses:
                if r.request_id == loader and r.type == "Document":
                    return r
            raise AssertionError("no document response for %s among %r" % (url, self.responses))
        return self._run(go(), timeout, "%s to load" % url)

    def evaluate(self, expression, timeout=30):
        res = self.call("Runtime.evaluate", timeout, expression=expression, returnByValue=True)
        if "exceptionDetails" in res:
            raise AssertionError("%s threw: %r" % (expression, res["exceptionDetails"]))
        return res.get("result", {}).get("value")

    def text(self):
        """What the visitor reads: document.body.innerText."""
        return self.evaluate("document.body ? document.body.innerText : ''")

    def html(self):
        return self.evaluate("document.documentElement.outerHTML")

    def wait_for(self, expression, done, timeout, what, interval=0.05):
        """Evaluates expression until done(value) holds, within timeout seconds; returns the
        value, or fails with the last value and the page's HTML."""
        deadline = time.monotonic() + timeout
        value = None
        while True:
            value = self.evaluate(expression, max(1.0, deadline - time.monotonic()))
            if done(value):
                return value
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %ss waiting for %s; last value %r; page: %s"
                                     % (timeout, what, value, (self.html() or "")[:3000]))
            # Let the browser's events in while waiting, so none piles up unread.
            self.loop.run_until_complete(self._pump(interval))

    def screenshot(self, path, timeout=30):
        """Saves a PNG of the viewport to path; returns path."""
        res = self.call("Page.captureScreenshot", timeout, format="png")
        data = base64.b64decode(res["data"])
        assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG: %r" % data[:16]
        path.write_bytes(data)
        return path

    def close(self):
        try:
            self._run(self.ws.close(), 10, "the DevTools socket to close")
        except Exception:  # noqa: BLE001 - the browser may be gone already
            pass
        self.loop.close()


class Browser:
    def __init__(self, proc, devtools_port):
        self.proc = proc
        self.devtools_port = devtools_port
        self.pages = []

    def page(self, timeout=30):
        """A DevTools session on the browser's first page target."""
        r = H.request(self.devtools_port, "GET", "/json/list",
                      [("Host", "127.0.0.1:%d" % self.devtools_port)], timeout=timeout)
        pages = [t for t in r.json() if t.get("type") == "page"]
        assert pages, "chromium lists no page target: %r" % r.body[:1000]
        p = Page(self, pages[0]["webSocketDebuggerUrl"], timeout)
        self.pages.append(p)
        return p

    def close(self):
        for p in self.pages:
            p.close()
        self.proc.stop()


def start(procs, width=1000, height=700, timeout=60):
    """Headless chromium with a fresh profile under the registry's directory, its DevTools
    endpoint on 127.0.0.1 and a port of its choosing (read from DevToolsActivePort)."""
    assert CHROMIUM is not None, "chromium is not installed"
    profile = procs.tmpdir / ("chromium-profile-" + uuid.uuid4().hex[:8])
    proc = procs.spawn("chromium", [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-proxy-server", "--hide-scrollbars",
        "--window-size=%d,%d" % (width, height), "--user-data-dir=%s" % profile,
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"])
    active = profile / "DevToolsActivePort"

    def port():
        if proc.poll() is not None:
            raise AssertionError("chromium exited (%s)\n%s" % (proc.returncode, proc.describe()))
        return active.read_text().split("\n")[0].strip()

    devtools_port = int(P.wait_until(port, timeout, "chromium's DevToolsActivePort file",
                                     proc.describe))
    return Browser(proc, devtools_port)
