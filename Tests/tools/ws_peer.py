"""A real WebSocket client (the `websockets` library) for the channel tests. Connects to argv[1] and prints
one JSON object per line as things happen:
  {"event": "open", "extensions": "permessage-deflate; ..."}
  {"event": "message", "data": "..."}            (binary data as {"binary": "<hex>"})
  {"event": "close", "code": 1001, "reason": "..."}
  {"event": "refused", "status": 403}             (the handshake was refused)
Options: --send TEXT (repeatable, sent in order after open), --expect N (close with 1000 after N messages),
--hold (stay until the server closes), --brief, --no-deflate, --origin URL, --header NAME:VALUE, --ping-interval S."""
import argparse
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


def out(obj):
    print(json.dumps(obj), flush=True)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--send", action="append", default=[])
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--hold", action="store_true")
    p.add_argument("--no-deflate", action="store_true")
    p.add_argument("--origin")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--brief", action="store_true", help="print each message's first 32 characters and its length")
    a = p.parse_args()
    kwargs = {"open_timeout": 10, "max_size": 64 << 20, "ping_interval": None}
    if a.no_deflate:
        kwargs["compression"] = None
    if a.origin:
        kwargs["origin"] = a.origin
    if a.header:
        kwargs["additional_headers"] = [tuple(h.split(":", 1)) for h in a.header]
    try:
        ws = await connect(a.url, **kwargs)
    except InvalidStatus as e:
        out({"event": "refused", "status": e.response.status_code})
        return
    out({"event": "open", "extensions": ws.response.headers.get("Sec-WebSocket-Extensions", "")})
    for text in a.send:
        await ws.send(text)
    received = 0
    try:
        while a.hold or received < a.expect:
            message = await asyncio.wait_for(ws.recv(), a.timeout)
            if isinstance(message, bytes):
                out({"event": "message", "binary": message.hex()})
            elif a.brief:
                out({"event": "message", "data": message[:32], "length": len(message)})
            else:
                out({"event": "message", "data": message})
            received += 1
        await ws.close(1000, "done")
    except ConnectionClosed:
        pass
    except asyncio.TimeoutError:
        out({"event": "timeout"})
        await ws.close(1000, "timeout")
    rcvd = ws.protocol.close_rcvd
    out({"event": "close", "code": rcvd.code if rcvd else None, "reason": rcvd.reason if rcvd else None})


asyncio.run(main())
