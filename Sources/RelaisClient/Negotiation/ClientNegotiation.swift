public import RelaisSignaling
public import RelaisTransport
public import RelaisWire

/// A media section the client receives, from the relay's subscribe offer.
public struct ReceivedSection: Sendable, Equatable {
    public var mid: String
    public var kind: MediaKind
    public var codec: String
    public var payloadType: UInt8
    public var clockRate: Int
    public var ssrc: UInt32
    public var trackId: String?
}

public enum ClientNegotiationError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let why): "unusable SDP from the relay: \(why)" }
    }
}

/// SDP for the client's two peer connections (Signaling/PROTOCOL.md §9): the publish offer it
/// sends and the answers it gives to the relay's subscribe offers. BUNDLE, rtcp-mux, one codec per
/// section (VP8 and Opus; the client's codecs), DTLS `actpass` in offers and `active` in answers.
public enum ClientNegotiation {
    public static let videoPayloadType: UInt8 = 96
    public static let audioPayloadType: UInt8 = 111
    public static let midExtensionID: UInt8 = 1
    public static let absSendTimeExtensionID: UInt8 = 2
    public static let audioLevelExtensionID: UInt8 = 3
    /// The transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01): the
    /// relay answers it with TWCC feedback on the publish connection.
    public static let transportWideCCExtensionID: UInt8 = 4
    /// RID and repaired RID (RFC 8852): which simulcast layer a packet, or a repair, belongs to.
    public static let ridExtensionID: UInt8 = 5
    public static let repairedRIDExtensionID: UInt8 = 6
    /// RTX (RFC 4588) for VP8: the client sends its probe padding on it.
    public static let repairPayloadType: UInt8 = 97
    /// The simulcast layers the client offers, lowest first, as Chromium names them.
    public static let simulcastRIDs = ["q", "h", "f"]

    /// The video section of a publish offer: one stream (`ssrc`, with `repairSSRC` in an FID group),
    /// or simulcast layers named by `rids` (lowest first; no SSRCs announced, the RID extension
    /// names them, as browsers do).
    public struct VideoOffer: Sendable, Equatable {
        public var ssrc: UInt32
        public var repairSSRC: UInt32?
        public var rids: [String]

        public init(ssrc: UInt32, repairSSRC: UInt32? = nil, rids: [String] = []) {
            self.ssrc = ssrc
            self.repairSSRC = repairSSRC
            self.rids = rids
        }
    }

    /// The client's side of a transport: the relay's `SDPTransportAttributes.Local`, without ICE options.
    public typealias Local = SDPTransportAttributes.Local

    private static func header(_ local: Local, version: Int) -> SessionDescription {
        local.sessionHeader(username: "relais-client", sessionID: UInt64(UInt32.random(in: 1...UInt32.max)), version: version, name: "relais-client")
    }

    /// The publish offer: a VP8 video section (mid 0) and an Opus audio section (mid 1), sendonly.
    public static func publishOffer(local: Local, videoSSRC: UInt32?, audioSSRC: UInt32?, stream: String) -> String {
        publishOffer(local: local, video: videoSSRC.map { VideoOffer(ssrc: $0) }, audioSSRC: audioSSRC, stream: stream)
    }

    /// The publish offer: a VP8 video section (mid 0; with RTX when `video` has a repair SSRC or
    /// layers, simulcast with layers: `a=rid … send` and `a=simulcast:send`, RFC 8851/8853) and an
    /// Opus audio section (mid 1), sendonly.
    public static func publishOffer(local: Local, video: VideoOffer?, audioSSRC: UInt32?, stream: String) -> String {
        var sdp = header(local, version: 1)
        var mids: [String] = []
        if video != nil { mids.append("0") }
        if audioSSRC != nil { mids.append("1") }
        sdp.addAttribute("group", (["BUNDLE"] + mids).joined(separator: " "))
        sdp.addAttribute("msid-semantic", " WMS \(stream)")
        if let video {
            let repair = video.repairSSRC != nil || !video.rids.isEmpty
            var m = MediaDescription(
                kind: "video", port: 9, proto: "UDP/TLS/RTP/SAVPF",
                formats: [String(videoPayloadType)] + (repair ? [String(repairPayloadType)] : []))
            local.write(into: &m, setup: .actpass)
            m.addAttribute("mid", "0")
            m.addAttribute("sendonly")
            m.addAttribute("rtcp-mux")
            m.addAttribute("rtcp-rsize")
            m.addAttribute("extmap", ExtensionMap(id: midExtensionID, uri: RTPExtensionURI.mid).sdpValue)
            m.addAttribute("extmap", ExtensionMap(id: transportWideCCExtensionID, uri: RTPExtensionURI.transportWideCC).sdpValue)
            if !video.rids.isEmpty {
                m.addAttribute("extmap", ExtensionMap(id: ridExtensionID, uri: RTPExtensionURI.rid).sdpValue)
                m.addAttribute("extmap", ExtensionMap(id: repairedRIDExtensionID, uri: RTPExtensionURI.repairedRid).sdpValue)
            }
            m.addAttribute("rtpmap", RTPMap(payloadType: videoPayloadType, encodingName: "VP8", clockRate: 90000).sdpValue)
            for (type, parameter) in [("nack", nil), ("nack", "pli"), ("ccm", "fir"), ("transport-cc", nil)] as [(String, String?)] {
                m.addAttribute("rtcp-fb", RTCPFeedbackAttribute(payloadType: videoPayloadType, type: type, parameter: parameter).sdpValue)
            }
            if repair {
                m.addAttribute("rtpmap", RTPMap(payloadType: repairPayloadType, encodingName: "rtx", clockRate: 90000).sdpValue)
                m.addAttribute("fmtp", "\(repairPayloadType) apt=\(videoPayloadType)")
            }
            m.addAttribute("msid", "\(stream) \(stream)-video")
            if video.rids.isEmpty {
                if let repairSSRC = video.repairSSRC { m.addAttribute("ssrc-group", "FID \(video.ssrc) \(repairSSRC)") }
                m.addAttribute("ssrc", SSRCAttribute(ssrc: video.ssrc, name: "cname", value: stream).sdpValue)
                if let repairSSRC = video.repairSSRC { m.addAttribute("ssrc", SSRCAttribute(ssrc: repairSSRC, name: "cname", value: stream).sdpValue) }
            } else {
                for rid in video.rids { m.addAttribute("rid", "\(rid) send") }
                m.addAttribute("simulcast", "send " + video.rids.joined(separator: ";"))
            }
            local.writeCandidates(into: &m)
            sdp.media.append(m)
        }
        if let ssrc = audioSSRC {
            var m = MediaDescription(kind: "audio", port: 9, proto: "UDP/TLS/RTP/SAVPF", formats: [String(audioPayloadType)])
            local.write(into: &m, setup: .actpass)
            m.addAttribute("mid", "1")
            m.addAttribute("sendonly")
            m.addAttribute("rtcp-mux")
            m.addAttribute("rtcp-rsize")
            m.addAttribute("extmap", ExtensionMap(id: midExtensionID, uri: RTPExtensionURI.mid).sdpValue)
            m.addAttribute("extmap", ExtensionMap(id: audioLevelExtensionID, uri: RTPExtensionURI.audioLevel).sdpValue)
            m.addAttribute("extmap", ExtensionMap(id: transportWideCCExtensionID, uri: RTPExtensionURI.transportWideCC).sdpValue)
            m.addAttribute("rtpmap", RTPMap(payloadType: audioPayloadType, encodingName: "opus", clockRate: 48000, channels: 2).sdpValue)
            m.addAttribute("rtcp-fb", RTCPFeedbackAttribute(payloadType: audioPayloadType, type: "transport-cc").sdpValue)
            m.addAttribute("fmtp", "\(audioPayloadType) minptime=10;useinbandfec=1")
            m.addAttribute("msid", "\(stream) \(stream)-audio")
            m.addAttribute("ssrc", SSRCAttribute(ssrc: ssrc, name: "cname", value: stream).sdpValue)
            local.writeCandidates(into: &m)
            sdp.media.append(m)
        }
        return sdp.serialize()
    }

    /// Whether the relay's publish answer kept the transport-wide sequence number under our id in
    /// every accepted section (it then sends TWCC feedback; the client stamps every packet).
    public static func answersTransportWideCC(_ answer: SessionDescription) -> Bool {
        let accepted = answer.media.filter { !answer.isRejected($0) }
        return !accepted.isEmpty && accepted.allSatisfy { m in
            ((try? m.extensionMaps()) ?? []).contains { $0.uri == RTPExtensionURI.transportWideCC && $0.id == transportWideCCExtensionID }
        }
    }

    /// The simulcast layers the relay's publish answer accepted (`a=simulcast:recv`), in our order;
    /// empty when it answered without simulcast (send the top layer alone then).
    public static func answeredSimulcastLayers(_ answer: SessionDescription) -> [String] {
        guard let video = answer.media.first(where: { $0.kind == "video" && !answer.isRejected($0) }),
              let value = video.attribute("simulcast") else { return [] }
        let parts = value.split(separator: " ")
        guard parts.count == 2, parts[0] == "recv" else { return [] }
        return parts[1].split(separator: ";").map(String.init).filter { simulcastRIDs.contains($0) }
    }

    /// Whether the relay's publish answer kept RTX for VP8 (the client may then probe with padding).
    public static func answersRepair(_ answer: SessionDescription) -> Bool {
        guard let video = answer.media.first(where: { $0.kind == "video" && !answer.isRejected($0) }) else { return false }
        return ((try? video.codecs()) ?? []).contains { codec in
            codec.payloadType == repairPayloadType && codec.name.lowercased() == "rtx"
        }
    }

    /// The relay's SDP (offer or answer) and its transport (`SDPTransportAttributes`), which must
    /// list a UDP candidate: the relay is ICE-lite and never learns the client's address otherwise.
    public static func remoteTransport(_ text: String) throws(ClientNegotiationError) -> (SessionDescription, SDPTransportAttributes) {
        let sdp: SessionDescription
        let transport: SDPTransportAttributes
        do {
            sdp = try SessionDescription(parsing: text)
        } catch {
            throw .invalid("\(error)")
        }
        do {
            transport = try SDPTransportAttributes(reading: sdp)
        } catch {
            throw .invalid(error.description)
        }
        guard !transport.candidates.isEmpty else { throw .invalid("no UDP candidate") }
        return (sdp, transport)
    }

    /// The answer to a subscribe offer: VP8 and Opus sections accepted `recvonly`, the rest inactive.
    public static func subscribeAnswer(offer: SessionDescription, local: Local) -> (sdp: String, sections: [ReceivedSection]) {
        var answer = header(local, version: 1)
        answer.addAttribute("group", (["BUNDLE"] + offer.media.compactMap(\.mid)).joined(separator: " "))
        var received: [ReceivedSection] = []
        for offered in offer.media {
            guard let mid = offered.mid else { continue }
            var m = MediaDescription(kind: offered.kind, port: 9, proto: offered.proto, formats: offered.formats)
            let codecs = (try? offered.codecs()) ?? []
            let wanted = offered.kind == "video" ? "VP8" : "opus"
            let codec = codecs.first { $0.name.caseInsensitiveCompare(wanted) == .orderedSame }
            if let codec { m.formats = [String(codec.payloadType)]; m.updateMLine() }
            local.write(into: &m, setup: .active)
            m.addAttribute("mid", mid)
            m.addAttribute("rtcp-mux")
            if offered.hasAttribute("rtcp-rsize") { m.addAttribute("rtcp-rsize") }
            if let codec, offered.port != 0, offered.direction == .sendonly, let kind = MediaKind(rawValue: offered.kind),
               let ssrc = (try? offered.announcedSSRCs())?.first {
                m.addAttribute("recvonly")
                for ext in (try? offered.extensionMaps()) ?? [] where ext.uri == RTPExtensionURI.audioLevel {
                    m.addAttribute("extmap", ExtensionMap(id: ext.id, uri: ext.uri).sdpValue)
                }
                m.addAttribute("rtpmap", codec.rtpMap.sdpValue)
                if let parameters = codec.parameters { m.addAttribute("fmtp", "\(codec.payloadType) \(parameters.parameters)") }
                for fb in codec.feedback { m.addAttribute("rtcp-fb", fb.sdpValue) }
                let msid = try? offered.msid()
                received.append(ReceivedSection(
                    mid: mid, kind: kind, codec: codec.name, payloadType: codec.payloadType, clockRate: codec.rtpMap.clockRate,
                    ssrc: ssrc, trackId: msid?.track))
            } else {
                m.addAttribute("inactive")
                if let codec { m.addAttribute("rtpmap", codec.rtpMap.sdpValue) }
            }
            local.writeCandidates(into: &m)
            answer.media.append(m)
        }
        return (answer.serialize(), received)
    }
}
