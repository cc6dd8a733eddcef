#!/usr/bin/env python3
"""Real WebRTC peers (aiortc) in a Relais consultation room, through the WebSocket signaling.

One asyncio process runs a scenario with several independent aiortc peers, each with its own
WebSocket and peer connections, exactly as separate carts and experts would:

  consultation  a cart publishes VP8 + Opus; two experts receive (one behind a UDP impairment proxy
                dropping --loss of media datagrams each way); a third expert joins late and is timed
                from its first subscribe offer to its first decoded frame; meanwhile a troublemaker in
                the same room sends invalid JSON, unknown types, schema violations, a flood, an
                oversize frame, and a bad token, and records the error codes it gets.
  presence      a cart publishes; an observer watches the room; "rover" loses its WebSocket and
                resumes; "ghost" vanishes (WebSocket and media both go silent) and must be removed
                when its ICE consent expires.

Every message the server sends is validated against Signaling/schemas. Prints one JSON report;
exit 0 when the run completed (the Swift test judges the figures), 2 on a setup error.
"""

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time

import aioice.ice
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from aiortc.rtcrtpsender import RTCRtpSender

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "Signaling"))
from validate import load_validators, validate_message  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from aiortc_echo import PatternTrack, ToneTrack  # noqa: E402

VALIDATORS = load_validators()
VIDEO_STEP = 3000  # aiortc paces video at 30 fps on a 90 kHz clock


def offer_only_loopback():
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


class ImpairmentProxy(asyncio.DatagramProtocol):
    """UDP proxy between one peer and the relay that drops a share of media datagrams (RTP and
    RTCP, first byte 128-191) in both directions; STUN and DTLS pass, so setup is deterministic.
    `blackhole` drops everything, to make a peer vanish."""

    def __init__(self, loss, seed):
        self.loss = loss
        self.random = random.Random(seed)
        self.client = None
        self.upstream = None
        self.server = None
        self.blackhole = False
        self.dropped = 0
        self.passed = 0

    def connection_made(self, transport):
        self.transport = transport

    def drop(self, data):
        if self.blackhole:
            return True
        return 128 <= data[0] <= 191 and self.random.random() < self.loss

    def datagram_received(self, data, addr):
        self.client = addr
        if self.drop(data):
            self.dropped += 1
            return
        self.passed += 1
        self.upstream.transport.sendto(data, self.server)

    def from_server(self, data):
        if self.client is None:
            return
        if self.drop(data):
            self.dropped += 1
            return
        self.passed += 1
        self.transport.sendto(data, self.client)


class Upstream(asyncio.DatagramProtocol):
    def __init__(self, proxy):
        self.proxy = proxy

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.proxy.from_server(data)


async def start_proxy(loss, seed):
    loop = asyncio.get_running_loop()
    proxy = ImpairmentProxy(loss, seed)
    await loop.create_datagram_endpoint(lambda: proxy, local_addr=("127.0.0.1", 0))
    upstream = Upstream(proxy)
    await loop.create_datagram_endpoint(lambda: upstream, local_addr=("127.0.0.1", 0))
    proxy.upstream = upstream
    return proxy


def point_candidates_at(sdp, proxy):
    """Rewrites the relay's host candidates in its offer to the proxy's address; the relay is
    ICE-lite, so its SDP candidates are all the client will ever try."""
    port = proxy.transport.get_extra_info("sockname")[1]

    def replace(match):
        proxy.server = (match.group(3), int(match.group(4)))
        return f"{match.group(1)}{match.group(2)} 127.0.0.1 {port} typ host"

    return re.sub(r"(?mi)^(a=candidate:\S+ \d+ udp )(\d+) (\S+) (\d+) typ host", replace, sdp)


class Peer:
    """One participant: a WebSocket, a publish and/or a subscribe peer connection."""

    def __init__(self, name, url, room, token, publish=False, proxy=None, log=None, video_codec="video/VP8"):
        self.name, self.url, self.room, self.token = name, url, room, token
        self.publish = publish
        self.video_codec = video_codec
        self.proxy = proxy
        self.log = log
        self.ws = None
        self.pub = None
        self.sub = None
        self.participant_id = None
        self.resume_token = None
        self.messages = []  # (time, message) received
        self.violations = []
        self.video_pts = []
        self.video_times = []
        self.audio_frames = 0
        self.first_offer_at = None
        self.first_frame_at = None
        self.joined = asyncio.Event()
        self.reader = None
        self.events = asyncio.Queue()
        self.tasks = []

    async def connect(self):
        self.ws = await websockets.connect(self.url, max_size=2**22)
        self.reader = asyncio.ensure_future(self.read())

    async def send(self, message):
        await self.ws.send(json.dumps(message))

    async def join(self):
        await self.connect()
        await self.send({"type": "join", "room": self.room, "token": self.token, "requestId": f"join-{self.name}"})
        await asyncio.wait_for(self.joined.wait(), 10)
        if self.publish:
            await self.start_publishing()

    async def resume(self):
        await self.connect()
        self.joined.clear()
        await self.send({"type": "resume", "resumeToken": self.resume_token, "requestId": f"resume-{self.name}"})
        await asyncio.wait_for(self.joined.wait(), 10)

    async def start_publishing(self):
        self.pub = RTCPeerConnection()
        video = self.pub.addTransceiver(PatternTrack(320, 240), direction="sendonly")
        video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == self.video_codec])
        audio = self.pub.addTransceiver(ToneTrack(), direction="sendonly")
        audio.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"])
        await self.pub.setLocalDescription(await self.pub.createOffer())
        await self.send({"type": "offer", "target": "publish", "sdp": self.pub.localDescription.sdp, "requestId": "pub-1"})

    async def read(self):
        try:
            async for text in self.ws:
                message = json.loads(text)
                errors = validate_message("server", message, VALIDATORS)
                if errors:
                    self.violations.append({"message": message.get("type"), "errors": errors})
                self.messages.append((time.monotonic(), message))
                await self.handle(message)
        except websockets.ConnectionClosed:
            pass

    async def handle(self, message):
        kind = message.get("type")
        if kind in ("joined", "resumed"):
            self.participant_id = message["participantId"]
            self.resume_token = message["resumeToken"]
            self.joined.set()
        elif kind == "answer" and self.pub is not None:
            await self.pub.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="answer"))
        elif kind == "offer":
            if self.first_offer_at is None:
                self.first_offer_at = time.monotonic()
            sdp = message["sdp"]
            if self.proxy is not None:
                sdp = point_candidates_at(sdp, self.proxy)
            if self.sub is None:
                self.sub = RTCPeerConnection()
                self.sub.on("track", lambda track: self.tasks.append(asyncio.ensure_future(self.consume(track))))
            await self.sub.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await self.sub.setLocalDescription(await self.sub.createAnswer())
            await self.send({"type": "answer", "target": "subscribe", "revision": message["revision"],
                             "sdp": self.sub.localDescription.sdp})
        await self.events.put(message)

    async def consume(self, track):
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if track.kind == "video":
                now = time.monotonic()
                if self.first_frame_at is None:
                    self.first_frame_at = now
                self.video_pts.append(frame.pts)
                self.video_times.append(now)
            else:
                self.audio_frames += 1

    def frames_between(self, start, end):
        return sum(1 for t in self.video_times if start <= t <= end)

    def received(self, kind):
        return [m for _, m in self.messages if m.get("type") == kind]

    async def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.05)
        return predicate()

    async def vanish(self):
        """Network gone: WebSocket cut without a close frame, media blackholed."""
        if self.proxy is not None:
            self.proxy.blackhole = True
        self.ws.transport.abort()

    async def drop_websocket(self):
        self.ws.transport.abort()
        try:
            await asyncio.wait_for(self.reader, 5)
        except asyncio.TimeoutError:
            pass

    async def leave(self):
        try:
            await self.send({"type": "leave"})
            await asyncio.wait_for(self.reader, 5)
        except Exception:
            pass

    async def close(self):
        for pc in (self.pub, self.sub):
            if pc is not None:
                await pc.close()
        if self.ws is not None:
            await self.ws.close()
        for task in self.tasks:
            task.cancel()


def gaps(peer):
    """Frames a receiver never decoded: aiortc stamps decoded frames with RTP time relative to the
    first one, and the cart's camera advances one 30 fps step (3000 ticks, give or take one from
    rounding) per frame, so each extra step between consecutive frames is a frame lost for good.
    The clean expert's count is the baseline (frames the encoder itself skipped)."""
    pts = sorted(set(peer.video_pts))
    missing = sum(max(round((b - a) / VIDEO_STEP) - 1, 0) for a, b in zip(pts, pts[1:]))
    return {"expected": len(pts) + missing, "missing": missing}


def frame_report(peer):
    pts = sorted(set(peer.video_pts))
    return {
        "video_frames": len(peer.video_pts),
        "audio_frames": peer.audio_frames,
        "schema_violations": peer.violations,
        "first_frame_after_offer_s": (round(peer.first_frame_at - peer.first_offer_at, 3)
                                      if peer.first_frame_at and peer.first_offer_at else None),
        "pts": pts,
    }


async def troublemaker(url, room, tokens):
    """Misbehaves in every documented way; returns the error codes received, in order."""
    codes = []
    violations = []

    async def expect_error(ws):
        """The next `error`; room traffic in between (offers, candidates, events) is validated too."""
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            errors = validate_message("server", message, VALIDATORS)
            if errors:
                violations.append({"message": message.get("type"), "errors": errors})
            if message.get("type") == "error":
                codes.append(message["code"])
                return message

    async with websockets.connect(url, max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "join", "room": room, "token": tokens["troublemaker"]}))
        joined = json.loads(await ws.recv())
        assert joined["type"] == "joined", joined
        await ws.send("{not json")
        await expect_error(ws)
        await ws.send(json.dumps({"type": "dance"}))
        await expect_error(ws)
        await ws.send(json.dumps({"type": "offer", "target": "publish"}))
        await expect_error(ws)
        await ws.send(json.dumps({"type": "offer", "target": "publish", "sdp": "v=0\r\nthis is no sdp"}))
        await expect_error(ws)
        # A flood: 300 pings at once; the first ones are answered, then one rate_limited error.
        for i in range(300):
            await ws.send(json.dumps({"type": "ping", "requestId": f"f{i}"}))
        pongs = 0
        limited = 0
        try:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                errors = validate_message("server", message, VALIDATORS)
                if errors:
                    violations.append({"message": message.get("type"), "errors": errors})
                if message["type"] == "pong" and message.get("requestId", "").startswith("f"):
                    pongs += 1
                elif message.get("code") == "rate_limited":
                    limited += 1
                    codes.append("rate_limited")
        except asyncio.TimeoutError:
            pass
        await asyncio.sleep(2.5)  # let the token bucket refill (rate limit recovery is part of the contract)
        await ws.send(json.dumps({"type": "x" * 10, "pad": "y" * 70000}))
        await expect_error(ws)
        try:
            await asyncio.wait_for(ws.recv(), 5)
            close_code = None
        except websockets.ConnectionClosed as closed:
            close_code = closed.rcvd.code if closed.rcvd else None
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "join", "room": room, "token": tokens["forged"]}))
        await expect_error(ws)
        try:
            await asyncio.wait_for(ws.recv(), 5)
            bad_token_close = None
        except websockets.ConnectionClosed as closed:
            bad_token_close = closed.rcvd.code if closed.rcvd else None
    return {"codes": codes, "flood_pongs": pongs, "flood_rate_limited": limited,
            "oversize_close": close_code, "bad_token_close": bad_token_close, "schema_violations": violations}


async def consultation(args, tokens):
    log = []
    cart = Peer("cart", args.url, args.room, tokens["cart"], publish=True)
    clean = Peer("expert1", args.url, args.room, tokens["expert1"])
    proxy = await start_proxy(args.loss, args.seed)
    lossy = Peer("expert2", args.url, args.room, tokens["expert2"], proxy=proxy)
    peers = [cart, clean, lossy]
    await cart.join()
    await clean.join()
    await lossy.join()
    ok = await clean.wait_for(lambda: len(clean.video_pts) >= 30, args.timeout)
    if not ok:
        return {"error": "expert1 decoded no video", "expert1": frame_report(clean)}

    # Disturbance while media flows: every refusal path, in the same room.
    disturbance_start = time.monotonic()
    trouble = await troublemaker(args.url, args.room, tokens)
    disturbance_end = time.monotonic()

    # A third expert joins late.
    late = Peer("expert3", args.url, args.room, tokens["expert3"])
    peers.append(late)
    await late.join()
    await late.wait_for(lambda: late.first_frame_at is not None, 10)

    await clean.wait_for(lambda: len(clean.video_pts) >= args.min_video_frames + 90
                         and lossy.audio_frames >= args.min_audio_frames and len(lossy.video_pts) >= args.min_video_frames + 90,
                         args.timeout)
    report = {
        "expert1": frame_report(clean),
        "expert2": frame_report(lossy),
        "expert3": frame_report(late),
        "cart": frame_report(cart),
        "expert1_gaps": gaps(clean),
        "expert2_gaps": gaps(lossy),
        "proxy_dropped": proxy.dropped,
        "proxy_passed": proxy.passed,
        "disturbance_s": round(disturbance_end - disturbance_start, 3),
        "expert1_frames_during_disturbance": clean.frames_between(disturbance_start, disturbance_end),
        "troublemaker": trouble,
        "expert1_track_published": len(clean.received("trackPublished")),
        "expert3_tracks_in_joined": [len(m.get("tracks", [])) for m in late.received("joined")],
    }
    for peer in reversed(peers):
        await peer.leave()
        await peer.close()
    for p in ("expert1", "expert2", "expert3", "cart"):
        report[p].pop("pts")
    report["cart_saw_left"] = sorted(m["reason"] for m in cart.received("participantLeft"))
    return report


async def presence(args, tokens):
    cart = Peer("cart", args.url, args.room, tokens["cart"], publish=True)
    observer = Peer("observer", args.url, args.room, tokens["observer"])
    rover = Peer("rover", args.url, args.room, tokens["expert1"])
    ghost_proxy = await start_proxy(0.0, args.seed)
    ghost = Peer("ghost", args.url, args.room, tokens["expert2"], proxy=ghost_proxy)
    for peer in (cart, observer, rover, ghost):
        await peer.join()
    await rover.wait_for(lambda: len(rover.video_pts) >= 15 and len(ghost.video_pts) >= 15, args.timeout)
    ids = {"rover": rover.participant_id, "ghost": ghost.participant_id}

    # Rover loses its WebSocket (media unaffected) and resumes within the window.
    await rover.drop_websocket()
    await asyncio.sleep(1.0)  # a real client notices the drop and reconnects after a moment
    await rover.resume()
    frames_at_resume = len(rover.video_pts)
    resumed_at = time.monotonic()

    # Ghost vanishes: no leave, no WebSocket, no media.
    await ghost.vanish()
    vanished_at = time.monotonic()
    announced = await observer.wait_for(
        lambda: any(m["participantId"] == ids["ghost"] for m in observer.received("participantLeft")), args.timeout)
    ghost_announced_after = time.monotonic() - vanished_at if announced else None
    # A failure deadline, not a rate: a busy machine decodes slowly, the frames still come.
    await rover.wait_for(lambda: len(rover.video_pts) >= frames_at_resume + 30, args.timeout)
    report = {
        "ids": ids,
        "ghost_announced_after_s": round(ghost_announced_after, 3) if ghost_announced_after else None,
        "ghost_left_reasons": [m["reason"] for m in observer.received("participantLeft") if m["participantId"] == ids["ghost"]],
        "rover_left_announcements": [m for m in observer.received("participantLeft") if m["participantId"] == ids["rover"]],
        "rover_joined_announcements": [m for m in observer.received("participantJoined") if m["participant"]["participantId"] == ids["rover"]],
        "rover_resumed": len(rover.received("resumed")),
        "rover_frames_after_resume": len(rover.video_pts) - frames_at_resume,
        "rover_resume_to_now_s": round(time.monotonic() - resumed_at, 3),
        "schema_violations": cart.violations + observer.violations + rover.violations + ghost.violations,
    }
    for peer in (rover, observer, cart):
        await peer.leave()
        await peer.close()
    await ghost.close()
    return report


async def codec(args, tokens):
    """The cart publishes with --video-codec; one expert must decode it through the relay."""
    cart = Peer("cart", args.url, args.room, tokens["cart"], publish=True, video_codec=args.video_codec)
    expert = Peer("expert1", args.url, args.room, tokens["expert1"])
    await cart.join()
    await expert.join()
    await expert.wait_for(lambda: len(expert.video_pts) >= args.min_video_frames and expert.audio_frames >= args.min_audio_frames,
                          args.timeout)
    codecs = [m["track"]["codec"] for m in expert.received("trackPublished")]
    codecs += [t["codec"] for m in expert.received("joined") for t in m.get("tracks", [])]
    report = {"expert1": frame_report(expert), "codecs": sorted(codecs), "expert1_gaps": gaps(expert)}
    report["expert1"].pop("pts")
    for peer in (expert, cart):
        await peer.leave()
        await peer.close()
    return report


async def cart_only(args, tokens):
    """An aiortc cart that publishes for --duration seconds (interop: another client receives)."""
    cart = Peer("cart", args.url, args.room, tokens["cart"], publish=True, video_codec=args.video_codec)
    await cart.join()
    await asyncio.sleep(args.duration)
    report = {"published": True, "schema_violations": cart.violations}
    await cart.leave()
    await cart.close()
    return report


async def expert_only(args, tokens):
    """An aiortc expert that receives until it decoded the thresholds (interop: another client publishes)."""
    expert = Peer("expert1", args.url, args.room, tokens["expert1"])
    await expert.join()
    await expert.wait_for(lambda: len(expert.video_pts) >= args.min_video_frames and expert.audio_frames >= args.min_audio_frames,
                          args.timeout)
    report = {"expert1": frame_report(expert), "expert1_gaps": gaps(expert)}
    report["expert1"].pop("pts")
    await expert.leave()
    await expert.close()
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/v1/signaling")
    parser.add_argument("--room", required=True)
    parser.add_argument("--tokens", required=True, help="JSON object: name -> token")
    parser.add_argument("--scenario", choices=["consultation", "presence", "codec", "cart", "expert"], required=True)
    parser.add_argument("--duration", type=float, default=15, help="how long the cart publishes (cart scenario)")
    parser.add_argument("--video-codec", default="video/VP8", help="the cart's video codec (codec scenario)")
    parser.add_argument("--loss", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-video-frames", type=int, default=60)
    parser.add_argument("--min-audio-frames", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=40)
    args = parser.parse_args()
    offer_only_loopback()
    tokens = json.loads(args.tokens)
    scenario = {"consultation": consultation, "presence": presence, "codec": codec, "cart": cart_only, "expert": expert_only}[args.scenario]
    try:
        report = asyncio.run(scenario(args, tokens))
    except Exception as error:  # setup failure: say what, for the test's message
        import traceback
        traceback.print_exc()
        print(json.dumps({"error": repr(error)}))
        sys.exit(2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
