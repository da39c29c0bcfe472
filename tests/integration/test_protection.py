"""Per-tunnel protection, asked for by the client and enforced by the gateway before a byte
reaches it: --basic-auth (401), --allow-cidr / --deny-cidr (403; a TCP connection closed), the
gateway-wide --deny-cidr, their counts and flags in the admin API, and refusals of bad values.
The tests reach the gateway from 127.0.0.1 (and ::1 is never used), so the ranges are chosen
around that address."""

import base64
import socket

from lib import procs as P


def basic(cred):
    return "Basic " + base64.b64encode(cred.encode()).decode()


def tunnel_info(gw):
    (t,) = gw.tunnels()
    return gw.admin("GET", "/tunnels/" + t["id"]).json()


def test_basic_auth(procs):
    tun = procs.tunnel("--basic-auth", "alice:s3cret:x", "--basic-auth", "bob:hunter2")
    r = tun.request("GET", "/echo")
    assert r.status == 401, r
    assert (r.header("WWW-Authenticate") or "").startswith("Basic realm="), r
    assert "HTTPS" in r.text(), r.text()
    for cred in ("alice:wrong", "bob:s3cret:x", "carol:hunter2"):
        assert tun.request("GET", "/echo", headers=[("Authorization", basic(cred))]).status == 401
    for cred in ("alice:s3cret:x", "bob:hunter2"):
        r = tun.request("GET", "/echo", headers=[("Authorization", basic(cred))])
        assert r.status == 200, r
        # The credentials were the gateway's to check: the local service never sees them.
        names = [k.lower() for k, _ in r.json()["headers"]]
        assert "authorization" not in names, r.json()["headers"]
    info = tunnel_info(tun.gateway)
    assert info["protection"]["basic_auth"] is True
    assert info["limits_hit"]["basic_auth"] == 4
    # The gateway's memory holds no password: only a salted hash (unit-tested); its log none.
    tun.gateway.proc.stop()
    log = "\n".join(tun.gateway.proc.stderr_tail_lines)
    assert "s3cret" not in log and "hunter2" not in log


def test_allow_and_deny_cidr(procs):
    up = procs.upstream()
    gw = procs.gateway()
    # Visitors come from 127.0.0.1 here.
    cl = procs.client(gw, up.port, "--subdomain", "allowed", "--allow-cidr", "127.0.0.0/8",
                      "--deny-cidr", "127.0.0.2")
    assert gw.request("GET", "/echo", cl.host).status == 200
    other = procs.client(gw, up.port, "--subdomain", "elsewhere", "--allow-cidr", "10.0.0.0/8",
                         "--allow-cidr", "2001:db8::/32")
    r = gw.request("GET", "/echo", other.host)
    assert r.status == 403 and "127.0.0.1" in r.text(), r
    denied = procs.client(gw, up.port, "--subdomain", "denied", "--deny-cidr", "127.0.0.1/32")
    assert gw.request("GET", "/echo", denied.host).status == 403
    by_name = {t["subdomain"]: gw.admin("GET", "/tunnels/" + t["id"]).json()
               for t in gw.tunnels()}
    assert by_name["elsewhere"]["limits_hit"]["address"] == 1
    assert by_name["elsewhere"]["protection"]["allow_cidr"] == 2
    assert by_name["allowed"]["protection"] == {"basic_auth": False, "allow_cidr": 1,
                                                "deny_cidr": 1, "rate_per_s": 0,
                                                "rate_burst": 0}


def test_gateway_wide_deny(procs):
    tun = procs.tunnel(gateway_args=("--deny-cidr", "10.0.0.0/8", "--deny-cidr", "127.0.0.1"))
    r = tun.request("GET", "/echo")
    assert r.status == 403 and "does not serve your address" in r.text(), r
    r = tun.gateway.request("GET", "/", "nosuch.localhost")  # before routing too
    assert r.status == 403


def test_tcp_tunnel_address_rules(procs):
    gw = procs.tcp_gateway()
    svc = procs.tcp_service("echo")
    cl = procs.tcp_client(gw, svc.port, "--deny-cidr", "127.0.0.0/8")
    s = cl.connect()
    s.settimeout(10)
    try:
        s.sendall(b"hello")
        got = s.recv(100)
    except ConnectionResetError:
        got = b""  # closed with our bytes unread: a reset
    assert got == b"", "a denied visitor's connection reached the local service"
    s.close()
    assert tunnel_info(gw)["limits_hit"]["address"] == 1
    ok = procs.tcp_client(gw, svc.port, "--allow-cidr", "127.0.0.1")
    s = ok.connect()
    s.settimeout(10)
    s.sendall(b"hello")
    got = b""
    while len(got) < 5:
        chunk = s.recv(100)
        assert chunk, "the allowed visitor's connection was closed"
        got += chunk
    assert got == b"hello"
    s.close()


def test_protection_values_refused(procs):
    gw = procs.tcp_gateway()
    for args, why in ((["http", "--basic-auth", "nocolon", "3000"], "USER:PASSWORD"),
                      (["http", "--basic-auth", ":pw", "3000"], "USER:PASSWORD"),
                      (["http", "--allow-cidr", "10.0.0.0/33", "3000"], "0-32"),
                      (["http", "--deny-cidr", "example.com", "3000"], "not an IPv4 or IPv6"),
                      (["tcp", "--basic-auth", "a:b", "3000"], "for HTTP tunnels")):
        r = P.run_cli(args[:1] + ["--server", gw.control_addr] + args[1:], timeout=15)
        assert r.returncode != 0 and why in r.stderr, (args, r.stderr)
    r = P.run_cli(["--deny-cidr", "300.0.0.0/8"], binary_name="ngrnotokd")
    assert r.returncode == 2 and "deny_cidr" in r.stderr, r.stderr
    assert gw.tunnels() == []
