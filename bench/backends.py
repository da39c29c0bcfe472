#!/usr/bin/env python3
"""Local backends for bench/run and bench/wan, on loopback only.

- slow: an asyncio HTTP/1.1 server that answers every request after --delay seconds (keep-alive).
- sink: an upload sink that reads the whole request body (Content-Length or chunked), throws it
  away (splice(2) to /dev/null), and only then answers 204 with `X-Body-Bytes: N`, so a tunnel
  that stopped forwarding once a response arrived cannot look fast. (nginx's `return 204`
  answers before it has read the body, and a proxy in front of it may then drop the rest of the
  upload.) `X-Body-Seconds: S` is the time from the request head to the body's last byte, the
  rate the body arrived at (bench/wan's upload figure; sent without `Expect: 100-continue`).
- echo (with --echo-ports N, for bench/soak): N listeners, each answering from its own port so
  that a body shows which listener made it. `GET /echo/TOKEN?size=N` answers 200 with N bytes
  (default: one line) of the line `TOKEN PORT\n` repeated, cut at N; `POST /echo/TOKEN`
  answers 200 with that line followed by the request body (Content-Length or chunked).
  Anything else is a 404. Keep-alive; echo_body() is what the caller checks against.

Prints one line `slow=PORT sink=PORT` (and ` echo=PORT,PORT,...`) once all listen, then serves
until stdin closes or --max-seconds pass.
"""
import argparse
import asyncio
import fcntl
import os
import resource
import socket
import sys
import threading
import time

HEAD_MAX = 64 * 1024


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---- upload sink (blocking sockets, one thread per connection: recv_into is the whole cost) ----

F_SETPIPE_SZ = 1031


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()  # bytes read past what has been consumed
        self.scratch = bytearray(1 << 20)
        self.view = memoryview(self.scratch)
        # Bodies go socket -> pipe -> /dev/null with splice(2): the kernel drops the pages and
        # the sink costs next to nothing, so the direct upload is the sender's limit.
        self.pipe = self.devnull = None
        if hasattr(os, "splice"):
            try:
                self.pipe = os.pipe()
                try:
                    fcntl.fcntl(self.pipe[1], F_SETPIPE_SZ, 1 << 20)
                except OSError:
                    pass
                self.devnull = os.open(os.devnull, os.O_WRONLY)
            except OSError:
                self.close_pipes()

    def close_pipes(self):
        for fd in (self.pipe or ()) + ((self.devnull,) if self.devnull is not None else ()):
            os.close(fd)
        self.pipe = self.devnull = None

    def fill(self):
        n = self.sock.recv_into(self.view)
        if n == 0:
            raise EOFError
        self.buf += self.view[:n]

    def read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > HEAD_MAX:
                raise ValueError("line too long")
            self.fill()

    def read_head(self):
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head = bytes(self.buf[:i])
                del self.buf[:i + 4]
                return head
            if len(self.buf) > HEAD_MAX:
                raise ValueError("head too long")
            self.fill()

    def skip(self, n):
        """Reads and drops exactly n bytes."""
        take = min(n, len(self.buf))
        del self.buf[:take]
        n -= take
        while n > 0 and self.pipe is not None:
            try:
                got = os.splice(self.sock.fileno(), self.pipe[1], min(n, 1 << 20),
                                flags=os.SPLICE_F_MOVE)
            except OSError:
                self.close_pipes()  # splice refused: copy instead
                break
            if got == 0:
                raise EOFError
            left = got
            while left:
                left -= os.splice(self.pipe[0], self.devnull, left, flags=os.SPLICE_F_MOVE)
            n -= got
        view, sock = self.view, self.sock
        while n > 0:
            got = sock.recv_into(view, min(n, len(view)))
            if got == 0:
                raise EOFError
            n -= got


def sink_serve(sock):
    conn = Conn(sock)
    try:
        while True:
            head = conn.read_head()
            lines = head.split(b"\r\n")
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                headers[k.strip().lower()] = v.strip().lower()
            t0 = time.perf_counter()
            if headers.get(b"expect") == b"100-continue":
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            total = 0
            if b"chunked" in headers.get(b"transfer-encoding", b""):
                while True:
                    size = int(conn.read_line().split(b";")[0], 16)
                    if size == 0:
                        while conn.read_line():  # trailers up to the empty line
                            pass
                        break
                    conn.skip(size)
                    total += size
                    if conn.read_line():
                        raise ValueError("bad chunk end")
            else:
                total = int(headers.get(b"content-length", b"0"))
                conn.skip(total)
            close = headers.get(b"connection") == b"close" or lines[0].endswith(b"HTTP/1.0")
            sock.sendall(b"HTTP/1.1 204 No Content\r\nX-Body-Bytes: %d\r\nX-Body-Seconds: %.6f\r\n"
                         b"%s\r\n" % (total, time.perf_counter() - t0,
                                      b"Connection: close\r\n" if close else b""))
            if close:
                return
    except (EOFError, ValueError, OSError):
        pass
    finally:
        conn.close_pipes()
        sock.close()


def sink_accept(listener):
    while True:
        try:
            s, _ = listener.accept()
        except OSError:
            return
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=sink_serve, args=(s,), daemon=True).start()


# ---- echo (asyncio: many listeners, bodies derived from the request) ----

ECHO_MAX_SIZE = 16 << 20


def echo_line(token, port):
    """The line every echo body is made of (token: bytes)."""
    return b"%s %d\n" % (token, port)


def echo_body(token, port, size=None):
    """What GET /echo/TOKEN?size=SIZE answers on PORT (POST: echo_line() + the body)."""
    line = echo_line(token, port)
    if size is None:
        return line
    return (line * (size // len(line) + 1))[:size]


async def echo_read_body(reader, headers):
    if b"chunked" in headers.get(b"transfer-encoding", b""):
        parts = []
        total = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            total += size
            if total > ECHO_MAX_SIZE:
                raise ValueError("body too large")
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get(b"content-length", b"0"))
    if length > ECHO_MAX_SIZE:
        raise ValueError("body too large")
    return await reader.readexactly(length) if length else b""


async def echo_handle(reader, writer, port):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].split(b"\r\n")
            method, target, version = lines[0].split(b" ", 2)
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                headers[k.strip().lower()] = v.strip().lower()
            if headers.get(b"expect") == b"100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await echo_read_body(reader, headers)
            path, _, query = target.partition(b"?")
            size = None
            for kv in query.split(b"&"):
                k, _, v = kv.partition(b"=")
                if k == b"size" and v.isdigit() and int(v) <= ECHO_MAX_SIZE:
                    size = int(v)
            status = b"200 OK"
            if path.startswith(b"/echo/") and len(path) > 6 and method == b"GET":
                out = echo_body(path[6:], port, size)
            elif path.startswith(b"/echo/") and len(path) > 6 and method == b"POST":
                out = echo_line(path[6:], port) + body
            else:
                status, out = b"404 Not Found", b"no such echo\n"
            close = headers.get(b"connection") == b"close" or version == b"HTTP/1.0"
            writer.write(b"HTTP/1.1 %s\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: %d\r\nX-Echo-Port: %d\r\n%s\r\n"
                         % (status, len(out), port, b"Connection: close\r\n" if close else b""))
            writer.write(out)
            await writer.drain()
            if close:
                return
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def echo_start(count):
    servers = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        servers.append(await asyncio.start_server(
            lambda r, w, port=port: echo_handle(r, w, port), sock=sock, backlog=1024,
            limit=HEAD_MAX))
    return servers


# ---- slow endpoint (asyncio: a thousand waiting connections cost little) ----

SLOW_BODY = b"slow\n"


async def slow_handle(reader, writer, delay):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(delay)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(SLOW_BODY), SLOW_BODY))
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main_async(args):
    loop = asyncio.get_running_loop()
    slow = await asyncio.start_server(lambda r, w: slow_handle(r, w, args.delay), "127.0.0.1", 0,
                                      backlog=4096)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    threading.Thread(target=sink_accept, args=(listener,), daemon=True).start()
    echo = await echo_start(args.echo_ports)
    print("slow=%d sink=%d%s" % (
        slow.sockets[0].getsockname()[1], listener.getsockname()[1],
        " echo=" + ",".join(str(e.sockets[0].getsockname()[1]) for e in echo) if echo else ""),
        flush=True)
    stdin_closed = loop.create_future()

    def watch_stdin():  # a thread: stdin may be a pipe, a file or /dev/null
        try:
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except OSError:
            pass
        loop.call_soon_threadsafe(lambda: stdin_closed.done() or stdin_closed.set_result(None))

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        await asyncio.wait_for(stdin_closed, args.max_seconds)
    except asyncio.TimeoutError:
        pass
    listener.close()
    slow.close()
    for e in echo:
        e.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--delay", type=float, default=1.0, help="seconds before each slow answer")
    p.add_argument("--max-seconds", type=float, default=3600, help="exit after this long")
    p.add_argument("--echo-ports", type=int, default=0, metavar="N",
                   help="also N echo listeners, one port each (bench/soak)")
    args = p.parse_args()
    raise_nofile()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
