"""The gateway under a service manager (its unit is Type=notify): the sd_notify datagrams it
sends to $NOTIFY_SOCKET, here a socket of the test's own. READY=1 once it listens, RELOADING=1
then READY=1 around a SIGHUP re-read, STOPPING=1 when it drains; a socket nobody listens on
changes nothing."""

import json
import re
import signal
import socket

import pytest

from lib import procs as P


def built_with_libsystemd():
    with open(P.build_dir() / "meson-info" / "intro-dependencies.json") as f:
        return any(d["name"] == "libsystemd" for d in json.load(f))


@pytest.fixture
def notify_socket(binaries, tmp_path):
    if not built_with_libsystemd():
        pytest.skip("ngrnotokd was built without libsystemd: it notifies nobody")
    path = tmp_path / "notify"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.setblocking(False)
    received = []

    def wait_for(pred, what, proc, timeout=20):
        def poll():
            while True:
                try:
                    received.append(s.recv(4096).decode())
                except BlockingIOError:
                    break
            return next((m for m in received if pred(m)), None)
        return P.wait_until(poll, timeout, "the datagram %s on $NOTIFY_SOCKET (got %r)"
                            % (what, received), tails=proc.describe)

    try:
        yield path, received, wait_for
    finally:
        s.close()


def fields(msg):
    return dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)


def test_ready_reloading_stopping(procs, tmp_path, notify_socket):
    path, received, wait_for = notify_socket
    conf = tmp_path / "gw.conf"
    conf.write_text("log_level = info\nmax_rate = unlimited\n")
    gw = procs.gateway("--config", conf, "--drain-timeout", "5",
                       env=P.base_env(NOTIFY_SOCKET=str(path)))

    ready = wait_for(lambda m: "READY=1" in m.split("\n"), "READY=1", gw.proc)
    status = fields(ready).get("STATUS", "")
    # The ports file was written before READY=1: the listeners were bound by then.
    assert re.match(r"listening: control 127\.0\.0\.1:%d, http 127\.0\.0\.1:%d, admin "
                    r"127\.0\.0\.1:%d, domain localhost$"
                    % (gw.ports["control"], gw.ports["http"], gw.ports["admin"]), status), (
        "READY=1 came with STATUS=%r" % status)
    assert received[0] == ready, "something came before READY=1: %r" % received
    assert gw.admin("GET", "/tunnels").status == 200, "the admin API, after READY=1"

    # SIGHUP: RELOADING=1 (with the monotonic clock), the re-read, then READY=1 again.
    conf.write_text("log_level = info\nmax_rate = 100/s\n")
    gw.proc.send_signal(signal.SIGHUP)
    reloading = wait_for(lambda m: "RELOADING=1" in m.split("\n"), "RELOADING=1", gw.proc)
    assert re.fullmatch(r"\d+", fields(reloading).get("MONOTONIC_USEC", "")), reloading
    n = received.index(reloading)
    wait_for(lambda m: any("READY=1" in r.split("\n") for r in received[n + 1:]),
             "READY=1 after RELOADING=1", gw.proc)
    P.wait_until(lambda: any("max_rate" in l for l in gw.proc.stderr_tail_lines), 10,
                 "the gateway to log the reloaded max_rate", tails=gw.proc.describe)

    # SIGTERM: STOPPING=1 as the drain begins, and a clean exit.
    gw.proc.send_signal(signal.SIGTERM)
    wait_for(lambda m: m == "STOPPING=1", "STOPPING=1", gw.proc)
    assert gw.proc.wait(timeout=20) == 0, gw.proc.describe()
    assert sum("READY=1" in m.split("\n") for m in received) == 2, received


def test_unreachable_notify_socket_changes_nothing(procs, tmp_path, upstream, notify_socket):
    # $NOTIFY_SOCKET names a socket nobody listens on: every send fails, the gateway carries on.
    gw = procs.gateway("--drain-timeout", "5",
                       env=P.base_env(NOTIFY_SOCKET=str(tmp_path / "nobody")))
    client = procs.client(gw, upstream.port)
    r = gw.request("GET", "/echo", client.host)
    assert r.status == 200, "a request through the tunnel: %r" % (r,)
    gw.proc.send_signal(signal.SIGHUP)
    assert gw.admin("GET", "/tunnels").status == 200, "the admin API after SIGHUP"
    gw.proc.send_signal(signal.SIGTERM)
    assert gw.proc.wait(timeout=20) == 0, gw.proc.describe()
