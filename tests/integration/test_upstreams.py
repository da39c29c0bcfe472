"""Local services other than http://localhost:PORT, each a real lib/upstream.py:
an https:// one with a certificate from a CA made at run time (openssl) and
trusted through --upstream-ca, a self-signed one refused with a 502 naming
--upstream-insecure and served with it, one on a unix socket (requests and a
WebSocket-shaped upgrade), and one on another loopback address (127.0.0.2)
reached as http://HOST:PORT with --host-header=rewrite."""

import shutil
import socket

import pytest

from lib import procs as P
from test_tls import make_ca, make_cert

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def echo(gw, host, path="/echo"):
    r = gw.request("GET", path, host)
    return r


@pytest.fixture
def pki(procs):
    d = procs.tmpdir / "upki"
    d.mkdir()
    ca = make_ca(d, cn="ngrnotok upstream CA")
    cert, key = make_cert(d, "svc", "DNS:localhost,IP:127.0.0.1", 2001)
    return {"dir": d, "ca": ca, "cert": cert, "key": key}


def self_signed(d):
    P_ = d / "self"
    P_.mkdir()
    ca = make_ca(P_, stem="self", cn="localhost")
    return ca, P_ / "self.key"


@needs_openssl
def test_https_upstream_verified_with_upstream_ca(procs, pki):
    gw = procs.gateway()
    up = procs.upstream(extra=["--tls-cert", pki["cert"], "--tls-key", pki["key"]])
    url = "https://localhost:%d" % up.port
    c = procs.client(gw, url, "--upstream-ca", pki["ca"])
    assert c.target == url, c.line
    r = echo(gw, c.host, "/echo?tls=1")
    assert r.status == 200, r
    body = r.json()
    assert body["tag"] == up.tag and body["path"] == "/echo?tls=1", body
    # Twice more: kept-alive TLS connections carry on.
    for i in range(2):
        assert echo(gw, c.host, "/echo?again=%d" % i).status == 200
    c.proc.wait_stdout(r" GET +/echo\?again=1 200 ", 10, "the request line")


@needs_openssl
def test_https_upstream_unknown_ca_is_a_502_naming_the_option(procs, pki):
    """Without --upstream-ca the system's CAs do not know the test CA."""
    gw = procs.gateway()
    up = procs.upstream(extra=["--tls-cert", pki["cert"], "--tls-key", pki["key"]])
    c = procs.client(gw, "https://localhost:%d" % up.port)
    r = echo(gw, c.host)
    assert r.status == 502, r
    text = r.body.decode("utf-8", "replace")
    assert "--upstream-insecure" in text and "not trusted" in text, text
    m = c.proc.wait_stdout(r" GET +/echo 502 .*--upstream-insecure", 10,
                           "the failed request's line naming --upstream-insecure")
    assert m


@needs_openssl
def test_self_signed_upstream_needs_upstream_insecure(procs):
    d = procs.tmpdir / "ss"
    d.mkdir()
    cert, key = self_signed(d)
    gw = procs.gateway()
    up = procs.upstream(extra=["--tls-cert", cert, "--tls-key", key])
    url = "https://localhost:%d" % up.port
    refused = procs.client(gw, url)
    r = echo(gw, refused.host)
    assert r.status == 502 and b"--upstream-insecure" in r.body, r
    refused.proc.stop()
    ok = procs.client(gw, url, "--upstream-insecure", "--new-url")
    r = echo(gw, ok.host, "/echo?insecure=1")
    assert r.status == 200 and r.json()["tag"] == up.tag, r


def test_unix_socket_upstream(procs):
    path = procs.tmpdir / "app.sock"
    up = procs.upstream(extra=["--unix", path])
    gw = procs.gateway()
    c = procs.client(gw, "unix:%s" % path, "--host-header=rewrite")
    assert c.target == "unix:%s" % path, c.line
    r = echo(gw, c.host, "/echo?unix=1")
    assert r.status == 200, r
    body = r.json()
    assert body["tag"] == up.tag and body["client"] == "unix", body
    hosts = [v for k, v in body["headers"] if k.lower() == "host"]
    assert hosts == ["localhost"], body["headers"]
    # A body both ways over the socket.
    r = gw.request("POST", "/echo", c.host, body=b"x" * 100000)
    assert r.status == 200 and r.json()["body_length"] == 100000, r


def test_unix_socket_upgrade_reaches_the_socket(procs):
    """An upgrade request goes to the unix socket too (forward.c): upstream.py answers it as an
    ordinary request, which is passed through."""
    path = procs.tmpdir / "ws.sock"
    up = procs.upstream(extra=["--unix", path])
    gw = procs.gateway()
    c = procs.client(gw, "unix:%s" % path)
    r = gw.request("GET", "/echo?up=1", c.host,
                   headers=[("Connection", "Upgrade"), ("Upgrade", "websocket")])
    assert r.status == 200 and r.json()["tag"] == up.tag, r


def _loopback2_usable():
    try:
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _loopback2_usable(), reason="127.0.0.2 cannot be bound here")
def test_other_host_with_host_rewrite(procs):
    up = procs.upstream(extra=["--host", "127.0.0.2"])
    gw = procs.gateway()
    url = "http://127.0.0.2:%d" % up.port
    c = procs.client(gw, url, "--host-header=rewrite")
    assert c.target == url, c.line
    body = echo(gw, c.host, "/echo?other=1").json()
    assert body["tag"] == up.tag, body
    hosts = [v for k, v in body["headers"] if k.lower() == "host"]
    assert hosts == ["127.0.0.2:%d" % up.port], body["headers"]
    # Without rewrite the public Host goes on.
    c2 = procs.client(gw, url, "--new-url", "-n", "keephost")
    body = echo(gw, c2.host, "/echo").json()
    hosts = [v for k, v in body["headers"] if k.lower() == "host"]
    assert hosts == [c2.host], body["headers"]


@pytest.mark.parametrize("args,words", [
    (["http", "ftp://localhost:21"], "expected http://, https:// or unix:PATH"),
    (["http", "https://localhost:8443/app"], "requests keep their own paths"),
    (["http", "unix:"], "expected unix:PATH"),
    (["http", "--upstream-insecure", "3000"], "--upstream-insecure is for an https://"),
    (["http", "--upstream-ca", "ca.pem", "unix:/x.sock"], "--upstream-ca is for an https://"),
    (["tcp", "https://localhost:443"], "a TCP tunnel forwards to HOST:PORT"),
    (["http", "--log-format", "xml", "3000"], "expected text or json"),
])
def test_bad_targets_refused(binaries, args, words):
    r = P.run_cli(args)
    assert r.returncode == 2 and words in r.stderr, (r.returncode, r.stderr)
