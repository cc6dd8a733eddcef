#!/usr/bin/env python3
"""A minimal signaling client for process-level tests: joins a room, prints `joined` on its own
line once in, then records every server message until the server closes the connection, and
prints one JSON line: {"messages": [...], "close_code": N}. Exit 0 when closed by the server."""

import argparse
import asyncio
import json
import sys

import websockets


async def run(args):
    messages = []
    async with websockets.connect(args.url) as ws:
        await ws.send(json.dumps({"type": "join", "room": args.room, "token": args.token}))
        try:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), args.timeout))
                messages.append(message)
                if message.get("type") == "joined":
                    print("joined", flush=True)
        except websockets.ConnectionClosed as closed:
            print(json.dumps({"messages": messages, "close_code": closed.rcvd.code if closed.rcvd else None}), flush=True)
            return 0
        except asyncio.TimeoutError:
            print(json.dumps({"messages": messages, "close_code": None}), flush=True)
            return 1


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--timeout", type=float, default=30)
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
