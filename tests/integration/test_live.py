"""The client's live output (live_view.c): on a real terminal (tmux, whose screen
is read back with capture-pane) the status header and the request lines under
the Forwarding line; on a pipe plain lines with no escape code, one per
request; --log-format json parsed line by line; --quiet printing the URL
alone."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess

import pytest

from lib import procs as P

LINE_RE = (r"^\d\d:\d\d:\d\d (?P<method>[A-Z]+) +(?P<path>\S+) (?P<status>\d{3}|---) "
           r"(?P<ms>\d+) ms (?P<bytes>[\d.]+ (?:B|KiB|MiB))(?:  (?P<error>.+))?$")


def closed_port():
    return P.free_port()  # bound and released: nothing listens there


def test_plain_lines_on_a_pipe(procs):
    t = procs.tunnel()
    gw, host = t.gateway, t.host
    assert gw.request("GET", "/echo?a=1", host).status == 200
    assert gw.request("GET", "/status?code=404", host).status == 404
    assert gw.request("POST", "/echo", host, body=b"z" * 3000).status == 200
    assert gw.request("GET", "/fixed?n=5000", host).status == 200
    lines = t.client.proc.wait_stdout(LINE_RE, 10, "four request lines", count=4)
    got = [(m.group("method"), m.group("path"), m.group("status")) for m in lines]
    assert got == [("GET", "/echo?a=1", "200"), ("GET", "/status?code=404", "404"),
                   ("POST", "/echo", "200"), ("GET", "/fixed?n=5000", "200")], got
    assert lines[3].group("bytes") == "4.9 KiB", lines[3].group(0)
    out = t.client.proc.stdout_lines
    assert out[0] == t.client.line, out
    assert len(out) == 5, out  # the Forwarding line and one line per request
    assert not any("\x1b" in line for line in out), out


def test_websocket_and_tcp_connections_get_a_line(procs):
    """An upgraded connection and a TCP tunnel's connection each get their line when they
    close: the upgrade's method, path and 101; TCP and the visitor's address, with the bytes."""
    import socket
    gw = procs.tcp_gateway()
    srv = procs.ws_server()
    cl = procs.client(gw, srv.port)
    with socket.create_connection(("127.0.0.1", gw.http_port), timeout=10) as s:
        s.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" % cl.host).encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = s.recv(4096)
            assert chunk, "closed before the 101: %r" % head
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
    m = cl.proc.wait_stdout(LINE_RE, 15, "the WebSocket's line once it closed")[0]
    assert (m.group("method"), m.group("path"), m.group("status")) == ("GET", "/ws", "101"), \
        m.group(0)
    echo = procs.tcp_service("echo")
    tc = procs.tcp_client(gw, echo.port)
    c = tc.connect()
    c.sendall(b"hello")
    got = b""
    while len(got) < 5:
        chunk = c.recv(100)
        assert chunk, "echo closed early"
        got += chunk
    c.close()
    line = tc.proc.wait_stdout(r"^\d\d:\d\d:\d\d TCP +127\.0\.0\.1 --- \d+ ms 5 B$", 15,
                               "the TCP connection's line once it closed")[0]
    assert line


def test_failed_request_line(procs):
    gw = procs.gateway()
    c = procs.client(gw, closed_port())
    r = gw.request("GET", "/down", c.host)
    assert r.status == 502, r
    m = c.proc.wait_stdout(LINE_RE, 10, "the failed request's line")[0]
    assert m.group("status") == "502" and m.group("path") == "/down", m.group(0)
    assert m.group("error") and "localhost" in m.group("error"), m.group(0)


def start_json(procs, gw, target, *extra):
    proc = procs.client_proc(["http", "--server", gw.control_addr, "--log-format", "json"]
                             + list(extra) + [str(target)])
    m = proc.wait_stdout(r'^\{"type":"tunnel"', 20, "the tunnel's JSON line")
    tunnel = json.loads(m[0].string)
    host = re.match(r"^https?://([^/]+)$", tunnel["url"]).group(1)
    return proc, tunnel, host


def test_json_lines(procs):
    gw = procs.gateway()
    up = procs.upstream()
    proc, tunnel, host = start_json(procs, gw, up.port)
    assert tunnel["target"] == "http://localhost:%d" % up.port and tunnel["tunnel"] == "", tunnel
    assert gw.request("GET", '/echo?q="x"\\y', host).status == 200
    assert gw.request("PUT", "/echo", host, body=b"b" * 1234).status == 200
    lines = proc.wait_stdout(r'^\{"type":"request"', 10, "two request objects", count=2)
    objs = [json.loads(m.string) for m in lines]
    assert [(o["method"], o["status"], o["error"]) for o in objs] == \
        [("GET", 200, None), ("PUT", 200, None)], objs
    assert objs[0]["path"].startswith("/echo?q="), objs[0]
    assert objs[1]["bytes_in"] == 1234 and objs[1]["bytes_out"] > 0, objs[1]
    for o in objs:
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o["time"]), o
        assert 0 <= o["head_ms"] <= o["duration_ms"], o
    # Every line of stdout is one JSON object.
    for line in proc.stdout_lines:
        json.loads(line)


def test_json_failure(procs):
    gw = procs.gateway()
    proc, _, host = start_json(procs, gw, closed_port())
    assert gw.request("GET", "/gone", host).status == 502
    o = json.loads(proc.wait_stdout(r'^\{"type":"request"', 10, "the request object")[0].string)
    assert o["status"] == 502 and o["path"] == "/gone" and o["error"], o
    assert o["head_ms"] == -1, o


def test_quiet_prints_the_url_alone(procs):
    gw = procs.gateway()
    up = procs.upstream()
    proc = procs.client_proc(["http", "--server", gw.control_addr, "--quiet", str(up.port)])
    url = proc.wait_stdout(r"^http://\S+$", 20, "the URL alone")[0].group(0)
    host = url[len("http://"):]
    for i in range(3):
        assert gw.request("GET", "/echo?%d" % i, host).status == 200
    assert proc.stop() == 0
    assert proc.stdout_lines == [url], proc.stdout_lines


# -- on a terminal -------------------------------------------------------------------------

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Tmux:
    """One tmux server of our own (its socket in the test's directory) running one command in
    a 120x32 pane; stopped by PID."""

    def __init__(self, tmpdir, command):
        self.sock = str(tmpdir / "tmux.sock")
        self.server_pid = self.pane_pid = None
        out = self.run("new-session", "-d", "-x", "120", "-y", "32", "-P", "-F",
                       "#{pane_pid}", command)
        self.pane_pid = int(out.strip())
        self.server_pid = int(self.run("display-message", "-p", "#{pid}").strip())

    def run(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null"] + list(args),
                              check=True, capture_output=True, text=True, timeout=10).stdout

    def screen(self):
        return self.run("capture-pane", "-p")

    def stop(self):
        for pid in (self.pane_pid, self.server_pid):
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in (self.pane_pid, self.server_pid):
            if pid is not None:
                P.wait_until(lambda: gone(pid), 10, "pid %d (the client, tmux) to exit" % pid)


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@needs_tmux
def test_header_on_a_terminal(procs):
    gw = procs.gateway()
    up = procs.upstream()
    errfile = procs.tmpdir / "client.err"
    env = {"TERM": "xterm", "XDG_STATE_HOME": str(procs.tmpdir / "state"),
           "XDG_CONFIG_HOME": str(procs.tmpdir / "config"),
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "")}
    command = "exec env %s %s http --inspect-addr off --server %s %d 2>%s" % (
        " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in env.items()),
        shlex.quote(str(P.binary("ngrnotok"))), gw.control_addr, up.port,
        shlex.quote(str(errfile)))
    tm = Tmux(procs.tmpdir, command)
    try:
        screen = P.wait_until(lambda: (lambda s: s if re.search(
            r"(?m)^Session Status +online", s) and "\nForwarding http" in s else None)(
                tm.screen()), 20, "the header saying online, and the Forwarding line")
        rows = screen.splitlines()
        assert rows[0].startswith("ngrnotok") and rows[0].rstrip().endswith("(Ctrl+C to quit)")
        url = re.search(r"(?m)^Forwarding (http://\S+) -> http://localhost:%d$" % up.port,
                        screen).group(1)
        host = url[len("http://"):]
        for path in ("/echo?one", "/status?code=418", "/echo?three"):
            gw.request("GET", path, host)

        def done():
            s = tm.screen()
            return s if "(3 requests)" in s and re.search(r"Round Trip +\d+\.\d ms", s) else None
        screen = P.wait_until(done, 20, "three requests counted and a round trip measured",
                              lambda: tm.screen())
        rows = screen.splitlines()
        labels = [r.split("  ")[0] for r in rows[1:7]]
        assert labels == ["Session Status", "Forwarding", "Round Trip", "Open Streams",
                          "Requests/s", "Duration p50/p90"], rows[:8]
        assert re.match(r"^Open Streams +0$", rows[4]), rows[4]
        assert re.match(r"^Requests/s +\d+\.\d\d \(last minute\)$", rows[5]), rows[5]
        assert re.match(r"^Duration p50/p90 +\d+ ms / \d+ ms \(3 requests\)$", rows[6]), rows[6]
        assert set(rows[7]) == {"-"}, rows[7]
        # Under the header: the Forwarding line, then one line per request, in order.
        body = [r for r in rows[8:] if r.strip()]
        assert body[0].startswith("Forwarding " + url), body
        got = [re.match(LINE_RE, r) for r in body[1:4]]
        assert all(got), body
        assert [(m.group("path"), m.group("status")) for m in got] == \
            [("/echo?one", "200"), ("/status?code=418", "418"), ("/echo?three", "200")], body
    finally:
        tm.stop()
    err = errfile.read_text() if errfile.exists() else ""
    assert not re.search(P.SANITIZER_RE, err), err
