import RelaisWire
import Testing

@testable import RelaisSFU

@Suite("DownTrack")
struct DownTrackTests {
    static let vp8Key: [UInt8] = [0x10, 0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01] + [UInt8](repeating: 0x55, count: 20)
    static let vp8Delta: [UInt8] = [0x10, 0x11, 0x02, 0x00] + [UInt8](repeating: 0x66, count: 20)

    /// A publisher packet: PT 96, one-byte extensions 1 (audio level), 3 (transport-wide seq) and 5
    /// (an extension the subscriber did not negotiate).
    static func publisherPacket(
        ssrc: UInt32 = 0xAAAA, seq: UInt16, ts: UInt32, pt: UInt8 = 96, payload: [UInt8] = vp8Key,
        extensions: [RTPHeaderExtension]? = nil, padding: UInt8 = 0
    ) -> [UInt8] {
        RTPPacket(
            marker: true, payloadType: PayloadType(pt), sequenceNumber: SequenceNumber(seq), timestamp: ts,
            ssrc: SSRC(ssrc),
            extensions: extensions ?? [
                RTPHeaderExtension(id: 1, value: [0x85]),
                RTPHeaderExtension(id: 3, value: [0x12, 0x34]),
                RTPHeaderExtension(id: 5, value: [0xAB, 0xCD, 0xEF]),
            ],
            payload: payload, paddingLength: padding
        ).serialized()
    }

    static func videoTrack() -> DownTrack {
        DownTrack(
            outputSSRC: SSRC(0xBEEF), kind: .video, codec: .vp8, clockRate: 90_000,
            payloadTypeMap: [(from: 96, to: 100), (from: 97, to: 101)],
            extensionIDMap: [(from: 1, to: 2), (from: 3, to: 7)])
    }

    /// Copies `packet` into a scratch buffer as the relay does, rewrites it, and returns the verdict
    /// and the bytes to send.
    static func rewrite(_ track: inout DownTrack, _ packet: [UInt8], at now: Instant) -> (DownTrackVerdict, [UInt8]) {
        var scratch = [UInt8](repeating: 0, count: 1500)
        scratch.replaceSubrange(0..<packet.count, with: packet)
        let verdict = scratch.withUnsafeMutableBytes { track.rewrite($0, length: packet.count, now: now) }
        if case .forward(let length) = verdict { return (verdict, Array(scratch[0..<length])) }
        return (verdict, [])
    }

    static func forwarded(_ track: inout DownTrack, _ packet: [UInt8], at now: Instant) throws -> RTPPacket {
        let (verdict, bytes) = rewrite(&track, packet, at: now)
        #expect(verdict == .forward(length: packet.count))
        return try RTPPacket(parsing: bytes)
    }

    @Test func rewritesHeaderFieldsAndMapsExtensionIDs() throws {
        var track = Self.videoTrack()
        let input = Self.publisherPacket(seq: 4000, ts: 123_456)
        let (verdict, bytes) = Self.rewrite(&track, input, at: ms(0))
        #expect(verdict == .forward(length: input.count))
        try bytes.withUnsafeBytes { raw in
            let view = try RTPPacketView(parsing: raw)
            #expect(view.ssrc == SSRC(0xBEEF))
            #expect(view.payloadType == PayloadType(100))
            #expect(view.marker)
            #expect(view.sequenceNumber == SequenceNumber(4000))  // first epoch keeps the numbering
            #expect(view.timestamp == 123_456)
            #expect(view.extensionForm == .oneByte)
            #expect(view.extensionValue(id: 2).map(Array.init) == [0x85])
            #expect(view.extensionValue(id: 7).map(Array.init) == [0x12, 0x34])
            #expect(view.extensionValue(id: 14).map(Array.init) == [0xAB, 0xCD, 0xEF])  // hidden
            for stale: UInt8 in [1, 3, 5] { #expect(view.extensionElement(id: stale) == nil) }
            #expect(Array(view.payload) == Self.vp8Key)
        }
        #expect(track.packetsSent == 1)
        #expect(track.octetsSent == UInt32(Self.vp8Key.count))
    }

    @Test func twoByteExtensionsAreMappedAndHiddenToo() throws {
        var track = DownTrack(
            outputSSRC: SSRC(9), kind: .audio, codec: .opus, clockRate: 48_000,
            payloadTypeMap: [(from: 111, to: 109)], extensionIDMap: [(from: 20, to: 9)])
        let input = Self.publisherPacket(
            seq: 1, ts: 0, pt: 111, payload: [0xFC],
            extensions: [RTPHeaderExtension(id: 20, value: [1, 2]), RTPHeaderExtension(id: 3, value: [])])
        let out = try Self.forwarded(&track, input, at: .zero)
        #expect(out.extensions == [RTPHeaderExtension(id: 9, value: [1, 2]), RTPHeaderExtension(id: 14, value: [])])
        #expect(out.payloadType == PayloadType(109))
    }

    @Test func unknownPayloadTypesAndMalformedPacketsAreDropped() {
        var track = Self.videoTrack()
        #expect(Self.rewrite(&track, Self.publisherPacket(seq: 1, ts: 0, pt: 98), at: .zero).0 == .drop(.unknownPayloadType))
        #expect(Self.rewrite(&track, [0x80, 0x60, 0x00], at: .zero).0 == .drop(.malformed))
        var scratch = [UInt8](repeating: 0, count: 10)
        let overlong = scratch.withUnsafeMutableBytes { track.rewrite($0, length: 11, now: .zero) }
        #expect(overlong == .drop(.malformed))
        #expect(track.drops.unknownPayloadType == 1)
        #expect(track.drops.malformed == 2)
        #expect(track.packetsSent == 0)
    }

    @Test func videoWaitsForAKeyframeAndAsksForOneEvery500ms() throws {
        var track = Self.videoTrack()
        #expect(track.waitingForKeyframe)
        var verdicts: [DownTrackVerdict] = []
        for (i, t) in [UInt64(0), 100, 499, 500, 700, 1000].enumerated() {
            verdicts.append(Self.rewrite(&track, Self.publisherPacket(seq: UInt16(i), ts: 0, payload: Self.vp8Delta), at: ms(t)).0)
        }
        #expect(verdicts == [
            .dropAndRequestKeyframe, .drop(.waitingForKeyframe), .drop(.waitingForKeyframe),
            .dropAndRequestKeyframe, .drop(.waitingForKeyframe), .dropAndRequestKeyframe,
        ])
        _ = try Self.forwarded(&track, Self.publisherPacket(seq: 6, ts: 3000), at: ms(1010))
        #expect(!track.waitingForKeyframe)
        _ = try Self.forwarded(&track, Self.publisherPacket(seq: 7, ts: 6000, payload: Self.vp8Delta), at: ms(1040))
        #expect(track.drops.waitingForKeyframe == 6)
        // A packet of the same source from before the keyframe (reordered) would reuse numbering.
        #expect(Self.rewrite(&track, Self.publisherPacket(seq: 5, ts: 0), at: ms(1050)).0 == .drop(.predatesSource))
    }

    @Test func audioIsForwardedFromTheFirstPacket() throws {
        var track = DownTrack(
            outputSSRC: SSRC(9), kind: .audio, codec: .opus, clockRate: 48_000,
            payloadTypeMap: [(from: 111, to: 111)], extensionIDMap: [])
        #expect(!track.waitingForKeyframe)
        let out = try Self.forwarded(&track, Self.publisherPacket(seq: 77, ts: 960, pt: 111, payload: [0xFC, 0x01]), at: .zero)
        #expect(out.sequenceNumber == SequenceNumber(77))
    }

    /// Publisher A sends 10 frames 33 ms apart, reconnects as B 100 ms after its last packet with
    /// unrelated numbering; the subscriber must see sequence +1 and timestamp +100 ms × 90 kHz.
    @Test func aSourceSwitchContinuesTheOutputStream() throws {
        var track = Self.videoTrack()
        for i in 0..<10 {
            let payload = i == 0 ? Self.vp8Key : Self.vp8Delta
            _ = try Self.forwarded(&track, Self.publisherPacket(ssrc: 0xA, seq: UInt16(1000 + i), ts: UInt32(90_000 + 3000 * i), payload: payload), at: ms(UInt64(33 * i)))
        }
        #expect(track.lastOutputSequence == SequenceNumber(1009))
        #expect(track.lastOutputTimestamp == 90_000 + 27_000)
        let lastAt: UInt64 = 33 * 9

        // B's first packet is a delta frame: dropped, keyframe requested.
        #expect(Self.rewrite(&track, Self.publisherPacket(ssrc: 0xB, seq: 49_999, ts: 9_000, payload: Self.vp8Delta), at: ms(lastAt + 80)).0 == .dropAndRequestKeyframe)
        let first = try Self.forwarded(&track, Self.publisherPacket(ssrc: 0xB, seq: 50_000, ts: 12_345), at: ms(lastAt + 100))
        #expect(first.sequenceNumber == SequenceNumber(1010))
        #expect(first.timestamp == 90_000 + 27_000 + 9_000)
        #expect(first.ssrc == SSRC(0xBEEF))
        let second = try Self.forwarded(&track, Self.publisherPacket(ssrc: 0xB, seq: 50_001, ts: 15_345, payload: Self.vp8Delta), at: ms(lastAt + 133))
        #expect(second.sequenceNumber == SequenceNumber(1011))
        #expect(second.timestamp == first.timestamp + 3000)
        #expect(track.sourceSwitches == 1)

        // A straggler from A must not switch back.
        #expect(Self.rewrite(&track, Self.publisherPacket(ssrc: 0xA, seq: 1010, ts: 120_000), at: ms(lastAt + 140)).0 == .drop(.predatesSource))

        // NACK mapping: only sequences of the current epoch that were sent.
        #expect(track.inputSequence(forOutput: SequenceNumber(1010)) == SequenceNumber(50_000))
        #expect(track.inputSequence(forOutput: SequenceNumber(1011)) == SequenceNumber(50_001))
        #expect(track.inputSequence(forOutput: SequenceNumber(1009)) == nil)  // previous epoch
        #expect(track.inputSequence(forOutput: SequenceNumber(1012)) == nil)  // not sent yet
    }

    @Test func resetSourceWithNoElapsedTimeStillAdvancesTheTimestamp() throws {
        var track = DownTrack(
            outputSSRC: SSRC(9), kind: .audio, codec: .opus, clockRate: 48_000,
            payloadTypeMap: [(from: 111, to: 111)], extensionIDMap: [])
        _ = try Self.forwarded(&track, Self.publisherPacket(seq: 500, ts: 1000, pt: 111, payload: [1]), at: ms(10))
        track.resetSource()
        // Same SSRC, numbering jumps backwards (e.g. another simulcast layer): continuous output.
        let out = try Self.forwarded(&track, Self.publisherPacket(seq: 20, ts: 7, pt: 111, payload: [1]), at: ms(10))
        #expect(out.sequenceNumber == SequenceNumber(501))
        #expect(out.timestamp == 1001)
    }

    @Test func offsetsWrapAroundAndNacksMapBackAcrossTheWrap() throws {
        var track = Self.videoTrack()
        _ = try Self.forwarded(&track, Self.publisherPacket(ssrc: 1, seq: 100, ts: UInt32.max - 1000), at: ms(0))
        _ = try Self.forwarded(&track, Self.publisherPacket(ssrc: 2, seq: 65534, ts: 50), at: ms(0))  // switch: output 101
        let a = try Self.forwarded(&track, Self.publisherPacket(ssrc: 2, seq: 65535, ts: 50, payload: Self.vp8Delta), at: ms(1))
        let b = try Self.forwarded(&track, Self.publisherPacket(ssrc: 2, seq: 0, ts: 3050, payload: Self.vp8Delta), at: ms(2))
        #expect(a.sequenceNumber == SequenceNumber(102))
        #expect(b.sequenceNumber == SequenceNumber(103))
        #expect(b.timestamp == UInt32.max - 1000 &+ 1 &+ 3000)  // elapsed 0 -> +1 tick, then +3000
        #expect(track.inputSequence(forOutput: SequenceNumber(103)) == SequenceNumber(0))
        #expect(track.inputSequence(forOutput: SequenceNumber(101)) == SequenceNumber(65534))
    }

    /// Two hours of HD video are about two million packets: an epoch must not turn over after
    /// 32 768 (a 16-bit comparison with the epoch's first packet would drop the next 32 768).
    @Test func aLongEpochKeepsForwardingAndNacksStillMapBack() throws {
        var track = Self.videoTrack()
        _ = try Self.forwarded(&track, Self.publisherPacket(seq: 1000, ts: 0), at: ms(0))
        var seq: UInt16 = 1000
        var dropped = 0
        for n in 1..<100_000 {
            seq &+= 1
            let (verdict, _) = Self.rewrite(&track, Self.publisherPacket(seq: seq, ts: UInt32(n) * 3000, payload: Self.vp8Delta), at: ms(UInt64(n)))
            if case .forward = verdict {} else { dropped += 1 }
        }
        #expect(dropped == 0)
        // A recent packet maps back; one older than the retransmission horizon of 32 767 does not.
        #expect(track.inputSequence(forOutput: SequenceNumber(seq &- 100)) == SequenceNumber(seq &- 100))
        #expect(track.inputSequence(forOutput: SequenceNumber(seq &+ 1)) == nil, "not sent yet")
        // A straggler from before a source switch is still refused after a long epoch.
        _ = try Self.forwarded(&track, Self.publisherPacket(ssrc: 0xBBBB, seq: 500, ts: 7), at: ms(200_000))
        let (late, _) = Self.rewrite(&track, Self.publisherPacket(ssrc: 0xBBBB, seq: 499, ts: 7, payload: Self.vp8Delta), at: ms(200_001))
        #expect(late == .drop(.predatesSource))
    }

    @Test func senderReportIsTranslatedIntoTheSubscribersTimeline() throws {
        var track = Self.videoTrack()
        #expect(track.senderReport(publisherSSRC: SSRC(0xA), publisherNTP: 1, publisherRTP: 1) == nil)
        _ = try Self.forwarded(&track, Self.publisherPacket(ssrc: 0xA, seq: 10, ts: 1_000_000), at: ms(0))
        let first = try Self.forwarded(&track, Self.publisherPacket(ssrc: 0xB, seq: 900, ts: 5_000, padding: 4), at: ms(1000))
        let offset = first.timestamp &- 5_000  // B's timestamps shift by this much
        let ntp: UInt64 = 0xE000_0000_8000_0000
        let sr = try #require(track.senderReport(publisherSSRC: SSRC(0xB), publisherNTP: ntp, publisherRTP: 8_000))
        #expect(sr.ssrc == SSRC(0xBEEF))
        #expect(sr.ntpTimestamp == ntp)
        #expect(sr.rtpTimestamp == 8_000 &+ offset)
        #expect(sr.packetCount == 2)
        #expect(sr.octetCount == 2 * UInt32(Self.vp8Key.count))  // payload only: no header, no padding
        #expect(sr.reportBlocks.isEmpty)
        // An SR of the old source is in the wrong timeline.
        #expect(track.senderReport(publisherSSRC: SSRC(0xA), publisherNTP: ntp, publisherRTP: 8_000) == nil)
    }
}
