#!/usr/bin/env python3
"""A small web application for the browser tests: one page whose script uses fetch(), an
EventSource and a WebSocket, all on the page's own origin, and writes what each brought into
the DOM. Standard library only (the WebSocket side is a few lines of RFC 6455).

    python3 web_app.py [--port N] [--tag TAG]

It binds 127.0.0.1 (port 0 = ephemeral by default), prints the bound port alone on the first
line of stdout, then one line per event:

    REQ <method> <path> <headers as JSON [[name, value], ...]>   every request
    SSE-SENT <page> <n>          event n of the stream went out
    WS-MSG <text as JSON>        a WebSocket text message arrived (and was echoed)

Routes (path before '?'):

  /             the page. Its script, with a random page id P:
                  fetch('/api/data')       -> #fetch "fetch:TAG:42:HOST"
                  EventSource('/events?page=P')
                                           -> #sse "sse:one,two,three", acking each event
                                              with fetch('/api/ack?page=P&n=N')
                  WebSocket('/ws')         -> #ws "ws:echo:alpha|echo:beta-HOSTNAME"
                and #state "done" when all three are in.
  /api/data     JSON {"tag", "answer": 42, "host", "x_forwarded_for"}.
  /api/ack      marks event n of page P as received.
  /events       text/event-stream, chunked: event n+1 is sent only once the page acked
                event n (within 20 s), so each event reached the browser on its own, while
                the response was still open: nothing on the way buffered it.
  /ws           WebSocket: each text message comes back as "echo:" + message.
"""

import argparse
import base64
import hashlib
import json
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EVENTS = ("one", "two", "three")
ACK_TIMEOUT = 20.0
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

PAGE_HTML = """<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>ngrnotok web app</title></head>
<body>
<h1>Web app through a tunnel</h1>
<p id="fetch">fetch: waiting</p>
<p id="sse">sse: waiting</p>
<p id="ws">ws: waiting</p>
<p id="state">waiting</p>
<script>
var page = Math.random().toString(36).slice(2);
var done = {fetch: false, sse: false, ws: false};
function finish(what) {
  done[what] = true;
  if (done.fetch && done.sse && done.ws)
    document.getElementById('state').textContent = 'done';
}
function show(id, text) { document.getElementById(id).textContent = text; }

fetch('/api/data?from=page').then(function (r) { return r.json(); }).then(function (j) {
  show('fetch', 'fetch:' + j.tag + ':' + j.answer + ':' + j.host);
  finish('fetch');
}).catch(function (e) { show('fetch', 'fetch error: ' + e); });

var got = [];
var es = new EventSource('/events?page=' + page);
es.onmessage = function (e) {
  got.push(e.data);
  show('sse', 'sse:' + got.join(','));
  fetch('/api/ack?page=' + page + '&n=' + got.length);
  if (got.length === %(nevents)d) {
    es.close();
    finish('sse');
  }
};
es.onerror = function () { if (!done.sse) show('sse', 'sse error after ' + got.join(',')); };

var echoes = [];
var ws = new WebSocket('ws://' + location.host + '/ws');
ws.onopen = function () { ws.send('alpha'); ws.send('beta-' + location.hostname); };
ws.onmessage = function (e) {
  echoes.push(e.data);
  show('ws', 'ws:' + echoes.join('|'));
  if (echoes.length === 2) {
    ws.close(1000, 'page done');
    finish('ws');
  }
};
ws.onerror = function () { show('ws', 'ws error after ' + echoes.join('|')); };
</script>
</body>
</html>
""" % {"nevents": len(EVENTS)}

_acks = {}          # page -> highest n acked
_acks_cond = threading.Condition()
_out_lock = threading.Lock()


def emit(line):
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def query(path):
    out = {}
    for part in path.partition("?")[2].split("&"):
        k, _, v = part.partition("=")
        if k:
            out[k] = v
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tag = "web-app"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        emit("REQ %s %s %s" % (self.command, self.path, json.dumps(list(self.headers.items()))))
        route = self.path.partition("?")[0]
        if route == "/":
            self.send_body(200, "text/html; charset=utf-8", PAGE_HTML.encode())
        elif route == "/api/data":
            body = {"tag": self.tag, "answer": 42, "host": self.headers.get("Host", ""),
                    "x_forwarded_for": self.headers.get("X-Forwarded-For")}
            self.send_body(200, "application/json", json.dumps(body).encode())
        elif route == "/api/ack":
            q = query(self.path)
            with _acks_cond:
                n = int(q.get("n", "0"))
                _acks[q.get("page", "")] = max(n, _acks.get(q.get("page", ""), 0))
                _acks_cond.notify_all()
            self.send_body(200, "text/plain", b"ok\n")
        elif route == "/events":
            self.events(query(self.path).get("page", ""))
        elif route == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self.websocket()
        else:
            self.send_body(404, "text/plain", b"no such page in web_app\n")

    # -- server-sent events ----------------------------------------------------------------
    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def events(self, page):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # A reconnecting EventSource would repeat the events: it is told to wait long.
        self.chunk(b"retry: 60000\n\n")
        for n, name in enumerate(EVENTS, 1):
            self.chunk(b"data: %s\n\n" % name.encode())
            emit("SSE-SENT %s %d" % (page, n))
            with _acks_cond:
                if not _acks_cond.wait_for(lambda: _acks.get(page, 0) >= n, ACK_TIMEOUT):
                    emit("SSE-NO-ACK %s %d" % (page, n))
                    break
        self.chunk(b"")
        self.close_connection = True

    # -- WebSocket (RFC 6455, text messages of one frame) ----------------------------------
    def read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise EOFError
        return data

    def send_frame(self, opcode, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        self.wfile.write(head + payload)

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.close_connection = True
        try:
            while True:
                b0, b1 = self.read_exact(2)
                opcode, n = b0 & 0x0F, b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", self.read_exact(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", self.read_exact(8))[0]
                mask = self.read_exact(4) if b1 & 0x80 else b"\0\0\0\0"
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(self.read_exact(n)))
                if opcode == 0x1:
                    text = payload.decode("utf-8", "replace")
                    emit("WS-MSG %s" % json.dumps(text))
                    self.send_frame(0x1, ("echo:" + text).encode())
                elif opcode == 0x9:
                    self.send_frame(0xA, payload)
                elif opcode == 0x8:
                    self.send_frame(0x8, payload[:2])
                    return
        except (EOFError, OSError):
            return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tag", default="web-app")
    args = ap.parse_args()
    Handler.tag = args.tag
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    emit(str(srv.server_address[1]))
    srv.serve_forever()


if __name__ == "__main__":
    main()
