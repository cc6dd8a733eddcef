#!/usr/bin/env python3
"""A real WebRTC peer (aiortc) running the Relais equipment test against the echo room.

It publishes a synthetic VP8 camera and an Opus microphone, POSTs its offer WHIP-style to the
relay, and counts the video frames it decodes and the audio frames it receives back. It exits 0
when both thresholds are met before the deadline, 1 when they are not, 2 on a setup error, and
prints one JSON line with what it measured.
"""

import argparse
import asyncio
import fractions
import json
import os
import math
import sys
import time
import urllib.error
import urllib.request

import aioice.ice
import av
import numpy
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc import rtcdtlstransport
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from aiortc.rtcrtpsender import RTCRtpSender


def offer_only(address):
    """aioice leaves loopback out of its host candidates; tests stay on loopback, so offer only it."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [address]


class PatternTrack(VideoStreamTrack):
    """A moving gradient, so the VP8 encoder produces real inter frames."""

    def __init__(self, width=640, height=480):
        super().__init__()
        self.width, self.height = width, height
        self.counter = 0
        x = numpy.arange(width, dtype=numpy.uint16)
        y = numpy.arange(height, dtype=numpy.uint16)[:, None]
        self.base = (x[None, :] + y) % 256

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        self.counter += 1
        luma = ((self.base + self.counter * 4) % 256).astype(numpy.uint8)
        frame = av.VideoFrame.from_ndarray(numpy.dstack([luma, luma, luma]), format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneTrack(AudioStreamTrack):
    """A 440 Hz tone, 48 kHz mono, 20 ms frames."""

    def __init__(self):
        super().__init__()
        self.sample = 0

    async def recv(self):
        frame = await super().recv()  # paced silence with correct timestamps
        samples = frame.samples
        t = (numpy.arange(samples) + self.sample) / frame.sample_rate
        self.sample += samples
        tone = (numpy.sin(2 * math.pi * 440 * t) * 8000).astype(numpy.int16)
        layout_channels = len(frame.layout.channels)
        data = numpy.repeat(tone, layout_channels).reshape(1, -1)
        out = av.AudioFrame.from_ndarray(data, format="s16", layout=frame.layout.name)
        out.sample_rate, out.pts, out.time_base = frame.sample_rate, frame.pts, frame.time_base
        return out


def force_codec(transceiver, kind, mime):
    codecs = [c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType.lower() == mime.lower()]
    transceiver.setCodecPreferences(codecs)


def post_offer(url, sdp, timeout, token=None):
    headers = {"Content-Type": "application/sdp"}
    if token:
        headers["Authorization"] = f"Bearer {token}"  # any participant token (PROTOCOL.md, echo test)
    request = urllib.request.Request(url, data=sdp.encode(), method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if response.status != 201:
            raise RuntimeError(f"expected 201 Created, got {response.status}")
        return response.read().decode()


async def run(args):
    profiles = {
        "gcm": [rtcdtlstransport.SRTP_AEAD_AES_128_GCM],
        "cm": [rtcdtlstransport.SRTP_AES128_CM_SHA1_80],
    }
    offer_only(args.address)
    if args.srtp_profile != "any":
        rtcdtlstransport.SRTP_PROFILES[:] = profiles[args.srtp_profile]

    pc = RTCPeerConnection()
    counts = {"video": 0, "audio": 0}
    done = asyncio.Event()

    def check_done():
        if counts["video"] >= args.min_video_frames and counts["audio"] >= args.min_audio_packets:
            done.set()

    async def consume(track):
        while True:
            try:
                await track.recv()
            except Exception:
                return
            counts[track.kind] += 1
            check_done()

    @pc.on("track")
    def on_track(track):
        asyncio.ensure_future(consume(track))

    video = pc.addTransceiver(PatternTrack(), direction="sendrecv")
    force_codec(video, "video", "video/VP8")
    audio = pc.addTransceiver(ToneTrack(), direction="sendrecv")
    force_codec(audio, "audio", "audio/opus")

    await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers before returning
    offer = pc.localDescription.sdp
    if f" {args.address} " not in offer:
        print(f"offer has no {args.address} candidate", file=sys.stderr)
        return 2, {}
    loop = asyncio.get_running_loop()
    try:
        answer = await loop.run_in_executor(None, post_offer, args.url, offer, 10, args.token)
    except urllib.error.HTTPError as error:
        print(f"relay refused the offer: HTTP {error.code}: {error.read().decode(errors='replace')}", file=sys.stderr)
        return 2, {}
    except Exception as error:  # connection refused, timeout
        print(f"could not reach the relay: {error}", file=sys.stderr)
        return 2, {}
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    started = time.monotonic()
    try:
        await asyncio.wait_for(done.wait(), timeout=args.duration)
    except asyncio.TimeoutError:
        pass
    elapsed = time.monotonic() - started

    dtls = video.sender.transport
    profile = None
    if dtls is not None and dtls._ssl is not None:
        selected = dtls._ssl.get_selected_srtp_profile()
        profile = selected.decode() if selected else None
    report = {
        "video_frames": counts["video"],
        "audio_frames": counts["audio"],
        "connection_state": pc.connectionState,
        "ice_state": pc.iceConnectionState,
        "dtls_state": dtls.state if dtls else None,
        "srtp_profile": profile,
        "elapsed_s": round(elapsed, 3),
    }
    await pc.close()
    ok = counts["video"] >= args.min_video_frames and counts["audio"] >= args.min_audio_packets
    return (0 if ok else 1), report


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="echo endpoint, e.g. http://127.0.0.1:8088/v1/echo")
    parser.add_argument("--token", default=os.environ.get("RELAIS_TOKEN"),
                        help="participant token for the echo test (env RELAIS_TOKEN; relais-server token --room R --role cart --name N)")
    parser.add_argument("--duration", type=float, default=20, help="give up after this many seconds")
    parser.add_argument("--min-video-frames", type=int, default=60)
    parser.add_argument("--min-audio-packets", type=int, default=100)
    parser.add_argument("--srtp-profile", choices=["any", "gcm", "cm"], default="any",
                        help="restrict the SRTP profiles aiortc offers")
    parser.add_argument("--address", default="127.0.0.1", help="the only host candidate to offer (127.0.0.1 or ::1)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line")
    args = parser.parse_args()
    status, report = asyncio.run(run(args))
    if report:
        print(json.dumps(report) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))
    sys.exit(status)


if __name__ == "__main__":
    main()
