#!/usr/bin/env python3
"""A simulated Sony VISCA-over-IP PTZ camera, independent of the Swift codec.

Listens on UDP (127.0.0.1 by default); `--port 0` lets the OS choose and the first stdout line
is `listening PORT`. Every datagram is parsed here from the documented layouts:

  VISCA-over-IP header (8 bytes, big endian): payload type (2) | payload length (2) | sequence (4)
    0x0100 VISCA command, 0x0110 VISCA inquiry, 0x0111 VISCA reply,
    0x0200 control command, 0x0201 control reply
  VISCA packet: 0x81 (camera 1) ... 0xFF

Commands are answered with ACK (90 41 FF) then completion (90 51 FF), inquiries with
completion data (90 50 ... FF), RESET (control 01) with control reply 01; replies carry the
request's sequence number. A header that does not parse is answered with the control reply
0F 02 (message abnormality); a VISCA packet that does not parse with a syntax error
(90 60 02 FF); a well-formed command the camera cannot execute (position out of range, preset
out of range or never set) with ACK then 90 61 41 FF.

Every parsed message is logged as one JSON line on stdout, e.g.
  {"cmd": "pantilt_drive", "seq": 3, "pan_speed": 12, "tilt_speed": 1, "dir": "right"}
so tests can check what the camera understood. Continuous drives and zooms are logged and
remembered, but the position only changes with absolute, home, zoom direct and preset recall
(so inquiries are deterministic).

Units (the model this imitates): pan -2448..2448 (±170°), tilt -432..1296 (-30°..90°),
zoom 0..0x4000, focus 0x1000..0xF000, presets 0..presets-1.

Fault injection: `--drop-seq S` (repeatable) ignores one receipt of a datagram with sequence S
per occurrence (logged as {"event": "dropped", ...}).
"""

import argparse
import asyncio
import json
import sys

PAN_MIN, PAN_MAX = -2448, 2448
TILT_MIN, TILT_MAX = -432, 1296
ZOOM_MIN, ZOOM_MAX = 0x0000, 0x4000

TYPE_COMMAND = 0x0100
TYPE_INQUIRY = 0x0110
TYPE_REPLY = 0x0111
TYPE_CONTROL = 0x0200
TYPE_CONTROL_REPLY = 0x0201

PAN_DIRS = {1: "left", 2: "right", 3: ""}
TILT_DIRS = {1: "up", 2: "down", 3: ""}


def log(record):
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    sys.stdout.flush()


def frame(payload_type, seq, payload):
    return (payload_type.to_bytes(2, "big") + len(payload).to_bytes(2, "big")
            + (seq & 0xFFFFFFFF).to_bytes(4, "big") + bytes(payload))


def nibbles(data):
    """Four bytes 0p 0q 0r 0s -> 16-bit value, or None if a byte is not a nibble."""
    if len(data) != 4 or any(b > 0x0F for b in data):
        return None
    value = 0
    for b in data:
        value = (value << 4) | b
    return value


def to_nibbles(value):
    value &= 0xFFFF
    return [(value >> 12) & 0x0F, (value >> 8) & 0x0F, (value >> 4) & 0x0F, value & 0x0F]


def signed16(value):
    return value - 0x10000 if value >= 0x8000 else value


class NotExecutable(Exception):
    pass


class Camera:
    def __init__(self, presets):
        self.pan = 0
        self.tilt = 0
        self.zoom = ZOOM_MIN
        self.focus_mode = "auto"
        self.focus = 0x1000
        self.drive = {"pan_speed": 0, "tilt_speed": 0, "dir": "stop"}
        self.zoom_drive = "stop"
        self.preset_count = presets
        self.presets = {}

    def command(self, seq, p):
        """Parses and executes a VISCA command packet `p` (address byte and terminator
        included). Returns the log record, or None if it does not parse (syntax error);
        raises NotExecutable for a well-formed command the camera cannot execute."""
        body = p[1:-1]
        n = len(body)
        if n == 7 and body[:3] == [0x01, 0x06, 0x01]:
            vv, ww, pd, td = body[3], body[4], body[5], body[6]
            if not (1 <= vv <= 0x18 and 1 <= ww <= 0x17 and pd in PAN_DIRS and td in TILT_DIRS):
                return None
            direction = (TILT_DIRS[td] + PAN_DIRS[pd]) or "stop"
            self.drive = {"pan_speed": vv, "tilt_speed": ww, "dir": direction}
            return {"cmd": "pantilt_drive", "seq": seq, "pan_speed": vv, "tilt_speed": ww, "dir": direction}
        if n == 13 and body[:3] == [0x01, 0x06, 0x02]:
            vv, ww = body[3], body[4]
            pan, tilt = nibbles(body[5:9]), nibbles(body[9:13])
            if not (1 <= vv <= 0x18 and 1 <= ww <= 0x17) or pan is None or tilt is None:
                return None
            pan, tilt = signed16(pan), signed16(tilt)
            record = {"cmd": "pantilt_absolute", "seq": seq, "pan_speed": vv, "tilt_speed": ww, "pan": pan, "tilt": tilt}
            if not (PAN_MIN <= pan <= PAN_MAX and TILT_MIN <= tilt <= TILT_MAX):
                raise NotExecutable(record)
            self.pan, self.tilt = pan, tilt
            return record
        if n == 3 and body == [0x01, 0x06, 0x04]:
            self.pan, self.tilt = 0, 0
            return {"cmd": "pantilt_home", "seq": seq}
        if n == 4 and body[:3] == [0x01, 0x04, 0x07]:
            b = body[3]
            if b == 0x00:
                action, speed = "stop", None
            elif b == 0x02:
                action, speed = "tele", None
            elif b == 0x03:
                action, speed = "wide", None
            elif 0x20 <= b <= 0x27:
                action, speed = "tele", b & 0x0F
            elif 0x30 <= b <= 0x37:
                action, speed = "wide", b & 0x0F
            else:
                return None
            self.zoom_drive = action
            return {"cmd": "zoom", "seq": seq, "action": action, "speed": speed}
        if n == 7 and body[:3] == [0x01, 0x04, 0x47]:
            position = nibbles(body[3:7])
            if position is None:
                return None
            record = {"cmd": "zoom_direct", "seq": seq, "position": position}
            if not ZOOM_MIN <= position <= ZOOM_MAX:
                raise NotExecutable(record)
            self.zoom = position
            return record
        if n == 4 and body[:3] == [0x01, 0x04, 0x38] and body[3] in (0x02, 0x03):
            self.focus_mode = "auto" if body[3] == 0x02 else "manual"
            return {"cmd": "focus_mode", "seq": seq, "mode": self.focus_mode}
        if n == 7 and body[:3] == [0x01, 0x04, 0x48]:
            position = nibbles(body[3:7])
            if position is None:
                return None
            self.focus = position
            return {"cmd": "focus_direct", "seq": seq, "position": position}
        if n == 5 and body[:3] == [0x01, 0x04, 0x3F] and body[3] in (0x01, 0x02):
            preset = body[4]
            if preset > 0x7F:
                return None
            if body[3] == 0x01:
                record = {"cmd": "preset_set", "seq": seq, "preset": preset}
                if preset >= self.preset_count:
                    raise NotExecutable(record)
                self.presets[preset] = (self.pan, self.tilt, self.zoom)
                return record
            record = {"cmd": "preset_recall", "seq": seq, "preset": preset}
            if preset not in self.presets:
                raise NotExecutable(record)
            self.pan, self.tilt, self.zoom = self.presets[preset]
            return record
        return None

    def inquiry(self, seq, p):
        """Returns (log record, reply data) or None if the inquiry does not parse."""
        body = p[1:-1]
        if body == [0x09, 0x06, 0x12]:
            return ({"cmd": "pantilt_position_inquiry", "seq": seq, "pan": self.pan, "tilt": self.tilt},
                    to_nibbles(self.pan) + to_nibbles(self.tilt))
        if body == [0x09, 0x04, 0x47]:
            return {"cmd": "zoom_position_inquiry", "seq": seq, "zoom": self.zoom}, to_nibbles(self.zoom)
        return None


class Protocol(asyncio.DatagramProtocol):
    def __init__(self, camera, drops):
        self.camera = camera
        self.drops = drops
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def reply(self, addr, payload_type, seq, payload):
        self.transport.sendto(frame(payload_type, seq, payload), addr)

    def datagram_received(self, data, addr):
        data = list(data)
        if len(data) < 8:
            log({"cmd": "malformed", "reason": "short header", "bytes": bytes(data).hex()})
            self.reply(addr, TYPE_CONTROL_REPLY, 0, [0x0F, 0x02])
            return
        payload_type = (data[0] << 8) | data[1]
        length = (data[2] << 8) | data[3]
        seq = int.from_bytes(bytes(data[4:8]), "big")
        payload = data[8:]
        if self.drops.get(seq, 0) > 0:
            self.drops[seq] -= 1
            log({"event": "dropped", "seq": seq})
            return
        if payload_type not in (TYPE_COMMAND, TYPE_INQUIRY, TYPE_CONTROL) or length != len(payload) or not 1 <= length <= 16:
            log({"cmd": "malformed", "seq": seq, "reason": "header", "bytes": bytes(data).hex()})
            self.reply(addr, TYPE_CONTROL_REPLY, seq, [0x0F, 0x02])
            return
        if payload_type == TYPE_CONTROL:
            if payload == [0x01]:
                log({"cmd": "reset", "seq": seq})
                self.reply(addr, TYPE_CONTROL_REPLY, seq, [0x01])
            else:
                log({"cmd": "malformed", "seq": seq, "reason": "control", "bytes": bytes(data).hex()})
                self.reply(addr, TYPE_CONTROL_REPLY, seq, [0x0F, 0x02])
            return
        well_framed = len(payload) >= 3 and payload[0] == 0x81 and payload[-1] == 0xFF and 0xFF not in payload[:-1]
        if payload_type == TYPE_INQUIRY:
            answer = self.camera.inquiry(seq, payload) if well_framed else None
            if answer is None:
                self.syntax_error(addr, seq, data)
                return
            record, reply_data = answer
            log(record)
            self.reply(addr, TYPE_REPLY, seq, [0x90, 0x50] + reply_data + [0xFF])
            return
        try:
            record = self.camera.command(seq, payload) if well_framed else None
        except NotExecutable as refused:
            record = dict(refused.args[0], error="not_executable")
            log(record)
            self.reply(addr, TYPE_REPLY, seq, [0x90, 0x41, 0xFF])
            self.reply(addr, TYPE_REPLY, seq, [0x90, 0x61, 0x41, 0xFF])
            return
        if record is None:
            self.syntax_error(addr, seq, data)
            return
        log(record)
        self.reply(addr, TYPE_REPLY, seq, [0x90, 0x41, 0xFF])
        self.reply(addr, TYPE_REPLY, seq, [0x90, 0x51, 0xFF])

    def syntax_error(self, addr, seq, data):
        log({"cmd": "syntax_error", "seq": seq, "bytes": bytes(data).hex()})
        self.reply(addr, TYPE_REPLY, seq, [0x90, 0x60, 0x02, 0xFF])


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=52381)
    parser.add_argument("--presets", type=int, default=16)
    parser.add_argument("--drop-seq", type=int, action="append", default=[])
    args = parser.parse_args()
    drops = {}
    for seq in args.drop_seq:
        drops[seq] = drops.get(seq, 0) + 1
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Protocol(Camera(args.presets), drops), local_addr=(args.host, args.port))
    print(f"listening {transport.get_extra_info('sockname')[1]}", flush=True)
    try:
        # Runs until stdin closes (the test ends) or the process is terminated.
        await loop.run_in_executor(None, sys.stdin.read)
    finally:
        transport.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
