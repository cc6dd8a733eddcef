import RelaisClient
import Testing

/// The VISCA codec against Sony's documented byte layouts (VISCA command list; VISCA over IP:
/// 8-byte header = payload type (2), payload length (2), sequence number (4), big endian).
@Suite struct VISCACodecTests {
    // MARK: Commands, byte by byte

    @Test func panTiltDrive() {
        // 81 | 01 06 01 (Pan-tiltDrive) | VV pan speed 01-18 | WW tilt speed 01-17 | 0p 0t | FF
        // p: 01 left, 02 right, 03 stop; t: 01 up, 02 down, 03 stop.
        let cases: [(VISCAPanDirection, VISCATiltDirection, UInt8, UInt8)] = [
            (.stop, .up, 0x03, 0x01), (.stop, .down, 0x03, 0x02), (.left, .stop, 0x01, 0x03), (.right, .stop, 0x02, 0x03),
            (.left, .up, 0x01, 0x01), (.right, .up, 0x02, 0x01), (.left, .down, 0x01, 0x02), (.right, .down, 0x02, 0x02),
            (.stop, .stop, 0x03, 0x03),
        ]
        for (pan, tilt, p, t) in cases {
            #expect(VISCACommand.panTiltDrive(panSpeed: 0x0C, tiltSpeed: 0x0B, pan: pan, tilt: tilt).encoded()
                    == [0x81, 0x01, 0x06, 0x01, 0x0C, 0x0B, p, t, 0xFF])
        }
        // Speeds are clamped to 01-18 (pan) and 01-17 (tilt): never 00, never FF.
        #expect(VISCACommand.panTiltDrive(panSpeed: 0xFF, tiltSpeed: 0xFF, pan: .left, tilt: .up).encoded()
                == [0x81, 0x01, 0x06, 0x01, 0x18, 0x17, 0x01, 0x01, 0xFF])
        #expect(VISCACommand.panTiltDrive(panSpeed: 0, tiltSpeed: 0, pan: .left, tilt: .up).encoded()
                == [0x81, 0x01, 0x06, 0x01, 0x01, 0x01, 0x01, 0x01, 0xFF])
    }

    @Test func panTiltAbsolute() {
        // 81 01 06 02 | VV WW | 0Y 0Y 0Y 0Y (pan, signed, MSB nibble first) | 0Z 0Z 0Z 0Z (tilt) | FF
        #expect(VISCACommand.panTiltAbsolute(panSpeed: 0x18, tiltSpeed: 0x17, pan: 0x0990, tilt: -432).encoded()
                == [0x81, 0x01, 0x06, 0x02, 0x18, 0x17, 0x00, 0x09, 0x09, 0x00, 0x0F, 0x0E, 0x05, 0x00, 0xFF])
        #expect(VISCACommand.panTiltAbsolute(panSpeed: 1, tiltSpeed: 1, pan: -2448, tilt: 0).encoded()
                == [0x81, 0x01, 0x06, 0x02, 0x01, 0x01, 0x0F, 0x06, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF])
    }

    @Test func homeZoomFocusPresets() {
        #expect(VISCACommand.panTiltHome.encoded() == [0x81, 0x01, 0x06, 0x04, 0xFF])
        // Zoom: 81 01 04 07 | 00 stop, 2p tele (variable), 3p wide (variable), p = 0-7 | FF
        #expect(VISCACommand.zoomStop.encoded() == [0x81, 0x01, 0x04, 0x07, 0x00, 0xFF])
        #expect(VISCACommand.zoomTele(speed: 0).encoded() == [0x81, 0x01, 0x04, 0x07, 0x20, 0xFF])
        #expect(VISCACommand.zoomTele(speed: 7).encoded() == [0x81, 0x01, 0x04, 0x07, 0x27, 0xFF])
        #expect(VISCACommand.zoomWide(speed: 3).encoded() == [0x81, 0x01, 0x04, 0x07, 0x33, 0xFF])
        #expect(VISCACommand.zoomWide(speed: 200).encoded() == [0x81, 0x01, 0x04, 0x07, 0x37, 0xFF])
        // Zoom direct: 81 01 04 47 0p 0q 0r 0s FF
        #expect(VISCACommand.zoomDirect(position: 0x4000).encoded() == [0x81, 0x01, 0x04, 0x47, 0x04, 0x00, 0x00, 0x00, 0xFF])
        #expect(VISCACommand.zoomDirect(position: 0x1A2B).encoded() == [0x81, 0x01, 0x04, 0x47, 0x01, 0x0A, 0x02, 0x0B, 0xFF])
        // Focus: 81 01 04 38 02 (auto) / 03 (manual) FF; direct 81 01 04 48 0p 0q 0r 0s FF
        #expect(VISCACommand.focusAuto.encoded() == [0x81, 0x01, 0x04, 0x38, 0x02, 0xFF])
        #expect(VISCACommand.focusManual.encoded() == [0x81, 0x01, 0x04, 0x38, 0x03, 0xFF])
        #expect(VISCACommand.focusDirect(position: 0xF000).encoded() == [0x81, 0x01, 0x04, 0x48, 0x0F, 0x00, 0x00, 0x00, 0xFF])
        // Memory: 81 01 04 3F | 01 set / 02 recall | pp | FF
        #expect(VISCACommand.presetSet(5).encoded() == [0x81, 0x01, 0x04, 0x3F, 0x01, 0x05, 0xFF])
        #expect(VISCACommand.presetRecall(5).encoded() == [0x81, 0x01, 0x04, 0x3F, 0x02, 0x05, 0xFF])
        #expect(VISCACommand.presetRecall(0xFF).encoded() == [0x81, 0x01, 0x04, 0x3F, 0x02, 0x7F, 0xFF])
        // Camera address 2 is 0x82.
        #expect(VISCACommand.panTiltHome.encoded(address: 2) == [0x82, 0x01, 0x06, 0x04, 0xFF])
    }

    @Test func inquiries() {
        #expect(VISCAInquiry.panTiltPosition.encoded() == [0x81, 0x09, 0x06, 0x12, 0xFF])
        #expect(VISCAInquiry.zoomPosition.encoded() == [0x81, 0x09, 0x04, 0x47, 0xFF])
    }

    @Test func noCommandCarriesAnEmbeddedTerminator() {
        let extremes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFE, 0xFF]
        var commands: [VISCACommand] = [.panTiltHome, .zoomStop, .focusAuto, .focusManual]
        for a in extremes {
            commands += [.zoomTele(speed: a), .zoomWide(speed: a), .presetSet(a), .presetRecall(a),
                         .panTiltDrive(panSpeed: a, tiltSpeed: a, pan: .right, tilt: .down)]
        }
        for v in [Int16.min, -1, 0, 1, Int16.max] {
            commands += [.panTiltAbsolute(panSpeed: 0xFF, tiltSpeed: 0xFF, pan: v, tilt: v),
                         .zoomDirect(position: UInt16(bitPattern: v)), .focusDirect(position: UInt16(bitPattern: v))]
        }
        for command in commands {
            let bytes = command.encoded()
            #expect(bytes.last == 0xFF)
            #expect(!bytes.dropLast().contains(0xFF), "\(command)")
            #expect(bytes.count <= VISCAMessage.maximumPayload)
        }
    }

    // MARK: Framing

    @Test func headerFraming() throws {
        let message = VISCAMessage(payloadType: .command, sequence: 0x0102_0304, payload: VISCACommand.panTiltHome.encoded())
        // 01 00 (VISCA command) | 00 05 (length) | 01 02 03 04 (sequence) | payload
        #expect(message.encoded() == [0x01, 0x00, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x81, 0x01, 0x06, 0x04, 0xFF])
        #expect(try VISCAMessage(parsing: message.encoded()) == message)

        let types: [(VISCAPayloadType, [UInt8])] = [
            (.command, [0x01, 0x00]), (.inquiry, [0x01, 0x10]), (.reply, [0x01, 0x11]),
            (.deviceSettingCommand, [0x01, 0x20]), (.controlCommand, [0x02, 0x00]), (.controlReply, [0x02, 0x01]),
        ]
        for (type, bytes) in types {
            let encoded = VISCAMessage(payloadType: type, sequence: 0xFFFF_FFFF, payload: [0x01]).encoded()
            #expect(Array(encoded[0..<2]) == bytes)
            #expect(Array(encoded[2..<8]) == [0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF])
            #expect(try VISCAMessage(parsing: encoded).payloadType == type)
        }
        // RESET control command: 02 00 00 01 ssssssss 01
        #expect(VISCAMessage(payloadType: .controlCommand, sequence: 0, payload: VISCAControl.reset).encoded()
                == [0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01])
    }

    @Test func sequenceNumbersAreBigEndian() throws {
        for sequence: UInt32 in [0, 1, 0xFF, 0x100, 0xDEAD_BEEF, .max] {
            let encoded = VISCAMessage(payloadType: .inquiry, sequence: sequence, payload: VISCAInquiry.zoomPosition.encoded()).encoded()
            #expect(Array(encoded[4..<8]) == [UInt8(sequence >> 24), UInt8((sequence >> 16) & 0xFF), UInt8((sequence >> 8) & 0xFF), UInt8(sequence & 0xFF)])
            #expect(try VISCAMessage(parsing: encoded).sequence == sequence)
        }
    }

    @Test func framingErrors() {
        #expect(throws: VISCAParseError.truncatedHeader(length: 7)) { try VISCAMessage(parsing: [0x01, 0x11, 0, 3, 0, 0, 0]) }
        #expect(throws: VISCAParseError.unknownPayloadType(0x0300)) { try VISCAMessage(parsing: [0x03, 0x00, 0, 1, 0, 0, 0, 0, 1]) }
        #expect(throws: VISCAParseError.lengthMismatch(declared: 4, actual: 3)) {
            try VISCAMessage(parsing: [0x01, 0x11, 0, 4, 0, 0, 0, 0, 0x90, 0x41, 0xFF])
        }
        #expect(throws: VISCAParseError.payloadLength(0)) { try VISCAMessage(parsing: [0x01, 0x11, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: VISCAParseError.payloadLength(17)) {
            try VISCAMessage(parsing: [0x01, 0x11, 0, 17, 0, 0, 0, 0] + Array(repeating: 0, count: 17))
        }
    }

    // MARK: Replies

    @Test func replies() throws {
        #expect(try VISCAReply(parsing: [0x90, 0x41, 0xFF]) == .ack(socket: 1))
        #expect(try VISCAReply(parsing: [0x90, 0x52, 0xFF]) == .completion(socket: 2, data: []))
        #expect(try VISCAReply(parsing: [0x90, 0x50, 0x00, 0x09, 0x09, 0x00, 0x0F, 0x0E, 0x05, 0x00, 0xFF])
                == .completion(socket: 0, data: [0x00, 0x09, 0x09, 0x00, 0x0F, 0x0E, 0x05, 0x00]))
        let errors: [(UInt8, VISCAErrorCode)] = [
            (0x01, .messageLength), (0x02, .syntax), (0x03, .commandBufferFull), (0x04, .commandCanceled),
            (0x05, .noSocket), (0x41, .notExecutable), (0x7E, .other(0x7E)),
        ]
        for (code, error) in errors {
            #expect(try VISCAReply(parsing: [0x90, 0x61, code, 0xFF]) == .error(socket: 1, error))
            #expect(VISCAReply.error(socket: 1, error).encoded() == [0x90, 0x61, code, 0xFF])
            #expect(error.code == code)
        }
        #expect(try VISCAReply(parsing: [0x90, 0x60, 0x02, 0xFF]) == .error(socket: 0, .syntax))
        // Camera 2's replies start with A0.
        #expect(try VISCAReply(parsing: [0xA0, 0x41, 0xFF]) == .ack(socket: 1))
        #expect(VISCAReply.ack(socket: 1).encoded() == [0x90, 0x41, 0xFF])
        #expect(VISCAReply.completion(socket: 0, data: [1, 2]).encoded() == [0x90, 0x50, 1, 2, 0xFF])
    }

    @Test func replyErrors() {
        #expect(throws: VISCAParseError.missingTerminator) { try VISCAReply(parsing: [0x90, 0x41]) }
        #expect(throws: VISCAParseError.missingTerminator) { try VISCAReply(parsing: [0x90, 0x41, 0x00]) }
        #expect(throws: VISCAParseError.embeddedTerminator(index: 1)) { try VISCAReply(parsing: [0x90, 0xFF, 0xFF]) }
        #expect(throws: VISCAParseError.invalidReplyHeader(0x81)) { try VISCAReply(parsing: [0x81, 0x41, 0xFF]) }
        #expect(throws: VISCAParseError.invalidReplyHeader(0x91)) { try VISCAReply(parsing: [0x91, 0x41, 0xFF]) }
        #expect(throws: VISCAParseError.invalidReply) { try VISCAReply(parsing: [0x90, 0x41, 0x00, 0xFF]) }
        #expect(throws: VISCAParseError.invalidReply) { try VISCAReply(parsing: [0x90, 0x61, 0xFF]) }
        #expect(throws: VISCAParseError.invalidReply) { try VISCAReply(parsing: [0x90, 0x30, 0xFF]) }
        #expect(throws: VISCAParseError.payloadLength(17)) { try VISCAReply(parsing: Array(repeating: 0x90, count: 16) + [0xFF]) }
    }

    @Test func positionInquiryData() throws {
        let panTilt = try VISCAInquiry.panTilt(fromCompletionData: [0x0F, 0x06, 0x07, 0x00, 0x00, 0x05, 0x01, 0x00])
        #expect(panTilt.pan == -2448)
        #expect(panTilt.tilt == 0x0510)
        #expect(try VISCAInquiry.zoom(fromCompletionData: [0x04, 0x00, 0x00, 0x00]) == 0x4000)
        #expect(throws: VISCAParseError.inquiryDataLength(expected: 8, actual: 4)) {
            try VISCAInquiry.panTilt(fromCompletionData: [0, 0, 0, 0])
        }
        #expect(throws: VISCAParseError.invalidNibble(index: 2, byte: 0x10)) {
            try VISCAInquiry.zoom(fromCompletionData: [0x00, 0x00, 0x10, 0x00])
        }
    }

    @Test func controlReplies() throws {
        #expect(try VISCAControl.Reply(parsing: [0x01]) == .ack)
        #expect(try VISCAControl.Reply(parsing: [0x0F, 0x01]) == .sequenceNumberError)
        #expect(try VISCAControl.Reply(parsing: [0x0F, 0x02]) == .messageError)
        #expect(throws: VISCAParseError.invalidControlReply) { try VISCAControl.Reply(parsing: [0x0F]) }
        #expect(throws: VISCAParseError.invalidControlReply) { try VISCAControl.Reply(parsing: [0x01, 0x01]) }
        #expect(throws: VISCAParseError.invalidControlReply) { try VISCAControl.Reply(parsing: []) }
    }

    // MARK: Hostile input

    /// Every parser on every prefix of valid datagrams, and on pseudo-random bytes: typed errors
    /// or values, never a trap.
    @Test func hostileInputNeverTraps() {
        let valid: [[UInt8]] = [
            VISCAMessage(payloadType: .reply, sequence: 7, payload: [0x90, 0x50, 0, 9, 9, 0, 0xF, 0xE, 5, 0, 0xFF]).encoded(),
            VISCAMessage(payloadType: .reply, sequence: 7, payload: [0x90, 0x61, 0x41, 0xFF]).encoded(),
            VISCAMessage(payloadType: .controlReply, sequence: 0, payload: [0x0F, 0x01]).encoded(),
        ]
        var outcomes = 0
        for datagram in valid {
            for length in 0...datagram.count {
                outcomes += parseEverything(Array(datagram.prefix(length)))
                outcomes += parseEverything(Array(datagram.suffix(length)))
            }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        for _ in 0..<20_000 {
            let length = Int(next() % 30)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: next()) }
            // Bias half of them towards plausible headers so the inner parsers get exercised.
            if length >= 8, next() % 2 == 0 {
                bytes[0] = [0x01, 0x02][Int(next() % 2)]
                bytes[1] = [0x00, 0x10, 0x11, 0x01][Int(next() % 4)]
                bytes[2] = 0
                bytes[3] = UInt8(length - 8)
                if length > 9 { bytes[8] = 0x90 }
            }
            outcomes += parseEverything(bytes)
        }
        #expect(outcomes > 0)
    }

    private func parseEverything(_ bytes: [UInt8]) -> Int {
        var parsed = 0
        if let message = try? VISCAMessage(parsing: bytes) {
            parsed += 1
            if let reply = try? VISCAReply(parsing: message.payload) {
                parsed += 1
                if case .completion(_, let data) = reply {
                    _ = try? VISCAInquiry.panTilt(fromCompletionData: data)
                    _ = try? VISCAInquiry.zoom(fromCompletionData: data)
                }
            }
            _ = try? VISCAControl.Reply(parsing: message.payload)
        }
        _ = try? VISCAReply(parsing: bytes)
        _ = try? VISCAControl.Reply(parsing: bytes)
        _ = try? VISCANibbles.decode(bytes, at: bytes.count / 2)
        _ = try? VISCANibbles.decode(bytes, at: -1)
        // Slices with a nonzero start index are collections too.
        _ = try? VISCAMessage(parsing: bytes.dropFirst())
        _ = try? VISCAReply(parsing: bytes.dropFirst(2))
        return parsed
    }

    // MARK: Units

    @Test func defaultUnitMapping() {
        let units = VISCAUnits()
        #expect(units.panUnits(degrees: 170) == 0x0990)
        #expect(units.panUnits(degrees: -170) == -0x0990)
        #expect(units.tiltUnits(degrees: 90) == 0x0510)
        #expect(units.tiltUnits(degrees: -30) == -432)
        #expect(units.panUnits(degrees: 1e9) == .max)
        #expect(units.panUnits(degrees: .nan) == 0)
        #expect(abs(units.panDegrees(units: 0x0990) - 170) < 1e-9)
        #expect(units.zoomPosition(factor: 1) == 0)
        #expect(units.zoomPosition(factor: 12) == 0x4000)
        #expect(units.zoomPosition(factor: 100) == 0x4000)
        #expect(units.zoomPosition(factor: 0) == 0)
        #expect(units.zoomPosition(factor: 6.5) == 0x2000)
        #expect(units.zoomFactor(position: 0x2000) == 6.5)
        #expect(units.zoomFactor(position: 0xFFFF) == 12)
        #expect(units.focusPosition(0) == 0x1000)
        #expect(units.focusPosition(1) == 0xF000)
    }

    @Test func zoomCurveIsPiecewiseLinear() {
        let units = VISCAUnits(zoomCurve: [.init(factor: 1, position: 0), .init(factor: 2, position: 0x1000), .init(factor: 10, position: 0x2000)])
        #expect(units.zoomPosition(factor: 1.5) == 0x0800)
        #expect(units.zoomPosition(factor: 6) == 0x1800)
        #expect(units.zoomFactor(position: 0x1800) == 6)
    }

    @Test func velocityMapping() {
        let units = VISCAUnits()
        // Pan: 24 equal buckets over (0, 1]; tilt: 23; positive pan = right, positive tilt = up.
        #expect(units.drive(pan: 1, tilt: 1) == .panTiltDrive(panSpeed: 0x18, tiltSpeed: 0x17, pan: .right, tilt: .up))
        #expect(units.drive(pan: -0.5, tilt: -0.5) == .panTiltDrive(panSpeed: 12, tiltSpeed: 12, pan: .left, tilt: .down))
        #expect(units.drive(pan: 0.001, tilt: 0) == .panTiltDrive(panSpeed: 1, tiltSpeed: 1, pan: .right, tilt: .stop))
        #expect(units.drive(pan: 0, tilt: -7) == .panTiltDrive(panSpeed: 1, tiltSpeed: 0x17, pan: .stop, tilt: .down))
        #expect(units.drive(pan: .nan, tilt: 0) == .panTiltDrive(panSpeed: 1, tiltSpeed: 1, pan: .stop, tilt: .stop))
        // Zoom: 8 buckets, p = 0...7; positive = tele.
        #expect(units.zoom(1) == .zoomTele(speed: 7))
        #expect(units.zoom(-0.5) == .zoomWide(speed: 3))
        #expect(units.zoom(0.01) == .zoomTele(speed: 0))
        #expect(units.zoom(0) == .zoomStop)
    }
}
