#!/usr/bin/python3
"""Captures a publish offer from GStreamer's webrtcbin (Debian's gstreamer1.0-plugins-bad), as an
embedded cart would make it: VP8 video and Opus audio, both sendonly, bundle-policy max-bundle (so
every section after the first is `a=bundle-only` with port 0, RFC 8843 §7.2.1). No ICE servers;
the offer is taken before gathering, as webrtcbin trickles candidates.

Run with Debian's interpreter (/usr/bin/python3), which has PyGObject (python3-gi):

    /usr/bin/python3 webrtcbin_capture.py OUT_DIR
"""

import pathlib
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstWebRTC  # noqa: E402

PIPELINE = (
    "webrtcbin name=webrtc bundle-policy=max-bundle "
    "videotestsrc is-live=true ! video/x-raw,width=640,height=360 ! vp8enc deadline=1 ! rtpvp8pay ! "
    "application/x-rtp,media=video,encoding-name=VP8,payload=96 ! webrtc. "
    "audiotestsrc is-live=true ! opusenc ! rtpopuspay ! "
    "application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! webrtc."
)


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    Gst.init(None)
    pipeline = Gst.parse_launch(PIPELINE)
    webrtc = pipeline.get_by_name("webrtc")
    loop = GLib.MainLoop()
    captured = {}

    def on_offer(promise, _):
        # Keep the promise's reply referenced while reading it: a chained call lets PyGObject free
        # the structure under the offer and crashes the interpreter (what defeated earlier captures).
        promise.wait()
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        captured["sdp"] = offer.sdp.as_text()
        loop.quit()

    def on_negotiation_needed(element):
        for index in range(2):
            element.emit("get-transceiver", index).set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        element.emit("create-offer", None, Gst.Promise.new_with_change_func(on_offer, None))

    webrtc.connect("on-negotiation-needed", on_negotiation_needed)
    pipeline.set_state(Gst.State.PLAYING)
    GLib.timeout_add_seconds(10, loop.quit)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    if "sdp" not in captured:
        sys.exit("webrtcbin made no offer")
    (out / "webrtcbin-offer.sdp").write_bytes(captured["sdp"].encode())


if __name__ == "__main__":
    main()
