#!/usr/bin/env python3
"""Soak test of the relay (not run in CI): hours of consultations must not leak or drop anyone.

Builds release binaries, starts `relais-server` on loopback, and drives it with `relais-client load`
(10 rooms x 1 cart + 2 experts by default, for 30 minutes). Every minute it samples the server's
resident memory (VmRSS) and its participant counters from /metrics. At the end it prints the
memory at minutes 5 and 30, the growth between them, the participants that left for any reason
but a clean `left` (dropped, expired, removed...), and the generator's summary.

    python3 Benchmarks/Soak/soak.py                    # 10 x 3 for 30 minutes
    python3 Benchmarks/Soak/soak.py --minutes 10 --rooms 5

To profile the server's heap, run it under a wrapper (its command line, split on spaces); memory is
then sampled from the server process the wrapper starts, not from the wrapper:

    RELAIS_SOAK_SERVER_WRAPPER="heaptrack -o /tmp/relais-soak" python3 Benchmarks/Soak/soak.py --minutes 8 --rooms 5

Exit 0 when memory grew by less than --max-growth (default 5%) from minute 5 to the end, no
participant was dropped, and the generator saw every participant connected; 1 otherwise.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "Macro"))
from run import SECRET, cpu_model, free_port, operator_token, proc_rss_kib, wait_http  # noqa: E402


def scrape(port, token):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    request.add_header("Authorization", f"Bearer {token}")
    values = {}
    with urllib.request.urlopen(request, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, value = line.rsplit(" ", 1)
            name = re.sub(r'loop="\d+",?', "", name).replace("{}", "")
            values[name] = values.get(name, 0) + float(value)
    return values


def server_process(wrapper_pid, server_bin, timeout=30):
    """The pid running `server_bin`: `wrapper_pid` itself or its newest descendant that does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [wrapper_pid]
        for pid in pids:  # grows while iterating: a breadth-first walk of the descendants
            try:
                if os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(server_bin):
                    return pid
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    pids += [int(child) for child in f.read().split()]
            except OSError:
                continue
        time.sleep(0.2)
    raise RuntimeError(f"no {server_bin} process under pid {wrapper_pid}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--experts-per-room", type=int, default=2)
    parser.add_argument("--max-growth", type=float, default=0.05)
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()

    if not args.skip_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "relais-server"], cwd=ROOT, check=True)
        subprocess.run(["swift", "build", "-c", "release", "--product", "relais-client"], cwd=ROOT, check=True)
    bin_dir = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
    server_bin, client_bin = os.path.join(bin_dir, "relais-server"), os.path.join(bin_dir, "relais-client")

    http_port, media_port = free_port(), free_port()
    wrapper = os.environ.get("RELAIS_SOAK_SERVER_WRAPPER", "").split()
    server = subprocess.Popen(wrapper + [server_bin, "serve", "--token-secret", SECRET, "--http-port", str(http_port),
                               "--media-port", str(media_port), "--history-path", "none", "--log-level", "warning"])
    try:
        wait_http(http_port, server)
        server_pid = server_process(server.pid, server_bin)
        token = operator_token(server_bin)
        duration = args.minutes * 60
        load = subprocess.Popen([client_bin, "load", "--url", f"ws://127.0.0.1:{http_port}/v1/signaling",
                                 "--token-secret", SECRET, "--rooms", str(args.rooms),
                                 "--experts-per-room", str(args.experts_per_room), "--duration", str(duration), "--json"],
                                stdout=subprocess.PIPE, text=True)
        started = time.monotonic()
        samples = []  # (minute, rss MiB, participants)
        minute = 0
        while load.poll() is None:
            time.sleep(1)
            elapsed = time.monotonic() - started
            if elapsed >= (minute + 1) * 60 and elapsed < duration:
                minute += 1
                metrics = scrape(http_port, token)
                rss = proc_rss_kib(server_pid) / 1024
                samples.append((minute, rss, metrics.get("relais_participants", 0)))
                print(f"minute {minute:3d}: rss {rss:7.1f} MiB, participants {metrics.get('relais_participants', 0):.0f}",
                      flush=True)
        summary = json.loads(load.stdout.read().strip().splitlines()[-1])
        metrics = scrape(http_port, token)
    finally:
        # The server itself, so that a wrapper (heaptrack) sees it exit and writes its report.
        os.kill(server_pid if "server_pid" in locals() else server.pid, signal.SIGTERM)
        server.wait(timeout=120 if wrapper else 30)

    left = {k: v for k, v in metrics.items() if k.startswith("relais_participants_left_total")}
    dropped = sum(v for k, v in left.items() if 'reason="left"' not in k)
    at5 = next((rss for m, rss, _ in samples if m == 5), None)
    last_minute, at_end, _ = samples[-1] if samples else (0, None, 0)
    growth = (at_end - at5) / at5 if at5 and at_end else None
    expected = args.rooms * (1 + args.experts_per_room)
    print(json.dumps({
        "machine": f"{os.cpu_count()} cores, {cpu_model()}",
        "minutes": args.minutes, "rooms": args.rooms, "participants": expected,
        "rss_mib_minute_5": at5, f"rss_mib_minute_{last_minute}": at_end,
        "growth": growth, "participants_left": left, "dropped": dropped,
        "generator": {k: summary.get(k) for k in ("participants", "connected", "receivingVideo", "lossFraction", "errors")},
    }, indent=2))
    ok = (growth is not None and growth < args.max_growth and dropped == 0
          and summary.get("connected") == expected == summary.get("participants"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
