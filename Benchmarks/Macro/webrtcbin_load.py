#!/usr/bin/python3
"""A third-party load generator for the relay: GStreamer's webrtcbin (libnice, its own libsrtp,
AES_CM_128_HMAC_SHA1_80 as embedded carts negotiate), none of it written by us.

Run as root in a private network namespace (it makes a veth pair there, as the interop tests do,
because libnice gathers no loopback candidates):

    unshare -n /usr/bin/python3 Benchmarks/Macro/webrtcbin_load.py --server-bin .build/release/relais-server

N rooms, each with one cart publishing pre-encoded 1280x720 VP8 at 2.5 Mbit/s (keyframe every
2 s) plus Opus, paced by the pipeline clock as a camera would, and M experts that receive without
decoding. The media is encoded once with ffmpeg and cached. After every expert receives video and
a warm-up, it measures over a window:

  - the relay's CPU (utime+stime of its process) per forwarded packet, from its own counters;
  - the loss the experts see, per kind: expected by RTP sequence number minus received, from
    what each expert's pipeline delivers (`SequenceCounter`);
  - the relay's drop reasons (GET /v1/admin/media) and the kernel's UDP errors in the namespace.

Prints one JSON object. Debian's python3 (python3-gi, python3-websockets, gstreamer1.0-nice,
gstreamer1.0-plugins-bad/good), ffmpeg with libvpx and libopus.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Tests", "EndToEndTests", "peers"))

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import netns_interop as netns  # noqa: E402
import webrtcbin_room  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
TWCC = webrtcbin_room.TWCC


def prepare_media(seconds, bitrate_kbps):
    """A VP8 IVF (1280x720, 30 fps, keyframe every 60 frames) and an Opus Ogg of `seconds`,
    encoded once and kept in the temporary directory."""
    directory = os.path.join(tempfile.gettempdir(), "relais-webrtcbin-load")
    os.makedirs(directory, exist_ok=True)
    video = os.path.join(directory, f"720p-{bitrate_kbps}k-{seconds}s.ivf")
    audio = os.path.join(directory, f"opus-{seconds}s.ogg")
    if not os.path.exists(video):
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
             "-c:v", "libvpx", "-b:v", f"{bitrate_kbps}k", "-minrate", f"{bitrate_kbps}k", "-maxrate", f"{bitrate_kbps}k",
             "-g", "60", "-keyint_min", "60", "-deadline", "realtime", "-cpu-used", "8", video + ".tmp.ivf"], check=True)
        os.rename(video + ".tmp.ivf", video)
    if not os.path.exists(audio):
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
             "-c:a", "libopus", "-b:a", "48k", audio + ".tmp.ogg"], check=True)
        os.rename(audio + ".tmp.ogg", audio)
    return video, audio


def cart_pipeline(video, audio):
    """Pre-encoded media paced by the clock (`identity sync`), payloaded as a browser would."""
    return (
        "webrtcbin name=webrtc bundle-policy=max-bundle "
        f"filesrc location={video} ! ivfparse ! identity sync=true ! rtpvp8pay pt=96 mtu=1200 picture-id-mode=15-bit ! "
        f"application/x-rtp,media=video,encoding-name=VP8,payload=96,extmap-3={TWCC} ! webrtc. "
        f"filesrc location={audio} ! oggdemux ! opusparse ! identity sync=true ! rtpopuspay pt=111 ! "
        f"application/x-rtp,media=audio,encoding-name=OPUS,payload=111,extmap-3={TWCC} ! webrtc."
    )


class SequenceCounter:
    """RFC 3550 §A.3's expected and received packets of one stream, from the RTP sequence numbers
    the receiver's pipeline delivers (after its jitter buffer: a packet too late to play counts as
    lost, as it does for the person watching). webrtcbin 1.22's own inbound-rtp statistics do
    not serve here: its packets-lost reads 0 while its source's reads -1, and both streams of a
    bundle are labelled video."""

    def __init__(self):
        self.first = None
        self.highest = None
        self.received = 0

    def add(self, sequence):
        self.received += 1
        if self.highest is None:
            self.first = self.highest = sequence
            return
        # Extend to the cycle nearest the highest so far.
        delta = (sequence - (self.highest & 0xFFFF) + 0x8000) % 0x10000 - 0x8000
        extended = self.highest + delta
        if extended > self.highest:
            self.highest = extended
        if extended < self.first:
            self.first = extended

    def expected(self):
        return 0 if self.highest is None else self.highest - self.first + 1


class LoadPeer(webrtcbin_room.Peer):
    """webrtcbin_room's peer; an expert receives without decoding, and runs until told to stop."""

    def __init__(self, args):
        super().__init__(args)
        self.sequences = {}

    def counted(self):
        """Per kind: (expected by sequence number, received) so far."""
        with self.lock:
            return {kind: (s.expected(), s.received) for kind, s in self.sequences.items()}

    def done(self):
        return False

    def on_incoming_pad(self, element, pad):
        if pad.direction != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps() or pad.query_caps(None)
        kind = caps.get_structure(0).get_value("media") or "video"
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        sink.set_property("async", False)
        self.pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))

        sequence = SequenceCounter()
        with self.lock:
            self.sequences[kind] = sequence

        def count(_pad, info):
            data = info.get_buffer().extract_dup(2, 2)
            with self.lock:
                sequence.add(data[0] << 8 | data[1])
                if kind == "video" and self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()
            return Gst.PadProbeReturn.OK

        pad.add_probe(Gst.PadProbeType.BUFFER, count)


def peer_args(url, room, token, role, seconds):
    return types.SimpleNamespace(url=url, room=room, token=token, role=role, duration=seconds, timeout=seconds,
                                 min_video_frames=0, min_audio_frames=0)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def udp_errors():
    """The namespace's UDP counters of /proc/net/snmp (RcvbufErrors, SndbufErrors, InErrors...)."""
    with open("/proc/net/snmp") as f:
        lines = [line.split() for line in f if line.startswith("Udp:")]
    return dict(zip(lines[0][1:], (int(v) for v in lines[1][1:]))) if len(lines) >= 2 else {}


def loss_of(before, after):
    """Per kind over the window: packets received, lost (expected minus received; duplicates make
    it smaller, as in RFC 3550) and the loss in percent of the expected."""
    totals = {}
    for peer_before, peer_after in zip(before, after):
        for kind, (expected, received) in peer_after.items():
            expected0, received0 = peer_before.get(kind, (0, 0))
            figures = totals.setdefault(kind, {"received": 0, "lost": 0, "expected": 0})
            figures["received"] += received - received0
            figures["expected"] += expected - expected0
            figures["lost"] += (expected - expected0) - (received - received0)
    for figures in totals.values():
        figures["loss_percent"] = round(100 * figures["lost"] / figures["expected"], 4) if figures["expected"] > 0 else None
    return totals


async def run(args, server, video, audio):
    url = f"ws://127.0.0.1:{netns.HTTP_PORT}/v1/signaling"
    total = args.warmup + args.window + 30
    webrtcbin_room.CART_PIPELINE = cart_pipeline(video, audio)  # what Peer builds for a cart
    carts, experts = [], []
    for r in range(args.rooms):
        room = f"load-{r}"
        cart = LoadPeer(peer_args(url, room, netns.token(args.server_bin, "--room", room, "--role", "cart", "--name", f"cart{r}"), "cart", total))
        carts.append(cart)
        for e in range(args.experts):
            token = netns.token(args.server_bin, "--room", room, "--role", "expert", "--name", f"expert{r}-{e}")
            experts.append(LoadPeer(peer_args(url, room, token, "expert", total)))
    tasks = [asyncio.ensure_future(p.run()) for p in carts + experts]
    # Every expert receiving video, then the warm-up.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(e.first_frame_at for e in experts):
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.5)
    receiving = sum(1 for e in experts if e.first_frame_at)
    await asyncio.sleep(args.warmup)
    loop = asyncio.get_running_loop()

    def sample():
        return (cpu_seconds(server.pid), netns.media_counters(args.server_bin), udp_errors(),
                [e.counted() for e in experts], time.monotonic())

    cpu0, media0, udp0, stats0, t0 = await loop.run_in_executor(None, sample)
    await asyncio.sleep(args.window)
    cpu1, media1, udp1, stats1, t1 = await loop.run_in_executor(None, sample)
    # A stream that stopped loses nothing by sequence numbers: who still receives, a second later.
    await asyncio.sleep(1)
    still = sum(1 for e, then in zip(experts, stats1) if e.counted().get("video", (0, 0))[1] > then.get("video", (0, 0))[1])
    for task in tasks:
        task.cancel()

    def total_of(media, key):
        return sum(loop_figures.get(key, 0) for loop_figures in media.get("loops", []))

    forwarded = total_of(media1, "forwarded") - total_of(media0, "forwarded")
    drops = {}
    for loop_after, loop_before in zip(media1.get("loops", []), media0.get("loops", [])):
        for reason, count in loop_after.get("drops", {}).items():
            delta = count - loop_before.get("drops", {}).get(reason, 0)
            if delta:
                drops[reason] = drops.get(reason, 0) + delta
    return {
        "generator": "webrtcbin, %s" % Gst.version_string(),
        "rooms": args.rooms, "experts_per_room": args.experts, "window_s": round(t1 - t0, 2),
        "experts_receiving": receiving, "experts_receiving_at_end": still, "experts": len(experts),
        "forwarded_per_s": round(forwarded / (t1 - t0), 1),
        "cpu_us_per_forwarded_packet": round(1e6 * (cpu1 - cpu0) / forwarded, 2) if forwarded else None,
        "server_cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        "loss": loss_of(stats0, stats1),
        "relay_drops": drops,
        "relay_transports": {key: total_of(media1, key) - total_of(media0, key)
                             for key in ("transportsOpened", "transportsClosed", "consentExpiries", "dtlsFailures")},
        "udp_errors": {k: udp1.get(k, 0) - udp0.get(k, 0) for k in ("InDatagrams", "InErrors", "RcvbufErrors", "SndbufErrors", "OutDatagrams")},
        "relay_latency_p99_us": max((l.get("latencyMicrosecondsP99") or 0) for l in media1.get("loops", [{}])),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-bin", default=os.path.join(ROOT, ".build", "release", "relais-server"))
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--experts", type=int, default=3, help="experts per room")
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--window", type=float, default=25)
    parser.add_argument("--bitrate", type=int, default=2500, help="video kbit/s")
    parser.add_argument("--server-args", default="", help="extra relais-server arguments")
    args = parser.parse_args()
    Gst.init(None)
    video, audio = prepare_media(int(args.warmup + args.window + 60), args.bitrate)
    netns.network()
    history = tempfile.mkdtemp(prefix="relais-load-")
    server = subprocess.Popen(
        [args.server_bin, "serve", "--token-secret", netns.SECRET, "--http-host", "127.0.0.1", "--http-port", str(netns.HTTP_PORT),
         "--media-host", netns.MEDIA_HOST, "--media-port", "40000", "--history-path", os.path.join(history, "history.sqlite"),
         "--log-level", "warning", *args.server_args.split()],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        netns.wait_ready(server, time.monotonic() + 20)
        report = asyncio.run(run(args, server, video, audio))
    finally:
        netns.stop(server)
    print(json.dumps(report), flush=True)
    # GStreamer's threads would hold the interpreter's exit; the report is out.
    os._exit(0)


if __name__ == "__main__":
    main()
