"""The admin API: GET /tunnels, GET /tunnels/{id}, errors."""

import datetime
import os
import re
import threading

import pytest

from lib import procs as P

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
FIELDS = {"id", "subdomain", "proto", "public_url", "client_addr", "created_at",
          "requests", "bytes_in", "bytes_out", "streams"}


def assert_json(r, status):
    assert r.status == status, "expected %d: %r" % (status, r)
    ct = (r.header("Content-Type") or "").lower()
    assert ct.startswith("application/json"), "Content-Type %r: %r" % (ct, r)
    return r.json()


def assert_json_error(r, status):
    j = assert_json(r, status)
    assert isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"], \
        "expected {\"error\": \"...\"}, got %r" % (j,)


def only_tunnel(gw):
    ts = gw.tunnels()
    assert len(ts) == 1, ts
    return ts[0]


def test_no_tunnels(gateway):
    j = assert_json(gateway.admin("GET", "/tunnels"), 200)
    assert j == {"tunnels": []}


def test_tunnel_object(tunnel):
    gw, c = tunnel.gateway, tunnel.client
    t = only_tunnel(gw)
    assert set(t) >= FIELDS, "missing fields: %r" % (FIELDS - set(t))
    assert t["subdomain"] == c.sub
    assert t["proto"] == "http"
    assert t["public_url"] == c.url
    assert isinstance(t["id"], (str, int)) and str(t["id"]) != ""
    assert isinstance(t["client_addr"], str) and t["client_addr"].startswith("127.0.0.1"), t
    # The client's address: "127.0.0.1" or "127.0.0.1:<its source port>".
    m = re.fullmatch(r"127\.0\.0\.1(?::(\d+))?", t["client_addr"])
    assert m, "client_addr should be the client's address, got %r" % t["client_addr"]
    if m.group(1):
        assert 0 < int(m.group(1)) < 65536 and int(m.group(1)) != gw.control_port, t
    assert RFC3339.match(t["created_at"]), t["created_at"]
    created = datetime.datetime.fromisoformat(t["created_at"].replace("Z", "+00:00"))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - created).total_seconds()) < 120, \
        "created_at %s is not about now (%s)" % (t["created_at"], now.isoformat())
    for k in ("requests", "bytes_in", "bytes_out", "streams"):
        assert isinstance(t[k], int) and not isinstance(t[k], bool) and t[k] >= 0, (k, t)
    assert t["requests"] == 0 and t["streams"] == 0, t


def test_tunnel_by_id(tunnel):
    gw = tunnel.gateway
    t = only_tunnel(gw)
    j = assert_json(gw.admin("GET", "/tunnels/%s" % t["id"]), 200)
    for k in ("id", "subdomain", "proto", "public_url", "client_addr", "created_at"):
        assert j[k] == t[k], (k, j, t)


def test_unknown_tunnel_id_404(tunnel):
    assert_json_error(tunnel.gateway.admin("GET", "/tunnels/does-not-exist-999"), 404)


@pytest.mark.parametrize("path", ["/", "/nope", "/tunnelsx", "/api/tunnels"])
def test_unknown_path_404(gateway, path):
    assert_json_error(gateway.admin("GET", path), 404)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_other_methods_405(gateway, method):
    assert_json_error(gateway.admin(method, "/tunnels", body=b"{}"), 405)


def test_post_on_tunnel_id_405(tunnel):
    t = only_tunnel(tunnel.gateway)
    assert_json_error(tunnel.gateway.admin("POST", "/tunnels/%s" % t["id"], body=b"{}"), 405)


def test_request_and_byte_counters(tunnel):
    gw = tunnel.gateway
    for _ in range(3):
        assert tunnel.request("GET", "/echo").status == 200
    P.wait_until(lambda: only_tunnel(gw)["requests"] >= 3, 3,
                 "requests counter to reach 3", gw.registry.tails)
    t = only_tunnel(gw)
    assert t["requests"] == 3, t
    up_body = os.urandom(100_000)
    assert tunnel.request("POST", "/upload", body=up_body).status == 200
    r = tunnel.request("GET", "/bytes?n=300000")
    assert r.status == 200 and len(r.body) == 300000
    P.wait_until(lambda: only_tunnel(gw)["requests"] >= 5, 3,
                 "requests counter to reach 5", gw.registry.tails)
    t = only_tunnel(gw)
    assert t["requests"] == 5, t
    # bytes_in: from the public side into the tunnel (requests);
    # bytes_out: back out to the public side (responses).
    assert t["bytes_in"] >= 100_000, t
    assert t["bytes_out"] >= 300_000, t
    assert t["bytes_in"] < 300_000, "bytes_in counts response bytes? %r" % t


def test_streams_counts_in_flight_requests(tunnel):
    gw = tunnel.gateway
    results = []

    def one(i):
        results.append(tunnel.request("GET", "/sleep?ms=2500&id=s%d" % i, timeout=20).status)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for th in threads:
        th.start()
    try:
        tunnel.upstream.proc.wait_stdout(r"^BEGIN-SLEEP s\d$", 10,
                                         "3 requests to reach the upstream", count=3)
        t = only_tunnel(gw)
        assert t["streams"] == 3, "3 requests in flight, admin says %r" % t
    finally:
        for th in threads:
            th.join(20)
    assert results == [200, 200, 200]
    P.wait_until(lambda: only_tunnel(gw)["streams"] == 0, 3, "streams to drop to 0",
                 gw.registry.tails)


def test_multiple_tunnels_listed_and_removed(procs):
    gw = procs.gateway()
    up = procs.upstream()
    a = procs.client(gw, up.port, "--subdomain", "list-a")
    b = procs.client(gw, up.port, "--subdomain", "list-b")
    ts = gw.tunnels()
    assert sorted(t["subdomain"] for t in ts) == ["list-a", "list-b"], ts
    assert len({str(t["id"]) for t in ts}) == 2, "ids not distinct: %r" % ts
    by_sub = {t["subdomain"]: t for t in ts}
    assert by_sub["list-a"]["public_url"] == a.url
    assert by_sub["list-b"]["public_url"] == b.url
    a_id = by_sub["list-a"]["id"]
    a.proc.stop()
    P.wait_until(lambda: [t["subdomain"] for t in gw.tunnels()] == ["list-b"], 3,
                 "list-a to disappear from GET /tunnels after its client stopped", procs.tails)
    assert_json_error(gw.admin("GET", "/tunnels/%s" % a_id), 404)


# -- the admin token ---------------------------------------------------------------

def admin_as(gw, auth):
    from lib import http_util
    headers = [("Host", "127.0.0.1:%d" % gw.admin_port)]
    if auth is not None:
        headers.append(("Authorization", auth))
    return http_util.request(gw.admin_port, "GET", "/tunnels", headers, timeout=15)


def test_admin_token(procs):
    import secrets
    tok = secrets.token_hex(16)
    gw = procs.gateway("--admin-token", tok)
    for auth in (None, "Bearer", "Bearer " + tok[:-1], "Bearer %sx" % tok, "Basic " + tok,
                 tok, "Bearer %s extra" % tok):
        r = admin_as(gw, auth)
        j = assert_json(r, 401)
        assert j["error"] == "unauthorized" and "Authorization: Bearer" in j["message"], j
        assert (r.header("WWW-Authenticate") or "").startswith("Bearer"), r
    for auth in ("Bearer " + tok, "bearer " + tok, "Bearer  " + tok):
        assert assert_json(admin_as(gw, auth), 200) == {"tunnels": []}
    # The token never reaches the log.
    gw.proc.stop()
    assert tok not in "\n".join(gw.proc.stderr_tail_lines)


def test_admin_token_file_and_sighup(procs):
    import secrets
    import signal
    old, new = secrets.token_hex(16), secrets.token_hex(16)
    path = procs.tmpdir / "admin-token"
    path.write_text("  %s \n" % old)
    gw = procs.gateway("--admin-token-file", path)
    assert admin_as(gw, "Bearer " + old).status == 200
    assert admin_as(gw, None).status == 401
    tmp = procs.tmpdir / "admin-token.new"
    tmp.write_text(new + "\n")
    tmp.rename(path)
    gw.proc.send_signal(signal.SIGHUP)
    P.wait_until(lambda: admin_as(gw, "Bearer " + new).status == 200, 10,
                 "the new admin token to be accepted after SIGHUP", procs.tails)
    assert admin_as(gw, "Bearer " + old).status == 401


def test_admin_addr_off_loopback_needs_token(binaries):
    # Refused before anything is bound.
    r = P.run_cli(["--control-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                   "--admin-addr", "0.0.0.0:0"], binary_name="ngrnotokd")
    assert r.returncode != 0
    assert "admin API on 0.0.0.0:0 without a token" in r.stderr, r.stderr
    assert "--admin-token" in r.stderr and "127.0.0.1" in r.stderr, r.stderr


def test_admin_addr_other_loopback_needs_no_token(procs):
    gw = procs.gateway("--control-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                       "--admin-addr", "127.0.0.2:0", default_addrs=False)
    assert gw.proc.poll() is None  # 127.0.0.0/8 is loopback: no token needed
