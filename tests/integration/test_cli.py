"""Command-line behaviour of ngrnotok (client) and ngrnotokd (gateway)."""

import re
import signal
import socket

import pytest

from lib import procs as P

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def echo_through(tunnel_or_gw, host, path="/echo"):
    gw = getattr(tunnel_or_gw, "gateway", tunnel_or_gw)
    r = gw.request("GET", path, host)
    assert r.status == 200, "GET %s with Host %s through the tunnel: %r" % (path, host, r)
    return r.json()


# -- help / version ----------------------------------------------------------------

def test_client_help(binaries):
    r = P.run_cli(["--help"])
    out = r.stdout + r.stderr
    assert r.returncode == 0, "ngrnotok --help exit code %d, output %r" % (r.returncode, out)
    for word in ("http", "--server", "--subdomain", "--host-header", "-p", "-v", "--help"):
        assert word in out, "ngrnotok --help does not mention %r:\n%s" % (word, out)


def test_gateway_help_lists_all_options(binaries):
    r = P.run_cli(["--help"], binary_name="ngrnotokd")
    out = r.stdout + r.stderr
    assert r.returncode == 0, "ngrnotokd --help exit code %d, output %r" % (r.returncode, out)
    for opt in ("--domain", "--control-addr", "--http-addr", "--admin-addr", "--public-port",
                "--response-timeout", "--ports-file", "--config", "-v", "--help",
                "--version"):
        assert opt in out, "ngrnotokd --help does not mention %r:\n%s" % (opt, out)


def test_gateway_version(binaries):
    r = P.run_cli(["--version"], binary_name="ngrnotokd")
    assert r.returncode == 0, "ngrnotokd --version exit code %d: %r" % (r.returncode, r.stderr)
    assert (r.stdout + r.stderr).strip(), "ngrnotokd --version printed nothing"


def test_gateway_bad_option_fails(binaries):
    r = P.run_cli(["--no-such-option"], binary_name="ngrnotokd", timeout=10)
    assert r.returncode != 0, "ngrnotokd --no-such-option exited 0: %r" % (r.stdout + r.stderr)


def test_gateway_fails_when_port_in_use(binaries, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    busy = s.getsockname()[1]
    try:
        r = P.run_cli(["--control-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:%d" % busy,
                       "--admin-addr", "127.0.0.1:0", "--ports-file", tmp_path / "ports"],
                      binary_name="ngrnotokd", timeout=10)
    finally:
        s.close()
    assert r.returncode != 0, "ngrnotokd started although its http port %d was taken" % busy
    assert r.stderr.strip(), "ngrnotokd failed to bind but printed no message"
    # It names the option, and what to do.
    assert "--http-addr" in r.stderr and "another program listens there" in r.stderr, r.stderr


def test_gateway_missing_config_names_the_example(binaries, tmp_path):
    r = P.run_cli(["--config", tmp_path / "nope.conf"], binary_name="ngrnotokd", timeout=10)
    assert r.returncode == 2, r
    assert "--config" in r.stderr and "config/ngrnotokd.conf" in r.stderr, r.stderr


# -- bad arguments ---------------------------------------------------------------------

BAD_ARGS = [
    [],
    ["http"],
    ["frobnicate", "8000"],
    ["http", "notaport"],
    ["http", "70000"],
    ["http", "0"],
    ["http", "-1"],
    ["http", "--no-such-option", "8000"],
    ["http", "--host-header=sideways", "8000"],
    ["http", "-p"],
    ["http", "8000", "9000"],
    ["http", "localhost:"],
]


@pytest.mark.parametrize("args", BAD_ARGS, ids=lambda a: " ".join(a) or "no-args")
def test_client_bad_args(procs, args):
    # A live gateway via the environment: a client that wrongly accepts the
    # arguments would print Forwarding (and not exit) instead of failing.
    gw = procs.gateway()
    r = P.run_cli(args, env=P.base_env(NGRNOTOK_SERVER=gw.control_addr), timeout=10)
    assert r.returncode != 0, "ngrnotok %r exited 0; stdout %r" % (args, r.stdout)
    assert "Forwarding" not in r.stdout
    assert r.stderr.startswith("ngrnotok: "), \
        "stderr of ngrnotok %r should start with 'ngrnotok: ', got %r" % (args, r.stderr[:500])
    assert gw.tunnels() == [], "a tunnel was registered for bad args %r" % (args,)


def test_unreachable_server(binaries):
    port = P.free_port()
    r = P.run_cli(["http", "--server", "127.0.0.1:%d" % port, "8000"], timeout=15)
    assert r.returncode != 0, "ngrnotok exited 0 with an unreachable server"
    assert "Forwarding" not in r.stdout
    assert r.stderr.startswith("ngrnotok: "), "stderr: %r" % r.stderr[:500]
    low = r.stderr.lower()
    assert str(port) in r.stderr or any(w in low for w in ("connect", "unreachable", "refused")), \
        "message does not say the server could not be reached: %r" % r.stderr
    # ... and what to do about it.
    assert "--server HOST:PORT" in r.stderr and "config set-server" in r.stderr, r.stderr


# -- subdomains --------------------------------------------------------------------------

def test_subdomain_taken(procs):
    # No reconnect grace: the name is free as soon as its client is gone (with one, it is kept
    # for that client: test_reconnect.py).
    gw = procs.gateway("--reconnect-grace", "0")
    up = procs.upstream()
    first = procs.client(gw, up.port, "--subdomain", "taken-one")
    assert first.sub == "taken-one"
    r = P.run_cli(["http", "--server", gw.control_addr, "--subdomain", "taken-one", up.port],
                  timeout=15)
    assert r.returncode != 0, "second client with a taken subdomain exited 0: %r" % r.stdout
    assert "Forwarding" not in r.stdout
    assert r.stderr.startswith("ngrnotok: "), "stderr: %r" % r.stderr[:500]
    assert "already in use" in r.stderr, "stderr: %r" % r.stderr
    # The first tunnel is unaffected.
    assert echo_through(gw, first.host)["tag"] == up.tag
    assert [t["subdomain"] for t in gw.tunnels()] == ["taken-one"]
    # Once the first client is gone the name can be taken again.
    first.proc.stop()
    P.wait_until(lambda: gw.tunnels() == [], 5, "the stopped client's tunnel to disappear",
                 procs.tails)
    again = procs.client(gw, up.port, "--subdomain", "taken-one")
    assert again.sub == "taken-one"
    assert echo_through(gw, again.host)["tag"] == up.tag


INVALID_SUBDOMAINS = ["UPPER", "Mixed", "-lead", "trail-", "a_b", "a.b", "x" * 64,
                      "sp ace", "caf\u00e9", "a/b"]


@pytest.mark.parametrize("sub", INVALID_SUBDOMAINS)
def test_invalid_subdomain(procs, sub):
    gw = procs.gateway()
    r = P.run_cli(["http", "--server", gw.control_addr, "--subdomain", sub, "8000"], timeout=15)
    assert r.returncode != 0, "subdomain %r accepted: %r" % (sub, r.stdout)
    assert "Forwarding" not in r.stdout
    assert r.stderr.startswith("ngrnotok: "), "stderr: %r" % r.stderr[:500]
    assert "invalid subdomain" in r.stderr, "stderr for %r: %r" % (sub, r.stderr)
    assert gw.tunnels() == []


def test_empty_subdomain_rejected(procs):
    gw = procs.gateway()
    r = P.run_cli(["http", "--server", gw.control_addr, "--subdomain=", "8000"], timeout=15)
    assert r.returncode != 0, "empty subdomain accepted: %r" % r.stdout
    assert r.stderr.startswith("ngrnotok: "), "stderr: %r" % r.stderr[:500]


@pytest.mark.parametrize("sub", ["a", "x" * 63, "a-b-9", "0abc", "9"])
def test_valid_subdomain_edge_cases(procs, sub):
    gw = procs.gateway()
    up = procs.upstream()
    c = procs.client(gw, up.port, "--subdomain", sub)
    assert c.line == "Forwarding http://%s.localhost:%d -> http://localhost:%d" % (
        sub, gw.http_port, up.port)
    assert echo_through(gw, c.host)["tag"] == up.tag


def test_default_subdomain_is_random_uuid(procs):
    gw = procs.gateway()
    up = procs.upstream()
    a = procs.client(gw, up.port)
    b = procs.client(gw, up.port)
    for c in (a, b):
        assert re.fullmatch(r"Forwarding http://%s\.localhost:%d -> http://localhost:%d"
                            % (UUID_RE, gw.http_port, up.port), c.line), c.line
    assert a.sub != b.sub, "two clients got the same default subdomain %s" % a.sub
    assert echo_through(gw, a.host)["tag"] == up.tag
    assert echo_through(gw, b.host)["tag"] == up.tag


# -- server selection / target forms ----------------------------------------------------------

def test_server_from_env(procs):
    gw = procs.gateway()
    up = procs.upstream()
    c = procs.client(gw, up.port, env=P.base_env(NGRNOTOK_SERVER=gw.control_addr),
                     server_flag=False)
    assert c.url.endswith(":%d" % gw.http_port)
    assert echo_through(gw, c.host)["tag"] == up.tag


def test_server_flag_overrides_env(procs):
    gw = procs.gateway()
    up = procs.upstream()
    dead = "127.0.0.1:%d" % P.free_port()
    c = procs.client(gw, up.port, env=P.base_env(NGRNOTOK_SERVER=dead))
    assert echo_through(gw, c.host)["tag"] == up.tag


def test_env_server_unreachable_fails(binaries):
    dead = "127.0.0.1:%d" % P.free_port()
    r = P.run_cli(["http", "8000"], env=P.base_env(NGRNOTOK_SERVER=dead), timeout=15)
    assert r.returncode != 0, "ngrnotok exited 0 though NGRNOTOK_SERVER=%s is dead" % dead
    assert r.stderr.startswith("ngrnotok: "), "stderr: %r" % r.stderr[:500]


def test_dash_p_form(procs):
    gw = procs.gateway()
    up = procs.upstream()
    c = procs.client(gw, ["-p", up.port])
    assert c.target == "http://localhost:%d" % up.port, c.line
    assert echo_through(gw, c.host)["tag"] == up.tag


def test_host_port_form(procs):
    gw = procs.gateway()
    up = procs.upstream()
    c = procs.client(gw, "127.0.0.1:%d" % up.port)
    assert c.target.endswith(":%d" % up.port), c.line
    assert echo_through(gw, c.host)["tag"] == up.tag


def echoed_host(gw, c):
    hosts = [v for k, v in echo_through(gw, c.host)["headers"] if k.lower() == "host"]
    assert len(hosts) == 1, "expected exactly one Host header upstream, got %r" % hosts
    return hosts[0]


def test_host_header_preserve_is_default(procs):
    gw = procs.gateway()
    up = procs.upstream()
    c = procs.client(gw, up.port)
    assert echoed_host(gw, c) == c.host


def test_host_header_preserve_explicit(procs):
    gw = procs.gateway()
    up = procs.upstream()
    c = procs.client(gw, up.port, "--host-header=preserve")
    assert echoed_host(gw, c) == c.host


def test_host_header_rewrite(procs):
    gw = procs.gateway()
    up = procs.upstream()
    c = procs.client(gw, up.port, "--host-header=rewrite")
    assert echoed_host(gw, c) == "localhost:%d" % up.port


def test_host_header_rewrite_with_host_port_target(procs):
    gw = procs.gateway()
    up = procs.upstream()
    c = procs.client(gw, "127.0.0.1:%d" % up.port, "--host-header=rewrite")
    assert echoed_host(gw, c) == "127.0.0.1:%d" % up.port


# -- gateway options ---------------------------------------------------------------------------

def test_gateway_domain_and_public_port_80(procs):
    gw = procs.gateway("--domain", "example.test", "--public-port", "80")
    up = procs.upstream()
    c = procs.client(gw, up.port, "--subdomain", "web")
    assert c.line == "Forwarding http://web.example.test -> http://localhost:%d" % up.port
    assert echo_through(gw, "web.example.test")["tag"] == up.tag


def test_gateway_public_port(procs):
    gw = procs.gateway("--domain", "example.test", "--public-port", "8443")
    up = procs.upstream()
    c = procs.client(gw, up.port, "--subdomain", "web")
    assert c.line == "Forwarding http://web.example.test:8443 -> http://localhost:%d" % up.port
    assert echo_through(gw, "web.example.test:8443")["tag"] == up.tag


def test_gateway_config_file(procs, tmp_path):
    cfg = tmp_path / "ngrnotokd.conf"
    cfg.write_text(
        "# test configuration\n"
        "domain = cfg.test\n"
        "\n"
        "control_addr = 127.0.0.1:0\n"
        "http_addr = 127.0.0.1:0\n"
        "admin_addr = 127.0.0.1:0   \n"
        "   # indented comment\n"
        "public_port = 9090\n"
        "response_timeout = 12.5\n")
    gw = procs.gateway("--config", cfg, default_addrs=False)
    up = procs.upstream()
    c = procs.client(gw, up.port, "--subdomain", "conf")
    assert c.line == "Forwarding http://conf.cfg.test:9090 -> http://localhost:%d" % up.port
    assert echo_through(gw, "conf.cfg.test:9090")["tag"] == up.tag


def test_gateway_flags_override_config(procs, tmp_path):
    cfg = tmp_path / "ngrnotokd.conf"
    cfg.write_text("domain = cfg.test\npublic_port = 9090\n"
                   "control_addr = 127.0.0.1:1\nhttp_addr = 127.0.0.1:1\n"
                   "admin_addr = 127.0.0.1:1\n")
    # Flags (127.0.0.1:0 addrs, domain, public port) must win over the file
    # (port 1 would fail to bind).
    gw = procs.gateway("--config", cfg, "--domain", "flag.test", "--public-port", "7070")
    up = procs.upstream()
    c = procs.client(gw, up.port, "--subdomain", "over")
    assert c.line == "Forwarding http://over.flag.test:7070 -> http://localhost:%d" % up.port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_gateway_stops_cleanly_on_signal(procs, sig):
    gw = procs.gateway()
    up = procs.upstream()
    c = procs.client(gw, up.port)
    echo_through(gw, c.host)
    gw.proc.send_signal(sig)
    try:
        rc = gw.proc.wait(timeout=10)
    except Exception:
        raise AssertionError("ngrnotokd did not exit within 10s of %s\n%s"
                             % (sig.name, gw.proc.describe()))
    assert rc == 0, "ngrnotokd exit code after %s: %s\n%s" % (sig.name, rc, gw.proc.describe())


def test_verbose_logs_go_to_stderr_only(procs):
    gw = procs.gateway("-v")
    up = procs.upstream()
    c = procs.client(gw, up.port, "-v")
    for i in range(3):
        echo_through(gw, c.host, "/echo?verbose=%d" % i)
    P.wait_until(lambda: c.proc.stderr_tail() and gw.proc.stderr_tail(), 5,
                 "-v log output on stderr of both programs", procs.tails)
    # stdout of the client is the Forwarding line and a line per request, no log line; the
    # gateway's is empty.
    c.proc.wait_stdout(r" GET +/echo\?verbose=2 200 ", 10, "the last request's line")
    assert c.proc.stdout_lines[0] == c.line, c.proc.stdout_lines
    assert len(c.proc.stdout_lines) == 4, c.proc.stdout_lines
    for i, line in enumerate(c.proc.stdout_lines[1:]):
        assert re.match(r"^\d\d:\d\d:\d\d GET +/echo\?verbose=%d 200 \d+ ms \d+ B$" % i,
                        line), line
    assert gw.proc.stdout_lines == [], gw.proc.stdout_lines
