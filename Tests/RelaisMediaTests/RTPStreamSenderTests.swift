import RelaisWire
import Testing

@testable import RelaisMedia

@Suite("RTP stream sender and send history")
struct RTPStreamSenderTests {
    static let video = RTPStreamSender.Configuration(
        ssrc: SSRC(0xCAFE_F00D), payloadType: PayloadType(96), clockRate: 90_000)

    @Test func sequenceNumbersIncrementAndWrap() throws {
        var sender = RTPStreamSender(configuration: Self.video, initialSequenceNumber: SequenceNumber(65_534), timestampOffset: 0)
        var sequences: [UInt16] = []
        for i in 0..<4 {
            let bytes = sender.packet(payload: [UInt8(i)], marker: i == 3, rtpTimestamp: 1234, now: .zero)
            let packet = try RTPPacket(parsing: bytes)
            sequences.append(packet.sequenceNumber.rawValue)
            #expect(packet.ssrc == SSRC(0xCAFE_F00D) && packet.payloadType == PayloadType(96))
            #expect(packet.marker == (i == 3) && packet.timestamp == 1234 && packet.payload == [UInt8(i)])
            #expect(packet.extensions.isEmpty && bytes.count == 13)
        }
        #expect(sequences == [65_534, 65_535, 0, 1])
        #expect(sender.packetCount == 4 && sender.octetCount == 4)
    }

    @Test func randomStartsDiffer() {
        var g = SystemRandomNumberGenerator()
        let a = RTPStreamSender(configuration: Self.video, using: &g)
        let b = RTPStreamSender(configuration: Self.video, using: &g)
        #expect(a.nextSequenceNumber != b.nextSequenceNumber || a.timestampOffset != b.timestampOffset)
    }

    @Test func timestampsFollowTheMediaClock() {
        let sender = RTPStreamSender(configuration: Self.video, initialSequenceNumber: SequenceNumber(0), timestampOffset: UInt32.max - 1000)
        let t0 = Instant(nanoseconds: 5_000_000_000)
        let base = sender.rtpTimestamp(at: t0)
        #expect(base == (UInt32.max - 1000) &+ 450_000)  // 5 s at 90 kHz
        // 30 fps: frame n at n/30 s → 3000 ticks per frame, wrapping modulo 2^32.
        for n in 1...90 {
            let t = Instant(nanoseconds: t0.nanoseconds + UInt64(n) * 1_000_000_000 / 30)
            #expect(sender.rtpTimestamp(at: t) == base &+ UInt32(3000 * n))
        }
        var audio = Self.video
        audio.clockRate = OpusPayload.clockRate
        let opus = RTPStreamSender(configuration: audio, initialSequenceNumber: SequenceNumber(0), timestampOffset: 7)
        #expect(opus.rtpTimestamp(at: Instant(nanoseconds: 20_000_000)) == 7 + 960)
    }

    @Test func headerExtensionsAreWrittenInOneByteForm() throws {
        var config = Self.video
        config.absSendTimeID = 3
        config.transportWideSequenceID = 5
        var sender = RTPStreamSender(configuration: config, initialSequenceNumber: SequenceNumber(10), timestampOffset: 0)
        let now = Instant(nanoseconds: 1_500_000_000)
        let bytes = sender.packet(payload: [0xAA, 0xBB], marker: true, rtpTimestamp: 99, now: now, transportSequence: 0x0102)
        #expect(sender.headerLength == 24)
        let ast = AbsSendTime(nanoseconds: now.nanoseconds).rawValue
        // Header with X; extension block BEDE, 2 words; id 3 len 3 (0x32); id 5 len 2 (0x51); 1 pad.
        #expect(bytes == [
            0x90, 0xE0, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x63, 0xCA, 0xFE, 0xF0, 0x0D,
            0xBE, 0xDE, 0x00, 0x02,
            0x32, UInt8(ast >> 16), UInt8(ast >> 8 & 0xFF), UInt8(ast & 0xFF),
            0x51, 0x01, 0x02, 0x00,
            0xAA, 0xBB,
        ])
        // The same packet built with RelaisWire's owned type serializes identically.
        let reference = RTPPacket(
            marker: true, payloadType: PayloadType(96), sequenceNumber: SequenceNumber(10), timestamp: 99,
            ssrc: SSRC(0xCAFE_F00D),
            extensions: [
                RTPHeaderExtension(id: 3, value: [UInt8(ast >> 16), UInt8(ast >> 8 & 0xFF), UInt8(ast & 0xFF)]),
                RTPHeaderExtension(id: 5, value: [0x01, 0x02]),
            ], payload: [0xAA, 0xBB])
        #expect(reference.serialized() == bytes)
        try bytes.withUnsafeBytes { raw in
            let view = try RTPPacketView(parsing: raw)
            #expect(view.extensionValue(id: 3).flatMap(AbsSendTime.init)?.rawValue == ast)
        }
    }

    @Test func writeIntoTooSmallBufferThrowsAndConsumesNothing() {
        var sender = RTPStreamSender(configuration: Self.video, initialSequenceNumber: SequenceNumber(1), timestampOffset: 0)
        var buffer = [UInt8](repeating: 0, count: 20)
        let payload = [UInt8](repeating: 1, count: 10)
        let threw = buffer.withUnsafeMutableBytes { out in
            payload.withUnsafeBytes { p in
                (try? sender.write(payload: p, marker: false, rtpTimestamp: 0, now: .zero, into: out)) == nil
            }
        }
        #expect(threw)
        #expect(sender.nextSequenceNumber == SequenceNumber(1) && sender.packetCount == 0)
        #expect(sender.history.packet(sequenceNumber: SequenceNumber(1), now: .zero) == nil)
    }

    @Test func historyRetransmitsRecentPacketsAndForgetsOldOnes() throws {
        var config = Self.video
        config.transportWideSequenceID = 2
        var sender = RTPStreamSender(configuration: config, initialSequenceNumber: SequenceNumber(65_000), timestampOffset: 0)
        var sent: [UInt16: [UInt8]] = [:]
        for i in 0..<600 {
            let now = Instant(nanoseconds: UInt64(i) * 1_000_000)
            let seq = sender.nextSequenceNumber.rawValue
            sent[seq] = sender.packet(
                payload: [UInt8(truncatingIfNeeded: i)], marker: true, rtpTimestamp: UInt32(i), now: now,
                transportSequence: UInt16(i))
        }
        let now = Instant(nanoseconds: 600_000_000)
        // 600 sent, 512 kept: the first 88 (65000...65087) are gone; the newest ones wrapped past 0.
        #expect(sender.history.packet(sequenceNumber: SequenceNumber(65_000), now: now) == nil)
        #expect(sender.history.packet(sequenceNumber: SequenceNumber(65_087), now: now) == nil)
        #expect(sender.history.packet(sequenceNumber: SequenceNumber(65_088), now: now) == sent[65_088])
        let newest = SequenceNumber(65_000).advanced(by: 599)
        #expect(newest.rawValue == 63)
        #expect(sender.history.packet(sequenceNumber: newest, now: now) == sent[63])
        #expect(sender.history.packet(sequenceNumber: SequenceNumber(64), now: now) == nil, "never sent")

        // A retransmission on the original SSRC is the packet byte for byte (same SRTP index, so
        // nothing may change under the same AEAD nonce), even when a new transport sequence is given.
        let resentBytes = sender.retransmission(of: newest, now: now, transportSequence: 0xBEEF)
        let again = try #require(resentBytes)
        #expect(again == sent[63])
        #expect(sender.retransmissionCount == 1 && sender.packetCount == 601)

        // Too old: beyond maxAge (1 s) nothing is retransmitted.
        #expect(sender.retransmission(of: newest, now: Instant(nanoseconds: 2_000_000_000)) == nil)
    }

    @Test func senderReportCarriesCountsAndExtrapolatedTimestamp() {
        var sender = RTPStreamSender(configuration: Self.video, initialSequenceNumber: SequenceNumber(0), timestampOffset: 0)
        _ = sender.packets(frame: [[1, 2, 3], [4, 5]], rtpTimestamp: 9000, now: Instant(nanoseconds: 100_000_000))
        let sr = sender.senderReport(now: Instant(nanoseconds: 200_000_000), ntpTimestamp: 42)
        #expect(sr.packetCount == 2 && sr.octetCount == 5 && sr.ssrc == Self.video.ssrc)
        #expect(sr.rtpTimestamp == 9000 + 9000)  // 100 ms later at 90 kHz
        #expect(sr.ntpTimestamp == 42)
    }

    /// Fixed extensions (mid, RID) ride in every packet beside the transport-wide number, and the
    /// header length accounts for them; a padding-only packet is all padding, its last byte the
    /// count, and does not enter the retransmission history.
    @Test func fixedExtensionsAndPaddingOnlyPackets() throws {
        var configuration = RTPStreamSender.Configuration(
            ssrc: SSRC(7), payloadType: PayloadType(97), clockRate: 90_000, transportWideSequenceID: 4,
            fixedExtensions: [.init(id: 1, value: "0"), .init(id: 6, value: "q")])
        configuration.historyCapacity = 8
        var sender = RTPStreamSender(configuration: configuration, initialSequenceNumber: SequenceNumber(10), timestampOffset: 0)
        var buffer = [UInt8](repeating: 0, count: 1500)
        let media = try buffer.withUnsafeMutableBytes { out in
            try [UInt8](repeating: 0xAB, count: 100).withUnsafeBytes { payload in
                try sender.write(payload: payload, marker: true, rtpTimestamp: 3000, now: Instant(nanoseconds: 1), transportSequence: 77, into: out)
            }
        }
        #expect(media == sender.headerLength + 100)
        // A pacer numbers packets as they leave: the number's two bytes are where the sender says.
        let offset = try #require(sender.transportSequenceOffset)
        #expect(Array(buffer[offset..<offset + 2]) == [0, 77])
        try buffer.withUnsafeBytes { bytes in
            let view = try RTPPacketView(parsing: UnsafeRawBufferPointer(rebasing: bytes[0..<media]))
            #expect(view.extensionValue(id: 1).map { Array($0) } == Array("0".utf8))
            #expect(view.extensionValue(id: 6).map { Array($0) } == Array("q".utf8))
            #expect(view.extensionValue(id: 4).map { Array($0) } == [0, 77])
            #expect(view.payloadLength == 100)
        }
        let padding = try buffer.withUnsafeMutableBytes { out in
            try sender.writePadding(paddingBytes: 255, rtpTimestamp: 3000, now: Instant(nanoseconds: 2), transportSequence: 78, into: out)
        }
        #expect(padding == sender.headerLength + 255)
        try buffer.withUnsafeBytes { bytes in
            let view = try RTPPacketView(parsing: UnsafeRawBufferPointer(rebasing: bytes[0..<padding]))
            #expect(view.payloadLength == 0 && view.paddingLength == 255)
            #expect(view.sequenceNumber == SequenceNumber(11))
            #expect(view.extensionValue(id: 4).map { Array($0) } == [0, 78])
        }
        #expect(sender.nextSequenceNumber == SequenceNumber(12))
        #expect(sender.history.packet(sequenceNumber: SequenceNumber(10), now: Instant(nanoseconds: 3)) != nil)
        #expect(sender.history.packet(sequenceNumber: SequenceNumber(11), now: Instant(nanoseconds: 3)) == nil)
    }
}
