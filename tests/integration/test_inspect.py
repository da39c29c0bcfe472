"""The client's local inspector: ngrok's agent API (GET /api/tunnels, /api/requests/http,
/api/requests/http/{id}, POST to replay, DELETE to clear) read with curl, the Host check
against DNS rebinding, JSON-only state changes, the token off loopback, the default port's
fallback from 4040 up to 4049, the body cap and the refusal to replay a cut body, and the page
in headless chromium: a request made through the tunnel shows, and its replay button makes
the local service see it a second time.

Every client here gives its own --inspect-addr on a free port, but the fallback tests, which
use the default range itself; the rest of the suite runs clients with --inspect-addr off
(lib/procs.py)."""

import base64
import errno
import json
import re
import socket
import subprocess

import pytest

from lib import browser
from lib import procs as P

INSPECTOR_RE = r"^Inspector (http://127\.0\.0\.1:(\d+))$"


def curl(*args, timeout=20):
    """curl -s ARGS; returns (status, body text)."""
    p = subprocess.run(["curl", "-s", "-S", "-o", "-", "-w", "\n%{http_code}"] + list(args),
                       capture_output=True, timeout=timeout)
    assert p.returncode == 0, "curl %s: %s" % (args, p.stderr.decode("utf-8", "replace"))
    out = p.stdout.decode("utf-8", "replace")
    body, _, code = out.rpartition("\n")
    return int(code), body


def curl_json(url, *args):
    code, body = curl(*args, url)
    assert code == 200, "%s: %d %s" % (url, code, body[:500])
    return json.loads(body)


def start(procs, *extra, inspect_port=None):
    """A gateway, an upstream and a client whose inspector listens on a free port; returns
    (tunnel, base URL of the inspector)."""
    gw = procs.gateway()
    up = procs.upstream()
    port = inspect_port or P.free_port()
    cl = procs.client(gw, up.port, "--inspect-addr", "127.0.0.1:%d" % port, *extra)
    m = cl.proc.wait_stdout(INSPECTOR_RE, 10, "the 'Inspector http://127.0.0.1:PORT' line")
    assert int(m[0].group(2)) == port
    return P.Tunnel(gw, up, cl), "http://localhost:%d" % port


def upstream_saw(tunnel, line):
    return sum(1 for l in tunnel.upstream.proc.stdout_lines if l == line)


def kept(base, n, what):
    """The inspector's list once it holds n requests (newest first)."""
    return P.wait_until(lambda: (lambda r: r if len(r) == n else None)(
        curl_json(base + "/api/requests/http")["requests"]), 10, what)


def raw(part):
    return base64.b64decode(part["raw"])


def test_api_shapes_like_ngrok(procs):
    t, base = start(procs)
    got = curl_json(base + "/api/tunnels")
    assert set(got) >= {"tunnels"}
    assert len(got["tunnels"]) == 1
    tun = got["tunnels"][0]
    assert tun["public_url"] == t.client.url
    assert tun["name"] == "command_line" and tun["proto"] == "http"
    assert tun["config"]["addr"] == "http://localhost:%d" % t.upstream.port
    assert "metrics" in tun
    # What a script does with ngrok: the public URL out of the agent API.
    p = subprocess.run("curl -s %s/api/tunnels | python3 -c 'import json,sys; "
                       "print(json.load(sys.stdin)[\"tunnels\"][0][\"public_url\"])'" % base,
                       shell=True, capture_output=True, text=True, timeout=20)
    assert p.stdout.strip() == t.client.url

    r = t.request("POST", "/shape?x=1", headers=[("X-Inspect-Test", "one")], body=b"a=1&b=2")
    assert r.status == 200
    t.request("GET", "/second")
    reqs = kept(base, 2, "two requests kept")
    assert reqs[0]["request"]["uri"] == "/second"  # newest first
    e = reqs[1]
    assert set(e) >= {"id", "uri", "tunnel_name", "start", "duration", "request", "response"}
    assert e["tunnel_name"] == "command_line"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", e["start"]), e["start"]
    assert isinstance(e["duration"], int) and e["duration"] >= 0
    rq = e["request"]
    assert rq["method"] == "POST" and rq["uri"] == "/shape?x=1" and rq["proto"] == "HTTP/1.1"
    assert rq["headers"]["X-Inspect-Test"] == ["one"]
    assert raw(rq).startswith(b"POST /shape?x=1 HTTP/1.1\r\n")
    assert raw(rq).endswith(b"\r\n\r\na=1&b=2")
    rs = e["response"]
    assert rs["status_code"] == 200 and rs["status"] == "200 OK"
    assert rs["headers"]["X-Upstream-Tag"] == [t.upstream.tag]
    assert raw(rs).startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw(rs).endswith(r.body), "the response body as the visitor got it"
    assert set(e["timings"]) >= {"first_byte_ms", "done_ms"}
    assert e["timings"]["first_byte_ms"] <= e["timings"]["done_ms"]

    one = curl_json(base + "/api/requests/http/" + e["id"])
    assert one["id"] == e["id"] and one["request"] == rq
    assert len(curl_json(base + "/api/requests/http?limit=1")["requests"]) == 1
    code, body = curl(base + "/api/requests/http/ffffffffffffffff")
    assert code == 404 and "msg" in json.loads(body)
    code, _ = curl("-X", "PUT", base + "/api/requests/http")
    assert code == 405
    code, page = curl(base + "/")
    assert code == 200 and "<title>ngrnotok inspector</title>" in page
    assert "http://" not in page.split("<script>")[0].replace("http://127", ""), \
        "the page loads nothing from elsewhere"


def test_host_check_refuses_other_names(procs):
    t, base = start(procs)
    port = base.rsplit(":", 1)[1]
    for host in ("evil.example", "evil.example:%s" % port, "127.0.0.1.evil.example:%s" % port,
                 "localhost:1"):
        code, body = curl("-H", "Host: " + host, base + "/api/tunnels")
        assert code == 403, (host, code, body)
        assert "own address" in json.loads(body)["msg"]
    # A rebinding page can make its own name point at 127.0.0.1, never send our Host.
    code, _ = curl("-H", "Host: evil.example:%s" % port, "-X", "DELETE",
                   base + "/api/requests/http")
    assert code == 403
    for host in ("localhost:%s" % port, "127.0.0.1:%s" % port):
        code, _ = curl("-H", "Host: " + host, base + "/api/tunnels")
        assert code == 200, host


def test_post_needs_json(procs):
    t, base = start(procs)
    t.request("GET", "/only-once")
    e = kept(base, 1, "the request kept")[0]
    body = json.dumps({"id": e["id"]})
    for ctype in ("text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", None):
        args = ["-X", "POST", "--data-binary", body, base + "/api/requests/http"]
        if ctype:
            args = ["-H", "Content-Type: " + ctype] + args
        code, text = curl(*args)
        assert code == 415, (ctype, code, text)
    code, _ = curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                   "{not json", base + "/api/requests/http")
    assert code == 400
    assert len(curl_json(base + "/api/requests/http")["requests"]) == 1
    assert upstream_saw(t, "REQ GET /only-once") == 1


def test_replay_reaches_the_local_service(procs):
    t, base = start(procs)
    r = t.request("PUT", "/replay-me?x=1", headers=[("X-Inspect-Test", "abc")], body=b"payload")
    assert r.status == 200
    e = kept(base, 1, "the request kept")[0]
    code, text = curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                      json.dumps({"id": e["id"]}), base + "/api/requests/http")
    assert code == 204, text
    P.wait_until(lambda: upstream_saw(t, "REQ PUT /replay-me?x=1") == 2, 10,
                 "the local service seeing the request a second time")
    reqs = kept(base, 2, "the replay kept as a new exchange")
    new = reqs[0]
    assert new["replay_of"] == e["id"] and new["id"] != e["id"]
    assert new["response"]["status_code"] == 200
    echoed = json.loads(raw(new["response"]).split(b"\r\n\r\n", 1)[1])
    assert ["X-Inspect-Test", "abc"] in echoed["headers"]
    assert echoed["method"] == "PUT" and echoed["body_length"] == 7
    assert echoed["body_sha256"] == json.loads(r.body)["body_sha256"]
    code, _ = curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                   json.dumps({"id": "00000000000000ff"}), base + "/api/requests/http")
    assert code == 404


def test_body_cap_and_cut_body_not_replayed(procs):
    t, base = start(procs, "--inspect-body-max", "16")
    body = bytes(range(65, 65 + 26)) * 4  # 104 bytes
    assert t.request("POST", "/big", body=body).status == 200
    e = kept(base, 1, "the request kept")[0]
    assert e["request_body"] == {"size": 104, "kept": 16, "cut": True}
    assert raw(e["request"]).endswith(b"\r\n\r\n" + body[:16])
    assert e["response_body"]["cut"] is True and e["response_body"]["kept"] == 16
    code, text = curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                      json.dumps({"id": e["id"]}), base + "/api/requests/http")
    assert code == 400
    assert "cut" in json.loads(text)["msg"] and "--inspect-body-max" in json.loads(text)["msg"]
    assert upstream_saw(t, "REQ POST /big") == 1
    # A body within the cap replays.
    assert t.request("POST", "/small", body=b"0123456789").status == 200
    e = kept(base, 2, "the small request kept")[0]
    assert e["request_body"]["cut"] is False
    code, _ = curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                   json.dumps({"id": e["id"]}), base + "/api/requests/http")
    assert code == 204
    P.wait_until(lambda: upstream_saw(t, "REQ POST /small") == 2, 10, "the small replay")


def test_body_the_visitor_cut_short_not_replayed(procs):
    """A visitor that says Content-Length: 100000 and hangs up after 5,000 bytes: the kept
    request holds only what arrived, so a replay would send the local service another request
    than the visitor's; it is refused with the reason."""
    t, base = start(procs)
    with socket.create_connection(("127.0.0.1", t.gateway.http_port), timeout=10) as s:
        s.sendall(b"POST /half HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n"
                  % t.host.encode() + b"h" * 5000)
        P.wait_until(lambda: upstream_saw(t, "REQ POST /half") == 1, 10,
                     "the local service getting the request's head")
    e = kept(base, 1, "the request the visitor left kept")[0]
    assert e["error"], e
    code, text = curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                      json.dumps({"id": e["id"]}), base + "/api/requests/http")
    assert code == 400, (code, text)
    assert "before its end" in json.loads(text)["msg"], text
    assert len(curl_json(base + "/api/requests/http")["requests"]) == 1, "no replay kept"
    assert upstream_saw(t, "REQ POST /half") == 1


def test_target_too_long_for_the_tunnel_refused_at_the_gateway(procs):
    """A target longer than the client can send on (its request line, 8 KiB) gets the gateway's
    414, which names the limit, before it reaches the client: nothing is kept, nothing replayed,
    and the local service sees nothing (it used to be a 502 from the tunnel)."""
    t, base = start(procs)
    r = t.request("GET", "/" + "a" * 9000)
    assert r.status == 414, r
    assert "at most 8191" in r.body.decode(), r.body[:300]
    assert t.request("GET", "/short").status == 200
    reqs = kept(base, 1, "the short request only")
    assert reqs[0]["request"]["uri"] == "/short"
    assert not any(l.startswith("REQ GET /aaaa") for l in t.upstream.proc.stdout_lines)


def test_delete_clears_and_limits(procs):
    t, base = start(procs, "--inspect-max", "3")
    for i in range(5):
        t.request("GET", "/n%d" % i)
    reqs = kept(base, 3, "the last three kept")
    assert [r["request"]["uri"] for r in reqs] == ["/n4", "/n3", "/n2"]
    # A body must be JSON, also one past the inspector's 4 KiB upload buffer.
    for size in (100, 8000):
        code, _ = curl("-X", "DELETE", "-H", "Content-Type: text/plain", "--data-binary",
                       "x" * size, base + "/api/requests/http")
        assert code == 415, size
    assert len(curl_json(base + "/api/requests/http")["requests"]) == 3
    code, _ = curl("-X", "DELETE", base + "/api/requests/http")
    assert code == 204
    assert curl_json(base + "/api/requests/http")["requests"] == []
    code, _ = curl(base + "/api/requests/http/" + reqs[0]["id"])
    assert code == 404
    t.request("GET", "/after")
    assert kept(base, 1, "a request after the clear")[0]["request"]["uri"] == "/after"


def test_token_and_off_loopback(procs):
    t, base = start(procs, "--inspect-token", "s3cret")
    code, _ = curl(base + "/api/tunnels")
    assert code == 401
    code, _ = curl("-H", "Authorization: Bearer wrong", base + "/api/tunnels")
    assert code == 401
    code, _ = curl("-H", "Authorization: Bearer s3cret", base + "/api/tunnels")
    assert code == 200
    code, _ = curl("-u", "me:s3cret", base + "/")
    assert code == 200
    for bad, says in ((["--inspect-addr", "0.0.0.0:%d" % P.free_port()], "--inspect-token"),
                      (["--inspect-addr", "nope"], "--inspect-addr"),
                      (["--inspect-body-max", "lots"], "--inspect-body-max"),
                      (["--inspect-max", "0"], "--inspect-max"),
                      (["--inspect-budget", "1K"], "--inspect-budget")):
        r = P.run_cli(["http", "--server", t.gateway.control_addr] + bad + ["3000"])
        assert r.returncode == 2, (bad, r.stdout, r.stderr)
        assert says in r.stderr, (bad, r.stderr)
    # An address that is taken, named: the client says so and stops.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        r = P.run_cli(["http", "--server", t.gateway.control_addr, "--inspect-addr",
                       "127.0.0.1:%d" % s.getsockname()[1], "3000"])
        assert r.returncode == 2 and "Address already in use" in r.stderr, r.stderr


def default_client(procs, gw, up):
    """A client with the inspector's default address (no --inspect-addr)."""
    argv = [str(P.binary("ngrnotok")), "http", "--server", gw.control_addr, str(up.port)]
    proc = procs.spawn("ngrnotok", argv, env=P.base_env())
    proc.wait_stdout(P.FORWARDING_RE.pattern, 20, "the Forwarding line")
    return proc


def occupy(ports):
    """Listening sockets on those of ports that are free; the others are taken already."""
    held = []
    for port in ports:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            s.listen(1)
            held.append(s)
        except OSError as e:
            s.close()
            if e.errno != errno.EADDRINUSE:
                raise
    return held


def test_default_port_taken_falls_back(procs):
    held = occupy([4040])
    try:
        free = [p for p in range(4041, 4050) if P._range_is_free(p, 1)]
        if not free:
            pytest.skip("ports 4041-4049 are all taken on this machine")
        gw = procs.gateway()
        up = procs.upstream()
        proc = default_client(procs, gw, up)
        m = proc.wait_stdout(INSPECTOR_RE, 10, "the Inspector line")
        port = int(m[0].group(2))
        assert 4041 <= port <= 4049, port
        got = curl_json("http://127.0.0.1:%d/api/tunnels" % port)
        assert got["tunnels"][0]["public_url"] in "\n".join(proc.stdout_lines)
    finally:
        for s in held:
            s.close()


def test_default_ports_all_taken_runs_without(procs):
    held = occupy(range(4040, 4050))
    try:
        gw = procs.gateway()
        up = procs.upstream()
        proc = default_client(procs, gw, up)
        P.wait_until(lambda: "4040-4049" in proc.stderr_tail(), 10,
                     "the warning that the inspector's ports are taken")
        assert not any(l.startswith("Inspector") for l in proc.stdout_lines)
        host = re.search(P.FORWARDING_RE.pattern, "\n".join(proc.stdout_lines),
                         re.M).group("host")
        assert gw.request("GET", "/still-served", host).status == 200
    finally:
        for s in held:
            s.close()


@pytest.mark.skipif(not browser.available(), reason="chromium is not installed")
def test_page_in_chromium(procs, artifacts):
    pytest.importorskip("websockets")
    t, base = start(procs)
    assert t.request("GET", "/from-the-browser-test?q=1",
                     headers=[("X-Inspect-Test", "shown")]).status == 200
    b = browser.start(procs)
    page = b.page()
    resp = page.navigate(base + "/")
    assert resp.status == 200
    page.wait_for("document.querySelectorAll('#list li').length", lambda v: v == 1, 20,
                  "the request in the page's list")
    assert "/from-the-browser-test?q=1" in page.evaluate(
        "document.getElementById('list').textContent")
    assert t.client.url in page.evaluate("document.getElementById('tunnels').textContent")
    page.evaluate("document.querySelector('#list li').click()")
    detail = page.wait_for("document.getElementById('detail').innerText",
                           lambda v: "X-Inspect-Test: shown" in v, 20,
                           "the request's heads in the detail pane")
    assert "Timings" in detail.replace("TIMINGS", "Timings")
    assert "first byte from the local service" in detail
    assert "200 OK" in detail and '"tag": "%s"' % t.upstream.tag in detail
    page.screenshot(artifacts / "inspector.png")
    picked = page.evaluate("document.querySelector('#list li').dataset.id")
    page.evaluate("document.getElementById('replay').click()")
    # Waited for in the page: lib/browser.py lets its requests go on only while it is asked
    # something (they pause for its basic-auth handling).
    status = page.wait_for("document.getElementById('status').textContent",
                           lambda v: v.startswith("replay"), 20, "the replay's answer in the page")
    assert status == "replayed " + picked
    P.wait_until(lambda: upstream_saw(t, "REQ GET /from-the-browser-test?q=1") == 2, 20,
                 "the local service seeing the replayed request")
    page.wait_for("document.querySelectorAll('#list li').length", lambda v: v == 2, 20,
                  "the replay in the page's list")
    page.screenshot(artifacts / "inspector-replayed.png")
    # Nothing failed to load (a poll cut short by the screenshot or the navigation is no fault).
    assert not [f for f in page.failed if not f.get("canceled")], page.failed
    assert all(r.url.startswith(base) for r in page.responses), page.responses


def test_settings_from_the_config_file(procs, tmp_path):
    """The inspector's settings in the config file's connection part: its address and how many
    requests it keeps; flags still win over them."""
    gw = procs.gateway()
    up = procs.upstream()
    port = P.free_port()
    cfg = tmp_path / "ngrnotok.conf"
    cfg.write_text("server = %s\ninspect_addr = 127.0.0.1:%d\ninspect_max = 2\n"
                   % (gw.control_addr, port))
    cfg.chmod(0o600)
    proc = procs.spawn("ngrnotok", [P.binary("ngrnotok"), "http", "--config", str(cfg),
                                    str(up.port)], env=P.base_env())
    m = proc.wait_stdout(INSPECTOR_RE, 10, "the Inspector line, at the file's address")
    assert int(m[0].group(2)) == port
    cl = P.Client(proc, proc.wait_stdout(P.FORWARDING_RE.pattern, 10, "the Forwarding line")[0])
    t = P.Tunnel(gw, up, cl)
    base = "http://localhost:%d" % port
    for i in range(4):
        t.request("GET", "/f%d" % i)
    reqs = kept(base, 2, "the file's inspect_max = 2")
    assert [r["request"]["uri"] for r in reqs] == ["/f3", "/f2"]
    # A flag over the file: off.
    off = procs.spawn("ngrnotok", [P.binary("ngrnotok"), "http", "--config", str(cfg),
                                   "--inspect-addr", "off", str(up.port)], env=P.base_env())
    off.wait_stdout(P.FORWARDING_RE.pattern, 10, "the second client's Forwarding line")
    assert not any(l.startswith("Inspector ") for l in off.stdout_lines), off.stdout_lines
