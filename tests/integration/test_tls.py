"""TLS on the control connection: the gateway with --tls-cert/--tls-key, the client with --tls and
--ca. A tunnel over TLS end to end (HTTP and TCP, an 8 MiB download checked by sha256), the
readable refusals both ways between a plain end and a TLS one, certificates that fail
verification (an unknown CA, another host name), the control certificate re-read on SIGHUP
while a tunnel stays up, and HTTPS defaulting to the control certificate. A CA and certificates
are made at run time with openssl, for 127.0.0.1 and localhost."""

import hashlib
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from lib import http_util as H
from lib import procs as P
from lib.upstream import pattern_sha256

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

DOMAIN = "tunnel.test"
READABLE_S = 8  # a refusal must come well before any deadline of 10 s


def run(*argv, cwd):
    subprocess.run([str(a) for a in argv], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, stem="ca", cn="ngrnotok test CA"):
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", stem + ".key", "-out", stem + ".pem", "-subj", "/CN=" + cn,
        "-days", "2", cwd=d)
    return d / (stem + ".pem")


def make_cert(d, stem, sans, serial, ca="ca"):
    """A certificate for sans ("DNS:x,IP:y") signed by the CA ca in d: (cert path, key path)."""
    (d / (stem + ".ext")).write_text("subjectAltName=%s\n" % sans)
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", stem + ".key", "-out", stem + ".csr", "-subj", "/CN=" + stem, cwd=d)
    run("openssl", "x509", "-req", "-in", stem + ".csr", "-CA", ca + ".pem", "-CAkey",
        ca + ".key", "-set_serial", str(serial), "-out", stem + ".pem", "-days", "2",
        "-extfile", stem + ".ext", cwd=d)
    return d / (stem + ".pem"), d / (stem + ".key")


LOOPBACK_SANS = "DNS:localhost,IP:127.0.0.1,DNS:*.%s,DNS:%s" % (DOMAIN, DOMAIN)


@pytest.fixture
def pki(procs):
    d = procs.tmpdir / "pki"
    d.mkdir()
    ca = make_ca(d)
    cert, key = make_cert(d, "gw", LOOPBACK_SANS, 1001)
    return {"dir": d, "ca": ca, "cert": cert, "key": key}


def tls_gateway(procs, pki, *extra, cert=None, key=None, tcp=False):
    args = ("--domain", DOMAIN, "--tls-cert", cert or pki["cert"], "--tls-key", key or pki["key"])
    if tcp:
        return procs.tcp_gateway(*(args + extra))
    return procs.gateway(*(args + extra))


def control_serial(pki, gw, host="localhost"):
    """The serial of the certificate a new TLS connection to the control port is shown."""
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    raw = socket.create_connection(("127.0.0.1", gw.control_port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname=host) as s:
        return int(s.getpeercert()["serialNumber"], 16)


def timed_cli(args):
    t0 = time.monotonic()
    r = P.run_cli(args)
    return r, time.monotonic() - t0


def download_sha256(gw, host, n):
    h = hashlib.sha256()
    total = [0]

    def sink(chunk):
        h.update(chunk)
        total[0] += len(chunk)

    r = H.request(gw.http_port, "GET", "/bytes?n=%d" % n, [("Host", host)], timeout=60,
                  on_chunk=sink)
    return r, total[0], h.hexdigest()


def test_tunnel_over_tls(procs, pki):
    gw = tls_gateway(procs, pki)
    P.wait_until(lambda: "control %s (TLS)" % gw.control_addr in gw.proc.stderr_tail(), 10,
                 "the gateway's startup line saying TLS", procs.tails)
    up = procs.upstream()
    cl = procs.client(gw, up.port, "--tls", "--ca", pki["ca"], "--subdomain", "app")
    r = gw.request("GET", "/echo?x=1", cl.host)
    assert r.status == 200, r
    seen = r.json()
    assert seen["tag"] == up.tag and seen["path"] == "/echo?x=1", seen
    # A body both ways.
    body = bytes(range(256)) * 400
    r = gw.request("POST", "/upload", cl.host, [("Content-Type", "application/octet-stream")],
                   body)
    assert r.status == 200 and r.json()["body_sha256"] == hashlib.sha256(body).hexdigest(), r
    # 8 MiB down through the TLS control connection, every byte checked.
    n = 8 << 20
    r, total, digest = download_sha256(gw, cl.host, n)
    assert r.status == 200 and total == n, (r, total)
    assert digest == pattern_sha256(n), "downloaded data corrupted"
    assert cl.proc.poll() is None and gw.proc.poll() is None
    assert [t["public_url"] for t in gw.tunnels()] == [cl.url]


def test_tcp_tunnel_over_tls(procs, pki):
    gw = tls_gateway(procs, pki, tcp=True)
    svc = procs.tcp_service("echo")
    cl = procs.tcp_client(gw, svc.port, "--tls", "--ca", pki["ca"])
    with cl.connect() as s:
        s.sendall(b"hello through TLS\n")
        data = b""
        deadline = time.monotonic() + 10
        while not data.endswith(b"\n") and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data == b"hello through TLS\n", data


def test_client_without_ca_fails_verification(procs, pki):
    gw = tls_gateway(procs, pki)
    r, took = timed_cli(["http", "--server", gw.control_addr, "--tls", "3000"])
    assert r.returncode == 1, r
    assert took < READABLE_S, took
    err = r.stderr
    assert "TLS handshake with %s failed: the gateway's certificate is not trusted" % (
        gw.control_addr) in err, err
    assert "issuer is unknown" in err and "--ca FILE" in err, err
    # The gateway is told why and keeps serving.
    P.wait_until(lambda: "TLS handshake failed" in gw.proc.stderr_tail(), 10,
                 "the gateway's log line about the refused handshake", procs.tails)
    assert gw.proc.poll() is None


def test_wrong_host_name_fails(procs, pki):
    other_cert, other_key = make_cert(pki["dir"], "other", "DNS:gateway.elsewhere.test", 3003)
    gw = tls_gateway(procs, pki, cert=other_cert, key=other_key)
    r, took = timed_cli(["http", "--server", gw.control_addr, "--ca", pki["ca"], "3000"])
    assert r.returncode == 1 and took < READABLE_S, (r, took)
    assert "certificate is not trusted" in r.stderr, r.stderr
    assert "does not match" in r.stderr, r.stderr
    assert "--ca FILE" not in r.stderr, r.stderr  # a CA was given: that is not the hint


def test_plain_client_to_tls_port(procs, pki):
    gw = tls_gateway(procs, pki)
    r, took = timed_cli(["http", "--server", gw.control_addr, "3000"])
    assert r.returncode == 1 and took < READABLE_S, (r, took)
    assert ("this gateway's control port speaks TLS: run ngrnotok with --tls (and --ca FILE "
            "for a private CA)") in r.stderr, r.stderr
    P.wait_until(lambda: "a plain client on the TLS control port" in gw.proc.stderr_tail(), 10,
                 "the gateway's log line", procs.tails)
    # An HTTP client on the TLS control port gets the same words as on a plain one.
    s = H.RawConn(gw.control_port)
    s.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s.read_until(lambda d: False, 10)  # until the gateway closes
    data = s.buf
    s.close()
    assert s.eof, data
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data
    assert b"This is the control port of an ngrnotok gateway" in data, data


def test_tls_client_to_plain_gateway(procs, pki):
    gw = procs.gateway()
    r, took = timed_cli(["http", "--server", gw.control_addr, "--ca", pki["ca"], "3000"])
    assert r.returncode == 1 and took < READABLE_S, (r, took)
    assert ("TLS handshake with %s failed: the gateway closed the connection; it may not speak "
            "TLS on this port (run without --tls)" % gw.control_addr) in r.stderr, r.stderr
    P.wait_until(lambda: "TLS client on the control port" in gw.proc.stderr_tail(), 10,
                 "the gateway's log line", procs.tails)


def test_control_certificate_reread_on_sighup(procs, pki):
    gw = tls_gateway(procs, pki)
    up = procs.upstream()
    cl = procs.client(gw, up.port, "--tls", "--ca", pki["ca"], "--subdomain", "app")
    assert control_serial(pki, gw) == 1001
    # A renewal in place, then SIGHUP: new connections get it, the tunnel stays up.
    cert, key = make_cert(pki["dir"], "renewed", LOOPBACK_SANS, 2002)
    shutil.copy(cert, pki["cert"])
    shutil.copy(key, pki["key"])
    gw.proc.send_signal(signal.SIGHUP)
    P.wait_until(lambda: control_serial(pki, gw) == 2002, 10,
                 "new control connections to present the renewed certificate", procs.tails)
    P.wait_until(lambda: "SIGHUP: control TLS certificate re-read" in gw.proc.stderr_tail(), 10,
                 "the gateway's log line about the reload", procs.tails)
    assert cl.proc.poll() is None, cl.proc.describe()
    r = gw.request("GET", "/echo", cl.host)
    assert r.status == 200 and r.json()["tag"] == up.tag, r
    # A new client connects with the renewed certificate.
    up2 = procs.upstream()
    cl2 = procs.client(gw, up2.port, "--tls", "--ca", pki["ca"], "--subdomain", "second")
    assert gw.request("GET", "/echo", cl2.host).json()["tag"] == up2.tag
    # A broken renewal is kept out: the last good certificate stays.
    pki["key"].write_text("not a key\n")
    gw.proc.send_signal(signal.SIGHUP)
    P.wait_until(lambda: "control TLS certificate" in gw.proc.stderr_tail()
                 and "the certificate in use is kept" in gw.proc.stderr_tail(), 10,
                 "the warning about the broken key", procs.tails)
    assert control_serial(pki, gw) == 2002
    assert gw.request("GET", "/echo", cl.host).status == 200
    assert gw.proc.poll() is None


def test_https_defaults_to_the_control_certificate(procs, pki):
    gw = tls_gateway(procs, pki, "--https-addr", "127.0.0.1:0")
    https_port = gw.ports["https"]
    up = procs.upstream()
    cl = procs.client(gw, up.port, "--tls", "--ca", pki["ca"], "--subdomain", "app")
    assert cl.url == "https://app.%s:%d" % (DOMAIN, https_port), cl.line
    host = "app." + DOMAIN
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    raw = socket.create_connection(("127.0.0.1", https_port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname=host) as s:
        assert int(s.getpeercert()["serialNumber"], 16) == 1001
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                  % (host.encode(), https_port))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert up.tag.encode() in data


def test_tls_settings_refused(procs, pki):
    base = ["--control-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--admin-addr",
            "127.0.0.1:0"]
    r = P.run_cli(base + ["--tls-cert", pki["cert"]], binary_name="ngrnotokd")
    assert r.returncode != 0 and "--tls-cert FILE --tls-key FILE" in r.stderr, r.stderr
    _, other_key = make_cert(pki["dir"], "mismatch", LOOPBACK_SANS, 4004)
    r = P.run_cli(base + ["--tls-cert", pki["cert"], "--tls-key", other_key],
                  binary_name="ngrnotokd")
    assert r.returncode != 0 and "control TLS certificate" in r.stderr, r.stderr
    # The client: a CA file that is missing, or holds no certificate.
    r = P.run_cli(["http", "--ca", pki["dir"] / "missing.pem", "3000"])
    assert r.returncode == 2 and "--ca" in r.stderr and "missing.pem" in r.stderr, r.stderr
    r = P.run_cli(["http", "--ca", pki["key"], "3000"])
    assert r.returncode == 2 and "no PEM certificate" in r.stderr, r.stderr
