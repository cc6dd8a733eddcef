#!/usr/bin/env python3
"""Captures SDP from Debian's Chromium, headless, through the DevTools protocol: a plain
audio+video offer, a simulcast offer (three rids), and Chromium's answer to another stack's offer.
Needs `websocket-client` from PyPI. Nothing leaves the machine: no ICE servers are configured.

    python3 chromium_capture.py OUT_DIR OTHER_STACK_OFFER.sdp
"""

import json
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def main(out: pathlib.Path, other: pathlib.Path) -> None:
    script = pathlib.Path(__file__).with_name("chromium_capture.js").read_text()
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=9333",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            targets = []
            while not targets:
                if time.monotonic() > deadline:
                    sys.exit("chromium did not open its DevTools port")
                try:
                    targets = [t for t in json.load(urllib.request.urlopen("http://127.0.0.1:9333/json")) if t["type"] == "page"]
                except OSError:
                    time.sleep(0.2)  # polling for the browser to listen
            ws = websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=60)
            expression = f"{script}\ncapture({json.dumps(other.read_text())})"
            ws.send(json.dumps({"id": 1, "method": "Runtime.evaluate",
                                "params": {"expression": expression, "awaitPromise": True, "returnByValue": True}}))
            while True:
                reply = json.loads(ws.recv())
                if reply.get("id") == 1:
                    break
            value = reply["result"]["result"].get("value")
            if value is None:
                sys.exit(f"capture failed: {reply}")
            result = json.loads(value)
            version = json.load(urllib.request.urlopen("http://127.0.0.1:9333/json/version"))["Browser"]
        finally:
            browser.terminate()
            browser.wait()
    (out / "chromium-offer.sdp").write_text(result["offer"], newline="")
    (out / "chromium-simulcast-offer.sdp").write_text(result["simulcast"], newline="")
    name = other.name.replace("-offer.sdp", "")
    (out / f"chromium-answer-to-{name}.sdp").write_text(result["answer"], newline="")
    print(version)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
