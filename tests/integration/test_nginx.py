"""The gateway behind a real nginx (Debian's), configured by contrib/nginx.conf rendered from
its template on ephemeral loopback ports, with a wildcard certificate made at run time: HTTP,
HTTPS, WebSockets, an event stream, a 64 MiB upload and the visitor's own address all pass
nginx -> gateway -> client -> local service, and the client's control connection goes
through nginx's stream block. Then TCP tunnels with --proxy-protocol v1 and v2 against nginx
(listen ... proxy_protocol) and HAProxy (accept-proxy), which report the address they were
told. Skipped when nginx is not installed."""

import asyncio
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import uuid

import pytest

from lib import http_util as H
from lib import procs as P
from lib.nginx_front import DOMAIN, nginx_installed, start_front, start_nginx
from lib.upstream import pattern_chunks, pattern_sha256

VISITOR = "127.0.0.2"  # a loopback address of its own, for the visitor's side
MIB = 1 << 20

pytestmark = pytest.mark.skipif(not nginx_installed(),
                                reason="nginx is not installed (Debian: nginx)")


@pytest.fixture
def front(procs):
    return start_front(procs)


@pytest.fixture
def behind(procs, front):
    """front, an upstream, and a client whose control connection goes through nginx."""
    up = procs.upstream()
    cl = procs.client(front.control, up.port)
    return front, up, cl


def request(port, method, path, host, headers=(), body=None, source=None, timeout=30):
    """A request to 127.0.0.1:port with Host: host, from source (an address) if given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        return H.Resp(r.status, r.reason, r.getheaders(), r.read(), r.version)
    finally:
        conn.close()


def values(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def echo(port, host, **kw):
    r = request(port, "GET", "/echo", host, **kw)
    assert r.status == 200, r
    return r.json()


# -- HTTP through nginx ---------------------------------------------------------------------

def test_urls_are_the_public_ones(behind):
    """BOUND's URL (the Forwarding line) and the admin API's are --public-url's form, which
    is what nginx serves; the control connection came through nginx's stream block."""
    front, up, cl = behind
    want = "https://%s.%s:%d" % (cl.sub, DOMAIN, front.https_port)
    assert cl.url == want, cl.line
    [t] = front.gw.tunnels()
    assert t["public_url"] == want, t
    assert t["client_addr"] == "127.0.0.1", t  # the client's, from the stream block's PROXY header


def test_http_and_https_through_nginx(behind):
    front, up, cl = behind
    host = front.host(cl)
    j = echo(front.http_port, host)
    assert j["tag"] == up.tag
    assert values(j["headers"], "X-Forwarded-For") == ["127.0.0.1"], j["headers"]
    assert values(j["headers"], "X-Forwarded-Proto") == ["http"], j["headers"]
    assert values(j["headers"], "X-Forwarded-Host") == [host], j["headers"]
    assert values(j["headers"], "Host") == [host], j["headers"]

    # The printed URL opens, over nginx's TLS with the wildcard certificate.
    p = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "30", "--cacert",
                        str(front.cert), "--resolve", "%s:%d:127.0.0.1" % (host, front.https_port),
                        cl.url + "/echo?via=https"], capture_output=True, text=True, timeout=40)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["path"] == "/echo?via=https"
    assert values(j["headers"], "X-Forwarded-Proto") == ["https"], j["headers"]
    assert values(j["headers"], "X-Forwarded-For") == ["127.0.0.1"], j["headers"]

    # The gateway's own pages pass through nginx unchanged.
    r = request(front.http_port, "GET", "/", "nosuchname." + DOMAIN)
    assert r.status == 404, r
    assert b"nosuchname" in r.body


def test_websocket_through_nginx(procs, front):
    websockets = pytest.importorskip("websockets")
    srv = procs.ws_server()
    cl = procs.client(front.control, srv.port)
    host = front.host(cl)

    async def talk():
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", front.http_port))
        async with websockets.connect("ws://%s/echo" % host, sock=sock, open_timeout=30,
                                      close_timeout=10, ping_interval=None) as ws:
            await ws.send("hello through nginx")
            text = await ws.recv()
            blob = os.urandom(300000)
            await ws.send(blob)
            back = await ws.recv()
            return text, blob, back

    text, blob, back = asyncio.run(asyncio.wait_for(talk(), 60))
    assert text == "hello through nginx"
    assert back == blob
    m = srv.proc.wait_stdout(r"^REQ /echo (\[.*\])$", 10, "ws_server's log of the upgrade")
    headers = json.loads(m[0].group(1))
    assert values(headers, "Upgrade") == ["websocket"], headers
    assert values(headers, "X-Forwarded-For") == ["127.0.0.1"], headers


def test_tls_control_connection_through_the_stream_block(procs, tmp_path):
    """With TLS on the control port, nginx's stream block relays the TLS: the client checks
    the gateway's own certificate through it."""
    cert, key = tmp_path / "ctl.pem", tmp_path / "ctl.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    front = start_front(procs, "--tls-cert", str(cert), "--tls-key", str(key))
    up = procs.upstream()
    cl = procs.client(front.control, up.port, "--ca", str(cert))
    j = echo(front.http_port, front.host(cl))
    assert j["tag"] == up.tag


def test_event_stream_through_nginx(behind):
    """The first event reaches the visitor while the local service holds back the second:
    nothing on the way buffers it."""
    front, up, cl = behind
    sid = "sse-" + uuid.uuid4().hex[:8]
    conn = H.RawConn(front.http_port, timeout=15)
    try:
        conn.send(("GET /sse?id=%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n"
                   % (sid, front.host(cl))).encode())
        assert conn.read_until(lambda b: b"data: one" in b, 15), \
            "first event not received while the service holds the second: %r" % conn.buf[:500]
        assert b"data: two" not in conn.buf
        assert up.direct("GET", "/release?id=%s" % sid).status == 200
        assert conn.read_until(lambda b: b"data: two" in b, 15), conn.buf[-500:]
    finally:
        conn.close()
        up.direct("GET", "/release?id=%s" % sid)


def test_large_upload_through_nginx(behind):
    """64 MiB streamed up (Content-Length) and 32 MiB down, whole."""
    front, up, cl = behind
    host = front.host(cl)
    n = 64 * MIB
    r = H.request_stream(front.http_port, "POST", "/upload", [("Host", host)],
                         pattern_chunks(n, chunk=MIB), n, timeout=180)
    assert r.status == 200, r
    j = r.json()
    assert j["body_length"] == n, j
    assert j["body_sha256"] == pattern_sha256(n), "the upload arrived altered"

    h = hashlib.sha256()
    got = [0]

    def take(chunk):
        h.update(chunk)
        got[0] += len(chunk)

    r = H.request(front.http_port, "GET", "/bytes?n=%d" % (32 * MIB), [("Host", host)],
                  timeout=180, on_chunk=take)
    assert r.status == 200, r
    assert got[0] == 32 * MIB
    assert h.hexdigest() == pattern_sha256(32 * MIB)


# -- the visitor's address ------------------------------------------------------------------

def test_visitor_address_through_nginx(procs, front):
    """A visitor on 127.0.0.2: nginx (on 127.0.0.1, trusted) says so in X-Forwarded-For, and
    the gateway uses that address for the tunnels' address rules and passes it on alone, also
    when the visitor sent an X-Forwarded-For of its own. Straight to the gateway, a visitor's
    X-Forwarded-For counts for nothing; the trusted peer's does."""
    up = procs.upstream()
    cl = procs.client(front.control, up.port)
    host = front.host(cl)

    j = echo(front.http_port, host, source=VISITOR)
    assert values(j["headers"], "X-Forwarded-For") == [VISITOR], j["headers"]
    j = echo(front.http_port, host, source=VISITOR,
             headers=[("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")])
    assert values(j["headers"], "X-Forwarded-For") == [VISITOR], j["headers"]
    assert values(j["headers"], "X-Forwarded-Proto") == ["http"], j["headers"]

    # Past nginx: from 127.0.0.2 the header is the visitor's own word; from 127.0.0.1 it is
    # the trusted proxy's.
    j = echo(front.gw.http_port, host, source=VISITOR,
             headers=[("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")])
    assert values(j["headers"], "X-Forwarded-For") == [VISITOR], j["headers"]
    assert values(j["headers"], "X-Forwarded-Proto") == ["http"], j["headers"]
    j = echo(front.gw.http_port, host,
             headers=[("X-Forwarded-For", "198.51.100.1, 203.0.113.9"),
                      ("X-Forwarded-Proto", "https")])
    assert values(j["headers"], "X-Forwarded-For") == ["203.0.113.9"], j["headers"]
    assert values(j["headers"], "X-Forwarded-Proto") == ["https"], j["headers"]

    # The address rules see the visitor's address, not nginx's.
    denied = procs.client(front.control, up.port, "--deny-cidr", VISITOR + "/32")
    dhost = front.host(denied)
    r = request(front.http_port, "GET", "/echo", dhost, source=VISITOR)
    assert r.status == 403, r
    assert VISITOR.encode() in r.body
    assert request(front.http_port, "GET", "/echo", dhost).status == 200
    allowed = procs.client(front.control, up.port, "--allow-cidr", VISITOR + "/32")
    ahost = front.host(allowed)
    assert request(front.http_port, "GET", "/echo", ahost, source=VISITOR).status == 200
    r = request(front.http_port, "GET", "/echo", ahost)
    assert r.status == 403, r
    counts = {t["id"]: t["limits_hit"]["address"] for t in front.gw.tunnels()}
    assert sorted(counts.values()) == [0, 1, 1], counts


def test_gateway_deny_list_sees_the_visitor(procs):
    front = start_front(procs, "--deny-cidr", VISITOR + "/32")
    up = procs.upstream()
    cl = procs.client(front.control, up.port)
    r = request(front.http_port, "GET", "/echo", front.host(cl), source=VISITOR)
    assert r.status == 403, r
    assert b"does not serve your address" in r.body
    assert request(front.http_port, "GET", "/echo", front.host(cl)).status == 200


# -- TCP tunnels with a PROXY protocol header -------------------------------------------------

PP_NGINX = """
events {}
http {
    server {
        listen 127.0.0.1:%(pp)d proxy_protocol;
        return 200 "$proxy_protocol_addr:$proxy_protocol_port $proxy_protocol_server_addr:$proxy_protocol_server_port\\n";
    }
    server {
        listen 127.0.0.1:%(plain)d;
        return 200 "$remote_addr\\n";
    }
}
"""

PP_HAPROXY = """
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend pp
    bind 127.0.0.1:%(pp)d accept-proxy
    http-request return status 200 content-type text/plain lf-string "%%[src]:%%[src_port] %%[dst]:%%[dst_port]\\n"
"""


def visit_tcp(port, source=VISITOR, dest="127.0.0.1"):
    """An HTTP/1.0 request to a TCP tunnel's public port from source: the body, and the
    visitor's source port."""
    s = socket.socket(socket.AF_INET6 if ":" in dest else socket.AF_INET)
    s.settimeout(20)
    s.bind((source, 0))
    sport = s.getsockname()[1]
    s.connect((dest, port))
    try:
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0], data[:300]
    return body.decode().strip(), sport


def pp_nginx(procs):
    pp, plain = P.free_port(), P.free_port()
    ngx = start_nginx(procs, PP_NGINX % {"pp": pp, "plain": plain}, "pp", [pp, plain])
    assert ngx is not None, "nginx's ports were taken"
    return pp, plain


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tcp_proxy_protocol_to_nginx(procs, version):
    """The local service (nginx with listen ... proxy_protocol) learns the visitor's address
    and port, and the gateway's address and public port."""
    pp, plain = pp_nginx(procs)
    gw = procs.tcp_gateway()
    cl = procs.tcp_client(gw, pp, "--proxy-protocol", version)
    for _ in range(2):
        body, sport = visit_tcp(cl.port)
        assert body == "%s:%d 127.0.0.1:%d" % (VISITOR, sport, cl.port), body


def ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback address (::1)")
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tcp_proxy_protocol_ipv6(procs, version):
    """A gateway whose TCP tunnels listen on ::1: TCP6 (v1) and AF_INET6 (v2) headers."""
    pp, plain = pp_nginx(procs)
    gw = procs.tcp_gateway("--tcp-addr", "::1")
    cl = procs.tcp_client(gw, pp, "--proxy-protocol", version)
    body, sport = visit_tcp(cl.port, source="::1", dest="::1")
    assert body == "::1:%d ::1:%d" % (sport, cl.port), body


def test_tcp_without_proxy_protocol_unchanged(procs):
    """Without the flag the service sees the client's own connection, and no header: a
    proxy_protocol listener refuses what it gets."""
    pp, plain = pp_nginx(procs)
    gw = procs.tcp_gateway()
    cl = procs.tcp_client(gw, plain)
    body, _ = visit_tcp(cl.port)
    assert body == "127.0.0.1", body
    strict = procs.tcp_client(gw, pp)
    s = socket.create_connection(("127.0.0.1", strict.port), timeout=20)
    try:
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    assert b" 200 " not in data.split(b"\r\n")[0], data[:300]


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tcp_proxy_protocol_to_haproxy(procs, version):
    """A second reader of the headers: HAProxy's accept-proxy."""
    pp = P.free_port()
    conf = procs.tmpdir / ("haproxy-%s.cfg" % version)
    conf.write_text(PP_HAPROXY % {"pp": pp})
    hap = procs.spawn("haproxy", [shutil.which("haproxy"), "-db", "-f", str(conf)])

    def up():
        if hap.poll() is not None:
            raise AssertionError("haproxy exited\n" + hap.describe())
        try:
            socket.create_connection(("127.0.0.1", pp), timeout=1).close()
            return True
        except OSError:
            return False

    P.wait_until(up, 20, "haproxy to listen on %d" % pp)
    gw = procs.tcp_gateway()
    cl = procs.tcp_client(gw, pp, "--proxy-protocol", version)
    body, sport = visit_tcp(cl.port)
    assert body == "%s:%d 127.0.0.1:%d" % (VISITOR, sport, cl.port), body
