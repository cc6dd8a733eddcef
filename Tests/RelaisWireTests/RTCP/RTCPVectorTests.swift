@testable import RelaisWire
import Testing

/// Hand-written vectors: every byte below comes from the RFC layouts, not from our encoder.
@Suite struct RTCPVectorTests {
    // A compound as browsers send it every few seconds: SR with one report block, then SDES CNAME.
    static let srPlusSDES = hex("""
        81 c8 00 0c           // V=2 P=0 RC=1, PT=200 SR, length 12 words (52 bytes)
        90 2f 9e 2e           // SSRC of sender
        e5 1a 2b 3c 4d 5e 6f 70   // NTP timestamp (MSW, LSW)
        00 01 e2 40           // RTP timestamp 123456
        00 00 00 64           // sender's packet count 100
        00 00 4e 20           // sender's octet count 20000
        bc 5e 9a 40           // report block: SSRC_1
        19 ff ff fe           // fraction lost 25/256, cumulative lost -2 (24-bit two's complement)
        00 01 1a 2b           // extended highest sequence: cycle 1, seq 0x1a2b
        00 00 00 21           // interarrival jitter 33
        1a 2b 3c 4d           // LSR
        00 01 80 00           // DLSR 1.5 s (in 1/65536 s)
        81 ca 00 06           // V=2 P=0 SC=1, PT=202 SDES, length 6 words (28 bytes)
        90 2f 9e 2e           // chunk SSRC
        01 10                 // CNAME, 16 octets
        34 54 4f 6b 34 32 6d 53 6a 58 43 6b 56 49 61 36   // "4TOk42mSjXCkVIa6"
        00 00                 // null item terminating the list, one null to the word boundary
        """)

    static let sr = SenderReport(
        ssrc: SSRC(0x902F_9E2E), ntpTimestamp: 0xE51A_2B3C_4D5E_6F70, rtpTimestamp: 123_456, packetCount: 100,
        octetCount: 20_000,
        reportBlocks: [
            ReportBlock(
                ssrc: SSRC(0xBC5E_9A40), fractionLost: 25, cumulativeLost: -2, extendedHighestSequenceNumber: 0x0001_1A2B,
                jitter: 33, lastSenderReport: 0x1A2B_3C4D, delaySinceLastSenderReport: 0x0001_8000)
        ])

    @Test func parsesSenderReportAndCNAMECompound() throws {
        let packets = try parseRTCP(Self.srPlusSDES).get()
        #expect(packets == [
            .senderReport(Self.sr),
            .sourceDescription(SourceDescription(source: SSRC(0x902F_9E2E), cname: "4TOk42mSjXCkVIa6")),
        ])
        #expect(serializeRTCP(packets[0], packets[1]) == Self.srPlusSDES)
    }

    @Test func viewsReadTheCompoundInPlace() throws {
        try Self.srPlusSDES.withUnsafeBytes { raw in
            var iterator = RTCPCompoundIterator(raw)
            let first = try #require(try iterator.next())
            #expect(first.packetType == RTCPPacketType.senderReport)
            #expect(first.count == 1)
            #expect(first.lengthInWords == 12)
            #expect(first.byteLength == 52)
            #expect(first.body.count == 48)
            #expect(!first.hasPadding)
            let sr = try SenderReportView(first)
            #expect(sr.ssrc == SSRC(0x902F_9E2E))
            #expect(sr.ntpTimestamp == 0xE51A_2B3C_4D5E_6F70)
            #expect(sr.reportBlockCount == 1)
            #expect(sr.reportBlock(at: 0).cumulativeLost == -2)
            #expect(sr.reportBlock(at: 0).fractionLost == 25)
            #expect(sr.profileExtensions.isEmpty)

            let second = try #require(try iterator.next())
            #expect(iterator.offset == 80)
            let sdes = try SourceDescriptionView(second)
            let cname = try #require(sdes.cname(of: SSRC(0x902F_9E2E)))
            #expect(String(decoding: cname, as: UTF8.self) == "4TOk42mSjXCkVIa6")
            #expect(sdes.cname(of: SSRC(1)) == nil)
            #expect(try iterator.next() == nil)
        }
    }

    @Test func receiverReportWithExtensionAndEmptyRR() throws {
        let bytes = hex("""
            81 c9 00 08           // V=2 RC=1, PT=201 RR, length 8 words (36 bytes)
            00 00 00 01           // SSRC of packet sender
            00 00 00 02           // report block: SSRC_1
            80 80 00 00           // fraction lost 128/256, cumulative lost -0x800000 (minimum)
            ff ff ff ff           // extended highest sequence
            00 00 00 00           // jitter
            00 00 00 00           // LSR (no SR received yet)
            00 00 00 00           // DLSR
            de ad be ef           // profile-specific extension
            80 c9 00 01           // V=2 RC=0, PT=201 RR, length 1: the empty RR of a silent receiver
            00 00 00 03           // SSRC of packet sender
            """)
        let packets = try parseRTCP(bytes).get()
        #expect(packets == [
            .receiverReport(ReceiverReport(
                ssrc: SSRC(1),
                reportBlocks: [ReportBlock(ssrc: SSRC(2), fractionLost: 128, cumulativeLost: -0x80_0000, extendedHighestSequenceNumber: .max)],
                profileExtensions: [0xDE, 0xAD, 0xBE, 0xEF])),
            .receiverReport(ReceiverReport(ssrc: SSRC(3))),
        ])
        #expect(RTCPPacket.serializeCompound(packets) == bytes)
    }

    @Test func cumulativeLostIsClampedNotWrapped() throws {
        let block = ReportBlock(ssrc: SSRC(9), cumulativeLost: 0x0100_0000)
        let bytes = serializeRTCP(.receiverReport(ReceiverReport(ssrc: SSRC(1), reportBlocks: [block])))
        #expect(Array(bytes[12..<16]) == hex("00 7f ff ff"))  // RFC 3550 §A.3: clamp at 0x7fffff
        let negative = ReportBlock(ssrc: SSRC(9), cumulativeLost: -0x0100_0000)
        let bytes2 = serializeRTCP(.receiverReport(ReceiverReport(ssrc: SSRC(1), reportBlocks: [negative])))
        #expect(Array(bytes2[12..<16]) == hex("00 80 00 00"))
    }

    @Test func sourceDescriptionWithSeveralChunksAndEmptyChunk() throws {
        let bytes = hex("""
            82 ca 00 05           // V=2 SC=2, PT=202 SDES, length 5 words (24 bytes)
            11 11 11 11           // chunk 1 SSRC
            01 02 61 62           // CNAME "ab"
            00 00 00 00           // terminating null plus three nulls to the boundary
            22 22 22 22           // chunk 2 SSRC
            00 00 00 00           // no items: a null and padding only
            """)
        let expected = SourceDescription(chunks: [
            SDESChunk(source: SSRC(0x1111_1111), items: [SDESItem(type: .cname, text: "ab")]),
            SDESChunk(source: SSRC(0x2222_2222), items: []),
        ])
        #expect(try parseRTCP(bytes).get() == [.sourceDescription(expected)])
        #expect(serializeRTCP(.sourceDescription(expected)) == bytes)
    }

    @Test func sourceDescriptionItemsOfSeveralTypes() throws {
        let bytes = hex("""
            81 ca 00 04           // V=2 SC=1, PT=202, length 4 words (20 bytes)
            00 00 00 07           // chunk SSRC
            02 03 42 6f 62        // NAME "Bob"
            06 04 63 61 72 74     // TOOL "cart"
            00                    // null item; the chunk (4 + 5 + 6 + 1 bytes) already ends on a boundary
            """)
        let sdes = try withRTCPHeader(bytes) { h throws(RTCPError) in SourceDescription(try SourceDescriptionView(h)) }.get()
        #expect(sdes.chunks.count == 1)
        #expect(sdes.chunks[0].items == [SDESItem(type: .name, text: "Bob"), SDESItem(type: .tool, text: "cart")])
        #expect(sdes.chunks[0].items.map(\.text) == ["Bob", "cart"])
        #expect(serializeRTCP(.sourceDescription(sdes)) == bytes)
    }

    @Test func goodbyeWithAndWithoutReason() throws {
        let bytes = hex("""
            82 cb 00 03           // V=2 SC=2, PT=203 BYE, length 3 words
            00 00 00 0a           // SSRC
            00 00 00 0b           // CSRC
            03 62 79 65           // reason: length 3, "bye" (ends on the boundary)
            81 cb 00 04           // V=2 SC=1, PT=203 BYE, length 4 words
            00 00 00 0c
            0a 63 61 6d 65 72 61 20 6f 66 66   // length 10, "camera off"
            00                    // null to the boundary
            81 cb 00 01           // BYE without reason
            00 00 00 0d
            """)
        let packets = try parseRTCP(bytes).get()
        #expect(packets == [
            .goodbye(Goodbye(sources: [SSRC(10), SSRC(11)], reasonText: "bye")),
            .goodbye(Goodbye(sources: [SSRC(12)], reasonText: "camera off")),
            .goodbye(Goodbye(sources: [SSRC(13)])),
        ])
        if case .goodbye(let bye) = packets[1] { #expect(bye.reasonText == "camera off") }
        #expect(RTCPPacket.serializeCompound(packets) == bytes)
    }

    @Test func applicationDefinedPassesThrough() throws {
        let bytes = hex("""
            83 cc 00 03           // V=2 subtype 3, PT=204 APP, length 3 words
            00 00 00 2a           // SSRC
            54 45 53 54           // name "TEST"
            01 02 03 04           // application data
            """)
        let expected = ApplicationDefined(subtype: 3, source: SSRC(42), name: 0x5445_5354, data: [1, 2, 3, 4])
        #expect(try parseRTCP(bytes).get() == [.applicationDefined(expected)])
        #expect(serializeRTCP(.applicationDefined(expected)) == bytes)
    }

    static let nack = hex("""
        81 cd 00 04           // V=2 FMT=1, PT=205 RTPFB, length 4 words
        00 00 00 01           // SSRC of packet sender
        00 00 00 02           // SSRC of media source
        04 d2 00 05           // PID 1234, BLP 0b101: 1235 and 1237 lost too
        ff ff 80 00           // PID 65535, BLP bit 15: 65535 + 16 = 15 (wraps)
        """)

    @Test func genericNACKPairsAndExpansion() throws {
        let expected = GenericNACK(
            senderSSRC: SSRC(1), mediaSSRC: SSRC(2),
            pairs: [NACKPair(packetID: SequenceNumber(1234), lostBitmask: 5), NACKPair(packetID: SequenceNumber(65535), lostBitmask: 0x8000)])
        #expect(try parseRTCP(Self.nack).get() == [.genericNACK(expected)])
        #expect(serializeRTCP(.genericNACK(expected)) == Self.nack)
        #expect(expected.lostSequenceNumbers.map(\.rawValue) == [1234, 1235, 1237, 65535, 15])

        try Self.nack.withUnsafeBytes { raw in
            let view = try GenericNACKView(RTCPHeaderView(parsing: raw))
            #expect(view.pairCount == 2)
            #expect(view.pair(at: 1) == NACKPair(packetID: SequenceNumber(65535), lostBitmask: 0x8000))
            var lost: [UInt16] = []
            for seq in view.lostSequenceNumbers { lost.append(seq.rawValue) }
            #expect(lost == [1234, 1235, 1237, 65535, 15])
        }
    }

    @Test func nackPairsFromSortedLossList() throws {
        let lost: [UInt16] = [1234, 1235, 1237, 1250, 1251, 65534, 65535, 0, 3]
        let pairs = GenericNACK.pairs(sortedLost: lost.map { SequenceNumber($0) })
        #expect(pairs == [
            NACKPair(packetID: SequenceNumber(1234), lostBitmask: 0x8005),  // +1, +3, +16
            NACKPair(packetID: SequenceNumber(1251), lostBitmask: 0),  // +17 needs a new pair
            NACKPair(packetID: SequenceNumber(65534), lostBitmask: 0x0013),  // 65535, 0, 3 across the wrap
        ])
        #expect(pairs.flatMap { Array($0.lostSequenceNumbers) }.map(\.rawValue) == lost)
        #expect(GenericNACK.pairs(sortedLost: [SequenceNumber(7), SequenceNumber(7)]) == [NACKPair(packetID: SequenceNumber(7))])

        // The allocation-free writer produces the same bytes as the owned value.
        let owned = serializeRTCP(.genericNACK(GenericNACK(senderSSRC: SSRC(1), mediaSSRC: SSRC(2), sortedLost: lost.map { SequenceNumber($0) })))
        let direct = try ByteWriter.bytes(capacity: 64) { (w: inout ByteWriter) throws(BufferTooSmall) in
            try GenericNACK.serialize(senderSSRC: SSRC(1), mediaSSRC: SSRC(2), sortedLost: lost.map { SequenceNumber($0) }, into: &w)
        }
        #expect(direct == owned)
        #expect(Array(direct[0..<4]) == hex("81 cd 00 05"))
    }

    @Test func pictureLossIndication() throws {
        let bytes = hex("""
            81 ce 00 02           // V=2 FMT=1, PT=206 PSFB, length 2 words
            00 00 00 01           // SSRC of packet sender
            12 34 56 78           // SSRC of media source: the stream that needs a keyframe
            """)
        let expected = PictureLossIndication(senderSSRC: SSRC(1), mediaSSRC: SSRC(0x1234_5678))
        #expect(try parseRTCP(bytes).get() == [.pictureLossIndication(expected)])
        #expect(serializeRTCP(.pictureLossIndication(expected)) == bytes)
    }

    @Test func fullIntraRequest() throws {
        let bytes = hex("""
            84 ce 00 06           // V=2 FMT=4, PT=206 PSFB, length 6 words
            00 00 00 01           // SSRC of packet sender
            00 00 00 00           // SSRC of media source: unused, 0 (RFC 5104 §4.3.1.2)
            0a 0b 0c 0d           // FCI 1: SSRC
            2a 00 00 00           //        seq nr 42, reserved
            0e 0f 10 11           // FCI 2: SSRC
            ff 00 00 00           //        seq nr 255, reserved
            """)
        let expected = FullIntraRequest(
            senderSSRC: SSRC(1),
            entries: [FIREntry(ssrc: SSRC(0x0A0B_0C0D), sequenceNumber: 42), FIREntry(ssrc: SSRC(0x0E0F_1011), sequenceNumber: 255)])
        #expect(try parseRTCP(bytes).get() == [.fullIntraRequest(expected)])
        #expect(serializeRTCP(.fullIntraRequest(expected)) == bytes)
    }

    @Test func remb() throws {
        let bytes = hex("""
            8f ce 00 06           // V=2 FMT=15, PT=206 PSFB, length 6 words
            00 00 00 01           // SSRC of packet sender
            00 00 00 00           // SSRC of media source: 0
            52 45 4d 42           // "REMB"
            02                    // Num SSRC 2
            0e dc 6c              // BR Exp 3 (000011), mantissa 0x2dc6c = 187500: 1.5 Mbit/s
            00 00 00 0a           // SSRC feedback 1
            00 00 00 0b           // SSRC feedback 2
            """)
        let expected = REMB(senderSSRC: SSRC(1), bitrate: 1_500_000, ssrcs: [SSRC(10), SSRC(11)])
        #expect(try parseRTCP(bytes).get() == [.remb(expected)])
        #expect(serializeRTCP(.remb(expected)) == bytes)
    }

    @Test func rembPicksTheSmallestExponent() {
        #expect(REMB.encode(bitrate: 0) == (0, 0))
        #expect(REMB.encode(bitrate: 0x3_FFFF) == (0, 0x3_FFFF))
        #expect(REMB.encode(bitrate: 0x4_0000) == (1, 0x2_0000))
        #expect(REMB.encode(bitrate: 1_500_000) == (3, 187_500))
        #expect(REMB.encode(bitrate: 1_500_001) == (3, 187_500))  // rounded down, never up
        #expect(REMB.encode(bitrate: .max) == (46, 0x3_FFFF))
    }

    @Test func unknownTypesAndFormatsPassThrough() throws {
        let bytes = hex("""
            80 cf 00 02           // V=2 count 0, PT=207 (XR, RFC 3611), length 2 words
            00 00 00 01 05 00 00 00
            83 cd 00 03           // V=2 FMT=3, PT=205 RTPFB: TMMBR (RFC 5104), not interpreted
            00 00 00 01 00 00 00 00 aa bb cc dd
            8f ce 00 03           // V=2 FMT=15, PT=206: application feedback that is not REMB
            00 00 00 01 00 00 00 00 41 42 43 44
            """)
        let packets = try parseRTCP(bytes).get()
        #expect(packets == [
            .unknown(packetType: 207, count: 0, body: hex("00000001 05000000")),
            .unknown(packetType: 205, count: 3, body: hex("00000001 00000000 aabbccdd")),
            .unknown(packetType: 206, count: 15, body: hex("00000001 00000000 41424344")),
        ])
        #expect(RTCPPacket.serializeCompound(packets) == bytes)
    }

    @Test func paddedPacketsDropTheirPadding() throws {
        let bytes = hex("""
            a0 c9 00 02           // V=2 P=1 RC=0, PT=201 RR, length 2 words
            00 00 00 01           // SSRC
            00 00 00 04           // four octets of padding, the last counting them
            """)
        try bytes.withUnsafeBytes { raw in
            let header = try RTCPHeaderView(parsing: raw)
            #expect(header.hasPadding)
            #expect(header.paddingLength == 4)
            #expect(header.body.count == 4)
            #expect(try ReceiverReportView(header).profileExtensions.isEmpty)
        }
        #expect(try parseRTCP(bytes).get() == [.receiverReport(ReceiverReport(ssrc: SSRC(1)))])
    }

    @Test func unalignedPassThroughBodiesUsePaddingBit() throws {
        let app = ApplicationDefined(subtype: 0, source: SSRC(1), name: 0x4142_4344, data: [9, 8, 7])
        let bytes = serializeRTCP(.applicationDefined(app))
        #expect(bytes == hex("""
            a0 cc 00 03           // V=2 P=1 subtype 0, PT=204, length 3 words
            00 00 00 01 41 42 43 44
            09 08 07              // three data bytes
            01                    // one octet of padding, counting itself
            """))
        #expect(try parseRTCP(bytes).get() == [.applicationDefined(app)])
    }
}
