#!/usr/bin/env python3
"""Builds the Relais fuzz targets (libFuzzer, with AddressSanitizer where it matters) and runs each.

    python3 Fuzz/run.py [--seconds N] [--targets rtp,sdp] [--nice] [--parallel N]   (make fuzz-ci)
    python3 Fuzz/run.py --campaign [--until 10000000] [--seconds N] [--parallel 2]  (make fuzz)
    python3 Fuzz/run.py --merge         minimise the grown corpora back into Fuzz/Corpus/<target>
    python3 Fuzz/run.py --seed          rebuild Fuzz/Corpus from generated packets and the repository's
                                        own fixtures (SDP captures, signaling transcripts, test vectors)

Every target runs from Fuzz/Corpus/<target> (committed, small) plus .build-fuzz/corpus/<target>
(what the fuzzer found, not committed). A summary table (target, executions, exec/s, crashes,
peak RSS, corpus size) goes to stdout and Fuzz/results.md; crash inputs go to Fuzz/artifacts/.
The exit status is 1 when any target crashed (or failed to start), so CI fails on a new trap.

Two builds: every target in the AddressSanitizer build (.build-fuzz, what CI runs), and, for a
campaign, the pure-Swift targets (`safe` in `relais-fuzz --list`: String and JSON parsing,
negotiation, camera rules) in a libFuzzer-only build (.build-fuzz-safe) that runs them twice as
fast; ASan adds nothing where no unsafe pointer or C library is reached, a Swift trap is the finding.
`--campaign` uses both and records every run in Fuzz/campaign.json (committed), the ledger of
executions per target behind the README's table; with --until N a target stops once its total
reaches N (the time per target is then at most --seconds).
"""
import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "Fuzz"
SCRATCH = ROOT / ".build-fuzz"
SAFE_SCRATCH = ROOT / ".build-fuzz-safe"
BINARY = SCRATCH / "release" / "relais-fuzz"
SAFE_BINARY = SAFE_SCRATCH / "release" / "relais-fuzz"
LEDGER = FUZZ / "campaign.json"
CORPUS = FUZZ / "Corpus"
WORK_CORPUS = SCRATCH / "corpus"
ARTIFACTS = FUZZ / "artifacts"
RESULTS = FUZZ / "results.md"
RSS_LIMIT_MB = 2048


def find_lld():
    """The toolchain's lld: gold cannot link the sanitizer runtime into a SwiftPM executable."""
    swift = shutil.which("swift")
    candidates = [Path(swift).resolve().parent / "ld.lld"] if swift else []
    candidates.append(Path("/opt/swift/usr/bin/ld.lld"))
    for candidate in candidates:
        if candidate.exists():
            return candidate
    found = shutil.which("ld.lld")
    if found:
        return Path(found)
    sys.exit("ld.lld not found next to swift: the fuzz build needs the toolchain's lld")


def build(safe=False):
    """The AddressSanitizer build; with safe=True also the libFuzzer-only one for pure-Swift targets."""
    SCRATCH.mkdir(exist_ok=True)
    toolset = SCRATCH / "toolset.json"
    toolset.write_text(json.dumps({"schemaVersion": "1.0", "linker": {"path": str(find_lld())}}))
    variants = [(SCRATCH, "fuzzer,address")] + ([(SAFE_SCRATCH, "fuzzer")] if safe else [])
    for scratch, sanitizers in variants:
        command = [
            "swift", "build", "-c", "release",
            "--package-path", str(FUZZ), "--scratch-path", str(scratch), "--toolset", str(toolset),
            "-Xswiftc", f"-sanitize={sanitizers}",
        ]
        print("+", " ".join(command), flush=True)
        subprocess.run(command, check=True)


def targets():
    """(name, max_len, needs_asan) of every target, as the binary lists them."""
    out = subprocess.run([str(BINARY), "--list"], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return [(row[0], int(row[1]), row[2] == "asan") for row in rows]


def stat(text, name):
    match = re.findall(rf"stat::{name}:\s+(\d+)", text)
    return int(match[-1]) if match else None


def corpus_size(directories):
    """Distinct inputs and bytes across the directories (libFuzzer names units by content hash)."""
    seen = {}
    for directory in directories:
        if directory.is_dir():
            for path in directory.iterdir():
                if path.is_file():
                    seen.setdefault(path.name, path.stat().st_size)
    return len(seen), sum(seen.values())


def run_target(name, max_len, seconds, nice, binary=BINARY, runs=None):
    work = WORK_CORPUS / name
    seeds = CORPUS / name
    work.mkdir(parents=True, exist_ok=True)
    seeds.mkdir(parents=True, exist_ok=True)
    ARTIFACTS.mkdir(exist_ok=True)
    command = (["nice", "-n", "19"] if nice else []) + [
        str(binary),
        f"-max_total_time={seconds}",
        *([f"-runs={runs}"] if runs else []),
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-max_len={max_len}",
        "-print_final_stats=1",
        "-timeout=10",
        f"-artifact_prefix={ARTIFACTS}/{name}-",
        str(work), str(seeds),
    ]
    env = dict(os.environ, RELAIS_FUZZ_TARGET=name)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")  # Swift globals look like leaks at exit
    log = SCRATCH / "logs" / f"{name}.log"
    log.parent.mkdir(exist_ok=True)
    started = time.monotonic()
    with open(log, "w") as out:
        process = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.monotonic() - started
    text = log.read_text(errors="replace")
    crashed = process.returncode != 0
    executions = stat(text, "number_of_executed_units") or 0
    files, size = corpus_size([work, seeds])
    row = {
        "target": name,
        "executions": executions,
        "exec_per_s": int(executions / elapsed) if elapsed > 0 else 0,
        "crashes": 1 if crashed else 0,
        "peak_rss_mb": stat(text, "peak_rss_mb") or 0,
        "corpus_files": files,
        "corpus_kb": round(size / 1024),
        "seconds": int(elapsed),
        "build": "asan" if binary == BINARY else "fuzzer",
    }
    if crashed:
        artifact = re.findall(r"Test unit written to (\S+)", text)
        row["artifact"] = artifact[-1] if artifact else f"see {log}"
        print(f"!! {name} crashed (exit {process.returncode}); input: {row['artifact']}; log: {log}", flush=True)
        tail = text.splitlines()[-60:]
        print("\n".join(tail), flush=True)
    return row


def table(rows, seconds):
    header = "| target | build | executions | exec/s | crashes | peak RSS (MB) | corpus (files / KB) |"
    lines = [header, "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['build']} | {r['executions']:,} | {r['exec_per_s']:,} | {r['crashes']} | "
            f"{r['peak_rss_mb']} | {r['corpus_files']} / {r['corpus_kb']} |")
    crashed = [r for r in rows if r["crashes"]]
    lines.append("")
    lines.append(f"{len(rows)} targets, at most {seconds} s each (build: asan = libFuzzer + AddressSanitizer, "
                 f"fuzzer = libFuzzer only); "
                 f"{'CRASHED: ' + ', '.join(r['target'] + ' -> ' + r['artifact'] for r in crashed) if crashed else 'no crash'}.")
    return "\n".join(lines)


def load_ledger():
    return json.loads(LEDGER.read_text()) if LEDGER.exists() else {}


def record(rows):
    """Adds runs to Fuzz/campaign.json: per target, the total executions and time, crashes, peak
    RSS, the corpus after the last run, and one entry per run."""
    ledger = load_ledger()
    today = time.strftime("%Y-%m-%d")
    for r in rows:
        entry = ledger.setdefault(r["target"], {"executions": 0, "seconds": 0, "crashes": 0, "peak_rss_mb": 0, "runs": []})
        entry["executions"] += r["executions"]
        entry["seconds"] += r["seconds"]
        entry["crashes"] += r["crashes"]
        entry["peak_rss_mb"] = max(entry["peak_rss_mb"], r["peak_rss_mb"])
        entry["corpus_files"], entry["corpus_kb"] = r["corpus_files"], r["corpus_kb"]
        entry["runs"].append({"date": today, "build": r["build"], "executions": r["executions"], "seconds": r["seconds"],
                              "crashes": r["crashes"]})
    LEDGER.write_text(json.dumps(ledger, indent=1, sort_keys=True) + "\n")
    return ledger


def ledger_table(ledger):
    lines = ["| target | executions (total) | run time | crashes | peak RSS (MB) | corpus (files / KB) |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, e in ledger.items():
        lines.append(f"| {name} | {e['executions']:,} | {e['seconds'] // 60} min | {e['crashes']} | {e['peak_rss_mb']} | "
                     f"{e.get('corpus_files', 0)} / {e.get('corpus_kb', 0)} |")
    return "\n".join(lines)


def merge(names):
    """Minimises committed seeds plus everything found into Fuzz/Corpus/<target> (-merge=1)."""
    for name, max_len, _ in names:
        seeds, work = CORPUS / name, WORK_CORPUS / name
        merged = SCRATCH / "merged" / name
        shutil.rmtree(merged, ignore_errors=True)
        merged.mkdir(parents=True)
        env = dict(os.environ, RELAIS_FUZZ_TARGET=name, ASAN_OPTIONS="detect_leaks=0")
        subprocess.run([str(BINARY), "-merge=1", f"-max_len={max_len}", f"-rss_limit_mb={RSS_LIMIT_MB}",
                        str(merged), str(seeds), str(work)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(seeds)
        shutil.copytree(merged, seeds)
        files, size = corpus_size([seeds])
        print(f"{name}: {files} files, {size // 1024} KB", flush=True)


# MARK: Seeds from the repository

def hex_vectors(path):
    '''Byte arrays written as hex("""...""") or hex("..") in the Swift unit tests (// comments allowed).'''
    text = path.read_text()
    vectors = []
    for literal in re.findall(r'hex\(\s*"""(.*?)"""', text, re.S) + re.findall(r'hex\("([^"\n]*)"\)', text):
        digits = "".join(line.split("//")[0] for line in literal.splitlines())
        digits = re.sub(r"\s", "", digits)
        if digits and len(digits) % 2 == 0 and re.fullmatch(r"[0-9a-fA-F]+", digits):
            vectors.append(bytes.fromhex(digits))
    return vectors


def seed():
    """Rebuilds Fuzz/Corpus: generated packets, SDP fixtures, signaling frames, unit-test vectors."""
    generated = SCRATCH / "seeds"
    shutil.rmtree(generated, ignore_errors=True)
    subprocess.run([str(BINARY), "--seeds", str(generated)], check=True,
                   env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    corpus = {}

    def add(target, name, data):
        corpus.setdefault(target, {})[name] = data

    for directory in generated.iterdir():
        for path in directory.iterdir():
            add(directory.name, path.name, path.read_bytes())

    tests = ROOT / "Tests" / "RelaisWireTests"
    for i, v in enumerate(hex_vectors(tests / "RTP" / "RTPTests.swift")):
        add("rtp", f"test-vector-{i}", v)
    for source in sorted((tests / "RTCP").glob("*.swift")):
        for i, v in enumerate(hex_vectors(source)):
            add("rtcp", f"{source.stem}-{i}", v)
    for i, v in enumerate(hex_vectors(tests / "STUN" / "STUNTests.swift")):
        add("stun", f"test-vector-{i}", b"\x01" + v)

    sdps = sorted((tests / "Fixtures" / "SDP").rglob("*.sdp")) + sorted((ROOT / "Signaling" / "transcripts" / "sdp").glob("*.sdp"))
    for path in sdps:
        add("sdp", path.stem, path.read_bytes())
        # Offers feed the publish and echo decisions; answers (and the relay's own subscribe
        # offer, generated) the acceptance of a subscribe answer.
        for target in (["publish-offer", "echo-offer"] if "offer" in path.stem.split("-answer")[0] else ["subscribe-answer"]):
            add(target, path.stem, path.read_bytes())

    # Signaling: every frame a client sends in the protocol transcripts (tokens are placeholders,
    # which is fine: decoding does not check them). Camera: each transcript's frames as a script,
    # the line head naming the sender by its order of appearance (0 = first client, the cart).
    for path in sorted((ROOT / "Signaling" / "transcripts").glob("*.jsonl")):
        clients, script = {}, bytearray([0])
        for n, line in enumerate(path.read_text().splitlines()):
            if not line.strip():
                continue
            step = json.loads(line)
            if "send" not in step:
                continue
            frame = json.dumps(step["send"], separators=(",", ":")).encode()
            add("signaling", f"{path.stem}-{n}", frame)
            sender = clients.setdefault(step.get("client"), len(clients)) & 3
            script += bytes([sender | 0x08]) + frame + b"\n"
        add("camera", path.stem, bytes(script))
    for path in sdps[:2]:
        offer = {"type": "offer", "requestId": "o1", "target": "publish", "sdp": path.read_text()}
        add("signaling", f"offer-{path.stem}", json.dumps(offer).encode())

    for target, files in corpus.items():
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (directory / name).write_bytes(data)
    for target in sorted(corpus):
        files, size = corpus_size([CORPUS / target])
        print(f"{target}: {files} seeds, {size} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")),
                        help="run time per target (default: $FUZZ_SECONDS or 60)")
    parser.add_argument("--targets", help="comma-separated subset (default: all)")
    parser.add_argument("--nice", action="store_true", help="run the fuzzers under nice -n 19")
    parser.add_argument("--parallel", type=int, default=1, help="targets fuzzed at once (default 1)")
    parser.add_argument("--campaign", action="store_true",
                        help="pure-Swift targets in the libFuzzer-only build, runs recorded in Fuzz/campaign.json")
    parser.add_argument("--until", type=int, help="with --campaign: stop a target once its recorded total reaches this")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--merge", action="store_true", help="minimise found inputs into Fuzz/Corpus")
    parser.add_argument("--seed", action="store_true", help="rebuild Fuzz/Corpus from the repository")
    args = parser.parse_args()

    if not args.no_build:
        build(safe=args.campaign)
    names = targets()
    if args.targets:
        wanted = args.targets.split(",")
        unknown = set(wanted) - {n for n, _, _ in names}
        if unknown:
            sys.exit(f"unknown targets: {', '.join(sorted(unknown))}")
        names = [t for t in names if t[0] in wanted]
    if args.seed:
        seed()
        return 0
    if args.merge:
        merge(names)
        return 0

    ledger = load_ledger() if args.campaign else {}
    plan = []
    for name, max_len, needs_asan in names:
        runs = None
        if args.campaign and args.until:
            done = ledger.get(name, {}).get("executions", 0)
            if done >= args.until:
                print(f"== {name}: {done:,} executions recorded, nothing to do", flush=True)
                continue
            runs = args.until - done
        binary = SAFE_BINARY if args.campaign and not needs_asan else BINARY
        plan.append((name, max_len, binary, runs))
    if args.campaign and args.until:
        # Longest expected run first (from the target's last recorded rate), so parallel workers
        # finish together.
        def expected_seconds(step):
            last = (ledger.get(step[0], {}).get("runs") or [{"executions": 1, "seconds": 1}])[-1]
            return step[3] / max(1, last["executions"] / max(1, last["seconds"]))
        plan.sort(key=expected_seconds, reverse=True)
    lock = threading.Lock()

    def one(step):
        name, max_len, binary, runs = step
        print(f"== {name}: at most {args.seconds} s{f', {runs:,} executions' if runs else ''}", flush=True)
        row = run_target(name, max_len, args.seconds, args.nice, binary, runs)
        print(f"   {name}: {row['executions']:,} executions, {row['exec_per_s']:,}/s, peak RSS {row['peak_rss_mb']} MB, "
              f"corpus {row['corpus_files']} files", flush=True)
        if args.campaign:
            with lock:  # recorded as each target ends, so a campaign cut short keeps what ran
                record([row])
        return row

    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        rows = list(pool.map(one, plan))
    summary = table(rows, args.seconds)
    print()
    print(summary)
    RESULTS.write_text("# Fuzzing results (python3 Fuzz/run.py)\n\n" + summary + "\n")
    if args.campaign:
        print()
        print(ledger_table(load_ledger()))
    return 1 if any(r["crashes"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
