#!/usr/bin/python3
"""Interop with a WebRTC stack that gathers no loopback candidate (GStreamer webrtcbin over libnice),
inside a private network namespace, as the brief's test rules prescribe for browsers and aioice.

Run as `unshare -n /usr/bin/python3 netns_interop.py --server-bin PATH --scenario S`. In the new
namespace it brings loopback up and a veth pair carrying 10.77.0.1/24 and 10.77.0.2/24 (nothing
leaves the namespace), starts `relais-server` with its media on 10.77.0.1 and its signaling on
loopback, mints tokens with `relais-server token`, then runs two real peers in one room:

  webrtcbin-cart    webrtcbin publishes (its max-bundle offer: audio `a=bundle-only`, port 0);
                    an aiortc expert decodes
  webrtcbin-expert  an aiortc cart publishes; webrtcbin answers the subscribe offers and decodes
  chromium-cart     headless Chromium publishes its fake 1280x720 camera (chromium_cart.html, served
                    on loopback) and samples its congestion controller's estimate for --duration s
  chromium-simulcast  one Chromium page (chromium_simulcast.html) holds a cart publishing that camera
                    in three simulcast layers (q, h, f) and an expert that decodes it and asks the
                    relay for each layer of --phases in turn (selectLayer), sampling its decoder
  client-uplink     the same link emulator with relais-client as the cart (--client-bin): simulcast
                    over a noisy pattern at --bitrate kbit/s, its progress lines read each second
  chromium-uplink   the cart's uplink behind a link emulator: Chromium (chromium_cart.html) runs in a
                    second namespace holding rl1, whose egress is shaped with `tc tbf` (netem does
                    not work on these machines): 5 Mbit/s, 1 Mbit/s, 5 Mbit/s (--schedule seconds
                    each, from the publish connection's connecting); the relay listens on
                    10.77.0.1 for signaling too, and the driver reads the admin API and the qdisc's
                    counters every 0.5 s and computes how Chromium's send rate follows the capacity

Prints one JSON report: each peer's report and the relay's media counters
(GET /v1/admin/media); for chromium-simulcast also the room's session as the page runs
(GET /v1/admin/sessions/<room>: the relay's view of each layer); for chromium-uplink the figures
of uplink_figures() and a 0.5 s series. Exit 0 when the run completed (the Swift test judges), 2 on a
setup error.
"""

import argparse
import asyncio
import functools
import http.server
import json
import os
import queue
import re
import secrets
import shutil
import statistics
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "netns-interop-secret-" + secrets.token_hex(16)
HTTP_PORT = 18088
MEDIA_HOST = "10.77.0.1"
# Where the relay's signaling and admin API listen: loopback, or MEDIA_HOST for chromium-uplink
# (its browser is in another namespace).
http_host = "127.0.0.1"


def sh(*command):
    subprocess.run(command, check=True)


def network():
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "rl0", "type", "veth", "peer", "name", "rl1")
    sh("ip", "addr", "add", f"{MEDIA_HOST}/24", "dev", "rl0")
    sh("ip", "addr", "add", "10.77.0.2/24", "dev", "rl1")
    sh("ip", "link", "set", "rl0", "up")
    sh("ip", "link", "set", "rl1", "up")


def stop(process):
    """Terminates a child, and kills it if it does not exit within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def token(server_bin, *arguments):
    return subprocess.run([server_bin, "token", "--token-secret", SECRET, *arguments],
                          check=True, capture_output=True, text=True).stdout.strip()


def wait_ready(server, deadline):
    """Until the signaling port accepts connections."""
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"relais-server exited with {server.returncode}")
        try:
            socket.create_connection((http_host, HTTP_PORT), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("relais-server did not become ready")


@functools.cache
def operator_token(server_bin):
    return token(server_bin, "--operator", "--name", "interop-test")


def admin(server_bin, path):
    request = urllib.request.Request(f"http://{http_host}:{HTTP_PORT}{path}",
                                     headers={"Authorization": f"Bearer {operator_token(server_bin)}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def media_counters(server_bin):
    return admin(server_bin, "/v1/admin/media")


def publish_feedback(server_bin, room):
    """The admin API's view of each publisher's congestion feedback, by participant name."""
    session = admin(server_bin, f"/v1/admin/sessions/{room}")
    return {p["name"]: (p.get("publish") or {}).get("congestionFeedback") for p in session["participants"]}


def run_json(command, timeout):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines else {"error": "no report"}
    report["exit_status"] = result.returncode
    if result.returncode != 0 or "error" in report:
        report["stderr_tail"] = "\n".join(line for line in result.stderr.splitlines() if "CRITICAL" not in line and line)[-1500:]
    return report


class PageHandler(http.server.SimpleHTTPRequestHandler):
    """This directory's files; a POST to /report (the page's `post=1`) goes to the server's `posts`."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/report" and self.server.posts is not None:
            try:
                self.server.posts.put(json.loads(body))
            except ValueError:
                pass
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def serve_page(host="127.0.0.1", posts=None):
    """Serves this directory, on loopback by default so the page has a secure origin (getUserMedia
    needs one). Returns the port."""
    server = http.server.ThreadingHTTPServer((host, 0), functools.partial(PageHandler, directory=HERE))
    server.posts = posts
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


async def read_page_report(port, deadline):
    """Polls `window.report` through the DevTools protocol until the page says it is done."""
    import websockets
    targets = []
    while not targets:
        if time.monotonic() > deadline:
            raise RuntimeError("chromium did not open its DevTools port")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=1) as response:
                targets = [t for t in json.load(response) if t["type"] == "page"]
        except OSError:
            await asyncio.sleep(0.2)
    async with websockets.connect(targets[0]["webSocketDebuggerUrl"], max_size=2**24) as ws:
        ident = 0
        while time.monotonic() < deadline:
            ident += 1
            await ws.send(json.dumps({"id": ident, "method": "Runtime.evaluate",
                                      "params": {"expression": "JSON.stringify(window.report || null)", "returnByValue": True}}))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("id") == ident:
                    break
            value = reply.get("result", {}).get("result", {}).get("value")
            report = json.loads(value) if value else None
            if report and report.get("done"):
                return report
            await asyncio.sleep(0.5)
    raise RuntimeError("the page did not finish in time")


def chromium_command(url, camera_fps=None, extra=()):
    """Headless Chromium with a fake camera (20 fps unless `camera_fps` is given; it ignores
    getUserMedia's frameRate; `--use-file-for-fake-video-capture` in `extra` replaces its picture)
    and microphone, and a fresh profile, opening `url`."""
    profile = tempfile.mkdtemp(prefix="relais-chromium-")
    camera = "--use-fake-device-for-media-stream" + (f"=fps={camera_fps}" if camera_fps else "")
    return ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", camera, "--use-fake-ui-for-media-stream",
            "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}", *extra, url]


def noise_video(path, amplitude, frames=20, width=1280, height=720, fps=20):
    """Writes a Y4M clip of grey with fresh random noise (+-`amplitude` in luma) in every frame.
    Chromium's own fake camera (a still picture and a small moving pie) needs about 300 kbit/s at
    any size, so its encoder never uses a target above that; noise gives the encoder's rate control
    something to spend any target on (by the quantizer it chooses), as a real camera does."""
    table = bytes(128 - amplitude + (i * (2 * amplitude + 1)) // 256 for i in range(256))
    chroma = bytes([128]) * (width * height // 2)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + os.urandom(width * height).translate(table) + chroma)


def chromium_page(page, fields, duration, camera_fps=None):
    """Opens `page` (beside this script) in headless Chromium with `fields` in its URL fragment, and
    returns its `window.report` once it says it is done."""
    page_port = serve_page()
    fragment = urllib.parse.urlencode(fields)
    browser = subprocess.Popen(
        chromium_command(f"http://127.0.0.1:{page_port}/{page}#{fragment}", camera_fps, ["--remote-debugging-port=9333"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return asyncio.run(read_page_report(9333, time.monotonic() + duration + 30))
    finally:
        stop(browser)


def while_page_runs(page, fields, duration, after, probe, camera_fps=None):
    """Runs a Chromium page for `duration` s and calls `probe` `after` s into it (the admin API is read
    while the page still publishes). Returns the page's report and what `probe` returned."""
    holder = {}

    def run():
        try:
            holder["page"] = chromium_page(page, fields, duration, camera_fps)
        except Exception as error:
            holder["page"] = {"error": f"page: {error!r}"}
    reader = threading.Thread(target=run)
    reader.start()
    time.sleep(after)
    try:
        probed = probe()
    except Exception as error:
        probed = {"error": f"probe: {error!r}"}
    reader.join()
    return holder.get("page", {"error": "no page report"}), probed


# MARK: chromium-uplink

# tbf's bucket and queue: a queue of `latency` at the rate plus the bucket (at 1 Mbit/s a full queue
# delays a packet about 180 ms, at 5 Mbit/s about 115 ms; measured with a UDP blast).
TBF_SHAPE = ["burst", "10kb", "latency", "100ms"]
# What the link carries beyond an RTP packet (header and payload): the SRTP tag (AES-GCM, the
# relay's first choice), UDP, IPv4, and the Ethernet header tbf counts.
WIRE_OVERHEAD = 16 + 8 + 20 + 14


def cart_namespace():
    """Moves rl1 into a second network namespace, held by a sleeping process, and gives it
    10.77.0.2 again (a moved link loses its address). Returns the holder."""
    holder = subprocess.Popen(["unshare", "-n", "sleep", "3600"])
    try:
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{holder.pid}/ns/net") == own:
            if holder.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the namespace holder did not start")
            time.sleep(0.01)
        sh("ip", "link", "set", "rl1", "netns", str(holder.pid))
        inside = in_namespace(holder)
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "addr", "add", "10.77.0.2/24", "dev", "rl1")
        sh(*inside, "ip", "link", "set", "rl1", "up")
        return holder
    except BaseException:
        stop(holder)
        raise


def in_namespace(holder):
    return ["nsenter", "-t", str(holder.pid), "-n"]


def shape(holder, operation, rate):
    """Shapes the cart namespace's egress (the cart's uplink): `add` the qdisc, or `change` its rate."""
    sh(*in_namespace(holder), "tc", "qdisc", operation, "dev", "rl1", "root", "tbf", "rate", rate, *TBF_SHAPE)


def link_counters(holder):
    """The qdisc's bytes and packets sent and packets dropped so far."""
    out = subprocess.run([*in_namespace(holder), "tc", "-s", "qdisc", "show", "dev", "rl1"],
                         capture_output=True, text=True, timeout=5).stdout
    match = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+)", out)
    return {"bytes": int(match[1]), "packets": int(match[2]), "dropped": int(match[3])} if match else None


def poll_uplink(server_bin, room, holder, stopping, polls):
    """Every 0.5 s until `stopping`: the cart's publish connection as the admin API shows it and the
    qdisc's counters, with the wall-clock time (mid-request)."""
    while not stopping.is_set():
        began = time.time()
        row = {}
        try:
            session = admin(server_bin, f"/v1/admin/sessions/{room}")
            cart = next((p for p in session["participants"] if p["name"] == "cart"), {})
            publish = cart.get("publish") or {}
            row["state"] = publish.get("state")
            row["tracks"] = [{key: track.get(key) for key in ("kind", "packets", "packetsLost", "bitrateKbps", "nacks", "plis")}
                             for track in publish.get("tracks", [])]
            row["congestionFeedback"] = publish.get("congestionFeedback")
        except Exception as error:
            row["error"] = repr(error)
        row["wall"] = (began + time.time()) / 2
        try:
            row["link"] = link_counters(holder)
        except Exception as error:
            row["link_error"] = repr(error)
        polls.append(row)
        stopping.wait(max(0.0, 0.5 - (time.time() - began)))


def next_post(posts, accept, deadline):
    """The first report the page posts that `accept`s, or None at the deadline; and the last one seen."""
    latest = None
    while time.monotonic() < deadline:
        try:
            latest = posts.get(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            break
        if accept(latest):
            return latest, latest
    return None, latest


def chromium_uplink(server_bin, url, room, cart_token, schedule, video=None):
    """Chromium publishes from the cart namespace through 5, 1 and 5 Mbit/s (`schedule`: the seconds
    of each, from the publish connection's connecting). Returns the page's last report, the polls,
    the wall-clock times of the connection and of each change, and the relay's media counters (read
    here: stopping the holder deletes the veth pair, 10.77.0.1 with it)."""
    before, low, after = schedule
    holder = cart_namespace()
    browser = None
    polls, stopping = [], threading.Event()
    poller = threading.Thread(target=poll_uplink, args=(server_bin, room, holder, stopping, polls), daemon=True)
    times = {}
    try:
        shape(holder, "add", "5mbit")
        posts = queue.Queue()
        origin = f"http://{MEDIA_HOST}:{serve_page(MEDIA_HOST, posts)}"
        fields = {"url": url, "room": room, "token": cart_token, "seconds": before + low + after, "fromConnected": 1, "post": 1}
        # getUserMedia needs a secure context: the page's origin is not loopback here.
        extra = [f"--unsafely-treat-insecure-origin-as-secure={origin}"]
        if video:
            extra.append(f"--use-file-for-fake-video-capture={video}")
        browser = subprocess.Popen(
            in_namespace(holder) + chromium_command(f"{origin}/chromium_cart.html#{urllib.parse.urlencode(fields)}", extra=extra),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        poller.start()
        page, latest = next_post(posts, lambda report: report.get("connectedAtWall"), time.monotonic() + 30)
        if page is None:
            return {"error": "the publish connection did not connect within 30 s", "page": latest}, polls, times, media_counters(server_bin)
        times["connected"] = page["connectedAtWall"] / 1000
        for name, at, rate in (("drop", before, "1mbit"), ("restore", before + low, "5mbit")):
            time.sleep(max(0.0, times["connected"] + at - time.time()))
            shape(holder, "change", rate)
            times[name] = time.time()
        page, latest = next_post(posts, lambda report: report.get("done"), time.monotonic() + after + 15)
        times["end"] = time.time()
        stopping.set()
        poller.join(timeout=5)
        if page is None:
            return {"error": "the page did not finish", "page": latest}, polls, times, media_counters(server_bin)
        return page, polls, times, media_counters(server_bin)
    finally:
        stopping.set()
        if browser is not None:
            stop(browser)
        stop(holder)
        if poller.is_alive():
            poller.join(timeout=5)


def client_uplink(server_bin, client_bin, url, room, cart_token, schedule, bitrate):
    """relais-client publishes (simulcast, a noisy pattern) from the cart namespace through 5, 1 and
    5 Mbit/s (`schedule`: the seconds of each, from its first video packet). Returns its progress
    lines (each with the wall-clock time it was read), the polls, the times and the relay's counters."""
    before, low, after = schedule
    holder = cart_namespace()
    client = None
    polls, stopping = [], threading.Event()
    poller = threading.Thread(target=poll_uplink, args=(server_bin, room, holder, stopping, polls), daemon=True)
    times, lines = {}, queue.Queue()
    try:
        shape(holder, "add", "5mbit")
        client = subprocess.Popen(
            in_namespace(holder) + [client_bin, "--url", url, "--room", room, "--token", cart_token, "--role", "cart",
                                    "--camera", "none", "--media-host", "10.77.0.2", "--simulcast", "--noisy-pattern",
                                    "--width", "960", "--height", "540",
                                    "--bitrate", str(bitrate), "--json", "--duration", str(before + low + after + 4)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def read():
            for line in client.stdout:
                if line.startswith("{"):
                    lines.put((time.time(), json.loads(line)))
            lines.put(None)
        threading.Thread(target=read, daemon=True).start()
        poller.start()
        progress, deadline = [], time.monotonic() + 30
        while "connected" not in times and time.monotonic() < deadline:
            try:
                item = lines.get(timeout=1)
            except queue.Empty:
                continue
            if item is None:
                break
            progress.append(item)
            if ((item[1].get("report") or {}).get("publish") or {}).get("videoPacketsSent"):
                times["connected"] = item[0]
        if "connected" not in times:
            return {"error": "relais-client sent no video within 30 s", "stderr": client.stderr.read()[-1500:] if client.poll() is not None else None}, polls, times, media_counters(server_bin)
        for name, at, rate in (("drop", before, "1mbit"), ("restore", before + low, "5mbit")):
            time.sleep(max(0.0, times["connected"] + at - time.time()))
            shape(holder, "change", rate)
            times[name] = time.time()
        while True:
            item = lines.get(timeout=after + 30)
            if item is None:
                break
            progress.append(item)
        times["end"] = time.time()
        client.wait(timeout=10)
        stopping.set()
        poller.join(timeout=5)
        return {"progress": progress, "status": client.returncode}, polls, times, media_counters(server_bin)
    finally:
        stopping.set()
        if client is not None:
            stop(client)
        stop(holder)
        if poller.is_alive():
            poller.join(timeout=5)


def client_uplink_figures(run, polls, times, schedule):
    """The figures of a client-uplink run, from relais-client's progress lines (each second: its send
    rate over the last second, media, retransmissions and probe padding, RTP bytes; its estimate)
    and the polls (the relay's counters, the qdisc's):

      first_under_capacity_s   from the drop until the send rate (1 s window, every 100 ms, from the
                               client's final report) is first under 1 Mbit/s
      max_rate_after_adapt_bps from 2 s after the drop to the restore, its highest
      loss_after_adapt, link_loss_after_adapt   as for chromium-uplink
      recovery_s               from the restore until the send rate reaches 4 Mbit/s (80% of 5)
      estimate_recovery_s      ... until the estimate does
      series                   each progress line: t, send and estimate kbit/s, the layers' state
    """
    rows = []
    for wall, line in run.get("progress", []):
        publish = dict((line.get("report") or {}).get("publish") or {})
        if line is not run["progress"][-1][1]:
            publish.pop("bytesPer100ms", None)
        if publish.get("estimateKbps") is None:
            continue
        rows.append((wall, publish))
    drop, restore, connected = times["drop"], times["restore"], times["connected"]
    sent = [(t, 1000 * p["sentKbps"]) for t, p in rows]
    # The final report's 100 ms byte counts, from the connection's connecting (wall clock): a 1 s
    # send rate every 100 ms, finer than the progress lines'.
    final = rows[-1][1] if rows else {}
    if final.get("bytesPer100ms") and final.get("connectedAtWallMicros"):
        start, total, points = final["connectedAtWallMicros"] / 1e6, 0, []
        for index, count in enumerate(final["bytesPer100ms"]):
            total += 8 * count
            points.append((start + (index + 1) / 10, total))
        sent = windowed(points)
    estimates = [(t, 1000 * p["estimateKbps"]) for t, p in rows]
    good = [p for p in polls if "error" not in p and p.get("tracks")]

    def relay_loss(start, stop):
        first = next((p for p in good if p["wall"] >= start), None)
        final = next((p for p in reversed(good) if p["wall"] <= stop), None)
        if first is None or final is None or final["wall"] <= first["wall"]:
            return None
        total = lambda p, key: sum(track[key] or 0 for track in p["tracks"])
        lost = total(final, "packetsLost") - total(first, "packetsLost")
        received = total(final, "packets") - total(first, "packets")
        return {"lost": lost, "received": received, "fraction": round(lost / (received + lost), 5) if received + lost > 0 else None}

    def link_loss(start, stop):
        linked = [p for p in polls if p.get("link")]
        first = next((p for p in linked if p["wall"] >= start), None)
        final = next((p for p in reversed(linked) if p["wall"] <= stop), None)
        if first is None or final is None:
            return None
        dropped = final["link"]["dropped"] - first["link"]["dropped"]
        offered = dropped + final["link"]["packets"] - first["link"]["packets"]
        return {"dropped": dropped, "offered": offered, "fraction": round(dropped / offered, 5) if offered else None}

    loss = relay_loss(drop + 2, restore)
    last = rows[-1][1] if rows else {}
    return {
        "schedule_s": list(schedule),
        "drop_at_s": round(drop - connected, 2),
        "restore_at_s": round(restore - connected, 2),
        "end_at_s": round(times["end"] - connected, 2),
        "pre_drop_bps": median_in(sent, drop - 4, drop),
        "first_under_capacity_s": next((round(t - drop, 2) for t, rate in sent if drop <= t <= restore and rate < 1_000_000), None),
        "rate_at_1mbit_bps": median_in(sent, drop + 2, restore),
        "max_rate_after_adapt_bps": max((rate for t, rate in sent if drop + 2 <= t <= restore), default=None),
        "loss_after_adapt": loss["fraction"] if loss else None,
        "relay_loss_after_adapt": loss,
        "link_loss_after_adapt": link_loss(drop + 2, restore),
        # At 5 Mbit/s, before the drop (from 3 s after connecting) and after the restore (from 10 s).
        "relay_loss_before_drop": relay_loss(connected + 3, drop),
        "link_loss_before_drop": link_loss(connected + 3, drop),
        "relay_loss_after_restore": relay_loss(restore + 10, times["end"]),
        "link_loss_after_restore": link_loss(restore + 10, times["end"]),
        "recovery_s": first_at_least(sent, restore, 4_000_000),
        "estimate_recovery_s": first_at_least(estimates, restore, 4_000_000),
        "probes": {"clusters": last.get("probeClusters"), "successful": last.get("successfulProbes"),
                   "padding_packets": last.get("paddingPacketsSent")},
        "series": [{"t": round(t - connected, 2), "send_kbps": p["sentKbps"], "estimate_kbps": p["estimateKbps"],
                    "loss": p.get("feedbackLoss"), "probe": [p.get("lastProbeKbps"), p.get("estimateAtLastProbeKbps"), p.get("probeClusters")],
                    "layers": [[layer.get("rid"), layer.get("active"), layer.get("targetKbps"), layer.get("sentKbps")]
                               for layer in p.get("layers", [])]} for t, p in rows],
    }


def windowed(points, span=1.0):
    """[(t, cumulative count)] -> [(t, count per second over the `span` before t)] (from the first
    point with `span` of history)."""
    rates, j = [], 0
    for i, (t, count) in enumerate(points):
        while j + 1 < i and points[j + 1][0] <= t - span:
            j += 1
        if i > 0 and points[j][0] <= t - span:
            rates.append((t, (count - points[j][1]) / (t - points[j][0])))
    return rates


def first_at_least(rates, since, level):
    """Seconds from `since` to the first rate at or above `level`, or None."""
    return next((round(t - since, 2) for t, rate in rates if t >= since and rate >= level), None)


def median_in(rates, start, end):
    values = [rate for t, rate in rates if start <= t <= end]
    return statistics.median(values) if values else None


def uplink_figures(page, polls, times, schedule):
    """The figures of a chromium-uplink run; rates in bit/s, times in s after the change they follow.
    "Send rate": what Chromium's outbound-rtp streams sent (RTP headers, padding and payloads, video
    and audio, retransmissions included) over the 1 s before each 250 ms sample; the link also
    carries WIRE_OVERHEAD bytes a packet (`wire_…`).

      under_capacity_after_s       from the drop until the send rate is under 1 Mbit/s and stays so
                                   until the restore (None: it never stays)
      first_under_capacity_s       from the drop until it is first under 1 Mbit/s
      max_rate_after_adapt_bps, over_capacity_after_adapt_s
                                   from 2 s after the drop to the restore: its highest, and how long
                                   it was at or over 1 Mbit/s
      loss_after_adapt             from 2 s after the drop to the restore, at the relay (admin API):
                                   lost / (received + lost), net of the retransmissions that came
      link_loss_after_adapt        the same stretch at the qdisc: dropped / offered
      recovery_s                   from the restore until the send rate reaches 80% of its median
                                   over the 5 s before the drop (pre_drop_bps); None: not in the run
      recovery_to_2500k_s          ... until it reaches 2.5 Mbit/s
      estimate_recovery_s          ... until availableOutgoingBitrate reaches 80% of its pre-drop median
      series                       every 0.5 s from the connection: the page's and the relay's view
    """
    samples = sorted((s for s in page.get("samples", []) if s.get("wall")), key=lambda s: s["wall"])
    at = lambda s: s["wall"] / 1000
    # What Chromium sends: RTP headers (with padding) and payloads of every outbound stream.
    sent = windowed([(at(s), 8 * (s["allBytesSent"] + s["allHeaderBytesSent"])) for s in samples])
    wire = windowed([(at(s), 8 * (s["allBytesSent"] + s["allHeaderBytesSent"] + WIRE_OVERHEAD * s["allPacketsSent"]))
                     for s in samples])
    retransmitted = dict(windowed([(at(s), 8 * s["retransmittedBytesSent"]) for s in samples]))
    estimates = [(at(s), s["availableOutgoingBitrate"]) for s in samples if s.get("availableOutgoingBitrate") is not None]
    connected, drop, restore = times["connected"], times["drop"], times["restore"]
    end = samples[-1]["wall"] / 1000 if samples else restore

    def over_capacity(start, stop, capacity):
        """How long the 1 s rate was at or over `capacity` between `start` and `stop` (sample to sample)."""
        inside = [(t, rate) for t, rate in sent if start <= t <= stop]
        return round(sum(b[0] - a[0] for a, b in zip(inside, inside[1:]) if a[1] >= capacity), 2)

    def under_after(rates, capacity):
        """Seconds from the drop until the rate is under `capacity` and stays there until the restore."""
        since = None
        for t, rate in rates:
            if drop <= t <= restore:
                since = (since or t) if rate < capacity else None
        return round(since - drop, 2) if since is not None else None

    good = [p for p in polls if "error" not in p and p.get("tracks")]
    last = lambda series, t: next((value for when, value in reversed(series) if when <= t), None)
    samples_at = [(at(s), s) for s in samples]

    def relay_loss(start, stop, kinds=("video", "audio")):
        """Lost / (received + lost) at the relay between the first poll after `start` and the last
        before `stop` (its counts: RFC 3550's cumulative loss, net of retransmissions that came)."""
        first = next((p for p in good if p["wall"] >= start), None)
        final = next((p for p in reversed(good) if p["wall"] <= stop), None)
        if first is None or final is None or final["wall"] <= first["wall"]:
            return None
        total = lambda p, key: sum(track[key] or 0 for track in p["tracks"] if track["kind"] in kinds)
        lost = total(final, "packetsLost") - total(first, "packetsLost")
        received = total(final, "packets") - total(first, "packets")
        return {"lost": lost, "received": received, "fraction": round(lost / (received + lost), 5) if received + lost > 0 else None}

    def link_loss(start, stop):
        """Packets the qdisc dropped / offered to it, between the same kind of polls."""
        linked = [p for p in polls if p.get("link")]
        first = next((p for p in linked if p["wall"] >= start), None)
        final = next((p for p in reversed(linked) if p["wall"] <= stop), None)
        if first is None or final is None:
            return None
        dropped = final["link"]["dropped"] - first["link"]["dropped"]
        offered = dropped + final["link"]["packets"] - first["link"]["packets"]
        return {"dropped": dropped, "offered": offered, "fraction": round(dropped / offered, 5) if offered else None}

    def page_delta(key, start, stop):
        """How much a cumulative sample field grew from the last sample before `start` to the last before `stop`."""
        first = last(samples_at, start)
        final = last(samples_at, stop)
        return final[key] - first[key] if first and final and final.get(key) is not None and first.get(key) is not None else None

    def relay_delta(key, start, stop):
        """How much a counter of the cart's published tracks grew, polls as in `page_delta`."""
        first = last([(p["wall"], p) for p in good], start)
        final = last([(p["wall"], p) for p in good], stop)
        return sum(track[key] or 0 for track in final["tracks"]) - sum(track[key] or 0 for track in first["tracks"]) if first and final else None

    pre = median_in(sent, drop - 5, drop)
    pre_estimate = median_in(estimates, drop - 5, drop)
    loss = relay_loss(drop + 2, restore)
    figures = {
        "schedule_s": list(schedule),
        "capacity_bps": [5_000_000, 1_000_000, 5_000_000],
        # Seconds after the publish connection connected, wall clock (the tc change's return).
        "drop_at_s": round(drop - connected, 2),
        "restore_at_s": round(restore - connected, 2),
        "end_at_s": round(end - connected, 2),
        "pre_drop_bps": pre,
        "pre_drop_estimate_bps": pre_estimate,
        "under_capacity_after_s": under_after(sent, 1_000_000),
        "first_under_capacity_s": next((round(t - drop, 2) for t, rate in sent if drop <= t <= restore and rate < 1_000_000), None),
        "rate_at_1mbit_bps": median_in(sent, drop + 2, restore),
        "wire_rate_at_1mbit_bps": median_in(wire, drop + 2, restore),
        "max_rate_after_adapt_bps": max((rate for t, rate in sent if drop + 2 <= t <= restore), default=None),
        "over_capacity_after_adapt_s": over_capacity(drop + 2, restore, 1_000_000),
        "loss_after_adapt": loss["fraction"] if loss else None,
        "relay_loss_after_adapt": loss,
        "relay_loss_after_adapt_video": relay_loss(drop + 2, restore, ("video",)),
        "relay_loss_first_2s": relay_loss(drop, drop + 2),
        "link_loss_after_adapt": link_loss(drop + 2, restore),
        "link_loss_first_2s": link_loss(drop, drop + 2),
        # Repair in the first 2 s: what Chromium retransmitted, and the NACK packets the relay sent.
        "retransmitted_bytes_first_2s": page_delta("retransmittedBytesSent", drop, drop + 2),
        "relay_nacks_first_2s": relay_delta("nacks", drop, drop + 2),
        "recovery_s": first_at_least(sent, restore, 0.8 * pre) if pre else None,
        "recovery_to_2500k_s": first_at_least(sent, restore, 2_500_000),
        "estimate_recovery_s": first_at_least(estimates, restore, 0.8 * pre_estimate) if pre_estimate else None,
        "end_bps": median_in(sent, end - 5, end),
        "end_estimate_bps": median_in(estimates, end - 5, end),
    }

    # The series a human plots: every 0.5 s after connecting, the last sample and poll before it.
    feedback = [(p["wall"], p["congestionFeedback"]["feedbackPackets"]) for p in good if p.get("congestionFeedback")]
    feedback_rates = windowed(feedback)
    link_rates = windowed([(p["wall"], 8 * p["link"]["bytes"]) for p in polls if p.get("link")])
    kbps = lambda value: round(value / 1000) if value is not None else None
    series = []
    for step in range(int(2 * (end - connected)) + 1):
        t = connected + step / 2
        sample = last(samples_at, t) or {}
        poll = last([(p["wall"], p) for p in good], t) or {}
        link = last([(p["wall"], p["link"]) for p in polls if p.get("link")], t) or {}
        tracks = poll.get("tracks", [])
        series.append({
            "t": step / 2,
            "capacity_kbps": 1000 if drop <= t < restore else 5000,
            "send_kbps": kbps(last(sent, t)),
            "wire_kbps": kbps(last(wire, t)),
            "retransmitted_kbps": kbps(retransmitted.get(sample.get("wall", 0) / 1000)),
            "target_kbps": kbps(sample.get("targetBitrate")),
            "estimate_kbps": kbps(sample.get("availableOutgoingBitrate")),
            "width": sample.get("frameWidth"),
            "fps": sample.get("framesPerSecond"),
            "quality_limitation": sample.get("qualityLimitationReason"),
            "rtt_ms": round(sample["roundTripTime"] * 1000) if sample.get("roundTripTime") is not None else None,
            "remote_lost": sample.get("remotePacketsLost"),
            "nacks_to_chromium": sample.get("nackCount"),
            "relay_kbps": round(sum(track["bitrateKbps"] or 0 for track in tracks)) if tracks else None,
            "relay_lost": sum(track["packetsLost"] or 0 for track in tracks) if tracks else None,
            "relay_nacks": sum(track["nacks"] or 0 for track in tracks) if tracks else None,
            "feedback_per_s": round(last(feedback_rates, t)) if last(feedback_rates, t) is not None else None,
            "link_kbps": kbps(last(link_rates, t)),
            "link_dropped": link.get("dropped"),
        })
    figures["series"] = series
    return figures


def main():
    global http_host
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--scenario", choices=["webrtcbin-cart", "webrtcbin-expert", "chromium-cart", "chromium-simulcast",
                                               "chromium-uplink", "client-uplink"], required=True)
    parser.add_argument("--client-bin", help="client-uplink: the relais-client binary")
    # 4.4 Mbit/s of video and audio, with UDP/IP/SRTP and Ethernet headers, stays under the 5 Mbit/s link.
    parser.add_argument("--bitrate", type=int, default=4400, help="client-uplink: relais-client's video bitrate (kbit/s)")
    parser.add_argument("--duration", type=float, help="how long the cart publishes (default 20 s; chromium-simulcast: 25 s)")
    parser.add_argument("--phases", default="q,h,f,q",
                        help="chromium-simulcast: the layers the expert asks for in turn (auto: the relay's choice)")
    # 20 s after the restore: Chromium took 6.5-12.7 s to climb back to 80% of its rate before the drop.
    parser.add_argument("--schedule", default="12,15,20",
                        help="chromium-uplink: seconds at 5, 1 and 5 Mbit/s, from the publish connection's connecting")
    args = parser.parse_args()
    if args.scenario in ("chromium-uplink", "client-uplink"):
        http_host = MEDIA_HOST
    if args.duration is None:
        args.duration = 25 if args.scenario == "chromium-simulcast" else 20
    try:
        network()
        history = tempfile.mkdtemp(prefix="relais-netns-")
        server = subprocess.Popen(
            [args.server_bin, "serve", "--token-secret", SECRET, "--http-host", http_host, "--http-port", str(HTTP_PORT),
             "--media-host", MEDIA_HOST,
             "--media-port", "40000", "--media-loops", "1", "--history-path", os.path.join(history, "history.sqlite"),
             "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(server, time.monotonic() + 20)
    except Exception as error:
        print(json.dumps({"error": f"setup: {error!r}"}))
        sys.exit(2)

    url = f"ws://{http_host}:{HTTP_PORT}/v1/signaling"
    room = "interop-" + args.scenario
    cart_token = token(args.server_bin, "--room", room, "--role", "cart", "--name", "cart")
    expert_token = token(args.server_bin, "--room", room, "--role", "expert", "--name", "expert1")
    webrtcbin = [sys.executable, os.path.join(HERE, "webrtcbin_room.py"), "--url", url, "--room", room]
    # aiortc lives in the interpreter the other end-to-end tests use (python3 on PATH).
    aiortc = ["python3", os.path.join(HERE, "aiortc_room.py"), "--url", url, "--room", room]
    try:
        if args.scenario == "chromium-cart":
            # The page leaves when its time is up: the admin API is read while it still publishes.
            page, feedback = while_page_runs("chromium_cart.html", {"url": url, "room": room, "token": cart_token,
                                                                    "seconds": args.duration},
                                             args.duration, args.duration * 0.75, lambda: publish_feedback(args.server_bin, room))
            report = {"cart": page, "media": media_counters(args.server_bin), "publish_feedback": feedback}
        elif args.scenario == "chromium-simulcast":
            # 3 s decoding at the relay's default layer, then each phase; about 6 s for joining,
            # connecting and the first frames, and the page's last half second. The camera runs at
            # 30 fps, so the expert's 50 ms samples see a frame gap of 200 ms only in a freeze.
            phases = args.phases.split(",")
            warmup = 3
            phase_seconds = max(2.0, (args.duration - warmup - 6) / len(phases))
            fields = {"url": url, "room": room, "cartToken": cart_token, "expertToken": expert_token,
                      "seconds": args.duration, "phases": args.phases, "phaseSeconds": phase_seconds,
                      "warmupSeconds": warmup}
            page, session = while_page_runs("chromium_simulcast.html", fields, args.duration, args.duration * 0.6,
                                            lambda: admin(args.server_bin, f"/v1/admin/sessions/{room}"), camera_fps=30)
            report = {"page": page, "session": session, "media": media_counters(args.server_bin)}
        elif args.scenario == "chromium-uplink":
            schedule = [float(seconds) for seconds in args.schedule.split(",")]
            clips = tempfile.mkdtemp(prefix="relais-noise-")
            video = os.path.join(clips, "noise.y4m")
            try:
                noise_video(video, amplitude=24)
                page, polls, times, media = chromium_uplink(args.server_bin, url, room, cart_token, schedule, video)
            finally:
                shutil.rmtree(clips, ignore_errors=True)
            report = {"cart": {key: page.get(key) for key in ("errors", "connectedAt", "error")},
                      "media": media,
                      "publish_feedback": next((p["congestionFeedback"] for p in reversed(polls) if p.get("congestionFeedback")), None)}
            report["cart"]["samples"] = len(page.get("samples", []))
            if "error" in page:
                report["cart"]["page"] = page.get("page")
            else:
                report.update(uplink_figures(page, polls, times, schedule))
        elif args.scenario == "client-uplink":
            schedule = [float(seconds) for seconds in args.schedule.split(",")]
            run, polls, times, media = client_uplink(args.server_bin, args.client_bin, url, room, cart_token, schedule, args.bitrate)
            report = {"cart": {key: run.get(key) for key in ("error", "stderr", "status")}, "media": media,
                      "publish_feedback": next((p["congestionFeedback"] for p in reversed(polls) if p.get("congestionFeedback")), None)}
            if "error" not in run:
                report.update(client_uplink_figures(run, polls, times, schedule))
        elif args.scenario == "webrtcbin-cart":
            cart = subprocess.Popen(webrtcbin + ["--token", cart_token, "--role", "cart", "--duration", str(args.duration)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            expert = run_json(aiortc + ["--tokens", json.dumps({"expert1": expert_token}), "--scenario", "expert",
                                        "--timeout", str(args.duration - 5)], timeout=args.duration + 30)
            counters = media_counters(args.server_bin)
            out, err = cart.communicate(timeout=args.duration + 30)
        else:
            cart = subprocess.Popen(aiortc + ["--tokens", json.dumps({"cart": cart_token}), "--scenario", "cart",
                                              "--duration", str(args.duration)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            expert = run_json(webrtcbin + ["--token", expert_token, "--role", "expert", "--timeout", str(args.duration - 5)],
                              timeout=args.duration + 30)
            counters = media_counters(args.server_bin)
            out, err = cart.communicate(timeout=args.duration + 30)
        if args.scenario.startswith("webrtcbin-"):
            lines = [line for line in out.splitlines() if line.startswith("{")]
            cart_report = json.loads(lines[-1]) if lines else {"error": "no report", "stderr_tail": err[-1500:]}
            report = {"cart": cart_report, "expert": expert, "media": counters}
    finally:
        stop(server)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
