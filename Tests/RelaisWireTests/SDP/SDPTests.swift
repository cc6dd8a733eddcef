@testable import RelaisWire
import TestSupport
import Testing

/// A Chrome-style offer written by hand from the JSEP shapes: media-level ICE, simulcast with rids,
/// RTX with an FID group, two-byte extension permission. Real captures live in Fixtures/SDP.
let chromeStyleOffer = [
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0 1",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS stream",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:Abcd",
    "a=ice-pwd:0123456789abcdefghijklmn",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 49:E9:C5:9E:29:FE:B1:2B:D2:FB:72:F7:70:36:FE:63:8A:02:98:5C:A7:DE:43:3E:07:9F:72:A4:99:15:F6:2C",
    "a=setup:actpass",
    "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=sendrecv",
    "a=msid:stream audio-track",
    "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2",
    "a=rtcp-fb:111 transport-cc",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:63 red/48000/2",
    "a=fmtp:63 111/111",
    "a=ssrc:1001 cname:cart",
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
    "c=IN IP4 0.0.0.0",
    "a=ice-ufrag:Abcd",
    "a=ice-pwd:0123456789abcdefghijklmn",
    "a=fingerprint:sha-256 49:E9:C5:9E:29:FE:B1:2B:D2:FB:72:F7:70:36:FE:63:8A:02:98:5C:A7:DE:43:3E:07:9F:72:A4:99:15:F6:2C",
    "a=setup:actpass",
    "a=mid:1",
    "a=extmap:2/sendonly http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "a=sendonly",
    "a=rtcp-mux",
    "a=rtcp-rsize",
    "a=rtpmap:96 VP8/90000",
    "a=rtcp-fb:96 goog-remb",
    "a=rtcp-fb:96 nack",
    "a=rtcp-fb:96 nack pli",
    "a=rtcp-fb:96 ccm fir",
    "a=rtpmap:97 rtx/90000",
    "a=fmtp:97 apt=96",
    "a=rtcp-fb:* transport-cc",
    "a=rid:q send pt=96;max-width=320",
    "a=rid:h send",
    "a=rid:f send",
    "a=simulcast:send q;h;~f",
    "a=ssrc-group:FID 2001 2002",
    "a=ssrc:2001 cname:cart",
    "a=ssrc:2002 cname:cart",
    "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 network-id 1",
    "a=candidate:2 1 udp 1686052607 203.0.113.9 50001 typ srflx raddr 127.0.0.1 rport 50000 generation 0",
    "a=end-of-candidates",
    "a=x-vendor-private:keep me",
    "",
].joined(separator: "\r\n")

@Suite struct SDPParseTests {
    @Test func roundTripIsByteExact() throws {
        let sdp = try SessionDescription(parsing: chromeStyleOffer)
        #expect(sdp.serialize() == chromeStyleOffer)
    }

    @Test func lfOnlyInputParsesAndSerializesWithCRLF() throws {
        let lf = chromeStyleOffer.split(separator: "\r\n", omittingEmptySubsequences: false).joined(separator: "\n")
        let sdp = try SessionDescription(parsing: lf)
        #expect(sdp.serialize() == chromeStyleOffer)
    }

    @Test func typedAccessorsFindWebRTCAttributes() throws {
        let sdp = try SessionDescription(parsing: chromeStyleOffer)
        #expect(sdp.bundleMids == ["0", "1"])
        #expect(sdp.media.count == 2)
        let audio = sdp.media[0], video = sdp.media[1]
        #expect(audio.kind == "audio" && video.kind == "video")
        #expect(audio.mid == "0")
        #expect(sdp.iceUfrag(for: video) == "Abcd")
        #expect(sdp.icePassword(for: video) == "0123456789abcdefghijklmn")
        #expect(try sdp.fingerprint(for: video)?.bytes.count == 32)
        #expect(try sdp.setup(for: video) == .actpass)
        #expect(video.direction == .sendonly)
        #expect(video.hasAttribute("rtcp-rsize"))

        let codecs = try video.codecs()
        #expect(codecs.map(\.name) == ["VP8", "rtx"])
        #expect(codecs[0].rtpMap.clockRate == 90_000)
        #expect(codecs[0].feedback.map(\.type).contains("nack"))
        #expect(codecs[0].feedback.contains(RTCPFeedbackAttribute(payloadType: nil, type: "transport-cc")))
        #expect(codecs[1].associatedPayloadType == 96)
        let opus = try #require(try audio.codecs().first)
        #expect(opus.rtpMap == RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48_000, channels: 2))
        #expect(opus.parameters?.values["useinbandfec"] == "1")

        let extensions = try video.extensionMaps()
        #expect(extensions.first == ExtensionMap(id: 2, direction: .sendonly, uri: RTPExtensionURI.absSendTime))
        #expect(extensions.contains { $0.id == 3 && $0.uri == RTPExtensionURI.transportWideCC })

        #expect(try video.ssrcGroups() == [SSRCGroup(semantics: "FID", ssrcs: [2001, 2002])])
        #expect(try video.announcedSSRCs() == [2001, 2002])
        #expect(try audio.msid() == MediaStreamID(stream: "stream", track: "audio-track"))
        let rids = try video.rids()
        #expect(rids.map(\.id) == ["q", "h", "f"])
        #expect(rids[0].payloadTypes == [96])
        let simulcast = try #require(try video.simulcast())
        #expect(simulcast.send.map { $0.map(\.rid) } == [["q"], ["h"], ["f"]])
        #expect(simulcast.send[2][0].paused)

        let candidates = try video.candidates()
        #expect(candidates.count == 2)
        #expect(candidates[0].address == "127.0.0.1" && candidates[0].port == 50_000 && candidates[0].type == "host")
        #expect(candidates[1].relatedAddress == "127.0.0.1" && candidates[1].relatedPort == 50_000)
        #expect(candidates[0].sdpValue == "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 network-id 1")
        #expect(video.attribute("x-vendor-private") == "keep me")
    }

    @Test func buildsAndReadsBackSections() throws {
        var m = MediaDescription(kind: "audio", port: 40_000, proto: "UDP/TLS/RTP/SAVPF", formats: ["111"])
        m.addAttribute("mid", "a")
        m.addAttribute("rtpmap", RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48_000, channels: 2).sdpValue)
        var sdp = SessionDescription(lines: [SDPLine(type: "v", value: "0"), SDPLine(type: "o", value: "- 1 1 IN IP4 127.0.0.1"), SDPLine(type: "s", value: "-"), SDPLine(type: "t", value: "0 0")])
        sdp.addAttribute("ice-lite")
        sdp.media.append(m)
        let parsed = try SessionDescription(parsing: sdp.serialize())
        #expect(parsed == sdp)
        #expect(parsed.isICELite)
        #expect(try parsed.media[0].rtpMaps().first?.encodingName == "opus")
    }
}

@Suite struct SDPMalformedTests {
    func error(_ text: String) -> SDPError? {
        do { _ = try SessionDescription(parsing: text); return nil } catch { return error }
    }

    @Test func wholeDocumentErrors() {
        #expect(error("") == .empty)
        #expect(error("o=- 1 1 IN IP4 0.0.0.0\r\n") == .missingVersion)
        #expect(error("v=0\r\nthis line has no equals\r\n") == .missingEquals(line: 2))
        #expect(error("v=0\r\nx=unknown\r\n") == .unknownLineType(line: 2, type: "x"))
        #expect(error("v=0\r\no=- 1 1 IN\r\n") == .malformedLine(line: 2, reason: "o= needs 6 fields"))
        #expect(error("v=0\r\nm=audio abc RTP/AVP 0\r\n") == .malformedLine(line: 2, reason: "m= port 'abc' is not 0-65535"))
        #expect(error("v=0\r\nm=audio 70000 RTP/AVP 0\r\n") == .malformedLine(line: 2, reason: "m= port '70000' is not 0-65535"))
        #expect(error("v=0\r\nm=audio\r\n") == .malformedLine(line: 2, reason: "m= needs media, port, proto"))
        let huge = "v=0\r\n" + String(repeating: "a=x\r\n", count: 60_000)
        #expect(error(huge) == .tooLarge(bytes: huge.utf8.count, limit: SessionDescription.maxBytes))
        let many = "v=0\r\n" + String(repeating: "a=\r\n", count: 12_000)
        #expect(error(many) == .tooManyLines(limit: SessionDescription.maxLines))
    }

    @Test(arguments: [
        ("a=rtpmap:300 opus/48000", "rtpmap"),
        ("a=rtpmap:111", "rtpmap"),
        ("a=rtpmap:111 opus/fast", "rtpmap"),
        ("a=fmtp:abc x=1", "fmtp"),
        ("a=rtcp-fb:96", "rtcp-fb"),
        ("a=extmap:0 urn:x", "extmap"),
        ("a=extmap:1/sideways urn:x", "extmap"),
        ("a=ssrc:notanumber cname:x", "ssrc"),
        ("a=ssrc-group:FID 1 two", "ssrc-group"),
        ("a=rid:q sideways", "rid"),
        ("a=simulcast:send", "simulcast"),
        ("a=candidate:1 1 udp 100 127.0.0.1", "candidate"),
        ("a=candidate:1 1 udp 100 127.0.0.1 99999 typ host", "candidate"),
        ("a=fingerprint:sha-256 AB:C", "fingerprint"),
        ("a=setup:sometimes", "setup"),
    ])
    func malformedAttributesGiveTypedErrorsFromAccessors(line: String, name: String) throws {
        let text = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\(line)\r\n"
        let sdp = try SessionDescription(parsing: text)  // the document parses: attributes are checked lazily
        let m = sdp.media[0]
        var caught: SDPError?
        do {
            _ = try m.rtpMaps(); _ = try m.formatParameters(); _ = try m.rtcpFeedback(); _ = try m.extensionMaps()
            _ = try m.ssrcAttributes(); _ = try m.ssrcGroups(); _ = try m.rids(); _ = try m.simulcast()
            _ = try m.candidates(); _ = try m.fingerprint(); _ = try m.setup()
        } catch {
            caught = error
        }
        guard case .malformedAttribute(let got, _, _)? = caught else {
            Issue.record("no typed error for \(line): \(String(describing: caught))")
            return
        }
        #expect(got == name)
    }

    @Test func mutatedOffersNeverTrap() {
        var rng = SplitMix64(seed: 8866)
        let base = Array(chromeStyleOffer.utf8)
        for _ in 0..<3_000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0...2, using: &rng) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: i)
                default: bytes.insert([UInt8(ascii: ":"), UInt8(ascii: " "), UInt8(ascii: "/"), 10][Int.random(in: 0...3, using: &rng)], at: i)
                }
            }
            if Bool.random(using: &rng) { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng))) }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let sdp = try? SessionDescription(parsing: text) else { continue }
            _ = sdp.serialize()
            for m in sdp.media {
                _ = try? m.codecs(); _ = try? m.extensionMaps(); _ = try? m.ssrcGroups(); _ = try? m.rids()
                _ = try? m.simulcast(); _ = try? m.candidates(); _ = try? sdp.fingerprint(for: m); _ = m.payloadTypes
            }
        }
    }
}
