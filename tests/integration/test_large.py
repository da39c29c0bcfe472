"""1 GiB through the tunnel in each direction, streamed (never held in
memory by the test), sha256-checked; the gateway and the client must stay
under 64 MiB peak RSS (VmHWM)."""

import hashlib
import time

import pytest

from lib import http_util as H
from lib import procs as P
from lib.upstream import pattern_chunks, pattern_sha256

GIB = 1 << 30
MAX_HWM_KIB = 64 * 1024


@pytest.fixture(scope="module")
def big_tunnel(binaries):
    env = P.base_env()
    if P.asan_instrumented("ngrnotokd") or P.asan_instrumented("ngrnotok"):
        # ASan keeps freed memory in a quarantine (256 MiB by default), which
        # would be counted in VmHWM; without it the peak RSS reflects the
        # program's own use (plus ASan's shadow and metadata).
        opts = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=0"
    reg = P.Registry()
    try:
        # A generous head timeout: the upload's response head only comes
        # after the whole body was read by the local service.
        yield reg.tunnel(gateway_args=("--response-timeout", "300"), env=env)
        died = reg.problems()
    finally:
        reg.close()
    problems = died or reg.problems(check_exit=False)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def gib_sha256():
    return pattern_sha256(GIB)


def check_peak_rss(t, what):
    for name, proc in (("ngrnotokd", t.gateway.proc), ("ngrnotok", t.client.proc)):
        assert proc.poll() is None, "%s died during the %s\n%s" % (name, what, proc.describe())
        kib = proc.vm_hwm_kib()
        print("%s VmHWM after the %s: %.1f MiB" % (name, what, kib / 1024.0))
        assert kib < MAX_HWM_KIB, ("%s peak RSS (VmHWM) is %.1f MiB after the %s "
                                   "(limit 64 MiB)" % (name, kib / 1024.0, what))


@pytest.mark.slow
def test_download_1gib(big_tunnel, gib_sha256):
    t = big_tunnel
    h = hashlib.sha256()
    total = [0]

    def sink(chunk):
        h.update(chunk)
        total[0] += len(chunk)

    t0 = time.monotonic()
    r = H.request(t.gateway.http_port, "GET", "/bytes?n=%d" % GIB, [("Host", t.host)],
                  timeout=60, on_chunk=sink)
    elapsed = time.monotonic() - t0
    assert r.status == 200, r
    assert total[0] == GIB, "received %d bytes of %d" % (total[0], GIB)
    assert h.hexdigest() == gib_sha256, "downloaded data corrupted"
    print("1 GiB download: %.1fs (%.0f MiB/s)" % (elapsed, 1024 / elapsed))
    check_peak_rss(t, "1 GiB download")


@pytest.mark.slow
def test_upload_1gib(big_tunnel, gib_sha256):
    t = big_tunnel
    t0 = time.monotonic()
    r = H.request_stream(t.gateway.http_port, "POST", "/upload",
                         [("Host", t.host), ("Content-Type", "application/octet-stream")],
                         pattern_chunks(GIB, chunk=1 << 20), GIB, timeout=120)
    elapsed = time.monotonic() - t0
    assert r.status == 200, r
    j = r.json()
    assert j["body_length"] == GIB, j
    assert j["body_sha256"] == gib_sha256, "uploaded data corrupted"
    print("1 GiB upload: %.1fs (%.0f MiB/s)" % (elapsed, 1024 / elapsed))
    check_peak_rss(t, "1 GiB upload")
