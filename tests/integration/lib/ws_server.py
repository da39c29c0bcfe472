#!/usr/bin/env python3
"""Local WebSocket service (python3-websockets, legacy asyncio API) used by
the WebSocket tests. It serves WebSockets and a plain HTTP page on one port.

Run as a separate process (Debian's python3, with python3-websockets):

    python3 ws_server.py [--port N]

It binds 127.0.0.1 (port 0 = ephemeral by default), prints the bound port
alone on the first line of stdout, then one line per event:

    REQ <path> <headers as JSON [[name, value], ...]>   every HTTP request
                                                        (upgrade or not)
    WS-OPEN <path>                                      handshake done
    PONG-RECEIVED <path>                                (/ping) the client
                                                        answered our ping
    WS-CLOSED <path> <code> <reason as JSON>            connection over

WebSocket paths (path before '?'):

  /close4002  waits for one message, then closes with 4002 "server-bye".
  /ping       pings the client, waits for its pong (logged), then echoes.
  /size       answers each message with its length, as text.
  (others)    echo: each message is sent back unchanged (text or binary).

Plain HTTP (process_request):

  /page       an HTML page whose script opens a WebSocket to /ws on the same
              origin, sends messages and writes the echoes into the DOM.
  /deny       403 with the body "denied by ws_server\\n", also for upgrade
              requests (the handshake is refused with an ordinary response).
  (others)    non-upgrade requests get websockets' own 426 answer.

Messages may be of any size (max_size=None); permessage-deflate is offered
by the server's defaults and used if the client asks for it.
"""

import argparse
import asyncio
import http
import json
import logging
import sys

import websockets

PAGE_HTML = """<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>ngrnotok websocket page</title></head>
<body>
<h1>WebSocket page</h1>
<div id="ws">waiting for websocket</div>
<div id="state">not opened</div>
<script>
var got = [];
var out = document.getElementById('ws');
var state = document.getElementById('state');
var ws = new WebSocket('ws://' + location.host + '/ws');
ws.binaryType = 'arraybuffer';
ws.onopen = function () {
  state.textContent = 'opened';
  ws.send('alpha');
  ws.send('beta-' + location.hostname);
  ws.send(new Uint8Array([1, 2, 3, 250]).buffer);
};
ws.onmessage = function (e) {
  if (typeof e.data === 'string')
    got.push('echo:' + e.data);
  else
    got.push('bin:' + Array.from(new Uint8Array(e.data)).join(','));
  if (got.length === 3) {
    out.textContent = got.join('|');
    ws.close(1000, 'page done');
  }
};
ws.onerror = function () { state.textContent = 'websocket error'; };
ws.onclose = function (e) { state.textContent += ' closed-' + e.code; };
</script>
</body>
</html>
"""


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def route(path):
    return path.split("?", 1)[0]


async def process_request(path, request_headers):
    emit("REQ %s %s" % (path, json.dumps([[k, v] for k, v in request_headers.raw_items()])))
    p = route(path)
    if p == "/page":
        return (http.HTTPStatus.OK, [("Content-Type", "text/html; charset=utf-8")],
                PAGE_HTML.encode())
    if p == "/deny":
        return (http.HTTPStatus.FORBIDDEN, [("Content-Type", "text/plain")],
                b"denied by ws_server\n")
    return None


async def echo(ws):
    async for msg in ws:
        await ws.send(msg)


async def handler(ws):
    path = ws.path
    p = route(path)
    emit("WS-OPEN %s" % path)
    try:
        if p == "/close4002":
            await ws.recv()
            await ws.close(4002, "server-bye")
        elif p == "/ping":
            pong = await ws.ping(b"ping from ws_server")
            await asyncio.wait_for(pong, 30)
            emit("PONG-RECEIVED %s" % path)
            await echo(ws)
        elif p == "/size":
            async for msg in ws:
                await ws.send(str(len(msg)))
        else:
            await echo(ws)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    emit("WS-CLOSED %s %s %s" % (path, ws.close_code, json.dumps(ws.close_reason)))


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    # websockets' own errors (e.g. a failed handshake) go to stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="ws_server %(levelname)s %(name)s: %(message)s")
    async with websockets.serve(handler, "127.0.0.1", args.port, process_request=process_request,
                                max_size=None, ping_interval=None, backlog=1024) as server:
        emit(str(list(server.sockets)[0].getsockname()[1]))
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
