"""The public HTTPS listener (--https-addr, --https-cert, --https-key): requests through a tunnel
over TLS with a wildcard certificate for *.DOMAIN, https:// public URLs, X-Forwarded-Proto,
--http-redirect's 308, certificates re-read on SIGHUP, and refusals of bad settings. A CA and
certificates are made at run time with openssl."""

import http.client
import json
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from lib import procs as P

DOMAIN = "tunnel.test"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def run(*argv, cwd):
    subprocess.run([str(a) for a in argv], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d):
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=ngrnotok test CA",
        "-days", "2", cwd=d)
    return d / "ca.pem"


def make_cert(d, stem, cn, serial):
    """A certificate for *.DOMAIN signed by the CA in d: (cert path, key path)."""
    (d / (stem + ".ext")).write_text("subjectAltName=DNS:*.%s,DNS:%s\n" % (DOMAIN, DOMAIN))
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", stem + ".key", "-out", stem + ".csr", "-subj", "/CN=" + cn, cwd=d)
    run("openssl", "x509", "-req", "-in", stem + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-set_serial", str(serial), "-out", stem + ".pem", "-days", "2", "-extfile",
        stem + ".ext", cwd=d)
    return d / (stem + ".pem"), d / (stem + ".key")


@pytest.fixture
def pki(procs):
    d = procs.tmpdir / "pki"
    d.mkdir()
    ca = make_ca(d)
    cert, key = make_cert(d, "gw", "*." + DOMAIN, 1001)
    return {"dir": d, "ca": ca, "cert": cert, "key": key}


def https_gateway(procs, pki, *extra):
    gw = procs.gateway("--domain", DOMAIN, "--https-addr", "127.0.0.1:0",
                       "--https-cert", pki["cert"], "--https-key", pki["key"], *extra)
    ports = gw.ports
    assert "https" in ports, "the ports file has no https= line: %r" % ports
    gw.https_port = ports["https"]
    return gw


def tls_get(pki, port, host, path="/echo", timeout=15):
    """GET over TLS to 127.0.0.1:port with SNI and certificate checks for host: (status, body,
    peer certificate serial)."""
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    with ctx.wrap_socket(raw, server_hostname=host) as s:
        serial = int(s.getpeercert()["serialNumber"], 16)
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.sock = s
        conn.request("GET", path, headers={"Host": "%s:%d" % (host, port)})
        r = conn.getresponse()
        return r.status, r.read(), serial


def test_https_through_a_tunnel(procs, pki):
    gw = https_gateway(procs, pki)
    up = procs.upstream()
    cl = procs.client(gw, up.port, "--subdomain", "app")
    assert cl.url == "https://app.%s:%d" % (DOMAIN, gw.https_port), cl.line
    assert [t["public_url"] for t in gw.tunnels()] == [cl.url]
    host = "app." + DOMAIN
    status, body, serial = tls_get(pki, gw.https_port, host, "/echo?x=1")
    assert status == 200 and serial == 1001, (status, body)
    seen = json.loads(body)
    assert seen["tag"] == up.tag and seen["path"] == "/echo?x=1", seen
    fwd = {k.lower(): v for k, v in seen["headers"]}
    assert fwd.get("x-forwarded-proto") == "https", seen["headers"]
    # curl, checking the certificate against the CA and the name.
    r = subprocess.run(["curl", "-sS", "--cacert", str(pki["ca"]), "--resolve",
                        "%s:%d:127.0.0.1" % (host, gw.https_port),
                        "https://%s:%d/echo" % (host, gw.https_port)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and json.loads(r.stdout)["tag"] == up.tag, r.stderr
    # Plain HTTP still answers (no redirect asked for), and says http.
    r = gw.request("GET", "/echo", "%s:%d" % (host, gw.http_port))
    assert r.status == 200
    fwd = {k.lower(): v for k, v in r.json()["headers"]}
    assert fwd.get("x-forwarded-proto") == "http"
    # A name the certificate does not cover fails the check (the gateway still has one cert).
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_get(pki, gw.https_port, "app.elsewhere.test")


def test_http_redirect(procs, pki):
    gw = https_gateway(procs, pki, "--http-redirect")
    up = procs.upstream()
    procs.client(gw, up.port, "--subdomain", "app")
    r = gw.request("GET", "/a/b?c=d", "app.%s:%d" % (DOMAIN, gw.http_port))
    assert r.status == 308, r
    assert r.header("Location") == "https://app.%s:%d/a/b?c=d" % (DOMAIN, gw.https_port), r
    # A Host that is not ours is refused as before, never redirected.
    r = gw.request("GET", "/", "evil.example.com")
    assert r.status == 404 and r.header("Location") is None, r
    r = gw.request("GET", "/", None)
    assert r.status == 400
    status, _, _ = tls_get(pki, gw.https_port, "app." + DOMAIN)
    assert status == 200


def test_certificate_reread_on_sighup(procs, pki):
    gw = https_gateway(procs, pki)
    up = procs.upstream()
    procs.client(gw, up.port, "--subdomain", "app")
    host = "app." + DOMAIN
    assert tls_get(pki, gw.https_port, host)[2] == 1001
    # A renewal (as certbot does: new files in place), then SIGHUP: new handshakes get it.
    cert, key = make_cert(pki["dir"], "renewed", "*." + DOMAIN, 2002)
    shutil.copy(cert, pki["cert"])
    shutil.copy(key, pki["key"])
    gw.proc.send_signal(signal.SIGHUP)
    P.wait_until(lambda: tls_get(pki, gw.https_port, host)[2] == 2002, 10,
                 "handshakes to present the renewed certificate", procs.tails)
    # A broken renewal is not applied: the last good certificate stays.
    pki["key"].write_text("not a key\n")
    gw.proc.send_signal(signal.SIGHUP)
    P.wait_until(lambda: "the certificate in use is kept" in gw.proc.stderr_tail(), 10,
                 "the warning about the broken key", procs.tails)
    assert tls_get(pki, gw.https_port, host)[:2][0] == 200
    assert gw.proc.poll() is None


def test_plain_http_to_https_port_is_closed(procs, pki):
    gw = https_gateway(procs, pki)
    s = socket.create_connection(("127.0.0.1", gw.https_port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: app.%s\r\n\r\n" % DOMAIN.encode())
    deadline = time.monotonic() + 10
    data = b""
    while time.monotonic() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    else:
        pytest.fail("the HTTPS port kept a plain HTTP connection open")
    s.close()
    assert not data.startswith(b"HTTP/1.1 200")
    assert gw.request("GET", "/", "x." + DOMAIN).status == 404  # still serving


def test_https_settings_refused(procs, pki):
    base = ["--control-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--admin-addr",
            "127.0.0.1:0", "--domain", DOMAIN]
    r = P.run_cli(base + ["--https-addr", "127.0.0.1:0"], binary_name="ngrnotokd")
    assert r.returncode != 0 and "--https-cert FILE --https-key FILE" in r.stderr, r.stderr
    r = P.run_cli(base + ["--https-cert", pki["cert"], "--https-key", pki["key"]],
                  binary_name="ngrnotokd")
    assert r.returncode != 0 and "need https_addr" in r.stderr, r.stderr
    r = P.run_cli(base + ["--http-redirect"], binary_name="ngrnotokd")
    assert r.returncode != 0 and "no HTTPS to redirect to" in r.stderr, r.stderr
    other_cert, other_key = make_cert(pki["dir"], "other", "*." + DOMAIN, 3003)
    r = P.run_cli(base + ["--https-addr", "127.0.0.1:0", "--https-cert", pki["cert"],
                          "--https-key", other_key], binary_name="ngrnotokd")
    assert r.returncode != 0 and "https certificate" in r.stderr, r.stderr
    assert str(pki["cert"]) in r.stderr, r.stderr
