"""Pools (issue 13, point 8): clients that bind one name (or TCP port) with --pool and the same
token share its traffic in turn; when one goes, the rest carry on; a name held without --pool
stays exclusive; GET /tunnels lists a pool's clients."""

import secrets
import signal
import threading
import uuid

from lib import procs as P

HOLD = 15


def pool_member(procs, gw, name, *extra, tag=None, env=None):
    up = procs.upstream(tag)
    cl = procs.client(gw, up.port, "--pool", "--subdomain", name, *extra, env=env)
    return up, cl


def tags_of(gw, host, n):
    tags = []
    for i in range(n):
        r = gw.request("GET", "/echo/%d" % i, host)
        assert r.status == 200, r
        assert r.json()["path"] == "/echo/%d" % i, r
        tags.append(r.json()["tag"])
    return tags


def refused(gw, *args, env=None):
    r = P.run_cli(["http", "--server", gw.control_addr] + [str(a) for a in args], env=env)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Forwarding" not in r.stdout
    return r.stderr


def test_pool_shares_requests_in_turn_and_is_listed(procs):
    gw = procs.gateway()
    a_up, a = pool_member(procs, gw, "web")
    b_up, b = pool_member(procs, gw, "web")
    assert a.url == b.url
    tags = tags_of(gw, a.host, 20)
    # In turn: each client gets every other request.
    assert tags.count(a_up.tag) == 10 and tags.count(b_up.tag) == 10, tags
    assert all(tags[i] != tags[i + 1] for i in range(19)), tags
    tunnels = [t for t in gw.tunnels() if t["subdomain"] == "web"]
    assert len(tunnels) == 2, tunnels
    ids = sorted(t["id"] for t in tunnels)
    for t in tunnels:
        assert t["pool"]["size"] == 2, t
        assert sorted(c["id"] for c in t["pool"]["clients"]) == ids, t
        assert all(c["client_addr"] == "127.0.0.1" for c in t["pool"]["clients"]), t
    assert sum(t["requests"] for t in tunnels) == 20
    assert "joining its pool (2 tunnels)" in gw.proc.stderr_tail(100)


def test_a_name_without_pool_stays_exclusive(procs):
    gw = procs.gateway()
    up = procs.upstream()
    solo = procs.client(gw, up.port, "--subdomain", "solo")
    err = refused(gw, "--pool", "--subdomain", "solo", up.port)
    assert "subdomain 'solo' is in use by a client without --pool" in err, err
    pool_member(procs, gw, "shared")
    err = refused(gw, "--subdomain", "shared", up.port)
    assert "subdomain 'shared' is served by a pool of clients: add --pool to join it" in err, err
    r = gw.request("GET", "/echo", solo.host)
    assert r.status == 200 and r.json()["tag"] == up.tag
    assert tunnel_count(gw, "solo") == 1 and tunnel_count(gw, "shared") == 1
    assert next(t for t in gw.tunnels() if t["subdomain"] == "solo")["pool"] is None


def test_pool_needs_a_name_and_the_same_token(procs):
    r = P.run_cli(["http", "--pool", "3000"])
    assert r.returncode == 2 and "--pool needs --subdomain NAME" in r.stderr, r.stderr
    r = P.run_cli(["tcp", "--pool", "3000"])
    assert r.returncode == 2 and "--pool needs --remote-port PORT" in r.stderr, r.stderr
    r = P.run_cli(["http", "--remote-port", "2000", "3000"])
    assert r.returncode == 2 and "--remote-port is for TCP tunnels" in r.stderr, r.stderr
    one, two = ("tok-%s" % secrets.token_hex(8) for _ in range(2))
    path = procs.tmpdir / "tokens"
    path.write_text("%s\n%s\n" % (one, two))
    gw = procs.gateway("--auth-tokens", path)
    a_up, a = pool_member(procs, gw, "team", "--token", one)
    err = refused(gw, "--pool", "--subdomain", "team", "--token", two, a_up.port)
    assert "subdomain 'team' is a pool of clients with another token" in err, err
    b_up, b = pool_member(procs, gw, "team", "--token", one)
    assert sorted(set(tags_of(gw, a.host, 4))) == sorted([a_up.tag, b_up.tag])


def tunnel_count(gw, name):
    return sum(1 for t in gw.tunnels() if t["subdomain"] == name)


def test_the_rest_carry_on_when_one_leaves(procs):
    gw = procs.gateway()
    a_up, a = pool_member(procs, gw, "web")
    b_up, b = pool_member(procs, gw, "web")
    a.proc.send_signal(signal.SIGTERM)
    assert a.proc.wait(15) == 0
    P.wait_until(lambda: tunnel_count(gw, "web") == 1, 10, "the pool to shrink to one")
    assert set(tags_of(gw, b.host, 6)) == {b_up.tag}
    # The last one leaving keeps the name for the pool's token (its grace): another client
    # without --pool is refused, a new pool member gets it back.
    b.proc.send_signal(signal.SIGTERM)
    assert b.proc.wait(15) == 0
    P.wait_until(lambda: tunnel_count(gw, "web") == 0, 10, "the pool to be gone")
    err = refused(gw, "--subdomain", "web", b_up.port)
    assert "is kept for the client that held it" in err, err
    c_up, c = pool_member(procs, gw, "web")
    assert c.url == b.url
    assert set(tags_of(gw, c.host, 2)) == {c_up.tag}


def test_pool_member_sigkilled_under_load(procs):
    """Only requests in flight on the killed client fail (502); every other one is served by
    the other, with its own body."""
    gw = procs.gateway()
    a_up, a = pool_member(procs, gw, "load")
    b_up, b = pool_member(procs, gw, "load")
    threads, per_thread = 4, 60
    results = []
    lock = threading.Lock()
    killed = threading.Event()

    def worker(k):
        for i in range(per_thread):
            nonce = uuid.uuid4().hex
            after = killed.is_set()
            try:
                r = gw.request("GET", "/sleep?ms=20&id=%s" % nonce, a.host, timeout=30)
                got = (r.status, r.json()["path"] if r.status == 200 else None,
                       r.json()["tag"] if r.status == 200 else None)
            except Exception as e:  # noqa: BLE001 - a reset is a failure too
                got = ("error %r" % e, None, None)
            with lock:
                results.append((after, nonce, got))
            if k == 0 and i == per_thread // 3:
                a.proc.send_signal(signal.SIGKILL)
                killed.set()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts)
    assert len(results) == threads * per_thread
    failed = [r for r in results if r[2][0] != 200]
    for after, nonce, (status, path, tag) in results:
        if status == 200:
            assert path == "/sleep?ms=20&id=%s" % nonce, (nonce, path)
            assert tag in (a_up.tag, b_up.tag)
    # At most one request per thread was on the killed client when it died: a 502 if its
    # response had not begun, else a body cut short (never a short 200).
    assert len(failed) <= threads, failed
    assert all(r[2][0] == 502 or "IncompleteRead" in str(r[2][0]) for r in failed), failed
    late = [r for r in results if r[0]]
    assert late and all(r[2][0] == 200 for r in late[threads:]), late[:10]
    assert sum(1 for r in results if r[2][2] == b_up.tag) > 0
    assert tunnel_count(gw, "load") == 1


def test_tcp_pool_shares_a_port(procs):
    gw = procs.tcp_gateway()
    want = gw.tcp_low + 3
    s1 = procs.tcp_service("reply-at-eof", tag="one")
    s2 = procs.tcp_service("reply-at-eof", tag="two")
    a = procs.tcp_client(gw, s1.port, "--pool", "--remote-port", want)
    b = procs.tcp_client(gw, s2.port, "--pool", "--remote-port", want)
    assert a.port == b.port == want, (a.line, b.line)
    seen = [exchange(a) for _ in range(6)]
    assert seen.count("one") == 3 and seen.count("two") == 3, seen
    tunnels = [t for t in gw.tunnels() if t["public_url"].endswith(":%d" % want)]
    assert len(tunnels) == 2 and all(t["pool"]["size"] == 2 for t in tunnels), tunnels
    # The client that opened the port goes: the port stays open for the other.
    a.proc.send_signal(signal.SIGKILL)
    P.wait_until(lambda: sum(1 for t in gw.tunnels() if t["proto"] == "tcp") == 1, 10,
                 "the killed client's tunnel to end")
    assert [exchange(b) for _ in range(3)] == ["two"] * 3
    # Without --pool, a pool's port is not shared; --remote-port alone asks for a free one.
    c = procs.tcp_client(gw, s1.port, "--remote-port", gw.tcp_low + 5)
    assert c.port == gw.tcp_low + 5
    assert exchange(c) == "one"


def exchange(cl):
    s = cl.connect()
    try:
        s.sendall(b"ping")
        s.shutdown(1)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return data.decode().split(" ")[0]
