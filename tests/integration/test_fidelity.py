"""What goes through the tunnel arrives unchanged: methods, raw paths,
header order, status codes, bodies, streaming; X-Forwarded-* are added and
hop-by-hop headers are stripped in both directions."""

import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest

from lib import http_util as H
from lib.upstream import pattern_bytes, pattern_chunks, pattern_sha256

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "transfer-encoding",
              "upgrade", "trailer"}
FORWARDED = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}


def names(headers):
    return [k.lower() for k, _ in headers]


def values(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def echo(tunnel, method="GET", path="/echo", headers=(), body=None, host=None):
    r = tunnel.request(method, path, headers, body, host=host)
    assert r.status == 200, "%s %s: %r" % (method, path, r)
    j = r.json()
    assert j["tag"] == tunnel.upstream.tag
    return j


# -- request line --------------------------------------------------------------------------

RAW_PATHS = [
    "/a%2Fb/../c?x=1&y=%20",
    "/",
    "/x//y/./z",
    "/p?",
    "/q?a=1&a=2&b=%ZZ&c=%2f",
    "/%E2%82%AC/caf%C3%A9?k=%E2%82%AC&empty=",
    "/semi;param=1/x?y=a+b",
    "/trailing/",
]


@pytest.mark.parametrize("path", RAW_PATHS)
def test_raw_path_and_query_unchanged(tunnel, path):
    j = echo(tunnel, path=path)
    assert j["path"] == path


def test_raw_path_via_raw_socket(tunnel):
    path = "/a%2Fb/../c?x=1&y=%20"
    raw = H.raw_exchange(
        tunnel.gateway.http_port,
        ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, tunnel.host)).encode(),
        timeout=15)
    status, _, headers, rest = H.split_head(raw)
    assert status == 200, raw[:500]
    te = (H.header_of(headers, "Transfer-Encoding") or "").lower()
    body = H.dechunk(rest)[0] if "chunked" in te else rest
    assert b'"path": "/a%2Fb/../c?x=1&y=%20"' in body, body


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                                    "PROPFIND", "PURGE"])
def test_method_unchanged(tunnel, method):
    body = b"payload for " + method.encode() if method in ("POST", "PUT", "PATCH") else None
    j = echo(tunnel, method=method, path="/m?x=1", body=body)
    assert j["method"] == method
    assert j["path"] == "/m?x=1"
    if body is not None:
        assert j["body_length"] == len(body)
        assert j["body_sha256"] == hashlib.sha256(body).hexdigest()


# -- request headers ----------------------------------------------------------------------------

def test_request_header_order_and_repeats(tunnel):
    j = echo(tunnel, headers=[("X-A", "1"), ("X-B", "2"), ("X-A", "3"), ("X-C", "c")])
    got = [(k.lower(), v) for k, v in j["headers"] if k.lower() in ("x-a", "x-b", "x-c")]
    assert got == [("x-a", "1"), ("x-b", "2"), ("x-a", "3"), ("x-c", "c")], j["headers"]
    # Relative order with the Host header kept too: Host was sent first.
    assert names(j["headers"])[0] == "host", j["headers"]


def test_request_header_values_unchanged(tunnel):
    sent = [("X-Spaces", "a  b   c"), ("X-Quote", '"quoted", value; q=0.5'),
            ("Cookie", "a=1; b=2"), ("X-Empty", ""), ("Accept-Language", "fr-CH, fr;q=0.9")]
    j = echo(tunnel, headers=sent)
    for k, v in sent:
        assert values(j["headers"], k) == [v], "header %s: %r" % (k, j["headers"])


def test_client_adds_no_headers_of_its_own(tunnel):
    j = echo(tunnel, headers=[("X-Only", "1")])
    extra = set(names(j["headers"])) - {"host", "x-only"} - FORWARDED
    assert not extra & {"accept", "user-agent", "expect", "accept-encoding"}, j["headers"]
    assert extra <= {"connection", "content-length"}, \
        "unexpected headers added toward the local service: %r" % j["headers"]


def test_no_expect_header_for_large_body(tunnel):
    body = os.urandom(2 * 1024 * 1024 + 3)
    j = echo(tunnel, method="POST", path="/upload", headers=[("Content-Type", "application/x-test")],
             body=body)
    assert "expect" not in names(j["headers"]), j["headers"]
    assert "user-agent" not in names(j["headers"]), j["headers"]
    assert "accept" not in names(j["headers"]), j["headers"]
    assert values(j["headers"], "Content-Type") == ["application/x-test"]
    assert j["body_length"] == len(body)
    assert j["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_x_forwarded_headers(tunnel):
    j = echo(tunnel)
    h = j["headers"]
    assert values(h, "X-Forwarded-For") == ["127.0.0.1"], h
    assert values(h, "X-Forwarded-Proto") == ["http"], h
    assert values(h, "X-Forwarded-Host") == [tunnel.host], h


def test_x_forwarded_for_is_the_gateways(tunnel):
    """A public client's X-Forwarded-For is not trusted: the local service sees the address the
    gateway saw, alone (test_hostile.py tries the spellings)."""
    j = echo(tunnel, headers=[("X-Forwarded-For", "203.0.113.7")])
    assert values(j["headers"], "X-Forwarded-For") == ["127.0.0.1"], j["headers"]
    j = echo(tunnel, headers=[("X-Forwarded-For", "198.51.100.1, 203.0.113.7")])
    assert values(j["headers"], "X-Forwarded-For") == ["127.0.0.1"], j["headers"]


def test_x_forwarded_host_is_host_as_received(tunnel):
    host = "%s.LocalHost:%d" % (tunnel.client.sub.upper(), tunnel.gateway.http_port)
    j = echo(tunnel, host=host)
    assert values(j["headers"], "X-Forwarded-Host") == [host], j["headers"]
    assert values(j["headers"], "Host") == [host], "Host must be preserved: %r" % j["headers"]


def test_hop_by_hop_request_headers_stripped(tunnel):
    sent = [("Connection", "keep-alive, X-Drop-Me"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("Upgrade", "example/1"),
            ("Trailer", "X-Checksum"),
            ("X-Drop-Me", "secret"),
            ("X-Keep", "yes")]
    j = echo(tunnel, headers=sent)
    got = names(j["headers"])
    for h in ("keep-alive", "proxy-connection", "te", "upgrade", "trailer", "x-drop-me"):
        assert h not in got, "%s reached the local service: %r" % (h, j["headers"])
    for v in values(j["headers"], "Connection"):
        assert "x-drop-me" not in v.lower(), j["headers"]
    assert values(j["headers"], "X-Keep") == ["yes"]


def test_hop_by_hop_response_headers_stripped(tunnel):
    r = tunnel.request("GET", "/hop")
    assert r.status == 200, r
    got = names(r.headers)
    for h in ("keep-alive", "proxy-connection", "te", "upgrade", "trailer", "x-drop-me"):
        assert h not in got, "%s reached the public client: %r" % (h, r.headers)
    for v in r.all("Connection"):
        assert "x-drop-me" not in v.lower(), r.headers
    assert r.all("X-Keep") == ["yes"], r.headers
    assert r.body == b"hop\n"


# -- status codes and response headers ------------------------------------------------------------

@pytest.mark.parametrize("code", [200, 201, 202, 299, 400, 403, 404, 418, 500, 503])
def test_status_code_kept(tunnel, code):
    r = tunnel.request("GET", "/status?code=%d" % code)
    assert r.status == code, r
    assert r.body == b"status %d from upstream\n" % code, r
    assert r.header("X-Upstream-Tag") == tunnel.upstream.tag


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_passed_not_followed(tunnel, code):
    r = tunnel.request("GET", "/status?code=%d&location=/elsewhere%%3Fq%%3D1" % code)
    assert r.status == code, r
    assert r.header("Location") == "/elsewhere?q=1", r.headers


def test_set_cookie_twice_and_response_header_order(tunnel):
    r = tunnel.request("GET", "/cookies")
    assert r.status == 200, r
    assert r.all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/; HttpOnly"], r.headers
    got = [(k.lower(), v) for k, v in r.headers
           if k.lower() in ("set-cookie", "x-order", "x-mid")]
    assert got == [("set-cookie", "a=1; Path=/"), ("x-order", "first"),
                   ("set-cookie", "b=2; Path=/; HttpOnly"), ("x-mid", "middle"),
                   ("x-order", "second")], r.headers
    assert r.body == b"cookies\n"


def test_response_head_as_the_service_wrote_it(procs):
    """A bare service's own head lines, blanks around values, an empty value, and an obs-fold
    (which a recipient joins with one space, RFC 9112 section 5.2), all in their order."""
    gw = procs.gateway()
    svc = procs.tcp_service("http", extra=[
        "--head-line=X-One:   1  ", "--head-line=X-Empty:", "--head-line=X-Folded: one",
        "--head-line= two", "--head-line=\t three", "--head-line=x-one: again"])
    cl = procs.client(gw, svc.port)
    r = gw.request("GET", "/", cl.host, timeout=30)
    assert r.status == 200, r
    got = [(k, v) for k, v in r.headers if k.lower().startswith("x-")]
    got = [(k, v.strip(" \t")) for k, v in got]  # a recipient strips blanks around values
    assert got == [("X-One", "1"), ("X-Empty", ""), ("X-Folded", "one two three"),
                   ("x-one", "again")], r.headers
    assert r.header("Content-Type") == "text/plain"
    assert r.body == b"conn 1 req 1"


@pytest.mark.parametrize("lines,reason", [
    (["X-%d: v" % i for i in range(201)], "more than 200 header fields"),
    (["X-Bad : v"], "response head is malformed"),
    (["Content-Length: 12, 12"], "response head is malformed"),
])
def test_refused_response_head_is_a_502(procs, lines, reason):
    """A head the client will not forward (too many fields; a name with a blank before its
    colon, or a Content-Length that is not a number, which nginx also answers with 502)."""
    gw = procs.gateway()
    svc = procs.tcp_service("http", extra=["--head-line=" + line for line in lines])
    cl = procs.client(gw, svc.port)
    r = gw.request("GET", "/", cl.host, timeout=30)
    assert r.status == 502, r
    assert reason in r.text(), r.text()[:500]
    # The tunnel still serves the next request (here refused the same way).
    assert gw.request("GET", "/again", cl.host, timeout=30).status == 502


def test_interim_head_skipped_and_not_mixed_in(procs):
    """A 103 before the answer: the public client gets the final head alone, without the
    interim head's fields."""
    gw = procs.gateway()
    svc = procs.tcp_service("http", extra=["--interim", "--head-line=X-Final: yes"])
    cl = procs.client(gw, svc.port)
    for _ in range(2):
        r = gw.request("GET", "/", cl.host, timeout=30)
        assert r.status == 200, r
        assert r.header("X-Final") == "yes", r.headers
        assert r.header("Link") is None, r.headers
        assert r.body.startswith(b"conn 1 req "), r


def raw_no_body(tunnel, request_line):
    raw = H.raw_exchange(
        tunnel.gateway.http_port,
        ("%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
         % (request_line, tunnel.host)).encode(), timeout=10, quiet_after_head=2.0)
    return H.split_head(raw)


def test_head_keeps_content_length_and_has_no_body(tunnel):
    status, _, headers, rest = raw_no_body(tunnel, "HEAD /fixed?n=12345")
    assert status == 200
    assert H.header_of(headers, "Content-Length") == "12345", headers
    assert rest == b"", "HEAD response carried body bytes: %r" % rest[:200]


def test_head_via_http_client(tunnel):
    r = tunnel.request("HEAD", "/fixed?n=777")
    assert r.status == 200 and r.body == b""
    assert r.header("Content-Length") == "777", r.headers
    # And GET of the same resource returns exactly those bytes.
    r = tunnel.request("GET", "/fixed?n=777")
    assert r.body == pattern_bytes(777)


@pytest.mark.parametrize("code", [204, 304])
def test_no_body_statuses(tunnel, code):
    status, _, headers, rest = raw_no_body(tunnel, "GET /status?code=%d" % code)
    assert status == code
    assert rest == b"", "%d response carried body bytes: %r" % (code, rest[:200])
    assert "chunked" not in (H.header_of(headers, "Transfer-Encoding") or "").lower(), headers
    if code == 304:
        assert H.header_of(headers, "ETag") == '"etag-304-test"', headers


# -- request bodies ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 1000, 65536 + 7, 3 * 1024 * 1024 + 1])
def test_request_body_content_length(tunnel, size):
    body = os.urandom(size)
    j = echo(tunnel, method="POST", path="/upload", body=body)
    assert j["body_length"] == size
    assert j["body_sha256"] == hashlib.sha256(body).hexdigest()
    te = [v.lower() for v in values(j["headers"], "Transfer-Encoding")]
    cl = values(j["headers"], "Content-Length")
    assert not (te and cl), "both Transfer-Encoding and Content-Length upstream: %r" % j["headers"]
    if size and not te:
        assert cl == [str(size)], j["headers"]


def test_request_body_chunked(tunnel):
    sizes = [1, 10, 4096, 65536, 1_000_003, 7, 300_000]
    data = os.urandom(sum(sizes))
    chunks, pos = [], 0
    for s in sizes:
        chunks.append(data[pos:pos + s])
        pos += s
    r = H.request_chunked(tunnel.gateway.http_port, "POST", "/upload",
                          [("Host", tunnel.host), ("Content-Type", "application/octet-stream")],
                          chunks)
    assert r.status == 200, r
    j = r.json()
    assert j["body_length"] == len(data)
    assert j["body_sha256"] == hashlib.sha256(data).hexdigest()
    te = [v.lower() for v in values(j["headers"], "Transfer-Encoding")]
    cl = values(j["headers"], "Content-Length")
    assert not (te and cl), j["headers"]
    assert te == ["chunked"] or cl == [str(len(data))], \
        "upstream request has no valid framing: %r" % j["headers"]


def test_request_body_chunked_empty(tunnel):
    r = H.request_chunked(tunnel.gateway.http_port, "POST", "/upload",
                          [("Host", tunnel.host)], [])
    assert r.status == 200, r
    assert r.json()["body_length"] == 0


# -- response bodies ---------------------------------------------------------------------------

def test_response_body_content_length_large(tunnel):
    n = 5 * 1024 * 1024 + 11
    h = hashlib.sha256()
    total = [0]

    def sink(c):
        h.update(c)
        total[0] += len(c)

    r = H.request(tunnel.gateway.http_port, "GET", "/bytes?n=%d" % n,
                  [("Host", tunnel.host)], on_chunk=sink)
    assert r.status == 200, r
    assert total[0] == n
    assert h.hexdigest() == pattern_sha256(n)


def test_response_chunked(tunnel):
    r = tunnel.request("GET", "/chunked?count=50&size=10007")
    assert r.status == 200, r
    assert len(r.all("Transfer-Encoding")) <= 1, r.headers
    assert not (r.all("Transfer-Encoding") and r.all("Content-Length")), r.headers
    assert r.body == pattern_bytes(50 * 10007)


def test_response_close_delimited(tunnel):
    r = tunnel.request("GET", "/close-delimited?n=300001")
    assert r.status == 200, r
    assert r.body == pattern_bytes(300001)


def test_response_streams_sse(tunnel):
    """Event 1 must reach the public client while the local service is
    still holding back event 2."""
    sid = "sse-" + os.urandom(4).hex()
    conn = H.RawConn(tunnel.gateway.http_port, timeout=15)
    try:
        conn.send(("GET /sse?id=%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n"
                   % (sid, tunnel.host)).encode())
        ok = conn.read_until(lambda b: b"data: one" in b, 10)
        assert ok, ("first SSE event not received within 10s while the local service "
                    "waits before the second (response not streamed?); got %r" % conn.buf[:500])
        assert b"data: two" not in conn.buf
        status, _, headers, _ = H.split_head(conn.buf)
        assert status == 200
        assert (H.header_of(headers, "Content-Type") or "").startswith("text/event-stream")
        r = tunnel.upstream.direct("GET", "/release?id=%s" % sid)
        assert r.status == 200
        ok = conn.read_until(lambda b: b"data: two" in b, 10)
        assert ok, "second SSE event not received after release; got %r" % conn.buf[-500:]
        assert conn.buf.index(b"data: one") < conn.buf.index(b"data: two")
    finally:
        conn.close()
        tunnel.upstream.direct("GET", "/release?id=%s" % sid)


def test_response_chunks_stream_incrementally(tunnel):
    """A slow chunked response: the first chunk arrives long before the
    last is produced."""
    conn = H.RawConn(tunnel.gateway.http_port, timeout=15)
    try:
        conn.send(("GET /drip?n=3&interval_ms=1500 HTTP/1.1\r\nHost: %s\r\n\r\n"
                   % tunnel.host).encode())
        t0 = time.monotonic()
        assert conn.read_until(lambda b: b"tick 0" in b, 10), conn.buf
        first = time.monotonic() - t0
        assert b"tick 2" not in conn.buf
        assert conn.read_until(lambda b: b"tick 2" in b, 10), conn.buf
        last = time.monotonic() - t0
        assert first < 1.4 and last > 2.5, "first chunk at %.2fs, last at %.2fs" % (first, last)
    finally:
        conn.close()


# -- with curl as the public client ----------------------------------------------------------------

def curl(*args, timeout=60):
    p = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout)] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + 10)
    assert p.returncode == 0, "curl %r failed (%d): %s" % (args, p.returncode, p.stderr[-1000:])
    return p.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_headers_pass_through(tunnel):
    out = curl("-H", "Host: " + tunnel.host,
               "http://127.0.0.1:%d/echo?via=curl" % tunnel.gateway.http_port)
    j = json.loads(out)
    assert j["path"] == "/echo?via=curl"
    ua = values(j["headers"], "User-Agent")
    assert len(ua) == 1 and ua[0].startswith("curl/"), j["headers"]
    assert values(j["headers"], "Accept") == ["*/*"], j["headers"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_upload_with_expect_100_continue(tunnel, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 5)
    f = tmp_path / "upload.bin"
    f.write_bytes(data)
    # curl sends "Expect: 100-continue" for a body this large.
    out = curl("-H", "Host: " + tunnel.host, "-H", "Expect: 100-continue",
               "--data-binary", "@" + str(f),
               "http://127.0.0.1:%d/upload" % tunnel.gateway.http_port)
    j = json.loads(out)
    assert j["method"] == "POST"
    assert j["body_length"] == len(data)
    assert j["body_sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_chunked_upload(tunnel, tmp_path):
    data = os.urandom(1024 * 1024 + 17)
    f = tmp_path / "upload.bin"
    f.write_bytes(data)
    out = curl("-H", "Host: " + tunnel.host, "-H", "Transfer-Encoding: chunked",
               "--data-binary", "@" + str(f),
               "http://127.0.0.1:%d/upload" % tunnel.gateway.http_port)
    j = json.loads(out)
    assert j["body_length"] == len(data)
    assert j["body_sha256"] == hashlib.sha256(data).hexdigest()


def test_pooled_handles_carry_nothing_over(tunnel):
    # The client reuses libcurl handles: a sequence of different requests, one at a time, must
    # each arrive as sent (no HEAD's NOBODY, upload or custom method left from the one before).
    seq = [("HEAD", None), ("POST", b"x" * 1000), ("GET", None), ("DELETE", None),
           ("PUT", b"y" * 10), ("HEAD", None), ("GET", None), ("PATCH", b""), ("GET", None)]
    for method, body in seq:
        if method == "HEAD":
            r = tunnel.request("HEAD", "/fixed?n=50")
            assert r.status == 200 and r.body == b"", r
            assert r.header("Content-Length") == "50", r.headers
            continue
        j = echo(tunnel, method=method, path="/echo", body=body)
        assert j["method"] == method, (method, j)
        assert j["body_length"] == (len(body) if body is not None else 0), (method, j)
