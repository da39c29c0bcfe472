"""Flow control between streams of one tunnel, and the gateway-wide memory
budget (docs/protocol.md section 13): a public client that stops reading
holds only its own stream, never the tunnel's other requests; and once the
gateway's budget for stream windows is spent, a new request gets a clear 503
while the stalled ones keep their bytes."""

import hashlib

import pytest

from lib import http_util as H
from lib import procs as P
from lib.upstream import pattern_bytes, pattern_sha256

MIB = 1 << 20


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def stalled_download(gateway, host, n):
    """A public client that asks for n bytes, reads the head and the first
    bytes, then stops reading."""
    c = H.RawConn(gateway.http_port, timeout=30)
    c.send(("GET /bytes?n=%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (n, host)).encode())
    assert c.read_until(lambda b: b"\r\n\r\n" in b, 30), c.buf[:300]
    assert c.buf.startswith(b"HTTP/1.1 200"), c.buf[:300]
    return c


def finish(c, n):
    """Reads the rest of a stalled download; returns its body."""
    def whole(b):
        head, _, body = b.partition(b"\r\n\r\n")
        return len(body) >= n
    assert c.read_until(whole, 120), "stalled download ended early: %d bytes" % len(c.buf)
    return c.buf.partition(b"\r\n\r\n")[2]


def test_slow_reader_does_not_slow_fast_reader(procs):
    t = procs.tunnel()
    n = 64 * MIB
    slow = stalled_download(t.gateway, t.host, n)
    try:
        # While the slow reader holds its stream, a second download through the
        # same tunnel (the same control connection) runs to its end.
        h = hashlib.sha256()
        got = [0]

        def sink(chunk):
            h.update(chunk)
            got[0] += len(chunk)

        r = H.request(t.gateway.http_port, "GET", "/bytes?n=%d" % n, [("Host", t.host)],
                      timeout=120, on_chunk=sink)
        assert r.status == 200, r
        assert got[0] == n and h.hexdigest() == pattern_sha256(n), "fast download corrupted"
        # The slow one is still there, short of its end, and nothing of it was lost.
        assert not slow.eof, "the stalled download was cut: %r" % slow.buf[:200]
        body = finish(slow, n)
        assert len(body) == n
        assert hashlib.sha256(body).hexdigest() == pattern_sha256(n), "slow download corrupted"
    finally:
        slow.close()


def test_gateway_budget_reached_refuses_new_streams(procs):
    # 1 MiB pays for four streams at the initial 256 KiB window, fewer if their
    # windows grew while their readers still read.
    gw = procs.gateway("--gateway-budget", "1M")
    up = procs.upstream()
    cl = procs.client(gw, up.port)
    stalled, refused = [], None
    try:
        for _ in range(8):
            c = H.RawConn(gw.http_port, timeout=30)
            c.send(("GET /bytes?n=%d HTTP/1.1\r\nHost: %s\r\n\r\n"
                    % (16 * MIB, cl.host)).encode())
            assert c.read_until(lambda b: b"\r\n\r\n" in b, 30), c.buf[:300]
            if not c.buf.startswith(b"HTTP/1.1 200"):
                refused = c
                break
            stalled.append(c)
        assert refused is not None, "8 stalled downloads fit in a 1 MiB budget"
        assert 1 <= len(stalled) <= 4, "%d streams fit in 1 MiB" % len(stalled)
        assert refused.read_until(lambda b: b"</html>" in b, 15), refused.buf[-300:]
        head, _, body = refused.buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 "), head
        assert b"\r\nRetry-After: 1\r\n" in head, head
        assert b"\r\nX-Ngrnotok-Error: unavailable\r\n" in head, head
        assert b"memory limit" in body, body
        refused.close()
        r = gw.request("GET", "/bytes?n=1000", cl.host)
        assert r.status == 503 and r.header("Retry-After") == "1", r
        # The log is read by another thread: poll for the warning.
        P.wait_until(lambda: "gateway_budget" in gw.proc.stderr_tail(200), 15,
                     "the gateway's warning naming gateway_budget",
                     tails=lambda: gw.proc.describe())
        # Memory stays bounded: the stalled 16 MiB downloads hold their windows, not
        # their bodies (ASan's shadow and quarantine count too).
        rss = vm_rss_kib(gw.proc.pid)
        print("gateway VmRSS with %d stalled downloads: %.1f MiB" % (len(stalled), rss / 1024.0))
        assert rss < 160 * 1024, "gateway VmRSS %d KiB" % rss
        # One stalled download ends: its window goes back, and requests pass again.
        assert finish(stalled[0], 16 * MIB) == pattern_bytes(16 * MIB)
        stalled[0].close()

        def passes():
            r2 = gw.request("GET", "/bytes?n=1000", cl.host)
            return r2.status == 200 and r2.body == pattern_bytes(1000)
        P.wait_until(passes, 30, "a request to pass once a stream ended")
        for c in stalled[1:]:
            assert finish(c, 16 * MIB) == pattern_bytes(16 * MIB)
    finally:
        for c in stalled:
            c.close()


@pytest.mark.parametrize("value", ["12X", "0", "100", "-1M", "2048G"])
def test_budget_flags_refuse_bad_sizes(binaries, value):
    for flag in ("--gateway-budget", "--session-budget"):
        r = P.run_cli([flag, value], binary_name="ngrnotokd")
        assert r.returncode == 2, (flag, value, r)
        assert "K, M or G" in r.stderr, r.stderr
