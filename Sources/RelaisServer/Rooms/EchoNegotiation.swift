import RelaisTransport
import RelaisWire

/// Why an offer to the echo room was refused; `code` is stable for clients.
struct EchoNegotiationError: Error, CustomStringConvertible {
    let code: String
    let description: String

    static func invalidSDP(_ error: SDPError) -> Self { .init(code: "invalid_sdp", description: error.description) }
    static func unacceptable(_ code: String, _ why: String) -> Self { .init(code: code, description: why) }
}

/// Builds the relay's answer to a peer's offer for the echo room and opens its transport.
///
/// The relay is ICE-lite and DTLS server (`a=setup:passive`), bundles every media section on one
/// transport with rtcp-mux, keeps one codec per section (the peer's first supported choice, so the
/// echo needs no transcoding), and announces its own SSRC per section for the media it sends back.
enum EchoNegotiation {
    struct Answer: Sendable {
        let sdp: String
        let loop: Int
        let transport: TransportID
    }

    /// Video codecs the relay forwards, in order of preference when the offer lists several.
    static let videoCodecs = ["VP8", "H264", "VP9", "AV1"]
    static let audioCodecs = ["opus"]
    /// Feedback the echo honours (it translates NACK, PLI and FIR); congestion feedback is not
    /// offered back because the echo does not estimate bandwidth.
    static let feedback: Set<String> = ["nack", "nack pli", "ccm fir"]

    struct Section {
        var media: MediaDescription
        var payloadTypes: [UInt8]
        var kind: String
    }

    static func answer(offer text: String, media: MediaServer) async throws -> Answer {
        let offer: SessionDescription
        do {
            offer = try SessionDescription(parsing: text)
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
        }

        let loopIndex = media.pickLoop()
        let videoSSRC = UInt32.random(in: 1...UInt32.max)
        let audioSSRC = UInt32.random(in: 1...UInt32.max)
        let sections = try offer.media.map { try section(answering: $0, videoSSRC: videoSSRC, audioSSRC: audioSSRC) }
        let accepted = sections.filter { $0.media.port != 0 }
        guard !accepted.isEmpty else {
            throw EchoNegotiationError.unacceptable("no_supported_codec", "no media section offers VP8, H.264, VP9, AV1 or Opus over UDP/TLS/RTP/SAVPF")
        }
        let videoPTs = accepted.filter { $0.kind == "video" }.flatMap(\.payloadTypes)
        let audioPTs = accepted.filter { $0.kind == "audio" }.flatMap(\.payloadTypes)

        let opened = try await media.onLoop(loopIndex) { loop in
            let echo = EchoSession(videoSSRC: videoSSRC, audioSSRC: audioSSRC, videoPayloadTypes: videoPTs, audioPayloadTypes: audioPTs)
            let (id, credentials) = try loop.addTransport(remoteUfrag: ufrag, remoteFingerprint: fingerprint, purpose: .echo(echo))
            return (id, credentials, loop.localAddress)
        }
        let (transportID, credentials, localAddress) = opened
        guard let localAddress else { throw EchoNegotiationError.unacceptable("media_unavailable", "media socket not bound") }

        var answer = SessionDescription(lines: [
            SDPLine(type: "v", value: "0"),
            SDPLine(type: "o", value: "relais \(UInt64.random(in: 1...UInt64(Int64.max))) 1 IN \(localAddress.ip.isIPv4 ? "IP4" : "IP6") \(localAddress.ip)"),
            SDPLine(type: "s", value: "relais echo"),
            SDPLine(type: "t", value: "0 0"),
        ])
        answer.addAttribute("ice-lite")
        let mids = accepted.compactMap(\.media.mid)
        answer.addAttribute("group", (["BUNDLE"] + mids).joined(separator: " "))
        let candidate = ICECandidate(foundation: "1", priority: iceCandidatePriority(type: .host), address: localAddress, type: .host)
        for var section in sections {
            if section.media.port != 0 {
                section.media.port = Int(localAddress.port)
                section.media.updateMLine()
                section.media.lines.insert(SDPLine(type: "c", value: "IN \(localAddress.ip.isIPv4 ? "IP4" : "IP6") \(localAddress.ip)"), at: 0)
                section.media.addAttribute("ice-ufrag", credentials.ufrag)
                section.media.addAttribute("ice-pwd", credentials.password)
                section.media.addAttribute("ice-options", "ice2")
                section.media.addAttribute("fingerprint", media.certificate.fingerprintSHA256.description)
                section.media.addAttribute("setup", "passive")
                section.media.addAttribute(candidate.sdpValue)
                section.media.addAttribute("end-of-candidates")
            }
            answer.media.append(section.media)
        }
        return Answer(sdp: answer.serialize(), loop: loopIndex, transport: transportID)
    }

    /// The answer's section for one offered section: accepted with one codec, or rejected (port 0).
    static func section(answering offered: MediaDescription, videoSSRC: UInt32, audioSSRC: UInt32) throws -> Section {
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
        m.addAttribute("rtpmap", codec.rtpMap.sdpValue)
        if let parameters = codec.parameters { m.addAttribute("fmtp", "\(codec.payloadType) \(parameters.parameters)") }
        for fb in codec.feedback {
            let key = fb.type + (fb.parameter.map { " \($0)" } ?? "")
            if feedback.contains(key) {
                m.addAttribute("rtcp-fb", RTCPFeedbackAttribute(payloadType: codec.payloadType, type: fb.type, parameter: fb.parameter).sdpValue)
            }
        }
        let ssrc = offered.kind == "video" ? videoSSRC : audioSSRC
        m.addAttribute("msid", "relais-echo relais-echo-\(offered.kind)")
        m.addAttribute("ssrc", SSRCAttribute(ssrc: ssrc, name: "cname", value: "relais-echo").sdpValue)
        return Section(media: m, payloadTypes: [codec.payloadType], kind: offered.kind)
    }
}
