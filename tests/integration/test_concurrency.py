"""Concurrent requests, isolation between tunnels, a client dying."""

import concurrent.futures
import signal
import threading
import uuid

from lib import procs as P


def test_64_concurrent_slow_requests_run_in_parallel(tunnel):
    # Every request is held at the local service until all 64 have reached it: a tunnel that
    # carried them one at a time (or a few at a time) would never get the 64th there.
    n = 64
    gate = uuid.uuid4().hex
    results = [None] * n

    def one(i):
        try:
            r = tunnel.request("GET", "/hold?gate=%s&id=c%d" % (gate, i), timeout=60)
            results[i] = (r.status, r.json().get("id") if r.status == 200 else r.body[:200])
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = ("error", repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    try:
        tunnel.upstream.proc.wait_stdout(r"^BEGIN-SLEEP c\d+$", 30,
                                         "all %d requests held at the local service at once" % n,
                                         count=n)
        assert all(res is None for res in results), \
            "a request finished before the service answered any: %r" % [r for r in results if r]
    finally:
        tunnel.upstream.direct("GET", "/release?id=" + gate)
        for th in threads:
            th.join(60)
    bad = [(i, res) for i, res in enumerate(results) if res != (200, "c%d" % i)]
    assert not bad, "%d of %d requests failed, e.g. %r" % (len(bad), n, bad[:5])


def test_two_tunnels_never_mix_requests(procs):
    gw = procs.gateway()
    ua, ub = procs.upstream("tag-A"), procs.upstream("tag-B")
    ca = procs.client(gw, ua.port, "--subdomain", "iso-a")
    cb = procs.client(gw, ub.port, "--subdomain", "iso-b")
    jobs = []
    for i in range(200):
        jobs.append(("A", ca.host, uuid.uuid4().hex))
        jobs.append(("B", cb.host, uuid.uuid4().hex))

    def one(job):
        which, host, rid = job
        r = gw.request("GET", "/echo?id=%s&t=%s" % (rid, which), host,
                       headers=[("X-Req-Id", rid)], timeout=30)
        if r.status != 200:
            return "status %d for %s %s: %r" % (r.status, which, rid, r.body[:200])
        j = r.json()
        want_tag = "tag-" + which
        if j["tag"] != want_tag or r.header("X-Upstream-Tag") != want_tag:
            return "request for %s answered by %s" % (want_tag, j["tag"])
        if j["path"] != "/echo?id=%s&t=%s" % (rid, which):
            return "request %s got the answer for %s" % (rid, j["path"])
        if [v for k, v in j["headers"] if k.lower() == "x-req-id"] != [rid]:
            return "request %s arrived with headers %r" % (rid, j["headers"])
        return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as ex:
        errors = [e for e in ex.map(one, jobs) if e]
    assert not errors, "%d mismatches, e.g. %r" % (len(errors), errors[:5])
    # Each upstream saw exactly its own 200 requests and none of the other's.
    ids = {"A": {rid for w, _, rid in jobs if w == "A"}, "B": {rid for w, _, rid in jobs if w == "B"}}
    for which, up in (("A", ua), ("B", ub)):
        up.proc.wait_stdout(r"^REQ GET /echo\?id=", 5, "upstream %s's request log" % which,
                            count=200)
        seen = [l for l in list(up.proc.stdout_lines) if l.startswith("REQ GET /echo?id=")]
        assert len(seen) == 200, "upstream %s saw %d requests" % (which, len(seen))
        other = "B" if which == "A" else "A"
        leaked = [l for l in seen if l.split("id=")[1].split("&")[0] in ids[other]]
        assert not leaked, "upstream %s received %s's requests: %r" % (which, other, leaked[:3])


def test_sigkilled_client_removed_inflight_502_other_tunnel_serves(procs):
    # No holding: the killed client's name is a 404 at once (held requests: test_reconnect.py).
    gw = procs.gateway("--hold-requests", "0")
    ua, ub = procs.upstream("tag-A"), procs.upstream("tag-B")
    ca = procs.client(gw, ua.port, "--subdomain", "doomed")
    cb = procs.client(gw, ub.port, "--subdomain", "survivor")
    # The held requests are never released: the local service never answers them, and the
    # gateway's own deadline would give a 504. A 502 can only come from the client's death.
    n = 4
    gate = uuid.uuid4().hex
    results = [None] * n

    def one(i):
        try:
            r = gw.request("GET", "/hold?gate=%s&id=k%d" % (gate, i), ca.host, timeout=40)
            results[i] = (r.status, (r.header("Content-Type") or "").lower())
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = ("error", repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    try:
        ua.proc.wait_stdout(r"^BEGIN-SLEEP k\d$", 10, "%d in-flight requests at the upstream" % n,
                            count=n)
        ca.proc.send_signal(signal.SIGKILL)
        ca.proc.wait(5)
        subs = P.wait_until(
            lambda: [t["subdomain"] for t in gw.tunnels()] == ["survivor"] and ["survivor"], 10,
            "the killed client's tunnel to leave the admin API (survivor alone)")
        assert subs == ["survivor"], subs
        # The other tunnel keeps serving meanwhile.
        r = gw.request("GET", "/echo", cb.host)
        assert r.status == 200 and r.json()["tag"] == "tag-B", r
        # The held requests get their 502 while the service still holds them.
        P.wait_until(lambda: all(res is not None for res in results), 20,
                     "answers to the %d requests in flight through the killed client" % n)
    finally:
        ua.direct("GET", "/release?id=" + gate)
        for th in threads:
            th.join(45)
    assert all(res is not None and res[0] == 502 for res in results), \
        "in-flight requests through the killed client: %r (expected 502 each)" % results
    assert all(res[1].startswith("text/html") for res in results), results
    r = gw.request("GET", "/", ca.host)
    assert r.status == 404, "killed client's subdomain: %r" % r
    for i in range(20):
        r = gw.request("GET", "/echo?i=%d" % i, cb.host)
        assert r.status == 200 and r.json()["tag"] == "tag-B", r
