#!/usr/bin/env python3
"""Local raw TCP service used by the TCP tunnel tests.

Run as a separate process:

    python3 tcp_service.py --mode MODE [--tag TAG] [--port N]

It binds 127.0.0.1 (port 0 = ephemeral by default), prints the bound port
alone on the first line of stdout, then one line per event:

    CONN <n>                          connection n accepted
    EOF <n> <bytes> <sha256>          connection n: the peer shut down its
                                      write side; what it had sent in total
    CLOSED <n>                        connection n closed by this service

Modes (one per process):

  echo          every byte received is sent back as it arrives; at EOF the
                service shuts down its own write side and closes.
  reply-at-eof  reads everything until EOF, then sends one line
                "<tag> got <bytes> <sha256>\\n" and closes (a public client
                must half-close to get its answer).
  shut-first    sends "<tag> hello\\n", shuts down its write side at once,
                then reads until EOF (the peer can still send after the
                service's FIN).
  http          a bare HTTP/1.1 service for the keep-alive tests: answers each
                request (a head, no body) with 200 and the body "conn <n> req <k>",
                never saying "Connection: close", and closes the connection
                after --requests answers (0: never). Each --head-line is added to
                every response head as given (one starting with a blank is an
                obs-fold). --interim sends a 103 Early Hints head, with a Link
                field, before each answer. Prints "REQ <n> <k>".
                With --hold (any mode) the service listens with a backlog of 0
                and accepts nothing until it gets SIGUSR1, so connections to it
                hang in the kernel; it prints "HOLDING", then "ACCEPTING".
"""

import argparse
import hashlib
import signal
import socket
import sys
import threading

_print_lock = threading.Lock()


def emit(line):
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def read_all(conn, h, on_data=None):
    """Read until EOF, hashing; returns the byte count."""
    total = 0
    while True:
        d = conn.recv(256 * 1024)
        if not d:
            return total
        h.update(d)
        total += len(d)
        if on_data is not None:
            on_data(d)


def serve_http(conn, n, per_conn, head_lines, interim=False):
    """The http mode: requests have no body (the tests send GETs)."""
    pending = b""
    k = 0
    while per_conn == 0 or k < per_conn:
        while b"\r\n\r\n" not in pending:
            d = conn.recv(65536)
            if not d:
                return
            pending += d
        pending = pending.split(b"\r\n\r\n", 1)[1]
        k += 1
        emit("REQ %d %d" % (n, k))
        body = ("conn %d req %d" % (n, k)).encode()
        if interim:
            conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        extra = "".join(line + "\r\n" for line in head_lines).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + extra +
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)


def serve_conn(conn, n, mode, tag, per_conn=0, head_lines=(), interim=False):
    h = hashlib.sha256()
    try:
        if mode == "http":
            serve_http(conn, n, per_conn, head_lines, interim)
        elif mode == "echo":
            total = read_all(conn, h, conn.sendall)
            emit("EOF %d %d %s" % (n, total, h.hexdigest()))
            conn.shutdown(socket.SHUT_WR)
        elif mode == "reply-at-eof":
            total = read_all(conn, h)
            emit("EOF %d %d %s" % (n, total, h.hexdigest()))
            conn.sendall(("%s got %d %s\n" % (tag, total, h.hexdigest())).encode())
        elif mode == "shut-first":
            conn.sendall(("%s hello\n" % tag).encode())
            conn.shutdown(socket.SHUT_WR)
            total = read_all(conn, h)
            emit("EOF %d %d %s" % (n, total, h.hexdigest()))
    except OSError as e:
        emit("ERROR %d %s" % (n, e))
    finally:
        conn.close()
        emit("CLOSED %d" % n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("echo", "reply-at-eof", "shut-first", "http"),
                    default="echo")
    ap.add_argument("--requests", type=int, default=0,
                    help="http mode: close a connection after this many answers (0: never)")
    ap.add_argument("--head-line", action="append", default=[],
                    help="http mode: a line to add to every response head")
    ap.add_argument("--interim", action="store_true",
                    help="http mode: a 103 head before every answer")
    ap.add_argument("--hold", action="store_true",
                    help="accept nothing until SIGUSR1 (backlog 0)")
    ap.add_argument("--tag", default="tcp-service")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(0 if args.hold else 1024)
    emit(str(srv.getsockname()[1]))
    if args.hold:
        go = threading.Event()
        signal.signal(signal.SIGUSR1, lambda *_: go.set())
        emit("HOLDING")
        while not go.wait(0.05):
            pass
        emit("ACCEPTING")
    n = 0
    while True:
        conn, _ = srv.accept()
        n += 1
        emit("CONN %d" % n)
        threading.Thread(target=serve_conn, args=(conn, n, args.mode, args.tag, args.requests,
                                                      args.head_line, args.interim),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
