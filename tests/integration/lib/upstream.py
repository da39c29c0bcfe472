#!/usr/bin/env python3
"""Local "upstream" HTTP service used by the ngrnotok integration tests.

Run as a separate process:

    python3 upstream.py [--tag TAG] [--port N] [--host ADDR]
                        [--tls-cert PEM --tls-key PEM] [--unix PATH]

It binds 127.0.0.1 (port 0 = ephemeral by default; --host another address),
speaks HTTPS with --tls-cert/--tls-key, or listens on the unix socket PATH
(--unix: the first line is then "0"), prints the bound port alone on the
first line of stdout, then one line per request it receives:

    REQ <METHOD> <raw path>
    BEGIN-SLEEP <id>          (when /sleep, /slow-head or /hold starts waiting)
    SSE-SENT-1 <id>           (after /sse sent its first event)

Endpoints (path before '?'; anything unknown is an echo):

  (default)        echo: JSON with tag, method, raw path, headers in order
                   (repeats kept), body length and sha256 (Content-Length and
                   chunked request bodies are both decoded, streaming).
  /sleep?ms=N&id=  wait N ms before sending anything, then JSON.
  /slow-head?ms=N  same as /sleep (response head delayed).
  /hold?gate=G&id= wait, before sending anything, until /release?id=G is
                   requested (at most 60 s: then 503), then JSON like /sleep.
  /status?code=N[&location=URL]
                   respond with status N (204/304: no body, 304 has an ETag).
  /cookies         two Set-Cookie headers and X-Order, X-Mid, X-Order.
  /fixed?n=N       N pattern bytes with Content-Length (HEAD: headers only).
  /bytes?n=N       N pattern bytes with Content-Length, streamed in blocks.
  /chunked?count=C&size=S[&delay_ms=D]
                   chunked response, C chunks of S pattern bytes each.
  /close-delimited?n=N
                   no Content-Length/Transfer-Encoding, body ends at close.
  /drip?n=N&interval_ms=I
                   head at once, then N chunks "tick i\\n" I ms apart.
  /sse?id=X        text/event-stream: "data: one", then waits until
                   /release?id=X is requested (directly on this port), then
                   "data: two".
  /release?id=X    releases /sse?id=X and every /hold?gate=X.
  /hop             response carrying hop-by-hop headers (must be stripped).
  /page            HTML page whose script fills in DOM text.
  /api/greeting    JSON {"greeting": "Hello from upstream <tag>"}.

Every response carries "X-Upstream-Tag: <tag>".
"""

import argparse
import hashlib
import json
import random
import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# ---------------------------------------------------------------------------
# Deterministic data pattern, shared with the tests (import lib.upstream).
# Byte i of a pattern stream is _PATTERN[i % PATTERN_BLOCK_LEN]; the block
# length is deliberately not a power of two.
PATTERN_BLOCK_LEN = 1_000_003
_PATTERN = random.Random(20261125).randbytes(PATTERN_BLOCK_LEN)
_PATTERN2 = memoryview(_PATTERN * 2)


def pattern_chunks(n, chunk=256 * 1024):
    """Yield memoryviews that together are the first n pattern bytes."""
    chunk = min(chunk, PATTERN_BLOCK_LEN)
    pos = 0
    remaining = n
    while remaining > 0:
        k = min(chunk, remaining)
        yield _PATTERN2[pos:pos + k]
        pos = (pos + k) % PATTERN_BLOCK_LEN
        remaining -= k


def pattern_bytes(n):
    return b"".join(pattern_chunks(n))


_SHA_CACHE = {}


def pattern_sha256(n):
    if n not in _SHA_CACHE:
        h = hashlib.sha256()
        for c in pattern_chunks(n, chunk=1_000_003):
            h.update(c)
        _SHA_CACHE[n] = h.hexdigest()
    return _SHA_CACHE[n]


# ---------------------------------------------------------------------------
TAG = "upstream"
_print_lock = threading.Lock()
_events_lock = threading.Lock()
_events = {}


def emit(line):
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def sse_event(sid):
    with _events_lock:
        ev = _events.get(sid)
        if ev is None:
            ev = _events[sid] = threading.Event()
        return ev


PAGE_HTML = """<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>ngrnotok test page</title></head>
<body>
<h1>Static heading</h1>
<div id="greeting">waiting for script</div>
<div id="computed">not computed</div>
<script>
document.getElementById('computed').textContent =
    'computed-' + (6 * 7) + '-' + location.hostname;
fetch('/api/greeting')
  .then(function (r) { return r.json(); })
  .then(function (j) { document.getElementById('greeting').textContent = j.greeting; })
  .catch(function (e) { document.getElementById('greeting').textContent = 'fetch failed: ' + e; });
</script>
</body>
</html>
"""


class BadRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ngrnotok-test-upstream"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - silence access log
        pass

    def __getattr__(self, name):
        # Accept any method (PROPFIND, PURGE, ...): do_<METHOD> -> _handle.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    # -- request body -------------------------------------------------------
    def _read_exact(self, n, sink):
        while n > 0:
            d = self.rfile.read(min(n, 1 << 20))
            if not d:
                raise BadRequest("EOF in request body")
            sink(d)
            n -= len(d)

    def read_body(self, sink):
        """Read the request body (Content-Length or chunked); return
        (length, was_chunked)."""
        te = self.headers.get_all("Transfer-Encoding") or []
        if te and "chunked" in te[-1].lower():
            total = 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise BadRequest("EOF in chunk size")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return total, True
                self._read_exact(size, sink)
                total += size
                self.rfile.readline(65537)  # CRLF after the chunk data
        cl = self.headers.get("Content-Length")
        if cl is not None:
            n = int(cl.strip())
            self._read_exact(n, sink)
            return n, False
        return 0, False

    # -- response helpers ------------------------------------------------------
    def start(self, status, headers=(), length=None, chunked=False):
        self.send_response(status)
        self.send_header("X-Upstream-Tag", TAG)
        for k, v in headers:
            self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", str(length))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_simple(self, status, headers=(), body=b"", content_type="text/plain"):
        hdrs = list(headers)
        if status in (204, 304):
            self.start(status, hdrs)
            return
        hdrs.insert(0, ("Content-Type", content_type))
        self.start(status, hdrs, length=len(body))
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_simple(status, headers, body, "application/json")

    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n" % len(data) + bytes(data) + b"\r\n")

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")

    # -- dispatch ---------------------------------------------------------------
    def _handle(self):
        emit("REQ %s %s" % (self.command, self.path))
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        h = hashlib.sha256()
        try:
            n, chunked = self.read_body(h.update)
        except (BadRequest, ValueError) as e:
            self.close_connection = True
            self.send_simple(400, body=("bad request body: %s\n" % e).encode())
            return
        self.body_info = {"body_length": n, "body_sha256": h.hexdigest(),
                          "body_chunked": chunked}
        route = ROUTES.get(url.path, Handler.ep_echo)
        try:
            route(self, q)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- endpoints --------------------------------------------------------------
    def ep_echo(self, q):
        info = {
            "tag": TAG,
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "client": self.client_address[0],
        }
        info.update(self.body_info)
        self.send_json(200, info)

    def ep_sleep(self, q):
        ms = int(q.get("ms", "1000"))
        rid = q.get("id", "-")
        emit("BEGIN-SLEEP %s" % rid)
        time.sleep(ms / 1000.0)
        self.send_json(200, {"tag": TAG, "slept_ms": ms, "id": rid, "path": self.path})

    def ep_hold(self, q):
        rid = q.get("id", "-")
        ev = sse_event(q.get("gate", "default"))
        emit("BEGIN-SLEEP %s" % rid)
        if not ev.wait(60):
            self.send_json(503, {"tag": TAG, "id": rid, "error": "never released"})
            return
        self.send_json(200, {"tag": TAG, "id": rid, "path": self.path})

    def ep_status(self, q):
        code = int(q.get("code", "200"))
        headers = []
        if "location" in q:
            headers.append(("Location", q["location"]))
        if code == 304:
            headers.append(("ETag", '"etag-304-test"'))
        self.send_simple(code, headers, ("status %d from upstream\n" % code).encode())

    def ep_cookies(self, q):
        headers = [
            ("Set-Cookie", "a=1; Path=/"),
            ("X-Order", "first"),
            ("Set-Cookie", "b=2; Path=/; HttpOnly"),
            ("X-Mid", "middle"),
            ("X-Order", "second"),
        ]
        self.send_simple(200, headers, b"cookies\n")

    def ep_fixed(self, q):
        n = int(q.get("n", "12345"))
        self.start(200, [("Content-Type", "application/octet-stream")], length=n)
        if self.command != "HEAD":
            for c in pattern_chunks(n):
                self.wfile.write(c)

    def ep_chunked(self, q):
        count = int(q.get("count", "10"))
        size = int(q.get("size", "1000"))
        delay = int(q.get("delay_ms", "0")) / 1000.0
        self.start(200, [("Content-Type", "application/octet-stream")], chunked=True)
        if self.command == "HEAD":
            return
        data = pattern_bytes(count * size)
        for i in range(count):
            self.write_chunk(data[i * size:(i + 1) * size])
            if delay:
                time.sleep(delay)
        self.end_chunks()

    def ep_close_delimited(self, q):
        n = int(q.get("n", "100000"))
        self.close_connection = True
        self.send_response(200)
        self.send_header("X-Upstream-Tag", TAG)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            for c in pattern_chunks(n):
                self.wfile.write(c)

    def ep_drip(self, q):
        n = int(q.get("n", "3"))
        interval = int(q.get("interval_ms", "500")) / 1000.0
        self.start(200, [("Content-Type", "text/plain")], chunked=True)
        for i in range(n):
            if i:
                time.sleep(interval)
            self.write_chunk(b"tick %d\n" % i)
        self.end_chunks()

    def ep_sse(self, q):
        sid = q.get("id", "default")
        ev = sse_event(sid)
        self.start(200, [("Content-Type", "text/event-stream"),
                         ("Cache-Control", "no-cache")], chunked=True)
        self.write_chunk(b"data: one\n\n")
        emit("SSE-SENT-1 %s" % sid)
        released = ev.wait(30)
        self.write_chunk(b"data: two\n\n" if released else b"data: timeout\n\n")
        self.end_chunks()

    def ep_release(self, q):
        sse_event(q.get("id", "default")).set()
        self.send_simple(200, body=b"released\n")

    def ep_hop(self, q):
        headers = [
            ("Connection", "keep-alive, X-Drop-Me"),
            ("Keep-Alive", "timeout=5, max=100"),
            ("Proxy-Connection", "keep-alive"),
            ("Upgrade", "example/1"),
            ("Trailer", "X-Checksum"),
            ("TE", "trailers"),
            ("X-Drop-Me", "secret"),
            ("X-Keep", "yes"),
        ]
        self.send_simple(200, headers, b"hop\n")

    def ep_page(self, q):
        self.send_simple(200, [], PAGE_HTML.encode(), "text/html; charset=utf-8")

    def ep_greeting(self, q):
        self.send_json(200, {"greeting": "Hello from upstream %s" % TAG})


ROUTES = {
    "/sleep": Handler.ep_sleep,
    "/slow-head": Handler.ep_sleep,
    "/status": Handler.ep_status,
    "/cookies": Handler.ep_cookies,
    "/fixed": Handler.ep_fixed,
    "/bytes": Handler.ep_fixed,
    "/chunked": Handler.ep_chunked,
    "/close-delimited": Handler.ep_close_delimited,
    "/drip": Handler.ep_drip,
    "/sse": Handler.ep_sse,
    "/release": Handler.ep_release,
    "/hold": Handler.ep_hold,
    "/hop": Handler.ep_hop,
    "/page": Handler.ep_page,
    "/api/greeting": Handler.ep_greeting,
}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def server_bind(self):
        # Skip HTTPServer.server_bind's socket.getfqdn() (may do DNS).
        import socketserver
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]


class UnixServer(socketserver.ThreadingUnixStreamServer):
    """The same handler on a unix socket; the peer shows as ("unix", 0)."""
    daemon_threads = True
    request_queue_size = 1024

    def get_request(self):
        sock, _ = self.socket.accept()
        return sock, ("unix", 0)


def main():
    global TAG
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", default="upstream")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--unix")
    args = ap.parse_args()
    TAG = args.tag
    if args.unix:
        srv = UnixServer(args.unix, Handler)
        emit("0")
    else:
        srv = Server((args.host, args.port), Handler)
        if args.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        emit(str(srv.server_address[1]))
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
