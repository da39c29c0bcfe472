"""GET /metrics on the admin listener: Prometheus' text format (checked by promtool), per-tunnel
requests, bytes, open streams and latency histograms (the gateway's and the local service's),
gateway-wide counters, the admin token, bounded label cardinality, GET /tunnels/{id}'s
percentiles, and a real Prometheus server scraping the gateway and answering a query."""

import json
import re
import shutil
import subprocess
import urllib.parse

import pytest

from lib import http_util as H
from lib import procs as P

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")


def scrape(gw, token=None):
    headers = [("Host", "127.0.0.1:%d" % gw.admin_port)]
    if token:
        headers.append(("Authorization", "Bearer " + token))
    r = H.request(gw.admin_port, "GET", "/metrics", headers)
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r
    return r.body.decode()


def samples(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(s, name, **labels):
    want = set(labels.items())
    found = [v for (n, ls), v in s.items() if n == name and want <= set(ls)]
    assert len(found) == 1, "%s%r: %d samples" % (name, labels, len(found))
    return found[0]


def promtool_check(text):
    if PROMTOOL is None:
        pytest.skip("promtool is not installed (Debian's prometheus package)")
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    assert p.returncode == 0, "promtool check metrics: %s%s" % (p.stdout.decode(),
                                                              p.stderr.decode())


def test_metrics_after_traffic(procs):
    gw = procs.gateway()
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "metered")
    for _ in range(5):
        assert gw.request("GET", "/fixed?n=100", cl.host).status == 200
    assert gw.request("GET", "/status?code=404", cl.host).status == 404
    assert gw.request("POST", "/up", cl.host, body=b"u" * 300).status == 200
    assert gw.request("GET", "/", "unknown-name.localhost:%d" % gw.http_port).status == 404

    text = P.wait_until(lambda: (lambda t: t if "ngrnotok_control_rtt_seconds{" in t else None)(
        scrape(gw)), 20, "a control connection's round trip in /metrics", procs.tails,
        interval=0.2)
    promtool_check(text)
    s = samples(text)
    t = gw.tunnels()[0]
    tl = dict(tunnel="metered", id=t["id"], proto="http")
    assert value(s, "ngrnotok_tunnel_requests_total", **tl, **{"class": "2xx"}) == 6
    assert value(s, "ngrnotok_tunnel_requests_total", **tl, **{"class": "4xx"}) == 1
    assert value(s, "ngrnotok_tunnel_sent_bytes_total", **tl) >= 500
    assert value(s, "ngrnotok_tunnel_received_bytes_total", **tl) == 300
    assert value(s, "ngrnotok_tunnel_open_streams", **tl) == 0
    assert value(s, "ngrnotok_tunnel_request_duration_seconds_count", **tl) == 7
    assert value(s, "ngrnotok_tunnel_request_duration_seconds_bucket", **tl, le="+Inf") == 7
    # The client reported the local service's own time for each answer.
    assert value(s, "ngrnotok_tunnel_service_duration_seconds_count", **tl) == 7
    assert 0 < value(s, "ngrnotok_tunnel_service_duration_seconds_sum", **tl) <= \
        value(s, "ngrnotok_tunnel_request_duration_seconds_sum", **tl)
    # Gateway-wide: the unrouted 404 too.
    assert value(s, "ngrnotok_http_requests_total", **{"class": "4xx"}) == 2
    assert value(s, "ngrnotok_http_requests_total", **{"class": "2xx"}) == 6
    assert value(s, "ngrnotok_tunnels") == 1
    assert value(s, "ngrnotok_control_connections") == 1
    assert value(s, "ngrnotok_frames_refused_total") == 0
    assert value(s, "ngrnotok_control_rtt_seconds", conn="1", peer="127.0.0.1") > 0

    # GET /tunnels/{id}: the same latency as percentiles.
    r = gw.admin("GET", "/tunnels/" + t["id"])
    lat = r.json()["latency"]
    for side in ("gateway", "service"):
        assert lat[side]["count"] == 7, lat
        assert 0 < lat[side]["p50_ms"] <= lat[side]["p90_ms"] <= lat[side]["p99_ms"], lat


def test_labels_never_come_from_requests(procs):
    gw = procs.gateway()
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "cardinal")
    assert gw.request("GET", "/warm", cl.host).status == 200
    before = scrape(gw)
    for i in range(60):
        gw.request("GET", "/path-%d?q=%d" % (i, i), cl.host,
                   headers=[("User-Agent", "agent-%d" % i), ("X-Label", 'a"b\\n%d' % i)])
        gw.request("GET", "/", "name-%d.localhost:%d" % (i, gw.http_port))
    after = scrape(gw)
    assert len(after.splitlines()) == len(before.splitlines()), \
        "the exposition grew with requests"
    assert "path-" not in after and "agent-" not in after and "name-" not in after
    promtool_check(after)


def test_limits_and_frames_counted(procs):
    gw = procs.gateway()
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "limited", "--rate-limit", "1/m", "--rate-burst", "1")
    assert gw.request("GET", "/", cl.host).status == 200
    assert gw.request("GET", "/", cl.host).status == 429
    # A peer that sends garbage on the control port: one refused frame.
    import socket
    with socket.create_connection(("127.0.0.1", gw.control_port), timeout=5) as s:
        s.sendall(b"NGRNOTOK" + b"\xff" * 64)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    s_ = samples(P.wait_until(
        lambda: (lambda t: t if 'ngrnotok_limit_hits_total{limit="rate_limit"} 1' in t else None)(
            scrape(gw)), 10, "the rate limit hit in /metrics", procs.tails, interval=0.1))
    assert value(s_, "ngrnotok_limit_hits_total", limit="rate_limit") == 1
    assert value(s_, "ngrnotok_limit_hits_total", limit="max_body_size") == 0
    assert value(s_, "ngrnotok_tunnel_requests_total", tunnel="limited", **{"class": "4xx"}) == 1


def test_admin_token_guards_metrics(procs):
    gw = procs.gateway("--admin-token", "adm-secret-1")
    r = H.request(gw.admin_port, "GET", "/metrics", [("Host", "127.0.0.1")])
    assert r.status == 401, r
    assert "ngrnotok_" not in r.body.decode(errors="replace")
    assert "ngrnotok_tunnels 0" in scrape(gw, "adm-secret-1")


def test_prometheus_scrapes_the_gateway(procs, tmp_path):
    if PROMETHEUS is None:
        pytest.skip("prometheus is not installed (Debian's prometheus package)")
    token = "adm-" + tmp_path.name[-8:]
    gw = procs.gateway("--admin-token", token)
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "scraped")
    for _ in range(3):
        assert gw.request("GET", "/hello", cl.host).status == 200
    port = P.free_port()
    conf = tmp_path / "prometheus.yml"
    conf.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: ngrnotokd\n"
        "    authorization:\n      credentials: %s\n"
        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % (token, gw.admin_port))
    procs.spawn("prometheus", [PROMETHEUS, "--config.file=%s" % conf,
                               "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                               "--web.listen-address=127.0.0.1:%d" % port,
                               "--log.level=warn"])
    query = 'sum(ngrnotok_tunnel_requests_total{tunnel="scraped",class="2xx"})'

    def answered():
        try:
            r = H.request(port, "GET", "/api/v1/query?query=" + urllib.parse.quote(query),
                          [("Host", "127.0.0.1:%d" % port)], timeout=5)
        except OSError:
            return None
        if r.status != 200:
            return None
        res = json.loads(r.body)["data"]["result"]
        return res if res and float(res[0]["value"][1]) == 3 else None

    res = P.wait_until(answered, 60, "Prometheus to scrape the gateway and answer %s" % query,
                       procs.tails, interval=0.5)
    assert float(res[0]["value"][1]) == 3
    # Its view of the target: up, scraped with the token.
    r = H.request(port, "GET", "/api/v1/targets", [("Host", "127.0.0.1:%d" % port)])
    active = json.loads(r.body)["data"]["activeTargets"]
    assert active and active[0]["health"] == "up", active
