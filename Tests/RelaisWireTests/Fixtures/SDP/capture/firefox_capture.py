#!/usr/bin/env python3
"""Captures SDP from Debian's Firefox ESR, headless, through WebDriver BiDi: a plain audio+video
offer, a simulcast offer (three rids), and Firefox's answer to another stack's offer. Runs the same
script as chromium_capture.py. Needs `websocket-client` from PyPI; no ICE servers are configured.

    python3 firefox_capture.py OUT_DIR OTHER_STACK_OFFER.sdp
"""

import json
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

import websocket

PORT = 9334


def main(out: pathlib.Path, other: pathlib.Path) -> None:
    script = pathlib.Path(__file__).with_name("chromium_capture.js").read_text()
    with tempfile.TemporaryDirectory() as profile:
        # Host candidates only, and real addresses rather than mDNS names, like a cart on a LAN.
        pathlib.Path(profile, "user.js").write_text(
            'user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);\n'
            'user_pref("remote.active-protocols", 1);\n')
        browser = subprocess.Popen(
            ["firefox-esr", "--headless", "--profile", profile, f"--remote-debugging-port={PORT}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sys.exit("firefox did not open its remote protocol port")
                    time.sleep(0.2)  # polling for the browser to listen
            ws = websocket.create_connection(f"ws://127.0.0.1:{PORT}/session", timeout=60, suppress_origin=True)
            next_id = 0

            def call(method, params):
                nonlocal next_id
                next_id += 1
                ws.send(json.dumps({"id": next_id, "method": method, "params": params}))
                while True:
                    reply = json.loads(ws.recv())
                    if reply.get("id") == next_id:
                        if reply.get("type") == "error":
                            sys.exit(f"{method}: {reply}")
                        return reply["result"]

            session = call("session.new", {"capabilities": {}})
            version = f'{session["capabilities"]["browserName"]} {session["capabilities"]["browserVersion"]}'
            context = call("browsingContext.getTree", {})["contexts"][0]["context"]
            expression = f"{script}\ncapture({json.dumps(other.read_text())})"
            result = call("script.evaluate", {"expression": expression, "target": {"context": context}, "awaitPromise": True})
            if result.get("type") != "success":
                sys.exit(f"capture failed: {result}")
            captured = json.loads(result["result"]["value"])
        finally:
            browser.terminate()
            browser.wait()
    (out / "firefox-offer.sdp").write_text(captured["offer"], newline="")
    (out / "firefox-simulcast-offer.sdp").write_text(captured["simulcast"], newline="")
    name = other.name.replace("-offer.sdp", "")
    (out / f"firefox-answer-to-{name}.sdp").write_text(captured["answer"], newline="")
    print(version)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
