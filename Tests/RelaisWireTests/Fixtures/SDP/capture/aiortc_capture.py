#!/usr/bin/env python3
"""Captures SDP from aiortc (PyPI): an offer (VP8/H.264 video + Opus audio, both sendrecv) and,
when given another stack's offer, aiortc's answer to it. Host candidates are loopback only.

    python3 aiortc_capture.py OUT_DIR [OTHER_STACK_OFFER.sdp]
"""

import asyncio
import pathlib
import sys

import aioice.ice
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


async def capture(out: pathlib.Path, other_offer: pathlib.Path | None) -> None:
    pc = RTCPeerConnection()
    pc.addTransceiver(VideoStreamTrack(), direction="sendrecv")
    pc.addTransceiver(AudioStreamTrack(), direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())  # gathers before returning
    (out / "aiortc-offer.sdp").write_text(pc.localDescription.sdp, newline="")
    await pc.close()

    if other_offer is not None:
        pc = RTCPeerConnection()

        @pc.on("track")
        def on_track(track):
            pc.addTrack(VideoStreamTrack() if track.kind == "video" else AudioStreamTrack())

        await pc.setRemoteDescription(RTCSessionDescription(sdp=other_offer.read_text(), type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        name = other_offer.name.replace("-offer.sdp", "")
        (out / f"aiortc-answer-to-{name}.sdp").write_text(pc.localDescription.sdp, newline="")
        await pc.close()


if __name__ == "__main__":
    asyncio.run(capture(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else None))
