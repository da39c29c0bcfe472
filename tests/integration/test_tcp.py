"""TCP tunnels (`ngrnotok tcp PORT`, gateway `--tcp-ports LOW-HIGH`): every
public connection to the tunnel's port becomes a stream, and the client
connects to its local port for it. Local services are lib/tcp_service.py and
a real redis-server (with redis-cli as the public client)."""

import hashlib
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest

from lib import procs as P
from lib.upstream import pattern_bytes, pattern_chunks, pattern_sha256

MIB = 1 << 20
BIG = 256 * MIB

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


# -- helpers --------------------------------------------------------------------------

def recv_until_eof(sock, timeout=20, limit=64 * MIB):
    """Everything the peer sends until it shuts down its write side. Raises
    AssertionError on timeout (naming what arrived so far)."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out after %ss waiting for EOF; received %d bytes: %r"
                                 % (timeout, len(buf), bytes(buf[:200])))
        sock.settimeout(remaining)
        try:
            d = sock.recv(256 * 1024)
        except socket.timeout:
            continue
        if not d:
            return bytes(buf)
        buf += d
        assert len(buf) <= limit, "more than %d bytes before EOF" % limit


def recv_exact(sock, n, timeout=20):
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out after %ss waiting for %d bytes; received %d: %r"
                                 % (timeout, n, len(buf), bytes(buf[:200])))
        sock.settimeout(remaining)
        try:
            d = sock.recv(n - len(buf))
        except socket.timeout:
            continue
        if not d:
            raise AssertionError("EOF after %d of %d bytes: %r" % (len(buf), n, bytes(buf[:200])))
        buf += d
    return bytes(buf)


def echo_once(client, payload, timeout=20):
    """One connection through a TCP tunnel to an echo service: send, half-close,
    read until EOF; returns what came back."""
    s = client.connect(timeout=timeout)
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return recv_until_eof(s, timeout)
    finally:
        s.close()


def assert_echo(client, what, timeout=20):
    payload = ("%s %s\n" % (what, uuid.uuid4().hex)).encode() * 50
    got = echo_once(client, payload, timeout)
    assert got == payload, "%s: echo through tcp://...:%d returned %d bytes %r, expected %d" % (
        what, client.port, len(got), got[:120], len(payload))


def connection_refused(port):
    """True if connecting to 127.0.0.1:port is refused (nothing listens)."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except ConnectionRefusedError:
        return True
    s.close()
    return False


def tunnel_by_id(gw):
    return {str(t["id"]): t for t in gw.tunnels()}


# -- Forwarding line, both target forms -------------------------------------------------

def test_forwarding_line_and_echo(procs):
    gw = procs.tcp_gateway()
    svc = procs.tcp_service("echo")
    a = procs.tcp_client(gw, svc.port)
    assert a.line == "Forwarding tcp://localhost:%d -> localhost:%d" % (a.port, svc.port), \
        "unexpected Forwarding line for `ngrnotok tcp %d`: %r" % (svc.port, a.line)
    assert gw.tcp_low <= a.port <= gw.tcp_high, \
        "public port %d outside --tcp-ports %d-%d" % (a.port, gw.tcp_low, gw.tcp_high)
    b = procs.tcp_client(gw, "127.0.0.1:%d" % svc.port)
    assert b.line == "Forwarding tcp://localhost:%d -> 127.0.0.1:%d" % (b.port, svc.port), \
        "unexpected Forwarding line for `ngrnotok tcp 127.0.0.1:%d`: %r" % (svc.port, b.line)
    assert "http://" not in a.line + b.line
    assert b.port != a.port and gw.tcp_low <= b.port <= gw.tcp_high, (a.port, b.port)
    assert_echo(a, "PORT form")
    assert_echo(b, "HOST:PORT form")
    P.wait_until(lambda: svc.proc.count_stdout(r"^CLOSED ") == 2, 10,
                 "the echo service to see 2 connections closed", procs.tails)


# -- bulk data ---------------------------------------------------------------------------

def test_256mib_each_way_sha256(procs):
    """256 MiB up and the same 256 MiB echoed back down at the same time,
    streamed and checked with sha256 on both ends."""
    gw = procs.tcp_gateway()
    svc = procs.tcp_service("echo")
    c = procs.tcp_client(gw, svc.port)
    expected = pattern_sha256(BIG)
    s = c.connect(timeout=120)
    send_error = []

    def sender():
        try:
            for chunk in pattern_chunks(BIG, chunk=MIB):
                s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            send_error.append(e)

    t0 = time.monotonic()
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    h = hashlib.sha256()
    total = 0
    buf = bytearray(MIB)
    mv = memoryview(buf)
    try:
        while True:
            try:
                n = s.recv_into(buf)
            except socket.timeout:
                raise AssertionError("no data for 120s after %d of %d echoed bytes"
                                     % (total, BIG)) from None
            if not n:
                break
            h.update(mv[:n])
            total += n
    finally:
        th.join(120)
        s.close()
    elapsed = time.monotonic() - t0
    assert not send_error, "sending the 256 MiB failed: %r" % send_error
    assert not th.is_alive(), "the sender was still blocked 120s after the echo ended"
    # Upload: what the local service received, as it reports it.
    m = svc.proc.wait_stdout(r"^EOF 1 (\d+) ([0-9a-f]{64})$", 30,
                             "the echo service's EOF line for the 256 MiB connection")[0]
    assert int(m.group(1)) == BIG, "the local service received %s bytes of %d" % (m.group(1), BIG)
    assert m.group(2) == expected, "the data reaching the local service is corrupted"
    # Download: what came back to the public client.
    assert total == BIG, "the public client received %d bytes of %d" % (total, BIG)
    assert h.hexdigest() == expected, "the data echoed back to the public client is corrupted"
    print("256 MiB each way through a TCP tunnel: %.1fs" % elapsed)


# -- concurrency ---------------------------------------------------------------------------

def test_100_concurrent_connections(procs):
    gw = procs.tcp_gateway()
    svc = procs.tcp_service("echo")
    c = procs.tcp_client(gw, svc.port)
    n = 100
    barrier = threading.Barrier(n, timeout=60)
    results = [None] * n

    def one(i):
        try:
            s = c.connect(timeout=60)
            try:
                barrier.wait()   # all n connections are open at once
                payload = ("conn-%03d-%s|" % (i, uuid.uuid4().hex)).encode() * (1 + 40 * i)
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                got = recv_until_eof(s, 60)
                results[i] = True if got == payload else (
                    "connection %d: got %d bytes starting %r, expected %d starting %r"
                    % (i, len(got), got[:40], len(payload), payload[:40]))
            finally:
                s.close()
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = "connection %d: %r" % (i, e)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    bad = [r for r in results if r is not True]
    assert not bad, "%d of %d concurrent TCP connections failed (first ones): %s" % (
        len(bad), n, "\n".join(str(b) for b in bad[:5]))
    assert svc.proc.count_stdout(r"^CONN ") == n, \
        "the local service saw %d connections, expected one per public connection (%d)" % (
            svc.proc.count_stdout(r"^CONN "), n)
    P.wait_until(lambda: all(t["streams"] == 0 for t in gw.tunnels()), 10,
                 "the tunnel's streams to drop to 0 after 100 connections ended", procs.tails)


# -- the local service refusing ------------------------------------------------------------

def test_local_refusal_closes_only_that_connection(procs):
    gw = procs.tcp_gateway()
    svc = procs.tcp_service("echo")
    good = procs.tcp_client(gw, svc.port)
    dead_port = P.free_port()
    bad = procs.tcp_client(gw, dead_port)

    # A connection through the working tunnel, open across the refusal.
    g = good.connect()
    g.sendall(b"before|")
    assert recv_exact(g, 7) == b"before|"

    s = bad.connect()   # the gateway accepts; the client's local connect is refused
    t0 = time.monotonic()
    outcome = None
    s.settimeout(10)
    try:
        d = s.recv(4096)
        outcome = "EOF" if not d else "data %r" % d[:100]
    except ConnectionResetError:
        outcome = "reset"
    except socket.timeout:
        outcome = "nothing within 10s"
    finally:
        s.close()
    elapsed = time.monotonic() - t0
    assert outcome in ("EOF", "reset"), (
        "a public connection whose local service (port %d) refuses should be closed; got %s"
        % (dead_port, outcome))
    assert elapsed < 5, "the refused connection took %.1fs to close" % elapsed

    # The open connection on the other tunnel is unaffected, and new ones work.
    g.sendall(b"after")
    g.shutdown(socket.SHUT_WR)
    assert recv_until_eof(g) == b"after", "the other tunnel's open connection broke"
    g.close()
    assert_echo(good, "the other tunnel after the refusal")
    assert bad.proc.poll() is None, "ngrnotok tcp exited after its local service refused\n%s" % (
        bad.proc.describe())

    # The refusing tunnel itself works once something listens on its local port.
    procs.tcp_service("echo", port=dead_port)
    assert_echo(bad, "a later connection after the local service started")


# -- half-close --------------------------------------------------------------------------------

def test_half_close_by_public_client(procs):
    """The public client shuts down its write side; the local service sees
    EOF and only then answers, and the answer still arrives."""
    gw = procs.tcp_gateway()
    svc = procs.tcp_service("reply-at-eof")
    c = procs.tcp_client(gw, svc.port)
    payload = pattern_bytes(300_000)
    s = c.connect()
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = recv_until_eof(s)
    finally:
        s.close()
    want = ("%s got %d %s\n"
            % (svc.tag, len(payload), hashlib.sha256(payload).hexdigest())).encode()
    assert got == want, "answer after half-close: %r, expected %r" % (got, want)


def test_half_close_by_local_service(procs):
    """The local service shuts down its write side first; the public client
    reads EOF and can still send, and its bytes reach the service."""
    gw = procs.tcp_gateway()
    svc = procs.tcp_service("shut-first")
    c = procs.tcp_client(gw, svc.port)
    s = c.connect()
    try:
        got = recv_until_eof(s)
        assert got == ("%s hello\n" % svc.tag).encode(), \
            "expected the service's greeting then EOF, got %r" % got
        payload = pattern_bytes(200_000)
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            raise AssertionError("sending after the service's half-close failed: %r" % e)
        m = svc.proc.wait_stdout(r"^EOF 1 (\d+) ([0-9a-f]{64})$", 20,
                                 "the service to receive the bytes sent after its own FIN")[0]
        assert int(m.group(1)) == len(payload) and \
            m.group(2) == hashlib.sha256(payload).hexdigest(), \
            "the service received %s bytes (sha256 %s), expected %d" % (
                m.group(1), m.group(2), len(payload))
    finally:
        s.close()


# -- port lifecycle, errors ------------------------------------------------------------------

def test_port_released_when_client_exits(procs):
    # No reconnect grace: the port is free as soon as its client is gone (with one, it is kept
    # for that client: test_reconnect.py).
    gw = procs.tcp_gateway("--reconnect-grace", "0", span=1)
    port = gw.tcp_low
    svc = procs.tcp_service("echo")
    for how in ("SIGTERM", "SIGKILL", None):
        c = procs.tcp_client(gw, svc.port)
        assert c.port == port, "with --tcp-ports %d-%d the tunnel got port %d (after %s)" % (
            port, port, c.port, how)
        assert_echo(c, "tunnel on port %d" % port)
        if how is None:
            break
        c.proc.send_signal(getattr(signal, how))
        try:
            c.proc.wait(10)
        except subprocess.TimeoutExpired:
            raise AssertionError("ngrnotok tcp still running 10s after %s\n%s"
                                 % (how, c.proc.describe())) from None
        P.wait_until(lambda: connection_refused(port), 10,
                     "connections to public port %d to be refused after the client got %s"
                     % (port, how), procs.tails)
        P.wait_until(lambda: gw.tunnels() == [], 10,
                     "GET /tunnels to be empty after the client got %s" % how, procs.tails)


def test_tcp_addr_option(procs):
    """--tcp-addr 127.0.0.2: the public port listens there, not on 127.0.0.1."""
    gw = procs.tcp_gateway("--tcp-addr", "127.0.0.2")
    svc = procs.tcp_service("echo")
    c = procs.tcp_client(gw, svc.port)
    s = c.connect(host="127.0.0.2")
    try:
        s.sendall(b"via 127.0.0.2")
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == b"via 127.0.0.2"
    finally:
        s.close()
    assert connection_refused(c.port), \
        "with --tcp-addr 127.0.0.2, port %d should not accept on 127.0.0.1" % c.port


def test_tcp_not_enabled(procs):
    gw = procs.gateway()
    r = P.run_cli(["tcp", "--server", gw.control_addr, str(P.free_port())], timeout=20)
    assert r.returncode != 0, "ngrnotok tcp on a gateway without --tcp-ports exited 0: %r" % (
        r.stdout + r.stderr)
    assert "not enabled" in r.stderr, "stderr should say TCP tunnels are not enabled: %r" % (
        r.stderr)
    assert "Forwarding" not in r.stdout, r.stdout
    assert gw.tunnels() == []


def test_no_free_tcp_port(procs):
    gw = procs.tcp_gateway(span=1)
    svc = procs.tcp_service("echo")
    a = procs.tcp_client(gw, svc.port)
    r = P.run_cli(["tcp", "--server", gw.control_addr, str(svc.port)], timeout=20)
    assert r.returncode != 0, "a second TCP tunnel on a 1-port range exited 0: %r" % (
        r.stdout + r.stderr)
    assert "no free TCP port" in r.stderr, \
        "stderr should say there is no free TCP port: %r" % r.stderr
    assert "Forwarding" not in r.stdout, r.stdout
    assert len(gw.tunnels()) == 1, gw.tunnels()
    assert_echo(a, "the first tunnel after the refused second one")


# -- a real protocol: redis ------------------------------------------------------------------

def start_redis(procs, tmp_path, tries=3):
    """redis-server on a free port (another try if it could not bind)."""
    last = None
    for _ in range(tries):
        port = P.free_port()
        proc = procs.spawn("redis-server", [
            REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(tmp_path), "--daemonize", "no"])

        def state():
            if proc.count_stdout(r"Ready to accept connections"):
                return "ready"
            return "exited" if proc.poll() is not None else None
        if P.wait_until(state, 20, "redis-server to accept connections on port %d" % port,
                        procs.tails) == "ready":
            return port
        last = proc.describe()
    raise AssertionError("redis-server did not start in %d tries; last:\n%s" % (tries, last))


def redis_cli(port, *args):
    p = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(port)] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, "redis-cli -p %d %s: exit %d, stdout %r, stderr %r" % (
        port, " ".join(args), p.returncode, out, p.stderr.decode("utf-8", "replace"))
    return out.rstrip("\n")


@pytest.mark.skipif(REDIS_SERVER is None or REDIS_CLI is None,
                    reason="redis-server/redis-cli not installed")
def test_redis_through_tcp_tunnel(procs, tmp_path):
    redis_port = start_redis(procs, tmp_path)
    gw = procs.tcp_gateway()
    c = procs.tcp_client(gw, redis_port)
    assert redis_cli(c.port, "PING") == "PONG"
    key = "ngrnotok:%s" % uuid.uuid4().hex
    value = "stored through the tunnel %s" % uuid.uuid4().hex
    assert redis_cli(c.port, "SET", key, value) == "OK"
    assert redis_cli(c.port, "GET", key) == value, "GET through the tunnel"
    # It really is the local redis-server that holds the value.
    assert redis_cli(redis_port, "GET", key) == value, "GET straight from redis-server"
    assert redis_cli(c.port, "PING") == "PONG"


# -- admin API ------------------------------------------------------------------------------

def test_admin_lists_tcp_tunnel_with_byte_counts(procs):
    gw = procs.tcp_gateway()
    svc = procs.tcp_service("reply-at-eof")
    up = procs.upstream()
    h = procs.client(gw, up.port)
    c = procs.tcp_client(gw, svc.port)
    ts = gw.tunnels()
    assert len(ts) == 2, ts
    by_proto = {t["proto"]: t for t in ts}
    assert set(by_proto) == {"tcp", "http"}, "protos listed: %r" % [t["proto"] for t in ts]
    tcp, http = by_proto["tcp"], by_proto["http"]
    assert tcp["subdomain"] == "", tcp
    assert tcp["public_url"] == c.url == "tcp://localhost:%d" % c.port, (tcp, c.url)
    assert tcp["bytes_in"] == 0 and tcp["bytes_out"] == 0 and tcp["streams"] == 0, tcp
    assert http["subdomain"] == h.sub and http["public_url"] == h.url, http
    r = gw.admin("GET", "/tunnels/%s" % tcp["id"])
    assert r.status == 200 and r.json()["proto"] == "tcp", r

    # Asymmetric traffic: 300000 bytes in, one short line out.
    payload = pattern_bytes(300_000)
    s = c.connect()
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        reply = recv_until_eof(s)
    finally:
        s.close()
    assert reply.startswith(("%s got 300000 " % svc.tag).encode()), reply

    def counted():
        t = tunnel_by_id(gw)[str(tcp["id"])]
        return t if t["bytes_in"] >= len(payload) and t["bytes_out"] >= len(reply) else None
    P.wait_until(counted, 10, "the TCP tunnel's bytes_in/bytes_out to count the connection",
                 procs.tails)
    P.wait_until(lambda: tunnel_by_id(gw)[str(tcp["id"])]["streams"] == 0, 10,
                 "the TCP tunnel's streams to drop to 0", procs.tails)
    t = tunnel_by_id(gw)[str(tcp["id"])]
    # bytes_in: from public clients; bytes_out: to them. Raw TCP has no framing.
    assert t["bytes_in"] == len(payload), \
        "bytes_in should be the %d bytes the public client sent: %r" % (len(payload), t)
    assert t["bytes_out"] == len(reply), \
        "bytes_out should be the %d bytes sent back to the public client: %r" % (len(reply), t)
    other = tunnel_by_id(gw)[str(http["id"])]
    assert other["bytes_in"] == 0 and other["bytes_out"] == 0, \
        "the HTTP tunnel counted the TCP tunnel's bytes: %r" % other
