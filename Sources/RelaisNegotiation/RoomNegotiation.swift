import RelaisSignaling
import RelaisTransport
import RelaisWire

/// The peer's side of one transport, from its SDP (RFC 8839 §5.4, RFC 8842 §5).
struct PeerTransportParameters: Sendable, Equatable {
    var ufrag: String
    var password: String
    var fingerprint: DTLSFingerprint
    var setup: SDPSetupRole?
}

/// One published media section the relay accepted: what it forwards and how to recognise it.
struct PublishedSection: Sendable, Equatable {
    var mid: String
    var kind: MediaKind
    var codec: SDPCodec
    /// SSRC the publisher announced (a=ssrc), if any; otherwise learnt from the mid extension.
    var ssrc: UInt32?
    /// Header extensions kept in the answer (mid, abs-send-time, audio level).
    var extensions: [ExtensionMap]

    var clockRate: UInt32 { UInt32(codec.rtpMap.clockRate) }
}

/// The relay's local side of a transport, for the SDP it writes.
struct LocalTransportParameters: Sendable {
    var credentials: ICECredentials
    var fingerprint: DTLSFingerprint
    var address: TransportAddress
}

/// SDP for rooms: answers to publish offers and the relay's subscribe offers (JSEP, RFC 8829).
///
/// The relay bundles everything on one transport with rtcp-mux, keeps one codec per section (the
/// peer's first one the relay forwards), and offers only the feedback it honours: NACK (answered
/// from the retransmission cache), PLI and FIR (throttled towards the publisher).
enum RoomNegotiation {
    static let videoCodecs = ["VP8", "H264", "VP9"]
    static let audioCodecs = ["opus"]
    static let feedback: Set<String> = ["nack", "nack pli", "ccm fir"]
    /// Extensions the relay reads from publishers; everything else is neutralised on forwarding.
    static let publishExtensions: Set<String> = [RTPExtensionURI.mid, RTPExtensionURI.absSendTime, RTPExtensionURI.audioLevel]

    // MARK: Parsing

    static func parse(_ text: String) throws(SignalingError) -> SessionDescription {
        do {
            return try SessionDescription(parsing: text)
        } catch {
            throw SignalingError(.invalidSDP, "unparseable SDP: \(error)")
        }
    }

    /// ICE credentials, fingerprint and setup role of the first section (all sections are bundled).
    static func transportParameters(of sdp: SessionDescription) throws(SignalingError) -> PeerTransportParameters {
        guard let first = sdp.media.first(where: { $0.port != 0 }) ?? sdp.media.first else {
            throw SignalingError(.invalidSDP, "no media section")
        }
        guard let ufrag = sdp.iceUfrag(for: first), let password = sdp.icePassword(for: first) else {
            throw SignalingError(.invalidSDP, "missing a=ice-ufrag or a=ice-pwd")
        }
        do {
            guard let fingerprint = try sdp.fingerprint(for: first) else {
                throw SignalingError(.invalidSDP, "missing a=fingerprint")
            }
            return PeerTransportParameters(ufrag: ufrag, password: password, fingerprint: fingerprint, setup: try sdp.setup(for: first))
        } catch let error as SignalingError {
            throw error
        } catch {
            throw SignalingError(.invalidSDP, "\(error)")
        }
    }

    /// The sections of a publish offer the relay accepts (nil: rejected, port 0 in the answer).
    static func acceptedSections(of offer: SessionDescription) throws(SignalingError) -> [PublishedSection?] {
        var result: [PublishedSection?] = []
        for m in offer.media {
            guard m.port != 0, m.proto.contains("SAVPF"), let mid = m.mid,
                  let kind = MediaKind(rawValue: m.kind),
                  m.direction == .sendonly || m.direction == .sendrecv
            else {
                result.append(nil)
                continue
            }
            do {
                let codecs = try m.codecs()
                let names = kind == .video ? videoCodecs : audioCodecs
                let codec = codecs.first { c in
                    guard names.contains(where: { $0.caseInsensitiveCompare(c.name) == .orderedSame }) else { return false }
                    // H.264 is forwarded in packetization mode 1 only (RFC 6184 §5.8: non-interleaved).
                    if c.name.caseInsensitiveCompare("H264") == .orderedSame {
                        return c.parameters?.values["packetization-mode"] == "1"
                    }
                    return true
                }
                guard let codec else {
                    result.append(nil)
                    continue
                }
                guard m.hasAttribute("rtcp-mux") else { throw SignalingError(.invalidSDP, "section \(mid) lacks a=rtcp-mux") }
                let extensions = try m.extensionMaps().filter { publishExtensions.contains($0.uri) && $0.id < 15 }
                let ssrc = try primarySSRC(of: m)
                result.append(PublishedSection(mid: mid, kind: kind, codec: codec, ssrc: ssrc, extensions: extensions))
            } catch let error as SignalingError {
                throw error
            } catch {
                throw SignalingError(.invalidSDP, "section \(mid): \(error)")
            }
        }
        return result
    }

    /// The media SSRC of a section: the first announced one that is not a repair stream (FID group).
    static func primarySSRC(of m: MediaDescription) throws -> UInt32? {
        let repair = Set(try m.ssrcGroups().filter { $0.semantics == "FID" }.compactMap { $0.ssrcs.count > 1 ? $0.ssrcs[1] : nil })
        return try m.announcedSSRCs().first { !repair.contains($0) }
    }

    // MARK: Writing

    private static func sessionHeader(_ local: LocalTransportParameters, sessionID: UInt64, version: Int, name: String) -> SessionDescription {
        let ipv = local.address.ip.isIPv4 ? "IP4" : "IP6"
        var sdp = SessionDescription(lines: [
            SDPLine(type: "v", value: "0"),
            SDPLine(type: "o", value: "relais \(sessionID) \(version) IN \(ipv) \(local.address.ip)"),
            SDPLine(type: "s", value: name),
            SDPLine(type: "t", value: "0 0"),
        ])
        sdp.addAttribute("ice-lite")
        return sdp
    }

    private static func addTransport(_ m: inout MediaDescription, _ local: LocalTransportParameters, setup: String) {
        let ipv = local.address.ip.isIPv4 ? "IP4" : "IP6"
        m.port = Int(local.address.port)
        m.updateMLine()
        m.lines.insert(SDPLine(type: "c", value: "IN \(ipv) \(local.address.ip)"), at: 0)
        m.addAttribute("ice-ufrag", local.credentials.ufrag)
        m.addAttribute("ice-pwd", local.credentials.password)
        m.addAttribute("ice-options", "ice2")
        m.addAttribute("fingerprint", local.fingerprint.description)
        m.addAttribute("setup", setup)
    }

    private static func addCandidates(_ m: inout MediaDescription, _ local: LocalTransportParameters) {
        m.addAttribute(candidate(local).sdpValue)
        m.addAttribute("end-of-candidates")
    }

    static func candidate(_ local: LocalTransportParameters) -> ICECandidate {
        ICECandidate(foundation: "1", priority: iceCandidatePriority(type: .host), address: local.address, type: .host)
    }

    private static func addCodec(_ m: inout MediaDescription, _ codec: SDPCodec) {
        m.addAttribute("rtpmap", codec.rtpMap.sdpValue)
        if let parameters = codec.parameters { m.addAttribute("fmtp", "\(codec.payloadType) \(parameters.parameters)") }
        for fb in codec.feedback {
            let key = fb.type + (fb.parameter.map { " \($0)" } ?? "")
            if feedback.contains(key) {
                m.addAttribute("rtcp-fb", RTCPFeedbackAttribute(payloadType: codec.payloadType, type: fb.type, parameter: fb.parameter).sdpValue)
            }
        }
    }

    /// The answer to a publish offer: accepted sections `recvonly` with one codec each.
    static func publishAnswer(
        offer: SessionDescription, accepted: [PublishedSection?], local: LocalTransportParameters, sessionID: UInt64, version: Int
    ) -> String {
        var answer = sessionHeader(local, sessionID: sessionID, version: version, name: "relais publish")
        answer.addAttribute("group", (["BUNDLE"] + accepted.compactMap { $0?.mid }).joined(separator: " "))
        for (offered, section) in zip(offer.media, accepted) {
            guard let section else {
                var rejected = MediaDescription(kind: offered.kind, port: 0, proto: offered.proto, formats: offered.formats)
                if let mid = offered.mid { rejected.addAttribute("mid", mid) }
                rejected.addAttribute("inactive")
                answer.media.append(rejected)
                continue
            }
            var m = MediaDescription(kind: offered.kind, port: 9, proto: offered.proto, formats: [String(section.codec.payloadType)])
            addTransport(&m, local, setup: "passive")
            m.addAttribute("mid", section.mid)
            m.addAttribute("recvonly")
            m.addAttribute("rtcp-mux")
            if offered.hasAttribute("rtcp-rsize") { m.addAttribute("rtcp-rsize") }
            for ext in section.extensions { m.addAttribute("extmap", ExtensionMap(id: ext.id, uri: ext.uri).sdpValue) }
            addCodec(&m, section.codec)
            addCandidates(&m, local)
            answer.media.append(m)
        }
        return answer.serialize()
    }

    /// One m-line of a subscribe offer: a remote track, or a free slot (`inactive`) kept so mids
    /// are never reused with another meaning.
    struct SubscribeSlot: Sendable, Equatable {
        var mid: String
        var kind: MediaKind
        var track: Track?
        var codec: SDPCodec?
        var ssrc: UInt32
        /// msid stream: the publisher, so its audio and video are lip-synced (RFC 8830).
        var stream: String
        /// The header extensions the publisher sends on this track (its ids).
        var publisherExtensions: [ExtensionMap] = []

        /// Extensions offered to the subscriber: those the relay forwards and the publisher sends.
        var offeredExtensions: [ExtensionMap] {
            RoomNegotiation.forwardedExtensions.filter { offered in publisherExtensions.contains { $0.uri == offered.uri } }
        }
    }

    /// Header extensions forwarded to subscribers, with the ids the relay offers them (RFC 8285):
    /// the audio level, so a receiver can show who speaks without decoding. Everything else the
    /// publisher sends is rewritten to an id the subscriber did not negotiate, which it ignores.
    static let forwardedExtensions = [ExtensionMap(id: 1, uri: RTPExtensionURI.audioLevel)]

    /// Publisher id -> subscriber id, for the extensions the subscriber's answer kept.
    static func extensionMapping(slot: SubscribeSlot, answered section: MediaDescription) -> [ExtensionIDMapping] {
        let answered = (try? section.extensionMaps()) ?? []
        return slot.publisherExtensions.compactMap { published in
            guard slot.offeredExtensions.contains(where: { $0.uri == published.uri }),
                  let kept = answered.first(where: { $0.uri == published.uri }), (1...13).contains(kept.id) else { return nil }
            return ExtensionIDMapping(publisher: published.id, subscriber: kept.id)
        }
    }

    static func subscribeOffer(slots: [SubscribeSlot], local: LocalTransportParameters, sessionID: UInt64, version: Int) -> String {
        var offer = sessionHeader(local, sessionID: sessionID, version: version, name: "relais subscribe")
        offer.addAttribute("group", (["BUNDLE"] + slots.map(\.mid)).joined(separator: " "))
        offer.addAttribute("msid-semantic", " WMS *")
        for slot in slots {
            let codec = slot.codec ?? placeholderCodec(slot.kind)
            var m = MediaDescription(kind: slot.kind.rawValue, port: 9, proto: "UDP/TLS/RTP/SAVPF", formats: [String(codec.payloadType)])
            addTransport(&m, local, setup: "actpass")
            m.addAttribute("mid", slot.mid)
            m.addAttribute("rtcp-mux")
            m.addAttribute("rtcp-rsize")
            addCodec(&m, codec)
            if let track = slot.track {
                for ext in slot.offeredExtensions { m.addAttribute("extmap", ext.sdpValue) }
                m.addAttribute("sendonly")
                m.addAttribute("msid", "\(slot.stream) \(track.trackId)")
                m.addAttribute("ssrc", SSRCAttribute(ssrc: slot.ssrc, name: "cname", value: slot.stream).sdpValue)
                m.addAttribute("ssrc", SSRCAttribute(ssrc: slot.ssrc, name: "msid", value: "\(slot.stream) \(track.trackId)").sdpValue)
            } else {
                m.addAttribute("inactive")
            }
            addCandidates(&m, local)
            offer.media.append(m)
        }
        return offer.serialize()
    }

    static func placeholderCodec(_ kind: MediaKind) -> SDPCodec {
        kind == .audio
            ? SDPCodec(rtpMap: RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2), parameters: nil, feedback: [])
            : SDPCodec(rtpMap: RTPMap(payloadType: 96, encodingName: "VP8", clockRate: 90000), parameters: nil,
                       feedback: [RTCPFeedbackAttribute(payloadType: 96, type: "nack"), RTCPFeedbackAttribute(payloadType: 96, type: "nack", parameter: "pli")])
    }
}
