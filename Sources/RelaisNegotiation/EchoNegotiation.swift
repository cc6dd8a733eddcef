public import RelaisTransport
public import RelaisWire

/// Why an offer to the echo room was refused; `code` is stable for clients.
public struct EchoNegotiationError: Error, CustomStringConvertible {
    public let code: String
    public let description: String

    public static func invalidSDP(_ error: SDPError) -> Self { .init(code: "invalid_sdp", description: error.description) }
    public static func invalidSDP(_ why: String) -> Self { .init(code: "invalid_sdp", description: why) }
    public static func unacceptable(_ code: String, _ why: String) -> Self { .init(code: code, description: why) }
}

/// The pure half of the echo room's negotiation: what the relay accepts in a peer's offer, and
/// the answer it writes once a transport is open (the server opens it between the two).
///
/// The relay is ICE-lite and DTLS server (`a=setup:passive`), bundles every media section on one
/// transport with rtcp-mux, keeps one codec per section (the peer's first supported choice, so the
/// echo needs no transcoding), and announces its own SSRC per section for the media it sends back.
public enum EchoNegotiation {
    /// The codecs of rooms, in their order of preference: the echo test answers with what a
    /// consultation would (an echo that took AV1, which rooms do not forward, would mislead).
    public static var videoCodecs: [String] { RoomNegotiation.videoCodecs }
    public static var audioCodecs: [String] { RoomNegotiation.audioCodecs }
    /// Feedback the echo honours (it translates NACK, PLI and FIR, as rooms do); congestion
    /// feedback is not offered back because the echo does not estimate bandwidth.
    public static var feedback: Set<String> { RoomNegotiation.feedback }

    public struct Section: Sendable {
        public var media: MediaDescription
        public var payloadTypes: [UInt8]
        public var kind: String
    }

    /// What the relay decided about an echo offer, before any transport exists.
    public struct Plan: Sendable {
        /// The peer's ICE username fragment and DTLS fingerprint, for the transport.
        public var remoteUfrag: String
        public var remoteFingerprint: DTLSFingerprint
        /// One answer section per offered section (rejected ones with port 0).
        public var sections: [Section]
        public var videoSSRC: UInt32
        public var audioSSRC: UInt32

        public var accepted: [Section] { sections.filter { $0.media.port != 0 } }
        public var videoPayloadTypes: [UInt8] { accepted.filter { $0.kind == "video" }.flatMap(\.payloadTypes) }
        public var audioPayloadTypes: [UInt8] { accepted.filter { $0.kind == "audio" }.flatMap(\.payloadTypes) }
    }

    /// Validates an echo offer completely and picks what to answer; throws before anything is opened.
    public static func plan(offer text: String, videoSSRC: UInt32, audioSSRC: UInt32) throws(EchoNegotiationError) -> Plan {
        let offer: SessionDescription
        do {
            offer = try SessionDescription(parsing: text)
            try offer.checkAttributes()
        } catch {
            throw EchoNegotiationError.invalidSDP(error)
        }
        let transport: SDPTransportAttributes
        do {
            transport = try SDPTransportAttributes(reading: offer)
        } catch {
            switch error {
            case .noMediaSection:
                throw EchoNegotiationError.unacceptable("no_media", "the offer has no media section")
            case .missingICECredentials, .invalidICECredentials:
                throw EchoNegotiationError.unacceptable("missing_ice_credentials", "the offer has no valid ice-ufrag/ice-pwd (RFC 8839 §5.4)")
            case .missingFingerprint:
                throw EchoNegotiationError.unacceptable("missing_fingerprint", "the offer has no a=fingerprint")
            case .malformed(let error):
                throw EchoNegotiationError.invalidSDP(error)
            }
        }
        if transport.setup == .passive {
            throw EchoNegotiationError.unacceptable("setup_conflict", "the relay is always DTLS server; offer a=setup:actpass or active")
        }
        let (ufrag, fingerprint) = (transport.credentials.ufrag, transport.fingerprint)
        var sections: [Section] = []
        for m in offer.media {
            sections.append(try section(answering: m, refused: offer.isRejected(m), videoSSRC: videoSSRC, audioSSRC: audioSSRC))
        }
        let plan = Plan(remoteUfrag: ufrag, remoteFingerprint: fingerprint, sections: sections, videoSSRC: videoSSRC, audioSSRC: audioSSRC)
        guard !plan.accepted.isEmpty else {
            throw EchoNegotiationError.unacceptable("no_supported_codec", "no media section offers VP8, H.264, VP9 or Opus over UDP/TLS/RTP/SAVPF")
        }
        return plan
    }

    /// The answer's text once the transport is open: the plan's sections with the relay's transport.
    public static func answerSDP(
        _ plan: Plan, credentials: ICECredentials, fingerprint: DTLSFingerprint, address localAddress: TransportAddress, sessionID: UInt64
    ) -> String {
        let local = RoomNegotiation.local(credentials: credentials, fingerprint: fingerprint, address: localAddress)
        var answer = local.sessionHeader(username: "relais", sessionID: sessionID, version: 1, name: "relais echo")
        answer.addAttribute("ice-lite")
        let mids = plan.accepted.compactMap(\.media.mid)
        answer.addAttribute("group", (["BUNDLE"] + mids).joined(separator: " "))
        for var section in plan.sections {
            if section.media.port != 0 {
                local.write(into: &section.media, setup: .passive)
                local.writeCandidates(into: &section.media)
            }
            answer.media.append(section.media)
        }
        return answer.serialize()
    }

    /// The answer's section for one offered section: accepted with one codec, or rejected (port 0).
    /// `refused`: the peer itself refused it (port 0 outside a bundle-only section, RFC 8843 §6).
    static func section(answering offered: MediaDescription, refused: Bool, videoSSRC: UInt32, audioSSRC: UInt32) throws(EchoNegotiationError) -> Section {
        var rejected = MediaDescription(kind: offered.kind, port: 0, proto: offered.proto, formats: offered.formats)
        if let mid = offered.mid { rejected.addAttribute("mid", mid) }
        rejected.addAttribute("inactive")
        let reject = Section(media: rejected, payloadTypes: [], kind: offered.kind)

        guard !refused, offered.proto.contains("SAVPF"), offered.kind == "video" || offered.kind == "audio" else { return reject }
        let codecs: [SDPCodec]
        let extensions: [ExtensionMap]
        do {
            codecs = try offered.codecs()
            extensions = try offered.extensionMaps()
        } catch {
            throw EchoNegotiationError.invalidSDP(error)
        }
        let names = offered.kind == "video" ? videoCodecs : audioCodecs
        // The peer's order expresses its preference; take its first codec the relay forwards.
        guard let codec = codecs.first(where: { c in names.contains { $0.caseInsensitiveCompare(c.name) == .orderedSame } }) else {
            return reject
        }
        guard offered.hasAttribute("rtcp-mux") else { throw EchoNegotiationError.unacceptable("rtcp_mux_required", "every section must offer a=rtcp-mux") }

        var m = MediaDescription(kind: offered.kind, port: 9, proto: offered.proto, formats: [String(codec.payloadType)])
        if let mid = offered.mid { m.addAttribute("mid", mid) }
        m.addAttribute(offered.direction == .sendrecv ? "sendrecv" : offered.direction.reversed.rawValue)
        m.addAttribute("rtcp-mux")
        if offered.hasAttribute("rtcp-rsize") { m.addAttribute("rtcp-rsize") }
        for ext in extensions where ext.uri == RTPExtensionURI.mid {
            m.addAttribute("extmap", ExtensionMap(id: ext.id, uri: ext.uri).sdpValue)
        }
        // The echo honours the same feedback as rooms (NACK, PLI, FIR), so the codec lines are theirs.
        RoomNegotiation.addCodec(&m, codec)
        let ssrc = offered.kind == "video" ? videoSSRC : audioSSRC
        m.addAttribute("msid", "relais-echo relais-echo-\(offered.kind)")
        m.addAttribute("ssrc", SSRCAttribute(ssrc: ssrc, name: "cname", value: "relais-echo").sdpValue)
        return Section(media: m, payloadTypes: [codec.payloadType], kind: offered.kind)
    }
}
