"""Resilience (issue 13): heartbeats that find a half-open connection on both sides, a client
that reconnects by itself and gets its URL back, names kept for their client through a lost
connection and through a gateway's restart or crash, and the errors that end a client because
retrying cannot fix them."""

import signal
import socket
import threading
import uuid

import pytest

from lib import procs as P
from lib.control_client import GOAWAY, OPEN, ControlSession, frame, goaway_payload
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


def gw_holds(gw):
    """Some request waits in the gateway: GET /tunnels says nothing of it, so its log does
    (debug lines are not on; the hold is logged at info when it begins)."""
    return "requests held for its reconnecting client" in gw.proc.stderr_tail(300)


QUICK_HEARTBEATS = ("--heartbeat", "0.2", "--dead-after", "1")


def through_freeze_proxy(procs):
    """A gateway and a client that reach each other through a FreezeProxy, both with quick
    heartbeats: (gateway, upstream, proxy, client). The caller closes the proxy."""
    gw = procs.gateway(*QUICK_HEARTBEATS)
    up = procs.upstream()
    proxy = FreezeProxy(gw.control_port)
    try:
        cl = procs.client("127.0.0.1:%d" % proxy.port, up.port, *QUICK_HEARTBEATS)
    except BaseException:
        proxy.close()
        raise
    return gw, up, proxy, cl


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


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
    gw, up, proxy, cl = through_freeze_proxy(procs)
    try:
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


def test_request_held_while_client_reconnects(procs):
    """A request that arrives while the tunnel's client is away waits, and is answered by the
    local service once the client is back."""
    gw, up, proxy, cl = through_freeze_proxy(procs)
    try:
        proxy.freeze()
        P.wait_until(lambda: gw.tunnels() == [], 20, "the gateway to drop the silent client",
                     gw.proc.describe)
        result = {}

        def held_request():
            result["r"] = gw.request("POST", "/echo/held", cl.host, body=b"held body")

        t = threading.Thread(target=held_request)
        t.start()
        # The request is in the gateway (its echo cannot have come: the client is away)
        # before the client may come back.
        P.wait_until(lambda: gw_holds(gw), 10, "the gateway to hold the request")
        proxy.thaw()
        t.join(30)
        assert not t.is_alive(), "the held request got no answer"
        r = result["r"]
        assert r.status == 200, r
        body = r.json()
        assert body["tag"] == up.tag and body["method"] == "POST" and body["path"] == "/echo/held"
    finally:
        proxy.close()


def test_held_request_gets_503_when_client_stays_away(procs):
    gw = procs.gateway("--hold-requests", "0.5")
    up = procs.upstream()
    cl = procs.client(gw, up.port)
    cl.proc.send_signal(signal.SIGKILL)
    cl.proc.wait(10)
    P.wait_until(lambda: gw.tunnels() == [], 10, "the gateway to notice the client gone")
    r = gw.request("GET", "/", cl.host)
    assert r.status == 503, r
    assert r.header("Retry-After") == "5", r.headers
    assert b"is reconnecting" in r.body and b"was not back within 0.5 s" in r.body, r.body
    # Without holding, a lost tunnel's name is a 404 at once.
    gw0 = procs.gateway("--hold-requests", "0")
    cl0 = procs.client(gw0, up.port)
    cl0.proc.send_signal(signal.SIGKILL)
    cl0.proc.wait(10)
    P.wait_until(lambda: gw0.tunnels() == [], 10, "the gateway to notice the client gone")
    assert gw0.request("GET", "/", cl0.host).status == 404


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_same_url_after_client_restart_and_request_held_between(procs, how):
    gw = procs.gateway()
    up = procs.upstream()
    first = procs.client(gw, up.port)
    first.proc.send_signal(how)
    assert first.proc.wait(10) == (0 if how == signal.SIGINT else -signal.SIGKILL)
    P.wait_until(lambda: gw.tunnels() == [], 10, "the gateway to notice the client gone")
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=gw.request("GET", "/echo/between", first.host)))
    t.start()
    P.wait_until(lambda: gw_holds(gw), 10, "the gateway to hold the request")
    again = procs.client(gw, up.port)
    assert again.url == first.url
    t.join(30)
    assert not t.is_alive(), "the held request got no answer"
    r = result["r"]
    assert r.status == 200 and r.json()["path"] == "/echo/between", r
    # --new-url: a fresh one.
    again.proc.send_signal(signal.SIGINT)
    again.proc.wait(10)
    fresh = procs.client(gw, up.port, "--new-url")
    assert fresh.url != first.url
    served(gw, fresh, up)


def test_second_run_for_the_same_port_gets_its_own_url(procs):
    gw = procs.gateway()
    up = procs.upstream()
    a = procs.client(gw, up.port)
    b = procs.client(gw, up.port)
    assert a.url != b.url
    wait_stderr(b.proc, "another ngrnotok for this gateway and local service holds it")
    served(gw, a, up)
    served(gw, b, up)
    assert "replaced" not in gw.proc.stderr_tail(300)


def test_sigterm_lets_inflight_requests_finish(procs):
    addrs = fixed_addrs()
    gw = procs.gateway(*addrs, default_addrs=False)
    up = procs.upstream()
    cl = procs.client(gw, up.port)
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=gw.request("GET", "/drip?n=4&interval_ms=300", cl.host, timeout=30)))
    t.start()
    P.wait_until(lambda: "/drip" in cl.proc.stderr_tail(50) or gw.tunnels()[0]["streams"] > 0,
                 10, "the request to reach the client")
    gw.proc.send_signal(signal.SIGTERM)
    wait_stderr(gw.proc, "draining: no new connections")
    # No new connection is taken while the old ones finish.
    P.wait_until(lambda: refused(gw.http_port), 5, "the HTTP port to refuse connections")
    t.join(30)
    r = result["r"]
    assert r.status == 200 and r.body == b"tick 0\ntick 1\ntick 2\ntick 3\n", r
    assert gw.proc.wait(15) == 0
    assert "drained: every request finished" in gw.proc.stderr_tail(50)
    assert "the gateway is going away" in cl.proc.stderr_tail(50)
    # The client is still there and comes back to the next gateway.
    gw2 = procs.gateway(*addrs, default_addrs=False)
    forwarding_again(cl)
    served(gw2, cl, up)


def test_drain_timeout_cuts_what_is_left(procs):
    gw = procs.gateway("--drain-timeout", "0.5")
    up = procs.upstream()
    cl = procs.client(gw, up.port)
    result = {}

    def slow():
        try:
            result["r"] = gw.request("GET", "/slow-head?ms=20000", cl.host, timeout=30)
        except Exception as e:  # noqa: BLE001 - a cut connection is one right answer
            result["e"] = e
    t = threading.Thread(target=slow)
    t.start()
    P.wait_until(lambda: gw.tunnels()[0]["streams"] > 0, 10, "the request to be under way")
    gw.proc.send_signal(signal.SIGTERM)
    assert gw.proc.wait(15) == 0
    assert "drain timeout: stopping with 1 requests" in gw.proc.stderr_tail(50)
    t.join(30)
    assert "e" in result or result["r"].status in (502, 503), result


def test_client_sigterm_finishes_its_requests_and_keeps_its_url(procs):
    gw = procs.gateway()
    up = procs.upstream()
    cl = procs.client(gw, up.port)
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=gw.request("GET", "/hold?gate=g1&id=h1", cl.host, timeout=30)))
    t.start()
    up.proc.wait_stdout(r"^BEGIN-SLEEP h1$", 10, "the request to reach the local service")
    cl.proc.send_signal(signal.SIGTERM)
    wait_stderr(cl.proc, "stopping: finishing 1 request under way")
    # The gateway sends it nothing new: a request now waits for the name's client.
    held = {}
    t2 = threading.Thread(target=lambda: held.update(
        r=gw.request("GET", "/echo/held", cl.host, timeout=30)))
    t2.start()
    P.wait_until(lambda: gw_holds(gw), 10, "the new request to be held")
    assert cl.proc.poll() is None
    r = up.direct("GET", "/release?id=g1")
    assert r.status == 200
    t.join(30)
    assert result["r"].status == 200 and result["r"].json()["path"] == "/hold?gate=g1&id=h1"
    assert cl.proc.wait(15) == 0
    # Restarted within the grace: the same URL, and the held request is answered by it.
    cl2 = procs.client(gw, up.port)
    assert cl2.url == cl.url
    t2.join(30)
    assert held["r"].status == 200 and held["r"].json()["path"] == "/echo/held", held["r"]


def test_client_second_signal_stops_at_once(procs):
    gw = procs.gateway()
    up = procs.upstream()
    cl = procs.client(gw, up.port)
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=gw.request("GET", "/hold?gate=g2&id=h2", cl.host, timeout=30)))
    t.start()
    up.proc.wait_stdout(r"^BEGIN-SLEEP h2$", 10, "the request to reach the local service")
    cl.proc.send_signal(signal.SIGINT)
    wait_stderr(cl.proc, "signal again to stop now")
    cl.proc.send_signal(signal.SIGINT)
    assert cl.proc.wait(15) == 0
    t.join(30)
    assert result["r"].status == 502, result["r"]
    up.direct("GET", "/release?id=g2")


def test_sighup_rereads_the_config_file_and_logs_what_changed(procs):
    conf = procs.tmpdir / "gw.conf"
    conf.write_text("max_body_size = 1000\nreserved_names = admin\n")
    gw = procs.gateway("--config", conf, "--max-rate", "0")
    up = procs.upstream()
    cl = procs.client(gw, up.port)
    body = b"x" * 2000
    assert gw.request("POST", "/echo", cl.host, body=body).status == 413
    conf.write_text("max_body_size = 100000\nreserved_names = admin\ndomain = other.example\n"
                    "max_rate = 7\n")
    gw.proc.send_signal(signal.SIGHUP)
    wait_stderr(gw.proc, "SIGHUP: max_body_size: 1000 bytes -> 100000 bytes")
    log = gw.proc.stderr_tail(100)
    assert ('SIGHUP: domain: "localhost" -> "other.example" needs a restart; "localhost" stays '
            'in use') in log, log
    # A flag wins over the file, on SIGHUP as at start: max_rate is not a change.
    assert "max_rate" not in log
    # The same tunnel, the same client, the new limit.
    r = gw.request("POST", "/echo", cl.host, body=body)
    assert r.status == 200 and r.json()["body_length"] == 2000, r
    assert cl.proc.poll() is None and P.FORWARDING_RE.search(cl.line)
    # A file that does not parse changes nothing.
    conf.write_text("max_body_size = lots\n")
    gw.proc.send_signal(signal.SIGHUP)
    wait_stderr(gw.proc, "the settings in use are kept")
    assert gw.request("POST", "/echo", cl.host, body=body).status == 200
    conf.write_text("max_body_size = 100000\nreserved_names = admin\n")
    gw.proc.send_signal(signal.SIGHUP)
    wait_stderr(gw.proc, "no setting changed")


def test_requests_crossing_the_clients_goodbye_are_not_lost(procs):
    """Requests keep coming while the client is stopped (SIGINT) and started again, several
    times: the gateway sends some of them after the client's GOAWAY left. Each is either
    answered by the old client, or held and answered by the new one: never a 502."""
    gw = procs.gateway()
    up = procs.upstream()
    cl = procs.client(gw, up.port, "-n", "crossing")
    host = cl.host
    stop = threading.Event()
    bad, counts = [], [0]
    lock = threading.Lock()

    def load():
        deadline = __import__("time").monotonic() + 60
        i = 0
        while not stop.is_set() and __import__("time").monotonic() < deadline and i < 20000:
            i += 1
            try:
                r = gw.request("GET", "/echo/x?i=%d" % i, host, timeout=30)
            except OSError as e:
                with lock:
                    bad.append("connection: %s" % e)
                continue
            with lock:
                counts[0] += 1
                if r.status != 200 or r.json()["path"] != "/echo/x?i=%d" % i:
                    bad.append("%d %s" % (r.status, r.body[:200]))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(6):
            seen = counts[0]
            P.wait_until(lambda: counts[0] >= seen + 50, 20, "requests served between restarts",
                         procs.tails)
            cl.proc.send_signal(signal.SIGINT)
            assert cl.proc.wait(15) == 0
            cl = procs.client(gw, up.port, "-n", "crossing")
    finally:
        stop.set()
        for t in threads:
            t.join(40)
    assert not any(t.is_alive() for t in threads)
    assert counts[0] > 300, counts
    assert bad == [], "%d of %d requests failed: %s" % (len(bad), counts[0], bad[:5])


def test_request_the_client_never_saw_goes_to_the_rest_of_its_pool(procs):
    """The race above, made certain: a pool of a real client and a protocol-level one. A request
    reaches the second, which answers GOAWAY saying it never saw it (ref below the request's
    stream) and closes. The gateway sends the request again, to the real client: 200, where it
    used to be a 502."""
    gw = procs.gateway()
    up = procs.upstream()
    procs.client(gw, up.port, "-n", "crossed", "--pool")
    fake = ControlSession.open(gw.control_port, subdomain=b"crossed", opts=[(b"pool", b"1")])
    try:
        for attempt in range(20):  # routing takes the pool's members in turn
            result = {}
            t = threading.Thread(target=lambda: result.update(
                r=gw.request("GET", "/echo/unseen-%d" % attempt, "crossed.localhost:%d"
                             % gw.http_port, timeout=30)))
            t.start()
            f = None
            while t.is_alive():
                try:
                    f = fake.read_frame(timeout=0.2)
                except (TimeoutError, socket.timeout):
                    f = None
                    continue
                if f is None or f[0] == OPEN:
                    break
            if f is not None and f[0] == OPEN:
                fake.send(frame(GOAWAY, goaway_payload(ref=max(0, f[2] - 2))))
                fake.close()
                t.join(30)
                r = result["r"]
                assert r.status == 200, r
                assert r.json()["path"] == "/echo/unseen-%d" % attempt, r
                assert r.json()["tag"] == up.tag
                return
            t.join(30)
            assert result["r"].status == 200, result["r"]
        raise AssertionError("no request reached the protocol-level pool member in 20 tries")
    finally:
        fake.close()
