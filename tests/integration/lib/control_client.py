"""A minimal client of the control protocol (docs/protocol.md), for tests that need many
sessions quickly: connect, send the preface, HELLO (optionally with `resume`) and BIND in one
write, read WELCOME and BOUND (or ERROR), then leave with GOAWAY, a plain close (FIN) or a
reset (RST). It serves no streams: a PING is answered, anything else after BOUND is ignored.

    c = ControlSession.open(gw.control_port, subdomain="demo")
    c.secret, c.bound.subdomain, c.bound.public_url
    c.leave("goaway")          # or "close", "reset"
"""

import socket
import struct
import time

PREFACE = b"\x89NGRNOK\n"
VERSION = 1
MAX_PAYLOAD = 65536
STREAM_WINDOW = 262144
SESSION_WINDOW = 8388608
HEADER = struct.Struct(">BHBBI")   # length is u24: written as u8 + u16 (see _header)

DATA, HELLO, WELCOME, BIND, BOUND, OPEN, REPLY, WINDOW, RST, PING, GOAWAY, ERROR = range(12)
NAMES = {v: k for k, v in dict(DATA=DATA, HELLO=HELLO, WELCOME=WELCOME, BIND=BIND,
                                BOUND=BOUND, OPEN=OPEN, REPLY=REPLY, WINDOW=WINDOW, RST=RST,
                                PING=PING, GOAWAY=GOAWAY, ERROR=ERROR).items()}
FLAG_ACK = 0x1
PROTO_HTTP = 1
CODE_NONE = 0
CODE_NAME_TAKEN = 11
CODE_NAME_INVALID = 12

LEAVE_MODES = ("goaway", "close", "reset")


def frame(ftype, payload=b"", flags=0, stream=0):
    n = len(payload)
    assert n < (1 << 24)
    return struct.pack(">BHBBI", n >> 16, n & 0xFFFF, ftype, flags, stream) + payload


def pstr(b):
    if isinstance(b, str):
        b = b.encode()
    assert len(b) <= 0xFFFF
    return struct.pack(">H", len(b)) + b


def hello_payload(token=b"", agent=b"ngrnotok-test/1", resume=None, heartbeat_ms=10000):
    p = struct.pack(">HIIII", VERSION, MAX_PAYLOAD, STREAM_WINDOW, SESSION_WINDOW, heartbeat_ms)
    p += pstr(token) + pstr(agent)
    if resume is not None:
        p += pstr(resume)
    return p


def bind_payload(handle=1, subdomain=b"", target=b"localhost:9", proto=PROTO_HTTP, opts=()):
    p = struct.pack(">IB", handle, proto) + pstr(subdomain) + pstr(target)
    if opts:
        p += struct.pack(">H", len(opts)) + b"".join(pstr(k) + pstr(v) for k, v in opts)
    return p


def goaway_payload(code=CODE_NONE, ref=0, message=b"client stopped"):
    return struct.pack(">II", code, ref) + pstr(message)


class Reader:
    """Reads fields of a payload in order; trailing bytes are an error for the caller to
    check with done()."""

    def __init__(self, payload):
        self.p = payload
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.p):
            raise ValueError("payload too short: need %d bytes at %d of %d"
                             % (n, self.pos, len(self.p)))
        b = self.p[self.pos:self.pos + n]
        self.pos += n
        return b

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def str(self):
        return self.take(self.u16())

    def done(self):
        return self.pos == len(self.p)


class Welcome:
    def __init__(self, payload):
        r = Reader(payload)
        self.version = r.u16()
        self.max_payload = r.u32()
        self.stream_window = r.u32()
        self.session_window = r.u32()
        self.heartbeat_ms = r.u32()
        self.token = r.str().decode("ascii", "replace")
        self.agent = r.str().decode("utf-8", "replace")
        if not r.done():
            raise ValueError("WELCOME has %d trailing bytes" % (len(payload) - r.pos))


class Bound:
    def __init__(self, payload):
        r = Reader(payload)
        self.handle = r.u32()
        self.id = r.str().decode()
        self.subdomain = r.str().decode()
        self.public_url = r.str().decode()
        if not r.done():
            raise ValueError("BOUND has trailing bytes")


class Error:
    def __init__(self, payload):
        r = Reader(payload)
        self.code = r.u32()
        self.ref = r.u32()
        self.message = r.str().decode("utf-8", "replace")

    def __repr__(self):
        return "<ERROR code %d ref %d %r>" % (self.code, self.ref, self.message)


class SessionRefused(AssertionError):
    """The gateway answered with ERROR (or closed) instead of WELCOME + BOUND."""

    def __init__(self, msg, error=None):
        super().__init__(msg)
        self.error = error


class ControlSession:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.welcome = None
        self.bound = None

    @property
    def secret(self):
        return self.welcome.token if self.welcome else None

    # -- I/O ------------------------------------------------------------------------
    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("no frame before the deadline")
        self.sock.settimeout(remaining)
        try:
            d = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            d = b""
        if not d:
            self.eof = True
        self.buf += d

    def read_frame(self, timeout=10):
        """(type, flags, stream, payload), or None at EOF."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < 9:
            if self.eof:
                return None
            self._fill(deadline)
        hi, lo, ftype, flags, stream = HEADER.unpack(self.buf[:9])
        n = hi << 16 | lo
        while len(self.buf) < 9 + n:
            if self.eof:
                return None
            self._fill(deadline)
        payload = self.buf[9:9 + n]
        self.buf = self.buf[9 + n:]
        return ftype, flags, stream & 0x7FFFFFFF, payload

    def send(self, data):
        self.sock.sendall(data)

    def _answer_ping(self, flags, payload):
        if not flags & FLAG_ACK:
            self.send(frame(PING, payload, FLAG_ACK))

    # -- the handshake --------------------------------------------------------------
    @classmethod
    def open(cls, port, subdomain=b"", resume=None, token=b"", timeout=10, host="127.0.0.1",
             opts=(), source=None, before=b""):
        """Connect, say HELLO and BIND in one write, and wait for WELCOME and BOUND. Raises
        SessionRefused on ERROR or on a close before BOUND (the socket is then closed). source:
        the local address to connect from; before: bytes sent ahead of the preface (a PROXY
        header, as a proxy in front of the gateway would send)."""
        s = socket.create_connection((host, port), timeout=timeout,
                                     source_address=(source, 0) if source else None)
        c = cls(s)
        try:
            c.send(before + PREFACE + frame(HELLO, hello_payload(token, resume=resume))
                   + frame(BIND, bind_payload(subdomain=subdomain, opts=opts)))
            c._handshake(timeout)
        except BaseException:
            c.abort()
            raise
        return c

    def _handshake(self, timeout):
        deadline = time.monotonic() + timeout
        while self.bound is None:
            f = self.read_frame(max(0.001, deadline - time.monotonic()))
            if f is None:
                raise SessionRefused("the gateway closed the control connection before %s"
                                     % ("BOUND" if self.welcome else "WELCOME"))
            ftype, flags, stream, payload = f
            if ftype == WELCOME:
                self.welcome = Welcome(payload)
            elif ftype == BOUND:
                if self.welcome is None:
                    raise AssertionError("BOUND before WELCOME")
                self.bound = Bound(payload)
            elif ftype == ERROR:
                e = Error(payload)
                raise SessionRefused("the gateway refused the session: %r" % (e,), e)
            elif ftype == PING:
                self._answer_ping(flags, payload)
            elif ftype in (WINDOW, GOAWAY):
                continue
            else:
                raise AssertionError("unexpected %s frame during the handshake"
                                     % NAMES.get(ftype, ftype))

    # -- after BOUND ------------------------------------------------------------------
    def wait_closed(self, timeout=10):
        """Read (answering PINGs) until the gateway closes the connection; returns the
        ERROR or GOAWAY frames seen on the way, decoded."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            f = self.read_frame(max(0.001, deadline - time.monotonic()))
            if f is None:
                return seen
            ftype, flags, _, payload = f
            if ftype == PING:
                try:
                    self._answer_ping(flags, payload)
                except OSError:
                    pass
            elif ftype in (ERROR, GOAWAY):
                seen.append((NAMES[ftype], Error(payload)))

    def leave(self, how):
        """End the session: "goaway" (GOAWAY NONE then close, as ngrnotok on Ctrl-C),
        "close" (a FIN, nothing said) or "reset" (an RST: SO_LINGER 0)."""
        if how == "goaway":
            try:
                self.send(frame(GOAWAY, goaway_payload()))
            except OSError:
                pass
            self.close()
        elif how == "close":
            self.close()
        elif how == "reset":
            self.abort()
        else:
            raise ValueError("leave(%r): one of %s" % (how, ", ".join(LEAVE_MODES)))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()
