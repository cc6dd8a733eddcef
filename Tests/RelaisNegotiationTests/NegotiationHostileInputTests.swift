import RelaisNegotiation
import RelaisSignaling
import RelaisTransport
import RelaisWire
import Testing

/// Issue 13: the relay's two SDP decisions (a publish offer, a subscribe answer) refuse every
/// hostile shape with `invalid_sdp` and never trap, and nothing a publisher writes reaches a
/// subscriber's offer unless it passed the grammar.
@Suite struct NegotiationHostileInputTests {
    static let fingerprint = Array(repeating: "AB", count: 32).joined(separator: ":")

    /// A minimal valid publish offer: VP8 video and Opus audio, each with an SSRC.
    static func offer(video: [String] = [], audio: [String] = [], videoMid: String = "0", extraSections: String = "") -> String {
        let lines = [
            "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE \(videoMid) 1",
            "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:\(videoMid)", "a=sendonly", "a=rtcp-mux",
            "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=fingerprint:sha-256 \(fingerprint)", "a=setup:actpass",
            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
            "a=rtpmap:96 VP8/90000", "a=rtcp-fb:96 nack", "a=rtcp-fb:96 nack pli", "a=ssrc:1111 cname:c",
        ] + video + [
            "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:1", "a=sendonly", "a=rtcp-mux",
            "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1", "a=ssrc:2222 cname:c",
        ] + audio
        return lines.map { $0 + "\r\n" }.joined() + extraSections
    }

    static let local = RoomNegotiation.local(
        credentials: ICECredentials(ufrag: "relaisUF", password: "relaisPasswordRelaisPassword"),
        fingerprint: DTLSFingerprint(algorithm: "sha-256", bytes: Array(repeating: 0xAB, count: 32)),
        address: TransportAddress(ip: .loopbackV4, port: 40000))

    /// The refusal's code, nil when the offer was accepted.
    static func refusal(_ text: String, limits: RoomNegotiation.Limits = .default) -> ErrorCode? {
        do {
            _ = try RoomNegotiation.answerPublishOffer(text, local: local, sessionID: 1, version: 1, limits: limits)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func theBaseOfferIsAccepted() throws {
        let (negotiation, answer) = try RoomNegotiation.answerPublishOffer(Self.offer(), local: Self.local, sessionID: 1, version: 1)
        #expect(negotiation.sections.map(\.mid) == ["0", "1"])
        #expect(negotiation.sections.map(\.ssrc) == [1111, 2222])
        #expect(negotiation.sections.map(\.clockRate) == [90_000, 48_000])
        #expect(negotiation.midExtensionID == 4)
        #expect(try SessionDescription(parsing: answer).media.count == 2)
    }

    // MARK: The reported traps and their classes

    @Test(arguments: [
        "a=ssrc:", "a=ssrc:1111", "a=ssrc:1111cname:c", "a=ssrc:1111 :", "a=ssrc:4294967296 cname:c",
        "a=ssrc-group:FID", "a=ssrc-group:FID 1111 x",
        "a=rtpmap:96 VP8/4294967296", "a=rtpmap:96 VP8/-1", "a=rtpmap:96 VP8/0", "a=rtpmap:4294967296 VP8/90000",
        "a=rid:", "a=rid:q send =", "a=msid:a b c",
        "a=extmap:0 urn:ietf:params:rtp-hdrext:sdes:mid", "a=extmap:256 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:ssrc-audio-level",  // the same id twice in a section
        "a=fmtp:96 x=1\rinjected", "a=fmtp:96 x=1\ta=evil", "a=fmtp:96 " + String(repeating: "x", count: 600), "a=fmtp:96 x=é",
        "a=mid:\u{0}", "a=rtcp-fb:96", "a=simulcast:send",
        "a=candidate:1 1 udp 1 127.0.0.1 99999 typ host",
    ])
    func hostileVideoLinesAreInvalidSDP(_ line: String) {
        #expect(Self.refusal(Self.offer(video: [line])) == .invalidSDP, "\(line)")
    }

    @Test(arguments: [
        ("a=ice-ufrag:abcd", "a=ice-ufrag:ab"), ("a=ice-ufrag:abcd", "a=ice-ufrag:ab-cd"), ("a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=ice-pwd:short"),
        ("a=setup:actpass", "a=setup:passive"), ("a=fingerprint:sha-256 ", "a=fingerprint:sha-256 AB "),
    ])
    func transportParametersAreChecked(_ old: String, _ new: String) {
        #expect(Self.refusal(Self.offer().replacingOccurrences(of: old, with: new)) == .invalidSDP, "\(new)")
    }

    @Test(arguments: ["a=rtpmap:111 opus/48000/1", "a=rtpmap:111 opus/4294967296/2", "a=rtpmap:111 opus/8000/2", "a=fmtp:111 stereo=1\u{7F}"])
    func audioCodecsMustHaveTheirFixedClockAndPrintableParameters(_ line: String) {
        // The later rtpmap/fmtp for the same payload type is ignored by `codecs()`, so replace the first.
        let text = Self.offer().replacingOccurrences(of: line.hasPrefix("a=rtpmap") ? "a=rtpmap:111 opus/48000/2" : "a=fmtp:111 minptime=10;useinbandfec=1", with: line)
        #expect(Self.refusal(text) == .invalidSDP, "\(line)")
    }

    @Test func videoAtAnotherClockRateIsRefused() {
        let text = Self.offer().replacingOccurrences(of: "VP8/90000", with: "VP8/4294967295")
        #expect(Self.refusal(text) == .invalidSDP)
    }

    @Test(arguments: [
        ("0\r1", false), ("0\u{1B}", false), ("\(String(repeating: "m", count: 17))", false), ("a b", false), ("\"0\"", false),
        ("\(String(repeating: "m", count: 16))", true), ("video-0_~", true),
    ])
    func midsAreRFC8843Tokens(_ mid: String, valid: Bool) {
        #expect(Self.refusal(Self.offer(videoMid: mid)) == (valid ? nil : .invalidSDP), "\(mid)")
    }

    @Test func duplicateMidsAndSSRCsAreRefused() {
        #expect(Self.refusal(Self.offer(videoMid: "1")) == .invalidSDP)
        let sameSSRC = Self.offer().replacingOccurrences(of: "a=ssrc:2222 cname:c", with: "a=ssrc:1111 cname:c")
        #expect(Self.refusal(sameSSRC) == .invalidSDP)
    }

    @Test func extensionIDFifteenIsNotKept() throws {
        let text = Self.offer().replacingOccurrences(of: "a=extmap:4 urn", with: "a=extmap:15 urn")
        let negotiation = try RoomNegotiation.negotiatePublishOffer(text)
        #expect(negotiation.midExtensionID == nil)
        #expect(negotiation.sections.allSatisfy { $0.extensions.isEmpty })
    }

    @Test func aHugePayloadTypeIsRefusedAndAnUnlistedOneIgnored() throws {
        #expect(Self.refusal(Self.offer().replacingOccurrences(of: "a=rtpmap:96 VP8", with: "a=rtpmap:300 VP8")) == .invalidSDP)
        // A format on the m= line that is not a payload type is skipped, never converted.
        let text = Self.offer().replacingOccurrences(of: "SAVPF 96", with: "SAVPF 99999999999999999999 96")
        #expect(try RoomNegotiation.negotiatePublishOffer(text).sections.first?.codec.payloadType == 96)
    }

    // MARK: Per-publisher caps

    static func rejectedSections(_ count: Int) -> String {
        (0..<count).map { "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:x\($0)\r\n" }.joined()
    }

    @Test func mediaSectionsPerOfferAreCapped() {
        let limits = RoomNegotiation.Limits.default
        #expect(Self.refusal(Self.offer(extraSections: Self.rejectedSections(limits.maxMediaSections - 2))) == nil)
        #expect(Self.refusal(Self.offer(extraSections: Self.rejectedSections(limits.maxMediaSections - 1))) == .invalidSDP)
        let tenThousand = Self.offer(extraSections: String(repeating: "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\n", count: 10_000))
        #expect(Self.refusal(tenThousand) == .invalidSDP)
    }

    static func videoSections(_ count: Int) -> String {
        (0..<count).map { i in
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:v\(i)\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\na=ssrc:\(5000 + i) cname:c\r\n"
        }.joined()
    }

    @Test func tracksAndSSRCsPerPublisherAreCapped() {
        #expect(Self.refusal(Self.offer(extraSections: Self.videoSections(6))) == nil)
        #expect(Self.refusal(Self.offer(extraSections: Self.videoSections(7))) == .invalidSDP)
        #expect(Self.refusal(Self.offer(extraSections: Self.videoSections(7)), limits: .init(maxTracks: 9)) == nil)
        let ssrcs = (1...15).map { "a=ssrc:\(9000 + $0) cname:c" }
        #expect(Self.refusal(Self.offer(video: Array(ssrcs.prefix(14)))) == nil)
        #expect(Self.refusal(Self.offer(video: ssrcs)) == .invalidSDP)
    }

    @Test func noForwardableCodecIsNoCommonCodec() {
        let text = Self.offer().replacingOccurrences(of: "VP8/90000", with: "AV1/90000").replacingOccurrences(of: "opus/48000/2", with: "PCMU/8000")
        #expect(Self.refusal(text) == .noCommonCodec)
    }

    // MARK: What reaches a subscriber

    @Test func aSubscriberOfferCarriesOnlyValidatedPublisherValues() throws {
        let negotiation = try RoomNegotiation.negotiatePublishOffer(Self.offer())
        let slots = negotiation.sections.enumerated().map { i, section in
            RoomNegotiation.SubscribeSlot(
                mid: String(i), kind: section.kind,
                track: Track(trackId: "p-1-\(section.mid)", participantId: "p-1", kind: section.kind, codec: section.codec.name),
                codec: section.codec, ssrc: UInt32(100 + i), stream: "p-1", publisherExtensions: section.extensions)
        }
        let text = RoomNegotiation.subscribeOffer(slots: slots, local: Self.local, sessionID: 1, version: 1)
        let offer = try SessionDescription(parsing: text)
        for line in offer.lines + offer.media.flatMap(\.lines) {
            #expect(line.value.unicodeScalars.allSatisfy { SDPGrammar.isAllowed($0, tab: false) })
        }
        #expect(try offer.media[1].formatParameters().first?.parameters == "minptime=10;useinbandfec=1")
    }

    // MARK: Subscribe answers

    static let slots = [
        RoomNegotiation.SubscribeSlot(
            mid: "0", kind: .video, track: Track(trackId: "p-1-0", participantId: "p-1", kind: .video, codec: "VP8"),
            codec: RoomNegotiation.placeholderCodec(.video), ssrc: 1111, stream: "p-1"),
        RoomNegotiation.SubscribeSlot(
            mid: "1", kind: .audio, track: Track(trackId: "p-1-1", participantId: "p-1", kind: .audio, codec: "opus"),
            codec: RoomNegotiation.placeholderCodec(.audio), ssrc: 2222, stream: "p-1",
            publisherExtensions: [ExtensionMap(id: 5, uri: RTPExtensionURI.audioLevel)]),
    ]

    static func answer(audio: [String] = [], extraSections: String = "") -> String {
        let lines = [
            "v=0", "o=- 2 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
            "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:0", "a=recvonly", "a=rtcp-mux",
            "a=ice-ufrag:wxyz", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=fingerprint:sha-256 \(fingerprint)", "a=setup:active",
            "a=rtpmap:96 VP8/90000",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:1", "a=recvonly", "a=rtcp-mux",
            "a=rtpmap:111 opus/48000/2", "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        ] + audio
        return lines.map { $0 + "\r\n" }.joined() + extraSections
    }

    @Test func aValidAnswerSubscribesToBothTracks() throws {
        let acceptance = try RoomNegotiation.acceptSubscribeAnswer(Self.answer(), offered: Self.slots)
        #expect(acceptance.remote.credentials.ufrag == "wxyz")
        #expect(acceptance.subscriptions.map(\.trackID) == ["p-1-0", "p-1-1"])
        #expect(acceptance.subscriptions.last?.extensions == [ExtensionIDMapping(publisher: 5, subscriber: 1)])
    }

    @Test(arguments: ["a=extmap:0 urn:x", "a=extmap:1 urn:x\u{0}", "a=ssrc:", "a=mid:1\rx", "a=rid:q send ;=", "a=msid:a b c"])
    func hostileAnswersAreInvalidSDP(_ line: String) {
        #expect(throws: SignalingError.self) { try RoomNegotiation.acceptSubscribeAnswer(Self.answer(audio: [line]), offered: Self.slots) }
        do {
            _ = try RoomNegotiation.acceptSubscribeAnswer(Self.answer(audio: [line]), offered: Self.slots)
        } catch {
            #expect(error.code == .invalidSDP, "\(line)")
        }
    }

    @Test func anAnswerWithMoreSectionsThanOfferedIsRefused() {
        let extra = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n"
        #expect(throws: SignalingError(.invalidSDP, "the answer has 3 media sections, the offer 2")) {
            try RoomNegotiation.acceptSubscribeAnswer(Self.answer(extraSections: extra), offered: Self.slots)
        }
        #expect(throws: SignalingError.self) {
            try RoomNegotiation.acceptSubscribeAnswer(Self.answer(extraSections: String(repeating: extra, count: 10_000)), offered: Self.slots)
        }
    }

    // MARK: Echo

    @Test func echoOffersAreValidatedByTheSameParser() throws {
        let plan = try EchoNegotiation.plan(offer: Self.offer(), videoSSRC: 1, audioSSRC: 2)
        #expect(plan.accepted.count == 2)
        for line in ["a=ssrc:", "a=rtpmap:96 VP8/4294967296", "a=mid:0\r1"] {
            #expect(throws: EchoNegotiationError.self) { try EchoNegotiation.plan(offer: Self.offer(video: [line]), videoSSRC: 1, audioSSRC: 2) }
        }
    }

    /// The echo reads an offer's transport as rooms do (it used to take any ufrag) and takes the
    /// codecs rooms take (it used to answer AV1, which no room forwards).
    @Test func echoAndRoomsAgreeOnTransportAndCodecs() throws {
        let colonUfrag = Self.offer().replacingOccurrences(of: "a=ice-ufrag:abcd", with: "a=ice-ufrag:ab:cd")
        #expect(Self.refusal(colonUfrag) == .invalidSDP)
        let refused = #expect(throws: EchoNegotiationError.self) { try EchoNegotiation.plan(offer: colonUfrag, videoSSRC: 1, audioSSRC: 2) }
        #expect(refused?.code == "missing_ice_credentials")
        let av1 = Self.offer().replacingOccurrences(of: "VP8/90000", with: "AV1/90000")
        let plan = try EchoNegotiation.plan(offer: av1, videoSSRC: 1, audioSSRC: 2)
        #expect(plan.accepted.map(\.media.kind) == ["audio"], "AV1 is not forwarded by rooms, so not echoed")
        #expect(EchoNegotiation.videoCodecs == RoomNegotiation.videoCodecs)
    }
}
