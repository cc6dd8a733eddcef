#!/usr/bin/env python3
"""Replays Signaling/transcripts against a live relais-server (format: transcripts/README.md).

    python3 Signaling/replay.py --url ws://127.0.0.1:8088/v1/signaling --secret SECRET transcripts/*.jsonl

SECRET is the server's HS256 token secret (`relais-server --token-secret`, or the development one
in ~/.relais/dev-token-secret). Every server message is validated against Signaling/schemas.
Exit 0 when every transcript passed, 1 otherwise; one line per transcript, failures explained.
A cart vendor can run the same transcripts against a server of its own to check its client's
expectations, and the Relais tests run them against the real server.
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from validate import load_validators, validate_message  # noqa: E402

TIMEOUT = 5.0


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(secret, role, room, name, offset=0):
    """An HS256 JWT (RFC 7519) with Relais claims; `offset` moves iat/exp (expired tokens)."""
    now = int(time.time()) + offset
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": name.lower().replace(" ", "-"), "name": name, "role": role, "room": room,
              "iat": now, "exp": now + 3600, "iss": "relais"}
    payload = b64url(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


class Failure(Exception):
    pass


class Replayer:
    def __init__(self, url, secret, transcript_dir, validators):
        self.url, self.secret, self.dir, self.validators = url, secret, transcript_dir, validators
        self.connections = {}
        self.captures = {}
        self.nonce = 0

    def substitute(self, value):
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
            kind, _, rest = value[1:-1].partition(":")
            if kind in ("token", "expired-token", "forged-token"):
                role, room, name = rest.split(":", 2)
                if kind == "token":
                    return mint(self.secret, role, room, name)
                if kind == "expired-token":
                    return mint(self.secret, role, room, name, offset=-7200)
                return mint("another-secret-that-is-long-enough-0123456789", role, room, name)
            if kind == "sdp":
                with open(os.path.join(self.dir, "sdp", rest + ".sdp"), newline="") as f:
                    return f.read()
            if kind == "captured":
                if rest not in self.captures:
                    raise Failure(f"{value}: nothing captured under {rest!r}")
                return self.captures[rest]
        return value

    def match(self, expected, actual, path="$"):
        if isinstance(expected, str) and expected == "<any>":
            return
        if isinstance(expected, str) and expected.startswith("<capture:"):
            self.captures[expected[9:-1]] = actual
            return
        if isinstance(expected, str) and expected.startswith("<captured:"):
            name = expected[10:-1]
            if self.captures.get(name) != actual:
                raise Failure(f"{path}: expected captured {name}={self.captures.get(name)!r}, got {actual!r}")
            return
        if isinstance(expected, dict):
            if not isinstance(actual, dict):
                raise Failure(f"{path}: expected an object, got {actual!r}")
            for key, value in expected.items():
                if key not in actual:
                    raise Failure(f"{path}: missing member {key!r} in {json.dumps(actual)[:300]}")
                self.match(value, actual[key], f"{path}.{key}")
            return
        if isinstance(expected, list):
            if not isinstance(actual, list) or len(actual) != len(expected):
                raise Failure(f"{path}: expected {len(expected)} elements, got {actual!r}")
            for i, (e, a) in enumerate(zip(expected, actual)):
                self.match(e, a, f"{path}[{i}]")
            return
        if expected != actual:
            raise Failure(f"{path}: expected {expected!r}, got {actual!r}")

    async def connection(self, name):
        if name not in self.connections:
            self.connections[name] = await websockets.connect(self.url, max_size=2**22)
        return self.connections[name]

    async def receive(self, ws):
        text = await asyncio.wait_for(ws.recv(), TIMEOUT)
        message = json.loads(text)
        errors = validate_message("server", message, self.validators)
        if errors:
            raise Failure(f"server message violates its schema: {errors}: {text[:300]}")
        return message

    async def run_line(self, number, line):
        ws = await self.connection(line["client"])
        if "send" in line:
            await ws.send(json.dumps(self.substitute(line["send"])))
        elif "sendRaw" in line:
            await ws.send(line["sendRaw"])
        elif "sendOversize" in line:
            size = line["sendOversize"]
            head = '{"type":"ping","padding":"'
            await ws.send(head + "x" * (size - len(head) - 2) + '"}')
        elif "expect" in line:
            try:
                message = await self.receive(ws)
            except websockets.ConnectionClosed as closed:
                raise Failure(f"connection closed ({closed.rcvd.code if closed.rcvd else None}) instead of {line['expect']}")
            except asyncio.TimeoutError:
                raise Failure(f"no message within {TIMEOUT} s; expected {line['expect']}")
            self.match(line["expect"], message)
        elif "expectClose" in line:
            try:
                message = await asyncio.wait_for(ws.recv(), TIMEOUT)
                raise Failure(f"expected close {line['expectClose']}, got message {message[:200]}")
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                if code != line["expectClose"]:
                    raise Failure(f"expected close {line['expectClose']}, got {code}")
            except asyncio.TimeoutError:
                raise Failure(f"connection still open after {TIMEOUT} s; expected close {line['expectClose']}")
        elif "expectNothing" in line:
            self.nonce += 1
            request = f"nothing-{self.nonce}"
            await ws.send(json.dumps({"type": "ping", "requestId": request}))
            message = await self.receive(ws)
            if message.get("type") != "pong" or message.get("requestId") != request:
                raise Failure(f"unexpected message pending: {json.dumps(message)[:300]}")
        else:
            raise Failure("line has no action")

    async def replay(self, path):
        with open(path) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        try:
            for number, line in enumerate(lines, 1):
                try:
                    await self.run_line(number, line)
                except Failure as failure:
                    raise Failure(f"line {number} ({line['client']}): {failure}")
        finally:
            for ws in self.connections.values():
                await ws.close()


async def main_async(args):
    validators = load_validators()
    failed = 0
    for path in args.transcripts:
        replayer = Replayer(args.url, args.secret, os.path.dirname(os.path.abspath(path)), validators)
        try:
            await replayer.replay(path)
            print(f"PASS {os.path.basename(path)}")
        except Exception as error:  # noqa: BLE001 - report and go on with the next transcript
            failed += 1
            print(f"FAIL {os.path.basename(path)}: {error}")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("transcripts", nargs="+")
    args = parser.parse_args()
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
