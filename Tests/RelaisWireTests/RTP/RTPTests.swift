@testable import RelaisWire
import TestSupport
import Testing

func parseRTP(_ bytes: [UInt8]) -> Result<RTPPacket, RTPError> {
    bytes.withUnsafeBytes { raw in
        do throws(RTPError) {
            return .success(RTPPacket(try RTPPacketView(parsing: raw)))
        } catch {
            return .failure(error)
        }
    }
}

@Suite struct RTPParseTests {
    // A VP8 packet as Chrome sends it: one-byte extensions (abs-send-time id 2, TWCC id 3, mid id 4).
    static let chromeVP8 = hex("""
        90 e0                 // V=2 P=0 X=1 CC=0, M=1 PT=96
        1a 2b                 // sequence 6699
        00 01 e2 40           // timestamp 123456
        de ad be ef           // SSRC
        be de 00 03           // one-byte profile, 3 words
        22 12 34 56           // id 2 len 3: abs-send-time 0x123456
        31 01 02              // id 3 len 2: transport-wide seq 0x0102
        40 31                 // id 4 len 1: mid "1"
        00 00 00              // padding to 12 bytes
        90 10 aa bb cc        // payload (VP8 descriptor + data)
        """)

    @Test func parsesFixedHeaderAndExtensions() throws {
        try Self.chromeVP8.withUnsafeBytes { raw in
            let v = try RTPPacketView(parsing: raw)
            #expect(v.marker)
            #expect(v.payloadType == PayloadType(96))
            #expect(v.sequenceNumber == SequenceNumber(6699))
            #expect(v.timestamp == 123_456)
            #expect(v.ssrc == SSRC(0xDEAD_BEEF))
            #expect(v.extensionForm == .oneByte)
            #expect(v.payloadOffset == 28)
            #expect(v.payloadLength == 5)
            #expect(v.paddingLength == 0)
            #expect(AbsSendTime(v.extensionValue(id: 2)!)?.rawValue == 0x12_3456)
            #expect(v.extensionValue(id: 3).map { $0.u16(at: 0) } == 0x0102)
            #expect(v.extensionValue(id: 4)?.equalsASCII("1") == true)
            #expect(v.extensionValue(id: 5) == nil)
            #expect(Array(v.payload) == [0x90, 0x10, 0xAA, 0xBB, 0xCC])
        }
    }

    @Test func parsesCSRCsPaddingAndTwoByteExtensions() throws {
        let bytes = hex("""
            b2 6f                 // V=2 P=1 X=1 CC=2, M=0 PT=111
            00 07 00 00 03 c0 00 00 00 01
            00 00 00 0a 00 00 00 0b   // CSRCs 10, 11
            10 00 00 02           // two-byte profile 0x1000, 2 words
            01 00                 // id 1, length 0 (allowed only in the two-byte form)
            05 03 aa bb cc        // id 5, length 3
            00                    // padding
            ff ee                 // payload
            00 00 03              // 3 bytes RTP padding, last byte counts them
            """)
        let packet = try parseRTP(bytes).get()
        #expect(packet.csrcs == [SSRC(10), SSRC(11)])
        #expect(packet.extensions == [RTPHeaderExtension(id: 1, value: []), RTPHeaderExtension(id: 5, value: [0xAA, 0xBB, 0xCC])])
        #expect(packet.payload == [0xFF, 0xEE])
        #expect(packet.paddingLength == 3)
        #expect(packet.payloadType == PayloadType(111))
    }

    @Test func oneByteFormStopsAtID15() throws {
        let bytes = hex("90 60 00 01 00000001 00000002  be de 00 01  10 aa f0 bb  cc")
        try bytes.withUnsafeBytes { raw in
            let v = try RTPPacketView(parsing: raw)
            #expect(v.extensionValue(id: 1).map(Array.init) == [0xAA])
            var cursor = v.extensionElements
            var ids: [UInt8] = []
            while let e = try cursor.next(in: raw) { ids.append(e.id) }
            #expect(ids == [1])
        }
    }

    @Test func unknownExtensionProfileIsCarriedOpaque() throws {
        let bytes = hex("90 60 00 01 00000001 00000002  ab cd 00 01  11 22 33 44  99")
        try bytes.withUnsafeBytes { raw in
            let v = try RTPPacketView(parsing: raw)
            #expect(v.extensionForm == .other(profile: 0xABCD))
            #expect(v.extensionElement(id: 1) == nil)
            #expect(Array(v.payload) == [0x99])
        }
    }
}

@Suite struct RTPMalformedTests {
    @Test(arguments: [
        ("80 60 00 01 00000001 000000", RTPError.truncated(needed: 12, have: 11)),
        ("40 60 00 01 00000001 00000002", .badVersion(1)),
        ("82 60 00 01 00000001 00000002 00000003", .truncated(needed: 20, have: 16)),  // CC=2, one CSRC
        ("90 60 00 01 00000001 00000002 bede", .truncated(needed: 16, have: 14)),  // extension header cut
        ("90 60 00 01 00000001 00000002 bede 0002 11223344", .extensionOverrun(declaredBytes: 8, available: 4)),
        ("90 60 00 01 00000001 00000002 bede 0001 3f112233", .extensionElementOverrun(offset: 16)),  // len 16 in 4
        ("90 60 00 01 00000001 00000002 1000 0001 01 05 0000", .extensionElementOverrun(offset: 16)),
        ("a0 60 00 01 00000001 00000002 aabb 00", .badPadding(length: 0, available: 3)),
        ("a0 60 00 01 00000001 00000002 aabb 09", .badPadding(length: 9, available: 3)),
        ("a0 60 00 01 00000001 00000002", .badPadding(length: 0, available: 0)),
    ])
    func malformedPacketsGiveTypedErrors(text: String, expected: RTPError) {
        let result = parseRTP(hex(text))
        guard case .failure(let error) = result else {
            Issue.record("parsed a malformed packet: \(text)")
            return
        }
        #expect(error == expected)
    }

    @Test func randomBytesNeverTrap() {
        var rng = SplitMix64(seed: 3550)
        for _ in 0..<50_000 {
            var bytes = rng.bytes(Int.random(in: 0...64, using: &rng))
            if !bytes.isEmpty { bytes[0] = (bytes[0] & 0x3F) | 0x80 }  // version 2, so deeper code runs
            bytes.withUnsafeBytes { raw in
                if let v = try? RTPPacketView(parsing: raw) {
                    for id in 0...15 { _ = v.extensionValue(id: UInt8(id)) }
                    _ = RTPPacket(v)
                }
            }
        }
    }
}

@Suite struct RTPRewriteTests {
    @Test func rewritesHeaderFieldsInPlace() throws {
        var bytes = RTPParseTests.chromeVP8
        try bytes.withUnsafeMutableBytes { raw in
            let v = try RTPPacketView(parsing: UnsafeRawBufferPointer(raw))
            RTPRewrite.setSSRC(SSRC(0x0102_0304), in: raw)
            RTPRewrite.setSequenceNumber(SequenceNumber(65535), in: raw)
            RTPRewrite.setTimestamp(0xFFFF_FFFF, in: raw)
            RTPRewrite.setPayloadType(PayloadType(100), in: raw)
            #expect(RTPRewrite.setTransportWideSequence(0xBEEF, of: v.extensionElement(id: 3)!, in: raw))
            #expect(RTPRewrite.setAbsSendTime(AbsSendTime(rawValue: 0xABCDEF), of: v.extensionElement(id: 2)!, in: raw))
            // Remap mid from id 4 to id 9 (subscriber negotiated another id).
            #expect(RTPRewrite.setExtensionID(9, of: v.extensionElement(id: 4)!, form: .oneByte, in: raw))
            #expect(!RTPRewrite.setExtensionID(15, of: v.extensionElement(id: 2)!, form: .oneByte, in: raw))
        }
        let p = try parseRTP(bytes).get()
        #expect(p.ssrc == SSRC(0x0102_0304))
        #expect(p.sequenceNumber == SequenceNumber(65535))
        #expect(p.timestamp == 0xFFFF_FFFF)
        #expect(p.payloadType == PayloadType(100))
        #expect(p.marker)  // kept
        #expect(p.extensions == [
            RTPHeaderExtension(id: 2, value: [0xAB, 0xCD, 0xEF]),
            RTPHeaderExtension(id: 3, value: [0xBE, 0xEF]),
            RTPHeaderExtension(id: 9, value: [0x31]),
        ])
    }

    @Test func erasedExtensionBecomesPadding() throws {
        var bytes = RTPParseTests.chromeVP8
        try bytes.withUnsafeMutableBytes { raw in
            let v = try RTPPacketView(parsing: UnsafeRawBufferPointer(raw))
            RTPRewrite.erase(v.extensionElement(id: 3)!, form: .oneByte, in: raw)
        }
        let p = try parseRTP(bytes).get()
        #expect(p.extensions.map(\.id) == [2, 4])
        #expect(p.payload == [0x90, 0x10, 0xAA, 0xBB, 0xCC])
    }
}

@Suite struct RTPPropertyTests {
    static func randomPacket(_ rng: inout SplitMix64) -> RTPPacket {
        let twoByte = Bool.random(using: &rng)
        var ids = Set<UInt8>()
        let extensionCount = Int.random(in: 0...5, using: &rng)
        var extensions: [RTPHeaderExtension] = []
        for _ in 0..<extensionCount {
            let id = twoByte ? UInt8.random(in: 1...255, using: &rng) : UInt8.random(in: 1...14, using: &rng)
            guard ids.insert(id).inserted else { continue }
            let length = twoByte ? Int.random(in: 0...40, using: &rng) : Int.random(in: 1...16, using: &rng)
            extensions.append(RTPHeaderExtension(id: id, value: rng.bytes(length)))
        }
        return RTPPacket(
            marker: Bool.random(using: &rng),
            payloadType: PayloadType(UInt8.random(in: 0...127, using: &rng)),
            sequenceNumber: SequenceNumber(UInt16.random(in: 0...UInt16.max, using: &rng)),
            timestamp: UInt32.random(in: 0...UInt32.max, using: &rng),
            ssrc: SSRC(UInt32.random(in: 0...UInt32.max, using: &rng)),
            csrcs: (0..<Int.random(in: 0...15, using: &rng)).map { _ in SSRC(UInt32.random(in: 0...UInt32.max, using: &rng)) },
            extensions: extensions,
            payload: rng.bytes(Int.random(in: 0...1200, using: &rng)),
            paddingLength: Bool.random(using: &rng) ? UInt8.random(in: 1...255, using: &rng) : 0
        )
    }

    @Test func serializeThenParseIsIdentity() throws {
        var rng = SplitMix64(seed: 8285)
        for _ in 0..<3_000 {
            let packet = Self.randomPacket(&rng)
            let bytes = packet.serialized()
            #expect(bytes.count == packet.serializedLength)
            let parsed = try parseRTP(bytes).get()
            #expect(parsed == packet)
            #expect(PacketClass.classify(bytes) == .rtp || (64...95).contains(packet.payloadType.rawValue))
        }
    }
}

@Suite struct SequenceNumberTests {
    @Test func unwrapsAcrossRollover() {
        var u = SequenceNumberUnwrapper()
        #expect(u.unwrap(SequenceNumber(65534)) == 65534)
        #expect(u.unwrap(SequenceNumber(65535)) == 65535)
        #expect(u.unwrap(SequenceNumber(0)) == 65536)
        #expect(u.unwrap(SequenceNumber(65533)) == 65533)  // late packet from the previous cycle
        #expect(u.unwrap(SequenceNumber(2)) == 65538)
    }

    @Test func comparesModulo16Bits() {
        #expect(SequenceNumber(0).isNewer(than: SequenceNumber(65535)))
        #expect(!SequenceNumber(65535).isNewer(than: SequenceNumber(0)))
        #expect(SequenceNumber(10).distance(from: SequenceNumber(65530)) == 16)
    }

    @Test func timestampsUnwrap() {
        var u = TimestampUnwrapper()
        #expect(u.unwrap(0xFFFF_FF00) == 0xFFFF_FF00)
        #expect(u.unwrap(0x0000_0100) == 0x1_0000_0100)
    }
}
