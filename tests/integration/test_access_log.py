"""The gateway's access log (--access-log, --access-log-format): one line per public request
and per TCP connection, with the tunnel, the visitor's address, the request, the status, the
times, the bytes and why it failed; hostile request data cannot forge a line, no credential
reaches it, SIGHUP reopens the file (logrotate), and it is off by default."""

import json
import os
import re
import resource
import signal
import socket

import pytest

from lib import http_util as H
from lib import procs as P

TEXT_RE = re.compile(
    r'^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) tunnel=(?P<tunnel>\S+) '
    r'client=(?P<client>\S+) method=(?P<method>\S+) path="(?P<path>[^"]*)" '
    r'host="(?P<host>[^"]*)" scheme=(?P<scheme>https?) status=(?P<status>\d+) '
    r'duration_ms=(?P<duration>\d+\.\d{3})(?: service_ms=(?P<service>\d+\.\d{3}))? '
    r'bytes_in=(?P<bytes_in>\d+) bytes_out=(?P<bytes_out>\d+)(?: error="(?P<error>[^"]*)")?$')


def read_lines(path, count, what, procs, timeout=15):
    """The log's lines once it has at least count of them."""
    def ready():
        try:
            lines = path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return None
        return lines if len(lines) >= count else None
    return P.wait_until(ready, timeout, what, procs.tails)


def parse(line):
    m = TEXT_RE.match(line)
    assert m, "access log line does not have the documented form: %r" % line
    return m.groupdict()


def test_text_lines(procs, tmp_path):
    log = tmp_path / "access.log"
    gw = procs.gateway("--access-log", str(log))
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "logged")
    dead = procs.client(gw, P.free_port(), "-n", "deadsvc")

    assert gw.request("GET", "/fixed?n=1000&x=1", cl.host).status == 200
    assert gw.request("POST", "/post", cl.host, body=b"x" * 5000).status == 200
    assert gw.request("GET", "/", "nobody-here.localhost:%d" % gw.http_port).status == 404
    assert gw.request("GET", "/down", dead.host).status == 502
    lines = read_lines(log, 4, "four access log lines", procs)
    got = [parse(l) for l in lines[:4]]

    ok, post, missing, down = got
    assert ok["tunnel"] == "logged" and ok["method"] == "GET" and ok["path"] == "/fixed?n=1000&x=1"
    assert ok["status"] == "200" and ok["bytes_out"] == "1000" and ok["bytes_in"] == "0", ok
    assert ok["client"] == "127.0.0.1" and ok["host"] == cl.host and ok["scheme"] == "http"
    assert ok["error"] is None
    # The client reports the local service's time; the gateway's covers it.
    assert ok["service"] is not None, ok
    assert float(ok["duration"]) >= float(ok["service"]) >= 0.001, ok
    assert post["method"] == "POST" and post["bytes_in"] == "5000", post
    assert missing["tunnel"] == "-" and missing["status"] == "404", missing
    assert "nobody-here" in missing["error"], missing
    assert down["tunnel"] == "deadsvc" and down["status"] == "502", down
    assert "local service" in down["error"], down


def test_json_lines_and_hostile_input(procs, tmp_path):
    log = tmp_path / "access.json"
    gw = procs.gateway("--access-log", str(log), "--access-log-format", "json")
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "jsonlog")

    # A target with quotes, a backslash, bytes above ASCII and what looks like a second line's
    # start, sent raw.
    target = b'/a"b\\c\xff\xfe time=2020-01-01T00:00:00.000Z tunnel=forged'.replace(b" ", b"%20")
    raw = (b"GET " + target + b" HTTP/1.1\r\nHost: " + cl.host.encode() +
           b"\r\nUser-Agent: x\"\r\nConnection: close\r\n\r\n")
    resp = H.raw_exchange(gw.http_port, raw)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    assert gw.request("GET", "/status?code=418", cl.host).status == 418
    lines = read_lines(log, 2, "two JSON access log lines", procs)
    objs = [json.loads(l) for l in lines]
    first = objs[0]
    assert first["tunnel"] == "jsonlog" and first["status"] == 200 and first["method"] == "GET"
    # The path as received, every byte accounted for (bytes above ASCII as U+00XX).
    assert first["path"] == target.decode("latin-1"), first
    assert first["client"] == "127.0.0.1" and first["host"] == cl.host
    assert isinstance(first["duration_ms"], float) and first["bytes_in"] == 0
    assert objs[1]["status"] == 418 and objs[1]["path"] == "/status?code=418"
    # Only the gateway's own pages carry an error: the service's 418 is its own answer.
    assert "error" not in objs[1], objs[1]


def test_no_credentials_in_the_log(procs, tmp_path):
    log = tmp_path / "access.log"
    token = "tok-" + os.urandom(8).hex()
    gw = procs.gateway("--access-log", str(log), "--token", token)
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "secret", "--token", token,
                      "--basic-auth", "alice:pw-" + token)
    # Refused without credentials, served with them.
    assert gw.request("GET", "/", cl.host).status == 401
    auth = "Basic " + __import__("base64").b64encode(("alice:pw-" + token).encode()).decode()
    assert gw.request("GET", "/in", cl.host, headers=[("Authorization", auth),
                                                      ("Cookie", "session=" + token)]).status == 200
    lines = read_lines(log, 2, "two access log lines", procs)
    text = log.read_text()
    assert token not in text and "alice" not in text and "Basic" not in text, text
    assert parse(lines[0])["status"] == "401" and parse(lines[1])["status"] == "200"


def test_reopened_on_sighup(procs, tmp_path):
    log = tmp_path / "access.log"
    gw = procs.gateway("--access-log", str(log))
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "rotated")
    assert gw.request("GET", "/before", cl.host).status == 200
    read_lines(log, 1, "the first line", procs)
    os.rename(log, tmp_path / "access.log.1")  # what logrotate does
    gw.proc.send_signal(signal.SIGHUP)
    # Requests made after the reload land in the new file; until then, in the old one.
    def in_new():
        gw.request("GET", "/after", cl.host)
        return log.exists() and "/after" in log.read_text()
    P.wait_until(in_new, 15, "a line in the reopened access log", procs.tails, interval=0.1)
    assert "/before" in (tmp_path / "access.log.1").read_text()
    assert "/before" not in log.read_text()


def dropped_lines(gw):
    m = re.search(r"^ngrnotok_access_log_lines_dropped_total (\d+)$",
                  gw.admin("GET", "/metrics").text(), re.M)
    return int(m.group(1))


def test_write_failures_keep_the_gateway_serving(procs, tmp_path):
    """The log's file reaches the gateway's file-size limit (ulimit -f, systemd's LimitFSIZE=):
    the next write would raise SIGXFSZ, which ends a process by default. The gateway keeps
    answering, counts the lines it lost, and writes again once the limit is raised."""
    log = tmp_path / "access.log"
    gw = procs.gateway("--access-log", str(log), "--access-log-format", "json")
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "fsize")
    assert gw.request("GET", "/before", cl.host).status == 200
    read_lines(log, 1, "the first line", procs)
    pid = gw.proc.popen.pid
    # Room for part of one more line: a short write, then EFBIG.
    resource.prlimit(pid, resource.RLIMIT_FSIZE,
                     (log.stat().st_size + 100, resource.RLIM_INFINITY))
    for i in range(10):
        assert gw.request("GET", "/full%d" % i, cl.host).status == 200
    P.wait_until(lambda: dropped_lines(gw) >= 9, 10, "lost lines counted", procs.tails)
    assert gw.proc.poll() is None, "the gateway ended at its file-size limit"
    P.wait_until(lambda: any("access log" in l and "lines are lost" in l
                             for l in gw.proc.stderr_tail(40).splitlines()), 10,
                 "the failing log said in the gateway's own log", procs.tails)
    resource.prlimit(pid, resource.RLIMIT_FSIZE,
                     (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    for i in range(3):
        assert gw.request("GET", "/after%d" % i, cl.host).status == 200
    lines = read_lines(log, 5, "the lines after the limit was raised", procs)
    # The line cut by the limit stays cut, but alone: the next one starts a line of its own.
    assert lines[1].startswith("{") and "/after" not in lines[1], lines[1]
    assert [json.loads(l)["path"] for l in lines[2:]] == ["/after0", "/after1", "/after2"]
    assert json.loads(lines[0])["path"] == "/before"


def test_tcp_connection_line(procs, tmp_path):
    log = tmp_path / "access.log"
    gw = procs.tcp_gateway("--access-log", str(log))
    svc = procs.tcp_service("echo")
    cl = procs.tcp_client(gw, svc.port)
    s = cl.connect()
    s.sendall(b"hello")
    got = b""
    while len(got) < 5:
        chunk = s.recv(100)
        assert chunk, "echo closed early"
        got += chunk
    s.close()
    lines = read_lines(log, 1, "the TCP connection's line", procs)
    m = re.match(r"^\S+ tunnel=tcp:(\d+) client=127\.0\.0\.1 proto=tcp duration_ms=\d+\.\d{3} "
                 r"bytes_in=5 bytes_out=5$", lines[0])
    assert m and int(m.group(1)) == cl.port, lines[0]


def test_off_by_default(procs):
    gw = procs.gateway()
    up = procs.upstream()
    cl = procs.client(gw, up.port)
    assert gw.request("GET", "/quiet", cl.host).status == 200
    # stdout has nothing but what the gateway always prints (nothing); no line names the path.
    assert not any("/quiet" in l for l in gw.proc.stdout_lines), gw.proc.stdout_lines


def test_stdout_and_bad_path(procs, tmp_path):
    gw = procs.gateway("--access-log", "-")
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "tostdout")
    assert gw.request("GET", "/out", cl.host).status == 200
    m = gw.proc.wait_stdout(r'^\S+ tunnel=tostdout .* path="/out" .* status=200 ', 15,
                            "the access log line on stdout")
    assert parse(m[0].string)["status"] == "200"
    r = P.run_cli(["--access-log", str(tmp_path / "no" / "such" / "dir.log")],
                  binary_name="ngrnotokd")
    assert r.returncode != 0
    assert "access_log" in r.stderr and "no/such/dir.log" in r.stderr, r.stderr


def test_stdout_nobody_reads_does_not_stop_the_gateway(procs, tmp_path):
    """--access-log - into a pipe that is never read (a stalled journal): once the pipe is full
    the gateway drops lines and counts them, and keeps answering every request."""
    import subprocess
    import time
    ports = tmp_path / "ports"
    argv = [P.binary("ngrnotokd"), "--control-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
            "--admin-addr", "127.0.0.1:0", "--ports-file", str(ports), "--state-dir",
            str(tmp_path / "state"), "--access-log", "-"]
    gw = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, env=P.base_env())
    try:
        text = P.wait_until(lambda: (lambda t: t if "admin=" in t else None)(
            ports.read_text() if ports.exists() else ""), 20, "the ports file")
        port = {k: int(v.rpartition(":")[2]) for k, _, v in
                (l.partition("=") for l in text.splitlines() if "=" in l)}
        up = procs.upstream()
        cl = procs.client("127.0.0.1:%d" % port["control"], up.port, "-n", "unread")
        host = "unread.localhost:%d" % port["http"]
        # A long target makes each line long: the pipe's 64 KiB fill in a few hundred.
        path = "/" + "x" * 1500
        deadline = time.monotonic() + 60
        for i in range(400):
            assert time.monotonic() < deadline, "requests slowed to a crawl"
            r = H.request(port["http"], "GET", path + "?%d" % i, [("Host", host)], timeout=10)
            assert r.status == 200, r
        m = re.search(r"^ngrnotok_access_log_lines_dropped_total (\d+)$",
                      H.request(port["admin"], "GET", "/metrics",
                                [("Host", "127.0.0.1")]).body.decode(), re.M)
        assert m and int(m.group(1)) > 0, "no line counted as lost with the pipe full"
        assert gw.poll() is None
    finally:
        gw.terminate()
        try:
            gw.wait(10)
        except subprocess.TimeoutExpired:
            gw.kill()
            gw.wait(10)
        gw.stdout.close()
