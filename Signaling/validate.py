#!/usr/bin/env python3
"""Validate Relais signaling v1 messages against the JSON Schemas in Signaling/schemas/.

Command line:
    python3 Signaling/validate.py --direction server FILE.jsonl [FILE.jsonl ...]
    python3 Signaling/validate.py --direction client -          # JSON Lines on stdin
    python3 Signaling/validate.py --self-test

Each non-blank line of a FILE is one message; it is checked against
`<direction>.<type>.schema.json`. One line is printed per failure,
`line N: <type>: <error>` (prefixed with `FILE: ` when several files are given), then
`validated K messages`. Exit status: 0 all valid, 1 some failed, 2 usage or I/O error.

As a module (Python test peers):
    from validate import load_validators, validate_message
    errors = validate_message("server", message)   # [] when valid
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

HERE = Path(__file__).resolve().parent
SCHEMA_DIR = HERE / "schemas"
TRANSCRIPT_DIR = HERE / "transcripts"
PROTOCOL_MD = HERE / "PROTOCOL.md"
BASE_URI = "https://relais.example/signaling/v1/"
DIRECTIONS = ("client", "server")
_MESSAGE_FILE = re.compile(r"^(client|server)\.([A-Za-z]+)\.schema\.json$")
_MAX_ERROR_CHARS = 300

Validators = dict[str, dict[str, Draft202012Validator]]


def load_schemas(schema_dir: Path = SCHEMA_DIR) -> dict[str, dict]:
    """Every `*.schema.json` in `schema_dir`, by file name."""
    schemas = {}
    for path in sorted(Path(schema_dir).glob("*.schema.json")):
        with path.open(encoding="utf-8") as f:
            schemas[path.name] = json.load(f)
    if not schemas:
        raise FileNotFoundError(f"no *.schema.json in {schema_dir}")
    return schemas


def build_registry(schemas: dict[str, dict]) -> Registry:
    """A registry holding every schema under its `$id`, so relative `$ref`s resolve offline."""
    resources = [
        (schema.get("$id", BASE_URI + name),
         Resource.from_contents(schema, default_specification=DRAFT202012))
        for name, schema in schemas.items()
    ]
    return Registry().with_resources(resources)


def load_validators(schema_dir: Path | str = SCHEMA_DIR) -> Validators:
    """Validators by direction and message type: `{"client": {"join": v, ...}, "server": {...}}`."""
    schemas = load_schemas(Path(schema_dir))
    registry = build_registry(schemas)
    validators: Validators = {d: {} for d in DIRECTIONS}
    for name, schema in schemas.items():
        m = _MESSAGE_FILE.match(name)
        if m:
            validators[m.group(1)][m.group(2)] = Draft202012Validator(schema, registry=registry)
    return validators


_default: Validators | None = None


def _defaults() -> Validators:
    global _default
    if _default is None:
        _default = load_validators()
    return _default


def _path(error: ValidationError) -> str:
    out = "$"
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _leaves(error: ValidationError) -> list[ValidationError]:
    """For anyOf/oneOf failures, the errors of the branch the value was meant for.

    A branch whose own `type` matched the value (e.g. the object branch of `null | Candidate`)
    says more than "is not valid under any of the given schemas"; among object branches, the one
    whose discriminator (a member with `const`, like a camera command's `kind`) matched.
    """
    if not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    typed = [errs for errs in branches.values()
             if not any(e.validator == "type" and not e.relative_path for e in errs)]
    if len(typed) == 1:
        return [leaf for e in typed[0] for leaf in _leaves(e)]
    if not typed:  # the value has none of the allowed JSON types
        return [error]
    meant = [errs for errs in typed
             if not any(e.validator == "const" and len(e.relative_path) == 1 for e in errs)]
    if len(meant) == 1:
        return [leaf for e in meant[0] for leaf in _leaves(e)]
    if not meant:  # no branch's discriminator matched (e.g. an unknown `kind`)
        return [error]
    best = best_match(error.context)
    return _leaves(best) if best is not None else [error]


def _describe(error: ValidationError) -> list[str]:
    out = []
    for leaf in _leaves(error):
        text = f"{_path(leaf)}: {leaf.message}"
        out.append(text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "...")
    return out


def validate_message(direction: str, obj: Any, validators: Validators | None = None) -> list[str]:
    """Error strings for one decoded message (an empty list when it is valid).

    `direction` is "client" (client -> server) or "server" (server -> client).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    validators = validators if validators is not None else _defaults()
    if not isinstance(obj, dict):
        return [f"$: not a JSON object ({type(obj).__name__})"]
    type_ = obj.get("type")
    if not isinstance(type_, str):
        return ["$.type: missing or not a string"]
    validator = validators[direction].get(type_)
    if validator is None:
        return [f"$.type: unknown {direction} message type {type_!r}"]
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return list(dict.fromkeys(text for e in errors for text in _describe(e)))


def _type_label(obj: Any) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("type"), str):
        return obj["type"]
    return "?"


def validate_lines(direction: str, lines: Iterable[str], validators: Validators,
                   prefix: str = "") -> tuple[int, list[str]]:
    """Validates JSON Lines; returns (messages seen, failure lines)."""
    count, failures = 0, []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        count += 1
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            failures.append(f"{prefix}line {number}: ?: invalid JSON: {e}")
            continue
        for error in validate_message(direction, obj, validators):
            failures.append(f"{prefix}line {number}: {_type_label(obj)}: {error}")
    return count, failures


# --------------------------------------------------------------------------- self-test

_ACTIONS = ("send", "sendRaw", "sendOversize", "expect", "expectClose", "expectNothing")
_TOKEN = re.compile(r"^<(token|expired-token|forged-token):(cart|expert|observer):([^:>]+):([^>]+)>$")
_SDP = re.compile(r"^<sdp:([A-Za-z0-9._-]+)>$")
_MATCHERS = re.compile(r"^<(any|capture:[A-Za-z0-9_]+|captured:[A-Za-z0-9_]+)>$")
_CAPTURE = re.compile(r"^<capture:([A-Za-z0-9_]+)>$")
_CAPTURED = re.compile(r"^<captured:([A-Za-z0-9_]+)>$")
_EXAMPLE_BLOCK = re.compile(r"^```json (client|server)\n(.*?)^```", re.M | re.S)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _refs(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from _refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _refs(v)


def _check_schemas(schemas: dict[str, dict], problems: list[str]) -> None:
    registry = build_registry(schemas)
    for name, schema in schemas.items():
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as e:
            problems.append(f"schemas/{name}: not a valid draft 2020-12 schema: {e.message}")
        if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            problems.append(f"schemas/{name}: $schema is not draft 2020-12")
        if schema.get("$id") != BASE_URI + name:
            problems.append(f"schemas/{name}: $id is not {BASE_URI + name}")
        m = _MESSAGE_FILE.match(name)
        if m:
            if schema.get("properties", {}).get("type") != {"const": m.group(2)}:
                problems.append(f"schemas/{name}: properties.type is not {{\"const\": \"{m.group(2)}\"}}")
            if "type" not in schema.get("required", []):
                problems.append(f"schemas/{name}: `type` is not required")
            if schema.get("additionalProperties") is not True:
                problems.append(f"schemas/{name}: additionalProperties is not true")
        elif name != "common.schema.json":
            problems.append(f"schemas/{name}: name is not <client|server>.<type>.schema.json")
        resolver = registry.resolver(base_uri=schema.get("$id", ""))
        for r in _refs(schema):
            try:
                resolver.lookup(r)
            except Unresolvable as e:
                problems.append(f"schemas/{name}: $ref {r!r} does not resolve ({e})")


def _check_transcript(path: Path, validators: Validators, problems: list[str]) -> int:
    closed: set[str] = set()
    captured: set[str] = set()
    lines = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        lines += 1
        where = f"transcripts/{path.name} line {number}"
        try:
            step = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: invalid JSON: {e}")
            continue
        if not isinstance(step, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        client = step.get("client")
        if not isinstance(client, str) or not client:
            problems.append(f"{where}: `client` missing or not a non-empty string")
        actions = [a for a in _ACTIONS if a in step]
        if len(actions) != 1:
            problems.append(f"{where}: needs exactly one of {', '.join(_ACTIONS)} (has {actions})")
            continue
        action = actions[0]
        extra = set(step) - {"client", action} - ({"invalid"} if action == "send" else set())
        if extra:
            problems.append(f"{where}: unexpected members {sorted(extra)}")
        if client in closed:
            problems.append(f"{where}: connection {client!r} was already closed by expectClose")
        value = step[action]
        if action == "send":
            if not isinstance(value, dict):
                problems.append(f"{where}: send is not an object")
                continue
            for s in _strings(value):
                if s.startswith("<sdp:"):
                    m = _SDP.match(s)
                    if not m or not (path.parent / "sdp" / f"{m.group(1)}.sdp").is_file():
                        problems.append(f"{where}: {s} names no file in transcripts/sdp/")
                elif s.startswith("<") and s.endswith(">") and "token" in s and not _TOKEN.match(s):
                    problems.append(f"{where}: malformed token placeholder {s}")
                elif s.startswith("<capture"):
                    m = _CAPTURED.match(s)
                    if not m:
                        problems.append(f"{where}: {s} is a matcher; send takes only <captured:NAME>")
                    elif m.group(1) not in captured:
                        problems.append(f"{where}: {s} was not captured by an earlier line")
            invalid = step.get("invalid", False)
            if not isinstance(invalid, bool):
                problems.append(f"{where}: `invalid` is not a boolean")
            errors = validate_message("client", value, validators)
            if invalid is True and not errors:
                problems.append(f"{where}: marked invalid but validates as a client message")
            elif invalid is not True:
                problems.extend(f"{where}: send: {e}" for e in errors)
        elif action == "sendRaw":
            if not isinstance(value, str):
                problems.append(f"{where}: sendRaw is not a string")
        elif action == "sendOversize":
            if not isinstance(value, int) or isinstance(value, bool) or value < 32:
                problems.append(f"{where}: sendOversize is not an integer >= 32")
        elif action == "expect":
            if not isinstance(value, dict):
                problems.append(f"{where}: expect is not an object")
                continue
            t = value.get("type")
            if t is not None and t not in validators["server"]:
                problems.append(f"{where}: expect names no server message type {t!r}")
            strings = list(_strings(value))
            captured.update(m.group(1) for m in map(_CAPTURE.match, strings) if m)
            for s in strings:
                if s.startswith("<") and s.endswith(">") and not _MATCHERS.match(s):
                    problems.append(f"{where}: unknown matcher {s}")
                m = _CAPTURED.match(s)
                if m and m.group(1) not in captured:
                    problems.append(f"{where}: {s} was not captured by an earlier line")
        elif action == "expectClose":
            if not isinstance(value, int) or isinstance(value, bool) or not 1000 <= value <= 4999:
                problems.append(f"{where}: expectClose is not a WebSocket close code")
            closed.add(client)
        elif action == "expectNothing":
            if value is not True:
                problems.append(f"{where}: expectNothing must be true")
    return lines


def _check_examples(validators: Validators, problems: list[str]) -> int:
    if not PROTOCOL_MD.is_file():
        problems.append("PROTOCOL.md is missing")
        return 0
    count = 0
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    for m in _EXAMPLE_BLOCK.finditer(text):
        direction = m.group(1)
        line_no = text.count("\n", 0, m.start()) + 2
        for offset, line in enumerate(m.group(2).splitlines()):
            if not line.strip():
                continue
            count += 1
            where = f"PROTOCOL.md line {line_no + offset}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"{where}: example is not JSON: {e}")
                continue
            problems.extend(f"{where}: {direction} example: {e}"
                            for e in validate_message(direction, obj, validators))
    covered = {(d, json.loads(l)["type"]) for d, body in _EXAMPLE_BLOCK.findall(text)
               for l in body.splitlines() if l.strip().startswith("{")}
    for d in DIRECTIONS:
        for t in validators[d]:
            if (d, t) not in covered:
                problems.append(f"PROTOCOL.md: no ```json {d} example of `{t}`")
    return count


# Server messages a broken server might send; every one of them must be rejected.
_MUST_FAIL = [
    {"type": "error", "code": "oops", "message": "x", "fatal": False},
    {"type": "error", "code": "invalid_token", "message": "bad", "fatal": False},
    {"type": "error", "code": "not_joined", "message": "join first", "fatal": True},
    {"type": "error", "code": "internal", "message": "x"},
    {"type": "offer", "target": "subscribe", "revision": 0, "sdp": "v=0\r\n"},
    {"type": "offer", "target": "subscribe", "revision": 1, "sdp": ""},
    {"type": "offer", "target": "publish", "revision": 1, "sdp": "v=0\r\n"},
    {"type": "answer", "target": "publish"},
    {"type": "participantLeft", "participantId": "p1", "reason": "bored"},
    {"type": "left", "reason": "left"},
    {"type": "participantJoined", "participant": {"participantId": "p1", "displayName": "A", "role": "admin"}},
    {"type": "trackPublished", "track": {"trackId": "t", "participantId": "p", "kind": "data", "codec": "VP8"}},
    {"type": "candidate", "target": "publish", "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 4 typ host"}},
    {"type": "pong", "requestId": 7},
    {"type": "welcome"},
    {"type": "error", "code": "floor_busy", "message": "held", "fatal": True},
    {"type": "floor", "cameraId": "main", "cartId": "p1", "requested": []},
    {"type": "floor", "cameraId": "main", "cartId": "p1", "controller": 3, "requested": []},
    {"type": "floor", "cameraId": "main", "cartId": "p1", "controller": None, "requested": ["p2", "p2"]},
    {"type": "floorRequested", "cameraId": "main"},
    {"type": "camerasAvailable", "participantId": "p1", "cameras": [{"cameraId": "main", "name": "x", "capabilities": {
        "continuousPanTilt": True, "continuousZoom": True, "absolutePosition": True, "relativePosition": True, "focus": True,
        "presets": -1, "pan": {"min": -1, "max": 1}, "tilt": {"min": -1, "max": 1}, "zoom": {"min": 1, "max": 2}}}]},
    {"type": "cameraCommand", "cameraId": "main", "commandId": "s1", "command": {"kind": "stop"}},
    {"type": "cameraCommand", "cameraId": "main", "commandId": "s1", "command": {"kind": "stop", "speed": 1}, "from": "relay"},
    {"type": "cameraCommand", "cameraId": "main", "commandId": "s1", "command": {"kind": "move", "pan": 1.5, "tilt": 0, "zoom": 0}, "from": "p1"},
    {"type": "cameraCommand", "cameraId": "main", "commandId": "s1", "command": {"kind": "focus", "mode": "auto", "position": 0.5}, "from": "p1"},
    {"type": "cameraCommand", "cameraId": "main", "commandId": "s1", "command": {"kind": "absolute"}, "from": "p1"},
    {"type": "cameraCommand", "cameraId": "main", "commandId": "", "command": {"kind": "home"}, "from": "p1"},
    {"type": "cameraAck", "cameraId": "main", "commandId": "a1", "result": "maybe"},
    {"type": "cameraAck", "cameraId": "main", "commandId": "a1", "result": "ok", "position": {"pan": 1, "tilt": 2}},
]


def self_test() -> int:
    problems: list[str] = []
    schemas = load_schemas()
    _check_schemas(schemas, problems)
    if problems:  # validating against a broken schema would only raise
        for p in problems:
            print(p)
        print(f"self-test: {len(schemas)} schemas: {len(problems)} problem(s)")
        return 1
    validators = load_validators()
    for d in DIRECTIONS:
        if not validators[d]:
            problems.append(f"no {d} message schemas")
    transcript_lines = 0
    transcripts = sorted(TRANSCRIPT_DIR.glob("*.jsonl"))
    if not transcripts:
        problems.append("no transcripts/*.jsonl")
    for path in transcripts:
        transcript_lines += _check_transcript(path, validators, problems)
    for sdp in sorted((TRANSCRIPT_DIR / "sdp").glob("*.sdp")):
        data = sdp.read_bytes()
        if not data.endswith(b"\r\n") or data.count(b"\n") != data.count(b"\r\n"):
            problems.append(f"transcripts/sdp/{sdp.name}: line ends are not all CRLF")
    examples = _check_examples(validators, problems)
    for bad in _MUST_FAIL:
        if not validate_message("server", bad, validators):
            problems.append(f"built-in negative sample was accepted as a server message: {json.dumps(bad)}")
    for p in problems:
        print(p)
    print(f"self-test: {len(schemas)} schemas, {len(transcripts)} transcripts ({transcript_lines} lines), "
          f"{examples} PROTOCOL.md examples, {len(_MUST_FAIL)} negative samples: "
          + ("OK" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Validate Relais signaling v1 messages (JSON Lines) against Signaling/schemas/.")
    parser.add_argument("--direction", choices=DIRECTIONS,
                        help="client: client -> server messages; server: server -> client messages")
    parser.add_argument("--self-test", action="store_true",
                        help="check the schemas, the transcripts and PROTOCOL.md's examples")
    parser.add_argument("files", nargs="*", metavar="FILE", help="JSON Lines file, or - for stdin")
    args = parser.parse_args(argv)
    if args.self_test:
        if args.direction or args.files:
            parser.error("--self-test takes no other arguments")
        return self_test()
    if not args.direction or not args.files:
        parser.error("--direction and at least one FILE are required (or --self-test)")
    validators = load_validators()
    total, failures = 0, []
    for name in args.files:
        prefix = f"{name}: " if len(args.files) > 1 else ""
        try:
            if name == "-":
                lines = sys.stdin.read().splitlines()
            else:
                lines = Path(name).read_text(encoding="utf-8").splitlines()
        except OSError as e:
            print(f"{name}: {e.strerror}", file=sys.stderr)
            return 2
        count, fails = validate_lines(args.direction, lines, validators, prefix)
        total += count
        failures += fails
    for f in failures:
        print(f)
    print(f"validated {total} messages")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
