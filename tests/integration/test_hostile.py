"""Hostile input on the gateway's public HTTP side (issue "Trust", item 7).

- Request smuggling is refused: a request whose framing or head is ambiguous (Content-Length
  with Transfer-Encoding, two Content-Lengths, an obfuscated Transfer-Encoding, a bad chunk
  size, bare LF line ends, obs-fold, whitespace before a colon) gets 400, the gateway closes
  that connection after it (RFC 9112 section 6.3 for framing errors: nothing after the refused
  head can be read as another request), and the local service sees nothing of it: neither the
  request nor the request smuggled in its body. When the error is only found after some of the
  body was passed on (a bad second chunk, a missing CRLF after chunk data) the local service
  must at least never get a complete request: its connection is cut.
- CR or LF in a header name or value (or the request target) injects no header, neither into
  the request the local service gets nor into the response the public client gets.
- X-Forwarded-For, -Proto and -Host from a public client are replaced by the gateway's own.
- After every hostile request an ordinary request through the same gateway gets 200 from the
  local service.

The local service is `Recorder`, a small HTTP/1.1 service on 127.0.0.1:0 run by a thread of
the test process: it keeps every byte it receives on every connection, answers each complete
request with 200 (or, for the targets a test gives it, with the raw head the test wrote), and
closes a connection only when it cannot read a request's framing. Every case carries unique tags in its target, header values
and smuggled request, so "the local service saw nothing" is "no tag in the bytes it received".
"""

import os
import re
import socket
import struct
import threading
import time
import uuid

import pytest


# How long a response, a close or a local service's view may take to arrive on loopback.
DEADLINE_S = 5.0
# After a refused request: how long the gateway has to close the connection.
CLOSE_DEADLINE_S = 2.0


# -- the local service ------------------------------------------------------------------------

class Recorder:
    """A local HTTP/1.1 service that keeps every byte it receives.

    responses maps a request target (bytes) to the raw response head it is answered with
    (status line and field lines, each ending in CRLF; Content-Length, the blank line and the
    body are added). Every other complete request gets 200 with the body
    b"recorder saw <target>". A request whose framing the recorder cannot read makes it close
    that connection (its bytes are kept)."""

    def __init__(self, responses=None):
        self.responses = dict(responses or {})
        self._lock = threading.Condition()
        self.conns = []      # [{"data": bytearray, "closed": bool, "sock": socket}]
        self.requests = []   # complete requests: {"conn", "method", "target", "fields", "body"}
        self._closing = False
        self._lsock = socket.socket()
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(128)
        self.port = self._lsock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    # -- what was received --------------------------------------------------------------
    def data(self):
        """Every byte received so far, connection by connection."""
        with self._lock:
            return b"\n=== next connection ===\n".join(bytes(c["data"]) for c in self.conns)

    def request_for(self, needle):
        """The first complete request whose target contains needle (bytes), or None."""
        with self._lock:
            for r in self.requests:
                if needle in r["target"]:
                    return r
        return None

    def conns_with(self, needle):
        """[(index, closed)] of the connections whose bytes contain needle."""
        with self._lock:
            return [(i, c["closed"]) for i, c in enumerate(self.conns) if needle in c["data"]]

    def wait_for(self, predicate, timeout, what):
        """Wait until predicate(self) is true (re-checked on every change); AssertionError
        naming what on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                v = predicate(self)
                if v:
                    return v
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("timed out after %.1fs waiting for %s; the local "
                                         "service received:\n%s" % (timeout, what,
                                                                    show(self._data_locked())))
                self._lock.wait(remaining)

    def _data_locked(self):
        return b"\n=== next connection ===\n".join(bytes(c["data"]) for c in self.conns)

    # -- serving -------------------------------------------------------------------------
    def _accept_loop(self):
        while True:
            try:
                sock, _ = self._lsock.accept()
            except OSError:
                return
            with self._lock:
                if self._closing:
                    sock.close()
                    return
                conn = {"data": bytearray(), "closed": False, "sock": sock}
                self.conns.append(conn)
                n = len(self.conns) - 1
                self._lock.notify_all()
            threading.Thread(target=self._serve, args=(n, conn), daemon=True).start()

    def _serve(self, n, conn):
        sock = conn["sock"]
        pending = b""
        try:
            while True:
                try:
                    d = sock.recv(65536)
                except OSError:
                    return
                if not d:
                    return
                with self._lock:
                    conn["data"] += d
                    self._lock.notify_all()
                pending += d
                while True:
                    parsed = parse_request(pending)
                    if parsed is None:
                        break                      # incomplete: read more
                    if parsed == "bad":
                        return                     # unreadable framing: stop serving it
                    used, method, target, fields, body = parsed
                    pending = pending[used:]
                    with self._lock:
                        self.requests.append({"conn": n, "method": method, "target": target,
                                              "fields": fields, "body": body})
                        self._lock.notify_all()
                    sock.sendall(self._answer(target))
        finally:
            with self._lock:
                conn["closed"] = True
                self._lock.notify_all()
            try:
                sock.close()
            except OSError:
                pass

    def _answer(self, target):
        body = b"recorder saw " + target
        head = self.responses.get(target)
        if head is None:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body

    def close(self):
        with self._lock:
            self._closing = True
            socks = [c["sock"] for c in self.conns]
        for s in [self._lsock] + socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass


def parse_request(buf):
    """One request from the front of buf: None if incomplete, "bad" if its framing cannot be
    read, else (bytes used, method, target, [(name, value)], body). Field lines are split at
    CRLF only, so a bare CR or LF stays inside the line it is in."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) < 3:
        return "bad"
    method, target = parts[0], parts[1]
    fields = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields.append((name, value.strip(b" \t")))
    pos = end + 4
    te = [v for k, v in fields if k.lower() == b"transfer-encoding"]
    cl = [v for k, v in fields if k.lower() == b"content-length"]
    if te:
        body = bytearray()
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            try:
                size = int(buf[pos:eol].split(b";")[0].strip(), 16)
            except ValueError:
                return "bad"
            if size < 0:
                return "bad"
            pos = eol + 2
            if size == 0:
                while True:                         # trailers, then the blank line
                    eol = buf.find(b"\r\n", pos)
                    if eol < 0:
                        return None
                    line, pos = buf[pos:eol], eol + 2
                    if not line:
                        return pos, method, target, fields, bytes(body)
            if len(buf) < pos + size + 2:
                return None
            if buf[pos + size:pos + size + 2] != b"\r\n":
                return "bad"
            body += buf[pos:pos + size]
            pos += size + 2
    if cl:
        if len(set(cl)) != 1 or not cl[0].isdigit():
            return "bad"
        n = int(cl[0])
        if len(buf) < pos + n:
            return None
        return pos + n, method, target, fields, buf[pos:pos + n]
    return pos, method, target, fields, b""


def show(data, limit=1500):
    """Bytes for a failure message."""
    if not data:
        return "    (nothing)"
    text = repr(bytes(data[:limit]))
    if len(data) > limit:
        text += " ... (%d bytes in all)" % len(data)
    return "    " + text


# -- the public side ----------------------------------------------------------------------------

class Exchange:
    """What the public client got for a request sent over a raw socket."""

    def __init__(self):
        self.raw = b""          # every byte received
        self.status = None      # the first response's status code (None: no status line)
        self.head = b""         # the first response's head
        self.extra = b""        # bytes after the first response
        self.closed = False     # the gateway closed (or reset) the connection
        self.reset = False
        self.send_error = None

    def describe(self):
        if self.status is None:
            got = "no response" if not self.raw else "no status line"
        else:
            got = "status %d" % self.status
        state = ("closed the connection" + (" (reset)" if self.reset else "")
                 if self.closed else "kept the connection open")
        text = "the gateway answered with %s and %s; it sent:\n%s" % (got, state, show(self.raw))
        if self.send_error:
            text += "\n(sending failed: %s)" % self.send_error
        return text


def _response_end(buf, head_end, head):
    """Where the first response (head ending at head_end) ends in buf, or None if its body is
    incomplete (or close-delimited)."""
    status = int(head.split(b" ", 2)[1])
    cl = te = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            cl = int(v.strip())
        elif k.strip().lower() == b"transfer-encoding":
            te = v
    start = head_end + 4
    if status in (204, 304) or 100 <= status < 200:
        return start
    if te is not None:
        pos = start
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(buf[pos:eol].split(b";")[0].strip(), 16)
            pos = eol + 2
            if size == 0:                       # no trailers from the gateway
                return pos + 2 if len(buf) >= pos + 2 else None
            pos += size + 2
    if cl is not None:
        return start + cl if len(buf) >= start + cl else None
    return None


def exchange(port, data, close_deadline=CLOSE_DEADLINE_S):
    """Send data on a fresh connection to 127.0.0.1:port; read the first response (within
    DEADLINE_S), then whatever follows until the gateway closes the connection or
    close_deadline passes."""
    ex = Exchange()
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    try:
        try:
            s.sendall(data)
        except OSError as e:
            ex.send_error = str(e)
        deadline = time.monotonic() + DEADLINE_S
        first_end = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            s.settimeout(remaining)
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, BrokenPipeError):
                ex.closed = ex.reset = True
                break
            if not d:
                ex.closed = True
                break
            ex.raw += d
            if first_end is None:
                he = ex.raw.find(b"\r\n\r\n")
                if he >= 0:
                    ex.head = ex.raw[:he]
                    m = re.match(rb"HTTP/1\.[01] (\d{3})", ex.head)
                    ex.status = int(m.group(1)) if m else None
                    if ex.status is None:
                        break
                    first_end = _response_end(ex.raw, he, ex.head)
                    if first_end is not None:
                        deadline = time.monotonic() + close_deadline
        if ex.status is None:
            m = re.match(rb"HTTP/1\.[01] (\d{3})", ex.raw)
            ex.status = int(m.group(1)) if m else None
        if first_end is not None:
            ex.extra = ex.raw[first_end:]
        return ex
    finally:
        s.close()


class Setup:
    def __init__(self, gateway, client, recorder):
        self.gateway = gateway
        self.client = client
        self.recorder = recorder
        self.host = client.host
        self.port = gateway.http_port

    def ordinary(self):
        """An ordinary GET on a fresh connection: None if it got 200 from the local service,
        else what went wrong."""
        target = "/ordinary-" + uuid.uuid4().hex
        try:
            r = self.gateway.request("GET", target, self.host, timeout=DEADLINE_S * 2)
        except Exception as e:  # noqa: BLE001 - reported
            return "the ordinary request after it failed: %r" % (e,)
        if r.status != 200 or r.body != b"recorder saw " + target.encode():
            return ("the ordinary request after it did not get 200 from the local service: "
                    "%r" % (r,))
        return None


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


@pytest.fixture
def setup(procs, recorder):
    """A gateway and a client forwarding to the recorder."""
    gw = procs.gateway()
    cl = procs.client(gw, recorder.port)
    return Setup(gw, cl, recorder)


def tags():
    """Two unique tags: one for the hostile request, one for the request smuggled in it."""
    u = uuid.uuid4().hex[:12]
    return "hostile" + u, "smuggled" + u


def fill(template, host, tag, smuggled_tag):
    return (template.replace("{H}", host).replace("{T}", tag)
            .replace("{S}", smuggled_tag)).encode("latin-1")


def fail_if(problems, header):
    if problems:
        pytest.fail(header + "\n- " + "\n- ".join(problems), pytrace=False)


# -- request smuggling -------------------------------------------------------------------------

# A second request placed where a parser that reads the framing differently would find it.
SMUGGLED = "GET /{S} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {S}\r\n\r\n"
CHUNKED_POST = ("POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n")

# (id, request). The error is in the head or in the first chunk-size line: the gateway can know
# before sending anything on, so the local service must see nothing at all.
SMUGGLING_HEAD = [
    # Content-Length together with Transfer-Encoding, in both orders.
    ("content-length-and-transfer-encoding",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nContent-Length: 6\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-and-content-length",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 4\r\n\r\n5c\r\n" + SMUGGLED + "\r\n0\r\n\r\n"),
    # Two different Content-Lengths.
    ("two-content-length-fields",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nContent-Length: 5\r\n"
     "Content-Length: 6\r\n\r\nhello!" + SMUGGLED),
    ("content-length-list",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nContent-Length: 5, 6\r\n\r\n"
     "hello!" + SMUGGLED),
    # Content-Length is 1*DIGIT (RFC 9110 section 8.6); anything else is invalid (RFC 9112
    # section 6.3: 400).
    ("content-length-plus-sign",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nContent-Length: +5\r\n\r\n"
     "hello" + SMUGGLED),
    ("content-length-negative",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nContent-Length: -5\r\n\r\n"
     "hello" + SMUGGLED),
    ("content-length-overflow",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\n"
     "Content-Length: 18446744073709551621\r\n\r\nhello" + SMUGGLED),
    # Obfuscated Transfer-Encoding (chunked must be the final coding, RFC 9112 section 6.3).
    ("transfer-encoding-xchunked",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding: xchunked\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-chunked-identity",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\n"
     "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-two-fields-chunked-first",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: identity\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-quoted",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-vtab-before-value",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding:\x0bchunked\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-formfeed-before-value",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding: \x0cchunked\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-vtab-after-value",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding: chunked\x0b\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-tab-inside-value",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding: chun\tked\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-tab-inside-name",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-\tEncoding: chunked\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-vtab-inside-name",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer\x0b-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-tab-before-colon",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding\t: chunked\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    ("transfer-encoding-space-before-colon",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding : chunked\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    # Invalid chunk sizes in the first chunk-size line.
    ("chunk-size-not-hex", CHUNKED_POST + "zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ("chunk-size-negative", CHUNKED_POST + "-5\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ("chunk-size-overflow", CHUNKED_POST + "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ("chunk-size-0x-prefix", CHUNKED_POST + "0x5\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ("chunk-size-junk-after", CHUNKED_POST + "5zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ("chunk-size-space-junk-after", CHUNKED_POST + "5 zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ("chunk-size-empty", CHUNKED_POST + "\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ("chunk-size-bare-lf", CHUNKED_POST + "5\nhello\r\n0\r\n\r\n" + SMUGGLED),
    # Bare LF line ends in the head.
    ("bare-lf-every-line", "GET /{T} HTTP/1.1\nHost: {H}\nX-Tag: {T}\n\n"),
    ("bare-lf-request-line", "GET /{T} HTTP/1.1\nHost: {H}\r\nX-Tag: {T}\r\n\r\n"),
    ("bare-lf-before-transfer-encoding",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    ("bare-lf-ends-head", "GET /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\n\n"),
    # obs-fold (RFC 9112 section 5.2: reject with 400, the choice made here).
    ("obs-fold-space", "GET /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\n folded\r\n\r\n"),
    ("obs-fold-tab", "GET /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\n\tfolded\r\n\r\n"),
    ("obs-fold-transfer-encoding",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    # Whitespace between the start line and the first field (RFC 9112 section 2.2).
    ("whitespace-line-after-request-line",
     "POST /{T} HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: {H}\r\nX-Tag: {T}\r\n\r\n"
     "0\r\n\r\n" + SMUGGLED),
    # Whitespace between a field name and the colon (RFC 9112 section 5.1: 400).
    ("content-length-space-before-colon",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nContent-Length : 5\r\n\r\nhello"
     + SMUGGLED),
    ("content-length-tab-before-colon",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nContent-Length\t: 5\r\n\r\nhello"
     + SMUGGLED),
    ("other-field-space-before-colon",
     "GET /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag : {T}\r\n\r\n"),
    # A method that is not a token (RFC 9110 section 9.1), which libmicrohttpd passes on: a
    # quote, a control character, a byte past ASCII, a brace.
    ("method-with-a-quote", 'GE"T /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\n\r\n'),
    ("method-with-a-control-character",
     "G\x01T /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\n\r\n"),
    ("method-past-ascii", "\xffGET /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\n\r\n"),
    ("method-with-a-brace", "G{T /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\n\r\n"),
]

# (id, request). The error comes after body bytes that a streaming gateway may already have
# passed on: the local service must never get a complete request (its connection is cut), nor
# the smuggled one.
SMUGGLING_BODY = [
    ("chunk-data-missing-crlf", CHUNKED_POST + "5\r\nhelloXX0\r\n\r\n" + SMUGGLED),
    ("chunk-size-not-hex-in-second-chunk",
     CHUNKED_POST + "5\r\nhello\r\nzz\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ("chunk-size-overflow-in-second-chunk",
     CHUNKED_POST + "5\r\nhello\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
]


# Refused by libmicrohttpd 0.9.75 itself, before the gateway sees the request: a 400 (413 for a
# size past 64 bits) and a close, with nothing forwarded, but its response head is written
# twice (a bug of that version; the admin port does the same). Judged on what is safe: the
# status, the close, nothing at the local service.
REFUSED_BY_LIBMICROHTTPD = {"content-length-list", "content-length-plus-sign",
                            "content-length-negative", "content-length-overflow",
                            "chunk-size-overflow", "chunk-size-overflow-in-second-chunk"}

# libmicrohttpd 0.9.75 takes a bare LF after a chunk size for CRLF, inside the body where the
# gateway sees only the decoded data (the head's bare LFs and folds are found in its parse:
# mhd_head_lines.c). docs/security.md, "Not yet": this must fail until the gateway reads bodies
# with a stricter parser. Since each body is re-framed before it reaches the local service
# (frames, then libcurl), such a chunk cannot make the two disagree about where a request ends.
LENIENT = pytest.mark.xfail(strict=True, reason="libmicrohttpd 0.9.75 accepts a bare LF after "
                            "a chunk size; the gateway cannot see it (docs/security.md)")
LENIENT_CASES = {"chunk-size-bare-lf"}


def cases(table):
    return [pytest.param(t, id=i, marks=[LENIENT] if i in LENIENT_CASES else [])
            for i, t in table]


def _refusal_problems(ex, case=None):
    problems = []
    if case in REFUSED_BY_LIBMICROHTTPD:
        if ex.status not in (400, 413):
            problems.append("expected libmicrohttpd's 400 or 413: %s" % ex.describe())
        elif not ex.closed:
            problems.append("the connection stayed open after the refusal")
        return problems
    if ex.status != 400:
        problems.append("expected 400: %s" % ex.describe())
    else:
        if ex.extra:
            problems.append("the gateway sent %d bytes past the end of its 400 response (a "
                            "second response, or a body longer than its Content-Length): %s"
                            % (len(ex.extra), ex.describe()))
        if not ex.closed:
            problems.append("the gateway kept the connection open %.0fs after the 400 "
                            "(RFC 9112 section 6.3: close it, nothing after a bad head can "
                            "be framed)" % CLOSE_DEADLINE_S)
    return problems


@pytest.mark.parametrize("template", cases(SMUGGLING_HEAD))
def test_smuggling_refused(request, setup, template):
    tag, smuggled = tags()
    data = fill(template, setup.host, tag, smuggled)
    ex = exchange(setup.port, data)
    problems = _refusal_problems(ex, request.node.callspec.id)
    # Barrier: the ordinary request goes through the same gateway, client and local service
    # after the hostile one was answered.
    ordinary = setup.ordinary()
    seen = setup.recorder.data()
    leaked = [t for t in (tag, smuggled) if t.encode() in seen]
    if leaked:
        problems.append("the local service received %s:\n%s"
                        % (" and ".join("the %s request (tag %s)"
                                        % ("hostile" if t == tag else "smuggled", t)
                                        for t in leaked), show(seen)))
    if ordinary:
        problems.append(ordinary)
    fail_if(problems, "request sent:\n%s" % show(data))


@pytest.mark.parametrize("template", cases(SMUGGLING_BODY))
def test_smuggling_in_body_refused(request, setup, template):
    tag, smuggled = tags()
    data = fill(template, setup.host, tag, smuggled)
    ex = exchange(setup.port, data)
    problems = _refusal_problems(ex, request.node.callspec.id)
    rec = setup.recorder
    # The local service's connection that got the head (if any) must be cut; wait for that
    # (or for a complete request, which is the failure) before judging.
    try:
        rec.wait_for(lambda r: r.request_for(tag.encode()) is not None
                     or all(closed for _, closed in r.conns_with(tag.encode())),
                     DEADLINE_S, "the local service's connection carrying the request to be "
                     "cut")
    except AssertionError as e:
        problems.append("the local service's connection carrying the partial request stayed "
                        "open (%s)" % str(e).split(";")[0])
    ordinary = setup.ordinary()
    seen = rec.data()
    done = rec.request_for(tag.encode())
    if done is not None:
        problems.append("the local service got a complete request (body %r) out of a request "
                        "the gateway could not frame:\n%s" % (done["body"], show(seen)))
    if smuggled.encode() in seen:
        problems.append("the local service received the smuggled request (tag %s):\n%s"
                        % (smuggled, show(seen)))
    if ordinary:
        problems.append(ordinary)
    fail_if(problems, "request sent:\n%s" % show(data))


# Heads that are well formed however unusual their blanks: the line-end check must let them
# through. Two requests on one connection: the second head is checked on its own.
UNUSUAL_BUT_VALID = [
    ("no-blank-after-colon", "GET /{T} HTTP/1.1\r\nHost:{H}\r\nX-Tag:{T}\r\n\r\n"),
    ("tabs-and-trailing-blanks",
     "GET /{T} HTTP/1.1\r\nHost: \t{H}\r\nX-Tag:\t{T} \t \r\nX-Pad:    \r\n\r\n"),
    ("empty-values", "GET /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nX-E:\r\nX-F: \r\n\r\n"),
    ("body-then-second-request",
     "POST /{T} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {T}\r\nContent-Length: 5\r\n\r\nhello"
     "GET /{S} HTTP/1.1\r\nHost: {H}\r\nX-Tag: {S}\r\nConnection: close\r\n\r\n"),
]


@pytest.mark.parametrize("template", [pytest.param(t, id=i) for i, t in UNUSUAL_BUT_VALID])
def test_unusual_but_valid_heads_pass(setup, template):
    tag, second = tags()
    data = fill(template, setup.host, tag, second)
    ex = exchange(setup.port, data)
    assert ex.status == 200, "request sent:\n%s\ngot: %s" % (show(data), ex.describe())
    want = [tag] + ([second] if "{S}" in template else [])
    setup.recorder.wait_for(lambda r: all(r.request_for(t.encode()) is not None for t in want),
                            DEADLINE_S, "the local service to get every request")


# -- CR / LF injection -----------------------------------------------------------------------

def injected_lines(head, name):
    """Lines of head (split at CR, LF or CRLF) that start a field called name."""
    out = []
    for line in re.split(rb"\r\n|\r|\n", head):
        if line.split(b":", 1)[0].strip().lower() == name.lower():
            out.append(line)
    return out


def stray_cr_lf(head):
    """A CR or LF in head that is not part of a CRLF line end."""
    return re.search(rb"\r(?!\n)|(?<!\r)\n", head) is not None


# (id, request). {I} is the name of the field an injection would create.
INJECTION_REQUESTS = [
    ("cr-in-field-value", "GET /{T} HTTP/1.1\r\nHost: {H}\r\nX-Note: a\r{I}: 1\r\n\r\n"),
    ("lf-in-field-value", "GET /{T} HTTP/1.1\r\nHost: {H}\r\nX-Note: a\n{I}: 1\r\n\r\n"),
    ("cr-in-field-name", "GET /{T} HTTP/1.1\r\nHost: {H}\r\nX-Note\r{I}: 1\r\n\r\n"),
    ("cr-in-x-forwarded-for",
     "GET /{T} HTTP/1.1\r\nHost: {H}\r\nX-Forwarded-For: 1.2.3.4\r{I}: 1\r\n\r\n"),
    ("cr-in-host", "GET /{T} HTTP/1.1\r\nHost: {H}\r{I}: 1\r\n\r\n"),
    ("cr-in-request-target", "GET /{T}\r{I}:1 HTTP/1.1\r\nHost: {H}\r\n\r\n"),
]


@pytest.mark.parametrize("template", cases(INJECTION_REQUESTS))
def test_cr_lf_in_request_injects_nothing(setup, template):
    """Refused (any status) or passed on with the CR/LF replaced (RFC 9110 section 5.5): the
    local service never gets a field line of the injected name, nor a stray CR or LF."""
    tag, _ = tags()
    inj = "X-Injected-" + tag
    data = fill(template.replace("{I}", inj), setup.host, tag, "")
    ex = exchange(setup.port, data)
    problems = []
    if ex.status is None and not ex.closed:
        problems.append("the gateway neither answered nor closed the connection: %s"
                        % ex.describe())
    ordinary = setup.ordinary()
    seen = setup.recorder.data()
    lines = injected_lines(seen, inj.encode())
    if lines:
        problems.append("the local service received an injected field line %r (%s):\n%s"
                        % (lines[0], ex.describe(), show(seen)))
    # The heads (the requests here have no body) that carry the tag.
    heads = [h for h in seen.split(b"\r\n\r\n") if tag.encode() in h]
    if any(stray_cr_lf(h) for h in heads):
        problems.append("the local service received a head with a stray CR or LF:\n%s"
                        % show(seen))
    if ordinary:
        problems.append(ordinary)
    fail_if(problems, "request sent:\n%s" % show(data))


# (id, raw response head the local service sends). {I}: the injected field's name.
INJECTION_RESPONSES = [
    ("cr-in-field-value", "HTTP/1.1 200 OK\r\nX-Note: a\r{I}: 1\r\n"),
    # Not here: a bare LF from the local service. libcurl takes it for a line end, as RFC 9112
    # section 2.2 allows, so the service gets the two fields it wrote; the service is the
    # tunnel owner's own, and nobody else can put bytes in its head.
    ("cr-in-field-name", "HTTP/1.1 200 OK\r\nX-Note\r{I}: 1\r\n"),
    ("cr-in-set-cookie", "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r{I}: 1\r\n"),
    ("cr-in-location", "HTTP/1.1 302 Found\r\nLocation: /next\r{I}: 1\r\n"),
    ("cr-in-reason-phrase", "HTTP/1.1 200 OK\r{I}: 1\r\n"),
]


@pytest.mark.parametrize("template", [t for _, t in INJECTION_RESPONSES],
                         ids=[i for i, _ in INJECTION_RESPONSES])
def test_cr_lf_in_response_injects_nothing(setup, template):
    """The public client gets a 502, or the response without the injected field: no field line
    of the injected name, no stray CR or LF in the head."""
    tag, _ = tags()
    inj = "X-Injected-" + tag
    target = "/" + tag
    setup.recorder.responses[target.encode()] = template.replace("{I}", inj).encode("latin-1")
    data = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
            % (target, setup.host)).encode()
    ex = exchange(setup.port, data)
    problems = []
    if ex.status is None:
        problems.append("no response: %s" % ex.describe())
    elif ex.status not in (200, 302, 502):
        problems.append("expected the service's status or 502: %s" % ex.describe())
    lines = injected_lines(ex.head, inj.encode())
    if lines:
        problems.append("the public client got an injected field line %r: %s"
                        % (lines[0], ex.describe()))
    if stray_cr_lf(ex.head):
        problems.append("the public client got a head with a stray CR or LF: %s"
                        % ex.describe())
    ordinary = setup.ordinary()
    if ordinary:
        problems.append(ordinary)
    fail_if(problems, "the local service answered with the head:\n%s"
            % show(setup.recorder.responses[target.encode()]))


# -- X-Forwarded-* ---------------------------------------------------------------------------

FORWARDED_NAMES = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host")

SPOOFED = [
    ("x-forwarded-for", [("X-Forwarded-For", "6.6.6.6")]),
    ("x-forwarded-for-list", [("X-Forwarded-For", "6.6.6.6, 7.7.7.7")]),
    ("x-forwarded-for-twice", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "7.7.7.7")]),
    ("x-forwarded-for-lowercase", [("x-forwarded-for", "6.6.6.6")]),
    ("x-forwarded-proto", [("X-Forwarded-Proto", "https")]),
    ("x-forwarded-proto-twice", [("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "wss")]),
    ("x-forwarded-host", [("X-Forwarded-Host", "evil.example")]),
    ("x-forwarded-host-uppercase", [("X-FORWARDED-HOST", "evil.example")]),
    ("all-three", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Proto", "https"),
                   ("X-Forwarded-Host", "evil.example")]),
    # CGI-style services (WSGI, PHP, ...) read X_Forwarded_For as HTTP_X_FORWARDED_FOR.
    ("x-forwarded-for-underscores", [("X_Forwarded_For", "6.6.6.6")]),
    ("x-forwarded-host-underscores", [("X_Forwarded_Host", "evil.example")]),
]


@pytest.mark.parametrize("headers", [h for _, h in SPOOFED], ids=[i for i, _ in SPOOFED])
def test_x_forwarded_from_public_client_replaced(setup, headers):
    target = "/xf-" + uuid.uuid4().hex
    r = setup.gateway.request("GET", target, setup.host, headers=headers, timeout=DEADLINE_S * 2)
    problems = []
    if r.status != 200 or r.body != b"recorder saw " + target.encode():
        problems.append("the request did not get 200 from the local service: %r" % (r,))
    got = setup.recorder.request_for(target.encode())
    if got is None:
        problems.append("the local service got no complete request for %s; it received:\n%s"
                        % (target, show(setup.recorder.data())))
    else:
        fields = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in got["fields"]]
        want = {"x-forwarded-for": ["127.0.0.1"], "x-forwarded-proto": ["http"],
                "x-forwarded-host": [setup.host]}
        for name in FORWARDED_NAMES:
            have = [v for k, v in fields if k.lower().replace("_", "-") == name]
            if have != want[name]:
                problems.append("the local service saw %s %r, expected only the gateway's %r"
                                % (name, have, want[name]))
        if problems:
            problems.append("fields the local service got: %r" % (fields,))
    ordinary = setup.ordinary()
    if ordinary:
        problems.append(ordinary)
    fail_if(problems, "public client sent %r" % (headers,))


# -- the control port ------------------------------------------------------------------------

PREFACE = b"\x89NGRNOK\n"


def hello_frame(max_payload=65536):
    payload = struct.pack(">HIIII", 1, max_payload, 262144, 8388608, 10000)
    payload += struct.pack(">H", 0) + struct.pack(">H", 5) + b"evil/"
    n = len(payload)
    return bytes([n >> 16 & 255, n >> 8 & 255, n & 255, 1, 0]) + b"\0\0\0\0" + payload


@pytest.mark.parametrize("bytes_sent", [
    pytest.param(os.urandom(4096), id="garbage"),
    pytest.param(PREFACE + b"\xff\xff\xff\x01\x00\x00\x00\x00\x00" + b"x" * 4096,
                 id="frame-over-16mib-announced"),
    pytest.param(PREFACE + b"\x01\x00\x01\x01\x00\x00\x00\x00\x00" + b"y" * 65537,
                 id="frame-over-64kib"),
    pytest.param(PREFACE + hello_frame() + b"\x00\x00\x05\x63\x00\x00\x00\x00\x07zzzzz",
                 id="unknown-frame-type-after-hello"),
    pytest.param(PREFACE + hello_frame(max_payload=1), id="hello-below-minimum-frame"),
])
def test_hostile_control_client_is_cut_off_alone(procs, bytes_sent):
    """Bytes no client would send reach the control port: that connection is closed, and a
    tunnel of another client keeps serving, before and after."""
    tun = procs.tunnel()
    assert tun.request("GET", "/echo").status == 200
    s = socket.create_connection(("127.0.0.1", tun.gateway.control_port), timeout=10)
    try:
        s.sendall(bytes_sent)
    except (BrokenPipeError, ConnectionResetError):
        pass  # cut off while still sending: as good
    deadline = time.monotonic() + 15
    closed = False
    while time.monotonic() < deadline:
        try:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            if s.recv(65536) == b"":
                closed = True
                break
        except ConnectionResetError:
            closed = True
            break
        except socket.timeout:
            break
    s.close()
    assert closed, "the gateway kept a control connection that sent %r..." % bytes_sent[:32]
    assert tun.request("GET", "/echo").status == 200
    assert tun.gateway.proc.poll() is None
