"""Connections from the client to the local service: kept alive between requests, and
given up cleanly when the service closes them. The service is lib/tcp_service.py in its
http mode, which numbers its connections and the requests on each, and never announces
that it will close."""

import os
import signal
import socket
import time

from lib import procs as P


def get(gw, cl, path="/"):
    r = gw.request("GET", path, cl.host, timeout=30)
    assert r.status == 200, (r.status, r.body[:300])
    return r.body.decode()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_sequential_requests_share_one_connection(procs):
    gw = procs.gateway()
    svc = procs.tcp_service("http")
    cl = procs.client(gw, svc.port)
    bodies = [get(gw, cl, "/r%d" % k) for k in range(1, 21)]
    assert bodies == ["conn 1 req %d" % k for k in range(1, 21)], bodies
    assert svc.proc.count_stdout(r"^CONN ") == 1, svc.proc.stdout_lines


def test_service_closing_idle_connections(procs):
    """The service closes each connection after one answer, without saying so: the client,
    which keeps the connection for the next request, must notice, open a new one for each
    request, and not spin on the closed socket while idle."""
    gw = procs.gateway()
    svc = procs.tcp_service("http", extra=["--requests", "1"])
    cl = procs.client(gw, svc.port)
    for k in range(1, 11):
        assert get(gw, cl, "/r%d" % k) == "conn %d req 1" % k
        # The service has closed that connection before the next request goes out.
        P.wait_until(lambda: svc.proc.count_stdout(r"^CLOSED ") >= k, 10,
                     "the service closing connection %d" % k)
    # Idle now, with the last connection closed by the service under it. A client that kept
    # waiting on that socket would burn a core; measure a second of its CPU time.
    before, t0 = cpu_seconds(cl.proc.pid), time.monotonic()
    P.wait_until(lambda: time.monotonic() - t0 >= 1.0, 5, "a second to pass", interval=0.1)
    used = cpu_seconds(cl.proc.pid) - before
    assert used < 0.5, "the idle client used %.2f s of CPU in %.2f s" % (
        used, time.monotonic() - t0)
    assert get(gw, cl, "/after-idle") == "conn 11 req 1"


def test_service_closing_after_some_requests(procs):
    """Three answers per connection, then a silent close: requests 1-3 share connection 1,
    4-6 connection 2, 7-9 connection 3."""
    gw = procs.gateway()
    svc = procs.tcp_service("http", extra=["--requests", "3"])
    cl = procs.client(gw, svc.port)
    for k in range(9):
        assert get(gw, cl, "/r%d" % k) == "conn %d req %d" % (k // 3 + 1, k % 3 + 1)
        if k % 3 == 2:
            P.wait_until(lambda: svc.proc.count_stdout(r"^CLOSED ") >= k // 3 + 1, 10,
                         "the service closing connection %d" % (k // 3 + 1))


def test_requests_cancelled_while_connecting(procs):
    """The service accepts nothing for a while (its accept queue is full), so requests wait in
    libcurl's connect; their public clients give up, and the gateway cancels them. libcurl then
    closes sockets that never connected, and the next sockets get the same numbers. Once the
    service accepts, every request must be served at once: no watch of a closed socket may be
    taken for a new one."""
    gw = procs.gateway()
    svc = procs.tcp_service("http", extra=["--hold"])
    svc.proc.wait_stdout(r"^HOLDING$", 10, "the service holding its accept queue")
    fillers = []
    for _ in range(3):  # the kernel completes one connection past a backlog of 0; more wait
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", svc.port))
        fillers.append(s)
    try:
        cl = procs.client(gw, svc.port)
        for k in range(3):
            try:
                r = gw.request("GET", "/stuck%d" % k, cl.host, timeout=1)
                raise AssertionError("answered while the service accepts nothing: %r" % r)
            except OSError:
                pass  # the public client gives up
        P.wait_until(lambda: all(t["streams"] == 0 for t in gw.tunnels()), 15,
                     "the gateway cancelling the abandoned requests")
        svc.proc.send_signal(signal.SIGUSR1)
        svc.proc.wait_stdout(r"^ACCEPTING$", 10, "the service accepting")
        for k in range(5):
            t0 = time.monotonic()
            body = get(gw, cl, "/after%d" % k)
            assert body.startswith("conn "), body
            assert time.monotonic() - t0 < 5, "request %d took %.1f s" % (
                k, time.monotonic() - t0)
    finally:
        for s in fillers:
            s.close()
