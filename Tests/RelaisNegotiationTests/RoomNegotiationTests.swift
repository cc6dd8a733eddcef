import Foundation
import RelaisSignaling
import RelaisNegotiation
import RelaisTransport
import RelaisWire
import Testing

/// Publish answers and subscribe offers, checked against offers captured from real stacks.
@Suite struct RoomNegotiationTests {
    static func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("RelaisWireTests/Fixtures/SDP").appendingPathComponent(name)
        return try String(contentsOf: url, encoding: .utf8)
    }

    static let local = RoomNegotiation.local(
        credentials: ICECredentials(ufrag: "relaisUF", password: "relaisPasswordRelaisPassword"),
        fingerprint: DTLSFingerprint(algorithm: "sha-256", bytes: Array(repeating: 0xAB, count: 32)),
        address: TransportAddress(ip: IPAddress("127.0.0.1")!, port: 40000))

    @Test(arguments: ["aiortc-offer.sdp", "chromium-offer.sdp", "firefox-offer.sdp", "webrtcbin-offer.sdp"])
    func publishAnswerToARealOffer(_ name: String) throws {
        let offer = try RoomNegotiation.parse(try Self.fixture(name))
        let remote = try RoomNegotiation.transportParameters(of: offer)
        #expect(!remote.credentials.ufrag.isEmpty)
        let accepted = try RoomNegotiation.acceptedSections(of: offer)
        #expect(accepted.count == offer.media.count)
        let video = try #require(accepted.compactMap { $0 }.first { $0.kind == .video })
        let audio = try #require(accepted.compactMap { $0 }.first { $0.kind == .audio })
        #expect(video.codec.name.uppercased() == "VP8")  // every capture lists VP8 first
        #expect(audio.codec.name.lowercased() == "opus")
        #expect(video.codec.associatedPayloadType == nil, "RTX must not be picked as the codec")

        let text = RoomNegotiation.publishAnswer(offer: offer, accepted: accepted, local: Self.local, sessionID: 7, version: 1)
        let answer = try SessionDescription(parsing: text)
        #expect(answer.isICELite)
        #expect(answer.bundleMids == accepted.compactMap { $0?.mid })
        for (section, accept) in zip(answer.media, accepted) {
            guard let accept else {
                #expect(section.port == 0)
                continue
            }
            #expect(section.mid == accept.mid)
            #expect(section.direction == .recvonly)
            #expect(section.payloadTypes == [accept.codec.payloadType] + (accept.repair.map { [$0.payloadType] } ?? []))
            #expect(try section.setup() == .passive)
            #expect(answer.iceUfrag(for: section) == "relaisUF")
            #expect(try section.candidates().first?.port == 40000)
            #expect(section.hasAttribute("rtcp-mux"))
            // Only the extensions the relay reads are kept.
            for ext in try section.extensionMaps() {
                #expect(RoomNegotiation.publishExtensions.contains(ext.uri))
            }
        }
    }

    /// A publisher that sends the transport-wide sequence number (Chromium, Firefox) is answered
    /// with it and with `transport-cc` feedback on every codec; one that does not (aiortc) is not.
    @Test(arguments: [("chromium-offer.sdp", true), ("firefox-offer.sdp", true), ("aiortc-offer.sdp", false)])
    func transportWideFeedbackIsAnsweredWhenThePublisherSendsTheSequence(_ name: String, expected: Bool) throws {
        let negotiation = try RoomNegotiation.negotiatePublishOffer(try Self.fixture(name))
        #expect((negotiation.transportCCExtensionID != nil) == expected)
        let answer = try SessionDescription(parsing: RoomNegotiation.publishAnswer(negotiation, local: Self.local, sessionID: 7, version: 1))
        for section in answer.media where section.port != 0 {
            let extensions = try section.extensionMaps().filter { $0.uri == RTPExtensionURI.transportWideCC }
            #expect(extensions.map(\.id) == (expected ? [try #require(negotiation.transportCCExtensionID)] : []))
            #expect(try section.rtcpFeedback().contains { $0.type == "transport-cc" } == expected)
        }
    }

    /// goog-remb is answered only when the relay will send a ceiling, and only where it was offered.
    @Test func rembIsAnsweredOnlyWithACeilingAndWhereOffered() throws {
        let chromium = try RoomNegotiation.negotiatePublishOffer(try Self.fixture("chromium-offer.sdp"))
        #expect(chromium.offersREMB)
        for remb in [true, false] {
            let answer = try SessionDescription(parsing: RoomNegotiation.publishAnswer(chromium, local: Self.local, sessionID: 7, version: 1, remb: remb))
            let video = try #require(answer.media.first { $0.kind == "video" && $0.port != 0 })
            #expect(try video.rtcpFeedback().contains { $0.type == "goog-remb" } == remb)
        }
        let webrtcbin = try RoomNegotiation.negotiatePublishOffer(try Self.fixture("webrtcbin-offer.sdp"))
        #expect(!webrtcbin.offersREMB)
        let answer = try SessionDescription(parsing: RoomNegotiation.publishAnswer(webrtcbin, local: Self.local, sessionID: 7, version: 1, remb: true))
        #expect(try answer.media.allSatisfy { try !$0.rtcpFeedback().contains { $0.type == "goog-remb" } })
    }

    /// GStreamer's webrtcbin under max-bundle offers its audio `a=bundle-only` with port 0 (RFC 8843
    /// §7.2.1): accepted as a track on the bundle's transport. Port 0 without bundle-only, or
    /// outside the BUNDLE group, is the peer's refusal.
    @Test func aBundleOnlySectionIsAcceptedAndAPortZeroOneOutsideTheBundleIsNot() throws {
        let text = try Self.fixture("webrtcbin-offer.sdp")
        let offer = try RoomNegotiation.parse(text)
        #expect(offer.media.map(\.port) == [9, 0])
        let accepted = try RoomNegotiation.acceptedSections(of: offer)
        #expect(accepted.map { $0?.kind } == [.video, .audio])
        // webrtcbin writes OPUS/48000/2; the protocol's tracks say opus (Signaling/schemas).
        #expect(accepted.map { $0?.codecName } == ["VP8", "opus"])
        let answer = try SessionDescription(parsing: RoomNegotiation.publishAnswer(
            offer: offer, accepted: accepted, local: Self.local, sessionID: 7, version: 1))
        #expect(answer.media.map(\.direction) == [.recvonly, .recvonly])
        #expect(answer.bundleMids == ["video0", "audio1"])

        let outsideBundle = try RoomNegotiation.parse(text.replacingOccurrences(of: "a=group:BUNDLE video0 audio1", with: "a=group:BUNDLE video0"))
        #expect(try RoomNegotiation.acceptedSections(of: outsideBundle).map { $0?.kind } == [.video, nil])
        let refused = try RoomNegotiation.parse(text.replacingOccurrences(of: "a=bundle-only\r\n", with: ""))
        #expect(try RoomNegotiation.acceptedSections(of: refused).map { $0?.kind } == [.video, nil])
    }

    @Test func subscribeOfferDeclaresOneSendOnlySectionPerTrackAndKeepsFreeSlotsInactive() throws {
        let vp8 = SDPCodec(rtpMap: RTPMap(payloadType: 97, encodingName: "VP8", clockRate: 90000),
                           feedback: [RTCPFeedbackAttribute(payloadType: 97, type: "nack"), RTCPFeedbackAttribute(payloadType: 97, type: "goog-remb"),
                                      RTCPFeedbackAttribute(payloadType: 97, type: "transport-cc")])
        let opus = SDPCodec(rtpMap: RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2),
                            parameters: FormatParameters(payloadType: 111, parameters: "minptime=10;useinbandfec=1"))
        let slots = [
            RoomNegotiation.SubscribeSlot(mid: "0", kind: .video, track: Track(trackId: "p-1-0", participantId: "p-1", kind: .video, codec: "VP8"),
                                          codec: vp8, ssrc: 1111, stream: "p-1"),
            RoomNegotiation.SubscribeSlot(mid: "1", kind: .audio, track: Track(trackId: "p-1-1", participantId: "p-1", kind: .audio, codec: "opus"),
                                          codec: opus, ssrc: 2222, stream: "p-1",
                                          publisherExtensions: [ExtensionMap(id: 3, uri: RTPExtensionURI.mid), ExtensionMap(id: 5, uri: RTPExtensionURI.audioLevel)]),
            RoomNegotiation.SubscribeSlot(mid: "2", kind: .video, track: nil, codec: nil, ssrc: 3333, stream: "p-2"),
        ]
        let offer = try SessionDescription(parsing: RoomNegotiation.subscribeOffer(slots: slots, local: Self.local, sessionID: 7, version: 3))
        #expect(offer.isICELite)
        #expect(offer.bundleMids == ["0", "1", "2"])
        #expect(offer.media.map(\.direction) == [.sendonly, .sendonly, .inactive])
        #expect(try offer.media[0].announcedSSRCs() == [1111])
        #expect(try offer.media[1].announcedSSRCs() == [2222])
        #expect(try offer.media[2].announcedSSRCs() == [])
        #expect(try offer.media[0].msid()?.stream == "p-1")
        #expect(try offer.media[0].msid()?.track == "p-1-0")
        #expect(try offer.media.allSatisfy { try $0.setup() == .actpass })
        // Only feedback the relay honours is offered (no goog-remb, no transport-cc: the relay does
        // not estimate subscribers' links yet).
        let feedback = try offer.media[0].rtcpFeedback().map(\.type)
        #expect(feedback == ["nack"])
        #expect(try offer.media[1].formatParameters().first?.parameters == "minptime=10;useinbandfec=1")
        // The audio level is offered under the relay's id and mapped from the publisher's; the
        // publisher's mid extension is not offered (the subscriber's mids differ).
        #expect(try offer.media[1].extensionMaps() == [ExtensionMap(id: 1, uri: RTPExtensionURI.audioLevel)])
        #expect(try offer.media[0].extensionMaps() == [])
        #expect(try RoomNegotiation.extensionMapping(slot: slots[1], answered: offer.media[1]) == [ExtensionIDMapping(publisher: 5, subscriber: 1)])
        var declined = offer.media[1]
        declined.lines.removeAll { $0.attributeName == "extmap" }
        #expect(try RoomNegotiation.extensionMapping(slot: slots[1], answered: declined) == [])
    }

    @Test func hostileOrUselessOffersAreRefusedWithTheirCodes() throws {
        #expect(throws: SignalingError(.invalidSDP, "")) { try Self.refusal { _ = try RoomNegotiation.parse("not sdp at all") } }
        let audioOnlyPCMU = """
            v=0\r
            o=- 1 1 IN IP4 127.0.0.1\r
            s=-\r
            t=0 0\r
            m=audio 9 UDP/TLS/RTP/SAVPF 0\r
            c=IN IP4 0.0.0.0\r
            a=mid:0\r
            a=sendonly\r
            a=rtcp-mux\r
            a=ice-ufrag:abcd\r
            a=ice-pwd:abcdefghijklmnopqrstuvwx\r
            a=fingerprint:sha-256 \(Array(repeating: "AB", count: 32).joined(separator: ":"))\r
            a=setup:actpass\r
            a=rtpmap:0 PCMU/8000\r

            """
        let offer = try RoomNegotiation.parse(audioOnlyPCMU)
        #expect(try RoomNegotiation.acceptedSections(of: offer) == [nil])
        let noCredentials = audioOnlyPCMU.replacingOccurrences(of: "a=ice-ufrag:abcd\r\n", with: "")
        #expect(throws: SignalingError(.invalidSDP, "")) {
            try Self.refusal { _ = try RoomNegotiation.transportParameters(of: try RoomNegotiation.parse(noCredentials)) }
        }
    }

    /// Rethrows a SignalingError with its message blanked, so tests compare codes only.
    static func refusal(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as SignalingError {
            throw SignalingError(error.code, "")
        }
    }
}

/// Simulcast offers captured from Chromium and Firefox (three VP8 layers q, h, f): the answer
/// receives every layer by RID (RFC 8853 §5.3, RFC 8851) and keeps the RID extension, so the relay
/// can learn each layer's SSRC; what breaks the rules is refused whole.
@Suite struct SimulcastNegotiationTests {
    @Test(arguments: ["chromium-simulcast-offer.sdp", "firefox-simulcast-offer.sdp"])
    func aBrowsersThreeLayersAreAnsweredByRID(_ name: String) throws {
        let negotiation = try RoomNegotiation.negotiatePublishOffer(try RoomNegotiationTests.fixture(name))
        let video = try #require(negotiation.sections.first { $0.kind == .video })
        #expect(video.rids == ["q", "h", "f"])
        #expect(video.ssrc == nil, "a simulcast section's SSRCs are learnt per layer")
        #expect(video.ridExtensionID != nil)
        #expect(negotiation.sections.first { $0.kind == .audio }?.rids == [])
        let answer = try SessionDescription(parsing: RoomNegotiation.publishAnswer(negotiation, local: RoomNegotiationTests.local, sessionID: 1, version: 1))
        let section = try #require(answer.media.first { $0.mid == video.mid })
        #expect(try section.rids().map(\.id) == ["q", "h", "f"])
        #expect(try section.rids().allSatisfy { $0.direction == "recv" })
        #expect(try section.simulcast()?.recv.map { $0.map(\.rid) } == [["q"], ["h"], ["f"]])
        #expect(try section.simulcast()?.send.isEmpty == true)
        #expect(try section.extensionMaps().contains { $0.uri == RTPExtensionURI.rid && $0.id == video.ridExtensionID })
        let audio = try #require(answer.media.first { $0.kind == "audio" })
        #expect(try audio.simulcast() == nil && audio.rids().isEmpty)
        #expect(try !audio.extensionMaps().contains { $0.uri == RTPExtensionURI.rid })
    }

    /// RTX (RFC 4588): kept when it repairs the kept codec, with the capture's FID repair SSRC for a
    /// single stream; with simulcast, the repaired-RID extension names each layer's repair stream.
    @Test func rtxForTheKeptCodecIsAnswered() throws {
        let single = try RoomNegotiation.negotiatePublishOffer(try RoomNegotiationTests.fixture("chromium-offer.sdp"))
        let video = try #require(single.sections.first { $0.kind == .video })
        let repair = try #require(video.repair)
        #expect(repair.name == "rtx" && repair.associatedPayloadType == video.codec.payloadType)
        #expect(video.repairSSRC == 1_305_834_925 && video.ssrc == 1_717_310_497)
        #expect(video.repairedRIDExtensionID == nil)
        let answer = try SessionDescription(parsing: RoomNegotiation.publishAnswer(single, local: RoomNegotiationTests.local, sessionID: 1, version: 1))
        let section = try #require(answer.media.first { $0.mid == video.mid })
        #expect(section.payloadTypes == [video.codec.payloadType, repair.payloadType])
        #expect(try section.codecs().contains { $0.name == "rtx" && $0.associatedPayloadType == video.codec.payloadType })
        #expect(single.sections.first { $0.kind == .audio }?.repair == nil)

        let simulcast = try RoomNegotiation.negotiatePublishOffer(try RoomNegotiationTests.fixture("chromium-simulcast-offer.sdp"))
        let layered = try #require(simulcast.sections.first { $0.kind == .video })
        #expect(layered.repair != nil && layered.repairSSRC == nil && layered.repairedRIDExtensionID == 11)
    }

    /// Replaces `old` in the Chromium capture, which must contain it.
    static func chromium(replacing old: String, with new: String) throws -> String {
        let text = try RoomNegotiationTests.fixture("chromium-simulcast-offer.sdp")
        #expect(text.contains(old))
        return text.replacingOccurrences(of: old, with: new)
    }

    @Test func withoutTheRIDExtensionTheAnswerLeavesSimulcastOut() throws {
        let offer = try Self.chromium(replacing: "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n", with: "")
        let negotiation = try RoomNegotiation.negotiatePublishOffer(offer)
        let video = try #require(negotiation.sections.first { $0.kind == .video })
        #expect(video.rids.isEmpty)
        let answer = try SessionDescription(parsing: RoomNegotiation.publishAnswer(negotiation, local: RoomNegotiationTests.local, sessionID: 1, version: 1))
        #expect(try answer.media.allSatisfy { try $0.simulcast() == nil && $0.rids().isEmpty })
    }

    @Test func atMostFourLayersArePickedTheFirstAlternativeOfEachStream() throws {
        let offer = try Self.chromium(
            replacing: "a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f",
            with: "a=rid:a send\r\na=rid:b send\r\na=rid:c send\r\na=rid:d send\r\na=rid:e send\r\na=rid:x send\r\na=simulcast:send a,x;~b;c;d;e")
        let video = try #require(try RoomNegotiation.negotiatePublishOffer(offer).sections.first { $0.kind == .video })
        #expect(video.rids == ["a", "b", "c", "d"])
    }

    @Test(arguments: [
        ("a=simulcast:send q;h;f", "a=simulcast:send q;h;z"),  // z is declared by no a=rid
        ("a=simulcast:send q;h;f", "a=simulcast:send q;h;q"),  // q twice
        ("a=rid:f send\r\na=simulcast:send q;h;f", "a=rid:f send\r\na=rid:abcdefghijklmnopq send\r\na=simulcast:send q;h;abcdefghijklmnopq"),  // 17 characters
        ("a=rid:f send", "a=rid:f recv"),  // f declared for the wrong direction
    ])
    func aSimulcastListThatBreaksTheRulesIsInvalidSDP(_ change: (String, String)) throws {
        let offer = try Self.chromium(replacing: change.0, with: change.1)
        #expect(throws: SignalingError.self) { try RoomNegotiation.negotiatePublishOffer(offer) }
        do {
            _ = try RoomNegotiation.negotiatePublishOffer(offer)
        } catch {
            #expect(error.code == .invalidSDP)
        }
    }
}
