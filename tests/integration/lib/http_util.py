"""Small HTTP helpers on http.client and raw sockets. Nothing here adds
headers behind the caller's back: no Host, no Accept-Encoding, no
User-Agent unless the test passes them."""

import http.client
import json
import socket
import time


class Resp:
    def __init__(self, status, reason, headers, body, version=11):
        self.status = status
        self.reason = reason
        self.headers = list(headers)     # [(name, value), ...] in wire order
        self.body = body
        self.version = version

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError("response body is not JSON (%s): status %d, headers %r, body %r"
                                 % (e, self.status, self.headers, self.body[:1000]))

    def __repr__(self):
        return "<Resp %d %r headers=%r body=%r>" % (
            self.status, self.reason, self.headers, self.body[:300])


def _open(port, method, path, headers, timeout):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers:
        conn.putheader(k, v)
    return conn


def _finish(conn, on_chunk=None, bufsize=1 << 20):
    r = conn.getresponse()
    if on_chunk is None:
        data = r.read()
    else:
        data = b""
        buf = bytearray(bufsize)
        mv = memoryview(buf)
        while True:
            n = r.readinto(buf)
            if not n:
                break
            on_chunk(mv[:n])
    return Resp(r.status, r.reason, r.getheaders(), data, r.version)


def request(port, method, path, headers=(), body=None, timeout=30, on_chunk=None):
    """One request on a fresh connection to 127.0.0.1:port. headers is a
    list of (name, value) sent in that order (include Host yourself). A
    Content-Length is added for a bytes body unless the caller gave a framing
    header. on_chunk(memoryview) receives the body instead of it being
    stored."""
    headers = list(headers)
    names = {k.lower() for k, _ in headers}
    if body is not None and not names & {"content-length", "transfer-encoding"}:
        headers.append(("Content-Length", str(len(body))))
    conn = _open(port, method, path, headers, timeout)
    try:
        conn.endheaders()
        if body:
            conn.send(body)
        return _finish(conn, on_chunk)
    finally:
        conn.close()


def request_chunked(port, method, path, headers, chunks, timeout=30):
    """Send the body with Transfer-Encoding: chunked, one chunk per item of
    `chunks` (empty items are skipped)."""
    headers = list(headers) + [("Transfer-Encoding", "chunked")]
    conn = _open(port, method, path, headers, timeout)
    try:
        conn.endheaders()
        for c in chunks:
            if len(c):
                conn.send(b"%x\r\n" % len(c))
                conn.send(bytes(c))
                conn.send(b"\r\n")
        conn.send(b"0\r\n\r\n")
        return _finish(conn)
    finally:
        conn.close()


def request_stream(port, method, path, headers, chunks, length, timeout=60):
    """Send a body of `length` bytes given as an iterable of chunks, with
    Content-Length (never held in memory as a whole)."""
    headers = list(headers) + [("Content-Length", str(length))]
    conn = _open(port, method, path, headers, timeout)
    try:
        conn.endheaders()
        sent = 0
        for c in chunks:
            conn.sock.sendall(c)
            sent += len(c)
        assert sent == length, "generator produced %d bytes, expected %d" % (sent, length)
        return _finish(conn)
    finally:
        conn.close()


# -- raw sockets ------------------------------------------------------------------

def raw_exchange(port, data, timeout=15, quiet_after_head=None):
    """Send raw bytes, read until the peer closes (or `timeout` passes);
    return everything received. If quiet_after_head is set, also stop when
    the head is complete and nothing more arrived for that many seconds."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = remaining
            if quiet_after_head is not None and b"\r\n\r\n" in buf:
                wait = min(wait, quiet_after_head)
            s.settimeout(wait)
            try:
                d = s.recv(65536)
            except socket.timeout:
                if quiet_after_head is not None and b"\r\n\r\n" in buf:
                    break
                continue
            except ConnectionResetError:
                break
            if not d:
                break
            buf += d
        return buf
    finally:
        s.close()


def split_head(raw):
    """Split a raw response into (status, reason, [(name, value)], rest)."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, "no complete response head in %r" % (raw[:500],)
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    assert len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit(), \
        "bad status line %r" % lines[0]
    headers = []
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers.append((k.strip(), v.strip()))
    return int(parts[1]), (parts[2] if len(parts) > 2 else ""), headers, rest


def header_of(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def dechunk(data):
    """Decode a complete chunked body; returns (body, complete) where
    complete tells whether the terminating 0-size chunk was seen."""
    out = bytearray()
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(out), False
        try:
            size = int(data[pos:eol].split(b";")[0].strip(), 16)
        except ValueError:
            return bytes(out), False
        if size == 0:
            return bytes(out), True
        start = eol + 2
        if len(data) < start + size + 2:
            out += data[start:start + size]
            return bytes(out), False
        out += data[start:start + size]
        pos = start + size + 2


class RawConn:
    """A raw client connection for watching a response arrive over time."""

    def __init__(self, port, timeout=15):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.eof = False
        self.reset = False

    def send(self, data):
        self.sock.sendall(data)

    def read_until(self, predicate, timeout):
        """Read until predicate(buf) is true; returns True, or False on
        EOF/reset/timeout (buf holds what arrived)."""
        deadline = time.monotonic() + timeout
        while not predicate(self.buf):
            if self.eof:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                self.eof = self.reset = True
                return False
            if not d:
                self.eof = True
            self.buf += d
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
