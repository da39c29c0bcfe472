"""Resilience (issue 13): heartbeats that find a half-open connection on both sides, a client
that reconnects by itself and gets its URL back, names kept for their client through a lost
connection and through a gateway's restart or crash, and the errors that end a client because
retrying cannot fix them."""

import signal
import uuid

import pytest

from lib import procs as P
from lib.freeze_proxy import FreezeProxy

RECONNECTING = "reconnecting (attempt "


def fixed_addrs():
    """Control, HTTP and admin addresses on fixed free ports: a restarted gateway takes the
    same flags."""
    low, _ = P.free_port_range(3)
    return ["--control-addr", "127.0.0.1:%d" % low, "--http-addr", "127.0.0.1:%d" % (low + 1),
            "--admin-addr", "127.0.0.1:%d" % (low + 2)]


def wait_stderr(proc, text, timeout=20, what=None):
    P.wait_until(lambda: text in proc.stderr_tail(300), timeout, what or repr(text),
                 tails=proc.describe)


def forwarding_again(cl, timeout=20):
    """The client's second Forwarding line, which must name the URL of its first."""
    lines = cl.proc.wait_stdout(P.FORWARDING_RE.pattern, timeout, "a second Forwarding line",
                                count=2)
    assert lines[1].group(0) == lines[0].group(0), "the URL changed: %r -> %r" % (
        lines[0].group(0), lines[1].group(0))


def served(gw, cl, up):
    r = gw.request("GET", "/echo", cl.host)
    assert r.status == 200 and r.json()["tag"] == up.tag, r


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_same_urls_after_gateway_restart(procs, how):
    addrs = fixed_addrs()
    gw = procs.gateway(*addrs, default_addrs=False)
    up = procs.upstream()
    random_name = procs.client(gw, up.port)
    chosen = procs.client(gw, up.port, "--subdomain", "kept-" + uuid.uuid4().hex[:8])
    gw.proc.send_signal(how)
    gw.proc.wait(10)
    # The same flags, nothing more: the state directory is the default one.
    gw2 = procs.gateway(*addrs, default_addrs=False)
    for cl in (random_name, chosen):
        forwarding_again(cl)
        assert RECONNECTING in cl.proc.stderr_tail(300)
        served(gw2, cl, up)
    assert sorted(t["public_url"] for t in gw2.tunnels()) == sorted(
        (random_name.url, chosen.url))


def test_name_kept_for_its_client_through_the_grace(procs):
    gw = procs.gateway()
    up = procs.upstream()
    name = "held-" + uuid.uuid4().hex[:8]
    a = procs.client(gw, up.port, "--subdomain", name)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(10)
    P.wait_until(lambda: gw.tunnels() == [], 10, "the gateway to notice the client gone")
    r = P.run_cli(["http", "--server", gw.control_addr, "--subdomain", name, str(up.port)])
    assert r.returncode == 1 and "Forwarding" not in r.stdout, r
    assert ("name '%s' is kept for the client that held it for another" % name) in r.stderr, \
        r.stderr
    assert "reconnect grace" in r.stderr
    # Without a grace the name is free as soon as its tunnel is gone.
    gw0 = procs.gateway("--reconnect-grace", "0")
    b = procs.client(gw0, up.port, "--subdomain", name)
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(10)
    P.wait_until(lambda: gw0.tunnels() == [], 10, "the gateway to notice the client gone")
    c = procs.client(gw0, up.port, "--subdomain", name)
    served(gw0, c, up)


def test_half_open_connection_found_on_both_sides(procs):
    gw = procs.gateway("--heartbeat", "0.2", "--dead-after", "1")
    up = procs.upstream()
    proxy = FreezeProxy(gw.control_port)
    try:
        cl = procs.client("127.0.0.1:%d" % proxy.port, up.port, "--heartbeat", "0.2",
                          "--dead-after", "1")
        served(gw, cl, up)
        proxy.freeze()
        wait_stderr(cl.proc, "tunnel closed: peer silent for", what="the client to find the "
                    "gateway silent")
        wait_stderr(gw.proc, "closed: peer silent for", what="the gateway to find the client "
                    "silent")
        wait_stderr(cl.proc, RECONNECTING)
        proxy.thaw()
        forwarding_again(cl)
        served(gw, cl, up)
    finally:
        proxy.close()


def test_heartbeat_options_checked(procs):
    r = P.run_cli(["http", "--heartbeat", "5", "--dead-after", "5", "3000"])
    assert r.returncode == 2 and "--dead-after (5 s) must be longer than --heartbeat" in r.stderr
    r = P.run_cli(["--heartbeat", "x"], binary_name="ngrnotokd")
    assert r.returncode == 2 and "heartbeat \"x\": expected seconds" in r.stderr, r.stderr


def test_errors_retrying_cannot_fix_end_the_client(procs):
    addrs = fixed_addrs()
    gw = procs.gateway(*addrs, "--token", "first-token", default_addrs=False)
    up = procs.upstream()
    cl = procs.client(gw, up.port, "--token", "first-token")
    gw.proc.send_signal(signal.SIGTERM)
    gw.proc.wait(10)
    procs.gateway(*addrs, "--token", "second-token", default_addrs=False)
    assert cl.proc.wait(20) == 1
    assert "authentication failed: the token is not valid for this gateway" in \
        cl.proc.stderr_tail(300)


def test_tcp_port_back_after_restart_and_kept_from_others(procs):
    addrs = fixed_addrs()
    low, high = P.free_port_range(2)
    tcp = ["--tcp-ports", "%d-%d" % (low, high)]
    gw = procs.gateway(*addrs, *tcp, default_addrs=False)
    svc = procs.tcp_service("echo")
    a = procs.tcp_client(gw, svc.port)
    b = procs.tcp_client(gw, svc.port)
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait(10)
    gw2 = procs.gateway(*addrs, *tcp, default_addrs=False)
    for c in (a, b):
        lines = c.proc.wait_stdout(P.TCP_FORWARDING_RE.pattern, 20, "a second Forwarding line",
                                   count=2)
        assert lines[1].group("port") == lines[0].group("port"), (lines[0].group(0),
                                                                   lines[1].group(0))
    # a's port stays a's while it is away: a newcomer gets no port of the range.
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(10)
    P.wait_until(lambda: len(gw2.tunnels()) == 1, 10, "the gateway to notice a gone")
    r = P.run_cli(["tcp", "--server", gw2.control_addr, str(svc.port)])
    assert r.returncode == 1 and "no free TCP port left" in r.stderr, r
