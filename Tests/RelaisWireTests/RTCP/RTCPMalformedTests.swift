@testable import RelaisWire
import Testing

/// Input a peer can send: each case must come back as its specific typed error, never a trap.
@Suite struct RTCPMalformedTests {
    @Test func truncatedHeaders() {
        #expect(parseRTCP([]) == .failure(.truncated(needed: 4, have: 0)))
        #expect(parseRTCP(hex("80 c9 00")) == .failure(.truncated(needed: 4, have: 3)))
        // A valid RR followed by two stray bytes: the second "packet" has no room for a header.
        #expect(parseRTCP(hex("80 c9 00 01 00 00 00 01  80 c9")) == .failure(.truncated(needed: 4, have: 2)))
    }

    @Test func versionOtherThanTwo() {
        #expect(parseRTCP(hex("40 c9 00 01 00 00 00 01")) == .failure(.badVersion(1)))  // V=1
        #expect(parseRTCP(hex("00 c9 00 01 00 00 00 01")) == .failure(.badVersion(0)))
        #expect(parseRTCP(hex("c0 c9 00 01 00 00 00 01")) == .failure(.badVersion(3)))
    }

    @Test func lengthFieldsThatLie() {
        // Claims 6 words (24 bytes) with only 8 present.
        #expect(parseRTCP(hex("80 c9 00 05 00 00 00 01")) == .failure(.lengthPastEnd(declared: 24, available: 8)))
        // Second packet of a compound claims more than remains after the first.
        #expect(parseRTCP(hex("80 c9 00 01 00 00 00 01  81 c9 00 07 00 00 00 02"))
            == .failure(.lengthPastEnd(declared: 32, available: 8)))
        // Maximum length field on a tiny datagram.
        #expect(parseRTCP(hex("80 c9 ff ff 00 00 00 01")) == .failure(.lengthPastEnd(declared: 262_144, available: 8)))
    }

    @Test func zeroLengthTricks() throws {
        // Length 0 means a bare 4-byte header: no room for the SSRC and sender info an SR needs.
        #expect(parseRTCP(hex("80 c8 00 00  00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00 06"))
            == .failure(.truncated(needed: 28, have: 4)))
        #expect(parseRTCP(hex("80 c9 00 00")) == .failure(.truncated(needed: 8, have: 4)))
        #expect(parseRTCP(hex("81 ce 00 00")) == .failure(.truncated(needed: 12, have: 4)))
        #expect(parseRTCP(hex("8f cd 00 02 00 00 00 01 00 00 00 02")) == .failure(.truncated(needed: 20, have: 12)))
        // With a zero length the bytes meant as the RR's SSRC are read as the next header.
        try hex("80 c9 00 00  12 34 56 78").withUnsafeBytes { raw in
            var iterator = RTCPCompoundIterator(raw)
            let first = try #require(try iterator.next())
            #expect(first.byteLength == 4)
            #expect(throws: RTCPError.badVersion(0)) { try iterator.next() }
            #expect(iterator.offset == 4)
            #expect(try iterator.next() == nil)  // stays stopped after the lie
        }
    }

    @Test func badPadding() {
        // P set, padding count 0.
        #expect(parseRTCP(hex("a0 c9 00 01 00 00 00 00")) == .failure(.badPadding(length: 0, available: 4)))
        // Padding count larger than the packet after its header.
        #expect(parseRTCP(hex("a0 c9 00 01 00 00 00 09")) == .failure(.badPadding(length: 9, available: 4)))
        // P set on a bare header: the count octet is the length field's low byte.
        #expect(parseRTCP(hex("a0 c9 00 00")) == .failure(.badPadding(length: 0, available: 0)))
        // Valid padding that eats the SSRC leaves an RR too short.
        #expect(parseRTCP(hex("a0 c9 00 01 00 00 00 04")) == .failure(.truncated(needed: 8, have: 4)))
        // Padding of two leaves a NACK FCI that is not whole entries.
        #expect(parseRTCP(hex("a1 cd 00 03 00 00 00 01 00 00 00 02 04 d2 00 02")) == .failure(.badFCILength(2)))
    }

    @Test func countMismatches() {
        // RR with RC=2 but one report block.
        #expect(parseRTCP(hex("""
            82 c9 00 07 00 00 00 01
            00 00 00 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
            """)) == .failure(.countMismatch(declared: 2, available: 1)))
        // SR with RC=1 and no block.
        #expect(parseRTCP(hex("81 c8 00 06 00000001 00000000 00000000 00000000 00000000 00000000"))
            == .failure(.countMismatch(declared: 1, available: 0)))
        // SDES with SC=2 but one chunk.
        #expect(parseRTCP(hex("82 ca 00 02 00 00 00 01 00 00 00 00")) == .failure(.countMismatch(declared: 2, available: 1)))
        // BYE with SC=3 but two SSRCs.
        #expect(parseRTCP(hex("83 cb 00 02 00 00 00 01 00 00 00 02")) == .failure(.countMismatch(declared: 3, available: 2)))
        // REMB announcing 3 SSRCs but carrying 1.
        #expect(parseRTCP(hex("8f ce 00 05 00000001 00000000 52454d42 03 0edc6c 0000000a"))
            == .failure(.countMismatch(declared: 3, available: 1)))
        // TWCC claiming 20 packets with one 14-slot vector chunk (and its deltas) before the end.
        #expect(parseRTCP(hex("8f cd 00 05 00000001 00000002 0000 0014 000000 00 8000 0000"))
            == .failure(.countMismatch(declared: 20, available: 14)))
        // FIR whose FCI is a word and a half.
        #expect(parseRTCP(hex("84 ce 00 05 00000001 00000000 0a0b0c0d 2a000000 0e0f1011")) == .failure(.badFCILength(12)))
    }

    @Test func sourceDescriptionItems() {
        // CNAME claims 8 octets with 2 left.
        #expect(parseRTCP(hex("81 ca 00 02 00 00 00 01 01 08 61 62")) == .failure(.sdesItemOverrun(offset: 8)))
        // An item but no terminating null octet.
        #expect(parseRTCP(hex("81 ca 00 02 00 00 00 01 01 02 61 62")) == .failure(.sdesUnterminatedChunk(index: 0)))
        // An item, then a type octet in the last byte: no room for its length octet.
        #expect(parseRTCP(hex("81 ca 00 02 00 00 00 01 01 01 61 07")) == .failure(.sdesItemOverrun(offset: 11)))
    }

    @Test func goodbyeReasonOverrun() {
        #expect(parseRTCP(hex("81 cb 00 02 00 00 00 01 05 61 62 63")) == .failure(.reasonOverrun(length: 5, available: 3)))
    }

    @Test func rembFields() {
        // Exponent 63 with a full mantissa does not fit 64 bits.
        #expect(parseRTCP(hex("8f ce 00 04 00000001 00000000 52454d42 00 ffffff"))
            == .failure(.rembBitrateOverflow(exponent: 63, mantissa: 0x3_FFFF)))
        // Asked for directly, a non-REMB application message is an error (compound parsing passes it through).
        let notREMB = hex("8f ce 00 04 00000001 00000000 41424344 00000000")
        #expect(withRTCPHeader(notREMB) { h throws(RTCPError) in try REMBView(h).bitrate }
            == .failure(.unsupportedApplicationFeedback(identifier: 0x4142_4344)))
    }

    @Test func transportFeedbackBodies() {
        // Status 11 in a two-bit vector is reserved.
        #expect(parseRTCP(hex("8f cd 00 05 00000001 00000002 0000 0002 000000 00 dc00 0000"))
            == .failure(.reservedStatusSymbol(index: 1)))
        // ...and in a run-length chunk.
        #expect(parseRTCP(hex("8f cd 00 05 00000001 00000002 0000 0002 000000 00 6002 0000"))
            == .failure(.reservedStatusSymbol(index: 0)))
        // A run of 3 small deltas with only 2 delta octets.
        #expect(parseRTCP(hex("8f cd 00 05 00000001 00000002 0000 0003 000000 00 2003 0101"))
            == .failure(.truncated(needed: 25, have: 24)))
        // A large delta cut in half.
        // A large delta cut in half: one padding octet leaves one of its two octets.
        #expect(parseRTCP(hex("af cd 00 05 00000001 00000002 0000 0001 000000 00 4001 00 01"))
            == .failure(.truncated(needed: 24, have: 23)))
    }

    @Test func viewsRefuseOtherTypes() {
        let rr = hex("80 c9 00 01 00 00 00 01")
        #expect(withRTCPHeader(rr) { h throws(RTCPError) in try SenderReportView(h).ssrc }
            == .failure(.wrongPacketType(packetType: 201, count: 0)))
        let pli = hex("81 ce 00 02 00 00 00 01 00 00 00 02")
        #expect(withRTCPHeader(pli) { h throws(RTCPError) in try FullIntraRequestView(h).entryCount }
            == .failure(.wrongPacketType(packetType: 206, count: 1)))
        #expect(withRTCPHeader(pli) { h throws(RTCPError) in try GenericNACKView(h).pairCount }
            == .failure(.wrongPacketType(packetType: 206, count: 1)))
    }
}
