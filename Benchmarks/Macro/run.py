#!/usr/bin/env python3
"""Macro benchmark of the relay: CPU per forwarded packet under HD consultation load.

Builds release binaries, then for each load point starts `relais-server` on loopback and drives
it with `relais-client load` (carts replay pre-encoded 1280x720 VP8 at 2.5 Mbit/s, keyframe every
2 s, plus Opus; experts receive without decoding). After the first forwarded packets and a
warm-up, it measures over a steady window:

  - server CPU time (utime+stime from /proc/PID/stat) per forwarded packet, in microseconds;
  - forwarded packets per second (the server's own counters, GET /v1/admin/media);
  - loss seen by the experts (the generator's summary);
  - the relay's added latency p50/p99 (in-server sampled histogram: receive to batch flush);
  - resident memory per subscriber ((VmRSS during load - VmRSS idle) / subscribers);
  - the generator's CPU (% of one core) and the machine's; a run where the generator or the
    machine is saturated is flagged, since then the relay is not what limits the figures.

Prints one line per load point and writes JSON (default Benchmarks/Macro/results.json).

    python3 Benchmarks/Macro/run.py                      # all points: 2x2, 5x3, 10x3
    python3 Benchmarks/Macro/run.py --points 10x3 --window 30
    python3 Benchmarks/Macro/run.py --skip-build --server-bin /path/to/other/relais-server
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "macro-benchmark-secret-0123456789abcdef"  # fixed, >= 32 bytes, loopback only
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_split(pid):
    """(utime, stime) of a process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_cpu_seconds(pid):
    return sum(proc_cpu_split(pid))


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def machine_cpu():
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


class Stats:
    """Reads the server's per-loop RelayStatistics."""

    def __init__(self, port, token):
        self.url = f"http://127.0.0.1:{port}/v1/admin/media"
        self.token = token
        self.available = True

    def read(self, reset=False):
        request = urllib.request.Request(self.url + ("?resetLatency=true" if reset else ""))
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)["loops"]
        except urllib.error.HTTPError as error:
            if error.code == 404:
                self.available = False
                return None
            raise


def operator_token(server_bin):
    """An operator token if this server mints them (`token --operator`), else None."""
    help_text = subprocess.run([server_bin, "token", "--help"], capture_output=True, text=True).stdout
    if "--operator" not in help_text:
        return None
    result = subprocess.run(
        [server_bin, "token", "--operator", "--name", "macro-benchmark", "--token-secret", SECRET],
        capture_output=True, text=True)
    return result.stdout.strip() or None if result.returncode == 0 else None


def wait_http(port, process, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"relais-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("relais-server did not open its HTTP port")


def sum_loops(loops, key):
    return sum(loop[key] for loop in loops)


def run_point(args, rooms, subscribers, server_bin, client_bin):
    http_port = free_port()
    media_port = free_port(socket.SOCK_DGRAM)
    server_cmd = [
        server_bin, "serve", "--token-secret", SECRET, "--http-port", str(http_port),
        "--media-port", str(media_port), "--messages-per-second", "1000", "--log-level", "warning",
    ]
    if args.media_loops is not None:
        server_cmd += ["--media-loops", str(args.media_loops)]
    log = open(os.path.join(args.log_dir, f"server-{rooms}x{subscribers}.log"), "w")
    server = subprocess.Popen(server_cmd, stdout=log, stderr=subprocess.STDOUT)
    client = None
    try:
        wait_http(http_port, server)
        time.sleep(1)
        rss_idle = proc_rss_kib(server.pid)
        stats = Stats(http_port, operator_token(server_bin))
        stats.read()

        client_duration = args.warmup + args.window + 8
        client_cmd = [
            client_bin, "load", "--url", f"ws://127.0.0.1:{http_port}/v1/signaling", "--token-secret", SECRET,
            "--rooms", str(rooms), "--experts-per-room", str(subscribers), "--width", "1280", "--height", "720",
            "--bitrate", "2500", "--fps", "30", "--keyframe-interval", "2", "--duration", str(client_duration), "--json",
        ]
        client = subprocess.Popen(client_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        # Start of media: the server forwards (or, without the statistics route, sends) packets.
        deadline = time.time() + 120
        while True:
            if client.poll() is not None:
                raise RuntimeError(f"relais-client exited early: {client.stderr.read()[-2000:]}")
            if time.time() > deadline:
                raise RuntimeError("no media forwarded within 120 s")
            loops = stats.read()
            if loops is not None and sum_loops(loops, "forwarded") > 0:
                break
            if loops is None and proc_cpu_seconds(server.pid) > 0.5:  # older server: no counters
                break
            time.sleep(0.25)
        time.sleep(args.warmup)

        # Steady window.
        start_loops = stats.read(reset=True)
        t0 = time.monotonic()
        split0, gen0, machine0 = proc_cpu_split(server.pid), proc_cpu_seconds(client.pid), machine_cpu()
        profiler = None
        if args.perf_record:
            profiler = subprocess.Popen(
                ["perf", "record", "-e", "cpu-clock", "-F", "1999", "-g", "-p", str(server.pid), "-o",
                 os.path.join(args.log_dir, f"perf-{rooms}x{subscribers}.data")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(args.window)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait()
        end_loops = stats.read()
        t1 = time.monotonic()
        split1, gen1, machine1 = proc_cpu_split(server.pid), proc_cpu_seconds(client.pid), machine_cpu()
        cpu0, cpu1 = sum(split0), sum(split1)
        rss = proc_rss_kib(server.pid)

        out, err = client.communicate(timeout=client_duration + 120)
        summary = None
        for line in reversed(out.strip().splitlines()):
            try:
                summary = json.loads(line)
                break
            except json.JSONDecodeError:
                continue
        if summary is None:
            raise RuntimeError(f"no summary from relais-client: {err[-2000:]}")

        elapsed = t1 - t0
        server_cpu = cpu1 - cpu0
        generator_cpu = gen1 - gen0
        busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1])
        if end_loops is not None:
            forwarded = sum_loops(end_loops, "forwarded") - sum_loops(start_loops, "forwarded")
            forwarded_source = "server counters"
            with_samples = [loop for loop in end_loops if loop["latencySamples"] > 0]
            p50 = max((loop["latencyMicrosecondsP50"] for loop in with_samples), default=None)
            p99 = max((loop["latencyMicrosecondsP99"] for loop in with_samples), default=None)
            lmax = max((loop["latencyMicrosecondsMax"] for loop in with_samples), default=None)
            samples = sum(loop["latencySamples"] for loop in with_samples)
            feedback = (sum_loops(end_loops, "transportFeedbackToPublishers") - sum_loops(start_loops, "transportFeedbackToPublishers")
                        if "transportFeedbackToPublishers" in end_loops[0] else None)
        else:
            # A server without the statistics route: estimate from what the experts received.
            forwarded = summary["packetsReceived"] * elapsed / max(summary["durationSeconds"], 1e-9)
            forwarded_source = "estimated from client"
            p50 = p99 = lmax = None
            samples = 0
            feedback = None
        subscribers_total = rooms * subscribers
        generator_percent = generator_cpu / elapsed * 100
        flags = []
        if generator_percent > args.generator_limit:
            flags.append("generator-bound")
        if busy > 0.95:
            flags.append("machine-saturated")
        if summary["connected"] < summary["participants"]:
            flags.append(f"only {summary['connected']}/{summary['participants']} connected")
        return {
            "rooms": rooms,
            "subscribersPerRoom": subscribers,
            "windowSeconds": round(elapsed, 2),
            "serverCPUSeconds": round(server_cpu, 3),
            "serverCPUPercentOfOneCore": round(server_cpu / elapsed * 100, 1),
            "serverKernelFraction": round((split1[1] - split0[1]) / server_cpu, 3) if server_cpu else None,
            "forwarded": int(forwarded),
            "forwardedSource": forwarded_source,
            "forwardedPerSecond": round(forwarded / elapsed, 1),
            "cpuMicrosecondsPerForwardedPacket": round(server_cpu / forwarded * 1e6, 2) if forwarded else None,
            "lossFraction": summary["lossFraction"],
            # TWCC compounds the relay sent publishers over the window (None: a relay without the counter).
            "transportFeedbackPerSecond": round(feedback / elapsed, 1) if feedback is not None else None,
            "latencySamples": samples,
            "relayLatencyMicrosecondsP50": p50,
            "relayLatencyMicrosecondsP99": p99,
            "relayLatencyMicrosecondsMax": lmax,
            "rssKiB": rss,
            "rssIdleKiB": rss_idle,
            "rssKiBPerSubscriber": round((rss - rss_idle) / subscribers_total, 1),
            "generatorCPUPercentOfOneCore": round(generator_percent, 1),
            "machineBusyFraction": round(busy, 3),
            "flags": flags,
            "client": {k: summary.get(k) for k in ("participants", "connected", "packetsSent", "packetsReceived", "packetsLost", "errors")},
        }
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def describe(r):
    def fmt(value, spec):
        return "-" if value is None else format(value, spec)
    return (
        f"{r['rooms']:>3} rooms x {r['subscribersPerRoom']} subs: "
        f"{fmt(r['cpuMicrosecondsPerForwardedPacket'], '6.2f')} us CPU/fwd pkt, "
        f"{r['forwardedPerSecond']:8.0f} fwd pkt/s, server {r['serverCPUPercentOfOneCore']:5.1f}% of a core, "
        f"{fmt(r['serverKernelFraction'] and r['serverKernelFraction'] * 100, '.0f')}% in kernel, "
        f"loss {r['lossFraction'] * 100:.3f}%, TWCC {fmt(r.get('transportFeedbackPerSecond'), '.0f')}/s, relay latency p50 {fmt(r['relayLatencyMicrosecondsP50'], '.0f')} us "
        f"p99 {fmt(r['relayLatencyMicrosecondsP99'], '.0f')} us, RSS {r['rssKiBPerSubscriber'] / 1024:.2f} MiB/sub, "
        f"generator {r['generatorCPUPercentOfOneCore']:.0f}% of a core, machine {r['machineBusyFraction'] * 100:.0f}% busy"
        + (f"  [{', '.join(r['flags'])}]" if r["flags"] else "")
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", default="2x2,5x3,10x3", help="load points ROOMSxSUBSCRIBERS, comma-separated")
    parser.add_argument("--warmup", type=float, default=5, help="seconds after the first forwarded packet")
    parser.add_argument("--window", type=float, default=20, help="seconds measured")
    parser.add_argument("--media-loops", type=int, default=None, help="server media loops (default: one per core)")
    parser.add_argument("--generator-limit", type=float, default=90, help="flag a run whose generator uses more than this %% of one core")
    parser.add_argument("--perf-record", action="store_true", help="profile the server over the window (perf record -e cpu-clock -g) into --log-dir")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--scratch-path", default=os.path.join(ROOT, ".build"))
    parser.add_argument("--server-bin", help="relais-server to measure (default: the release build)")
    parser.add_argument("--client-bin", help="relais-client generator (default: the release build)")
    parser.add_argument("--output", default=os.path.join(ROOT, "Benchmarks", "Macro", "results.json"))
    parser.add_argument("--log-dir", default=os.path.join(ROOT, ".build", "macro-logs"))
    args = parser.parse_args()

    if not args.skip_build:
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", args.scratch_path,
                        "--product", "relais-server"], cwd=ROOT, check=True)
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", args.scratch_path,
                        "--product", "relais-client"], cwd=ROOT, check=True)
    bin_dir = os.path.join(args.scratch_path, "release")
    server_bin = args.server_bin or os.path.join(bin_dir, "relais-server")
    client_bin = args.client_bin or os.path.join(bin_dir, "relais-client")
    os.makedirs(args.log_dir, exist_ok=True)

    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "loadAverageAtStart": os.getloadavg()}
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, load average {machine['loadAverageAtStart'][0]:.2f}", flush=True)
    results = []
    for point in args.points.split(","):
        rooms, subscribers = (int(x) for x in point.lower().split("x"))
        result = run_point(args, rooms, subscribers, server_bin, client_bin)
        results.append(result)
        print(describe(result), flush=True)
    with open(args.output, "w") as f:
        json.dump({"machine": machine, "server": server_bin, "warmupSeconds": args.warmup,
                   "windowSeconds": args.window, "points": results}, f, indent=2)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
