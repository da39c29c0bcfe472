"""Routing on the public HTTP listener and the gateway's error pages."""

import signal
import socket
import time

import pytest

from lib import http_util as H
from lib import procs as P


def assert_html_error(r, status):
    assert r.status == status, "expected %d, got %r" % (status, r)
    ct = r.header("Content-Type") or ""
    assert ct.lower().startswith("text/html"), \
        "error page Content-Type should be text/html, got %r (%r)" % (ct, r)


def test_unknown_subdomain_404_names_it(tunnel):
    gw = tunnel.gateway
    r = gw.request("GET", "/some/path", "no-such-tunnel.localhost:%d" % gw.http_port)
    assert_html_error(r, 404)
    assert b"no-such-tunnel" in r.body, "404 page does not name the subdomain: %r" % r.body


def test_unknown_subdomain_404_without_any_tunnel(gateway):
    r = gateway.request("GET", "/", "ghost-42.localhost:%d" % gateway.http_port)
    assert_html_error(r, 404)
    assert b"ghost-42" in r.body, r.body


def test_routes_to_tunnel(tunnel):
    r = tunnel.request("GET", "/echo")
    assert r.status == 200, r
    assert r.json()["tag"] == tunnel.upstream.tag
    assert r.header("X-Upstream-Tag") == tunnel.upstream.tag


def test_host_matching_is_case_insensitive_with_and_without_port(tunnel):
    gw, sub = tunnel.gateway, tunnel.client.sub
    for host in ("%s.LOCALHOST:%d" % (sub.upper(), gw.http_port),
                 "%s.LocalHost:%d" % (sub, gw.http_port),
                 "%s.localhost:%d" % (sub, gw.http_port),
                 "%s.localhost" % sub,
                 "%s.LOCALHOST" % sub.upper()):
        r = gw.request("GET", "/echo", host)
        assert r.status == 200, "Host %r: %r" % (host, r)
        assert r.json()["tag"] == tunnel.upstream.tag, "Host %r routed elsewhere" % host


def test_two_tunnels_routed_by_host(procs):
    gw = procs.gateway()
    a, b = procs.upstream("tag-a"), procs.upstream("tag-b")
    ca = procs.client(gw, a.port, "--subdomain", "alpha")
    cb = procs.client(gw, b.port, "--subdomain", "beta")
    assert gw.request("GET", "/", ca.host).json()["tag"] == "tag-a"
    assert gw.request("GET", "/", cb.host).json()["tag"] == "tag-b"


def test_http10_without_host_400(gateway):
    raw = H.raw_exchange(gateway.http_port, b"GET / HTTP/1.0\r\n\r\n", timeout=10)
    status, _, headers, _ = H.split_head(raw)
    assert status == 400, "HTTP/1.0 without Host: %r" % raw[:300]
    assert (H.header_of(headers, "Content-Type") or "").lower().startswith("text/html"), headers


def test_http11_without_host_400(gateway):
    raw = H.raw_exchange(gateway.http_port,
                         b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", timeout=10)
    status, _, headers, _ = H.split_head(raw)
    assert status == 400, "HTTP/1.1 without Host: %r" % raw[:300]


@pytest.mark.parametrize("host", ["", "foo bar.localhost", "sub.localhost:abc",
                                  "foo/bar.localhost", "sub.localhost:80:80"],
                         ids=["empty", "space", "nonnumeric-port", "slash", "two-ports"])
def test_invalid_host_400(tunnel, host):
    r = tunnel.gateway.request("GET", "/", host)
    assert_html_error(r, 400)


def test_local_service_unreachable_502(procs):
    gw = procs.gateway()
    dead = P.free_port()
    c = procs.client(gw, dead, "--subdomain", "deadend")
    r = gw.request("GET", "/echo", c.host)
    assert_html_error(r, 502)
    assert b"unreachable" in r.body.lower(), "502 page should say 'unreachable': %r" % r.body
    # The tunnel stays up; once something listens on the port it works.
    try:
        up = procs.upstream("late", port=dead)
    except AssertionError:
        pytest.skip("could not re-bind port %d for the second half of the test" % dead)
    r = gw.request("GET", "/echo", c.host)
    assert r.status == 200, "after the local service started: %r" % r
    assert r.json()["tag"] == up.tag


def test_response_timeout_504(procs):
    gw = procs.gateway("--response-timeout", "1")
    up = procs.upstream()
    c = procs.client(gw, up.port)
    t0 = time.monotonic()
    r = gw.request("GET", "/slow-head?ms=6000", c.host, timeout=20)
    elapsed = time.monotonic() - t0
    assert_html_error(r, 504)
    assert 0.8 <= elapsed <= 4.5, "504 after %.2fs with --response-timeout 1" % elapsed
    # The tunnel still works afterwards.
    assert gw.request("GET", "/echo", c.host).status == 200


def test_response_timeout_decimal(procs):
    gw = procs.gateway("--response-timeout", "0.5")
    up = procs.upstream()
    c = procs.client(gw, up.port)
    t0 = time.monotonic()
    r = gw.request("GET", "/slow-head?ms=4000", c.host, timeout=20)
    elapsed = time.monotonic() - t0
    assert_html_error(r, 504)
    assert 0.4 <= elapsed <= 2.5, "504 after %.2fs with --response-timeout 0.5" % elapsed


def test_response_timeout_applies_to_head_only(procs):
    gw = procs.gateway("--response-timeout", "1")
    up = procs.upstream()
    c = procs.client(gw, up.port)
    r = gw.request("GET", "/sleep?ms=300", c.host)
    assert r.status == 200, "a 0.3s response under a 1s timeout: %r" % r
    # Head at once, body over ~2.4s: must not be cut by the head timeout.
    t0 = time.monotonic()
    r = gw.request("GET", "/drip?n=4&interval_ms=800", c.host, timeout=20)
    elapsed = time.monotonic() - t0
    assert r.status == 200, r
    assert r.body == b"tick 0\ntick 1\ntick 2\ntick 3\n", r.body
    assert elapsed >= 2.0, "drip finished too fast (%.2fs)?" % elapsed


def test_tunnel_gone_mid_stream_truncates(procs):
    """Client killed after the response head (and one event) was sent: the
    public connection must end (reset or truncated), not hang or look
    complete."""
    # No holding: the killed client's name is a 404 at once (held requests: test_reconnect.py).
    gw = procs.gateway("--hold-requests", "0")
    up = procs.upstream()
    c = procs.client(gw, up.port)
    conn = H.RawConn(gw.http_port, timeout=15)
    try:
        conn.send(("GET /sse?id=gone HTTP/1.1\r\nHost: %s\r\n\r\n" % c.host).encode())
        got1 = conn.read_until(lambda b: b"data: one" in b, 10)
        assert got1, "did not receive the first event; got %r" % conn.buf[:500]
        c.proc.send_signal(signal.SIGKILL)
        ended = conn.read_until(lambda b: False, 8)
        assert not ended
        assert conn.eof, ("public connection still open 8s after the client was "
                          "SIGKILLed mid-response; got %r" % conn.buf[-300:])
        assert b"data: two" not in conn.buf
        status, _, headers, rest = H.split_head(conn.buf)
        assert status == 200
        te = (H.header_of(headers, "Transfer-Encoding") or "").lower()
        cl = H.header_of(headers, "Content-Length")
        if "chunked" in te:
            _, complete = H.dechunk(rest)
            assert not complete, ("chunked response ended with a terminating chunk "
                                  "although the tunnel died: %r" % rest[-200:])
        elif cl is not None:
            assert len(rest) < int(cl), "full Content-Length delivered?"
    finally:
        conn.close()
        up.direct("GET", "/release?id=gone")
    # The dead tunnel's subdomain is now unknown.
    P.wait_until(lambda: gw.request("GET", "/", c.host).status == 404, 5,
                 "404 for the killed client's subdomain", procs.tails)


def test_oversized_request_head_431_and_gateway_serves_on(tunnel):
    """A request head larger than a public connection's memory gets libmicrohttpd's 431 (and
    never reaches the local service); a large but reasonable head passes, and the gateway
    serves on."""
    r = tunnel.request("GET", "/echo", headers=[("X-Big", "a" * 60000)])
    assert r.status == 431, r
    r = tunnel.request("GET", "/echo", headers=[("X-Big", "b" * 12000)])
    assert r.status == 200, r
    got = [v for k, v in r.json()["headers"] if k.lower() == "x-big"]
    assert got == ["b" * 12000], "12 KB header field changed on the way: %d values" % len(got)


def test_client_response_timeout_up_to_the_gateways(procs):
    """A long poll is not cut by the default (300 s); a tunnel may ask for its own timeout, up
    to the gateway's; every 504 is logged on both sides."""
    gw = procs.gateway()
    up = procs.upstream()
    c = procs.client(gw, up.port, "--response-timeout", "1")
    r = gw.request("GET", "/slow-head?ms=6000", c.host, timeout=20)
    assert_html_error(r, 504)
    assert b"did not answer within 1.0 seconds" in r.body, r.body
    P.wait_until(lambda: "no response head within 1.0 s (response timeout); answered 504"
                 in gw.proc.stderr_tail(100), 10, "the gateway's log of the 504")
    P.wait_until(lambda: "/slow-head?ms=6000: the gateway answered 504: no response head "
                 "within 1.0 s" in c.proc.stderr_tail(100), 10, "the client's log of the 504")
    small = procs.gateway("--response-timeout", "5")
    r = P.run_cli(["http", "--server", small.control_addr, "--response-timeout", "60",
                   str(up.port)])
    assert r.returncode == 1, r
    assert "response timeout 60.0 s is above this gateway's maximum of 5.0 s" in r.stderr, \
        r.stderr
