"""The reference for bench/websocket.sh: the `websockets` library's own server (asyncio) with Meridian's channel
semantics on one instance. A connection to /ws/<channel> joins the channel; every text or binary message it sends
goes to every connection of the channel, the sender included (websockets.broadcast: written at once to each
connection, or skipped for one whose write buffer is over its high-water mark, as a slow client). No compression,
no Redis. Usage: ws_reference.py HOST PORT; prints "ready" once listening.
"""
import asyncio
import sys

from websockets.asyncio.server import broadcast, serve

channels: dict[str, set] = {}


async def handler(ws):
    path = ws.request.path
    if not path.startswith("/ws/") or len(path) == 4:
        await ws.close(1008, "use /ws/<channel>")
        return
    members = channels.setdefault(path[4:], set())
    members.add(ws)
    try:
        async for message in ws:
            broadcast(members, message)
    finally:
        members.discard(ws)
        if not members:
            channels.pop(path[4:], None)


async def main():
    host, port = sys.argv[1], int(sys.argv[2])
    # No per-connection message-size or queue surprises: the same 1 MiB limit as Meridian's default, no pings during a run.
    async with serve(handler, host, port, compression=None, max_size=1 << 20, ping_interval=None, backlog=4096):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
