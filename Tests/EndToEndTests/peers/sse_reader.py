#!/usr/bin/env python3
"""Reads the relay's admin event stream (server-sent events) like an operator's dashboard would.

Prints one JSON line per event; exits 0 once an event of type --until arrived (optionally for
--participant), 1 on timeout. Prints `open` first, when the stream's first comment arrived.
"""
import argparse
import json
import sys
import threading
import urllib.request


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--until", required=True)
    parser.add_argument("--participant")
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()

    timer = threading.Timer(args.timeout, lambda: (print("timeout", flush=True), sys.stdout.flush(), __import__("os")._exit(1)))
    timer.start()
    request = urllib.request.Request(args.url, headers={"Authorization": f"Bearer {args.token}", "Accept": "text/event-stream"})
    with urllib.request.urlopen(request) as response:
        if response.headers.get("Content-Type", "").split(";")[0] != "text/event-stream":
            print("not an event stream", flush=True)
            return 1
        event_type = None
        for raw in response:
            line = raw.decode("utf-8").rstrip("\n")
            if line.startswith(":"):
                print("open", flush=True)
            elif line.startswith("event: "):
                event_type = line[len("event: "):]
            elif line.startswith("data: "):
                event = json.loads(line[len("data: "):])
                assert event["type"] == event_type, (event, event_type)
                print(json.dumps(event), flush=True)
                if event["type"] == args.until and (args.participant is None or event.get("participant") == args.participant):
                    timer.cancel()
                    return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
