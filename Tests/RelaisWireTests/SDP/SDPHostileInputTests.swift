@testable import RelaisWire
import Testing

/// Issue 13: SDP from a participant is hostile input. Every class of value that trapped or slipped
/// through (empty or spaceless `a=ssrc`, out-of-range clock rates and payload types, valueless
/// restrictions, control characters, oversized counts) gives a typed `SDPError`, never a trap.
@Suite struct SDPHostileInputTests {
    static let header = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"

    static func section(_ lines: String...) throws -> MediaDescription {
        let text = header + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" + lines.map { $0 + "\r\n" }.joined()
        let sdp = try SessionDescription(parsing: text)
        return try #require(sdp.media.first)
    }

    static func parseError(_ text: String) -> SDPError? {
        do { _ = try SessionDescription(parsing: text); return nil } catch { return error }
    }

    /// The accessor's error, nil when it succeeded.
    static func accessorError<T>(_ body: () throws(SDPError) -> T) -> SDPError? {
        do { _ = try body(); return nil } catch { return error }
    }

    static func isMalformed(_ error: SDPError?, _ name: String) -> Bool {
        if case .malformedAttribute(let got, _, _)? = error { return got == name }
        return false
    }

    // MARK: a=ssrc (the reported trap)

    @Test(arguments: ["a=ssrc:", "a=ssrc: ", "a=ssrc:1234", "a=ssrc:1234 ", "a=ssrc:1234 :", "a=ssrc:1234 :x", "a=ssrc:1234cname:x",
                      "a=ssrc:4294967296 cname:x", "a=ssrc:-1 cname:x", "a=ssrc:1234  cname:x"])
    func malformedSSRCLinesAreTypedErrors(_ line: String) throws {
        let m = try Self.section(line)
        #expect(Self.isMalformed(Self.accessorError { () throws(SDPError) in try m.ssrcAttributes() }, "ssrc"))
        #expect(Self.isMalformed(Self.accessorError { () throws(SDPError) in try m.announcedSSRCs() }, "ssrc"))
    }

    @Test func wellFormedSSRCLinesStillParse() throws {
        let m = try Self.section("a=ssrc:1 cname:abc", "a=ssrc:1 msid:s t", "a=ssrc:2 label")
        #expect(try m.ssrcAttributes() == [
            SSRCAttribute(ssrc: 1, name: "cname", value: "abc"), SSRCAttribute(ssrc: 1, name: "msid", value: "s t"),
            SSRCAttribute(ssrc: 2, name: "label"),
        ])
        #expect(try m.announcedSSRCs() == [1, 2])
    }

    @Test func distinctSSRCsPerSectionAreBounded() throws {
        let lines = (1...(MediaDescription.maxSSRCs + 1)).map { "a=ssrc:\($0) cname:x\r\n" }.joined()
        let sdp = try SessionDescription(parsing: Self.header + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" + lines)
        let m = try #require(sdp.media.first)
        #expect(Self.accessorError { () throws(SDPError) in try m.ssrcAttributes() } == .tooManyAttributes(name: "ssrc", limit: MediaDescription.maxSSRCs))
        let group = "a=ssrc-group:SIM " + (1...(MediaDescription.maxSSRCs + 1)).map(String.init).joined(separator: " ")
        let grouped = try Self.section(group)
        #expect(Self.accessorError { () throws(SDPError) in try grouped.ssrcGroups() } == .tooManyAttributes(name: "ssrc-group", limit: MediaDescription.maxSSRCs))
    }

    // MARK: a=rtpmap

    @Test(arguments: ["a=rtpmap:96 VP8/4294967296", "a=rtpmap:96 VP8/-1", "a=rtpmap:96 VP8/0", "a=rtpmap:96 VP8/99999999999999999999999",
                      "a=rtpmap:256 VP8/90000", "a=rtpmap:128 VP8/90000", "a=rtpmap:99999999999999999999 VP8/90000", "a=rtpmap:-1 VP8/90000",
                      "a=rtpmap:96 /90000", "a=rtpmap:96 V\"P8/90000", "a=rtpmap:96 opus/48000/0", "a=rtpmap:96 opus/48000/256",
                      "a=rtpmap:96 opus/48000/2/1", "a=rtpmap:96 VP8"])
    func outOfRangeRTPMapsAreTypedErrors(_ line: String) throws {
        let m = try Self.section(line)
        #expect(Self.isMalformed(Self.accessorError { () throws(SDPError) in try m.rtpMaps() }, "rtpmap"))
        #expect(Self.isMalformed(Self.accessorError { () throws(SDPError) in try m.codecs() }, "rtpmap"))
    }

    @Test func theLargestThirtyTwoBitClockRateIsAValue() throws {
        let m = try Self.section("a=rtpmap:96 VP8/4294967295/2")
        #expect(try m.rtpMaps() == [RTPMap(payloadType: 96, encodingName: "VP8", clockRate: 4_294_967_295, channels: 2)])
    }

    // MARK: a=rid, a=extmap, a=msid, a=rtcp-fb, a=fmtp

    @Test(arguments: ["a=rid:", "a=rid:q", "a=rid:q send =", "a=rid:q send pt=96;=", "a=rid:q send ;=x", "a=rid:q.x send", "a=rid:q\"x send"])
    func malformedRIDsAreTypedErrors(_ line: String) throws {
        let m = try Self.section(line)
        #expect(Self.isMalformed(Self.accessorError { () throws(SDPError) in try m.rids() }, "rid"))
    }

    @Test func ridRestrictionsWithoutValuesAreKept() throws {
        let m = try Self.section("a=rid:hi send pt=96;max-width")
        let rid = try #require(try m.rids().first)
        #expect(rid.id == "hi")
        #expect(rid.restrictions.map(\.key) == ["pt", "max-width"])
        #expect(rid.restrictions.map(\.value) == ["96", ""])
    }

    @Test(arguments: [("a=extmap:0 urn:x", false), ("a=extmap:256 urn:x", false), ("a=extmap:4096 urn:x", false), ("a=extmap:-1 urn:x", false),
                      ("a=extmap:15 urn:x", true), ("a=extmap:14 urn:x", true), ("a=extmap:255 urn:x", true), ("a=extmap:/sendonly urn:x", false),
                      ("a=extmap:1", false), ("a=extmap: urn:x", false)])
    func extensionIDsFollowRFC8285(_ line: String, valid: Bool) throws {
        let m = try Self.section(line)
        let error = Self.accessorError { () throws(SDPError) in try m.extensionMaps() }
        #expect(valid ? error == nil : Self.isMalformed(error, "extmap"))
    }

    @Test(arguments: ["a=msid:", "a=msid:a b c", "a=msid:" + String(repeating: "s", count: 65), "a=msid:s \"t\"", "a=msid:s t" + String(repeating: "t", count: 64)])
    func malformedMSIDsAreTypedErrors(_ line: String) throws {
        let m = try Self.section(line)
        #expect(Self.isMalformed(Self.accessorError { () throws(SDPError) in try m.msid() }, "msid"))
    }

    @Test func msidOfSixtyFourTokenCharactersIsAccepted() throws {
        let id = String(repeating: "a", count: 64)
        let m = try Self.section("a=msid:\(id) {\(String(repeating: "b", count: 62))}")
        #expect(try m.msid()?.stream == id)
    }

    @Test(arguments: ["a=rtcp-fb:", "a=rtcp-fb:96", "a=rtcp-fb:300 nack", "a=rtcp-fb:96 \"nack\""])
    func malformedFeedbackIsTypedErrors(_ line: String) throws {
        let m = try Self.section(line)
        #expect(Self.isMalformed(Self.accessorError { () throws(SDPError) in try m.rtcpFeedback() }, "rtcp-fb"))
    }

    @Test(arguments: ["a=fmtp:", "a=fmtp:96", "a=fmtp:300 x=1", "a=fmtp:-1 x=1"])
    func malformedFormatParametersAreTypedErrors(_ line: String) throws {
        let m = try Self.section(line)
        #expect(Self.isMalformed(Self.accessorError { () throws(SDPError) in try m.formatParameters() }, "fmtp"))
    }

    @Test func midsAreShortTokens() throws {
        #expect(try Self.section("a=mid:video-0").validatedMid() == "video-0")
        #expect(try Self.section("a=mid:\(String(repeating: "m", count: 16))").validatedMid()?.count == 16)
        #expect(try Self.section("a=sendonly").validatedMid() == nil)
        for bad in ["a=mid:", "a=mid:\(String(repeating: "m", count: 17))", "a=mid:a b", "a=mid:\"0\"", "a=mid:é"] {
            let m = try Self.section(bad)
            #expect(Self.isMalformed(Self.accessorError { () throws(SDPError) in try m.validatedMid() }, "mid"), "\(bad)")
        }
    }

    @Test func candidatesPerSectionAreBounded() throws {
        let line = "a=candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host\r\n"
        let text = Self.header + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" + String(repeating: line, count: MediaDescription.maxCandidates + 1)
        let m = try #require(try SessionDescription(parsing: text).media.first)
        #expect(Self.accessorError { () throws(SDPError) in try m.candidates() } == .tooManyAttributes(name: "candidate", limit: MediaDescription.maxCandidates))
    }

    // MARK: Control characters and sizes, at parse time

    @Test(arguments: [
        ("a=mid:0\r1", 6), ("a=fmtp:96 x=1\rinjected", 6), ("a=mid:0\u{0}", 6), ("a=mid:0\u{1B}[31m", 6), ("a=mid:0\u{7F}", 6),
        ("a=fmtp:96 x=1\u{85}", 6), ("a=fmtp:96 x=1\u{2028}a=evil", 6), ("a=mid:0\u{8}", 6), ("c=IN IP4\t0.0.0.0", 6), ("m=audio 9\u{B}RTP/AVP 0", 6),
    ])
    func controlCharactersInsideALineAreRefused(_ line: String, number: Int) {
        let text = Self.header + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" + line + "\r\n"
        #expect(Self.parseError(text) == .controlCharacter(line: number))
    }

    @Test func aLoneCarriageReturnDoesNotEndALine() {
        // An old-Mac line end is not an SDP line end: the whole text is one line with CRs inside.
        #expect(Self.parseError("v=0\ro=- 1 1 IN IP4 0.0.0.0\rs=-\r") == .controlCharacter(line: 1))
    }

    @Test func tabsAreAcceptedOnlyInTextLines() throws {
        let sdp = try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=a\tsession\r\nt=0 0\r\na=tool:x\ty\r\n")
        #expect(sdp.lines.first { $0.type == "s" }?.value == "a\tsession")
        #expect(Self.parseError("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0\t0\r\n") == .controlCharacter(line: 4))
    }

    @Test func bareLineFeedsAndCRLFStillSeparateLines() throws {
        let sdp = try SessionDescription(parsing: "v=0\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\nt=0 0\r\n")
        #expect(sdp.lines.map(\.type) == ["v", "o", "s", "t"])
    }

    @Test func longLinesAreRefused() {
        let long = "a=x:" + String(repeating: "y", count: SessionDescription.maxLineBytes)
        #expect(Self.parseError(Self.header + long + "\r\n") == .lineTooLong(line: 5, limit: SessionDescription.maxLineBytes))
    }

    @Test func tenThousandMediaSectionsAreRefusedQuickly() {
        // Short m-lines, so the count limit is reached before the byte limit.
        let text = Self.header + String(repeating: "m=a 0 R 0\r\n", count: 10_000)
        #expect(Self.parseError(text) == .tooManyMediaSections(limit: SessionDescription.maxMediaSections))
        let atLimit = Self.header + String(repeating: "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\n", count: SessionDescription.maxMediaSections)
        #expect(Self.parseError(atLimit) == nil)
    }

    @Test func formatListsAreBoundedAndTokens() {
        let many = (0..<129).map { String($0 % 128) }.joined(separator: " ")
        guard case .malformedLine(line: 5, _)? = Self.parseError(Self.header + "m=video 9 UDP/TLS/RTP/SAVPF \(many)\r\n") else {
            Issue.record("129 formats were accepted")
            return
        }
        guard case .malformedLine(line: 5, _)? = Self.parseError(Self.header + "m=vi\"deo 9 UDP/TLS/RTP/SAVPF 96\r\n") else {
            Issue.record("a non-token media was accepted")
            return
        }
    }

    @Test func fingerprintHexIsBoundedWhileParsing() {
        let hex = Array(repeating: "AB", count: 65).joined(separator: ":")
        #expect(DTLSFingerprint(algorithm: "sha-256", hex: hex) == nil)
        #expect(DTLSFingerprint(algorithm: "sha-512", hex: Array(repeating: "AB", count: 64).joined(separator: ":"))?.bytes.count == 64)
    }

    @Test func grammarClasses() {
        #expect(SDPGrammar.isToken("VP8"))
        #expect(SDPGrammar.isToken("a-b.c_d~!"))
        #expect(!SDPGrammar.isToken(""))
        #expect(!SDPGrammar.isToken("a b"))
        #expect(!SDPGrammar.isToken("a:b"))
        #expect(!SDPGrammar.isToken("é"))
        #expect(SDPGrammar.isVisibleText("profile-level-id=42e01f; packetization-mode=1"))
        #expect(!SDPGrammar.isVisibleText("x=1\t"))
        #expect(SDPGrammar.isICEString("aB3+/"))
        #expect(!SDPGrammar.isICEString("ab-c"))
    }

    /// The parser checks lines on their UTF-8 bytes: it must refuse exactly the scalars that
    /// `isAllowed` refuses, alone and between other characters, for every scalar of the BMP.
    @Test func byteLevelLineCheckAgreesWithScalarCheck() {
        for value in UInt32(0)...0xFFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            for tab in [false, true] {
                let expected = SDPGrammar.isAllowed(scalar, tab: tab)
                #expect(SDPGrammar.isAllowed(utf8: "a\(scalar)é".utf8, tab: tab) == expected, "U+\(String(value, radix: 16))")
            }
        }
        #expect(SDPGrammar.isAllowed(utf8: "\u{1F600}\u{2027}\u{A8}".utf8, tab: false))
    }

    @Test func attributeNamesCompareBytes() {
        let line = SDPLine.attribute("rtcp-fb", "96 nack")
        #expect(line.hasAttributeName("rtcp-fb"))
        #expect(!line.hasAttributeName("rtcp"))
        #expect(!line.hasAttributeName("rtcp-fb:96"))
        #expect(SDPLine.attribute("rtcp-mux").hasAttributeName("rtcp-mux"))
        #expect(!SDPLine(type: "b", value: "rtcp-mux").hasAttributeName("rtcp-mux"))
        // Canonically equivalent but different bytes: not the same attribute name.
        #expect(!SDPLine.attribute("e\u{301}x").hasAttributeName("\u{E9}x"))
    }

    @Test func loneCarriageReturnIsRefusedAndCRLFIsOneLineEnd() throws {
        let ok = try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
        #expect(ok.lines.count == 4)
        #expect(throws: SDPError.controlCharacter(line: 3)) {
            try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=a\rb\r\nt=0 0\r\n")
        }
        #expect(throws: SDPError.controlCharacter(line: 2)) {
            try SessionDescription(parsing: "v=0\no=- 1 1 IN IP4 0.0.0.0\r\r\n")
        }
    }
}
