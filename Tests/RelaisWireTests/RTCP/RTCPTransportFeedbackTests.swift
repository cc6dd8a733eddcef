@testable import RelaisWire
import Testing

@Suite struct RTCPTransportFeedbackTests {
    // Every chunk kind, a large positive and a large negative delta, a vector whose last slots lie
    // past the status count, and one octet of padding announced by the P bit (libwebrtc style).
    static let mixed = hex("""
        af cd 00 09           // V=2 P=1 FMT=15, PT=205 RTPFB, length 9 words (40 bytes)
        fa 17 fa 17           // SSRC of packet sender
        4a 5b 6c 7d           // SSRC of media source
        00 64                 // base sequence number 100
        00 16                 // packet status count 22 (100...121)
        01 23 45              // reference time 0x012345 x 64 ms
        07                    // feedback packet count 7
        20 03                 // run length chunk: T=0, S=01 (small delta), run 3: 100...102
        ac 01                 // status vector: T=1 S=0, 14 one-bit symbols 1 0 1 1 0 0 0 0 0 0 0 0 0 1: 103...116
        e4 90                 // status vector: T=1 S=1, 7 two-bit symbols 10 01 00 10 01 (00 00 past the count): 117...121
        04 00 08              // small deltas of 100, 101, 102 (1 ms, 0, 2 ms)
        ff                    // 103: 255 ticks = 63.75 ms
        01 02                 // 105, 106
        10                    // 116: 4 ms
        04 00                 // 117: large delta 1024 ticks = 256 ms
        03                    // 118
        ff f8                 // 120: large negative delta -8 ticks = -2 ms
        05                    // 121
        01                    // padding: one octet, counting itself
        """)

    static let mixedStatuses: [TransportFeedback.Status] =
        [.received(deltaTicks: 4), .received(deltaTicks: 0), .received(deltaTicks: 8), .received(deltaTicks: 255), .notReceived,
         .received(deltaTicks: 1), .received(deltaTicks: 2)]
        + Array(repeating: .notReceived, count: 9)
        + [.received(deltaTicks: 16), .received(deltaTicks: 1024), .received(deltaTicks: 3), .notReceived,
           .received(deltaTicks: -8), .received(deltaTicks: 5)]

    @Test func parsesEveryChunkKind() throws {
        let packets = try parseRTCP(Self.mixed).get()
        let expected = TransportFeedback(
            senderSSRC: SSRC(0xFA17_FA17), mediaSSRC: SSRC(0x4A5B_6C7D), baseSequenceNumber: SequenceNumber(100),
            referenceTime: 0x01_2345, feedbackPacketCount: 7, packets: Self.mixedStatuses)
        #expect(packets == [.transportFeedback(expected)])
    }

    @Test func viewReportsArrivalTimes() throws {
        try Self.mixed.withUnsafeBytes { raw in
            let header = try RTCPHeaderView(parsing: raw)
            #expect(header.paddingLength == 1)
            let view = try TransportFeedbackView(header)
            #expect(view.packetStatusCount == 22)
            #expect(view.referenceTime == 0x01_2345)
            #expect(view.feedbackPacketCount == 7)
            var reports: [TransportFeedbackView.PacketReport] = []
            for report in view.packets { reports.append(report) }
            #expect(reports.count == 22)
            #expect(reports.map(\.sequenceNumber.rawValue) == Array(100...121))
            let origin = Int64(0x01_2345) * 64_000
            #expect(reports[0].arrivalTime == origin + 1_000)
            #expect(reports[2].arrivalTime == origin + 3_000)
            #expect(reports[4].arrivalTime == nil)
            #expect(reports[17].arrivalTime == origin + (4 + 0 + 8 + 255 + 1 + 2 + 16 + 1024) * 250)
            #expect(reports[20].arrivalTime == origin + (4 + 0 + 8 + 255 + 1 + 2 + 16 + 1024 + 3 - 8) * 250)
        }
    }

    @Test func negativeReferenceTimeIsSignExtended() throws {
        let bytes = hex("""
            8f cd 00 04           // V=2 FMT=15, PT=205, length 4 words (20 bytes)
            00 00 00 01 00 00 00 02
            00 00 00 00           // base 0, status count 0
            ff ff fe 00           // reference time -2, fb count 0
            """)
        let packets = try parseRTCP(bytes).get()
        #expect(packets == [.transportFeedback(TransportFeedback(
            senderSSRC: SSRC(1), mediaSSRC: SSRC(2), baseSequenceNumber: SequenceNumber(0), referenceTime: -2,
            feedbackPacketCount: 0, packets: []))])
        #expect(RTCPPacket.serializeCompound(packets) == bytes)
    }

    // The chunk choice of our encoder, worked out by hand: a run of 20 beats a 14-slot vector; 14
    // one-bit symbols fill a vector exactly; a large delta forces the two-bit vector, used for 4 slots.
    @Test func serializerPicksChunksAndPads() throws {
        let statuses: [TransportFeedback.Status] =
            Array(repeating: .received(deltaTicks: 1), count: 20)
            + [.notReceived, .received(deltaTicks: 2), .notReceived, .received(deltaTicks: 3), .received(deltaTicks: 4)]
            + Array(repeating: .notReceived, count: 9)
            + [.notReceived, .received(deltaTicks: 300), .received(deltaTicks: -4), .received(deltaTicks: 5)]
        let feedback = TransportFeedback(
            senderSSRC: SSRC(1), mediaSSRC: SSRC(2), baseSequenceNumber: SequenceNumber(0xFFF0), referenceTime: -2,
            feedbackPacketCount: 0x2A, packets: statuses)
        let expected = hex("""
            af cd 00 0d           // V=2 P=1 FMT=15, PT=205, length 13 words (56 bytes)
            00 00 00 01 00 00 00 02
            ff f0                 // base sequence 65520 (the feedback wraps past 65535)
            00 26                 // status count 38
            ff ff fe              // reference time -2
            2a                    // feedback packet count 42
            20 14                 // run length: S=01, run 20
            96 00                 // one-bit vector: 0 1 0 1 1 then nine 0
            ca 40                 // two-bit vector: 00 10 10 01, then three unused slots
            01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01   // twenty small deltas of 1
            02 03 04              // small deltas
            01 2c                 // large delta 300
            ff fc                 // large delta -4
            05                    // small delta
            00 02                 // two octets of padding, the last counting them
            """)
        let bytes = serializeRTCP(.transportFeedback(feedback))
        #expect(hexString(bytes) == hexString(expected))
        #expect(feedback.serializedLength == 56)
        #expect(try parseRTCP(bytes).get() == [.transportFeedback(feedback)])
    }

    @Test func longRunsSplitAtThirteenBits() throws {
        let feedback = TransportFeedback(
            senderSSRC: SSRC(1), mediaSSRC: SSRC(2), baseSequenceNumber: SequenceNumber(0), referenceTime: 0,
            feedbackPacketCount: 0, packets: Array(repeating: .notReceived, count: 10_000))
        let bytes = serializeRTCP(.transportFeedback(feedback))
        #expect(Array(bytes[20..<24]) == hex("1f ff  07 11"))  // run 8191 of 00, then run 1809 of 00
        #expect(bytes.count == 24)
        #expect(try parseRTCP(bytes).get() == [.transportFeedback(feedback)])
    }

    @Test func builderQuantizesArrivalsAndMarksGaps() throws {
        var builder = TransportFeedbackBuilder(senderSSRC: SSRC(1), mediaSSRC: SSRC(2), feedbackPacketCount: 3)
        // Reference time floor(1_000_123 / 64_000) = 15 (960 ms); first tick floor(1_000_123 / 250) = 4000,
        // 160 ticks after the reference.
        var accepted: [Bool] = []
        accepted.append(builder.add(SequenceNumber(10), arrivalTime: 1_000_123))
        accepted.append(builder.add(SequenceNumber(11), arrivalTime: nil))
        accepted.append(builder.add(SequenceNumber(13), arrivalTime: 1_000_400))  // 12 skipped: lost
        accepted.append(builder.add(SequenceNumber(14), arrivalTime: 999_000))  // reordered in time: -5 ticks
        accepted.append(builder.add(SequenceNumber(14), arrivalTime: 999_000))  // not after the last one
        accepted.append(builder.add(SequenceNumber(15), arrivalTime: 10_000_000))  // 9 s: does not fit 16 bits
        #expect(accepted == [true, true, true, true, false, false])
        let feedback = builder.build()
        #expect(feedback == TransportFeedback(
            senderSSRC: SSRC(1), mediaSSRC: SSRC(2), baseSequenceNumber: SequenceNumber(10), referenceTime: 15,
            feedbackPacketCount: 3,
            packets: [.received(deltaTicks: 160), .notReceived, .notReceived, .received(deltaTicks: 1), .received(deltaTicks: -5)]))

        let bytes = serializeRTCP(.transportFeedback(feedback))
        #expect(hexString(bytes) == hexString(hex("""
            af cd 00 06           // V=2 P=1 FMT=15, PT=205, length 6 words (28 bytes)
            00 00 00 01 00 00 00 02
            00 0a 00 05           // base 10, count 5
            00 00 0f 03           // reference time 15, feedback packet count 3
            d0 60                 // two-bit vector: 01 00 00 01 10, two unused slots
            a0 01 ff fb           // deltas 160 (small), 1 (small), -5 (large)
            00 02                 // padding: two octets, the last counting them
            """)))
    }

    @Test func builderWrapsReferenceTimeTo24Bits() {
        var builder = TransportFeedbackBuilder(senderSSRC: SSRC(1), feedbackPacketCount: 0)
        let added = builder.add(SequenceNumber(1), arrivalTime: Int64(0x80_0000) * 64_000)
        #expect(added)
        #expect(builder.build().referenceTime == -0x80_0000)
        var negative = TransportFeedbackBuilder(senderSSRC: SSRC(1), feedbackPacketCount: 0)
        let addedNegative = negative.add(SequenceNumber(1), arrivalTime: -1)
        #expect(addedNegative)
        #expect(negative.build().referenceTime == -1)
        #expect(negative.build().packets == [.received(deltaTicks: 255)])
    }
}
