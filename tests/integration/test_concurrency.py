"""Concurrent requests, isolation between tunnels, a client dying."""

import concurrent.futures
import signal
import threading
import time
import uuid

from lib import procs as P


def test_64_concurrent_slow_requests_run_in_parallel(tunnel):
    n = 64
    barrier = threading.Barrier(n)
    results = [None] * n

    def one(i):
        barrier.wait(30)
        try:
            r = tunnel.request("GET", "/sleep?ms=1000&id=c%d" % i, timeout=40)
            results[i] = (r.status, r.json().get("id") if r.status == 200 else r.body[:200])
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = ("error", repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    elapsed = time.monotonic() - t0
    bad = [(i, res) for i, res in enumerate(results) if res != (200, "c%d" % i)]
    assert not bad, "%d of %d requests failed, e.g. %r" % (len(bad), n, bad[:5])
    assert elapsed < 10, ("64 concurrent 1 s requests took %.1fs through one tunnel "
                          "(they should run concurrently)" % elapsed)


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
    gw = procs.gateway()
    ua, ub = procs.upstream("tag-A"), procs.upstream("tag-B")
    ca = procs.client(gw, ua.port, "--subdomain", "doomed")
    cb = procs.client(gw, ub.port, "--subdomain", "survivor")
    n = 4
    results = [None] * n
    done_at = [None] * n

    def one(i):
        try:
            r = gw.request("GET", "/sleep?ms=5000&id=k%d" % i, ca.host, timeout=40)
            results[i] = (r.status, (r.header("Content-Type") or "").lower())
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = ("error", repr(e))
        done_at[i] = time.monotonic()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    try:
        ua.proc.wait_stdout(r"^BEGIN-SLEEP k\d$", 10, "%d in-flight requests at the upstream" % n,
                            count=n)
        killed_at = time.monotonic()
        ca.proc.send_signal(signal.SIGKILL)
        ca.proc.wait(5)
        # Gone from the admin API within 2 s.
        while True:
            subs = [t["subdomain"] for t in gw.tunnels()]
            if "doomed" not in subs:
                break
            assert time.monotonic() - killed_at < 2.0, \
                "killed client's tunnel still listed 2s after SIGKILL: %r" % subs
            time.sleep(0.05)
        assert subs == ["survivor"], subs
        # The other tunnel keeps serving meanwhile.
        r = gw.request("GET", "/echo", cb.host)
        assert r.status == 200 and r.json()["tag"] == "tag-B", r
    finally:
        for th in threads:
            th.join(45)
    assert all(res is not None and res[0] == 502 for res in results), \
        "in-flight requests through the killed client: %r (expected 502 each)" % results
    assert all(res[1].startswith("text/html") for res in results), results
    late = [d - killed_at for d in done_at if d - killed_at > 3.0]
    assert not late, "502s arrived %r s after the kill (expected < 3 s)" % late
    r = gw.request("GET", "/", ca.host)
    assert r.status == 404, "killed client's subdomain: %r" % r
    for i in range(20):
        r = gw.request("GET", "/echo?i=%d" % i, cb.host)
        assert r.status == 200 and r.json()["tag"] == "tag-B", r
