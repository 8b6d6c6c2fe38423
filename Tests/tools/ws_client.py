"""A real WebSocket client (the `websockets` library): connects to argv[1], sends each further
argument as a text message, prints each echo on its own line, closes cleanly."""
import asyncio
import sys

from websockets.asyncio.client import connect


async def main():
    async with connect(sys.argv[1], open_timeout=10) as ws:
        for text in sys.argv[2:]:
            await ws.send(text)
            print(await asyncio.wait_for(ws.recv(), 10), flush=True)


asyncio.run(main())
