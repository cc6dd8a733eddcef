#!/usr/bin/env python3
"""A hostile participant, for the abuse test (Tests/EndToEndTests/AbuseTests.swift).

While a good consultation runs through the relay, it does every documented kind of harm at once
and records what the relay answered, so the Swift test can check each refusal and counted drop:

  hoard     opens --hoard WebSocket connections that never send `join` (HTTP refusals at the
            upgrade, or close codes when the join deadline fires, are counted by kind)
  echo      floods POST /v1/echo with a real SDP offer and no token (status codes counted)
  nack      joins the consultation's room as an expert with aiortc, and once it receives the
            cart's video, sends NACKs listing 8,000 sequence numbers (two datagrams of 4,000, as
            one MTU holds about 5,900), --nack-rate times a second
  stun      sends ICE connectivity checks that authenticate (its own subscribe transport's
            credentials, read from the relay's offer) from --stun-ports distinct source ports
  sdp       publishes offers whose `mid` and `fmtp` carry control characters (error codes counted)

Prints one JSON report; exit 0 when every action ran (the Swift test judges the figures), 2 on a
setup error.
"""

import argparse
import asyncio
import json
import os
import random
import re
import resource
import select
import socket
import sys
import time
import urllib.error
import urllib.request

import websockets
from aioice import stun

sys.path.insert(0, os.path.dirname(__file__))
from aiortc_room import Peer, offer_only_loopback  # noqa: E402


def raise_file_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def hoard(url, count, wait):
    """Opens `count` WebSocket connections that never join; waits up to `wait` seconds for the relay
    to close the ones it accepted."""
    refused = {}
    accepted = []

    async def one():
        try:
            ws = await websockets.connect(url, open_timeout=10)
        except websockets.exceptions.InvalidStatus as error:
            key = str(error.response.status_code)
            refused[key] = refused.get(key, 0) + 1
            return
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as error:
            key = type(error).__name__
            refused[key] = refused.get(key, 0) + 1
            return
        accepted.append(ws)

    for start in range(0, count, 100):
        await asyncio.gather(*(one() for _ in range(min(100, count - start))))
    closes = {}

    async def until_closed(ws):
        try:
            while True:
                await ws.recv()  # the relay sends nothing before join; anything is a close or an error
        except websockets.ConnectionClosed as closed:
            key = str(closed.rcvd.code) if closed.rcvd else "no_close_frame"
            closes[key] = closes.get(key, 0) + 1

    pending = [asyncio.ensure_future(until_closed(ws)) for ws in accepted]
    if pending:
        await asyncio.wait(pending, timeout=wait)
    still_open = sum(1 for task in pending if not task.done())
    for task in pending:
        task.cancel()
    for ws in accepted:
        ws.transport.abort()
    return {"attempted": count, "accepted": len(accepted), "refused": refused, "closed": closes, "still_open": still_open}


async def flood_echo(http_base, offer, count):
    """POSTs a real offer to /v1/echo without a token, `count` times, 20 at a time."""
    statuses = {}

    def post():
        request = urllib.request.Request(http_base + "/v1/echo", data=offer.encode(), method="POST",
                                         headers={"Content-Type": "application/sdp"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return str(response.status)
        except urllib.error.HTTPError as error:
            return str(error.code)
        except OSError as error:
            return type(error).__name__

    loop = asyncio.get_running_loop()
    for start in range(0, count, 20):
        results = await asyncio.gather(*(loop.run_in_executor(None, post) for _ in range(min(20, count - start))))
        for status in results:
            statuses[status] = statuses.get(status, 0) + 1
    return statuses


async def flood_nacks(peer, rate, duration):
    """NACKs listing 8,000 sequence numbers ending at the newest one received (so most of them
    name packets still in the relay's retransmission cache), `rate` times a second."""
    receiver = next(t.receiver for t in peer.sub.getTransceivers() if t.kind == "video")
    stats = await receiver.getStats()
    media_ssrc = next(s.ssrc for s in stats.values() if getattr(s, "type", "") == "inbound-rtp")
    streams = receiver._RTCRtpReceiver__remote_streams  # aiortc's receive statistics: the newest number
    sent = 0
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        newest = streams[media_ssrc].max_seq if media_ssrc in streams else random.randrange(65536)
        numbers = [(newest - 7999 + i) % 65536 for i in range(8000)]
        # aiortc packs a NACK in ascending order without wrapping, and 8,000 numbers take about
        # 1,900 bytes of FCI: send them as ascending runs of at most 4,000 (two or three datagrams).
        runs, run = [], [numbers[0]]
        for n in numbers[1:]:
            if n < run[-1] or len(run) == 4000:
                runs.append(run)
                run = []
            run.append(n)
        runs.append(run)
        for run in runs:
            await receiver._send_rtcp_nack(media_ssrc, run)
        sent += 1
        await asyncio.sleep(1 / rate)
    return sent


def relay_candidate_and_credentials(offer_sdp):
    ufrag = re.search(r"(?m)^a=ice-ufrag:(\S+)", offer_sdp).group(1)
    pwd = re.search(r"(?m)^a=ice-pwd:(\S+)", offer_sdp).group(1)
    candidate = re.search(r"(?mi)^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host", offer_sdp)
    return (candidate.group(1), int(candidate.group(2))), ufrag, pwd


def flood_stun(address, relay_ufrag, relay_pwd, own_ufrag, ports):
    """Authenticated binding requests (RFC 8445 §7.2.2) from `ports` distinct source ports, 250 sockets
    at a time; counts the success responses that came back."""
    sent = answered = 0
    for start in range(0, ports, 250):
        sockets = []
        for _ in range(min(250, ports - start)):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            message = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
            message.attributes["USERNAME"] = f"{relay_ufrag}:{own_ufrag}"
            message.attributes["PRIORITY"] = 1853817087
            message.attributes["ICE-CONTROLLING"] = random.getrandbits(64)
            message.add_message_integrity(relay_pwd.encode())
            message.add_fingerprint()
            s.sendto(bytes(message), address)
            sent += 1
            sockets.append(s)
        # Collect this batch's answers for up to a second, then move on.
        waiting = set(sockets)
        deadline = time.monotonic() + 1.0
        while waiting and time.monotonic() < deadline:
            readable, _, _ = select.select(list(waiting), [], [], 0.1)
            for s in readable:
                waiting.discard(s)
                try:
                    if stun.parse_message(s.recv(2048)).message_class == stun.Class.RESPONSE:
                        answered += 1
                except (OSError, ValueError):
                    pass
        for s in sockets:
            s.close()
    return {"sent": sent, "answered": answered}


def control_character_offers(sdp):
    """The hostile's own publish offer, twice spoiled: a control character in `mid`, then a CR in `fmtp`."""
    bad_mid = re.sub(r"(?m)^a=mid:(\S+)", lambda m: f"a=mid:{m.group(1)}\x01x", sdp, count=1)
    bad_fmtp = re.sub(r"(?m)^(a=fmtp:\d+ )", lambda m: m.group(1) + "x=1\ra=injected:1;", sdp, count=1)
    if bad_fmtp == sdp:  # no fmtp line in the offer: add one to the first section
        bad_fmtp = re.sub(r"(?m)^(a=rtpmap:(\d+) .*)$", lambda m: f"{m.group(1)}\r\na=fmtp:{m.group(2)} x=1\ra=injected:1",
                          sdp, count=1)
    return [bad_mid, bad_fmtp]


async def errors_after(peer, start_index, count, timeout):
    await peer.wait_for(lambda: len(peer.received("error")) >= start_index + count, timeout)
    return [m.get("code") for m in peer.received("error")[start_index:]]


async def run(args):
    raise_file_limit()
    report = {}
    peer = Peer("hostile", args.url, args.room, args.token)
    await peer.join()
    if not await peer.wait_for(lambda: len(peer.video_pts) >= 5, 20):
        return {"error": "the hostile expert received no video from the cart"}
    offer_sdp = next(m["sdp"] for _, m in peer.messages if m.get("type") == "offer")
    address, ufrag, pwd = relay_candidate_and_credentials(offer_sdp)
    own_ufrag = re.search(r"(?m)^a=ice-ufrag:(\S+)", peer.sub.localDescription.sdp).group(1)
    started = time.monotonic()

    # Everything at once: the consultation must not notice.
    nack_task = asyncio.ensure_future(flood_nacks(peer, args.nack_rate, args.nack_seconds))
    hoard_task = asyncio.ensure_future(hoard(args.url, args.hoard, args.hoard_wait))
    loop = asyncio.get_running_loop()
    stun_task = loop.run_in_executor(None, flood_stun, address, ufrag, pwd, own_ufrag, args.stun_ports)
    echo_task = asyncio.ensure_future(flood_echo(args.http, args.echo_offer_text, args.echo))

    # Control characters in what a publisher would have copied into others' offers.
    from aiortc import RTCPeerConnection
    from aiortc_echo import PatternTrack
    pc = RTCPeerConnection()
    pc.addTransceiver(PatternTrack(160, 120), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    before = len(peer.received("error"))
    for i, spoiled in enumerate(control_character_offers(pc.localDescription.sdp)):
        await peer.send({"type": "offer", "target": "publish", "sdp": spoiled, "requestId": f"spoiled-{i}"})
    report["sdp_error_codes"] = await errors_after(peer, before, 2, 10)
    await pc.close()

    report["nack_compounds_sent"] = await nack_task
    report["hoard"] = await hoard_task
    report["stun"] = await stun_task
    report["echo_statuses"] = await echo_task
    report["hostile_seconds"] = round(time.monotonic() - started, 2)
    report["hostile_still_joined"] = not peer.received("left")
    await peer.leave()
    await peer.close()
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/v1/signaling")
    parser.add_argument("--http", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--room", required=True)
    parser.add_argument("--token", required=True, help="an expert token for the consultation's room")
    parser.add_argument("--echo-offer", required=True, help="a file holding a real SDP offer")
    parser.add_argument("--hoard", type=int, default=1000)
    parser.add_argument("--hoard-wait", type=float, default=20)
    parser.add_argument("--echo", type=int, default=400)
    parser.add_argument("--nack-rate", type=float, default=50)
    parser.add_argument("--nack-seconds", type=float, default=8)
    parser.add_argument("--stun-ports", type=int, default=5000)
    args = parser.parse_args()
    with open(args.echo_offer) as f:
        args.echo_offer_text = f.read()
    offer_only_loopback()
    try:
        report = asyncio.run(run(args))
    except Exception as error:
        import traceback
        traceback.print_exc()
        print(json.dumps({"error": repr(error)}))
        sys.exit(2)
    print(json.dumps(report))
    sys.exit(2 if "error" in report else 0)


if __name__ == "__main__":
    main()
