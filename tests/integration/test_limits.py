"""Limits on the public side, each with its status, a page naming the limit, and a count in the
admin API: --max-body-size (413), --max-streams-per-tunnel (503), --request-head-timeout (408,
slowloris, with Debian's slowhttptest), bad values refused."""

import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from lib import http_util
from lib import procs as P


def only_tunnel(gw):
    (t,) = gw.tunnels()
    return gw.admin("GET", "/tunnels/" + t["id"]).json()


def test_max_body_size(procs):
    tun = procs.tunnel(gateway_args=("--max-body-size", "1K"))
    r = tun.request("POST", "/echo", body=b"x" * 1024)
    assert r.status == 200, r
    r = tun.request("POST", "/echo", body=b"x" * 1025)
    assert r.status == 413, r
    assert "max_body_size" in r.text() and "1025 bytes" in r.text(), r.text()
    # A chunked body that grows past the limit: 413 too, and the service never answers it.
    port = tun.gateway.http_port
    r = http_util.request_chunked(port, "POST", "/echo", [("Host", tun.client.host)],
                                  [b"y" * 600, b"y" * 600])
    assert r.status == 413, r
    assert "max_body_size" in r.text()
    assert only_tunnel(tun.gateway)["limits_hit"]["max_body_size"] == 2
    # Unlimited by default.
    tun2 = procs.tunnel()
    assert tun2.request("POST", "/echo", body=b"z" * 65536).status == 200


def test_max_streams_per_tunnel(procs):
    tun = procs.tunnel(gateway_args=("--max-streams-per-tunnel", "2"))
    results = []

    def held(i):
        results.append(tun.request("GET", "/hold?gate=g1&id=%d" % i, timeout=60).status)

    threads = [threading.Thread(target=held, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    P.wait_until(lambda: only_tunnel(tun.gateway)["streams"] == 2, 15,
                 "two requests in progress on the tunnel", procs.tails)
    r = tun.request("GET", "/echo")
    assert r.status == 503, r
    assert r.header("Retry-After") == "1", r
    assert "max_streams_per_tunnel" in r.text(), r.text()
    assert only_tunnel(tun.gateway)["limits_hit"]["max_streams_per_tunnel"] == 1
    assert tun.request("GET", "/release?id=g1").status == 503  # a third stream: refused too
    # Release the held ones directly at the service, then the tunnel takes requests again.
    assert tun.upstream.direct("GET", "/release?id=g1").status == 200
    for t in threads:
        t.join(60)
    assert results == [200, 200], results
    assert tun.request("GET", "/echo").status == 200


def read_until_closed(s, deadline_s):
    data = b""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            return data, True
        data += chunk
    return data, False


def test_request_head_timeout(procs):
    gw = procs.gateway("--request-head-timeout", "1")
    s = socket.create_connection(("127.0.0.1", gw.http_port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x.localhost\r\nX-Slow: a")  # and never the rest
    data, closed = read_until_closed(s, 20)
    s.close()
    assert closed, "the gateway kept a connection whose head never ended: %r" % data
    assert data.startswith(b"HTTP/1.1 408 "), data
    assert b"request_head_timeout" in data
    # A complete head in time is served as usual.
    assert gw.request("GET", "/", "nothing.localhost").status == 404


@pytest.mark.skipif(shutil.which("slowhttptest") is None, reason="needs slowhttptest")
def test_slowloris_leaves_others_served(procs):
    tun = procs.tunnel(gateway_args=("--request-head-timeout", "2"))
    port = tun.gateway.http_port
    # 300 slow-header connections at 100 a second, each sending a header line a second, for at
    # most 8 s: slowhttptest stops by itself.
    slow = procs.spawn("slowhttptest", ["slowhttptest", "-H", "-c", "300", "-r", "100", "-i", "1",
                                        "-x", "8", "-l", "8", "-p", "3",
                                        "-u", "http://127.0.0.1:%d/" % port])
    served = 0
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and slow.poll() is None:
        r = tun.request("GET", "/echo", timeout=10)
        assert r.status == 200, r
        served += 1
    assert served > 0
    assert slow.wait(60) == 0, slow.describe()
    out = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", "\n".join(slow.stdout_lines))  # no colours
    # slowhttptest's last status line: its connections were closed by the gateway.
    closed = [int(m) for m in re.findall(r"closed:\s+(\d+)", out)]
    assert closed and closed[-1] > 0, out[-2000:]
    assert tun.request("GET", "/echo").status == 200


def test_limit_values_refused(binaries):
    for flag, value, why in (("--max-body-size", "12Q", "expected a size"),
                             ("--max-streams-per-tunnel", "0", "at least 1"),
                             ("--request-head-timeout", "x", "request_head_timeout"),
                             ("--idle-timeout", "0", "at least 1 second")):
        r = P.run_cli([flag, value], binary_name="ngrnotokd")
        assert r.returncode == 2 and why in r.stderr, (flag, r.stderr)


def test_rate_limit(procs):
    # 1 a second with a burst of 3: the first three pass at once, the next is told to wait.
    tun = procs.tunnel("--rate-limit", "1/s", "--rate-burst", "3")
    statuses = [tun.request("GET", "/echo").status for _ in range(3)]
    assert statuses == [200, 200, 200], statuses
    r = tun.request("GET", "/echo")
    assert r.status == 429, r
    assert r.header("Retry-After") == "1", r
    assert "rate limit" in r.text() and "1 requests a second" in r.text(), r.text()
    info = only_tunnel(tun.gateway)
    assert info["limits_hit"]["rate_limit"] >= 1
    assert (info["protection"]["rate_per_s"], info["protection"]["rate_burst"]) == (1, 3)
    # After the wait it passes again.
    P.wait_until(lambda: tun.request("GET", "/echo").status == 200, 10,
                 "a request after the rate's wait", procs.tails)


def test_gateway_max_rate(procs):
    gw = procs.gateway("--max-rate", "5/s")
    up = procs.upstream()
    # Above the gateway's maximum: refused with the reason.
    r = P.run_cli(["http", "--server", gw.control_addr, "--rate-limit", "50/s", up.port],
                  timeout=15)
    assert r.returncode != 0 and "above this gateway's maximum of 5/s" in r.stderr, r.stderr
    r = P.run_cli(["http", "--server", gw.control_addr, "--rate-limit", "fast", up.port],
                  timeout=15)
    assert r.returncode != 0 and "--rate-limit" in r.stderr, r.stderr
    # No ask: the gateway's maximum is the tunnel's rate.
    cl = procs.client(gw, up.port)
    info = gw.admin("GET", "/tunnels/" + gw.tunnels()[0]["id"]).json()
    assert info["protection"]["rate_per_s"] == 5
    assert gw.request("GET", "/echo", cl.host).status == 200


def test_control_side_limits(procs):
    tok = "team-" + "a1b2c3d4e5f6"
    path = procs.tmpdir / "tokens"
    path.write_text(tok + "\n")
    gw = procs.gateway("--auth-tokens", path, "--max-tunnels-per-token", "2", "--max-tunnels", "3",
                       "--max-conns-per-ip", "4")
    up = procs.upstream()
    procs.client(gw, up.port, "--token", tok)
    procs.client(gw, up.port, "--token", tok)
    r = P.run_cli(["http", "--server", gw.control_addr, "--token", tok, up.port], timeout=15)
    assert r.returncode != 0 and "maximum of 2 tunnels (max_tunnels_per_token)" in r.stderr, \
        r.stderr
    other_path = procs.tmpdir / "tokens2"
    other_path.write_text("%s\nsecond-token-99\n" % tok)
    other_path.rename(path)
    gw.proc.send_signal(signal.SIGHUP)
    P.wait_until(lambda: "SIGHUP: 2 token(s)" in gw.proc.stderr_tail(), 10,
                 "the gateway to re-read its tokens", procs.tails)
    procs.client(gw, up.port, "--token", "second-token-99")
    r = P.run_cli(["http", "--server", gw.control_addr, "--token", "second-token-99", up.port],
                  timeout=15)
    assert r.returncode != 0 and "maximum of 3 tunnels (max_tunnels)" in r.stderr, r.stderr
    # Three control connections are open (the three tunnels) and a fourth is held open; a fifth
    # from the same address (accepted after it: the listen queue keeps their order) is refused
    # with the reason, whatever it asks.
    held = socket.create_connection(("127.0.0.1", gw.control_port), timeout=10)
    try:
        r = P.run_cli(["http", "--server", gw.control_addr, "--token", tok, up.port], timeout=15)
        assert r.returncode != 0 and "too many connections from your address" in r.stderr, \
            r.stderr
    finally:
        held.close()
    assert len(gw.tunnels()) == 3
