import RelaisWire
import Testing

@testable import RelaisMedia

/// A fake VP8 frame: the first byte is a frame tag whose bit 0 is the P bit (0 = key frame, RFC
/// 6386 §9.1), the rest a counting pattern so misplaced bytes show.
func vp8Frame(size: Int, keyframe: Bool, seed: Int = 0) -> [UInt8] {
    (0..<size).map { i in
        i == 0 ? (keyframe ? 0x10 : 0x11) : UInt8(truncatingIfNeeded: i &* 7 &+ seed)
    }
}

@Suite("VP8 payload format (RFC 7741)")
struct RTPVP8Tests {
    @Test(arguments: [1, 1200, 5000, 100_000])
    func roundTripWithDescriptorsCheckedByteByByte(size: Int) throws {
        var packetizer = VP8Packetizer(initialPictureID: 0x1234)
        let frame = vp8Frame(size: size, keyframe: true)
        let payloads = packetizer.packetize(frame)

        let room = VP8Packetizer.defaultMaxPayload - 4
        #expect(payloads.count == (size + room - 1) / room)
        let sizes = payloads.map(\.count)
        #expect(sizes.max()! <= VP8Packetizer.defaultMaxPayload)
        #expect(sizes.max()! - sizes.min()! <= 1, "packets are balanced")
        for (index, payload) in payloads.enumerated() {
            // Byte 0: X=1 (0x80) | N=0 | S (0x10) on the first packet only | PID=0.
            #expect(payload[0] == (index == 0 ? 0x90 : 0x80))
            // Byte 1: I=1 (0x80), L=T=K=0.
            #expect(payload[1] == 0x80)
            // Bytes 2-3: M=1 (0x80) and the 15-bit PictureID 0x1234, big-endian.
            #expect(payload[2] == 0x92)
            #expect(payload[3] == 0x34)
        }
        #expect(payloads.reduce(0) { $0 + $1.count } == size + 4 * payloads.count)
        #expect(packetizer.nextPictureID == 0x1235)

        var assembler = VP8FrameAssembler()
        var result: VP8Frame?
        for (index, payload) in payloads.enumerated() {
            let marker = index == payloads.count - 1
            let out = try payload.withUnsafeBytes { raw in
                try assembler.push(
                    payload: raw, sequenceNumber: SequenceNumber(65_530).advanced(by: index), timestamp: 90_000,
                    marker: marker)
            }
            #expect((out != nil) == marker)
            result = out ?? result
        }
        let assembled = try #require(result)
        #expect(assembled.bytes == frame)
        #expect(assembled.isKeyframe)
        #expect(assembled.pictureID == 0x1234)
        #expect(assembled.rtpTimestamp == 90_000)
    }

    @Test func interFrameIsNotKeyframe() throws {
        var packetizer = VP8Packetizer(maxPayload: 104)
        let payloads = packetizer.packetize(vp8Frame(size: 300, keyframe: false))
        #expect(payloads.map(\.count) == [104, 104, 104])
        let packets = payloads.enumerated().map { i, p in
            RTPPacket(
                marker: i == 2, payloadType: PayloadType(96), sequenceNumber: SequenceNumber(UInt16(i)),
                timestamp: 7, ssrc: SSRC(1), payload: p)
        }
        let frame = try #require(try VP8FrameAssembler.assemble(packets))
        #expect(!frame.isKeyframe)
        #expect(frame.bytes == vp8Frame(size: 300, keyframe: false))
    }

    @Test func pictureIDWrapsAt32767() throws {
        var packetizer = VP8Packetizer(initialPictureID: 32_766)
        let first = packetizer.packetize([0x10])
        let second = packetizer.packetize([0x11])
        let third = packetizer.packetize([0x11])
        #expect(first == [[0x90, 0x80, 0xFF, 0xFE, 0x10]])  // 32766 = 0x7FFE
        #expect(second == [[0x90, 0x80, 0xFF, 0xFF, 0x11]])  // 32767 = 0x7FFF
        #expect(third == [[0x90, 0x80, 0x80, 0x00, 0x11]])  // wrapped to 0, M still set
        #expect(try VP8PayloadDescriptor(parsing: third[0]).pictureID == .fifteenBit(0))
        #expect(packetizer.packetize([]) == [], "an empty frame gives nothing")
        #expect(packetizer.nextPictureID == 1, "and consumes no PictureID")
    }

    @Test func callerBufferVariantMatchesArrayVariant() {
        var a = VP8Packetizer(maxPayload: 50, initialPictureID: 9)
        var b = VP8Packetizer(maxPayload: 50, initialPictureID: 9)
        let frame = vp8Frame(size: 333, keyframe: true)
        var collected: [[UInt8]] = []
        var markers: [Bool] = []
        frame.withUnsafeBytes { raw in
            a.packetize(raw) { payload, marker in
                collected.append(Array(payload))
                markers.append(marker)
            }
        }
        #expect(collected == b.packetize(frame))
        #expect(markers == Array(repeating: false, count: collected.count - 1) + [true])
    }

    @Test func descriptorWithEveryOptionalField() throws {
        // 0xB1: X=1, N=1 (0x20), S=1, PID=1.  0xF0: I, L, T, K.  0x05: M=0, 7-bit PictureID 5.
        // 0x2A: TL0PICIDX 42.  0xB1: TID=2 (0b10), Y=1, KEYIDX=0b10001.  Then one byte of frame.
        let d = try VP8PayloadDescriptor(parsing: [0xB1, 0xF0, 0x05, 0x2A, 0xB1, 0x00])
        #expect(d.nonReference && d.startOfPartition && d.partitionIndex == 1)
        #expect(!d.isFrameStart, "PID 1 is not the frame's first partition")
        #expect(d.pictureID == .sevenBit(5))
        #expect(d.tl0PictureIndex == 42)
        #expect(d.temporalLayer == 2 && d.layerSync && d.keyIndex == 17)
        #expect(d.length == 5)

        // K without T: the byte holds only KEYIDX; 15-bit PictureID 0x0102.
        let k = try VP8PayloadDescriptor(parsing: [0x90, 0x90, 0x81, 0x02, 0x03, 0x10])
        #expect(k.pictureID == .fifteenBit(0x0102))
        #expect(k.temporalLayer == nil && k.keyIndex == 3 && k.length == 5 && k.isFrameStart)

        // No X: one byte of descriptor.
        let plain = try VP8PayloadDescriptor(parsing: [0x10, 0x00])
        #expect(plain.length == 1 && plain.pictureID == nil && plain.isFrameStart)

        #expect(throws: VP8PayloadError.noFrameData) { try VP8PayloadDescriptor(parsing: [0x90, 0x80, 0x81, 0x02]) }
        #expect(throws: VP8PayloadError.truncatedDescriptor(needed: 4, have: 3)) {
            try VP8PayloadDescriptor(parsing: [0x90, 0x80, 0x81])
        }
        #expect(throws: VP8PayloadError.truncatedDescriptor(needed: 1, have: 0)) {
            try VP8PayloadDescriptor(parsing: [])
        }
    }

    /// An RTP packet carrying the start of a 640x480 VP8 key frame, as libwebrtc sends it:
    /// descriptor with I, L, T, K, then the frame tag and the key frame start code 9D 01 2A.
    static let realPacket: [UInt8] = [
        0x80, 0xE0, 0x12, 0x34, 0x00, 0x01, 0x5F, 0x90, 0xDE, 0xAD, 0xBE, 0xEF,  // RTP, M=1, PT 96
        0x90, 0xF0, 0x81, 0x23, 0x05, 0x40,  // X S | I L T K | M pid 0x0123 | TL0 5 | TID 1
        0x50, 0x2A, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01,  // frame tag, start code, 640x480
        0x39, 0x6B, 0x00, 0x27, 0x08, 0x85, 0x85, 0x88,
    ]

    @Test func everyPrefixOfARealPacketParsesOrThrowsWithoutTrapping() throws {
        let full = try RTPPacket(parsing: Self.realPacket)
        let descriptor = try VP8PayloadDescriptor(parsing: full.payload)
        #expect(descriptor.pictureID == .fifteenBit(0x0123) && descriptor.tl0PictureIndex == 5)
        #expect(descriptor.temporalLayer == 1 && descriptor.keyIndex == 0 && descriptor.length == 6)
        #expect(full.payload.withUnsafeBytes { descriptor.isKeyframe(in: $0) })

        var parsed = 0
        for length in 0...Self.realPacket.count {
            let prefix = Array(Self.realPacket.prefix(length))
            guard let packet = try? RTPPacket(parsing: prefix) else { continue }
            var assembler = VP8FrameAssembler()
            do {
                let frame = try assembler.push(packet)
                parsed += 1
                #expect(frame?.bytes == Array(packet.payload.dropFirst(6)))
            } catch {
                #expect(packet.payload.count <= 6, "only prefixes without frame data fail: \(error)")
            }
        }
        #expect(parsed == Self.realPacket.count - 18)
        // And the payload alone, byte by byte.
        for length in 0...full.payload.count {
            let result = Result { try VP8PayloadDescriptor(parsing: Array(full.payload.prefix(length))) }
            if length > 6 { #expect((try? result.get()) != nil) } else { #expect((try? result.get()) == nil) }
        }
    }

    @Test func assemblerAbandonsFramesWithGapsAndIgnoresOrphans() throws {
        var packetizer = VP8Packetizer(maxPayload: 14)
        let payloads = packetizer.packetize(vp8Frame(size: 30, keyframe: true))  // 3 packets of 10
        #expect(payloads.count == 3)
        func push(_ a: inout VP8FrameAssembler, _ i: Int, seq: UInt16, ts: UInt32 = 0) throws -> VP8Frame? {
            try payloads[i].withUnsafeBytes {
                try a.push(payload: $0, sequenceNumber: SequenceNumber(seq), timestamp: ts, marker: i == 2)
            }
        }
        var a = VP8FrameAssembler()
        #expect(try push(&a, 1, seq: 1) == nil)  // no start seen: discarded
        #expect(try push(&a, 0, seq: 10) == nil)
        #expect(try push(&a, 2, seq: 12) == nil)  // 11 missing: frame abandoned
        #expect(a.framesAbandoned == 1 && a.packetsDiscarded == 2)
        #expect(try push(&a, 0, seq: 20) == nil)
        #expect(try push(&a, 1, seq: 21, ts: 5) == nil)  // other timestamp: abandoned
        #expect(a.framesAbandoned == 2)
        #expect(try push(&a, 0, seq: 30) == nil)
        #expect(try push(&a, 1, seq: 31) == nil)
        #expect(try push(&a, 2, seq: 32)?.bytes == vp8Frame(size: 30, keyframe: true))
        #expect(throws: VP8PayloadError.self) {
            try [UInt8]([0x80]).withUnsafeBytes {
                try a.push(payload: $0, sequenceNumber: SequenceNumber(33), timestamp: 0, marker: true)
            }
        }
        var small = VP8FrameAssembler(maxFrameBytes: 15)
        #expect(try push(&small, 0, seq: 0) == nil)
        #expect(throws: VP8PayloadError.frameTooLarge(limit: 15)) { try push(&small, 1, seq: 1) }
    }

    @Test func opusPayloadDurations() {
        #expect(OpusPayload.clockRate == 48_000)
        #expect(OpusPayload.timestampIncrement(for: .milliseconds(20)) == 960)
        #expect(OpusPayload.payload(for: [1, 2, 3]) == [1, 2, 3])
        func samples(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBytes { OpusPayload.sampleCount(of: $0) } }
        #expect(samples([0x08]) == 960)  // config 1: SILK NB 20 ms, code 0
        #expect(samples([0xF8]) == 960)  // config 31: CELT FB 20 ms
        #expect(samples([0xF9]) == 1920)  // code 1: two frames
        #expect(samples([0xFB, 0x03]) == 2880)  // code 3: three frames
        #expect(samples([0xFB, 0x07]) == nil)  // 140 ms: over the limit
        #expect(samples([0xFB]) == nil)  // code 3 without its count byte
        #expect(samples([]) == nil)
        #expect(samples([0x60]) == 480)  // config 12: hybrid SWB 10 ms
    }
}
