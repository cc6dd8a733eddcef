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

Prints one JSON report: each peer's report and the relay's media counters
(GET /v1/admin/media); for chromium-simulcast also the room's session as the page runs
(GET /v1/admin/sessions/<room>: the relay's view of each layer). Exit 0 when the run completed (the
Swift test judges), 2 on a setup error.
"""

import argparse
import asyncio
import functools
import http.server
import json
import os
import secrets
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
            socket.create_connection(("127.0.0.1", HTTP_PORT), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("relais-server did not become ready")


def admin(server_bin, path):
    operator = token(server_bin, "--operator", "--name", "interop-test")
    request = urllib.request.Request(f"http://127.0.0.1:{HTTP_PORT}{path}", headers={"Authorization": f"Bearer {operator}"})
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


def serve_page():
    """Serves this directory on loopback, so the page has a secure origin (getUserMedia needs one)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=HERE)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
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


def chromium_page(page, fields, duration, camera_fps=None):
    """Opens `page` (beside this script) in headless Chromium with `fields` in its URL fragment, and
    returns its `window.report` once it says it is done. The fake camera runs at 20 fps unless
    `camera_fps` is given (it ignores getUserMedia's frameRate)."""
    page_port = serve_page()
    fragment = urllib.parse.urlencode(fields)
    profile = tempfile.mkdtemp(prefix="relais-chromium-")
    camera = "--use-fake-device-for-media-stream" + (f"=fps={camera_fps}" if camera_fps else "")
    browser = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", camera, "--use-fake-ui-for-media-stream",
         "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=9333", f"--user-data-dir={profile}",
         f"http://127.0.0.1:{page_port}/{page}#{fragment}"],
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--scenario", choices=["webrtcbin-cart", "webrtcbin-expert", "chromium-cart", "chromium-simulcast"],
                        required=True)
    parser.add_argument("--duration", type=float, help="how long the cart publishes (default 20 s; chromium-simulcast: 25 s)")
    parser.add_argument("--phases", default="q,h,f,q",
                        help="chromium-simulcast: the layers the expert asks for in turn (auto: the relay's choice)")
    args = parser.parse_args()
    if args.duration is None:
        args.duration = 25 if args.scenario == "chromium-simulcast" else 20
    try:
        network()
        history = tempfile.mkdtemp(prefix="relais-netns-")
        server = subprocess.Popen(
            [args.server_bin, "serve", "--token-secret", SECRET, "--http-port", str(HTTP_PORT), "--media-host", MEDIA_HOST,
             "--media-port", "40000", "--media-loops", "1", "--history-path", os.path.join(history, "history.sqlite"),
             "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(server, time.monotonic() + 20)
    except Exception as error:
        print(json.dumps({"error": f"setup: {error!r}"}))
        sys.exit(2)

    url = f"ws://127.0.0.1:{HTTP_PORT}/v1/signaling"
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
        if not args.scenario.startswith("chromium-"):
            lines = [line for line in out.splitlines() if line.startswith("{")]
            cart_report = json.loads(lines[-1]) if lines else {"error": "no report", "stderr_tail": err[-1500:]}
            report = {"cart": cart_report, "expert": expert, "media": counters}
    finally:
        stop(server)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
