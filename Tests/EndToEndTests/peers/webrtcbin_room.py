#!/usr/bin/python3
"""A GStreamer webrtcbin peer in a Relais consultation room, through the WebSocket signaling: the
WebRTC stack of many embedded cart devices (Debian's gstreamer1.0-plugins-bad, libnice).

  cart    publishes a VP8 test pattern (640x360, 30 fps) and an Opus tone for --duration seconds,
          with bundle-policy max-bundle, so its offer marks the audio section `a=bundle-only` with
          port 0 (RFC 8843 §7.2.1);
  expert  answers the relay's subscribe offers and decodes what arrives (decodebin), counting
          decoded video frames and audio buffers until --min-video-frames and --min-audio-frames.

Runs under Debian's interpreter (/usr/bin/python3: PyGObject from python3-gi, python3-websockets).
libnice leaves loopback out of its host candidates, like the browsers' stacks, so the tests run it
in a network namespace with a veth pair (netns_interop.py). Prints one JSON report; exit 0 when
the run completed (the Swift test judges the figures), 2 on a setup error.
"""

import argparse
import asyncio
import json
import re
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import Gst, GstSdp, GstWebRTC  # noqa: E402
import websockets  # noqa: E402

# The transport-wide sequence number (rtphdrexttwcc): the payloaders stamp it, webrtcbin offers it.
TWCC = "(string)http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
CART_PIPELINE = (
    "webrtcbin name=webrtc bundle-policy=max-bundle "
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 ! videoconvert ! queue ! "
    "vp8enc deadline=1 target-bitrate=800000 keyframe-max-dist=60 ! rtpvp8pay pt=96 ! "
    f"application/x-rtp,media=video,encoding-name=VP8,payload=96,extmap-3={TWCC} ! webrtc. "
    "audiotestsrc is-live=true freq=440 ! audioconvert ! audioresample ! queue ! opusenc ! rtpopuspay pt=111 ! "
    f"application/x-rtp,media=audio,encoding-name=OPUS,payload=111,extmap-3={TWCC} ! webrtc."
)


def description(kind, text):
    result, message = GstSdp.SDPMessage.new_from_text(text)
    if result != GstSdp.SDPResult.OK:
        raise ValueError(f"unparseable {kind} from the relay")
    sdp_type = GstWebRTC.WebRTCSDPType.ANSWER if kind == "answer" else GstWebRTC.WebRTCSDPType.OFFER
    return GstWebRTC.WebRTCSessionDescription.new(sdp_type, message)


def reply_value(promise, field):
    """A promise's reply and one of its fields. The caller keeps the reply referenced while it uses
    the value: once PyGObject frees the structure, the session description under the value goes
    with it (a NULL SDP message, or a crash of the interpreter)."""
    promise.wait()
    reply = promise.get_reply()
    return reply, reply.get_value(field)


class Peer:
    def __init__(self, args):
        self.args = args
        self.loop = asyncio.get_running_loop()
        self.ws = None
        if args.role == "cart":
            self.pipeline = Gst.parse_launch(CART_PIPELINE)
            self.webrtc = self.pipeline.get_by_name("webrtc")
        else:
            self.pipeline = Gst.Pipeline.new("expert")
            self.webrtc = Gst.ElementFactory.make("webrtcbin", "webrtc")
            self.webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
            self.pipeline.add(self.webrtc)
        self.lock = threading.Lock()
        self.counts = {"video": 0, "audio": 0}
        self.first_frame_at = None
        self.offer_sdp = None
        self.answer_sdp = None
        self.offers_answered = 0
        self.errors = []
        self.joined = asyncio.Event()
        self.connected_at = None
        self.started = time.monotonic()
        self.webrtc.connect("notify::ice-connection-state", self.on_ice_state)
        if args.role == "cart":
            self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        else:
            self.webrtc.connect("pad-added", self.on_incoming_pad)

    # Signaling (asyncio thread)

    def send(self, message):
        """Thread-safe: GStreamer's callbacks run on its own threads."""
        asyncio.run_coroutine_threadsafe(self.ws.send(json.dumps(message)), self.loop)

    async def run(self):
        self.ws = await websockets.connect(self.args.url, max_size=2**22)
        reader = asyncio.ensure_future(self.read())
        await self.ws.send(json.dumps({"type": "join", "room": self.args.room, "token": self.args.token, "requestId": "join"}))
        await asyncio.wait_for(self.joined.wait(), 10)
        self.pipeline.set_state(Gst.State.PLAYING)
        deadline = time.monotonic() + (self.args.duration if self.args.role == "cart" else self.args.timeout)
        next_ping = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.args.role == "expert" and self.done():
                break
            if time.monotonic() >= next_ping:
                await self.ws.send(json.dumps({"type": "ping"}))
                next_ping += 5
            await asyncio.sleep(0.1)
        report = self.report()
        try:
            await self.ws.send(json.dumps({"type": "leave"}))
            await asyncio.wait_for(reader, 5)
        except (asyncio.TimeoutError, websockets.ConnectionClosed):
            pass
        self.pipeline.set_state(Gst.State.NULL)
        return report

    async def read(self):
        try:
            async for text in self.ws:
                self.handle(json.loads(text))
        except websockets.ConnectionClosed:
            pass

    def handle(self, message):
        kind = message.get("type")
        if kind == "joined":
            self.joined.set()
        elif kind == "error":
            self.errors.append(message.get("code"))
        elif kind == "answer" and message.get("target") == "publish":
            self.answer_sdp = message["sdp"]
            self.webrtc.emit("set-remote-description", description("answer", message["sdp"]), None)
            self.add_candidates(message["sdp"])
        elif kind == "offer" and message.get("target") == "subscribe":
            self.answer_subscribe_offer(message)

    def add_candidates(self, sdp):
        """The relay's candidates are in its SDP (it is ICE-lite and never trickles); handing them to
        webrtcbin explicitly does not depend on it reading SDP candidates of a bundled answer."""
        for line in re.findall(r"(?m)^a=(candidate:[^\r\n]+)", sdp):
            self.webrtc.emit("add-ice-candidate", 0, line)

    # Cart (GStreamer threads)

    def on_negotiation_needed(self, element):
        if self.offer_sdp is not None:
            return
        for index in range(2):
            transceiver = element.emit("get-transceiver", index)
            if transceiver is not None:
                transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        element.emit("create-offer", None, Gst.Promise.new_with_change_func(self.on_offer_created, None))

    def on_offer_created(self, promise, _):
        reply, offer = reply_value(promise, "offer")
        self.offer_sdp = offer.sdp.as_text()
        self.webrtc.emit("set-local-description", offer, None)
        del reply
        self.send({"type": "offer", "target": "publish", "sdp": self.offer_sdp, "requestId": "publish-1"})

    # Expert

    def answer_subscribe_offer(self, message):
        revision = message.get("revision")
        offer_text = message["sdp"]

        def on_answer_created(promise, _):
            reply, answer = reply_value(promise, "answer")
            text = answer.sdp.as_text()
            self.webrtc.emit("set-local-description", answer, None)
            del reply
            self.offers_answered += 1
            self.send({"type": "answer", "target": "subscribe", "revision": revision, "sdp": text})

        def on_remote_set(promise, _):
            promise.wait()
            self.webrtc.emit("create-answer", None, Gst.Promise.new_with_change_func(on_answer_created, None))

        self.webrtc.emit("set-remote-description", description("offer", offer_text), Gst.Promise.new_with_change_func(on_remote_set, None))
        self.add_candidates(offer_text)

    def on_incoming_pad(self, element, pad):
        if pad.direction != Gst.PadDirection.SRC:
            return
        decode = Gst.ElementFactory.make("decodebin")
        decode.connect("pad-added", self.on_decoded_pad)
        self.pipeline.add(decode)
        decode.sync_state_with_parent()
        pad.link(decode.get_static_pad("sink"))

    def on_decoded_pad(self, decodebin, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        kind = "video" if caps.get_structure(0).get_name().startswith("video") else "audio"
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        self.pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))

        def count(_pad, _info):
            with self.lock:
                self.counts[kind] += 1
                if kind == "video" and self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()
            return Gst.PadProbeReturn.OK

        pad.add_probe(Gst.PadProbeType.BUFFER, count)

    def on_ice_state(self, element, _spec):
        state = element.get_property("ice-connection-state")
        if state in (GstWebRTC.WebRTCICEConnectionState.CONNECTED, GstWebRTC.WebRTCICEConnectionState.COMPLETED) and self.connected_at is None:
            self.connected_at = time.monotonic()

    def done(self):
        with self.lock:
            return self.counts["video"] >= self.args.min_video_frames and self.counts["audio"] >= self.args.min_audio_frames

    def report(self):
        def sections(sdp):
            if sdp is None:
                return []
            return [{"port": int(m.group(2)), "kind": m.group(1), "bundle_only": "a=bundle-only" in m.group(0)}
                    for m in re.finditer(r"(?ms)^m=(\w+) (\d+) .*?(?=^m=|\Z)", sdp)]

        with self.lock:
            counts = dict(self.counts)
        return {
            "role": self.args.role,
            "offer_sections": sections(self.offer_sdp),
            "answer_sections": sections(self.answer_sdp),
            "ice_connected_after_s": round(self.connected_at - self.started, 3) if self.connected_at else None,
            "connection_state": self.webrtc.get_property("connection-state").value_nick,
            "video_frames": counts["video"],
            "audio_buffers": counts["audio"],
            "offers_answered": self.offers_answered,
            "errors": self.errors,
        }


async def main_async(args):
    return await Peer(args).run()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/v1/signaling")
    parser.add_argument("--room", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--role", choices=["cart", "expert"], required=True)
    parser.add_argument("--duration", type=float, default=15, help="how long the cart publishes")
    parser.add_argument("--timeout", type=float, default=30, help="how long the expert waits for its thresholds")
    parser.add_argument("--min-video-frames", type=int, default=60)
    parser.add_argument("--min-audio-frames", type=int, default=100)
    args = parser.parse_args()
    Gst.init(None)
    try:
        report = asyncio.run(main_async(args))
    except Exception as error:  # setup failure: say what, for the test's message
        import traceback
        traceback.print_exc()
        print(json.dumps({"error": repr(error)}))
        sys.exit(2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
