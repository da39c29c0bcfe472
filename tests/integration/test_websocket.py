"""WebSockets through HTTP tunnels, with a client and a server not written by
this project (python3-websockets): the upgrade request reaches the local
service with its upgrade headers, the 101 turns both sides into a raw byte
pipe, and a local service that answers an upgrade with an ordinary response
has that response passed through."""

import asyncio
import base64
import hashlib
import json
import os
import re
import socket
import struct
import time
import uuid

import pytest

from lib import http_util as H
from lib import procs as P
from lib.upstream import pattern_bytes

websockets = pytest.importorskip("websockets")

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MIB = 1 << 20


# -- helpers --------------------------------------------------------------------------

@pytest.fixture
def ws_tunnel(procs):
    """gateway + ws_server + `ngrnotok http` to it."""
    gw = procs.gateway()
    srv = procs.ws_server()
    cl = procs.client(gw, srv.port)
    return P.Tunnel(gw, srv, cl)


def run(coro, timeout, what):
    """Run a coroutine with an overall deadline naming what was awaited."""
    async def guarded():
        try:
            return await asyncio.wait_for(coro, timeout)
        except asyncio.TimeoutError:
            raise AssertionError("timed out after %ss: %s" % (timeout, what)) from None
    return asyncio.run(guarded())


async def ws_connect(tunnel, path, **kw):
    """websockets.connect to ws://<sub>.localhost:<port><path>, over a socket
    connected to the gateway's HTTP listener (so that the Host header is the
    tunnel's and no name resolution is needed)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", tunnel.gateway.http_port))
    except OSError:
        sock.close()
        raise
    kw.setdefault("open_timeout", 60)
    kw.setdefault("close_timeout", 20)
    kw.setdefault("ping_interval", None)
    return await websockets.connect("ws://%s%s" % (tunnel.host, path), sock=sock, **kw)


def server_request_headers(tunnel, path):
    """The headers the ws_server received for its first request to path."""
    m = tunnel.upstream.proc.wait_stdout(r"^REQ %s (\[.*\])$" % re.escape(path), 10,
                                         "the local service to log the request for %s" % path)
    return json.loads(m[0].group(1))


def hdr(headers, name):
    vals = [v for k, v in headers if k.lower() == name.lower()]
    return vals


def ws_frame(opcode, payload, mask=b"\x11\x22\x33\x44"):
    """One masked client frame (FIN set)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def parse_server_frame(buf):
    """(opcode, payload, rest) of an unmasked server frame at the start of
    buf, or None if incomplete."""
    if len(buf) < 2:
        return None
    op, ln = buf[0] & 0x0F, buf[1] & 0x7F
    pos = 2
    if ln == 126:
        if len(buf) < 4:
            return None
        ln, pos = struct.unpack("!H", buf[2:4])[0], 4
    elif ln == 127:
        if len(buf) < 10:
            return None
        ln, pos = struct.unpack("!Q", buf[2:10])[0], 10
    if len(buf) < pos + ln:
        return None
    return op, buf[pos:pos + ln], buf[pos + ln:]


def upgrade_request(host, path, key, extra=()):
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % host, "Connection: Upgrade",
             "Upgrade: websocket", "Sec-WebSocket-Key: %s" % key,
             "Sec-WebSocket-Version: 13"] + ["%s: %s" % kv for kv in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def response_complete(buf):
    """A response head plus its Content-Length body has arrived."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return len(rest) >= (int(m.group(1)) if m else 0)


# -- messages ---------------------------------------------------------------------------

def test_text_and_binary_messages_echoed(ws_tunnel):
    t = ws_tunnel

    async def go():
        ws = await ws_connect(t, "/echo")
        try:
            # The 101's headers came through (websockets checked Sec-WebSocket-Accept).
            assert ws.response_headers.get("Upgrade", "").lower() == "websocket", \
                ws.response_headers
            for msg in ["hello", "ünïcødé ✓ " * 10, "", b"\x00\x01\xfe\xff" * 64,
                        bytes(range(256)), b"", "x" * 70000, pattern_bytes(200_000)]:
                await ws.send(msg)
                back = await ws.recv()
                assert type(back) is type(msg) and back == msg, \
                    "echo of a %s message of %d: got %s of %d" % (
                        type(msg).__name__, len(msg), type(back).__name__, len(back))
        finally:
            await ws.close()
        return ws.close_code

    assert run(go(), 60, "text and binary echo through the tunnel") == 1000
    t.upstream.proc.wait_stdout(r"^WS-CLOSED /echo 1000 ", 10,
                                "the local service to see the normal close (1000)")


def test_16mib_binary_message_both_ways(ws_tunnel):
    t = ws_tunnel
    data = pattern_bytes(16 * MIB)
    want = hashlib.sha256(data).hexdigest()

    async def go():
        ws = await ws_connect(t, "/echo", max_size=None, compression=None)
        try:
            t0 = time.monotonic()
            await ws.send(data)
            back = await ws.recv()
            elapsed = time.monotonic() - t0
        finally:
            await ws.close()
        return back, elapsed

    back, elapsed = run(go(), 120, "a 16 MiB binary message to be echoed")
    assert isinstance(back, bytes) and len(back) == len(data), \
        "echoed message: %s of %d bytes, expected bytes of %d" % (
            type(back).__name__, len(back), len(data))
    assert hashlib.sha256(back).hexdigest() == want, "16 MiB message corrupted"
    print("16 MiB WebSocket message echoed in %.2fs" % elapsed)


def test_200_concurrent_websockets(ws_tunnel):
    t = ws_tunnel
    n = 200

    async def go():
        async def connect(i):
            try:
                return await ws_connect(t, "/echo?c=%d" % i, compression=None)
            except Exception as e:  # noqa: BLE001 - reported below
                return e
        conns = await asyncio.gather(*(connect(i) for i in range(n)))
        failed = ["connection %d: %r" % (i, c) for i, c in enumerate(conns)
                  if isinstance(c, Exception)]
        live = [(i, c) for i, c in enumerate(conns) if not isinstance(c, Exception)]
        try:
            # All n are open at once; now each exchanges its own message.
            async def exchange(i, ws):
                msg = "message %d %s" % (i, uuid.uuid4().hex)
                try:
                    await ws.send(msg)
                    back = await ws.recv()
                    return None if back == msg else "connection %d: got %r" % (i, back[:80])
                except Exception as e:  # noqa: BLE001
                    return "connection %d: %r" % (i, e)
            res = await asyncio.gather(*(exchange(i, ws) for i, ws in live))
            failed += [r for r in res if r]
        finally:
            await asyncio.gather(*(ws.close() for _, ws in live), return_exceptions=True)
        return failed

    failed = run(go(), 150, "%d concurrent WebSockets to open and exchange a message" % n)
    assert not failed, "%d of %d concurrent WebSockets failed (first ones):\n%s" % (
        len(failed), n, "\n".join(failed[:5]))
    opened = t.upstream.proc.count_stdout(r"^WS-OPEN /echo\?c=")
    assert opened == n, "the local service saw %d WebSocket handshakes, expected %d" % (opened, n)
    P.wait_until(lambda: t.gateway.tunnels()[0]["streams"] == 0, 20,
                 "the tunnel's streams to drop to 0 after %d WebSockets closed" % n,
                 t.gateway.registry.tails)


def test_ping_pong_both_ways(ws_tunnel):
    t = ws_tunnel

    async def go():
        ws = await ws_connect(t, "/ping")
        try:
            # Client ping -> server pong through the tunnel.
            pong = await ws.ping(b"client-ping-data")
            await asyncio.wait_for(pong, 20)
            # The server pinged us when the connection opened; websockets
            # answered; the server logs the pong. The connection still works.
            await ws.send("after pings")
            assert await ws.recv() == "after pings"
        finally:
            await ws.close()

    run(go(), 60, "a ping/pong round trip through the tunnel")
    t.upstream.proc.wait_stdout(r"^PONG-RECEIVED /ping$", 10,
                                "the local service to receive the pong to its ping")


def test_close_code_from_client_reaches_server(ws_tunnel):
    t = ws_tunnel

    async def go():
        ws = await ws_connect(t, "/echo")
        await ws.send("hi")
        assert await ws.recv() == "hi"
        await ws.close(4001, "bye")
        return ws.close_code, ws.close_reason

    code, reason = run(go(), 60, "the client's close handshake (4001)")
    m = t.upstream.proc.wait_stdout(r"^WS-CLOSED /echo (\S+) (.*)$", 10,
                                    "the local service to see the client's close")[0]
    assert (m.group(1), json.loads(m.group(2))) == ("4001", "bye"), \
        "the local service saw close %s %s, expected 4001 \"bye\"" % (m.group(1), m.group(2))
    assert (code, reason) == (4001, "bye"), "the server's echoed close: %r" % ((code, reason),)


def test_close_code_from_server_reaches_client(ws_tunnel):
    t = ws_tunnel

    async def go():
        ws = await ws_connect(t, "/close4002")
        await ws.send("please close")
        try:
            got = await ws.recv()
            raise AssertionError("expected the connection to close, got a message %r" % got)
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        return ws.close_code, ws.close_reason

    code, reason = run(go(), 60, "the server's close (4002) to reach the client")
    assert (code, reason) == (4002, "server-bye"), \
        "the client saw close %r, expected (4002, 'server-bye')" % ((code, reason),)
    t.upstream.proc.wait_stdout(r'^WS-CLOSED /close4002 4002 "server-bye"$', 10,
                                "the local service to log its own close (4002)")


# -- the handshake on the wire ------------------------------------------------------------

def test_upgrade_headers_reach_local_service_and_bytes_flow(ws_tunnel):
    """A hand-written handshake: the local service receives Upgrade,
    Connection, Sec-WebSocket-Key/Version and other fields; the 101 comes back
    with a correct Sec-WebSocket-Accept; then raw frames flow both ways."""
    t = ws_tunnel
    key = base64.b64encode(os.urandom(16)).decode()
    req = upgrade_request(t.host, "/echo?raw=1", key,
                          [("Origin", "http://%s" % t.host), ("X-Test-Id", "raw-upgrade-1")])
    c = H.RawConn(t.gateway.http_port, timeout=20)
    try:
        c.send(req)
        assert c.read_until(lambda b: b"\r\n\r\n" in b, 20), \
            "no 101 response head; received %r" % c.buf[:500]
        status, _, headers, rest = H.split_head(c.buf)
        assert status == 101, "expected 101, got %d: %r" % (status, c.buf[:500])
        assert [v.lower() for v in hdr(headers, "Upgrade")] == ["websocket"], headers
        assert any("upgrade" in v.lower() for v in hdr(headers, "Connection")), headers
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        assert hdr(headers, "Sec-WebSocket-Accept") == [accept], headers

        # What the local service received.
        got = server_request_headers(t, "/echo?raw=1")
        assert hdr(got, "Host") == [t.host], got
        assert [v.lower() for v in hdr(got, "Upgrade")] == ["websocket"], \
            "Upgrade header at the local service: %r" % got
        conn = ",".join(hdr(got, "Connection")).lower()
        assert "upgrade" in [x.strip() for x in conn.split(",")], \
            "Connection header at the local service: %r" % got
        assert hdr(got, "Sec-WebSocket-Key") == [key], got
        assert hdr(got, "Sec-WebSocket-Version") == ["13"], got
        assert hdr(got, "Origin") == ["http://%s" % t.host], got
        assert hdr(got, "X-Test-Id") == ["raw-upgrade-1"], got

        # Raw frames after the 101: a text frame and a 100 KB binary frame.
        c.buf = rest
        blob = pattern_bytes(100_000)
        c.send(ws_frame(0x1, b"raw hello") + ws_frame(0x2, blob))
        assert c.read_until(lambda b: (f := parse_server_frame(b)) is not None
                            and parse_server_frame(f[2]) is not None, 20), \
            "the two echoed frames did not arrive; got %d bytes: %r" % (len(c.buf), c.buf[:100])
        op1, p1, more = parse_server_frame(c.buf)
        op2, p2, more = parse_server_frame(more)
        assert (op1, p1) == (0x1, b"raw hello"), (op1, p1[:100])
        assert op2 == 0x2 and p2 == blob, "binary frame: opcode %d, %d bytes" % (op2, len(p2))
        c.buf = more
        # Close handshake by hand.
        c.send(ws_frame(0x8, struct.pack("!H", 4003) + b"raw-bye"))
        assert c.read_until(lambda b: parse_server_frame(b) is not None, 20), \
            "no close frame back; got %r" % c.buf[:100]
        op, p, _ = parse_server_frame(c.buf)
        assert op == 0x8 and p[:2] == struct.pack("!H", 4003), (op, p)
        assert c.read_until(lambda b: False, 20) is False and c.eof, \
            "the connection should end after the close handshake"
    finally:
        c.close()
    t.upstream.proc.wait_stdout(r'^WS-CLOSED /echo\?raw=1 4003 "raw-bye"$', 10,
                                "the local service to see the raw close frame (4003)")


# -- upgrades answered with an ordinary response --------------------------------------------

def test_refused_handshake_passed_through(ws_tunnel):
    """python3-websockets refuses the handshake with 403 and a body: the real
    client sees 403; a raw client sees the status and the body."""
    t = ws_tunnel

    async def go():
        try:
            ws = await ws_connect(t, "/deny")
        except websockets.InvalidStatusCode as e:
            return e.status_code
        await ws.close()
        return "connected"

    assert run(go(), 60, "the refused handshake") == 403

    c = H.RawConn(t.gateway.http_port, timeout=20)
    try:
        c.send(upgrade_request(t.host, "/deny", base64.b64encode(os.urandom(16)).decode()))
        assert c.read_until(response_complete, 20), \
            "no complete 403 response; received %r" % c.buf[:500]
        status, _, headers, body = H.split_head(c.buf)
    finally:
        c.close()
    assert status == 403, "expected 403, got %d: %r" % (status, c.buf[:500])
    assert body == b"denied by ws_server\n", "body %r" % body


@pytest.mark.parametrize("path,status,body_check", [
    ("/status?code=400", 400, lambda b: b == b"status 400 from upstream\n"),
    ("/echo-upgrade", 200, lambda b: json.loads(b)["path"] == "/echo-upgrade"),
], ids=["400-with-body", "200-echo-json"])
def test_ordinary_response_to_upgrade_passed_through(procs, path, status, body_check):
    """A plain HTTP service (upstream.py) answers an upgrade request with an
    ordinary response with Content-Length: the public client gets it."""
    t = procs.tunnel()
    key = base64.b64encode(os.urandom(16)).decode()
    c = H.RawConn(t.gateway.http_port, timeout=20)
    try:
        c.send(upgrade_request(t.host, path, key))
        assert c.read_until(response_complete, 20), \
            "no complete response to the upgrade request; received %r" % c.buf[:500]
        st, _, headers, body = H.split_head(c.buf)
    finally:
        c.close()
    assert st == status, "expected %d, got %d: %r" % (status, st, c.buf[:500])
    assert H.header_of(headers, "X-Upstream-Tag") == t.upstream.tag, headers
    assert body_check(body), "body %r" % body[:500]
    if status == 200:
        # The echo shows the upgrade headers arrived at the local service.
        got = json.loads(body)["headers"]
        assert [v.lower() for v in hdr(got, "Upgrade")] == ["websocket"], got
        assert any("upgrade" in v.lower() for v in hdr(got, "Connection")), got
        assert hdr(got, "Sec-WebSocket-Key") == [key], got


def test_upgrade_to_dead_local_service_is_502(procs):
    gw = procs.gateway()
    cl = procs.client(gw, P.free_port())
    c = H.RawConn(gw.http_port, timeout=20)
    try:
        c.send(upgrade_request(cl.host, "/ws", base64.b64encode(os.urandom(16)).decode()))
        assert c.read_until(lambda b: b"\r\n\r\n" in b, 20), \
            "no response to an upgrade whose local service is down; got %r" % c.buf[:500]
        status = H.split_head(c.buf)[0]
    finally:
        c.close()
    assert status == 502, "expected 502 Bad Gateway, got %r" % c.buf[:500]


# -- admin API ----------------------------------------------------------------------------------

def test_websocket_bytes_counted(ws_tunnel):
    """bytes_in/bytes_out of an HTTP tunnel include the raw bytes after the
    101: 300000 bytes in (answered with a short length), then 200000 echoed."""
    t = ws_tunnel
    before = t.gateway.tunnels()[0]
    assert before["proto"] == "http" and before["bytes_in"] == 0 and before["bytes_out"] == 0, \
        before

    async def go():
        ws = await ws_connect(t, "/size", compression=None)
        try:
            await ws.send(pattern_bytes(300_000))
            assert await ws.recv() == "300000"
        finally:
            await ws.close()
        ws = await ws_connect(t, "/echo", compression=None)
        try:
            await ws.send(pattern_bytes(200_000))
            assert len(await ws.recv()) == 200_000
        finally:
            await ws.close()

    run(go(), 60, "two WebSocket exchanges")
    P.wait_until(lambda: t.gateway.tunnels()[0]["streams"] == 0, 10,
                 "the tunnel's streams to drop to 0", t.gateway.registry.tails)
    tn = P.wait_until(lambda: (lambda x: x if x["bytes_in"] >= 500_000 else None)(
        t.gateway.tunnels()[0]), 10, "bytes_in to count the 500000 bytes sent after the 101s",
        t.gateway.registry.tails)
    # In: 300000 + 200000 payload bytes (plus frame headers, masks, handshakes).
    assert 500_000 <= tn["bytes_in"] < 520_000, "bytes_in: %r" % tn
    # Out: 200000 echoed (plus the short answer, 101 heads, close frames).
    assert 200_000 <= tn["bytes_out"] < 220_000, "bytes_out: %r" % tn
