#!/usr/bin/env python3
"""Builds the Relais fuzz targets (libFuzzer + AddressSanitizer) and runs each for a while.

    python3 Fuzz/run.py [--seconds N] [--targets rtp,sdp] [--jobs-nice]   (make fuzz, make fuzz-ci)
    python3 Fuzz/run.py --merge         minimise the grown corpora back into Fuzz/Corpus/<target>
    python3 Fuzz/run.py --seed          rebuild Fuzz/Corpus from generated packets and the repository's
                                        own fixtures (SDP captures, signaling transcripts, test vectors)

Every target runs from Fuzz/Corpus/<target> (committed, small) plus .build-fuzz/corpus/<target>
(what the fuzzer found, not committed). A summary table (target, executions, exec/s, crashes,
peak RSS, corpus size) goes to stdout and Fuzz/results.md; crash inputs go to Fuzz/artifacts/.
The exit status is 1 when any target crashed (or failed to start), so CI fails on a new trap.
"""
import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "Fuzz"
SCRATCH = ROOT / ".build-fuzz"
BINARY = SCRATCH / "release" / "relais-fuzz"
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


def build():
    SCRATCH.mkdir(exist_ok=True)
    toolset = SCRATCH / "toolset.json"
    toolset.write_text(json.dumps({"schemaVersion": "1.0", "linker": {"path": str(find_lld())}}))
    command = [
        "swift", "build", "-c", "release",
        "--package-path", str(FUZZ), "--scratch-path", str(SCRATCH), "--toolset", str(toolset),
        "-Xswiftc", "-sanitize=fuzzer,address",
    ]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def targets():
    """(name, max_len) of every target, as the binary lists them."""
    out = subprocess.run([str(BINARY), "--list"], check=True, capture_output=True, text=True).stdout
    return [(name, int(length)) for name, length in (line.split() for line in out.splitlines() if line.strip())]


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


def run_target(name, max_len, seconds, nice):
    work = WORK_CORPUS / name
    seeds = CORPUS / name
    work.mkdir(parents=True, exist_ok=True)
    seeds.mkdir(parents=True, exist_ok=True)
    ARTIFACTS.mkdir(exist_ok=True)
    command = ([ "nice", "-n", "19"] if nice else []) + [
        str(BINARY),
        f"-max_total_time={seconds}",
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
    }
    if crashed:
        artifact = re.findall(r"Test unit written to (\S+)", text)
        row["artifact"] = artifact[-1] if artifact else f"see {log}"
        print(f"!! {name} crashed (exit {process.returncode}); input: {row['artifact']}; log: {log}", flush=True)
        tail = text.splitlines()[-60:]
        print("\n".join(tail), flush=True)
    return row


def table(rows, seconds):
    header = "| target | executions | exec/s | crashes | peak RSS (MB) | corpus (files / KB) |"
    lines = [header, "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['executions']:,} | {r['exec_per_s']:,} | {r['crashes']} | "
            f"{r['peak_rss_mb']} | {r['corpus_files']} / {r['corpus_kb']} |")
    crashed = [r for r in rows if r["crashes"]]
    lines.append("")
    lines.append(f"{len(rows)} targets, {seconds} s each, libFuzzer + AddressSanitizer; "
                 f"{'CRASHED: ' + ', '.join(r['target'] + ' -> ' + r['artifact'] for r in crashed) if crashed else 'no crash'}.")
    return "\n".join(lines)


def merge(names):
    """Minimises committed seeds plus everything found into Fuzz/Corpus/<target> (-merge=1)."""
    for name, max_len in names:
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
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--merge", action="store_true", help="minimise found inputs into Fuzz/Corpus")
    parser.add_argument("--seed", action="store_true", help="rebuild Fuzz/Corpus from the repository")
    args = parser.parse_args()

    if not args.no_build:
        build()
    names = targets()
    if args.targets:
        wanted = args.targets.split(",")
        unknown = set(wanted) - {n for n, _ in names}
        if unknown:
            sys.exit(f"unknown targets: {', '.join(sorted(unknown))}")
        names = [(n, m) for n, m in names if n in wanted]
    if args.seed:
        seed()
        return 0
    if args.merge:
        merge(names)
        return 0

    rows = []
    for name, max_len in names:
        print(f"== {name}: {args.seconds} s", flush=True)
        row = run_target(name, max_len, args.seconds, args.nice)
        print(f"   {row['executions']:,} executions, {row['exec_per_s']:,}/s, peak RSS {row['peak_rss_mb']} MB, "
              f"corpus {row['corpus_files']} files", flush=True)
        rows.append(row)
    summary = table(rows, args.seconds)
    print()
    print(summary)
    RESULTS.write_text("# Fuzzing results (python3 Fuzz/run.py)\n\n" + summary + "\n")
    return 1 if any(r["crashes"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
