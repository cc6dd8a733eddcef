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
    /// Video codecs the relay forwards, in order of preference when the offer lists several.
    public static let videoCodecs = ["VP8", "H264", "VP9", "AV1"]
    public static let audioCodecs = ["opus"]
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
        guard let first = offer.media.first else {
            throw EchoNegotiationError.unacceptable("no_media", "the offer has no media section")
        }
        guard let ufrag = offer.iceUfrag(for: first), offer.icePassword(for: first) != nil else {
            throw EchoNegotiationError.unacceptable("missing_ice_credentials", "the offer has no ice-ufrag/ice-pwd")
        }
        let fingerprint: DTLSFingerprint
        do {
            guard let f = try offer.fingerprint(for: first) else {
                throw EchoNegotiationError.unacceptable("missing_fingerprint", "the offer has no a=fingerprint")
            }
            fingerprint = f
            if try offer.setup(for: first) == .passive {
                throw EchoNegotiationError.unacceptable("setup_conflict", "the relay is always DTLS server; offer a=setup:actpass or active")
            }
        } catch let error as SDPError {
            throw EchoNegotiationError.invalidSDP(error)
        } catch let error as EchoNegotiationError {
            throw error
        } catch {
            throw EchoNegotiationError.invalidSDP("\(error)")
        }
        var sections: [Section] = []
        for m in offer.media {
            sections.append(try section(answering: m, videoSSRC: videoSSRC, audioSSRC: audioSSRC))
        }
        let plan = Plan(remoteUfrag: ufrag, remoteFingerprint: fingerprint, sections: sections, videoSSRC: videoSSRC, audioSSRC: audioSSRC)
        guard !plan.accepted.isEmpty else {
            throw EchoNegotiationError.unacceptable("no_supported_codec", "no media section offers VP8, H.264, VP9, AV1 or Opus over UDP/TLS/RTP/SAVPF")
        }
        return plan
    }

    /// The answer's text once the transport is open: the plan's sections with the relay's transport.
    public static func answerSDP(
        _ plan: Plan, credentials: ICECredentials, fingerprint: DTLSFingerprint, address localAddress: TransportAddress, sessionID: UInt64
    ) -> String {
        var answer = SessionDescription(lines: [
            SDPLine(type: "v", value: "0"),
            SDPLine(type: "o", value: "relais \(sessionID) 1 IN \(localAddress.ip.isIPv4 ? "IP4" : "IP6") \(localAddress.ip)"),
            SDPLine(type: "s", value: "relais echo"),
            SDPLine(type: "t", value: "0 0"),
        ])
        answer.addAttribute("ice-lite")
        let mids = plan.accepted.compactMap(\.media.mid)
        answer.addAttribute("group", (["BUNDLE"] + mids).joined(separator: " "))
        let candidate = ICECandidate(foundation: "1", priority: iceCandidatePriority(type: .host), address: localAddress, type: .host)
        for var section in plan.sections {
            if section.media.port != 0 {
                section.media.port = Int(localAddress.port)
                section.media.updateMLine()
                section.media.lines.insert(SDPLine(type: "c", value: "IN \(localAddress.ip.isIPv4 ? "IP4" : "IP6") \(localAddress.ip)"), at: 0)
                section.media.addAttribute("ice-ufrag", credentials.ufrag)
                section.media.addAttribute("ice-pwd", credentials.password)
                section.media.addAttribute("ice-options", "ice2")
                section.media.addAttribute("fingerprint", fingerprint.description)
                section.media.addAttribute("setup", "passive")
                section.media.addAttribute(candidate.sdpValue)
                section.media.addAttribute("end-of-candidates")
            }
            answer.media.append(section.media)
        }
        return answer.serialize()
    }

    /// The answer's section for one offered section: accepted with one codec, or rejected (port 0).
    static func section(answering offered: MediaDescription, videoSSRC: UInt32, audioSSRC: UInt32) throws(EchoNegotiationError) -> Section {
        var rejected = MediaDescription(kind: offered.kind, port: 0, proto: offered.proto, formats: offered.formats)
        if let mid = offered.mid { rejected.addAttribute("mid", mid) }
        rejected.addAttribute("inactive")
        let reject = Section(media: rejected, payloadTypes: [], kind: offered.kind)

        guard offered.port != 0, offered.proto.contains("SAVPF"), offered.kind == "video" || offered.kind == "audio" else { return reject }
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
